"""Commands that run or inspect cycles: run, plan, status, audit, explain, request, breaker."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler.cli.context import Settings, WritingCommand, env_flag
from reconciler.cli.output import OUTPUT_OPTION, emit_json, plural, table, warn
from reconciler.cli.outputs import OUTPUTS_OPTION
from reconciler.cli.publishing import PUSH_OPTIONS, PushSettings, push_records, push_settings
from reconciler.cli.summary import decision_cell
from reconciler.core.bounds import REPLICAS_MAX

if TYPE_CHECKING:
    from reconciler.cli.outputs import RecordingAudit
    from reconciler.core.errors import ReconcilerError
    from reconciler.core.planning.sharding import Shard
    from reconciler.core.trail.records import Record
    from reconciler.shell.cycle import CycleOptions, CycleReport, Ports, ServiceResult, StepResult
    from reconciler.shell.workspace import Fleet


def _pct(value: float | None) -> str:
    from reconciler.core.blueprint.units import format_percent

    return "-" if value is None else format_percent(value)


def _outcome_cells(result: ServiceResult) -> tuple[str, str]:
    if result.error:
        return "-", result.error
    if not result.steps:
        return "-", "-"
    governed = "; ".join(f"{s.classification} → {s.action.replace('_', ' ')}" for s in result.steps)
    outcome = "; ".join(s.outcome + (f" {s.commit[:7]}" if s.commit else "") for s in result.steps)
    return governed, outcome


def render_report(report: CycleReport, verbose: bool, only_active: bool = False) -> str:
    rows = []
    for result in report.services:
        if only_active and not (result.steps or result.notes or result.error):
            continue
        replicas = "-" if result.replicas is None else f"{result.ready}/{result.replicas}"
        governed, outcome = _outcome_cells(result)
        rows.append(
            [
                result.service,
                replicas,
                _pct(result.weighted),
                decision_cell(result),
                governed,
                outcome,
            ]
        )
    lines = [table(["SERVICE", "READY", "WEIGHTED", "DECISION", "GOVERNANCE", "OUTCOME"], rows)]
    details = []
    for result in report.services:
        decision = result.decision
        show = verbose or bool(result.steps) or bool(result.notes) or bool(result.waiting)
        if not show or (decision is None and not result.notes and not result.waiting):
            continue
        details.append(f"{result.service}:")
        if result.waiting:
            details.append(f"  waiting: {result.waiting}")
        if decision is not None:
            details.append(f"  decision {decision.id}: {decision.rationale}")
        for step in result.steps:
            details.append(
                f"  {step.description}: {step.classification}, "
                f"{step.action.replace('_', ' ')} → {step.outcome}: {step.detail}"
            )
        for note in result.notes:
            details.append(f"  note: {note.text}")
    if details:
        lines += ["", *details]
    counts: dict[str, int] = {}
    for result in report.services:
        for step in result.steps:
            counts[step.kind.label] = counts.get(step.kind.label, 0) + 1
    errors = sum(1 for r in report.services if r.error)
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no changes"
    mode = " (dry run: nothing changed, nothing recorded)" if report.dry_run else ""
    reconciled = plural(len(report.services), "service")
    if len(rows) < len(report.services):  # a --wait pass shows only the rows with news
        reconciled = f"{len(rows)} of {reconciled} shown (the rest had nothing to report)"
    lines += [
        "",
        f"cycle at {report.started_at:%Y-%m-%d %H:%M:%SZ}: {reconciled}; "
        f"{summary}; {errors} with errors; {plural(len(report.commits), 'audit commit')}{mode}",
    ]
    return "\n".join(lines)


def _ports(root: Path, settings: Settings, fleet: Fleet) -> Ports:
    """Build the ports, and release their network clients when the command ends."""
    from reconciler.cli.compose import build_ports, release

    ports = build_ports(root, settings, fleet)
    click.get_current_context().call_on_close(lambda: release(ports))
    return ports


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
    return fleet, _ports(root, settings, fleet)


def _options(fleet: Fleet, services: tuple[str, ...], dry_run: bool, quiet: bool) -> CycleOptions:
    from reconciler.shell.cycle import CycleOptions

    # Progress is for long runs: count the services this run reconciles, not the fleet.
    selected = sum(1 for b in fleet.blueprints if not services or b.name in services)
    many = selected > 50 and not quiet
    return CycleOptions(dry_run=dry_run, services=services, progress=_progress if many else None)


@click.command("run", cls=WritingCommand, read_only_with="dry_run")
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
    """Run one reconcile cycle over every service (or those given with --service).

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
    from reconciler.cli.compose import trail_links
    from reconciler.core.blueprint.units import UnitError, parse_duration
    from reconciler.core.errors import ConfigError
    from reconciler.core.planning.sharding import parse_shard
    from reconciler.shell.cycle import run_cycle, wait_and_verify

    # A value that cannot mean anything is a usage error (exit 2) naming its option.
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
    fleet, ports = _prepare(settings, services, part)
    ports, recording = _recording(ports, outputs_path)
    options = _options(fleet, services, dry_run, quiet=output == "json")
    options = dataclasses.replace(
        options, links=trail_links(settings, push_branch if push else None)
    )
    pushing = push_settings(push, push_remote, push_branch)
    ports = _pushing_manifests(ports, settings, pushing)
    reports: list[CycleReport] = []
    ending = ""

    def work() -> None:
        nonlocal ending
        reports.append(run_cycle(fleet, ports, options))
        if wait and not dry_run and reports[0].trail_halt is None:
            more, ending = wait_and_verify(fleet, ports, options, timeout)
            reports.extend(more)

    with _outputs_written(outputs_path, recording):
        pushed = _then_push(work, settings.root(), pushing if not dry_run else None)
    if output == "json":
        emit_json(reports[0].to_json() if not wait else [r.to_json() for r in reports])
    else:
        warn(dict.fromkeys(w for report in reports for w in report.warnings))
        for index, report in enumerate(reports):
            if index:
                click.echo(f"\n--- verification pass at {report.started_at:%H:%M:%S}Z")
                click.echo(render_report(report, verbose=False, only_active=True))
            else:
                click.echo(render_report(report, verbose))
        if ending:
            click.echo(f"\n--wait: {ending}")
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


def _pushing_manifests(ports: Ports, settings: Settings, pushing: PushSettings) -> Ports:
    """A run that pushes pushes its manifest commits too, each at once: the GitOps tool reads
    the remote, and a person's push to the same file is seen before it is overwritten."""
    from dataclasses import replace

    from reconciler.cli.compose import open_manifests

    if not pushing.enabled:
        return ports
    manifests = open_manifests(settings.root(), pushing.remote, pushing.branch or "")
    return replace(ports, manifests=manifests)


def _recording(ports: Ports, outputs_path: Path | None) -> tuple[Ports, RecordingAudit | None]:
    """The ports with an audit store that remembers this run's records, for --outputs."""
    from dataclasses import replace

    from reconciler.cli.outputs import RecordingAudit

    if outputs_path is None:
        return ports, None
    recording = RecordingAudit(ports.audit)
    return replace(ports, audit=recording), recording


@contextmanager
def _outputs_written(outputs_path: Path | None, recording: RecordingAudit | None) -> Iterator[None]:
    """Write the step outputs afterwards, also when the work failed part-way: a later step
    (`if: failure()`) needs to know what was changed before it failed."""
    from reconciler.cli.outputs import write_outputs

    try:
        yield
    finally:
        if outputs_path is not None and recording is not None:
            write_outputs(outputs_path, recording.appended)


def _then_push(
    work: Callable[[], None], root: Path, pushing: PushSettings | None
) -> str | ReconcilerError | None:
    """Run `work`, then push its records if asked: also when `work` failed part-way, since
    records of changes already made must reach the remote. Returns what the push said, or its
    error for the caller to raise once the run's report is out."""
    from reconciler.core.errors import ReconcilerError

    if pushing is None or not pushing.enabled:
        work()
        return None
    try:
        work()
    except BaseException:
        try:
            click.echo(push_records(root, pushing), err=True)
        except ReconcilerError as error:
            click.echo(f"error: pushing the audit records also failed: {error}", err=True)
        raise
    try:
        message = push_records(root, pushing)
    except ReconcilerError as error:
        return error
    click.echo(message, err=True)
    return message


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

    forge = ports.forge
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
    if github is not None and isinstance(ports.forge, github.GitHubForge):
        usage: str = ports.forge.usage().describe()
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
    from reconciler.core.approvals.lifecycle import APPROVAL_EVENTS
    from reconciler.core.approvals.pending import pending_proposals
    from reconciler.core.blueprint.units import format_duration
    from reconciler.core.decide.decision import Reason, decide, weighted_utilization
    from reconciler.core.errors import ClusterError, MetricsError
    from reconciler.core.observed.observation import DeploymentState, Target
    from reconciler.core.planning.cycle import pause_reason
    from reconciler.core.trail.history import CHANGE_EVENTS
    from reconciler.core.trail.records import EventType
    from reconciler.shell.cycle import load_history

    root = settings.root()
    fleet = committed_fleet(root)
    fleet.require_policies()
    ports = _ports(root, settings, fleet)
    now = ports.clock.now()
    targets = [
        Target(namespace=b.metadata.namespace, name=b.metadata.deployment) for b in fleet.blueprints
    ]
    observed = ports.cluster.observe(targets)
    metrics = ports.metrics.current(targets)
    rows, data = [], []
    notes: list[str] = []
    for blueprint, target in zip(fleet.blueprints, targets, strict=True):
        state = observed.get(target)
        current = metrics.get(target)
        history = load_history(ports.audit, blueprint, now)
        last = history.last(*CHANGE_EVENTS)
        cooldown_left = 0.0
        if history.last_change_at is not None:
            elapsed = (now - history.last_change_at).total_seconds()
            cooldown_left = max(0.0, blueprint.policy.safety.cooldown - elapsed)
        w = None
        note = ""
        paused_by = pause_reason(blueprint, state if isinstance(state, DeploymentState) else None)
        if paused_by:
            note = f"paused by {paused_by}: observed only, nothing is changed or proposed"
        elif blueprint.observed_by:
            note = (
                f"observe mode ({blueprint.observed_by}): what it would do is recorded, "
                "nothing is changed or proposed (`reconciler report`)"
            )
        if current is not None and not isinstance(current, MetricsError):
            w = weighted_utilization(blueprint, current).value
            if isinstance(state, DeploymentState) and not paused_by and not note:
                # What a cycle would say now, for what an operator would otherwise misread.
                now_decided = decide(blueprint, state, current, now=now)
                if now_decided.reason is Reason.ERRORS_NOT_CAPACITY:
                    note = (
                        f"error rate {_pct(current.error_rate)} is above error_rate_max "
                        f"{_pct(blueprint.performance.error_rate_max)} with normal utilization: "
                        "not a capacity signal, so replicas are left as they are"
                    )
        # Proposals still open, however old; plus requests recorded as pending without a
        # proposal (no forge), which nothing concludes, from the recent history.
        pending = [
            item.record
            for item in pending_proposals(ports.audit.events(blueprint.name, APPROVAL_EVENTS))
        ] + [
            r
            for r in history.records
            if r.event_type is EventType.APPROVAL_REQUESTED and not r.details.get("key")
        ]
        replicas = (
            "unreachable"
            if isinstance(state, ClusterError) or state is None
            else f"{state.ready_replicas}/{state.replicas}"
        )
        breaker = history.breaker.describe(blueprint.policy.safety.circuit_breaker)
        cooldown = format_duration(cooldown_left) if cooldown_left else "-"
        last_text = "-" if last is None else f"{last.operation} at {last.timestamp:%m-%d %H:%M}Z"
        # What rests on records that could not be read is not known: say so, not "closed".
        unreadable = [item.path for item in ports.audit.unreadable(blueprint.name)]
        if unreadable:
            cooldown = "unknown"
            breaker = f"unknown ({plural(len(unreadable), 'unreadable record')})"
        rows.append(
            [
                blueprint.name,
                replicas,
                _pct(w),
                last_text,
                cooldown,
                breaker,
                str(len(pending)) if pending else "-",
            ]
        )
        data.append(
            {
                "service": blueprint.name,
                "replicas": None
                if isinstance(state, ClusterError) or state is None
                else state.replicas,
                "ready_replicas": None
                if isinstance(state, ClusterError) or state is None
                else state.ready_replicas,
                "weighted_utilization": w,
                "last_operation": None if last is None else last.to_json(),
                "cooldown_left_seconds": cooldown_left,
                "breaker": history.breaker.phase.value,
                "breaker_failures": len(history.breaker.failures),
                "pending_approvals": [r.id for r in pending],
                "unreadable_records": unreadable,
                "paused": paused_by or None,
                "mode": str(blueprint.mode),
                "note": note or None,
            }
        )
        if note:
            notes.append(f"{blueprint.name}: {note}")
    for name, path in sorted(fleet.broken.items()):
        rows.append([name, "-", "-", "-", "-", "-", f"invalid blueprint ({path})"])
        data.append({"service": name, "error": f"invalid blueprint {path}"})
    warnings = [*fleet.notices, *(item.problem() for item in ports.audit.unreadable())]
    if output == "json":
        emit_json(
            {
                "at": now.isoformat().replace("+00:00", "Z"),
                "services": data,
                "warnings": [w.to_json() for w in warnings],
            }
        )
        return
    warn(warnings)
    click.echo(
        table(
            ["SERVICE", "READY", "WEIGHTED", "LAST CHANGE", "COOLDOWN", "BREAKER", "PENDING"], rows
        )
    )
    if notes:
        click.echo("\n" + "\n".join(f"note: {line}" for line in notes))


def _parse_when(text: str | None, now: datetime) -> datetime | None:
    from reconciler.core.blueprint.units import UnitError, parse_duration
    from reconciler.core.errors import ConfigError

    if text is None:
        return None
    try:
        return now - timedelta(seconds=parse_duration(text))
    except UnitError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"{text!r} is neither a duration nor a time",
            hint="use 1h, 30m, or 2026-02-10T15:30:00Z",
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _clock_now(settings: Settings, root: Path) -> datetime:
    """The cycle's clock: virtual for the simulated cluster, the wall clock otherwise."""
    from reconciler.cli.compose import sim_state_path

    if settings.cluster == "simulated" and sim_state_path(root, settings.sim_state).exists():
        from reconciler.cli.compose import open_simulation

        return open_simulation(root, settings.sim_state).now()
    return datetime.now(UTC)


def _record_rows(records: Iterable[Record]) -> list[list[str]]:
    from reconciler.core.planning.events import short

    return [
        [
            f"{r.timestamp:%Y-%m-%d %H:%M:%S}Z",
            r.service,
            r.event_type.value,
            r.operation or "-",
            r.outcome.value,
            r.id,
            short(r.rationale, 60),
        ]
        for r in records
    ]


@click.command("audit")
@click.option("--service", "-s", help="Only this service.")
@click.option(
    "--event",
    "-e",
    "events",
    multiple=True,
    help="Only these event types (repeatable), e.g. operation_executed.",
)
@click.option(
    "--since",
    help="From this time: a duration back from now (2h, 30m) or a time (2026-02-10T15:00:00Z).",
)
@click.option("--until", help="Up to this time, in the same forms as --since.")
@click.option(
    "--limit", type=click.IntRange(min=0), default=0, help="Only the newest N records (0: all)."
)
@OUTPUT_OPTION
@click.pass_obj
def audit_command(
    settings: Settings,
    service: str | None,
    events: tuple[str, ...],
    since: str | None,
    until: str | None,
    limit: int,
    output: str,
) -> None:
    """List audit records, oldest first, filtered by service, event type and time.

    The same records are in git: `git log --oneline -- audit/` tells the story, and the
    trailers let you filter, e.g. `git log --grep '^Reconciler-Event: operation_blocked$'`.
    Event types: see docs/audit-trail.md.

    A file under audit/ that is not a readable record (invalid JSON, a missing field, a
    binary file) is skipped with a warning naming it; with -o json the output is
    {"records": [...], "warnings": [...]}.

    \b
    Exit codes: 0 listed (also when no record matches), 2 usage (an unknown event type,
                a --since or --until that is neither a duration nor a time, or a
                --since later than --until), 3 no blueprint repository, or it is not a
                git repository.

    \b
    Examples:
      reconciler audit
      reconciler audit -s todo-frontend --since 2h
      reconciler audit -e operation_blocked -e operation_deferred
      reconciler audit --since 2026-02-10T15:00:00Z --until 2026-02-10T16:00:00Z -o json
    """
    from reconciler.cli.compose import open_audit
    from reconciler.core.errors import ConfigError
    from reconciler.core.trail.records import EventType

    # A value that cannot mean anything is a usage error (exit 2) naming its option, like
    # click's own checks, rather than a configuration error.
    wanted = set()
    for event in events:
        try:
            wanted.add(EventType(event))
        except ValueError:
            raise click.BadParameter(
                f"unknown event type {event!r}; valid: {', '.join(e.value for e in EventType)}",
                param_hint="'--event' / '-e'",
            ) from None
    root = settings.root()
    now = _clock_now(settings, root)

    def moment(option: str, text: str | None) -> datetime | None:
        try:
            return _parse_when(text, now)
        except ConfigError as error:
            raise click.BadParameter(f"{error} ({error.hint})", param_hint=f"'{option}'") from None

    start, end = moment("--since", since), moment("--until", until)
    if start is not None and end is not None and start > end:
        # Nothing could match; saying "no records match" would hide the mistake.
        raise click.UsageError(
            f"--since {since} ({_iso(start)}) is later than --until {until} ({_iso(end)}); "
            "the range runs from --since to --until, so swap them"
        )
    store = open_audit(root)
    records = [
        r
        for r in store.scan(service=service, since=start, until=end)
        if not wanted or r.event_type in wanted
    ]
    if limit:
        records = records[-limit:]
    skipped = [item.problem() for item in store.unreadable()]
    if output == "json":
        emit_json(
            {"records": [r.to_json() for r in records], "warnings": [w.to_json() for w in skipped]}
        )
        return
    warn(skipped)
    if not records:
        click.echo("no records match", err=True)
        return
    click.echo(
        table(
            ["TIME", "SERVICE", "EVENT", "OPERATION", "OUTCOME", "ID", "RATIONALE"],
            _record_rows(records),
        )
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def chain_for(records: Sequence[Record], wanted: str) -> list[Record]:
    """Every record linked to `wanted`, following links until nothing new turns up."""
    ids = {wanted}
    chain: dict[str, Record] = {}
    changed = True
    while changed:
        changed = False
        for record in records:
            linked = record.linked_ids()
            if record.id not in chain and linked & ids:
                chain[record.id] = record
                ids |= linked
                changed = True
    return sorted(chain.values(), key=lambda r: r.sort_key())


def _explain_lines(chain: Sequence[Record]) -> list[str]:
    from reconciler.core.trail.records import clean_line

    lines = []
    for record in chain:
        head = f"{record.timestamp:%Y-%m-%d %H:%M:%S}Z  {record.event_type.value}  {record.id}"
        if record.classification:
            head += f"  [{record.classification}]"
        lines.append(head)
        lines.append(f"    {clean_line(record.rationale)}")
        details = record.details
        for rule in details.get("rules", []) if isinstance(details.get("rules"), list) else []:
            shown = rule.get("evaluated") or rule.get("condition") or "(no condition)"
            lines.append(f"    rule {rule.get('reference')}: {shown} → {rule.get('result')}")
        safety = details.get("safety_checks")
        if isinstance(safety, dict):
            for name, check in safety.items():
                lines.append(
                    f"    safety {name}: {'ok' if check.get('ok') else 'NOT OK'} "
                    f"({check.get('detail')})"
                )
        for alternative in details.get("alternatives", []) or []:
            lines.append(
                f"    alternative {alternative.get('operation')}"
                + (
                    f" to {alternative['replicas']} replicas"
                    if alternative.get("replicas") is not None
                    else ""
                )
                + f" [{alternative.get('classification')}]: {alternative.get('description')}"
            )
        write_back = details.get("write_back")
        if isinstance(write_back, dict):
            where = f" of {write_back['repository']}" if write_back.get("repository") else ""
            files = ", ".join(str(f) for f in write_back.get("files") or [])
            lines.append(
                f"    commit {write_back.get('commit')} to {files} on "
                f"{write_back.get('branch')}{where}"
            )
        for check in details.get("checks", []) or []:
            if isinstance(check, dict) and "check" in check:
                lines.append(
                    f"    check {check['check']}: expected {check.get('expected')}, "
                    f"actual {check.get('actual')}"
                    f" → {check.get('status')} ({check.get('severity')})"
                )
    return lines


@click.command("explain")
@click.argument("record_id")
@OUTPUT_OPTION
@click.pass_obj
def explain_command(settings: Settings, record_id: str, output: str) -> None:
    """Show the whole chain behind one id: decision → governance → operation → verification
    → rollback, with the numbers, rules and checks of each step.

    RECORD_ID is any id in the chain: a decision (dec-...), a verdict (gov-...), an operation
    (op-...), a request (req-...) or a verification (ver-...). `reconciler audit` lists them.

    \b
    Exit codes: 0 shown, 2 usage, 3 no audit record has the id, no blueprint repository,
                or it is not a git repository.

    \b
    Examples:
      reconciler audit -s todo-frontend -e rollback_executed    # find an id
      reconciler explain dec-20260210-153600-5e2e71
      reconciler explain op-20260210-153600-0a1b2c -o json
    """
    from reconciler.cli.compose import open_audit
    from reconciler.core.errors import ConfigError

    store = open_audit(settings.root())
    chain = chain_for(list(store.scan()), record_id)
    skipped = [item.problem() for item in store.unreadable()]
    if not chain:
        warn(skipped)
        raise ConfigError(
            f"no audit record has the id {record_id!r}",
            hint="list ids with `reconciler audit` (the ID column)"
            + ("; some records could not be read (above)" if skipped else ""),
        )
    if output == "json":
        emit_json(
            {"records": [r.to_json() for r in chain], "warnings": [w.to_json() for w in skipped]}
        )
        return
    warn(skipped)
    click.echo(f"{chain[0].service}: {plural(len(chain), 'record')} linked to {record_id}\n")
    click.echo("\n".join(_explain_lines(chain)))


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
    ports = _pushing_manifests(_ports(root, settings, fleet), settings, pushing)
    ports, recording = _recording(ports, outputs_path)
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

    with _outputs_written(outputs_path, recording):
        pushed = _then_push(work, root, pushing)
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
    from reconciler.core.planning.events import breaker_reset_record
    from reconciler.core.trail.history import BreakerPhase
    from reconciler.shell.cycle import commit_records, load_history

    root = settings.root()
    fleet = committed_fleet(root)
    fleet.require_policies()
    blueprint = fleet.get(service)
    ports = _ports(root, settings, fleet)
    now = ports.clock.now()
    history = load_history(ports.audit, blueprint, now)
    warn([*fleet.notices, *(item.problem() for item in ports.audit.unreadable(service))])
    if history.breaker.phase is BreakerPhase.CLOSED and not history.breaker.should_open:
        click.echo(f"{service}: the circuit breaker is closed; nothing to reset")
        return
    who = reset_by or Environment.read().actor
    record = breaker_reset_record(service, blueprint, who, reason, now)
    sha = commit_records(
        ports.audit, f"{service}: circuit breaker reset by {who}: {reason}", [record]
    )
    click.echo(f"{service}: circuit breaker reset by {who} (commit {sha[:7]})")
    pushed = _then_push(lambda: None, root, push_settings(push, push_remote, push_branch))
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
    from reconciler.shell.cycle import load_history

    root = settings.root()
    fleet = committed_fleet(root)
    ports = _ports(root, settings, fleet)
    now = ports.clock.now()
    rows, data = [], []
    for blueprint in fleet.blueprints:
        breaker = load_history(ports.audit, blueprint, now).breaker
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


@click.command("approvals")
@click.option("--service", "-s", help="Only this service.")
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice(["pending", "approved", "rejected", "expired", "superseded", "refused"]),
    help="Only proposals in this state (repeatable).",
)
@OUTPUT_OPTION
@click.pass_obj
def approvals_command(
    settings: Settings, service: str | None, states: tuple[str, ...], output: str
) -> None:
    """List approval proposals: pending, approved (merged), rejected, expired, superseded and
    refused, from the audit trail.

    Each proposal is a pull request (or, on the local forge, a branch) that a person approves
    by merging. The table shows where it is, what it asks, who may approve it, when it expires,
    and how it ended: who merged it and how long the approval took, or why a merge was refused.

    \b
    Exit codes: 0 listed (also when there are none), 2 usage (for example an unknown
                --state), 3 no blueprint repository, or it is not a git repository.

    \b
    Examples:
      reconciler approvals
      reconciler approvals --state pending
      reconciler approvals -s todo-frontend -o json
    """
    from reconciler.cli.compose import open_audit
    from reconciler.core.approvals.lifecycle import APPROVAL_EVENTS
    from reconciler.core.approvals.recording import approval_summaries

    root = settings.root()
    store = open_audit(root)
    services = [service] if service else store.services()
    rows, data = [], []
    for name in services:
        for item in approval_summaries(store.events(name, APPROVAL_EVENTS)):
            if states and item["state"] not in states:
                continue
            data.append(item)
            ended = item.get("merged_by") or item.get("reason") or "-"
            rows.append(
                [
                    name,
                    str(item["state"]),
                    str(item.get("reference") or "-"),
                    str(item.get("summary") or "-"),
                    ", ".join(item.get("approvers") or []) or "-",
                    str(item.get("expires_at") or "-"),
                    str(ended)[:60],
                ]
            )
    skipped = [item.problem() for item in store.unreadable()]
    if output == "json":
        emit_json({"approvals": data, "warnings": [w.to_json() for w in skipped]})
        return
    warn(skipped)
    if not rows:
        click.echo("no approval proposals", err=True)
        return
    click.echo(table(["SERVICE", "STATE", "WHERE", "ASKS", "APPROVERS", "EXPIRES", "ENDED"], rows))
