"""SimulatedCluster: a file-backed cluster with a virtual clock and a load model.

It is the embedded default (the README's demo runs on it), the demo's stage, and the tests'
fake cluster. It implements three ports at once: Cluster, MetricsSource and Clock. The clock is
virtual: `advance` (or the cycle's `sleep`) moves it, new pods become ready when their start-up
time has passed, and metric history is sampled as time goes by. A demo's minutes pass in
milliseconds, and every run is reproducible.

The state lives in one SQLite file (`simulated_store`; docs/simulated-cluster.md): a person
reads it with `reconciler sim show` and changes it with `reconciler sim set`.

Load model, per deployment (totals across ready pods):

- CPU utilization = cpu used / (ready pods × cpu request); memory likewise.
- Queueing: ρ = requests per second / (ready pods × capacity per pod);
  p95 latency = base latency / (1 - min(ρ, 0.98)).
- Errors: base error rate, plus 25 % of the overload beyond ρ = 0.85.

So fewer pods mean higher utilization, latency and errors, which is what lets a scale-down be
harmful and a verification catch it.
"""

from __future__ import annotations

import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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
    is_sqlite,
    loads,
)
from reconciler.adapters.simulated_store import Sample as StoredSample
from reconciler.core import bounds
from reconciler.core.blueprint.units import (
    UnitError,
    format_cpu,
    format_memory,
    parse_cpu,
    parse_duration,
    parse_memory,
)
from reconciler.core.errors import ClusterError, ConfigError, ConflictError, MetricsError
from reconciler.core.observed.changes import Applied, Change, ChangeKind
from reconciler.core.observed.observation import (
    PAUSE_ANNOTATION,
    STAMP_ANNOTATION,
    ChangeStamp,
    DeploymentState,
    Metrics,
    PodState,
    Sample,
    Target,
    pause_value,
)

__all__ = [
    "MAX_PODS",
    "SettingError",
    "SimDeployment",
    "SimulatedCluster",
    "SimulatedClusterError",
    "Unreadable",
]

#: The most pods one simulated deployment runs: the simulation keeps every pod, and it is for
#: demos and tests. A change asking for more is refused as that deployment's error.
MAX_PODS = 1000
#: The most metric samples kept per deployment (history_kept / sample_interval).
MAX_SAMPLES = 10_000

QUEUE_CAP = 0.98
ERROR_KNEE = 0.85
ERROR_SLOPE = 0.25


#: A sample as read back: its time, then the values of SAMPLE_FIELDS (None where none).
Checked = tuple[datetime, float | None, float | None, float | None, float | None, float | None]


class SimulatedClusterError(ConfigError):
    """The state file is missing or unreadable."""


class SettingError(ConfigError):
    """A `sim set` value that cannot be used, with what is wrong with it as a value of its own,
    so that `sim set` can put it beside an example without taking the message apart."""

    def __init__(
        self, deployment: str, key: str, raw: str, problem: str, *, hint: str, unaccepted: bool
    ) -> None:
        super().__init__(f"{deployment}: {key}={raw}: {problem}", hint=hint)
        self.key = key
        #: What is wrong with the value, without the setting's name.
        self.problem = problem
        #: The value is none of the accepted ones, which the hint lists.
        self.unaccepted = unaccepted


class _NotAccepted(ConfigError):
    """A value that is none of a setting's few accepted ones (the hint lists them)."""


def _ts(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_ts(text: str | datetime) -> datetime:
    if isinstance(text, datetime):
        return text if text.tzinfo else text.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(text).replace("Z", "+00:00"))


#: A crash-looping pod restarts this often (a simplified CrashLoopBackOff).
CRASH_PERIOD = 30.0


@dataclass
class SimPod:
    name: str
    started: datetime
    ready_at: datetime | None  # None: never becomes ready
    restarts: int = 0
    crashing: bool = False
    revision: int = 1
    #: When the pod started crash-looping; its restart count grows from then on.
    crash_since: datetime | None = None

    def ready(self, now: datetime) -> bool:
        return not self.crashing and self.ready_at is not None and self.ready_at <= now

    def restart_count(self, now: datetime) -> int:
        if not self.crashing or self.crash_since is None:
            return self.restarts
        return self.restarts + int((now - self.crash_since).total_seconds() // CRASH_PERIOD)


@dataclass
class SimDeployment:
    """One simulated deployment and its load. Mutable: it is the simulation's own state."""

    namespace: str
    name: str
    replicas: int
    cpu_request: int = 100
    memory_request: int = 512 * 1024**2
    cpu_limit: int | None = None
    memory_limit: int | None = None
    startup: float = 45.0
    revision: int = 1
    version: int = 1
    pods: list[SimPod] = field(default_factory=list)
    # Load (totals across ready pods).
    cpu_used: float = 100.0  # millicores
    memory_used: float = 512.0 * 1024**2  # bytes
    rps: float = 100.0
    capacity: float = 100.0
    base_latency_ms: float = 50.0
    base_error_rate: float = 0.002
    faults: dict[str, bool] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    revisions: dict[int, dict[str, Any]] = field(default_factory=dict)
    pod_counter: int = 0

    @property
    def bad(self) -> bool:
        """Whether the current revision's pods crash (a broken release)."""
        return bool(self.revisions.get(self.revision, {}).get("bad", False))

    @property
    def target(self) -> Target:
        return Target(namespace=self.namespace, name=self.name)

    def ready_pods(self, now: datetime) -> int:
        return sum(1 for pod in self.pods if pod.ready(now))

    def metrics_at(self, now: datetime) -> dict[str, float | None]:
        ready = self.ready_pods(now)
        if ready == 0:
            return {
                "cpu": None,
                "memory": None,
                "latency": None,
                "errors": None,
                "throughput": None,
            }
        rho = self.rps / (ready * self.capacity) if self.capacity > 0 else QUEUE_CAP
        latency = self.base_latency_ms / (1 - min(rho, QUEUE_CAP))
        errors = min(1.0, self.base_error_rate + max(0.0, rho - ERROR_KNEE) * ERROR_SLOPE)
        return {
            "cpu": self.cpu_used / (ready * self.cpu_request),
            "memory": self.memory_used / (ready * self.memory_request),
            "latency": latency,
            "errors": errors,
            "throughput": min(self.rps, ready * self.capacity),
        }

    def add_pods(self, count: int, now: datetime) -> None:
        never = self.faults.get("pods_never_ready", False)
        bad = self.bad
        for _ in range(count):
            self.pod_counter += 1
            ready_at = None if never else now + timedelta(seconds=self.startup)
            self.pods.append(
                SimPod(
                    name=f"{self.name}-{self.revision}-{self.pod_counter:04d}",
                    started=now,
                    ready_at=ready_at,
                    revision=self.revision,
                    crashing=bad,
                    crash_since=now if bad else None,
                )
            )

    def new_revision(self, now: datetime, *, bad: bool = False) -> None:
        """A rollout: a new pod template revision, and every pod replaced."""
        self.revisions.setdefault(self.revision, _template(self))
        self.revision = max(self.revisions) + 1
        self.revisions[self.revision] = {**_template(self), "bad": bad}
        self.roll_pods(now)

    def remove_pods(self, count: int, now: datetime) -> None:
        # Like the ReplicaSet controller: not-ready pods go first, then the youngest.
        order = sorted(self.pods, key=lambda p: (p.ready(now), -p.started.timestamp()))
        doomed = {id(pod) for pod in order[:count]}
        self.pods = [pod for pod in self.pods if id(pod) not in doomed]

    def roll_pods(self, now: datetime) -> None:
        """Replace every pod, as a rollout does (new pods need their start-up time)."""
        count = self.replicas
        self.pods = []
        self.add_pods(count, now)


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
        #: Samples taken since the last save, by deployment; and the time before which stored
        #: samples are no longer kept.
        self._pending: dict[Key, list[StoredSample]] = {}
        self._prune_before: str | None = None

    # ---------------------------------------------------------------- persistence

    @classmethod
    def load(cls, path: Path) -> SimulatedCluster:
        """Open the state file: its clock and settings now, deployments when asked for."""
        store = SimStore(path)
        if not store.exists():
            legacy = _legacy_file(path)
            if legacy is not None:
                raise _legacy_error(legacy, path)
            raise SimulatedClusterError(
                f"no simulated cluster at {path}",
                hint="create one with `reconciler sim init` (it reads the blueprints)",
            )
        kind = _not_a_file(path)
        if kind:
            raise SimulatedClusterError(
                f"reading the simulated cluster {path}: it is {kind}, not a state file",
                hint="point --sim-state at the state file, or remove what is there and create "
                "one with `reconciler sim init`",
            )
        if not is_sqlite(path):
            if _legacy_file(path) is not None:
                raise _legacy_error(path, path)
            raise SimulatedClusterError(
                f"reading the simulated cluster {path}: it is not a state file (an SQLite "
                "file written by `reconciler sim init`)",
                hint="point --sim-state at the state file, or create one with "
                "`reconciler sim init --force`",
            )
        try:
            row = store.cluster()
            clock, settings = _load_main(_json_mapping(row.state))
        except (StoreError, _Broken) as error:
            raise SimulatedClusterError(
                f"reading the simulated cluster {path}: {error}",
                hint=getattr(error, "hint", "") or _FIX,
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
                f"reading the simulated cluster {self.path}: {error}", hint=_FIX
            ) from None
        for row in rows:
            if row.key in self._loaded and keys is None:
                continue  # read before, perhaps changed since: this process's copy stands
            self._take(row)

    def _take(self, row: Row) -> None:
        """Parse one stored deployment into memory, or note it as unreadable."""
        assert self._generations is not None
        try:
            deployment = _load_deployment(_json_mapping(row.state))
            if (deployment.namespace, deployment.name) != row.key:
                raise _Broken(
                    f"the row is {'/'.join(row.key)} but its state names "
                    f"{deployment.namespace}/{deployment.name}"
                )
        except _Broken as error:
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
        rows = {(d.namespace, d.name): dumps(_dump_deployment(d)) for d in chosen}
        samples = (
            dict(self._pending)
            if only is None
            else {key: self._pending[key] for key in rows if key in self._pending}
        )
        change = Write(
            cluster=None if only is not None else dumps(self._main()),
            rows=rows,
            known=self._generations,
            samples=samples,
            prune_before=self._prune_before if only is None else None,
        )
        try:
            written = self._store.write(change)
        except Stale as stale:
            raise self._conflict(only, stale.keys) from None
        except StoreError as error:
            raise SimulatedClusterError(
                f"writing the simulated cluster {self.path}: {error}", hint=_FIX
            ) from None
        generations = dict(self._generations or {})
        generations.update(written)
        self._generations = generations
        for key in samples:
            self._pending.pop(key, None)
        if only is None:
            self._prune_before = None

    def _main(self) -> dict[str, Any]:
        return {"clock": _ts(self.clock), "settings": self.settings}

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
            "clock": _ts(self.clock),
            "settings": self.settings,
            "deployments": [
                {**_dump_deployment(d), "history": self._history_json(d)}
                for d in self.deployments.values()
            ],
        }

    def _history_json(self, d: SimDeployment) -> list[dict[str, Any]]:
        """A deployment's samples as `sim show -o json` prints them, oldest first."""
        try:
            samples = self._samples((d.namespace, d.name))
        except MetricsError as error:
            return [{"error": str(error)}]
        return [
            {"at": _ts(at), **dict(zip(SAMPLE_FIELDS, values, strict=True))}
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
        for key, raw in settings.items():
            try:
                _set_one(self, d, key, raw)
            except (ConfigError, UnitError, ValueError) as error:
                hint = getattr(error, "hint", "") or SETTABLE.get(key, "")
                raise SettingError(
                    d.name,
                    key,
                    raw,
                    str(error),
                    hint=hint,
                    unaccepted=isinstance(error, _NotAccepted),
                ) from None
        d.version += 1

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
        at = _at(self.clock)
        for key, deployment in self.deployments.items():
            if deployment.faults.get("metrics_unavailable"):
                continue
            values = deployment.metrics_at(self.clock)
            sample = (at, *(_rounded(values[field]) for field in SAMPLE_FIELDS))
            self._pending.setdefault(key, []).append(sample)  # type: ignore[arg-type]

    def prune_history(self) -> None:
        cutoff = _at(self.clock - timedelta(seconds=self.history_kept))
        for key, samples in self._pending.items():
            self._pending[key] = [sample for sample in samples if sample[0] >= cutoff]
        self._prune_before = max(cutoff, self._prune_before or cutoff)

    # ---------------------------------------------------------------- Cluster

    def observe(self, targets: Sequence[Target]) -> Mapping[Target, DeploymentState | ClusterError]:
        self._read([(target.namespace, target.name) for target in targets])
        result: dict[Target, DeploymentState | ClusterError] = {}
        for target in targets:
            try:
                result[target] = self.state_of(self.get(target.namespace, target.name))
            except ClusterError as error:
                result[target] = error
        return result

    def state_of(self, d: SimDeployment) -> DeploymentState:
        stamp = d.annotations.get(STAMP_ANNOTATION)
        return DeploymentState(
            target=d.target,
            replicas=d.replicas,
            ready_replicas=d.ready_pods(self.clock),
            pods=tuple(
                PodState(
                    name=pod.name,
                    ready=pod.ready(self.clock),
                    phase="Running" if pod.ready_at and pod.ready_at <= self.clock else "Pending",
                    restart_count=pod.restart_count(self.clock),
                    reason="CrashLoopBackOff" if pod.crashing else "",
                    revision=pod.revision,
                )
                for pod in d.pods
            ),
            cpu_request=d.cpu_request,
            memory_request=d.memory_request,
            cpu_limit=d.cpu_limit,
            memory_limit=d.memory_limit,
            revision=d.revision,
            version=str(d.version),
            last_change=ChangeStamp.loads(stamp) if stamp else None,
            observed_at=self.clock,
            paused=pause_value(d.annotations),
        )

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
        message = self._perform(d, change)
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

    def _perform(self, d: SimDeployment, change: Change) -> str:
        now = self.clock
        match change.kind:
            case ChangeKind.SCALE:
                assert change.replicas is not None
                if change.replicas > d.replicas:
                    d.add_pods(change.replicas - d.replicas, now)
                else:
                    d.remove_pods(d.replicas - change.replicas, now)
                d.replicas = change.replicas
                return f"deployment.apps/{d.name} scaled"
            case ChangeKind.RESTART:
                d.new_revision(now, bad=d.bad)
                return f"deployment.apps/{d.name} restarted"
            case ChangeKind.ROLLBACK:
                d.revisions.setdefault(d.revision, _template(d))
                earlier = sorted(r for r in d.revisions if r < d.revision)
                wanted = change.to_revision or (earlier[-1] if earlier else None)
                if wanted is None or wanted not in d.revisions:
                    raise ClusterError(
                        f"deployment {change.target} has no earlier revision to roll back to",
                        service=change.stamp.service,
                    )
                template = d.revisions.pop(wanted)
                d.cpu_request = template["cpu_request"]
                d.memory_request = template["memory_request"]
                d.revision = max([*d.revisions, wanted]) + 1
                d.revisions[d.revision] = template
                d.roll_pods(now)
                return f"deployment.apps/{d.name} rolled back"
            case ChangeKind.RESOURCES:
                cpu = d.cpu_request if change.cpu_request is None else change.cpu_request
                memory = (
                    d.memory_request if change.memory_request is None else change.memory_request
                )
                if (cpu, memory) != (d.cpu_request, d.memory_request):
                    # As on Kubernetes, only a changed pod template starts a rollout.
                    d.cpu_request, d.memory_request = cpu, memory
                    d.new_revision(now, bad=d.bad)
                return f"deployment.apps/{d.name} resource requirements updated"
        raise AssertionError(change.kind)  # pragma: no cover

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
            for at, cpu, memory, latency, errors, _throughput in self._samples(key, start, now)
        ]

    def _samples(
        self, key: Key, start: datetime | None = None, end: datetime | None = None
    ) -> list[Checked]:
        """A deployment's samples from `start` to `end`, oldest first: those stored (still
        kept) and those taken since the last save, each value checked as it is read."""
        low = "" if start is None else _at(start)
        high = "\uffff" if end is None else _at(end)
        stored: list[tuple[Any, ...]] = []
        if self._generations is not None and self._store.exists():
            try:
                stored = self._store.samples(key, max(low, self._prune_before or ""), high)
            except StoreError as error:
                raise MetricsError(
                    f"reading the metric history of {'/'.join(key)} in {self.path}: {error}"
                ) from None
        fresh = [s for s in self._pending.get(key, ()) if low <= s[0] <= high]
        result = []
        for at, *values in [*stored, *fresh]:
            try:
                sample = {"at": at, **dict(zip(SAMPLE_FIELDS, values, strict=True))}
                checked = tuple(
                    _field(sample, name, _amount, None) if sample[name] is not None else None
                    for name in SAMPLE_FIELDS
                )
                moment = _field(sample, "at", _time)
            except _Broken as error:
                raise MetricsError(
                    f"reading the simulated deployment {'/'.join(key)} in {self.path}: "
                    f"history at {at}: {error}"
                ) from None
            result.append((moment, *checked))
        return result


def _at(moment: datetime) -> str:
    """A sample's time as stored: fixed-width, so the order of the text is that of time."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _json_mapping(text: str) -> Mapping[str, Any]:
    try:
        data = loads(text)
    except ValueError as error:
        raise _Broken(f"not valid JSON ({error})") from None
    if not isinstance(data, Mapping):
        raise _Broken("expected a mapping of fields, got " + type(data).__name__)
    return data


def _not_a_file(path: Path) -> str:
    """What stands at `path` when it is not a regular file ("" when it is one): a pipe or a
    device there would block or mislead every command that reads the state."""
    try:
        mode = path.stat().st_mode
    except OSError as error:
        return f"unreadable ({error.strerror or error})"
    if stat.S_ISREG(mode):
        return ""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a device"


def _legacy_file(path: Path) -> Path | None:
    """The state file of the earlier YAML format (one file per deployment in a folder beside
    it) at `path`, or at the YAML name of the default path; None when there is none."""
    for candidate in (path, path.with_suffix(".yaml")):
        folder = candidate.with_name(candidate.name + ".d")
        if candidate.is_file() and not is_sqlite(candidate) and folder.is_dir():
            return candidate
    return None


def _legacy_error(legacy: Path, path: Path) -> SimulatedClusterError:
    return SimulatedClusterError(
        f"{legacy} is a simulated cluster in the earlier YAML format (a file per deployment), "
        f"which this version no longer reads; it keeps the state in one SQLite file ({path})",
        hint="start a new one with `reconciler sim init --force` (the simulated cluster is "
        f"for demos and tests; {legacy.name} and the folder {legacy.name}.d can be deleted)",
    )


def _template(d: SimDeployment) -> dict[str, Any]:
    current = d.revisions.get(d.revision, {})
    return {
        "cpu_request": d.cpu_request,
        "memory_request": d.memory_request,
        "bad": bool(current.get("bad", False)),
    }


class _Broken(ValueError):
    """A state file's content that cannot be used: which field, what is wrong, and the fix."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint or _FIX


_FIX = (
    "recreate it with `reconciler sim init --force` (`reconciler sim show -o json` shows what "
    "it holds)"
)


@dataclass(frozen=True, kw_only=True)
class Unreadable:
    """A stored deployment that did not read: that one deployment's error."""

    file: Path
    #: namespace/name
    deployment: str
    problem: str
    hint: str

    def message(self) -> str:
        return f"reading the simulated deployment {self.deployment} in {self.file}: {self.problem}"


_MISSING = object()


def _field(
    node: Mapping[str, Any], key: str, parse: Any, default: Any = _MISSING, *, at: str = ""
) -> Any:
    """`node[key]` parsed, or `_Broken` naming the field (`at` is the section's path): the one
    place every value of a state file is read, so each is bounded and each error says where."""
    value = node.get(key)
    if value is None:
        if default is _MISSING:
            raise _Broken(f"missing field `{at}{key}`")
        value = default
    try:
        return parse(value)
    except (UnitError, bounds.OutOfRange, _Broken) as error:
        raise _Broken(f"{at}{key}: {error}", getattr(error, "hint", "")) from None
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise _Broken(f"{at}{key}: {value!r} cannot be read ({error})") from None


def _section(node: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = node.get(key) or {}
    if not isinstance(value, Mapping):
        raise _Broken(f"{key}: expected a mapping, got {type(value).__name__}")
    return value


def _items(node: Mapping[str, Any], key: str, most: int) -> list[Any]:
    value = node.get(key) or []
    if not isinstance(value, list):
        raise _Broken(f"{key}: expected a list, got {type(value).__name__}")
    if len(value) > most:
        raise _Broken(f"{key}: {len(value)} entries, more than the {most} kept")
    return value


def _time(value: object) -> datetime:
    if not isinstance(value, str | datetime):
        raise _Broken(f"{value!r} is not a time", "write a time such as 2026-02-10T15:30:00Z")
    try:
        moment = _parse_ts(value)
    except ValueError:
        raise _Broken(
            f"{value!r} is not a time", "write a time such as 2026-02-10T15:30:00Z"
        ) from None
    return bounds.moment(moment)


def _optional_time(value: object) -> datetime | None:
    return None if value in (None, "") else _time(value)


def _whole(low: int = 0, high: int = bounds.COUNT_MAX) -> Any:
    return lambda value: bounds.count(value, low=low, high=high)


def _pod_count(value: object) -> int:
    try:
        return bounds.count(value, high=MAX_PODS)
    except bounds.OutOfRange as error:
        why = f"{error} (the simulated cluster runs at most {MAX_PODS} pods)"
        raise _Broken(why, error.hint) from None


def _amount(value: object) -> float:
    return bounds.finite(value)


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise _Broken(f"{value!r} is not true or false", "write true or false")
    return value


def _positive(parse: Any) -> Any:
    """A CPU or memory request: the load model divides by it, so 0 cannot be used."""

    def parsed(value: object) -> int:
        result: int = parse(value)
        if result <= 0:
            raise _Broken(f"{value!r} is not above 0", "a request is above 0, e.g. 100m or 512Mi")
        return result

    return parsed


def _load_main(data: Mapping[str, Any]) -> tuple[datetime, dict[str, Any]]:
    """The clock and the settings, each bounded: a sample interval of 0 would never end."""
    clock = _field(data, "clock", _time)
    settings = dict(_section(data, "settings"))
    interval = _field(settings, "sample_interval", parse_duration, "15s", at="settings.")
    kept = _field(settings, "history_kept", parse_duration, "1h", at="settings.")
    if interval < 1:
        raise _Broken(
            f"settings.sample_interval: {settings.get('sample_interval')!r} is shorter than 1s",
            "sample every second or less often, e.g. sample_interval: 15s",
        )
    if kept / interval > MAX_SAMPLES:
        raise _Broken(
            f"settings.history_kept: {settings.get('history_kept')!r} at one sample every "
            f"{settings.get('sample_interval')!r} is {kept / interval:.0f} samples, more than "
            f"the {MAX_SAMPLES} kept per deployment",
            "keep less history or sample less often, e.g. history_kept: 1h, sample_interval: 15s",
        )
    return clock, settings


def _load_deployment(item: Mapping[str, Any]) -> SimDeployment:
    load = _section(item, "load")
    requests = _section(item, "requests")
    limits = _section(item, "limits")
    faults = _section(item, "faults")

    def amount(key: str, default: float) -> float:
        value: float = _field(load, key, _amount, default, at="load.")
        return value

    d = SimDeployment(
        namespace=_field(item, "namespace", str),
        name=_field(item, "name", str),
        replicas=_field(item, "replicas", _pod_count),
        cpu_request=_field(requests, "cpu", _positive(parse_cpu), "100m", at="requests."),
        memory_request=_field(requests, "memory", _positive(parse_memory), "512Mi", at="requests."),
        cpu_limit=_field(limits, "cpu", parse_cpu, at="limits.") if "cpu" in limits else None,
        memory_limit=(
            _field(limits, "memory", parse_memory, at="limits.") if "memory" in limits else None
        ),
        startup=_field(item, "startup", parse_duration, "45s"),
        revision=_field(item, "revision", _whole(1), 1),
        version=_field(item, "version", _whole(), 1),
        cpu_used=amount("cpu_millicores", 100),
        memory_used=amount("memory_mebibytes", 512) * 1024**2,
        rps=amount("requests_per_second", 100),
        capacity=amount("capacity_per_pod", 100),
        base_latency_ms=amount("base_latency_ms", 50),
        base_error_rate=amount("base_error_rate", 0.002),
        faults={str(key): _field(faults, key, _flag, at="faults.") for key in faults},
        annotations={str(k): str(v) for k, v in _section(item, "annotations").items()},
        revisions={
            _revision_key(k): _template_of(v) for k, v in _section(item, "revisions").items()
        },
        pod_counter=_field(item, "pod_counter", _whole(), 0),
    )
    d.pods = [_pod(pod, d.revision) for pod in _items(item, "pods", MAX_PODS)]
    return d


def _pod(pod: object, revision: int) -> SimPod:
    if not isinstance(pod, Mapping):
        raise _Broken(f"pods: an entry is {type(pod).__name__}, not a mapping")
    try:
        return SimPod(
            name=_field(pod, "name", str),
            started=_field(pod, "started", _time),
            ready_at=_field(pod, "ready_at", _optional_time, ""),
            restarts=_field(pod, "restarts", _whole(), 0),
            crashing=_field(pod, "crashing", _flag, False),
            revision=_field(pod, "revision", _whole(1), revision),
            crash_since=_field(pod, "crash_since", _optional_time, ""),
        )
    except _Broken as error:
        raise _Broken(f"pods[{pod.get('name', '?')}].{error}", error.hint) from None


def _revision_key(key: object) -> int:
    try:
        return bounds.count(int(str(key)), low=1)
    except (ValueError, bounds.OutOfRange):
        raise _Broken(f"revisions: {key!r} is not a revision number") from None


def _template_of(value: object) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise _Broken(f"revisions: an entry is {type(value).__name__}, not a mapping")
    return {
        "cpu_request": _field(value, "cpu_request", _whole(1, bounds.CPU_MAX_MILLICORES)),
        "memory_request": _field(value, "memory_request", _whole(1, bounds.MEMORY_MAX_BYTES)),
        "bad": _field(value, "bad", _flag, False),
    }


def _dump_deployment(d: SimDeployment) -> dict[str, Any]:
    return {
        "namespace": d.namespace,
        "name": d.name,
        "replicas": d.replicas,
        "revision": d.revision,
        "version": d.version,
        "startup": f"{d.startup:g}s",
        "requests": {"cpu": format_cpu(d.cpu_request), "memory": format_memory(d.memory_request)},
        "limits": {
            k: v
            for k, v in (
                ("cpu", format_cpu(d.cpu_limit) if d.cpu_limit else None),
                ("memory", format_memory(d.memory_limit) if d.memory_limit else None),
            )
            if v
        },
        "load": {
            "cpu_millicores": round(d.cpu_used, 6),
            "memory_mebibytes": round(d.memory_used / 1024**2, 6),
            "requests_per_second": round(d.rps, 6),
            "capacity_per_pod": round(d.capacity, 6),
            "base_latency_ms": round(d.base_latency_ms, 6),
            "base_error_rate": round(d.base_error_rate, 6),
        },
        "faults": d.faults,
        "annotations": d.annotations,
        "pods": [
            {
                "name": pod.name,
                "started": _ts(pod.started),
                "ready_at": _ts(pod.ready_at) if pod.ready_at else None,
                "restarts": pod.restarts,
                "crashing": pod.crashing,
                "revision": pod.revision,
                "crash_since": _ts(pod.crash_since) if pod.crash_since else None,
            }
            for pod in d.pods
        ],
        "pod_counter": d.pod_counter,
        "revisions": {str(k): v for k, v in sorted(d.revisions.items())},
    }


# ---------------------------------------------------------------------- creating and editing

#: Loads `sim init --scenario` can start from. `steady` sits every service inside its
#: thresholds; `seed` is the seed scenario: todo-frontend under high load (CPU 85 %,
#: memory 70 %, p95 180 ms at 2 replicas), everything else steady.
SCENARIOS: Mapping[str, Mapping[str, Mapping[str, str]]] = {
    "steady": {},
    "seed": {
        "todo-frontend": {
            "replicas": "2",
            "cpu_request": "100m",
            "memory_request": "512Mi",
            "capacity": "100",
            "rps": "170",
            "cpu_utilization": "85%",
            "memory_utilization": "70%",
            "latency_p95": "180ms",
            "error_rate": "0.5%",
        },
        "todo-backend": {
            "replicas": "2",
            "capacity": "100",
            "rps": "90",
            "cpu_utilization": "45%",
            "memory_utilization": "50%",
            "latency_p95": "100ms",
            "error_rate": "0.2%",
        },
    },
}

_STEADY = {
    "capacity": "100",
    "rps": "100",
    "cpu_utilization": "50%",
    "memory_utilization": "50%",
    "error_rate": "0.2%",
}


@dataclass(frozen=True, kw_only=True)
class SimTarget:
    """What `sim init` needs to know about a service (taken from its blueprint)."""

    namespace: str
    name: str
    replicas: int
    cpu_request: int | None
    memory_request: int | None
    latency_target_ms: float


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
    sim = SimulatedCluster(
        path, clock=start, deployments=[], settings={"sample_interval": "15s", "history_kept": "1h"}
    )
    for target in targets:
        d = SimDeployment(
            namespace=target.namespace,
            name=target.name,
            replicas=0,
            cpu_request=target.cpu_request or 100,
            memory_request=target.memory_request or 512 * 1024**2,
        )
        d.revisions[1] = _template(d)
        sim.deployments[(d.namespace, d.name)] = d
        # Steady first, then the scenario's own settings, each in its written order: the
        # utilization, latency and error settings depend on the replicas and load set before.
        sim.set(
            d,
            {
                "replicas": str(target.replicas),
                **_STEADY,
                "latency_p95": f"{target.latency_target_ms / 2:g}ms",
            },
        )
        if target.name in SCENARIOS[scenario]:
            sim.set(d, SCENARIOS[scenario][target.name])
    if history > 0:
        sim.record_samples()
        sim.advance(history)
    sim.clock = clock
    return sim


_BOOLEAN_FAULTS = ("scale_fails", "pods_never_ready", "metrics_unavailable")

#: Keys `sim set` accepts, and what they mean (also in docs/simulated-cluster.md).
SETTABLE: Mapping[str, str] = {
    "replicas": "replicas now, all pods ready (as if set up by hand)",
    "cpu_utilization": "CPU usage / request at the current ready pods, e.g. 85%",
    "memory_utilization": "memory usage / request at the current ready pods, e.g. 70%",
    "latency_p95": "p95 latency now, e.g. 180ms (sets the base latency under the current load)",
    "error_rate": "error rate now, e.g. 0.5% (sets the base error rate under the current load)",
    "rps": "requests per second in total",
    "capacity": "requests per second one pod serves before queueing grows",
    "base_latency": "p95 latency with no queueing, e.g. 27ms",
    "base_error_rate": "error rate with no overload, e.g. 0.2%",
    "cpu_request": "CPU request per pod, e.g. 100m",
    "memory_request": "memory request per pod, e.g. 512Mi",
    "startup": "time a new pod takes to become ready, e.g. 45s",
    "restarts": "restart count of every pod",
    "crashing": "true makes every pod crash-loop (not ready); restarts grow every 30s",
    "crashing_pods": "the first N pods crash-loop (not ready); restarts grow every 30s",
    "release": "good or bad: roll out a new revision; a bad one's pods crash-loop",
    "paused": "the reconciler/paused annotation: true (or a reason) pauses, false removes it",
    **dict.fromkeys(_BOOLEAN_FAULTS, "fault switch: true or false"),
}


def _rho(d: SimDeployment, ready: int) -> float:
    return d.rps / (ready * d.capacity) if ready and d.capacity > 0 else QUEUE_CAP


def _set_one(sim: SimulatedCluster, d: SimDeployment, key: str, raw: str) -> None:
    from reconciler.core.blueprint.units import parse_latency_ms, parse_percent

    now = sim.clock
    ready = max(d.ready_pods(now), 1)
    match key:
        case "replicas":
            count = _whole_setting(raw, MAX_PODS)
            d.pods = []
            d.add_pods(count, now - timedelta(seconds=d.startup))
            d.replicas = count
        case "cpu_utilization":
            d.cpu_used = parse_percent(raw) * ready * d.cpu_request
        case "memory_utilization":
            d.memory_used = parse_percent(raw) * ready * d.memory_request
        case "latency_p95":
            d.base_latency_ms = parse_latency_ms(raw) * (1 - min(_rho(d, ready), QUEUE_CAP))
        case "error_rate":
            overload = max(0.0, _rho(d, ready) - ERROR_KNEE) * ERROR_SLOPE
            d.base_error_rate = max(0.0, parse_percent(raw) - overload)
        case "rps":
            d.rps = _amount(_number(raw))
        case "capacity":
            d.capacity = _amount(_number(raw))
        case "base_latency":
            d.base_latency_ms = parse_latency_ms(raw)
        case "base_error_rate":
            d.base_error_rate = parse_percent(raw)
        case "cpu_request":
            d.cpu_request = _positive(parse_cpu)(raw)
        case "memory_request":
            d.memory_request = _positive(parse_memory)(raw)
        case "startup":
            d.startup = parse_duration(raw)
        case "restarts":
            restarts = _whole_setting(raw, bounds.COUNT_MAX)
            for pod in d.pods:
                pod.restarts = restarts
        case "crashing":
            for pod in d.pods:
                pod.crashing = _boolean(raw)
                pod.crash_since = now if pod.crashing else None
        case "crashing_pods":
            count = _whole_setting(raw, bounds.COUNT_MAX)
            for index, pod in enumerate(d.pods):
                pod.crashing = index < count
                pod.crash_since = now if pod.crashing else None
        case "release":
            if raw not in {"good", "bad"}:
                raise _NotAccepted("not an accepted value", hint="release=good or release=bad")
            d.new_revision(now, bad=raw == "bad")
        case "paused":
            # As `kubectl annotate deployment NAME reconciler/paused=VALUE` would.
            if raw.lower() == "false":
                d.annotations.pop(PAUSE_ANNOTATION, None)
            else:
                d.annotations[PAUSE_ANNOTATION] = raw
        case fault if fault in _BOOLEAN_FAULTS:
            d.faults[fault] = _boolean(raw)
        case _:
            raise ConfigError(
                f"unknown setting {key!r}",
                hint=f"settable: {', '.join(SETTABLE)} (see `reconciler sim set --help`)",
            )


def _whole_setting(raw: str, most: int) -> int:
    """A count given to `sim set`: from 0 to `most` (for replicas, the pods the simulation
    runs), so a typo of a few zeros cannot make it build a hundred million pods."""
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{raw!r} is not a whole number", hint="") from None
    try:
        return bounds.count(value, high=most)
    except bounds.OutOfRange as error:
        why = f" (the simulated cluster runs at most {MAX_PODS} pods)" if most == MAX_PODS else ""
        raise ConfigError(f"{error}{why}", hint=error.hint) from None


def _number(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{raw!r} is not a number", hint="") from None


def _boolean(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"true", "yes", "on", "1"}:
        return True
    if lowered in {"false", "no", "off", "0"}:
        return False
    raise ConfigError(f"{raw!r} is not true or false", hint="write true or false")
