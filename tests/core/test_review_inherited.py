"""A service setting that falls back to the global policies: a change that only follows a global
edit is reported once, as the global edit; one the service makes on its own (or away from what
it inherited) is the service's too.
"""

from __future__ import annotations

import pytest

from reconciler.core.review.findings import ChangeClass, ChangeKind
from tests.core.test_review import (
    GLOBAL,
    POLICIES,
    SAFETY_ANCHOR,
    WEB_TEAM,
    Edit,
    base_files,
    replace,
    review,
)

K = ChangeKind
RA = ChangeClass.REQUIRES_APPROVAL
PER_HOUR = "governance.safety.rate_limits.max_operations_per_hour"
GLOBAL_20 = replace("max_operations_per_hour: 10\n", "max_operations_per_hour: 20\n", path=POLICIES)
FLEET_ROW = ("", PER_HOUR, K.SAFETY_LOOSENED, "10", "20", GLOBAL)


def own_per_hour(value: int) -> Edit:
    return replace(
        SAFETY_ANCHOR,
        f"  safety:\n    rate_limits:\n      max_operations_per_hour: {value}\n{SAFETY_ANCHOR}",
    )


@pytest.mark.parametrize(
    ("base_edit", "edits", "expected"),
    [
        pytest.param(None, [GLOBAL_20], [FLEET_ROW], id="the service follows the global edit"),
        pytest.param(
            None,
            [GLOBAL_20, own_per_hour(30)],
            [FLEET_ROW, ("web", PER_HOUR, K.SAFETY_LOOSENED, "10", "30", WEB_TEAM)],
            id="the service sets its own value as the global one moves",
        ),
        pytest.param(
            own_per_hour(5),
            [GLOBAL_20, replace("max_operations_per_hour: 5", "max_operations_per_hour: 20")],
            [FLEET_ROW, ("web", PER_HOUR, K.SAFETY_LOOSENED, "5", "20", WEB_TEAM)],
            id="the service moves from its own value to the new global one",
        ),
        pytest.param(
            own_per_hour(5),
            [replace("max_operations_per_hour: 5", "max_operations_per_hour: 10")],
            [("web", PER_HOUR, K.SAFETY_LOOSENED, "5", "10", WEB_TEAM)],
            id="the service moves to the unchanged global value",
        ),
    ],
)
def test_a_service_change_that_follows_a_global_edit_is_reported_once(
    base_edit: Edit | None, edits: list[Edit], expected: list[tuple[object, ...]]
) -> None:
    base = base_files()
    if base_edit is not None:
        base_edit(base)
    result = review(*edits, base=base)
    assert [
        (f.service, f.path, f.kind, f.before, f.after, f.approvers) for f in result.findings
    ] == expected
    assert all(f.change_class is RA for f in result.findings)


def test_a_service_without_its_own_namespace_follows_the_default_one() -> None:
    result = review(replace("  namespace: todo-app\n", "  namespace: shop\n", path=POLICIES))
    assert [(f.service, f.path, f.kind, f.before, f.after) for f in result.findings] == [
        ("", "defaults.namespace", K.RETARGETED, "todo-app", "shop")
    ]


def test_a_service_that_drops_its_approvers_while_the_global_ones_change_is_reported() -> None:
    result = review(
        replace("    approvers: [devops-team]", "    approvers: [sre]", path=POLICIES),
        replace("  approval_workflow:\n    approvers: [web-team]\n", ""),
    )
    assert [(f.service, f.kind, f.before, f.after, f.approvers) for f in result.findings] == [
        ("", K.APPROVERS_CHANGED, "devops-team", "sre", GLOBAL),
        ("web", K.APPROVERS_CHANGED, "web-team", "sre", WEB_TEAM),
    ]
