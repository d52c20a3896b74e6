"""A whole cycle through the CLI, `--cluster kubernetes`, on a deployment an HPA scales.

Why it exists: tests/core/test_coexistence.py proves what the planner decides when another
controller owns the replicas; this proves the wiring from end to end: the adapter finds the
HPA in the fake API server, the planner refuses or scales through it, the adapter writes (or
does not write) what it should, and the audit trail says so.

No Prometheus is needed: the blueprint weighs CPU alone, which the metrics API gives, and the
load only calls for a scale-up, which needs no history.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.observed.observation import STAMP_ANNOTATION
from tests.clusters import kubernetes_options
from tests.fakes.kube_api import HPAS, FakeKubeAPI
from tests.scenarios.conftest import Scenario, web_blueprint, web_fleet


@pytest.fixture
def api() -> Iterator[FakeKubeAPI]:
    with FakeKubeAPI() as server:
        # 2 pods using 95m of the 100m they request; an HPA allows 1 to 2 of them.
        server.add_deployment("shop", "web", replicas=2)
        server.set_pod_usage("shop", "web", cpu="95m", memory="256Mi")
        server.add_hpa("shop", "web-hpa", "web", min_replicas=1, max_replicas=2)
        yield server


def fleet(tmp_path: Path, mode: str) -> Scenario:
    """A blueprint repository with the one service `web`, sharing replicas as `mode` says."""
    return web_fleet(tmp_path, web_blueprint(coexistence=mode))


def run(scenario: Scenario, api: FakeKubeAPI, tmp_path: Path) -> dict[str, Any]:
    """`reconciler --cluster kubernetes --kubeconfig ... run -o json`; the one service's part."""
    result = scenario.json(*kubernetes_options(api, tmp_path), "run")
    assert isinstance(result, dict)
    (service,) = result["services"]
    assert service["error"] is None, service
    return dict(service)


def hpa_bounds(api: FakeKubeAPI) -> tuple[int, int]:
    (hpa,) = api.objects(HPAS, "shop")
    return hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]


def test_adjust_hpa_scales_through_the_hpa_and_never_writes_replicas(
    tmp_path: Path, api: FakeKubeAPI
) -> None:
    scenario = fleet(tmp_path, "adjust_hpa")
    api.reset_log()
    service = run(scenario, api, tmp_path)

    decision = service["decision"]
    assert (decision["action"], decision["current_replicas"], decision["target_replicas"]) == (
        "scale_up",
        2,
        3,
    )
    (step,) = service["steps"]
    assert (step["operation"], step["outcome"]) == ("scale_within_limits", "executed")
    # The HPA's floor moved to 3 (its ceiling raised to fit); the replicas are the HPA's to set.
    assert hpa_bounds(api) == (3, 3)
    deployment = api.get_deployment("shop", "web")
    assert deployment["spec"]["replicas"] == 2
    patches = [r for r in api.requests if r.method == "PATCH"]
    assert [r.path for r in patches] == [
        "/apis/apps/v1/namespaces/shop/deployments/web",
        "/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers/web-hpa",
    ]
    assert set(patches[0].body) == {"metadata"}  # the stamp alone: no spec, no replicas
    assert patches[1].body["spec"] == {"minReplicas": 3, "maxReplicas": 3}

    (record,) = scenario.records("web", "operation_executed")
    assert record["details"]["change"] == "set minReplicas of hpa shop/web-hpa to 3"
    assert record["rationale"] == (
        "set minReplicas of hpa shop/web-hpa to 3: horizontalpodautoscaler.autoscaling/web-hpa "
        "patched (minReplicas 3, maxReplicas 3)"
    )
    assert record["details"]["pre_operation_state"] == {
        "replicas": 2,
        "revision": 1,
        "min_replicas": 1,
        "max_replicas": 2,
    }
    assert record["details"]["post_operation_state"] == {
        "replicas": 2,
        "revision": 1,
        "min_replicas": 3,
        "max_replicas": 3,
    }
    stamp = json.loads(deployment["metadata"]["annotations"][STAMP_ANNOTATION])
    assert (stamp["operation_id"], stamp["after"]) == (record["id"], {"replicas": 3})


def test_exclusive_refuses_and_writes_nothing(tmp_path: Path, api: FakeKubeAPI) -> None:
    scenario = fleet(tmp_path, "exclusive")
    api.reset_log()
    service = run(scenario, api, tmp_path)

    assert service["decision"]["target_replicas"] == 3
    (step,) = service["steps"]
    assert (step["operation"], step["outcome"]) == ("scale_within_limits", "blocked")
    assert api.count("PATCH") == 0
    assert hpa_bounds(api) == (1, 2)
    deployment = api.get_deployment("shop", "web")
    assert deployment["spec"]["replicas"] == 2
    assert STAMP_ANNOTATION not in deployment["metadata"].get("annotations", {})

    (record,) = scenario.records("web", "operation_blocked")
    assert record["details"]["execution_prevented"] is True
    assert (
        "the replicas of shop/web are managed by hpa/web-hpa; set spec.scaling.coexistence: "
        "adjust_hpa to scale through the HPA's minReplicas"
    ) in record["rationale"]
    assert scenario.records("web", "operation_executed") == []
