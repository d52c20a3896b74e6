"""Write-back on GitHub (the fake): a change that needs approval is a pull request whose diff
edits the manifest Argo CD applies, and the blueprint's bound it goes beyond; an approver's
merge is the approval and the change at once; the simulated tool rolls the merge out, and
verification follows. The scheduled job is a checkout of the repository GitHub serves, with
the GitHub forge, as on Actions.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.github_api import FakeGitHub, init_bare_repo
from tests.scenarios.conftest import DEMO_2
from tests.scenarios.github_job import BOT_TOKEN, Job, blueprint_files

FRONTEND = "blueprints/todo-frontend/blueprint.yaml"
MANIFEST = "deploy/todo-frontend/deployment.yaml"
BRANCH = "reconciler/todo-frontend/scale-beyond-limits"
DEPLOYMENT = """\
# Applied by Argo CD (application todo-frontend).
apiVersion: apps/v1
kind: Deployment
metadata:
  name: todo-frontend
spec:
  replicas: 5   # kept by the reconciler (write_back)
  template:
    spec:
      containers:
        - name: web
          image: todo/frontend:2.3
"""


class SimClock:
    """GitHub's clock for the test: the simulation's, so that a merge is dated when the
    simulated Argo CD would see it (its delay counts from the commit's date)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def follow(self, job: Job) -> None:
        shown = json.loads(job.cli("sim", "show", "-o", "json"))
        self.now = datetime.fromisoformat(shown["clock"].replace("Z", "+00:00"))


@pytest.fixture
def hosted(tmp_path: Path) -> Iterator[tuple[Job, SimClock]]:
    files = blueprint_files()
    text = files[FRONTEND]
    assert "    scale_down_threshold: 40%\n" in text
    files[FRONTEND] = text.replace(
        "    scale_down_threshold: 40%\n",
        "    scale_down_threshold: 40%\n    coexistence: write_back\n"
        f"  manifests:\n    format: plain\n    path: {MANIFEST}\n    sync_timeout: 10m\n",
        1,
    )
    files[MANIFEST] = DEPLOYMENT
    bare = tmp_path / "remote.git"
    init_bare_repo(bare, files)
    clock = SimClock()
    with FakeGitHub(bare, clock=clock) as api:
        api.add_user("reconciler-bot", BOT_TOKEN)
        api.add_user("alice", "alice-token")
        api.add_user("mallory", "mallory-token")
        api.add_team("acme", "devops-team", ["alice"])
        root = tmp_path / "checkout"
        subprocess.run(["git", "clone", "-q", str(bare), str(root)], check=True)
        job = Job(root, api)
        job.cli("sim", "init", "--scenario", "seed", "--history", "10m", "--gitops-delay", "30s")
        job.cli("sim", "set", "todo-frontend", *DEMO_2)
        clock.follow(job)
        yield job, clock
        assert api.internal_errors == []


def frontend(job: Job, output: str) -> dict:
    (service,) = [s for s in json.loads(output)["services"] if s["service"] == "todo-frontend"]
    return service  # type: ignore[no-any-return]


def sim_frontend(job: Job) -> tuple[int, int]:
    shown = json.loads(job.cli("sim", "show", "-o", "json"))
    (web,) = [d for d in shown["deployments"] if d["name"] == "todo-frontend"]
    ready = sum(
        1
        for pod in web["pods"]
        if pod["ready_at"] and pod["ready_at"] <= shown["clock"] and not pod["crashing"]
    )
    return int(web["replicas"]), ready


def changed_lines(job: Job, base: str, head: str, path: str) -> list[str]:
    diff = job.git("diff", "-U0", base, head, "--", path)
    return [
        line
        for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def test_a_proposal_edits_the_manifest_and_its_approved_merge_is_the_change(
    hosted: tuple[Job, SimClock],
) -> None:
    job, clock = hosted
    service = frontend(job, job.run("-s", "todo-frontend", "-o", "json"))
    (step,) = service["steps"]
    assert (step["operation"], step["outcome"]) == ("scale_beyond_limits", "proposed")

    # The pull request's diff: the manifest's value line and the blueprint's bound, nothing else.
    (pull,) = job.api.pulls()
    assert pull["head"]["ref"] == BRANCH
    job.git("fetch", "-q", "origin", BRANCH)
    base, head = pull["base"]["sha"], pull["head"]["sha"]
    files = job.git("diff", "--name-only", base, head).split()
    assert MANIFEST in files and FRONTEND in files
    assert changed_lines(job, base, head, MANIFEST) == [
        "-  replicas: 5   # kept by the reconciler (write_back)",
        "+  replicas: 6   # kept by the reconciler (write_back)",
    ]
    blueprint_lines = changed_lines(job, base, head, FRONTEND)
    assert blueprint_lines[2:] == ["-    max_replicas: 5", "+    max_replicas: 6"]
    assert [line.split(":")[0] for line in blueprint_lines[:2]] == ["-  version", "+  version"]
    # Nothing changes before the merge: not the manifest on main, not the cluster.
    assert "replicas: 5 " in (job.api.read_file("main", MANIFEST) or "")
    assert sim_frontend(job)[0] == 5

    # An approver merges it: the approval, and the change.
    clock.follow(job)
    merge = job.api.merge_pull(pull["number"], "alice")
    service = frontend(job, job.run("-s", "todo-frontend", "-o", "json"))
    # Under the merged blueprint 6 is within its limits; the change carries the approval.
    (step,) = service["steps"]
    assert (step["operation"], step["outcome"]) == ("scale_within_limits", "executed")
    (granted,) = job.records("approval_granted")
    assert granted["details"]["merged_by"] == "alice"
    (executed,) = job.records("operation_executed")
    assert executed["links"]["approval"] == granted["links"]["approval"]
    assert executed["links"]["commit"] == merge
    assert executed["details"]["write_back"]["after"] == {"replicas": 6}
    assert executed["details"]["authorized_by"]["reference"] == f"#{pull['number']}"
    # No second commit: the merge is the change.
    log = job.git("log", "--format=%s", "origin/main").splitlines()
    assert not any(line.startswith("todo-frontend: scale to 6") for line in log)

    # The simulated Argo CD applies the merge after its delay; verification follows.
    job.cli("sim", "advance", "75s")
    job.run("-s", "todo-frontend")
    assert sim_frontend(job) == (6, 6)
    (rolled,) = job.records("rolled_out")
    assert rolled["links"]["commit"] == merge
    job.cli("sim", "advance", "5m")
    job.run("-s", "todo-frontend")
    verified = [
        r
        for r in job.records("verification_passed") + job.records("verification_failed")
        if r["links"]["operation"] == executed["id"]
    ]
    assert len(verified) == 1


def test_a_merge_by_someone_who_may_not_approve_is_not_the_change(
    hosted: tuple[Job, SimClock],
) -> None:
    job, clock = hosted
    job.run("-s", "todo-frontend")
    (pull,) = job.api.pulls()
    clock.follow(job)
    job.api.merge_pull(pull["number"], "mallory")
    service = frontend(job, job.run("-s", "todo-frontend", "-o", "json", expect=1))
    assert "held" in service["error"]
    (refused,) = job.records("approval_refused")
    assert "mallory" in refused["rationale"]
    # Nothing is recorded as the reconciler's change, and it commits nothing of its own.
    assert job.records("operation_executed") == []
    log = job.git("log", "--format=%s", "origin/main").splitlines()
    assert not any(line.startswith("todo-frontend: scale to") for line in log)


DEPLOY_TOKEN = "deploy-config-token-never-printed"


class TwoRepositories:
    """The blueprints in acme/service-blueprints and the manifests Argo CD applies in
    org/deploy-config, both on one GitHub (the fake API hosts both; git reaches the manifests
    over HTTPS with their own token, at the server that serves that repository's git)."""

    def __init__(self, job: Job, deploy: FakeGitHub, bare: Path, clock: SimClock, server: Any):
        self.job, self.deploy, self.bare, self.clock, self.server = job, deploy, bare, clock, server
        self.env = {
            "GITHUB_SERVER_URL": server.server_url,
            "RECONCILER_MANIFESTS_TOKEN": DEPLOY_TOKEN,
        }

    def run(self, *args: str, expect: int = 0) -> str:
        """A run as on Actions; its records are pushed on top of what landed meanwhile (the
        blueprint half the run merged), as the workflow's push retries do."""
        job = self.job
        job.git("pull", "-q", "--no-rebase", "origin", "main")
        output = job.cli("run", *args, expect=expect, env=self.env)
        job.git("pull", "-q", "--no-rebase", "origin", "main")
        job.git("push", "-q", "origin", "HEAD:main")
        assert DEPLOY_TOKEN not in output
        return output

    def cli(self, *args: str) -> str:
        return self.job.cli(*args, env=self.env)

    def manifest(self, ref: str = "main") -> str:
        from tests.gitserver import git

        return git("show", f"{ref}:{MANIFEST}", cwd=self.bare)


@pytest.fixture
def two(tmp_path: Path) -> Iterator[TwoRepositories]:
    from tests.gitserver import http_git_server

    with http_git_server(tmp_path / "served", {DEPLOY_TOKEN: "deploy-bot"}) as server:
        deploy_bare = server.base / "org" / "deploy-config"
        deploy_bare.parent.mkdir(parents=True)
        init_bare_repo(deploy_bare, {MANIFEST: DEPLOYMENT})
        files = blueprint_files()
        files[FRONTEND] = files[FRONTEND].replace(
            "    scale_down_threshold: 40%\n",
            "    scale_down_threshold: 40%\n    coexistence: write_back\n"
            "  manifests:\n    format: plain\n    repository: org/deploy-config\n"
            f"    path: {MANIFEST}\n    sync_timeout: 10m\n",
            1,
        )
        bare = tmp_path / "remote.git"
        init_bare_repo(bare, files)
        clock = SimClock()
        with FakeGitHub(bare, clock=clock) as api:
            deploy = api.host(FakeGitHub(deploy_bare, "org", "deploy-config", clock=clock))
            api.add_user("reconciler-bot", BOT_TOKEN)
            api.add_user("deploy-bot", DEPLOY_TOKEN)
            api.add_user("alice", "alice-token")
            api.add_user("mallory", "mallory-token")
            api.add_team("acme", "devops-team", ["alice"])
            root = tmp_path / "checkout"
            subprocess.run(["git", "clone", "-q", str(bare), str(root)], check=True)
            pair = TwoRepositories(Job(root, api), deploy, deploy_bare, clock, server)
            pair.cli(
                "sim", "init", "--scenario", "seed", "--history", "10m", "--gitops-delay", "30s"
            )
            pair.cli("sim", "set", "todo-frontend", *DEMO_2)
            clock.follow(pair.job)
            yield pair
            assert api.internal_errors == []


def proposed_pair(two: TwoRepositories) -> tuple[dict, dict]:
    """The first run proposes: the blueprint's pull request and the manifests' one."""
    job = two.job
    (step,) = frontend(job, two.run("-s", "todo-frontend", "-o", "json"))["steps"]
    assert (step["operation"], step["outcome"]) == ("scale_beyond_limits", "proposed")
    (own,) = job.api.pulls()
    (other,) = two.deploy.pulls()
    return own, other


def test_with_the_manifests_in_another_repository_the_approval_is_a_pull_request_there(
    two: TwoRepositories,
) -> None:
    """The proposal is a pair: in org/deploy-config a pull request edits the manifest's value
    line, in the blueprint repository one raises the bound; each links the other. alice's
    merge of the manifests one is the approval and the change: the reconciler merges the
    blueprint half, records the manifests merge as the change (no commit of its own), and
    the simulated Argo CD, watching org/deploy-config, rolls it out."""
    job, deploy = two.job, two.deploy
    own, other = proposed_pair(two)
    assert own["head"]["ref"] == other["head"]["ref"] == BRANCH
    job.git("fetch", "-q", "origin", BRANCH)
    since = job.git("merge-base", own["base"]["sha"], own["head"]["sha"]).strip()
    assert job.git("diff", "--name-only", since, own["head"]["sha"]).split() == [FRONTEND]
    assert changed_lines(job, since, own["head"]["sha"], FRONTEND)[2:] == [
        "-    max_replicas: 5",
        "+    max_replicas: 6",
    ]
    from tests.gitserver import git

    diff = git("diff", "-U0", other["base"]["sha"], other["head"]["sha"], cwd=two.bare)
    assert [
        line
        for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ] == [
        "-  replicas: 5   # kept by the reconciler (write_back)",
        "+  replicas: 6   # kept by the reconciler (write_back)",
    ]
    assert "live in org/deploy-config" in own["body"]
    assert f"editing `{MANIFEST}`. Merging that one is the approval" in own["body"]
    # The two link each other.
    assert any(other["html_url"] in c["body"] for c in job.api.comments(own["number"]))
    assert any(own["html_url"] in c["body"] for c in deploy.comments(other["number"]))
    assert "replicas: 5 " in two.manifest()  # nothing changes before the merge

    two.clock.follow(job)
    merge = deploy.merge_pull(other["number"], "alice")
    two.run("-s", "todo-frontend")
    (granted,) = job.records("approval_granted")
    assert granted["details"]["merged_by"] == "alice"
    # The blueprint half follows, merged by the reconciler as proposed.
    merged_own = job.api.pull(own["number"])
    assert merged_own["merged"] and merged_own["merged_by"]["login"] == "reconciler-bot"

    (step,) = frontend(job, two.run("-s", "todo-frontend", "-o", "json"))["steps"]
    assert (step["operation"], step["outcome"]) == ("scale_within_limits", "executed")
    (executed,) = job.records("operation_executed")
    assert executed["links"]["commit"] == merge
    assert executed["links"]["approval"] == granted["links"]["approval"]
    assert executed["details"]["write_back"]["repository"] == "org/deploy-config"
    assert executed["details"]["write_back"]["after"] == {"replicas": 6}
    assert two.server.pushes == []  # the merge was the change: nothing pushed on top
    assert "replicas: 6 " in two.manifest()

    two.cli("sim", "advance", "75s")
    two.run("-s", "todo-frontend")
    assert sim_frontend(job) == (6, 6)
    (rolled,) = job.records("rolled_out")
    assert rolled["links"]["commit"] == merge


def test_a_merge_of_the_manifests_by_someone_who_may_not_approve_holds_the_service(
    two: TwoRepositories,
) -> None:
    job = two.job
    own, other = proposed_pair(two)
    two.clock.follow(job)
    two.deploy.merge_pull(other["number"], "mallory")
    service = frontend(job, two.run("-s", "todo-frontend", "-o", "json", expect=1))
    assert "held" in service["error"]
    (refused,) = job.records("approval_refused")
    assert "mallory" in refused["rationale"]
    assert job.records("operation_executed") == []
    # The blueprint half is not merged for a refused approval.
    assert job.api.pull(own["number"])["state"] == "open"


@pytest.mark.parametrize("closed", ["blueprint", "manifests"])
def test_closing_either_pull_request_withdraws_both(two: TwoRepositories, closed: str) -> None:
    job = two.job
    own, other = proposed_pair(two)
    if closed == "blueprint":
        job.api.close_pull(own["number"], "alice")
    else:
        two.deploy.close_pull(other["number"], "alice")
    two.run("-s", "todo-frontend")
    (rejected,) = job.records("approval_rejected")
    assert rejected["details"]["closed_by"] == "alice"
    assert job.api.pull(own["number"])["state"] == "closed"
    assert two.deploy.pull(other["number"])["state"] == "closed"
    assert not job.api.pull(own["number"])["merged"]
    assert not two.deploy.pull(other["number"])["merged"]


def test_the_blueprint_half_merged_alone_approves_nothing(two: TwoRepositories) -> None:
    """alice merges the blueprint's pull request but not the manifests': the bound alone
    would let the reconciler make the change itself, without the approval that merging the
    manifests is. It is refused, and the service held."""
    job = two.job
    own, other = proposed_pair(two)
    two.clock.follow(job)
    job.api.merge_pull(own["number"], "alice")
    service = frontend(job, two.run("-s", "todo-frontend", "-o", "json", expect=1))
    assert "held" in service["error"]
    (refused,) = job.records("approval_refused")
    assert "org/deploy-config:" + MANIFEST in refused["rationale"]
    assert job.records("operation_executed") == []
    assert "replicas: 5 " in two.manifest()
    assert two.deploy.pull(other["number"])["state"] == "open"


def test_an_approved_one_off_request_is_the_manifests_merge_beside_its_request_file(
    two: TwoRepositories,
) -> None:
    """A restricted one-off operation (a scale to 0) is proposed as a pair too: the request file in the blueprint repository, the value line in the manifests
    one. alice's merge of the manifests is the approval, once; the reconciler merges the
    request file and records the merge as the operation carried out."""
    job, deploy = two.job, two.deploy
    calm = ["cpu_utilization=40%", "memory_utilization=40%", "latency_p95=90ms"]
    two.cli("sim", "set", "todo-frontend", *calm, "error_rate=0.1%")
    output = two.cli("request", "todo-frontend", "scale", "--replicas", "0")
    assert "proposed" in output
    (own,) = job.api.pulls()
    (other,) = deploy.pulls()
    from tests.gitserver import git

    assert "replicas: 0   # kept" in git("show", f"{other['head']['sha']}:{MANIFEST}", cwd=two.bare)
    assert own["head"]["ref"] == other["head"]["ref"]

    two.clock.follow(job)
    merge = deploy.merge_pull(other["number"], "alice")
    two.run("-s", "todo-frontend")
    (granted,) = job.records("approval_granted")
    assert granted["details"]["merged_by"] == "alice"
    assert job.api.pull(own["number"])["merged"]
    two.run("-s", "todo-frontend")
    (executed,) = job.records("operation_executed")
    assert executed["links"]["commit"] == merge
    assert executed["details"]["write_back"]["after"] == {"replicas": 0}
    assert two.server.pushes == []


def test_an_expired_pair_is_closed_in_both_repositories(two: TwoRepositories) -> None:
    job = two.job
    own, other = proposed_pair(two)
    two.cli("sim", "advance", "2h")  # beyond the approval timeout (1h)
    two.clock.follow(job)
    two.run("-s", "todo-frontend")
    (expired,) = job.records("approval_expired")
    assert f"#{own['number']}" in expired["rationale"]
    assert job.api.pull(own["number"])["state"] == "closed"
    assert two.deploy.pull(other["number"])["state"] == "closed"
    # Still hot: a new pair is proposed in both repositories.
    assert [p["state"] for p in job.api.pulls()] == ["closed", "open"]
    assert [p["state"] for p in two.deploy.pulls()] == ["closed", "open"]
