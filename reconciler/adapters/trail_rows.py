"""A record as the plain values the trail cache keeps (`pack`) and back (`unpack`): marshal
stores tuples of strings and numbers fast, so a record's fields are stored in a fixed order and
only its details are pickled, to be unpickled when something reads them."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from reconciler.adapters.local_state import dumps
from reconciler.core.blueprint.model import Provenance
from reconciler.core.trail.records import EventType, Outcome, Record, restored

__all__ = ["pack", "unpack"]


#: Record times are kept as microseconds since this moment (exact, and no parsing).
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_EVENTS = {str(event): event for event in EventType}
_OUTCOMES = {str(outcome): outcome for outcome in Outcome}


def pack(result: Record | str) -> tuple[Any, ...]:
    """What reading a file gave, as plain values `marshal` can store: ("u", reason) for a
    file that is not a record, ("r", ...) for a record's fields in order (its details pickled
    apart, or None when they are an empty plain dict), and ("p", pickled) for a record whose
    time is not UTC (none the reader makes), kept whole."""
    if isinstance(result, str):
        return ("u", result)
    if result.timestamp.tzinfo is not UTC:
        return ("p", dumps(result))
    details = result.details
    return (
        "r",
        result.id,
        (result.timestamp - _EPOCH) // _MICROSECOND,
        str(result.event_type),
        result.service,
        result.blueprint_version,
        str(result.outcome),
        result.provenance.commit,
        dict(result.provenance.blobs),
        result.rationale,
        result.operation,
        result.classification,
        result.duration_seconds,
        dict(result.links),
        None if type(details) is dict and not details else dumps(details),
        result.agent,
        result.cluster,
    )


#: The provenances rebuilt so far: a fleet's records name a few commits and blobs, and a
#: Provenance (frozen) is shared by every record that names the same ones.
_PROVENANCES: dict[tuple[str, tuple[tuple[str, str], ...]], Provenance] = {}


def _provenance(commit: str, blobs: dict[str, str]) -> Provenance:
    key = (commit, tuple(blobs.items()))
    found = _PROVENANCES.get(key)
    if found is None:
        if len(_PROVENANCES) >= 10_000:
            _PROVENANCES.clear()
        found = _PROVENANCES[key] = Provenance(commit=commit, blobs=blobs)
    return found


def _details(pickled: bytes) -> Any:
    return pickle.loads(pickled)


def unpack(packed: Any) -> Record | str | None:
    """`pack`'s value back; None for anything else (a file of another layout, a person's)."""
    try:
        kind = packed[0]
        if kind == "u" and isinstance(packed[1], str):
            return str(packed[1])
        if kind == "p":
            found = pickle.loads(packed[1])
            return found if isinstance(found, Record) else None
        if kind != "r" or len(packed) != 17:
            return None
        (_, ident, micros, event, service, version, outcome, commit, blobs, rationale,
         operation, classification, duration, links, details, agent, cluster) = packed  # fmt: skip
        fields = {
            "id": ident,
            "timestamp": _EPOCH + micros * _MICROSECOND,
            "event_type": _EVENTS[event],
            "service": service,
            "blueprint_version": version,
            "outcome": _OUTCOMES[outcome],
            "provenance": _provenance(commit, blobs),
            "rationale": rationale,
            "operation": operation,
            "classification": classification,
            "duration_seconds": duration,
            "links": links,
            "agent": agent,
            "cluster": cluster,
        }
        if details is None:
            fields["details"] = {}
            return restored(fields)
        # Most records a cycle reads are never asked for their details.
        return restored(fields, partial(_details, details))
    except (LookupError, TypeError, ValueError, pickle.UnpicklingError, EOFError, AttributeError):
        return None
