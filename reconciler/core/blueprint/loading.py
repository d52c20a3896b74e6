"""From bytes to a validated `Blueprint`: the one place where defaults and merge rules apply.

Loading runs in stages, and reports every problem it can find rather than the first:

1. YAML, defensively (`yamlsafe`): size, encoding, duplicate keys, alias bombs, top-level shape.
2. The JSON Schema: structure, types and unit formats, each error explained with a fix.
3. Semantic checks the schema cannot express: min <= max, threshold order, ranges, weights,
   operation names (with "did you mean"), an operation in two tiers, conditions, and the rule
   that a service may tighten the global policies but never loosen them. They run section by
   section: a section's checks run when that section passed the schema, whatever failed
   elsewhere, and a check spanning two sections runs when both passed.
4. Building the frozen model, with defaults from the schema and the global policies, only when
   nothing failed.

It is pure: the caller reads the files and passes bytes, so the same code validates a file on
disk, a blob from another git revision, or a pull request's proposed content.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.core.blueprint import units
from reconciler.core.blueprint.model import (
    ApprovalWorkflow,
    Blueprint,
    Cost,
    GlobalPolicies,
    Manifests,
    Mode,
    Performance,
    Policy,
    Reliability,
    Resources,
    Rule,
    Scaling,
)
from reconciler.core.blueprint.policies import build_approval, build_safety, builtin_policies
from reconciler.core.blueprint.reading import (
    CheckContext,
    by_position,
    get_dotted,
    read_document,
    schema_problems,
    section_passed,
)
from reconciler.core.blueprint.rules import build_rules, check_against_global
from reconciler.core.blueprint.sections import (
    build_cost,
    build_manifests,
    build_metadata,
    build_performance,
    build_reliability,
    build_resources,
    build_scaling,
    check_approvers,
    check_name,
    check_write_back,
    cluster_of,
    value_or_default,
)
from reconciler.core.blueprint.yamlsafe import Path
from reconciler.core.errors import BlueprintError
from reconciler.core.problems import Problem, Severity, has_errors

__all__ = [
    "load_blueprint",
    "parse_blueprint",
]


def load_blueprint(
    data: bytes,
    *,
    source: str,
    policies: GlobalPolicies,
    expected_name: str | None = None,
    policies_unloaded: str = "",
) -> tuple[Blueprint | None, list[Problem]]:
    """Validate one blueprint. Returns the blueprint (None if any error) and every problem.

    Schema errors in one section do not hide semantic problems in another: each section's
    checks run whenever that section passed the schema, and a check spanning two sections
    (such as restricted operations without approvers) runs when both did.

    `policies_unloaded` says why the global policies file did not load (`missing` or
    `invalid`), when `policies` are the built-in stand-in for it.
    """
    document, problems = read_document(data, source, "blueprint")
    if document is None:
        return None, problems
    ctx = CheckContext(
        source=source,
        document=document,
        problems=problems,
        policies_unloaded=policies_unloaded,
    )
    failed = schema_problems("blueprint", ctx)
    try:
        blueprint = _build(ctx, document.data, data, policies, expected_name, failed)
    except units.UnitError as error:  # the schema's unit check makes this unreachable
        ctx.add((), str(error), error.hint, code="unit")
        blueprint = None
    ordered = by_position(ctx.problems)
    return (None if has_errors(ordered) else blueprint), ordered


@dataclass(frozen=True, kw_only=True)
class _Sections:
    """Each section of a blueprint as checked and built, or None where it failed the schema."""

    rules: list[Rule] | None
    scaling: Scaling | None
    performance: Performance | None
    resources: Resources | None
    reliability: Reliability | None
    cost: Cost | None
    manifests: Manifests | None
    approval: ApprovalWorkflow | None


def _build(
    ctx: CheckContext,
    raw: Mapping[str, Any],
    data: bytes,
    policies: GlobalPolicies,
    expected_name: str | None,
    failed: Sequence[Path],
) -> Blueprint | None:
    """Check every section that passed the schema; build the blueprint only if all did."""
    sections = _check_sections(ctx, raw, policies, expected_name, failed)
    if failed:
        return None
    # Nothing failed the schema, so every section was checked and built.
    rules, approval = sections.rules, sections.approval
    assert rules is not None and approval is not None and sections.scaling is not None
    assert sections.performance is not None and sections.resources is not None
    assert sections.reliability is not None and sections.cost is not None
    observed_by = _observed_by(raw, policies)
    return Blueprint(
        source=ctx.source,
        digest=hashlib.sha256(data).hexdigest(),
        metadata=build_metadata(raw, policies),
        scaling=sections.scaling,
        performance=sections.performance,
        resources=sections.resources,
        reliability=sections.reliability,
        policy=_policy(raw, rules, approval, policies),
        cost=sections.cost,
        suspend=bool(value_or_default(raw, "spec.suspend")),
        cluster=cluster_of(ctx, raw, policies),
        mode=Mode.OBSERVE if observed_by else Mode.ACT,
        observed_by=observed_by,
        queries=dict(get_dotted(raw, "spec.observability.queries") or {}),
        manifests=sections.manifests,
    )


def _check_sections(
    ctx: CheckContext,
    raw: Mapping[str, Any],
    policies: GlobalPolicies,
    expected_name: str | None,
    failed: Sequence[Path],
) -> _Sections:
    """Check and build each section that passed the schema, and each check spanning two
    sections when both did: so a typo in one section never hides a mistake in another, and a
    person fixing a blueprint sees everything wrong with it in one run."""

    def clean(*prefix: str) -> bool:
        return section_passed(failed, *prefix)

    rules: list[Rule] | None = None
    if clean("governance", "agent_authority"):
        rules = build_rules(
            get_dotted(raw, "governance.agent_authority"),
            ctx,
            ("governance", "agent_authority"),
            policies.catalogue,
            origin="blueprint",
        )
        check_against_global(rules, policies, ctx)
    if clean("metadata"):
        check_name(ctx, raw, expected_name)
    scaling = build_scaling(ctx, raw, policies) if clean("spec", "scaling") else None
    # In the order of the file's sections, so problems at one position keep their order.
    sections = _Sections(
        rules=rules,
        scaling=scaling,
        performance=build_performance(ctx, raw) if clean("spec", "performance") else None,
        resources=build_resources(ctx, raw, scaling) if clean("spec", "resources") else None,
        reliability=build_reliability(ctx, raw) if clean("spec", "reliability") else None,
        cost=build_cost(ctx, raw) if clean("cost") else None,
        manifests=build_manifests(ctx, raw) if clean("spec", "manifests") else None,
        approval=(
            build_approval(raw, policies.approval)
            if clean("governance", "approval_workflow")
            else None
        ),
    )
    approval = sections.approval
    if rules is not None and approval is not None:
        check_approvers(ctx, (*rules, *policies.rules), approval)
    if scaling is not None and clean("spec", "manifests"):
        check_write_back(ctx, scaling, sections.manifests)
    return sections


def _policy(
    raw: Mapping[str, Any],
    rules: Sequence[Rule],
    approval: ApprovalWorkflow,
    policies: GlobalPolicies,
) -> Policy:
    """The service's rules after its own, its approvers, and its safety settings over the
    global ones (a blueprint's cooldown_period overrides the policies' default period)."""
    cooldown_raw = get_dotted(raw, "spec.scaling.cooldown_period")
    return Policy(
        rules=tuple(rules) + policies.rules,
        approval=approval,
        safety=build_safety(
            get_dotted(raw, "governance.safety") or {},
            units.parse_duration(cooldown_raw) if cooldown_raw is not None else None,
            policies.safety,
        ),
        catalogue=policies.catalogue,
    )


def _observed_by(raw: Mapping[str, Any], policies: GlobalPolicies) -> str:
    """What puts the service in observe mode (the global policies win), or "" in act mode."""
    if policies.mode is Mode.OBSERVE:
        return f"mode: observe in {policies.source}"
    if value_or_default(raw, "spec.mode") == Mode.OBSERVE:
        return "spec.mode: observe in the blueprint"
    return ""


def parse_blueprint(
    data: bytes,
    *,
    source: str,
    policies: GlobalPolicies | None = None,
    expected_name: str | None = None,
) -> Blueprint:
    """Like `load_blueprint`, but raises BlueprintError listing the errors."""
    blueprint, problems = load_blueprint(
        data, source=source, policies=policies or builtin_policies(), expected_name=expected_name
    )
    if blueprint is None:
        raise BlueprintError(source, [p for p in problems if p.severity is Severity.ERROR])
    return blueprint
