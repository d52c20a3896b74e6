"""check-change and codeowners through the CLI, on real git repositories and the fake GitHub."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result

from reconciler.core.review.findings import COMMENT_MARKER
from tests.conftest import REPO
from tests.fakes.github_api import FakeGitHub, init_bare_repo
from tests.github_setup import NAME, OWNER, open_pull, serving

Cli = Callable[..., Result]

FRONTEND = "blueprints/todo-frontend/blueprint.yaml"
BACKEND = "blueprints/todo-backend/blueprint.yaml"
BOT_TOKEN = "ghp_bot-token-0123456789abcdef"
ALICE_TOKEN = "alice-token"
#: Environment a test controls, whatever the machine running it has set.
QUIET = {
    "GITHUB_ACTIONS": None,
    "GITHUB_EVENT_PATH": None,
    "GITHUB_REPOSITORY": None,
    "GITHUB_API_URL": None,
    "GITHUB_TOKEN": None,
    "RECONCILER_GITHUB_TOKEN": None,
    "RECONCILER_REPO": None,
}


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Pat",
        "GIT_AUTHOR_EMAIL": "pat@example.com",
        "GIT_COMMITTER_NAME": "Pat",
        "GIT_COMMITTER_EMAIL": "pat@example.com",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    done = subprocess.run(
        ["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def edit(repo: Path, path: str, old: str, new: str) -> None:
    file = repo / path
    text = file.read_text()
    assert old in text, f"{old!r} is not in {path}"
    file.write_text(text.replace(old, new, 1))


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A clone-like repository: the shipped blueprints on main, and a branch `change`."""
    root = tmp_path / "repo"
    shutil.copytree(REPO / "blueprints", root / "blueprints")
    git(root, "init", "-q", "-b", "main")
    commit(root, "Blueprints")
    git(root, "checkout", "-q", "-b", "change")
    return root


@pytest.fixture
def run(cli: Cli, repo: Path) -> Callable[..., Result]:
    def invoke(*args: str, env: dict[str, str | None] | None = None) -> Result:
        return cli("--repo", str(repo), *args, env={**QUIET, **(env or {})})

    return invoke


def test_text_report_and_exit_0_when_the_change_needs_approval(run: Cli, repo: Path) -> None:
    edit(repo, FRONTEND, "max_replicas: 5", "max_replicas: 8")
    commit(repo, "Raise max_replicas")
    result = run("check-change", "main", "change")
    assert result.exit_code == 0, result.output
    header, *_ = result.stdout.splitlines()
    assert header.startswith("main (") and " → change (" in header
    row = next(line for line in result.stdout.splitlines() if line.startswith("todo-frontend"))
    assert row.split() == [
        "todo-frontend",
        "spec.scaling.max_replicas",
        "5",
        "→",
        "8",
        "bounds_widened",
        "requires_approval",
        "scale_beyond_limits",
        "devops-team",
    ]
    assert "approvers: devops-team (alice, alice@example.com, bob)" in result.stdout
    assert f"({FRONTEND}:10:5)" in result.stdout
    assert result.stdout.rstrip().endswith(
        "1 change: 0 allowed, 1 need approval, 0 forbidden, 0 invalid; the check passes"
    )


def test_json_and_exit_1_when_a_blueprint_is_deleted(run: Cli, repo: Path) -> None:
    git(repo, "rm", "-q", BACKEND)
    head = commit(repo, "Retire the backend")
    result = run("check-change", "main", "HEAD", "-o", "json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["head"] == {"revision": "HEAD", "commit": head}
    (finding,) = report["findings"]
    assert {k: finding[k] for k in ("service", "kind", "class", "operation", "rule")} == {
        "service": "todo-backend",
        "kind": "blueprint_deleted",
        "class": "forbidden",
        "operation": "delete_deployment",
        "rule": "global:governance.agent_authority.forbidden_operations[0]",
    }


REQUEST = "requests/todo-frontend/apr-20260210-153000-abc123.yaml"


def request_file(
    approval_id: str = "apr-20260210-153000-abc123", service: str = "todo-frontend"
) -> str:
    """A one-off request as the reconciler proposes it."""
    return (
        "# One-off operation; merging this file approves it, once.\n"
        "apiVersion: reconciler/v1\n"
        "kind: OperationRequest\n"
        f"id: {approval_id}\n"
        f"service: {service}\n"
        "operation: scale_beyond_limits\n"
        "current_replicas: 2\n"
        "target_replicas: 0\n"
    )


def add(repo: Path, path: str, text: str) -> None:
    file = repo / path
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(text)


def findings(result: Result) -> list[dict]:
    return json.loads(result.stdout)["findings"]  # type: ignore[no-any-return]


def only_finding(run: Cli) -> dict:
    """`check-change main change` as JSON, which must pass with exactly one finding."""
    result = run("check-change", "main", "change", "-o", "json")
    assert result.exit_code == 0, result.output
    (finding,) = findings(result)
    return finding


def test_a_change_to_the_audit_trail_is_forbidden(run: Cli, repo: Path) -> None:
    record = "audit/todo-backend/2026-02-10/153000-approval_granted-apr-forged-1.json"
    add(repo, record, '{"id": "apr-forged-1"}\n')
    commit(repo, "A record")
    result = run("check-change", "main", "change", "-o", "json", "--annotations")
    assert result.exit_code == 1
    (finding,) = findings(result)
    assert {k: finding[k] for k in ("service", "file", "kind", "class", "after")} == {
        "service": "todo-backend",
        "file": record,
        "kind": "audit_changed",
        "class": "forbidden",
        "after": "added",
    }
    assert "written only by the reconciler" in finding["reason"]
    assert f"::error file={record}," in result.stderr
    text = run("check-change", "main", "change")
    assert f"todo-backend {record} ({record}): forbidden" in text.stdout


def test_records_the_main_branch_gained_meanwhile_are_not_the_change(run: Cli, repo: Path) -> None:
    """Compared from the merge base, as GitHub lists a pull request's files: the reconciler's
    own records on main since the branch was made are not the pull request's doing."""
    edit(repo, FRONTEND, "scale_up_threshold: 80%", "scale_up_threshold: 75%")
    commit(repo, "Tune")
    git(repo, "checkout", "-q", "main")
    add(repo, "audit/todo-frontend/2026-02-10/153000-decision_made-dec-1.json", "{}\n")
    commit(repo, "A run")
    assert only_finding(run)["kind"] == "tuning"


APPROVERS_RULE = "governance.approval_workflow.approvers"


@pytest.mark.parametrize(
    ("path", "text", "kind", "rule", "why"),
    [
        pytest.param(
            REQUEST,
            request_file(),
            "request_proposed",
            APPROVERS_RULE,
            "a one-off request as the reconciler proposes it",
            id="proposed: the service's approvers",
        ),
        pytest.param(
            REQUEST,
            request_file("apr-other"),
            "request_changed",
            f"global:{APPROVERS_RULE}",
            "its id is not as proposed",
            id="wrong-id",
        ),
        pytest.param(
            REQUEST,
            "just: words\n",
            "request_changed",
            f"global:{APPROVERS_RULE}",
            "its apiVersion, kind, id, service are not as proposed",
            id="not-a-request",
        ),
        pytest.param(
            "requests/todo-web/apr-1.yaml",
            request_file("apr-1", "todo-web"),
            "request_changed",
            f"global:{APPROVERS_RULE}",
            "there is no service todo-web at BASE",
            id="unknown-service",
        ),
        pytest.param(
            "requests/todo-frontend/notes.txt",
            "hello\n",
            "request_changed",
            f"global:{APPROVERS_RULE}",
            "not at requests/<service>/",
            id="not-yaml",
        ),
    ],
)
def test_a_new_request_needs_the_approvers_its_origin_calls_for(
    run: Cli, repo: Path, path: str, text: str, kind: str, rule: str, why: str
) -> None:
    """One the reconciler proposed needs the service's approvers (here the global team, which
    todo-frontend inherits); any other request file needs the global approvers."""
    add(repo, path, text)
    commit(repo, "Request")
    finding = only_finding(run)
    assert (finding["kind"], finding["class"], finding["approvers"]) == (
        kind,
        "requires_approval",
        ["devops-team"],
    )
    assert finding["rule"] == rule
    assert why in finding["reason"]


@pytest.mark.parametrize("status", ["modified", "deleted"])
def test_changing_a_merged_request_needs_the_global_approvers(
    run: Cli, repo: Path, status: str
) -> None:
    git(repo, "checkout", "-q", "main")
    add(repo, REQUEST, request_file())
    commit(repo, "An approved request")
    git(repo, "checkout", "-q", "-B", "change")
    if status == "modified":
        edit(repo, REQUEST, "target_replicas: 0", "target_replicas: 40")
    else:
        git(repo, "rm", "-q", REQUEST)
    commit(repo, "Change it")
    finding = only_finding(run)
    assert (finding["kind"], finding["after"], finding["approvers"]) == (
        "request_changed",
        status,
        ["devops-team"],
    )
    assert f"an existing request file is {status}" in finding["reason"]


def test_any_revspec_and_nothing_is_checked_out(run: Cli, repo: Path) -> None:
    edit(repo, FRONTEND, "scale_up_threshold: 80%", "scale_up_threshold: 75%")
    commit(repo, "Tune")
    edit(repo, FRONTEND, "max_replicas: 5", "max_replicas: 4")
    commit(repo, "Narrow")
    git(repo, "checkout", "-q", "main")
    result = run("check-change", "change~1", "change", "-o", "json")
    assert result.exit_code == 0, result.output
    kinds = [(f["path"], f["kind"], f["class"]) for f in json.loads(result.stdout)["findings"]]
    assert kinds == [("spec.scaling.max_replicas", "bounds_narrowed", "allowed")]
    assert "max_replicas: 5" in (repo / FRONTEND).read_text()  # still main's working tree


def test_an_invalid_head_fails_with_file_line_and_column(run: Cli, repo: Path) -> None:
    edit(repo, FRONTEND, "max_replicas: 5", "max_replicas: 0")
    commit(repo, "Oops")
    result = run("check-change", "main", "change", "--annotations")
    assert result.exit_code == 1
    assert f"::error file={FRONTEND},line=10,col=5," in result.stdout
    assert f"({FRONTEND}:10:5): invalid" in result.stdout
    assert "the check fails" in result.stdout


def test_annotations_on_actions_warn_about_approval(run: Cli, repo: Path) -> None:
    edit(repo, FRONTEND, "max_replicas: 5", "max_replicas: 8")
    commit(repo, "Raise")
    result = run("check-change", "main", "change", env={"GITHUB_ACTIONS": "true"})
    assert result.exit_code == 0
    (annotation,) = [line for line in result.stdout.splitlines() if line.startswith("::")]
    assert annotation.startswith(
        f"::warning file={FRONTEND},line=10,col=5,title=spec.scaling.max_replicas::"
    )
    assert annotation.endswith("(fix: merging needs approval by devops-team)")


def test_markdown_file_for_a_comment(run: Cli, repo: Path) -> None:
    edit(
        repo,
        FRONTEND,
        "    scale_down_threshold: 40%\n",
        "    scale_down_threshold: 40%\n    cooldown_period: 2m\n",
    )
    commit(repo, "Slower")
    out = repo.parent / "comment.md"
    result = run("check-change", "main", "change", "--markdown", str(out))
    assert result.exit_code == 0
    body = out.read_text()
    assert body.startswith(COMMENT_MARKER)
    assert "✅ Blueprint check passes: every change is allowed" in body
    assert "| ✅ | todo-frontend | `spec.scaling.cooldown_period` | 1m → 2m | tuning |" in body


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nope", "change"), "revision 'nope' is not in the repository"),
        (("main", "change~5"), "revision 'change~5' is not in the repository"),
        (("main", "a..b"), "revision 'a..b' cannot be read"),
    ],
)
def test_a_bad_revision_is_exit_3_naming_it(run: Cli, args: tuple[str, str], message: str) -> None:
    result = run("check-change", *args)
    assert result.exit_code == 3
    assert message in result.stderr
    assert "hint: check the name with `git rev-parse" in result.stderr
    assert "Traceback" not in result.output


def test_not_a_repository_is_exit_3(cli: Cli, blueprint_repo: Path) -> None:
    result = cli("--repo", str(blueprint_repo), "check-change", "main", "HEAD", env=QUIET)
    assert result.exit_code == 3
    assert "is not inside a git repository" in result.stderr


# ---------------------------------------------------------------------------------------------
# --comment, against the fake GitHub


@pytest.fixture
def api(tmp_path: Path) -> Iterator[FakeGitHub]:
    bare = tmp_path / "origin.git"
    init_bare_repo(bare, {"README.md": "# blueprints\n"})
    with serving(bare) as fake:
        fake.add_user("reconciler-bot", BOT_TOKEN)
        fake.add_user("alice", ALICE_TOKEN)
        assert open_pull(fake, "Raise", ALICE_TOKEN) == 1
        fake.comment(1, "alice", "looks fine to me")
        yield fake


def github_env(api: FakeGitHub, **extra: str) -> dict[str, str | None]:
    return {
        "GITHUB_TOKEN": BOT_TOKEN,
        "GITHUB_REPOSITORY": f"{OWNER}/{NAME}",
        "GITHUB_API_URL": api.url,
        **extra,
    }


def ours(api: FakeGitHub) -> list[dict[str, object]]:
    return [c for c in api.comments(1) if str(c["body"]).startswith(COMMENT_MARKER)]


def test_comment_is_created_once_then_updated_in_place(
    run: Cli, repo: Path, api: FakeGitHub
) -> None:
    edit(repo, FRONTEND, "max_replicas: 5", "max_replicas: 8")
    commit(repo, "Raise")
    first = run("check-change", "main", "change", "--comment", "--pr", "1", env=github_env(api))
    assert first.exit_code == 0, first.output
    assert "comment on pull request #1 created" in first.stderr
    (comment,) = ours(api)
    assert "5 → 8" in str(comment["body"])
    assert api.count("POST", f"/repos/{OWNER}/{NAME}/issues/1/comments") == 1

    git(repo, "rm", "-q", BACKEND)
    commit(repo, "And retire the backend")
    api.reset_log()
    second = run("check-change", "main", "change", "--comment", "--pr", "1", env=github_env(api))
    assert second.exit_code == 1
    assert "comment on pull request #1 updated" in second.stderr
    (updated,) = ours(api)
    assert updated["id"] == comment["id"]
    assert "❌ Blueprint check fails" in str(updated["body"])
    assert [(r.method, r.path) for r in api.writes()] == [
        ("PATCH", f"/repos/{OWNER}/{NAME}/issues/comments/{comment['id']}")
    ]
    assert len(api.comments(1)) == 2  # alice's and ours

    api.reset_log()
    third = run("check-change", "main", "change", "--comment", "--pr", "1", env=github_env(api))
    assert "comment on pull request #1 unchanged" in third.stderr
    assert api.writes() == []
    for result in (first, second, third):
        assert BOT_TOKEN not in result.output


def test_comment_takes_the_pull_request_from_the_event_file(
    run: Cli, repo: Path, api: FakeGitHub, tmp_path: Path
) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"action": "synchronize", "pull_request": {"number": 1}}))
    result = run(
        "check-change",
        "main",
        "change",
        "--comment",
        env=github_env(api, GITHUB_EVENT_PATH=str(event)),
    )
    assert result.exit_code == 0, result.output
    (comment,) = ours(api)
    assert "no change to what the blueprints allow" in str(comment["body"])


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("GITHUB_TOKEN", "--comment needs a token"),
        ("GITHUB_REPOSITORY", "--comment needs the repository"),
        ("pr", "--comment needs the pull request's number"),
    ],
)
def test_comment_settings_are_checked_first(
    run: Cli, api: FakeGitHub, missing: str, message: str
) -> None:
    env = github_env(api)
    args = ["check-change", "main", "nope", "--comment"]  # a bad revision: never reached
    if missing != "pr":
        env[missing] = None
        args += ["--pr", "1"]
    api.reset_log()
    result = run(*args, env=env)
    assert result.exit_code == 3
    assert message in result.stderr
    assert api.requests == []


def test_github_refusing_the_comment_is_exit_4_without_the_token(run: Cli, api: FakeGitHub) -> None:
    env = github_env(api, GITHUB_TOKEN="ghp_wrong-token-0000")
    result = run("check-change", "main", "change", "--comment", "--pr", "1", env=env)
    assert result.exit_code == 4
    assert "reading the comments of pull request #1" in result.stderr
    assert "GitHub answered 401" in result.stderr
    assert "ghp_wrong-token-0000" not in result.output


def _event(tmp_path: Path, payload: dict[str, object]) -> str:
    event = tmp_path / "event.json"
    event.write_text(json.dumps(payload))
    return str(event)


def test_status_on_a_persons_pull_request_says_what_the_check_found(
    run: Cli, repo: Path, api: FakeGitHub, tmp_path: Path
) -> None:
    """The ruleset can require reconciler/approval of every pull request: a person's gets it
    from the checks, the reconciler's proposals from the reconciler."""
    head = api.pull(1)["head"]
    event = _event(tmp_path, {"pull_request": {"number": 1, "head": head}})
    env = github_env(
        api, GITHUB_EVENT_PATH=event, GITHUB_RUN_ID="31", GITHUB_SERVER_URL="https://github.com"
    )
    edit(repo, FRONTEND, "max_replicas: 5", "max_replicas: 8")
    commit(repo, "Raise")
    ok = run("check-change", "main", "change", "--status", env=env)
    assert ok.exit_code == 0, ok.output
    status = api.status(head["sha"], "reconciler/approval")
    assert status is not None and status["state"] == "success"
    assert status["description"] == (
        "Not a proposal of the reconciler's: the blueprint changes were checked; 1 need code "
        "owners' approval"
    )
    assert status["target_url"] == f"https://github.com/{OWNER}/{NAME}/actions/runs/31"
    git(repo, "rm", "-q", BACKEND)
    commit(repo, "And retire the backend")
    failed = run("check-change", "main", "change", "--status", env=env)
    assert failed.exit_code == 1
    assert api.status(head["sha"], "reconciler/approval")["state"] == "failure"  # type: ignore[index]


def test_status_leaves_the_reconcilers_proposals_alone_and_covers_the_merge_queue(
    run: Cli, api: FakeGitHub, tmp_path: Path
) -> None:
    head = api.pull(1)["head"]
    proposal = {
        "pull_request": {"number": 1, "head": {"sha": head["sha"], "ref": "reconciler/web/x"}}
    }
    api.reset_log()
    skipped = run(
        "check-change", "main", "change", "--status",
        env=github_env(api, GITHUB_EVENT_PATH=_event(tmp_path, proposal)),
    )  # fmt: skip
    assert skipped.exit_code == 0
    assert "the status of reconciler/web/x is the reconciler's" in skipped.stderr
    assert api.requests == []
    queue = {"merge_group": {"head_sha": head["sha"], "head_ref": "gh-readonly-queue/main/pr-1"}}
    queued = run(
        "check-change", "main", "change", "--status",
        env=github_env(api, GITHUB_EVENT_PATH=_event(tmp_path, queue)),
    )  # fmt: skip
    assert queued.exit_code == 0, queued.output
    assert api.status(head["sha"], "reconciler/approval")["state"] == "success"  # type: ignore[index]


# ---------------------------------------------------------------------------------------------
# codeowners


def test_codeowners_prints_the_approvers_of_each_path(run: Cli) -> None:
    result = run("codeowners", env={"GITHUB_REPOSITORY": "acme/service-blueprints"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split() for line in lines[1:-1]] == [
        ["/blueprints/", "@acme/devops-team"],
        ["/requests/", "@acme/devops-team"],
        ["/blueprints/todo-backend/", "@backend-team", "@acme/devops-team"],
        ["/requests/todo-backend/", "@backend-team", "@acme/devops-team"],
        ["/blueprints/todo-frontend/", "@acme/devops-team"],
        ["/requests/todo-frontend/", "@acme/devops-team"],
        ["/blueprints/governance/", "@acme/devops-team"],
        ["/blueprints/schema.json", "@acme/devops-team"],
        ["/.github/", "@acme/devops-team"],
        ["/audit/", "@acme/devops-team"],
    ]
    assert lines[0].startswith("# BEGIN reconciler codeowners")
    assert lines[-1] == "# END reconciler codeowners"


def test_codeowners_write_then_check_round_trip(run: Cli, repo: Path) -> None:
    owners = repo / ".github" / "CODEOWNERS"
    owners.parent.mkdir()
    owners.write_text("# hand-written\n*.md @acme/docs\n")

    stale = run("codeowners", "--org", "acme", "--check")
    assert stale.exit_code == 1
    assert "+/blueprints/todo-frontend/  @acme/devops-team" in stale.stdout
    assert "out of date; run `reconciler codeowners --write`" in stale.stderr

    written = run("codeowners", "--org", "acme", "--write")
    assert written.exit_code == 0
    text = owners.read_text()
    assert text.startswith("# hand-written\n*.md @acme/docs\n\n# BEGIN reconciler codeowners")
    assert run("codeowners", "--org", "acme", "--check").exit_code == 0

    # A new approver in a blueprint makes the file stale again; --write replaces the block only.
    edit(
        repo,
        FRONTEND,
        "        autonomous: true\n",
        "        autonomous: true\n  approval_workflow:\n    approvers: [acme/web, carol]\n",
    )
    assert run("codeowners", "--org", "acme", "--check").exit_code == 1
    assert run("codeowners", "--org", "acme", "--write").exit_code == 0
    again = owners.read_text()
    assert again.count("# BEGIN reconciler codeowners") == 1
    assert "*.md @acme/docs" in again
    assert "/blueprints/todo-frontend/  @acme/web @carol\n" in again
    assert run("codeowners", "--org", "acme", "--check").exit_code == 0


def test_codeowners_skips_a_broken_blueprint_and_names_it(run: Cli, repo: Path) -> None:
    edit(repo, BACKEND, "    approvers: [backend-team, devops-team]", "    approvers: backend-team")
    result = run("codeowners", "--org", "acme")
    assert result.exit_code == 0
    assert "skipped: blueprints/todo-backend/blueprint.yaml:" in result.stderr
    assert "governance.approval_workflow.approvers" in result.stderr
    assert "/blueprints/todo-frontend/" in result.stdout
    assert "/blueprints/todo-backend/" not in result.stdout


def test_codeowners_needs_an_org_for_a_team(run: Cli, repo: Path) -> None:
    result = run("codeowners", "--write")
    assert result.exit_code == 3
    assert "devops-team is a team (governance.teams)" in result.stderr
    assert not (repo / ".github" / "CODEOWNERS").exists()


def test_blueprints_in_a_subdirectory_of_the_repository(cli: Cli, tmp_path: Path) -> None:
    top = tmp_path / "monorepo"
    shutil.copytree(REPO / "blueprints", top / "platform" / "blueprints")
    git(top, "init", "-q", "-b", "main")
    commit(top, "Blueprints")
    edit(top, f"platform/{FRONTEND}", "max_replicas: 5", "max_replicas: 6")
    commit(top, "Raise")
    result = cli(
        "--repo",
        str(top / "platform"),
        "check-change",
        "HEAD~1",
        "HEAD",
        "--annotations",
        env=QUIET,
    )
    assert result.exit_code == 0, result.output
    assert f"::warning file=platform/{FRONTEND},line=10,col=5," in result.stdout
    assert f"({FRONTEND}:10:5): requires_approval" in result.stdout


def test_the_audit_trail_beside_blueprints_in_a_subdirectory(cli: Cli, tmp_path: Path) -> None:
    top = tmp_path / "monorepo"
    shutil.copytree(REPO / "blueprints", top / "platform" / "blueprints")
    git(top, "init", "-q", "-b", "main")
    commit(top, "Blueprints")
    add(top, "audit/not-the-trail.json", "{}\n")  # outside the blueprint repository
    add(top, "platform/audit/todo-frontend/2026-02-10/153000-x-1.json", "{}\n")
    commit(top, "Records")
    result = cli("--repo", str(top / "platform"), "check-change", "HEAD~1", "HEAD", env=QUIET)
    assert result.exit_code == 1, result.output
    record = "audit/todo-frontend/2026-02-10/153000-x-1.json"
    assert f"todo-frontend {record} ({record}): forbidden" in result.stdout
    assert "not-the-trail" not in result.stdout
