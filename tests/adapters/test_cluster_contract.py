"""The contract every cluster adapter keeps: one suite, run against the simulated cluster and
against KubernetesCluster on the fake API server.

The cycle is written against the Cluster and MetricsSource ports alone; these cases are what
it relies on. Both clusters start alike: deployment shop/web, 2 ready pods requesting 100m CPU
and 512Mi memory, using 85m and 256Mi each (85 % and 50 %), and pods that take a while to
become ready after a scale-up or a rollout.

Every kind of change is here (scale, restart, rollback, resources), and so is the stamp each
one leaves, read back by the same adapter and by a new one: the next run recovers a change
whose record was lost from that stamp alone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reconciler.adapters.kubernetes import KubernetesCluster
from reconciler.adapters.simulated import SimulatedCluster
from reconciler.core.errors import ClusterError, ConflictError
from reconciler.core.observed.changes import Applied, Change, ChangeKind
from reconciler.core.observed.observation import ChangeStamp, DeploymentState, Metrics, Target
from tests.clusters import MIB, simulate_web
from tests.core.helpers import NOW
from tests.fakes.kube_api import FakeKubeAPI

WEB = Target(namespace="shop", name="web")
GHOST = Target(namespace="shop", name="ghost")


@dataclass
class Harness:
    """A cluster under test, and how to make its starting pods ready."""

    cluster: Any  # Cluster and MetricsSource
    #: Let the pods that are starting become ready (the simulation's start-up time passes, or
    #: the fake's readiness probes succeed).
    settle: Callable[[], None]
    #: A new adapter on the same cluster, as the next run would open (the simulation loaded
    #: from its files again, or a new client of the same API server).
    reopen: Callable[[], Any]


def simulated(tmp_path: Path) -> Iterator[Harness]:
    path = tmp_path / "sim.yaml"
    sim = simulate_web(path)
    web = sim.get("shop", "web")
    sim.set(web, {"cpu_utilization": "85%", "memory_utilization": "50%"})
    sim.save()
    yield Harness(
        cluster=sim,
        settle=lambda: sim.advance(web.startup),
        reopen=lambda: SimulatedCluster.load(path),
    )


def kubernetes(tmp_path: Path) -> Iterator[Harness]:
    with FakeKubeAPI() as api:
        api.add_deployment("shop", "web", replicas=2, new_pods_ready=False)
        api.set_pod_usage("shop", "web", cpu="85m", memory="256Mi")
        path = api.write_kubeconfig(tmp_path / "kubeconfig")
        with contextlib.ExitStack() as opened:

            def connect() -> KubernetesCluster:
                return opened.enter_context(KubernetesCluster.from_kubeconfig(path, backoff=0.0))

            yield Harness(
                cluster=connect(),
                settle=lambda: api.mark_pods_ready("shop", "web"),
                reopen=connect,
            )


@pytest.fixture(params=[simulated, kubernetes], ids=["simulated", "kubernetes"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    yield from request.param(tmp_path)


def observe(harness: Harness, target: Target = WEB) -> DeploymentState:
    state = harness.cluster.observe([target])[target]
    assert isinstance(state, DeploymentState), state
    return state


def apply(
    harness: Harness,
    kind: ChangeKind,
    version: str,
    operation_id: str = "op-1",
    note: ChangeStamp | None = None,
    **fields: Any,
) -> Applied:
    """Make one change, stamped with `note` (by default, one naming `operation_id`)."""
    if note is None:
        note = ChangeStamp(
            operation_id=operation_id,
            decision_id="dec-1",
            operation=OPERATIONS[kind],
            service="web",
            at=NOW,
            summary=f"{kind} web",
        )
    change = Change(target=WEB, kind=kind, stamp=note, expected_version=version, **fields)
    applied: Applied = harness.cluster.apply(change)
    return applied


def scale(harness: Harness, replicas: int, version: str, operation_id: str = "op-1") -> Applied:
    return apply(harness, ChangeKind.SCALE, version, operation_id, replicas=replicas)


OPERATIONS = {
    ChangeKind.SCALE: "scale_within_limits",
    ChangeKind.RESTART: "restart_failed_pods",
    ChangeKind.ROLLBACK: "rollback_deployment",
    ChangeKind.RESOURCES: "adjust_resources_within_10_percent",
}


def test_observe_reports_each_target(harness: Harness) -> None:
    state = observe(harness)
    assert (state.target, state.replicas, state.ready_replicas) == (WEB, 2, 2)
    assert (state.cpu_request, state.memory_request) == (100, 512 * MIB)
    assert len(state.pods) == 2 and all(pod.ready for pod in state.pods)
    assert state.version and state.last_change is None and state.observed_at is not None


def test_an_unknown_target_is_an_error_value(harness: Harness) -> None:
    answers = harness.cluster.observe([WEB, GHOST])
    assert isinstance(answers[WEB], DeploymentState)
    assert isinstance(answers[GHOST], ClusterError)


def test_scale_changes_replicas_and_leaves_a_stamp(harness: Harness) -> None:
    before = observe(harness)
    applied = scale(harness, 3, before.version)
    assert applied.message == "deployment.apps/web scaled"
    assert (applied.before["replicas"], applied.after["replicas"]) == (2, 3)
    assert applied.completed_at >= applied.started_at
    after = observe(harness)
    assert after.replicas == 3 and after.version != before.version
    assert after.last_change is not None
    assert (after.last_change.operation_id, after.last_change.at) == ("op-1", NOW)


def test_a_stale_version_is_a_conflict_and_changes_nothing(harness: Harness) -> None:
    stale = observe(harness).version
    scale(harness, 3, stale, operation_id="op-1")
    with pytest.raises(ConflictError):
        scale(harness, 4, stale, operation_id="op-2")
    state = observe(harness)
    assert state.replicas == 3
    assert state.last_change is not None and state.last_change.operation_id == "op-1"


def test_current_reports_utilization_as_fractions(harness: Harness) -> None:
    metrics = harness.cluster.current([WEB])[WEB]
    assert isinstance(metrics, Metrics)
    assert metrics.cpu_utilization == pytest.approx(0.85)
    assert metrics.memory_utilization == pytest.approx(0.5)
    assert metrics.observed_at is not None


def test_new_pods_count_as_not_ready_until_they_are(harness: Harness) -> None:
    scale(harness, 3, observe(harness).version)
    state = observe(harness)
    assert (state.replicas, state.ready_replicas, len(state.pods)) == (3, 2, 3)
    assert sum(pod.ready for pod in state.pods) == 2
    metrics = harness.cluster.current([WEB])[WEB]
    assert isinstance(metrics, Metrics) and metrics.cpu_utilization == pytest.approx(0.85)
    harness.settle()
    state = observe(harness)
    assert state.ready_replicas == 3 and all(pod.ready for pod in state.pods)


def test_restart_rolls_out_a_new_revision_of_the_same_pods(harness: Harness) -> None:
    before = observe(harness)
    applied = apply(harness, ChangeKind.RESTART, before.version)
    assert applied.message == "deployment.apps/web restarted"
    assert (applied.before["revision"], applied.after["revision"]) == (1, 2)
    assert (applied.before["replicas"], applied.after["replicas"]) == (2, 2)
    harness.settle()
    after = observe(harness)
    assert (after.revision, after.replicas, after.ready_replicas) == (2, 2, 2)
    assert [pod.revision for pod in after.pods] == [2, 2]
    assert not {pod.name for pod in after.pods} & {pod.name for pod in before.pods}
    assert (after.cpu_request, after.memory_request) == (100, 512 * MIB)
    assert after.last_change is not None and after.last_change.operation_id == "op-1"


def test_resources_set_the_requests_in_a_new_revision(harness: Harness) -> None:
    applied = apply(harness, ChangeKind.RESOURCES, observe(harness).version, cpu_request=250)
    assert applied.message == "deployment.apps/web resource requirements updated"
    assert (applied.before["revision"], applied.after["revision"]) == (1, 2)
    harness.settle()
    state = observe(harness)
    assert (state.cpu_request, state.memory_request) == (250, 512 * MIB)  # memory unchanged
    assert state.revision == 2 and [pod.revision for pod in state.pods] == [2, 2]
    metrics = harness.cluster.current([WEB])[WEB]
    assert isinstance(metrics, Metrics)
    assert metrics.cpu_utilization == pytest.approx(85 / 250)  # the same usage, a larger request
    assert metrics.memory_utilization == pytest.approx(0.5)
    apply(harness, ChangeKind.RESOURCES, state.version, "op-2", memory_request=256 * MIB)
    state = observe(harness)
    assert (state.cpu_request, state.memory_request, state.revision) == (250, 256 * MIB, 3)


def test_resources_already_in_place_roll_nothing_out(harness: Harness) -> None:
    """Kubernetes starts a rollout only when the pod template changes: the same requests
    again leave the pods (and their readiness) as they were."""
    before = observe(harness)
    applied = apply(
        harness, ChangeKind.RESOURCES, before.version, cpu_request=100, memory_request=512 * MIB
    )
    assert (applied.before["revision"], applied.after["revision"]) == (1, 1)
    after = observe(harness)
    assert after.revision == 1 and after.ready_replicas == 2
    assert [pod.name for pod in after.pods] == [pod.name for pod in before.pods]
    assert after.last_change is not None and after.last_change.operation_id == "op-1"


def test_rollback_returns_to_the_previous_revision(harness: Harness) -> None:
    apply(harness, ChangeKind.RESOURCES, observe(harness).version, "op-1", cpu_request=250)
    harness.settle()
    applied = apply(harness, ChangeKind.ROLLBACK, observe(harness).version, "op-2")
    assert applied.message == "deployment.apps/web rolled back"
    # The old template comes back as a new revision, as `kubectl rollout undo` does.
    assert (applied.before["revision"], applied.after["revision"]) == (2, 3)
    harness.settle()
    state = observe(harness)
    assert (state.cpu_request, state.memory_request, state.revision) == (100, 512 * MIB, 3)
    assert [pod.revision for pod in state.pods] == [3, 3] and state.ready_replicas == 2
    assert state.last_change is not None and state.last_change.operation_id == "op-2"


def test_rollback_to_a_named_revision(harness: Harness) -> None:
    apply(harness, ChangeKind.RESOURCES, observe(harness).version, "op-1", cpu_request=250)
    apply(harness, ChangeKind.RESOURCES, observe(harness).version, "op-2", cpu_request=300)
    applied = apply(harness, ChangeKind.ROLLBACK, observe(harness).version, "op-3", to_revision=1)
    assert (applied.before["revision"], applied.after["revision"]) == (3, 4)
    state = observe(harness)
    assert (state.cpu_request, state.revision) == (100, 4)
    apply(harness, ChangeKind.ROLLBACK, state.version, "op-4")
    assert observe(harness).cpu_request == 300  # "previous" is now revision 3


def test_rollback_without_an_earlier_revision_fails_and_changes_nothing(
    harness: Harness,
) -> None:
    before = observe(harness)
    with pytest.raises(ClusterError) as caught:
        apply(harness, ChangeKind.ROLLBACK, before.version)
    assert not isinstance(caught.value, ConflictError)
    assert "web" in str(caught.value) and "roll back to" in str(caught.value)
    after = observe(harness)
    assert (after.version, after.revision, after.last_change) == (before.version, 1, None)


@pytest.mark.parametrize(
    ("kind", "fields"),
    [
        pytest.param(ChangeKind.SCALE, {"replicas": 3}, id="scale"),
        pytest.param(ChangeKind.RESTART, {}, id="restart"),
        pytest.param(
            ChangeKind.RESOURCES, {"cpu_request": 120, "memory_request": 600 * MIB}, id="resources"
        ),
        pytest.param(ChangeKind.ROLLBACK, {}, id="rollback"),
    ],
)
def test_every_change_leaves_a_stamp_the_next_run_reads_back(
    harness: Harness, kind: ChangeKind, fields: dict[str, Any]
) -> None:
    if kind is ChangeKind.ROLLBACK:  # something to roll back first
        apply(harness, ChangeKind.RESTART, observe(harness).version, "op-0")
    note = ChangeStamp(
        operation_id="op-7",
        decision_id="dec-7",
        operation=OPERATIONS[kind],
        service="web",
        at=NOW,
        summary=f"{kind} «because» CPU 85 %",
        before={"replicas": 2, "cpu_request": 100},
        after={"replicas": fields.get("replicas", 2), "note": None},
    )
    apply(harness, kind, observe(harness).version, note=note, **fields)
    assert observe(harness).last_change == note
    later = harness.reopen().observe([WEB])[WEB]
    assert isinstance(later, DeploymentState) and later.last_change == note
    # A later change replaces the stamp: it is always the last change's.
    apply(harness, ChangeKind.SCALE, later.version, "op-8", replicas=4)
    final = observe(harness).last_change
    assert final is not None and final.operation_id == "op-8"
