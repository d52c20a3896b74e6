"""The fake GitHub API, exercised through the real PyGithub client and a real `git clone`."""

from __future__ import annotations

import gc
import os
import re
import subprocess
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from github import (
    Auth,
    BadCredentialsException,
    Github,
    GithubException,
    GithubRetry,
    InputGitTreeElement,
    RateLimitExceededException,
    UnknownObjectException,
)
from github.Repository import Repository

from tests.fakes.github_api import FakeGitHub, init_bare_repo
from tests.github_setup import ALICE, BOB, BOT, add_people, serving

FULL_NAME = "acme/service-blueprints"
TOKENS = {BOT: "bot-token", ALICE: "alice-token", BOB: "bob-token"}
SEED = {
    "README.md": "# Service blueprints\n",
    "blueprints/web/blueprint.yaml": "replicas: 1\nimage: web:1.0\n",
}

PULL_FIELDS = frozenset(
    (
        "url",
        "issue_url",
        "html_url",
        "number",
        "state",
        "title",
        "body",
        "user",
        "labels",
        "merged",
        "merged_at",
        "merged_by",
        "merge_commit_sha",
        "mergeable",
        "draft",
        "created_at",
        "updated_at",
        "closed_at",
        "requested_reviewers",
        "requested_teams",
    )
)

MakeClient = Callable[..., Github]


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    path = tmp_path / "origin.git"
    init_bare_repo(path, SEED)
    return path


@pytest.fixture
def api(bare: Path) -> Iterator[FakeGitHub]:
    with serving(bare) as fake:
        add_people(fake, TOKENS)
        yield fake


@pytest.fixture
def client(api: FakeGitHub) -> Iterator[MakeClient]:
    """Real PyGithub clients (closed at teardown, so no socket is left for the GC to warn about)."""
    made: list[Github] = []

    def make(login: str = BOT, *, token: str | None = None, **overrides: object) -> Github:
        settings: dict[str, object] = {
            "retry": None,
            "seconds_between_requests": 0,
            "seconds_between_writes": 0,
            "timeout": 5,
        }
        settings.update(overrides)
        gh = Github(
            base_url=api.url,
            auth=Auth.Token(token or TOKENS[login]),
            **settings,  # type: ignore[arg-type]
        )
        made.append(gh)
        return gh

    yield make
    for gh in made:
        gh.close()


@pytest.fixture
def repo(client: MakeClient) -> Repository:
    return client().get_repo(FULL_NAME)


def git(*args: str, cwd: Path | None = None) -> str:
    """Run git with a throw-away identity and no user or system configuration."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Bob Builder",
        "GIT_AUTHOR_EMAIL": "bob@example.com",
        "GIT_COMMITTER_NAME": "Bob Builder",
        "GIT_COMMITTER_EMAIL": "bob@example.com",
    }
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    )
    return done.stdout


def clone(api: FakeGitHub, dest: Path) -> Path:
    git("clone", "-q", str(api.bare_repo_path), str(dest))
    return dest


def commit_via_git_data(
    repo: Repository, branch: str, files: Mapping[str, str | None], message: str
) -> str:
    """What the adapter does: blob, tree on top of main, commit, then a new branch ref."""
    main = repo.get_git_ref(f"heads/{repo.default_branch}")
    parent = repo.get_git_commit(main.object.sha)
    elements = []
    for path, text in files.items():
        if text is None:
            elements.append(InputGitTreeElement(path, "100644", "blob", sha=None))
        else:
            blob = repo.create_git_blob(text, "utf-8")
            elements.append(InputGitTreeElement(path, "100644", "blob", sha=blob.sha))
    tree = repo.create_git_tree(elements, base_tree=parent.tree)
    commit = repo.create_git_commit(message, tree, [parent])
    repo.create_git_ref(f"refs/heads/{branch}", commit.sha)
    return commit.sha


# --------------------------------------------------------------------------------------------


def test_repository_user_and_rate_limit_shapes(api: FakeGitHub, client: MakeClient) -> None:
    gh = client()
    repo = gh.get_repo(FULL_NAME)
    assert (repo.full_name, repo.default_branch, repo.private) == (FULL_NAME, "main", True)
    assert repo.owner.login == "acme"
    assert repo.permissions.push is True
    assert repo.url == f"{api.url}/repos/{FULL_NAME}"
    assert gh.get_user().login == BOT
    limits = gh.get_rate_limit()
    assert limits.resources.core.limit == 5000
    assert gh.rate_limiting[1] == 5000

    headers, _ = gh.requester.requestJsonAndCheck("GET", f"/repos/{FULL_NAME}")
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert int(headers["x-ratelimit-remaining"]) < 5000
    assert headers["x-github-request-id"]
    assert headers["etag"].startswith('W/"')


def test_branch_pull_request_review_and_human_merge(
    api: FakeGitHub, client: MakeClient, repo: Repository, tmp_path: Path
) -> None:
    main_before = api.branch_sha("main")
    head_sha = commit_via_git_data(
        repo,
        "reconcile/web",
        {"blueprints/web/blueprint.yaml": "replicas: 3\nimage: web:1.0\n"},
        "Scale web to 3 replicas",
    )
    pr = repo.create_pull(base="main", head="reconcile/web", title="Scale web", body="Plan")
    assert (pr.number, pr.state, pr.head.sha, pr.head.ref) == (1, "open", head_sha, "reconcile/web")
    assert pr.base.sha == main_before
    assert pr.user.login == BOT
    assert pr.mergeable is True

    with pytest.raises(GithubException) as duplicate:
        repo.create_pull(base="main", head="acme:reconcile/web", title="Again")
    assert duplicate.value.status == 422
    assert duplicate.value.data["message"] == "Validation Failed"
    assert duplicate.value.data["errors"] == [
        {
            "resource": "PullRequest",
            "code": "custom",
            "message": "A pull request already exists for acme:reconcile/web.",
        }
    ]

    pr.edit(title="Scale web to 3 replicas", body="Plan v2")
    pr.add_to_labels("reconciler", "needs-approval")
    pr.remove_from_labels("reconciler")
    pr.create_review_request(reviewers=[ALICE], team_reviewers=["platform"])
    pr.create_issue_comment("Plan attached")

    fresh = repo.get_pull(1)
    assert (fresh.title, fresh.body) == ("Scale web to 3 replicas", "Plan v2")
    assert [label.name for label in fresh.labels] == ["needs-approval"]
    assert [u.login for u in fresh.requested_reviewers] == [ALICE]
    assert [t.slug for t in fresh.requested_teams] == ["platform"]
    assert [c.body for c in fresh.get_issue_comments()] == ["Plan attached"]
    assert [c.sha for c in fresh.get_commits()] == [head_sha]
    [changed] = fresh.get_files()
    assert (changed.filename, changed.status, changed.additions, changed.deletions) == (
        "blueprints/web/blueprint.yaml",
        "modified",
        1,
        1,
    )
    assert fresh.as_issue().comments == 1

    with pytest.raises(GithubException) as own:
        fresh.create_review(event="APPROVE")
    assert own.value.status == 422
    client(ALICE).get_repo(FULL_NAME).get_pull(1).create_review(event="APPROVE", body="LGTM")
    assert [(r.user.login, r.state) for r in fresh.get_reviews()] == [(ALICE, "APPROVED")]
    assert api.pull(1)["requested_reviewers"] == []

    api.comment(1, ALICE, "/approve")
    assert [(c.user.login, c.body) for c in fresh.get_issue_comments()] == [
        (BOT, "Plan attached"),
        (ALICE, "/approve"),
    ]
    assert [c["body"] for c in api.comments(1)] == ["Plan attached", "/approve"]

    merge_sha = api.merge_pull(1, ALICE)
    pr.update()
    assert (pr.state, pr.merged, pr.merged_by.login) == ("closed", True, ALICE)
    assert pr.merge_commit_sha == merge_sha
    assert pr.merged_at is not None and pr.closed_at is not None
    assert pr.is_merged()

    work = clone(api, tmp_path / "clone")
    fields = git("log", "-1", "--format=%H%n%P%n%cn%n%ce%n%s", cwd=work).splitlines()
    assert fields == [
        merge_sha,
        f"{main_before} {head_sha}",
        "Alice Approver",
        "alice@example.com",
        "Merge pull request #1 from acme/reconcile/web",
    ]
    yaml = (work / "blueprints/web/blueprint.yaml").read_text()
    assert yaml == "replicas: 3\nimage: web:1.0\n"
    assert repo.get_commit(merge_sha).committer.login == ALICE

    stored = api.pull(1)
    assert not PULL_FIELDS - stored.keys()
    assert {"ref", "sha", "label", "repo", "user"} <= stored["head"].keys()
    assert {"ref", "sha", "label", "repo"} <= stored["base"].keys()
    assert stored["merged_by"]["login"] == ALICE
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", stored["merged_at"])


def test_list_pulls_filters_by_head_and_paginates(api: FakeGitHub, client: MakeClient) -> None:
    gh = client(per_page=2)
    repo = gh.get_repo(FULL_NAME)
    for i in range(5):
        api.push_commit(f"change-{i}", {f"blueprints/app{i}/blueprint.yaml": "x: 1\n"}, BOT)
        repo.create_pull(base="main", head=f"acme:change-{i}", title=f"Change {i}")

    api.reset_log()
    assert [p.number for p in repo.get_pulls(state="open")] == [5, 4, 3, 2, 1]
    pages = [r.query.get("page") for r in api.requests if r.path.endswith("/pulls")]
    assert pages == [None, "2", "3"]
    asc = repo.get_pulls(state="all", sort="created", direction="asc")
    assert [p.number for p in asc] == [1, 2, 3, 4, 5]
    assert repo.get_pulls(state="open").totalCount == 5

    [only] = repo.get_pulls(state="all", head="acme:change-3")
    assert (only.number, only.head.ref) == (4, "change-3")
    assert list(repo.get_pulls(head="other-org:change-3")) == []
    # As on GitHub, a head filter without the "owner:" prefix is silently ignored.
    assert len(list(repo.get_pulls(head="change-3"))) == 5
    assert len(list(repo.get_pulls(base="main"))) == 5

    headers, data = gh.requester.requestJsonAndCheck(
        "GET", f"/repos/{FULL_NAME}/pulls", parameters={"per_page": 2, "page": 2}
    )
    assert [p["number"] for p in data] == [3, 2]
    base = f"{api.url}/repos/{FULL_NAME}/pulls?per_page=2"
    assert headers["link"] == (
        f'<{base}&page=1>; rel="prev", <{base}&page=3>; rel="next", '
        f'<{base}&page=3>; rel="last", <{base}&page=1>; rel="first"'
    )
    assert "merged" not in data[0]  # the list endpoint sends the short shape, as GitHub does

    # Lazy completion: reading a field the list shape lacks costs one GET of the pull request.
    api.reset_log()
    listed = next(iter(repo.get_pulls(state="open")))
    assert listed.merged is False
    assert [r.path for r in api.requests] == [
        f"/repos/{FULL_NAME}/pulls",
        f"/repos/{FULL_NAME}/pulls/5",
    ]

    for i in range(5):
        api.comment(1, BOB, f"comment {i}")
    assert [c.body for c in repo.get_pull(1).get_issue_comments()] == [
        f"comment {i}" for i in range(5)
    ]


def test_close_unmerged_and_delete_branch(
    api: FakeGitHub, repo: Repository, tmp_path: Path
) -> None:
    api.push_commit("feature/x", {"notes.txt": "hello\n"}, BOB, "Add notes")
    pr = repo.create_pull(base="main", head="feature/x", title="Notes")
    pr.edit(state="closed")
    assert (pr.state, pr.merged) == ("closed", False)
    assert not pr.is_merged()

    repo.get_git_ref("heads/feature/x").delete()
    assert api.branch_sha("feature/x") is None
    heads = git("ls-remote", "--heads", str(api.bare_repo_path))
    assert "feature/x" not in heads
    with pytest.raises(GithubException) as reopen:
        pr.edit(state="open")
    assert reopen.value.status == 422
    assert [p["state"] for p in api.pulls()] == ["closed"]


def test_deleting_or_resetting_the_head_branch_closes_the_pull_request(
    api: FakeGitHub, repo: Repository
) -> None:
    api.push_commit("doomed", {"x.txt": "x\n"}, BOB)
    deleted = repo.create_pull(base="main", head="doomed", title="Doomed")
    repo.get_git_ref("heads/doomed").delete()
    deleted.update()
    assert (deleted.state, deleted.merged) == ("closed", False)

    # Force-pushing the head back onto main leaves no commits: GitHub closes, not merges.
    api.push_commit("reset", {"y.txt": "y\n"}, BOB)
    reset = repo.create_pull(base="main", head="reset", title="Reset")
    repo.get_git_ref("heads/reset").edit(api.branch_sha("main") or "", force=True)
    reset.update()
    assert (reset.state, reset.merged) == ("closed", False)
    assert api.count("PATCH") == 1


def test_human_push_moves_head_sha_and_guards_the_merge(
    api: FakeGitHub, repo: Repository, tmp_path: Path
) -> None:
    main_before = api.branch_sha("main")
    first = commit_via_git_data(repo, "reconcile/db", {"db.yaml": "size: small\n"}, "Add db")
    pr = repo.create_pull(base="main", head="reconcile/db", title="Add db")
    second = api.push_commit("reconcile/db", {"db.yaml": "size: large\n"}, BOB, "Bigger db")
    pr.update()
    assert pr.head.sha == second != first
    assert [c.sha for c in pr.get_commits()] == [first, second]

    with pytest.raises(GithubException) as moved:
        pr.merge(sha=first)
    assert moved.value.status == 409

    status = pr.merge(sha=second, merge_method="squash")
    assert status.merged and status.message == "Pull Request successfully merged"
    squashed = repo.get_git_commit(status.sha)
    assert [p.sha for p in squashed.parents] == [main_before]
    assert api.branch_sha("main") == status.sha
    assert squashed.message.startswith("Add db (#1)")
    assert api.read_file("main", "db.yaml") == "size: large\n"
    assert repo.get_commit(status.sha).committer.login == BOT

    with pytest.raises(GithubException) as again:
        pr.merge()
    assert (again.value.status, again.value.data["message"]) == (
        405,
        "Pull Request is not mergeable",
    )


def test_conflicting_pull_request_is_not_mergeable(api: FakeGitHub, repo: Repository) -> None:
    path = "blueprints/web/blueprint.yaml"
    commit_via_git_data(repo, "scale", {path: "replicas: 5\nimage: web:1.0\n"}, "Scale")
    pr = repo.create_pull(base="main", head="scale", title="Scale")
    api.push_commit("main", {path: "replicas: 2\nimage: web:1.0\n"}, ALICE, "Hotfix")
    pr = repo.get_pull(pr.number)
    assert (pr.mergeable, pr.mergeable_state) == (False, "dirty")
    with pytest.raises(GithubException) as refused:
        pr.merge()
    assert refused.value.status == 405


def test_pull_request_needs_commits_beyond_base(api: FakeGitHub, repo: Repository) -> None:
    repo.create_git_ref("refs/heads/empty", api.branch_sha("main") or "")
    with pytest.raises(GithubException) as empty:
        repo.create_pull(base="main", head="empty", title="Nothing")
    assert empty.value.status == 422
    assert empty.value.data["errors"][0]["message"] == "No commits between main and empty"
    with pytest.raises(GithubException) as missing:
        repo.create_pull(base="main", head="no-such-branch", title="Nothing")
    assert missing.value.data["errors"][0]["field"] == "head"


def test_git_pushes_to_the_bare_repo_are_seen_by_the_api(
    api: FakeGitHub, repo: Repository, tmp_path: Path
) -> None:
    work = clone(api, tmp_path / "work")
    git("checkout", "-q", "-b", "hand-made", cwd=work)
    (work / "blueprints/web/blueprint.yaml").write_text("replicas: 7\nimage: web:1.0\n")
    git("commit", "-q", "-am", "Seven replicas", cwd=work)
    git("push", "-q", "origin", "hand-made", cwd=work)
    pushed = git("rev-parse", "HEAD", cwd=work).strip()

    assert repo.get_branch("hand-made").commit.sha == pushed
    pr = repo.create_pull(base="main", head="hand-made", title="Seven")
    commit = repo.get_commit(pushed)
    assert (commit.author.login, commit.commit.message) == (BOB, "Seven replicas")

    (work / "README.md").write_text("# Updated\n")
    git("commit", "-q", "-am", "Readme", cwd=work)
    git("push", "-q", "origin", "hand-made", cwd=work)
    assert repo.get_pull(pr.number).head.sha == git("rev-parse", "HEAD", cwd=work).strip()

    # Merging by hand and pushing main marks the pull request merged, as GitHub does.
    git("checkout", "-q", "main", cwd=work)
    git("merge", "-q", "--no-ff", "-m", "Merge by hand", "hand-made", cwd=work)
    git("push", "-q", "origin", "main", cwd=work)
    merged = repo.get_pull(pr.number)
    assert (merged.state, merged.merged) == ("closed", True)


def test_git_refs_fast_forward_and_matching(api: FakeGitHub, repo: Repository) -> None:
    main_sha = api.branch_sha("main") or ""
    ref = repo.create_git_ref("refs/heads/deploy", main_sha)
    assert (ref.ref, ref.object.sha) == ("refs/heads/deploy", main_sha)
    with pytest.raises(GithubException) as exists:
        repo.create_git_ref("refs/heads/deploy", main_sha)
    assert (exists.value.status, exists.value.data["message"]) == (422, "Reference already exists")

    ahead = api.push_commit("deploy", {"a.txt": "a\n"}, BOB)
    sideways = api.push_commit("side", {"b.txt": "b\n"}, BOB)
    ref = repo.get_git_ref("heads/deploy")
    assert ref.object.sha == ahead
    with pytest.raises(GithubException) as not_ff:
        ref.edit(sideways)
    assert not_ff.value.data["message"] == "Update is not a fast forward"
    ref.edit(sideways, force=True)
    assert api.branch_sha("deploy") == sideways

    names = [r.ref for r in repo.get_git_matching_refs("heads/")]
    assert names == ["refs/heads/deploy", "refs/heads/main", "refs/heads/side"]
    assert [r.ref for r in repo.get_git_matching_refs("heads/nope")] == []
    with pytest.raises(UnknownObjectException):
        repo.get_git_ref("heads/nope")


def test_trees_blobs_and_contents(api: FakeGitHub, repo: Repository) -> None:
    main = repo.get_git_commit(api.branch_sha("main") or "")
    encoded = repo.create_git_blob("YmluYXJ5AA==", "base64")
    assert repo.get_git_blob(encoded.sha).content.replace("\n", "") == "YmluYXJ5AA=="
    tree = repo.create_git_tree(
        [
            InputGitTreeElement("blueprints/api/blueprint.yaml", "100644", "blob", content="a\n"),
            InputGitTreeElement("blueprints/api/data.bin", "100644", "blob", sha=encoded.sha),
            InputGitTreeElement("blueprints/web/blueprint.yaml", "100644", "blob", sha=None),
        ],
        base_tree=main.tree,
    )
    paths = {e.path: e.type for e in repo.get_git_tree(tree.sha, recursive=True).tree}
    assert paths == {
        "README.md": "blob",
        "blueprints": "tree",
        "blueprints/api": "tree",
        "blueprints/api/blueprint.yaml": "blob",
        "blueprints/api/data.bin": "blob",
    }
    commit = repo.create_git_commit("Replace web by api", tree, [main])
    assert commit.author.name == BOT
    repo.get_git_ref("heads/main").edit(commit.sha)

    content = repo.get_contents("blueprints/api/blueprint.yaml", ref="main")
    assert content.decoded_content == b"a\n"
    listing = repo.get_contents("blueprints", ref="main")
    assert [(c.name, c.type) for c in listing] == [("api", "dir")]
    with pytest.raises(UnknownObjectException):
        repo.get_contents("blueprints/web/blueprint.yaml", ref="main")

    updated = repo.update_file("README.md", "Docs", "# New\n", repo.get_contents("README.md").sha)
    assert api.read_file("main", "README.md") == "# New\n"
    assert updated["commit"].sha == api.branch_sha("main")
    with pytest.raises(GithubException) as stale:
        repo.update_file("README.md", "Docs", "# Newer\n", content.sha)
    assert stale.value.status == 409


def test_team_membership(api: FakeGitHub, client: MakeClient) -> None:
    gh = client()
    team = gh.get_organization("acme").get_team_by_slug("platform")
    membership = team.get_team_membership(ALICE)
    assert (membership.state, membership.role) == ("active", "member")
    with pytest.raises(UnknownObjectException):
        team.get_team_membership(BOB)
    assert team.has_in_members(gh.get_user(ALICE))
    assert [m.login for m in team.get_members()] == [ALICE]

    status, _, _ = gh.requester.requestJson("GET", f"/orgs/acme/teams/platform/memberships/{BOB}")
    assert status == 404
    with pytest.raises(UnknownObjectException):
        gh.get_organization("acme").get_team_by_slug("nobody")


def test_an_invited_member_is_pending_and_listed_nowhere(
    api: FakeGitHub, client: MakeClient
) -> None:
    api.add_team("acme", "platform", [ALICE], pending=[BOB])
    gh = client()
    team = gh.get_organization("acme").get_team_by_slug("platform")
    membership = team.get_team_membership(BOB)
    assert (membership.state, membership.role) == ("pending", "member")
    assert team.get_team_membership(ALICE).state == "active"
    assert [m.login for m in team.get_members()] == [ALICE]
    assert not team.has_in_members(gh.get_user(BOB))


def test_rate_limit_403_surfaces_with_github_headers(api: FakeGitHub, repo: Repository) -> None:
    api.fail("GET", r"/pulls$", 403)
    with pytest.raises(RateLimitExceededException) as limited:
        list(repo.get_pulls())
    assert limited.value.status == 403
    assert limited.value.data["message"] == "API rate limit exceeded for user ID 1."
    headers = limited.value.headers
    assert headers["x-ratelimit-remaining"] == "0"
    assert headers["x-ratelimit-limit"] == "5000"
    assert int(headers["x-ratelimit-reset"]) > time.time()
    assert headers["retry-after"] == "60"
    assert list(repo.get_pulls()) == []  # the failure was injected once

    api.fail_rate_limit("POST", r"/git/blobs$", secondary=True)
    with pytest.raises(RateLimitExceededException) as secondary:
        repo.create_git_blob("x", "utf-8")
    assert "secondary rate limit" in secondary.value.data["message"]


def test_server_errors_and_retries(api: FakeGitHub, client: MakeClient) -> None:
    repo = client().get_repo(FULL_NAME)
    api.fail("GET", r"/pulls$", 500)
    with pytest.raises(GithubException) as server_error:
        list(repo.get_pulls())
    assert (server_error.value.status, server_error.value.data["message"]) == (500, "Server Error")

    api.fail(None, r"/git/refs$", 503, body={"message": "Try later"}, headers={"x-custom": "1"})
    with pytest.raises(GithubException) as unavailable:
        repo.create_git_ref("refs/heads/x", api.branch_sha("main") or "")
    assert unavailable.value.data == {"message": "Try later"}
    assert unavailable.value.headers["x-custom"] == "1"

    retrying = client(retry=GithubRetry(total=3, backoff_factor=0))
    api.fail("GET", rf"^/repos/{FULL_NAME}$", 502, times=2)
    api.fail_rate_limit("GET", rf"^/repos/{FULL_NAME}$", secondary=True, retry_after=0)
    api.reset_log()
    assert retrying.get_repo(FULL_NAME).name == "service-blueprints"
    assert [r.status for r in api.requests] == [502, 502, 403, 200]


def test_slow_responses_time_out(api: FakeGitHub, client: MakeClient) -> None:
    api.delay(rf"^/repos/{FULL_NAME}$", 3, times=1)
    gh = client(timeout=1)
    with pytest.raises(requests.exceptions.Timeout):
        gh.get_repo(FULL_NAME)
    assert gh.get_repo(FULL_NAME).name == "service-blueprints"


def test_concurrent_clients_get_distinct_pull_requests(api: FakeGitHub, client: MakeClient) -> None:
    for i in range(8):
        api.push_commit(f"c-{i}", {f"c{i}.txt": f"{i}\n"}, BOT)

    def open_pull(i: int) -> int:
        repo = client(BOT if i % 2 else BOB).get_repo(FULL_NAME)
        repo.create_git_blob(f"blob {i}", "utf-8")
        return repo.create_pull(base="main", head=f"c-{i}", title=f"C {i}").number

    with ThreadPoolExecutor(max_workers=8) as pool:
        numbers = sorted(pool.map(open_pull, range(8)))
    assert numbers == list(range(1, 9))
    assert api.count("POST", f"/repos/{FULL_NAME}/pulls") == 8


def test_authentication(api: FakeGitHub, client: MakeClient) -> None:
    with pytest.raises(BadCredentialsException) as bad:
        client(token="not-a-token").get_user().login  # noqa: B018
    assert bad.value.status == 401
    assert bad.value.data["message"] == "Bad credentials"
    assert client(ALICE).get_user().login == ALICE
    assert [(r.path, r.status, r.user) for r in api.requests] == [
        ("/user", 401, None),
        ("/user", 200, ALICE),
    ]


def test_request_log_counts_precisely(api: FakeGitHub, repo: Repository) -> None:
    api.push_commit("reconcile/web", {"blueprints/web/blueprint.yaml": "replicas: 2\n"}, BOT)

    def reconcile() -> None:
        """A miniature reconciler: make sure one open PR exists with the desired title."""
        found = list(repo.get_pulls(state="open", head="acme:reconcile/web"))
        if not found:
            repo.create_pull(base="main", head="reconcile/web", title="Scale web")
        elif found[0].title != "Scale web":
            found[0].edit(title="Scale web")

    api.reset_log()
    reconcile()
    assert [(r.method, r.path) for r in api.writes()] == [
        ("POST", f"/repos/{FULL_NAME}/pulls"),
    ]
    api.reset_log()
    reconcile()
    assert api.writes() == []
    assert api.count() == 1
    assert api.count("GET", f"/repos/{FULL_NAME}/pulls") == 1
    assert api.count("POST") == 0
    assert api.requests[0].query == {"state": "open", "head": "acme:reconcile/web"}


def test_server_stops_cleanly_with_idle_keep_alive_connections(bare: Path) -> None:
    fake = FakeGitHub(bare)
    fake.add_user(BOT, TOKENS[BOT])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with fake, requests.Session() as session:
            url = fake.url
            for _ in range(3):
                reply = session.get(f"{url}/user", headers={"Authorization": "token bot-token"})
                assert reply.status_code == 200
                assert reply.headers["Content-Length"] == str(len(reply.content))
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"{url}/user", timeout=1)
    with pytest.raises(RuntimeError, match="not started"):
        _ = FakeGitHub(bare).url


# --------------------------------------------------------------------------------------------
# Conditional requests, statuses, plain issues, "Update branch"


def _get(api: FakeGitHub, path: str, token: str, **headers: str) -> requests.Response:
    return requests.get(
        f"{api.url}{path}", headers={"Authorization": f"token {token}", **headers}, timeout=5
    )


def test_a_matching_etag_is_answered_304_and_not_counted(api: FakeGitHub) -> None:
    path = f"/repos/{FULL_NAME}/pulls"
    first = _get(api, path, TOKENS[BOT])
    etag = first.headers["ETag"]
    remaining = int(first.headers["X-RateLimit-Remaining"])
    api.reset_log()
    again = _get(api, path, TOKENS[BOT], **{"If-None-Match": etag})
    assert (again.status_code, again.content) == (304, b"")
    assert again.headers["ETag"] == etag
    assert int(again.headers["X-RateLimit-Remaining"]) == remaining
    assert (api.count(), api.counted(), api.not_modified()) == (1, 0, 1)
    # The answer changes: the old validator no longer matches, and the request counts.
    api.push_commit("topic", {"notes.md": "n\n"}, BOB)
    api.open_pull(BOB, "topic", "Notes")
    changed = _get(api, path, TOKENS[BOT], **{"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert api.counted() == 1
    assert int(changed.headers["X-RateLimit-Remaining"]) == remaining - 1


def test_etags_are_specific_to_the_token(api: FakeGitHub) -> None:
    """As GitHub support confirms: another token (a job's GITHUB_TOKEN is new every run)
    gets another ETag, and the first one's does not match."""
    path = f"/repos/{FULL_NAME}"
    bots = _get(api, path, TOKENS[BOT]).headers["ETag"]
    api.add_user("reconciler-bot-2", "another-token")
    other = _get(api, path, "another-token", **{"If-None-Match": bots})
    assert other.status_code == 200 and other.headers["ETag"] != bots


def test_if_modified_since_answers_for_single_pulls_and_issues(api: FakeGitHub) -> None:
    api.push_commit("topic", {"notes.md": "n\n"}, BOB)
    number = api.open_pull(BOB, "topic", "Notes")["number"]
    path = f"/repos/{FULL_NAME}/pulls/{number}"
    first = _get(api, path, TOKENS[BOT])
    modified = first.headers["Last-Modified"]
    assert _get(api, path, "alice-token", **{"If-Modified-Since": modified}).status_code == 304
    issue = f"/repos/{FULL_NAME}/issues/{number}"
    assert _get(api, issue, TOKENS[BOT], **{"If-Modified-Since": modified}).status_code == 304
    # If-None-Match decides when both are sent (a stale ETag wins over a fresh date).
    both = _get(api, path, TOKENS[BOT], **{"If-None-Match": '"x"', "If-Modified-Since": modified})
    assert both.status_code == 200
    time.sleep(1.1)  # Last-Modified has whole seconds
    api.comment(number, ALICE, "looks good")
    assert _get(api, path, TOKENS[BOT], **{"If-Modified-Since": modified}).status_code == 200


def test_commit_statuses(api: FakeGitHub, repo: Repository, client: MakeClient) -> None:
    sha = api.branch_sha("main")
    assert sha is not None
    commit = repo.get_commit(sha)
    commit.create_status("pending", description="waiting", context="reconciler/approval")
    commit.create_status(
        "success", "https://example.com/run", "approves on merge", "reconciler/approval"
    )
    commit.create_status("failure", description="tests failed", context="ci")
    combined = commit.get_combined_status()
    assert combined.state == "failure" and combined.total_count == 2
    assert {(s.context, s.state) for s in combined.statuses} == {
        ("reconciler/approval", "success"),
        ("ci", "failure"),
    }
    assert [s.state for s in commit.get_statuses()] == ["failure", "success", "pending"]
    assert api.status(sha, "reconciler/approval")["description"] == "approves on merge"  # type: ignore[index]
    with pytest.raises(GithubException) as long:
        commit.create_status("success", description="x" * 141, context="c")
    assert long.value.status == 422 and "too long" in str(long.value.data)
    with pytest.raises(GithubException) as unknown:
        repo.get_commit(sha).create_status("done", context="c")  # type: ignore[arg-type]
    assert unknown.value.status == 422
    with pytest.raises(GithubException) as missing:
        client().requester.requestJsonAndCheck(
            "POST", f"/repos/{FULL_NAME}/statuses/{'0' * 40}", input={"state": "success"}
        )
    assert missing.value.status == 422


def test_plain_issues_share_numbers_and_are_listed_searched_edited_and_closed(
    api: FakeGitHub, repo: Repository, client: MakeClient
) -> None:
    api.push_commit("topic", {"notes.md": "n\n"}, BOB)
    pull_number = api.open_pull(BOB, "topic", "Notes")["number"]
    issue = repo.create_issue("Reconciler dashboard", body="all quiet", labels=["dashboard"])
    assert issue.number == pull_number + 1
    assert [label.name for label in issue.labels] == ["dashboard"]
    labelled = list(repo.get_issues(state="all", labels=[repo.get_label("dashboard")]))
    assert [i.number for i in labelled] == [issue.number]
    listed = {i.number: i.pull_request is not None for i in repo.get_issues(state="open")}
    assert listed == {pull_number: True, issue.number: False}
    issue.edit(body="one thing needs a person")
    issue.create_comment("@acme/platform: look")
    assert [c["body"] for c in api.comments(issue.number)] == ["@acme/platform: look"]
    assert api.issues()[0]["body"] == "one thing needs a person"
    found = client().search_issues("dashboard in:title is:issue is:open", repo=FULL_NAME)
    assert [i.number for i in found] == [issue.number]
    assert list(client().search_issues("dashboard in:title is:pr", repo=FULL_NAME)) == []
    issue.edit(state="closed")
    closed = repo.get_issue(issue.number)
    assert (closed.state, closed.state_reason, closed.closed_by.login) == (
        "closed",
        "completed",
        BOT,
    )
    assert list(repo.get_issues(state="open", labels=["dashboard"])) == []
    assert api.counted("GET", "/search/") == 0  # searches have a bucket of their own
    with pytest.raises(GithubException) as untitled:
        client().requester.requestJsonAndCheck(
            "POST", f"/repos/{FULL_NAME}/issues", input={"body": "no title"}
        )
    assert untitled.value.status == 422


def test_update_branch_merges_the_base_into_the_head(api: FakeGitHub, repo: Repository) -> None:
    head = api.push_commit("topic", {"notes.md": "n\n"}, BOB)
    number = api.open_pull(BOB, "topic", "Notes")["number"]
    assert repo.get_pull(number).update_branch() is False  # 422: nothing new on main
    main = api.push_commit("main", {"audit/record.json": "{}\n"}, BOT)
    assert repo.get_pull(number).update_branch() is True
    merged = api.pull(number)["head"]["sha"]
    assert merged not in (head, main)
    with api._lock, api._open() as bare:  # what git sees: a merge of main into the branch
        commit = bare.get(merged)
        assert [str(p) for p in commit.parent_ids] == [head, main]
        assert (commit.author.name, commit.committer.name) == (BOT, "GitHub")
    assert api.read_file("topic", "audit/record.json") == "{}\n"
    files = [f.filename for f in repo.get_pull(number).get_files()]
    assert files == ["notes.md"]  # the pull request still changes only its own file
    api.push_commit("main", {"audit/second.json": "{}\n"}, BOT)
    again = api.update_branch(number, ALICE)
    assert api.pull(number)["head"]["sha"] == again != merged


def test_one_server_hosts_a_second_repository_with_its_own_pulls_and_shared_people(
    api: FakeGitHub, client: MakeClient, repo: Repository, tmp_path: Path
) -> None:
    other_bare = tmp_path / "deploy.git"
    init_bare_repo(other_bare, {"deploy/web.yaml": "replicas: 2\n"})
    other = api.host(FakeGitHub(other_bare, "org", "deploy-config"))
    assert other.url == api.url
    deploy = client().get_repo("org/deploy-config")
    assert deploy.full_name == "org/deploy-config"
    assert deploy.get_contents("deploy/web.yaml").decoded_content == b"replicas: 2\n"  # type: ignore[union-attr]
    # A branch and a pull request there are that repository's, not the first one's.
    other.push_commit("scale", {"deploy/web.yaml": "replicas: 3\n"}, ALICE)
    pull = deploy.create_pull(title="scale web", body="", head="scale", base="main")
    assert [p["number"] for p in other.pulls()] == [pull.number]
    assert api.pulls() == []
    assert [p.number for p in repo.get_pulls(state="all")] == []
    # The people are the server's: alice's token and team work on both repositories.
    merged = other.merge_pull(pull.number, ALICE)
    again = deploy.get_pull(pull.number)
    assert again.merged and again.merged_by.login == ALICE
    assert again.merge_commit_sha == merged
    assert pull.user.login == BOT
    assert client(BOB).get_repo("org/deploy-config").get_pull(pull.number).title == "scale web"
    with pytest.raises(UnknownObjectException):
        client().get_repo("org/elsewhere")
