"""RepositoryLock: one writer at a time, across threads and real processes, and a dead holder
never blocks the next one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from reconciler.adapters.repo_lock import Holder, RepositoryLock
from reconciler.core.errors import BusyError, ExitCode

#: A process that takes the lock at argv[1] as `reconciler run --wait`, says so, and keeps it
#: until it is killed.
HOLDER = """
import sys, time
from pathlib import Path
from reconciler.adapters.repo_lock import RepositoryLock
with RepositoryLock(Path(sys.argv[1]), timeout=5).hold("reconciler run --wait"):
    print("held", flush=True)
    time.sleep(60)
"""


@contextmanager
def holder_process(path: Path) -> Iterator[subprocess.Popen[str]]:
    """A real process holding the lock at `path`; killed (SIGKILL) when the block ends."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "held"
        yield process
    finally:
        process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()


def test_a_second_writer_gives_up_after_its_timeout_naming_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "git" / "reconciler.lock"
    with holder_process(path) as holder:
        started = time.monotonic()
        with pytest.raises(BusyError) as caught, RepositoryLock(path, timeout=0.3).hold("x"):
            pytest.fail("took a lock another process holds")
        waited = time.monotonic() - started
    error = caught.value
    assert error.exit_code is ExitCode.UNAVAILABLE
    assert str(error).startswith("another reconciler is writing to this repository: ")
    assert f"pid {holder.pid}" in str(error) and "`reconciler run --wait`" in str(error)
    assert "--lock-timeout" in error.hint
    assert 0.3 <= waited < 3


def test_a_killed_holder_does_not_block_and_is_reported_as_interrupted(tmp_path: Path) -> None:
    path = tmp_path / "reconciler.lock"
    with holder_process(path) as holder:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    # No waiting at all: the kernel released the dead holder's lock.
    with RepositoryLock(path, timeout=0).hold("reconciler request") as left:
        assert left is not None
        assert (left.pid, left.command) == (holder.pid, "reconciler run --wait")
        mine = Holder.loads(path.read_text())
        assert mine is not None and (mine.pid, mine.command) == (os.getpid(), "reconciler request")
    assert path.read_text() == ""  # a clean release leaves no holder behind
    with RepositoryLock(path, timeout=0).hold("again") as left:
        assert left is None


def test_a_waiting_writer_gets_its_turn_when_the_holder_finishes(tmp_path: Path) -> None:
    path = tmp_path / "reconciler.lock"
    order: list[str] = []
    told: list[Holder | None] = []
    first = RepositoryLock(path, timeout=0)
    with first.hold("reconciler run"):

        def second() -> None:
            lock = RepositoryLock(path, timeout=10, on_wait=told.append)
            with lock.hold("reconciler sim set"):
                order.append("second")

        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.3)
        order.append("first done")
    thread.join(10)
    assert order == ["first done", "second"]
    assert len(told) == 1 and told[0] is not None and told[0].command == "reconciler run"


def test_only_one_of_many_concurrent_holders_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "reconciler.lock"
    inside = 0
    most = 0
    guard = threading.Lock()

    def work() -> None:
        nonlocal inside, most
        with RepositoryLock(path, timeout=20).hold("w"):
            with guard:
                inside += 1
                most = max(most, inside)
            time.sleep(0.02)
            with guard:
                inside -= 1

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert most == 1
