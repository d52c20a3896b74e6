"""The trail as a cycle writes and reads it: records committed unless the run is dry, and a
service's history folded from what the trail holds."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from reconciler.core.blueprint.model import Blueprint
from reconciler.core.decide.verification import VERIFICATION_EVENTS
from reconciler.core.errors import TrailError
from reconciler.core.trail.commits import CommitMessage, commit_message
from reconciler.core.trail.history import (
    BREAKER_EVENTS,
    CHANGE_EVENTS,
    HISTORY_SPAN,
    PAUSE_EVENTS,
    ServiceHistory,
    fold_history,
)
from reconciler.core.trail.records import Record
from reconciler.ports import AuditStore


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


def fold_in(
    history: ServiceHistory, records: Sequence[Record], blueprint: Blueprint, now: datetime
) -> ServiceHistory:
    return fold_history(
        blueprint.name, (*history.records, *records), blueprint.policy.safety.circuit_breaker, now
    )


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


def kept(sha: str | None, records: Sequence[Record]) -> tuple[Record, ...]:
    """The records that were committed (none in a dry run)."""
    return tuple(records) if sha else ()


def commit_records(audit: AuditStore, subject: str, records: Sequence[Record]) -> str:
    """Commit records outside a cycle (a breaker reset, a request)."""
    message: CommitMessage = commit_message(subject, records)
    sha = audit.append(records, message)
    audit.flush()
    return sha
