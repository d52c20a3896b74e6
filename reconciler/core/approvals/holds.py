"""Holding a service while its blueprint is not an approved one: a merged blueprint edit not yet
judged, or one that was refused, is never acted on.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from reconciler.core.approvals.landings import landed_without_approval
from reconciler.core.approvals.lifecycle import Kind
from reconciler.core.approvals.pending import approval_of, pending_proposals, proposed_paths
from reconciler.core.blueprint.model import Blueprint
from reconciler.core.trail import lazy_bodies
from reconciler.core.trail.records import EventType, Record

__all__ = ["approval_hold", "proposal_reference"]


def approval_hold(
    blueprint: Blueprint, records: Sequence[Record], *, settled: Collection[str] = ()
) -> str:
    """Why the service must not be acted on now, or "".

    Two cases, both about a blueprint that no approval stands behind:

    - it is the one a refused blueprint edit merged (the refusal recorded its digest): held
      until it is reverted or changed again;
    - a blueprint edit is still waiting for its judgement in the trail and the blueprint is
      no longer the one that edit was proposed against: the edit may have been merged, and
      nobody has checked who merged it or what. Held until the merge is judged (or the
      proposal is found open, closed, or expired). `settled` are the keys of proposals this
      cycle found still open or concluded; a caller that did not ask the forge (the `request`
      command, a run without a forge or a dry run) passes none, and waits for a run to judge
      the merge.

    `records` are the service's approval records (`APPROVAL_EVENTS`), any age.
    """
    refused = _refused_blueprint(blueprint, records)
    if refused is not None:
        reference = lazy_bodies.body_of(refused, lazy_bodies.ApprovalBody).reference
        return (
            f"held: the blueprint is the one {reference} merged without "
            f"a valid approval ({refused.rationale.rstrip('.')}); revert it or change it "
            "through an approved proposal"
        )
    for ended in landed_without_approval(blueprint, records):
        reference = proposal_reference(ended)
        return (
            f"held: the blueprint is the file {reference} proposed, though {reference} ended "
            f"without approval ({ended.event_type}): it landed without approval; revert it or "
            "change it through an approved proposal"
        )
    for pending in pending_proposals(records):
        if pending.kind is not Kind.BLUEPRINT or pending.key in settled:
            continue
        if pending.metadata.blueprint_digest == blueprint.digest:
            continue  # the blueprint is still the one proposed against: nothing merged yet
        reference = (
            f"#{pending.number}" if pending.number is not None else pending.branch or pending.key
        )
        return (
            f"held: the blueprint changed since {reference} was proposed, and that proposal "
            "has not been judged yet, so the change may be its merge and nobody has checked "
            "who merged it or what; the next run that can reach the forge judges it"
        )
    return ""


def proposal_reference(record: Record) -> str:
    """How a proposal is named to people: its pull request's number, else its branch."""
    body = lazy_bodies.body_of(record, lazy_bodies.ApprovalBody)
    if body.number is not None:
        return f"#{body.number}"
    return body.reference or body.branch or body.key or ""


def _refused_blueprint(blueprint: Blueprint, records: Sequence[Record]) -> Record | None:
    """The refusal of a blueprint edit whose merge the loaded blueprint still is, unless a
    later approval stands behind this very blueprint.

    A refusal records the digest of the file its merge produced, and the blueprint is held
    while it is byte for byte that file. When the merge left no file at the proposed path
    (it deleted or moved it), that digest is unknown; what the merge produced is then "no
    blueprint at that path", and the service is held while its blueprint is loaded from
    anywhere else: until a file is back at that path (a revert, or a commit after the merge).

    A later grant of a blueprint edit whose merge produced the same bytes (the edit reverted,
    proposed again and merged by an approver) does approve this blueprint, and ends the
    hold. Only a grant the trail stands behind counts: a proposal of its own (an
    `approval_requested` record with its id before it) that was never refused; and never
    for a refusal whose merge brought in paths beside the proposed ones (or whose paths the
    forge could not tell), since those may have been records of this very trail."""
    ordered = sorted(records, key=Record.sort_key)
    for index in range(len(ordered) - 1, -1, -1):
        record = ordered[index]
        if record.event_type is not EventType.APPROVAL_REFUSED:
            continue
        body = lazy_bodies.body_of(record, lazy_bodies.ApprovalBody)
        if not body.names_merged_digest:
            continue
        merged = body.merged_blueprint_digest
        if merged is None:
            path = body.blueprint_path or next(iter(proposed_paths(body.metadata)), "")
            if not path or blueprint.source == path:
                continue
        elif merged != blueprint.digest:
            continue
        if body.beyond_proposal == () and _granted_later(ordered, index, blueprint.digest):
            continue
        return record
    return None


def _granted_later(ordered: Sequence[Record], index: int, wanted: str) -> bool:
    """Whether a grant after `ordered[index]` approved a blueprint edit whose merge produced
    the `wanted` digest, and the trail stands behind it (see `_refused_blueprint`)."""
    refused = {approval_of(r) for r in ordered if r.event_type is EventType.APPROVAL_REFUSED}
    for position in range(index + 1, len(ordered)):
        grant = ordered[position]
        if (
            grant.event_type is not EventType.APPROVAL_GRANTED
            or lazy_bodies.body_of(grant, lazy_bodies.ApprovalBody).merged_blueprint_digest
            != wanted
        ):
            continue
        approval_id = approval_of(grant)
        if approval_id in refused:
            continue
        if any(
            r.event_type is EventType.APPROVAL_REQUESTED and r.id == approval_id
            for r in ordered[:position]
        ):
            return True
    return False
