"""The command line, and the composition root: the only place that reads flags and the
environment and decides which adapters to build.

Start-up stays fast. The console script (`reconciler.entry`) prints the top-level help and
the version from a kept copy of this module's rendering without importing click at all;
otherwise (`python -m reconciler --help`, another width) `--help` imports click and this
module only. The subcommands are listed in `COMMANDS` with their one-line summaries and
imported by name when one is run (or asked for its own `--help`), and each command imports
what it needs when it runs. Even
the settings (`context`) wait for a command: `--help` creates no dataclass, each of which
costs Python 3.11 a compile per generated method, and so never imports `dataclasses`.

Expected errors print one line, `error: ...` plus a hint, and exit with the code documented in
docs/cli.md; a traceback means a bug.
"""

from __future__ import annotations

import gc
import importlib
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import click

from reconciler import __version__
from reconciler.entry import GC_THRESHOLDS

#: How long a writing command waits for another one to finish with the repository.
DEFAULT_LOCK_TIMEOUT = "60s"


class LazyCommand(NamedTuple):
    """Where a subcommand is defined, and the summary `reconciler --help` shows for it without
    importing its module (tests/cli/test_startup.py checks the summary against the command's).
    A named tuple, not a dataclass, for the reason in the module's docstring."""

    module: str
    attribute: str
    summary: str


def _lazy(module: str, attribute: str, summary: str) -> LazyCommand:
    return LazyCommand(module=f"reconciler.cli.{module}", attribute=attribute, summary=summary)


#: Every subcommand, by name, in the order `--help` lists them.
COMMANDS: dict[str, LazyCommand] = {
    "approvals": _lazy(
        "approvals",
        "approvals_command",
        "List approval proposals: pending, approved (merged), rejected, expired, superseded "
        "and refused, from the audit trail.",
    ),
    "audit": _lazy(
        "audit",
        "audit_command",
        "List audit records, oldest first, filtered by service, event type and time.",
    ),
    "breaker": _lazy("breaker", "breaker_group", "Inspect or reset a service's circuit breaker."),
    "check-change": _lazy(
        "review",
        "check_change_command",
        "Classify every blueprint edit between git revisions BASE and HEAD, and say who must "
        "approve it.",
    ),
    "codeowners": _lazy(
        "codeowners",
        "codeowners_command",
        "Print CODEOWNERS entries that make each blueprint's approvers its code owners.",
    ),
    "dashboard": _lazy(
        "dashboard",
        "dashboard_command",
        "Put a failed run on the dashboard issue (GitHub forge only).",
    ),
    "demo": _lazy(
        "demo",
        "demo_command",
        "Run the seed scenario end to end on the embedded defaults, and narrate it.",
    ),
    "doctor": _lazy(
        "doctor",
        "doctor_command",
        "Check that the reconciler can work on a cluster, and say how to fix what is missing.",
    ),
    "explain": _lazy(
        "audit",
        "explain_command",
        "Show the whole chain behind one id: decision → governance → operation → verification "
        "→ rollback, with the numbers, rules and checks of each step.",
    ),
    "init": _lazy(
        "init",
        "init_command",
        "Start a blueprint repository in DIRECTORY (default: the current one).",
    ),
    "plan": _lazy(
        "run",
        "plan_command",
        "Show what a cycle would do now, and why, without changing or recording anything.",
    ),
    "policy": _lazy(
        "blueprints",
        "policy_command",
        "Show SERVICE's effective policy: its blueprint merged with the global policies.",
    ),
    "report": _lazy(
        "report",
        "report_command",
        "Sum up an observe-mode trial: what the reconciler would have done, per service.",
    ),
    "request": _lazy(
        "request",
        "request_command",
        "Ask for an operation on SERVICE; it goes through the same governance as a decision.",
    ),
    "run": _lazy(
        "run",
        "run_command",
        "Run one reconcile cycle over every service (or those given with --service).",
    ),
    "schema": _lazy("blueprints", "schema_command", "Print the JSON Schema the validator uses."),
    "sim": _lazy(
        "sim", "sim_group", "The simulated cluster: the embedded default that `run` acts on."
    ),
    "status": _lazy(
        "status",
        "status_command",
        "A row per service: replicas, weighted utilization, last change, cooldown, breaker, "
        "and what is pending.",
    ),
    "validate": _lazy(
        "blueprints",
        "validate_command",
        "Check blueprints and the global policies; report every problem with its fix.",
    ),
}


class _Group(click.Group):
    """Turns the reconciler's own errors into one line and a documented exit code, and imports
    a subcommand's module only when that subcommand is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            lazy = COMMANDS[cmd_name]
            self.add_command(getattr(importlib.import_module(lazy.module), lazy.attribute))
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The summaries of `COMMANDS`, shortened to the width as click shortens a command's
        own help, so that listing the commands imports none of them."""
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        rows = []
        for name in self.list_commands(ctx):
            summary = COMMANDS[name].summary
            if len(summary) > limit:
                summary = textwrap.shorten(
                    summary, limit, placeholder="...", break_on_hyphens=False
                )
            rows.append((name, summary))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        from reconciler.core.errors import ReconcilerError

        # A command builds and keeps hundreds of thousands of small objects (blueprints,
        # records, deployment states) and makes next to no cyclic garbage: at Python's
        # default thresholds, collecting was a third of a 10,000-service run's time, and
        # with these its peak memory is the same (about 580 MB).
        gc.set_threshold(*GC_THRESHOLDS)
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
        finally:
            # What a command moved out of the collector's sight (`gc.freeze`, cli/run.py) is
            # its again: a process that runs several commands (the tests) reclaims it.
            gc.unfreeze()


class _Header(click.ParamType):  # type: ignore[type-arg]  # generic from click 8.3 on
    """`NAME: VALUE`, as curl's -H takes it. From the environment, one header per line, since
    a value may hold spaces and commas but never a line break."""

    name = "NAME: VALUE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        name, colon, text = str(value).partition(":")
        name = name.strip()
        if not colon or not name or " " in name:
            # The value is not repeated: a header may carry a secret.
            self.fail("expected `NAME: VALUE`, for example `X-Scope-OrgID: team-a`", param, ctx)
        return (name, text.strip())

    def split_envvar_value(self, rv: str) -> Sequence[str]:
        return [line for line in rv.splitlines() if line.strip()]


_SECONDS = click.FloatRange(min=0, min_open=True)
_FILE = click.Path(dir_okay=False, path_type=Path)

#: How to reach Prometheus: each becomes a field of PrometheusOptions.
_PROMETHEUS_OPTIONS = (
    click.option(
        "--prometheus-token-file",
        "token_file",
        type=_FILE,
        envvar="RECONCILER_PROMETHEUS_TOKEN_FILE",
        help="Prometheus: a bearer token in a file, read again at every run (or give the "
        "token itself in RECONCILER_PROMETHEUS_TOKEN). Env: RECONCILER_PROMETHEUS_TOKEN_FILE.",
    ),
    click.option(
        "--prometheus-user",
        "user",
        envvar="RECONCILER_PROMETHEUS_USER",
        help="Prometheus: basic auth user; the password from RECONCILER_PROMETHEUS_PASSWORD "
        "or --prometheus-password-file. Env: RECONCILER_PROMETHEUS_USER.",
    ),
    click.option(
        "--prometheus-password-file",
        "password_file",
        type=_FILE,
        envvar="RECONCILER_PROMETHEUS_PASSWORD_FILE",
        help="Prometheus: the basic auth password in a file, read again at every run. "
        "Env: RECONCILER_PROMETHEUS_PASSWORD_FILE.",
    ),
    click.option(
        "--prometheus-header",
        "headers",
        type=_Header(),
        multiple=True,
        envvar="RECONCILER_PROMETHEUS_HEADERS",
        help="Prometheus: a header for every request, e.g. 'X-Scope-OrgID: team-a' for Mimir, "
        "Cortex or Thanos tenants; repeatable. Env: RECONCILER_PROMETHEUS_HEADERS, one per "
        "line.",
    ),
    click.option(
        "--prometheus-ca-file",
        "ca_file",
        type=_FILE,
        envvar="RECONCILER_PROMETHEUS_CA_FILE",
        help="Prometheus: the CAs (PEM) to trust instead of the system's. "
        "Env: RECONCILER_PROMETHEUS_CA_FILE.",
    ),
    click.option(
        "--prometheus-cert-file",
        "cert_file",
        type=_FILE,
        envvar="RECONCILER_PROMETHEUS_CERT_FILE",
        help="Prometheus: a client certificate (PEM) for mutual TLS. "
        "Env: RECONCILER_PROMETHEUS_CERT_FILE.",
    ),
    click.option(
        "--prometheus-key-file",
        "key_file",
        type=_FILE,
        envvar="RECONCILER_PROMETHEUS_KEY_FILE",
        help="Prometheus: the client certificate's private key (PEM), unless the certificate "
        "file holds it. Env: RECONCILER_PROMETHEUS_KEY_FILE.",
    ),
    click.option(
        "--prometheus-timeout",
        "timeout",
        type=_SECONDS,
        metavar="SECONDS",
        default=5.0,
        show_default=True,
        envvar="RECONCILER_PROMETHEUS_TIMEOUT",
        help="Prometheus: seconds to wait for an answer. Env: RECONCILER_PROMETHEUS_TIMEOUT.",
    ),
    click.option(
        "--prometheus-connect-timeout",
        "connect_timeout",
        type=_SECONDS,
        metavar="SECONDS",
        default=5.0,
        show_default=True,
        envvar="RECONCILER_PROMETHEUS_CONNECT_TIMEOUT",
        help="Prometheus: seconds to wait for a connection. "
        "Env: RECONCILER_PROMETHEUS_CONNECT_TIMEOUT.",
    ),
)


def _prometheus_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_PROMETHEUS_OPTIONS):
        command = option(command)
    return command


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
@click.option(
    "--cluster",
    type=click.Choice(["simulated", "kubernetes"]),
    default="simulated",
    show_default=True,
    envvar="RECONCILER_CLUSTER",
    help="Which cluster to act on: the embedded simulation, or a real one. "
    "Env: RECONCILER_CLUSTER.",
)
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="KUBECONFIG",
    help="Kubernetes: the kubeconfig file (default ~/.kube/config). Env: KUBECONFIG.",
)
@click.option(
    "--context",
    envvar="RECONCILER_CONTEXT",
    help="Kubernetes: the kubeconfig context (default: its current one). Env: RECONCILER_CONTEXT.",
)
@click.option(
    "--in-cluster",
    is_flag=True,
    envvar="RECONCILER_IN_CLUSTER",
    help="Kubernetes: use the pod's service account instead of a kubeconfig.",
)
@click.option(
    "--prometheus-url",
    envvar="RECONCILER_PROMETHEUS_URL",
    help="Kubernetes: Prometheus for latency, error rate and the CPU and memory history that "
    "scale-downs need, e.g. http://prometheus:9090. Proxies from HTTPS_PROXY, HTTP_PROXY "
    "and NO_PROXY. Env: RECONCILER_PROMETHEUS_URL.",
)
@_prometheus_options
@click.option(
    "--forge",
    type=click.Choice(["local", "github", "none"]),
    default="local",
    show_default=True,
    envvar="RECONCILER_FORGE",
    help="Where approval proposals go: branches in this repository (local), pull requests on "
    "GitHub (github; token from GITHUB_TOKEN), or nowhere (none). Env: RECONCILER_FORGE.",
)
@click.option(
    "--github-repository",
    envvar="GITHUB_REPOSITORY",
    help="GitHub forge: owner/name of the repository. Env: GITHUB_REPOSITORY.",
)
@click.option(
    "--github-api-url",
    envvar="GITHUB_API_URL",
    default="https://api.github.com",
    show_default=True,
    help="GitHub forge: the API's base URL (GitHub Enterprise: https://HOST/api/v3). "
    "Env: GITHUB_API_URL.",
)
@click.option(
    "--sim-state",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="RECONCILER_SIM_STATE",
    help="The simulated cluster's state file (default: .reconciler/sim-state.db in the "
    "repository). Env: RECONCILER_SIM_STATE.",
)
@click.option(
    "--lock-timeout",
    default=DEFAULT_LOCK_TIMEOUT,
    show_default=True,
    envvar="RECONCILER_LOCK_TIMEOUT",
    metavar="DURATION",
    help="How long a command that writes (run, request, breaker reset, sim init/set/advance) "
    "waits while another reconciler writes to the same repository, before it exits 4. "
    "Env: RECONCILER_LOCK_TIMEOUT.",
)
@click.version_option(__version__, prog_name="reconciler")
@click.pass_context
def main(
    ctx: click.Context,
    /,
    repo: Path | None,
    cluster: str,
    kubeconfig: Path | None,
    context: str | None,
    in_cluster: bool,
    prometheus_url: str | None,
    forge: str,
    github_repository: str | None,
    github_api_url: str,
    sim_state: Path | None,
    lock_timeout: str,
    **prometheus: Any,
) -> None:
    """Reconcile Kubernetes services with the blueprints in a git repository.

    Each service has a blueprint at blueprints/<service>/blueprint.yaml: its replica bounds,
    utilization targets and thresholds, performance targets, and which operations the
    reconciler may do alone (allowed), only with a merged pull request (requires_approval), or
    never (forbidden). A cycle reads metrics, decides, governs, then acts, proposes or refuses,
    and records every step as a commit under audit/.

    \b
    Examples (start here):
      reconciler demo                  the seed scenario, narrated, in a scratch clone
      reconciler init fleet --service web --approver alice
                                       a new blueprint repository that uses the Action
      reconciler validate              check every blueprint, with a fix for each problem
      reconciler policy todo-frontend  a service's effective policy and where it comes from
      reconciler sim init --scenario seed && reconciler run
                                       one cycle on the simulated cluster
      reconciler audit / explain ID    the audit trail, and the chain behind one decision

    \b
    Exit codes: 0 ok, 1 problems found, 2 usage, 3 configuration, 4 unavailable, 5 audit;
                each command's --help says when it returns which. Details: docs/cli.md.
    """
    from reconciler.cli.context import PrometheusOptions, Settings
    from reconciler.core.blueprint.units import UnitError, parse_duration

    try:
        waited = parse_duration(lock_timeout)
    except UnitError as error:
        raise click.BadParameter(f"{error} ({error.hint})", param_hint="'--lock-timeout'") from None
    ctx.obj = Settings(
        lock_timeout=waited,
        repo=repo,
        cluster=cluster,
        sim_state=sim_state,
        kubeconfig=kubeconfig,
        context=context,
        in_cluster=in_cluster,
        prometheus_url=prometheus_url,
        prometheus=PrometheusOptions(**prometheus),
        forge=forge,
        github_repository=github_repository,
        github_api_url=github_api_url,
    )
