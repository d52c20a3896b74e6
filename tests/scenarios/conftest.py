"""A scratch blueprint repository in real git, driven through the CLI as a user would."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pygit2
import pytest
from click.testing import CliRunner, Result

from tests.conftest import REPO

if TYPE_CHECKING:
    from tests.scenarios.github_job import Job

SIGNATURE = pygit2.Signature("Test Setup", "setup@example.invalid", 1770700000, 0)

#: `sim set todo-frontend` values of seed demo 2: at max_replicas and still hot, so the run
#: proposes raising the limit.
DEMO_2 = [
    "replicas=5",
    "rps=450",
    "cpu_utilization=92%",
    "memory_utilization=85%",
    "latency_p95=280ms",
    "error_rate=1.2%",
]
#: The checks the seed blueprint's verification runs after a change.
SEED_CHECKS = [
    "replica_count",
    "pods_ready",
    "cpu_utilization",
    "memory_utilization",
    "latency_p95",
    "error_rate",
]


def init_repo(root: Path, blueprints: Path = REPO / "blueprints") -> pygit2.Repository:
    shutil.copytree(blueprints, root / "blueprints", symlinks=True)
    (root / ".gitignore").write_text(".reconciler/\n")
    repo = pygit2.init_repository(str(root), initial_head="main")
    repo.index.add_all()
    repo.index.write()
    repo.create_commit(
        "HEAD", SIGNATURE, SIGNATURE, "Initial blueprints", repo.index.write_tree(), []
    )
    return repo


#: Service web (deployment shop/web), scaled on CPU alone: the metrics API gives CPU, so a
#: run on the fake Kubernetes API needs no Prometheus.
WEB_BLUEPRINT = """\
metadata:
  name: web
  namespace: shop
  version: 1.0.0
spec:
  scaling:
    min_replicas: 1
    max_replicas: 5
    scale_up_threshold: 80%
    scale_down_threshold: 40%
    metrics:
      - {type: cpu, weight: 1.0}
"""


def web_blueprint(**scaling: str) -> str:
    """WEB_BLUEPRINT with more settings under spec.scaling (`coexistence="exclusive"`, say)."""
    extra = "".join(f"    {key}: {value}\n" for key, value in scaling.items())
    return WEB_BLUEPRINT.replace("    metrics:\n", f"{extra}    metrics:\n")


def web_fleet(tmp_path: Path, blueprint: str = WEB_BLUEPRINT) -> Scenario:
    """A blueprint repository (tmp_path/fleet) with the shipped global policies and one
    service, web, whose blueprint is `blueprint`."""
    source = tmp_path / "source"
    shutil.copytree(REPO / "blueprints", source, symlinks=True)
    for service in ("todo-frontend", "todo-backend"):
        shutil.rmtree(source / service)
    (source / "web").mkdir()
    (source / "web" / "blueprint.yaml").write_text(blueprint)
    root = tmp_path / "fleet"
    root.mkdir()
    init_repo(root, source)
    return Scenario(root)


@dataclass
class Scenario:
    root: Path

    def cli(self, *args: str, expect: int | None = 0) -> Result:
        from reconciler.cli import main

        result = CliRunner().invoke(main, ["--repo", str(self.root), *args], catch_exceptions=False)
        if expect is not None:
            assert result.exit_code == expect, result.output
        return result

    def json(self, *args: str, expect: int | None = 0) -> object:
        return json.loads(self.cli(*args, "-o", "json", expect=expect).output)

    @property
    def repo(self) -> pygit2.Repository:
        return pygit2.Repository(str(self.root))

    def commits(self) -> list[pygit2.Commit]:
        repo = self.repo
        return list(repo.walk(repo.head.target, pygit2.enums.SortMode.TOPOLOGICAL))

    def subjects(self) -> list[str]:
        return [c.message.splitlines()[0] for c in self.commits()]

    def records(self, service: str | None = None, event: str | None = None) -> list[dict[str, Any]]:
        args = ["audit"]
        if service:
            args += ["--service", service]
        if event:
            args += ["--event", event]
        return self.json(*args)["records"]  # type: ignore[index,no-any-return]

    def write_blueprint(self, service: str, text: str, message: str = "edit blueprint") -> None:
        self.write(f"blueprints/{service}/blueprint.yaml", text, message)

    def write(self, relative: str, text: str, message: str = "edit") -> None:
        """Change a file of the repository and commit it, as a person would."""
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        self.commit_all(message)

    def commit_all(self, message: str = "edit") -> str:
        """Commit every change of the working tree, deletions included (`git commit -a` plus
        new files), as a person would before a cycle judges under it; returns the commit."""
        repo = self.repo
        index = repo.index
        index.add_all()
        for entry in list(index):
            if not os.path.lexists(self.root / entry.path):
                index.remove(entry.path)
        index.write()
        parent = repo.head.target
        return str(
            repo.create_commit("HEAD", SIGNATURE, SIGNATURE, message, index.write_tree(), [parent])
        )


@pytest.fixture
def scenario(tmp_path: Path) -> Iterator[Scenario]:
    root = tmp_path / "fleet"
    root.mkdir()
    init_repo(root)
    yield Scenario(root)


@pytest.fixture
def job(tmp_path: Path) -> Iterator[Job]:
    """Seed demo 2 as a scheduled job on GitHub (the fake), from a fresh checkout."""
    from tests.scenarios.github_job import seed_demo_2_job  # it imports this module

    with seed_demo_2_job(tmp_path) as started:
        yield started
