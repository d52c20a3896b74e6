"""The pure mapping from Kubernetes API JSON to the reconciler's model: deployments, pods,
HPAs and pod metrics in, DeploymentState and Metrics out.

Nothing here talks to a server, so every rule (who else controls a deployment, why a pod is
unhealthy, how utilization is summed over containers) is tested with plain dicts.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from reconciler.core import bounds
from reconciler.core.errors import ClusterError, MetricsError
from reconciler.core.observed.observation import (
    STAMP_ANNOTATION,
    ChangeStamp,
    DeploymentState,
    Metrics,
    PodState,
    Target,
    pause_value,
)

JSON = dict[str, Any]

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
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
METRICS_GROUP, METRICS_VERSION = "metrics.k8s.io", "v1beta1"

#: Waiting reasons every starting pod goes through; they are not a sign of trouble.
_STARTING = frozenset({"ContainerCreating", "PodInitializing"})

# ---------------------------------------------------------------------- quantities

#: Kubernetes refuses a quantity beyond 2^63 - 1 in magnitude; so does the reconciler.
_QUANTITY_MAX = Decimal(2**63 - 1)
#: A decimal exponent beyond this never gives a quantity Kubernetes stores (nor one it would
#: round to anything but 0 or overflow), so it is refused before any arithmetic meets it.
_EXPONENT_MAX = 30


def parse_quantity(text: object) -> Decimal:
    """A Kubernetes quantity in base units, exactly: `85m` → 0.085, `512Mi` → 536870912,
    `123456n` → 0.000123456, `1e3` → 1000, as the client's own
    `kubernetes.utils.parse_quantity` reads it. Exact decimals keep `100m` from becoming
    100.0000001 millicores and being rounded up to 101. As on Kubernetes, a quantity beyond
    2^63 - 1 in magnitude is refused (ValueError), so no later arithmetic meets an absurd one.

    The client is imported here, not at the top: importing it takes about a second, and every
    caller has built a client (and so paid for it) before it reads a quantity."""
    from kubernetes.utils.quantity import parse_quantity as client_parse

    shown = str(text).strip()
    if isinstance(text, bool) or not shown or "_" in shown:  # Decimal would take 1_000
        raise ValueError(f"{text!r} is not a Kubernetes quantity")
    exponent = shown.lower().rpartition("e")[2]
    big = "e" in shown.lower() and exponent.lstrip("+-").isdigit() and int(exponent) != 0
    if big and abs(int(exponent)) > _EXPONENT_MAX:
        raise ValueError(f"{text!r} is beyond the largest Kubernetes quantity (2^63 - 1)")
    try:
        result: Decimal = client_parse(text if isinstance(text, int) else shown)  # type: ignore[no-untyped-call]
    except (ValueError, TypeError, ArithmeticError) as error:
        raise ValueError(f"{text!r} is not a Kubernetes quantity") from error
    if not result.is_finite():  # Decimal reads "NaN" and "Infinity"
        raise ValueError(f"{text!r} is not a Kubernetes quantity")
    if abs(result) > _QUANTITY_MAX:
        raise ValueError(f"{text!r} is beyond the largest Kubernetes quantity (2^63 - 1)")
    return result


def _replicas(value: object, what: str) -> int:
    """A replica count from the API: Kubernetes keeps it in int32, and so must an answer."""
    return bounds.replicas(value, what)


def _count(value: object, what: str) -> int:
    return bounds.count(value, what)


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
class Snapshot:
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


# ---------------------------------------------------------------------- deployments


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


def _missing(target: Target) -> ClusterError:
    return ClusterError(
        f"deployment {target} named in the blueprint does not exist",
        hint="check metadata.namespace and metadata.deployment in the blueprint (the deployment "
        "defaults to the service name), or create the deployment; `reconciler doctor` checks "
        "every blueprint",
    )


def deployment_state(snapshot: Snapshot, target: Target) -> DeploymentState | ClusterError:
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
        return _map_deployment(snapshot, target, deployment)
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        return ClusterError(
            f"observing {target}: the deployment has content the reconciler cannot read ({error})",
            hint="check it with `kubectl get deployment -o yaml`",
        )


def _map_deployment(snapshot: Snapshot, target: Target, deployment: JSON) -> DeploymentState:
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


def deployment_metrics(snapshot: Snapshot, target: Target) -> Metrics | MetricsError:
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
