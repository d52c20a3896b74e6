"""PrometheusMetrics: p95 latency and error rate per deployment now, and the history of all
four metrics (latency, error rate, CPU and memory utilization) for scale-down evidence.

CPU and memory now come from the Kubernetes metrics API; this source adds what only the
service can tell and the history a scale-down must be proven by. Default queries are batched
per namespace and split by deployment; overrides and failed batches are asked one by one.
Missing is `None`, never zero, and a failure stays with its target. How to connect is
`prometheus_transport`'s business. The reasons are in docs/architecture.md.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from reconciler.adapters.prometheus_transport import (
    MAX_BODY,
    CallFailed,
    Endpoint,
    PrometheusAccess,
    RequestFailed,
    Session,
    Transport,
)
from reconciler.core import bounds
from reconciler.core.errors import ConfigError, MetricsError
from reconciler.core.observed.observation import Metrics, Sample, Target
from reconciler.core.observed.reachability import Failure, Reachability

__all__ = [
    "BATCH_SIZE",
    "CURRENT_METRICS",
    "DEFAULT_RATE_RANGE",
    "MAX_BODY",
    "METRICS",
    "POD_SUFFIX",
    "PrometheusAccess",
    "PrometheusMetrics",
    "batch_queries",
    "default_queries",
    "fill_batch",
    "fill_template",
    "promql_string",
    "regex_literal",
]

#: The metric names a blueprint's `spec.observability.queries` may override.
METRICS = ("latency_p95", "error_rate", "cpu_utilization", "memory_utilization")
#: What `current` asks (see the module docstring for why not CPU and memory).
CURRENT_METRICS = ("latency_p95", "error_rate")

#: rate() needs two samples in its range; 5m holds at least four at the usual 1m scrape
#: interval (Prometheus' own advice), and smooths a single burst that should not scale a
#: service on its own. The reconciler acts over minutes, so a shorter range buys little.
DEFAULT_RATE_RANGE = "5m"

#: Prometheus refuses range queries of more than 11,000 points per series.
MAX_POINTS = 10_000

#: At most this many deployments per batched query: the answer stays small and the regular
#: expression short, and a batch that a server limit refuses costs that many single queries.
BATCH_SIZE = 200

_PLACEHOLDER = re.compile(r"\{(namespace|deployment|service)(_regex)?\}")
_DURATION = re.compile(r"^(?:[0-9]+(?:ms|s|m|h|d|w|y))+$")
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r"}
#: RE2's metacharacters, the set Go's regexp.QuoteMeta escapes. Quoting more would not be
#: safe: RE2 rejects a backslash before a letter or a space it does not know.
_REGEX_SPECIAL = frozenset("\\.+*?()|[]{}^$")
#: The pods of a Deployment are `<deployment>-<pod-template-hash>-<suffix>`, neither part
#: containing a dash. Matching exactly that shape, rather than `<deployment>-.*`, keeps the
#: pods of `web-api` out of `web`'s sums. (Kubernetes cuts generated names to 63 characters,
#: so the pods of a deployment named with more than about 46 do not match: their history is
#: unknown, which blocks scale-downs rather than faking them; such a blueprint overrides the
#: CPU and memory queries.)
POD_SUFFIX = "-[a-z0-9]+-[a-z0-9]+"


def default_queries(rate_range: str = DEFAULT_RATE_RANGE) -> dict[str, str]:
    """The templates used when a blueprint does not override them.

    `latency_p95` is in seconds (converted to milliseconds here). In `error_rate`, a service
    that has never answered 5xx usually has no 5xx series at all (client libraries create a
    labelled counter on first use), so the numerator falls back to 0: such a service reports
    0, not missing, while one with no request series at all still reports missing.

    `cpu_utilization` and `memory_utilization` are usage over requests, summed over the
    deployment's pods, from the series every common setup has: cAdvisor's (scraped from the
    kubelet) for usage and kube-state-metrics' for requests. `container!=""` drops cAdvisor's
    pod-level total, which would count every container twice, and `container!="POD"` the
    pause container older runtimes report. Memory is the working set, what the kubelet evicts
    on and what the metrics API reports.

    CPU uses `irate`, not `rate`: `rate` divides a series' increase by the whole range, so a
    pod younger than the range (every new pod after a scale-up, for 5 minutes) reads as using
    a fraction of its CPU: false evidence of low load, in the one place the history is used.
    `irate` takes the last two samples in the range, a short-term rate like the metrics API's.
    A deleted pod's usage lingers in the range while its request is gone at once, which reads
    high: the safe direction for scale-down evidence.
    """
    selector = 'namespace="{namespace}", deployment="{deployment}"'
    requests = f"http_requests_total{{{selector}}}"
    errors = f'http_requests_total{{{selector}, code=~"5.."}}'
    buckets = f"http_request_duration_seconds_bucket{{{selector}}}"
    pods = f'namespace="{{namespace}}", pod=~"{{deployment_regex}}{POD_SUFFIX}"'
    containers = f'{pods}, container!="", container!="POD"'
    cpu_used = f"container_cpu_usage_seconds_total{{{containers}}}"
    memory_used = f"container_memory_working_set_bytes{{{containers}}}"
    requested = f"kube_pod_container_resource_requests{{{pods}, resource="
    return {
        "latency_p95": (f"histogram_quantile(0.95, sum by (le) (rate({buckets}[{rate_range}])))"),
        "error_rate": (
            f"(sum(rate({errors}[{rate_range}])) or vector(0))"
            f" / sum(rate({requests}[{rate_range}]))"
        ),
        "cpu_utilization": f'sum(irate({cpu_used}[{rate_range}])) / sum({requested}"cpu"}})',
        "memory_utilization": f'sum({memory_used}) / sum({requested}"memory"}})',
    }


def batch_queries(rate_range: str = DEFAULT_RATE_RANGE) -> dict[str, str]:
    """`current`'s default templates for many deployments of one namespace at once: one
    series per deployment, labelled with it, each the value its own default query gives.

    `{namespace}` is filled as in `fill_template`; `{deployments_regex}` with the deployments'
    names, each quoted as a regular expression, joined with `|`. The error rate's fallback to
    0 for a deployment without a 5xx series is `0 * its request rate` instead of `vector(0)`,
    which has no labels and so could stand in for one deployment only.
    """
    selector = 'namespace="{namespace}", deployment=~"{deployments_regex}"'
    by = "by (namespace, deployment)"
    requests = f"sum {by} (rate(http_requests_total{{{selector}}}[{rate_range}]))"
    errors = f'sum {by} (rate(http_requests_total{{{selector}, code=~"5.."}}[{rate_range}]))'
    buckets = f"http_request_duration_seconds_bucket{{{selector}}}"
    return {
        "latency_p95": (
            f"histogram_quantile(0.95, sum by (le, namespace, deployment) "
            f"(rate({buckets}[{rate_range}])))"
        ),
        "error_rate": f"({errors} or 0 * {requests}) / {requests}",
    }


def fill_batch(template: str, *, namespace: str, deployments: Sequence[str]) -> str:
    """A batched template with its namespace and deployments, escaped as `fill_template`
    escapes them."""
    names = "|".join(regex_literal(name) for name in deployments)
    return template.replace("{namespace}", promql_string(namespace)).replace(
        "{deployments_regex}", promql_string(names)
    )


def promql_string(value: str) -> str:
    """`value` escaped for the inside of a double-quoted PromQL string."""
    return "".join(_ESCAPES.get(char, char) for char in value)


def regex_literal(value: str) -> str:
    """A regular expression (RE2) matching exactly `value`: its metacharacters quoted."""
    return "".join(f"\\{char}" if char in _REGEX_SPECIAL else char for char in value)


def fill_template(template: str, *, namespace: str, deployment: str, service: str) -> str:
    """Replace the placeholders, in one pass, with escaped values.

    `{name}` is the value as a PromQL string's content (for `=` and `!=` matchers);
    `{name_regex}` is a regular expression matching exactly the value, as a PromQL string's
    content (for `=~` and `!~`): `web.v2` becomes `web\\\\.v2`, which the string turns into
    the regex `web\\.v2`. One pass, so a value that itself contains `{deployment}` is not
    expanded again; and a replace rather than `str.format`, so PromQL's own braces need no
    doubling.
    """
    raw = {"namespace": namespace, "deployment": deployment, "service": service}

    def value(match: re.Match[str]) -> str:
        text = raw[match.group(1)]
        return promql_string(regex_literal(text) if match.group(2) else text)

    return _PLACEHOLDER.sub(value, template)


@dataclass(frozen=True)
class _Point:
    at: float
    value: float | None
    note: str = ""


def _number(raw: object) -> tuple[float | None, str]:
    """A sample value: None with a reason when it is not a finite number within bounds."""
    try:
        value = float(str(raw))
    except ValueError:
        return None, f"is not a number: {raw!r}"
    if math.isnan(value):
        return None, "is NaN (no requests in the range?)"
    if math.isinf(value):
        return None, f"is {value:+}"
    try:
        bounds.finite(value, low=-bounds.AMOUNT_MAX)
    except bounds.OutOfRange as error:
        return None, f"is out of range: {error}"
    return value, ""


def _timestamp(raw: object) -> float:
    """A sample's time in Unix seconds; ValueError unless it is a time a clock can show."""
    at = float(str(raw))
    low, high = bounds.TIME_MIN.timestamp(), bounds.TIME_MAX.timestamp()
    if not (math.isfinite(at) and low <= at <= high):
        raise ValueError(f"the sample time {raw!r} is not a time")
    return at


def _series_label(series: Mapping[str, Any]) -> str:
    labels = series.get("metric") or {}
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def _one_series(result: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    if not result:
        return None
    if len(result) > 1:
        shown = ", ".join(_series_label(s) for s in result[:3])
        more = ", ..." if len(result) > 3 else ""
        raise RequestFailed(
            f"it returned {len(result)} series ({shown}{more}); a metric query must return "
            "at most one: aggregate it, for example with sum() or max()"
        )
    return result[0]


class PrometheusMetrics:
    """A MetricsSource reading latency and error rate (now and as history) and CPU and memory
    utilization (as history only) from Prometheus' HTTP API.

    `queries` holds each target's overrides (a blueprint's `spec.observability.queries`, by
    metric name); other metrics use `default_queries(rate_range)`. `services` names each
    target's blueprint, for `{service}` and for messages; it defaults to `namespace/name`
    (and `{service}` to the deployment name). `timeout` bounds the wait for every answer:
    Prometheus is asked to give up on a query a little earlier, so a slow query comes back as
    its error rather than as a hung connection; `connect_timeout` (default: `timeout`) bounds
    opening a connection. `access` says how to connect (credentials, TLS, headers, proxies).
    `step` is the resolution of `window` in seconds.
    """

    source = "prometheus"

    def __init__(
        self,
        base_url: str,
        queries: Mapping[Target, Mapping[str, str]] | None = None,
        *,
        services: Mapping[Target, str] | None = None,
        rate_range: str = DEFAULT_RATE_RANGE,
        timeout: float = 5.0,
        connect_timeout: float | None = None,
        access: PrometheusAccess | None = None,
        now: Callable[[], datetime] | None = None,
        step: float = 15.0,
    ) -> None:
        endpoint = Endpoint.parse(base_url)
        if not _DURATION.match(rate_range):
            raise ConfigError(
                f"Prometheus rate range {rate_range!r} is not a PromQL duration",
                hint="for example 5m, 90s or 1h30m",
            )
        connect = timeout if connect_timeout is None else connect_timeout
        if not (timeout > 0 and connect > 0 and step > 0):
            raise ConfigError(
                f"Prometheus timeouts and step must be positive: {timeout}, {connect}, {step}"
            )
        overrides: dict[Target, dict[str, str]] = {}
        for target, templates in (queries or {}).items():
            unknown = sorted(set(templates) - set(METRICS))
            if unknown:
                raise ConfigError(
                    f"queries for {target}: unknown metric {', '.join(unknown)}",
                    hint=f"the metrics that can be overridden are {', '.join(METRICS)}",
                )
            empty = [name for name, text in templates.items() if not text.strip()]
            if empty:
                raise ConfigError(f"queries for {target}: empty query for {', '.join(empty)}")
            overrides[target] = dict(templates)
        self._transport = Transport(
            endpoint, access or PrometheusAccess(), timeout=timeout, connect_timeout=connect
        )
        self._overrides = overrides
        self._services = dict(services or {})
        self._defaults = default_queries(rate_range)
        self._batched = batch_queries(rate_range)
        self.rate_range = rate_range
        self.timeout = timeout
        self.step = step
        self._now = now or (lambda: datetime.now(UTC))
        #: Why values of the last `current` call are unknown, per target, in short: "latency_p95
        #: is NaN (no requests in the range?)". Each Metrics' `warnings` say the same with the
        #: service and the query; this is for code that holds the adapter rather than a result.
        self.last_notes: dict[Target, tuple[str, ...]] = {}

    @property
    def url(self) -> str:
        return self._transport.endpoint.display

    def settings(self) -> str:
        """How the connection is made (credentials by origin only, never by value)."""
        return self._transport.describe()

    def query_for(self, target: Target, metric: str) -> str:
        """The PromQL sent for this target and metric alone, placeholders filled."""
        template = self._overrides.get(target, {}).get(metric) or self._defaults[metric]
        return fill_template(
            template,
            namespace=target.namespace,
            deployment=target.name,
            service=self._services.get(target, target.name),
        )

    def batch_query_for(self, namespace: str, deployments: Sequence[str], metric: str) -> str:
        """The PromQL of one batched query: `metric` for these deployments of a namespace."""
        return fill_batch(self._batched[metric], namespace=namespace, deployments=deployments)

    # ------------------------------------------------------------------ the port

    def current(self, targets: Sequence[Target]) -> Mapping[Target, Metrics | MetricsError]:
        """Latency and error rate of each target at one instant; CPU and memory are None
        (the metrics API's to give; see the module docstring)."""
        at = self._now()
        moment = f"{at.timestamp():.3f}"
        order = list(dict.fromkeys(targets))
        points: dict[Target, dict[str, _Point | None]] = {target: {} for target in order}
        failed: dict[Target, MetricsError] = {}
        asking: Target | None = None
        down: CallFailed | None = None
        with self._session() as session:
            try:
                for metric in CURRENT_METRICS:
                    pending = [t for t in order if t not in failed]
                    batches, singles = self._plan(pending, metric)
                    for batch in batches:
                        asking = batch[0]
                        try:
                            answers = self._batch(session, batch, metric, moment)
                        except RequestFailed:
                            singles.extend(batch)  # each is asked alone, as without batching
                            continue
                        for target in batch:
                            points[target][metric] = answers.get(target.name)
                    for target in sorted(singles, key=order.index):
                        asking = target
                        try:
                            points[target][metric] = self._instant(session, target, metric, moment)
                        except RequestFailed as error:
                            failed[target] = MetricsError(str(error))
            except CallFailed as error:
                down = error
        results: dict[Target, Metrics | MetricsError] = {}
        notes: dict[Target, tuple[str, ...]] = {}
        for target in order:
            if target in failed:
                results[target] = failed[target]
            elif down is not None:
                # The query it interrupted is named once, for the target it was asked for.
                shown = str(down) if target == asking else down.message
                results[target] = MetricsError(f"{self._name(target)}: {shown}")
            else:
                results[target], notes[target] = self._metrics(target, points[target], at)
        self.last_notes = notes
        return results

    def window(self, target: Target, seconds: float, now: datetime) -> Sequence[Sample]:
        """Samples of all four metrics every `step` seconds over [now - seconds, now], oldest
        first: the evidence a scale-down needs.

        The step grows when needed to stay under Prometheus' limit of points per series.
        Raises MetricsError when any query fails: half a history is not evidence. A metric
        without series (no kube-state-metrics, say) is None in every sample, which the
        decision engine reads as "not proven", never as low.
        """
        if seconds <= 0:
            return []
        end = now.timestamp()
        step = max(self.step, seconds / MAX_POINTS)
        fields = {"start": f"{end - seconds:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
        columns: dict[str, dict[int, float | None]] = {}
        with self._session() as session:
            for metric in METRICS:
                try:
                    columns[metric] = self._range(session, target, metric, fields)
                except CallFailed as error:
                    raise MetricsError(f"{self._name(target)}: {error}") from error
                except RequestFailed as error:
                    raise MetricsError(str(error)) from error
        latency, errors = columns["latency_p95"], columns["error_rate"]
        cpu, memory = columns["cpu_utilization"], columns["memory_utilization"]
        samples = []
        moments: set[int] = set()
        for column in columns.values():
            moments.update(column)
        for millis in sorted(moments):
            seconds_value = latency.get(millis)
            samples.append(
                Sample(
                    at=datetime.fromtimestamp(millis / 1000, UTC),
                    latency_p95_ms=None if seconds_value is None else seconds_value * 1000,
                    error_rate=errors.get(millis),
                    cpu_utilization=cpu.get(millis),
                    memory_utilization=memory.get(millis),
                )
            )
        return samples

    def check(self) -> Reachability:
        """Whether a query goes through with these settings, and if not, what stops it.

        The query is `vector(1)`, on the query API every metric uses (a readiness endpoint
        would miss what sits in front of the API: a tenant's gateway, a path prefix).
        """
        url = self.url
        try:
            with self._session() as session:
                status, body = session.request("GET", "/api/v1/query", {"query": "vector(1)"})
        except CallFailed as error:
            return Reachability(ok=False, detail=str(error), failure=error.failure)
        except RequestFailed as error:
            return Reachability(
                ok=False, detail=f"Prometheus at {url}: {error}", failure=Failure.UNREACHABLE
            )
        try:
            data = _data(status, body)
        except RequestFailed:
            snippet = body[:200].decode("utf-8", "replace").strip()
            words = f"HTTP {status} {snippet!r}" if snippet else f"HTTP {status}"
            if status == 503:
                return Reachability(
                    ok=False,
                    detail=f"Prometheus at {url} is not ready: {words}",
                    failure=Failure.NOT_READY,
                )
            return Reachability(
                ok=False,
                detail=f"Prometheus at {url} is not ready: {words}: "
                "this URL does not serve Prometheus' query API",
                failure=Failure.NOT_PROMETHEUS,
            )
        if data.get("resultType") != "vector":
            return Reachability(
                ok=False,
                detail=f"Prometheus at {url} answered a query with a "
                f"{data.get('resultType')}, not Prometheus' answer",
                failure=Failure.NOT_PROMETHEUS,
            )
        return Reachability(ok=True, detail=f"Prometheus at {url} is ready")

    def health(self) -> tuple[bool, str]:
        """Whether Prometheus answers queries, and why not (see `check`)."""
        found = self.check()
        return found.ok, found.detail

    # ------------------------------------------------------------------ helpers

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self._transport.session() as session:
            yield session

    def _name(self, target: Target) -> str:
        service = self._services.get(target)
        return f"{service} ({target})" if service else str(target)

    def _plan(
        self, targets: Sequence[Target], metric: str
    ) -> tuple[list[list[Target]], list[Target]]:
        """Batches of targets on the metric's default template, by namespace (at least two,
        at most BATCH_SIZE each), and the targets asked alone."""
        by_namespace: dict[str, list[Target]] = {}
        singles: list[Target] = []
        for target in targets:
            if metric in self._overrides.get(target, {}):
                singles.append(target)
            else:
                by_namespace.setdefault(target.namespace, []).append(target)
        batches: list[list[Target]] = []
        for members in by_namespace.values():
            if len(members) == 1:
                singles.extend(members)
                continue
            for start in range(0, len(members), BATCH_SIZE):
                chunk = members[start : start + BATCH_SIZE]
                if len(chunk) == 1:
                    singles.extend(chunk)
                else:
                    batches.append(chunk)
        return batches, singles

    def _post(self, session: Session, path: str, query: str, fields: dict[str, str]) -> Any:
        # Prometheus stops a query at its own timeout with a clear error; leave time for it.
        fields = {"query": query, "timeout": f"{self.timeout * 0.9:.3f}", **fields}
        status, body = session.request("POST", path, fields)
        return _data(status, body)

    def _ask(
        self, session: Session, path: str, target: Target, metric: str, fields: dict[str, str]
    ) -> Mapping[str, Any]:
        """POST a target's query; returns its `data`. Errors name the service, metric and
        query."""
        query = self.query_for(target, metric)
        try:
            data: Mapping[str, Any] = self._post(session, path, query, fields)
        except CallFailed as error:
            if error.sent:
                error.during = f"to the {metric} query (query: {query})"
            raise
        except RequestFailed as error:
            raise RequestFailed(
                f"{self._name(target)}: {metric} query failed: {error} (query: {query})"
            ) from error
        return data

    def _batch(
        self, session: Session, batch: Sequence[Target], metric: str, moment: str
    ) -> dict[str, _Point | None]:
        """One batched instant query: each deployment's point, by name (absent: no series).
        Raises RequestFailed when the query fails or its answer cannot be split."""
        namespace = batch[0].namespace
        names = [target.name for target in batch]
        query = self.batch_query_for(namespace, names, metric)
        try:
            data = self._post(session, "/api/v1/query", query, {"time": moment})
        except CallFailed as error:
            if error.sent:
                error.during = (
                    f"to the {metric} query for {len(batch)} deployments of namespace "
                    f"{namespace} (query: {query})"
                )
            raise
        kind, result = data.get("resultType"), data.get("result")
        if kind != "vector" or not isinstance(result, list):
            raise RequestFailed(f"it returned a {kind}; a batched query returns a vector")
        wanted = set(names)
        points: dict[str, _Point | None] = {}
        try:
            for series in result:
                name = series["metric"].get("deployment")
                if name not in wanted or name in points:
                    raise RequestFailed(f"unexpected series {_series_label(series)}")
                at, raw = series["value"]
                value, note = _number(raw)
                points[name] = _Point(at=_timestamp(at), value=value, note=note)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise RequestFailed(f"unexpected answer shape: {error!r}") from error
        return points

    def _instant(self, session: Session, target: Target, metric: str, moment: str) -> _Point | None:
        data = self._ask(session, "/api/v1/query", target, metric, {"time": moment})
        kind, result = data.get("resultType"), data.get("result")
        try:
            if kind == "scalar" and isinstance(result, list):
                at, raw = result
            elif kind == "vector" and isinstance(result, list):
                series = _one_series(result)
                if series is None:
                    return None
                at, raw = series["value"]
            else:
                raise RequestFailed(
                    f"it returned a {kind}; a metric query must return an instant vector"
                )
        except (KeyError, TypeError, ValueError) as error:
            raise RequestFailed(f"unexpected answer shape: {error!r}") from error
        value, note = _number(raw)
        try:
            seconds = _timestamp(at)
        except ValueError as error:
            raise RequestFailed(f"unexpected answer: {error}") from error
        return _Point(at=seconds, value=value, note=note)

    def _range(
        self, session: Session, target: Target, metric: str, fields: dict[str, str]
    ) -> dict[int, float | None]:
        """A metric's values by timestamp in milliseconds (exact keys for merging)."""
        data = self._ask(session, "/api/v1/query_range", target, metric, fields)
        kind, result = data.get("resultType"), data.get("result")
        try:
            if kind != "matrix" or not isinstance(result, list):
                raise RequestFailed(f"it returned a {kind} to a range query")
            series = _one_series(result)
            if series is None:
                return {}
            column: dict[int, float | None] = {}
            for at, raw in series["values"]:
                value, _ = _number(raw)
                column[round(_timestamp(at) * 1000)] = value
        except (KeyError, TypeError, ValueError) as error:
            raise RequestFailed(f"unexpected answer shape: {error!r}") from error
        return column

    def _metrics(
        self, target: Target, points: Mapping[str, _Point | None], at: datetime
    ) -> tuple[Metrics, tuple[str, ...]]:
        """The target's Metrics (its warnings naming service and query) and the short notes."""
        notes = []
        warnings = []
        values: dict[str, float | None] = {}
        times = []
        for metric in CURRENT_METRICS:
            point = points.get(metric)
            values[metric] = None if point is None else point.value
            if point is not None:
                times.append(point.at)
            if point is None or point.note:
                note = f"{metric}: no series" if point is None else f"{metric} {point.note}"
                notes.append(note)
                query = self.query_for(target, metric)
                warnings.append(f"{self._name(target)}: {note} (query: {query})")
        latency = values["latency_p95"]
        observed = datetime.fromtimestamp(min(times), UTC) if times else at
        metrics = Metrics(
            latency_p95_ms=None if latency is None else latency * 1000,
            error_rate=values["error_rate"],
            observed_at=observed,
            source=self.source,
            warnings=tuple(warnings),
        )
        return metrics, tuple(notes)


def _data(status: int, body: bytes) -> Mapping[str, Any]:
    """The `data` of a Prometheus API answer, or RequestFailed with the server's own words."""
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        snippet = body[:200].decode("utf-8", "replace").strip() or "an empty body"
        raise RequestFailed(f"Prometheus answered HTTP {status} with {snippet!r}")
    if status != 200 or answer.get("status") != "success":
        kind = answer.get("errorType") or "error"
        message = answer.get("error") or "no error message"
        raise RequestFailed(f"Prometheus answered HTTP {status} {kind}: {message}")
    data = answer.get("data")
    if not isinstance(data, dict):
        raise RequestFailed("Prometheus answered without data")
    return data
