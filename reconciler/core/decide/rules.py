"""What is asked of governance, and an operation's tier under the rules.

`classify_under` checks every rule the policy has for an operation, conditions evaluated on
the request's numbers: forbidden rules first, then restricted, then allowed (every allowed
rule must hold); an operation listed nowhere is forbidden unless the catalogue allows it
unlisted. It decides with a reason code (trail/wording.py words it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from reconciler.core.blueprint.catalogue import Operation, suggest
from reconciler.core.blueprint.model import Blueprint, Policy, Rule, Tier
from reconciler.core.blueprint.units import format_cpu, format_memory
from reconciler.core.ids import utc
from reconciler.core.trail.wording import Code, Reason, say

__all__ = [
    "Classification",
    "OperationRequest",
    "Origin",
    "RuleCheck",
    "classify_under",
    "condition_values",
]


class Origin(StrEnum):
    """Who asked for the operation."""

    DECISION = "decision"
    REQUEST = "request"
    ROLLBACK = "rollback"
    APPROVAL = "approval"
    RECOVERY = "recovery"


@dataclass(frozen=True, kw_only=True)
class OperationRequest:
    """One operation to govern, with the numbers its conditions may use."""

    operation: str
    service: str
    origin: Origin
    current_replicas: int | None = None
    target_replicas: int | None = None
    #: Relative size of the change (replicas or resources), for `change_percent`.
    change_percent: float | None = None
    reason: str = ""
    requested_by: str = ""
    decision_id: str = ""
    #: For a rollback: the operation id being undone.
    reverts: str = ""
    parameters: Mapping[str, object] = field(default_factory=dict)

    def describe(self) -> str:
        """What the request changes, in the words of a `git log --oneline` subject."""
        if self.target_replicas is not None and self.current_replicas is not None:
            return f"scale {self.current_replicas}→{self.target_replicas}"
        parts = []
        for key, label, fmt in (
            ("cpu_request", "cpu", format_cpu),
            ("memory_request", "memory", format_memory),
        ):
            new = self.parameters.get(key)
            if isinstance(new, int):
                before = self.parameters.get(f"{key}_before")
                old = fmt(before) if isinstance(before, int) else "unset"
                parts.append(f"{label} {old}→{fmt(new)}")
        if parts:
            return "requests " + ", ".join(parts)
        return self.operation


@dataclass(frozen=True, kw_only=True)
class RuleCheck:
    """How one rule was evaluated, for the record."""

    reference: str
    origin: str
    tier: Tier
    condition: str | None
    result: bool | None
    rendered: str | None = None
    missing: tuple[str, ...] = ()
    autonomous: bool = True


@dataclass(frozen=True, kw_only=True)
class Classification:
    tier: Tier
    #: Why the operation has its tier, as a code with its parameters.
    reason: Reason
    #: The reason in words (`wording.say(reason)`), as records carry it.
    rationale: str
    references: tuple[str, ...]
    checks: tuple[RuleCheck, ...]
    rule: Rule | None = None
    known: bool = True
    #: A few words for a commit subject: the rule's rationale, or what the operation does.
    summary: str = ""


def condition_values(
    request: OperationRequest,
    blueprint: Blueprint,
    observed: Mapping[str, float | None],
    now: datetime,
) -> dict[str, float | None]:
    """The names a condition may use, for this request. Unknown values stay None."""
    current, target = request.current_replicas, request.target_replicas
    change = None
    if current is not None and target is not None:
        change = target - current
    percent = request.change_percent
    if percent is None and change is not None and current:
        percent = abs(change) / current
    latency = observed.get("latency_p95_ms")
    moment = utc(now)
    return {
        **{k: v for k, v in observed.items() if k != "latency_p95_ms"},
        "target_replicas": None if target is None else float(target),
        "current_replicas": None if current is None else float(current),
        "min_replicas": float(blueprint.scaling.min_replicas),
        "max_replicas": float(blueprint.scaling.max_replicas),
        "replica_change": None if change is None else float(change),
        "change_percent": percent,
        "max_restart_count": float(blueprint.reliability.max_restart_count),
        "rollback_threshold": float(blueprint.reliability.rollback_threshold),
        "latency_p95": None if latency is None else latency / 1000,
        "latency_p95_target": blueprint.performance.latency_p95_ms / 1000,
        "hour_utc": float(moment.hour),
        "weekday_utc": float(moment.weekday()),
    }


def _check(rule: Rule, values: Mapping[str, float | None]) -> RuleCheck:
    if rule.condition is None:
        return RuleCheck(
            reference=_ref(rule),
            origin=rule.origin,
            tier=rule.tier,
            condition=None,
            result=True,
            autonomous=rule.autonomous,
        )
    return RuleCheck(
        reference=_ref(rule),
        origin=rule.origin,
        tier=rule.tier,
        condition=str(rule.condition),
        result=rule.condition.evaluate(values),
        rendered=rule.condition.render_with(values),
        missing=tuple(rule.condition.missing(values)),
        autonomous=rule.autonomous,
    )


def _ref(rule: Rule) -> str:
    return rule.reference if rule.origin == "blueprint" else f"global:{rule.reference}"


def classify_under(
    request: OperationRequest, policy: Policy, values: Mapping[str, float | None]
) -> Classification:
    """The same under any policy: a pull request check classifies with the rules in force
    before the change, which for a new service are the global policies alone."""
    name = request.operation
    paired = [(rule, _check(rule, values)) for rule in policy.rules_for(name)]
    checks = tuple(check for _, check in paired)
    # A forbidding or restricting rule applies unless its condition is known to be false:
    # unknown is unsafe. Forbidding rules first.
    for tier in (Tier.FORBIDDEN, Tier.RESTRICTED):
        for rule, check in paired:
            if rule.tier is tier and check.result is not False:
                return _by_rule(name, policy, rule, check, checks)
    allowed = [(rule, check) for rule, check in paired if rule.tier is Tier.ALLOWED]
    if allowed:
        return _allowed(name, allowed, checks)
    return _unlisted(name, policy, checks)


def _classified(tier: Tier, reason: Reason, **fields: Any) -> Classification:
    return Classification(tier=tier, rationale=say(reason), reason=reason, **fields)


def _by_rule(
    name: str, policy: Policy, rule: Rule, check: RuleCheck, checks: tuple[RuleCheck, ...]
) -> Classification:
    """Forbidden or restricted by the first rule of that tier that applies."""
    if rule.tier is Tier.FORBIDDEN:
        why = rule.rationale or policy.catalogue.get(name, Operation(name=name, summary="")).summary
        return _classified(
            Tier.FORBIDDEN,
            Reason(Code.FORBIDDEN_BY_RULE, {"operation": name, "check": check, "why": why}),
            references=(_ref(rule),),
            checks=checks,
            rule=rule,
            summary=why or f"forbidden by {_ref(rule)}",
        )
    return _classified(
        Tier.RESTRICTED,
        Reason(Code.RESTRICTED_BY_RULE, {"operation": name, "check": check, "why": rule.rationale}),
        references=(_ref(rule),),
        checks=checks,
        rule=rule,
        summary=rule.rationale or f"restricted by {_ref(rule)}",
    )


def _allowed(
    name: str, allowed: list[tuple[Rule, RuleCheck]], checks: tuple[RuleCheck, ...]
) -> Classification:
    """Allowed when every allowed rule holds and all may act on their own; else restricted."""
    refs = tuple(_ref(rule) for rule, _ in allowed)
    failing = [(rule, check) for rule, check in allowed if check.result is not True]
    if failing:
        return _classified(
            Tier.RESTRICTED,
            Reason(
                Code.CONDITIONS_UNMET,
                {"operation": name, "checks": [check for _, check in failing]},
            ),
            references=refs,
            checks=checks,
            rule=failing[0][0],
        )
    manual = [rule for rule, _ in allowed if not rule.autonomous]
    if manual:
        return _classified(
            Tier.RESTRICTED,
            Reason(Code.NOT_AUTONOMOUS, {"operation": name, "reference": _ref(manual[0])}),
            references=refs,
            checks=checks,
            rule=manual[0],
        )
    return _classified(
        Tier.ALLOWED,
        Reason(
            Code.ALLOWED_BY_RULES, {"operation": name, "checks": [check for _, check in allowed]}
        ),
        references=refs,
        checks=checks,
        rule=allowed[0][0],
    )


def _unlisted(name: str, policy: Policy, checks: tuple[RuleCheck, ...]) -> Classification:
    """No rule names the operation: forbidden, unless the catalogue allows it unlisted."""
    entry = policy.catalogue.get(name)
    if entry is not None and entry.allowed_when_unlisted:
        return _classified(
            Tier.ALLOWED,
            Reason(Code.ALLOWED_BY_DEFAULT, {"operation": name}),
            references=("catalogue:" + name,),
            checks=checks,
        )
    if entry is None:
        # A typo is the likeliest unknown name: still forbidden (and recorded), but the
        # refusal names the operation that was probably meant.
        return _classified(
            Tier.FORBIDDEN,
            Reason(
                Code.UNKNOWN_OPERATION,
                {"operation": name, "close": suggest(name, policy.catalogue)},
            ),
            references=("governance.agent_authority",),
            checks=checks,
            known=False,
            summary="unknown operation",
        )
    return _classified(
        Tier.FORBIDDEN,
        Reason(Code.UNLISTED, {"operation": name}),
        references=("governance.agent_authority",),
        checks=checks,
        summary="not listed in any tier",
    )
