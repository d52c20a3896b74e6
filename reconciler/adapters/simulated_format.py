"""The simulated cluster's state as stored: each value read back bounded, or named as broken.

Every value of the state file is read through `read_field`, so each is bounded where it is
parsed and each error names the field and the fix; a deployment that does not read is that
deployment's error (`Unreadable`), not the cluster's. Writing is the mirror image
(`dump_deployment`), in the JSON `reconciler sim show -o json` prints.
"""

from __future__ import annotations

import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler.adapters.simulated_model import MAX_PODS, MAX_SAMPLES, SimDeployment, SimPod
from reconciler.adapters.simulated_store import SAMPLE_FIELDS, SimStore, is_sqlite, loads
from reconciler.core import bounds
from reconciler.core.blueprint.units import (
    UnitError,
    format_cpu,
    format_memory,
    parse_cpu,
    parse_duration,
    parse_memory,
)
from reconciler.core.errors import ConfigError

__all__ = [
    "FIX",
    "Broken",
    "Checked",
    "SimulatedClusterError",
    "Unreadable",
    "amount",
    "check_file",
    "check_sample",
    "dump_deployment",
    "json_mapping",
    "load_deployment",
    "load_main",
    "positive",
    "read_field",
    "rounded",
    "sample_time",
    "timestamp",
]

#: A sample as read back: its time, then the values of SAMPLE_FIELDS (None where none).
Checked = tuple[datetime, float | None, float | None, float | None, float | None, float | None]


class SimulatedClusterError(ConfigError):
    """The state file is missing or unreadable."""


def timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_timestamp(text: str | datetime) -> datetime:
    if isinstance(text, datetime):
        return text if text.tzinfo else text.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(text).replace("Z", "+00:00"))


def sample_time(moment: datetime) -> str:
    """A sample's time as stored: fixed-width, so the order of the text is that of time."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def json_mapping(text: str) -> Mapping[str, Any]:
    try:
        data = loads(text)
    except ValueError as error:
        raise Broken(f"not valid JSON ({error})") from None
    if not isinstance(data, Mapping):
        raise Broken("expected a mapping of fields, got " + type(data).__name__)
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


def check_file(path: Path, store: SimStore) -> None:
    """Refuse what stands at `path` unless it is a state file, saying what it is instead (a
    folder, a pipe, the earlier YAML format) and how to get one."""
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


class Broken(ValueError):
    """A state file's content that cannot be used: which field, what is wrong, and the fix."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint or FIX


FIX = (
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


def read_field(
    node: Mapping[str, Any], key: str, parse: Any, default: Any = _MISSING, *, at: str = ""
) -> Any:
    """`node[key]` parsed, or `Broken` naming the field (`at` is the section's path): the one
    place every value of a state file is read, so each is bounded and each error says where."""
    value = node.get(key)
    if value is None:
        if default is _MISSING:
            raise Broken(f"missing field `{at}{key}`")
        value = default
    try:
        return parse(value)
    except (UnitError, bounds.OutOfRange, Broken) as error:
        raise Broken(f"{at}{key}: {error}", getattr(error, "hint", "")) from None
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise Broken(f"{at}{key}: {value!r} cannot be read ({error})") from None


def _section(node: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = node.get(key) or {}
    if not isinstance(value, Mapping):
        raise Broken(f"{key}: expected a mapping, got {type(value).__name__}")
    return value


def _items(node: Mapping[str, Any], key: str, most: int) -> list[Any]:
    value = node.get(key) or []
    if not isinstance(value, list):
        raise Broken(f"{key}: expected a list, got {type(value).__name__}")
    if len(value) > most:
        raise Broken(f"{key}: {len(value)} entries, more than the {most} kept")
    return value


def _time(value: object) -> datetime:
    if not isinstance(value, str | datetime):
        raise Broken(f"{value!r} is not a time", "write a time such as 2026-02-10T15:30:00Z")
    try:
        moment = _parse_timestamp(value)
    except ValueError:
        raise Broken(
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
        raise Broken(why, error.hint) from None


def amount(value: object) -> float:
    return bounds.finite(value)


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise Broken(f"{value!r} is not true or false", "write true or false")
    return value


def positive(parse: Any) -> Any:
    """A CPU or memory request: the load model divides by it, so 0 cannot be used."""

    def parsed(value: object) -> int:
        result: int = parse(value)
        if result <= 0:
            raise Broken(f"{value!r} is not above 0", "a request is above 0, e.g. 100m or 512Mi")
        return result

    return parsed


def check_sample(at: object, values: Sequence[Any]) -> Checked:
    """A stored sample with each value checked as it is read back."""
    sample = {"at": at, **dict(zip(SAMPLE_FIELDS, values, strict=True))}
    checked = tuple(
        read_field(sample, name, amount, None) if sample[name] is not None else None
        for name in SAMPLE_FIELDS
    )
    moment = read_field(sample, "at", _time)
    return (moment, *checked)


def load_main(data: Mapping[str, Any]) -> tuple[datetime, dict[str, Any]]:
    """The clock and the settings, each bounded: a sample interval of 0 would never end."""
    clock = read_field(data, "clock", _time)
    settings = dict(_section(data, "settings"))
    interval = read_field(settings, "sample_interval", parse_duration, "15s", at="settings.")
    kept = read_field(settings, "history_kept", parse_duration, "1h", at="settings.")
    if interval < 1:
        raise Broken(
            f"settings.sample_interval: {settings.get('sample_interval')!r} is shorter than 1s",
            "sample every second or less often, e.g. sample_interval: 15s",
        )
    if kept / interval > MAX_SAMPLES:
        raise Broken(
            f"settings.history_kept: {settings.get('history_kept')!r} at one sample every "
            f"{settings.get('sample_interval')!r} is {kept / interval:.0f} samples, more than "
            f"the {MAX_SAMPLES} kept per deployment",
            "keep less history or sample less often, e.g. history_kept: 1h, sample_interval: 15s",
        )
    return clock, settings


def load_deployment(item: Mapping[str, Any]) -> SimDeployment:
    load = _section(item, "load")
    requests = _section(item, "requests")
    limits = _section(item, "limits")
    faults = _section(item, "faults")

    def load_amount(key: str, default: float) -> float:
        value: float = read_field(load, key, amount, default, at="load.")
        return value

    d = SimDeployment(
        namespace=read_field(item, "namespace", str),
        name=read_field(item, "name", str),
        replicas=read_field(item, "replicas", _pod_count),
        cpu_request=read_field(requests, "cpu", positive(parse_cpu), "100m", at="requests."),
        memory_request=read_field(
            requests, "memory", positive(parse_memory), "512Mi", at="requests."
        ),
        cpu_limit=read_field(limits, "cpu", parse_cpu, at="limits.") if "cpu" in limits else None,
        memory_limit=(
            read_field(limits, "memory", parse_memory, at="limits.") if "memory" in limits else None
        ),
        startup=read_field(item, "startup", parse_duration, "45s"),
        revision=read_field(item, "revision", _whole(1), 1),
        version=read_field(item, "version", _whole(), 1),
        cpu_used=load_amount("cpu_millicores", 100),
        memory_used=load_amount("memory_mebibytes", 512) * 1024**2,
        rps=load_amount("requests_per_second", 100),
        capacity=load_amount("capacity_per_pod", 100),
        base_latency_ms=load_amount("base_latency_ms", 50),
        base_error_rate=load_amount("base_error_rate", 0.002),
        faults={str(key): read_field(faults, key, _flag, at="faults.") for key in faults},
        annotations={str(k): str(v) for k, v in _section(item, "annotations").items()},
        revisions={
            _revision_key(k): _template_of(v) for k, v in _section(item, "revisions").items()
        },
        pod_counter=read_field(item, "pod_counter", _whole(), 0),
    )
    d.pods = [_pod(pod, d.revision) for pod in _items(item, "pods", MAX_PODS)]
    return d


def _pod(pod: object, revision: int) -> SimPod:
    if not isinstance(pod, Mapping):
        raise Broken(f"pods: an entry is {type(pod).__name__}, not a mapping")
    try:
        return SimPod(
            name=read_field(pod, "name", str),
            started=read_field(pod, "started", _time),
            ready_at=read_field(pod, "ready_at", _optional_time, ""),
            restarts=read_field(pod, "restarts", _whole(), 0),
            crashing=read_field(pod, "crashing", _flag, False),
            revision=read_field(pod, "revision", _whole(1), revision),
            crash_since=read_field(pod, "crash_since", _optional_time, ""),
        )
    except Broken as error:
        raise Broken(f"pods[{pod.get('name', '?')}].{error}", error.hint) from None


def _revision_key(key: object) -> int:
    try:
        return bounds.count(int(str(key)), low=1)
    except (ValueError, bounds.OutOfRange):
        raise Broken(f"revisions: {key!r} is not a revision number") from None


def _template_of(value: object) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise Broken(f"revisions: an entry is {type(value).__name__}, not a mapping")
    return {
        "cpu_request": read_field(value, "cpu_request", _whole(1, bounds.CPU_MAX_MILLICORES)),
        "memory_request": read_field(value, "memory_request", _whole(1, bounds.MEMORY_MAX_BYTES)),
        "bad": read_field(value, "bad", _flag, False),
    }


def dump_deployment(d: SimDeployment) -> dict[str, Any]:
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
                "started": timestamp(pod.started),
                "ready_at": timestamp(pod.ready_at) if pod.ready_at else None,
                "restarts": pod.restarts,
                "crashing": pod.crashing,
                "revision": pod.revision,
                "crash_since": timestamp(pod.crash_since) if pod.crash_since else None,
            }
            for pod in d.pods
        ],
        "pod_counter": d.pod_counter,
        "revisions": {str(k): v for k, v in sorted(d.revisions.items())},
    }
