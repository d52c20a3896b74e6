"""Every field of the global policies a review compares, and the safety limits of a blueprint
moved by the smallest step each way: the direction decides the kind, and the kind the class.
"""

from __future__ import annotations

import pytest

from reconciler.core.review.findings import ChangeClass, ChangeKind
from tests.core.test_review import (
    GLOBAL,
    POLICIES,
    SAFETY_ANCHOR,
    WEB_TEAM,
    base_files,
    insert_after,
    replace,
    review,
)

K = ChangeKind
A, RA = ChangeClass.ALLOWED, ChangeClass.REQUIRES_APPROVAL


@pytest.mark.parametrize(
    ("old", "new", "path", "kind", "shown"),
    [
        ("namespace: todo-app", "namespace: shop", "defaults.namespace", K.RETARGETED,
         ("todo-app", "shop")),
        ("approvers: [devops-team]", "approvers: [devops-team, sre]",
         "governance.approval_workflow.approvers", K.APPROVERS_CHANGED,
         ("devops-team", "devops-team, sre")),
        ("timeout: 1h", "timeout: 2h", "governance.approval_workflow.timeout", K.GLOBAL_POLICY,
         ("1h", "2h")),
        ("auto_reject_on_timeout: true", "auto_reject_on_timeout: false",
         "governance.approval_workflow.auto_reject_on_timeout", K.GLOBAL_POLICY,
         ("True", "False")),
        ("rejection_cooloff: 24h", "rejection_cooloff: 12h",
         "governance.approval_workflow.rejection_cooloff", K.GLOBAL_POLICY, ("1d", "12h")),
        ("default_period: 60s", "default_period: 59s",
         "governance.safety.cooldown.default_period", K.SAFETY_LOOSENED, ("1m", "59s")),
        ("default_period: 60s", "default_period: 61s",
         "governance.safety.cooldown.default_period", K.SAFETY_TIGHTENED, ("1m", "1m1s")),
        ("max_operations_per_hour: 10", "max_operations_per_hour: 11",
         "governance.safety.rate_limits.max_operations_per_hour", K.SAFETY_LOOSENED, ("10", "11")),
        ("max_operations_per_day: 50", "max_operations_per_day: 49",
         "governance.safety.rate_limits.max_operations_per_day", K.SAFETY_TIGHTENED, ("50", "49")),
        ("failure_threshold: 3", "failure_threshold: 4",
         "governance.safety.circuit_breaker.failure_threshold", K.SAFETY_LOOSENED, ("3", "4")),
        ("failure_window: 5m", "failure_window: 4m",
         "governance.safety.circuit_breaker.failure_window", K.SAFETY_LOOSENED, ("5m", "4m")),
        ("reset_timeout: 1h", "reset_timeout: 59m",
         "governance.safety.circuit_breaker.reset_timeout", K.SAFETY_LOOSENED, ("1h", "59m")),
        ("manual_reset_required: true", "manual_reset_required: false",
         "governance.safety.circuit_breaker.manual_reset_required", K.SAFETY_LOOSENED,
         ("True", "False")),
        ("max_new_per_run: 5", "max_new_per_run: 9", "governance.proposals.max_new_per_run",
         K.GLOBAL_POLICY, ("5", "9")),
    ],
)  # fmt: skip
def test_each_global_field_is_an_edit_for_the_global_approvers(
    old: str, new: str, path: str, kind: ChangeKind, shown: tuple[str, str]
) -> None:
    result = review(replace(old, new, path=POLICIES))
    assert [
        (f.service, f.file, f.path, f.kind, f.change_class, f.before, f.after, f.approvers)
        for f in result.findings
    ] == [("", POLICIES, path, kind, RA, *shown, GLOBAL)]


#: A blueprint's own safety limit moved one step from the global value, each way.
_STEPS = [
    ("rate_limits", "max_operations_per_hour", "11", K.SAFETY_LOOSENED),
    ("rate_limits", "max_operations_per_hour", "9", K.SAFETY_TIGHTENED),
    ("rate_limits", "max_operations_per_day", "51", K.SAFETY_LOOSENED),
    ("rate_limits", "max_operations_per_day", "49", K.SAFETY_TIGHTENED),
    ("circuit_breaker", "failure_threshold", "4", K.SAFETY_LOOSENED),
    ("circuit_breaker", "failure_threshold", "2", K.SAFETY_TIGHTENED),
    ("circuit_breaker", "failure_window", "299s", K.SAFETY_LOOSENED),
    ("circuit_breaker", "failure_window", "301s", K.SAFETY_TIGHTENED),
    ("circuit_breaker", "reset_timeout", "3599s", K.SAFETY_LOOSENED),
    ("circuit_breaker", "reset_timeout", "3601s", K.SAFETY_TIGHTENED),
]


@pytest.mark.parametrize(
    ("section", "name", "value", "kind"),
    _STEPS,
    ids=[f"{name} {value}" for _, name, value, _ in _STEPS],
)
def test_a_blueprints_safety_limit_one_step_from_the_global_one(
    section: str, name: str, value: str, kind: ChangeKind
) -> None:
    result = review(
        replace(SAFETY_ANCHOR, f"  safety:\n    {section}:\n      {name}: {value}\n{SAFETY_ANCHOR}")
    )
    (finding,) = result.findings
    assert (finding.path, finding.kind) == (f"governance.safety.{section}.{name}", kind)
    loosened = kind is K.SAFETY_LOOSENED
    assert (finding.change_class, finding.approvers) == ((RA, WEB_TEAM) if loosened else (A, ()))


#: A memory request of 10^9 bytes moved by 100,000,001 and 100,000,002 bytes: shares of
#: 0.100000001 and 0.100000002 as floats divide, either side of the 1e-9 slack above 10 %.
_SLACK = [
    ("1100000001", "adjust_resources_within_10_percent", A),
    ("1100000002", "change_resource_limits_beyond_10_percent", RA),
]


@pytest.mark.parametrize(("value", "operation", "cls"), _SLACK, ids=[v for v, *_ in _SLACK])
def test_a_request_share_at_the_edge_of_the_slack_above_10_percent(
    value: str, operation: str, cls: ChangeClass
) -> None:
    base = base_files()
    memory = "    memory:\n      request: 1000000000\n"
    insert_after("      limit: 500m\n", memory)(base)
    (finding,) = review(replace("request: 1000000000", f"request: {value}"), base=base).findings
    assert (finding.path, finding.kind, finding.operation, finding.change_class) == (
        "spec.resources.memory.request",
        K.RESOURCES_CHANGED,
        operation,
        cls,
    )
