"""SimulatedCluster: a file-backed cluster with a virtual clock and a load model.

It is the embedded default (the README's demo runs on it), the demo's stage, and the tests'
fake cluster. It implements three ports at once: Cluster, MetricsSource and Clock. The clock is
virtual: `advance` (or the cycle's `sleep`) moves it, new pods become ready when their start-up
time has passed, and metric history is sampled as time goes by. A demo's minutes pass in
milliseconds, and every run is reproducible.

The state lives in one SQLite file (`simulated_store`, read and written through
`simulated_format`; docs/simulated-cluster.md): a person reads it with `reconciler sim show`
and changes it with `reconciler sim set` (`simulated_settings`). The deployments and the load
model are `simulated_model`, the metric history `simulated_history`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from reconciler.adapters.simulated_format import (
    FIX,
    Broken,
    SimulatedClusterError,
    Unreadable,
    check_file,
    dump_deployment,
    json_mapping,
    load_deployment,
    load_main,
    rounded,
    sample_time,
    timestamp,
)
from reconciler.adapters.simulated_history import SampleHistory
from reconciler.adapters.simulated_model import MAX_PODS, SimDeployment
from reconciler.adapters.simulated_settings import (
    SCENARIOS,
    SETTABLE,
    SettingError,
    SimTarget,
    apply_settings,
    deployment_for,
)
from reconciler.adapters.simulated_store import (
    CLUSTER,
    SAMPLE_FIELDS,
    Key,
    Row,
    SimStore,
    Stale,
    StoreError,
    Write,
    dumps,
)
from reconciler.core import bounds
from reconciler.core.blueprint.units import parse_duration
from reconciler.core.errors import ClusterError, ConfigError, ConflictError, MetricsError
from reconciler.core.observed.changes import Applied, Change, ChangeKind
from reconciler.core.observed.observation import (
    STAMP_ANNOTATION,
    DeploymentState,
    Metrics,
    Sample,
    Target,
)

__all__ = [
    "MAX_PODS",
    "SCENARIOS",
    "SETTABLE",
    "SettingError",
    "SimDeployment",
    "SimTarget",
    "SimulatedCluster",
    "SimulatedClusterError",
    "Unreadable",
    "create",
]


class SimulatedCluster:
    """Cluster, MetricsSource and Clock over one state file (SQLite, see simulated_store).

    Deployments are read when first asked for (a cycle asks for those it manages, in one
    read), and metric samples only for the window a caller asks about, so what a command
    pays grows with what it touches, not with the size of the simulated fleet.
    """

    def __init__(
        self,
        path: Path,
        *,
        clock: datetime,
        deployments: list[SimDeployment],
        settings: dict[str, Any],
        generations: dict[Key, int] | None = None,
    ):
        self.path = path
        self.clock = clock
        self.settings = settings
        self._store = SimStore(path)
        self._loaded: dict[Key, SimDeployment] = {(d.namespace, d.name): d for d in deployments}
        #: True when every stored deployment has been read (always, for a cluster made in
        #: memory, which has no stored rows of its own).
        self._complete = generations is None
        #: The `generation` of each row as this process read or last wrote it (CLUSTER for the
        #: clock and settings); None for a cluster made in memory (`create`), whose first save
        #: replaces what the file held.
        self._generations = generations
        #: Stored deployments that did not read, by key: each is that deployment's error, and
        #: is left as it is for a person to fix.
        self._unreadable: dict[Key, Unreadable] = {}
        self._history = SampleHistory(self._store, path)

    # ---------------------------------------------------------------- persistence

    @classmethod
    def load(cls, path: Path) -> SimulatedCluster:
        """Open the state file: its clock and settings now, deployments when asked for."""
        store = SimStore(path)
        check_file(path, store)
        try:
            row = store.cluster()
            clock, settings = load_main(json_mapping(row.state))
        except (StoreError, Broken) as error:
            raise SimulatedClusterError(
                f"reading the simulated cluster {path}: {error}",
                hint=getattr(error, "hint", "") or FIX,
            ) from None
        return cls(
            path,
            clock=clock,
            deployments=[],
            settings=settings,
            generations={CLUSTER: row.generation},
        )

    @property
    def deployments(self) -> dict[Key, SimDeployment]:
        """Every deployment that reads, by (namespace, name); reads the rest of the file."""
        if not self._complete:
            self._read(None)
            self._complete = True
        return self._loaded

    @property
    def unreadable(self) -> dict[Key, Unreadable]:
        """Every stored deployment that does not read, by (namespace, name)."""
        self.deployments  # noqa: B018 - reading them all is what finds the broken ones
        return self._unreadable

    def _read(self, keys: Sequence[Key] | None) -> None:
        """Read the rows of `keys` (None: every row) not read yet."""
        if self._complete:
            return
        if keys is not None:
            keys = [k for k in keys if k not in self._loaded and k not in self._unreadable]
            if not keys:
                return
        try:
            rows = self._store.rows(keys)
        except StoreError as error:
            raise SimulatedClusterError(
                f"reading the simulated cluster {self.path}: {error}", hint=FIX
            ) from None
        for row in rows:
            if row.key in self._loaded and keys is None:
                continue  # read before, perhaps changed since: this process's copy stands
            self._take(row)

    def _take(self, row: Row) -> None:
        """Parse one stored deployment into memory, or note it as unreadable."""
        assert self._generations is not None
        try:
            deployment = load_deployment(json_mapping(row.state))
            if (deployment.namespace, deployment.name) != row.key:
                raise Broken(
                    f"the row is {'/'.join(row.key)} but its state names "
                    f"{deployment.namespace}/{deployment.name}"
                )
        except Broken as error:
            self._loaded.pop(row.key, None)
            self._unreadable[row.key] = Unreadable(
                file=self.path, deployment="/".join(row.key), problem=str(error), hint=error.hint
            )
            return
        self._unreadable.pop(row.key, None)
        self._loaded[row.key] = deployment
        self._generations[row.key] = row.generation

    def save(self, only: SimDeployment | None = None) -> None:
        """Write the state: the clock, the settings and every deployment read, or only `only`.

        A change to one deployment writes its row alone, so a cycle over a thousand services
        does not rewrite a thousand rows per change.

        Each row carries a `generation`, raised by every write. A row whose generation is no
        longer the one this process read was written by another process meanwhile, and is
        not overwritten: the save is refused (ConflictError) rather than losing that change.
        The check and the writes are one transaction, so they hold across processes.
        """
        chosen = [only] if only is not None else list(self._loaded.values())
        rows = {(d.namespace, d.name): dumps(dump_deployment(d)) for d in chosen}
        samples = self._history.unsaved(None if only is None else rows)
        change = Write(
            cluster=None if only is not None else dumps(self._main()),
            rows=rows,
            known=self._generations,
            samples=samples,
            prune_before=self._history.prune_before if only is None else None,
        )
        try:
            written = self._store.write(change)
        except Stale as stale:
            raise self._conflict(only, stale.keys) from None
        except StoreError as error:
            raise SimulatedClusterError(
                f"writing the simulated cluster {self.path}: {error}", hint=FIX
            ) from None
        generations = dict(self._generations or {})
        generations.update(written)
        self._generations = generations
        self._history.saved(samples, everything=only is None)

    def _main(self) -> dict[str, Any]:
        return {"clock": timestamp(self.clock), "settings": self.settings}

    def _reread(self, d: SimDeployment) -> None:
        """Replace `d` in memory with what the file holds now."""
        key = (d.namespace, d.name)
        self._loaded.pop(key, None)
        rows = self._store.rows([key])
        if rows:
            self._take(rows[0])
        elif self._generations is not None:
            self._generations.pop(key, None)  # deleted by whoever wrote last

    def _conflict(self, only: SimDeployment | None, changed: Sequence[Key]) -> ConflictError:
        names = ", ".join(
            "the clock and settings" if key == CLUSTER else f"deployment {'/'.join(key)}"
            for key in changed
        )
        return ConflictError(
            f"the simulated cluster's state ({names} in {self.path}) was written by "
            "another process since this one read it; not overwriting that change",
            hint="run the command again: it reads the state as it is now",
            service=only.name if only is not None else "",
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "clock": timestamp(self.clock),
            "settings": self.settings,
            "deployments": [
                {**dump_deployment(d), "history": self._history_json(d)}
                for d in self.deployments.values()
            ],
        }

    def _history_json(self, d: SimDeployment) -> list[dict[str, Any]]:
        """A deployment's samples as `sim show -o json` prints them, oldest first."""
        try:
            samples = self._history.samples((d.namespace, d.name), stored=self._stored)
        except MetricsError as error:
            return [{"error": str(error)}]
        return [
            {"at": timestamp(at), **dict(zip(SAMPLE_FIELDS, values, strict=True))}
            for at, *values in samples
        ]

    @property
    def sample_interval(self) -> float:
        return parse_duration(self.settings.get("sample_interval", "15s"))

    @property
    def history_kept(self) -> float:
        return parse_duration(self.settings.get("history_kept", "1h"))

    def set(self, d: SimDeployment, settings: Mapping[str, str]) -> None:
        """Apply `sim set` settings in order (utilization settings use the pods ready then)."""
        apply_settings(d, settings, self.clock)

    def get(self, namespace: str, name: str) -> SimDeployment:
        key = (namespace, name)
        self._read([key])
        broken = self._unreadable.get(key)
        if broken is not None and key not in self._loaded:
            raise ClusterError(broken.message(), hint=broken.hint)
        try:
            return self._loaded[key]
        except KeyError:
            raise ClusterError(
                f"deployment {namespace}/{name} is not in the simulated cluster ({self.path})",
                hint="add it with `reconciler sim init --force` after adding its blueprint",
            ) from None

    # ---------------------------------------------------------------- Clock

    def now(self) -> datetime:
        return self.clock

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)
        self.save()

    def advance(self, seconds: float) -> None:
        """Move the virtual clock, sampling metric history on the way.

        Samples older than `history_kept` at the end would be pruned at once, so they are not
        taken: a move of a year costs no more than the history kept.
        """
        interval = self.sample_interval
        end = bounds.moment(self.clock + timedelta(seconds=seconds), "the clock")
        first = end - timedelta(seconds=self.history_kept + interval)
        if self.clock < first:
            steps = int((first - self.clock).total_seconds() // interval)
            self.clock += timedelta(seconds=steps * interval)
        while self.clock < end:
            step = min(interval, (end - self.clock).total_seconds())
            self.clock += timedelta(seconds=step)
            self.record_samples()
        self.prune_history()

    def record_samples(self) -> None:
        at = sample_time(self.clock)
        for key, deployment in self.deployments.items():
            if deployment.faults.get("metrics_unavailable"):
                continue
            values = deployment.metrics_at(self.clock)
            sample = (at, *(rounded(values[field]) for field in SAMPLE_FIELDS))
            self._history.take(key, sample)  # type: ignore[arg-type]

    def prune_history(self) -> None:
        cutoff = sample_time(self.clock - timedelta(seconds=self.history_kept))
        self._history.prune(cutoff)

    # ---------------------------------------------------------------- Cluster

    def observe(self, targets: Sequence[Target]) -> Mapping[Target, DeploymentState | ClusterError]:
        self._read([(target.namespace, target.name) for target in targets])
        result: dict[Target, DeploymentState | ClusterError] = {}
        for target in targets:
            try:
                d = self.get(target.namespace, target.name)
                result[target] = d.state(self.clock)
            except ClusterError as error:
                result[target] = error
        return result

    def apply(self, change: Change) -> Applied:
        d = self.get(change.target.namespace, change.target.name)
        if change.expected_version and change.expected_version != str(d.version):
            raise ConflictError(
                f"deployment {change.target} changed since it was observed (version "
                f"{change.expected_version}, now {d.version}); not overwriting it",
                hint="the next cycle observes it again",
                service=change.stamp.service,
            )
        if change.kind is ChangeKind.SCALE and (change.replicas or 0) > MAX_PODS:
            raise ClusterError(
                f"the simulated cluster refused to scale {change.target} to {change.replicas} "
                f"replicas: it runs at most {MAX_PODS} pods per deployment",
                hint="the simulated cluster is for demos and tests; ask for fewer replicas, or "
                "set limits.max_replicas in the global policies so such a change is never asked",
                service=change.stamp.service,
            )
        before = {"replicas": d.replicas, "ready": d.ready_pods(self.clock), "revision": d.revision}
        if d.faults.get("scale_fails") and change.kind is ChangeKind.SCALE:
            raise ClusterError(
                f"the simulated API refused to scale {change.target} (fault scale_fails is on)",
                hint="`reconciler sim set SERVICE scale_fails=false` turns the fault off",
                service=change.stamp.service,
            )
        message = d.perform(change, self.clock)
        d.version += 1
        d.annotations[STAMP_ANNOTATION] = change.stamp.dumps()
        try:
            self.save(only=d)
        except ConflictError as error:
            # Nothing was applied: forget the change made in memory, as the files say.
            self._reread(d)
            raise ConflictError(str(error), hint=error.hint, service=change.stamp.service) from None
        after = {"replicas": d.replicas, "ready": d.ready_pods(self.clock), "revision": d.revision}
        return Applied(
            started_at=self.clock,
            completed_at=self.clock,
            message=message,
            before=before,
            after=after,
        )

    # ---------------------------------------------------------------- MetricsSource

    def current(self, targets: Sequence[Target]) -> Mapping[Target, Metrics | MetricsError]:
        self._read([(target.namespace, target.name) for target in targets])
        result: dict[Target, Metrics | MetricsError] = {}
        for target in targets:
            key = (target.namespace, target.name)
            d = self._loaded.get(key)
            if d is None:
                broken = self._unreadable.get(key)
                result[target] = MetricsError(
                    f"no metrics for {target}: "
                    + ("not in the simulated cluster" if broken is None else broken.message())
                )
                continue
            if d.faults.get("metrics_unavailable"):
                result[target] = MetricsError(
                    f"metrics for {target} are unavailable (fault metrics_unavailable is on)"
                )
                continue
            values = d.metrics_at(self.clock)
            result[target] = Metrics(
                cpu_utilization=values["cpu"],
                memory_utilization=values["memory"],
                latency_p95_ms=values["latency"],
                error_rate=values["errors"],
                throughput=values["throughput"],
                observed_at=self.clock,
                source="simulated",
            )
        return result

    def window(self, target: Target, seconds: float, now: datetime) -> Sequence[Sample]:
        key = (target.namespace, target.name)
        self._read([key])
        if key not in self._loaded:
            return []
        start = now - timedelta(seconds=seconds)
        return [
            Sample(
                at=at,
                cpu_utilization=cpu,
                memory_utilization=memory,
                latency_p95_ms=latency,
                error_rate=errors,
            )
            for at, cpu, memory, latency, errors, _throughput in self._history.samples(
                key, start, now, stored=self._stored
            )
        ]

    @property
    def _stored(self) -> bool:
        """Whether this cluster has a file of its own to read samples from (one made in memory
        by `create` has none until it is saved)."""
        return self._generations is not None


def create(
    path: Path,
    targets: Sequence[SimTarget],
    *,
    clock: datetime,
    scenario: str = "steady",
    history: float = 0.0,
) -> SimulatedCluster:
    """A new simulated cluster with one ready deployment per target, optionally with `history`
    seconds of metric history at the starting load (so scale-down evidence exists)."""
    if scenario not in SCENARIOS:
        raise ConfigError(
            f"unknown scenario {scenario!r}", hint=f"use one of {', '.join(SCENARIOS)}"
        )
    start = clock - timedelta(seconds=history)
    deployments = [deployment_for(target, scenario, start) for target in targets]
    sim = SimulatedCluster(
        path,
        clock=start,
        deployments=deployments,
        settings={"sample_interval": "15s", "history_kept": "1h"},
    )
    if history > 0:
        sim.record_samples()
        sim.advance(history)
    sim.clock = clock
    return sim
