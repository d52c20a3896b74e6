"""Weighted utilization W: each metric normalised, weighted and summed, with bounds for
what is missing (a missing metric counts 0 for the low bound and 1 for the high), so a rule
can say what the known metrics prove without inventing the rest."""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.core.blueprint.model import Blueprint, MetricWeight
from reconciler.core.blueprint.units import format_percent
from reconciler.core.observed.observation import Metrics, Sample

__all__ = ["Component", "WeightedUtilization", "weighted_utilization"]


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
