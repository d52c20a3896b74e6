"""On GitHub: the pull request's body cannot choose which files are judged, and the blueprint's
approvers, teams declared in the global policies, are asked to review as teams."""

from __future__ import annotations

import json
import re

import requests

from tests.scenarios.github_job import Job
from tests.scenarios.test_approval_github import BRANCH, FRONTEND, replicas, run_without_pull


def test_a_body_listing_no_file_does_not_skip_the_judgement(job: Job) -> None:
    job.run("-s", "todo-frontend")
    (pull,) = job.api.pulls()
    proposed = job.api.read_file(BRANCH, FRONTEND)
    assert proposed is not None and "max_replicas: 6" in proposed
    job.api.push_commit(
        BRANCH, {FRONTEND: proposed.replace("max_replicas: 6", "max_replicas: 50")}, "mallory"
    )
    body = re.sub(r'"files":\[[^\]]*\]', '"files":[]', pull["body"])
    assert body != pull["body"]
    answer = requests.patch(
        f"{job.api.url}/repos/acme/service-blueprints/pulls/{pull['number']}",
        headers={"Authorization": "token mallory-token"},
        data=json.dumps({"body": body}),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    job.api.merge_pull(pull["number"], "alice")
    job.git("pull", "-q", "--no-rebase", "origin", "main")
    assert "held" in run_without_pull(job, expect=1)["error"]
    job.cli("sim", "advance", "2m")
    assert "held" in run_without_pull(job, expect=1)["error"]
    assert replicas(job) == 5
    assert job.records("approval_granted") == []


def test_teams_declared_in_the_policies_are_asked_as_teams(job: Job) -> None:
    job.run("-s", "todo-frontend")
    (pull,) = job.api.pulls()
    asked = job.api.pull(pull["number"])
    assert [team["slug"] for team in asked["requested_teams"]] == ["devops-team"]
    assert asked["requested_reviewers"] == []
