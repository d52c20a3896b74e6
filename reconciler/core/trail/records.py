"""Audit records: one envelope for every event and its file name (its commit message is
made in `commits.py`).

Every event that changes something, or refuses to, becomes one JSON file under `audit/` and is
committed to git. The envelope carries the seed's fields (timestamp, event_type, service,
blueprint_version, operation, classification, rationale, outcome, duration) plus `links`, the
ids that chain a decision to its verdict, its operation, its verification and any rollback, so
`reconciler explain` can follow the chain and `git log` can be searched by trailer.

File layout: `audit/<service>/<YYYY-MM-DD>/<HHMMSS>-<event_type>-<id>.json`. Each record is a
new file with a unique name, so two writers never touch the same path and their commits
always rebase cleanly; a cycle that needs the last day of one service's history reads one or
two directories.

Reading is as careful as writing: `read_record` is the one function that turns stored bytes
into a `Record`, and it refuses (with `RecordError`, one line naming what is wrong) anything
that is not exactly a record written here, so a stray or corrupted file is skipped and named
instead of crashing a reader or being half-believed. Commit messages are free of control
characters and free text cannot start a line of its own, so `git log` shows what happened
and a trailer can only be one the reconciler wrote.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from reconciler.core.blueprint.model import Blueprint, Provenance
from reconciler.core.ids import parse_utc, utc
from reconciler.core.problems import Problem, Severity
from reconciler.core.trail.lines import clean_line

__all__ = [
    "AUDIT_DIR",
    "MAX_RECORD_BYTES",
    "EventType",
    "Outcome",
    "Provenance",
    "Record",
    "RecordError",
    "UnreadableRecord",
    "clean_line",
    "read_record",
    "record_path",
    "record_under",
    "restored",
    "with_details_later",
]

AUDIT_DIR = "audit"

#: No record the reconciler writes comes near this; a larger file under audit/ is not one, and
#: is refused before it is read into memory.
MAX_RECORD_BYTES = 1024 * 1024


class EventType(StrEnum):
    """The closed set of events. Their order here is their order within one instant: a cycle
    first records what it found (a recovered change, due verifications), then decides,
    governs and acts, and last what followed (approvals, escalations, the breaker)."""

    OPERATION_RECOVERED = "operation_recovered"
    #: A change made through git (coexistence: write_back) is running in the cluster now.
    ROLLED_OUT = "rolled_out"
    VERIFICATION_PASSED = "verification_passed"
    VERIFICATION_FAILED = "verification_failed"
    VERIFICATION_SKIPPED = "verification_skipped"
    ROLLBACK_VERIFIED = "rollback_verified"
    ROLLBACK_VERIFICATION_FAILED = "rollback_verification_failed"
    SERVICE_PAUSED = "service_paused"
    SERVICE_RESUMED = "service_resumed"
    DECISION_MADE = "decision_made"
    OPERATION_REQUESTED = "operation_requested"
    GOVERNANCE_CHECKED = "governance_checked"
    #: Observe mode: what the verdict would have led to; nothing was changed or proposed.
    OPERATION_OBSERVED = "operation_observed"
    OPERATION_EXECUTED = "operation_executed"
    OPERATION_FAILED = "operation_failed"
    OPERATION_BLOCKED = "operation_blocked"
    OPERATION_DEFERRED = "operation_deferred"
    REQUEST_EXPIRED = "request_expired"
    ROLLBACK_EXECUTED = "rollback_executed"
    ROLLBACK_FAILED = "rollback_failed"
    APPROVAL_REQUESTED = "approval_requested"
    APPROVAL_UPDATED = "approval_updated"
    APPROVAL_GRANTED = "approval_granted"
    APPROVAL_REJECTED = "approval_rejected"
    APPROVAL_EXPIRED = "approval_expired"
    APPROVAL_SUPERSEDED = "approval_superseded"
    APPROVAL_REFUSED = "approval_refused"
    ESCALATED = "escalated"
    BREAKER_OPENED = "breaker_opened"
    BREAKER_RESET = "breaker_reset"
    BREAKER_HALF_OPENED = "breaker_half_opened"


_EVENT_ORDER = {event: index for index, event in enumerate(EventType)}


class Outcome(StrEnum):
    DECIDED = "decided"
    EXECUTE = "execute"
    REQUEST_APPROVAL = "request_approval"
    BLOCK = "block"
    DEFER = "defer"
    SUCCESS = "success"
    FAILURE = "failure"
    BLOCKED = "blocked"
    DEFERRED = "deferred"
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"
    REFUSED = "refused"
    PASSED = "passed"
    PARTIAL = "partial"
    FAILED = "failed"
    SKIPPED = "skipped"
    OPENED = "opened"
    RESET = "reset"
    RECOVERED = "recovered"
    PAUSED = "paused"
    RESUMED = "resumed"


@dataclass(frozen=True, kw_only=True)
class Record:
    """One audit event. `details` holds the event's own body (decision, verdict, checks...)."""

    id: str
    timestamp: datetime
    event_type: EventType
    service: str
    blueprint_version: str
    outcome: Outcome
    provenance: Provenance = field(default_factory=Provenance)
    rationale: str
    operation: str | None = None
    classification: str | None = None
    duration_seconds: float | None = None
    links: Mapping[str, str] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)
    agent: str = "reconciler"
    #: The cluster the record was made on: `simulated`, or the identity of a real cluster
    #: (core/trail/clusters.py). None only in records written before records named it.
    cluster: str | None = None

    def sort_key(self) -> tuple[datetime, int, str]:
        return (self.timestamp, _EVENT_ORDER[self.event_type], self.id)

    if not TYPE_CHECKING:  # seen by no type checker: no other attribute may be looked up

        def __getattr__(self, name: str) -> Any:
            """`details` of a record made by `with_details_later`, built when first read."""
            if name == "details":
                build = self.__dict__.pop(_DETAILS_LATER, None)
                if build is not None:
                    details = build()
                    object.__setattr__(self, "details", details)
                    return details
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def linked_ids(self) -> set[str]:
        return {self.id, *self.links.values()}

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "timestamp": utc(self.timestamp).isoformat().replace("+00:00", "Z"),
            "event_type": str(self.event_type),
            "agent_id": self.agent,
            "cluster": self.cluster,
            "service": self.service,
            "blueprint_version": self.blueprint_version,
            "blueprint_commit": self.provenance.commit or None,
            "blueprint_blobs": dict(self.provenance.blobs),
            "operation": self.operation,
            "classification": self.classification,
            "outcome": str(self.outcome),
            "rationale": self.rationale,
            "duration_seconds": self.duration_seconds,
            "links": dict(self.links),
            "details": dict(self.details),
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=False, default=_default) + "\n"

    @classmethod
    def from_json(cls, data: object) -> Record:
        """A record from its JSON form; RecordError naming the first field that is missing or
        of the wrong type. Fields added to the envelope later are optional, so older records
        still read."""
        if not isinstance(data, Mapping):
            raise RecordError(f"a JSON {_json_kind(data)}, not a record (a JSON object)")
        fields = _Fields(data)
        event_type = fields.choice("event_type", EventType)
        return cls(
            id=fields.text("id"),
            timestamp=fields.moment("timestamp"),
            event_type=event_type,
            agent=fields.text("agent_id", default="reconciler"),
            cluster=fields.optional_text("cluster") or None,
            service=fields.text("service"),
            blueprint_version=fields.text("blueprint_version", default="", empty=True),
            provenance=Provenance(
                commit=fields.optional_text("blueprint_commit") or "",
                blobs=fields.text_map("blueprint_blobs"),
            ),
            operation=fields.optional_text("operation"),
            classification=fields.optional_text("classification"),
            outcome=fields.choice("outcome", Outcome),
            rationale=fields.text("rationale", default="", empty=True),
            duration_seconds=fields.number("duration_seconds"),
            links=fields.text_map("links"),
            details=_read_details(event_type, data.get("details")),
        )


def record_under(
    blueprint: Blueprint,
    event: EventType,
    outcome: Outcome,
    *,
    record_id: str,
    at: datetime,
    rationale: str,
    service: str | None = None,
    operation: str | None = None,
    classification: str | None = None,
    duration_seconds: float | None = None,
    links: Mapping[str, str] | None = None,
    details: Mapping[str, Any] | None = None,
) -> Record:
    """A record a run makes under `blueprint`: its version and provenance (what the record was
    judged under), and its name as the service unless another is given."""
    return Record(
        id=record_id,
        timestamp=at,
        event_type=event,
        service=blueprint.name if service is None else service,
        blueprint_version=blueprint.version,
        provenance=blueprint.provenance,
        outcome=outcome,
        rationale=rationale,
        operation=operation,
        classification=classification,
        duration_seconds=duration_seconds,
        links=links if links is not None else {},
        details=details if details is not None else {},
    )


_DETAILS_LATER = "_details_later"


def with_details_later(record: Record, build: Callable[[], Mapping[str, Any]]) -> Record:
    """`record` with its details left to `build`, called the first time they are read.

    A reader that keeps records between runs (adapters/trail_cache) builds thousands a cycle,
    and most are only counted, ordered and linked (cooldowns, rate limits, the breaker):
    building their typed bodies was most of the time spent reading them. The record is
    otherwise the same: equal to the one with its details, and the same to every reader,
    which gets the details as soon as it reads them. `build` must give the details the
    record was read with, every time."""
    del record.__dict__["details"]
    record.__dict__[_DETAILS_LATER] = build
    return record


def restored(
    fields: dict[str, Any], details_later: Callable[[], Mapping[str, Any]] | None = None
) -> Record:
    """A record rebuilt from the fields of one this code made and kept (adapters/trail_rows),
    its details left to `details_later` when given (as `with_details_later`).

    The fields go straight into the record: a cycle over a thousand services rebuilds ten
    thousand records, and the frozen dataclass's `__init__` (a guarded attribute write per
    field) was most of that. `fields` must name every field but `details` when it is left to
    `details_later`, with the values `Record(...)` would keep; ValueError otherwise."""
    if fields.keys() != (_LATER_FIELDS if details_later is not None else _FIELDS):
        raise ValueError(f"a record's fields are {sorted(_FIELDS)}, not {sorted(fields)}")
    record = object.__new__(Record)
    record.__dict__.update(fields)
    if details_later is not None:
        record.__dict__[_DETAILS_LATER] = details_later
    return record


_FIELDS = frozenset(Record.__dataclass_fields__)
_LATER_FIELDS = _FIELDS - {"details"}


class RecordError(ValueError):
    """Why some stored bytes are not an audit record: one line, for a warning naming the file."""


_Choice = TypeVar("_Choice", bound=StrEnum)


class _Fields:
    """Typed access to the envelope's fields, each failure a RecordError naming the field."""

    _MISSING = object()

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data

    def _get(self, name: str, default: object) -> object:
        value = self.data.get(name, self._MISSING)
        if value is self._MISSING or value is None:
            if default is self._MISSING:
                raise RecordError(f"no {name!r} field")
            return default
        return value

    def _wrong(self, name: str, wanted: str, value: object) -> RecordError:
        shown = json.dumps(value, default=str)
        shown = shown if len(shown) <= 40 else shown[:39] + "…"
        return RecordError(f"field {name!r} must be {wanted}, got {shown}")

    def text(self, name: str, default: object = _MISSING, *, empty: bool = False) -> str:
        value = self._get(name, default)
        if not isinstance(value, str) or (not value and not empty):
            raise self._wrong(name, "a non-empty string" if not empty else "a string", value)
        return value

    def optional_text(self, name: str) -> str | None:
        value = self._get(name, None)
        if value is not None and not isinstance(value, str):
            raise self._wrong(name, "a string or null", value)
        return value

    def choice(self, name: str, kind: type[_Choice]) -> _Choice:
        value = self._get(name, self._MISSING)
        known = _members(kind)
        if not isinstance(value, str) or value not in known:
            raise self._wrong(name, f"a known {name.replace('_', ' ')}", value)
        member: _Choice = known[value]
        return member

    def moment(self, name: str) -> datetime:
        value = self._get(name, self._MISSING)
        try:
            return parse_utc(value) if isinstance(value, str) else parse_utc(None)
        except ValueError:
            raise self._wrong(name, "a time with its zone (2026-02-10T15:30:00Z)", value) from None

    def number(self, name: str) -> float | None:
        value = self._get(name, None)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._wrong(name, "a number or null", value)
        if not math.isfinite(value):
            raise self._wrong(name, "a finite number", value)
        return float(value)

    def text_map(self, name: str) -> dict[str, str]:
        value = self._get(name, {})
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise self._wrong(name, "an object of strings", value)
        return dict(value)


@cache
def _members(kind: type[_Choice]) -> Mapping[str, _Choice]:
    """An enum's members by value: built once, as every record of the trail is read here."""
    return {str(member): member for member in kind}


def _json_kind(value: object) -> str:
    kinds = ((list, "array"), (str, "string"), (bool, "boolean"), (int | float, "number"))
    return next((name for kind, name in kinds if isinstance(value, kind)), "null")


def _read_details(event: EventType, raw: object) -> Mapping[str, Any]:
    """An event's details as its body type (core/trail/bodies.py), so that `read_record`, the
    one way into the trail, gives every reader the typed body at once."""
    from reconciler.core.trail.bodies import read_body  # the bodies build on this module

    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise RecordError(f"field 'details' must be an object, got a JSON {_json_kind(raw)}")
    return read_body(event, raw)


def read_record(path: str, data: bytes) -> Record:
    """The record stored at `path` (`audit/<service>/<day>/<name>.json`) as `data`.

    Every reader of the trail comes through here. Whatever is not exactly a record as
    `record_path` names it is refused with a RecordError saying why: bytes that are not UTF-8
    JSON (NaN and Infinity included), JSON that is not an object, a missing or mistyped field,
    or a file whose name or folder disagrees with the record inside (a record of one service
    filed under another would otherwise count toward the wrong cooldown).
    """
    if len(data) > MAX_RECORD_BYTES:
        raise RecordError(f"{len(data)} bytes, larger than any record ({MAX_RECORD_BYTES})")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RecordError(f"not UTF-8 text (a binary file?): byte {error.start}") from None
    if not text.strip():
        raise RecordError("the file is empty")
    try:
        parsed = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as error:
        raise RecordError(
            f"invalid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except RecursionError:
        raise RecordError("invalid JSON: nested too deeply") from None
    record = Record.from_json(parsed)
    parts = path.split("/")
    name = parse_record_name(parts[-1])
    if name is None:
        raise RecordError("the file name is not <HHMMSS>-<event_type>-<id>.json")
    if (name[1], name[2]) != (record.event_type, record.id):
        raise RecordError(
            f"the file name says {name[1]} {name[2]}, the record inside "
            f"{record.event_type} {record.id}"
        )
    if len(parts) >= 3 and parts[-3] != record.service:
        raise RecordError(f"filed under {parts[-3]!r} but the record is about {record.service!r}")
    return record


def _no_constant(name: str) -> object:
    raise RecordError(f"invalid JSON: {name} is not a number a record holds")


@dataclass(frozen=True, kw_only=True)
class UnreadableRecord:
    """A file under audit/ that is not a readable record, and why: readers skip it and say so,
    and a cycle does not act alone on a service whose records it could not read in full."""

    path: str
    reason: str

    @property
    def service(self) -> str:
        parts = self.path.split("/")
        return parts[1] if len(parts) > 2 and parts[0] == AUDIT_DIR else ""

    def problem(self) -> Problem:
        return Problem(
            file=self.path,
            path="",
            message=f"skipped, not a readable audit record: {self.reason}",
            hint=f"the reconciler never writes such a file: `git log -p -- {self.path}` "
            "shows the commit that did; revert that commit, or restore or remove the file in "
            "a reviewed commit",
            severity=Severity.WARNING,
            code="record.unreadable",
        )


def _default(value: object) -> object:
    if isinstance(value, datetime):
        return utc(value).isoformat().replace("+00:00", "Z")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"cannot record {type(value).__name__} in an audit record")


def record_path(record: Record) -> str:
    """Where a record lives, relative to the repository root."""
    return path_of(record.service, record.event_type, record.id, record.timestamp)


def path_of(service: str, event: EventType, record_id: str, timestamp: datetime) -> str:
    """Where the record of `service`, `event`, `record_id` and `timestamp` lives: known before
    the record is written (a proposal's body links its own request's record)."""
    moment = utc(timestamp)
    return f"{AUDIT_DIR}/{service}/{moment:%Y-%m-%d}/{moment:%H%M%S}-{event}-{record_id}.json"


_EVENTS_BY_NAME = {str(event): event for event in EventType}


def parse_record_name(name: str) -> tuple[str, EventType, str] | None:
    """`153000-decision_made-dec-....json` → ("153000", DECISION_MADE, "dec-..."), or None.

    Event names use underscores and never hyphens, so two splits take the name apart; this
    runs for every file a cycle lists, so it stays a split and a dictionary lookup.
    """
    if not name.endswith(".json"):
        return None
    parts = name[: -len(".json")].split("-", 2)
    if len(parts) != 3:
        return None
    event = _EVENTS_BY_NAME.get(parts[1])
    return None if event is None else (parts[0], event, parts[2])
