"""CODEOWNERS entries from the blueprints' approvers, so that merging stays an approval.

A merged pull request is the reconciler's approval, which is only trustworthy if GitHub lets
nobody but the approvers merge a change to a blueprint. With branch protection's "Require
review from Code Owners", the CODEOWNERS file is that list; this module writes it from the
blueprints, so the two never disagree.

Main design choices: the file is generated between two marker lines and whatever a person
wrote outside them is kept; the generated block comes last, because in CODEOWNERS the last
matching pattern wins, so a hand-written catch-all cannot override an approver. The block
opens with `/blueprints/` for the global approvers: a new service's folder, or one whose
blueprint does not load, falls back to them, as onboarding does in `reconciler check-change`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from reconciler.core.blueprint.model import Blueprint, GlobalPolicies
from reconciler.core.problems import Problem, Severity

__all__ = [
    "BEGIN",
    "END",
    "Entry",
    "codeowners_entries",
    "mention_handles",
    "merge_block",
    "render_block",
]

BEGIN = (
    "# BEGIN reconciler codeowners: generated from the blueprints' approvers by "
    "`reconciler codeowners --write`; edit the blueprints, not these lines"
)
END = "# END reconciler codeowners"

#: Paths owned by the global approvers, after the services: the global rules, the schema that
#: says what a blueprint may contain, and the workflows (and this file) that enforce it all.
GLOBAL_PATHS = ("/blueprints/governance/", "/blueprints/schema.json", "/.github/")


@dataclass(frozen=True, kw_only=True)
class Entry:
    pattern: str
    owners: tuple[str, ...]


def _handle(name: str, *, teams: Mapping[str, object], org: str | None) -> tuple[str | None, str]:
    """The CODEOWNERS owner for an approver name, or None and why not."""
    name = name.strip()
    if not name or any(c.isspace() for c in name) or "#" in name:
        return None, f"{name!r} cannot be written in CODEOWNERS"
    if name.startswith("@"):
        return name, ""
    if "@" in name:  # an e-mail address: CODEOWNERS accepts it as is
        return name, ""
    if "/" in name:
        return f"@{name}", ""
    if name in teams:
        if not org:
            return None, (
                f"{name} is a team (governance.teams), and CODEOWNERS needs its organisation"
            )
        return f"@{org}/{name}", ""
    return f"@{name}", ""


def _owners(
    names: Iterable[str],
    *,
    policies: GlobalPolicies,
    org: str | None,
    file: str,
    path: str,
    problems: list[Problem],
) -> tuple[str, ...]:
    owners: dict[str, None] = {}
    for name in names:
        handle, why = _handle(name, teams=policies.teams, org=org)
        if handle is None:
            problems.append(
                Problem(
                    file=file,
                    path=path,
                    message=f"{why}",
                    hint="pass --org ORG (default: the owner of GITHUB_REPOSITORY), "
                    "or write the approver as org/team",
                    code="codeowners.owner",
                )
            )
            continue
        owners.setdefault(handle)
    return tuple(owners)


def mention_handles(blueprint: Blueprint, policies: GlobalPolicies, org: str) -> tuple[str, ...]:
    """The service's approvers as GitHub @-handles (`@org/team`, `@login`), for a mention:
    the same names CODEOWNERS gets, without e-mail addresses, which cannot be mentioned."""
    found: dict[str, None] = {}
    for name in _service_approvers(blueprint):
        handle, _ = _handle(name, teams=policies.teams, org=org or None)
        if handle is not None and "@" not in handle[1:]:
            found.setdefault(handle)
    return tuple(found)


def _service_approvers(blueprint: Blueprint) -> list[str]:
    """The service's approvers (global ones when it names none), then every rule's own."""
    names = list(blueprint.policy.approval.approvers)
    for rule in blueprint.policy.rules:
        names.extend(rule.approvers)
    return names


def codeowners_entries(
    blueprints: Sequence[Blueprint],
    policies: GlobalPolicies,
    *,
    org: str | None,
    policies_file: str = "blueprints/governance/policies.yaml",
) -> tuple[list[Entry], list[Problem]]:
    """The entries, in the order they must appear, and what could not be written.

    An error means the entries would protect less than the blueprints say (an approver that
    cannot be named, no global approvers at all); a warning means an owner was left out and
    the path falls back to the global approvers, which only protects more."""
    problems: list[Problem] = []
    global_owners = _owners(
        policies.approval.approvers,
        policies=policies,
        org=org,
        file=policies_file,
        path="governance.approval_workflow.approvers",
        problems=problems,
    )
    if not global_owners:
        problems.append(
            Problem(
                file=policies_file,
                path="governance.approval_workflow.approvers",
                message="no global approvers, so the global policies and new services have no "
                "code owner",
                hint="list the approvers of the global policies there",
                code="codeowners.no_owner",
            )
        )
    entries: list[Entry] = []
    if global_owners:
        entries.append(Entry(pattern="/blueprints/", owners=global_owners))
    for blueprint in sorted(blueprints, key=lambda b: b.name):
        entries += _service_entries(blueprint, policies, org, problems)
    if global_owners:
        entries += [Entry(pattern=path, owners=global_owners) for path in GLOBAL_PATHS]
    return entries, problems


def _service_entries(
    blueprint: Blueprint, policies: GlobalPolicies, org: str | None, problems: list[Problem]
) -> list[Entry]:
    """A service's folders under blueprints/ and requests/, owned by its approvers; none (and
    a warning) when no approver can be named, so the global approvers own them."""
    owners = _owners(
        _service_approvers(blueprint),
        policies=policies,
        org=org,
        file=blueprint.source,
        path="governance.approval_workflow.approvers",
        problems=problems,
    )
    if not owners:
        problems.append(
            Problem(
                file=blueprint.source,
                path="governance.approval_workflow.approvers",
                message=f"{blueprint.name} has no approver that CODEOWNERS can name; its "
                "folder falls back to the global approvers",
                severity=Severity.WARNING,
                code="codeowners.no_owner",
            )
        )
        return []
    return [
        Entry(pattern=f"/blueprints/{blueprint.name}/", owners=owners),
        Entry(pattern=f"/requests/{blueprint.name}/", owners=owners),
    ]


def render_block(entries: Sequence[Entry]) -> str:
    """The generated lines, between the markers, patterns aligned."""
    width = max((len(entry.pattern) for entry in entries), default=0)
    lines = [BEGIN]
    lines += [f"{entry.pattern.ljust(width)}  {' '.join(entry.owners)}" for entry in entries]
    lines.append(END)
    return "\n".join(lines) + "\n"


def merge_block(existing: str | None, block: str) -> str:
    """`existing` with its generated block replaced by `block` (or `block` appended)."""
    if not existing:
        return block
    lines = existing.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.rstrip("\r\n") == BEGIN]
    if starts:
        start = starts[0]
        ends = [i for i, line in enumerate(lines) if i > start and line.rstrip("\r\n") == END]
        end = ends[0] if ends else len(lines) - 1
        return "".join(lines[:start]) + block + "".join(lines[end + 1 :])
    return existing.rstrip("\n") + "\n\n" + block
