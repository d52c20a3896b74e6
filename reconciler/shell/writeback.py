"""Carrying out a change: in the cluster, or as a commit to the manifests a GitOps tool applies.

The cycle calls `carry_change` where it used to call the cluster: a blueprint with
`coexistence: write_back` has its scales and requests changes (and the rollbacks of those)
committed to the file its `spec.manifests` names, through the ManifestStore port; everything
else goes to the cluster as before. What comes back is the cluster's kind of answer plus what
the executed record keeps of the commit (`details.write_back`, and `links.commit`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from reconciler.core.approvals.proposals import elsewhere
from reconciler.core.blueprint.model import Blueprint, Manifests
from reconciler.core.decide.governance import OperationRequest
from reconciler.core.errors import ClusterError
from reconciler.core.gitops.coexistence import WRITE_BACK, writes_back
from reconciler.core.observed.changes import Applied, Change
from reconciler.core.observed.observation import DeploymentState
from reconciler.core.planning.subjects import merged_subject
from reconciler.core.trail.history import CHANGE_EVENTS, ServiceHistory
from reconciler.core.trail.records import Record
from reconciler.ports import Cluster, ManifestStore
from reconciler.shell.isolation import Stage, Watch

if TYPE_CHECKING:
    from reconciler.core.gitops.writeback import ManifestEdit, OwnCommit, Snapshot, Written

__all__ = [
    "Carried",
    "WatchedManifests",
    "carry_change",
    "proposed_manifests",
    "reverted_change",
    "unrecorded_commits",
]


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
        self.watch.commits.append(edit.operation_id)
        with self.watch.at(Stage.APPLY):
            return self.store.write(edit, now)

    def own_commits(self, manifests: Manifests, service: str) -> Sequence[OwnCommit]:
        with self.watch.at(Stage.OBSERVE):
            return self.store.own_commits(manifests, service)


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
    approved_from: Mapping[str, Any] | None = None,
) -> Carried:
    """Make the change where it belongs; raises what the cluster or the store raise
    (ConflictError, ManifestConflict among them, when someone else changed the value).

    `approved_from` is the approval the change carries out (the record's `authorized_by`):
    when its proposal edited the manifests, the merge made the change, and what is recorded
    is that merge, not a second commit."""
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
    # The commit a change becomes is loaded once a change writes back.
    from reconciler.core.gitops.writeback import (
        ManifestConflict,
        applied_for,
        edit_for,
        revert_for,
        write_back_details,
    )

    edit = (
        revert_for(change, blueprint, reverted)
        if reverted is not None
        else edit_for(change, blueprint, state, change.stamp.why)
    )
    try:
        written = manifests.write(edit, now)
    except ManifestConflict:
        merged = _merged(edit, approved_from, manifests, now) if approved_from else None
        if merged is None:
            raise
        written = merged
    return Carried(
        applied=applied_for(written, change),
        context={"write_back": write_back_details(written, location.sync_timeout)},
        links={"commit": written.commit},
    )


def _merged(
    edit: ManifestEdit, approval: Mapping[str, Any], store: ManifestStore, now: datetime
) -> Written | None:
    """The approved change as its merge made it: the manifests hold exactly the values the
    change sets. None when they hold something else (someone's own change: not overwritten)."""
    from reconciler.core.gitops.manifests import ManifestError, locate
    from reconciler.core.gitops.writeback import Written, values

    snapshot = store.read(edit.manifests)
    try:
        found = values(locate(edit.manifests, snapshot.files))
    except ManifestError:
        return None
    wanted = {
        key: value
        for key, value in (
            ("replicas", edit.replicas),
            ("cpu_request", edit.cpu_request),
            ("memory_request", edit.memory_request),
        )
        if value is not None
    }
    if any(found.get(key) != value for key, value in wanted.items()):
        return None
    before = dict(wanted)
    if isinstance(approval.get("current_replicas"), int) and "replicas" in wanted:
        before["replicas"] = approval["current_replicas"]
    return Written(
        commit=snapshot.changed_by or snapshot.commit,
        at=now,
        repository=edit.manifests.repository,
        branch=snapshot.branch,
        files=edit.manifests.files,
        attempts=0,
        before=before,
        after=wanted,
        subject=merged_subject(edit.service, approval),
    )


def unrecorded_commits(
    blueprint: Blueprint, store: ManifestStore | None, recorded: Callable[[str, datetime], bool]
) -> list[OwnCommit]:
    """The reconciler's own manifest commits for this service that the trail lacks, oldest
    first: a run pushed them and died before committing their records. `recorded(operation_id,
    at)` says whether the trail has an operation's record."""
    location = blueprint.manifests
    if store is None or location is None or blueprint.scaling.coexistence != WRITE_BACK:
        return []
    found = store.own_commits(location, blueprint.name)
    return [own for own in reversed(found) if not recorded(own.stamp.operation_id, own.stamp.at)]


def proposed_manifests(
    request: OperationRequest,
    blueprint: Blueprint,
    state: DeploymentState,
    store: ManifestStore | None,
    paired: Collection[str] = (),
) -> dict[str, str]:
    """The manifests a proposal carries for a change that needs approval, edited as the change
    would edit them (coexistence: write_back), so that merging the proposal is the change.

    Manifests in another repository are carried only when the forge can open a pull request
    there too (`paired`, the repositories it reaches): keyed `owner/name:path`, they become
    the pull request in that repository, paired with the one in the blueprint repository.
    Empty when the service does not act through git, the manifests are in a repository the
    forge cannot propose in, or they cannot be edited now (someone changed the value, or the
    location does not resolve): the proposal then approves the change alone, and the
    reconciler commits it once approved."""
    from reconciler.core.gitops.manifests import ManifestError
    from reconciler.core.gitops.writeback import ManifestConflict, ManifestEdit, rewrite

    location = blueprint.manifests
    if (
        store is None
        or location is None
        or (location.repository and location.repository not in paired)
        or blueprint.scaling.coexistence != WRITE_BACK
    ):
        return {}
    cpu = request.parameters.get("cpu_request")
    memory = request.parameters.get("memory_request")
    edit = ManifestEdit(
        manifests=location,
        service=blueprint.name,
        operation_id="",
        replicas=request.target_replicas,
        cpu_request=cpu if isinstance(cpu, int) else None,
        memory_request=memory if isinstance(memory, int) else None,
        expect_replicas=state.replicas if request.target_replicas is not None else None,
        expect_cpu=state.cpu_request if isinstance(cpu, int) else None,
        expect_memory=state.memory_request if isinstance(memory, int) else None,
    )
    if edit.replicas is None and edit.cpu_request is None and edit.memory_request is None:
        return {}
    try:
        edited = rewrite(edit, store.read(location).files)
    except (ManifestConflict, ManifestError, ClusterError):
        return {}
    return {
        elsewhere(location.repository, path) if location.repository else path: content.decode(
            "utf-8"
        )
        for path, content in edited.items()
    }
