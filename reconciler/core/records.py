"""Audit records: one envelope for every event, its file name, and its commit message.

Every event that changes something, or refuses to, becomes one JSON file under `audit/` and is
committed to git. The envelope carries the seed's fields (timestamp, event_type, service,
blueprint_version, operation, classification, rationale, outcome, duration) plus `links`, the
ids that chain a decision to its verdict, its operation, its verification and any rollback, so
`reconciler explain` can follow the chain and `git log` can be searched by trailer.

File layout: `audit/<service>/<YYYY-MM-DD>/<HHMMSS>-<event_type>-<id>.json`. Each record is a
new file with a unique name, so two writers never touch the same path and their commits
always rebase cleanly; a cycle that needs the last day of one service's history reads one or
two directories.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from reconciler.core.ids import utc

__all__ = [
    "AUDIT_DIR",
    "CommitMessage",
    "EventType",
    "Outcome",
    "Record",
    "record_path",
]

AUDIT_DIR = "audit"


class EventType(StrEnum):
    """The closed set of events. Their order here is their order within one instant: a cycle
    first records what it found (a recovered change, due verifications), then decides,
    governs and acts, and last what followed (approvals, escalations, the breaker)."""

    OPERATION_RECOVERED = "operation_recovered"
    VERIFICATION_PASSED = "verification_passed"
    VERIFICATION_FAILED = "verification_failed"
    VERIFICATION_SKIPPED = "verification_skipped"
    ROLLBACK_VERIFIED = "rollback_verified"
    ROLLBACK_VERIFICATION_FAILED = "rollback_verification_failed"
    DECISION_MADE = "decision_made"
    OPERATION_REQUESTED = "operation_requested"
    GOVERNANCE_CHECKED = "governance_checked"
    OPERATION_EXECUTED = "operation_executed"
    OPERATION_FAILED = "operation_failed"
    OPERATION_BLOCKED = "operation_blocked"
    OPERATION_DEFERRED = "operation_deferred"
    ROLLBACK_EXECUTED = "rollback_executed"
    ROLLBACK_FAILED = "rollback_failed"
    APPROVAL_REQUESTED = "approval_requested"
    APPROVAL_UPDATED = "approval_updated"
    APPROVAL_GRANTED = "approval_granted"
    APPROVAL_REJECTED = "approval_rejected"
    APPROVAL_EXPIRED = "approval_expired"
    APPROVAL_SUPERSEDED = "approval_superseded"
    APPROVAL_REFUSED = "approval_refused"
    ESCALATED = "escalated"
    BREAKER_OPENED = "breaker_opened"
    BREAKER_RESET = "breaker_reset"
    BREAKER_HALF_OPENED = "breaker_half_opened"


_EVENT_ORDER = {event: index for index, event in enumerate(EventType)}


class Outcome(StrEnum):
    DECIDED = "decided"
    EXECUTE = "execute"
    REQUEST_APPROVAL = "request_approval"
    BLOCK = "block"
    DEFER = "defer"
    SUCCESS = "success"
    FAILURE = "failure"
    BLOCKED = "blocked"
    DEFERRED = "deferred"
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"
    REFUSED = "refused"
    PASSED = "passed"
    PARTIAL = "partial"
    FAILED = "failed"
    SKIPPED = "skipped"
    OPENED = "opened"
    RESET = "reset"
    RECOVERED = "recovered"


@dataclass(frozen=True, kw_only=True)
class Record:
    """One audit event. `details` holds the event's own body (decision, verdict, checks...)."""

    id: str
    timestamp: datetime
    event_type: EventType
    service: str
    blueprint_version: str
    outcome: Outcome
    rationale: str
    operation: str | None = None
    classification: str | None = None
    duration_seconds: float | None = None
    links: Mapping[str, str] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)
    agent: str = "reconciler"

    def sort_key(self) -> tuple[datetime, int, str]:
        return (self.timestamp, _EVENT_ORDER[self.event_type], self.id)

    def linked_ids(self) -> set[str]:
        return {self.id, *self.links.values()}

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "timestamp": utc(self.timestamp).isoformat().replace("+00:00", "Z"),
            "event_type": str(self.event_type),
            "agent_id": self.agent,
            "service": self.service,
            "blueprint_version": self.blueprint_version,
            "operation": self.operation,
            "classification": self.classification,
            "outcome": str(self.outcome),
            "rationale": self.rationale,
            "duration_seconds": self.duration_seconds,
            "links": dict(self.links),
            "details": self.details,
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=False, default=_default) + "\n"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Record:
        return cls(
            id=data["id"],
            timestamp=datetime.fromisoformat(data["timestamp"].replace("Z", "+00:00")),
            event_type=EventType(data["event_type"]),
            agent=data.get("agent_id", "reconciler"),
            service=data["service"],
            blueprint_version=data.get("blueprint_version", ""),
            operation=data.get("operation"),
            classification=data.get("classification"),
            outcome=Outcome(data["outcome"]),
            rationale=data.get("rationale", ""),
            duration_seconds=data.get("duration_seconds"),
            links=data.get("links") or {},
            details=data.get("details") or {},
        )


def _default(value: object) -> object:
    if isinstance(value, datetime):
        return utc(value).isoformat().replace("+00:00", "Z")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"cannot record {type(value).__name__} in an audit record")


def record_path(record: Record) -> str:
    """Where a record lives, relative to the repository root."""
    moment = utc(record.timestamp)
    return (
        f"{AUDIT_DIR}/{record.service}/{moment:%Y-%m-%d}/"
        f"{moment:%H%M%S}-{record.event_type}-{record.id}.json"
    )


_EVENTS_BY_NAME = {str(event): event for event in EventType}


def parse_record_name(name: str) -> tuple[str, EventType, str] | None:
    """`153000-decision_made-dec-....json` → ("153000", DECISION_MADE, "dec-..."), or None.

    Event names use underscores and never hyphens, so two splits take the name apart; this
    runs for every file a cycle lists, so it stays a split and a dictionary lookup.
    """
    if not name.endswith(".json"):
        return None
    parts = name[: -len(".json")].split("-", 2)
    if len(parts) != 3:
        return None
    event = _EVENTS_BY_NAME.get(parts[1])
    return None if event is None else (parts[0], event, parts[2])


@dataclass(frozen=True, kw_only=True)
class CommitMessage:
    """A subject a person reads in `git log --oneline`, a body, and trailers for machines."""

    subject: str
    body: str
    trailers: Mapping[str, str]

    def render(self) -> str:
        trailer_text = "\n".join(f"{key}: {value}" for key, value in self.trailers.items())
        parts = [self.subject.strip()]
        if self.body.strip():
            parts.append(self.body.strip())
        parts.append(trailer_text)
        return "\n\n".join(parts) + "\n"


TRAILER_PREFIX = "Reconciler-"


def commit_message(subject: str, records: Sequence[Record]) -> CommitMessage:
    """Subject given by the caller (it knows the story); body and trailers from the records."""
    ordered = sorted(records, key=Record.sort_key)
    lines = []
    for record in ordered:
        lines.append(f"{record.event_type} {record.id}: {record.rationale}".strip())
    last = ordered[-1]
    trailers: dict[str, str] = {
        f"{TRAILER_PREFIX}Event": str(last.event_type),
        f"{TRAILER_PREFIX}Service": last.service,
        f"{TRAILER_PREFIX}Blueprint-Version": last.blueprint_version or "-",
    }
    for link in ("decision", "governance", "operation", "verification", "rollback", "approval"):
        value = next((r.links.get(link) for r in ordered if r.links.get(link)), None)
        if value:
            trailers[f"{TRAILER_PREFIX}{link.capitalize()}"] = value
    if last.classification:
        trailers[f"{TRAILER_PREFIX}Classification"] = last.classification
    trailers[f"{TRAILER_PREFIX}Outcome"] = str(last.outcome)
    trailers[f"{TRAILER_PREFIX}Records"] = str(len(ordered))
    return CommitMessage(
        subject=subject, body="\n\n".join(_wrap(line) for line in lines), trailers=trailers
    )


def _wrap(text: str, width: int = 78) -> str:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        lines.append(line)
    return "\n".join(lines)
