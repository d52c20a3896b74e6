"""Judging what became of a proposal's change: a merge granted or refused, a change that
landed on the main branch without an approver's merge, and a grant that went stale while it
waited. Each is recorded, said on the proposal, and decides whether the service is held.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from reconciler.core.approvals.authorization import Authorization, stale_reason, unusable_reason
from reconciler.core.approvals.feedback import Standing, proposal_status
from reconciler.core.approvals.holds import proposal_reference
from reconciler.core.approvals.judging import (
    Judgement,
    MergeJudgement,
    judge_merge,
)
from reconciler.core.approvals.lifecycle import CONCLUDED, Kind, Landing, Refusal
from reconciler.core.approvals.pending import Pending
from reconciler.core.approvals.proposals import Proposal, ProposalState
from reconciler.core.blueprint.model import Blueprint
from reconciler.core.errors import ForgeError
from reconciler.core.observed.observation import DeploymentState
from reconciler.core.planning.outcomes import Note, NoteKind
from reconciler.core.planning.subjects import (
    approved_subject,
    landed_subject,
    refused_subject,
    stale_subject,
)
from reconciler.core.trail.bodies import ApprovalBody, body_of
from reconciler.core.trail.codes import Code
from reconciler.core.trail.records import EventType, Outcome, Record
from reconciler.core.trail.wording import Reason, say
from reconciler.shell.approvals.review import Reviewing

__all__ = ["authorization", "judge", "refuse_landing", "refuse_stale"]


def refuse_landing(at: Reviewing, last: Record, proposal: Proposal | None) -> None:
    """A blueprint edit's change is on the main branch, though nobody merged the proposal (a
    squash, a cherry-pick, a rebase, an edit by hand), or after the proposal ended unapproved:
    refused as landed without approval, and the service held as for a refused merge, for as
    long as the blueprint is this file. A proposal still open is closed, saying why, so that
    nobody merges it later thinking it still waits (best effort: the refusal stands)."""
    blueprint = at.blueprint
    meta = dict(body_of(last, ApprovalBody).metadata)
    reference = proposal.reference if proposal is not None else proposal_reference(last)
    reason = _landing_reason(blueprint, last, proposal, reference)
    record = at.approval(
        EventType.APPROVAL_REFUSED,
        Outcome.REFUSED,
        meta,
        proposal,
        say(Reason(Code.LANDED_REFUSED, {"reference": reference, "reason": reason})),
        extra={
            "reference": reference,
            "reasons": [reason],
            "refusal": str(Refusal.LANDED_WITHOUT_APPROVAL),
            "landing": str(Landing.CONTENT),
            "merged_by": None,
            "merged_blueprint_digest": blueprint.digest,
            "blueprint_path": blueprint.source,
            # Nothing was merged, so nothing came in beside the proposed file with it.
            "beyond_proposal": [],
            "loaded_blueprint_is_merged": True,
        },
    )
    at.settle(
        record,
        landed_subject(blueprint.name, reference),
        NoteKind.LANDED_WITHOUT_APPROVAL,
        f"landed without approval: {reference}",
    )
    at.review.hold = say(Reason(Code.LANDED_HOLD, {"reference": reference}))
    if proposal is not None and proposal.state is ProposalState.OPEN:
        _close_landed(at, proposal)


def _landing_reason(
    blueprint: Blueprint, last: Record, proposal: Proposal | None, reference: str
) -> str:
    """Why a proposal whose change landed unmerged approves nothing, saying when it landed:
    after the proposal ended, or while it was still open, closed or gone."""
    still_open = proposal is not None and proposal.state is ProposalState.OPEN
    ended = last.event_type in CONCLUDED and not still_open
    standing = "open" if still_open else "closed" if proposal else "gone"
    return say(
        Reason(
            Code.LANDED_UNMERGED,
            {
                "path": blueprint.source,
                "reference": reference,
                "ended": str(last.event_type) if ended else None,
                "standing": standing,
            },
        )
    )


def _close_landed(at: Reviewing, proposal: Proposal) -> None:
    """Close a proposal still open whose change landed without it, saying why (best effort:
    the refusal stands)."""
    reference = proposal.reference
    at.forge.set_status(
        proposal, proposal_status(Standing.ENDED, reason="Its change landed without approval")
    )
    try:
        at.forge.close(
            proposal,
            say(Reason(Code.LANDED_CLOSING, {"service": at.blueprint.name})),
        )
    except ForgeError as error:
        at.review.notes.append(
            Note(kind=NoteKind.FORGE_FAILED, text=f"could not close {reference}: {error}")
        )


def refuse_stale(at: Reviewing, granted: Record, stale: str) -> None:
    """A granted request that waited (a cooldown deferred it) and meanwhile went stale: it is
    refused rather than carried out on a deployment the approver never saw."""
    blueprint = at.blueprint
    body = body_of(granted, ApprovalBody)
    reference = body.reference or body.branch or ""
    record = at.approval(
        EventType.APPROVAL_REFUSED,
        Outcome.REFUSED,
        dict(body.metadata),
        None,
        say(Reason(Code.STALE_REFUSED, {"reference": reference, "stale": stale})),
        extra={"reference": reference, "reasons": [stale], "refusal": str(Refusal.STALE)},
    )
    at.settle(
        record,
        stale_subject(blueprint.name, reference, stale),
        NoteKind.APPROVAL_STALE,
        f"approval went stale: {reference}",
    )


def judge(at: Reviewing, state: DeploymentState, pending: Pending, proposal: Proposal) -> bool:
    """Judge a merge and record the verdict; False when it could not be judged (the forge
    did not answer), so the proposal stays pending for the next run."""
    blueprint = at.blueprint
    try:
        judgement = judge_merge(pending, proposal, blueprint, at.forge.is_member, at.now)
    except ForgeError as error:
        at.review.error = f"could not check who merged {proposal.reference}: {error}"
        return False
    reasons = list(judgement.reasons)
    refusal = judgement.refusal
    if judgement.judgement is Judgement.GRANTED and pending.kind is Kind.REQUEST:
        stale = unusable_reason(pending.metadata, blueprint) or stale_reason(
            pending.metadata, state
        )
        if stale:
            reasons.append(stale)
            refusal = Refusal.STALE
    merged = _Merged(
        blueprint=blueprint,
        pending=pending,
        proposal=replace(proposal, merged_at=judgement.merged_at),
        judgement=judgement,
    )
    if reasons:
        _refuse_merge(at, merged, reasons, refusal)
    else:
        _grant(at, merged)
    return True


@dataclass(frozen=True, kw_only=True)
class _Merged:
    """A merge as judged: the proposal (with its merge time) and the judgement."""

    blueprint: Blueprint
    pending: Pending
    proposal: Proposal
    judgement: MergeJudgement

    @property
    def loaded_is_merged(self) -> bool:
        """Whether this cycle loaded the blueprint the merge produced: a merge made after the
        blueprints were read (a run's checkout predates it) leaves the old file loaded."""
        return self.judgement.merged_digest == self.blueprint.digest

    def facts(self) -> dict[str, object]:
        """What every record of the merge says about it."""
        proposal, judgement = self.proposal, self.judgement
        extra: dict[str, object] = {
            "merged_by": proposal.merged_by,
            "merged_at": proposal.merged_at,
            "merge_commit": proposal.merge_commit,
            "approval_latency_seconds": judgement.latency,
            "reference": proposal.reference,
        }
        if self.pending.kind is Kind.BLUEPRINT:
            extra["merged_blueprint_digest"] = judgement.merged_digest
            extra["blueprint_path"] = judgement.merged_path
            extra["beyond_proposal"] = None if judgement.beyond is None else list(judgement.beyond)
            extra["loaded_blueprint_is_merged"] = self.loaded_is_merged
        return extra


def _refuse_merge(
    at: Reviewing, merged: _Merged, reasons: list[str], refusal: Refusal | None
) -> None:
    """Record a merge that approves nothing, say so on the proposal, and hold the service
    when the merge was a blueprint edit."""
    blueprint, proposal = merged.blueprint, merged.proposal
    record = at.approval(
        EventType.APPROVAL_REFUSED,
        Outcome.REFUSED,
        dict(merged.pending.metadata),
        proposal,
        say(
            Reason(
                Code.MERGE_REFUSED,
                {
                    "reference": proposal.reference,
                    "landed": refusal is Refusal.LANDED_WITHOUT_APPROVAL,
                    "reasons": reasons,
                },
            )
        ),
        extra={
            **merged.facts(),
            "reasons": reasons,
            "refusal": str(refusal or Refusal.NOT_AS_PROPOSED),
            "landing": str(merged.judgement.landing),
        },
    )
    at.settle(
        record,
        refused_subject(blueprint.name, proposal.reference, reasons[0]),
        NoteKind.APPROVAL_REFUSED,
        f"approval refused: {proposal.reference}",
    )
    at.forge.set_status(proposal, proposal_status(Standing.REFUSED, reason=reasons[0]))
    if merged.pending.kind is Kind.BLUEPRINT:
        # Held now whichever blueprint this cycle loaded; from the next run on, for as
        # long as the merged one is what the repository says (`approval_hold`).
        at.review.hold = say(
            Reason(Code.MERGE_REFUSED_HOLD, {"reference": proposal.reference, "reasons": reasons})
        )


def _grant(at: Reviewing, merged: _Merged) -> None:
    """Record an approver's merge as granted; a request is authorized for this cycle, a
    blueprint edit once the merged blueprint is the one loaded."""
    blueprint, proposal, judgement = merged.blueprint, merged.proposal, merged.judgement
    blueprint_edit = merged.pending.kind is Kind.BLUEPRINT
    record = at.approval(
        EventType.APPROVAL_GRANTED,
        Outcome.APPROVED,
        dict(merged.pending.metadata),
        proposal,
        say(
            Reason(
                Code.MERGE_GRANTED,
                {
                    "reference": proposal.reference,
                    "merged_by": proposal.merged_by,
                    "merged_at": proposal.merged_at,
                    "latency": judgement.latency,
                    "blueprint_edit": blueprint_edit,
                },
            )
        ),
        extra=merged.facts(),
    )
    at.settle(
        record,
        approved_subject(blueprint.name, proposal.reference, proposal.merged_by),
        NoteKind.APPROVED,
        f"approved: {proposal.reference} by {proposal.merged_by}",
    )
    at.forge.set_status(proposal, proposal_status(Standing.GRANTED, who=proposal.merged_by or ""))
    if blueprint_edit and not merged.loaded_is_merged:
        at.review.wait = say(Reason(Code.GRANTED_AFTER_LOAD, {"reference": proposal.reference}))
        return
    at.review.authorizations.append(authorization(record))


def authorization(record: Record) -> Authorization:
    """The approval a granted record stands for."""
    body = body_of(record, ApprovalBody)
    meta = body.metadata
    return Authorization(
        approval_id=meta.approval_id,
        reference=body.reference or "",
        merged_by=body.merged_by or "",
        merged_at=body.merged_at,
        latency=body.latency,
        kind=Kind(meta.kind or str(Kind.REQUEST)),
        operation=meta.operation,
        # Not a whole number reads as None, which the authorization refuses.
        target_replicas=meta.target_replicas,
        current_replicas=meta.current_replicas,
        parameters=dict(meta.parameters),
    )
