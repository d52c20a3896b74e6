"""RepositoryLock: one writer per repository, through `fcntl.flock` on a file in its git directory.

Everything that writes the audit trail, the cluster or the simulated state holds it, so two
reconcilers on one checkout take turns instead of racing (both passing a cooldown, one
overwriting the other's simulated state, both locking the same git ref). `flock` is the
mechanism because the kernel releases it when the holder dies, however it dies: a killed run
never blocks the next one, and no stale-lock rule is needed for this lock itself.

The holder writes who it is (pid, host, command, since when) into the file, so a writer that
gives up can name it; a clean release empties the file. A file that still names a holder when
the lock is free was left by a holder that died: `hold` returns it, as the evidence that the
previous writer was interrupted.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from reconciler.core.errors import BusyError, ConfigError

__all__ = ["Holder", "RepositoryLock"]

#: How often a waiting writer tries again: often enough that a turn is not lost for long,
#: rarely enough that waiting costs nothing.
POLL_SECONDS = 0.05


@dataclass(frozen=True, kw_only=True)
class Holder:
    """Who holds (or held) the lock, as its holder wrote it into the lock file."""

    pid: int
    host: str
    command: str
    since: datetime

    def describe(self) -> str:
        elsewhere = self.host != socket.gethostname()
        where = f"pid {self.pid}" + (f" on {self.host}" if elsewhere else "")
        return f"`{self.command}` ({where}) since {self.since:%Y-%m-%d %H:%M:%S}Z"

    def dumps(self) -> str:
        since = self.since.astimezone(UTC).isoformat().replace("+00:00", "Z")
        data = {"pid": self.pid, "host": self.host, "command": self.command, "since": since}
        return json.dumps(data) + "\n"

    @classmethod
    def loads(cls, text: str) -> Holder | None:
        """The holder a lock file names; None for an empty file or one that does not parse
        (a holder in the middle of writing it, or a file someone edited)."""
        try:
            data = json.loads(text)
            return cls(
                pid=int(data["pid"]),
                host=str(data["host"]),
                command=str(data["command"]),
                since=datetime.fromisoformat(str(data["since"]).replace("Z", "+00:00")),
            )
        except (ValueError, KeyError, TypeError):
            return None


class RepositoryLock:
    """An exclusive lock on `path`, waited for at most `timeout` seconds."""

    def __init__(
        self,
        path: Path,
        *,
        timeout: float,
        on_wait: Callable[[Holder | None], None] | None = None,
    ) -> None:
        self.path = path
        self.timeout = timeout
        self._on_wait = on_wait

    @contextlib.contextmanager
    def hold(self, command: str) -> Iterator[Holder | None]:
        """Hold the lock while the block runs; yields the holder an earlier writer left
        behind when it died holding the lock (None after a clean release)."""
        fd = self._acquire()
        try:
            left = Holder.loads(_read(fd))
            me = Holder(
                pid=os.getpid(),
                host=socket.gethostname(),
                command=command,
                since=datetime.now(UTC),
            )
            os.ftruncate(fd, 0)
            os.pwrite(fd, me.dumps().encode(), 0)
            yield left
        finally:
            # Empty the file before letting go: a file that names a holder while the lock is
            # free then always means that holder died.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)  # closing the last descriptor releases the flock

    def _acquire(self) -> int:
        deadline = time.monotonic() + self.timeout
        told = False
        while True:
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = Holder.loads(_read(fd))
                os.close(fd)
                if time.monotonic() >= deadline:
                    raise self._busy(holder) from None
                if not told and self._on_wait is not None:
                    self._on_wait(holder)
                    told = True
                time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
                continue
            except BaseException:
                os.close(fd)
                raise
            if _same_file(fd, self.path):
                return fd
            # Someone deleted or replaced the file while this process waited: the lock taken
            # is on a file nobody else will open. Take the one at the path instead.
            os.close(fd)

    def _open(self) -> int:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise ConfigError(
                f"cannot open the repository lock {self.path}: {error.strerror or error}",
                hint="the reconciler needs write access to the repository's git directory",
            ) from error

    def _busy(self, holder: Holder | None) -> BusyError:
        who = holder.describe() if holder is not None else "another process"
        waited = f"{self.timeout:g}s"
        return BusyError(
            f"another reconciler is writing to this repository: {who}; waited {waited}",
            hint="try again when it has finished (`run --wait` holds the repository until its "
            "changes are verified), or wait longer with --lock-timeout 5m "
            "(RECONCILER_LOCK_TIMEOUT)",
        )


def _read(fd: int) -> str:
    try:
        return os.pread(fd, 4096, 0).decode("utf-8", errors="replace")
    except OSError:
        return ""


def _same_file(fd: int, path: Path) -> bool:
    try:
        here, there = os.fstat(fd), path.stat()
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)
