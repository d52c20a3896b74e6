"""GitHubPullComments against the fake GitHub API, through the real PyGithub client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.adapters.github_comments import GitHubPullComments
from reconciler.core.errors import ForgeError
from tests.fakes.github_api import FakeGitHub, init_bare_repo
from tests.github_setup import NAME, OWNER, open_pull, serving

BOT_TOKEN = "ghp_bot-token-0123456789abcdef"
MARKER = "<!-- reconciler:check-change -->"
COMMENTS = f"/repos/{OWNER}/{NAME}/issues/1/comments"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[FakeGitHub]:
    bare = tmp_path / "origin.git"
    init_bare_repo(bare, {"README.md": "# blueprints\n"})
    with serving(bare) as fake:
        fake.add_user("reconciler-bot", BOT_TOKEN)
        fake.add_user("alice", "alice-token")
        open_pull(fake, "A change", "alice-token")
        yield fake


@pytest.fixture
def comments(api: FakeGitHub) -> Iterator[GitHubPullComments]:
    client = GitHubPullComments(f"{OWNER}/{NAME}", BOT_TOKEN, base_url=api.url, timeout=2)
    yield client
    client.disconnect()


def test_finds_its_comment_past_the_first_page(
    api: FakeGitHub, comments: GitHubPullComments
) -> None:
    for index in range(120):
        api.comment(1, "alice", f"comment {index}")
    first = comments.upsert(1, MARKER, f"{MARKER}\nfirst")
    assert (first.created, first.changed) == (True, True)
    api.comment(1, "alice", "one more")

    api.reset_log()
    second = comments.upsert(1, MARKER, f"{MARKER}\nsecond")
    assert (second.id, second.created, second.changed) == (first.id, False, True)
    pages = [r.query.get("page") for r in api.requests if r.method == "GET"]
    assert pages == ["1", "2"]
    assert [c["body"] for c in api.comments(1)][120] == f"{MARKER}\nsecond"
    assert len(api.comments(1)) == 122


def test_an_unchanged_body_is_not_written_again(
    api: FakeGitHub, comments: GitHubPullComments
) -> None:
    comments.upsert(1, MARKER, f"{MARKER}\nsame")
    api.reset_log()
    result = comments.upsert(1, MARKER, f"{MARKER}\nsame")
    assert (result.created, result.changed) == (False, False)
    assert api.writes() == []


def test_a_person_quoting_the_marker_is_not_taken_for_ours(
    api: FakeGitHub, comments: GitHubPullComments
) -> None:
    api.comment(1, "alice", f"> {MARKER}\n> why is this forbidden?")
    result = comments.upsert(1, MARKER, f"{MARKER}\nreport")
    assert result.created
    assert [c["body"] for c in api.comments(1)] == [
        f"> {MARKER}\n> why is this forbidden?",
        f"{MARKER}\nreport",
    ]


def test_a_missing_pull_request_is_a_forge_error_naming_it(
    comments: GitHubPullComments,
) -> None:
    with pytest.raises(ForgeError) as raised:
        comments.upsert(7, MARKER, f"{MARKER}\nreport")
    assert str(raised.value).startswith(
        f"reading the comments of pull request #7 of {OWNER}/{NAME}: GitHub answered 404"
    )
    assert BOT_TOKEN not in str(raised.value) + raised.value.hint
    assert BOT_TOKEN not in repr(comments)
