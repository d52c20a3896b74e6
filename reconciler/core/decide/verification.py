"""Verification: did a change do what it should, and did it make anything worse?

Verification is two-phase, so a scheduled job never has to sit through a stabilization period:
each executed change records when it is due (`executed_at + stabilization`), and every cycle
verifies what is due, reading the pending work from the audit trail. A run that crashed or was
cancelled loses nothing: the next run finds the unverified change and verifies it.

Each check has a severity and is compared both with its target and with the pre-change
baseline. The outcome follows one rule: a change that missed a target but made nothing worse is
kept (the next decision deals with it); a change that made latency, errors or pod health worse
is rolled back. Rollbacks are changes too: they are verified, a failed one is retried up to
three times, and then a person is asked (and the circuit breaker opens).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from reconciler.core.blueprint.catalogue import ROLLBACK_OWN_CHANGE
from reconciler.core.blueprint.model import Blueprint
from reconciler.core.decide.checks import verification_checks
from reconciler.core.decide.governance import OperationRequest, Origin
from reconciler.core.decide.pending import (
    VERIFICATION_EVENTS,
    Pending,
    pending_from,
    pending_verifications,
    stabilization_for,
)
from reconciler.core.ids import make_id, utc
from reconciler.core.observed.observation import DeploymentState, Metrics
from reconciler.core.trail import lazy_bodies
from reconciler.core.trail.codes import Code
from reconciler.core.trail.history import CHANGE_EVENTS, ServiceHistory
from reconciler.core.trail.records import EventType, Outcome, Record
from reconciler.core.trail.verification_wording import Missed
from reconciler.core.trail.wording import Reason, say

if TYPE_CHECKING:
    from reconciler.core.trail.bodies import Check, VerificationOutcome

__all__ = [
    "MAX_ROLLBACK_ATTEMPTS",
    "SETTLE_GRACE",
    "VERIFICATION_EVENTS",
    "Pending",
    "Verification",
    "avoid_targets",
    "pending_verifications",
    "rollback_work",
    "stabilization_for",
    "still_starting",
    "too_late",
    "verify",
]

MAX_ROLLBACK_ATTEMPTS = 3
#: How long a rolled-back target is not tried again.
FAILED_TARGET_MEMORY = timedelta(hours=1)
#: A change verified later than this after it was due is not verified at all (see too_late).
LATE_LIMIT = timedelta(hours=1)
#: How long past its due time a verification waits for pods that are still starting.
SETTLE_GRACE = timedelta(minutes=2)


@dataclass(frozen=True, kw_only=True)
class Verification:
    id: str
    at: datetime
    pending: Pending
    checks: tuple[Check, ...]
    outcome: VerificationOutcome
    summary: str
    superseded_by: str = ""
    #: Set when the change could not be judged at all (overtaken, or checked too late).
    skipped: bool = False

    @property
    def rollback(self) -> bool:
        return self.outcome is lazy_bodies.VerificationOutcome.FAILED


def verify(
    pending: Pending,
    blueprint: Blueprint,
    state: DeploymentState,
    metrics: Metrics,
    now: datetime,
) -> Verification:
    """Check the service now against the change's targets and its pre-change baseline."""
    checks = verification_checks(pending, blueprint, state, metrics)
    outcome = _outcome(checks)
    return Verification(
        id=make_id("ver", now, blueprint.name, pending.operation_id),
        at=utc(now),
        pending=pending,
        checks=checks,
        outcome=outcome,
        summary=_summary(checks, outcome, pending.is_rollback),
    )


def _summary(checks: Sequence[Check], outcome: VerificationOutcome, rollback: bool) -> str:
    """`5/6 checks passed; failed: ...; the change is kept.`: the counts, each failed check
    with what was expected, and what the outcome means for the change."""
    failed = [
        Missed(check=c.check, actual=c.actual, expected=c.expected, worse=c.worse)
        for c in checks
        if c.status is lazy_bodies.CheckStatus.FAILED
    ]
    found = {
        "passed": sum(1 for c in checks if c.status is lazy_bodies.CheckStatus.PASSED),
        "total": len(checks),
        "skipped": sum(1 for c in checks if c.status is lazy_bodies.CheckStatus.SKIPPED),
        "failed": failed,
        "outcome": outcome,
        "rollback": rollback,
    }
    return say(Reason(Code.VERIFICATION_SUMMARY, found))


def _outcome(checks: Sequence[Check]) -> VerificationOutcome:
    if any(c.triggers_rollback for c in checks):
        return lazy_bodies.VerificationOutcome.FAILED
    if any(c.status is lazy_bodies.CheckStatus.FAILED for c in checks):
        return lazy_bodies.VerificationOutcome.PARTIAL
    return lazy_bodies.VerificationOutcome.PASSED


def _unverifiable(
    pending: Pending, blueprint: Blueprint, now: datetime, summary: str, superseded_by: str = ""
) -> Verification:
    """A change that cannot be judged: recorded as skipped, kept, and left to the next
    decision."""
    return Verification(
        id=make_id("ver", now, blueprint.name, pending.operation_id),
        at=utc(now),
        pending=pending,
        checks=(),
        outcome=lazy_bodies.VerificationOutcome.PARTIAL,
        summary=summary,
        superseded_by=superseded_by,
        skipped=True,
    )


def superseded(pending: Pending, by: str, blueprint: Blueprint, now: datetime) -> Verification:
    """A change overtaken by a later one before its verification was due: not verifiable."""
    return _unverifiable(
        pending,
        blueprint,
        now,
        say(Reason(Code.NOT_VERIFIED_SUPERSEDED, {"by": by})),
        superseded_by=by,
    )


def still_starting(pending: Pending, state: DeploymentState, now: datetime) -> int:
    """How many pods are still starting, when the verification should wait for them.

    A change that rolls pods (a restart, new requests, a rollback to another revision) is not
    done while its new pods start, and a slow start is not a failure: judging it then would
    roll back a change that works. So a due verification waits while some pods are neither
    ready nor failing (no reason such as CrashLoopBackOff), up to SETTLE_GRACE past its due
    time; after that, pods that never became ready count against the change as usual.
    """
    if utc(now) - pending.due >= SETTLE_GRACE:
        return 0
    return sum(1 for pod in state.pods if not pod.ready and not pod.reason)


def too_late(pending: Pending, blueprint: Blueprint, now: datetime) -> Verification | None:
    """A change whose verification comes more than LATE_LIMIT after it was due, or None.

    After a long gap without runs (an outage of the scheduler, say) the service has had time
    to change for reasons of its own: comparing it with the baseline from before the change
    would blame, or credit, the change for whatever happened since. So the change is recorded
    as not verifiable, and the next decision works from the service as it is. Rollbacks are
    always verified: they restore a state that was known to work.
    """
    late = utc(now) - pending.due
    if pending.is_rollback or late <= LATE_LIMIT:
        return None
    return _unverifiable(
        pending,
        blueprint,
        now,
        say(Reason(Code.NOT_VERIFIED_TOO_LATE, {"due": pending.due, "late": late.total_seconds()})),
    )


def verification_record(verification: Verification, blueprint: Blueprint) -> Record:
    pending = verification.pending
    rollback = pending.is_rollback
    if verification.skipped:
        event, outcome = EventType.VERIFICATION_SKIPPED, Outcome.SKIPPED
    elif verification.outcome is lazy_bodies.VerificationOutcome.FAILED:
        event = (
            EventType.ROLLBACK_VERIFICATION_FAILED if rollback else EventType.VERIFICATION_FAILED
        )
        outcome = Outcome.FAILED
    else:
        event = EventType.ROLLBACK_VERIFIED if rollback else EventType.VERIFICATION_PASSED
        outcome = (
            Outcome.PASSED
            if verification.outcome is lazy_bodies.VerificationOutcome.PASSED
            else Outcome.PARTIAL
        )
    links = {
        "operation": pending.operation_id,
        "verification": verification.id,
        **{
            k: v
            for k, v in pending.record.links.items()
            if k in {"decision", "governance", "rollback_of"}
        },
    }
    return Record(
        id=verification.id,
        timestamp=verification.at,
        event_type=event,
        service=blueprint.name,
        blueprint_version=blueprint.version,
        provenance=blueprint.provenance,
        outcome=outcome,
        rationale=verification.summary,
        operation=pending.record.operation,
        classification=pending.record.classification,
        links=links,
        details=lazy_bodies.VerificationBody(
            verification_id=verification.id,
            operation_id=pending.operation_id,
            due=pending.due,
            late_by=max(0.0, (verification.at - pending.due).total_seconds()),
            outcome=verification.outcome,
            checks=verification.checks,
            rollback_triggered=verification.rollback and not rollback,
            target_replicas=pending.target_replicas,
            pre_operation_state=dict(pending.pre_state),
            superseded_by=verification.superseded_by or None,
            attempt=pending.attempt or None,
        ),
    )


@dataclass(frozen=True, kw_only=True)
class RollbackWork:
    """What the failed verifications of a service still ask for."""

    #: Rollbacks to attempt now: (the failed change's pending record, attempt number).
    rollbacks: tuple[tuple[Pending, int], ...] = ()
    #: Changes whose rollback failed MAX_ROLLBACK_ATTEMPTS times and need a person.
    escalations: tuple[Pending, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)


def rollback_work(history: ServiceHistory, blueprint: Blueprint) -> RollbackWork:
    """From the trail: failed changes still waiting for a (re)tried rollback or a person.

    A failed change needs a rollback until one is verified; a rollback in flight (executed,
    not yet verified) is left to its verification; every failed attempt (refused by the
    cluster, or failed its own verification) counts, and after three a person is asked.
    """
    records = history.records
    by_operation = {
        r.links.get("operation", r.id): r for r in records if r.event_type in CHANGE_EVENTS
    }
    failed = [r for r in records if r.event_type is EventType.VERIFICATION_FAILED]
    rollbacks, escalations = [], []
    for verification in failed:
        original_id = verification.links.get("operation", "")
        original = by_operation.get(original_id)
        if original is None:
            continue
        related = [r for r in records if r.links.get("rollback_of") == original_id]
        if any(r.event_type is EventType.ROLLBACK_VERIFIED for r in related):
            continue
        if any(
            r.event_type is EventType.ESCALATED
            for r in records
            if r.links.get("operation") == original_id
        ):
            continue
        # A rollback recovered from its stamp (its run died before recording it) is in flight
        # just as a recorded one.
        executed = {
            r.links.get("operation")
            for r in related
            if r.event_type in {EventType.ROLLBACK_EXECUTED, EventType.OPERATION_RECOVERED}
        }
        settled = {
            r.links.get("operation")
            for r in related
            if r.event_type in {EventType.ROLLBACK_VERIFIED, EventType.ROLLBACK_VERIFICATION_FAILED}
        }
        if executed - settled:
            continue  # a rollback is in flight; its verification decides
        attempts = sum(
            1
            for r in related
            if r.event_type in {EventType.ROLLBACK_FAILED, EventType.ROLLBACK_VERIFICATION_FAILED}
        )
        pending = pending_from(original, blueprint)
        if attempts >= MAX_ROLLBACK_ATTEMPTS:
            escalations.append(pending)
        else:
            rollbacks.append((pending, attempts + 1))
    return RollbackWork(rollbacks=tuple(rollbacks), escalations=tuple(escalations))


def rollback_request(
    pending: Pending, attempt: int, blueprint: Blueprint, state: DeploymentState, reason: str
) -> OperationRequest:
    """Undo a change: scale back to the replicas it started from, or return to its revision."""
    pre_replicas = pending.pre_state.get("replicas")
    scale = pending.target_replicas is not None and isinstance(pre_replicas, int)
    pre_revision = pending.pre_state.get("revision")
    return OperationRequest(
        operation=ROLLBACK_OWN_CHANGE,
        service=blueprint.name,
        origin=Origin.ROLLBACK,
        current_replicas=state.replicas if scale else None,
        target_replicas=int(pre_replicas) if scale else None,  # type: ignore[arg-type]
        reverts=pending.operation_id,
        reason=reason,
        parameters={
            "attempt": attempt,
            **(
                {"to_revision": pre_revision} if not scale and isinstance(pre_revision, int) else {}
            ),
        },
    )


def escalation_record(pending: Pending, blueprint: Blueprint, now: datetime) -> Record:
    return Record(
        id=make_id("esc", now, blueprint.name, pending.operation_id),
        timestamp=utc(now),
        event_type=EventType.ESCALATED,
        service=blueprint.name,
        blueprint_version=blueprint.version,
        provenance=blueprint.provenance,
        outcome=Outcome.PENDING,
        rationale=say(
            Reason(
                Code.ROLLBACK_ESCALATED,
                {"operation_id": pending.operation_id, "attempts": MAX_ROLLBACK_ATTEMPTS},
            )
        ),
        operation=pending.record.operation,
        links={
            "operation": pending.operation_id,
            **{k: v for k, v in pending.record.links.items() if k == "decision"},
        },
        details={"attempts": MAX_ROLLBACK_ATTEMPTS, "pre_operation_state": dict(pending.pre_state)},
    )


def avoid_targets(history: ServiceHistory, now: datetime) -> dict[int, str]:
    """Replica counts that were rolled back recently, so the engine does not repeat them."""
    avoid: dict[int, str] = {}
    for record in history.records:
        if record.event_type is not EventType.VERIFICATION_FAILED:
            continue
        if utc(now) - utc(record.timestamp) > FAILED_TARGET_MEMORY:
            continue
        target = lazy_bodies.verification_of(record).target_replicas
        if target is not None:
            until = utc(record.timestamp) + FAILED_TARGET_MEMORY
            left = (until - utc(now)).total_seconds()
            avoid[target] = say(
                Reason(
                    Code.TARGET_AVOIDED, {"target": target, "at": record.timestamp, "left": left}
                )
            )
    return avoid
