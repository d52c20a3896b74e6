"""`reconciler doctor`: can the reconciler do its job on this cluster? Each answer comes with a fix.

Why it exists: a reconciler that lacks one RBAC verb, or runs without metrics-server, fails a
cycle later with an error about one service. The doctor asks up front, once per namespace the
blueprints use, and says what to change.

Main design choice: the checks are plain functions over small probe protocols (the questions a
cluster adapter answers, and the one a metrics server answers), so they run against the fake
API server and a real Prometheus in tests and real systems in production alike, and
`REQUIRED_ACCESS` is the one list of permissions that deploy/rbac.yaml is tested against. What
stops a connection comes as a `Failure` code, and each code has its fix here: the fix never
depends on the wording of a message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from reconciler.core.blueprint.model import Blueprint, ClusterDeclaration
from reconciler.core.errors import ClusterError, ReconcilerError
from reconciler.core.observed.observation import DeploymentState, Target
from reconciler.core.observed.reachability import Failure, Reachability
from reconciler.core.planning.cycle import replica_ownership

__all__ = [
    "REQUIRED_ACCESS",
    "ClusterProbe",
    "Finding",
    "MetricsServerProbe",
    "Permission",
    "check_access",
    "check_connectivity",
    "check_deployments",
    "check_identity",
    "check_metrics_api",
    "check_prometheus",
    "check_replica_owners",
    "diagnose",
]

RBAC_DOC = "docs/running-in-production.md#rbac"


class ClusterProbe(Protocol):
    """The questions the doctor asks a cluster. Each may raise a ReconcilerError."""

    @property
    def server(self) -> str: ...

    def server_version(self) -> str: ...

    def identity(self) -> str: ...

    def access_review(
        self, verb: str, group: str, resource: str, namespace: str | None
    ) -> bool: ...

    def metrics_api_available(self) -> bool: ...

    def deployment_exists(self, namespace: str, name: str) -> bool: ...

    def observe(
        self, targets: Sequence[Target]
    ) -> Mapping[Target, DeploymentState | ClusterError]: ...


class MetricsServerProbe(Protocol):
    """The question the doctor asks Prometheus, with the settings every run uses."""

    @property
    def url(self) -> str: ...

    def settings(self) -> str:
        """How the connection is made, without secrets ("" when plainly)."""
        ...

    def check(self) -> Reachability: ...


@dataclass(frozen=True, kw_only=True)
class Permission:
    """One RBAC permission the reconciler uses, and what for."""

    verb: str
    group: str
    resource: str
    #: What the reconciler needs it for, completing "needed to ...".
    why: str
    #: Namespaced permissions are checked in every namespace the blueprints use.
    namespaced: bool = True

    @property
    def qualified(self) -> str:
        """`deployments.apps`, `pods` (core), `pods.metrics.k8s.io`: as kubectl names them."""
        return f"{self.resource}.{self.group}" if self.group else self.resource


#: Every permission the reconciler uses; deploy/rbac.yaml grants exactly these (a test checks).
REQUIRED_ACCESS: tuple[Permission, ...] = (
    Permission(verb="list", group="apps", resource="deployments", why="observe deployments"),
    Permission(
        verb="get",
        group="apps",
        resource="deployments",
        why="re-read a deployment before changing it",
    ),
    Permission(
        verb="patch",
        group="apps",
        resource="deployments",
        why="scale, restart and roll back deployments",
    ),
    Permission(verb="list", group="", resource="pods", why="read pod health and readiness"),
    Permission(
        verb="list", group="apps", resource="replicasets", why="read revisions and roll back"
    ),
    Permission(
        verb="list",
        group="autoscaling",
        resource="horizontalpodautoscalers",
        why="find the HPAs that scale a deployment",
    ),
    Permission(
        verb="get",
        group="autoscaling",
        resource="horizontalpodautoscalers",
        why="read an HPA before adjusting it",
    ),
    Permission(
        verb="patch",
        group="autoscaling",
        resource="horizontalpodautoscalers",
        why="scale through an HPA (coexistence: adjust_hpa)",
    ),
    Permission(
        verb="list", group="metrics.k8s.io", resource="pods", why="read CPU and memory usage"
    ),
    Permission(
        verb="create",
        group="",
        resource="events",
        why="show each change, refusal and rollback in `kubectl describe` (an Event)",
    ),
    Permission(
        verb="create",
        group="authorization.k8s.io",
        resource="selfsubjectaccessreviews",
        why="let `reconciler doctor` check these permissions",
        namespaced=False,
    ),
    Permission(
        verb="get",
        group="",
        resource="namespaces",
        why="read the kube-system namespace's UID, the cluster's name in the audit trail",
        namespaced=False,
    ),
)


@dataclass(frozen=True, kw_only=True)
class Finding:
    """The answer to one check: `fix` says what to do when it is not ok."""

    check: str
    ok: bool
    detail: str
    fix: str = ""

    def to_json(self) -> dict[str, object]:
        return {"check": self.check, "ok": self.ok, "detail": self.detail, "fix": self.fix}


def _ask(check: str, question: Callable[[], Finding]) -> Finding:
    """A check whose question failed outright is a finding too, not a crash."""
    try:
        return question()
    except ReconcilerError as error:
        return Finding(check=check, ok=False, detail=str(error), fix=error.hint)


def check_connectivity(probe: ClusterProbe) -> Finding:
    def ask() -> Finding:
        version = probe.server_version()
        return Finding(
            check="connectivity",
            ok=True,
            detail=f"the API server at {probe.server} answers (Kubernetes {version})",
        )

    finding = _ask("connectivity", ask)
    if finding.ok or finding.fix:
        return finding
    return Finding(
        check=finding.check,
        ok=False,
        detail=finding.detail,
        fix="check --kubeconfig and --context (`kubectl cluster-info` should work with them)",
    )


def check_identity(probe: ClusterProbe, declared: Sequence[ClusterDeclaration]) -> Finding:
    """Which cluster this is, as its records will name it, and whether the policies declare
    it (when they declare clusters, a run on any other is refused)."""

    def ask() -> Finding:
        identity = probe.identity()
        name = next((c.name for c in declared if c.identity == identity), None)
        if name is not None:
            detail = f"cluster {name} (kube-system UID {identity}), declared in the policies"
            return Finding(check="cluster identity", ok=True, detail=detail)
        if not declared:
            detail = f"kube-system UID {identity}: records made here name the cluster by it"
            return Finding(check="cluster identity", ok=True, detail=detail)
        names = ", ".join(c.name for c in declared)
        return Finding(
            check="cluster identity",
            ok=False,
            detail=f"kube-system UID {identity} is none of the declared clusters ({names}): "
            "runs here are refused",
            fix=f"point --context at a declared cluster, or declare this one in the global "
            f"policies' clusters: (name, identity: {identity})",
        )

    return _ask("cluster identity", ask)


def check_access(probe: ClusterProbe, namespaces: Iterable[str]) -> list[Finding]:
    """One finding per permission and namespace (cluster-scoped ones once)."""
    scopes: list[str | None] = [*dict.fromkeys(namespaces)]
    findings = []
    for permission in REQUIRED_ACCESS:
        for namespace in scopes if permission.namespaced else [None]:
            where = f"in namespace {namespace}" if namespace else "at the cluster scope"
            check = f"may {permission.verb} {permission.qualified} {where}"
            findings.append(_ask(check, partial(_review, probe, permission, namespace, check)))
    return findings


def _review(
    probe: ClusterProbe, permission: Permission, namespace: str | None, check: str
) -> Finding:
    allowed = probe.access_review(permission.verb, permission.group, permission.resource, namespace)
    if allowed:
        return Finding(check=check, ok=True, detail=f"allowed (needed to {permission.why})")
    group = f'"{permission.group}"' if permission.group else '"" (core)'
    bind = (
        f"bind the ClusterRole `reconciler` in namespace {namespace} (a RoleBinding)"
        if namespace
        else "apply the ClusterRoleBinding `reconciler-access-review`"
    )
    return Finding(
        check=check,
        ok=False,
        detail=f"denied: the reconciler cannot {permission.verb} {permission.qualified} "
        f"(API group {group}), needed to {permission.why}",
        fix=f"apply deploy/rbac.yaml and {bind}; see {RBAC_DOC}",
    )


def check_metrics_api(probe: ClusterProbe) -> Finding:
    def ask() -> Finding:
        if probe.metrics_api_available():
            return Finding(
                check="metrics API",
                ok=True,
                detail="metrics.k8s.io/v1beta1 is served (CPU and memory utilization)",
            )
        return Finding(
            check="metrics API",
            ok=False,
            detail="metrics.k8s.io/v1beta1 is not served: CPU and memory utilization are "
            "unknown, so the reconciler will not scale on them (and never scales down)",
            fix="install metrics-server (https://github.com/kubernetes-sigs/metrics-server), "
            "then `kubectl top pods` should work",
        )

    return _ask("metrics API", ask)


def check_deployments(probe: ClusterProbe, services: Sequence[tuple[str, Target]]) -> list[Finding]:
    """Whether the deployment each blueprint names exists."""

    def ask(service: str, target: Target) -> Finding:
        check = f"deployment {target} ({service})"
        if probe.deployment_exists(target.namespace, target.name):
            return Finding(check=check, ok=True, detail="exists")
        return Finding(
            check=check,
            ok=False,
            detail=f"deployment {target} named in the blueprint of {service} does not exist",
            fix=f"create it, or fix metadata.namespace / metadata.deployment in "
            f"blueprints/{service}/blueprint.yaml",
        )

    return [
        _ask(f"deployment {target} ({service})", partial(ask, service, target))
        for service, target in services
    ]


def check_replica_owners(probe: ClusterProbe, blueprints: Sequence[Blueprint]) -> list[Finding]:
    """Whether another controller (an HPA, Argo CD, Flux) owns a deployment's replicas in a
    way the blueprint does not say how to live with: every scale would then be refused, so
    the doctor says it before a cycle does. Said only for deployments something else
    manages; a deployment that cannot be read was reported by the checks above."""
    targets = [
        Target(namespace=b.metadata.namespace, name=b.metadata.deployment) for b in blueprints
    ]
    try:
        states = probe.observe(targets)
    except ReconcilerError:
        return []
    findings = []
    for blueprint, target in zip(blueprints, targets, strict=True):
        state = states.get(target)
        if not isinstance(state, DeploymentState) or not state.controllers:
            continue
        check = f"replicas of {target} ({blueprint.name})"
        owners = ", ".join(state.controllers)
        hpa, refusal = replica_ownership(blueprint, state)
        if refusal is None:
            how = f"through hpa/{hpa}'s minReplicas" if hpa else "directly"
            findings.append(
                Finding(
                    check=check,
                    ok=True,
                    detail=f"managed by {owners}; scaled {how} "
                    f"(coexistence: {blueprint.scaling.coexistence})",
                )
            )
            continue
        findings.append(
            Finding(
                check=check,
                ok=False,
                detail=f"managed by {owners}: every scale of {blueprint.name} will be refused",
                fix=refusal,
            )
        )
    return findings


def diagnose(
    probe: ClusterProbe,
    services: Sequence[tuple[str, Target]],
    blueprints: Sequence[Blueprint] = (),
    clusters: Sequence[ClusterDeclaration] = (),
) -> list[Finding]:
    """Every check, in the order a person would fix them. When the cluster does not answer at
    all, that is the only finding: the others would all repeat it. With the `blueprints`,
    deployments whose replicas another controller owns are checked against them too."""
    connectivity = check_connectivity(probe)
    if not connectivity.ok:
        return [connectivity]
    namespaces = [target.namespace for _, target in services]
    return [
        connectivity,
        check_identity(probe, clusters),
        *check_access(probe, namespaces),
        check_metrics_api(probe),
        *check_deployments(probe, services),
        *check_replica_owners(probe, blueprints),
    ]


_PROMETHEUS_URL = "check --prometheus-url (RECONCILER_PROMETHEUS_URL)"

#: What to do about each way a connection to Prometheus fails.
PROMETHEUS_FIXES: dict[Failure, str] = {
    Failure.SETTINGS: "check the files given to --prometheus-token-file, "
    "--prometheus-password-file, --prometheus-ca-file, --prometheus-cert-file and "
    "--prometheus-key-file: they must exist, be readable and hold what they are named for",
    Failure.PROXY: "check HTTPS_PROXY or HTTP_PROXY (the proxy must be reachable from here and "
    "accept its credentials, given as http://USER:PASSWORD@HOST:PORT), or name the "
    "Prometheus host in NO_PROXY to connect directly",
    Failure.UNREACHABLE: f"{_PROMETHEUS_URL} and that the server is reachable from where "
    "the reconciler runs",
    Failure.TIMEOUT: f"{_PROMETHEUS_URL} and that the server is reachable from here (a "
    "firewall that drops packets looks like this); if it is only slow, raise "
    "--prometheus-connect-timeout or --prometheus-timeout",
    Failure.TLS: "trust the CA that signed Prometheus' certificate with --prometheus-ca-file "
    "(RECONCILER_PROMETHEUS_CA_FILE), and use a host name in --prometheus-url that the "
    "certificate names",
    Failure.CLIENT_CERTIFICATE: "give a client certificate the server trusts with "
    "--prometheus-cert-file and --prometheus-key-file (RECONCILER_PROMETHEUS_CERT_FILE, "
    "RECONCILER_PROMETHEUS_KEY_FILE)",
    Failure.AUTH: "check the credentials: a bearer token in RECONCILER_PROMETHEUS_TOKEN or "
    "--prometheus-token-file, or basic auth with --prometheus-user and "
    "RECONCILER_PROMETHEUS_PASSWORD or --prometheus-password-file; and the tenant header "
    "a gateway may need (--prometheus-header 'X-Scope-OrgID: TENANT'). HTTP 403 means they "
    "were understood but grant no access",
    Failure.NOT_READY: "Prometheus is starting (replaying its write-ahead log): wait, then run "
    "the doctor again",
    Failure.NOT_PROMETHEUS: f"{_PROMETHEUS_URL}: it must be the URL under which "
    "/api/v1/query is served, path prefix included (for example https://HOST/prometheus "
    "for Mimir)",
}


def check_prometheus(probe: MetricsServerProbe | None) -> Finding:
    """Whether a query goes through with the settings every run uses; without a URL, an ok
    note that latency, error rate and history will be missing."""
    if probe is None:
        return Finding(
            check="prometheus",
            ok=True,
            detail="not configured: latency, error rate and metric history will be missing "
            "(decisions use CPU and memory, and never scale down without history)",
        )
    found = probe.check()
    settings = probe.settings()
    detail = f"{found.detail} ({settings})" if settings else found.detail
    if found.ok or found.failure is None:
        return Finding(check="prometheus", ok=True, detail=detail)
    return Finding(check="prometheus", ok=False, detail=detail, fix=PROMETHEUS_FIXES[found.failure])
