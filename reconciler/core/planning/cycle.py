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
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from reconciler.core.approvals.judging import Authorization, Kind
from reconciler.core.approvals.requests import shape_request
from reconciler.core.blueprint.catalogue import ROLLBACK_OWN_CHANGE
from reconciler.core.blueprint.model import Blueprint, Mode
from reconciler.core.blueprint.units import format_duration
from reconciler.core.decide.decision import DEFAULT_MAX_METRICS_AGE, Action, Decision, decide
from reconciler.core.decide.governance import (
    OperationRequest,
    Origin,
    Verdict,
    VerdictAction,
    govern,
)
from reconciler.core.decide.rates import scale_events
from reconciler.core.decide.recovery import decide_recovery
from reconciler.core.decide.verification import (
    SETTLE_GRACE,
    Pending,
    avoid_targets,
    escalation_record,
    pending_verifications,
    rollback_request,
    rollback_work,
    still_starting,
    superseded,
    too_late,
    verification_record,
    verify,
)
from reconciler.core.errors import PausedError, ReconcilerError
from reconciler.core.gitops.writeback import RolloutPhase, await_rollout, rollout_wait
from reconciler.core.ids import make_id, parse_utc, utc
from reconciler.core.observed.changes import Change, ChangeKind
from reconciler.core.observed.observation import (
    PAUSE_ANNOTATION,
    ChangeStamp,
    DeploymentState,
    Metrics,
    Sample,
)
from reconciler.core.planning.events import (
    Chain,
    breaker_opened_record,
    decision_record,
    observed_record,
    operation_id,
    pause_record,
    pending_record,
    recovered_record,
    refusal_record,
    request_expired_record,
    request_record,
    resume_record,
    short,
    stamp_for,
    subject_for,
    verdict_record,
)
from reconciler.core.planning.outcomes import Note, NoteKind
from reconciler.core.trail.bodies import CheckStatus, verification_of
from reconciler.core.trail.history import (
    CHANGE_EVENTS,
    PAUSE_EVENTS,
    BreakerPhase,
    BreakerState,
    ServiceHistory,
    fold_history,
)
from reconciler.core.trail.records import EventType, Outcome, Record

__all__ = [
    "NoteCommit",
    "ServicePlan",
    "Step",
    "deferred_requests",
    "observed_values",
    "pause_reason",
    "plan_cycle",
    "plan_request",
    "recovery_note",
    "replica_ownership",
]

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
    #: What the executed record keeps for its verification: the baseline and expectations.
    context: Mapping[str, Any] = field(default_factory=dict)
    #: The approval this operation carries out, for the re-check at the moment of acting.
    approved_by: str = ""
    #: Observe mode: the verdict is recorded as what it would have led to; no change is made
    #: and nothing is proposed, whatever the verdict.
    observed: bool = False


@dataclass(frozen=True, kw_only=True)
class NoteCommit:
    """A commit that belongs to no operation: a verification, a breaker opening, a recovered
    change, an escalation. Its subject is also the note the service's row shows."""

    kind: NoteKind
    subject: str
    records: tuple[Record, ...]

    def note(self) -> Note:
        return Note(kind=self.kind, text=self.subject)


@dataclass(frozen=True, kw_only=True)
class ServicePlan:
    service: str
    decision: Decision | None
    steps: tuple[Step, ...] = ()
    notes: tuple[NoteCommit, ...] = ()
    needs_window: bool = False
    #: Set while a change awaits its verification: no new change until it is verified.
    waiting: str = ""
    #: What pauses the service (`spec.suspend: true`, or the deployment's annotation).
    paused: str = ""


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


def _change_for(
    request: OperationRequest,
    state: DeploymentState,
    chain: Chain,
    now: datetime,
    *,
    classification: str = "",
    context: Mapping[str, Any] | None = None,
    why: str = "",
) -> Change:
    """The cluster change that carries out an operation the verdict allows.

    Its stamp carries the chain, the request and `context` (the baseline and expectations the
    executed record keeps), so a run that dies before recording the change leaves the next
    run all it needs to record, verify and, if need be, roll it back.
    """
    stamp = stamp_for(
        request,
        chain,
        now,
        request.describe(),
        classification=classification,
        context=context,
        why=why,
    )
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
) -> tuple[str | None, str | None]:
    """Who else manages the replicas, and what that means for a scale: (hpa to adjust, refusal).

    Two controllers writing one field fight forever, so the reconciler never writes replicas
    that another controller owns. With `coexistence: adjust_hpa` it scales through the HPA
    instead; with `gitops_ignores_replicas` the blueprint states that the Argo CD or Flux marks
    on the deployment do not cover its replicas; with `write_back` the scale is a commit to
    the manifests that tool applies (the shell makes it).
    """
    if request.target_replicas is None:
        return None, None
    return replica_ownership(blueprint, state)


def replica_ownership(
    blueprint: Blueprint, state: DeploymentState
) -> tuple[str | None, str | None]:
    """For any scale of the deployment: (the HPA to scale through, why scaling is refused).
    `doctor` asks it too, so that it warns of what every cycle would refuse."""
    if not state.controllers:
        return None, None
    hpas = [c.split("/", 1)[1] for c in state.controllers if c.startswith("hpa/")]
    gitops = [c for c in state.controllers if not c.startswith("hpa/")]
    owners = ", ".join(state.controllers)
    mode = blueprint.scaling.coexistence
    # No mode helps these, so the refusal must not send anyone to change the mode.
    if len(hpas) > 1:
        return None, (
            f"the replicas of {state.target} are managed by {owners}; several HPAs on one "
            "deployment fight each other, and the reconciler supports only one: remove all but one"
        )
    if hpas and gitops:
        return None, (
            f"the replicas of {state.target} are managed by {owners}; the reconciler cannot "
            "scale a deployment that both an HPA and a GitOps tool claim: let one of them own "
            "its replicas"
        )
    if gitops and mode not in {"gitops_ignores_replicas", "write_back"}:
        return None, (
            f"the replicas of {state.target} are managed by {owners}; the reconciler does not "
            "fight another controller. To change them in the manifests that tool applies, "
            "name the file in spec.manifests and set spec.scaling.coexistence: write_back; if "
            "the tool ignores spec.replicas (Argo CD ignoreDifferences, or no replicas in the "
            "Flux manifest), set spec.scaling.coexistence: gitops_ignores_replicas"
        )
    if not hpas:
        return None, None
    if mode == "adjust_hpa" and len(hpas) == 1:
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


def _step(
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
    escalate: str = "",
    authorization: Authorization | None = None,
) -> Step:
    approved_by = (
        authorization.describe()
        if authorization is not None and authorization.kind is Kind.REQUEST
        else ""
    )
    verdict = govern(request, blueprint, history, observed, now, approved_by=approved_by)
    if escalate and verdict.action is VerdictAction.EXECUTE:
        # Allowed on its own, but the recovery ladder says a person must decide now.
        verdict = replace(
            verdict,
            action=VerdictAction.REQUEST_APPROVAL,
            reasons=(*verdict.reasons, escalate),
            summary=escalate,
            approvers=blueprint.policy.approval.approvers,
        )
    hpa, conflict = _coexistence(blueprint, state, request)
    if conflict and verdict.action in {VerdictAction.EXECUTE, VerdictAction.REQUEST_APPROVAL}:
        # Refused before a person is asked: an approval could not make the scale possible.
        verdict = replace(
            verdict,
            action=VerdictAction.BLOCK,
            reasons=(*verdict.reasons, conflict),
            summary=conflict,
        )
    chain = Chain(
        decision=lead_id,
        governance=verdict.id,
        operation=operation_id(request, now),
        approval=authorization.approval_id if authorization is not None else "",
    )
    records: list[Record] = [verdict_record(verdict, request, blueprint, chain)]
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
    context = {
        "baseline": _baseline(state, observed),
        "expected": expected,
        "attempt": request.parameters.get("attempt"),
        "authorized_by": authorization.to_json() if authorization is not None else None,
    }
    change = None
    outcome: Record | None = None
    trial = blueprint.mode is Mode.OBSERVE
    if trial:
        outcome = observed_record(request, verdict, blueprint, chain, running=state.replicas)
    elif verdict.action is VerdictAction.EXECUTE:
        change = _change_for(
            request,
            state,
            chain,
            now,
            classification=str(verdict.classification),
            context=context,
            why=decision.rationale if decision is not None else "",
        )
        change = replace(change, hpa=hpa)
    elif verdict.action is VerdictAction.REQUEST_APPROVAL:
        outcome = pending_record(request, verdict, blueprint, chain)
    else:
        outcome = refusal_record(request, verdict, blueprint, chain)
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
        else _repeated(
            history,
            request,
            verdict,
            now,
            timedelta(seconds=blueprint.policy.approval.timeout)
            if verdict.action is VerdictAction.REQUEST_APPROVAL
            else REPEAT_WINDOW,
        ),
    )


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
        asked = record.details.get("request", {})
        return (
            utc(now) - utc(record.timestamp) <= REPEAT_WINDOW
            and record.details.get("would") == str(verdict.action)
            and asked.get("target_replicas") == request.target_replicas
            and record.details.get("replicas_running") == state.replicas
        )
    return False


def _breaker_note(
    blueprint: Blueprint, history: ServiceHistory, now: datetime
) -> tuple[ServiceHistory, NoteCommit | None]:
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
    return opened, NoteCommit(kind=NoteKind.BREAKER_OPENED, subject=subject, records=(record,))


def _recovery_note(
    blueprint: Blueprint, state: DeploymentState, stamp_recorded: bool, now: datetime
) -> NoteCommit | None:
    stamp = state.last_change
    if stamp is None or stamp_recorded:
        return None
    return recovery_note(blueprint, stamp, now)


def recovery_note(blueprint: Blueprint, stamp: ChangeStamp, now: datetime) -> NoteCommit:
    """The record of a change found on a deployment that the trail lacks: what the next run
    writes after a run died between the two, and what a run writes at once when one service's
    part failed after changing the cluster."""
    record = recovered_record(stamp, blueprint, now)
    return NoteCommit(
        kind=NoteKind.CHANGE_RECOVERED,
        subject=f"{blueprint.name}: recorded {short(stamp.summary, 40)} found on the deployment",
        records=(record,),
    )


def _fold(
    history: ServiceHistory, blueprint: Blueprint, records: Sequence[Record], now: datetime
) -> ServiceHistory:
    return fold_history(
        blueprint.name, (*history.records, *records), blueprint.policy.safety.circuit_breaker, now
    )


def _what(record: Record) -> str:
    request = record.details.get("request") or {}
    current, target = request.get("current_replicas"), request.get("target_replicas")
    if isinstance(current, int) and isinstance(target, int):
        return f"scale {current}→{target}"
    return record.operation or str(record.event_type)


#: A verification later than this after it was due says so in its subject.
LATE_NOTE = 120.0


#: The note each verification record makes; a skipped one (superseded, too late) says the
#: change was not verified.
_VERIFICATION_NOTES = {
    EventType.VERIFICATION_PASSED: NoteKind.VERIFIED,
    EventType.VERIFICATION_FAILED: NoteKind.VERIFICATION_FAILED,
    EventType.ROLLBACK_VERIFIED: NoteKind.ROLLBACK_VERIFIED,
    EventType.ROLLBACK_VERIFICATION_FAILED: NoteKind.ROLLBACK_VERIFICATION_FAILED,
}


def _verification_subject(record: Record, pending: Pending) -> str:
    what = _what(pending.record)
    service = record.service
    body = verification_of(record)
    failed = body.failed()
    # A verification a run caught up on (the one due to do it never came) says how late.
    late = f" ({format_duration(body.late_by)} late)" if body.late_by >= LATE_NOTE else ""
    match record.event_type:
        case EventType.VERIFICATION_PASSED if record.outcome is Outcome.PARTIAL:
            return (
                f"{service}: verified {what}{late}, kept: missed {', '.join(failed)}, nothing worse"
            )
        case EventType.VERIFICATION_PASSED:
            counts = f"{body.count(CheckStatus.PASSED)}/{len(body.checks)}"
            return f"{service}: verified {what}{late}: {counts} checks passed"
        case EventType.VERIFICATION_FAILED:
            worse = ", ".join(failed)
            return f"{service}: verification failed for {what}: {worse} worse; rolling back"
        case EventType.ROLLBACK_VERIFIED if record.outcome is Outcome.PARTIAL:
            missing = ", ".join(failed)
            return f"{service}: rollback verified ({what}): back as before, still missing {missing}"
        case EventType.ROLLBACK_VERIFIED:
            return f"{service}: rollback verified ({what}): service restored"
        case EventType.ROLLBACK_VERIFICATION_FAILED:
            return f"{service}: rollback verification failed ({what}): {', '.join(failed)}"
    return f"{service}: {what} not verified: {record.rationale.removeprefix('not verified: ')}"


def _await_rollouts(
    blueprint: Blueprint,
    state: DeploymentState,
    history: ServiceHistory,
    pending: Sequence[Pending],
    now: datetime,
    notes: list[NoteCommit],
) -> tuple[ServiceHistory, list[Pending], set[str]]:
    """A change made through git (coexistence: write_back) counts from when the GitOps tool
    rolled it out: its due time moves there, and until then it waits (escalated, not rolled
    back, when the tool does not apply it in time). Returns the history with what was seen
    recorded, the pending changes with their due times, and the ids still waiting."""
    result: list[Pending] = []
    rolling: set[str] = set()
    for item in pending:
        rollout = await_rollout(item, blueprint, state, history.records, now)
        if rollout.records:
            kind = NoteKind.ROLLED_OUT
            if any(r.event_type is EventType.ESCALATED for r in rollout.records):
                kind = NoteKind.ESCALATED
            notes.append(NoteCommit(kind=kind, subject=rollout.subject, records=rollout.records))
            history = _fold(history, blueprint, rollout.records, now)
        if rollout.phase is RolloutPhase.WAITING:
            rolling.add(item.operation_id)
        result.append(rollout.pending)
    return history, result, rolling


def _verify_due(
    blueprint: Blueprint,
    state: DeploymentState,
    metrics: Metrics,
    history: ServiceHistory,
    now: datetime,
) -> tuple[ServiceHistory, list[NoteCommit], Pending | None]:
    """Verify every change that is due; return the first one still waiting, if any."""
    notes: list[NoteCommit] = []
    waiting: Pending | None = None
    pending = pending_verifications(history, blueprint)
    history, pending, rolling = _await_rollouts(blueprint, state, history, pending, now, notes)
    changes = [r for r in history.records if r.event_type in CHANGE_EVENTS]
    for item in pending:
        later = [r for r in changes if r.sort_key() > item.record.sort_key()]
        if later:
            verification = superseded(
                item, later[0].links.get("operation", later[0].id), blueprint, now
            )
        elif item.operation_id in rolling:  # the GitOps tool has not rolled it out yet
            waiting = waiting or item
            continue
        elif item.due <= utc(now):
            late = too_late(item, blueprint, now)
            if late is None and still_starting(item, state, now):
                waiting = waiting or item
                continue
            verification = late or verify(item, blueprint, state, metrics, now)
        else:
            waiting = waiting or item
            continue
        record = verification_record(verification, blueprint)
        notes.append(
            NoteCommit(
                kind=_VERIFICATION_NOTES.get(record.event_type, NoteKind.NOT_VERIFIED),
                subject=_verification_subject(record, item),
                records=(record,),
            )
        )
        history = _fold(history, blueprint, [record], now)
    return history, notes, waiting


def _rollback_steps(
    blueprint: Blueprint,
    state: DeploymentState,
    history: ServiceHistory,
    observed: Mapping[str, float | None],
    now: datetime,
) -> tuple[ServiceHistory, list[NoteCommit], list[Step]]:
    """Rollbacks that failed verifications ask for, retried up to the limit, then escalated."""
    work = rollback_work(history, blueprint)
    notes: list[NoteCommit] = []
    steps: list[Step] = []
    #: (the failed change, why a person must decide, the same in a few words for the subject)
    escalate: list[tuple[Pending, str, str]] = [
        (pending, "", "its rollback failed 3 times") for pending in work.escalations
    ]
    for pending, attempt in work.rollbacks:
        if not blueprint.reliability.rollback_on_failure:
            escalate.append(
                (
                    pending,
                    f"{pending.operation_id} failed verification and rollback_on_failure is "
                    "false: a person must decide. Automatic changes stop (circuit breaker open).",
                    "it failed verification and rollback_on_failure is false",
                )
            )
            continue
        failed = next(
            (
                r
                for r in reversed(history.records)
                if r.event_type is EventType.VERIFICATION_FAILED
                and r.links.get("operation") == pending.operation_id
            ),
            None,
        )
        reason = (
            f"undo {pending.operation_id}: {failed.rationale if failed else 'verification failed'}"
        )
        request = rollback_request(pending, attempt, blueprint, state, reason)
        back = (
            request.target_replicas == state.replicas
            if request.target_replicas is not None
            else (request.parameters.get("to_revision") == state.revision)
        )
        if attempt > 1 and back:
            # An earlier rollback already put it back and the service still fails its checks:
            # undoing again would change nothing, so the change was not the (only) cause.
            escalate.append(
                (
                    pending,
                    f"the service is back as it was before {pending.operation_id} and still "
                    "fails its checks, so undoing it again would change nothing: a person must "
                    "decide. Automatic changes stop (circuit breaker open).",
                    "rolled back and still failing",
                )
            )
            continue
        lead_id = failed.id if failed else pending.operation_id
        steps.append(
            _step(
                request,
                blueprint,
                state,
                history,
                observed,
                now,
                lead=None,
                lead_id=lead_id,
                decision=None,
            )
        )
    for pending, why, briefly in escalate:
        record = escalation_record(pending, blueprint, now)
        if why:
            record = replace(record, rationale=why)
        records: list[Record] = [record]
        if history.breaker.phase is not BreakerPhase.OPEN:
            records.append(
                breaker_opened_record(blueprint.name, blueprint, history.breaker.failures, now)
            )
        notes.append(
            NoteCommit(
                kind=NoteKind.ESCALATED,
                subject=f"{blueprint.name}: escalated {_what(pending.record)}: {briefly}; "
                "a person must decide",
                records=tuple(records),
            )
        )
        history = _fold(history, blueprint, records, now)
    return history, notes, steps


_RECOVERY_OPERATIONS = {
    Action.RESTART: "restart_failed_pods",
    Action.ROLLBACK: "rollback_deployment",
    Action.ESCALATE: "rollback_deployment",
}


def _held_by_approval(
    blueprint: Blueprint,
    state: DeploymentState,
    metrics: Metrics,
    history: ServiceHistory,
    now: datetime,
) -> Decision | None:
    """A person approved a one-off replica count (a scale to zero, say) and it is still in
    place: the engine does not undo it, not even to bring it back within the bounds. The next
    change to the deployment (a new request, a recovery) ends the hold."""
    last = history.last(*CHANGE_EVENTS)
    if last is None or not last.links.get("approval"):
        return None
    request = last.details.get("request") or {}
    if (
        request.get("origin") != str(Origin.APPROVAL)
        or request.get("target_replicas") != state.replicas
    ):
        return None
    from reconciler.core.decide.decision import DecisionRule, Reason, weighted_utilization

    reference = (last.details.get("authorized_by") or {}).get("reference", last.links["approval"])
    return Decision(
        id=make_id("dec", now, blueprint.name, "held", state.replicas, history.fingerprint),
        service=blueprint.name,
        blueprint_version=blueprint.version,
        provenance=blueprint.provenance,
        at=utc(now),
        action=Action.NONE,
        reason=Reason.APPROVED_OVERRIDE,
        current_replicas=state.replicas,
        target_replicas=state.replicas,
        desired_replicas=state.replicas,
        weighted=weighted_utilization(blueprint, metrics),
        rationale=f"Replicas are held at {state.replicas}, as approved in {reference}; the "
        "engine resumes after the next change to the deployment (for example a request to "
        "scale back).",
        references=("governance.agent_authority.requires_approval",),
        rule=DecisionRule.APPROVAL,
    )


def pause_reason(blueprint: Blueprint, state: DeploymentState | None) -> str:
    """What pauses the service, in words for the records and the status; "" when nothing."""
    if blueprint.suspend:
        return "spec.suspend: true in the blueprint"
    if state is not None and state.paused:
        return f"the deployment's annotation {PAUSE_ANNOTATION}={state.paused}"
    return ""


def _pause_note(
    blueprint: Blueprint, history: ServiceHistory, paused_by: str, now: datetime
) -> NoteCommit | None:
    """A record when a pause begins, changes its reason, or ends; none while it lasts."""
    last = history.last(*PAUSE_EVENTS)
    paused = last is not None and last.event_type is EventType.SERVICE_PAUSED
    if paused_by and (not paused or last is None or last.details.get("paused_by") != paused_by):
        return NoteCommit(
            kind=NoteKind.PAUSED,
            subject=f"{blueprint.name}: paused by {paused_by}",
            records=(pause_record(blueprint, paused_by, now),),
        )
    if not paused_by and paused and last is not None:
        return NoteCommit(
            kind=NoteKind.RESUMED,
            subject=f"{blueprint.name}: resumed after the pause by {last.details.get('paused_by')}",
            records=(resume_record(blueprint, last, now),),
        )
    return None


def _paused_decision(
    blueprint: Blueprint,
    state: DeploymentState,
    metrics: Metrics,
    history: ServiceHistory,
    now: datetime,
    paused_by: str,
    max_metrics_age: float,
) -> Decision:
    """What the engine would decide, reported and not acted on."""
    from reconciler.core.decide.decision import DecisionRule, Reason

    would = decide(
        blueprint,
        state,
        metrics,
        now=now,
        max_metrics_age=max_metrics_age,
        avoid=avoid_targets(history, now),
        salt=history.fingerprint,
        changes=scale_events(history.records),
    )
    return replace(
        would,
        id=make_id("dec", now, blueprint.name, "paused", history.fingerprint),
        action=Action.NONE,
        reason=Reason.PAUSED,
        rule=DecisionRule.PAUSE,
        target_replicas=state.replicas,
        desired_replicas=state.replicas,
        expected=None,
        needs_window=False,
        rationale=f"Paused by {paused_by}: nothing is changed or proposed. Unpaused, the engine "
        f"would decide: {would.rationale}",
    )


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
        request = record.details.get("request") or {}
        if (
            record.event_type is EventType.OPERATION_DEFERRED
            and request.get("origin") == str(Origin.REQUEST)
            and chain
        ):
            open_[chain] = record
    return list(open_.values())


def _retry_at(record: Record) -> datetime | None:
    value = record.details.get("retry_at")
    if isinstance(value, datetime):
        return utc(value)
    try:
        return parse_utc(value) if value else None
    except ValueError:
        return None


def _still_holds(
    record: Record, blueprint: Blueprint, state: DeploymentState, now: datetime
) -> str:
    """Why a deferred request no longer holds ("" while it does)."""
    request = record.details.get("request") or {}
    since = _retry_at(record) or utc(record.timestamp)
    late = (utc(now) - since).total_seconds()
    # No cycle came for as long as an approval would wait: a person's intent has gone stale.
    timeout = blueprint.policy.approval.timeout
    if late > timeout:
        return (
            f"no cycle retried it for {format_duration(late)} after it was due, longer than "
            f"the {format_duration(timeout)} an approval would wait"
        )
    current = request.get("current_replicas")
    if (
        isinstance(current, int)
        and request.get("target_replicas") is not None
        and current != state.replicas
    ):
        return (
            f"the deployment has {state.replicas} replicas now, not the {current} the request "
            "was made from"
        )
    parameters = request.get("parameters") or {}
    for key, now_value in (
        ("cpu_request", state.cpu_request),
        ("memory_request", state.memory_request),
    ):
        before = f"{key}_before"
        if before in parameters and parameters[before] != now_value:
            return f"the deployment's {key.replace('_', ' ')} changed since the request"
    return ""


def _retry_deferred(
    blueprint: Blueprint,
    state: DeploymentState,
    metrics: Metrics,
    history: ServiceHistory,
    now: datetime,
) -> tuple[Step | None, NoteCommit | None]:
    """The first deferred request whose retry time has come: carried out, re-governed, or
    expired with a record."""
    for record in deferred_requests(history):
        retry_at = _retry_at(record)
        if retry_at is not None and retry_at > utc(now):
            continue
        raw = record.details.get("request") or {}
        asked = record.links.get("decision", "")
        why = _still_holds(record, blueprint, state, now)
        if not why:
            request = OperationRequest(
                operation=str(raw.get("operation") or record.operation or ""),
                service=blueprint.name,
                origin=Origin.REQUEST,
                current_replicas=state.replicas,
                target_replicas=raw.get("target_replicas"),
                reason=str(raw.get("reason") or ""),
                requested_by=str(raw.get("requested_by") or ""),
                decision_id=asked,
                parameters={
                    k: v
                    for k, v in (raw.get("parameters") or {}).items()
                    if not str(k).endswith("_before")
                },
            )
            try:
                request = shape_request(request, blueprint, state)
            except ReconcilerError as error:
                why = f"it no longer fits the blueprint: {error}"
        if why:
            expired = request_expired_record(blueprint, record, why, now)
            what = _what(record)
            return None, NoteCommit(
                kind=NoteKind.REQUEST_EXPIRED,
                subject=f"{blueprint.name}: deferred request {what} expired: {short(why, 60)}",
                records=(expired,),
            )
        step = _step(
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


def _approves(authorization: Authorization, rollback: OperationRequest) -> bool:
    """Whether a granted request is the rollback this cycle would undo a failed change with:
    the same operation, back to the same replicas or revision."""
    return (
        authorization.kind is Kind.REQUEST
        and authorization.operation == rollback.operation
        and authorization.target_replicas == rollback.target_replicas
        and authorization.parameters.get("to_revision") == rollback.parameters.get("to_revision")
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
    verify_only: bool = False,
    authorizations: Sequence[Authorization] = (),
) -> ServicePlan:
    """One service's cycle: verify what is due, undo what failed, then recover or scale.

    `authorizations` are approvals granted this cycle (or granted and not yet carried out): a
    one-off request approved by a merge becomes the cycle's operation; an approved blueprint
    edit is credited on the change it allows.

    At most one change per service per cycle, and none while an earlier change still waits
    for its verification: a second change would make the first one unverifiable.
    """
    now = utc(now)
    notes: list[NoteCommit] = []
    recovery = _recovery_note(blueprint, state, stamp_recorded, now)
    if recovery is not None:
        notes.append(recovery)
        history = _fold(history, blueprint, recovery.records, now)
    history, verified, waiting = _verify_due(blueprint, state, metrics, history, now)
    notes += verified
    paused_by = pause_reason(blueprint, state)
    pause_note = _pause_note(blueprint, history, paused_by, now)
    if pause_note is not None:
        notes.append(pause_note)
        history = _fold(history, blueprint, pause_note.records, now)
    if paused_by:
        # Observe and report only: verifications above are observations; no rollback, no
        # recovery, no approved request and no scaling until the pause ends.
        return ServicePlan(
            service=blueprint.name,
            decision=None
            if verify_only
            else _paused_decision(
                blueprint, state, metrics, history, now, paused_by, max_metrics_age
            ),
            notes=tuple(notes),
            paused=paused_by,
        )
    history, breaker_note = _breaker_note(blueprint, history, now)
    if breaker_note is not None:
        notes.append(breaker_note)
    observed = observed_values(state, metrics)
    history, escalations, rollbacks = _rollback_steps(blueprint, state, history, observed, now)
    notes += escalations
    if rollbacks:
        # A rollback that needs a person is proposed; once approved, it is carried out as
        # that very rollback (the approval credited), not proposed again.
        rollback = rollbacks[0]
        undo = next((a for a in authorizations if _approves(a, rollback.request)), None)
        if undo is not None:
            rollback = _step(
                rollback.request,
                blueprint,
                state,
                history,
                observed,
                now,
                lead=None,
                lead_id=undo.approval_id,
                decision=None,
                authorization=undo,
            )
        return ServicePlan(
            service=blueprint.name, decision=None, steps=(rollback,), notes=tuple(notes)
        )
    if waiting is not None:
        return ServicePlan(
            service=blueprint.name,
            decision=None,
            notes=tuple(notes),
            waiting=f"{waiting.operation_id} ({_what(waiting.record)}) is verified "
            + (
                rollout_wait(waiting, history.records) or f"at {waiting.due:%H:%M:%S}Z"
                if waiting.due > now
                else f"once its starting pods are ready (at the latest "
                f"{waiting.due + SETTLE_GRACE:%H:%M:%S}Z)"
            )
            + "; no new change before that",
        )
    if verify_only:
        return ServicePlan(service=blueprint.name, decision=None, notes=tuple(notes))
    approved = next((a for a in authorizations if a.kind is Kind.REQUEST), None)
    if approved is not None:
        # Shaped again against the deployment as it is now, so governance sees the real size;
        # an approval the state has overtaken was refused before the plan (stale_reason).
        request = shape_request(approved.request(blueprint, state.replicas), blueprint, state)
        step = _step(
            request,
            blueprint,
            state,
            history,
            observed,
            now,
            lead=None,
            lead_id=approved.approval_id,
            decision=None,
            authorization=approved,
        )
        return ServicePlan(service=blueprint.name, decision=None, steps=(step,), notes=tuple(notes))
    policy_change = next((a for a in authorizations if a.kind is Kind.BLUEPRINT), None)
    recovery_decision = decide_recovery(blueprint, state, metrics, history, now)
    if recovery_decision is not None:
        request = OperationRequest(
            operation=_RECOVERY_OPERATIONS[recovery_decision.action],
            service=blueprint.name,
            origin=Origin.RECOVERY,
            decision_id=recovery_decision.id,
            reason=recovery_decision.rationale,
        )
        escalate = (
            "restarts are beyond max_restart_count: a person decides (escalated for approval)"
            if recovery_decision.action is Action.ESCALATE
            else ""
        )
        lead = decision_record(recovery_decision)
        step = _step(
            request,
            blueprint,
            state,
            history,
            observed_values(state, metrics, recovery_decision),
            now,
            lead=lead,
            lead_id=lead.id,
            decision=recovery_decision,
            escalate=escalate,
        )
        return ServicePlan(
            service=blueprint.name, decision=recovery_decision, steps=(step,), notes=tuple(notes)
        )
    retried, expired = _retry_deferred(blueprint, state, metrics, history, now)
    if expired is not None:
        notes.append(expired)
        history = _fold(history, blueprint, expired.records, now)
    if retried is not None:
        return ServicePlan(
            service=blueprint.name, decision=None, steps=(retried,), notes=tuple(notes)
        )
    held = _held_by_approval(blueprint, state, metrics, history, now)
    if held is not None:
        return ServicePlan(service=blueprint.name, decision=held, notes=tuple(notes))
    decision = decide(
        blueprint,
        state,
        metrics,
        now=now,
        window=window,
        max_metrics_age=max_metrics_age,
        avoid=avoid_targets(history, now),
        salt=history.fingerprint,
        changes=scale_events(history.records),
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
    # One decision, recorded once: a step that crosses max_replicas is two requests (the part
    # within the bounds, and the rest proposed), and only the first carries the record.
    steps = tuple(
        _step(
            request,
            blueprint,
            state,
            history,
            observed,
            now,
            lead=lead if index == 0 else None,
            lead_id=lead.id,
            decision=decision,
            authorization=policy_change
            if policy_change is not None and request.operation == "scale_within_limits"
            else None,
        )
        for index, request in enumerate(requests)
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

    The request is first shaped (`shape_request`): a scale is named by where its target lies
    and a resource change by its size, whatever name was used, and parameters that do not
    belong to the operation are refused (RequestError) before anything is recorded.
    """
    now = utc(now)
    paused_by = pause_reason(blueprint, state)
    if paused_by:
        raise PausedError(
            f"{blueprint.name} is paused by {paused_by}: nothing is changed or proposed",
            hint="end the pause first (set spec.suspend: false, or remove the annotation with "
            f"`kubectl annotate deployment {state.target.name} {PAUSE_ANNOTATION}-`)",
        )
    request = shape_request(request, blueprint, state)
    history, breaker_note = _breaker_note(blueprint, history, now)
    # Everything the person asked, and the history so far: two requests in one second (even the
    # same request twice) get ids of their own, so neither overwrites the other's records.
    request_id = make_id(
        "req",
        now,
        blueprint.name,
        request.operation,
        request.target_replicas,
        request.reason,
        request.requested_by,
        sorted(request.parameters.items()),
        history.fingerprint,
    )
    request = replace(request, decision_id=request_id)
    lead = request_record(request, blueprint, request_id, now)
    step = _step(
        request,
        blueprint,
        state,
        history,
        observed_values(state, metrics),
        now,
        lead=lead,
        lead_id=lead.id,
        decision=None,
    )
    step = replace(step, repeated=False)  # a person asked: always record the answer
    return ServicePlan(
        service=blueprint.name,
        decision=None,
        steps=(step,),
        notes=(breaker_note,) if breaker_note else (),
    )
