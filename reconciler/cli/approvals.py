"""`reconciler approvals`: the approval proposals and what became of them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from reconciler.cli.context import Settings
from reconciler.cli.output import OUTPUT_OPTION, emit_json, table, warn


@click.command("approvals")
@click.option("--service", "-s", help="Only this service.")
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice(["pending", "approved", "rejected", "expired", "superseded", "refused"]),
    help="Only proposals in this state (repeatable).",
)
@click.option(
    "--on",
    "cluster",
    help="Only the proposals made on this cluster (simulated, its identity, or a name the "
    "global policies declare).",
)
@OUTPUT_OPTION
@click.pass_obj
def approvals_command(
    settings: Settings,
    service: str | None,
    states: tuple[str, ...],
    cluster: str | None,
    output: str,
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
    from reconciler.cli.audit import cluster_filter
    from reconciler.cli.compose import open_audit
    from reconciler.core.approvals.lifecycle import APPROVAL_EVENTS
    from reconciler.core.approvals.recording import approval_summaries

    root = settings.root()
    store = open_audit(root)
    services = [service] if service else store.services()
    rows, data = [], []
    made_on = cluster_filter(root, cluster)
    for name in services:
        records = [r for r in store.events(name, APPROVAL_EVENTS) if made_on(r)]
        for item in approval_summaries(records):
            if states and item["state"] not in states:
                continue
            data.append(item)
            rows.append(_row(name, item))
    skipped = [item.problem() for item in store.unreadable()]
    if output == "json":
        emit_json({"approvals": data, "warnings": [w.to_json() for w in skipped]})
        return
    warn(skipped)
    if not rows:
        click.echo("no approval proposals", err=True)
        return
    click.echo(table(["SERVICE", "STATE", "WHERE", "ASKS", "APPROVERS", "EXPIRES", "ENDED"], rows))


def _row(service: str, item: Mapping[str, Any]) -> list[str]:
    """A proposal's row: where it is, what it asks, who may approve it, and how it ended."""
    ended = item.get("merged_by") or item.get("reason") or "-"
    return [
        service,
        str(item["state"]),
        str(item.get("reference") or "-"),
        str(item.get("summary") or "-"),
        ", ".join(item.get("approvers") or []) or "-",
        str(item.get("expires_at") or "-"),
        str(ended)[:60],
    ]
