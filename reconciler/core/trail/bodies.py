"""The details of audit records as types: a dataclass per event type's body, read from the
stored JSON by one tolerant reader (`read_body`) where the trail is read.

A body is written as exactly the object it stands for (the same keys in the same order), so
the audit format does not change. Read back, it keeps the JSON it came from: `audit -o json`
and `explain` show a record as stored, while code reads typed attributes, and an older record
missing a field reads with that field's default. Every event has a body type: those of
decisions, verdicts and changes are in `operation_bodies.py`, of approvals in
`approval_bodies.py`, of requests, rollouts, escalations and the breaker in
`followup_bodies.py`, and the shared base in `body_fields.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from reconciler.core.ids import utc
from reconciler.core.trail.approval_bodies import ApprovalBody
from reconciler.core.trail.body_fields import (
    Body,
    Fields,
    Read,
    body_of,
    read_as,
)
from reconciler.core.trail.followup_bodies import (
    BreakerBody,
    EscalationBody,
    ExpiredRequestBody,
    RequestedBody,
    RolledOutBody,
)
from reconciler.core.trail.operation_bodies import (
    DecisionBody,
    ExecutionBody,
    FailureBody,
    GovernanceBody,
)
from reconciler.core.trail.records import EventType, Record, RecordError
from reconciler.core.trail.request_body import RequestBody

__all__ = [
    "ApprovalBody",
    "Body",
    "BreakerBody",
    "Check",
    "CheckStatus",
    "DecisionBody",
    "EscalationBody",
    "ExecutionBody",
    "ExpiredRequestBody",
    "FailureBody",
    "GovernanceBody",
    "ObservedBody",
    "PauseBody",
    "RefusalBody",
    "RequestBody",
    "RequestedBody",
    "RolledOutBody",
    "Severity",
    "VerificationBody",
    "VerificationOutcome",
    "body_of",
    "observed_of",
    "pause_of",
    "read_body",
    "refusal_of",
    "request_of",
    "verification_of",
]


class Severity(StrEnum):
    """How much a verification check counts: a critical one that got worse rolls back."""

    CRITICAL = "critical"
    HIGH = "high"


class CheckStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


class VerificationOutcome(StrEnum):
    PASSED = "passed"
    #: A target was missed but nothing got worse: kept, and the next decision deals with it.
    PARTIAL = "partial"
    #: Something got worse: rolled back.
    FAILED = "failed"


@dataclass(frozen=True, kw_only=True)
class Check:
    check: str
    severity: Severity
    expected: str
    actual: str
    status: CheckStatus
    baseline: str | None = None
    #: Worse than before the change, beyond noise.
    worse: bool = False
    note: str = ""

    @property
    def triggers_rollback(self) -> bool:
        return (
            self.severity is Severity.CRITICAL and self.status is CheckStatus.FAILED and self.worse
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "severity": str(self.severity),
            "expected": self.expected,
            "actual": self.actual,
            "status": str(self.status),
            "baseline": self.baseline,
            "worse_than_baseline": self.worse,
            "rollback_trigger": self.triggers_rollback,
            "note": self.note,
        }

    @classmethod
    def from_json(cls, raw: object) -> Check:
        fields = Fields(raw, "details.checks[]")
        return cls(
            check=fields.text("check"),
            severity=fields.choice("severity", Severity, Severity.HIGH),
            expected=fields.text("expected", ""),
            actual=fields.text("actual", ""),
            status=fields.choice("status", CheckStatus),
            baseline=fields.optional_text("baseline"),
            worse=fields.flag("worse_than_baseline"),
            note=fields.text("note", ""),
        )


@dataclass(frozen=True, kw_only=True, eq=False)
class VerificationBody(Body):
    """What a verification found about one change (or a rollback): each check, the outcome,
    and what the next cycle needs (the target that failed, the state before the change)."""

    verification_id: str
    operation_id: str
    due: datetime | None
    #: How long after it was due the verification came.
    late_by: float
    outcome: VerificationOutcome
    checks: tuple[Check, ...]
    #: This verification failed a change and asks for its rollback.
    rollback_triggered: bool
    target_replicas: int | None
    pre_operation_state: Mapping[str, Any]
    #: The later change that overtook this one before it could be judged.
    superseded_by: str | None
    #: For a rollback: which attempt it was.
    attempt: int | None
    stored: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    def count(self, status: CheckStatus) -> int:
        return sum(1 for check in self.checks if check.status is status)

    def failed(self) -> list[str]:
        """The names of the checks that failed, in order."""
        return [check.check for check in self.checks if check.status is CheckStatus.FAILED]

    def to_json(self) -> dict[str, Any]:
        return {
            "verification_id": self.verification_id,
            "operation_id": self.operation_id,
            "due": None if self.due is None else utc(self.due).isoformat().replace("+00:00", "Z"),
            "verified_late_by_seconds": self.late_by,
            "outcome": str(self.outcome),
            "checks": [check.to_json() for check in self.checks],
            "summary": {
                "total_checks": len(self.checks),
                "passed": self.count(CheckStatus.PASSED),
                "failed": self.count(CheckStatus.FAILED),
                "skipped": self.count(CheckStatus.SKIPPED),
                "verification_result": str(self.outcome),
            },
            "rollback_triggered": self.rollback_triggered,
            "target_replicas": self.target_replicas,
            "pre_operation_state": dict(self.pre_operation_state),
            "superseded_by": self.superseded_by,
            "attempt": self.attempt,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> VerificationBody:
        fields = Fields(raw, "details")
        checks = raw.get("checks") or []
        if not isinstance(checks, list):
            raise RecordError("field 'details.checks' must be a list")
        state = raw.get("pre_operation_state") or {}
        if not isinstance(state, Mapping):
            raise RecordError("field 'details.pre_operation_state' must be an object")
        return cls(
            verification_id=fields.text("verification_id", ""),
            operation_id=fields.text("operation_id", ""),
            due=fields.moment("due"),
            late_by=fields.number("verified_late_by_seconds") or 0.0,
            outcome=fields.choice("outcome", VerificationOutcome, VerificationOutcome.PASSED),
            checks=tuple(Check.from_json(check) for check in checks),
            rollback_triggered=fields.flag("rollback_triggered"),
            target_replicas=fields.whole("target_replicas"),
            pre_operation_state=dict(state),
            superseded_by=fields.optional_text("superseded_by"),
            attempt=fields.whole("attempt"),
            stored=raw,
        )


@dataclass(frozen=True, kw_only=True, eq=False)
class RefusalBody(Body):
    """A blocked or deferred operation: what was asked, every reason, and when to retry."""

    request: RequestBody = field(metadata=Read.REQUEST)
    reasons: tuple[str, ...] = field(metadata=Read.TEXTS)
    retry_at: datetime | None = field(metadata=Read.MOMENT)
    alternatives: tuple[Mapping[str, Any], ...] = field(metadata=Read.OBJECTS)
    stored: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)


_TEXT_OR_EMPTY = read_as(lambda fields, name: fields.text(name, ""))


@dataclass(frozen=True, kw_only=True, eq=False)
class ObservedBody(Body):
    """Observe mode: what an operation would have led to, and how many replicas ran."""

    observed_by: str = field(metadata=_TEXT_OR_EMPTY)
    would: str = field(metadata=_TEXT_OR_EMPTY)
    replicas_running: int | None = field(metadata=Read.WHOLE)
    request: RequestBody = field(metadata=Read.REQUEST)
    reasons: tuple[str, ...] = field(metadata=Read.TEXTS)
    approvers: tuple[str, ...] = field(metadata=Read.TEXTS)
    retry_at: datetime | None = field(metadata=Read.MOMENT)
    stored: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, kw_only=True, eq=False)
class PauseBody(Body):
    """A pause began (`service_paused`) or ended (`service_resumed`), and what paused it."""

    paused_by: str | None = field(metadata=Read.TEXT)
    stored: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)


def request_of(record: Record) -> RequestBody:
    """The request a record is about (empty when it names none), whether the record was read
    from the trail or made by this run."""
    details = record.details
    request = getattr(details, "request", None)
    if isinstance(request, RequestBody):
        return request
    return RequestBody.from_json(details.get("request"))  # plain details: made by this run


def refusal_of(record: Record) -> RefusalBody:
    details = record.details
    return details if isinstance(details, RefusalBody) else RefusalBody.from_json(details)


def observed_of(record: Record) -> ObservedBody:
    details = record.details
    return details if isinstance(details, ObservedBody) else ObservedBody.from_json(details)


def pause_of(record: Record) -> PauseBody:
    details = record.details
    return details if isinstance(details, PauseBody) else PauseBody.from_json(details)


#: The body type of each event (a test checks that every event has one).
_READERS: Mapping[EventType, Callable[[Mapping[str, Any]], Body]] = {
    EventType.VERIFICATION_PASSED: VerificationBody.from_json,
    EventType.VERIFICATION_FAILED: VerificationBody.from_json,
    EventType.VERIFICATION_SKIPPED: VerificationBody.from_json,
    EventType.ROLLBACK_VERIFIED: VerificationBody.from_json,
    EventType.ROLLBACK_VERIFICATION_FAILED: VerificationBody.from_json,
    EventType.OPERATION_BLOCKED: RefusalBody.from_json,
    EventType.OPERATION_DEFERRED: RefusalBody.from_json,
    EventType.OPERATION_OBSERVED: ObservedBody.from_json,
    EventType.SERVICE_PAUSED: PauseBody.from_json,
    EventType.SERVICE_RESUMED: PauseBody.from_json,
    EventType.DECISION_MADE: DecisionBody.from_json,
    EventType.GOVERNANCE_CHECKED: GovernanceBody.from_json,
    EventType.OPERATION_EXECUTED: ExecutionBody.from_json,
    EventType.ROLLBACK_EXECUTED: ExecutionBody.from_json,
    EventType.OPERATION_RECOVERED: ExecutionBody.from_json,
    EventType.OPERATION_FAILED: FailureBody.from_json,
    EventType.ROLLBACK_FAILED: FailureBody.from_json,
    **{event: ApprovalBody.from_json for event in EventType if event.startswith("approval_")},
    EventType.OPERATION_REQUESTED: RequestedBody.from_json,
    EventType.REQUEST_EXPIRED: ExpiredRequestBody.from_json,
    EventType.ROLLED_OUT: RolledOutBody.from_json,
    EventType.ESCALATED: EscalationBody.from_json,
    EventType.BREAKER_OPENED: BreakerBody.from_json,
    EventType.BREAKER_RESET: BreakerBody.from_json,
    EventType.BREAKER_HALF_OPENED: BreakerBody.from_json,
}


def verification_of(record: Record) -> VerificationBody:
    """The body of a verification record (read from the trail, made by this run, or built by
    hand with plain details, as a test may)."""
    details = record.details
    return details if isinstance(details, VerificationBody) else VerificationBody.from_json(details)


def read_body(event: EventType, raw: Mapping[str, Any]) -> Body:
    """The details of an `event` record as its body type; RecordError naming the field when a
    field the body needs has the wrong type."""
    return _READERS[event](raw)
