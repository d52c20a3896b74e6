"""What reviewing one service's open proposals carries between its steps: the `Review`
itself, how records are committed (`Commit`), what every step works with (`Reviewing`), which
approval records a cycle judges from, and the forge status of a proposal still awaiting an
approver.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from reconciler.core.approvals.authorization import Authorization
from reconciler.core.approvals.feedback import ProposalStatus, Standing, proposal_status
from reconciler.core.approvals.pending import Pending
from reconciler.core.approvals.proposals import Proposal
from reconciler.core.approvals.recording import approval_record
from reconciler.core.blueprint.model import Blueprint
from reconciler.core.planning.outcomes import Note, NoteKind
from reconciler.core.trail.history import HISTORY_SPAN
from reconciler.core.trail.proposal_metadata import ProposalMetadata
from reconciler.core.trail.records import EventType, Outcome, Record
from reconciler.ports import AuditStore, Forge

__all__ = ["Commit", "Review", "Reviewing", "approval_records", "awaiting"]

Commit = Callable[[str, Sequence[Record]], "str | None"]


@dataclass
class Review:
    """What the open proposals of one service came to, before deciding."""

    open: dict[str, tuple[Pending, Proposal]] = field(default_factory=dict)
    authorizations: list[Authorization] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    #: Set when the blueprint is not one an approval stands behind (a refused edit, or an
    #: edit not judged yet): do not act on it.
    hold: str = ""
    #: Set when a blueprint edit was approved after this cycle loaded the blueprints: act on
    #: nothing until the next run loads the approved one.
    wait: str = ""
    #: Set when the forge could not be asked; proposals are left for the next run.
    error: str = ""


@dataclass(frozen=True, kw_only=True)
class Reviewing:
    """What each step of a review of one service's proposals works with: the blueprint, the
    forge, how records are committed, the moment, and the review it adds to."""

    blueprint: Blueprint
    forge: Forge
    commit: Commit
    now: datetime
    review: Review

    def approval(
        self,
        event: EventType,
        outcome: Outcome,
        metadata: Mapping[str, Any],
        proposal: Proposal | None,
        rationale: str,
        *,
        links: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Record:
        """The approval record of this review's service, made now."""
        return approval_record(
            event,
            outcome,
            self.blueprint,
            self.blueprint.name,
            metadata,
            proposal,
            rationale,
            self.now,
            links=links,
            extra=extra,
        )

    def settle(self, record: Record, subject: str, kind: NoteKind, text: str) -> None:
        """Every change of a proposal's standing is one commit of its record and one note in
        the run's review, so what the trail says and what the run reports cannot part."""
        self.commit(subject, [record])
        self.review.notes.append(Note(kind=kind, text=text))


def approval_records(audit: AuditStore, blueprint: Blueprint, now: datetime) -> list[Record]:
    """The service's approval records a cycle judges from (`AuditStore.approvals`). The
    window is the longest that judging looks back: a day, the approval timeout (a grant is
    usable that long) and the rejection cool-off (a rejection holds a proposal back that
    long); anything older that matters is found by the blueprint it names."""
    approval = blueprint.policy.approval
    window = max(
        HISTORY_SPAN,
        timedelta(seconds=approval.timeout),
        timedelta(seconds=approval.rejection_cooloff),
    )
    return audit.approvals(blueprint.name, digest=blueprint.digest, since=now - window)


def awaiting(metadata: ProposalMetadata, until: datetime | None) -> ProposalStatus:
    """The status of a proposal that an approver's merge would approve."""
    return proposal_status(Standing.AWAITING, approvers=list(metadata.approvers), until=until)
