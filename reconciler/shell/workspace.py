"""The fleet: the blueprints of a repository loaded, with every problem found, in front of
the loader (`shell/listing.py` lists and reads the files, `shell/survey.py` picks them).

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from reconciler.core.blueprint.claims import check_unique_names
from reconciler.core.blueprint.model import Blueprint, GlobalPolicies, Provenance
from reconciler.core.errors import BlueprintError, ConfigError
from reconciler.core.planning.sharding import Shard
from reconciler.core.problems import Problem, Severity
from reconciler.ports import LoadResult, ValidationCache, WorktreeBlobs
from reconciler.shell.listing import (
    BLUEPRINT_FILE,
    BLUEPRINTS_DIR,
    POLICIES_PATH,
    Entry,
    EntryKind,
    Listing,
    list_worktree,
    read_file,
    relative,
)
from reconciler.shell.survey import IgnoredFile, Survey, discover, survey

__all__ = [
    "BLUEPRINT_FILE",
    "POLICIES_PATH",
    "Fleet",
    "IgnoredFile",
    "load_fleet",
    "load_fleet_files",
]


#: How to start a policies file. There is deliberately no switch to run without one: a fleet
#: that wants no shared rules says so in a file of one line, which is reviewed like any
#: other change, rather than in a flag a workflow could set unseen.
POLICIES_HINT = (
    f"create {POLICIES_PATH}: `reconciler schema --kind policies` prints its schema and "
    'docs/blueprint-format.md ("The global policies file") describes it; a fleet with no '
    "shared rules writes just `defaults: {namespace: default}`"
)


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
        import shlex  # a broken blueprint's message only

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


_Entries = list[tuple[str, str | None, bytes | Problem | None]]


def _is_blueprint_path(path: str) -> bool:
    parts = path.split("/")
    return len(parts) == 3 and parts[0] == BLUEPRINTS_DIR and parts[2] == BLUEPRINT_FILE


def uncommitted_changes(
    root: Path, blobs: Mapping[str, str], *, known: WorktreeBlobs | None = None
) -> list[tuple[str, str]]:
    """The files the loader reads whose working-tree content is not what a commit holds (its
    blob ids by path): each with "modified", "new" or "deleted". Only what changes authority
    counts (blueprints and the policies, not a README); nothing is opened but regular files.

    This compares content, as git does, without git's index: what a person sees in the files
    is what a cycle would leave aside. A file checked out with CRLF line ends (core.autocrlf)
    matches its LF blob. With `known`, a file whose stat is the one it had when it last
    matched the commit's blob is not read again (git's index keeps the same shortcut; see
    adapters/worktree_blobs.py for when a stat can be trusted).
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
        elif not _unchanged(root, path, blobs[path], known):
            changes.append((path, "modified"))
    if known is not None:
        known.save()
    return changes


def _unchanged(root: Path, path: str, blob: str, known: WorktreeBlobs | None) -> bool:
    """Whether the working tree's file at `path` holds `blob`: by its stat when `known`
    remembers it so, else by reading and hashing it (and then remembered)."""
    before = None
    if known is not None:
        try:
            before = os.lstat(f"{root}/{path}")
        except OSError:
            before = None
        if before is not None and known.matches(path, before, blob):
            return True
    data = read_file(root / path, path)
    same = not isinstance(data, Problem) and _same_blob(data, blob)
    if known is not None:
        if same and before is not None:
            known.learn(path, before, blob)
        else:
            known.forget(path)
    return same


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
        raw_policies = read_file(root / found.policies, found.policies)
    entries = _owned(found, shard, lambda shown: read_file(root / shown, shown))
    for path in outside:
        expected = path.parent.name if path.name == BLUEPRINT_FILE else None
        if shard is not None and not shard.owns(expected or path.stem):
            continue
        shown = relative(path, root)
        entries.append((shown, expected, read_file(path, shown) if os.path.lexists(path) else None))
    ignored = _owned_ignored(found, shard)
    return _load(root, raw_policies, entries, found=problems, ignored=ignored, cache=cache)


def _owned(
    found: Survey, shard: Shard | None, read: Callable[[str], bytes | Problem | None]
) -> _Entries:
    """The blueprint files the survey refused or found, of the services `shard` owns (all
    without one), each found file read by `read`."""
    entries: _Entries = []
    for shown, service, problem in found.refused:
        if shard is None or shard.owns(service):
            entries.append((shown, service, problem))
    for shown in found.files:
        service = PurePosixPath(shown).parent.name
        if shard is None or shard.owns(service):
            entries.append((shown, service, read(shown)))
    return entries


def _owned_ignored(found: Survey, shard: Shard | None) -> list[IgnoredFile]:
    return [item for item in found.ignored if shard is None or shard.owns(item.service)]


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
    entries = _owned(found, shard, files.get)
    fleet = _load(root, raw_policies, entries, ignored=_owned_ignored(found, shard), cache=cache)
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
    from reconciler.core.blueprint.policies import load_policies  # see _builtin_policies

    policies, read = load_policies(data, source=str(POLICIES_PATH))
    if cache is not None:
        cache.put(key, (policies, tuple(read)))
    return policies, tuple(read)


def _builtin_policies() -> GlobalPolicies:
    """The loader (YAML, the schemas, every section's checks) is imported only when something
    is loaded: a run whose blueprints and policies all come from the cache never needs it."""
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
    policies, unloaded, problems = _global_policies(raw_policies, cache)
    policies_ok = policies is not None or raw_policies is None
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
        blueprint, outcome = _blueprint(data, shown, expected, effective, unloaded, against, cache)
        problems.extend(outcome)
        if blueprint is None:
            broken[expected or shown] = shown
        else:
            blueprints.append(blueprint)
            texts[blueprint.name] = data.decode("utf-8").removeprefix("\ufeff")
    if cache is not None:
        cache.save()
    blueprints = _unique(blueprints, broken, problems)
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


def _global_policies(
    raw_policies: bytes | Problem | None, cache: ValidationCache | None
) -> tuple[GlobalPolicies | None, str, list[Problem]]:
    """The global policies loaded, why they are not ("missing", "invalid" or ""), and the
    problems found with them."""
    if raw_policies is None:
        missing = Problem(
            file=str(POLICIES_PATH),
            path="",
            message="the global policies file does not exist; `run`, `plan` and "
            "`request` refuse to act without it",
            hint=POLICIES_HINT,
            code="policies.missing",
        )
        return None, "missing", [missing]
    if isinstance(raw_policies, Problem):
        return None, "invalid", [raw_policies]
    policies, read = _policies(raw_policies, cache)
    return policies, "" if policies is not None else "invalid", list(read)


def _blueprint(
    data: bytes,
    shown: str,
    expected: str | None,
    policies: GlobalPolicies,
    unloaded: str,
    against: str,
    cache: ValidationCache | None,
) -> LoadResult:
    """One blueprint loaded, or taken from the cache when the same content, path and
    policies were loaded before."""
    key = None
    if cache is not None:
        key = cache_key(data, shown, expected, against)
        hit = cache.get(key)
        if hit is not None and (hit[0] is None or isinstance(hit[0], Blueprint)):
            return (hit[0], hit[1])
    from reconciler.core.blueprint.loading import load_blueprint  # see _builtin_policies

    loaded, found_problems = load_blueprint(
        data,
        source=shown,
        policies=policies,
        expected_name=expected,
        policies_unloaded=unloaded,
    )
    result: LoadResult = (loaded, tuple(found_problems))
    if cache is not None and key is not None:
        cache.put(key, result)
    return result


def _unique(
    blueprints: list[Blueprint], broken: dict[str, str], problems: list[Problem]
) -> list[Blueprint]:
    """The blueprints without those that claim a name another one has: each of those is
    broken, with the problem saying so."""
    duplicates = check_unique_names(blueprints)
    problems.extend(duplicates)
    if not duplicates:
        return blueprints
    clashing = {p.file for p in duplicates}
    for blueprint in blueprints:
        if blueprint.source in clashing:
            broken[blueprint.name] = blueprint.source
    return [b for b in blueprints if b.source not in clashing]
