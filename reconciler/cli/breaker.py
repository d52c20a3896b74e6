"""`reconciler breaker`: a service's circuit breaker, shown or reset."""

from __future__ import annotations

import click

from reconciler.cli.context import Settings, WritingCommand
from reconciler.cli.output import OUTPUT_OPTION, emit_json, table, warn
from reconciler.cli.ports import command_ports, then_push
from reconciler.cli.publishing import PUSH_OPTIONS, push_settings


@click.group("breaker")
def breaker_group() -> None:
    """Inspect or reset a service's circuit breaker.

    The breaker opens after repeated failures (by default 3 within 5 minutes) and then stops
    every change to the service except undoing the reconciler's own failed change. Closing
    it is a recorded human act.

    \b
    Exit codes: see each command; 2 usage (an unknown command or option).

    \b
    Examples:
      reconciler breaker status
      reconciler breaker reset todo-frontend --reason "fixed the crash-looping release"
    """


@breaker_group.command("reset", cls=WritingCommand)
@click.argument("service")
@click.option("--reason", required=True, help="What was investigated or fixed; recorded.")
@click.option("--by", "reset_by", help="Who resets it (default: $GITHUB_ACTOR or $USER).")
@PUSH_OPTIONS
@click.pass_obj
def breaker_reset_command(
    settings: Settings,
    service: str,
    reason: str,
    reset_by: str | None,
    push: bool,
    push_remote: str,
    push_branch: str | None,
) -> None:
    """Close SERVICE's open circuit breaker, recording who did it and why.

    A closed breaker is left alone: nothing is recorded.

    \b
    Exit codes: 0 reset (or already closed), 2 usage (for example no --reason),
                3 configuration (no blueprint for SERVICE, broken global policies),
                4 another reconciler kept writing to the repository for longer than
                  --lock-timeout (nothing was reset),
                5 the reset could not be recorded or pushed (--push).

    \b
    Examples:
      reconciler breaker reset todo-frontend --reason "rolled back the bad image"
      reconciler breaker reset todo-frontend --reason "node pool fixed" --by alice --push
    """
    from reconciler.cli.compose import Environment, committed_fleet
    from reconciler.shell.breaker import needs_reset, reset_breaker
    from reconciler.shell.recording import load_history

    root = settings.root()
    fleet = committed_fleet(root)
    fleet.require_policies()
    blueprint = fleet.get(service)
    ports = command_ports(root, settings, fleet)
    now = ports.clock.now()
    history = load_history(ports.audit, blueprint, now)
    warn([*fleet.notices, *(item.problem() for item in ports.audit.unreadable(service))])
    if not needs_reset(history):
        click.echo(f"{service}: the circuit breaker is closed; nothing to reset")
        return
    who = reset_by or Environment.read().actor
    sha = reset_breaker(blueprint, ports.audit, who, reason, now)
    click.echo(f"{service}: circuit breaker reset by {who} (commit {sha[:7]})")
    pushed = then_push(lambda: None, root, push_settings(push, push_remote, push_branch))
    if isinstance(pushed, Exception):
        raise pushed


@breaker_group.command("status")
@OUTPUT_OPTION
@click.pass_obj
def breaker_status_command(settings: Settings, output: str) -> None:
    """Each service's breaker: closed, open or half-open, with the failures that count.

    \b
    Exit codes: 0 shown, 2 usage, 3 no blueprint repository, or no simulated cluster.

    \b
    Examples:
      reconciler breaker status
      reconciler breaker status -o json
    """
    from reconciler.cli.compose import committed_fleet
    from reconciler.shell.breaker import breakers

    root = settings.root()
    fleet = committed_fleet(root)
    ports = command_ports(root, settings, fleet)
    rows, data = [], []
    for blueprint, breaker in breakers(fleet, ports):
        failures = [f"{at:%H:%M:%S} {why}" for at, _id, why in breaker.failures]
        rows.append(
            [
                blueprint.name,
                breaker.phase.value,
                str(len(failures)),
                "; ".join(failures)[:80] or "-",
            ]
        )
        data.append(
            {
                "service": blueprint.name,
                "phase": breaker.phase.value,
                "opened_at": breaker.opened_at,
                "failures": [
                    {"at": at, "record": rid, "reason": why} for at, rid, why in breaker.failures
                ],
            }
        )
    warnings = [*fleet.notices, *(item.problem() for item in ports.audit.unreadable())]
    if output == "json":
        emit_json({"services": data, "warnings": [w.to_json() for w in warnings]})
    else:
        warn(warnings)
        click.echo(table(["SERVICE", "BREAKER", "FAILURES", "RECENT"], rows))
