"""Governance: which tier an operation falls in, whether it is safe now, and what to do.

Two questions, kept apart so the answer can explain both:

- **Classification** (policy, in rules.py): forbidden, restricted (needs approval) or
  allowed, from the service's effective rules with their conditions evaluated.
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
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from reconciler.core.blueprint.catalogue import ROLLBACK_OWN_CHANGE, Alternative
from reconciler.core.blueprint.model import Blueprint, Tier
from reconciler.core.decide.rules import (
    Classification,
    OperationRequest,
    Origin,
    RuleCheck,
    classify_under,
    condition_values,
)
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
    "condition_values",
    "govern",
]


class VerdictAction(StrEnum):
    EXECUTE = "execute"
    REQUEST_APPROVAL = "request_approval"
    BLOCK = "block"
    DEFER = "defer"


@dataclass(frozen=True, kw_only=True)
class SafetyCheck:
    name: str
    ok: bool
    #: What the check found, as a code with its numbers.
    reason: Reason
    retry_at: datetime | None = None
    #: The check stops the operation until a person acts (an open breaker), not just for now.
    hard: bool = False

    @property
    def detail(self) -> str:
        """What the check found, in the words records carry."""
        return say(self.reason)


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
    #: Every reason that applies: the tier's first, then what the action adds.
    reasons: tuple[Reason, ...]
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

    @property
    def reason_words(self) -> tuple[str, ...]:
        """The reasons in the words records carry."""
        return tuple(say(reason) for reason in self.reasons)


def classify(
    request: OperationRequest, blueprint: Blueprint, values: Mapping[str, float | None]
) -> Classification:
    """The tier of `request` under the service's effective policy, with every rule checked."""
    return classify_under(request, blueprint.policy, values)


def check_safety(
    request: OperationRequest, blueprint: Blueprint, history: ServiceHistory, now: datetime
) -> tuple[SafetyCheck, ...]:
    """Cooldown, rate limits and the breaker. Undoing the reconciler's own failed change is
    exempt from all three: it restores the state the blueprint last accepted."""
    now = utc(now)
    safety = blueprint.policy.safety
    operation = blueprint.policy.catalogue.get(request.operation)
    if operation is not None and not operation.mutating:
        return (SafetyCheck(name="read_only", ok=True, reason=Reason(Code.READ_ONLY)),)
    if request.operation == ROLLBACK_OWN_CHANGE:
        return (SafetyCheck(name="rollback_exempt", ok=True, reason=Reason(Code.ROLLBACK_EXEMPT)),)
    return (
        _cooldown(history, safety.cooldown, now),
        *_rate_limits(history, safety.rate_limits.per_hour, safety.rate_limits.per_day, now),
        _breaker(request, blueprint, history),
    )


def _cooldown(history: ServiceHistory, cooldown: float, now: datetime) -> SafetyCheck:
    """Enough time since the last change, else when it will have been."""
    last = history.last_change_at
    if last is None:
        return SafetyCheck(name="cooldown", ok=True, reason=Reason(Code.NO_EARLIER_CHANGE))
    elapsed = (now - last).total_seconds()
    ok = elapsed >= cooldown
    return SafetyCheck(
        name="cooldown",
        ok=ok,
        reason=Reason(Code.COOLDOWN, {"elapsed": elapsed, "cooldown": cooldown}),
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
                reason=Reason(
                    Code.RATE_LIMIT, {"changes": len(recent), "limit": limit, "span": span}
                ),
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
            reason=Reason(
                Code.BREAKER_OPEN,
                {"state": breaker.describe(settings), "service": request.service},
            ),
        )
    return SafetyCheck(
        name="circuit_breaker",
        ok=True,
        reason=Reason(Code.BREAKER, {"state": breaker.describe(settings)}),
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
    reasons = [classification.reason, *added]
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
) -> tuple[VerdictAction, list[Reason], datetime | None]:
    """The action a tier and the failing safety checks lead to: (action, the reasons it adds
    to the classification's, when to retry a deferral)."""
    details = [check.reason for check in failing]
    if classification.tier is Tier.FORBIDDEN:
        return VerdictAction.BLOCK, details, None
    if not executable:
        return (
            VerdictAction.BLOCK,
            [Reason(Code.NOT_EXECUTABLE, {"operation": request.operation})],
            None,
        )
    if classification.tier is Tier.RESTRICTED and not approved_by:
        words = [check.detail for check in failing]
        rechecked = [Reason(Code.SAFETY_RECHECKED, {"details": words})] if failing else []
        return VerdictAction.REQUEST_APPROVAL, rechecked, None
    # Allowed, or restricted and approved: either way safety alone decides now.
    added = []
    if classification.tier is Tier.RESTRICTED:
        added.append(Reason(Code.APPROVED, {"by": approved_by}))
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
    reasons: Sequence[Reason],
) -> str:
    """The main reason in a few words: what holds an operation back, else its tier's reason."""
    if classification.tier is not Tier.FORBIDDEN and not executable:
        return say(reasons[-1])
    if (
        action in (VerdictAction.BLOCK, VerdictAction.DEFER)
        and classification.tier is not Tier.FORBIDDEN
    ):
        return "; ".join(check.detail for check in failing) or say(reasons[-1])
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
    headline = {
        "operation": request.operation,
        "target": target if request.operation.startswith("scale_") else None,
        "low": scaling.min_replicas,
        "high": scaling.max_replicas,
        "tier": classification.tier,
        "action": action.value,
    }
    return say(Reason(Code.VERDICT_HEADLINE, headline))


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
