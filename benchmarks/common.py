"""Shared helpers: a result row, timing, and the command that runs the reconciler."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RECONCILER = [sys.executable, "-m", "reconciler"]


@dataclass(frozen=True)
class Row:
    name: str
    value: float
    unit: str
    target: str
    ok: bool | None
    note: str = ""


def median_seconds(action: Callable[[], object], repeat: int = 5) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def run_cli(args: Sequence[str], cwd: Path | None = None, check: bool = True) -> float:
    """Run the reconciler as a separate process; return its wall time in seconds."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    start = time.perf_counter()
    subprocess.run([*RECONCILER, *args], cwd=cwd, env=env, check=check, capture_output=True)
    return time.perf_counter() - start
