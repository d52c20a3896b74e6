"""How far `spec.scaling.behavior` lets replicas move now, from the changes the trail records.

A rate policy limits the change within any period, not per step: `Pods 4 per 15s` means that
after adding 3 pods ten seconds ago only one more may be added until that change leaves the
period. So the limit starts from the replicas the period began with (now, less what the
executed changes within it added, plus what they removed), as a HorizontalPodAutoscaler
counts, and the changes come from the audit trail, never from process memory: every run and
every shard sees the same limit, and anyone can read why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from reconciler.core.blueprint.model import (
    Behavior,
    PolicyType,
    RatePolicy,
    ScalingRules,
    SelectPolicy,
)
from reconciler.core.ids import utc
from reconciler.core.trail import lazy_bodies
from reconciler.core.trail.history import CHANGE_EVENTS
from reconciler.core.trail.records import Record

__all__ = ["Limit", "ScaleEvent", "counted_changes", "down_limit", "scale_events", "up_limit"]


@dataclass(frozen=True, kw_only=True)
class ScaleEvent:
    """One executed change of replicas, as the trail recorded it."""

    at: datetime
    before: int
    after: int


@dataclass(frozen=True, kw_only=True)
class Limit:
    """The most (scale-up) or fewest (scale-down) replicas the behavior allows now."""

    replicas: int
    #: The policy that set the limit; None when the direction is Disabled.
    policy: RatePolicy | None
    #: Replicas at the start of that policy's period.
    start: int


def _replicas(state: Mapping[str, Any], asked: int | None) -> int | None:
    """The replicas a change's state names, else those its request does."""
    value = state.get("replicas")
    if value is None:
        value = asked
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def scale_events(records: Iterable[Record]) -> tuple[ScaleEvent, ...]:
    """Every executed change in `records` that moved the replicas, oldest first."""
    events = []
    for record in records:
        if record.event_type not in CHANGE_EVENTS:
            continue
        done = lazy_bodies.body_of(record, lazy_bodies.ExecutionBody)
        before = _replicas(done.pre_operation_state, done.request.current_replicas)
        after = _replicas(done.post_operation_state, done.request.target_replicas)
        if before is not None and after is not None and before != after:
            events.append(ScaleEvent(at=utc(record.timestamp), before=before, after=after))
    return tuple(sorted(events, key=lambda e: e.at))


def counted_changes(
    records: Iterable[Record], behavior: Behavior | None, now: datetime
) -> tuple[ScaleEvent, ...]:
    """The executed changes a blueprint's rate policies can count now: none without a
    `behavior` (the step settings alone limit a change), else those within its longest
    period. A period counts only the changes after its start (`_period_start`), so the older
    ones change no limit, and their records' bodies are not read: a cycle reads a day of
    each service's history, and most of it is older than any period."""
    if behavior is None:
        return ()
    longest = max(
        (p.period for rules in (behavior.scale_up, behavior.scale_down) for p in rules.policies),
        default=0.0,
    )
    start = utc(now) - timedelta(seconds=longest)
    return scale_events(r for r in records if utc(r.timestamp) > start)


def _period_start(current: int, events: Sequence[ScaleEvent], now: datetime, period: float) -> int:
    """The replicas the period began with: now, less what its changes added, plus what they
    removed."""
    opened = now - timedelta(seconds=period)
    moved = sum(e.after - e.before for e in events if opened < e.at <= now)
    return current - moved


def _ceil_percent(replicas: int, percent: int) -> int:
    return -(-replicas * percent // 100)


def up_limit(
    rules: ScalingRules, current: int, events: Sequence[ScaleEvent], now: datetime
) -> Limit:
    """The most replicas a scale-up may reach now. `Max` takes the policy allowing the most,
    `Min` the least; a Percent policy rounds up, so it always allows one more replica."""
    if rules.select is SelectPolicy.DISABLED:
        return Limit(replicas=current, policy=None, start=current)
    now = utc(now)
    best: Limit | None = None
    for policy in rules.policies:
        start = _period_start(current, events, now, policy.period)
        if policy.type is PolicyType.PODS:
            allowed = start + policy.value
        else:
            allowed = _ceil_percent(start, 100 + policy.value)
        if (
            best is None
            or (rules.select is SelectPolicy.MAX and allowed > best.replicas)
            or (rules.select is SelectPolicy.MIN and allowed < best.replicas)
        ):
            best = Limit(replicas=allowed, policy=policy, start=start)
    assert best is not None  # the loader gives every direction at least one policy
    return best


def down_limit(
    rules: ScalingRules, current: int, events: Sequence[ScaleEvent], now: datetime
) -> Limit:
    """The fewest replicas a scale-down may reach now. `Max` takes the policy allowing the
    largest change (the fewest replicas), `Min` the smallest; a Percent policy rounds the
    replicas it keeps down, so it always allows one fewer."""
    if rules.select is SelectPolicy.DISABLED:
        return Limit(replicas=current, policy=None, start=current)
    now = utc(now)
    best: Limit | None = None
    for policy in rules.policies:
        start = _period_start(current, events, now, policy.period)
        if policy.type is PolicyType.PODS:
            allowed = start - policy.value
        else:
            allowed = start * (100 - policy.value) // 100
        allowed = max(allowed, 0)
        if (
            best is None
            or (rules.select is SelectPolicy.MAX and allowed < best.replicas)
            or (rules.select is SelectPolicy.MIN and allowed > best.replicas)
        ):
            best = Limit(replicas=allowed, policy=policy, start=start)
    assert best is not None
    return best
