"""Ports: the small protocols through which the shell reaches the world.

Each names a role, not a technology, and has a handful of methods. Adapters implement them
(`SimulatedCluster`, `KubernetesCluster`, `GitAuditStore`, ...); the shell is written against
these alone, so the same cycle runs on the embedded simulation, on a real cluster, and in
tests, and the contract tests can run one suite against every implementation.

Errors: methods raise the error tree of `reconciler.core.errors` (ClusterError, MetricsError,
AuditError, ...), never a library's own exceptions. Batch methods that cover many services
return a per-service error instead of raising, so one bad service never hides the others.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from reconciler.core.approvals.feedback import ProposalStatus
from reconciler.core.approvals.proposals import CommentTopic, Draft, Proposal
from reconciler.core.blueprint.model import Blueprint, GlobalPolicies, Manifests
from reconciler.core.errors import ClusterError, ForgeError, MetricsError
from reconciler.core.observed.changes import Applied, Change
from reconciler.core.observed.observation import DeploymentState, Metrics, Sample, Target
from reconciler.core.problems import Problem
from reconciler.core.trail.commits import CommitMessage
from reconciler.core.trail.records import EventType, Record, UnreadableRecord

if TYPE_CHECKING:
    import os

    from reconciler.core.gitops.writeback import ManifestEdit, OwnCommit, Snapshot, Written
    from reconciler.core.trail.notices import Notice

__all__ = [
    "AuditStore",
    "Clock",
    "Cluster",
    "ClusterEvents",
    "Forge",
    "LoadResult",
    "ManifestStore",
    "MetricsSource",
    "PoliciesResult",
    "ValidationCache",
    "WorktreeBlobs",
]


class Clock(Protocol):
    """Where `now` comes from. The simulated cluster's clock is virtual, so a demo's minutes
    pass in milliseconds; elsewhere it is the wall clock."""

    def now(self) -> datetime: ...

    def sleep(self, seconds: float) -> None: ...


class Cluster(Protocol):
    def observe(self, targets: Sequence[Target]) -> Mapping[Target, DeploymentState | ClusterError]:
        """The current state of each deployment, fetched in as few requests as possible."""
        ...

    def apply(self, change: Change) -> Applied:
        """Make one change, only if the deployment is still at `change.expected_version`
        (else ConflictError), leaving `change.stamp` on it in the same request."""
        ...


class ClusterEvents(Protocol):
    """Where a cluster shows people what the reconciler did: on Kubernetes, an Event on the
    deployment, so that `kubectl describe` says who changed the replicas and why."""

    def announce(self, target: Target, notice: Notice) -> None:
        """Post one notice about the deployment (ClusterError when it cannot)."""
        ...


class MetricsSource(Protocol):
    def current(self, targets: Sequence[Target]) -> Mapping[Target, Metrics | MetricsError]:
        """Current utilization and health per deployment; unknown values are None."""
        ...

    def window(self, target: Target, seconds: float, now: datetime) -> Sequence[Sample]:
        """Metric history over the last `seconds`, oldest first (may be empty)."""
        ...


class AuditStore(Protocol):
    def append(self, records: Sequence[Record], message: CommitMessage) -> str:
        """Store records as one commit; returns the commit id."""
        ...

    def history(self, service: str, since: datetime) -> list[Record]:
        """A service's records from `since` on, oldest first."""
        ...

    def latest(self, service: str, events: Collection[EventType]) -> Record | None:
        """The newest record of these kinds, however old."""
        ...

    def contains(self, service: str, at: datetime, record_id: str) -> bool:
        """Whether a record with this id exists on the day of `at` or a day either side (a
        cheap existence check; a change's stamp and its record may straddle midnight)."""
        ...

    def flush(self) -> None:
        """Finish a batch of appends (update the index, push if configured)."""
        ...

    def events(self, service: str, events: Collection[EventType]) -> list[Record]:
        """Every record of these kinds for a service, however old, oldest first (the file
        names say the kind, so only matching records are read)."""
        ...

    def approvals(self, service: str, *, digest: str, since: datetime) -> list[Record]:
        """The service's approval records a cycle decides from, oldest first: those of every
        proposal still open or active since `since`, and of any age those of the proposals
        that name the blueprint `digest` or a refused merge that left no file. Judging them
        gives what judging `events(service, APPROVAL_EVENTS)` gives (docs/audit-trail.md),
        without a year of proposals being read on every cycle."""
        ...

    def scan(
        self,
        *,
        service: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Iterator[Record]:
        """Records matching the filters, oldest first."""
        ...

    def unreadable(self, service: str | None = None) -> list[UnreadableRecord]:
        """The files under audit/ (of `service`, or of any) that the reads so far skipped
        because they are not readable records. Reading methods never raise for one: they skip
        it and list it here, and the caller decides whether what it read is enough."""
        ...


class Forge(Protocol):
    """Where approval proposals live: pull requests on GitHub, branches on the local forge.

    Every method is idempotent where the forge allows it: a retried `open` finds the proposal
    the first try created instead of opening a second one.
    """

    def find(
        self,
        branch: str,
        number: int | None = None,
        head: str = "",
        paths: Sequence[str] = (),
    ) -> Proposal | None:
        """The proposal on this branch (or with this number), open or not; None if unknown.
        `head` is the last tip the reconciler knew, for forges that keep no record of a
        deleted branch (the local one). `paths` are the files to read into `Proposal.files`
        (at the merge once merged, else at the head): the caller takes them from its own
        record of the proposal, never from the branch or the body, which anyone who can push
        or edit the pull request can change. An open proposal still at `head` may come without
        them (that commit holds what the caller proposed), so that looking at many unchanged
        proposals costs next to nothing. A merged proposal says which paths its merge
        changed (`Proposal.changed`); a forge that cannot tell leaves it None, and the merge
        is refused. An open one whose tip is no longer `head` says which paths it changes
        against the base, where the forge can tell."""
        ...

    def open(self, draft: Draft) -> Proposal:
        """Create the branch (the base branch plus `draft.files`) and the proposal, or return
        the open one already on that branch."""
        ...

    def update(self, proposal: Proposal, draft: Draft) -> Proposal:
        """Rewrite the branch to the base plus `draft.files`, and the title, body and labels."""
        ...

    def label(self, proposal: Proposal, labels: Sequence[str]) -> None:
        """Give the proposal those of `labels` it lacks. Labels are for people: a failure is
        logged, never raised, and the next run tries again."""
        ...

    def comment(self, proposal: Proposal, text: str, topic: CommentTopic) -> None:
        """Comment on the proposal, unless its comment on `topic` is there already (a run
        whose answer was lost may have posted it)."""
        ...

    def close(self, proposal: Proposal, comment: str) -> None:
        """Close unmerged, with a comment (on `CommentTopic.CLOSING`, once), and delete the
        branch."""
        ...

    def set_status(self, proposal: Proposal, status: ProposalStatus) -> None:
        """Say on the proposal's head whether merging it now would be an approval (a commit
        status on GitHub). Best effort: a failure is logged and tried again later, never
        raised, since the proposal and its record stand without it."""
        ...

    def report(self, proposal: Proposal, text: str, topic: CommentTopic) -> None:
        """Keep one comment of the reconciler's on `topic` saying `text`: posted the first
        time, edited in place when the text changed, left alone when it did not."""
        ...

    def is_member(self, approver: str, login: str) -> bool:
        """Whether `login` is the approver, or belongs to it when it is a team."""
        ...

    def halted(self) -> ForgeError | None:
        """Why the forge stopped sending requests for the rest of this run (a rate limit), or
        None. Once halted, every method raises at once without asking the forge."""
        ...


#: What loading one blueprint gives: the blueprint (None when it has an error), and every
#: problem found.
LoadResult = tuple[Blueprint | None, tuple[Problem, ...]]
#: The same for the global policies file.
PoliciesResult = tuple[GlobalPolicies | None, tuple[Problem, ...]]


class ValidationCache(Protocol):
    """Blueprints loaded before, by a key of everything their loading depends on (built by the
    shell: content, path, the policies). An absent entry only means loading again."""

    def get(self, key: str) -> LoadResult | PoliciesResult | None: ...

    def put(self, key: str, result: LoadResult | PoliciesResult) -> None: ...

    def save(self) -> None:
        """Keep what was put for later runs (best effort: a cache that cannot be written is
        simply not kept)."""
        ...


class WorktreeBlobs(Protocol):
    """Working-tree files known to hold a given git blob, by their stat (kept between runs;
    see adapters/worktree_blobs.py). An unknown file only means reading and hashing it."""

    def matches(self, path: str, stat: os.stat_result, blob: str) -> bool: ...

    def learn(self, path: str, stat: os.stat_result, blob: str) -> None:
        """The file at `path`, with this stat taken before it was read, holds `blob`."""
        ...

    def forget(self, path: str) -> None: ...

    def save(self) -> None: ...


class ManifestStore(Protocol):
    """Where the manifests Argo CD or Flux apply live: a branch of a git repository, this one
    or another. A change made through git (`coexistence: write_back`) is a commit here."""

    def read(self, manifests: Manifests) -> Snapshot:
        """The location's files at the tip of its branch (a missing file is None)."""
        ...

    def write(self, edit: ManifestEdit, now: datetime) -> Written:
        """Commit the edit on the tip of the branch and, when the branch is on a remote, push
        it; a push that loses a race is made again on the new tip. ManifestConflict when a
        value the edit changes is no longer what it expects (a person changed it): nothing
        is written. ClusterError when the commit cannot be made or pushed."""
        ...

    def own_commits(self, manifests: Manifests, service: str) -> Sequence[OwnCommit]:
        """The reconciler's own recent commits for `service` on the location's branch (those
        carrying a change's stamp), newest first: what a run that died before recording
        them leaves for the next run to record."""
        ...
