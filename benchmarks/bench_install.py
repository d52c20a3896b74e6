"""Installing the reconciler as the Action does, from a warm cache.

Every scheduled run installs the reconciler before it reconciles, so the install is part of
what each run costs. This runs the Action's own install step (its `run:` script, read from
action.yml) in bash, as the runner would: a fresh virtual environment, pip installing the
installer (uv) from its hash-checked lock, uv installing the runtime lock with `--no-deps`,
then the package from a copy of the Action's files. One untimed run warms the cache that the
Action restores between runs; the timed runs then download nothing, though pip and uv still
ask the index about what they install.

Beside it, in the same run so that the ratio means something on a noisy machine, the same
lock installed by pip alone (the way the Action installed before it used uv).
"""

from __future__ import annotations

import os
import resource
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


#: The same locks installed by pip alone, for comparison.
PIP_ONLY = """
venv="$RUNNER_TEMP/blueprint-reconciler"
python -m venv --without-pip "$venv"
pip=(python -m pip --python "$venv/bin/python" install --quiet --no-compile --no-deps)
"${pip[@]}" --require-hashes -r "$GITHUB_ACTION_PATH/requirements/runtime.txt"
"${pip[@]}" --no-build-isolation "$GITHUB_ACTION_PATH"
echo "$venv/bin" >> "$GITHUB_PATH"
"""


def install_script() -> str:
    steps = yaml.safe_load((REPO / "action.yml").read_text())["runs"]["steps"]
    (step,) = [s for s in steps if s.get("name") == "Install the reconciler"]
    return str(step["run"])


def _install(script: str, action: Path, scratch: Path) -> tuple[float, float]:
    """One run of the step in a fresh runner temp: the wall seconds it took, and the CPU
    seconds its processes used (which other work on a busy machine does not inflate)."""
    temp = scratch / "runner-temp"
    shutil.rmtree(temp, ignore_errors=True)
    temp.mkdir()
    path_file = scratch / "github-path"
    path_file.write_text("")
    env = {
        **os.environ,
        # The step's own environment: where the restored cache is (kept across runs).
        "CACHE": str(scratch / "cache"),
        "PIP_CACHE_DIR": str(scratch / "cache" / "pip"),
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        "GITHUB_ACTION_PATH": str(action),
        "RUNNER_TEMP": str(temp),
        "GITHUB_PATH": str(path_file),
    }
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", script],
        env=env,
        check=True,
        capture_output=True,
    )
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    # What the later steps find on PATH works.
    (bin_dir,) = path_file.read_text().split()
    version = subprocess.run(
        [str(Path(bin_dir) / "reconciler"), "--version"],
        check=True,
        capture_output=True,
        text=True,
    )
    assert "reconciler, version" in version.stdout, version.stdout
    return elapsed, cpu


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
        _install(script, action, scratch)  # warms the cache, as a restored one would be
        _install(PIP_ONLY, action, scratch)
        runs: list[tuple[float, float]] = []
        pip_runs: list[tuple[float, float]] = []
        for _ in range(RUNS):  # interleaved, so that both see the same machine
            runs.append(_install(script, action, scratch))
            pip_runs.append(_install(PIP_ONLY, action, scratch))
    median = statistics.median(wall for wall, _ in runs)
    cpu = statistics.median(used for _, used in runs)
    pip_median = statistics.median(wall for wall, _ in pip_runs)
    pip_cpu = statistics.median(used for _, used in pip_runs)
    return [
        Row(
            "Action install step, warm cache (fresh venv, hash-checked locks, uv)",
            median,
            "s",
            "< 10 s",
            median < 10,
            f"median of {RUNS}: {_seconds(runs)} s wall; CPU {cpu:.1f} s; index lookups included",
        ),
        Row(
            "  the same locks installed by pip alone, for comparison",
            pip_median,
            "s",
            "",
            None,
            f"median of {RUNS}: {_seconds(pip_runs)} s wall; CPU {pip_cpu:.1f} s; "
            f"{pip_median / median:.1f}x the Action's step",
        ),
    ]


def _seconds(runs: list[tuple[float, float]]) -> str:
    return ", ".join(f"{wall:.1f}" for wall, _ in runs)
