"""What the shell observed about a service, as plain values the core can decide on.

The cluster and metrics adapters translate their sources (a Kubernetes API, Prometheus, the
simulated cluster) into these types, so the decision engine never knows where a number came
from. Every metric may be missing (`None`): missing data is a first-class input, because the
rules about it (never scale down on missing data) are part of the product. Why a value is
missing travels with it (`Metrics.warnings`), so a gap is reported rather than only obeyed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from reconciler.core.ids import parse_utc

__all__ = [
    "PAUSE_ANNOTATION",
    "STAMP_ANNOTATION",
    "ChangeStamp",
    "DeploymentState",
    "Metrics",
    "PodState",
    "Sample",
    "Target",
    "pause_value",
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
#: The annotation that pauses the reconciler for one deployment (`kubectl annotate`): any
#: value but `false` (or empty) pauses, and a value other than `true` is shown as the reason.
PAUSE_ANNOTATION = "reconciler/paused"


def pause_value(annotations: Mapping[str, str]) -> str:
    """The pause annotation's value when it pauses, else ""."""
    value = str(annotations.get(PAUSE_ANNOTATION, "")).strip()
    return "" if value.lower() in {"", "false"} else value


@dataclass(frozen=True, kw_only=True)
class ChangeStamp:
    """The note the reconciler leaves on a deployment with each change it makes.

    It travels with the change in the same request, so a run that crashed after changing the
    cluster but before recording it leaves enough behind for the next run to write the record
    and to treat the change as any recorded one: the ids that chain it to its decision,
    verdict and approval, the request, and the baseline its verification compares against.
    It lives in an annotation (256 KiB at most in Kubernetes), so it stays small: a few hundred
    bytes, with long free text cut short and empty fields left out. Stamps written before
    these fields existed still read, with the fields empty.
    """

    operation_id: str
    decision_id: str
    operation: str
    service: str
    at: datetime
    summary: str
    before: Mapping[str, object] = field(default_factory=dict)
    after: Mapping[str, object] = field(default_factory=dict)
    governance_id: str = ""
    #: The approval that authorised the change, when one did.
    approval_id: str = ""
    #: For a rollback: the operation it undoes.
    reverts: str = ""
    #: The verdict's tier (allowed, restricted).
    classification: str = ""
    #: The governed request: origin, replicas, parameters, requested_by, reason.
    request: Mapping[str, object] = field(default_factory=dict)
    #: The service just before the change, and what the decision expected after it.
    baseline: Mapping[str, object] = field(default_factory=dict)
    expected: Mapping[str, object] = field(default_factory=dict)
    #: Why the change was made, when its decision record is what a crash loses.
    why: str = ""
    #: Who approved it, as the approval's record says (reference, merged_by).
    authorized_by: Mapping[str, object] = field(default_factory=dict)

    def dumps(self) -> str:
        """The annotation's value: compact JSON, the same for every cluster adapter."""
        data: dict[str, object] = {
            "operation_id": self.operation_id,
            "decision_id": self.decision_id,
            "operation": self.operation,
            "service": self.service,
            "at": self.at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "summary": self.summary,
            "before": dict(self.before),
            "after": dict(self.after),
        }
        for key in _OPTIONAL:
            value = getattr(self, key)
            if value:
                data[key] = dict(value) if isinstance(value, Mapping) else value
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def loads(cls, text: str) -> ChangeStamp | None:
        """Parse an annotation; None when it is not ours or is damaged (nothing to recover)."""
        try:
            data = json.loads(text)
            at = parse_utc(data["at"])
            return cls(
                operation_id=str(data["operation_id"]),
                decision_id=str(data.get("decision_id", "")),
                operation=str(data["operation"]),
                service=str(data["service"]),
                at=at if at.tzinfo else at.replace(tzinfo=UTC),
                summary=str(data.get("summary", "")),
                before=data.get("before") or {},
                after=data.get("after") or {},
                governance_id=str(data.get("governance_id") or ""),
                approval_id=str(data.get("approval_id") or ""),
                reverts=str(data.get("reverts") or ""),
                classification=str(data.get("classification") or ""),
                request=_mapping(data.get("request")),
                baseline=_mapping(data.get("baseline")),
                expected=_mapping(data.get("expected")),
                why=str(data.get("why") or ""),
                authorized_by=_mapping(data.get("authorized_by")),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


#: Fields newer stamps carry and older ones lack; written only when set.
_OPTIONAL = (
    "governance_id",
    "approval_id",
    "reverts",
    "classification",
    "request",
    "baseline",
    "expected",
    "why",
    "authorized_by",
)


def _mapping(value: object) -> dict[str, object]:
    """A JSON object from a stamp, or nothing: a damaged field must not lose the whole stamp."""
    return dict(value) if isinstance(value, dict) else {}


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
    #: The value of the deployment's `reconciler/paused` annotation when it pauses it.
    paused: str = ""
    #: metadata.generation and status.observedGeneration, where the cluster has them: the
    #: controller has acted on the latest spec once the second reaches the first.
    generation: int | None = None
    observed_generation: int | None = None

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
    #: What a source could not tell for this service, and why: a source that failed while
    #: another answered, or a value that came back NaN or with no series. The unknown values
    #: above already keep decisions safe; these say why they are unknown, so the service's
    #: result can show it. Never an input to a decision.
    warnings: tuple[str, ...] = ()

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
