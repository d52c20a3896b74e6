"""LocalWorktreeBlobs under `uncommitted_changes`: a file is taken as unchanged by its stat
only while its size, times, inode and device are those it had when its content matched the
commit's blob, only for that very blob, and only when it was old enough to be trusted; a
missing or broken file is no cache. Each invalidation rule has its test."""

from __future__ import annotations

import marshal
import os
import subprocess
import time
from pathlib import Path

import pytest

from reconciler.adapters.git_revisions import GitRevisions
from reconciler.adapters.worktree_blobs import CACHE_FILE, LAYOUT, RACY_SECONDS, LocalWorktreeBlobs
from reconciler.shell.workspace import uncommitted_changes

FRONTEND = "blueprints/todo-frontend/blueprint.yaml"
SECOND = 1_000_000_000


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@localhost"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@localhost"}
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    ).stdout.strip()


@pytest.fixture
def repo(blueprint_repo: Path) -> Path:
    _git(blueprint_repo, "init", "-q")
    _git(blueprint_repo, "add", ".")
    _git(blueprint_repo, "commit", "-qm", "blueprints")
    return blueprint_repo


def _blobs(repo: Path) -> dict[str, str]:
    """The blob ids of HEAD's blueprints and policies, as a cycle reads them."""
    return GitRevisions(repo).read("HEAD").blobs


def _later() -> int:
    """A run that starts long enough after the files were written for their stat to count."""
    return time.time_ns() + 2 * RACY_SECONDS * SECOND


def _changes(repo: Path, *, now_ns: int | None = None) -> list[tuple[str, str]]:
    return uncommitted_changes(repo, _blobs(repo), known=LocalWorktreeBlobs(repo, now_ns=now_ns))


def _kept(repo: Path) -> dict[str, tuple[tuple[int, ...], str]]:
    layout, entries = marshal.loads((repo / ".git" / CACHE_FILE).read_bytes())
    assert layout == LAYOUT
    return dict(entries)


def _same_length_edit(path: Path) -> None:
    """Change the file's content, keeping its size and setting its mtime back (what `touch
    -d` or `rsync -t` can do): only its ctime says it was written."""
    before = path.stat()
    text = path.read_text()
    path.write_text(text.replace("max_replicas: 5", "max_replicas: 6"))
    assert path.stat().st_size == before.st_size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_an_unchanged_file_is_known_by_its_stat_and_not_read_again(repo: Path) -> None:
    assert _changes(repo, now_ns=_later()) == []
    kept = _kept(repo)
    assert kept[FRONTEND][1] == _blobs(repo)[FRONTEND]
    # A forged entry (this stat holds this blob) is believed: the file is not read. This is
    # what makes the shortcut pay, and why the file lives where no commit can put it.
    path = repo / FRONTEND
    path.write_text(path.read_text() + "\n# an edit\n")
    forged = {**kept, FRONTEND: ((*_stat(path),), _blobs(repo)[FRONTEND])}
    (repo / ".git" / CACHE_FILE).write_bytes(marshal.dumps((LAYOUT, forged)))
    assert _changes(repo) == []
    # Without the cache the same edit is found by its content.
    assert uncommitted_changes(repo, _blobs(repo)) == [(FRONTEND, "modified")]


def _stat(path: Path) -> tuple[int, ...]:
    found = path.stat()
    return (found.st_size, found.st_mtime_ns, found.st_ctime_ns, found.st_ino, found.st_dev)


def test_a_rewrite_that_keeps_size_and_mtime_is_found_by_its_ctime(repo: Path) -> None:
    assert _changes(repo, now_ns=_later()) == []
    assert FRONTEND in _kept(repo)
    _same_length_edit(repo / FRONTEND)
    assert _changes(repo, now_ns=_later()) == [(FRONTEND, "modified")]
    assert FRONTEND not in _kept(repo)  # a file that no longer matches is forgotten


def test_a_file_replaced_by_another_is_read_again(repo: Path) -> None:
    assert _changes(repo, now_ns=_later()) == []
    path = repo / FRONTEND
    replacement = path.with_name("new.yaml")
    replacement.write_text(path.read_text().replace("max_replicas: 5", "max_replicas: 9"))
    replacement.replace(path)  # another inode at the same path
    assert _changes(repo, now_ns=_later()) == [(FRONTEND, "modified")]


def test_a_file_younger_than_the_clock_can_tell_apart_is_never_kept(repo: Path) -> None:
    # The run starts within RACY_SECONDS of the files' last write: a second write in the same
    # tick of the filesystem's clock could keep every stat field, so nothing is kept.
    assert _changes(repo) == []
    assert not (repo / ".git" / CACHE_FILE).exists()
    _same_length_edit(repo / FRONTEND)
    assert _changes(repo) == [(FRONTEND, "modified")]


def test_an_entry_is_used_only_for_the_blob_it_matched(repo: Path) -> None:
    assert _changes(repo, now_ns=_later()) == []
    # HEAD moves on (another commit changed the file), the working tree keeps the old file:
    # its entry names the old blob, so it is compared by content and found modified.
    path = repo / FRONTEND
    old = path.read_bytes()
    path.write_text(old.decode().replace("max_replicas: 5", "max_replicas: 7"))
    _git(repo, "commit", "-qam", "seven")
    path.write_bytes(old)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns))
    forged = _kept(repo)
    forged[FRONTEND] = ((*_stat(path),), forged[FRONTEND][1])  # the old blob, this stat
    (repo / ".git" / CACHE_FILE).write_bytes(marshal.dumps((LAYOUT, forged)))
    assert _changes(repo, now_ns=_later()) == [(FRONTEND, "modified")]


@pytest.mark.parametrize("content", [b"", b"not marshal", marshal.dumps((LAYOUT + 1, {}))])
def test_a_missing_broken_or_foreign_file_is_no_cache(repo: Path, content: bytes) -> None:
    (repo / ".git" / "reconciler").mkdir(parents=True)
    (repo / ".git" / CACHE_FILE).write_bytes(content)
    _same_length_edit(repo / FRONTEND)
    assert _changes(repo, now_ns=_later()) == [(FRONTEND, "modified")]
    (repo / ".git" / CACHE_FILE).unlink()
    assert _changes(repo, now_ns=_later()) == [(FRONTEND, "modified")]
