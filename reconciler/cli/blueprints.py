"""Commands about the blueprints themselves: validate, schema, policy."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler.cli.context import Settings, env_flag
from reconciler.cli.output import OUTPUT_OPTION, emit_json, warn

if TYPE_CHECKING:
    from reconciler.core.problems import Problem
    from reconciler.shell.workspace import Fleet


@click.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@OUTPUT_OPTION
@click.option("--strict", is_flag=True, help="Treat warnings as errors (exit 1).")
@click.option(
    "--annotations/--no-annotations",
    default=None,
    help="Also print GitHub Actions ::error annotations (default: on when GITHUB_ACTIONS=true "
    "and the output is text).",
)
@click.pass_obj
def validate_command(
    settings: Settings, paths: tuple[Path, ...], output: str, strict: bool, annotations: bool | None
) -> None:
    """Check blueprints and the global policies; report every problem with its fix.

    PATHS are blueprint files or directories; by default every
    blueprints/<service>/blueprint.yaml of the repository. The global policies file,
    blueprints/governance/policies.yaml, is checked every time, and its absence is an error.
    A blueprint's spec.manifests is checked against the file it names: the file, the
    document and the key exist, and hold replicas within the blueprint's bounds.
    A file under blueprints/ that the loader would not read (blueprint.yml, web.yaml beside
    the service folders, a folder without blueprint.yaml) is a warning naming where it belongs;
    a link, a folder, a pipe or a device where a blueprint should be is an error for that
    service.

    validate reads the working tree, so it checks edits before they are committed. `run`,
    `plan`, `request`, `status`, `breaker` and `policy` judge under the blueprints committed
    at HEAD instead: an edit counts once it is committed.

    Each problem is one line, `file:line:col: field.path: message (fix: hint)`.

    \b
    Exit codes: 0 all valid (warnings allowed unless --strict),
                1 at least one error, 2 usage, 3 no blueprint repository found.

    \b
    Examples:
      reconciler validate
      reconciler validate blueprints/todo-frontend
      reconciler validate -o json | jq '.problems[] | select(.severity=="error")'
    """
    from reconciler.cli.compose import validation_cache
    from reconciler.core.problems import Severity
    from reconciler.shell.manifests import check_manifests, working_tree_reader
    from reconciler.shell.workspace import load_fleet

    root = settings.root()
    named = [p if p.is_absolute() else Path.cwd() / p for p in paths]
    fleet = load_fleet(root, named, cache=validation_cache(root))
    fleet = check_manifests(fleet, working_tree_reader(root))
    errors = [p for p in fleet.problems if p.severity is Severity.ERROR]
    warnings = [p for p in fleet.problems if p.severity is Severity.WARNING]
    failed = bool(errors) or (strict and bool(warnings))
    if annotations is None:  # on Actions, unless the output is JSON for a script
        annotations = env_flag("GITHUB_ACTIONS") and output == "text"
    if annotations:
        for problem in fleet.problems:
            click.echo(problem.annotation())
    if output == "json":
        emit_json(_validation_json(fleet, errors, warnings, failed=failed))
    else:
        _print_validation(fleet, errors, warnings)
    if failed:
        raise SystemExit(1)


def _validation_json(
    fleet: Fleet, errors: list[Problem], warnings: list[Problem], *, failed: bool
) -> dict[str, object]:
    return {
        "ok": not failed,
        "files": list(fleet.files),
        "valid": [b.name for b in fleet.blueprints],
        "invalid": fleet.broken,
        "policies_ok": fleet.policies_ok and fleet.policies_found,
        "policies_found": fleet.policies_found,
        "ignored": [item.problem.file for item in fleet.ignored],
        "errors": len(errors),
        "warnings": len(warnings),
        "problems": [p.to_json() for p in fleet.problems],
    }


def _print_validation(fleet: Fleet, errors: list[Problem], warnings: list[Problem]) -> None:
    """Each problem on its line, then the counts (on stderr when there is a problem)."""
    for problem in fleet.problems:
        click.echo(problem.render())
    count = len(fleet.files)
    summary = (
        f"{count} blueprint{'s' * (count != 1)}: {len(fleet.blueprints)} valid, "
        f"{len(fleet.broken)} invalid; {len(errors)} error{'s' * (len(errors) != 1)}, "
        f"{len(warnings)} warning{'s' * (len(warnings) != 1)}"
    )
    if not fleet.policies_found:
        summary += "; the global policies file is missing"
    elif not fleet.policies_ok:
        summary += "; the global policies do not validate"
    click.echo(summary, err=bool(fleet.problems))


@click.command("schema")
@click.option(
    "--kind",
    type=click.Choice(["blueprint", "policies"]),
    default="blueprint",
    show_default=True,
    help="Which schema: a service blueprint, or the global policies file.",
)
def schema_command(kind: str) -> None:
    """Print the JSON Schema the validator uses.

    Editors can use it for completion and inline errors; the sample blueprints point at
    blueprints/schema.json with a `# yaml-language-server: $schema=...` comment. The schema
    checks structure and units; `reconciler validate` adds the checks a schema cannot express
    (min <= max, threshold order, operation names, conditions, the policy merge).

    \b
    Exit codes: 0 printed, 2 usage (for example an unknown --kind).

    \b
    Examples:
      reconciler schema > blueprints/schema.json
      reconciler schema --kind policies > blueprints/governance/policies.schema.json
    """
    from reconciler.core.blueprint.schema_source import schema_text

    click.echo(schema_text(kind), nl=False)


@click.command("policy")
@click.argument("service")
@click.option(
    "--working-tree",
    is_flag=True,
    help="Show the policy the files say now, uncommitted edits included, instead of the "
    "committed one that governs.",
)
@OUTPUT_OPTION
@click.pass_obj
def policy_command(settings: Settings, service: str, working_tree: bool, output: str) -> None:
    """Show SERVICE's effective policy: its blueprint merged with the global policies.

    Every default is filled in, and every governance rule names the file and field it comes
    from, so you can see why an operation is allowed, needs approval, or is refused.

    The policy shown is the one that governs: the blueprints and policies committed at HEAD,
    which is what `run` and `request` judge under. Uncommitted edits under blueprints/ are
    named in a warning; --working-tree shows what they would make of it.

    \b
    Exit codes: 0 shown, 2 usage, 3 no blueprint repository, not a git repository (without
                --working-tree), the global policies do not validate, or SERVICE has no
                valid blueprint.

    \b
    Examples:
      reconciler policy todo-frontend
      reconciler policy todo-frontend --working-tree    # before committing an edit
      reconciler policy todo-frontend -o json | jq .scaling
    """
    from reconciler.cli.compose import committed_fleet
    from reconciler.core.blueprint.describe import policy_lines, policy_to_json
    from reconciler.shell.workspace import load_fleet

    root = settings.root()
    fleet = load_fleet(root) if working_tree else committed_fleet(root)
    fleet.require_policies()
    blueprint = fleet.get(service)
    if output == "json":
        emit_json(
            {
                **policy_to_json(blueprint),
                "commit": fleet.commit or None,
                "warnings": [w.to_json() for w in fleet.notices],
            }
        )
    else:
        warn(fleet.notices)
        click.echo("\n".join(policy_lines(blueprint)))
