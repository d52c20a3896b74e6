"""Finding and reading the blueprints of a repository: the file I/O in front of the loader.

A broken blueprint must never stop the others, so loading a fleet never raises for one bad
file: it returns the blueprints that loaded and every problem found. Only a broken global
policies file is fatal for a cycle, because without it the shared forbidden list is unknown
and acting would be unsafe; `validate` still reports it alongside everything else.
"""

from __future__ import annotations

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
from reconciler.core.problems import Problem
from reconciler.core.sharding import Shard
from reconciler.core.yamlsafe import MAX_BYTES

__all__ = [
    "BLUEPRINT_FILE",
    "POLICIES_PATH",
    "Fleet",
    "find_root",
    "load_fleet",
    "load_fleet_files",
]

BLUEPRINT_FILE = "blueprint.yaml"
POLICIES_PATH = Path("blueprints/governance/policies.yaml")


@dataclass(frozen=True, kw_only=True)
class Fleet:
    """Everything the blueprints of one repository say, plus what is wrong with them."""

    root: Path
    policies: GlobalPolicies
    policies_ok: bool
    blueprints: tuple[Blueprint, ...]
    problems: tuple[Problem, ...]
    #: Files that did not load, by service (folder) name.
    broken: dict[str, str]
    files: tuple[str, ...]
    #: Each loaded blueprint's text, by service: proposals edit it in place.
    texts: dict[str, str] = field(default_factory=dict)

    def get(self, service: str) -> Blueprint:
        for blueprint in self.blueprints:
            if blueprint.name == service:
                return blueprint
        if service in self.broken:
            raise ConfigError(
                f"the blueprint of {service} does not validate ({self.broken[service]})",
                hint=f"run `reconciler validate {self.broken[service]}`",
            )
        known = ", ".join(b.name for b in self.blueprints) or "none"
        raise ConfigError(f"no blueprint for service {service!r}", hint=f"known services: {known}")

    def require_policies(self) -> None:
        """Refuse to act when the global policies did not load."""
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


def discover(root: Path, paths: Sequence[Path] = ()) -> list[Path]:
    """Blueprint files under `paths` (files or directories), or all of the repository's."""
    targets = list(paths) or [root / "blueprints"]
    found: list[Path] = []
    for target in targets:
        if target.is_dir():
            direct = target / BLUEPRINT_FILE
            if direct.is_file():
                found.append(direct)
            found.extend(sorted(target.glob(f"*/{BLUEPRINT_FILE}")))
        else:
            found.append(target)
    return found


def load_fleet(root: Path, paths: Sequence[Path] = (), *, shard: Shard | None = None) -> Fleet:
    """Load the global policies and the blueprints; never raises for a bad blueprint.

    With a shard, only the blueprints of the services it owns are read: a blueprint's folder
    is its service's name, so a shard of a large fleet parses its own part and no more.
    (`validate`, which reads everything, still catches problems across shards.)
    """
    policies_file = root / POLICIES_PATH
    raw_policies = _read(policies_file, str(POLICIES_PATH)) if policies_file.exists() else None
    entries: list[tuple[str, str | None, bytes | Problem | None]] = []
    for path in discover(root, paths):
        expected = path.parent.name if path.name == BLUEPRINT_FILE else None
        if shard is not None and not shard.owns(expected or path.stem):
            continue
        shown = _relative(path, root)
        entries.append((shown, expected, _read(path, shown) if path.exists() else None))
    return _load(root, raw_policies, entries)


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
) -> Fleet:
    """The loading itself, on contents already read: (shown path, expected service name,
    bytes, or the problem reading them, or None for a file that does not exist)."""
    problems: list[Problem] = []
    policies: GlobalPolicies | None = None
    if isinstance(raw_policies, Problem):
        problems.append(raw_policies)
    else:
        policies, found = load_policies(raw_policies, source=str(POLICIES_PATH))
        problems.extend(found)
    policies_ok = policies is not None
    effective = policies or builtin_policies()

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
        blueprint, found = load_blueprint(
            data, source=shown, policies=effective, expected_name=expected
        )
        problems.extend(found)
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
    )
