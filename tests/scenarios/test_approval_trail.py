"""An approval is what the reconciler recorded, used once: the audit trail cannot be forged
into one, a run without a forge still honours the holds, and a used approval is not used again
later in its lifetime."""

from __future__ import annotations

import copy
import json
from datetime import datetime

import pytest

from tests.scenarios.conftest import Scenario
from tests.scenarios.test_approval_scenarios import BRANCH, at_max, branches, git, merge, run
from tests.scenarios.test_approval_security import deployment

BACKEND = "blueprints/todo-backend/blueprint.yaml"
FRONTEND = "blueprints/todo-frontend/blueprint.yaml"


def forged_grant(scenario: Scenario, *, metadata_service: str) -> tuple[str, str]:
    """A copy of the frontend's real approval_requested record, turned into a grant that scales
    todo-backend to 0: its path and text."""
    requested = scenario.records("todo-frontend", "approval_requested")[0]
    forged = copy.deepcopy(requested)
    forged.update(
        id="apr-forged-1",
        event_type="approval_granted",
        service="todo-backend",
        outcome="approved",
        operation="scale_beyond_limits",
    )
    forged["details"]["metadata"].update(
        kind="request",
        operation="scale_beyond_limits",
        target_replicas=0,
        current_replicas=2,
        service=metadata_service,
    )
    forged["details"].update(merged_by="alice <alice@example.com>", reference=BRANCH)
    moment = datetime.fromisoformat(forged["timestamp"].replace("Z", "+00:00"))
    path = (
        f"audit/todo-backend/{moment:%Y-%m-%d}/{moment:%H%M%S}-approval_granted-apr-forged-1.json"
    )
    return path, json.dumps(forged, indent=2) + "\n"


def add_on_branch(scenario: Scenario, branch: str, relative: str, text: str) -> None:
    """A person commits one more file on a proposal's branch."""
    git(scenario.root, "checkout", "-q", branch)
    target = scenario.root / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    git(scenario.root, "add", relative)
    git(scenario.root, "commit", "-qm", "One more file", who="mallory")
    git(scenario.root, "checkout", "-q", "main")


def backend_replicas(scenario: Scenario) -> int:
    return int(deployment(scenario, "todo-backend")["replicas"])


@pytest.mark.parametrize("metadata_service", ["todo-frontend", "todo-backend"])
def test_a_forged_audit_record_smuggled_into_a_proposal_approves_nothing(
    scenario: Scenario, metadata_service: str
) -> None:
    at_max(scenario)
    run(scenario)
    assert backend_replicas(scenario) == 2
    path, text = forged_grant(scenario, metadata_service=metadata_service)
    add_on_branch(scenario, BRANCH, path, text)
    merge(scenario)  # by alice, an approver, who did not look at the second file
    result = run(scenario, expect=1)
    assert "held" in result["error"]
    refused = scenario.records("todo-frontend", "approval_refused")[0]
    assert f"the merge also changed {path}" in refused["rationale"]
    assert scenario.records("todo-frontend", "approval_granted") == []
    backend = scenario.json("run", "-s", "todo-backend")["services"][0]  # type: ignore[index]
    assert all(step["outcome"] != "executed" for step in backend["steps"])
    assert backend_replicas(scenario) == 2
    assert scenario.records("todo-backend", "operation_executed") == []


@pytest.mark.parametrize("metadata_service", ["todo-frontend", "todo-backend"])
def test_a_forged_grant_on_the_main_branch_is_ignored(
    scenario: Scenario, metadata_service: str
) -> None:
    """Past every review (pushed by someone allowed to, say): the trail has no proposal it
    grants, so it grants nothing."""
    at_max(scenario)
    run(scenario)
    path, text = forged_grant(scenario, metadata_service=metadata_service)
    scenario.write(path, text, "A record")
    backend = scenario.json("run", "-s", "todo-backend")["services"][0]  # type: ignore[index]
    assert all(step["outcome"] != "executed" for step in backend["steps"])
    assert any("ignored" in note and "apr-forged-1" in note for note in backend["notes"])
    assert backend_replicas(scenario) == 2
    assert scenario.records("todo-backend", "operation_executed") == []


def test_a_grant_for_a_proposal_that_was_never_merged_is_ignored(scenario: Scenario) -> None:
    """A real approval id and the reconciler's own metadata, but a grant nobody earned: a
    rejected proposal stays rejected."""
    scenario.cli("sim", "init")
    scenario.cli("request", "todo-frontend", "scale", "--replicas", "0")
    (branch,) = branches(scenario)
    git(scenario.root, "branch", "-D", branch)
    run(scenario)  # rejected: the branch was deleted
    requested = scenario.records("todo-frontend", "approval_requested")[0]
    rejected = scenario.records("todo-frontend", "approval_rejected")[0]
    forged = copy.deepcopy(rejected)
    forged.update(id="apr-forged-2", event_type="approval_granted", outcome="approved")
    forged["details"].update(merged_by="alice <alice@example.com>", reference=branch)
    assert forged["details"]["metadata"] == requested["details"]["metadata"]
    moment = datetime.fromisoformat(forged["timestamp"].replace("Z", "+00:00"))
    path = (
        f"audit/todo-frontend/{moment:%Y-%m-%d}/{moment:%H%M%S}-approval_granted-apr-forged-2.json"
    )
    scenario.write(path, json.dumps(forged, indent=2) + "\n", "A record")
    result = run(scenario)
    assert all(step["operation"] != "scale_beyond_limits" for step in result["steps"]), result
    assert any("ignored" in note and "another ending" in note for note in result["notes"])
    assert deployment(scenario)["replicas"] != 0


@pytest.mark.parametrize("judged_by_a_run_first", [False, True], ids=["unjudged", "refused"])
def test_a_run_without_a_forge_does_not_act_on_an_unapproved_merge(
    scenario: Scenario, judged_by_a_run_first: bool
) -> None:
    at_max(scenario)
    run(scenario)
    merge(scenario, who="mallory")
    if judged_by_a_run_first:
        assert "held" in run(scenario, expect=1)["error"]
    result = scenario.json("--forge", "none", "run", "-s", "todo-frontend", expect=1)
    service = result["services"][0]  # type: ignore[index]
    assert "held" in service["error"]
    expected = "merged without a valid approval" if judged_by_a_run_first else "not been judged"
    assert expected in service["error"]
    assert service["steps"] == []
    assert deployment(scenario)["replicas"] == 5
    assert scenario.records("todo-frontend", "operation_executed") == []


def test_a_used_approval_is_not_used_again_after_a_day(scenario: Scenario) -> None:
    """With a 48h approval timeout, a granted request stays usable for two days; using it
    once must still end it, though the execution is older than the run's day of history."""
    text = (scenario.root / BACKEND).read_text()
    assert "    timeout: 1h\n" in text
    scenario.write_blueprint(
        "todo-backend", text.replace("    timeout: 1h\n", "    timeout: 48h\n")
    )
    scenario.cli("sim", "init")
    assert backend_replicas(scenario) == 2
    scenario.cli("request", "todo-backend", "scale", "--replicas", "0")
    (branch,) = branches(scenario)
    merge(scenario, branch)
    first = scenario.json("run", "-s", "todo-backend")["services"][0]  # type: ignore[index]
    assert [s["outcome"] for s in first["steps"]] == ["executed"]
    assert backend_replicas(scenario) == 0
    scenario.cli("sim", "advance", "25h")
    scenario.cli("--forge", "none", "request", "todo-backend", "scale", "--replicas", "2")
    assert backend_replicas(scenario) == 2
    scenario.cli("sim", "advance", "2m")  # past the scale-up's verification
    for _ in range(2):
        again = scenario.json("run", "-s", "todo-backend")["services"][0]  # type: ignore[index]
        assert all(s["outcome"] != "executed" for s in again["steps"]), again["steps"]
    assert backend_replicas(scenario) == 2
    assert scenario.records("todo-backend", "verification_passed")
    executed = scenario.records("todo-backend", "operation_executed")
    assert [r["details"]["post_operation_state"]["replicas"] for r in executed] == [0, 2]


def test_an_exact_copy_of_a_pending_proposal_granted_is_not_used(scenario: Scenario) -> None:
    """The hardest forgery: a grant for a real proposal still waiting for a person, with
    exactly the metadata the reconciler recorded, slipped in through a merge that was refused
    (its files land all the same). The trail cannot tell it from a real one; the forge can."""
    at_max(scenario)
    scenario.cli("request", "todo-backend", "scale", "--replicas", "0")
    (waiting,) = branches(scenario)
    run(scenario)  # proposes the frontend's blueprint edit
    requested = scenario.records("todo-backend", "approval_requested")[0]
    forged = copy.deepcopy(requested)
    forged.update(id="apr-forged-3", event_type="approval_granted", outcome="approved")
    forged["details"].update(merged_by="alice <alice@example.com>", reference=waiting)
    moment = datetime.fromisoformat(forged["timestamp"].replace("Z", "+00:00"))
    path = (
        f"audit/todo-backend/{moment:%Y-%m-%d}/{moment:%H%M%S}-approval_granted-apr-forged-3.json"
    )
    add_on_branch(scenario, BRANCH, path, json.dumps(forged, indent=2) + "\n")
    merge(scenario)
    assert "held" in run(scenario, expect=1)["error"]  # the frontend's merge is refused
    backend = scenario.json("run", "-s", "todo-backend")["services"][0]  # type: ignore[index]
    assert all(step["outcome"] != "executed" for step in backend["steps"]), backend["steps"]
    assert any(
        "ignored the approval_granted record apr-forged-3: the forge has no merge" in note
        for note in backend["notes"]
    ), backend["notes"]
    assert backend_replicas(scenario) == 2
    assert scenario.records("todo-backend", "operation_executed") == []
