"""Building the audit record for each kind of event, and the commit subject that tells it.

Subjects are written for `git log --oneline`, which is the audit trail a person reads first:

    todo-frontend: scale 2→3 (allowed): weighted 81.5% > 80%
    todo-frontend: blocked delete_deployment (forbidden): complete outage of the service
    todo-backend: deferred scale 2→3 (allowed): cooldown 1m30s, 40s left

The record bodies carry the full decision and verdict, so nothing a person might ask later
("which rule? which numbers?") is lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reconciler.core.blueprint.model import Blueprint
from reconciler.core.blueprint.units import format_percent
from reconciler.core.decide.decision import Decision
from reconciler.core.decide.governance import OperationRequest, Origin, Verdict
from reconciler.core.ids import make_id, utc
from reconciler.core.observed.changes import Applied, Change
from reconciler.core.observed.observation import STAMP_ANNOTATION, ChangeStamp
from reconciler.core.trail.records import EventType, Outcome, Record

__all__ = [
    "decision_json",
    "decision_record",
    "verdict_json",
    "verdict_record",
]


def decision_json(decision: Decision) -> dict[str, Any]:
    weighted = decision.weighted
    return {
        "decision_id": decision.id,
        "action": str(decision.action),
        "reason": str(decision.reason),
        "rule": str(decision.rule),
        "current_replicas": decision.current_replicas,
        "target_replicas": decision.target_replicas,
        "desired_replicas": decision.desired_replicas,
        "beyond_limits": decision.beyond_limits,
        "estimate": decision.estimate,
        "weighted_utilization": None if weighted.value is None else round(weighted.value, 6),
        "weighted_bounds": [round(weighted.low, 6), round(weighted.high, 6)],
        "metrics_breakdown": [
            {
                "type": c.type,
                "weight": c.weight,
                "value": c.value,
                "normalised": None if c.normalised is None else round(c.normalised, 6),
                "contribution": None if c.contribution is None else round(c.contribution, 6),
            }
            for c in weighted.components
        ],
        "expected_outcome": None
        if decision.expected is None
        else {
            "replicas": decision.expected.replicas,
            "expected_cpu_utilization": _round(decision.expected.cpu_utilization),
            "expected_memory_utilization": _round(decision.expected.memory_utilization),
        },
        "inputs": dict(decision.inputs),
        "blueprint_references": list(decision.references),
        **(
            {
                "guards": [
                    {
                        "rule": str(g.rule),
                        "value": round(g.value, 6),
                        "limit": round(g.limit, 6),
                        "estimate": g.estimate,
                    }
                    for g in decision.guards
                ]
            }
            if decision.guards
            else {}
        ),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def verdict_json(verdict: Verdict) -> dict[str, Any]:
    return {
        "governance_check_id": verdict.id,
        "decision_id": verdict.decision_id,
        "operation": verdict.operation,
        "classification": str(verdict.classification),
        "action": str(verdict.action),
        "requires_approval": verdict.requires_approval,
        "reasons": list(verdict.reasons),
        "blueprint_references": list(verdict.references),
        "rules": [
            {
                "reference": c.reference,
                "origin": c.origin,
                "tier": str(c.tier),
                "condition": c.condition,
                "evaluated": c.rendered,
                "result": c.result,
                "unknown": list(c.missing),
            }
            for c in verdict.checks
        ],
        "safety_checks": {
            check.name: {"ok": check.ok, "detail": check.detail, "retry_at": check.retry_at}
            for check in verdict.safety
        },
        "alternatives": [
            {
                "operation": a.operation,
                "description": a.description,
                "classification": str(a.tier),
                "replicas": a.replicas,
            }
            for a in verdict.alternatives
        ],
        "approvers": list(verdict.approvers),
        "retry_at": verdict.retry_at,
    }


def request_json(request: OperationRequest) -> dict[str, Any]:
    return {
        "operation": request.operation,
        "origin": str(request.origin),
        "current_replicas": request.current_replicas,
        "target_replicas": request.target_replicas,
        "change_percent": request.change_percent,
        "reason": request.reason,
        "requested_by": request.requested_by,
        "reverts": request.reverts or None,
        "parameters": dict(request.parameters),
    }


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
        rationale=verdict.rationale + " " + " ".join(verdict.reasons),
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
    reasons = [*verdict.reasons, *([note] if note else [])]
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


#: What a verdict would have led to, as the observe record's `would` says it.
_WOULD = {
    "execute": "would apply",
    "request_approval": "would propose",
    "block": "would be blocked",
    "defer": "would be deferred",
}


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
        f"{_WOULD[would]}; nothing was changed or proposed. {verdict.summary}",
        operation=request.operation,
        classification=str(verdict.classification),
        links=chain.links(),
        details={
            "mode": "observe",
            "observed_by": blueprint.observed_by,
            "would": would,
            "replicas_running": running,
            "request": request_json(request),
            "reasons": list(verdict.reasons),
            "approvers": list(verdict.approvers),
            "retry_at": verdict.retry_at,
        },
    )


#: Records that lead a chain and are committed with its change, by id prefix.
_SAME_RUN_LEADS = {"dec-": "decision", "req-": "request"}


def recovered_record(stamp: ChangeStamp, blueprint: Blueprint, now: datetime) -> Record:
    """A change found on a deployment that the audit trail does not have (a run died).

    Built from the deployment's stamp so that it stands where the lost `operation_executed`
    record would: the same links (decision, governance, approval, rollback_of), the request,
    the pre-change baseline and expectations. Verification then treats it as any executed
    change, a harmful one is rolled back, and an approval it carried out counts as used.
    A stamp from before stamps carried these has none of them; the rationale says so.
    """
    asked = stamp.request
    parameters = asked.get("parameters")
    parameters = dict(parameters) if isinstance(parameters, Mapping) else {}
    request = {
        "operation": stamp.operation,
        "origin": asked.get("origin"),
        "current_replicas": asked.get("current_replicas", stamp.before.get("replicas")),
        "target_replicas": asked.get("target_replicas", stamp.after.get("replicas")),
        "change_percent": asked.get("change_percent"),
        "reason": asked.get("reason", ""),
        "requested_by": asked.get("requested_by", ""),
        "reverts": stamp.reverts or None,
        "parameters": parameters,
    }
    baseline = dict(stamp.baseline)
    pre = (
        {
            "replicas": baseline.get("replicas"),
            "ready": baseline.get("ready_replicas"),
            "revision": baseline.get("revision"),
        }
        if baseline
        else dict(stamp.before)
    )
    at = utc(stamp.at)
    # Committed with the change, so lost with it: the verdict, and the decision or request
    # when the same run made it (an approval or a failed verification leads from older records).
    lost = [
        f"{kind} {record_id}"
        for kind, record_id in (
            (_SAME_RUN_LEADS.get(stamp.decision_id[:4], ""), stamp.decision_id),
            ("governance check", stamp.governance_id),
        )
        if kind and record_id
    ]
    rationale = (
        f"{stamp.summary}: recovered from the deployment's {STAMP_ANNOTATION} stamp after a "
        f"crash. The run that made this change at {at:%Y-%m-%d %H:%M:%SZ} ended before "
        f"recording it (found at {utc(now):%Y-%m-%d %H:%M:%SZ})"
        + (
            f"; the record{'s' if len(lost) > 1 else ''} of its {' and '.join(lost)} "
            f"{'were' if len(lost) > 1 else 'was'} lost with it"
            if lost
            else ""
        )
        + "."
    )
    if stamp.why:
        rationale += f" It was made because: {stamp.why}"
    rationale += (
        " The stamp keeps the request and the pre-change baseline, so the change is verified, "
        "and rolled back if it made things worse, like any recorded change."
        if baseline
        else " This stamp carries no baseline (an older reconciler wrote it), so its "
        "verification cannot tell whether anything got worse."
    )
    return Record(
        id=stamp.operation_id,
        timestamp=at,
        event_type=EventType.OPERATION_RECOVERED,
        service=stamp.service,
        blueprint_version=blueprint.version,
        provenance=blueprint.provenance,
        outcome=Outcome.RECOVERED,
        rationale=rationale,
        operation=stamp.operation,
        classification=stamp.classification or None,
        links={
            key: value
            for key, value in (
                ("decision", stamp.decision_id),
                ("governance", stamp.governance_id),
                ("operation", stamp.operation_id),
                ("approval", stamp.approval_id),
                ("rollback_of", stamp.reverts),
            )
            if value
        },
        details={
            "summary": stamp.summary,
            "recovered_from": STAMP_ANNOTATION,
            "request": request,
            "pre_operation_state": pre,
            "post_operation_state": dict(stamp.after),
            "baseline": baseline or None,
            "expected": dict(stamp.expected) or None,
            "attempt": parameters.get("attempt"),
            "authorized_by": dict(stamp.authorized_by) or None,
            "why": stamp.why or None,
            "recovered_at": now,
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


def short(text: str, limit: int = 72) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def subject_for(
    record: Record, request: OperationRequest, verdict: Verdict, decision: Decision | None
) -> str:
    """The `git log --oneline` line for one operation's commit."""
    service = request.service
    what = request.describe()
    tier = verdict.classification
    if request.origin is Origin.ROLLBACK:
        attempt = request.parameters.get("attempt")
        nth = f", attempt {attempt}" if isinstance(attempt, int) and attempt > 1 else ""
        outcome = {
            EventType.ROLLBACK_EXECUTED: "rolled back",
            EventType.ROLLBACK_FAILED: "rollback failed",
        }.get(record.event_type, f"rollback {record.outcome}")
        return f"{service}: {outcome} ({what}{nth}): undoes {request.reverts}"
    match record.event_type:
        case EventType.OPERATION_OBSERVED:
            would = _WOULD.get(str(record.details.get("would")), "observed")
            return f"{service}: observe mode: {what} {would} ({tier})"
        case EventType.OPERATION_EXECUTED | EventType.ROLLBACK_EXECUTED:
            return f"{service}: {what} ({tier}): {_because(request, decision)}"
        case EventType.OPERATION_FAILED | EventType.ROLLBACK_FAILED:
            return f"{service}: {what} failed: {short(str(record.details.get('error', '')), 60)}"
        case EventType.OPERATION_BLOCKED:
            return f"{service}: blocked {what} ({tier}): {short(verdict.summary, 60)}"
        case EventType.OPERATION_DEFERRED:
            return f"{service}: deferred {what} ({tier}): {short(verdict.summary, 60)}"
        case EventType.APPROVAL_REQUESTED:
            return f"{service}: {what} needs approval ({tier}): {_because(request, decision)}"
    return f"{service}: {record.event_type} {what}"


def escalated_subject(service: str, what: str, briefly: str) -> str:
    """A failed change handed to a person."""
    return f"{service}: escalated {what}: {briefly}; a person must decide"


def breaker_subject(service: str, failures: int) -> str:
    """The circuit breaker opened."""
    return f"{service}: circuit breaker opened after {failures} failures"


def recovered_subject(service: str, summary: str) -> str:
    """A change found on the deployment that the trail lacked."""
    return f"{service}: recorded {short(summary, 40)} found on the deployment"


def paused_subject(service: str, paused_by: str) -> str:
    return f"{service}: paused by {paused_by}"


def resumed_subject(service: str, paused_by: object) -> str:
    return f"{service}: resumed after the pause by {paused_by}"


def expired_subject(service: str, what: str, why: str) -> str:
    """A deferred request that was not carried out."""
    return f"{service}: deferred request {what} expired: {short(why, 60)}"


def _because(request: OperationRequest, decision: Decision | None) -> str:
    if request.origin is Origin.REQUEST:
        who = request.requested_by or "someone"
        return short(f"requested by {who}" + (f": {request.reason}" if request.reason else ""), 60)
    if decision is not None and request.origin is Origin.RECOVERY:
        failing = decision.inputs.get("failing_pods")
        count = len(failing) if isinstance(failing, list) else 0
        restarts = decision.inputs.get("effective_restarts")
        reason = decision.reason.value.replace("_", " ")
        return f"{reason}: {count}/{decision.current_replicas} pods failing, {restarts} restarts"
    if decision is None or decision.weighted.value is None:
        return short(decision.rationale if decision else request.reason, 60)
    w = format_percent(decision.weighted.value)
    up = decision.inputs.get("scale_up_threshold")
    down = decision.inputs.get("scale_down_threshold")
    if decision.target_replicas > decision.current_replicas or decision.beyond_limits:
        return f"weighted {w} > {format_percent(float(up))}" if isinstance(up, float) else w
    return f"weighted {w} < {format_percent(float(down))}" if isinstance(down, float) else w


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
    return Record(
        id=make_id("res", now, blueprint.name, since.id),
        timestamp=now,
        event_type=EventType.SERVICE_RESUMED,
        service=blueprint.name,
        blueprint_version=blueprint.version,
        provenance=blueprint.provenance,
        outcome=Outcome.RESUMED,
        rationale=f"The pause by {since.details.get('paused_by', 'unknown')} has ended; the "
        "reconciler acts again.",
        links={"paused": since.id},
        details={
            "paused_at": since.timestamp.isoformat(),
            "paused_by": since.details.get("paused_by"),
        },
    )


def request_expired_record(
    blueprint: Blueprint, deferred: Record, why: str, now: datetime
) -> Record:
    """A deferred request that was not carried out: it no longer holds, or waited too long."""
    request = deferred.details.get("request") or {}
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
