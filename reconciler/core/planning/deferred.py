"""A person's requests deferred by cooldown or rate limits: retried when due, or expired."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from reconciler.core.approvals.requests import shape_request
from reconciler.core.blueprint.model import Blueprint
from reconciler.core.decide.governance import (
    OperationRequest,
    Origin,
)
from reconciler.core.errors import ReconcilerError
from reconciler.core.ids import utc
from reconciler.core.observed.observation import (
    DeploymentState,
    Metrics,
)
from reconciler.core.planning.events import (
    request_expired_record,
)
from reconciler.core.planning.outcomes import NoteKind
from reconciler.core.planning.plan import NoteCommit, Step
from reconciler.core.planning.steps import govern_step, observed_values
from reconciler.core.planning.subjects import (
    expired_subject,
    what_of,
)
from reconciler.core.trail import lazy_bodies
from reconciler.core.trail.history import (
    ServiceHistory,
)
from reconciler.core.trail.records import EventType, Record
from reconciler.core.trail.wording import Code, Reason, say

#: What can follow a deferral in the same request's chain: it was settled one way or another.
_SETTLED = frozenset(
    {
        EventType.OPERATION_EXECUTED,
        EventType.OPERATION_FAILED,
        EventType.OPERATION_BLOCKED,
        EventType.OPERATION_DEFERRED,
        EventType.APPROVAL_REQUESTED,
        EventType.REQUEST_EXPIRED,
    }
)


def deferred_requests(history: ServiceHistory) -> list[Record]:
    """A person's requests deferred by cooldown or rate limits and not settled since: the
    latest deferral of each chain, oldest first."""
    open_: dict[str, Record] = {}
    for record in history.records:
        chain = record.links.get("decision", "")
        if record.event_type in _SETTLED:
            open_.pop(chain, None)
        if (
            record.event_type is EventType.OPERATION_DEFERRED
            and lazy_bodies.refusal_of(record).request.origin == str(Origin.REQUEST)
            and chain
        ):
            open_[chain] = record
    return list(open_.values())


def _still_holds(
    record: Record, blueprint: Blueprint, state: DeploymentState, now: datetime
) -> Reason | None:
    """Why a deferred request no longer holds (None while it does)."""
    refusal = lazy_bodies.refusal_of(record)
    request = refusal.request
    since = refusal.retry_at or utc(record.timestamp)
    late = (utc(now) - since).total_seconds()
    # No cycle came for as long as an approval would wait: a person's intent has gone stale.
    timeout = blueprint.policy.approval.timeout
    if late > timeout:
        return Reason(Code.RETRY_TOO_LATE, {"late": late, "timeout": timeout})
    current = request.current_replicas
    if current is not None and request.target_replicas is not None and current != state.replicas:
        return Reason(Code.REPLICAS_CHANGED, {"replicas": state.replicas, "asked_from": current})
    parameters = request.parameters
    for key, now_value in (
        ("cpu_request", state.cpu_request),
        ("memory_request", state.memory_request),
    ):
        before = f"{key}_before"
        if before in parameters and parameters[before] != now_value:
            return Reason(Code.RESOURCE_CHANGED, {"key": key})
    return None


def retry_deferred(
    blueprint: Blueprint,
    state: DeploymentState,
    metrics: Metrics,
    history: ServiceHistory,
    now: datetime,
) -> tuple[Step | None, NoteCommit | None]:
    """The first deferred request whose retry time has come: carried out, re-governed, or
    expired with a record."""
    for record in deferred_requests(history):
        refusal = lazy_bodies.refusal_of(record)
        if refusal.retry_at is not None and refusal.retry_at > utc(now):
            continue
        raw = refusal.request
        asked = record.links.get("decision", "")
        why = _still_holds(record, blueprint, state, now)
        if why is None:
            request = OperationRequest(
                operation=raw.operation or record.operation or "",
                service=blueprint.name,
                origin=Origin.REQUEST,
                current_replicas=state.replicas,
                target_replicas=raw.target_replicas,
                reason=raw.reason,
                requested_by=raw.requested_by,
                decision_id=asked,
                parameters={
                    k: v for k, v in raw.parameters.items() if not str(k).endswith("_before")
                },
            )
            try:
                request = shape_request(request, blueprint, state)
            except ReconcilerError as error:
                why = Reason(Code.NO_LONGER_FITS, {"error": error})
        if why is not None:
            words = say(why)
            expired = request_expired_record(blueprint, record, words, now)
            return None, NoteCommit(
                kind=NoteKind.REQUEST_EXPIRED,
                subject=expired_subject(blueprint.name, what_of(record), words),
                records=(expired,),
            )
        step = govern_step(
            request,
            blueprint,
            state,
            history,
            observed_values(state, metrics),
            now,
            lead=None,
            lead_id=asked,
            decision=None,
        )
        return replace(step, repeated=False), None
    return None, None
