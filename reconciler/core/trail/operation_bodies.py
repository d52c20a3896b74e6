"""The typed details of the records of one operation's chain: the decision, the governance
verdict, the change carried out (or recovered) and the change that failed.

Each body is read from the JSON its record stores (`Fields`: a missing or null field is its
default, a field of the wrong type makes the record unreadable, naming the field) and keeps
that JSON, so a record is shown and written back exactly as it was stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reconciler.core.trail.body_fields import Body, Fields, RequestBody, objects, texts

__all__ = [
    "Alternative",
    "DecisionBody",
    "ExecutionBody",
    "FailureBody",
    "GovernanceBody",
    "RuleCheck",
    "SafetyCheck",
]


@dataclass(frozen=True, kw_only=True, eq=False)
class DecisionBody(Body):
    """What the decision engine concluded (`decision_made`), and from which inputs."""

    decision_id: str | None
    action: str | None
    reason: str | None
    rule: str | None
    current_replicas: int | None
    target_replicas: int | None
    desired_replicas: int | None
    estimate: int | None
    weighted_utilization: float | None
    #: Each metric's weight, value and contribution, as stored.
    metrics: tuple[Mapping[str, Any], ...]
    expected_outcome: Mapping[str, Any] | None
    inputs: Mapping[str, Any]
    references: tuple[str, ...]
    guards: tuple[Mapping[str, Any], ...]
    stored: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> DecisionBody:
        fields = Fields(raw, "details")
        return cls(
            decision_id=fields.optional_text("decision_id"),
            action=fields.optional_text("action"),
            reason=fields.optional_text("reason"),
            rule=fields.optional_text("rule"),
            current_replicas=fields.whole("current_replicas"),
            target_replicas=fields.whole("target_replicas"),
            desired_replicas=fields.whole("desired_replicas"),
            estimate=fields.whole("estimate"),
            weighted_utilization=fields.number("weighted_utilization"),
            metrics=objects(fields, "metrics_breakdown"),
            expected_outcome=fields.optional_mapping("expected_outcome"),
            inputs=fields.mapping("inputs"),
            references=texts(fields, "blueprint_references"),
            guards=objects(fields, "guards"),
            stored=raw,
        )


@dataclass(frozen=True, kw_only=True)
class RuleCheck:
    """One governance rule as the verdict evaluated it."""

    reference: str | None = None
    condition: str | None = None
    #: The condition with the operation's values in place.
    evaluated: str | None = None
    #: None when the condition could not be evaluated (a value was unknown).
    result: bool | None = None

    @classmethod
    def from_json(cls, raw: object) -> RuleCheck:
        fields = Fields(raw, "details.rules[]")
        return cls(
            reference=fields.optional_text("reference"),
            condition=fields.optional_text("condition"),
            evaluated=fields.optional_text("evaluated"),
            result=fields.optional_flag("result"),
        )


@dataclass(frozen=True, kw_only=True)
class SafetyCheck:
    """One safety check of a verdict (cooldown, a rate limit, the breaker...)."""

    name: str
    ok: bool
    detail: str | None = None
    retry_at: datetime | None = None

    @classmethod
    def from_json(cls, name: str, raw: object) -> SafetyCheck:
        fields = Fields(raw, f"details.safety_checks.{name}")
        return cls(
            name=name,
            ok=fields.flag("ok"),
            detail=fields.optional_text("detail"),
            retry_at=fields.moment("retry_at"),
        )


@dataclass(frozen=True, kw_only=True)
class Alternative:
    """Something governance would allow instead of a refused operation."""

    operation: str | None = None
    description: str | None = None
    classification: str | None = None
    replicas: int | None = None

    @classmethod
    def from_json(cls, raw: object) -> Alternative:
        fields = Fields(raw, "details.alternatives[]")
        return cls(
            operation=fields.optional_text("operation"),
            description=fields.optional_text("description"),
            classification=fields.optional_text("classification"),
            replicas=fields.whole("replicas"),
        )


def alternatives_of(fields: Fields) -> tuple[Alternative, ...]:
    return tuple(Alternative.from_json(raw) for raw in objects(fields, "alternatives"))


@dataclass(frozen=True, kw_only=True, eq=False)
class GovernanceBody(Body):
    """A governance verdict (`governance_checked`): the tier, every rule and safety check it
    weighed, and what it would allow instead."""

    governance_check_id: str | None
    decision_id: str | None
    operation: str | None
    classification: str | None
    action: str | None
    requires_approval: bool
    reasons: tuple[str, ...]
    approvers: tuple[str, ...]
    retry_at: datetime | None
    request: RequestBody
    stored: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    # The rules, safety checks and alternatives are checked when the record is read, but
    # made into objects only when asked for (`explain`): a verdict is the most frequent
    # record of the trail, and the trail cache would otherwise keep (and unpickle) every
    # one of them twice over.

    @property
    def rules(self) -> tuple[RuleCheck, ...]:
        return _rules(Fields(self, "details"))

    @property
    def safety_checks(self) -> tuple[SafetyCheck, ...]:
        return _safety_checks(Fields(self, "details"))

    @property
    def alternatives(self) -> tuple[Alternative, ...]:
        return alternatives_of(Fields(self, "details"))

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> GovernanceBody:
        fields = Fields(raw, "details")
        for nested in (_rules, _safety_checks, alternatives_of):
            nested(fields)  # a mistyped rule, check or alternative makes the record unreadable
        return cls(
            governance_check_id=fields.optional_text("governance_check_id"),
            decision_id=fields.optional_text("decision_id"),
            operation=fields.optional_text("operation"),
            classification=fields.optional_text("classification"),
            action=fields.optional_text("action"),
            requires_approval=fields.flag("requires_approval"),
            reasons=texts(fields, "reasons"),
            approvers=texts(fields, "approvers"),
            retry_at=fields.moment("retry_at"),
            request=RequestBody.from_json(raw.get("request")),
            stored=raw,
        )


def _rules(fields: Fields) -> tuple[RuleCheck, ...]:
    return tuple(RuleCheck.from_json(rule) for rule in objects(fields, "rules"))


def _safety_checks(fields: Fields) -> tuple[SafetyCheck, ...]:
    safety = fields.mapping("safety_checks")
    return tuple(SafetyCheck.from_json(str(name), check) for name, check in safety.items())


@dataclass(frozen=True, kw_only=True, eq=False)
class ExecutionBody(Body):
    """A change carried out (`operation_executed`, `rollback_executed`), or found carried out
    by a run that crashed before recording it (`operation_recovered`): what was asked, the
    state before and after, and what its verification needs."""

    request: RequestBody
    #: How the change reads (`scale 2→3`); None on a recovered change.
    change: str | None
    #: The change's kind (scale, resources, restart, rollback); None on a recovered change.
    kind: str | None
    started_at: datetime | None
    completed_at: datetime | None
    pre_operation_state: Mapping[str, Any]
    post_operation_state: Mapping[str, Any]
    output: str | None
    verification_due: datetime | None
    #: The replicas the change aimed at: the request's target, or the replicas after it
    #: when the request names no target at all (a recovered change's may name none).
    target_replicas: int | None
    #: The metrics before the change, that verification compares with.
    baseline: Mapping[str, Any]
    expected: Mapping[str, Any]
    #: For a rollback: which attempt it was.
    attempt: int | None
    #: The approval that authorized the change, as recorded.
    authorized_by: Mapping[str, Any] | None
    #: The manifest commit, for a change made through git (coexistence: write_back).
    write_back: Mapping[str, Any] | None
    #: A recovered change: what its stamp said, and where it was found.
    summary: str | None
    recovered_from: str | None
    stored: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ExecutionBody:
        fields = Fields(raw, "details")
        request = RequestBody.from_json(raw.get("request"))
        after = fields.mapping("post_operation_state")
        named = request.stored is not None and "target_replicas" in request.stored
        target = request.target_replicas if named else after.get("replicas")
        return cls(
            request=request,
            change=fields.optional_text("change"),
            kind=fields.optional_text("kind"),
            started_at=fields.moment("started_at"),
            completed_at=fields.moment("completed_at"),
            pre_operation_state=fields.mapping("pre_operation_state"),
            post_operation_state=after,
            output=fields.optional_text("output"),
            verification_due=fields.moment("verification_due"),
            target_replicas=int(target) if isinstance(target, int) else None,
            baseline=fields.mapping("baseline"),
            expected=fields.mapping("expected"),
            attempt=fields.whole("attempt"),
            authorized_by=fields.optional_mapping("authorized_by"),
            write_back=fields.optional_mapping("write_back"),
            summary=fields.optional_text("summary"),
            recovered_from=fields.optional_text("recovered_from"),
            stored=raw,
        )


@dataclass(frozen=True, kw_only=True, eq=False)
class FailureBody(Body):
    """A change that failed (`operation_failed`, `rollback_failed`): what was asked, the
    error, and the hint that goes with it."""

    request: RequestBody
    change: str | None
    error: str | None
    hint: str | None
    stored: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> FailureBody:
        fields = Fields(raw, "details")
        return cls(
            request=RequestBody.from_json(raw.get("request")),
            change=fields.optional_text("change"),
            error=fields.optional_text("error"),
            hint=fields.optional_text("hint"),
            stored=raw,
        )
