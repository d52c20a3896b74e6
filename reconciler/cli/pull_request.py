"""Where check-change reports on GitHub: the pull request's comment and the head commit's
status, each with its settings checked before any work is done."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler.cli.context import Settings

if TYPE_CHECKING:
    from reconciler.core.review.findings import Review

__all__ = ["Head", "Target", "comment_target", "post_comment", "set_status", "status_target"]


@dataclass(frozen=True)
class Target:
    repository: str
    token: str = field(repr=False)
    number: int


def comment_target(settings: Settings, number: int | None) -> Target:
    """Where --comment posts; every setting is checked before any work is done."""
    from reconciler.cli.compose import Environment
    from reconciler.core.errors import ConfigError

    if not settings.github_repository:
        raise ConfigError(
            "--comment needs the repository",
            hint="pass --github-repository owner/name (GITHUB_REPOSITORY on Actions)",
        )
    token = Environment.read().github_token
    if not token:
        raise ConfigError(
            "--comment needs a token in GITHUB_TOKEN (or RECONCILER_GITHUB_TOKEN)",
            hint="on Actions: env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}, with "
            "permissions: pull-requests: write",
        )
    if number is None:
        number = _event_pull_request()
    if number is None:
        raise ConfigError(
            "--comment needs the pull request's number",
            hint="pass --pr N, or run on a pull_request event (GITHUB_EVENT_PATH)",
        )
    return Target(repository=settings.github_repository, token=token, number=number)


@dataclass(frozen=True)
class Head:
    """The commit --status is for: a pull request's head, or a merge queue's commit."""

    sha: str
    #: The pull request's branch ("" in a merge queue).
    branch: str


def status_target(settings: Settings) -> Head | None:
    """The commit --status sets, from the event file; None (with a note) for a proposal of
    the reconciler's, whose status is the reconciler's to set."""
    from reconciler.cli.compose import Environment
    from reconciler.core.errors import ConfigError

    if not settings.github_repository or not Environment.read().github_token:
        raise ConfigError(
            "--status needs the repository and a token in GITHUB_TOKEN",
            hint="on Actions: GITHUB_REPOSITORY is set; env: GITHUB_TOKEN, with "
            "permissions: statuses: write",
        )
    event = _event()
    pull = event.get("pull_request")
    group = event.get("merge_group")
    if isinstance(pull, dict) and isinstance(pull.get("head"), dict):
        head = pull["head"]
        found = Head(sha=str(head.get("sha") or ""), branch=str(head.get("ref") or ""))
    elif isinstance(group, dict):
        found = Head(sha=str(group.get("head_sha") or ""), branch="")
    else:
        raise ConfigError(
            "--status needs a pull_request or merge_group event (GITHUB_EVENT_PATH)",
            hint="run it in the pull request checks, on pull_request and merge_group",
        )
    if not found.sha:
        raise ConfigError("the event file names no head commit", hint="GITHUB_EVENT_PATH")
    if found.branch.startswith(PROPOSAL_PREFIX):
        click.echo(
            f"the status of {found.branch} is the reconciler's: it sets it on its proposals",
            err=True,
        )
        return None
    return found


def set_status(settings: Settings, head: Head, review: Review) -> None:
    from reconciler.adapters.github_forge import GitHubForge
    from reconciler.cli.compose import Environment
    from reconciler.core.approvals.feedback import STATUS_CONTEXT
    from reconciler.core.review.findings import ChangeClass

    env = Environment.read()
    if review.ok:
        state = "success"
        needed = review.count(ChangeClass.REQUIRES_APPROVAL)
        description = "Not a proposal of the reconciler's: the blueprint changes were checked" + (
            f"; {needed} need code owners' approval" if needed else ""
        )
    else:
        state = "failure"
        description = "An edit is forbidden, or a blueprint does not validate: see the check"
    assert settings.github_repository is not None
    with GitHubForge(
        settings.github_repository,
        env.github_token,
        base_url=settings.github_api_url,
        timeout=env.github_timeout,
    ) as forge:
        forge.commit_status(
            head.sha,
            state=state,
            description=description,
            context=STATUS_CONTEXT,
            target_url=env.run_url,
        )
    click.echo(f"status {STATUS_CONTEXT} on {head.sha[:12]}: {state}", err=True)


#: The branches the reconciler proposes on (`reconciler/<service>/<topic>`).
PROPOSAL_PREFIX = "reconciler/"


def _event() -> dict[str, object]:
    from reconciler.core.errors import ConfigError

    path = os.environ.get("GITHUB_EVENT_PATH")
    if not path:
        return {}
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigError(
            f"cannot read the event file GITHUB_EVENT_PATH={path}: {error}", hint="check the path"
        ) from error
    return event if isinstance(event, dict) else {}


def _event_pull_request() -> int | None:
    """`pull_request.number` from the Actions event file, when there is one."""
    from reconciler.core.errors import ConfigError

    path = os.environ.get("GITHUB_EVENT_PATH")
    if not path:
        return None
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigError(
            f"cannot read the event file GITHUB_EVENT_PATH={path}: {error}",
            hint="pass --pr N",
        ) from error
    pull = event.get("pull_request") if isinstance(event, dict) else None
    number = pull.get("number") if isinstance(pull, dict) else None
    return number if isinstance(number, int) and number > 0 else None


def post_comment(settings: Settings, target: Target, body: str) -> None:
    from reconciler.adapters.github_comments import GitHubPullComments
    from reconciler.cli.compose import Environment
    from reconciler.core.review.findings import COMMENT_MARKER

    comments = GitHubPullComments(
        target.repository,
        target.token,
        base_url=settings.github_api_url,
        timeout=Environment.read().github_timeout,
    )
    try:
        result = comments.upsert(target.number, COMMENT_MARKER, body)
    finally:
        comments.disconnect()
    action = "created" if result.created else "updated" if result.changed else "unchanged"
    where = f": {result.url}" if result.url else ""
    click.echo(f"comment on pull request #{target.number} {action}{where}", err=True)
