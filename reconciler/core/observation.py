"""What the shell observed about a service, as plain values the core can decide on.

The cluster and metrics adapters translate their sources (a Kubernetes API, Prometheus, the
simulated cluster) into these types, so the decision engine never knows where a number came
from. Every metric may be missing (`None`): missing data is a first-class input, because the
rules about it (never scale down on missing data) are part of the product.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

__all__ = [
    "STAMP_ANNOTATION",
    "ChangeStamp",
    "DeploymentState",
    "Metrics",
    "PodState",
    "Sample",
    "Target",
]


@dataclass(frozen=True, kw_only=True, order=True)
class Target:
    """A deployment the reconciler manages."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, kw_only=True)
class PodState:
    name: str
    ready: bool
    phase: str = "Running"
    restart_count: int = 0
    #: Why the pod is unhealthy, such as CrashLoopBackOff; empty when it is fine.
    reason: str = ""
    revision: int = 0


#: The annotation every change leaves on its deployment, in the same request as the change.
STAMP_ANNOTATION = "reconciler/last-change"


@dataclass(frozen=True, kw_only=True)
class ChangeStamp:
    """The note the reconciler leaves on a deployment with each change it makes.

    It travels with the change in the same request, so a run that crashed after changing the
    cluster but before recording it leaves enough behind for the next run to write the record.
    """

    operation_id: str
    decision_id: str
    operation: str
    service: str
    at: datetime
    summary: str
    before: Mapping[str, object] = field(default_factory=dict)
    after: Mapping[str, object] = field(default_factory=dict)

    def dumps(self) -> str:
        """The annotation's value: compact JSON, the same for every cluster adapter."""
        return json.dumps(
            {
                "operation_id": self.operation_id,
                "decision_id": self.decision_id,
                "operation": self.operation,
                "service": self.service,
                "at": self.at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                "summary": self.summary,
                "before": dict(self.before),
                "after": dict(self.after),
            },
            sort_keys=True,
        )

    @classmethod
    def loads(cls, text: str) -> ChangeStamp | None:
        """Parse an annotation; None when it is not ours or is damaged (nothing to recover)."""
        try:
            data = json.loads(text)
            at = datetime.fromisoformat(str(data["at"]).replace("Z", "+00:00"))
            return cls(
                operation_id=str(data["operation_id"]),
                decision_id=str(data.get("decision_id", "")),
                operation=str(data["operation"]),
                service=str(data["service"]),
                at=at if at.tzinfo else at.replace(tzinfo=UTC),
                summary=str(data.get("summary", "")),
                before=data.get("before") or {},
                after=data.get("after") or {},
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


@dataclass(frozen=True, kw_only=True)
class DeploymentState:
    """A deployment as the cluster reported it at `observed_at`."""

    target: Target
    replicas: int
    ready_replicas: int
    pods: tuple[PodState, ...] = ()
    cpu_request: int | None = None
    memory_request: int | None = None
    cpu_limit: int | None = None
    memory_limit: int | None = None
    revision: int = 1
    #: Opaque token for optimistic concurrency: a change is applied only if it still matches.
    version: str = ""
    last_change: ChangeStamp | None = None
    #: Other controllers that manage this deployment's replicas, as `kind/name`:
    #: `hpa/web`, `argocd/shop-web`, `flux/apps`. Empty when the reconciler is alone.
    controllers: tuple[str, ...] = ()
    observed_at: datetime | None = None

    @property
    def max_restarts(self) -> int:
        return max((pod.restart_count for pod in self.pods), default=0)

    @property
    def failing_pods(self) -> tuple[PodState, ...]:
        return tuple(pod for pod in self.pods if not pod.ready and pod.reason)


@dataclass(frozen=True, kw_only=True)
class Metrics:
    """Current utilization and service health. Utilizations are usage / request, as fractions,
    averaged over ready pods (the HPA convention). Any field may be unknown."""

    cpu_utilization: float | None = None
    memory_utilization: float | None = None
    latency_p95_ms: float | None = None
    error_rate: float | None = None
    throughput: float | None = None
    observed_at: datetime | None = None
    source: str = ""

    def is_empty(self) -> bool:
        return all(
            value is None
            for value in (
                self.cpu_utilization,
                self.memory_utilization,
                self.latency_p95_ms,
                self.error_rate,
            )
        )


@dataclass(frozen=True, kw_only=True)
class Sample:
    """One point of metric history, used as evidence for scale-down stabilization."""

    at: datetime
    cpu_utilization: float | None = None
    memory_utilization: float | None = None
    latency_p95_ms: float | None = None
    error_rate: float | None = None
