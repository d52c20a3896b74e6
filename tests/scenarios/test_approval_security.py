"""A merge approves only what the proposal says, and only when an approver merged it: the ways
around that rule, on the local forge, each closed."""

from __future__ import annotations

import pytest

from tests.scenarios.conftest import Scenario
from tests.scenarios.test_approval_scenarios import BRANCH, at_max, branches, git, merge, run

FRONTEND = "blueprints/todo-frontend/blueprint.yaml"


def deployment(scenario: Scenario, name: str = "todo-frontend") -> dict:
    sim = scenario.json("sim", "show")
    return next(d for d in sim["deployments"] if d["name"] == name)  # type: ignore[index]


def commit_on(scenario: Scenario, branch: str, relative: str, old: str, new: str) -> None:
    """A person adds a commit to a proposal's branch."""
    git(scenario.root, "checkout", "-q", branch)
    path = scenario.root / relative
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    git(scenario.root, "commit", "-qam", "A little more")
    git(scenario.root, "checkout", "-q", "main")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("    max_replicas: 6\n", "    max_replicas: 50\n"),
        (
            "        autonomous: true\n",
            "        autonomous: true\n  approval_workflow:\n    approvers: [mallory]\n",
        ),
    ],
    ids=["max_replicas", "approvers"],
)
def test_extra_commits_on_a_blueprint_proposal_approve_nothing(
    scenario: Scenario, old: str, new: str
) -> None:
    at_max(scenario)
    run(scenario)
    commit_on(scenario, BRANCH, FRONTEND, old, new)
    merge(scenario)  # by alice, an approver: who merged is fine, what was merged is not
    result = run(scenario, expect=1)
    assert "held" in result["error"]
    refused = scenario.records("todo-frontend", "approval_refused")[0]
    assert f"{FRONTEND} as merged is not what the reconciler proposed" in refused["rationale"]
    assert scenario.records("todo-frontend", "approval_granted") == []
    assert scenario.records("todo-frontend", "operation_executed") == []
    assert deployment(scenario)["replicas"] == 5
    assert "held" in run(scenario, expect=1)["error"]  # and it stays held


def test_a_request_edited_and_merged_after_its_branch_was_deleted_approves_nothing(
    scenario: Scenario,
) -> None:
    scenario.cli("sim", "init")
    scenario.cli("request", "todo-frontend", "scale", "--replicas", "0")
    (branch,) = branches(scenario)
    (relative,) = git(
        scenario.root, "diff", "--name-only", "main", branch, "--", "requests/"
    ).split()
    commit_on(scenario, branch, relative, "target_replicas: 0", "target_replicas: 40")
    merge(scenario, branch)
    git(scenario.root, "branch", "-D", branch)  # tidied up after merging
    run(scenario)
    refused = scenario.records("todo-frontend", "approval_refused")[0]
    assert "changed after the reconciler proposed it" in refused["rationale"]
    assert scenario.records("todo-frontend", "operation_executed") == []


def test_an_approved_resource_request_is_carried_out_with_its_parameters(
    scenario: Scenario,
) -> None:
    scenario.cli("sim", "init")
    scenario.cli("request", "todo-frontend", "resources", "--cpu", "500m")
    (branch,) = branches(scenario)
    requested = scenario.records("todo-frontend", "approval_requested")[0]
    assert requested["details"]["metadata"]["parameters"] == {
        "cpu_request": 500,
        "cpu_request_before": 100,
    }
    merge(scenario, branch)
    result = run(scenario)
    assert result["error"] is None and result["steps"][0]["outcome"] == "executed"
    assert deployment(scenario)["requests"]["cpu"] == "500m"


def test_a_resource_request_overtaken_by_a_changed_request_is_stale(scenario: Scenario) -> None:
    scenario.cli("sim", "init")
    scenario.cli("request", "todo-frontend", "resources", "--cpu", "500m")
    (branch,) = branches(scenario)
    scenario.cli("sim", "set", "todo-frontend", "cpu_request=200m")  # someone changed it
    merge(scenario, branch)
    run(scenario)
    refused = scenario.records("todo-frontend", "approval_refused")[0]
    assert "overtaken by the state" in refused["rationale"]
    assert "cpu_request 100m (now 200m)" in refused["rationale"]
    assert scenario.records("todo-frontend", "operation_executed") == []
    assert deployment(scenario)["requests"]["cpu"] == "200m"


def test_a_rollback_approved_after_a_new_release_is_stale(scenario: Scenario) -> None:
    text = (scenario.root / FRONTEND).read_text()
    scenario.write_blueprint(
        "todo-frontend", text + "    requires_approval:\n      - rollback_deployment\n"
    )
    scenario.cli("sim", "init")
    scenario.cli("sim", "set", "todo-frontend", "release=good")  # revision 2
    scenario.cli("sim", "advance", "60s")
    scenario.cli("request", "todo-frontend", "rollback_deployment", "--reason", "bad release")
    (branch,) = branches(scenario)
    requested = scenario.records("todo-frontend", "approval_requested")[0]
    assert requested["details"]["metadata"]["revision"] == 2
    # Meanwhile a person fixed it with a new release, then the rollback was approved anyway.
    scenario.cli("sim", "set", "todo-frontend", "release=good")  # revision 3
    scenario.cli("sim", "advance", "60s")
    merge(scenario, branch)
    run(scenario)
    refused = scenario.records("todo-frontend", "approval_refused")[0]
    assert "overtaken by the state" in refused["rationale"]
    assert "revision 2 (now 3)" in refused["rationale"]
    assert scenario.records("todo-frontend", "operation_executed") == []
    assert deployment(scenario)["revision"] == 3


def test_a_timed_out_proposal_says_what_happens_and_does_it(scenario: Scenario) -> None:
    text = (scenario.root / FRONTEND).read_text()
    scenario.write_blueprint(
        "todo-frontend",
        text + "  approval_workflow:\n    auto_reject_on_timeout: false\n",
    )
    at_max(scenario)
    run(scenario)
    body = scenario.repo.revparse_single(BRANCH).message
    promise = "it stays open for a person to decide, with a comment saying it timed out"
    assert promise in " ".join(body.split())
    assert "`timed-out`" not in body  # no label the local forge (or the port) could set
    scenario.cli("sim", "advance", "61m")
    result = run(scenario)
    assert any("expired" in note for note in result["notes"])
    assert branches(scenario) == [BRANCH]  # still open
    tip = scenario.repo.branches[BRANCH].target
    note = scenario.repo.lookup_note(str(tip), "refs/notes/reconciler").message
    assert "This proposal timed out" in note
    (listed,) = scenario.json("approvals")["approvals"]  # type: ignore[index]
    assert (listed["state"], listed["timed_out"]) == ("pending", True)


def test_an_approved_request_that_waited_and_went_stale_is_not_carried_out(
    scenario: Scenario,
) -> None:
    scenario.cli("sim", "init")
    scenario.cli("request", "todo-frontend", "resources", "--cpu", "500m")
    (branch,) = branches(scenario)
    # The reconciler scales on its own; that change waits for its verification...
    scenario.cli("sim", "set", "todo-frontend", "cpu_utilization=95%", "memory_utilization=95%")
    assert run(scenario)["steps"][0]["outcome"] == "executed"
    # ...so the request approved now is granted but waits too.
    merge(scenario, branch)
    waiting = run(scenario)
    assert waiting["waiting"] and waiting["steps"] == []
    assert scenario.records("todo-frontend", "approval_granted")
    # Meanwhile someone changes the CPU request: the approval no longer describes it.
    scenario.cli("sim", "set", "todo-frontend", "cpu_request=200m")
    scenario.cli("sim", "advance", "10m")
    later = run(scenario)
    assert any("went stale" in note for note in later["notes"])
    refused = scenario.records("todo-frontend", "approval_refused")[0]
    assert "cpu_request 100m (now 200m)" in refused["rationale"]
    assert all(s["operation"] != "change_resource_limits_beyond_10_percent" for s in later["steps"])
    assert deployment(scenario)["requests"]["cpu"] == "200m"


@pytest.mark.parametrize("judged_by_a_run_first", [True, False], ids=["after-run", "before-run"])
def test_a_request_does_not_act_on_a_blueprint_merged_without_approval(
    scenario: Scenario, judged_by_a_run_first: bool
) -> None:
    """mallory's merge raises max_replicas to 6; a request for 6 replicas must not use it,
    whether a run already refused the merge or the request is the first to see it."""
    at_max(scenario)
    run(scenario)
    merge(scenario, who="mallory")
    if judged_by_a_run_first:
        assert "held" in run(scenario, expect=1)["error"]
    before = scenario.subjects()
    result = scenario.cli("request", "todo-frontend", "scale", "--replicas", "6", expect=1)
    assert "error: todo-frontend: held: " in result.output
    assert "merged without a valid approval" in result.output
    assert "nothing was requested or recorded" in result.output
    assert deployment(scenario)["replicas"] == 5
    assert scenario.records("todo-frontend", "operation_executed") == []
    assert scenario.records("todo-frontend", "operation_requested") == []
    # The only commit the request may add is the refusal of the merge it judged itself.
    added = scenario.subjects()[: len(scenario.subjects()) - len(before)]
    assert all("approval refused" in subject for subject in added), added
    assert len(added) == (0 if judged_by_a_run_first else 1)


def test_a_merge_after_the_proposal_expired_approves_nothing(scenario: Scenario) -> None:
    """An approval is for the situation it described; after the timeout that is gone."""
    at_max(scenario)
    run(scenario)
    scenario.cli("sim", "advance", "61m")  # approval timeout 1h (the global policies)
    merge(scenario)  # by alice, an approver, but too late
    result = run(scenario, expect=1)
    assert "held" in result["error"]
    refused = scenario.records("todo-frontend", "approval_refused")[0]
    assert "after it expired at 16:30:00Z" in refused["rationale"]
    assert scenario.records("todo-frontend", "approval_granted") == []
    assert scenario.records("todo-frontend", "operation_executed") == []
    assert deployment(scenario)["replicas"] == 5


def test_a_proposal_made_again_in_the_instant_the_old_one_expired_is_still_judged(
    scenario: Scenario,
) -> None:
    """The old proposal's expiry and its successor's request share a timestamp; the expiry
    must not be read as the end of the successor, or its merge would go unjudged."""
    at_max(scenario)
    run(scenario)
    scenario.cli("sim", "advance", "61m")
    scenario.cli("sim", "set", "todo-frontend", "cpu_utilization=92%", "memory_utilization=85%")
    again = run(scenario)
    assert again["steps"][0]["outcome"] == "proposed"
    merge(scenario, who="mallory")
    scenario.cli("sim", "advance", "1m")
    result = run(scenario, expect=1)
    assert "held" in result["error"]
    refused = scenario.records("todo-frontend", "approval_refused")
    assert refused and "who is not an approver" in refused[-1]["rationale"]
    assert scenario.records("todo-frontend", "operation_executed") == []
    assert deployment(scenario)["replicas"] == 5
