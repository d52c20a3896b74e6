"""When a service is held because no approval stands behind its blueprint: a refused merge
still loaded (unless a later grant approved the same bytes), an ended proposal's file landed,
or a blueprint edit not judged yet. One row per reason to hold and per reason not to."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from reconciler.core.approvals.holds import approval_hold, proposal_reference
from reconciler.core.approvals.landings import landed_without_approval
from reconciler.core.approvals.recording import approval_record
from reconciler.core.trail.records import EventType, Outcome, Record
from tests.core.helpers import NOW, blueprint

WEB = blueprint()
SOURCE = WEB.source
OTHER = "0" * 64
ELSEWHERE = "blueprints/web/old-blueprint.yaml"

REQUESTED = EventType.APPROVAL_REQUESTED, Outcome.PENDING
GRANTED = EventType.APPROVAL_GRANTED, Outcome.APPROVED
REFUSED = EventType.APPROVAL_REFUSED, Outcome.REFUSED
REJECTED = EventType.APPROVAL_REJECTED, Outcome.REJECTED


def _record(
    step: tuple[EventType, Outcome],
    approval: str,
    minute: int,
    *,
    kind: str = "blueprint",
    against: str = OTHER,
    proposed: str = OTHER,
    files: tuple[str, ...] = (SOURCE,),
    rationale: str = "not an approver.",
    **extra: Any,
) -> Record:
    """One approval record of `approval` at NOW + `minute` minutes: a proposal made against
    the blueprint `against`, proposing a file whose digest is `proposed`."""
    metadata = {
        "key": f"web/{approval}",
        "kind": kind,
        "approval_id": approval,
        "blueprint_digest": against,
        "digests": dict.fromkeys(files, proposed),
        "files": list(files),
    }
    event, outcome = step
    at = NOW + timedelta(minutes=minute)
    return approval_record(event, outcome, WEB, "web", metadata, None, rationale, at, extra=extra)


def _refused(approval: str = "apr-1", minute: int = 1, **extra: Any) -> Record:
    given = {"merged_blueprint_digest": WEB.digest, "reference": "#7", "beyond_proposal": []}
    return _record(REFUSED, approval, minute, **{**given, **extra})


HELD_REFUSED = (
    "held: the blueprint is the one #7 merged without a valid approval (not an approver); "
    "revert it or change it through an approved proposal"
)


def _regrant(approval: str = "apr-2", minute: int = 3, **extra: Any) -> list[Record]:
    """The edit proposed again as `approval` and merged by an approver, to the same bytes."""
    given = {"merged_blueprint_digest": WEB.digest, "reference": "#8"}
    return [
        _record(REQUESTED, approval, minute - 1),
        _record(GRANTED, approval, minute, **{**given, **extra}),
    ]


@pytest.mark.parametrize(
    ("records", "held"),
    [
        ([_record(REQUESTED, "apr-1", 0), _refused()], HELD_REFUSED),
        ([_refused()], HELD_REFUSED),
        ([_refused(merged_blueprint_digest=OTHER)], ""),
        # A refusal that could not read the merged file names no digest: it holds nothing.
        ([_record(REFUSED, "apr-1", 1, reference="#7")], ""),
        # The merge left no file at the proposed path: held while the blueprint is loaded
        # from anywhere else.
        ([_refused(merged_blueprint_digest=None, blueprint_path=ELSEWHERE)], HELD_REFUSED),
        ([_refused(merged_blueprint_digest=None, blueprint_path=SOURCE)], ""),
        ([_refused(merged_blueprint_digest=None, files=(ELSEWHERE,))], HELD_REFUSED),
        ([_refused(merged_blueprint_digest=None, files=(SOURCE,))], ""),
        ([_refused(merged_blueprint_digest=None, files=())], ""),
        # The latest refusal is not this blueprint's, an earlier one is.
        ([_refused(), _refused("apr-3", 5, merged_blueprint_digest=OTHER)], HELD_REFUSED),
        ([_refused(), _record(REFUSED, "apr-3", 5, reference="#9")], HELD_REFUSED),
        (
            [_refused(), _refused("apr-3", 5, merged_blueprint_digest=None, blueprint_path=SOURCE)],
            HELD_REFUSED,
        ),
        # A grant later ends the hold of the refusal it follows, not of an earlier one whose
        # merge brought in paths the forge did not list.
        (
            [_refused("apr-0", 0, beyond_proposal=None), _refused(minute=1), *_regrant()],
            HELD_REFUSED,
        ),
        # A later grant of the same bytes, proposed and never refused, ends the hold.
        ([_refused(), *_regrant()], ""),
        ([_refused(), *_regrant(merged_blueprint_digest=OTHER)], HELD_REFUSED),
        (
            [_refused(), _record(GRANTED, "apr-2", 3, merged_blueprint_digest=WEB.digest)],
            HELD_REFUSED,
        ),
        (
            [
                _refused(),
                _record(GRANTED, "apr-2", 3, merged_blueprint_digest=WEB.digest),
                _record(REQUESTED, "apr-2", 4),
            ],
            HELD_REFUSED,
        ),
        (
            [_refused(), *_regrant(), _refused("apr-2", 9, merged_blueprint_digest=OTHER)],
            HELD_REFUSED,
        ),
        ([_refused(beyond_proposal=None), *_regrant()], HELD_REFUSED),
        ([_refused(beyond_proposal=["audit/web/x.json"]), *_regrant()], HELD_REFUSED),
        # Another proposal's request before it is not the grant's own.
        (
            [
                _record(REQUESTED, "apr-1", 0),
                _refused(),
                _record(GRANTED, "apr-2", 3, merged_blueprint_digest=WEB.digest),
            ],
            HELD_REFUSED,
        ),
        # A grant whose proposal was refused too does not count; a later one still does.
        (
            [
                _refused(),
                *_regrant(),
                _refused("apr-2", 9, merged_blueprint_digest=OTHER),
                *_regrant("apr-3", 12),
            ],
            "",
        ),
        # Proposed again before the refusal was recorded, granted right after it.
        (
            [
                _record(REQUESTED, "apr-2", 0),
                _refused(),
                _record(GRANTED, "apr-2", 2, merged_blueprint_digest=WEB.digest),
            ],
            "",
        ),
        # A grant of the same bytes before the refusal does not approve what was refused.
        ([*_regrant(minute=0), _refused(minute=5)], HELD_REFUSED),
    ],
    ids=[
        "refused-merge-loaded",
        "only-the-refusal",
        "refused-merge-of-other-bytes",
        "refusal-naming-no-digest",
        "no-file-left-loaded-from-elsewhere",
        "no-file-left-loaded-from-that-path",
        "no-file-left-path-from-the-proposal",
        "no-file-left-proposal-path-loaded",
        "no-file-left-no-path-known",
        "an-earlier-refusal-still-loaded",
        "an-earlier-refusal-still-loaded-the-latest-naming-no-digest",
        "an-earlier-refusal-still-loaded-the-latest-leaving-the-file-in-place",
        "an-earlier-refusal-no-grant-can-end",
        "granted-again-later",
        "granted-later-other-bytes",
        "granted-later-without-its-proposal",
        "granted-later-proposed-after-the-grant",
        "granted-later-but-refused-too",
        "refusal-beyond-unknown-granted-later",
        "refusal-beyond-the-proposal-granted-later",
        "granted-later-after-another-proposals-request",
        "a-refused-grant-then-a-valid-one",
        "proposed-before-the-refusal-granted-right-after",
        "granted-before-the-refusal",
    ],
)
def test_a_refused_merge_holds_until_an_approval_stands_behind_the_blueprint(
    records: list[Record], held: str
) -> None:
    assert approval_hold(WEB, records) == held


def test_a_refusals_rationale_is_quoted_whole_without_its_last_period() -> None:
    refused = _refused(rationale="merged by a non-approver, user X.")
    assert approval_hold(WEB, [refused]) == HELD_REFUSED.replace(
        "(not an approver)", "(merged by a non-approver, user X)"
    )


def test_an_ended_proposal_whose_file_landed_holds_the_service() -> None:
    records = [
        _record(REQUESTED, "apr-1", 0, proposed=WEB.digest, number=9),
        _record(REJECTED, "apr-1", 5, proposed=WEB.digest, number=9),
    ]
    assert approval_hold(WEB, records) == (
        "held: the blueprint is the file #9 proposed, though #9 ended without approval "
        "(approval_rejected): it landed without approval; revert it or change it through an "
        "approved proposal"
    )
    # Still waiting (and found open this cycle): judged by its values when it is merged.
    assert approval_hold(WEB, records[:1], settled=("web/apr-1",)) == ""


WAITING = (
    "held: the blueprint changed since {} was proposed, and that proposal has not been "
    "judged yet, so the change may be its merge and nobody has checked who merged it or "
    "what; the next run that can reach the forge judges it"
)


@pytest.mark.parametrize(
    ("records", "settled", "held"),
    [
        ([_record(REQUESTED, "apr-1", 0, number=12, branch="b")], (), WAITING.format("#12")),
        (
            [_record(REQUESTED, "apr-1", 0, branch="reconciler/web/x")],
            (),
            WAITING.format("reconciler/web/x"),
        ),
        ([_record(REQUESTED, "apr-1", 0)], (), WAITING.format("web/apr-1")),
        ([_record(REQUESTED, "apr-1", 0, against=WEB.digest)], (), ""),
        ([_record(REQUESTED, "apr-1", 0, kind="request")], (), ""),
        # Each waiting edit is looked at: the first settled or a request, the next one holds.
        (
            [_record(REQUESTED, "apr-1", 0), _record(REQUESTED, "apr-2", 1)],
            ("web/apr-1",),
            WAITING.format("web/apr-2"),
        ),
        (
            [
                _record(REQUESTED, "apr-1", 0, kind="request"),
                _record(REQUESTED, "apr-2", 1, against=WEB.digest),
                _record(REQUESTED, "apr-3", 2),
            ],
            (),
            WAITING.format("web/apr-3"),
        ),
    ],
    ids=[
        "by-number",
        "by-branch",
        "by-key",
        "still-the-blueprint-proposed-against",
        "a-request",
        "the-first-settled",
        "a-request-and-an-unchanged-one-first",
    ],
)
def test_an_unjudged_blueprint_edit_holds_a_changed_blueprint(
    records: list[Record], settled: tuple[str, ...], held: str
) -> None:
    assert approval_hold(WEB, records, settled=settled) == held


@pytest.mark.parametrize(
    ("extra", "reference"),
    [
        ({"number": 5, "reference": "r", "branch": "b"}, "#5"),
        ({"reference": "r", "branch": "b"}, "r"),
        ({"branch": "b"}, "b"),
        ({}, "web/apr-1"),
        ({"key": None}, ""),
    ],
    ids=["number", "reference", "branch", "key", "nothing"],
)
def test_a_proposal_is_named_by_its_number_else_its_reference_branch_or_key(
    extra: dict[str, Any], reference: str
) -> None:
    assert proposal_reference(_record(REQUESTED, "apr-1", 0, **extra)) == reference


EXPIRED = EventType.APPROVAL_EXPIRED, Outcome.EXPIRED


@pytest.mark.parametrize(
    ("records", "landed"),
    [
        (
            [
                _record(REQUESTED, "apr-1", 0, proposed=WEB.digest),
                _record(REJECTED, "apr-1", 5, proposed=WEB.digest),
            ],
            ["apr-1"],
        ),
        (
            [
                _record(REQUESTED, "apr-1", 0, proposed=WEB.digest),
                _record(EXPIRED, "apr-1", 5, proposed=WEB.digest),
            ],
            ["apr-1"],
        ),
        # An expiry still pending (the pull request not closed yet) has not ended it.
        (
            [
                _record(REQUESTED, "apr-1", 0, proposed=WEB.digest),
                _record(
                    (EventType.APPROVAL_EXPIRED, Outcome.PENDING), "apr-1", 5, proposed=WEB.digest
                ),
            ],
            [],
        ),
        (
            [
                _record(REQUESTED, "apr-1", 0, proposed=WEB.digest),
                _record(REJECTED, "apr-1", 5, proposed=OTHER),
            ],
            [],
        ),
        # Proposed against the blueprint loaded: nothing landed.
        ([_record(REJECTED, "apr-1", 5, proposed=WEB.digest, against=WEB.digest)], []),
        ([_record(REJECTED, "apr-1", 5, proposed=WEB.digest, kind="request")], []),
        # Each proposal is looked at, whatever comes before it.
        (
            [
                _record(REQUESTED, "apr-1", 0, proposed=WEB.digest),
                _record(REJECTED, "apr-2", 1, proposed=WEB.digest, kind="request"),
                _record(REJECTED, "apr-3", 2, proposed=WEB.digest),
            ],
            ["apr-3"],
        ),
        # The last record of a proposal decides: rejected, then proposed again and waiting.
        (
            [
                _record(REJECTED, "apr-1", 0, proposed=WEB.digest),
                _record(REQUESTED, "apr-1", 5, proposed=WEB.digest),
            ],
            [],
        ),
    ],
    ids=[
        "rejected",
        "expired",
        "expiry-pending",
        "rejected-other-file",
        "proposed-against-the-loaded-one",
        "a-request",
        "after-a-waiting-one-and-a-request",
        "waiting-again",
    ],
)
def test_which_ended_proposals_landed_without_approval(
    records: list[Record], landed: list[str]
) -> None:
    found = landed_without_approval(WEB, records)
    assert [record.links["approval"] for record in found] == landed
    assert all(record.event_type is not EventType.APPROVAL_REQUESTED for record in found)
