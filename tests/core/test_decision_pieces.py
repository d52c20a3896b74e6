"""The decision engine's pieces on their own: which rules ask for a scale-up (`guards`), what a
concluded decision expects (`model.conclude`), and a rate limit's words (`rates.Limit`, worded
by `trail.scaling_wording`).

`decide` is tested whole in test_decision.py; these tables pin the pieces it is built from,
so a failure names the piece that broke."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from reconciler.core.blueprint.model import (
    Behavior,
    PolicyType,
    RatePolicy,
    ScalingRules,
    SelectPolicy,
)
from reconciler.core.decide.guards import asks_for_more
from reconciler.core.decide.model import Action, Context, DecisionRule, Reason, conclude
from reconciler.core.decide.rates import (
    Limit,
    counted_changes,
    down_limit,
    scale_events,
    up_limit,
)
from reconciler.core.decide.utilization import weighted_utilization
from reconciler.core.observed.observation import Metrics, Sample
from reconciler.core.trail.records import EventType, Outcome, Record, with_details_later
from reconciler.core.trail.scaling_wording import estimate_words, used_up_words
from tests.core.helpers import NOW, blueprint, metrics, seed_blueprint, state

#: Thresholds, targets and guards written out, so each case's arithmetic can be read here:
#: W up at 80%, CPU aimed at 50%, memory at 80%, guards at 90% (CPU and memory) and
#: 1.5 × the p95 target of 200ms = 300ms.
EXPLICIT = (
    "    scale_up_threshold: 80%\n"
    "    target_cpu_utilization: 50%\n"
    "    target_memory_utilization: 80%\n"
    "    guards: {cpu_utilization: 90%, memory_utilization: 90%, latency_factor: 1.5}\n"
)
PERFORMANCE = "  performance:\n    latency_p95: 200ms\n"


def _context(replicas: int, values: Metrics, scaling: str = "") -> Context:
    bp = blueprint(scaling=EXPLICIT + scaling, extra=PERFORMANCE)
    return Context(
        blueprint=bp,
        state=state(replicas),
        metrics=values,
        now=NOW,
        weighted=weighted_utilization(bp, values),
        inputs={},
    )


@pytest.mark.parametrize(
    ("name", "replicas", "cpu", "memory", "p95", "scaling", "asked"),
    [
        # W = 0.5 × 0.6 + 0.3 × 0.6 + 0.2 × 0.5 = 0.58: nothing asks.
        ("all calm", 2, 0.6, 0.6, 100, "", []),
        # W = 0.5 × 0.85 + 0.3 × 0.85 + 0.2 × 1 = 0.88 > 80%: ceil(2 × 0.88 / 0.5) = 4.
        ("W alone", 2, 0.85, 0.85, 250, "", [(DecisionRule.WEIGHTED, 4)]),
        # W = 0.5 × 0.95 + 0.3 × 0.3 + 0.2 × 0.25 = 0.615; CPU 95% > 90%: ceil(2 × 0.95 / 0.5).
        ("CPU guard alone", 2, 0.95, 0.3, 50, "", [(DecisionRule.CPU_GUARD, 4)]),
        # Memory 95% > 90%: ceil(3 × 0.95 / 0.8) = 4; W = 0.05 + 0.285 + 0.05 = 0.385.
        ("memory guard alone", 3, 0.1, 0.95, 50, "", [(DecisionRule.MEMORY_GUARD, 4)]),
        # p95 400ms > 300ms: ceil(2 × 400 / 200) = 4; W = 0.1 + 0.06 + 0.2 = 0.36.
        ("latency guard alone", 2, 0.2, 0.2, 400, "", [(DecisionRule.LATENCY_GUARD, 4)]),
        # W first, then the guards in the order CPU, memory, latency.
        (
            "W and every guard",
            2,
            0.95,
            0.95,
            400,
            "",
            [
                (DecisionRule.WEIGHTED, 4),
                (DecisionRule.CPU_GUARD, 4),
                (DecisionRule.MEMORY_GUARD, 3),
                (DecisionRule.LATENCY_GUARD, 4),
            ],
        ),
        # A guard judges only a metric that is weighed: CPU alone is weighed here.
        (
            "unweighed memory has no guard",
            2,
            0.6,
            0.99,
            100,
            "    metrics:\n      - {type: cpu, weight: 1.0}\n",
            [],
        ),
        (
            "unweighed CPU has no guard",
            2,
            0.99,
            0.5,
            100,
            "    metrics:\n      - {type: memory, weight: 1.0}\n",
            [],
        ),
        (
            "unweighed latency has no guard",
            2,
            0.5,
            0.5,
            1000,
            "    metrics:\n      - {type: cpu, weight: 0.5}\n      - {type: memory, weight: 0.5}\n",
            [],
        ),
        # Latency missing: W's low bound 0.5 × 0.95 + 0.3 × 0.95 = 0.76 is not above 80%, so
        # only the guards ask, and the missing metric's guard cannot.
        (
            "latency missing",
            2,
            0.95,
            0.95,
            None,
            "",
            [
                (DecisionRule.CPU_GUARD, 4),
                (DecisionRule.MEMORY_GUARD, 3),
            ],
        ),
        # Exactly at a guard is not past it.
        ("CPU exactly at its guard", 2, 0.9, 0.1, 50, "", []),
        ("memory exactly at its guard", 2, 0.1, 0.9, 50, "", []),
        # The guard written above: 1.5 × 200ms = 300ms (250ms, under the default factor 1.25,
        # is well below it here), and just past it.
        ("latency exactly at its guard", 2, 0.2, 0.2, 300, "", []),
        ("latency just past its guard", 2, 0.2, 0.2, 300.5, "", [(DecisionRule.LATENCY_GUARD, 4)]),
    ],
)
def test_asks_for_more(
    name: str,
    replicas: int,
    cpu: float,
    memory: float,
    p95: float | None,
    scaling: str,
    asked: list[tuple[DecisionRule, int]],
) -> None:
    values = metrics(cpu, memory, p95)
    ctx = _context(replicas, values, scaling)
    asks = asks_for_more(ctx, ctx.weighted, values)
    assert [(a.rule, a.estimate) for a in asks] == asked, name
    for ask in asks:
        assert (ask.basis.current, ask.basis.estimate) == (replicas, ask.estimate)
        assert ask.basis.value == ask.value
        formula = estimate_words(ask.basis)
        assert formula.startswith(f"estimate ceil({replicas} × ")
        assert formula.endswith(f") = {ask.estimate}")
    # Each ask carries the limit it is past: the threshold for W, its own guard otherwise.
    guards = ctx.blueprint.scaling.guards
    limits = {
        DecisionRule.WEIGHTED: ctx.blueprint.scaling.scale_up_threshold,
        DecisionRule.CPU_GUARD: guards.cpu_utilization,
        DecisionRule.MEMORY_GUARD: guards.memory_utilization,
        DecisionRule.LATENCY_GUARD: ctx.blueprint.performance.latency_p95_ms
        * guards.latency_factor,
    }
    assert all(ask.limit == limits[ask.rule] and ask.value > ask.limit for ask in asks), name
    # The estimate divides the metric (or W) by its own target, in its own unit.
    bounds = ctx.blueprint.scaling
    targets = {
        DecisionRule.WEIGHTED: (ctx.weighted.low, bounds.target_cpu_utilization, False),
        DecisionRule.CPU_GUARD: (cpu, bounds.target_cpu_utilization, False),
        DecisionRule.MEMORY_GUARD: (memory, bounds.target_memory_utilization, False),
        DecisionRule.LATENCY_GUARD: (p95, ctx.blueprint.performance.latency_p95_ms, True),
    }
    assert [(a.basis.value, a.basis.target, a.basis.in_ms) for a in asks] == [
        targets[a.rule] for a in asks
    ], name


@pytest.mark.parametrize(
    ("name", "replicas", "target", "expected"),
    [
        ("no change expects nothing", 4, None, None),
        ("the same count expects nothing", 4, 4, None),
        # Twice the replicas, half the utilization each: 60% → 30%, 40% → 20%.
        ("doubling halves the load", 4, 8, (8, 0.3, 0.2)),
        ("halving doubles it", 4, 2, (2, 1.2, 0.8)),
        ("scaling to zero expects nothing", 4, 0, None),
    ],
)
def test_conclude_expects_the_linear_model(
    name: str, replicas: int, target: int | None, expected: tuple[int, float, float] | None
) -> None:
    ctx = _context(replicas, metrics(0.6, 0.4, 100))
    decision = conclude(
        ctx, Action.SCALE_UP, Reason.ABOVE_THRESHOLD, "why", ["spec.x"], target=target
    )
    assert decision.target_replicas == (replicas if target is None else target), name
    assert decision.desired_replicas == decision.target_replicas
    if expected is None:
        assert decision.expected is None
    else:
        assert decision.expected is not None
        got = decision.expected
        assert got.replicas == expected[0]
        assert got.cpu_utilization == pytest.approx(expected[1])
        assert got.memory_utilization == pytest.approx(expected[2])
    assert (decision.rationale, decision.references) == ("why", ("spec.x",))


def test_conclude_with_missing_utilization_expects_none_of_it() -> None:
    ctx = _context(2, metrics(None, 0.5, 100))
    decision = conclude(ctx, Action.SCALE_UP, Reason.ABOVE_THRESHOLD, "why", [], target=4)
    assert decision.expected is not None
    assert decision.expected.cpu_utilization is None
    assert decision.expected.memory_utilization == pytest.approx(0.25)


@pytest.mark.parametrize(
    ("policy", "start", "replicas", "words"),
    [
        (
            RatePolicy(type=PolicyType.PODS, value=4, period=15),
            3,
            7,
            "behavior.scaleUp: Pods 4 per 15s from 3 replicas allows 7, which the changes "
            "executed in the last 15s have used up.",
        ),
        (
            RatePolicy(type=PolicyType.PERCENT, value=50, period=60),
            1,
            2,
            "behavior.scaleUp: Percent 50% per 60s from 1 replica allows 2, which the changes "
            "executed in the last 60s have used up.",
        ),
        (
            None,
            3,
            3,
            "behavior.scaleUp is Disabled, which the changes executed in the last 0s have used up.",
        ),
    ],
)
def test_a_used_up_limit_says_its_policy_and_period(
    policy: RatePolicy | None, start: int, replicas: int, words: str
) -> None:
    limit = Limit(replicas=replicas, policy=policy, start=start)
    assert used_up_words(limit, "scaleUp") == words


def _executed(seconds_ago: float, before: int, after: int) -> Record:
    return Record(
        id=f"op-{seconds_ago:g}",
        timestamp=NOW - timedelta(seconds=seconds_ago),
        event_type=EventType.OPERATION_EXECUTED,
        service="web",
        blueprint_version="1.0.0",
        outcome=Outcome.SUCCESS,
        rationale="scaled",
        details={
            "pre_operation_state": {"replicas": before},
            "post_operation_state": {"replicas": after},
        },
    )


def _unread(seconds_ago: float) -> Record:
    """An executed change whose details fail the test if they are read."""

    def build() -> dict[str, object]:
        raise AssertionError(f"the change {seconds_ago:g}s ago was read")

    return with_details_later(_executed(seconds_ago, 1, 2), build)


def test_the_counted_changes_are_those_within_the_longest_period_unread_before() -> None:
    behavior = Behavior(
        scale_up=ScalingRules(
            policies=(RatePolicy(type=PolicyType.PODS, value=2, period=60.0),),
            select=SelectPolicy.MAX,
            stabilization=0.0,
        ),
        scale_down=ScalingRules(
            policies=(RatePolicy(type=PolicyType.PERCENT, value=50, period=120.0),),
            select=SelectPolicy.MAX,
            stabilization=0.0,
        ),
    )
    recent = [_executed(30, 2, 4), _executed(119, 4, 3)]
    records = [_unread(7200), _unread(120), *recent]
    counted = counted_changes(records, behavior, NOW)
    assert counted == scale_events(recent)
    assert [event.after for event in counted] == [3, 4]
    # The limits come out as they would from every change in the trail.
    everything = scale_events([_executed(7200, 1, 2), _executed(120, 1, 2), *recent])
    for period in (60.0, 120.0):
        rules = replace(
            behavior.scale_up, policies=(RatePolicy(type=PolicyType.PODS, value=2, period=period),)
        )
        assert up_limit(rules, 4, counted, NOW) == up_limit(rules, 4, everything, NOW)
        assert down_limit(rules, 4, counted, NOW) == down_limit(rules, 4, everything, NOW)
    # Without a behavior no policy counts a change: none is read.
    assert counted_changes([_unread(5)], None, NOW) == ()
    # Nor with a behavior that has no policy (the loader fills each direction's in, a
    # behavior built without any has no period): not even a change a moment ago counts.
    unbounded = ScalingRules(policies=(), select=SelectPolicy.MAX, stabilization=0.0)
    none = Behavior(scale_up=unbounded, scale_down=unbounded)
    assert counted_changes([_executed(0.5, 1, 2)], none, NOW) == ()


def _change(details: dict[str, object], event: EventType = EventType.OPERATION_EXECUTED) -> Record:
    return Record(
        id="op-1",
        timestamp=NOW - timedelta(seconds=10),
        event_type=event,
        service="web",
        blueprint_version="1.0.0",
        outcome=Outcome.SUCCESS,
        rationale="scaled",
        details=details,
    )


@pytest.mark.parametrize(
    ("details", "moved"),
    [
        pytest.param(
            {"pre_operation_state": {"replicas": 2}, "post_operation_state": {"replicas": 4}},
            (2, 4),
            id="the states name both sizes",
        ),
        pytest.param(
            {"request": {"current_replicas": 2, "target_replicas": 4}},
            (2, 4),
            id="states without replicas: the request's sizes",
        ),
        pytest.param(
            {
                "request": {"current_replicas": 1, "target_replicas": 9},
                "pre_operation_state": {"replicas": 2},
                "post_operation_state": {"replicas": 4},
            },
            (2, 4),
            id="the states win over the request",
        ),
        pytest.param(
            {"pre_operation_state": {"replicas": 3}, "post_operation_state": {"replicas": 3}},
            None,
            id="no move: not an event",
        ),
        pytest.param(
            {"post_operation_state": {"replicas": 4}}, None, id="no size before: not an event"
        ),
        pytest.param(
            {"pre_operation_state": {"replicas": 3}}, None, id="no size after: not an event"
        ),
        pytest.param(
            {"pre_operation_state": {"replicas": "2"}, "post_operation_state": {"replicas": 4}},
            None,
            id="a size that is text is no size",
        ),
        pytest.param(
            {"pre_operation_state": {"replicas": True}, "post_operation_state": {"replicas": 4}},
            None,
            id="a size that is true/false is no size",
        ),
    ],
)
def test_a_scale_event_is_a_change_that_moved_the_replicas(
    details: dict[str, object], moved: tuple[int, int] | None
) -> None:
    """The sizes before and after come from the recorded states, else from the request; a
    change without both whole numbers, or that moved nothing, counts toward no rate policy."""
    events = scale_events([_change(details)])
    assert [(e.before, e.after) for e in events] == ([] if moved is None else [moved])
    if moved is not None:
        assert events[0].at == NOW - timedelta(seconds=10)


def test_only_carried_out_changes_are_scale_events() -> None:
    moved = {"pre_operation_state": {"replicas": 2}, "post_operation_state": {"replicas": 4}}
    assert scale_events([_change(moved, EventType.OPERATION_FAILED)]) == ()
    assert len(scale_events([_change(moved, EventType.ROLLBACK_EXECUTED)])) == 1


@pytest.mark.parametrize(
    ("values", "value", "low", "high", "contributions", "described"),
    [
        pytest.param(
            metrics(0.85, 0.70, 180),
            0.815,
            0.815,
            0.815,
            (0.425, 0.21, 0.18),
            "cpu 85% × 0.5 + memory 70% × 0.3 + latency 180ms/200ms = 90% × 0.2",
            id="every metric: W, and both bounds at W",
        ),
        pytest.param(
            metrics(1.2, 0.9, None),
            None,
            0.87,
            1.07,
            (0.6, 0.27, None),
            "cpu 120% × 0.5 + memory 90% × 0.3 + latency missing × 0.2",
            id="latency missing: 0 for the low bound, its weight for the high",
        ),
        pytest.param(
            metrics(0.5, 0.5, 400),
            0.6,
            0.6,
            0.6,
            (0.25, 0.15, 0.2),
            "cpu 50% × 0.5 + memory 50% × 0.3 + latency 400ms/200ms = 100% (capped) × 0.2",
            id="latency twice its target counts as 100%, and says it is capped",
        ),
        pytest.param(
            metrics(0.5, 0.5, 200),
            0.6,
            0.6,
            0.6,
            (0.25, 0.15, 0.2),
            "cpu 50% × 0.5 + memory 50% × 0.3 + latency 200ms/200ms = 100% × 0.2",
            id="latency exactly at its target is 100%, not capped",
        ),
        pytest.param(
            metrics(0.0, 0.0, 0),
            0.0,
            0.0,
            0.0,
            (0.0, 0.0, 0.0),
            "cpu 0% × 0.5 + memory 0% × 0.3 + latency 0ms/200ms = 0% × 0.2",
            id="idle: every metric measured at 0, latency's share 0% too",
        ),
        pytest.param(
            metrics(None, None, None),
            None,
            0.0,
            1.0,
            (None, None, None),
            "cpu missing × 0.5 + memory missing × 0.3 + latency missing × 0.2",
            id="nothing measured: anywhere from 0 to 100%",
        ),
        pytest.param(
            Sample(at=NOW, cpu_utilization=0.4, memory_utilization=None, latency_p95_ms=100),
            None,
            0.3,
            0.6,
            (0.2, None, 0.1),
            "cpu 40% × 0.5 + memory missing × 0.3 + latency 100ms/200ms = 50% × 0.2",
            id="a sample of the metric history, memory missing",
        ),
    ],
)
def test_weighted_utilization_and_its_bounds(
    values: Metrics | Sample,
    value: float | None,
    low: float,
    high: float,
    contributions: tuple[float | None, ...],
    described: str,
) -> None:
    """W with the seed's weights (CPU 0.5, memory 0.3, latency 0.2 of a 200ms target): a
    missing metric counts 0 for the low bound and its whole weight for the high one."""
    used = weighted_utilization(seed_blueprint(), values)
    assert used.value == (None if value is None else pytest.approx(value))
    assert (used.low, used.high) == (pytest.approx(low), pytest.approx(high))
    assert [c.type for c in used.components] == ["cpu", "memory", "latency"]
    assert [c.weight for c in used.components] == [0.5, 0.3, 0.2]
    assert [c.contribution for c in used.components] == [
        None if c is None else pytest.approx(c) for c in contributions
    ]
    assert [c.target for c in used.components] == [None, None, 200.0]
    # Latency is kept as measured beside its share of the target.
    assert used.components[2].value == values.latency_p95_ms
    assert used.missing == tuple(
        c.type for c, part in zip(used.components, contributions, strict=True) if part is None
    )
    assert used.describe() == described
