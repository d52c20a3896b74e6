"""Counts in the output agree with their nouns: `1 service`, `2 services`, and a `--wait`
verification pass counts the rows it shows."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from reconciler.cli.output import plural
from tests.conftest import REPO
from tests.scenarios.conftest import Scenario, init_repo


@pytest.mark.parametrize(
    ("count", "expected"),
    [(0, "0 services"), (1, "1 service"), (2, "2 services"), (11, "11 services")],
)
def test_plural(count: int, expected: str) -> None:
    assert plural(count, "service") == expected


def test_one_service_and_one_commit_are_singular(seeded: Scenario, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    result = seeded.cli("run", "-s", "todo-frontend", "--summary", str(summary))
    assert re.search(
        r": 1 service; 1 executed; 0 with errors; 1 audit commit$", result.output, re.M
    )
    assert "**1 service**: 1 decided, 1 executed; 1 audit commit." in summary.read_text()


def test_a_verification_pass_counts_the_rows_it_shows(seeded: Scenario) -> None:
    result = seeded.cli("run", "--wait")
    first, verification = result.output.split("--- verification pass at ", 1)
    assert re.search(r": 2 services; 1 executed; 0 with errors; 1 audit commit$", first, re.M)
    table = verification.split("\n\n", 1)[0].splitlines()[1:]  # after the time, before details
    assert table[0].startswith("SERVICE ")
    assert [row.split()[0] for row in table[1:]] == ["todo-frontend"]
    assert "1 of 2 services shown (the rest had nothing to report); no changes" in verification


def test_a_single_deployment_is_singular(tmp_path: Path) -> None:
    blueprints = tmp_path / "blueprints"
    shutil.copytree(REPO / "blueprints", blueprints)
    shutil.rmtree(blueprints / "todo-backend")
    root = tmp_path / "one"
    root.mkdir()
    init_repo(root, blueprints)
    result = Scenario(root).cli("sim", "init")
    assert "simulated cluster with 1 deployment at" in result.output
