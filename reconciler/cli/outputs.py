"""Step outputs of a run for GitHub Actions (`--outputs FILE`), derived from its audit records.

A workflow's later steps want to know what a run did: which services it changed, which
approval proposals it opened, whether a person must now act. Those facts are the audit records
the run committed, whose event types are a closed set; so the composition root wraps the audit
store in one that remembers what was appended, and the outputs are read off those records,
never off the words of a report.

The option and the recording store load with the commands that take `--outputs`; the outputs
themselves (`step_outputs.py`) load only when a run was asked to write them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from reconciler.core.trail.commits import CommitMessage
    from reconciler.core.trail.records import EventType, Record, UnreadableRecord
    from reconciler.ports import AuditStore

__all__ = ["OUTPUTS_OPTION", "RecordingAudit"]

F = TypeVar("F", bound=Callable[..., Any])


def OUTPUTS_OPTION(command: F) -> F:
    option = click.option(
        "--outputs",
        "outputs_path",
        type=click.Path(dir_okay=False, path_type=Path),
        metavar="FILE",
        help='Append step outputs to FILE as NAME=VALUE lines (on Actions: "$GITHUB_OUTPUT"): '
        "services-changed and proposals-opened (JSON lists), needs-person (true/false).",
    )
    return option(command)


class RecordingAudit:
    """An AuditStore that passes everything to the real one and keeps what was appended."""

    def __init__(self, inner: AuditStore) -> None:
        self.inner = inner
        self.appended: list[Record] = []

    def append(self, records: Sequence[Record], message: CommitMessage) -> str:
        sha = self.inner.append(records, message)
        self.appended.extend(records)
        return sha

    def history(self, service: str, since: datetime) -> list[Record]:
        return self.inner.history(service, since)

    def latest(self, service: str, events: Collection[EventType]) -> Record | None:
        return self.inner.latest(service, events)

    def contains(self, service: str, at: datetime, record_id: str) -> bool:
        return self.inner.contains(service, at, record_id)

    def flush(self) -> None:
        self.inner.flush()

    def events(self, service: str, events: Collection[EventType]) -> list[Record]:
        return self.inner.events(service, events)

    def approvals(self, service: str, *, digest: str, since: datetime) -> list[Record]:
        return self.inner.approvals(service, digest=digest, since=since)

    def scan(
        self,
        *,
        service: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Iterator[Record]:
        return self.inner.scan(service=service, since=since, until=until)

    def unreadable(self, service: str | None = None) -> list[UnreadableRecord]:
        return self.inner.unreadable(service)
