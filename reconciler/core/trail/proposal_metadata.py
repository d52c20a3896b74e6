"""A proposal's metadata: what the reconciler proposed (approval id, kind, operation, target,
files and their digests, approvers, times), hidden as JSON in the proposal's body and kept in
every approval record, where each later judgement of a merge reads it.

One tolerant reader turns the JSON into `ProposalMetadata`: a missing field, or one of the
wrong type (anyone who can edit a pull request's body can write anything there), reads as its
default, never as an error. The metadata is also a read-only mapping of the JSON it was read
from, so it is written back and compared byte for byte as it was stored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from reconciler.core.trail.body_fields import Body, Fields, texts
from reconciler.core.trail.records import RecordError

__all__ = [
    "METADATA_MARKER",
    "ProposalMetadata",
    "hidden_block",
    "parse_metadata",
    "read_hidden",
    "render_metadata",
]

#: Opens the hidden machine-readable block in a proposal's body.
METADATA_MARKER = "reconciler:proposal"


def hidden_block(marker: str) -> re.Pattern[str]:
    """The hidden block opened by `marker`: an HTML comment holding one JSON object, which
    GitHub does not render, so what the reconciler wrote can be read back from a body."""
    return re.compile(r"<!--\s*" + re.escape(marker) + r"\s*(\{.*?\})\s*-->", re.S)


def read_hidden(block: re.Pattern[str], body: str) -> dict[str, Any]:
    """The object in a body's hidden `block`; {} when there is none, or it is not an object
    (a person may have edited the body)."""
    match = block.search(body or "")
    if not match:
        return {}
    try:
        data = json.loads(match.group(1))
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


_METADATA_RE = hidden_block(METADATA_MARKER)

_Value = TypeVar("_Value")


def _or(read: Callable[[], _Value], default: _Value) -> _Value:
    """A field as read, or its default when it has the wrong type."""
    try:
        return read()
    except RecordError:
        return default


@dataclass(frozen=True, kw_only=True, eq=False)
class ProposalMetadata(Body):
    """What a proposal proposed, as the reconciler wrote it (drafting._metadata)."""

    version: int | None = None
    #: The proposal's topic (`<service>/<topic>`): one open proposal per key.
    key: str = ""
    service: str = ""
    #: `request` (a one-off change) or `blueprint` (an edit of the blueprint).
    kind: str = ""
    approval_id: str = ""
    operation: str = ""
    origin: str = ""
    current_replicas: int | None = None
    target_replicas: int | None = None
    decision_id: str | None = None
    #: The deployment's revision when proposed.
    revision: int | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    blueprint_version: str = ""
    #: The digest of the blueprint file as loaded when proposed.
    blueprint_digest: str | None = None
    #: The proposed files, and the digest of each one's proposed content.
    files: tuple[str, ...] = ()
    digests: Mapping[str, Any] = field(default_factory=dict)
    #: The blueprint fields the edit changes, and to what (None in a proposal made before
    #: they were recorded).
    fields: Mapping[str, Any] | None = None
    approvers: tuple[str, ...] = ()
    #: The operations the policy forbade when proposed.
    forbidden: tuple[str, ...] = ()
    weighted_utilization: float | None = None
    #: As written (`2026-02-10T15:30:00Z`); `created` and `expires` read them as times.
    created_at: str | None = None
    expires_at: str | None = None
    #: The manifests the proposal edits (coexistence: write_back); None when it edits none.
    write_back: tuple[str, ...] | None = None
    stored: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    @property
    def created(self) -> datetime | None:
        return _moment(self.created_at)

    @property
    def expires(self) -> datetime | None:
        return _moment(self.expires_at)

    def to_json(self) -> dict[str, Any]:
        """The metadata as it was stored (the reconciler writes it from plain JSON)."""
        return dict(self.stored or {})

    @classmethod
    def from_json(cls, raw: object) -> ProposalMetadata:
        """The metadata stored as `raw`: anything but an object reads as empty metadata."""
        if not isinstance(raw, Mapping):
            return cls(stored={})
        f = Fields(raw, "metadata")
        return cls(
            version=_or(lambda: f.whole("version"), None),
            key=_or(lambda: f.text("key", ""), ""),
            service=_or(lambda: f.text("service", ""), ""),
            kind=_or(lambda: f.text("kind", ""), ""),
            approval_id=_or(lambda: f.text("approval_id", ""), ""),
            operation=_or(lambda: f.text("operation", ""), ""),
            origin=_or(lambda: f.text("origin", ""), ""),
            current_replicas=_or(lambda: f.whole("current_replicas"), None),
            target_replicas=_or(lambda: f.whole("target_replicas"), None),
            decision_id=_or(lambda: f.optional_text("decision_id"), None),
            revision=_or(lambda: f.whole("revision"), None),
            parameters=_or(lambda: f.mapping("parameters"), {}),
            blueprint_version=_or(lambda: f.text("blueprint_version", ""), ""),
            blueprint_digest=_or(lambda: f.optional_text("blueprint_digest"), None),
            files=_or(lambda: texts(f, "files"), ()),
            digests=_or(lambda: f.mapping("digests"), {}),
            fields=_or(lambda: f.optional_mapping("fields"), None),
            approvers=_or(lambda: texts(f, "approvers"), ()),
            forbidden=_or(lambda: texts(f, "forbidden"), ()),
            weighted_utilization=_or(lambda: f.number("weighted_utilization"), None),
            created_at=_or(lambda: f.optional_text("created_at"), None),
            expires_at=_or(lambda: f.optional_text("expires_at"), None),
            write_back=_or(lambda: f.optional_texts("write_back"), None),
            stored=raw,
        )


def _moment(value: str | None) -> datetime | None:
    """A time of the metadata, None when missing or unreadable (the caller falls back on
    the record's own timestamp)."""
    try:
        return Fields({"at": value}, "metadata").moment("at")
    except RecordError:
        return None


def render_metadata(data: Mapping[str, Any]) -> str:
    """The hidden block: an HTML comment GitHub does not render, holding JSON."""
    text = json.dumps(dict(data), sort_keys=True, separators=(",", ":"), default=str)
    return f"<!-- {METADATA_MARKER} {text} -->"


def parse_metadata(body: str) -> ProposalMetadata:
    """The metadata hidden in a proposal's body; empty when there is none or it is not
    JSON."""
    return ProposalMetadata.from_json(read_hidden(_METADATA_RE, body))
