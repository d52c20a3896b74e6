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
