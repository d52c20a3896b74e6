"""Approval proposals as values: what the reconciler asks a forge to open, and what it finds.

A change that needs a person becomes a pull request (on GitHub) or a branch (the local forge);
merging it is the approval. These types are the whole vocabulary between the approval logic in
the core and the forge adapters: a `Draft` is what the reconciler wants to exist, a `Proposal`
is what the forge reports back, with enough facts (who merged, the head commit, whether a
person pushed to it, what the merge changed) for the core to decide whether a merge really
approves anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from reconciler.core.trail.proposal_metadata import (
    METADATA_MARKER,
    ProposalMetadata,
    hidden_block,
    parse_metadata,
    read_hidden,
    render_metadata,
)

__all__ = [
    "METADATA_MARKER",
    "CommentTopic",
    "Draft",
    "Proposal",
    "ProposalMetadata",
    "ProposalState",
    "comment_marker",
    "elsewhere",
    "hidden_block",
    "parse_metadata",
    "read_hidden",
    "render_metadata",
    "where_is",
]


class ProposalState(StrEnum):
    OPEN = "open"
    MERGED = "merged"
    #: Closed without merging (on the local forge: the branch deleted unmerged).
    CLOSED = "closed"
    #: Nothing by that name exists on the forge any more, and it was not merged.
    GONE = "gone"


class CommentTopic(StrEnum):
    """What a comment of the reconciler's on a proposal is about. A proposal gets at most one
    comment per topic, so a forge that cannot tell whether a comment was posted (its answer
    was lost) looks for the topic's comment before posting it again."""

    #: The proposal timed out and is left open for a person.
    TIMED_OUT = "timed-out"
    #: A person pushed to the proposal, so the reconciler stopped rewriting it.
    EDITED_BY_A_PERSON = "edited-by-a-person"
    #: Why the reconciler closes the proposal (superseded, expired, landed without approval).
    CLOSING = "closing"
    #: What came of the proposal once it ended (granted and what followed, refused and how to
    #: fix it, rejected): one comment, edited in place as more follows.
    OUTCOME = "outcome"
    #: Which pull request in the other repository is this one's pair (a proposal whose
    #: manifests live in another repository is two pull requests).
    PAIRED = "paired"


#: Between a repository and a path in a proposal's file key: `org/deploy-config:deploy/web.yaml`
#: names a file in another repository (the manifests Argo CD or Flux apply, kept there).
ELSEWHERE = ":"


def elsewhere(repository: str, path: str) -> str:
    """The key of a proposed file that lives in `repository` (`owner/name` on the forge),
    not in the blueprint repository."""
    return f"{repository}{ELSEWHERE}{path}"


def where_is(key: str) -> tuple[str, str]:
    """(repository, path) of a proposed file's key; repository "" for the blueprint
    repository's own files (the blueprints and request files the reconciler writes, whose
    paths never hold a colon)."""
    repository, sep, path = key.partition(ELSEWHERE)
    if not sep or repository.count("/") != 1 or not path:
        return "", key
    return repository, path


def comment_marker(topic: CommentTopic) -> str:
    """The hidden first line of the reconciler's comment on a topic (an HTML comment GitHub
    does not render): how the comment is found again."""
    return f"<!-- reconciler:comment {topic} -->"


@dataclass(frozen=True, kw_only=True)
class Draft:
    """A proposal the reconciler wants to exist: a branch off the base with these files."""

    key: str
    branch: str
    title: str
    body: str
    #: Path → new content; the branch is the base plus exactly these files.
    files: Mapping[str, str]
    labels: tuple[str, ...] = ()
    #: Users and teams asked to review (teams written `org/slug`).
    reviewers: tuple[str, ...] = ()
    commit_message: str = ""


@dataclass(frozen=True, kw_only=True)
class Proposal:
    """A proposal as the forge sees it now."""

    key: str
    branch: str
    state: ProposalState
    #: The branch tip, or the last known one once it is gone.
    head: str
    title: str = ""
    body: str = ""
    number: int | None = None
    url: str = ""
    created_at: datetime | None = None
    merged_by: str | None = None
    merged_at: datetime | None = None
    merge_commit: str | None = None
    closed_by: str | None = None
    closed_at: datetime | None = None
    #: The author of the branch tip, to tell the reconciler's commits from a person's.
    head_author: str = ""
    #: The files the proposal is about (path → content): as merged once it is merged (the merge
    #: commit), else at the branch tip.
    files: Mapping[str, str] = field(default_factory=dict)
    #: Once merged, every path the merge changed on the base branch (GitHub: the pull request's
    #: files; the local forge: the merge commit against its first parent). None when the forge
    #: cannot tell: a merge approves only when it changed nothing but the proposed files, since
    #: a branch can carry more than the reconciler put on it. While open, the paths it changes
    #: against the base when its tip moved from the one recorded (else None).
    changed: tuple[str, ...] | None = None
    labels: tuple[str, ...] = ()

    @property
    def metadata(self) -> ProposalMetadata:
        return parse_metadata(self.body)

    @property
    def reference(self) -> str:
        return f"#{self.number}" if self.number is not None else self.branch
