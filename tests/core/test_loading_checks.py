"""Loading's semantic checks, each at its exact boundary: the value just inside loads clean, the
value just outside is refused (or warned about) with its code, its severity and the field.

The code and the severity are the behaviour: `check-change` names a refusal by its code
(`validation:<code>`), and an error keeps the blueprint from loading where a warning does not.
"""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.core.blueprint.loading import load_blueprint
from reconciler.core.blueprint.policies import builtin_policies, load_policies
from reconciler.core.problems import Problem, Severity

SOURCE = "blueprints/web/blueprint.yaml"

#: A blueprint whose scaling section is last, so a test appends its own scaling fields.
MINIMAL = """\
metadata:
  name: web
  version: 1.0.0
spec:
  scaling:
    min_replicas: 1
    max_replicas: 5
"""

E, W = Severity.ERROR, Severity.WARNING
SCALING = "spec.scaling"


def load(
    text: str, *, policies_text: str | None = None, expected_name: str | None = "web"
) -> list[Problem]:
    """Every problem of `text`, after checking what any problem must carry: the file, a
    message and a fix, and no blueprint exactly when there is an error."""
    policies = builtin_policies()
    if policies_text is not None:
        loaded, found = load_policies(policies_text.encode(), source="policies.yaml")
        assert loaded is not None, found
        policies = loaded
    blueprint, problems = load_blueprint(
        text.encode(), source=SOURCE, policies=policies, expected_name=expected_name
    )
    assert (blueprint is None) == any(p.severity is E for p in problems)
    for problem in problems:
        assert problem.file == SOURCE and problem.message and problem.hint, problem
    return problems


def verdicts(text: str, **kwargs: Any) -> list[tuple[Severity, str, str]]:
    return [(p.severity, p.code, p.path) for p in load(text, **kwargs)]


def scaling(*lines: str) -> str:
    return MINIMAL + "".join(f"    {line}\n" for line in lines)


def section(text: str) -> str:
    """`text` (indented under spec) after the scaling section."""
    return MINIMAL + text


def write_back(manifests: str) -> str:
    return scaling("coexistence: write_back") + "  manifests:\n" + manifests


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A percentage is at most 100%.
        pytest.param(scaling("scale_up_threshold: 100%"), [], id="threshold at 100%"),
        pytest.param(
            scaling("scale_up_threshold: 101%"),
            [(E, "range.percent", f"{SCALING}.scale_up_threshold")],
            id="threshold over 100%",
        ),
        pytest.param(
            scaling("target_memory_utilization: 101%"),
            [(E, "range.percent", f"{SCALING}.target_memory_utilization")],
            id="memory target over 100%",
        ),
        pytest.param(
            scaling("scale_up_threshold: 100%", "scale_down_threshold: 101%"),
            [
                (E, "range.percent", f"{SCALING}.scale_down_threshold"),
                (E, "range.thresholds", f"{SCALING}.scale_down_threshold"),
            ],
            id="lower threshold over 100%",
        ),
        pytest.param(
            scaling("target_cpu_utilization: 101%", "scale_up_threshold: 100%"),
            [
                (E, "range.percent", f"{SCALING}.target_cpu_utilization"),
                (W, "range.target", f"{SCALING}.target_cpu_utilization"),
            ],
            id="cpu target over 100%",
        ),
        pytest.param(
            section("  resources:\n    cpu:\n      optimization_threshold: 101%\n"),
            [(E, "range.percent", "spec.resources.cpu.optimization_threshold")],
            id="a resource's optimization threshold over 100%",
        ),
        pytest.param(
            section("  resources:\n    memory:\n      target_utilization: 101%\n"),
            [(E, "range.percent", "spec.resources.memory.target_utilization")],
            id="a resource's target over 100%",
        ),
        pytest.param(
            section("  performance:\n    error_rate_max: 101%\n"),
            [(E, "range.percent", "spec.performance.error_rate_max")],
            id="error rate over 100%",
        ),
        pytest.param(
            section("  performance:\n    availability: 101%\n"),
            [(E, "range.percent", "spec.performance.availability")],
            id="availability over 100%",
        ),
        pytest.param(
            section("  performance:\n    availability: 100%\n    error_rate_max: 100%\n"),
            [],
            id="availability and error rate at 100%",
        ),
        # The replica bounds: max may equal min.
        pytest.param(
            MINIMAL.replace("min_replicas: 1", "min_replicas: 5"), [], id="max equal to min"
        ),
        pytest.param(
            MINIMAL.replace("min_replicas: 1", "min_replicas: 6"),
            [(E, "range.replicas", f"{SCALING}.max_replicas")],
            id="max one below min",
        ),
        # The target: above 0%, and between the thresholds (down < target <= up).
        pytest.param(
            scaling("target_cpu_utilization: 0%"),
            [(E, "range.target", f"{SCALING}.target_cpu_utilization")],
            id="target at 0%",
        ),
        pytest.param(
            scaling("target_cpu_utilization: 1%"),
            [(W, "range.target", f"{SCALING}.target_cpu_utilization")],
            id="target above 0% but below the band",
        ),
        pytest.param(
            scaling(
                "target_cpu_utilization: 50%",
                "scale_up_threshold: 50%",
                "scale_down_threshold: 49%",
            ),
            [],
            id="target at the upper threshold",
        ),
        pytest.param(
            scaling(
                "target_cpu_utilization: 50%",
                "scale_up_threshold: 60%",
                "scale_down_threshold: 50%",
            ),
            [(W, "range.target", f"{SCALING}.target_cpu_utilization")],
            id="target at the lower threshold",
        ),
        pytest.param(
            scaling(
                "target_cpu_utilization: 61%",
                "scale_up_threshold: 60%",
                "scale_down_threshold: 50%",
            ),
            [(W, "range.target", f"{SCALING}.target_cpu_utilization")],
            id="target just above the upper threshold",
        ),
        pytest.param(
            scaling(
                "target_cpu_utilization: 50%",
                "scale_up_threshold: 50%",
                "scale_down_threshold: 50%",
            ),
            [(E, "range.thresholds", f"{SCALING}.scale_down_threshold")],
            id="thresholds equal",
        ),
        # Metric weights: each type once, summing to 1.
        pytest.param(
            scaling("metrics:", "  - {type: cpu, weight: 0.5}", "  - {type: memory, weight: 0.5}"),
            [],
            id="weights summing to 1",
        ),
        pytest.param(
            scaling("metrics:", "  - {type: cpu, weight: 0.4}", "  - {type: memory, weight: 0.5}"),
            [(W, "metrics.sum", f"{SCALING}.metrics")],
            id="weights summing to less than 1",
        ),
        pytest.param(
            scaling(
                "metrics:",
                "  - {type: cpu, weight: 0.5}",
                "  - {type: memory, weight: 0.25}",
                "  - {type: cpu, weight: 0.25}",
            ),
            [(E, "metrics.duplicate", f"{SCALING}.metrics[2].type")],
            id="a metric listed twice, the second time",
        ),
        # Requests and limits.
        pytest.param(
            section("  resources:\n    cpu:\n      request: 200m\n      limit: 200m\n"),
            [],
            id="request equal to limit",
        ),
        pytest.param(
            section("  resources:\n    memory:\n      request: 512Mi\n      limit: 256Mi\n"),
            [(E, "range.resources", "spec.resources.memory.request")],
            id="memory request above its limit",
        ),
        pytest.param(
            section("  resources:\n    cpu:\n      request: 2\n      limit: 1500m\n"),
            [(E, "range.resources", "spec.resources.cpu.request")],
            id="cpu request in cores above a limit in millicores",
        ),
        # A quantity without its unit that is surely a slip.
        pytest.param(
            section("  resources:\n    cpu:\n      request: 15\n      limit: 16\n"),
            [(W, "units.bare", "spec.resources.cpu.limit")],
            id="bare cpu: 15 cores pass, 16 warn",
        ),
        pytest.param(
            section("  resources:\n    cpu:\n      limit: 16.5\n"),
            [(W, "units.bare", "spec.resources.cpu.limit")],
            id="bare cpu with a fraction",
        ),
        pytest.param(
            section("  resources:\n    memory:\n      request: 1048575\n      limit: 1048576\n"),
            [(W, "units.bare", "spec.resources.memory.request")],
            id="bare memory: below 1Mi warns, 1Mi passes",
        ),
        pytest.param(
            section(
                "  resources:\n    cpu:\n      request: 250m\n    memory:\n      request: 512\n"
            ),
            [(W, "units.bare", "spec.resources.memory.request")],
            id="a unit on cpu, none on memory",
        ),
        # Cost in one currency.
        pytest.param(
            "cost:\n  cost_per_replica: 20 USD\n  monthly_budget: 400 USD\n" + MINIMAL,
            [],
            id="one currency",
        ),
        pytest.param(
            "cost:\n  cost_per_replica: 20 USD\n  monthly_budget: 400 EUR\n" + MINIMAL,
            [(E, "cost.currency", "cost.monthly_budget")],
            id="two currencies",
        ),
        pytest.param(
            "cost:\n  cost_per_replica: 20 USD\n" + MINIMAL, [], id="a cost alone, nothing to match"
        ),
        pytest.param(
            "cost:\n  monthly_budget: 400 EUR\n" + MINIMAL,
            [],
            id="a budget alone, nothing to match",
        ),
        # Latency above 0ms.
        pytest.param(section("  performance:\n    latency_p95: 1ms\n"), [], id="latency at 1ms"),
        pytest.param(
            section("  performance:\n    latency_p95: 0ms\n"),
            [(E, "range.latency", "spec.performance.latency_p95")],
            id="latency at 0ms",
        ),
        # An automatic rollback that can happen.
        pytest.param(
            section("  reliability:\n    max_restart_count: 3\n    rollback_threshold: 3\n"),
            [],
            id="rollback threshold at the restart count",
        ),
        pytest.param(
            section("  reliability:\n    max_restart_count: 3\n    rollback_threshold: 4\n"),
            [(W, "range.rollback", "spec.reliability.rollback_threshold")],
            id="rollback threshold above the restart count",
        ),
        pytest.param(
            section(
                "  reliability:\n    max_restart_count: 3\n    rollback_threshold: 4\n"
                "    rollback_on_failure: false\n"
            ),
            [],
            id="no automatic rollback, so no threshold to reach",
        ),
        # Manifests: where write_back writes, in the fields its format reads.
        pytest.param(
            scaling("coexistence: write_back"),
            [(E, "manifests.missing", f"{SCALING}.coexistence")],
            id="write_back without manifests",
        ),
        pytest.param(
            section("  manifests:\n    format: plain\n    path: deploy/web.yaml\n"),
            [(W, "manifests.unused", "spec.manifests")],
            id="manifests nobody writes to",
        ),
        pytest.param(
            write_back("    format: plain\n    path: deploy/web.yaml\n    kind: Deployment\n"),
            [],
            id="plain with kind",
        ),
        pytest.param(
            write_back("    format: plain\n    path: deploy/web.yaml\n    replicas_key: a.b\n"),
            [(E, "manifests.field", "spec.manifests.replicas_key")],
            id="plain with helm's replicas_key",
        ),
        pytest.param(
            write_back("    format: helm\n    path: chart/values.yaml\n    patch: web.yaml\n"),
            [(E, "manifests.field", "spec.manifests.patch")],
            id="helm with kustomize's patch",
        ),
        pytest.param(
            write_back("    format: kustomize\n    path: overlays/prod/kustomization.yml\n"),
            [],
            id="kustomize at kustomization.yml",
        ),
        pytest.param(
            write_back("    format: kustomize\n    path: overlays/prod/Kustomization\n"),
            [],
            id="kustomize at Kustomization",
        ),
        pytest.param(
            write_back("    format: kustomize\n    path: overlays/prod/deployment.yaml\n"),
            [(E, "manifests.kustomization", "spec.manifests.path")],
            id="kustomize at another file",
        ),
        # The folder names the service.
        pytest.param(
            MINIMAL.replace("name: web", "name: api"),
            [(E, "name.folder", "metadata.name")],
            id="name unlike the folder",
        ),
        # Governance entries.
        pytest.param(
            MINIMAL + "governance:\n  agent_authority:\n    requires_approval:\n"
            "      - {operation: change_image, autonomous: true}\n"
            "  approval_workflow:\n    approvers: [alice]\n",
            [
                (
                    W,
                    "operation.autonomous",
                    "governance.agent_authority.requires_approval[0].autonomous",
                )
            ],
            id="autonomous: true outside allowed",
        ),
        pytest.param(
            MINIMAL + "governance:\n  agent_authority:\n    forbidden_operations:\n"
            "      - {operation: change_image, autonomous: false}\n"
            "    allowed_operations:\n      - {operation: restart_failed_pods, autonomous: true}\n",
            [],
            id="autonomous: false outside allowed, true inside",
        ),
        pytest.param(
            MINIMAL + "governance:\n  agent_authority:\n    forbidden_operations:\n"
            "      - {operation: change_image, condition: hour_utc < 9}\n"
            "      - {operation: change_image, condition: hour_utc > 17}\n",
            [],
            id="one operation twice in one tier",
        ),
        pytest.param(
            MINIMAL + "governance:\n  agent_authority:\n    allowed_operations: [change_image]\n"
            "    forbidden_operations: [change_image]\n",
            [(E, "operation.two_tiers", "governance.agent_authority.forbidden_operations[0]")],
            id="one operation in two tiers",
        ),
        pytest.param(
            MINIMAL + "governance:\n  agent_authority:\n    requires_approval: [change_imag]\n",
            [(E, "operation.unknown", "governance.agent_authority.requires_approval[0]")],
            id="unknown operation",
        ),
        pytest.param(
            MINIMAL + "governance:\n  agent_authority:\n    allowed_operations:\n"
            "      - {operation: change_image, condition: replicas >}\n",
            [(E, "condition", "governance.agent_authority.allowed_operations[0].condition")],
            id="a condition that does not parse",
        ),
        # Restricted operations need someone to approve them.
        pytest.param(
            MINIMAL + "governance:\n  agent_authority:\n    requires_approval: [change_image]\n",
            [(W, "approval.no_approvers", "governance.approval_workflow.approvers")],
            id="restricted without approvers",
        ),
        pytest.param(
            MINIMAL + "governance:\n  agent_authority:\n    requires_approval: [change_image]\n"
            "  approval_workflow:\n    approvers: [alice]\n",
            [],
            id="restricted with approvers",
        ),
        pytest.param(
            MINIMAL + "governance:\n  agent_authority:\n    forbidden_operations: [change_image]\n",
            [],
            id="nothing restricted, no approvers needed",
        ),
    ],
)
def test_each_check_at_its_boundary(text: str, expected: list[tuple[Severity, str, str]]) -> None:
    assert verdicts(text) == expected


#: Global policies that restrict an operation, forbid one outright and one only sometimes, and
#: cap the fleet at 5 replicas, without approvers.
POLICIES = """\
limits:
  max_replicas: 5
governance:
  agent_authority:
    requires_approval: [change_image]
    forbidden_operations:
      - delete_deployment
      - {operation: restart_failed_pods, condition: restart_count > 10}
"""

AUTHORITY = "governance.agent_authority"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            MINIMAL,
            [(W, "approval.no_approvers", "governance.approval_workflow.approvers")],
            id="the global restriction needs approvers too",
        ),
        pytest.param(
            MINIMAL + "governance:\n  agent_authority:\n    colour: blue\n",
            [(E, "schema", f"{AUTHORITY}.colour")],
            id="no approvers check while the service's own tiers failed the schema",
        ),
        pytest.param(
            MINIMAL + "governance:\n  approval_workflow:\n    approvers: [alice]\n",
            [],
            id="max_replicas at the fleet ceiling",
        ),
        pytest.param(
            MINIMAL.replace("max_replicas: 5", "max_replicas: 6")
            + "governance:\n  approval_workflow:\n    approvers: [alice]\n",
            [(E, "range.ceiling", f"{SCALING}.max_replicas")],
            id="max_replicas one above the fleet ceiling",
        ),
        pytest.param(
            MINIMAL
            + "governance:\n  agent_authority:\n    requires_approval: [delete_deployment]\n"
            "  approval_workflow:\n    approvers: [alice]\n",
            [(E, "policy.loosen_forbidden", f"{AUTHORITY}.requires_approval[0]")],
            id="a global forbid made approvable",
        ),
        pytest.param(
            MINIMAL
            + "governance:\n  agent_authority:\n    forbidden_operations: [delete_deployment]\n"
            "  approval_workflow:\n    approvers: [alice]\n",
            [],
            id="a global forbid forbidden again",
        ),
        pytest.param(
            MINIMAL
            + "governance:\n  agent_authority:\n    allowed_operations: [restart_failed_pods]\n"
            "  approval_workflow:\n    approvers: [alice]\n",
            [],
            id="a conditional global forbid leaves the rest to the service",
        ),
        pytest.param(
            MINIMAL + "governance:\n  agent_authority:\n    allowed_operations: [change_image]\n"
            "  approval_workflow:\n    approvers: [alice]\n",
            [(W, "policy.loosen_restricted", f"{AUTHORITY}.allowed_operations[0]")],
            id="a global restriction listed as allowed",
        ),
        pytest.param(
            MINIMAL + "governance:\n  agent_authority:\n    requires_approval: [change_image]\n"
            "    forbidden_operations: [modify_configmaps]\n"
            "  approval_workflow:\n    approvers: [alice]\n",
            [],
            id="a global restriction restricted again",
        ),
    ],
)
def test_each_check_against_the_global_policies(
    text: str, expected: list[tuple[Severity, str, str]]
) -> None:
    assert verdicts(text, policies_text=POLICIES) == expected


def test_without_an_expected_name_any_name_loads() -> None:
    assert verdicts(MINIMAL.replace("name: web", "name: api"), expected_name=None) == []


@pytest.mark.parametrize(
    ("text", "schema_error"),
    [
        pytest.param(
            MINIMAL.replace("name: web", "name: api\n  colour: blue"),
            "metadata.colour",
            id="metadata: no folder check",
        ),
        pytest.param(
            section("  performance:\n    latency_p95: 0ms\n    colour: blue\n"),
            "spec.performance.colour",
            id="performance: no latency check",
        ),
        pytest.param(
            section("  resources:\n    cpu: {request: 500m, limit: 200m}\n    colour: blue\n"),
            "spec.resources.colour",
            id="resources: no request check",
        ),
        pytest.param(
            section(
                "  reliability:\n    max_restart_count: 2\n    rollback_threshold: 3\n"
                "    colour: blue\n"
            ),
            "spec.reliability.colour",
            id="reliability: no rollback check",
        ),
        pytest.param(
            "cost:\n  cost_per_replica: 20 USD\n  monthly_budget: 400 EUR\n  colour: blue\n"
            + MINIMAL,
            "cost.colour",
            id="cost: no currency check",
        ),
        pytest.param(
            write_back("    format: kustomize\n    path: deploy.yaml\n    colour: blue\n"),
            "spec.manifests.colour",
            id="manifests: no path check, and no write_back check across sections",
        ),
        pytest.param(
            MINIMAL + "governance:\n  agent_authority:\n    requires_approval: [change_image]\n"
            "  approval_workflow:\n    colour: blue\n",
            "governance.approval_workflow.colour",
            id="approval workflow: no approvers check across sections",
        ),
        pytest.param(
            MINIMAL + "governance:\n  agent_authority:\n    requires_approval: [change_imag]\n"
            "    colour: blue\n",
            "governance.agent_authority.colour",
            id="agent authority: no operation check",
        ),
    ],
)
def test_a_section_that_failed_the_schema_is_not_checked_further(
    text: str, schema_error: str
) -> None:
    """Its values are not what the checks expect (the schema refused them), and the person
    fixes the schema error first; each other section is still checked (see test_loading)."""
    assert verdicts(text) == [(E, "schema", schema_error)]


#: A section under `spec:` that fails the schema, after the sections a test checks.
BROKEN_PERFORMANCE = "  performance:\n    colour: blue\n"
PERFORMANCE_SCHEMA = (E, "schema", "spec.performance.colour")
SAFETY_SCHEMA = (E, "schema", "governance.safety.colour")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            MINIMAL.replace("min_replicas: 1", "min_replicas: 9") + BROKEN_PERFORMANCE,
            [(E, "range.replicas", f"{SCALING}.max_replicas"), PERFORMANCE_SCHEMA],
            id="scaling beside broken performance",
        ),
        pytest.param(
            write_back("    format: kustomize\n    path: deploy.yaml\n") + BROKEN_PERFORMANCE,
            [(E, "manifests.kustomization", "spec.manifests.path"), PERFORMANCE_SCHEMA],
            id="manifests beside broken performance",
        ),
        pytest.param(
            scaling("coexistence: write_back") + BROKEN_PERFORMANCE,
            [(E, "manifests.missing", f"{SCALING}.coexistence"), PERFORMANCE_SCHEMA],
            id="write_back across scaling and manifests beside broken performance",
        ),
        pytest.param(
            MINIMAL + "governance:\n  agent_authority:\n    requires_approval: [change_imag]\n"
            "  safety:\n    colour: blue\n",
            [
                (E, "operation.unknown", "governance.agent_authority.requires_approval[0]"),
                SAFETY_SCHEMA,
            ],
            id="agent authority beside broken safety",
        ),
        pytest.param(
            MINIMAL + "governance:\n  agent_authority:\n    requires_approval: [change_image]\n"
            "  safety:\n    colour: blue\n",
            [
                (W, "approval.no_approvers", "governance.approval_workflow.approvers"),
                SAFETY_SCHEMA,
            ],
            id="approvers across authority and workflow beside broken safety",
        ),
    ],
)
def test_a_sibling_sections_schema_error_does_not_skip_this_sections_checks(
    text: str, expected: list[tuple[Severity, str, str]]
) -> None:
    """Only the section that failed is skipped: the section beside it, under the same parent
    (`spec:`, `governance:`), is checked as if nothing failed, and no blueprint loads."""
    assert verdicts(text) == expected


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        pytest.param("flush_cach", "did you mean flush_cache?", id="close to a fleet operation"),
        pytest.param(
            "restart_faild_pods", "did you mean restart_failed_pods?", id="close to a built-in one"
        ),
        pytest.param(
            "zzz",
            "use a name from the catalogue (docs/governance.md) or declare it under "
            "`operations:` in blueprints/governance/policies.yaml",
            id="close to nothing",
        ),
    ],
)
def test_an_unknown_operation_is_matched_against_the_fleets_names_too(name: str, hint: str) -> None:
    text = MINIMAL + f"governance:\n  agent_authority:\n    forbidden_operations: [{name}]\n"
    (problem,) = load(text, policies_text="operations:\n  flush_cache: empty the cache\n")
    assert (problem.severity, problem.code, problem.path) == (
        E,
        "operation.unknown",
        "governance.agent_authority.forbidden_operations[0]",
    )
    assert (problem.message, problem.hint) == (f"unknown operation {name!r}", hint)


def said(text: str, **kwargs: Any) -> list[tuple[Severity, str, str, int | None, str, str]]:
    return [(p.severity, p.code, p.path, p.line, p.message, p.hint) for p in load(text, **kwargs)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            scaling("scale_up_threshold: 101%"),
            (
                E,
                "range.percent",
                f"{SCALING}.scale_up_threshold",
                8,
                "101% is over 100%",
                "a utilization, threshold or rate is at most 100%",
            ),
            id="percent",
        ),
        pytest.param(
            MINIMAL.replace("min_replicas: 1", "min_replicas: 6"),
            (
                E,
                "range.replicas",
                f"{SCALING}.max_replicas",
                7,
                "must be >= min_replicas (6), got 5",
                "raise max_replicas to at least 6 or lower min_replicas",
            ),
            id="replicas",
        ),
        pytest.param(
            scaling("target_cpu_utilization: 0%"),
            (
                E,
                "range.target",
                f"{SCALING}.target_cpu_utilization",
                8,
                "must be more than 0%, got 0%",
                "set the utilization a scaling step aims for, e.g. `target_cpu_utilization: 70%`",
            ),
            id="target at 0%",
        ),
        pytest.param(
            scaling("scale_up_threshold: 40%", "scale_down_threshold: 40%"),
            (
                E,
                "range.thresholds",
                f"{SCALING}.scale_down_threshold",
                9,
                "must be below scale_up_threshold (40%), got 40%",
                "leave a gap between the two thresholds so the service does not flap",
            ),
            id="thresholds",
        ),
        pytest.param(
            scaling(
                "target_cpu_utilization: 85%",
                "scale_up_threshold: 80%",
                "scale_down_threshold: 30%",
            ),
            (
                W,
                "range.target",
                f"{SCALING}.target_cpu_utilization",
                8,
                "85% is outside the band between the thresholds (30% to 80%)",
                "a scaling step aims for this target, so it should sit between the thresholds",
            ),
            id="target outside the band",
        ),
        pytest.param(
            scaling(
                "metrics:",
                "  - {type: cpu, weight: 0.5}",
                "  - {type: memory, weight: 0.25}",
                "  - {type: cpu, weight: 0.25}",
            ),
            (
                E,
                "metrics.duplicate",
                f"{SCALING}.metrics[2].type",
                11,
                "cpu is listed twice",
                "give each metric one weight",
            ),
            id="metric twice",
        ),
        pytest.param(
            scaling("metrics:", "  - {type: cpu, weight: 0.5}", "  - {type: memory, weight: 0.25}"),
            (
                W,
                "metrics.sum",
                f"{SCALING}.metrics",
                8,
                "weights sum to 0.75, not 1",
                "the weights are used as written; make them sum to 1 so 80% means 80%",
            ),
            id="weights sum",
        ),
        pytest.param(
            scaling(
                "scale_down_stabilization: 5m",
                "behavior:",
                "  scaleDown: {stabilizationWindowSeconds: 60}",
            ),
            (
                E,
                "behavior.window_conflict",
                f"{SCALING}.behavior.scaleDown.stabilizationWindowSeconds",
                10,
                "60s disagrees with scale_down_stabilization (5m); both set the scale-down window",
                "keep one of the two: they set the same window",
            ),
            id="two scale-down windows",
        ),
        pytest.param(
            section("  resources:\n    memory: {request: 2Gi, limit: 1Gi}\n"),
            (
                E,
                "range.resources",
                "spec.resources.memory.request",
                9,
                "request (2Gi) is above limit (1Gi)",
                "Kubernetes refuses a request above its limit; raise the limit or lower the "
                "request",
            ),
            id="request above limit",
        ),
        pytest.param(
            section("  resources:\n    cpu: {request: 16}\n"),
            (
                W,
                "units.bare",
                "spec.resources.cpu.request",
                9,
                "16 is read as 16 CPU cores",
                "write `request: 16m` for 16 millicores; ignore this if 16 cores is meant",
            ),
            id="bare cpu",
        ),
        pytest.param(
            section("  resources:\n    memory: {limit: 512}\n"),
            (
                W,
                "units.bare",
                "spec.resources.memory.limit",
                9,
                "512 is read as 512 bytes",
                "write `limit: 512Mi` (or Ki, Gi) for the unit you meant",
            ),
            id="bare memory",
        ),
        pytest.param(
            "cost:\n  cost_per_replica: 20 USD\n  monthly_budget: 400 EUR\n" + MINIMAL,
            (
                E,
                "cost.currency",
                "cost.monthly_budget",
                3,
                "currency EUR differs from cost_per_replica's USD",
                "use one currency for both",
            ),
            id="currency",
        ),
        pytest.param(
            write_back(
                "    format: plain\n    path: deploy.yaml\n    replicas_key: spec.replicas\n"
            ),
            (
                E,
                "manifests.field",
                "spec.manifests.replicas_key",
                12,
                "`replicas_key` is read only with format helm, not plain",
                "remove `replicas_key`, or set the format that holds the value this way",
            ),
            id="field of one other format",
        ),
        pytest.param(
            write_back("    format: helm\n    path: values.yaml\n    kind: Deployment\n"),
            (
                E,
                "manifests.field",
                "spec.manifests.kind",
                12,
                "`kind` is read only with format plain or kustomize, not helm",
                "remove `kind`, or set the format that holds the value this way",
            ),
            id="field of two other formats",
        ),
        pytest.param(
            write_back("    format: kustomize\n    path: overlays/prod/deploy.yaml\n"),
            (
                E,
                "manifests.kustomization",
                "spec.manifests.path",
                11,
                "'overlays/prod/deploy.yaml' is not a kustomization file",
                "point at the overlay's kustomization.yaml (the file with the `replicas:` entry)",
            ),
            id="kustomization",
        ),
        pytest.param(
            scaling("coexistence: write_back"),
            (
                E,
                "manifests.missing",
                f"{SCALING}.coexistence",
                8,
                "write_back changes the manifests Argo CD or Flux apply, but spec.manifests does "
                "not say where they are",
                "add spec.manifests (format and path of the file that holds the replicas), see "
                "docs/blueprint-format.md",
            ),
            id="manifests missing",
        ),
        pytest.param(
            section("  manifests:\n    format: plain\n    path: deploy.yaml\n"),
            (
                W,
                "manifests.unused",
                "spec.manifests",
                8,
                "spec.manifests is only written with coexistence: write_back (this blueprint "
                "has exclusive); `validate` and `doctor` still check it",
                "set spec.scaling.coexistence: write_back to change the replicas through git",
            ),
            id="manifests unused",
        ),
        pytest.param(
            MINIMAL.replace("name: web", "name: api"),
            (
                E,
                "name.folder",
                "metadata.name",
                2,
                "'api' does not match its folder 'web'",
                "rename the folder to blueprints/api/ or set `name: web`",
            ),
            id="folder",
        ),
        pytest.param(
            section("  performance:\n    latency_p95: 0ms\n"),
            (
                E,
                "range.latency",
                "spec.performance.latency_p95",
                9,
                "must be more than 0ms, got 0ms",
                "set the p95 latency the service aims for, e.g. `latency_p95: 200ms`",
            ),
            id="latency",
        ),
        pytest.param(
            section("  reliability:\n    max_restart_count: 2\n    rollback_threshold: 3\n"),
            (
                W,
                "range.rollback",
                "spec.reliability.rollback_threshold",
                10,
                "3 is above max_restart_count (2), so an automatic rollback can never happen",
                "set rollback_threshold at or below max_restart_count",
            ),
            id="rollback",
        ),
        pytest.param(
            section("  cluster: prod\n"),
            (
                E,
                "blueprint.unknown_cluster",
                "spec.cluster",
                8,
                "'prod' is not a cluster of the global policies (none are declared)",
                "declare it under clusters: in (built-in global policies) (name, identity), "
                "or remove spec.cluster to let any cluster act on the service",
            ),
            id="cluster",
        ),
        pytest.param(
            MINIMAL + "governance:\n  agent_authority:\n    requires_approval: [change_image]\n",
            (
                W,
                "approval.no_approvers",
                "governance.approval_workflow.approvers",
                8,
                "no approvers are set, so nobody can approve restricted operations",
                "list approvers here or in the global policies' approval_workflow",
            ),
            id="approvers",
        ),
    ],
)
def test_each_check_says_what_is_wrong_and_how_to_fix_it(
    text: str, expected: tuple[Severity, str, str, int, str, str]
) -> None:
    assert said(text) == [expected]


def test_the_fleet_ceiling_says_where_it_is_set_and_how_to_raise_it() -> None:
    text = MINIMAL.replace("max_replicas: 5", "max_replicas: 6") + (
        "governance:\n  approval_workflow:\n    approvers: [alice]\n"
    )
    assert said(text, policies_text=POLICIES) == [
        (
            E,
            "range.ceiling",
            f"{SCALING}.max_replicas",
            7,
            "6 is above the fleet ceiling of 5 replicas (limits.max_replicas in policies.yaml)",
            "lower max_replicas to at most 5, or raise the ceiling through a reviewed change to "
            "the global policies",
        )
    ]
