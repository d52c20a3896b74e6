"""Building the audit record for each kind of event (its commit subject: subjects.py).

The record bodies carry the full decision and verdict, so nothing a person might ask later
("which rule? which numbers?") is lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reconciler.core.blueprint.model import Blueprint
from reconciler.core.decide.decision import Decision
from reconciler.core.decide.governance import OperationRequest, Origin, Verdict
from reconciler.core.ids import make_id
from reconciler.core.observed.changes import Applied, Change
from reconciler.core.observed.observation import ChangeStamp
from reconciler.core.planning.details import decision_json, request_json, verdict_json
from reconciler.core.planning.subjects import short
from reconciler.core.trail import lazy_bodies
from reconciler.core.trail.records import EventType, Outcome, Record, record_under
from reconciler.core.trail.wording import Code, Reason, say

__all__ = [
    "decision_json",
    "decision_record",
    "short",
    "verdict_json",
    "verdict_record",
]


@dataclass(frozen=True, kw_only=True)
class Chain:
    """The ids that link one operation's records together."""

    decision: str
    governance: str
    operation: str
    #: The approval that authorised the operation, when one did.
    approval: str = ""

    def links(self, **extra: str) -> dict[str, str]:
        return {
            "decision": self.decision,
            "governance": self.governance,
            "operation": self.operation,
            **({"approval": self.approval} if self.approval else {}),
            **{k: v for k, v in extra.items() if v},
        }


def operation_id(request: OperationRequest, now: datetime) -> str:
    # The lead's id (decision, request or approval) makes the operation's unique; a rollback
    # has none, and its attempt number tells retries in the same second apart.
    return make_id(
        "op",
        now,
        request.service,
        request.operation,
        request.target_replicas,
        request.reverts,
        request.decision_id,
        request.parameters.get("attempt"),
    )


def decision_record(decision: Decision) -> Record:
    return Record(
        id=decision.id,
        timestamp=decision.at,
        event_type=EventType.DECISION_MADE,
        service=decision.service,
        blueprint_version=decision.blueprint_version,
        provenance=decision.provenance,
        outcome=Outcome.DECIDED,
        rationale=decision.rationale,
        operation=None,
        links={"decision": decision.id},
        details=decision_json(decision),
    )


def request_record(
    request: OperationRequest, blueprint: Blueprint, request_id: str, now: datetime
) -> Record:
    """A person's (or a tool's) request, standing in for a decision in the chain."""
    who = request.requested_by or "someone"
    return record_under(
        blueprint,
        EventType.OPERATION_REQUESTED,
        Outcome.DECIDED,
        record_id=request_id,
        at=now,
        service=request.service,
        rationale=f"{who} requested {request.describe()}"
        + (f": {request.reason}" if request.reason else ""),
        operation=request.operation,
        links={"decision": request_id},
        details=request_json(request),
    )


def verdict_record(
    verdict: Verdict, request: OperationRequest, blueprint: Blueprint, chain: Chain
) -> Record:
    return record_under(
        blueprint,
        EventType.GOVERNANCE_CHECKED,
        Outcome(str(verdict.action)),
        record_id=verdict.id,
        at=verdict.at,
        service=verdict.service,
        rationale=verdict.rationale + " " + " ".join(verdict.reason_words),
        operation=verdict.operation,
        classification=str(verdict.classification),
        links=chain.links(),
        details={**verdict_json(verdict), "request": request_json(request)},
    )


def _chain_record(
    event: EventType,
    outcome: Outcome,
    request: OperationRequest,
    verdict: Verdict,
    blueprint: Blueprint,
    chain: Chain,
    *,
    at: datetime,
    rationale: str,
    details: Mapping[str, Any],
    links: Mapping[str, str] | None = None,
    duration_seconds: float | None = None,
) -> Record:
    """A record of what became of an operation: under the operation's id, linked to its
    chain (`links`, else the chain's own), with the tier its verdict gave it."""
    return record_under(
        blueprint,
        event,
        outcome,
        record_id=chain.operation,
        at=at,
        service=request.service,
        rationale=rationale,
        operation=request.operation,
        classification=str(verdict.classification),
        duration_seconds=duration_seconds,
        links=chain.links() if links is None else links,
        details=details,
    )


def stamp_for(
    request: OperationRequest,
    chain: Chain,
    now: datetime,
    summary: str,
    *,
    classification: str = "",
    context: Mapping[str, Any] | None = None,
    why: str = "",
) -> ChangeStamp:
    """The note a change leaves on its deployment: all that its record would need to be
    written, verified and rolled back by a later run, should this one die before committing.

    Free text is cut short so the annotation stays a few hundred bytes however long a reason
    a person typed; numbers are kept exact, so a recovered verification compares the same
    values the recorded one would have.
    """
    context = context or {}
    asked = {
        "origin": str(request.origin),
        "current_replicas": request.current_replicas,
        "target_replicas": request.target_replicas,
        "change_percent": request.change_percent,
        "parameters": dict(request.parameters),
        "requested_by": short(request.requested_by, 80),
        "reason": short(request.reason, 200),
    }
    authorized = context.get("authorized_by") or {}
    return ChangeStamp(
        operation_id=chain.operation,
        decision_id=chain.decision,
        operation=request.operation,
        service=request.service,
        at=now,
        summary=summary,
        before={"replicas": request.current_replicas},
        after={"replicas": request.target_replicas},
        governance_id=chain.governance,
        approval_id=chain.approval,
        reverts=request.reverts,
        classification=classification,
        request={key: value for key, value in asked.items() if value not in (None, "", {})},
        baseline=dict(context.get("baseline") or {}),
        expected=dict(context.get("expected") or {}),
        why=short(why, 160) if why else "",
        authorized_by={
            key: short(str(authorized[key]), 80)
            for key in ("reference", "merged_by")
            if authorized.get(key)
        },
    )


def executed_record(
    request: OperationRequest,
    verdict: Verdict,
    blueprint: Blueprint,
    chain: Chain,
    change: Change,
    applied: Applied,
    *,
    verification_due: datetime | None = None,
    context: Mapping[str, Any] | None = None,
) -> Record:
    return _change_record(
        (EventType.OPERATION_EXECUTED, EventType.ROLLBACK_EXECUTED),
        Outcome.SUCCESS,
        request,
        verdict,
        blueprint,
        chain,
        change,
        at=applied.completed_at,
        rationale=f"{change.describe()}: {applied.message}",
        duration_seconds=round(applied.duration, 3),
        details={
            "kind": str(change.kind),
            "started_at": applied.started_at,
            "completed_at": applied.completed_at,
            "pre_operation_state": dict(applied.before),
            "post_operation_state": dict(applied.after),
            "output": applied.message,
            "verification_due": verification_due,
            **(context or {}),
        },
    )


def failed_record(
    request: OperationRequest,
    verdict: Verdict,
    blueprint: Blueprint,
    chain: Chain,
    change: Change,
    error: str,
    hint: str,
    now: datetime,
    context: Mapping[str, Any] | None = None,
) -> Record:
    return _change_record(
        (EventType.OPERATION_FAILED, EventType.ROLLBACK_FAILED),
        Outcome.FAILURE,
        request,
        verdict,
        blueprint,
        chain,
        change,
        at=now,
        rationale=f"{change.describe()} failed: {error}",
        details={"error": error, "hint": hint},
    )


def _change_record(
    events: tuple[EventType, EventType],
    outcome: Outcome,
    request: OperationRequest,
    verdict: Verdict,
    blueprint: Blueprint,
    chain: Chain,
    change: Change,
    *,
    at: datetime,
    rationale: str,
    details: Mapping[str, Any],
    duration_seconds: float | None = None,
) -> Record:
    """A change carried out or failed: under the event of an operation or, for a rollback,
    of a rollback (`events`), linked to the change a rollback reverts, its details led by the
    request and the change."""
    operation_event, rollback_event = events
    return _chain_record(
        rollback_event if request.origin is Origin.ROLLBACK else operation_event,
        outcome,
        request,
        verdict,
        blueprint,
        chain,
        at=at,
        rationale=rationale,
        duration_seconds=duration_seconds,
        links=chain.links(rollback_of=request.reverts),
        details={"request": request_json(request), "change": change.describe(), **details},
    )


def refusal_record(
    request: OperationRequest,
    verdict: Verdict,
    blueprint: Blueprint,
    chain: Chain,
    *,
    note: str = "",
) -> Record:
    """Blocked or deferred: the operation was not carried out, and why."""
    deferred = verdict.action.value == "defer"
    reasons = [*verdict.reason_words, *([note] if note else [])]
    return _chain_record(
        EventType.OPERATION_DEFERRED if deferred else EventType.OPERATION_BLOCKED,
        Outcome.DEFERRED if deferred else Outcome.BLOCKED,
        request,
        verdict,
        blueprint,
        chain,
        at=verdict.at,
        rationale=" ".join(reasons),
        details={
            "request": request_json(request),
            "reasons": reasons,
            "retry_at": verdict.retry_at,
            "alternatives": verdict_json(verdict)["alternatives"],
            "execution_prevented": True,
        },
    )


def pending_record(
    request: OperationRequest, verdict: Verdict, blueprint: Blueprint, chain: Chain
) -> Record:
    """A restricted operation waiting for approval."""
    return record_under(
        blueprint,
        EventType.APPROVAL_REQUESTED,
        Outcome.PENDING,
        record_id=make_id(
            "apr",
            verdict.at,
            request.service,
            request.operation,
            request.target_replicas,
            request.decision_id,
        ),
        at=verdict.at,
        service=request.service,
        rationale=say(
            Reason(
                Code.APPROVAL_NEEDED,
                {"what": request.describe(), "approvers": verdict.approvers},
            )
        ),
        operation=request.operation,
        classification=str(verdict.classification),
        links=chain.links(),
        details={"request": request_json(request), "approvers": list(verdict.approvers)},
    )


def observed_record(
    request: OperationRequest,
    verdict: Verdict,
    blueprint: Blueprint,
    chain: Chain,
    *,
    running: int,
) -> Record:
    """Observe mode: the outcome record of an operation that was only observed.

    It stands where `operation_executed`, `approval_requested` or a refusal would, under an
    event type of its own, so that nothing that folds the trail (cooldowns, rate limits,
    pending approvals, deferred retries) mistakes a trial for something that happened.
    """
    would = str(verdict.action)
    return _chain_record(
        EventType.OPERATION_OBSERVED,
        Outcome(would),
        request,
        verdict,
        blueprint,
        chain,
        at=verdict.at,
        rationale=say(
            Reason(
                Code.OBSERVED_ONLY,
                {
                    "observed_by": blueprint.observed_by,
                    "what": request.describe(),
                    "would": would,
                    "summary": verdict.summary,
                },
            )
        ),
        details={
            "mode": "observe",
            "observed_by": blueprint.observed_by,
            "would": would,
            "replicas_running": running,
            "request": request_json(request),
            "reasons": list(verdict.reason_words),
            "approvers": list(verdict.approvers),
            "retry_at": verdict.retry_at,
        },
    )


def breaker_opened_record(
    service: str,
    blueprint: Blueprint,
    failures: tuple[tuple[datetime, str, str], ...],
    now: datetime,
) -> Record:
    settings = blueprint.policy.safety.circuit_breaker
    return record_under(
        blueprint,
        EventType.BREAKER_OPENED,
        Outcome.OPENED,
        record_id=make_id("brk", now, service, "open"),
        at=now,
        service=service,
        rationale=say(
            Reason(
                Code.BREAKER_OPENED,
                {
                    "failures": len(failures),
                    "window": settings.failure_window,
                    "threshold": settings.failure_threshold,
                    "service": service,
                },
            )
        ),
        details={
            "failures": [{"at": at, "record": rid, "reason": why} for at, rid, why in failures],
            "failure_threshold": settings.failure_threshold,
            "failure_window_seconds": settings.failure_window,
            "manual_reset_required": settings.manual_reset_required,
        },
    )


def breaker_reset_record(
    service: str, blueprint: Blueprint, by: str, reason: str, now: datetime
) -> Record:
    return record_under(
        blueprint,
        EventType.BREAKER_RESET,
        Outcome.RESET,
        record_id=make_id("brk", now, service, "reset", by),
        at=now,
        service=service,
        rationale=say(Reason(Code.BREAKER_RESET, {"by": by, "reason": reason})),
        details={"reset_by": by, "reason": reason},
    )


def pause_record(blueprint: Blueprint, why: str, now: datetime) -> Record:
    """The pause of a service begins (or its reason changes): recorded once, not each cycle."""
    return record_under(
        blueprint,
        EventType.SERVICE_PAUSED,
        Outcome.PAUSED,
        record_id=make_id("pau", now, blueprint.name, why),
        at=now,
        rationale=say(Reason(Code.SERVICE_PAUSED, {"paused_by": why})),
        details={"paused_by": why},
    )


def resume_record(blueprint: Blueprint, since: Record, now: datetime) -> Record:
    """The pause recorded in `since` has ended."""
    paused_by = lazy_bodies.pause_of(since).paused_by
    return record_under(
        blueprint,
        EventType.SERVICE_RESUMED,
        Outcome.RESUMED,
        record_id=make_id("res", now, blueprint.name, since.id),
        at=now,
        rationale=say(Reason(Code.SERVICE_RESUMED, {"paused_by": paused_by})),
        links={"paused": since.id},
        details={
            "paused_at": since.timestamp.isoformat(),
            "paused_by": paused_by,
        },
    )


def request_expired_record(
    blueprint: Blueprint, deferred: Record, why: str, now: datetime
) -> Record:
    """A deferred request that was not carried out: it no longer holds, or waited too long."""
    # The request as the deferral stored it, so that the two records name it alike.
    request = lazy_bodies.refusal_of(deferred).request.to_json()
    return record_under(
        blueprint,
        EventType.REQUEST_EXPIRED,
        Outcome.EXPIRED,
        record_id=make_id("exp", now, blueprint.name, deferred.id),
        at=now,
        rationale=say(Reason(Code.REQUEST_EXPIRED, {"why": why})),
        operation=deferred.operation,
        links={"decision": deferred.links.get("decision", ""), "deferred": deferred.id},
        details={"request": request, "deferred_at": deferred.timestamp.isoformat(), "why": why},
    )
