"""A year of approval history for one service, against a day of it.

Target (issue: fleet scale): a service with a year of proposals (7,300: one every 72 minutes,
each requested and then rejected) costs a cycle at most 50 ms more than the same service
with a day of them. The trail is made from the records a real run writes (the seed scenario
at its maximum proposes `scale_beyond_limits`, and a deleted proposal branch is a
rejection), copied along the year with their ids and times renewed, so every record is one
the reconciler itself would read.

Each row is the CPU time of the cycle (median of 5, after one run that fills the caches a
scheduled job on a kept runner would have), with the whole `reconciler run` beside it, on the
same service and the same load; the difference of the two is the cost of the year. The whole
process also pays git comparing its index with HEAD at the start of a command that writes,
which grows with every file of the repository, not with what a cycle reads.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, Row, run_cli_timed
from benchmarks.phases import PHASES, describe

SERVICE = "todo-frontend"
PROPOSALS_A_YEAR = 7300
_GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@localhost",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@localhost",
}


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "gc.auto=0", "-C", str(root), *args],
        check=True,
        env={**os.environ, **_GIT_ENV},
        capture_output=True,
    )


def _cli(root: Path, *args: str) -> None:
    run_cli_timed(["--repo", str(root), *args])


def _templates(root: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """A real proposal's `approval_requested` and `approval_rejected` records."""
    _cli(root, "sim", "init", "--scenario", "seed")
    _cli(
        root,
        "sim",
        "set",
        SERVICE,
        "replicas=5",
        "rps=450",
        "cpu_utilization=92%",
        "memory_utilization=85%",
        "latency_p95=280ms",
        "error_rate=1.2%",
    )
    _cli(root, "run")
    _git(root, "branch", "-D", f"reconciler/{SERVICE}/scale-beyond-limits")
    _cli(root, "sim", "advance", "1m")
    _cli(root, "run")
    found = {
        path.name.split("-")[1]: json.loads(path.read_text())
        for path in (root / "audit" / SERVICE).glob("*/*.json")
    }
    return found["approval_requested"], found["approval_rejected"]


def _copy(template: dict[str, Any], at: datetime, record_id: str, approval: str) -> dict[str, Any]:
    record = json.loads(json.dumps(template))
    record["id"] = record_id
    record["timestamp"] = at.isoformat().replace("+00:00", "Z")
    record["links"]["approval"] = approval
    metadata = record["details"]["metadata"]
    metadata["approval_id"] = approval
    created = at if record["event_type"] == "approval_requested" else at - timedelta(minutes=30)
    metadata["created_at"] = created.isoformat().replace("+00:00", "Z")
    metadata["expires_at"] = (created + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    return record


def _history(root: Path, requested: dict[str, Any], rejected: dict[str, Any], days: int) -> None:
    """`days` days of proposals before the first record, one every 72 minutes."""
    first = datetime.fromisoformat(requested["timestamp"].replace("Z", "+00:00"))
    step = timedelta(days=365) / PROPOSALS_A_YEAR
    count = round(days * PROPOSALS_A_YEAR / 365)
    for index in range(count):
        at = (first - timedelta(days=days) + index * step).replace(microsecond=0)
        approval = f"apr-{at:%Y%m%d-%H%M%S}-y{index:05x}"
        for template, when, record_id in (
            (requested, at, approval),
            (rejected, at + timedelta(minutes=30), f"apr-{at:%Y%m%d-%H%M%S}-r{index:05x}"),
        ):
            record = _copy(template, when, record_id, approval)
            folder = root / "audit" / SERVICE / f"{when:%Y-%m-%d}"
            folder.mkdir(parents=True, exist_ok=True)
            name = f"{when:%H%M%S}-{record['event_type']}-{record_id}.json"
            (folder / name).write_text(json.dumps(record, indent=2) + "\n")
    _git(root, "add", "audit")
    _git(root, "commit", "-qm", f"{days} days of proposals")
    _git(root, "gc", "-q")  # one pack, as a long-lived repository has


def _repository(parent: Path, name: str) -> Path:
    root = parent / name
    root.mkdir()
    shutil.copytree(REPO / "blueprints", root / "blueprints", symlinks=True)
    shutil.rmtree(root / "blueprints" / "todo-backend")
    (root / ".gitignore").write_text(".reconciler/\n")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", ".")
    _git(root, "commit", "-qm", "fleet")
    return root


def _copy_of(root: Path) -> Path:
    copy = root.with_name(root.name + "-run")
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(root, copy, symlinks=True)
    return copy


def _keep_caches(copy: Path, root: Path) -> None:
    """What a run left in .git/reconciler (the caches), for the next copy of `root`."""
    shutil.copytree(copy / ".git" / "reconciler", root / ".git" / "reconciler", dirs_exist_ok=True)


def _measure(root: Path) -> dict[str, Any]:
    """Medians over 5 runs, each on a fresh copy of `root`, after one that fills the caches
    (as a kept runner's earlier run did): the whole `reconciler run` (wall, CPU), and the CPU
    time of its cycle alone (observing, reading the trail, deciding, recording), measured by
    benchmarks.phases on the same copy."""
    copy = _copy_of(root)
    run_cli_timed(["--repo", str(copy), "run"])
    _keep_caches(copy, root)
    walls, cpus, cycles, history = [], [], [], []
    each: dict[str, list[float]] = {name: [] for name in PHASES}
    for _ in range(5):
        copy = _copy_of(root)
        wall, cpu = run_cli_timed(["--repo", str(copy), "run"])
        walls.append(wall)
        cpus.append(cpu)
        copy = _copy_of(root)
        phases = json.loads(
            subprocess.run(
                [sys.executable, "-m", "benchmarks.phases", str(copy)],
                cwd=REPO,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )["cpu"]
        cycles.append(sum(phases[name] for name in ("observe", "history", "decide", "record")))
        history.append(phases["history"])
        for name in PHASES:
            each[name].append(phases[name])
    return {
        "phases": describe({name: statistics.median(values) for name, values in each.items()}),
        "wall": statistics.median(walls),
        "cpu": statistics.median(cpus),
        "cycle": statistics.median(cycles),
        "history": statistics.median(history),
    }


def run() -> list[Row]:
    with tempfile.TemporaryDirectory() as scratch:
        source = _repository(Path(scratch), "source")
        requested, rejected = _templates(source)
        rows = []
        results = {}
        for days in (1, 365):
            root = _repository(Path(scratch), f"days-{days}")
            shutil.copytree(source / ".reconciler", root / ".reconciler")
            _history(root, requested, rejected, days)
            results[days] = _measure(root)
        day, year = results[1], results[365]
        rows.append(
            Row(
                "cycle, 1 service with a day of proposals (20)",
                day["cycle"] * 1000,
                "ms",
                "-",
                None,
                f"CPU of the cycle (history {day['history'] * 1000:.0f} ms); whole process "
                f"{day['wall']:.2f} s, cpu {day['cpu']:.2f} s",
                day["phases"],
            )
        )
        extra = (year["cycle"] - day["cycle"]) * 1000
        rows.append(
            Row(
                f"  the same with a year of them ({PROPOSALS_A_YEAR:,})",
                year["cycle"] * 1000,
                "ms",
                "+<= 50 ms",
                extra <= 50,
                f"the year adds {extra:.0f} ms of CPU to the cycle (history "
                f"{year['history'] * 1000:.0f} ms); whole process {year['wall']:.2f} s, cpu "
                f"{year['cpu']:.2f} s, {(year['cpu'] - day['cpu']) * 1000:.0f} ms more, most "
                "of it git comparing its index with HEAD's 14,600 more files",
                year["phases"],
            )
        )
    return rows
