"""The typed details of the records around a change: the request a person made, a deferred
request that expired, a change made through git rolled out, an escalation to a person, and the
circuit breaker opened or reset.

Like every body, each is read tolerantly from the JSON its record stores, each field as it
declares (`read_as`), and keeps that JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reconciler.core.trail.body_fields import Body, Read
from reconciler.core.trail.request_body import RequestBody

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

    request: RequestBody = field(metadata=Read.REQUEST)
    deferred_at: datetime | None = field(metadata=Read.MOMENT)
    why: str | None = field(metadata=Read.TEXT)
    stored: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, kw_only=True, eq=False)
class RolledOutBody(Body):
    """A change made through git is running in the cluster (`rolled_out`)."""

    commit: str | None = field(metadata=Read.TEXT)
    #: Whether every pod was ready (else it was verified at its sync deadline all the same).
    all_ready: bool | None = field(metadata=Read.OPTIONAL_FLAG)
    stored: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, kw_only=True, eq=False)
class EscalationBody(Body):
    """A person must decide (`escalated`): a rollback that failed every attempt (`attempts`,
    and the state it tried to return to), or a commit the GitOps tool did not apply by its
    deadline (`reason` not_synced, the commit and the deadline)."""

    attempts: int | None = field(metadata=Read.WHOLE)
    pre_operation_state: Mapping[str, Any] = field(metadata=Read.OBJECT)
    reason: str | None = field(metadata=Read.TEXT)
    commit: str | None = field(metadata=Read.TEXT)
    sync_deadline: datetime | None = field(metadata=Read.MOMENT)
    stored: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, kw_only=True, eq=False)
class BreakerBody(Body):
    """The circuit breaker opened (the failures that opened it, and its settings) or was
    reset (by whom, and why)."""

    #: Each failure that counted: when, its record, and why.
    failures: tuple[Mapping[str, Any], ...] = field(metadata=Read.OBJECTS)
    failure_threshold: int | None = field(metadata=Read.WHOLE)
    failure_window_seconds: float | None = field(metadata=Read.NUMBER)
    manual_reset_required: bool | None = field(metadata=Read.OPTIONAL_FLAG)
    reset_by: str | None = field(metadata=Read.TEXT)
    reason: str | None = field(metadata=Read.TEXT)
    stored: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)
