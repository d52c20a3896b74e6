"""GitHubPullComments: one comment of the reconciler's on a pull request, kept up to date.

Why it exists: `reconciler check-change --comment` reports on the pull request itself. A check
runs on every push, and a comment per push would bury the conversation, so the comment is
found again by a hidden marker at the start of its body (`<!-- reconciler:check-change -->`)
and edited in place; only the first run creates it.

Main design choice: the requests go through `GitHubForge`'s client, so this adapter has the
same retries, write pacing, timeouts, token redaction and error translation (every failure is a
ForgeError saying what was being done), and PyGithub stays in one module. The token is never
printed or logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reconciler.adapters.github_forge import GitHubForge

__all__ = ["CommentResult", "GitHubPullComments"]

#: The most GitHub returns per page; a pull request with more comments pages on.
_PER_PAGE = 100


@dataclass(frozen=True, kw_only=True)
class CommentResult:
    id: int
    url: str
    created: bool
    changed: bool


class GitHubPullComments:
    """The issue comments of one repository's pull requests."""

    def __init__(self, repository: str, token: str, *, base_url: str, timeout: int = 10) -> None:
        self._github = GitHubForge(repository, token, base_url=base_url, timeout=timeout)
        self.repository = repository

    def __repr__(self) -> str:
        return f"GitHubPullComments(repository={self.repository!r})"

    def disconnect(self) -> None:
        self._github.disconnect()

    def upsert(self, number: int, marker: str, body: str) -> CommentResult:
        """Edit the comment whose body starts with `marker`, or create it. `body` must start
        with `marker` too, so the next run finds what this one wrote. An unchanged body is not
        written again."""
        if not body.startswith(marker):
            raise ValueError("the comment body must start with its marker")
        existing = self._find(number, marker)
        if existing is None:
            created = self._github.request(
                "POST",
                f"{self._github.repo_path}/issues/{number}/comments",
                body={"body": body},
                doing=f"commenting on pull request #{number} of {self.repository}",
            )
            return _result(created, created=True, changed=True)
        if existing.get("body") == body:
            return _result(existing, created=False, changed=False)
        comment_id = int(existing["id"])
        edited = self._github.request(
            "PATCH",
            f"{self._github.repo_path}/issues/comments/{comment_id}",
            body={"body": body},
            doing=f"updating comment {comment_id} on pull request #{number} of {self.repository}",
        )
        return _result(edited, created=False, changed=True)

    def _find(self, number: int, marker: str) -> dict[str, Any] | None:
        """The oldest comment that starts with the marker. A person quoting it starts with
        `>`, so their comment is never taken for ours."""
        page = 1
        while True:
            comments = self._github.request(
                "GET",
                f"{self._github.repo_path}/issues/{number}/comments",
                params={"per_page": _PER_PAGE, "page": page},
                doing=f"reading the comments of pull request #{number} of {self.repository}",
            )
            for comment in comments or []:
                if isinstance(comment, dict) and str(comment.get("body", "")).startswith(marker):
                    return comment
            if not comments or len(comments) < _PER_PAGE:
                return None
            page += 1


def _result(comment: dict[str, Any], *, created: bool, changed: bool) -> CommentResult:
    return CommentResult(
        id=int(comment["id"]),
        url=str(comment.get("html_url", "")),
        created=created,
        changed=changed,
    )
