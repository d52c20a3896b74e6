"""Changes waiting for their verification, read back from the audit trail: what each one
changed, when it is due, and the baseline and expectation it is judged against. A run that
crashed or was cancelled loses nothing, because the trail, not the process, holds them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from reconciler.core.blueprint.model import Blueprint
from reconciler.core.ids import utc
from reconciler.core.trail import lazy_bodies
from reconciler.core.trail.history import CHANGE_EVENTS, ServiceHistory
from reconciler.core.trail.records import EventType, Record

__all__ = [
    "VERIFICATION_EVENTS",
    "Pending",
    "number",
    "pending_from",
    "pending_verifications",
    "stabilization_for",
]

VERIFICATION_EVENTS = frozenset(
    {
        EventType.VERIFICATION_PASSED,
        EventType.VERIFICATION_FAILED,
        EventType.VERIFICATION_SKIPPED,
        EventType.ROLLBACK_VERIFIED,
        EventType.ROLLBACK_VERIFICATION_FAILED,
    }
)

#: Stabilization by operation when it is not the blueprint's own (digest section 7.1).
_STABILIZATION = {"restart_failed_pods": 30.0, "rollback_deployment": 120.0}


def stabilization_for(operation: str | None, blueprint: Blueprint) -> float:
    return _STABILIZATION.get(operation or "", blueprint.scaling.stabilization_period)


@dataclass(frozen=True, kw_only=True)
class Pending:
    """An executed change waiting for its verification (or a rollback waiting for its own)."""

    record: Record
    operation_id: str
    due: datetime
    target_replicas: int | None
    baseline: Mapping[str, Any]
    expected: Mapping[str, Any]
    pre_state: Mapping[str, Any]
    #: For a rollback: the operation it undoes, and which attempt this is.
    reverts: str = ""
    attempt: int = 0

    @property
    def is_rollback(self) -> bool:
        return bool(self.reverts)


def number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def pending_from(record: Record, blueprint: Blueprint) -> Pending:
    done = lazy_bodies.body_of(record, lazy_bodies.ExecutionBody)
    due = done.verification_due or utc(record.timestamp) + timedelta(
        seconds=stabilization_for(record.operation, blueprint)
    )
    return Pending(
        record=record,
        operation_id=record.links.get("operation", record.id),
        due=due,
        target_replicas=done.target_replicas,
        baseline=done.baseline,
        expected=done.expected,
        pre_state=done.pre_operation_state,
        reverts=record.links.get("rollback_of", ""),
        attempt=done.attempt or 0,
    )


def pending_verifications(history: ServiceHistory, blueprint: Blueprint) -> list[Pending]:
    """Changes with no verification yet, oldest first."""
    verified = {
        r.links.get("operation")
        for r in history.records
        if r.event_type in VERIFICATION_EVENTS and r.links.get("operation")
    }
    return [
        pending_from(r, blueprint)
        for r in history.records
        if r.event_type in CHANGE_EVENTS and r.links.get("operation", r.id) not in verified
    ]
