"""`reconciler run` and `reconciler plan`: one reconcile cycle, carried out or only shown."""

from __future__ import annotations

import dataclasses
import gc
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler.cli.context import Settings, WritingCommand, env_flag
from reconciler.cli.cycle_text import print_reports, render_report
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

if TYPE_CHECKING:
    from reconciler.cli.publishing import PushSettings
    from reconciler.core.errors import ReconcilerError
    from reconciler.core.planning.sharding import Shard
    from reconciler.shell.cycle import CycleOptions, CycleReport, Ports
    from reconciler.shell.workspace import Fleet


def _progress(done: int, total: int) -> None:
    step = max(1, total // 10)
    if done % step == 0 or done == total:
        click.echo(f"reconciling: {done}/{total} services", err=True)


SERVICE_OPTION = click.option(
    "--service",
    "-s",
    "services",
    multiple=True,
    help="Only this service (repeatable). Default: every service with a blueprint.",
)


def _prepare(
    settings: Settings, services: tuple[str, ...], shard: Shard | None = None
) -> tuple[Fleet, Ports]:
    from reconciler.cli.compose import committed_fleet
    from reconciler.core.errors import ConfigError

    root = settings.root()
    if shard is not None:
        elsewhere = [s for s in services if not shard.owns(s)]
        if elsewhere:
            raise ConfigError(
                f"--shard {shard} does not own {', '.join(elsewhere)}",
                hint="drop --shard to pick services by name, or run the shard that owns them",
            )
    fleet = committed_fleet(root, shard=shard)
    known = {b.name for b in fleet.blueprints} | set(fleet.broken)
    unknown = [s for s in services if s not in known]
    if unknown:
        raise ConfigError(
            f"no blueprint for {', '.join(unknown)}",
            hint=f"known services: {', '.join(sorted(known))}",
        )
    ports = command_ports(root, settings, fleet)
    # The blueprints and the cluster's state just loaded live as long as the command: moved
    # out of the collector's sight, the cycle's collections do not walk them again (one of
    # them walked every blueprint of a 10,000-service fleet, 1.3 s).
    gc.freeze()
    return fleet, ports


def _options(fleet: Fleet, services: tuple[str, ...], dry_run: bool, quiet: bool) -> CycleOptions:
    from reconciler.shell.cycle import CycleOptions

    # Progress is for long runs: count the services this run reconciles, not the fleet.
    selected = sum(1 for b in fleet.blueprints if not services or b.name in services)
    many = selected > 50 and not quiet
    return CycleOptions(dry_run=dry_run, services=services, progress=_progress if many else None)


#: The help of the command below (as its docstring it would make the function too long).
_RUN_HELP = """\
Run one reconcile cycle over every service (or those given with --service).

For each service: verify earlier changes that are due (rolling back those that made
things worse), then observe the deployment and its metrics, decide (recover failing pods,
scale up, scale down, or nothing), govern the decision (tier, cooldown, rate limits,
circuit breaker), and execute what is allowed, record what needs approval, and refuse what
is forbidden. Every step that changes or refuses something becomes a commit under audit/.

A change is verified once its stabilization period has passed: by the next run, or by
this one with --wait.

The blueprints and policies judged under are those committed at HEAD; uncommitted edits
under blueprints/ are named in a warning and not used. A service whose audit records
cannot all be read is not changed: its row is an error naming the file.

In a scheduled job, --push sends the audit commits to the remote afterwards (retrying
when another job pushed first), --summary writes the job summary, --outputs the step
outputs later steps read, and --shard I/N lets several jobs split a large fleet. See
docs/github-actions.md.

Two commands that write to one repository (two runs, a run and a request, ...) take
turns: the second waits for the first up to --lock-timeout (an option before the
command), then gives up. A --dry-run writes nothing and never waits.

\b
Exit codes: 0 every service reconciled, 1 some service failed (its row says why: an
              unreachable cluster or an unreadable audit record, for example) or now
              needs a person (its circuit
              breaker opened, or a failed change was escalated),
            2 usage (an option value that does not parse, such as --shard 5/4 or
              --wait-timeout 10 without a unit),
            3 configuration error (for example broken global policies, an unknown
              --service, no simulated cluster),
            4 the forge is unavailable or refused (GitHub: a refused token, or a
              rate limit used up), or another reconciler kept writing to the
              repository for longer than --lock-timeout (nothing was done),
            5 the audit commits could not be stored or pushed (unpushed ones stay
              committed locally; the next run records any change it finds only on
              the deployments).

\b
Examples:
  reconciler run
  reconciler run --wait           # the seed's whole timeline in one run
  reconciler run --dry-run -v
  reconciler run -s todo-frontend -o json
  reconciler run --shard 2/4 --push
"""


@click.command("run", cls=WritingCommand, read_only_with="dry_run", help=_RUN_HELP)
@click.option(
    "--dry-run", is_flag=True, help="Decide and govern, but change nothing and record nothing."
)
@click.option(
    "--wait",
    is_flag=True,
    help="Stay until this run's changes are verified (and any rollback too), instead of "
    "leaving their verification to the next scheduled run.",
)
@click.option("--wait-timeout", default="10m", show_default=True, help="The longest --wait stays.")
@SERVICE_OPTION
@click.option(
    "--shard",
    envvar="RECONCILER_SHARD",
    show_envvar=True,
    metavar="I/N",
    help="Only the services of shard I of N (1/4 ... 4/4): a stable split by service name, "
    "for parallel jobs that never overlap.",
)
@PUSH_OPTIONS
@click.option(
    "--summary",
    "summary_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="GITHUB_STEP_SUMMARY",
    show_envvar=True,
    help="Append the run's table to this file as markdown (the job summary on Actions).",
)
@click.option(
    "--annotations/--no-annotations",
    default=None,
    help="Print problems as GitHub Actions ::error/::warning lines "
    "(default: on when GITHUB_ACTIONS=true and the output is text).",
)
@click.option(
    "--dashboard/--no-dashboard",
    default=None,
    envvar="RECONCILER_DASHBOARD",
    show_envvar=True,
    help="Keep the dashboard issue current: what needs a person, the proposals waiting, the "
    "services failing (default: on with the GitHub forge, for a run of the whole shard).",
)
@OUTPUTS_OPTION
@OUTPUT_OPTION
@click.option(
    "--verbose", "-v", is_flag=True, help="Show every service's rationale, not only those that act."
)
@click.pass_obj
def run_command(
    settings: Settings,
    dry_run: bool,
    wait: bool,
    wait_timeout: str,
    services: tuple[str, ...],
    shard: str | None,
    push: bool,
    push_remote: str,
    push_branch: str | None,
    summary_path: Path | None,
    annotations: bool | None,
    dashboard: bool | None,
    outputs_path: Path | None,
    output: str,
    verbose: bool,
) -> None:
    from reconciler.cli.compose import trail_links

    timeout, part = _wait_and_shard(wait_timeout, shard)
    fleet, ports = _prepare(settings, services, part)
    ports, recording = recording_outputs(ports, outputs_path)
    options = _options(fleet, services, dry_run, quiet=output == "json")
    options = dataclasses.replace(
        options, links=trail_links(settings, push_branch if push else None)
    )
    pushing = push_settings(push, push_remote, push_branch)
    ports = pushing_manifests(ports, settings, pushing)
    with outputs_written(outputs_path, recording):
        reports, ending, pushed = _cycles(
            fleet, ports, options, settings.root(), pushing, wait=wait, timeout=timeout
        )
    if output == "json":
        emit_json(reports[0].to_json() if not wait else [r.to_json() for r in reports])
    else:
        print_reports(reports, verbose, ending)
    _report_for_actions(
        reports,
        pushed,
        summary_path,
        annotations,
        output,
        f" (shard {part})" if part else "",
        usage=_forge_usage(ports),
    )
    if dashboard is None:
        dashboard = settings.forge == "github" and not services
    if dashboard and not dry_run:
        _update_dashboard(reports, ports, fleet, part, pushed, quiet=output == "json")
    _conclude(reports, pushed)


def _cycles(
    fleet: Fleet,
    ports: Ports,
    options: CycleOptions,
    root: Path,
    pushing: PushSettings,
    *,
    wait: bool,
    timeout: float,
) -> tuple[list[CycleReport], str, str | ReconcilerError | None]:
    """The cycle, then with --wait its verification passes, then the push of their commits:
    the reports, how the wait ended, and what the push said (or its error, raised later)."""
    from reconciler.shell.cycle import run_cycle
    from reconciler.shell.waiting import wait_and_verify

    reports: list[CycleReport] = []
    ending = ""

    def work() -> None:
        nonlocal ending
        reports.append(run_cycle(fleet, ports, options))
        if wait and not options.dry_run and reports[0].trail_halt is None:
            more, ending = wait_and_verify(fleet, ports, options, timeout)
            reports.extend(more)

    pushed = then_push(work, root, pushing if not options.dry_run else None)
    return reports, ending, pushed


def _wait_and_shard(wait_timeout: str, shard: str | None) -> tuple[float, Shard | None]:
    """--wait-timeout and --shard parsed: a value that cannot mean anything is a usage error
    (exit 2) naming its option, before anything is read."""
    from reconciler.core.blueprint.units import UnitError, parse_duration
    from reconciler.core.errors import ConfigError
    from reconciler.core.planning.sharding import parse_shard

    try:
        timeout = parse_duration(wait_timeout)
    except UnitError as error:
        raise click.BadParameter(f"{error} ({error.hint})", param_hint="'--wait-timeout'") from None
    try:
        part = parse_shard(shard) if shard else None
    except ConfigError as error:
        raise click.BadParameter(
            f"{str(error).removeprefix('--shard ')} ({error.hint})",
            param_hint="'--shard'",
        ) from None
    return timeout, part


def _conclude(reports: Sequence[CycleReport], pushed: str | ReconcilerError | None) -> None:
    """The run's exit: a failed push, then a trail that could not be written, then a halted
    forge, each as its error; 1 when a service failed or needs a person."""
    if isinstance(pushed, Exception):
        raise pushed
    unwritable = next((report.trail_halt for report in reports if report.trail_halt), None)
    if unwritable is not None:
        from reconciler.core.errors import AuditError

        raise AuditError(
            f"the audit trail could not be written, so the run stopped changing the cluster: "
            f"{unwritable.message}",
            hint=unwritable.hint,
        )
    halt = next((report.forge_halt for report in reports if report.forge_halt), None)
    if halt is not None:
        from reconciler.core.errors import ForgeError

        raise ForgeError(halt.describe(), hint=halt.hint)
    if any(report.failed for report in reports):
        sys.exit(1)


def _update_dashboard(
    reports: Sequence[CycleReport],
    ports: Ports,
    fleet: Fleet,
    part: Shard | None,
    pushed: str | ReconcilerError | None,
    *,
    quiet: bool,
) -> None:
    """The dashboard issue, from what this run saw (GitHub forge only; never when the forge
    was halted: a rate limit stops every request of the run)."""
    from reconciler.adapters.github_forge import GitHubForge
    from reconciler.cli.compose import Environment
    from reconciler.cli.dashboard import board_of, publish_dashboard

    # A paired forge's dashboard is its blueprint repository's.
    forge = getattr(ports.forge, "primary", ports.forge)
    if not isinstance(forge, GitHubForge) or forge.halted() is not None:
        return
    env = Environment.read()
    failure = (
        f"the audit commits were not pushed: {pushed}" if isinstance(pushed, Exception) else ""
    )
    board = board_of(
        reports,
        fleet,
        shard=str(part) if part is not None and part.count > 1 else "",
        org=forge.owner,
        run_failure=failure,
        run_url=env.run_url,
    )
    failed = bool(failure) or any(report.failed for report in reports)
    publish_dashboard(forge, board, succeeded=not failed, run_id=env.run_id, quiet=quiet)


def _forge_usage(ports: Ports) -> str:
    """What the run cost on GitHub's API and what is left of the limit, or "" off GitHub."""
    # A run that built no GitHub forge never imported its module, and need not pay for it.
    github = sys.modules.get("reconciler.adapters.github_forge")
    forge = getattr(ports.forge, "primary", ports.forge)
    if github is not None and isinstance(forge, github.GitHubForge):
        usage: str = forge.usage().describe()
        return usage
    return ""


def _report_for_actions(
    reports: Sequence[CycleReport],
    pushed: str | ReconcilerError | None,
    summary_path: Path | None,
    annotations: bool | None,
    output: str,
    shard: str,
    *,
    usage: str = "",
) -> None:
    """The job summary and annotations, when running on GitHub Actions (or asked to)."""
    from reconciler.cli.summary import append_summary, markdown, problem_annotations
    from reconciler.core.problems import workflow_command

    if annotations is None:
        annotations = env_flag("GITHUB_ACTIONS") and output == "text"
    if annotations:
        for line in problem_annotations(reports):
            click.echo(line)
        if isinstance(pushed, Exception):
            click.echo(workflow_command("error", str(pushed), title="audit records not pushed"))
    if summary_path is not None:
        extra = ""
        if isinstance(pushed, Exception):
            extra = f"❌ **The audit commits were not pushed**: {pushed}"
        elif pushed:
            extra = f"Audit trail: {pushed}."
        if usage:
            extra = f"{extra}\n\nGitHub API: {usage}." if extra else f"GitHub API: {usage}."
        text = markdown(reports, title=f"Reconcile cycle{shard}", extra=extra)
        append_summary(summary_path, text)


@click.command("plan")
@SERVICE_OPTION
@OUTPUT_OPTION
@click.pass_obj
def plan_command(settings: Settings, services: tuple[str, ...], output: str) -> None:
    """Show what a cycle would do now, and why, without changing or recording anything.

    The same as `reconciler run --dry-run --verbose`: every service's decision with its
    numbers, the governance verdict of each operation, and the rules behind it, under the
    blueprints committed at HEAD (uncommitted edits are named in a warning, not used).

    \b
    Exit codes: 0 shown (a service that could not be planned says why in its row),
                2 usage, 3 configuration (broken global policies, an unknown --service,
                no simulated cluster).

    \b
    Examples:
      reconciler plan
      reconciler plan -s todo-frontend
      reconciler plan -o json
    """
    from reconciler.shell.cycle import run_cycle

    fleet, ports = _prepare(settings, services)
    report = run_cycle(
        fleet, ports, _options(fleet, services, dry_run=True, quiet=output == "json")
    )
    if output == "json":
        emit_json(report.to_json())
    else:
        warn(report.warnings)
        click.echo(render_report(report, verbose=True))
