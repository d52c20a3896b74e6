"""Acting through git: a change as a commit to the manifests that Argo CD or Flux apply.

Under `coexistence: write_back` a scale or a requests change is not written to the cluster,
where the GitOps tool would put the old value back; it is written to the file the tool applies
(`spec.manifests`), and the tool rolls it out. This module is the pure half of that:

- `writes_back` (`coexistence.py`): which changes go to git (scales and requests; restarts
  and revision rollbacks still go to the cluster, where a manifest does not hold what they
  change);
- `edit_for`: the commit a change becomes, with the values it expects to find. The reconciler
  expects the manifest to say what the cluster runs; when it says something else, a person
  changed it (or a sync is in flight) and `rewrite` refuses with `ManifestConflict`: people
  win, and the next cycle decides again from what runs then;
- a rollback is a revert commit of the reconciler's own change;
- every such commit carries the change's stamp as a trailer (`Reconciler-Stamp`), as a change
  made in the cluster carries it on the deployment: a run that dies after pushing the commit
  and before recording it leaves what the next run needs to write the record (`recovered`);
- waiting for the tool to roll it out is `rollout.py`'s.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from reconciler.core.blueprint.model import Blueprint, Manifests
from reconciler.core.blueprint.units import format_cpu, format_memory
from reconciler.core.errors import ConflictError
from reconciler.core.gitops.coexistence import WRITE_BACK, writes_back
from reconciler.core.ids import utc
from reconciler.core.observed.changes import Applied, Change
from reconciler.core.observed.observation import ChangeStamp, DeploymentState
from reconciler.core.trail import lazy_bodies
from reconciler.core.trail.commits import CommitMessage
from reconciler.core.trail.records import Record

if TYPE_CHECKING:
    from reconciler.core.gitops.manifests import Numbers, Site

__all__ = [
    "STAMP_TRAILER",
    "WRITE_BACK",
    "ManifestConflict",
    "ManifestEdit",
    "OwnCommit",
    "Snapshot",
    "Written",
    "applied_for",
    "edit_for",
    "own_stamp",
    "revert_for",
    "rewrite",
    "write_back_details",
    "writes_back",
]

#: The trailer that carries the change's stamp on the reconciler's own manifest commits.
STAMP_TRAILER = "Reconciler-Stamp"


class ManifestConflict(ConflictError):
    """The manifest no longer says what the reconciler last read: a person changed it (or a
    sync is still under way). Nothing is written; the next cycle decides again."""


@dataclass(frozen=True, kw_only=True)
class ManifestEdit:
    """One commit to the manifests: the values to write, and the values it expects to find
    there (what the reconciler last read); None leaves a value alone."""

    manifests: Manifests
    service: str
    operation_id: str
    replicas: int | None = None
    cpu_request: int | None = None
    memory_request: int | None = None
    expect_replicas: int | None = None
    expect_cpu: int | None = None
    expect_memory: int | None = None
    subject: str = ""
    why: str = ""
    #: The reconciler's own commit this one reverts ("": not a revert).
    reverts: str = ""
    #: The change's stamp (`ChangeStamp.dumps`), kept in the commit so that the commit alone
    #: says what the record a crash lost would have said ("": a proposal's edit, no change).
    stamp: str = ""

    def message(self) -> CommitMessage:
        paragraphs = []
        if self.reverts:
            paragraphs.append(f"This reverts commit {self.reverts}.")
        if self.why:
            paragraphs.append(self.why)
        paragraphs.append(
            "Written by the reconciler (coexistence: write_back); the GitOps tool rolls it out "
            f"and the reconciler verifies it. `reconciler explain {self.operation_id}` tells "
            "the whole story."
        )
        return CommitMessage(
            subject=self.subject,
            paragraphs=paragraphs,
            trailers={
                "Reconciler-Service": self.service,
                "Reconciler-Operation": self.operation_id,
                **({"Reconciler-Reverts": self.reverts} if self.reverts else {}),
                **({STAMP_TRAILER: _ascii(self.stamp)} if self.stamp else {}),
            },
        )


def _ascii(stamp: str) -> str:
    """The stamp as one line of ASCII JSON: a commit message is cleaned line by line, and
    escaped characters come through that cleaning unchanged."""
    try:
        return json.dumps(json.loads(stamp), sort_keys=True, separators=(",", ":"))
    except ValueError:
        return stamp


def own_stamp(message: str, service: str) -> ChangeStamp | None:
    """The stamp a commit message carries when it is the reconciler's own manifest commit for
    `service`; None for any other commit (a person's, a merge, another service's)."""
    trailers = {}
    # The trailers are the message's last paragraph; a reason quoted above cannot add one.
    for line in message.strip().rsplit("\n\n", 1)[-1].splitlines():
        key, colon, value = line.partition(": ")
        if colon and key.startswith("Reconciler-"):
            trailers[key] = value.strip()
    if trailers.get("Reconciler-Service") != service or STAMP_TRAILER not in trailers:
        return None
    stamp = ChangeStamp.loads(trailers[STAMP_TRAILER])
    if (
        stamp is None
        or stamp.service != service
        or stamp.operation_id != trailers.get("Reconciler-Operation")
    ):
        return None
    return stamp


def _describe(change: Change) -> str:
    if change.replicas is not None:
        return f"scale to {change.replicas} replicas"
    parts = []
    if change.cpu_request is not None:
        parts.append(f"cpu {format_cpu(change.cpu_request)}")
    if change.memory_request is not None:
        parts.append(f"memory {format_memory(change.memory_request)}")
    return f"set requests ({', '.join(parts)})"


def edit_for(
    change: Change, blueprint: Blueprint, state: DeploymentState, why: str = ""
) -> ManifestEdit:
    """The commit an allowed change becomes. It expects the manifest to hold what the cluster
    runs now: anything else there is someone else's change, which is not overwritten."""
    manifests = blueprint.manifests
    assert manifests is not None  # writes_back said so
    return ManifestEdit(
        manifests=manifests,
        service=blueprint.name,
        operation_id=change.stamp.operation_id,
        replicas=change.replicas,
        cpu_request=change.cpu_request,
        memory_request=change.memory_request,
        expect_replicas=state.replicas if change.replicas is not None else None,
        expect_cpu=state.cpu_request if change.cpu_request is not None else None,
        expect_memory=state.memory_request if change.memory_request is not None else None,
        subject=f"{blueprint.name}: {_describe(change)} in {manifests.path}",
        why=why,
        stamp=change.stamp.dumps(),
    )


def revert_for(change: Change, blueprint: Blueprint, reverted: Record) -> ManifestEdit:
    """The revert commit of the reconciler's own change: the values it wrote go back to those
    it replaced, and only if they are still the ones it wrote."""
    manifests = blueprint.manifests
    assert manifests is not None
    done = lazy_bodies.body_of(reverted, lazy_bodies.ExecutionBody).write_back or {}
    before, after = done.get("before") or {}, done.get("after") or {}

    def pair(key: str) -> tuple[int | None, int | None]:
        old, new = before.get(key), after.get(key)
        if isinstance(old, int) and isinstance(new, int) and old != new:
            return old, new
        return None, None

    replicas, wrote_replicas = pair("replicas")
    cpu, wrote_cpu = pair("cpu_request")
    memory, wrote_memory = pair("memory_request")
    commit = str(done.get("commit", ""))
    return ManifestEdit(
        manifests=manifests,
        service=blueprint.name,
        operation_id=change.stamp.operation_id,
        replicas=replicas,
        cpu_request=cpu,
        memory_request=memory,
        expect_replicas=wrote_replicas,
        expect_cpu=wrote_cpu,
        expect_memory=wrote_memory,
        subject=f'Revert "{done.get("subject") or reverted.rationale}"',
        why=f"Undoes {reverted.links.get('operation', reverted.id)}: {change.stamp.summary}",
        reverts=commit,
        stamp=change.stamp.dumps(),
    )


def _conflict(site: Site, found: int | None, expected: int, what: str) -> str:
    shown = site.text if found is None else str(found)
    return (
        f"{site.field} in {site.where} is {shown}, not {expected} as the reconciler last read it "
        f"({what}): someone changed it, so the reconciler does not overwrite it and decides "
        "again from the new value next cycle"
    )


def rewrite(change: ManifestEdit, files: Mapping[str, bytes | None]) -> dict[str, bytes]:
    """The edited files, after checking that each value to change is still what the
    reconciler last read (ManifestConflict otherwise). ManifestError when the location does
    not resolve."""
    # Reading the manifests' YAML is only for the services that act through git.
    from reconciler.core.gitops.manifests import edit as edit_manifest
    from reconciler.core.gitops.manifests import locate

    _expect(change, locate(change.manifests, files))
    return edit_manifest(
        change.manifests,
        files,
        replicas=change.replicas,
        cpu_request=change.cpu_request,
        memory_request=change.memory_request,
    )


def _expect(change: ManifestEdit, numbers: Numbers) -> None:
    checks: list[tuple[int | None, int | None, Site | None, str]] = [
        (change.expect_replicas, numbers.replica_count, numbers.replicas, "replicas"),
        (
            change.expect_cpu,
            numbers.cpu_total,
            numbers.cpu[0] if numbers.cpu else None,
            "the pod's cpu request",
        ),
        (
            change.expect_memory,
            numbers.memory_total,
            numbers.memory[0] if numbers.memory else None,
            "the pod's memory request",
        ),
    ]
    for expected, found, site, what in checks:
        if expected is None or site is None or found == expected:
            continue
        raise ManifestConflict(
            _conflict(site, found, expected, what),
            hint="nothing to do: the next cycle works from the value now in the manifest",
            service=change.service,
        )


@dataclass(frozen=True, kw_only=True)
class Snapshot:
    """A manifest location's files at the tip of its branch."""

    commit: str
    branch: str
    files: Mapping[str, bytes | None]
    #: The newest commit (first parents from the tip) that changed one of the files: a
    #: merged proposal's merge, say. "" when it is further back than the store looks.
    changed_by: str = ""


@dataclass(frozen=True, kw_only=True)
class Written:
    """A commit the manifests' branch took."""

    commit: str
    at: datetime
    #: Where: the repository ("" for the blueprint repository), its branch, the files changed.
    repository: str = ""
    branch: str = ""
    files: tuple[str, ...] = ()
    #: How many pushes it took (0: committed locally, nothing pushed).
    attempts: int = 0
    #: The values before and after, by name (replicas, cpu_request, memory_request).
    before: Mapping[str, int] = field(default_factory=dict)
    after: Mapping[str, int] = field(default_factory=dict)
    subject: str = ""


@dataclass(frozen=True, kw_only=True)
class OwnCommit:
    """One of the reconciler's own commits to a manifest location, found on its branch: what
    it wrote, and the stamp of the change it carried."""

    written: Written
    stamp: ChangeStamp


def values(numbers: Numbers) -> dict[str, int]:
    """The numbers a manifest holds, by the names records use."""
    found = {"replicas": numbers.replica_count}
    if numbers.cpu_total is not None:
        found["cpu_request"] = numbers.cpu_total
    if numbers.memory_total is not None:
        found["memory_request"] = numbers.memory_total
    return found


def applied_for(written: Written, change: Change) -> Applied:
    """The change's answer as the executed record keeps it: the commit, not a cluster write."""
    where = written.repository or "this repository"
    pushed = f", pushed to {written.branch}" if written.attempts else f" on {written.branch}"
    return Applied(
        started_at=written.at,
        completed_at=written.at,
        message=f"committed {written.commit[:12]} to {', '.join(written.files)} in {where}"
        f"{pushed}; the GitOps tool rolls it out",
        before=dict(written.before),
        after=dict(written.after),
    )


def write_back_details(written: Written, sync_timeout: float) -> dict[str, Any]:
    """What the executed record keeps of the commit: `details.write_back`."""
    return {
        "commit": written.commit,
        "repository": written.repository,
        "branch": written.branch,
        "files": list(written.files),
        "subject": written.subject,
        "before": dict(written.before),
        "after": dict(written.after),
        "attempts": written.attempts,
        "sync_deadline": utc(written.at) + timedelta(seconds=sync_timeout),
    }
