"""What happens to a proposal while it is open: its branch moves (brought up to date with
the main branch, or edited by a person), nobody approves it in time and it expires, or it is
closed without a merge and so rejected.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from reconciler.core.approvals.feedback import Standing, proposal_status
from reconciler.core.approvals.judging import still_as_proposed
from reconciler.core.approvals.pending import Pending
from reconciler.core.approvals.proposals import CommentTopic, Proposal, ProposalState
from reconciler.core.approvals.recording import approval_record
from reconciler.core.blueprint.model import Blueprint
from reconciler.core.errors import ForgeError
from reconciler.core.planning.outcomes import Note, NoteKind
from reconciler.core.trail.records import EventType, Outcome, Record
from reconciler.ports import Forge
from reconciler.shell.approvals.review import Commit, Review, awaiting

__all__ = ["expire", "moved", "reject"]


def moved(
    blueprint: Blueprint,
    pending: Pending,
    proposal: Proposal,
    forge: Forge,
    commit: Commit,
    now: datetime,
    review: Review,
) -> Pending:
    """The proposal's branch is not where the reconciler left it. Brought up to date with the
    main branch and still changing exactly the proposed files, it is still the proposal: the
    new head is recorded and stays awaiting an approver. Anything else is a person's edit:
    merging it approves nothing, the reconciler says so once and stops rewriting it."""
    if still_as_proposed(pending, proposal):
        return _brought_up_to_date(blueprint, pending, proposal, forge, commit, now, review)
    return _edited_by_a_person(blueprint, pending, proposal, forge, commit, now, review)


def _brought_up_to_date(
    blueprint: Blueprint,
    pending: Pending,
    proposal: Proposal,
    forge: Forge,
    commit: Commit,
    now: datetime,
    review: Review,
) -> Pending:
    """The branch was brought up to date with the main branch and still changes exactly the
    proposed files: its new head is recorded, and it stays awaiting an approver."""
    service = blueprint.name
    meta = dict(pending.metadata)
    ref = proposal.reference
    who = proposal.head_author or "someone"
    record = approval_record(
        EventType.APPROVAL_UPDATED,
        Outcome.PENDING,
        blueprint,
        service,
        meta,
        proposal,
        f"{ref} was brought up to date with the main branch by {who}; it still changes "
        "exactly the proposed files, so an approver's merge still approves it.",
        now,
        extra={"updated_from_base": True},
    )
    _commit_and_note(
        commit,
        review,
        record,
        f"{service}: {ref} brought up to date with the main branch",
        NoteKind.PROPOSAL_UPDATED_FROM_BASE,
        f"{ref} brought up to date with the main branch by {who}",
    )
    forge.set_status(proposal, awaiting(meta, pending.expires_at))
    return replace(pending, record=record, head=proposal.head)


def _edited_by_a_person(
    blueprint: Blueprint,
    pending: Pending,
    proposal: Proposal,
    forge: Forge,
    commit: Commit,
    now: datetime,
    review: Review,
) -> Pending:
    """A person pushed to the branch: merging it approves nothing. Said once, on the
    proposal and in the trail, and the reconciler stops rewriting it."""
    service = blueprint.name
    meta = dict(pending.metadata)
    ref = proposal.reference
    who = proposal.head_author or "someone"
    try:
        forge.comment(
            proposal,
            "Someone pushed to this branch, so it no longer holds exactly what the reconciler "
            "proposed: merging it approves nothing, and the reconciler no longer rewrites it. "
            "Close it, and the reconciler proposes again if the change is still needed.",
            CommentTopic.EDITED_BY_A_PERSON,
        )
    except ForgeError as error:
        review.error = f"could not comment on {ref}: {error}"
        return pending
    record = approval_record(
        EventType.APPROVAL_UPDATED,
        Outcome.PENDING,
        blueprint,
        service,
        meta,
        proposal,
        f"{ref} has a person's commits ({who}); merging it approves nothing, and it is no "
        "longer rewritten.",
        now,
        extra={"hands_off": True},
    )
    _commit_and_note(
        commit,
        review,
        record,
        f"{service}: {ref} changed by a person; commented",
        NoteKind.PROPOSAL_EDITED,
        f"{ref} changed by a person ({who}): merging it approves nothing",
    )
    forge.set_status(proposal, proposal_status(Standing.CHANGED))
    return replace(pending, record=record, head=proposal.head, hands_off=True)


def expire(
    blueprint: Blueprint,
    pending: Pending,
    proposal: Proposal,
    forge: Forge,
    commit: Commit,
    now: datetime,
    review: Review,
) -> None:
    """Nobody approved the proposal in time: closed (auto_reject_on_timeout), or marked and
    left open for a person to decide, no longer updated."""
    service = blueprint.name
    approval = blueprint.policy.approval
    meta = dict(pending.metadata)
    try:
        if approval.auto_reject_on_timeout:
            forge.close(
                proposal,
                f"Nobody approved this within {approval.timeout:g}s, so it expired and is "
                "closed (auto_reject_on_timeout). If it is still needed, the reconciler proposes "
                "it again.",
            )
        else:
            forge.comment(
                proposal,
                "This proposal timed out. It stays open for a person to decide, and the "
                "reconciler no longer updates it.",
                CommentTopic.TIMED_OUT,
            )
    except ForgeError as error:
        review.error = f"could not expire {proposal.reference}: {error}"
        return
    standing = Standing.ENDED if approval.auto_reject_on_timeout else Standing.TIMED_OUT
    reason = f"Expired at {pending.expires_at:%Y-%m-%d %H:%M}Z and closed"
    forge.set_status(proposal, proposal_status(standing, until=pending.expires_at, reason=reason))
    outcome = Outcome.EXPIRED if approval.auto_reject_on_timeout else Outcome.PENDING
    record = approval_record(
        EventType.APPROVAL_EXPIRED,
        outcome,
        blueprint,
        service,
        meta,
        proposal,
        f"{proposal.reference} expired at {pending.expires_at:%H:%M:%S}Z without approval; "
        + ("closed." if approval.auto_reject_on_timeout else "left open, no longer updated."),
        now,
        extra={"auto_rejected": approval.auto_reject_on_timeout},
    )
    _commit_and_note(
        commit,
        review,
        record,
        f"{service}: proposal {proposal.reference} expired",
        NoteKind.PROPOSAL_EXPIRED,
        f"proposal {proposal.reference} expired",
    )


def reject(
    blueprint: Blueprint,
    pending: Pending,
    proposal: Proposal | None,
    forge: Forge,
    commit: Commit,
    now: datetime,
    review: Review,
) -> None:
    """The proposal was closed without a merge (or is gone from the forge): rejected, and not
    made again during the rejection cool-off unless the load gets materially worse."""
    service = blueprint.name
    who = f" by {proposal.closed_by}" if proposal and proposal.closed_by else ""
    ref = proposal.reference if proposal else pending.branch
    record = approval_record(
        EventType.APPROVAL_REJECTED,
        Outcome.REJECTED,
        blueprint,
        service,
        dict(pending.metadata),
        proposal,
        f"{ref} was closed without merging{who}: rejected. The same proposal is not made "
        f"again for {blueprint.policy.approval.rejection_cooloff:g}s unless the load gets "
        "materially worse.",
        now,
        extra={"closed_by": proposal.closed_by if proposal else None},
    )
    _commit_and_note(
        commit,
        review,
        record,
        f"{service}: proposal {ref} rejected (closed unmerged)",
        NoteKind.PROPOSAL_REJECTED,
        f"proposal {ref} rejected",
    )
    if proposal is not None and proposal.state is ProposalState.CLOSED:
        reason = f"Closed unmerged{who}: rejected"
        forge.set_status(proposal, proposal_status(Standing.ENDED, reason=reason))


def _commit_and_note(
    commit: Commit, review: Review, record: Record, subject: str, kind: NoteKind, text: str
) -> None:
    """Every change of an open proposal's standing is one commit of its record and one note
    in the run's review, so what the trail says and what the run reports cannot part."""
    commit(subject, [record])
    review.notes.append(Note(kind=kind, text=text))
