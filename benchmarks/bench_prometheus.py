"""Prometheus at fleet size: how many queries a cycle costs, and how long they take.

Target: 1,000 services in 10 namespaces cost at most 40 queries a cycle (one query per
service and metric made it 2,000). A real Prometheus (Debian's binary) scrapes an exporter
serving the 1,000 deployments' latency histograms and request counters (tests/fakes), and
the adapter's `current` asks latency and error rate for all of them, as a cycle does. The
queries are counted by the server itself (`prometheus_http_requests_total` on its /metrics),
and every answer is checked to be a known value, so a fast but empty answer cannot pass.

Beside it, the same cycle with every service asking alone (blueprint overrides equal to the
default templates, which is what turns batching off for a service), on the same server and
data: the cost of one query per service.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.common import Row

if TYPE_CHECKING:
    from reconciler.adapters.prometheus import PrometheusMetrics
    from reconciler.core.observed.observation import Target
    from tests.fakes.prometheus import Running

NAMESPACES = 10
PER_NAMESPACE = 100
REPEAT = 3


def _cycle(env: Running, adapter: PrometheusMetrics, targets: list[Target]) -> tuple[float, int]:
    """One cycle's `current`: (seconds, queries the server answered). Every value must be
    known: an error or a missing series would make the count meaningless."""
    from reconciler.core.observed.observation import Metrics

    before = env.prometheus.requests_served()
    start = time.perf_counter()
    answers = adapter.current(targets)
    elapsed = time.perf_counter() - start
    queries = env.prometheus.requests_served() - before
    unknown = [
        target
        for target, answer in answers.items()
        if not isinstance(answer, Metrics) or answer.latency_p95_ms is None
    ]
    if unknown:
        raise RuntimeError(f"{len(unknown)} services without latency, e.g. {unknown[0]}")
    return elapsed, queries


def run() -> list[Row]:
    from reconciler.adapters.prometheus import CURRENT_METRICS, PrometheusMetrics, default_queries
    from reconciler.core.observed.observation import Target
    from tests.fakes.prometheus import Load, running

    targets = [
        Target(namespace=f"team-{n}", name=f"svc-{i}")
        for n in range(NAMESPACES)
        for i in range(PER_NAMESPACE)
    ]
    with tempfile.TemporaryDirectory() as scratch, running(Path(scratch)) as env:
        for index, target in enumerate(targets):
            load = Load(rps=5 + index % 20, error_share=0.01, p95_seconds=0.05 + index % 7 / 100)
            env.exporter.set(target.namespace, target.name, load)
        batched = PrometheusMetrics(env.url)
        for namespace in range(NAMESPACES):
            env.prometheus.wait_for(
                batched.query_for(targets[namespace * PER_NAMESPACE], "latency_p95")
            )
        runs = [_cycle(env, batched, targets) for _ in range(REPEAT)]
        seconds = statistics.median(elapsed for elapsed, _ in runs)
        queries = max(count for _, count in runs)
        defaults = default_queries()
        alone = PrometheusMetrics(
            env.url, {t: {m: defaults[m] for m in CURRENT_METRICS} for t in targets}
        )
        single_seconds, single_queries = _cycle(env, alone, targets)
    return [
        Row(
            "prometheus: 1,000 services in 10 namespaces, queries a cycle",
            queries,
            "",
            "<= 40",
            queries <= 40,
            f"{seconds:.2f} s a cycle (latency and error rate of all 1,000; median of {REPEAT})",
        ),
        Row(
            "  the same, one query per service (before batching)",
            single_queries,
            "",
            "-",
            None,
            f"{single_seconds:.2f} s a cycle, {single_seconds / seconds:.0f}x the batched time",
        ),
    ]
