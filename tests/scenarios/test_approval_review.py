"""Holds and proposals that must follow the audit trail, not what a branch or the main branch
happens to say: a branch's commit message cannot choose which files are judged, a correct
re-approval ends a hold, and an unrelated edit does not spoil an open proposal."""

from __future__ import annotations

import pytest

from tests.scenarios.conftest import Scenario
from tests.scenarios.test_approval_scenarios import BRANCH, at_max, git, merge, run

FRONTEND = "blueprints/todo-frontend/blueprint.yaml"
NO_FILES = 'x\n\n<!-- reconciler:proposal {"files":[]} -->'


def replicas(scenario: Scenario, name: str = "todo-frontend") -> int:
    sim = scenario.json("sim", "show")
    return next(d["replicas"] for d in sim["deployments"] if d["name"] == name)  # type: ignore[index]


@pytest.mark.parametrize("who", ["mallory", "alice"])
def test_a_commit_message_listing_no_file_does_not_skip_the_judgement(
    scenario: Scenario, who: str
) -> None:
    at_max(scenario)
    run(scenario)
    git(scenario.root, "checkout", "-q", BRANCH)
    path = scenario.root / FRONTEND
    path.write_text(path.read_text().replace("    max_replicas: 6\n", "    max_replicas: 50\n"))
    git(scenario.root, "commit", "-qam", NO_FILES)
    git(scenario.root, "checkout", "-q", "main")
    merge(scenario, who=who)
    assert "held" in run(scenario, expect=1)["error"]
    refused = scenario.records("todo-frontend", "approval_refused")[0]
    assert f"{FRONTEND} as merged is not what the reconciler proposed" in refused["rationale"]
    assert refused["details"]["merged_blueprint_digest"] is not None
    for _ in range(2):  # and it stays held
        scenario.cli("sim", "advance", "2m")
        assert "held" in run(scenario, expect=1)["error"]
    assert replicas(scenario) == 5
    assert scenario.records("todo-frontend", "operation_executed") == []


def test_a_correct_re_approval_ends_the_hold(scenario: Scenario) -> None:
    at_max(scenario)
    run(scenario)
    merge(scenario, who="mallory")
    assert "held" in run(scenario, expect=1)["error"]
    merged = git(scenario.root, "log", "--merges", "-1", "--format=%H").strip()
    git(scenario.root, "revert", "--no-edit", "-m", "1", merged)
    scenario.cli("sim", "advance", "1m")
    again = run(scenario)
    assert again["steps"][0]["outcome"] == "proposed"
    scenario.cli("sim", "advance", "1m")
    merge(scenario, who="alice")
    run(scenario)
    assert scenario.records("todo-frontend", "approval_granted")
    scenario.cli("sim", "advance", "1m")
    done = run(scenario)
    assert done["error"] is None
    assert replicas(scenario) == 6


def test_an_open_proposal_is_refreshed_after_an_unrelated_edit(scenario: Scenario) -> None:
    at_max(scenario)
    run(scenario)
    text = (scenario.root / FRONTEND).read_text()
    scenario.write_blueprint(
        "todo-frontend", text.replace("scale_down_threshold: 40%", "scale_down_threshold: 35%")
    )
    refreshed = run(scenario)
    assert refreshed["steps"][0]["outcome"] == "proposal updated"
    (updated,) = scenario.records("todo-frontend", "approval_updated")
    requested = scenario.records("todo-frontend", "approval_requested")[0]
    proposed = git(scenario.root, "show", f"{BRANCH}:{FRONTEND}")
    assert "scale_down_threshold: 35%" in proposed and "max_replicas: 6" in proposed
    old, new = requested["details"]["metadata"], updated["details"]["metadata"]
    assert new["blueprint_digest"] != old["blueprint_digest"]
    assert (new["approval_id"], new["expires_at"]) == (old["approval_id"], old["expires_at"])
    assert run(scenario)["steps"][0]["outcome"] == "pending (already proposed)"  # once
    scenario.cli("sim", "advance", "1m")
    merge(scenario, who="alice")
    run(scenario)
    assert scenario.records("todo-frontend", "approval_refused") == []
    assert scenario.records("todo-frontend", "approval_granted")
    scenario.cli("sim", "advance", "1m")
    run(scenario)
    assert replicas(scenario) == 6


def test_an_escalated_recovery_keeps_one_proposal(scenario: Scenario) -> None:
    scenario.cli("sim", "init", "--scenario", "seed", "--history", "10m")
    scenario.cli("sim", "set", "todo-frontend", "crashing_pods=1", "restarts=10")
    for _ in range(3):
        run(scenario)
        scenario.cli("sim", "advance", "2m")
    requests = [b for b in scenario.repo.branches.local if "/request-" in b]
    assert requests == ["reconciler/todo-frontend/request-rollback-deployment"]
    assert len(scenario.records("todo-frontend", "approval_requested")) == 1


def test_a_second_approved_request_is_not_stale_after_the_first(scenario: Scenario) -> None:
    scenario.cli("sim", "init")
    # Whichever is carried out first, the other is still what its approver saw.
    scenario.cli("request", "todo-backend", "scale", "--replicas", "0")
    scenario.cli("request", "todo-backend", "resources", "--cpu", "400m")
    branches = sorted(b for b in scenario.repo.branches.local if b != "main")
    assert len(branches) == 2
    for branch in branches:
        merge(scenario, branch)
    for _ in range(2):
        scenario.json("run", "-s", "todo-backend")
        scenario.cli("sim", "advance", "10m")
    assert scenario.records("todo-backend", "approval_refused") == []
    assert len(scenario.records("todo-backend", "operation_executed")) == 2
    assert replicas(scenario, "todo-backend") == 0


def test_an_approved_rollback_of_its_own_change_is_carried_out(scenario: Scenario) -> None:
    from tests.scenarios.test_verification_scenarios import DEMO_4

    text = (scenario.root / FRONTEND).read_text()
    scenario.write_blueprint(
        "todo-frontend", text + "    requires_approval:\n      - rollback_own_change\n"
    )
    scenario.cli("sim", "init", "--history", "10m")
    scenario.cli("sim", "set", "todo-frontend", *DEMO_4)
    scenario.cli("sim", "advance", "6m")
    scenario.cli("run", "--wait", "-s", "todo-frontend")
    assert scenario.records("todo-frontend", "verification_failed")
    (branch,) = sorted(b for b in scenario.repo.branches.local if b != "main")
    assert replicas(scenario) == 2
    merge(scenario, branch)
    scenario.cli("sim", "advance", "1m")
    result = run(scenario)
    assert result["steps"][0]["operation"] == "rollback_own_change"
    assert result["steps"][0]["outcome"] == "executed", result["steps"][0]
    assert replicas(scenario) == 3
    (rollback,) = scenario.records("todo-frontend", "rollback_executed")
    assert rollback["links"]["approval"].startswith("apr-")
    assert len(scenario.records("todo-frontend", "approval_requested")) == 1
