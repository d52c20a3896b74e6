"""The scale-up branch of the decision engine at its edges: replicas beyond max_replicas that
governance will refuse whatever the metrics, the wait for starting pods, and what a step comes
to (avoided, at the fleet's ceiling, at max, or done with the rest proposed).

`decide` is driven whole, as the cycle calls it; each row asserts the outcome (action, reason,
rule, replicas) and, where the words are all a branch returns, the words too."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from reconciler.core.blueprint.loading import parse_blueprint
from reconciler.core.blueprint.model import Blueprint, Tier
from reconciler.core.decide.decision import Action, DecisionRule, Reason, decide
from reconciler.core.decide.governance import OperationRequest, Origin, classify, condition_values
from reconciler.core.decide.rates import ScaleEvent
from reconciler.core.decide.scale_up import _beyond_limits_refused
from reconciler.core.trail.codes import Refusal
from tests.core.helpers import NOW, POLICIES, metrics, seed_blueprint, state

#: CPU alone weighed, so W is the CPU utilization: up at 80%, aimed at 70%, max 5 replicas.
BASE = (
    "metadata:\n  name: web\n  version: 1.0.0\nspec:\n  scaling:\n"
    "    min_replicas: 1\n    max_replicas: 5\n    scale_down_threshold: 40%\n"
    "    metrics:\n      - {type: cpu, weight: 1.0}\n"
)
FORBIDS = (
    "governance:\n  agent_authority:\n    forbidden_operations:\n      - scale_beyond_limits\n"
)
FORBIDS_ABOVE_20 = (
    "governance:\n  agent_authority:\n    forbidden_operations:\n"
    "      - operation: scale_beyond_limits\n        condition: target_replicas > 20\n"
)
RESTRICTS_ABOVE_20 = (
    "governance:\n  agent_authority:\n    requires_approval:\n"
    "      - operation: scale_beyond_limits\n        condition: target_replicas > 20\n"
)


def _blueprint(governance: str = "", *, fleet: bool = True, scaling: str = "") -> Blueprint:
    """The blueprint under the fleet's policies (which put scale_beyond_limits under
    requires_approval), or under none at all (`fleet=False`: no tier lists it)."""
    text = BASE + scaling + governance
    return parse_blueprint(
        text.encode(),
        source=str(Path("blueprints/web/blueprint.yaml")),
        policies=POLICIES if fleet else None,
    )


_FORBIDDEN_WORDS = (
    "would need scale_beyond_limits, which the policy forbids, so governance refuses it"
)
_UNLISTED_WORDS = (
    "would need scale_beyond_limits, which no tier of the policy lists, so governance refuses "
    "it (list it under requires_approval to have it proposed)"
)

#: Each policy, what the decision says of replicas beyond max_replicas, and the tier
#: governance then gives the request for 6 of them. Where a condition decides, the decision
#: leaves the question to governance (None), whichever way the verdict goes.
_REFUSALS = [
    pytest.param(_blueprint(), None, Tier.RESTRICTED, id="the fleet's requires_approval"),
    pytest.param(_blueprint(fleet=False), Refusal.UNLISTED, Tier.FORBIDDEN, id="no tier lists it"),
    pytest.param(
        _blueprint(FORBIDS),
        Refusal.FORBIDDEN,
        Tier.FORBIDDEN,
        id="forbidden without a condition, though the fleet restricts it too",
    ),
    pytest.param(
        _blueprint(FORBIDS, fleet=False), Refusal.FORBIDDEN, Tier.FORBIDDEN, id="forbidden alone"
    ),
    pytest.param(
        _blueprint(FORBIDS_ABOVE_20),
        None,
        Tier.RESTRICTED,
        id="forbidden only above 20 beside the fleet's restriction",
    ),
    pytest.param(
        _blueprint(FORBIDS_ABOVE_20, fleet=False),
        None,
        Tier.FORBIDDEN,
        id="forbidden only above 20, listed nowhere else",
    ),
    pytest.param(
        _blueprint(RESTRICTS_ABOVE_20, fleet=False),
        None,
        Tier.FORBIDDEN,
        id="restricted only above 20",
    ),
]


@pytest.mark.parametrize(("bp", "refusal", "tier"), _REFUSALS)
def test_replicas_beyond_max_are_refused_early_only_when_nothing_the_metrics_say_could_allow_them(
    bp: Blueprint, refusal: Refusal | None, tier: Tier
) -> None:
    assert _beyond_limits_refused(bp) is refusal


@pytest.mark.parametrize(("bp", "refusal", "tier"), _REFUSALS)
def test_a_decision_at_max_says_what_governance_then_does_with_the_rest(
    bp: Blueprint, refusal: Refusal | None, tier: Tier
) -> None:
    """At max_replicas with CPU at 88%: 6 replicas are wanted, 5 are the most the decision may
    set. Its words say the 6th is proposed, or refused and why; and governance, asked about
    exactly that request, forbids it whenever the decision said it would."""
    decision = decide(bp, state(5), metrics(0.88, None, None), now=NOW)
    assert (decision.action, decision.reason, decision.rule) == (
        Action.SCALE_UP,
        Reason.AT_MAX,
        DecisionRule.WEIGHTED,
    )
    assert (decision.target_replicas, decision.desired_replicas, decision.beyond_limits) == (
        5,
        6,
        6,
    )
    head = (
        "Weighted utilization 88% (cpu 88% × 1) exceeds scale_up_threshold 80%. Already at "
        "max_replicas (5); estimate ceil(5 × 88% / 70%) = 7, step limit +1, so 6 replicas "
    )
    said = {
        None: "are proposed for approval (scale_beyond_limits).",
        Refusal.FORBIDDEN: _FORBIDDEN_WORDS + ".",
        Refusal.UNLISTED: _UNLISTED_WORDS + ".",
    }
    assert decision.rationale == head + said[refusal]
    request = OperationRequest(
        operation="scale_beyond_limits",
        service="web",
        origin=Origin.DECISION,
        current_replicas=5,
        target_replicas=decision.desired_replicas,
    )
    verdict = classify(request, bp, condition_values(request, bp, {}, NOW))
    assert verdict.tier is tier
    assert refusal is None or tier is Tier.FORBIDDEN


@pytest.mark.parametrize(("bp", "refusal", "tier"), _REFUSALS)
def test_a_step_past_max_says_what_governance_then_does_with_the_rest(
    bp: Blueprint, refusal: Refusal | None, tier: Tier
) -> None:
    """From 4 with CPU at 88% and an increment of 3: 4 → 5 now, 6 wanted."""
    bp = replace(bp, scaling=replace(bp.scaling, scale_up_increment=3))
    decision = decide(bp, state(4), metrics(0.88, None, None), now=NOW)
    assert (decision.action, decision.reason) == (Action.SCALE_UP, Reason.ABOVE_THRESHOLD)
    assert (decision.target_replicas, decision.desired_replicas) == (5, 6)
    rest = {
        None: "the rest is proposed for approval.",
        Refusal.FORBIDDEN: f"6 replicas {_FORBIDDEN_WORDS}.",
        Refusal.UNLISTED: f"6 replicas {_UNLISTED_WORDS}.",
    }
    assert decision.rationale == (
        "Weighted utilization 88% (cpu 88% × 1) exceeds scale_up_threshold 80%. Scaling 4 → 5 "
        "replicas (estimate ceil(4 × 88% / 70%) = 6, step limit +3). 6 would exceed "
        f"max_replicas (5); {rest[refusal]}"
    )


# --- pods still starting -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bp", "replicas", "ready", "values", "rule", "guards", "counted", "words"),
    [
        pytest.param(
            _blueprint(),
            2,
            1,
            (0.85, None, None),
            DecisionRule.WEIGHTED,
            [],
            0.425,
            "Weighted utilization 85% is above scale_up_threshold 80%, but 1 of 2 pods are "
            "ready; counting the others as idle gives 42.5%. Waiting for the new pods.",
            id="W alone asked: 85% on the ready pod, 42.5% with the other idle",
        ),
        pytest.param(
            _blueprint(),
            2,
            1,
            (0.95, None, None),
            DecisionRule.WEIGHTED,
            [(DecisionRule.CPU_GUARD, 3)],
            0.475,
            "Weighted utilization 95% exceeds scale_up_threshold 80% (estimate ceil(2 × 95% / "
            "70%) = 3); CPU utilization 95% is above its guard 90% "
            "(spec.scaling.guards.cpu_utilization) (estimate ceil(2 × 95% / 70%) = 3), but 1 of "
            "2 pods are ready; counting the others as idle gives 47.5%. Waiting for the new pods.",
            id="W and the CPU guard asked: W is the rule, the guard is kept",
        ),
        pytest.param(
            seed_blueprint(),
            4,
            3,
            (0.5, 1.05, 100),
            DecisionRule.MEMORY_GUARD,
            [(DecisionRule.MEMORY_GUARD, 6)],
            0.52375,
            "Memory utilization 105% is above its guard 90% "
            "(spec.scaling.guards.memory_utilization) (estimate ceil(4 × 105% / 80%) = 6), but "
            "3 of 4 pods are ready; counting the others as idle gives 52.4%. Waiting for the "
            "new pods.",
            id="the memory guard alone asked: it is the rule",
        ),
    ],
)
def test_a_scale_up_that_starting_pods_would_carry_waits_for_them(
    bp: Blueprint,
    replicas: int,
    ready: int,
    values: tuple[float | None, float | None, float | None],
    rule: DecisionRule,
    guards: list[tuple[DecisionRule, int]],
    counted: float,
    words: str,
) -> None:
    """The ready pods ask for more, but not once the starting ones count as idle: nothing
    moves, the rule that asked first is named, the guards that asked are kept, and the load
    recorded is the one with the starting pods idle."""
    decision = decide(bp, state(replicas, ready), metrics(*values), now=NOW)
    assert (decision.action, decision.reason, decision.rule) == (
        Action.NONE,
        Reason.PODS_NOT_READY,
        rule,
    )
    assert (decision.target_replicas, decision.desired_replicas) == (replicas, replicas)
    assert [(g.rule, g.estimate) for g in decision.guards] == guards
    assert decision.weighted.value == pytest.approx(counted)
    assert (decision.estimate, decision.expected, decision.needs_window) == (None, None, False)
    assert decision.references == ("spec.scaling.scale_up_threshold",)
    assert decision.rationale == words


# --- what a step comes to ----------------------------------------------------------------------

_UP_REFS = (
    "spec.scaling.scale_up_threshold",
    "spec.scaling.target_cpu_utilization",
    "spec.scaling.scale_up_increment",
    "spec.scaling.max_replicas",
    "spec.scaling.metrics",
    "spec.performance.latency_p95",
)
_HEAD = "Weighted utilization 88% (cpu 88% × 1) exceeds scale_up_threshold 80%. "


def _bounded(*, ceiling: int | None = None, increment: int | None = None) -> Blueprint:
    """The CPU-only blueprint (max_replicas 5) under a fleet ceiling and an increment."""
    bp = _blueprint()
    scaling = replace(bp.scaling, scale_up_increment=increment or bp.scaling.scale_up_increment)
    if ceiling is not None:
        scaling = replace(scaling, replica_ceiling=ceiling)
    return replace(bp, scaling=scaling)


@pytest.mark.parametrize(
    ("bp", "replicas", "avoid", "action", "reason", "target", "desired", "words"),
    [
        pytest.param(
            _bounded(),
            2,
            {3: "rolled back at 15:20"},
            Action.NONE,
            Reason.RECENTLY_FAILED,
            2,
            2,
            "Not scaling to 3 again: rolled back at 15:20.",
            id="the step's target was just rolled back: not repeated",
        ),
        pytest.param(
            _bounded(),
            2,
            {4: "rolled back at 15:20"},
            Action.SCALE_UP,
            Reason.ABOVE_THRESHOLD,
            3,
            3,
            "Scaling 2 → 3 replicas (estimate ceil(2 × 88% / 70%) = 3, step limit +1).",
            id="another count rolled back does not hold this step",
        ),
        pytest.param(
            _bounded(),
            5,
            {5: "rolled back at 15:20"},
            Action.SCALE_UP,
            Reason.AT_MAX,
            5,
            6,
            "Already at max_replicas (5); estimate ceil(5 × 88% / 70%) = 7, step limit +1, so "
            "6 replicas are proposed for approval (scale_beyond_limits).",
            id="at max, the current count rolled back: the rest is still proposed",
        ),
        pytest.param(
            _bounded(ceiling=5),
            5,
            {},
            Action.NONE,
            Reason.AT_MAX,
            5,
            5,
            "Already at max_replicas (5), which is the fleet ceiling (limits.max_replicas); "
            "estimate ceil(5 × 88% / 70%) = 7, step limit +1, but no more replicas can be "
            "proposed.",
            id="at max, which is the fleet's ceiling: nothing is proposed",
        ),
        pytest.param(
            _bounded(ceiling=6, increment=3),
            5,
            {},
            Action.SCALE_UP,
            Reason.AT_MAX,
            5,
            6,
            "Already at max_replicas (5); estimate ceil(5 × 88% / 70%) = 7, step limit +3, so "
            "6 replicas are proposed for approval (scale_beyond_limits).",
            id="at max, one below the ceiling: only up to the ceiling is proposed",
        ),
        pytest.param(
            _bounded(ceiling=6, increment=3),
            4,
            {},
            Action.SCALE_UP,
            Reason.ABOVE_THRESHOLD,
            5,
            6,
            "Scaling 4 → 5 replicas (estimate ceil(4 × 88% / 70%) = 6, step limit +3). 6 would "
            "exceed max_replicas (5); the rest is proposed for approval.",
            id="a step past max: 5 now, the 6th proposed",
        ),
    ],
)
def test_what_a_scale_up_step_comes_to(
    bp: Blueprint,
    replicas: int,
    avoid: dict[int, str],
    action: Action,
    reason: Reason,
    target: int,
    desired: int,
    words: str,
) -> None:
    decision = decide(bp, state(replicas), metrics(0.88, None, None), now=NOW, avoid=avoid)
    assert (decision.action, decision.reason, decision.rule) == (
        action,
        reason,
        DecisionRule.WEIGHTED,
    )
    assert (decision.current_replicas, decision.target_replicas, decision.desired_replicas) == (
        replicas,
        target,
        desired,
    )
    # The estimate before the step limits is kept whatever the step came to.
    assert decision.estimate == -(-replicas * 88 // 70)
    assert (decision.guards, decision.references, decision.needs_window) == ((), _UP_REFS, False)
    assert decision.rationale == _HEAD + words


@pytest.mark.parametrize(
    ("errors", "note"),
    [
        pytest.param(None, "", id="no error rate measured"),
        pytest.param(0.01, "", id="exactly at error_rate_max: not above it"),
        pytest.param(
            0.011,
            "Error rate 1.1% is above error_rate_max 1% (not a capacity signal; it played no "
            "part). ",
            id="just above error_rate_max: said, and the step is the same",
        ),
    ],
)
def test_errors_never_change_a_scale_up_and_are_named_only_above_error_rate_max(
    errors: float | None, note: str
) -> None:
    bp = _blueprint()
    assert bp.performance.error_rate_max == 0.01
    decision = decide(bp, state(2), metrics(0.88, None, None, error_rate=errors), now=NOW)
    assert (decision.action, decision.reason, decision.rule) == (
        Action.SCALE_UP,
        Reason.ABOVE_THRESHOLD,
        DecisionRule.WEIGHTED,
    )
    assert (decision.target_replicas, decision.desired_replicas) == (3, 3)
    assert decision.rationale == (
        f"{_HEAD}{note}Scaling 2 → 3 replicas (estimate ceil(2 × 88% / 70%) = 3, step limit +1)."
    )


@pytest.mark.parametrize(
    ("seconds", "action", "reason", "target", "needs_window"),
    [
        pytest.param(0, Action.SCALE_UP, Reason.ABOVE_THRESHOLD, 3, False, id="no window: steps"),
        pytest.param(1, Action.NONE, Reason.STABILIZING, 2, True, id="a 1s window: needs history"),
    ],
)
def test_a_scale_up_window_of_any_length_needs_the_metric_history(
    seconds: int, action: Action, reason: Reason, target: int, needs_window: bool
) -> None:
    """behavior.scaleUp.stabilizationWindowSeconds: 0 is no window at all, while even one
    second holds the first decision until the metric history is read."""
    behavior = f"    behavior:\n      scaleUp: {{stabilizationWindowSeconds: {seconds}}}\n"
    bp = _blueprint(scaling=behavior)
    decision = decide(bp, state(2), metrics(0.88, None, None), now=NOW)
    assert (decision.action, decision.reason, decision.rule) == (
        action,
        reason,
        DecisionRule.WEIGHTED,
    )
    assert (decision.target_replicas, decision.needs_window, decision.estimate) == (
        target,
        needs_window,
        3,
    )


# --- the step within the behavior's rate policies ---------------------------------------------

_PODS_2 = "      scaleUp:\n        policies: [{type: Pods, value: 2, periodSeconds: 60}]\n"
_PODS_1 = "      scaleUp:\n        policies: [{type: Pods, value: 1, periodSeconds: 60}]\n"
_HOT = (
    "Weighted utilization 140% (cpu 140% × 1) exceeds scale_up_threshold 80%. Guards past "
    "their limits agree: CPU 140% > 90% (asks {asks}). "
)


@pytest.mark.parametrize(
    ("policies", "increment", "replicas", "changes", "target", "estimate", "step"),
    [
        pytest.param(
            _PODS_2,
            2,
            2,
            (),
            4,
            4,
            "step limit +2",
            id="the policy leaves exactly the increment: the increment is the limit said",
        ),
        pytest.param(
            _PODS_1,
            None,
            2,
            (),
            3,
            4,
            "behavior.scaleUp: Pods 1 per 60s from 2 replicas allows 3",
            id="the policy leaves one replica: one is added",
        ),
        pytest.param(
            _PODS_2,
            None,
            5,
            ((30, 4, 5),),
            6,
            10,
            "behavior.scaleUp: Pods 2 per 60s from 4 replicas allows 6",
            id="a change within the period leaves one of the two",
        ),
    ],
)
def test_a_scale_up_step_takes_what_the_rate_policy_leaves(
    policies: str,
    increment: int | None,
    replicas: int,
    changes: tuple[tuple[int, int, int], ...],
    target: int,
    estimate: int,
    step: str,
) -> None:
    """CPU at 140%: the step is the smaller of the increment and the room the behavior's
    policy leaves in its period, and the words name whichever limited it."""
    scaling = "    behavior:\n" + policies
    if increment is not None:
        scaling += f"    scale_up_increment: {increment}\n"
    bp = _blueprint(scaling=scaling)
    bp = replace(bp, scaling=replace(bp.scaling, max_replicas=40))
    events = tuple(
        ScaleEvent(at=NOW - timedelta(seconds=ago), before=before, after=after)
        for ago, before, after in changes
    )
    decision = decide(bp, state(replicas), metrics(1.4, None, None), now=NOW, changes=events)
    assert (decision.action, decision.reason, decision.rule) == (
        Action.SCALE_UP,
        Reason.ABOVE_THRESHOLD,
        DecisionRule.WEIGHTED,
    )
    assert (decision.target_replicas, decision.desired_replicas, decision.estimate) == (
        target,
        target,
        estimate,
    )
    assert decision.rationale == _HOT.format(asks=estimate) + (
        f"Scaling {replicas} → {target} replicas (estimate ceil({replicas} × 140% / 70%) = "
        f"{estimate}, {step})."
    )


def test_the_largest_recommendation_decides_a_scale_up_even_when_w_asked_first() -> None:
    """W 84% asks for ceil(4 × 84% / 70%) = 5, memory 105% past its guard for
    ceil(4 × 105% / 80%) = 6: memory's 6 is the estimate and its guard the rule, one step of
    which is taken now."""
    decision = decide(seed_blueprint(), state(4), metrics(0.85, 1.05, 100), now=NOW)
    assert (decision.action, decision.reason, decision.rule) == (
        Action.SCALE_UP,
        Reason.ABOVE_THRESHOLD,
        DecisionRule.MEMORY_GUARD,
    )
    assert (decision.target_replicas, decision.estimate) == (5, 6)
    assert [(g.rule, g.estimate) for g in decision.guards] == [(DecisionRule.MEMORY_GUARD, 6)]
    assert decision.references == (*_UP_REFS, "spec.scaling.guards.memory_utilization")
    assert decision.rationale == (
        "Weighted utilization 84% exceeds scale_up_threshold 80% (estimate ceil(4 × 84% / 70%) "
        "= 5); memory utilization 105% is above its guard 90% "
        "(spec.scaling.guards.memory_utilization) (estimate ceil(4 × 105% / 80%) = 6). The "
        "largest recommendation decides: memory_guard. Scaling 4 → 5 replicas (estimate "
        "ceil(4 × 105% / 80%) = 6, step limit +1)."
    )
