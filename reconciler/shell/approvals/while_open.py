"""What happens to a proposal while it is open: its branch moves (brought up to date with
the main branch, or edited by a person), nobody approves it in time and it expires, or it is
closed without a merge and so rejected.
"""

from __future__ import annotations

from dataclasses import replace

from reconciler.core.approvals.feedback import Standing, proposal_status
from reconciler.core.approvals.judging import still_as_proposed
from reconciler.core.approvals.pending import Pending
from reconciler.core.approvals.proposals import CommentTopic, Proposal, ProposalState
from reconciler.core.errors import ForgeError
from reconciler.core.planning.outcomes import NoteKind
from reconciler.core.planning.subjects import (
    edited_subject,
    proposal_expired_subject,
    rejected_subject,
    up_to_date_subject,
)
from reconciler.core.trail.codes import Code
from reconciler.core.trail.records import EventType, Outcome
from reconciler.core.trail.wording import Reason, say
from reconciler.shell.approvals.review import Reviewing, awaiting

__all__ = ["expire", "moved", "reject"]


def moved(at: Reviewing, pending: Pending, proposal: Proposal) -> Pending:
    """The proposal's branch is not where the reconciler left it. Brought up to date with the
    main branch and still changing exactly the proposed files, it is still the proposal: the
    new head is recorded and stays awaiting an approver. Anything else is a person's edit:
    merging it approves nothing, the reconciler says so once and stops rewriting it."""
    if still_as_proposed(pending, proposal):
        return _brought_up_to_date(at, pending, proposal)
    return _edited_by_a_person(at, pending, proposal)


def _brought_up_to_date(at: Reviewing, pending: Pending, proposal: Proposal) -> Pending:
    """The branch was brought up to date with the main branch and still changes exactly the
    proposed files: its new head is recorded, and it stays awaiting an approver."""
    service = at.blueprint.name
    meta = dict(pending.metadata)
    ref = proposal.reference
    who = proposal.head_author or "someone"
    record = at.approval(
        EventType.APPROVAL_UPDATED,
        Outcome.PENDING,
        meta,
        proposal,
        say(Reason(Code.UPDATED_FROM_BASE, {"reference": ref, "who": who})),
        extra={"updated_from_base": True},
    )
    at.settle(
        record,
        up_to_date_subject(service, ref),
        NoteKind.PROPOSAL_UPDATED_FROM_BASE,
        f"{ref} brought up to date with the main branch by {who}",
    )
    at.forge.set_status(proposal, awaiting(pending.metadata, pending.expires_at))
    return replace(pending, record=record, head=proposal.head)


def _edited_by_a_person(at: Reviewing, pending: Pending, proposal: Proposal) -> Pending:
    """A person pushed to the branch: merging it approves nothing. Said once, on the
    proposal and in the trail, and the reconciler stops rewriting it."""
    service = at.blueprint.name
    meta = dict(pending.metadata)
    ref = proposal.reference
    who = proposal.head_author or "someone"
    try:
        at.forge.comment(
            proposal,
            say(Reason(Code.EDITED_COMMENT)),
            CommentTopic.EDITED_BY_A_PERSON,
        )
    except ForgeError as error:
        at.review.error = f"could not comment on {ref}: {error}"
        return pending
    record = at.approval(
        EventType.APPROVAL_UPDATED,
        Outcome.PENDING,
        meta,
        proposal,
        say(Reason(Code.EDITED_BY_PERSON, {"reference": ref, "who": who})),
        extra={"hands_off": True},
    )
    at.settle(
        record,
        edited_subject(service, ref),
        NoteKind.PROPOSAL_EDITED,
        f"{ref} changed by a person ({who}): merging it approves nothing",
    )
    at.forge.set_status(proposal, proposal_status(Standing.CHANGED))
    return replace(pending, record=record, head=proposal.head, hands_off=True)


def expire(at: Reviewing, pending: Pending, proposal: Proposal) -> None:
    """Nobody approved the proposal in time: closed (auto_reject_on_timeout), or marked and
    left open for a person to decide, no longer updated."""
    service = at.blueprint.name
    approval = at.blueprint.policy.approval
    meta = dict(pending.metadata)
    try:
        if approval.auto_reject_on_timeout:
            at.forge.close(
                proposal,
                say(Reason(Code.EXPIRED_CLOSING, {"timeout": approval.timeout})),
            )
        else:
            at.forge.comment(
                proposal,
                say(Reason(Code.TIMED_OUT_COMMENT)),
                CommentTopic.TIMED_OUT,
            )
    except ForgeError as error:
        at.review.error = f"could not expire {proposal.reference}: {error}"
        return
    standing = Standing.ENDED if approval.auto_reject_on_timeout else Standing.TIMED_OUT
    reason = f"Expired at {pending.expires_at:%Y-%m-%d %H:%M}Z and closed"
    at.forge.set_status(
        proposal, proposal_status(standing, until=pending.expires_at, reason=reason)
    )
    outcome = Outcome.EXPIRED if approval.auto_reject_on_timeout else Outcome.PENDING
    record = at.approval(
        EventType.APPROVAL_EXPIRED,
        outcome,
        meta,
        proposal,
        say(
            Reason(
                Code.PROPOSAL_EXPIRED,
                {
                    "reference": proposal.reference,
                    "expires_at": pending.expires_at,
                    "closed": approval.auto_reject_on_timeout,
                },
            )
        ),
        extra={"auto_rejected": approval.auto_reject_on_timeout},
    )
    at.settle(
        record,
        proposal_expired_subject(service, proposal.reference),
        NoteKind.PROPOSAL_EXPIRED,
        f"proposal {proposal.reference} expired",
    )


def reject(at: Reviewing, pending: Pending, proposal: Proposal | None) -> None:
    """The proposal was closed without a merge (or is gone from the forge): rejected, and not
    made again during the rejection cool-off unless the load gets materially worse."""
    service = at.blueprint.name
    who = f" by {proposal.closed_by}" if proposal and proposal.closed_by else ""
    ref = proposal.reference if proposal else pending.branch
    record = at.approval(
        EventType.APPROVAL_REJECTED,
        Outcome.REJECTED,
        dict(pending.metadata),
        proposal,
        say(
            Reason(
                Code.PROPOSAL_REJECTED,
                {
                    "reference": ref,
                    "closed_by": proposal.closed_by if proposal else None,
                    "cooloff": at.blueprint.policy.approval.rejection_cooloff,
                },
            )
        ),
        extra={"closed_by": proposal.closed_by if proposal else None},
    )
    at.settle(
        record,
        rejected_subject(service, ref),
        NoteKind.PROPOSAL_REJECTED,
        f"proposal {ref} rejected",
    )
    if proposal is not None and proposal.state is ProposalState.CLOSED:
        reason = f"Closed unmerged{who}: rejected"
        at.forge.set_status(proposal, proposal_status(Standing.ENDED, reason=reason))
