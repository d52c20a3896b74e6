"""The Kubernetes adapter's mapping from API JSON to the model, with plain dicts and no client:
what a deployment, its pods, its HPAs and its pod metrics become."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from reconciler.adapters.kubernetes.mapping import (
    Snapshot,
    _argocd_app,
    _pod_reason,
    _selector_matches,
    _selector_text,
    deployment_metrics,
    deployment_state,
)
from reconciler.core.errors import ClusterError, MetricsError
from reconciler.core.observed.observation import DeploymentState, Metrics, PodState, Target

NOW = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
WEB = Target(namespace="shop", name="web")


def container(cpu: str | None = "100m", memory: str | None = "256Mi") -> dict[str, Any]:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    return {"name": "app", "resources": {"requests": requests, "limits": {"cpu": "1"}}}


def deployment(**meta: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "resourceVersion": "41", "generation": 3, **meta},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"spec": {"containers": [container(), container("50m", "128Mi")]}},
        },
        "status": {"readyReplicas": 2, "observedGeneration": 2},
    }


def pod(name: str, *, ready: bool = True, phase: str = "Running", **status: Any) -> dict[str, Any]:
    conditions = [{"type": "Ready", "status": "True" if ready else "False"}]
    return {
        "metadata": {
            "name": name,
            "labels": {"app": "web"},
            "ownerReferences": [{"name": "web-abc", "controller": True}],
        },
        "spec": {"containers": [container(), container("50m", "128Mi")]},
        "status": {"phase": phase, "conditions": conditions, **status},
    }


def usage(cpu: str, memory: str) -> dict[str, Any]:
    return {
        "timestamp": "2025-06-02T11:59:30Z",
        "containers": [{"usage": {"cpu": cpu, "memory": memory}}],
    }


def snapshot(**fields: Any) -> Snapshot:
    return Snapshot(namespace="shop", taken=0.0, observed_at=NOW, **fields)


def test_a_deployment_becomes_its_state_with_summed_requests_and_its_pods() -> None:
    pods = [pod("web-1"), pod("web-2", ready=False), pod("gone", phase="Failed")]
    state = deployment_state(
        snapshot(
            deployments={"web": deployment()},
            pods=pods,
            revisions={"web-abc": 4},
            hpas={"web": ("web-hpa",)},
        ),
        WEB,
    )
    assert state == DeploymentState(
        target=WEB,
        replicas=3,
        ready_replicas=2,
        pods=(
            PodState(name="web-1", ready=True, revision=4),
            PodState(name="web-2", ready=False, revision=4),
        ),
        cpu_request=150,
        memory_request=384 * 1024**2,
        cpu_limit=2000,
        memory_limit=None,  # no container sets one
        revision=0,
        version="41",
        controllers=("hpa/web-hpa",),
        observed_at=NOW,
        generation=3,
        observed_generation=2,
    )


@pytest.mark.parametrize(
    ("found", "message"),
    [
        (snapshot(), "deployment shop/web named in the blueprint does not exist"),
        (snapshot(failure=ClusterError("forbidden")), "observing shop/web: forbidden"),
        (
            snapshot(deployments={"web": {"spec": {"replicas": "many"}}}),
            "the deployment has content the reconciler cannot read",
        ),
    ],
)
def test_a_deployment_that_cannot_be_read_is_an_error_of_its_own(
    found: Snapshot, message: str
) -> None:
    state = deployment_state(found, WEB)
    assert isinstance(state, ClusterError)
    assert message in str(state)


def test_utilization_is_usage_over_requests_of_the_ready_pods_with_metrics() -> None:
    pods = [pod("web-1"), pod("web-2"), pod("web-3", ready=False)]
    metrics = {
        "web-1": usage("120m", "192Mi"),
        "web-2": usage("60m", "96Mi"),
        "web-3": usage("900m", "1Gi"),  # not ready: its usage says nothing about load
    }
    found = deployment_metrics(
        snapshot(deployments={"web": deployment()}, pods=pods, metrics=metrics), WEB
    )
    assert isinstance(found, Metrics)
    assert found.cpu_utilization == pytest.approx(180 / 300)
    assert found.memory_utilization == pytest.approx(288 / 768)
    assert found.observed_at == datetime(2025, 6, 2, 11, 59, 30, tzinfo=UTC)


def test_a_container_without_a_request_leaves_that_utilization_unknown() -> None:
    lacking = pod("web-1")
    lacking["spec"]["containers"][1] = container(cpu=None)
    found = deployment_metrics(
        snapshot(
            deployments={"web": deployment()},
            pods=[lacking],
            metrics={"web-1": usage("120m", "192Mi")},
        ),
        WEB,
    )
    assert isinstance(found, Metrics)
    assert found.cpu_utilization is None
    assert found.memory_utilization == pytest.approx(192 / 512)  # 256Mi in each container


def test_missing_metrics_are_an_error_naming_the_service() -> None:
    found = deployment_metrics(
        snapshot(deployments={"web": deployment()}, metrics=MetricsError("no metrics API")),
        WEB,
    )
    assert isinstance(found, MetricsError)
    assert str(found) == "no metrics for shop/web: no metrics API"


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        ({}, ""),
        ({"containerStatuses": [{"state": {"waiting": {"reason": "ContainerCreating"}}}]}, ""),
        (
            {"containerStatuses": [{"state": {"waiting": {"reason": "CrashLoopBackOff"}}}]},
            "CrashLoopBackOff",
        ),
        (
            {"initContainerStatuses": [{"state": {"waiting": {"reason": "ImagePullBackOff"}}}]},
            "ImagePullBackOff",
        ),
        ({"containerStatuses": [{"state": {"terminated": {"reason": "OOMKilled"}}}]}, "OOMKilled"),
        ({"containerStatuses": [{"state": {"terminated": {"reason": "Completed"}}}]}, ""),
        (
            {"conditions": [{"type": "PodScheduled", "reason": "Unschedulable"}]},
            "Unschedulable",
        ),
    ],
)
def test_why_a_pod_is_unhealthy(status: dict[str, Any], reason: str) -> None:
    assert _pod_reason(status) == reason


@pytest.mark.parametrize(
    ("selector", "labels", "matches", "text"),
    [
        ({"matchLabels": {"app": "web"}}, {"app": "web", "x": "1"}, True, "app=web"),
        ({"matchLabels": {"app": "web"}}, {"app": "api"}, False, "app=web"),
        (
            {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}]},
            {"tier": "a"},
            True,
            "tier in (a,b)",
        ),
        (
            {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["a"]}]},
            {},
            True,
            "tier notin (a)",
        ),
        ({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, {}, False, "tier"),
        (
            {"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]},
            {},
            True,
            "!tier",
        ),
    ],
)
def test_label_selectors_match_and_are_written_as_kubectl_writes_them(
    selector: dict[str, Any], labels: dict[str, str], matches: bool, text: str
) -> None:
    assert _selector_matches(selector, labels) is matches
    assert _selector_text(selector) == text


@pytest.mark.parametrize(
    ("annotations", "labels", "flux", "app"),
    [
        (
            {"argocd.argoproj.io/tracking-id": "shop-web:apps/Deployment:shop/web"},
            {},
            False,
            "shop-web",
        ),
        ({}, {"argocd.argoproj.io/instance": "shop"}, False, "shop"),
        ({}, {"app.kubernetes.io/instance": "web"}, False, "web"),
        ({"meta.helm.sh/release-name": "web"}, {"app.kubernetes.io/instance": "web"}, False, ""),
        ({}, {"app.kubernetes.io/instance": "web"}, True, ""),
        ({}, {}, False, ""),
    ],
)
def test_which_argo_cd_application_applied_a_deployment(
    annotations: dict[str, str], labels: dict[str, str], flux: bool, app: str
) -> None:
    assert _argocd_app(annotations, labels, applied_by_flux=flux) == app
