"""The governance rules' own problems, pinned word for word: the fix a problem gives is what
the person acts on, and where it points (line and column) is where the editor jumps.

Each blueprint below is the smallest that shows one rule check; every other check passes.
"""

from __future__ import annotations

from reconciler.core.blueprint.catalogue import Alternative
from reconciler.core.blueprint.loading import load_blueprint
from reconciler.core.blueprint.model import Blueprint
from reconciler.core.blueprint.policies import builtin_policies, load_policies
from reconciler.core.problems import Problem, Severity

SOURCE = "blueprints/web/blueprint.yaml"

#: Nine lines; the governance section a test appends starts on line 10.
MINIMAL = """\
metadata:
  name: web
  version: 1.0.0
spec:
  scaling:
    min_replicas: 1
    max_replicas: 5
governance:
  approval_workflow: {approvers: [alice]}
"""

#: Global policies that forbid one operation outright and restrict another.
POLICIES = """\
governance:
  agent_authority:
    requires_approval: [change_image]
    forbidden_operations: [delete_deployment]
"""

E, W = Severity.ERROR, Severity.WARNING
AUTHORITY = "governance.agent_authority"


def load(
    authority: str, *, global_policies: bool = False
) -> tuple[Blueprint | None, list[Problem]]:
    """The blueprint and problems of MINIMAL with `authority` (lines under agent_authority)."""
    policies = builtin_policies()
    if global_policies:
        loaded, found = load_policies(POLICIES.encode(), source="policies.yaml")
        assert loaded is not None, found
        policies = loaded
    text = MINIMAL + "  agent_authority:\n" + authority
    blueprint, problems = load_blueprint(
        text.encode(), source=SOURCE, policies=policies, expected_name="web"
    )
    assert (blueprint is None) == any(p.severity is E for p in problems)
    return blueprint, problems


def described(problem: Problem) -> tuple[Severity, str, str, int, int, str, str]:
    return (
        problem.severity,
        problem.code,
        problem.path,
        problem.line,
        problem.column,
        problem.message,
        problem.hint,
    )


def test_an_operation_in_two_tiers_is_told_to_pick_one() -> None:
    """The second listing is left out, so it is not checked further (no warning about its
    `autonomous: true`): one mistake, one problem."""
    _, problems = load(
        "    allowed_operations: [change_image]\n"
        "    forbidden_operations:\n      - {operation: change_image, autonomous: true}\n"
    )
    assert [described(p) for p in problems] == [
        (
            E,
            "operation.two_tiers",
            f"{AUTHORITY}.forbidden_operations[0]",
            13,
            9,
            f"change_image is also listed under allowed_operations "
            f"({AUTHORITY}.allowed_operations[0])",
            "list each operation in one tier only; use `condition:` to split cases",
        )
    ]


def test_autonomous_outside_allowed_is_told_to_go() -> None:
    _, problems = load(
        "    requires_approval:\n      - {operation: change_image, autonomous: true}\n"
    )
    assert [described(p) for p in problems] == [
        (
            W,
            "operation.autonomous",
            f"{AUTHORITY}.requires_approval[0].autonomous",
            12,
            35,
            "`autonomous: true` has no effect under requires_approval",
            "only allowed operations run on their own; remove the field",
        )
    ]


def test_loosening_a_global_forbid_points_at_the_entry_with_its_fix() -> None:
    _, problems = load(
        "    allowed_operations: [restart_failed_pods]\n"
        "    requires_approval:\n      - delete_deployment\n",
        global_policies=True,
    )
    assert [described(p) for p in problems] == [
        (
            E,
            "policy.loosen_forbidden",
            f"{AUTHORITY}.requires_approval[0]",
            13,
            9,
            "delete_deployment is forbidden by the global policies (policies.yaml); "
            "a service cannot allow it or make it approvable",
            "remove this entry; changing it needs a reviewed change to the global policies",
        )
    ]


def test_allowing_a_global_restriction_points_at_the_entry_with_its_fix() -> None:
    _, problems = load(
        "    forbidden_operations: [restart_failed_pods]\n"
        "    allowed_operations:\n      - scale_within_limits\n      - change_image\n",
        global_policies=True,
    )
    assert [described(p) for p in problems] == [
        (
            W,
            "policy.loosen_restricted",
            f"{AUTHORITY}.allowed_operations[1]",
            14,
            9,
            "change_image needs approval under the global policies, so it stays "
            "restricted despite being listed as allowed here",
            "move it to requires_approval, or change the global policies",
        )
    ]


def test_a_quoted_condition_that_does_not_parse_points_inside_the_quotes() -> None:
    _, problems = load(
        "    allowed_operations:\n"
        "      - operation: change_image\n"
        "        condition: 'replicas >'\n"
    )
    # The value opens with its quote at column 20; the condition ends early at its column 11.
    assert [described(p) for p in problems] == [
        (
            E,
            "condition",
            f"{AUTHORITY}.allowed_operations[0].condition",
            13,
            20 + 1 + 10,
            "the condition ends too early in condition 'replicas >' at column 11",
            "complete the expression",
        )
    ]


def test_an_unquoted_condition_that_does_not_parse_points_at_its_column() -> None:
    _, problems = load(
        "    allowed_operations:\n      - operation: change_image\n        condition: replicas >\n"
    )
    assert [described(p) for p in problems] == [
        (
            E,
            "condition",
            f"{AUTHORITY}.allowed_operations[0].condition",
            13,
            20 + 10,
            "the condition ends too early in condition 'replicas >' at column 11",
            "complete the expression",
        )
    ]


def test_an_unknown_name_does_not_stop_the_entries_after_it() -> None:
    _, problems = load(
        "    requires_approval:\n"
        "      - change_imag\n"
        "      - {operation: change_image, autonomous: true}\n"
    )
    assert [(p.severity, p.code, p.path) for p in problems] == [
        (E, "operation.unknown", f"{AUTHORITY}.requires_approval[0]"),
        (W, "operation.autonomous", f"{AUTHORITY}.requires_approval[1].autonomous"),
    ]


def test_a_broken_condition_does_not_stop_the_entries_after_it() -> None:
    """The entry with the broken condition is not checked further (its `autonomous: true`
    is not warned about: the person fixes the condition first); the next entry is."""
    _, problems = load(
        "    requires_approval:\n"
        "      - {operation: change_image, condition: replicas >, autonomous: true}\n"
        "      - {operation: scale_within_limits, autonomous: true}\n"
    )
    assert [(p.severity, p.code, p.path) for p in problems] == [
        (E, "condition", f"{AUTHORITY}.requires_approval[0].condition"),
        (W, "operation.autonomous", f"{AUTHORITY}.requires_approval[1].autonomous"),
    ]


def test_an_alternative_without_a_description_has_an_empty_one() -> None:
    blueprint, problems = load(
        "    forbidden_operations:\n"
        "      - operation: delete_deployment\n"
        "        alternatives:\n"
        "          - {operation: scale_within_limits}\n"
        "          - {operation: scale_beyond_limits, replicas: 3}\n"
    )
    assert blueprint is not None and problems == []
    (rule,) = [r for r in blueprint.policy.rules if r.origin == "blueprint"]
    assert rule.alternatives == (
        Alternative(operation="scale_within_limits", description=""),
        Alternative(operation="scale_beyond_limits", description="", replicas=3),
    )
