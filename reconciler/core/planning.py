"""Planning one service's part of a cycle: the pure heart of `reconciler run`.

The shell gathers the inputs (blueprint, observed state, metrics, history) and hands them
here; the planner decides, governs each resulting operation and prepares its records. What
comes back is a `ServicePlan`: steps to carry out, each with the cluster change to make (if
any) and the records that tell the story. The shell performs the changes and commits the
records; nothing in here touches the world.

Identical refusals are not recorded again within an hour (a service in cooldown, or behind an
open breaker, would otherwise add a commit every cycle); they still show in the run's output.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from reconciler.core.blueprint import Blueprint
from reconciler.core.changes import Change, ChangeKind
from reconciler.core.decision import DEFAULT_MAX_METRICS_AGE, Decision, decide
from reconciler.core.events import (
    Chain,
    breaker_opened_record,
    decision_record,
    operation_id,
    pending_record,
    recovered_record,
    refusal_record,
    request_record,
    short,
    stamp_for,
    subject_for,
    verdict_record,
)
from reconciler.core.governance import OperationRequest, Origin, Verdict, VerdictAction, govern
from reconciler.core.history import BreakerPhase, BreakerState, ServiceHistory
from reconciler.core.ids import make_id, utc
from reconciler.core.observation import DeploymentState, Metrics, Sample
from reconciler.core.records import EventType, Record

__all__ = ["Note", "ServicePlan", "Step", "observed_values", "plan_cycle", "plan_request"]

#: A refusal identical to one recorded this recently is shown but not recorded again.
REPEAT_WINDOW = timedelta(hours=1)


@dataclass(frozen=True, kw_only=True)
class Step:
    """One governed operation: what was asked, the verdict, and what to do about it."""

    request: OperationRequest
    verdict: Verdict
    chain: Chain
    #: The change to apply when the verdict is to execute; None otherwise.
    change: Change | None
    #: Records to commit now; for an executed change, the outcome record is added after it.
    records: tuple[Record, ...]
    subject: str
    #: An identical refusal was recorded within the last hour; shown, not recorded again.
    repeated: bool = False


@dataclass(frozen=True, kw_only=True)
class Note:
    """A commit that belongs to no operation: a breaker opening, a recovered change."""

    subject: str
    records: tuple[Record, ...]


@dataclass(frozen=True, kw_only=True)
class ServicePlan:
    service: str
    decision: Decision | None
    steps: tuple[Step, ...] = ()
    notes: tuple[Note, ...] = ()
    needs_window: bool = False


def observed_values(
    state: DeploymentState, metrics: Metrics, decision: Decision | None = None
) -> dict[str, float | None]:
    """The observed numbers conditions may use (see conditions.NAMES)."""
    return {
        "ready_replicas": float(state.ready_replicas),
        "restart_count": float(state.max_restarts),
        "cpu_utilization": metrics.cpu_utilization,
        "memory_utilization": metrics.memory_utilization,
        "error_rate": metrics.error_rate,
        "latency_p95_ms": metrics.latency_p95_ms,
        "weighted_utilization": None if decision is None else decision.weighted.value,
    }


def _change_for(
    request: OperationRequest, state: DeploymentState, chain: Chain, now: datetime
) -> Change:
    """The cluster change that carries out an operation the verdict allows."""
    stamp = stamp_for(request, chain, now, request.describe())
    params = request.parameters
    if request.target_replicas is not None:
        kind = ChangeKind.SCALE
    elif request.operation == "restart_failed_pods":
        kind = ChangeKind.RESTART
    elif request.operation in {"rollback_deployment", "rollback_own_change"}:
        kind = ChangeKind.ROLLBACK
    else:
        kind = ChangeKind.RESOURCES

    def number(key: str) -> int | None:
        value = params.get(key)
        return value if isinstance(value, int) else None

    return Change(
        target=state.target,
        kind=kind,
        stamp=stamp,
        expected_version=state.version,
        replicas=request.target_replicas,
        cpu_request=number("cpu_request"),
        memory_request=number("memory_request"),
        to_revision=number("to_revision"),
    )


def _coexistence(
    blueprint: Blueprint, state: DeploymentState, request: OperationRequest
) -> tuple[str | None, str | None]:
    """Who else manages the replicas, and what that means for a scale: (hpa to adjust, refusal).

    Two controllers writing one field fight forever, so the reconciler never writes replicas
    that another controller owns. With `coexistence: adjust_hpa` it scales through the HPA
    instead; Argo CD or Flux owning the replicas is always a refusal.
    """
    if request.target_replicas is None or not state.controllers:
        return None, None
    hpas = [c.split("/", 1)[1] for c in state.controllers if c.startswith("hpa/")]
    others = [c for c in state.controllers if not c.startswith("hpa/")]
    owners = ", ".join(state.controllers)
    if others:
        return None, (
            f"the replicas of {state.target} are managed by {owners}; the reconciler does not "
            "fight another controller. Remove spec.replicas from the GitOps manifest (or ignore "
            "its differences) to let the reconciler scale"
        )
    if blueprint.scaling.coexistence == "adjust_hpa" and len(hpas) == 1:
        return hpas[0], None
    return None, (
        f"the replicas of {state.target} are managed by {owners}; set "
        "spec.scaling.coexistence: adjust_hpa to scale through the HPA's minReplicas"
    )


def _repeated(
    history: ServiceHistory,
    request: OperationRequest,
    verdict: Verdict,
    now: datetime,
    window: timedelta,
) -> bool:
    """Was this same refusal (or pending approval) recorded within `window`?"""
    wanted = {
        VerdictAction.BLOCK: EventType.OPERATION_BLOCKED,
        VerdictAction.DEFER: EventType.OPERATION_DEFERRED,
        VerdictAction.REQUEST_APPROVAL: EventType.APPROVAL_REQUESTED,
    }.get(verdict.action)
    if wanted is None:
        return False
    for record in reversed(history.records):
        if record.event_type is wanted and record.operation == request.operation:
            recent = utc(now) - utc(record.timestamp) <= window
            asked = record.details.get("request", {})
            return recent and asked.get("target_replicas") == request.target_replicas
    return False


def _step(
    request: OperationRequest,
    blueprint: Blueprint,
    state: DeploymentState,
    history: ServiceHistory,
    observed: Mapping[str, float | None],
    now: datetime,
    lead: Record,
    decision: Decision | None,
) -> Step:
    verdict = govern(request, blueprint, history, observed, now)
    hpa, conflict = _coexistence(blueprint, state, request)
    if conflict and verdict.action is VerdictAction.EXECUTE:
        verdict = replace(
            verdict,
            action=VerdictAction.BLOCK,
            reasons=(*verdict.reasons, conflict),
            summary=conflict,
        )
    chain = Chain(decision=lead.id, governance=verdict.id, operation=operation_id(request, now))
    records: list[Record] = [verdict_record(verdict, request, blueprint, chain)]
    change = None
    outcome: Record | None = None
    if verdict.action is VerdictAction.EXECUTE:
        change = replace(_change_for(request, state, chain, now), hpa=hpa)
    elif verdict.action is VerdictAction.REQUEST_APPROVAL:
        outcome = pending_record(request, verdict, blueprint, chain)
    else:
        outcome = refusal_record(request, verdict, blueprint, chain)
    if outcome is not None:
        records.append(outcome)
    subject = subject_for(outcome or records[0], request, verdict, decision)
    return Step(
        request=request,
        verdict=verdict,
        chain=chain,
        change=change,
        records=(lead, *records),
        subject=subject,
        repeated=_repeated(
            history,
            request,
            verdict,
            now,
            timedelta(seconds=blueprint.policy.approval.timeout)
            if verdict.action is VerdictAction.REQUEST_APPROVAL
            else REPEAT_WINDOW,
        ),
    )


def _breaker_note(
    blueprint: Blueprint, history: ServiceHistory, now: datetime
) -> tuple[ServiceHistory, Note | None]:
    """Open the breaker when the recorded failures reach the threshold."""
    if not history.breaker.should_open:
        return history, None
    record = breaker_opened_record(blueprint.name, blueprint, history.breaker.failures, now)
    opened = replace(
        history,
        records=(*history.records, record),
        breaker=BreakerState(
            phase=BreakerPhase.OPEN, failures=history.breaker.failures, opened_at=now
        ),
    )
    subject = (
        f"{blueprint.name}: circuit breaker opened after {len(history.breaker.failures)} failures"
    )
    return opened, Note(subject=subject, records=(record,))


def _recovery_note(
    blueprint: Blueprint, state: DeploymentState, stamp_recorded: bool, now: datetime
) -> Note | None:
    stamp = state.last_change
    if stamp is None or stamp_recorded:
        return None
    record = recovered_record(stamp, blueprint, now)
    return Note(
        subject=f"{blueprint.name}: recorded {short(stamp.summary, 40)} found on the deployment",
        records=(record,),
    )


def plan_cycle(
    blueprint: Blueprint,
    state: DeploymentState,
    metrics: Metrics,
    history: ServiceHistory,
    now: datetime,
    *,
    window: Sequence[Sample] | None = None,
    stamp_recorded: bool = True,
    max_metrics_age: float = DEFAULT_MAX_METRICS_AGE,
) -> ServicePlan:
    """Decide and govern one service for a scheduled cycle."""
    now = utc(now)
    notes: list[Note] = []
    recovery = _recovery_note(blueprint, state, stamp_recorded, now)
    if recovery is not None:
        notes.append(recovery)
    history, breaker_note = _breaker_note(blueprint, history, now)
    if breaker_note is not None:
        notes.append(breaker_note)
    decision = decide(
        blueprint, state, metrics, now=now, window=window, max_metrics_age=max_metrics_age
    )
    if decision.needs_window:
        return ServicePlan(
            service=blueprint.name, decision=decision, notes=tuple(notes), needs_window=True
        )
    observed = observed_values(state, metrics, decision)
    requests = []
    if decision.changes:
        requests.append(
            OperationRequest(
                operation="scale_within_limits",
                service=blueprint.name,
                origin=Origin.DECISION,
                current_replicas=decision.current_replicas,
                target_replicas=decision.target_replicas,
                decision_id=decision.id,
            )
        )
    beyond = decision.beyond_limits
    if beyond is not None:
        requests.append(
            OperationRequest(
                operation="scale_beyond_limits",
                service=blueprint.name,
                origin=Origin.DECISION,
                current_replicas=decision.target_replicas,
                target_replicas=beyond,
                decision_id=decision.id,
            )
        )
    if not requests:
        return ServicePlan(service=blueprint.name, decision=decision, notes=tuple(notes))
    lead = decision_record(decision)
    steps = tuple(
        _step(request, blueprint, state, history, observed, now, lead, decision)
        for request in requests
    )
    return ServicePlan(service=blueprint.name, decision=decision, steps=steps, notes=tuple(notes))


def plan_request(
    blueprint: Blueprint,
    state: DeploymentState,
    metrics: Metrics,
    history: ServiceHistory,
    request: OperationRequest,
    now: datetime,
) -> ServicePlan:
    """Govern an operation a person or a tool asked for, exactly as a decision would be.

    A scale request is named by where its target lies: within the bounds it is
    scale_within_limits, outside them scale_beyond_limits, whatever name was used.
    """
    now = utc(now)
    if request.target_replicas is not None and request.operation in {
        "scale",
        "scale_within_limits",
        "scale_beyond_limits",
    }:
        scaling = blueprint.scaling
        inside = scaling.min_replicas <= request.target_replicas <= scaling.max_replicas
        request = replace(
            request,
            operation="scale_within_limits" if inside else "scale_beyond_limits",
            current_replicas=state.replicas,
        )
    history, breaker_note = _breaker_note(blueprint, history, now)
    request_id = make_id("req", now, blueprint.name, request.operation, request.target_replicas)
    request = replace(request, decision_id=request_id)
    lead = request_record(request, blueprint, request_id, now)
    step = _step(
        request, blueprint, state, history, observed_values(state, metrics), now, lead, None
    )
    step = replace(step, repeated=False)  # a person asked: always record the answer
    return ServicePlan(
        service=blueprint.name,
        decision=None,
        steps=(step,),
        notes=(breaker_note,) if breaker_note else (),
    )
