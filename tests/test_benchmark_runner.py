"""`python -m benchmarks`: its usage names every benchmark, and a name that picks none is a
usage error, before anything is built or run."""

from __future__ import annotations

import subprocess
import sys

from benchmarks.__main__ import MODULES


def _benchmarks(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "benchmarks", *argv], capture_output=True, text=True, check=False
    )


def test_help_lists_every_benchmark_with_its_summary() -> None:
    result = _benchmarks("-h")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: python -m benchmarks")
    listed = result.stdout.split("benchmarks:\n", 1)[1]
    for name in MODULES:
        assert f"  {name.removeprefix('bench_')} " in listed
    assert "Blueprint validation at fleet size" in listed


def test_an_unknown_name_is_a_usage_error_naming_the_choices() -> None:
    result = _benchmarks("cycle", "nonesuch")
    assert result.returncode == 2
    assert result.stdout == ""
    last = result.stderr.splitlines()[-1]
    assert "no benchmark named 'nonesuch'" in last
    assert "choose from blueprints, cycle," in last
    assert "Traceback" not in result.stderr
