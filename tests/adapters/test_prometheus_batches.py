"""Batched queries against a real Prometheus: how many requests a cycle costs, and that the
split answers are exactly what one query per service gives.

The number of queries is counted by the server itself (`prometheus_http_requests_total`, read
from its /metrics). Prometheus runs with a small `--query.max-samples`, as query limits do in
Thanos, Mimir or Cortex: a namespace of 60 deployments is too big for one query, while each
of its services alone, and the smaller namespaces, fit. That is how a failed batch is made
real. Queries use a 5s range so that the number of samples a query loads is bounded whatever
the module's age (five scrapes at most), which keeps the limit's effect stable.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from reconciler.adapters.prometheus import (
    BATCH_SIZE,
    CURRENT_METRICS,
    PrometheusMetrics,
    default_queries,
)
from reconciler.core.errors import MetricsError
from reconciler.core.observed.observation import Metrics, Target
from tests.conftest import require_prometheus
from tests.fakes.prometheus import Load, Running, running

require_prometheus()

pytestmark = pytest.mark.prometheus

RANGE = "5s"
#: Small namespaces' latency batches load at most 10 x 12 buckets x 6 samples = 720; the big
#: one's at least 60 x 12 x 3 once three scrapes are in the range; a single service's 72. The
#: big namespace has no errors, so its error-rate batch (60 request series) fits.
MAX_SAMPLES = 1500
NAMESPACES = ("ns-a", "ns-b", "ns-c")
FLEET = [Target(namespace=ns, name=f"svc-{i}") for ns in NAMESPACES for i in range(10)]
BIG = [Target(namespace="big", name=f"svc-{i}") for i in range(60)]
IDLE = Target(namespace="ns-a", name="idle")  # series, no requests: NaN
GHOST = Target(namespace="ns-a", name="ghost")  # no series at all


def load(index: int) -> Load:
    return Load(rps=5 + index, error_share=(index % 4) * 0.05, p95_seconds=0.03 + 0.02 * index)


@pytest.fixture(scope="module")
def prom() -> Iterator[Running]:
    with running(flags=[f"--query.max-samples={MAX_SAMPLES}"]) as env:
        for index, target in enumerate(FLEET):
            env.exporter.set(target.namespace, target.name, load(index))
        for index, target in enumerate(BIG):
            env.exporter.set(
                target.namespace, target.name, replace(load(index % 30), error_share=0)
            )
        env.exporter.set(IDLE.namespace, IDLE.name, Load(rps=0))
        probe = PrometheusMetrics(env.url, rate_range=RANGE)
        for target in (FLEET[0], FLEET[10], FLEET[20], BIG[0]):
            env.prometheus.wait_for(probe.query_for(target, "latency_p95"))
        # Wait until the big namespace no longer fits in one query (enough samples in range).
        batch = probe.batch_query_for("big", [t.name for t in BIG], "latency_p95")
        deadline = time.monotonic() + 20
        while True:
            try:
                env.prometheus.query(batch)
            except RuntimeError as error:
                assert "too many samples" in str(error), error
                break
            assert time.monotonic() < deadline, "the big batch still fits the query limit"
            time.sleep(0.2)
        yield env


def one_by_one(targets: list[Target]) -> dict[Target, dict[str, str]]:
    """Overrides equal to the default templates: the same queries, asked one per service."""
    defaults = default_queries(RANGE)
    return {target: {m: defaults[m] for m in CURRENT_METRICS} for target in targets}


def asked(prom: Running, adapter: PrometheusMetrics, targets: list[Target]) -> tuple[dict, int]:
    before = prom.prometheus.requests_served()
    answers = dict(adapter.current(targets))
    return answers, prom.prometheus.requests_served() - before


def assert_same(batched: Metrics | MetricsError, single: Metrics | MetricsError) -> None:
    assert isinstance(batched, Metrics), batched
    assert isinstance(single, Metrics), single
    for field in ("latency_p95_ms", "error_rate"):
        a, b = getattr(batched, field), getattr(single, field)
        assert (a is None) == (b is None)
        if a is not None:
            assert a == pytest.approx(b, rel=1e-12)
    assert batched.observed_at == single.observed_at
    assert batched.warnings == single.warnings


def test_thirty_services_in_three_namespaces_cost_six_queries(prom: Running) -> None:
    """The fast stand-in for the 1,000-service benchmark: one query per namespace and
    metric, answers identical to one query per service."""
    targets = [*FLEET, IDLE, GHOST]
    at = datetime.now(UTC)
    batched = PrometheusMetrics(prom.url, rate_range=RANGE, now=lambda: at)
    answers, queries = asked(prom, batched, targets)
    assert queries == len(NAMESPACES) * len(CURRENT_METRICS)  # 6, the goal being <= 12
    # Exactly what one query per service gives, unknowns and their warnings included.
    single = PrometheusMetrics(prom.url, one_by_one(targets), rate_range=RANGE, now=lambda: at)
    expected, single_queries = asked(prom, single, targets)
    assert single_queries == len(targets) * len(CURRENT_METRICS)
    for target in targets:
        assert_same(answers[target], expected[target])
    assert batched.last_notes == single.last_notes
    # ... and what the exporter was told, so neither path is wrong in the same way.
    for index, target in enumerate(FLEET[:10]):
        metrics = answers[target]
        assert isinstance(metrics, Metrics)
        assert metrics.latency_p95_ms == pytest.approx(load(index).p95_seconds * 1000, rel=1e-6)
        assert metrics.error_rate == pytest.approx(load(index).error_share, abs=1e-9)
    assert batched.last_notes[IDLE] == (
        "latency_p95 is NaN (no requests in the range?)",
        "error_rate is NaN (no requests in the range?)",
    )
    assert batched.last_notes[GHOST] == ("latency_p95: no series", "error_rate: no series")


def test_an_overridden_query_is_asked_alone_and_the_rest_stay_batched(prom: Running) -> None:
    special = FLEET[3]
    doubled = (
        "2 * histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket"
        '{namespace="{namespace}", deployment="{service}"}[5s])))'
    )
    adapter = PrometheusMetrics(
        prom.url,
        {special: {"latency_p95": doubled}},
        services={special: special.name},
        rate_range=RANGE,
    )
    answers, queries = asked(prom, adapter, FLEET)
    assert queries == 6 + 1
    overridden = answers[special]
    assert isinstance(overridden, Metrics)
    assert overridden.latency_p95_ms == pytest.approx(2 * load(3).p95_seconds * 1000, rel=1e-6)
    assert overridden.error_rate == pytest.approx(load(3).error_share, abs=1e-9)  # batched
    neighbour = answers[FLEET[4]]
    assert isinstance(neighbour, Metrics)
    assert neighbour.latency_p95_ms == pytest.approx(load(4).p95_seconds * 1000, rel=1e-6)


def test_a_batch_the_server_refuses_falls_back_to_one_query_per_service(prom: Running) -> None:
    ghost = Target(namespace="big", name="ghost")
    broken = BIG[7]
    bad = 'sum(rate(http_requests_total{namespace="{namespace}"}[5s]'  # unclosed
    targets = [*BIG, ghost]
    at = datetime.now(UTC)
    adapter = PrometheusMetrics(
        prom.url, {broken: {"error_rate": bad}}, rate_range=RANGE, now=lambda: at
    )
    answers, queries = asked(prom, adapter, targets)
    # The latency batch was refused, then each of its services asked alone (61); the error
    # rate batch fits (no 5xx series), and only the broken override is asked alone.
    assert queries == 1 + len(targets) + 1 + 1
    single = PrometheusMetrics(
        prom.url,
        {**one_by_one(targets), broken: {"error_rate": bad}},
        rate_range=RANGE,
        now=lambda: at,
    )
    expected = single.current(targets)
    for target in targets:
        if target == broken:
            continue
        assert_same(answers[target], expected[target])
    failure = answers[broken]
    assert isinstance(failure, MetricsError)
    assert str(failure) == str(expected[broken])
    assert "error_rate query failed: Prometheus answered HTTP 400 bad_data" in str(failure)
    assert adapter.last_notes[ghost] == ("latency_p95: no series", "error_rate: no series")


def test_a_namespace_larger_than_a_batch_is_split(prom: Running) -> None:
    crowd = [Target(namespace="crowd", name=f"absent-{i}") for i in range(BATCH_SIZE + 1)]
    adapter = PrometheusMetrics(prom.url, rate_range=RANGE)
    answers, queries = asked(prom, adapter, crowd)
    # 200 + 1: one batch and one single query per metric.
    assert queries == 2 * len(CURRENT_METRICS)
    assert all(
        isinstance(a, Metrics) and a.latency_p95_ms is None and a.error_rate is None
        for a in answers.values()
    )
