"""The typed details of the records of one operation's chain: the decision, the governance
verdict, the change carried out (or recovered) and the change that failed.

Each body is read from the JSON its record stores (`Fields`: a missing or null field is its
default, a field of the wrong type makes the record unreadable, naming the field), each field
as it declares (`read_as`), and keeps that JSON, so a record is shown and written back exactly
as it was stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reconciler.core.trail.body_fields import (
    Body,
    Fields,
    Read,
    objects,
    read_as,
    read_fields,
    texts,
)
from reconciler.core.trail.request_body import RequestBody

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

    decision_id: str | None = field(metadata=Read.TEXT)
    action: str | None = field(metadata=Read.TEXT)
    reason: str | None = field(metadata=Read.TEXT)
    rule: str | None = field(metadata=Read.TEXT)
    current_replicas: int | None = field(metadata=Read.WHOLE)
    target_replicas: int | None = field(metadata=Read.WHOLE)
    desired_replicas: int | None = field(metadata=Read.WHOLE)
    estimate: int | None = field(metadata=Read.WHOLE)
    weighted_utilization: float | None = field(metadata=Read.NUMBER)
    #: Each metric's weight, value and contribution, as stored.
    metrics: tuple[Mapping[str, Any], ...] = field(metadata=read_as(objects, "metrics_breakdown"))
    expected_outcome: Mapping[str, Any] | None = field(metadata=Read.OPTIONAL_OBJECT)
    inputs: Mapping[str, Any] = field(metadata=Read.OBJECT)
    references: tuple[str, ...] = field(metadata=read_as(texts, "blueprint_references"))
    guards: tuple[Mapping[str, Any], ...] = field(metadata=Read.OBJECTS)
    stored: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, kw_only=True)
class RuleCheck:
    """One governance rule as the verdict evaluated it."""

    reference: str | None = field(default=None, metadata=Read.TEXT)
    condition: str | None = field(default=None, metadata=Read.TEXT)
    #: The condition with the operation's values in place.
    evaluated: str | None = field(default=None, metadata=Read.TEXT)
    #: None when the condition could not be evaluated (a value was unknown).
    result: bool | None = field(default=None, metadata=Read.OPTIONAL_FLAG)

    @classmethod
    def from_json(cls, raw: object) -> RuleCheck:
        return cls(**read_fields(cls, Fields(raw, "details.rules[]")))


@dataclass(frozen=True, kw_only=True)
class SafetyCheck:
    """One safety check of a verdict (cooldown, a rate limit, the breaker...)."""

    name: str
    ok: bool = field(metadata=Read.FLAG)
    detail: str | None = field(default=None, metadata=Read.TEXT)
    retry_at: datetime | None = field(default=None, metadata=Read.MOMENT)

    @classmethod
    def from_json(cls, name: str, raw: object) -> SafetyCheck:
        return cls(name=name, **read_fields(cls, Fields(raw, f"details.safety_checks.{name}")))


@dataclass(frozen=True, kw_only=True)
class Alternative:
    """Something governance would allow instead of a refused operation."""

    operation: str | None = field(default=None, metadata=Read.TEXT)
    description: str | None = field(default=None, metadata=Read.TEXT)
    classification: str | None = field(default=None, metadata=Read.TEXT)
    replicas: int | None = field(default=None, metadata=Read.WHOLE)

    @classmethod
    def from_json(cls, raw: object) -> Alternative:
        return cls(**read_fields(cls, Fields(raw, "details.alternatives[]")))


def alternatives_of(fields: Fields) -> tuple[Alternative, ...]:
    return tuple(Alternative.from_json(raw) for raw in objects(fields, "alternatives"))


@dataclass(frozen=True, kw_only=True, eq=False)
class GovernanceBody(Body):
    """A governance verdict (`governance_checked`): the tier, every rule and safety check it
    weighed, and what it would allow instead."""

    governance_check_id: str | None = field(metadata=Read.TEXT)
    decision_id: str | None = field(metadata=Read.TEXT)
    operation: str | None = field(metadata=Read.TEXT)
    classification: str | None = field(metadata=Read.TEXT)
    action: str | None = field(metadata=Read.TEXT)
    requires_approval: bool = field(metadata=Read.FLAG)
    reasons: tuple[str, ...] = field(metadata=Read.TEXTS)
    approvers: tuple[str, ...] = field(metadata=Read.TEXTS)
    retry_at: datetime | None = field(metadata=Read.MOMENT)
    request: RequestBody = field(metadata=Read.REQUEST)
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
        return cls(**read_fields(cls, fields), stored=raw)


def _rules(fields: Fields) -> tuple[RuleCheck, ...]:
    return tuple(RuleCheck.from_json(rule) for rule in objects(fields, "rules"))


def _safety_checks(fields: Fields) -> tuple[SafetyCheck, ...]:
    safety = fields.mapping("safety_checks")
    return tuple(SafetyCheck.from_json(str(name), check) for name, check in safety.items())


def _aimed_at(fields: Fields, _name: str) -> int | None:
    """The request's target where it names one (null included), else the replicas after the
    change; the request and the state after it are read, and checked, before this."""
    request = fields.raw.get("request") or {}
    if "target_replicas" in request:
        target = request["target_replicas"]
    else:
        target = fields.mapping("post_operation_state").get("replicas")
    return int(target) if isinstance(target, int) else None


@dataclass(frozen=True, kw_only=True, eq=False)
class ExecutionBody(Body):
    """A change carried out (`operation_executed`, `rollback_executed`), or found carried out
    by a run that crashed before recording it (`operation_recovered`): what was asked, the
    state before and after, and what its verification needs."""

    request: RequestBody = field(metadata=Read.REQUEST)
    #: How the change reads (`scale 2→3`); None on a recovered change.
    change: str | None = field(metadata=Read.TEXT)
    #: The change's kind (scale, resources, restart, rollback); None on a recovered change.
    kind: str | None = field(metadata=Read.TEXT)
    started_at: datetime | None = field(metadata=Read.MOMENT)
    completed_at: datetime | None = field(metadata=Read.MOMENT)
    pre_operation_state: Mapping[str, Any] = field(metadata=Read.OBJECT)
    post_operation_state: Mapping[str, Any] = field(metadata=Read.OBJECT)
    output: str | None = field(metadata=Read.TEXT)
    verification_due: datetime | None = field(metadata=Read.MOMENT)
    #: The replicas the change aimed at: the request's target, or the replicas after it
    #: when the request names no target at all (a recovered change's may name none).
    target_replicas: int | None = field(metadata=read_as(_aimed_at))
    #: The metrics before the change, that verification compares with.
    baseline: Mapping[str, Any] = field(metadata=Read.OBJECT)
    expected: Mapping[str, Any] = field(metadata=Read.OBJECT)
    #: For a rollback: which attempt it was.
    attempt: int | None = field(metadata=Read.WHOLE)
    #: The approval that authorized the change, as recorded.
    authorized_by: Mapping[str, Any] | None = field(metadata=Read.OPTIONAL_OBJECT)
    #: The manifest commit, for a change made through git (coexistence: write_back).
    write_back: Mapping[str, Any] | None = field(metadata=Read.OPTIONAL_OBJECT)
    #: A recovered change: what its stamp said, and where it was found.
    summary: str | None = field(metadata=Read.TEXT)
    recovered_from: str | None = field(metadata=Read.TEXT)
    stored: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, kw_only=True, eq=False)
class FailureBody(Body):
    """A change that failed (`operation_failed`, `rollback_failed`): what was asked, the
    error, and the hint that goes with it."""

    request: RequestBody = field(metadata=Read.REQUEST)
    change: str | None = field(metadata=Read.TEXT)
    error: str | None = field(metadata=Read.TEXT)
    hint: str | None = field(metadata=Read.TEXT)
    stored: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)
