"""Folding audit records into safety state: breaker windows, successes, resets, half-open."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from reconciler.core.ids import make_id
from reconciler.core.trail.history import BreakerPhase, fold_history
from reconciler.core.trail.records import EventType, Outcome, Record
from tests.core.helpers import NOW, seed_blueprint


def record(event: EventType, seconds_ago: float, operation: str = "scale_within_limits") -> Record:
    at = NOW - timedelta(seconds=seconds_ago)
    return Record(
        id=make_id("x", at, event, seconds_ago),
        timestamp=at,
        event_type=event,
        service="web",
        blueprint_version="1.0.0",
        outcome=Outcome.FAILURE,
        rationale=str(event),
        operation=operation,
    )


SETTINGS = seed_blueprint().policy.safety.circuit_breaker
F, OK = EventType.OPERATION_FAILED, EventType.VERIFICATION_PASSED


def fold(*records: Record, settings=SETTINGS):  # type: ignore[no-untyped-def]
    return fold_history("web", records, settings, NOW)


def test_three_failures_within_five_minutes_open() -> None:
    assert fold(record(F, 200), record(F, 100), record(F, 10)).breaker.should_open


def test_failures_spread_beyond_the_window_do_not() -> None:
    assert not fold(record(F, 700), record(F, 350), record(F, 10)).breaker.should_open


def test_any_success_clears_the_count() -> None:
    folded = fold(record(F, 200), record(F, 150), record(OK, 120), record(F, 10))
    assert not folded.breaker.should_open
    assert len(folded.breaker.failures) == 1


def test_a_successful_rollback_does_not_clear_the_count() -> None:
    """Fail, roll back, try again: the loop must still open the breaker."""
    rolled_back = EventType.ROLLBACK_VERIFIED
    folded = fold(
        record(EventType.VERIFICATION_FAILED, 200),
        record(rolled_back, 180, "rollback_own_change"),
        record(EventType.VERIFICATION_FAILED, 120),
        record(rolled_back, 100, "rollback_own_change"),
        record(EventType.VERIFICATION_FAILED, 10),
    )
    assert folded.breaker.should_open
    assert len(folded.breaker.failures) == 3


def test_verification_and_rollback_failures_count() -> None:
    folded = fold(
        record(EventType.VERIFICATION_FAILED, 200),
        record(EventType.ROLLBACK_FAILED, 100),
        record(EventType.ROLLBACK_VERIFICATION_FAILED, 10),
    )
    assert folded.breaker.should_open


def test_open_until_reset() -> None:
    opened = fold(
        record(F, 300), record(F, 200), record(F, 100), record(EventType.BREAKER_OPENED, 99)
    )
    assert opened.breaker.phase is BreakerPhase.OPEN and not opened.breaker.should_open
    reset = fold(*opened.records, record(EventType.BREAKER_RESET, 10))
    assert reset.breaker.phase is BreakerPhase.CLOSED and reset.breaker.failures == ()


def test_half_open_after_timeout_when_manual_reset_is_off() -> None:
    automatic = replace(SETTINGS, manual_reset_required=False, reset_timeout=3600)
    records = (record(EventType.BREAKER_OPENED, 4000),)
    assert fold(*records, settings=automatic).breaker.phase is BreakerPhase.HALF_OPEN
    assert fold(*records).breaker.phase is BreakerPhase.OPEN  # manual reset required (default)


def test_cooldown_and_rate_counting() -> None:
    folded = fold(
        record(EventType.OPERATION_EXECUTED, 500),
        record(EventType.ROLLBACK_EXECUTED, 100, operation="rollback_own_change"),
    )
    assert folded.last_change_at == NOW - timedelta(seconds=100)
    assert len(folded.counted_changes) == 1


# --- edges, one row each ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ages", "opens"),
    [
        pytest.param((300, 150, 0), True, id="three failures exactly 5m apart open it"),
        pytest.param((301, 150, 0), False, id="301s apart do not"),
        pytest.param((150, 0), False, id="two failures are under the threshold"),
        pytest.param((900, 700, 301, 300, 150, 0), True, id="any 5m holding three opens it"),
        pytest.param((900, 601, 302, 1), False, id="never three within 5m"),
    ],
)
def test_the_failure_window_edges(ages: tuple[int, ...], opens: bool) -> None:
    folded = fold(*(record(F, age) for age in ages))
    assert folded.breaker.should_open is opens
    assert folded.breaker.phase is BreakerPhase.CLOSED
    assert len(folded.breaker.failures) == len(ages)


@pytest.mark.parametrize(
    ("age", "phase"),
    [(3600, BreakerPhase.HALF_OPEN), (3599, BreakerPhase.OPEN)],
    ids=["exactly reset_timeout later", "a second before"],
)
def test_the_reset_timeout_edge(age: int, phase: BreakerPhase) -> None:
    automatic = replace(SETTINGS, manual_reset_required=False, reset_timeout=3600)
    folded = fold(record(EventType.BREAKER_OPENED, age), settings=automatic)
    assert folded.breaker.phase is phase
    assert folded.breaker.opened_at == NOW - timedelta(seconds=age)


def test_a_half_open_breaker_closes_on_success_and_opens_again_on_failure() -> None:
    opened = record(EventType.BREAKER_OPENED, 500)
    half = record(EventType.BREAKER_HALF_OPENED, 400)
    closed = fold(opened, half, record(OK, 10))
    assert (closed.breaker.phase, closed.breaker.opened_at) == (BreakerPhase.CLOSED, None)
    again = fold(opened, half, record(F, 10))
    assert again.breaker.phase is BreakerPhase.OPEN
    assert again.breaker.opened_at == NOW - timedelta(seconds=10)
    assert not again.breaker.should_open  # already open


def test_changes_within_a_window_exclude_its_opening_moment() -> None:
    folded = fold(
        record(EventType.OPERATION_EXECUTED, 3600),
        record(EventType.OPERATION_EXECUTED, 3599),
        record(EventType.OPERATION_EXECUTED, 10),
    )
    assert len(folded.changes_within(NOW, 3600)) == 2
    assert folded.changes_within(NOW, 3600)[0] == NOW - timedelta(seconds=3599)
    assert len(folded.changes_within(NOW, 11)) == 1
    assert folded.operation_ids == {r.id for r in folded.records}


def test_other_services_records_are_not_folded() -> None:
    other = replace(record(F, 10), service="api")
    folded = fold(record(F, 200), record(F, 100), other)
    assert not folded.breaker.should_open
    assert other not in folded.records


def test_with_a_threshold_of_one_no_failure_opens_nothing() -> None:
    touchy = replace(SETTINGS, failure_threshold=1)
    assert not fold(record(OK, 10), settings=touchy).breaker.should_open
    assert fold(record(F, 10), settings=touchy).breaker.should_open


def test_the_breaker_as_people_read_it() -> None:
    closed = fold(record(F, 10))
    assert closed.breaker.opened_at is None
    assert closed.breaker.describe(SETTINGS) == "closed (1/3 failures)"
    opened = fold(record(EventType.BREAKER_OPENED, 60)).breaker
    assert opened.describe(SETTINGS) == "open since 2026-02-10 15:29:00Z"
    assert replace(opened, opened_at=None).describe(SETTINGS) == "open"
    automatic = replace(SETTINGS, manual_reset_required=False, reset_timeout=30)
    half = fold(record(EventType.BREAKER_OPENED, 60), settings=automatic).breaker
    assert half.describe(SETTINGS) == "half_open (0/3 failures)"


def test_the_last_record_of_some_kinds() -> None:
    opened, reset = record(EventType.BREAKER_OPENED, 60), record(EventType.BREAKER_RESET, 30)
    folded = fold(record(F, 90), opened, reset, record(F, 10))
    assert folded.last(EventType.BREAKER_OPENED, EventType.BREAKER_RESET) == reset
    assert folded.last(EventType.BREAKER_OPENED) == opened
    assert folded.last(EventType.ROLLBACK_VERIFIED) is None


def test_operation_ids_are_the_operations_the_changes_belong_to() -> None:
    linked = replace(record(EventType.OPERATION_EXECUTED, 30), links={"operation": "op-7"})
    plain = record(EventType.OPERATION_EXECUTED, 20)
    folded = fold(linked, plain, record(F, 10))
    assert folded.service == "web"
    assert folded.operation_ids == {"op-7", plain.id}
