"""What the reconciler says on the forge: a proposal's status, and its last comment."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from reconciler.core.approvals.feedback import (
    DESCRIPTION_LIMIT,
    Standing,
    StatusState,
    TrailLinks,
    outcome_comment,
    proposal_status,
)
from reconciler.core.trail.records import EventType, Outcome, Record
from tests.core.helpers import NOW

UNTIL = NOW + timedelta(hours=1)


@pytest.mark.parametrize(
    ("standing", "kwargs", "state", "description"),
    [
        (
            Standing.AWAITING,
            {"approvers": ["devops-team", "alice"], "until": UNTIL},
            StatusState.SUCCESS,
            "Merging approves this if an approver merges (devops-team, alice) until "
            "2026-02-10 16:30Z",
        ),
        (
            Standing.CHANGED,
            {},
            StatusState.FAILURE,
            "The branch changed after it was proposed: merging approves nothing",
        ),
        (
            Standing.TIMED_OUT,
            {"until": UNTIL},
            StatusState.FAILURE,
            "Expired at 2026-02-10 16:30Z: merging approves nothing",
        ),
        (Standing.GRANTED, {"who": "alice"}, StatusState.SUCCESS, "Approved by alice"),
        (
            Standing.ENDED,
            {"reason": "No longer needed: superseded"},
            StatusState.FAILURE,
            "No longer needed: superseded: merging approves nothing",
        ),
    ],
)
def test_a_status_is_green_only_when_an_approvers_merge_approves(
    standing: Standing, kwargs: dict[str, Any], state: StatusState, description: str
) -> None:
    status = proposal_status(standing, **kwargs)
    assert (status.state, status.description, status.context) == (
        state,
        description,
        "reconciler/approval",
    )


def test_a_long_reason_is_cut_to_what_github_takes() -> None:
    status = proposal_status(Standing.REFUSED, reason="it was merged by " + "x" * 300)
    assert len(status.description) == DESCRIPTION_LIMIT
    assert status.description.endswith("…")


def _record(event: EventType, details: dict[str, Any], **links: str) -> Record:
    return Record(
        id=f"rec-{event}",
        timestamp=NOW,
        event_type=event,
        service="web",
        blueprint_version="1.0.0",
        outcome=Outcome.PENDING,
        rationale=details.pop("rationale", "rationale"),
        links={"approval": "apr-1", **links},
        details=details,
    )


REQUEST = {"kind": "request", "operation": "scale", "target_replicas": 8}
BLUEPRINT = {"kind": "blueprint", "fields": {"spec.scaling.max_replicas": 6}}


def test_a_granted_blueprint_edit_not_yet_acted_on_says_the_policy_is_in_force() -> None:
    granted = _record(EventType.APPROVAL_GRANTED, {"metadata": BLUEPRINT, "merged_by": "alice"})
    assert outcome_comment(granted, []) == (
        "✅ **Approved by alice**: web, `spec.scaling.max_replicas` → 6.\n\n"
        "The new policy is in git; the next decision follows it."
    )


def test_a_granted_request_carried_out_and_waiting_for_its_verification() -> None:
    granted = _record(EventType.APPROVAL_GRANTED, {"metadata": REQUEST, "merged_by": "alice"})
    executed = _record(
        EventType.OPERATION_EXECUTED,
        {
            "rationale": "scale deployment shop/web to 8 replicas",
            "pre_operation_state": {"replicas": 3},
            "post_operation_state": {"replicas": 8},
        },
    )
    text = outcome_comment(granted, [executed])
    assert text.splitlines() == [
        "✅ **Approved by alice**: web, `scale` to 8 replicas.",
        "",
        "- Carried out: scale deployment shop/web to 8 replicas (3 → 8 replicas)",
        "- Its verification is due after the stabilization period.",
    ]


def test_a_refused_request_says_why_and_how_to_revert() -> None:
    refused = _record(
        EventType.APPROVAL_REFUSED,
        {
            "metadata": REQUEST,
            "reasons": ["it was merged by mallory, who is not an approver (ops)"],
            "merge_commit": "abc1234",
        },
    )
    links = TrailLinks(blob="https://github.com/acme/b/blob/main", run="https://ci/run/1")
    text = outcome_comment(refused, [], links)
    assert "- it was merged by mallory, who is not an approver (ops)" in text
    assert "`git revert -m 1 abc1234`" in text and "request file" in text
    assert "stays held" not in text  # only a blueprint edit holds the service
    assert text.endswith(
        "See [the refusal in the audit trail](https://github.com/acme/b/blob/main/audit/web/"
        "2026-02-10/153000-approval_refused-rec-approval_refused.json) and "
        "[the run](https://ci/run/1)."
    )


def test_a_rejection_names_who_closed_it() -> None:
    rejected = _record(EventType.APPROVAL_REJECTED, {"metadata": REQUEST, "closed_by": "bob"})
    assert outcome_comment(rejected, []) == (
        "✋ **Rejected**: closed without merging by bob; web is not changed (`scale` to 8 "
        "replicas)."
    )
