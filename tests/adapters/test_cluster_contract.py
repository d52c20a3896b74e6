"""The contract every cluster adapter keeps: one suite, run against the simulated cluster and
against KubernetesCluster on the fake API server.

The cycle is written against the Cluster and MetricsSource ports alone; these cases are what
it relies on. Both clusters start alike: deployment shop/web, 2 ready pods requesting 100m CPU
and 512Mi memory, using 85m and 256Mi each (85 % and 50 %), and pods that take a while to
become ready after a scale-up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reconciler.adapters.kubernetes import KubernetesCluster
from reconciler.adapters.simulated import SimTarget, create
from reconciler.core.changes import Applied, Change, ChangeKind
from reconciler.core.errors import ClusterError, ConflictError
from reconciler.core.observation import ChangeStamp, DeploymentState, Metrics, Target
from tests.core.helpers import NOW
from tests.fakes.kube_api import FakeKubeAPI

WEB = Target(namespace="shop", name="web")
GHOST = Target(namespace="shop", name="ghost")
MIB = 1024**2


@dataclass
class Harness:
    """A cluster under test, and how to make its starting pods ready."""

    cluster: Any  # Cluster and MetricsSource
    #: Let the pods that are starting become ready (the simulation's start-up time passes, or
    #: the fake's readiness probes succeed).
    settle: Callable[[], None]


def simulated(tmp_path: Path) -> Iterator[Harness]:
    target = SimTarget(
        namespace="shop",
        name="web",
        replicas=2,
        cpu_request=100,
        memory_request=512 * MIB,
        latency_target_ms=200,
    )
    sim = create(tmp_path / "sim.yaml", [target], clock=NOW)
    web = sim.get("shop", "web")
    sim.set(web, {"cpu_utilization": "85%", "memory_utilization": "50%"})
    yield Harness(cluster=sim, settle=lambda: sim.advance(web.startup))


def kubernetes(tmp_path: Path) -> Iterator[Harness]:
    with FakeKubeAPI() as api:
        api.add_deployment("shop", "web", replicas=2, new_pods_ready=False)
        api.set_pod_usage("shop", "web", cpu="85m", memory="256Mi")
        path = api.write_kubeconfig(tmp_path / "kubeconfig")
        with KubernetesCluster.from_kubeconfig(path, backoff=0.0) as cluster:
            yield Harness(cluster=cluster, settle=lambda: api.mark_pods_ready("shop", "web"))


@pytest.fixture(params=[simulated, kubernetes], ids=["simulated", "kubernetes"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    yield from request.param(tmp_path)


def observe(harness: Harness, target: Target = WEB) -> DeploymentState:
    state = harness.cluster.observe([target])[target]
    assert isinstance(state, DeploymentState), state
    return state


def scale(harness: Harness, replicas: int, version: str, operation_id: str = "op-1") -> Applied:
    note = ChangeStamp(
        operation_id=operation_id,
        decision_id="dec-1",
        operation="scale_within_limits",
        service="web",
        at=NOW,
        summary=f"scale to {replicas}",
    )
    change = Change(
        target=WEB, kind=ChangeKind.SCALE, stamp=note, expected_version=version, replicas=replicas
    )
    applied: Applied = harness.cluster.apply(change)
    return applied


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
