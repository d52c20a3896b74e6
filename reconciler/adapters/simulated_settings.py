"""Creating and editing the simulated cluster by hand: `sim init`'s scenarios and the
settings `sim set` accepts.

A setting is said the way a person thinks of it (CPU at 85 %, p95 at 180 ms) and turned into
the load model's inputs under the pods ready at that moment, so settings apply in the order
they are written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from reconciler.adapters.simulated_format import amount, positive
from reconciler.adapters.simulated_model import (
    ERROR_KNEE,
    ERROR_SLOPE,
    MAX_PODS,
    QUEUE_CAP,
    SimDeployment,
    template,
)
from reconciler.core import bounds
from reconciler.core.blueprint.units import (
    UnitError,
    parse_cpu,
    parse_duration,
    parse_latency_ms,
    parse_memory,
    parse_percent,
)
from reconciler.core.errors import ConfigError
from reconciler.core.observed.observation import PAUSE_ANNOTATION

__all__ = [
    "SCENARIOS",
    "SETTABLE",
    "STEADY",
    "SettingError",
    "SimTarget",
    "apply_settings",
    "deployment_for",
]


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

STEADY = {
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


def deployment_for(target: SimTarget, scenario: str, now: datetime) -> SimDeployment:
    """A ready deployment for `target` (`sim init`, `scenario` one of SCENARIOS), at the
    steady load and then the
    scenario's, each setting in its written order: the utilization, latency and error settings
    depend on the replicas and load set before."""
    d = SimDeployment(
        namespace=target.namespace,
        name=target.name,
        replicas=0,
        cpu_request=target.cpu_request or 100,
        memory_request=target.memory_request or 512 * 1024**2,
    )
    d.revisions[1] = template(d)
    steady = {
        "replicas": str(target.replicas),
        **STEADY,
        "latency_p95": f"{target.latency_target_ms / 2:g}ms",
    }
    apply_settings(d, steady, now)
    if target.name in SCENARIOS[scenario]:
        apply_settings(d, SCENARIOS[scenario][target.name], now)
    return d


def apply_settings(d: SimDeployment, settings: Mapping[str, str], now: datetime) -> None:
    """Apply `sim set` settings in order (utilization settings use the pods ready then)."""
    for key, raw in settings.items():
        try:
            _set_one(d, key, raw, now)
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


def _rho(d: SimDeployment, ready: int) -> float:
    return d.rps / (ready * d.capacity) if ready and d.capacity > 0 else QUEUE_CAP


def _set_one(d: SimDeployment, key: str, raw: str, now: datetime) -> None:
    if not (_set_load(d, key, raw, now) or _set_pods(d, key, raw, now)):
        raise ConfigError(
            f"unknown setting {key!r}",
            hint=f"settable: {', '.join(SETTABLE)} (see `reconciler sim set --help`)",
        )


def _set_load(d: SimDeployment, key: str, raw: str, now: datetime) -> bool:
    """The load and the requests: what the metrics are computed from. False: not one of them."""
    ready = max(d.ready_pods(now), 1)
    match key:
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
            d.rps = amount(_number(raw))
        case "capacity":
            d.capacity = amount(_number(raw))
        case "base_latency":
            d.base_latency_ms = parse_latency_ms(raw)
        case "base_error_rate":
            d.base_error_rate = parse_percent(raw)
        case "cpu_request":
            d.cpu_request = positive(parse_cpu)(raw)
        case "memory_request":
            d.memory_request = positive(parse_memory)(raw)
        case "startup":
            d.startup = parse_duration(raw)
        case _:
            return False
    return True


def _set_pods(d: SimDeployment, key: str, raw: str, now: datetime) -> bool:
    """The pods, the release, the annotations and the faults. False: not one of them."""
    match key:
        case "replicas":
            count = _whole_setting(raw, MAX_PODS)
            d.pods = []
            d.add_pods(count, now - timedelta(seconds=d.startup))
            d.replicas = count
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
            return False
    return True


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
