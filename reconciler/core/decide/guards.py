"""What asks for a scale-up: W above its threshold, and each weighted metric past its own
guard; every ask is a recommendation with the formula that shows it, and the words that
say which rule asked."""

from __future__ import annotations

import math

from reconciler.core.blueprint.units import format_percent
from reconciler.core.decide.model import Ask, Context, DecisionRule
from reconciler.core.decide.utilization import WeightedUtilization
from reconciler.core.observed.observation import Metrics
from reconciler.core.trail.wording import w_words

__all__ = ["GUARD_REFS", "ask_text", "asks_for_more", "w_text"]


def asks_for_more(ctx: Context, weighted: WeightedUtilization, values: Metrics) -> list[Ask]:
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


def _guard_asks(ctx: Context, values: Metrics) -> list[Ask]:
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


GUARD_REFS = {
    DecisionRule.CPU_GUARD: "spec.scaling.guards.cpu_utilization",
    DecisionRule.MEMORY_GUARD: "spec.scaling.guards.memory_utilization",
    DecisionRule.LATENCY_GUARD: "spec.scaling.guards.latency_factor",
}


def ask_text(ask: Ask, up: float) -> str:
    if ask.rule is DecisionRule.WEIGHTED:
        return (
            f"weighted utilization {format_percent(ask.value)} exceeds scale_up_threshold "
            f"{format_percent(up)} ({ask.formula})"
        )
    return f"{ask.describe()} ({ask.formula})"


def w_text(weighted: WeightedUtilization, up: float) -> str:
    """W in words, for a decision some other rule made."""
    return w_words(
        weighted.value,
        weighted.low,
        weighted.high,
        weighted.describe(),
        ", ".join(weighted.missing),
        up,
    )
