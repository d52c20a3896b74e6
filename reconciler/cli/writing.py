"""Holding the repository while a command that writes runs: one writer at a time, and what an
interrupted writer left behind (git lock files, an index without the records) put right."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler.core.errors import AuditError, ConfigError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from reconciler.adapters.repo_lock import Holder
    from reconciler.cli.context import Settings

__all__ = ["LOCK_FILE", "repository_writer"]


#: The repository lock's file, in the git directory (shared by a repository's worktrees), or
#: under .reconciler/ for a blueprint directory that is not in git.
LOCK_FILE = "reconciler.lock"


@contextlib.contextmanager
def repository_writer(settings: Settings, command: str) -> Iterator[None]:
    """Hold the repository lock while a command that writes runs: the one place it is taken
    (`WritingCommand` routes every such command here).

    Holding it proves that no reconciler is writing, so git lock files an interrupted run
    left are removed and an index an earlier run could not update is repaired, before the
    command reads anything. Afterwards, an index this command could not update is reported
    in one line with its fix; the records are committed, so that never fails the command.
    """
    from reconciler.adapters.git_locks import common_dir, remove_left_behind
    from reconciler.adapters.gitrepo import git_dir
    from reconciler.adapters.repo_lock import RepositoryLock

    try:
        root: Path | None = settings.root()
    except ConfigError:
        root = None  # no repository: the command itself says so
    if root is None:
        yield
        return
    gitdir = git_dir(root)
    place = common_dir(gitdir) if gitdir is not None else root / ".reconciler"
    lock = RepositoryLock(
        place / LOCK_FILE,
        timeout=settings.lock_timeout,
        on_wait=lambda holder: _say_waiting(holder, settings.lock_timeout),
    )
    with lock.hold(command) as interrupted:
        if interrupted is not None:
            _note(f"the previous writer, {interrupted.describe()}, did not finish")
        if gitdir is not None:
            for left in remove_left_behind(gitdir, now=datetime.now(UTC)):
                _note(left.describe())
            _repair_index(root, starting=True)
        try:
            yield
        finally:
            if gitdir is not None:
                _repair_index(root, starting=False)


def _repair_index(root: Path, *, starting: bool) -> None:
    """Make git's index list every committed audit record (see GitAuditStore.repair_index)."""
    from reconciler.cli.compose import open_audit

    try:
        restored = open_audit(root).repair_index()
    except (AuditError, ConfigError) as error:
        if starting:
            return  # said once, at the end, if this command's records are concerned too
        click.echo(f"warning: {error}", err=True)
        click.echo(
            "hint: the records are committed; until the index lists them, `git commit -a` "
            "would delete them. The next command that writes (run, request, ...) adds them.",
            err=True,
        )
        return
    if restored and starting:
        _note(
            f"added {restored} committed audit record(s) to git's index, which an interrupted "
            "or blocked earlier command left without them"
        )


def _say_waiting(holder: Holder | None, timeout: float) -> None:
    who = holder.describe() if holder is not None else "another process"
    click.echo(
        f"waiting (up to {timeout:g}s) for another reconciler writing to this repository: {who}",
        err=True,
    )


def _note(text: str) -> None:
    click.echo(f"note: {text}", err=True)
