"""GitHub's rate limits as the forge meets them: an answer read as a limit, the pace of writes,
and what a run cost.

A rate limit is never slept through: it halts the forge for the rest of the run (see
`GitHubApi`), so this module only reads when it lifts. Writes are paced by a token bucket
rather than PyGithub's fixed pause before each (docs/architecture.md, "The GitHub forge").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = ["ApiUsage", "RateLimit", "WritePacer", "github_message", "limit_of"]

#: Writes let through at once before pacing starts, and the pace after that.
WRITE_BURST = 15
WRITE_INTERVAL = 1.0
#: How long a secondary rate limit lasts when GitHub says neither `retry-after` nor a reset:
#: "wait for at least one minute", in GitHub's words.
SECONDARY_WAIT = 60


def github_message(data: object) -> str:
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


@dataclass(frozen=True, kw_only=True)
class RateLimit:
    """A rate limit GitHub answered with: what it said, and when to ask again."""

    said: str
    why: str
    until: datetime
    wait: int

    def describe(self) -> str:
        when = f"{self.until:%Y-%m-%d %H:%M:%S} UTC (in {self.wait} s)"
        return f"{self.said}; {self.why} until {when}"


def limit_of(error: Exception, clock: Callable[[], datetime]) -> RateLimit | None:
    """The rate limit an error is, and when it lifts, as GitHub documents them (None when
    it is no rate limit): a 403 or 429 with `x-ratelimit-remaining: 0` is the primary
    limit, over until `x-ratelimit-reset`; one with `retry-after`, or saying it is a
    secondary rate limit, or any 429, is a secondary limit, over after `retry-after`
    seconds, else after at least a minute. With several, the latest wins."""
    from github import GithubException

    if not isinstance(error, GithubException) or error.status not in (403, 429):
        return None
    headers = {k.lower(): str(v).strip() for k, v in (error.headers or {}).items()}
    detail = github_message(error.data)
    exhausted = headers.get("x-ratelimit-remaining") == "0"
    secondary = "secondary rate limit" in detail.lower()
    after = headers.get("retry-after", "")
    reset = headers.get("x-ratelimit-reset", "")
    if not (exhausted or secondary or after.isdigit() or error.status == 429):
        return None
    now = clock()
    ends: list[datetime] = []
    if exhausted and reset.isdigit():
        ends.append(datetime.fromtimestamp(int(reset), UTC))
    if after.isdigit():
        ends.append(now + timedelta(seconds=int(after)))
    if not ends:
        ends.append(now + timedelta(seconds=SECONDARY_WAIT))
    until = max(ends)
    return RateLimit(
        said=f"GitHub answered {error.status}" + (f" ({detail})" if detail else ""),
        why=(
            "the API rate limit is used up"
            if exhausted and not secondary
            else "GitHub's secondary rate limit holds requests"
        ),
        until=until.astimezone(UTC),
        wait=max(0, round((until - now).total_seconds())),
    )


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


class WritePacer:
    """Lets a burst of writes through, then one per interval (a token bucket).

    PyGithub can only pause before every write; a cycle that opens one proposal should not
    sleep six seconds for it, while one that opens thirty should not trip GitHub's limit on
    content creation."""

    def __init__(
        self,
        burst: int = WRITE_BURST,
        interval: float = WRITE_INTERVAL,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        # The clock and the sleep are parameters so that the pace can be checked on a clock
        # that moves only when told to, whatever else the machine is doing.
        self.burst, self.interval = burst, interval
        self._clock, self._sleep = clock, sleep
        self._tokens = float(burst)
        self._last = clock()

    def wait(self) -> None:
        if self.interval <= 0:
            return
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) / self.interval)
        self._last = now
        if self._tokens < 1:
            self._sleep((1 - self._tokens) * self.interval)
            self._tokens, self._last = 1.0, self._clock()
        self._tokens -= 1
