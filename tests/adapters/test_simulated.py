"""SimulatedCluster: the load model, readiness, faults, concurrency and persistence."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.adapters.simulated import SettingError, SimTarget, SimulatedCluster, create
from reconciler.core.errors import ClusterError, ConfigError, ConflictError, MetricsError
from reconciler.core.observed.changes import Change, ChangeKind
from reconciler.core.observed.observation import ChangeStamp, Metrics, Target
from tests.core.helpers import NOW

FRONTEND = Target(namespace="todo-app", name="todo-frontend")


def seed(tmp_path: Path, history: float = 600) -> SimulatedCluster:
    targets = [
        SimTarget(
            namespace="todo-app",
            name="todo-frontend",
            replicas=2,
            cpu_request=None,
            memory_request=None,
            latency_target_ms=200,
        )
    ]
    return create(tmp_path / "sim.db", targets, clock=NOW, scenario="seed", history=history)


def change(sim: SimulatedCluster, replicas: int, version: str | None = None) -> Change:
    state = sim.observe([FRONTEND])[FRONTEND]
    assert not isinstance(state, ClusterError)
    stamp = ChangeStamp(
        operation_id="op-1",
        decision_id="dec-1",
        operation="scale_within_limits",
        service="todo-frontend",
        at=NOW,
        summary="scale 2→3",
    )
    return Change(
        target=FRONTEND,
        kind=ChangeKind.SCALE,
        replicas=replicas,
        stamp=stamp,
        expected_version=version or state.version,
    )


def metrics(sim: SimulatedCluster) -> Metrics:
    value = sim.current([FRONTEND])[FRONTEND]
    assert isinstance(value, Metrics)
    return value


def test_seed_load_and_scaling_response(tmp_path: Path) -> None:
    sim = seed(tmp_path)
    before = metrics(sim)
    assert before.cpu_utilization == pytest.approx(0.85)
    assert before.memory_utilization == pytest.approx(0.70)
    assert before.latency_p95_ms == pytest.approx(180)
    assert before.error_rate == pytest.approx(0.005)
    sim.apply(change(sim, 3))
    state = sim.observe([FRONTEND])[FRONTEND]
    assert not isinstance(state, ClusterError)
    assert (state.replicas, state.ready_replicas) == (3, 2)  # the new pod is starting
    assert state.last_change is not None and state.last_change.operation_id == "op-1"
    sim.advance(45)
    after = metrics(sim)
    assert after.cpu_utilization == pytest.approx(0.85 * 2 / 3)
    assert after.memory_utilization == pytest.approx(0.70 * 2 / 3)
    assert after.latency_p95_ms is not None and after.latency_p95_ms < 180


def test_fewer_pods_make_latency_and_errors_worse(tmp_path: Path) -> None:
    sim = seed(tmp_path)
    sim.set(
        sim.get("todo-app", "todo-frontend"),
        {"replicas": "3", "rps": "180", "base_latency": "40ms", "base_error_rate": "0.2%"},
    )
    three = metrics(sim)
    sim.apply(change(sim, 2))
    two = metrics(sim)
    assert two.latency_p95_ms > 200 > three.latency_p95_ms  # type: ignore[operator]
    assert two.error_rate > 0.01 > three.error_rate  # type: ignore[operator]


def test_optimistic_concurrency(tmp_path: Path) -> None:
    sim = seed(tmp_path)
    stale = change(sim, 3)
    sim.apply(change(sim, 4))
    with pytest.raises(ConflictError, match="changed since it was observed"):
        sim.apply(stale)


def test_faults(tmp_path: Path) -> None:
    sim = seed(tmp_path)
    deployment = sim.get("todo-app", "todo-frontend")
    sim.set(deployment, {"scale_fails": "true", "metrics_unavailable": "on"})
    with pytest.raises(ClusterError, match="scale_fails"):
        sim.apply(change(sim, 3))
    assert isinstance(sim.current([FRONTEND])[FRONTEND], MetricsError)
    sim.set(
        deployment,
        {"scale_fails": "false", "metrics_unavailable": "off", "pods_never_ready": "true"},
    )
    sim.apply(change(sim, 3))
    sim.advance(600)
    state = sim.observe([FRONTEND])[FRONTEND]
    assert not isinstance(state, ClusterError) and state.ready_replicas == 2


def test_history_window_and_persistence(tmp_path: Path) -> None:
    sim = seed(tmp_path, history=600)
    window = sim.window(FRONTEND, 300, NOW)
    assert len(window) == 21 and window[-1].at == NOW
    sim.save()
    again = SimulatedCluster.load(tmp_path / "sim.db")
    assert again.now() == NOW
    assert metrics(again).cpu_utilization == pytest.approx(0.85)
    assert len(again.window(FRONTEND, 300, NOW)) == 21


def test_bad_settings_and_missing_things(tmp_path: Path) -> None:
    sim = seed(tmp_path)
    deployment = sim.get("todo-app", "todo-frontend")
    with pytest.raises(ConfigError, match="unknown setting 'cpu'"):
        sim.set(deployment, {"cpu": "1"})
    with pytest.raises(ConfigError, match="not a percentage"):
        sim.set(deployment, {"cpu_utilization": "lots"})
    # What is wrong comes as a value, apart from the setting it concerns.
    with pytest.raises(SettingError) as refused:
        sim.set(deployment, {"rps": "lots"})
    assert (refused.value.problem, refused.value.unaccepted) == ("'lots' is not a number", False)
    with pytest.raises(SettingError) as refused:
        sim.set(deployment, {"release": "meh"})
    assert (refused.value.problem, refused.value.unaccepted) == ("not an accepted value", True)
    assert refused.value.hint == "release=good or release=bad"
    with pytest.raises(ConfigError, match="no simulated cluster"):
        SimulatedCluster.load(tmp_path / "absent.db")
    missing = Target(namespace="todo-app", name="ghost")
    assert isinstance(sim.observe([missing])[missing], ClusterError)


def test_a_broken_sample_is_an_error_of_the_history_alone(tmp_path: Path) -> None:
    """A stored sample that does not read makes the history unavailable (no evidence, so no
    scale-down), not the deployment: it is still observed and measured now."""
    from tests import simstate

    seed(tmp_path).save()
    simstate.edit_samples(tmp_path / "sim.db", "todo-frontend", "cpu", float("inf"))
    sim = SimulatedCluster.load(tmp_path / "sim.db")
    with pytest.raises(MetricsError) as caught:
        sim.window(FRONTEND, 300, NOW)
    assert str(caught.value).startswith(
        f"reading the simulated deployment todo-app/todo-frontend in {tmp_path / 'sim.db'}: "
        "history at 2026-02-10T15:"
    )
    assert str(caught.value).endswith("cpu: inf is not a finite number")
    assert metrics(sim).cpu_utilization == pytest.approx(0.85)


def test_the_earlier_yaml_state_is_refused_with_what_to_do(tmp_path: Path) -> None:
    """A state of the earlier format (a YAML file and a folder of one file per deployment)
    is named, not misread; `sim init --force` replaces it."""
    legacy = tmp_path / "sim-state.yaml"
    legacy.write_text("generation: 1\nclock: '2026-02-10T15:30:00Z'\n")
    (tmp_path / "sim-state.yaml.d").mkdir()
    for path in (tmp_path / "sim-state.db", legacy):
        with pytest.raises(ConfigError) as caught:
            SimulatedCluster.load(path)
        assert str(caught.value) == (
            f"{legacy} is a simulated cluster in the earlier YAML format (a file per "
            "deployment), which this version no longer reads; it keeps the state in one "
            f"SQLite file ({path})"
        )
        assert caught.value.hint.startswith("start a new one with `reconciler sim init --force`")
    seed(tmp_path).save()
    create(legacy, [], clock=NOW).save()  # --force with --sim-state naming the old file
    assert SimulatedCluster.load(legacy).now() == NOW


def test_a_file_that_is_not_a_state_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\n")
    with pytest.raises(ConfigError, match=r"notes\.txt: it is not a state file"):
        SimulatedCluster.load(path)


def test_a_pipe_in_place_of_the_state_is_named_without_blocking(tmp_path: Path) -> None:
    import os

    path = tmp_path / "sim.db"
    os.mkfifo(path)
    with pytest.raises(ConfigError, match=r"sim\.db: it is a named pipe \(FIFO\), not a state"):
        SimulatedCluster.load(path)
