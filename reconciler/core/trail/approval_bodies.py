"""The typed details of approval records: a proposal asked for, updated, and what became of
it (granted, refused, rejected, expired, superseded).

Every approval record carries the proposal as the reconciler recorded it (`metadata`, which
a grant must match exactly, so it is kept as stored) and where the proposal lives on the
forge; the records of a merge or a close add what the forge said about it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reconciler.core.trail.body_fields import Body, Fields, RequestBody, texts

__all__ = ["ApprovalBody"]


@dataclass(frozen=True, kw_only=True, eq=False)
class ApprovalBody(Body):
    """One approval record's details (`approval_*`)."""

    #: The proposal's topic: one open proposal per key and service.
    key: str | None
    #: The proposal as proposed (approval id, kind, operation, target, files and digests...).
    metadata: Mapping[str, Any]
    branch: str | None
    number: int | None
    url: str | None
    head: str | None
    #: How people name the proposal (`#12`, or its branch), on a merge, close or refusal.
    reference: str | None
    merged_by: str | None
    merged_at: datetime | None
    merge_commit: str | None
    latency: float | None
    #: A blueprint edit's merge: the digest and path of the blueprint it produced.
    merged_blueprint_digest: str | None
    #: Whether the record names the merged digest at all (a refusal that could not read the
    #: merged file names it as null).
    names_merged_digest: bool
    blueprint_path: str | None
    #: Files the merge changed beside the proposed ones (None when that was not known).
    beyond_proposal: tuple[str, ...] | None
    #: Whether the run that judged the merge had loaded the merged blueprint.
    loaded_blueprint_is_merged: bool | None
    reasons: tuple[str, ...]
    refusal: str | None
    closed_by: str | None
    #: A person pushed to the proposal's branch: the reconciler no longer rewrites it.
    hands_off: bool
    #: A request recorded as pending where there is no forge to propose it on: what was
    #: asked, and who may approve it.
    request: RequestBody
    approvers: tuple[str, ...]
    stored: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    @property
    def approval_id(self) -> str | None:
        value = self.metadata.get("approval_id")
        return value if isinstance(value, str) and value else None

    @property
    def shown_reference(self) -> str | None:
        """The reference recorded, else `#<number>`, else the branch."""
        return self.reference or (f"#{self.number}" if self.number else None) or self.branch

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ApprovalBody:
        fields = Fields(raw, "details")
        return cls(
            key=fields.optional_text("key") or None,
            metadata=fields.mapping("metadata"),
            branch=fields.optional_text("branch"),
            number=fields.whole("number"),
            url=fields.optional_text("url"),
            head=fields.optional_text("head"),
            reference=fields.optional_text("reference"),
            merged_by=fields.optional_text("merged_by"),
            merged_at=fields.moment("merged_at"),
            merge_commit=fields.optional_text("merge_commit"),
            latency=fields.number("approval_latency_seconds"),
            merged_blueprint_digest=fields.optional_text("merged_blueprint_digest"),
            names_merged_digest="merged_blueprint_digest" in raw,
            blueprint_path=fields.optional_text("blueprint_path"),
            beyond_proposal=fields.optional_texts("beyond_proposal"),
            loaded_blueprint_is_merged=fields.optional_flag("loaded_blueprint_is_merged"),
            reasons=texts(fields, "reasons"),
            refusal=fields.optional_text("refusal"),
            closed_by=fields.optional_text("closed_by"),
            hands_off=fields.flag("hands_off"),
            request=RequestBody.from_json(raw.get("request")),
            approvers=texts(fields, "approvers"),
            stored=raw,
        )
