"""The stages of one service's cycle, in the order they run.

Each stage takes the cycle's inputs and what the stages before it made of the cycle (the
history with the records they added, their notes, the change still waiting), and either
passes on or settles the cycle with a plan. The order is the policy: what is due is verified
first, a pause stops everything that acts, a failed change is undone before anything new, and
at most one change is made per service per cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from reconciler.core.approvals.authorization import Authorization
from reconciler.core.approvals.lifecycle import Kind
from reconciler.core.approvals.requests import shape_request
from reconciler.core.blueprint.model import Blueprint
from reconciler.core.decide.decision import (
    DEFAULT_MAX_METRICS_AGE,
    Action,
    Decision,
    DecisionRule,
    decide,
    weighted_utilization,
)
from reconciler.core.decide.decision import Reason as DecisionReason
from reconciler.core.decide.governance import OperationRequest, Origin
from reconciler.core.decide.rates import counted_changes
from reconciler.core.decide.recovery import decide_recovery
from reconciler.core.decide.verification import SETTLE_GRACE, Pending, avoid_targets
from reconciler.core.ids import make_id, utc
from reconciler.core.observed.observation import DeploymentState, Metrics, Sample
from reconciler.core.planning.deferred import retry_deferred
from reconciler.core.planning.events import decision_record
from reconciler.core.planning.notes import (
    breaker_note,
    fold,
    pause_note,
    pause_reason,
    unrecorded_change_note,
)
from reconciler.core.planning.plan import NoteCommit, ServicePlan, Step
from reconciler.core.planning.rollbacks import approves, rollback_steps
from reconciler.core.planning.steps import govern_step, observed_values
from reconciler.core.planning.subjects import (
    what_of,
)
from reconciler.core.planning.verifying import verify_due
from reconciler.core.trail import lazy_bodies
from reconciler.core.trail.history import CHANGE_EVENTS, ServiceHistory
from reconciler.core.trail.wording import Code, Reason, say

__all__ = ["STAGES", "CycleInputs", "Progress", "Stage"]


@dataclass(frozen=True, kw_only=True)
class CycleInputs:
    """What the shell gathered for one service's cycle; the same for every stage."""

    blueprint: Blueprint
    state: DeploymentState
    metrics: Metrics
    now: datetime
    window: Sequence[Sample] | None = None
    stamp_recorded: bool = True
    max_metrics_age: float = DEFAULT_MAX_METRICS_AGE
    verify_only: bool = False
    authorizations: Sequence[Authorization] = ()

    @property
    def service(self) -> str:
        return self.blueprint.name


@dataclass(frozen=True, kw_only=True)
class Progress:
    """What the stages so far made of the cycle; `plan` is set by the stage that settles it."""

    history: ServiceHistory
    notes: tuple[NoteCommit, ...] = ()
    #: The first change still waiting for its verification.
    waiting: Pending | None = None
    plan: ServicePlan | None = None

    def noted(self, inputs: CycleInputs, *notes: NoteCommit) -> Progress:
        """With `notes` added, and their records folded into the history."""
        history = self.history
        for note in notes:
            history = fold(history, inputs.blueprint, note.records, inputs.now)
        return replace(self, history=history, notes=(*self.notes, *notes))

    def settled(
        self,
        inputs: CycleInputs,
        *,
        decision: Decision | None = None,
        steps: Sequence[Step] = (),
        needs_window: bool = False,
        waiting: str = "",
        paused: str = "",
    ) -> Progress:
        """The cycle ends here, with this plan (and every note made so far)."""
        return replace(
            self,
            plan=ServicePlan(
                service=inputs.service,
                decision=decision,
                steps=tuple(steps),
                notes=self.notes,
                needs_window=needs_window,
                waiting=waiting,
                paused=paused,
            ),
        )


#: A stage: the inputs and the progress so far -> the progress after it.
Stage = Callable[[CycleInputs, Progress], Progress]


def record_unrecorded_change(inputs: CycleInputs, progress: Progress) -> Progress:
    """A change found on the deployment that the trail lacks (a run died) is recorded first,
    so that it is verified like any other."""
    note = unrecorded_change_note(inputs.blueprint, inputs.state, inputs.stamp_recorded, inputs.now)
    return progress if note is None else progress.noted(inputs, note)


def verify_due_changes(inputs: CycleInputs, progress: Progress) -> Progress:
    """Every change whose verification is due is verified; the first still waiting is kept."""
    history, verified, waiting = verify_due(
        inputs.blueprint, inputs.state, inputs.metrics, progress.history, inputs.now
    )
    return replace(progress, history=history, notes=(*progress.notes, *verified), waiting=waiting)


def stop_while_paused(inputs: CycleInputs, progress: Progress) -> Progress:
    """A pause is recorded when it begins or ends; while it lasts, the cycle observes and
    reports only: no rollback, no recovery, no approved request and no scaling."""
    paused_by = pause_reason(inputs.blueprint, inputs.state)
    note = pause_note(inputs.blueprint, progress.history, paused_by, inputs.now)
    if note is not None:
        progress = progress.noted(inputs, note)
    if not paused_by:
        return progress
    decision = None if inputs.verify_only else paused_decision(inputs, progress, paused_by)
    return progress.settled(inputs, decision=decision, paused=paused_by)


def open_breaker(inputs: CycleInputs, progress: Progress) -> Progress:
    """The circuit breaker opens when the recorded failures reach its threshold."""
    history, note = breaker_note(inputs.blueprint, progress.history, inputs.now)
    notes = progress.notes if note is None else (*progress.notes, note)
    return replace(progress, history=history, notes=notes)


def roll_back_failed_changes(inputs: CycleInputs, progress: Progress) -> Progress:
    """A change that failed its verification is undone before anything new, or escalated.

    A rollback that needs a person is proposed; once approved, it is carried out as that
    very rollback (the approval credited), not proposed again.
    """
    observed = observed_values(inputs.state, inputs.metrics)
    history, escalations, rollbacks = rollback_steps(
        inputs.blueprint, inputs.state, progress.history, observed, inputs.now
    )
    progress = replace(progress, history=history, notes=(*progress.notes, *escalations))
    if not rollbacks:
        return progress
    rollback = rollbacks[0]
    undo = next((a for a in inputs.authorizations if approves(a, rollback.request)), None)
    if undo is not None:
        rollback = govern_step(
            rollback.request,
            inputs.blueprint,
            inputs.state,
            history,
            observed,
            inputs.now,
            lead=None,
            lead_id=undo.approval_id,
            decision=None,
            authorization=undo,
        )
    return progress.settled(inputs, steps=(rollback,))


def wait_for_verification(inputs: CycleInputs, progress: Progress) -> Progress:
    """No new change while an earlier one waits for its verification: a second change would
    make the first unverifiable."""
    waiting = progress.waiting
    if waiting is None:
        return progress
    return progress.settled(inputs, waiting=waiting_text(waiting, progress.history, inputs.now))


def waiting_text(waiting: Pending, history: ServiceHistory, now: datetime) -> str:
    """What the status says of a change still waiting for its verification."""
    from reconciler.core.gitops.rollout import rollout_wait

    due = waiting.due > now
    return say(
        Reason(
            Code.WAITING_FOR_VERIFICATION,
            {
                "operation_id": waiting.operation_id,
                "what": what_of(waiting.record),
                "due": waiting.due,
                "settled_by": None if due else waiting.due + SETTLE_GRACE,
                "rollout": rollout_wait(waiting, history.records) if due else "",
            },
        )
    )


def stop_when_verifying_only(inputs: CycleInputs, progress: Progress) -> Progress:
    """`--verify-only`: verifications and rollbacks, nothing new."""
    return progress.settled(inputs) if inputs.verify_only else progress


def carry_out_approved_request(inputs: CycleInputs, progress: Progress) -> Progress:
    """A one-off request approved by a merge becomes the cycle's operation.

    Shaped again against the deployment as it is now, so governance sees the real size; an
    approval the state has overtaken was refused before the plan (stale_reason).
    """
    approved = next((a for a in inputs.authorizations if a.kind is Kind.REQUEST), None)
    if approved is None:
        return progress
    blueprint, state = inputs.blueprint, inputs.state
    request = shape_request(approved.request(blueprint, state.replicas), blueprint, state)
    step = govern_step(
        request,
        blueprint,
        state,
        progress.history,
        observed_values(state, inputs.metrics),
        inputs.now,
        lead=None,
        lead_id=approved.approval_id,
        decision=None,
        authorization=approved,
    )
    return progress.settled(inputs, steps=(step,))


#: The operation that carries out each recovery action.
RECOVERY_OPERATIONS = {
    Action.RESTART: "restart_failed_pods",
    Action.ROLLBACK: "rollback_deployment",
    Action.ESCALATE: "rollback_deployment",
}


def recover_failing_pods(inputs: CycleInputs, progress: Progress) -> Progress:
    """Pods that keep failing are restarted, rolled back, or escalated to a person."""
    blueprint, state, metrics = inputs.blueprint, inputs.state, inputs.metrics
    decision = decide_recovery(blueprint, state, metrics, progress.history, inputs.now)
    if decision is None:
        return progress
    request = OperationRequest(
        operation=RECOVERY_OPERATIONS[decision.action],
        service=blueprint.name,
        origin=Origin.RECOVERY,
        decision_id=decision.id,
        reason=decision.rationale,
    )
    lead = decision_record(decision)
    step = govern_step(
        request,
        blueprint,
        state,
        progress.history,
        observed_values(state, metrics, decision),
        inputs.now,
        lead=lead,
        lead_id=lead.id,
        decision=decision,
        escalate=Reason(Code.RESTARTS_BEYOND_MAX) if decision.action is Action.ESCALATE else None,
    )
    return progress.settled(inputs, decision=decision, steps=(step,))


def retry_deferred_requests(inputs: CycleInputs, progress: Progress) -> Progress:
    """The first deferred request whose retry time has come is carried out, or expires."""
    retried, expired = retry_deferred(
        inputs.blueprint, inputs.state, inputs.metrics, progress.history, inputs.now
    )
    if expired is not None:
        progress = progress.noted(inputs, expired)
    return progress if retried is None else progress.settled(inputs, steps=(retried,))


def hold_approved_replicas(inputs: CycleInputs, progress: Progress) -> Progress:
    """A replica count a person approved is not undone by the engine."""
    held = held_by_approval(inputs, progress.history)
    return progress if held is None else progress.settled(inputs, decision=held)


def decide_and_govern(inputs: CycleInputs, progress: Progress) -> Progress:
    """The engine decides from the metrics; its scale (and a scale beyond the limits it
    proposes) is governed. An approved blueprint edit is credited on the scale it allows."""
    blueprint, state, metrics, history = (
        inputs.blueprint,
        inputs.state,
        inputs.metrics,
        progress.history,
    )
    decision = decide(
        blueprint,
        state,
        metrics,
        now=inputs.now,
        window=inputs.window,
        max_metrics_age=inputs.max_metrics_age,
        avoid=avoid_targets(history, inputs.now),
        salt=history.fingerprint,
        changes=counted_changes(history.records, blueprint.scaling.behavior, inputs.now),
    )
    if decision.needs_window:
        return progress.settled(inputs, decision=decision, needs_window=True)
    requests = decision_requests(decision)
    if not requests:
        return progress.settled(inputs, decision=decision)
    policy_change = next((a for a in inputs.authorizations if a.kind is Kind.BLUEPRINT), None)
    observed = observed_values(state, metrics, decision)
    lead = decision_record(decision)
    # One decision, recorded once: a step that crosses max_replicas is two requests (the part
    # within the bounds, and the rest proposed), and only the first carries the record.
    steps = [
        govern_step(
            request,
            blueprint,
            state,
            history,
            observed,
            inputs.now,
            lead=lead if index == 0 else None,
            lead_id=lead.id,
            decision=decision,
            authorization=policy_change if request.operation == "scale_within_limits" else None,
        )
        for index, request in enumerate(requests)
    ]
    return progress.settled(inputs, decision=decision, steps=steps)


def decision_requests(decision: Decision) -> list[OperationRequest]:
    """The operations a decision asks for: its scale, then a scale beyond the limits."""

    def scale(operation: str, current: int, target: int) -> OperationRequest:
        return OperationRequest(
            operation=operation,
            service=decision.service,
            origin=Origin.DECISION,
            current_replicas=current,
            target_replicas=target,
            decision_id=decision.id,
        )

    requests = []
    if decision.changes:
        requests.append(
            scale("scale_within_limits", decision.current_replicas, decision.target_replicas)
        )
    if decision.beyond_limits is not None:
        requests.append(
            scale("scale_beyond_limits", decision.target_replicas, decision.beyond_limits)
        )
    return requests


def paused_decision(inputs: CycleInputs, progress: Progress, paused_by: str) -> Decision:
    """What the engine would decide, reported and not acted on. It gets an id of its own
    (below), so the engine's id, and the salt that makes it unique, are not needed."""
    blueprint, state, now, history = inputs.blueprint, inputs.state, inputs.now, progress.history
    would = decide(
        blueprint,
        state,
        inputs.metrics,
        now=now,
        max_metrics_age=inputs.max_metrics_age,
        avoid=avoid_targets(history, now),
        changes=counted_changes(history.records, blueprint.scaling.behavior, now),
    )
    return replace(
        would,
        id=make_id("dec", now, blueprint.name, "paused", history.fingerprint),
        action=Action.NONE,
        reason=DecisionReason.PAUSED,
        rule=DecisionRule.PAUSE,
        target_replicas=state.replicas,
        desired_replicas=state.replicas,
        expected=None,
        needs_window=False,
        rationale=say(
            Reason(Code.PAUSED_DECISION, {"paused_by": paused_by, "would": would.rationale})
        ),
    )


def held_by_approval(inputs: CycleInputs, history: ServiceHistory) -> Decision | None:
    """A person approved a one-off replica count (a scale to zero, say) and it is still in
    place: the engine does not undo it, not even to bring it back within the bounds. The next
    change to the deployment (a new request, a recovery) ends the hold."""
    blueprint, state, now = inputs.blueprint, inputs.state, inputs.now
    last = history.last(*CHANGE_EVENTS)
    if last is None or not last.links.get("approval"):
        return None
    request = lazy_bodies.request_of(last)
    if request.origin != str(Origin.APPROVAL) or request.target_replicas != state.replicas:
        return None
    authorized = lazy_bodies.body_of(last, lazy_bodies.ExecutionBody).authorized_by or {}
    reference = authorized.get("reference", last.links["approval"])
    return Decision(
        id=make_id("dec", now, blueprint.name, "held", state.replicas, history.fingerprint),
        service=blueprint.name,
        blueprint_version=blueprint.version,
        provenance=blueprint.provenance,
        at=utc(now),
        action=Action.NONE,
        reason=DecisionReason.APPROVED_OVERRIDE,
        current_replicas=state.replicas,
        target_replicas=state.replicas,
        desired_replicas=state.replicas,
        weighted=weighted_utilization(blueprint, inputs.metrics),
        rationale=say(
            Reason(Code.HELD_BY_APPROVAL, {"replicas": state.replicas, "reference": reference})
        ),
        references=("governance.agent_authority.requires_approval",),
        rule=DecisionRule.APPROVAL,
    )


#: The stages of a cycle, in order; the first that settles the cycle ends it, and the last
#: always does.
STAGES: tuple[Stage, ...] = (
    record_unrecorded_change,
    verify_due_changes,
    stop_while_paused,
    open_breaker,
    roll_back_failed_changes,
    wait_for_verification,
    stop_when_verifying_only,
    carry_out_approved_request,
    recover_failing_pods,
    retry_deferred_requests,
    hold_approved_replicas,
    decide_and_govern,
)
