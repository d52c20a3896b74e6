"""Starting points on the fake GitHub API, for the tests that drive a GitHub client against it.

Why it exists: the forge, the pull-request comments, `check-change --comment` and the fake's
own tests begin from the same repository, people and pull request; one definition keeps them
alike, and every one of them checks at the end that the fake hit no error of its own.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from tests.fakes.github_api import FakeGitHub

OWNER, NAME = "acme", "service-blueprints"
BOT, ALICE, BOB = "reconciler-bot", "alice", "bob"


@contextmanager
def serving(bare: Path) -> Iterator[FakeGitHub]:
    """The fake serving the bare repository `bare` as acme/service-blueprints; on leaving, it
    must not have failed on any request (a failure of its own would pass for GitHub's)."""
    with FakeGitHub(bare, OWNER, NAME) as fake:
        yield fake
        assert fake.internal_errors == [], "\n".join(fake.internal_errors)


def add_people(fake: FakeGitHub, tokens: Mapping[str, str]) -> None:
    """The bot, alice (Alice Approver, in team acme/platform) and bob (Bob Builder), each
    signing in with their token in `tokens`."""
    fake.add_user(BOT, tokens[BOT])
    fake.add_user(ALICE, tokens[ALICE], name="Alice Approver", email="alice@example.com")
    fake.add_user(BOB, tokens[BOB], name="Bob Builder", email="bob@example.com")
    fake.add_team(OWNER, "platform", [ALICE])


def open_pull(fake: FakeGitHub, title: str, alice_token: str) -> int:
    """alice pushes a branch `change` (adding notes.md) and opens pull request `title` from it
    into main, through the API with `alice_token`; the pull request's number."""
    fake.push_commit("change", {"notes.md": "a change\n"}, ALICE)
    request = urllib.request.Request(
        f"{fake.url}/repos/{OWNER}/{NAME}/pulls",
        data=json.dumps({"title": title, "head": "change", "base": "main"}).encode(),
        headers={"Authorization": f"token {alice_token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as answer:
        return int(json.load(answer)["number"])
