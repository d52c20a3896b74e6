"""Where a `reconciler run` spends its time, phase by phase: `python -m benchmarks.phases ROOT`.

It does what `reconciler run` does on the simulated cluster (the committed blueprints, the
ports, one cycle), in a fresh process, with a clock on each phase, and prints them as JSON.
The six phases every benchmark row shows beside it (`PHASES`):

- start-up: the imports a run needs before it starts working (the caller adds the
  interpreter's own start, measured apart);
- blueprints: reading HEAD's blueprints and policies and loading them (the validation cache
  included, as a run uses it);
- state: what a run reads before it can judge: git's index brought in step with HEAD for
  audit/ (as a command that writes does first), opening the simulated cluster, the audit
  trail and the forge, and the trail's reads during the cycle (recent records, approvals, the
  latest of a kind);
- observe: the cluster's and the metrics' answers (`observe`, `current`, `window`);
- decide: the rest of the cycle (deciding, governing, planning, verifying);
- record: writing (changes applied to the cluster, audit commits, the index).

The finer parts of "state" (`index`, `open`, `history`) are in the JSON too. The phases come
from port wrappers that time each call; the benchmark rows run the real command for the
whole-process time, and this on an identical copy for the breakdown.

`python -m benchmarks.phases --validate ROOT` does the same for `reconciler validate`: its
start-up and its blueprints (the working tree's, through the validation cache).
"""

from __future__ import annotations

import gc
import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any

_START = time.perf_counter()
_START_CPU = 0.0  # CPU time is counted from the process's start

#: The phases a row shows, in the order a run goes through them.
PHASES = ("start-up", "blueprints", "state", "observe", "decide", "record")

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
    import reconciler.cli.run  # what `reconciler run` imports before it runs
    from reconciler.cli.compose import build_ports, committed_fleet, open_audit
    from reconciler.cli.context import Settings
    from reconciler.core.planning.sharding import parse_shard
    from reconciler.shell.cycle import CycleOptions, run_cycle

    # The collector's thresholds a command runs under (set as the CLI's group invokes it).
    gc.set_threshold(*reconciler.cli.GC_THRESHOLDS)
    marks = [(time.perf_counter(), time.process_time())]
    # What `reconciler run` does first, holding the lock: git's index is brought in step.
    open_audit(root).repair_index()
    marks.append((time.perf_counter(), time.process_time()))
    fleet = committed_fleet(root, shard=parse_shard(shard) if shard else None)
    marks.append((time.perf_counter(), time.process_time()))
    ports = build_ports(root, Settings(repo=root), fleet)
    gc.freeze()  # as `reconciler run` does once the fleet and the ports are loaded
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
            "blueprints": step[1],
            "state": step[0] + step[2] + ports_spent["history"],
            "observe": ports_spent["observe"],
            "decide": step[3] - sum(ports_spent.values()),
            "record": ports_spent["record"],
            "index": step[0],
            "open": step[2],
            "history": ports_spent["history"],
        }
    return result


def measure_validate(root: Path) -> dict[str, dict[str, float]]:
    """`reconciler validate`'s two phases (start-up, blueprints), wall time and CPU time."""
    import reconciler.cli  # what `reconciler validate` imports before it runs
    from reconciler.cli.compose import validation_cache
    from reconciler.shell.manifests import check_manifests, working_tree_reader
    from reconciler.shell.workspace import load_fleet

    gc.set_threshold(*reconciler.cli.GC_THRESHOLDS)
    marks = [(time.perf_counter(), time.process_time())]
    fleet = load_fleet(root, [], cache=validation_cache(root))
    check_manifests(fleet, working_tree_reader(root))
    marks.append((time.perf_counter(), time.process_time()))
    return {
        which: {
            "start-up": marks[0][index] - (_START if index == 0 else _START_CPU),
            "blueprints": marks[1][index] - marks[0][index],
        }
        for which, index in (("wall", 0), ("cpu", 1))
    }


def describe(phases: dict[str, float]) -> str:
    """`start-up 0.21, blueprints 0.10, ...` (seconds) for the phases column of a row: the
    six of PHASES that the measurement has, in their order."""
    return ", ".join(f"{name} {phases[name]:.2f}" for name in PHASES if name in phases)


def phases_of(root: Path, *, validate: bool = False, shard: str | None = None) -> str:
    """The CPU time of each phase, measured in a fresh process on a copy of `root` (a run
    changes what it runs on: the copy leaves the benchmark's repository as it was)."""
    import shutil
    import subprocess

    from benchmarks.common import REPO

    copy = root.with_name(root.name + "-phases")
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(root, copy, symlinks=True)
    try:
        found = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.phases",
                *(["--validate"] if validate else []),
                str(copy),
                *([shard] if shard else []),
            ],
            cwd=REPO,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    return describe(json.loads(found)["cpu"])


if __name__ == "__main__":
    arguments = sys.argv[1:]
    if arguments[:1] == ["--validate"]:
        print(json.dumps(measure_validate(Path(arguments[1]))))
    else:
        print(json.dumps(measure(Path(arguments[0]), arguments[1] if len(arguments) > 1 else None)))
