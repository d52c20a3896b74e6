"""Whether a merge really approves a proposal: only what the proposal says, merged in time by
an approver, judged against the audit trail's copy of its metadata (never the pull request's
body or branch, which anyone who can push may change).

The judgement refuses a merge by someone who is not an approver, a proposed file that is not, as
merged, what the reconciler proposed (its digest), a merge that changed any other path too, a
blueprint edit that loosens a forbidden operation, and a proposal that went stale. A blueprint
edit is judged by the file the merge produced, not by the blueprint the cycle happened to load.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from reconciler.core.approvals.landings import (
    beyond_the_proposal,
    extra_paths,
    forbidden_in,
    globally_forbidden,
)
from reconciler.core.approvals.lifecycle import (
    Kind,
    Landing,
    Refusal,
    digest,
)
from reconciler.core.approvals.pending import (
    Pending,
)
from reconciler.core.approvals.proposals import Proposal
from reconciler.core.blueprint.model import Blueprint
from reconciler.core.ids import utc
from reconciler.core.trail.proposal_metadata import ProposalMetadata

__all__ = [
    "judge_merge",
    "still_as_proposed",
]


class Judgement(StrEnum):
    GRANTED = "granted"
    REFUSED = "refused"


@dataclass(frozen=True, kw_only=True)
class MergeJudgement:
    judgement: Judgement
    reasons: tuple[str, ...]
    latency: float | None = None
    #: When the merge happened, as far as the cycle's clock can tell.
    merged_at: datetime | None = None
    #: For a blueprint edit: the digest of the blueprint file as the merge left it (None when
    #: the merge left no such file). A refused edit holds the service while it is loaded.
    merged_digest: str | None = None
    #: For a blueprint edit: the path of the blueprint file the proposal edits.
    merged_path: str = ""
    #: Paths the merge changed beside the proposed files (None when the forge cannot tell):
    #: a refusal that brought in anything else may have brought in records of the trail too.
    beyond: tuple[str, ...] | None = ()
    #: Why it approves nothing, as a code (None when granted).
    refusal: Refusal | None = None
    landing: Landing = Landing.MERGE


def judge_merge(
    pending: Pending,
    proposal: Proposal,
    blueprint: Blueprint | None,
    is_member: Callable[[str, str], bool],
    now: datetime,
) -> MergeJudgement:
    """Does this merge approve the proposal? Every reason to refuse is listed.

    The proposal's files are read where the merge left them (the forge's job), and compared
    with the digests the audit trail recorded when the reconciler proposed them: the branch
    and the pull request's body can be changed by anyone who can push, the trail cannot. The
    merge must change no other path (`Proposal.changed`, which the forge reports). A
    blueprint edit is judged by the merged file, not by `blueprint`, which is whatever this
    cycle loaded and may predate the merge; `blueprint` only supplies the source path and the
    forbidden operations inherited from the global policies.

    A merge time later than the cycle's own clock counts as "now": on the simulated cluster
    the cycle runs on virtual time while a person merges on the wall clock, and a merge cannot
    have happened after the cycle that finds it.
    """
    metadata = pending.metadata
    merged_at = _merge_time(proposal, now)
    #: Reasons about who merged it and when: with the proposal merged as proposed, they make
    #: it a landing without approval; the others, a merge of something else.
    unapproved = _unapproved(pending, proposal, is_member, merged_at)
    digests = metadata.digests
    reasons = _file_reasons(pending, proposal, digests)
    beyond = extra_paths(metadata, digests, proposal.changed)
    reasons += beyond_the_proposal(beyond)
    merged_digest = None
    path = ""
    if pending.kind is Kind.BLUEPRINT:
        path = next(iter(digests), blueprint.source if blueprint is not None else "")
        text = proposal.files.get(path)
        merged_digest = None if text is None else digest(text)
        reasons += _blueprint_reasons(path, text, blueprint, metadata)
    latency = (utc(merged_at) - pending.created_at).total_seconds() if merged_at else None
    refusal = None
    if reasons:
        refusal = Refusal.NOT_AS_PROPOSED
    elif unapproved:
        refusal = Refusal.LANDED_WITHOUT_APPROVAL
    return MergeJudgement(
        judgement=Judgement.REFUSED if refusal else Judgement.GRANTED,
        reasons=(*unapproved, *reasons),
        latency=latency,
        merged_at=merged_at,
        merged_digest=merged_digest,
        merged_path=path,
        beyond=beyond,
        refusal=refusal,
        landing=Landing.MERGE if proposal.merged_by else Landing.UNATTRIBUTED,
    )


def _merge_time(proposal: Proposal, now: datetime) -> datetime | None:
    """When the merge happened as far as the cycle can tell, in UTC as every record's time:
    never after the cycle's clock (on virtual time a person still merges on the wall clock)."""
    if proposal.merged_at is None:
        return None
    return min(utc(proposal.merged_at), utc(now))


def _unapproved(
    pending: Pending,
    proposal: Proposal,
    is_member: Callable[[str, str], bool],
    merged_at: datetime | None,
) -> list[str]:
    """Why the merge is no approver's timely merge: nobody recorded as merging, someone who
    is not an approver, or a merge after the proposal expired."""
    approvers = list(pending.metadata.approvers)
    who = proposal.merged_by or ""
    unapproved = []
    if not who:
        unapproved.append(
            "nobody is recorded as having merged it (a fast-forward or a push to the "
            "main branch), so no approver can be identified; merge with a merge commit"
        )
    elif not any(is_member(approver, who) for approver in approvers):
        unapproved.append(
            f"it was merged by {who}, who is not an approver "
            f"({', '.join(approvers) or 'none configured'})"
        )
    if merged_at is not None and utc(merged_at) > pending.expires_at:
        unapproved.append(
            f"it was merged at {utc(merged_at):%H:%M:%S}Z, after it expired at "
            f"{pending.expires_at:%H:%M:%S}Z"
        )
    return unapproved


def _file_reasons(pending: Pending, proposal: Proposal, digests: Mapping[str, Any]) -> list[str]:
    """Each proposed file that is not, as merged, what the trail recorded (its digest): the
    branch and the pull request can be changed by anyone who can push, the trail cannot."""
    reasons: list[str] = []
    if not digests:
        reasons.append(
            "the audit trail holds no digest of the proposed files, so what was merged cannot "
            "be checked against what was proposed"
        )
    for path, expected in digests.items():
        actual = proposal.files.get(path)
        if actual is not None and digest(actual) == expected:
            continue
        if pending.kind is Kind.REQUEST:
            reasons.append(f"the request file {path} changed after the reconciler proposed it")
        elif actual is None:
            reasons.append(f"the merge left no {path}, the file the reconciler proposed to edit")
        else:
            reasons.append(
                f"{path} as merged is not what the reconciler proposed (commits were added to "
                "the proposal, or the main branch changed the file since): only the proposed "
                "edit can be approved"
            )
    return reasons


def _blueprint_reasons(
    path: str, text: str | None, blueprint: Blueprint | None, metadata: ProposalMetadata
) -> list[str]:
    """For a blueprint edit, judged by the merged file: unreadable, or no longer forbidding
    what it forbade when proposed (with what the global policies forbid, from `blueprint`)."""
    reasons = []
    inherited = () if blueprint is None else globally_forbidden(blueprint)
    now_forbidden = None if text is None else forbidden_in(text, inherited)
    if text is not None and now_forbidden is None:
        reasons.append(f"{path} as merged is not a readable blueprint")
    loosened = sorted(set(metadata.forbidden) - (now_forbidden or set()))
    if now_forbidden is not None and loosened:
        reasons.append(
            "the merged blueprint no longer forbids "
            + ", ".join(loosened)
            + ": an approval pull request cannot make a forbidden operation possible"
        )
    return reasons


def still_as_proposed(pending: Pending, proposal: Proposal) -> bool:
    """Whether an open proposal whose branch moved still changes exactly what the reconciler
    proposed: every proposed file as recorded, and no other path against the base. Bringing
    the branch up to date with the main branch (GitHub's "Update branch", a merge of main
    into it, or a rebase onto main) leaves it so, and is not a person's edit: merging it still
    approves the proposal. Anything else pushed there makes the merge approve nothing."""
    metadata = pending.metadata
    digests = metadata.digests
    if not digests or proposal.changed is None:
        return False
    for path, expected in digests.items():
        actual = proposal.files.get(path)
        if actual is None or digest(actual) != expected:
            return False
    return not extra_paths(metadata, digests, proposal.changed)
