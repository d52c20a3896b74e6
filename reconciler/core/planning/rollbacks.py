"""Rollbacks that failed verifications ask for, retried up to the limit, then escalated."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from reconciler.core.approvals.judging import Authorization, Kind
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
from reconciler.core.planning.notes import fold, what_of
from reconciler.core.planning.outcomes import NoteKind
from reconciler.core.planning.plan import NoteCommit, Step
from reconciler.core.planning.steps import govern_step
from reconciler.core.trail.history import (
    BreakerPhase,
    ServiceHistory,
)
from reconciler.core.trail.records import EventType, Record


def rollback_steps(
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
            govern_step(
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
                subject=f"{blueprint.name}: escalated {what_of(pending.record)}: {briefly}; "
                "a person must decide",
                records=tuple(records),
            )
        )
        history = fold(history, blueprint, records, now)
    return history, notes, steps


def approves(authorization: Authorization, rollback: OperationRequest) -> bool:
    """Whether a granted request is the rollback this cycle would undo a failed change with:
    the same operation, back to the same replicas or revision."""
    return (
        authorization.kind is Kind.REQUEST
        and authorization.operation == rollback.operation
        and authorization.target_replicas == rollback.target_replicas
        and authorization.parameters.get("to_revision") == rollback.parameters.get("to_revision")
    )
