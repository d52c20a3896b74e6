"""The reconcile cycle: gather every input, let the core plan, then perform and record.

Order matters for safety:

1. Observe all deployments and metrics first (batched), before deciding anything.
2. For each service, fold its recent audit history into safety state, and plan.
3. Just before a change, govern it again with a fresh clock: the verdict that counts is the
   one at the moment of acting.
4. Apply the change with a stamp on the deployment, then commit its records. If the run dies
   between the two, the next run finds the stamp and records the change (`operation_recovered`).

One service's failure (an unreachable deployment, a refused request, even a bug) is reported
in its row, with the stage it failed in and a hint, and never stops the others: the services
get watched ports (`shell/isolation.py`), and the per-service loop of `run_cycle` is the one
place that catches. A failure after the cluster was asked to change has the change recorded
before the loop moves on, from the stamp it left on the deployment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from reconciler.core.approvals.dashboard import Attention, Concern, Waiting
from reconciler.core.approvals.drafting import Evidence
from reconciler.core.approvals.feedback import TrailLinks
from reconciler.core.approvals.holds import approval_hold
from reconciler.core.blueprint.model import Blueprint, Mode
from reconciler.core.decide.decision import Decision, window_span
from reconciler.core.decide.governance import VerdictAction, govern
from reconciler.core.decide.verification import (
    VERIFICATION_EVENTS,
    pending_verifications,
    rollback_work,
    stabilization_for,
)
from reconciler.core.errors import (
    ClusterError,
    ConflictError,
    MetricsError,
    TrailError,
)
from reconciler.core.observed.changes import Applied
from reconciler.core.observed.observation import DeploymentState, Metrics, Sample, Target
from reconciler.core.planning.cycle import (
    ServicePlan,
    Step,
    manifest_recovery_note,
    observed_values,
    plan_cycle,
    recovery_note,
)
from reconciler.core.planning.events import (
    breaker_opened_record,
    executed_record,
    failed_record,
    refusal_record,
)
from reconciler.core.planning.outcomes import Aside, Note, NoteKind, NoteSeverity, StepOutcome
from reconciler.core.planning.subjects import (
    breaker_subject,
    subject_for,
)
from reconciler.core.problems import Problem
from reconciler.core.trail.clusters import ON_SIMULATOR, ClusterRef, skip_reason
from reconciler.core.trail.history import (
    BREAKER_EVENTS,
    CHANGE_EVENTS,
    HISTORY_SPAN,
    PAUSE_EVENTS,
    BreakerPhase,
    ServiceHistory,
    fold_history,
)
from reconciler.core.trail.records import CommitMessage, EventType, Record, commit_message
from reconciler.ports import (
    AuditStore,
    Clock,
    Cluster,
    ClusterEvents,
    Forge,
    ManifestStore,
    MetricsSource,
)
from reconciler.shell.announce import announce
from reconciler.shell.approvals import (
    Proposed,
    Proposer,
    Review,
    approval_records,
    review_proposals,
    supersede,
)
from reconciler.shell.feedback import follow_up
from reconciler.shell.isolation import (
    Failure,
    Stage,
    Watch,
    WatchedAudit,
    WatchedCluster,
    WatchedForge,
    WatchedMetrics,
    ask_each,
    failure,
)
from reconciler.shell.workspace import Fleet
from reconciler.shell.writeback import (
    WatchedManifests,
    carry_change,
    proposed_manifests,
    unrecorded_commits,
)

__all__ = [
    "CycleOptions",
    "CycleReport",
    "ForgeHalt",
    "Ports",
    "ServiceResult",
    "StepResult",
    "run_cycle",
]


@dataclass(frozen=True)
class Ports:
    cluster: Cluster
    metrics: MetricsSource
    audit: AuditStore
    clock: Clock
    #: Where approval proposals go; None records them as pending in the trail only.
    forge: Forge | None = None
    #: Where changes made through git are committed (coexistence: write_back).
    manifests: ManifestStore | None = None
    #: The cluster the run is pointed at: its blueprints are acted on, its trail is read.
    where: ClusterRef = ON_SIMULATOR
    #: Where the cluster shows what was done and refused (Kubernetes Events); None: nowhere.
    events: ClusterEvents | None = None


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


@dataclass(frozen=True, kw_only=True)
class StepResult:
    operation: str
    description: str
    classification: str
    action: str
    kind: StepOutcome
    #: Why the outcome did nothing new this time (a refusal already recorded), if so.
    aside: Aside | None = None
    detail: str
    commit: str | None = None
    record_ids: tuple[str, ...] = ()

    @property
    def outcome(self) -> str:
        """The outcome as people read it: `pending (already proposed)`."""
        label = self.kind.label
        return f"{label} ({self.aside})" if self.aside is not None else label

    def to_json(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "description": self.description,
            "classification": self.classification,
            "action": self.action,
            "outcome": self.outcome,
            "kind": str(self.kind),
            "detail": self.detail,
            "commit": self.commit,
            "record_ids": list(self.record_ids),
        }


@dataclass(frozen=True, kw_only=True)
class ServiceResult:
    service: str
    replicas: int | None = None
    ready: int | None = None
    weighted: float | None = None
    decision: Decision | None = None
    steps: tuple[StepResult, ...] = ()
    notes: tuple[Note, ...] = ()
    error: str | None = None
    #: For an error the cycle caught: the stage the service failed in, and what to do.
    stage: Stage | None = None
    hint: str = ""
    #: Set while a change awaits its verification (no new change meanwhile).
    waiting: str = ""
    #: What about the service needs a person (held, breaker open, escalated): the dashboard's.
    attention: tuple[Concern, ...] = ()
    #: Its proposals open after this run, and those the cap on new proposals held back.
    proposals: tuple[Waiting, ...] = ()
    unproposed: tuple[str, ...] = ()

    @property
    def warnings(self) -> tuple[Note, ...]:
        """The notes someone should look into, though nothing failed: a metrics source that
        failed or could not tell a value (the service was still reconciled on what was known,
        and missing data never scales down), a file no cycle reads. Shown in the row, as
        `warnings` in JSON and as ::warning annotations, without failing the run
        (docs/running-in-production.md#when-something-fails)."""
        return tuple(note for note in self.notes if note.severity is NoteSeverity.WARNING)

    @property
    def needs_person(self) -> tuple[Note, ...]:
        """The notes saying this run stopped automatic changes to the service until someone
        acts (an opened circuit breaker, an escalation): the run fails with them, so nobody
        misses it."""
        return tuple(note for note in self.notes if note.severity is NoteSeverity.NEEDS_PERSON)

    def to_json(self) -> dict[str, Any]:
        decision = self.decision
        return {
            "service": self.service,
            "replicas": self.replicas,
            "ready_replicas": self.ready,
            "weighted_utilization": self.weighted,
            "decision": None
            if decision is None
            else {
                "id": decision.id,
                "action": str(decision.action),
                "reason": str(decision.reason),
                "rule": str(decision.rule),
                "current_replicas": decision.current_replicas,
                "target_replicas": decision.target_replicas,
                "beyond_limits": decision.beyond_limits,
                "rationale": decision.rationale,
            },
            "steps": [step.to_json() for step in self.steps],
            "notes": [note.text for note in self.notes],
            "warnings": [note.text for note in self.warnings],
            "note_details": [note.to_json() for note in self.notes],
            "waiting": self.waiting or None,
            "error": self.error,
            "stage": None if self.stage is None else str(self.stage),
            "hint": self.hint or None,
        }


@dataclass(frozen=True, kw_only=True)
class ForgeHalt:
    """The forge stopped sending requests part-way through a cycle (a rate limit): the run
    fails with the forge's error, and says which services it reconciled without the forge
    (their proposals were neither looked up nor made; the next run picks them up)."""

    error: str
    hint: str
    #: The service being reconciled when the forge stopped.
    service: str
    #: The services reconciled after that, without asking the forge.
    not_asked: tuple[str, ...]

    def describe(self) -> str:
        after = ", ".join(self.not_asked) or "none"
        return (
            f"{self.error} (it stopped while reconciling {self.service}; reconciled without "
            f"asking the forge, their proposals left for the next run: {after})"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "error": self.error,
            "hint": self.hint,
            "service": self.service,
            "not_asked": list(self.not_asked),
        }


@dataclass(frozen=True, kw_only=True)
class CycleReport:
    started_at: datetime
    dry_run: bool
    services: tuple[ServiceResult, ...]
    commits: tuple[str, ...] = field(default_factory=tuple)
    forge_halt: ForgeHalt | None = None
    #: Set when the trail could not be written, not even the record of a change the cluster
    #: had just made: the cycle changed nothing more, and the run fails with it (exit 5).
    trail_halt: Failure | None = None
    #: What the whole run should say beside the rows: uncommitted blueprint edits it did not
    #: act on, audit records it skipped because they could not be read.
    warnings: tuple[Problem, ...] = ()
    #: The cluster the run was on, and the services it left alone as another cluster's,
    #: each with why.
    cluster: ClusterRef = ON_SIMULATOR
    skipped: tuple[tuple[str, str], ...] = ()

    @property
    def failed(self) -> bool:
        return (
            self.forge_halt is not None
            or self.trail_halt is not None
            or any(
                result.error
                or result.needs_person
                or any(step.kind is StepOutcome.FAILED for step in result.steps)
                for result in self.services
            )
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at.isoformat().replace("+00:00", "Z"),
            "dry_run": self.dry_run,
            "ok": not self.failed,
            "cluster": {"name": self.cluster.name, "identity": self.cluster.identity},
            "skipped": [{"service": name, "reason": why} for name, why in self.skipped],
            "commits": list(self.commits),
            "forge_halted": None if self.forge_halt is None else self.forge_halt.to_json(),
            "trail_halted": None
            if self.trail_halt is None
            else {
                "error": self.trail_halt.message,
                "hint": self.trail_halt.hint,
                "stage": str(self.trail_halt.stage),
            },
            "warnings": [warning.to_json() for warning in self.warnings],
            "services": [result.to_json() for result in self.services],
        }


class Recorder:
    """Commits records unless this is a dry run; remembers what it committed."""

    def __init__(self, audit: AuditStore, dry_run: bool) -> None:
        self.audit = audit
        self.dry_run = dry_run
        self.commits: list[str] = []
        #: Every record committed, in order.
        self.records: list[Record] = []

    def commit(self, subject: str, records: Sequence[Record]) -> str | None:
        if self.dry_run or not records:
            return None
        sha = self.audit.append(records, commit_message(subject, records))
        self.commits.append(sha)
        self.records.extend(records)
        return sha


def load_history(audit: AuditStore, blueprint: Blueprint, now: datetime) -> ServiceHistory:
    """The service's last day of records, plus its latest breaker event and its latest
    unverified change however old."""
    records = audit.history(blueprint.name, now - HISTORY_SPAN)
    if not any(r.event_type in BREAKER_EVENTS for r in records):
        latest = audit.latest(blueprint.name, BREAKER_EVENTS)
        if latest is not None:
            records.insert(0, latest)
    if not any(r.event_type in PAUSE_EVENTS for r in records):
        # A pause that began more than a day ago still holds: its end must be recorded once.
        paused = audit.latest(blueprint.name, PAUSE_EVENTS)
        if paused is not None:
            records.insert(0, paused)
    if not any(r.event_type in CHANGE_EVENTS for r in records):
        # A change older than the window that was never verified (no run for a day) must
        # not be forgotten: its verification records that it came too late to judge.
        latest = audit.latest(blueprint.name, CHANGE_EVENTS | VERIFICATION_EVENTS)
        if latest is not None and latest.event_type in CHANGE_EVENTS:
            records.insert(0, latest)
    return fold_history(blueprint.name, records, blueprint.policy.safety.circuit_breaker, now)


def carry_out(
    plan: ServicePlan,
    blueprint: Blueprint,
    state: DeploymentState,
    metrics: Metrics,
    history: ServiceHistory,
    ports: Ports,
    recorder: Recorder,
    proposing: Proposing | None = None,
) -> tuple[tuple[StepResult, ...], tuple[Note, ...]]:
    """Perform a plan's changes and commit its records; shared by cycles and requests.

    Each step's records are folded into the history before the next step is re-checked, and
    a failure that brings the count to the threshold opens the breaker at once.
    """
    notes = []
    for planned in plan.notes:
        recorder.commit(planned.subject, planned.records)
        notes.append(planned.note())
    results = []
    for step in plan.steps:
        result, committed = _carry_out_step(
            step, blueprint, state, metrics, history, ports, recorder, plan.decision, proposing
        )
        results.append(result)
        if committed:
            history = _fold_in(history, committed, blueprint, ports.clock.now())
            if history.breaker.should_open:
                opened = breaker_opened_record(
                    blueprint.name, blueprint, history.breaker.failures, ports.clock.now()
                )
                subject = breaker_subject(blueprint.name, len(history.breaker.failures))
                recorder.commit(subject, [opened])
                notes.append(Note(kind=NoteKind.BREAKER_OPENED, text=subject))
                history = _fold_in(history, [opened], blueprint, ports.clock.now())
    return tuple(results), tuple(notes)


def _fold_in(
    history: ServiceHistory, records: Sequence[Record], blueprint: Blueprint, now: datetime
) -> ServiceHistory:
    return fold_history(
        blueprint.name, (*history.records, *records), blueprint.policy.safety.circuit_breaker, now
    )


@dataclass
class Proposing:
    """What turning a step into a proposal needs, for one service in one cycle."""

    proposer: Proposer
    review: Review
    blueprint: Blueprint
    blueprint_text: str
    state: DeploymentState

    def propose(
        self, step: Step, decision: Decision | None, recorder: Recorder, ports: Ports
    ) -> Proposed:
        now = ports.clock.now()
        try:
            samples = ports.metrics.window(self.state.target, CHART_SPAN, now)
        except MetricsError:
            samples = []  # the chart is a courtesy; the proposal stands without it
        evidence = Evidence(
            decision=decision,
            samples=samples,
            current_replicas=self.state.replicas,
            revision=self.state.revision,
        )
        return self.proposer.propose(
            step,
            self.blueprint,
            self.blueprint_text,
            self.review,
            evidence,
            recorder.commit,
            now,
            manifest_files=proposed_manifests(
                step.request, self.blueprint, self.state, ports.manifests
            ),
        )


#: How much metric history a proposal's chart shows.
CHART_SPAN = 1800.0


@dataclass(frozen=True, kw_only=True)
class Gate:
    """What must be settled about a service before it is planned, by a cycle or a request."""

    review: Review
    #: The service's history, including what judging its proposals just recorded.
    history: ServiceHistory
    #: Why its blueprint is one no approval stands behind, or "".
    held: str
    #: False when the deployment carries the stamp of a change the trail lacks (a run died
    #: between changing the cluster and recording it).
    stamp_recorded: bool
    #: The reconciler's own manifest commits the trail lacked, recorded now (a run died
    #: between pushing one and recording it).
    recovered: tuple[Note, ...] = ()


def gate_service(
    blueprint: Blueprint,
    state: DeploymentState,
    ports: Ports,
    recorder: Recorder,
    now: datetime,
    *,
    judge: bool = True,
) -> Gate:
    """Judge the service's proposals when a forge may be asked (`judge`, and a forge), or
    else read from the trail alone whether its blueprint is held; both cycles and requests
    come through here, so neither acts on a blueprint the other would refuse."""
    history = load_history(ports.audit, blueprint, now)
    # Everything the service's part of the cycle relies on is read before any of it is acted
    # on, and refused when a record of it could not be read.
    approvals = approval_records(ports.audit, blueprint, now)
    require_readable(ports.audit, blueprint.name)
    recovered = tuple(
        Note(kind=NoteKind.CHANGE_RECOVERED, text=subject)
        for subject in record_found_commits(blueprint, ports, recorder, history, now)
    )
    if recovered:
        history = load_history(ports.audit, blueprint, now)
    review = Review()
    if judge and ports.forge is not None:
        review = review_proposals(
            blueprint, state, history.records, ports.audit, ports.forge, recorder.commit, now
        )
        require_readable(ports.audit, blueprint.name)
        held = review.hold
        if review.notes:  # judging recorded something: plan with it
            history = load_history(ports.audit, blueprint, now)
    else:
        held = approval_hold(blueprint, approvals)
    stamp = state.last_change
    stamp_recorded = (
        stamp is None
        or stamp.operation_id in history.operation_ids
        or ports.audit.contains(blueprint.name, stamp.at, stamp.operation_id)
    )
    return Gate(
        review=review,
        history=history,
        held=held,
        stamp_recorded=stamp_recorded,
        recovered=recovered,
    )


def record_found_commits(
    blueprint: Blueprint,
    ports: Ports,
    recorder: Recorder,
    history: ServiceHistory | None,
    now: datetime,
) -> list[str]:
    """Record each of the reconciler's own manifest commits for the service that the trail
    lacks, as the run that pushed it would have (`operation_recovered`, linked to the commit);
    returns their subjects. Nothing in a dry run."""
    if recorder.dry_run:
        return []

    def recorded(operation_id: str, at: datetime) -> bool:
        if history is not None and operation_id in history.operation_ids:
            return True
        return ports.audit.contains(blueprint.name, at, operation_id)

    subjects = []
    for found in unrecorded_commits(blueprint, ports.manifests, recorded):
        note = manifest_recovery_note(blueprint, found, now)
        recorder.commit(note.subject, note.records)
        subjects.append(note.subject)
    return subjects


def require_readable(audit: AuditStore, service: str) -> None:
    """Refuse to act on a service whose records were not all readable: a record that did not
    parse may be the change that started a cooldown, the failure that opens the breaker or
    the approval that is pending, so its history is unknown, not empty. Only this service is
    stopped; reading its trail again once the file is fixed or removed lifts it."""
    unreadable = audit.unreadable(service)
    if not unreadable:
        return
    first = unreadable[0].problem()
    more = f" (and {len(unreadable) - 1} more)" if len(unreadable) > 1 else ""
    raise TrailError(
        f"{service}: its audit trail cannot be read in full: {first.file}: "
        f"{unreadable[0].reason}{more}; its cooldown, rate limits and circuit breaker are "
        "unknown, so it is not changed automatically",
        hint=first.hint,
    )


def _carry_out_step(
    step: Step,
    blueprint: Blueprint,
    state: DeploymentState,
    metrics: Metrics,
    history: ServiceHistory,
    ports: Ports,
    recorder: Recorder,
    decision: Decision | None,
    proposing: Proposing | None = None,
) -> tuple[StepResult, tuple[Record, ...]]:
    verdict = step.verdict

    def result(
        outcome: StepOutcome,
        detail: str,
        sha: str | None = None,
        ids: tuple[str, ...] = (),
        aside: Aside | None = None,
    ) -> StepResult:
        return StepResult(
            operation=step.request.operation,
            description=step.request.describe(),
            classification=str(verdict.classification),
            action=str(verdict.action),
            kind=outcome,
            aside=aside,
            detail=detail,
            commit=sha,
            record_ids=ids,
        )

    if step.observed:
        # Observe mode: recorded as what it would have led to; nothing changed or proposed.
        outcome = _OBSERVED[verdict.action]
        if step.repeated:
            return result(outcome, verdict.summary, aside=Aside.ALREADY_RECORDED), ()
        sha = recorder.commit(step.subject, step.records)
        return result(outcome, verdict.summary, sha, tuple(r.id for r in step.records)), _kept(
            sha, step.records
        )
    if step.change is None and verdict.action is VerdictAction.REQUEST_APPROVAL and proposing:
        if recorder.dry_run:
            return result(StepOutcome.WOULD_PROPOSE, verdict.summary), ()
        proposed = proposing.propose(step, decision, recorder, ports)
        ids = tuple(r.id for r in proposed.records)
        return result(
            proposed.outcome, proposed.detail, proposed.commit, ids, proposed.aside
        ), proposed.records
    if step.change is None:
        outcome = _NOT_CARRIED_OUT[verdict.action]
        if step.repeated:
            return result(outcome, verdict.summary, aside=Aside.ALREADY_RECORDED), ()
        sha = recorder.commit(step.subject, step.records)
        return result(outcome, verdict.summary, sha, tuple(r.id for r in step.records)), _kept(
            sha, step.records
        )
    if recorder.dry_run:
        return result(StepOutcome.WOULD_EXECUTE, step.change.describe()), ()

    # Govern again at the moment of acting, with a fresh clock.
    moment = ports.clock.now()
    observed = observed_values(state, metrics, decision)
    recheck = govern(
        step.request, blueprint, history, observed, moment, approved_by=step.approved_by
    )
    if recheck.action is not VerdictAction.EXECUTE:
        refusal = refusal_record(
            step.request, recheck, blueprint, step.chain, note="re-checked before acting"
        )
        records = (*step.records, refusal)
        sha = recorder.commit(subject_for(refusal, step.request, recheck, decision), records)
        # The refusal record says deferred or blocked; a step that now needs approval is
        # refused as blocked, not left pending (nothing was proposed for it).
        refused = (
            StepOutcome.DEFERRED if recheck.action is VerdictAction.DEFER else StepOutcome.BLOCKED
        )
        return result(refused, recheck.summary, sha), _kept(sha, records)
    try:
        carried = carry_change(
            step.change,
            reverts=step.request.reverts,
            blueprint=blueprint,
            state=state,
            history=history,
            cluster=ports.cluster,
            manifests=ports.manifests,
            now=moment,
            approved_from=step.context.get("authorized_by"),
        )
        applied: Applied = carried.applied
    except ConflictError as error:
        deferred = replace(
            verdict,
            action=VerdictAction.DEFER,
            summary="the deployment changed since it was observed",
        )
        refusal = refusal_record(step.request, deferred, blueprint, step.chain, note=str(error))
        records = (*step.records, refusal)
        sha = recorder.commit(subject_for(refusal, step.request, deferred, decision), records)
        return result(StepOutcome.DEFERRED, str(error), sha), _kept(sha, records)
    except ClusterError as error:
        failure = failed_record(
            step.request,
            verdict,
            blueprint,
            step.chain,
            step.change,
            str(error),
            error.hint,
            ports.clock.now(),
            context=step.context,
        )
        records = (*step.records, failure)
        sha = recorder.commit(subject_for(failure, step.request, verdict, decision), records)
        return result(StepOutcome.FAILED, str(error), sha), _kept(sha, records)
    stabilization = stabilization_for(step.request.operation, blueprint)
    due = applied.completed_at + timedelta(seconds=stabilization)
    executed = executed_record(
        step.request,
        verdict,
        blueprint,
        step.chain,
        step.change,
        applied,
        verification_due=due,
        context={**step.context, **carried.context},
    )
    executed = replace(executed, links={**executed.links, **carried.links})
    records = (*step.records, executed)
    sha = recorder.commit(subject_for(executed, step.request, verdict, decision), records)
    detail = f"{step.change.describe()}: {applied.message}"
    return result(StepOutcome.EXECUTED, detail, sha, tuple(r.id for r in records)), _kept(
        sha, records
    )


#: What became of a step the verdict did not let run.
_NOT_CARRIED_OUT = {
    VerdictAction.BLOCK: StepOutcome.BLOCKED,
    VerdictAction.DEFER: StepOutcome.DEFERRED,
    VerdictAction.REQUEST_APPROVAL: StepOutcome.PENDING,
}


#: What an observed step is reported as: the dry run's words for what would have happened.
_OBSERVED = {
    VerdictAction.EXECUTE: StepOutcome.WOULD_EXECUTE,
    VerdictAction.REQUEST_APPROVAL: StepOutcome.WOULD_PROPOSE,
    VerdictAction.BLOCK: StepOutcome.BLOCKED,
    VerdictAction.DEFER: StepOutcome.DEFERRED,
}


def _kept(sha: str | None, records: Sequence[Record]) -> tuple[Record, ...]:
    """The records that were committed (none in a dry run)."""
    return tuple(records) if sha else ()


def _reconcile_service(
    blueprint: Blueprint,
    state_or_error: DeploymentState | Exception,
    metrics_or_error: Metrics | Exception,
    ports: Ports,
    options: CycleOptions,
    recorder: Recorder,
    now: datetime,
    context: _CycleContext,
) -> ServiceResult:
    """One service's part of a cycle. Whatever it raises is the service's failure, named by
    the loop in `run_cycle` with the stage `context.watch` says it was in."""
    watch = context.watch
    if isinstance(state_or_error, Exception):
        raise state_or_error
    state = state_or_error
    notes: list[Note] = []
    if isinstance(metrics_or_error, Exception):
        # Missing metrics never fail a service: nothing is scaled down on what is unknown.
        metrics = Metrics()
        unknown = failure(metrics_or_error, Stage.OBSERVE, blueprint.name).message
        notes.append(
            Note(kind=NoteKind.METRICS_UNAVAILABLE, text=f"metrics unavailable: {unknown}")
        )
    else:
        metrics = metrics_or_error
        notes += [
            Note(kind=NoteKind.METRICS_INCOMPLETE, text=f"metrics incomplete: {warning}")
            for warning in metrics.warnings
        ]
    watch.stage = Stage.GOVERN
    observing = blueprint.mode is Mode.OBSERVE
    if observing:
        notes.append(
            Note(
                kind=NoteKind.OBSERVING,
                text=f"observe mode ({blueprint.observed_by}): recorded what would be done; "
                "nothing is changed or proposed",
            )
        )
    gate = gate_service(
        blueprint, state, ports, recorder, now, judge=not options.dry_run and not observing
    )
    review, history, stamp_recorded = gate.review, gate.history, gate.stamp_recorded
    notes += gate.recovered
    notes += review.notes
    if review.error:
        notes.append(Note(kind=NoteKind.FORGE_FAILED, text=f"approvals: {review.error}"))
    if gate.held:
        return ServiceResult(
            service=blueprint.name,
            notes=tuple(notes),
            error=gate.held,
            attention=_attention(blueprint, history, gate.held, notes),
            proposals=_still_open(review, set()),
        )
    if review.wait:
        return ServiceResult(
            service=blueprint.name,
            notes=tuple(notes),
            waiting=review.wait,
            proposals=_still_open(review, set()),
        )

    def plan(window: Sequence[Sample] | None) -> ServicePlan:
        return plan_cycle(
            blueprint,
            state,
            metrics,
            history,
            now,
            window=window,
            stamp_recorded=stamp_recorded,
            max_metrics_age=options.max_metrics_age,
            verify_only=options.verify_only,
            authorizations=review.authorizations,
        )

    watch.stage = Stage.DECIDE
    planned = plan(None)
    if planned.needs_window:
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
        planned = plan(window)
    proposing = None
    if ports.forge is not None and context.proposer is not None and not observing:
        proposing = Proposing(
            proposer=context.proposer,
            review=review,
            blueprint=blueprint,
            blueprint_text=context.texts.get(blueprint.name, ""),
            state=state,
        )
    watch.stage = Stage.APPLY
    steps, plan_notes = carry_out(
        planned, blueprint, state, metrics, history, ports, recorder, proposing
    )
    decision = planned.decision
    watch.stage = Stage.FORGE
    closed: set[str] = set()
    if (
        ports.forge is not None
        and context.proposer is not None
        and decision is not None
        and not options.dry_run
        and not observing
        and review.open
    ):
        said, closed = supersede(
            blueprint,
            review,
            context.proposer.wanted,
            ports.forge,
            recorder.commit,
            decision.rationale,
            now,
        )
        notes += said
    proposer = context.proposer
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


@dataclass
class _CycleContext:
    """What every service of one cycle shares."""

    texts: Mapping[str, str]
    proposer: Proposer | None
    #: Where the service being reconciled is: what its failure is named by.
    watch: Watch


def run_cycle(fleet: Fleet, ports: Ports, options: CycleOptions) -> CycleReport:
    """One reconcile cycle over the fleet (or the selected services)."""
    fleet.require_policies()
    now = ports.clock.now()
    wanted = [b for b in fleet.blueprints if not options.services or b.name in options.services]
    skipped = tuple(
        (b.name, why) for b in wanted if (why := skip_reason(b, ports.where)) is not None
    )
    selected = [b for b in wanted if skip_reason(b, ports.where) is None]
    results: list[ServiceResult] = [
        ServiceResult(
            service=name,
            error=f"blueprint does not validate: run `{fleet.validate_command(name)}`",
        )
        for name in sorted(fleet.broken)
        if not options.services or name in options.services
    ]
    targets = [Target(namespace=b.metadata.namespace, name=b.metadata.deployment) for b in selected]
    observed = ask_each(ports.cluster.observe, targets)
    try:
        current = ask_each(ports.metrics.current, targets)
    except MetricsError as error:  # a warning for every service, as a failing source is
        current = dict.fromkeys(targets, error)
    watch = Watch()
    watched = _watched(ports, watch)
    recorder = Recorder(watched.audit, options.dry_run)
    proposer = (
        Proposer(
            forge=watched.forge,
            audit=watched.audit,
            budget=fleet.policies.max_new_proposals_per_run,
            links=options.links,
        )
        if watched.forge is not None
        else None
    )
    context = _CycleContext(texts=fleet.texts, proposer=proposer, watch=watch)
    halted_in = ""
    not_asked: list[str] = []
    unwritable: Failure | None = None
    for index, (blueprint, target) in enumerate(zip(selected, targets, strict=True), start=1):
        if unwritable is not None:
            # Acting on would change the cluster with no record of it: the trail's failure
            # stops what is left of the cycle, and the run fails with it.
            results.append(_not_reconciled(blueprint.name, unwritable))
            continue
        watch.begin()
        first = len(recorder.records)
        try:
            result = _reconcile_service(
                blueprint,
                observed.get(target, ClusterError(f"{target} was not observed")),
                current.get(target, MetricsError(f"no metrics for {target}")),
                watched,
                options,
                recorder,
                now,
                context,
            )
        except Exception as error:  # whatever it is, it is this service's alone
            result, unwritable = _failed(blueprint, target, error, watch, ports, recorder)
        if ports.forge is not None and len(recorder.records) > first:
            # What the cycle recorded may end a proposal or add to one that ended: its
            # comment says so (the forge is not asked when nothing of the kind happened).
            try:
                said = follow_up(
                    blueprint.name,
                    recorder.records[first:],
                    ports.audit,
                    ports.forge,
                    options.links,
                )
            except Exception as error:  # the comment is a courtesy: never the cycle's failure
                text = f"could not comment on the proposals: {error}"
                said = [Note(kind=NoteKind.FORGE_FAILED, text=text)]
            if said:
                result = replace(result, notes=(*result.notes, *said))
        if ports.events is not None and len(recorder.records) > first:
            said = announce(ports.events, target, recorder.records[first:])
            result = replace(result, notes=(*result.notes, *said)) if said else result
        results.append(result)
        if ports.forge is not None and ports.forge.halted() is not None:
            # Every later service is still reconciled (what needs no forge goes on), and
            # named, so that nobody takes its untouched proposals for an answer.
            if halted_in:
                not_asked.append(blueprint.name)
            else:
                halted_in = blueprint.name
        if options.progress is not None:
            options.progress(index, len(selected))
    if not options.dry_run:
        ports.audit.flush()
    if not options.verify_only:
        results = _note_ignored_files(results, fleet, options.services)
    results.sort(key=lambda r: r.service)
    halt = None
    stopped = ports.forge.halted() if ports.forge is not None else None
    if stopped is not None:
        halt = ForgeHalt(
            error=str(stopped), hint=stopped.hint, service=halted_in, not_asked=tuple(not_asked)
        )
    return CycleReport(
        started_at=now,
        dry_run=options.dry_run,
        services=tuple(results),
        commits=tuple(recorder.commits),
        forge_halt=halt,
        trail_halt=unwritable,
        warnings=(*fleet.notices, *(item.problem() for item in ports.audit.unreadable())),
        cluster=ports.where,
        skipped=skipped,
    )


def _watched(ports: Ports, watch: Watch) -> Ports:
    """The ports a cycle's services are reconciled through: each call marks its stage."""
    return Ports(
        cluster=WatchedCluster(ports.cluster, watch),
        metrics=WatchedMetrics(ports.metrics, watch),
        audit=WatchedAudit(ports.audit, watch),
        clock=ports.clock,
        forge=None if ports.forge is None else WatchedForge(ports.forge, watch),
        manifests=None if ports.manifests is None else WatchedManifests(ports.manifests, watch),
        where=ports.where,
    )


def _failed(
    blueprint: Blueprint,
    target: Target,
    error: Exception,
    watch: Watch,
    ports: Ports,
    recorder: Recorder,
) -> tuple[ServiceResult, Failure | None]:
    """A service's failure, named with its stage and hint. When it came after the cluster was
    asked to change, the change is recorded now from the stamp it left on the deployment (the
    same record the next run would write), so that no change outlives its run unrecorded while
    the trail can be written. When even that record cannot be written, the trail's failure is
    returned too: the cycle must change nothing more."""
    found = failure(error, watch.stage_of(error), blueprint.name)
    message, notes, unwritable = found.message, list[Note](), None
    if (watch.changes or watch.commits) and not recorder.dry_run:
        try:
            # A change asked of the cluster left a stamp on the deployment; one committed to
            # the manifests left it on the commit.
            recorded = "; ".join(
                subject
                for subject in (
                    _record_found_change(blueprint, target, ports, recorder)
                    if watch.changes
                    else "",
                    *record_found_commits(blueprint, ports, recorder, None, ports.clock.now()),
                )
                if subject
            )
        except Exception as again:
            second = failure(again, watch.stage_of(again), blueprint.name)
            why = "the same error" if second.message == found.message else second.message
            message += (
                f"; the change it asked of the cluster could not be recorded either ({why}): "
                "the next run records it from the deployment's stamp (operation_recovered)"
            )
            if second.stage is Stage.RECORD:
                unwritable = second
        else:
            if recorded:
                notes.append(Note(kind=NoteKind.CHANGE_RECOVERED, text=recorded))
    result = ServiceResult(
        service=blueprint.name,
        error=f"{found.stage}: {message} (fix: {found.hint})",
        stage=found.stage,
        hint=found.hint,
        notes=tuple(notes),
    )
    return result, unwritable


def _not_reconciled(service: str, unwritable: Failure) -> ServiceResult:
    return ServiceResult(
        service=service,
        error=(
            f"{Stage.RECORD}: not reconciled: the audit trail cannot be written "
            f"({unwritable.message}), so this run changes nothing more (fix: {unwritable.hint})"
        ),
        stage=Stage.RECORD,
        hint=unwritable.hint,
    )


def _record_found_change(
    blueprint: Blueprint, target: Target, ports: Ports, recorder: Recorder
) -> str:
    """Record the change the deployment carries if the trail lacks it; returns the note."""
    state = ports.cluster.observe([target]).get(target)
    if isinstance(state, Exception) or state is None:
        raise state or ClusterError(f"{target} was not observed")
    stamp = state.last_change
    if stamp is None or ports.audit.contains(blueprint.name, stamp.at, stamp.operation_id):
        return ""
    note = recovery_note(blueprint, stamp, ports.clock.now())
    recorder.commit(note.subject, note.records)
    return note.subject


def _note_ignored_files(
    results: list[ServiceResult], fleet: Fleet, services: Sequence[str]
) -> list[ServiceResult]:
    """Note each file the loader ignored in the row of the service it seems meant for, so a
    misnamed blueprint shows in the run's output and not only in `validate`."""
    notes: dict[str, list[Note]] = {}
    for item in fleet.ignored:
        if not services or item.service in services:
            problem = item.problem
            text = f"file ignored: {problem.file}: {problem.message.removeprefix('ignored: ')}"
            notes.setdefault(item.service, []).append(
                Note(kind=NoteKind.FILE_IGNORED, text=f"{text} (fix: {problem.hint})")
            )
    rows = {result.service: result for result in results}
    for service, extra in notes.items():
        row = rows.get(service, ServiceResult(service=service))
        rows[service] = replace(row, notes=(*row.notes, *extra))
    return list(rows.values())


def commit_records(audit: AuditStore, subject: str, records: Sequence[Record]) -> str:
    """Commit records outside a cycle (a breaker reset, a request)."""
    message: CommitMessage = commit_message(subject, records)
    sha = audit.append(records, message)
    audit.flush()
    return sha


#: A rollback the cluster refused is retried after this long when waiting (--wait).
ROLLBACK_RETRY_DELAY = 30.0
#: How often --wait looks again at a due verification that waits for starting pods.
SETTLE_POLL = 10.0


def next_due(fleet: Fleet, ports: Ports, services: Sequence[str] = ()) -> datetime | None:
    """When the next verification (or rollback retry) of the selected services is due."""
    now = ports.clock.now()
    due: list[datetime] = []
    for blueprint in fleet.blueprints:
        if services and blueprint.name not in services:
            continue
        try:
            history = load_history(ports.audit, blueprint, now)
        except Exception:  # the cycle reported it as the service's error; nothing to wait for
            continue
        if ports.audit.unreadable(blueprint.name):
            continue  # nothing is verified for it until its trail reads: waiting would not help
        # A verification already due waits for starting pods (still_starting): look again
        # shortly rather than at once, or the wait would spin.
        due += [
            max(item.due, now + timedelta(seconds=SETTLE_POLL))
            for item in pending_verifications(history, blueprint)
        ]
        work = rollback_work(history, blueprint)
        if work.escalations:
            due.append(now)
        elif work.rollbacks:
            due.append(now + timedelta(seconds=ROLLBACK_RETRY_DELAY))
    return min(due, default=None)


def wait_and_verify(
    fleet: Fleet, ports: Ports, options: CycleOptions, timeout: float
) -> tuple[list[CycleReport], str]:
    """Stay until the changes of this run are verified (and any rollback too), or time runs
    out. Each pass only verifies and rolls back; it decides nothing new."""
    reports: list[CycleReport] = []
    deadline = ports.clock.now() + timedelta(seconds=timeout)
    verify = replace(options, verify_only=True, progress=None)
    while True:
        due = next_due(fleet, ports, options.services)
        if due is None:
            return reports, "nothing left to verify or roll back"
        if due > deadline:
            return reports, f"the next verification is due at {due:%H:%M:%S}Z, after --wait-timeout"
        now = ports.clock.now()
        if due > now:
            ports.clock.sleep((due - now).total_seconds())
        reports.append(run_cycle(fleet, ports, verify))
        if reports[-1].trail_halt is not None:
            return reports, "the audit trail cannot be written"
