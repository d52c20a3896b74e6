"""The PromQL the Prometheus source asks: the default templates per metric, their batched
forms for many deployments of a namespace, and the one way a template is filled.

Templates are filled in one pass over exactly six placeholders, each value escaped for a
double-quoted PromQL string (and quoted as a regular expression in its `_regex` form), so a
name can neither close the string nor match more than itself (docs/architecture.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = [
    "BATCH_SIZE",
    "CURRENT_METRICS",
    "DEFAULT_RATE_RANGE",
    "METRICS",
    "POD_SUFFIX",
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

#: At most this many deployments per batched query: the answer stays small and the regular
#: expression short, and a batch that a server limit refuses costs that many single queries.
BATCH_SIZE = 200

_PLACEHOLDER = re.compile(r"\{(namespace|deployment|service)(_regex)?\}")
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
