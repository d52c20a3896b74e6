"""Safety state rebuilt from the audit trail: cooldown, rate limits and the circuit breaker.

Nothing about a service's recent past is kept in memory between runs. Each cycle folds the
service's recent records (plus the latest breaker event, however old) into a `ServiceHistory`.
That makes every run, and every shard of a run, see the same state, and it makes the state
auditable: the breaker is open because of these three records, which anyone can read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from reconciler.core.blueprint.catalogue import ROLLBACK_OWN_CHANGE
from reconciler.core.blueprint.model import CircuitBreakerSettings
from reconciler.core.ids import utc
from reconciler.core.trail.records import EventType, Record

__all__ = ["BreakerPhase", "BreakerState", "ServiceHistory", "fold_history"]

#: How far back a cycle reads a service's history: the longest window any check needs.
HISTORY_SPAN = timedelta(hours=24)

#: Events that are changes to the cluster; the latest one starts the cooldown.
CHANGE_EVENTS = frozenset(
    {EventType.OPERATION_EXECUTED, EventType.OPERATION_RECOVERED, EventType.ROLLBACK_EXECUTED}
)
#: Events that count toward the circuit breaker.
FAILURE_EVENTS = frozenset(
    {
        EventType.OPERATION_FAILED,
        EventType.VERIFICATION_FAILED,
        EventType.ROLLBACK_FAILED,
        EventType.ROLLBACK_VERIFICATION_FAILED,
    }
)
#: Events that prove a change worked; any of them clears the failure count.
SUCCESS_EVENTS = frozenset({EventType.VERIFICATION_PASSED})
BREAKER_EVENTS = frozenset(
    {EventType.BREAKER_OPENED, EventType.BREAKER_RESET, EventType.BREAKER_HALF_OPENED}
)
#: A pause and its end: recorded once each, when the pause begins and when it ends.
PAUSE_EVENTS = frozenset({EventType.SERVICE_PAUSED, EventType.SERVICE_RESUMED})


class BreakerPhase(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, kw_only=True)
class BreakerState:
    phase: BreakerPhase
    #: Failures since the last success or reset, oldest first, as (time, record id, why).
    failures: tuple[tuple[datetime, str, str], ...] = ()
    opened_at: datetime | None = None
    #: True when the recorded failures reach the threshold and no breaker_opened exists yet.
    should_open: bool = False

    def describe(self, settings: CircuitBreakerSettings) -> str:
        if self.phase is BreakerPhase.OPEN:
            since = f" since {self.opened_at:%Y-%m-%d %H:%M:%SZ}" if self.opened_at else ""
            return f"open{since}"
        return f"{self.phase} ({len(self.failures)}/{settings.failure_threshold} failures)"


@dataclass(frozen=True, kw_only=True)
class ServiceHistory:
    service: str
    records: tuple[Record, ...]
    last_change_at: datetime | None
    #: Executed changes that count toward the rate limits (rollbacks do not).
    counted_changes: tuple[datetime, ...]
    breaker: BreakerState
    operation_ids: frozenset[str] = field(default_factory=frozenset)

    def changes_within(self, now: datetime, seconds: float) -> tuple[datetime, ...]:
        start = utc(now) - timedelta(seconds=seconds)
        return tuple(at for at in self.counted_changes if at > start)

    @property
    def fingerprint(self) -> str:
        """A digest of every record id in the history. Ids made with it differ from the ids of
        any record already there, so two cycles (or a request and a cycle) in the same second
        never share a record id; the order of records within one second does not matter."""
        ids = "\n".join(sorted(record.id for record in self.records))
        return hashlib.sha256(ids.encode()).hexdigest()[:12]

    def last(self, *events: EventType) -> Record | None:
        for record in reversed(self.records):
            if record.event_type in events:
                return record
        return None


def _windowed_max(times: list[datetime], window: float) -> int:
    """The most failures that fall within any `window` seconds."""
    best, start = 0, 0
    for end, moment in enumerate(times):
        while (moment - times[start]).total_seconds() > window:
            start += 1
        best = max(best, end - start + 1)
    return best


def fold_history(
    service: str,
    records: Iterable[Record],
    breaker_settings: CircuitBreakerSettings,
    now: datetime,
) -> ServiceHistory:
    """Fold a service's records (any order, any age) into the state the checks need."""
    ordered = tuple(sorted((r for r in records if r.service == service), key=Record.sort_key))
    last_change: datetime | None = None
    counted: list[datetime] = []
    for record in ordered:
        if record.event_type in CHANGE_EVENTS:
            last_change = utc(record.timestamp)
            if (
                record.event_type is not EventType.ROLLBACK_EXECUTED
                and record.operation != ROLLBACK_OWN_CHANGE
            ):
                counted.append(last_change)
    return ServiceHistory(
        service=service,
        records=ordered,
        last_change_at=last_change,
        counted_changes=tuple(counted),
        breaker=_fold_breaker(ordered, breaker_settings, utc(now)),
        operation_ids=frozenset(
            r.links.get("operation", r.id) for r in ordered if r.event_type in CHANGE_EVENTS
        ),
    )


def _fold_breaker(
    ordered: Sequence[Record], breaker_settings: CircuitBreakerSettings, now: datetime
) -> BreakerState:
    """The circuit breaker's phase from the records in order: failures open it once they
    reach the threshold within the window, a success or a reset closes it, and without manual
    resets an open breaker half-opens after reset_timeout."""
    failures: list[tuple[datetime, str, str]] = []
    phase = BreakerPhase.CLOSED
    opened_at: datetime | None = None
    for record in ordered:
        at = utc(record.timestamp)
        event = record.event_type
        if event in FAILURE_EVENTS:
            failures.append((at, record.id, record.rationale))
            if phase is BreakerPhase.HALF_OPEN:
                phase, opened_at = BreakerPhase.OPEN, at
        elif event in SUCCESS_EVENTS:
            failures = []
            if phase is BreakerPhase.HALF_OPEN:
                phase, opened_at = BreakerPhase.CLOSED, None
        elif event is EventType.BREAKER_OPENED:
            phase, opened_at = BreakerPhase.OPEN, at
        elif event is EventType.BREAKER_RESET:
            phase, opened_at, failures = BreakerPhase.CLOSED, None, []
        elif event is EventType.BREAKER_HALF_OPENED:
            phase = BreakerPhase.HALF_OPEN
    if (
        phase is BreakerPhase.OPEN
        and opened_at is not None
        and not breaker_settings.manual_reset_required
        and (now - opened_at).total_seconds() >= breaker_settings.reset_timeout
    ):
        # Without manual resets, an open breaker lets one trial operation through after
        # reset_timeout; its verification closes or re-opens it.
        phase = BreakerPhase.HALF_OPEN
    should_open = (
        phase is BreakerPhase.CLOSED
        and _windowed_max([f[0] for f in failures], breaker_settings.failure_window)
        >= breaker_settings.failure_threshold
    )
    return BreakerState(
        phase=phase, failures=tuple(failures), opened_at=opened_at, should_open=should_open
    )
