"""The operation a record is about, as asked (`details.request`), which approval and follow-up
bodies and the notices read. Apart from `body_fields.py`, which the proposals' metadata needs
on every cycle, so that a run that reads no such record never builds this dataclass."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.core.trail.body_fields import Fields
from reconciler.core.trail.records import RecordError

__all__ = ["RequestBody"]


@dataclass(frozen=True, kw_only=True)
class RequestBody:
    """The operation a record is about, as asked (`details.request`): who asked, for what
    change, from what size. Origin is kept as stored (governance names the origins)."""

    operation: str = ""
    origin: str = ""
    current_replicas: int | None = None
    target_replicas: int | None = None
    change_percent: float | None = None
    reason: str = ""
    requested_by: str = ""
    reverts: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    #: The JSON the request was read from, written back as it was where a record repeats it.
    stored: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    def describe(self) -> str:
        """`scale 2→3` for a scale, else "" (the caller names the operation)."""
        if self.current_replicas is not None and self.target_replicas is not None:
            return f"scale {self.current_replicas}→{self.target_replicas}"
        return ""

    def to_json(self) -> dict[str, Any]:
        """The request as it was stored (a request this run made is written by
        `core/planning/events.request_json`)."""
        return dict(self.stored or {})

    @classmethod
    def from_json(cls, raw: object) -> RequestBody:
        if raw is None:
            return cls()
        fields = Fields(raw, "details.request")
        parameters = fields.raw.get("parameters") or {}
        if not isinstance(parameters, Mapping):
            raise RecordError("field 'details.request.parameters' must be an object")
        return cls(
            operation=fields.text("operation", ""),
            origin=fields.text("origin", ""),
            current_replicas=fields.whole("current_replicas"),
            target_replicas=fields.whole("target_replicas"),
            change_percent=fields.number("change_percent"),
            reason=fields.text("reason", ""),
            requested_by=fields.text("requested_by", ""),
            reverts=fields.optional_text("reverts"),
            parameters=dict(parameters),
            stored=fields.raw,
        )
