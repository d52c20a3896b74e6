"""Reconcile cycles on the simulated cluster, with history in git.

Targets: one cycle over 1,000 simulated services with 10,000 earlier audit records finishes
in under 3 s (`run_cycle` in process); `reconciler run` on that fleet with nothing left to do
takes at most 1 s, and on 10,000 services at most 10 s and 1 GiB; the seed scenario's cycle (1
service) at most 250 ms, each as a whole process.

The whole-process rows are medians of runs with the caches a kept runner has (under
`.git/reconciler/`: loaded blueprints, records read, the trail's index); the first run of a
fresh clone, which has none, is shown beside them. Each carries the CPU time of its phases
(`benchmarks/phases.py`) in the phases column, so that a slower row says where it got slower.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.bench_blueprints import generate_fleet
from benchmarks.common import REPO, Row, run_cli, run_cli_timed
from benchmarks.phases import phases_of

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
    from reconciler.core.trail.records import EventType, Outcome, Record, record_path

    records = []
    for service in services:
        for index in range(per_service // 2):
            at = START - timedelta(hours=23) + timedelta(minutes=5 * index)
            op = f"op-{service}-{index}"
            common: dict[str, Any] = {
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
    # Written as files and committed by git in one go: the store's own commits would build a
    # tree per chunk, which at 10,000 services takes most of an hour.
    for record in records:
        path = root / record_path(record)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(record.dumps(), encoding="utf-8")
    _git("-C", str(root), "add", "audit")
    _git("-C", str(root), "-c", "gc.auto=0", "commit", "-qm", "earlier history")


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
    if busy_every:
        for d in list(sim.deployments.values())[::busy_every]:
            sim.set(d, {"cpu_utilization": "95%", "memory_utilization": "95%"})
    sim.save()


def _idle_runs(root: Path, repeat: int = 3) -> tuple[float, float, float, int]:
    """`reconciler run` on a fleet with nothing to do: the first run (no caches yet, as in a
    fresh clone), then the median of `repeat` more (wall, CPU), and the largest resident
    memory of any of them in MiB."""
    first, _ = run_cli_timed(["--repo", str(root), "run", "-o", "json"])
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = run_cli_timed(["--repo", str(root), "run", "-o", "json"])
        walls.append(wall)
        cpus.append(cpu)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    return first, statistics.median(walls), statistics.median(cpus), peak


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
        run_cli(["--repo", str(root), "run", "-o", "json"])  # what the cycle left to verify
        first, whole, cpu, _ = _idle_runs(root)
        rows.append(
            Row(
                "reconciler run on the same fleet (nothing left to do)",
                whole,
                "s",
                "<= 1 s",
                whole <= 1.0,
                f"whole process, median of 3 with the caches a kept runner has; cpu {cpu:.2f} s",
                phases_of(root),
            )
        )
        rows.append(
            Row(
                "  the same, first run (a fresh clone: no caches)",
                first,
                "s",
                "-",
                None,
                "loads and checks every blueprint, parses every record it reads",
            )
        )

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "fleet-10k"
        _fleet_with_history(root, 10_000, busy_every=0)
        first, whole, cpu, peak = _idle_runs(root)
        rows.append(
            Row(
                "reconciler run, 10,000 services (nothing to do)",
                whole,
                "s",
                "<= 10 s",
                whole <= 10.0 and peak <= 1024,
                f"whole process, median of 3 with caches; cpu {cpu:.2f} s; peak {peak} MiB "
                f"(<= 1 GiB); first run {first:.1f} s",
                phases_of(root),
            )
        )

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "seed"
        root.mkdir()
        shutil.copytree(REPO / "blueprints", root / "blueprints", symlinks=True)
        shutil.rmtree(root / "blueprints" / "todo-backend")
        _git_init(root)
        times, cpus = [], []
        for _ in range(6):
            run_cli(["--repo", str(root), "sim", "init", "--scenario", "seed", "--force"])
            wall, cpu = run_cli_timed(["--repo", str(root), "run"])
            times.append(wall)
            cpus.append(cpu)
            _git("-C", str(root), "reset", "-q", "--hard", "HEAD~1")
        seed, seed_cpu = statistics.median(times[1:]), statistics.median(cpus[1:])
        run_cli(["--repo", str(root), "sim", "init", "--scenario", "seed", "--force"])
        rows.append(
            Row(
                "seed scenario cycle (1 service, scales 2→3)",
                seed * 1000,
                "ms",
                "<= 250 ms",
                seed <= 0.25,
                f"whole process, median of 5; cpu {seed_cpu * 1000:.0f} ms",
                phases_of(root),
            )
        )
    return rows
