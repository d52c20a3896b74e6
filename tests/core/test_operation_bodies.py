"""The typed bodies of decisions, verdicts, changes carried out or failed, and approvals: read
from the records the reconciler wrote (the golden copies) with every field typed and the
stored JSON intact, older records with defaults, a mistyped field refused with its name."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from reconciler.core.trail.bodies import (
    ApprovalBody,
    BreakerBody,
    DecisionBody,
    EscalationBody,
    ExecutionBody,
    ExpiredRequestBody,
    FailureBody,
    GovernanceBody,
    RequestBody,
    RequestedBody,
    RolledOutBody,
    body_of,
)
from reconciler.core.trail.records import EventType, Record, RecordError, read_record
from tests.core.test_bodies import _golden_records, record, reread


def _golden(event: EventType) -> list[Record]:
    found = [
        read_record(path, text.encode())
        for path, text in _golden_records()
        if json.loads(text)["event_type"] == str(event)
    ]
    assert found, f"no {event} record in the golden copies"
    return found


def _golden_id(event: EventType, record_id: str) -> Record:
    return next(record for record in _golden(event) if record.id == record_id)


@pytest.mark.parametrize(
    ("event", "kind"),
    [
        (EventType.DECISION_MADE, DecisionBody),
        (EventType.GOVERNANCE_CHECKED, GovernanceBody),
        (EventType.OPERATION_EXECUTED, ExecutionBody),
        (EventType.ROLLBACK_EXECUTED, ExecutionBody),
        (EventType.ROLLBACK_FAILED, FailureBody),
        (EventType.APPROVAL_REQUESTED, ApprovalBody),
        (EventType.APPROVAL_GRANTED, ApprovalBody),
        (EventType.OPERATION_REQUESTED, RequestedBody),
        (EventType.REQUEST_EXPIRED, ExpiredRequestBody),
        (EventType.ROLLED_OUT, RolledOutBody),
        (EventType.ESCALATED, EscalationBody),
        (EventType.BREAKER_OPENED, BreakerBody),
    ],
)
def test_written_records_read_as_their_body_type_and_show_as_stored(
    event: EventType, kind: type
) -> None:
    for back in _golden(event):
        assert type(back.details) is kind
        stored = json.loads(back.dumps())["details"]
        assert dict(back.details) == stored
        assert list(back.details) == list(stored)  # the keys in the stored order


def test_a_decision_reads_its_numbers_and_references() -> None:
    first = body_of(_golden_id(EventType.DECISION_MADE, "dec-20260210-154500-476540"), DecisionBody)
    assert (first.action, first.current_replicas, first.target_replicas) == ("scale_up", 2, 3)
    assert first.weighted_utilization == pytest.approx(0.873333)
    assert "spec.scaling.scale_up_threshold" in first.references
    assert [m["type"] for m in first.metrics] == ["cpu", "memory", "latency"]


def test_a_verdict_reads_its_rules_safety_checks_and_request() -> None:
    checked = _golden_id(EventType.GOVERNANCE_CHECKED, "gov-20260210-154500-c0b8d2")
    verdict = body_of(checked, GovernanceBody)
    assert (verdict.action, verdict.requires_approval) == ("execute", False)
    assert verdict.rules[0].reference == "governance.agent_authority.allowed_operations[0]"
    assert verdict.rules[0].evaluated == "3 >= 1 AND 3 <= 3" and verdict.rules[0].result is True
    cooldown = next(check for check in verdict.safety_checks if check.name == "cooldown")
    assert (cooldown.ok, cooldown.detail, cooldown.retry_at) == (True, "no earlier change", None)
    assert verdict.request.describe() == "scale 2→3"


def test_a_change_carried_out_reads_its_states_and_when_it_is_verified() -> None:
    done = body_of(_golden(EventType.OPERATION_EXECUTED)[0], ExecutionBody)
    assert done.kind == "scale" and done.change
    assert done.pre_operation_state["replicas"] == 2
    assert done.post_operation_state["replicas"] == 3 == done.target_replicas
    assert isinstance(done.verification_due, datetime)
    assert done.started_at is not None and done.completed_at is not None
    rollback = body_of(_golden(EventType.ROLLBACK_EXECUTED)[0], ExecutionBody)
    assert rollback.request.reverts and rollback.request.origin == "rollback"


def test_a_failed_rollback_reads_its_error_and_request() -> None:
    failed = body_of(_golden(EventType.ROLLBACK_FAILED)[0], FailureBody)
    assert failed.error and failed.request.reverts == "op-20260210-153600-394e4f"


def test_a_grant_reads_who_merged_what_and_when() -> None:
    granted = body_of(_golden(EventType.APPROVAL_GRANTED)[0], ApprovalBody)
    assert granted.merged_by == "alice <alice@example.com>"
    assert granted.merged_at == datetime(2026, 2, 10, 15, 44, tzinfo=UTC)
    assert (granted.latency, granted.number, granted.beyond_proposal) == (300.0, None, ())
    assert granted.loaded_blueprint_is_merged is True and granted.names_merged_digest
    assert granted.approval_id == "apr-20260210-153900-4b517b"
    assert granted.shown_reference == "reconciler/todo-frontend/scale-beyond-limits"
    assert granted.key == "todo-frontend/scale-beyond-limits" and not granted.hands_off


def test_older_bodies_read_with_defaults_where_null_and_empty_differ() -> None:
    approval = body_of(reread(record({}, EventType.APPROVAL_REFUSED)), ApprovalBody)
    assert (approval.key, approval.number, approval.merged_at, approval.reasons) == (
        None,
        None,
        None,
        (),
    )
    # Not named at all, and named as unknown, are told apart.
    assert approval.beyond_proposal is None and not approval.names_merged_digest
    unknown = {"merged_blueprint_digest": None, "beyond_proposal": []}
    named = body_of(reread(record(unknown, EventType.APPROVAL_REFUSED)), ApprovalBody)
    assert named.names_merged_digest and named.beyond_proposal == ()
    done = body_of(reread(record({}, EventType.OPERATION_EXECUTED)), ExecutionBody)
    assert (done.request, done.verification_due, done.write_back, done.attempt) == (
        RequestBody(),
        None,
        None,
        None,
    )
    assert (done.baseline, done.pre_operation_state, done.target_replicas) == ({}, {}, None)


def test_a_change_whose_request_names_no_target_aims_at_the_replicas_after_it() -> None:
    after = {"post_operation_state": {"replicas": 4}}
    recovered = reread(record(after, EventType.OPERATION_RECOVERED))
    assert body_of(recovered, ExecutionBody).target_replicas == 4
    # A request that names its target as null (a change of resources) aims at no count.
    named = {**after, "request": {"operation": "set_resources", "target_replicas": None}}
    assert (
        body_of(reread(record(named, EventType.OPERATION_EXECUTED)), ExecutionBody).target_replicas
        is None
    )


def test_a_body_made_by_this_run_reads_before_it_is_stored() -> None:
    at = datetime(2026, 2, 10, 15, 44, tzinfo=UTC)
    made = record({"merged_at": at, "reasons": ("x",), "number": 7}, EventType.APPROVAL_GRANTED)
    body = body_of(made, ApprovalBody)
    assert (body.merged_at, body.reasons, body.shown_reference) == (at, ("x",), "#7")


@pytest.mark.parametrize(
    ("event", "details", "message"),
    [
        (EventType.APPROVAL_GRANTED, {"number": "12"}, "'details.number' must be a whole number"),
        (EventType.APPROVAL_UPDATED, {"hands_off": "yes"}, "'details.hands_off' must be true"),
        (EventType.APPROVAL_REQUESTED, {"metadata": []}, "'details.metadata' must be an object"),
        (
            EventType.APPROVAL_REFUSED,
            {"beyond_proposal": "a.yaml"},
            "'details.beyond_proposal' must be a list of strings",
        ),
        (EventType.OPERATION_EXECUTED, {"write_back": "abc"}, "'details.write_back' must be"),
        (
            EventType.OPERATION_EXECUTED,
            {"verification_due": "later"},
            "'details.verification_due' must be a time with its zone",
        ),
        (EventType.OPERATION_FAILED, {"error": 5}, "'details.error' must be a string or null"),
        (
            EventType.GOVERNANCE_CHECKED,
            {"safety_checks": {"cooldown": {"ok": "no"}}},
            "'details.safety_checks.cooldown.ok' must be true or false",
        ),
        (
            EventType.DECISION_MADE,
            {"target_replicas": 2.5},
            "'details.target_replicas' must be a whole number",
        ),
    ],
)
def test_a_mistyped_field_makes_the_record_unreadable_naming_it(
    event: EventType, details: dict[str, Any], message: str
) -> None:
    with pytest.raises(RecordError, match=re.escape(message)):
        reread(record(details, event))


def test_what_follows_a_change_reads_typed() -> None:
    asked = body_of(_golden(EventType.OPERATION_REQUESTED)[0], RequestedBody).asked
    assert (asked.origin, asked.requested_by) == ("request", "alice")
    expired = body_of(_golden(EventType.REQUEST_EXPIRED)[0], ExpiredRequestBody)
    assert expired.why and expired.deferred_at is not None and expired.request.operation
    escalated = body_of(_golden(EventType.ESCALATED)[0], EscalationBody)
    assert escalated.attempts == 3 and escalated.pre_operation_state["replicas"] == 3
    opened = body_of(_golden(EventType.BREAKER_OPENED)[0], BreakerBody)
    assert opened.failures and opened.failure_threshold is not None
    assert opened.reset_by is None
    rolled_out = body_of(_golden(EventType.ROLLED_OUT)[0], RolledOutBody)
    assert rolled_out.commit and rolled_out.all_ready is True
