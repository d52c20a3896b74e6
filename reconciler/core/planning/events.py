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
from reconciler.core.planning.subjects import WOULD, short
from reconciler.core.trail.bodies import pause_of, refusal_of
from reconciler.core.trail.records import EventType, Outcome, Record

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
    return Record(
        id=request_id,
        timestamp=now,
        event_type=EventType.OPERATION_REQUESTED,
        service=request.service,
        blueprint_version=blueprint.version,
        provenance=blueprint.provenance,
        outcome=Outcome.DECIDED,
        rationale=f"{who} requested {request.describe()}"
        + (f": {request.reason}" if request.reason else ""),
        operation=request.operation,
        links={"decision": request_id},
        details=request_json(request),
    )


def verdict_record(
    verdict: Verdict, request: OperationRequest, blueprint: Blueprint, chain: Chain
) -> Record:
    return Record(
        id=verdict.id,
        timestamp=verdict.at,
        event_type=EventType.GOVERNANCE_CHECKED,
        service=verdict.service,
        blueprint_version=blueprint.version,
        provenance=blueprint.provenance,
        outcome=Outcome(str(verdict.action)),
        rationale=verdict.rationale + " " + " ".join(verdict.reason_words),
        operation=verdict.operation,
        classification=str(verdict.classification),
        links=chain.links(),
        details={**verdict_json(verdict), "request": request_json(request)},
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
    event = (
        EventType.ROLLBACK_EXECUTED
        if request.origin is Origin.ROLLBACK
        else EventType.OPERATION_EXECUTED
    )
    return Record(
        id=chain.operation,
        timestamp=applied.completed_at,
        event_type=event,
        service=request.service,
        blueprint_version=blueprint.version,
        provenance=blueprint.provenance,
        outcome=Outcome.SUCCESS,
        rationale=f"{change.describe()}: {applied.message}",
        operation=request.operation,
        classification=str(verdict.classification),
        duration_seconds=round(applied.duration, 3),
        links=chain.links(rollback_of=request.reverts),
        details={
            "request": request_json(request),
            "change": change.describe(),
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
    event = (
        EventType.ROLLBACK_FAILED
        if request.origin is Origin.ROLLBACK
        else EventType.OPERATION_FAILED
    )
    return Record(
        id=chain.operation,
        timestamp=now,
        event_type=event,
        service=request.service,
        blueprint_version=blueprint.version,
        provenance=blueprint.provenance,
        outcome=Outcome.FAILURE,
        rationale=f"{change.describe()} failed: {error}",
        operation=request.operation,
        classification=str(verdict.classification),
        links=chain.links(rollback_of=request.reverts),
        details={
            "request": request_json(request),
            "change": change.describe(),
            "error": error,
            "hint": hint,
        },
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
    return Record(
        id=chain.operation,
        timestamp=verdict.at,
        event_type=EventType.OPERATION_DEFERRED if deferred else EventType.OPERATION_BLOCKED,
        service=request.service,
        blueprint_version=blueprint.version,
        provenance=blueprint.provenance,
        outcome=Outcome.DEFERRED if deferred else Outcome.BLOCKED,
        rationale=" ".join(reasons),
        operation=request.operation,
        classification=str(verdict.classification),
        links=chain.links(),
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
    return Record(
        id=make_id(
            "apr",
            verdict.at,
            request.service,
            request.operation,
            request.target_replicas,
            request.decision_id,
        ),
        timestamp=verdict.at,
        event_type=EventType.APPROVAL_REQUESTED,
        service=request.service,
        blueprint_version=blueprint.version,
        provenance=blueprint.provenance,
        outcome=Outcome.PENDING,
        rationale=f"{request.describe()} needs approval by "
        f"{', '.join(verdict.approvers) or 'nobody (no approvers set)'}.",
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
    return Record(
        id=chain.operation,
        timestamp=verdict.at,
        event_type=EventType.OPERATION_OBSERVED,
        service=request.service,
        blueprint_version=blueprint.version,
        provenance=blueprint.provenance,
        outcome=Outcome(would),
        rationale=f"Observe mode ({blueprint.observed_by}): {request.describe()} "
        f"{WOULD[would]}; nothing was changed or proposed. {verdict.summary}",
        operation=request.operation,
        classification=str(verdict.classification),
        links=chain.links(),
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
    return Record(
        id=make_id("brk", now, service, "open"),
        timestamp=now,
        event_type=EventType.BREAKER_OPENED,
        service=service,
        blueprint_version=blueprint.version,
        provenance=blueprint.provenance,
        outcome=Outcome.OPENED,
        rationale=f"{len(failures)} failures within {settings.failure_window:g}s (threshold "
        f"{settings.failure_threshold}); changes to {service} stop until "
        f"`reconciler breaker reset {service} --reason ...`.",
        links={},
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
    return Record(
        id=make_id("brk", now, service, "reset", by),
        timestamp=now,
        event_type=EventType.BREAKER_RESET,
        service=service,
        blueprint_version=blueprint.version,
        provenance=blueprint.provenance,
        outcome=Outcome.RESET,
        rationale=f"circuit breaker reset by {by}: {reason}",
        links={},
        details={"reset_by": by, "reason": reason},
    )


def pause_record(blueprint: Blueprint, why: str, now: datetime) -> Record:
    """The pause of a service begins (or its reason changes): recorded once, not each cycle."""
    return Record(
        id=make_id("pau", now, blueprint.name, why),
        timestamp=now,
        event_type=EventType.SERVICE_PAUSED,
        service=blueprint.name,
        blueprint_version=blueprint.version,
        provenance=blueprint.provenance,
        outcome=Outcome.PAUSED,
        rationale=f"Paused by {why}: the reconciler observes and reports, and changes and "
        "proposes nothing until the pause ends.",
        links={},
        details={"paused_by": why},
    )


def resume_record(blueprint: Blueprint, since: Record, now: datetime) -> Record:
    """The pause recorded in `since` has ended."""
    paused_by = pause_of(since).paused_by
    return Record(
        id=make_id("res", now, blueprint.name, since.id),
        timestamp=now,
        event_type=EventType.SERVICE_RESUMED,
        service=blueprint.name,
        blueprint_version=blueprint.version,
        provenance=blueprint.provenance,
        outcome=Outcome.RESUMED,
        rationale=f"The pause by {paused_by or 'unknown'} has ended; the reconciler acts again.",
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
    request = refusal_of(deferred).request.to_json()
    return Record(
        id=make_id("exp", now, blueprint.name, deferred.id),
        timestamp=now,
        event_type=EventType.REQUEST_EXPIRED,
        service=blueprint.name,
        blueprint_version=blueprint.version,
        provenance=blueprint.provenance,
        outcome=Outcome.EXPIRED,
        rationale=f"The deferred request was not carried out: {why}.",
        operation=deferred.operation,
        links={"decision": deferred.links.get("decision", ""), "deferred": deferred.id},
        details={"request": request, "deferred_at": deferred.timestamp.isoformat(), "why": why},
    )
