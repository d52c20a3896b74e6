"""A decision as a value: its action, the rule and reason codes that name why, the
recommendation a rule made and the change it should lead to; and `conclude`, the one place a
branch of the engine turns its finding into a `Decision` (the expected outcome included)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from reconciler.core.blueprint.model import Blueprint, Provenance
from reconciler.core.decide.rates import Limit, ScaleEvent
from reconciler.core.decide.utilization import WeightedUtilization
from reconciler.core.ids import make_id
from reconciler.core.observed.observation import DeploymentState, Metrics
from reconciler.core.trail import wording

__all__ = [
    "BEHAVIOR_REFS",
    "METRIC_REFS",
    "Action",
    "Ask",
    "Context",
    "Decision",
    "DecisionRule",
    "Estimate",
    "Expected",
    "Reason",
    "Step",
    "conclude",
]

#: The blueprint fields every decision on the metrics refers to.
METRIC_REFS = ("spec.scaling.metrics", "spec.performance.latency_p95")
#: The behavior block of each direction, referred to when it is written.
BEHAVIOR_REFS = {
    "scaleUp": "spec.scaling.behavior.scaleUp",
    "scaleDown": "spec.scaling.behavior.scaleDown",
}


class Action(StrEnum):
    SCALE_UP = "scale_up"
    SCALE_DOWN = "scale_down"
    RESTART = "restart_pods"
    ROLLBACK = "rollback_deployment"
    ESCALATE = "escalate_to_approval"
    NONE = "no_action"


class DecisionRule(StrEnum):
    """The rule that decided. Every decision names one, so a reader knows which setting to
    look at (docs/decision-engine.md, Order of precedence)."""

    BOUNDS = "bounds"
    WEIGHTED = "weighted_utilization"
    CPU_GUARD = "cpu_guard"
    MEMORY_GUARD = "memory_guard"
    LATENCY_GUARD = "latency_guard"
    ERROR_RATE = "error_rate"
    FRESHNESS = "metrics_freshness"
    MISSING = "missing_metrics"
    RECOVERY = "recovery"
    APPROVAL = "approval_hold"
    PAUSE = "pause"
    BEHAVIOR = "scaling_behavior"


class Reason(StrEnum):
    ABOVE_THRESHOLD = "above_threshold"
    BELOW_THRESHOLD = "below_threshold"
    WITHIN_THRESHOLDS = "within_thresholds"
    AT_MAX = "at_max_replicas"
    AT_MIN = "at_min_replicas"
    ESTIMATE_UNCHANGED = "estimate_unchanged"
    METRICS_MISSING = "metrics_missing"
    METRICS_STALE = "metrics_stale"
    STABILIZING = "stabilizing"
    PODS_NOT_READY = "pods_not_ready"
    ABOVE_MAX = "above_max_replicas"
    BELOW_MIN = "below_min_replicas"
    NO_DEPLOYMENT = "no_replicas"
    RECENTLY_FAILED = "recently_failed"
    PODS_FAILING = "pods_failing"
    ROLLBACK_THRESHOLD = "rollback_threshold_reached"
    MAX_RESTARTS = "max_restarts_exceeded"
    WIDESPREAD_FAILURE = "widespread_failure"
    APPROVED_OVERRIDE = "held_by_approval"
    ERRORS_NOT_CAPACITY = "errors_not_capacity"
    PAUSED = "paused"
    RATE_LIMITED = "behavior_rate_limit"
    SCALING_DISABLED = "scaling_disabled"


@dataclass(frozen=True, kw_only=True)
class Estimate:
    """How a recommendation was reached: ceil(current × value / target), the value and the
    target in percent, or in milliseconds for latency."""

    current: int
    value: float
    target: float
    estimate: int
    in_ms: bool = False


@dataclass(frozen=True, kw_only=True)
class Step:
    """How a step's size was reached: the estimate, then what cut it (the lowest
    recommendation of a stabilization window, the step limit, the behavior's policies)."""

    basis: Estimate
    #: "scaleUp" or "scaleDown": the behavior block that limits the step.
    key: str
    lowest: int | None = None
    #: The stabilization window the lowest recommendation is from, in seconds.
    window: float = 0.0
    increment: int | None = None
    limit: Limit | None = None


@dataclass(frozen=True, kw_only=True)
class Ask:
    """One rule's recommendation for a scale-up: the weighted utilization, or a guard."""

    rule: DecisionRule
    #: The value the rule compared (W, a utilization, or p95 in milliseconds) and its limit.
    value: float
    limit: float
    estimate: int
    #: How the estimate was reached, e.g. `estimate ceil(2 × 95% / 70%) = 3`.
    basis: Estimate


@dataclass(frozen=True, kw_only=True)
class Expected:
    """What the change should lead to, by the linear model utilization × current / target."""

    replicas: int
    cpu_utilization: float | None
    memory_utilization: float | None


@dataclass(frozen=True, kw_only=True)
class Decision:
    id: str
    service: str
    blueprint_version: str
    #: The commit and blobs of the blueprint and policies it was made under.
    provenance: Provenance = field(default_factory=Provenance)
    at: datetime
    action: Action
    reason: Reason
    current_replicas: int
    #: Replicas to set now, within the bounds.
    target_replicas: int
    #: Replicas the step asked for before the bounds; beyond max it becomes a proposal.
    desired_replicas: int
    weighted: WeightedUtilization
    rationale: str
    references: tuple[str, ...]
    estimate: int | None = None
    expected: Expected | None = None
    inputs: Mapping[str, object] = field(default_factory=dict)
    #: True when a scale-down is possible and the metric history is needed to decide it.
    needs_window: bool = False
    rule: DecisionRule = DecisionRule.WEIGHTED
    #: The guards past their limits when the decision was made (empty when none was).
    guards: tuple[Ask, ...] = ()

    @property
    def beyond_limits(self) -> int | None:
        """Replicas to propose through approval, when the step went past max_replicas."""
        return self.desired_replicas if self.desired_replicas > self.target_replicas else None

    @property
    def changes(self) -> bool:
        return self.target_replicas != self.current_replicas


@dataclass(frozen=True)
class Context:
    """What every branch of one decision shares."""

    blueprint: Blueprint
    state: DeploymentState
    metrics: Metrics
    now: datetime
    weighted: WeightedUtilization
    inputs: Mapping[str, object]
    #: Mixed into the decision's id so that it is unique in the trail
    #: (`ServiceHistory.fingerprint`).
    salt: str = ""
    #: Executed replica changes from the trail, which the behavior's rate policies count.
    changes: tuple[ScaleEvent, ...] = ()
    #: Replica counts recently rolled back, and why.
    avoid: Mapping[int, str] = field(default_factory=dict)


def conclude(
    ctx: Context,
    action: Action,
    reason: Reason,
    rationale: str | wording.Reason,
    refs: Sequence[str],
    *,
    target: int | None = None,
    desired: int | None = None,
    estimate: int | None = None,
    needs_window: bool = False,
    used: WeightedUtilization | None = None,
    rule: DecisionRule = DecisionRule.WEIGHTED,
    guards: Sequence[Ask] = (),
) -> Decision:
    """The decision a branch reached; a change carries what it should lead to (`Expected`).
    A rationale given as a reason code is put into words by `trail.wording`."""
    current = ctx.state.replicas
    target = current if target is None else target
    expected = None
    if target != current and target > 0:
        ratio = current / target
        cpu, memory = ctx.metrics.cpu_utilization, ctx.metrics.memory_utilization
        expected = Expected(
            replicas=target,
            cpu_utilization=None if cpu is None else cpu * ratio,
            memory_utilization=None if memory is None else memory * ratio,
        )
    return Decision(
        id=make_id("dec", ctx.now, ctx.blueprint.name, action, target, ctx.salt),
        service=ctx.blueprint.name,
        blueprint_version=ctx.blueprint.version,
        provenance=ctx.blueprint.provenance,
        at=ctx.now,
        action=action,
        reason=reason,
        current_replicas=current,
        target_replicas=target,
        desired_replicas=target if desired is None else desired,
        weighted=used or ctx.weighted,
        rationale=str(rationale),
        references=tuple(refs),
        estimate=estimate,
        expected=expected,
        inputs=ctx.inputs,
        needs_window=needs_window,
        rule=rule,
        guards=tuple(guards),
    )
