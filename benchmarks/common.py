"""Shared helpers: a result row, timing, and the command that runs the reconciler."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RECONCILER = [sys.executable, "-m", "reconciler"]
#: The console script a user runs, beside this interpreter (the top-level help and version
#: take a shorter path through it than through `python -m reconciler`).
CONSOLE_SCRIPT = [str(Path(sys.executable).with_name("reconciler"))]


@dataclass(frozen=True)
class Row:
    name: str
    value: float
    unit: str
    target: str
    ok: bool | None
    note: str = ""
    #: The CPU seconds of each phase of the run the row measures (benchmarks/phases.py), for
    #: the rows that run the reconciler; empty for the others.
    phases: str = ""


def median_seconds(action: Callable[[], object], repeat: int = 5) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def run_cli(args: Sequence[str], cwd: Path | None = None, check: bool = True) -> float:
    """Run the reconciler as a separate process; return its wall time in seconds."""
    return run_cli_timed(args, cwd, check)[0]


def run_cli_timed(
    args: Sequence[str],
    cwd: Path | None = None,
    check: bool = True,
    command: Sequence[str] = RECONCILER,
) -> tuple[float, float]:
    """Run the reconciler as a separate process; return its wall time and its CPU time (user
    and system, from the operating system's accounting of the finished child), in seconds.
    On a busy machine the CPU time is the steadier of the two."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([*command, *args], cwd=cwd, check=check, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def compile_package() -> None:
    """Byte-compile the package once, as an install does: a run measured without its .pyc
    files would measure Python compiling the reconciler's source."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(REPO / "reconciler")],
        check=True,
        env=env,
        capture_output=True,
    )
