"""The GitHub forge under the faults GitHub really produces, and landings by every merge method,
through the real PyGithub client against the fake GitHub server.

- A rate limit, primary or secondary, stops every further GitHub request of the run at once:
  the run exits 4 saying when to retry, and names the services it reconciled without GitHub.
- Every write is safe across a lost answer: a comment is not posted twice, a pull request
  whose answer was lost is found and recorded, labels GitHub failed to add come on a later run.
- A pull request someone else opened on the reconciler's branch is not adopted.
- A proposal's change landing on main is judged by content: an approver's merge (merge
  commit, squash or rebase) approves it; anything else is refused as landed without approval.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.scenarios.github_job import Job

BRANCH = "reconciler/todo-frontend/scale-beyond-limits"
BACKEND_BRANCH = "reconciler/todo-backend/scale-beyond-limits"
FRONTEND = "blueprints/todo-frontend/blueprint.yaml"


def rows(job: Job, *args: str, expect: int) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """A scheduled run in JSON: the report, and each service's row by name."""
    job.git("pull", "-q", "--no-rebase", "origin", "main")
    report = json.loads(job.cli("run", "-o", "json", *args, expect=expect))
    job.git("push", "-q", "origin", "HEAD:main")
    return report, {row["service"]: row for row in report["services"]}


def replicas(job: Job, name: str) -> int:
    sim = json.loads(job.cli("sim", "show", "-o", "json"))
    return next(d["replicas"] for d in sim["deployments"] if d["name"] == name)  # type: ignore[no-any-return]


def backend_at_max(job: Job) -> None:
    job.cli(
        "sim", "set", "todo-backend", "replicas=3", "cpu_utilization=95%", "memory_utilization=95%"
    )


def frontend_hot_within_limits(job: Job) -> None:
    job.cli(
        "sim", "set", "todo-frontend", "replicas=3", "cpu_utilization=92%", "memory_utilization=85%"
    )


# ------------------------------------------------------------------------------ rate limits

#: (status, secondary, retry-after, reset in, the wait the message must give)
LIMITS: dict[str, tuple[int, bool, int | None, int, int]] = {
    "primary 403": (403, False, None, 1200, 1200),
    "primary 429": (429, False, None, 900, 900),
    "secondary 403": (403, True, 120, 3000, 120),
    "secondary 429": (429, True, 45, 3000, 45),
    "secondary, no retry-after": (403, True, None, 3000, 60),  # "at least one minute"
}


@pytest.mark.parametrize("limit", list(LIMITS))
@pytest.mark.parametrize("write", [True, False], ids=["on a write", "on a read"])
def test_a_rate_limit_stops_every_github_request_of_the_run(
    job: Job, limit: str, write: bool
) -> None:
    status, secondary, retry_after, reset_in, wait = LIMITS[limit]
    backend_at_max(job)  # todo-backend needs a proposal first (alphabetical order)
    frontend_hot_within_limits(job)  # todo-frontend needs no GitHub at all
    job.api.fail_rate_limit(
        "POST" if write else "GET",
        r"/git/trees$" if write else r"/pulls$",
        status=status,
        secondary=secondary,
        retry_after=retry_after,
        reset_in=reset_in,
        times=None,
    )
    job.api.reset_log()
    job.git("pull", "-q", "--no-rebase", "origin", "main")
    output = job.cli("run", expect=4)
    limited = [i for i, r in enumerate(job.api.requests) if r.status in (403, 429)]
    assert limited, output
    assert len(job.api.requests) == limited[0] + 1  # nothing at all after the limit
    # When to retry, counted from GitHub's headers (seconds pass while the run works).
    waits = [int(n) for n in re.findall(r"\(in (\d+) s\)", output)]
    assert waits and all(wait - 10 <= n <= wait for n in waits), output
    assert re.search(r"error: GitHub rate limit: GitHub answered (403|429)", output)
    assert re.search(r"hint: run again after \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", output)
    assert "no further request was sent to GitHub in this run" in output
    # The run went on without GitHub, and says which services it did not ask GitHub about.
    assert "it stopped while reconciling todo-backend" in output
    assert "their proposals left for the next run: todo-frontend" in output
    assert replicas(job, "todo-frontend") == 4  # an allowed change needs no GitHub
    assert job.records("approval_requested") == []


def test_the_json_report_names_the_halt(job: Job) -> None:
    backend_at_max(job)
    job.api.fail_rate_limit("GET", r"/pulls$", secondary=True, retry_after=30)
    job.git("pull", "-q", "--no-rebase", "origin", "main")
    output = job.cli("run", "-o", "json", expect=4)
    report = json.loads(output[: output.rindex("}") + 1])
    halted = report["forge_halted"]
    assert halted["service"] == "todo-backend" and halted["not_asked"] == ["todo-frontend"]
    assert "secondary rate limit holds requests until" in halted["error"]
    assert report["ok"] is False


def test_the_run_after_a_rate_limit_picks_up(job: Job) -> None:
    job.api.fail_rate_limit("POST", r"/git/commits$", times=1)
    job.run("-s", "todo-frontend", expect=4)
    assert job.api.pulls() == []
    job.run("-s", "todo-frontend")
    assert len(job.api.pulls()) == 1 and len(job.records("approval_requested")) == 1


# ------------------------------------------------------------------------------ lost answers


def test_a_lost_answer_to_the_superseding_comment_is_not_posted_twice(job: Job) -> None:
    job.run("-s", "todo-frontend")
    (pull,) = job.api.pulls()
    # The load eases: the proposal is no longer needed and is closed with a comment, whose
    # answer is lost after GitHub posted it.
    job.cli(
        "sim",
        "set",
        "todo-frontend",
        "cpu_utilization=50%",
        "memory_utilization=50%",
        "latency_p95=150ms",
    )
    job.api.drop("POST", r"/issues/\d+/comments$")
    output = job.run("-s", "todo-frontend")
    assert f"could not close #{pull['number']}" in output
    assert len(job.api.comments(pull["number"])) == 1  # GitHub did post it
    assert job.records("approval_superseded") == []
    job.run("-s", "todo-frontend")
    assert len(job.api.comments(pull["number"])) == 1  # and it is not posted again
    assert job.api.pull(pull["number"])["state"] == "closed"
    assert len(job.records("approval_superseded")) == 1


def test_a_lost_answer_to_creating_the_pull_request_is_found_and_recorded(job: Job) -> None:
    job.api.drop("POST", r"/pulls$")
    job.run("-s", "todo-frontend")
    (pull,) = job.api.pulls()
    (requested,) = job.records("approval_requested")
    assert requested["details"]["number"] == pull["number"]
    job.run("-s", "todo-frontend")
    assert len(job.api.pulls()) == 1 and len(job.records("approval_requested")) == 1


def test_a_proposal_opened_by_a_run_that_lost_it_is_adopted_by_the_next(job: Job) -> None:
    """The pull request was created, but the run lost GitHub's answer twice and kept no
    record: the next run finds it on the branch, sees it is the bot's own, and records it."""
    job.api.drop("POST", r"/pulls$")
    job.api.fail("GET", r"/pulls$", 502, times=None, skip=1)  # the look after the loss fails
    job.run("-s", "todo-frontend", expect=1)
    assert len(job.api.pulls()) == 1 and job.records("approval_requested") == []
    job.api.clear_failures()
    job.run("-s", "todo-frontend")
    (requested,) = job.records("approval_requested")
    assert requested["details"]["number"] == job.api.pulls()[0]["number"]
    assert len(job.api.pulls()) == 1


def test_a_server_error_on_labels_still_records_the_proposal(job: Job) -> None:
    job.api.fail("POST", r"/issues/\d+/labels$", 502, times=None)
    job.run("-s", "todo-frontend")
    (pull,) = job.api.pulls()
    assert pull["labels"] == []
    (requested,) = job.records("approval_requested")
    assert requested["details"]["number"] == pull["number"]
    job.api.clear_failures()
    job.run("-s", "todo-frontend")  # the labels come on a later run
    names = {label["name"] for label in job.api.pull(pull["number"])["labels"]}
    assert names == {"reconciler", "approval-needed", "service:todo-frontend"}
    assert len(job.records("approval_requested")) == 1


# ------------------------------------------------------------------------------ foreign pulls


def test_a_pull_request_someone_else_opened_on_the_branch_is_not_adopted(job: Job) -> None:
    text = job.api.read_file("main", FRONTEND)
    assert text is not None
    job.api.push_commit(
        BRANCH, {FRONTEND: text.replace("max_replicas: 5", "max_replicas: 6")}, "mallory"
    )
    foreign = job.api.open_pull("mallory", BRANCH, "todo-frontend: raise max_replicas")
    output = job.run("-s", "todo-frontend", expect=1)
    assert f"pull request #{foreign['number']} by mallory" in output
    assert "it is not adopted" in output
    assert job.records("approval_requested") == []
    assert len(job.api.pulls()) == 1
    assert job.api.comments(foreign["number"]) == []  # and nothing was written on it
    # Merged by an approver, it is a change to the blueprint, never an approval.
    job.api.merge_pull(foreign["number"], "alice")
    job.run("-s", "todo-frontend")
    assert job.records("approval_granted") == []


# ------------------------------------------------------------------------------ landings


@pytest.mark.parametrize("method", ["merge", "squash", "rebase"])
def test_an_approvers_merge_by_any_method_is_an_approval(job: Job, method: str) -> None:
    job.run("-s", "todo-frontend")
    (pull,) = job.api.pulls()
    job.api.merge_pull(pull["number"], "alice", merge_method=method)
    job.run("-s", "todo-frontend")
    (granted,) = job.records("approval_granted")
    assert granted["details"]["merged_by"] == "alice"
    assert job.records("approval_refused") == []
    assert replicas(job, "todo-frontend") == 6


@pytest.mark.parametrize("method", ["merge", "squash", "rebase"])
def test_a_merge_by_a_non_approver_by_any_method_landed_without_approval(
    job: Job, method: str
) -> None:
    job.run("-s", "todo-frontend")
    (pull,) = job.api.pulls()
    job.api.merge_pull(pull["number"], "mallory", merge_method=method)
    frontend_rows = rows(job, expect=1)[1]
    assert frontend_rows["todo-frontend"]["error"].startswith("held: ")
    assert frontend_rows["todo-backend"]["error"] is None  # the other service goes on
    (refused,) = job.records("approval_refused")
    assert refused["details"]["refusal"] == "landed_without_approval"
    assert refused["details"]["landing"] == "merge"
    assert job.records("approval_granted") == []
    assert replicas(job, "todo-frontend") == 5


@pytest.mark.parametrize("who", ["alice", "mallory"])
def test_the_proposed_change_pushed_to_main_is_refused_and_the_pull_request_closed(
    job: Job, who: str
) -> None:
    """A cherry-pick of the proposal, or its values typed in, pushed straight to main."""
    job.run("-s", "todo-frontend")
    (pull,) = job.api.pulls()
    proposed = job.api.read_file(BRANCH, FRONTEND)
    assert proposed is not None
    job.api.push_commit("main", {FRONTEND: proposed}, who, "raise max_replicas")
    backend_at_max(job)
    report, by_name = rows(job, expect=1)
    assert by_name["todo-frontend"]["error"].startswith("held: ")
    (refused,) = job.records("approval_refused")
    assert refused["details"]["refusal"] == "landed_without_approval"
    assert refused["details"]["landing"] == "content"
    assert job.api.pull(pull["number"])["state"] == "closed"
    assert replicas(job, "todo-frontend") == 5
    # The other service was still reconciled: it proposed its own change.
    assert by_name["todo-backend"]["steps"][0]["outcome"] == "proposed"
    assert report["forge_halted"] is None
