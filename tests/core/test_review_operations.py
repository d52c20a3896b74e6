"""Widening the replica bounds is `scale_beyond_limits`, classified under the rules before the
change: each tier the classifier can choose, with what a diff cannot know, as a table of the
class, the rule that decided, its file, the approvers and the unknown names.
"""

from __future__ import annotations

import pytest

from reconciler.core.review.findings import ChangeClass, ChangeKind
from tests.core.test_review import (
    BEYOND,
    POLICIES,
    POLICIES_TEXT,
    WEB,
    WEB_TEAM,
    base_files,
    base_forbidding_beyond,
    insert_after,
    replace,
    review,
)

A, RA, F = ChangeClass.ALLOWED, ChangeClass.REQUIRES_APPROVAL, ChangeClass.FORBIDDEN
AUTHORITY = "governance.agent_authority"
#: The global policies without their restriction of scale_beyond_limits: unlisted, forbidden.
UNLISTED = POLICIES_TEXT.replace(f"      - {BEYOND}\n", "")
WIDEN = replace("max_replicas: 5", "max_replicas: 8")
WHY = (
    "the reconciler could then scale to 8 replicas on its own, which under the rules before "
    "this change is scale_beyond_limits: "
)


def restricting_beyond(condition: str, approvers: str = "") -> dict[str, str]:
    """BASE where web itself restricts scale_beyond_limits under `condition`."""
    files = base_files()
    entry = f"      - operation: {BEYOND}\n        condition: {condition}\n" + (
        f"        approvers: [{approvers}]\n" if approvers else ""
    )
    insert_after("      - modify_database_connections\n", entry)(files)
    return files


def with_policies(text: str) -> dict[str, str]:
    files = base_files()
    files[POLICIES] = text
    return files


def allowed_twice() -> dict[str, str]:
    """BASE where both the global policies and web itself allow scale_beyond_limits."""
    files = with_policies(
        UNLISTED.replace(
            "      - scale_within_limits\n", f"      - scale_within_limits\n      - {BEYOND}\n"
        )
    )
    insert_after("    allowed_operations:\n", f"      - {BEYOND}\n")(files)
    return files


@pytest.mark.parametrize(
    ("base", "row", "unknown", "tail"),
    [
        pytest.param(
            base_files(),
            (RA, f"global:{AUTHORITY}.requires_approval[0]", POLICIES, WEB_TEAM),
            (),
            f"{BEYOND} requires approval (global:{AUTHORITY}.requires_approval[0]).",
            id="restricted by the global policies: the service's approvers",
        ),
        pytest.param(
            restricting_beyond("current_replicas > 3", approvers="sre"),
            (RA, f"{AUTHORITY}.requires_approval[1]", WEB, ("sre",)),
            ("current_replicas",),
            "(A static diff cannot know current_replicas; unknown counts as needing approval.)",
            id="restricted under a live condition: the rule's own approvers",
        ),
        pytest.param(
            restricting_beyond("current_replicas > 3 AND hour_utc > 2"),
            (RA, f"{AUTHORITY}.requires_approval[1]", WEB, WEB_TEAM),
            ("current_replicas", "hour_utc"),
            "(A static diff cannot know current_replicas, hour_utc; unknown counts as needing "
            "approval.)",
            id="restricted under two live values: both named",
        ),
        pytest.param(
            base_forbidding_beyond("current_replicas > 3 AND hour_utc > 2"),
            (RA, f"{AUTHORITY}.forbidden_operations[1]", WEB, WEB_TEAM),
            ("current_replicas", "hour_utc"),
            "Its condition needs live values a diff cannot know (current_replicas, hour_utc), so "
            "the edit is flagged for approval; the rule is still checked, with live values, "
            "whenever the reconciler acts.",
            id="forbidden under two live values: both named",
        ),
        pytest.param(
            base_forbidding_beyond("weekday_utc >= 0"),
            (RA, f"{AUTHORITY}.forbidden_operations[1]", WEB, WEB_TEAM),
            ("weekday_utc",),
            "Its condition needs live values a diff cannot know (weekday_utc), so the edit is "
            "flagged for approval; the rule is still checked, with live values, whenever the "
            "reconciler acts.",
            id="forbidden on some weekdays: a diff has no weekday",
        ),
        pytest.param(
            base_forbidding_beyond("target_replicas >= 8"),
            (F, f"{AUTHORITY}.forbidden_operations[1]", WEB, ()),
            (),
            "No approval can override this; changing it needs a reviewed policy change.",
            id="forbidden exactly at the new maximum",
        ),
        pytest.param(
            base_forbidding_beyond("target_replicas >= 9"),
            (RA, f"global:{AUTHORITY}.requires_approval[0]", POLICIES, WEB_TEAM),
            (),
            f"{BEYOND} requires approval (global:{AUTHORITY}.requires_approval[0]).",
            id="forbidden only above the new maximum: the next tier decides",
        ),
        pytest.param(
            with_policies(UNLISTED),
            (F, AUTHORITY, WEB, ()),
            (),
            "List it under allowed_operations or requires_approval if it should be possible.",
            id="listed nowhere: forbidden",
        ),
        pytest.param(
            with_policies(
                UNLISTED.replace(
                    "      - scale_within_limits\n",
                    f"      - scale_within_limits\n      - {BEYOND}\n",
                )
            ),
            (A, f"global:{AUTHORITY}.allowed_operations[1]", POLICIES, ()),
            (),
            f"{BEYOND} is allowed (global:{AUTHORITY}.allowed_operations[1]).",
            id="allowed by the global policies: no approvers",
        ),
        pytest.param(
            allowed_twice(),
            (
                A,
                f"{AUTHORITY}.allowed_operations[0], global:{AUTHORITY}.allowed_operations[1]",
                WEB,
                (),
            ),
            (),
            f"{BEYOND} is allowed ({AUTHORITY}.allowed_operations[0]; "
            f"global:{AUTHORITY}.allowed_operations[1]).",
            id="allowed by two rules: both named, the first one's file",
        ),
    ],
)
def test_widened_bounds_are_classified_under_the_rules_before(
    base: dict[str, str], row: tuple[object, ...], unknown: tuple[str, ...], tail: str
) -> None:
    result = review(WIDEN, base=base)
    (finding,) = result.findings
    assert (finding.kind, finding.operation) == (ChangeKind.BOUNDS_WIDENED, BEYOND)
    assert (finding.change_class, finding.rule, finding.rule_file, finding.approvers) == row
    assert finding.unknown == unknown
    assert finding.reason.startswith(WHY) and finding.reason.endswith(tail), finding.reason
    assert result.ok is (row[0] is not F)
