"""The dashboard issue after a run, and `reconciler dashboard --run-failed`.

Why it exists: a run's report says, service by service, what needs a person, which proposals
wait and which services fail; this module turns the reports of one run into the dashboard
(`core.dashboard.Board`) and hands it to the GitHub adapter, and lets a workflow's last step
put a run that failed before it could say anything on the same issue.

Main design choice: the dashboard is a courtesy beside the audit trail, so a failure to update
it is a warning (and an annotation on Actions), never the run's failure. It is updated only by
a run that covered its whole shard: a run of some services alone would drop the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from reconciler.cli.context import Settings, env_flag

if TYPE_CHECKING:
    from reconciler.adapters.github_forge import GitHubForge
    from reconciler.core.approvals.dashboard import Board
    from reconciler.shell.reports import CycleReport, ServiceResult
    from reconciler.shell.workspace import Fleet

__all__ = ["board_of", "dashboard_command", "publish_dashboard"]


def board_of(
    reports: Sequence[CycleReport],
    fleet: Fleet,
    *,
    shard: str,
    org: str,
    run_failure: str,
    run_url: str,
) -> Board:
    """What the run saw, for the dashboard: each service as its last pass left it."""
    from reconciler.core.approvals.codeowners import mention_handles
    from reconciler.core.approvals.dashboard import Board, Concern
    from reconciler.core.planning.outcomes import StepOutcome

    last: dict[str, ServiceResult] = {}
    unproposed: dict[tuple[str, str], None] = {}
    for report in reports:
        for result in report.services:
            last[result.service] = result
            for what in result.unproposed:
                unproposed.setdefault((result.service, what))
    attention = tuple(c for result in last.values() for c in result.attention)
    held = {c.service for c in attention}
    failing = []
    for result in last.values():
        failed = [step.detail for step in result.steps if step.kind is StepOutcome.FAILED]
        if result.error and result.service not in held:
            failed.insert(0, result.error)
        if failed:
            failing.append(Concern(service=result.service, kind=None, detail="; ".join(failed)))
    blueprints = {b.name: b for b in fleet.blueprints}
    approvers = {
        c.service: mention_handles(blueprints[c.service], fleet.policies, org)
        for c in attention
        if c.service in blueprints
    }
    return Board(
        shard=shard,
        attention=attention,
        failing=tuple(failing),
        waiting=tuple(w for result in last.values() for w in result.proposals),
        unproposed=tuple(unproposed),
        run_failure=run_failure,
        run_url=run_url,
        now=reports[0].started_at if reports else None,
        approvers=approvers,
    )


def publish_dashboard(
    forge: GitHubForge, board: Board, *, succeeded: bool, run_id: str = "", quiet: bool = False
) -> None:
    """Update the dashboard issue; a failure is a warning, never the run's."""
    from dataclasses import replace

    from reconciler.adapters.github_dashboard import GitHubDashboard
    from reconciler.core.errors import ForgeError
    from reconciler.core.problems import workflow_command

    dashboard = GitHubDashboard(forge, board.shard)
    board = replace(board, last_success=dashboard.last_success)
    try:
        result = dashboard.publish(board, run_id=run_id)
    except ForgeError as error:
        click.echo(f"warning: the dashboard was not updated: {error}", err=True)
        if env_flag("GITHUB_ACTIONS"):
            click.echo(workflow_command("warning", str(error), title="dashboard not updated"))
        return
    if succeeded:
        dashboard.succeeded(datetime.now(UTC))
    if result.action not in ("none", "unchanged") and not quiet:
        click.echo(f"dashboard #{result.number} {result.action}: {result.url}", err=True)


@click.command("dashboard")
@click.option(
    "--run-failed",
    "failure",
    metavar="WHY",
    required=True,
    help="Say on the dashboard that the run failed, and why (the workflow's last step, "
    "when an earlier one failed).",
)
@click.option(
    "--shard",
    envvar="RECONCILER_SHARD",
    show_envvar=True,
    metavar="I/N",
    default="",
    help="The shard whose dashboard it is (one per shard, as `run --shard`).",
)
@click.pass_obj
def dashboard_command(settings: Settings, failure: str, shard: str) -> None:
    """Put a failed run on the dashboard issue (GitHub forge only).

    A run that gets as far as reconciling updates the dashboard itself; this is for a run
    that failed before (a configuration error, an install that failed), so that it lands on
    the dashboard too. The services' lists stay as the last run left them.

    \b
    Exit codes: 0 updated (or nothing to do), 2 usage (no --run-failed, a --shard that
                does not parse), 3 not the GitHub forge, or no token,
                4 GitHub refused or did not answer.

    \b
    Examples:
      reconciler dashboard --run-failed "the Reconcile step failed"
    """
    from reconciler.adapters.github_dashboard import GitHubDashboard
    from reconciler.cli.compose import Environment, open_forge
    from reconciler.core.approvals.dashboard import Board
    from reconciler.core.errors import ConfigError
    from reconciler.core.planning.sharding import parse_shard

    if settings.forge != "github":
        raise ConfigError(
            "the dashboard is an issue on GitHub: it needs the GitHub forge",
            hint="pass --forge github (RECONCILER_FORGE=github)",
        )
    try:
        parsed = parse_shard(shard) if shard else None
    except ConfigError as error:
        raise click.BadParameter(str(error), param_hint="'--shard'") from None
    part = str(parsed) if parsed is not None and parsed.count > 1 else ""
    root = settings.root()
    forge = open_forge(root, settings, None, lambda: datetime.now(UTC))
    assert forge is not None
    from reconciler.adapters.github_forge import GitHubForge

    assert isinstance(forge, GitHubForge)
    env = Environment.read()
    try:
        dashboard = GitHubDashboard(forge, part)
        result = dashboard.keep_with_failure(
            Board(shard=part, run_failure=failure, run_url=env.run_url), run_id=env.run_id
        )
    finally:
        forge.disconnect()
    click.echo(f"dashboard #{result.number} {result.action}: {result.url}", err=True)
