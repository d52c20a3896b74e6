"""Step outputs of a run for GitHub Actions (`--outputs FILE`), derived from its audit records.

A workflow's later steps want to know what a run did: which services it changed, which
approval proposals it opened, whether a person must now act. Those facts are the audit records
the run committed, whose event types are a closed set; so the composition root wraps the audit
store in one that remembers what was appended, and the outputs are read off those records,
never off the words of a report.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from reconciler.core.trail.commits import CommitMessage
    from reconciler.core.trail.records import EventType, Record, UnreadableRecord
    from reconciler.ports import AuditStore

__all__ = ["OUTPUTS_OPTION", "ActionOutputs", "RecordingAudit", "write_outputs"]

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


@dataclass(frozen=True, kw_only=True)
class ActionOutputs:
    #: Services whose deployment the run changed: an operation or a rollback carried out.
    services_changed: tuple[str, ...]
    #: The approval proposals the run opened: a pull request's URL, or a local forge's branch.
    proposals_opened: tuple[str, ...]
    #: Whether the run stopped automatic changes to a service until a person acts: a circuit
    #: breaker opened, or a failed change escalated.
    needs_person: bool

    @classmethod
    def of(cls, records: Sequence[Record]) -> ActionOutputs:
        from reconciler.core.trail.bodies import ApprovalBody, body_of
        from reconciler.core.trail.records import EventType

        changes = {EventType.OPERATION_EXECUTED, EventType.ROLLBACK_EXECUTED}
        person = {EventType.BREAKER_OPENED, EventType.ESCALATED}
        proposals: dict[str, None] = {}
        for record in records:
            if record.event_type is EventType.APPROVAL_REQUESTED:
                # A pull request's address; the local forge has only a branch.
                proposal = body_of(record, ApprovalBody)
                where = proposal.url if proposal.number else proposal.branch
                if where:
                    proposals.setdefault(str(where))
        return cls(
            services_changed=tuple(sorted({r.service for r in records if r.event_type in changes})),
            proposals_opened=tuple(proposals),
            needs_person=any(r.event_type in person for r in records),
        )

    def lines(self) -> list[str]:
        return [
            f"services-changed={json.dumps(list(self.services_changed))}",
            f"proposals-opened={json.dumps(list(self.proposals_opened))}",
            f"needs-person={'true' if self.needs_person else 'false'}",
        ]


def write_outputs(path: Path, records: Sequence[Record]) -> None:
    """Append the outputs, as Actions reads `GITHUB_OUTPUT` (one `NAME=VALUE` a line; JSON
    keeps every value on one line)."""
    with path.open("a", encoding="utf-8") as handle:
        handle.write("".join(line + "\n" for line in ActionOutputs.of(records).lines()))
