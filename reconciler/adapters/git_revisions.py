"""GitRevisions: the blueprint files of a git revision, read from the object database.

Why it exists: a pull request check compares the blueprints at the base of the pull request
with those at its head. Checking either out would touch the working tree (and a CI job's
checkout is usually the merge commit), so the blobs are read straight from git, for any
revspec git understands: a sha, a branch, `origin/main`, `HEAD~1`, a tag.

Main design choice: only the files the loader reads are returned (the global policies and each
`blueprints/<service>/blueprint.yaml`), each cut a byte past the loader's size limit, so a huge
blob in a pull request cannot exhaust memory before the loader refuses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, cast

from reconciler.core.errors import ConfigError
from reconciler.core.yamlsafe import MAX_BYTES

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
        root: pygit2.Tree | None = commit.tree
        for part in PurePosixPath(self.subdirectory, BLUEPRINTS).parts:
            root = self._subtree(root, part) if root is not None else None
        if root is None:
            return RevisionFiles(revision=spec, commit=str(commit.id), files={})
        files: dict[str, bytes] = {}
        for entry in root:
            if entry.type_str != "tree":
                continue
            folder = cast("pygit2.Tree", self._repo[entry.id])
            names = [BLUEPRINT_FILE]
            if entry.name == PurePosixPath(POLICIES).parent.name:
                names.append(PurePosixPath(POLICIES).name)
            for name in names:
                data = self._blob(folder, name)
                if data is not None:
                    files[f"{BLUEPRINTS}/{entry.name}/{name}"] = data
        return RevisionFiles(revision=spec, commit=str(commit.id), files=files)

    def _commit(self, spec: str) -> pygit2.Commit:
        import pygit2

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

    def _blob(self, tree: pygit2.Tree, name: str) -> bytes | None:
        try:
            entry = tree[name]
        except KeyError:
            return None
        if entry.type_str != "blob":
            return None
        blob = cast("pygit2.Blob", self._repo[entry.id])
        # One byte over the limit is enough for the loader to refuse the file by its size.
        return bytes(blob.data[: MAX_BYTES + 1])
