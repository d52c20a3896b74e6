"""Grants waiting to be used: an approval recorded by an earlier run and not carried out yet
(a cooldown deferred it, or a blueprint edit was approved after that run loaded the
blueprints). A grant counts only when the trail and the forge both stand behind it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from reconciler.core.approvals.lifecycle import CONCLUDED, Kind
from reconciler.core.approvals.pending import Pending, pending_proposals
from reconciler.core.approvals.proposals import ProposalState
from reconciler.core.blueprint.model import Blueprint
from reconciler.core.errors import ForgeError
from reconciler.core.ids import utc
from reconciler.core.planning.outcomes import Note, NoteKind
from reconciler.core.trail import lazy_bodies
from reconciler.core.trail.history import HISTORY_SPAN
from reconciler.core.trail.records import EventType, Outcome, Record
from reconciler.ports import AuditStore, Forge
from reconciler.shell.approvals.review import Review

__all__ = ["approved_waiting", "unconfirmed"]

#: The records that use an approval up: carried out (or recovered, carried out by a run that
#: crashed before recording it), failed, blocked, or refused.
_USING_UP = frozenset(
    {
        EventType.OPERATION_EXECUTED,
        EventType.OPERATION_RECOVERED,
        EventType.OPERATION_FAILED,
        EventType.OPERATION_BLOCKED,
        EventType.APPROVAL_REFUSED,
    }
)


def approved_waiting(
    records: Sequence[Record],
    history: Sequence[Record],
    blueprint: Blueprint,
    audit: AuditStore,
    now: datetime,
) -> tuple[list[tuple[Record, Pending]], list[Note]]:
    """Granted approvals not carried out yet, within their approval timeout, each with the
    proposal it grants as the trail recorded it: one-off requests
    (a cooldown deferred them, say), and blueprint edits approved after the run that judged
    them had loaded the blueprints, once the approved blueprint is the one loaded. One that
    could not be used in time has gone stale. Also: why each granted record that the trail
    does not vouch for (`_unvouched`) was ignored.

    A grant stays usable for the whole approval timeout, which can be longer than the day of
    `history` a cycle loads; whether it was used is looked up as far back as the oldest grant
    still in its timeout, or an approval used a day ago could be used again."""
    service = blueprint.name
    timeout = timedelta(seconds=blueprint.policy.approval.timeout)
    candidates: list[tuple[Record, Pending]] = []
    ignored: list[Note] = []
    for record in records:
        if record.event_type is not EventType.APPROVAL_GRANTED:
            continue
        body = lazy_bodies.body_of(record, lazy_bodies.ApprovalBody)
        if body.metadata.kind == str(Kind.BLUEPRINT) and (
            body.loaded_blueprint_is_merged is not False
            or body.merged_blueprint_digest != blueprint.digest
        ):
            continue
        if utc(now) - utc(record.timestamp) > timeout:
            continue
        why, proposal = _unvouched(record, records, service)
        if why or proposal is None:
            ignored.append(
                Note(
                    kind=NoteKind.APPROVAL_IGNORED,
                    text=f"ignored the approval_granted record {record.id}: {why}",
                )
            )
            continue
        candidates.append((record, proposal))
    if not candidates:
        return [], ignored
    earliest = min(utc(record.timestamp) for record, _ in candidates)
    if earliest < utc(now) - HISTORY_SPAN:
        history = audit.history(service, earliest)
    consumed = {
        r.links.get("approval")
        for r in (*records, *history)
        if r.links.get("approval") and r.event_type in _USING_UP
    }
    return [pair for pair in candidates if pair[0].links.get("approval") not in consumed], ignored


#: Conclusions that end a proposal without approving it, or approve it for good; a refusal is
#: not among them, since any refusal of an approval already counts as using it up.
_ENDINGS = CONCLUDED - {EventType.APPROVAL_REFUSED}


def _unvouched(
    granted: Record, records: Sequence[Record], service: str
) -> tuple[str, Pending | None]:
    """Why the trail does not stand behind a granted record (or ""), and the proposal it
    grants as the trail last recorded it.

    A record under `audit/<service>/` is only a file in git: anyone who can get a commit onto
    the main branch can add one (a merge is refused if it brings one in, and `check-change`
    forbids them, but a push past both is still a file). So a grant counts only when it
    grants a proposal this trail holds: for this service, with an `approval_requested`
    record of the same approval id before it, with exactly the metadata the reconciler last
    recorded for that proposal (a copy cannot change what was approved), and when it is the
    proposal's only ending: a proposal rejected, expired, superseded or granted by another
    record stays so, whatever time a second record claims."""
    meta = lazy_bodies.body_of(granted, lazy_bodies.ApprovalBody).metadata
    approval_id = meta.approval_id
    if granted.service != service or meta.service != service:
        who = meta.service or granted.service or "no service"
        return f"it is a record of {who}, filed under {service}", None
    if not approval_id or granted.links.get("approval") != approval_id:
        return "it names no approval, or two different ones", None
    proposal: list[Record] = []
    for record in sorted(records, key=Record.sort_key):
        if (
            record is granted
            or lazy_bodies.body_of(record, lazy_bodies.ApprovalBody).approval_id != approval_id
        ):
            continue
        if record.event_type in _ENDINGS and record.outcome is not Outcome.PENDING:
            return f"the proposal {approval_id} has another ending ({record.event_type})", None
        if record.sort_key() >= granted.sort_key() or record.service != service:
            continue
        if record.event_type is EventType.APPROVAL_REQUESTED and record.id == approval_id:
            proposal = [record]
        elif record.event_type is EventType.APPROVAL_UPDATED and proposal:
            proposal.append(record)
    found = pending_proposals(proposal)
    if not found:
        return f"the audit trail holds no proposal {approval_id} of {service} before it", None
    if dict(found[0].metadata) != dict(meta):
        return f"it does not grant what the reconciler proposed as {approval_id}", None
    return "", found[0]


def unconfirmed(
    blueprint: Blueprint, pending: Pending, forge: Forge, now: datetime, review: Review
) -> str | None:
    """Why the forge does not confirm a grant found in the trail ("" when it does), or None
    when it could not be asked (the grant then waits for the next run).

    Even a grant that matches its proposal exactly is only a file: one copied from the
    proposal's own request record, slipped onto the main branch (a refused merge still
    lands its files), would pass every check the trail allows. So before a waiting grant is
    used, its merge is looked up on the forge and judged again, as when it was granted."""
    from reconciler.core.approvals.judging import Judgement, judge_merge

    try:
        proposal = forge.find(pending.branch, pending.number, pending.head, pending.paths)
        if proposal is None or proposal.state is not ProposalState.MERGED:
            return f"the forge has no merge of {pending.branch or pending.key}"
        judged = judge_merge(pending, proposal, blueprint, forge.is_member, now)
    except ForgeError as error:
        review.error = f"could not confirm the approval of {pending.branch}: {error}"
        return None
    if judged.judgement is Judgement.REFUSED:
        return f"its merge on the forge approves nothing: {'; '.join(judged.reasons)}"
    return ""
