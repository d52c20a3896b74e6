"""What one service's cycle comes to: steps to carry out, notes to commit, and the plan
that holds them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.core.decide.decision import Decision
from reconciler.core.decide.governance import (
    OperationRequest,
    Verdict,
)
from reconciler.core.observed.changes import Change
from reconciler.core.planning.events import (
    Chain,
)
from reconciler.core.planning.outcomes import Note, NoteKind
from reconciler.core.trail.records import Record


@dataclass(frozen=True, kw_only=True)
class Step:
    """One governed operation: what was asked, the verdict, and what to do about it."""

    request: OperationRequest
    verdict: Verdict
    chain: Chain
    #: The change to apply when the verdict is to execute; None otherwise.
    change: Change | None
    #: Records to commit now; for an executed change, the outcome record is added after it.
    records: tuple[Record, ...]
    subject: str
    #: An identical refusal was recorded within the last hour; shown, not recorded again.
    repeated: bool = False
    #: What the executed record keeps for its verification: the baseline and expectations.
    context: Mapping[str, Any] = field(default_factory=dict)
    #: The approval this operation carries out, for the re-check at the moment of acting.
    approved_by: str = ""
    #: Observe mode: the verdict is recorded as what it would have led to; no change is made
    #: and nothing is proposed, whatever the verdict.
    observed: bool = False


@dataclass(frozen=True, kw_only=True)
class NoteCommit:
    """A commit that belongs to no operation: a verification, a breaker opening, a recovered
    change, an escalation. Its subject is also the note the service's row shows."""

    kind: NoteKind
    subject: str
    records: tuple[Record, ...]

    def note(self) -> Note:
        return Note(kind=self.kind, text=self.subject)


@dataclass(frozen=True, kw_only=True)
class ServicePlan:
    service: str
    decision: Decision | None
    steps: tuple[Step, ...] = ()
    notes: tuple[NoteCommit, ...] = ()
    needs_window: bool = False
    #: Set while a change awaits its verification: no new change until it is verified.
    waiting: str = ""
    #: What pauses the service (`spec.suspend: true`, or the deployment's annotation).
    paused: str = ""
