"""`reconciler doctor` against the fake API server, and deploy/rbac.yaml against the doctor's
list of permissions (one source of truth for both)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from reconciler.core.errors import ConfigError
from reconciler.core.observed.observation import Target
from reconciler.shell.doctor import REQUIRED_ACCESS, Finding, diagnose
from tests.conftest import REPO
from tests.fakes.kube_api import FakeKubeAPI


@pytest.fixture
def api() -> Iterator[FakeKubeAPI]:
    with FakeKubeAPI() as server:
        server.add_deployment("todo-app", "todo-frontend")
        server.add_deployment("todo-app", "todo-backend")
        yield server


@pytest.fixture
def kubeconfig(api: FakeKubeAPI, tmp_path: Path) -> Path:
    return api.write_kubeconfig(tmp_path / "kubeconfig")


def doctor(repo: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    """`reconciler [global options] doctor [-o json]`: cluster options are global, the output
    option belongs to the command."""
    from reconciler.cli import main

    split = args.index("-o") if "-o" in args else len(args)
    global_args, command_args = args[:split], args[split:]
    runner = CliRunner()
    return runner.invoke(
        main,
        ["--repo", str(repo), *global_args, "doctor", *command_args],
        env=env,
        catch_exceptions=False,
    )


def test_all_checks_pass(blueprint_repo: Path, kubeconfig: Path) -> None:
    result = doctor(blueprint_repo, "--kubeconfig", str(kubeconfig))
    assert result.exit_code == 0, result.output
    assert "✓ connectivity: the API server at http://127.0.0.1:" in result.output
    assert "(Kubernetes v1.32.4)" in result.output
    assert "✓ may patch deployments.apps in namespace todo-app: allowed" in result.output
    assert (
        "✓ may create selfsubjectaccessreviews.authorization.k8s.io at the cluster scope"
        in result.output
    )
    assert "✓ metrics API" in result.output
    assert "✓ deployment todo-app/todo-backend (todo-backend): exists" in result.output
    assert "✓ cluster identity: kube-system UID " in result.output
    assert "✓ may get namespaces at the cluster scope: allowed" in result.output
    # connectivity, the cluster's identity, every permission (one namespace), the metrics API,
    # two deployments, and Prometheus (not configured: an ok note)
    checks = 1 + 1 + len(REQUIRED_ACCESS) + 1 + 2 + 1
    assert f"{checks} checks: {checks} ok, 0 failed" in result.output
    assert "✗" not in result.output


def test_a_denied_verb_fails_with_the_resource_and_the_fix(
    api: FakeKubeAPI, blueprint_repo: Path, kubeconfig: Path
) -> None:
    api.deny("patch", "apps", "deployments", "todo-app")
    result = doctor(blueprint_repo, "--kubeconfig", str(kubeconfig))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    failed = lines.index(
        "✗ may patch deployments.apps in namespace todo-app: denied: the reconciler cannot patch "
        'deployments.apps (API group "apps"), needed to scale, restart and roll back deployments'
    )
    assert lines[failed + 1] == (
        "    fix: apply deploy/rbac.yaml and bind the ClusterRole `reconciler` in namespace "
        "todo-app (a RoleBinding); see docs/running-in-production.md#rbac"
    )
    assert "✓ may get deployments.apps in namespace todo-app" in result.output
    assert "1 failed" in result.output


def test_a_missing_deployment_and_a_missing_metrics_api_are_reported(
    api: FakeKubeAPI, blueprint_repo: Path, kubeconfig: Path
) -> None:
    api.fail("GET", r"^/apis/metrics\.k8s\.io", status=404)
    api.fail("GET", r"/deployments/todo-backend$", status=404)
    result = doctor(blueprint_repo, "--kubeconfig", str(kubeconfig), "-o", "json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    failed = {f["check"]: f for f in report["findings"] if not f["ok"]}
    assert set(failed) == {"metrics API", "deployment todo-app/todo-backend (todo-backend)"}
    missing = failed["deployment todo-app/todo-backend (todo-backend)"]
    assert missing["detail"] == (
        "deployment todo-app/todo-backend named in the blueprint of todo-backend does not exist"
    )
    assert "blueprints/todo-backend/blueprint.yaml" in missing["fix"]
    assert "metrics-server" in failed["metrics API"]["fix"]
    assert report["ok"] is False and report["cluster"].startswith("http://127.0.0.1:")


def test_an_unreachable_cluster_is_the_only_finding(blueprint_repo: Path, kubeconfig: Path) -> None:
    result = doctor(
        blueprint_repo, "--kubeconfig", str(kubeconfig), "--context", "other", "-o", "json"
    )
    assert result.exit_code == 1
    findings = json.loads(result.output)["findings"]
    # Nothing else about the cluster can be checked; Prometheus (unset here) is separate.
    assert [(f["check"], f["ok"]) for f in findings] == [
        ("connectivity", False),
        ("prometheus", True),
    ]
    assert "cannot connect to" in findings[0]["detail"] and findings[0]["fix"]


def test_the_kubeconfig_comes_from_the_environment_too(
    blueprint_repo: Path, kubeconfig: Path
) -> None:
    result = doctor(blueprint_repo, env={"KUBECONFIG": str(kubeconfig)})
    assert result.exit_code == 0, result.output


def test_a_missing_kubeconfig_is_a_configuration_error(
    blueprint_repo: Path, tmp_path: Path
) -> None:
    result = doctor(blueprint_repo, "--kubeconfig", str(tmp_path / "absent"))
    assert result.exit_code == 3
    assert result.output.startswith("error: no kubeconfig at")


class _Unreachable:
    """A probe that cannot reach anything: diagnose must stop at the first finding."""

    server = "https://nowhere:6443"

    def server_version(self) -> str:
        raise ConfigError("the kubeconfig's user has no credentials")

    def access_review(self, verb: str, group: str, resource: str, namespace: str | None) -> bool:
        raise AssertionError("not reached")

    def metrics_api_available(self) -> bool:
        raise AssertionError("not reached")

    def deployment_exists(self, namespace: str, name: str) -> bool:
        raise AssertionError("not reached")


def test_diagnose_stops_when_the_cluster_does_not_answer() -> None:
    findings = diagnose(_Unreachable(), [("web", Target(namespace="shop", name="web"))])
    assert findings == [
        Finding(
            check="connectivity",
            ok=False,
            detail="the kubeconfig's user has no credentials",
            fix="check --kubeconfig and --context (`kubectl cluster-info` should work with them)",
        )
    ]


# ---------------------------------------------------------------------- deploy/rbac.yaml


def rbac_documents() -> list[dict[str, object]]:
    documents = list(yaml.safe_load_all((REPO / "deploy" / "rbac.yaml").read_text("utf-8")))
    return [d for d in documents if d]


def granted(role: str) -> set[tuple[str, str, str]]:
    """(verb, group, resource) the ClusterRole grants."""
    (document,) = [
        d for d in rbac_documents() if d["kind"] == "ClusterRole" and d["metadata"]["name"] == role
    ]  # type: ignore[index]
    return {
        (verb, group, resource)
        for rule in document["rules"]  # type: ignore[index]
        for verb in rule["verbs"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }


def test_rbac_grants_exactly_what_the_doctor_checks() -> None:
    namespaced = {(p.verb, p.group, p.resource) for p in REQUIRED_ACCESS if p.namespaced}
    cluster_scoped = {(p.verb, p.group, p.resource) for p in REQUIRED_ACCESS if not p.namespaced}
    assert granted("reconciler") == namespaced
    assert granted("reconciler-access-review") == cluster_scoped


def test_rbac_binds_both_roles_to_the_service_account() -> None:
    documents = rbac_documents()
    (account,) = [d for d in documents if d["kind"] == "ServiceAccount"]
    assert account["metadata"] == {"name": "reconciler", "namespace": "reconciler"}
    bindings = {
        (d["kind"], d["roleRef"]["name"])  # type: ignore[index]
        for d in documents
        if d["kind"] in ("RoleBinding", "ClusterRoleBinding")
        and d["subjects"]
        == [{"kind": "ServiceAccount", "name": "reconciler", "namespace": "reconciler"}]
    }
    assert bindings == {
        ("RoleBinding", "reconciler"),
        ("ClusterRoleBinding", "reconciler-access-review"),
    }


def test_an_unreachable_prometheus_is_reported(blueprint_repo: Path, kubeconfig: Path) -> None:
    result = doctor(
        blueprint_repo,
        "--kubeconfig",
        str(kubeconfig),
        "--prometheus-url",
        "http://127.0.0.1:9",
        "-o",
        "json",
    )
    assert result.exit_code == 1
    (prometheus,) = [f for f in json.loads(result.output)["findings"] if f["check"] == "prometheus"]
    assert prometheus["ok"] is False
    assert "--prometheus-url" in prometheus["fix"]


def test_an_hpa_and_argo_cd_owning_replicas_are_reported_with_the_fix(
    blueprint_repo: Path, api: FakeKubeAPI, kubeconfig: Path
) -> None:
    api.add_hpa("todo-app", "todo-frontend", "todo-frontend")
    api.set_owner_markers("todo-app", "todo-backend", argocd=True, argocd_app="shop")
    result = doctor(blueprint_repo, "--kubeconfig", str(kubeconfig))
    assert result.exit_code == 1, result.output
    assert (
        "✗ replicas of todo-app/todo-frontend (todo-frontend): managed by hpa/todo-frontend: "
        "every scale of todo-frontend will be refused"
    ) in result.output
    assert "fix: the replicas of todo-app/todo-frontend are managed by hpa/todo-frontend; set" in (
        result.output
    )
    assert "spec.scaling.coexistence: adjust_hpa" in result.output
    assert (
        "✗ replicas of todo-app/todo-backend (todo-backend): managed by argocd/shop: every "
        "scale of todo-backend will be refused"
    ) in result.output
    assert "spec.scaling.coexistence: gitops_ignores_replicas" in result.output


def test_an_hpa_the_blueprint_scales_through_is_an_ok_finding(
    blueprint_repo: Path, api: FakeKubeAPI, kubeconfig: Path
) -> None:
    path = blueprint_repo / "blueprints/todo-frontend/blueprint.yaml"
    path.write_text(
        path.read_text().replace("  scaling:\n", "  scaling:\n    coexistence: adjust_hpa\n", 1)
    )
    api.add_hpa("todo-app", "todo-frontend", "todo-frontend")
    result = doctor(blueprint_repo, "--kubeconfig", str(kubeconfig))
    assert result.exit_code == 0, result.output
    assert (
        "✓ replicas of todo-app/todo-frontend (todo-frontend): managed by hpa/todo-frontend; "
        "scaled through hpa/todo-frontend's minReplicas (coexistence: adjust_hpa)"
    ) in result.output
