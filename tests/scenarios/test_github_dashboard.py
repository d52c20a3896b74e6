"""The dashboard issue across several scheduled runs on GitHub: it appears when something
needs a person, says what, mentions the approvers when something is new, is edited only when
its content changes, and closes itself when nothing needs anyone; a run that failed before it
could say anything lands there too."""

from __future__ import annotations

from typing import Any

from tests.scenarios.github_job import Job

LABEL = "reconciler-dashboard"
CALM = ["cpu_utilization=40%", "memory_utilization=40%", "latency_p95=100ms"]


def _dashboards(job: Job) -> list[dict[str, Any]]:
    return [
        issue
        for issue in job.api.issues()
        if any(label["name"] == LABEL for label in issue["labels"])
    ]


def _dashboard(job: Job) -> dict[str, Any]:
    (issue,) = _dashboards(job)  # one per repository, never duplicated
    return issue


def _dashboard_writes(job: Job, number: int) -> list[str]:
    return [
        f"{r.method} {r.path.rsplit('/repos/acme/service-blueprints', 1)[-1]}"
        for r in job.api.writes()
        if r.path.endswith(("/issues", f"/issues/{number}", f"/issues/{number}/comments"))
    ]


def test_the_dashboard_appears_updates_mentions_and_closes_across_runs(job: Job) -> None:
    # A quiet fleet: nothing to show, no issue.
    job.cli("sim", "set", "todo-frontend", *CALM)
    job.run()
    assert _dashboards(job) == []

    # todo-frontend at its maximum and hot: its proposal waits for an approver.
    job.cli("sim", "set", "todo-frontend", "cpu_utilization=92%", "memory_utilization=85%")
    job.run()
    (pull,) = job.api.pulls()
    issue = _dashboard(job)
    assert issue["title"] == "Reconciler dashboard" and issue["state"] == "open"
    body = issue["body"]
    assert body.startswith("<!-- reconciler:dashboard all -->")
    assert "## Waiting for an approver" in body
    assert f"[#{pull['number']}]({pull['html_url']}) **todo-frontend**: " in body
    assert "(expires 2026-02-10 16:30Z)" in body
    assert "## Needs a person" not in body
    assert job.api.comments(issue["number"]) == []  # waiting is no news for anyone

    # Nothing changed: the next run does not touch it (nor asks GitHub about it).
    job.api.reset_log()
    job.run()
    assert _dashboard_writes(job, issue["number"]) == []
    assert job.api.count("GET", "/repos/acme/service-blueprints/issues") == 0

    # A non-approver merges it: the service is held, which newly needs a person.
    merge = job.api.merge_pull(pull["number"], "mallory")
    job.api.reset_log()
    job.run(expect=1)
    issue = _dashboard(job)
    assert "## Needs a person" in issue["body"]
    assert "- **todo-frontend**: held: #1 was merged without a valid approval" in issue["body"]
    assert "## Waiting for an approver" not in issue["body"]
    (mention,) = job.api.comments(issue["number"])
    assert mention["body"].startswith("@acme/devops-team: newly needs a person:")
    assert "**todo-frontend**: held" in mention["body"]
    assert _dashboard_writes(job, issue["number"]) == [
        f"PATCH /issues/{issue['number']}",
        f"POST /issues/{issue['number']}/comments",
    ]
    # Still held on the next runs: no new mention, and once the hold reads as the trail
    # words it, no edit.
    job.run(expect=1)
    job.api.reset_log()
    job.run(expect=1)
    assert _dashboard_writes(job, issue["number"]) == []
    assert len(job.api.comments(issue["number"])) == 1

    # The merge is reverted and the load calms down: nothing needs anyone, it closes itself.
    job.git("pull", "-q", "--no-rebase", "origin", "main")
    job.git("revert", "--no-edit", "-m", "1", merge)
    job.git("push", "-q", "origin", "HEAD:main")
    job.cli("sim", "set", "todo-frontend", *CALM)
    job.run()
    issue = _dashboard(job)
    assert issue["state"] == "closed" and issue["state_reason"] == "completed"
    assert "Nothing needs a person" in issue["body"]

    # Hot again: the same issue is reopened, not a second one.
    job.cli("sim", "set", "todo-frontend", "cpu_utilization=92%", "memory_utilization=85%")
    job.run()
    reopened = _dashboard(job)
    assert (reopened["number"], reopened["state"]) == (issue["number"], "open")
    assert "## Waiting for an approver" in reopened["body"]


def test_a_failing_service_shows_since_when_and_the_last_good_cycle(job: Job) -> None:
    job.run()  # a good cycle: todo-frontend proposes, the dashboard lists it
    hot = ["scale_fails=true", "cpu_utilization=95%", "memory_utilization=95%"]
    job.cli("sim", "set", "todo-backend", *hot)
    job.run(expect=1)
    first = _dashboard(job)["body"]
    assert "## Failing" in first
    assert "- **todo-backend** (since 2026-02-10 15:30Z): " in first
    assert "Last successful cycle: " in first and "Last successful cycle: unknown" not in first
    job.cli("sim", "advance", "2m")
    job.run(expect=1)
    assert "- **todo-backend** (since 2026-02-10 15:30Z): " in _dashboard(job)["body"]


def test_a_run_that_failed_before_reconciling_lands_on_the_dashboard(job: Job) -> None:
    job.run()
    issue = _dashboard(job)
    actions = {"GITHUB_RUN_ID": "77", "GITHUB_SERVER_URL": "https://github.com"}
    job.cli("dashboard", "--run-failed", "the Reconcile step failed (exit 3)", env=actions)
    body = _dashboard(job)["body"]
    assert "## ❌ The last run failed" in body
    assert (
        "the Reconcile step failed (exit 3) "
        "([the run](https://github.com/acme/service-blueprints/actions/runs/77))"
    ) in body
    assert "## Waiting for an approver" in body  # what the last run saw stays
    # The next run that reconciles writes the dashboard afresh, without the failure.
    job.run()
    again = _dashboard(job)
    assert again["number"] == issue["number"]
    assert "The last run failed" not in again["body"]
