"""A scale-up some rule asked for: unready pods counted as idle, the behavior's window and
rate policies, the step limit, and the part beyond max_replicas proposed for approval."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from reconciler.core.blueprint.model import Blueprint, Tier
from reconciler.core.decide.guards import GUARD_REFS, asks_for_more
from reconciler.core.decide.model import (
    BEHAVIOR_REFS,
    METRIC_REFS,
    Action,
    Ask,
    Context,
    Decision,
    DecisionRule,
    Reason,
    Step,
    conclude,
)
from reconciler.core.decide.rates import Limit, up_limit
from reconciler.core.decide.utilization import WeightedUtilization, weighted_utilization
from reconciler.core.ids import utc
from reconciler.core.observed.observation import Metrics, Sample
from reconciler.core.trail import wording
from reconciler.core.trail.codes import Code, Refusal

__all__ = ["scale_up"]

#: Unready pods counted as idle: ready, replicas, and W with the others idle.
Idle = tuple[int, int, float]


@dataclass(frozen=True, kw_only=True)
class _Asked:
    """A scale-up some rule asked for, with what every outcome of it says and records."""

    winner: Ask
    guards: tuple[Ask, ...]
    used: WeightedUtilization
    #: The values of the words that say which rules asked and why (`Code.SCALING_UP` and
    #: its siblings open with them).
    head: Mapping[str, object]
    refs: tuple[str, ...]
    #: How the estimate was reached, before the step limits.
    step: Step

    @property
    def estimate(self) -> int:
        lowest = self.step.lowest
        return self.step.basis.estimate if lowest is None else lowest

    def result(
        self,
        ctx: Context,
        action: Action,
        reason: Reason,
        code: Code,
        *,
        target: int | None = None,
        desired: int | None = None,
        rule: DecisionRule | None = None,
        needs_window: bool = False,
        **params: object,
    ) -> Decision:
        return conclude(
            ctx,
            action,
            reason,
            wording.Reason(code, {**self.head, **params}),
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
    *METRIC_REFS,
)


def scale_up(ctx: Context, asks: Sequence[Ask], window: Sequence[Sample] | None) -> Decision:
    """Some rule asks for more replicas: count unready pods as idle, then stabilize, step
    within the increment and the behavior, and keep within the bounds."""
    used, idle = ctx.weighted, None
    state = ctx.state
    if 0 < state.ready_replicas < state.replicas:
        used, idle, counted = _count_unready_as_idle(ctx)
        if not counted:
            return _waiting_for_pods(ctx, asks, used, idle)
        asks = counted
    asked = _asked(ctx, asks, used, idle)
    behavior = ctx.blueprint.scaling.behavior
    if behavior is not None and behavior.scale_up.stabilization > 0:
        stabilized = _stabilize_up(ctx, asked, window, behavior.scale_up.stabilization)
        if isinstance(stabilized, Decision):
            return stabilized
        asked = stabilized
    return _step_up(ctx, asked)


def _count_unready_as_idle(
    ctx: Context,
) -> tuple[WeightedUtilization, Idle, list[Ask]]:
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
    counted = (state.ready_replicas, state.replicas, used.low)
    return used, counted, asks_for_more(ctx, used, idle)


def _waiting_for_pods(
    ctx: Context, raw: Sequence[Ask], used: WeightedUtilization, idle: Idle
) -> Decision:
    """The ready pods asked for more, but not once the starting ones count as idle."""
    return conclude(
        ctx,
        Action.NONE,
        Reason.PODS_NOT_READY,
        wording.Reason(
            Code.UP_PODS_NOT_READY,
            {
                "asks": tuple(raw),
                "low": ctx.weighted.low,
                "up": ctx.blueprint.scaling.scale_up_threshold,
                "idle": idle,
            },
        ),
        ["spec.scaling.scale_up_threshold"],
        used=used,
        rule=raw[0].rule,
        guards=[a for a in raw if a.rule is not DecisionRule.WEIGHTED],
    )


def _asked(
    ctx: Context, asks: Sequence[Ask], used: WeightedUtilization, idle: Idle | None
) -> _Asked:
    """The largest recommendation, and the values of the words that say which rules asked
    and why."""
    winner = max(asks, key=lambda a: a.estimate)
    guards = tuple(a for a in asks if a.rule is not DecisionRule.WEIGHTED)
    errors = ctx.metrics.error_rate
    error_max = ctx.blueprint.performance.error_rate_max
    head = {
        "asks": tuple(asks),
        "winner": winner,
        "used": used,
        "up": ctx.blueprint.scaling.scale_up_threshold,
        "idle": idle,
        "errors": (errors, error_max) if errors is not None and errors > error_max else None,
    }
    refs = [*_UP_REFS, *(GUARD_REFS[a.rule] for a in guards)]
    if ctx.blueprint.scaling.behavior is not None:
        refs.append(BEHAVIOR_REFS["scaleUp"])
    return _Asked(
        winner=winner,
        guards=guards,
        used=used,
        head=head,
        refs=tuple(refs),
        step=Step(basis=winner.basis, key="scaleUp"),
    )


def _stabilize_up(
    ctx: Context, asked: _Asked, window: Sequence[Sample] | None, span: float
) -> _Asked | Decision:
    """behavior.scaleUp.stabilizationWindowSeconds: scale up only as far as the lowest
    recommendation over the window, each sample of the metric history judged by the same
    rules (a sample that asks for nothing recommends the current replicas)."""
    current = ctx.state.replicas
    if window is None:
        return asked.result(
            ctx,
            Action.NONE,
            Reason.STABILIZING,
            Code.UP_NEEDS_HISTORY,
            needs_window=True,
            span=span,
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
            asks = asks_for_more(ctx, weighted_utilization(ctx.blueprint, values), values)
            lowest = min(lowest, max((a.estimate for a in asks), default=current))
    if lowest <= current:
        return asked.result(
            ctx,
            Action.NONE,
            Reason.STABILIZING,
            Code.UP_STABILIZING,
            rule=DecisionRule.BEHAVIOR,
            span=span,
            lowest=lowest,
        )
    if lowest == asked.estimate:
        return asked
    return replace(asked, step=replace(asked.step, lowest=lowest, window=span))


def _step_up(ctx: Context, asked: _Asked) -> Decision:
    """The step: at most scale_up_increment, within what the behavior's policies leave of
    their period, never past the fleet's ceiling; the part past max_replicas is proposed."""
    scaling = ctx.blueprint.scaling
    current = ctx.state.replicas
    wanted = max(1, asked.estimate - current)
    increment = scaling.scale_up_increment
    step = wanted if increment is None else min(increment, wanted)
    formula = replace(asked.step, increment=increment)
    room = step
    if scaling.behavior is not None:
        limit = up_limit(scaling.behavior.scale_up, current, ctx.changes, ctx.now)
        room = limit.replicas - current
        if room <= 0:
            return _held_by_behavior(ctx, asked, limit)
        if increment is None or room < step:
            formula = replace(formula, limit=limit)
    # Nothing beyond the fleet's ceiling is proposed: no approval could make it valid.
    desired = max(current, min(current + min(step, room), scaling.replica_ceiling))
    target = min(desired, scaling.max_replicas)
    return _up_outcome(ctx, asked, desired, target, formula)


def _held_by_behavior(ctx: Context, asked: _Asked, limit: Limit) -> Decision:
    """behavior.scaleUp leaves no room now: Disabled, or its period used up."""
    if limit.policy is None:
        return asked.result(
            ctx,
            Action.NONE,
            Reason.SCALING_DISABLED,
            Code.UP_DISABLED,
            rule=DecisionRule.BEHAVIOR,
        )
    return asked.result(
        ctx,
        Action.NONE,
        Reason.RATE_LIMITED,
        Code.UP_RATE_LIMITED,
        rule=DecisionRule.BEHAVIOR,
        limit=limit,
    )


def _up_outcome(ctx: Context, asked: _Asked, desired: int, target: int, formula: Step) -> Decision:
    """The step as a decision: avoided, at the fleet's ceiling, proposed beyond max_replicas,
    or done (with any rest proposed)."""
    scaling = ctx.blueprint.scaling
    current = ctx.state.replicas
    if target != current and target in ctx.avoid:
        return asked.result(
            ctx,
            Action.NONE,
            Reason.RECENTLY_FAILED,
            Code.UP_RECENTLY_FAILED,
            avoided=target,
            why=ctx.avoid[target],
        )
    if target == current and desired == current:
        return asked.result(
            ctx,
            Action.NONE,
            Reason.AT_MAX,
            Code.UP_AT_CEILING,
            maximum=scaling.max_replicas,
            step=formula,
        )
    refusal = _beyond_limits_refused(ctx.blueprint)
    if target == current:
        return asked.result(
            ctx,
            Action.SCALE_UP,
            Reason.AT_MAX,
            Code.UP_AT_MAX,
            desired=desired,
            wanted=desired,
            maximum=scaling.max_replicas,
            step=formula,
            refusal=refusal,
        )
    return asked.result(
        ctx,
        Action.SCALE_UP,
        Reason.ABOVE_THRESHOLD,
        Code.SCALING_UP,
        target=target,
        desired=desired,
        current=current,
        to=target,
        wanted=desired,
        maximum=scaling.max_replicas,
        step=formula,
        refusal=refusal,
    )


def _beyond_limits_refused(blueprint: Blueprint) -> Refusal | None:
    """Why governance will refuse replicas beyond max_replicas whatever the metrics, or None
    when they can be proposed for approval: said in the decision so that the decision and the
    verdict after it never disagree (a one-line policies file lists no tier at all).

    Only what holds whatever the metrics are is told apart here (a rule forbidding it without
    a condition, or no rule at all); anything conditional is governance's to judge, and the
    verdict says which way it went.
    """
    rules = blueprint.policy.rules_for("scale_beyond_limits")
    if any(rule.tier is Tier.FORBIDDEN and rule.condition is None for rule in rules):
        return Refusal.FORBIDDEN
    if not rules:
        return Refusal.UNLISTED
    return None
