"""The decision engine as tables of cases, plus Hypothesis properties for its invariants."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from reconciler.core.blueprint.model import Blueprint
from reconciler.core.decide.decision import (
    Action,
    DecisionRule,
    Reason,
    decide,
    weighted_utilization,
    window_span,
)
from reconciler.core.ids import make_id
from reconciler.core.observed.observation import Metrics, Sample
from tests.core.helpers import NOW, blueprint, flat_window, metrics, seed_blueprint, state


def test_seed_scenario_numbers() -> None:
    decision = decide(seed_blueprint(), state(2), metrics(0.85, 0.70, 180), now=NOW)
    assert decision.weighted.value == pytest.approx(0.815, abs=1e-12)
    assert [round(c.contribution or 0, 3) for c in decision.weighted.components] == [
        0.425,
        0.21,
        0.18,
    ]
    assert (decision.action, decision.current_replicas, decision.target_replicas) == (
        Action.SCALE_UP,
        2,
        3,
    )
    assert decision.estimate == 3
    assert decision.expected is not None
    assert round(decision.expected.cpu_utilization or 0, 2) == 0.57
    assert round(decision.expected.memory_utilization or 0, 2) == 0.47
    assert decision.id.startswith("dec-20260210-153000-")
    assert "81.5%" in decision.rationale and "80%" in decision.rationale
    assert "latency 180ms/200ms = 90% × 0.2" in decision.rationale
    assert {"spec.scaling.scale_up_threshold", "spec.scaling.max_replicas"} <= set(
        decision.references
    )


CPU_ONLY = "    metrics:\n      - {type: cpu, weight: 1.0}\n"


@pytest.mark.parametrize(
    ("name", "bp_kwargs", "replicas", "ready", "m", "action", "reason", "target", "desired"),
    [
        (
            "within thresholds",
            {},
            3,
            3,
            (0.60, 0.55, 150),
            Action.NONE,
            Reason.WITHIN_THRESHOLDS,
            3,
            3,
        ),
        (
            "exactly at 80% does not scale",
            {"scaling": CPU_ONLY},
            2,
            2,
            (0.80, None, None),
            Action.NONE,
            Reason.WITHIN_THRESHOLDS,
            2,
            2,
        ),
        (
            "just above 80% scales",
            {"scaling": CPU_ONLY},
            2,
            2,
            (0.8001, None, None),
            Action.SCALE_UP,
            Reason.ABOVE_THRESHOLD,
            3,
            3,
        ),
        (
            "demo 2 at max proposes beyond",
            {},
            5,
            5,
            (0.92, 0.85, 280),
            Action.SCALE_UP,
            Reason.AT_MAX,
            5,
            6,
        ),
        (
            "increment splits within and beyond",
            {"scaling": "    scale_up_increment: 3\n"},
            4,
            4,
            (0.99, 0.99, 300),
            Action.SCALE_UP,
            Reason.ABOVE_THRESHOLD,
            5,
            6,
        ),
        (
            "step limited by increment",
            {},
            2,
            2,
            (1.5, 1.5, 400),
            Action.SCALE_UP,
            Reason.ABOVE_THRESHOLD,
            3,
            3,
        ),
        (
            "unready pods count as idle",
            {},
            3,
            2,
            (0.85, 0.70, 180),
            Action.NONE,
            Reason.PODS_NOT_READY,
            3,
            3,
        ),
        (
            "missing latency may still scale up",
            {},
            2,
            2,
            (1.2, 0.9, None),
            Action.SCALE_UP,
            Reason.ABOVE_THRESHOLD,
            3,
            3,
        ),
        (
            "missing latency, undecidable",
            {},
            2,
            2,
            (0.88, 0.85, None),
            Action.NONE,
            Reason.METRICS_MISSING,
            2,
            2,
        ),
        (
            "missing data never scales down",
            {},
            3,
            3,
            (0.1, 0.1, None),
            Action.NONE,
            Reason.METRICS_MISSING,
            3,
            3,
        ),
        ("nothing at all", {}, 3, 3, (None, None, None), Action.NONE, Reason.METRICS_MISSING, 3, 3),
        ("at min with low load", {}, 1, 1, (0.1, 0.1, 20), Action.NONE, Reason.AT_MIN, 1, 1),
        (
            "above max comes back",
            {},
            7,
            7,
            (0.5, 0.5, 100),
            Action.SCALE_DOWN,
            Reason.ABOVE_MAX,
            5,
            5,
        ),
        (
            "below min comes back",
            {"scaling": "    scale_up_increment: 1\n", "extra": ""},
            0,
            0,
            (None, None, None),
            Action.SCALE_UP,
            Reason.BELOW_MIN,
            1,
            1,
        ),
        (
            "low load but pods not ready",
            {},
            3,
            2,
            (0.25, 0.2, 100),
            Action.NONE,
            Reason.PODS_NOT_READY,
            3,
            3,
        ),
    ],
)
def test_decision_table(
    name, bp_kwargs, replicas, ready, m, action, reason, target, desired
) -> None:  # type: ignore[no-untyped-def]
    decision = decide(blueprint(**bp_kwargs), state(replicas, ready), metrics(*m), now=NOW)
    assert (decision.action, decision.reason) == (action, reason), (name, decision.rationale)
    assert (decision.target_replicas, decision.desired_replicas) == (target, desired), name
    assert decision.rationale


def test_demo_2_weighted_is_capped() -> None:
    decision = decide(seed_blueprint(), state(5), metrics(0.92, 0.85, 280), now=NOW)
    assert decision.weighted.value == pytest.approx(0.915)
    assert decision.beyond_limits == 6
    assert "latency 280ms/200ms = 100% (capped)" in decision.rationale


def test_scale_down_needs_the_whole_window() -> None:
    bp = seed_blueprint()
    low = metrics(0.25, 0.20, 100)
    first = decide(bp, state(3), low, now=NOW)
    assert first.needs_window and first.reason is Reason.STABILIZING
    full = decide(bp, state(3), low, now=NOW, window=flat_window(0.25, 0.20, 100))
    assert (full.action, full.target_replicas) == (Action.SCALE_DOWN, 2)
    assert full.weighted.value == pytest.approx(0.285)
    assert full.expected is not None and full.expected.cpu_utilization == pytest.approx(0.375)
    partial = decide(bp, state(3), low, now=NOW, window=flat_window(0.25, 0.20, 100, seconds=120))
    assert partial.reason is Reason.STABILIZING and "2m of the 5m" in partial.rationale
    spike = flat_window(0.25, 0.20, 100)
    spike[5] = Sample(
        at=spike[5].at, cpu_utilization=0.9, memory_utilization=0.9, latency_p95_ms=190
    )
    interrupted = decide(bp, state(3), low, now=NOW, window=spike)
    assert interrupted.action is Action.NONE and interrupted.reason is Reason.STABILIZING
    gap = [s for s in flat_window(0.25, 0.20, 100) if s.at > NOW - timedelta(seconds=200)]
    assert decide(bp, state(3), low, now=NOW, window=gap).reason is Reason.STABILIZING


def test_scale_down_uses_the_highest_utilization_in_the_window() -> None:
    bp = blueprint(scaling="    scale_down_increment: 5\n")
    window = flat_window(0.10, 0.10, 20)
    window[3] = Sample(
        at=window[3].at, cpu_utilization=0.39, memory_utilization=0.3, latency_p95_ms=100
    )
    decision = decide(bp, state(5), metrics(0.10, 0.10, 20), now=NOW, window=window)
    # Highest W in the window is 0.5*0.39 + 0.3*0.3 + 0.2*0.5 = 0.385 → ceil(5 * 0.385 / 0.7) = 3.
    assert (decision.action, decision.target_replicas, decision.estimate) == (
        Action.SCALE_DOWN,
        3,
        3,
    )


def test_stale_metrics_do_nothing() -> None:
    old = metrics(0.95, 0.95, 300, observed_at=NOW - timedelta(minutes=10))
    decision = decide(seed_blueprint(), state(2), old, now=NOW)
    assert (decision.action, decision.reason) == (Action.NONE, Reason.METRICS_STALE)


def test_recently_failed_target_is_not_repeated() -> None:
    decision = decide(
        seed_blueprint(),
        state(2),
        metrics(0.85, 0.70, 180),
        now=NOW,
        avoid={3: "rolled back at 15:20"},
    )
    assert decision.reason is Reason.RECENTLY_FAILED and decision.target_replicas == 2


# --- properties ------------------------------------------------------------------------------

_util = st.one_of(st.none(), st.floats(0, 2, allow_nan=False))
_latency = st.one_of(st.none(), st.floats(0, 2000, allow_nan=False))


@settings(max_examples=400, deadline=None)
@given(
    low=st.integers(1, 5),
    span=st.integers(0, 10),
    replicas=st.integers(0, 20),
    ready_missing=st.integers(0, 3),
    cpu=_util,
    memory=_util,
    latency=_latency,
    up_step=st.integers(1, 4),
    down_step=st.integers(1, 4),
    below=st.booleans(),
)
def test_decision_invariants(
    low, span, replicas, ready_missing, cpu, memory, latency, up_step, down_step, below
) -> None:  # type: ignore[no-untyped-def]
    bounded = blueprint(
        scaling=f"    scale_up_increment: {up_step}\n    scale_down_increment: {down_step}\n"
    )
    bounded = replace(
        bounded, scaling=replace(bounded.scaling, min_replicas=low, max_replicas=low + span)
    )
    ready = max(0, replicas - ready_missing)
    m = metrics(cpu, memory, latency)
    window = flat_window(cpu or 0, memory or 0, latency or 0) if below else None
    decision = decide(bounded, state(replicas, ready), m, now=NOW, window=window)
    lo, hi = bounded.scaling.min_replicas, bounded.scaling.max_replicas
    # 1. What is set now always lies within [min, max].
    if decision.changes:
        assert lo <= decision.target_replicas <= hi
    # 2. Inside the thresholds (and inside the bounds), with no guard past its limit, nothing
    #    moves; a guard past its limit never lets the deployment shrink.
    w = decision.weighted.value
    up, down = bounded.scaling.scale_up_threshold, bounded.scaling.scale_down_threshold
    if lo <= replicas <= hi and w is not None and down <= w <= up and not decision.guards:
        assert not decision.changes and decision.beyond_limits is None
    if lo <= replicas <= hi and decision.guards:
        assert decision.target_replicas >= replicas
    # 3. Missing data never scales down (inside the bounds).
    if lo <= replicas <= hi and None in (cpu, memory, latency):
        assert decision.target_replicas >= replicas
    # 4. Steps respect the increments, unless the deployment is brought back within bounds.
    if lo <= replicas <= hi:
        assert decision.target_replicas - replicas <= up_step
        assert replicas - decision.target_replicas <= down_step


# --- boundaries, one row each ----------------------------------------------------------------
#
# CPU alone weighs 1.0 here, so W is the CPU utilization and every boundary can be written as
# a number: scale_down_threshold 40%, scale_up_threshold 80%, target_cpu_utilization 70%.


def _cpu_blueprint(extra: str = "", min_replicas: int = 1, max_replicas: int = 10) -> Blueprint:
    bp = blueprint(scaling=CPU_ONLY + extra)
    return replace(
        bp,
        scaling=replace(bp.scaling, min_replicas=min_replicas, max_replicas=max_replicas),
    )


def _window(cpu: float, seconds: int = 300, **changed: float) -> list[Sample]:
    """A sample every 15 s over `seconds`, all at `cpu` except `changed` ({"s<age>": cpu})."""
    samples = flat_window(cpu, 0.0, 0.0, seconds=seconds)
    for key, value in changed.items():
        age = int(key[1:])
        samples = [
            replace(s, cpu_utilization=value) if s.at == NOW - timedelta(seconds=age) else s
            for s in samples
        ]
    return samples


@pytest.mark.parametrize(
    ("bp", "replicas", "cpu", "window", "action", "reason", "target"),
    [
        pytest.param(
            _cpu_blueprint(),
            5,
            0.10,
            _window(0.10),
            Action.SCALE_DOWN,
            Reason.BELOW_THRESHOLD,
            4,
            id="the step limit: estimate 1, but one replica per step",
        ),
        pytest.param(
            _cpu_blueprint("    scale_down_increment: 2\n"),
            5,
            0.10,
            _window(0.10),
            Action.SCALE_DOWN,
            Reason.BELOW_THRESHOLD,
            3,
            id="the step limit: -2",
        ),
        pytest.param(
            _cpu_blueprint("    scale_down_increment: 5\n"),
            5,
            0.30,
            _window(0.30),
            Action.SCALE_DOWN,
            Reason.BELOW_THRESHOLD,
            3,
            id="within the step limit the estimate decides: ceil(5 x 30% / 70%) = 3",
        ),
        pytest.param(
            _cpu_blueprint("    scale_down_increment: 5\n", min_replicas=3),
            5,
            0.10,
            _window(0.10),
            Action.SCALE_DOWN,
            Reason.BELOW_THRESHOLD,
            3,
            id="the min_replicas floor: estimate 1, floor 3",
        ),
        pytest.param(
            _cpu_blueprint("    scale_down_increment: 2\n", min_replicas=4),
            5,
            0.10,
            _window(0.10),
            Action.SCALE_DOWN,
            Reason.BELOW_THRESHOLD,
            4,
            id="the min_replicas floor stops a step halfway",
        ),
        pytest.param(
            _cpu_blueprint(),
            3,
            0.40,
            _window(0.10),
            Action.NONE,
            Reason.WITHIN_THRESHOLDS,
            3,
            id="W exactly at scale_down_threshold does nothing, whatever the window",
        ),
        pytest.param(
            _cpu_blueprint(),
            3,
            0.3999,
            _window(0.3999),
            Action.SCALE_DOWN,
            Reason.BELOW_THRESHOLD,
            2,
            id="W just below scale_down_threshold scales down",
        ),
        pytest.param(
            _cpu_blueprint(),
            3,
            0.10,
            _window(0.10, s150=0.40),
            Action.NONE,
            Reason.STABILIZING,
            3,
            id="a window sample exactly at the threshold breaks the proof",
        ),
        pytest.param(
            _cpu_blueprint(),
            3,
            0.10,
            _window(0.10, s150=0.3999),
            Action.SCALE_DOWN,
            Reason.BELOW_THRESHOLD,
            2,
            id="a window sample just below the threshold keeps it, and sets the estimate",
        ),
        pytest.param(
            _cpu_blueprint("    scale_down_increment: 5\n"),
            6,
            0.10,
            _window(0.10, s300=0.9),
            Action.NONE,
            Reason.STABILIZING,
            6,
            id="a sample at the very start of the window is in the window",
        ),
        pytest.param(
            _cpu_blueprint("    scale_down_increment: 5\n"),
            6,
            0.10,
            [*_window(0.10), Sample(at=NOW + timedelta(seconds=15), cpu_utilization=0.9)],
            Action.SCALE_DOWN,
            Reason.BELOW_THRESHOLD,
            1,
            id="a sample after now is not in the window",
        ),
        pytest.param(
            _cpu_blueprint(),
            3,
            0.10,
            _window(0.10, seconds=270),
            Action.SCALE_DOWN,
            Reason.BELOW_THRESHOLD,
            2,
            id="history that starts 30s into the window still covers it",
        ),
        pytest.param(
            _cpu_blueprint(),
            3,
            0.10,
            _window(0.10, seconds=255),
            Action.NONE,
            Reason.STABILIZING,
            3,
            id="history that starts 45s into the window does not",
        ),
        pytest.param(
            _cpu_blueprint(),
            3,
            0.10,
            [],
            Action.NONE,
            Reason.STABILIZING,
            3,
            id="no history at all proves nothing",
        ),
        pytest.param(
            _cpu_blueprint(),
            2,
            0.39,
            _window(0.39),
            Action.NONE,
            Reason.ESTIMATE_UNCHANGED,
            2,
            id="an estimate equal to the replicas keeps them: ceil(2 x 39% / 70%) = 2",
        ),
        pytest.param(
            _cpu_blueprint("    scale_down_increment: 5\n"),
            7,
            0.30,
            _window(0.30),
            Action.SCALE_DOWN,
            Reason.BELOW_THRESHOLD,
            3,
            id="7 x 30% / 70% is 3 despite float noise, not 4",
        ),
        pytest.param(
            _cpu_blueprint(),
            3,
            0.10,
            [*_window(0.10)[:-1], Sample(at=NOW - timedelta(seconds=300))],
            Action.NONE,
            Reason.STABILIZING,
            3,
            id="a window sample without data breaks the proof",
        ),
    ],
)
def test_scale_down_boundaries(  # type: ignore[no-untyped-def]
    bp, replicas, cpu, window, action, reason, target
) -> None:
    decision = decide(bp, state(replicas), metrics(cpu, None, None), now=NOW, window=window)
    assert (decision.action, decision.reason, decision.target_replicas) == (
        action,
        reason,
        target,
    ), decision.rationale
    assert decision.changes is (target != replicas)


@pytest.mark.parametrize(
    ("bp", "replicas", "ready", "cpu", "action", "reason", "target", "desired"),
    [
        pytest.param(
            _cpu_blueprint(),
            2,
            1,
            1.6,
            Action.NONE,
            Reason.PODS_NOT_READY,
            2,
            2,
            id="unready pods as idle: exactly at the threshold waits",
        ),
        pytest.param(
            _cpu_blueprint(),
            2,
            1,
            1.7,
            Action.SCALE_UP,
            Reason.ABOVE_THRESHOLD,
            3,
            3,
            id="unready pods as idle: still above scales up",
        ),
        pytest.param(
            _cpu_blueprint(),
            3,
            0,
            0.9,
            Action.SCALE_UP,
            Reason.ABOVE_THRESHOLD,
            4,
            4,
            id="no pod ready at all: the load is taken as reported",
        ),
        pytest.param(
            _cpu_blueprint("    target_cpu_utilization: 90%\n    scale_up_increment: 3\n"),
            2,
            2,
            0.85,
            Action.SCALE_UP,
            Reason.ABOVE_THRESHOLD,
            3,
            3,
            id="an estimate at the current replicas still adds one",
        ),
        pytest.param(
            _cpu_blueprint("    scale_up_increment: 3\n"),
            2,
            2,
            1.0,
            Action.SCALE_UP,
            Reason.ABOVE_THRESHOLD,
            3,
            3,
            id="within the increment the estimate decides: ceil(2 x 100% / 70%) = 3",
        ),
        pytest.param(
            _cpu_blueprint("    scale_up_increment: 3\n", max_replicas=4),
            3,
            3,
            2.0,
            Action.SCALE_UP,
            Reason.ABOVE_THRESHOLD,
            4,
            6,
            id="beyond max_replicas the rest is proposed",
        ),
        pytest.param(
            _cpu_blueprint(),
            2,
            2,
            0.80,
            Action.NONE,
            Reason.WITHIN_THRESHOLDS,
            2,
            2,
            id="W exactly at scale_up_threshold does nothing",
        ),
    ],
)
def test_scale_up_boundaries(  # type: ignore[no-untyped-def]
    bp, replicas, ready, cpu, action, reason, target, desired
) -> None:
    decision = decide(bp, state(replicas, ready), metrics(cpu, None, None), now=NOW)
    assert (decision.action, decision.reason) == (action, reason), decision.rationale
    assert (decision.target_replicas, decision.desired_replicas) == (target, desired)


# --- properties that reach each branch every time ---------------------------------------------
#
# The open property above draws anything and checks what must hold whatever happens; it reaches
# a proven scale-down only by luck. These draw only inputs of one branch, so each run exercises
# it hundreds of times, with the edges pinned as @example rows.
#
# Every metric is drawn as its normalised share v (cpu v, memory v, latency v x 200 ms), so W is
# a weighted mean of the three shares and lies between their lowest and highest.

_SEED_WEIGHTS = (0.5, 0.3, 0.2)


def _sample(at_age: int, cpu: float, memory: float, latency: float) -> Sample:
    return Sample(
        at=NOW - timedelta(seconds=at_age),
        cpu_utilization=cpu,
        memory_utilization=memory,
        latency_p95_ms=latency * 200,
    )


def _bounded(low: int, high: int, up_step: int = 1, down_step: int = 1) -> Blueprint:
    bp = seed_blueprint()
    return replace(
        bp,
        scaling=replace(
            bp.scaling,
            min_replicas=low,
            max_replicas=high,
            scale_up_increment=up_step,
            scale_down_increment=down_step,
        ),
    )


_LOW = st.floats(0, 0.35)
_low_triple = st.tuples(_LOW, _LOW, _LOW)


@st.composite
def _proven_scale_down(draw: st.DrawFn) -> tuple[int, int, int, int, tuple[float, ...], list]:  # type: ignore[type-arg]
    """Replicas above min_replicas, every pod ready, every metric present and low (W <= 35%),
    and a window with a sample every 15 s over the whole 5 minutes, each as low."""
    low = draw(st.integers(1, 6))
    replicas = draw(st.integers(low + 1, low + 12))
    high = draw(st.integers(replicas, replicas + 3))
    step = draw(st.integers(1, 6))
    now = draw(_low_triple)
    history = [_sample(age, *draw(_low_triple)) for age in range(0, 301, 15)]
    return low, high, replicas, step, now, history


@settings(max_examples=300, deadline=None)
@given(case=_proven_scale_down())
@example(case=(1, 5, 5, 1, (0.1, 0.1, 0.1), [_sample(a, 0.1, 0.1, 0.1) for a in range(0, 301, 15)]))
@example(case=(3, 5, 5, 5, (0.1, 0.1, 0.1), [_sample(a, 0.1, 0.1, 0.1) for a in range(0, 301, 15)]))
@example(
    case=(1, 5, 2, 1, (0.35, 0.35, 0.35), [_sample(a, 0.35, 0.35, 0.35) for a in range(0, 301, 15)])
)
@example(case=(1, 9, 7, 5, (0.3, 0.3, 0.3), [_sample(a, 0.3, 0.3, 0.3) for a in range(0, 301, 15)]))
@example(case=(1, 9, 4, 3, (0.0, 0.0, 0.0), [_sample(a, 0.0, 0.0, 0.0) for a in range(0, 301, 15)]))
def test_a_proven_low_load_always_scales_down_by_the_rules(case) -> None:  # type: ignore[no-untyped-def]
    low, high, replicas, step, (cpu, memory, latency), history = case
    bp = _bounded(low, high, down_step=step)
    decision = decide(
        bp, state(replicas), metrics(cpu, memory, latency * 200), now=NOW, window=history
    )
    assert (decision.action, decision.reason) == (Action.SCALE_DOWN, Reason.BELOW_THRESHOLD), (
        decision.rationale
    )
    highest = max(
        w.value or 0.0
        for w in (
            decision.weighted,
            *(weighted_utilization(bp, s) for s in history),
        )
    )
    assert decision.weighted.value is not None and decision.weighted.value < 0.4
    estimate = math.ceil(replicas * highest / bp.scaling.target_cpu_utilization - 1e-9)
    assert decision.estimate == estimate
    # As low as the load, the step limit and the floor allow, and no lower.
    assert decision.target_replicas == max(low, replicas - step, estimate)
    assert low <= decision.target_replicas < replicas
    assert replicas - decision.target_replicas <= step
    assert decision.expected is not None
    assert decision.expected.replicas == decision.target_replicas


@settings(max_examples=100, deadline=None)
@given(case=_proven_scale_down(), spike=st.floats(0.4, 2.0), at=st.integers(0, 20))
@example(
    case=(1, 5, 5, 1, (0.1, 0.1, 0.1), [_sample(a, 0.1, 0.1, 0.1) for a in range(0, 301, 15)]),
    spike=0.4,
    at=0,
)
@example(
    case=(1, 5, 5, 1, (0.1, 0.1, 0.1), [_sample(a, 0.1, 0.1, 0.1) for a in range(0, 301, 15)]),
    spike=0.4,
    at=20,
)
def test_one_sample_at_or_above_the_threshold_always_holds_a_scale_down(case, spike, at) -> None:  # type: ignore[no-untyped-def]
    low, high, replicas, step, (cpu, memory, latency), history = case
    history = list(history)
    history[at] = _sample(at * 15, spike, spike, spike)
    decision = decide(
        _bounded(low, high, down_step=step),
        state(replicas),
        metrics(cpu, memory, latency * 200),
        now=NOW,
        window=history,
    )
    assert (decision.action, decision.reason) == (Action.NONE, Reason.STABILIZING)
    assert not decision.changes


_HIGH = st.floats(0.81, 2.0)


@settings(max_examples=200, deadline=None)
@given(
    high=st.integers(1, 30),
    step=st.integers(1, 6),
    load=st.tuples(_HIGH, _HIGH, _HIGH),
)
@example(high=5, step=1, load=(0.8001, 0.8001, 0.8001))
@example(high=5, step=3, load=(2.0, 2.0, 2.0))
def test_at_max_replicas_high_load_always_proposes_the_rest(high, step, load) -> None:  # type: ignore[no-untyped-def]
    cpu, memory, latency = load
    bp = _bounded(1, high, up_step=step)
    decision = decide(bp, state(high), metrics(cpu, memory, latency * 200), now=NOW)
    assert (decision.action, decision.reason) == (Action.SCALE_UP, Reason.AT_MAX)
    assert decision.target_replicas == high and not decision.changes
    estimate = decision.estimate
    assert estimate is not None
    assert decision.desired_replicas == high + min(step, max(1, estimate - high))
    assert decision.beyond_limits == decision.desired_replicas


_SOME = st.one_of(st.none(), st.floats(0, 2))


@settings(max_examples=300, deadline=None)
@given(
    low=st.integers(1, 5),
    replicas=st.integers(1, 15),
    values=st.tuples(_SOME, _SOME, _SOME).filter(lambda v: None in v),
    low_window=st.booleans(),
)
@example(low=1, replicas=3, values=(0.0, 0.0, None), low_window=True)
@example(low=1, replicas=3, values=(None, None, None), low_window=True)
@example(low=1, replicas=3, values=(1.6, None, None), low_window=False)
@example(low=1, replicas=3, values=(1.62, None, None), low_window=False)
@example(low=1, replicas=3, values=(0.9, None, None), low_window=False)
@example(low=1, replicas=3, values=(None, 0.91, None), low_window=False)
@example(low=1, replicas=3, values=(0.5, 0.5, None), low_window=False)
@example(low=1, replicas=3, values=(None, None, 1.26), low_window=False)
def test_missing_metrics_never_scale_down_and_scale_up_only_on_the_known_part(
    low, replicas, values, low_window
) -> None:  # type: ignore[no-untyped-def]
    cpu, memory, latency = values
    bp = _bounded(low, low + 15)
    window = flat_window(0.0, 0.0, 0.0) if low_window else None
    m = metrics(cpu, memory, None if latency is None else latency * 200)
    decision = decide(bp, state(max(replicas, low)), m, now=NOW, window=window)
    assert decision.weighted.value is None
    assert decision.action is not Action.SCALE_DOWN
    assert decision.target_replicas >= max(replicas, low)
    known = sum(
        weight * min(value, 1.0 if i == 2 else value)
        for i, (weight, value) in enumerate(zip(_SEED_WEIGHTS, values, strict=True))
        if value is not None
    )
    assert decision.weighted.low == pytest.approx(known)
    # A known metric past its own guard (90 % CPU or memory, 1.25 x the latency target) asks
    # for a scale-up on its own, whatever the missing ones would have made of W.
    guarded = any(
        value is not None and value > limit
        for value, limit in zip(values, (0.9, 0.9, 1.25), strict=True)
    )
    if known > 0.8 or guarded:
        assert decision.action is Action.SCALE_UP
    else:
        assert (decision.action, decision.reason) == (Action.NONE, Reason.METRICS_MISSING)


_BETWEEN = st.floats(0.4, 0.8)


@settings(max_examples=200, deadline=None)
@given(
    low=st.integers(1, 5),
    extra=st.integers(0, 10),
    load=st.tuples(_BETWEEN, _BETWEEN, _BETWEEN),
    low_window=st.booleans(),
)
@example(low=1, extra=3, load=(0.4, 0.4, 0.4), low_window=True)
@example(low=1, extra=3, load=(0.8, 0.8, 0.8), low_window=True)
def test_within_the_thresholds_nothing_ever_moves(low, extra, load, low_window) -> None:  # type: ignore[no-untyped-def]
    cpu, memory, latency = load
    window = flat_window(0.0, 0.0, 0.0) if low_window else None
    decision = decide(
        _bounded(low, low + 10),
        state(low + extra),
        metrics(cpu, memory, latency * 200),
        now=NOW,
        window=window,
    )
    assert (decision.action, decision.reason) == (Action.NONE, Reason.WITHIN_THRESHOLDS)
    assert not decision.changes and decision.beyond_limits is None


# --- the rationale, word for word -------------------------------------------------------------
#
# The rationale is what the audit record and the pull request body show a person; these pin it
# for one decision of each kind, beside the behaviour the rows above assert.


def test_the_rationale_of_a_scale_up_says_every_number() -> None:
    decision = decide(seed_blueprint(), state(2), metrics(0.85, 0.70, 180), now=NOW)
    assert decision.action is Action.SCALE_UP
    assert decision.rationale == (
        "Weighted utilization 81.5% (cpu 85% × 0.5 + memory 70% × 0.3 + latency 180ms/200ms = "
        "90% × 0.2) exceeds scale_up_threshold 80%. Scaling 2 → 3 replicas (estimate ceil(2 × "
        "81.5% / 70%) = 3, step limit +1)."
    )


def test_unready_pods_count_as_idle_on_every_metric_but_latency() -> None:
    """3 of 4 pods ready: CPU and memory count at 3/4 (90 %), latency as measured (100 %):
    0.5 × 90 % + 0.3 × 90 % + 0.2 × 100 % = 92 % > 80 %, so it scales up; dropping memory or
    latency from the count would leave it under the threshold."""
    decision = decide(seed_blueprint(), state(4, 3), metrics(1.2, 1.2, 200), now=NOW)
    assert (decision.action, decision.target_replicas, decision.estimate) == (
        Action.SCALE_UP,
        5,
        6,
    )
    assert decision.weighted.value == pytest.approx(0.92)
    assert decision.rationale == (
        "Weighted utilization 92% (cpu 90% × 0.5 + memory 90% × 0.3 + latency 200ms/200ms = "
        "100% × 0.2) exceeds scale_up_threshold 80%. 3 of 4 pods are ready; counting the others "
        "as idle gives 92%. Scaling 4 → 5 replicas (estimate ceil(4 × 92% / 70%) = 6, step "
        "limit +1)."
    )


def test_the_rationale_of_a_scale_down_says_every_number() -> None:
    decision = decide(
        _cpu_blueprint(), state(5), metrics(0.1, None, None), now=NOW, window=_window(0.1)
    )
    assert decision.action is Action.SCALE_DOWN
    assert decision.rationale == (
        "Weighted utilization 10% (cpu 10% × 1) is below scale_down_threshold 40%. It stayed "
        "below for the whole 5m window (highest 10%). Scaling 5 → 4 replicas (estimate ceil(5 × "
        "10% / 70%) = 1, step limit -1, floor min_replicas 1)."
    )


def test_an_idle_service_steps_down_and_says_its_load_is_zero() -> None:
    """W of exactly 0 is a measured idle service, not a missing value: one step down, and
    the words say 0 % wherever they give the load."""
    decision = decide(
        _cpu_blueprint(), state(5), metrics(0.0, None, None), now=NOW, window=_window(0.0)
    )
    assert (decision.action, decision.target_replicas, decision.estimate) == (
        Action.SCALE_DOWN,
        4,
        0,
    )
    assert decision.rationale == (
        "Weighted utilization 0% (cpu 0% × 1) is below scale_down_threshold 40%. It stayed "
        "below for the whole 5m window (highest 0%). Scaling 5 → 4 replicas (estimate ceil(5 × "
        "0% / 70%) = 0, step limit -1, floor min_replicas 1)."
    )


_UP_REFS = (
    "spec.scaling.scale_up_threshold",
    "spec.scaling.target_cpu_utilization",
    "spec.scaling.scale_up_increment",
    "spec.scaling.max_replicas",
    "spec.scaling.metrics",
    "spec.performance.latency_p95",
)
_DOWN_REFS = (
    "spec.scaling.scale_down_threshold",
    "spec.scaling.scale_down_stabilization",
    "spec.scaling.min_replicas",
    "spec.scaling.scale_down_increment",
    "spec.scaling.target_cpu_utilization",
)
_METRIC_REFS = ("spec.scaling.metrics", "spec.performance.latency_p95")


@pytest.mark.parametrize(
    ("replicas", "ready", "m", "kwargs", "reason", "refs"),
    [
        (2, 2, (0.85, 0.70, 180), {}, Reason.ABOVE_THRESHOLD, _UP_REFS),
        # Below every guard (CPU 88 %, memory 85 %, p95 240ms < 1.25 x 200ms): W decides.
        (5, 5, (0.88, 0.85, 240), {}, Reason.AT_MAX, _UP_REFS),
        (2, 2, (0.85, 0.70, 180), {"avoid": {3: "rolled back"}}, Reason.RECENTLY_FAILED, _UP_REFS),
        (3, 2, (0.85, 0.70, 180), {}, Reason.PODS_NOT_READY, ("spec.scaling.scale_up_threshold",)),
        (
            3,
            3,
            (0.6, 0.55, 150),
            {},
            Reason.WITHIN_THRESHOLDS,
            ("spec.scaling.scale_up_threshold", "spec.scaling.scale_down_threshold", *_METRIC_REFS),
        ),
        (3, 3, (0.1, 0.1, None), {}, Reason.METRICS_MISSING, _METRIC_REFS),
        (1, 1, (0.1, 0.1, 20), {}, Reason.AT_MIN, _DOWN_REFS),
        (3, 3, (0.25, 0.2, 100), {}, Reason.STABILIZING, _DOWN_REFS),
        (3, 3, (0.25, 0.2, 100), {"window": []}, Reason.STABILIZING, _DOWN_REFS),
        (3, 2, (0.25, 0.2, 100), {}, Reason.PODS_NOT_READY, _DOWN_REFS),
        (3, 3, (0.25, 0.2, 100), {"window": "flat"}, Reason.BELOW_THRESHOLD, _DOWN_REFS),
        (
            3,
            3,
            (0.25, 0.2, 100),
            {"window": "flat", "avoid": {2: "rolled back"}},
            Reason.RECENTLY_FAILED,
            _DOWN_REFS,
        ),
        (7, 7, (0.5, 0.5, 100), {}, Reason.ABOVE_MAX, ("spec.scaling.max_replicas",)),
        (0, 0, (None, None, None), {}, Reason.BELOW_MIN, ("spec.scaling.min_replicas",)),
    ],
)
def test_each_decision_names_the_blueprint_fields_behind_it(  # type: ignore[no-untyped-def]
    replicas, ready, m, kwargs, reason, refs
) -> None:
    if kwargs.get("window") == "flat":
        kwargs = {**kwargs, "window": flat_window(*m)}
    decision = decide(seed_blueprint(), state(replicas, ready), metrics(*m), now=NOW, **kwargs)
    assert decision.reason is reason, decision.rationale
    assert decision.references == refs


def test_stale_metrics_name_the_metric_fields() -> None:
    old = metrics(0.95, 0.95, 300, observed_at=NOW - timedelta(seconds=301))
    decision = decide(seed_blueprint(), state(2), old, now=NOW)
    assert (decision.reason, decision.references) == (Reason.METRICS_STALE, _METRIC_REFS)
    assert decision.rationale == (
        "Metrics are 5m1s old (older than 5m); not scaling on stale data."
    )
    fresh = metrics(0.95, 0.95, 300, observed_at=NOW - timedelta(seconds=300))
    assert decide(seed_blueprint(), state(2), fresh, now=NOW).reason is Reason.ABOVE_THRESHOLD


def test_unready_pods_with_cpu_missing_count_the_rest_as_idle() -> None:
    """CPU missing, memory far above its request: 3 of 4 pods ready gives
    0.3 × 2.5 × 3/4 + 0.2 × 100 % = 76 %, not above 80 %, so W alone would wait for the new
    pods; memory at 250 % is past its own guard, which asks for the scale-up by itself."""
    decision = decide(seed_blueprint(), state(4, 3), metrics(None, 2.5, 200), now=NOW)
    assert decision.weighted.low == pytest.approx(0.7625)
    assert decision.action is Action.SCALE_UP
    assert decision.rule is DecisionRule.MEMORY_GUARD


_LOW_HEAD = "Weighted utilization 10% (cpu 10% × 1) is below scale_down_threshold 40%. "


@pytest.mark.parametrize(
    ("replicas", "ready", "window", "avoid", "reason", "why"),
    [
        pytest.param(
            3, 2, None, None, Reason.PODS_NOT_READY,
            "Only 2 of 3 pods are ready; not scaling down until all are.", id="pods not ready",
        ),
        pytest.param(
            1, 1, None, None, Reason.AT_MIN, "Already at min_replicas (1).", id="at min",
        ),
        pytest.param(
            3, 3, None, None, Reason.STABILIZING,
            "The metric history is needed to confirm it stayed low.", id="needs the window",
        ),
        pytest.param(
            3, 3, [], None, Reason.STABILIZING,
            "There is no metric history for the window yet; waiting.", id="no history",
        ),
        pytest.param(
            3, 3, [*_window(0.1)[:-1], Sample(at=NOW - timedelta(seconds=300))], None,
            Reason.STABILIZING,
            "The metric history has no cpu data there, so it cannot show the load stayed low "
            "(below for 4m45s of the 5m window); waiting.",
            id="a gap in the data",
        ),
        pytest.param(
            3, 3, [Sample(at=NOW)], None, Reason.STABILIZING,
            "The metric history has no cpu data there, so it cannot show the load stayed low "
            "(below for 0s of the 5m window); waiting.",
            id="no data at all",
        ),
        pytest.param(
            3, 3, _window(0.1, seconds=120), None, Reason.STABILIZING,
            "It has been below for 2m of the 5m scale_down_stabilization window; waiting.",
            id="low for part of the window",
        ),
        pytest.param(
            2, 2, _window(0.1, s150=0.39), None, Reason.ESTIMATE_UNCHANGED,
            "The estimate ceil(2 × 39% / 70%) = 2 keeps 2 replicas.", id="estimate unchanged",
        ),
        pytest.param(
            3, 3, _window(0.1), {2: "2 replicas failed verification"}, Reason.RECENTLY_FAILED,
            "Not scaling to 2 again: 2 replicas failed verification.", id="recently failed",
        ),
    ],
)  # fmt: skip
def test_why_a_low_load_does_not_scale_down(  # type: ignore[no-untyped-def]
    replicas, ready, window, avoid, reason, why
) -> None:
    decision = decide(
        _cpu_blueprint(),
        state(replicas, ready),
        metrics(0.1, None, None),
        now=NOW,
        window=window,
        avoid=avoid,
    )
    assert (decision.action, decision.reason, decision.changes) == (Action.NONE, reason, False)
    assert decision.needs_window is (window is None and reason is Reason.STABILIZING)
    assert decision.rationale == _LOW_HEAD + why


def test_a_scale_down_held_back_still_records_its_estimate() -> None:
    unchanged = decide(
        _cpu_blueprint(),
        state(2),
        metrics(0.1, None, None),
        now=NOW,
        window=_window(0.1, s150=0.39),
    )
    assert (unchanged.reason, unchanged.estimate) == (Reason.ESTIMATE_UNCHANGED, 2)
    failed = decide(
        _cpu_blueprint(),
        state(3),
        metrics(0.1, None, None),
        now=NOW,
        window=_window(0.1),
        avoid={2: "rolled back"},
    )
    assert (failed.reason, failed.estimate, failed.target_replicas) == (
        Reason.RECENTLY_FAILED,
        1,
        3,
    )
    waiting = decide(_cpu_blueprint(), state(3), metrics(0.1, None, None), now=NOW)
    assert (waiting.reason, waiting.estimate, waiting.needs_window) == (
        Reason.STABILIZING,
        None,
        True,
    )


def test_a_gap_names_every_metric_missing_from_the_history() -> None:
    window = [*flat_window(0.1, 0.1, 20)[:-1], Sample(at=NOW - timedelta(seconds=300))]
    decision = decide(seed_blueprint(), state(3), metrics(0.1, 0.1, 20), now=NOW, window=window)
    assert decision.reason is Reason.STABILIZING
    assert "The metric history has no cpu, memory, latency data there" in decision.rationale


# --- what holds the replicas when nothing asks for more, one row per branch and edge --------

_HALVES = "    metrics:\n      - {type: cpu, weight: 0.5}\n      - {type: memory, weight: 0.5}\n"
_W55 = "cpu 60% × 0.5 + memory 50% × 0.3 + latency 100ms/200ms = 50% × 0.2"


@pytest.mark.parametrize(
    ("scaling", "m", "reason", "rule", "refs", "rationale"),
    [
        pytest.param(
            "", metrics(0.6, 0.5, 100, error_rate=0.02), Reason.ERRORS_NOT_CAPACITY,
            DecisionRule.ERROR_RATE, ("spec.performance.error_rate_max", *_METRIC_REFS),
            f"Error rate 2% is above error_rate_max 1%, but weighted utilization 55% ({_W55}) "
            "does not exceed scale_up_threshold 80% and no guard is past its limit: errors "
            "with normal utilization are not a capacity signal, so replicas stay at 3 (and no "
            "scale-down while errors are high). Look at the release and its dependencies.",
            id="errors above error_rate_max: held, not a capacity signal",
        ),
        pytest.param(
            "", metrics(0.6, 0.5, 100, error_rate=0.01), Reason.WITHIN_THRESHOLDS,
            DecisionRule.WEIGHTED,
            ("spec.scaling.scale_up_threshold", "spec.scaling.scale_down_threshold",
             *_METRIC_REFS),
            f"Weighted utilization 55% ({_W55}) is within the thresholds (40% to 80%).",
            id="errors exactly at error_rate_max: not above it, W decides",
        ),
        pytest.param(
            _HALVES, metrics(0.62, None, None), Reason.METRICS_MISSING, DecisionRule.MISSING,
            _METRIC_REFS,
            "Not scaling: W is between 31% and 81% depending on the missing memory, so it may "
            "or may not exceed scale_up_threshold 80%.",
            id="missing metrics that could put W above the threshold: undecided",
        ),
        pytest.param(
            _HALVES, metrics(0.6, None, None), Reason.METRICS_MISSING, DecisionRule.MISSING,
            _METRIC_REFS,
            "Not scaling: memory missing, and missing data never scales down.",
            id="missing metrics that reach the threshold at most: missing",
        ),
        pytest.param(
            "", metrics(0.5, None, None), Reason.METRICS_MISSING, DecisionRule.MISSING,
            _METRIC_REFS,
            "Not scaling: memory, latency missing, and missing data never scales down.",
            id="every missing metric is named",
        ),
    ],
)  # fmt: skip
def test_what_holds_the_replicas_when_nothing_asks_for_more(  # type: ignore[no-untyped-def]
    scaling, m, reason, rule, refs, rationale
) -> None:
    decision = decide(blueprint(scaling=scaling), state(3), m, now=NOW)
    assert (decision.action, decision.target_replicas) == (Action.NONE, 3)
    assert (decision.reason, decision.rule, decision.references) == (reason, rule, refs)
    assert decision.rationale == rationale


def test_stale_metrics_are_not_used_even_where_the_bounds_decide_first() -> None:
    """Metrics older than the limit are dropped before anything reads them: the decision
    records no W from them, whichever branch decides."""
    old = metrics(0.6, 0.5, 100, observed_at=NOW - timedelta(seconds=301))
    stale = decide(blueprint(), state(3), old, now=NOW)
    assert (stale.reason, stale.rule) == (Reason.METRICS_STALE, DecisionRule.FRESHNESS)
    assert stale.rationale == "Metrics are 5m1s old (older than 5m); not scaling on stale data."
    above = decide(blueprint(), state(7), old, now=NOW)
    assert (above.reason, above.action, above.target_replicas) == (
        Reason.ABOVE_MAX,
        Action.SCALE_DOWN,
        5,
    )
    assert above.rationale == (
        "7 replicas is above max_replicas (5); bringing the deployment back within the "
        "blueprint's bounds."
    )
    assert above.rule is DecisionRule.BOUNDS
    for decision in (stale, above):
        assert (decision.weighted.value, decision.weighted.low) == (None, 0.0)
        assert decision.inputs["cpu_utilization"] == 0.6  # what was observed is still recorded


def test_below_min_replicas_the_deployment_is_brought_back_within_the_bounds() -> None:
    decision = decide(blueprint(), state(0), metrics(0.6, 0.5, 100), now=NOW)
    assert (decision.action, decision.target_replicas) == (Action.SCALE_UP, 1)
    assert (decision.reason, decision.rule) == (Reason.BELOW_MIN, DecisionRule.BOUNDS)
    assert decision.rationale == (
        "0 replicas is below min_replicas (1); bringing the deployment back within the "
        "blueprint's bounds."
    )


def test_metrics_without_a_time_are_taken_as_current() -> None:
    undated = metrics(0.6, 0.5, 100, observed_at=None)
    decision = decide(blueprint(), state(3), undated, now=NOW)
    assert (decision.reason, decision.weighted.value) == (
        Reason.WITHIN_THRESHOLDS,
        pytest.approx(0.55),
    )


def test_the_salt_makes_the_decision_id_and_nothing_else() -> None:
    plain = decide(blueprint(), state(2), metrics(0.85, 0.70, 180), now=NOW)
    salted = decide(blueprint(), state(2), metrics(0.85, 0.70, 180), now=NOW, salt="abc")
    assert plain.id == make_id("dec", NOW, "web", Action.SCALE_UP, 3, "")
    assert salted.id == make_id("dec", NOW, "web", Action.SCALE_UP, 3, "abc")
    assert replace(salted, id=plain.id) == plain


@pytest.mark.parametrize(
    ("values", "inputs"),
    [
        pytest.param(
            metrics(0.6, 0.55, 150, error_rate=0.002, observed_at=NOW - timedelta(seconds=30)),
            {
                "cpu_utilization": 0.6,
                "memory_utilization": 0.55,
                "latency_p95_ms": 150,
                "error_rate": 0.002,
                "metrics_observed_at": "2026-02-10T15:29:30+00:00",
            },
            id="every metric measured, and when",
        ),
        pytest.param(
            metrics(0.6, None, 150, observed_at=None),
            {
                "cpu_utilization": 0.6,
                "memory_utilization": None,
                "latency_p95_ms": 150,
                "error_rate": None,
                "metrics_observed_at": None,
            },
            id="what was not measured is recorded as unknown",
        ),
    ],
)
def test_a_decision_records_the_inputs_it_was_made_from(
    values: Metrics, inputs: dict[str, object]
) -> None:
    """The audit record shows what the decision saw: the replicas, each metric as observed,
    when it was observed, and the thresholds it was judged against."""
    decision = decide(seed_blueprint(), state(3, 2), values, now=NOW)
    assert decision.inputs == {
        "replicas": 3,
        "ready_replicas": 2,
        **inputs,
        "scale_up_threshold": 0.8,
        "scale_down_threshold": 0.4,
    }


@pytest.mark.parametrize(
    ("scaling", "span"),
    [
        pytest.param("", 300.0, id="no behavior: the scale-down window"),
        pytest.param("    scale_down_stabilization: 0s\n", 0.0, id="no window at all"),
        pytest.param(
            "    behavior:\n      scaleUp: {stabilizationWindowSeconds: 600}\n",
            600.0,
            id="a longer scale-up window",
        ),
        pytest.param(
            "    behavior:\n      scaleUp: {stabilizationWindowSeconds: 60}\n",
            300.0,
            id="a shorter scale-up window",
        ),
    ],
)
def test_the_metric_history_read_covers_the_longer_window(scaling: str, span: float) -> None:
    assert window_span(blueprint(scaling).scaling) == span
