"""The words of approval records, pinned: the audit format and the comments people read on a
proposal are public, and several of these texts (a landing, a stale grant, a rejection's
cool-off) appear in no golden trail, so each is held here to the exact text it had when the
shell still phrased it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from reconciler.core.trail.codes import Code
from reconciler.core.trail.wording import Reason, say

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
UNTIL = datetime(2026, 1, 2, 4, 4, 5, tzinfo=UTC)
LANDED = (
    "its change to blueprints/web.yaml reached the main branch {how}, without an approver's "
    "merge of the proposal (a squash, a cherry-pick, a rebase or an edit by hand): it landed "
    "without approval"
)


def _landed(ended: str | None, standing: str) -> dict[str, Any]:
    return {
        "path": "blueprints/web.yaml",
        "reference": "PR #7",
        "ended": ended,
        "standing": standing,
    }


@pytest.mark.parametrize(
    ("code", "params", "words"),
    [
        (
            Code.LANDED_UNMERGED,
            _landed("approval_rejected", "closed"),
            LANDED.format(how="after PR #7 ended (approval_rejected)"),
        ),
        (
            Code.LANDED_UNMERGED,
            _landed(None, "closed"),
            LANDED.format(how="while PR #7 was closed unmerged"),
        ),
        (
            Code.LANDED_UNMERGED,
            _landed(None, "gone"),
            LANDED.format(how="while PR #7 was gone unmerged"),
        ),
        (
            Code.LANDED_UNMERGED,
            _landed(None, "open"),
            LANDED.format(how="while PR #7 was still open"),
        ),
        (
            Code.MERGE_GRANTED,
            {
                "reference": "PR #7",
                "merged_by": "alice",
                "merged_at": AT,
                "latency": 600.0,
                "blueprint_edit": False,
            },
            "PR #7 merged by alice at 2026-01-02 03:04:05Z, 10 min after it was proposed: the "
            "requested operation is approved, once.",
        ),
        (
            Code.MERGE_GRANTED,
            {
                "reference": "PR #7",
                "merged_by": None,
                "merged_at": None,
                "latency": None,
                "blueprint_edit": True,
            },
            "PR #7 merged by None at an unknown time: the new policy is in git and the next "
            "decision follows it.",
        ),
        (
            Code.MERGE_REFUSED,
            {"reference": "PR #7", "landed": True, "reasons": ["a", "b"]},
            "PR #7 was merged but approves nothing (landed without approval): a; b.",
        ),
        (
            Code.PROPOSAL_REJECTED,
            {"reference": "PR #7", "closed_by": "bob", "cooloff": 3600.0},
            "PR #7 was closed without merging by bob: rejected. The same proposal is not made "
            "again for 3600s unless the load gets materially worse.",
        ),
        (
            Code.PROPOSAL_EXPIRED,
            {"reference": "PR #7", "expires_at": AT, "closed": False},
            "PR #7 expired at 03:04:05Z without approval; left open, no longer updated.",
        ),
        (
            Code.REJECTION_COOLOFF,
            {"rejected_at": AT, "until": UNTIL},
            "a person rejected this at 2026-01-02 03:04Z; not proposed again before "
            "2026-01-02 04:04Z unless the load gets materially worse",
        ),
        (
            Code.PROPOSED,
            {"title": "Scale web", "reference": "PR #7", "approvers": (), "expires_at": "x"},
            "Scale web: proposed as PR #7 for no approver (expires x).",
        ),
    ],
)
def test_approval_words_stay_as_written(code: Code, params: dict[str, Any], words: str) -> None:
    assert say(Reason(code, params)) == words
