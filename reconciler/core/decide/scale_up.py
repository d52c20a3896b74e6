"""A scale-up some rule asked for: unready pods counted as idle, the behavior's window and
rate policies, the step limit, and the part beyond max_replicas proposed for approval."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from reconciler.core.blueprint.model import Blueprint, Tier
from reconciler.core.blueprint.units import format_duration, format_percent
from reconciler.core.decide.guards import GUARD_REFS, ask_text, asks_for_more, w_text
from reconciler.core.decide.model import (
    BEHAVIOR_REFS,
    METRIC_REFS,
    Action,
    Ask,
    Context,
    Decision,
    DecisionRule,
    Reason,
    conclude,
)
from reconciler.core.decide.rates import Limit, up_limit
from reconciler.core.decide.utilization import WeightedUtilization, weighted_utilization
from reconciler.core.ids import utc
from reconciler.core.observed.observation import Metrics, Sample

__all__ = ["scale_up"]


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
        ctx: Context,
        action: Action,
        reason: Reason,
        text: str,
        *,
        target: int | None = None,
        desired: int | None = None,
        rule: DecisionRule | None = None,
        needs_window: bool = False,
    ) -> Decision:
        return conclude(
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
    *METRIC_REFS,
)


def scale_up(ctx: Context, asks: Sequence[Ask], window: Sequence[Sample] | None) -> Decision:
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
    ctx: Context,
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
    return used, note, asks_for_more(ctx, used, idle)


def _waiting_for_pods(
    ctx: Context, raw: Sequence[Ask], used: WeightedUtilization, note: str
) -> Decision:
    """The ready pods asked for more, but not once the starting ones count as idle."""
    up = ctx.blueprint.scaling.scale_up_threshold
    if [a.rule for a in raw] == [DecisionRule.WEIGHTED]:
        asked = (
            f"Weighted utilization {format_percent(ctx.weighted.low)} is above "
            f"scale_up_threshold {format_percent(up)}"
        )
    else:
        asked = "; ".join(ask_text(a, up) for a in raw)
        asked = asked[0].upper() + asked[1:]
    return conclude(
        ctx,
        Action.NONE,
        Reason.PODS_NOT_READY,
        f"{asked}, but{note} Waiting for the new pods.",
        ["spec.scaling.scale_up_threshold"],
        used=used,
        rule=raw[0].rule,
        guards=[a for a in raw if a.rule is not DecisionRule.WEIGHTED],
    )


def _asked(ctx: Context, asks: Sequence[Ask], used: WeightedUtilization, note: str) -> _Asked:
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
        texts = [ask_text(a, up) for a in asks]
        if not any(a.rule is DecisionRule.WEIGHTED for a in asks):
            texts.append(w_text(used, up))
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
    refs = [*_UP_REFS, *(GUARD_REFS[a.rule] for a in guards)]
    if ctx.blueprint.scaling.behavior is not None:
        refs.append(BEHAVIOR_REFS["scaleUp"])
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
    ctx: Context, asked: _Asked, window: Sequence[Sample] | None, span: float
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
            asks = asks_for_more(ctx, weighted_utilization(ctx.blueprint, values), values)
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


def _step_up(ctx: Context, asked: _Asked) -> Decision:
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


def _held_by_behavior(ctx: Context, asked: _Asked, limit: Limit) -> Decision:
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
        f"Not scaling up yet: {limit.used_up('scaleUp')}",
        rule=DecisionRule.BEHAVIOR,
    )


def _up_outcome(ctx: Context, asked: _Asked, desired: int, target: int, formula: str) -> Decision:
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
