"""Checking the manifest locations of a fleet's blueprints against the files they name.

`validate` reads the working tree, so a blueprint and the manifests it points at are checked
together before either is committed: the file, the document and the key exist, and the value
there is one the blueprint allows. A location in another repository is not in the working
tree; `reconciler doctor` checks it through the forge.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from reconciler.core.manifests import check
from reconciler.core.problems import Problem, Severity
from reconciler.shell.workspace import Fleet

__all__ = ["check_manifests", "working_tree_reader"]

Reader = Callable[[str], "bytes | None"]


def working_tree_reader(root: Path) -> Reader:
    """Read a repository path from the working tree: regular files only, never a link that
    could lead out of the repository."""

    def read(path: str) -> bytes | None:
        target = root / path
        if target.is_symlink() or not target.is_file():
            return None
        try:
            return target.read_bytes()
        except OSError:
            return None

    return read


def check_manifests(fleet: Fleet, read: Reader) -> Fleet:
    """The fleet with the problems of every manifest location added; a blueprint whose
    location has an error counts as broken, as one whose own file has."""
    problems: list[Problem] = []
    broken = dict(fleet.broken)
    for blueprint in fleet.blueprints:
        manifests = blueprint.manifests
        if manifests is None:
            continue
        if manifests.repository:
            problems.append(
                Problem(
                    file=blueprint.source,
                    path="spec.manifests.repository",
                    message=f"not checked here: {manifests.path} is in {manifests.repository}",
                    hint="`reconciler doctor` reads it from that repository",
                    severity=Severity.WARNING,
                    code="manifests.elsewhere",
                )
            )
            continue
        found = check(
            blueprint,
            {path: read(path) for path in manifests.files},
            blueprint_text=fleet.texts.get(blueprint.name, ""),
        )
        problems += found
        if any(problem.severity is Severity.ERROR for problem in found):
            broken[blueprint.name] = blueprint.source
    if not problems:
        return fleet
    return replace(
        fleet,
        problems=(*fleet.problems, *problems),
        broken=broken,
        blueprints=tuple(b for b in fleet.blueprints if b.name not in broken),
    )
