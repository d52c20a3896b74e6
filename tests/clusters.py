"""Starting points on the clusters tests run against: the simulation and the fake Kubernetes API.

Why it exists: adapter and scenario tests build the same deployment shop/web, and the same
unusual kubeconfigs, in several files; one definition keeps them from drifting apart.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from reconciler.adapters.simulated import SimTarget, SimulatedCluster, create
from tests.core.helpers import NOW
from tests.fakes.kube_api import FakeKubeAPI

MIB = 1024**2

#: Deployment shop/web in the simulation: 2 pods requesting 100m CPU and 512Mi each.
SIMULATED_WEB = SimTarget(
    namespace="shop",
    name="web",
    replicas=2,
    cpu_request=100,
    memory_request=512 * MIB,
    latency_target_ms=200,
)


def simulate_web(path: Path) -> SimulatedCluster:
    """A new simulation at `path` (not yet saved) holding only SIMULATED_WEB, at NOW."""
    return create(path, [SIMULATED_WEB], clock=NOW)


def kubernetes_options(api: FakeKubeAPI, directory: Path) -> tuple[str, ...]:
    """The CLI's options for a run on `api`, through a kubeconfig written to directory/kubeconfig."""
    return (
        "--cluster",
        "kubernetes",
        "--kubeconfig",
        str(api.write_kubeconfig(directory / "kubeconfig")),
    )


def token_file_kubeconfig(api: FakeKubeAPI, directory: Path, content: str) -> Path:
    """A kubeconfig (directory/kubeconfig) for `api` whose user reads its token from a file
    (directory/token) holding `content`, so a test controls the file's exact bytes."""
    path = api.write_kubeconfig(directory / "kubeconfig")
    config = json.loads(path.read_text())
    (directory / "token").write_text(content)
    config["users"][0]["user"] = {"tokenFile": str(directory / "token")}
    path.write_text(json.dumps(config))
    return path


def post_deployment(api: FakeKubeAPI, containers: Sequence[Mapping[str, Any]]) -> None:
    """Deployment shop/web with 2 pods of `containers`, created through the API as `kubectl
    apply` would (the fake's `add_deployment` makes pods of one container only)."""
    labels = {"app": "web"}
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": labels},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": containers}},
        },
    }
    request = urllib.request.Request(
        f"{api.url}/apis/apps/v1/namespaces/shop/deployments",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 201
