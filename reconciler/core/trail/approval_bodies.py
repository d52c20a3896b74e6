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

from reconciler.core.trail.body_fields import Body, Fields, Read, read_as
from reconciler.core.trail.proposal_metadata import ProposalMetadata
from reconciler.core.trail.request_body import RequestBody

__all__ = ["ApprovalBody"]


def _named(fields: Fields, name: str) -> str | None:
    return fields.optional_text(name) or None


def _metadata(fields: Fields, name: str) -> ProposalMetadata:
    return ProposalMetadata.from_json(fields.mapping(name))


def _named_at(fields: Fields, name: str) -> bool:
    return name in fields.raw


@dataclass(frozen=True, kw_only=True, eq=False)
class ApprovalBody(Body):
    """One approval record's details (`approval_*`)."""

    #: The proposal's topic: one open proposal per key and service ("" reads as None).
    key: str | None = field(metadata=read_as(_named))
    #: The proposal as proposed (approval id, kind, operation, target, files and digests...).
    metadata: ProposalMetadata = field(metadata=read_as(_metadata))
    branch: str | None = field(metadata=Read.TEXT)
    number: int | None = field(metadata=Read.WHOLE)
    url: str | None = field(metadata=Read.TEXT)
    head: str | None = field(metadata=Read.TEXT)
    #: How people name the proposal (`#12`, or its branch), on a merge, close or refusal.
    reference: str | None = field(metadata=Read.TEXT)
    merged_by: str | None = field(metadata=Read.TEXT)
    merged_at: datetime | None = field(metadata=Read.MOMENT)
    merge_commit: str | None = field(metadata=Read.TEXT)
    latency: float | None = field(metadata=read_as(Fields.number, "approval_latency_seconds"))
    #: A blueprint edit's merge: the digest and path of the blueprint it produced.
    merged_blueprint_digest: str | None = field(metadata=Read.TEXT)
    #: Whether the record names the merged digest at all (a refusal that could not read the
    #: merged file names it as null).
    names_merged_digest: bool = field(metadata=read_as(_named_at, "merged_blueprint_digest"))
    blueprint_path: str | None = field(metadata=Read.TEXT)
    #: Files the merge changed beside the proposed ones (None when that was not known).
    beyond_proposal: tuple[str, ...] | None = field(metadata=read_as(Fields.optional_texts))
    #: Whether the run that judged the merge had loaded the merged blueprint.
    loaded_blueprint_is_merged: bool | None = field(metadata=Read.OPTIONAL_FLAG)
    reasons: tuple[str, ...] = field(metadata=Read.TEXTS)
    refusal: str | None = field(metadata=Read.TEXT)
    closed_by: str | None = field(metadata=Read.TEXT)
    #: A person pushed to the proposal's branch: the reconciler no longer rewrites it.
    hands_off: bool = field(metadata=Read.FLAG)
    #: A request recorded as pending where there is no forge to propose it on: what was
    #: asked, and who may approve it.
    request: RequestBody = field(metadata=Read.REQUEST)
    approvers: tuple[str, ...] = field(metadata=Read.TEXTS)
    stored: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    @property
    def approval_id(self) -> str | None:
        return self.metadata.approval_id or None

    @property
    def shown_reference(self) -> str | None:
        """The reference recorded, else `#<number>`, else the branch."""
        return self.reference or (f"#{self.number}" if self.number else None) or self.branch
