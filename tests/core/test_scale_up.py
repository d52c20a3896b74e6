"""The scale-up branch of the decision engine at its edges: replicas beyond max_replicas that
governance will refuse whatever the metrics, the wait for starting pods, and what a step comes
to (avoided, at the fleet's ceiling, at max, or done with the rest proposed).

`decide` is driven whole, as the cycle calls it; each row asserts the outcome (action, reason,
rule, replicas) and, where the words are all a branch returns, the words too."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from reconciler.core.blueprint.loading import parse_blueprint
from reconciler.core.blueprint.model import Blueprint, Tier
from reconciler.core.decide.decision import Action, DecisionRule, Reason, decide
from reconciler.core.decide.governance import OperationRequest, Origin, classify, condition_values
from reconciler.core.decide.scale_up import _beyond_limits_refused
from reconciler.core.trail.codes import Refusal
from tests.core.helpers import NOW, POLICIES, metrics, state

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
