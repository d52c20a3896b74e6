"""A cycle's report as people read it: a row per service, the details of those that acted,
the services left to another cluster, and the totals."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from reconciler.cli.output import percent_cell, plural, table, warn
from reconciler.cli.summary import decision_cell

if TYPE_CHECKING:
    from reconciler.shell.reports import CycleReport, ServiceResult

__all__ = ["print_reports", "render_report"]


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
                percent_cell(result.weighted),
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
    if report.skipped:
        lines += ["", f"skipped, as another cluster's: {plural(len(report.skipped), 'service')}"]
        lines += [f"  {name}: {why}" for name, why in report.skipped]
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
    where = "" if report.cluster.simulated else f" on cluster {report.cluster.describe()}"
    lines += [
        "",
        f"cycle at {report.started_at:%Y-%m-%d %H:%M:%SZ}{where}: {reconciled}; "
        f"{summary}; {errors} with errors; {plural(len(report.commits), 'audit commit')}{mode}",
    ]
    return "\n".join(lines)


def print_reports(reports: Sequence[CycleReport], verbose: bool, ending: str) -> None:
    """The run's table, then each verification pass of --wait with only the services that
    acted, and how the wait ended."""
    warn(dict.fromkeys(w for report in reports for w in report.warnings))
    for index, report in enumerate(reports):
        if index:
            click.echo(f"\n--- verification pass at {report.started_at:%H:%M:%S}Z")
            click.echo(render_report(report, verbose=False, only_active=True))
        else:
            click.echo(render_report(report, verbose))
    if ending:
        click.echo(f"\n--wait: {ending}")
