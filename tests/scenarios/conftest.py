"""A scratch blueprint repository in real git, driven through the CLI as a user would."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pygit2
import pytest
from click.testing import CliRunner, Result

from tests.conftest import REPO

SIGNATURE = pygit2.Signature("Test Setup", "setup@example.invalid", 1770700000, 0)


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
        return self.json(*args)  # type: ignore[return-value]

    def write_blueprint(self, service: str, text: str, message: str = "edit blueprint") -> None:
        self.write(f"blueprints/{service}/blueprint.yaml", text, message)

    def write(self, relative: str, text: str, message: str = "edit") -> None:
        """Change a file of the repository and commit it, as a person would."""
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        repo = self.repo
        repo.index.add_all()
        repo.index.write()
        parent = repo.head.target
        repo.create_commit("HEAD", SIGNATURE, SIGNATURE, message, repo.index.write_tree(), [parent])


@pytest.fixture
def scenario(tmp_path: Path) -> Iterator[Scenario]:
    root = tmp_path / "fleet"
    root.mkdir()
    init_repo(root)
    yield Scenario(root)
