"""Governance: which tier an operation falls in, whether it is safe now, and what to do.

Two questions, kept apart so the answer can explain both:

- **Classification** (policy): forbidden, restricted (needs approval) or allowed, from the
  service's effective rules with their conditions evaluated. Forbidden rules are checked first,
  then restricted, then allowed; every allowed rule for the operation must hold. An operation
  listed nowhere is forbidden; the only exception is undoing the reconciler's own failed change.
- **Safety** (state): cooldown, hourly and daily rate limits, and the circuit breaker, from the
  service's history. Safety never makes a forbidden operation possible; it only holds back an
  allowed one.

The verdict's action follows: forbidden → block; restricted → request approval (safety is
checked again when the approved change is applied); allowed and safe → execute; allowed but
held back → defer (cooldown, rate limit) or block (open breaker). Every reason that applies is
listed, not just the first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from reconciler.core.blueprint.catalogue import ROLLBACK_OWN_CHANGE, Alternative, Operation, suggest
from reconciler.core.blueprint.model import Blueprint, Policy, Rule, Tier
from reconciler.core.blueprint.units import format_cpu, format_duration, format_memory
from reconciler.core.ids import make_id, utc
from reconciler.core.trail.history import BreakerPhase, ServiceHistory
from reconciler.core.trail.wording import Code, Reason, say

__all__ = [
    "Classification",
    "ClassifiedAlternative",
    "OperationRequest",
    "Origin",
    "RuleCheck",
    "SafetyCheck",
    "Verdict",
    "VerdictAction",
    "check_safety",
    "classify",
    "classify_under",
    "govern",
]


class Origin(StrEnum):
    """Who asked for the operation."""

    DECISION = "decision"
    REQUEST = "request"
    ROLLBACK = "rollback"
    APPROVAL = "approval"
    RECOVERY = "recovery"


class VerdictAction(StrEnum):
    EXECUTE = "execute"
    REQUEST_APPROVAL = "request_approval"
    BLOCK = "block"
    DEFER = "defer"


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
    #: The reason in words (`wording.say(reason)`), as records carry it.
    rationale: str
    references: tuple[str, ...]
    checks: tuple[RuleCheck, ...]
    rule: Rule | None = None
    known: bool = True
    #: A few words for a commit subject: the rule's rationale, or what the operation does.
    summary: str = ""
    #: Why the operation has its tier, as a code with its parameters.
    reason: Reason | None = None


@dataclass(frozen=True, kw_only=True)
class SafetyCheck:
    name: str
    ok: bool
    detail: str
    retry_at: datetime | None = None
    #: The check stops the operation until a person acts (an open breaker), not just for now.
    hard: bool = False


@dataclass(frozen=True, kw_only=True)
class ClassifiedAlternative:
    operation: str
    description: str
    tier: Tier
    replicas: int | None = None


@dataclass(frozen=True, kw_only=True)
class Verdict:
    id: str
    at: datetime
    service: str
    operation: str
    classification: Tier
    action: VerdictAction
    rationale: str
    reasons: tuple[str, ...]
    references: tuple[str, ...]
    checks: tuple[RuleCheck, ...]
    safety: tuple[SafetyCheck, ...]
    alternatives: tuple[ClassifiedAlternative, ...] = ()
    approvers: tuple[str, ...] = ()
    decision_id: str = ""
    retry_at: datetime | None = None
    #: The main reason in a few words, for one-line summaries.
    summary: str = ""

    @property
    def requires_approval(self) -> bool:
        return self.action is VerdictAction.REQUEST_APPROVAL


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


def classify(
    request: OperationRequest, blueprint: Blueprint, values: Mapping[str, float | None]
) -> Classification:
    """The tier of `request` under the service's effective policy, with every rule checked."""
    return classify_under(request, blueprint.policy, values)


def classify_under(
    request: OperationRequest, policy: Policy, values: Mapping[str, float | None]
) -> Classification:
    """The same under any policy: a pull request check classifies with the rules in force
    before the change, which for a new service are the global policies alone."""
    name = request.operation
    rules = policy.rules_for(name)
    checks = tuple(_check(rule, values) for rule in rules)
    paired = list(zip(rules, checks, strict=True))
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


def check_safety(
    request: OperationRequest, blueprint: Blueprint, history: ServiceHistory, now: datetime
) -> tuple[SafetyCheck, ...]:
    """Cooldown, rate limits and the breaker. Undoing the reconciler's own failed change is
    exempt from all three: it restores the state the blueprint last accepted."""
    now = utc(now)
    safety = blueprint.policy.safety
    operation = blueprint.policy.catalogue.get(request.operation)
    if operation is not None and not operation.mutating:
        return (SafetyCheck(name="read_only", ok=True, detail="reads nothing back; no limits"),)
    if request.operation == ROLLBACK_OWN_CHANGE:
        return (
            SafetyCheck(
                name="rollback_exempt",
                ok=True,
                detail="undoing the reconciler's own failed change is exempt from cooldown, "
                "rate limits and the circuit breaker",
            ),
        )
    return (
        _cooldown(history, safety.cooldown, now),
        *_rate_limits(history, safety.rate_limits.per_hour, safety.rate_limits.per_day, now),
        _breaker(request, blueprint, history),
    )


def _cooldown(history: ServiceHistory, cooldown: float, now: datetime) -> SafetyCheck:
    """Enough time since the last change, else when it will have been."""
    last = history.last_change_at
    if last is None:
        return SafetyCheck(name="cooldown", ok=True, detail="no earlier change")
    elapsed = (now - last).total_seconds()
    ok = elapsed >= cooldown
    return SafetyCheck(
        name="cooldown",
        ok=ok,
        detail=(
            f"last change {format_duration(elapsed)} ago, cooldown "
            f"{format_duration(cooldown)}"
            + ("" if ok else f" ({format_duration(cooldown - elapsed)} left)")
        ),
        retry_at=None if ok else last + timedelta(seconds=cooldown),
    )


def _rate_limits(
    history: ServiceHistory, per_hour: int, per_day: int, now: datetime
) -> tuple[SafetyCheck, SafetyCheck]:
    """Fewer changes than the hourly and the daily limit; else when the oldest counted ages
    out."""
    checks = []
    for name, span, limit in (
        ("rate_limit_hourly", 3600, per_hour),
        ("rate_limit_daily", 86400, per_day),
    ):
        recent = history.changes_within(now, span)
        ok = len(recent) < limit
        retry = None if ok or not recent else recent[-limit] + timedelta(seconds=span)
        checks.append(
            SafetyCheck(
                name=name,
                ok=ok,
                detail=f"{len(recent)}/{limit} changes in the last {format_duration(span)}",
                retry_at=retry,
            )
        )
    return checks[0], checks[1]


def _breaker(
    request: OperationRequest, blueprint: Blueprint, history: ServiceHistory
) -> SafetyCheck:
    """An open circuit breaker stops every change until a person resets it."""
    breaker = history.breaker
    settings = blueprint.policy.safety.circuit_breaker
    if breaker.phase is BreakerPhase.OPEN:
        return SafetyCheck(
            name="circuit_breaker",
            ok=False,
            hard=True,
            detail=f"circuit breaker {breaker.describe(settings)} after repeated failures; "
            f"`reconciler breaker reset {request.service} --reason ...` closes it",
        )
    return SafetyCheck(
        name="circuit_breaker", ok=True, detail=f"circuit breaker {breaker.describe(settings)}"
    )


def govern(
    request: OperationRequest,
    blueprint: Blueprint,
    history: ServiceHistory,
    observed: Mapping[str, float | None],
    now: datetime,
    *,
    approved_by: str = "",
) -> Verdict:
    """Classify, check safety, and settle on one action with every reason that applies.

    `approved_by` says a person approved this very operation (a merged proposal): a
    restricted operation may then be carried out, subject to safety like any other. Nothing
    approves a forbidden one.
    """
    now = utc(now)
    values = condition_values(request, blueprint, observed, now)
    classification = classify(request, blueprint, values)
    safety = check_safety(request, blueprint, history, now)
    failing = [check for check in safety if not check.ok]
    operation = blueprint.policy.catalogue.get(request.operation)
    executable = operation is not None and operation.executable
    action, added, retry_at = _settle(request, classification, failing, executable, approved_by)
    reasons = [classification.rationale, *added]
    alternatives: tuple[ClassifiedAlternative, ...] = ()
    if classification.tier is Tier.FORBIDDEN:
        alternatives = _alternatives(request, blueprint, classification, observed, now)
    summary = _summary(classification, action, failing, executable, reasons)
    approvers = blueprint.policy.approval.approvers
    if classification.rule is not None and classification.rule.approvers:
        approvers = classification.rule.approvers
    return Verdict(
        id=make_id(
            "gov",
            now,
            request.service,
            request.operation,
            request.target_replicas,
            request.decision_id,
            request.parameters.get("attempt"),
        ),
        at=now,
        service=request.service,
        operation=request.operation,
        classification=classification.tier,
        action=action,
        rationale=_headline(request, blueprint, classification, action),
        reasons=tuple(reasons),
        references=classification.references,
        checks=classification.checks,
        safety=safety,
        alternatives=alternatives,
        approvers=approvers if action is VerdictAction.REQUEST_APPROVAL else (),
        decision_id=request.decision_id,
        retry_at=retry_at,
        summary=summary,
    )


def _settle(
    request: OperationRequest,
    classification: Classification,
    failing: Sequence[SafetyCheck],
    executable: bool,
    approved_by: str,
) -> tuple[VerdictAction, list[str], datetime | None]:
    """The action a tier and the failing safety checks lead to: (action, the reasons it adds
    to the classification's, when to retry a deferral)."""
    details = [check.detail for check in failing]
    if classification.tier is Tier.FORBIDDEN:
        return VerdictAction.BLOCK, details, None
    if not executable:
        return (
            VerdictAction.BLOCK,
            [say(Reason(Code.NOT_EXECUTABLE, {"operation": request.operation}))],
            None,
        )
    if classification.tier is Tier.RESTRICTED and not approved_by:
        rechecked = [say(Reason(Code.SAFETY_RECHECKED, {"details": details}))] if failing else []
        return VerdictAction.REQUEST_APPROVAL, rechecked, None
    # Allowed, or restricted and approved: either way safety alone decides now.
    added = []
    if classification.tier is Tier.RESTRICTED:
        added.append(say(Reason(Code.APPROVED, {"by": approved_by})))
    if not failing:
        return VerdictAction.EXECUTE, added, None
    if any(check.hard for check in failing):
        return VerdictAction.BLOCK, [*added, *details], None
    pending = [check.retry_at for check in failing if check.retry_at is not None]
    return VerdictAction.DEFER, [*added, *details], max(pending) if pending else None


def _summary(
    classification: Classification,
    action: VerdictAction,
    failing: Sequence[SafetyCheck],
    executable: bool,
    reasons: Sequence[str],
) -> str:
    """The main reason in a few words: what holds an operation back, else its tier's reason."""
    if classification.tier is not Tier.FORBIDDEN and not executable:
        return reasons[-1]
    if (
        action in (VerdictAction.BLOCK, VerdictAction.DEFER)
        and classification.tier is not Tier.FORBIDDEN
    ):
        return "; ".join(check.detail for check in failing) or reasons[-1]
    return classification.summary or classification.tier.value


def _headline(
    request: OperationRequest,
    blueprint: Blueprint,
    classification: Classification,
    action: VerdictAction,
) -> str:
    """The one-line reason a person reads first, in the seed's words where it has them."""
    scaling = blueprint.scaling
    target = request.target_replicas
    if target is not None and request.operation.startswith("scale_"):
        bounds = f"({scaling.min_replicas}-{scaling.max_replicas})"
        if scaling.min_replicas <= target <= scaling.max_replicas:
            head = f"Target replicas ({target}) within blueprint limits {bounds}"
        elif target > scaling.max_replicas:
            head = f"Target replicas ({target}) exceeds max_replicas ({scaling.max_replicas})"
        else:
            head = f"Target replicas ({target}) is below min_replicas ({scaling.min_replicas})"
    else:
        head = request.operation
    return f"{head}: {classification.tier}, {action.value.replace('_', ' ')}."


def _alternatives(
    request: OperationRequest,
    blueprint: Blueprint,
    classification: Classification,
    observed: Mapping[str, float | None],
    now: datetime,
) -> tuple[ClassifiedAlternative, ...]:
    """Safer operations to offer, each with its own classification (never unclassified)."""
    offered: Sequence[Alternative] = ()
    if classification.rule is not None and classification.rule.alternatives:
        offered = classification.rule.alternatives
    else:
        entry = blueprint.policy.catalogue.get(request.operation)
        offered = entry.alternatives if entry else ()
    result = []
    for alternative in offered:
        probe = OperationRequest(
            operation=alternative.operation,
            service=request.service,
            origin=request.origin,
            current_replicas=request.current_replicas,
            target_replicas=alternative.replicas,
        )
        values = condition_values(probe, blueprint, observed, now)
        tier = classify(probe, blueprint, values).tier
        description = alternative.description or (
            blueprint.policy.catalogue[alternative.operation].summary
            if alternative.operation in blueprint.policy.catalogue
            else alternative.operation
        )
        result.append(
            ClassifiedAlternative(
                operation=alternative.operation,
                description=description,
                tier=tier,
                replicas=alternative.replicas,
            )
        )
    return tuple(result)
