"""What every typed record body shares: the `Body` base (a read-only mapping of the JSON it
stands for), `Fields` (tolerant typed access to a body's stored fields) and `body_of`, the
typed details of any record, read from the trail or made by this run.

A body says how each of its fields is read where it declares the field
(`field(metadata=read_as(Fields.whole))`), so one reader (`read_fields`) serves every body
and the name, the type and the reading of a field stand on one line.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from enum import StrEnum
from functools import cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Self, TypeVar

from reconciler.core.ids import parse_utc, utc
from reconciler.core.trail.records import Record, RecordError

if TYPE_CHECKING:
    from reconciler.core.trail.request_body import RequestBody

__all__ = [
    "Body",
    "Fields",
    "Read",
    "body_of",
    "objects",
    "read_as",
    "read_fields",
    "request_at",
    "texts",
]


class Body(Mapping[str, Any]):
    """A record's typed details; as a mapping, the JSON it is stored as."""

    #: The JSON the body was read from (None for a body made by this run).
    stored: Mapping[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Self:
        """The body stored as `raw`, each field read as it declares (`read_as`), keeping
        `raw`; RecordError naming a field of the wrong type."""
        values = read_fields(cls, Fields(raw, "details"))
        values["stored"] = raw
        return cls(**values)

    def _json(self) -> Mapping[str, Any]:
        return self.stored if self.stored is not None else self.to_json()

    def __getitem__(self, key: str) -> Any:
        return self._json()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._json())

    def __len__(self) -> int:
        return len(self._json())

    def __eq__(self, other: object) -> bool:
        """Two bodies are equal when their typed fields are; a body and plain details are
        equal when the JSON they stand for is (a record built by hand, read back)."""
        if isinstance(other, Body):
            return type(self) is type(other) and self._values() == other._values()
        if isinstance(other, Mapping):
            return dict(self._json()) == dict(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # unhashable, as the dict it stands for

    def _values(self) -> tuple[Any, ...]:
        """The typed fields (every body is a dataclass), without the stored JSON."""
        fields = dataclasses.fields(self)  # type: ignore[arg-type]
        return tuple(getattr(self, f.name) for f in fields if f.compare)


#: How a field is read: the reader and the field's name in the stored JSON.
Reader = Callable[["Fields", str], Any]
_READ = "reconciler.read"


def read_as(reader: Reader, key: str | None = None) -> Mapping[str, Any]:
    """The metadata of a body's field read by `reader` (a `Fields` method, or a function of
    the fields and a name) from `key`, the field's own name unless the JSON names it
    otherwise."""
    return MappingProxyType({_READ: (reader, key)})


@cache
def _plan(kind: type) -> tuple[tuple[str, Reader, str], ...]:
    """The fields of `kind` that say how they are read, in the order they are declared (which
    is the order their errors are found in)."""
    return tuple(
        (each.name, each.metadata[_READ][0], each.metadata[_READ][1] or each.name)
        for each in dataclasses.fields(kind)
        if _READ in each.metadata
    )


def read_fields(kind: type, fields: Fields) -> dict[str, Any]:
    """The keyword arguments of `kind` read from `fields`: every field that says how it is
    read (`read_as`), by name."""
    return {name: reader(fields, key) for name, reader, key in _plan(kind)}


def request_at(fields: Fields, name: str) -> RequestBody:
    """The request a record is about (`details.request`), empty where it names none."""
    from reconciler.core.trail.request_body import RequestBody  # the bodies that have one

    return RequestBody.from_json(fields.raw.get(name))


_Body = TypeVar("_Body", bound=Body)


def body_of(record: Record, kind: type[_Body]) -> _Body:
    """The details of `record` as the body type `kind`: as read from the trail, or parsed
    from the plain details of a record this run made (or a test built by hand)."""
    details = record.details
    return details if isinstance(details, kind) else kind.from_json(details)


def texts(fields: Fields, name: str) -> tuple[str, ...]:
    values = fields.raw.get(name) or []
    if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
        raise RecordError(f"field '{fields.where}.{name}' must be a list of strings")
    return tuple(values)


def objects(fields: Fields, name: str) -> tuple[Mapping[str, Any], ...]:
    values = fields.raw.get(name) or []
    if not isinstance(values, list | tuple) or not all(isinstance(v, Mapping) for v in values):
        raise RecordError(f"field '{fields.where}.{name}' must be a list of objects")
    return tuple(values)


_Choice = TypeVar("_Choice", bound=StrEnum)
_REQUIRED: Any = object()


class Fields:
    """Tolerant typed access to a body's fields: a missing or null field is its default, a
    field of the wrong type a RecordError naming it."""

    def __init__(self, raw: object, where: str) -> None:
        if not isinstance(raw, Mapping):
            raise RecordError(f"field {where!r} must be an object")
        self.raw, self.where = raw, where

    def _value(self, name: str, default: Any) -> Any:
        value = self.raw.get(name)
        if value is None:
            if default is _REQUIRED:
                raise RecordError(f"no field '{self.where}.{name}'")
            return default
        return value

    def _wrong(self, name: str, wanted: str) -> RecordError:
        return RecordError(f"field '{self.where}.{name}' must be {wanted}")

    def text(self, name: str, default: Any = _REQUIRED) -> str:
        value = self._value(name, default)
        if not isinstance(value, str):
            raise self._wrong(name, "a string")
        return value

    def optional_text(self, name: str) -> str | None:
        value = self._value(name, None)
        if value is not None and not isinstance(value, str):
            raise self._wrong(name, "a string or null")
        return value

    def choice(self, name: str, kind: type[_Choice], default: Any = _REQUIRED) -> _Choice:
        value = self._value(name, default)
        known = {str(member): member for member in kind}
        if isinstance(value, kind):
            return value
        if not isinstance(value, str) or value not in known:
            raise self._wrong(name, f"one of {', '.join(known)}")
        return known[value]

    def flag(self, name: str) -> bool:
        value = self._value(name, False)
        if not isinstance(value, bool):
            raise self._wrong(name, "true or false")
        return value

    def number(self, name: str) -> float | None:
        value = self._value(name, None)
        if value is None:
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise self._wrong(name, "a finite number")
        return float(value)

    def whole(self, name: str) -> int | None:
        value = self._value(name, None)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise self._wrong(name, "a whole number or null")
        return value

    def moment(self, name: str) -> datetime | None:
        value = self._value(name, None)
        if value is None:
            return None
        if isinstance(value, datetime):  # a body made by this run, not yet stored
            return utc(value)
        try:
            return parse_utc(value) if isinstance(value, str) else parse_utc(None)
        except ValueError:
            raise self._wrong(name, "a time with its zone (2026-02-10T15:30:00Z)") from None

    def mapping(self, name: str) -> Mapping[str, Any]:
        """An object field; a missing or null one is empty."""
        value = self._value(name, {})
        if not isinstance(value, Mapping):
            raise self._wrong(name, "an object")
        return value

    def optional_mapping(self, name: str) -> Mapping[str, Any] | None:
        """An object field, None when missing or null (where null says something)."""
        value = self._value(name, None)
        if value is not None and not isinstance(value, Mapping):
            raise self._wrong(name, "an object or null")
        return value

    def optional_flag(self, name: str) -> bool | None:
        value = self._value(name, None)
        if value is not None and not isinstance(value, bool):
            raise self._wrong(name, "true, false or null")
        return value

    def optional_texts(self, name: str) -> tuple[str, ...] | None:
        """A list of strings, None when missing or null (where null differs from empty)."""
        if self.raw.get(name) is None:
            return None
        return texts(self, name)


class Read:
    """The readings most fields use, by what the field holds (null, where it is allowed, is
    None): `field(metadata=Read.TEXT)`."""

    TEXT = read_as(Fields.optional_text)
    WHOLE = read_as(Fields.whole)
    NUMBER = read_as(Fields.number)
    FLAG = read_as(Fields.flag)
    OPTIONAL_FLAG = read_as(Fields.optional_flag)
    MOMENT = read_as(Fields.moment)
    OBJECT = read_as(Fields.mapping)
    OPTIONAL_OBJECT = read_as(Fields.optional_mapping)
    TEXTS = read_as(texts)
    OBJECTS = read_as(objects)
    REQUEST = read_as(request_at)
