"""Git's own lock files: which of them the reconciler's writes take, when one was left behind by
an interrupted run, and how to name one in an error.

Git (and libgit2) write a ref or the index by creating `<file>.lock`, writing it, and renaming it
over the file; a process killed in between leaves the `.lock`, and every later write of that
file fails. The reconciler removes such files only while it holds the repository lock (so no
reconciler is writing), and only those it can tell are left behind:

- the locks of refs only the reconciler writes (its proposal branches `reconciler/...` and its
  notes `refs/notes/reconciler`): any that exist are left behind;
- the locks people's git commands take as well (the index, HEAD, the checked-out branch, the
  remote-tracking refs a push fetches): only once they are older than any git command holds
  them. Git holds a ref's lock for the moment it rewrites the ref, but holds the index's while
  `git commit` waits for its message or `git add -p` for answers, hence the two ages.

A lock that is not removed is named, with the command that removes it, by the error of the
write it stops.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

__all__ = [
    "INDEX_LOCK_STALE",
    "REF_LOCK_STALE",
    "LeftLock",
    "common_dir",
    "held",
    "lock_file",
    "lock_message",
    "remove_left_behind",
]

#: Seconds after which a shared ref's lock (HEAD, the checked-out branch, packed-refs, a
#: remote-tracking ref) is taken as left behind: git rewrites a ref in milliseconds.
REF_LOCK_STALE = 60.0
#: Seconds after which `index.lock` is taken as left behind: interactive git commands hold it
#: for as long as a person takes (`git commit` while its message is written, `git add -p`).
INDEX_LOCK_STALE = 600.0

#: Locks of the refs only the reconciler writes, relative to the common git directory.
OWN_LOCKS = (
    "refs/heads/reconciler/**/*.lock",
    "logs/refs/heads/reconciler/**/*.lock",
    "refs/notes/reconciler.lock",
    "logs/refs/notes/reconciler.lock",
)


@dataclass(frozen=True, kw_only=True)
class LeftLock:
    """A lock file removed because an interrupted run left it."""

    path: Path
    since: datetime

    def describe(self) -> str:
        return (
            f"removed git's lock file {shown(self.path)} (from {self.since:%Y-%m-%d %H:%M:%S}Z), "
            "left by an interrupted git write"
        )


def common_dir(git_dir: Path) -> Path:
    """Where a repository's shared refs live: the git directory itself, or for a linked
    worktree (`git worktree add`) the main repository's, which its `commondir` file names."""
    pointer = git_dir / "commondir"
    try:
        text = pointer.read_text(encoding="utf-8").strip()
    except OSError:
        return git_dir
    return (git_dir / text).resolve() if text else git_dir


def lock_file(git_dir: Path, name: str) -> Path:
    """The lock file git takes to write `name`: a ref (`refs/heads/main`), or one of the files
    each worktree has of its own (`HEAD`, `index`)."""
    own = name in {"HEAD", "index", "ORIG_HEAD"}
    return (git_dir if own else common_dir(git_dir)) / f"{name}.lock"


def held(git_dir: Path, names: Iterable[str]) -> Path | None:
    """The first lock file of `names` that exists: what stops a write of them."""
    for name in names:
        path = lock_file(git_dir, name)
        if path.exists():
            return path
    return None


def lock_message(path: Path) -> str:
    """One line naming a lock file, since when it exists, and the command that removes it."""
    since = _mtime(path)
    when = f" (since {since:%Y-%m-%d %H:%M:%S}Z)" if since is not None else ""
    place = shown(path)
    return f"git's lock file {place} exists{when}; when no git command is running: rm {place}"


def remove_left_behind(git_dir: Path, *, now: datetime) -> list[LeftLock]:
    """Remove the lock files an interrupted write left; only call it holding the repository
    lock. Returns what was removed."""
    common = common_dir(git_dir)
    # (a lock file, the age after which it is left behind; None: whatever its age)
    candidates: list[tuple[Path, float | None]] = [
        (path, None) for pattern in OWN_LOCKS for path in common.glob(pattern)
    ]
    shared = ["HEAD", "ORIG_HEAD", "packed-refs", *_checked_out(git_dir)]
    candidates += [(lock_file(git_dir, name), REF_LOCK_STALE) for name in shared]
    candidates += [(path, REF_LOCK_STALE) for path in common.glob("refs/remotes/**/*.lock")]
    candidates.append((lock_file(git_dir, "index"), INDEX_LOCK_STALE))
    removed = []
    for path, stale_after in candidates:
        since = _mtime(path)
        if since is None:
            continue
        if stale_after is not None and (now - since).total_seconds() < stale_after:
            continue
        with contextlib.suppress(FileNotFoundError):  # its holder finished meanwhile
            path.unlink()
            removed.append(LeftLock(path=path, since=since))
    return removed


def _checked_out(git_dir: Path) -> Sequence[str]:
    """The branch HEAD points at (`ref: refs/heads/main`), which audit commits move."""
    try:
        text = (git_dir / "HEAD").read_text(encoding="utf-8").strip()
    except OSError:
        return ()
    ref = text.removeprefix("ref:").strip()
    return (ref,) if text.startswith("ref:") and ref.startswith("refs/") else ()


def _mtime(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except OSError:
        return None


def shown(path: Path) -> str:
    """`path` as a person would type it here: relative when under the current directory."""
    try:
        return os.path.relpath(path) if path.is_relative_to(Path.cwd()) else str(path)
    except (OSError, ValueError):
        return str(path)
