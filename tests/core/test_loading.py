"""Loading blueprints: the seed loads as written, defaults apply, every bad input is explained."""

from __future__ import annotations

import textwrap
from collections.abc import Callable

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.core.blueprint.claims import check_unique_names
from reconciler.core.blueprint.loading import load_blueprint, parse_blueprint
from reconciler.core.blueprint.model import Tier
from reconciler.core.blueprint.policies import builtin_policies, load_policies
from reconciler.core.errors import BlueprintError
from reconciler.core.problems import Problem, Severity

# The blueprint exactly as the seed scenario writes it.
SEED_BLUEPRINT = """\
# blueprints/frontend/blueprint.yaml
metadata:
  name: todo-frontend
  version: 1.0.0

spec:
  scaling:
    min_replicas: 1
    max_replicas: 5
    target_cpu_utilization: 70%
    target_memory_utilization: 80%
    scale_up_threshold: 80%
    scale_down_threshold: 40%

governance:
  agent_authority:
    allowed_operations:
      - operation: scale_within_limits
        condition: target_replicas >= min_replicas AND target_replicas <= max_replicas
        autonomous: true
"""

SOURCE = "blueprints/web/blueprint.yaml"

MINIMAL = """\
metadata:
  name: web
  version: 1.0.0
spec:
  scaling:
    min_replicas: 1
    max_replicas: 5
"""


def problems_for(text: str | bytes, *, policies_text: str | None = None) -> list[Problem]:
    policies = builtin_policies()
    if policies_text is not None:
        loaded, found = load_policies(policies_text.encode(), source="policies.yaml")
        assert loaded is not None, found
        policies = loaded
    data = text.encode() if isinstance(text, str) else text
    blueprint, problems = load_blueprint(
        data, source=SOURCE, policies=policies, expected_name="web"
    )
    assert (blueprint is None) == any(p.severity is Severity.ERROR for p in problems)
    return problems


def only_error(text: str | bytes, **kwargs: str) -> Problem:
    errors = [p for p in problems_for(text, **kwargs) if p.severity is Severity.ERROR]
    assert len(errors) == 1, [p.render() for p in errors]
    return errors[0]


def test_seed_blueprint_loads_as_written_with_documented_defaults() -> None:
    blueprint = parse_blueprint(
        SEED_BLUEPRINT.encode(), source="blueprints/todo-frontend/blueprint.yaml"
    )
    scaling = blueprint.scaling
    assert (blueprint.name, blueprint.version) == ("todo-frontend", "1.0.0")
    assert (scaling.min_replicas, scaling.max_replicas) == (1, 5)
    assert scaling.target_cpu_utilization == pytest.approx(0.70)
    assert scaling.scale_up_threshold == pytest.approx(0.80)
    assert scaling.scale_down_threshold == pytest.approx(0.40)
    # Documented defaults for what the seed omits.
    assert {m.type: m.weight for m in scaling.metrics} == {
        "cpu": 0.5,
        "memory": 0.3,
        "latency": 0.2,
    }
    assert blueprint.performance.latency_p95_ms == 200
    assert blueprint.performance.error_rate_max == pytest.approx(0.01)
    assert blueprint.policy.safety.cooldown == 60
    assert (scaling.scale_up_increment, scaling.scale_down_increment) == (1, 1)
    assert scaling.scale_down_stabilization == 300
    assert scaling.stabilization_period == 60
    assert blueprint.policy.safety.circuit_breaker.failure_threshold == 3
    assert blueprint.policy.safety.circuit_breaker.failure_window == 300
    assert blueprint.policy.safety.rate_limits.per_hour == 10
    assert blueprint.policy.safety.rate_limits.per_day == 50
    assert blueprint.policy.approval.timeout == 3600
    rule = blueprint.policy.rules_for("scale_within_limits", Tier.ALLOWED)[0]
    assert str(rule.condition) == (
        "target_replicas >= min_replicas AND target_replicas <= max_replicas"
    )
    assert rule.reference == "governance.agent_authority.allowed_operations[0]"
    assert rule.autonomous is True


def test_shipped_seed_file_is_the_seed_text() -> None:
    from pathlib import Path

    shipped = Path("blueprints/todo-frontend/blueprint.yaml").read_text()
    body = "\n".join(line for line in shipped.splitlines() if "yaml-language-server" not in line)
    assert body.strip() == SEED_BLUEPRINT.strip()


def test_operations_as_plain_strings_and_objects_with_notes() -> None:
    text = MINIMAL + textwrap.dedent(
        """\
        governance:
          agent_authority:
            allowed_operations: [scale_within_limits, restart_failed_pods]
            requires_approval:
              - operation: scale_beyond_limits
                rationale: more pods cost money
                approvers: [acme/sre, alice]
            forbidden_operations:
              - operation: delete_deployment
                alternatives:
                  - scale_beyond_limits
                  - {operation: rollback_deployment, description: undo the release}
        """
    )
    blueprint = parse_blueprint(text.encode(), source=SOURCE)
    restricted = blueprint.policy.rules_for("scale_beyond_limits", Tier.RESTRICTED)[0]
    assert restricted.approvers == ("acme/sre", "alice")
    assert restricted.rationale == "more pods cost money"
    forbidden = blueprint.policy.rules_for("delete_deployment", Tier.FORBIDDEN)[0]
    assert [a.operation for a in forbidden.alternatives] == [
        "scale_beyond_limits",
        "rollback_deployment",
    ]


# Each bad input gets its own clear message naming the file, the field and the fix.
@pytest.mark.parametrize(
    ("name", "text", "path", "message", "hint"),
    [
        (
            "invalid YAML",
            "metadata:\n  name: web\n   version: 1\n",
            "",
            "invalid YAML: the key on line 3 starts in column 4, right of the key on line 2",
            "start `version` in column 3, like line 2",
        ),
        ("empty file", "", "", "empty", "blueprint mapping"),
        ("only a comment", "# nothing\n", "", "empty", "blueprint mapping"),
        ("list at the top", "- metadata\n- spec\n", "", "a list, not a mapping", "metadata:"),
        ("scalar at the top", "just text\n", "", "not a mapping", "metadata:"),
        (
            "two documents",
            MINIMAL + "---\n" + MINIMAL,
            "",
            "more than one YAML document",
            "one blueprint per file",
        ),
        (
            "duplicate key",
            MINIMAL.replace("  version: 1.0.0\n", "  version: 1.0.0\n  name: x\n"),
            "",
            "duplicate key 'name'",
            "keep one",
        ),
        (
            "name with ../",
            MINIMAL.replace("name: web", "name: ../web"),
            "metadata.name",
            "not a valid name",
            "lower-case",
        ),
        (
            "name with uppercase",
            MINIMAL.replace("name: web", "name: Web"),
            "metadata.name",
            "not a valid name",
            "lower-case",
        ),
        (
            "name with spaces",
            MINIMAL.replace("name: web", "name: my web"),
            "metadata.name",
            "not a valid name",
            "lower-case",
        ),
        (
            "name differs from folder",
            MINIMAL.replace("name: web", "name: api"),
            "metadata.name",
            "does not match its folder 'web'",
            "rename the folder",
        ),
        (
            "string where a number belongs",
            MINIMAL.replace("max_replicas: 5", "max_replicas: '5'"),
            "spec.scaling.max_replicas",
            "expected a whole number, got text ('5')",
            "without quotes",
        ),
        (
            "number where text belongs",
            MINIMAL.replace("version: 1.0.0", "version: 1.0"),
            "metadata.version",
            "not a version",
            '"1.0.0"',
        ),
        (
            "number where a duration belongs",
            MINIMAL + "    cooldown_period: 60\n",
            "spec.scaling.cooldown_period",
            "has no unit",
            "60s",
        ),
        (
            "percentage over 100",
            MINIMAL + "    scale_up_threshold: 150%\n",
            "spec.scaling.scale_up_threshold",
            "150% is over 100%",
            "at most 100%",
        ),
        (
            "negative duration",
            MINIMAL + "    cooldown_period: -30s\n",
            "spec.scaling.cooldown_period",
            "negative",
            "60s",
        ),
        (
            "percentage without %",
            MINIMAL + "    scale_up_threshold: 80\n",
            "spec.scaling.scale_up_threshold",
            "did you mean 80%",
            "70%",
        ),
        (
            "min above max",
            MINIMAL.replace("max_replicas: 5", "max_replicas: 0"),
            "spec.scaling.max_replicas",
            "must be >= 1",
            "",
        ),
        (
            "min above max",
            MINIMAL.replace("min_replicas: 1", "min_replicas: 6"),
            "spec.scaling.max_replicas",
            "must be >= min_replicas (6), got 5",
            "raise max_replicas",
        ),
        (
            "thresholds reversed",
            MINIMAL + "    scale_up_threshold: 40%\n    scale_down_threshold: 60%\n",
            "spec.scaling.scale_down_threshold",
            "must be below scale_up_threshold (40%)",
            "gap",
        ),
        (
            "missing field",
            MINIMAL.replace("  version: 1.0.0\n", ""),
            "metadata.version",
            "missing required field `version`",
            'version: "1.0.0"',
        ),
        (
            "unknown field",
            MINIMAL + "    max_replica: 3\n",
            "spec.scaling.max_replica",
            "unknown field `max_replica`",
            "max_replicas",
        ),
        (
            "list where a mapping belongs",
            MINIMAL.replace("spec:\n  scaling:", "spec:\n  - scaling:"),
            "spec",
            "expected a mapping",
            "remove the leading '-'",
        ),
        (
            "unknown operation",
            MINIMAL + "governance:\n  agent_authority:\n    allowed_operations:"
            " [scale_withn_limits]\n",
            "governance.agent_authority.allowed_operations[0]",
            "unknown operation 'scale_withn_limits'",
            "did you mean scale_within_limits?",
        ),
        (
            "operation in two tiers",
            MINIMAL + "governance:\n  agent_authority:\n"
            "    allowed_operations: [restart_failed_pods]\n"
            "    forbidden_operations: [restart_failed_pods]\n",
            "governance.agent_authority.forbidden_operations[0]",
            "also listed under allowed_operations",
            "one tier only",
        ),
        (
            "bad condition",
            MINIMAL + "governance:\n  agent_authority:\n    allowed_operations:\n"
            "      - operation: adjust_resources_within_10_percent\n"
            "        condition: change_percent <= 10\n",
            "governance.agent_authority.allowed_operations[0].condition",
            "cannot compare change_percent",
            "10%",
        ),
        (
            "enum typo",
            MINIMAL.replace("  version: 1.0.0\n", "  version: 1.0.0\n  priority: hihg\n"),
            "metadata.priority",
            "'hihg' is not one of",
            "did you mean high?",
        ),
        (
            "request above limit",
            MINIMAL + "  resources:\n    cpu:\n      request: 500m\n      limit: 200m\n",
            "spec.resources.cpu.request",
            "above limit",
            "raise the limit",
        ),
        (
            "duplicate metric",
            MINIMAL + "    metrics:\n      - {type: cpu, weight: 0.5}\n"
            "      - {type: cpu, weight: 0.5}\n",
            "spec.scaling.metrics[1].type",
            "listed twice",
            "",
        ),
        (
            "negative weight",
            MINIMAL + "    metrics:\n      - {type: cpu, weight: -0.5}\n",
            "spec.scaling.metrics[0].weight",
            "must be >= 0",
            "",
        ),
    ],
)
def test_bad_input_is_explained(name: str, text: str, path: str, message: str, hint: str) -> None:
    problem = only_error(text)
    assert problem.file == SOURCE
    assert problem.path == path, name
    assert message in problem.message, problem.render()
    assert hint in problem.hint, problem.render()
    assert problem.render().startswith(SOURCE)


def test_positions_point_at_the_field() -> None:
    problem = only_error(MINIMAL.replace("max_replicas: 5", "max_replicas: '5'"))
    assert (problem.line, problem.column) == (7, 5)
    condition = only_error(
        MINIMAL + "governance:\n  agent_authority:\n    allowed_operations:\n"
        "      - operation: scale_within_limits\n        condition: target_replicas > max_replica\n"
    )
    # Line 12; the value starts at column 20 and the bad name at column 19 of the condition.
    assert (condition.line, condition.column) == (12, 20 + 18)


def test_problems_on_one_line_are_ordered_by_column() -> None:
    """The governance section is checked before the name, but on one line the name comes first."""
    text = (
        "{metadata: {name: api, version: 1.0.0}, spec: {scaling: {min_replicas: 1, "
        "max_replicas: 5}}, governance: {agent_authority: {forbidden_operations: [delet]}}}\n"
    )
    assert [(p.code, p.line, p.column) for p in problems_for(text)] == [
        ("name.folder", 1, 13),
        ("operation.unknown", 1, 148),
    ]


def test_non_utf8_bytes() -> None:
    problem = only_error(b"metadata:\n  name: \xff\n")
    assert problem.code == "yaml"
    assert "not valid UTF-8" in problem.message
    assert (problem.line, problem.column) == (2, 9)
    assert "UTF-8" in problem.hint


def test_file_over_the_size_limit() -> None:
    problem = only_error(MINIMAL + "# " + "x" * 300_000 + "\n")
    assert problem.code == "yaml"
    assert "over the 262144-byte limit" in problem.message


def test_alias_expansion_bomb_is_refused_quickly() -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, 9):
        refs = ",".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    problem = only_error("\n".join(lines) + "\n")
    assert "expands to more than" in problem.message
    assert "aliases" in problem.hint


def test_small_aliases_are_fine() -> None:
    text = MINIMAL + (
        "governance:\n  agent_authority:\n    allowed_operations: &ops [restart_failed_pods]\n"
        "  approval_workflow:\n    approvers: [alice]\n"
    )
    assert not [p for p in problems_for(text) if p.severity is Severity.ERROR]


def test_every_problem_is_reported_not_just_the_first() -> None:
    text = (
        MINIMAL.replace("version: 1.0.0", "version: 1.0").replace(
            "min_replicas: 1", "min_replicas: 9"
        )
        + "    scale_up_threshold: 150%\ngovernance:\n  agent_authority:\n"
        "    forbidden_operations: [delet_deployment]\n"
    )
    found = {p.path for p in problems_for(text) if p.severity is Severity.ERROR}
    assert found == {
        "metadata.version",
        "spec.scaling.max_replicas",
        "spec.scaling.scale_up_threshold",
        "governance.agent_authority.forbidden_operations[0]",
    }


# A schema error in one section must not hide the semantic problems of the others. Each case
# breaks one section's schema and makes semantic mistakes in other sections; every one of them
# is reported, at its own field and line.
SECTIONS_BLUEPRINT = """\
metadata:
  name: web
  version: 1.0.0
spec:
  scaling:
    min_replicas: 1
    max_replicas: 5
    target_cpu_utilization: 70%
  performance:
    error_rate_max: 150%
  resources:
    cpu: {request: 500m, limit: 200m}
  reliability:
    max_restart_count: 2
    rollback_threshold: 3
cost:
  cost_per_replica: 20 USD
  monthly_budget: 400 EUR
"""

#: The semantic problems above, as (severity, path, line, column).
SECTIONS_SEMANTIC = {
    (Severity.ERROR, "spec.performance.error_rate_max", 10, 5),
    (Severity.ERROR, "spec.resources.cpu.request", 12, 11),
    (Severity.WARNING, "spec.reliability.rollback_threshold", 15, 5),
    (Severity.ERROR, "cost.monthly_budget", 18, 3),
}


@pytest.mark.parametrize(
    ("name", "old", "new", "schema_error"),
    [
        (
            "word for a count",
            "min_replicas: 1",
            'min_replicas: "one"',
            (Severity.ERROR, "spec.scaling.min_replicas", 6, 5),
        ),
        (
            "quoted percentage",
            "target_cpu_utilization: 70%",
            'target_cpu_utilization: "70"',
            (Severity.ERROR, "spec.scaling.target_cpu_utilization", 8, 5),
        ),
        (
            "typo in metadata",
            "version: 1.0.0",
            "version: 1.0",
            (Severity.ERROR, "metadata.version", 3, 3),
        ),
        (
            "unknown top-level field",
            "400 EUR\n",
            "400 EUR\ncots: {}\n",
            (Severity.ERROR, "cots", 19, 1),
        ),
    ],
)
def test_a_schema_error_hides_no_semantic_problem_elsewhere(
    name: str, old: str, new: str, schema_error: tuple[Severity, str, int, int]
) -> None:
    assert old in SECTIONS_BLUEPRINT
    text = SECTIONS_BLUEPRINT.replace(old, new, 1)
    blueprint, problems = load_blueprint(
        text.encode(), source=SOURCE, policies=builtin_policies(), expected_name="web"
    )
    assert blueprint is None, name
    found = {(p.severity, p.path, p.line, p.column) for p in problems}
    assert found == SECTIONS_SEMANTIC | {schema_error}, [p.render() for p in problems]


def test_semantic_problems_are_the_same_with_or_without_a_schema_error_elsewhere() -> None:
    clean = {(p.path, p.message) for p in problems_for(SECTIONS_BLUEPRINT)}
    broken = SECTIONS_BLUEPRINT.replace("min_replicas: 1", 'min_replicas: "one"')
    found = {(p.path, p.message) for p in problems_for(broken)}
    assert clean <= found
    assert found - clean == {
        ("spec.scaling.min_replicas", "expected a whole number, got text ('one')")
    }


def test_a_section_with_a_schema_error_skips_its_own_checks() -> None:
    # max < min would be reported, but max_replicas's section already failed the schema, and
    # its checks would run on values the schema refused.
    text = MINIMAL.replace("min_replicas: 1", "min_replicas: 9") + "    cooldown_period: 60\n"
    assert [p.path for p in problems_for(text)] == ["spec.scaling.cooldown_period"]


def test_a_check_spanning_two_sections_runs_only_when_both_are_clean() -> None:
    restricted = (
        MINIMAL + "governance:\n  agent_authority:\n    requires_approval: [change_image]\n"
    )
    assert [p.code for p in problems_for(restricted)] == ["approval.no_approvers"]
    broken_workflow = restricted + "  approval_workflow:\n    timeout: soon\n"
    assert [p.path for p in problems_for(broken_workflow)] == [
        "governance.approval_workflow.timeout"
    ]
    broken_tiers = (
        MINIMAL + "governance:\n  agent_authority:\n    requires_approval: [{operation: 3}]\n"
    )
    assert [p.code for p in problems_for(broken_tiers)] == ["schema"]


def test_only_warnings_elsewhere_still_no_blueprint_when_the_schema_failed() -> None:
    text = SECTIONS_BLUEPRINT.replace("error_rate_max: 150%", "error_rate_max: 1%")
    text = text.replace("request: 500m", "request: 100m").replace("400 EUR", "400 USD")
    text = text.replace("  name: web\n", "  name: web\n  colour: blue\n")
    blueprint, problems = load_blueprint(text.encode(), source=SOURCE, policies=builtin_policies())
    assert blueprint is None
    assert [(p.severity, p.path) for p in problems] == [
        (Severity.ERROR, "metadata.colour"),
        (Severity.WARNING, "spec.reliability.rollback_threshold"),
    ]


def test_warnings_do_not_block_loading() -> None:
    text = (
        MINIMAL
        + "    metrics:\n      - {type: cpu, weight: 0.6}\n      - {type: memory, weight: 0.6}\n"
    )
    problems = problems_for(text)
    assert [(p.severity, p.code, p.path) for p in problems] == [
        (Severity.WARNING, "metrics.sum", "spec.scaling.metrics")
    ]
    assert "weights sum to 1.2" in problems[0].message


POLICIES = """\
governance:
  agent_authority:
    requires_approval: [scale_beyond_limits]
    forbidden_operations:
      - delete_deployment
      - operation: restart_failed_pods
        condition: restart_count > 10
  approval_workflow:
    approvers: [devops-team]
    timeout: 30m
  safety:
    cooldown: {default_period: 2m}
    rate_limits: {max_operations_per_hour: 4}
"""


@pytest.mark.parametrize("tier", ["allowed_operations", "requires_approval"])
def test_a_service_cannot_loosen_a_global_forbid(tier: str) -> None:
    text = MINIMAL + f"governance:\n  agent_authority:\n    {tier}: [delete_deployment]\n"
    problem = only_error(text, policies_text=POLICIES)
    assert (problem.code, problem.path) == (
        "policy.loosen_forbidden",
        f"governance.agent_authority.{tier}[0]",
    )
    assert "forbidden by the global policies" in problem.message
    assert "global policies" in problem.hint


def test_a_conditional_global_forbid_leaves_other_cases_to_the_service() -> None:
    text = (
        MINIMAL + "governance:\n  agent_authority:\n    allowed_operations: [restart_failed_pods]\n"
    )
    assert problems_for(text, policies_text=POLICIES) == []


def test_allowing_a_globally_restricted_operation_warns_and_stays_restricted() -> None:
    text = (
        MINIMAL + "governance:\n  agent_authority:\n    allowed_operations: [scale_beyond_limits]\n"
    )
    problems = problems_for(text, policies_text=POLICIES)
    assert [p.code for p in problems] == ["policy.loosen_restricted"]


def test_merge_rules() -> None:
    policies, problems = load_policies(POLICIES.encode(), source="policies.yaml")
    assert policies is not None and not problems
    text = MINIMAL + (
        "    cooldown_period: 45s\n"
        "governance:\n  agent_authority:\n    forbidden_operations: [change_image]\n"
        "  approval_workflow:\n    timeout: 2h\n"
        "  safety:\n    circuit_breaker: {failure_threshold: 2}\n"
    )
    blueprint, problems = load_blueprint(text.encode(), source=SOURCE, policies=policies)
    assert blueprint is not None, problems
    policy = blueprint.policy
    # Forbidden is the union of both lists.
    assert set(policy.names(Tier.FORBIDDEN)) == {
        "change_image",
        "delete_deployment",
        "restart_failed_pods",
    }
    # Approval settings are overridden field by field.
    assert policy.approval.timeout == 7200
    assert policy.approval.approvers == ("devops-team",)
    # Safety: the blueprint's cooldown_period wins, the rest falls back to global, then defaults.
    assert policy.safety.cooldown == 45
    assert policy.safety.rate_limits.per_hour == 4
    assert policy.safety.rate_limits.per_day == 50
    assert policy.safety.circuit_breaker.failure_threshold == 2
    assert policy.safety.circuit_breaker.failure_window == 300


def test_policies_file_problems_are_reported() -> None:
    policies, problems = load_policies(
        b"governance:\n  safety:\n    rate_limits: {max_operations_per_hour: ten}\n",
        source="blueprints/governance/policies.yaml",
    )
    assert policies is None
    assert problems[0].path == "governance.safety.rate_limits.max_operations_per_hour"
    assert "whole number" in problems[0].message


@pytest.mark.parametrize(
    ("load", "file", "fix"),
    [
        (
            lambda data: load_policies(data, source="blueprints/governance/policies.yaml"),
            "blueprints/governance/policies.yaml",
            "write a policies file mapping (see docs/blueprint-format.md)",
        ),
        (
            lambda data: load_blueprint(data, source=SOURCE, policies=builtin_policies()),
            SOURCE,
            "write a blueprint mapping (see docs/blueprint-format.md)",
        ),
    ],
    ids=["policies file", "blueprint"],
)
def test_an_empty_file_is_refused_with_a_fix_naming_what_it_should_hold(
    load: Callable[[bytes], tuple[object, list[Problem]]], file: str, fix: str
) -> None:
    loaded, problems = load(b"")
    assert loaded is None
    assert [(p.file, p.code, p.path, p.severity, p.hint) for p in problems] == [
        (file, "yaml", "", Severity.ERROR, fix)
    ]


def test_a_policies_schema_error_hides_no_rule_problem() -> None:
    policies, problems = load_policies(
        b"governance:\n  agent_authority:\n    forbidden_operations: [delet_deployment]\n"
        b"  safety:\n    rate_limits: {max_operations_per_hour: ten}\n",
        source="blueprints/governance/policies.yaml",
    )
    assert policies is None
    assert [(p.path, p.line, p.code) for p in problems] == [
        ("governance.agent_authority.forbidden_operations[0]", 3, "operation.unknown"),
        ("governance.safety.rate_limits.max_operations_per_hour", 5, "schema"),
    ]


def test_rules_are_not_checked_against_custom_operations_that_failed_the_schema() -> None:
    policies, problems = load_policies(
        b"operations:\n  flush_cache: [not, a, summary]\n"
        b"governance:\n  agent_authority:\n    allowed_operations: [flush_cache]\n",
        source="blueprints/governance/policies.yaml",
    )
    assert policies is None
    assert [p.path for p in problems] == ["operations.flush_cache"]


@pytest.mark.parametrize(
    ("text", "path", "line"),
    [
        pytest.param(
            b"operations: [flush_cache]\n"
            b"governance:\n  agent_authority:\n    allowed_operations: [flush_cache]\n",
            "operations",
            1,
            id="custom operations as a list",
        ),
        pytest.param(
            b"governance:\n  agent_authority:\n    allowed_operations: restart_failed_pods\n",
            "governance.agent_authority.allowed_operations",
            3,
            id="a tier as a single name",
        ),
        pytest.param(
            b"governance:\n  agent_authority: [restart_failed_pods]\n",
            "governance.agent_authority",
            2,
            id="the tiers as a list",
        ),
    ],
)
def test_rules_are_not_built_from_policies_sections_that_failed_the_schema(
    text: bytes, path: str, line: int
) -> None:
    """The rules read the tiers and the custom operations as the schema shapes them; when
    either failed it, the schema error is the whole answer, not a crash or a guess."""
    policies, problems = load_policies(text, source="blueprints/governance/policies.yaml")
    assert policies is None
    assert [(p.file, p.path, p.line, p.code) for p in problems] == [
        ("blueprints/governance/policies.yaml", path, line, "schema")
    ]


def test_custom_operations_extend_the_catalogue() -> None:
    policies, _ = load_policies(
        b"operations:\n  modify_database_connections: change connection settings\n",
        source="policies.yaml",
    )
    assert policies is not None
    text = (
        MINIMAL
        + "governance:\n  agent_authority:\n    requires_approval: [modify_database_connections]\n"
    )
    blueprint, problems = load_blueprint(text.encode(), source=SOURCE, policies=policies)
    assert blueprint is not None, problems


CUSTOM_OPERATION = (
    MINIMAL
    + "governance:\n  agent_authority:\n    requires_approval: [modify_database_connections]\n"
)


@pytest.mark.parametrize(
    ("unloaded", "message", "hint"),
    [
        (
            None,
            "unknown operation 'modify_database_connections'",
            "did you mean modify_database_schema?",
        ),
        (
            "",
            "unknown operation 'modify_database_connections'",
            "did you mean modify_database_schema?",
        ),
        (
            "missing",
            "unknown operation 'modify_database_connections'; it may be one declared under "
            "`operations:` in blueprints/governance/policies.yaml, which does not exist",
            "create blueprints/governance/policies.yaml first; if it does not declare "
            "modify_database_connections, did you mean modify_database_schema?",
        ),
        (
            "invalid",
            "unknown operation 'modify_database_connections'; it may be one declared under "
            "`operations:` in blueprints/governance/policies.yaml, which does not validate",
            "correct the errors of blueprints/governance/policies.yaml first; if it does not "
            "declare modify_database_connections, did you mean modify_database_schema?",
        ),
    ],
    ids=[
        "policies loaded, not said",
        "policies loaded",
        "policies file missing",
        "policies file invalid",
    ],
)
def test_an_unknown_operation_points_at_policies_that_did_not_load(
    unloaded: str | None, message: str, hint: str
) -> None:
    """A fleet's own operation names live in the policies file: when it did not load, "did
    you mean" alone would send the reader after the wrong file."""
    said = {} if unloaded is None else {"policies_unloaded": unloaded}
    _, problems = load_blueprint(
        CUSTOM_OPERATION.encode(), source=SOURCE, policies=builtin_policies(), **said
    )
    assert [(p.message, p.hint) for p in problems] == [(message, hint)]


# Fixes that once were missing or read awkwardly.
@pytest.mark.parametrize(
    ("text", "where", "rendered"),
    [
        (
            MINIMAL.replace("max_replicas: 5", "max_replicas: 5.5"),
            (7, 5),
            "spec.scaling.max_replicas: expected a whole number, got a number (5.5) "
            "(fix: write a whole number, such as `max_replicas: 5` or `max_replicas: 6`)",
        ),
        (
            MINIMAL.replace("max_replicas: 5", "max_replicas: 0"),
            (7, 5),
            "spec.scaling.max_replicas: must be >= 1, got 0 (fix: write a value of at least 1, "
            "e.g. `max_replicas: 1` (the most replicas the reconciler may set on its own))",
        ),
        (
            MINIMAL + "    metrics:\n      - {type: cpu, weight: 1.5}\n",
            (9, 21),
            "spec.scaling.metrics[0].weight: must be <= 1, got 1.5 "
            "(fix: write a value from 0 to 1, e.g. `weight: 1`)",
        ),
        (
            MINIMAL.replace("    min_replicas: 1\n", ""),
            (5, 3),
            "spec.scaling.min_replicas: missing required field `min_replicas` (fix: add "
            "`min_replicas: 1` (the fewest replicas the reconciler may leave on its own))",
        ),
        (
            "metadata:\n  name: web\n  version: 1.0.0\n",
            (1, 1),
            "spec: missing required field `spec` (fix: add a `spec:` section with `scaling:`)",
        ),
        (
            "---\n",
            (1, 1),
            "the file holds an empty document (a `---` line and nothing else) "
            "(fix: write the blueprint after the `---`; docs/blueprint-format.md shows one)",
        ),
    ],
    ids=[
        "fraction of a replica",
        "zero replicas",
        "weight above 1",
        "missing min",
        "no spec",
        "lone ---",
    ],
)
def test_every_error_has_a_fix_that_reads_naturally(
    text: str, where: tuple[int, int], rendered: str
) -> None:
    problem = only_error(text)
    assert (problem.line, problem.column) == where
    assert problem.render() == f"{SOURCE}:{where[0]}:{where[1]}: {rendered}"


# An indentation slip is reported on the line that slipped, not where the parser noticed.
SCALING = """\
metadata:
  name: web
  version: 1.0.0
spec:
  scaling:
    min_replicas: 1
    max_replicas: 5
    target_cpu_utilization: 70%
    target_memory_utilization: 80%
    scale_up_threshold: 80%
    scale_down_threshold: 40%
"""


def _shift(text: str, line: int, by: int) -> str:
    lines = text.splitlines(keepends=True)
    lines[line - 1] = " " * by + lines[line - 1] if by > 0 else lines[line - 1][-by:]
    return "".join(lines)


@pytest.mark.parametrize(
    ("text", "where", "message", "hint"),
    [
        (
            # YAML reads line 11 as more of line 10's value and complains at 11:27.
            _shift(SCALING, 10, -2),
            (10, 3),
            "invalid YAML: the key on line 10 starts in column 3, but the keys around it start "
            "in column 5, so YAML reads line 11 as part of its value",
            "start `scale_up_threshold` in column 5, like the keys around it",
        ),
        (
            _shift(SCALING, 6, -2),
            (6, 3),
            "invalid YAML: the key on line 6 starts in column 3, but the keys around it start "
            "in column 5, so YAML reads line 7 as part of its value",
            "start `min_replicas` in column 5, like the keys around it",
        ),
        (
            _shift(SCALING, 10, 2),
            (10, 7),
            "invalid YAML: the key on line 10 starts in column 7, right of the key on line 9 "
            "(column 5), which already has a value",
            "start `scale_up_threshold` in column 5, like line 9; or, to nest it, remove the "
            "value on line 9",
        ),
        (
            _shift(SCALING, 6, 1),
            (7, 5),
            "invalid YAML: line 7 starts in column 5, but the lines under `scaling` start in "
            "column 6 (line 6)",
            "start `max_replicas` in column 6, or line 6 and the lines beside it in column 5",
        ),
    ],
    ids=["dedented between siblings", "dedented first key", "indented too far", "misaligned"],
)
def test_indentation_errors_name_the_line_that_slipped(
    text: str, where: tuple[int, int], message: str, hint: str
) -> None:
    problem = only_error(text)
    assert problem.code == "yaml"
    assert (problem.line, problem.column) == where
    assert problem.message == message
    assert problem.hint.startswith(hint)


def test_two_files_claiming_one_service() -> None:
    first = parse_blueprint(MINIMAL.encode(), source="a/blueprint.yaml")
    second = parse_blueprint(MINIMAL.encode(), source="b/blueprint.yaml")
    problems = check_unique_names([first, second])
    assert {p.file for p in problems} == {"a/blueprint.yaml", "b/blueprint.yaml"}
    assert "also claimed by" in problems[0].message


def test_parse_blueprint_raises_our_error_with_every_problem() -> None:
    with pytest.raises(BlueprintError) as caught:
        parse_blueprint(b"metadata: {}\n", source=SOURCE)
    assert caught.value.source == SOURCE
    assert {p.path for p in caught.value.problems} == {"metadata.name", "metadata.version", "spec"}
    assert str(caught.value).startswith(f"loading {SOURCE}: ")


# ---------------------------------------------------------------------------------------------
# Property: whatever the input, the loader returns a blueprint or our own error, never a crash.

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 10**6),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    st.sampled_from(["70%", "60s", "200m", "512Mi", "1.0.0", "web", "-5s"]),
)
_keys = st.sampled_from(
    [
        "metadata",
        "name",
        "version",
        "spec",
        "scaling",
        "min_replicas",
        "max_replicas",
        "governance",
        "agent_authority",
        "allowed_operations",
        "operation",
        "condition",
        "metrics",
        "type",
        "weight",
        "scale_up_threshold",
        "cooldown_period",
        "x",
    ]
)
_trees = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(_keys, children, max_size=5)
    ),
    max_leaves=25,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    st.one_of(
        _trees.map(lambda tree: yaml.safe_dump(tree).encode()),
        st.binary(max_size=200),
        st.text(max_size=200).map(str.encode),
        st.builds(
            lambda seed, cut, junk: (seed[:cut] + junk + seed[cut:]).encode(),
            st.just(SEED_BLUEPRINT),
            st.integers(0, len(SEED_BLUEPRINT)),
            st.text(max_size=20),
        ),
    )
)
def test_loader_only_returns_a_blueprint_or_our_error(data: bytes) -> None:
    try:
        blueprint = parse_blueprint(data, source=SOURCE)
    except BlueprintError as error:
        assert error.problems
        for problem in error.problems:
            assert problem.file == SOURCE and problem.message
    else:
        assert blueprint.scaling.min_replicas <= blueprint.scaling.max_replicas
