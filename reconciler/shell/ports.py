"""The ports one run of the shell works through, bundled: what the composition root hands
every cycle, request and status."""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.core.trail.clusters import ON_SIMULATOR, ClusterRef
from reconciler.ports import (
    AuditStore,
    Clock,
    Cluster,
    ClusterEvents,
    Forge,
    ManifestStore,
    MetricsSource,
)


@dataclass(frozen=True)
class Ports:
    """The ports a run works through; the optional ones are absent where a run has none."""

    cluster: Cluster
    metrics: MetricsSource
    audit: AuditStore
    clock: Clock
    #: Where approval proposals go; None records them as pending in the trail only.
    forge: Forge | None = None
    #: Where changes made through git are committed (coexistence: write_back).
    manifests: ManifestStore | None = None
    #: The cluster the run is pointed at: its blueprints are acted on, its trail is read.
    where: ClusterRef = ON_SIMULATOR
    #: Where the cluster shows what was done and refused (Kubernetes Events); None: nowhere.
    events: ClusterEvents | None = None
    #: The other repositories the forge opens pull requests in: a proposal whose manifests
    #: live in one of them edits them there, paired with the blueprint's pull request.
    paired: frozenset[str] = frozenset()
