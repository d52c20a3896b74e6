"""`reconciler --cluster kubernetes request SERVICE resources`, on a pod of two containers.

Why it exists: a resources request is sized (and so governed) against the pod's total request,
the number `status` shows and utilization divides by. This proves, from the command line to
the fake API server, that the change then sets that same total, however many containers share
it: a request governed as a 5 % change must not double the pod's CPU.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clusters import kubernetes_options, post_deployment
from tests.fakes.kube_api import FakeKubeAPI
from tests.scenarios.conftest import Scenario, web_fleet


@pytest.fixture
def api() -> Iterator[FakeKubeAPI]:
    """Deployment shop/web: an application container and a sidecar, 100m CPU each."""
    with FakeKubeAPI() as server:
        containers = [
            {"name": name, "image": "example/app:1.0", "resources": {"requests": {"cpu": "100m"}}}
            for name in ("web", "proxy")
        ]
        post_deployment(server, containers)
        server.set_pod_usage("shop", "web", cpu="60m", memory="64Mi")
        yield server


@pytest.fixture
def scenario(tmp_path: Path) -> Scenario:
    return web_fleet(tmp_path)


def test_a_small_request_moves_the_pods_total_by_that_much(
    scenario: Scenario, api: FakeKubeAPI, tmp_path: Path
) -> None:
    cluster = kubernetes_options(api, tmp_path)
    scenario.cli(*cluster, "request", "web", "resources", "--cpu", "210m", "--reason", "a sidecar")

    (record,) = scenario.records("web", "operation_executed")
    assert record["operation"] == "adjust_resources_within_10_percent"
    assert record["details"]["request"]["change_percent"] == pytest.approx(0.05)
    assert record["details"]["request"]["parameters"]["cpu_request_before"] == 200
    containers = api.get_deployment("shop", "web")["spec"]["template"]["spec"]["containers"]
    assert [c["resources"]["requests"]["cpu"] for c in containers] == ["105m", "105m"]
    # Each pod uses 60m in each container: 120m of the 210m it now requests in all.
    (service,) = scenario.json(*cluster, "status")["services"]  # type: ignore[index]
    assert service["weighted_utilization"] == pytest.approx(120 / 210)
