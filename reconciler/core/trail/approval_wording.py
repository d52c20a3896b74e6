"""The words of the approval records a review of proposals makes: a merge granted or
refused, a change that landed without an approver's merge, a grant gone stale, a proposal
opened, rewritten, brought up to date, edited by a person, expired, rejected or superseded,
and what the reconciler says on the proposal and in the hold it puts on the service.

The shell's review of proposals (shell/approvals) keeps values and says which with a code;
this module alone phrases it (`WORDS`, merged into `wording.say`). The words are part of the
public audit format and of what people read on a proposal, and stay exactly as written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from reconciler.core.ids import utc
from reconciler.core.trail.codes import Code

__all__ = ["WORDS"]


def _when_merged(merged_at: datetime | None) -> str:
    return f"{utc(merged_at):%Y-%m-%d %H:%M:%S}Z" if merged_at else "an unknown time"


def _landed_unmerged(path: str, reference: str, ended: str | None, standing: str) -> str:
    """Why a proposal whose change landed unmerged approves nothing, saying when it landed:
    after the proposal ended (`ended`, its last event), or while it was `standing` (open,
    closed or gone)."""
    if ended is not None:
        how = f"after {reference} ended ({ended})"
    elif standing == "open":
        how = f"while {reference} was still open"
    else:
        how = f"while {reference} was {standing} unmerged"
    return (
        f"its change to {path} reached the main branch {how}, without an "
        "approver's merge of the proposal (a squash, a cherry-pick, a rebase or an edit by "
        "hand): it landed without approval"
    )


def _merge_refused(reference: str, landed: bool, reasons: Sequence[str]) -> str:
    return (
        f"{reference} was merged but approves nothing"
        + (" (landed without approval)" if landed else "")
        + ": "
        + "; ".join(reasons)
        + "."
    )


def _merge_granted(
    reference: str,
    merged_by: str | None,
    merged_at: datetime | None,
    latency: float | None,
    blueprint_edit: bool,
) -> str:
    after = f", {latency / 60:.0f} min after it was proposed" if latency else ""
    return f"{reference} merged by {merged_by} at {_when_merged(merged_at)}{after}: " + (
        "the new policy is in git and the next decision follows it."
        if blueprint_edit
        else "the requested operation is approved, once."
    )


def _proposal_rejected(reference: str, closed_by: str | None, cooloff: float) -> str:
    who = f" by {closed_by}" if closed_by else ""
    return (
        f"{reference} was closed without merging{who}: rejected. The same proposal is not made "
        f"again for {cooloff:g}s unless the load gets "
        "materially worse."
    )


WORDS: Mapping[Code, Callable[..., str]] = {
    Code.LANDED_REFUSED: lambda reference, reason: f"{reference} approves nothing: {reason}.",
    Code.LANDED_UNMERGED: _landed_unmerged,
    Code.LANDED_HOLD: lambda reference: (
        f"held: the blueprint has the change {reference} proposed, which landed without an "
        "approver's merge; revert it or change it through an approved proposal"
    ),
    Code.LANDED_CLOSING: lambda service: (
        f"The change this proposal makes reached the main branch without an approver's "
        f"merge of it, so it approves nothing. The reconciler recorded it as landed "
        f"without approval and holds {service} until that change is reverted or "
        "made through an approved proposal. Closing."
    ),
    Code.STALE_REFUSED: lambda reference, stale: (
        f"{reference} was approved but is no longer carried out: {stale}."
    ),
    Code.MERGE_REFUSED: _merge_refused,
    Code.MERGE_REFUSED_HOLD: lambda reference, reasons: (
        f"held: {reference} was merged without a valid approval "
        f"({'; '.join(reasons)}); revert it or change it through an approved proposal"
    ),
    Code.MERGE_GRANTED: _merge_granted,
    Code.GRANTED_AFTER_LOAD: lambda reference: (
        f"{reference} was approved after this run loaded the blueprints; "
        "the next run acts on the approved blueprint"
    ),
    Code.UPDATED_FROM_BASE: lambda reference, who: (
        f"{reference} was brought up to date with the main branch by {who}; it still changes "
        "exactly the proposed files, so an approver's merge still approves it."
    ),
    Code.EDITED_COMMENT: lambda: (
        "Someone pushed to this branch, so it no longer holds exactly what the reconciler "
        "proposed: merging it approves nothing, and the reconciler no longer rewrites it. "
        "Close it, and the reconciler proposes again if the change is still needed."
    ),
    Code.EDITED_BY_PERSON: lambda reference, who: (
        f"{reference} has a person's commits ({who}); merging it approves nothing, and it is no "
        "longer rewritten."
    ),
    Code.EXPIRED_CLOSING: lambda timeout: (
        f"Nobody approved this within {timeout:g}s, so it expired and is "
        "closed (auto_reject_on_timeout). If it is still needed, the reconciler proposes "
        "it again."
    ),
    Code.TIMED_OUT_COMMENT: lambda: (
        "This proposal timed out. It stays open for a person to decide, and the "
        "reconciler no longer updates it."
    ),
    Code.PROPOSAL_EXPIRED: lambda reference, expires_at, closed: (
        f"{reference} expired at {expires_at:%H:%M:%S}Z without approval; "
        + ("closed." if closed else "left open, no longer updated.")
    ),
    Code.PROPOSAL_REJECTED: _proposal_rejected,
    Code.PROPOSED: lambda title, reference, approvers, expires_at: (
        f"{title}: proposed as {reference} for "
        f"{', '.join(approvers) or 'no approver'} (expires {expires_at})."
    ),
    Code.LOAD_MOVED_COMMENT: lambda what, target: (
        f"The load now calls for {what} "
        f"(target {target}), but someone pushed to this branch, "
        "so the reconciler no longer rewrites it. Please update it or close it."
    ),
    Code.EDITED_COMMENTED: lambda reference, who: (
        f"{reference} has a person's commits ({who}); commented instead of rewriting it."
    ),
    Code.UPDATED_IN_PLACE: lambda reference, title: f"{reference} updated in place: {title}.",
    Code.REJECTION_COOLOFF: lambda rejected_at, until: (
        f"a person rejected this at {rejected_at:%Y-%m-%d %H:%M}Z; not proposed again "
        f"before {until:%Y-%m-%d %H:%M}Z unless the load gets materially worse"
    ),
    Code.SUPERSEDED_CLOSING: lambda reason: f"No longer needed: {reason} Closing as superseded.",
    Code.SUPERSEDED: lambda reference, reason: f"{reference} is no longer needed: {reason}",
}
