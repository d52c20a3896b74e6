"""GitHubForge against the fake GitHub API, through the real PyGithub and a real bare repository.

Nothing of ours is mocked: the forge talks HTTP to `FakeGitHub`, which keeps branches and commits
in a bare git repository, so what a test asserts about branches is what `git` itself sees.
"""

from __future__ import annotations

import http.client
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from reconciler.adapters.github_forge import GitHubForge
from reconciler.adapters.github_forge.limits import ApiUsage, WritePacer, github_message, limit_of
from reconciler.core.approvals.proposals import (
    CommentTopic,
    Draft,
    Proposal,
    ProposalState,
    comment_marker,
    render_metadata,
)
from reconciler.core.errors import ConfigError, ForgeError
from tests.fakes.github_api import FakeGitHub, init_bare_repo
from tests.github_setup import ALICE, BOB, BOT, NAME, OWNER, add_people, serving

FULL_NAME = f"{OWNER}/{NAME}"
API = f"/repos/{FULL_NAME}"
BOT_TOKEN = "ghp_bot-token-0123456789abcdef"
TOKENS = {BOT: BOT_TOKEN, ALICE: "alice-token", BOB: "bob-token"}
BLUEPRINT = "blueprints/web/blueprint.yaml"
SEED = {
    "README.md": "# Service blueprints\n",
    BLUEPRINT: "replicas: 1\nimage: web:1.0\n",
}
BRANCH = "reconciler/web/scale-beyond-limits"

MakeForge = Callable[..., GitHubForge]


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
def make(api: FakeGitHub) -> Iterator[MakeForge]:
    """Forges on the fake (closed at teardown: pytest turns an unclosed socket into an error)."""
    made: list[GitHubForge] = []

    def build(token: str = BOT_TOKEN, **settings: Any) -> GitHubForge:
        settings.setdefault("base_url", api.url)
        settings.setdefault("timeout", 2)
        # Each look lists the open pull requests afresh (a run keeps its listing for a few
        # seconds): these tests change them between looks.
        settings.setdefault("listing_ttl", 0)
        forge = GitHubForge(FULL_NAME, token, **settings)
        made.append(forge)
        return forge

    yield build
    for forge in made:
        forge.disconnect()


@pytest.fixture
def forge(make: MakeForge) -> GitHubForge:
    return make()


def draft(
    files: Mapping[str, str] | None = None,
    *,
    branch: str = BRANCH,
    title: str = "Scale web beyond its limits",
    note: str = "Web is at 95 % CPU.",
    labels: tuple[str, ...] = ("reconciler", "service:web"),
    reviewers: tuple[str, ...] = (),
    listed: tuple[str, ...] | None = None,
) -> Draft:
    files = dict(files or {BLUEPRINT: "replicas: 4\nimage: web:1.0\n"})
    metadata = {"key": f"web/{branch}", "files": sorted(listed or files)}
    return Draft(
        key=f"web/{branch}",
        branch=branch,
        title=title,
        body=f"{note}\n\n{render_metadata(metadata)}\n",
        files=files,
        labels=labels,
        reviewers=reviewers,
        commit_message=f"{title}\n\nProposed by the reconciler.",
    )


def git(*args: str, cwd: Path) -> str:
    """The git CLI with no user or system configuration (read-only uses, and a scratch clone)."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    )
    return done.stdout


# ---------------------------------------------------------------------------------- open


def test_open_makes_one_commit_on_a_branch_and_a_pull_request(
    api: FakeGitHub, forge: GitHubForge, bare: Path
) -> None:
    wanted = draft(reviewers=(BOB, "acme/platform"))
    main = api.branch_sha("main")
    api.reset_log()

    proposal = forge.open(wanted)

    head = api.branch_sha(BRANCH)
    assert proposal.state is ProposalState.OPEN
    assert (proposal.number, proposal.branch, proposal.head) == (1, BRANCH, head)
    assert proposal.url == f"https://github.com/{FULL_NAME}/pull/1"
    assert (proposal.title, proposal.body) == (wanted.title, wanted.body)
    assert proposal.key == wanted.key
    assert proposal.head_author == BOT
    assert proposal.files == dict(wanted.files)
    assert proposal.labels == ("reconciler", "service:web")
    assert proposal.created_at is not None
    # Exactly one commit on the base tip, changing exactly the draft's file; main untouched.
    assert git("rev-parse", f"{BRANCH}^", cwd=bare).strip() == main
    assert git("diff", "--name-only", "main", BRANCH, cwd=bare).split() == [BLUEPRINT]
    assert git("log", "-1", "--format=%B", BRANCH, cwd=bare).strip() == wanted.commit_message
    assert api.read_file(BRANCH, BLUEPRINT) == wanted.files[BLUEPRINT]
    assert api.read_file("main", BLUEPRINT) == SEED[BLUEPRINT]
    pull = api.pull(1)
    assert (pull["head"]["ref"], pull["base"]["ref"], pull["user"]["login"]) == (
        BRANCH,
        "main",
        BOT,
    )
    assert [label["name"] for label in pull["labels"]] == ["reconciler", "service:web"]
    assert [u["login"] for u in pull["requested_reviewers"]] == [BOB]
    assert [t["slug"] for t in pull["requested_teams"]] == ["platform"]
    # The calls `open` makes (documented in docs/github-forge.md).
    assert [(r.method, r.path.removeprefix(API)) for r in api.requests] == [
        ("GET", "/pulls"),
        ("GET", ""),  # the default branch, once per forge
        ("GET", "/branches/main"),
        ("POST", "/git/trees"),
        ("POST", "/git/commits"),
        ("POST", "/git/refs"),
        ("POST", "/pulls"),
        ("POST", "/issues/1/labels"),
        ("POST", "/pulls/1/requested_reviewers"),
        # (not the new head commit's author: the forge wrote that commit itself)
    ]


def test_open_twice_returns_the_same_pull_request(api: FakeGitHub, forge: GitHubForge) -> None:
    first = forge.open(draft())
    api.reset_log()
    again = forge.open(draft())
    assert again == first
    assert len(api.pulls()) == 1
    assert api.writes() == []
    # The look-up, and which account the token is (to know the pull request is its own,
    # asked once per forge); the head's author and files are known already.
    assert [(r.method, r.path.removeprefix(API)) for r in api.requests] == [
        ("GET", "/pulls"),
        ("GET", "/user"),
    ]


def test_a_new_run_adopts_the_open_pull_request_and_adds_missing_labels(
    api: FakeGitHub, forge: GitHubForge, make: MakeForge
) -> None:
    first = forge.open(draft(labels=()))
    api.reset_log()
    again = make().open(draft())
    assert again.number == first.number
    assert again.labels == ("reconciler", "service:web")
    assert [(r.method, r.path.removeprefix(API)) for r in api.writes()] == [
        ("POST", "/issues/1/labels")
    ]
    assert api.count("POST", f"{API}/pulls") == 0


def test_a_token_that_may_not_label_still_opens_the_proposal(
    api: FakeGitHub, forge: GitHubForge, caplog: pytest.LogCaptureFixture
) -> None:
    """A job's GITHUB_TOKEN with contents and pull-requests only cannot create new labels."""
    refused = {"message": "Resource not accessible by integration"}
    api.fail("POST", r"/issues/1/labels$", 403, body=refused)
    proposal = forge.open(draft())
    assert proposal.number == 1 and proposal.labels == ()
    assert api.pull(1)["state"] == "open"
    assert "could not label #1 with reconciler, service:web" in caplog.text
    assert "Resource not accessible by integration" in caplog.text
    assert BOT_TOKEN not in caplog.text


def test_a_rate_limit_on_labels_still_returns_the_proposal_and_halts(
    api: FakeGitHub, make: MakeForge
) -> None:
    """The pull request exists once GitHub created it: `open` returns it, so that the run
    records it, and sends nothing more (not even the review requests)."""
    api.fail("POST", r"/issues/1/labels$", 403, times=None)
    forge = make()
    proposal = forge.open(draft())
    assert proposal.number == 1 and proposal.labels == ()
    assert api.count("POST", f"{API}/pulls/1/requested_reviewers") == 0
    halted = forge.halted()
    assert halted is not None and "the API rate limit is used up until" in str(halted)


def test_open_after_a_crash_before_the_pull_request_resets_the_branch(
    api: FakeGitHub, forge: GitHubForge, bare: Path
) -> None:
    api.fail("POST", r"/pulls$", 502, times=2)
    with pytest.raises(ForgeError, match="GitHub answered 502") as failed:
        forge.open(draft())
    assert str(failed.value).startswith(f"opening the proposal for branch {BRANCH}: ")
    assert api.branch_sha(BRANCH) is not None
    assert api.pulls() == []
    # Meanwhile main moved on, and the leftover branch is stale; the next try resets it.
    main = api.push_commit("main", {"README.md": "# Blueprints\n"}, ALICE)

    proposal = forge.open(draft())

    assert len(api.pulls()) == 1
    assert proposal.head == api.branch_sha(BRANCH)
    assert git("rev-parse", f"{BRANCH}^", cwd=bare).strip() == main
    assert git("diff", "--name-only", "main", BRANCH, cwd=bare).split() == [BLUEPRINT]


def test_open_resets_a_leftover_branch_with_someone_elses_commits(
    api: FakeGitHub, forge: GitHubForge, bare: Path
) -> None:
    api.push_commit(BRANCH, {"junk.txt": "left over\n"}, BOB)
    proposal = forge.open(draft())
    assert git("diff", "--name-only", "main", BRANCH, cwd=bare).split() == [BLUEPRINT]
    assert proposal.head_author == BOT


def test_a_5xx_on_creating_the_pull_request_is_retried_once(
    api: FakeGitHub, forge: GitHubForge
) -> None:
    api.fail("POST", r"/pulls$", 502)
    proposal = forge.open(draft())
    assert [p["number"] for p in api.pulls()] == [proposal.number]
    assert [r.status for r in api.requests if (r.method, r.path) == ("POST", f"{API}/pulls")] == [
        502,
        201,
    ]


def test_a_pull_request_created_behind_a_timeout_is_not_duplicated(
    api: FakeGitHub, make: MakeForge
) -> None:
    """The worst case for a retried POST: GitHub applies it but the answer never arrives."""
    forge = make(timeout=1)
    api.delay(r"/pulls$", 1.5, method="POST", times=1)
    proposal = forge.open(draft())
    time.sleep(0.7)  # let the slow first POST finish on the server
    assert [p["number"] for p in api.pulls()] == [proposal.number]
    assert api.pull(proposal.number)["state"] == "open"


def test_reviewer_refusals_do_not_fail_open(
    api: FakeGitHub, forge: GitHubForge, caplog: pytest.LogCaptureFixture
) -> None:
    reviewers = (BOT, BOB, "acme/platform", "stranger", "elsewhere/ops")
    with caplog.at_level(logging.WARNING, logger="reconciler.adapters.github_forge"):
        proposal = forge.open(draft(reviewers=reviewers))
    pull = api.pull(proposal.number or 0)
    assert [u["login"] for u in pull["requested_reviewers"]] == [BOB]
    assert [t["slug"] for t in pull["requested_teams"]] == ["platform"]
    messages = "\n".join(r.getMessage() for r in caplog.records)
    assert "could not ask reconciler-bot" in messages
    assert "could not ask stranger" in messages
    assert "elsewhere/ops" in messages
    assert BOT_TOKEN not in messages


def test_a_known_bot_login_is_not_asked_to_review(api: FakeGitHub, make: MakeForge) -> None:
    forge = make(bot_login=BOT)
    forge.open(draft(reviewers=(BOT, BOB)))
    assert api.count("POST", f"{API}/pulls/1/requested_reviewers") == 1
    assert [u["login"] for u in api.pull(1)["requested_reviewers"]] == [BOB]


def test_a_configured_base_branch(api: FakeGitHub, make: MakeForge) -> None:
    develop = api.push_commit("develop", {"NOTES.md": "develop\n"}, ALICE)
    forge = make(base_branch="develop")
    api.reset_log()
    proposal = forge.open(draft())
    assert api.pull(proposal.number or 0)["base"]["ref"] == "develop"
    assert all(r.path != API for r in api.requests)  # never asked for the default branch
    assert api.read_file(BRANCH, "NOTES.md") == "develop\n"
    assert api.branch_sha("develop") == develop


# ---------------------------------------------------------------------------------- update


def test_update_rewrites_the_branch_title_body_and_labels(
    api: FakeGitHub, forge: GitHubForge, bare: Path
) -> None:
    opened = forge.open(draft())
    main = api.push_commit("main", {"README.md": "# Moved on\n"}, ALICE)
    newer = draft(
        {BLUEPRINT: "replicas: 6\nimage: web:1.0\n"},
        title="Scale web to 6",
        note="Still hot.",
        labels=("reconciler", "urgent"),
    )

    updated = forge.update(opened, newer)

    head = api.branch_sha(BRANCH)
    assert (updated.head, updated.number, updated.state) == (head, 1, ProposalState.OPEN)
    assert git("rev-parse", f"{BRANCH}^", cwd=bare).strip() == main
    assert git("diff", "--name-only", "main", BRANCH, cwd=bare).split() == [BLUEPRINT]
    assert api.read_file(BRANCH, BLUEPRINT) == "replicas: 6\nimage: web:1.0\n"
    pull = api.pull(1)
    assert (pull["title"], pull["body"], pull["state"]) == (newer.title, newer.body, "open")
    assert [label["name"] for label in pull["labels"]] == ["reconciler", "urgent"]
    assert forge.find(BRANCH, paths=[BLUEPRINT]) == updated


def test_update_skips_what_did_not_change(api: FakeGitHub, forge: GitHubForge) -> None:
    opened = forge.open(draft())
    api.reset_log()
    forge.update(opened, draft({BLUEPRINT: "replicas: 5\n"}))
    assert [(r.method, r.path.removeprefix(API)) for r in api.writes()] == [
        ("POST", "/git/trees"),
        ("POST", "/git/commits"),
        ("PATCH", f"/git/refs/heads/{BRANCH}"),
    ]


# ---------------------------------------------------------------------------------- find


def test_find_an_open_proposal_by_branch_and_by_number(
    api: FakeGitHub, forge: GitHubForge, make: MakeForge
) -> None:
    opened = forge.open(draft())
    fresh = make()  # a new run: nothing cached
    api.reset_log()
    by_branch = fresh.find(BRANCH, paths=[BLUEPRINT])
    assert by_branch == opened
    assert [(r.method, r.path.removeprefix(API)) for r in api.requests] == [
        ("GET", "/pulls"),
        ("GET", f"/commits/{opened.head}"),
        ("GET", f"/contents/{BLUEPRINT}"),
    ]
    assert api.requests[0].query["head"] == f"{OWNER}:{BRANCH}"
    assert api.requests[2].query == {"ref": opened.head}
    assert fresh.find(BRANCH, 1, paths=[BLUEPRINT]) == opened

    # An unchanged open proposal costs one read and no write on the next look.
    api.reset_log()
    assert fresh.find(BRANCH, paths=[BLUEPRINT]) == opened
    assert api.writes() == []
    assert api.count() == 1


# ---------------------------------------------------------------------------------- budget


def _proposals(forge: GitHubForge, count: int) -> list[Proposal]:
    return [
        forge.open(draft(branch=f"reconciler/web-{n}/scale", files={f"b/web-{n}.yaml": f"{n}\n"}))
        for n in range(count)
    ]


def test_open_proposals_at_their_recorded_heads_cost_one_listing(
    api: FakeGitHub, forge: GitHubForge, make: MakeForge, tmp_path: Path
) -> None:
    """However many are open: the listing (100 a page), and nothing per proposal, since a
    proposal at the head the reconciler recorded is its own commit."""
    opened = _proposals(forge, 3)
    state = tmp_path / "github-cache.json"
    run = make(state_path=state, listing_ttl=60)
    api.reset_log()
    for proposal in opened:
        assert proposal.number is not None
        found = run.find(proposal.branch, proposal.number, proposal.head, sorted(proposal.files))
        assert found is not None and found.state is ProposalState.OPEN
        assert (found.head, found.files, found.changed) == (proposal.head, {}, None)
    assert [(r.method, r.path.removeprefix(API)) for r in api.requests] == [("GET", "/pulls")]
    assert api.requests[0].query == {"state": "open", "per_page": "100", "page": "1"}
    run.disconnect()

    # The next run with the same token: GitHub confirms the listing unchanged (304), which
    # it does not count.
    again = make(state_path=state)
    api.reset_log()
    found = again.find(opened[0].branch, opened[0].number, opened[0].head)
    assert found is not None and found.title == opened[0].title
    assert (api.count(), api.counted(), api.not_modified()) == (1, 0, 1)
    usage = again.usage()
    assert (usage.requests, usage.not_modified, usage.counted) == (1, 1, 0)
    assert usage.limit == 5000 and usage.remaining is not None and usage.remaining < 5000
    assert usage.describe().startswith("1 request to GitHub (1 answered 304, not counted): ")


def test_a_new_token_revalidates_single_pull_requests_by_date(
    api: FakeGitHub, forge: GitHubForge, make: MakeForge, tmp_path: Path
) -> None:
    """A job's token is new every run and GitHub's ETags are per token: the listing costs its
    request again, while a pull request asked for by number is confirmed by its date."""
    _proposals(forge, 1)
    api.close_pull(1, ALICE)
    state = tmp_path / "github-cache.json"
    first = make(state_path=state)
    assert first.find(BRANCH, 1).state is ProposalState.CLOSED  # type: ignore[union-attr]
    first.disconnect()
    api.add_user(BOT, "ghs_the-next-runs-token")
    second = make("ghs_the-next-runs-token", state_path=state)
    api.reset_log()
    found = second.find(BRANCH, 1)
    assert found is not None and found.state is ProposalState.CLOSED
    single = [r.status for r in api.requests if r.path in (f"{API}/pulls/1", f"{API}/issues/1")]
    assert single == [304, 304]  # the pull request, and its issue (who closed it)
    assert [r.path for r in api.requests if r.counted] == [f"{API}/pulls"]  # the listing


def test_a_moved_head_is_read_with_what_the_pull_request_changes(
    api: FakeGitHub, forge: GitHubForge
) -> None:
    opened = forge.open(draft())
    api.push_commit(BRANCH, {"notes.md": "why\n"}, BOB)
    found = forge.find(BRANCH, opened.number, opened.head, [BLUEPRINT])
    assert found is not None and found.head != opened.head
    assert (found.head_author, found.files) == (BOB, opened.files)
    assert found.changed == (BLUEPRINT, "notes.md")


def test_a_broken_cache_file_is_an_empty_one(
    api: FakeGitHub, forge: GitHubForge, make: MakeForge, tmp_path: Path, caplog: Any
) -> None:
    opened = forge.open(draft())
    state = tmp_path / "github-cache.json"
    state.write_text("{not json")
    with caplog.at_level(logging.WARNING):
        run = make(state_path=state)
    assert "is not JSON; starting afresh" in caplog.text
    assert run.find(BRANCH, opened.number, opened.head) is not None
    run.disconnect()
    saved = state.read_text()
    assert '"version":1' in saved and BOT_TOKEN not in saved
    # Another repository's file is not used (nor is it reported: it is simply not ours).
    other = GitHubForge(f"{OWNER}/elsewhere", BOT_TOKEN, base_url=api.url, state_path=state)
    assert len(other.state) == 0
    other.disconnect()


def test_find_a_merged_proposal(api: FakeGitHub, forge: GitHubForge) -> None:
    opened = forge.open(draft())
    merge = api.merge_pull(1, ALICE)
    for found in (forge.find(BRANCH, paths=[BLUEPRINT]), forge.find(BRANCH, 1, paths=[BLUEPRINT])):
        assert found is not None
        assert found.state is ProposalState.MERGED
        assert (found.merged_by, found.merge_commit, found.head) == (ALICE, merge, opened.head)
        assert found.merged_at is not None
        assert found.closed_by is None
        assert found.files == opened.files
        assert found.changed == (BLUEPRINT,)


def test_a_merged_proposal_says_every_path_its_merge_changed(
    api: FakeGitHub, forge: GitHubForge
) -> None:
    """From the pull request's files, read page by page (GitHub gives at most 100 a page)."""
    opened = forge.open(draft())
    assert opened.changed is None  # open: nothing merged yet
    extra = {
        f"audit/web/2026-02-10/{n:06d}-approval_granted-apr-{n}.json": "{}\n" for n in range(150)
    }
    api.push_commit(BRANCH, extra, BOB, "More")
    api.merge_pull(1, ALICE)
    api.reset_log()
    found = forge.find(BRANCH, 1, paths=[BLUEPRINT])
    assert found is not None and found.changed == tuple(sorted([BLUEPRINT, *extra]))
    pages = [r.query for r in api.requests if r.path == f"{API}/pulls/1/files"]
    assert pages == [{"per_page": "100", "page": "1"}, {"per_page": "100", "page": "2"}]
    api.reset_log()
    assert forge.find(BRANCH, 1, paths=[BLUEPRINT]) == found
    assert api.count("GET", f"{API}/pulls/1/files") == 0  # a merged list never changes


def test_find_a_closed_proposal(api: FakeGitHub, forge: GitHubForge) -> None:
    forge.open(draft())
    api.close_pull(1, ALICE)
    for found in (forge.find(BRANCH, paths=[BLUEPRINT]), forge.find(BRANCH, 1, paths=[BLUEPRINT])):
        assert found is not None
        assert found.state is ProposalState.CLOSED
        assert (found.closed_by, found.merged_by, found.merge_commit) == (ALICE, None, None)
        assert found.closed_at is not None


def test_find_what_is_not_there(api: FakeGitHub, forge: GitHubForge) -> None:
    assert forge.find("reconciler/web/never-proposed") is None
    gone = forge.find(BRANCH, 42, head="abc123")
    assert gone == Proposal(key=BRANCH, branch=BRANCH, state=ProposalState.GONE, head="abc123")


def test_find_the_newest_of_several_pull_requests_on_a_branch(
    api: FakeGitHub, forge: GitHubForge
) -> None:
    forge.open(draft())
    api.close_pull(1, ALICE)
    reopened = forge.open(draft(note="Second attempt."))
    assert reopened.number == 2
    found = forge.find(BRANCH, paths=[BLUEPRINT])
    assert found is not None
    assert (found.number, found.state) == (2, ProposalState.OPEN)


def test_a_persons_push_changes_head_author_and_files(
    api: FakeGitHub, forge: GitHubForge, tmp_path: Path, bare: Path
) -> None:
    opened = forge.open(draft())
    pushed = api.push_commit(BRANCH, {BLUEPRINT: "replicas: 40\nimage: web:1.0\n"}, BOB)
    found = forge.find(BRANCH, opened.number, paths=[BLUEPRINT])
    assert found is not None
    assert (found.head, found.head_author) == (pushed, BOB)
    assert found.files == {BLUEPRINT: "replicas: 40\nimage: web:1.0\n"}

    # A commit GitHub cannot tie to an account: the git author's name stands in.
    work = tmp_path / "work"
    git("clone", "-q", "--branch", BRANCH, str(bare), str(work), cwd=tmp_path)
    (work / "README.md").write_text("# Edited offline\n")
    git("-c", "user.name=Carol Outside", "-c", "user.email=carol@elsewhere.example",
        "commit", "-qam", "Offline edit", cwd=work)  # fmt: skip
    git("push", "-q", "origin", BRANCH, cwd=work)
    found = forge.find(BRANCH, opened.number, paths=[BLUEPRINT])
    assert found is not None
    assert found.head_author == "Carol Outside"


def test_files_are_read_at_the_head_and_missing_ones_left_out(
    api: FakeGitHub, forge: GitHubForge
) -> None:
    extra = "blueprints/web/requests/scale-to-zero.yaml"
    opened = forge.open(draft(listed=(BLUEPRINT, extra)))
    assert opened.files == {BLUEPRINT: "replicas: 4\nimage: web:1.0\n"}
    api.push_commit(BRANCH, {extra: "operation: scale-to-zero\n", BLUEPRINT: None}, BOB)
    found = forge.find(BRANCH, paths=[BLUEPRINT, extra])
    assert found is not None
    assert found.files == {extra: "operation: scale-to-zero\n"}


# ---------------------------------------------------------------------------------- comment, close


def test_comment_and_close(api: FakeGitHub, forge: GitHubForge) -> None:
    opened = forge.open(draft())
    forge.comment(opened, "It timed out.", CommentTopic.TIMED_OUT)
    forge.close(opened, "Superseded: the load went down.")

    assert [c["body"] for c in api.comments(1)] == [
        f"{comment_marker(CommentTopic.TIMED_OUT)}\nIt timed out.",
        f"{comment_marker(CommentTopic.CLOSING)}\nSuperseded: the load went down.",
    ]
    assert api.pull(1)["state"] == "closed"
    assert api.branch_sha(BRANCH) is None
    found = forge.find(BRANCH, paths=[BLUEPRINT])
    assert found is not None
    assert (found.state, found.closed_by, found.head) == (ProposalState.CLOSED, BOT, opened.head)
    assert found.files == opened.files  # the commit outlives its branch

    forge.close(opened, "")  # again: the branch is gone already, and that is fine
    assert len(api.comments(1)) == 2


# ---------------------------------------------------------------------------------- is_member


def test_report_posts_one_comment_and_edits_it_in_place(
    api: FakeGitHub, forge: GitHubForge
) -> None:
    opened = forge.open(draft())
    forge.report(opened, "Approved by alice.", CommentTopic.OUTCOME)
    forge.report(opened, "Approved by alice. Verified.", CommentTopic.OUTCOME)
    api.reset_log()
    forge.report(opened, "Approved by alice. Verified.", CommentTopic.OUTCOME)
    assert api.writes() == []  # unchanged: read, not written
    (comment,) = api.comments(1)
    assert (
        comment["body"] == f"{comment_marker(CommentTopic.OUTCOME)}\nApproved by alice. Verified."
    )


def test_a_status_github_would_not_take_is_sent_by_the_next_run(
    api: FakeGitHub, forge: GitHubForge, make: MakeForge, tmp_path: Path, caplog: Any
) -> None:
    from reconciler.core.approvals.feedback import Standing, proposal_status

    opened = forge.open(draft())
    status = proposal_status(Standing.CHANGED)
    state = tmp_path / "github-cache.json"
    run = make(state_path=state, run_url="https://github.com/acme/x/actions/runs/7")
    api.fail("POST", r"/statuses/", 502)
    with caplog.at_level(logging.WARNING):
        run.set_status(opened, status)  # never raises
    assert "could not set the status" in caplog.text and "the next run tries again" in caplog.text
    assert api.statuses(opened.head) == []
    run.disconnect()
    assert f'"{opened.head} reconciler/approval"' in state.read_text()  # kept for the next run
    following = make(state_path=state)
    following.find(BRANCH, opened.number, opened.head)
    (sent,) = api.statuses(opened.head)
    assert (sent["state"], sent["context"]) == ("failure", "reconciler/approval")
    assert sent["target_url"] == "https://github.com/acme/x/actions/runs/7"
    following.disconnect()
    api.reset_log()
    make(state_path=state).find(BRANCH, opened.number, opened.head)
    assert api.count("POST") == 0  # sent once


def a_persons_pull_request(api: FakeGitHub, login: str) -> dict[str, Any]:
    """A pull request `login` opened on the proposal's branch, as the button does."""
    api.push_commit(BRANCH, {BLUEPRINT: "replicas: 9\nimage: web:1.0\n"}, login)
    return api.open_pull(login, BRANCH, "web: nine replicas")


def test_a_pull_request_a_person_opened_on_the_branch_is_not_adopted(
    api: FakeGitHub, forge: GitHubForge
) -> None:
    """Anyone who can push may open a pull request on the proposal's branch; adopting it would
    make their title, body and merge pass for the reconciler's proposal."""
    theirs = a_persons_pull_request(api, ALICE)
    api.reset_log()
    with pytest.raises(ForgeError) as caught:
        forge.open(draft())
    number = theirs["number"]
    assert str(caught.value) == (
        f"the branch {BRANCH} has pull request #{number} by {ALICE}, which the reconciler did "
        "not open: it is not adopted, and its merge approves nothing"
    )
    assert caught.value.hint.startswith(f"close #{number} (or move it to another branch)")
    assert api.writes() == []  # no label, comment, branch or pull request written
    assert [p["number"] for p in api.pulls()] == [number]


def test_the_reconcilers_own_pull_request_is_adopted_whatever_the_case_of_its_login(
    api: FakeGitHub, make: MakeForge
) -> None:
    """GitHub logins are case-insensitive: a bot login configured in other letters is the same
    account."""
    ours = a_persons_pull_request(api, BOT)
    for login in (BOT.upper(), BOT.lower()):
        forge = make(bot_login=login)
        api.reset_log()
        assert forge.open(draft()).number == ours["number"]
        assert api.count("GET", "/user") == 0  # the configured login is not asked again


@pytest.mark.parametrize("status", [401, 403, 404])
def test_a_token_that_will_not_say_whose_it_is_adopts_nothing(
    api: FakeGitHub, make: MakeForge, status: int
) -> None:
    """A GitHub App's installation token is refused `GET /user`: without a bot login the
    reconciler cannot tell its own pull request from a person's, so it adopts neither."""
    ours = a_persons_pull_request(api, BOT)
    api.fail("GET", r"^/user$", status, times=None, body={"message": "Resource not accessible"})
    forge = make()
    api.reset_log()
    for _attempt in range(2):
        with pytest.raises(ForgeError) as caught:
            forge.open(draft())
        assert str(caught.value) == (
            f"the branch {BRANCH} has pull request #{ours['number']} by {BOT}, and the "
            "reconciler cannot tell whether it opened it (GitHub does not say which account "
            "the token acts as: set the bot login): it is not adopted, and its merge approves "
            "nothing"
        )
    assert api.count("GET", "/user") == 1  # asked once: the answer is kept
    assert api.writes() == []


def test_a_server_error_on_whose_token_it_is_is_an_error_not_an_unknown_account(
    api: FakeGitHub, make: MakeForge
) -> None:
    """Only a refusal means GitHub will not say; a 5xx is a failure to reach GitHub, which
    stops the step rather than passing for an answer."""
    a_persons_pull_request(api, BOT)
    api.fail("GET", r"^/user$", 502, times=None)
    forge = make()
    with pytest.raises(ForgeError) as caught:
        forge.open(draft())
    assert "cannot tell whether" not in str(caught.value)
    assert "502" in str(caught.value)
    assert api.writes() == []


def test_a_rate_limit_on_whose_token_it_is_stops_the_run_rather_than_adopting_nothing(
    api: FakeGitHub, make: MakeForge
) -> None:
    """A 403 that is a spent rate limit says nothing about the token: it halts like any rate
    limit, and the next run asks again."""
    a_persons_pull_request(api, BOT)
    api.fail_rate_limit("GET", r"^/user$")
    forge = make()
    with pytest.raises(ForgeError) as caught:
        forge.open(draft())
    assert "cannot tell whether" not in str(caught.value)
    assert "next run" in caught.value.hint
    assert api.writes() == []


def test_is_member(api: FakeGitHub, make: MakeForge) -> None:
    forge = make(teams=("platform",))  # the global policies declare `platform` a team
    api.reset_log()
    assert forge.is_member(BOB, "Bob")  # a person is their own approver, whatever the case
    assert api.count() == 0
    assert forge.is_member("acme/platform", ALICE)
    assert not forge.is_member("acme/platform", BOB)
    assert forge.is_member("platform", ALICE)  # a declared plain name is a team of the owner
    assert not forge.is_member("carol", BOB)  # a plain name is that login, nothing else
    assert not forge.is_member("acme/nobody", ALICE)
    assert forge.is_member("@acme/platform", ALICE)  # as CODEOWNERS writes teams
    assert api.count() == 4
    assert forge.is_member("acme/platform", ALICE)
    assert not forge.is_member("carol", BOB)
    assert api.count() == 4  # answers are kept
    assert [r.path for r in api.requests][:2] == [
        f"/orgs/acme/teams/platform/memberships/{ALICE}",
        f"/orgs/acme/teams/platform/memberships/{BOB}",
    ]


def test_nobody_becomes_an_approver_by_creating_a_team_or_a_login(
    api: FakeGitHub, make: MakeForge
) -> None:
    """Which approvers are teams is decided by the reviewed policies, never by what exists
    on GitHub: org members may create teams, and anyone may register a free login."""
    forge = make(teams=("platform",))
    api.add_team(OWNER, ALICE, [BOB])  # bob creates a team named after the approver alice
    assert not forge.is_member(ALICE, BOB)
    assert forge.is_member(ALICE, ALICE)
    # A login spelled like a declared team is not the team.
    assert not forge.is_member("platform", "platform")
    assert not any(r.path.endswith(f"/teams/{ALICE}/memberships/{BOB}") for r in api.requests)


def test_an_invitation_to_an_approver_team_is_not_membership(
    api: FakeGitHub, make: MakeForge
) -> None:
    """GitHub answers an invited member's membership with `state: pending` (200, not 404):
    someone invited to the team has not joined it, and approves nothing until they accept."""
    api.add_team(OWNER, "platform", [ALICE], pending=[BOB])
    forge = make(teams=("platform",))
    assert not forge.is_member("acme/platform", BOB)
    assert not forge.is_member("platform", BOB)
    assert forge.is_member("acme/platform", ALICE)
    asked = [r for r in api.requests if r.path.endswith(f"/memberships/{BOB}")]
    assert len(asked) == 2  # asked, and answered pending: not a failure to reach GitHub


def test_nobody_is_a_member_of_anything_and_a_known_answer_is_kept(
    api: FakeGitHub, make: MakeForge
) -> None:
    forge = make(teams=("platform",))
    api.reset_log()
    assert not forge.is_member("acme/platform", "")  # a merge with no merger
    assert not forge.is_member("", ALICE)
    assert not forge.is_member("@", ALICE)
    assert api.count() == 0  # nothing to ask GitHub
    assert forge.is_member(BOB, "Bob") and forge.is_member(BOB, "BOB")  # answered, then kept
    assert forge.is_member("platform", ALICE) and forge.is_member("Platform", ALICE.upper())
    assert api.count() == 1


def test_a_failed_membership_check_says_what_it_was_checking(
    api: FakeGitHub, make: MakeForge
) -> None:
    forge = make(teams=("platform",))
    api.fail("GET", r"/memberships/", 500, times=None)
    with pytest.raises(ForgeError) as caught:
        forge.is_member("acme/platform", ALICE)
    assert str(caught.value).startswith(f"checking whether {ALICE} belongs to acme/platform: ")


def test_a_proposal_merged_by_a_push_has_nobody_as_merger(
    api: FakeGitHub, forge: GitHubForge, bare: Path
) -> None:
    """A fast-forward (the branch pushed onto the base) merges the pull request on GitHub with
    `merged_by: null`. Nobody merged it: not the author of the pull request, nor of its commits."""
    opened = forge.open(draft())
    git("update-ref", "refs/heads/main", opened.head, cwd=bare)
    found = forge.find(BRANCH, 1, paths=[BLUEPRINT])
    assert found is not None
    assert found.state is ProposalState.MERGED
    assert found.merged_by is None
    assert found.head_author == BOT
    assert found.merge_commit == opened.head
    assert found.files == opened.files
    pull = api.pull(1)
    assert (pull["merged"], pull["merged_by"], pull["user"]["login"]) == (True, None, BOT)


# ---------------------------------------------------------------------------------- failures


def test_a_bad_token_is_reported_with_a_hint_and_never_shown(make: MakeForge) -> None:
    secret = "ghp_WRONG-token-that-must-never-leak"
    forge = make(token=secret)
    assert secret not in repr(forge)
    with pytest.raises(ForgeError) as refused:
        forge.find(BRANCH)
    error = refused.value
    assert (
        str(error)
        == f"reading the proposal for branch {BRANCH}: GitHub answered 401 (Bad credentials)"
    )
    assert "token" in error.hint
    assert secret not in str(error) + error.hint + repr(error)


def test_the_token_is_removed_even_when_github_echoes_it(
    api: FakeGitHub, forge: GitHubForge
) -> None:
    echo = {"message": f"Bad request, headers were: Authorization: token {BOT_TOKEN}"}
    api.fail("GET", r"/pulls$", 400, body=echo)
    with pytest.raises(ForgeError) as failed:
        forge.find(BRANCH)
    assert BOT_TOKEN not in str(failed.value)
    assert "Authorization: token [token]" in str(failed.value)
    assert BOT_TOKEN not in repr(forge)


@pytest.mark.parametrize(
    ("status", "secondary", "expected"),
    [
        (403, False, "the API rate limit is used up until"),
        (429, False, "the API rate limit is used up until"),
        (403, True, "secondary rate limit holds requests until"),
    ],
)
def test_rate_limits_fail_fast_and_say_when_to_come_back(
    api: FakeGitHub, forge: GitHubForge, status: int, secondary: bool, expected: str
) -> None:
    if secondary:
        api.fail_rate_limit("GET", r"/pulls$", secondary=True)
    else:
        api.fail("GET", r"/pulls$", status)
    api.reset_log()
    started = time.monotonic()
    with pytest.raises(ForgeError, match=expected) as limited:
        forge.find(BRANCH)
    assert time.monotonic() - started < 2
    assert api.count() == 1  # neither slept through nor retried
    assert "UTC" in str(limited.value)
    assert "next run" in limited.value.hint


def test_rate_limit_message_counts_from_the_given_clock(api: FakeGitHub, make: MakeForge) -> None:
    reset = int(time.time()) + 600
    api.fail("GET", r"/pulls$", 403, headers={"x-ratelimit-reset": str(reset)})
    forge = make(now=lambda: datetime.fromtimestamp(reset - 90, UTC))
    with pytest.raises(ForgeError, match=r"\(in 90 s\)"):
        forge.find(BRANCH)


def test_a_403_without_rate_limit_points_at_the_permissions(
    api: FakeGitHub, forge: GitHubForge
) -> None:
    api.fail(
        "POST",
        r"/git/trees$",
        403,
        headers={"x-ratelimit-remaining": "4990", "retry-after": ""},
        body={"message": "Resource not accessible by integration"},
    )
    with pytest.raises(ForgeError) as refused:
        forge.open(draft())
    assert "GitHub answered 403 (Resource not accessible by integration)" in str(refused.value)
    assert "contents: write" in refused.value.hint
    assert "pull-requests: write" in refused.value.hint


def test_a_missing_repository_is_an_error_not_a_gone_proposal(api: FakeGitHub) -> None:
    forge = GitHubForge(f"{OWNER}/no-such-repo", BOT_TOKEN, base_url=api.url, timeout=2)
    try:
        with pytest.raises(ForgeError, match="GitHub answered 404") as missing:
            forge.find(BRANCH, 7)
        assert "can see it" in missing.value.hint
    finally:
        forge.disconnect()


def test_server_errors_on_reads_are_retried_a_bounded_number_of_times(
    api: FakeGitHub, forge: GitHubForge
) -> None:
    api.fail("GET", r"/pulls$", 502, times=2)
    assert forge.find(BRANCH) is None  # third time lucky

    api.reset_log()
    api.fail("GET", r"/pulls$", 503, times=None)
    with pytest.raises(ForgeError, match=r"GitHub answered 503 \(Service Unavailable\)"):
        forge.find(BRANCH)
    assert api.count("GET", f"{API}/pulls") == 3


def test_server_errors_on_posts_are_not_retried_blindly(
    api: FakeGitHub, forge: GitHubForge
) -> None:
    opened = forge.open(draft())
    api.fail("POST", r"/comments$", 500, times=None)
    with pytest.raises(ForgeError, match=r"commenting on the proposal #1: GitHub answered 500"):
        forge.comment(opened, "hello", CommentTopic.TIMED_OUT)
    assert api.count("POST", f"{API}/issues/1/comments") == 1
    api.clear_failures()


def test_a_timeout_is_reported(api: FakeGitHub, make: MakeForge) -> None:
    forge = make(timeout=1)
    api.delay(r"/pulls$", 1.5, method="GET", times=1)
    assert forge.find(BRANCH) is None  # one slow answer: the read is tried again

    api.delay(r"/pulls$", 3, method="GET")
    started = time.monotonic()
    with pytest.raises(ForgeError, match="GitHub did not answer within 1 s"):
        forge.find(BRANCH)
    assert time.monotonic() - started < 2.9


def test_unreachable_github(make: MakeForge) -> None:
    forge = make(base_url="http://127.0.0.1:9", timeout=1)
    with pytest.raises(ForgeError, match=r"cannot reach http://127\.0\.0\.1:9"):
        forge.find(BRANCH)


# ---------------------------------------------------------------------------------- settings


class _EnterpriseProxy:
    """Serves the fake under `/api/v3`, as GitHub Enterprise Server serves its API.

    Requests without the prefix get 404, so a forge that dropped the prefix anywhere fails."""

    def __init__(self, target: str, prefix: str = "/api/v3") -> None:
        host, _, port = target.removeprefix("http://").partition(":")
        self.paths: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

            def _forward(self) -> None:
                proxy.paths.append(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if not self.path.startswith(f"{prefix}/"):
                    status, headers, data = 404, [], b'{"message": "Not Found"}'
                else:
                    upstream = http.client.HTTPConnection(host, int(port), timeout=5)
                    try:
                        skip = {"host", "connection", "content-length"}
                        upstream.request(
                            self.command,
                            self.path.removeprefix(prefix),
                            body,
                            {k: v for k, v in self.headers.items() if k.lower() not in skip},
                        )
                        answer = upstream.getresponse()
                        status, headers, data = answer.status, answer.getheaders(), answer.read()
                    finally:
                        upstream.close()
                self.send_response(status)
                for key, value in headers:
                    if key.lower() not in {"connection", "content-length", "transfer-encoding"}:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{prefix}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _EnterpriseProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def test_a_github_enterprise_base_url_with_a_path_prefix(api: FakeGitHub) -> None:
    with _EnterpriseProxy(api.url) as proxy:
        with GitHubForge(FULL_NAME, BOT_TOKEN, base_url=f"{proxy.url}/", timeout=2) as forge:
            assert forge.base_url == proxy.url
            opened = forge.open(draft(reviewers=(BOB,)))
            assert forge.find(BRANCH, opened.number, paths=[BLUEPRINT]) == opened
            forge.close(opened, "Testing Enterprise.")
            assert forge.is_member("acme/platform", ALICE)
        assert len(proxy.paths) >= 12
        assert all(path.startswith("/api/v3/") for path in proxy.paths)
    assert api.pull(1)["state"] == "closed"


def test_writes_come_in_a_burst_then_one_a_second(api: FakeGitHub, forge: GitHubForge) -> None:
    started = time.monotonic()
    opened = forge.open(draft(labels=()))  # 4 writes: tree, commit, ref, pull request
    path = f"{API}/issues/{opened.number}/comments"

    def write(text: str) -> None:
        forge.request("POST", path, body={"body": text}, doing="commenting")

    for i in range(13):
        write(f"note {i}")
    # Past the burst of 15 the two last writes wait about a second each; how long the first
    # fifteen take depends on the machine's load, so the burst itself is checked on a virtual
    # clock below.
    assert time.monotonic() - started >= 1.5
    assert len(api.comments(1)) == 13


class VirtualClock:
    """A monotonic clock that moves only when slept on or told to, noting each sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 9))
        self.now += seconds


def test_the_pacer_lets_a_burst_through_then_one_write_an_interval() -> None:
    clock = VirtualClock()
    pacer = WritePacer(burst=15, interval=1.0, clock=clock, sleep=clock.sleep)
    for _ in range(15):
        pacer.wait()
    assert clock.slept == []  # the whole burst goes through at once
    pacer.wait()
    pacer.wait()
    assert clock.slept == [1.0, 1.0]  # then one write a second
    clock.now += 3.5  # a quiet spell earns 3.5 writes back, never more than the burst
    for _ in range(3):
        pacer.wait()
    assert clock.slept == [1.0, 1.0]
    pacer.wait()  # half a token left: half an interval to wait
    assert clock.slept == [1.0, 1.0, 0.5]
    clock.now += 60.0
    for _ in range(15):
        pacer.wait()
    assert clock.slept == [1.0, 1.0, 0.5]
    pacer.wait()
    assert clock.slept == [1.0, 1.0, 0.5, 1.0]


def test_a_pacer_without_an_interval_never_waits() -> None:
    clock = VirtualClock()
    pacer = WritePacer(burst=1, interval=0, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        pacer.wait()
    assert clock.slept == []


def test_bad_settings_are_configuration_errors() -> None:
    with pytest.raises(ConfigError, match="owner/name"):
        GitHubForge("just-a-name", BOT_TOKEN)
    with pytest.raises(ConfigError, match="https://"):
        GitHubForge(FULL_NAME, BOT_TOKEN, base_url="ftp://ghe.example/api/v3")
    with pytest.raises(ConfigError, match="no GitHub token"):
        GitHubForge(FULL_NAME, "")


def test_importing_the_adapter_does_not_import_pygithub() -> None:
    code = "import sys, reconciler.adapters.github_forge; print('github' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        # The shapes GitHub's REST API answers errors in.
        ({"message": "Not Found"}, "Not Found"),
        (
            {
                "message": "Validation Failed",
                "errors": [
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": "A pull request already exists for o:b.",
                    }
                ],
            },
            "Validation Failed: A pull request already exists for o:b.",
        ),
        (
            {
                "message": "Validation Failed",
                "errors": [{"resource": "Label", "field": "name", "code": "already_exists"}],
            },
            "Validation Failed: Label name already_exists",
        ),
        (
            {"message": "Validation Failed", "errors": [{"code": "missing_field"}]},
            "Validation Failed: missing_field",
        ),
        ({"message": "Bad", "errors": ["plain words", "", None, {}]}, "Bad: plain words"),
        ({"errors": [{"message": "only the detail"}]}, "only the detail"),
        ({"message": "", "errors": None}, ""),
        ({}, ""),
        ("not a mapping", ""),
        (None, ""),
    ],
)
def test_githubs_own_error_words_are_read_whole(data: object, message: str) -> None:
    """What a pull request's "already exists" is recognised by, and what an error shows."""
    assert github_message(data) == message


@pytest.mark.parametrize(
    ("usage", "text"),
    [
        (ApiUsage(requests=1, not_modified=0), "1 request to GitHub"),
        (ApiUsage(requests=0, not_modified=0), "0 requests to GitHub"),
        (
            ApiUsage(requests=12, not_modified=9, remaining=4981, limit=5000),
            "12 requests to GitHub (9 answered 304, not counted): 4,981 of 5,000 left",
        ),
        (
            ApiUsage(
                requests=2,
                not_modified=0,
                remaining=1200,
                limit=5000,
                resets_at=datetime(2026, 1, 2, 16, 5, tzinfo=UTC),
            ),
            "2 requests to GitHub: 1,200 of 5,000 left until 16:05Z",
        ),
        (ApiUsage(requests=3, not_modified=0, remaining=10), "3 requests to GitHub"),
        (ApiUsage(requests=3, not_modified=0, limit=10), "3 requests to GitHub"),
    ],
)
def test_a_runs_cost_on_the_api_is_said_in_one_line(usage: ApiUsage, text: str) -> None:
    assert usage.describe() == text
    assert usage.counted == usage.requests - usage.not_modified


_AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
_RESET = int(datetime(2026, 3, 1, 12, 30, tzinfo=UTC).timestamp())


@pytest.mark.parametrize(
    ("status", "headers", "data", "why", "wait"),
    [
        # The primary limit: nothing left, over at the reset GitHub names.
        (403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(_RESET)},
         {"message": "API rate limit exceeded"}, "the API rate limit is used up", 1800),
        (429, {"x-ratelimit-remaining": " 0 ", "x-ratelimit-reset": str(_RESET)}, {},
         "the API rate limit is used up", 1800),
        # Secondary limits: retry-after, the words, or any 429; a minute when nothing says.
        (403, {"Retry-After": "90"}, {}, "GitHub's secondary rate limit holds requests", 90),
        (403, {}, {"message": "You have exceeded a Secondary Rate Limit."},
         "GitHub's secondary rate limit holds requests", 60),
        (429, {}, {}, "GitHub's secondary rate limit holds requests", 60),
        # Both: the secondary's words win the reason, the later end wins the wait.
        (403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(_RESET),
               "Retry-After": "3600"},
         {"message": "secondary rate limit"}, "GitHub's secondary rate limit holds requests",
         3600),
        (403, {"X-RateLimit-Remaining": "0", "Retry-After": "5"}, {},
         "the API rate limit is used up", 5),
        # Not limits: another status, or a 403 that says nothing of one.
        (404, {"X-RateLimit-Remaining": "0"}, {"message": "secondary rate limit"}, None, None),
        (403, {"X-RateLimit-Remaining": "1", "Retry-After": "soon"},
         {"message": "Resource not accessible by integration"}, None, None),
    ],
)  # fmt: skip
def test_which_answers_are_rate_limits_and_when_they_lift(
    status: int, headers: dict[str, str], data: Any, why: str | None, wait: int | None
) -> None:
    from github import GithubException

    limit = limit_of(GithubException(status, data, headers), lambda: _AT)
    if why is None:
        assert limit is None
        return
    assert limit is not None
    assert (limit.why, limit.wait) == (why, wait)
    assert limit.until == _AT + timedelta(seconds=wait)
    detail = github_message(data)
    assert limit.said == f"GitHub answered {status}" + (f" ({detail})" if detail else "")


def test_an_error_that_is_not_githubs_is_no_rate_limit() -> None:
    assert limit_of(RuntimeError("429"), lambda: _AT) is None


def test_a_limit_is_said_in_utc_and_a_reset_already_past_waits_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from github import GithubException

    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        past = int((_AT - timedelta(minutes=5)).timestamp())
        headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(past)}
        limit = limit_of(GithubException(403, {}, headers), lambda: _AT)
        assert limit is not None
        assert limit.wait == 0
        assert limit.describe() == (
            "GitHub answered 403; the API rate limit is used up until 2026-03-01 11:55:00 UTC"
            " (in 0 s)"
        )
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_the_pace_scales_with_the_interval() -> None:
    clock = VirtualClock()
    pacer = WritePacer(burst=2, interval=2.0, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        pacer.wait()
    assert clock.slept == [2.0]  # past the burst, one interval
    clock.now += 1.0  # half an interval earns half a write back
    pacer.wait()
    assert clock.slept == [2.0, 1.0]
