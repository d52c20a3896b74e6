"""Which changes act through git: the question every cycle asks of each change it carries out.

Kept apart from `writeback.py`, the commit a change becomes, because most blueprints never
write back: a cycle asks `writes_back` of every change, and only a change that does write back
needs the edit, the snapshot and the commit (and their dataclasses) loaded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.core.observed.changes import ChangeKind
from reconciler.core.trail import lazy_bodies

if TYPE_CHECKING:
    from reconciler.core.blueprint.model import Blueprint
    from reconciler.core.observed.changes import Change
    from reconciler.core.trail.records import Record

__all__ = ["WRITE_BACK", "writes_back"]

#: The `spec.scaling.coexistence` value that acts through git.
WRITE_BACK = "write_back"

#: The change kinds a manifest holds.
_IN_GIT = frozenset({ChangeKind.SCALE, ChangeKind.RESOURCES})


def writes_back(blueprint: Blueprint, change: Change, reverted: Record | None = None) -> bool:
    """Whether this change is a commit to the manifests rather than a write to the cluster.
    A rollback goes to git exactly when the change it undoes did (`reverted`)."""
    if blueprint.scaling.coexistence != WRITE_BACK or blueprint.manifests is None:
        return False
    if reverted is not None:
        return bool(lazy_bodies.body_of(reverted, lazy_bodies.ExecutionBody).write_back)
    return change.kind in _IN_GIT and change.hpa is None
