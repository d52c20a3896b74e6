"""Governance rules and approvers, operation by operation: whether an edit loosens them (an
operation moved to a laxer tier, a condition dropped, an approver added) or tightens them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from reconciler.core.blueprint.model import TIER_KEYS, Blueprint, GlobalPolicies, Policy, Rule, Tier
from reconciler.core.blueprint.yamlsafe import Path
from reconciler.core.review.fields import _WHY, _names
from reconciler.core.review.findings import (
    POLICIES_FILE,
    ChangeClass,
    ChangeKind,
    Finding,
    ReviewContext,
    finding_at,
    global_edit,
    parse_dotted,
)

_ALWAYS = ""


def _cond(rule: Rule) -> str:
    return str(rule.condition) if rule.condition is not None else _ALWAYS


def own_rules(blueprint: Blueprint | None, operation: str) -> list[Rule]:
    if blueprint is None:
        return []
    return [
        r for r in blueprint.policy.rules if r.origin == "blueprint" and r.operation == operation
    ]


def tier_words(rules: Sequence[Rule]) -> str:
    """`requires_approval when target_replicas > 10; allowed (autonomous: false)`."""
    if not rules:
        return "not listed"
    parts = []
    for rule in rules:
        text = TIER_KEYS[rule.tier].removesuffix("_operations")
        if rule.condition is not None:
            text += f" when {rule.condition}"
        if rule.tier is Tier.ALLOWED and not rule.autonomous:
            text += " (autonomous: false)"
        parts.append(text)
    return "; ".join(parts)


def _loosenings(
    before: Sequence[Rule], after: Sequence[Rule], allowed_when_unlisted: bool
) -> list[tuple[str, Rule | None]]:
    """Why `after` allows something `before` did not (empty when it is at least as strict).

    Syntactic and conservative: a condition that changed at all counts as relaxed, because
    whether one expression implies another is not something to guess about here."""

    def conditions(rules: Sequence[Rule], tier: Tier) -> dict[str, Rule]:
        found: dict[str, Rule] = {}
        for rule in rules:
            if rule.tier is tier:
                found.setdefault(_cond(rule), rule)
        return found

    fb, fa = conditions(before, Tier.FORBIDDEN), conditions(after, Tier.FORBIDDEN)
    rb, ra = conditions(before, Tier.RESTRICTED), conditions(after, Tier.RESTRICTED)
    ab, aa = conditions(before, Tier.ALLOWED), conditions(after, Tier.ALLOWED)
    if _ALWAYS in fa:
        return []
    reasons: list[tuple[str, Rule | None]] = []
    for condition, rule in fb.items():
        if condition not in fa:
            reasons.append((_lifted("forbidden", "forbidding", condition, fa), rule))
    never_allowed = _ALWAYS in ra or (not aa and not allowed_when_unlisted)
    if never_allowed:
        return reasons
    for condition, rule in rb.items():
        if condition not in ra and condition not in fa:
            reasons.append((_lifted("requires approval", "approval", condition, ra), rule))
    if not ab and not allowed_when_unlisted and not reasons:
        # Unlisted meant forbidden; the rule that decided was the absence of one.
        reasons.append(("now listed under allowed_operations, where it was not listed", None))
    for condition, rule in ab.items():
        if condition != _ALWAYS and condition not in aa:
            reasons.append((f"the allowed condition `{condition}` was removed or changed", rule))
    manual_before = [r for r in before if r.tier is Tier.ALLOWED and not r.autonomous]
    if manual_before and not any(r.tier is Tier.ALLOWED and not r.autonomous for r in after):
        reasons.append(
            ("`autonomous: false` was removed, so it runs without a person", manual_before[0])
        )
    return reasons


def _lifted(tier: str, adjective: str, condition: str, remaining: Mapping[str, Rule]) -> str:
    if condition != _ALWAYS:
        return f"the {adjective} condition `{condition}` was removed or changed"
    if remaining:
        return f"{tier} only when " + " or ".join(f"`{c}`" for c in remaining) + " now"
    return f"no longer {tier}"


def _shape(rules: Iterable[Rule]) -> list[tuple[str, str, bool]]:
    return sorted((str(r.tier), _cond(r), r.autonomous) for r in rules)


def _rule_approvers(rules: Iterable[Rule]) -> list[tuple[str, str, tuple[str, ...]]]:
    return sorted((str(r.tier), _cond(r), r.approvers) for r in rules if r.approvers)


def rule_findings(ctx: ReviewContext, service: str, before: Any, after: Any) -> list[Finding]:
    """Loosened or tightened rules, and rules whose approvers changed. For a service, its own
    rules are compared, each side merged with BASE's global rules, so a global edit does not
    show up in every service; for the global policies (`service` ""), the global rules."""
    old_policy: Policy | GlobalPolicies = before.policy if service else before
    new_policy: Policy | GlobalPolicies = after.policy if service else after
    origin = "blueprint" if service else "global"
    shared = [r for r in old_policy.rules if r.origin == "global"] if service else []
    names = sorted(
        {r.operation for r in (*old_policy.rules, *new_policy.rules) if r.origin == origin}
    )
    findings = []
    for operation in names:
        old = [r for r in old_policy.rules if r.origin == origin and r.operation == operation]
        new = [r for r in new_policy.rules if r.origin == origin and r.operation == operation]
        inherited = [r for r in shared if r.operation == operation]
        path = _rule_path(new, old)
        if _shape(old) != _shape(new):
            entry = old_policy.catalogue.get(operation)
            unlisted_ok = entry is not None and entry.allowed_when_unlisted
            loosened = _loosenings([*old, *inherited], [*new, *inherited], unlisted_ok)
            findings.append(
                _governance_finding(ctx, service, before, operation, loosened, old, new, path)
            )
        if _rule_approvers(old) != _rule_approvers(new):
            findings.append(
                _rule_approvers_finding(ctx, service, before, operation, old, new, path)
            )
    return findings


def _rule_path(new: Sequence[Rule], old: Sequence[Rule]) -> Path:
    """HEAD's entry for the operation, else the list it was removed from."""
    if new:
        return parse_dotted(new[0].reference)
    if old:
        return parse_dotted(old[0].reference)[:-1]
    return ("governance", "agent_authority")


def _approvers_for(before: Blueprint, rules: Sequence[Rule]) -> tuple[str, ...]:
    for rule in rules:
        if rule.approvers:
            return rule.approvers
    return before.policy.approval.approvers


def _governance_finding(
    ctx: ReviewContext,
    service: str,
    before: Any,
    operation: str,
    loosened: Sequence[tuple[str, Rule | None]],
    old: Sequence[Rule],
    new: Sequence[Rule],
    path: Path,
) -> Finding:
    shown = {"before": tier_words(old), "after": tier_words(new)}
    if not service:
        kind = ChangeKind.LOOSEN_GOVERNANCE if loosened else ChangeKind.TIGHTEN_GOVERNANCE
        reason = f"{operation}: " + (
            "; ".join(text for text, _ in loosened) or "at least as strict as before"
        )
        return global_edit(ctx, path, kind, operation=operation, detail=reason, **shown)
    file = ctx.head.blueprints[service].source
    return finding_at(
        ctx,
        file=file,
        path=path,
        service=service,
        **shown,
        operation=operation,
        **_loosening_verdict(before, file, operation, loosened, new),
    )


def _loosening_verdict(
    before: Blueprint,
    file: str,
    operation: str,
    loosened: Sequence[tuple[str, Rule | None]],
    new: Sequence[Rule],
) -> dict[str, Any]:
    """Tightening a service's own rules is allowed; loosening needs its approvers at BASE."""
    if not loosened:
        return {
            "kind": ChangeKind.TIGHTEN_GOVERNANCE,
            "change_class": ChangeClass.ALLOWED,
            "reason": f"{operation} is at least as restricted as before, so the change is allowed",
            "rule": new[0].reference if new else "",
            "rule_file": file if new else "",
        }
    rules = [rule for _, rule in loosened if rule is not None]
    deciding = rules[0] if rules else None
    return {
        "kind": ChangeKind.LOOSEN_GOVERNANCE,
        "change_class": ChangeClass.REQUIRES_APPROVAL,
        "reason": f"{operation}: " + "; ".join(text for text, _ in loosened) + ". Loosening "
        "governance needs the service's approvers as they were before this change",
        "rule": _reference(deciding) or "governance.agent_authority (unlisted: forbidden)",
        "rule_file": POLICIES_FILE if deciding and deciding.origin == "global" else before.source,
        "approvers": _approvers_for(before, [r for r in rules if r.origin == "blueprint"]),
    }


def _rule_approvers_finding(
    ctx: ReviewContext,
    service: str,
    before: Any,
    operation: str,
    old: Sequence[Rule],
    new: Sequence[Rule],
    path: Path,
) -> Finding:
    shown = {
        "before": _names([a for r in old for a in r.approvers]),
        "after": _names([a for r in new for a in r.approvers]),
    }
    if not service:
        return global_edit(ctx, path, ChangeKind.APPROVERS_CHANGED, **shown)
    return finding_at(
        ctx,
        file=ctx.head.blueprints[service].source,
        path=path,
        service=service,
        kind=ChangeKind.APPROVERS_CHANGED,
        change_class=ChangeClass.REQUIRES_APPROVAL,
        **shown,
        reason=_WHY[ChangeKind.APPROVERS_CHANGED],
        operation=operation,
        rule=old[0].reference if old else "",
        rule_file=before.source,
        approvers=_approvers_for(before, old),
    )


def _reference(rule: Rule | None) -> str:
    if rule is None:
        return ""
    return rule.reference if rule.origin == "blueprint" else f"global:{rule.reference}"
