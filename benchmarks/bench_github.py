"""The GitHub API budget of a scheduled run: requests GitHub counts against the rate limit.

Target: with 50 open proposals that nothing changed, an idle run makes at most 5 requests that
GitHub counts (reading each proposal's pull request, head commit and file made it 150, and on
a 5-minute schedule 1,800 an hour, past the 1,000 an hour GitHub gives a repository's
GITHUB_TOKEN).

The job is the CLI with the GitHub forge, as the reconcile workflow runs it, against the fake
GitHub server (tests/fakes) on a bare repository with 50 services, each at its max_replicas and
hot, so each has a proposal open. The fake answers conditional requests as GitHub does (ETags
per token, 304s not counted) and counts what GitHub would count. Three idle runs are measured:
with the token that made the earlier run's answers (a personal access token), with a new token
as every Actions job has, and with a new token and the local cache lost.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.bench_blueprints import BLUEPRINT
from benchmarks.common import REPO, Row

SERVICES = 50
BOT = "reconciler-bot"


def _files() -> dict[str, str]:
    policies = (REPO / "blueprints" / "governance" / "policies.yaml").read_text()
    files = {
        ".gitignore": ".reconciler/\n",
        "blueprints/governance/policies.yaml": policies.replace(
            "max_new_per_run: 5", f"max_new_per_run: {SERVICES}"
        ),
    }
    for index in range(SERVICES):
        files[f"blueprints/svc-{index:04d}/blueprint.yaml"] = BLUEPRINT.format(
            index=index, minor=0, team=0, low=1, high=3, up=80, cooldown=60, latency=200
        )
    return files


class _Job:
    """A scheduled job's checkout and the CLI with the GitHub forge."""

    def __init__(self, root: Path, api_url: str) -> None:
        self.root = root
        self.env = {
            **os.environ,
            "RECONCILER_FORGE": "github",
            "GITHUB_REPOSITORY": "acme/service-blueprints",
            "GITHUB_API_URL": api_url,
            "RECONCILER_GIT_NAME": "reconciler",
            "RECONCILER_GIT_EMAIL": "reconciler@localhost",
        }

    def git(self, *args: str) -> None:
        identity = ["-c", "user.name=bench", "-c", "user.email=bench@localhost"]
        subprocess.run(["git", "-C", str(self.root), *identity, *args], check=True)

    def cli(self, token: str, *args: str) -> float:
        from benchmarks.common import RECONCILER

        start = time.perf_counter()
        subprocess.run(
            [*RECONCILER, "--repo", str(self.root), *args],
            env={**self.env, "GITHUB_TOKEN": token},
            check=False,
            capture_output=True,
        )
        return time.perf_counter() - start

    def run(self, token: str) -> float:
        self.git("pull", "-q", "--no-rebase", "origin", "main")
        seconds = self.cli(token, "run")
        self.git("push", "-q", "origin", "HEAD:main")
        return seconds


def _propose_all(root: Path, api_url: str, token: str) -> None:
    """The first run, in process: it opens the 50 proposals. GitHub asks for a second between
    writes once there are many, which would make it five minutes; the fake asks for none."""
    from reconciler.adapters.git_audit import GitAuditStore
    from reconciler.adapters.github_forge import GitHubForge
    from reconciler.adapters.simulated import SimulatedCluster
    from reconciler.cli.compose import DEFAULT_SIM_STATE, committed_fleet
    from reconciler.shell.cycle import CycleOptions, Ports, run_cycle

    fleet = committed_fleet(root)
    sim = SimulatedCluster.load(root / DEFAULT_SIM_STATE)
    audit = GitAuditStore(root, name="reconciler", email="reconciler@localhost")
    with GitHubForge(
        "acme/service-blueprints",
        token,
        base_url=api_url,
        write_interval=0,
        state_path=root / ".git" / "reconciler" / "github-cache.json",
    ) as forge:
        ports = Ports(cluster=sim, metrics=sim, audit=audit, clock=sim, forge=forge)
        report = run_cycle(fleet, ports, CycleOptions())
    failed = [r for r in report.services if r.error or not r.steps]
    if failed:
        raise RuntimeError(f"{failed[0].service}: {failed[0].error or failed[0].notes}")


def run() -> list[Row]:
    from reconciler.adapters.simulated import SimulatedCluster
    from reconciler.cli.compose import DEFAULT_SIM_STATE
    from tests.fakes.github_api import FakeGitHub, init_bare_repo

    with tempfile.TemporaryDirectory() as scratch:
        bare = Path(scratch) / "remote.git"
        init_bare_repo(bare, _files())
        with FakeGitHub(bare) as api:
            api.add_user(BOT, "ghp_first-token")
            root = Path(scratch) / "checkout"
            subprocess.run(["git", "clone", "-q", str(bare), str(root)], check=True)
            job = _Job(root, api.url)
            job.cli("ghp_first-token", "sim", "init")
            sim = SimulatedCluster.load(root / DEFAULT_SIM_STATE)
            for deployment in sim.deployments.values():
                hot = {"replicas": "3", "cpu_utilization": "95%", "memory_utilization": "90%"}
                sim.set(deployment, hot)
            sim.save()
            _propose_all(root, api.url, "ghp_first-token")
            job.git("push", "-q", "origin", "HEAD:main")
            opened = [p for p in api.pulls() if p["state"] == "open"]
            if len(opened) != SERVICES:
                raise RuntimeError(f"{len(opened)} proposals open, not {SERVICES}")
            job.run("ghp_first-token")  # the first idle run: keeps the listing with 50 in it
            rows = []
            cases = [
                ("the same token", "ghp_first-token", False),
                ("a new token, as every Actions job", "ghs_second-token", False),
                ("a new token, the local cache lost", "ghs_third-token", True),
            ]
            for label, token, lose_cache in cases:
                api.add_user(BOT, token)
                if lose_cache:
                    (root / ".git" / "reconciler" / "github-cache.json").unlink()
                api.reset_log()
                seconds = job.run(token)
                if api.writes():
                    raise RuntimeError(f"an idle run wrote to GitHub: {api.writes()[0]}")
                counted = api.counted()
                rows.append(
                    Row(
                        f"github: idle run, {SERVICES} open proposals, {label}",
                        counted,
                        "",
                        "<= 5",
                        counted <= 5,
                        f"counted requests; {api.count()} sent, {api.not_modified()} answered "
                        f"304; {seconds:.2f} s whole process",
                    )
                )
    return rows
