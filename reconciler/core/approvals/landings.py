"""A proposal's change on the main branch without an approver's merge of the proposal: which
fields a proposal may change, and whether a blueprint carries them or goes beyond.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from reconciler.core.approvals.lifecycle import Kind
from reconciler.core.approvals.pending import approval_of
from reconciler.core.blueprint.model import TIER_KEYS, Blueprint, Tier
from reconciler.core.trail import lazy_bodies
from reconciler.core.trail.proposal_metadata import ProposalMetadata
from reconciler.core.trail.records import EventType, Outcome, Record

__all__ = ["landed_without_approval"]


#: The blueprint fields a blueprint edit may change, and how to read each from a Blueprint.
_EDITABLE: Mapping[str, Callable[[Blueprint], object]] = {
    "spec.scaling.max_replicas": lambda blueprint: blueprint.scaling.max_replicas,
    "spec.scaling.min_replicas": lambda blueprint: blueprint.scaling.min_replicas,
}


def proposed_fields(metadata: ProposalMetadata) -> dict[str, object]:
    """The blueprint fields a blueprint edit changes, and the values it proposes.

    Recorded in the metadata since the reconciler began to record them (`fields`); for an
    older proposal, read from its target: above the replicas it was proposed at, a raise of
    `max_replicas`, else a lowering of `min_replicas`."""
    if metadata.kind != Kind.BLUEPRINT:
        return {}
    if metadata.fields is not None:
        return {str(name): value for name, value in metadata.fields.items() if name in _EDITABLE}
    target, current = metadata.target_replicas, metadata.current_replicas
    if target is None:
        return {}
    raised = current is None or target > current
    return {f"spec.scaling.{'max_replicas' if raised else 'min_replicas'}": target}


def carries_change(blueprint: Blueprint, metadata: ProposalMetadata) -> bool:
    """Whether `blueprint` is a blueprint edit's proposed file, or has the values it proposes
    in every field it changes, though it is not the blueprint the edit was proposed against.

    This is a blueprint edit's change landing, however it got there: the file as proposed
    (a squash, a cherry-pick, a rebase of the branch), or the proposed values among other
    edits (landed in part, or edited further since). Whoever made it, the proposal is what
    asked for it, and only an approver's merge of the proposal approves it."""
    if metadata.kind != Kind.BLUEPRINT:
        return False
    if metadata.blueprint_digest == blueprint.digest:
        return False  # still the blueprint it was proposed against: nothing landed
    proposed = metadata.digests.get(blueprint.source)
    if proposed is not None and proposed == blueprint.digest:
        return True
    wanted = proposed_fields(metadata)
    return bool(wanted) and all(
        _EDITABLE[name](blueprint) == value for name, value in wanted.items()
    )


def landed_without_approval(blueprint: Blueprint, records: Sequence[Record]) -> list[Record]:
    """Blueprint edits that ended without approval (rejected, expired, superseded) whose
    proposed file is now the blueprint, byte for byte: each a landing without approval,
    which no judgement recorded yet. The last record of each such proposal.

    An ended proposal is watched for its exact file rather than its values: long after it
    ended, a person may set the same value through the repository's own review, while the
    proposed file itself (its version bump, every byte) only lands by copying the proposal.
    A proposal still waiting is judged with its values (`carries_change`), when it is looked
    up on the forge."""
    ended = (EventType.APPROVAL_REJECTED, EventType.APPROVAL_EXPIRED, EventType.APPROVAL_SUPERSEDED)
    last: dict[str, Record] = {}
    for record in sorted(records, key=Record.sort_key):
        last[approval_of(record)] = record
    found = []
    for record in last.values():
        metadata = lazy_bodies.body_of(record, lazy_bodies.ApprovalBody).metadata
        if record.event_type not in ended or record.outcome is Outcome.PENDING:
            continue
        if metadata.kind != Kind.BLUEPRINT:
            continue
        proposed = metadata.digests.get(blueprint.source)
        if proposed == blueprint.digest and metadata.blueprint_digest != blueprint.digest:
            found.append(record)
    return found


#: How many unproposed paths a refusal names before it counts the rest.
_SHOWN_PATHS = 10


def extra_paths(
    metadata: ProposalMetadata, digests: Mapping[str, Any], changed: Sequence[str] | None
) -> tuple[str, ...] | None:
    """The paths the merge changed beside the proposed ones; None when the forge cannot tell."""
    if changed is None:
        return None
    proposed = {str(path) for path in (*metadata.files, *digests)}
    return tuple(sorted(set(changed) - proposed))


def beyond_the_proposal(extra: Sequence[str] | None) -> list[str]:
    """Why the merge brought in more than the proposed files, or nothing.

    A branch can carry commits beside the reconciler's, and an approver reviewing "the
    proposal" may not look at them: a file added under `audit/` would be taken for a record
    the reconciler wrote, one under `blueprints/` would change another service. A merge
    approves the proposed files alone, or nothing."""
    if extra is None:
        return [
            "the forge did not say which files the merge changed, so it cannot be checked that "
            "it changed only the proposed ones"
        ]
    if not extra:
        return []
    shown = ", ".join(extra[:_SHOWN_PATHS])
    if len(extra) > _SHOWN_PATHS:
        shown += f" and {len(extra) - _SHOWN_PATHS} more"
    return [
        f"the merge also changed {shown}, which the reconciler did not propose: a merge "
        "approves only the proposed files, and anything else goes through its own review "
        "(revert the merge: those files are on the main branch all the same)"
    ]


def globally_forbidden(blueprint: Blueprint) -> tuple[str, ...]:
    return tuple(
        rule.operation
        for rule in blueprint.policy.rules
        if rule.tier is Tier.FORBIDDEN and rule.origin == "global"
    )


def forbidden_in(text: str, inherited: Iterable[str] = ()) -> set[str] | None:
    """The operations a blueprint's text forbids, with those it inherits; None when the text
    is not a YAML mapping.

    Read from the raw document rather than a loaded Blueprint: loading needs the global
    policies, and what matters here is only which names the file still lists."""
    from reconciler.core.blueprint.yamlsafe import YamlError, parse_yaml  # only for a landing

    try:
        document = parse_yaml(text.encode())
    except YamlError:
        return None
    governance = document.data.get("governance")
    authority = governance.get("agent_authority") if isinstance(governance, dict) else None
    entries = authority.get(TIER_KEYS[Tier.FORBIDDEN]) if isinstance(authority, dict) else None
    names = set(inherited)
    for entry in entries if isinstance(entries, list) else []:
        name = entry.get("operation") if isinstance(entry, dict) else entry
        if isinstance(name, str):
            names.add(name)
    return names
