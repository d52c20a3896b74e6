"""PrometheusMetrics: p95 latency and error rate per deployment now, and the history of all
four metrics (latency, error rate, CPU and memory utilization) for scale-down evidence.

CPU and memory now come from the Kubernetes metrics API; this source adds what only the
service can tell and the history a scale-down must be proven by. Default queries are batched
per namespace and split by deployment; overrides and failed batches are asked one by one.
Missing is `None`, never zero, and a failure stays with its target. The PromQL is
`prometheus_queries`', reading the answers `prometheus_answers`', and how to connect
`prometheus_transport`'s business. The reasons are in docs/architecture.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from reconciler.adapters.prometheus_answers import (
    Point,
    answer_data,
    one_series,
    sample_time,
    sample_value,
    series_label,
)
from reconciler.adapters.prometheus_queries import (
    BATCH_SIZE,
    CURRENT_METRICS,
    DEFAULT_RATE_RANGE,
    METRICS,
    POD_SUFFIX,
    batch_queries,
    default_queries,
    fill_batch,
    fill_template,
    promql_string,
    regex_literal,
)
from reconciler.adapters.prometheus_transport import (
    MAX_BODY,
    CallFailed,
    Endpoint,
    PrometheusAccess,
    RequestFailed,
    Session,
    Transport,
)
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

#: Prometheus refuses range queries of more than 11,000 points per series.
MAX_POINTS = 10_000

_DURATION = re.compile(r"^(?:[0-9]+(?:ms|s|m|h|d|w|y))+$")


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
        points: dict[Target, dict[str, Point | None]] = {target: {} for target in order}
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
            data = answer_data(status, body)
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
        return answer_data(status, body)

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
    ) -> dict[str, Point | None]:
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
        points: dict[str, Point | None] = {}
        try:
            for series in result:
                name = series["metric"].get("deployment")
                if name not in wanted or name in points:
                    raise RequestFailed(f"unexpected series {series_label(series)}")
                at, raw = series["value"]
                value, note = sample_value(raw)
                points[name] = Point(at=sample_time(at), value=value, note=note)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise RequestFailed(f"unexpected answer shape: {error!r}") from error
        return points

    def _instant(self, session: Session, target: Target, metric: str, moment: str) -> Point | None:
        data = self._ask(session, "/api/v1/query", target, metric, {"time": moment})
        kind, result = data.get("resultType"), data.get("result")
        try:
            if kind == "scalar" and isinstance(result, list):
                at, raw = result
            elif kind == "vector" and isinstance(result, list):
                series = one_series(result)
                if series is None:
                    return None
                at, raw = series["value"]
            else:
                raise RequestFailed(
                    f"it returned a {kind}; a metric query must return an instant vector"
                )
        except (KeyError, TypeError, ValueError) as error:
            raise RequestFailed(f"unexpected answer shape: {error!r}") from error
        value, note = sample_value(raw)
        try:
            seconds = sample_time(at)
        except ValueError as error:
            raise RequestFailed(f"unexpected answer: {error}") from error
        return Point(at=seconds, value=value, note=note)

    def _range(
        self, session: Session, target: Target, metric: str, fields: dict[str, str]
    ) -> dict[int, float | None]:
        """A metric's values by timestamp in milliseconds (exact keys for merging)."""
        data = self._ask(session, "/api/v1/query_range", target, metric, fields)
        kind, result = data.get("resultType"), data.get("result")
        try:
            if kind != "matrix" or not isinstance(result, list):
                raise RequestFailed(f"it returned a {kind} to a range query")
            series = one_series(result)
            if series is None:
                return {}
            column: dict[int, float | None] = {}
            for at, raw in series["values"]:
                value, _ = sample_value(raw)
                column[round(sample_time(at) * 1000)] = value
        except (KeyError, TypeError, ValueError) as error:
            raise RequestFailed(f"unexpected answer shape: {error!r}") from error
        return column

    def _metrics(
        self, target: Target, points: Mapping[str, Point | None], at: datetime
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
