"""Audit records: file names, JSON round trips, and commit messages with trailers."""

from __future__ import annotations

from reconciler.core.records import (
    EventType,
    Outcome,
    Record,
    commit_message,
    parse_record_name,
    record_path,
)
from tests.core.helpers import NOW


def sample() -> Record:
    return Record(
        id="op-20260210-153000-abcdef",
        timestamp=NOW,
        event_type=EventType.OPERATION_EXECUTED,
        service="todo-frontend",
        blueprint_version="1.0.0",
        outcome=Outcome.SUCCESS,
        rationale="scale deployment todo-app/todo-frontend to 3 replicas",
        operation="scale_within_limits",
        classification="allowed",
        duration_seconds=0.01,
        links={
            "decision": "dec-1",
            "governance": "gov-1",
            "operation": "op-20260210-153000-abcdef",
        },
        details={"when": NOW},
    )


def test_path_and_name_round_trip() -> None:
    path = record_path(sample())
    assert (
        path
        == "audit/todo-frontend/2026-02-10/153000-operation_executed-op-20260210-153000-abcdef.json"
    )
    assert parse_record_name(path.rsplit("/", 1)[1]) == (
        "153000",
        EventType.OPERATION_EXECUTED,
        "op-20260210-153000-abcdef",
    )
    assert parse_record_name("README.md") is None


def test_json_round_trip_keeps_the_seed_fields() -> None:
    import json

    data = json.loads(sample().dumps())
    for field in (
        "timestamp",
        "event_type",
        "agent_id",
        "service",
        "blueprint_version",
        "operation",
        "classification",
        "rationale",
        "outcome",
        "duration_seconds",
    ):
        assert field in data
    assert data["timestamp"] == "2026-02-10T15:30:00Z"
    again = Record.from_json(data)
    assert again.timestamp == NOW and again.links == sample().links


def test_commit_message_trailers() -> None:
    message = commit_message("todo-frontend: scale 2→3 (allowed): weighted 81.5% > 80%", [sample()])
    text = message.render()
    assert text.splitlines()[0] == "todo-frontend: scale 2→3 (allowed): weighted 81.5% > 80%"
    for trailer in (
        "Reconciler-Event: operation_executed",
        "Reconciler-Service: todo-frontend",
        "Reconciler-Decision: dec-1",
        "Reconciler-Governance: gov-1",
        "Reconciler-Operation: op-20260210-153000-abcdef",
        "Reconciler-Classification: allowed",
        "Reconciler-Outcome: success",
        "Reconciler-Records: 1",
    ):
        assert trailer in text.splitlines()
