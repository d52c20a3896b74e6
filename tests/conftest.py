"""Shared fixtures: a scratch copy of the repository's blueprints, and a CLI runner."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import is_hypothesis_test

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def blueprint_repo(tmp_path: Path) -> Path:
    """A directory with a copy of the shipped blueprints and global policies."""
    root = tmp_path / "repo"
    shutil.copytree(REPO / "blueprints", root / "blueprints", symlinks=False)
    return root


@pytest.fixture
def cli() -> Callable[..., Result]:
    """Run the CLI in-process, as a user would type it (without the program name)."""
    from reconciler.cli import main

    def run(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
        runner = CliRunner()
        return runner.invoke(main, list(args), env=env, input=input, catch_exceptions=False)

    return run


@pytest.fixture(autouse=True)
def _hermetic_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests behave the same on a laptop and inside a GitHub Actions job: the variables a
    job sets (a summary file, annotations, a token, the reconciler's own settings) are
    removed, and tests that need them set them."""
    for name in list(os.environ):
        if name.startswith(("GITHUB_", "RECONCILER_", "RUNNER_")) and name not in _KEEP:
            monkeypatch.delenv(name)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("CI", raising=False)
    # A machine's proxy settings would change where the Prometheus tests' requests go.
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


#: CI's switches for tests that need tools, which tests read themselves.
_KEEP = {"RECONCILER_REQUIRE_PROMETHEUS", "RECONCILER_REQUIRE_TOOLS"}


def require_prometheus() -> None:
    """Skip (a module, when called at its top) on a machine without the `prometheus` binary.

    CI sets RECONCILER_REQUIRE_PROMETHEUS, and then a missing binary is a failure, so a CI
    image that lost the package cannot pass quietly.
    """
    from tests.fakes.prometheus import binary_available, required

    if binary_available():
        return
    if required():
        pytest.fail(
            "RECONCILER_REQUIRE_PROMETHEUS is set but there is no `prometheus` on PATH "
            "(apt-get install -y --no-install-recommends prometheus)",
            pytrace=False,
        )
    pytest.skip("no prometheus binary (apt-get install prometheus)", allow_module_level=True)


def require_tool(name: str, install: str) -> str:
    """The path of a command-line tool a test drives, or a skip on a machine without it.

    CI sets RECONCILER_REQUIRE_TOOLS after installing every tool, so there a missing tool is a
    failure: a skip would hide that the tests it guards never ran.
    """
    import shutil

    found = shutil.which(name)
    if found is None:
        if os.environ.get("RECONCILER_REQUIRE_TOOLS", "").strip().lower() in {"1", "true", "yes"}:
            pytest.fail(f"RECONCILER_REQUIRE_TOOLS is set but {name} is missing")
        pytest.skip(f"{name} is not installed ({install}; CI installs it)")
    return found


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under mutmut, the Hypothesis properties run after the example tests, and a mutant meets
    only the tests `python -m tests.mutation --tests` chose.

    mutmut runs the tests that reach a mutant with `-x`, in no particular order: a property
    that commits dozens of trails to git would run in full before the example row that kills
    the mutant in a millisecond. Last, it only runs for what the examples let through.

    A function every blueprint reaches (the condition parser) is reached by most of the suite,
    so each mutant the tests miss costs a minute of scenario tests; `--tests` (MUTATION_TESTS)
    keeps a mutant to the files named. Only a mutant's own run is narrowed: the run that maps
    tests to functions still sees every test, so the map stays whole for later runs."""
    if "mutmut" in sys.modules:
        items.sort(key=lambda item: is_hypothesis_test(getattr(item, "obj", None)))
    chosen = [path.rstrip("/") for path in os.environ.get("MUTATION_TESTS", "").split(",") if path]
    if chosen and "__mutmut_" in os.environ.get("MUTANT_UNDER_TEST", ""):
        kept, dropped = [], []
        for item in items:
            (kept if _under(item.nodeid.partition("::")[0], chosen) else dropped).append(item)
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = kept


def _under(path: str, chosen: list[str]) -> bool:
    return any(path == folder or path.startswith(folder + "/") for folder in chosen)
