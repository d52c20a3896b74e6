"""Edits that map to an operation of the catalogue (deleting a blueprint, widening the replica
bounds, a resource request), classified by the governance classifier under the rules before the
change; what a static diff cannot know is read as needing approval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from reconciler.core.blueprint.model import Blueprint, GlobalPolicies, Policy, Tier
from reconciler.core.decide.governance import (
    Classification,
    OperationRequest,
    Origin,
    classify_under,
    condition_values,
)
from reconciler.core.review.findings import POLICIES_FILE, ChangeClass

#: A static diff has no moment: the time names stay unknown. Only passed to fill the others.
_NO_MOMENT = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, kw_only=True)
class _Verdict:
    operation: str
    change_class: ChangeClass
    reason: str
    rule: str
    rule_file: str
    approvers: tuple[str, ...]
    unknown: tuple[str, ...]

    def fields(self, why: str) -> dict[str, Any]:
        """The verdict as a finding's fields, its reason after `why` (what the edit amounts to)."""
        return {
            "change_class": self.change_class,
            "reason": f"{why}: {self.reason}",
            "operation": self.operation,
            "rule": self.rule,
            "rule_file": self.rule_file,
            "approvers": self.approvers,
            "unknown": self.unknown,
        }


def classify_edit(
    operation: str,
    *,
    service: str,
    policy: Policy,
    blueprint: Blueprint | None,
    target: int | None = None,
    change_percent: float | None = None,
) -> _Verdict:
    request = OperationRequest(
        operation=operation,
        service=service,
        origin=Origin.REQUEST,
        target_replicas=target,
        change_percent=change_percent,
    )
    values: dict[str, float | None] = {}
    if blueprint is not None:
        values = condition_values(request, blueprint, {}, _NO_MOMENT)
        values.update(hour_utc=None, weekday_utc=None)
    result = classify_under(request, policy, values)
    unknown = tuple(sorted({name for check in result.checks for name in check.missing}))
    reference = result.references[0] if result.references else ""
    change_class, reason = _class_of(result, reference, unknown)
    approvers = policy.approval.approvers
    if result.rule is not None and result.rule.approvers:
        approvers = result.rule.approvers
    return _Verdict(
        operation=operation,
        change_class=change_class,
        reason=reason,
        rule=", ".join(result.references),
        rule_file=_rule_file(reference, blueprint),
        approvers=approvers if change_class is ChangeClass.REQUIRES_APPROVAL else (),
        unknown=unknown,
    )


def _class_of(
    result: Classification, reference: str, unknown: Sequence[str]
) -> tuple[ChangeClass, str]:
    """The class of the edit and why, from the tier the classifier chose."""
    if result.tier is Tier.ALLOWED:
        return ChangeClass.ALLOWED, result.rationale
    if result.tier is Tier.RESTRICTED:
        return ChangeClass.REQUIRES_APPROVAL, _unknown_note(result, unknown)
    deciding = next((c for c in result.checks if c.reference == reference), None)
    if deciding is None or deciding.result is not None:
        return ChangeClass.FORBIDDEN, result.rationale
    return (
        ChangeClass.REQUIRES_APPROVAL,
        f"{result.rationale} Its condition needs live values a diff cannot know "
        f"({', '.join(deciding.missing)}), so the edit is flagged for approval; the rule "
        "is still checked, with live values, whenever the reconciler acts.",
    )


def _unknown_note(result: Classification, unknown: Sequence[str]) -> str:
    if not unknown:
        return result.rationale
    return (
        f"{result.rationale} (A static diff cannot know {', '.join(unknown)}; unknown counts "
        "as needing approval.)"
    )


def _rule_file(reference: str, blueprint: Blueprint | None) -> str:
    if reference.startswith("global:"):
        return POLICIES_FILE
    if reference.startswith("catalogue:") or not reference:
        return ""
    return blueprint.source if blueprint is not None else POLICIES_FILE


def global_policy_of(policies: GlobalPolicies) -> Policy:
    """The rules a service has before it has a blueprint: the global ones alone."""
    return Policy(
        rules=policies.rules,
        approval=policies.approval,
        safety=policies.safety,
        catalogue=policies.catalogue,
    )
