"""The decision engine: from a service's blueprint, state and metrics to one proposed change.

It is pure. Time, the observed state, the metrics and (when a scale-down is in question) the
metric history all come in as arguments, so the same inputs always give the same decision, and
a test can state the seed scenario's numbers exactly.

The rules, in order:

1. **Weighted utilization** W = Σ weight × value over the blueprint's metrics, with latency
   normalised as p95 / target and capped at 1 (a latency far beyond target should not drown
   the other signals). Thresholds are strict: W exactly at the threshold does nothing.
2. **Missing data** is carried as bounds: a missing metric counts 0 for the lower bound and 1
   for the upper bound. A scale-up needs the lower bound above the threshold, so missing data
   may still allow one; a scale-down needs every metric present. Missing data never scales
   down.
3. **Scale-up** follows the HPA-style estimate ceil(current × W / target_cpu_utilization) (or
   a per-metric guard's, the largest winning), at least one replica and at most
   `scale_up_increment` per step. Pods that are not ready count as idle, as the HPA does, so
   a scale-up that is still starting is not repeated.
4. **Bounds**: the engine never leaves [min_replicas, max_replicas] on its own. The part of a
   step beyond max_replicas becomes a `scale_beyond_limits` proposal (approval); the part
   within bounds is done now.
5. **Scale-down** needs W below the threshold for the whole `scale_down_stabilization` window,
   proven by the metric history, every pod ready, and then follows the estimate computed from
   the highest W in the window, at most `scale_down_increment` per step.
6. **Behavior** (`spec.scaling.behavior`, when written): HPA's rate policies limit each step
   by what the trail's executed changes left of their period (`rates`), `Disabled` turns a
   direction off, and a scale-up window holds a step to the lowest recommendation of the
   metric history. An increment not written then limits nothing; one written still does.
7. Replicas outside the bounds (after someone edited the blueprint, or scaled by hand) are
   brought back to the nearest bound: the blueprint is the desired state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from reconciler.core.blueprint.model import Blueprint, Scaling
from reconciler.core.decide.guards import asks_for_more
from reconciler.core.decide.model import (
    METRIC_REFS,
    Action,
    Ask,
    Context,
    Decision,
    DecisionRule,
    Expected,
    Reason,
    conclude,
)
from reconciler.core.decide.rates import ScaleEvent
from reconciler.core.decide.scale_down import scale_down
from reconciler.core.decide.scale_up import scale_up
from reconciler.core.decide.utilization import Component, WeightedUtilization, weighted_utilization
from reconciler.core.ids import utc
from reconciler.core.observed.observation import DeploymentState, Metrics, Sample
from reconciler.core.trail import wording
from reconciler.core.trail.wording import Code

__all__ = [
    "Action",
    "Ask",
    "Component",
    "Decision",
    "DecisionRule",
    "Expected",
    "Reason",
    "WeightedUtilization",
    "decide",
    "weighted_utilization",
    "window_span",
]

#: Metrics older than this are treated as missing.
DEFAULT_MAX_METRICS_AGE = 300.0


def decide(
    blueprint: Blueprint,
    state: DeploymentState,
    metrics: Metrics,
    *,
    now: datetime,
    window: Sequence[Sample] | None = None,
    max_metrics_age: float = DEFAULT_MAX_METRICS_AGE,
    avoid: Mapping[int, str] | None = None,
    salt: str = "",
    changes: Sequence[ScaleEvent] = (),
) -> Decision:
    """Decide what to do about one service. See the module docstring for the rules.

    `window` is the metric history over the stabilization windows; pass None at first, and
    call again with it when the result has `needs_window` set. `avoid` maps replica counts
    recently rolled back to why, so a failed target is not repeated at once. `salt` (the
    history's fingerprint) keeps the decision's id unique in the audit trail. `changes` are
    the executed replica changes from the trail (`rates.scale_events`), which the behavior's
    rate policies count.
    """
    now = utc(now)
    age = None if metrics.observed_at is None else (now - utc(metrics.observed_at)).total_seconds()
    stale = age is not None and age > max_metrics_age
    ctx = _context(
        blueprint,
        state,
        metrics,
        now=now,
        usable=Metrics() if stale else metrics,
        salt=salt,
        changes=tuple(changes),
        avoid=avoid or {},
    )
    bounded = _out_of_bounds(ctx)
    if bounded is not None:
        return bounded
    if stale:
        return conclude(
            ctx,
            Action.NONE,
            Reason.METRICS_STALE,
            wording.Reason(Code.METRICS_STALE, {"age": age, "max_age": max_metrics_age}),
            METRIC_REFS,
            rule=DecisionRule.FRESHNESS,
        )
    asks = asks_for_more(ctx, ctx.weighted, ctx.metrics)
    if asks:
        return scale_up(ctx, asks, window)
    held = _held_without_asks(ctx)
    if held is not None:
        return held
    return scale_down(ctx, window)


def _context(
    blueprint: Blueprint,
    state: DeploymentState,
    metrics: Metrics,
    *,
    now: datetime,
    usable: Metrics,
    salt: str,
    changes: tuple[ScaleEvent, ...],
    avoid: Mapping[int, str],
) -> Context:
    """What every branch shares; `usable` is the metrics once stale ones are dropped, while
    the inputs record what was observed."""
    scaling = blueprint.scaling
    return Context(
        blueprint=blueprint,
        state=state,
        metrics=usable,
        now=now,
        weighted=weighted_utilization(blueprint, usable),
        inputs={
            "replicas": state.replicas,
            "ready_replicas": state.ready_replicas,
            "cpu_utilization": metrics.cpu_utilization,
            "memory_utilization": metrics.memory_utilization,
            "latency_p95_ms": metrics.latency_p95_ms,
            "error_rate": metrics.error_rate,
            "metrics_observed_at": metrics.observed_at.isoformat() if metrics.observed_at else None,
            "scale_up_threshold": scaling.scale_up_threshold,
            "scale_down_threshold": scaling.scale_down_threshold,
        },
        salt=salt,
        changes=changes,
        avoid=avoid,
    )


def _out_of_bounds(ctx: Context) -> Decision | None:
    """Bounds first: the blueprint is the desired state, whatever the load says."""
    scaling = ctx.blueprint.scaling
    current = ctx.state.replicas
    if current > scaling.max_replicas:
        return conclude(
            ctx,
            Action.SCALE_DOWN,
            Reason.ABOVE_MAX,
            wording.Reason(Code.ABOVE_MAX, {"current": current, "limit": scaling.max_replicas}),
            ["spec.scaling.max_replicas"],
            target=scaling.max_replicas,
            rule=DecisionRule.BOUNDS,
        )
    if current < scaling.min_replicas:
        return conclude(
            ctx,
            Action.SCALE_UP,
            Reason.BELOW_MIN,
            wording.Reason(Code.BELOW_MIN, {"current": current, "limit": scaling.min_replicas}),
            ["spec.scaling.min_replicas"],
            target=scaling.min_replicas,
            rule=DecisionRule.BOUNDS,
        )
    return None


def _held_without_asks(ctx: Context) -> Decision | None:
    """Nothing asks for a scale-up: high errors, missing metrics or W within the thresholds
    each hold the replicas where they are; None leaves the question to the scale-down."""
    blueprint, weighted = ctx.blueprint, ctx.weighted
    up, down = blueprint.scaling.scale_up_threshold, blueprint.scaling.scale_down_threshold
    errors = ctx.metrics.error_rate
    if errors is not None and errors > blueprint.performance.error_rate_max:
        return conclude(
            ctx,
            Action.NONE,
            Reason.ERRORS_NOT_CAPACITY,
            wording.Reason(
                Code.ERRORS_NOT_CAPACITY,
                {
                    "errors": errors,
                    "error_max": blueprint.performance.error_rate_max,
                    "used": weighted,
                    "up": up,
                    "replicas": ctx.state.replicas,
                },
            ),
            ["spec.performance.error_rate_max", *METRIC_REFS],
            rule=DecisionRule.ERROR_RATE,
        )
    if weighted.value is None:
        missing = ", ".join(weighted.missing)
        if weighted.high > up:
            why = wording.Reason(
                Code.METRICS_UNDECIDED,
                {"low": weighted.low, "high": weighted.high, "missing": missing, "up": up},
            )
        else:
            why = wording.Reason(Code.METRICS_MISSING, {"missing": missing})
        return conclude(
            ctx,
            Action.NONE,
            Reason.METRICS_MISSING,
            why,
            METRIC_REFS,
            rule=DecisionRule.MISSING,
        )
    if weighted.value >= down:
        return conclude(
            ctx,
            Action.NONE,
            Reason.WITHIN_THRESHOLDS,
            wording.Reason(
                Code.WITHIN_THRESHOLDS,
                {"value": weighted.value, "described": weighted.describe(), "down": down, "up": up},
            ),
            ["spec.scaling.scale_up_threshold", "spec.scaling.scale_down_threshold", *METRIC_REFS],
        )
    return None


def window_span(scaling: Scaling) -> float:
    """Seconds of metric history a decision may need: the longer stabilization window."""
    up = 0.0 if scaling.behavior is None else scaling.behavior.scale_up.stabilization
    return max(scaling.scale_down_stabilization, up)
