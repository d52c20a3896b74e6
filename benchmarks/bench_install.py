"""Installing the reconciler as the Action does, from a warm pip cache.

Every scheduled run installs the reconciler before it reconciles, so the install is part of
what each run costs. This runs the Action's own install step (its `run:` script, read from
action.yml) in bash, as the runner would: a fresh virtual environment, the hash-checked lock
with `--no-deps`, then the package from a copy of the Action's files. One untimed run warms
pip's cache (the Action restores that cache between runs); the timed runs then download
nothing, though pip still asks the index about each pinned package.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from benchmarks.common import REPO, Row

RUNS = 3
#: What GitHub downloads as the Action: the repository's files (the ones the step reads).
ACTION_FILES = ("action.yml", "pyproject.toml", "README.md", "requirements", "reconciler")


def install_script() -> str:
    steps = yaml.safe_load((REPO / "action.yml").read_text())["runs"]["steps"]
    (step,) = [s for s in steps if s.get("name") == "Install the reconciler"]
    return str(step["run"])


def _install(script: str, action: Path, scratch: Path) -> float:
    """One run of the step in a fresh runner temp; the seconds it took."""
    temp = scratch / "runner-temp"
    shutil.rmtree(temp, ignore_errors=True)
    temp.mkdir()
    path_file = scratch / "github-path"
    path_file.write_text("")
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        "GITHUB_ACTION_PATH": str(action),
        "RUNNER_TEMP": str(temp),
        "GITHUB_PATH": str(path_file),
    }
    start = time.perf_counter()
    subprocess.run(
        ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", script],
        env=env,
        check=True,
        capture_output=True,
    )
    elapsed = time.perf_counter() - start
    # What the later steps find on PATH works.
    (bin_dir,) = path_file.read_text().split()
    version = subprocess.run(
        [str(Path(bin_dir) / "reconciler"), "--version"],
        check=True,
        capture_output=True,
        text=True,
    )
    assert "reconciler, version" in version.stdout, version.stdout
    return elapsed


def run() -> list[Row]:
    script = install_script()
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        action = scratch / "action"
        action.mkdir()
        for name in ACTION_FILES:
            source = REPO / name
            if source.is_dir():
                shutil.copytree(source, action / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(source, action / name)
        _install(script, action, scratch)  # warms pip's cache, as a restored one would be
        times = [_install(script, action, scratch) for _ in range(RUNS)]
    median = statistics.median(times)
    return [
        Row(
            "Action install step, warm pip cache (fresh venv, hash-checked lock)",
            median,
            "s",
            "< 10 s",
            median < 10,
            f"median of {RUNS}: {', '.join(f'{t:.1f}' for t in times)} s; index lookups included",
        )
    ]
