"""Small pygit2 helpers shared by the adapters that write to a repository.

Both the audit store and the local forge build commits from trees, never through the index
or the working tree: that is what lets them write while a person has uncommitted work, and
write branches other than the one checked out. The index is then brought up to date for the
audit records alone (`restore_index`), and a failed write becomes the reconciler's error
naming the git lock that stopped it (`write_error`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from reconciler.adapters.git_locks import held, lock_message
from reconciler.core.errors import AuditError, ReconcilerError

if TYPE_CHECKING:
    import pygit2


def tree_at(repo: pygit2.Repository, oid: pygit2.Oid) -> pygit2.Tree:
    return cast("pygit2.Tree", repo[oid])


def nest(files: Mapping[str, Any]) -> dict[str, Any]:
    """{"a/b/c.json": x} → {"a": {"b": {"c.json": x}}}."""
    tree: dict[str, Any] = {}
    for path, value in files.items():
        *folders, name = path.split("/")
        node = tree
        for folder in folders:
            node = node.setdefault(folder, {})
        node[name] = value
    return tree


def merge_tree(
    repo: pygit2.Repository, tree: pygit2.Tree | None, changes: Mapping[str, Any]
) -> pygit2.Oid:
    """Write `tree` with nested `changes` applied (name → blob id, or name → nested changes).
    Each directory on the way is rebuilt once, however many files land in it."""
    import pygit2

    builder = repo.TreeBuilder(tree) if tree is not None else repo.TreeBuilder()
    for name, change in changes.items():
        if isinstance(change, dict):
            entry = tree[name] if tree is not None and name in tree else None
            sub = (
                tree_at(repo, entry.id) if entry is not None and entry.type_str == "tree" else None
            )
            builder.insert(name, merge_tree(repo, sub, change), pygit2.enums.FileMode.TREE)
        else:
            builder.insert(name, change, pygit2.enums.FileMode.BLOB)
    return builder.write()


def write_files(
    repo: pygit2.Repository, base: pygit2.Tree | None, files: Mapping[str, bytes]
) -> pygit2.Oid:
    """A tree: `base` with each path's content replaced (or added)."""
    blobs = {path: repo.create_blob(content) for path, content in files.items()}
    return merge_tree(repo, base, nest(blobs))


def read_file(repo: pygit2.Repository, tree: pygit2.Tree, path: str) -> bytes | None:
    try:
        entry = tree[path]
    except KeyError:
        return None
    blob = repo[entry.id]
    return cast("pygit2.Blob", blob).data if entry.type_str == "blob" else None


def git_dir(root: Path) -> Path | None:
    """The git directory of the repository `root` is in (a linked worktree's own one), or
    None when `root` is not in a git repository."""
    import pygit2

    found = pygit2.discover_repository(str(root))
    return Path(found) if found else None


E = TypeVar("E", bound=ReconcilerError)


def write_error(
    repo: pygit2.Repository,
    error: Exception,
    doing: str,
    *,
    names: Sequence[str],
    kind: type[E],
    hint: str = "check the repository",
) -> E:
    """The reconciler's error for a failed write of the refs (or `index`) in `names`.

    libgit2 reports a lock it cannot take with a message whose reason is empty; when one of
    git's lock files for what was written exists, the error names it and how to remove it.
    """
    lock = held(Path(repo.path), names)
    if lock is not None:
        return kind(
            f"{doing}: {lock_message(lock)}",
            hint="another git command holds it, or one was interrupted; the reconciler "
            "removes the locks it can tell were left behind when it starts",
        )
    return kind(f"{doing}: {error}", hint=hint)


def restore_index(repo: pygit2.Repository, prefix: str, *, written: Sequence[str] = ()) -> int:
    """Make git's index list every file under `prefix` exactly as HEAD has it, and write
    those missing from the working tree; returns how many index entries were restored.

    Audit commits are built without the index, which is then updated for them; when that
    update could not happen (an index locked by someone else, a run killed in between), a
    person's next `git commit -a` would delete the records. Running this at the start and
    end of every write repairs that. Only `prefix` is touched: what a person staged elsewhere
    stays as it is. `written` names more paths whose working-tree file may be missing.
    Raises AuditError when the index cannot be written (its lock named, when one is held).
    """
    import pygit2

    if repo.is_bare or repo.head_is_unborn:
        return 0
    restored: list[tuple[str, pygit2.Oid, pygit2.enums.FileMode]] = []
    lost = _lost_statuses()
    try:
        tree = repo.head.peel(pygit2.Commit).tree
        index = repo.index
        index.read()
        # old: HEAD's tree, new: the index. A file only in HEAD, or at another blob in the
        # index, is one the index lost.
        for delta in index.diff_to_tree(tree).deltas:
            old = delta.old_file
            if old.path.startswith(prefix) and delta.status in lost:
                restored.append((old.path, old.id, pygit2.enums.FileMode(old.mode)))
        for path, oid, mode in restored:
            index.add(pygit2.IndexEntry(path, oid, mode))
        if restored:
            index.write()
    except (pygit2.GitError, OSError) as error:
        raise write_error(
            repo,
            error,
            f"git's index does not list {len(restored)} committed file(s) under {prefix}",
            names=["index"],
            kind=AuditError,
        ) from error
    if repo.workdir:
        for path in dict.fromkeys([*(path for path, _oid, _mode in restored), *written]):
            target = Path(repo.workdir) / path
            if target.exists():
                continue
            content = read_file(repo, tree, path)
            if content is not None:
                with contextlib.suppress(OSError):  # the index is what a commit takes
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(content)
    return len(restored)


def _lost_statuses() -> frozenset[object]:
    import pygit2

    kind = pygit2.enums.DeltaStatus
    return frozenset({kind.DELETED, kind.MODIFIED, kind.TYPECHANGE})


def commit_new_files(
    root: Path, files: Mapping[str, bytes], message: str, *, name: str, email: str
) -> tuple[str, bool]:
    """Commit `files` (paths under `root`, as written there) on the current branch, creating a
    repository with a `main` branch when `root` is in none. Only these paths are committed,
    whatever else is staged; the index learns them too, so they show as committed. The
    author is the user's git identity, else `name` and `email`. Returns (commit id, whether
    the repository was created)."""
    import pygit2

    from reconciler.core.errors import ConfigError

    try:
        found = pygit2.discover_repository(str(root))
        created = found is None
        if created:
            repo = pygit2.init_repository(str(root), initial_head="main")
        else:
            repo = pygit2.Repository(found)
        workdir = Path(repo.workdir).resolve()
        prefix = root.resolve().relative_to(workdir)
        paths = {(prefix / path).as_posix(): content for path, content in files.items()}
        parent = None if repo.head_is_unborn else repo.head.peel(pygit2.Commit)
        tree = write_files(repo, parent.tree if parent is not None else None, paths)
        try:
            author = repo.default_signature
        except KeyError:  # no user.name / user.email configured
            author = pygit2.Signature(name, email)
        reference = "HEAD" if repo.head_is_unborn or not repo.head_is_detached else None
        oid = repo.create_commit(
            reference, author, author, message, tree, [parent.id] if parent is not None else []
        )
        if reference is None:
            repo.set_head(oid)
        for path in paths:
            repo.index.add(path)
        repo.index.write()
    except (pygit2.GitError, OSError, ValueError) as error:
        raise ConfigError(
            f"committing the new files in {root} failed: {error}",
            hint="the files are written; commit them by hand (git add, git commit)",
        ) from error
    return str(oid), created
