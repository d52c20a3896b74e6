"""Reconcile cycles on the simulated cluster, with history in git.

Targets (issue: reconcile cycle): one cycle over 1,000 simulated services with 10,000 earlier
audit records finishes in under 3 s; the seed scenario's cycle (1 service) finishes in under
0.5 s as a whole process.

The 1,000-service cycle is measured two ways: the cycle itself (observe, decide, govern, act,
commit; `run_cycle` in process), which the target is about, and `reconciler run` as a whole
process, which adds start-up and validating all 1,000 blueprints.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.bench_blueprints import generate_fleet
from benchmarks.common import REPO, Row, run_cli

START = datetime(2026, 2, 10, 15, 30, tzinfo=UTC)
_GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@localhost",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@localhost",
}


def _git(*args: str) -> None:
    subprocess.run(["git", *args], check=True, env={**os.environ, **_GIT_ENV}, capture_output=True)


def _git_init(root: Path) -> None:
    _git("init", "-q", "-b", "main", str(root))
    (root / ".gitignore").write_text(".reconciler/\n")
    _git("-C", str(root), "add", ".")
    _git("-C", str(root), "commit", "-qm", "fleet")


def _earlier_records(root: Path, services: list[str], per_service: int) -> None:
    """Commit per_service records per service (executed + verified pairs) over the last day."""
    from reconciler.adapters.git_audit import GitAuditStore
    from reconciler.core.trail.records import EventType, Outcome, Record, commit_message

    store = GitAuditStore(root, name="bench", email="bench@localhost")
    records = []
    for service in services:
        for index in range(per_service // 2):
            at = START - timedelta(hours=23) + timedelta(minutes=5 * index)
            op = f"op-{service}-{index}"
            common = {
                "service": service,
                "blueprint_version": "1.0.0",
                "operation": "scale_within_limits",
            }
            records.append(
                Record(
                    id=op,
                    timestamp=at,
                    event_type=EventType.OPERATION_EXECUTED,
                    outcome=Outcome.SUCCESS,
                    rationale="scale",
                    links={"operation": op},
                    **common,
                )
            )
            records.append(
                Record(
                    id=f"ver-{op}",
                    timestamp=at + timedelta(minutes=1),
                    event_type=EventType.VERIFICATION_PASSED,
                    outcome=Outcome.PASSED,
                    rationale="verified",
                    links={"operation": op},
                    **common,
                )
            )
    for start in range(0, len(records), 2500):
        chunk = records[start : start + 2500]
        store.append(chunk, commit_message("earlier history", chunk))
    store.flush()


def _fleet_with_history(root: Path, count: int, busy_every: int) -> None:
    from reconciler.adapters.simulated import SimTarget, create
    from reconciler.shell.workspace import load_fleet

    generate_fleet(root, count)
    _git_init(root)
    _earlier_records(root, [f"svc-{i:04d}" for i in range(count)], 10)
    fleet = load_fleet(root)
    targets = [
        SimTarget(
            namespace=b.metadata.namespace,
            name=b.metadata.deployment,
            replicas=2,
            cpu_request=b.resources.cpu.request,
            memory_request=b.resources.memory.request,
            latency_target_ms=b.performance.latency_p95_ms,
        )
        for b in fleet.blueprints
    ]
    sim = create(root / ".reconciler/sim-state.db", targets, clock=START, scenario="steady")
    for d in list(sim.deployments.values())[::busy_every]:
        sim.set(d, {"cpu_utilization": "95%", "memory_utilization": "95%"})
    sim.save()


def run() -> list[Row]:
    from reconciler.cli.compose import build_ports
    from reconciler.cli.context import Settings
    from reconciler.core.planning.outcomes import StepOutcome
    from reconciler.shell.cycle import CycleOptions, run_cycle
    from reconciler.shell.workspace import load_fleet

    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "fleet"
        _fleet_with_history(root, 1000, busy_every=10)
        fleet = load_fleet(root)
        ports = build_ports(root, Settings(repo=root), fleet)
        start = time.perf_counter()
        report = run_cycle(fleet, ports, CycleOptions())
        cycle = time.perf_counter() - start
        acted = sum(
            1 for s in report.services if any(step.kind is StepOutcome.EXECUTED for step in s.steps)
        )
        rows.append(
            Row(
                f"cycle: 1,000 services, 10,000 earlier records, {acted} changes",
                cycle,
                "s",
                "< 3 s",
                cycle < 3.0,
                "run_cycle, in process",
            )
        )
        whole = run_cli(["--repo", str(root), "run", "-o", "json"])
        rows.append(
            Row(
                "reconciler run on the same fleet (nothing left to do)",
                whole,
                "s",
                "-",
                None,
                "whole process: start-up + validating 1,000 blueprints + cycle",
            )
        )

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "seed"
        root.mkdir()
        shutil.copytree(REPO / "blueprints", root / "blueprints", symlinks=True)
        shutil.rmtree(root / "blueprints" / "todo-backend")
        _git_init(root)
        times = []
        for _ in range(5):
            run_cli(["--repo", str(root), "sim", "init", "--scenario", "seed", "--force"])
            times.append(run_cli(["--repo", str(root), "run"]))
            _git("-C", str(root), "reset", "-q", "--hard", "HEAD~1")
        seed = statistics.median(times)
        rows.append(
            Row(
                "seed scenario cycle (1 service, scales 2→3)",
                seed * 1000,
                "ms",
                "< 500 ms",
                seed < 0.5,
                "whole process, median of 5",
            )
        )
    return rows
