"""`run --wait`: staying until the run's changes are verified, or rolled back, or time runs out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from reconciler.core.decide.verification import pending_verifications, rollback_work
from reconciler.shell.cycle import run_cycle
from reconciler.shell.ports import Ports
from reconciler.shell.recording import load_history
from reconciler.shell.reports import CycleReport
from reconciler.shell.service import CycleOptions
from reconciler.shell.workspace import Fleet

#: A rollback the cluster refused is retried after this long when waiting (--wait).
ROLLBACK_RETRY_DELAY = 30.0
#: How often --wait looks again at a due verification that waits for starting pods.
SETTLE_POLL = 10.0


def next_due(fleet: Fleet, ports: Ports, services: Sequence[str] = ()) -> datetime | None:
    """When the next verification (or rollback retry) of the selected services is due."""
    now = ports.clock.now()
    due: list[datetime] = []
    for blueprint in fleet.blueprints:
        if services and blueprint.name not in services:
            continue
        try:
            history = load_history(ports.audit, blueprint, now)
        except Exception:  # the cycle reported it as the service's error; nothing to wait for
            continue
        if ports.audit.unreadable(blueprint.name):
            continue  # nothing is verified for it until its trail reads: waiting would not help
        # A verification already due waits for starting pods (still_starting): look again
        # shortly rather than at once, or the wait would spin.
        due += [
            max(item.due, now + timedelta(seconds=SETTLE_POLL))
            for item in pending_verifications(history, blueprint)
        ]
        work = rollback_work(history, blueprint)
        if work.escalations:
            due.append(now)
        elif work.rollbacks:
            due.append(now + timedelta(seconds=ROLLBACK_RETRY_DELAY))
    return min(due, default=None)


def wait_and_verify(
    fleet: Fleet, ports: Ports, options: CycleOptions, timeout: float
) -> tuple[list[CycleReport], str]:
    """Stay until the changes of this run are verified (and any rollback too), or time runs
    out. Each pass only verifies and rolls back; it decides nothing new."""
    reports: list[CycleReport] = []
    deadline = ports.clock.now() + timedelta(seconds=timeout)
    verify = replace(options, verify_only=True, progress=None)
    while True:
        due = next_due(fleet, ports, options.services)
        if due is None:
            return reports, "nothing left to verify or roll back"
        if due > deadline:
            return reports, f"the next verification is due at {due:%H:%M:%S}Z, after --wait-timeout"
        now = ports.clock.now()
        if due > now:
            ports.clock.sleep((due - now).total_seconds())
        reports.append(run_cycle(fleet, ports, verify))
        if reports[-1].trail_halt is not None:
            return reports, "the audit trail cannot be written"
