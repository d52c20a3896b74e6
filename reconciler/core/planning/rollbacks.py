"""Rollbacks that failed verifications ask for, retried up to the limit, then escalated."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from reconciler.core.approvals.authorization import Authorization
from reconciler.core.approvals.lifecycle import Kind
from reconciler.core.blueprint.model import Blueprint
from reconciler.core.decide.governance import (
    OperationRequest,
)
from reconciler.core.decide.verification import (
    Pending,
    escalation_record,
    rollback_request,
    rollback_work,
)
from reconciler.core.observed.observation import (
    DeploymentState,
)
from reconciler.core.planning.events import (
    breaker_opened_record,
)
from reconciler.core.planning.notes import (
    fold,
)
from reconciler.core.planning.outcomes import NoteKind
from reconciler.core.planning.plan import NoteCommit, Step
from reconciler.core.planning.steps import govern_step
from reconciler.core.planning.subjects import (
    escalated_subject,
    what_of,
)
from reconciler.core.trail.history import (
    BreakerPhase,
    ServiceHistory,
)
from reconciler.core.trail.records import EventType, Record
from reconciler.core.trail.wording import Code, Reason, brief, say


def rollback_steps(
    blueprint: Blueprint,
    state: DeploymentState,
    history: ServiceHistory,
    observed: Mapping[str, float | None],
    now: datetime,
) -> tuple[ServiceHistory, list[NoteCommit], list[Step]]:
    """Rollbacks that failed verifications ask for, retried up to the limit, then escalated."""
    work = rollback_work(history, blueprint)
    steps: list[Step] = []
    #: The failed changes a person must decide on, and why.
    escalate: list[tuple[Pending, Reason]] = [
        (pending, Reason(Code.ROLLBACK_FAILED_REPEATEDLY)) for pending in work.escalations
    ]
    for pending, attempt in work.rollbacks:
        planned = _rollback(pending, attempt, blueprint, state, history, observed, now)
        if isinstance(planned, Reason):
            escalate.append((pending, planned))
        else:
            steps.append(planned)
    notes = []
    for pending, reason in escalate:
        note = _escalation(pending, reason, blueprint, history, now)
        notes.append(note)
        history = fold(history, blueprint, note.records, now)
    return history, notes, steps


def _rollback(
    pending: Pending,
    attempt: int,
    blueprint: Blueprint,
    state: DeploymentState,
    history: ServiceHistory,
    observed: Mapping[str, float | None],
    now: datetime,
) -> Step | Reason:
    """The rollback of one failed change, governed; or why a person must decide instead."""
    if not blueprint.reliability.rollback_on_failure:
        return Reason(Code.ROLLBACK_DISABLED, {"operation_id": pending.operation_id})
    failed = next(
        (
            r
            for r in reversed(history.records)
            if r.event_type is EventType.VERIFICATION_FAILED
            and r.links.get("operation") == pending.operation_id
        ),
        None,
    )
    reason = f"undo {pending.operation_id}: {failed.rationale if failed else 'verification failed'}"
    request = rollback_request(pending, attempt, blueprint, state, reason)
    back = (
        request.target_replicas == state.replicas
        if request.target_replicas is not None
        else (request.parameters.get("to_revision") == state.revision)
    )
    if attempt > 1 and back:
        # An earlier rollback already put it back and the service still fails its checks:
        # undoing again would change nothing, so the change was not the (only) cause.
        return Reason(Code.ROLLED_BACK_STILL_FAILING, {"operation_id": pending.operation_id})
    return govern_step(
        request,
        blueprint,
        state,
        history,
        observed,
        now,
        lead=None,
        lead_id=failed.id if failed else pending.operation_id,
        decision=None,
    )


def _escalation(
    pending: Pending, reason: Reason, blueprint: Blueprint, history: ServiceHistory, now: datetime
) -> NoteCommit:
    """A failed change handed to a person: the escalation, and the breaker opened with it."""
    record = escalation_record(pending, blueprint, now)
    why = say(reason)
    if why:
        record = replace(record, rationale=why)
    records: list[Record] = [record]
    if history.breaker.phase is not BreakerPhase.OPEN:
        records.append(
            breaker_opened_record(blueprint.name, blueprint, history.breaker.failures, now)
        )
    return NoteCommit(
        kind=NoteKind.ESCALATED,
        subject=escalated_subject(blueprint.name, what_of(pending.record), brief(reason)),
        records=tuple(records),
    )


def approves(authorization: Authorization, rollback: OperationRequest) -> bool:
    """Whether a granted request is the rollback this cycle would undo a failed change with:
    the same operation, back to the same replicas or revision."""
    return (
        authorization.kind is Kind.REQUEST
        and authorization.operation == rollback.operation
        and authorization.target_replicas == rollback.target_replicas
        and authorization.parameters.get("to_revision") == rollback.parameters.get("to_revision")
    )
