"""`reconciler sim`: create, inspect, edit and advance the simulated cluster."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler.cli.context import Settings, WritingCommand
from reconciler.cli.output import OUTPUT_OPTION, emit_json, plural, table

if TYPE_CHECKING:
    from reconciler.adapters.simulated import SimDeployment, SimTarget, SimulatedCluster
    from reconciler.shell.workspace import Fleet

DEFAULT_START = "2026-02-10T15:30:00Z"

#: A correct value for each `sim set` key, shown when a value does not parse.
SET_EXAMPLES = {
    "replicas": "replicas=3",
    "cpu_utilization": "cpu_utilization=85%",
    "memory_utilization": "memory_utilization=70%",
    "latency_p95": "latency_p95=180ms",
    "error_rate": "error_rate=0.5%",
    "rps": "rps=170",
    "capacity": "capacity=100",
    "base_latency": "base_latency=27ms",
    "base_error_rate": "base_error_rate=0.2%",
    "cpu_request": "cpu_request=100m",
    "memory_request": "memory_request=512Mi",
    "startup": "startup=45s",
    "restarts": "restarts=0",
    "crashing": "crashing=true",
    "crashing_pods": "crashing_pods=1",
    "release": "release=bad",
    "scale_fails": "scale_fails=true",
    "pods_never_ready": "pods_never_ready=true",
    "metrics_unavailable": "metrics_unavailable=true",
    "paused": "paused=true",
}


@click.group("sim")
def sim_group() -> None:
    """The simulated cluster: the embedded default that `run` acts on.

    Its state is one SQLite file (default .reconciler/sim-state.db in the repository, or
    --sim-state / RECONCILER_SIM_STATE): the virtual clock, and each deployment's pods, load,
    fault switches and metric history; `sim show -o json` prints all of it. Pods take their
    start-up time to become ready, and utilization, latency and errors respond to the number
    of ready pods.

    \b
    Exit codes: 0 done, 2 usage (an unknown command, or a value that does not parse),
                3 no blueprint repository, or no simulated cluster yet (`sim init`),
                4 another reconciler kept writing (init, set, advance wait for it up
                  to --lock-timeout), or another process wrote the state meanwhile.

    \b
    Examples (a session):
      reconciler sim init --scenario seed --history 10m
      reconciler run
      reconciler sim advance 60s
      reconciler sim set todo-frontend cpu_utilization=30% latency_p95=90ms
      reconciler sim show
    """


def _path(settings: Settings) -> Path:
    from reconciler.cli.compose import sim_state_path

    return sim_state_path(settings.root(), settings.sim_state)


@sim_group.command("init", cls=WritingCommand)
@click.option(
    "--scenario",
    type=click.Choice(["steady", "seed"]),
    default="steady",
    show_default=True,
    help="steady: every service within its thresholds; seed: todo-frontend at CPU 85%, "
    "memory 70%, p95 180 ms on 2 replicas (the seed scenario).",
)
@click.option(
    "--history",
    default="0s",
    show_default=True,
    help="Metric history to generate at the starting load, e.g. 10m (scale-down needs it).",
)
@click.option(
    "--at", "start", default=DEFAULT_START, show_default=True, help="The virtual clock's start."
)
@click.option("--force", is_flag=True, help="Replace an existing state file.")
@click.option(
    "--gitops-delay",
    default="30s",
    show_default=True,
    help="How long after a commit the simulated Argo CD applies it, for the services that act "
    "through git (coexistence: write_back).",
)
@click.pass_obj
def sim_init_command(
    settings: Settings, scenario: str, history: str, start: str, force: bool, gitops_delay: str
) -> None:
    """Create the simulated cluster from the blueprints: one ready deployment per service.

    \b
    Exit codes: 0 created, 2 usage (a --history, --at or --gitops-delay that does not parse),
                3 the state file exists (add --force), or no blueprint repository,
                4 another reconciler kept writing to the repository (--lock-timeout).

    \b
    Examples:
      reconciler sim init
      reconciler sim init --scenario seed --history 10m
      reconciler sim init --force --at 2026-02-10T09:00:00Z
      reconciler sim init --gitops-delay 2m    # a slower simulated Argo CD
    """
    from reconciler.adapters.simulated import SCENARIOS, create
    from reconciler.core.errors import ConfigError
    from reconciler.shell.workspace import load_fleet

    span, clock = _init_values(history, gitops_delay, start)
    path = _path(settings)
    if path.exists() and not force:
        raise ConfigError(f"{path} exists", hint="use --force to replace it")
    targets = _targets(load_fleet(settings.root()))
    sim = create(path, targets, clock=clock, scenario=scenario, history=span)
    sim.settings["gitops_delay"] = gitops_delay
    sim.save()
    click.echo(
        f"simulated cluster with {plural(len(targets), 'deployment')} at {path} "
        f"(clock {clock:%Y-%m-%d %H:%M:%SZ})"
    )
    # A scenario is written for the sample services; without them it would change nothing.
    missing = sorted(set(SCENARIOS[scenario]) - {t.name for t in targets})
    if missing:
        click.echo(
            f"warning: the {scenario} scenario sets the load of {', '.join(missing)}, and no "
            "blueprint here names them: every deployment starts steady (set a load with "
            "`reconciler sim set SERVICE cpu_utilization=85% ...`)",
            err=True,
        )


def _init_values(history: str, gitops_delay: str, start: str) -> tuple[float, datetime]:
    """--history and the clock's start, checked with --gitops-delay: a value that cannot mean
    anything is a usage error (exit 2) naming its option."""
    from reconciler.core import bounds
    from reconciler.core.blueprint.units import UnitError, parse_duration

    try:
        span = parse_duration(history)
    except UnitError as error:
        raise click.BadParameter(f"{error} ({error.hint})", param_hint="'--history'") from None
    try:
        parse_duration(gitops_delay)
    except UnitError as error:
        raise click.BadParameter(f"{error} ({error.hint})", param_hint="'--gitops-delay'") from None
    try:
        clock = datetime.fromisoformat(start.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        raise click.BadParameter(
            f"{start!r} is not a time (e.g. --at {DEFAULT_START})", param_hint="'--at'"
        ) from None
    try:
        bounds.moment(clock)
    except bounds.OutOfRange as error:
        raise click.BadParameter(f"{error} ({error.hint})", param_hint="'--at'") from None
    return span, clock


def _targets(fleet: Fleet) -> list[SimTarget]:
    """A ready deployment per blueprint, at two replicas within its bounds."""
    from reconciler.adapters.simulated import SimTarget

    return [
        SimTarget(
            namespace=b.metadata.namespace,
            name=b.metadata.deployment,
            replicas=max(b.scaling.min_replicas, min(2, b.scaling.max_replicas)),
            cpu_request=b.resources.cpu.request,
            memory_request=b.resources.memory.request,
            latency_target_ms=b.performance.latency_p95_ms,
        )
        for b in fleet.blueprints
    ]


@sim_group.command("show")
@OUTPUT_OPTION
@click.pass_obj
def sim_show_command(settings: Settings, output: str) -> None:
    """Show the clock and each deployment: replicas, ready pods, load and faults.

    \b
    Exit codes: 0 shown, 2 usage, 3 no simulated cluster yet (`sim init`).

    \b
    Examples:
      reconciler sim show
      reconciler sim show -o json
    """
    from reconciler.cli.compose import open_simulation

    sim = open_simulation(settings.root(), settings.sim_state)
    if output == "json":
        emit_json(
            sim.to_json()
            | {
                "unreadable": [
                    {
                        "deployment": b.deployment,
                        "file": str(b.file),
                        "error": b.problem,
                        "hint": b.hint,
                    }
                    for b in sim.unreadable.values()
                ]
            }
        )
        return
    click.echo(f"clock {sim.clock:%Y-%m-%d %H:%M:%SZ}")
    for broken in sim.unreadable.values():
        click.echo(f"warning: {broken.message()} (fix: {broken.hint})", err=True)
    headers = ["DEPLOYMENT", "REPLICAS", "READY", "CPU", "MEMORY", "P95", "ERRORS", "REVISION"]
    click.echo(table([*headers, "FAULTS"], [_row(d, sim.clock) for d in sim.deployments.values()]))


def _row(d: SimDeployment, clock: datetime) -> list[str]:
    from reconciler.core.blueprint.units import format_percent

    m = d.metrics_at(clock)

    def pct(value: float | None) -> str:
        return "-" if value is None else format_percent(value)

    faults = ",".join(k for k, v in d.faults.items() if v) or "-"
    return [
        f"{d.namespace}/{d.name}",
        str(d.replicas),
        str(d.ready_pods(clock)),
        pct(m["cpu"]),
        pct(m["memory"]),
        "-" if m["latency"] is None else f"{m['latency']:.0f}ms",
        pct(m["errors"]),
        f"r{d.revision}",
        faults,
    ]


@sim_group.command("set", cls=WritingCommand)
@click.argument("service")
@click.argument("settings_", metavar="KEY=VALUE...", nargs=-1, required=True)
@click.pass_obj
def sim_set_command(settings: Settings, service: str, settings_: tuple[str, ...]) -> None:
    """Change a simulated deployment's load, resources or fault switches, in order.

    \b
    Keys:
      replicas=N              replicas now, all pods ready (set up by hand)
      cpu_utilization=85%     CPU usage / request at the current ready pods
      memory_utilization=70%  memory usage / request at the current ready pods
      latency_p95=180ms       p95 latency now (under the current load)
      error_rate=0.5%         error rate now (under the current load)
      rps=170, capacity=100   requests per second in total; per pod before queueing grows
      base_latency=27ms       p95 with no queueing;  base_error_rate=0.2%
      cpu_request=100m, memory_request=512Mi, startup=45s
      restarts=N, crashing=true|false, crashing_pods=N (restarts grow every 30s)
      release=good|bad        roll out a new revision; a bad one's pods crash-loop
      scale_fails=true|false, pods_never_ready=true|false, metrics_unavailable=true|false
      paused=true|REASON|false  the reconciler/paused annotation (an emergency stop)

    \b
    Exit codes: 0 set, 2 usage (an unknown key, or a value that does not parse: the
                message shows a correct one; nothing is saved), 3 no simulated cluster
                yet, or no simulated deployment for SERVICE, 4 another reconciler kept
                writing to the repository (--lock-timeout), or another process wrote
                the state meanwhile (nothing is saved).

    \b
    Examples:
      reconciler sim set todo-frontend cpu_utilization=85% memory_utilization=70%
      reconciler sim set todo-frontend release=bad
      reconciler sim set todo-backend metrics_unavailable=true
    """
    from reconciler.cli.compose import open_simulation
    from reconciler.shell.workspace import load_fleet

    root = settings.root()
    sim = open_simulation(root, settings.sim_state)
    deployment = _deployment_of(sim, load_fleet(root), service)
    # Every setting is checked before the state is saved, and a bad one is a usage error
    # (exit 2) that shows a correct example, as click reports its own checks.
    pairs: dict[str, str] = {}
    for item in settings_:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise click.BadParameter(
                f"{item!r} is not KEY=VALUE (e.g. cpu_utilization=85%)", param_hint="'KEY=VALUE'"
            )
        pairs[key.strip()] = value.strip()
    for key, value in pairs.items():  # one at a time, so an error can name its setting
        _set(sim, deployment, key, value)
    sim.save(only=deployment)
    click.echo(f"{service}: set {', '.join(f'{k}={v}' for k, v in pairs.items())}")


def _deployment_of(sim: SimulatedCluster, fleet: Fleet, service: str) -> SimDeployment:
    """The simulated deployment of SERVICE: its blueprint's, or one of that name."""
    from reconciler.core.errors import ConfigError

    namespace, name = "", service
    for blueprint in fleet.blueprints:
        if blueprint.name == service:
            namespace, name = blueprint.metadata.namespace, blueprint.metadata.deployment
    matches = [
        d
        for d in sim.deployments.values()
        if d.name == name and (not namespace or d.namespace == namespace)
    ]
    broken = [
        b
        for (ns, n), b in sim.unreadable.items()
        if n == name and (not namespace or ns == namespace)
    ]
    if not matches and broken:
        raise ConfigError(broken[0].message(), hint=broken[0].hint)
    if not matches:
        raise ConfigError(
            f"no simulated deployment for {service!r}", hint="see `reconciler sim show`"
        )
    return matches[0]


def _set(sim: SimulatedCluster, deployment: SimDeployment, key: str, value: str) -> None:
    from reconciler.adapters.simulated import SettingError

    try:
        sim.set(deployment, {key: value})
    except SettingError as error:
        # A value none of the accepted ones is best answered with the list of them.
        example = error.hint
        if key in SET_EXAMPLES and not error.unaccepted:
            example = f"e.g. {SET_EXAMPLES[key]}"
        raise click.BadParameter(
            f"{key}={value}: {error.problem} ({example})", param_hint="'KEY=VALUE'"
        ) from None


# `-5s` would otherwise be read as an unknown option `-5`; passing it on as DURATION lets the
# duration parser say what is wrong with it (the clock only moves forward).
@sim_group.command("advance", cls=WritingCommand, context_settings={"ignore_unknown_options": True})
@click.argument("duration")
@click.pass_obj
def sim_advance_command(settings: Settings, duration: str) -> None:
    """Move the virtual clock forward by DURATION (60s, 5m, 1h), sampling metrics on the way.

    \b
    Exit codes: 0 moved, 2 usage (a negative or malformed DURATION: the clock only
                moves forward), 3 no simulated cluster yet (`sim init`), 4 another
                reconciler kept writing to the repository (--lock-timeout), or another
                process wrote the state meanwhile (nothing is saved).

    \b
    Examples:
      reconciler sim advance 60s
      reconciler sim advance 1h30m
    """
    from reconciler.cli.compose import open_simulation
    from reconciler.core import bounds
    from reconciler.core.blueprint.units import UnitError, parse_duration

    if duration.startswith("-") and not duration[1:2].isdigit():
        raise click.NoSuchOption(duration)  # a mistyped option, not a negative duration
    try:
        seconds = parse_duration(duration)
    except UnitError as error:
        raise click.BadParameter(f"{error} ({error.hint})", param_hint="'DURATION'") from None
    sim = open_simulation(settings.root(), settings.sim_state)
    try:
        sim.advance(seconds)
    except bounds.OutOfRange as error:
        raise click.BadParameter(f"{error} ({error.hint})", param_hint="'DURATION'") from None
    sim.save()
    click.echo(f"clock {sim.clock:%Y-%m-%d %H:%M:%SZ}")
