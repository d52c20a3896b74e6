"""GitRevisions: the blueprint files of a git revision, read from the object database.

Why it exists: a pull request check compares the blueprints at the base of the pull request
with those at its head. Checking either out would touch the working tree (and a CI job's
checkout is usually the merge commit), so the blobs are read straight from git, for any
revspec git understands: a sha, a branch, `origin/main`, `HEAD~1`, a tag.

A cycle reads HEAD here too: authority is what was committed, never an uncommitted edit.

Main design choice: only the files the loader reads are returned (the global policies and each
`blueprints/<service>/blueprint.yaml`), each cut a byte past the loader's size limit, so a huge
blob in a pull request cannot exhaust memory before the loader refuses it; and only when they
are regular files. Every other entry under blueprints/ is listed by kind (`entries`), so the
loader can say what stands where a blueprint should be: git stores a symbolic link as a blob
of its target's path, which is never taken for the file it points to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, cast

from reconciler.core.bounds import YAML_MAX_BYTES
from reconciler.core.errors import ConfigError

if TYPE_CHECKING:
    import pygit2

__all__ = ["GitRevisions", "RevisionFiles"]

BLUEPRINTS = "blueprints"
BLUEPRINT_FILE = "blueprint.yaml"
POLICIES = "governance/policies.yaml"

FETCH_HINT = (
    "check the name with `git rev-parse {spec}`; in a CI job fetch it first "
    "(actions/checkout with `fetch-depth: 0`, or `git fetch origin {spec}`)"
)


@dataclass(frozen=True, kw_only=True)
class RevisionFiles:
    """What one revision holds: the revspec as given, the commit it names, and the files by
    path relative to the blueprint repository's root (`blueprints/web/blueprint.yaml`)."""

    revision: str
    commit: str
    files: dict[str, bytes]
    #: The git blob id of each file in `files`, by the same path.
    blobs: dict[str, str] = field(default_factory=dict)
    #: Every entry under blueprints/ (and `blueprints` itself), hidden ones aside, by path:
    #: "file", "directory", "symlink" or "submodule".
    entries: dict[str, str] = field(default_factory=dict)
    #: The target of each symbolic link in `entries`, as git stores it.
    links: dict[str, str] = field(default_factory=dict)


class GitRevisions:
    """Reads blueprint files at revisions of the git repository that contains `start`."""

    def __init__(self, start: Path, *, blueprint_root: Path | None = None) -> None:
        import pygit2

        found = pygit2.discover_repository(str(start))
        if found is None:
            raise ConfigError(
                f"{start} is not inside a git repository",
                hint="run inside a clone of the blueprint repository, or pass --repo DIR",
            )
        try:
            self._repo = pygit2.Repository(found)
        except pygit2.GitError as error:
            raise ConfigError(f"cannot open the git repository at {found}: {error}") from error
        #: Where `blueprints/` sits inside the repository ("" at its top), from the working
        #: tree's blueprint root when one was found.
        self.subdirectory = ""
        workdir = self._repo.workdir
        if blueprint_root is not None and workdir:
            try:
                relative = blueprint_root.resolve().relative_to(Path(workdir).resolve())
            except ValueError:
                relative = Path()
            self.subdirectory = "" if relative == Path() else relative.as_posix()

    def read(self, spec: str) -> RevisionFiles:
        """The blueprint files at `spec`; ConfigError naming it when git does not know it."""
        commit = self._commit(spec)
        found = RevisionFiles(revision=spec, commit=str(commit.id), files={})
        tree: pygit2.Tree | None = commit.tree
        for part in PurePosixPath(self.subdirectory).parts:
            tree = self._subtree(tree, part) if tree is not None else None
        top = self._entry(tree, BLUEPRINTS) if tree is not None else None
        if top is None:
            return found
        ids = self._list(top, BLUEPRINTS, found)
        for path, kind in found.entries.items():
            # Built by `_list` from git's names joined by "/" (none empty, none holding one):
            # a split is the path's parts, without a PurePosixPath for each of 2,000 entries.
            parts = path.split("/")
            wanted = (len(parts) == 3 and parts[2] == BLUEPRINT_FILE) or path == (
                f"{BLUEPRINTS}/{POLICIES}"
            )
            if wanted and kind == "file":
                blob = cast("pygit2.Blob", self._repo[ids[path]])
                # One byte over the limit is enough for the loader to refuse the file by its size.
                found.files[path] = bytes(blob.data[: YAML_MAX_BYTES + 1])
                found.blobs[path] = str(blob.id)
        return found

    def _list(self, entry: pygit2.Object, path: str, found: RevisionFiles) -> dict[str, pygit2.Oid]:
        """Record `entry` at `path` and, for a tree, everything under it (a stack, not
        recursion, however deep the tree); returns the blob id of each regular file."""
        import pygit2

        ids: dict[str, pygit2.Oid] = {}
        pending = [(entry, path)]
        while pending:
            item, where = pending.pop()
            mode = item.filemode
            if item.type_str == "tree":
                found.entries[where] = "directory"
                for child in cast("pygit2.Tree", self._repo[item.id]):
                    if not (child.name or "").startswith("."):
                        pending.append((child, f"{where}/{child.name}"))
            elif item.type_str == "commit":
                found.entries[where] = "submodule"
            elif mode == pygit2.enums.FileMode.LINK:
                found.entries[where] = "symlink"
                target = cast("pygit2.Blob", self._repo[item.id]).data[:1024]
                found.links[where] = target.decode("utf-8", "replace")
            else:
                found.entries[where] = "file"
                ids[where] = item.id
        return ids

    def _commit(self, spec: str) -> pygit2.Commit:
        import pygit2

        if spec == "HEAD" and self._repo.head_is_unborn:
            raise ConfigError(
                "nothing is committed yet: the blueprints a cycle judges under are those of "
                "the commit it runs on",
                hint="commit them first: `git add blueprints && git commit`",
            )
        if not spec or spec.startswith("-"):
            raise ConfigError(f"{spec!r} is not a revision", hint=FETCH_HINT.format(spec="main"))
        try:
            found = self._repo.revparse_single(spec)
        except KeyError:
            raise ConfigError(
                f"revision {spec!r} is not in the repository at {self._repo.path}",
                hint=FETCH_HINT.format(spec=spec),
            ) from None
        except (ValueError, pygit2.GitError) as error:
            raise ConfigError(
                f"revision {spec!r} cannot be read: {error}", hint=FETCH_HINT.format(spec=spec)
            ) from error
        try:
            return found.peel(pygit2.Commit)
        except (ValueError, pygit2.GitError) as error:
            raise ConfigError(
                f"revision {spec!r} does not name a commit ({found.type_str})",
                hint="give a branch, a tag or a commit sha",
            ) from error

    def _subtree(self, tree: pygit2.Tree, name: str) -> pygit2.Tree | None:
        try:
            entry = tree[name]
        except KeyError:
            return None
        return cast("pygit2.Tree", self._repo[entry.id]) if entry.type_str == "tree" else None

    def _entry(self, tree: pygit2.Tree, name: str) -> pygit2.Object | None:
        try:
            return tree[name]
        except KeyError:
            return None
