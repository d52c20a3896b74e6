"""The last word on each proposal that ended, on the proposal itself, kept up to date.

Why it exists: people look at the pull request, not at the audit trail. Once a proposal ends
(granted, refused, rejected) it gets one comment saying so: who approved and what was done,
how it was verified or rolled back; or why the merge approves nothing and the merge commit
to revert. The comment is written again, in place, whenever a later record adds to the story
(the change carried out, then verified), so it never goes stale and is never duplicated.

Main design choice: the comment is rebuilt from the audit trail each time (the records are
the story; `core.feedback` words them), and only for the proposals that a record committed
in this cycle concerns, so an idle run asks the forge nothing. A forge that cannot take the
comment costs a note, never the cycle.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.core.approvals.feedback import ENDINGS, FOLLOWING, TrailLinks, outcome_comment
from reconciler.core.approvals.proposals import CommentTopic, Proposal, ProposalState
from reconciler.core.errors import ForgeError
from reconciler.core.planning.outcomes import Note, NoteKind
from reconciler.core.trail import lazy_bodies
from reconciler.core.trail.records import EventType, Record
from reconciler.ports import AuditStore, Forge

__all__ = ["follow_up"]

_OPERATIONS = frozenset(
    {EventType.OPERATION_EXECUTED, EventType.OPERATION_FAILED, EventType.OPERATION_BLOCKED}
)
_STATES = {
    EventType.APPROVAL_GRANTED: ProposalState.MERGED,
    EventType.APPROVAL_REFUSED: ProposalState.MERGED,
    EventType.APPROVAL_REJECTED: ProposalState.CLOSED,
}


def _operation_of(record: Record) -> str:
    return str(record.links.get("rollback_of") or record.links.get("operation") or "")


def follow_up(
    service: str,
    committed: Sequence[Record],
    audit: AuditStore,
    forge: Forge,
    links: TrailLinks,
) -> list[Note]:
    """Write (or rewrite) the comment of every proposal of `service` that `committed`, the
    records this cycle committed for it, ended or added to. Notes of what failed."""
    mine = [r for r in committed if r.service == service]
    approvals = {str(r.links.get("approval") or "") for r in mine if r.event_type in ENDINGS}
    later = [r for r in mine if r.event_type in FOLLOWING]
    if not approvals and not later:
        return []
    operations = {
        op.id: str(op.links["approval"])
        for op in audit.events(service, _OPERATIONS)
        if op.links.get("approval")
    }
    for record in later:
        approval = record.links.get("approval") or operations.get(_operation_of(record))
        if approval:
            approvals.add(str(approval))
    approvals.discard("")
    if not approvals:
        return []
    endings: dict[str, Record] = {}
    for record in sorted(audit.events(service, ENDINGS), key=Record.sort_key):
        endings[str(record.links.get("approval") or "")] = record
    following = sorted(audit.events(service, FOLLOWING), key=Record.sort_key)
    notes = []
    for approval in sorted(approvals):
        ending = endings.get(approval)
        if ending is None:
            continue
        ours = {op for op, granted in operations.items() if granted == approval}
        story = [
            r
            for r in following
            if (r.event_type in _OPERATIONS and r.id in ours) or _operation_of(r) in ours
        ]
        body = lazy_bodies.body_of(ending, lazy_bodies.ApprovalBody)
        proposal = Proposal(
            key=body.key or "",
            branch=body.branch or "",
            state=_STATES.get(ending.event_type, ProposalState.CLOSED),
            head=body.head or "",
            number=body.number,
            url=body.url or "",
        )
        if not proposal.head and proposal.number is None:
            continue  # nothing on the forge to comment on
        try:
            forge.report(proposal, outcome_comment(ending, story, links), CommentTopic.OUTCOME)
        except ForgeError as error:
            text = f"could not comment on {proposal.reference}: {error}"
            notes.append(Note(kind=NoteKind.FORGE_FAILED, text=text))
    return notes
