"""What a verification leaves in the trail and asks for next, as units: the record of each
outcome (a change's or a rollback's, judged, overtaken or too late), the rollback request that
undoes a failed change, the escalation after the last failed attempt, and how long each
operation settles before it is judged."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from reconciler.core.blueprint.catalogue import ROLLBACK_OWN_CHANGE
from reconciler.core.blueprint.model import Provenance
from reconciler.core.decide.governance import Origin
from reconciler.core.decide.pending import (
    Pending,
    pending_from,
    pending_verifications,
    stabilization_for,
)
from reconciler.core.decide.verification import (
    MAX_ROLLBACK_ATTEMPTS,
    Verification,
    avoid_targets,
    escalation_record,
    rollback_request,
    rollback_work,
    still_starting,
    superseded,
    too_late,
    verification_record,
    verify,
)
from reconciler.core.observed.observation import PodState
from reconciler.core.trail.bodies import VerificationOutcome, verification_of
from reconciler.core.trail.history import ServiceHistory, fold_history
from reconciler.core.trail.records import EventType, Outcome, Record
from tests.core.helpers import NOW, blueprint, metrics, seed_blueprint, state

PROVENANCE = Provenance(commit="c0ffee", blobs={"blueprints/web/blueprint.yaml": "b10b"})
WEB = replace(blueprint(), provenance=PROVENANCE)
#: Another service with the same settings.
API = replace(WEB, metadata=replace(WEB.metadata, name="api"))
PRE_STATE = {"replicas": 3, "revision": 4}


def executed(
    op: str = "op-1",
    target: int | None = 2,
    pre_state: dict[str, int] | None = None,
    due_in: float = 0,
    **links: str,
) -> Record:
    """An executed change of web as the trail holds it, with the links a cycle gives it."""
    return Record(
        id=op,
        timestamp=NOW - timedelta(minutes=5),
        event_type=EventType.OPERATION_EXECUTED,
        service="web",
        blueprint_version="1.0.0",
        outcome=Outcome.SUCCESS,
        rationale="",
        operation="scale_within_limits",
        classification="allowed",
        links={"operation": op, "decision": "dec-1", "governance": "gov-1", **links},
        details={
            "request": {"current_replicas": 3, "target_replicas": target},
            "baseline": {"replicas": 3, "ready_replicas": 3, "latency_p95_ms": 100.0},
            "expected": {},
            "pre_operation_state": PRE_STATE if pre_state is None else pre_state,
            "verification_due": NOW + timedelta(seconds=due_in),
        },
    )


def waiting(op: str = "op-1", *, rollback: bool = False, **kw: object) -> Pending:
    links = {"rollback_of": "op-0", "proposal": "pr-7"} if rollback else {"proposal": "pr-7"}
    return pending_from(executed(op, **kw, **links), WEB)  # type: ignore[arg-type]


def judged(outcome: VerificationOutcome, pending: Pending) -> Verification:
    """A verification of web at NOW with `outcome`: replicas as set, and latency at 100 ms
    (passed), at 300 ms but no worse than a 300 ms baseline (partial), or at 400 ms from 100
    ms (failed)."""
    latency = {"passed": 50.0, "partial": 300.0, "failed": 400.0}[outcome.value]
    if outcome is VerificationOutcome.PARTIAL:
        pending = replace(pending, baseline={**pending.baseline, "latency_p95_ms": 300.0})
    done = verify(pending, WEB, state(2), metrics(None, None, latency), NOW)
    assert done.outcome is outcome, done.summary
    return done


@pytest.mark.parametrize(
    ("outcome", "rollback", "event", "recorded", "triggered"),
    [
        pytest.param(
            VerificationOutcome.PASSED,
            False,
            EventType.VERIFICATION_PASSED,
            Outcome.PASSED,
            False,
            id="a change verified",
        ),
        pytest.param(
            VerificationOutcome.PARTIAL,
            False,
            EventType.VERIFICATION_PASSED,
            Outcome.PARTIAL,
            False,
            id="a change kept with a missed target",
        ),
        pytest.param(
            VerificationOutcome.FAILED,
            False,
            EventType.VERIFICATION_FAILED,
            Outcome.FAILED,
            True,
            id="a change that made things worse asks for its rollback",
        ),
        pytest.param(
            VerificationOutcome.PASSED,
            True,
            EventType.ROLLBACK_VERIFIED,
            Outcome.PASSED,
            False,
            id="a rollback verified",
        ),
        pytest.param(
            VerificationOutcome.PARTIAL,
            True,
            EventType.ROLLBACK_VERIFIED,
            Outcome.PARTIAL,
            False,
            id="a rollback kept with a missed target",
        ),
        pytest.param(
            VerificationOutcome.FAILED,
            True,
            EventType.ROLLBACK_VERIFICATION_FAILED,
            Outcome.FAILED,
            False,
            id="a failed rollback asks for no rollback of its own",
        ),
    ],
)
def test_each_outcome_is_recorded_as_its_event(
    outcome: VerificationOutcome,
    rollback: bool,
    event: EventType,
    recorded: Outcome,
    triggered: bool,
) -> None:
    done = judged(outcome, waiting(rollback=rollback))
    record = verification_record(done, WEB)
    body = verification_of(record)
    assert (record.event_type, record.outcome) == (event, recorded)
    assert (body.outcome, body.rollback_triggered) == (outcome, triggered)
    assert body.superseded_by is None
    # The summary says whose outcome it is: "the rollback is verified", "the change is kept".
    assert record.rationale == done.summary
    assert f"the {'rollback' if rollback else 'change'} " in done.summary
    # A rollback carries the change it undoes; neither carries links that are not its own.
    expected_links = {"operation": "op-1", "verification": done.id}
    expected_links |= {"decision": "dec-1", "governance": "gov-1"}
    if rollback:
        expected_links["rollback_of"] = "op-0"
    assert record.links == expected_links


def test_a_verification_record_carries_the_change_and_the_blueprint_it_was_judged_under() -> None:
    pending = waiting(due_in=-90)
    done = judged(VerificationOutcome.FAILED, pending)
    record = verification_record(done, WEB)
    assert (record.id, record.timestamp, record.service) == (done.id, NOW, "web")
    assert (record.blueprint_version, record.provenance) == ("1.0.0", PROVENANCE)
    assert (record.operation, record.classification) == ("scale_within_limits", "allowed")
    assert record.rationale == done.summary and "made things worse" in record.rationale
    body = verification_of(record)
    assert (body.verification_id, body.operation_id) == (done.id, "op-1")
    assert (body.due, body.late_by) == (NOW - timedelta(seconds=90), 90.0)
    assert (body.target_replicas, dict(body.pre_operation_state)) == (2, PRE_STATE)
    assert body.checks == done.checks and body.attempt is None


def test_a_rollback_verification_records_its_attempt() -> None:
    rollback = replace(waiting(rollback=True), attempt=2)
    body = verification_of(verification_record(judged(VerificationOutcome.PASSED, rollback), WEB))
    assert body.attempt == 2


def test_a_verification_before_it_was_due_is_not_late() -> None:
    early = judged(VerificationOutcome.PASSED, waiting(due_in=30))
    assert verification_of(verification_record(early, WEB)).late_by == 0.0


@pytest.mark.parametrize(
    ("how", "superseded_by"),
    [pytest.param("superseded", "op-2", id="overtaken"), pytest.param("late", None, id="late")],
)
def test_a_change_that_cannot_be_judged_is_recorded_as_skipped_and_kept(
    how: str, superseded_by: str | None
) -> None:
    pending = waiting()
    if how == "superseded":
        done = superseded(pending, "op-2", WEB, NOW)
    else:
        late = too_late(pending, WEB, pending.due + timedelta(hours=2))
        assert late is not None
        done = late
    assert (done.skipped, done.rollback, done.checks) == (True, False, ())
    assert (done.outcome, done.pending, done.superseded_by) == (
        VerificationOutcome.PARTIAL,
        pending,
        superseded_by or "",
    )
    record = verification_record(done, WEB)
    assert (record.event_type, record.outcome) == (EventType.VERIFICATION_SKIPPED, Outcome.SKIPPED)
    assert record.rationale == done.summary and done.summary.startswith("not verified: ")
    assert ("(op-2)" in done.summary) is (how == "superseded")
    assert record.links["verification"] == done.id == record.id
    body = verification_of(record)
    assert (body.outcome, body.superseded_by, body.rollback_triggered) == (
        VerificationOutcome.PARTIAL,
        superseded_by,
        False,
    )


def test_a_skipped_verification_is_dated_and_named_like_a_judged_one() -> None:
    """One id per service, operation and moment: the same verification made again (a rerun of
    the cycle) has the same id, another service's or another change's does not."""
    pending = waiting()
    later = NOW + timedelta(hours=2)
    for done in (superseded(pending, "op-2", WEB, later), too_late(pending, WEB, later)):
        assert done is not None
        assert done.at == later and done.id.startswith("ver-")
        assert done.id == verify(pending, WEB, state(2), metrics(None, None, None), later).id
        assert done.id != superseded(pending, "op-2", API, later).id
        assert done.id != superseded(waiting("op-3"), "op-2", WEB, later).id


@pytest.mark.parametrize(
    ("target", "pre_state", "current", "back_to", "parameters"),
    [
        pytest.param(2, PRE_STATE, 2, 3, {"attempt": 2}, id="a scale goes back to its replicas"),
        pytest.param(
            None,
            PRE_STATE,
            None,
            None,
            {"attempt": 2, "to_revision": 4},
            id="a change of the pods goes back to their revision",
        ),
        pytest.param(
            2,
            {"revision": 4},
            None,
            None,
            {"attempt": 2, "to_revision": 4},
            id="a scale from unknown replicas goes back to the revision",
        ),
        pytest.param(
            None, {"replicas": 3}, None, None, {"attempt": 2}, id="nothing known to go back to"
        ),
    ],
)
def test_the_rollback_request_undoes_what_the_change_did(
    target: int | None,
    pre_state: dict[str, int],
    current: int | None,
    back_to: int | None,
    parameters: dict[str, int],
) -> None:
    failed = waiting(target=target, pre_state=pre_state)
    request = rollback_request(failed, 2, WEB, state(2), "latency worse")
    assert (request.operation, request.origin) == (ROLLBACK_OWN_CHANGE, Origin.ROLLBACK)
    assert (request.service, request.reverts, request.reason) == ("web", "op-1", "latency worse")
    assert (request.current_replicas, request.target_replicas) == (current, back_to)
    assert dict(request.parameters) == parameters


def test_an_escalation_records_who_must_decide_what() -> None:
    failed = waiting(rollback=True)
    record = escalation_record(failed, WEB, NOW)
    assert (record.event_type, record.outcome) == (EventType.ESCALATED, Outcome.PENDING)
    assert (record.timestamp, record.service, record.blueprint_version) == (NOW, "web", "1.0.0")
    assert (record.provenance, record.operation) == (PROVENANCE, "scale_within_limits")
    # Only the change and the decision behind it: the escalation is of the change itself.
    assert record.links == {"operation": "op-1", "decision": "dec-1"}
    assert record.details == {"attempts": MAX_ROLLBACK_ATTEMPTS, "pre_operation_state": PRE_STATE}
    assert record.rationale == (
        "rolling back op-1 failed 3 times; a person must decide. Automatic changes to this "
        "service stop (circuit breaker open)."
    )
    assert record.id.startswith("esc-") and record.id == escalation_record(failed, WEB, NOW).id
    assert record.id != escalation_record(waiting("op-3"), WEB, NOW).id
    assert record.id != escalation_record(failed, API, NOW).id
    assert record.id != escalation_record(failed, WEB, NOW + timedelta(seconds=1)).id


@pytest.mark.parametrize(
    ("operation", "seconds"),
    [
        pytest.param("restart_failed_pods", 30.0, id="a restart settles in 30s"),
        pytest.param("rollback_deployment", 120.0, id="a rollout back settles in 2m"),
        pytest.param("scale_within_limits", 60.0, id="a scale: the blueprint's period"),
        pytest.param(None, 60.0, id="no operation: the blueprint's period"),
    ],
)
def test_how_long_each_operation_settles_before_it_is_judged(
    operation: str | None, seconds: float
) -> None:
    assert stabilization_for(operation, seed_blueprint()) == seconds


def test_only_pods_neither_ready_nor_failing_are_still_starting() -> None:
    """Three ready, two starting, one crashing: the verification waits for two."""
    pods = (
        *(PodState(name=f"ready-{i}", ready=True) for i in range(3)),
        *(PodState(name=f"starting-{i}", ready=False) for i in range(2)),
        PodState(name="crashing", ready=False, reason="CrashLoopBackOff"),
    )
    due = waiting()
    assert still_starting(due, state(6, 3, pods=pods), due.due) == 2


# --- what is still waiting, read back from the trail ------------------------------------------


def _record(
    rid: str, event: EventType, at: float, links: dict[str, str], due: bool = True
) -> Record:
    """A record of web `at` seconds from NOW; a change carries its request and, when `due`,
    its verification time."""
    details: dict[str, object] = {}
    if event in (EventType.OPERATION_EXECUTED, EventType.ROLLBACK_EXECUTED):
        details = {"request": {"current_replicas": 3, "target_replicas": 2}}
        if due:
            details["verification_due"] = NOW + timedelta(seconds=at + 60)
    return Record(
        id=rid,
        timestamp=NOW + timedelta(seconds=at),
        event_type=event,
        service="web",
        blueprint_version="1.0.0",
        outcome=Outcome.SUCCESS,
        rationale="",
        operation="scale_within_limits",
        links=links,
        details=details,
    )


def _history(*records: Record) -> ServiceHistory:
    return fold_history("web", records, WEB.policy.safety.circuit_breaker, NOW)


def test_changes_wait_for_a_verification_of_their_operation_not_of_their_record() -> None:
    """A change is known by its operation link (its record's own id only without one), and a
    verification names the operation it judged."""
    records = [
        # Judged: record and operation ids differ.
        _record("rec-a", EventType.OPERATION_EXECUTED, -600, {"operation": "op-a"}),
        _record("ver-a", EventType.VERIFICATION_PASSED, -500, {"operation": "op-a"}),
        # Judged: no operation link, so its record id is the operation.
        _record("op-b", EventType.OPERATION_EXECUTED, -590, {}),
        _record("ver-b", EventType.VERIFICATION_FAILED, -490, {"operation": "op-b"}),
        # Waiting, with no time of its own: due a stabilization period (60 s) after it.
        _record("op-c", EventType.OPERATION_EXECUTED, -120, {}, due=False),
        # A verification naming no operation judges nothing.
        _record("ver-x", EventType.VERIFICATION_PASSED, -100, {}),
        # Waiting, and named by its operation link.
        _record("rec-d", EventType.OPERATION_EXECUTED, -60, {"operation": "op-d"}),
    ]
    waiting_now = pending_verifications(_history(*records), WEB)
    assert [(p.operation_id, p.due) for p in waiting_now] == [
        ("op-c", NOW - timedelta(seconds=60)),
        ("op-d", NOW),
    ]


def test_rollback_work_reads_every_failed_change_in_turn() -> None:
    """Failed changes, each settled differently, those needing work last: one whose change is
    not in the trail, one rolled back, one escalated, one whose rollback is in flight, one
    whose first rollback failed its verification (attempt 2, and no verification time of its
    own), and one known only by its record id (attempt 1)."""

    def failed(op: str, at: float) -> Record:
        return _record(f"ver-{op}", EventType.VERIFICATION_FAILED, at, {"operation": op})

    def rollback(event: EventType, op: str, rb: str, at: float) -> Record:
        return _record(rb, event, at, {"operation": rb, "rollback_of": op})

    records = [
        failed("op-gone", -1000),
        _record("rec-1", EventType.OPERATION_EXECUTED, -990, {"operation": "op-1"}),
        failed("op-1", -980),
        rollback(EventType.ROLLBACK_EXECUTED, "op-1", "rb-1", -970),
        rollback(EventType.ROLLBACK_VERIFIED, "op-1", "rb-1", -960),
        _record("rec-2", EventType.OPERATION_EXECUTED, -950, {"operation": "op-2"}),
        failed("op-2", -940),
        _record("esc-2", EventType.ESCALATED, -930, {"operation": "op-2"}),
        _record("rec-3", EventType.OPERATION_EXECUTED, -920, {"operation": "op-3"}),
        failed("op-3", -910),
        rollback(EventType.ROLLBACK_EXECUTED, "op-3", "rb-3", -900),
        _record("rec-4", EventType.OPERATION_EXECUTED, -890, {"operation": "op-4"}, due=False),
        failed("op-4", -880),
        rollback(EventType.ROLLBACK_EXECUTED, "op-4", "rb-4", -870),
        rollback(EventType.ROLLBACK_VERIFICATION_FAILED, "op-4", "rb-4", -860),
        # Without an operation link a change is known by its record id.
        _record("op-5", EventType.OPERATION_EXECUTED, -850, {}),
        failed("op-5", -840),
    ]
    work = rollback_work(_history(*records), WEB)
    assert [(p.operation_id, p.record.id, attempt) for p, attempt in work.rollbacks] == [
        ("op-4", "rec-4", 2),
        ("op-5", "op-5", 1),
    ]
    assert work.escalations == ()
    (pending, _) = work.rollbacks[0]
    assert pending.due == NOW - timedelta(seconds=890 - 60)


@pytest.mark.parametrize(
    ("rid", "event", "links", "details", "expected"),
    [
        pytest.param(
            "rec-1",
            EventType.OPERATION_EXECUTED,
            {"operation": "op-1"},
            {"verification_due": NOW},
            {"operation_id": "op-1", "due": NOW, "reverts": "", "attempt": 0},
            id="a change, named by its link, due when it said",
        ),
        pytest.param(
            "op-2",
            EventType.OPERATION_EXECUTED,
            {},
            {},
            {
                "operation_id": "op-2",
                "due": NOW + timedelta(seconds=30),
                "reverts": "",
                "attempt": 0,
            },
            id="no link, no due time: its restart settles 30 s",
        ),
        pytest.param(
            "rec-3",
            EventType.ROLLBACK_EXECUTED,
            {"operation": "rb-3", "rollback_of": "op-1"},
            {"verification_due": NOW, "attempt": 2},
            {"operation_id": "rb-3", "due": NOW, "reverts": "op-1", "attempt": 2},
            id="a rollback: what it undoes and which attempt",
        ),
    ],
)
def test_a_change_is_read_back_as_waiting_for_its_verification(
    rid: str,
    event: EventType,
    links: dict[str, str],
    details: dict[str, object],
    expected: dict[str, object],
) -> None:
    record = Record(
        id=rid,
        timestamp=NOW,
        event_type=event,
        service="web",
        blueprint_version="1.0.0",
        outcome=Outcome.SUCCESS,
        rationale="",
        operation="restart_failed_pods",
        links=links,
        details={
            "request": {"current_replicas": 3, "target_replicas": None},
            "baseline": {"replicas": 3},
            "expected": {"cpu_utilization": 0.5},
            "pre_operation_state": {"revision": 4},
            **details,
        },
    )
    assert pending_from(record, WEB) == Pending(
        record=record,
        target_replicas=None,
        baseline={"replicas": 3},
        expected={"cpu_utilization": 0.5},
        pre_state={"revision": 4},
        **expected,  # type: ignore[arg-type]
    )


def test_a_target_rolled_back_is_avoided_for_what_is_left_of_the_hour() -> None:
    """Ten minutes after its failed verification, 2 replicas are avoided for 50 more minutes,
    whatever other records, or older failures, come before it."""
    failed = Record(
        id="ver-1",
        timestamp=NOW - timedelta(minutes=10),
        event_type=EventType.VERIFICATION_FAILED,
        service="web",
        blueprint_version="1.0.0",
        outcome=Outcome.FAILED,
        rationale="worse",
        links={"operation": "op-1"},
        details={"target_replicas": 2},
    )
    before = _record("op-1", EventType.OPERATION_EXECUTED, -900, {"operation": "op-1"})
    # A target that failed two hours ago is free again, and does not hide the later one.
    old = replace(
        failed, id="ver-0", timestamp=NOW - timedelta(hours=2), details={"target_replicas": 4}
    )
    assert avoid_targets(_history(old, before, failed), NOW) == {
        2: "2 replicas failed verification at 15:20:00Z and was rolled back (not tried again "
        "for 50m)"
    }
