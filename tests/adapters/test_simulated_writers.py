"""SimulatedCluster with more than one writer: a save never overwrites what another process
wrote since this one read the state; it is refused, and the other change stays."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from reconciler.adapters.simulated import SimulatedCluster
from reconciler.core.errors import ClusterError, ConflictError, ExitCode
from tests.adapters.test_simulated import FRONTEND, change, seed


def on_disk(tmp_path: Path) -> dict[str, object]:
    """The deployment's file as a person would read it."""
    (path,) = (tmp_path / "sim.yaml.d").glob("*.yaml")
    data: dict[str, object] = yaml.safe_load(path.read_text())
    return data


def replicas(sim: SimulatedCluster) -> int:
    state = sim.observe([FRONTEND])[FRONTEND]
    assert not isinstance(state, ClusterError)
    return state.replicas


def test_a_change_over_another_writers_save_is_refused_and_forgotten(tmp_path: Path) -> None:
    seed(tmp_path).save()
    run = SimulatedCluster.load(tmp_path / "sim.yaml")  # a cycle has read the state
    stale = change(run, 3)
    other = SimulatedCluster.load(tmp_path / "sim.yaml")  # `sim set` in another process
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
    waiting = SimulatedCluster.load(tmp_path / "sim.yaml")  # `run --wait` between passes
    other = SimulatedCluster.load(tmp_path / "sim.yaml")
    other.set(other.get("todo-app", "todo-frontend"), {"release": "bad"})
    other.save(only=other.get("todo-app", "todo-frontend"))
    before = (tmp_path / "sim.yaml").read_text()
    with pytest.raises(ConflictError, match=r"sim\.yaml\.d/todo-app\.todo-frontend\.yaml"):
        waiting.sleep(60)
    assert (tmp_path / "sim.yaml").read_text() == before
    assert on_disk(tmp_path)["revision"] == 2


def test_every_save_raises_the_generation_and_a_new_cluster_replaces_the_old(
    tmp_path: Path,
) -> None:
    seed(tmp_path).save()
    assert on_disk(tmp_path)["generation"] == 1
    reader = SimulatedCluster.load(tmp_path / "sim.yaml")
    reader.advance(15)
    reader.save()
    assert on_disk(tmp_path)["generation"] == 2
    assert yaml.safe_load((tmp_path / "sim.yaml").read_text())["generation"] == 2
    reader.save()  # its own last write is what it compares with
    assert on_disk(tmp_path)["generation"] == 3
    # `sim init --force` builds a new cluster in memory: it replaces the files, numbering on,
    # so a process that read the old state cannot mistake the new one for it.
    seed(tmp_path).save()
    assert on_disk(tmp_path)["generation"] == 4
    with pytest.raises(ConflictError):
        reader.save()


def test_a_file_without_a_generation_is_read_as_generation_zero(tmp_path: Path) -> None:
    """State files written before generations existed (or by hand) still load and save."""
    seed(tmp_path).save()
    for path in [tmp_path / "sim.yaml", *(tmp_path / "sim.yaml.d").glob("*.yaml")]:
        data = yaml.safe_load(path.read_text())
        del data["generation"]
        path.write_text(yaml.safe_dump(data))
    sim = SimulatedCluster.load(tmp_path / "sim.yaml")
    sim.apply(change(sim, 3))
    sim.save()
    assert on_disk(tmp_path)["generation"] == 2


def test_a_generation_that_is_not_the_first_key_is_still_compared(tmp_path: Path) -> None:
    """A person who rewrote a file by hand may have moved the key: it is read all the same,
    so a save neither refuses for nothing nor overwrites another writer's change."""
    seed(tmp_path).save()
    (path,) = (tmp_path / "sim.yaml.d").glob("*.yaml")
    data = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**data, "generation": data["generation"]}, sort_keys=True))
    assert not path.read_text().startswith("generation")
    sim = SimulatedCluster.load(tmp_path / "sim.yaml")
    sim.apply(change(sim, 3))
    assert on_disk(tmp_path)["generation"] == 2
    stale = SimulatedCluster.load(tmp_path / "sim.yaml")
    data = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**data, "generation": 7}, sort_keys=True))
    with pytest.raises(ConflictError):
        stale.apply(change(stale, 4))
