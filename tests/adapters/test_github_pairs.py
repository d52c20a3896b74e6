"""The paired GitHub forge on one fake GitHub hosting two repositories: a proposal whose
manifests live in org/deploy-config is a pull request in each, found again as one proposal.

The whole loop (judged merges, holds, withdrawals) is in tests/scenarios/test_write_back_github.py;
these are the adapter's own promises: what `find` makes of each pair of states, and that once
both pull requests exist, a refused comment fails nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconciler.adapters.github_forge import GitHubForge
from reconciler.adapters.github_pairs import GitHubPairedForge
from reconciler.core.approvals.proposals import (
    CommentTopic,
    Draft,
    ProposalState,
    comment_marker,
    elsewhere,
    render_metadata,
)
from tests.fakes.github_api import FakeGitHub, init_bare_repo
from tests.github_setup import ALICE, BOB, BOT, NAME, OWNER, add_people, serving

BLUEPRINT = "blueprints/web/blueprint.yaml"
MANIFEST = "deploy/web.yaml"
REMOTE = "org/deploy-config"
KEY = elsewhere(REMOTE, MANIFEST)
BRANCH = "reconciler/web/scale-beyond-limits"
PATHS = [BLUEPRINT, KEY]


@dataclass
class Two:
    api: FakeGitHub
    deploy: FakeGitHub
    forge: GitHubPairedForge

    def reopen(self) -> GitHubPairedForge:
        return connect(self.api)


def connect(api: FakeGitHub) -> GitHubPairedForge:
    primary = GitHubForge(f"{OWNER}/{NAME}", "bot-token", base_url=api.url, timeout=2)
    deploy = GitHubForge(REMOTE, "deploy-token", base_url=api.url, timeout=2)
    return GitHubPairedForge(primary, {REMOTE: deploy})


@pytest.fixture
def two(tmp_path: Path) -> Iterator[Two]:
    bare, other = tmp_path / "origin.git", tmp_path / "deploy.git"
    init_bare_repo(bare, {BLUEPRINT: "max_replicas: 5\n"})
    init_bare_repo(other, {MANIFEST: "replicas: 5  # kept\n"})
    with serving(bare) as api:
        add_people(api, {BOT: "bot-token", ALICE: "alice-token", BOB: "bob-token"})
        api.add_user("deploy-bot", "deploy-token")
        deploy = api.host(FakeGitHub(other, "org", "deploy-config"))
        forge = connect(api)
        yield Two(api=api, deploy=deploy, forge=forge)
        forge.disconnect()


def draft() -> Draft:
    files = {BLUEPRINT: "max_replicas: 6\n", KEY: "replicas: 6  # kept\n"}
    return Draft(
        key=f"web/{BRANCH}",
        branch=BRANCH,
        title="Scale web beyond its limits",
        body=render_metadata({"key": f"web/{BRANCH}", "files": sorted(files)}),
        files=files,
        labels=("reconciler",),
    )


def test_a_draft_with_a_file_elsewhere_opens_a_pull_request_in_each_repository(
    two: Two,
) -> None:
    opened = two.forge.open(draft())
    (own,) = two.api.pulls()
    (other,) = two.deploy.pulls()
    assert opened.number == own["number"] and opened.branch == BRANCH
    assert two.api.read_file(BRANCH, BLUEPRINT) == "max_replicas: 6\n"
    assert two.api.read_file(BRANCH, MANIFEST) is None
    assert two.deploy.read_file(BRANCH, MANIFEST) == "replicas: 6  # kept\n"
    assert other["user"]["login"] == "deploy-bot"  # opened with the manifests' token
    marker = comment_marker(CommentTopic.PAIRED)
    (linked,) = [c["body"] for c in two.api.comments(own["number"]) if marker in c["body"]]
    assert other["html_url"] in linked
    (back,) = [c["body"] for c in two.deploy.comments(other["number"]) if marker in c["body"]]
    assert own["html_url"] in back


def test_a_refused_comment_on_the_other_half_fails_nothing(two: Two) -> None:
    two.deploy.fail("POST", r"/issues/\d+/comments$", 500, times=None)
    opened = two.forge.open(draft())
    assert opened.state is ProposalState.OPEN
    assert len(two.api.pulls()) == 1
    (other,) = two.deploy.pulls()
    assert two.deploy.comments(other["number"]) == []  # refused, and logged
    assert two.api.comments(opened.number or 0)  # the blueprint half has its link


@pytest.mark.parametrize(
    ("merged", "closed", "state", "by"),
    [
        ((), (), ProposalState.OPEN, None),
        (("manifests",), (), ProposalState.MERGED, ALICE),
        (("manifests", "blueprint"), (), ProposalState.MERGED, ALICE),
        (("blueprint",), (), ProposalState.MERGED, BOB),
        ((), ("manifests",), ProposalState.CLOSED, None),
        ((), ("blueprint",), ProposalState.CLOSED, None),
    ],
)
def test_the_pair_is_found_as_one_proposal(
    two: Two,
    merged: tuple[str, ...],
    closed: tuple[str, ...],
    state: ProposalState,
    by: str | None,
) -> None:
    """Merged when the manifests half is, by whoever merged it, with both halves' files (the
    manifest as merged); a blueprint half merged alone is merged without the manifest, so its
    merge approves nothing; a half closed unmerged closes the pair."""
    opened = two.forge.open(draft())
    (other,) = two.deploy.pulls()
    if "manifests" in merged:
        two.deploy.merge_pull(other["number"], ALICE)
    if "blueprint" in merged:
        two.api.merge_pull(opened.number or 0, BOB)
    if "manifests" in closed:
        two.deploy.close_pull(other["number"], BOB)
    if "blueprint" in closed:
        two.api.close_pull(opened.number or 0, BOB)
    found = two.reopen().find(BRANCH, opened.number, opened.head, PATHS)
    assert found is not None
    assert (found.state, found.merged_by, found.number) == (state, by, opened.number)
    if state is ProposalState.CLOSED:
        assert found.closed_by == BOB
    if "manifests" in merged:
        assert found.files == {BLUEPRINT: "max_replicas: 6\n", KEY: "replicas: 6  # kept\n"}
        assert found.changed == (BLUEPRINT, KEY)
    elif merged:
        assert KEY not in found.files
