"""Pushing a command's audit commits to the shared repository (`--push`).

A scheduled job works in a fresh checkout that is thrown away afterwards, so its audit
commits exist only once they are pushed. Commands that write records (`run`, `request`,
`breaker reset`) share these options; the push happens after the command's work, even when
that work failed part-way, because records of changes already made must reach the remote.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

__all__ = ["PUSH_OPTIONS", "PushSettings", "push_records", "push_settings"]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class PushSettings:
    enabled: bool
    remote: str
    branch: str | None


def PUSH_OPTIONS(command: F) -> F:
    """Add --push, --push-remote and --push-branch; `push_settings` gathers them."""
    for option in reversed(
        (
            click.option(
                "--push/--no-push",
                default=False,
                envvar="RECONCILER_PUSH",
                show_envvar=True,
                help="Afterwards, push the audit commits to the remote, replaying them over "
                "commits other jobs pushed meanwhile.",
            ),
            click.option(
                "--push-remote",
                default="origin",
                show_default=True,
                envvar="RECONCILER_PUSH_REMOTE",
                show_envvar=True,
                help="The name of the git remote to push to (a configured remote, not a URL).",
            ),
            click.option(
                "--push-branch",
                envvar="RECONCILER_PUSH_BRANCH",
                show_envvar=True,
                help="The branch to push to (default: the checked-out branch).",
            ),
        )
    ):
        command = option(command)
    return command


def push_settings(push: bool, push_remote: str, push_branch: str | None) -> PushSettings:
    """The push settings, refusing a URL as the remote: replaying over other jobs' commits
    compares with the remote-tracking branch REMOTE/BRANCH, which only a named remote has."""
    if any(mark in push_remote for mark in ("://", "@", ":")) or push_remote.startswith(("/", ".")):
        raise click.BadParameter(
            "give the name of a configured remote, not a URL or a path "
            "(git remote add NAME URL, then --push-remote NAME)",
            param_hint="--push-remote",
        )
    return PushSettings(enabled=push, remote=push_remote, branch=push_branch or None)


def push_records(root: Path, settings: PushSettings) -> str:
    """Push, and say what happened; raises AuditError (exit 5) when the records stay local."""
    from reconciler.adapters.git_remote import GitRemote
    from reconciler.cli.compose import Environment

    env = Environment.read()
    remote = GitRemote(
        root,
        remote=settings.remote,
        branch=settings.branch,
        name=env.git_name,
        email=env.git_email,
    )
    result = remote.push()
    return result.message
