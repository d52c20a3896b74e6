"""What a reviewer sees on GitHub: the proposal's status before a merge, and the reconciler's
last comment after it, through the real PyGithub client against the fake GitHub server.

The status (`reconciler/approval`) on the proposal's head says whether merging it now would
approve anything; it is set when something happens (proposed, updated, a push, a merge), never
re-sent by an idle run.
"""

from __future__ import annotations

from tests.scenarios.github_job import Job

CONTEXT = "reconciler/approval"


def _status(job: Job, sha: str) -> tuple[str, str]:
    found = job.api.status(sha, CONTEXT)
    assert found is not None, f"no {CONTEXT} status on {sha}"
    return str(found["state"]), str(found["description"])


def _proposed(job: Job) -> dict:  # type: ignore[type-arg]
    job.run("-s", "todo-frontend")
    (pull,) = job.api.pulls()
    return pull


def test_a_proposal_says_an_approvers_merge_approves_it(job: Job) -> None:
    pull = _proposed(job)
    state, description = _status(job, pull["head"]["sha"])
    assert state == "success"
    assert description.startswith("Merging approves this if an approver merges (devops-team)")
    assert "until 2026-02-10 16:30Z" in description
    job.api.reset_log()
    job.run("-s", "todo-frontend")
    assert job.api.writes() == []  # an idle run sets no status again


def test_updating_the_branch_from_main_is_not_a_persons_edit(job: Job) -> None:
    pull = _proposed(job)  # the run pushed its audit commits: main moved on
    merged_main = job.api.update_branch(pull["number"], "alice")
    output = job.run("-s", "todo-frontend")
    assert f"#{pull['number']} brought up to date with the main branch by alice" in output
    assert _status(job, merged_main)[0] == "success"
    updated = job.records("approval_updated")
    assert [r["details"].get("updated_from_base") for r in updated] == [True]
    assert updated[0]["details"]["head"] == merged_main
    assert not any(
        c["body"].startswith("<!-- reconciler:comment edited") for c in job.api.comments(1)
    )
    # Merging it is still the approval.
    job.cli("sim", "advance", "10m")
    job.api.merge_pull(pull["number"], "alice")
    granted = job.run("-s", "todo-frontend")
    assert f"approved: #{pull['number']} by alice" in granted
    assert _status(job, merged_main) == ("success", "Approved by alice")


def test_a_persons_push_makes_the_status_say_merging_approves_nothing(job: Job) -> None:
    pull = _proposed(job)
    pushed = job.api.push_commit(pull["head"]["ref"], {"notes.md": "why\n"}, "mallory")
    output = job.run("-s", "todo-frontend")
    assert "changed by a person (mallory): merging it approves nothing" in output
    assert _status(job, pushed) == (
        "failure",
        "The branch changed after it was proposed: merging approves nothing",
    )
    (comment,) = job.api.comments(pull["number"])
    assert comment["body"].startswith("<!-- reconciler:comment edited-by-a-person -->")
    # The proposal's own commit keeps its green status, but GitHub shows the head's.
    assert _status(job, pull["head"]["sha"])[0] == "success"


def test_a_refused_merge_turns_its_status_red(job: Job) -> None:
    pull = _proposed(job)
    job.api.merge_pull(pull["number"], "mallory")
    job.run("-s", "todo-frontend", expect=1)
    state, description = _status(job, pull["head"]["sha"])
    assert state == "failure"
    assert description.startswith(
        "Merged, but approves nothing: it was merged by mallory, who is not an approver"
    )


#: What Actions sets on a run of the reconcile workflow on main.
ACTIONS = {
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_RUN_ID": "4242",
    "GITHUB_REF": "refs/heads/main",
}
RUN = "https://github.com/acme/service-blueprints/actions/runs/4242"
BLOB = "https://github.com/acme/service-blueprints/blob/main/"


def _outcome(job: Job, number: int) -> str:
    ours = [
        c["body"]
        for c in job.api.comments(number)
        if c["body"].startswith("<!-- reconciler:comment outcome -->")
    ]
    assert len(ours) == 1, ours  # one comment, edited in place, never duplicated
    return str(ours[0])


def test_a_granted_merge_shows_its_status_and_a_comment_that_follows_what_was_done(
    job: Job,
) -> None:
    job.run("-s", "todo-frontend", env=ACTIONS)
    (pull,) = job.api.pulls()
    requested = job.records("approval_requested")[0]
    assert f"[This proposal's record]({BLOB}audit/todo-frontend/" in pull["body"]
    assert f"approval_requested-{requested['id']}.json)" in pull["body"]
    assert f"Proposed by [this run]({RUN})." in pull["body"]
    job.cli("sim", "advance", "10m")
    job.api.merge_pull(pull["number"], "alice")
    job.run("-s", "todo-frontend", "--wait", env=ACTIONS)
    assert _status(job, pull["head"]["sha"]) == ("success", "Approved by alice")
    assert job.api.status(pull["head"]["sha"], CONTEXT)["target_url"] == RUN  # type: ignore[index]
    comment = _outcome(job, pull["number"])
    granted = job.records("approval_granted")[0]
    assert "✅ **Approved by alice**: todo-frontend, `spec.scaling.max_replicas` → 6." in comment
    assert (
        "- Carried out: scale deployment todo-app/todo-frontend to 6 replicas: "
        "deployment.apps/todo-frontend scaled (5 → 6 replicas)"
    ) in comment
    assert "- Verified: " in comment
    assert f"[the approval in the audit trail]({BLOB}audit/todo-frontend/" in comment
    assert f"approval_granted-{granted['id']}.json)" in comment
    assert f"[the run]({RUN})" in comment


def test_a_refused_merge_shows_why_and_the_commit_to_revert(job: Job) -> None:
    pull = _proposed(job)
    merge = job.api.merge_pull(pull["number"], "mallory")
    job.run("-s", "todo-frontend", expect=1)
    comment = _outcome(job, pull["number"])
    assert comment.splitlines()[1] == (
        "⛔ **Refused**: this approves nothing for todo-frontend (`spec.scaling.max_replicas` → 6)."
    )
    assert "- it was merged by mallory, who is not an approver (devops-team)" in comment
    assert f"`git revert -m 1 {merge}`" in comment
    assert "todo-frontend stays held until then" in comment
    # The next run (still held) adds nothing to it.
    job.api.reset_log()
    job.run("-s", "todo-frontend", expect=1)
    assert job.api.writes() == []


def test_a_rejection_is_said_on_the_pull_request(job: Job) -> None:
    pull = _proposed(job)
    job.api.close_pull(pull["number"], "alice")
    job.run("-s", "todo-frontend")
    assert (
        _outcome(job, pull["number"])
        .splitlines()[1]
        .startswith(
            "✋ **Rejected**: closed without merging by alice; todo-frontend is not changed"
        )
    )
    assert _status(job, pull["head"]["sha"]) == (
        "failure",
        "Closed unmerged by alice: rejected: merging approves nothing",
    )
