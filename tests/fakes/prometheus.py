"""A real Prometheus server for tests, scraping an exporter the test controls.

Why it exists: what the Prometheus adapter must get right is PromQL's behaviour, not the shape
of the HTTP API: how `rate()` extrapolates, how `histogram_quantile` interpolates inside a
bucket, that 0/0 is NaN and a selector with no match an empty vector, and what the error
bodies of a bad query look like. A fake of the API would only restate our assumptions about
those, so the tests run the real `prometheus` binary (Debian's package) on loopback, with a
temporary configuration and storage, scraping every second.

What it scrapes is an `Exporter` served by the test process: per deployment, a latency
histogram and a request counter by status code, in Prometheus' text format. The test sets a
`Load` (requests per second, share of 5xx, p95 latency) and the counters advance with real
time at those rates, so `rate()` over the scraped samples gives back exactly what was set.

Main design choice: the latency histogram is built so that `histogram_quantile(0.95, ...)`
returns the chosen p95 exactly (not just roughly): the cumulative bucket counts are placed so
that the quantile's linear interpolation inside its bucket lands on the value. Ratios of
rates (the quantile, the error share) do not depend on scrape timing, so tests can assert
them tightly.

CPU and memory history come two ways, for two kinds of test. `set_pods` exposes pods the
way cAdvisor and kube-state-metrics do (a CPU-seconds counter, a working-set gauge, the
container's requests, and cAdvisor's pod-level totals with `container=""`), so the adapter's
default templates, pod-name regex included, are checked against real PromQL. `set_utilization`
exposes one plain gauge per deployment, `test_cpu_utilization` and `test_memory_utilization`,
which scenario tests point blueprint overrides at: a gauge follows a change on the next
scrape, where a `rate()` over minutes would blend old and new load for minutes.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

__all__ = [
    "BUCKETS",
    "MIB",
    "Exporter",
    "Load",
    "PodUsage",
    "PrometheusServer",
    "Running",
    "WebAccess",
    "binary_available",
    "bucket_fractions",
    "required",
    "running",
]

#: The histogram's upper bounds in seconds (the Prometheus client libraries' defaults).
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Counters start as if the service had been running for an hour, as real ones do; a counter
#: near zero makes rate() stop its extrapolation at zero, which would skew ratios after a
#: change of load.
PRIOR_SECONDS = 3600.0
QUANTILE = 0.95
MIB = 1024.0**2


@dataclass(frozen=True, kw_only=True)
class Load:
    """What a deployment is doing: the values the adapter should report back."""

    rps: float = 10.0
    error_share: float = 0.0
    p95_seconds: float = 0.1


@dataclass(frozen=True, kw_only=True)
class PodUsage:
    """One pod of one container as cAdvisor and kube-state-metrics see it: CPU in cores
    (usage is a rate of CPU-seconds) and memory in bytes."""

    cpu: float
    memory: float
    cpu_request: float = 0.1
    memory_request: float = 512 * MIB
    container: str = "app"


def bucket_fractions(p95: float) -> list[float]:
    """Cumulative share of requests at or under each of BUCKETS, so that p95 is exactly `p95`.

    histogram_quantile finds the bucket (a, b] where the cumulative share reaches 0.95 and
    interpolates linearly: a + (b - a) * (0.95 - F(a)) / (F(b) - F(a)). With t = (p95 - a) /
    (b - a), either everything is at or under b and F(a) = (0.95 - t) / (1 - t), or (when t is
    above 0.95) nothing is at or under a, F(b) = 0.95 / t, and the rest is in the next bucket.
    The first bucket starts at 0, so p95 must be above its bound.
    """
    if not BUCKETS[0] < p95 <= BUCKETS[-1]:
        raise ValueError(f"p95 must be in ({BUCKETS[0]}, {BUCKETS[-1]}] seconds, not {p95}")
    index = next(i for i, bound in enumerate(BUCKETS) if p95 <= bound)
    low, high = BUCKETS[index - 1], BUCKETS[index]
    t = (p95 - low) / (high - low)
    fractions = [0.0] * len(BUCKETS)
    if t <= QUANTILE:
        below, at_high = (QUANTILE - t) / (1 - t), 1.0
    else:
        below, at_high = 0.0, QUANTILE / t
    fractions[index - 1] = below
    for i in range(index, len(BUCKETS)):
        fractions[i] = at_high if i == index else 1.0
    return fractions


def _label(value: str) -> str:
    """A label value escaped for the text exposition format."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@dataclass
class _Service:
    """A deployment's counters: their values at `anchor` and their rates since then."""

    namespace: str
    deployment: str
    anchor: float
    values: dict[str, float]
    rates: dict[str, float]

    def at(self, moment: float) -> dict[str, float]:
        elapsed = moment - self.anchor
        return {key: value + self.rates[key] * elapsed for key, value in self.values.items()}


@dataclass
class _Pod:
    """A pod's usage, with its CPU counter's value at `anchor` (it advances at `usage.cpu`)."""

    usage: PodUsage
    anchor: float
    cpu_seconds: float

    def cpu_at(self, moment: float) -> float:
        return self.cpu_seconds + self.usage.cpu * (moment - self.anchor)


def _rates(load: Load) -> dict[str, float]:
    """Per-second increase of every series of one deployment under `load`."""
    rates: dict[str, float] = {}
    for bound, share in zip(BUCKETS, bucket_fractions(load.p95_seconds), strict=True):
        rates[f"bucket:{bound}"] = load.rps * share
    rates["bucket:+Inf"] = load.rps
    rates["count"] = load.rps
    # A plausible sum: the bucket midpoints weighted by their shares.
    bounds = (0.0, *BUCKETS)
    shares = bucket_fractions(load.p95_seconds)
    previous = 0.0
    mean = 0.0
    for i, share in enumerate(shares):
        mean += (share - previous) * (bounds[i] + bounds[i + 1]) / 2
        previous = share
    rates["sum"] = load.rps * mean
    rates["code:200"] = load.rps * (1 - load.error_share)
    if load.error_share > 0:
        rates["code:500"] = load.rps * load.error_share
    return rates


class Exporter(ThreadingHTTPServer):
    """Serves `/metrics` on 127.0.0.1 (random port) for the deployments set with `set`.

    A 5xx counter appears only once a deployment has had errors, as with the client
    libraries, which create a labelled counter on first use.
    """

    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self._lock = threading.Lock()
        self._services: dict[tuple[str, str], _Service] = {}
        self._pods: dict[tuple[str, str], _Pod] = {}
        self._gauges: dict[tuple[str, str, str], float] = {}
        self._thread: threading.Thread | None = None
        self.scrapes = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server_port}"

    def set(self, namespace: str, deployment: str, load: Load) -> None:
        """From now on, the deployment runs under `load` (its counters keep their totals)."""
        now = time.monotonic()
        rates = _rates(load)
        with self._lock:
            known = self._services.get((namespace, deployment))
            if known is None:
                values = {key: rate * PRIOR_SECONDS for key, rate in rates.items()}
            else:
                values = known.at(now)
                for key in values.keys() - rates.keys():
                    rates[key] = 0.0  # an existing counter stays, flat
                for key in rates.keys() - values.keys():
                    values[key] = 0.0
            self._services[(namespace, deployment)] = _Service(
                namespace, deployment, now, values, rates
            )

    def set_pods(self, namespace: str, pods: dict[str, PodUsage]) -> None:
        """From now on, these pods (by name) use what `pods` says; CPU counters keep their
        totals, and a new pod's starts as if it had run for PRIOR_SECONDS."""
        now = time.monotonic()
        with self._lock:
            for name, usage in pods.items():
                known = self._pods.get((namespace, name))
                total = known.cpu_at(now) if known else usage.cpu * PRIOR_SECONDS
                self._pods[(namespace, name)] = _Pod(usage, now, total)

    def set_utilization(
        self, namespace: str, deployment: str, *, cpu: float | None, memory: float | None
    ) -> None:
        """The deployment's `test_cpu_utilization` and `test_memory_utilization` gauges, as
        fractions (None: the gauge disappears)."""
        with self._lock:
            for metric, value in (("cpu", cpu), ("memory", memory)):
                key = (f"test_{metric}_utilization", namespace, deployment)
                if value is None:
                    self._gauges.pop(key, None)
                else:
                    self._gauges[key] = value

    def remove(self, namespace: str, deployment: str) -> None:
        """The deployment's series disappear (Prometheus marks them stale)."""
        with self._lock:
            self._services.pop((namespace, deployment), None)

    def render(self) -> str:
        """The exposition, in Prometheus' text format (version 0.0.4)."""
        now = time.monotonic()
        with self._lock:
            services = [(s.namespace, s.deployment, s.at(now)) for s in self._services.values()]
            pods = [(ns, name, p.usage, p.cpu_at(now)) for (ns, name), p in self._pods.items()]
            gauges = sorted(self._gauges.items())
            self.scrapes += 1
        lines = [
            "# HELP http_request_duration_seconds Time to answer a request.",
            "# TYPE http_request_duration_seconds histogram",
        ]
        for namespace, deployment, values in services:
            base = f'namespace="{_label(namespace)}",deployment="{_label(deployment)}"'
            for bound in (*BUCKETS, "+Inf"):
                value = values[f"bucket:{bound}"]
                lines.append(
                    f'http_request_duration_seconds_bucket{{{base},le="{bound}"}} {value!r}'
                )
            lines.append(f"http_request_duration_seconds_sum{{{base}}} {values['sum']!r}")
            lines.append(f"http_request_duration_seconds_count{{{base}}} {values['count']!r}")
        lines += [
            "# HELP http_requests_total Requests answered, by status code.",
            "# TYPE http_requests_total counter",
        ]
        for namespace, deployment, values in services:
            base = f'namespace="{_label(namespace)}",deployment="{_label(deployment)}"'
            for key in sorted(k for k in values if k.startswith("code:")):
                code = key.removeprefix("code:")
                lines.append(f'http_requests_total{{{base},code="{code}"}} {values[key]!r}')
        lines += _gauge_lines(gauges) + _pod_lines(pods)
        return "\n".join(lines) + "\n"

    def start(self) -> Exporter:
        if self._thread is None:
            self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.server_close()

    def server_bind(self) -> None:
        socket.socket.bind(self.socket, self.server_address)  # no reverse DNS lookup
        self.server_address = self.socket.getsockname()
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Prometheus hanging up when it stops is normal: stay quiet."""


def _gauge_lines(gauges: list[tuple[tuple[str, str, str], float]]) -> list[str]:
    lines = []
    for metric in ("test_cpu_utilization", "test_memory_utilization"):
        lines.append(f"# TYPE {metric} gauge")
        for (name, namespace, deployment), value in gauges:
            if name == metric:
                base = f'namespace="{_label(namespace)}",deployment="{_label(deployment)}"'
                lines.append(f"{metric}{{{base}}} {value!r}")
    return lines


def _pod_lines(pods: list[tuple[str, str, PodUsage, float]]) -> list[str]:
    """cAdvisor's and kube-state-metrics' series for the pods, one family at a time (the
    text format wants a family's lines together). cAdvisor also reports each pod's total
    with `container=""`; it is here so that a query forgetting to drop it counts double."""
    usage = ["# TYPE container_cpu_usage_seconds_total counter"]
    memory = ["# TYPE container_memory_working_set_bytes gauge"]
    requests = ["# TYPE kube_pod_container_resource_requests gauge"]
    for namespace, pod, spec, cpu_seconds in pods:
        base = f'namespace="{_label(namespace)}",pod="{_label(pod)}"'
        for container in (spec.container, ""):
            labels = f'{base},container="{_label(container)}"'
            usage.append(f"container_cpu_usage_seconds_total{{{labels}}} {cpu_seconds!r}")
            memory.append(f"container_memory_working_set_bytes{{{labels}}} {spec.memory!r}")
        labels = f'{base},container="{_label(spec.container)}"'
        for resource, unit, value in (
            ("cpu", "core", spec.cpu_request),
            ("memory", "byte", spec.memory_request),
        ):
            requests.append(
                f'kube_pod_container_resource_requests{{{labels},resource="{resource}",'
                f'unit="{unit}"}} {value!r}'
            )
    return usage + memory + requests


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Prometheus scrapes; every answer has a length
    disable_nagle_algorithm = True
    server: Exporter

    def do_GET(self) -> None:
        if urllib.parse.urlsplit(self.path).path != "/metrics":
            self._answer(404, b"not found\n", "text/plain")
            return
        body = self.server.render().encode()
        self._answer(200, body, "text/plain; version=0.0.4; charset=utf-8")

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes every second would flood the test output."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class WebAccess:
    """Prometheus' `--web.config.file` contents, and how the test itself gets through it to
    poll readiness and query: a TLS context (its CA, a client certificate) and headers."""

    config: Mapping[str, Any]
    context: ssl.SSLContext | None = None
    headers: Mapping[str, str] | None = None

    @property
    def scheme(self) -> str:
        return "https" if "tls_server_config" in self.config else "http"


class PrometheusServer:
    """The `prometheus` binary on 127.0.0.1 (random port), scraping `targets` every second.

    Storage and configuration live in `directory`; the server's log is in `log_path`, and is
    quoted when it fails to start. Use as a context manager, or `start()`/`stop()`. `web`
    serves it as people do, behind TLS and authentication; `flags` are more command-line flags
    (a query limit, say).
    """

    def __init__(
        self,
        targets: list[str],
        directory: Path,
        *,
        binary: str | None = None,
        web: WebAccess | None = None,
        flags: Sequence[str] = (),
    ) -> None:
        found = binary or shutil.which("prometheus")
        if found is None:
            raise FileNotFoundError("no prometheus binary on PATH (apt-get install prometheus)")
        self.binary = found
        self.targets = targets
        self.directory = directory
        self.log_path = directory / "prometheus.log"
        self.port = 0
        self.web = web
        self.flags = tuple(flags)
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        scheme = self.web.scheme if self.web is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def _get(self, url: str, *, timeout: float) -> tuple[int, bytes]:
        if self.web is None:
            return _get(url, timeout=timeout)
        return _get(url, timeout=timeout, context=self.web.context, headers=self.web.headers)

    def _write_config(self) -> Path:
        # evaluation_interval matters for rules only (there are none); kept short anyway.
        config = {
            "global": {
                "scrape_interval": "1s",
                "scrape_timeout": "1s",
                "evaluation_interval": "1s",
            },
            "scrape_configs": [
                {
                    "job_name": "exporter",
                    "honor_labels": True,
                    "static_configs": [{"targets": self.targets}],
                }
            ],
        }
        path = self.directory / "prometheus.yml"
        path.write_text(json.dumps(config, indent=2))  # JSON is YAML
        return path

    def start(self, ready_within: float = 20.0) -> PrometheusServer:
        """Start the server and wait until `/-/ready` says so; a taken port is retried."""
        config = self._write_config()
        extra = list(self.flags)
        if self.web is not None:
            web_path = self.directory / "web.yml"
            web_path.write_text(json.dumps(dict(self.web.config), indent=2))
            extra.append(f"--web.config.file={web_path}")
        for _ in range(3):
            self.port = _free_port()
            storage = tempfile.mkdtemp(prefix="tsdb-", dir=self.directory)
            self._log = self.log_path.open("ab")
            self._process = subprocess.Popen(
                [
                    self.binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={storage}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--storage.tsdb.retention.time=1h",
                    "--log.level=info",
                    *extra,
                ],
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
            )
            if self._wait_ready(ready_within):
                return self
            taken = "address already in use" in self.log_text()
            self.stop()
            if not taken:
                break
        raise RuntimeError(f"prometheus did not become ready; its log:\n{self.log_text()[-3000:]}")

    def _wait_ready(self, within: float) -> bool:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                return False
            with contextlib.suppress(OSError):
                status, _ = self._get(f"{self.url}/-/ready", timeout=1.0)
                if status == 200:
                    return True
            time.sleep(0.05)
        return False

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """Terminate the server and wait for it, so no process or file is left behind."""
        process, self._process = self._process, None
        if process is not None:
            process.send_signal(signal.SIGTERM)  # harmless if it has already exited
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- queries --------------------------------------------------------------------------

    def requests_served(self, handler: str = "/api/v1/query") -> int:
        """How many requests the server has answered on `handler`, by its own counter
        (`prometheus_http_requests_total`, read from its /metrics: no scrape needed)."""
        status, body = self._get(f"{self.url}/metrics", timeout=5.0)
        assert status == 200, body[:200]
        total = 0.0
        for line in body.decode().splitlines():
            if line.startswith("prometheus_http_requests_total{") and (
                f'handler="{handler}"' in line
            ):
                total += float(line.rsplit(" ", 1)[1])
        return int(total)

    def query(self, promql: str) -> dict[str, Any]:
        """An instant query's `data` (raises on an error answer)."""
        fields = urllib.parse.urlencode({"query": promql})
        status, body = self._get(f"{self.url}/api/v1/query?{fields}", timeout=5.0)
        answer: dict[str, Any] = json.loads(body)
        if status != 200 or answer.get("status") != "success":
            raise RuntimeError(f"query {promql!r} failed: HTTP {status} {answer}")
        data: dict[str, Any] = answer["data"]
        return data

    def wait_for(
        self, promql: str, *, within: float = 20.0, numbers: bool = True
    ) -> list[dict[str, Any]]:
        """Poll until `promql` returns a non-empty result (of non-NaN values with `numbers`).

        Returns the result. On a timeout, the error quotes the last answer and the log.
        """
        deadline = time.monotonic() + within
        last: object = None
        while True:
            data = self.query(promql)
            result = data.get("result") or []
            last = result
            if result and (not numbers or all(_is_number(s["value"][1]) for s in result)):
                return list(result)
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{promql!r} gave no data within {within}s (last: {last}); "
                    f"prometheus log:\n{self.log_text()[-2000:]}"
                )
            time.sleep(0.1)


def _is_number(raw: str) -> bool:
    return not math.isnan(float(raw))


def _get(
    url: str,
    *,
    timeout: float,
    context: ssl.SSLContext | None = None,
    headers: Mapping[str, str] | None = None,
) -> tuple[int, bytes]:
    """A plain GET with http.client: no proxy settings from the environment apply."""
    import http.client

    parts = urllib.parse.urlsplit(url)
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(
            parts.hostname or "", parts.port, timeout=timeout, context=context
        )
    else:
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request("GET", path, headers=dict(headers or {}))
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@dataclass
class Running:
    exporter: Exporter
    prometheus: PrometheusServer

    @property
    def url(self) -> str:
        return self.prometheus.url


@contextlib.contextmanager
def running(
    directory: Path | None = None, *, web: WebAccess | None = None, flags: Sequence[str] = ()
) -> Iterator[Running]:
    """An exporter and a Prometheus scraping it; both stopped (and files removed) on exit."""
    with contextlib.ExitStack() as stack:
        if directory is None:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="prom-")))
        exporter = Exporter().start()
        stack.callback(exporter.stop)
        prometheus = PrometheusServer([exporter.address], directory, web=web, flags=flags)
        stack.enter_context(prometheus)  # stopped before the exporter: callbacks run LIFO
        yield Running(exporter, prometheus)


def binary_available() -> bool:
    return shutil.which("prometheus") is not None


def required() -> bool:
    """Whether a missing binary is a failure (CI sets RECONCILER_REQUIRE_PROMETHEUS)."""
    return os.environ.get("RECONCILER_REQUIRE_PROMETHEUS", "").strip().lower() not in (
        "",
        "0",
        "false",
        "no",
    )
