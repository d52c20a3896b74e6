"""The fake Kubernetes API server, exercised through the real ``kubernetes`` client and kubectl."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_tool
from tests.fakes.kube_api import FakeKubeAPI

NS = "shop"
CONFLICT = (
    'Operation cannot be fulfilled on deployments.apps "web": the object has been modified; '
    "please apply your changes to the latest version and try again"
)


@pytest.fixture
def _kubectl() -> str:
    return require_tool("kubectl", "apt-get install kubernetes-client")


needs_kubectl = pytest.mark.usefixtures("_kubectl")


@pytest.fixture
def api() -> Iterator[FakeKubeAPI]:
    with FakeKubeAPI() as server:
        server.add_deployment(NS, "web")
        yield server


@pytest.fixture
def kubeconfig(api: FakeKubeAPI, tmp_path: Path) -> Path:
    return api.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def client(kubeconfig: Path) -> Iterator[Any]:
    import kubernetes

    with kubernetes.config.new_client_from_config(config_file=str(kubeconfig), context="fake") as c:
        yield c


def apps(client: Any) -> Any:
    import kubernetes

    return kubernetes.client.AppsV1Api(client)


def core(client: Any) -> Any:
    import kubernetes

    return kubernetes.client.CoreV1Api(client)


def status_of(exc: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(exc.body)
    return body


def replicasets(client: Any) -> list[Any]:
    items = apps(client).list_namespaced_replica_set(NS).items
    return sorted(
        items, key=lambda rs: int(rs.metadata.annotations["deployment.kubernetes.io/revision"])
    )


# -- reading -----------------------------------------------------------------------------------


def test_list_deployments_paginates_with_continue_tokens(api: FakeKubeAPI, client: Any) -> None:
    for name in ("a", "b", "c", "d"):
        api.add_deployment(NS, name, replicas=1)
    pages, token = [], None
    while True:
        page = apps(client).list_namespaced_deployment(NS, limit=2, _continue=token)
        pages.append(([d.metadata.name for d in page.items], page.metadata.remaining_item_count))
        assert page.kind == "DeploymentList" and page.api_version == "apps/v1"
        assert page.metadata.resource_version
        token = page.metadata._continue
        if not token:
            break
    assert pages == [(["a", "b"], 3), (["c", "d"], 1), (["web"], None)]
    assert api.count("GET", "/apis/apps/v1/namespaces/shop/deployments") == 3


def test_a_continue_token_from_before_a_compaction_has_expired(
    api: FakeKubeAPI, client: Any
) -> None:
    import kubernetes

    for name in ("a", "b", "c"):
        api.add_deployment(NS, name, replicas=1)
    first = apps(client).list_namespaced_deployment(NS, limit=2)
    api.compact()
    with pytest.raises(kubernetes.client.ApiException) as caught:
        apps(client).list_namespaced_deployment(NS, limit=2, _continue=first.metadata._continue)
    assert caught.value.status == 410
    assert status_of(caught.value)["reason"] == "Expired"
    assert "too old to display a consistent list" in status_of(caught.value)["message"]
    again = apps(client).list_namespaced_deployment(NS, limit=2)  # a new list works
    later = apps(client).list_namespaced_deployment(NS, limit=2, _continue=again.metadata._continue)
    assert [d.metadata.name for d in again.items + later.items] == ["a", "b", "c", "web"]


def test_lists_across_namespaces_with_label_selectors(api: FakeKubeAPI, client: Any) -> None:
    api.add_deployment("other", "api", labels={"app": "api", "tier": "backend"})
    api.add_deployment("other", "cron", labels={"app": "cron", "tier": "batch"})
    every = apps(client).list_deployment_for_all_namespaces()
    assert [(d.metadata.namespace, d.metadata.name) for d in every.items] == [
        ("other", "api"),
        ("other", "cron"),
        ("shop", "web"),
    ]
    chosen = apps(client).list_deployment_for_all_namespaces(label_selector="tier in (backend,x)")
    assert [d.metadata.name for d in chosen.items] == ["api"]
    not_cron = apps(client).list_deployment_for_all_namespaces(label_selector="app!=cron,tier")
    assert [d.metadata.name for d in not_cron.items] == ["api"]
    pods = core(client).list_namespaced_pod("other", label_selector="app=cron")
    assert len(pods.items) == 2
    assert all(p.metadata.labels["pod-template-hash"] for p in pods.items)


def test_objects_carry_the_real_shapes(api: FakeKubeAPI, client: Any) -> None:
    dep = apps(client).read_namespaced_deployment("web", NS)
    assert dep.metadata.uid and dep.metadata.generation == 1 and dep.metadata.creation_timestamp
    assert dep.metadata.annotations["deployment.kubernetes.io/revision"] == "1"
    assert dep.status.ready_replicas == dep.status.available_replicas == 2
    assert dep.status.observed_generation == 1
    container = dep.spec.template.spec.containers[0]
    assert container.resources.requests == {"cpu": "100m", "memory": "512Mi"}
    (rs,) = replicasets(client)
    assert rs.metadata.owner_references[0].name == "web"
    assert rs.metadata.owner_references[0].uid == dep.metadata.uid
    pod = core(client).list_namespaced_pod(NS).items[0]
    assert pod.metadata.owner_references[0].name == rs.metadata.name
    assert pod.status.phase == "Running"
    assert {c.type: c.status for c in pod.status.conditions}["Ready"] == "True"
    assert pod.status.container_statuses[0].restart_count == 0
    assert pod.status.container_statuses[0].state.running.started_at


def test_missing_deployment_is_404_not_found(client: Any) -> None:
    import kubernetes

    with pytest.raises(kubernetes.client.ApiException) as caught:
        apps(client).read_namespaced_deployment("nope", NS)
    assert caught.value.status == 404
    status = status_of(caught.value)
    assert status["reason"] == "NotFound"
    assert status["message"] == 'deployments.apps "nope" not found'
    assert status["details"] == {"name": "nope", "group": "apps", "kind": "deployments"}


def test_an_edit_between_a_read_and_a_patch_makes_the_patch_conflict(
    api: FakeKubeAPI, client: Any
) -> None:
    import kubernetes

    api.add_hpa(NS, "web", "web", min_replicas=2, max_replicas=6)
    api.after(
        "GET", "/horizontalpodautoscalers/web$", lambda a: a.edit_hpa(NS, "web", maxReplicas=9)
    )
    autoscaling = kubernetes.client.AutoscalingV2Api(client)
    read = autoscaling.read_namespaced_horizontal_pod_autoscaler("web", NS)
    body = {
        "metadata": {"resourceVersion": read.metadata.resource_version},
        "spec": {"minReplicas": 3},
    }
    with pytest.raises(kubernetes.client.ApiException) as conflict:
        autoscaling.patch_namespaced_horizontal_pod_autoscaler("web", NS, body)
    assert conflict.value.status == 409
    again = autoscaling.read_namespaced_horizontal_pod_autoscaler("web", NS)  # `after` ran once
    assert (again.spec.min_replicas, again.spec.max_replicas) == (2, 9)
    body["metadata"]["resourceVersion"] = again.metadata.resource_version
    patched = autoscaling.patch_namespaced_horizontal_pod_autoscaler("web", NS, body)
    assert (patched.spec.min_replicas, patched.spec.max_replicas) == (3, 9)


def test_hpas_list_through_autoscaling_v2(api: FakeKubeAPI, client: Any) -> None:
    import kubernetes

    api.add_hpa(NS, "web", "web", min_replicas=2, max_replicas=6)
    api.set_pod_usage(NS, "web", cpu="80m")
    autoscaling = kubernetes.client.AutoscalingV2Api(client)
    (hpa,) = autoscaling.list_namespaced_horizontal_pod_autoscaler(NS).items
    target = hpa.spec.scale_target_ref
    assert (target.kind, target.name) == ("Deployment", "web")
    assert (hpa.spec.min_replicas, hpa.spec.max_replicas) == (2, 6)
    assert hpa.status.current_replicas == 2
    assert hpa.status.current_metrics[0].resource.current.average_utilization == 80
    assert hpa.status.desired_replicas == 2
    api.set_pod_usage(NS, "web", cpu="200m")  # 200% of requests against a target of 80%
    (hpa,) = autoscaling.list_namespaced_horizontal_pod_autoscaler(NS).items
    assert hpa.status.desired_replicas == 5  # ceil(2 * 200 / 80), as the real controller
    api.set_pod_usage(NS, "web", cpu="900m")
    (hpa,) = autoscaling.list_namespaced_horizontal_pod_autoscaler(NS).items
    limited = {c.type: (c.status, c.reason) for c in hpa.status.conditions}["ScalingLimited"]
    assert (hpa.status.desired_replicas, limited) == (6, ("True", "TooManyReplicas"))


def test_discovery_describes_resources_and_subresources(client: Any) -> None:
    import kubernetes

    resources = apps(client).get_api_resources()
    by_name = {r.name: r for r in resources.resources}
    assert by_name["deployments"].short_names == ["deploy"]
    assert by_name["deployments/scale"].kind == "Scale"
    assert "patch" in by_name["deployments/scale"].verbs
    groups = kubernetes.client.ApisApi(client).get_api_versions()
    assert "metrics.k8s.io" in [g.name for g in groups.groups]
    assert kubernetes.client.VersionApi(client).get_code().git_version.startswith("v1.")


# -- writing and the controller ----------------------------------------------------------------


def test_patch_with_stale_resource_version_is_409_conflict(client: Any) -> None:
    import kubernetes

    dep = apps(client).read_namespaced_deployment("web", NS)
    stale = str(int(dep.metadata.resource_version) - 1)
    body = {"metadata": {"resourceVersion": stale}, "spec": {"replicas": 5}}
    with pytest.raises(kubernetes.client.ApiException) as caught:
        apps(client).patch_namespaced_deployment("web", NS, body)
    assert caught.value.status == 409
    assert status_of(caught.value)["reason"] == "Conflict"
    assert status_of(caught.value)["message"] == CONFLICT
    dep.spec.replicas = 7
    dep.metadata.resource_version = stale
    with pytest.raises(kubernetes.client.ApiException) as put_caught:
        apps(client).replace_namespaced_deployment("web", NS, dep)
    assert put_caught.value.status == 409


def test_patch_scales_pods_and_updates_status(api: FakeKubeAPI, client: Any) -> None:
    before = apps(client).read_namespaced_deployment("web", NS)
    body = {
        "metadata": {"resourceVersion": before.metadata.resource_version},
        "spec": {"replicas": 4},
    }
    written = apps(client).patch_namespaced_deployment("web", NS, body)
    assert written.spec.replicas == 4 and written.metadata.generation == 2
    after = apps(client).read_namespaced_deployment("web", NS)
    assert after.status.replicas == after.status.ready_replicas == 4
    assert after.status.updated_replicas == 4 and after.status.observed_generation == 2
    assert int(after.metadata.resource_version) > int(written.metadata.resource_version)
    assert len(core(client).list_namespaced_pod(NS).items) == 4
    patch = next(r for r in api.requests if r.method == "PATCH")
    assert patch.content_type == "application/strategic-merge-patch+json"


def test_merge_json_and_strategic_patches(api: FakeKubeAPI, client: Any) -> None:
    import kubernetes

    merge = {"metadata": {"labels": {"team": "blue"}}}
    apps(client).patch_namespaced_deployment(
        "web", NS, merge, _content_type="application/merge-patch+json"
    )
    ops = [
        {"op": "test", "path": "/spec/replicas", "value": 2},
        {"op": "replace", "path": "/spec/replicas", "value": 3},
        {"op": "add", "path": "/metadata/labels/tier", "value": "front"},
        {"op": "remove", "path": "/metadata/labels/team"},
    ]
    apps(client).patch_namespaced_deployment("web", NS, ops)
    strategic = {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "resources": {"requests": {"cpu": "250m"}}},
    ]}}}}  # fmt: skip
    apps(client).patch_namespaced_deployment("web", NS, strategic)
    dep = api.get_deployment(NS, "web")
    assert dep["spec"]["replicas"] == 3
    assert dep["metadata"]["labels"] == {"app": "web", "tier": "front"}
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["requests"] == {"cpu": "250m", "memory": "512Mi"}
    assert container["image"] == "example/app:1.0"
    with pytest.raises(kubernetes.client.ApiException) as caught:
        apps(client).patch_namespaced_deployment("web", NS, [ops[0]])
    assert caught.value.status == 422


def test_create_replace_dry_run_and_delete(api: FakeKubeAPI, client: Any) -> None:
    import kubernetes

    models = kubernetes.client
    hpa = models.V2HorizontalPodAutoscaler(
        metadata=models.V1ObjectMeta(name="web"),
        spec=models.V2HorizontalPodAutoscalerSpec(
            scale_target_ref=models.V2CrossVersionObjectReference(
                api_version="apps/v1", kind="Deployment", name="web"
            ),
            min_replicas=2,
            max_replicas=4,
        ),
    )
    autoscaling = models.AutoscalingV2Api(client)
    created = autoscaling.create_namespaced_horizontal_pod_autoscaler(NS, hpa)
    assert (
        created.metadata.uid
        and created.spec.behavior.scale_down.stabilization_window_seconds == 300
    )
    assert api.requests[-1].status == 201
    with pytest.raises(models.ApiException) as exists:
        autoscaling.create_namespaced_horizontal_pod_autoscaler(NS, hpa)
    assert (exists.value.status, status_of(exists.value)["reason"]) == (409, "AlreadyExists")
    dep = apps(client).read_namespaced_deployment("web", NS)
    dep.spec.replicas = 3
    dry = apps(client).replace_namespaced_deployment("web", NS, dep, dry_run="All")
    assert dry.spec.replicas == 3 and api.get_deployment(NS, "web")["spec"]["replicas"] == 2
    replaced = apps(client).replace_namespaced_deployment("web", NS, dep)
    assert replaced.metadata.generation == 2 and len(api.pods(NS, "web")) == 3
    running = core(client).list_namespaced_pod(NS, field_selector="status.phase=Running")
    assert len(running.items) == 3
    assert apps(client).delete_namespaced_deployment("web", NS)["status"] == "Success"
    assert core(client).list_namespaced_pod(NS).items == []  # garbage-collected
    assert apps(client).list_namespaced_replica_set(NS).items == []


def test_rollout_restart_creates_a_new_revision(client: Any) -> None:
    restart = {"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": "2025-01-01T00:00:00Z",
    }}}}}  # fmt: skip
    apps(client).patch_namespaced_deployment("web", NS, restart)
    old, new = replicasets(client)
    assert new.metadata.annotations["deployment.kubernetes.io/revision"] == "2"
    assert (old.spec.replicas, new.spec.replicas) == (0, 2)
    pods = core(client).list_namespaced_pod(NS).items
    assert {p.metadata.owner_references[0].name for p in pods} == {new.metadata.name}
    assert pods[0].metadata.annotations["kubectl.kubernetes.io/restartedAt"]
    dep = apps(client).read_namespaced_deployment("web", NS)
    assert dep.metadata.annotations["deployment.kubernetes.io/revision"] == "2"


def test_rollback_by_copying_an_old_template_reuses_its_replicaset(client: Any) -> None:
    image = {
        "spec": {
            "template": {"spec": {"containers": [{"name": "web", "image": "example/app:2.0"}]}}
        }
    }
    apps(client).patch_namespaced_deployment("web", NS, image)
    first, _ = replicasets(client)
    template = client.sanitize_for_serialization(first.spec.template)
    del template["metadata"]["labels"]["pod-template-hash"]
    apps(client).patch_namespaced_deployment(
        "web", NS, {"spec": {"template": template}}, _content_type="application/merge-patch+json"
    )
    newer, current = replicasets(client)
    assert current.metadata.name == first.metadata.name
    assert current.metadata.annotations["deployment.kubernetes.io/revision"] == "3"
    assert current.metadata.annotations["deployment.kubernetes.io/revision-history"] == "1"
    assert (current.spec.replicas, newer.spec.replicas) == (2, 0)
    dep = apps(client).read_namespaced_deployment("web", NS)
    assert dep.spec.template.spec.containers[0].image == "example/app:1.0"
    assert dep.status.updated_replicas == 2


def test_scale_subresource(client: Any) -> None:
    scale = apps(client).read_namespaced_deployment_scale("web", NS)
    assert (scale.spec.replicas, scale.status.selector) == (2, "app=web")
    apps(client).patch_namespaced_deployment_scale("web", NS, {"spec": {"replicas": 1}})
    assert apps(client).read_namespaced_deployment("web", NS).status.replicas == 1


def test_pods_wait_for_readiness_when_asked(api: FakeKubeAPI, client: Any) -> None:
    api.set_new_pods_ready(NS, "web", False)
    apps(client).patch_namespaced_deployment("web", NS, {"spec": {"replicas": 4}})
    dep = apps(client).read_namespaced_deployment("web", NS)
    assert (dep.status.replicas, dep.status.ready_replicas, dep.status.unavailable_replicas) == (
        4,
        2,
        2,
    )
    api.mark_pods_ready(NS, "web")
    dep = apps(client).read_namespaced_deployment("web", NS)
    assert dep.status.ready_replicas == 4 and dep.status.unavailable_replicas is None


def test_crash_loop_and_pod_deletion(api: FakeKubeAPI, client: Any) -> None:
    crashed = api.crash_pod(NS, "web", index=1, restarts=5)
    pod = core(client).read_namespaced_pod(crashed, NS)
    status = pod.status.container_statuses[0]
    assert status.state.waiting.reason == "CrashLoopBackOff"
    assert (status.restart_count, status.ready) == (5, False)
    assert apps(client).read_namespaced_deployment("web", NS).status.ready_replicas == 1
    deleted = core(client).delete_namespaced_pod(crashed, NS)
    assert deleted.metadata.deletion_timestamp is not None
    names = [p.metadata.name for p in core(client).list_namespaced_pod(NS).items]
    assert crashed not in names and len(names) == 2
    assert apps(client).read_namespaced_deployment("web", NS).status.ready_replicas == 2


def test_owner_markers(api: FakeKubeAPI, client: Any) -> None:
    api.set_owner_markers(NS, "web", argocd=True, flux=True)
    meta = apps(client).read_namespaced_deployment("web", NS).metadata
    assert meta.annotations["argocd.argoproj.io/tracking-id"] == "web:apps/Deployment:shop/web"
    assert meta.labels["app.kubernetes.io/instance"] == "web"
    assert meta.labels["kustomize.toolkit.fluxcd.io/name"] == "apps"
    assert meta.labels["kustomize.toolkit.fluxcd.io/namespace"] == "flux-system"
    api.set_owner_markers(NS, "web")
    assert "app.kubernetes.io/instance" not in api.get_deployment(NS, "web")["metadata"]["labels"]


# -- metrics and authorization -----------------------------------------------------------------


def test_pod_metrics_through_custom_objects(api: FakeKubeAPI, client: Any) -> None:
    import kubernetes

    custom = kubernetes.client.CustomObjectsApi(client)
    api.set_pod_usage(NS, "web", cpu="85m", memory="358Mi")
    api.set_pod_usage(NS, "web", cpu="300m", memory="1Gi", pod=0)
    apps(client).patch_namespaced_deployment("web", NS, {"spec": {"replicas": 3}})
    listing = custom.list_namespaced_custom_object("metrics.k8s.io", "v1beta1", NS, "pods")
    assert listing["kind"] == "PodMetricsList"
    usage = [item["containers"][0]["usage"] for item in listing["items"]]
    assert sorted(u["cpu"] for u in usage) == ["300m", "85m", "85m"]
    assert all(item["window"] and item["timestamp"] for item in listing["items"])
    every = custom.list_cluster_custom_object("metrics.k8s.io", "v1beta1", "pods")
    assert len(every["items"]) == 3


def test_self_subject_access_review(api: FakeKubeAPI, client: Any) -> None:
    import kubernetes

    api.deny("patch", "apps", "deployments", namespace=NS)
    auth = kubernetes.client.AuthorizationV1Api(client)

    def can(verb: str, namespace: str) -> bool:
        attrs = {"verb": verb, "group": "apps", "resource": "deployments", "namespace": namespace}
        review = auth.create_self_subject_access_review({"spec": {"resourceAttributes": attrs}})
        return bool(review.status.allowed)

    assert can("get", NS) and can("patch", "other") and not can("patch", NS)


def test_denied_request_is_403_with_the_real_message(api: FakeKubeAPI, client: Any) -> None:
    import kubernetes

    api.deny("patch", "apps", "deployments", namespace=NS)
    with pytest.raises(kubernetes.client.ApiException) as caught:
        apps(client).patch_namespaced_deployment("web", NS, {"spec": {"replicas": 3}})
    assert caught.value.status == 403
    assert status_of(caught.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'deployments.apps "web" is forbidden: '
        'User "system:serviceaccount:ops:reconciler" cannot patch resource "deployments" '
        'in API group "apps" in the namespace "shop"',
        "reason": "Forbidden",
        "details": {"name": "web", "group": "apps", "kind": "deployments"},
        "code": 403,
    }
    assert api.get_deployment(NS, "web")["spec"]["replicas"] == 2


def test_injected_failures_and_request_log(api: FakeKubeAPI, client: Any) -> None:
    import kubernetes

    api.fail("GET", r"/deployments$", status=503, times=1)
    api.fail("GET", r"/pods$", status=403)
    with pytest.raises(kubernetes.client.ApiException) as unavailable:
        apps(client).list_namespaced_deployment(NS)
    assert unavailable.value.status == 503
    assert status_of(unavailable.value)["reason"] == "ServiceUnavailable"
    assert len(apps(client).list_namespaced_deployment(NS).items) == 1
    with pytest.raises(kubernetes.client.ApiException) as forbidden:
        core(client).list_namespaced_pod(NS)
    assert status_of(forbidden.value)["message"] == (
        'pods is forbidden: User "system:serviceaccount:ops:reconciler" cannot list resource '
        '"pods" in API group "" in the namespace "shop"'
    )
    assert [r.status for r in api.requests] == [503, 200, 403]
    assert api.requests[0].path == "/apis/apps/v1/namespaces/shop/deployments"
    assert api.count("GET") == 3 and api.count(path_prefix="/api/v1") == 1
    api.reset_log()
    assert api.requests == []


def test_delay_makes_clients_time_out(api: FakeKubeAPI, kubeconfig: Path) -> None:
    import kubernetes
    import urllib3

    api.delay(r"/deployments/web$", 2.0)
    settings = kubernetes.client.Configuration()
    settings.retries = False  # by default urllib3 retries a timed-out GET three times
    with (
        kubernetes.config.new_client_from_config(
            config_file=str(kubeconfig), context="fake", client_configuration=settings
        ) as c,
        pytest.raises(urllib3.exceptions.ReadTimeoutError),
    ):
        apps(c).read_namespaced_deployment("web", NS, _request_timeout=0.2)
    assert [(r.method, r.status) for r in api.requests] == [("GET", 0)]  # still held


def test_required_token(tmp_path: Path) -> None:
    import kubernetes

    with FakeKubeAPI(required_token="s3cret") as server:
        server.add_deployment(NS, "web")
        bad = server.write_kubeconfig(tmp_path / "bad", token="wrong")
        with (
            kubernetes.config.new_client_from_config(config_file=str(bad), context="fake") as c,
            pytest.raises(kubernetes.client.ApiException) as caught,
        ):
            apps(c).list_namespaced_deployment(NS)
        assert caught.value.status == 401
        assert status_of(caught.value)["reason"] == "Unauthorized"
        good = server.write_kubeconfig(tmp_path / "good", token="s3cret")
        with kubernetes.config.new_client_from_config(config_file=str(good), context="fake") as c:
            assert len(apps(c).list_namespaced_deployment(NS).items) == 1
        conn = http.client.HTTPConnection("127.0.0.1", server.server_port)
        try:  # one keep-alive connection; the header name's case does not matter
            for headers in ({}, {"authorization": "Bearer s3cret"}):
                conn.request("GET", "/apis/apps/v1/deployments", headers=headers)
                response = conn.getresponse()
                response.read()
                assert response.getheader("Content-Length")
            assert response.status == 200
        finally:
            conn.close()
        assert [r.status for r in server.requests][-2:] == [401, 200]


def test_other_context_points_at_a_dead_port(kubeconfig: Path) -> None:
    import kubernetes
    import urllib3

    with kubernetes.config.new_client_from_config(
        config_file=str(kubeconfig), context="other"
    ) as c:
        c.configuration.retries = False
        with pytest.raises(urllib3.exceptions.HTTPError):
            apps(c).list_namespaced_deployment(NS)


# -- kubectl -----------------------------------------------------------------------------------


def kubectl(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    env["HOME"] = str(kubeconfig.parent)
    command = [
        "kubectl",
        "--kubeconfig",
        str(kubeconfig),
        "--cache-dir",
        str(kubeconfig.parent / "cache"),
    ]
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, env=env, timeout=30, check=False
    )


@needs_kubectl
def test_kubectl_get_deployments_json(kubeconfig: Path) -> None:
    result = kubectl(kubeconfig, "get", "deployments", "-n", NS, "-o", "json")
    assert result.returncode == 0, result.stderr
    (item,) = json.loads(result.stdout)["items"]
    assert item["metadata"]["name"] == "web" and item["status"]["readyReplicas"] == 2


@needs_kubectl
def test_kubectl_scale(api: FakeKubeAPI, kubeconfig: Path) -> None:
    result = kubectl(kubeconfig, "scale", "deployment", "web", "--replicas=3", "-n", NS)
    assert result.returncode == 0, result.stderr
    assert "deployment.apps/web scaled" in result.stdout
    assert api.get_deployment(NS, "web")["spec"]["replicas"] == 3
    assert len(api.pods(NS, "web")) == 3
    patch = next(r for r in api.requests if r.method == "PATCH")
    assert patch.path.endswith("/deployments/web/scale")


@needs_kubectl
def test_kubectl_top_pods(api: FakeKubeAPI, kubeconfig: Path) -> None:
    api.set_pod_usage(NS, "web", cpu="85m", memory="358Mi")
    result = kubectl(kubeconfig, "top", "pods", "-n", NS)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
    assert [line.split()[1:] for line in lines[1:]] == [["85m", "358Mi"]] * 2


@needs_kubectl
def test_kubectl_get_raw_and_errors(api: FakeKubeAPI, kubeconfig: Path) -> None:
    result = kubectl(kubeconfig, "get", "--raw", "/apis")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["kind"] == "APIGroupList"
    api.deny("get", "apps", "deployments", namespace=NS)
    denied = kubectl(kubeconfig, "get", "deployment", "web", "-n", NS)
    assert denied.returncode == 1
    assert 'cannot get resource "deployments" in API group "apps"' in denied.stderr


@needs_kubectl
def test_kubectl_rollout_restart_and_undo(api: FakeKubeAPI, kubeconfig: Path) -> None:
    for args in (
        ("rollout", "restart", "deployment/web"),
        ("set", "image", "deployment/web", "web=example/app:2.0"),
        ("rollout", "undo", "deployment/web", "--to-revision=1"),
    ):
        result = kubectl(kubeconfig, *args, "-n", NS)
        assert result.returncode == 0, result.stderr
    history = kubectl(kubeconfig, "rollout", "history", "deployment/web", "-n", NS)
    assert [line.split()[0] for line in history.stdout.splitlines()[2:] if line] == ["2", "3", "4"]
    dep = api.get_deployment(NS, "web")
    assert dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "4"
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "example/app:1.0"
    assert len(api.replicasets(NS, "web")) == 3


@needs_kubectl
def test_kubectl_auth_can_i(api: FakeKubeAPI, kubeconfig: Path) -> None:
    api.deny("delete", "", "pods", namespace=NS)
    answers = {
        ns: kubectl(kubeconfig, "auth", "can-i", "delete", "pods", "-n", ns).stdout.strip()
        for ns in (NS, "other")
    }
    assert answers == {NS: "no", "other": "yes"}
    # Recent kubectl releases send the review as protobuf, older ones (Debian's) as JSON; the
    # fake must answer both the way the API server does.
    assert api.requests[-1].content_type in {
        "application/vnd.kubernetes.protobuf",
        "application/json",
    }


@needs_kubectl
def test_kubectl_sends_the_token_over_tls(tmp_path: Path) -> None:
    with FakeKubeAPI(tls=True, required_token="s3cret") as server:
        server.add_deployment(NS, "web")
        good = server.write_kubeconfig(tmp_path / "good", token="s3cret", namespace=NS)
        result = kubectl(good, "get", "deployments", "-o", "name")
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["deployment.apps/web"]
        bad = server.write_kubeconfig(tmp_path / "bad", token="wrong")
        assert "Unauthorized" in kubectl(bad, "get", "deployments").stderr
