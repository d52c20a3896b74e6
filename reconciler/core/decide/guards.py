"""What asks for a scale-up: W above its threshold, and each weighted metric past its own
guard; every ask is a recommendation with the values of the formula that shows it
(`trail.scaling_wording` words them)."""

from __future__ import annotations

import math

from reconciler.core.decide.model import Ask, Context, DecisionRule, Estimate
from reconciler.core.decide.utilization import WeightedUtilization
from reconciler.core.observed.observation import Metrics

__all__ = ["GUARD_REFS", "asks_for_more"]


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
                target,
            )
        )
    return asks + _guard_asks(ctx, values)


def _ask(current: int, rule: DecisionRule, value: float, limit: float, target: float) -> Ask:
    """One recommendation: ceil(current × value / target), with the values that show it."""
    estimate = math.ceil(current * (value / target) - 1e-9)
    basis = Estimate(
        current=current,
        value=value,
        target=target,
        estimate=estimate,
        in_ms=rule is DecisionRule.LATENCY_GUARD,
    )
    return Ask(rule=rule, value=value, limit=limit, estimate=estimate, basis=basis)


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
                target,
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
                memory_target,
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
                latency_target,
            )
        )
    return asks


GUARD_REFS = {
    DecisionRule.CPU_GUARD: "spec.scaling.guards.cpu_utilization",
    DecisionRule.MEMORY_GUARD: "spec.scaling.guards.memory_utilization",
    DecisionRule.LATENCY_GUARD: "spec.scaling.guards.latency_factor",
}
