"""One service's edits: a blueprint added, deleted, broken or changed field by field and rule by
rule.
"""

from __future__ import annotations

from typing import Any

from reconciler.core.blueprint.model import TIER_KEYS, Blueprint, Tier
from reconciler.core.problems import Problem, Severity
from reconciler.core.review.fields import SERVICE_FIELDS, field_findings
from reconciler.core.review.findings import (
    POLICIES_FILE,
    ChangeClass,
    ChangeKind,
    Finding,
    ReviewContext,
    finding_at,
    parse_dotted,
)
from reconciler.core.review.operations import classify_edit, global_policy_of
from reconciler.core.review.rules import own_rules, rule_findings, tier_words


def service_findings(ctx: ReviewContext, service: str) -> list[Finding]:
    base, head = ctx.base, ctx.head
    before = base.blueprints.get(service)
    after = head.blueprints.get(service)
    if service in head.broken:
        return _invalid_findings(ctx, service, head.broken[service], before)
    if after is None:
        return [_deleted(ctx, service, before)]
    if before is None:
        return [_added(ctx, service, after)]
    return [
        *field_findings(ctx, service, before, after, SERVICE_FIELDS),
        *rule_findings(ctx, service, before, after),
    ]


def _deleted(ctx: ReviewContext, service: str, before: Blueprint | None) -> Finding:
    file = before.source if before else ctx.base.broken.get(service, f"blueprints/{service}")
    policy = before.policy if before else global_policy_of(ctx.base.policies)
    verdict = classify_edit("delete_deployment", service=service, policy=policy, blueprint=before)
    return finding_at(
        ctx,
        file=file,
        path=(),
        service=service,
        kind=ChangeKind.BLUEPRINT_DELETED,
        before=f"version {before.version}" if before else "invalid blueprint",
        after="deleted",
        **verdict.fields(
            "deleting a blueprint stops managing the service, which governance treats as "
            "delete_deployment"
        ),
    )


def _added(ctx: ReviewContext, service: str, after: Blueprint) -> Finding:
    was_broken = service in ctx.base.broken
    reason = (
        "the blueprint did not validate before, so the reconciler did not manage the service; "
        if was_broken
        else "a new blueprint "
    )
    reason += (
        "gives the reconciler authority over a deployment it did not manage: onboarding a "
        "service needs the global approvers (the service's own approvers are part of this "
        "change and cannot approve it)"
    )
    return finding_at(
        ctx,
        file=after.source,
        path=("metadata", "name"),
        service=service,
        kind=ChangeKind.SERVICE_ADDED,
        before="invalid blueprint" if was_broken else "no blueprint",
        after=f"version {after.version}, replicas {after.scaling.min_replicas}.."
        f"{after.scaling.max_replicas}",
        reason=reason,
        **ctx.by_global_approvers,
    )


def _invalid_findings(
    ctx: ReviewContext, service: str, file: str, before: Blueprint | None
) -> list[Finding]:
    errors = [p for p in ctx.head.problems if p.file == file and p.severity is Severity.ERROR]
    if unchanged_and_broken(ctx, file, service in ctx.base.broken):
        ctx.notes.append(
            f"{file} does not validate at {ctx.base.label} either and this change does not "
            "touch it or the global policies; not counted"
        )
        return []
    if not errors:  # every broken file has an error; this keeps a surprise from passing
        errors = [Problem(file=file, path="", message="the blueprint does not load")]
    return [problem_finding(ctx, service, problem, before) for problem in errors]


def unchanged_and_broken(ctx: ReviewContext, file: str, broken_before: bool) -> bool:
    same = ctx.base.sources.get(file) == ctx.head.sources.get(file)
    same_policies = ctx.base.sources.get(POLICIES_FILE) == ctx.head.sources.get(POLICIES_FILE)
    return broken_before and same and same_policies


def problem_finding(
    ctx: ReviewContext, service: str, problem: Problem, before: Blueprint | None
) -> Finding:
    common: dict[str, Any] = {
        "service": service,
        "file": problem.file,
        "path": problem.path,
        "line": problem.line,
        "column": problem.column,
    }
    if problem.code == "policy.loosen_forbidden":
        operation, tier = _entry_at(ctx, problem.file, problem.path)
        rule = _global_forbidder(ctx, operation)
        return Finding(
            **common,
            kind=ChangeKind.LOOSEN_GOVERNANCE,
            change_class=ChangeClass.FORBIDDEN,
            before=tier_words(own_rules(before, operation)) if before and operation else "-",
            after=tier or "-",
            reason=problem.message,
            operation=operation,
            rule=rule,
            rule_file=POLICIES_FILE if rule else "",
        )
    return Finding(
        **common,
        kind=ChangeKind.INVALID_BLUEPRINT,
        change_class=ChangeClass.INVALID,
        before="-",
        after="invalid",
        reason=problem.message + (f" (fix: {problem.hint})" if problem.hint else ""),
        rule=f"validation:{problem.code}" if problem.code else "validation",
    )


def _entry_at(ctx: ReviewContext, file: str, dotted: str) -> tuple[str, str]:
    """The operation named by the governance entry at `dotted` in HEAD's file, and its tier."""
    document = ctx.document(ctx.head, file)
    node: Any = None if document is None else document.data
    for part in parse_dotted(dotted):
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return "", ""
    operation = node.get("operation", "") if isinstance(node, dict) else node
    keys = set(TIER_KEYS.values())
    tier = next((str(p).removesuffix("_operations") for p in parse_dotted(dotted) if p in keys), "")
    return (operation if isinstance(operation, str) else ""), tier


def _global_forbidder(ctx: ReviewContext, operation: str) -> str:
    for policies in (ctx.base.policies, ctx.head.policies):
        for rule in policies.rules:
            if rule.operation == operation and rule.tier is Tier.FORBIDDEN and not rule.condition:
                return f"global:{rule.reference}"
    return ""
