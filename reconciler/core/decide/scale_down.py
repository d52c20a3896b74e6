"""A scale-down: W below its threshold for the whole stabilization window, proven by the
metric history, every pod ready, then a step toward the estimate from the highest W in it,
within the step limit, the behavior's rate policies and min_replicas."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from reconciler.core.blueprint.model import SelectPolicy
from reconciler.core.blueprint.units import format_duration, format_percent
from reconciler.core.decide.model import (
    BEHAVIOR_REFS,
    Action,
    Context,
    Decision,
    DecisionRule,
    Reason,
    conclude,
)
from reconciler.core.decide.rates import down_limit
from reconciler.core.decide.utilization import weighted_utilization
from reconciler.core.ids import utc
from reconciler.core.observed.observation import Sample

__all__ = ["WINDOW_SLACK", "scale_down"]

#: The history may start this much after the window opens and still count as covering it.
WINDOW_SLACK = 30.0


_DOWN_REFS = (
    "spec.scaling.scale_down_threshold",
    "spec.scaling.scale_down_stabilization",
    "spec.scaling.min_replicas",
    "spec.scaling.scale_down_increment",
    "spec.scaling.target_cpu_utilization",
)


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


def scale_down(ctx: Context, window: Sequence[Sample] | None) -> Decision:
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
        refs.append(BEHAVIOR_REFS["scaleDown"])
    held = _down_held(ctx, window, head, refs)
    if held is not None:
        return held
    assert window is not None  # _down_held asked for it otherwise
    proof = _prove_window(ctx, window)
    if not proof.covered:
        return conclude(
            ctx, Action.NONE, Reason.STABILIZING, f"{head} {_unproven(ctx, proof)}", refs
        )
    current = ctx.state.replicas
    estimate = math.ceil(current * proof.highest / scaling.target_cpu_utilization - 1e-9)
    formula = (
        f"estimate ceil({current} × {format_percent(proof.highest)} / "
        f"{format_percent(scaling.target_cpu_utilization)}) = {estimate}"
    )
    if estimate >= current:
        return conclude(
            ctx,
            Action.NONE,
            Reason.ESTIMATE_UNCHANGED,
            f"{head} The {formula} keeps {current} replicas.",
            refs,
            estimate=estimate,
        )
    return _step_down(ctx, head, refs, estimate, formula, proof.highest)


def _down_held(
    ctx: Context, window: Sequence[Sample] | None, head: str, refs: Sequence[str]
) -> Decision | None:
    """What holds a scale-down before the history is read: the floor, a disabled direction,
    pods that are not ready; and the history itself, asked for when it is not there yet."""
    scaling, state = ctx.blueprint.scaling, ctx.state
    current = state.replicas
    if current <= scaling.min_replicas:
        return conclude(
            ctx,
            Action.NONE,
            Reason.AT_MIN,
            f"{head} Already at min_replicas ({scaling.min_replicas}).",
            refs,
        )
    if scaling.behavior is not None and scaling.behavior.scale_down.select is SelectPolicy.DISABLED:
        return conclude(
            ctx,
            Action.NONE,
            Reason.SCALING_DISABLED,
            f"{head} Not scaling down: behavior.scaleDown.selectPolicy is Disabled.",
            refs,
            rule=DecisionRule.BEHAVIOR,
        )
    if state.ready_replicas < current:
        return conclude(
            ctx,
            Action.NONE,
            Reason.PODS_NOT_READY,
            f"{head} Only {state.ready_replicas} of {current} pods are ready; not scaling down "
            "until all are.",
            refs,
        )
    if window is None:
        return conclude(
            ctx,
            Action.NONE,
            Reason.STABILIZING,
            f"{head} The metric history is needed to confirm it stayed low.",
            refs,
            needs_window=True,
        )
    return None


def _prove_window(ctx: Context, window: Sequence[Sample]) -> _Proof:
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


def _unproven(ctx: Context, proof: _Proof) -> str:
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
    ctx: Context, head: str, refs: Sequence[str], estimate: int, formula: str, highest: float
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
            return conclude(
                ctx,
                Action.NONE,
                Reason.RATE_LIMITED,
                f"{head} Not scaling down yet: {limit.used_up('scaleDown')}",
                refs,
                estimate=estimate,
                rule=DecisionRule.BEHAVIOR,
            )
    if target in ctx.avoid:
        return conclude(
            ctx,
            Action.NONE,
            Reason.RECENTLY_FAILED,
            f"{head} Not scaling to {target} again: {ctx.avoid[target]}.",
            refs,
            estimate=estimate,
        )
    span = format_duration(scaling.scale_down_stabilization)
    return conclude(
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
