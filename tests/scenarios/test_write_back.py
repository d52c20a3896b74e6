"""The whole loop through git on the simulated cluster, with a simulated Argo CD in front.

A service under `coexistence: write_back` is scaled by a commit to its manifest; the simulated
tool applies the commit after its delay; verification starts when the new replicas run; a
change that makes things worse is undone by a revert commit; a commit the tool never applies
is escalated and not rolled back; and a value a person changed is never overwritten. Each
shape of manifest (plain, kustomize, Helm values) goes through the same loop.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pygit2
import pytest
import yaml

from tests.scenarios.conftest import Scenario, web_blueprint, web_fleet

PLAIN = """\
# Applied by Argo CD (application shop-web).
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 2  # the reconciler commits changes to this line
  template:
    spec:
      containers:
        - name: web
          image: shop/web:1.4
"""

KUSTOMIZATION = """\
resources:
  - ../../base
replicas:
  - name: web
    count: 2
"""

VALUES = """\
web:
  replicaCount: 2   # production
"""

SHAPES: dict[str, tuple[str, str, str]] = {
    # format, file, its content, extra spec.manifests lines
    "plain": ("deploy/web.yaml", PLAIN, ""),
    "kustomize": ("deploy/overlays/prod/kustomization.yaml", KUSTOMIZATION, ""),
    "helm": ("charts/web/values-prod.yaml", VALUES, "    replicas_key: web.replicaCount\n"),
}


def write_back_fleet(
    tmp_path: Path, shape: str = "plain", timeout: str = "10m", delay: str = "30s"
) -> Scenario:
    path, content, extra = SHAPES[shape]
    blueprint = web_blueprint(coexistence="write_back") + (
        f"  manifests:\n    format: {shape}\n    path: {path}\n{extra}    sync_timeout: {timeout}\n"
    )
    scenario = web_fleet(tmp_path, blueprint)
    scenario.write(path, content, "the manifests Argo CD applies")
    scenario.cli("sim", "init", "--gitops-delay", delay)
    return scenario


def person_commits(scenario: Scenario, path: str, text: str) -> None:
    """A person's commit, made at the simulation's clock (so the tool has not applied it)."""
    shown = scenario.json("sim", "show")
    assert isinstance(shown, dict)
    moment = datetime.fromisoformat(shown["clock"].replace("Z", "+00:00"))
    (scenario.root / path).write_text(text)
    repo = scenario.repo
    repo.index.add(path)
    repo.index.write()
    alice = pygit2.Signature("Alice", "alice@example.invalid", int(moment.timestamp()), 0)
    tree = repo.index.write_tree()
    repo.create_commit(
        "HEAD", alice, alice, "web: 4 replicas for the sale", tree, [repo.head.target]
    )


def hot(scenario: Scenario) -> None:
    scenario.cli("sim", "set", "web", "cpu_utilization=95%")


def run(scenario: Scenario, expect: int = 0) -> dict[str, Any]:
    report = scenario.json("run", expect=expect)
    assert isinstance(report, dict)
    (service,) = report["services"]
    assert service["error"] is None, service
    return dict(service)


def replicas_in_git(scenario: Scenario, shape: str = "plain") -> int:
    path = SHAPES[shape][0]
    data = yaml.safe_load((scenario.root / path).read_text())
    if shape == "plain":
        return int(data["spec"]["replicas"])
    if shape == "kustomize":
        return int(data["replicas"][0]["count"])
    return int(data["web"]["replicaCount"])


def sim_replicas(scenario: Scenario) -> tuple[int, int]:
    shown = scenario.json("sim", "show")
    assert isinstance(shown, dict)
    (web,) = [d for d in shown["deployments"] if d["name"] == "web"]
    ready = sum(
        1
        for pod in web["pods"]
        if pod["ready_at"] and pod["ready_at"] <= shown["clock"] and not pod["crashing"]
    )
    return int(web["replicas"]), ready


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_a_scale_is_a_commit_that_the_tool_rolls_out_then_verified(
    tmp_path: Path, shape: str
) -> None:
    scenario = write_back_fleet(tmp_path, shape)
    hot(scenario)
    service = run(scenario)
    (step,) = service["steps"]
    assert (step["operation"], step["outcome"]) == ("scale_within_limits", "executed")

    # The change is a commit to the manifest, and only its value line changed.
    path, before, _extra = SHAPES[shape]
    assert replicas_in_git(scenario, shape) == 3
    manifest_commit = next(
        c for c in scenario.commits() if c.message.startswith("web: scale to 3 replicas")
    )
    diff = scenario.repo.diff(manifest_commit.parents[0], manifest_commit)
    assert [p.delta.new_file.path for p in diff] == [path]
    changed = [
        (line.origin, line.content.rstrip("\n"))
        for hunk in next(iter(diff)).hunks
        for line in hunk.lines
        if line.origin in "+-"
    ]
    assert len(changed) == 2 and changed[0][1].replace("2", "3", 1) == changed[1][1]
    (executed,) = scenario.records("web", "operation_executed")
    assert executed["links"]["commit"] == str(manifest_commit.id)
    assert executed["details"]["write_back"]["files"] == [path]
    assert executed["details"]["write_back"]["after"] == {"replicas": 3}
    # Nothing was written to the cluster: the tool has not synced yet.
    assert sim_replicas(scenario) == (2, 2)

    # Before the tool syncs, the change waits; nothing is verified, nothing new is decided.
    service = run(scenario)
    assert "no new change before that" in service["waiting"]
    assert scenario.records("web", "rolled_out") == []

    scenario.cli("sim", "advance", "30s")  # the tool's delay: it applies the commit
    service = run(scenario)
    assert sim_replicas(scenario) == (3, 2)  # the new pod is starting
    assert scenario.records("web", "rolled_out") == []

    scenario.cli("sim", "advance", "45s")  # the pod is ready: rolled out
    run(scenario)
    (rolled,) = scenario.records("web", "rolled_out")
    assert rolled["links"]["commit"] == str(manifest_commit.id)
    assert scenario.records("web", "verification_passed") == []

    scenario.cli("sim", "advance", "60s")  # the stabilization period, counted from rollout
    run(scenario)
    (verified,) = scenario.records("web", "verification_passed")
    assert verified["links"]["operation"] == executed["id"]
    assert before != (scenario.root / path).read_text()


def test_a_change_that_makes_things_worse_is_reverted_by_a_revert_commit(tmp_path: Path) -> None:
    scenario = write_back_fleet(tmp_path)
    hot(scenario)
    run(scenario)
    scenario.cli("sim", "advance", "75s")
    run(scenario)  # rolled out
    scenario.cli("sim", "set", "web", "crashing_pods=1")
    scenario.cli("sim", "advance", "60s")
    service = run(scenario)
    assert scenario.records("web", "verification_failed")
    (step,) = service["steps"]
    assert (step["operation"], step["outcome"]) == ("rollback_own_change", "executed")

    (original,) = scenario.records("web", "operation_executed")
    (rollback,) = scenario.records("web", "rollback_executed")
    revert = next(c for c in scenario.commits() if c.message.startswith('Revert "web: scale'))
    assert f"This reverts commit {original['links']['commit']}." in revert.message
    assert rollback["links"]["commit"] == str(revert.id)
    assert replicas_in_git(scenario) == 2
    assert sim_replicas(scenario)[0] == 3  # the tool has not applied the revert yet

    scenario.cli("sim", "set", "web", "crashing_pods=0")
    scenario.cli("sim", "advance", "30s")
    run(scenario)
    assert sim_replicas(scenario)[0] == 2
    scenario.cli("sim", "advance", "60s")
    run(scenario)
    assert scenario.records("web", "rollback_verified")


def test_a_commit_the_tool_never_applies_is_escalated_not_rolled_back(tmp_path: Path) -> None:
    scenario = write_back_fleet(tmp_path, timeout="2m", delay="1h")
    hot(scenario)
    run(scenario)
    scenario.cli("sim", "advance", "1m")
    run(scenario)
    assert scenario.records("web", "escalated") == []

    scenario.cli("sim", "advance", "90s")
    result = scenario.json("run", expect=1)  # a person is needed: the run fails
    assert isinstance(result, dict)
    (escalated,) = scenario.records("web", "escalated")
    assert escalated["details"]["reason"] == "not_synced"
    assert "Nothing is rolled back" in escalated["rationale"]
    assert scenario.records("web", "rollback_executed") == []
    assert scenario.records("web", "verification_failed") == []
    assert replicas_in_git(scenario) == 3

    # Escalated once; the change still waits for the tool, and nothing else happens.
    scenario.cli("sim", "advance", "5m")
    service = run(scenario)
    assert len(scenario.records("web", "escalated")) == 1
    assert service["steps"] == []


def test_a_value_a_person_changed_is_not_overwritten(tmp_path: Path) -> None:
    scenario = write_back_fleet(tmp_path)
    # A person raises the replicas to 4 in git a moment ago; the tool has not applied it yet.
    person_commits(scenario, "deploy/web.yaml", PLAIN.replace("replicas: 2", "replicas: 4"))
    hot(scenario)
    service = run(scenario)
    (step,) = service["steps"]
    assert (step["operation"], step["outcome"]) == ("scale_within_limits", "deferred")
    assert "spec.replicas in deploy/web.yaml:8 is 4, not 2" in step["detail"]
    (deferred,) = scenario.records("web", "operation_deferred")
    assert "does not overwrite it" in deferred["rationale"]
    assert replicas_in_git(scenario) == 4
    assert not any(c.message.startswith("web: scale to 3") for c in scenario.commits())

    # Once the tool applies the person's value, the next cycle works from it.
    scenario.cli("sim", "advance", "75s")
    service = run(scenario)
    assert service["replicas"] == 4
    assert service["decision"]["current_replicas"] == 4
    assert len(scenario.records("web", "operation_deferred")) == 1


def merge_at_sim_time(scenario: Scenario, branch: str, who: str = "alice") -> None:
    """`git merge --no-ff` by `who`, dated at the simulation's clock (the tool's delay counts
    from the commit's date)."""
    import os
    import subprocess

    shown = scenario.json("sim", "show")
    assert isinstance(shown, dict)
    when = shown["clock"].replace("Z", "+00:00")
    env = {**os.environ, "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
    subprocess.run(
        ["git", "-C", str(scenario.root), "-c", f"user.name={who}",
         "-c", f"user.email={who}@example.com", "merge", "--no-ff", "-q", branch,
         "-m", f"Merge {branch}"],
        check=True, capture_output=True, env=env,
    )  # fmt: skip


def test_a_change_that_needs_approval_is_a_proposal_that_edits_the_manifest(
    tmp_path: Path,
) -> None:
    scenario = write_back_fleet(tmp_path)
    proposed = scenario.cli("request", "web", "scale", "--replicas", "7", "--reason", "sale")
    assert "scale 2→7 (approval needed)" in proposed.output
    (branch,) = [b for b in scenario.repo.branches.local if b != "main"]
    tip = scenario.repo.branches.local[branch].peel(pygit2.Commit)
    changed = sorted(p.delta.new_file.path for p in scenario.repo.diff(tip.parents[0], tip))
    assert changed[0] == "deploy/web.yaml" and changed[1].startswith("requests/web/apr-")
    assert replicas_in_git(scenario) == 2  # nothing changes before the merge
    (requested,) = scenario.records("web", "approval_requested")
    assert requested["details"]["metadata"]["write_back"] == ["deploy/web.yaml"]

    merge_at_sim_time(scenario, branch)
    merge = scenario.repo.head.peel(pygit2.Commit)
    assert replicas_in_git(scenario) == 7
    service = run(scenario)
    (step,) = service["steps"]
    assert (step["operation"], step["outcome"]) == ("scale_beyond_limits", "executed")
    (executed,) = scenario.records("web", "operation_executed")
    # The merge made the change: no second commit, and the record names the merge.
    assert executed["links"]["commit"] == str(merge.id)
    assert executed["links"]["approval"].startswith("apr-")
    assert executed["details"]["write_back"]["before"] == {"replicas": 2}
    assert not any(c.message.startswith("web: scale to 7") for c in scenario.commits())

    scenario.cli("sim", "advance", "75s")  # the tool applies the merge; the pods start
    run(scenario)
    assert sim_replicas(scenario) == (7, 7)
    assert scenario.records("web", "rolled_out")
    scenario.cli("sim", "advance", "60s")
    run(scenario)
    (verified,) = scenario.records("web", "verification_passed")
    assert verified["links"]["operation"] == executed["id"]


def test_a_delay_the_simulated_tool_cannot_read_is_a_usage_error(tmp_path: Path) -> None:
    scenario = web_fleet(tmp_path, web_blueprint())
    result = scenario.cli("sim", "init", "--gitops-delay", "soon", expect=2)
    assert "--gitops-delay" in result.output


def test_manifests_out_of_the_simulated_tool_s_reach_are_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A location on a forge nothing answers for: the simulated Argo CD cannot fetch it, so it
    leaves the deployment alone, as a tool that cannot reach the repository would. A run that cannot
    read the manifests' branch either (where it looks for its own unrecorded commits) fails
    the service where it observes, naming the repository and the token to set, and changes
    nothing."""
    monkeypatch.setenv("GITHUB_SERVER_URL", "http://127.0.0.1:9")  # nothing listens there
    for name in ("GITHUB_TOKEN", "RECONCILER_GITHUB_TOKEN", "RECONCILER_MANIFESTS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    blueprint = web_blueprint(coexistence="write_back") + (
        "  manifests:\n    format: plain\n    repository: org/deploy-config\n"
        "    path: deploy/web.yaml\n"
    )
    scenario = web_fleet(tmp_path, blueprint)
    scenario.cli("sim", "init", "--gitops-delay", "30s")
    hot(scenario)
    report = scenario.json("run", expect=None)
    assert isinstance(report, dict)
    (service,) = report["services"]
    assert service["stage"] == "observe"
    assert "http://127.0.0.1:9/org/deploy-config.git" in service["error"]
    assert "set RECONCILER_MANIFESTS_TOKEN" in service["error"]
    assert service["steps"] == []
    scenario.cli("sim", "advance", "60s")
    assert sim_replicas(scenario) == (2, 2)


def test_manifests_in_a_repository_on_the_forge_are_synced_from_its_branch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The manifests live in org/deploy-config on the forge's git server. The reconciler
    pushes its commit there with the manifests token; the simulated Argo CD watches that
    repository's branch (fetched the same way), applies the commit after its delay, and the
    change is verified from the rollout, as for manifests kept beside the blueprints."""
    from tests.gitserver import git, http_git_server

    token = "deploy-config-token"
    with http_git_server(tmp_path / "served", {token: "deploy-bot"}) as server:
        seed = tmp_path / "deploy-config"
        (seed / "deploy").mkdir(parents=True)
        (seed / "deploy" / "web.yaml").write_text(PLAIN)
        git("init", "-q", str(seed))
        git("add", "-A", cwd=seed)
        git("commit", "-q", "-m", "what Argo CD applies", cwd=seed)
        deploy = server.base / "org" / "deploy-config"
        deploy.parent.mkdir(parents=True)
        git("clone", "-q", "--bare", str(seed), str(deploy))
        # The tool's delay counts from the commit's date: the simulation's clock is now.
        monkeypatch.setenv("GITHUB_SERVER_URL", server.server_url)
        monkeypatch.setenv("RECONCILER_MANIFESTS_TOKEN", token)
        for name in ("GITHUB_TOKEN", "RECONCILER_GITHUB_TOKEN"):
            monkeypatch.delenv(name, raising=False)
        blueprint = web_blueprint(coexistence="write_back") + (
            "  manifests:\n    format: plain\n    repository: org/deploy-config\n"
            "    path: deploy/web.yaml\n    sync_timeout: 10m\n"
        )
        scenario = web_fleet(tmp_path / "fleet", blueprint)
        scenario.cli("sim", "init", "--gitops-delay", "30s")
        hot(scenario)

        service = run(scenario)
        (step,) = service["steps"]
        assert (step["operation"], step["outcome"]) == ("scale_within_limits", "executed")
        pushed = git("rev-parse", "main", cwd=deploy).strip()
        assert "replicas: 3  #" in git("show", "main:deploy/web.yaml", cwd=deploy)
        assert server.pushes == ["deploy-bot"]
        (executed,) = scenario.records("web", "operation_executed")
        assert executed["links"]["commit"] == pushed
        assert sim_replicas(scenario) == (2, 2)  # not yet synced

        scenario.cli("sim", "advance", "30s")  # the tool fetches the branch and applies it
        run(scenario)
        assert sim_replicas(scenario) == (3, 2)
        scenario.cli("sim", "advance", "45s")
        run(scenario)
        (rolled,) = scenario.records("web", "rolled_out")
        assert rolled["links"]["commit"] == pushed
        assert sim_replicas(scenario) == (3, 3)
        scenario.cli("sim", "advance", "60s")
        run(scenario)
        (verified,) = scenario.records("web", "verification_passed")
        assert verified["links"]["operation"] == executed["id"]
        assert token not in json.dumps(scenario.records("web", "operation_executed"))
