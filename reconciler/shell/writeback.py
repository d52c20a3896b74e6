"""Carrying out a change: in the cluster, or as a commit to the manifests a GitOps tool applies.

The cycle calls `carry_change` where it used to call the cluster: a blueprint with
`coexistence: write_back` has its scales and requests changes (and the rollbacks of those)
committed to the file its `spec.manifests` names, through the ManifestStore port; everything
else goes to the cluster as before. What comes back is the cluster's kind of answer plus what
the executed record keeps of the commit (`details.write_back`, and `links.commit`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reconciler.core.blueprint import Blueprint, Manifests
from reconciler.core.changes import Applied, Change
from reconciler.core.errors import ClusterError
from reconciler.core.history import CHANGE_EVENTS, ServiceHistory
from reconciler.core.observation import DeploymentState
from reconciler.core.records import Record
from reconciler.core.writeback import (
    ManifestEdit,
    Snapshot,
    Written,
    applied_for,
    edit_for,
    revert_for,
    write_back_details,
    writes_back,
)
from reconciler.ports import Cluster, ManifestStore
from reconciler.shell.isolation import Stage, Watch

__all__ = ["Carried", "WatchedManifests", "carry_change", "reverted_change"]


class WatchedManifests:
    """The manifest store as a cycle's services reach it: a failure to read or write the
    manifests is the service's failure at the stage of changing it."""

    def __init__(self, store: ManifestStore, watch: Watch) -> None:
        self.store = store
        self.watch = watch

    def read(self, manifests: Manifests) -> Snapshot:
        with self.watch.at(Stage.APPLY):
            return self.store.read(manifests)

    def write(self, edit: ManifestEdit, now: datetime) -> Written:
        with self.watch.at(Stage.APPLY):
            return self.store.write(edit, now)


@dataclass(frozen=True, kw_only=True)
class Carried:
    applied: Applied
    #: Added to the executed record's details and links.
    context: Mapping[str, Any] = field(default_factory=dict)
    links: Mapping[str, str] = field(default_factory=dict)


def reverted_change(history: ServiceHistory, operation_id: str) -> Record | None:
    """The record of the change a rollback undoes."""
    if not operation_id:
        return None
    return next(
        (
            r
            for r in reversed(history.records)
            if r.event_type in CHANGE_EVENTS and r.links.get("operation", r.id) == operation_id
        ),
        None,
    )


def carry_change(
    change: Change,
    *,
    reverts: str,
    blueprint: Blueprint,
    state: DeploymentState,
    history: ServiceHistory,
    cluster: Cluster,
    manifests: ManifestStore | None,
    now: datetime,
) -> Carried:
    """Make the change where it belongs; raises what the cluster or the store raise
    (ConflictError, ManifestConflict among them, when someone else changed the value)."""
    reverted = reverted_change(history, reverts)
    if not writes_back(blueprint, change, reverted):
        return Carried(applied=cluster.apply(change))
    location = blueprint.manifests
    assert location is not None  # writes_back checked it
    if manifests is None:
        raise ClusterError(
            f"{blueprint.name} changes its manifests (coexistence: write_back), but this run "
            "has no git repository to commit them to",
            hint="run from a clone of the repository that holds spec.manifests.path",
        )
    edit = (
        revert_for(change, blueprint, reverted)
        if reverted is not None
        else edit_for(change, blueprint, state, change.stamp.why)
    )
    written = manifests.write(edit, now)
    return Carried(
        applied=applied_for(written, change),
        context={"write_back": write_back_details(written, location.sync_timeout)},
        links={"commit": written.commit},
    )
