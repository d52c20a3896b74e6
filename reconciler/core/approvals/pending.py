"""Proposals waiting for an answer, folded from the audit trail: the latest state of each, and
the marks the trail leaves for the next cycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from reconciler.core.approvals.lifecycle import CONCLUDED, Kind
from reconciler.core.ids import utc
from reconciler.core.trail import lazy_bodies
from reconciler.core.trail.proposal_metadata import ProposalMetadata
from reconciler.core.trail.records import EventType, Outcome, Record

__all__ = ["Pending", "PendingFold", "pending_proposals", "trail_marks"]


@dataclass(frozen=True, kw_only=True)
class Pending:
    """A proposal the trail says is open: its latest request/update record."""

    record: Record
    key: str
    kind: Kind
    branch: str
    number: int | None
    head: str
    metadata: ProposalMetadata
    created_at: datetime
    expires_at: datetime
    #: Set once the reconciler commented that it stopped updating (a person pushed).
    hands_off: bool = False
    timed_out: bool = False

    @property
    def target(self) -> int | None:
        return self.metadata.target_replicas

    @property
    def paths(self) -> tuple[str, ...]:
        """The proposed files, as the trail recorded them: what the forge is asked to read.
        Never taken from the branch or the body, where anyone who can push or edit the pull
        request could list none, so that the merged blueprint would go unread."""
        return proposed_paths(self.metadata)


def proposed_paths(metadata: ProposalMetadata) -> tuple[str, ...]:
    listed = [*metadata.files, *metadata.digests]
    return tuple(sorted({str(path) for path in listed}))


def approval_of(record: Record) -> str:
    """The approval id a record is about."""
    return str(
        record.links.get("approval")
        or lazy_bodies.body_of(record, lazy_bodies.ApprovalBody).approval_id
        or record.id
    )


def pending_proposals(records: Sequence[Record]) -> list[Pending]:
    """Proposals requested (or updated) and not yet concluded, from a service's approval
    records (any age)."""
    fold = PendingFold()
    for record in sorted(records, key=Record.sort_key):
        fold.step(record)
    return fold.result()


def trail_marks(record: Record) -> frozenset[str]:
    """What an approval record can matter for long after it was written, as marks the trail
    index keeps (docs/audit-trail.md): `id:<approval>` for each approval id it belongs to
    (a proposal's records are taken together: `_unvouched`, `landed_without_approval`,
    `_granted_later`), `digest:<sha>` for each blueprint digest it names (a refused or granted
    merge, a proposed file: `_refused_blueprint`, `landed_without_approval`), and
    `refusal-unknown` for a refused merge that left no file to name (`_refused_blueprint`
    holds it while the blueprint is loaded from another path)."""
    body = lazy_bodies.body_of(record, lazy_bodies.ApprovalBody)
    ids = {record.links.get("approval"), body.approval_id, record.id}
    marks = {f"id:{value}" for value in ids if isinstance(value, str) and value}
    named = [*body.metadata.digests.values()]
    named.append(body.merged_blueprint_digest)
    marks |= {f"digest:{value}" for value in named if isinstance(value, str) and value}
    if (
        record.event_type is EventType.APPROVAL_REFUSED
        and body.names_merged_digest
        and body.merged_blueprint_digest is None
    ):
        marks.add("refusal-unknown")
    return frozenset(marks)


@dataclass
class PendingFold:
    """`pending_proposals` one record at a time, in the trail's order, so that a reader can
    stop and go on: where the fold is empty (no proposal open), the records before it no
    longer matter to which proposals are pending, which is how the trail index reads only
    the records a cycle needs (docs/audit-trail.md)."""

    #: By proposal key: its latest request or update, its first record, and its flags.
    latest: dict[str, Record] = field(default_factory=dict)
    first: dict[str, Record] = field(default_factory=dict)
    flags: dict[str, dict[str, bool]] = field(default_factory=dict)

    def step(self, record: Record) -> None:
        body = lazy_bodies.body_of(record, lazy_bodies.ApprovalBody)
        key = body.key
        if not key:
            return
        current = self.latest.get(key)
        if (
            current is not None
            and record.event_type is not EventType.APPROVAL_UPDATED
            and record.event_type is not EventType.APPROVAL_REQUESTED
            and approval_of(record) != approval_of(current)
        ):
            # The end (or time-out) of an earlier proposal on the same topic, recorded in the
            # same instant as its successor's request and sorted after it: it does not end
            # the successor.
            return
        if record.event_type in CONCLUDED and record.outcome is not Outcome.PENDING:
            self.latest.pop(key, None)
            self.first.pop(key, None)
            self.flags.pop(key, None)
            return
        if record.event_type in {
            EventType.APPROVAL_REQUESTED,
            EventType.APPROVAL_UPDATED,
            EventType.APPROVAL_EXPIRED,
        }:
            self.first.setdefault(key, record)
            if record.event_type is not EventType.APPROVAL_EXPIRED:
                self.latest[key] = record
            state = self.flags.setdefault(key, {})
            state["hands_off"] = state.get("hands_off", False) or body.hands_off
            state["timed_out"] = (
                state.get("timed_out", False) or record.event_type is EventType.APPROVAL_EXPIRED
            )

    def empty(self) -> bool:
        """Whether nothing is carried over: the records folded so far decide nothing about
        the ones to come."""
        return not (self.latest or self.first or self.flags)

    def result(self) -> list[Pending]:
        result = []
        for key, record in self.latest.items():
            body = lazy_bodies.body_of(record, lazy_bodies.ApprovalBody)
            metadata = body.metadata
            result.append(
                Pending(
                    record=record,
                    key=key,
                    kind=Kind(metadata.kind or "request"),
                    branch=body.branch or "",
                    number=body.number,
                    head=body.head or "",
                    metadata=metadata,
                    created_at=metadata.created or utc(self.first[key].timestamp),
                    expires_at=metadata.expires or utc(record.timestamp),
                    hands_off=self.flags[key].get("hands_off", False),
                    timed_out=self.flags[key].get("timed_out", False),
                )
            )
        return result
