"""Which cluster a record was made on, and which records a cycle on one cluster may read.

One repository can serve the simulated cluster and real ones, so every record names the
cluster it was made on (`Record.cluster`): `simulated`, or the identity of a real cluster, the
UID of its `kube-system` namespace, which Kubernetes assigns once and never changes while the
cluster lives (a kubeconfig context or a server address can be renamed or point elsewhere).
A cycle reads only its own cluster's records, so that a cooldown, a breaker, a change awaiting
verification or an open proposal of one cluster never counts on another.

Records written before records named their cluster carry no cluster. They are read as the
reading cluster's own until the run finds a record of the same service that names another
cluster (a cycle reads a service's last day first, then older records): a repository that only
ever served one cluster keeps its cooldowns, breakers and proposals across the upgrade, and
once another cluster has written records of a service, its unnamed ones count for no cluster
(docs/audit-trail.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from reconciler.core.blueprint.model import Blueprint, ClusterDeclaration
from reconciler.core.errors import ConfigError
from reconciler.core.trail.records import Record

__all__ = ["ON_SIMULATOR", "SIMULATED", "ClusterRef", "own_records", "real_cluster", "skip_reason"]

#: The cluster name and identity of the embedded simulation.
SIMULATED = "simulated"


@dataclass(frozen=True, kw_only=True)
class ClusterRef:
    """The cluster a run is pointed at: its identity (what records carry) and the name people
    use (a cluster declared in the global policies, `simulated`, or the identity itself)."""

    identity: str
    name: str

    @property
    def simulated(self) -> bool:
        return self.identity == SIMULATED

    def describe(self) -> str:
        return self.name if self.name == self.identity else f"{self.name} ({self.identity})"


#: The embedded simulation, as a run pointed at it names it.
ON_SIMULATOR = ClusterRef(identity=SIMULATED, name=SIMULATED)


def own_records(
    records: Iterable[Record], identity: str, *, others: bool = False
) -> tuple[list[Record], bool]:
    """The records of `identity`'s cluster among `records` (one read of one service's trail),
    in their order, and whether any of them names another cluster.

    A record that names no cluster is the reader's unless another cluster's record is among
    `records` or, `others`, was among those the reader saw before: the caller keeps that
    answer for the service, so that every later read of the run agrees with the first."""
    listed = list(records)
    others = others or any(r.cluster is not None and r.cluster != identity for r in listed)
    own = [r for r in listed if r.cluster == identity or (r.cluster is None and not others)]
    return own, others


def real_cluster(
    identity: str, context: str | None, declared: Sequence[ClusterDeclaration], source: str
) -> ClusterRef:
    """The real cluster with `identity` (reached through kubeconfig `context`), named as the
    policies declare it. When the policies declare clusters, a cluster that is none of them,
    or a declared context that reaches another cluster, is refused: acting there would act
    on blueprints meant for another cluster, under another cluster's trail."""
    for cluster in declared:
        if cluster.identity == identity:
            return ClusterRef(identity=identity, name=cluster.name)
    if context:
        for cluster in declared:
            if cluster.context == context:
                raise ConfigError(
                    f"context {context!r} reaches a cluster whose kube-system namespace has "
                    f"UID {identity}, but {source} declares it as cluster {cluster.name} with "
                    f"identity {cluster.identity}",
                    hint="the context points at another cluster than declared: fix the "
                    "kubeconfig, or the identity in the policies if the cluster was rebuilt",
                )
    if declared:
        names = ", ".join(cluster.name for cluster in declared)
        raise ConfigError(
            f"this cluster (kube-system UID {identity}) is none of the clusters {source} "
            f"declares ({names})",
            hint="point --context at one of them, or declare this one under clusters: "
            f"(name, identity: {identity})",
        )
    return ClusterRef(identity=identity, name=identity)


def skip_reason(blueprint: Blueprint, cluster: ClusterRef) -> str | None:
    """Why a run on `cluster` leaves `blueprint` alone, or None when it acts on it. The
    simulated cluster rehearses the whole fleet, so it acts on every blueprint."""
    if blueprint.cluster is None or cluster.simulated or blueprint.cluster == cluster.name:
        return None
    return f"spec.cluster is {blueprint.cluster}; this run is on {cluster.describe()}"
