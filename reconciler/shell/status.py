"""What `reconciler status` concludes about each service: its replicas and utilization, the last
change, cooldown and breaker, what waits for a person, and a note where a number misleads.

It reads the cluster, the metrics and the trail through the ports and decides nothing new: the
note is what a cycle would say now, for what an operator would otherwise misread.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from reconciler.core.approvals.lifecycle import APPROVAL_EVENTS
from reconciler.core.approvals.pending import pending_proposals
from reconciler.core.blueprint.model import Blueprint
from reconciler.core.blueprint.units import format_percent
from reconciler.core.decide.decision import Reason, decide, weighted_utilization
from reconciler.core.errors import ClusterError, MetricsError
from reconciler.core.observed.observation import DeploymentState, Metrics, Target
from reconciler.core.planning.cycle import pause_reason
from reconciler.core.problems import Problem
from reconciler.core.trail.bodies import ApprovalBody, body_of
from reconciler.core.trail.clusters import ClusterRef, skip_reason
from reconciler.core.trail.history import CHANGE_EVENTS, BreakerState, ServiceHistory
from reconciler.core.trail.records import EventType, Record
from reconciler.shell.ports import Ports
from reconciler.shell.recording import load_history
from reconciler.shell.workspace import Fleet

__all__ = ["FleetStatus", "ServiceStatus", "fleet_status"]


@dataclass(frozen=True, kw_only=True)
class ServiceStatus:
    """One service as status sees it now."""

    blueprint: Blueprint
    #: None when the cluster said nothing of the deployment; an error when it could not answer.
    state: DeploymentState | ClusterError | None
    weighted: float | None
    #: The last change recorded, or None.
    last: Record | None
    cooldown_left: float
    breaker: BreakerState
    #: Proposals still open, and requests recorded as pending without a proposal.
    pending: tuple[Record, ...]
    #: The trail's records of this service that could not be read: what rests on them (the
    #: cooldown, the breaker) is not known.
    unreadable: tuple[str, ...]
    #: What pauses the service, or "".
    paused_by: str
    #: Why the numbers alone would mislead (paused, observe mode, errors that are not
    #: capacity), or "".
    note: str

    @property
    def reachable(self) -> DeploymentState | None:
        return self.state if isinstance(self.state, DeploymentState) else None


@dataclass(frozen=True, kw_only=True)
class FleetStatus:
    at: datetime
    services: tuple[ServiceStatus, ...]
    #: Services whose blueprint does not load: name and file.
    broken: tuple[tuple[str, str], ...]
    warnings: tuple[Problem, ...]
    #: The cluster status looked at, and the services it left out as another cluster's,
    #: each with why.
    cluster: ClusterRef
    skipped: tuple[tuple[str, str], ...]


def fleet_status(ports: Ports, fleet: Fleet) -> FleetStatus:
    """Every service of `fleet` as the cluster, the metrics and the trail show it now."""
    now = ports.clock.now()
    skipped = tuple((b.name, why) for b in fleet.blueprints if (why := skip_reason(b, ports.where)))
    shown = [b for b in fleet.blueprints if skip_reason(b, ports.where) is None]
    targets = [Target(namespace=b.metadata.namespace, name=b.metadata.deployment) for b in shown]
    observed = ports.cluster.observe(targets)
    metrics = ports.metrics.current(targets)
    services = tuple(
        _service_status(ports, blueprint, observed.get(target), metrics.get(target), now)
        for blueprint, target in zip(shown, targets, strict=True)
    )
    return FleetStatus(
        at=now,
        services=services,
        broken=tuple(sorted(fleet.broken.items())),
        warnings=(*fleet.notices, *(item.problem() for item in ports.audit.unreadable())),
        cluster=ports.where,
        skipped=skipped,
    )


def _service_status(
    ports: Ports,
    blueprint: Blueprint,
    state: DeploymentState | ClusterError | None,
    current: Metrics | MetricsError | None,
    now: datetime,
) -> ServiceStatus:
    history = load_history(ports.audit, blueprint, now)
    cooldown_left = 0.0
    if history.last_change_at is not None:
        elapsed = (now - history.last_change_at).total_seconds()
        cooldown_left = max(0.0, blueprint.policy.safety.cooldown - elapsed)
    reachable = state if isinstance(state, DeploymentState) else None
    paused_by = pause_reason(blueprint, reachable)
    weighted = None
    if current is not None and not isinstance(current, MetricsError):
        weighted = weighted_utilization(blueprint, current).value
    return ServiceStatus(
        blueprint=blueprint,
        state=state,
        weighted=weighted,
        last=history.last(*CHANGE_EVENTS),
        cooldown_left=cooldown_left,
        breaker=history.breaker,
        pending=_pending(ports, blueprint, history),
        unreadable=tuple(item.path for item in ports.audit.unreadable(blueprint.name)),
        paused_by=paused_by,
        note=_note(blueprint, reachable, current, paused_by, now),
    )


def _pending(ports: Ports, blueprint: Blueprint, history: ServiceHistory) -> tuple[Record, ...]:
    """Proposals still open, however old; plus requests recorded as pending without a
    proposal (no forge), which nothing concludes, from the recent history."""
    open_proposals = pending_proposals(ports.audit.events(blueprint.name, APPROVAL_EVENTS))
    return (
        *(item.record for item in open_proposals),
        *(
            r
            for r in history.records
            if r.event_type is EventType.APPROVAL_REQUESTED and not body_of(r, ApprovalBody).key
        ),
    )


def _note(
    blueprint: Blueprint,
    state: DeploymentState | None,
    current: Metrics | MetricsError | None,
    paused_by: str,
    now: datetime,
) -> str:
    """Why the row's numbers alone would mislead, or ""."""
    if paused_by:
        return f"paused by {paused_by}: observed only, nothing is changed or proposed"
    if blueprint.observed_by:
        return (
            f"observe mode ({blueprint.observed_by}): what it would do is recorded, "
            "nothing is changed or proposed (`reconciler report`)"
        )
    if current is None or isinstance(current, MetricsError) or state is None:
        return ""
    # What a cycle would say now, for what an operator would otherwise misread.
    if decide(blueprint, state, current, now=now).reason is Reason.ERRORS_NOT_CAPACITY:
        return (
            f"error rate {_percent(current.error_rate)} is above error_rate_max "
            f"{_percent(blueprint.performance.error_rate_max)} with normal utilization: "
            "not a capacity signal, so replicas are left as they are"
        )
    return ""


def _percent(value: float | None) -> str:
    return "-" if value is None else format_percent(value)
