"""Landings are judged by what reached the main branch, whatever way it got there (local forge).

A blueprint edit's change approves something only through an approver's merge of the proposal
(`git merge --no-ff` by an approver). A squash, a cherry-pick, a rebase, a fast-forward or an
edit by hand that gives the main branch's blueprint what a proposal proposed is refused as
"landed without approval", and the service is held, whoever did it; the other services run on.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.scenarios.conftest import Scenario
from tests.scenarios.test_approval_scenarios import BRANCH, at_max, branches, git, merge, run

FRONTEND = "blueprints/todo-frontend/blueprint.yaml"


def fleet_run(scenario: Scenario, expect: int) -> dict[str, dict]:
    """A run over every service; each service's row by name."""
    report = scenario.json("run", expect=expect)
    return {row["service"]: row for row in report["services"]}  # type: ignore[index]


def replicas(scenario: Scenario, name: str = "todo-frontend") -> int:
    sim = scenario.json("sim", "show")
    return next(d["replicas"] for d in sim["deployments"] if d["name"] == name)  # type: ignore[index]


def squash(scenario: Scenario, who: str) -> None:
    git(scenario.root, "merge", "--squash", "-q", BRANCH, who=who)
    git(scenario.root, "commit", "-qm", "Raise max_replicas (squashed)", who=who)


def cherry_pick(scenario: Scenario, who: str) -> None:
    git(scenario.root, "cherry-pick", BRANCH, who=who)


def rebase_then_fast_forward(scenario: Scenario, who: str) -> None:
    """Rebase the branch onto a main branch that moved on, then fast-forward to it."""
    scenario.write("NOTES.md", "unrelated\n", "an unrelated commit on main")
    git(scenario.root, "checkout", "-q", BRANCH, who=who)
    git(scenario.root, "rebase", "-q", "main", who=who)
    git(scenario.root, "checkout", "-q", "main", who=who)
    git(scenario.root, "merge", "--ff-only", "-q", BRANCH, who=who)


def edit_by_hand(scenario: Scenario, who: str) -> None:
    """The proposed value, typed in by hand: no version bump, so not the proposed file."""
    path = scenario.root / FRONTEND
    path.write_text(path.read_text().replace("max_replicas: 5\n", "max_replicas: 6\n"))
    git(scenario.root, "commit", "-qam", "max_replicas 6", who=who)


LANDINGS: dict[str, Callable[[Scenario, str], None]] = {
    "squash": squash,
    "cherry-pick": cherry_pick,
    "rebase": rebase_then_fast_forward,
    "edit by hand": edit_by_hand,
}


@pytest.mark.parametrize("who", ["alice", "mallory"])
@pytest.mark.parametrize("how", list(LANDINGS))
def test_a_landing_other_than_an_approvers_merge_is_refused_and_held(
    scenario: Scenario, how: str, who: str
) -> None:
    at_max(scenario)
    first = fleet_run(scenario, expect=0)
    assert first["todo-frontend"]["steps"][0]["outcome"] == "proposed"
    LANDINGS[how](scenario, who)
    scenario.cli("sim", "set", "todo-backend", "cpu_utilization=95%", "memory_utilization=95%")
    backend_before = replicas(scenario, "todo-backend")
    rows = fleet_run(scenario, expect=1)
    frontend = rows["todo-frontend"]
    assert frontend["error"].startswith("held: "), frontend
    assert frontend["steps"] == []
    (refused,) = scenario.records("todo-frontend", "approval_refused")
    assert refused["details"]["refusal"] == "landed_without_approval"
    expected = "unattributed" if how == "rebase" else "content"
    assert refused["details"]["landing"] == expected
    assert scenario.records("todo-frontend", "approval_granted") == []
    assert scenario.records("todo-frontend", "approval_superseded") == []
    assert scenario.records("todo-frontend", "operation_executed") == []
    assert replicas(scenario) == 5
    # The other service is reconciled in the same run, as if nothing happened.
    assert rows["todo-backend"]["error"] is None
    assert replicas(scenario, "todo-backend") > backend_before
    # And the hold stays on the next run, without another record.
    again = fleet_run(scenario, expect=1)["todo-frontend"]
    assert again["error"].startswith("held: ")
    assert len(scenario.records("todo-frontend", "approval_refused")) == 1
    assert replicas(scenario) == 5


def test_an_approvers_merge_commit_is_the_approval(scenario: Scenario) -> None:
    at_max(scenario)
    run(scenario)
    merge(scenario, who="alice")
    result = run(scenario)
    assert result["error"] is None and result["steps"][0]["outcome"] == "executed"
    assert scenario.records("todo-frontend", "approval_refused") == []
    assert len(scenario.records("todo-frontend", "approval_granted")) == 1


def test_a_squash_closes_the_proposal_that_is_still_open(scenario: Scenario) -> None:
    at_max(scenario)
    run(scenario)
    squash(scenario, "mallory")
    run(scenario, expect=1)
    assert branches(scenario) == []  # closed, so nobody merges it later thinking it waits
    refused = scenario.records("todo-frontend", "approval_refused")[0]
    assert (
        "while reconciler/todo-frontend/scale-beyond-limits was still open"
        in (refused["rationale"])
    )


def test_a_landing_edited_further_is_still_the_proposals_change(scenario: Scenario) -> None:
    at_max(scenario)
    run(scenario)
    squash(scenario, "mallory")
    path = scenario.root / FRONTEND
    path.write_text(path.read_text() + "# tidied up\n")
    git(scenario.root, "commit", "-qam", "a comment", who="mallory")
    assert "held: " in run(scenario, expect=1)["error"]
    (refused,) = scenario.records("todo-frontend", "approval_refused")
    assert refused["details"]["refusal"] == "landed_without_approval"
    assert replicas(scenario) == 5


def test_a_proposal_closed_unmerged_while_its_change_landed_is_not_a_rejection(
    scenario: Scenario,
) -> None:
    at_max(scenario)
    run(scenario)
    cherry_pick(scenario, "mallory")
    git(scenario.root, "branch", "-D", BRANCH)  # and the proposal "rejected"
    assert "held: " in run(scenario, expect=1)["error"]
    (refused,) = scenario.records("todo-frontend", "approval_refused")
    assert refused["details"]["refusal"] == "landed_without_approval"
    assert scenario.records("todo-frontend", "approval_rejected") == []
    assert replicas(scenario) == 5


def test_a_change_landed_after_its_proposal_expired_is_refused(scenario: Scenario) -> None:
    at_max(scenario)
    run(scenario)
    (requested,) = scenario.records("todo-frontend", "approval_requested")
    # The load eases (latency too: past its guard it would ask for the change on its own), so
    # the expired proposal is not made again; its branch is deleted.
    scenario.cli(
        "sim",
        "set",
        "todo-frontend",
        "cpu_utilization=60%",
        "memory_utilization=60%",
        "latency_p95=150ms",
    )
    scenario.cli("sim", "advance", "61m")
    run(scenario)
    assert scenario.records("todo-frontend", "approval_expired")
    assert branches(scenario) == []
    git(scenario.root, "cherry-pick", requested["details"]["head"], who="mallory")
    # A request that asks no forge sees it from the trail alone...
    held = scenario.cli(
        "--forge", "none", "request", "todo-frontend", "scale", "--replicas", "6", expect=1
    )
    assert "landed without approval" in held.output
    # ...and the next run records it.
    assert "held: " in run(scenario, expect=1)["error"]
    (refused,) = scenario.records("todo-frontend", "approval_refused")
    assert refused["details"]["refusal"] == "landed_without_approval"
    assert "after reconciler/todo-frontend/scale-beyond-limits ended" in refused["rationale"]
    assert replicas(scenario) == 5


def test_reverting_a_landing_ends_the_hold(scenario: Scenario) -> None:
    at_max(scenario)
    run(scenario)
    squash(scenario, "mallory")
    landed = git(scenario.root, "rev-parse", "HEAD").strip()
    run(scenario, expect=1)
    git(scenario.root, "revert", "--no-edit", landed, who="alice")
    result = run(scenario)
    assert result["error"] is None
    assert result["steps"][0]["outcome"] == "proposed"  # asked again, properly
