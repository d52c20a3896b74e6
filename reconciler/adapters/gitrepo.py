"""Small pygit2 helpers shared by the adapters that write to a repository.

Both the audit store and the local forge build commits from trees, never through the index
or the working tree: that is what lets them write while a person has uncommitted work, and
write branches other than the one checked out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

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
