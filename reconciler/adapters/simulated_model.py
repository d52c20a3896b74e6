"""The simulated cluster's deployments and pods, and the load model that gives them metrics.

Load model, per deployment (totals across ready pods):

- CPU utilization = cpu used / (ready pods × cpu request); memory likewise.
- Queueing: ρ = requests per second / (ready pods × capacity per pod);
  p95 latency = base latency / (1 - min(ρ, 0.98)).
- Errors: base error rate, plus 25 % of the overload beyond ρ = 0.85.

So fewer pods mean higher utilization, latency and errors, which is what lets a scale-down be
harmful and a verification catch it. A change is performed here the way Kubernetes would: only
a changed pod template starts a rollout, and a rollout replaces every pod.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from reconciler.core.errors import ClusterError
from reconciler.core.observed.changes import Change, ChangeKind
from reconciler.core.observed.observation import (
    STAMP_ANNOTATION,
    ChangeStamp,
    DeploymentState,
    PodState,
    Target,
    pause_value,
)

__all__ = ["MAX_PODS", "MAX_SAMPLES", "SimDeployment", "SimPod", "template"]

#: The most pods one simulated deployment runs: the simulation keeps every pod, and it is for
#: demos and tests. A change asking for more is refused as that deployment's error.
MAX_PODS = 1000
#: The most metric samples kept per deployment (history_kept / sample_interval).
MAX_SAMPLES = 10_000

QUEUE_CAP = 0.98
ERROR_KNEE = 0.85
ERROR_SLOPE = 0.25

CRASH_PERIOD = 30.0


@dataclass
class SimPod:
    name: str
    started: datetime
    ready_at: datetime | None  # None: never becomes ready
    restarts: int = 0
    crashing: bool = False
    revision: int = 1
    #: When the pod started crash-looping; its restart count grows from then on.
    crash_since: datetime | None = None

    def ready(self, now: datetime) -> bool:
        return not self.crashing and self.ready_at is not None and self.ready_at <= now

    def restart_count(self, now: datetime) -> int:
        if not self.crashing or self.crash_since is None:
            return self.restarts
        return self.restarts + int((now - self.crash_since).total_seconds() // CRASH_PERIOD)


@dataclass
class SimDeployment:
    """One simulated deployment and its load. Mutable: it is the simulation's own state."""

    namespace: str
    name: str
    replicas: int
    cpu_request: int = 100
    memory_request: int = 512 * 1024**2
    cpu_limit: int | None = None
    memory_limit: int | None = None
    startup: float = 45.0
    revision: int = 1
    version: int = 1
    pods: list[SimPod] = field(default_factory=list)
    # Load (totals across ready pods).
    cpu_used: float = 100.0  # millicores
    memory_used: float = 512.0 * 1024**2  # bytes
    rps: float = 100.0
    capacity: float = 100.0
    base_latency_ms: float = 50.0
    base_error_rate: float = 0.002
    faults: dict[str, bool] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    revisions: dict[int, dict[str, Any]] = field(default_factory=dict)
    pod_counter: int = 0

    @property
    def bad(self) -> bool:
        """Whether the current revision's pods crash (a broken release)."""
        return bool(self.revisions.get(self.revision, {}).get("bad", False))

    @property
    def target(self) -> Target:
        return Target(namespace=self.namespace, name=self.name)

    def ready_pods(self, now: datetime) -> int:
        return sum(1 for pod in self.pods if pod.ready(now))

    def metrics_at(self, now: datetime) -> dict[str, float | None]:
        ready = self.ready_pods(now)
        if ready == 0:
            return {
                "cpu": None,
                "memory": None,
                "latency": None,
                "errors": None,
                "throughput": None,
            }
        rho = self.rps / (ready * self.capacity) if self.capacity > 0 else QUEUE_CAP
        latency = self.base_latency_ms / (1 - min(rho, QUEUE_CAP))
        errors = min(1.0, self.base_error_rate + max(0.0, rho - ERROR_KNEE) * ERROR_SLOPE)
        return {
            "cpu": self.cpu_used / (ready * self.cpu_request),
            "memory": self.memory_used / (ready * self.memory_request),
            "latency": latency,
            "errors": errors,
            "throughput": min(self.rps, ready * self.capacity),
        }

    def add_pods(self, count: int, now: datetime) -> None:
        never = self.faults.get("pods_never_ready", False)
        bad = self.bad
        for _ in range(count):
            self.pod_counter += 1
            ready_at = None if never else now + timedelta(seconds=self.startup)
            self.pods.append(
                SimPod(
                    name=f"{self.name}-{self.revision}-{self.pod_counter:04d}",
                    started=now,
                    ready_at=ready_at,
                    revision=self.revision,
                    crashing=bad,
                    crash_since=now if bad else None,
                )
            )

    def new_revision(self, now: datetime, *, bad: bool = False) -> None:
        """A rollout: a new pod template revision, and every pod replaced."""
        self.revisions.setdefault(self.revision, template(self))
        self.revision = max(self.revisions) + 1
        self.revisions[self.revision] = {**template(self), "bad": bad}
        self.roll_pods(now)

    def remove_pods(self, count: int, now: datetime) -> None:
        # Like the ReplicaSet controller: not-ready pods go first, then the youngest.
        order = sorted(self.pods, key=lambda p: (p.ready(now), -p.started.timestamp()))
        doomed = {id(pod) for pod in order[:count]}
        self.pods = [pod for pod in self.pods if id(pod) not in doomed]

    def roll_pods(self, now: datetime) -> None:
        """Replace every pod, as a rollout does (new pods need their start-up time)."""
        count = self.replicas
        self.pods = []
        self.add_pods(count, now)

    def state(self, now: datetime) -> DeploymentState:
        """The deployment as the Cluster port reports it at `now`."""
        stamp = self.annotations.get(STAMP_ANNOTATION)
        return DeploymentState(
            target=self.target,
            replicas=self.replicas,
            ready_replicas=self.ready_pods(now),
            pods=tuple(
                PodState(
                    name=pod.name,
                    ready=pod.ready(now),
                    phase="Running" if pod.ready_at and pod.ready_at <= now else "Pending",
                    restart_count=pod.restart_count(now),
                    reason="CrashLoopBackOff" if pod.crashing else "",
                    revision=pod.revision,
                )
                for pod in self.pods
            ),
            cpu_request=self.cpu_request,
            memory_request=self.memory_request,
            cpu_limit=self.cpu_limit,
            memory_limit=self.memory_limit,
            revision=self.revision,
            version=str(self.version),
            last_change=ChangeStamp.loads(stamp) if stamp else None,
            observed_at=now,
            paused=pause_value(self.annotations),
        )

    def perform(self, change: Change, now: datetime) -> str:
        """Carry out a change on this deployment, as its controller would; what it says."""
        match change.kind:
            case ChangeKind.SCALE:
                assert change.replicas is not None
                if change.replicas > self.replicas:
                    self.add_pods(change.replicas - self.replicas, now)
                else:
                    self.remove_pods(self.replicas - change.replicas, now)
                self.replicas = change.replicas
                return f"deployment.apps/{self.name} scaled"
            case ChangeKind.RESTART:
                self.new_revision(now, bad=self.bad)
                return f"deployment.apps/{self.name} restarted"
            case ChangeKind.ROLLBACK:
                self.revisions.setdefault(self.revision, template(self))
                earlier = sorted(r for r in self.revisions if r < self.revision)
                wanted = change.to_revision or (earlier[-1] if earlier else None)
                if wanted is None or wanted not in self.revisions:
                    raise ClusterError(
                        f"deployment {change.target} has no earlier revision to roll back to",
                        service=change.stamp.service,
                    )
                kept = self.revisions.pop(wanted)
                self.cpu_request = kept["cpu_request"]
                self.memory_request = kept["memory_request"]
                self.revision = max([*self.revisions, wanted]) + 1
                self.revisions[self.revision] = kept
                self.roll_pods(now)
                return f"deployment.apps/{self.name} rolled back"
            case ChangeKind.RESOURCES:
                cpu = self.cpu_request if change.cpu_request is None else change.cpu_request
                memory = (
                    self.memory_request if change.memory_request is None else change.memory_request
                )
                if (cpu, memory) != (self.cpu_request, self.memory_request):
                    # As on Kubernetes, only a changed pod template starts a rollout.
                    self.cpu_request, self.memory_request = cpu, memory
                    self.new_revision(now, bad=self.bad)
                return f"deployment.apps/{self.name} resource requirements updated"
        raise AssertionError(change.kind)  # pragma: no cover


def template(d: SimDeployment) -> dict[str, Any]:
    """The deployment's pod template as a revision keeps it: requests, and whether it is bad."""
    current = d.revisions.get(d.revision, {})
    return {
        "cpu_request": d.cpu_request,
        "memory_request": d.memory_request,
        "bad": bool(current.get("bad", False)),
    }
