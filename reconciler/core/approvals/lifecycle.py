"""The terms of a proposal's life shared by every stage of it: its events, its two kinds, why a
landing approves nothing (a refusal code) and how a change reached the main branch.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum

from reconciler.core.trail.records import EventType

__all__ = ["APPROVAL_EVENTS", "CONCLUDED", "Kind", "Landing", "Refusal"]


#: Every event in a proposal's life.
APPROVAL_EVENTS = frozenset(
    {
        EventType.APPROVAL_REQUESTED,
        EventType.APPROVAL_UPDATED,
        EventType.APPROVAL_GRANTED,
        EventType.APPROVAL_REJECTED,
        EventType.APPROVAL_EXPIRED,
        EventType.APPROVAL_SUPERSEDED,
        EventType.APPROVAL_REFUSED,
    }
)
#: Events after which a proposal is no longer waiting.
CONCLUDED = frozenset(
    {
        EventType.APPROVAL_GRANTED,
        EventType.APPROVAL_REJECTED,
        EventType.APPROVAL_EXPIRED,
        EventType.APPROVAL_SUPERSEDED,
        EventType.APPROVAL_REFUSED,
    }
)
LABELS = ("reconciler", "approval-needed")
#: A rejected proposal comes back within its cool-off only if the load got this much worse.
MATERIALLY_WORSE = 0.10


class Kind(StrEnum):
    BLUEPRINT = "blueprint"
    REQUEST = "request"


class Refusal(StrEnum):
    """Why a proposal's landing approves nothing, as a code (`details.refusal` of an
    `approval_refused` record); the rationale words it for people."""

    #: The proposed change is on the main branch and no approver's timely merge of the
    #: proposal stands behind it: a merge by someone who is not an approver, after expiry, or
    #: with nobody recorded as merging (a fast-forward); or no merge at all (a squash or a
    #: cherry-pick on the local forge, a rebase, a direct edit).
    LANDED_WITHOUT_APPROVAL = "landed_without_approval"
    #: A merge that brought something other than the proposal: a changed file, other paths,
    #: a loosened forbidden operation.
    NOT_AS_PROPOSED = "not_as_proposed"
    #: An approved request that no longer fits the deployment.
    STALE = "stale"


class Landing(StrEnum):
    """How a proposal's change reached the main branch (`details.landing`)."""

    #: A merge of the proposal by a known account (on GitHub, any merge method).
    MERGE = "merge"
    #: The proposal's commits are on the main branch, but nobody is recorded as merging them
    #: (a fast-forward, a push of the branch).
    UNATTRIBUTED = "unattributed"
    #: The proposal is not merged, but its change is in the main branch's blueprint: a
    #: squash or a cherry-pick on the local forge, a rebase, an edit by hand.
    CONTENT = "content"


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
