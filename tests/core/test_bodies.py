"""Typed record bodies: written as the JSON they stand for, read back typed by the one reader
of the trail, older bodies with defaults, a mistyped field refused with its name."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.trail.bodies import (
    Body,
    Check,
    CheckStatus,
    ObservedBody,
    PauseBody,
    RefusalBody,
    RequestBody,
    Severity,
    VerificationBody,
    VerificationOutcome,
    observed_of,
    pause_of,
    refusal_of,
    request_of,
    verification_of,
)
from reconciler.core.trail.records import (
    EventType,
    Outcome,
    Record,
    RecordError,
    read_record,
    record_path,
)
from tests.core.helpers import NOW

GOLDEN = Path(__file__).resolve().parent.parent / "golden"

CHECKS = (
    Check(
        check="latency_p95",
        severity=Severity.CRITICAL,
        expected="<= 200ms",
        actual="260ms",
        status=CheckStatus.FAILED,
        baseline="180ms",
        worse=True,
    ),
    Check(
        check="pods_ready",
        severity=Severity.HIGH,
        expected="3",
        actual="3",
        status=CheckStatus.PASSED,
    ),
)
BODY = VerificationBody(
    verification_id="ver-1",
    operation_id="op-1",
    due=NOW - timedelta(seconds=150),
    late_by=150.0,
    outcome=VerificationOutcome.FAILED,
    checks=CHECKS,
    rollback_triggered=True,
    target_replicas=2,
    pre_operation_state={"replicas": 3},
    superseded_by=None,
    attempt=None,
)


def record(details: Any, event: EventType = EventType.VERIFICATION_FAILED) -> Record:
    return Record(
        id="ver-1",
        timestamp=NOW,
        event_type=event,
        service="web",
        blueprint_version="1.0.0",
        outcome=Outcome.FAILED,
        rationale="latency_p95 worse",
        details=details,
    )


def reread(written: Record) -> Record:
    return read_record(record_path(written), written.dumps().encode())


def test_a_body_is_written_as_the_json_it_stands_for_and_read_back_typed() -> None:
    written = record(BODY)
    stored = json.loads(written.dumps())["details"]
    assert list(stored) == [
        "verification_id",
        "operation_id",
        "due",
        "verified_late_by_seconds",
        "outcome",
        "checks",
        "summary",
        "rollback_triggered",
        "target_replicas",
        "pre_operation_state",
        "superseded_by",
        "attempt",
    ]
    assert stored["due"] == "2026-02-10T15:27:30Z"
    assert stored["summary"] == {
        "total_checks": 2,
        "passed": 1,
        "failed": 1,
        "skipped": 0,
        "verification_result": "failed",
    }
    assert stored["checks"][0]["rollback_trigger"] is True
    back = reread(written)
    assert isinstance(back.details, VerificationBody)
    assert back.details == BODY and back == written
    assert back.dumps() == written.dumps()  # byte for byte
    assert verification_of(back).failed() == ["latency_p95"]
    assert back.details["summary"]["passed"] == 1  # still a mapping, as stored


def test_an_older_body_reads_with_defaults_and_shows_as_stored() -> None:
    older = {
        "verification_id": "ver-1",
        "operation_id": "op-1",
        "due": "2026-02-10T15:28:00Z",
        "outcome": "passed",
        "checks": [{"check": "pods_ready", "status": "passed"}],
    }
    back = reread(record(older, EventType.VERIFICATION_PASSED))
    body = verification_of(back)
    assert (body.late_by, body.superseded_by, body.attempt, body.target_replicas) == (
        0.0,
        None,
        None,
        None,
    )
    assert body.checks[0].severity is Severity.HIGH and body.count(CheckStatus.PASSED) == 1
    assert dict(back.details) == older
    assert json.loads(back.dumps())["details"] == older  # nothing added on the way through


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("checks", {"check": "x"}, "field 'details.checks' must be a list"),
        (
            "checks",
            [{"check": "x", "status": "great"}],
            "field 'details.checks[].status' must be one of passed, failed, skipped",
        ),
        ("checks", [{"status": "passed"}], "no field 'details.checks[].check'"),
        ("target_replicas", "3", "'details.target_replicas' must be a whole number or null"),
        ("due", "yesterday", "'details.due' must be a time with its zone"),
        ("rollback_triggered", "yes", "'details.rollback_triggered' must be true or false"),
        ("outcome", "fine", "'details.outcome' must be one of passed, partial, failed"),
    ],
)
def test_a_mistyped_field_makes_the_record_unreadable_naming_it(
    field: str, value: object, message: str
) -> None:
    details = {**json.loads(record(BODY).dumps())["details"], field: value}
    with pytest.raises(RecordError, match=re.escape(message)):
        reread(record(details))


@pytest.mark.parametrize("event", list(EventType))
def test_every_event_reads_as_a_body_that_shows_its_details_as_stored(event: EventType) -> None:
    details = {"attempts": 3, "pre_operation_state": {"replicas": 2}}
    back = reread(record(details, event))
    assert isinstance(back.details, Body) and dict(back.details) == details


def _golden_records() -> list[tuple[str, str]]:
    """Every record in the golden copies: records the reconciler wrote before the bodies of
    these events had types."""
    found = []
    for copy in sorted(GOLDEN.glob("*.txt")):
        for section in copy.read_text().split("\n=== ")[0:]:
            head, _, text = section.removeprefix("=== ").partition("\n")
            if head.startswith("audit/") and head.endswith(".json"):
                found.append((head, text))
    return found


def test_records_written_before_the_body_types_read_typed_and_show_as_stored() -> None:
    records = _golden_records()
    seen: set[type] = set()
    for path, text in records:
        back = read_record(path, text.encode())
        assert dict(back.details) == json.loads(text)["details"], path
        if isinstance(back.details, Body):
            seen.add(type(back.details))
        if back.event_type in {EventType.OPERATION_BLOCKED, EventType.OPERATION_DEFERRED}:
            body = refusal_of(back)
            assert body.reasons and body.request.operation == back.operation, path
    assert {RefusalBody, ObservedBody, PauseBody} <= seen


def test_a_refusal_body_reads_its_request_reasons_and_retry_time() -> None:
    details = {
        "request": {
            "operation": "scale_within_limits",
            "origin": "request",
            "current_replicas": 3,
            "target_replicas": 4,
            "requested_by": "alice",
            "parameters": {"x": 1},
        },
        "reasons": ["allowed", "cooldown 1m (40s left)"],
        "retry_at": "2026-02-10T15:31:00Z",
        "alternatives": [],
        "execution_prevented": True,
    }
    body = refusal_of(reread(record(details, EventType.OPERATION_DEFERRED)))
    assert body.request == RequestBody(
        operation="scale_within_limits",
        origin="request",
        current_replicas=3,
        target_replicas=4,
        requested_by="alice",
        parameters={"x": 1},
    )
    assert body.reasons == ("allowed", "cooldown 1m (40s left)")
    assert body.retry_at == NOW + timedelta(minutes=1)
    assert body.request.describe() == "scale 3→4"


def test_older_refusal_observe_and_pause_bodies_read_with_defaults() -> None:
    refusal = refusal_of(reread(record({"reasons": ["forbidden"]}, EventType.OPERATION_BLOCKED)))
    assert (refusal.request, refusal.retry_at, refusal.alternatives) == (RequestBody(), None, ())
    observed = observed_of(reread(record({"would": "execute"}, EventType.OPERATION_OBSERVED)))
    assert (observed.would, observed.replicas_running, observed.request.target_replicas) == (
        "execute",
        None,
        None,
    )
    assert pause_of(reread(record({}, EventType.SERVICE_RESUMED))).paused_by is None


def test_request_of_reads_a_record_made_by_this_run_too() -> None:
    made = record(
        {"request": {"current_replicas": 2, "target_replicas": 3}}, EventType.OPERATION_EXECUTED
    )
    assert request_of(made).describe() == "scale 2→3"
    assert request_of(record({}, EventType.OPERATION_EXECUTED)) == RequestBody()


@pytest.mark.parametrize(
    ("event", "details", "message"),
    [
        (
            EventType.OPERATION_DEFERRED,
            {"reasons": "cooldown"},
            "'details.reasons' must be a list of strings",
        ),
        (
            EventType.OPERATION_BLOCKED,
            {"request": {"target_replicas": "4"}},
            "'details.request.target_replicas' must be a whole number or null",
        ),
        (
            EventType.OPERATION_OBSERVED,
            {"replicas_running": 2.5},
            "'details.replicas_running' must be a whole number",
        ),
        (
            EventType.SERVICE_PAUSED,
            {"paused_by": 1},
            "'details.paused_by' must be a string or null",
        ),
        (
            EventType.OPERATION_DEFERRED,
            {"retry_at": "soon"},
            "'details.retry_at' must be a time with its zone",
        ),
    ],
)
def test_a_mistyped_field_of_the_new_bodies_is_refused_naming_it(
    event: EventType, details: dict[str, Any], message: str
) -> None:
    with pytest.raises(RecordError, match=re.escape(message)):
        reread(record(details, event))


def test_a_refusal_made_by_this_run_reads_its_retry_time_before_it_is_stored() -> None:
    made = record({"reasons": ["cooldown"], "retry_at": NOW}, EventType.OPERATION_DEFERRED)
    assert refusal_of(made).retry_at == NOW
