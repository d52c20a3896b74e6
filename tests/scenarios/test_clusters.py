"""One repository, several clusters: the simulated one, and real ones behind the fake
Kubernetes API server. Every record names the cluster it was made on, a run reads only its
own cluster's records, and a blueprint that names its cluster is acted on only there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.clusters import kubernetes_options
from tests.fakes.kube_api import FakeKubeAPI
from tests.scenarios.conftest import Scenario

SERVICE = "todo-frontend"
NAMESPACE = "todo-app"


def _real_run(scenario: Scenario, api: FakeKubeAPI, *args: str) -> dict[str, Any]:
    options = kubernetes_options(api, scenario.root.parent)
    result = scenario.json(*options, "run", "-s", SERVICE, *args, expect=None)
    assert isinstance(result, dict)
    return result


def _declare_clusters(scenario: Scenario, clusters: list[dict[str, str]]) -> None:
    path = scenario.root / "blueprints/governance/policies.yaml"
    policies = yaml.safe_load(path.read_text())
    policies["clusters"] = clusters
    scenario.write("blueprints/governance/policies.yaml", yaml.safe_dump(policies), "clusters")


def test_a_repository_used_with_the_simulator_then_a_real_cluster_keeps_their_trails_apart(
    scenario: Scenario, tmp_path: Path
) -> None:
    # On the simulator, the seed scales 2 -> 3 (W 81.5 %); the change awaits verification.
    scenario.cli("sim", "init", "--scenario", "seed", "--history", "10m")
    scenario.cli("run", "-s", SERVICE)
    simulated = scenario.records(SERVICE)
    assert "operation_executed" in [r["event_type"] for r in simulated]
    assert {r["cluster"] for r in simulated} == {"simulated"}
    assert "Reconciler-Cluster: simulated" in scenario.commits()[0].message

    with FakeKubeAPI(cluster_uid="0b5e4c1a-real-cluster") as api:
        api.add_deployment(NAMESPACE, SERVICE, replicas=2)
        api.set_pod_usage(NAMESPACE, SERVICE, cpu="95m", memory="500Mi")
        report = _real_run(scenario, api)
    assert report["cluster"] == {
        "name": "0b5e4c1a-real-cluster",
        "identity": "0b5e4c1a-real-cluster",
    }
    (service,) = report["services"]
    assert service["error"] is None, service
    # The simulated change is not this cluster's: nothing waits on it, nothing verifies it
    # ("not verified ... 299d later"), no cooldown counts from it.
    assert service["waiting"] is None
    simulated_ids = {r["id"] for r in simulated}
    real = [r for r in scenario.records(SERVICE) if r["id"] not in simulated_ids]
    assert real, "the real run records its decision"
    assert {r["cluster"] for r in real} == {"0b5e4c1a-real-cluster"}
    assert not [r for r in real if r["event_type"].startswith("verification")]
    assert not {link for r in real for link in r["links"].values()} & simulated_ids

    # Back on the simulator, the real cluster's records are not read either.
    back = scenario.json("run", "-s", SERVICE)
    assert isinstance(back, dict)
    assert back["cluster"]["identity"] == "simulated"

    # `audit` shows the cluster of each record, and filters by it.
    listed = scenario.cli("audit", "-s", SERVICE).output
    assert "CLUSTER" in listed.splitlines()[0]
    only_real = scenario.json("audit", "-s", SERVICE, "--on", "0b5e4c1a-real-cluster")
    assert isinstance(only_real, dict)
    assert {r["id"] for r in only_real["records"]} == {r["id"] for r in real}


def test_a_blueprint_for_cluster_b_is_not_acted_on_by_a_run_against_cluster_a(
    scenario: Scenario,
) -> None:
    _declare_clusters(
        scenario,
        [
            {"name": "cluster-a", "identity": "aaaa-1111"},
            {"name": "cluster-b", "identity": "bbbb-2222"},
        ],
    )
    path = scenario.root / "blueprints/todo-frontend/blueprint.yaml"
    text = path.read_text().replace("spec:\n", "spec:\n  cluster: cluster-b\n", 1)
    scenario.write_blueprint(SERVICE, text, "todo-frontend runs on cluster-b")
    with FakeKubeAPI(cluster_uid="aaaa-1111") as api:
        api.add_deployment(NAMESPACE, SERVICE, replicas=2)
        api.set_pod_usage(NAMESPACE, SERVICE, cpu="95m", memory="500Mi")
        report = _real_run(scenario, api)
        replicas = api.get_deployment(NAMESPACE, SERVICE)["spec"]["replicas"]
        shown = scenario.cli(*kubernetes_options(api, scenario.root.parent), "run", "-s", SERVICE)
    assert report["cluster"] == {"name": "cluster-a", "identity": "aaaa-1111"}
    assert report["services"] == []
    assert report["skipped"] == [
        {
            "service": SERVICE,
            "reason": "spec.cluster is cluster-b; this run is on cluster-a (aaaa-1111)",
        }
    ]
    assert replicas == 2
    assert scenario.records(SERVICE) == []
    assert "skipped, as another cluster's: 1 service" in shown.output
    assert "on cluster cluster-a (aaaa-1111)" in shown.output


def test_a_real_cluster_the_policies_do_not_declare_is_refused(scenario: Scenario) -> None:
    _declare_clusters(scenario, [{"name": "cluster-a", "identity": "aaaa-1111"}])
    with FakeKubeAPI(cluster_uid="cccc-3333") as api:
        api.add_deployment(NAMESPACE, SERVICE, replicas=2)
        result = scenario.cli(
            *kubernetes_options(api, scenario.root.parent), "run", "-s", SERVICE, expect=3
        )
    assert "this cluster (kube-system UID cccc-3333) is none of the clusters" in result.output
    assert scenario.records(SERVICE) == []


def test_a_blueprint_naming_an_undeclared_cluster_does_not_validate(scenario: Scenario) -> None:
    path = scenario.root / "blueprints/todo-frontend/blueprint.yaml"
    text = path.read_text().replace("spec:\n", "spec:\n  cluster: prod-eu\n", 1)
    scenario.write_blueprint(SERVICE, text, "todo-frontend runs on prod-eu")
    result = scenario.cli("validate", expect=1)
    assert "spec.cluster: 'prod-eu' is not a cluster of the global policies" in result.output


def test_a_simulated_proposal_is_not_pending_on_a_real_cluster(scenario: Scenario) -> None:
    scenario.cli("sim", "init", "--scenario", "seed")
    scenario.cli("request", SERVICE, "scale_beyond_limits", "--replicas", "8", "--reason", "x")
    listed = scenario.json("approvals", "--state", "pending")
    assert isinstance(listed, dict)
    (proposal,) = listed["approvals"]
    assert proposal["cluster"] == "simulated"
    with FakeKubeAPI(cluster_uid="0b5e4c1a-real-cluster") as api:
        api.add_deployment(NAMESPACE, SERVICE, replicas=2)
        options = kubernetes_options(api, scenario.root.parent)
        status = scenario.json(*options, "status")
    assert isinstance(status, dict)
    (frontend,) = [s for s in status["services"] if s["service"] == SERVICE]
    assert frontend["pending_approvals"] == []
    assert status["cluster"]["identity"] == "0b5e4c1a-real-cluster"
    real = scenario.json("approvals", "--on", "0b5e4c1a-real-cluster")
    assert real == {"approvals": [], "warnings": []}
    on_sim = scenario.json("approvals", "--on", "simulated")
    assert isinstance(on_sim, dict)
    assert [item["approval_id"] for item in on_sim["approvals"]] == [proposal["approval_id"]]


def test_without_its_identity_a_real_cluster_is_neither_changed_nor_recorded(
    scenario: Scenario,
) -> None:
    with FakeKubeAPI(cluster_uid="0b5e4c1a-real-cluster") as api:
        api.add_deployment(NAMESPACE, SERVICE, replicas=2)
        api.set_pod_usage(NAMESPACE, SERVICE, cpu="95m", memory="500Mi")
        api.deny("get", "", "namespaces")
        report = _real_run(scenario, api)
        replicas = api.get_deployment(NAMESPACE, SERVICE)["spec"]["replicas"]
    assert report["cluster"]["identity"] == "unidentified"
    (service,) = report["services"]
    assert service["stage"] == "observe"
    assert "reading the kube-system namespace" in service["error"]
    assert replicas == 2
    assert scenario.records(SERVICE) == []
