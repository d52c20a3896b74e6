"""Progress lines for large runs: on standard error only, and only when many services are
actually being reconciled (the ones picked with -s, not the size of the fleet)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.conftest import REPO
from tests.scenarios.conftest import init_repo

#: More than the 50 services above which `run` reports progress.
FLEET = 60


def _blueprint(name: str) -> str:
    return (
        f"metadata:\n  name: {name}\n  version: 1.0.0\n"
        "spec:\n  scaling:\n    min_replicas: 1\n    max_replicas: 5\n"
    )


@pytest.fixture
def large_fleet(tmp_path: Path) -> Path:
    """A repository of FLEET services, with a simulated cluster for them."""
    blueprints = tmp_path / "blueprints-src"
    blueprints.mkdir()
    shutil.copytree(REPO / "blueprints" / "governance", blueprints / "governance")
    for index in range(FLEET):
        name = f"svc-{index:02d}"
        (blueprints / name).mkdir()
        (blueprints / name / "blueprint.yaml").write_text(_blueprint(name))
    root = tmp_path / "fleet"
    root.mkdir()
    init_repo(root, blueprints)
    _cli(root, "sim", "init")
    return root


def _cli(root: Path, *args: str) -> Result:
    from reconciler.cli import main

    result = CliRunner().invoke(main, ["--repo", str(root), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_a_large_run_reports_progress_on_stderr_only(large_fleet: Path) -> None:
    result = _cli(large_fleet, "run")
    progress = [line for line in result.stderr.splitlines() if line.startswith("reconciling:")]
    # A line every tenth of the way, and one at the end.
    assert progress[0] == f"reconciling: 6/{FLEET} services"
    assert progress[-1] == f"reconciling: {FLEET}/{FLEET} services"
    assert len(progress) == 10
    assert "reconciling:" not in result.stdout
    assert f"{FLEET} services; no changes" in result.stdout


def test_json_output_stays_clean(large_fleet: Path) -> None:
    result = _cli(large_fleet, "run", "-o", "json")
    assert len(json.loads(result.stdout)["services"]) == FLEET
    assert "reconciling:" not in result.stdout


def test_a_few_selected_services_of_a_large_fleet_report_no_progress(large_fleet: Path) -> None:
    result = _cli(large_fleet, "run", "-s", "svc-01", "-s", "svc-02")
    assert "reconciling:" not in result.stderr
    assert "2 services; no changes" in result.stdout


def test_a_small_fleet_reports_no_progress(tmp_path: Path) -> None:
    init_repo(tmp_path)
    _cli(tmp_path, "sim", "init")
    result = _cli(tmp_path, "run")
    assert result.stderr == ""
    assert "2 services; no changes" in result.stdout
