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


def test_with_the_manifests_in_another_repository_the_approved_change_is_pushed_there(
    tmp_path: Path,
) -> None:
    """The manifests live in org/deploy-config. A pull request lives in one repository, so the
    proposal in the blueprint repository carries the blueprint's bound alone; an approver's
    merge approves the change, and the reconciler then pushes the manifest commit to the other
    repository with its own token, and records it there."""
    from tests.gitserver import git, http_git_server

    with http_git_server(tmp_path / "served", {DEPLOY_TOKEN: "deploy-bot"}) as server:
        seed = tmp_path / "deploy-config"
        (seed / "deploy" / "todo-frontend").mkdir(parents=True)
        (seed / MANIFEST).write_text(DEPLOYMENT)
        git("init", "-q", str(seed))
        git("add", "-A", cwd=seed)
        git("commit", "-q", "-m", "what Argo CD applies", cwd=seed)
        deploy = server.base / "org" / "deploy-config"
        deploy.parent.mkdir(parents=True)
        git("clone", "-q", "--bare", str(seed), str(deploy))

        files = blueprint_files()
        files[FRONTEND] = files[FRONTEND].replace(
            "    scale_down_threshold: 40%\n",
            "    scale_down_threshold: 40%\n    coexistence: write_back\n"
            "  manifests:\n    format: plain\n    repository: org/deploy-config\n"
            f"    path: {MANIFEST}\n",
            1,
        )
        bare = tmp_path / "remote.git"
        init_bare_repo(bare, files)
        clock = SimClock()
        env = {
            "GITHUB_SERVER_URL": server.server_url,
            "RECONCILER_MANIFESTS_TOKEN": DEPLOY_TOKEN,
        }
        with FakeGitHub(bare, clock=clock) as api:
            api.add_user("reconciler-bot", BOT_TOKEN)
            api.add_user("alice", "alice-token")
            api.add_team("acme", "devops-team", ["alice"])
            root = tmp_path / "checkout"
            subprocess.run(["git", "clone", "-q", str(bare), str(root)], check=True)
            job = Job(root, api)
            job.cli("sim", "init", "--scenario", "seed", "--history", "10m", env=env)
            job.cli("sim", "set", "todo-frontend", *DEMO_2, env=env)
            clock.follow(job)

            output = job.run("-s", "todo-frontend", "-o", "json", env=env)
            (step,) = frontend(job, output)["steps"]
            assert (step["operation"], step["outcome"]) == ("scale_beyond_limits", "proposed")
            (pull,) = api.pulls()
            job.git("fetch", "-q", "origin", BRANCH)
            changed = job.git(
                "diff", "--name-only", f"{pull['base']['sha']}...{pull['head']['sha']}"
            )
            assert changed.split() == [FRONTEND]
            assert server.pushes == []

            clock.follow(job)
            api.merge_pull(pull["number"], "alice")
            output = job.run("-s", "todo-frontend", "-o", "json", env=env)
            assert DEPLOY_TOKEN not in output
            (step,) = frontend(job, output)["steps"]
            assert step["outcome"] == "executed"
            assert server.pushes == ["deploy-bot"]
            pushed = git("rev-parse", "main", cwd=deploy).strip()
            assert "replicas: 6 " in git("show", f"main:{MANIFEST}", cwd=deploy)
            (executed,) = job.records("operation_executed")
            assert executed["links"]["commit"] == pushed
            assert executed["details"]["write_back"]["repository"] == "org/deploy-config"
            assert executed["details"]["authorized_by"]["reference"] == f"#{pull['number']}"
            assert api.internal_errors == []
