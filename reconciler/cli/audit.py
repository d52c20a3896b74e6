"""`reconciler audit` and `reconciler explain`: the audit trail, filtered, and the chain of
records behind one id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler.cli.context import Settings
from reconciler.cli.output import OUTPUT_OPTION, emit_json, plural, table, warn
from reconciler.core.errors import ReconcilerError
from reconciler.core.trail.clusters import SIMULATED

if TYPE_CHECKING:
    from reconciler.core.trail.records import EventType, Record


def parse_when(text: str | None, now: datetime) -> datetime | None:
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


def clock_now(settings: Settings, root: Path) -> datetime:
    """The cycle's clock: virtual for the simulated cluster, the wall clock otherwise."""
    from reconciler.cli.compose import sim_state_path

    if settings.cluster == "simulated" and sim_state_path(root, settings.sim_state).exists():
        from reconciler.cli.compose import open_simulation

        return open_simulation(root, settings.sim_state).now()
    return datetime.now(UTC)


def _record_rows(records: Iterable[Record], clusters: bool = False) -> list[list[str]]:
    from reconciler.core.planning.events import short

    return [
        [
            f"{r.timestamp:%Y-%m-%d %H:%M:%S}Z",
            *([r.cluster or "-"] if clusters else []),
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
@click.option(
    "--on",
    "cluster",
    help="Only the records made on this cluster: simulated, a cluster's identity, or a name "
    "the global policies declare; `-` for records written before records named theirs.",
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
    cluster: str | None,
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

    wanted = _event_types(events)
    root = settings.root()
    start, end = _time_range(settings, root, since, until)
    store = open_audit(root)
    made_on = cluster_filter(root, cluster)
    records = [
        r
        for r in store.scan(service=service, since=start, until=end)
        if (not wanted or r.event_type in wanted) and made_on(r)
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
    _print_records(records)


def _print_records(records: Sequence[Record]) -> None:
    if not records:
        click.echo("no records match", err=True)
        return
    # Records of the simulated cluster alone need no column saying so.
    clusters = any(r.cluster != SIMULATED for r in records)
    click.echo(
        table(
            [
                "TIME",
                *(["CLUSTER"] if clusters else []),
                "SERVICE",
                "EVENT",
                "OPERATION",
                "OUTCOME",
                "ID",
                "RATIONALE",
            ],
            _record_rows(records, clusters),
        )
    )


def cluster_filter(root: Path, cluster: str | None) -> Callable[[Record], bool]:
    """Whether a record was made on the cluster `--on CLUSTER` names (any, without --on): a
    name the committed policies declare stands for its identity; anything else is taken as an
    identity already, `-` for records written before records named theirs."""
    if cluster is None:
        return lambda _record: True
    from reconciler.cli.compose import committed_fleet

    try:
        declared = committed_fleet(root).policies.clusters
    except ReconcilerError:
        declared = ()
    on = next((c.identity for c in declared if c.name == cluster), cluster)
    return lambda record: (record.cluster or "-") == on


def _event_types(events: Sequence[str]) -> set[EventType]:
    """The event types of -e, as a usage error (exit 2) naming the option for one that does
    not exist, like click's own checks, rather than a configuration error."""
    from reconciler.core.trail.records import EventType

    wanted = set()
    for event in events:
        try:
            wanted.add(EventType(event))
        except ValueError:
            raise click.BadParameter(
                f"unknown event type {event!r}; valid: {', '.join(e.value for e in EventType)}",
                param_hint="'--event' / '-e'",
            ) from None
    return wanted


def _time_range(
    settings: Settings, root: Path, since: str | None, until: str | None
) -> tuple[datetime | None, datetime | None]:
    """--since and --until as moments on the cycle's clock; a range that runs backwards is a
    usage error, since "no records match" would hide the mistake."""
    from reconciler.core.errors import ConfigError

    now = clock_now(settings, root)

    def moment(option: str, text: str | None) -> datetime | None:
        try:
            return parse_when(text, now)
        except ConfigError as error:
            raise click.BadParameter(f"{error} ({error.hint})", param_hint=f"'{option}'") from None

    start, end = moment("--since", since), moment("--until", until)
    if start is not None and end is not None and start > end:
        raise click.UsageError(
            f"--since {since} ({iso_time(start)}) is later than --until {until} ({iso_time(end)}); "
            "the range runs from --since to --until, so swap them"
        )
    return start, end


def iso_time(moment: datetime) -> str:
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
        lines += _body_lines(record)
    return lines


def _body_lines(record: Record) -> list[str]:
    """What `explain` shows of a record's body beside its rationale: a verdict's rules,
    safety checks and alternatives, a refusal's alternatives, a change's manifest commit and
    a verification's checks."""
    from reconciler.core.trail.bodies import (
        ExecutionBody,
        GovernanceBody,
        RefusalBody,
        VerificationBody,
    )
    from reconciler.core.trail.operation_bodies import Alternative

    body = record.details
    lines = []
    if isinstance(body, GovernanceBody):
        for rule in body.rules:
            shown = rule.evaluated or rule.condition or "(no condition)"
            lines.append(f"    rule {rule.reference}: {shown} → {rule.result}")
        for safety in body.safety_checks:
            lines.append(
                f"    safety {safety.name}: {'ok' if safety.ok else 'NOT OK'} ({safety.detail})"
            )
    alternatives: tuple[Alternative, ...] = ()
    if isinstance(body, GovernanceBody):
        alternatives = body.alternatives
    elif isinstance(body, RefusalBody):
        alternatives = tuple(Alternative.from_json(raw) for raw in body.alternatives)
    for alternative in alternatives:
        replicas = alternative.replicas
        lines.append(
            f"    alternative {alternative.operation}"
            + (f" to {replicas} replicas" if replicas is not None else "")
            + f" [{alternative.classification}]: {alternative.description}"
        )
    if isinstance(body, ExecutionBody) and body.write_back is not None:
        write_back = body.write_back
        where = f" of {write_back['repository']}" if write_back.get("repository") else ""
        files = ", ".join(str(f) for f in write_back.get("files") or [])
        lines.append(
            f"    commit {write_back.get('commit')} to {files} on {write_back.get('branch')}{where}"
        )
    if isinstance(body, VerificationBody):
        for check in body.checks:
            lines.append(
                f"    check {check.check}: expected {check.expected}, actual {check.actual}"
                f" → {check.status} ({check.severity})"
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
    where = {r.cluster or "-" for r in chain}
    on = f" (cluster {', '.join(sorted(where))})" if where != {SIMULATED} else ""
    click.echo(f"{chain[0].service}: {plural(len(chain), 'record')} linked to {record_id}{on}\n")
    click.echo("\n".join(_explain_lines(chain)))
