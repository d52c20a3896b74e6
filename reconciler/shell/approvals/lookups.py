"""Each proposal the trail says is open, looked up on the forge before deciding, and what
became of it; then the grants recorded earlier that this cycle may use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from reconciler.core.approvals.authorization import stale_reason, unusable_reason
from reconciler.core.approvals.holds import approval_hold
from reconciler.core.approvals.landings import carries_change, landed_without_approval
from reconciler.core.approvals.pending import Pending, pending_proposals
from reconciler.core.approvals.proposals import ProposalState
from reconciler.core.blueprint.model import Blueprint
from reconciler.core.errors import ForgeError
from reconciler.core.ids import utc
from reconciler.core.observed.observation import DeploymentState
from reconciler.core.planning.outcomes import Note, NoteKind
from reconciler.core.trail import lazy_bodies
from reconciler.core.trail.records import Record
from reconciler.ports import AuditStore, Forge
from reconciler.shell.approvals.grants import approved_waiting, unconfirmed
from reconciler.shell.approvals.review import Commit, Review, Reviewing, approval_records

__all__ = ["review_proposals"]


def review_proposals(
    blueprint: Blueprint,
    state: DeploymentState,
    history: Sequence[Record],
    audit: AuditStore,
    forge: Forge,
    commit: Commit,
    now: datetime,
) -> Review:
    """What the service's open proposals came to, before deciding: each one's fate
    recorded, whether the service is held or waits, and the approvals this cycle may use."""
    records = approval_records(audit, blueprint, now)
    review = Review()
    #: Records this review commits, so that the hold below sees a grant it just recorded.
    written: list[Record] = []

    def keep(message: str, new: Sequence[Record]) -> str | None:
        written.extend(new)
        return commit(message, new)

    at = Reviewing(blueprint=blueprint, forge=forge, commit=keep, now=now, review=review)
    #: Proposals whose fate this cycle learnt: found open, or concluded.
    settled: set[str] = set()
    for pending in pending_proposals(records):
        if _look_up(at, state, pending):
            settled.add(pending.key)
    for ended in landed_without_approval(blueprint, records):
        # What becomes of a proposal (`merges`, `while_open`) is imported once there is one.
        from reconciler.shell.approvals.merges import refuse_landing

        refuse_landing(at, ended, None)
    review.hold = review.hold or approval_hold(blueprint, [*records, *written], settled=settled)
    _use_waiting_grants(at, state, records, history, audit)
    return review


def _look_up(at: Reviewing, state: DeploymentState, pending: Pending) -> bool:
    """Look one open proposal up on the forge and record what became of it; False when its
    fate is not known yet (the forge did not answer), so that it is looked up again."""
    from reconciler.shell.approvals.merges import judge, refuse_landing
    from reconciler.shell.approvals.while_open import expire, moved, reject

    try:
        proposal = at.forge.find(pending.branch, pending.number, pending.head, pending.paths)
    except ForgeError as error:
        at.review.error = f"could not look up {pending.branch}: {error}"
        return False
    unmerged = proposal is None or proposal.state is not ProposalState.MERGED
    if unmerged and carries_change(at.blueprint, pending.metadata):
        refuse_landing(at, pending.record, proposal)
        return True
    if proposal is None or proposal.state in {ProposalState.CLOSED, ProposalState.GONE}:
        reject(at, pending, proposal)
        return True
    if proposal.state is ProposalState.MERGED:
        return judge(at, state, pending, proposal)
    if pending.head and proposal.head != pending.head and not pending.hands_off:
        pending = moved(at, pending, proposal)
    if utc(at.now) >= pending.expires_at and not pending.timed_out:
        expire(at, pending, proposal)
        if at.blueprint.policy.approval.auto_reject_on_timeout:
            return True
        pending = replace(pending, timed_out=True)
    at.review.open[pending.key] = (pending, proposal)
    return True


def _use_waiting_grants(
    at: Reviewing,
    state: DeploymentState,
    records: Sequence[Record],
    history: Sequence[Record],
    audit: AuditStore,
) -> None:
    """Authorize this cycle with the grants earlier runs recorded and nothing used yet,
    each confirmed on the forge and still fresh; a stale one is refused."""
    blueprint, review = at.blueprint, at.review
    granted_now = {a.approval_id for a in review.authorizations}
    granted, ignored = approved_waiting(records, history, blueprint, audit, at.now)
    review.notes += ignored
    if not granted:
        return
    from reconciler.shell.approvals.merges import authorization, refuse_stale

    for record, proposed in granted:
        grant = authorization(record)
        if grant.approval_id in granted_now:
            continue
        why = unconfirmed(blueprint, proposed, at.forge, at.now, review)
        if why is None:
            continue
        if why:
            review.notes.append(
                Note(
                    kind=NoteKind.APPROVAL_IGNORED,
                    text=f"ignored the approval_granted record {record.id}: {why}",
                )
            )
            continue
        granted_meta = lazy_bodies.body_of(record, lazy_bodies.ApprovalBody).metadata
        stale = unusable_reason(granted_meta, blueprint) or stale_reason(granted_meta, state)
        if stale:
            refuse_stale(at, record, stale)
            continue
        review.authorizations.append(grant)
