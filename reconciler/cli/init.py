"""`reconciler init [DIR]`: start a blueprint repository that uses the reconciler's Action.

A team adopts the reconciler without forking it: its repository holds only blueprints, the
global policies, the audit trail and two short workflows that run the Action by its release.
This command writes that repository's first files from templates in `reconciler/data/init`
(the reconcile workflow is this project's own, with the Action's release in place of
`uses: ./`), the JSON Schemas as real files beside the YAML that names them, and CODEOWNERS
from the approvers given, through the same code as `reconciler codeowners`.

Main design choice: all or nothing. Every file is rendered and checked first (the blueprints
must load, CODEOWNERS must name every approver), and if any target exists nothing is written;
then the files are committed, in a new repository when DIR is in none, because a cycle judges
only what is committed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

import click

from reconciler import ACTION_REPOSITORY, ACTION_VERSION
from reconciler.cli.output import OUTPUT_OPTION, emit_json

__all__ = ["init_command", "scaffold"]

#: Kubernetes names (RFC 1123 labels), which service, namespace and deployment names are.
_NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
#: An approver as a blueprint names one: a GitHub login (alice) or a team (org/team).
_APPROVER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9._-]+)?")
#: `owner/repo@ref`, as `uses:` takes it.
_ACTION = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(/[A-Za-z0-9_./-]+)?@[A-Za-z0-9_./-]+")
#: The line of a template workflow that runs the Action from its own checkout.
LOCAL_ACTION = "        uses: ./\n"


@dataclass(frozen=True, kw_only=True)
class Scaffold:
    """What `init` was asked for, checked."""

    service: str
    namespace: str
    deployment: str
    approvers: tuple[str, ...]
    action: str


def _template(name: str) -> str:
    # importlib.resources brings tempfile, shutil and random: imported by `init` alone.
    from importlib import resources

    return resources.files("reconciler.data").joinpath(f"init/{name}").read_text("utf-8")


def _schema(kind: str) -> str:
    from importlib import resources

    return resources.files("reconciler.data").joinpath(f"{kind}.schema.json").read_text("utf-8")


def _workflow(name: str, action: str) -> str:
    text = _template(name)
    assert text.count(LOCAL_ACTION) == 1, name  # the template has exactly one place for it
    return text.replace(LOCAL_ACTION, f"        uses: {action}\n")


def scaffold(spec: Scaffold) -> dict[str, str]:
    """Every file of the new repository, by path, before anything is written."""
    values = {
        "service": spec.service,
        "namespace": spec.namespace,
        "deployment": spec.deployment,
        # A YAML flow list of quoted names.
        "approvers": "[" + ", ".join(f'"{name}"' for name in spec.approvers) + "]",
    }
    files = {
        "blueprints/governance/policies.yaml": Template(_template("policies.yaml")).substitute(
            values
        ),
        "blueprints/governance/policies.schema.json": _schema("policies"),
        "blueprints/schema.json": _schema("blueprint"),
        f"blueprints/{spec.service}/blueprint.yaml": Template(
            _template("blueprint.yaml")
        ).substitute(values),
        ".gitignore": _template("gitignore"),
        ".github/workflows/reconcile.yml": _workflow("reconcile.yml", spec.action),
        ".github/workflows/pr-checks.yml": _workflow("pr-checks.yml", spec.action),
    }
    files[".github/CODEOWNERS"] = _codeowners(files)
    return files


def _codeowners(files: dict[str, str]) -> str:
    """CODEOWNERS for the rendered blueprints, exactly as `reconciler codeowners --write`
    would write it, so the pull request checks find it up to date."""
    from reconciler.cli.codeowners import with_trail_and_requests
    from reconciler.core.approvals.codeowners import codeowners_entries, render_block
    from reconciler.core.errors import ConfigError
    from reconciler.core.problems import has_errors
    from reconciler.shell.workspace import load_fleet_files

    fleet = load_fleet_files(Path(), {path: text.encode() for path, text in files.items()})
    if fleet.problems or fleet.policies is None:
        # The templates and the checked options always load; this guards the templates.
        raise ConfigError(
            "the new blueprints do not validate: "
            + "; ".join(problem.render() for problem in fleet.problems),
            hint="check the --service, --namespace, --deployment and --approver values",
        )
    entries, problems = codeowners_entries(fleet.blueprints, fleet.policies, org=None)
    if has_errors(problems):
        raise ConfigError(
            "CODEOWNERS cannot name every approver: "
            + "; ".join(problem.render() for problem in problems),
            hint="give approvers as GitHub logins (alice) or teams (org/team)",
        )
    return render_block(with_trail_and_requests(entries))


def _name(option: str, value: str) -> str:
    if not _NAME.fullmatch(value):
        raise click.BadParameter(
            f"{value!r} is not a Kubernetes name: lower-case letters, digits and '-', "
            "at most 63, starting and ending with a letter or digit (e.g. web-frontend)",
            param_hint=option,
        )
    return value


@click.command("init")
@click.argument(
    "directory",
    required=False,
    default=".",
    type=click.Path(file_okay=False, path_type=Path),
)
@click.option(
    "--service",
    required=True,
    metavar="NAME",
    help="The example blueprint's service (blueprints/NAME/blueprint.yaml).",
)
@click.option(
    "--namespace",
    default="default",
    show_default=True,
    help="The namespace of the service's deployment (also the fleet's default).",
)
@click.option(
    "--deployment",
    metavar="NAME",
    help="The service's deployment (default: the service's name).",
)
@click.option(
    "--approver",
    "approvers",
    multiple=True,
    required=True,
    metavar="NAME",
    help="Who approves (repeatable): a GitHub login (alice or @alice) or a team (org/team). "
    "They approve the example service and the global policies, and own them in CODEOWNERS.",
)
@click.option(
    "--action",
    default=f"{ACTION_REPOSITORY}@{ACTION_VERSION}",
    show_default=True,
    metavar="OWNER/REPO@REF",
    help="The reconciler's Action the workflows use (a release tag, or a commit sha to pin).",
)
@click.option(
    "--commit/--no-commit",
    default=True,
    show_default=True,
    help="Commit the new files (in a new repository when DIRECTORY is in none). A cycle "
    "judges only what is committed, so without it `run` waits for your commit.",
)
@OUTPUT_OPTION
def init_command(
    directory: Path,
    service: str,
    namespace: str,
    deployment: str | None,
    approvers: tuple[str, ...],
    action: str,
    commit: bool,
    output: str,
) -> None:
    """Start a blueprint repository in DIRECTORY (default: the current one).

    Writes the global policies, one example blueprint for --service, the JSON Schemas that
    the YAML files name for editors (# yaml-language-server: $schema=...), a .gitignore for
    the local state, .github/CODEOWNERS from the approvers, and two workflows that run the
    reconciler's Action: reconcile.yml (every 5 minutes, by hand, on blueprint changes) and
    pr-checks.yml (validate, classify each edit, check CODEOWNERS). Then it commits them, in
    a new git repository (branch main) if DIRECTORY is in none, or on the checked-out branch
    of the one it is in (only the new files; anything else staged stays staged).

    Nothing is overwritten: if any of the files exists, nothing is written. Afterwards
    `reconciler validate` passes, and `reconciler sim init && reconciler run` reconciles the
    example service on the simulated cluster. Next steps: docs/getting-started.md.

    \b
    Exit codes: 0 written (and committed), 2 usage (a missing --service or --approver, a name
                  that is not a Kubernetes name, an approver or --action that cannot be
                  written), 3 a file exists already (named; nothing written) or the commit
                  failed (the files stay written).

    \b
    Examples:
      reconciler init fleet --service web --approver alice
      reconciler init --service checkout --namespace shop --approver acme/sre-team
      reconciler init fleet --service web --approver alice --action acme/reconciler@v0.1.0
      reconciler init fleet --service web --approver alice -o json | jq -r '.files[]'
    """
    spec = _checked(service, namespace, deployment, approvers, action)
    files = scaffold(spec)
    _write(directory, files)
    sha, created = _commit(directory, files, spec) if commit else (None, False)
    if output == "json":
        emit_json(
            {
                "directory": str(directory),
                "files": list(files),
                "commit": sha,
                "repository_created": created,
                "action": action,
            }
        )
        return
    _print_written(directory, files, sha, created)


def _print_written(directory: Path, files: dict[str, str], sha: str | None, created: bool) -> None:
    for path in files:
        click.echo(f"wrote {directory / path}")
    if sha:
        where = "a new git repository" if created else "the current branch"
        click.echo(f"committed them in {where} ({sha[:7]})")
    else:
        click.echo("not committed: a cycle judges only what is committed (git add, git commit)")
    click.echo(
        "next: reconciler validate; reconciler sim init && reconciler run; then push to "
        "GitHub and set up the job (docs/getting-started.md)"
    )


def _checked(
    service: str,
    namespace: str,
    deployment: str | None,
    approvers: tuple[str, ...],
    action: str,
) -> Scaffold:
    """The options as a Scaffold, each checked: a usage error names the option to fix."""
    names = tuple(dict.fromkeys(approver.removeprefix("@") for approver in approvers))
    for approver in names:
        if not _APPROVER.fullmatch(approver):
            raise click.BadParameter(
                f"{approver!r} cannot be an approver: give a GitHub login (alice) or a team "
                "(org/team)",
                param_hint="'--approver'",
            )
    if not _ACTION.fullmatch(action):
        raise click.BadParameter(
            f"{action!r} is not an action reference: OWNER/REPO@REF, e.g. "
            f"{ACTION_REPOSITORY}@{ACTION_VERSION}",
            param_hint="'--action'",
        )
    return Scaffold(
        service=_name("'--service'", service),
        namespace=_name("'--namespace'", namespace),
        deployment=_name("'--deployment'", deployment or service),
        approvers=names,
        action=action,
    )


def _write(directory: Path, files: dict[str, str]) -> None:
    """Write every file, or none when any of them exists already."""
    from reconciler.core.errors import ConfigError

    existing = [path for path in files if (directory / path).exists()]
    if existing:
        raise ConfigError(
            f"{directory / existing[0]} exists already; nothing was written"
            + (f" ({len(existing) - 1} more would be overwritten)" if len(existing) > 1 else ""),
            hint="init starts a new blueprint repository: pick an empty directory, or move "
            "the file away",
        )
    for path, text in files.items():
        target = directory / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def _commit(directory: Path, files: dict[str, str], spec: Scaffold) -> tuple[str | None, bool]:
    """Commit the new files: the commit, and whether a repository was created for it."""
    from reconciler.adapters.gitrepo import commit_new_files
    from reconciler.cli.compose import Environment

    env = Environment.read()
    return commit_new_files(
        directory,
        {path: text.encode() for path, text in files.items()},
        f"Blueprint repository for {spec.service}, from reconciler init",
        name=env.git_name,
        email=env.git_email,
    )
