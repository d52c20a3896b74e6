"""Carrying out a service's plan: each step recorded, proposed, or governed again at the moment
of acting and then applied, and its records committed."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from reconciler.core.blueprint.model import Blueprint
from reconciler.core.decide.decision import Decision
from reconciler.core.decide.governance import Verdict, VerdictAction, govern
from reconciler.core.decide.verification import stabilization_for
from reconciler.core.errors import ClusterError, ConflictError, MetricsError
from reconciler.core.observed.changes import Applied, Change
from reconciler.core.observed.observation import DeploymentState, Metrics
from reconciler.core.planning.cycle import ServicePlan, Step, observed_values
from reconciler.core.planning.events import (
    breaker_opened_record,
    executed_record,
    failed_record,
    refusal_record,
)
from reconciler.core.planning.outcomes import Aside, Note, NoteKind, StepOutcome
from reconciler.core.planning.subjects import breaker_subject, subject_for
from reconciler.core.trail.history import ServiceHistory
from reconciler.core.trail.records import Record
from reconciler.shell.approvals import Proposed, Proposer, Review
from reconciler.shell.ports import Ports
from reconciler.shell.recording import Recorder, fold_in, kept
from reconciler.shell.reports import StepResult
from reconciler.shell.writeback import Carried, carry_change, proposed_manifests


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
        acting = _Acting(
            blueprint=blueprint,
            state=state,
            metrics=metrics,
            history=history,
            ports=ports,
            recorder=recorder,
            decision=plan.decision,
        )
        result, committed = _carry_out_step(step, acting, proposing)
        results.append(result)
        if committed:
            history = fold_in(history, committed, blueprint, ports.clock.now())
            if history.breaker.should_open:
                opened = breaker_opened_record(
                    blueprint.name, blueprint, history.breaker.failures, ports.clock.now()
                )
                subject = breaker_subject(blueprint.name, len(history.breaker.failures))
                recorder.commit(subject, [opened])
                notes.append(Note(kind=NoteKind.BREAKER_OPENED, text=subject))
                history = fold_in(history, [opened], blueprint, ports.clock.now())
    return tuple(results), tuple(notes)


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
        from reconciler.core.approvals.drafting import Evidence  # only a proposal drafts

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
                step.request, self.blueprint, self.state, ports.manifests, ports.paired
            ),
        )


#: How much metric history a proposal's chart shows.
CHART_SPAN = 1800.0


@dataclass(frozen=True, kw_only=True)
class _Acting:
    """What carrying out one step works with: the service as observed, the history its
    steps so far are folded into, the ports, the recorder and the cycle's decision."""

    blueprint: Blueprint
    state: DeploymentState
    metrics: Metrics
    history: ServiceHistory
    ports: Ports
    recorder: Recorder
    decision: Decision | None


def _carry_out_step(
    step: Step, acting: _Acting, proposing: Proposing | None = None
) -> tuple[StepResult, tuple[Record, ...]]:
    """One step: recorded only (observed, or not let run), proposed, or acted on; returns its
    result and the records committed for it."""
    recorder = acting.recorder
    verdict = step.verdict
    if step.observed:
        # Observe mode: recorded as what it would have led to; nothing changed or proposed.
        return _record_only(step, _OBSERVED[verdict.action], recorder)
    if step.change is None and verdict.action is VerdictAction.REQUEST_APPROVAL and proposing:
        if recorder.dry_run:
            return _result(step, StepOutcome.WOULD_PROPOSE, verdict.summary), ()
        proposed = proposing.propose(step, acting.decision, recorder, acting.ports)
        ids = tuple(r.id for r in proposed.records)
        return _result(
            step, proposed.outcome, proposed.detail, proposed.commit, ids, proposed.aside
        ), proposed.records
    if step.change is None:
        return _record_only(step, _NOT_CARRIED_OUT[verdict.action], recorder)
    if recorder.dry_run:
        return _result(step, StepOutcome.WOULD_EXECUTE, step.change.describe()), ()
    return _act(step, step.change, acting)


def _result(
    step: Step,
    outcome: StepOutcome,
    detail: str,
    sha: str | None = None,
    ids: tuple[str, ...] = (),
    aside: Aside | None = None,
) -> StepResult:
    verdict = step.verdict
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


def _record_only(
    step: Step, outcome: StepOutcome, recorder: Recorder
) -> tuple[StepResult, tuple[Record, ...]]:
    """A step that changes nothing: its records committed, unless the same refusal is already
    in the trail."""
    summary = step.verdict.summary
    if step.repeated:
        return _result(step, outcome, summary, aside=Aside.ALREADY_RECORDED), ()
    sha = recorder.commit(step.subject, step.records)
    ids = tuple(r.id for r in step.records)
    return _result(step, outcome, summary, sha, ids), kept(sha, step.records)


def _act(step: Step, change: Change, acting: _Acting) -> tuple[StepResult, tuple[Record, ...]]:
    """The one place a step changes anything. Governance is asked again at the moment of
    acting, with a fresh clock: the verdict that counts is this one. The change is applied
    with a stamp on the deployment (or on the manifest commit), and only then are its records
    committed, whatever became of it: a run that dies in between leaves the stamp, and the
    next run records the change from it (`operation_recovered`)."""
    ports, blueprint = acting.ports, acting.blueprint
    moment = ports.clock.now()
    observed = observed_values(acting.state, acting.metrics, acting.decision)
    recheck = govern(
        step.request, blueprint, acting.history, observed, moment, approved_by=step.approved_by
    )
    if recheck.action is not VerdictAction.EXECUTE:
        return _refused_on_recheck(step, recheck, acting)
    try:
        carried = carry_change(
            change,
            reverts=step.request.reverts,
            blueprint=blueprint,
            state=acting.state,
            history=acting.history,
            cluster=ports.cluster,
            manifests=ports.manifests,
            now=moment,
            approved_from=step.context.get("authorized_by"),
        )
    except ConflictError as error:
        return _deferred_by_conflict(step, error, acting)
    except ClusterError as error:
        failure = failed_record(
            step.request,
            step.verdict,
            blueprint,
            step.chain,
            change,
            str(error),
            error.hint,
            ports.clock.now(),
            context=step.context,
        )
        return _committed(step, StepOutcome.FAILED, str(error), failure, acting)
    return _executed(step, change, carried, acting)


def _committed(
    step: Step,
    outcome: StepOutcome,
    detail: str,
    last: Record,
    acting: _Acting,
    verdict: Verdict | None = None,
) -> tuple[StepResult, tuple[Record, ...]]:
    """A step that did not change the cluster, committed with the record saying why."""
    records = (*step.records, last)
    subject = subject_for(last, step.request, verdict or step.verdict, acting.decision)
    sha = acting.recorder.commit(subject, records)
    return _result(step, outcome, detail, sha), kept(sha, records)


def _refused_on_recheck(
    step: Step, recheck: Verdict, acting: _Acting
) -> tuple[StepResult, tuple[Record, ...]]:
    refusal = refusal_record(
        step.request, recheck, acting.blueprint, step.chain, note="re-checked before acting"
    )
    # The refusal record says deferred or blocked; a step that now needs approval is
    # refused as blocked, not left pending (nothing was proposed for it).
    refused = StepOutcome.DEFERRED if recheck.action is VerdictAction.DEFER else StepOutcome.BLOCKED
    return _committed(step, refused, recheck.summary, refusal, acting, recheck)


def _deferred_by_conflict(
    step: Step, error: ConflictError, acting: _Acting
) -> tuple[StepResult, tuple[Record, ...]]:
    deferred = replace(
        step.verdict,
        action=VerdictAction.DEFER,
        summary="the deployment changed since it was observed",
    )
    refusal = refusal_record(step.request, deferred, acting.blueprint, step.chain, note=str(error))
    return _committed(step, StepOutcome.DEFERRED, str(error), refusal, acting, deferred)


def _executed(
    step: Step, change: Change, carried: Carried, acting: _Acting
) -> tuple[StepResult, tuple[Record, ...]]:
    """The record of a change the cluster made, with when it is due for verification."""
    blueprint, recorder, decision = acting.blueprint, acting.recorder, acting.decision
    applied: Applied = carried.applied
    stabilization = stabilization_for(step.request.operation, blueprint)
    due = applied.completed_at + timedelta(seconds=stabilization)
    executed = executed_record(
        step.request,
        step.verdict,
        blueprint,
        step.chain,
        change,
        applied,
        verification_due=due,
        context={**step.context, **carried.context},
    )
    executed = replace(executed, links={**executed.links, **carried.links})
    records = (*step.records, executed)
    sha = recorder.commit(subject_for(executed, step.request, step.verdict, decision), records)
    detail = f"{change.describe()}: {applied.message}"
    return _result(step, StepOutcome.EXECUTED, detail, sha, tuple(r.id for r in records)), kept(
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
