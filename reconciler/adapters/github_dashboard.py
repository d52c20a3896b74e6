"""GitHubDashboard: the dashboard issue on GitHub, kept current, edited only when it changes.

Why it exists: `core.dashboard` says what the dashboard should read; this module keeps one
issue saying it. The issue is found by its label (`reconciler-dashboard`) and the hidden
marker that opens its body (one per shard), created the first time something needs a person,
edited when its text changes, closed when nothing needs a person, and reopened (never
duplicated) when something does again. When something newly needs a person, a comment
mentions the approvers: editing a body notifies nobody, a comment does.

Main design choice: what this run wrote is kept in the GitHub forge's local state, so a run
whose dashboard reads as the last one wrote asks GitHub nothing at all; without that state
(a first run, a lost cache) one listing of the labelled issues finds it. Requests go through
`GitHubForge.request`, with its retries, pacing, redaction and error translation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reconciler.adapters.github_forge import GitHubForge
from reconciler.core.approvals.dashboard import (
    DASHBOARD_LABEL,
    Board,
    Rendered,
    marker,
    mention_comment,
    render,
    with_failure,
)
from reconciler.core.ids import parse_utc, utc

__all__ = ["DashboardResult", "GitHubDashboard"]


@dataclass(frozen=True, kw_only=True)
class DashboardResult:
    #: created, edited, closed, reopened, unchanged, or none (nothing to show, no issue).
    action: str
    number: int | None = None
    url: str = ""
    mentioned: bool = False


class GitHubDashboard:
    """The dashboard issue of one shard (or of the repository) on GitHub."""

    def __init__(self, forge: GitHubForge, shard: str = "") -> None:
        self._github = forge
        self.shard = shard
        self._key = f"dashboard {shard or 'all'}"

    def __repr__(self) -> str:
        return f"GitHubDashboard(repository={self._github.repository!r}, shard={self.shard!r})"

    @property
    def last_success(self) -> datetime | None:
        """The last successful cycle this state saw (kept locally, never in the issue)."""
        text = self._github.state.section(self._key).get("last_success")
        try:
            return parse_utc(str(text)) if text else None
        except ValueError:
            return None

    def succeeded(self, at: datetime) -> None:
        kept = self._github.state.section(self._key)
        kept["last_success"] = f"{utc(at):%Y-%m-%dT%H:%M:%SZ}"
        self._github.state.set_section(self._key, kept)

    def publish(self, board: Board, *, run_id: str = "") -> DashboardResult:
        """Bring the issue to what `board` says, with as few requests as that takes."""
        return self._apply(lambda body: render(board, body), board, run_id)

    def keep_with_failure(self, board: Board, *, run_id: str = "") -> DashboardResult:
        """Put `board.run_failure` on top of the dashboard as the last run left it, unless
        this run (`run_id`) updated the dashboard itself: it said what failed already."""
        kept = self._github.state.section(self._key)
        if run_id and kept.get("run") == run_id:
            return DashboardResult(action="unchanged", number=kept.get("number"))

        def failed(body: str) -> Rendered:
            return with_failure(body, self.shard, board.run_failure, board.run_url)

        return self._apply(failed, board, run_id)

    def _apply(self, make: Callable[[str], Rendered], board: Board, run_id: str) -> DashboardResult:
        kept = self._github.state.section(self._key)
        number, body, title, is_open = self._current(kept)
        rendered = make(body)
        if number is None:
            if not rendered.open:
                return DashboardResult(action="none")
            created = self._call(
                "POST",
                "/issues",
                "creating the dashboard issue",
                body={"title": rendered.title, "body": rendered.body, "labels": [DASHBOARD_LABEL]},
            )
            number, url = int(created["number"]), str(created.get("html_url", ""))
            action = "created"
        else:
            edited = self._edit(number, rendered, body=body, title=title, is_open=is_open)
            if edited is None:
                # Deleted by hand: forget it and start a new one.
                self._github.state.set_section(
                    self._key, {k: v for k, v in kept.items() if k == "last_success"}
                )
                return self._apply(make, board, run_id)
            action, given = edited
            url = str(kept.get("url") or "") if given is None else given
        mentioned = False
        if rendered.new and rendered.open:
            self._call(
                "POST",
                f"/issues/{number}/comments",
                f"mentioning the approvers on the dashboard #{number}",
                body={"body": mention_comment(rendered.new, board.approvers)},
            )
            mentioned = True
        self._github.state.set_section(
            self._key,
            {
                **{k: v for k, v in kept.items() if k == "last_success"},
                "number": number,
                "url": url,
                "title": rendered.title,
                "body": rendered.body,
                "open": rendered.open,
                "run": run_id,
            },
        )
        return DashboardResult(action=action, number=number, url=url, mentioned=mentioned)

    def _current(self, kept: Mapping[str, Any]) -> tuple[int | None, str, str, bool]:
        """The dashboard as this shard last left it (number, body, title, open): from the
        kept state, else found by its marker (None: there is none yet)."""
        number = kept.get("number") if isinstance(kept.get("number"), int) else None
        body, title, is_open = str(kept.get("body") or ""), str(kept.get("title") or ""), True
        if number is None:
            found = self._find()
            if found is not None:
                number = int(found["number"])
                body, title = str(found.get("body") or ""), str(found.get("title") or "")
                is_open = found.get("state") == "open"
        else:
            is_open = bool(kept.get("open", True))
        return number, body, title, is_open

    def _edit(
        self, number: int, rendered: Rendered, *, body: str, title: str, is_open: bool
    ) -> tuple[str, str | None] | None:
        """Bring the issue to `rendered`, only if it differs: the action taken and the URL
        GitHub gave (None: it gave none), or None when the issue was deleted by hand."""
        edits: dict[str, Any] = {}
        if rendered.body != body:
            edits["body"] = rendered.body
        if rendered.title != title:
            edits["title"] = rendered.title
        if rendered.open != is_open:
            edits["state"] = "open" if rendered.open else "closed"
            if not rendered.open:
                edits["state_reason"] = "completed"
        if not edits:
            return "unchanged", None
        edited = self._call(
            "PATCH",
            f"/issues/{number}",
            f"editing the dashboard #{number}",
            body=edits,
            missing=True,
        )
        if edited is None:
            return None
        state = edits.get("state")
        action = "reopened" if state == "open" else "closed" if state == "closed" else "edited"
        return action, str(edited["html_url"]) if "html_url" in edited else None

    def _find(self) -> dict[str, Any] | None:
        """The oldest labelled issue whose body opens with this shard's marker."""
        wanted = marker(self.shard)
        for page in range(1, 11):
            found = self._call(
                "GET",
                "/issues",
                "looking for the dashboard issue",
                params={
                    "labels": DASHBOARD_LABEL,
                    "state": "all",
                    "sort": "created",
                    "direction": "asc",
                    "per_page": 100,
                    "page": page,
                },
            )
            found = found if isinstance(found, list) else []
            for issue in found:
                if (
                    isinstance(issue, dict)
                    and "pull_request" not in issue
                    and str(issue.get("body") or "").startswith(wanted)
                ):
                    return issue
            if len(found) < 100:
                return None
        return None

    def _call(
        self,
        verb: str,
        path: str,
        doing: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        missing: bool = False,
    ) -> Any:
        return self._github.request(
            verb,
            f"{self._github.repo_path}{path}",
            doing=f"{doing} of {self._github.repository}",
            params=params,
            body=body,
            missing=missing,
        )
