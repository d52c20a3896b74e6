"""Finding and reading the blueprints of a repository: the file I/O in front of the loader.

A broken blueprint must never stop the others, so loading a fleet never raises for one bad
file: it returns the blueprints that loaded and every problem found. Only a missing or broken
global policies file is fatal for a cycle, because without it the shared forbidden list,
the approvers and the default namespace are unknown and acting would be unsafe; `validate`
still reports it alongside everything else.

The loader reads exactly `blueprints/<service>/blueprint.yaml` and
`blueprints/governance/policies.yaml`, and only when each is a regular file. Anything else
under blueprints/ that looks meant for it (a `blueprint.yml`, a `web.yaml` beside the folders,
a folder without a blueprint) is reported as a warning naming the path it should have, so a
file is never dropped in silence; a link, a folder, a pipe or a device where a blueprint
should be is an error for that service alone, and is never opened.

The same survey runs on a listing of the working tree (what `validate` checks) or of a commit
(what a cycle judges under: the blueprints of HEAD, never uncommitted edits).
"""

from __future__ import annotations

import hashlib
import os
import shlex
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path, PurePosixPath

from reconciler.core.blueprint.claims import check_unique_names
from reconciler.core.blueprint.model import Blueprint, GlobalPolicies, Provenance
from reconciler.core.blueprint.yamlsafe import MAX_BYTES
from reconciler.core.errors import BlueprintError, ConfigError
from reconciler.core.planning.sharding import Shard
from reconciler.core.problems import Problem, Severity
from reconciler.ports import LoadResult, ValidationCache

__all__ = [
    "BLUEPRINT_FILE",
    "POLICIES_PATH",
    "Fleet",
    "IgnoredFile",
    "find_root",
    "load_fleet",
    "load_fleet_files",
]

BLUEPRINT_FILE = "blueprint.yaml"
POLICIES_PATH = Path("blueprints/governance/policies.yaml")
_YAML_SUFFIXES = {".yaml", ".yml"}

#: How to start a policies file. There is deliberately no switch to run without one: a fleet
#: that wants no shared rules says so in a file of one line, which is reviewed like any
#: other change, rather than in a flag a workflow could set unseen.
POLICIES_HINT = (
    f"create {POLICIES_PATH}: `reconciler schema --kind policies` prints its schema and "
    'docs/blueprint-format.md ("The global policies file") describes it; a fleet with no '
    "shared rules writes just `defaults: {namespace: default}`"
)


@dataclass(frozen=True, kw_only=True)
class IgnoredFile:
    """A file or folder under blueprints/ that looks meant for the reconciler but is not where
    it reads: `validate` warns about it, and `run` notes it in the row of its service."""

    #: The service it seems meant for: its folder's name, or a top-level file's stem.
    service: str
    problem: Problem


@dataclass(frozen=True, kw_only=True)
class Fleet:
    """Everything the blueprints of one repository say, plus what is wrong with them."""

    root: Path
    policies: GlobalPolicies
    #: False when the policies file does not validate. A missing file is `policies_found`
    #: False instead; in both cases `policies` are the built-in stand-in.
    policies_ok: bool
    blueprints: tuple[Blueprint, ...]
    problems: tuple[Problem, ...]
    #: Files that did not load, by service (folder) name.
    broken: dict[str, str]
    files: tuple[str, ...]
    #: Each loaded blueprint's text, by service: proposals edit it in place.
    texts: dict[str, str] = field(default_factory=dict)
    policies_found: bool = True
    #: Files under blueprints/ the loader does not read (each is also a warning in `problems`).
    ignored: tuple[IgnoredFile, ...] = ()
    #: The commit the files were read from ("" for the working tree).
    commit: str = ""
    #: What a command should say about the fleet as a whole: uncommitted edits it ignores.
    notices: tuple[Problem, ...] = ()

    def validate_command(self, service: str) -> str:
        """The command that shows why a service's blueprint does not load, runnable from the
        current directory (with --repo when the repository is elsewhere)."""
        path = self.broken[service]
        try:
            here = Path.cwd().resolve() == self.root.resolve()
        except OSError:
            here = False
        repo = "" if here else f"--repo {shlex.quote(str(self.root))} "
        return f"reconciler {repo}validate {shlex.quote(path)}"

    def get(self, service: str) -> Blueprint:
        for blueprint in self.blueprints:
            if blueprint.name == service:
                return blueprint
        if service in self.broken:
            raise ConfigError(
                f"the blueprint of {service} does not validate ({self.broken[service]})",
                hint=f"run `{self.validate_command(service)}`",
            )
        for item in self.ignored:
            if item.service == service:
                raise ConfigError(
                    f"no blueprint for service {service!r}: {item.problem.file} is not read",
                    hint=item.problem.hint,
                )
        known = ", ".join(b.name for b in self.blueprints) or "none"
        raise ConfigError(f"no blueprint for service {service!r}", hint=f"known services: {known}")

    def require_policies(self) -> None:
        """Refuse to act when the global policies did not load, or there is no such file.

        Falling back to the built-in defaults would act in the wrong namespace, with no
        approvers and without the fleet's forbidden list.
        """
        if not self.policies_found:
            raise ConfigError(
                f"{POLICIES_PATH} does not exist; refusing to act without the global policies "
                "(the fleet's forbidden operations, approvers and default namespace)",
                hint=POLICIES_HINT,
            )
        if not self.policies_ok:
            errors = [p for p in self.problems if p.file == str(POLICIES_PATH)]
            raise BlueprintError(str(POLICIES_PATH), errors)


def find_root(start: Path | None = None) -> Path:
    """The repository root: the nearest directory (from `start` up) that has `blueprints/`."""
    here = _absolute(start or Path.cwd())
    for candidate in (here, *here.parents):
        if (candidate / "blueprints").is_dir():
            return candidate
    raise ConfigError(
        f"no blueprints/ directory in {here} or its parents",
        hint="run inside a blueprint repository, or pass --repo DIR",
    )


def _absolute(path: Path) -> Path:
    """`path` resolved, or made absolute when it cannot be (a link loop on the way): finding
    files must never fail on one bad link."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return Path.cwd() / path if not path.is_absolute() else path


def _relative(path: Path, root: Path) -> str:
    try:
        return _absolute(path).relative_to(_absolute(root)).as_posix()
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

BLUEPRINTS_DIR = "blueprints"


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
    while pending:  # a stack, not recursion: a deep tree cannot exhaust Python's stack
        folder = pending.pop()
        try:
            with os.scandir(root / folder) as entries:
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
    return _entry_of(mode, Path(item.path))


def _entry_of(mode: int, path: Path) -> Entry:
    if stat.S_ISLNK(mode):
        try:
            return Entry(kind=EntryKind.SYMLINK, detail=str(path.readlink()))
        except OSError:
            return Entry(kind=EntryKind.SYMLINK)
    if stat.S_ISDIR(mode):
        return Entry(kind=EntryKind.DIRECTORY)
    if stat.S_ISREG(mode):
        return Entry(kind=EntryKind.FILE)
    if stat.S_ISFIFO(mode):
        return Entry(kind=EntryKind.FIFO)
    if stat.S_ISSOCK(mode):
        return Entry(kind=EntryKind.SOCKET)
    return Entry(kind=EntryKind.DEVICE)


def _read(path: Path, shown: str) -> bytes | Problem:
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
            return _not_a_file(shown, entry)
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
            return _not_a_file(shown, _entry_of(mode, path))
        return handle.read(MAX_BYTES + 1)


def _not_a_file(shown: str, entry: Entry) -> Problem:
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


def _is_yaml(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in _YAML_SUFFIXES


def _ignored(service: str, shown: str, message: str, hint: str) -> IgnoredFile:
    problem = Problem(
        file=shown,
        path="",
        message=f"ignored: {message}",
        hint=hint,
        severity=Severity.WARNING,
        code="file.ignored",
    )
    return IgnoredFile(service=service, problem=problem)


@dataclass(frozen=True, kw_only=True)
class Survey:
    """What a listing of blueprints/ holds for the loader."""

    #: The blueprint files to read (regular files at blueprints/<service>/blueprint.yaml).
    files: list[str] = field(default_factory=list)
    #: Paths where a service's blueprint should be but something else is: (path, service,
    #: the problem). Each is an error for that service alone.
    refused: list[tuple[str, str, Problem]] = field(default_factory=list)
    #: Files the loader does not read (each a warning).
    ignored: list[IgnoredFile] = field(default_factory=list)
    #: The policies file's path when it is a regular file; else None and, when something
    #: else is in its way, `policies_problem`.
    policies: str | None = None
    policies_problem: Problem | None = None


def survey(listing: Listing) -> Survey:
    """The blueprint files a listing holds, and what under blueprints/ the loader ignores or
    refuses.

    `blueprints/<service>/blueprint.yaml` is read when it is a regular file, and so is
    `blueprints/governance/policies.yaml`; anything else in their place (a link, a folder, a
    pipe, a device) is an error for that service (or for the policies) naming what it is. Any
    other YAML file, and a folder without a blueprint.yaml, is a warning with the path it
    should have. A top-level entry without a dot in its name that is neither a folder nor a
    regular file (a link, say) stands where a service's folder would: an error for that
    service. Nothing is opened here.
    """
    result = Survey()
    policies_path = POLICIES_PATH.as_posix()
    governance = POLICIES_PATH.parent.as_posix()
    for path in (BLUEPRINTS_DIR, governance, policies_path):
        entry = listing.get(path)
        wanted = EntryKind.FILE if path == policies_path else EntryKind.DIRECTORY
        if entry is None:
            break
        if entry.kind is not wanted:
            problem = _not_a_file(path, entry)
            if wanted is EntryKind.DIRECTORY:
                problem = Problem(
                    file=path,
                    path="",
                    message=f"is {entry.describe()}, not a folder, so {policies_path} is not read",
                    hint=f"make {path} a folder in the repository itself",
                    code="file.kind",
                )
            result = replace(result, policies_problem=problem)
            break
    else:
        result = replace(result, policies=policies_path)
    top = listing.get(BLUEPRINTS_DIR)
    if top is None or top.kind is not EntryKind.DIRECTORY:
        return result
    children: dict[str, list[str]] = {}
    for path in listing:
        parts = path.split("/")
        if len(parts) >= 2 and parts[0] == BLUEPRINTS_DIR:
            children.setdefault(parts[1], []).append(path)
    for name in sorted(children):
        folder = f"{BLUEPRINTS_DIR}/{name}"
        entry = listing[folder]
        if name == PurePosixPath(governance).name and entry.kind is EntryKind.DIRECTORY:
            result.ignored.extend(_governance(listing, children[name]))
        elif entry.kind is EntryKind.DIRECTORY:
            _service_folder(listing, name, children[name], result)
        elif entry.kind is EntryKind.UNREADABLE:
            result.refused.append((folder, name, _not_a_file(folder, entry)))
        elif "." not in name and entry.kind is not EntryKind.FILE:
            problem = replace(
                _not_a_file(folder, entry),
                message=f"is {entry.describe()}, not a folder, so no blueprint is read from it",
                hint=f"make {folder} a folder holding {BLUEPRINT_FILE}",
            )
            result.refused.append((folder, name, problem))
        elif _is_yaml(name):
            result.ignored.append(_top_level(folder))
    return result


def _service_folder(listing: Listing, name: str, paths: list[str], result: Survey) -> None:
    folder = f"{BLUEPRINTS_DIR}/{name}"
    blueprint = f"{folder}/{BLUEPRINT_FILE}"
    entry = listing.get(blueprint)
    if entry is not None and entry.kind is EntryKind.FILE:
        result.files.append(blueprint)
    elif entry is not None:
        result.refused.append((blueprint, name, _not_a_file(blueprint, entry)))
    unreadable = [p for p in paths if p != folder and listing[p].kind is EntryKind.UNREADABLE]
    if entry is None and unreadable:
        # The blueprint may be in the part that cannot be listed: an error, not silence.
        first = unreadable[0]
        result.refused.append((first, name, _not_a_file(first, listing[first])))
        return
    others = [
        p
        for p in paths
        if p not in (folder, blueprint)
        and _is_yaml(p)
        and listing[p].kind is not EntryKind.DIRECTORY
    ]
    for other in others:
        result.ignored.append(_stray(name, other, blueprint, entry is not None))
    if entry is None and not others:
        result.ignored.append(
            _ignored(
                name,
                folder,
                f"the folder has no {BLUEPRINT_FILE}, so no service is read from it",
                f"add {blueprint}, or remove the folder",
            )
        )


def _top_level(path: str) -> IgnoredFile:
    """A YAML file directly under blueprints/: most likely a blueprint without its folder."""
    stem = PurePosixPath(path).stem
    if stem == "policies":
        return _ignored(
            POLICIES_PATH.parent.name,
            path,
            f"the global policies are read only from {POLICIES_PATH}",
            f"move it to {POLICIES_PATH}",
        )
    service = "<service>" if stem == "blueprint" else stem
    return _ignored(
        stem,
        path,
        f"a blueprint is read only from its service's folder, as "
        f"blueprints/<service>/{BLUEPRINT_FILE}",
        f"move it to blueprints/{service}/{BLUEPRINT_FILE}",
    )


def _stray(service: str, path: str, blueprint: str, found: bool) -> IgnoredFile:
    """A YAML file in a service's folder that is not its blueprint.yaml."""
    if PurePosixPath(path).parent != PurePosixPath(blueprint).parent:
        return _ignored(
            service,
            path,
            f"blueprints are read only as blueprints/<service>/{BLUEPRINT_FILE}, one folder deep",
            f"move it to blueprints/<service>/{BLUEPRINT_FILE}, or remove it",
        )
    if found:
        return _ignored(
            service,
            path,
            f"only {BLUEPRINT_FILE} is read in a service's folder",
            f"move what it says into {blueprint}, or remove it",
        )
    return _ignored(
        service,
        path,
        f"the blueprint of {service} is read only from {blueprint}",
        f"rename it to {blueprint}",
    )


def _governance(listing: Listing, paths: list[str]) -> list[IgnoredFile]:
    policies = POLICIES_PATH.as_posix()
    folder = POLICIES_PATH.parent.as_posix()
    found = policies in listing and listing[policies].kind is EntryKind.FILE
    ignored = []
    for path in paths:
        if path in (folder, policies) or not _is_yaml(path):
            continue
        if listing[path].kind is EntryKind.DIRECTORY:
            continue
        if found or PurePosixPath(path).parent.as_posix() != folder:
            message = f"only {POLICIES_PATH} is read here"
            hint = f"move what it says into {POLICIES_PATH}, or remove it"
        else:
            message = f"the global policies are read only from {POLICIES_PATH}"
            hint = f"rename it to {POLICIES_PATH}"
        ignored.append(_ignored(PurePosixPath(folder).name, path, message, hint))
    return ignored


def discover(root: Path, paths: Sequence[Path] = ()) -> tuple[Survey, list[Path], list[Problem]]:
    """What the working tree's blueprints/ holds (the survey, narrowed to `paths` when given),
    the files outside that survey that `paths` name, and the paths that name no blueprint
    (errors).

    Inside blueprints/, a folder gets exactly the files `run` would read there, so validating
    a folder never passes a file that a cycle would ignore.
    """
    found = survey(list_worktree(root))
    if not paths:
        return found, [], []
    top = _absolute(root)
    base = top / BLUEPRINTS_DIR
    chosen: dict[str, None] = {}
    refused: list[tuple[str, str, Problem]] = []
    ignored: list[IgnoredFile] = []
    outside: dict[Path, None] = {}
    problems: list[Problem] = []
    for target in paths:
        where = _place(target)
        shown = _relative(where, top)
        if not os.path.lexists(target):
            problems.append(
                _path_problem(
                    shown,
                    "no such file or folder",
                    "name a blueprint file or a service folder, such as blueprints/<service>",
                )
            )
            continue
        refused += [
            item
            for item in found.refused
            if (top / item[0]).is_relative_to(where) and item not in refused
        ]
        ignored += [
            item
            for item in found.ignored
            if (top / item.problem.file).is_relative_to(where) and item not in ignored
        ]
        if where == top / POLICIES_PATH:
            continue  # validated with every run
        if where == top / POLICIES_PATH.parent:
            problems.append(
                _path_problem(
                    shown,
                    "holds no blueprint; the policies file is checked with every validate",
                    "run `reconciler validate` to check everything, or name a service folder",
                )
            )
            continue
        inside = [path for path in found.files if (top / path).is_relative_to(where)]
        named = any((top / item[0]).is_relative_to(where) for item in refused)
        if inside or named:
            chosen.update(dict.fromkeys(inside))
        elif target.is_dir() and where.is_relative_to(base):
            problems.append(_no_blueprint(shown, where, base))
        elif target.is_dir():
            here = [target / BLUEPRINT_FILE] if (target / BLUEPRINT_FILE).is_file() else []
            here += sorted(target.glob(f"*/{BLUEPRINT_FILE}"))
            outside.update(dict.fromkeys(here))
            if not here:
                problems.append(_no_blueprint(shown, where, base))
        else:
            outside[where] = None  # a file named as such: read as given (never opened blindly)
    narrowed = Survey(
        files=list(chosen),
        refused=refused,
        ignored=ignored,
        policies=found.policies,
        policies_problem=found.policies_problem,
    )
    return narrowed, list(outside), problems


def _place(path: Path) -> Path:
    """Where `path` is, with its folders resolved but not its last part, so a link named on
    the command line is judged as the link it is, not as what it points to."""
    return Path(os.path.normpath(_absolute(path.parent) / path.name))


def _path_problem(shown: str, message: str, hint: str) -> Problem:
    return Problem(file=shown, path="", message=message, hint=hint, code="path")


def _no_blueprint(shown: str, where: Path, base: Path) -> Problem:
    if where.parent == base:
        hint = f"put the service's blueprint at {shown}/{BLUEPRINT_FILE}"
    else:
        hint = (
            f"name a service folder; blueprints are read from blueprints/<service>/{BLUEPRINT_FILE}"
        )
    return _path_problem(shown, f"holds no {BLUEPRINT_FILE}", hint)


_Entries = list[tuple[str, str | None, bytes | Problem | None]]


def _is_blueprint_path(path: str) -> bool:
    parts = path.split("/")
    return len(parts) == 3 and parts[0] == BLUEPRINTS_DIR and parts[2] == BLUEPRINT_FILE


def revision_listing(entries: Mapping[str, str], links: Mapping[str, str]) -> dict[str, Entry]:
    """A listing from a commit's entries by kind ("file", "directory", "symlink",
    "submodule") and its links' targets."""
    return {
        path: Entry(kind=EntryKind(kind), detail=links.get(path, ""))
        for path, kind in entries.items()
    }


def uncommitted_changes(root: Path, blobs: Mapping[str, str]) -> list[tuple[str, str]]:
    """The files the loader reads whose working-tree content is not what a commit holds (its
    blob ids by path): each with "modified", "new" or "deleted". Only what changes authority
    counts (blueprints and the policies, not a README); nothing is opened but regular files.

    This compares content, as git does, without git's index: what a person sees in the files
    is what a cycle would leave aside. A file checked out with CRLF line ends (core.autocrlf)
    matches its LF blob.
    """
    found = survey(list_worktree(root))
    here = {*found.files, *([found.policies] if found.policies else [])}
    elsewhere = {path for path, _service, _problem in found.refused}
    changes = []
    for path in sorted(here | set(blobs)):  # a pipe or a link the commit has not: not news
        if path not in blobs:
            changes.append((path, "new"))
        elif path not in here:
            changes.append((path, "modified" if path in elsewhere else "deleted"))
        else:
            data = _read(root / path, path)
            if isinstance(data, Problem) or not _same_blob(data, blobs[path]):
                changes.append((path, "modified"))
    return changes


def _same_blob(data: bytes, blob: str) -> bool:
    """Whether `data` is the content of git blob `blob` (SHA-1 or SHA-256 repositories)."""
    for text in dict.fromkeys((data, data.replace(b"\r\n", b"\n"))):
        algorithm = hashlib.sha256 if len(blob) == 64 else hashlib.sha1
        digest = algorithm(b"blob %d\0" % len(text), usedforsecurity=False)
        digest.update(text)
        if digest.hexdigest() == blob:
            return True
    return False


def uncommitted_notice(changes: Sequence[tuple[str, str]], commit: str) -> Problem | None:
    """The warning for edits under blueprints/ that a cycle leaves aside, or None."""
    if not changes:
        return None
    shown = ", ".join(f"{path} ({how})" for path, how in changes[:5])
    more = f" and {len(changes) - 5} more" if len(changes) > 5 else ""
    return Problem(
        file=f"{BLUEPRINTS_DIR}/",
        path="",
        message=f"uncommitted changes are not used: {shown}{more}; the blueprints and "
        f"policies that count are those committed at HEAD ({commit[:12]})",
        hint="commit them (through a pull request when they widen authority) to have them "
        "count; `reconciler validate` checks them as they are now",
        severity=Severity.WARNING,
        code="blueprints.uncommitted",
    )


def load_fleet(
    root: Path,
    paths: Sequence[Path] = (),
    *,
    shard: Shard | None = None,
    cache: ValidationCache | None = None,
) -> Fleet:
    """Load the global policies and the blueprints of the working tree; never raises for a bad
    blueprint. This is what `validate` checks: edits before they are committed. A cycle judges
    under what is committed instead (`load_fleet_files` with the files of HEAD).

    With a shard, only the blueprints of the services it owns are read: a blueprint's folder
    is its service's name, so a shard of a large fleet parses its own part and no more.
    (`validate`, which reads everything, still catches problems across shards.)
    """
    found, outside, problems = discover(root, paths)
    raw_policies: bytes | Problem | None = found.policies_problem
    if found.policies is not None:
        raw_policies = _read(root / found.policies, found.policies)
    entries: _Entries = []
    for shown, service, problem in found.refused:
        if shard is None or shard.owns(service):
            entries.append((shown, service, problem))
    for shown in found.files:
        service = PurePosixPath(shown).parent.name
        if shard is None or shard.owns(service):
            entries.append((shown, service, _read(root / shown, shown)))
    for path in outside:
        expected = path.parent.name if path.name == BLUEPRINT_FILE else None
        if shard is not None and not shard.owns(expected or path.stem):
            continue
        shown = _relative(path, root)
        entries.append((shown, expected, _read(path, shown) if os.path.lexists(path) else None))
    ignored = [item for item in found.ignored if shard is None or shard.owns(item.service)]
    return _load(root, raw_policies, entries, found=problems, ignored=ignored, cache=cache)


def load_fleet_files(
    root: Path,
    files: Mapping[str, bytes],
    *,
    listing: Listing | None = None,
    commit: str = "",
    blobs: Mapping[str, str] | None = None,
    shard: Shard | None = None,
    notices: Sequence[Problem] = (),
    cache: ValidationCache | None = None,
) -> Fleet:
    """The same, from file contents by repository path (the blobs of a git revision, say):
    `blueprints/governance/policies.yaml` and every `blueprints/<service>/blueprint.yaml`.

    With the revision's `listing`, what it holds is surveyed as in a working tree, so a link
    or a folder where a blueprint should be is an error for its service and a stray file a
    warning. `commit` and `blobs` (git blob ids by path) say where the files came from; every
    blueprint carries them (`Blueprint.provenance`), and so every record judged under it.
    """
    if listing is None:  # the loader's own files alone, each a regular file in its folders
        read = [p for p in files if p == POLICIES_PATH.as_posix() or _is_blueprint_path(p)]
        synthetic = {path: Entry(kind=EntryKind.FILE) for path in read}
        for path in read:
            for parent in PurePosixPath(path).parents:
                if parent.as_posix() != ".":
                    synthetic.setdefault(parent.as_posix(), Entry(kind=EntryKind.DIRECTORY))
        listing = synthetic
    found = survey(listing)
    raw_policies: bytes | Problem | None = found.policies_problem
    if found.policies is not None:
        raw_policies = files.get(found.policies)
    entries: _Entries = []
    for shown, service, problem in found.refused:
        if shard is None or shard.owns(service):
            entries.append((shown, service, problem))
    for shown in found.files:
        service = PurePosixPath(shown).parent.name
        if shard is None or shard.owns(service):
            entries.append((shown, service, files.get(shown)))
    ignored = [item for item in found.ignored if shard is None or shard.owns(item.service)]
    fleet = _load(root, raw_policies, entries, ignored=ignored, cache=cache)
    known = blobs or {}

    def provenance(source: str) -> Provenance:
        paths = (source, POLICIES_PATH.as_posix())
        return Provenance(commit=commit, blobs={p: known[p] for p in paths if p in known})

    judged = tuple(replace(b, provenance=provenance(b.source)) for b in fleet.blueprints)
    return replace(fleet, blueprints=judged, commit=commit, notices=tuple(notices))


def cache_key(data: bytes, shown: str, expected: str | None, policies: str) -> str:
    """Everything that decides what loading a blueprint gives, as one key: its content (what
    its git blob id stands for), where it is and the service its folder names, and the global
    policies it is checked against (`policies_key`). The loader's own version is the cache's
    business."""
    digest = hashlib.sha256(data)
    digest.update(f"\0{shown}\0{expected or ''}\0{policies}".encode())
    return digest.hexdigest()


def policies_key(raw_policies: bytes | Problem | None, unloaded: str) -> str:
    """The global policies as a blueprint's load depends on them: their content, or why
    there are none."""
    if isinstance(raw_policies, bytes):
        return hashlib.sha256(raw_policies).hexdigest() + f":{unloaded}"
    return f"none:{unloaded}"


def _policies(
    data: bytes, cache: ValidationCache | None
) -> tuple[GlobalPolicies | None, tuple[Problem, ...]]:
    """The global policies file loaded, or taken from the cache by its content."""
    key = "policies\0" + hashlib.sha256(data).hexdigest()
    cached = cache.get(key) if cache is not None else None
    if cached is not None and (cached[0] is None or isinstance(cached[0], GlobalPolicies)):
        return cached[0], cached[1]
    from reconciler.core.blueprint.policies import load_policies  # see _load

    policies, read = load_policies(data, source=str(POLICIES_PATH))
    if cache is not None:
        cache.put(key, (policies, tuple(read)))
    return policies, tuple(read)


def _builtin_policies() -> GlobalPolicies:
    from reconciler.core.blueprint.policies import builtin_policies

    return builtin_policies()


def _load(
    root: Path,
    raw_policies: bytes | Problem | None,
    entries: Sequence[tuple[str, str | None, bytes | Problem | None]],
    *,
    found: Sequence[Problem] = (),
    ignored: Sequence[IgnoredFile] = (),
    cache: ValidationCache | None = None,
) -> Fleet:
    """The loading itself, on contents already read: (shown path, expected service name,
    bytes, or the problem reading them, or None for a file that does not exist). `found` are
    the problems of finding the files, and `ignored` what was left unread. With a `cache`,
    a blueprint whose content, path and policies were loaded before is not loaded again."""
    problems: list[Problem] = []
    policies: GlobalPolicies | None = None
    unloaded = ""
    if raw_policies is None:
        unloaded = "missing"
        problems.append(
            Problem(
                file=str(POLICIES_PATH),
                path="",
                message="the global policies file does not exist; `run`, `plan` and "
                "`request` refuse to act without it",
                hint=POLICIES_HINT,
                code="policies.missing",
            )
        )
    elif isinstance(raw_policies, Problem):
        problems.append(raw_policies)
    else:
        policies, read = _policies(raw_policies, cache)
        problems.extend(read)
    if raw_policies is not None and policies is None:
        unloaded = "invalid"
    policies_ok = policies is not None or raw_policies is None
    # The loader (YAML, the schemas, every section's checks) is imported only when something
    # is loaded: a run whose blueprints and policies all come from the cache never needs it.
    effective = policies or _builtin_policies()
    problems.extend(found)
    problems.extend(item.problem for item in ignored)

    blueprints: list[Blueprint] = []
    texts: dict[str, str] = {}
    broken: dict[str, str] = {}
    files: list[str] = []
    against = policies_key(raw_policies, unloaded)
    for shown, expected, data in entries:
        files.append(shown)
        if data is None:
            problems.append(
                Problem(file=shown, path="", message="no such file", hint="check the path")
            )
            continue
        if isinstance(data, Problem):
            problems.append(data)
            broken[expected or shown] = shown
            continue
        key = None
        result: LoadResult | None = None
        if cache is not None:
            key = cache_key(data, shown, expected, against)
            hit = cache.get(key)
            if hit is not None and (hit[0] is None or isinstance(hit[0], Blueprint)):
                result = (hit[0], hit[1])
        if result is None:
            from reconciler.core.blueprint.loading import load_blueprint

            loaded, found_problems = load_blueprint(
                data,
                source=shown,
                policies=effective,
                expected_name=expected,
                policies_unloaded=unloaded,
            )
            result = (loaded, tuple(found_problems))
            if cache is not None and key is not None:
                cache.put(key, result)
        blueprint, outcome = result
        problems.extend(outcome)
        if blueprint is None:
            broken[expected or shown] = shown
        else:
            blueprints.append(blueprint)
            texts[blueprint.name] = data.decode("utf-8").removeprefix("\ufeff")
    if cache is not None:
        cache.save()
    duplicates = check_unique_names(blueprints)
    problems.extend(duplicates)
    if duplicates:
        clashing = {p.file for p in duplicates}
        for blueprint in blueprints:
            if blueprint.source in clashing:
                broken[blueprint.name] = blueprint.source
        blueprints = [b for b in blueprints if b.source not in clashing]
    return Fleet(
        root=root,
        policies=effective,
        policies_ok=policies_ok,
        blueprints=tuple(blueprints),
        problems=tuple(problems),
        broken=broken,
        files=tuple(files),
        texts=texts,
        policies_found=raw_policies is not None,
        ignored=tuple(ignored),
    )
