"""Seed demo 2 through the real PyGithub client against the fake GitHub server.

The job's checkout is a clone of a bare repository that the fake serves as GitHub would:
proposals become branches and pull requests there, a person merges through the fake, and the
next run (after pulling, as each scheduled run starts from a fresh checkout) acts on it.
"""

from __future__ import annotations

import re

from tests.scenarios.github_job import Job


def test_seed_demo_2_through_github(job: Job) -> None:
    job.run("-s", "todo-frontend")
    (pull,) = job.api.pulls()
    assert pull["title"] == "todo-frontend: raise max_replicas 5 → 6 (approval needed)"
    assert (
        pull["state"] == "open"
        and pull["head"]["ref"] == "reconciler/todo-frontend/scale-beyond-limits"
    )
    assert {label["name"] for label in pull["labels"]} >= {
        "reconciler",
        "approval-needed",
        "service:todo-frontend",
    }
    assert "```mermaid" in pull["body"] and "<!-- reconciler:proposal" in pull["body"]
    requested = job.records("approval_requested")[0]
    assert requested["details"]["number"] == pull["number"]

    # A second run with nothing changed makes no write call to GitHub.
    job.api.reset_log()
    job.run("-s", "todo-frontend")
    assert job.api.writes() == []
    assert job.api.count() >= 1  # it did look

    job.cli("sim", "advance", "10m")
    job.api.merge_pull(pull["number"], "alice")
    output = job.run("-s", "todo-frontend", "--wait")
    assert f"approved: #{pull['number']} by alice" in output
    granted = job.records("approval_granted")[0]
    assert (
        granted["details"]["merged_by"] == "alice"
        and granted["details"]["reference"] == f"#{pull['number']}"
    )
    executed = job.records("operation_executed")[0]
    assert executed["details"]["post_operation_state"]["replicas"] == 6
    assert executed["links"]["approval"] == requested["id"]
    assert job.records("verification_passed")
    log = job.git("log", "--oneline", "origin/main")
    assert f"todo-frontend: approved by alice (#{pull['number']})" in log
    assert "todo-frontend: scale 5→6 (allowed): weighted 91.5% > 80%" in log


def test_a_merge_by_a_non_approver_on_github_is_refused(job: Job) -> None:
    job.run("-s", "todo-frontend")
    (pull,) = job.api.pulls()
    job.api.merge_pull(pull["number"], "mallory")
    job.run("-s", "todo-frontend", expect=1)
    refused = job.records("approval_refused")[0]
    assert "merged by mallory, who is not an approver (devops-team)" in refused["rationale"]
    assert job.records("operation_executed") == []


def test_github_failures_leave_the_other_services_reconciled(job: Job) -> None:
    job.cli(
        "sim", "set", "todo-backend", "replicas=3", "cpu_utilization=95%", "memory_utilization=95%"
    )
    job.api.fail("POST", r".*/git/trees$", 502, times=1)  # the first proposal fails
    output = job.run(expect=1)
    assert "proposing on the forge failed" in output and "GitHub answered 502" in output
    assert "the next run tries again" in output
    assert len(job.api.pulls()) == 1  # the other service was still proposed
    job.run()  # the next run proposes the one that failed
    assert len(job.api.pulls()) == 2


def test_server_errors_and_slow_answers_never_duplicate_a_proposal(job: Job) -> None:
    job.api.fail("POST", r".*/pulls$", 502, times=None)
    first = job.run("-s", "todo-frontend", expect=1)
    assert "proposing on the forge failed" in first and "502" in first
    job.api.clear_failures()
    # Slow pull-request creation: the POST times out but lands, and the forge finds and
    # adopts it instead of opening a second one.
    job.api.delay(r".*/pulls$", 2, method="POST")
    job.run("-s", "todo-frontend")
    assert len(job.api.pulls()) == 1


def test_the_job_summary_says_what_the_run_cost_on_github(job: Job) -> None:
    summary = job.root.parent / "summary.md"
    job.run("-s", "todo-frontend", "--summary", str(summary))
    first = summary.read_text()
    made = re.search(
        r"GitHub API: (\d+) requests to GitHub(?: \(.*?\))?: ([\d,]+) of 5,000 left", first
    )
    assert made is not None, first
    assert int(made.group(1)) == job.api.count()
    # The next run reads the open proposal from one listing, and asks nothing else.
    job.api.reset_log()
    summary.write_text("")
    job.run("-s", "todo-frontend", "--summary", str(summary))
    assert "GitHub API: 1 request to GitHub" in summary.read_text()
    assert job.api.count() == 1
