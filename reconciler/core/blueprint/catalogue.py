"""The catalogue of operations that governance rules can name.

Blueprints classify operations by name, so the names must come from one documented list: a
typo in `forbidden_operations` would otherwise forbid nothing. The global policies file may add
names for operations specific to a fleet (for example `modify_database_connections`).

Each entry says whether the operation changes the cluster (only those count toward rate limits
and are stopped by an open circuit breaker), whether this reconciler can carry it out itself,
its risk, and the safer alternatives to offer when it is forbidden.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "CATALOGUE",
    "ROLLBACK_OWN_CHANGE",
    "Alternative",
    "Operation",
    "Risk",
    "suggest",
]


class Risk(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


@dataclass(frozen=True, kw_only=True)
class Alternative:
    """A safer operation to offer instead of a forbidden one; governance classifies it too."""

    operation: str
    description: str
    replicas: int | None = None


@dataclass(frozen=True, kw_only=True)
class Operation:
    name: str
    summary: str
    mutating: bool = True
    executable: bool = False
    risk: Risk = Risk.MEDIUM
    alternatives: tuple[Alternative, ...] = ()
    #: True only for undoing the reconciler's own change: a safety mechanism that is allowed
    #: unless a policy names it explicitly.
    allowed_when_unlisted: bool = False
    custom: bool = False
    kinds: tuple[str, ...] = field(default=())


ROLLBACK_OWN_CHANGE = "rollback_own_change"

_SCALE_TO_ZERO = Alternative(
    operation="scale_beyond_limits",
    description="scale to 0 replicas: stops the service but keeps the deployment to bring back",
    replicas=0,
)
_RESTART = Alternative(
    operation="restart_failed_pods",
    description="restart the pods (rollout restart) when the goal is troubleshooting",
)
_ROLLBACK = Alternative(
    operation="rollback_deployment",
    description="roll back to the previous revision when a release is at fault",
)

_ENTRIES = (
    Operation(
        name="scale_within_limits",
        summary="change replicas within spec.scaling min_replicas..max_replicas",
        executable=True,
        risk=Risk.LOW,
    ),
    Operation(
        name="scale_beyond_limits",
        summary="change replicas outside min_replicas..max_replicas (widens the blueprint)",
        executable=True,
        risk=Risk.MEDIUM,
    ),
    Operation(
        name="restart_failed_pods",
        summary="restart the deployment's pods when some have restarted (rollout restart)",
        executable=True,
        risk=Risk.LOW,
    ),
    Operation(
        name="rollback_deployment",
        summary="roll the deployment back to its previous revision",
        executable=True,
        risk=Risk.LOW,
    ),
    Operation(
        name=ROLLBACK_OWN_CHANGE,
        summary="undo a change this reconciler made that failed verification",
        executable=True,
        risk=Risk.LOW,
        allowed_when_unlisted=True,
    ),
    Operation(
        name="adjust_resources_within_10_percent",
        summary="change CPU or memory requests by at most 10 %",
        executable=True,
        risk=Risk.LOW,
    ),
    Operation(
        name="change_resource_limits_beyond_10_percent",
        summary="change CPU or memory requests or limits by more than 10 %",
        executable=True,
        risk=Risk.MEDIUM,
    ),
    Operation(
        name="modify_deployment_strategy", summary="change strategy, maxSurge or maxUnavailable"
    ),
    Operation(name="change_health_checks", summary="change readiness or liveness probes"),
    Operation(name="modify_configmaps", summary="change a ConfigMap the service reads"),
    Operation(name="create_new_resources", summary="create deployments, services or other objects"),
    Operation(name="change_image", summary="deploy a different container image", risk=Risk.HIGH),
    Operation(
        name="delete_resources",
        summary="delete objects other than those named below",
        risk=Risk.HIGH,
    ),
    Operation(
        name="delete_deployment",
        summary="delete the deployment: a complete outage of the service",
        risk=Risk.CRITICAL,
        alternatives=(_SCALE_TO_ZERO, _RESTART, _ROLLBACK),
    ),
    Operation(
        name="delete_service",
        summary="delete the Service object: the service becomes unreachable",
        risk=Risk.CRITICAL,
        alternatives=(_SCALE_TO_ZERO,),
    ),
    Operation(
        name="delete_persistent_volumes",
        summary="delete persistent volumes: data loss",
        risk=Risk.CRITICAL,
        alternatives=(
            Alternative(
                operation="create_new_resources",
                description="take a backup (a snapshot) first, then delete by hand",
            ),
        ),
    ),
    Operation(name="modify_secrets", summary="change Secrets", risk=Risk.CRITICAL),
    Operation(name="change_network_policies", summary="change NetworkPolicies", risk=Risk.CRITICAL),
    Operation(
        name="modify_rbac",
        summary="change Roles, RoleBindings or ServiceAccounts",
        risk=Risk.CRITICAL,
    ),
    Operation(
        name="modify_namespaces", summary="create, change or delete namespaces", risk=Risk.CRITICAL
    ),
    Operation(
        name="modify_cluster_resources",
        summary="change cluster-scoped objects (nodes, CRDs, storage classes)",
        risk=Risk.CRITICAL,
    ),
    Operation(
        name="modify_database_schema", summary="change a database schema", risk=Risk.CRITICAL
    ),
    Operation(
        name="modify_security_context",
        summary="change a pod's security context",
        risk=Risk.CRITICAL,
    ),
    Operation(name="view_logs", summary="read pod logs", mutating=False, risk=Risk.LOW),
    Operation(name="view_metrics", summary="read metrics", mutating=False, risk=Risk.LOW),
    Operation(name="view_events", summary="read events", mutating=False, risk=Risk.LOW),
)

#: The built-in catalogue, by name. Global policies may extend it (see `with_custom`).
CATALOGUE: Mapping[str, Operation] = {entry.name: entry for entry in _ENTRIES}


def with_custom(custom: Mapping[str, str]) -> Mapping[str, Operation]:
    """The built-in catalogue plus fleet-specific operations the global policies declare."""
    merged = dict(CATALOGUE)
    for name, summary in custom.items():
        merged.setdefault(name, Operation(name=name, summary=summary, custom=True))
    return merged


def suggest(name: str, names: Mapping[str, Operation] | None = None) -> str | None:
    """The closest catalogue name to a misspelt one, or None."""
    import difflib  # only for a misspelt name: not at every start-up

    close = difflib.get_close_matches(name, list(names or CATALOGUE), n=1, cutoff=0.6)
    return close[0] if close else None
