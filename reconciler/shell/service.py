"""One service's part of a cycle: observe, gate, plan, act, then tidy its proposals."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from reconciler.core.approvals.attention import Attention, Concern, Waiting
from reconciler.core.approvals.feedback import TrailLinks
from reconciler.core.blueprint.model import Blueprint, Mode
from reconciler.core.decide.decision import Decision, window_span
from reconciler.core.errors import MetricsError
from reconciler.core.observed.observation import DeploymentState, Metrics, Sample
from reconciler.core.planning.cycle import ServicePlan, plan_cycle
from reconciler.core.planning.outcomes import Note, NoteKind
from reconciler.core.trail.history import BreakerPhase, ServiceHistory
from reconciler.core.trail.records import EventType
from reconciler.shell.acting import Proposing, carry_out
from reconciler.shell.approvals import Proposer, Review, supersede
from reconciler.shell.gating import Gate, gate_service
from reconciler.shell.isolation import Stage, Watch, failure
from reconciler.shell.ports import Ports
from reconciler.shell.recording import Recorder
from reconciler.shell.reports import ServiceResult


@dataclass(frozen=True, kw_only=True)
class CycleOptions:
    dry_run: bool = False
    services: tuple[str, ...] = ()
    max_metrics_age: float = 300.0
    #: Only verify due changes (and roll back failed ones); decide nothing new.
    verify_only: bool = False
    #: Called with (done, total) as services are reconciled, for progress output.
    progress: Callable[[int, int], None] | None = None
    #: Where what the reconciler says on the forge links to (the audit trail, the run).
    links: TrailLinks = field(default_factory=TrailLinks)


@dataclass
class CycleContext:
    """What every service of one cycle shares."""

    texts: Mapping[str, str]
    proposer: Proposer | None
    #: Where the service being reconciled is: what its failure is named by.
    watch: Watch


def reconcile_service(
    blueprint: Blueprint,
    state_or_error: DeploymentState | Exception,
    metrics_or_error: Metrics | Exception,
    ports: Ports,
    options: CycleOptions,
    recorder: Recorder,
    now: datetime,
    context: CycleContext,
) -> ServiceResult:
    """One service's part of a cycle. Whatever it raises is the service's failure, named by
    the loop in `run_cycle` with the stage `context.watch` says it was in."""
    watch = context.watch
    if isinstance(state_or_error, Exception):
        raise state_or_error
    state = state_or_error
    metrics, notes = _metrics_seen(blueprint, metrics_or_error)
    watch.stage = Stage.GOVERN
    observing = blueprint.mode is Mode.OBSERVE
    if observing:
        notes.append(_observing(blueprint))
    gate = gate_service(
        blueprint, state, ports, recorder, now, judge=not options.dry_run and not observing
    )
    review, history = gate.review, gate.history
    notes += gate.recovered
    notes += review.notes
    if review.error:
        notes.append(Note(kind=NoteKind.FORGE_FAILED, text=f"approvals: {review.error}"))
    stopped = _stopped_at_gate(blueprint, gate, notes)
    if stopped is not None:
        return stopped
    watch.stage = Stage.DECIDE
    planned = _plan(blueprint, state, metrics, gate, options, ports, now, notes)
    proposing = None if observing else _proposing(blueprint, state, review, ports, context)
    watch.stage = Stage.APPLY
    steps, plan_notes = carry_out(
        planned, blueprint, state, metrics, history, ports, recorder, proposing
    )
    decision = planned.decision
    watch.stage = Stage.FORGE
    proposer = context.proposer
    closed: set[str] = set()
    if proposer is not None and decision is not None and not options.dry_run and not observing:
        closed = _supersede(blueprint, review, proposer, decision, ports, recorder, now, notes)
    opened = tuple(proposer.opened_now.get(blueprint.name, ())) if proposer else ()
    return ServiceResult(
        attention=_attention(blueprint, history, "", [*notes, *plan_notes]),
        proposals=(*_still_open(review, closed), *opened),
        unproposed=tuple(proposer.capped.get(blueprint.name, ())) if proposer else (),
        service=blueprint.name,
        replicas=state.replicas,
        ready=state.ready_replicas,
        weighted=None if decision is None else decision.weighted.value,
        decision=decision,
        steps=steps,
        notes=(*notes, *plan_notes),
        waiting=planned.waiting,
    )


def _proposing(
    blueprint: Blueprint,
    state: DeploymentState,
    review: Review,
    ports: Ports,
    context: CycleContext,
) -> Proposing | None:
    """What turning the service's steps into proposals needs, when there is a forge."""
    if ports.forge is None or context.proposer is None:
        return None
    return Proposing(
        proposer=context.proposer,
        review=review,
        blueprint=blueprint,
        blueprint_text=context.texts.get(blueprint.name, ""),
        state=state,
    )


def _observing(blueprint: Blueprint) -> Note:
    return Note(
        kind=NoteKind.OBSERVING,
        text=f"observe mode ({blueprint.observed_by}): recorded what would be done; "
        "nothing is changed or proposed",
    )


def _supersede(
    blueprint: Blueprint,
    review: Review,
    proposer: Proposer,
    decision: Decision,
    ports: Ports,
    recorder: Recorder,
    now: datetime,
    notes: list[Note],
) -> set[str]:
    """Close the service's open proposals this cycle's decision makes moot, noting what was
    said in `notes`; returns the keys of those closed."""
    if ports.forge is None or not review.open:
        return set()
    said, closed = supersede(
        blueprint, review, proposer.wanted, ports.forge, recorder.commit, decision.rationale, now
    )
    notes += said
    return closed


def _metrics_seen(
    blueprint: Blueprint, metrics_or_error: Metrics | Exception
) -> tuple[Metrics, list[Note]]:
    """The metrics to plan with, and a note for each that is missing or incomplete. Missing
    metrics never fail a service: nothing is scaled down on what is unknown."""
    if isinstance(metrics_or_error, Exception):
        unknown = failure(metrics_or_error, Stage.OBSERVE, blueprint.name).message
        return Metrics(), [
            Note(kind=NoteKind.METRICS_UNAVAILABLE, text=f"metrics unavailable: {unknown}")
        ]
    return metrics_or_error, [
        Note(kind=NoteKind.METRICS_INCOMPLETE, text=f"metrics incomplete: {warning}")
        for warning in metrics_or_error.warnings
    ]


def _stopped_at_gate(blueprint: Blueprint, gate: Gate, notes: list[Note]) -> ServiceResult | None:
    """The service's row when the gate stops it before planning: its blueprint held, or a
    proposal it must wait for."""
    review = gate.review
    if gate.held:
        return ServiceResult(
            service=blueprint.name,
            notes=tuple(notes),
            error=gate.held,
            attention=_attention(blueprint, gate.history, gate.held, notes),
            proposals=_still_open(review, set()),
        )
    if review.wait:
        return ServiceResult(
            service=blueprint.name,
            notes=tuple(notes),
            waiting=review.wait,
            proposals=_still_open(review, set()),
        )
    return None


def _plan(
    blueprint: Blueprint,
    state: DeploymentState,
    metrics: Metrics,
    gate: Gate,
    options: CycleOptions,
    ports: Ports,
    now: datetime,
    notes: list[Note],
) -> ServicePlan:
    """The core's plan for the service, asked again with the metric history when it needs
    one; a history that cannot be read is noted in `notes`."""

    def plan(window: Sequence[Sample] | None) -> ServicePlan:
        return plan_cycle(
            blueprint,
            state,
            metrics,
            gate.history,
            now,
            window=window,
            stamp_recorded=gate.stamp_recorded,
            max_metrics_age=options.max_metrics_age,
            verify_only=options.verify_only,
            authorizations=gate.review.authorizations,
        )

    planned = plan(None)
    if not planned.needs_window:
        return planned
    try:
        window = ports.metrics.window(state.target, window_span(blueprint.scaling), now)
    except MetricsError as error:
        # No history means no evidence for a scale-down, which is the safe answer.
        window = []
        notes.append(
            Note(
                kind=NoteKind.METRIC_HISTORY_UNAVAILABLE,
                text=f"metric history unavailable: {error}",
            )
        )
    return plan(window)


def _still_open(review: Review, closed: set[str]) -> tuple[Waiting, ...]:
    """The proposals the review found open, but for those this run closed."""
    return tuple(
        Waiting(
            service=pending.record.service,
            reference=proposal.reference,
            url=proposal.url,
            title=proposal.title or str(pending.metadata.get("operation") or ""),
            expires_at=pending.expires_at,
            timed_out=pending.timed_out,
            changed=pending.hands_off,
        )
        for key, (pending, proposal) in review.open.items()
        if key not in closed
    )


def _attention(
    blueprint: Blueprint, history: ServiceHistory, held: str, notes: Sequence[Note]
) -> tuple[Concern, ...]:
    """What about the service needs a person after this run: its blueprint held, an
    escalation since the breaker was last reset, its breaker open (or opened by this run)."""
    service = blueprint.name
    found = []
    if held:
        found.append(Concern(service=service, kind=Attention.HELD, detail=held))
    reset = history.last(EventType.BREAKER_RESET)
    escalated = history.last(EventType.ESCALATED)
    now_escalated = [n.text for n in notes if n.kind is NoteKind.ESCALATED]
    if escalated is not None and (reset is None or escalated.sort_key() > reset.sort_key()):
        found.append(Concern(service=service, kind=Attention.ESCALATED, detail=escalated.rationale))
    elif now_escalated:
        found.append(Concern(service=service, kind=Attention.ESCALATED, detail=now_escalated[0]))
    opened = history.last(EventType.BREAKER_OPENED)
    now_opened = [n.text for n in notes if n.kind is NoteKind.BREAKER_OPENED]
    if history.breaker.phase is BreakerPhase.OPEN:
        why = opened.rationale if opened is not None else ""
        detail = history.breaker.describe(blueprint.policy.safety.circuit_breaker)
        found.append(
            Concern(
                service=service,
                kind=Attention.BREAKER_OPEN,
                detail=f"{detail}: {why}" if why else detail,
            )
        )
    elif now_opened:
        found.append(Concern(service=service, kind=Attention.BREAKER_OPEN, detail=now_opened[0]))
    return tuple(found)
