"""A pull request's JSON as a Proposal, completed with what the JSON lacks.

A listed pull request omits who merged it, only the issue says who closed it, and a commit's
author and files must be read apart. Commits are immutable, so what is read of one is kept for
the forge's lifetime, and the reconciler's own commits (`wrote`) are never read back at all:
an unchanged open proposal costs no request beyond its listing.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from reconciler.adapters.github_forge.api import GitHubApi, quote
from reconciler.adapters.github_forge.identity import login_of
from reconciler.core.approvals.proposals import Proposal, ProposalState, parse_metadata

__all__ = ["ProposalReader"]

JSON = dict[str, Any]

#: Immutable facts (a commit's author, a file at a commit) kept per forge; bounded for daemons.
_CACHE_LIMIT = 4096
#: A pull request's files list: GitHub's largest page, and its 3000-file cap.
_PULL_FILES_PER_PAGE = 100
_PULL_FILES_PAGES = 30


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[key] = value


class ProposalReader:
    """Pull requests mapped to Proposals, with the commit facts read for them kept."""

    def __init__(self, api: GitHubApi, repo_path: str) -> None:
        self._api = api
        self._repo_path = repo_path
        self._authors: dict[str, str] = {}
        self._contents: dict[tuple[str, str], str | None] = {}
        self._merged_paths: dict[int, tuple[str, ...]] = {}

    def wrote(self, sha: str, author: str, files: Mapping[str, str]) -> None:
        """A commit the reconciler made: its author and files are known without asking."""
        _remember(self._authors, sha, author)
        for path, content in files.items():
            _remember(self._contents, (sha, path), content)

    def to_proposal(self, pull: JSON, paths: Sequence[str], *, known_head: str = "") -> Proposal:
        """A pull request as a Proposal, completing what its JSON lacks: who merged (a listed
        pull request omits it), who closed (only the issue says), the head commit's author and
        the proposal's files (both immutable per commit, so asked once). The files are read
        at the head while the pull request is open, and once merged at the merge commit: what
        the merge put on the base branch is what the approval is judged by. A merged pull
        request also lists every path it changed, so a file slipped in beside the proposed
        ones is seen. Which files are read is `paths`, the caller's own record of the
        proposal: the body is anyone's to edit who may edit the pull request."""
        number = int(pull["number"])
        merged_at = _parse_time(pull.get("merged_at"))
        pull, state, merged_by, closed_by = self._ending(pull, number, merged=merged_at is not None)
        head = pull.get("head") or {}
        sha = str(head.get("sha") or "")
        body = str(pull.get("body") or "")
        branch = str(head.get("ref") or "")
        merge_sha = pull.get("merge_commit_sha") if merged_at is not None else None
        files_at = str(merge_sha) if merge_sha else sha
        unmoved = state is ProposalState.OPEN and bool(known_head) and sha == known_head
        author, changed = self._head_facts(number, state, sha, known_head)
        return Proposal(
            key=str(parse_metadata(body).get("key", branch)),
            branch=branch,
            state=state,
            head=sha,
            title=str(pull.get("title") or ""),
            body=body,
            number=number,
            url=str(pull.get("html_url") or ""),
            created_at=_parse_time(pull.get("created_at")),
            merged_by=merged_by,
            merged_at=merged_at,
            merge_commit=merge_sha,
            closed_by=closed_by,
            closed_at=_parse_time(pull.get("closed_at")) if state is ProposalState.CLOSED else None,
            head_author=author,
            files=self.files_at(files_at, paths) if files_at and not unmoved else {},
            changed=changed,
            labels=tuple(
                str(label["name"]) for label in pull.get("labels") or [] if label.get("name")
            ),
        )

    def _ending(
        self, pull: JSON, number: int, *, merged: bool
    ) -> tuple[JSON, ProposalState, str | None, str | None]:
        """The pull request's state, and who merged or closed it: a listed pull request is
        asked for again when merged (the listing omits `merged_by`), a closed one's issue says
        who closed it."""
        state = ProposalState.OPEN
        merged_by = closed_by = None
        if merged:
            state = ProposalState.MERGED
            if "merged_by" not in pull:
                pull = self._api.get(f"{self._repo_path}/pulls/{number}")
            merged_by = login_of(pull.get("merged_by"))
        elif pull.get("state") == "closed":
            state = ProposalState.CLOSED
            issue = self._api.get(f"{self._repo_path}/issues/{number}")
            closed_by = login_of(issue.get("closed_by"))
        return pull, state, merged_by, closed_by

    def _head_facts(
        self, number: int, state: ProposalState, sha: str, known_head: str
    ) -> tuple[str, tuple[str, ...] | None]:
        """Who wrote the head, and the paths the pull request changes (None: not read).

        An open pull request whose head is `known_head` (the commit the caller recorded) costs
        nothing more: that commit is the reconciler's own. One whose head moved is read in
        full, with the paths it changes against its base, to tell a person's edit from an
        update from the base; who wrote the head matters while a person may be editing it,
        not once it ended."""
        unmoved = state is ProposalState.OPEN and bool(known_head) and sha == known_head
        moved = state is ProposalState.OPEN and bool(known_head) and sha != known_head
        asked = state is ProposalState.OPEN and not unmoved and bool(sha)
        author = self.head_author(sha) if asked else self._authors.get(sha, "")
        changed = None
        if state is ProposalState.MERGED:
            changed = self._pull_paths(number)
        elif moved:
            changed = self._pull_paths(number, settled=False)
        return author, changed

    def head_author(self, sha: str) -> str:
        """The GitHub login of the commit's author, or its git name when GitHub cannot tie the
        commit to an account (an unknown email)."""
        if sha not in self._authors:
            commit = self._api.get(f"{self._repo_path}/commits/{sha}")
            login = login_of(commit.get("author"))
            name = ((commit.get("commit") or {}).get("author") or {}).get("name")
            _remember(self._authors, sha, login or str(name or ""))
        return self._authors[sha]

    def _pull_paths(self, number: int, *, settled: bool = True) -> tuple[str, ...]:
        """Every path a pull request changes against its base (both names of a renamed file),
        from its files list, read page by page; a merged pull request's list no longer
        changes (`settled`), so it is asked once. GitHub lists at most 3000 files: a longer
        list is cut, which can only leave out paths when far more than the proposed files
        changed."""
        if settled and number in self._merged_paths:
            return self._merged_paths[number]
        paths: set[str] = set()
        for page in range(1, _PULL_FILES_PAGES + 1):
            files = self._api.get(
                f"{self._repo_path}/pulls/{number}/files",
                params={"per_page": _PULL_FILES_PER_PAGE, "page": page},
            )
            files = files if isinstance(files, list) else []
            for item in files:
                for key in ("filename", "previous_filename"):
                    if isinstance(item, dict) and item.get(key):
                        paths.add(str(item[key]))
            if len(files) < _PULL_FILES_PER_PAGE:
                break
        found = tuple(sorted(paths))
        if settled:
            _remember(self._merged_paths, number, found)
        return found

    def files_at(self, sha: str, paths: Sequence[str]) -> dict[str, str]:
        """The content at `sha` of each of `paths` (missing ones are left out: the core
        treats that as a changed proposal)."""
        out: dict[str, str] = {}
        for path in dict.fromkeys(paths):
            text = self._read_file(sha, str(path))
            if text is not None:
                out[str(path)] = text
        return out

    def _read_file(self, sha: str, path: str) -> str | None:
        key = (sha, path)
        if key not in self._contents:
            found = self._api.get(
                f"{self._repo_path}/contents/{quote(path)}", params={"ref": sha}, missing=True
            )
            text = None
            if isinstance(found, dict) and found.get("type") == "file":
                encoded = found.get("content") or ""
                if found.get("encoding") != "base64":  # over 1 MB: the blob API has it
                    blob = self._api.get(f"{self._repo_path}/git/blobs/{found['sha']}")
                    encoded = blob.get("content") or ""
                try:
                    text = base64.b64decode(encoded).decode("utf-8", errors="replace")
                except (binascii.Error, ValueError):
                    text = None
            _remember(self._contents, key, text)
        return self._contents[key]
