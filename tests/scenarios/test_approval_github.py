"""Merges the reconciler meets on GitHub in the middle of things: after a run checked out the
blueprints, or while GitHub is not answering. A blueprint edit counts only once it has been
judged, and it is judged by what the merge put on the main branch."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.scenarios.github_job import Job

FRONTEND = "blueprints/todo-frontend/blueprint.yaml"
BRANCH = "reconciler/todo-frontend/scale-beyond-limits"


def run_without_pull(job: Job, expect: int = 0) -> dict:
    """A run whose checkout was made before the merge: it loaded the old blueprints."""
    output = job.cli("run", "-s", "todo-frontend", "-o", "json", expect=expect)
    return json.loads(output)["services"][0]  # type: ignore[no-any-return]


def replicas(job: Job) -> int:
    sim = json.loads(job.cli("sim", "show", "-o", "json"))
    return next(d["replicas"] for d in sim["deployments"] if d["name"] == "todo-frontend")  # type: ignore[no-any-return]


def test_a_merge_by_a_non_approver_during_a_run_holds_the_merged_blueprint(job: Job) -> None:
    job.run("-s", "todo-frontend")
    (pull,) = job.api.pulls()
    job.api.merge_pull(pull["number"], "mallory")
    result = run_without_pull(job, expect=1)
    assert "held" in result["error"]
    refused = job.records("approval_refused")[0]
    merged = job.api.read_file("main", FRONTEND)
    assert merged is not None and "max_replicas: 6" in merged
    assert (
        refused["details"]["merged_blueprint_digest"] == hashlib.sha256(merged.encode()).hexdigest()
    )
    # The next run loads the merged blueprint, which nobody approved: held, not acted on.
    assert "held" in job.run("-s", "todo-frontend", expect=1)
    assert job.records("operation_executed") == []
    assert replicas(job) == 5


def test_an_approval_merged_during_a_run_is_used_from_the_next_run(job: Job) -> None:
    job.run("-s", "todo-frontend")
    (pull,) = job.api.pulls()
    job.api.merge_pull(pull["number"], "alice")
    result = run_without_pull(job)
    assert "the next run acts on the approved blueprint" in result["waiting"]
    assert result["steps"] == []
    assert len(job.api.pulls()) == 1  # not proposed again from the old blueprint
    assert job.records("approval_granted")
    assert replicas(job) == 5
    job.run("-s", "todo-frontend")
    executed = job.records("operation_executed")[0]
    assert executed["details"]["post_operation_state"]["replicas"] == 6
    assert executed["details"]["authorized_by"]["reference"] == f"#{pull['number']}"


def test_a_forbidden_operation_loosened_during_a_run_is_seen(job: Job) -> None:
    text = (job.root / FRONTEND).read_text()
    forbid = "    forbidden_operations: [restart_failed_pods]\n"
    job.api.push_commit("main", {FRONTEND: text + forbid}, "alice", "Forbid restarts")
    job.run("-s", "todo-frontend")
    (pull,) = job.api.pulls()
    proposed = job.api.read_file(BRANCH, FRONTEND)
    assert proposed is not None and forbid in proposed
    job.api.push_commit(BRANCH, {FRONTEND: proposed.replace(forbid, "")}, "alice", "Allow them")
    job.api.merge_pull(pull["number"], "alice")
    run_without_pull(job, expect=1)
    refused = job.records("approval_refused")[0]
    assert "no longer forbids restart_failed_pods" in refused["rationale"]
    assert f"{FRONTEND} as merged is not what the reconciler proposed" in refused["rationale"]
    assert job.records("approval_granted") == []


@pytest.mark.parametrize(
    "failing",
    [r"/pulls/\d+$", r"/memberships/"],
    ids=["looking-up-the-pull-request", "checking-the-team"],
)
def test_a_merge_that_cannot_be_judged_holds_the_service(job: Job, failing: str) -> None:
    job.run("-s", "todo-frontend")
    (pull,) = job.api.pulls()
    job.api.merge_pull(pull["number"], "mallory")
    job.api.fail("GET", failing, 502, times=None)
    output = job.run("-s", "todo-frontend", expect=1)  # the merged blueprint is checked out
    assert "has not been judged yet" in output
    assert job.records("approval_refused") == [] and job.records("approval_granted") == []
    assert job.records("operation_executed") == []
    assert replicas(job) == 5
    job.api.clear_failures()
    assert "held" in job.run("-s", "todo-frontend", expect=1)
    assert "who is not an approver" in job.records("approval_refused")[0]["rationale"]
    assert replicas(job) == 5


def test_a_refused_merge_is_held_though_the_main_branch_had_moved(job: Job) -> None:
    job.run("-s", "todo-frontend")
    (pull,) = job.api.pulls()
    # Someone changes another line of the blueprint on the main branch; the merge then
    # combines both, and that combination is what the hold must recognise.
    text = job.api.read_file("main", FRONTEND)
    assert text is not None
    edited = text.replace("scale_down_threshold: 40%", "scale_down_threshold: 35%")
    job.api.push_commit("main", {FRONTEND: edited}, "alice", "Scale down a little later")
    job.api.merge_pull(pull["number"], "mallory")
    merged = job.api.read_file("main", FRONTEND)
    assert merged is not None and "max_replicas: 6" in merged and "35%" in merged
    assert "held" in job.run("-s", "todo-frontend", expect=1)
    refused = job.records("approval_refused")[0]
    assert (
        refused["details"]["merged_blueprint_digest"] == hashlib.sha256(merged.encode()).hexdigest()
    )
    assert "held" in job.run("-s", "todo-frontend", expect=1)
    assert job.records("operation_executed") == []


def test_a_pull_request_carrying_another_file_approves_nothing(job: Job) -> None:
    """alice merges the proposal without noticing mallory's extra file: a record that would
    pass for a grant. The merge approves nothing, and the record grants nothing."""
    job.run("-s", "todo-frontend")
    (pull,) = job.api.pulls()
    requested = job.records("approval_requested")[0]
    forged = {
        **requested,
        "id": "apr-forged-1",
        "event_type": "approval_granted",
        "service": "todo-backend",
        "outcome": "approved",
    }
    forged["details"] = {
        **requested["details"],
        "metadata": {
            **requested["details"]["metadata"],
            "kind": "request",
            "target_replicas": 0,
            "service": "todo-backend",
        },
        "merged_by": "alice",
    }
    record = "audit/todo-backend/2026-02-10/153000-approval_granted-apr-forged-1.json"
    job.api.push_commit(BRANCH, {record: json.dumps(forged)}, "mallory", "One more file")
    job.api.merge_pull(pull["number"], "alice")
    assert "held" in job.run("-s", "todo-frontend", expect=1)
    refused = job.records("approval_refused")[0]
    assert f"the merge also changed {record}" in refused["rationale"]
    assert [r["id"] for r in job.records("approval_granted")] == ["apr-forged-1"]  # only a file
    output = job.run("-s", "todo-backend")
    assert "ignored the approval_granted record apr-forged-1" in output
    assert job.records("operation_executed") == []
    sim = json.loads(job.cli("sim", "show", "-o", "json"))
    assert next(d["replicas"] for d in sim["deployments"] if d["name"] == "todo-backend") == 2
