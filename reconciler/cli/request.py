"""`reconciler request`: a person asks for one operation, governed like a decision."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler.cli.context import Settings, WritingCommand
from reconciler.cli.output import OUTPUT_OPTION, emit_json, warn
from reconciler.cli.outputs import OUTPUTS_OPTION
from reconciler.cli.ports import (
    command_ports,
    outputs_written,
    pushing_manifests,
    recording_outputs,
    then_push,
)
from reconciler.cli.publishing import PUSH_OPTIONS, push_settings
from reconciler.core.bounds import REPLICAS_MAX

if TYPE_CHECKING:
    from reconciler.core.errors import ReconcilerError
    from reconciler.shell.ports import Ports
    from reconciler.shell.requests import Prepared, RequestDone


def _resource_parameters(cpu: str | None, memory: str | None) -> dict[str, object]:
    """--cpu/--memory as the millicores and bytes a resource change carries."""
    from reconciler.core.blueprint.units import UnitError, parse_cpu, parse_memory

    parameters: dict[str, object] = {}
    for option, raw, key, parse in (
        ("--cpu", cpu, "cpu_request", parse_cpu),
        ("--memory", memory, "memory_request", parse_memory),
    ):
        if raw is None:
            continue
        try:
            parameters[key] = parse(raw)
        except UnitError as error:
            raise click.BadParameter(f"{error} ({error.hint})", param_hint=option) from None
    return parameters


#: The help of the command below (as its docstring it would make the function too long).
_REQUEST_HELP = """\
Ask for an operation on SERVICE; it goes through the same governance as a decision.

Allowed operations are executed and recorded; those that need approval are recorded as
pending; forbidden ones are refused, recorded, and answered with safer alternatives.
OPERATION is a name from the catalogue (docs/governance.md). Two kinds are named by what
they change, whatever name is used, because governance classifies the name:

\b
  scale --replicas N        scale_within_limits inside the blueprint's bounds,
                            scale_beyond_limits outside them
  resources --cpu/--memory  adjust_resources_within_10_percent when no request moves
                            more than 10 %, else change_resource_limits_beyond_10_percent

--replicas, --cpu and --memory belong only to those; a request that does not fit its
operation (or changes nothing) is a usage error and is not recorded, and so is one out of
bounds: replicas above the fleet's ceiling (limits.max_replicas, at most 2147483647), CPU
above 100000 cores, memory above 1024Ti. It is governed under the blueprints committed
at HEAD, never uncommitted edits. An OPERATION the
catalogue does not know is refused and recorded like a forbidden one, naming the closest
catalogue name when there is one.

\b
Exit codes: 0 executed, or proposed (or recorded as pending) for approval; for a
              service in observe mode, recorded as what would have been executed or
              proposed,
            1 refused (blocked or deferred), failed, or held (the blueprint waits for
              an approval to be judged, or an audit record of SERVICE cannot be read),
            2 usage (a request that does not fit its operation or changes nothing, or
              a --replicas, --cpu or --memory that does not parse or is out of
              bounds),
            3 configuration (no blueprint for SERVICE, broken global policies, no
              simulated cluster),
            4 the cluster or the forge is unavailable or refused, or another
              reconciler kept writing to the repository for longer than
              --lock-timeout (nothing was requested),
            5 the records could not be stored or pushed (--push).

\b
Examples:
  reconciler request todo-frontend scale --replicas 4 --reason "launch traffic"
  reconciler request todo-frontend resources --cpu 275m --reason "steady 95 % cpu"
  reconciler request todo-frontend delete_deployment --reason "cleanup"
"""


@click.command("request", cls=WritingCommand, help=_REQUEST_HELP)
@click.argument("service")
@click.argument("operation")
@click.option(
    "--replicas",
    type=click.IntRange(min=0, max=REPLICAS_MAX),
    help="Target replicas, for scale operations (at most the fleet's ceiling, "
    "limits.max_replicas in the global policies).",
)
@click.option(
    "--cpu",
    metavar="QUANTITY",
    help="The pod's new total CPU request, for resource operations (250m, 1); each container "
    "keeps its share of it.",
)
@click.option(
    "--memory",
    metavar="QUANTITY",
    help="The pod's new total memory request, for resource operations (512Mi, 1Gi); each "
    "container keeps its share of it.",
)
@click.option("--reason", default="", help="Why; recorded with the request.")
@click.option("--by", "requested_by", help="Who asks (default: $GITHUB_ACTOR or $USER).")
@PUSH_OPTIONS
@OUTPUT_OPTION
@OUTPUTS_OPTION
@click.pass_obj
def request_command(
    settings: Settings,
    service: str,
    operation: str,
    replicas: int | None,
    cpu: str | None,
    memory: str | None,
    reason: str,
    requested_by: str | None,
    push: bool,
    push_remote: str,
    push_branch: str | None,
    outputs_path: Path | None,
    output: str,
) -> None:
    from reconciler.cli.compose import Environment, committed_fleet, trail_links
    from reconciler.shell.requests import Ask, carry_out_request, prepare_request

    root = settings.root()
    ask = Ask(
        service=service,
        operation=operation,
        replicas=replicas,
        parameters=_resource_parameters(cpu, memory),
        reason=reason,
        requested_by=requested_by or Environment.read().actor,
    )
    fleet = committed_fleet(root)
    fleet.require_policies()
    fleet.get(service)  # no blueprint for SERVICE is a configuration error, before any lookup
    pushing = push_settings(push, push_remote, push_branch)
    ports = pushing_manifests(command_ports(root, settings, fleet), settings, pushing)
    ports, recording = recording_outputs(ports, outputs_path)
    prepared = prepare_request(
        ask, fleet, ports, trail_links(settings, push_branch if push else None)
    )
    done: list[RequestDone] = []
    with outputs_written(outputs_path, recording):
        pushed = then_push(lambda: done.append(carry_out_request(prepared, ports)), root, pushing)
    if output == "json":
        from reconciler.core.planning.events import verdict_json

        emit_json(
            {
                "result": done[0].result.to_json(),
                "verdict": verdict_json(done[0].step.verdict),
                "warnings": [w.to_json() for w in fleet.notices],
            }
        )
    else:
        warn(fleet.notices)
        _print_done(done[0], prepared)
    _conclude(done[0], pushed, ports)


def _conclude(done: RequestDone, pushed: str | ReconcilerError | None, ports: Ports) -> None:
    """The command's exit: a failed push, then a halted forge, each as its error; 1 when the
    request did not go as asked."""
    if isinstance(pushed, Exception):
        raise pushed
    halted = ports.forge.halted() if ports.forge is not None else None
    if halted is not None:
        raise halted
    if not done.succeeded:
        sys.exit(1)


def _print_done(done: RequestDone, prepared: Prepared) -> None:
    """The verdict and its reasons, the safer alternatives, when a deferred request is tried
    again, and where the request went: a proposal, a commit."""
    from reconciler.core.planning.outcomes import StepOutcome

    step, result = done.step, done.result
    verdict = step.verdict
    click.echo(
        f"{prepared.blueprint.name}: {step.request.describe()}: {verdict.classification}, "
        f"{verdict.action.value.replace('_', ' ')} → {result.outcome}"
    )
    for reason_text in verdict.reasons:
        click.echo(f"  {reason_text}")
    if verdict.alternatives:
        click.echo("  safer alternatives:")
        for alternative in verdict.alternatives:
            size = (
                f" to {alternative.replicas} replicas" if alternative.replicas is not None else ""
            )
            click.echo(
                f"    {alternative.operation}{size} [{alternative.tier}]: {alternative.description}"
            )
    if verdict.action.value == "defer" and verdict.retry_at is not None:
        from reconciler.core.blueprint.units import format_duration

        timeout = prepared.blueprint.policy.approval.timeout
        click.echo(
            f"  retried by the first cycle after {verdict.retry_at:%Y-%m-%d %H:%M:%S}Z and "
            "governed again then; it expires if the deployment changes meanwhile or no "
            f"cycle comes within {format_duration(timeout)} after"
        )
    if result.kind is StepOutcome.PROPOSED:
        click.echo(f"  proposed for approval: {result.detail}")
    if result.commit:
        chain_id = result.record_ids[0] if result.record_ids else step.chain.operation
        click.echo(f"  recorded in commit {result.commit[:7]} (`reconciler explain {chain_id}`)")
