"""The typed details of the records around a change: the request a person made, a deferred
request that expired, a change made through git rolled out, an escalation to a person, and the
circuit breaker opened or reset.

Like every body, each is read tolerantly from the JSON its record stores and keeps that JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reconciler.core.trail.body_fields import Body, Fields, RequestBody, objects

__all__ = [
    "BreakerBody",
    "EscalationBody",
    "ExpiredRequestBody",
    "RequestedBody",
    "RolledOutBody",
]


@dataclass(frozen=True, kw_only=True, eq=False)
class RequestedBody(Body):
    """An operation asked for (`operation_requested`): the details are the request itself."""

    asked: RequestBody
    stored: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> RequestedBody:
        return cls(asked=RequestBody.from_json(raw), stored=raw)


@dataclass(frozen=True, kw_only=True, eq=False)
class ExpiredRequestBody(Body):
    """A deferred request that was not carried out (`request_expired`): the request as the
    deferral stored it, when it was deferred, and why it no longer holds."""

    request: RequestBody
    deferred_at: datetime | None
    why: str | None
    stored: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ExpiredRequestBody:
        fields = Fields(raw, "details")
        return cls(
            request=RequestBody.from_json(raw.get("request")),
            deferred_at=fields.moment("deferred_at"),
            why=fields.optional_text("why"),
            stored=raw,
        )


@dataclass(frozen=True, kw_only=True, eq=False)
class RolledOutBody(Body):
    """A change made through git is running in the cluster (`rolled_out`)."""

    commit: str | None
    #: Whether every pod was ready (else it was verified at its sync deadline all the same).
    all_ready: bool | None
    stored: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> RolledOutBody:
        fields = Fields(raw, "details")
        return cls(
            commit=fields.optional_text("commit"),
            all_ready=fields.optional_flag("all_ready"),
            stored=raw,
        )


@dataclass(frozen=True, kw_only=True, eq=False)
class EscalationBody(Body):
    """A person must decide (`escalated`): a rollback that failed every attempt (`attempts`,
    and the state it tried to return to), or a commit the GitOps tool did not apply by its
    deadline (`reason` not_synced, the commit and the deadline)."""

    attempts: int | None
    pre_operation_state: Mapping[str, Any]
    reason: str | None
    commit: str | None
    sync_deadline: datetime | None
    stored: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> EscalationBody:
        fields = Fields(raw, "details")
        return cls(
            attempts=fields.whole("attempts"),
            pre_operation_state=fields.mapping("pre_operation_state"),
            reason=fields.optional_text("reason"),
            commit=fields.optional_text("commit"),
            sync_deadline=fields.moment("sync_deadline"),
            stored=raw,
        )


@dataclass(frozen=True, kw_only=True, eq=False)
class BreakerBody(Body):
    """The circuit breaker opened (the failures that opened it, and its settings) or was
    reset (by whom, and why)."""

    #: Each failure that counted: when, its record, and why.
    failures: tuple[Mapping[str, Any], ...]
    failure_threshold: int | None
    failure_window_seconds: float | None
    manual_reset_required: bool | None
    reset_by: str | None
    reason: str | None
    stored: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> BreakerBody:
        fields = Fields(raw, "details")
        return cls(
            failures=objects(fields, "failures"),
            failure_threshold=fields.whole("failure_threshold"),
            failure_window_seconds=fields.number("failure_window_seconds"),
            manual_reset_required=fields.optional_flag("manual_reset_required"),
            reset_by=fields.optional_text("reset_by"),
            reason=fields.optional_text("reason"),
            stored=raw,
        )
