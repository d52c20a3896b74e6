"""GitHubForge: the Forge port on GitHub (or GitHub Enterprise), through PyGithub.

Why it exists: in production an approval is a pull request. The reconciler opens one per change
that needs a person, reads it back every cycle, and treats its merge as the approval; this
module is the only place that knows how that maps onto GitHub's REST API.

Main design choice: PyGithub is used as a transport, not as an object model. Every call goes
through `Github.requester.requestJsonAndCheck` with a path this module writes, and the JSON is
mapped here into `Proposal`. PyGithub's objects complete themselves lazily (reading `merged_by`
on a listed pull request silently costs a GET), which makes the number of requests a cycle
spends, and where it can fail, hard to see. Here every request is explicit, so `find` on an
unchanged open proposal is provably one GET, and the tests count requests exactly. PyGithub
still does what it is good at: authentication, the Enterprise URL prefix, connection pooling,
timeouts, retries, and classifying GitHub's errors.

Client settings, each chosen rather than inherited:

- `retry`: a urllib3 `Retry` that repeats only what is safe to repeat. GET and HEAD, and the
  idempotent writes PUT, PATCH and DELETE (they set a state; saying it twice changes nothing),
  are retried twice on 500/502/503/504 with a short backoff (0 s, then 1 s), and once after a
  read timeout. POST is never retried by the transport: PyGithub's default retries POSTs on
  5xx, and a POST whose answer was lost may have been applied. Instead `open` is idempotent by
  construction: it looks for an open pull request on the branch before creating one, adopts
  the existing one when GitHub answers 422 "A pull request already exists", and after a 5xx or
  a timeout on the create it looks again before trying once more. A branch that already exists
  is reset, not duplicated.
- Rate limits are never slept through. PyGithub's default retry waits for the limit to reset,
  which can be most of an hour in the middle of a cycle. 403 and 429 are not retried at all
  (`Retry-After` is not obeyed by the transport). A rate-limit answer, primary or secondary,
  halts the forge: it becomes a ForgeError that says when the limit lifts, and every later
  call of the run raises at once without sending anything (GitHub warns that requests made
  while limited may get an integration banned). `halted()` says so, for the run's exit code.
- Writes are safe to repeat across runs, since an answer can be lost after GitHub acted: a
  comment carries a hidden marker of its topic and is looked for before it is posted; labels
  and review requests are best effort after the pull request exists (a failure there must not
  cost the run its record of the proposal), and missing labels are added on a later run.
- An open pull request on a proposal's branch is adopted only when the account the token acts
  as opened it (`bot_login`, else `GET /user`): anyone who can push may open one on that
  branch, and the reconciler must not take a person's pull request for its own proposal.
- `seconds_between_requests=0`: GitHub asks clients not to make concurrent requests, which
  this forge never does; it does not ask for pauses between reads, and PyGithub's default
  0.25 s would make a cycle that reads fifty proposals sleep for tens of seconds.
- `seconds_between_writes=0`, replaced by our own pacing: GitHub asks for about a second
  between content-creating requests when there are many (its secondary limit is 80 a minute).
  A cycle usually makes a handful of writes (opening a proposal is six), so a fixed 1 s pause
  before each, PyGithub's default, would cost seconds for nothing. `_WritePacer` lets a burst
  of 15 writes through at once and then paces them one a second, which keeps even the first
  minute under 80.
- `timeout` (default 10 s, PyGithub's is 15): a cycle is periodic, and a GitHub that does not
  answer in 10 s is better reported (and retried next run) than waited for.

The request budget does not grow with the open proposals. The first lookup of a run lists the
open pull requests (100 a page) and every open proposal is found in that listing; only a
proposal no longer open is asked for by number. The head commit's author and the proposed
files are read only when the head is not the one the reconciler recorded (a commit is
immutable, so its own commit's files are the ones it wrote). Every GET is conditional when an
earlier answer is kept (`GitHubState`, a local file that outlives the run): its ETag when the
same token obtained it, else its `Last-Modified`; GitHub answers `304 Not Modified`, which it
does not count against the rate limit. `usage()` says how many requests a run made, how many
were answered 304, and what GitHub said is left of the limit.

The token is never printed: it is held only by PyGithub's `Auth.Token` and by the redactor
that removes it from every message this module builds, and `repr` leaves it out.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
import urllib.parse
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from reconciler.adapters.github_state import Cached, GitHubState, token_fingerprint
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

if TYPE_CHECKING:
    from github import Github

__all__ = ["ApiUsage", "GitHubForge"]

JSON = dict[str, Any]
_log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.github.com"
USER_AGENT = "reconciler (PyGithub)"
#: Server errors worth another try on a request that is safe to repeat.
_RETRY_STATUSES = frozenset({500, 502, 503, 504})
_RETRY_METHODS = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE"})
#: Writes let through at once before pacing starts, and the pace after that.
_WRITE_BURST = 15
_WRITE_INTERVAL = 1.0
#: Immutable facts (a commit's author, a file at a commit) kept per forge; bounded for daemons.
_CACHE_LIMIT = 4096
#: A pull request's files list: GitHub's largest page, and its 3000-file cap.
_PULL_FILES_PER_PAGE = 100
_PULL_FILES_PAGES = 30
#: The open pull requests listed once a run (100 a page): beyond, proposals are asked alone.
_OPEN_PULLS_PAGES = 10
#: How long a listing of the open pull requests stands for them: about one cycle. A run that
#: waits for verifications (`--wait`) lists again in its later passes.
LISTING_TTL = 10.0
#: Keys of GitHub's answers that the forge never reads and that make up most of their size
#: (each pull request repeats its repository twice): left out of what is kept between runs.
_BULKY_KEYS = frozenset({"repo", "_links"})

TOKEN_HINT = (
    "GitHub refused the token: it is wrong, expired or revoked; create a new one "
    "(docs/github-forge.md#the-token)"
)
PERMISSION_HINT = (
    "the token lacks a permission on {repo}: it needs contents: write and pull-requests: write "
    "(issues: write to create new labels, members: read on the organisation for team "
    "approvers); docs/github-forge.md#the-token"
)
NOT_FOUND_HINT = (
    "check the repository name {repo}, and that the token can see it (GitHub answers 404, "
    "not 403, for a private repository the token cannot read)"
)


def _wall_clock() -> datetime:
    return datetime.now(UTC)


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _login(user: object) -> str | None:
    if isinstance(user, dict) and isinstance(user.get("login"), str):
        return str(user["login"])
    return None


def _quote(text: str) -> str:
    """A branch or path inside a URL: slashes stay, anything else unusual is escaped."""
    return urllib.parse.quote(text, safe="/")


def _github_message(data: object) -> str:
    """GitHub's own explanation of an error: its message and the detail of each error."""
    if not isinstance(data, dict):
        return ""
    parts = [str(data["message"])] if data.get("message") else []
    for item in data.get("errors") or []:
        if isinstance(item, dict):
            detail = item.get("message") or " ".join(
                str(item[k]) for k in ("resource", "field", "code") if item.get(k)
            )
            if detail:
                parts.append(str(detail))
        elif item:
            parts.append(str(item))
    return ": ".join(parts)


def _timed_out(error: Exception) -> bool:
    """Whether a connection error is really a timeout: once urllib3 has used up its retries on
    read timeouts, requests reports them as a ConnectionError around urllib3's own error."""
    from urllib3.exceptions import MaxRetryError, NewConnectionError, TimeoutError

    return any(
        isinstance(arg, MaxRetryError)
        and isinstance(arg.reason, TimeoutError)
        and not isinstance(arg.reason, NewConnectionError)  # a refusal, though a subclass
        for arg in error.args
    )


#: How long a secondary rate limit lasts when GitHub says neither `retry-after` nor a reset:
#: "wait for at least one minute", in GitHub's words.
_SECONDARY_WAIT = 60
#: The most comments read when looking for the reconciler's own (100 a page).
_COMMENT_PAGES = 10
#: How many runs try to set a status GitHub would not take (a token without statuses: write).
_STATUS_TRIES = 3


@dataclass(frozen=True, kw_only=True)
class _Limit:
    """A rate limit GitHub answered with: what it said, and when to ask again."""

    said: str
    why: str
    until: datetime
    wait: int

    def describe(self) -> str:
        when = f"{self.until:%Y-%m-%d %H:%M:%S} UTC (in {self.wait} s)"
        return f"{self.said}; {self.why} until {when}"


@dataclass(frozen=True, kw_only=True)
class ApiUsage:
    """What a run cost on GitHub's API, for the job summary."""

    #: Requests sent (reads and writes), and how many of them GitHub answered 304 (which it
    #: does not count against the rate limit).
    requests: int
    not_modified: int
    #: The core rate limit as GitHub last reported it (None: no answer said).
    remaining: int | None = None
    limit: int | None = None
    resets_at: datetime | None = None

    @property
    def counted(self) -> int:
        return self.requests - self.not_modified

    def describe(self) -> str:
        """`12 requests to GitHub (9 answered 304, not counted): 4,981 of 5,000 left until
        16:00Z`."""
        made = f"{self.requests} request{'s' if self.requests != 1 else ''} to GitHub"
        if self.not_modified:
            made += f" ({self.not_modified} answered 304, not counted)"
        if self.remaining is None or self.limit is None:
            return made
        left = f"{self.remaining:,} of {self.limit:,} left"
        if self.resets_at is not None:
            left += f" until {self.resets_at:%H:%M}Z"
        return f"{made}: {left}"


def _slim(data: Any) -> Any:
    """An answer without the parts the forge never reads (see `_BULKY_KEYS`)."""
    if isinstance(data, list):
        return [_slim(item) for item in data]
    if isinstance(data, dict):
        return {key: _slim(value) for key, value in data.items() if key not in _BULKY_KEYS}
    return data


class _Stopped(Exception):
    """A request not sent, because a rate limit halted the forge for the rest of the run."""


class _WritePacer:
    """Lets a burst of writes through, then one per interval (a token bucket).

    PyGithub can only pause before every write; a cycle that opens one proposal should not
    sleep six seconds for it, while one that opens thirty should not trip GitHub's limit on
    content creation."""

    def __init__(self, burst: int = _WRITE_BURST, interval: float = _WRITE_INTERVAL) -> None:
        self.burst, self.interval = burst, interval
        self._tokens = float(burst)
        self._last = time.monotonic()

    def wait(self) -> None:
        if self.interval <= 0:
            return
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._last) / self.interval)
        self._last = now
        if self._tokens < 1:
            time.sleep((1 - self._tokens) * self.interval)
            self._tokens, self._last = 1.0, time.monotonic()
        self._tokens -= 1


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
        write_interval: float = _WRITE_INTERVAL,
    ) -> None:
        owner, sep, name = repository.partition("/")
        if not sep or not owner or not name or "/" in name:
            raise ConfigError(
                f"the GitHub repository must be written owner/name, not {repository!r}"
            )
        scheme = urllib.parse.urlsplit(base_url).scheme
        if scheme not in ("http", "https"):
            raise ConfigError(f"the GitHub API URL must start with https://, not {base_url!r}")
        if not token:
            raise ConfigError("no GitHub token was given", hint="docs/github-forge.md#the-token")
        from github import Auth, Github
        from urllib3.util.retry import Retry

        self.repository = repository
        self.owner, self.name = owner, name
        self.base_url = base_url.rstrip("/")
        self.bot_login = bot_login
        self.timeout = timeout
        self._base_branch = base_branch
        self._secret = token
        self._now = now or _wall_clock
        #: GitHub's guidance is about a second between writes once there are many; a server
        #: that asks for none (a test's) may be given them faster.
        self._pacer = _WritePacer(interval=write_interval)
        self._repo_path = f"/repos/{_quote(owner)}/{_quote(name)}"
        self._authors: dict[str, str] = {}
        self._contents: dict[tuple[str, str], str | None] = {}
        self._merged_paths: dict[int, tuple[str, ...]] = {}
        self._members: dict[tuple[str, str], bool] = {}
        #: Plain approver names the global policies declare as teams (`governance.teams`).
        self._teams = frozenset(team.lower() for team in teams)
        self._repo_checked = False
        #: The rate limit that halted the forge, if one did.
        self._limit: _Limit | None = None
        #: Which account the token acts as: `bot_login`, else asked once (None: unknown).
        self._identity: str | None = bot_login
        self._identity_asked = bot_login is not None
        #: GitHub's earlier answers and their validators, kept between runs (a local file).
        self.state = GitHubState(state_path, scope=f"{self.base_url} {repository}")
        if self.state.problem:
            _log.warning("GitHub cache: %s", self.state.problem)
        self._holder = token_fingerprint(token)
        #: The page of the run doing this (Actions), linked from the statuses it sets.
        self.run_url = run_url
        self._retried = False
        #: The open pull requests by number, listed once a run (None: not listed yet), and
        #: whether the listing holds them all.
        self._listed: dict[int, JSON] | None = None
        self._listed_at = 0.0
        self._listing_ttl = listing_ttl
        self._sent = 0
        self._not_modified = 0
        self._rate: tuple[int, int, datetime | None] | None = None
        retry = Retry(
            total=2,
            connect=2,
            read=1,
            status=2,
            other=0,
            redirect=0,
            allowed_methods=_RETRY_METHODS,
            status_forcelist=_RETRY_STATUSES,
            backoff_factor=0.5,
            backoff_max=4,
            respect_retry_after_header=False,
            raise_on_status=False,
            raise_on_redirect=False,
        )
        self._client: Github = Github(
            auth=Auth.Token(token),
            base_url=self.base_url,
            timeout=timeout,
            user_agent=USER_AGENT,
            retry=retry,
            seconds_between_requests=0,
            seconds_between_writes=0,
        )

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
        self._client.close()

    def usage(self) -> ApiUsage:
        """How many requests this forge made, and what GitHub last said is left."""
        remaining, limit, resets = self._rate if self._rate else (None, None, None)
        return ApiUsage(
            requests=self._sent,
            not_modified=self._not_modified,
            remaining=remaining,
            limit=limit,
            resets_at=resets,
        )

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
        with self._translate(doing):
            if number is not None:
                listed = self._open_pulls()
                pull = listed.get(number)
                if pull is None:
                    pull = self._get(f"{self._repo_path}/pulls/{number}", missing=True)
                if pull is None:
                    self._check_repository()
                    gone = ProposalState.GONE
                    return Proposal(key=branch, branch=branch, state=gone, head=head)
                return self._to_proposal(pull, paths, known_head=head)
            found = self._get(
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
            return self._to_proposal(found[0], paths, known_head=head)

    def open(self, draft: Draft) -> Proposal:
        """The branch (base tip plus `draft.files`, one commit) and its pull request, or the
        open pull request already on the branch.

        Safe to call again after any failure: an open pull request on the branch is adopted
        (and given any of the draft's labels it lacks), an existing branch is reset."""
        with self._translate(f"opening the proposal for branch {draft.branch}"):
            existing = self._open_pull(draft.branch)
            if existing is not None:
                self._require_own(existing, draft.branch)
                existing = self._ensure_labels(existing, draft.labels)
                return self._to_proposal(existing, sorted(draft.files))
            self._write_branch(draft, create=True)
            pull = self._create_pull(draft)
            # The pull request exists now: nothing after this may fail `open`, or the run
            # would keep no record of it. Labels and reviews are best effort, and mapping it
            # needs no request (its head commit and files were just written).
            pull = self._ensure_labels(pull, draft.labels)
            self._request_reviews(int(pull["number"]), draft.reviewers)
            return self._to_proposal(pull, sorted(draft.files))

    def update(self, proposal: Proposal, draft: Draft) -> Proposal:
        """Reset the branch to the base tip plus `draft.files`, and bring the title, body and
        labels to the draft's. Whether a person touched the branch is the caller's concern."""
        with self._translate(f"updating the proposal {proposal.reference} ({draft.branch})"):
            number = proposal.number
            if number is None:
                pull = self._open_pull(draft.branch)
                if pull is None:
                    raise ForgeError(
                        f"updating the proposal for branch {draft.branch}: "
                        "it has no open pull request"
                    )
                self._require_own(pull, draft.branch)
                number = int(pull["number"])
            head = self._write_branch(draft, create=False)
            self._unlist(number)
            edits = {
                key: value
                for key, value in (("title", draft.title), ("body", draft.body))
                if getattr(proposal, key) != value
            }
            if edits:
                self._write("PATCH", f"{self._repo_path}/pulls/{number}", edits)
            if set(proposal.labels) != set(draft.labels):
                self._label(number, "PUT", draft.labels)
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
                head_author=self._head_author(head),
                files=self._files_at(head, sorted(draft.files)),
            )

    def label(self, proposal: Proposal, labels: Sequence[str]) -> None:
        """Add those of `labels` the pull request lacks; best effort (see `_label`)."""
        try:
            with self._translate(f"labelling the proposal {proposal.reference}"):
                number = self._number(proposal)
                have = [{"name": name} for name in proposal.labels]
                self._ensure_labels({"number": number, "labels": have}, labels)
        except ForgeError as error:
            _log.warning("%s (the next run tries again)", error)

    def comment(self, proposal: Proposal, text: str, topic: CommentTopic) -> None:
        with self._translate(f"commenting on the proposal {proposal.reference}"):
            self._comment_once(self._number(proposal), text, topic)

    def report(self, proposal: Proposal, text: str, topic: CommentTopic) -> None:
        """Keep the one comment on `topic`: posted once, then edited in place (PATCH) when its
        text changed; an unchanged text costs only the read of the comments."""
        with self._translate(f"reporting on the proposal {proposal.reference}"):
            number = self._number(proposal)
            marker = comment_marker(topic)
            body = f"{marker}\n{text}"
            found = self._find_comment(number, marker)
            path = f"{self._repo_path}/issues"
            if found is None:
                self._write("POST", f"{path}/{number}/comments", {"body": body})
            elif found.get("body") != body:
                self._write("PATCH", f"{path}/comments/{int(found['id'])}", {"body": body})

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
        with self._translate(f"setting the status {context} of {sha[:12]}"):
            self._write("POST", f"{self._repo_path}/statuses/{_quote(sha)}", body)

    def _send_status(self, sha: str, body: Mapping[str, Any], tries: int = 0) -> None:
        from github import GithubException

        key = f"{sha} {body['context']}"
        unsent = self.state.section("unsent-statuses")
        try:
            with self._translate(f"setting the status of {sha[:12]}"):
                self._write("POST", f"{self._repo_path}/statuses/{_quote(sha)}", dict(body))
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

        with self._translate(f"closing the proposal {proposal.reference} ({proposal.branch})"):
            number = proposal.number
            if number is None:
                pull = self._open_pull(proposal.branch)
                if pull is not None:
                    self._require_own(pull, proposal.branch)
                number = None if pull is None else int(pull["number"])
            if number is not None:
                if comment:
                    self._comment_once(number, comment, CommentTopic.CLOSING)
                self._write("PATCH", f"{self._repo_path}/pulls/{number}", {"state": "closed"})
                self._unlist(number)
            ref = f"{self._repo_path}/git/refs/heads/{_quote(proposal.branch)}"
            try:
                self._write("DELETE", ref, None, missing=(404, 422))
            except (GithubException, RequestException, _Stopped) as error:
                _log.warning(
                    "closed %s but could not delete its branch %s: %s",
                    proposal.reference,
                    proposal.branch,
                    self._why(error),
                )

    def halted(self) -> ForgeError | None:
        """The rate limit that stopped every further request of this run, or None."""
        if self._limit is None:
            return None
        return ForgeError(
            f"GitHub rate limit: {self._limit.describe()}; no further request was sent to "
            "GitHub in this run",
            hint=f"run again after {self._limit.until:%Y-%m-%d %H:%M:%S} UTC; the next run "
            "picks up where this one stopped",
        )

    def is_member(self, approver: str, login: str) -> bool:
        """`login` is the approver, or an active member of the team it names.

        Which an approver is must not depend on what exists on GitHub, or anyone able to
        create a team (or to register a login) could become an approver: a team named `alice`
        holding mallory, or a user called `devops-team`. So an approver is a team when it is
        written `org/slug` (or `@org/slug`), or when it is a plain name the global policies
        declare in `governance.teams` (a team of the repository's owner); any other plain
        name is a user's login and matches that login only. Answers are kept for the forge's
        lifetime: a cycle asks the same question for many proposals."""
        approver = approver.strip().removeprefix("@")
        if not approver or not login:
            return False
        key = (approver.lower(), login.lower())
        if key in self._members:
            return self._members[key]
        if "/" not in approver and approver.lower() not in self._teams:
            answer = approver.lower() == login.lower()
            self._members[key] = answer
            return answer
        org, _, slug = approver.rpartition("/")
        org = org or self.owner
        with self._translate(f"checking whether {login} belongs to {org}/{slug}"):
            path = f"/orgs/{_quote(org)}/teams/{_quote(slug)}/memberships/{_quote(login)}"
            membership = self._get(path, missing=True)
        answer = isinstance(membership, dict) and membership.get("state") == "active"
        self._members[key] = answer
        return answer

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
        comments, the dashboard), so that PyGithub stays in this module."""
        with self._translate(doing):
            if verb.upper() in ("GET", "HEAD"):
                return self._get(path, params=params, missing=missing)
            return self._write(verb.upper(), path, body, missing=(404,) if missing else ())

    # ------------------------------------------------------------------ requests

    def _get(
        self, path: str, *, params: Mapping[str, Any] | None = None, missing: bool = False
    ) -> Any:
        """One GET, conditional when an earlier answer is kept: a 304 answers with it (and
        costs nothing of the rate limit). With `missing`, a 404 answers None instead of
        raising."""
        self._check_limit()
        key = path + ("?" + urllib.parse.urlencode(sorted(params.items())) if params else "")
        kept = self.state.get(key)
        conditions: dict[str, str] = {}
        if kept is not None and kept.etag and kept.holder == self._holder:
            conditions["If-None-Match"] = kept.etag
        elif kept is not None and kept.last_modified:
            # Another token's ETag never matches (GitHub's are per token); a date does.
            conditions["If-Modified-Since"] = kept.last_modified
        status, headers, output = self._client.requester.requestJson(
            "GET", path, parameters=dict(params) if params else None, headers=conditions or None
        )
        self._sent += 1
        self._note_rate(headers)
        if status == 304 and kept is not None:
            self._not_modified += 1
            return kept.body
        data = json.loads(output) if output else None
        if status >= 400:
            if missing and status == 404:
                self.state.forget(key)
                return None
            error = self._client.requester.createException(
                status, headers, data if isinstance(data, dict) else {}
            )
            self._note_limit(error)
            raise error
        data = _slim(data)
        etag, modified = str(headers.get("etag") or ""), str(headers.get("last-modified") or "")
        if etag or modified:
            cached = Cached(body=data, etag=etag, last_modified=modified, holder=self._holder)
            self.state.put(key, cached)
        return data

    def _write(self, verb: str, path: str, body: Any, *, missing: Sequence[int] = ()) -> Any:
        """One paced write; statuses in `missing` (an already deleted ref) answer None."""
        from github import GithubException

        self._check_limit()
        self._pacer.wait()
        self._sent += 1
        try:
            headers, data = self._client.requester.requestJsonAndCheck(verb, path, input=body)
        except GithubException as error:
            self._note_rate(error.headers or {})
            if error.status in missing:
                return None
            self._note_limit(error)
            raise
        self._note_rate(headers)
        return data

    def _note_rate(self, headers: Mapping[str, Any]) -> None:
        """Remember what GitHub says is left of the core rate limit (for `usage`)."""
        lowered = {str(k).lower(): str(v) for k, v in headers.items()}
        if lowered.get("x-ratelimit-resource", "core") != "core":
            return
        remaining, limit = lowered.get("x-ratelimit-remaining"), lowered.get("x-ratelimit-limit")
        if not (remaining and remaining.isdigit() and limit and limit.isdigit()):
            return
        reset = lowered.get("x-ratelimit-reset", "")
        resets = datetime.fromtimestamp(int(reset), UTC) if reset.isdigit() else None
        self._rate = (int(remaining), int(limit), resets)

    def _check_limit(self) -> None:
        """Send nothing once a rate limit answered: not even to another endpoint."""
        if self._limit is not None:
            raise _Stopped()

    def _note_limit(self, error: Exception) -> None:
        limit = self._limit_of(error)
        if limit is not None and self._limit is None:
            self._limit = limit

    @contextmanager
    def _translate(self, doing: str) -> Iterator[None]:
        """Every library failure inside becomes a ForgeError saying what was being done."""
        from github import GithubException
        from requests import RequestException

        try:
            yield
        except ForgeError:
            raise
        except _Stopped:
            limit = self._limit
            assert limit is not None
            raise ForgeError(
                self._redact(
                    f"{doing}: not asked, since GitHub's rate limit stopped every further "
                    f"request of this run ({limit.why} until {limit.until:%H:%M:%S} UTC)"
                ),
                hint="the next run tries again once the limit has reset",
            ) from None
        except (GithubException, RequestException, json.JSONDecodeError) as error:
            message, hint = self._explain(error)
            raise ForgeError(
                self._redact(f"{doing}: {message}"), hint=self._redact(hint)
            ) from error

    def _explain(self, error: Exception) -> tuple[str, str]:
        """A sentence for what went wrong, and a hint for what to do about it."""
        from github import GithubException
        from requests import ConnectionError, Timeout

        if isinstance(error, Timeout) or _timed_out(error):
            return f"GitHub did not answer within {self.timeout} s", "the next run tries again"
        if isinstance(error, ConnectionError):
            return (
                f"cannot reach {self.base_url} ({type(error).__name__})",
                "check the API URL and the network; the next run tries again",
            )
        if isinstance(error, json.JSONDecodeError):
            return "GitHub's answer is not valid JSON", ""
        if not isinstance(error, GithubException):
            return f"the request failed ({type(error).__name__})", ""
        status = error.status
        detail = _github_message(error.data)
        said = f"GitHub answered {status}" + (f" ({detail})" if detail else "")
        limit = self._limit_of(error)
        if limit is not None:
            return limit.describe(), "the next run tries again once the limit has reset"
        if status == 401:
            return said, TOKEN_HINT
        if status == 403:
            return said, PERMISSION_HINT.format(repo=self.repository)
        if status == 404:
            return said, NOT_FOUND_HINT.format(repo=self.repository)
        if status >= 500:
            return said, "GitHub is having trouble; the next run tries again"
        return said, ""

    def _limit_of(self, error: Exception) -> _Limit | None:
        """The rate limit an error is, and when it lifts, as GitHub documents them (None when
        it is no rate limit): a 403 or 429 with `x-ratelimit-remaining: 0` is the primary
        limit, over until `x-ratelimit-reset`; one with `retry-after`, or saying it is a
        secondary rate limit, or any 429, is a secondary limit, over after `retry-after`
        seconds, else after at least a minute. With several, the latest wins."""
        from github import GithubException

        if not isinstance(error, GithubException) or error.status not in (403, 429):
            return None
        headers = {k.lower(): str(v).strip() for k, v in (error.headers or {}).items()}
        detail = _github_message(error.data)
        exhausted = headers.get("x-ratelimit-remaining") == "0"
        secondary = "secondary rate limit" in detail.lower()
        after = headers.get("retry-after", "")
        reset = headers.get("x-ratelimit-reset", "")
        if not (exhausted or secondary or after.isdigit() or error.status == 429):
            return None
        now = self._now()
        ends: list[datetime] = []
        if exhausted and reset.isdigit():
            ends.append(datetime.fromtimestamp(int(reset), UTC))
        if after.isdigit():
            ends.append(now + timedelta(seconds=int(after)))
        if not ends:
            ends.append(now + timedelta(seconds=_SECONDARY_WAIT))
        until = max(ends)
        return _Limit(
            said=f"GitHub answered {error.status}" + (f" ({detail})" if detail else ""),
            why=(
                "the API rate limit is used up"
                if exhausted and not secondary
                else "GitHub's secondary rate limit holds requests"
            ),
            until=until.astimezone(UTC),
            wait=max(0, round((until - now).total_seconds())),
        )

    def _why(self, error: Exception) -> str:
        """One line for a failure that is logged rather than raised."""
        if isinstance(error, _Stopped):
            return "GitHub's rate limit stopped every further request of this run"
        message, _ = self._explain(error)
        return self._redact(message)

    def _redact(self, text: str) -> str:
        return text.replace(self._secret, "[token]") if self._secret else text

    # ------------------------------------------------------------------ branches

    def _base(self) -> str:
        """The base branch: as configured, else the repository's default (asked once)."""
        if self._base_branch is None:
            self._base_branch = str(self._get(self._repo_path)["default_branch"])
            self._repo_checked = True
        return self._base_branch

    def _check_repository(self) -> None:
        """Make a 404 on the repository itself an error, not a vanished pull request."""
        if not self._repo_checked:
            self._get(self._repo_path)
            self._repo_checked = True

    def _write_branch(self, draft: Draft, *, create: bool) -> str:
        """One commit on top of the base tip with exactly `draft.files` changed, and the
        branch pointed at it (created, or reset when it exists). Returns the commit's SHA."""
        base = self._base()
        tip = self._get(f"{self._repo_path}/branches/{_quote(base)}")["commit"]
        tree = self._write(
            "POST",
            f"{self._repo_path}/git/trees",
            {
                "base_tree": tip["commit"]["tree"]["sha"],
                "tree": [
                    {"path": path, "mode": "100644", "type": "blob", "content": content}
                    for path, content in sorted(draft.files.items())
                ],
            },
        )
        commit = self._write(
            "POST",
            f"{self._repo_path}/git/commits",
            {
                "message": draft.commit_message or draft.title,
                "tree": tree["sha"],
                "parents": [tip["sha"]],
            },
        )
        sha = str(commit["sha"])
        # Who wrote it is known without asking: the account the token acts as.
        author = (commit.get("author") or {}).get("name") if isinstance(commit, dict) else None
        self._remember(self._authors, sha, self._identity or str(author or ""))
        ref = f"refs/heads/{draft.branch}"
        created = False
        if create:
            created = self._create_ref(ref, sha)
        if not created:  # updating, or the branch is left over from an earlier try
            self._write(
                "PATCH",
                f"{self._repo_path}/git/{_quote(ref)}",
                {"sha": sha, "force": True},
            )
        for path, content in draft.files.items():
            self._remember(self._contents, (sha, path), content)
        return sha

    def _create_ref(self, ref: str, sha: str) -> bool:
        """Create the branch; False when it exists already."""
        from github import GithubException

        try:
            self._write("POST", f"{self._repo_path}/git/refs", {"ref": ref, "sha": sha})
        except GithubException as error:
            if error.status == 422 and "already exists" in _github_message(error.data):
                return False
            raise
        return True

    # ------------------------------------------------------------------ pull requests

    def _open_pulls(self) -> dict[int, JSON]:
        """The open pull requests by number, listed once a run: one request per hundred
        however many proposals are open, instead of one per proposal. A pull request that
        changes later in the run is asked for again (`_unlist`)."""
        if self._listed is None or time.monotonic() - self._listed_at >= self._listing_ttl:
            listed: dict[int, JSON] = {}
            for page in range(1, _OPEN_PULLS_PAGES + 1):
                found = self._get(
                    f"{self._repo_path}/pulls",
                    params={"state": "open", "per_page": 100, "page": page},
                )
                found = found if isinstance(found, list) else []
                for pull in found:
                    if isinstance(pull, dict) and isinstance(pull.get("number"), int):
                        listed[int(pull["number"])] = pull
                if len(found) < 100:
                    break
            self._listed, self._listed_at = listed, time.monotonic()
        return self._listed

    def _unlist(self, number: int | None) -> None:
        """Forget a pull request's listed state after changing it."""
        if self._listed is not None and number is not None:
            self._listed.pop(number, None)

    def _open_pull(self, branch: str) -> JSON | None:
        found = self._get(
            f"{self._repo_path}/pulls",
            params={"state": "open", "head": f"{self.owner}:{branch}", "per_page": 1},
        )
        return found[0] if found else None

    def _create_pull(self, draft: Draft) -> JSON:
        """The pull request for the branch `_write_branch` just wrote.

        A 5xx or a timeout may hide a pull request that was created anyway: look before
        trying a second and last time. GitHub allows one open pull request per head and base,
        so a duplicate comes back as 422 "A pull request already exists", and is adopted."""
        from github import GithubException
        from requests import ConnectionError, Timeout

        body = {
            "title": draft.title,
            "body": draft.body,
            "head": draft.branch,
            "base": self._base(),
        }
        path = f"{self._repo_path}/pulls"
        exists = False
        try:
            return dict(self._write("POST", path, body))
        except GithubException as error:
            exists = error.status == 422 and "already exists" in _github_message(error.data)
            if not exists and error.status < 500:
                raise
        except (Timeout, ConnectionError):
            pass
        existing = self._open_pull(draft.branch)
        if existing is None:
            return dict(self._write("POST", path, body))
        if exists:
            # GitHub refused a second pull request on the branch: the one there was opened
            # before ours, and may be anyone's.
            self._require_own(existing, draft.branch)
        # Otherwise it appeared after this run looked and found none, while GitHub's answer
        # to creating ours was lost: it is ours, unless the token's account says otherwise.
        elif self._whoami() is not None:
            self._require_own(existing, draft.branch)
        return existing

    def _ensure_labels(self, pull: JSON, labels: Sequence[str]) -> JSON:
        """Add the draft's labels the pull request lacks (GitHub creates unknown ones)."""
        have = {str(label.get("name", "")).lower() for label in pull.get("labels") or []}
        missing = [label for label in labels if label.lower() not in have]
        if not missing:
            return pull
        number = pull["number"]
        added = self._label(number, "POST", missing)
        return {**pull, "labels": added if isinstance(added, list) else pull.get("labels")}

    def _label(self, number: int, verb: str, labels: Sequence[str]) -> Any:
        """Add (POST) or set (PUT) a pull request's labels. Labels are for people, not for
        the reconciler, which finds its proposals by branch; so a token that may not label (a
        job's GITHUB_TOKEN with only contents and pull-requests, when a label is new) costs the
        labels, not the proposal."""
        from github import GithubException
        from requests import RequestException

        try:
            return self._write(
                verb, f"{self._repo_path}/issues/{number}/labels", {"labels": list(labels)}
            )
        except (GithubException, RequestException, _Stopped) as error:
            refused = isinstance(error, GithubException) and error.status in (403, 404, 422)
            fix = (
                "create the labels once, or give the token issues: write"
                if refused and self._limit is None
                else "the next run adds them"
            )
            _log.warning(
                "could not label #%d with %s: %s (%s)",
                number,
                ", ".join(labels),
                self._why(error),
                fix,
            )
            return None

    def _request_reviews(self, number: int, reviewers: Sequence[str]) -> None:
        """Ask the draft's reviewers; a refusal (the author cannot review their own pull
        request, someone without access) never fails `open`. When GitHub refuses the whole
        list (422), each reviewer is asked alone so one bad name does not cost the others."""
        from github import GithubException
        from requests import RequestException

        users: list[str] = []
        teams: list[str] = []
        for name in dict.fromkeys(reviewers):
            org, _, slug = name.removeprefix("@").rpartition("/")
            if not org and slug.lower() in self._teams:
                # A plain name the global policies declare a team is a team of the owner,
                # as `is_member` reads it; GitHub refuses a team's slug among the users.
                teams.append(slug)
            elif not org:
                if self.bot_login is None or name.lower() != self.bot_login.lower():
                    users.append(name)
            elif org.lower() == self.owner.lower():
                teams.append(slug)
            else:
                _log.warning(
                    "not asking %s to review #%d: teams outside %s cannot", name, number, self.owner
                )
        if not users and not teams:
            return
        path = f"{self._repo_path}/pulls/{number}/requested_reviewers"
        try:
            self._write("POST", path, {"reviewers": users, "team_reviewers": teams})
            return
        except (GithubException, RequestException, _Stopped) as error:
            if getattr(error, "status", None) != 422 or len(users) + len(teams) == 1:
                self._review_refused(number, [*users, *teams], error)
                return
        asks: list[tuple[list[str], list[str]]] = [([user], []) for user in users]
        asks += [([], [team]) for team in teams]
        for some_users, some_teams in asks:
            try:
                self._write("POST", path, {"reviewers": some_users, "team_reviewers": some_teams})
            except (GithubException, RequestException, _Stopped) as error:
                self._review_refused(number, [*some_users, *some_teams], error)

    def _review_refused(self, number: int, names: Sequence[str], error: Exception) -> None:
        _log.warning(
            "could not ask %s to review #%d: %s", ", ".join(names), number, self._why(error)
        )

    def _number(self, proposal: Proposal) -> int:
        if proposal.number is not None:
            return proposal.number
        pull = self._open_pull(proposal.branch)
        if pull is None:
            raise ForgeError(f"branch {proposal.branch} has no open pull request")
        self._require_own(pull, proposal.branch)
        return int(pull["number"])

    def _comment_once(self, number: int, text: str, topic: CommentTopic) -> None:
        """Post the reconciler's comment on `topic`, unless it is there already: a run whose
        answer was lost may have posted it. The topic's marker opens the comment (a person
        quoting it starts with `>`, so a quote is never taken for it)."""
        marker = comment_marker(topic)
        if self._find_comment(number, marker) is not None:
            return
        path = f"{self._repo_path}/issues/{number}/comments"
        self._write("POST", path, {"body": f"{marker}\n{text}"})

    def _find_comment(self, number: int, marker: str) -> JSON | None:
        """The oldest comment on issue or pull request `number` that starts with `marker`."""
        path = f"{self._repo_path}/issues/{number}/comments"
        for page in range(1, _COMMENT_PAGES + 1):
            comments = self._get(path, params={"per_page": 100, "page": page})
            comments = comments if isinstance(comments, list) else []
            for item in comments:
                if isinstance(item, dict) and str(item.get("body") or "").startswith(marker):
                    return item
            if len(comments) < 100:
                break
        return None

    def _whoami(self) -> str | None:
        """The login the token acts as: `bot_login` when given, else GitHub's answer to
        `GET /user`, asked once. None when GitHub will not say (a GitHub App's installation
        token is refused `GET /user`): give the bot login in the settings then."""
        from github import GithubException

        if not self._identity_asked:
            self._identity_asked = True
            try:
                me = self._get("/user")
            except GithubException as error:
                if error.status not in (401, 403, 404) or self._limit is not None:
                    raise
                me = None
            self._identity = _login(me)
        return self._identity

    def _require_own(self, pull: JSON, branch: str) -> None:
        """Refuse a pull request on a proposal's branch that the reconciler did not open:
        anyone who can push may open one there, and adopting it would make a person's pull
        request (its title, its body, its merge) pass for the reconciler's proposal."""
        author = _login(pull.get("user")) or "an unknown account"
        me = self._whoami()
        if me is not None and author.lower() == me.lower():
            return
        number = pull.get("number")
        why = (
            "which the reconciler did not open"
            if me is not None
            else "and the reconciler cannot tell whether it opened it (GitHub does not say "
            "which account the token acts as: set the bot login)"
        )
        raise ForgeError(
            f"the branch {branch} has pull request #{number} by {author}, {why}: it is not "
            "adopted, and its merge approves nothing",
            hint=f"close #{number} (or move it to another branch); the next run proposes again",
        )

    # ------------------------------------------------------------------ mapping

    def _to_proposal(self, pull: JSON, paths: Sequence[str], *, known_head: str = "") -> Proposal:
        """A pull request as a Proposal, completing what its JSON lacks: who merged (a listed
        pull request omits it), who closed (only the issue says), the head commit's author and
        the proposal's files (both immutable per commit, so asked once). The files are read
        at the head while the pull request is open, and once merged at the merge commit: what
        the merge put on the base branch is what the approval is judged by. A merged pull
        request also lists every path it changed, so a file slipped in beside the proposed
        ones is seen. Which files are read is `paths`, the caller's own record of the
        proposal: the body is anyone's to edit who may edit the pull request.

        An open pull request whose head is `known_head` (the commit the caller recorded) costs
        nothing more: that commit is the reconciler's own, so its files are the proposed ones
        and nothing reads them. One whose head moved is read in full, with the paths it
        changes against its base, to tell a person's edit from an update from the base."""
        number = int(pull["number"])
        merged_at = _parse_time(pull.get("merged_at"))
        state = ProposalState.OPEN
        merged_by = closed_by = None
        if merged_at is not None:
            state = ProposalState.MERGED
            if "merged_by" not in pull:
                pull = self._get(f"{self._repo_path}/pulls/{number}")
            merged_by = _login(pull.get("merged_by"))
        elif pull.get("state") == "closed":
            state = ProposalState.CLOSED
            issue = self._get(f"{self._repo_path}/issues/{number}")
            closed_by = _login(issue.get("closed_by"))
        head = pull.get("head") or {}
        sha = str(head.get("sha") or "")
        body = str(pull.get("body") or "")
        metadata = parse_metadata(body)
        branch = str(head.get("ref") or "")
        merge_sha = pull.get("merge_commit_sha") if merged_at is not None else None
        files_at = str(merge_sha) if merge_sha else sha
        unmoved = state is ProposalState.OPEN and bool(known_head) and sha == known_head
        moved = state is ProposalState.OPEN and bool(known_head) and sha != known_head
        # Who wrote the head matters while a person may be editing it, not once it ended.
        asked = state is ProposalState.OPEN and not unmoved and bool(sha)
        author = self._head_author(sha) if asked else self._authors.get(sha, "")
        changed = None
        if state is ProposalState.MERGED:
            changed = self._pull_paths(number)
        elif moved:
            changed = self._pull_paths(number, settled=False)
        return Proposal(
            key=str(metadata.get("key", branch)),
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
            files=self._files_at(files_at, paths) if files_at and not unmoved else {},
            changed=changed,
            labels=tuple(
                str(label["name"]) for label in pull.get("labels") or [] if label.get("name")
            ),
        )

    def _head_author(self, sha: str) -> str:
        """The GitHub login of the commit's author, or its git name when GitHub cannot tie the
        commit to an account (an unknown email)."""
        if sha not in self._authors:
            commit = self._get(f"{self._repo_path}/commits/{sha}")
            login = _login(commit.get("author"))
            name = ((commit.get("commit") or {}).get("author") or {}).get("name")
            self._remember(self._authors, sha, login or str(name or ""))
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
            files = self._get(
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
            self._remember(self._merged_paths, number, found)
        return found

    def _files_at(self, sha: str, paths: Sequence[str]) -> dict[str, str]:
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
            found = self._get(
                f"{self._repo_path}/contents/{_quote(path)}", params={"ref": sha}, missing=True
            )
            text = None
            if isinstance(found, dict) and found.get("type") == "file":
                encoded = found.get("content") or ""
                if found.get("encoding") != "base64":  # over 1 MB: the blob API has it
                    blob = self._get(f"{self._repo_path}/git/blobs/{found['sha']}")
                    encoded = blob.get("content") or ""
                try:
                    text = base64.b64decode(encoded).decode("utf-8", errors="replace")
                except (binascii.Error, ValueError):
                    text = None
            self._remember(self._contents, key, text)
        return self._contents[key]

    @staticmethod
    def _remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[key] = value
