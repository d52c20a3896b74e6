"""Which files under blueprints/ the loader reads, and what it ignores (a warning naming the
path a file should have) or refuses (an error for that service alone), from a listing alone."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from reconciler.core.problems import Problem, Severity
from reconciler.shell.listing import (
    BLUEPRINT_FILE,
    BLUEPRINTS_DIR,
    POLICIES_PATH,
    EntryKind,
    Listing,
    absolute,
    is_yaml,
    list_worktree,
    not_a_file,
    relative,
)


@dataclass(frozen=True, kw_only=True)
class IgnoredFile:
    """A file or folder under blueprints/ that looks meant for the reconciler but is not where
    it reads: `validate` warns about it, and `run` notes it in the row of its service."""

    #: The service it seems meant for: its folder's name, or a top-level file's stem.
    service: str
    problem: Problem


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
    policies, problem = _policies_file(listing)
    result = Survey(policies=policies, policies_problem=problem)
    top = listing.get(BLUEPRINTS_DIR)
    if top is None or top.kind is not EntryKind.DIRECTORY:
        return result
    children: dict[str, list[str]] = {}
    for path in listing:
        parts = path.split("/")
        if len(parts) >= 2 and parts[0] == BLUEPRINTS_DIR:
            children.setdefault(parts[1], []).append(path)
    governance = POLICIES_PATH.parent.name
    for name in sorted(children):
        folder = f"{BLUEPRINTS_DIR}/{name}"
        entry = listing[folder]
        if name == governance and entry.kind is EntryKind.DIRECTORY:
            result.ignored.extend(_governance(listing, children[name]))
        elif entry.kind is EntryKind.DIRECTORY:
            _service_folder(listing, name, children[name], result)
        elif entry.kind is EntryKind.UNREADABLE:
            result.refused.append((folder, name, not_a_file(folder, entry)))
        elif "." not in name and entry.kind is not EntryKind.FILE:
            problem = replace(
                not_a_file(folder, entry),
                message=f"is {entry.describe()}, not a folder, so no blueprint is read from it",
                hint=f"make {folder} a folder holding {BLUEPRINT_FILE}",
            )
            result.refused.append((folder, name, problem))
        elif is_yaml(name):
            result.ignored.append(_top_level(folder))
    return result


def _policies_file(listing: Listing) -> tuple[str | None, Problem | None]:
    """The policies file's path when it is a regular file in folders; else None, and the
    problem when something else is in its way (nothing is wrong with a missing file here)."""
    policies_path = POLICIES_PATH.as_posix()
    for path in (BLUEPRINTS_DIR, POLICIES_PATH.parent.as_posix(), policies_path):
        entry = listing.get(path)
        wanted = EntryKind.FILE if path == policies_path else EntryKind.DIRECTORY
        if entry is None:
            return None, None
        if entry.kind is not wanted:
            if wanted is EntryKind.FILE:
                return None, not_a_file(path, entry)
            return None, Problem(
                file=path,
                path="",
                message=f"is {entry.describe()}, not a folder, so {policies_path} is not read",
                hint=f"make {path} a folder in the repository itself",
                code="file.kind",
            )
    return policies_path, None


def _service_folder(listing: Listing, name: str, paths: list[str], result: Survey) -> None:
    folder = f"{BLUEPRINTS_DIR}/{name}"
    blueprint = f"{folder}/{BLUEPRINT_FILE}"
    entry = listing.get(blueprint)
    if entry is not None and entry.kind is EntryKind.FILE:
        result.files.append(blueprint)
    elif entry is not None:
        result.refused.append((blueprint, name, not_a_file(blueprint, entry)))
    unreadable = [p for p in paths if p != folder and listing[p].kind is EntryKind.UNREADABLE]
    if entry is None and unreadable:
        # The blueprint may be in the part that cannot be listed: an error, not silence.
        first = unreadable[0]
        result.refused.append((first, name, not_a_file(first, listing[first])))
        return
    others = [
        p
        for p in paths
        if p not in (folder, blueprint)
        and is_yaml(p)
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
        if path in (folder, policies) or not is_yaml(path):
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
    picked = _Picked(found=found, top=absolute(root))
    for target in paths:
        picked.add(target)
    narrowed = Survey(
        files=list(picked.chosen),
        refused=picked.refused,
        ignored=picked.ignored,
        policies=found.policies,
        policies_problem=found.policies_problem,
    )
    return narrowed, list(picked.outside), picked.problems


@dataclass
class _Picked:
    """What the paths named so far pick out of the working tree's survey."""

    found: Survey
    top: Path
    chosen: dict[str, None] = field(default_factory=dict)
    refused: list[tuple[str, str, Problem]] = field(default_factory=list)
    ignored: list[IgnoredFile] = field(default_factory=list)
    #: Files outside the survey that a path names, read as given.
    outside: dict[Path, None] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def add(self, target: Path) -> None:
        top, found = self.top, self.found
        base = top / BLUEPRINTS_DIR
        where = _place(target)
        shown = relative(where, top)
        if not os.path.lexists(target):
            self.problems.append(
                _path_problem(
                    shown,
                    "no such file or folder",
                    "name a blueprint file or a service folder, such as blueprints/<service>",
                )
            )
            return
        self.refused += [
            item
            for item in found.refused
            if (top / item[0]).is_relative_to(where) and item not in self.refused
        ]
        self.ignored += [
            item
            for item in found.ignored
            if (top / item.problem.file).is_relative_to(where) and item not in self.ignored
        ]
        if where == top / POLICIES_PATH:
            return  # validated with every run
        if where == top / POLICIES_PATH.parent:
            self.problems.append(
                _path_problem(
                    shown,
                    "holds no blueprint; the policies file is checked with every validate",
                    "run `reconciler validate` to check everything, or name a service folder",
                )
            )
            return
        inside = [path for path in found.files if (top / path).is_relative_to(where)]
        named = any((top / item[0]).is_relative_to(where) for item in self.refused)
        if inside or named:
            self.chosen.update(dict.fromkeys(inside))
        elif target.is_dir() and where.is_relative_to(base):
            self.problems.append(_no_blueprint(shown, where, base))
        elif target.is_dir():
            here = [target / BLUEPRINT_FILE] if (target / BLUEPRINT_FILE).is_file() else []
            here += sorted(target.glob(f"*/{BLUEPRINT_FILE}"))
            self.outside.update(dict.fromkeys(here))
            if not here:
                self.problems.append(_no_blueprint(shown, where, base))
        else:
            self.outside[where] = None  # a file named as such: read as given (never opened blindly)


def _place(path: Path) -> Path:
    """Where `path` is, with its folders resolved but not its last part, so a link named on
    the command line is judged as the link it is, not as what it points to."""
    return Path(os.path.normpath(absolute(path.parent) / path.name))


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
