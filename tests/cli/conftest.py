"""Fixtures shared by the CLI tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.scenarios.conftest import Scenario, init_repo


@pytest.fixture
def seeded(tmp_path: Path) -> Scenario:
    """The shipped blueprints in a git repository (tmp_path/fleet), with the simulation of the
    seed scenario; tmp_path itself stays free for files a test writes beside the repository."""
    root = tmp_path / "fleet"
    root.mkdir()
    init_repo(root)
    scenario = Scenario(root)
    scenario.cli("sim", "init", "--scenario", "seed")
    return scenario
