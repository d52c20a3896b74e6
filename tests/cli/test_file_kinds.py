"""Files that are not files: a pipe, a folder, a link (to a device, to nowhere, in a loop) or an
unreadable folder where a blueprint should be is an error for that service alone, named with
what it is, in `validate`, `run` and `sim init`; nothing blocks, nothing prints a traceback, and
the healthy services load (and, in `run`, still scale)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pygit2
import pytest

from tests.conftest import REPO, require_tool
from tests.scenarios.conftest import Scenario, init_repo

WEB = "blueprints/web/blueprint.yaml"


def _web_text() -> str:
    return (
        (REPO / "blueprints/todo-frontend/blueprint.yaml")
        .read_text()
        .replace("todo-frontend", "web")
    )


def _fifo(root: Path) -> None:
    os.mkfifo(root / WEB)


def _directory(root: Path) -> None:
    (root / WEB).mkdir()
    (root / WEB / "spec.yaml").write_text(_web_text())  # git keeps a folder with a file


def _device_link(root: Path) -> None:
    (root / WEB).symlink_to("/dev/zero")


def _dangling_link(root: Path) -> None:
    (root / WEB).symlink_to("gone.yaml")


def _loop(root: Path) -> None:
    (root / WEB).symlink_to("blueprint.yaml")  # itself


def _folder_loop(root: Path) -> None:
    (root / "blueprints/web").rmdir()
    (root / "blueprints/web").symlink_to("web")


def _unreadable(root: Path) -> None:
    (root / WEB).write_text(_web_text())
    (root / "blueprints/web").chmod(0)


#: Each kind: how to make it, the problem `validate` prints, and whether git can commit it
#: (a pipe and an unreadable folder exist only in a working tree).
KINDS: dict[str, tuple[Callable[[Path], None], str, bool]] = {
    "fifo": (_fifo, f"{WEB}: is a named pipe (FIFO), not a regular file, so it is not read", False),
    "directory": (
        _directory,
        f"{WEB}: is a directory, not a regular file, so it is not read",
        True,
    ),
    "link to a device": (
        _device_link,
        f"{WEB}: is a symbolic link (to /dev/zero), not a regular file, so it is not read",
        True,
    ),
    "dangling link": (
        _dangling_link,
        f"{WEB}: is a symbolic link (to gone.yaml), not a regular file, so it is not read",
        True,
    ),
    "link loop": (
        _loop,
        f"{WEB}: is a symbolic link (to blueprint.yaml), not a regular file, so it is not read",
        True,
    ),
    "folder link loop": (
        _folder_loop,
        "blueprints/web: is a symbolic link (to web), not a folder, so no blueprint is read from it",
        True,
    ),
    "unreadable folder": (
        _unreadable,
        "blueprints/web: cannot be read: Permission denied (fix: check the path and its "
        "permissions)",
        False,
    ),
}


@pytest.fixture
def fleet() -> Iterator[Path]:
    """A repository of the shipped blueprints plus a folder for service web, in a directory
    anyone may enter: the unreadable case runs as an unprivileged user when tests run as root
    (root reads through any permission)."""
    scratch = Path(tempfile.mkdtemp(prefix="kinds-"))
    scratch.chmod(0o755)
    root = scratch / "fleet"
    root.mkdir()
    init_repo(root)
    (root / "blueprints/web").mkdir()
    yield root
    for folder, _dirs, _files in os.walk(scratch):
        Path(folder).chmod(0o755)
    shutil.rmtree(scratch)


def _cli(root: Path, *args: str, unprivileged: bool = False) -> tuple[int, str]:
    """The CLI in its own process (a pipe must not block the test run); as an unprivileged
    user when asked and running as root, through util-linux's `setpriv`."""
    prefix: list[str] = []
    if unprivileged and os.geteuid() == 0:
        setpriv = require_tool("setpriv", "apt-get install util-linux")
        prefix = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
        for folder, _dirs, _files in os.walk(root):
            if folder != str(root / "blueprints/web"):
                Path(folder).chmod(0o777)  # `sim init` writes its state file as that user
    result = subprocess.run(
        [*prefix, sys.executable, "-m", "reconciler", "--repo", str(root), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO,
    )
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    return result.returncode, output


@pytest.mark.parametrize("kind", list(KINDS))
def test_validate_names_the_kind_and_fails_that_service_only(fleet: Path, kind: str) -> None:
    make, problem, _committed = KINDS[kind]
    make(fleet)
    code, output = _cli(fleet, "validate", unprivileged=True)
    assert code == 1, output
    assert problem in output
    assert "2 valid, 1 invalid; 1 error" in output


@pytest.mark.parametrize("kind", list(KINDS))
def test_sim_init_creates_the_healthy_deployments(fleet: Path, kind: str) -> None:
    make, _problem, _committed = KINDS[kind]
    make(fleet)
    code, output = _cli(fleet, "sim", "init", "--scenario", "seed", unprivileged=True)
    assert code == 0, output
    assert "simulated cluster with 2 deployments" in output


@pytest.mark.parametrize("kind", list(KINDS))
def test_run_stops_only_that_service_and_the_healthy_one_scales(fleet: Path, kind: str) -> None:
    make, _problem, committed = KINDS[kind]
    scenario = Scenario(fleet)
    scenario.cli("sim", "init", "--scenario", "seed")
    make(fleet)
    if committed:  # a cycle judges under HEAD: commit what stands where the blueprint should
        repo = pygit2.Repository(str(fleet))
        repo.index.add_all()
        repo.index.write()
        parent = repo.head.target
        signature = pygit2.Signature("p", "p@example.invalid", 1770700100, 0)
        repo.create_commit("HEAD", signature, signature, kind, repo.index.write_tree(), [parent])
    code, output = _cli(fleet, "run")
    rows = {
        line.split()[0]: line for line in output.splitlines() if line.startswith(("todo-", "web"))
    }
    assert "scale_up 2→3" in rows["todo-frontend"] and "executed" in rows["todo-frontend"]
    if committed:  # the commit holds what stands in the blueprint's place: web's row says so
        assert code == 1, output
        assert "blueprint does not validate: run `reconciler --repo " in rows["web"]
        assert " validate blueprints/web" in rows["web"]
    else:  # git keeps no pipe, and nobody can commit what they cannot read
        assert code == 0, output
        assert "web" not in rows


def test_a_pull_request_that_makes_a_blueprint_a_link_is_invalid(tmp_path: Path) -> None:
    """check-change reads the same commit listing as a cycle: a blueprint turned into a link
    to a file outside blueprints/ (past its approvers' review) fails the check."""
    scenario = Scenario(tmp_path)
    init_repo(tmp_path)
    base = str(scenario.repo.head.target)
    frontend = tmp_path / "blueprints/todo-frontend/blueprint.yaml"
    frontend.rename(tmp_path / "elsewhere.yaml")
    frontend.symlink_to("../../elsewhere.yaml")
    scenario.commit_all("link the blueprint")
    result = scenario.cli("check-change", base, "HEAD", expect=1)
    assert (
        "  is a symbolic link (to ../../elsewhere.yaml), not a regular file, so it is not read"
    ) in result.output
    assert result.output.rstrip().endswith("1 invalid; the check fails")
