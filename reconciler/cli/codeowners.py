"""`reconciler codeowners`: CODEOWNERS entries that make each blueprint's approvers its code
owners, printed, written or checked."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler.cli.context import Settings

if TYPE_CHECKING:
    from reconciler.core.approvals.codeowners import Entry
    from reconciler.shell.workspace import Fleet

__all__ = ["codeowners_command", "with_trail_and_requests"]

CODEOWNERS_PATH = Path(".github/CODEOWNERS")


@click.command("codeowners")
@click.option(
    "--org",
    help="GitHub organisation of the teams in the global policies' governance.teams "
    "(default: the owner part of --github-repository / GITHUB_REPOSITORY).",
)
@click.option(
    "--write",
    is_flag=True,
    help="Write .github/CODEOWNERS: replace the lines between the reconciler's markers (or "
    "append them), keeping every other line.",
)
@click.option(
    "--check",
    is_flag=True,
    help="Exit 1 with a diff when .github/CODEOWNERS is not what --write would make (for CI).",
)
@click.pass_obj
def codeowners_command(settings: Settings, org: str | None, write: bool, check: bool) -> None:
    """Print CODEOWNERS entries that make each blueprint's approvers its code owners.

    With branch protection's "Require review from Code Owners", only a blueprint's approvers
    can approve a pull request that changes it, which is what makes merging an approval:

    \b
      /blueprints/                the global approvers (new services, broken blueprints)
      /requests/                  the global approvers (requests of no known service)
      /blueprints/<service>/      the service's approvers and its rules' approvers
      /requests/<service>/        the same (one-off requests proposed for approval)
      /blueprints/governance/     the global approvers
      /blueprints/schema.json     the global approvers
      /.github/                   the global approvers (workflows, this file)
      /audit/                     the global approvers (no pull request may change it)

    Names become owners: @name stays; org/team becomes @org/team; a team listed under the
    global policies' governance.teams becomes @ORG/team (--org); an e-mail address stays; any
    other name is a user, @name. A blueprint that does not validate is reported and skipped
    (its folder falls back to the global approvers).

    \b
    Exit codes: 0 printed or written, or up to date; 1 --check found it out of date;
                2 usage; 3 no blueprint repository, the global policies do not validate,
                a team needs --org, or there are no global approvers.

    \b
    Examples:
      reconciler codeowners --org acme
      reconciler codeowners --write
      reconciler codeowners --check        # in CI, after `validate`
    """
    from reconciler.core.approvals.codeowners import render_block
    from reconciler.shell.workspace import load_fleet

    if write and check:
        raise click.UsageError("--write and --check do not go together: pick one")
    root = settings.root()
    fleet = load_fleet(root)
    fleet.require_policies()
    if not org and settings.github_repository and "/" in settings.github_repository:
        org = settings.github_repository.split("/", 1)[0]
    block = render_block(_entries(fleet, org))
    if write:
        _write(root, block)
    elif check:
        _check(root, block)
    else:
        click.echo(block, nl=False)


def _entries(fleet: Fleet, org: str | None) -> list[Entry]:
    """The entries for every blueprint that validates (the others are reported and skipped);
    an approver CODEOWNERS cannot name is an error, and nothing is written."""
    from reconciler.core.approvals.codeowners import codeowners_entries
    from reconciler.core.errors import ConfigError
    from reconciler.core.problems import Severity, has_errors

    for problem in fleet.problems:
        if problem.severity is Severity.ERROR:
            click.echo(f"skipped: {problem.render()}", err=True)
    entries, problems = codeowners_entries(fleet.blueprints, fleet.policies, org=org)
    entries = with_trail_and_requests(entries)
    for problem in problems:
        click.echo(problem.render(), err=True)
    if has_errors(problems):
        # Writing what can be named would protect less than the blueprints say.
        raise ConfigError(
            "CODEOWNERS cannot name every approver; nothing was written",
            hint="see the errors above",
        )
    return entries


def _current(root: Path, block: str) -> tuple[str | None, str]:
    """CODEOWNERS as it is (None when there is none), and as it should be."""
    from reconciler.core.approvals.codeowners import merge_block

    path = root / CODEOWNERS_PATH
    current = path.read_text(encoding="utf-8") if path.is_file() else None
    return current, merge_block(current, block)


def _write(root: Path, block: str) -> None:
    current, wanted = _current(root, block)
    if current != wanted:
        path = root / CODEOWNERS_PATH
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(wanted, encoding="utf-8")
    click.echo(f"{CODEOWNERS_PATH}: {'unchanged' if current == wanted else 'written'}")


def _check(root: Path, block: str) -> None:
    """Exit 1 with a diff when CODEOWNERS is not what --write would make."""
    import difflib

    current, wanted = _current(root, block)
    if current == wanted:
        click.echo(f"{CODEOWNERS_PATH} is up to date")
        return
    diff = difflib.unified_diff(
        (current or "").splitlines(keepends=True),
        wanted.splitlines(keepends=True),
        fromfile=f"{CODEOWNERS_PATH} (now)",
        tofile=f"{CODEOWNERS_PATH} (from the blueprints)",
    )
    click.echo("".join(diff), nl=False)
    click.echo(
        f"{CODEOWNERS_PATH} is out of date; run `reconciler codeowners --write` and commit it",
        err=True,
    )
    raise SystemExit(1)


def with_trail_and_requests(entries: list[Entry]) -> list[Entry]:
    """The entries with the global approvers also owning `/requests/` (before the services, so
    a request for a service without its own entry falls back to them, as check-change asks)
    and `/audit/` (last: no pull request may change the trail, and should one try, only the
    global approvers could let it through)."""
    from reconciler.core.approvals.codeowners import GLOBAL_PATHS, Entry

    owners = next((e.owners for e in entries if e.pattern == GLOBAL_PATHS[0]), None)
    if owners is None:  # no global approvers: codeowners_entries reported it
        return entries
    first = 1 if entries and entries[0].pattern == "/blueprints/" else 0
    return [
        *entries[:first],
        Entry(pattern="/requests/", owners=owners),
        *entries[first:],
        Entry(pattern="/audit/", owners=owners),
    ]
