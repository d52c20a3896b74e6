"""The contract every forge keeps: one suite, run against the local forge (branches of a real
repository), against GitHubForge on the fake GitHub API (through the real PyGithub), and
against the paired forge that also reaches a second repository there (for proposals whose
files are all in the blueprint repository, it must be that repository's forge).

The approval lifecycle is written against the Forge port alone; these cases are what it relies
on: a proposal opened once and found again by a new run, rewritten on top of the moved main
branch, found merged (by whom, with which files, changing which paths) or closed unmerged,
commented once per topic, and the approver's identity matched by `is_member`. How each forge
names a person differs (a git `Name <email>` locally, a login on GitHub), so identities are
checked through `is_member`, as the approval lifecycle checks them.

What only one forge does (GitHub's rate limits, retries, reviewers and labels; the local
forge's fast-forward merges and git notes) is in its own tests.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pygit2
import pytest

from reconciler.adapters.github_forge import GitHubForge
from reconciler.adapters.github_pairs import GitHubPairedForge
from reconciler.adapters.local_forge import NOTES_REF, LocalForge
from reconciler.core.approvals.proposals import (
    CommentTopic,
    Draft,
    Proposal,
    ProposalState,
    comment_marker,
    render_metadata,
)
from tests.fakes.github_api import FakeGitHub, init_bare_repo
from tests.github_setup import ALICE, BOB, BOT, NAME, OWNER, add_people, serving

BLUEPRINT = "blueprints/web/blueprint.yaml"
SEED = {"README.md": "# Service blueprints\n", BLUEPRINT: "replicas: 1\nimage: web:1.0\n"}
BRANCH = "reconciler/web/scale-beyond-limits"
PROPOSED = "replicas: 4\nimage: web:1.0\n"
#: Who the people are in git (the local forge knows them by these).
PEOPLE = {ALICE: ("Alice Approver", "alice@example.com"), BOB: ("Bob Builder", "bob@example.com")}


@dataclass
class Harness:
    """A forge under test, and what people do on it between two runs."""

    forge: Any  # Forge
    #: A new forge on the same repository, as the next run would open.
    reopen: Callable[[], Any]
    #: `who` merges the proposal (with a merge commit).
    merge: Callable[[Proposal, str], None]
    #: `who` closes the proposal without merging it (locally: deletes its branch).
    reject: Callable[[Proposal, str], None]
    #: `who` pushes one commit to `branch` (a None content deletes the file); its id.
    push: Callable[[str, Mapping[str, str | None], str], str]
    #: The tip of a branch, or None when there is no such branch.
    tip: Callable[[str], str | None]
    #: The first parent of a commit.
    parent: Callable[[str], str]
    #: The comments the forge left on the proposal, oldest first, each as its full text.
    comments: Callable[[Proposal], list[str]]


def git(*args: str, cwd: Path, who: str = "") -> str:
    """The git CLI without the user's configuration, as `who` when given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env |= {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    if who:
        name, email = PEOPLE[who]
        env |= {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email}
        env |= {"GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    )
    return done.stdout


def local(tmp_path: Path) -> Iterator[Harness]:
    root = tmp_path / "fleet"
    root.mkdir()
    for path, text in SEED.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    git("init", "-q", "-b", "main", cwd=root)
    git("add", "-A", cwd=root)
    git("commit", "-qm", "Initial blueprints", cwd=root, who=BOB)

    def connect() -> LocalForge:
        return LocalForge(root, teams={"platform": (ALICE,)})

    def push(branch: str, files: Mapping[str, str | None], who: str) -> str:
        git("checkout", "-q", branch, cwd=root)
        for path, text in files.items():
            if text is None:
                git("rm", "-q", path, cwd=root)
            else:
                (root / path).parent.mkdir(parents=True, exist_ok=True)
                (root / path).write_text(text)
                git("add", path, cwd=root)
        git("commit", "-qm", "A person's change", cwd=root, who=who)
        git("checkout", "-q", "main", cwd=root)
        return git("rev-parse", branch, cwd=root).strip()

    def comments(proposal: Proposal) -> list[str]:
        repo = pygit2.Repository(str(root))
        try:
            note = repo.lookup_note(proposal.head, NOTES_REF).message
        except KeyError:
            return []
        return [entry.strip("\n") for entry in note.split("\n---\n")]

    def merge(proposal: Proposal, who: str) -> None:
        git("merge", "--no-ff", "-q", proposal.branch, "-m", "Merge", cwd=root, who=who)

    def reject(proposal: Proposal, who: str) -> None:
        git("branch", "-q", "-D", proposal.branch, cwd=root)  # a person deletes it unmerged

    def tip(branch: str) -> str | None:
        ref = pygit2.Repository(str(root)).references.get(f"refs/heads/{branch}")
        return None if ref is None else str(ref.target)

    yield Harness(
        forge=connect(),
        reopen=connect,
        merge=merge,
        reject=reject,
        push=push,
        tip=tip,
        parent=lambda sha: git("rev-parse", f"{sha}^", cwd=root).strip(),
        comments=comments,
    )


def github(tmp_path: Path, *, paired: bool = False) -> Iterator[Harness]:
    bare = tmp_path / "origin.git"
    init_bare_repo(bare, SEED)
    with serving(bare) as api:
        add_people(api, {BOT: "bot-token", ALICE: "alice-token", BOB: "bob-token"})
        made: list[GitHubForge] = []
        if paired:
            other = tmp_path / "deploy.git"
            init_bare_repo(other, {"deploy/web.yaml": "replicas: 1\n"})
            api.host(FakeGitHub(other, "org", "deploy-config"))

        def connect() -> Any:
            forge = GitHubForge(
                f"{OWNER}/{NAME}", "bot-token", base_url=api.url, timeout=2, teams=("platform",)
            )
            made.append(forge)
            if not paired:
                return forge
            deploy = GitHubForge("org/deploy-config", "bot-token", base_url=api.url, timeout=2)
            made.append(deploy)
            return GitHubPairedForge(forge, {"org/deploy-config": deploy})

        def number(proposal: Proposal) -> int:
            assert proposal.number is not None
            return proposal.number

        def merge(proposal: Proposal, who: str) -> None:
            api.merge_pull(number(proposal), who)

        yield Harness(
            forge=connect(),
            reopen=connect,
            merge=merge,
            reject=lambda p, who: api.close_pull(number(p), who),
            push=api.push_commit,
            tip=api.branch_sha,
            parent=lambda sha: git("rev-parse", f"{sha}^", cwd=bare).strip(),
            comments=lambda p: [str(c["body"]) for c in api.comments(number(p))],
        )
        for forge in made:
            forge.disconnect()


def github_paired(tmp_path: Path) -> Iterator[Harness]:
    """The paired forge (a second repository on the same GitHub, for manifests kept there):
    for a proposal whose files are all in the blueprint repository, it is that repository's
    forge, and keeps the contract as it does."""
    yield from github(tmp_path, paired=True)


@pytest.fixture(params=[local, github, github_paired], ids=["local", "github", "github-paired"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    yield from request.param(tmp_path)


def draft(
    files: Mapping[str, str] | None = None,
    *,
    title: str = "Scale web beyond its limits",
    note: str = "Web is at 95 % CPU.",
    listed: tuple[str, ...] | None = None,
) -> Draft:
    files = dict(files or {BLUEPRINT: PROPOSED})
    metadata = {"key": f"web/{BRANCH}", "files": sorted(listed or files)}
    return Draft(
        key=f"web/{BRANCH}",
        branch=BRANCH,
        title=title,
        body=f"{note}\n\n{render_metadata(metadata)}\n",
        files=files,
        labels=("reconciler",),
        commit_message=f"{title}\n\nProposed by the reconciler.",
    )


def find(harness: Harness, opened: Proposal, paths: Sequence[str] = (BLUEPRINT,)) -> Proposal:
    """The proposal as the next run's approval lifecycle looks it up, from its own record of
    it (a forge may take one look at the open proposals for a whole run)."""
    found: Proposal | None = harness.reopen().find(
        opened.branch, opened.number, opened.head, list(paths)
    )
    assert found is not None
    return found


def unchanged(found: Proposal, opened: Proposal) -> None:
    """`found` is `opened`, looked up again while still open at the recorded head: a forge may
    leave out what that commit holds (the caller proposed it), or give it as it was."""
    assert found.state is ProposalState.OPEN
    assert (found.key, found.branch, found.number, found.head, found.title) == (
        opened.key,
        opened.branch,
        opened.number,
        opened.head,
        opened.title,
    )
    assert found.files in ({}, opened.files)


# ---------------------------------------------------------------------------------- open, find


def test_open_proposes_the_files_on_a_branch_off_main(harness: Harness) -> None:
    main = harness.tip("main")
    wanted = draft()
    opened = harness.forge.open(wanted)
    assert opened.state is ProposalState.OPEN
    assert (opened.key, opened.branch, opened.title) == (wanted.key, BRANCH, wanted.title)
    assert opened.body.strip() == wanted.body.strip()
    assert opened.head == harness.tip(BRANCH)
    assert harness.parent(opened.head) == main
    assert opened.files == {BLUEPRINT: PROPOSED}
    assert opened.changed is None  # nothing merged yet
    assert (opened.merged_by, opened.merge_commit) == (None, None)
    assert harness.forge.halted() is None


def test_a_new_run_finds_the_open_proposal_and_opening_again_changes_nothing(
    harness: Harness,
) -> None:
    opened = harness.forge.open(draft())
    fresh = harness.reopen()
    assert fresh.find(BRANCH, paths=[BLUEPRINT]) == opened
    unchanged(find(harness, opened), opened)
    assert fresh.open(draft()) == opened
    assert harness.tip(BRANCH) == opened.head


def test_what_was_never_proposed_is_not_found_and_a_lost_one_is_gone(harness: Harness) -> None:
    assert harness.forge.find("reconciler/web/never-proposed") is None
    gone = harness.forge.find(BRANCH, 42, head="abc123")
    assert gone == Proposal(key=BRANCH, branch=BRANCH, state=ProposalState.GONE, head="abc123")


def test_files_are_read_at_the_head_and_missing_ones_left_out(harness: Harness) -> None:
    extra = "blueprints/web/requests/scale-to-zero.yaml"
    opened = harness.forge.open(draft(listed=(BLUEPRINT, extra)))
    assert opened.files == {BLUEPRINT: PROPOSED}
    harness.push(BRANCH, {extra: "operation: scale-to-zero\n", BLUEPRINT: None}, BOB)
    found = find(harness, opened, [BLUEPRINT, extra])
    assert found.files == {extra: "operation: scale-to-zero\n"}


def test_a_persons_push_shows_in_the_head_its_author_and_the_files(harness: Harness) -> None:
    opened = harness.forge.open(draft())
    pushed = harness.push(BRANCH, {BLUEPRINT: "replicas: 40\nimage: web:1.0\n"}, BOB)
    found = find(harness, opened)
    assert found.state is ProposalState.OPEN
    assert found.head == pushed
    assert harness.forge.is_member(BOB, found.head_author)
    assert not harness.forge.is_member(ALICE, found.head_author)
    assert found.files == {BLUEPRINT: "replicas: 40\nimage: web:1.0\n"}


# ---------------------------------------------------------------------------------- update


def test_update_rewrites_the_proposal_on_top_of_the_moved_main_branch(harness: Harness) -> None:
    opened = harness.forge.open(draft())
    main = harness.push("main", {"README.md": "# Moved on\n"}, ALICE)
    newer = draft({BLUEPRINT: "replicas: 6\nimage: web:1.0\n"}, title="Scale web to 6")

    updated = harness.forge.update(opened, newer)

    assert updated.state is ProposalState.OPEN
    assert (updated.branch, updated.number, updated.title) == (BRANCH, opened.number, newer.title)
    assert updated.body.strip() == newer.body.strip()
    assert updated.head == harness.tip(BRANCH) != opened.head
    assert harness.parent(updated.head) == main  # one commit, on the main branch as it is now
    assert updated.files == {BLUEPRINT: "replicas: 6\nimage: web:1.0\n"}
    assert harness.reopen().find(BRANCH, paths=[BLUEPRINT]) == updated


# ---------------------------------------------------------------------------------- endings


def test_a_merged_proposal_says_who_merged_it_and_what_the_merge_brought(
    harness: Harness,
) -> None:
    opened = harness.forge.open(draft())
    harness.merge(opened, ALICE)
    found = find(harness, opened)
    assert found.state is ProposalState.MERGED
    assert found.head == opened.head
    assert found.merge_commit is not None and found.merge_commit == harness.tip("main")
    assert found.merged_at is not None
    assert found.merged_by is not None
    assert harness.forge.is_member(ALICE, found.merged_by)
    assert not harness.forge.is_member(BOB, found.merged_by)
    assert found.files == opened.files  # read where the merge left them
    assert found.changed == (BLUEPRINT,)


def test_a_merge_names_every_path_it_changed_beside_the_proposed_ones(harness: Harness) -> None:
    opened = harness.forge.open(draft())
    slipped = "audit/web/2026-02-10/153000-approval_granted-apr-1.json"
    harness.push(BRANCH, {slipped: "{}\n"}, BOB)
    harness.merge(opened, ALICE)
    found = find(harness, opened)
    assert found.state is ProposalState.MERGED
    assert found.changed == tuple(sorted([BLUEPRINT, slipped]))
    assert found.files == opened.files  # only the paths the caller asked for


def test_a_proposal_closed_unmerged_is_found_closed(harness: Harness) -> None:
    opened = harness.forge.open(draft())
    harness.reject(opened, ALICE)
    found = find(harness, opened)
    assert found.state is ProposalState.CLOSED
    assert (found.head, found.merged_by, found.merge_commit) == (opened.head, None, None)
    assert found.files == opened.files  # the commit outlives its branch


def test_close_comments_once_and_removes_the_branch(harness: Harness) -> None:
    opened = harness.forge.open(draft())
    harness.forge.close(opened, "Superseded: the load went down.")
    closing = f"{comment_marker(CommentTopic.CLOSING)}\nSuperseded: the load went down."
    assert harness.comments(opened) == [closing]
    assert harness.tip(BRANCH) is None
    found = find(harness, opened)
    assert (found.state, found.head, found.files) == (
        ProposalState.CLOSED,
        opened.head,
        opened.files,
    )
    harness.forge.close(opened, "Superseded: the load went down.")  # again: nothing more
    assert harness.comments(opened) == [closing]


def test_a_comment_is_made_once_per_topic(harness: Harness) -> None:
    opened = harness.forge.open(draft())
    harness.forge.comment(opened, "It timed out.", CommentTopic.TIMED_OUT)
    harness.reopen().comment(opened, "It timed out.", CommentTopic.TIMED_OUT)  # a lost answer
    harness.forge.comment(opened, "Someone pushed.", CommentTopic.EDITED_BY_A_PERSON)
    assert harness.comments(opened) == [
        f"{comment_marker(CommentTopic.TIMED_OUT)}\nIt timed out.",
        f"{comment_marker(CommentTopic.EDITED_BY_A_PERSON)}\nSomeone pushed.",
    ]
    unchanged(find(harness, opened), opened)  # comments leave the branch alone


# ---------------------------------------------------------------------------------- is_member


def test_is_member_matches_a_person_and_the_teams_the_policies_declare(harness: Harness) -> None:
    opened = harness.forge.open(draft())
    harness.push(BRANCH, {"README.md": "# Bob was here\n"}, BOB)
    bob = find(harness, opened).head_author
    harness.merge(opened, ALICE)
    alice = find(harness, opened).merged_by
    assert alice is not None
    forge = harness.forge
    assert forge.is_member(ALICE, alice) and forge.is_member(BOB, bob)
    assert forge.is_member(ALICE.upper(), alice)  # whatever the case
    assert forge.is_member("platform", alice)  # a team the global policies declare
    assert not forge.is_member("platform", bob)
    assert not forge.is_member("carol", alice)
    assert not forge.is_member("", alice)
