"""KubernetesCluster against the fake API server, under the real `kubernetes` client: request
budgets, pagination, errors, other controllers, the change kinds, and the lazy import.

What every Cluster must do is in test_cluster_contract.py; this file covers what is particular
to Kubernetes.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from reconciler.adapters.kubernetes import KubernetesCluster, parse_quantity
from reconciler.adapters.kubernetes.writes import _merge_diff, _share_request
from reconciler.core.errors import ClusterError, ConfigError, ConflictError, MetricsError
from reconciler.core.observed.changes import Change, ChangeKind
from reconciler.core.observed.observation import ChangeStamp, DeploymentState, Metrics, Target
from reconciler.core.trail.notices import Notice, NoticeReason
from tests.clusters import post_deployment, token_file_kubeconfig
from tests.conftest import REPO
from tests.fakes import kube_api
from tests.fakes.kube_api import HPAS, FakeKubeAPI

WEB = Target(namespace="shop", name="web")
NOW = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
MIB = 1024**2

Factory = Callable[..., KubernetesCluster]


def add_deployments_quickly(
    api: FakeKubeAPI,
    namespace: str,
    count: int,
    prefix: str = "svc",
    cpu: str = "50m",
    memory: str = "256Mi",
) -> list[Target]:
    """`count` deployments of 2 ready pods each (100m and 512Mi requested per pod, `cpu` and
    `memory` used), in well under a second.

    `add_deployment` settles the whole store after every call, which makes a thousand of them
    take minutes. This builds the first one through it, then stores copies of its Deployment,
    ReplicaSet and pods (renamed, with fresh uids) directly, as the fake's own controller would
    have left them. (Setting usage through `set_pod_usage` would settle the store again.)
    """
    first = f"{prefix}-{0:04d}"
    api.add_deployment(namespace, first)
    with api._lock:
        store = api._store
        api._extras[(namespace, first)] = kube_api._DeploymentExtras(cpu=cpu, memory=memory)
        deployment = store[kube_api.DEPLOYMENTS][(namespace, first)]
        children = {
            resource: [
                o
                for (ns, name), o in store[resource].items()
                if ns == namespace and name.startswith(f"{first}-")
            ]
            for resource in (kube_api.REPLICASETS, kube_api.PODS)
        }
        uids = [deployment["metadata"]["uid"]] + [
            o["metadata"]["uid"] for objs in children.values() for o in objs
        ]
        text = json.dumps([deployment, children[kube_api.REPLICASETS], children[kube_api.PODS]])
        for index in range(1, count):
            name = f"{prefix}-{index:04d}"
            copy_text = text.replace(f'"{first}', f'"{name}')
            for uid in uids:
                copy_text = copy_text.replace(uid, str(uuid.uuid4()))
            new_deployment, replicasets, pods = json.loads(copy_text)
            for obj in (new_deployment, *replicasets, *pods):
                api._rv += 1
                obj["metadata"]["resourceVersion"] = str(api._rv)
            store[kube_api.DEPLOYMENTS][(namespace, name)] = new_deployment
            api._extras[(namespace, name)] = kube_api._DeploymentExtras(cpu=cpu, memory=memory)
            for rs in replicasets:
                store[kube_api.REPLICASETS][(namespace, rs["metadata"]["name"])] = rs
            for pod in pods:
                api._serial += 1
                store[kube_api.PODS][(namespace, pod["metadata"]["name"])] = pod
                api._pod_info[(namespace, pod["metadata"]["name"])] = kube_api._PodInfo(
                    api._serial, name
                )
    return [Target(namespace=namespace, name=f"{prefix}-{i:04d}") for i in range(count)]


@pytest.fixture
def api() -> Iterator[FakeKubeAPI]:
    with FakeKubeAPI() as server:
        yield server


@pytest.fixture
def kubeconfig(api: FakeKubeAPI, tmp_path: Path) -> Path:
    return api.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def connect(kubeconfig: Path) -> Iterator[Factory]:
    """Build adapters on the fake (closed after the test); no waiting between retries."""
    made: list[KubernetesCluster] = []

    def build(**options: Any) -> KubernetesCluster:
        options = {"backoff": 0.0, "now": lambda: NOW, **options}
        context = options.pop("context", None)
        cluster = KubernetesCluster.from_kubeconfig(kubeconfig, context, **options)
        made.append(cluster)
        return cluster

    yield build
    for cluster in made:
        cluster.close()


def stamp(operation_id: str = "op-1", **overrides: Any) -> ChangeStamp:
    values: dict[str, Any] = {
        "operation_id": operation_id,
        "decision_id": "dec-1",
        "operation": "scale_within_limits",
        "service": "web",
        "at": NOW,
        "summary": "scale 2→3",
    }
    return ChangeStamp(**(values | overrides))


def observed(cluster: KubernetesCluster, target: Target = WEB) -> DeploymentState:
    state = cluster.observe([target])[target]
    assert isinstance(state, DeploymentState), state
    return state


def change(cluster: KubernetesCluster, kind: ChangeKind, **fields: Any) -> Change:
    state = observed(cluster, fields.pop("target", WEB))
    values: dict[str, Any] = {
        "target": state.target,
        "kind": kind,
        "stamp": stamp(),
        "expected_version": state.version,
    }
    return Change(**(values | fields))


# ---------------------------------------------------------------------- requests and paging


@pytest.mark.slow
def test_a_thousand_deployments_in_one_namespace_cost_at_most_five_requests(
    api: FakeKubeAPI, connect: Factory
) -> None:
    targets = add_deployments_quickly(api, "big", 1000)
    # A snapshot outlives a slow observe: the count must not depend on the machine's speed.
    cluster = connect(snapshot_ttl=3600)
    api.reset_log()
    states = cluster.observe(targets)
    metrics = cluster.current(targets)
    assert api.count() <= 5, [(r.method, r.path) for r in api.requests]
    assert all(
        isinstance(s, DeploymentState) and s.ready_replicas == 2 and len(s.pods) == 2
        for s in states.values()
    )
    assert all(isinstance(m, Metrics) and m.cpu_utilization is not None for m in metrics.values())
    last = metrics[targets[-1]]
    assert isinstance(last, Metrics) and last.cpu_utilization == pytest.approx(0.5)
    assert last.memory_utilization == pytest.approx(0.5)


def test_lists_are_paginated_with_continue(api: FakeKubeAPI, connect: Factory) -> None:
    targets = add_deployments_quickly(api, "shop", 5)
    cluster = connect(page_size=2)
    api.reset_log()
    states = cluster.observe(targets)
    assert all(isinstance(s, DeploymentState) and len(s.pods) == 2 for s in states.values())
    pages = [r for r in api.requests if r.path == "/apis/apps/v1/namespaces/shop/deployments"]
    assert [r.query.get("limit") for r in pages] == ["2", "2", "2"]
    assert [bool(r.query.get("continue")) for r in pages] == [False, True, True]
    pod_pages = [r for r in api.requests if r.path == "/api/v1/namespaces/shop/pods"]
    assert len(pod_pages) == 5  # 10 pods, 2 a page


def test_a_list_whose_continue_token_expired_starts_again(
    api: FakeKubeAPI, connect: Factory
) -> None:
    targets = add_deployments_quickly(api, "shop", 5)
    cluster = connect(page_size=2)
    api.after("GET", r"/apis/apps/v1/namespaces/shop/deployments$", FakeKubeAPI.compact)
    api.reset_log()
    states = cluster.observe(targets)
    assert all(isinstance(s, DeploymentState) for s in states.values())
    pages = [r for r in api.requests if r.path == "/apis/apps/v1/namespaces/shop/deployments"]
    # The first page's token expires with the compaction; the list starts over, whole.
    assert [(bool(r.query.get("continue")), r.status) for r in pages] == [
        (False, 200),
        (True, 410),
        (False, 200),
        (True, 200),
        (True, 200),
    ]


def test_a_list_that_keeps_expiring_fails_after_the_retries(
    api: FakeKubeAPI, connect: Factory
) -> None:
    targets = add_deployments_quickly(api, "shop", 3)
    cluster = connect(page_size=2, retries=1)
    api.after("GET", r"/apis/apps/v1/namespaces/shop/deployments$", FakeKubeAPI.compact, None)
    failure = cluster.observe(targets)[targets[0]]
    assert isinstance(failure, ClusterError)
    assert "listing deployments in namespace shop" in str(failure)
    assert "410" in str(failure) and "too old" in str(failure)


@pytest.mark.slow
def test_a_fleet_over_twenty_namespaces_costs_five_lists_a_namespace_plus_pages(
    api: FakeKubeAPI, connect: Factory
) -> None:
    namespaces = [f"team-{n:02d}" for n in range(20)]
    targets = [t for ns in namespaces for t in add_deployments_quickly(api, ns, 25)]
    cluster = connect(page_size=10, snapshot_ttl=3600)  # however slow the machine
    api.reset_log()
    states = cluster.observe(targets)
    metrics = cluster.current(targets)
    assert all(isinstance(s, DeploymentState) and len(s.pods) == 2 for s in states.values())
    assert all(isinstance(m, Metrics) and m.cpu_utilization is not None for m in metrics.values())
    # Per namespace: 25 deployments, 25 replicasets, 50 pods, 50 pod metrics, no HPA; at 10
    # a page that is 3 + 3 + 5 + 5 + 1 requests, and `current` asks for nothing more.
    per_namespace = {ns: api.count("GET", f"/api/v1/namespaces/{ns}/") for ns in namespaces}
    assert set(per_namespace.values()) == {5}  # the pod pages
    assert api.count() == 20 * (3 + 3 + 5 + 5 + 1), sorted({r.path for r in api.requests})
    assert all(r.method == "GET" and r.query.get("limit") == "10" for r in api.requests)


def test_current_reuses_the_snapshot_until_a_change_is_applied(
    api: FakeKubeAPI, connect: Factory
) -> None:
    api.add_deployment("shop", "web")
    cluster = connect()
    api.reset_log()
    observed(cluster)
    reads = api.count()
    assert isinstance(cluster.current([WEB])[WEB], Metrics)
    assert api.count() == reads
    cluster.apply(change(cluster, ChangeKind.SCALE, replicas=3))
    api.reset_log()
    assert isinstance(cluster.current([WEB])[WEB], Metrics)
    assert api.count("GET") == 5  # a fresh snapshot after the change


def test_a_server_error_on_a_read_is_retried(api: FakeKubeAPI, connect: Factory) -> None:
    api.add_deployment("shop", "web")
    api.fail("GET", r"/namespaces/shop/pods$", status=503, times=2)
    cluster = connect(retries=2)
    api.reset_log()
    assert observed(cluster).ready_replicas == 2
    assert api.count("GET", "/api/v1/namespaces/shop/pods") == 3


# ---------------------------------------------------------------------- errors


def test_forbidden_patch_names_the_verb_and_the_resource(
    api: FakeKubeAPI, connect: Factory
) -> None:
    api.add_deployment("shop", "web")
    api.deny("patch", "apps", "deployments", "shop")
    cluster = connect()
    with pytest.raises(ClusterError) as caught:
        cluster.apply(change(cluster, ChangeKind.SCALE, replicas=3))
    assert not isinstance(caught.value, ConflictError)
    assert "may not patch deployments.apps in namespace shop" in str(caught.value)
    assert "deploy/rbac.yaml" in caught.value.hint
    assert caught.value.service == "web" and not caught.value.retryable


def test_a_forbidden_list_affects_only_its_namespace(api: FakeKubeAPI, connect: Factory) -> None:
    api.add_deployment("shop", "web")
    api.add_deployment("blog", "web")
    api.deny("list", "", "pods", "shop")
    blog = Target(namespace="blog", name="web")
    states = connect().observe([WEB, blog])
    assert isinstance(states[blog], DeploymentState)
    failure = states[WEB]
    assert isinstance(failure, ClusterError)
    assert "may not list pods in namespace shop" in str(failure)
    assert "rbac.yaml" in failure.hint


def test_a_missing_deployment_is_named_with_a_hint(api: FakeKubeAPI, connect: Factory) -> None:
    api.add_deployment("shop", "web")
    cluster = connect()
    ghost = Target(namespace="shop", name="ghost")
    failure = cluster.observe([ghost])[ghost]
    assert isinstance(failure, ClusterError)
    assert str(failure) == "deployment shop/ghost named in the blueprint does not exist"
    assert "metadata.deployment" in failure.hint
    api.reset_log()
    with pytest.raises(
        ClusterError, match="shop/ghost named in the blueprint does not exist"
    ) as at:
        cluster.apply(Change(target=ghost, kind=ChangeKind.SCALE, stamp=stamp(), replicas=2))
    # A change to it is the service's error, with the same hint, and writes nothing.
    assert (at.value.service, at.value.retryable) == ("web", False)
    assert at.value.hint == failure.hint
    assert api.count("PATCH") == 0


def test_a_process_that_did_not_observe_reads_the_deployment_and_writes_on_its_version(
    api: FakeKubeAPI, connect: Factory
) -> None:
    """Without a snapshot the deployment is read first; still at the version the change was
    computed from, it is patched on that version (and a moved one would be a conflict)."""
    api.add_deployment("shop", "web")
    scale = change(connect(), ChangeKind.SCALE, replicas=3)
    cluster = connect()
    api.reset_log()
    applied = cluster.apply(scale)
    assert (applied.before["replicas"], applied.after["replicas"]) == (2, 3)
    assert api.count("GET", DEPLOYMENT_PATH) == 1
    (patch,) = [r for r in api.requests if r.method == "PATCH"]
    assert patch.body["metadata"]["resourceVersion"] == scale.expected_version
    assert patch.content_type == "application/merge-patch+json"
    assert api.get_deployment("shop", "web")["spec"]["replicas"] == 3


@pytest.mark.parametrize(
    ("status", "retryable", "hint"),
    [(503, True, "the next cycle tries again"), (403, False, "rbac.yaml")],
    ids=["unavailable", "forbidden"],
)
def test_a_deployment_that_cannot_be_read_before_a_change_stops_it_for_the_service(
    api: FakeKubeAPI, connect: Factory, status: int, retryable: bool, hint: str
) -> None:
    """A process that did not observe the deployment reads it before writing; when that read
    fails, the change is the service's error, retryable as the failure was, with its hint,
    and nothing is written."""
    api.add_deployment("shop", "web")
    scale = change(connect(), ChangeKind.SCALE, replicas=3)
    cluster = connect(retries=0)  # another process: no snapshot to take the deployment from
    api.fail("GET", DEPLOYMENT_PATH + "$", status=status)
    api.reset_log()
    with pytest.raises(ClusterError) as caught:
        cluster.apply(scale)
    assert (type(caught.value), caught.value.service) == (ClusterError, "web")
    assert caught.value.retryable is retryable
    assert str(caught.value).startswith("reading deployment shop/web: ")
    assert hint in caught.value.hint
    assert api.count("PATCH") == 0


def test_a_process_that_did_not_observe_refuses_a_deployment_changed_since(
    api: FakeKubeAPI, connect: Factory
) -> None:
    """A process without a snapshot reads the deployment first; when its version is no longer
    the one the change was decided on, nothing is written and the error says which versions
    differ and that the next cycle looks again."""
    api.add_deployment("shop", "web")
    scale = change(connect(), ChangeKind.SCALE, replicas=3)
    api.set_owner_markers("shop", "web", flux=True)  # two edits that move the version
    api.set_owner_markers("shop", "web")  # and leave the deployment as it was
    now = api.get_deployment("shop", "web")["metadata"]["resourceVersion"]
    assert now != scale.expected_version
    cluster = connect(retries=0)  # another process: no snapshot to take the deployment from
    api.reset_log()
    with pytest.raises(ConflictError) as caught:
        cluster.apply(scale)
    assert caught.value.service == "web"
    assert str(caught.value) == (
        f"deployment shop/web changed since it was observed (version "
        f"{scale.expected_version}, now {now}); not overwriting it"
    )
    assert caught.value.hint == "the next cycle observes it again"
    assert api.count("PATCH") == 0
    assert api.get_deployment("shop", "web")["spec"]["replicas"] == 2


def test_bad_credentials_are_reported_as_such(tmp_path: Path) -> None:
    with FakeKubeAPI(required_token="the-right-one") as server:
        server.add_deployment("shop", "web")
        path = server.write_kubeconfig(tmp_path / "kubeconfig", token="a-wrong-one")
        with KubernetesCluster.from_kubeconfig(path, backoff=0.0) as cluster:
            failure = cluster.observe([WEB])[WEB]
    assert isinstance(failure, ClusterError) and not failure.retryable
    assert "rejected the credentials (401 Unauthorized)" in str(failure)
    assert "kubectl auth whoami" in failure.hint


def test_a_token_file_ending_in_a_newline_works_as_with_kubectl(tmp_path: Path) -> None:
    """`kubectl create token ... > file` ends the file with a newline, which kubectl trims;
    sent as is, it makes the Authorization header invalid."""
    with FakeKubeAPI(required_token="s3cret-token-value") as server:
        server.add_deployment("shop", "web")
        path = token_file_kubeconfig(server, tmp_path, "s3cret-token-value\n")
        with KubernetesCluster.from_kubeconfig(path, backoff=0.0) as cluster:
            assert isinstance(cluster.observe([WEB])[WEB], DeploymentState)
            assert cluster.server_version() == "v1.32.4"


def test_an_error_never_shows_the_token(tmp_path: Path) -> None:
    """Neither a header the client refuses to send (its error quotes it) nor a server that
    echoes the credentials puts them in a message."""
    first, second = "first-half-of-the-token", "second-half-of-the-token"
    with FakeKubeAPI(required_token=f"{first}\n{second}") as server:
        server.add_deployment("shop", "web")
        path = token_file_kubeconfig(server, tmp_path, f"{first}\n{second}\n")
        with KubernetesCluster.from_kubeconfig(path, backoff=0.0, retries=0) as cluster:
            failure = cluster.observe([WEB])[WEB]
            assert isinstance(failure, ClusterError)
            with pytest.raises(ClusterError) as caught:
                cluster.server_version()
    assert "the client could not send the request" in str(caught.value)
    assert "a token, for example, must be a single line" in caught.value.hint
    for error in (failure, caught.value):
        text = f"{error} {error.hint}"
        assert "Bearer ***" in text
        assert first not in text and second not in text
    with FakeKubeAPI(required_token="s3cret-token-value") as server:
        server.add_deployment("shop", "web")
        server.fail(
            "GET",
            r"/version",
            status=400,
            message="bad request with Authorization: Bearer s3cret-token-value; token "
            "s3cret-token-value rejected; Basic dXNlcjpwYXNzd29yZA== too",
        )
        path = server.write_kubeconfig(tmp_path / "echo", token="s3cret-token-value")
        with (
            KubernetesCluster.from_kubeconfig(path, backoff=0.0, retries=0) as cluster,
            pytest.raises(ClusterError) as echoed,
        ):
            cluster.server_version()
    assert "s3cret-token-value" not in str(echoed.value)
    assert "dXNlcjpwYXNzd29yZA" not in str(echoed.value)
    assert "token *** rejected" in str(echoed.value)


def test_a_read_that_times_out_is_retried_a_bounded_number_of_times(
    api: FakeKubeAPI, connect: Factory
) -> None:
    api.add_deployment("shop", "web")
    api.delay(r"/namespaces/shop/deployments$", 1.0, method="GET")
    cluster = connect(timeout=0.2, retries=2)
    api.reset_log()
    failure = cluster.observe([WEB])[WEB]
    assert isinstance(failure, ClusterError) and failure.retryable
    assert "no answer within 0.2s (after 3 attempts)" in str(failure)
    assert api.count("GET", "/apis/apps/v1/namespaces/shop/deployments") == 3


def test_a_write_that_times_out_is_not_repeated(api: FakeKubeAPI, connect: Factory) -> None:
    api.add_deployment("shop", "web")
    api.delay(r"/deployments/web$", 1.0, method="PATCH")
    cluster = connect(timeout=0.3)
    scale = change(cluster, ChangeKind.SCALE, replicas=3)
    with pytest.raises(ClusterError) as caught:
        cluster.apply(scale)
    assert caught.value.retryable and "may still take effect" in str(caught.value)
    assert "not repeated" in caught.value.hint
    assert api.count("PATCH") == 1
    deadline = time.monotonic() + 5
    while (
        api.get_deployment("shop", "web")["spec"]["replicas"] != 3 and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    state = observed(cluster)  # the held write landed after all; its stamp tells the next cycle
    assert state.replicas == 3 and state.last_change is not None
    assert state.last_change.operation_id == "op-1"


def test_a_write_whose_answer_was_lost_is_confirmed_by_reading_it_back(
    api: FakeKubeAPI, connect: Factory
) -> None:
    api.add_deployment("shop", "web")
    api.delay(r"/deployments/web$", 1.3, method="PATCH")  # lands after the client gave up...
    api.delay(r"/deployments/web$", 0.6, method="GET")  # ...and before the read-back answers
    cluster = connect(timeout=1.0)
    applied = cluster.apply(change(cluster, ChangeKind.SCALE, replicas=3))
    assert applied.after["replicas"] == 3
    assert api.count("PATCH") == 1


@pytest.mark.parametrize(("status", "read_back"), [(429, False), (500, True)])
def test_a_refused_write_is_read_back_only_when_it_may_have_landed(
    api: FakeKubeAPI, connect: Factory, status: int, read_back: bool
) -> None:
    api.add_deployment("shop", "web")
    api.fail("PATCH", r"/deployments/web$", status=status)
    cluster = connect()
    scale = change(cluster, ChangeKind.SCALE, replicas=3)
    api.reset_log()
    with pytest.raises(ClusterError) as caught:
        cluster.apply(scale)
    assert caught.value.retryable
    assert ("may still take effect" in str(caught.value)) is read_back
    assert api.count("PATCH") == 1
    assert api.count("GET", "/apis/apps/v1/namespaces/shop/deployments/web") == int(read_back)


def test_a_concurrent_edit_is_a_conflict_from_the_server(
    api: FakeKubeAPI, connect: Factory
) -> None:
    api.add_deployment("shop", "web")
    cluster = connect()
    scale = change(cluster, ChangeKind.SCALE, replicas=3)
    api.set_owner_markers("shop", "web", argocd=True)  # someone else writes meanwhile
    api.reset_log()
    with pytest.raises(ConflictError) as caught:
        cluster.apply(scale)
    assert str(caught.value) == (
        "patching deployment shop/web: the object changed since it was observed; not overwriting it"
    )
    assert caught.value.service == "web"
    assert api.count("PATCH") == 1
    assert api.get_deployment("shop", "web")["spec"]["replicas"] == 2


def test_an_unreachable_cluster_is_a_retryable_error(connect: Factory) -> None:
    failure = connect(context="other", retries=1, timeout=1.0).observe([WEB])[WEB]
    assert isinstance(failure, ClusterError) and failure.retryable
    assert "cannot connect to" in str(failure)


def test_configuration_errors_carry_a_hint(
    kubeconfig: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match="no kubeconfig at") as missing:
        KubernetesCluster.from_kubeconfig(tmp_path / "nowhere")
    assert "--kubeconfig" in missing.value.hint
    with pytest.raises(ConfigError, match="context 'nope'") as context:
        KubernetesCluster.from_kubeconfig(kubeconfig, "nope")
    assert "get-contexts" in context.value.hint
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(ConfigError, match="not running inside a Kubernetes pod"):
        KubernetesCluster.in_cluster()


# ---------------------------------------------------------------------- metrics


def test_a_missing_metrics_api_is_a_metrics_error_for_each_target(
    api: FakeKubeAPI, connect: Factory
) -> None:
    api.add_deployment("shop", "web")
    api.add_deployment("shop", "api")
    api.fail("GET", r"^/apis/metrics\.k8s\.io", status=404)
    cluster = connect()
    other = Target(namespace="shop", name="api")
    assert isinstance(cluster.observe([WEB, other])[WEB], DeploymentState)
    answers = cluster.current([WEB, other])
    for target in (WEB, other):
        failure = answers[target]
        assert isinstance(failure, MetricsError)
        assert "metrics API (metrics.k8s.io/v1beta1) is not available" in str(failure)
        assert "metrics-server" in failure.hint
    assert not cluster.metrics_api_available()


def test_a_container_without_a_request_leaves_that_utilization_unknown(
    api: FakeKubeAPI, connect: Factory
) -> None:
    api.add_deployment("shop", "web", cpu_request=None)
    api.set_pod_usage("shop", "web", cpu="85m", memory="256Mi")
    cluster = connect()
    assert observed(cluster).cpu_request is None
    metrics = cluster.current([WEB])[WEB]
    assert isinstance(metrics, Metrics)
    assert metrics.cpu_utilization is None
    assert metrics.memory_utilization == pytest.approx(0.5)
    assert metrics.latency_p95_ms is None and metrics.source == "metrics.k8s.io"
    with pytest.raises(MetricsError, match="keeps no history"):
        cluster.window(WEB, 300, NOW)


def test_utilization_counts_ready_pods_only(api: FakeKubeAPI, connect: Factory) -> None:
    api.add_deployment("shop", "web", replicas=3)
    api.set_pod_usage("shop", "web", cpu="60m", memory="256Mi")
    api.set_pod_usage("shop", "web", cpu="900m", memory="256Mi", pod=2)
    api.crash_pod("shop", "web", index=2)
    metrics = connect().current([WEB])[WEB]
    assert isinstance(metrics, Metrics) and metrics.cpu_utilization == pytest.approx(0.6)
    assert metrics.observed_at is not None


# ---------------------------------------------------------------------- what the state says


def test_pod_health_comes_from_container_states(api: FakeKubeAPI, connect: Factory) -> None:
    api.add_deployment("shop", "web", replicas=2, cpu_limit="500m", memory_limit="1Gi")
    crashed = api.crash_pod("shop", "web", index=0, restarts=4)
    state = observed(connect())
    assert (state.replicas, state.ready_replicas, state.revision) == (2, 1, 1)
    assert (state.cpu_limit, state.memory_limit) == (500, 1024**3)
    assert [(p.name, p.reason, p.restart_count) for p in state.failing_pods] == [
        (crashed, "CrashLoopBackOff", 4)
    ]
    assert state.max_restarts == 4 and all(p.revision == 1 for p in state.pods)


def test_other_controllers_are_detected(api: FakeKubeAPI, connect: Factory) -> None:
    api.add_deployment("shop", "web")
    api.add_hpa("shop", "web-hpa", "web")
    api.add_hpa("shop", "other-hpa", "api")
    api.set_owner_markers("shop", "web", argocd=True, argocd_app="shop-web", flux=True)
    helm = Target(namespace="shop", name="chart")
    api.add_deployment(
        "shop", "chart", labels={"app": "chart", "helm.toolkit.fluxcd.io/name": "chart-release"}
    )
    alone = Target(namespace="shop", name="alone")
    api.add_deployment("shop", "alone")
    states = connect().observe([WEB, helm, alone])
    assert [s.controllers for s in states.values() if isinstance(s, DeploymentState)] == [
        ("hpa/web-hpa", "argocd/shop-web", "flux/apps"),
        ("flux/chart-release",),
        (),
    ]


INSTANCE = "app.kubernetes.io/instance"
MANAGED_BY = "app.kubernetes.io/managed-by"
TRACKING = "argocd.argoproj.io/tracking-id"
HELM_RELEASE = {"meta.helm.sh/release-name": "web", "meta.helm.sh/release-namespace": "shop"}


@pytest.mark.parametrize(
    ("labels", "annotations", "controllers"),
    [
        pytest.param(
            {}, {TRACKING: "shop-web:apps/Deployment:shop/web"}, ("argocd/shop-web",),
            id="argo-cd-annotation-tracking",
        ),
        pytest.param(
            {"argocd.argoproj.io/instance": "shop-web"}, {}, ("argocd/shop-web",),
            id="argo-cd-custom-instance-label",
        ),
        pytest.param(
            {INSTANCE: "shop-web"}, {}, ("argocd/shop-web",),
            id="argo-cd-label-tracking",
        ),
        pytest.param(
            {INSTANCE: "shop-web", MANAGED_BY: "Helm", "helm.sh/chart": "web-1.2.0"}, {},
            ("argocd/shop-web",),
            id="argo-cd-label-tracking-of-a-helm-chart",
        ),
        pytest.param(
            {INSTANCE: "web", MANAGED_BY: "Helm"},
            {TRACKING: "shop-web:apps/Deployment:shop/web"},
            ("argocd/shop-web",),
            id="argo-cd-annotation-tracking-of-a-helm-chart",
        ),
        pytest.param(
            {INSTANCE: "web", MANAGED_BY: "Helm", "helm.sh/chart": "web-1.2.0"}, HELM_RELEASE, (),
            id="helm-install",
        ),
        pytest.param(
            {INSTANCE: "web", MANAGED_BY: "Helm", "helm.toolkit.fluxcd.io/name": "web"},
            HELM_RELEASE,
            ("flux/web",),
            id="flux-helm-release",
        ),
        pytest.param(
            {INSTANCE: "web", "kustomize.toolkit.fluxcd.io/name": "apps"}, {}, ("flux/apps",),
            id="flux-kustomization-of-labelled-manifests",
        ),
        pytest.param({MANAGED_BY: "Helm"}, {}, (), id="no-instance"),
    ],
)  # fmt: skip
def test_argo_cd_is_told_apart_from_helm_and_flux(
    api: FakeKubeAPI,
    connect: Factory,
    labels: dict[str, str],
    annotations: dict[str, str],
    controllers: tuple[str, ...],
) -> None:
    """Each of Argo CD's marks is seen; the instance label a Helm release or Flux put there
    is not taken for Argo CD's."""
    api.add_deployment("shop", "web", labels={"app": "web", **labels}, annotations=annotations)
    assert observed(connect()).controllers == controllers


def test_the_stamp_round_trips(api: FakeKubeAPI, connect: Factory) -> None:
    api.add_deployment("shop", "web")
    cluster = connect()
    note = stamp(
        "op-7",
        summary="scale 2→3 «because» CPU 85 %",
        before={"replicas": 2},
        after={"replicas": 3},
    )
    cluster.apply(replace(change(cluster, ChangeKind.SCALE, replicas=3), stamp=note))
    assert observed(cluster).last_change == note


# ---------------------------------------------------------------------- the change kinds


def test_scale_through_the_hpa_sets_its_bounds_and_stamps_the_deployment(
    api: FakeKubeAPI, connect: Factory
) -> None:
    api.add_deployment("shop", "web")
    api.add_hpa("shop", "web-hpa", "web", min_replicas=1, max_replicas=3)
    cluster = connect()
    applied = cluster.apply(change(cluster, ChangeKind.SCALE, replicas=5, hpa="web-hpa"))
    hpa = api.objects(HPAS, "shop")[0]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (5, 5)
    assert (
        applied.message
        == "horizontalpodautoscaler.autoscaling/web-hpa patched (minReplicas 5, maxReplicas 5)"
    )
    assert applied.before == {"replicas": 2, "revision": 1, "min_replicas": 1, "max_replicas": 3}
    assert applied.after == {"replicas": 2, "revision": 1, "min_replicas": 5, "max_replicas": 5}
    state = observed(cluster)
    assert state.last_change is not None and state.last_change.operation_id == "op-1"
    assert state.replicas == 2  # the HPA scales; the reconciler never writes replicas it owns


HPA_PATH = "/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers/web-hpa"


def test_an_hpa_edited_between_read_and_patch_is_read_again_not_overwritten(
    api: FakeKubeAPI, connect: Factory
) -> None:
    """A person raises maxReplicas to 8 right after the adapter read the HPA. The patch carries
    the resourceVersion it read, so it gets 409 and writes nothing; the adapter reads again and
    patches on top of the person's edit, which stays."""
    api.add_deployment("shop", "web")
    read = api.add_hpa("shop", "web-hpa", "web", min_replicas=1, max_replicas=3)
    cluster = connect()
    edits = []
    api.after(
        "GET", HPA_PATH + "$", lambda a: edits.append(a.edit_hpa("shop", "web-hpa", maxReplicas=8))
    )
    api.reset_log()
    applied = cluster.apply(change(cluster, ChangeKind.SCALE, replicas=5, hpa="web-hpa"))
    hpa = api.objects(HPAS, "shop")[0]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (5, 8)
    patches = [r for r in api.requests if r.method == "PATCH" and r.path == HPA_PATH]
    assert [p.status for p in patches] == [409, 200]
    first, second = (p.body["metadata"]["resourceVersion"] for p in patches)
    # The version the adapter read (the fake's controller may have moved it since creation),
    # then the version the person's edit made.
    assert int(read["metadata"]["resourceVersion"]) <= int(first) < int(second)
    assert second == edits[0]["metadata"]["resourceVersion"]
    assert applied.after["max_replicas"] == 8
    assert applied.before["max_replicas"] == 3


def test_scaling_within_the_hpas_range_keeps_its_maximum(
    api: FakeKubeAPI, connect: Factory
) -> None:
    api.add_deployment("shop", "web", replicas=4)
    api.add_hpa("shop", "web-hpa", "web", min_replicas=3, max_replicas=8)
    cluster = connect()
    api.reset_log()
    applied = cluster.apply(change(cluster, ChangeKind.SCALE, replicas=2, hpa="web-hpa"))
    hpa = api.objects(HPAS, "shop")[0]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 8)
    assert applied.before == {"replicas": 4, "revision": 1, "min_replicas": 3, "max_replicas": 8}
    assert applied.after == {"replicas": 4, "revision": 1, "min_replicas": 2, "max_replicas": 8}
    (patch,) = [r for r in api.requests if r.method == "PATCH" and r.path == HPA_PATH]
    assert patch.body["spec"] == {"minReplicas": 2, "maxReplicas": 8}
    assert patch.content_type == "application/merge-patch+json"


def test_an_hpa_that_scales_another_deployment_is_not_touched(
    api: FakeKubeAPI, connect: Factory
) -> None:
    api.add_deployment("shop", "web")
    api.add_deployment("shop", "api")
    api.add_hpa("shop", "web-hpa", "api", min_replicas=1, max_replicas=3)
    cluster = connect()
    api.reset_log()
    with pytest.raises(ClusterError) as caught:
        cluster.apply(change(cluster, ChangeKind.SCALE, replicas=5, hpa="web-hpa"))
    assert str(caught.value) == "hpa shop/web-hpa does not scale deployment shop/web"
    assert caught.value.hint == "the next cycle observes the autoscalers again"
    assert caught.value.service == "web"
    assert [r for r in api.requests if r.method == "PATCH"] == []
    assert api.objects(HPAS, "shop")[0]["spec"]["minReplicas"] == 1


def test_a_scale_without_a_replica_count_writes_nothing(api: FakeKubeAPI, connect: Factory) -> None:
    api.add_deployment("shop", "web")
    api.add_hpa("shop", "web-hpa", "web")
    cluster = connect()
    api.reset_log()
    with pytest.raises(ClusterError) as caught:
        cluster.apply(change(cluster, ChangeKind.SCALE, replicas=None, hpa="web-hpa"))
    assert str(caught.value) == "scaling shop/web: the change names no replica count"
    with pytest.raises(ClusterError) as caught:
        cluster.apply(change(cluster, ChangeKind.SCALE, replicas=None))  # without the HPA
    assert str(caught.value) == "scaling shop/web: the change names no replica count"
    assert [r for r in api.requests if r.method == "PATCH"] == []


def test_an_hpa_patch_whose_answer_was_lost_is_confirmed_by_reading_it_back(
    api: FakeKubeAPI, connect: Factory
) -> None:
    api.add_deployment("shop", "web")
    api.add_hpa("shop", "web-hpa", "web", min_replicas=1, max_replicas=3)
    cluster = connect(timeout=1.0)
    scale = change(cluster, ChangeKind.SCALE, replicas=4, hpa="web-hpa")
    api.delay(HPA_PATH + "$", 1.3, method="PATCH")  # lands after the client gave up...
    api.delay(HPA_PATH + "$", 0.6, method="GET")  # ...and before the read-back answers
    applied = cluster.apply(scale)
    assert (applied.after["min_replicas"], applied.after["max_replicas"]) == (4, 4)
    assert api.count("PATCH", HPA_PATH) == 1  # confirmed, not written twice


def test_an_hpa_patch_that_did_not_land_is_not_taken_for_done(
    api: FakeKubeAPI, connect: Factory
) -> None:
    """A 500 leaves the patch's fate unknown: the HPA is read back, and since its minimum is
    not the one asked, the change is the service's retryable error, not a scale that
    happened."""
    api.add_deployment("shop", "web")
    api.add_hpa("shop", "web-hpa", "web", min_replicas=1, max_replicas=3)
    cluster = connect()
    scale = change(cluster, ChangeKind.SCALE, replicas=4, hpa="web-hpa")
    api.fail("PATCH", HPA_PATH + "$", status=500)
    api.reset_log()
    with pytest.raises(ClusterError) as caught:
        cluster.apply(scale)
    assert (caught.value.service, caught.value.retryable) == ("web", True)
    assert api.count("PATCH", HPA_PATH) == 1  # not repeated blindly
    assert api.count("GET", HPA_PATH) == 2  # read before the patch, and read back after it
    assert api.objects(HPAS, "shop")[0]["spec"]["minReplicas"] == 1


def test_an_hpa_patch_the_server_holds_is_given_up_after_the_timeout(
    api: FakeKubeAPI, connect: Factory
) -> None:
    """A server that never answers the patch does not hold the cycle: the client gives up
    after its timeout, reads the HPA back, and without the new minimum there the change is
    the service's retryable error."""
    api.add_deployment("shop", "web")
    api.add_hpa("shop", "web-hpa", "web", min_replicas=1, max_replicas=3)
    cluster = connect(timeout=1.0)
    scale = change(cluster, ChangeKind.SCALE, replicas=4, hpa="web-hpa")
    api.delay(HPA_PATH + "$", 5, method="PATCH")  # long after the client gave up
    with pytest.raises(ClusterError) as caught:
        cluster.apply(scale)
    assert (caught.value.service, caught.value.retryable) == ("web", True)
    assert api.objects(HPAS, "shop")[0]["spec"]["minReplicas"] == 1


def test_a_missing_hpa_is_the_services_error_and_nothing_is_written(
    api: FakeKubeAPI, connect: Factory
) -> None:
    api.add_deployment("shop", "web")
    cluster = connect()
    api.reset_log()
    with pytest.raises(ClusterError) as caught:
        cluster.apply(change(cluster, ChangeKind.SCALE, replicas=4, hpa="web-hpa"))
    assert caught.value.service == "web"
    assert "web-hpa" in str(caught.value)
    assert api.count("PATCH") == 0


def test_an_hpa_that_keeps_changing_is_a_conflict_after_the_retries(
    api: FakeKubeAPI, connect: Factory
) -> None:
    api.add_deployment("shop", "web")
    api.add_hpa("shop", "web-hpa", "web", min_replicas=1, max_replicas=3)
    cluster = connect(retries=2)
    raised = iter(range(4, 100))
    api.after(
        "GET",
        HPA_PATH + "$",
        lambda a: a.edit_hpa("shop", "web-hpa", maxReplicas=next(raised)),
        times=None,
    )
    api.reset_log()
    with pytest.raises(ConflictError) as caught:
        cluster.apply(change(cluster, ChangeKind.SCALE, replicas=5, hpa="web-hpa"))
    assert caught.value.service == "web"
    assert str(caught.value).startswith("patching hpa shop/web-hpa: the object changed")
    patches = [r for r in api.requests if r.method == "PATCH" and r.path == HPA_PATH]
    assert [p.status for p in patches] == [409, 409, 409]  # the first try and two retries
    # Each retry carries the version read just before it, never the stale one again.
    versions = [p.body["metadata"]["resourceVersion"] for p in patches]
    assert len(set(versions)) == 3 and all(versions)
    assert api.objects(HPAS, "shop")[0]["spec"]["minReplicas"] == 1  # nothing written


def test_an_hpa_that_scales_a_statefulset_of_the_same_name_is_not_touched(
    api: FakeKubeAPI, connect: Factory
) -> None:
    api.add_deployment("shop", "web")
    api.add_hpa("shop", "web-hpa", "web", min_replicas=1, max_replicas=3)
    api.edit_hpa(
        "shop",
        "web-hpa",
        scaleTargetRef={"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web"},
    )
    cluster = connect()
    api.reset_log()
    with pytest.raises(ClusterError) as caught:
        cluster.apply(change(cluster, ChangeKind.SCALE, replicas=5, hpa="web-hpa"))
    assert str(caught.value) == "hpa shop/web-hpa does not scale deployment shop/web"
    assert api.count("PATCH") == 0


def test_an_hpa_scale_whose_stamp_is_refused_leaves_the_hpa_alone(
    api: FakeKubeAPI, connect: Factory
) -> None:
    """The stamp goes first: when the deployment may not be patched, the HPA is not either,
    so no change ever happens without its stamp."""
    api.add_deployment("shop", "web")
    api.add_hpa("shop", "web-hpa", "web", min_replicas=1, max_replicas=3)
    api.deny("patch", "apps", "deployments", "shop")
    cluster = connect()
    api.reset_log()
    with pytest.raises(ClusterError) as caught:
        cluster.apply(change(cluster, ChangeKind.SCALE, replicas=5, hpa="web-hpa"))
    assert caught.value.service == "web"
    assert str(caught.value).startswith("stamping deployment shop/web: forbidden")
    assert api.count("PATCH", HPA_PATH) == 0
    assert api.objects(HPAS, "shop")[0]["spec"]["minReplicas"] == 1


def test_an_hpa_that_cannot_be_read_is_the_services_retryable_error(
    api: FakeKubeAPI, connect: Factory
) -> None:
    api.add_deployment("shop", "web")
    api.add_hpa("shop", "web-hpa", "web", min_replicas=1, max_replicas=3)
    api.fail("GET", HPA_PATH + "$", status=503)
    cluster = connect(retries=1)
    with pytest.raises(ClusterError) as caught:
        cluster.apply(change(cluster, ChangeKind.SCALE, replicas=5, hpa="web-hpa"))
    assert (caught.value.service, caught.value.retryable) == ("web", True)
    assert str(caught.value).startswith("reading hpa shop/web-hpa: the API server answered 503")
    assert caught.value.hint is not None and "the next cycle tries again" in caught.value.hint
    assert api.count("PATCH") == 0


def test_an_hpa_read_the_server_holds_is_given_up_after_the_timeout(
    api: FakeKubeAPI, connect: Factory
) -> None:
    api.add_deployment("shop", "web")
    api.add_hpa("shop", "web-hpa", "web", min_replicas=1, max_replicas=3)
    cluster = connect(timeout=0.5, retries=0)
    scale = change(cluster, ChangeKind.SCALE, replicas=5, hpa="web-hpa")
    api.delay(HPA_PATH + "$", 2.0, method="GET")
    with pytest.raises(ClusterError) as caught:
        cluster.apply(scale)
    assert (caught.value.service, caught.value.retryable) == ("web", True)
    assert "no answer within 0.5s" in str(caught.value)
    assert api.count("PATCH") == 0


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        pytest.param({"maxReplicas": -1}, "maxReplicas -1 is below 0", id="a negative maximum"),
        pytest.param(
            {"maxReplicas": 2**31},
            "maxReplicas 2147483648 is above 2147483647",
            id="a maximum beyond int32",
        ),
        pytest.param(
            {"minReplicas": "three"},
            "minReplicas 'three' is not a whole number",
            id="a minimum that is no number",
        ),
        pytest.param({"maxReplicas": None}, "'maxReplicas'", id="no maximum"),
    ],
)
def test_an_hpa_with_bounds_that_cannot_be_read_is_the_services_error_before_any_write(
    api: FakeKubeAPI, connect: Factory, spec: dict[str, object], why: str
) -> None:
    """An API server keeps both bounds in int32 and defaults the minimum; an answer that does
    not is refused before the stamp, so nothing is written and the cycle stops for this
    service alone, naming the field."""
    api.add_deployment("shop", "web")
    api.add_hpa("shop", "web-hpa", "web", min_replicas=1, max_replicas=3)
    api.edit_hpa("shop", "web-hpa", **spec)
    cluster = connect()
    api.reset_log()
    with pytest.raises(ClusterError) as caught:
        cluster.apply(change(cluster, ChangeKind.SCALE, replicas=5, hpa="web-hpa"))
    assert (caught.value.service, caught.value.retryable) == ("web", False)
    assert str(caught.value) == f"hpa shop/web-hpa has bounds the reconciler cannot read ({why})"
    assert caught.value.hint == "check it with `kubectl get hpa -o yaml`"
    assert api.count("PATCH") == 0


def test_an_hpa_without_a_minimum_has_the_api_servers_default_of_one(
    api: FakeKubeAPI, connect: Factory
) -> None:
    """autoscaling/v2 defaults minReplicas to 1: an HPA that leaves it out was at 1 before."""
    api.add_deployment("shop", "web", replicas=3)
    api.add_hpa("shop", "web-hpa", "web", min_replicas=1, max_replicas=6)
    api.edit_hpa("shop", "web-hpa", minReplicas=None)
    cluster = connect()
    applied = cluster.apply(change(cluster, ChangeKind.SCALE, replicas=4, hpa="web-hpa"))
    assert applied.before == {"replicas": 3, "revision": 1, "min_replicas": 1, "max_replicas": 6}
    assert applied.after == {"replicas": 3, "revision": 1, "min_replicas": 4, "max_replicas": 6}


def test_a_retry_after_a_conflict_raises_the_maximum_of_the_hpa_read_again(
    api: FakeKubeAPI, connect: Factory
) -> None:
    """A person lowers maxReplicas to 2 after the adapter read 6; the retry is computed from
    the HPA as read again, so it raises the person's maximum to the replicas asked, not to
    the stale 6."""
    api.add_deployment("shop", "web")
    api.add_hpa("shop", "web-hpa", "web", min_replicas=1, max_replicas=6)
    cluster = connect()
    api.after("GET", HPA_PATH + "$", lambda a: a.edit_hpa("shop", "web-hpa", maxReplicas=2))
    api.reset_log()
    applied = cluster.apply(change(cluster, ChangeKind.SCALE, replicas=4, hpa="web-hpa"))
    hpa = api.objects(HPAS, "shop")[0]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (4, 4)
    patches = [r for r in api.requests if r.method == "PATCH" and r.path == HPA_PATH]
    assert [(p.status, p.body["spec"]) for p in patches] == [
        (409, {"minReplicas": 4, "maxReplicas": 6}),
        (200, {"minReplicas": 4, "maxReplicas": 4}),
    ]
    assert (applied.before["max_replicas"], applied.after["max_replicas"]) == (6, 4)


DEPLOYMENT_PATH = "/apis/apps/v1/namespaces/shop/deployments/web"


def test_an_hpa_scales_stamp_whose_answer_was_lost_is_confirmed_by_reading_it_back(
    api: FakeKubeAPI, connect: Factory
) -> None:
    """The stamp is a merge patch like any other write; when its answer is lost the
    deployment is read back, the stamp is found there, and the HPA is patched once."""
    api.add_deployment("shop", "web")
    api.add_hpa("shop", "web-hpa", "web", min_replicas=1, max_replicas=3)
    cluster = connect(timeout=1.0)
    scale = change(cluster, ChangeKind.SCALE, replicas=4, hpa="web-hpa")
    api.delay(DEPLOYMENT_PATH + "$", 1.3, method="PATCH")  # lands after the client gave up...
    api.delay(DEPLOYMENT_PATH + "$", 0.6, method="GET")  # ...and before the read-back answers
    api.reset_log()
    applied = cluster.apply(scale)
    assert (applied.after["min_replicas"], applied.after["max_replicas"]) == (4, 4)
    (stamping,) = [r for r in api.requests if r.method == "PATCH" and r.path == DEPLOYMENT_PATH]
    assert stamping.content_type == "application/merge-patch+json"
    assert api.count("PATCH", HPA_PATH) == 1
    # The client gave up on the stamp and read the deployment back to find it.
    read_back = [r for r in api.requests if r.method == "GET" and r.path == DEPLOYMENT_PATH]
    assert len(read_back) == 1
    assert observed(cluster).last_change == scale.stamp


def test_an_hpa_whose_bounds_a_concurrent_edit_made_unreadable_is_not_patched_again(
    api: FakeKubeAPI, connect: Factory
) -> None:
    """The bounds are checked again on the HPA read after a 409: an edit that left them
    unreadable stops this service's change, naming the HPA and the field, with nothing
    written over it."""
    api.add_deployment("shop", "web")
    api.add_hpa("shop", "web-hpa", "web", min_replicas=1, max_replicas=3)
    cluster = connect()
    api.after("GET", HPA_PATH + "$", lambda a: a.edit_hpa("shop", "web-hpa", maxReplicas=-1))
    api.reset_log()
    with pytest.raises(ClusterError) as caught:
        cluster.apply(change(cluster, ChangeKind.SCALE, replicas=5, hpa="web-hpa"))
    assert (type(caught.value), caught.value.service, caught.value.retryable) == (
        ClusterError,
        "web",
        False,
    )
    assert "hpa shop/web-hpa" in str(caught.value) and "maxReplicas" in str(caught.value)
    assert [r.status for r in api.requests if r.method == "PATCH" and r.path == HPA_PATH] == [409]
    assert api.objects(HPAS, "shop")[0]["spec"]["minReplicas"] == 1


def test_an_hpa_that_cannot_be_read_again_after_a_conflict_is_the_services_error(
    api: FakeKubeAPI, connect: Factory
) -> None:
    """A 409 wrote nothing; when the HPA then cannot be read again, the change stops for this
    service, retryable, with the HPA as it was."""
    api.add_deployment("shop", "web")
    api.add_hpa("shop", "web-hpa", "web", min_replicas=1, max_replicas=3)
    cluster = connect(retries=1)
    api.after("GET", HPA_PATH + "$", lambda a: a.edit_hpa("shop", "web-hpa", maxReplicas=8))
    api.after("PATCH", HPA_PATH + "$", lambda a: a.fail("GET", HPA_PATH + "$", status=503))
    api.reset_log()
    with pytest.raises(ClusterError) as caught:
        cluster.apply(change(cluster, ChangeKind.SCALE, replicas=5, hpa="web-hpa"))
    assert (type(caught.value), caught.value.service, caught.value.retryable) == (
        ClusterError,
        "web",
        True,
    )
    assert [r.status for r in api.requests if r.method == "PATCH" and r.path == HPA_PATH] == [409]
    assert api.objects(HPAS, "shop")[0]["spec"]["minReplicas"] == 1


def test_a_scale_keeps_the_revision_and_records_both_replica_counts(
    api: FakeKubeAPI, connect: Factory
) -> None:
    """Only a new pod template makes a new revision: a scale is recorded at the revision it
    found, so verification does not wait for a rollout that never comes."""
    api.add_deployment("shop", "web")
    cluster = connect()
    applied = cluster.apply(change(cluster, ChangeKind.SCALE, replicas=3))
    assert (applied.message, applied.before, applied.after) == (
        "deployment.apps/web scaled",
        {"replicas": 2, "revision": 1},
        {"replicas": 3, "revision": 1},
    )
    assert observed(cluster).revision == 1


def test_a_deployment_without_a_replica_count_has_the_api_servers_default_of_one(
    api: FakeKubeAPI, connect: Factory
) -> None:
    """apps/v1 defaults spec.replicas to 1: a deployment read without it had 1 before a
    change, as its observation says."""
    api.add_deployment("shop", "web")
    with api._lock:
        del api._store[kube_api.DEPLOYMENTS][("shop", "web")]["spec"]["replicas"]
    cluster = connect()
    applied = cluster.apply(
        change(cluster, ChangeKind.RESTART, stamp=stamp(operation="restart_failed_pods"))
    )
    assert observed(cluster).replicas == 1
    assert (applied.before, applied.after) == (
        {"replicas": 1, "revision": 1},
        {"replicas": 1, "revision": 2},
    )
    # The same through an HPA, by a process that reads the deployment before the stamp.
    api.add_hpa("shop", "web-hpa", "web", min_replicas=1, max_replicas=3)
    with api._lock:
        del api._store[kube_api.DEPLOYMENTS][("shop", "web")]["spec"]["replicas"]
    scale = change(connect(), ChangeKind.SCALE, replicas=2, hpa="web-hpa")
    through = connect().apply(scale)
    assert (through.before["replicas"], through.after["replicas"]) == (1, 1)
    assert api.objects(HPAS, "shop")[0]["spec"]["minReplicas"] == 2


@pytest.mark.parametrize("where", ["before", "after"])
def test_a_replica_count_out_of_range_around_a_patch_is_refused_naming_the_field(
    api: FakeKubeAPI, connect: Factory, where: str
) -> None:
    """A replica count Kubernetes could not hold (negative), in the deployment read before the
    patch or in the patch's answer, is not reported as a change: it is refused, naming
    spec.replicas."""
    api.add_deployment("shop", "web")
    scale = change(connect(), ChangeKind.SCALE, replicas=3)
    cluster = connect()  # another process: the deployment is read before the patch
    if where == "before":
        with api._lock:
            api._store[kube_api.DEPLOYMENTS][("shop", "web")]["spec"]["replicas"] = -1
    else:
        scale = replace(scale, replicas=-1)
    with pytest.raises(ValueError, match=r"^spec\.replicas -1 is below 0$"):
        cluster.apply(scale)


def test_an_unreadable_replica_count_stops_a_scale_through_an_hpa_before_anything_is_written(
    api: FakeKubeAPI, connect: Factory
) -> None:
    """A process without a snapshot reads the deployment first: a count Kubernetes could not
    hold stops the change there, with neither the stamp nor the HPA's new minimum written."""
    api.add_deployment("shop", "web")
    api.add_hpa("shop", "web-hpa", "web", min_replicas=1, max_replicas=3)
    scale = change(connect(), ChangeKind.SCALE, replicas=2, hpa="web-hpa")
    with api._lock:
        stored = api._store[kube_api.DEPLOYMENTS][("shop", "web")]
        stored["spec"]["replicas"] = -1
        annotations = copy.deepcopy(stored["metadata"].get("annotations"))
    with pytest.raises(ValueError, match=r"^replicas -1 is below 0$"):
        connect().apply(scale)
    assert api.objects(HPAS, "shop")[0]["spec"]["minReplicas"] == 1
    with api._lock:
        assert stored["metadata"].get("annotations") == annotations


def test_restart_creates_a_new_replicaset_revision(api: FakeKubeAPI, connect: Factory) -> None:
    api.add_deployment("shop", "web")
    cluster = connect()
    applied = cluster.apply(
        change(cluster, ChangeKind.RESTART, stamp=stamp(operation="restart_failed_pods"))
    )
    assert applied.message == "deployment.apps/web restarted"
    assert (applied.before["revision"], applied.after["revision"]) == (1, 2)
    newest = api.replicasets("shop", "web")[-1]
    assert newest["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    assert (
        newest["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
        == "2025-06-02T12:00:00Z"
    )
    state = observed(cluster)
    assert state.revision == 2 and [p.revision for p in state.pods] == [2, 2]


def test_a_restart_is_dated_in_utc_whatever_the_machines_zone(
    api: FakeKubeAPI, connect: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`kubectl rollout restart` writes restartedAt in UTC with a Z; so does a restart made
    on a machine nine hours ahead."""
    import time

    api.add_deployment("shop", "web")
    cluster = connect()
    restart = change(cluster, ChangeKind.RESTART, stamp=stamp(operation="restart_failed_pods"))
    monkeypatch.setenv("TZ", "UTC-9")
    time.tzset()
    try:
        cluster.apply(restart)
    finally:
        monkeypatch.undo()
        time.tzset()
    template = api.get_deployment("shop", "web")["spec"]["template"]
    assert template["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"] == (
        "2025-06-02T12:00:00Z"
    )


def test_resources_then_rollback_restores_the_previous_template(
    api: FakeKubeAPI, connect: Factory
) -> None:
    api.add_deployment("shop", "web")
    cluster = connect()
    applied = cluster.apply(
        change(cluster, ChangeKind.RESOURCES, cpu_request=250, memory_request=256 * 1024**2)
    )
    assert applied.message == "deployment.apps/web resource requirements updated"
    # A new pod template is a new revision; the replicas stay.
    assert applied.before == {"replicas": 2, "revision": 1}
    assert applied.after == {"replicas": 2, "revision": 2}
    requests = api.get_deployment("shop", "web")["spec"]["template"]["spec"]["containers"][0][
        "resources"
    ]["requests"]
    assert requests == {"cpu": "250m", "memory": "256Mi"}
    assert (observed(cluster).cpu_request, observed(cluster).revision) == (250, 2)
    rolled = cluster.apply(change(cluster, ChangeKind.ROLLBACK))
    assert rolled.message == "deployment.apps/web rolled back" and rolled.after["revision"] == 3
    template = api.get_deployment("shop", "web")["spec"]["template"]
    original = api.replicasets("shop", "web")[-1]  # revision 1's ReplicaSet, now revision 3
    del original["spec"]["template"]["metadata"]["labels"]["pod-template-hash"]
    assert template == original["spec"]["template"]
    state = observed(cluster)
    assert (state.cpu_request, state.memory_request, state.revision) == (100, 512 * 1024**2, 3)


def test_requests_for_a_pod_template_without_containers_are_the_services_error(
    api: FakeKubeAPI, connect: Factory
) -> None:
    """An API server refuses such a template; an answer that has one anyway stops this
    service's change before anything is written."""
    post_deployment(api, [])
    cluster = connect()
    api.reset_log()
    with pytest.raises(ClusterError) as caught:
        cluster.apply(change(cluster, ChangeKind.RESOURCES, cpu_request=250))
    assert (type(caught.value), caught.value.service) == (ClusterError, "web")
    assert str(caught.value).startswith("setting the requests of shop/web")
    assert api.count("PATCH") == 0


def add_containers(api: FakeKubeAPI, requests: Sequence[Mapping[str, str]]) -> None:
    """Deployment shop/web with 2 pods of one container per entry of `requests` (web, then
    sidecar-1, sidecar-2...), each requesting what its entry says; created through the API,
    as `kubectl apply` would."""
    containers = [
        {
            "name": "web" if index == 0 else f"sidecar-{index}",
            "image": "example/app:1.0",
            "resources": {"requests": dict(wanted)} if wanted else {},
        }
        for index, wanted in enumerate(requests)
    ]
    post_deployment(api, containers)


def container_requests(api: FakeKubeAPI, resource: str) -> list[str | None]:
    containers = api.get_deployment("shop", "web")["spec"]["template"]["spec"]["containers"]
    return [(c.get("resources") or {}).get("requests", {}).get(resource) for c in containers]


@pytest.mark.parametrize(
    ("before", "asked", "after"),
    [
        pytest.param(["150m", "50m"], 220, ["165m", "55m"], id="uneven-in-proportion"),
        pytest.param(["100m", "100m"], 210, ["105m", "105m"], id="even"),
        pytest.param(["100m"] * 3, 310, ["104m", "103m", "103m"], id="remainder-to-the-first"),
        pytest.param(["0.1", "50m"], 300, ["200m", "100m"], id="cores-and-millicores"),
        pytest.param(["100m", None], 150, ["150m", None], id="a-container-without-is-left"),
        pytest.param([None, None], 200, ["200m", None], id="none-set-the-first-takes-it"),
    ],
)  # fmt: skip
def test_a_cpu_request_is_the_pods_total_shared_in_proportion(
    api: FakeKubeAPI,
    connect: Factory,
    before: list[str | None],
    asked: int,
    after: list[str | None],
) -> None:
    """What the state reports (the pod's total request, which utilization divides by) is
    what a resources change sets: each container keeps its share of the total."""
    add_containers(api, [{"cpu": cpu, "memory": "64Mi"} if cpu else {} for cpu in before])
    cluster = connect()
    cluster.apply(change(cluster, ChangeKind.RESOURCES, cpu_request=asked))
    assert container_requests(api, "cpu") == after
    memory = container_requests(api, "memory")
    assert memory == [("64Mi" if cpu else None) for cpu in before]  # memory untouched
    if all(before):
        assert observed(cluster).cpu_request == asked


@pytest.mark.parametrize(
    ("resource", "before", "total", "after"),
    [
        pytest.param("memory", ["0", "1"], 1000 * MIB, ["0Mi", "1000Mi"], id="a-byte-is-a-share"),
        pytest.param("cpu", ["0.5m", "0.5m"], 200, ["100m", "100m"], id="half-millicores"),
        pytest.param("cpu", ["0", "0"], 200, ["200m", "0m"], id="zero-requests-the-first-takes-it"),
        pytest.param("cpu", [None, "0"], 200, [None, "200m"], id="the-one-with-a-request-takes-it"),
        pytest.param("memory", ["8775471615431580472"] * 2, 304704962376, [str(152352481188)] * 2, id="exabytes-exactly-in-half"),
        pytest.param("memory", ["1"] * 3, 10**30, [str(10**30 // 3 + 1), str(10**30 // 3), str(10**30 // 3)], id="beyond-28-digits"),
    ],
)  # fmt: skip
def test_a_share_goes_by_the_requests_however_small(
    resource: str, before: list[str | None], total: int, after: list[str | None]
) -> None:
    """However small the requests, the first takes the whole only when they add up to
    nothing; a request of zero is still a request (its container takes the total when it is
    the only one), and a container without one is left without."""
    containers: list[dict[str, Any]] = [
        {"name": f"c{index}", "resources": {"requests": {resource: value}} if value else {}}
        for index, value in enumerate(before)
    ]
    _share_request(containers, resource, total)
    assert [c["resources"].get("requests", {}).get(resource) for c in containers] == after


def test_a_memory_request_is_the_pods_total_shared_in_proportion(
    api: FakeKubeAPI, connect: Factory
) -> None:
    add_containers(api, [{"cpu": "150m", "memory": "384Mi"}, {"cpu": "50m", "memory": "128Mi"}])
    cluster = connect()
    assert (observed(cluster).cpu_request, observed(cluster).memory_request) == (200, 512 * MIB)
    cluster.apply(change(cluster, ChangeKind.RESOURCES, memory_request=1000 * MIB))
    assert container_requests(api, "memory") == ["750Mi", "250Mi"]
    assert container_requests(api, "cpu") == ["150m", "50m"]
    assert observed(cluster).memory_request == 1000 * MIB
    # A share that is no whole number of MiB is written in bytes, exactly.
    cluster.apply(change(cluster, ChangeKind.RESOURCES, memory_request=1000 * MIB + 1))
    assert container_requests(api, "memory") == [str(750 * MIB + 1), "250Mi"]
    assert observed(cluster).memory_request == 1000 * MIB + 1


def test_rollback_without_an_earlier_revision_is_refused(
    api: FakeKubeAPI, connect: Factory
) -> None:
    api.add_deployment("shop", "web")
    cluster = connect()
    with pytest.raises(ClusterError, match="no revision before 1 to roll back to"):
        cluster.apply(change(cluster, ChangeKind.ROLLBACK))
    with pytest.raises(ClusterError, match=r"no revision 7 to roll back to \(revisions kept: 1\)"):
        cluster.apply(change(cluster, ChangeKind.ROLLBACK, to_revision=7))
    assert api.count("PATCH") == 0


@pytest.mark.parametrize(
    ("old", "new", "patch"),
    [
        pytest.param({"a": 1}, {"a": 1}, {}, id="nothing-changed"),
        pytest.param({"a": 1}, {"a": 2}, {"a": 2}, id="a-changed-value"),
        pytest.param({"a": 1, "b": 2}, {"a": 1}, {"b": None}, id="a-dropped-key-is-null"),
        pytest.param({}, {"a": {"x": [1]}}, {"a": {"x": [1]}}, id="a-new-key"),
        pytest.param(
            {"a": {"x": 1, "y": 2}}, {"a": {"x": 1}}, {"a": {"y": None}}, id="nested-drop"
        ),
        pytest.param({"a": [1, 2]}, {"a": [1]}, {"a": [1]}, id="a-list-is-replaced-whole"),
        pytest.param("text", {"a": 1}, {"a": 1}, id="a-dict-over-a-non-dict"),
        pytest.param({"a": 1}, [{"a": 1}], [{"a": 1}], id="a-non-dict-over-a-dict"),
    ],
)
def test_a_rollbacks_merge_patch_turns_the_template_into_the_one_wanted(
    old: Any, new: Any, patch: Any
) -> None:
    """RFC 7386: changed keys, null for a key the wanted template lacks, lists and non-objects
    replaced whole. The patch shares nothing with the wanted template (it is sent, and the
    template is kept), so changing one never changes the other."""
    made = _merge_diff(old, new)
    assert made == patch
    kept = json.dumps(new, sort_keys=True)
    _scramble(made)
    assert json.dumps(new, sort_keys=True) == kept


def _scramble(value: Any) -> None:
    """Change every container inside `value`, in place."""
    if isinstance(value, dict):
        for key in list(value):
            _scramble(value[key])
        value["scrambled"] = True
    elif isinstance(value, list):
        for item in value:
            _scramble(item)
        value.append("scrambled")


def test_a_rollback_lists_only_the_deployments_own_replicasets(
    api: FakeKubeAPI, connect: Factory
) -> None:
    """The ReplicaSets are listed by the deployment's selector (a namespace can hold
    thousands), and the one of the revision asked for is found among them."""
    api.add_deployment("shop", "web")
    api.add_deployment("shop", "api")
    cluster = connect()
    cluster.apply(change(cluster, ChangeKind.RESOURCES, cpu_request=250))
    rollback = change(cluster, ChangeKind.ROLLBACK)
    api.reset_log()
    rolled = cluster.apply(rollback)
    assert rolled.message == "deployment.apps/web rolled back"
    (listing,) = [r for r in api.requests if r.method == "GET" and r.path.endswith("/replicasets")]
    assert listing.query["labelSelector"] == "app=web"
    assert observed(cluster).cpu_request == 100


def test_a_rollback_returns_to_the_newest_earlier_revision_or_the_one_named(
    api: FakeKubeAPI, connect: Factory
) -> None:
    """With revisions 1, 2 and 3 kept, "the previous" is 2, as `kubectl rollout undo` finds
    it; a revision named is the one returned to, and one not kept is refused with the list of
    those that are."""
    api.add_deployment("shop", "web")
    cluster = connect()
    cluster.apply(change(cluster, ChangeKind.RESOURCES, cpu_request=250))
    cluster.apply(change(cluster, ChangeKind.RESOURCES, cpu_request=300))
    rolled = cluster.apply(change(cluster, ChangeKind.ROLLBACK))
    assert (rolled.message, rolled.before["revision"], rolled.after["revision"]) == (
        "deployment.apps/web rolled back",
        3,
        4,
    )
    assert observed(cluster).cpu_request == 250
    named = cluster.apply(change(cluster, ChangeKind.ROLLBACK, to_revision=1))
    assert (named.before["revision"], named.after["revision"]) == (4, 5)
    assert observed(cluster).cpu_request == 100
    # Revision 1's and 2's ReplicaSets now carry revisions 5 and 4: 3, 4 and 5 are kept.
    api.reset_log()
    with pytest.raises(ClusterError) as caught:
        cluster.apply(change(cluster, ChangeKind.ROLLBACK, to_revision=2))
    assert str(caught.value) == (
        "deployment shop/web has no revision 2 to roll back to (revisions kept: 3, 4, 5)"
    )
    assert caught.value.hint == "old revisions are kept up to spec.revisionHistoryLimit"
    assert (type(caught.value), caught.value.service) == (ClusterError, "web")
    assert api.count("PATCH") == 0


def test_a_rollback_to_the_template_running_writes_only_its_stamp(
    api: FakeKubeAPI, connect: Factory
) -> None:
    """Returning to the revision the deployment already runs changes no template: the patch
    carries the stamp alone (so the change is still recorded), and no new revision comes."""
    api.add_deployment("shop", "web")
    cluster = connect()
    rollback = change(cluster, ChangeKind.ROLLBACK, to_revision=1)
    api.reset_log()
    rolled = cluster.apply(rollback)
    assert rolled.message == (
        "deployment.apps/web skipped rollback (already at the template of revision 1)"
    )
    assert (rolled.before, rolled.after) == (
        {"replicas": 2, "revision": 1},
        {"replicas": 2, "revision": 1},
    )
    (patch,) = [r for r in api.requests if r.method == "PATCH"]
    assert sorted(patch.body) == ["metadata"]
    state = observed(cluster)
    assert (state.revision, state.last_change) == (1, rollback.stamp)


def test_a_rollback_never_takes_a_replicaset_another_deployment_owns(
    api: FakeKubeAPI, connect: Factory
) -> None:
    """A deployment whose selector also matches another one's ReplicaSets (the same labels)
    counts only the revisions it owns itself."""
    api.add_deployment("shop", "twin", labels={"app": "web"}, cpu_request="900m")
    twin_target = Target(namespace="shop", name="twin")
    twin = change(connect(), ChangeKind.RESOURCES, target=twin_target, cpu_request=950)
    cluster = connect()
    cluster.apply(twin)
    cluster.apply(replace(twin, expected_version="", cpu_request=990))  # twin: revisions 1-3
    api.add_deployment("shop", "web")
    cluster.apply(change(cluster, ChangeKind.RESOURCES, cpu_request=250))
    with pytest.raises(ClusterError, match=r"no revision 3 .*\(revisions kept: 1, 2\)$"):
        cluster.apply(change(cluster, ChangeKind.ROLLBACK, to_revision=3))
    cluster.apply(change(cluster, ChangeKind.ROLLBACK))
    assert observed(cluster).cpu_request == 100


def test_a_replicaset_without_a_revision_is_no_revision_to_return_to(
    api: FakeKubeAPI, connect: Factory
) -> None:
    """The Deployment controller numbers every ReplicaSet it makes; one without the number
    (edited by hand) is not a revision, not even the deployment's own, so here no revision is
    kept at all."""
    api.add_deployment("shop", "web")
    with api._lock:
        for (namespace, _name), rs in api._store[kube_api.REPLICASETS].items():
            if namespace == "shop":
                del rs["metadata"]["annotations"][kube_api.REVISION]
    cluster = connect()
    api.reset_log()
    with pytest.raises(ClusterError) as caught:
        cluster.apply(change(cluster, ChangeKind.ROLLBACK))
    assert str(caught.value) == (
        "deployment shop/web has no revision before 1 to roll back to (revisions kept: none)"
    )
    assert api.count("PATCH") == 0


def test_replicasets_that_cannot_be_listed_stop_the_rollback_for_the_service(
    api: FakeKubeAPI, connect: Factory
) -> None:
    api.add_deployment("shop", "web")
    cluster = connect()
    cluster.apply(change(cluster, ChangeKind.RESOURCES, cpu_request=250))
    rollback = change(cluster, ChangeKind.ROLLBACK)
    api.deny("list", "apps", "replicasets", "shop")
    api.reset_log()
    with pytest.raises(ClusterError) as caught:
        cluster.apply(rollback)
    assert (type(caught.value), caught.value.service) == (ClusterError, "web")
    assert str(caught.value).startswith("listing the replicasets of deployment shop/web")
    assert caught.value.hint is not None and "rbac.yaml" in caught.value.hint
    assert api.count("PATCH") == 0
    assert observed(cluster).cpu_request == 250


# ---------------------------------------------------------------------- the cluster's identity


def test_the_identity_is_the_kube_system_namespace_uid(api: FakeKubeAPI, connect: Factory) -> None:
    cluster = connect()
    assert cluster.identity() == api.cluster_uid
    assert cluster.identity() == api.cluster_uid  # the same on every read
    assert [r.path for r in api.requests if r.method == "GET"][-1] == (
        "/api/v1/namespaces/kube-system"
    )


def test_an_identity_that_cannot_be_read_names_the_permission(
    api: FakeKubeAPI, connect: Factory
) -> None:
    api.deny("get", "", "namespaces")
    with pytest.raises(ClusterError) as raised:
        connect().identity()
    assert "reading the kube-system namespace" in str(raised.value)
    assert "forbidden" in str(raised.value)


# ---------------------------------------------------------------------- doctor probes, units, imports


def test_doctor_probes(api: FakeKubeAPI, connect: Factory) -> None:
    api.add_deployment("shop", "web")
    api.deny("patch", "autoscaling", "horizontalpodautoscalers", "shop")
    cluster = connect()
    assert cluster.server_version() == "v1.32.4"
    assert cluster.server.startswith("http://127.0.0.1:")
    assert cluster.access_review("patch", "apps", "deployments", "shop")
    assert not cluster.access_review("patch", "autoscaling", "horizontalpodautoscalers", "shop")
    assert cluster.access_review("patch", "autoscaling", "horizontalpodautoscalers", "blog")
    assert cluster.metrics_api_available()
    assert cluster.deployment_exists("shop", "web") and not cluster.deployment_exists("shop", "api")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("85m", Decimal("0.085")),
        ("512Mi", Decimal(512 * 1024**2)),
        ("123456789n", Decimal("0.123456789")),
        ("1e3", Decimal(1000)),
        ("0.5", Decimal("0.5")),
        ("2Gi", Decimal(2 * 1024**3)),
        ("1500k", Decimal(1_500_000)),
    ],
)
def test_parse_quantity(text: str, value: Decimal) -> None:
    assert parse_quantity(text) == value


def test_parse_quantity_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        parse_quantity("12 cores")


def test_importing_the_adapter_does_not_import_the_client() -> None:
    code = (
        "import sys, reconciler.adapters.kubernetes, reconciler.cli.doctor, reconciler.shell.doctor; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('kubernetes', 'urllib3', 'pydantic')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("text", "usable"),
    [
        ("9223372036854775807", True),  # 2^63 - 1, the largest quantity Kubernetes stores
        ("-9223372036854775807", True),
        ("7Ei", True),
        ("9223372036854775808", False),
        ("8Ei", False),
        ("10E", False),
        ("1e19", False),
        ("1e999999999999", False),
        ("1e-999999999999", False),
        ("9" * 400, False),
    ],
)
def test_parse_quantity_stops_where_kubernetes_does(text: str, usable: bool) -> None:
    if usable:
        assert abs(parse_quantity(text)) <= 2**63 - 1
        return
    with pytest.raises(ValueError, match=r"not a Kubernetes quantity|largest Kubernetes quantity"):
        parse_quantity(text)


@pytest.mark.parametrize("cpu", ["8Ei", "1e400", "9" * 30])
def test_a_deployment_with_an_absurd_quantity_is_its_own_error(
    api: FakeKubeAPI, connect: Factory, cpu: str
) -> None:
    """A value no real API server would hold still cannot reach arithmetic: that deployment
    is an error naming what it could not read, and its neighbour is observed as usual."""
    api.add_deployment("shop", "web", cpu_request=cpu)
    api.add_deployment("shop", "api")
    cluster = connect()
    api_target = Target(namespace="shop", name="api")
    states = cluster.observe([WEB, api_target])
    error = states[WEB]
    assert isinstance(error, ClusterError)
    assert "the deployment has content the reconciler cannot read" in str(error)
    assert isinstance(states[api_target], DeploymentState)


@pytest.mark.parametrize(
    ("value", "paused"),
    [("true", "true"), ("incident-42", "incident-42"), ("false", ""), ("False", ""), ("", "")],
)
def test_the_paused_annotation_is_read_as_kubectl_annotate_leaves_it(
    api: FakeKubeAPI, connect: Factory, value: str, paused: str
) -> None:
    api.add_deployment("shop", "web", replicas=2, annotations={"reconciler/paused": value})
    assert observed(connect()).paused == paused


def test_a_deployment_without_the_paused_annotation_is_not_paused(
    api: FakeKubeAPI, connect: Factory
) -> None:
    api.add_deployment("shop", "web", replicas=2)
    assert observed(connect()).paused == ""


# ---------------------------------------------------------------------- events


def notice(reason: NoticeReason = NoticeReason.SCALED) -> Notice:
    return Notice(
        reason=reason,
        message="scaled from 2 to 3 replicas: W 84.2% > 80% (audit record op-1)",
        record_id="op-1",
        service="web",
    )


def test_a_notice_is_an_event_on_the_deployment(api: FakeKubeAPI, connect: Factory) -> None:
    api.add_deployment("shop", "web")
    cluster = connect()
    observed(cluster)
    api.reset_log()
    cluster.announce(WEB, notice())
    cluster.announce(WEB, notice(NoticeReason.REFUSED))
    first, second = api.events("shop", "web")
    assert api.count() == 2  # the uid came from the snapshot: no read before posting
    assert first["involvedObject"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "web",
        "namespace": "shop",
        "uid": api.get_deployment("shop", "web")["metadata"]["uid"],
    }
    assert (first["reason"], first["type"], first["count"]) == ("ReconcilerScaled", "Normal", 1)
    assert first["message"] == "scaled from 2 to 3 replicas: W 84.2% > 80% (audit record op-1)"
    assert first["metadata"]["annotations"] == {"reconciler/record-id": "op-1"}
    assert first["metadata"]["name"].startswith("web.")
    assert first["source"] == {"component": "reconciler"}
    assert datetime.fromisoformat(first["firstTimestamp"]) == NOW  # the adapter's clock
    assert first["lastTimestamp"] == first["firstTimestamp"]
    assert (second["reason"], second["type"]) == ("ReconcilerRefused", "Warning")


def test_a_notice_about_a_deployment_not_observed_reads_its_uid(
    api: FakeKubeAPI, connect: Factory
) -> None:
    api.add_deployment("shop", "web")
    cluster = connect()
    cluster.announce(WEB, notice())
    (event,) = api.events("shop", "web")
    assert api.count("GET", "/apis/apps/v1/namespaces/shop/deployments/web") == 1
    assert event["reason"] == "ReconcilerScaled"


def test_an_event_the_reconciler_may_not_create_is_an_error_naming_the_permission(
    api: FakeKubeAPI, connect: Factory
) -> None:
    api.add_deployment("shop", "web")
    api.deny("create", "", "events", "shop")
    cluster = connect()
    observed(cluster)
    with pytest.raises(ClusterError) as caught:
        cluster.announce(WEB, notice())
    assert "may not create events in namespace shop (RBAC)" in str(caught.value)
    assert "deploy/rbac.yaml" in caught.value.hint
    assert caught.value.service == "web"
    assert api.events("shop", "web") == []
