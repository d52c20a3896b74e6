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

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from reconciler.core.blueprint.model import (
    Blueprint,
    MetricWeight,
    Provenance,
    Scaling,
    SelectPolicy,
    Tier,
)
from reconciler.core.blueprint.units import format_duration, format_percent
from reconciler.core.decide.rates import Limit, ScaleEvent, down_limit, up_limit
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
    "window_span",
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
    #: Executed replica changes from the trail, which the behavior's rate policies count.
    changes: tuple[ScaleEvent, ...] = ()
    #: Replica counts recently rolled back, and why.
    avoid: Mapping[int, str] = field(default_factory=dict)


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
        return _result(
            ctx,
            Action.NONE,
            Reason.METRICS_STALE,
            f"Metrics are {format_duration(age or 0)} old (older than "
            f"{format_duration(max_metrics_age)}); not scaling on stale data.",
            _METRIC_REFS,
            rule=DecisionRule.FRESHNESS,
        )
    asks = _asks(ctx, ctx.weighted, ctx.metrics)
    if asks:
        return _scale_up(ctx, asks, window)
    held = _held_without_asks(ctx)
    if held is not None:
        return held
    return _scale_down(ctx, window)


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
) -> _Context:
    """What every branch shares; `usable` is the metrics once stale ones are dropped, while
    the inputs record what was observed."""
    scaling = blueprint.scaling
    return _Context(
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


def _out_of_bounds(ctx: _Context) -> Decision | None:
    """Bounds first: the blueprint is the desired state, whatever the load says."""
    scaling = ctx.blueprint.scaling
    current = ctx.state.replicas
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
    return None


def _held_without_asks(ctx: _Context) -> Decision | None:
    """Nothing asks for a scale-up: high errors, missing metrics or W within the thresholds
    each hold the replicas where they are; None leaves the question to the scale-down."""
    blueprint, weighted = ctx.blueprint, ctx.weighted
    up, down = blueprint.scaling.scale_up_threshold, blueprint.scaling.scale_down_threshold
    errors = ctx.metrics.error_rate
    if errors is not None and errors > blueprint.performance.error_rate_max:
        return _result(
            ctx,
            Action.NONE,
            Reason.ERRORS_NOT_CAPACITY,
            f"Error rate {format_percent(errors)} is above error_rate_max "
            f"{format_percent(blueprint.performance.error_rate_max)}, but {_w_text(weighted, up)} "
            "and no guard is past its limit: errors with normal utilization are not a capacity "
            f"signal, so replicas stay at {ctx.state.replicas} (and no scale-down while errors "
            "are high). Look at the release and its dependencies.",
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
    return None


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
    asks: list[Ask] = []
    target = scaling.target_cpu_utilization
    if weighted.low > scaling.scale_up_threshold:
        w = weighted.low
        asks.append(
            _ask(
                ctx.state.replicas,
                DecisionRule.WEIGHTED,
                w,
                scaling.scale_up_threshold,
                w / target,
                f"{format_percent(w)} / {format_percent(target)}",
            )
        )
    return asks + _guard_asks(ctx, values)


def _ask(
    current: int, rule: DecisionRule, value: float, limit: float, ratio: float, shown: str
) -> Ask:
    """One recommendation: ceil(current × ratio), with the formula that shows it."""
    estimate = math.ceil(current * ratio - 1e-9)
    return Ask(
        rule=rule,
        value=value,
        limit=limit,
        estimate=estimate,
        formula=f"estimate ceil({current} × {shown}) = {estimate}",
    )


def _guard_asks(ctx: _Context, values: Metrics) -> list[Ask]:
    """Each weighted metric past its own guard, CPU, memory, latency: a guard judges only a
    metric it measured."""
    scaling = ctx.blueprint.scaling
    guards = scaling.guards
    current = ctx.state.replicas
    asks: list[Ask] = []
    weighed = {metric.type for metric in scaling.metrics}
    cpu, memory, p95 = values.cpu_utilization, values.memory_utilization, values.latency_p95_ms
    target = scaling.target_cpu_utilization
    if "cpu" in weighed and cpu is not None and cpu > guards.cpu_utilization:
        asks.append(
            _ask(
                current,
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
            _ask(
                current,
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
            _ask(
                current,
                DecisionRule.LATENCY_GUARD,
                p95,
                limit,
                p95 / latency_target,
                f"{p95:g}ms / {latency_target:g}ms",
            )
        )
    return asks


@dataclass(frozen=True, kw_only=True)
class _Asked:
    """A scale-up some rule asked for, with what every outcome of it says and records."""

    winner: Ask
    guards: tuple[Ask, ...]
    used: WeightedUtilization
    head: str
    refs: tuple[str, ...]
    estimate: int
    #: How the estimate was reached, before the step limits.
    formula: str

    def result(
        self,
        ctx: _Context,
        action: Action,
        reason: Reason,
        text: str,
        *,
        target: int | None = None,
        desired: int | None = None,
        rule: DecisionRule | None = None,
        needs_window: bool = False,
    ) -> Decision:
        return _result(
            ctx,
            action,
            reason,
            f"{self.head} {text}",
            self.refs,
            target=target,
            desired=desired,
            estimate=self.estimate,
            needs_window=needs_window,
            used=self.used,
            rule=rule or self.winner.rule,
            guards=self.guards,
        )


_UP_REFS = (
    "spec.scaling.scale_up_threshold",
    "spec.scaling.target_cpu_utilization",
    "spec.scaling.scale_up_increment",
    "spec.scaling.max_replicas",
    *_METRIC_REFS,
)


def _scale_up(ctx: _Context, asks: Sequence[Ask], window: Sequence[Sample] | None) -> Decision:
    """Some rule asks for more replicas: count unready pods as idle, then stabilize, step
    within the increment and the behavior, and keep within the bounds."""
    used, note = ctx.weighted, ""
    state = ctx.state
    if 0 < state.ready_replicas < state.replicas:
        used, note, counted = _count_unready_as_idle(ctx)
        if not counted:
            return _waiting_for_pods(ctx, asks, used, note)
        asks = counted
    asked = _asked(ctx, asks, used, note)
    behavior = ctx.blueprint.scaling.behavior
    if behavior is not None and behavior.scale_up.stabilization > 0:
        stabilized = _stabilize_up(ctx, asked, window, behavior.scale_up.stabilization)
        if isinstance(stabilized, Decision):
            return stabilized
        asked = stabilized
    return _step_up(ctx, asked)


def _count_unready_as_idle(
    ctx: _Context,
) -> tuple[WeightedUtilization, str, list[Ask]]:
    """As the HPA does: unready pods count as idle, so a scale-up whose pods are still
    starting is not repeated on the strength of the pods that carry the load meanwhile."""
    state, metrics = ctx.state, ctx.metrics
    share = state.ready_replicas / state.replicas
    cpu, memory = metrics.cpu_utilization, metrics.memory_utilization
    idle = Metrics(
        cpu_utilization=None if cpu is None else cpu * share,
        memory_utilization=None if memory is None else memory * share,
        latency_p95_ms=metrics.latency_p95_ms,
    )
    used = weighted_utilization(ctx.blueprint, idle)
    note = (
        f" {state.ready_replicas} of {state.replicas} pods are ready; counting the others as "
        f"idle gives {format_percent(used.low)}."
    )
    return used, note, _asks(ctx, used, idle)


def _waiting_for_pods(
    ctx: _Context, raw: Sequence[Ask], used: WeightedUtilization, note: str
) -> Decision:
    """The ready pods asked for more, but not once the starting ones count as idle."""
    up = ctx.blueprint.scaling.scale_up_threshold
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


def _asked(ctx: _Context, asks: Sequence[Ask], used: WeightedUtilization, note: str) -> _Asked:
    """The largest recommendation, and the words that say which rules asked and why."""
    up = ctx.blueprint.scaling.scale_up_threshold
    winner = max(asks, key=lambda a: a.estimate)
    guards = tuple(a for a in asks if a.rule is not DecisionRule.WEIGHTED)
    if winner.rule is DecisionRule.WEIGHTED:
        head = (
            f"Weighted utilization {format_percent(winner.value)} ({used.describe()}) exceeds "
            f"scale_up_threshold {format_percent(up)}.{note}"
        )
        if guards:
            head += f" Guards past their limits agree: {', '.join(a.brief() for a in guards)}."
    else:
        texts = [_ask_text(a, up) for a in asks]
        if not any(a.rule is DecisionRule.WEIGHTED for a in asks):
            texts.append(_w_text(used, up))
        text = "; ".join(texts)
        head = (
            f"{text[0].upper()}{text[1:]}. The largest recommendation decides: {winner.rule}.{note}"
        )
    errors = ctx.metrics.error_rate
    error_max = ctx.blueprint.performance.error_rate_max
    if errors is not None and errors > error_max:
        head += (
            f" Error rate {format_percent(errors)} is above error_rate_max "
            f"{format_percent(error_max)} (not a capacity signal; it played no part)."
        )
    refs = [*_UP_REFS, *(_GUARD_REFS[a.rule] for a in guards)]
    if ctx.blueprint.scaling.behavior is not None:
        refs.append(_BEHAVIOR_REFS["scaleUp"])
    return _Asked(
        winner=winner,
        guards=guards,
        used=used,
        head=head,
        refs=tuple(refs),
        estimate=winner.estimate,
        formula=winner.formula,
    )


def _stabilize_up(
    ctx: _Context, asked: _Asked, window: Sequence[Sample] | None, span: float
) -> _Asked | Decision:
    """behavior.scaleUp.stabilizationWindowSeconds: scale up only as far as the lowest
    recommendation over the window, each sample of the metric history judged by the same
    rules (a sample that asks for nothing recommends the current replicas)."""
    shown = f"{format_duration(span)} behavior.scaleUp stabilization window"
    current = ctx.state.replicas
    if window is None:
        return asked.result(
            ctx,
            Action.NONE,
            Reason.STABILIZING,
            f"The metric history is needed to confirm the {shown}.",
            needs_window=True,
        )
    opened = ctx.now - timedelta(seconds=span)
    lowest = asked.estimate
    for sample in window:
        if opened <= utc(sample.at) <= ctx.now:
            values = Metrics(
                cpu_utilization=sample.cpu_utilization,
                memory_utilization=sample.memory_utilization,
                latency_p95_ms=sample.latency_p95_ms,
            )
            asks = _asks(ctx, weighted_utilization(ctx.blueprint, values), values)
            lowest = min(lowest, max((a.estimate for a in asks), default=current))
    if lowest <= current:
        return asked.result(
            ctx,
            Action.NONE,
            Reason.STABILIZING,
            f"The lowest recommendation in the {shown} is {lowest} replicas; waiting.",
            rule=DecisionRule.BEHAVIOR,
        )
    if lowest == asked.estimate:
        return asked
    return replace(
        asked,
        estimate=lowest,
        formula=f"{asked.formula}, lowest in the {shown} {lowest}",
    )


def _step_up(ctx: _Context, asked: _Asked) -> Decision:
    """The step: at most scale_up_increment, within what the behavior's policies leave of
    their period, never past the fleet's ceiling; the part past max_replicas is proposed."""
    scaling = ctx.blueprint.scaling
    current = ctx.state.replicas
    wanted = max(1, asked.estimate - current)
    increment = scaling.scale_up_increment
    step = wanted if increment is None else min(increment, wanted)
    parts = [asked.formula]
    if increment is not None:
        parts.append(f"step limit +{increment}")
    room = step
    if scaling.behavior is not None:
        limit = up_limit(scaling.behavior.scale_up, current, ctx.changes, ctx.now)
        room = limit.replicas - current
        if room <= 0:
            return _held_by_behavior(ctx, asked, limit)
        if increment is None or room < step:
            parts.append(limit.describe("scaleUp"))
    formula = ", ".join(parts)
    # Nothing beyond the fleet's ceiling is proposed: no approval could make it valid.
    desired = max(current, min(current + min(step, room), scaling.replica_ceiling))
    target = min(desired, scaling.max_replicas)
    return _up_outcome(ctx, asked, desired, target, formula)


def _held_by_behavior(ctx: _Context, asked: _Asked, limit: Limit) -> Decision:
    """behavior.scaleUp leaves no room now: Disabled, or its period used up."""
    if limit.policy is None:
        return asked.result(
            ctx,
            Action.NONE,
            Reason.SCALING_DISABLED,
            "Not scaling up: behavior.scaleUp.selectPolicy is Disabled.",
            rule=DecisionRule.BEHAVIOR,
        )
    return asked.result(
        ctx,
        Action.NONE,
        Reason.RATE_LIMITED,
        f"Not scaling up yet: {_used_up(limit, 'scaleUp')}",
        rule=DecisionRule.BEHAVIOR,
    )


def _used_up(limit: Limit, key: str) -> str:
    period = limit.policy.period if limit.policy is not None else 0.0
    return (
        f"{limit.describe(key)}, which the changes executed in the last {period:g}s have used up."
    )


def _up_outcome(ctx: _Context, asked: _Asked, desired: int, target: int, formula: str) -> Decision:
    """The step as a decision: avoided, at the fleet's ceiling, proposed beyond max_replicas,
    or done (with any rest proposed)."""
    scaling = ctx.blueprint.scaling
    current = ctx.state.replicas
    if target != current and target in ctx.avoid:
        return asked.result(
            ctx,
            Action.NONE,
            Reason.RECENTLY_FAILED,
            f"Not scaling to {target} again: {ctx.avoid[target]}.",
        )
    if target == current and desired == current:
        return asked.result(
            ctx,
            Action.NONE,
            Reason.AT_MAX,
            f"Already at max_replicas ({scaling.max_replicas}), which is the fleet "
            f"ceiling (limits.max_replicas); {formula}, but no more replicas can be proposed.",
        )
    refused = _beyond_limits_refused(ctx.blueprint)
    if target == current:
        return asked.result(
            ctx,
            Action.SCALE_UP,
            Reason.AT_MAX,
            f"Already at max_replicas ({scaling.max_replicas}); {formula}, so {desired} replicas "
            + (refused or "are proposed for approval (scale_beyond_limits)")
            + ".",
            desired=desired,
        )
    beyond = ""
    if desired > target:
        beyond = f" {desired} would exceed max_replicas ({scaling.max_replicas}); " + (
            "the rest is proposed for approval."
            if refused is None
            else f"{desired} replicas {refused}."
        )
    return asked.result(
        ctx,
        Action.SCALE_UP,
        Reason.ABOVE_THRESHOLD,
        f"Scaling {current} → {target} replicas ({formula}).{beyond}",
        target=target,
        desired=desired,
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


_DOWN_REFS = (
    "spec.scaling.scale_down_threshold",
    "spec.scaling.scale_down_stabilization",
    "spec.scaling.min_replicas",
    "spec.scaling.scale_down_increment",
    "spec.scaling.target_cpu_utilization",
)

_BEHAVIOR_REFS = {
    "scaleUp": "spec.scaling.behavior.scaleUp",
    "scaleDown": "spec.scaling.behavior.scaleDown",
}


@dataclass(frozen=True, kw_only=True)
class _Proof:
    """What the metric history shows about the scale-down window."""

    #: Below the threshold without a break, back to (about) the window's start.
    covered: bool
    #: The highest W of the unbroken run, and where it starts.
    highest: float
    evidence_from: datetime | None
    #: The metrics a sample lacked where the run broke off, if that is why.
    gap: tuple[str, ...]
    empty: bool


def _scale_down(ctx: _Context, window: Sequence[Sample] | None) -> Decision:
    """W is below the threshold now: scale down once the window proves it stayed there,
    toward the estimate from the highest W in it, within the step limits and the floor."""
    scaling = ctx.blueprint.scaling
    head = (
        f"Weighted utilization {format_percent(ctx.weighted.value or 0.0)} "
        f"({ctx.weighted.describe()}) is below scale_down_threshold "
        f"{format_percent(scaling.scale_down_threshold)}."
    )
    refs = list(_DOWN_REFS)
    if scaling.behavior is not None:
        refs.append(_BEHAVIOR_REFS["scaleDown"])
    held = _down_held(ctx, window, head, refs)
    if held is not None:
        return held
    assert window is not None  # _down_held asked for it otherwise
    proof = _prove_window(ctx, window)
    if not proof.covered:
        return _result(
            ctx, Action.NONE, Reason.STABILIZING, f"{head} {_unproven(ctx, proof)}", refs
        )
    current = ctx.state.replicas
    estimate = math.ceil(current * proof.highest / scaling.target_cpu_utilization - 1e-9)
    formula = (
        f"estimate ceil({current} × {format_percent(proof.highest)} / "
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
    return _step_down(ctx, head, refs, estimate, formula, proof.highest)


def _down_held(
    ctx: _Context, window: Sequence[Sample] | None, head: str, refs: Sequence[str]
) -> Decision | None:
    """What holds a scale-down before the history is read: the floor, a disabled direction,
    pods that are not ready; and the history itself, asked for when it is not there yet."""
    scaling, state = ctx.blueprint.scaling, ctx.state
    current = state.replicas
    if current <= scaling.min_replicas:
        return _result(
            ctx,
            Action.NONE,
            Reason.AT_MIN,
            f"{head} Already at min_replicas ({scaling.min_replicas}).",
            refs,
        )
    if scaling.behavior is not None and scaling.behavior.scale_down.select is SelectPolicy.DISABLED:
        return _result(
            ctx,
            Action.NONE,
            Reason.SCALING_DISABLED,
            f"{head} Not scaling down: behavior.scaleDown.selectPolicy is Disabled.",
            refs,
            rule=DecisionRule.BEHAVIOR,
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
    return None


def _prove_window(ctx: _Context, window: Sequence[Sample]) -> _Proof:
    """Walk back from now while every sample is below the threshold; the window is proven
    only if that unbroken run reaches back to (about) the window's start."""
    now, down = ctx.now, ctx.blueprint.scaling.scale_down_threshold
    opened = now - timedelta(seconds=ctx.blueprint.scaling.scale_down_stabilization)
    in_window = sorted((s for s in window if opened <= utc(s.at) <= now), key=lambda s: s.at)
    evidence_from: datetime | None = None
    highest = ctx.weighted.value or 0.0
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
    return _Proof(
        covered=covered,
        highest=highest,
        evidence_from=evidence_from,
        gap=gap,
        empty=not in_window,
    )


def _unproven(ctx: _Context, proof: _Proof) -> str:
    """Why the history does not (yet) prove the window, with how far it does."""
    span = ctx.blueprint.scaling.scale_down_stabilization
    below_for = (ctx.now - proof.evidence_from).total_seconds() if proof.evidence_from else 0.0
    if proof.empty:
        return "There is no metric history for the window yet; waiting."
    if proof.gap:
        return (
            f"The metric history has no {', '.join(proof.gap)} data there, so it cannot show the "
            f"load stayed low (below for {format_duration(below_for)} of the "
            f"{format_duration(span)} window); waiting."
        )
    return (
        f"It has been below for {format_duration(below_for)} of the "
        f"{format_duration(span)} scale_down_stabilization window; waiting."
    )


def _step_down(
    ctx: _Context, head: str, refs: Sequence[str], estimate: int, formula: str, highest: float
) -> Decision:
    """The step: at most scale_down_increment, no further than the behavior's policies
    leave of their period, never below min_replicas."""
    scaling = ctx.blueprint.scaling
    current = ctx.state.replicas
    increment = scaling.scale_down_increment
    wanted = current - estimate
    target = max(
        current - (wanted if increment is None else min(increment, wanted)), scaling.min_replicas
    )
    parts = [formula]
    if increment is not None:
        parts.append(f"step limit -{increment}")
    if scaling.behavior is not None:
        limit = down_limit(scaling.behavior.scale_down, current, ctx.changes, ctx.now)
        if increment is None or limit.replicas > target:
            parts.append(limit.describe("scaleDown"))
        target = max(target, limit.replicas)
        if target >= current:
            return _result(
                ctx,
                Action.NONE,
                Reason.RATE_LIMITED,
                f"{head} Not scaling down yet: {_used_up(limit, 'scaleDown')}",
                refs,
                estimate=estimate,
                rule=DecisionRule.BEHAVIOR,
            )
    if target in ctx.avoid:
        return _result(
            ctx,
            Action.NONE,
            Reason.RECENTLY_FAILED,
            f"{head} Not scaling to {target} again: {ctx.avoid[target]}.",
            refs,
            estimate=estimate,
        )
    span = format_duration(scaling.scale_down_stabilization)
    return _result(
        ctx,
        Action.SCALE_DOWN,
        Reason.BELOW_THRESHOLD,
        f"{head} It stayed below for the whole {span} window (highest "
        f"{format_percent(highest)}). Scaling {current} → {target} replicas ({', '.join(parts)}, "
        f"floor min_replicas {scaling.min_replicas}).",
        refs,
        target=target,
        estimate=estimate,
    )


def window_span(scaling: Scaling) -> float:
    """Seconds of metric history a decision may need: the longer stabilization window."""
    up = 0.0 if scaling.behavior is None else scaling.behavior.scale_up.stabilization
    return max(scaling.scale_down_stabilization, up)
