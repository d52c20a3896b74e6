"""The mark that spares comparing git's whole index with HEAD after every audit commit.

Comparing the index with HEAD costs as much as the trail is long, and every command that
writes asks three times. So the last comparison that found the index in step is remembered
(`.git/reconciler/index-mark`: HEAD's commit and the index file's tail): while neither
changed, the index is still in step; when HEAD moved only by the store's own commits and the
index file is the one compared, only the records they wrote are added (`added`). Anything
else (a person's commit, a `git add`, a missing mark) is compared in full by the caller.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from reconciler.adapters.gitrepo import write_error
from reconciler.core.errors import AuditError
from reconciler.core.trail.records import AUDIT_DIR

if TYPE_CHECKING:
    import pygit2

__all__ = ["IndexMark"]


class IndexMark:
    """When one repository's index was last known in step with HEAD."""

    def __init__(self, repo: pygit2.Repository) -> None:
        self.repo = repo

    def added(
        self, head: pygit2.Commit | None, commits: Collection[str], written: Sequence[str]
    ) -> int | None:
        """The records added to the index (`written`, by this store's `commits` since the
        mark), when it was known in step before them; None when it has to be compared in
        full."""
        import pygit2 as git

        mark = self._index_mark()
        if mark is None or head is None or mark.get("index") != _stat_key(self._index_path()):
            return None
        commit = head
        while str(commit.id) != mark.get("head"):
            if str(commit.id) not in commits or len(commit.parents) != 1:
                return None
            commit = commit.parents[0]
        paths = list(dict.fromkeys(written))
        if not paths:
            return 0
        try:
            index = self.repo.index
            index.read()
            for path in paths:
                entry = head.tree[path]
                index.add(git.IndexEntry(path, entry.id, git.enums.FileMode(entry.filemode)))
            index.write()
        except (git.GitError, OSError, KeyError) as error:
            raise write_error(
                self.repo,
                error,
                f"git's index does not list {len(paths)} committed file(s) under {AUDIT_DIR}/",
                names=["index"],
                kind=AuditError,
            ) from error
        for path in paths:  # a record the checkout lacks (its write failed): written now
            target = Path(self.repo.workdir) / path
            if not target.exists():
                with contextlib.suppress(OSError, KeyError):
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(cast("pygit2.Blob", self.repo[head.tree[path].id]).data)
        return len(paths)

    def _index_path(self) -> Path:
        return Path(self.repo.path) / "index"

    def _mark_path(self) -> Path:
        return Path(self.repo.path) / "reconciler" / "index-mark"

    def _index_mark(self) -> dict[str, Any] | None:
        try:
            found = json.loads(self._mark_path().read_text("utf-8"))
        except (OSError, ValueError):
            return None
        return found if isinstance(found, dict) else None

    def remember(self, head: pygit2.Commit | None) -> None:
        """Remember that the index is in step with HEAD now (best effort: no mark only means
        comparing in full next time)."""
        key = _stat_key(self._index_path())
        path = self._mark_path()
        with contextlib.suppress(OSError):  # a mark already gone is an OSError too
            if head is None or key is None:
                path.unlink()
                return
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"head": str(head.id), "index": key}), "utf-8")


def _stat_key(path: Path) -> str | None:
    """What tells one version of git's index from another without reading it all: the file
    ends with the hash of its content (SHA-1, or SHA-256), so its last bytes change with any
    change to it."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 32))
            return f"{size}:{handle.read().hex()}"
    except OSError:
        return None
