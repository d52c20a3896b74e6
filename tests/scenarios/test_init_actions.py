"""A blueprint repository made by `reconciler init`, run by the emulated Actions runner.

The repository holds only what init wrote; its workflows name the Action by its release
(`uses: blueprint-reconciler/blueprint-reconciler@v0.1.0`), which the runner resolves to this
checkout, as GitHub would download the tag. The seed flow runs there on a dispatched cycle,
and a pull request that raises a bound is classified and commented on by the PR checks.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from github import Auth, Github

from reconciler import ACTION_REPOSITORY, ACTION_VERSION
from tests.actions import Runner, StepContext
from tests.conftest import REPO
from tests.gitserver import basic_header, git
from tests.scenarios.test_actions_runs import (
    BOT_TOKEN,
    INSTALL,
    NO_REQUEST,
    REPOSITORY,
    Hosted,
    _no_secret,
    hosted_repository,
)

ACTION = f"{ACTION_REPOSITORY}@{ACTION_VERSION}"


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[tuple[Hosted, Path]]:
    """init's files as the first commit of a hosted repository, and the directory init wrote."""
    from reconciler.cli import main

    made = tmp_path / "made"
    args = ["init", str(made), "--service", "todo-frontend", "--namespace", "todo-app"]
    result = CliRunner().invoke(
        main, [*args, "--approver", "alice", "--no-commit"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    files = {
        path.relative_to(made).as_posix(): path.read_text()
        for path in made.rglob("*")
        if path.is_file()
    }
    for hosted in hosted_repository(tmp_path, files):
        hosted.api.add_user("alice", "alice-token")
        yield hosted, made


def _runner(hosted: Hosted, workflow: Path, event_name: str, **kwargs: object) -> Runner:
    runner = hosted.runner(event_name, workflow=workflow, **kwargs)
    runner.actions = {ACTION_REPOSITORY: REPO}
    return runner


def test_the_seed_flow_runs_through_the_released_action(fleet: tuple[Hosted, Path]) -> None:
    hosted, made = fleet
    before = hosted.log()
    workflow = made / ".github/workflows/reconcile.yml"
    (run,) = _runner(hosted, workflow, "workflow_dispatch", inputs=NO_REQUEST).run()
    assert run.ok, [step.output for step in run.all_steps()]
    assert ACTION in run.actions
    assert not run.step(INSTALL).ran  # skipped here: the tests already run from the package
    assert "| todo-frontend | 2/2 | 81.5% | scale_up 2→3 | scale 2→3: allowed → execute |" in (
        run.summary
    )
    assert "verified scale 2→3" in run.summary
    new = hosted.log()[: len(hosted.log()) - len(before)]
    assert new[-1] == "todo-frontend: scale 2→3 (allowed): weighted 81.5% > 80%"
    assert new[0].startswith("todo-frontend: verified scale 2→3")
    # The Action's outputs, for the workflow's later steps.
    assert run.outputs["reconcile"] == {
        "services-changed": '["todo-frontend"]',
        "proposals-opened": "[]",
        "needs-person": "false",
    }
    assert run.annotations == []
    _no_secret(run)


def test_the_pr_checks_classify_a_pull_request_and_comment(
    fleet: tuple[Hosted, Path], tmp_path: Path
) -> None:
    hosted, made = fleet
    base = git("rev-parse", "main", cwd=hosted.bare).strip()
    blueprint = (made / "blueprints/todo-frontend/blueprint.yaml").read_text()
    raised = blueprint.replace("max_replicas: 5", "max_replicas: 8")
    hosted.api.push_commit(
        "more-room", {"blueprints/todo-frontend/blueprint.yaml": raised}, "alice"
    )
    github = Github(auth=Auth.Token("alice-token"), base_url=hosted.api.url)
    pull = github.get_repo(REPOSITORY).create_pull(
        title="More room", body="", base="main", head="more-room"
    )
    github.close()
    event = {
        "pull_request": {
            "number": pull.number,
            "base": {"sha": base},
            "head": {"repo": {"full_name": REPOSITORY}, "sha": pull.head.sha, "ref": "more-room"},
        }
    }

    def checkout_merge(step: StepContext) -> None:
        """actions/checkout on a pull request: the merge of its head into the base."""
        assert str(step.with_["fetch-depth"]) == "0"
        header = f"http.extraheader={basic_header(BOT_TOKEN)}"
        url = hosted.server.url(REPOSITORY)
        git("-c", header, "clone", "-q", url, ".", cwd=step.workspace)
        git("-c", header, "fetch", "-q", "origin", "more-room", cwd=step.workspace)
        git("merge", "-q", "--no-ff", "--no-edit", "FETCH_HEAD", cwd=step.workspace)

    runner = _runner(
        hosted,
        made / ".github/workflows/pr-checks.yml",
        "pull_request",
        event=event,
        job="blueprints",
    )
    runner.uses = runner.uses | {"actions/checkout": checkout_merge}
    runner.github = runner.github | {"ref": f"refs/pull/{pull.number}/merge"}
    (run,) = runner.run()
    assert run.ok, [step.output for step in run.all_steps()]
    assert [s.name for s in run.all_steps() if s.ran] == [
        "Check out the pull request and its history",
        "Check the blueprints",
        "Set up Python",
        "Find the locks and the installer's cache",
        "Restore the installer's cache",
        "Validate the blueprints",
        "Classify the blueprint changes",
        "CODEOWNERS matches the approvers",
    ]
    assert "is up to date" in run.step("CODEOWNERS matches the approvers").output
    (comment,) = hosted.api.comments(pull.number)
    assert comment["user"]["login"] == "reconciler-bot"
    assert "scale_beyond_limits" in comment["body"]
    # The needs-approval finding is also a warning on the run's page.
    assert any(line.startswith("::warning") for line in run.annotations), run.annotations
    # The status a ruleset can require of every pull request: a person's gets it here.
    status = hosted.api.status(pull.head.sha, "reconciler/approval")
    assert status is not None and status["state"] == "success"
    assert status["description"].startswith("Not a proposal of the reconciler's")
