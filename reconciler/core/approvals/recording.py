"""An approval event as an audit record, whether a rejected proposal may come back, and one
summary per proposal for the `approvals` command.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from reconciler.core.approvals.lifecycle import MATERIALLY_WORSE
from reconciler.core.approvals.proposals import Proposal
from reconciler.core.blueprint.model import Blueprint
from reconciler.core.blueprint.units import format_cpu, format_memory
from reconciler.core.decide.decision import Decision
from reconciler.core.ids import make_id, utc
from reconciler.core.trail import lazy_bodies
from reconciler.core.trail.proposal_metadata import ProposalMetadata
from reconciler.core.trail.records import EventType, Outcome, Provenance, Record


def shown_value(name: str, value: object) -> str:
    if not isinstance(value, int) or isinstance(value, bool):
        return "unset" if value is None else str(value)
    if name.startswith("cpu_"):
        return format_cpu(value)
    if name.startswith("memory_"):
        return format_memory(value)
    return str(value)


def approval_record(
    event: EventType,
    outcome: Outcome,
    blueprint: Blueprint | None,
    service: str,
    pending_or_meta: Mapping[str, Any],
    proposal: Proposal | None,
    rationale: str,
    now: datetime,
    *,
    links: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Record:
    metadata = dict(pending_or_meta)
    approval_id = str(metadata.get("approval_id", ""))
    record_id = (
        approval_id
        if event is EventType.APPROVAL_REQUESTED and approval_id
        else make_id("apr", now, service, event, approval_id)
    )
    return Record(
        id=record_id,
        timestamp=utc(now),
        event_type=event,
        service=service,
        blueprint_version=blueprint.version
        if blueprint
        else str(metadata.get("blueprint_version", "")),
        provenance=blueprint.provenance if blueprint else Provenance(),
        outcome=outcome,
        rationale=rationale,
        operation=str(metadata.get("operation", "")) or None,
        classification="restricted",
        links={"approval": approval_id, **{k: v for k, v in (links or {}).items() if v}},
        details={
            "key": metadata.get("key"),
            "metadata": metadata,
            "branch": proposal.branch if proposal else None,
            "number": proposal.number if proposal else None,
            "url": proposal.url if proposal else None,
            "head": proposal.head if proposal else None,
            **(extra or {}),
        },
    )


def worse_than(metadata: ProposalMetadata, decision: Decision | None, target: int | None) -> bool:
    """Materially worse than when a proposal was rejected: a larger target, or weighted
    utilization up by MATERIALLY_WORSE or more."""
    old_target = metadata.target_replicas
    if old_target is not None and target is not None and target > old_target:
        return True
    old_w = metadata.weighted_utilization
    new_w = None if decision is None else decision.weighted.value
    return old_w is not None and new_w is not None and new_w - old_w >= MATERIALLY_WORSE


_STATE_BY_EVENT = {
    EventType.APPROVAL_REQUESTED: "pending",
    EventType.APPROVAL_UPDATED: "pending",
    EventType.APPROVAL_GRANTED: "approved",
    EventType.APPROVAL_REJECTED: "rejected",
    EventType.APPROVAL_EXPIRED: "expired",
    EventType.APPROVAL_SUPERSEDED: "superseded",
    EventType.APPROVAL_REFUSED: "refused",
}


def approval_summaries(records: Sequence[Record]) -> list[dict[str, Any]]:
    """One summary per proposal (by approval id), from its records, newest state last."""
    summaries: dict[str, dict[str, Any]] = {}
    for record in sorted(records, key=Record.sort_key):
        body = lazy_bodies.body_of(record, lazy_bodies.ApprovalBody)
        metadata = body.metadata
        approval_id = body.approval_id or record.links.get("approval") or record.id
        item = summaries.setdefault(
            approval_id,
            {
                "approval_id": approval_id,
                "service": record.service,
                "cluster": record.cluster,
                "key": body.key,
                "operation": metadata.get("operation"),
                "kind": metadata.get("kind"),
                "target_replicas": metadata.get("target_replicas"),
                "approvers": metadata.get("approvers", []),
                "created_at": metadata.get("created_at"),
                "expires_at": metadata.get("expires_at"),
            },
        )
        state = _STATE_BY_EVENT.get(record.event_type)
        if state is None:
            continue
        if record.event_type is EventType.APPROVAL_EXPIRED and record.outcome is Outcome.PENDING:
            state = "pending"
            item["timed_out"] = True
        item["state"] = state
        item["reference"] = body.shown_reference or item.get("reference")
        item["url"] = body.url or item.get("url")
        item["summary"] = (
            record.rationale.split(": proposed as")[0]
            if state == "pending"
            else item.get("summary") or record.rationale
        )
        if record.event_type is EventType.APPROVAL_GRANTED:
            item["merged_by"] = body.merged_by
            # As the record stores it: the JSON of `approvals -o json` shows the stored time.
            item["merged_at"] = (
                None
                if body.merged_at is None
                else utc(body.merged_at).isoformat().replace("+00:00", "Z")
            )
            item["approval_latency_seconds"] = body.latency
        if record.event_type is EventType.APPROVAL_REFUSED:
            item["reason"] = "; ".join(body.reasons or [record.rationale])
        item["updated_at"] = record.timestamp
    return list(summaries.values())
