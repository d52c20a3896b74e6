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

__all__ = [
    "STATUS_CONTEXT",
    "Ending",
    "Outcome",
    "ProposalStatus",
    "Standing",
    "StatusState",
    "feedback_comment",
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
# The last word on a proposal


class Ending(StrEnum):
    """How a proposal ended, for its last comment."""

    GRANTED = "granted"
    REFUSED = "refused"
    REJECTED = "rejected"


class Outcome(StrEnum):
    """What followed a granted approval, as far as the comment knows it."""

    #: Carried out, and verified.
    VERIFIED = "verified"
    #: Carried out; the verification failed and it was rolled back.
    ROLLED_BACK = "rolled_back"
    #: Carried out; the verification failed and nothing could undo it.
    FAILED = "failed"
    #: Carried out; verification is due later.
    EXECUTED = "executed"
    #: Not carried out yet (a cooldown, the next run, a blueprint to load).
    WAITING = "waiting"
    #: The new policy is in git; the reconciler follows it from the next decision.
    IN_FORCE = "in_force"


@dataclass(frozen=True, kw_only=True)
class Links:
    """Where people read more: the audit record on the default branch, and the run."""

    record: str = ""
    run: str = ""


def feedback_comment(
    ending: Ending,
    *,
    reference: str,
    service: str,
    change: str,
    who: str = "",
    reasons: Sequence[str] = (),
    revert: str = "",
    outcome: Outcome | None = None,
    details: Sequence[str] = (),
    links: Links | None = None,
) -> str:
    """The comment left on a proposal once it ended: the verdict, and what followed.

    `change` says what the proposal asked for (`raise max_replicas 5 → 6`); `details` are the
    lines of what followed (the change executed, its verification or rollback); `revert` is
    the merge commit to revert when a merge approves nothing."""
    links = links or Links()
    lines: list[str] = []
    if ending is Ending.GRANTED:
        lines.append(f"✅ **Approved by {who or 'an approver'}**: {service}, {change}.")
        follow = {
            Outcome.VERIFIED: "It was carried out and verified.",
            Outcome.ROLLED_BACK: "It was carried out, made things worse, and was rolled back.",
            Outcome.FAILED: "It was carried out, failed its verification, and could not be "
            "undone: a person is needed.",
            Outcome.EXECUTED: "It was carried out; its verification is due after the "
            "stabilization period.",
            Outcome.WAITING: "It is carried out by a coming run (a cooldown or the next run "
            "loading the approved blueprint).",
            Outcome.IN_FORCE: "The new policy is in git: the reconciler follows it from its "
            "next decision.",
        }
        if outcome is not None:
            lines.append(follow[outcome])
    elif ending is Ending.REFUSED:
        lines.append(f"⛔ **Refused**: this merge approves nothing for {service} ({change}).")
        lines += ["", "Why:"]
        lines += [f"- {reason}" for reason in reasons] or ["- (no reason recorded)"]
        if revert:
            lines += [
                "",
                f"**To fix it**: revert the merge commit {revert} "
                f"(`git revert -m 1 {revert}` for a merge commit), then let the reconciler "
                "propose the change again, or make it through an approved proposal. Until "
                "then the reconciler holds the service.",
            ]
    else:
        lines.append(
            f"✋ **Rejected**: closed without merging{' by ' + who if who else ''}. "
            f"{service} is not changed ({change})."
        )
    if details:
        lines += ["", *(f"- {line}" for line in details)]
    refs = []
    if links.record:
        refs.append(f"[the audit record]({links.record})")
    if links.run:
        refs.append(f"[the run]({links.run})")
    if refs:
        lines += ["", "See " + " and ".join(refs) + "."]
    return "\n".join(lines)
