"""GitHubApi: one repository's REST API through PyGithub's requester, every request explicit.

PyGithub is used as a transport, not as an object model: each request goes through its
requester with a path the forge writes, so the requests a cycle spends can be counted. This
module holds what every request shares: the client's settings (retries of what is safe to
repeat, no sleeping through rate limits), conditional GETs from the kept answers, the pacing of
writes, the halt on a rate limit, and the translation of every failure into a ForgeError with
the token redacted (docs/architecture.md, "The GitHub forge").
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.adapters.github_forge.limits import (
    WRITE_INTERVAL,
    ApiUsage,
    RateLimit,
    WritePacer,
    github_message,
    limit_of,
)
from reconciler.adapters.github_state import Cached, GitHubState, token_fingerprint
from reconciler.core.errors import ForgeError

if TYPE_CHECKING:
    from github import Github

__all__ = ["GitHubApi", "Stopped", "quote"]

JSON = dict[str, Any]

USER_AGENT = "reconciler (PyGithub)"
#: Server errors worth another try on a request that is safe to repeat.
_RETRY_STATUSES = frozenset({500, 502, 503, 504})
_RETRY_METHODS = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE"})
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


def quote(text: str) -> str:
    """A branch or path inside a URL: slashes stay, anything else unusual is escaped."""
    return urllib.parse.quote(text, safe="/")


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


def _slim(data: Any) -> Any:
    """An answer without the parts the forge never reads (see `_BULKY_KEYS`)."""
    if isinstance(data, list):
        return [_slim(item) for item in data]
    if isinstance(data, dict):
        return {key: _slim(value) for key, value in data.items() if key not in _BULKY_KEYS}
    return data


def _client(token: str, base_url: str, timeout: int) -> Github:
    """PyGithub with each setting chosen: idempotent requests retried twice on a 5xx (POST
    never), no waiting for a rate limit to reset, no pause between reads, and the write pacing
    left to `WritePacer`."""
    from github import Auth, Github
    from urllib3.util.retry import Retry

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
    return Github(
        auth=Auth.Token(token),
        base_url=base_url,
        timeout=timeout,
        user_agent=USER_AGENT,
        retry=retry,
        seconds_between_requests=0,
        seconds_between_writes=0,
    )


class Stopped(Exception):
    """A request not sent, because a rate limit halted the forge for the rest of the run."""


class GitHubApi:
    """Requests to one repository's API, counted, paced, and halted by a rate limit."""

    def __init__(
        self,
        repository: str,
        token: str,
        *,
        base_url: str,
        timeout: int,
        now: Callable[[], datetime],
        state_path: Path | None,
        write_interval: float = WRITE_INTERVAL,
    ) -> None:
        self.repository = repository
        self.base_url = base_url
        self.timeout = timeout
        self._secret = token
        self._now = now
        #: GitHub's guidance is about a second between writes once there are many; a server
        #: that asks for none (a test's) may be given them faster.
        self._pacer = WritePacer(interval=write_interval)
        #: The rate limit that halted the forge, if one did.
        self.limit: RateLimit | None = None
        #: GitHub's earlier answers and their validators, kept between runs (a local file).
        self.state = GitHubState(state_path, scope=f"{self.base_url} {repository}")
        self._holder = token_fingerprint(token)
        self._sent = 0
        self._not_modified = 0
        self._rate: tuple[int, int, datetime | None] | None = None
        self._client: Github = _client(token, self.base_url, timeout)

    def close(self) -> None:
        self._client.close()

    def usage(self) -> ApiUsage:
        """How many requests were made, and what GitHub last said is left."""
        remaining, limit, resets = self._rate if self._rate else (None, None, None)
        return ApiUsage(
            requests=self._sent,
            not_modified=self._not_modified,
            remaining=remaining,
            limit=limit,
            resets_at=resets,
        )

    # ------------------------------------------------------------------ requests

    def get(
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

    def write(self, verb: str, path: str, body: Any, *, missing: Sequence[int] = ()) -> Any:
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
        if self.limit is not None:
            raise Stopped()

    def _note_limit(self, error: Exception) -> None:
        limit = limit_of(error, self._now)
        if limit is not None and self.limit is None:
            self.limit = limit

    # ------------------------------------------------------------------ failures

    @contextmanager
    def translate(self, doing: str) -> Iterator[None]:
        """Every library failure inside becomes a ForgeError saying what was being done."""
        from github import GithubException
        from requests import RequestException

        try:
            yield
        except ForgeError:
            raise
        except Stopped:
            limit = self.limit
            assert limit is not None
            raise ForgeError(
                self.redact(
                    f"{doing}: not asked, since GitHub's rate limit stopped every further "
                    f"request of this run ({limit.why} until {limit.until:%H:%M:%S} UTC)"
                ),
                hint="the next run tries again once the limit has reset",
            ) from None
        except (GithubException, RequestException, json.JSONDecodeError) as error:
            message, hint = self._explain(error)
            raise ForgeError(self.redact(f"{doing}: {message}"), hint=self.redact(hint)) from error

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
        detail = github_message(error.data)
        said = f"GitHub answered {status}" + (f" ({detail})" if detail else "")
        limit = limit_of(error, self._now)
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

    def halted(self) -> ForgeError | None:
        """The rate limit that stopped every further request of this run, or None."""
        if self.limit is None:
            return None
        return ForgeError(
            f"GitHub rate limit: {self.limit.describe()}; no further request was sent to "
            "GitHub in this run",
            hint=f"run again after {self.limit.until:%Y-%m-%d %H:%M:%S} UTC; the next run "
            "picks up where this one stopped",
        )

    def why(self, error: Exception) -> str:
        """One line for a failure that is logged rather than raised."""
        if isinstance(error, Stopped):
            return "GitHub's rate limit stopped every further request of this run"
        message, _ = self._explain(error)
        return self.redact(message)

    def redact(self, text: str) -> str:
        return text.replace(self._secret, "[token]") if self._secret else text
