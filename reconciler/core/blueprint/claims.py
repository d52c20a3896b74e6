"""What the blueprints of a fleet must agree on: one blueprint per service and per deployment.

Apart from loading, because it is checked on every set of loaded blueprints, those the
validation cache gives back included, and a run that loads nothing must not import the loader.
"""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.core.blueprint.model import Blueprint
from reconciler.core.problems import Problem

__all__ = ["check_unique_names"]


def check_unique_names(blueprints: Iterable[Blueprint]) -> list[Problem]:
    """Two files that claim one service (or one deployment) would fight; both are refused."""
    groups: dict[tuple[str, str], list[Blueprint]] = {}
    for blueprint in blueprints:
        meta = blueprint.metadata
        groups.setdefault(("service", blueprint.name), []).append(blueprint)
        groups.setdefault(("deployment", f"{meta.namespace}/{meta.deployment}"), []).append(
            blueprint
        )
    problems: list[Problem] = []
    for (what, name), members in groups.items():
        if len(members) < 2:
            continue
        for member in members:
            others = ", ".join(other.source for other in members if other is not member)
            problems.append(
                Problem(
                    file=member.source,
                    path="metadata.name" if what == "service" else "metadata.deployment",
                    message=f"{what} {name!r} is also claimed by {others}",
                    hint=f"each {what} has exactly one blueprint; remove or rename one of them",
                    code="name.duplicate",
                )
            )
    return problems
