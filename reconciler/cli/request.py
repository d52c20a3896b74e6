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
    from reconciler.shell.cycle import StepResult


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


@click.command("request", cls=WritingCommand)
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
    """Ask for an operation on SERVICE; it goes through the same governance as a decision.

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
    from reconciler.cli.compose import Environment, committed_fleet, trail_links
    from reconciler.core.approvals.requests import shape_request
    from reconciler.core.decide.governance import OperationRequest, Origin
    from reconciler.core.errors import ClusterError, HeldError, MetricsError
    from reconciler.core.observed.observation import Metrics, Target
    from reconciler.core.planning.cycle import ServicePlan, plan_request
    from reconciler.core.planning.outcomes import StepOutcome
    from reconciler.shell.approvals import Proposer, Review
    from reconciler.shell.cycle import Proposing, Recorder, carry_out, gate_service

    root = settings.root()
    parameters = _resource_parameters(cpu, memory)
    fleet = committed_fleet(root)
    fleet.require_policies()
    blueprint = fleet.get(service)
    pushing = push_settings(push, push_remote, push_branch)
    ports = pushing_manifests(command_ports(root, settings, fleet), settings, pushing)
    ports, recording = recording_outputs(ports, outputs_path)
    target = Target(namespace=blueprint.metadata.namespace, name=blueprint.metadata.deployment)
    state = ports.cluster.observe([target])[target]
    if isinstance(state, ClusterError):
        raise state
    current = ports.metrics.current([target]).get(target)
    metrics = Metrics() if current is None or isinstance(current, MetricsError) else current
    now = ports.clock.now()
    request = OperationRequest(
        operation=operation,
        service=service,
        origin=Origin.REQUEST,
        current_replicas=state.replicas if replicas is not None else None,
        target_replicas=replicas,
        reason=reason,
        requested_by=requested_by or Environment.read().actor,
        parameters=parameters,
    )
    shape_request(request, blueprint, state)  # a usage error records nothing
    recorder = Recorder(ports.audit, dry_run=False)
    proposing = None
    if ports.forge is not None:
        proposing = Proposing(
            proposer=Proposer(
                forge=ports.forge,
                audit=ports.audit,
                budget=fleet.policies.max_new_proposals_per_run,
                links=trail_links(settings, push_branch if push else None),
            ),
            review=Review(),
            blueprint=blueprint,
            blueprint_text=fleet.texts.get(blueprint.name, ""),
            state=state,
        )
    carried: list[StepResult] = []
    planned: list[ServicePlan] = []

    def work() -> None:
        # A request must not act on a blueprint no approval stands behind, exactly as a run
        # would not.
        gate = gate_service(blueprint, state, ports, recorder, now)
        history = gate.history
        held = gate.held or gate.review.wait
        if not held and not gate.stamp_recorded and state.last_change is not None:
            # A new change would replace the stamp, the only trace of the unrecorded one.
            stamp = state.last_change
            held = (
                f"the deployment carries {stamp.operation_id} ({stamp.summary}), which is not in "
                "the audit trail: a run stopped before recording it; `reconciler run` records "
                "and verifies it first"
            )
        if held:
            ports.audit.flush()
            raise HeldError(f"{service}: {held}", hint="nothing was requested or recorded")
        current_plan = plan_request(blueprint, state, metrics, history, request, now)
        planned.append(current_plan)
        steps, _notes = carry_out(
            current_plan, blueprint, state, metrics, history, ports, recorder, proposing
        )
        carried.extend(steps)
        ports.audit.flush()

    with outputs_written(outputs_path, recording):
        pushed = then_push(work, root, pushing)
    plan = planned[0]
    step, result = plan.steps[0], carried[0]
    verdict = step.verdict
    if output == "json":
        from reconciler.core.planning.events import verdict_json

        emit_json(
            {
                "result": result.to_json(),
                "verdict": verdict_json(verdict),
                "warnings": [w.to_json() for w in fleet.notices],
            }
        )
    else:
        warn(fleet.notices)
        click.echo(
            f"{service}: {step.request.describe()}: {verdict.classification}, "
            f"{verdict.action.value.replace('_', ' ')} → {result.outcome}"
        )
        for reason_text in verdict.reasons:
            click.echo(f"  {reason_text}")
        if verdict.alternatives:
            click.echo("  safer alternatives:")
            for alternative in verdict.alternatives:
                size = (
                    f" to {alternative.replicas} replicas"
                    if alternative.replicas is not None
                    else ""
                )
                click.echo(
                    f"    {alternative.operation}{size} [{alternative.tier}]: "
                    f"{alternative.description}"
                )
        if verdict.action.value == "defer" and verdict.retry_at is not None:
            from reconciler.core.blueprint.units import format_duration

            click.echo(
                f"  retried by the first cycle after {verdict.retry_at:%Y-%m-%d %H:%M:%S}Z and "
                "governed again then; it expires if the deployment changes meanwhile or no "
                f"cycle comes within {format_duration(blueprint.policy.approval.timeout)} after"
            )
        if result.kind is StepOutcome.PROPOSED:
            click.echo(f"  proposed for approval: {result.detail}")
        if result.commit:
            chain_id = result.record_ids[0] if result.record_ids else step.chain.operation
            click.echo(
                f"  recorded in commit {result.commit[:7]} (`reconciler explain {chain_id}`)"
            )
    if isinstance(pushed, Exception):
        raise pushed
    halted = ports.forge.halted() if ports.forge is not None else None
    if halted is not None:
        raise halted
    if result.kind not in {
        StepOutcome.EXECUTED,
        StepOutcome.PENDING,
        StepOutcome.PROPOSED,
        StepOutcome.WOULD_EXECUTE,
        StepOutcome.WOULD_PROPOSE,
    }:
        sys.exit(1)
