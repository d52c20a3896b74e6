"""KubernetesCluster: the Cluster, MetricsSource and ClusterEvents ports on a real cluster,
through the official `kubernetes` client.

Reads are batched per namespace: `observe` makes one paginated list each of deployments,
pods, replicasets, pod metrics and HorizontalPodAutoscalers per namespace, however many
services live there, and keeps that snapshot for a few seconds so that `current` answers from
it. `kubernetes` is imported inside methods only: importing it takes about a second, and
`reconciler --help` must stay fast.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.adapters.kubernetes import probes
from reconciler.adapters.kubernetes.errors import ApiFailure, credentials, redact
from reconciler.adapters.kubernetes.events import post_event
from reconciler.adapters.kubernetes.mapping import (
    JSON,
    METRICS_GROUP,
    METRICS_VERSION,
    Snapshot,
    _autoscalers_by_target,
    _meta,
    _revision,
    deployment_metrics,
    deployment_state,
)
from reconciler.adapters.kubernetes.transport import Transport
from reconciler.adapters.kubernetes.trimming import slim_deployment, slim_pod, slim_replicaset
from reconciler.adapters.kubernetes.writes import write_change
from reconciler.core.errors import ClusterError, ConfigError, MetricsError
from reconciler.core.observed.changes import Applied, Change
from reconciler.core.observed.observation import DeploymentState, Metrics, Sample, Target
from reconciler.core.trail.notices import Notice

if TYPE_CHECKING:
    from kubernetes.client import ApiClient


def _wall_clock() -> datetime:
    return datetime.now(UTC)


class _TrimmedKeys(dict[str, Any]):
    """A client configuration's API keys, stored without the whitespace around them.

    kubectl trims a token it reads from a file; the Python client sends it as it is, so a
    token file ending in a newline (as `kubectl create token ... > file` writes it) would make
    every request fail with an invalid Authorization header. The client stores each token it
    loads, and each one it reloads later (an expired exec-plugin token, a rotated service
    account token), by assigning it here, so trimming on assignment covers them all."""

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value.strip() if isinstance(value, str) else value)


class KubernetesCluster:
    """Cluster, MetricsSource (CPU and memory) and ClusterEvents on a Kubernetes API server.

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
        if page_size < 1:
            raise ConfigError(f"page size {page_size} must be at least 1")
        self.client = api_client
        self.snapshot_ttl = snapshot_ttl
        self.now = now
        self.description = description or str(api_client.configuration.host)
        self._api = Transport(
            api_client,
            server=self.description,
            page_size=page_size,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
        )
        self._snapshots: dict[str, Snapshot] = {}
        #: Each deployment's uid, as last listed: what an Event names its deployment by.
        self._uids: dict[Target, str] = {}

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
            detail = redact(str(error), credentials(configuration))
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
            detail = redact(str(error), credentials(configuration))
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

    # ------------------------------------------------------------ snapshots

    def _fetch(self, namespace: str) -> Snapshot:
        """One round of lists for a namespace; failures become part of the snapshot."""
        taken, observed_at = time.monotonic(), self.now()
        where = f"in namespace {namespace}"
        try:
            deployments = self._api.list(
                f"listing deployments {where}",
                lambda **kw: self._api.apps.list_namespaced_deployment(namespace, **kw),
                keep=slim_deployment,
            )
            pods = self._api.list(
                f"listing pods {where}",
                lambda **kw: self._api.core.list_namespaced_pod(namespace, **kw),
                keep=slim_pod,
            )
            autoscalers = self._api.list(
                f"listing horizontalpodautoscalers {where}",
                lambda **kw: self._api.autoscaling.list_namespaced_horizontal_pod_autoscaler(
                    namespace, **kw
                ),
            )
        except ClusterError as failure:
            return Snapshot(
                namespace=namespace, taken=taken, observed_at=observed_at, failure=failure
            )
        try:
            replicasets = self._api.list(
                f"listing replicasets {where}",
                lambda **kw: self._api.apps.list_namespaced_replica_set(namespace, **kw),
                keep=slim_replicaset,
            )
        except ClusterError:
            replicasets = []  # only pod revisions need them; they read as 0 (unknown)
        return Snapshot(
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
            items = self._api.list(
                f"listing pod metrics in namespace {namespace}",
                lambda **kw: self._api.custom.list_namespaced_custom_object(
                    METRICS_GROUP, METRICS_VERSION, namespace, "pods", **kw
                ),
            )
        except ApiFailure as failure:
            if failure.status == 404:
                return MetricsError(
                    f"the metrics API ({METRICS_GROUP}/{METRICS_VERSION}) is not available on "
                    f"{self.server}",
                    hint="install metrics-server; without it CPU and memory utilization are "
                    "unknown, and the reconciler never scales down on unknown data",
                )
            return MetricsError(str(failure), hint=failure.hint)
        return {str(_meta(item).get("name")): item for item in items}

    def _snapshot(self, namespace: str, *, fresh: bool) -> Snapshot:
        cached = self._snapshots.get(namespace)
        if fresh or cached is None or time.monotonic() - cached.taken > self.snapshot_ttl:
            cached = self._snapshots[namespace] = self._fetch(namespace)
            for name, deployment in cached.deployments.items():
                self._uids[Target(namespace=namespace, name=name)] = str(
                    _meta(deployment).get("uid") or ""
                )
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
        return {target: deployment_state(snapshots[target.namespace], target) for target in targets}

    # ------------------------------------------------------------ MetricsSource

    def current(self, targets: Sequence[Target]) -> Mapping[Target, Metrics | MetricsError]:
        """CPU and memory utilization: usage / request, summed over a pod's containers, over
        the READY pods that have metrics (the HPA's convention: a starting pod's usage says
        nothing about load). When a container has no request for a resource, that
        utilization is unknown, because the HPA could not compute it either and a partial
        sum would overstate it. Latency and error rate are left to Prometheus."""
        snapshots = {ns: self._snapshot(ns, fresh=False) for ns in _namespaces(targets)}
        return {
            target: deployment_metrics(snapshots[target.namespace], target) for target in targets
        }

    def window(self, target: Target, seconds: float, now: datetime) -> Sequence[Sample]:
        """The metrics API keeps no history, so this says so rather than answer "no samples":
        a scale-down needs evidence over time, which only Prometheus provides here."""
        raise MetricsError(
            "the Kubernetes metrics API keeps no history, so a scale-down cannot be proven; "
            "configure --prometheus-url (RECONCILER_PROMETHEUS_URL) for CPU and memory history"
        )

    # ------------------------------------------------------------ Cluster: apply

    def apply(self, change: Change) -> Applied:
        """Make one change (see `writes`); the namespace's snapshot is dropped afterwards, so
        nothing read after a change predates it."""
        started = self.now()
        target = change.target
        snapshot = self._snapshots.get(target.namespace)
        cached = snapshot.deployments.get(target.name) if snapshot else None
        try:
            message, before, after = write_change(self._api, change, cached)
        finally:
            self.forget(target.namespace)
        return Applied(
            started_at=started,
            completed_at=self.now(),
            message=message,
            before=before,
            after=after,
        )

    # ------------------------------------------------------------ ClusterEvents

    def announce(self, target: Target, notice: Notice) -> None:
        """Post `notice` as an Event on the deployment (ClusterError when it cannot)."""
        uid = self._uids.get(target)
        if uid is None:
            try:
                found = self._api.get_deployment(target.namespace, target.name)
            except ApiFailure as failure:
                raise ClusterError(
                    str(failure), hint=failure.hint, service=notice.service
                ) from failure
            uid = str(_meta(found).get("uid") or "")
        post_event(self._api, target, uid, notice, self.now())

    # ------------------------------------------------------------ doctor probes

    def server_version(self) -> str:
        """The API server's version (GET /version): the cheapest proof that it answers."""
        return probes.server_version(self._api)

    def identity(self) -> str:
        """The cluster's identity, which every audit record made on it carries: the UID of its
        kube-system namespace, kept for the cluster's life (see `probes.identity`)."""
        return probes.identity(self._api)

    def access_review(self, verb: str, group: str, resource: str, namespace: str | None) -> bool:
        """Whether the reconciler's account may do `verb` on `resource` (`resource` may name a
        subresource, as in `deployments/scale`)."""
        return probes.access_review(self._api, verb, group, resource, namespace)

    def metrics_api_available(self) -> bool:
        """Whether the cluster serves metrics.k8s.io/v1beta1 (metrics-server is installed)."""
        return probes.metrics_api_available(self._api)

    def deployment_exists(self, namespace: str, name: str) -> bool:
        return probes.deployment_exists(self._api, namespace, name)


def _namespaces(targets: Iterable[Target]) -> list[str]:
    return list(dict.fromkeys(target.namespace for target in targets))
