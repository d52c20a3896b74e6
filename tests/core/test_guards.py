"""Per-metric guards beside the weighted utilization: no hot metric hidden by the average.

Each case states its numbers in its name, so a failing test says which arithmetic broke.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from reconciler.core.decide.decision import Action, DecisionRule, Reason, decide
from tests.core.helpers import NOW, blueprint, metrics, seed_blueprint, state

#: The issue's first service: p95 target 150ms, default weights and guards.
P95_150 = "  performance:\n    latency_p95: 150ms\n    error_rate_max: 0.5%\n"


def test_seed_demo_1_still_decided_by_weighted_utilization_81_5_percent() -> None:
    decision = decide(seed_blueprint(), state(2), metrics(0.85, 0.70, 180), now=NOW)
    assert decision.rule is DecisionRule.WEIGHTED and decision.guards == ()
    assert (decision.current_replicas, decision.target_replicas) == (2, 3)
    assert "Guards" not in decision.rationale


def test_p95_200ms_over_150ms_target_with_w_68_percent_scales_2_to_3() -> None:
    bp = blueprint(extra=P95_150)
    decision = decide(bp, state(2), metrics(0.60, 0.60, 200), now=NOW)
    # W = 0.5 × 0.60 + 0.3 × 0.60 + 0.2 × 1 (capped) = 0.68: within the thresholds alone.
    assert decision.weighted.value == pytest.approx(0.68)
    assert decision.rule is DecisionRule.LATENCY_GUARD
    assert (decision.action, decision.target_replicas) == (Action.SCALE_UP, 3)
    # The guard is 1.25 × 150ms = 187.5ms; its estimate ceil(2 × 200 / 150) = 3.
    assert [(g.rule, g.limit, g.estimate) for g in decision.guards] == [
        (DecisionRule.LATENCY_GUARD, 187.5, 3)
    ]
    assert "Latency p95 200ms is above its guard 187.5ms" in decision.rationale
    assert "The largest recommendation decides: latency_guard." in decision.rationale
    assert "spec.scaling.guards.latency_factor" in decision.references


def test_p95_200ms_over_150ms_cpu_90_memory_60_with_3_of_4_ready_w_67_3_scales_4_to_5() -> None:
    """The issue's numbers: with one pod starting, W counts it idle: 0.75 × (0.45 + 0.18) +
    0.2 = 67.3%. The latency guard does not count pods, so it still asks for more."""
    bp = blueprint(extra=P95_150)
    decision = decide(bp, state(4, 3), metrics(0.90, 0.60, 200), now=NOW)
    assert decision.weighted.low == pytest.approx(0.6725)
    assert "gives 67.3%" in decision.rationale
    assert decision.rule is DecisionRule.LATENCY_GUARD
    # ceil(4 × 200 / 150) = 6, step limit +1.
    assert decision.estimate == 6
    assert (decision.action, decision.target_replicas) == (Action.SCALE_UP, 5)


def test_cpu_95_memory_97_7_without_latency_scales_2_to_3_by_the_largest_guard() -> None:
    """W lies between 76.8% and 96.8% with latency missing; the guards do not need it."""
    bp = blueprint(scaling="    scale_up_increment: 4\n")
    decision = decide(bp, state(2), metrics(0.95, 0.977, None), now=NOW)
    assert decision.weighted.value is None
    assert decision.weighted.low == pytest.approx(0.7681)
    # cpu: ceil(2 × 0.95 / 0.70) = 3; memory: ceil(2 × 0.977 / 0.80) = 3 → tie, cpu first.
    assert [(g.rule, g.estimate) for g in decision.guards] == [
        (DecisionRule.CPU_GUARD, 3),
        (DecisionRule.MEMORY_GUARD, 3),
    ]
    assert decision.rule is DecisionRule.CPU_GUARD
    assert (decision.action, decision.target_replicas) == (Action.SCALE_UP, 3)
    assert "depending on the missing latency" in decision.rationale


def test_memory_160_percent_asks_8_and_beats_cpu_91_percent_asking_6() -> None:
    """The largest recommendation wins: memory ceil(4 × 1.6 / 0.8) = 8 beats cpu
    ceil(4 × 0.91 / 0.7) = 6, as the HPA takes the largest of its metrics."""
    bp = blueprint(scaling="    scale_up_increment: 10\n")
    bp = replace(bp, scaling=replace(bp.scaling, max_replicas=10))
    decision = decide(bp, state(4), metrics(0.91, 1.60, 100), now=NOW)
    assert {g.rule: g.estimate for g in decision.guards} == {
        DecisionRule.CPU_GUARD: 6,
        DecisionRule.MEMORY_GUARD: 8,
    }
    assert decision.rule is DecisionRule.MEMORY_GUARD
    assert decision.target_replicas == 8


def test_cpu_at_exactly_90_percent_is_not_past_its_guard() -> None:
    decision = decide(blueprint(), state(3), metrics(0.90, 0.10, 50), now=NOW)
    assert decision.guards == ()
    assert (decision.action, decision.reason) == (Action.NONE, Reason.WITHIN_THRESHOLDS)


def test_guards_are_configured_per_blueprint_cpu_75_past_a_70_percent_guard() -> None:
    bp = blueprint(scaling="    guards:\n      cpu_utilization: 70%\n")
    decision = decide(bp, state(2), metrics(0.75, 0.30, 50), now=NOW)
    assert decision.rule is DecisionRule.CPU_GUARD and decision.target_replicas == 3
    assert decide(blueprint(), state(2), metrics(0.75, 0.30, 50), now=NOW).guards == ()


def test_an_unweighted_metric_has_no_guard_memory_99_with_cpu_only() -> None:
    bp = blueprint(scaling="    metrics:\n      - {type: cpu, weight: 1.0}\n")
    decision = decide(bp, state(2), metrics(0.50, 0.99, 900), now=NOW)
    assert decision.guards == () and decision.action is Action.NONE


def test_a_metric_weighted_0_is_guarded_but_not_averaged_memory_95() -> None:
    bp = blueprint(
        scaling="    metrics:\n      - {type: cpu, weight: 1.0}\n      - {type: memory, weight: 0}\n"
    )
    decision = decide(bp, state(2), metrics(0.50, 0.95, None), now=NOW)
    assert decision.weighted.value == pytest.approx(0.5)
    assert decision.rule is DecisionRule.MEMORY_GUARD and decision.target_replicas == 3


def test_a_guard_never_lets_w_18_percent_scale_down_with_cpu_weighted_0_1() -> None:
    bp = blueprint(
        scaling="    metrics:\n      - {type: cpu, weight: 0.1}\n      - {type: memory, weight: 0.9}\n"
    )
    decision = decide(bp, state(3), metrics(0.95, 0.10, None), now=NOW)
    # W = 0.095 + 0.09 = 18.5% is below the 40% threshold, but CPU is saturated.
    assert decision.action is Action.SCALE_UP and decision.rule is DecisionRule.CPU_GUARD


def test_error_rate_4_percent_over_0_5_with_w_45_percent_is_not_a_capacity_signal() -> None:
    bp = blueprint(extra=P95_150)
    decision = decide(bp, state(3), metrics(0.50, 0.40, 100, error_rate=0.04), now=NOW)
    assert (decision.action, decision.reason) == (Action.NONE, Reason.ERRORS_NOT_CAPACITY)
    assert decision.rule is DecisionRule.ERROR_RATE
    assert decision.rationale.startswith("Error rate 4% is above error_rate_max 0.5%")
    assert "not a capacity signal, so replicas stay at 3" in decision.rationale


def test_error_rate_4_percent_holds_a_scale_down_at_w_20_percent() -> None:
    bp = blueprint(extra=P95_150)
    decision = decide(bp, state(3), metrics(0.20, 0.20, 30, error_rate=0.04), now=NOW)
    assert decision.reason is Reason.ERRORS_NOT_CAPACITY and not decision.needs_window


def test_error_rate_4_percent_plays_no_part_in_a_scale_up_at_w_85_5_percent() -> None:
    bp = blueprint(extra=P95_150)
    decision = decide(bp, state(2), metrics(0.85, 0.85, 120, error_rate=0.04), now=NOW)
    assert decision.rule is DecisionRule.WEIGHTED and decision.target_replicas == 3
    assert "Error rate 4% is above error_rate_max 0.5% (not a capacity signal" in (
        decision.rationale
    )


@pytest.mark.parametrize(
    ("name", "replicas", "ready", "m", "rule"),
    [
        ("above max 7 > 5", 7, 7, (0.5, 0.5, 100), DecisionRule.BOUNDS),
        ("stale metrics", 2, 2, None, DecisionRule.FRESHNESS),
        ("missing memory", 2, 2, (0.5, None, 100), DecisionRule.MISSING),
        ("within thresholds 50%", 2, 2, (0.5, 0.5, 100), DecisionRule.WEIGHTED),
    ],
)
def test_every_decision_names_its_rule(name, replicas, ready, m, rule) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    given = (
        metrics(0.5, 0.5, 100, observed_at=NOW - timedelta(hours=1)) if m is None else metrics(*m)
    )
    decision = decide(blueprint(), state(replicas, ready), given, now=NOW)
    assert decision.rule is rule, (name, decision.rationale)
