"""A scale-down: W below its threshold for the whole stabilization window, proven by the
metric history, every pod ready, then a step toward the estimate from the highest W in it,
within the step limit, the behavior's rate policies and min_replicas."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from reconciler.core.blueprint.model import SelectPolicy
from reconciler.core.decide.model import (
    BEHAVIOR_REFS,
    Action,
    Context,
    Decision,
    DecisionRule,
    Estimate,
    Reason,
    Step,
    conclude,
)
from reconciler.core.decide.rates import down_limit
from reconciler.core.decide.utilization import weighted_utilization
from reconciler.core.ids import utc
from reconciler.core.observed.observation import Sample
from reconciler.core.trail import wording
from reconciler.core.trail.wording import Code

__all__ = ["WINDOW_SLACK", "scale_down"]

#: The values of "W is below the threshold", which every scale-down's words begin with.
Head = Mapping[str, object]

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
    head = {
        "value": ctx.weighted.value or 0.0,
        "described": ctx.weighted.describe(),
        "down": scaling.scale_down_threshold,
    }
    refs = list(_DOWN_REFS)
    if scaling.behavior is not None:
        refs.append(BEHAVIOR_REFS["scaleDown"])
    held = _down_held(ctx, window, head, refs)
    if held is not None:
        return held
    assert window is not None  # _down_held asked for it otherwise
    proof = _prove_window(ctx, window)
    if not proof.covered:
        return conclude(ctx, Action.NONE, Reason.STABILIZING, _unproven(ctx, proof, head), refs)
    current = ctx.state.replicas
    estimate = math.ceil(current * proof.highest / scaling.target_cpu_utilization - 1e-9)
    basis = Estimate(
        current=current,
        value=proof.highest,
        target=scaling.target_cpu_utilization,
        estimate=estimate,
    )
    if estimate >= current:
        return conclude(
            ctx,
            Action.NONE,
            Reason.ESTIMATE_UNCHANGED,
            _said(Code.DOWN_ESTIMATE_KEEPS, head, basis=basis, current=current),
            refs,
            estimate=estimate,
        )
    return _step_down(ctx, head, refs, basis, proof.highest)


def _said(code: Code, head: Head, **params: object) -> wording.Reason:
    """A scale-down's reason: W below the threshold (`head`), then what came of it."""
    return wording.Reason(code, {**head, **params})


def _down_held(
    ctx: Context, window: Sequence[Sample] | None, head: Head, refs: Sequence[str]
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
            _said(Code.DOWN_AT_MIN, head, floor=scaling.min_replicas),
            refs,
        )
    if scaling.behavior is not None and scaling.behavior.scale_down.select is SelectPolicy.DISABLED:
        return conclude(
            ctx,
            Action.NONE,
            Reason.SCALING_DISABLED,
            _said(Code.DOWN_DISABLED, head),
            refs,
            rule=DecisionRule.BEHAVIOR,
        )
    if state.ready_replicas < current:
        return conclude(
            ctx,
            Action.NONE,
            Reason.PODS_NOT_READY,
            _said(Code.DOWN_PODS_NOT_READY, head, ready=state.ready_replicas, current=current),
            refs,
        )
    if window is None:
        return conclude(
            ctx,
            Action.NONE,
            Reason.STABILIZING,
            _said(Code.DOWN_NEEDS_HISTORY, head),
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


def _unproven(ctx: Context, proof: _Proof, head: Head) -> wording.Reason:
    """Why the history does not (yet) prove the window, with how far it does."""
    span = ctx.blueprint.scaling.scale_down_stabilization
    below_for = (ctx.now - proof.evidence_from).total_seconds() if proof.evidence_from else 0.0
    if proof.empty:
        return _said(Code.DOWN_NO_HISTORY, head)
    if proof.gap:
        gap = ", ".join(proof.gap)
        return _said(Code.DOWN_HISTORY_GAP, head, gap=gap, below_for=below_for, span=span)
    return _said(Code.DOWN_NOT_LONG_ENOUGH, head, below_for=below_for, span=span)


def _step_down(
    ctx: Context, head: Head, refs: Sequence[str], basis: Estimate, highest: float
) -> Decision:
    """The step: at most scale_down_increment, no further than the behavior's policies
    leave of their period, never below min_replicas."""
    scaling = ctx.blueprint.scaling
    current = ctx.state.replicas
    increment = scaling.scale_down_increment
    estimate = basis.estimate
    wanted = current - estimate
    target = max(
        current - (wanted if increment is None else min(increment, wanted)), scaling.min_replicas
    )
    formula = Step(basis=basis, key="scaleDown", increment=increment)
    if scaling.behavior is not None:
        limit = down_limit(scaling.behavior.scale_down, current, ctx.changes, ctx.now)
        if increment is None or limit.replicas > target:
            formula = replace(formula, limit=limit)
        target = max(target, limit.replicas)
        if target >= current:
            return conclude(
                ctx,
                Action.NONE,
                Reason.RATE_LIMITED,
                _said(Code.DOWN_RATE_LIMITED, head, limit=limit),
                refs,
                estimate=estimate,
                rule=DecisionRule.BEHAVIOR,
            )
    if target in ctx.avoid:
        return conclude(
            ctx,
            Action.NONE,
            Reason.RECENTLY_FAILED,
            _said(Code.DOWN_RECENTLY_FAILED, head, target=target, why=ctx.avoid[target]),
            refs,
            estimate=estimate,
        )
    return conclude(
        ctx,
        Action.SCALE_DOWN,
        Reason.BELOW_THRESHOLD,
        _said(
            Code.SCALING_DOWN,
            head,
            span=scaling.scale_down_stabilization,
            highest=highest,
            current=current,
            target=target,
            step=formula,
            floor=scaling.min_replicas,
        ),
        refs,
        target=target,
        estimate=estimate,
    )
