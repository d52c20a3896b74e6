"""What a cycle says about a service, as codes: each note's kind and severity, each step's outcome.

Warnings, the exit code, the job summary, the annotations and `-o json` branch on these codes,
never on the text beside them, so rewording a message cannot change what a run reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Aside", "Note", "NoteKind", "NoteSeverity", "StepOutcome", "severity_of"]


class NoteSeverity(StrEnum):
    #: Said, and nothing more.
    INFO = "info"
    #: Someone should look into it, though nothing failed: the run still passes
    #: (docs/running-in-production.md#when-something-fails).
    WARNING = "warning"
    #: Automatic changes to the service stopped until a person acts: the run fails with it, so
    #: nobody misses it.
    NEEDS_PERSON = "needs_person"


class NoteKind(StrEnum):
    """What a note is about; its severity follows from it (`severity_of`)."""

    #: Every metrics source failed: the service was reconciled knowing no value.
    METRICS_UNAVAILABLE = "metrics_unavailable"
    #: A source failed or could not tell a value; the others' values were used.
    METRICS_INCOMPLETE = "metrics_incomplete"
    #: A scale-down's evidence could not be read, so it waits.
    METRIC_HISTORY_UNAVAILABLE = "metric_history_unavailable"
    #: A file under blueprints/ that no cycle reads (a `blueprint.yml`, say).
    FILE_IGNORED = "file_ignored"
    #: A change found on the deployment but missing from the trail, recorded now.
    CHANGE_RECOVERED = "change_recovered"
    #: A change made through git is running in the cluster: its verification counts from now.
    ROLLED_OUT = "rolled_out"
    VERIFIED = "verified"
    VERIFICATION_FAILED = "verification_failed"
    ROLLBACK_VERIFIED = "rollback_verified"
    ROLLBACK_VERIFICATION_FAILED = "rollback_verification_failed"
    #: A change that was not judged: superseded by a later one, or looked at too late.
    NOT_VERIFIED = "not_verified"
    BREAKER_OPENED = "breaker_opened"
    #: A failed change the reconciler could not, or may not, roll back: a person decides.
    ESCALATED = "escalated"
    APPROVED = "approved"
    APPROVAL_REFUSED = "approval_refused"
    APPROVAL_STALE = "approval_stale"
    LANDED_WITHOUT_APPROVAL = "landed_without_approval"
    #: An approval record the trail does not vouch for, left unused.
    APPROVAL_IGNORED = "approval_ignored"
    PROPOSAL_REJECTED = "proposal_rejected"
    PROPOSAL_EXPIRED = "proposal_expired"
    PROPOSAL_SUPERSEDED = "proposal_superseded"
    #: A proposal's branch was brought up to date with the main branch; it still approves.
    PROPOSAL_UPDATED_FROM_BASE = "proposal_updated_from_base"
    #: A person pushed to a proposal's branch: merging it approves nothing.
    PROPOSAL_EDITED = "proposal_edited"
    #: The forge did not answer a lookup, or did not close a proposal; the next run retries.
    FORGE_FAILED = "forge_failed"
    #: A pause began (spec.suspend, or the deployment's annotation), or ended.
    PAUSED = "paused"
    RESUMED = "resumed"
    #: Observe mode: the service's cycle recorded what it would do, and did nothing.
    OBSERVING = "observing"
    #: A deferred request that was not carried out: it no longer held, or waited too long.
    REQUEST_EXPIRED = "request_expired"
    #: The cluster did not take the Event that shows a change or refusal there; the change
    #: and its record stand.
    EVENT_NOT_POSTED = "event_not_posted"


_SEVERITIES = {
    NoteKind.METRICS_UNAVAILABLE: NoteSeverity.WARNING,
    NoteKind.METRICS_INCOMPLETE: NoteSeverity.WARNING,
    NoteKind.METRIC_HISTORY_UNAVAILABLE: NoteSeverity.WARNING,
    NoteKind.FILE_IGNORED: NoteSeverity.WARNING,
    NoteKind.EVENT_NOT_POSTED: NoteSeverity.WARNING,
    NoteKind.BREAKER_OPENED: NoteSeverity.NEEDS_PERSON,
    NoteKind.ESCALATED: NoteSeverity.NEEDS_PERSON,
}


def severity_of(kind: NoteKind) -> NoteSeverity:
    """How much a note of this kind asks of a person; every kind not named above is info."""
    return _SEVERITIES.get(kind, NoteSeverity.INFO)


@dataclass(frozen=True, kw_only=True)
class Note:
    """One thing a cycle says about a service beside its steps: a code and its words."""

    kind: NoteKind
    text: str

    @property
    def severity(self) -> NoteSeverity:
        return severity_of(self.kind)

    def to_json(self) -> dict[str, str]:
        return {"kind": str(self.kind), "severity": str(self.severity), "text": self.text}


class StepOutcome(StrEnum):
    """What became of one governed operation in a cycle or a request."""

    EXECUTED = "executed"
    FAILED = "failed"
    DEFERRED = "deferred"
    BLOCKED = "blocked"
    #: Awaiting approval (recorded as pending in the trail, or a proposal already open).
    PENDING = "pending"
    PROPOSED = "proposed"
    PROPOSAL_UPDATED = "proposal_updated"
    WOULD_EXECUTE = "would_execute"
    WOULD_PROPOSE = "would_propose"

    @property
    def label(self) -> str:
        """The outcome as the tables and totals print it: `proposal updated`."""
        return self.value.replace("_", " ")


class Aside(StrEnum):
    """Why an outcome did nothing new this time, printed in brackets after it."""

    #: An identical refusal was recorded within the hour: shown, not recorded again.
    ALREADY_RECORDED = "already recorded"
    #: The proposal is held back (a recent rejection, the per-run cap).
    NOT_PROPOSED = "not proposed"
    ALREADY_PROPOSED = "already proposed"
    TIMED_OUT = "timed out"
    EDITED_BY_A_PERSON = "a person is editing it"
    #: A person pushed to the proposal: commented rather than rewritten.
    COMMENTED = "commented"
