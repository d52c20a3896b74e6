"""LocalWorktreeBlobs: which working-tree blueprint files were last found to hold the blob HEAD
has, kept by the file's stat, so a run does not read and hash an unchanged file again.

A cycle judges under HEAD and warns about edits it leaves aside, which meant reading and
hashing every blueprint of the working tree on every run (a thousand files at a thousand
services). Git keeps the same shortcut in its index: a file whose size, times, inode and
device are those it had when it was hashed still has that content. Here the shortcut is kept
apart from git's index (which this code does not parse), in `.git/reconciler/worktree.stat`:
for each path, the stat it had and the blob id its content matched.

It is correct when the stat lies in the ways it can:

- Any write to a file sets its change time (ctime) to the current time, and nothing a user
  runs can set it back (`touch -d` and `rsync -t` set the modification time only), so a file
  with the same ctime, mtime, size, inode and device has not been written since.
- A file's times have the resolution of its filesystem's clock (a tick of a few milliseconds,
  a second or two on some filesystems): a file written again within the tick it was hashed in
  keeps the same times (git's "racy" case). So an entry is kept only for a file whose mtime
  and ctime are more than `RACY_SECONDS` older than the moment this run started, before it
  read anything; a younger file is hashed again on every run until it is old enough.
- The blob id an entry names is the one the content matched; a HEAD with another blob id at
  that path is compared by content again.

Like the other local caches it can be deleted at any time, and a run without it (a fresh
clone, a CI job) only hashes more. A file that does not read is no cache.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import time
from pathlib import Path

from reconciler.adapters.local_state import find_git_dir

__all__ = ["RACY_SECONDS", "LocalWorktreeBlobs"]

CACHE_FILE = Path("reconciler") / "worktree.stat"
#: The layout of the file; another one is ignored.
LAYOUT = 1
#: How much older than the run a file's times must be for its entry to be kept: longer than
#: the coarsest timestamp resolution of a common filesystem (FAT's two seconds).
RACY_SECONDS = 3

#: What a file's stat says of it: size, mtime and ctime in nanoseconds, inode, device.
Stat = tuple[int, int, int, int, int]


def stat_of(result: os.stat_result) -> Stat:
    return (
        result.st_size,
        result.st_mtime_ns,
        result.st_ctime_ns,
        result.st_ino,
        result.st_dev,
    )


class LocalWorktreeBlobs:
    """The WorktreeBlobs port over one file under the git directory of `start`."""

    def __init__(self, start: Path, *, now_ns: int | None = None) -> None:
        git_dir = find_git_dir(start)
        self.path = None if git_dir is None else git_dir / CACHE_FILE
        #: Files younger than this (ns since the epoch) are never kept: see RACY_SECONDS.
        #: `now_ns` is when the run started, before it read a file (the wall clock).
        started = time.time_ns() if now_ns is None else now_ns
        self._before = started - RACY_SECONDS * 1_000_000_000
        self._entries: dict[str, tuple[Stat, str]] | None = None
        self._changed = False

    def _load(self) -> dict[str, tuple[Stat, str]]:
        if self._entries is None:
            self._entries = {}
            if self.path is not None:
                try:
                    layout, entries = marshal.loads(self.path.read_bytes())
                    if layout == LAYOUT and isinstance(entries, dict):
                        self._entries = entries
                except (OSError, ValueError, EOFError, TypeError):
                    pass
        return self._entries

    def matches(self, path: str, stat: os.stat_result, blob: str) -> bool:
        """Whether the file at `path`, with this stat, is known to hold blob `blob`."""
        found = self._load().get(path)
        return found is not None and found[1] == blob and tuple(found[0]) == stat_of(stat)

    def learn(self, path: str, stat: os.stat_result, blob: str) -> None:
        """The file at `path`, with this stat taken before it was read, holds blob `blob`;
        kept only when its times are old enough to be trusted (see the module's note)."""
        entries = self._load()
        if max(stat.st_mtime_ns, stat.st_ctime_ns) >= self._before:
            if entries.pop(path, None) is not None:
                self._changed = True
            return
        entry = (stat_of(stat), blob)
        if entries.get(path) != entry:
            entries[path] = entry
            self._changed = True

    def forget(self, path: str) -> None:
        """The file at `path` no longer holds what its entry says (or is gone)."""
        if self._load().pop(path, None) is not None:
            self._changed = True

    def save(self) -> None:
        """Write the entries when any changed (best effort: unwritable, it is not kept)."""
        if not self._changed or self.path is None:
            return
        with contextlib.suppress(OSError, ValueError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
            temp.write_bytes(marshal.dumps((LAYOUT, self._load())))
            temp.replace(self.path)
        self._changed = False
