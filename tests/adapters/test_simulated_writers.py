"""SimulatedCluster with more than one writer: a save never overwrites what another process
wrote since this one read the state; it is refused, and the other change stays."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.adapters.simulated import SimulatedCluster
from reconciler.core.errors import ClusterError, ConflictError, ExitCode
from tests import simstate
from tests.adapters.test_simulated import FRONTEND, change, seed


def on_disk(tmp_path: Path) -> dict[str, object]:
    """The deployment as stored, with its generation."""
    return simstate.deployment(tmp_path / "sim.db", "todo-frontend")


def replicas(sim: SimulatedCluster) -> int:
    state = sim.observe([FRONTEND])[FRONTEND]
    assert not isinstance(state, ClusterError)
    return state.replicas


def test_a_change_over_another_writers_save_is_refused_and_forgotten(tmp_path: Path) -> None:
    seed(tmp_path).save()
    run = SimulatedCluster.load(tmp_path / "sim.db")  # a cycle has read the state
    stale = change(run, 3)
    other = SimulatedCluster.load(tmp_path / "sim.db")  # `sim set` in another process
    other.set(other.get("todo-app", "todo-frontend"), {"rps": "400"})
    other.save(only=other.get("todo-app", "todo-frontend"))

    with pytest.raises(ConflictError) as caught:
        run.apply(stale)
    error = caught.value
    assert error.service == "todo-frontend" and error.exit_code is ExitCode.UNAVAILABLE
    assert "written by another process since this one read it" in str(error)
    # The other writer's change is kept, nothing of the refused one reached the file, and
    # this process now sees the state as the file has it.
    assert on_disk(tmp_path)["load"]["requests_per_second"] == 400.0  # type: ignore[index]
    assert on_disk(tmp_path)["replicas"] == 2
    assert replicas(run) == 2
    run.apply(change(run, 3))  # observed again: applies
    assert on_disk(tmp_path)["replicas"] == 3
    assert on_disk(tmp_path)["load"]["requests_per_second"] == 400.0  # type: ignore[index]


def test_a_clock_move_over_another_writers_save_is_refused(tmp_path: Path) -> None:
    seed(tmp_path).save()
    waiting = SimulatedCluster.load(tmp_path / "sim.db")  # `run --wait` between passes
    assert replicas(waiting) == 2  # it observed the deployment
    other = SimulatedCluster.load(tmp_path / "sim.db")
    other.set(other.get("todo-app", "todo-frontend"), {"release": "bad"})
    other.save(only=other.get("todo-app", "todo-frontend"))
    before = simstate.everything(tmp_path / "sim.db")
    with pytest.raises(ConflictError, match=r"\(deployment todo-app/todo-frontend in .*sim\.db\)"):
        waiting.sleep(60)
    assert simstate.everything(tmp_path / "sim.db") == before
    assert on_disk(tmp_path)["revision"] == 2


def test_a_clock_move_over_another_clock_move_is_refused(tmp_path: Path) -> None:
    seed(tmp_path).save()
    first = SimulatedCluster.load(tmp_path / "sim.db")
    second = SimulatedCluster.load(tmp_path / "sim.db")
    first.sleep(60)
    assert replicas(second) == 2  # read after the first moved the clock: still stale
    with pytest.raises(ConflictError, match=r"\(the clock and settings in .*sim\.db\)"):
        second.sleep(30)
    assert SimulatedCluster.load(tmp_path / "sim.db").now() == first.now()


def test_every_save_raises_the_generation_and_a_new_cluster_replaces_the_old(
    tmp_path: Path,
) -> None:
    seed(tmp_path).save()
    assert on_disk(tmp_path)["generation"] == 1
    reader = SimulatedCluster.load(tmp_path / "sim.db")
    reader.advance(15)
    reader.save()
    assert on_disk(tmp_path)["generation"] == 2
    assert simstate.cluster(tmp_path / "sim.db")["generation"] == 2
    reader.save()  # its own last write is what it compares with
    assert on_disk(tmp_path)["generation"] == 3
    # `sim init --force` builds a new cluster in memory: it replaces the rows, numbering on,
    # so a process that read the old state cannot mistake the new one for it.
    seed(tmp_path).save()
    assert on_disk(tmp_path)["generation"] == 4
    with pytest.raises(ConflictError):
        reader.save()


def test_a_row_without_a_whole_generation_is_read_as_generation_zero(tmp_path: Path) -> None:
    """A generation a person overwrote by hand still lets the state load and save."""
    seed(tmp_path).save()
    simstate.set_generation(tmp_path / "sim.db", "todo-frontend", "seven")
    sim = SimulatedCluster.load(tmp_path / "sim.db")
    sim.apply(change(sim, 3))
    assert on_disk(tmp_path)["generation"] == 1
    stale = SimulatedCluster.load(tmp_path / "sim.db")
    scale = change(stale, 4)  # observed at generation 1
    simstate.set_generation(tmp_path / "sim.db", "todo-frontend", 7)
    with pytest.raises(ConflictError):
        stale.apply(scale)
    assert on_disk(tmp_path)["replicas"] == 3


def test_a_save_writes_only_what_was_read(tmp_path: Path) -> None:
    """A cycle reads the deployments it manages; a save leaves the others' rows alone."""
    from reconciler.adapters.simulated import SimTarget, create

    targets = [
        SimTarget(
            namespace="todo-app",
            name=name,
            replicas=2,
            cpu_request=None,
            memory_request=None,
            latency_target_ms=200,
        )
        for name in ("todo-frontend", "todo-backend")
    ]
    create(tmp_path / "sim.db", targets, clock=seed(tmp_path).now()).save()
    sim = SimulatedCluster.load(tmp_path / "sim.db")
    sim.apply(change(sim, 3))
    sim.save()
    assert on_disk(tmp_path)["generation"] == 3
    assert simstate.deployment(tmp_path / "sim.db", "todo-backend")["generation"] == 1
    assert set(sim.deployments) == {("todo-app", "todo-frontend"), ("todo-app", "todo-backend")}
