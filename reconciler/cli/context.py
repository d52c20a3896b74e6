"""Settings the top-level command collects for its subcommands, and the command class of
those that write to the repository."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click


@dataclass(frozen=True, kw_only=True)
class PrometheusOptions:
    """How to connect to Prometheus, from the global options (secret values come from the
    environment only; see `compose.Environment`)."""

    token_file: Path | None = None
    user: str | None = None
    password_file: Path | None = None
    #: Header values may be secrets too: never shown.
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    timeout: float = 5.0
    connect_timeout: float = 5.0


@dataclass(frozen=True)
class Settings:
    repo: Path | None
    cluster: str = "simulated"
    sim_state: Path | None = None
    kubeconfig: Path | None = None
    context: str | None = None
    in_cluster: bool = False
    prometheus_url: str | None = None
    prometheus: PrometheusOptions = field(default_factory=PrometheusOptions)
    forge: str = "local"
    github_repository: str | None = None
    github_api_url: str = "https://api.github.com"
    #: Seconds a writing command waits for the repository lock.
    lock_timeout: float = 60.0

    def root(self) -> Path:
        from reconciler.shell.listing import find_root

        return find_root(self.repo)


class WritingCommand(click.Command):
    """A command that writes the audit trail, the cluster or the simulated state.

    It runs holding the repository lock (`writing.repository_writer`): writers take turns, and
    whatever one reads to govern by (the history behind cooldowns and rate limits, the
    cluster, the simulated state) is read once it is alone. `read_only_with` names a flag
    that makes an invocation write nothing (`run --dry-run`); such a one does not wait.
    """

    def __init__(self, *args: Any, read_only_with: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read_only_with = read_only_with

    def invoke(self, ctx: click.Context) -> Any:
        if self.read_only_with is not None and ctx.params.get(self.read_only_with):
            return super().invoke(ctx)
        from reconciler.cli.writing import repository_writer

        settings = ctx.find_object(Settings) or Settings(repo=None)
        with repository_writer(settings, _command_line(ctx)):
            return super().invoke(ctx)


def _command_line(ctx: click.Context) -> str:
    """`reconciler sim set`, whatever name the program was started by: what the lock file
    says its holder is (never the arguments, which may carry a reason or a name)."""
    names = []
    node: click.Context | None = ctx
    while node is not None and node.parent is not None:
        names.append(node.info_name or "")
        node = node.parent
    return " ".join(["reconciler", *reversed(names)])


def env_flag(name: str) -> bool:
    """A true/false environment variable such as GITHUB_ACTIONS."""
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes"}
