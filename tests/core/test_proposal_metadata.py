"""A proposal's metadata read by its one tolerant reader: typed attributes, defaults for what
is missing or of the wrong type, and the stored JSON kept as it was, byte for byte."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from reconciler.core.approvals.proposals import Proposal, ProposalState, render_metadata
from reconciler.core.trail.proposal_metadata import ProposalMetadata, parse_metadata

WRITTEN = {
    "version": 1,
    "key": "web/scale",
    "service": "web",
    "kind": "request",
    "approval_id": "apr-1",
    "operation": "scale_beyond_limits",
    "origin": "decision",
    "current_replicas": 10,
    "target_replicas": 12,
    "decision_id": "dec-1",
    "revision": 3,
    "parameters": {"cpu_request_before": "250m"},
    "blueprint_version": "1.2.0",
    "blueprint_digest": "sha256:abc",
    "files": ["blueprints/web.yaml"],
    "digests": {"blueprints/web.yaml": "sha256:def"},
    "fields": {"spec.scaling.max_replicas": 12},
    "approvers": ["alice", "org/sre"],
    "forbidden": ["delete_deployment"],
    "weighted_utilization": 0.93,
    "created_at": "2026-02-10T15:30:00Z",
    "expires_at": "2026-02-11T15:30:00Z",
    "write_back": ["deploy/web.yaml"],
}


def test_every_field_reads_as_its_type() -> None:
    meta = ProposalMetadata.from_json(WRITTEN)
    assert (meta.kind, meta.approval_id, meta.operation) == (
        "request",
        "apr-1",
        "scale_beyond_limits",
    )
    assert (meta.current_replicas, meta.target_replicas, meta.revision) == (10, 12, 3)
    assert meta.files == ("blueprints/web.yaml",)
    assert meta.approvers == ("alice", "org/sre")
    assert meta.forbidden == ("delete_deployment",)
    assert meta.fields == {"spec.scaling.max_replicas": 12}
    assert meta.write_back == ("deploy/web.yaml",)
    assert meta.weighted_utilization == pytest.approx(0.93)
    assert meta.created == datetime(2026, 2, 10, 15, 30, tzinfo=UTC)
    assert meta.expires == datetime(2026, 2, 11, 15, 30, tzinfo=UTC)


def test_it_is_the_stored_json_as_a_mapping_and_renders_the_same_bytes() -> None:
    body = f"Why.\n\n{render_metadata(WRITTEN)}\n"
    meta = parse_metadata(body)
    assert dict(meta) == WRITTEN
    assert meta.get("target_replicas") == 12
    assert render_metadata(meta) == render_metadata(WRITTEN)
    assert json.loads(render_metadata(meta).split(" ", 2)[2].removesuffix(" -->")) == WRITTEN


@pytest.mark.parametrize(
    ("field", "stored", "attribute", "default"),
    [
        ("target_replicas", "12", "target_replicas", None),
        ("target_replicas", True, "target_replicas", None),
        ("approvers", "alice", "approvers", ()),
        ("approvers", ["alice", 3], "approvers", ()),
        ("digests", ["a"], "digests", {}),
        ("kind", 7, "kind", ""),
        ("weighted_utilization", "high", "weighted_utilization", None),
        ("created_at", "yesterday", "created", None),
        ("write_back", "deploy/web.yaml", "write_back", None),
    ],
)
def test_a_field_of_the_wrong_type_reads_as_its_default(
    field: str, stored: object, attribute: str, default: object
) -> None:
    """Anyone who can edit a pull request's body can write anything into it."""
    meta = ProposalMetadata.from_json({**WRITTEN, field: stored})
    assert getattr(meta, attribute) == default
    assert meta[field] == stored  # kept as stored, to be written back as it was


def test_missing_fields_read_as_absent_not_empty() -> None:
    """An older proposal has no `fields`: None (read its target instead), not {} (none)."""
    meta = ProposalMetadata.from_json({"kind": "blueprint", "target_replicas": 6})
    assert meta.fields is None
    assert meta.write_back is None
    assert (meta.files, meta.approvers, meta.created) == ((), (), None)


@pytest.mark.parametrize(
    "body",
    [
        "",
        "no block at all",
        "<!-- reconciler:proposal {not json} -->",
        '<!-- reconciler:proposal ["a list"] -->',
    ],
)
def test_a_body_without_readable_metadata_reads_as_empty(body: str) -> None:
    meta = parse_metadata(body)
    assert dict(meta) == {}
    assert (meta.key, meta.target_replicas, meta.files) == ("", None, ())


def test_a_proposal_reads_its_metadata_from_its_body() -> None:
    proposal = Proposal(
        key="web/scale",
        branch="reconciler/web/scale",
        state=ProposalState.OPEN,
        head="abc",
        body=f"Why.\n\n{render_metadata(WRITTEN)}\n",
    )
    assert proposal.metadata.approval_id == "apr-1"
    assert proposal.metadata == ProposalMetadata.from_json(WRITTEN)
