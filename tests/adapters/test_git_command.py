"""GitCommand, the one runner of the git command line: a missing git, a command that hangs on
the network and a failing command each become the caller's error, with what was being done,
its hint, and no credentials. Real git throughout; the hang is a loopback server that accepts
the connection and never answers."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.adapters.git_command import GitCommand
from reconciler.core.errors import AuditError, ClusterError, ReconcilerError
from tests.gitserver import git

ERRORS = [AuditError, ClusterError]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git("init", "-q", cwd=root)
    return root


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not done.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    done.set()
    thread.join(timeout=5)
    for connection in held:
        connection.close()
    listener.close()


@pytest.mark.parametrize("error", ERRORS)
def test_a_missing_git_is_the_callers_error_with_the_install_hint(
    repo: Path, error: type[ReconcilerError]
) -> None:
    command = GitCommand(repo, error=error, needs="the records cannot be pushed")
    empty = repo.parent / "no-git-here"
    empty.mkdir()
    with pytest.raises(error) as raised:
        command.run("status", doing="checking", env={"PATH": str(empty)})
    assert str(raised.value) == "git is not installed, so the records cannot be pushed"
    assert raised.value.hint == "install git (the job's checkout has it on GitHub Actions)"


@pytest.mark.parametrize("error", ERRORS)
def test_a_command_that_hangs_on_the_network_times_out_as_the_callers_error(
    repo: Path, silent_server: int, error: type[ReconcilerError]
) -> None:
    command = GitCommand(repo, error=error, needs="nothing", timeout=1)
    url = f"git://127.0.0.1:{silent_server}/repo.git"
    with pytest.raises(error) as raised:
        command.run("ls-remote", url, doing=f"reading {url}")
    assert str(raised.value) == f"reading {url}: git did not finish within 1 s"
    assert raised.value.hint == "check the remote"


@pytest.mark.parametrize("error", ERRORS)
def test_a_failing_command_says_what_was_done_gits_last_line_and_the_hint(
    repo: Path, error: type[ReconcilerError]
) -> None:
    command = GitCommand(repo, error=error, needs="nothing")
    with pytest.raises(error) as raised:
        command.run("rev-parse", "--verify", "no-such-branch", doing="finding the branch", hint="x")
    assert str(raised.value) == "finding the branch: fatal: Needed a single revision"
    assert raised.value.hint == "x"


def test_a_token_in_gits_output_never_reaches_the_message(repo: Path) -> None:
    command = GitCommand(repo, error=AuditError, needs="nothing")
    url = "https://x-access-token:ghs_secret@example.invalid/o/r.git"
    with pytest.raises(AuditError) as raised:
        command.run("checkout", url, doing="checking out")
    assert "ghs_secret" not in str(raised.value)
    assert "https://***@example.invalid/o/r.git" in str(raised.value)


def test_a_hint_that_costs_a_command_is_asked_only_when_one_fails(repo: Path) -> None:
    asked: list[str] = []

    def hint() -> str:
        asked.append("asked")
        return "look at the lock"

    command = GitCommand(repo, error=AuditError, needs="nothing")
    done = command.run("rev-parse", "--absolute-git-dir", doing="finding .git", hint=hint)
    assert Path(done.stdout.strip()) == repo / ".git" and asked == []
    with pytest.raises(AuditError) as raised:
        command.run("rev-parse", "--verify", "nothing-here", doing="finding it", hint=hint)
    assert raised.value.hint == "look at the lock" and asked == ["asked"]


def test_without_check_a_failure_is_returned_for_the_caller_to_read(repo: Path) -> None:
    command = GitCommand(repo, error=ClusterError, needs="nothing")
    result = command.run("rev-parse", "--verify", "nothing-here", doing="finding", check=False)
    assert result.returncode != 0 and "Needed a single revision" in result.stderr


def test_the_environment_given_is_the_one_git_runs_with(repo: Path) -> None:
    command = GitCommand(repo, error=ClusterError, needs="nothing")
    env = {**os.environ, "GIT_CONFIG_COUNT": "1"}
    env |= {"GIT_CONFIG_KEY_0": "reconciler.probe", "GIT_CONFIG_VALUE_0": "seen"}
    result = command.run("config", "reconciler.probe", doing="reading", env=env)
    assert result.stdout.strip() == "seen"
