"""What a working tree or a commit holds under blueprints/, path by path and kind by kind,
and reading one file from it safely: never following a link, never blocking on a pipe, never
reading past the size limit."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath

from reconciler.core.bounds import YAML_MAX_BYTES
from reconciler.core.errors import ConfigError
from reconciler.core.problems import Problem

BLUEPRINT_FILE = "blueprint.yaml"
POLICIES_PATH = Path("blueprints/governance/policies.yaml")
_YAML_SUFFIXES = {".yaml", ".yml"}
BLUEPRINTS_DIR = "blueprints"


def find_root(start: Path | None = None) -> Path:
    """The repository root: the nearest directory (from `start` up) that has `blueprints/`."""
    here = absolute(start or Path.cwd())
    for candidate in (here, *here.parents):
        if (candidate / "blueprints").is_dir():
            return candidate
    raise ConfigError(
        f"no blueprints/ directory in {here} or its parents",
        hint="run inside a blueprint repository, or pass --repo DIR",
    )


def absolute(path: Path) -> Path:
    """`path` resolved, or made absolute when it cannot be (a link loop on the way): finding
    files must never fail on one bad link."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return Path.cwd() / path if not path.is_absolute() else path


def relative(path: Path, root: Path) -> str:
    try:
        return absolute(path).relative_to(absolute(root)).as_posix()
    except ValueError:
        return str(path)


class EntryKind(StrEnum):
    """What a path under blueprints/ is. Git stores files, folders, symbolic links and
    submodules; a working tree can also hold pipes, sockets and devices."""

    FILE = "file"
    DIRECTORY = "directory"
    SYMLINK = "symlink"
    SUBMODULE = "submodule"
    FIFO = "fifo"
    SOCKET = "socket"
    DEVICE = "device"
    UNREADABLE = "unreadable"


_KIND_WORDS = {
    EntryKind.FILE: "a regular file",
    EntryKind.DIRECTORY: "a directory",
    EntryKind.SYMLINK: "a symbolic link",
    EntryKind.SUBMODULE: "a git submodule",
    EntryKind.FIFO: "a named pipe (FIFO)",
    EntryKind.SOCKET: "a socket",
    EntryKind.DEVICE: "a device",
    EntryKind.UNREADABLE: "unreadable",
}


@dataclass(frozen=True, kw_only=True)
class Entry:
    """One path under blueprints/: its kind, and what more there is to say (a link's target,
    why an entry cannot be read)."""

    kind: EntryKind
    detail: str = ""

    def describe(self) -> str:
        words = _KIND_WORDS[self.kind]
        if self.kind is EntryKind.SYMLINK and self.detail:
            return f"{words} (to {self.detail})"
        if self.kind is EntryKind.UNREADABLE and self.detail:
            return f"{words} ({self.detail})"
        return words


#: Every path under blueprints/ (hidden ones aside) by its repository path
#: (`blueprints/web/blueprint.yaml`), with `blueprints` itself: what the working tree, or
#: a commit, holds there. Loading decides from this alone which files to read.
Listing = Mapping[str, Entry]


def list_worktree(root: Path) -> dict[str, Entry]:
    """The listing of the working tree's blueprints/, without following a single link (so a
    loop or a link to a device is just a link) and without opening anything but folders. A
    folder that cannot be listed is an unreadable entry; nothing here raises."""
    listing: dict[str, Entry] = {}
    top = _lstat_entry(root / BLUEPRINTS_DIR)
    if top is None:
        return listing
    listing[BLUEPRINTS_DIR] = top
    pending = [BLUEPRINTS_DIR] if top.kind is EntryKind.DIRECTORY else []
    base = os.fspath(root)
    while pending:  # a stack, not recursion: a deep tree cannot exhaust Python's stack
        folder = pending.pop()
        try:
            with os.scandir(f"{base}/{folder}") as entries:
                found = [e for e in entries if not e.name.startswith(".")]
        except OSError as error:
            listing[folder] = Entry(kind=EntryKind.UNREADABLE, detail=error.strerror or str(error))
            continue
        for item in found:
            path = f"{folder}/{item.name}"
            listing[path] = _scandir_entry(item)
            if listing[path].kind is EntryKind.DIRECTORY:
                pending.append(path)
    return listing


def _lstat_entry(path: Path) -> Entry | None:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError as error:
        return Entry(kind=EntryKind.UNREADABLE, detail=error.strerror or str(error))
    return _entry_of(mode, path)


def _scandir_entry(item: os.DirEntry[str]) -> Entry:
    try:
        mode = item.stat(follow_symlinks=False).st_mode
    except OSError as error:
        return Entry(kind=EntryKind.UNREADABLE, detail=error.strerror or str(error))
    return _entry_of(mode, item.path)


#: The entries with nothing more to say, shared (they are frozen): a fleet's listing holds
#: thousands of them.
_FILE = Entry(kind=EntryKind.FILE)
_DIRECTORY = Entry(kind=EntryKind.DIRECTORY)


def _entry_of(mode: int, path: Path | str) -> Entry:
    if stat.S_ISLNK(mode):
        try:
            return Entry(kind=EntryKind.SYMLINK, detail=str(Path(path).readlink()))
        except OSError:
            return Entry(kind=EntryKind.SYMLINK)
    if stat.S_ISDIR(mode):
        return _DIRECTORY
    if stat.S_ISREG(mode):
        return _FILE
    if stat.S_ISFIFO(mode):
        return Entry(kind=EntryKind.FIFO)
    if stat.S_ISSOCK(mode):
        return Entry(kind=EntryKind.SOCKET)
    return Entry(kind=EntryKind.DEVICE)


def read_file(path: Path, shown: str) -> bytes | Problem:
    """Read a regular file, at most a little over the size limit (a huge file cannot exhaust
    memory). Anything else is refused without blocking: the file is opened non-blocking and
    without following a link, and checked to be a regular file once open, so a pipe, a device
    or a link swapped in after the listing is named rather than read."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        descriptor = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        entry = _lstat_entry(path)
        if entry is not None and entry.kind is not EntryKind.FILE:
            return not_a_file(shown, entry)
        return Problem(
            file=shown,
            path="",
            message=f"cannot read the file: {error.strerror or error}",
            hint="check the path and its permissions",
            code="io",
        )
    with os.fdopen(descriptor, "rb") as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if not stat.S_ISREG(mode):
            return not_a_file(shown, _entry_of(mode, path))
        return handle.read(YAML_MAX_BYTES + 1)


def not_a_file(shown: str, entry: Entry) -> Problem:
    """A blueprint or policies path that holds something other than a regular file."""
    if entry.kind is EntryKind.UNREADABLE:
        return Problem(
            file=shown,
            path="",
            message=f"cannot be read: {entry.detail}",
            hint="check the path and its permissions",
            code="file.kind",
        )
    why = {
        EntryKind.SYMLINK: "commit the file's content at this path instead of a link: a "
        "link would let an edit to another path change the rules without this path's review",
        EntryKind.DIRECTORY: "the blueprint is one YAML file at this path; move what the "
        "directory holds into it",
        EntryKind.SUBMODULE: "commit the file itself at this path",
    }.get(entry.kind, "replace it with a regular YAML file")
    return Problem(
        file=shown,
        path="",
        message=f"is {entry.describe()}, not a regular file, so it is not read",
        hint=why,
        code="file.kind",
    )


def is_yaml(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in _YAML_SUFFIXES


def revision_listing(entries: Mapping[str, str], links: Mapping[str, str]) -> dict[str, Entry]:
    """A listing from a commit's entries by kind ("file", "directory", "symlink",
    "submodule") and its links' targets."""
    return {
        path: Entry(kind=EntryKind(kind), detail=links.get(path, ""))
        for path, kind in entries.items()
    }
