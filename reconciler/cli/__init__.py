"""The command line, and the composition root: the only place that reads flags and the
environment and decides which adapters to build.

Start-up stays fast (`reconciler --help` imports click and nothing heavy): each command imports
what it needs when it runs. Expected errors print one line, `error: ...` plus a hint, and exit
with the code documented in docs/cli.md; a traceback means a bug.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from reconciler import __version__
from reconciler.cli.blueprints import policy_command, schema_command, validate_command
from reconciler.cli.context import Settings


class _Group(click.Group):
    """Turns the reconciler's own errors into one line and a documented exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        from reconciler.core.errors import ReconcilerError

        try:
            return super().invoke(ctx)
        except ReconcilerError as error:
            click.echo(f"error: {error}", err=True)
            if error.hint:
                click.echo(f"hint: {error.hint}", err=True)
            sys.exit(int(error.exit_code))
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


@click.group(
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="RECONCILER_REPO",
    help="Blueprint repository (default: the nearest directory upwards with blueprints/). "
    "Env: RECONCILER_REPO.",
)
@click.version_option(__version__, prog_name="reconciler")
@click.pass_context
def main(ctx: click.Context, repo: Path | None) -> None:
    """Reconcile Kubernetes services with the blueprints in a git repository.

    Each service has a blueprint at blueprints/<service>/blueprint.yaml: its replica bounds,
    utilization targets and thresholds, performance targets, and which operations the
    reconciler may do alone (allowed), only with a merged pull request (requires_approval), or
    never (forbidden). A cycle reads metrics, decides, governs, then acts, proposes or refuses,
    and records every step as a commit under audit/.

    \b
    Start here:
      reconciler validate            check every blueprint, with a fix for each problem
      reconciler policy todo-frontend  show a service's effective policy and where it comes from
      reconciler schema > schema.json  the JSON Schema, for editors

    Exit codes: 0 ok, 1 problems found, 2 usage, 3 configuration, 4 unavailable, 5 audit.
    Details: docs/cli.md.
    """
    ctx.obj = Settings(repo=repo)


main.add_command(validate_command)
main.add_command(schema_command)
main.add_command(policy_command)
