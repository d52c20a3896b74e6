"""Write-back on a real client against the fake Kubernetes API server, with Argo CD's step
played by `kubectl apply --server-side` of the manifest at the branch's tip.

Why it exists: tests/scenarios/test_write_back.py runs the loop on the simulated cluster; this
proves the wiring where it matters in production: the Kubernetes adapter sees Argo CD's mark,
the reconciler writes nothing to the deployment and commits the manifest instead, the apply
rolls it out (a new generation, observed by the controller), and verification counts from
the rollout the adapter reads back.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pygit2
import pytest

from tests.clusters import kubernetes_options
from tests.conftest import require_tool
from tests.fakes.kube_api import FakeKubeAPI
from tests.gitserver import git, http_git_server
from tests.scenarios.conftest import Scenario, web_blueprint, web_fleet

MANIFEST = """\
# shop/web, applied by Argo CD (application shop-web)
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 2  # the reconciler commits changes to this line
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: example/app:1.0
"""


@pytest.fixture
def api() -> Iterator[FakeKubeAPI]:
    with FakeKubeAPI() as server:
        server.add_deployment("shop", "web", replicas=2)
        server.set_pod_usage("shop", "web", cpu="95m", memory="256Mi")
        server.set_owner_markers("shop", "web", argocd=True, argocd_app="shop-web")
        yield server


def fleet(tmp_path: Path) -> Scenario:
    blueprint = web_blueprint(coexistence="write_back", stabilization_period="1s") + (
        "  manifests:\n    format: plain\n    path: deploy/web.yaml\n"
    )
    scenario = web_fleet(tmp_path, blueprint)
    scenario.write("deploy/web.yaml", MANIFEST, "the manifests Argo CD applies")
    return scenario


def run(scenario: Scenario, api: FakeKubeAPI, tmp_path: Path) -> dict[str, Any]:
    result = scenario.json(*kubernetes_options(api, tmp_path), "run")
    assert isinstance(result, dict)
    (service,) = result["services"]
    assert service["error"] is None, service
    return dict(service)


def argo_cd_syncs(
    scenario: Scenario, api: FakeKubeAPI, tmp_path: Path, repository: Path | None = None
) -> None:
    """What Argo CD does on a sync: apply the manifest as the branch's tip holds it (in the
    blueprint repository, or in `repository`)."""
    kubectl = require_tool("kubectl", "apt-get install kubernetes-client")
    repo = scenario.repo if repository is None else pygit2.Repository(str(repository))
    tip = repo.head.peel(pygit2.Commit)
    blob = repo[tip.tree["deploy/web.yaml"].id]
    manifest = tmp_path / "synced.yaml"
    manifest.write_bytes(blob.data)  # type: ignore[attr-defined]
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"} | {"HOME": str(tmp_path)}
    applied = subprocess.run(
        [kubectl, "--kubeconfig", str(kubeconfig), "--cache-dir", str(tmp_path / "cache"),
         "apply", "--server-side", "--field-manager=argocd-controller", "--force-conflicts",
         # The fake serves no OpenAPI document to validate against (Argo CD: Validate=false).
         "--validate=false",
         "-f", str(manifest)],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert applied.returncode == 0, applied.stderr
    assert "deployment.apps/web serverside-applied" in applied.stdout


def test_a_scale_is_committed_applied_as_argo_cd_would_and_verified(
    tmp_path: Path, api: FakeKubeAPI
) -> None:
    scenario = fleet(tmp_path)
    api.reset_log()
    service = run(scenario, api, tmp_path)
    (step,) = service["steps"]
    assert (step["operation"], step["outcome"]) == ("scale_within_limits", "executed")
    # Nothing was written to the deployment: the change is a commit to the manifest.
    assert [r for r in api.requests if r.method == "PATCH"] == []
    assert api.get_deployment("shop", "web")["spec"]["replicas"] == 2
    manifest = (scenario.root / "deploy/web.yaml").read_text()
    assert manifest == MANIFEST.replace("replicas: 2 ", "replicas: 3 ")
    (executed,) = scenario.records("web", "operation_executed")
    head = [c for c in scenario.commits() if c.message.startswith("web: scale to 3 replicas")]
    assert executed["links"]["commit"] == str(head[0].id)

    # Not applied yet: the change waits, and nothing is verified or decided meanwhile.
    service = run(scenario, api, tmp_path)
    assert "no new change before that" in service["waiting"]

    argo_cd_syncs(scenario, api, tmp_path)
    deployment = api.get_deployment("shop", "web")
    assert deployment["spec"]["replicas"] == 3
    assert deployment["status"]["observedGeneration"] == deployment["metadata"]["generation"]
    run(scenario, api, tmp_path)
    (rolled,) = scenario.records("web", "rolled_out")
    assert rolled["links"]["commit"] == executed["links"]["commit"]

    time.sleep(1.2)  # the stabilization period (1s), counted from the rollout
    run(scenario, api, tmp_path)
    (verified,) = scenario.records("web", "verification_passed")
    assert verified["links"]["operation"] == executed["id"]
    checks = {c["check"]: c["status"] for c in verified["details"]["checks"]}
    assert checks["replica_count"] == "passed" and checks["pods_ready"] == "passed"


def test_explain_shows_the_commit_that_carried_the_change(tmp_path: Path, api: FakeKubeAPI) -> None:
    scenario = fleet(tmp_path)
    run(scenario, api, tmp_path)
    (executed,) = scenario.records("web", "operation_executed")
    commit = executed["links"]["commit"]
    shown = scenario.cli("explain", executed["id"]).output
    assert f"    commit {commit} to deploy/web.yaml on main" in shown
    # The commit's id leads to the same chain.
    by_commit = json.loads(scenario.cli("explain", commit, "-o", "json").output)
    assert executed["id"] in [r["id"] for r in by_commit["records"]]


def test_doctor_checks_the_location_and_the_argo_cd_mark(tmp_path: Path, api: FakeKubeAPI) -> None:
    scenario = fleet(tmp_path)
    options = kubernetes_options(api, tmp_path)
    report = scenario.json(*options, "doctor")
    assert isinstance(report, dict)
    found = {f["check"]: f for f in report["findings"]}
    assert found["manifests web"]["ok"] is True
    assert found["manifests web"]["detail"].startswith(
        "deploy/web.yaml:8 (spec.replicas) holds 2 replicas, on main of this repository"
    )
    assert found["gitops web"]["ok"] is True
    assert "argocd/shop-web" in found["gitops web"]["detail"]

    api.set_owner_markers("shop", "web", argocd=False)
    report = scenario.json(*options, "doctor", expect=1)
    assert isinstance(report, dict)
    found = {f["check"]: f for f in report["findings"]}
    assert found["gitops web"]["ok"] is False
    assert "carries no Argo CD or Flux mark" in found["gitops web"]["detail"]


TOKEN = "deploy-config-token-never-printed"


def test_manifests_in_another_repository_on_the_forge(
    tmp_path: Path, api: FakeKubeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The manifests live in org/deploy-config on the forge (a git server that, like GitHub,
    answers only a known token): the commit is pushed there over HTTPS with
    RECONCILER_MANIFESTS_TOKEN, Argo CD applies that repository, and the loop is the same."""
    with http_git_server(tmp_path / "served", {TOKEN: "deploy-bot"}) as server:
        seed = tmp_path / "deploy-config"
        (seed / "deploy").mkdir(parents=True)
        (seed / "deploy" / "web.yaml").write_text(MANIFEST)
        git("init", "-q", str(seed))
        git("add", "-A", cwd=seed)
        git("commit", "-q", "-m", "the manifests Argo CD applies", cwd=seed)
        bare = server.base / "org" / "deploy-config"
        bare.parent.mkdir(parents=True)
        git("clone", "-q", "--bare", str(seed), str(bare))
        blueprint = web_blueprint(coexistence="write_back", stabilization_period="1s") + (
            "  manifests:\n    format: plain\n    repository: org/deploy-config\n"
            "    path: deploy/web.yaml\n"
        )
        scenario = web_fleet(tmp_path, blueprint)
        for name in ("GITHUB_TOKEN", "RECONCILER_GITHUB_TOKEN"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("GITHUB_SERVER_URL", server.server_url)
        options = kubernetes_options(api, tmp_path)

        # Without the token, the doctor says which variable to set, and for what.
        report = scenario.json(*options, "doctor", expect=1)
        assert isinstance(report, dict)
        found = {f["check"]: f for f in report["findings"]}
        assert found["manifests web"]["ok"] is False
        assert "set RECONCILER_MANIFESTS_TOKEN" in found["manifests web"]["fix"]

        monkeypatch.setenv("RECONCILER_MANIFESTS_TOKEN", TOKEN)
        report = scenario.json(*options, "doctor")
        assert isinstance(report, dict)
        found = {f["check"]: f for f in report["findings"]}
        assert found["manifests web"]["detail"].startswith(
            "deploy/web.yaml:8 (spec.replicas) holds 2 replicas, on main of org/deploy-config"
        )

        output = scenario.cli(*options, "run", "-o", "json").output
        assert TOKEN not in output
        (service,) = json.loads(output)["services"]
        (step,) = service["steps"]
        assert (step["operation"], step["outcome"]) == ("scale_within_limits", "executed")
        assert server.pushes == ["deploy-bot"]
        pushed = git("rev-parse", "main", cwd=bare).strip()
        assert git("show", "main:deploy/web.yaml", cwd=bare) == MANIFEST.replace(
            "replicas: 2 ", "replicas: 3 "
        )
        (executed,) = scenario.records("web", "operation_executed")
        assert executed["links"]["commit"] == pushed
        assert executed["details"]["write_back"]["repository"] == "org/deploy-config"
        # The blueprint repository's own files are untouched.
        assert not (scenario.root / "deploy" / "web.yaml").exists()

        argo_cd_syncs(scenario, api, tmp_path, bare)
        run(scenario, api, tmp_path)
        (rolled,) = scenario.records("web", "rolled_out")
        assert rolled["links"]["commit"] == pushed
        time.sleep(1.2)  # the stabilization period (1s), counted from the rollout
        run(scenario, api, tmp_path)
        (verified,) = scenario.records("web", "verification_passed")
        assert verified["links"]["operation"] == executed["id"]
