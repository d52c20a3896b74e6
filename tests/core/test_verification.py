"""Verification checks and outcomes, rollback bookkeeping, and the recovery ladder."""

from __future__ import annotations

from dataclasses import replace as dataclass_replace
from datetime import datetime, timedelta

import pytest

from reconciler.core.blueprint.model import Blueprint, Provenance
from reconciler.core.decide.decision import Action, Decision, DecisionRule, Reason
from reconciler.core.decide.recovery import decide_recovery, effective_restarts
from reconciler.core.decide.verification import Pending, avoid_targets, rollback_work, verify
from reconciler.core.observed.observation import DeploymentState, PodState
from reconciler.core.trail.bodies import CheckStatus, Severity, VerificationOutcome
from reconciler.core.trail.history import fold_history
from reconciler.core.trail.records import EventType, Outcome, Record
from tests.core.helpers import NOW, blueprint, metrics, seed_blueprint, state

BASELINE = {
    "replicas": 3,
    "ready_replicas": 3,
    "restart_count": 0,
    "cpu_utilization": 0.25,
    "memory_utilization": 0.2,
    "latency_p95_ms": 100.0,
    "error_rate": 0.002,
}


def executed(
    op: str = "op-1",
    at: float = -60,
    target: int = 2,
    event: EventType = EventType.OPERATION_EXECUTED,
    **links: str,
) -> Record:
    return Record(
        id=op,
        timestamp=NOW + timedelta(seconds=at),
        event_type=event,
        service="web",
        blueprint_version="1.0.0",
        outcome=Outcome.SUCCESS,
        rationale="",
        operation="scale_within_limits",
        links={"operation": op, **links},
        details={
            "request": {"current_replicas": 3, "target_replicas": target},
            "baseline": BASELINE,
            "expected": {"cpu_utilization": 0.375, "memory_utilization": 0.3},
            "pre_operation_state": {"replicas": 3, "revision": 1},
            "verification_due": NOW,
        },
    )


def pending(**kw: object) -> Pending:
    from reconciler.core.decide.pending import pending_from

    return pending_from(executed(**kw), seed_blueprint())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "replicas", "ready", "m", "outcome", "failed"),
    [
        ("all good", 2, 2, (0.375, 0.3, 150, 0.004), VerificationOutcome.PASSED, []),
        (
            "demo 4: latency and errors worse",
            2,
            2,
            (0.375, 0.3, 400, 0.015),
            VerificationOutcome.FAILED,
            ["latency_p95", "error_rate"],
        ),
        ("worse but within target", 2, 2, (0.375, 0.3, 180, 0.004), VerificationOutcome.PASSED, []),
        (
            "cpu off its expectation only",
            2,
            2,
            (0.6, 0.3, 150, 0.004),
            VerificationOutcome.PARTIAL,
            ["cpu_utilization"],
        ),
        (
            "a pod not ready is worse",
            2,
            1,
            (0.375, 0.3, 150, 0.004),
            VerificationOutcome.FAILED,
            ["pods_ready"],
        ),
        (
            "replicas changed by someone",
            4,
            4,
            (0.375, 0.3, 150, 0.004),
            VerificationOutcome.PARTIAL,
            ["replica_count"],
        ),
    ],
)
def test_outcomes(name, replicas, ready, m, outcome, failed) -> None:  # type: ignore[no-untyped-def]
    cpu, memory, latency, errors = m
    result = verify(
        pending(),
        seed_blueprint(),
        state(replicas, ready),
        metrics(cpu, memory, latency, error_rate=errors),
        NOW,
    )
    assert result.outcome is outcome, (name, result.summary)
    assert [c.check for c in result.checks if c.status is CheckStatus.FAILED] == failed, name


def test_a_missed_target_that_is_no_worse_is_kept() -> None:
    from dataclasses import replace

    improving = replace(pending(), baseline={**BASELINE, "latency_p95_ms": 300.0})
    result = verify(
        improving, seed_blueprint(), state(2), metrics(0.375, 0.3, 210, error_rate=0.002), NOW
    )
    assert result.outcome is VerificationOutcome.PARTIAL
    latency = next(c for c in result.checks if c.check == "latency_p95")
    assert latency.status is CheckStatus.FAILED and not latency.worse
    assert "nothing got worse, so the change is kept" in result.summary


def test_missing_metrics_are_skipped_not_failed() -> None:
    result = verify(pending(), seed_blueprint(), state(2), metrics(None, None, None), NOW)
    skipped = {c.check for c in result.checks if c.status is CheckStatus.SKIPPED}
    assert skipped == {"cpu_utilization", "memory_utilization", "latency_p95", "error_rate"}
    assert result.outcome is VerificationOutcome.PASSED and "4 skipped" in result.summary


def test_new_restarts_fail_and_are_worse() -> None:
    crashed = state(
        2, pods=(PodState(name="a", ready=True, restart_count=2), PodState(name="b", ready=True))
    )
    result = verify(
        pending(), seed_blueprint(), crashed, metrics(0.375, 0.3, 150, error_rate=0.004), NOW
    )
    restarts = next(c for c in result.checks if c.check == "no_new_restarts")
    assert restarts.status is CheckStatus.FAILED and restarts.triggers_rollback


def _failed(op: str, at: float) -> Record:
    return Record(
        id=f"ver-{op}",
        timestamp=NOW + timedelta(seconds=at),
        event_type=EventType.VERIFICATION_FAILED,
        service="web",
        blueprint_version="1",
        outcome=Outcome.FAILED,
        rationale="worse",
        links={"operation": op},
        details={"target_replicas": 2},
    )


def _rollback(event: EventType, op: str, at: float, rb: str) -> Record:
    return Record(
        id=rb,
        timestamp=NOW + timedelta(seconds=at),
        event_type=event,
        service="web",
        blueprint_version="1",
        outcome=Outcome.FAILURE,
        rationale="",
        operation="rollback_own_change",
        links={"operation": rb, "rollback_of": op},
    )


def history(*records: Record):  # type: ignore[no-untyped-def]
    return fold_history("web", records, seed_blueprint().policy.safety.circuit_breaker, NOW)


def test_rollback_work_counts_attempts_and_escalates() -> None:
    base = [executed(at=-300), _failed("op-1", -240)]
    assert [a for _, a in rollback_work(history(*base), seed_blueprint()).rollbacks] == [1]
    one = [*base, _rollback(EventType.ROLLBACK_FAILED, "op-1", -200, "rb-1")]
    assert [a for _, a in rollback_work(history(*one), seed_blueprint()).rollbacks] == [2]
    in_flight = [*base, _rollback(EventType.ROLLBACK_EXECUTED, "op-1", -200, "rb-2")]
    assert rollback_work(history(*in_flight), seed_blueprint()).rollbacks == ()
    three = [
        *base,
        *(_rollback(EventType.ROLLBACK_FAILED, "op-1", -200 + i, f"rb-{i}") for i in range(3)),
    ]
    work = rollback_work(history(*three), seed_blueprint())
    assert work.rollbacks == () and [p.operation_id for p in work.escalations] == ["op-1"]
    done = [*base, _rollback(EventType.ROLLBACK_VERIFIED, "op-1", -100, "rb-9")]
    assert rollback_work(history(*done), seed_blueprint()).rollbacks == ()


def test_failed_targets_are_remembered_for_an_hour() -> None:
    assert 2 in avoid_targets(history(_failed("op-1", -600)), NOW)
    assert avoid_targets(history(_failed("op-1", -3700)), NOW) == {}


def pods(*restarts: int, failing: int = 0) -> tuple[PodState, ...]:
    return tuple(
        PodState(
            name=f"p{i}",
            ready=i >= failing,
            restart_count=r,
            reason="CrashLoopBackOff" if i < failing else "",
        )
        for i, r in enumerate(restarts)
    )


@pytest.mark.parametrize(
    ("name", "replicas", "ready", "pod_states", "revision", "action", "reason"),
    [
        ("healthy", 2, 2, pods(0, 0), 2, None, None),
        ("old restarts, healthy now", 2, 2, pods(5, 0), 2, None, None),
        (
            "one failing, 1 restart",
            2,
            1,
            pods(1, 0, failing=1),
            2,
            Action.RESTART,
            Reason.PODS_FAILING,
        ),
        (
            "at rollback threshold",
            2,
            1,
            pods(2, 0, failing=1),
            2,
            Action.ROLLBACK,
            Reason.ROLLBACK_THRESHOLD,
        ),
        (
            "beyond max restarts",
            2,
            1,
            pods(3, 0, failing=1),
            2,
            Action.ESCALATE,
            Reason.MAX_RESTARTS,
        ),
        (
            "every pod failing",
            2,
            0,
            pods(1, 1, failing=2),
            2,
            Action.ROLLBACK,
            Reason.WIDESPREAD_FAILURE,
        ),
    ],
)
def test_recovery_ladder(name, replicas, ready, pod_states, revision, action, reason) -> None:  # type: ignore[no-untyped-def]
    decision = decide_recovery(
        seed_blueprint(),
        state(replicas, ready, pods=pod_states, revision=revision),
        metrics(None, None, None),
        history(),
        NOW,
    )
    if action is None:
        assert decision is None, name
    else:
        assert decision is not None and (decision.action, decision.reason) == (action, reason), name


def test_our_own_restarts_count_toward_the_ladder() -> None:
    restart = Record(
        id="op-r",
        timestamp=NOW - timedelta(minutes=5),
        event_type=EventType.OPERATION_EXECUTED,
        service="web",
        blueprint_version="1",
        outcome=Outcome.SUCCESS,
        rationale="",
        operation="restart_failed_pods",
    )
    decision = decide_recovery(
        seed_blueprint(),
        state(2, 1, pods=pods(1, 0, failing=1)),
        metrics(None, None, None),
        history(restart),
        NOW,
    )
    assert decision is not None and decision.reason is Reason.ROLLBACK_THRESHOLD


def _restarted(
    seconds_ago: float,
    event: EventType = EventType.OPERATION_EXECUTED,
    operation: str = "restart_failed_pods",
) -> Record:
    """A change the reconciler carried out (by default, one of its own restarts)."""
    return Record(
        id=f"op-r{seconds_ago:g}",
        timestamp=NOW - timedelta(seconds=seconds_ago),
        event_type=event,
        service="web",
        blueprint_version="1",
        outcome=Outcome.SUCCESS,
        rationale="",
        operation=operation,
    )


@pytest.mark.parametrize(
    ("records", "counted"),
    [
        pytest.param((), 1, id="none of our own: the pods' count"),
        pytest.param((_restarted(3600),), 2, id="our restart exactly an hour ago counts"),
        pytest.param((_restarted(3601),), 1, id="one older than an hour does not"),
        pytest.param((_restarted(60), _restarted(120)), 3, id="each restart counts once"),
        pytest.param(
            (_restarted(60, event=EventType.OPERATION_FAILED),), 1, id="a failed restart does not"
        ),
        pytest.param(
            (_restarted(60, operation="scale_within_limits"),), 1, id="another change does not"
        ),
        pytest.param(
            (_restarted(7200, operation="scale_within_limits"),),
            1,
            id="another change long ago does not",
        ),
    ],
)
def test_the_restarts_counted_add_our_own_in_the_last_hour(
    records: tuple[Record, ...], counted: int
) -> None:
    current = state(2, 1, pods=pods(1, 0, failing=1))
    assert effective_restarts(current, history(*records), NOW) == counted


_LADDER = "  reliability:\n    max_restart_count: 4\n    rollback_threshold: 2\n"
_NO_ROLLBACK = _LADDER + "    rollback_on_failure: false\n"


@pytest.mark.parametrize(
    ("extra", "ready", "pod_states", "revision", "action", "reason"),
    [
        pytest.param(_LADDER, 1, pods(1, 0, failing=1), 2, Action.RESTART, Reason.PODS_FAILING,
                     id="one under the rollback threshold: restart"),
        pytest.param(_LADDER, 1, pods(2, 0, failing=1), 2, Action.ROLLBACK,
                     Reason.ROLLBACK_THRESHOLD, id="at the rollback threshold: roll back"),
        pytest.param(_LADDER, 1, pods(3, 0, failing=1), 2, Action.ROLLBACK,
                     Reason.ROLLBACK_THRESHOLD, id="one under the most restarts: roll back"),
        pytest.param(_LADDER, 1, pods(4, 0, failing=1), 2, Action.ESCALATE, Reason.MAX_RESTARTS,
                     id="at the most restarts: escalate"),
        pytest.param(_LADDER, 1, pods(5, 0, failing=1), 2, Action.ESCALATE, Reason.MAX_RESTARTS,
                     id="beyond the most restarts: escalate"),
        pytest.param(_NO_ROLLBACK, 1, pods(3, 0, failing=1), 2, Action.RESTART,
                     Reason.PODS_FAILING, id="no rollback on failure: restart past the threshold"),
        pytest.param(_NO_ROLLBACK, 1, pods(4, 0, failing=1), 2, Action.ESCALATE,
                     Reason.MAX_RESTARTS, id="no rollback on failure: still escalates"),
        pytest.param(_LADDER, 0, pods(0, 0, failing=2), 2, Action.ROLLBACK,
                     Reason.WIDESPREAD_FAILURE, id="every pod down: roll back at once"),
        pytest.param(_LADDER, 0, pods(5, 5, failing=2), 2, Action.ROLLBACK,
                     Reason.WIDESPREAD_FAILURE, id="every pod down beats the most restarts"),
        pytest.param(_LADDER, 0, pods(0, 0, failing=2), 1, Action.RESTART, Reason.PODS_FAILING,
                     id="every pod down on the first revision: nothing to roll back to"),
        pytest.param(_NO_ROLLBACK, 0, pods(0, 0, failing=2), 2, Action.RESTART,
                     Reason.PODS_FAILING, id="every pod down, no rollback on failure"),
        pytest.param(_LADDER, 0, pods(0, 0, failing=1), 2, Action.RESTART, Reason.PODS_FAILING,
                     id="none ready but one pod not failing: not everyone"),
        pytest.param(_LADDER, 1, pods(0, 0, failing=2), 2, Action.RESTART, Reason.PODS_FAILING,
                     id="every pod failing but one ready counted: not everyone"),
    ],
)  # fmt: skip
def test_the_ladder_at_each_edge(
    extra: str,
    ready: int,
    pod_states: tuple[PodState, ...],
    revision: int,
    action: Action,
    reason: Reason,
) -> None:
    """Each rung at its threshold and one either side (max_restart_count 4, rollback_threshold
    2); every pod down rolls back first, but only with a revision to go back to."""
    decision = decide_recovery(
        blueprint(extra=extra),
        state(2, ready, pods=pod_states, revision=revision),
        metrics(None, None, None),
        history(),
        NOW,
    )
    assert decision is not None and (decision.action, decision.reason) == (action, reason)
    assert decision.rule is DecisionRule.RECOVERY
    # A recovery never resizes the deployment.
    assert (decision.current_replicas, decision.target_replicas, decision.desired_replicas) == (
        2,
        2,
        2,
    )


def test_a_recovery_decision_records_what_it_counted_and_why() -> None:
    current = state(3, 1, pods=pods(1, 0, 2, failing=2), revision=4)
    read_from = Provenance(commit="c0ffee", blobs={"blueprints/web/blueprint.yaml": "b10b"})
    bp = dataclass_replace(blueprint(extra=_LADDER), provenance=read_from)
    decision = decide_recovery(bp, current, metrics(None, None, None), history(_restarted(60)), NOW)
    assert decision is not None and decision.action is Action.ROLLBACK
    assert decision.provenance == read_from
    assert (decision.service, decision.at, decision.blueprint_version) == ("web", NOW, "1.0.0")
    assert decision.inputs == {
        "replicas": 3,
        "ready_replicas": 1,
        "failing_pods": ["p0", "p1"],
        "restart_count": 2,
        "effective_restarts": 3,
        "revision": 4,
    }
    assert decision.references == (
        "spec.reliability.max_restart_count",
        "spec.reliability.rollback_threshold",
        "spec.reliability.rollback_on_failure",
    )
    assert decision.rationale == (
        "2 of 3 pods failing: p0 (CrashLoopBackOff, 1 restarts), p1 (CrashLoopBackOff, 0 "
        "restarts). Restarts counted: 3 (including the reconciler's own restarts this hour). "
        "That reaches rollback_threshold (2): rolling back to the previous revision."
    )
    assert decision.id.startswith("dec-")

    # The same inputs are the same decision; each input changed alone is another one.
    def again(
        blueprint_: Blueprint = bp,
        state_: DeploymentState = current,
        records: tuple[Record, ...] = (_restarted(60),),
        at: datetime = NOW,
    ) -> Decision | None:
        return decide_recovery(blueprint_, state_, metrics(None, None, None), history(*records), at)

    same = again()
    assert same is not None and same.id == decision.id
    api = dataclass_replace(bp, metadata=dataclass_replace(bp.metadata, name="api"))
    variants = {
        "another moment": again(at=NOW + timedelta(seconds=1)),
        "another history": again(records=(_restarted(60), _restarted(7200, operation="x"))),
        "another count": again(state_=state(3, 1, pods=pods(1, 0, 1, failing=2), revision=4)),
        "another service": again(blueprint_=api),
        "another rung": again(blueprint_=blueprint(extra=_NO_ROLLBACK)),
    }
    assert {
        name: (d.action, d.inputs["effective_restarts"]) for name, d in variants.items() if d
    } == {
        "another moment": (Action.ROLLBACK, 3),
        "another history": (Action.ROLLBACK, 3),
        "another count": (Action.ROLLBACK, 2),
        "another service": (Action.ROLLBACK, 3),
        "another rung": (Action.RESTART, 3),
    }
    assert len({decision.id, *(d.id for d in variants.values() if d)}) == 6


# --- margins, one row at each edge ------------------------------------------------------------
#
# Latency and errors count as worse than before only past BOTH margins: 10 % more than the
# baseline AND more than an absolute step (5 ms; 0.1 percentage points). Either one alone is
# noise: a change judged on it would be rolled back on jitter and feed the circuit breaker.
# CPU and memory are checked against the expected value within a RELATIVE 10 %.

TIGHT = blueprint(extra="  performance:\n    latency_p95: 20ms\n    error_rate_max: 0.1%\n")


def pending_with(baseline: dict[str, float], expected: dict[str, float]) -> Pending:
    from reconciler.core.decide.pending import pending_from

    record = executed(target=3)
    details = {**record.details, "baseline": baseline, "expected": expected}
    return pending_from(dataclass_replace(record, details=details), TIGHT)


@pytest.mark.parametrize(
    ("baseline", "latency", "errors", "outcome", "worse"),
    [
        pytest.param(30.0, 33.5, 0.0, VerificationOutcome.PARTIAL, [], id="latency +12%, +3.5ms"),
        pytest.param(30.0, 35.0, 0.0, VerificationOutcome.PARTIAL, [], id="latency +5ms exactly"),
        pytest.param(
            30.0, 35.5, 0.0, VerificationOutcome.FAILED, ["latency_p95"], id="latency +18%, +5.5ms"
        ),
        pytest.param(100.0, 108.0, 0.0, VerificationOutcome.PARTIAL, [], id="latency +8%, +8ms"),
        pytest.param(100.0, 110.0, 0.0, VerificationOutcome.PARTIAL, [], id="latency +10% exactly"),
        # 80 × 1.1 is 88 exactly in floating point too (100 × 1.1 is a little above 110).
        pytest.param(80.0, 88.0, 0.0, VerificationOutcome.PARTIAL, [], id="latency +10%, 88 = 88"),
        pytest.param(
            100.0, 111.0, 0.0, VerificationOutcome.FAILED, ["latency_p95"], id="latency +11%, +11ms"
        ),
    ],
)
def test_latency_margins(baseline, latency, errors, outcome, worse) -> None:  # type: ignore[no-untyped-def]
    result = verify(
        pending_with({**BASELINE, "latency_p95_ms": baseline, "error_rate": 0.0}, {}),
        TIGHT,
        state(3),
        metrics(0.3, 0.3, latency, error_rate=errors),
        NOW,
    )
    assert [c.check for c in result.checks if c.worse] == worse, result.summary
    assert result.outcome is outcome, result.summary
    assert result.rollback is (outcome is VerificationOutcome.FAILED)


@pytest.mark.parametrize(
    ("baseline", "errors", "outcome", "worse"),
    [
        pytest.param(
            0.002, 0.0025, VerificationOutcome.PARTIAL, [], id="errors +25%, +0.05 points"
        ),
        pytest.param(
            0.002,
            0.0031,
            VerificationOutcome.FAILED,
            ["error_rate"],
            id="errors +55%, +0.11 points",
        ),
        pytest.param(
            0.02, 0.0215, VerificationOutcome.PARTIAL, [], id="errors +7.5%, +0.15 points"
        ),
        # 0.016 × 1.1 is 0.0176 exactly in floating point: +10% is not more than 10%.
        pytest.param(
            0.016, 0.0176, VerificationOutcome.PARTIAL, [], id="errors +10% exactly, +0.16 points"
        ),
        pytest.param(
            0.02,
            0.0225,
            VerificationOutcome.FAILED,
            ["error_rate"],
            id="errors +12.5%, +0.25 points",
        ),
    ],
)
def test_error_rate_margins(baseline, errors, outcome, worse) -> None:  # type: ignore[no-untyped-def]
    result = verify(
        pending_with({**BASELINE, "latency_p95_ms": 10.0, "error_rate": baseline}, {}),
        TIGHT,
        state(3),
        metrics(0.3, 0.3, 10.0, error_rate=errors),
        NOW,
    )
    assert [c.check for c in result.checks if c.worse] == worse, result.summary
    assert result.outcome is outcome, result.summary


@pytest.mark.parametrize(
    ("cpu", "memory", "failed"),
    [
        pytest.param(0.41, 0.3, [], id="cpu 0.035 above 37.5%: within 10% of it"),
        pytest.param(0.34, 0.3, [], id="cpu 0.035 below 37.5%: within 10% of it"),
        pytest.param(0.42, 0.3, ["cpu_utilization"], id="cpu 0.045 above 37.5%"),
        pytest.param(0.33, 0.3, ["cpu_utilization"], id="cpu 0.045 below 37.5%"),
        pytest.param(0.375, 0.329, [], id="memory 0.029 above 30%"),
        pytest.param(0.375, 0.331, ["memory_utilization"], id="memory 0.031 above 30%"),
        pytest.param(0.375, 0.269, ["memory_utilization"], id="memory 0.031 below 30%"),
    ],
)
def test_utilization_is_judged_within_a_relative_tolerance(cpu, memory, failed) -> None:  # type: ignore[no-untyped-def]
    expected = {"cpu_utilization": 0.375, "memory_utilization": 0.3}
    result = verify(
        pending_with({**BASELINE, "latency_p95_ms": 10.0, "error_rate": 0.0}, expected),
        TIGHT,
        state(3),
        metrics(cpu, memory, 10.0, error_rate=0.0),
        NOW,
    )
    assert [c.check for c in result.checks if c.status is CheckStatus.FAILED] == failed
    # Off the expectation is a missed target, not harm: never a rollback on its own.
    assert result.outcome is (VerificationOutcome.PARTIAL if failed else VerificationOutcome.PASSED)


@pytest.mark.parametrize(
    ("cpu", "memory", "failed"),
    [
        pytest.param(0.69, 0.79, [], id="just under both targets"),
        pytest.param(0.70, 0.79, ["cpu_utilization"], id="cpu exactly at its target"),
        pytest.param(0.69, 0.80, ["memory_utilization"], id="memory exactly at its target"),
    ],
)
def test_without_an_expectation_utilization_is_held_to_the_target(cpu, memory, failed) -> None:  # type: ignore[no-untyped-def]
    result = verify(
        pending_with({**BASELINE, "latency_p95_ms": 10.0, "error_rate": 0.0}, {}),
        TIGHT,
        state(3),
        metrics(cpu, memory, 10.0, error_rate=0.0),
        NOW,
    )
    assert [c.check for c in result.checks if c.status is CheckStatus.FAILED] == failed


def test_a_check_records_what_was_measured_and_no_baseline_where_none_was_recorded() -> None:
    """The verification record's table: each check's measured value against what it was held
    to, and a baseline only where the operation recorded one (here neither latency nor the
    error rate was known before it)."""
    before = {k: v for k, v in BASELINE.items() if k not in ("latency_p95_ms", "error_rate")}
    result = verify(
        pending_with(before, {}), TIGHT, state(3), metrics(0.69, 0.2, None, error_rate=0.0), NOW
    )
    table = {
        c.check: (c.severity, c.expected, c.actual, c.status, c.baseline) for c in result.checks
    }
    assert table["cpu_utilization"] == (Severity.HIGH, "< 70%", "69%", CheckStatus.PASSED, None)
    assert table["memory_utilization"] == (Severity.HIGH, "< 80%", "20%", CheckStatus.PASSED, None)
    assert table["latency_p95"] == (
        Severity.CRITICAL,
        "< 20ms",
        "unknown",
        CheckStatus.SKIPPED,
        None,
    )
    assert table["error_rate"] == (Severity.CRITICAL, "< 0.1%", "0%", CheckStatus.PASSED, None)
    assert result.outcome is VerificationOutcome.PASSED and not result.rollback


# --- timing edges and the demand rule ---------------------------------------------------------


@pytest.mark.parametrize(
    ("late", "rollback", "skipped"),
    [
        pytest.param(timedelta(hours=1), False, False, id="exactly an hour late: verified"),
        pytest.param(timedelta(hours=1, seconds=1), False, True, id="later: not verifiable"),
        pytest.param(timedelta(hours=5), True, False, id="a rollback is always verified"),
    ],
)
def test_too_late(late: timedelta, rollback: bool, skipped: bool) -> None:
    from reconciler.core.decide.verification import too_late

    due = pending()
    if rollback:
        due = dataclass_replace(due, reverts="op-0")
    result = too_late(due, seed_blueprint(), due.due + late)
    assert (result is not None) is skipped
    if result is not None:
        assert result.skipped and result.outcome is VerificationOutcome.PARTIAL
        assert not result.rollback and result.checks == ()


@pytest.mark.parametrize(
    ("after", "starting"),
    [
        pytest.param(timedelta(minutes=2) - timedelta(seconds=1), 1, id="within the grace"),
        pytest.param(timedelta(minutes=2), 0, id="the grace is over"),
    ],
)
def test_still_starting_waits_for_unready_pods_without_a_failure_reason(
    after: timedelta, starting: int
) -> None:
    from reconciler.core.decide.verification import still_starting

    due = pending()
    pod_states = (
        PodState(name="ok", ready=True),
        PodState(name="starting", ready=False),
        PodState(name="crashing", ready=False, reason="CrashLoopBackOff"),
    )
    assert still_starting(due, state(3, 1, pods=pod_states), due.due + after) == starting


@pytest.mark.parametrize(
    ("throughput", "outcome"),
    [
        pytest.param(110.0, VerificationOutcome.FAILED, id="requests +10%: noise, rolled back"),
        pytest.param(111.0, VerificationOutcome.PARTIAL, id="requests +11%: the load grew, kept"),
    ],
)
def test_worse_latency_with_more_requests_after_a_scale_up_is_kept(
    throughput: float, outcome: VerificationOutcome
) -> None:
    up = pending_with(
        {**BASELINE, "replicas": 2, "latency_p95_ms": 10.0, "error_rate": 0.0, "throughput": 100.0},
        {},
    )
    result = verify(
        up,
        TIGHT,
        state(3),
        metrics(0.3, 0.3, 30.0, error_rate=0.0, throughput=throughput),
        NOW,
    )
    assert result.outcome is outcome, result.summary
    latency = next(c for c in result.checks if c.check == "latency_p95")
    assert latency.status is CheckStatus.FAILED
    assert latency.worse is (outcome is VerificationOutcome.FAILED)


@pytest.mark.parametrize(
    ("cpu_now", "outcome"),
    [
        # 2 replicas at 30% is 0.6 pods' worth of CPU; 3 at 22% is 0.66, exactly 10% more.
        pytest.param(0.22, VerificationOutcome.FAILED, id="CPU in use +10%: noise"),
        pytest.param(0.23, VerificationOutcome.PARTIAL, id="CPU in use +15%: the load grew"),
    ],
)
def test_without_throughput_the_cpu_in_use_tells_whether_the_load_grew(
    cpu_now: float, outcome: VerificationOutcome
) -> None:
    up = pending_with(
        {
            **BASELINE,
            "replicas": 2,
            "cpu_utilization": 0.3,
            "latency_p95_ms": 10.0,
            "error_rate": 0.0,
        },
        {},
    )
    result = verify(up, TIGHT, state(3), metrics(cpu_now, 0.3, 30.0, error_rate=0.0), NOW)
    assert result.outcome is outcome, result.summary


def test_more_errors_with_more_requests_after_a_scale_up_are_kept() -> None:
    """The demand rule covers the error rate as it covers latency: the errors rose with the
    load, and the scale-up is kept."""
    up = pending_with(
        {**BASELINE, "replicas": 2, "latency_p95_ms": 10.0, "error_rate": 0.0, "throughput": 100.0},
        {},
    )
    result = verify(
        up, TIGHT, state(3), metrics(0.3, 0.3, 10.0, error_rate=0.02, throughput=300.0), NOW
    )
    errors = next(c for c in result.checks if c.check == "error_rate")
    assert (errors.status, errors.worse) == (CheckStatus.FAILED, False)
    assert "requests grew from 100/s to 300/s" in errors.note
    assert result.outcome is VerificationOutcome.PARTIAL and not result.rollback


def test_worse_after_a_scale_down_is_never_the_load() -> None:
    down = pending_with(
        {**BASELINE, "replicas": 4, "latency_p95_ms": 10.0, "error_rate": 0.0, "throughput": 100.0},
        {},
    )
    result = verify(
        down, TIGHT, state(3), metrics(0.3, 0.3, 30.0, error_rate=0.0, throughput=500.0), NOW
    )
    assert result.outcome is VerificationOutcome.FAILED


#: A scale-up from 2 to 3 replicas, with latency, errors and CPU known before it: 2 × 30 % in
#: use, as 3 × 22 % is exactly 10 % more.
SCALE_UP = {
    **BASELINE,
    "replicas": 2,
    "cpu_utilization": 0.3,
    "latency_p95_ms": 10.0,
    "error_rate": 0.0,
}


@pytest.mark.parametrize(
    ("before", "change", "now", "outcome"),
    [
        pytest.param(
            {"throughput": 80.0},
            {},
            {"throughput": 88.0},
            VerificationOutcome.FAILED,
            id="requests +10% exactly (88 = 80 x 1.1 in floating point): noise",
        ),
        pytest.param(
            {"throughput": 100.0},
            {"reverts": "op-0"},
            {"throughput": 300.0},
            VerificationOutcome.FAILED,
            id="a rollback that adds replicas is judged on its own, whatever the load",
        ),
        pytest.param(
            {"throughput": 100.0},
            {"target_replicas": None},
            {"throughput": 300.0},
            VerificationOutcome.FAILED,
            id="a change that set no replicas added no capacity to excuse",
        ),
        pytest.param(
            {"throughput": 100.0, "replicas": 3},
            {},
            {"throughput": 300.0},
            VerificationOutcome.FAILED,
            id="replicas set to what they were: no scale-up",
        ),
        pytest.param(
            {"throughput": 100.0, "replicas": None},
            {},
            {"throughput": 300.0},
            VerificationOutcome.FAILED,
            id="replicas before unknown: not known to be a scale-up",
        ),
        pytest.param(
            {},
            {},
            {"cpu": None},
            VerificationOutcome.FAILED,
            id="no throughput and no CPU measured now: nothing shows the load grew",
        ),
        pytest.param(
            {"cpu_utilization": None},
            {},
            {"cpu": 0.9},
            VerificationOutcome.FAILED,
            id="no throughput and no CPU known before: nothing shows the load grew",
        ),
        pytest.param(
            {"throughput": 100.0},
            {},
            {"throughput": None},
            VerificationOutcome.FAILED,
            id="throughput known before only: the CPU in use decides (2 x 30% to 3 x 22%)",
        ),
    ],
)
def test_what_does_not_show_that_the_load_grew(
    before: dict[str, float | None],
    change: dict[str, object],
    now: dict[str, float | None],
    outcome: VerificationOutcome,
) -> None:
    """Worse latency after each of these is blamed on the change: only a scale-up whose load
    is known to have grown by more than 10 % is excused."""
    baseline = {k: v for k, v in {**SCALE_UP, **before}.items() if v is not None}
    up = dataclass_replace(pending_with(baseline, {}), **change)  # type: ignore[arg-type]
    cpu = now.get("cpu", 0.22)
    result = verify(
        up,
        TIGHT,
        state(3),
        metrics(cpu, 0.3, 30.0, error_rate=0.0, throughput=now.get("throughput")),
        NOW,
    )
    latency = next(c for c in result.checks if c.check == "latency_p95")
    assert (latency.status, latency.worse) == (CheckStatus.FAILED, True), latency.note
    assert result.outcome is outcome and result.rollback, result.summary


@pytest.mark.parametrize(
    ("before", "ready", "worse", "outcome"),
    [
        pytest.param((3, 3), 2, True, VerificationOutcome.FAILED, id="one more unready"),
        pytest.param((3, 2), 2, False, VerificationOutcome.PARTIAL, id="as many unready as before"),
        pytest.param((3, 2), 1, True, VerificationOutcome.FAILED, id="two unready, one before"),
        pytest.param((3, None), 2, True, VerificationOutcome.FAILED, id="unready, none known"),
        pytest.param((None, 3), 2, True, VerificationOutcome.FAILED, id="replicas unknown"),
    ],
)
def test_unready_pods_are_worse_only_beyond_those_unready_before(
    before: tuple[int | None, int | None],
    ready: int,
    worse: bool,
    outcome: VerificationOutcome,
) -> None:
    replicas, was_ready = before
    known = {"replicas": replicas, "ready_replicas": was_ready}
    baseline = {k: v for k, v in BASELINE.items() if k not in known}
    baseline.update(latency_p95_ms=10.0, error_rate=0.0)
    baseline.update({k: v for k, v in known.items() if v is not None})
    result = verify(
        pending_with(baseline, {}), TIGHT, state(3, ready), metrics(0.3, 0.3, 10.0), NOW
    )
    pods = next(c for c in result.checks if c.check == "pods_ready")
    assert (pods.status, pods.worse) == (CheckStatus.FAILED, worse)
    assert pods.baseline == (None if None in before else f"{was_ready}/{replicas}")
    assert result.outcome is outcome, result.summary


@pytest.mark.parametrize(
    ("before", "restarts", "status", "outcome"),
    [
        pytest.param(0, 1, CheckStatus.FAILED, VerificationOutcome.FAILED, id="a first restart"),
        pytest.param(None, 1, CheckStatus.FAILED, VerificationOutcome.FAILED, id="none known"),
        pytest.param(2, 2, CheckStatus.PASSED, VerificationOutcome.PASSED, id="as many as before"),
        pytest.param(2, 3, CheckStatus.FAILED, VerificationOutcome.FAILED, id="one more"),
    ],
)
def test_restarts_count_only_beyond_the_most_before(
    before: int | None, restarts: int, status: CheckStatus, outcome: VerificationOutcome
) -> None:
    baseline = {k: v for k, v in BASELINE.items() if k != "restart_count"}
    baseline.update(latency_p95_ms=10.0, error_rate=0.0)
    if before is not None:
        baseline["restart_count"] = before
    pod_states = (
        PodState(name="a", ready=True, restart_count=restarts),
        PodState(name="b", ready=True),
        PodState(name="c", ready=True),
    )
    result = verify(
        pending_with(baseline, {}),
        TIGHT,
        state(3, pods=pod_states),
        metrics(0.3, 0.3, 10.0, error_rate=0.0),
        NOW,
    )
    check = next(c for c in result.checks if c.check == "no_new_restarts")
    assert (check.status, check.worse) == (status, status is CheckStatus.FAILED)
    assert (check.expected, check.baseline) == (f"<= {before or 0}", str(before or 0))
    assert result.outcome is outcome, result.summary


def test_a_failed_target_is_remembered_for_exactly_an_hour() -> None:
    assert 2 in avoid_targets(history(_failed("op-1", -3600)), NOW)
    assert avoid_targets(history(_failed("op-1", -3601)), NOW) == {}


# --- the checks as the audit record shows them ------------------------------------------------


def _check(name: str, severity: str, expected: str, actual: str, status: str, **rest: object):  # type: ignore[no-untyped-def]
    worse = bool(rest.get("worse", False))
    return {
        "check": name,
        "severity": severity,
        "expected": expected,
        "actual": actual,
        "status": status,
        "baseline": rest.get("baseline"),
        "worse_than_baseline": worse,
        "rollback_trigger": worse and status == "failed" and severity == "critical",
        "note": rest.get("note", ""),
    }


def test_every_check_of_a_failed_change_as_recorded() -> None:
    result = verify(
        pending_with(
            {**BASELINE, "latency_p95_ms": 100.0, "error_rate": 0.002},
            {"cpu_utilization": 0.375, "memory_utilization": 0.3},
        ),
        TIGHT,
        state(3),
        metrics(0.42, 0.3, 111.0, error_rate=0.004),
        NOW,
    )
    assert result.outcome is VerificationOutcome.FAILED and result.rollback
    assert [c.to_json() for c in result.checks] == [
        _check("replica_count", "critical", "3", "3", "passed"),
        _check("pods_ready", "critical", "3", "3", "passed", baseline="3/3"),
        _check("cpu_utilization", "high", "≈37.5% (±10%)", "42%", "failed"),
        _check("memory_utilization", "high", "≈30% (±10%)", "30%", "passed"),
        _check(
            "latency_p95", "critical", "< 20ms", "111ms", "failed",
            baseline="100ms", worse=True, note="up 11ms (100ms → 111ms)",
        ),
        _check(
            "error_rate", "critical", "< 0.1%", "0.4%", "failed",
            baseline="0.2%", worse=True, note="up 0.2% (0.2% → 0.4%)",
        ),
        _check("no_new_restarts", "critical", "<= 0", "0", "passed", baseline="0"),
    ]  # fmt: skip


def test_checks_without_data_are_skipped_as_recorded() -> None:
    result = verify(
        pending_with({**BASELINE, "latency_p95_ms": 100.0}, {}),
        TIGHT,
        state(3),
        metrics(None, None, None),
        NOW,
    )
    assert result.outcome is VerificationOutcome.PASSED
    assert [c.to_json() for c in result.checks][2:6] == [
        _check("cpu_utilization", "high", "-", "unknown", "skipped", note="no data"),
        _check("memory_utilization", "high", "-", "unknown", "skipped", note="no data"),
        _check(
            "latency_p95", "critical", "< 20ms", "unknown", "skipped",
            baseline="100ms", note="no data: cannot tell",
        ),
        _check(
            "error_rate", "critical", "< 0.1%", "unknown", "skipped",
            baseline="0.2%", note="no data: cannot tell",
        ),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("baseline", "latency", "throughput", "note"),
    [
        pytest.param(None, 25.0, None, "no baseline: cannot tell whether it got worse", id="none"),
        pytest.param(30.0, 25.0, None, "down 5ms (30ms → 25ms)", id="better"),
        pytest.param(
            10.0,
            30.0,
            300.0,
            "up 20ms (10ms → 30ms); requests grew from 100/s to 300/s, so a scale-up is not "
            "what made it worse",
            id="worse with the load",
        ),
        pytest.param(
            0.0,
            30.0,
            300.0,
            "requests grew from 100/s to 300/s, so a scale-up is not what made it worse",
            id="from nothing, with the load",
        ),
    ],
)
def test_the_latency_check_notes_how_it_moved(
    baseline: float | None, latency: float, throughput: float | None, note: str
) -> None:
    before: dict[str, float] = {"replicas": 2, "throughput": 100.0, "error_rate": 0.0}
    if baseline is not None:
        before["latency_p95_ms"] = baseline
    result = verify(
        pending_with(before, {}),
        TIGHT,
        state(3),
        metrics(0.3, 0.3, latency, error_rate=0.0, throughput=throughput),
        NOW,
    )
    (check,) = [c for c in result.checks if c.check == "latency_p95"]
    assert (check.status, check.worse, check.note) == (CheckStatus.FAILED, False, note)
    assert result.outcome is VerificationOutcome.PARTIAL


def test_requests_that_did_not_grow_at_all_are_no_excuse() -> None:
    """Throughput 0 before and after: `now <= before × 1.1` holds at equality."""
    flat = pending_with(
        {**BASELINE, "replicas": 2, "latency_p95_ms": 10.0, "error_rate": 0.0, "throughput": 0.0},
        {},
    )
    result = verify(
        flat, TIGHT, state(3), metrics(0.3, 0.3, 30.0, error_rate=0.0, throughput=0.0), NOW
    )
    assert result.outcome is VerificationOutcome.FAILED


def test_utilization_exactly_at_the_tolerance_passes() -> None:
    """62.5 % expected, so ±6.25 %: 68.75 % and 56.25 % are at the edge exactly (all three are
    exact binary fractions), and pass."""
    expected = {"cpu_utilization": 0.625, "memory_utilization": 0.625}
    result = verify(
        pending_with({**BASELINE, "latency_p95_ms": 10.0, "error_rate": 0.0}, expected),
        TIGHT,
        state(3),
        metrics(0.6875, 0.5625, 10.0, error_rate=0.0),
        NOW,
    )
    assert [c.status for c in result.checks if "utilization" in c.check] == [
        CheckStatus.PASSED,
        CheckStatus.PASSED,
    ]


def test_latency_exactly_at_its_target_misses_it() -> None:
    result = verify(
        pending_with({**BASELINE, "latency_p95_ms": 20.0, "error_rate": 0.0}, {}),
        TIGHT,
        state(3),
        metrics(0.3, 0.3, 20.0, error_rate=0.0),
        NOW,
    )
    (latency,) = [c for c in result.checks if c.check == "latency_p95"]
    assert (latency.status, latency.worse) == (CheckStatus.FAILED, False)
    assert result.outcome is VerificationOutcome.PARTIAL
