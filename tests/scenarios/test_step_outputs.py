"""`run --outputs` and `request --outputs`: what a workflow's later steps learn from a run.

The outputs come from the audit records the run committed, so each case here makes the
records happen for real (a scale, a proposal, a breaker that opens, a dry run that records
nothing) and reads the file as Actions would.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.actions import read_env_file
from tests.scenarios.conftest import Scenario


def outputs(path: Path) -> dict[str, object]:
    values = read_env_file(path)
    assert set(values) == {"services-changed", "proposals-opened", "needs-person"}
    return {
        "services-changed": json.loads(values["services-changed"]),
        "proposals-opened": json.loads(values["proposals-opened"]),
        "needs-person": values["needs-person"],
    }


def test_a_scale_is_a_changed_service(scenario: Scenario, tmp_path: Path) -> None:
    scenario.cli("sim", "init", "--scenario", "seed")
    file = tmp_path / "out"
    scenario.cli("run", "--wait", "--outputs", str(file))
    assert outputs(file) == {
        "services-changed": ["todo-frontend"],
        "proposals-opened": [],
        "needs-person": "false",
    }


def test_a_dry_run_changes_nothing(scenario: Scenario, tmp_path: Path) -> None:
    scenario.cli("sim", "init", "--scenario", "seed")
    file = tmp_path / "out"
    scenario.cli("run", "--dry-run", "--outputs", str(file))
    assert outputs(file)["services-changed"] == []


def test_a_request_beyond_the_bounds_opens_a_proposal(scenario: Scenario, tmp_path: Path) -> None:
    scenario.cli("sim", "init", "--scenario", "seed")
    file = tmp_path / "out"
    scenario.cli("request", "todo-frontend", "scale", "--replicas", "8", "--outputs", str(file))
    (proposal,) = outputs(file)["proposals-opened"]  # type: ignore[misc]
    assert proposal.startswith("reconciler/todo-frontend/request-")  # the local forge's branch
    assert outputs(file)["services-changed"] == []


def test_an_opened_breaker_needs_a_person_even_when_the_run_fails(
    scenario: Scenario, tmp_path: Path
) -> None:
    scenario.cli("sim", "init", "--scenario", "seed")
    scenario.cli("sim", "set", "todo-frontend", "scale_fails=true")
    seen = []
    for attempt in range(3):
        file = tmp_path / f"out-{attempt}"
        scenario.cli("run", "-s", "todo-frontend", "--outputs", str(file), expect=1)
        seen.append(outputs(file)["needs-person"])
        scenario.cli("sim", "advance", "60s")
    assert seen == ["false", "false", "true"]


def test_outputs_are_appended_to_what_other_steps_wrote(scenario: Scenario, tmp_path: Path) -> None:
    scenario.cli("sim", "init", "--scenario", "seed")
    file = tmp_path / "out"
    file.write_text("earlier=kept\n")
    scenario.cli("run", "--outputs", str(file))
    assert read_env_file(file)["earlier"] == "kept"
