"""Every direction a governance rule can move, as a table: what counts as loosening (and so
needs the service's approvers as they were) and what is at least as strict (allowed), with the
rule that decided and the reason a reviewer reads.

Unlisted operations matter: most are forbidden when no rule lists them, but
`rollback_own_change` is allowed when unlisted, so removing its rules loosens; and an operation
the global policies restrict stays restricted whatever the service allows.
"""

from __future__ import annotations

import pytest

from reconciler.core.review.findings import ChangeClass, ChangeKind
from tests.core.test_review import (
    BEYOND,
    GLOBAL,
    POLICIES,
    RATIONALE,
    WEB,
    WEB_TEAM,
    Edit,
    base_files,
    insert_after,
    replace,
    review,
)

K = ChangeKind
A, RA = ChangeClass.ALLOWED, ChangeClass.REQUIRES_APPROVAL
AUTHORITY = "governance.agent_authority"
OWN = "rollback_own_change"
DB = "modify_database_connections"
RESTRICTED = f"      - {DB}\n"
WITHIN_10 = "adjust_resources_within_10_percent"
RESTART = "restart_failed_pods"
GLOBAL_RULE = "global:governance.approval_workflow.approvers"
GLOBAL_EDIT = (
    "; every edit of the global policies needs the global approvers as they were before this change"
)
APPROVERS_CHANGED = (
    "approvers are part of the rules: a change may not name its own approvers, so the "
    "approvers in force before it must approve"
)
LOOSER = ". Loosening governance needs the service's approvers as they were before this change"


def restricted(*entries: str) -> Edit:
    """Adds entries after the service's requires_approval list's first one."""
    return insert_after(RESTRICTED, "".join(entries))


def forbidden(*entries: str) -> Edit:
    return insert_after(RATIONALE, "".join(entries))


@pytest.mark.parametrize(
    ("base_edit", "edit", "row", "reason"),
    [
        pytest.param(
            None,
            insert_after("    allowed_operations:\n", "      - view_logs\n"),
            (f"{AUTHORITY}.allowed_operations[0]", K.LOOSEN_GOVERNANCE, RA, "view_logs",
             "not listed", "allowed", f"{AUTHORITY} (unlisted: forbidden)", WEB, WEB_TEAM),
            "view_logs: now listed under allowed_operations, where it was not listed" + LOOSER,
            id="allowing an operation forbidden while unlisted",
        ),
        pytest.param(
            None,
            insert_after("    allowed_operations:\n", f"      - {OWN}\n"),
            (f"{AUTHORITY}.allowed_operations[0]", K.TIGHTEN_GOVERNANCE, A, OWN,
             "not listed", "allowed", f"{AUTHORITY}.allowed_operations[0]", WEB, ()),
            f"{OWN} is at least as restricted as before, so the change is allowed",
            id="allowing an operation already allowed while unlisted",
        ),
        pytest.param(
            None,
            insert_after("    allowed_operations:\n", "      - change_health_checks\n"),
            (f"{AUTHORITY}.allowed_operations[0]", K.TIGHTEN_GOVERNANCE, A,
             "change_health_checks", "not listed", "allowed",
             f"{AUTHORITY}.allowed_operations[0]", WEB, ()),
            "change_health_checks is at least as restricted as before, so the change is allowed",
            id="allowing what the global policies restrict changes nothing",
        ),
        pytest.param(
            forbidden(f"      - {OWN}\n"),
            replace(f"      - {OWN}\n", ""),
            (f"{AUTHORITY}.forbidden_operations", K.LOOSEN_GOVERNANCE, RA, OWN,
             "forbidden", "not listed", f"{AUTHORITY}.forbidden_operations[1]", WEB, WEB_TEAM),
            f"{OWN}: no longer forbidden" + LOOSER,
            id="removing a forbid of an operation allowed while unlisted",
        ),
        pytest.param(
            forbidden(f"      - {OWN}\n"),
            replace(f"      - {OWN}\n", f"      - operation: {OWN}\n        condition: hour_utc < 9\n"
                    f"      - operation: {OWN}\n        condition: hour_utc > 17\n"),
            (f"{AUTHORITY}.forbidden_operations[1]", K.LOOSEN_GOVERNANCE, RA, OWN, "forbidden",
             "forbidden when hour_utc < 9; forbidden when hour_utc > 17",
             f"{AUTHORITY}.forbidden_operations[1]", WEB, WEB_TEAM),
            f"{OWN}: forbidden only when `hour_utc < 9` or `hour_utc > 17` now" + LOOSER,
            id="an unconditional forbid split into two conditions",
        ),
        pytest.param(
            forbidden(f"      - operation: {OWN}\n        condition: hour_utc < 9\n"
                      f"      - operation: {OWN}\n        condition: hour_utc > 17\n"),
            [replace("        condition: hour_utc < 9\n", "        condition: hour_utc < 8\n"),
             replace(f"      - operation: {OWN}\n        condition: hour_utc > 17\n", "")],
            (f"{AUTHORITY}.forbidden_operations[1]", K.LOOSEN_GOVERNANCE, RA, OWN,
             "forbidden when hour_utc < 9; forbidden when hour_utc > 17",
             "forbidden when hour_utc < 8", f"{AUTHORITY}.forbidden_operations[1]", WEB, WEB_TEAM),
            f"{OWN}: the forbidding condition `hour_utc < 9` was removed or changed; the "
            "forbidding condition `hour_utc > 17` was removed or changed" + LOOSER,
            id="two forbidding conditions changed: both reasons, the first rule decides",
        ),
        pytest.param(
            restricted(f"      - {OWN}\n"),
            replace(f"      - {OWN}\n", ""),
            (f"{AUTHORITY}.requires_approval", K.LOOSEN_GOVERNANCE, RA, OWN,
             "requires_approval", "not listed", f"{AUTHORITY}.requires_approval[1]", WEB,
             WEB_TEAM),
            f"{OWN}: no longer requires approval" + LOOSER,
            id="removing a restriction of an operation allowed while unlisted",
        ),
        pytest.param(
            restricted(f"      - operation: {OWN}\n        condition: target_replicas > 3\n"),
            replace("target_replicas > 3", "target_replicas > 4"),
            (f"{AUTHORITY}.requires_approval[1]", K.LOOSEN_GOVERNANCE, RA, OWN,
             "requires_approval when target_replicas > 3",
             "requires_approval when target_replicas > 4",
             f"{AUTHORITY}.requires_approval[1]", WEB, WEB_TEAM),
            f"{OWN}: the approval condition `target_replicas > 3` was removed or changed" + LOOSER,
            id="changing a restriction's condition",
        ),
        pytest.param(
            restricted(f"      - {OWN}\n"),
            replace(f"      - {OWN}\n", f"      - operation: {OWN}\n        condition: hour_utc > 3\n"),
            (f"{AUTHORITY}.requires_approval[1]", K.LOOSEN_GOVERNANCE, RA, OWN,
             "requires_approval", "requires_approval when hour_utc > 3",
             f"{AUTHORITY}.requires_approval[1]", WEB, WEB_TEAM),
            f"{OWN}: requires approval only when `hour_utc > 3` now" + LOOSER,
            id="a condition on an unconditional restriction",
        ),
        pytest.param(
            restricted(f"      - operation: {OWN}\n        condition: hour_utc > 3\n"),
            replace("        condition: hour_utc > 3\n", ""),
            (f"{AUTHORITY}.requires_approval[1]", K.TIGHTEN_GOVERNANCE, A, OWN,
             "requires_approval when hour_utc > 3", "requires_approval",
             f"{AUTHORITY}.requires_approval[1]", WEB, ()),
            f"{OWN} is at least as restricted as before, so the change is allowed",
            id="dropping a restriction's condition restricts always",
        ),
        pytest.param(
            restricted(f"      - operation: {OWN}\n        condition: target_replicas > 3\n"
                       f"      - operation: {OWN}\n        condition: hour_utc > 3\n"),
            replace(f"      - operation: {OWN}\n        condition: target_replicas > 3\n", ""),
            (f"{AUTHORITY}.requires_approval[1]", K.LOOSEN_GOVERNANCE, RA, OWN,
             "requires_approval when target_replicas > 3; requires_approval when hour_utc > 3",
             "requires_approval when hour_utc > 3",
             f"{AUTHORITY}.requires_approval[1]", WEB, WEB_TEAM),
            f"{OWN}: the approval condition `target_replicas > 3` was removed or changed" + LOOSER,
            id="one of two restrictions removed",
        ),
        pytest.param(
            None,
            replace(f"    requires_approval:\n{RESTRICTED}", ""),
            (f"{AUTHORITY}.requires_approval", K.TIGHTEN_GOVERNANCE, A, DB,
             "requires_approval", "not listed", "", "", ()),
            f"{DB} is at least as restricted as before, so the change is allowed",
            id="removing a restriction of an operation forbidden while unlisted",
        ),
        pytest.param(
            None,
            [replace(f"    requires_approval:\n{RESTRICTED}", ""), forbidden(RESTRICTED)],
            (f"{AUTHORITY}.forbidden_operations[1]", K.TIGHTEN_GOVERNANCE, A, DB,
             "requires_approval", "forbidden", f"{AUTHORITY}.forbidden_operations[1]", WEB, ()),
            f"{DB} is at least as restricted as before, so the change is allowed",
            id="from requires_approval to forbidden",
        ),
        pytest.param(
            forbidden(f"      - operation: {BEYOND}\n        condition: target_replicas > 10\n"),
            replace("target_replicas > 10", "target_replicas > 12"),
            (f"{AUTHORITY}.forbidden_operations[1]", K.LOOSEN_GOVERNANCE, RA, BEYOND,
             "forbidden when target_replicas > 10", "forbidden when target_replicas > 12",
             f"{AUTHORITY}.forbidden_operations[1]", WEB, WEB_TEAM),
            f"{BEYOND}: the forbidding condition `target_replicas > 10` was removed or changed"
            + LOOSER,
            id="changing a forbid's condition",
        ),
        pytest.param(
            forbidden(f"      - operation: {BEYOND}\n        condition: target_replicas > 10\n"),
            replace("        condition: target_replicas > 10\n", ""),
            (f"{AUTHORITY}.forbidden_operations[1]", K.TIGHTEN_GOVERNANCE, A, BEYOND,
             "forbidden when target_replicas > 10", "forbidden",
             f"{AUTHORITY}.forbidden_operations[1]", WEB, ()),
            f"{BEYOND} is at least as restricted as before, so the change is allowed",
            id="dropping a forbid's condition forbids always",
        ),
        pytest.param(
            None,
            replace("condition: change_percent <= 10%", "condition: change_percent <= 20%"),
            (f"{AUTHORITY}.allowed_operations[2]", K.LOOSEN_GOVERNANCE, RA, WITHIN_10,
             "allowed when change_percent <= 10%", "allowed when change_percent <= 20%",
             f"{AUTHORITY}.allowed_operations[2]", WEB, WEB_TEAM),
            f"{WITHIN_10}: the allowed condition `change_percent <= 10%` was removed or changed"
            + LOOSER,
            id="changing an allowed condition",
        ),
        pytest.param(
            None,
            replace("        autonomous: false\n", ""),
            (f"{AUTHORITY}.allowed_operations[1]", K.LOOSEN_GOVERNANCE, RA, RESTART,
             "allowed (autonomous: false)", "allowed", f"{AUTHORITY}.allowed_operations[1]",
             WEB, WEB_TEAM),
            f"{RESTART}: `autonomous: false` was removed, so it runs without a person" + LOOSER,
            id="autonomous: false dropped",
        ),
        pytest.param(
            None,
            replace(f"      - operation: {RESTART}\n        autonomous: false\n", ""),
            (f"{AUTHORITY}.allowed_operations", K.LOOSEN_GOVERNANCE, RA, RESTART,
             "allowed (autonomous: false)", "not listed", f"{AUTHORITY}.allowed_operations[1]",
             WEB, WEB_TEAM),
            f"{RESTART}: `autonomous: false` was removed, so it runs without a person" + LOOSER,
            id="a manual rule removed where the global policies allow it",
        ),
        pytest.param(
            None,
            replace(RESTRICTED, f"      - operation: {DB}\n        approvers: [dba]\n"),
            (f"{AUTHORITY}.requires_approval[0]", K.APPROVERS_CHANGED, RA, DB, "(none)", "dba",
             f"{AUTHORITY}.requires_approval[0]", WEB, WEB_TEAM),
            APPROVERS_CHANGED,
            id="approvers added to a rule: the service's approvers decide",
        ),
        pytest.param(
            replace(RESTRICTED, f"      - operation: {DB}\n        approvers: [dba]\n"),
            replace("approvers: [dba]", "approvers: [dba, mallory]"),
            (f"{AUTHORITY}.requires_approval[0]", K.APPROVERS_CHANGED, RA, DB, "dba",
             "dba, mallory", f"{AUTHORITY}.requires_approval[0]", WEB, ("dba",)),
            APPROVERS_CHANGED,
            id="a rule's approvers changed: its approvers before decide",
        ),
        pytest.param(
            None,
            replace("      - change_image\n", "      - operation: change_image\n"
                    "        approvers: [sre]\n", path=POLICIES),
            (f"{AUTHORITY}.requires_approval[6]", K.APPROVERS_CHANGED, RA, "", "(none)", "sre",
             GLOBAL_RULE, POLICIES, GLOBAL),
            GLOBAL_EDIT.removeprefix("; "),
            id="approvers added to a global rule: the global approvers decide",
        ),
        pytest.param(
            insert_after("    allowed_operations:\n", "      - view_logs\n"),
            replace("      - view_logs\n",
                    "      - operation: view_logs\n        condition: hour_utc < 9\n"),
            (f"{AUTHORITY}.allowed_operations[0]", K.TIGHTEN_GOVERNANCE, A, "view_logs",
             "allowed", "allowed when hour_utc < 9", f"{AUTHORITY}.allowed_operations[0]", WEB,
             ()),
            "view_logs is at least as restricted as before, so the change is allowed",
            id="a condition on an unconditional allowed rule",
        ),
        pytest.param(
            replace("      - delete_service\n",
                    "      - operation: delete_service\n        condition: hour_utc < 9\n"
                    "      - operation: delete_service\n        condition: hour_utc > 17\n",
                    path=POLICIES),
            [replace("        condition: hour_utc < 9\n", "        condition: hour_utc < 8\n",
                     path=POLICIES),
             replace("      - operation: delete_service\n        condition: hour_utc > 17\n", "",
                     path=POLICIES)],
            (f"{AUTHORITY}.forbidden_operations[1]", K.LOOSEN_GOVERNANCE, RA, "delete_service",
             "forbidden when hour_utc < 9; forbidden when hour_utc > 17",
             "forbidden when hour_utc < 8", GLOBAL_RULE, POLICIES, GLOBAL),
            "delete_service: the forbidding condition `hour_utc < 9` was removed or changed; the "
            "forbidding condition `hour_utc > 17` was removed or changed" + GLOBAL_EDIT,
            id="two global forbidding conditions changed: both reasons",
        ),
        pytest.param(
            None,
            insert_after("      - delete_service\n", "      - view_logs\n", path=POLICIES),
            (f"{AUTHORITY}.forbidden_operations[2]", K.TIGHTEN_GOVERNANCE, RA, "view_logs",
             "not listed", "forbidden", GLOBAL_RULE, POLICIES, GLOBAL),
            "view_logs: at least as strict as before" + GLOBAL_EDIT,
            id="a global forbid added still needs the global approvers",
        ),
        pytest.param(
            None,
            [replace("      - change_image\n", "", path=POLICIES),
             insert_after("      - adjust_resources_within_10_percent\n", "      - change_image\n",
                          path=POLICIES)],
            (f"{AUTHORITY}.allowed_operations[4]", K.LOOSEN_GOVERNANCE, RA, "change_image",
             "requires_approval", "allowed", GLOBAL_RULE, POLICIES, GLOBAL),
            "change_image: no longer requires approval" + GLOBAL_EDIT,
            id="a global restriction lifted",
        ),
    ],
)  # fmt: skip
def test_each_rule_move_is_judged_by_its_direction(
    base_edit: Edit | None,
    edit: Edit | list[Edit],
    row: tuple[object, ...],
    reason: str,
) -> None:
    base = base_files()
    if base_edit is not None:
        base_edit(base)
    (finding,) = review(*(edit if isinstance(edit, list) else [edit]), base=base).findings
    assert (
        finding.path,
        finding.kind,
        finding.change_class,
        finding.operation,
        finding.before,
        finding.after,
        finding.rule,
        finding.rule_file,
        finding.approvers,
    ) == row
    assert finding.reason == reason
    fleet_wide = finding.rule == GLOBAL_RULE
    assert (finding.service, finding.file) == (("", POLICIES) if fleet_wide else ("web", WEB))


def test_approvers_on_a_new_rule_are_a_finding_of_their_own() -> None:
    result = review(
        insert_after(RATIONALE, "      - operation: view_logs\n        approvers: [dba]\n")
    )
    path = f"{AUTHORITY}.forbidden_operations[1]"
    assert [
        (f.path, f.kind, f.change_class, f.before, f.after, f.rule, f.rule_file, f.approvers)
        for f in result.findings
    ] == [
        (path, K.TIGHTEN_GOVERNANCE, A, "not listed", "forbidden", path, WEB, ()),
        (path, K.APPROVERS_CHANGED, RA, "(none)", "dba", "", WEB, WEB_TEAM),
    ]


def test_lifting_a_rule_with_its_own_approvers_needs_them() -> None:
    base = base_files()
    restricted(f"      - operation: {OWN}\n        approvers: [dba]\n")(base)
    result = review(replace(f"      - operation: {OWN}\n        approvers: [dba]\n", ""), base=base)
    rule = f"{AUTHORITY}.requires_approval[1]"
    assert [
        (f.kind, f.change_class, f.before, f.after, f.rule, f.approvers) for f in result.findings
    ] == [
        (K.LOOSEN_GOVERNANCE, RA, "requires_approval", "not listed", rule, ("dba",)),
        (K.APPROVERS_CHANGED, RA, "dba", "(none)", rule, ("dba",)),
    ]


def test_a_rule_moved_to_another_tier_with_its_approvers_is_an_approvers_change_too() -> None:
    """The approvers of a rule belong to its tier and condition: the same names on a forbid are
    not the same grant as on a restriction."""
    entry = f"      - operation: {DB}\n        approvers: [dba]\n"
    base = base_files()
    replace(RESTRICTED, entry)(base)
    result = review(replace(f"    requires_approval:\n{entry}", ""), forbidden(entry), base=base)
    assert [(f.kind, f.change_class, f.before, f.after, f.approvers) for f in result.findings] == [
        (K.TIGHTEN_GOVERNANCE, A, "requires_approval", "forbidden", ()),
        (K.APPROVERS_CHANGED, RA, "dba", "dba", ("dba",)),
    ]
