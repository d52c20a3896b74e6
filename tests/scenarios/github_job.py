"""A scheduled job on GitHub: a checkout of a bare repository that the fake GitHub serves, and
the CLI with the GitHub forge, as the reconcile workflow runs it.

Why it exists: the GitHub scenarios (seed demo 2, merges in the middle of a run, reviews) all
start from this job; the `job` fixture in conftest.py builds it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from tests.conftest import REPO
from tests.fakes.github_api import FakeGitHub, init_bare_repo
from tests.scenarios.conftest import DEMO_2

BOT_TOKEN = "ghs_bot_token_never_printed"


def blueprint_files(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The shipped blueprints (and .gitignore) as a bare repository's first commit, plus `extra`."""
    files = {".gitignore": ".reconciler/\n"}
    for path in (REPO / "blueprints").rglob("*"):
        if path.is_file() and not path.is_symlink():
            files[str(path.relative_to(REPO))] = path.read_text()
    return files | (extra or {})


class Job:
    """A scheduled job's view: a checkout of the repository, and the CLI with the GitHub forge."""

    def __init__(self, root: Path, api: FakeGitHub) -> None:
        self.root = root
        self.api = api

    def git(self, *args: str) -> str:
        identity = ["-c", "user.name=reconciler", "-c", "user.email=reconciler@localhost"]
        result = subprocess.run(
            ["git", "-C", str(self.root), *identity, *args],
            check=True,
            capture_output=True,
            text=True,
        )
        return result.stdout

    def cli(self, *args: str, expect: int = 0, env: dict[str, str] | None = None) -> str:
        from reconciler.cli import main

        env = {
            "GITHUB_TOKEN": BOT_TOKEN,
            "RECONCILER_FORGE": "github",
            "GITHUB_REPOSITORY": "acme/service-blueprints",
            "GITHUB_API_URL": self.api.url,
            **(env or {}),
        }
        result = CliRunner().invoke(
            main, ["--repo", str(self.root), *args], env=env, catch_exceptions=False
        )
        assert result.exit_code == expect, result.output
        assert BOT_TOKEN not in result.output
        return result.output

    def run(self, *args: str, expect: int = 0, env: dict[str, str] | None = None) -> str:
        """A run as on Actions: start from the remote's main, reconcile, push the records."""
        self.git("pull", "-q", "--no-rebase", "origin", "main")
        output = self.cli("run", *args, expect=expect, env=env)
        self.git("push", "-q", "origin", "HEAD:main")
        return output

    def records(self, event: str) -> list[dict[str, Any]]:
        import json

        return json.loads(self.cli("audit", "-e", event, "-o", "json"))["records"]  # type: ignore[no-any-return]


@contextmanager
def seed_demo_2_job(tmp_path: Path) -> Iterator[Job]:
    """A job on the shipped blueprints, the simulation in seed demo 2 (todo-frontend at its
    max_replicas and hot); alice is in acme/devops-team, mallory in no team."""
    bare = tmp_path / "remote.git"
    init_bare_repo(bare, blueprint_files())
    with FakeGitHub(bare) as api:
        api.add_user("reconciler-bot", BOT_TOKEN)
        api.add_user("alice", "alice-token")
        api.add_user("mallory", "mallory-token")
        api.add_team("acme", "devops-team", ["alice"])
        root = tmp_path / "checkout"
        subprocess.run(["git", "clone", "-q", str(bare), str(root)], check=True)
        job = Job(root, api)
        job.cli("sim", "init", "--scenario", "seed", "--history", "10m")
        job.cli("sim", "set", "todo-frontend", *DEMO_2)
        yield job
