"""`reconciler report`: what an observe-mode trial would have done, per service."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from reconciler.cli.context import Settings
from reconciler.cli.output import OUTPUT_OPTION, emit_json, table, warn

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from reconciler.core.trail.trial import TrialService


@click.command("report")
@click.option(
    "--since",
    default="7d",
    show_default=True,
    help="From this time: a duration back from now (7d, 24h) or a time (2026-02-10T15:00:00Z).",
)
@click.option("--service", "-s", help="Only this service.")
@click.option(
    "--on",
    "cluster",
    help="Only the records made on this cluster (simulated, its identity, or a name the "
    "global policies declare): a trial on the simulator and one on a real cluster apart.",
)
@OUTPUT_OPTION
@click.pass_obj
def report_command(
    settings: Settings, since: str, service: str | None, cluster: str | None, output: str
) -> None:
    """Sum up an observe-mode trial: what the reconciler would have done, per service.

    A service in observe mode (`spec.mode: observe` in its blueprint, or `mode: observe` in
    the global policies) runs full cycles and records each outcome as what it would have
    been; nothing is changed or proposed. This reads those records: the decisions, how many
    would have been applied, proposed for approval or refused by governance, and the replicas
    the cluster actually ran beside those the reconciler would have set. ACTED counts the
    changes and proposals the reconciler really made in the span (none in a pure trial).

    \b
    Exit codes: 0 reported (also when there is no observe-mode record), 2 usage (a --since
                that is neither a duration nor a time), 3 no blueprint repository.

    \b
    Examples:
      reconciler report
      reconciler report --since 24h -s todo-frontend
      reconciler report -o json
    """
    from reconciler.cli.audit import clock_now, cluster_filter, iso_time, parse_when
    from reconciler.cli.compose import open_audit
    from reconciler.core.errors import ConfigError
    from reconciler.core.trail.trial import summarise_trial

    root = settings.root()
    now = clock_now(settings, root)
    try:
        start = parse_when(since, now)
    except ConfigError as error:
        raise click.BadParameter(f"{error} ({error.hint})", param_hint="'--since'") from None
    store = open_audit(root)
    summary = summarise_trial(
        filter(cluster_filter(root, cluster), store.scan(service=service, since=start, until=None))
    )
    skipped = [item.problem() for item in store.unreadable()]
    assert start is not None
    if output == "json":
        emit_json(
            {
                "since": iso_time(start),
                "until": iso_time(now),
                "services": [item.to_json() for item in summary],
                "warnings": [w.to_json() for w in skipped],
            }
        )
        return
    warn(skipped)
    _print_trial(summary, start, now)


def _print_trial(summary: Sequence[TrialService], start: datetime, now: datetime) -> None:
    from reconciler.cli.audit import iso_time

    if not summary:
        click.echo(
            f"no observe-mode records since {iso_time(start)}: set spec.mode: observe in a "
            "blueprint (or mode: observe in the global policies) and run cycles",
            err=True,
        )
        return
    click.echo(f"Observe-mode trial, {iso_time(start)} to {iso_time(now)}")
    click.echo(table(_HEADERS, [_row(item) for item in summary]))


_HEADERS = [
    "SERVICE",
    "DECISIONS",
    "WOULD APPLY",
    "WOULD PROPOSE",
    "WOULD REFUSE",
    "RAN",
    "WOULD RUN",
    "ACTED",
]


def _row(item: TrialService) -> list[object]:
    return [
        item.service,
        item.decisions,
        item.would_apply,
        item.would_propose,
        item.would_refuse,
        item.ran if item.ran is not None else "-",
        item.would_run if item.would_run is not None else "-",
        item.acted,
    ]
