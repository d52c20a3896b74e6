"""Kubernetes Events for what a cycle did: `reconciler --cluster kubernetes run` against the
fake API server, and the Events `kubectl describe deployment` would show afterwards.

No Prometheus is needed: the blueprint weighs CPU alone, which the metrics API gives, and the
load (95m of 100m on 2 pods) only calls for a scale-up from 2 to 3 replicas.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.clusters import kubernetes_options
from tests.fakes.kube_api import FakeKubeAPI
from tests.scenarios.conftest import Scenario, web_blueprint, web_fleet


@pytest.fixture
def api() -> Iterator[FakeKubeAPI]:
    with FakeKubeAPI() as server:
        server.add_deployment("shop", "web", replicas=2)
        server.set_pod_usage("shop", "web", cpu="95m", memory="256Mi")
        yield server


def run(scenario: Scenario, api: FakeKubeAPI, tmp_path: Path, *extra: str) -> dict[str, Any]:
    """`reconciler --cluster kubernetes --kubeconfig ... run -o json`; the one service's part."""
    result = scenario.json(*kubernetes_options(api, tmp_path), "run", *extra)
    assert isinstance(result, dict)
    (service,) = result["services"]
    assert service["error"] is None, service
    return dict(service)


def test_a_scale_up_leaves_an_event_naming_its_numbers_and_its_record(
    tmp_path: Path, api: FakeKubeAPI
) -> None:
    scenario = web_fleet(tmp_path)
    service = run(scenario, api, tmp_path)

    assert [s["outcome"] for s in service["steps"]] == ["executed"]
    assert api.get_deployment("shop", "web")["spec"]["replicas"] == 3
    (record,) = scenario.records("web", "operation_executed")
    (event,) = api.events("shop", "web")
    assert (event["reason"], event["type"]) == ("ReconcilerScaled", "Normal")
    assert event["message"].startswith("scaled from 2 to 3 replicas: ")
    assert event["message"].endswith(f" (audit record {record['id']})")
    assert "\n" not in event["message"]
    assert event["metadata"]["annotations"]["reconciler/record-id"] == record["id"]
    assert service["notes"] == []


def test_a_refusal_leaves_a_warning_event(tmp_path: Path, api: FakeKubeAPI) -> None:
    api.add_hpa("shop", "web-hpa", "web", min_replicas=1, max_replicas=2)
    scenario = web_fleet(tmp_path, web_blueprint(coexistence="exclusive"))
    service = run(scenario, api, tmp_path)

    assert [s["outcome"] for s in service["steps"]] == ["blocked"]
    (record,) = scenario.records("web", "operation_blocked")
    (event,) = api.events("shop", "web")
    assert (event["reason"], event["type"]) == ("ReconcilerRefused", "Warning")
    assert event["message"].startswith("refused scale_within_limits from 2 to 3 replicas: ")
    assert "managed by hpa/web-hpa" in event["message"]
    assert event["metadata"]["annotations"]["reconciler/record-id"] == record["id"]


def test_an_event_that_cannot_be_posted_is_a_warning_and_the_change_stands(
    tmp_path: Path, api: FakeKubeAPI
) -> None:
    api.deny("create", "", "events")
    scenario = web_fleet(tmp_path)
    service = run(scenario, api, tmp_path)

    assert [s["outcome"] for s in service["steps"]] == ["executed"]
    assert api.get_deployment("shop", "web")["spec"]["replicas"] == 3
    (record,) = scenario.records("web", "operation_executed")
    (note,) = service["note_details"]
    assert (note["kind"], note["severity"]) == ("event_not_posted", "warning")
    assert service["warnings"] == [note["text"]]
    assert (
        f"no ReconcilerScaled event on deployment shop/web (record {record['id']})"
        in (note["text"])
    )
    assert "may not create events in namespace shop (RBAC)" in note["text"]
    assert api.events("shop", "web") == []


def test_a_dry_run_posts_no_event(tmp_path: Path, api: FakeKubeAPI) -> None:
    scenario = web_fleet(tmp_path)
    service = run(scenario, api, tmp_path, "--dry-run")

    assert [s["outcome"] for s in service["steps"]] == ["would execute"]
    assert api.events("shop", "web") == []
