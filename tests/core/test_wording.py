"""Reason codes and their words: every code is worded, the escalations have a brief form for
subjects, and the words are those the audit format has always carried."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.core.trail.wording import Code, Reason, brief, say

#: One set of parameters for each code, and the words they make.
WORDED: list[tuple[Code, dict[str, Any], str]] = [
    (
        Code.NOT_AUTONOMOUS,
        {"operation": "scale_within_limits", "reference": "global:allowed_operations[0]"},
        "scale_within_limits is allowed but marked `autonomous: false` "
        "(global:allowed_operations[0]), so it needs approval.",
    ),
    (
        Code.ALLOWED_BY_RULES,
        {"operation": "restart_failed_pods", "checks": []},
        "restart_failed_pods is allowed ().",
    ),
    (
        Code.UNKNOWN_OPERATION,
        {"operation": "scale_withn_limits", "close": "scale_within_limits"},
        "scale_withn_limits is not an operation the governance rules know (did you mean "
        "scale_within_limits?); unknown operations are forbidden. Add it to the catalogue "
        "(operations: in the global policies) and to a tier if it should be possible.",
    ),
    (Code.APPROVED, {"by": "#12, merged by alice"}, "approved: #12, merged by alice"),
    (
        Code.SAFETY_RECHECKED,
        {"details": ["cooldown", "3/3 changes in the last 1h"]},
        "safety is checked again when the approved change is applied; now: cooldown; 3/3 "
        "changes in the last 1h",
    ),
    (
        Code.RETRY_TOO_LATE,
        {"late": 7200.0, "timeout": 3600.0},
        "no cycle retried it for 2h after it was due, longer than the 1h an approval would wait",
    ),
    (
        Code.RESOURCE_CHANGED,
        {"key": "cpu_request"},
        "the deployment's cpu request changed since the request",
    ),
    (
        Code.NO_LONGER_FITS,
        {"error": "4 is above max_replicas 3"},
        "it no longer fits the blueprint: 4 is above max_replicas 3",
    ),
    (
        Code.APPROVAL_NEEDED,
        {"what": "scale 3→12", "approvers": ()},
        "scale 3→12 needs approval by nobody (no approvers set).",
    ),
    (
        Code.OBSERVED_ONLY,
        {
            "observed_by": "spec.mode: observe",
            "what": "scale 2→3",
            "would": "request_approval",
            "summary": "Needs approval.",
        },
        "Observe mode (spec.mode: observe): scale 2→3 would propose; nothing was changed or "
        "proposed. Needs approval.",
    ),
    (
        Code.BREAKER_OPENED,
        {"failures": 3, "window": 3600.0, "threshold": 3, "service": "web"},
        "3 failures within 3600s (threshold 3); changes to web stop until "
        "`reconciler breaker reset web --reason ...`.",
    ),
    (
        Code.SERVICE_RESUMED,
        {"paused_by": ""},
        "The pause by unknown has ended; the reconciler acts again.",
    ),
    (
        Code.REQUEST_EXPIRED,
        {"why": "it no longer fits the blueprint: 4 is above max_replicas 3"},
        "The deferred request was not carried out: it no longer fits the blueprint: 4 is "
        "above max_replicas 3.",
    ),
]


@pytest.mark.parametrize(("code", "params", "words"), WORDED, ids=[c for c, _, _ in WORDED])
def test_a_reason_is_worded_as_the_records_have_it(
    code: Code, params: dict[str, Any], words: str
) -> None:
    assert say(Reason(code, params)) == words
    assert str(Reason(code, params)) == words


@pytest.mark.parametrize(
    ("code", "full", "short"),
    [
        (Code.ROLLBACK_FAILED_REPEATEDLY, "", "its rollback failed 3 times"),
        (
            Code.ROLLBACK_DISABLED,
            "op-1 failed verification and rollback_on_failure is false: a person must decide. "
            "Automatic changes stop (circuit breaker open).",
            "it failed verification and rollback_on_failure is false",
        ),
        (
            Code.ROLLED_BACK_STILL_FAILING,
            "the service is back as it was before op-1 and still fails its checks, so undoing it "
            "again would change nothing: a person must decide. Automatic changes stop (circuit "
            "breaker open).",
            "rolled back and still failing",
        ),
    ],
)
def test_an_escalation_has_a_brief_form_for_its_subject(code: Code, full: str, short: str) -> None:
    reason = Reason(
        code, {} if code is Code.ROLLBACK_FAILED_REPEATEDLY else {"operation_id": "op-1"}
    )
    assert (say(reason), brief(reason)) == (full, short)


def test_a_reason_without_a_brief_form_is_brief_in_its_full_words() -> None:
    reason = Reason(Code.RESTARTS_BEYOND_MAX)
    assert (
        brief(reason)
        == say(reason)
        == ("restarts are beyond max_restart_count: a person decides (escalated for approval)")
    )
