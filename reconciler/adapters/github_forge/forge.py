"""GitHubForge: the Forge port on one GitHub repository, put together from the API client,
the pull request writes, the identity checks and the mapping to Proposals.

The port's methods live here and say what each costs in requests; the parts they use are
sibling modules, so a request's path, retries and error translation are written once.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from reconciler.adapters.github_forge.api import GitHubApi, Stopped, quote
from reconciler.adapters.github_forge.identity import Identity
from reconciler.adapters.github_forge.limits import WRITE_INTERVAL, ApiUsage
from reconciler.adapters.github_forge.proposals import ProposalReader
from reconciler.adapters.github_forge.pulls import LISTING_TTL, PullRequests
from reconciler.core.approvals.feedback import DESCRIPTION_LIMIT, ProposalStatus
from reconciler.core.approvals.proposals import (
    CommentTopic,
    Draft,
    Proposal,
    ProposalState,
    comment_marker,
    parse_metadata,
)
from reconciler.core.errors import ConfigError, ForgeError

__all__ = ["DEFAULT_BASE_URL", "GitHubForge"]

_log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.github.com"
#: How many runs try to set a status GitHub would not take (a token without statuses: write).
_STATUS_TRIES = 3


def _wall_clock() -> datetime:
    return datetime.now(UTC)


def _check_settings(repository: str, token: str, base_url: str) -> tuple[str, str]:
    """The repository's owner and name, once the settings are known to be usable."""
    owner, sep, name = repository.partition("/")
    if not sep or not owner or not name or "/" in name:
        raise ConfigError(f"the GitHub repository must be written owner/name, not {repository!r}")
    scheme = urllib.parse.urlsplit(base_url).scheme
    if scheme not in ("http", "https"):
        raise ConfigError(f"the GitHub API URL must start with https://, not {base_url!r}")
    if not token:
        raise ConfigError("no GitHub token was given", hint="docs/github-forge.md#the-token")
    return owner, name


class GitHubForge:
    """Approval proposals as pull requests on one GitHub repository."""

    def __init__(
        self,
        repository: str,
        token: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        base_branch: str | None = None,
        bot_login: str | None = None,
        timeout: int = 10,
        now: Callable[[], datetime] | None = None,
        teams: Collection[str] = (),
        state_path: Path | None = None,
        run_url: str = "",
        listing_ttl: float = LISTING_TTL,
        write_interval: float = WRITE_INTERVAL,
    ) -> None:
        owner, name = _check_settings(repository, token, base_url)
        self.repository = repository
        self.owner, self.name = owner, name
        self.base_url = base_url.rstrip("/")
        self.bot_login = bot_login
        self.timeout = timeout
        self._repo_path = f"/repos/{quote(owner)}/{quote(name)}"
        self._api = GitHubApi(
            repository,
            token,
            base_url=self.base_url,
            timeout=timeout,
            now=now or _wall_clock,
            state_path=state_path,
            write_interval=write_interval,
        )
        #: GitHub's earlier answers and their validators, kept between runs (a local file).
        self.state = self._api.state
        if self.state.problem:
            _log.warning("GitHub cache: %s", self.state.problem)
        self._identity = Identity(self._api, owner=owner, bot_login=bot_login, teams=teams)
        self._reader = ProposalReader(self._api, self._repo_path)
        self._pulls = PullRequests(
            self._api,
            repo_path=self._repo_path,
            identity=self._identity,
            reader=self._reader,
            base_branch=base_branch,
            listing_ttl=listing_ttl,
        )
        #: The page of the run doing this (Actions), linked from the statuses it sets.
        self.run_url = run_url
        self._retried = False

    def __repr__(self) -> str:
        return f"GitHubForge(repository={self.repository!r}, base_url={self.base_url!r})"

    # ------------------------------------------------------------------ lifetime

    def disconnect(self) -> None:
        """Keep what this run learnt for the next one, and release the HTTP connections (also
        done by `with`). Saving is a courtesy: a failure is logged, never raised."""
        try:
            self.state.save()
        except OSError as error:
            _log.warning("could not save the GitHub cache %s: %s", self.state.path, error)
        self._api.close()

    def usage(self) -> ApiUsage:
        """How many requests this forge made, and what GitHub last said is left."""
        return self._api.usage()

    def close(self, proposal: Proposal, comment: str) -> None:
        """The Forge port's close: see `close_proposal`."""
        self.close_proposal(proposal, comment)

    def __enter__(self) -> GitHubForge:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.disconnect()

    # ------------------------------------------------------------------ the Forge port

    def find(
        self,
        branch: str,
        number: int | None = None,
        head: str = "",
        paths: Sequence[str] = (),
    ) -> Proposal | None:
        """The pull request with this number, else the newest on this branch (open or not).

        None when the branch never had one; a number GitHub no longer knows is GONE (with
        `head`, the last tip the caller knew). GitHub keeps closed pull requests and their
        commits, so `head` is not needed to find anything."""
        doing = f"reading the proposal for branch {branch}"
        if number is not None:
            doing = f"reading the proposal #{number} (branch {branch})"
        self._retry_statuses()
        with self._api.translate(doing):
            if number is not None:
                pull = self._pulls.open_pulls().get(number)
                if pull is None:
                    pull = self._api.get(f"{self._repo_path}/pulls/{number}", missing=True)
                if pull is None:
                    self._pulls.check_repository()
                    gone = ProposalState.GONE
                    return Proposal(key=branch, branch=branch, state=gone, head=head)
                return self._reader.to_proposal(pull, paths, known_head=head)
            found = self._api.get(
                f"{self._repo_path}/pulls",
                params={
                    "state": "all",
                    "head": f"{self.owner}:{branch}",
                    "sort": "created",
                    "direction": "desc",
                    "per_page": 1,
                },
            )
            if not found:
                return None
            return self._reader.to_proposal(found[0], paths, known_head=head)

    def open(self, draft: Draft) -> Proposal:
        """The branch (base tip plus `draft.files`, one commit) and its pull request, or the
        open pull request already on the branch.

        Safe to call again after any failure: an open pull request on the branch is adopted
        (and given any of the draft's labels it lacks), an existing branch is reset."""
        with self._api.translate(f"opening the proposal for branch {draft.branch}"):
            existing = self._pulls.open_pull(draft.branch)
            if existing is not None:
                self._identity.require_own(existing, draft.branch)
                existing = self._pulls.ensure_labels(existing, draft.labels)
                return self._reader.to_proposal(existing, sorted(draft.files))
            self._pulls.write_branch(draft, create=True)
            pull = self._pulls.create_pull(draft)
            # The pull request exists now: nothing after this may fail `open`, or the run
            # would keep no record of it. Labels and reviews are best effort, and mapping it
            # needs no request (its head commit and files were just written).
            pull = self._pulls.ensure_labels(pull, draft.labels)
            self._pulls.request_reviews(int(pull["number"]), draft.reviewers)
            return self._reader.to_proposal(pull, sorted(draft.files))

    def update(self, proposal: Proposal, draft: Draft) -> Proposal:
        """Reset the branch to the base tip plus `draft.files`, and bring the title, body and
        labels to the draft's. Whether a person touched the branch is the caller's concern."""
        with self._api.translate(f"updating the proposal {proposal.reference} ({draft.branch})"):
            number = proposal.number
            if number is None:
                pull = self._pulls.open_pull(draft.branch)
                if pull is None:
                    raise ForgeError(
                        f"updating the proposal for branch {draft.branch}: "
                        "it has no open pull request"
                    )
                self._identity.require_own(pull, draft.branch)
                number = int(pull["number"])
            head = self._pulls.write_branch(draft, create=False)
            self._pulls.unlist(number)
            edits = {
                key: value
                for key, value in (("title", draft.title), ("body", draft.body))
                if getattr(proposal, key) != value
            }
            if edits:
                self._api.write("PATCH", f"{self._repo_path}/pulls/{number}", edits)
            if set(proposal.labels) != set(draft.labels):
                self._pulls.label(number, "PUT", draft.labels)
            metadata = parse_metadata(draft.body)
            return replace(
                proposal,
                key=str(metadata.get("key", draft.key)),
                branch=draft.branch,
                number=number,
                state=ProposalState.OPEN,
                head=head,
                title=draft.title,
                body=draft.body,
                labels=tuple(draft.labels),
                head_author=self._reader.head_author(head),
                files=self._reader.files_at(head, sorted(draft.files)),
            )

    def label(self, proposal: Proposal, labels: Sequence[str]) -> None:
        """Add those of `labels` the pull request lacks; best effort (see `PullRequests.label`)."""
        try:
            with self._api.translate(f"labelling the proposal {proposal.reference}"):
                number = self._pulls.number(proposal)
                have = [{"name": name} for name in proposal.labels]
                self._pulls.ensure_labels({"number": number, "labels": have}, labels)
        except ForgeError as error:
            _log.warning("%s (the next run tries again)", error)

    def comment(self, proposal: Proposal, text: str, topic: CommentTopic) -> None:
        with self._api.translate(f"commenting on the proposal {proposal.reference}"):
            self._pulls.comment_once(self._pulls.number(proposal), text, topic)

    def report(self, proposal: Proposal, text: str, topic: CommentTopic) -> None:
        """Keep the one comment on `topic`: posted once, then edited in place (PATCH) when its
        text changed; an unchanged text costs only the read of the comments."""
        with self._api.translate(f"reporting on the proposal {proposal.reference}"):
            number = self._pulls.number(proposal)
            marker = comment_marker(topic)
            body = f"{marker}\n{text}"
            found = self._pulls.find_comment(number, marker)
            path = f"{self._repo_path}/issues"
            if found is None:
                self._api.write("POST", f"{path}/{number}/comments", {"body": body})
            elif found.get("body") != body:
                self._api.write("PATCH", f"{path}/comments/{int(found['id'])}", {"body": body})

    def set_status(self, proposal: Proposal, status: ProposalStatus) -> None:
        """A commit status on the proposal's head; a failure is logged and kept in the local
        state, and the next run sends it again (before its first look at GitHub)."""
        if not proposal.head:
            return
        body = {
            "state": str(status.state),
            "description": status.description[:DESCRIPTION_LIMIT],
            "context": status.context,
            "target_url": self.run_url or proposal.url or None,
        }
        self._send_status(proposal.head, {k: v for k, v in body.items() if v is not None})

    def commit_status(
        self, sha: str, *, state: str, description: str, context: str, target_url: str = ""
    ) -> None:
        """Set a commit status, raising ForgeError if GitHub would not (for a check that
        must say so, unlike `set_status`, which a proposal's record must not wait on)."""
        body = {"state": state, "description": description[:DESCRIPTION_LIMIT], "context": context}
        if target_url:
            body["target_url"] = target_url
        with self._api.translate(f"setting the status {context} of {sha[:12]}"):
            self._api.write("POST", f"{self._repo_path}/statuses/{quote(sha)}", body)

    def _send_status(self, sha: str, body: Mapping[str, Any], tries: int = 0) -> None:
        from github import GithubException

        key = f"{sha} {body['context']}"
        unsent = self.state.section("unsent-statuses")
        try:
            with self._api.translate(f"setting the status of {sha[:12]}"):
                self._api.write("POST", f"{self._repo_path}/statuses/{quote(sha)}", dict(body))
        except ForgeError as error:
            cause = error.__cause__
            # 422: no such commit any more (a branch rewritten since); nothing to retry.
            gone = isinstance(cause, GithubException) and cause.status in (404, 422)
            again = not gone and tries + 1 < _STATUS_TRIES
            _log.warning(
                "could not set the status of %s: %s (%s)",
                sha[:12],
                error,
                "the next run tries again" if again else "given up",
            )
            if again:
                unsent[key] = {"body": dict(body), "tries": tries + 1}
            else:
                unsent.pop(key, None)
            self.state.set_section("unsent-statuses", unsent)
            return
        if unsent.pop(key, None) is not None:
            self.state.set_section("unsent-statuses", unsent)

    def _retry_statuses(self) -> None:
        """Send the statuses an earlier run could not (once a run, at its first look)."""
        if self._retried:
            return
        self._retried = True
        for key, kept in self.state.section("unsent-statuses").items():
            body = kept.get("body") if isinstance(kept, dict) else None
            tries = kept.get("tries") if isinstance(kept, dict) else None
            if isinstance(body, dict) and body.get("state") and isinstance(tries, int):
                self._send_status(key.split(" ", 1)[0], body, tries)

    def close_proposal(self, proposal: Proposal, comment: str) -> None:
        """Comment (once), close unmerged, delete the branch. Each step is safe to repeat
        after a lost answer: the comment is looked for first, closing a closed pull request
        changes nothing, and a branch already deleted is fine. Deleting the branch is
        tidying up: a failure there is logged, since the proposal is closed all the same."""
        from github import GithubException
        from requests import RequestException

        with self._api.translate(f"closing the proposal {proposal.reference} ({proposal.branch})"):
            number = proposal.number
            if number is None:
                pull = self._pulls.open_pull(proposal.branch)
                if pull is not None:
                    self._identity.require_own(pull, proposal.branch)
                number = None if pull is None else int(pull["number"])
            if number is not None:
                if comment:
                    self._pulls.comment_once(number, comment, CommentTopic.CLOSING)
                self._api.write("PATCH", f"{self._repo_path}/pulls/{number}", {"state": "closed"})
                self._pulls.unlist(number)
            try:
                self._pulls.delete_branch(proposal.branch)
            except (GithubException, RequestException, Stopped) as error:
                _log.warning(
                    "closed %s but could not delete its branch %s: %s",
                    proposal.reference,
                    proposal.branch,
                    self._api.why(error),
                )

    def halted(self) -> ForgeError | None:
        """The rate limit that stopped every further request of this run, or None."""
        return self._api.halted()

    def is_member(self, approver: str, login: str) -> bool:
        """`login` is the approver, or an active member of the team it names (see
        `Identity.is_member`: how an approver is written decides whether it is a team)."""
        return self._identity.is_member(approver, login)

    # ------------------------------------------------------------------ for sibling adapters

    @property
    def repo_path(self) -> str:
        """`/repos/{owner}/{name}`, escaped, the prefix of the repository's API paths."""
        return self._repo_path

    def request(
        self,
        verb: str,
        path: str,
        *,
        doing: str,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        missing: bool = False,
    ) -> Any:
        """One API request with this client's settings (retries, pacing, timeouts) and its
        error translation: a failure is a ForgeError that starts with `doing`; with
        `missing`, a 404 answers None. For the other adapters on GitHub (pull request
        comments, the dashboard), so that PyGithub stays in this package."""
        with self._api.translate(doing):
            if verb.upper() in ("GET", "HEAD"):
                return self._api.get(path, params=params, missing=missing)
            return self._api.write(verb.upper(), path, body, missing=(404,) if missing else ())
