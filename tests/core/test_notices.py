"""What a cluster is told about each kind of record: reason, type and a one-line message with
the numbers and the record's id."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from reconciler.core.trail.notices import MESSAGE_LIMIT, NoticeReason, notice_for
from reconciler.core.trail.records import EventType, Outcome, Record

NOW = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
REQUEST = {
    "operation": "scale_within_limits",
    "current_replicas": 2,
    "target_replicas": 3,
    "reason": "W 84.2% > 80%",
    "reverts": None,
}


def record(event: EventType, rationale: str = "", **details: Any) -> Record:
    return Record(
        id="op-1",
        timestamp=NOW,
        event_type=event,
        service="web",
        blueprint_version="1.0.0",
        outcome=Outcome.SUCCESS,
        rationale=rationale,
        details={"request": REQUEST, **details},
    )


SCALED = {
    "kind": "scale",
    "pre_operation_state": {"replicas": 2, "revision": 4},
    "post_operation_state": {"replicas": 3, "revision": 4},
}


@pytest.mark.parametrize(
    ("given", "reason", "warning", "message"),
    [
        (
            record(EventType.OPERATION_EXECUTED, **SCALED),
            NoticeReason.SCALED,
            False,
            "scaled from 2 to 3 replicas: W 84.2% > 80%",
        ),
        (
            record(
                EventType.OPERATION_EXECUTED,
                kind="scale",
                pre_operation_state={"replicas": 2, "min_replicas": 1, "max_replicas": 2},
                post_operation_state={"replicas": 2, "min_replicas": 3, "max_replicas": 3},
            ),
            NoticeReason.SCALED,
            False,
            "set the HPA's minReplicas from 1 to 3: W 84.2% > 80%",
        ),
        (
            record(
                EventType.OPERATION_EXECUTED,
                kind="resources",
                change="set requests on deployment shop/web (cpu 250m, memory unchanged)",
            ),
            NoticeReason.RESOURCES_SET,
            False,
            "set requests on deployment shop/web (cpu 250m, memory unchanged): W 84.2% > 80%",
        ),
        (
            record(EventType.OPERATION_EXECUTED, kind="restart"),
            NoticeReason.RESTARTED,
            False,
            "restarted: W 84.2% > 80%",
        ),
        (
            record(
                EventType.ROLLBACK_EXECUTED,
                request=REQUEST | {"reverts": "op-0", "reason": "latency_p95 400ms > 198ms"},
                kind="scale",
                pre_operation_state={"replicas": 2},
                post_operation_state={"replicas": 3},
            ),
            NoticeReason.ROLLED_BACK,
            True,
            "rolled back op-0, scaled from 2 to 3 replicas: latency_p95 400ms > 198ms",
        ),
        (
            record(
                EventType.ROLLBACK_EXECUTED,
                kind="rollback",
                pre_operation_state={"replicas": 3, "revision": 5},
                post_operation_state={"replicas": 3, "revision": 6},
            ),
            NoticeReason.ROLLED_BACK,
            True,
            "rolled back an earlier change, back to revision 6 from 5: W 84.2% > 80%",
        ),
        (
            record(EventType.OPERATION_BLOCKED, "3 exceeds max_replicas 2."),
            NoticeReason.REFUSED,
            True,
            "refused scale_within_limits from 2 to 3 replicas: 3 exceeds max_replicas 2.",
        ),
        (
            record(
                EventType.OPERATION_DEFERRED,
                "cooldown: 120s left.",
                retry_at=datetime(2025, 6, 2, 12, 2, tzinfo=UTC),
            ),
            NoticeReason.DEFERRED,
            False,
            "deferred scale_within_limits from 2 to 3 replicas until 2025-06-02T12:02:00Z: "
            "cooldown: 120s left.",
        ),
        (
            record(EventType.OPERATION_FAILED, error="patching deployment shop/web: 422"),
            NoticeReason.FAILED,
            True,
            "scale_within_limits from 2 to 3 replicas failed: patching deployment shop/web: 422",
        ),
        (
            record(EventType.ROLLBACK_FAILED, error="no revision 3 to roll back to"),
            NoticeReason.ROLLBACK_FAILED,
            True,
            "rollback failed: no revision 3 to roll back to",
        ),
    ],
)
def test_each_change_refusal_and_rollback_gives_a_notice(
    given: Record, reason: NoticeReason, warning: bool, message: str
) -> None:
    notice = notice_for(given)
    assert notice is not None
    assert (notice.reason, notice.warning) == (reason, warning)
    assert notice.message == f"{message} (audit record op-1)"
    assert (notice.record_id, notice.service) == ("op-1", "web")


@pytest.mark.parametrize(
    "event",
    [
        EventType.DECISION_MADE,
        EventType.GOVERNANCE_CHECKED,
        EventType.OPERATION_OBSERVED,
        EventType.APPROVAL_REQUESTED,
        EventType.VERIFICATION_PASSED,
    ],
)
def test_records_that_change_and_refuse_nothing_give_no_notice(event: EventType) -> None:
    assert notice_for(record(event, "anything")) is None


def test_a_long_message_is_one_line_cut_to_the_limit_and_keeps_the_record_id() -> None:
    notice = notice_for(record(EventType.OPERATION_BLOCKED, "first line\nsecond " + "x" * 2000))
    assert notice is not None
    assert len(notice.message) == MESSAGE_LIMIT
    assert "\n" not in notice.message
    assert notice.message.startswith("refused scale_within_limits from 2 to 3 replicas: first line")
    assert notice.message.endswith("… (audit record op-1)")
