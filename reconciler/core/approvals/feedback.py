"""What the reconciler tells people where they look: a proposal's status, and its last word.

Why it exists: the audit trail says everything, but reviewers look at the pull request. Before
a merge, a commit status on the proposal's head (`reconciler/approval`) says whether merging it
now would be an approval; after the proposal ends, one comment says what came of it: granted
by whom and what was done, or refused, why, and the merge commit to revert. Deciding code
hands this module codes (`Standing`, `Ending`) and facts; this module alone words them.

Main design choice: a status is green only when an approver's merge would really approve
something. GitHub shows a required check that is `pending` as blocking, so "waiting for an
approver" is `success` (merging by an approver is exactly what is wanted), and everything that
makes a merge approve nothing (the branch changed, it expired, it ended) is `failure`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from reconciler.core.trail import lazy_bodies
from reconciler.core.trail.proposal_metadata import ProposalMetadata
from reconciler.core.trail.records import EventType, Record, record_path

__all__ = [
    "ENDINGS",
    "FOLLOWING",
    "STATUS_CONTEXT",
    "ProposalStatus",
    "Standing",
    "StatusState",
    "TrailLinks",
    "asked_for",
    "outcome_comment",
    "proposal_status",
]

#: The commit status context the reconciler sets on its proposals (what a ruleset requires).
STATUS_CONTEXT = "reconciler/approval"
#: GitHub refuses a status description longer than this.
DESCRIPTION_LIMIT = 140


class StatusState(StrEnum):
    """GitHub's commit status states."""

    SUCCESS = "success"
    FAILURE = "failure"
    PENDING = "pending"
    ERROR = "error"


class Standing(StrEnum):
    """What merging a proposal now would come to."""

    #: An approver's merge approves it (until it expires).
    AWAITING = "awaiting"
    #: Its branch is no longer what the reconciler proposed: merging approves nothing.
    CHANGED = "changed"
    #: It expired and was left open for a person: merging approves nothing.
    TIMED_OUT = "timed_out"
    #: Merged and granted.
    GRANTED = "granted"
    #: Merged, and the merge approves nothing.
    REFUSED = "refused"
    #: Closed (rejected, expired, superseded, or its change landed without approval).
    ENDED = "ended"


_STATES = {
    Standing.AWAITING: StatusState.SUCCESS,
    Standing.GRANTED: StatusState.SUCCESS,
    Standing.CHANGED: StatusState.FAILURE,
    Standing.TIMED_OUT: StatusState.FAILURE,
    Standing.REFUSED: StatusState.FAILURE,
    Standing.ENDED: StatusState.FAILURE,
}


@dataclass(frozen=True, kw_only=True)
class ProposalStatus:
    """A commit status for a proposal's head."""

    standing: Standing
    state: StatusState
    description: str
    context: str = STATUS_CONTEXT


def _short(text: str, limit: int = DESCRIPTION_LIMIT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def proposal_status(
    standing: Standing,
    *,
    approvers: Sequence[str] = (),
    until: datetime | None = None,
    who: str = "",
    reason: str = "",
) -> ProposalStatus:
    """The status for a standing, worded for the pull request's checks list (140 characters
    at most, GitHub's limit)."""
    when = f" until {until:%Y-%m-%d %H:%M}Z" if until is not None else ""
    names = ", ".join(approvers) or "no approver configured"
    text = {
        Standing.AWAITING: f"Merging approves this if an approver merges ({names}){when}",
        Standing.CHANGED: "The branch changed after it was proposed: merging approves nothing",
        Standing.TIMED_OUT: (
            f"Expired{' at ' + format(until, '%Y-%m-%d %H:%M') + 'Z' if until else ''}: "
            "merging approves nothing"
        ),
        Standing.GRANTED: f"Approved by {who or 'an approver'}",
        Standing.REFUSED: f"Merged, but approves nothing: {reason}",
        Standing.ENDED: f"{reason or 'Closed'}: merging approves nothing",
    }[standing]
    return ProposalStatus(standing=standing, state=_STATES[standing], description=_short(text))


# ---------------------------------------------------------------------------------------------
# Links, and the last word on a proposal


@dataclass(frozen=True, kw_only=True)
class TrailLinks:
    """Where people read more: the audit trail's files on the default branch (`blob`, such as
    `https://github.com/acme/blueprints/blob/main`) and the page of the run (`run`). Either
    may be empty (not on Actions, the local forge): nothing is linked then."""

    blob: str = ""
    run: str = ""

    def record(self, record: Record) -> str:
        return self.file(record_path(record))

    def file(self, path: str) -> str:
        """The page of a file of the repository on the default branch, or ""."""
        return f"{self.blob}/{path}" if self.blob else ""

    def lines(self, record: Record | None, what: str) -> list[str]:
        """`See [the audit record](...) and [the run](...).`, or nothing to link."""
        refs = []
        url = self.record(record) if record is not None else ""
        if url:
            refs.append(f"[{what}]({url})")
        if self.run:
            refs.append(f"[the run]({self.run})")
        return ["See " + " and ".join(refs) + "."] if refs else []


#: What follows a grant, in the order it happens.
_DONE = (EventType.OPERATION_EXECUTED, EventType.OPERATION_FAILED, EventType.OPERATION_BLOCKED)
_CHECKED = frozenset(
    {
        EventType.VERIFICATION_PASSED,
        EventType.VERIFICATION_FAILED,
        EventType.VERIFICATION_SKIPPED,
        EventType.ROLLBACK_EXECUTED,
        EventType.ROLLBACK_FAILED,
        EventType.ROLLBACK_VERIFIED,
        EventType.ROLLBACK_VERIFICATION_FAILED,
        EventType.ESCALATED,
    }
)
#: The approval records that end a proposal with a comment of its own.
ENDINGS = frozenset(
    {EventType.APPROVAL_GRANTED, EventType.APPROVAL_REFUSED, EventType.APPROVAL_REJECTED}
)
FOLLOWING = frozenset({*_DONE, *_CHECKED})


def asked_for(metadata: ProposalMetadata) -> str:
    """What a proposal asked for, in a few words: `max_replicas → 6`, `scale to 8 replicas`."""
    if metadata.fields:
        return ", ".join(f"`{name}` → {value}" for name, value in metadata.fields.items())
    operation = metadata.operation or "an operation"
    target = metadata.target_replicas
    return f"`{operation}`" + (f" to {target} replicas" if target is not None else "")


def outcome_comment(
    ending: Record, following: Sequence[Record], links: TrailLinks = TrailLinks()
) -> str:
    """The comment on a proposal once it ended (`ending`: its granted, refused or rejected
    record), with what followed a grant (`following`: the operations that carried it out,
    their verifications and rollbacks, oldest first). It is written again as more follows,
    so it always says the whole story so far."""
    body = lazy_bodies.body_of(ending, lazy_bodies.ApprovalBody)
    metadata = body.metadata
    service = ending.service
    asked = asked_for(metadata)
    lines: list[str] = []
    if ending.event_type is EventType.APPROVAL_GRANTED:
        who = body.merged_by or "an approver"
        lines.append(f"✅ **Approved by {who}**: {service}, {asked}.")
        done = [r for r in following if r.event_type in _DONE]
        checked = [r for r in following if r.event_type in _CHECKED]
        if not done and metadata.kind == "blueprint":
            lines += ["", "The new policy is in git; the next decision follows it."]
        elif not done:
            lines += ["", "It is carried out by a coming run (after a cooldown, say)."]
        if done:
            lines.append("")
        for record in [*done, *checked]:
            words = _FOLLOW_WORDS.get(record.event_type, "")
            lines.append(f"- {words}{_shown(record)}")
        if done and not checked and done[-1].event_type is EventType.OPERATION_EXECUTED:
            lines.append("- Its verification is due after the stabilization period.")
    elif ending.event_type is EventType.APPROVAL_REFUSED:
        lines.append(f"⛔ **Refused**: this approves nothing for {service} ({asked}).")
        reasons = [f"- {r}" for r in body.reasons]
        lines += ["", "Why:", *(reasons or [f"- {ending.rationale}"])]
        merge = body.merge_commit or ""
        if merge:
            held = metadata.kind == "blueprint"
            lines += [
                "",
                f"**To fix it**: revert the merge, `git revert -m 1 {merge}` (a squash or a "
                f"rebase: `git revert {merge}`), "
                + (
                    f"and {service} stays held until then; then let the reconciler propose "
                    "the change again, or make it through an approved proposal."
                    if held
                    else "so that the request file is not taken for an approved one; the "
                    "reconciler proposes it again if it is still needed."
                ),
            ]
    else:
        who = body.closed_by or ""
        lines.append(
            f"✋ **Rejected**: closed without merging{' by ' + who if who else ''}; "
            f"{service} is not changed ({asked})."
        )
    record_name = {
        EventType.APPROVAL_GRANTED: "the approval",
        EventType.APPROVAL_REFUSED: "the refusal",
    }.get(ending.event_type, "the rejection")
    see = links.lines(ending, f"{record_name} in the audit trail")
    return "\n".join([*lines, *(["", *see] if see else [])])


def _shown(record: Record) -> str:
    """A record's rationale, with the replicas before and after for a change."""
    if record.event_type not in _EXECUTED:
        return record.rationale
    body = lazy_bodies.body_of(record, lazy_bodies.ExecutionBody)
    old = body.pre_operation_state.get("replicas")
    new = body.post_operation_state.get("replicas")
    change = f" ({old} → {new} replicas)" if isinstance(old, int) and isinstance(new, int) else ""
    return f"{record.rationale}{change}"


#: The records that carry the state before and after a change.
_EXECUTED = frozenset(
    {EventType.OPERATION_EXECUTED, EventType.ROLLBACK_EXECUTED, EventType.OPERATION_RECOVERED}
)

_FOLLOW_WORDS = {
    EventType.OPERATION_EXECUTED: "Carried out: ",
    EventType.OPERATION_FAILED: "Failed: ",
    EventType.OPERATION_BLOCKED: "Not carried out: ",
    EventType.VERIFICATION_PASSED: "Verified: ",
    EventType.VERIFICATION_FAILED: "Verification failed: ",
    EventType.VERIFICATION_SKIPPED: "Not verified: ",
    EventType.ROLLBACK_EXECUTED: "Rolled back: ",
    EventType.ROLLBACK_FAILED: "Rollback failed: ",
    EventType.ROLLBACK_VERIFIED: "Rollback verified: ",
    EventType.ROLLBACK_VERIFICATION_FAILED: "Rollback verification failed: ",
    EventType.ESCALATED: "Escalated to a person: ",
}
