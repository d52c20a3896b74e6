"""Finding and reading the blueprints of a repository: the file I/O in front of the loader.

A broken blueprint must never stop the others, so loading a fleet never raises for one bad
file: it returns the blueprints that loaded and every problem found. Only a missing or broken
global policies file is fatal for a cycle, because without it the shared forbidden list,
the approvers and the default namespace are unknown and acting would be unsafe; `validate`
still reports it alongside everything else.

The loader reads exactly `blueprints/<service>/blueprint.yaml` and
`blueprints/governance/policies.yaml`. Anything else under blueprints/ that looks meant for
it (a `blueprint.yml`, a `web.yaml` beside the folders, a folder without a blueprint) is
reported as a warning naming the path it should have, so a file is never dropped in silence.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.core.blueprint import Blueprint, GlobalPolicies
from reconciler.core.errors import BlueprintError, ConfigError
from reconciler.core.loading import (
    builtin_policies,
    check_unique_names,
    load_blueprint,
    load_policies,
)
from reconciler.core.problems import Problem, Severity
from reconciler.core.sharding import Shard
from reconciler.core.yamlsafe import MAX_BYTES

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
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "blueprints").is_dir():
            return candidate
    raise ConfigError(
        f"no blueprints/ directory in {here} or its parents",
        hint="run inside a blueprint repository, or pass --repo DIR",
    )


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)


def _read(path: Path, shown: str) -> bytes | Problem:
    """Read at most a little over the size limit, so a huge file cannot exhaust memory."""
    try:
        with path.open("rb") as handle:
            return handle.read(MAX_BYTES + 1)
    except OSError as error:
        return Problem(
            file=shown,
            path="",
            message=f"cannot read the file: {error.strerror or error}",
            hint="check the path and its permissions",
            code="io",
        )


def _is_yaml(path: Path) -> bool:
    return path.suffix.lower() in _YAML_SUFFIXES


def _ignored(service: str, path: Path, root: Path, message: str, hint: str) -> IgnoredFile:
    problem = Problem(
        file=_relative(path, root),
        path="",
        message=f"ignored: {message}",
        hint=hint,
        severity=Severity.WARNING,
        code="file.ignored",
    )
    return IgnoredFile(service=service, problem=problem)


def _visible(folder: Path) -> list[os.DirEntry[str]]:
    """What a folder holds, by name, without hidden entries (.git, .DS_Store). Directory
    entries carry their type, so a fleet of thousands of folders costs no extra stat calls."""
    with os.scandir(folder) as entries:
        return sorted((e for e in entries if not e.name.startswith(".")), key=lambda e: e.name)


def _below(folder: Path) -> list[Path]:
    """Every YAML file under `folder`, however deep, outside hidden folders."""
    found: list[Path] = []
    for entry in _visible(folder):
        if entry.is_dir(follow_symlinks=False):
            found += _below(Path(entry.path))
        elif entry.is_file() and _is_yaml(Path(entry.name)):
            found.append(Path(entry.path))
    return found


def survey(root: Path) -> tuple[list[Path], list[IgnoredFile]]:
    """The blueprint files of the repository, and what under blueprints/ the loader ignores.

    One pass over the folder: `blueprints/<service>/blueprint.yaml` is read, and so is
    `blueprints/governance/policies.yaml` (by `load_fleet`); any other YAML file, and a folder
    without a blueprint.yaml, is reported with the path it should have.
    """
    base = root / "blueprints"
    files: list[Path] = []
    ignored: list[IgnoredFile] = []
    if not base.is_dir():
        return files, ignored
    for entry in _visible(base):
        name, path = entry.name, base / entry.name
        if entry.is_dir() and name == POLICIES_PATH.parent.name:
            ignored += _governance(path, root)
        elif entry.is_dir():
            yaml_files = _below(path)
            blueprint = path / BLUEPRINT_FILE
            found = blueprint in yaml_files
            if found:
                files.append(blueprint)
            others = [other for other in yaml_files if other != blueprint]
            for other in others:
                ignored.append(_stray(name, other, root, blueprint, found))
            if not found and not others:
                ignored.append(
                    _ignored(
                        name,
                        path,
                        root,
                        f"the folder has no {BLUEPRINT_FILE}, so no service is read from it",
                        f"add blueprints/{name}/{BLUEPRINT_FILE}, or remove the folder",
                    )
                )
        elif entry.is_file() and _is_yaml(path):
            ignored.append(_top_level(path, root))
    return files, ignored


def _top_level(path: Path, root: Path) -> IgnoredFile:
    """A YAML file directly under blueprints/: most likely a blueprint without its folder."""
    if path.stem == "policies":
        return _ignored(
            POLICIES_PATH.parent.name,
            path,
            root,
            f"the global policies are read only from {POLICIES_PATH}",
            f"move it to {POLICIES_PATH}",
        )
    service = "<service>" if path.stem == "blueprint" else path.stem
    return _ignored(
        path.stem,
        path,
        root,
        f"a blueprint is read only from its service's folder, as "
        f"blueprints/<service>/{BLUEPRINT_FILE}",
        f"move it to blueprints/{service}/{BLUEPRINT_FILE}",
    )


def _stray(service: str, path: Path, root: Path, blueprint: Path, found: bool) -> IgnoredFile:
    """A YAML file in a service's folder that is not its blueprint.yaml."""
    expected = _relative(blueprint, root)
    if path.parent != blueprint.parent:
        return _ignored(
            service,
            path,
            root,
            f"blueprints are read only as blueprints/<service>/{BLUEPRINT_FILE}, one folder deep",
            f"move it to blueprints/<service>/{BLUEPRINT_FILE}, or remove it",
        )
    if found:
        return _ignored(
            service,
            path,
            root,
            f"only {BLUEPRINT_FILE} is read in a service's folder",
            f"move what it says into {expected}, or remove it",
        )
    return _ignored(
        service,
        path,
        root,
        f"the blueprint of {service} is read only from {expected}",
        f"rename it to {expected}",
    )


def _governance(folder: Path, root: Path) -> list[IgnoredFile]:
    policies = root / POLICIES_PATH
    found = policies.is_file()
    ignored = []
    for path in _below(folder):
        if path == policies:
            continue
        if found or path.parent != folder:
            message = f"only {POLICIES_PATH} is read here"
            hint = f"move what it says into {POLICIES_PATH}, or remove it"
        else:
            message = f"the global policies are read only from {POLICIES_PATH}"
            hint = f"rename it to {POLICIES_PATH}"
        ignored.append(_ignored(folder.name, path, root, message, hint))
    return ignored


def discover(
    root: Path, paths: Sequence[Path] = ()
) -> tuple[list[Path], list[IgnoredFile], list[Problem]]:
    """The blueprint files under `paths` (files or folders), or all of the repository's;
    what the loader ignores there; and the paths that name no blueprint (errors).

    Inside blueprints/, a path gets exactly the files `run` would read there, so validating
    a folder never passes a file that a cycle would ignore.
    """
    files, ignored = survey(root)
    if not paths:
        return files, ignored, []
    base = (root / "blueprints").resolve()
    resolved = [(path.resolve(), path) for path in files]
    ignored_at = [((root / item.problem.file).resolve(), item) for item in ignored]
    chosen: dict[Path, None] = {}
    chosen_ignored: list[IgnoredFile] = []
    problems: list[Problem] = []
    for target in paths:
        where = target.resolve()
        shown = _relative(target, root)
        inside = [path for at, path in resolved if at.is_relative_to(where)]
        if not target.exists():
            problems.append(
                _path_problem(
                    shown,
                    "no such file or folder",
                    "name a blueprint file or a service folder, such as blueprints/<service>",
                )
            )
            continue
        chosen_ignored += [
            item
            for at, item in ignored_at
            if at.is_relative_to(where) and item not in chosen_ignored
        ]
        if where == (root / POLICIES_PATH).resolve():
            continue  # validated with every run
        if where == (root / POLICIES_PATH.parent).resolve():
            problems.append(
                _path_problem(
                    shown,
                    "holds no blueprint; the policies file is checked with every validate",
                    "run `reconciler validate` to check everything, or name a service folder",
                )
            )
        elif target.is_dir() and where.is_relative_to(base):
            chosen.update(dict.fromkeys(inside))
            if not inside:
                problems.append(_no_blueprint(shown, where, base))
        elif target.is_dir():
            outside = [target / BLUEPRINT_FILE] if (target / BLUEPRINT_FILE).is_file() else []
            outside += sorted(target.glob(f"*/{BLUEPRINT_FILE}"))
            chosen.update(dict.fromkeys(outside))
            if not outside:
                problems.append(_no_blueprint(shown, where, base))
        else:
            chosen[target] = None
    return list(chosen), chosen_ignored, problems


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


def load_fleet(root: Path, paths: Sequence[Path] = (), *, shard: Shard | None = None) -> Fleet:
    """Load the global policies and the blueprints; never raises for a bad blueprint.

    With a shard, only the blueprints of the services it owns are read: a blueprint's folder
    is its service's name, so a shard of a large fleet parses its own part and no more.
    (`validate`, which reads everything, still catches problems across shards.)
    """
    policies_file = root / POLICIES_PATH
    raw_policies = _read(policies_file, str(POLICIES_PATH)) if policies_file.exists() else None
    entries: list[tuple[str, str | None, bytes | Problem | None]] = []
    found, ignored, problems = discover(root, paths)
    for path in found:
        expected = path.parent.name if path.name == BLUEPRINT_FILE else None
        if shard is not None and not shard.owns(expected or path.stem):
            continue
        shown = _relative(path, root)
        entries.append((shown, expected, _read(path, shown) if path.exists() else None))
    if shard is not None:
        ignored = [item for item in ignored if shard.owns(item.service)]
    return _load(root, raw_policies, entries, found=problems, ignored=ignored)


def load_fleet_files(root: Path, files: Mapping[str, bytes]) -> Fleet:
    """The same, from file contents by repository path (the blobs of a git revision, say):
    `blueprints/governance/policies.yaml` and every `blueprints/<service>/blueprint.yaml`."""
    entries: list[tuple[str, str | None, bytes | Problem | None]] = []
    for name in sorted(files):
        parts = name.split("/")
        if len(parts) == 3 and parts[0] == "blueprints" and parts[2] == BLUEPRINT_FILE:
            entries.append((name, parts[1], files[name]))
    return _load(root, files.get(POLICIES_PATH.as_posix()), entries)


def _load(
    root: Path,
    raw_policies: bytes | Problem | None,
    entries: Sequence[tuple[str, str | None, bytes | Problem | None]],
    *,
    found: Sequence[Problem] = (),
    ignored: Sequence[IgnoredFile] = (),
) -> Fleet:
    """The loading itself, on contents already read: (shown path, expected service name,
    bytes, or the problem reading them, or None for a file that does not exist). `found` are
    the problems of finding the files, and `ignored` what was left unread."""
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
        policies, read = load_policies(raw_policies, source=str(POLICIES_PATH))
        problems.extend(read)
    if raw_policies is not None and policies is None:
        unloaded = "invalid"
    policies_ok = policies is not None or raw_policies is None
    effective = policies or builtin_policies()
    problems.extend(found)
    problems.extend(item.problem for item in ignored)

    blueprints: list[Blueprint] = []
    texts: dict[str, str] = {}
    broken: dict[str, str] = {}
    files: list[str] = []
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
        blueprint, read = load_blueprint(
            data,
            source=shown,
            policies=effective,
            expected_name=expected,
            policies_unloaded=unloaded,
        )
        problems.extend(read)
        if blueprint is None:
            broken[expected or shown] = shown
        else:
            blueprints.append(blueprint)
            texts[blueprint.name] = data.decode("utf-8").removeprefix("\ufeff")
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
