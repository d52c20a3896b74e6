"""KubernetesCluster: the Cluster and MetricsSource ports on a real cluster, through the
official `kubernetes` client.

Why it exists: the simulated cluster runs the demo and the tests; this runs production. Both
implement the same ports and pass the same contract tests (tests/adapters/
test_cluster_contract.py), so the cycle cannot tell them apart.

Main design choice: reads are batched per namespace. `observe` makes one paginated list each of
deployments, pods, replicasets, pod metrics and HorizontalPodAutoscalers per namespace, however
many services live there, and keeps that snapshot for a few seconds so that `current` (CPU and
memory) answers from it without asking again. A thousand services in one namespace cost five
requests a cycle instead of thousands; `apply` drops the namespace's snapshot, so nothing read
after a change predates it.

Other choices, each for a reason:

- Reads ask the client for the raw response (`_preload_content=False`) and this module maps the
  JSON itself. Custom resources (pod metrics) come back as plain JSON anyway, so there is one
  mapping path; the client's pydantic models cost about 40 % more time on a large list and fail
  on fields a newer server adds. The client still does what it is good at: configuration,
  authentication, TLS, URLs and parameter checking.
- Retries are ours, not urllib3's (switched off): reads are retried with backoff on timeouts,
  throttling and server errors; writes never are, because a write that timed out may have been
  applied. Instead the object is read again to see whether our stamp landed.
- `kubernetes` is imported inside methods only: importing it takes about a second, and
  `reconciler --help` must stay fast.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.core import bounds
from reconciler.core.errors import ClusterError, ConfigError, ConflictError, MetricsError
from reconciler.core.observed.changes import Applied, Change, ChangeKind
from reconciler.core.observed.observation import (
    STAMP_ANNOTATION,
    ChangeStamp,
    DeploymentState,
    Metrics,
    PodState,
    Sample,
    Target,
    pause_value,
)

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

__all__ = ["KubernetesCluster", "parse_quantity"]

JSON = dict[str, Any]

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
HASH_LABEL = "pod-template-hash"
#: Argo CD's marks: the tracking annotation (annotation tracking), its own instance label (the
#: usual custom `application.instanceLabelKey`), and the well-known instance label (label
#: tracking's default key, which Helm charts also set; see `_argocd_app`).
ARGOCD_TRACKING = "argocd.argoproj.io/tracking-id"
ARGOCD_LABEL = "argocd.argoproj.io/instance"
INSTANCE_LABEL = "app.kubernetes.io/instance"
#: What `helm install` and `helm upgrade` (Helm 3.2 and later) put on every object they create.
HELM_RELEASE = "meta.helm.sh/release-name"
FLUX_LABELS = ("kustomize.toolkit.fluxcd.io/name", "helm.toolkit.fluxcd.io/name")
MERGE_PATCH = "application/merge-patch+json"
METRICS_GROUP, METRICS_VERSION = "metrics.k8s.io", "v1beta1"
RBAC_HINT = (
    "grant it with deploy/rbac.yaml (docs/running-in-production.md#rbac); "
    "`reconciler doctor` checks every permission the reconciler needs"
)
MIB = 1024**2

#: Waiting reasons every starting pod goes through; they are not a sign of trouble.
_STARTING = frozenset({"ContainerCreating", "PodInitializing"})


def _wall_clock() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------------- quantities

_QUANTITY = re.compile(
    r"^\s*([+-]?(?:\d+\.?\d*|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE]([+-]?\d+))?\s*$"
)
_SUFFIX = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
} | {f"{p}i": Decimal(1024**i) for i, p in enumerate("KMGTPE", 1)}


#: Kubernetes refuses a quantity beyond 2^63 - 1 in magnitude; so does the reconciler, and an
#: exponent beyond this never gives a quantity within that.
_QUANTITY_MAX = Decimal(2**63 - 1)
_EXPONENT_MAX = 30


def parse_quantity(text: object) -> Decimal:
    """A Kubernetes quantity in base units, exactly: `85m` → 0.085, `512Mi` → 536870912,
    `123456n` → 0.000123456, `1e3` → 1000. Exact decimals keep `100m` from becoming 100.0000001
    millicores and being rounded up to 101. As on Kubernetes, a quantity beyond 2^63 - 1 in
    magnitude is refused (ValueError), so no later arithmetic meets an absurd one."""
    match = _QUANTITY.match(str(text))
    if not match:
        raise ValueError(f"{text!r} is not a Kubernetes quantity")
    number, suffix, exponent = match.groups()
    try:
        value = Decimal(number)
    except InvalidOperation as error:  # pragma: no cover - the pattern admits only numbers
        raise ValueError(f"{text!r} is not a Kubernetes quantity") from error
    if exponent is not None and abs(int(exponent)) > _EXPONENT_MAX:
        raise ValueError(f"{text!r} is beyond the largest Kubernetes quantity (2^63 - 1)")
    result = value.scaleb(int(exponent)) if exponent is not None else value * _SUFFIX[suffix or ""]
    if abs(result) > _QUANTITY_MAX:
        raise ValueError(f"{text!r} is beyond the largest Kubernetes quantity (2^63 - 1)")
    return result


def _replicas(value: object, what: str) -> int:
    """A replica count from the API: Kubernetes keeps it in int32, and so must an answer."""
    return bounds.replicas(value, what)


def _count(value: object, what: str) -> int:
    return bounds.count(value, what)


def _millicores(text: object) -> Decimal:
    return parse_quantity(text) * 1000


def _format_memory(size: int) -> str:
    return f"{size // MIB}Mi" if size % MIB == 0 else str(size)


# ---------------------------------------------------------------------- JSON helpers


def _meta(obj: Mapping[str, Any]) -> JSON:
    return obj.get("metadata") or {}


def _labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return _meta(obj).get("labels") or {}


def _annotations(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return _meta(obj).get("annotations") or {}


def _revision(obj: Mapping[str, Any]) -> int:
    try:
        return int(_annotations(obj).get(REVISION_ANNOTATION, "0"))
    except ValueError:
        return 0


def _controller_ref(obj: Mapping[str, Any]) -> JSON | None:
    return next(
        (ref for ref in _meta(obj).get("ownerReferences") or [] if ref.get("controller")), None
    )


def _containers(template: Mapping[str, Any]) -> list[JSON]:
    return list((template.get("spec") or {}).get("containers") or [])


def _total(containers: Iterable[Mapping[str, Any]], section: str, resource: str) -> Decimal | None:
    """The sum over containers of one request or limit, in base units; None when any container
    does not set it (a partial sum would overstate utilization)."""
    total = Decimal(0)
    found = False
    for container in containers:
        value = ((container.get("resources") or {}).get(section) or {}).get(resource)
        if value is None:
            return None
        total += parse_quantity(value)
        found = True
    return total if found else None


def _cpu_total(containers: Iterable[Mapping[str, Any]], section: str) -> int | None:
    total = _total(containers, section, "cpu")
    return None if total is None else math.ceil(total * 1000)


def _memory_total(containers: Iterable[Mapping[str, Any]], section: str) -> int | None:
    total = _total(containers, section, "memory")
    return None if total is None else math.ceil(total)


def _share_request(containers: list[JSON], resource: str, total: int) -> None:
    """Set one resource's request so that the pod's total becomes `total` (millicores for
    CPU, bytes for memory), in place.

    The total is what the state reports and what governance sizes a change by, so it must also
    be what a change sets: setting `total` on every container would multiply it by their
    number. Each container that has a request keeps its share of the total (rounded down, the
    remainder going to the first, so the sum is exact); one without a request is left alone:
    it has no share to keep, and giving it one would be a choice nobody made. When no
    container has one, the first (by convention the application) takes it all.
    """
    scale = 1000 if resource == "cpu" else 1
    holders: list[JSON] = []
    shares: list[Decimal] = []
    for container in containers:
        requests = (container.get("resources") or {}).get("requests") or {}
        if requests.get(resource) is not None:
            holders.append(container)
            shares.append(parse_quantity(requests[resource]) * scale)
    whole = sum(shares, Decimal(0))
    if whole <= 0:
        holders = holders or containers[:1]
        shares = [Decimal(1)] + [Decimal(0)] * (len(holders) - 1)
        whole = Decimal(1)
    values = [int(total * share // whole) for share in shares]
    values[0] += total - sum(values)
    for container, value in zip(holders, values, strict=True):
        resources = container["resources"] = dict(container.get("resources") or {})
        requests = resources["requests"] = dict(resources.get("requests") or {})
        requests[resource] = f"{value}m" if resource == "cpu" else _format_memory(value)


def _generation(value: object) -> int | None:
    """metadata.generation or status.observedGeneration; None when absent or not a count."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _parse_time(text: object) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _merge_diff(old: Any, new: Any) -> Any:
    """The JSON merge patch (RFC 7386) that turns `old` into `new`: changed keys, and null
    for keys `new` lacks. Lists are replaced whole, as merge patches do."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return copy.deepcopy(new)
    patch: JSON = {key: None for key in old if key not in new}
    for key, value in new.items():
        if key not in old:
            patch[key] = copy.deepcopy(value)
        elif old[key] != value:
            patch[key] = _merge_diff(old[key], value)
    return patch


# ---------------------------------------------------------------------- selectors


def _selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A LabelSelector (matchLabels and matchExpressions) against a pod's labels."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key", ""), expression.get("operator", "")
        values = set(expression.get("values") or [])
        present = key in labels
        ok = {
            "In": present and labels[key] in values,
            "NotIn": not present or labels[key] not in values,
            "Exists": present,
            "DoesNotExist": not present,
        }.get(operator, False)
        if not ok:
            return False
    return True


def _selector_text(selector: Mapping[str, Any]) -> str:
    """A LabelSelector as the `labelSelector` query parameter writes it."""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key", ""), expression.get("operator", "")
        values = ",".join(sorted(expression.get("values") or []))
        parts.append(
            {
                "In": f"{key} in ({values})",
                "NotIn": f"{key} notin ({values})",
                "Exists": key,
                "DoesNotExist": f"!{key}",
            }.get(operator, key)
        )
    return ",".join(parts)


# ---------------------------------------------------------------------- pods


def _live(pod: Mapping[str, Any]) -> bool:
    """Pods that count: not being deleted, and not finished (evicted pods linger as Failed)."""
    phase = (pod.get("status") or {}).get("phase")
    return not _meta(pod).get("deletionTimestamp") and phase not in ("Succeeded", "Failed")


def _ready(pod: Mapping[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _pod_reason(status: Mapping[str, Any]) -> str:
    """Why a pod is unhealthy, from its containers' states: a waiting reason other than the
    normal start-up ones (CrashLoopBackOff, ImagePullBackOff...), then a termination reason
    (OOMKilled, Error), then Unschedulable. Empty for a healthy or starting pod."""
    statuses = [
        *(status.get("initContainerStatuses") or []),
        *(status.get("containerStatuses") or []),
    ]
    for container in statuses:
        reason = ((container.get("state") or {}).get("waiting") or {}).get("reason", "")
        if reason and reason not in _STARTING:
            return str(reason)
    for container in statuses:
        reason = ((container.get("state") or {}).get("terminated") or {}).get("reason", "")
        if reason and reason != "Completed":
            return str(reason)
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("reason") == "Unschedulable":
            return "Unschedulable"
    return ""


def _pod_state(pod: Mapping[str, Any], revisions: Mapping[str, int]) -> PodState:
    status = pod.get("status") or {}
    owner = _controller_ref(pod)
    restarts = (
        _count(c.get("restartCount") or 0, "restartCount")
        for c in status.get("containerStatuses") or []
    )
    return PodState(
        name=str(_meta(pod).get("name", "")),
        ready=_ready(pod),
        phase=str(status.get("phase") or "Unknown"),
        restart_count=max(restarts, default=0),
        reason=_pod_reason(status),
        revision=revisions.get(str(owner.get("name")), 0) if owner else 0,
    )


# ---------------------------------------------------------------------- snapshots


@dataclass(frozen=True, kw_only=True)
class _Snapshot:
    """Everything one round of lists said about one namespace.

    `failure` is set when a list the state cannot do without (deployments, pods, autoscalers)
    failed; `metrics` is an error of its own, because missing metrics leave CPU and memory
    unknown but do not stop observing deployments.
    """

    namespace: str
    taken: float  # time.monotonic(), for the cache's age
    observed_at: datetime
    failure: ClusterError | None = None
    deployments: Mapping[str, JSON] = field(default_factory=dict)
    pods: Sequence[JSON] = ()
    #: ReplicaSet name → revision; empty when replicasets could not be listed.
    revisions: Mapping[str, int] = field(default_factory=dict)
    #: Deployment name → names of the HPAs that scale it.
    hpas: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    metrics: Mapping[str, JSON] | MetricsError = field(default_factory=dict)
    _by_label: dict[tuple[str, str], list[JSON]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for pod in self.pods:
            for item in _labels(pod).items():
                self._by_label.setdefault(item, []).append(pod)

    def pods_of(self, deployment: Mapping[str, Any]) -> list[JSON]:
        """The live pods the deployment's selector matches (through a label index, so a
        namespace of thousands of pods is not scanned once per deployment)."""
        selector = (deployment.get("spec") or {}).get("selector") or {}
        match_labels = selector.get("matchLabels") or {}
        if match_labels:
            candidates = min(
                (self._by_label.get(item, []) for item in match_labels.items()), key=len
            )
        else:
            candidates = list(self.pods)
        return [p for p in candidates if _live(p) and _selector_matches(selector, _labels(p))]


class _ApiFailure(ClusterError):
    """A ClusterError that remembers the HTTP status (0 when there was no answer), and whether
    a write that failed this way may nevertheless have been applied (`ambiguous`)."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        hint: str = "",
        retryable: bool = False,
        ambiguous: bool = False,
    ):
        super().__init__(message, hint=hint, retryable=retryable)
        self.status = status
        self.ambiguous = ambiguous
        self.retry_after: float | None = None


_FORBIDDEN = re.compile(
    r'User "(?P<user>[^"]*)" cannot (?P<verb>\S+) resource "(?P<resource>[^"]+)" in API group '
    r'"(?P<group>[^"]*)"(?: in the namespace "(?P<namespace>[^"]+)")?'
)


def _status_message(body: object, fallback: str) -> str:
    """The `message` of a Kubernetes Status body, or `fallback`."""
    try:
        data = json.loads(body) if isinstance(body, str | bytes) else None
    except ValueError:
        data = None
    if isinstance(data, dict) and data.get("message"):
        return str(data["message"])
    return fallback


#: An Authorization header's value, as the client's errors may quote it (`b'Bearer abc\\n'`).
_AUTHORIZATION = re.compile(r"\b(Bearer|Basic)\s+[^\s'\"]+", re.IGNORECASE)


def _redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every credential replaced by ***: any Bearer or Basic header value, and
    each of `secrets` (the configured tokens, which an error may quote without their scheme).

    Error messages go to the terminal, the JSON report, the job summary and GitHub's
    annotations, all of which outlive the run and are read by more people than the token
    should be; so every message built from an error the client raised or a server sent
    passes through here.
    """
    text = _AUTHORIZATION.sub(lambda found: f"{found[1]} ***", text)
    for secret in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _credentials(configuration: Any) -> list[str]:
    """The secrets in a client configuration, as they may appear in an error: each
    whitespace-separated piece of each API key without its scheme, and the password."""
    values = [str(v) for v in (getattr(configuration, "api_key", None) or {}).values() if v]
    if password := getattr(configuration, "password", None):
        values.append(str(password))
    pieces: list[str] = []
    for value in values:
        words = value.split()
        if len(words) > 1 and words[0].lower() in ("bearer", "basic"):
            words = words[1:]
        pieces.extend(word for word in words if word)
    return pieces


class _TrimmedKeys(dict[str, Any]):
    """A client configuration's API keys, stored without the whitespace around them.

    kubectl trims a token it reads from a file; the Python client sends it as it is, so a
    token file ending in a newline (as `kubectl create token ... > file` writes it) would make
    every request fail with an invalid Authorization header. The client stores each token it
    loads, and each one it reloads later (an expired exec-plugin token, a rotated service
    account token), by assigning it here, so trimming on assignment covers them all."""

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value.strip() if isinstance(value, str) else value)


class _NotAnObject(ValueError):
    """An answer that is JSON, but not the object every Kubernetes answer is."""


def _expected_errors() -> tuple[type[BaseException], ...]:
    """The exceptions a request may raise that are about the cluster, not a bug here."""
    import urllib3
    from kubernetes.client.exceptions import ApiException
    from pydantic import ValidationError

    return (ApiException, urllib3.exceptions.HTTPError, ValidationError, ValueError)


# ---------------------------------------------------------------------- the adapter


class KubernetesCluster:
    """Cluster and MetricsSource (CPU and memory) on a Kubernetes API server.

    Build one with `from_kubeconfig` or `in_cluster`. Latency and error rate are left unknown:
    Prometheus provides them, combined in by `reconciler.shell.metrics.CombinedMetrics`.
    """

    def __init__(
        self,
        api_client: ApiClient,
        *,
        page_size: int = 5000,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.5,
        snapshot_ttl: float = 15.0,
        now: Callable[[], datetime] = _wall_clock,
        description: str = "",
    ) -> None:
        """`retries`: extra attempts for a read after a timeout, 429 or 5xx, waiting `backoff`
        seconds, then twice that, and so on. `snapshot_ttl`: how long `current` may reuse what
        `observe` read; the default matches metrics-server's 15 s resolution, so a younger
        snapshot is as fresh as the metrics could be."""
        from kubernetes import client

        if page_size < 1:
            raise ConfigError(f"page size {page_size} must be at least 1")
        self.client = api_client
        self.page_size = page_size
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = backoff
        self.snapshot_ttl = snapshot_ttl
        self.now = now
        self.description = description or str(api_client.configuration.host)
        self._apps = client.AppsV1Api(api_client)
        self._core = client.CoreV1Api(api_client)
        self._custom = client.CustomObjectsApi(api_client)
        self._autoscaling = client.AutoscalingV2Api(api_client)
        self._authorization = client.AuthorizationV1Api(api_client)
        self._version = client.VersionApi(api_client)
        self._errors = _expected_errors()
        self._snapshots: dict[str, _Snapshot] = {}

    # ------------------------------------------------------------ construction

    @classmethod
    def from_kubeconfig(
        cls,
        path: Path,
        context: str | None = None,
        *,
        page_size: int = 5000,
        timeout: float = 10.0,
        retries: int = 3,
        **options: Any,
    ) -> KubernetesCluster:
        """From a kubeconfig file (or several, joined with the path separator, as KUBECONFIG
        allows). The file is always named explicitly: the environment is the CLI's to read."""
        from kubernetes import client, config

        paths = [Path(p) for p in str(path).split(os.pathsep) if p]
        missing = [p for p in paths if not p.is_file()]
        if not paths or missing:
            raise ConfigError(
                f"no kubeconfig at {missing[0] if missing else path}",
                hint="pass --kubeconfig PATH (or set KUBECONFIG); `kubectl config view` shows "
                "the one kubectl uses",
            )
        configuration = client.Configuration()
        configuration.retries = False  # retries are ours: see the module docstring
        configuration.api_key = _TrimmedKeys()
        try:
            api_client = config.new_client_from_config(  # type: ignore[no-untyped-call]
                config_file=str(path),
                context=context,
                client_configuration=configuration,
                # Refreshed tokens are not written back: the file may be a read-only Secret.
                persist_config=False,
            )
        except (config.ConfigException, OSError, ValueError, TypeError, KeyError) as error:
            where = f"context {context!r} of {path}" if context else str(path)
            detail = _redact(str(error), _credentials(configuration))
            raise ConfigError(
                f"cannot use the kubeconfig {where}: {detail}",
                hint="`kubectl config get-contexts` lists the contexts; pass one with --context",
            ) from error
        shown = f"{configuration.host} (context {context})" if context else configuration.host
        return cls(
            api_client,
            page_size=page_size,
            timeout=timeout,
            retries=retries,
            description=shown,
            **options,
        )

    @classmethod
    def in_cluster(
        cls, *, page_size: int = 5000, timeout: float = 10.0, retries: int = 3, **options: Any
    ) -> KubernetesCluster:
        """Inside a pod, with its service account's token (deploy/rbac.yaml makes one)."""
        from kubernetes import client, config

        configuration = client.Configuration()
        configuration.retries = False
        configuration.api_key = _TrimmedKeys()
        try:
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        except (config.ConfigException, OSError) as error:
            detail = _redact(str(error), _credentials(configuration))
            raise ConfigError(
                f"not running inside a Kubernetes pod with a service account: {detail}",
                hint="use --kubeconfig outside a cluster; inside, check that the pod's service "
                "account token is mounted (automountServiceAccountToken)",
            ) from error
        return cls(
            client.ApiClient(configuration),
            page_size=page_size,
            timeout=timeout,
            retries=retries,
            description=f"{configuration.host} (in cluster)",
            **options,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()  # type: ignore[no-untyped-call]

    def disconnect(self) -> None:
        """The name the composition root uses to release any adapter's connections."""
        self.close()

    def __enter__(self) -> KubernetesCluster:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def server(self) -> str:
        """Where requests go, for people: the API server URL and the context."""
        return self.description

    # ------------------------------------------------------------ requests

    def _translate(self, action: str, error: BaseException) -> _ApiFailure:
        """One library exception as a ClusterError that says what was being done, with no
        credential in it: every failure of a request passes through here, and the client's
        own errors may quote the Authorization header (and a server may echo it)."""
        failure = self._describe(action, error)
        failure.args = (_redact(str(failure), _credentials(self.client.configuration)),)
        return failure

    def _describe(self, action: str, error: BaseException) -> _ApiFailure:
        import urllib3
        from kubernetes.client.exceptions import ApiException
        from pydantic import ValidationError

        if isinstance(error, ApiException):
            status = int(error.status or 0)
            message = _status_message(error.body, str(error.reason or "no reason given"))
            failure = self._api_failure(action, status, message)
            if status == 429:
                header = (error.headers or {}).get("Retry-After")
                failure.retry_after = float(header) if header and header.isdigit() else None
            return failure
        if isinstance(
            error, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError
        ):
            # Nothing was sent, so a write that failed this way certainly did not happen.
            return _ApiFailure(
                f"{action}: cannot connect to {self.server}: {error.__context__ or error}",
                status=0,
                hint="check that the cluster is up and reachable from here (VPN, firewall), "
                "and that --kubeconfig/--context point at the right one",
                retryable=True,
            )
        if isinstance(error, urllib3.exceptions.TimeoutError):
            return _ApiFailure(
                f"{action}: no answer within {self.timeout:g}s",
                status=0,
                hint="the API server is slow or unreachable; the next cycle tries again",
                retryable=True,
                ambiguous=True,
            )
        if isinstance(error, urllib3.exceptions.HTTPError):
            return _ApiFailure(
                f"{action}: the connection failed: {error}",
                status=0,
                hint="the next cycle tries again",
                retryable=True,
                ambiguous=True,
            )
        if isinstance(error, ValidationError):
            first = error.errors()[0] if error.errors() else {"msg": str(error)}
            return _ApiFailure(
                f"{action}: the client refused the request: {first.get('msg')}",
                status=0,
                hint="this is a bug in the reconciler; please report it",
            )
        if isinstance(error, json.JSONDecodeError | UnicodeDecodeError | _NotAnObject):
            return _ApiFailure(
                f"{action}: the API server's answer is not valid JSON ({error})",
                status=0,
                hint="is the kubeconfig's server really a Kubernetes API server?",
            )
        # Anything else was raised before the request left (http.client refuses a header
        # with a line break in it, for one), so nothing was sent.
        return _ApiFailure(
            f"{action}: the client could not send the request: {error}",
            status=0,
            hint="check the user in the kubeconfig: a token, for example, must be a single line",
        )

    def _api_failure(self, action: str, status: int, message: str) -> _ApiFailure:
        if status == 401:
            return _ApiFailure(
                f"{action}: the cluster rejected the credentials (401 Unauthorized)",
                status=status,
                hint="the token or client certificate in the kubeconfig is missing, wrong or "
                "expired; `kubectl auth whoami` shows whether they work",
            )
        if status == 403:
            found = _FORBIDDEN.search(message)
            if found:
                resource = found["resource"] + (f".{found['group']}" if found["group"] else "")
                where = (
                    f"in namespace {found['namespace']}"
                    if found["namespace"]
                    else "at the cluster scope"
                )
                return _ApiFailure(
                    f"{action}: forbidden: {found['user']} may not {found['verb']} {resource} "
                    f"{where} (RBAC)",
                    status=status,
                    hint=f"the reconciler needs `{found['verb']}` on {resource}; {RBAC_HINT}",
                )
            return _ApiFailure(f"{action}: forbidden: {message}", status=status, hint=RBAC_HINT)
        if status == 404:
            return _ApiFailure(f"{action}: not found ({message})", status=status)
        if status == 409:
            return _ApiFailure(f"{action}: conflict: {message}", status=status)
        if status == 422:
            return _ApiFailure(
                f"{action}: the cluster refused it as invalid: {message}",
                status=status,
                hint="check the values the blueprint asks for (a request above its limit?)",
            )
        if status == 0:
            return _ApiFailure(
                f"{action}: {message}",
                status=status,
                hint="check the certificate authority and server address in the kubeconfig",
            )
        retryable = status == 429 or status >= 500
        return _ApiFailure(
            f"{action}: the API server answered {status}: {message}",
            status=status,
            hint="the next cycle tries again" if retryable else "",
            retryable=retryable,
            # 429 is a refusal before any work; a 5xx may come after the write was stored.
            ambiguous=status >= 500,
        )

    def _read(self, action: str, call: Callable[[], Any]) -> JSON:
        """One read, retried with exponential backoff while the failure is transient."""
        attempt = 0
        while True:
            try:
                response = call()
                data = json.loads(response.data)
                if not isinstance(data, dict):
                    raise _NotAnObject("not a JSON object")
                return data
            except self._errors as error:
                failure = self._translate(action, error)
                if not failure.retryable or attempt >= self.retries:
                    if failure.retryable and attempt:
                        failure.args = (f"{failure} (after {attempt + 1} attempts)",)
                    raise failure from error
                delay = self.backoff * 2**attempt
                if failure.retry_after is not None:
                    delay = min(max(delay, failure.retry_after), 30.0)
                time.sleep(delay)
                attempt += 1

    def _list(self, action: str, fetch: Callable[..., Any]) -> list[JSON]:
        """Every item of a list, page by page (`limit` and `continue`). A continue token that
        expired (410) restarts the list, so the result is one consistent snapshot."""
        items: list[JSON] = []
        token: str | None = None
        restarts = 0
        while True:
            options: dict[str, Any] = {
                "limit": self.page_size,
                "_request_timeout": self.timeout,
                "_preload_content": False,
            }
            if token:
                options["_continue"] = token
            try:
                page = self._read(action, partial(fetch, **options))
            except _ApiFailure as failure:
                if failure.status == 410 and token and restarts < self.retries:
                    items, token, restarts = [], None, restarts + 1
                    continue
                raise
            items.extend(page.get("items") or [])
            token = _meta(page).get("continue") or None
            if not token:
                return items

    def _get_deployment(self, namespace: str, name: str) -> JSON:
        return self._read(
            f"reading deployment {namespace}/{name}",
            lambda: self._apps.read_namespaced_deployment(
                name, namespace, _preload_content=False, _request_timeout=self.timeout
            ),
        )

    def _write(
        self,
        action: str,
        call: Callable[[], Any],
        confirm: Callable[[], JSON | None],
        service: str,
    ) -> JSON:
        """One write, never repeated. When its fate is unknown (a timeout, a dropped connection,
        a 5xx) the object is read back: `confirm` returns it if the write landed, else None.
        Repeating it instead could apply a change twice, or apply one that was decided on
        state that has moved on."""
        try:
            data = json.loads(call().data)
        except self._errors as error:
            failure = self._translate(action, error)
            if failure.status == 409:
                raise ConflictError(
                    f"{action}: the object changed since it was observed; not overwriting it",
                    hint="the next cycle observes it again",
                    service=service,
                ) from error
            if not failure.ambiguous:
                raise ClusterError(
                    str(failure), hint=failure.hint, service=service, retryable=failure.retryable
                ) from error
            try:
                landed = confirm()
            except ClusterError:
                landed = None
            if landed is None:
                raise ClusterError(
                    f"{failure}; it may still take effect",
                    hint="the write is not repeated blindly: the next cycle observes the "
                    "deployment again, and records the change from its stamp if it landed",
                    service=service,
                    retryable=True,
                ) from error
            return landed
        if not isinstance(data, dict):
            raise ClusterError(f"{action}: the answer is not a JSON object", service=service)
        return data

    # ------------------------------------------------------------ snapshots

    def _fetch(self, namespace: str) -> _Snapshot:
        """One round of lists for a namespace; failures become part of the snapshot."""
        taken, observed_at = time.monotonic(), self.now()
        where = f"in namespace {namespace}"
        try:
            deployments = self._list(
                f"listing deployments {where}",
                lambda **kw: self._apps.list_namespaced_deployment(namespace, **kw),
            )
            pods = self._list(
                f"listing pods {where}",
                lambda **kw: self._core.list_namespaced_pod(namespace, **kw),
            )
            autoscalers = self._list(
                f"listing horizontalpodautoscalers {where}",
                lambda **kw: self._autoscaling.list_namespaced_horizontal_pod_autoscaler(
                    namespace, **kw
                ),
            )
        except ClusterError as failure:
            return _Snapshot(
                namespace=namespace, taken=taken, observed_at=observed_at, failure=failure
            )
        try:
            replicasets = self._list(
                f"listing replicasets {where}",
                lambda **kw: self._apps.list_namespaced_replica_set(namespace, **kw),
            )
        except ClusterError:
            replicasets = []  # only pod revisions need them; they read as 0 (unknown)
        return _Snapshot(
            namespace=namespace,
            taken=taken,
            observed_at=observed_at,
            deployments={str(_meta(d).get("name")): d for d in deployments},
            pods=pods,
            revisions={str(_meta(rs).get("name")): _revision(rs) for rs in replicasets},
            hpas=_autoscalers_by_target(autoscalers),
            metrics=self._fetch_metrics(namespace),
        )

    def _fetch_metrics(self, namespace: str) -> Mapping[str, JSON] | MetricsError:
        try:
            items = self._list(
                f"listing pod metrics in namespace {namespace}",
                lambda **kw: self._custom.list_namespaced_custom_object(
                    METRICS_GROUP, METRICS_VERSION, namespace, "pods", **kw
                ),
            )
        except _ApiFailure as failure:
            if failure.status == 404:
                return MetricsError(
                    f"the metrics API ({METRICS_GROUP}/{METRICS_VERSION}) is not available on "
                    f"{self.server}",
                    hint="install metrics-server; without it CPU and memory utilization are "
                    "unknown, and the reconciler never scales down on unknown data",
                )
            return MetricsError(str(failure), hint=failure.hint)
        return {str(_meta(item).get("name")): item for item in items}

    def _snapshot(self, namespace: str, *, fresh: bool) -> _Snapshot:
        cached = self._snapshots.get(namespace)
        if fresh or cached is None or time.monotonic() - cached.taken > self.snapshot_ttl:
            cached = self._snapshots[namespace] = self._fetch(namespace)
        return cached

    def forget(self, namespace: str | None = None) -> None:
        """Drop the cached snapshot of one namespace, or of all."""
        if namespace is None:
            self._snapshots.clear()
        else:
            self._snapshots.pop(namespace, None)

    # ------------------------------------------------------------ Cluster: observe

    def observe(self, targets: Sequence[Target]) -> Mapping[Target, DeploymentState | ClusterError]:
        snapshots = {ns: self._snapshot(ns, fresh=True) for ns in _namespaces(targets)}
        return {target: self._state(snapshots[target.namespace], target) for target in targets}

    def _state(self, snapshot: _Snapshot, target: Target) -> DeploymentState | ClusterError:
        if snapshot.failure is not None:
            return ClusterError(
                f"observing {target}: {snapshot.failure}",
                hint=snapshot.failure.hint,
                retryable=snapshot.failure.retryable,
            )
        deployment = snapshot.deployments.get(target.name)
        if deployment is None:
            return _missing(target)
        try:
            return self._map_deployment(snapshot, target, deployment)
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            return ClusterError(
                f"observing {target}: the deployment has content the reconciler cannot read "
                f"({error})",
                hint="check it with `kubectl get deployment -o yaml`",
            )

    def _map_deployment(
        self, snapshot: _Snapshot, target: Target, deployment: JSON
    ) -> DeploymentState:
        spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
        containers = _containers(spec.get("template") or {})
        stamp = _annotations(deployment).get(STAMP_ANNOTATION)
        pods = snapshot.pods_of(deployment)
        return DeploymentState(
            target=target,
            replicas=_replicas(spec.get("replicas", 1), "spec.replicas"),
            ready_replicas=_replicas(status.get("readyReplicas") or 0, "status.readyReplicas"),
            pods=tuple(_pod_state(pod, snapshot.revisions) for pod in pods),
            cpu_request=_cpu_total(containers, "requests"),
            memory_request=_memory_total(containers, "requests"),
            cpu_limit=_cpu_total(containers, "limits"),
            memory_limit=_memory_total(containers, "limits"),
            revision=_revision(deployment),
            version=str(_meta(deployment).get("resourceVersion", "")),
            last_change=ChangeStamp.loads(stamp) if stamp else None,
            controllers=_controllers(deployment, snapshot.hpas.get(target.name, ())),
            observed_at=snapshot.observed_at,
            paused=pause_value(_annotations(deployment)),
            generation=_generation(_meta(deployment).get("generation")),
            observed_generation=_generation(status.get("observedGeneration")),
        )

    # ------------------------------------------------------------ MetricsSource

    def current(self, targets: Sequence[Target]) -> Mapping[Target, Metrics | MetricsError]:
        """CPU and memory utilization: usage / request, summed over a pod's containers, over
        the READY pods that have metrics (the HPA's convention: a starting pod's usage says
        nothing about load). When a container has no request for a resource, that
        utilization is unknown, because the HPA could not compute it either and a partial
        sum would overstate it. Latency and error rate are left to Prometheus."""
        snapshots = {ns: self._snapshot(ns, fresh=False) for ns in _namespaces(targets)}
        return {target: self._metrics(snapshots[target.namespace], target) for target in targets}

    def _metrics(self, snapshot: _Snapshot, target: Target) -> Metrics | MetricsError:
        if snapshot.failure is not None:
            return MetricsError(
                f"no metrics for {target}: {snapshot.failure}", hint=snapshot.failure.hint
            )
        deployment = snapshot.deployments.get(target.name)
        if deployment is None:
            return MetricsError(f"no metrics for {target}: the deployment does not exist")
        if isinstance(snapshot.metrics, MetricsError):
            return MetricsError(
                f"no metrics for {target}: {snapshot.metrics}", hint=snapshot.metrics.hint
            )
        try:
            return _utilization(snapshot.pods_of(deployment), snapshot.metrics)
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            return MetricsError(f"no metrics for {target}: unreadable pod metrics ({error})")

    def window(self, target: Target, seconds: float, now: datetime) -> Sequence[Sample]:
        """The metrics API keeps no history, so this says so rather than answer "no samples":
        a scale-down needs evidence over time, which only Prometheus provides here."""
        raise MetricsError(
            "the Kubernetes metrics API keeps no history, so a scale-down cannot be proven; "
            "configure --prometheus-url (RECONCILER_PROMETHEUS_URL) for CPU and memory history"
        )

    # ------------------------------------------------------------ Cluster: apply

    def apply(self, change: Change) -> Applied:
        """Make one change with a JSON merge patch that carries the expected resourceVersion
        (a concurrent edit makes it fail with 409, never overwrite) and the stamp, together."""
        started = self.now()
        try:
            if change.kind is ChangeKind.SCALE and change.hpa:
                message, before, after = self._scale_through_hpa(change)
            else:
                message, before, after = self._patch_deployment(change)
        finally:
            self.forget(change.target.namespace)
        return Applied(
            started_at=started,
            completed_at=self.now(),
            message=message,
            before=before,
            after=after,
        )

    def _before(self, change: Change) -> JSON:
        """The deployment as it is now (from the snapshot when that is still the expected
        version); ConflictError without writing anything when it is not the expected one."""
        target, expected = change.target, change.expected_version
        snapshot = self._snapshots.get(target.namespace)
        deployment = snapshot.deployments.get(target.name) if snapshot else None
        version = str(_meta(deployment).get("resourceVersion", "")) if deployment else None
        if deployment is None or (expected and version != expected):
            try:
                deployment = self._get_deployment(target.namespace, target.name)
            except _ApiFailure as failure:
                if failure.status == 404:
                    raise ClusterError(
                        f"deployment {target} named in the blueprint does not exist",
                        hint=_missing(target).hint,
                        service=change.stamp.service,
                    ) from failure
                raise ClusterError(
                    str(failure),
                    hint=failure.hint,
                    service=change.stamp.service,
                    retryable=failure.retryable,
                ) from failure
            version = str(_meta(deployment).get("resourceVersion", ""))
        if expected and version != expected:
            raise ConflictError(
                f"deployment {target} changed since it was observed (version {expected}, now "
                f"{version}); not overwriting it",
                hint="the next cycle observes it again",
                service=change.stamp.service,
            )
        return deployment

    def _stamp_patch(self, change: Change) -> JSON:
        metadata: JSON = {"annotations": {STAMP_ANNOTATION: change.stamp.dumps()}}
        if change.expected_version:
            metadata["resourceVersion"] = change.expected_version
        return {"metadata": metadata}

    def _patch_deployment(self, change: Change) -> tuple[str, JSON, JSON]:
        target = change.target
        deployment = self._before(change)
        spec = deployment.get("spec") or {}
        template = spec.get("template") or {}
        body = self._stamp_patch(change)
        name = f"deployment.apps/{target.name}"
        match change.kind:
            case ChangeKind.SCALE:
                if change.replicas is None:
                    raise ClusterError(f"scaling {target}: the change names no replica count")
                body["spec"] = {"replicas": change.replicas}
                message = f"{name} scaled"
            case ChangeKind.RESTART:
                moment = change.stamp.at.astimezone(UTC).isoformat().replace("+00:00", "Z")
                body["spec"] = {"template": {"metadata": {"annotations": {RESTARTED_AT: moment}}}}
                message = f"{name} restarted"
            case ChangeKind.RESOURCES:
                containers = copy.deepcopy(_containers(template))
                if not containers:
                    raise ClusterError(
                        f"setting the requests of {target}: its pod template has no containers",
                        service=change.stamp.service,
                    )
                if change.cpu_request is not None:
                    _share_request(containers, "cpu", change.cpu_request)
                if change.memory_request is not None:
                    _share_request(containers, "memory", change.memory_request)
                # A merge patch replaces a list whole, so every container is sent; the
                # resourceVersion precondition guarantees it is the list that was read.
                body["spec"] = {"template": {"spec": {"containers": containers}}}
                message = f"{name} resource requirements updated"
            case ChangeKind.ROLLBACK:
                wanted, revision = self._rollback_template(change, deployment)
                diff = _merge_diff(template, wanted)
                if diff:
                    body["spec"] = {"template": diff}
                    message = f"{name} rolled back"
                else:
                    message = (
                        f"{name} skipped rollback (already at the template of revision {revision})"
                    )
        written = self._write(
            f"patching deployment {target}",
            lambda: self._apps.patch_namespaced_deployment(
                target.name,
                target.namespace,
                body,
                _content_type=MERGE_PATCH,
                _preload_content=False,
                _request_timeout=self.timeout,
            ),
            confirm=lambda: self._landed(change),
            service=change.stamp.service,
        )
        before = {
            "replicas": _replicas(spec.get("replicas", 1), "spec.replicas"),
            "revision": _revision(deployment),
        }
        new_template = (written.get("spec") or {}).get("template") or {}
        changed = _without_hash(new_template) != _without_hash(template)
        after = {
            "replicas": _replicas(
                (written.get("spec") or {}).get("replicas", before["replicas"]), "spec.replicas"
            ),
            # The Deployment controller gives a new pod template the highest revision plus one
            # (an old template it returns to, too); the write's answer predates that.
            "revision": before["revision"] + 1 if changed else before["revision"],
        }
        return message, before, after

    def _landed(self, change: Change) -> JSON | None:
        """The deployment, if it carries this change's stamp (the write went through)."""
        target = change.target
        deployment = self._get_deployment(target.namespace, target.name)
        text = _annotations(deployment).get(STAMP_ANNOTATION)
        stamp = ChangeStamp.loads(text) if text else None
        if stamp is not None and stamp.operation_id == change.stamp.operation_id:
            return deployment
        return None

    def _rollback_template(self, change: Change, deployment: JSON) -> tuple[JSON, int]:
        """The pod template of the revision to return to, as `kubectl rollout undo` finds it:
        the deployment's own ReplicaSet with that revision, minus its pod-template-hash."""
        target = change.target
        selector = (deployment.get("spec") or {}).get("selector") or {}
        uid = _meta(deployment).get("uid")
        try:
            replicasets = self._list(
                f"listing the replicasets of deployment {target}",
                lambda **kw: self._apps.list_namespaced_replica_set(
                    target.namespace, label_selector=_selector_text(selector), **kw
                ),
            )
        except ClusterError as failure:
            raise ClusterError(
                str(failure), hint=failure.hint, service=change.stamp.service
            ) from failure
        owned = {
            _revision(rs): rs
            for rs in replicasets
            if (_controller_ref(rs) or {}).get("uid") == uid and _revision(rs) > 0
        }
        current = _revision(deployment)
        earlier = sorted(r for r in owned if r < current)
        wanted = (
            change.to_revision
            if change.to_revision is not None
            else (earlier[-1] if earlier else None)
        )
        if wanted is None or wanted not in owned:
            kept = ", ".join(map(str, sorted(owned))) or "none"
            which = f"revision {wanted}" if wanted is not None else f"revision before {current}"
            raise ClusterError(
                f"deployment {target} has no {which} to roll back to (revisions kept: {kept})",
                hint="old revisions are kept up to spec.revisionHistoryLimit",
                service=change.stamp.service,
            )
        template = _without_hash((owned[wanted].get("spec") or {}).get("template") or {})
        return template, wanted

    def _scale_through_hpa(self, change: Change) -> tuple[str, JSON, JSON]:
        """Scale by setting the HPA's minReplicas (and raising maxReplicas to fit).

        Two requests, because a stamp lives on the Deployment (where `observe` reads it) and
        Kubernetes has no transaction over two objects. The stamp goes first, with the
        deployment's resourceVersion as the precondition, so that a change that happened always
        has its stamp. If the HPA patch then fails, the stamp stays behind; the cycle records
        the failure under the same operation id, so the stamp is never mistaken for a change
        to recover.
        """
        target, hpa_name, service = change.target, change.hpa or "", change.stamp.service
        replicas = change.replicas
        if replicas is None:
            raise ClusterError(f"scaling {target}: the change names no replica count")
        deployment = self._before(change)
        hpa = self._read_hpa(target.namespace, hpa_name, service)
        ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
        if ref.get("kind") != "Deployment" or ref.get("name") != target.name:
            raise ClusterError(
                f"hpa {target.namespace}/{hpa_name} does not scale deployment {target}",
                hint="the next cycle observes the autoscalers again",
                service=service,
            )
        self._write(
            f"stamping deployment {target}",
            lambda: self._apps.patch_namespaced_deployment(
                target.name,
                target.namespace,
                self._stamp_patch(change),
                _content_type=MERGE_PATCH,
                _preload_content=False,
                _request_timeout=self.timeout,
            ),
            confirm=lambda: self._landed(change),
            service=service,
        )
        spec = hpa.get("spec") or {}
        before_min = _replicas(spec.get("minReplicas", 1), "minReplicas")
        before_max = _replicas(spec["maxReplicas"], "maxReplicas")
        attempts = 0
        while True:
            spec = hpa.get("spec") or {}
            high = max(_replicas(spec["maxReplicas"], "maxReplicas"), replicas)
            body = {
                "metadata": {"resourceVersion": _meta(hpa).get("resourceVersion")},
                "spec": {"minReplicas": replicas, "maxReplicas": high},
            }
            try:
                self._write(
                    f"patching hpa {target.namespace}/{hpa_name}",
                    partial(
                        self._autoscaling.patch_namespaced_horizontal_pod_autoscaler,
                        hpa_name,
                        target.namespace,
                        body,
                        _content_type=MERGE_PATCH,
                        _preload_content=False,
                        _request_timeout=self.timeout,
                    ),
                    confirm=lambda: self._hpa_at(target.namespace, hpa_name, replicas, service),
                    service=service,
                )
                break
            except ConflictError:
                # The HPA controller rewrites its status every few seconds; a 409 means
                # nothing was written, so reading again and retrying is safe.
                attempts += 1
                if attempts > self.retries:
                    raise
                hpa = self._read_hpa(target.namespace, hpa_name, service)
        replicas_now = _replicas((deployment.get("spec") or {}).get("replicas", 1), "replicas")
        revision = _revision(deployment)
        return (
            f"horizontalpodautoscaler.autoscaling/{hpa_name} patched "
            f"(minReplicas {replicas}, maxReplicas {high})",
            {
                "replicas": replicas_now,
                "revision": revision,
                "min_replicas": before_min,
                "max_replicas": before_max,
            },
            {
                "replicas": replicas_now,
                "revision": revision,
                "min_replicas": replicas,
                "max_replicas": high,
            },
        )

    def _read_hpa(self, namespace: str, name: str, service: str) -> JSON:
        try:
            return self._read(
                f"reading hpa {namespace}/{name}",
                lambda: self._autoscaling.read_namespaced_horizontal_pod_autoscaler(
                    name, namespace, _preload_content=False, _request_timeout=self.timeout
                ),
            )
        except _ApiFailure as failure:
            raise ClusterError(
                str(failure), hint=failure.hint, service=service, retryable=failure.retryable
            ) from failure

    def _hpa_at(self, namespace: str, name: str, replicas: int, service: str) -> JSON | None:
        hpa = self._read_hpa(namespace, name, service)
        return hpa if (hpa.get("spec") or {}).get("minReplicas") == replicas else None

    # ------------------------------------------------------------ doctor probes

    def server_version(self) -> str:
        """The API server's version (GET /version): the cheapest proof that it answers."""
        data = self._read(
            f"asking {self.server} for its version",
            lambda: self._version.get_code(_preload_content=False, _request_timeout=self.timeout),
        )
        return str(data.get("gitVersion") or "unknown version")

    def identity(self) -> str:
        """The cluster's identity, which every audit record made on it carries: the UID of its
        kube-system namespace (GET /api/v1/namespaces/kube-system). Kubernetes gives it once
        and keeps it for the cluster's life, where a context or an address can change."""
        data = self._read(
            f"reading the kube-system namespace of {self.server} (the cluster's identity)",
            lambda: self._core.read_namespace(
                "kube-system", _preload_content=False, _request_timeout=self.timeout
            ),
        )
        uid = (data.get("metadata") or {}).get("uid")
        if not isinstance(uid, str) or not uid.strip():
            raise ClusterError(
                f"{self.server}: the kube-system namespace has no UID",
                hint="the reconciler names the cluster by it in every audit record; "
                "check that --context points at a Kubernetes API server",
            )
        return uid.strip()

    def access_review(self, verb: str, group: str, resource: str, namespace: str | None) -> bool:
        """Whether the reconciler's account may do `verb` on `resource` (SelfSubjectAccessReview;
        `resource` may name a subresource, as in `deployments/scale`)."""
        from kubernetes import client

        plural, _, subresource = resource.partition("/")
        attributes = client.V1ResourceAttributes(
            verb=verb,
            group=group,
            resource=plural,
            subresource=subresource or None,
            namespace=namespace or None,
        )
        body = client.V1SelfSubjectAccessReview(
            api_version="authorization.k8s.io/v1",
            kind="SelfSubjectAccessReview",
            spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=attributes),
        )
        # A review changes nothing, so it is retried like a read.
        data = self._read(
            f"asking whether the reconciler may {verb} {resource}",
            lambda: self._authorization.create_self_subject_access_review(
                body, _preload_content=False, _request_timeout=self.timeout
            ),
        )
        return bool((data.get("status") or {}).get("allowed"))

    def metrics_api_available(self) -> bool:
        """Whether the cluster serves metrics.k8s.io/v1beta1 (metrics-server is installed)."""
        try:
            self._read(
                "looking for the metrics API",
                lambda: self._custom.get_api_resources(
                    METRICS_GROUP,
                    METRICS_VERSION,
                    _preload_content=False,
                    _request_timeout=self.timeout,
                ),
            )
        except _ApiFailure as failure:
            if failure.status in (404, 503):  # absent, or registered with nothing behind it
                return False
            raise
        return True

    def deployment_exists(self, namespace: str, name: str) -> bool:
        try:
            self._get_deployment(namespace, name)
        except _ApiFailure as failure:
            if failure.status == 404:
                return False
            raise
        return True


# ---------------------------------------------------------------------- module helpers


def _namespaces(targets: Iterable[Target]) -> list[str]:
    return list(dict.fromkeys(target.namespace for target in targets))


def _missing(target: Target) -> ClusterError:
    return ClusterError(
        f"deployment {target} named in the blueprint does not exist",
        hint="check metadata.namespace and metadata.deployment in the blueprint (the deployment "
        "defaults to the service name), or create the deployment; `reconciler doctor` checks "
        "every blueprint",
    )


def _without_hash(template: Mapping[str, Any]) -> JSON:
    out = copy.deepcopy(dict(template))
    labels = (out.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
    return out


def _autoscalers_by_target(autoscalers: Iterable[Mapping[str, Any]]) -> dict[str, tuple[str, ...]]:
    found: dict[str, list[str]] = {}
    for hpa in autoscalers:
        ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
        group = str(ref.get("apiVersion", "apps/v1")).partition("/")[0]
        if ref.get("kind") == "Deployment" and group in ("apps", "extensions") and ref.get("name"):
            found.setdefault(str(ref["name"]), []).append(str(_meta(hpa).get("name")))
    return {name: tuple(sorted(hpas)) for name, hpas in found.items()}


def _controllers(deployment: Mapping[str, Any], hpas: Iterable[str]) -> tuple[str, ...]:
    """Who else manages this deployment: its HPAs, and the GitOps tool that applied it."""
    annotations, labels = _annotations(deployment), _labels(deployment)
    found = [f"hpa/{name}" for name in hpas]
    flux = [f"flux/{labels[key]}" for key in FLUX_LABELS if labels.get(key)]
    if app := _argocd_app(annotations, labels, applied_by_flux=bool(flux)):
        found.append(f"argocd/{app}")
    return (*found, *flux)


def _argocd_app(
    annotations: Mapping[str, str], labels: Mapping[str, str], *, applied_by_flux: bool
) -> str:
    """The Argo CD application that applied the deployment, or "" when none is seen.

    The tracking annotation and Argo CD's own label are proof. The well-known
    `app.kubernetes.io/instance` label is what Argo CD's label tracking sets, even on a Helm
    chart it renders (the chart's `app.kubernetes.io/managed-by: Helm` stays on), but Helm
    charts set it too. A release that Helm (or Flux's helm-controller) installed carries
    Helm's release annotation, which Argo CD, rendering charts with `helm template`, never
    adds; and Flux's labels say Flux applied it. In both cases the label is the chart's, not
    Argo CD's. Anything else carrying it reads as Argo CD: refusing wrongly is safer than
    fighting a controller.
    """
    if tracking := annotations.get(ARGOCD_TRACKING):
        return tracking.split(":", 1)[0]
    if app := labels.get(ARGOCD_LABEL):
        return app
    instance = labels.get(INSTANCE_LABEL)
    if instance and not applied_by_flux and HELM_RELEASE not in annotations:
        return instance
    return ""


def _utilization(pods: Iterable[Mapping[str, Any]], metrics: Mapping[str, JSON]) -> Metrics:
    """Utilization over the ready pods with metrics: total usage / total request, which is the
    mean of the pods' utilizations when they share a template, as a Deployment's pods do."""
    usage = {"cpu": Decimal(0), "memory": Decimal(0)}
    request: dict[str, Decimal | None] = {"cpu": Decimal(0), "memory": Decimal(0)}
    newest: datetime | None = None
    counted = 0
    for pod in pods:
        sample = metrics.get(str(_meta(pod).get("name")))
        if sample is None or not _ready(pod):
            continue
        counted += 1
        for container in sample.get("containers") or []:
            for resource in usage:
                usage[resource] += parse_quantity((container.get("usage") or {}).get(resource, 0))
        containers = _containers(pod)
        for resource in usage:
            total = _total(containers, "requests", resource)
            known = request[resource]
            request[resource] = None if total is None or known is None else known + total
        moment = _parse_time(sample.get("timestamp"))
        if moment is not None and (newest is None or moment > newest):
            newest = moment

    def ratio(resource: str) -> float | None:
        total = request[resource]
        if not counted or total is None or total <= 0:
            return None
        return float(usage[resource] / total)

    return Metrics(
        cpu_utilization=ratio("cpu"),
        memory_utilization=ratio("memory"),
        observed_at=newest,
        source=METRICS_GROUP,
    )
