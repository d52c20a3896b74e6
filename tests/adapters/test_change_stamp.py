"""The change stamp through both cluster adapters: written with a change, read back by the
same adapter and by the next run's, and stamps written before they carried the chain and the
baseline still read (the next run may be a newer reconciler than the one that crashed)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from reconciler.adapters.kubernetes import KubernetesCluster
from reconciler.adapters.simulated import SimulatedCluster
from reconciler.core.approvals.authorization import Authorization
from reconciler.core.approvals.lifecycle import Kind
from reconciler.core.decide.governance import OperationRequest, Origin
from reconciler.core.decide.verification import pending_verifications, verify
from reconciler.core.observed.changes import Change, ChangeKind
from reconciler.core.observed.observation import (
    STAMP_ANNOTATION,
    ChangeStamp,
    DeploymentState,
    Target,
)
from reconciler.core.planning.events import Chain, stamp_for
from reconciler.core.planning.recovered import recovered_record
from reconciler.core.trail.bodies import CheckStatus, VerificationOutcome
from reconciler.core.trail.history import fold_history
from tests.clusters import simulate_web
from tests.core.helpers import NOW, blueprint, metrics, state
from tests.fakes.kube_api import FakeKubeAPI

WEB = Target(namespace="shop", name="web")
#: (the cluster, and a new adapter on the same cluster as the next run would open one)
Opened = tuple[Any, Callable[[], Any]]
Opener = Callable[[str | None], Opened]

#: Exactly what the reconciler wrote before stamps carried the chain and the baseline.
OLD_STAMP = json.dumps(
    {
        "operation_id": "op-20260210-153000-old001",
        "decision_id": "dec-20260210-153000-old001",
        "operation": "scale_within_limits",
        "service": "web",
        "at": "2026-02-10T15:30:00Z",
        "summary": "scale 2→3",
        "before": {"replicas": 2},
        "after": {"replicas": 3},
    },
    sort_keys=True,
)


def simulated(tmp_path: Path, stack: contextlib.ExitStack, annotation: str | None) -> Opened:
    path = tmp_path / "sim.yaml"
    sim = simulate_web(path)
    if annotation is not None:
        sim.get("shop", "web").annotations[STAMP_ANNOTATION] = annotation
    sim.save()
    return sim, lambda: SimulatedCluster.load(path)


def kubernetes(tmp_path: Path, stack: contextlib.ExitStack, annotation: str | None) -> Opened:
    api = stack.enter_context(FakeKubeAPI())
    annotations = {STAMP_ANNOTATION: annotation} if annotation is not None else None
    api.add_deployment("shop", "web", replicas=2, annotations=annotations)
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")

    def connect() -> KubernetesCluster:
        return stack.enter_context(KubernetesCluster.from_kubeconfig(kubeconfig, backoff=0.0))

    return connect(), connect


@pytest.fixture(params=[simulated, kubernetes], ids=["simulated", "kubernetes"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    with contextlib.ExitStack() as stack:
        yield lambda annotation=None: request.param(tmp_path, stack, annotation)


def observe(cluster: Any) -> DeploymentState:
    state = cluster.observe([WEB])[WEB]
    assert isinstance(state, DeploymentState), state
    return state


def approved_stamp(reason: str = "launch traffic") -> ChangeStamp:
    """The stamp `_step` has an approved scale-up leave: chain, request, baseline, approval."""
    request = OperationRequest(
        operation="scale_beyond_limits",
        service="web",
        origin=Origin.APPROVAL,
        current_replicas=2,
        target_replicas=6,
        change_percent=200.0,
        reason=reason,
        requested_by="alice <alice@example.com>",
        parameters={"attempt": 1},
    )
    chain = Chain(
        decision="apr-20260210-152000-a1b2c3",
        governance="gov-20260210-153000-d4e5f6",
        operation="op-20260210-153000-0a0b0c",
        approval="apr-20260210-152000-a1b2c3",
    )
    authorization = Authorization(
        approval_id=chain.approval,
        reference="#12",
        merged_by="alice <alice@example.com>",
        merged_at=datetime(2026, 2, 10, 15, 25, tzinfo=UTC),
        latency=300.0,
        kind=Kind.REQUEST,
        operation=request.operation,
        target_replicas=6,
        current_replicas=2,
        parameters={},
    )
    context = {
        "baseline": {
            "replicas": 2,
            "ready_replicas": 2,
            "restart_count": 0,
            "revision": 1,
            "cpu_utilization": 0.85,
            "memory_utilization": 0.19999999999999998,  # kept exact: no rounding on the way
            "latency_p95_ms": 180.0,
            "error_rate": None,
        },
        "expected": {"cpu_utilization": 0.5666666666666667, "memory_utilization": None},
        "attempt": None,
        "authorized_by": authorization.to_json(),
    }
    return stamp_for(
        request,
        chain,
        NOW,
        request.describe(),
        classification="restricted",
        context=context,
        why="Weighted utilization 92% exceeds scale_up_threshold 80%.",
    )


def scale(cluster: Any, stamp: ChangeStamp, replicas: int) -> None:
    version = observe(cluster).version
    cluster.apply(
        Change(
            target=WEB,
            kind=ChangeKind.SCALE,
            replicas=replicas,
            stamp=stamp,
            expected_version=version,
        )
    )


def test_a_stamp_round_trips_with_its_chain_request_and_baseline(opener: Opener) -> None:
    cluster, reopen = opener(None)
    stamp = approved_stamp()
    scale(cluster, stamp, 6)
    assert observe(cluster).last_change == stamp
    later = observe(reopen()).last_change
    assert later == stamp
    assert later is not None
    assert (later.governance_id, later.approval_id, later.classification) == (
        "gov-20260210-153000-d4e5f6",
        "apr-20260210-152000-a1b2c3",
        "restricted",
    )
    assert later.baseline["memory_utilization"] == 0.19999999999999998
    assert later.authorized_by == {"reference": "#12", "merged_by": "alice <alice@example.com>"}
    assert len(stamp.dumps().encode()) < 1024


def test_long_free_text_is_cut_so_the_stamp_stays_small(opener: Opener) -> None:
    cluster, reopen = opener(None)
    stamp = approved_stamp(reason="maintenance → " * 2000)
    scale(cluster, stamp, 6)
    later = observe(reopen()).last_change
    assert later is not None and later == stamp
    assert str(later.request["reason"]).endswith("…") and len(str(later.request["reason"])) == 200
    # Kubernetes allows 256 KiB for all annotations together; this one takes under 2 KiB.
    assert len(stamp.dumps().encode()) < 2048


def test_an_old_stamp_still_reads_and_is_recovered_without_a_baseline(
    opener: Opener,
) -> None:
    cluster, reopen = opener(OLD_STAMP)
    for adapter in (cluster, reopen()):
        stamp = observe(adapter).last_change
        assert stamp == ChangeStamp(
            operation_id="op-20260210-153000-old001",
            decision_id="dec-20260210-153000-old001",
            operation="scale_within_limits",
            service="web",
            at=NOW,
            summary="scale 2→3",
            before={"replicas": 2},
            after={"replicas": 3},
        )
    assert stamp is not None
    record = recovered_record(stamp, blueprint(), NOW)
    assert record.links == {
        "decision": "dec-20260210-153000-old001",
        "operation": "op-20260210-153000-old001",
    }
    assert record.details["pre_operation_state"] == {"replicas": 2}
    assert record.details["request"]["target_replicas"] == 3
    assert record.details["baseline"] is None
    assert "no baseline" in record.rationale
    # Verified all the same: a missed target is noted, and nothing can be judged worse.
    web = blueprint()
    history = fold_history("web", [record], web.policy.safety.circuit_breaker, NOW)
    (pending,) = pending_verifications(history, web)
    result = verify(pending, web, state(3), metrics(0.5, 0.5, 400.0), NOW)
    latency = next(check for check in result.checks if check.check == "latency_p95")
    assert (latency.status, latency.worse) == (CheckStatus.FAILED, False)
    assert latency.note == "no baseline: cannot tell whether it got worse"
    assert result.outcome is VerificationOutcome.PARTIAL


def test_a_recovered_record_stands_where_the_executed_one_would(
    opener: Opener,
) -> None:
    cluster, reopen = opener(None)
    scale(cluster, approved_stamp(), 6)
    stamp = observe(reopen()).last_change
    assert stamp is not None
    record = recovered_record(stamp, blueprint(), NOW)
    assert record.links == {
        "decision": "apr-20260210-152000-a1b2c3",
        "governance": "gov-20260210-153000-d4e5f6",
        "operation": "op-20260210-153000-0a0b0c",
        "approval": "apr-20260210-152000-a1b2c3",
    }
    assert record.classification == "restricted"
    details = record.details
    assert details["request"] | {"reason": ""} == {
        "operation": "scale_beyond_limits",
        "origin": "approval",
        "current_replicas": 2,
        "target_replicas": 6,
        "change_percent": 200.0,
        "reason": "",
        "requested_by": "alice <alice@example.com>",
        "reverts": None,
        "parameters": {"attempt": 1},
    }
    assert details["pre_operation_state"] == {"replicas": 2, "ready": 2, "revision": 1}
    assert details["baseline"]["latency_p95_ms"] == 180.0
    assert details["expected"] == {
        "cpu_utilization": 0.5666666666666667,
        "memory_utilization": None,
    }
    assert details["attempt"] == 1
    assert "recovered from the deployment's reconciler/last-change stamp after a crash" in (
        record.rationale
    )


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param({"baseline": "oops"}, id="baseline-not-an-object"),
        pytest.param({"request": [1, 2]}, id="request-not-an-object"),
        pytest.param({"approval_id": None}, id="null-approval"),
    ],
)
def test_a_damaged_new_field_does_not_lose_the_stamp(damage: dict[str, Any]) -> None:
    text = json.dumps(json.loads(approved_stamp().dumps()) | damage)
    stamp = ChangeStamp.loads(text)
    assert stamp is not None and stamp.operation_id == "op-20260210-153000-0a0b0c"
    key = next(iter(damage))
    assert getattr(stamp, key) in ({}, "")
    assert replace(stamp, **{key: getattr(approved_stamp(), key)}) == approved_stamp()
