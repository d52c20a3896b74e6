"""The lock the Action installs from: complete, hash-checked, and in step with pyproject.toml.

The Action has pip install only the installer, uv, from `requirements/installer.txt`; uv then
runs `pip install --require-hashes --no-deps -r requirements/runtime.txt` and builds the package
with `--no-build-isolation`. With `--no-deps` nothing missing from the lock
is fetched, so a dependency (or one of its own) that the lock lacks would fail the job at
import time, not at install; these checks catch that before a release does.
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from reconciler import DISTRIBUTION, __version__
from tests.conftest import REPO

LOCK = REPO / "requirements" / "runtime.txt"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())

#: `name==version \` then `--hash=sha256:...` lines, then an optional `# via` comment.
_ENTRY = re.compile(
    r"^(?P<name>[A-Za-z0-9._-]+)==(?P<version>[^\s;\\]+)(?:\s*;\s*(?P<marker>[^\\]+))?"
)


def locked(text: str) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) for every pinned entry of a pip requirements file."""
    entries: dict[str, tuple[str, list[str]]] = {}
    current: str | None = None
    for line in text.splitlines():
        match = _ENTRY.match(line)
        if match:
            current = canonicalize_name(match.group("name"))
            entries[current] = (match.group("version"), [])
            continue
        hashed = re.match(r"^\s+--hash=(sha256:[0-9a-f]{64})", line)
        if hashed and current is not None:
            entries[current][1].append(hashed.group(1))
        elif line.strip() and not line.lstrip().startswith("#") and not hashed:
            raise AssertionError(f"not a pinned, hashed entry: {line!r}")
    return entries


LOCKED = locked(LOCK.read_text())
INSTALLER = REPO / "requirements" / "installer.txt"


def test_the_distribution_is_named_as_the_package_says() -> None:
    assert PYPROJECT["project"]["name"] == DISTRIBUTION
    assert PYPROJECT["project"]["version"] == __version__
    # ...and the installed metadata agrees: the command stays `reconciler`.
    assert metadata.version(DISTRIBUTION) == __version__
    (script,) = [
        entry
        for entry in metadata.distribution(DISTRIBUTION).entry_points
        if entry.group == "console_scripts"
    ]
    assert (script.name, script.value) == ("reconciler", "reconciler.entry:main")


@pytest.mark.parametrize(
    "requirement",
    [*PYPROJECT["project"]["dependencies"], *PYPROJECT["build-system"]["requires"]],
)
def test_every_direct_requirement_is_pinned_within_its_range(requirement: str) -> None:
    wanted = Requirement(requirement)
    name = canonicalize_name(wanted.name)
    assert name in LOCKED, f"{wanted.name} is missing from {LOCK.name}: run `make lock`"
    version, hashes = LOCKED[name]
    assert wanted.specifier.contains(version, prereleases=True), (
        f"{name}=={version} is outside {wanted.specifier}: run `make lock`"
    )
    assert hashes, f"{name} has no hash"


def _closure(names: list[str]) -> set[str]:
    """The runtime requirements of these installed distributions, transitively, as pip would
    resolve them on this machine (markers evaluated, extras followed)."""
    environment = default_environment()
    seen: set[str] = set()
    todo = [(Requirement(name), "") for name in names]
    while todo:
        requirement, extra = todo.pop()
        name = canonicalize_name(requirement.name)
        if requirement.marker and not requirement.marker.evaluate(environment | {"extra": extra}):
            continue
        key = f"{name}[{','.join(sorted(requirement.extras))}]"
        if key in seen:
            continue
        seen.add(key)
        for text in metadata.requires(name) or []:
            child = Requirement(text)
            for wanted_extra in requirement.extras or {""}:
                todo.append((child, wanted_extra))
    return {key.split("[", 1)[0] for key in seen}


def test_the_lock_holds_everything_the_dependencies_need() -> None:
    """`--no-deps` installs only what the lock lists, so it must list the whole closure."""
    closure = _closure(PYPROJECT["project"]["dependencies"])
    missing = sorted(closure - set(LOCKED))
    assert not missing, f"needed but not in {LOCK.name}: {missing}; run `make lock`"


def test_every_entry_carries_hashes_and_nothing_floats() -> None:
    assert len(LOCKED) >= 10
    for name, (version, hashes) in LOCKED.items():
        assert re.fullmatch(r"[0-9][0-9A-Za-z.+!-]*", version), (name, version)
        assert hashes, f"{name} has no --hash"
    text = LOCK.read_text()
    assert "make lock" in text.splitlines()[1]  # the header names the command that made it


def test_the_check_catches_an_entry_without_hashes() -> None:
    with pytest.raises(AssertionError, match="not a pinned, hashed entry"):
        locked("click>=8\n")
    entries = locked("click==8.1.7 \\\n    --hash=sha256:" + "a" * 64 + "\nyaml==6.0\n")
    assert entries["yaml"] == ("6.0", [])


def test_the_build_input_matches_the_build_system() -> None:
    build_in = (REPO / "requirements" / "build.in").read_text()
    lines = [line for line in build_in.splitlines() if line and not line.startswith("#")]
    assert lines == PYPROJECT["build-system"]["requires"]


def test_make_lock_is_the_one_command() -> None:
    makefile = (REPO / "Makefile").read_text()
    rule = makefile[makefile.index("\nlock:") :].split("\n\n", 1)[0]
    assert "--generate-hashes" in rule and "requirements/runtime.txt" in rule
    assert "pyproject.toml requirements/build.in" in rule


def test_the_installer_lock_pins_uv_alone_with_hashes() -> None:
    """pip installs this file with `--no-deps`: uv is one self-contained wheel per platform,
    so the lock is that one pin, with a hash for each platform's wheel."""
    entries = locked(INSTALLER.read_text())
    assert list(entries) == ["uv"]
    version, hashes = entries["uv"]
    assert re.fullmatch(r"[0-9][0-9A-Za-z.+!-]*", version), version
    assert len(hashes) >= 5  # Linux, macOS and Windows wheels, and the source archive
    assert "make lock" in INSTALLER.read_text().splitlines()[1]
    makefile = (REPO / "Makefile").read_text()
    rule = makefile[makefile.index("\nlock:") :].split("\n\n", 1)[0]
    assert "requirements/installer.in" in rule and "-o requirements/installer.txt" in rule
