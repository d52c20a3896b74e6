"""`reconciler status`: a row per service, from what the cluster, metrics and trail say now."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from reconciler.cli.context import Settings
from reconciler.cli.output import OUTPUT_OPTION, emit_json, percent_cell, plural, table, warn
from reconciler.cli.ports import command_ports

if TYPE_CHECKING:
    from reconciler.shell.status import FleetStatus, ServiceStatus


@click.command("status")
@OUTPUT_OPTION
@click.pass_obj
def status_command(settings: Settings, output: str) -> None:
    """A row per service: replicas, weighted utilization, last change, cooldown, breaker,
    and what is pending.

    Under the blueprints committed at HEAD, as `run` sees them. Audit records that cannot be
    read are named in a warning, and the cooldown and breaker that rest on them show as
    unknown.

    \b
    Exit codes: 0 shown (an unreachable deployment says so in its row), 2 usage,
                3 configuration (broken global policies, no simulated cluster).

    \b
    Examples:
      reconciler status
      reconciler status -o json
      reconciler --cluster kubernetes --context prod status
    """
    from reconciler.cli.compose import committed_fleet
    from reconciler.shell.status import fleet_status

    root = settings.root()
    fleet = committed_fleet(root)
    fleet.require_policies()
    status = fleet_status(command_ports(root, settings, fleet), fleet)
    if output == "json":
        emit_json(_status_json(status))
        return
    warn(status.warnings)
    _print_status(status)


def _status_json(status: FleetStatus) -> dict[str, Any]:
    return {
        "at": status.at.isoformat().replace("+00:00", "Z"),
        "cluster": {"name": status.cluster.name, "identity": status.cluster.identity},
        "skipped": [{"service": name, "reason": why} for name, why in status.skipped],
        "services": [
            *(_service_json(service) for service in status.services),
            *(
                {"service": name, "error": f"invalid blueprint {path}"}
                for name, path in status.broken
            ),
        ],
        "warnings": [w.to_json() for w in status.warnings],
    }


def _print_status(status: FleetStatus) -> None:
    """The table, then a note for each service skipped or whose numbers could mislead."""
    rows = [
        *(_service_row(service) for service in status.services),
        *(
            [name, "-", "-", "-", "-", "-", f"invalid blueprint ({path})"]
            for name, path in status.broken
        ),
    ]
    if not status.cluster.simulated:
        click.echo(f"cluster {status.cluster.describe()}")
    click.echo(
        table(
            ["SERVICE", "READY", "WEIGHTED", "LAST CHANGE", "COOLDOWN", "BREAKER", "PENDING"], rows
        )
    )
    notes = [
        *(f"{name}: not shown, {why}" for name, why in status.skipped),
        *(f"{s.blueprint.name}: {s.note}" for s in status.services if s.note),
    ]
    if notes:
        click.echo("\n" + "\n".join(f"note: {line}" for line in notes))


def _service_row(service: ServiceStatus) -> list[str]:
    from reconciler.core.blueprint.units import format_duration

    state, last = service.reachable, service.last
    cooldown = format_duration(service.cooldown_left) if service.cooldown_left else "-"
    breaker = service.breaker.describe(service.blueprint.policy.safety.circuit_breaker)
    # What rests on records that could not be read is not known: say so, not "closed".
    if service.unreadable:
        cooldown = "unknown"
        breaker = f"unknown ({plural(len(service.unreadable), 'unreadable record')})"
    return [
        service.blueprint.name,
        "unreachable" if state is None else f"{state.ready_replicas}/{state.replicas}",
        percent_cell(service.weighted),
        "-" if last is None else f"{last.operation} at {last.timestamp:%m-%d %H:%M}Z",
        cooldown,
        breaker,
        str(len(service.pending)) if service.pending else "-",
    ]


def _service_json(service: ServiceStatus) -> dict[str, Any]:
    state, blueprint = service.reachable, service.blueprint
    return {
        "service": blueprint.name,
        "replicas": None if state is None else state.replicas,
        "ready_replicas": None if state is None else state.ready_replicas,
        "weighted_utilization": service.weighted,
        "last_operation": None if service.last is None else service.last.to_json(),
        "cooldown_left_seconds": service.cooldown_left,
        "breaker": service.breaker.phase.value,
        "breaker_failures": len(service.breaker.failures),
        "pending_approvals": [r.id for r in service.pending],
        "unreadable_records": list(service.unreadable),
        "paused": service.paused_by or None,
        "mode": str(blueprint.mode),
        "note": service.note or None,
    }
