"""Shared fixtures: a scratch copy of the repository's blueprints, and a CLI runner."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

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


#: CI's switches for tests that need tools, which tests read themselves.
_KEEP = {"RECONCILER_REQUIRE_PROMETHEUS", "RECONCILER_REQUIRE_TOOLS"}
