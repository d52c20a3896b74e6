"""Combining metrics sources: CPU and memory from one, latency and errors from another.

A real cluster's numbers come from two places (the Kubernetes metrics API for CPU and memory,
Prometheus for latency and error rate). `CombinedMetrics` asks each source in order and takes,
field by field, the first value that is known, so a missing series in one source never hides
a value another source has, and a source that fails for one service only leaves that
service's fields unknown.

A failure is never dropped, though: when one source fails for a service and another answers,
the failure becomes one of the merged Metrics' `warnings`, beside the warnings each source
gave (a NaN, a missing series). Only when every source fails is the result a MetricsError.
Either way the cycle reports it in the service's row; see docs/running-in-production.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from reconciler.core.errors import MetricsError
from reconciler.core.observed.observation import Metrics, Sample, Target
from reconciler.ports import MetricsSource

__all__ = ["CombinedMetrics"]

_FIELDS = ("cpu_utilization", "memory_utilization", "latency_p95_ms", "error_rate", "throughput")


class CombinedMetrics:
    def __init__(self, sources: Sequence[MetricsSource]) -> None:
        if not sources:
            raise ValueError("CombinedMetrics needs at least one source")
        self.sources = tuple(sources)

    def current(self, targets: Sequence[Target]) -> Mapping[Target, Metrics | MetricsError]:
        answers = [source.current(targets) for source in self.sources]
        result: dict[Target, Metrics | MetricsError] = {}
        for target in targets:
            merged: Metrics | None = None
            errors: list[str] = []
            for answer in answers:
                value = answer.get(target)
                if isinstance(value, MetricsError) or value is None:
                    errors.append(str(value) if value else f"no answer for {target}")
                    continue
                merged = value if merged is None else _fill(merged, value)
            if merged is None:
                result[target] = MetricsError("; ".join(errors))
            else:
                result[target] = replace(merged, warnings=(*errors, *merged.warnings))
        return result

    def window(self, target: Target, seconds: float, now: datetime) -> Sequence[Sample]:
        """Samples merged by time: each source's samples fill the fields the others lack.
        A failing source leaves its fields empty; only when every source fails is it an error."""
        by_time: dict[datetime, Sample] = {}
        errors: list[str] = []
        for source in self.sources:
            try:
                samples = source.window(target, seconds, now)
            except MetricsError as error:
                errors.append(str(error))  # the other sources' history still counts
                continue
            for sample in samples:
                known = by_time.get(sample.at)
                by_time[sample.at] = sample if known is None else _fill_sample(known, sample)
        if errors and len(errors) == len(self.sources):
            raise MetricsError("; ".join(errors))
        return [by_time[at] for at in sorted(by_time)]


def _fill(base: Metrics, extra: Metrics) -> Metrics:
    updates = {name: getattr(extra, name) for name in _FIELDS if getattr(base, name) is None}
    sources = "+".join(s for s in (base.source, extra.source) if s)
    observed = min(
        (moment for moment in (base.observed_at, extra.observed_at) if moment is not None),
        default=None,
    )
    warnings = (*base.warnings, *extra.warnings)
    return replace(base, **updates, source=sources, observed_at=observed, warnings=warnings)


def _fill_sample(base: Sample, extra: Sample) -> Sample:
    names = ("cpu_utilization", "memory_utilization", "latency_p95_ms", "error_rate")
    return replace(base, **{n: getattr(extra, n) for n in names if getattr(base, n) is None})
