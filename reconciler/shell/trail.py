"""ClusterTrail: the audit trail as a run on one cluster sees it.

The repository's trail holds the records of every cluster it served. A run is pointed at one,
so the cycle, `request` and `breaker` go through this view of the store: every record it
writes names the cluster (and its commit carries a `Reconciler-Cluster` trailer), and every
read returns only that cluster's records (core/trail/clusters.py says which, records written
before records named their cluster included). Wrapping the store, rather than filtering in each
reader, means no reader can forget to; the store's own index still chooses what to read.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from reconciler.core.errors import ClusterError
from reconciler.core.observed.changes import Applied, Change
from reconciler.core.observed.observation import DeploymentState, Target
from reconciler.core.trail.clusters import ClusterRef, own_records
from reconciler.core.trail.commits import TRAILER_PREFIX, CommitMessage
from reconciler.core.trail.records import EventType, Record, UnreadableRecord
from reconciler.ports import AuditStore

__all__ = ["ClusterTrail", "Unidentified"]


class ClusterTrail:
    def __init__(self, audit: AuditStore, cluster: ClusterRef) -> None:
        self.audit = audit
        self.cluster = cluster
        #: The services of which a read found another cluster's record: from then on, their
        #: records that name no cluster are not this cluster's either.
        self._shared: set[str] = set()

    def append(self, records: Sequence[Record], message: CommitMessage) -> str:
        identity = self.cluster.identity
        named = [replace(record, cluster=identity) for record in records]
        trailers = {**message.trailers, f"{TRAILER_PREFIX}Cluster": identity}
        return self.audit.append(named, replace(message, trailers=trailers))

    def flush(self) -> None:
        self.audit.flush()

    def _own(self, service: str, records: Sequence[Record]) -> list[Record]:
        own, shared = own_records(records, self.cluster.identity, others=service in self._shared)
        if shared:
            self._shared.add(service)
        return own

    def history(self, service: str, since: datetime) -> list[Record]:
        return self._own(service, self.audit.history(service, since))

    def latest(self, service: str, events: Collection[EventType]) -> Record | None:
        found = self.audit.latest(service, events)
        if found is None or found.cluster == self.cluster.identity:
            return found  # the common case: the newest of these records is this cluster's
        if found.cluster is None and service not in self._shared:
            # Unnamed records are older than every named one, so none of these kinds names
            # a cluster: while the run has seen no other cluster's record, it is this one's.
            return found
        # Another cluster's: this cluster's newest is further back, among all of them.
        own = self._own(service, self.audit.events(service, events))
        return own[-1] if own else None

    def contains(self, service: str, at: datetime, record_id: str) -> bool:
        return self.audit.contains(service, at, record_id)  # ids are unique across clusters

    def events(self, service: str, events: Collection[EventType]) -> list[Record]:
        return self._own(service, self.audit.events(service, events))

    def approvals(self, service: str, *, digest: str, since: datetime) -> list[Record]:
        # The store's selection keeps every record that decides a pending proposal of any
        # cluster; a cluster's proposals are decided by its own records alone.
        return self._own(service, self.audit.approvals(service, digest=digest, since=since))

    def scan(
        self,
        *,
        service: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Iterator[Record]:
        by_service: dict[str, list[Record]] = {}
        for record in self.audit.scan(service=service, since=since, until=until):
            by_service.setdefault(record.service, []).append(record)
        kept = [r for name, records in by_service.items() for r in self._own(name, records)]
        return iter(sorted(kept, key=Record.sort_key))

    def unreadable(self, service: str | None = None) -> list[UnreadableRecord]:
        return self.audit.unreadable(service)


class Unidentified:
    """A real cluster whose identity could not be read (unreachable, credentials refused, or
    no permission to read the kube-system namespace), for the Cluster and AuditStore ports.

    Without the identity a run cannot tell which records are this cluster's, so it must not
    act or record: every deployment is reported with the error (each service fails at its
    observe stage, as with any unreachable cluster, and the run's report, summary and
    dashboard say so), any write to the trail raises it, and reads find nothing."""

    def __init__(self, error: ClusterError) -> None:
        self.error = error

    def observe(self, targets: Sequence[Target]) -> Mapping[Target, DeploymentState | ClusterError]:
        return dict.fromkeys(targets, self.error)

    def apply(self, change: Change) -> Applied:
        raise self.error

    def append(self, records: Sequence[Record], message: CommitMessage) -> str:
        raise self.error

    def flush(self) -> None:
        pass  # nothing was written

    def history(self, service: str, since: datetime) -> list[Record]:
        return []

    def latest(self, service: str, events: Collection[EventType]) -> Record | None:
        return None

    def contains(self, service: str, at: datetime, record_id: str) -> bool:
        return False

    def events(self, service: str, events: Collection[EventType]) -> list[Record]:
        return []

    def approvals(self, service: str, *, digest: str, since: datetime) -> list[Record]:
        return []

    def scan(
        self,
        *,
        service: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Iterator[Record]:
        return iter(())

    def unreadable(self, service: str | None = None) -> list[UnreadableRecord]:
        return []
