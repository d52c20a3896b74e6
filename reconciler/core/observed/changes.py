"""Changes the reconciler asks a cluster to make, and what the cluster reports back.

A `Change` is the whole instruction: what to set, on which deployment, on condition that the
deployment is still the version that was observed (so a change computed from stale state is
refused instead of overwriting someone else's), and the stamp to leave on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from reconciler.core.observed.observation import ChangeStamp, Target

__all__ = ["Applied", "Change", "ChangeKind"]


class ChangeKind(StrEnum):
    SCALE = "scale"
    RESOURCES = "resources"
    RESTART = "restart"
    ROLLBACK = "rollback"


@dataclass(frozen=True, kw_only=True)
class Change:
    target: Target
    kind: ChangeKind
    stamp: ChangeStamp
    expected_version: str = ""
    replicas: int | None = None
    cpu_request: int | None = None
    memory_request: int | None = None
    #: For a rollback: the revision to return to (None means the previous one).
    to_revision: int | None = None
    #: For a scale under `coexistence: adjust_hpa`: the HorizontalPodAutoscaler whose
    #: minReplicas is set (maxReplicas is raised too if it is lower) instead of replicas.
    hpa: str | None = None

    def describe(self) -> str:
        """What `kubectl` would have been asked, for people reading the audit trail."""
        where = f"deployment {self.target}"
        match self.kind:
            case ChangeKind.SCALE if self.hpa:
                return (
                    f"set minReplicas of hpa {self.target.namespace}/{self.hpa} to {self.replicas}"
                )
            case ChangeKind.SCALE:
                return f"scale {where} to {self.replicas} replicas"
            case ChangeKind.RESOURCES:
                cpu = "unchanged" if self.cpu_request is None else f"{self.cpu_request}m"
                memory = "unchanged" if self.memory_request is None else f"{self.memory_request}B"
                return f"set requests on {where} (cpu {cpu}, memory {memory})"
            case ChangeKind.RESTART:
                return f"rollout restart {where}"
            case ChangeKind.ROLLBACK:
                if self.to_revision is None:
                    return f"roll back {where} to the previous revision"
                return f"roll back {where} to revision {self.to_revision}"
        raise AssertionError(self.kind)  # pragma: no cover


@dataclass(frozen=True, kw_only=True)
class Applied:
    """The cluster's answer to a change that went through."""

    started_at: datetime
    completed_at: datetime
    message: str
    before: Mapping[str, object] = field(default_factory=dict)
    after: Mapping[str, object] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return (self.completed_at - self.started_at).total_seconds()
