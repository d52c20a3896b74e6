"""spec.scaling.behavior in the decision engine: rate policies over the trail's changes, the
selectPolicy, the stabilization windows, and how they compose with the step settings.

Blueprints are parsed from YAML (tests/core/helpers.blueprint), so the loader's defaults and
the engine are tested together. CPU-only weights keep the numbers easy to follow.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from reconciler.core.blueprint.model import (
    Blueprint,
    PolicyType,
    RatePolicy,
    ScalingRules,
    SelectPolicy,
)
from reconciler.core.decide.decision import Action, DecisionRule, Reason, decide
from reconciler.core.decide.rates import Limit, ScaleEvent, down_limit, up_limit
from reconciler.core.errors import BlueprintError
from reconciler.core.observed.observation import Sample
from tests.core.helpers import NOW, blueprint, flat_window, metrics, state

CPU_ONLY = "    metrics:\n      - {type: cpu, weight: 1.0}\n"


def _bp(behavior: str = "", extra: str = "") -> Blueprint:
    """A CPU-only blueprint with max_replicas 40 and `behavior` (YAML) under spec.scaling."""
    text = CPU_ONLY + extra
    if behavior:
        text += "    behavior:\n" + "".join(f"      {line}\n" for line in behavior.splitlines())
    bp = blueprint(text)
    return replace(bp, scaling=replace(bp.scaling, max_replicas=40))


def _events(*moves: tuple[int, int, int]) -> tuple[ScaleEvent, ...]:
    """(seconds ago, before, after) per executed change."""
    return tuple(
        ScaleEvent(at=NOW - timedelta(seconds=ago), before=b, after=a) for ago, b, a in moves
    )


# ---------------------------------------------------------------- rate policies, as a table


UP = ScalingRules(
    policies=(
        RatePolicy(type=PolicyType.PODS, value=4, period=15.0),
        RatePolicy(type=PolicyType.PERCENT, value=100, period=15.0),
    ),
    select=SelectPolicy.MAX,
    stabilization=0.0,
)


@pytest.mark.parametrize(
    ("select", "current", "events", "limit"),
    [
        # Max of 4 pods and 100%: from 2, 2+4 = 6 beats 2×2 = 4; from 10, 20 beats 14.
        (SelectPolicy.MAX, 2, (), 6),
        (SelectPolicy.MAX, 10, (), 20),
        # Min takes the smaller: from 10, 14.
        (SelectPolicy.MIN, 10, (), 14),
        (SelectPolicy.MIN, 2, (), 4),
        # 3 added 10 s ago: the period began at 7 → Max(11, 14) = 14.
        (SelectPolicy.MAX, 10, ((10, 7, 10),), 14),
        # A change exactly 15 s ago has left the period; one 14 s ago has not.
        (SelectPolicy.MAX, 10, ((15, 7, 10),), 20),
        (SelectPolicy.MAX, 10, ((14, 7, 10),), 14),
        # A scale-down within the period gives the room back: began at 12 → 24.
        (SelectPolicy.MAX, 10, ((5, 12, 10),), 24),
        # Disabled: no room at all.
        (SelectPolicy.DISABLED, 10, (), 10),
    ],
)
def test_up_limit_table(
    select: SelectPolicy, current: int, events: tuple[tuple[int, int, int], ...], limit: int
) -> None:
    rules = ScalingRules(policies=UP.policies, select=select, stabilization=0.0)
    assert up_limit(rules, current, _events(*events), NOW).replicas == limit


def test_up_limit_percent_rounds_up_so_one_replica_can_always_be_added() -> None:
    rules = ScalingRules(
        policies=(RatePolicy(type=PolicyType.PERCENT, value=10, period=60.0),),
        select=SelectPolicy.MAX,
        stabilization=0.0,
    )
    # ceil(3 × 1.1) = 4, not 3.
    assert up_limit(rules, 3, (), NOW).replicas == 4


@pytest.mark.parametrize(
    ("select", "current", "events", "limit"),
    [
        # 100% per 15 s: down to 0 (the floor is min_replicas, applied by the engine).
        (SelectPolicy.MAX, 10, (), 0),
        # 50% keeps floor(10 × 0.5) = 5; Pods 2 keeps 8; Max takes the larger change, Min the
        # smaller.
        (SelectPolicy.MAX, 10, (), 5),
        (SelectPolicy.MIN, 10, (), 8),
        # 2 removed 10 s ago: the period began at 12 → Max: floor(12 × 0.5) = 6.
        (SelectPolicy.MAX, 10, ((10, 12, 10),), 6),
        (SelectPolicy.DISABLED, 10, (), 10),
    ],
)
def test_down_limit_table(
    select: SelectPolicy, current: int, events: tuple[tuple[int, int, int], ...], limit: int
) -> None:
    if limit == 0:
        policies: tuple[RatePolicy, ...] = (
            RatePolicy(type=PolicyType.PERCENT, value=100, period=15.0),
        )
    else:
        policies = (
            RatePolicy(type=PolicyType.PERCENT, value=50, period=15.0),
            RatePolicy(type=PolicyType.PODS, value=2, period=15.0),
        )
    rules = ScalingRules(policies=policies, select=select, stabilization=300.0)
    assert down_limit(rules, current, _events(*events), NOW).replicas == limit


_PODS_4 = RatePolicy(type=PolicyType.PODS, value=4, period=15.0)
_PCT_100 = RatePolicy(type=PolicyType.PERCENT, value=100, period=60.0)
_PODS_5 = RatePolicy(type=PolicyType.PODS, value=5, period=15.0)
_PCT_50 = RatePolicy(type=PolicyType.PERCENT, value=50, period=60.0)
_PODS_2 = RatePolicy(type=PolicyType.PODS, value=2, period=15.0)
_PCT_1 = RatePolicy(type=PolicyType.PERCENT, value=1, period=60.0)


def _rules(select: SelectPolicy, *policies: RatePolicy) -> ScalingRules:
    return ScalingRules(policies=policies, select=select, stabilization=0.0)


@pytest.mark.parametrize(
    ("rules", "current", "limit"),
    [
        pytest.param(_rules(SelectPolicy.MAX, _PODS_4, _PCT_100), 4,
                     Limit(replicas=8, policy=_PODS_4, start=4),
                     id="Max, a tie: the first policy written sets it"),
        pytest.param(_rules(SelectPolicy.MIN, _PODS_4, _PCT_100), 4,
                     Limit(replicas=8, policy=_PODS_4, start=4),
                     id="Min, a tie: the first policy written sets it"),
        pytest.param(_rules(SelectPolicy.MIN, _PCT_100, _PODS_4), 10,
                     Limit(replicas=14, policy=_PODS_4, start=10),
                     id="Min: the later policy when it allows fewer"),
        pytest.param(_rules(SelectPolicy.MAX, _PCT_1), 2, Limit(replicas=3, policy=_PCT_1, start=2),
                     id="1% of 2 rounds up to one more"),
        pytest.param(_rules(SelectPolicy.DISABLED, _PODS_4), 7,
                     Limit(replicas=7, policy=None, start=7), id="Disabled: from and to now"),
    ],
)  # fmt: skip
def test_up_limit_names_the_policy_that_set_it(
    rules: ScalingRules, current: int, limit: Limit
) -> None:
    assert up_limit(rules, current, (), NOW) == limit


@pytest.mark.parametrize(
    ("rules", "current", "limit"),
    [
        pytest.param(_rules(SelectPolicy.MAX, _PODS_5, _PCT_50), 10,
                     Limit(replicas=5, policy=_PODS_5, start=10),
                     id="Max, a tie: the first policy written sets it"),
        pytest.param(_rules(SelectPolicy.MIN, _PODS_5, _PCT_50), 10,
                     Limit(replicas=5, policy=_PODS_5, start=10),
                     id="Min, a tie: the first policy written sets it"),
        pytest.param(_rules(SelectPolicy.MIN, _PODS_2, _PCT_50), 10,
                     Limit(replicas=8, policy=_PODS_2, start=10),
                     id="Min: not the later policy when it allows more change"),
        pytest.param(_rules(SelectPolicy.MAX, _PCT_50), 11, Limit(replicas=5, policy=_PCT_50, start=11),
                     id="50% of 11 keeps 5, a whole number of replicas"),
        pytest.param(_rules(SelectPolicy.MAX, _PCT_1), 9, Limit(replicas=8, policy=_PCT_1, start=9),
                     id="1% of 9 keeps floor(8.91) = 8: always one fewer"),
        pytest.param(_rules(SelectPolicy.MAX, _PODS_5), 3, Limit(replicas=0, policy=_PODS_5, start=3),
                     id="never below no replicas"),
        pytest.param(_rules(SelectPolicy.DISABLED, _PODS_2), 7,
                     Limit(replicas=7, policy=None, start=7), id="Disabled: from and to now"),
    ],
)  # fmt: skip
def test_down_limit_names_the_policy_that_set_it(
    rules: ScalingRules, current: int, limit: Limit
) -> None:
    found = down_limit(rules, current, (), NOW)
    assert found == limit
    assert isinstance(found.replicas, int)


# ---------------------------------------------------------------- composition with the steps


def test_no_behavior_block_keeps_the_step_of_one() -> None:
    # CPU 140% at 2 replicas: estimate ceil(2 × 140% / 70%) = 4, step limit +1 → 3, as before.
    decision = decide(_bp(), state(2), metrics(1.4, None, None), now=NOW)
    assert (decision.action, decision.target_replicas, decision.estimate) == (
        Action.SCALE_UP,
        3,
        4,
    )
    assert "step limit +1)" in decision.rationale
    assert "behavior" not in decision.rationale


def test_empty_behavior_block_scales_2_to_4_at_cpu_140_percent_like_an_hpa() -> None:
    # Written behavior, no increment: the estimate 4 is within Max(2 + 4, 2 × 2) = 6.
    decision = decide(_bp("{}"), state(2), metrics(1.4, None, None), now=NOW)
    assert (decision.action, decision.target_replicas) == (Action.SCALE_UP, 4)
    assert decision.rule is DecisionRule.WEIGHTED
    assert "behavior.scaleUp: Pods 4 per 15s from 2 replicas allows 6" in decision.rationale
    assert "spec.scaling.behavior.scaleUp" in decision.references


def test_behavior_caps_a_10_to_30_estimate_at_20_per_period() -> None:
    # CPU 210% at 10: estimate ceil(10 × 3) = 30; Max(14, 20) = 20.
    decision = decide(_bp("{}"), state(10), metrics(2.1, None, None), now=NOW)
    assert (decision.target_replicas, decision.estimate) == (20, 30)
    assert "Percent 100% per 15s from 10 replicas allows 20" in decision.rationale


def test_written_increment_and_behavior_the_stricter_wins() -> None:
    bp = _bp("{}", extra="    scale_up_increment: 2\n")
    decision = decide(bp, state(10), metrics(2.1, None, None), now=NOW)
    assert decision.target_replicas == 12
    assert "step limit +2" in decision.rationale


def test_changes_within_the_period_use_up_the_room() -> None:
    bp = _bp("scaleUp:\n  policies: [{type: Pods, value: 2, periodSeconds: 60}]")
    changes = _events((30, 4, 6))
    decision = decide(bp, state(6), metrics(1.4, None, None), now=NOW, changes=changes)
    assert (decision.action, decision.reason, decision.rule) == (
        Action.NONE,
        Reason.RATE_LIMITED,
        DecisionRule.BEHAVIOR,
    )
    assert decision.target_replicas == 6
    assert decision.rationale.endswith(
        "Not scaling up yet: behavior.scaleUp: Pods 2 per 60s from 4 replicas allows 6, which "
        "the changes executed in the last 60s have used up."
    )
    # 61 s later the change has left the period: 6 → 8.
    later = decide(
        bp, state(6), metrics(1.4, None, None), now=NOW + timedelta(seconds=31), changes=changes
    )
    assert (later.action, later.target_replicas) == (Action.SCALE_UP, 8)


def test_scale_up_disabled_holds_even_at_cpu_200_percent() -> None:
    bp = _bp("scaleUp: {selectPolicy: Disabled}")
    decision = decide(bp, state(2), metrics(2.0, None, None), now=NOW)
    assert (decision.action, decision.reason, decision.rule) == (
        Action.NONE,
        Reason.SCALING_DISABLED,
        DecisionRule.BEHAVIOR,
    )
    assert decision.rationale.endswith("Not scaling up: behavior.scaleUp.selectPolicy is Disabled.")
    assert decision.target_replicas == 2 and decision.beyond_limits is None


def test_beyond_max_the_proposal_is_limited_by_the_behavior_too() -> None:
    bp = _bp("scaleUp:\n  policies: [{type: Pods, value: 3, periodSeconds: 15}]")
    bp = replace(bp, scaling=replace(bp.scaling, max_replicas=5))
    decision = decide(bp, state(5), metrics(3.0, None, None), now=NOW)
    assert (decision.action, decision.reason) == (Action.SCALE_UP, Reason.AT_MAX)
    assert (decision.target_replicas, decision.beyond_limits) == (5, 8)


# ---------------------------------------------------------------- scale-down


def test_scale_down_10_to_5_with_50_percent_per_minute() -> None:
    bp = _bp("scaleDown:\n  policies: [{type: Percent, value: 50, periodSeconds: 60}]")
    low = metrics(0.07, None, None)
    window = [Sample(at=s.at, cpu_utilization=0.07) for s in flat_window(0.07, 0, 0)]
    decision = decide(bp, state(10), low, now=NOW, window=window)
    # Estimate ceil(10 × 7% / 70%) = 1; 50% of 10 keeps 5.
    assert (decision.action, decision.target_replicas, decision.estimate) == (
        Action.SCALE_DOWN,
        5,
        1,
    )
    assert "behavior.scaleDown: Percent 50% per 60s from 10 replicas allows 5" in (
        decision.rationale
    )


def test_scale_down_used_up_by_a_change_in_the_period() -> None:
    bp = _bp("scaleDown:\n  policies: [{type: Pods, value: 1, periodSeconds: 60}]")
    window = [Sample(at=s.at, cpu_utilization=0.07) for s in flat_window(0.07, 0, 0)]
    decision = decide(
        bp,
        state(4),
        metrics(0.07, None, None),
        now=NOW,
        window=window,
        changes=_events((20, 5, 4)),
    )
    assert (decision.action, decision.reason, decision.rule) == (
        Action.NONE,
        Reason.RATE_LIMITED,
        DecisionRule.BEHAVIOR,
    )
    # Held at 4, with the estimate it would have stepped toward (ceil(4 × 7% / 70%) = 1)
    # and the policy whose room the 5 -> 4 used up.
    assert (decision.target_replicas, decision.estimate) == (4, 1)
    assert decision.references[-1] == "spec.scaling.behavior.scaleDown"
    assert decision.rationale.endswith(
        "Not scaling down yet: behavior.scaleDown: Pods 1 per 60s from 5 replicas allows 4, "
        "which the changes executed in the last 60s have used up."
    )


def test_scale_down_disabled_does_not_even_ask_for_the_history() -> None:
    bp = _bp("scaleDown: {selectPolicy: Disabled}")
    decision = decide(bp, state(4), metrics(0.07, None, None), now=NOW)
    assert (decision.reason, decision.needs_window) == (Reason.SCALING_DISABLED, False)
    assert (decision.action, decision.rule, decision.target_replicas) == (
        Action.NONE,
        DecisionRule.BEHAVIOR,
        4,
    )
    assert decision.rationale.endswith(
        "Not scaling down: behavior.scaleDown.selectPolicy is Disabled."
    )


def test_behavior_window_sets_the_scale_down_window() -> None:
    bp = _bp("scaleDown: {stabilizationWindowSeconds: 60}")
    assert bp.scaling.scale_down_stabilization == 60.0
    window = [
        Sample(at=NOW - timedelta(seconds=s), cpu_utilization=0.07) for s in range(60, -1, -15)
    ]
    decision = decide(bp, state(4), metrics(0.07, None, None), now=NOW, window=window)
    assert (decision.action, decision.target_replicas) == (Action.SCALE_DOWN, 1)


# ---------------------------------------------------------------- scale-up stabilization


def test_scale_up_window_takes_the_lowest_recommendation() -> None:
    bp = _bp("scaleUp: {stabilizationWindowSeconds: 60}")
    first = decide(bp, state(2), metrics(1.4, None, None), now=NOW)
    assert (first.reason, first.needs_window) == (Reason.STABILIZING, True)
    # 60 s of CPU 105% (estimate 3) and now 140% (estimate 4): the lowest, 3, wins.
    window = [
        Sample(at=NOW - timedelta(seconds=s), cpu_utilization=1.05) for s in range(60, 0, -15)
    ]
    decision = decide(bp, state(2), metrics(1.4, None, None), now=NOW, window=window)
    assert (decision.action, decision.target_replicas, decision.estimate) == (
        Action.SCALE_UP,
        3,
        3,
    )
    # One sample in the window that asked for nothing holds the scale-up back.
    window.append(Sample(at=NOW - timedelta(seconds=5), cpu_utilization=0.5))
    held = decide(bp, state(2), metrics(1.4, None, None), now=NOW, window=window)
    assert (held.action, held.reason, held.rule) == (
        Action.NONE,
        Reason.STABILIZING,
        DecisionRule.BEHAVIOR,
    )


# ---------------------------------------------------------------- validation


def test_conflicting_scale_down_windows_are_an_error_at_the_behavior_line() -> None:
    with pytest.raises(BlueprintError) as raised:
        _bp(
            "scaleDown: {stabilizationWindowSeconds: 60}",
            extra="    scale_down_stabilization: 5m\n",
        )
    (problem,) = [p for p in raised.value.problems if p.code == "behavior.window_conflict"]
    assert "scaleDown.stabilizationWindowSeconds" in problem.path
    assert problem.line == 13  # the `scaleDown: {stabilizationWindowSeconds: 60}` line


@pytest.mark.parametrize(
    ("behavior", "field"),
    [
        ("scaleUp: {selectPolicy: Fastest}", "selectPolicy"),
        ("scaleUp:\n  policies: [{type: Pods, value: 0, periodSeconds: 15}]", "value"),
        ("scaleUp:\n  policies: [{type: Pods, value: 1, periodSeconds: 1801}]", "periodSeconds"),
        ("scaleDown: {stabilizationWindowSeconds: 3601}", "stabilizationWindowSeconds"),
        ("scaleUp:\n  policies: [{type: Nodes, value: 1, periodSeconds: 15}]", "type"),
        ("scaleSideways: {}", "scaleSideways"),
    ],
)
def test_bad_behavior_is_a_schema_error_naming_the_field(behavior: str, field: str) -> None:
    with pytest.raises(BlueprintError) as raised:
        _bp(behavior)
    assert any(field in p.path and p.line is not None for p in raised.value.problems), [
        (p.path, p.message) for p in raised.value.problems
    ]


# ---------------------------------------------------------------- properties


def _policy_yaml(kind: str, value: int, period: int) -> str:
    return f"{{type: {kind}, value: {value}, periodSeconds: {period}}}"


@st.composite
def _up_case(draw: st.DrawFn) -> tuple[Blueprint, int, float, tuple[ScaleEvent, ...]]:
    """A scale-up always asked (CPU-only W above 80%), under random rate policies and random
    executed changes, some within their periods and some not."""
    policies = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["Pods", "Percent"]), st.integers(1, 200), st.integers(1, 600)
            ),
            min_size=1,
            max_size=3,
        )
    )
    select = draw(st.sampled_from(["Max", "Min"]))
    increment = draw(st.one_of(st.none(), st.integers(1, 8)))
    body = ", ".join(_policy_yaml(*p) for p in policies)
    bp = _bp(
        f"scaleUp:\n  selectPolicy: {select}\n  policies: [{body}]",
        extra="" if increment is None else f"    scale_up_increment: {increment}\n",
    )
    current = draw(st.integers(1, 20))
    cpu = draw(st.floats(0.81, 3.0))
    moves = draw(st.lists(st.tuples(st.integers(0, 700), st.integers(1, 4)), max_size=4))
    events = tuple(
        ScaleEvent(at=NOW - timedelta(seconds=ago), before=current - d, after=current)
        for ago, d in moves
    )
    return bp, current, cpu, events


@settings(max_examples=150, deadline=None)
@given(case=_up_case())
@example(case=(_bp("{}"), 2, 1.4, ()))
@example(case=(_bp("scaleUp: {selectPolicy: Min}"), 10, 2.1, ()))
@example(case=(_bp("{}"), 20, 3.0, _events((14, 16, 20))))
def test_a_scale_up_always_steps_exactly_to_the_smallest_of_estimate_increment_and_behavior(
    case: tuple[Blueprint, int, float, tuple[ScaleEvent, ...]],
) -> None:
    bp, current, cpu, events = case
    decision = decide(bp, state(current), metrics(cpu, None, None), now=NOW, changes=events)
    assert bp.scaling.behavior is not None
    limit = up_limit(bp.scaling.behavior.scale_up, current, events, NOW).replicas
    estimate = decision.estimate
    assert estimate is not None and estimate > current
    step = estimate - current
    if bp.scaling.scale_up_increment is not None:
        step = min(step, bp.scaling.scale_up_increment)
    if limit <= current:
        assert (decision.action, decision.reason, decision.rule) == (
            Action.NONE,
            Reason.RATE_LIMITED,
            DecisionRule.BEHAVIOR,
        )
        assert decision.target_replicas == current and decision.beyond_limits is None
        return
    desired = current + min(step, limit - current)
    assert decision.action is Action.SCALE_UP
    assert decision.desired_replicas == desired
    assert decision.target_replicas == min(desired, bp.scaling.max_replicas)


@st.composite
def _down_case(draw: st.DrawFn) -> tuple[Blueprint, int, float, tuple[ScaleEvent, ...]]:
    """A scale-down always proven (CPU-only, a flat low window), under random rate policies
    and random executed scale-downs."""
    policies = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["Pods", "Percent"]), st.integers(1, 100), st.integers(1, 600)
            ),
            min_size=1,
            max_size=3,
        )
    )
    select = draw(st.sampled_from(["Max", "Min"]))
    increment = draw(st.one_of(st.none(), st.integers(1, 8)))
    body = ", ".join(_policy_yaml(*p) for p in policies)
    bp = _bp(
        f"scaleDown:\n  selectPolicy: {select}\n  policies: [{body}]",
        extra="" if increment is None else f"    scale_down_increment: {increment}\n",
    )
    current = draw(st.integers(2, 30))
    cpu = draw(st.floats(0.0, 0.39))
    moves = draw(st.lists(st.tuples(st.integers(0, 700), st.integers(1, 4)), max_size=4))
    events = tuple(
        ScaleEvent(at=NOW - timedelta(seconds=ago), before=current + d, after=current)
        for ago, d in moves
    )
    return bp, current, cpu, events


@settings(max_examples=150, deadline=None)
@given(case=_down_case())
@example(case=(_bp("{}"), 10, 0.07, ()))
@example(case=(_bp("scaleDown: {selectPolicy: Min}"), 2, 0.0, ()))
@example(
    case=(
        _bp("scaleDown:\n  policies: [{type: Pods, value: 1, periodSeconds: 60}]"),
        4,
        0.07,
        _events((20, 5, 4)),
    )
)
def test_a_proven_scale_down_always_steps_to_the_largest_of_estimate_increment_behavior_and_floor(
    case: tuple[Blueprint, int, float, tuple[ScaleEvent, ...]],
) -> None:
    bp, current, cpu, events = case
    window = [
        Sample(at=NOW - timedelta(seconds=s), cpu_utilization=cpu) for s in range(300, -1, -15)
    ]
    decision = decide(
        bp, state(current), metrics(cpu, None, None), now=NOW, window=window, changes=events
    )
    assert bp.scaling.behavior is not None
    estimate = math.ceil(current * cpu / bp.scaling.target_cpu_utilization - 1e-9)
    if estimate >= current:
        assert decision.reason is Reason.ESTIMATE_UNCHANGED
        return
    step = current - estimate
    if bp.scaling.scale_down_increment is not None:
        step = min(step, bp.scaling.scale_down_increment)
    limit = down_limit(bp.scaling.behavior.scale_down, current, events, NOW).replicas
    target = max(current - step, bp.scaling.min_replicas, limit)
    if target >= current:
        assert (decision.action, decision.reason, decision.rule) == (
            Action.NONE,
            Reason.RATE_LIMITED,
            DecisionRule.BEHAVIOR,
        )
        return
    assert (decision.action, decision.target_replicas, decision.estimate) == (
        Action.SCALE_DOWN,
        target,
        estimate,
    )


# ---------------------------------------------------------------- boundary rows


def test_scale_up_window_edges_count_and_every_weighted_metric_is_judged() -> None:
    bp = _bp("scaleUp: {stabilizationWindowSeconds: 60}")
    now_high = metrics(1.4, None, None)
    first = decide(bp, state(2), now_high, now=NOW)
    assert (first.action, first.needs_window) == (Action.NONE, True)
    assert first.rationale.endswith(
        "The metric history is needed to confirm the 1m behavior.scaleUp stabilization window."
    )
    # A quiet sample exactly at the window's start, or exactly now, holds the scale-up.
    for at in (NOW - timedelta(seconds=60), NOW):
        held = decide(bp, state(2), now_high, now=NOW, window=[Sample(at=at, cpu_utilization=0.5)])
        assert (held.action, held.reason) == (Action.NONE, Reason.STABILIZING), at
        assert held.rationale.endswith(
            "The lowest recommendation in the 1m behavior.scaleUp stabilization window is 2 "
            "replicas; waiting."
        )
    # Just before the window opens, it does not count.
    early = Sample(at=NOW - timedelta(seconds=61), cpu_utilization=0.5)
    assert decide(bp, state(2), now_high, now=NOW, window=[early]).target_replicas == 4
    lower = Sample(at=NOW - timedelta(seconds=30), cpu_utilization=1.05)
    stepped = decide(bp, state(2), now_high, now=NOW, window=[lower])
    assert stepped.target_replicas == 3
    assert "lowest in the 1m behavior.scaleUp stabilization window 3" in stepped.rationale


@pytest.mark.parametrize(
    ("weights", "sample"),
    [
        ("memory", Sample(at=NOW - timedelta(seconds=30), memory_utilization=1.2)),
        ("latency", Sample(at=NOW - timedelta(seconds=30), latency_p95_ms=400.0)),
    ],
)
def test_scale_up_window_samples_are_judged_on_memory_and_latency_too(
    weights: str, sample: Sample
) -> None:
    bp = blueprint(
        f"    metrics:\n      - {{type: {weights}, weight: 1.0}}\n"
        "    behavior:\n      scaleUp: {stabilizationWindowSeconds: 60}\n"
    )
    now_high = metrics(None, 1.2, None) if weights == "memory" else metrics(None, None, 400.0)
    decision = decide(bp, state(2), now_high, now=NOW, window=[sample])
    assert decision.action is Action.SCALE_UP, decision.rationale


def test_scale_down_rationale_names_the_behavior_only_when_it_limits_or_no_increment_does() -> None:
    window = [Sample(at=s.at, cpu_utilization=0.07) for s in flat_window(0.07, 0, 0)]
    low = metrics(0.07, None, None)
    # No increment: the behavior is named even where it allows more (100% → 0).
    free = decide(_bp("{}"), state(4), low, now=NOW, window=window)
    assert free.target_replicas == 1
    assert "behavior.scaleDown: Percent 100% per 15s from 4 replicas allows 0" in free.rationale
    # Increment 1 and Pods 1 per 60s allow the same 3: the increment alone is named.
    same = decide(
        _bp(
            "scaleDown:\n  policies: [{type: Pods, value: 1, periodSeconds: 60}]",
            extra="    scale_down_increment: 1\n",
        ),
        state(4),
        low,
        now=NOW,
        window=window,
    )
    assert same.target_replicas == 3
    assert "step limit -1, floor min_replicas 1)" in same.rationale
    assert "behavior.scaleDown:" not in same.rationale
