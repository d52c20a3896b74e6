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
3. **Scale-up** follows the HPA-style estimate ceil(current × W / target_cpu_utilization), at
   least one replica and at most `scale_up_increment` per step. Pods that are not ready count
   as idle, as the HPA does, so a scale-up that is still starting is not repeated.
4. **Bounds**: the engine never leaves [min_replicas, max_replicas] on its own. The part of a
   step beyond max_replicas becomes a `scale_beyond_limits` proposal (approval); the part
   within bounds is done now.
5. **Scale-down** needs W below the threshold for the whole `scale_down_stabilization` window,
   proven by the metric history, every pod ready, and then follows the estimate computed from
   the highest W in the window, at most `scale_down_increment` per step.
6. Replicas outside the bounds (after someone edited the blueprint, or scaled by hand) are
   brought back to the nearest bound: the blueprint is the desired state.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from reconciler.core.blueprint.model import Blueprint, MetricWeight, Provenance, Tier
from reconciler.core.blueprint.units import format_duration, format_percent
from reconciler.core.ids import make_id, utc
from reconciler.core.observed.observation import DeploymentState, Metrics, Sample

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
]

#: Metrics older than this are treated as missing.
DEFAULT_MAX_METRICS_AGE = 300.0
#: The history may start this much after the window opens and still count as covering it.
WINDOW_SLACK = 30.0


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


@dataclass(frozen=True, kw_only=True)
class Component:
    """One metric's part in W: the value as reported, normalised, weighted."""

    type: str
    weight: float
    value: float | None
    normalised: float | None
    contribution: float | None
    #: For latency, the target it is normalised by (milliseconds).
    target: float | None = None


@dataclass(frozen=True, kw_only=True)
class WeightedUtilization:
    value: float | None
    low: float
    high: float
    components: tuple[Component, ...]

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(c.type for c in self.components if c.value is None)

    def describe(self) -> str:
        parts = []
        for c in self.components:
            if c.value is None:
                parts.append(f"{c.type} missing × {c.weight:g}")
            elif c.type == "latency":
                capped = " (capped)" if c.target is not None and c.value > c.target else ""
                parts.append(
                    f"latency {c.value:g}ms/{c.target:g}ms = {format_percent(c.normalised or 0)}"
                    f"{capped} × {c.weight:g}"
                )
            else:
                parts.append(f"{c.type} {format_percent(c.value)} × {c.weight:g}")
        return " + ".join(parts)


@dataclass(frozen=True, kw_only=True)
class Ask:
    """One rule's recommendation for a scale-up: the weighted utilization, or a guard."""

    rule: DecisionRule
    #: The value the rule compared (W, a utilization, or p95 in milliseconds) and its limit.
    value: float
    limit: float
    estimate: int
    #: How the estimate was reached, e.g. `estimate ceil(2 × 95% / 70%) = 3`.
    formula: str

    def describe(self) -> str:
        if self.rule is DecisionRule.LATENCY_GUARD:
            return (
                f"latency p95 {self.value:g}ms is above its guard {self.limit:g}ms "
                "(spec.scaling.guards.latency_factor × latency_p95)"
            )
        what, key = ("CPU", "cpu") if self.rule is DecisionRule.CPU_GUARD else ("memory", "memory")
        return (
            f"{what} utilization {format_percent(self.value)} is above its guard "
            f"{format_percent(self.limit)} (spec.scaling.guards.{key}_utilization)"
        )

    def brief(self) -> str:
        """`CPU 92% > 90% (asks 7)`: for a decision another rule made."""
        if self.rule is DecisionRule.LATENCY_GUARD:
            shown = f"p95 {self.value:g}ms > {self.limit:g}ms"
        else:
            what = "CPU" if self.rule is DecisionRule.CPU_GUARD else "memory"
            shown = f"{what} {format_percent(self.value)} > {format_percent(self.limit)}"
        return f"{shown} (asks {self.estimate})"


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


def _normalise(metric: MetricWeight, metrics: Metrics, latency_target: float) -> float | None:
    if metric.type == "cpu":
        return metrics.cpu_utilization
    if metric.type == "memory":
        return metrics.memory_utilization
    if metrics.latency_p95_ms is None:
        return None
    return min(metrics.latency_p95_ms / latency_target, 1.0)


def weighted_utilization(blueprint: Blueprint, metrics: Metrics | Sample) -> WeightedUtilization:
    """W with its parts; bounds carry missing metrics (0 for the low bound, 1 for the high)."""
    values = Metrics(
        cpu_utilization=metrics.cpu_utilization,
        memory_utilization=metrics.memory_utilization,
        latency_p95_ms=metrics.latency_p95_ms,
    )
    components = []
    low = high = 0.0
    for metric in blueprint.scaling.metrics:
        normalised = _normalise(metric, values, blueprint.performance.latency_p95_ms)
        raw = values.latency_p95_ms if metric.type == "latency" else normalised
        contribution = None if normalised is None else normalised * metric.weight
        components.append(
            Component(
                type=metric.type,
                weight=metric.weight,
                value=raw,
                normalised=normalised,
                contribution=contribution,
                target=blueprint.performance.latency_p95_ms if metric.type == "latency" else None,
            )
        )
        low += contribution or 0.0
        high += metric.weight if contribution is None else contribution
    complete = all(c.contribution is not None for c in components)
    return WeightedUtilization(
        value=low if complete else None, low=low, high=high, components=tuple(components)
    )


@dataclass(frozen=True)
class _Context:
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


def _result(
    ctx: _Context,
    action: Action,
    reason: Reason,
    rationale: str,
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
        rationale=rationale,
        references=tuple(refs),
        estimate=estimate,
        expected=expected,
        inputs=ctx.inputs,
        needs_window=needs_window,
        rule=rule,
        guards=tuple(guards),
    )


_METRIC_REFS = ("spec.scaling.metrics", "spec.performance.latency_p95")


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
) -> Decision:
    """Decide what to do about one service. See the module docstring for the rules.

    `window` is the metric history over the scale-down stabilization window; pass None at
    first, and call again with it when the result has `needs_window` set. `avoid` maps replica
    counts recently rolled back to why, so a failed target is not repeated at once. `salt`
    (the history's fingerprint) keeps the decision's id unique in the audit trail.
    """
    now = utc(now)
    scaling = blueprint.scaling
    current = state.replicas
    age = None if metrics.observed_at is None else (now - utc(metrics.observed_at)).total_seconds()
    stale = age is not None and age > max_metrics_age
    usable = Metrics() if stale else metrics
    ctx = _Context(
        blueprint=blueprint,
        state=state,
        metrics=usable,
        now=now,
        weighted=weighted_utilization(blueprint, usable),
        inputs={
            "replicas": current,
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
    )
    weighted = ctx.weighted
    up, down = scaling.scale_up_threshold, scaling.scale_down_threshold

    # Bounds first: the blueprint is the desired state, whatever the load says.
    if current > scaling.max_replicas:
        return _result(
            ctx,
            Action.SCALE_DOWN,
            Reason.ABOVE_MAX,
            f"{current} replicas is above max_replicas ({scaling.max_replicas}); "
            "bringing the deployment back within the blueprint's bounds.",
            ["spec.scaling.max_replicas"],
            target=scaling.max_replicas,
            rule=DecisionRule.BOUNDS,
        )
    if current < scaling.min_replicas:
        return _result(
            ctx,
            Action.SCALE_UP,
            Reason.BELOW_MIN,
            f"{current} replicas is below min_replicas ({scaling.min_replicas}); "
            "bringing the deployment back within the blueprint's bounds.",
            ["spec.scaling.min_replicas"],
            target=scaling.min_replicas,
            rule=DecisionRule.BOUNDS,
        )
    if stale:
        return _result(
            ctx,
            Action.NONE,
            Reason.METRICS_STALE,
            f"Metrics are {format_duration(age or 0)} old (older than "
            f"{format_duration(max_metrics_age)}); not scaling on stale data.",
            _METRIC_REFS,
            rule=DecisionRule.FRESHNESS,
        )
    asks = _asks(ctx, weighted, usable)
    if asks:
        return _scale_up(ctx, asks, avoid or {})
    errors = usable.error_rate
    if errors is not None and errors > blueprint.performance.error_rate_max:
        return _result(
            ctx,
            Action.NONE,
            Reason.ERRORS_NOT_CAPACITY,
            f"Error rate {format_percent(errors)} is above error_rate_max "
            f"{format_percent(blueprint.performance.error_rate_max)}, but {_w_text(weighted, up)} "
            "and no guard is past its limit: errors with normal utilization are not a capacity "
            f"signal, so replicas stay at {current} (and no scale-down while errors are high). "
            "Look at the release and its dependencies.",
            ["spec.performance.error_rate_max", *_METRIC_REFS],
            rule=DecisionRule.ERROR_RATE,
        )
    if weighted.value is None:
        missing = ", ".join(weighted.missing)
        if weighted.high > up:
            detail = (
                f"W is between {format_percent(weighted.low)} and {format_percent(weighted.high)}"
                f" depending on the missing {missing}, so it may or may not exceed "
                f"scale_up_threshold {format_percent(up)}"
            )
        else:
            detail = f"{missing} missing, and missing data never scales down"
        return _result(
            ctx,
            Action.NONE,
            Reason.METRICS_MISSING,
            f"Not scaling: {detail}.",
            _METRIC_REFS,
            rule=DecisionRule.MISSING,
        )
    if weighted.value >= down:
        return _result(
            ctx,
            Action.NONE,
            Reason.WITHIN_THRESHOLDS,
            f"Weighted utilization {format_percent(weighted.value)} ({weighted.describe()}) is "
            f"within the thresholds ({format_percent(down)} to {format_percent(up)}).",
            ["spec.scaling.scale_up_threshold", "spec.scaling.scale_down_threshold", *_METRIC_REFS],
        )
    return _scale_down(ctx, window, avoid or {})


def _w_text(weighted: WeightedUtilization, up: float) -> str:
    """W in words, for a decision some other rule made."""
    if weighted.value is None:
        return (
            f"weighted utilization is between {format_percent(weighted.low)} and "
            f"{format_percent(weighted.high)} depending on the missing "
            f"{', '.join(weighted.missing)}"
        )
    relation = "exceeds" if weighted.value > up else "does not exceed"
    return (
        f"weighted utilization {format_percent(weighted.value)} ({weighted.describe()}) "
        f"{relation} scale_up_threshold {format_percent(up)}"
    )


def _asks(ctx: _Context, weighted: WeightedUtilization, values: Metrics) -> list[Ask]:
    """Every rule that asks for a scale-up, W first: W above the threshold (its lower bound, so
    a missing metric never blocks what the known ones prove), and each weighted metric past
    its own guard. The largest estimate wins; on a tie the first, so W keeps its word."""
    scaling = ctx.blueprint.scaling
    guards = scaling.guards
    current = ctx.state.replicas
    asks: list[Ask] = []

    def ask(rule: DecisionRule, value: float, limit: float, ratio: float, shown: str) -> Ask:
        estimate = math.ceil(current * ratio - 1e-9)
        return Ask(
            rule=rule,
            value=value,
            limit=limit,
            estimate=estimate,
            formula=f"estimate ceil({current} × {shown}) = {estimate}",
        )

    target = scaling.target_cpu_utilization
    if weighted.low > scaling.scale_up_threshold:
        w = weighted.low
        asks.append(
            ask(
                DecisionRule.WEIGHTED,
                w,
                scaling.scale_up_threshold,
                w / target,
                f"{format_percent(w)} / {format_percent(target)}",
            )
        )
    weighed = {metric.type for metric in scaling.metrics}
    cpu, memory, p95 = values.cpu_utilization, values.memory_utilization, values.latency_p95_ms
    if "cpu" in weighed and cpu is not None and cpu > guards.cpu_utilization:
        asks.append(
            ask(
                DecisionRule.CPU_GUARD,
                cpu,
                guards.cpu_utilization,
                cpu / target,
                f"{format_percent(cpu)} / {format_percent(target)}",
            )
        )
    memory_target = scaling.target_memory_utilization
    if "memory" in weighed and memory is not None and memory > guards.memory_utilization:
        asks.append(
            ask(
                DecisionRule.MEMORY_GUARD,
                memory,
                guards.memory_utilization,
                memory / memory_target,
                f"{format_percent(memory)} / {format_percent(memory_target)}",
            )
        )
    latency_target = ctx.blueprint.performance.latency_p95_ms
    limit = latency_target * guards.latency_factor
    if "latency" in weighed and p95 is not None and p95 > limit:
        asks.append(
            ask(
                DecisionRule.LATENCY_GUARD,
                p95,
                limit,
                p95 / latency_target,
                f"{p95:g}ms / {latency_target:g}ms",
            )
        )
    return asks


def _scale_up(ctx: _Context, asks: Sequence[Ask], avoid: Mapping[int, str]) -> Decision:
    scaling = ctx.blueprint.scaling
    state, metrics = ctx.state, ctx.metrics
    current = state.replicas
    up = scaling.scale_up_threshold
    used = ctx.weighted
    note = ""
    if 0 < state.ready_replicas < current:
        # As the HPA does: unready pods count as idle, so a scale-up whose pods are still
        # starting is not repeated on the strength of the pods that carry the load meanwhile.
        share = state.ready_replicas / current
        cpu, memory = metrics.cpu_utilization, metrics.memory_utilization
        idle = Metrics(
            cpu_utilization=None if cpu is None else cpu * share,
            memory_utilization=None if memory is None else memory * share,
            latency_p95_ms=metrics.latency_p95_ms,
        )
        used = weighted_utilization(ctx.blueprint, idle)
        note = (
            f" {state.ready_replicas} of {current} pods are ready; counting the others as idle "
            f"gives {format_percent(used.low)}."
        )
        raw = asks
        asks = _asks(ctx, used, idle)
        if not asks:
            if [a.rule for a in raw] == [DecisionRule.WEIGHTED]:
                asked = (
                    f"Weighted utilization {format_percent(ctx.weighted.low)} is above "
                    f"scale_up_threshold {format_percent(up)}"
                )
            else:
                asked = "; ".join(_ask_text(a, up) for a in raw)
                asked = asked[0].upper() + asked[1:]
            return _result(
                ctx,
                Action.NONE,
                Reason.PODS_NOT_READY,
                f"{asked}, but{note} Waiting for the new pods.",
                ["spec.scaling.scale_up_threshold"],
                used=used,
                rule=raw[0].rule,
                guards=[a for a in raw if a.rule is not DecisionRule.WEIGHTED],
            )
    winner = max(asks, key=lambda a: a.estimate)
    guards = [a for a in asks if a.rule is not DecisionRule.WEIGHTED]
    estimate = winner.estimate
    step = min(scaling.scale_up_increment, max(1, estimate - current))
    # Nothing beyond the fleet's ceiling is proposed: no approval could make it valid.
    desired = max(current, min(current + step, scaling.replica_ceiling))
    target = min(desired, scaling.max_replicas)
    refs = [
        "spec.scaling.scale_up_threshold",
        "spec.scaling.target_cpu_utilization",
        "spec.scaling.scale_up_increment",
        "spec.scaling.max_replicas",
        *_METRIC_REFS,
        *(_GUARD_REFS[a.rule] for a in guards),
    ]
    formula = f"{winner.formula}, step limit +{scaling.scale_up_increment}"
    if winner.rule is DecisionRule.WEIGHTED:
        head = (
            f"Weighted utilization {format_percent(winner.value)} ({used.describe()}) exceeds "
            f"scale_up_threshold {format_percent(up)}.{note}"
        )
        if guards:
            head += f" Guards past their limits agree: {', '.join(a.brief() for a in guards)}."
    else:
        text = "; ".join(
            [
                *(_ask_text(a, up) for a in asks),
                *(
                    []
                    if any(a.rule is DecisionRule.WEIGHTED for a in asks)
                    else [_w_text(used, up)]
                ),
            ]
        )
        head = (
            f"{text[0].upper()}{text[1:]}. The largest recommendation decides: {winner.rule}.{note}"
        )
    errors = metrics.error_rate
    error_max = ctx.blueprint.performance.error_rate_max
    if errors is not None and errors > error_max:
        head += (
            f" Error rate {format_percent(errors)} is above error_rate_max "
            f"{format_percent(error_max)} (not a capacity signal; it played no part)."
        )
    if target != current and target in avoid:
        return _result(
            ctx,
            Action.NONE,
            Reason.RECENTLY_FAILED,
            f"{head} Not scaling to {target} again: {avoid[target]}.",
            refs,
            estimate=estimate,
            used=used,
            rule=winner.rule,
            guards=guards,
        )
    if target == current and desired == current:
        return _result(
            ctx,
            Action.NONE,
            Reason.AT_MAX,
            f"{head} Already at max_replicas ({scaling.max_replicas}), which is the fleet "
            f"ceiling (limits.max_replicas); {formula}, but no more replicas can be proposed.",
            refs,
            estimate=estimate,
            used=used,
            rule=winner.rule,
            guards=guards,
        )
    refused = _beyond_limits_refused(ctx.blueprint)
    if target == current:
        return _result(
            ctx,
            Action.SCALE_UP,
            Reason.AT_MAX,
            f"{head} Already at max_replicas ({scaling.max_replicas}); {formula}, so "
            f"{desired} replicas "
            + (refused or "are proposed for approval (scale_beyond_limits)")
            + ".",
            refs,
            desired=desired,
            estimate=estimate,
            used=used,
            rule=winner.rule,
            guards=guards,
        )
    beyond = (
        f" {desired} would exceed max_replicas ({scaling.max_replicas}); "
        + (
            "the rest is proposed for approval."
            if refused is None
            else f"{desired} replicas {refused}."
        )
        if desired > target
        else ""
    )
    return _result(
        ctx,
        Action.SCALE_UP,
        Reason.ABOVE_THRESHOLD,
        f"{head} Scaling {current} → {target} replicas ({formula}).{beyond}",
        refs,
        target=target,
        desired=desired,
        estimate=estimate,
        used=used,
        rule=winner.rule,
        guards=guards,
    )


def _beyond_limits_refused(blueprint: Blueprint) -> str | None:
    """Why governance will refuse replicas beyond max_replicas whatever the metrics, or None
    when they can be proposed for approval: said in the decision so that the decision and the
    verdict after it never disagree (a one-line policies file lists no tier at all).

    Only what holds whatever the metrics are is told apart here (a rule forbidding it without
    a condition, or no rule at all); anything conditional is governance's to judge, and the
    verdict says which way it went.
    """
    operation = "scale_beyond_limits"
    rules = blueprint.policy.rules_for(operation)
    if any(rule.tier is Tier.FORBIDDEN and rule.condition is None for rule in rules):
        return f"would need {operation}, which the policy forbids, so governance refuses it"
    if not rules:
        return (
            f"would need {operation}, which no tier of the policy lists, so governance "
            "refuses it (list it under requires_approval to have it proposed)"
        )
    return None


_GUARD_REFS = {
    DecisionRule.CPU_GUARD: "spec.scaling.guards.cpu_utilization",
    DecisionRule.MEMORY_GUARD: "spec.scaling.guards.memory_utilization",
    DecisionRule.LATENCY_GUARD: "spec.scaling.guards.latency_factor",
}


def _ask_text(ask: Ask, up: float) -> str:
    if ask.rule is DecisionRule.WEIGHTED:
        return (
            f"weighted utilization {format_percent(ask.value)} exceeds scale_up_threshold "
            f"{format_percent(up)} ({ask.formula})"
        )
    return f"{ask.describe()} ({ask.formula})"


def _scale_down(
    ctx: _Context, window: Sequence[Sample] | None, avoid: Mapping[int, str]
) -> Decision:
    scaling = ctx.blueprint.scaling
    state, now = ctx.state, ctx.now
    current = state.replicas
    down = scaling.scale_down_threshold
    value = ctx.weighted.value or 0.0
    head = (
        f"Weighted utilization {format_percent(value)} ({ctx.weighted.describe()}) is below "
        f"scale_down_threshold {format_percent(down)}."
    )
    refs = [
        "spec.scaling.scale_down_threshold",
        "spec.scaling.scale_down_stabilization",
        "spec.scaling.min_replicas",
        "spec.scaling.scale_down_increment",
        "spec.scaling.target_cpu_utilization",
    ]
    if current <= scaling.min_replicas:
        return _result(
            ctx,
            Action.NONE,
            Reason.AT_MIN,
            f"{head} Already at min_replicas ({scaling.min_replicas}).",
            refs,
        )
    if state.ready_replicas < current:
        return _result(
            ctx,
            Action.NONE,
            Reason.PODS_NOT_READY,
            f"{head} Only {state.ready_replicas} of {current} pods are ready; not scaling down "
            "until all are.",
            refs,
        )
    if window is None:
        return _result(
            ctx,
            Action.NONE,
            Reason.STABILIZING,
            f"{head} The metric history is needed to confirm it stayed low.",
            refs,
            needs_window=True,
        )
    span = scaling.scale_down_stabilization
    opened = now - timedelta(seconds=span)
    in_window = sorted((s for s in window if opened <= utc(s.at) <= now), key=lambda s: s.at)
    # Walk back from now while every sample is below the threshold; the window is proven
    # only if that unbroken run reaches back to (about) the window's start.
    evidence_from: datetime | None = None
    highest = value
    gap: tuple[str, ...] = ()
    for sample in reversed(in_window):
        sample_w = weighted_utilization(ctx.blueprint, sample)
        if sample_w.value is None:
            gap = sample_w.missing
            break
        if sample_w.value >= down:
            break
        highest = max(highest, sample_w.value)
        evidence_from = utc(sample.at)
    unbroken = bool(in_window) and evidence_from == utc(in_window[0].at)
    covered = (
        unbroken
        and evidence_from is not None
        and (evidence_from - opened).total_seconds() <= WINDOW_SLACK
    )
    if not covered:
        below_for = (now - evidence_from).total_seconds() if evidence_from else 0.0
        if not in_window:
            why = "There is no metric history for the window yet; waiting."
        elif gap:
            why = (
                f"The metric history has no {', '.join(gap)} data there, so it cannot show the "
                f"load stayed low (below for {format_duration(below_for)} of the "
                f"{format_duration(span)} window); waiting."
            )
        else:
            why = (
                f"It has been below for {format_duration(below_for)} of the "
                f"{format_duration(span)} scale_down_stabilization window; waiting."
            )
        return _result(ctx, Action.NONE, Reason.STABILIZING, f"{head} {why}", refs)
    estimate = math.ceil(current * highest / scaling.target_cpu_utilization - 1e-9)
    formula = (
        f"estimate ceil({current} × {format_percent(highest)} / "
        f"{format_percent(scaling.target_cpu_utilization)}) = {estimate}"
    )
    if estimate >= current:
        return _result(
            ctx,
            Action.NONE,
            Reason.ESTIMATE_UNCHANGED,
            f"{head} The {formula} keeps {current} replicas.",
            refs,
            estimate=estimate,
        )
    target = max(
        current - min(scaling.scale_down_increment, current - estimate), scaling.min_replicas
    )
    if target in avoid:
        return _result(
            ctx,
            Action.NONE,
            Reason.RECENTLY_FAILED,
            f"{head} Not scaling to {target} again: {avoid[target]}.",
            refs,
            estimate=estimate,
        )
    return _result(
        ctx,
        Action.SCALE_DOWN,
        Reason.BELOW_THRESHOLD,
        f"{head} It stayed below for the whole {format_duration(span)} window (highest "
        f"{format_percent(highest)}). Scaling {current} → {target} replicas ({formula}, step "
        f"limit -{scaling.scale_down_increment}, floor min_replicas {scaling.min_replicas}).",
        refs,
        target=target,
        estimate=estimate,
    )
