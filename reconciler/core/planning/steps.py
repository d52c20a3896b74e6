"""One governed operation: its verdict, the cluster change it makes, and its records."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from reconciler.core.approvals.authorization import Authorization
from reconciler.core.approvals.lifecycle import Kind
from reconciler.core.blueprint.catalogue import ROLLBACK_OWN_CHANGE
from reconciler.core.blueprint.model import Blueprint, Mode
from reconciler.core.decide.decision import Decision
from reconciler.core.decide.governance import (
    OperationRequest,
    Verdict,
    VerdictAction,
    govern,
)
from reconciler.core.ids import utc
from reconciler.core.observed.changes import Change, ChangeKind
from reconciler.core.observed.observation import (
    ChangeStamp,
    DeploymentState,
    Metrics,
)
from reconciler.core.planning.events import (
    Chain,
    observed_record,
    operation_id,
    pending_record,
    refusal_record,
    stamp_for,
    verdict_record,
)
from reconciler.core.planning.plan import Step
from reconciler.core.planning.subjects import (
    subject_for,
)
from reconciler.core.trail import lazy_bodies
from reconciler.core.trail.history import (
    ServiceHistory,
)
from reconciler.core.trail.records import EventType, Record
from reconciler.core.trail.wording import Code, Reason, say

#: A refusal identical to one recorded this recently is shown but not recorded again.
REPEAT_WINDOW = timedelta(hours=1)


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
        "throughput": metrics.throughput,
    }


#: The cluster change each executable operation makes. The operation's name decides, never
#: the parameters that came with it: governance classified the name.
_KIND_BY_OPERATION = {
    "scale_within_limits": ChangeKind.SCALE,
    "scale_beyond_limits": ChangeKind.SCALE,
    "restart_failed_pods": ChangeKind.RESTART,
    "rollback_deployment": ChangeKind.ROLLBACK,
    "adjust_resources_within_10_percent": ChangeKind.RESOURCES,
    "change_resource_limits_beyond_10_percent": ChangeKind.RESOURCES,
}


def change_for(request: OperationRequest, state: DeploymentState, stamp: ChangeStamp) -> Change:
    """The cluster change that carries out an operation the verdict allows.

    Its stamp (`stamp_for`) carries the chain, the request and the baseline and expectations
    the executed record keeps, so a run that dies before recording the change leaves the next
    run all it needs to record, verify and, if need be, roll it back.
    """
    params = request.parameters
    kind = _KIND_BY_OPERATION.get(request.operation)
    if request.operation == ROLLBACK_OWN_CHANGE:
        # Undoing a scale scales back; undoing anything else returns to the old revision.
        kind = ChangeKind.SCALE if request.target_replicas is not None else ChangeKind.ROLLBACK
    if kind is None or (kind is ChangeKind.SCALE) != (request.target_replicas is not None):
        # shape_request keeps requests consistent; this guards the one place that acts.
        raise ValueError(
            f"{request.operation} with target_replicas={request.target_replicas} "
            "is not a change this reconciler carries out"
        )

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
) -> tuple[str | None, Reason | None]:
    """Who else manages the replicas, and what that means for a scale: (hpa to adjust, refusal).

    Two controllers writing one field fight forever, so the reconciler never writes replicas
    that another controller owns. With `coexistence: adjust_hpa` it scales through the HPA
    instead; with `gitops_ignores_replicas` the blueprint states that the Argo CD or Flux marks
    on the deployment do not cover its replicas; with `write_back` the scale is a commit to
    the manifests that tool applies (the shell makes it).
    """
    if request.target_replicas is None:
        return None, None
    return ownership(blueprint, state)


def replica_ownership(
    blueprint: Blueprint, state: DeploymentState
) -> tuple[str | None, str | None]:
    """For any scale of the deployment: (the HPA to scale through, why scaling is refused, in
    words). `doctor` asks it too, so that it warns of what every cycle would refuse."""
    hpa, refusal = ownership(blueprint, state)
    return hpa, None if refusal is None else say(refusal)


def ownership(blueprint: Blueprint, state: DeploymentState) -> tuple[str | None, Reason | None]:
    """For any scale of the deployment: (the HPA to scale through, why scaling is refused)."""
    if not state.controllers:
        return None, None
    hpas = [c.split("/", 1)[1] for c in state.controllers if c.startswith("hpa/")]
    gitops = [c for c in state.controllers if not c.startswith("hpa/")]
    who = {"target": state.target, "owners": ", ".join(state.controllers)}
    mode = blueprint.scaling.coexistence
    # No mode helps these, so the refusal must not send anyone to change the mode.
    if len(hpas) > 1:
        return None, Reason(Code.SEVERAL_HPAS, who)
    if hpas and gitops:
        return None, Reason(Code.HPA_AND_GITOPS, who)
    if gitops and mode not in {"gitops_ignores_replicas", "write_back"}:
        return None, Reason(Code.GITOPS_OWNS_REPLICAS, who)
    if not hpas:
        return None, None
    if mode == "adjust_hpa" and len(hpas) == 1:
        return hpas[0], None
    return None, Reason(Code.HPA_OWNS_REPLICAS, who)


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
            return (
                recent and lazy_bodies.request_of(record).target_replicas == request.target_replicas
            )
    return False


def _baseline(state: DeploymentState, observed: Mapping[str, float | None]) -> dict[str, Any]:
    """What a change's verification compares against: the service just before it."""
    return {
        "replicas": state.replicas,
        "ready_replicas": state.ready_replicas,
        "restart_count": state.max_restarts,
        "revision": state.revision,
        "cpu_utilization": observed.get("cpu_utilization"),
        "memory_utilization": observed.get("memory_utilization"),
        "latency_p95_ms": observed.get("latency_p95_ms"),
        "error_rate": observed.get("error_rate"),
        "throughput": observed.get("throughput"),
    }


def govern_step(
    request: OperationRequest,
    blueprint: Blueprint,
    state: DeploymentState,
    history: ServiceHistory,
    observed: Mapping[str, float | None],
    now: datetime,
    *,
    lead: Record | None,
    lead_id: str,
    decision: Decision | None,
    escalate: Reason | None = None,
    authorization: Authorization | None = None,
) -> Step:
    """One operation governed: the verdict, the change it allows, and the records that tell
    it (the lead record first when this step made it: a decision or a request)."""
    approved_by = (
        authorization.describe()
        if authorization is not None and authorization.kind is Kind.REQUEST
        else ""
    )
    verdict = govern(request, blueprint, history, observed, now, approved_by=approved_by)
    verdict = escalated(verdict, blueprint, escalate)
    hpa, conflict = _coexistence(blueprint, state, request)
    verdict = refused_for_coexistence(verdict, conflict)
    chain = Chain(
        decision=lead_id,
        governance=verdict.id,
        operation=operation_id(request, now),
        approval=authorization.approval_id if authorization is not None else "",
    )
    context = change_context(request, state, observed, decision, authorization)
    trial = blueprint.mode is Mode.OBSERVE
    change, outcome = _outcome(
        request, verdict, blueprint, state, chain, now, context=context, decision=decision
    )
    if change is not None:
        change = replace(change, hpa=hpa)
    records = [verdict_record(verdict, request, blueprint, chain)]
    if outcome is not None:
        records.append(outcome)
    return Step(
        request=request,
        verdict=verdict,
        chain=chain,
        change=change,
        records=(lead, *records) if lead is not None else tuple(records),
        subject=subject_for(outcome or records[0], request, verdict, decision),
        context=context,
        approved_by=approved_by,
        observed=trial,
        repeated=_observed_before(history, request, verdict, state, now)
        if trial
        else _repeated(history, request, verdict, now, _repeat_window(blueprint, verdict)),
    )


def escalated(verdict: Verdict, blueprint: Blueprint, escalate: Reason | None) -> Verdict:
    """An operation allowed on its own goes to a person when the recovery ladder says a
    person must decide now (`escalate` says why; None when it does not)."""
    if escalate is None or verdict.action is not VerdictAction.EXECUTE:
        return verdict
    why = say(escalate)
    return replace(
        verdict,
        action=VerdictAction.REQUEST_APPROVAL,
        reasons=(*verdict.reasons, escalate),
        summary=why,
        approvers=blueprint.policy.approval.approvers,
    )


def refused_for_coexistence(verdict: Verdict, conflict: Reason | None) -> Verdict:
    """A scale another controller owns is refused before a person is asked: an approval
    could not make it possible."""
    if conflict is None or verdict.action not in {
        VerdictAction.EXECUTE,
        VerdictAction.REQUEST_APPROVAL,
    }:
        return verdict
    return replace(
        verdict,
        action=VerdictAction.BLOCK,
        reasons=(*verdict.reasons, conflict),
        summary=say(conflict),
    )


def change_context(
    request: OperationRequest,
    state: DeploymentState,
    observed: Mapping[str, float | None],
    decision: Decision | None,
    authorization: Authorization | None,
) -> dict[str, Any]:
    """What the executed record keeps for the change's verification: the baseline, what the
    decision expected of this very target, the rollback attempt and the approval."""
    expected = None
    if (
        decision is not None
        and decision.expected is not None
        and decision.expected.replicas == request.target_replicas
    ):
        expected = {
            "cpu_utilization": decision.expected.cpu_utilization,
            "memory_utilization": decision.expected.memory_utilization,
        }
    return {
        "baseline": _baseline(state, observed),
        "expected": expected,
        "attempt": request.parameters.get("attempt"),
        "authorized_by": authorization.to_json() if authorization is not None else None,
    }


def _outcome(
    request: OperationRequest,
    verdict: Verdict,
    blueprint: Blueprint,
    state: DeploymentState,
    chain: Chain,
    now: datetime,
    *,
    context: Mapping[str, Any],
    decision: Decision | None,
) -> tuple[Change | None, Record | None]:
    """The change to make (an allowed operation) or the record of what became of it instead:
    observed (observe mode), proposed, blocked or deferred."""
    if blueprint.mode is Mode.OBSERVE:
        return None, observed_record(request, verdict, blueprint, chain, running=state.replicas)
    if verdict.action is VerdictAction.EXECUTE:
        stamp = stamp_for(
            request,
            chain,
            now,
            request.describe(),
            classification=str(verdict.classification),
            context=context,
            why=decision.rationale if decision is not None else "",
        )
        return change_for(request, state, stamp), None
    if verdict.action is VerdictAction.REQUEST_APPROVAL:
        return None, pending_record(request, verdict, blueprint, chain)
    return None, refusal_record(request, verdict, blueprint, chain)


def _repeat_window(blueprint: Blueprint, verdict: Verdict) -> timedelta:
    """A pending approval is not asked again while it may still be granted; a refusal is not
    recorded again within the hour."""
    if verdict.action is VerdictAction.REQUEST_APPROVAL:
        return timedelta(seconds=blueprint.policy.approval.timeout)
    return REPEAT_WINDOW


def _observed_before(
    history: ServiceHistory,
    request: OperationRequest,
    verdict: Verdict,
    state: DeploymentState,
    now: datetime,
) -> bool:
    """Observe mode: was the same outcome, from the same replicas, recorded within the hour?

    Nothing acts in a trial, so a wanted scale-up is wanted again every cycle; one record an
    hour says it, and any change (of replicas the cluster runs, of target, of verdict) is
    recorded at once.
    """
    for record in reversed(history.records):
        if record.event_type is not EventType.OPERATION_OBSERVED:
            continue
        if record.operation != request.operation:
            continue
        observed = lazy_bodies.observed_of(record)
        return (
            utc(now) - utc(record.timestamp) <= REPEAT_WINDOW
            and observed.would == str(verdict.action)
            and observed.request.target_replicas == request.target_replicas
            and observed.replicas_running == state.replicas
        )
    return False
