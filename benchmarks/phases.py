"""Where a `reconciler run` spends its time, phase by phase: `python -m benchmarks.phases ROOT`.

It does what `reconciler run` does on the simulated cluster (the committed blueprints, the
ports, one cycle), in a fresh process, with a clock on each phase, and prints them as JSON:

- start-up: the imports a run needs before it starts working (the caller adds the
  interpreter's own start, measured apart);
- index: bringing git's index in step with HEAD for audit/, as a command that writes does
  first (a comparison of the whole index when HEAD moved by someone else's commit);
- blueprints: reading HEAD's blueprints and policies and loading them (the validation cache
  included, as a run uses it);
- state: opening the simulated cluster, the audit trail and the forge;
- observe: the cluster's and the metrics' answers (`observe`, `current`, `window`);
- history: reading the audit trail (recent records, approvals, the latest of a kind);
- decide: the rest of the cycle (deciding, governing, planning, verifying);
- record: writing (changes applied to the cluster, audit commits, the index).

The phases come from port wrappers that time each call; the benchmark rows run the real
command for the whole-process time, and this on an identical copy for the breakdown.
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

_START = time.perf_counter()
_START_CPU = 0.0  # CPU time is counted from the process's start

#: The port methods of each phase; any other call is part of "decide".
PHASE_OF = {
    "observe": "observe",
    "current": "observe",
    "window": "observe",
    "history": "history",
    "latest": "history",
    "events": "history",
    "approvals": "history",
    "contains": "history",
    "unreadable": "history",
    "scan": "history",
    "apply": "record",
    "append": "record",
    "flush": "record",
}


class Timed:
    """A port with a clock on the calls of PHASE_OF (wall and CPU time); everything else
    passes through."""

    def __init__(self, inner: Any, spent: dict[str, float], cpu: dict[str, float]) -> None:
        self._inner = inner
        self._spent = spent
        self._cpu = cpu

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        phase = PHASE_OF.get(name)
        if phase is None or not callable(value):
            return value

        def timed(*args: Any, **kwargs: Any) -> Any:
            start, start_cpu = time.perf_counter(), time.process_time()
            try:
                return value(*args, **kwargs)
            finally:
                self._spent[phase] += time.perf_counter() - start
                self._cpu[phase] += time.process_time() - start_cpu

        return timed


def measure(root: Path, shard: str | None = None) -> dict[str, dict[str, float]]:
    """Each phase's wall time and CPU time, in seconds."""
    spent = dict.fromkeys(["observe", "history", "record"], 0.0)
    cpu = dict(spent)
    from dataclasses import replace

    import reconciler.cli
    import reconciler.cli.run  # noqa: F401 - what `reconciler run` imports before it runs
    from reconciler.cli.compose import build_ports, committed_fleet, open_audit
    from reconciler.cli.context import Settings
    from reconciler.core.planning.sharding import parse_shard
    from reconciler.shell.cycle import CycleOptions, run_cycle

    marks = [(time.perf_counter(), time.process_time())]
    # What `reconciler run` does first, holding the lock: git's index is brought in step.
    open_audit(root).repair_index()
    marks.append((time.perf_counter(), time.process_time()))
    fleet = committed_fleet(root, shard=parse_shard(shard) if shard else None)
    marks.append((time.perf_counter(), time.process_time()))
    ports = build_ports(root, Settings(repo=root), fleet)
    marks.append((time.perf_counter(), time.process_time()))
    ports = replace(
        ports,
        cluster=Timed(ports.cluster, spent, cpu),
        metrics=Timed(ports.metrics, spent, cpu),
        audit=Timed(ports.audit, spent, cpu),
    )
    run_cycle(fleet, ports, CycleOptions())
    marks.append((time.perf_counter(), time.process_time()))
    result = {}
    for which, index, ports_spent in (("wall", 0, spent), ("cpu", 1, cpu)):
        start_up = marks[0][index] - (_START if index == 0 else _START_CPU)
        step = [later[index] - earlier[index] for earlier, later in itertools.pairwise(marks)]
        result[which] = {
            "start-up": start_up,
            "index": step[0],
            "blueprints": step[1],
            "state": step[2],
            "observe": ports_spent["observe"],
            "history": ports_spent["history"],
            "decide": step[3] - sum(ports_spent.values()),
            "record": ports_spent["record"],
        }
    return result


def describe(phases: dict[str, float], keys: Callable[[str], bool] = lambda _: True) -> str:
    """`start-up 0.21 s, blueprints 0.10 s, ...` for a row's note."""
    return ", ".join(f"{name} {value:.2f} s" for name, value in phases.items() if keys(name))


if __name__ == "__main__":
    print(json.dumps(measure(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None)))
