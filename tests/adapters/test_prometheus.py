"""PrometheusMetrics against a real Prometheus scraping an exporter with known values.

One Prometheus serves the whole module (starting it is the slow part); the exporter's loads
are set before it starts, so every test reads settled values. The values asserted are ratios
of rates (a quantile, an error share), which do not depend on scrape timing, so tolerances
are tight; CPU is a rate over a constant request, so it carries the exporter's timing jitter
(a millisecond or two per one-second scrape) and gets a looser one.

Without the `prometheus` binary the module is skipped, unless RECONCILER_REQUIRE_PROMETHEUS
is set (CI sets it): then it fails, so a CI image that lost the package cannot pass quietly.
"""

from __future__ import annotations

import itertools
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from reconciler.adapters.prometheus import (
    CURRENT_METRICS,
    DEFAULT_RATE_RANGE,
    METRICS,
    PrometheusMetrics,
    default_queries,
    fill_template,
    promql_string,
    regex_literal,
)
from reconciler.core.errors import ConfigError, MetricsError
from reconciler.core.observed.observation import Metrics, Sample, Target
from tests.conftest import require_prometheus
from tests.fakes.prometheus import (
    MIB,
    Load,
    PodUsage,
    Running,
    running,
)

require_prometheus()

pytestmark = pytest.mark.prometheus

WEB = Target(namespace="shop", name="web")
API = Target(namespace="shop", name="api")  # traffic, never a 5xx: no 5xx series at all
IDLE = Target(namespace="shop", name="idle")  # series, but no requests: 0/0
GHOST = Target(namespace="shop", name="ghost")  # no series
WEIRD = Target(namespace='we"ird\\ns\nx', name="web")  # a quote, a backslash, a newline
DOTTED = Target(namespace="shop", name="web.v2")  # pods only: CPU and memory, no traffic
GAUGED = Target(namespace="shop", name="gauged")  # the plain test gauges, read by overrides

LOADS = {
    WEB: Load(rps=20, error_share=0.05, p95_seconds=0.18),
    API: Load(rps=10, error_share=0.0, p95_seconds=0.42),
    IDLE: Load(rps=0, error_share=0.0, p95_seconds=0.1),
    WEIRD: Load(rps=5, error_share=0.2, p95_seconds=0.07),
}
REL = 1e-6  # ratios of rates are exact up to floating point
CPU_REL = 0.02  # a rate over a constant: the exporter's timing jitter shows

#: Pods as cAdvisor and kube-state-metrics report them. `web` runs the seed's two pods (85m of
#: 100m CPU, 358Mi of 512Mi memory). `web-api` shares its prefix and `webxv2` differs from
#: `web.v2` only where the dot is: a template that matched them would show in the sums.
PODS = {
    "web-6d4cf56db6-x7k2p": PodUsage(cpu=0.085, memory=358 * MIB),
    "web-6d4cf56db6-q9v4m": PodUsage(cpu=0.085, memory=358 * MIB),
    "web-api-7b9f5c8d4-h2j6k": PodUsage(cpu=0.5, memory=500 * MIB),
    "web.v2-5f7d9c6b8-m3n8r": PodUsage(cpu=0.02, memory=64 * MIB),
    "webxv2-8c6d5b7f9-t4w2z": PodUsage(cpu=0.09, memory=480 * MIB),
}
GAUGE_QUERIES = {
    "cpu_utilization": 'max(test_cpu_utilization{namespace="{namespace}", deployment="{service}"})',
    "memory_utilization": (
        'max(test_memory_utilization{namespace="{namespace}", deployment="{service}"})'
    ),
}


@pytest.fixture(scope="module")
def prom() -> Iterator[Running]:
    with running() as env:
        for target, load in LOADS.items():
            env.exporter.set(target.namespace, target.name, load)
        env.exporter.set_pods("shop", PODS)
        env.exporter.set_utilization("shop", "gauged", cpu=0.25, memory=0.2)
        adapter = PrometheusMetrics(env.url)
        for target in (WEB, API, WEIRD):
            for metric in ("latency_p95", "error_rate"):
                env.prometheus.wait_for(adapter.query_for(target, metric))
        for target in (WEB, DOTTED):
            for metric in ("cpu_utilization", "memory_utilization"):
                env.prometheus.wait_for(adapter.query_for(target, metric))
        env.prometheus.wait_for(adapter.query_for(IDLE, "latency_p95"), numbers=False)
        yield env


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def metrics_of(answer: Metrics | MetricsError) -> Metrics:
    assert isinstance(answer, Metrics), answer
    return answer


def latest(adapter: PrometheusMetrics, target: Target) -> Sample:
    """The newest sample of a short window (the adapter's `step` must be short too)."""
    samples = adapter.window(target, 2, datetime.now(UTC))
    assert samples, f"no history for {target}"
    return samples[-1]


# -- current ------------------------------------------------------------------------------


def test_current_reports_p95_in_ms_and_the_error_share(prom: Running) -> None:
    answers = PrometheusMetrics(prom.url).current([WEB, API])
    web, api = metrics_of(answers[WEB]), metrics_of(answers[API])
    assert web.latency_p95_ms == pytest.approx(180.0, rel=REL)
    assert web.error_rate == pytest.approx(0.05, rel=REL)
    assert api.latency_p95_ms == pytest.approx(420.0, rel=REL)
    # No 5xx series exists for api: zero errors, not an unknown error rate.
    assert api.error_rate == 0.0
    # web's pods have CPU and memory series, but `current` leaves those to the metrics API.
    assert (web.cpu_utilization, web.memory_utilization) == (None, None)
    assert web.source == "prometheus"


def test_all_queries_of_a_call_are_evaluated_at_the_same_injected_instant(prom: Running) -> None:
    at = datetime.now(UTC).replace(microsecond=123000) - timedelta(seconds=1)
    answers = PrometheusMetrics(prom.url, now=lambda: at).current([WEB, API, GHOST])
    for target in (WEB, API, GHOST):
        assert metrics_of(answers[target]).observed_at == at


def test_a_deployment_without_series_is_missing_not_zero(prom: Running) -> None:
    adapter = PrometheusMetrics(prom.url)
    ghost = metrics_of(adapter.current([GHOST])[GHOST])
    assert (ghost.latency_p95_ms, ghost.error_rate) == (None, None)
    assert ghost.observed_at is not None
    assert adapter.last_notes[GHOST] == ("latency_p95: no series", "error_rate: no series")


def test_no_traffic_is_missing_with_the_reason_kept(prom: Running) -> None:
    adapter = PrometheusMetrics(prom.url)
    idle = metrics_of(adapter.current([IDLE])[IDLE])
    assert (idle.latency_p95_ms, idle.error_rate) == (None, None)
    assert all("NaN" in note for note in adapter.last_notes[IDLE])
    assert len(adapter.last_notes[IDLE]) == 2


def test_a_blueprint_override_replaces_the_default_and_fills_service(prom: Running) -> None:
    # A deployment named differently from its series: only the override's {service} finds them.
    front = Target(namespace="shop", name="frontend")
    selector = 'namespace="{namespace}", deployment="{service}"'
    queries = {
        front: {
            "latency_p95": "2 * histogram_quantile(0.95, sum by (le) "
            f"(rate(http_request_duration_seconds_bucket{{{selector}}}[30s])))",
        }
    }
    adapter = PrometheusMetrics(prom.url, queries, services={front: "web"})
    answers = adapter.current([front, WEB])
    overridden = metrics_of(answers[front])
    assert overridden.latency_p95_ms == pytest.approx(360.0, rel=REL)
    assert overridden.error_rate is None  # the default template, on deployment="frontend"
    assert metrics_of(answers[WEB]).latency_p95_ms == pytest.approx(180.0, rel=REL)


def test_label_values_are_escaped_so_a_name_cannot_add_matchers(prom: Running) -> None:
    # Unescaped, this name would close the string and match every deployment in `shop`.
    sneaky = Target(namespace="shop", name='nope", deployment=~".+')
    adapter = PrometheusMetrics(prom.url, rate_range="30s")
    answers = adapter.current([sneaky, WEIRD])
    injected = metrics_of(answers[sneaky])
    assert (injected.latency_p95_ms, injected.error_rate) == (None, None)
    # ... while a namespace that really has a quote, a backslash and a newline is found.
    weird = metrics_of(answers[WEIRD])
    assert weird.latency_p95_ms == pytest.approx(70.0, rel=REL)
    assert weird.error_rate == pytest.approx(0.2, rel=REL)


def test_a_bad_query_fails_its_target_only_with_prometheus_words(prom: Running) -> None:
    broken = Target(namespace="shop", name="broken")
    bad = 'sum(rate(http_requests_total{namespace="{namespace}"}[5m]'  # unclosed
    adapter = PrometheusMetrics(prom.url, {broken: {"error_rate": bad}}, services={broken: "cart"})
    answers = adapter.current([broken, WEB])
    error = answers[broken]
    assert isinstance(error, MetricsError)
    message = str(error)
    assert message.startswith("cart (shop/broken): error_rate query failed:")
    assert "HTTP 400 bad_data" in message
    assert "parse error" in message
    assert 'sum(rate(http_requests_total{namespace="shop"}[5m]' in message
    assert metrics_of(answers[WEB]).latency_p95_ms == pytest.approx(180.0, rel=REL)


def test_a_query_returning_several_series_is_refused(prom: Running) -> None:
    loose = {WEB: {"error_rate": 'http_requests_total{namespace="{namespace}"}'}}
    error = PrometheusMetrics(prom.url, loose).current([WEB])[WEB]
    assert isinstance(error, MetricsError)
    assert "series" in str(error)
    assert "sum()" in str(error)


def test_an_unreachable_server_fails_every_target_with_one_clear_message(
    closed_port: int,
) -> None:
    url = f"http://127.0.0.1:{closed_port}"
    adapter = PrometheusMetrics(url, timeout=2.0)
    answers = adapter.current([WEB, API])
    for target in (WEB, API):
        error = answers[target]
        assert isinstance(error, MetricsError)
        assert f"{target}: Prometheus at {url} is unreachable: " in str(error)
        assert "refused" in str(error).lower()
    with pytest.raises(MetricsError, match="is unreachable"):
        adapter.window(WEB, 60, datetime.now(UTC))


def test_a_server_that_never_answers_costs_one_timeout_not_one_per_query() -> None:
    with socket.create_server(("127.0.0.1", 0), backlog=16) as silent:  # never accepts
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        adapter = PrometheusMetrics(url, timeout=0.5)
        started = time.monotonic()
        answers = adapter.current([WEB, API, GHOST])
        elapsed = time.monotonic() - started
    assert elapsed < 1.5
    first = answers[WEB]
    assert isinstance(first, MetricsError)
    assert "did not answer within 0.5s to the latency_p95 query" in str(first)
    for target in (API, GHOST):
        assert str(answers[target]) == f"{target}: Prometheus at {url} did not answer within 0.5s"


def test_a_server_that_is_not_prometheus_is_reported_as_such(prom: Running) -> None:
    url = f"http://{prom.exporter.address}"
    adapter = PrometheusMetrics(url)
    error = adapter.current([WEB])[WEB]
    assert isinstance(error, MetricsError)
    assert "Prometheus answered HTTP 501" in str(error)
    ok, why = adapter.health()
    assert not ok
    assert why.startswith(f"Prometheus at {url} is not ready: HTTP 404")


# -- window ---------------------------------------------------------------------------------


def test_window_returns_evenly_spaced_samples_oldest_first(prom: Running) -> None:
    adapter = PrometheusMetrics(prom.url, step=1.0)
    deadline = time.monotonic() + 10
    while True:
        now = datetime.now(UTC)
        samples = adapter.window(WEB, 3, now)
        complete = all(s.cpu_utilization is not None for s in samples)
        if (len(samples) == 4 and complete) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(samples) == 4
    gaps = {(b.at - a.at).total_seconds() for a, b in itertools.pairwise(samples)}
    assert gaps == {1.0}
    assert samples[-1].at == datetime.fromtimestamp(round(now.timestamp(), 3), UTC)
    for sample in samples:
        assert sample.latency_p95_ms == pytest.approx(180.0, rel=REL)
        assert sample.error_rate == pytest.approx(0.05, rel=REL)
        assert sample.cpu_utilization == pytest.approx(0.85, rel=CPU_REL)
        assert sample.memory_utilization == pytest.approx(358 / 512, rel=REL)


def test_window_reads_cpu_and_memory_from_cadvisor_over_kube_state_metrics(prom: Running) -> None:
    # The seed's numbers: 85m of 100m and 358Mi of 512Mi on each of two pods. cAdvisor's
    # pod-level totals (container="") would double them, and web-api's pods (same prefix)
    # would add 500m and 500Mi: neither is counted.
    sample = latest(PrometheusMetrics(prom.url, step=1.0), WEB)
    assert sample.cpu_utilization == pytest.approx(0.85, rel=CPU_REL)
    assert sample.memory_utilization == pytest.approx(358 / 512, rel=REL)
    assert sample.latency_p95_ms == pytest.approx(180.0, rel=REL)


def test_a_dot_in_a_deployment_name_matches_only_a_dot(prom: Running) -> None:
    sample = latest(PrometheusMetrics(prom.url, step=1.0), DOTTED)
    assert sample.cpu_utilization == pytest.approx(0.2, rel=CPU_REL)  # 20m of 100m
    assert sample.memory_utilization == pytest.approx(0.125, rel=REL)  # 64Mi of 512Mi
    assert (sample.latency_p95_ms, sample.error_rate) == (None, None)  # no traffic series
    # The plain placeholder in a regex matcher: the dot matches `webxv2`'s pod as well.
    loose = 'namespace="{namespace}", pod=~"{deployment}-.*"'
    careless = {
        DOTTED: {
            "cpu_utilization": f"sum(irate(container_cpu_usage_seconds_total{{{loose}, "
            f'container!=""}}[1m])) / sum(kube_pod_container_resource_requests{{{loose}, '
            'resource="cpu"})'
        }
    }
    wrong = latest(PrometheusMetrics(prom.url, careless, step=1.0), DOTTED)
    assert wrong.cpu_utilization == pytest.approx((0.02 + 0.09) / 0.2, rel=CPU_REL)


def test_cpu_and_memory_overrides_are_read_for_history_only(prom: Running) -> None:
    queries = {GAUGED: GAUGE_QUERIES}
    adapter = PrometheusMetrics(prom.url, queries, services={GAUGED: "gauged"}, step=1.0)
    sample = latest(adapter, GAUGED)
    assert (sample.cpu_utilization, sample.memory_utilization) == (0.25, 0.2)
    now = metrics_of(adapter.current([GAUGED])[GAUGED])
    assert (now.cpu_utilization, now.memory_utilization) == (None, None)
    assert adapter.last_notes[GAUGED] == ("latency_p95: no series", "error_rate: no series")


def test_window_of_a_deployment_without_series_is_empty(prom: Running) -> None:
    assert PrometheusMetrics(prom.url).window(GHOST, 30, datetime.now(UTC)) == []


@pytest.mark.parametrize("metric", METRICS)
def test_window_raises_when_any_query_fails(prom: Running, metric: str) -> None:
    # Half a history is not evidence: a broken CPU query fails the latency history too.
    adapter = PrometheusMetrics(prom.url, {WEB: {metric: "rate(("}})
    with pytest.raises(MetricsError, match=rf"shop/web: {metric} query failed: .*bad_data"):
        adapter.window(WEB, 30, datetime.now(UTC))


# -- health -----------------------------------------------------------------------------------


def test_health_is_true_when_ready_and_false_when_unreachable(
    prom: Running, closed_port: int
) -> None:
    assert PrometheusMetrics(prom.url).health() == (True, f"Prometheus at {prom.url} is ready")
    ok, why = PrometheusMetrics(f"http://127.0.0.1:{closed_port}").health()
    assert not ok
    assert why.startswith(f"Prometheus at http://127.0.0.1:{closed_port} is unreachable: ")


# -- templates and configuration (no server) -------------------------------------------------


def test_templates_fill_only_their_placeholders_in_one_pass() -> None:
    template = 'x{namespace="{namespace}", le="{le}"} + on() {} {service} {deployment}'
    filled = fill_template(template, namespace="a{deployment}", deployment="d", service="s")
    assert filled == 'x{namespace="a{deployment}", le="{le}"} + on() {} s d'
    regexes = "{namespace_regex} {deployment_regex} {service_regex} {deployment}"
    filled = fill_template(regexes, namespace="a+b", deployment="web.v2", service="s{x}")
    # Quoted for RE2, then escaped for the string: PromQL reads `web\\.v2`, RE2 `web\.v2`.
    assert filled == "a\\\\+b web\\\\.v2 s\\\\{x\\\\} web.v2"


def test_promql_strings_escape_backslash_quote_and_newline() -> None:
    assert promql_string('a\\b"c\nd') == 'a\\\\b\\"c\\nd'


def test_regex_literals_quote_exactly_re2_metacharacters() -> None:
    assert regex_literal("web.v2") == "web\\.v2"
    assert regex_literal("\\.+*?()|[]{}^$") == "".join(f"\\{c}" for c in "\\.+*?()|[]{}^$")
    # RE2 refuses unknown escapes of letters, so nothing else is touched.
    assert regex_literal("a-b_c/d:e") == "a-b_c/d:e"
    # A quote is not special to a regex, but still escaped for the string around it.
    filled = fill_template('"{service_regex}"', namespace="", deployment="", service='x"y\\z')
    assert filled == '"x\\"y\\\\\\\\z"'


def test_default_queries_use_the_default_range() -> None:
    queries = default_queries()
    assert DEFAULT_RATE_RANGE == "5m"
    assert queries["latency_p95"] == (
        "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket"
        '{namespace="{namespace}", deployment="{deployment}"}[5m])))'
    )
    assert "[5m]" in queries["error_rate"]
    assert "or vector(0)" in queries["error_rate"]
    assert set(queries) == set(METRICS)
    assert set(CURRENT_METRICS) == {"latency_p95", "error_rate"}
    pods = 'namespace="{namespace}", pod=~"{deployment_regex}-[a-z0-9]+-[a-z0-9]+"'
    assert queries["cpu_utilization"] == (
        f'sum(irate(container_cpu_usage_seconds_total{{{pods}, container!="", '
        f'container!="POD"}}[5m])) / sum(kube_pod_container_resource_requests{{{pods}, '
        'resource="cpu"})'
    )
    assert queries["memory_utilization"] == (
        f'sum(container_memory_working_set_bytes{{{pods}, container!="", container!="POD"}}) '
        f'/ sum(kube_pod_container_resource_requests{{{pods}, resource="memory"}})'
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"base_url": "prometheus:9090"}, "not an http"),
        ({"base_url": "http://p:9090", "rate_range": "5 minutes"}, "not a PromQL duration"),
        ({"base_url": "http://p:9090", "queries": {WEB: {"p99": "x"}}}, "unknown metric p99"),
        ({"base_url": "http://p:9090", "queries": {WEB: {"error_rate": " "}}}, "empty query"),
        ({"base_url": "http://p:9090", "timeout": 0}, "must be positive"),
    ],
)
def test_bad_configuration_is_a_config_error(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PrometheusMetrics(**kwargs)  # type: ignore[arg-type]


def test_credentials_in_the_url_never_appear_in_messages(closed_port: int) -> None:
    adapter = PrometheusMetrics(f"http://user:secret@127.0.0.1:{closed_port}/prom/")
    assert adapter.url == f"http://127.0.0.1:{closed_port}/prom"
    assert "secret" not in str(adapter.current([WEB])[WEB])


@pytest.mark.parametrize(
    ("query", "note"),
    [
        ("vector(1e300)", "is out of range"),
        ("vector(-1e300)", "is out of range"),
        ("vector(1e300 * 1e300)", "is +inf"),
        ("vector(-1e300 * 1e300)", "is -inf"),
        ("vector(0) / 0", "is NaN"),
    ],
)
def test_a_value_out_of_bounds_is_missing_with_the_reason_not_a_number(
    prom: Running, query: str, note: str
) -> None:
    """A query answering an absurd number gives no value, never one that reaches arithmetic;
    the note says why, and the other metric of the same target is still read."""
    adapter = PrometheusMetrics(prom.url, {WEB: {"latency_p95": query}})
    web = metrics_of(adapter.current([WEB])[WEB])
    assert web.latency_p95_ms is None
    assert web.error_rate == pytest.approx(0.05, rel=REL)
    (latency_note,) = [n for n in adapter.last_notes[WEB] if n.startswith("latency_p95")]
    assert note in latency_note
