"""A service's circuit breaker as people see and reset it: its state from the trail, and a
reset recorded with who did it and why."""

from __future__ import annotations

from datetime import datetime

from reconciler.core.blueprint.model import Blueprint
from reconciler.core.planning.events import breaker_reset_record
from reconciler.core.planning.subjects import breaker_reset_subject
from reconciler.core.trail.history import BreakerPhase, BreakerState, ServiceHistory
from reconciler.ports import AuditStore
from reconciler.shell.ports import Ports
from reconciler.shell.recording import commit_records, load_history
from reconciler.shell.workspace import Fleet

__all__ = ["breakers", "needs_reset", "reset_breaker"]


def needs_reset(history: ServiceHistory) -> bool:
    """Whether the breaker is open, half-open, or about to open: a closed one is left alone."""
    return history.breaker.phase is not BreakerPhase.CLOSED or history.breaker.should_open


def reset_breaker(
    blueprint: Blueprint, audit: AuditStore, who: str, reason: str, now: datetime
) -> str:
    """Close the service's breaker with a record of who did it and why; returns the commit."""
    service = blueprint.name
    record = breaker_reset_record(service, blueprint, who, reason, now)
    return commit_records(audit, breaker_reset_subject(service, who, reason), [record])


def breakers(fleet: Fleet, ports: Ports) -> list[tuple[Blueprint, BreakerState]]:
    """Each service's breaker now, as its trail says."""
    now = ports.clock.now()
    return [
        (blueprint, load_history(ports.audit, blueprint, now).breaker)
        for blueprint in fleet.blueprints
    ]
