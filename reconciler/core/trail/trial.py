"""What an observe-mode trial would have done, summed up per service from its records.

A trial (`mode: observe`) leaves one `operation_observed` record for each outcome it would
have had; nothing else in the trail comes from it. The summary counts them by what they would
have led to and sets the replicas the cluster actually ran (each record's `current_replicas`)
beside those the reconciler would have set, so a team can judge the rules before letting
them act. Changes the reconciler really made in the same span are counted too: a trial should
show none.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reconciler.core.trail.bodies import observed_of
from reconciler.core.trail.records import EventType, Record

__all__ = ["ReplicaRange", "TrialService", "summarise_trial"]

#: The recorded verdicts, by what the trial would have done with them.
_APPLY = "execute"
_PROPOSE = "request_approval"
_REFUSE = frozenset({"block", "defer"})

#: Changes the reconciler really made: in a trial, there should be none.
_ACTED = frozenset(
    {EventType.OPERATION_EXECUTED, EventType.ROLLBACK_EXECUTED, EventType.APPROVAL_REQUESTED}
)


@dataclass(frozen=True, kw_only=True)
class ReplicaRange:
    low: int
    high: int

    def widened(self, value: int) -> ReplicaRange:
        return ReplicaRange(low=min(self.low, value), high=max(self.high, value))

    def __str__(self) -> str:
        return str(self.low) if self.low == self.high else f"{self.low}-{self.high}"


@dataclass(frozen=True, kw_only=True)
class TrialService:
    """One service's trial: what it would have done, and what the cluster ran meanwhile."""

    service: str
    #: Distinct decisions (or requests) that led to an observed outcome.
    decisions: int = 0
    would_apply: int = 0
    would_propose: int = 0
    #: Blocked or deferred by governance.
    would_refuse: int = 0
    #: The replicas the cluster ran when each outcome was observed.
    ran: ReplicaRange | None = None
    #: The replicas the reconciler would have set: the target of what it would have applied,
    #: else what was running.
    would_run: ReplicaRange | None = None
    #: Changes or proposals the reconciler really made in the span (none in a pure trial).
    acted: int = 0
    first: datetime | None = None
    last: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        def span(value: ReplicaRange | None) -> dict[str, int] | None:
            return None if value is None else {"min": value.low, "max": value.high}

        def iso(moment: datetime | None) -> str | None:
            return None if moment is None else moment.isoformat().replace("+00:00", "Z")

        return {
            "service": self.service,
            "decisions": self.decisions,
            "would_apply": self.would_apply,
            "would_propose": self.would_propose,
            "would_refuse": self.would_refuse,
            "replicas_ran": span(self.ran),
            "replicas_would_run": span(self.would_run),
            "acted": self.acted,
            "first": iso(self.first),
            "last": iso(self.last),
        }


def _widen(current: ReplicaRange | None, value: int | None) -> ReplicaRange | None:
    if value is None:
        return current
    return ReplicaRange(low=value, high=value) if current is None else current.widened(value)


def summarise_trial(records: Iterable[Record]) -> tuple[TrialService, ...]:
    """Per service, sorted by name: only services with an observed outcome are listed."""
    observed: dict[str, list[Record]] = {}
    acted: dict[str, int] = {}
    for record in records:
        if record.event_type is EventType.OPERATION_OBSERVED:
            observed.setdefault(record.service, []).append(record)
        elif record.event_type in _ACTED:
            acted[record.service] = acted.get(record.service, 0) + 1
    summaries = []
    for service in sorted(observed):
        items = sorted(observed[service], key=lambda r: r.timestamp)
        ran: ReplicaRange | None = None
        would_run: ReplicaRange | None = None
        counts = {"apply": 0, "propose": 0, "refuse": 0}
        for record in items:
            body = observed_of(record)
            would = body.would
            current = body.replicas_running
            target = body.request.target_replicas
            if would == _APPLY:
                counts["apply"] += 1
            elif would == _PROPOSE:
                counts["propose"] += 1
            elif would in _REFUSE:
                counts["refuse"] += 1
            ran = _widen(ran, current)
            would_run = _widen(
                would_run, target if would == _APPLY and target is not None else current
            )
        summaries.append(
            TrialService(
                service=service,
                decisions=len({r.links.get("decision") or r.id for r in items}),
                would_apply=counts["apply"],
                would_propose=counts["propose"],
                would_refuse=counts["refuse"],
                ran=ran,
                would_run=would_run,
                acted=acted.get(service, 0),
                first=items[0].timestamp,
                last=items[-1].timestamp,
            )
        )
    return tuple(summaries)
