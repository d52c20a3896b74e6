"""GitRemote: pushing the audit commits to the shared repository, safely under concurrency.

Two scheduled jobs (or two shards) may push at the same moment; one of them is then rejected
as not a fast-forward. The loser fetches, replays its own commits on top of what landed
(`git rebase`: every audit record is a new file with a unique name, so the replay never
conflicts), and pushes again, a bounded number of times with a growing, jittered pause.

It uses the git command line rather than pygit2, for two measured reasons: on Actions the
checkout's credentials live in git's own configuration (an `extraheader`), which libgit2 does
not read; and pygit2 pushing to a local path under concurrency reported success for pushes
that were then lost, where the git command line lost none.
"""

from __future__ import annotations

import random
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from reconciler.adapters.git_locks import held, lock_message
from reconciler.core.errors import AuditError

__all__ = ["GitRemote", "PushResult"]

#: The user information of a URL (`https://x-access-token:...@github.com/...`): everything
#: between the scheme and the last @ before the host's end, so a password with an @ in it
#: goes too.
_CREDENTIALS = re.compile(r"(://)[^/\s]*@")
_MISSING_REF = ("couldn't find remote ref", "could not find remote ref")
_REJECTED = ("[rejected]", "non-fast-forward", "fetch first", "stale info", "cannot lock ref")


@dataclass(frozen=True, kw_only=True)
class PushResult:
    pushed: bool
    attempts: int
    commits: int
    message: str


class GitRemote:
    def __init__(
        self,
        root: Path,
        *,
        remote: str = "origin",
        branch: str | None = None,
        attempts: int = 10,
        pause: float = 0.5,
        max_pause: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
        name: str = "reconciler",
        email: str = "reconciler@localhost",
    ) -> None:
        self.root = root
        self.name = name
        self.email = email
        self.remote = remote
        self.branch = branch
        self.attempts = attempts
        self.pause = pause
        self.max_pause = max_pause
        self._sleep = sleep

    def _git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        try:
            result = subprocess.run(
                ["git", "-C", str(self.root), *args],
                capture_output=True,
                text=True,
                check=False,
                timeout=120,
            )
        except FileNotFoundError:
            raise AuditError(
                "git is not installed, so the audit records cannot be pushed",
                hint="install git (the job's checkout has it on GitHub Actions)",
            ) from None
        except subprocess.TimeoutExpired:
            raise AuditError(
                f"`git {args[0]}` did not finish within 120 s", hint="check the remote"
            ) from None
        if check and result.returncode != 0:
            raise AuditError(
                f"`git {_without_credentials(' '.join(args[:2]))}` failed: "
                f"{_last_line(result.stderr)}",
                hint=self._lock_hint()
                or "the records are committed locally; the next run recovers what the "
                "cluster shows from the annotations on the deployments",
            )
        return result

    def _lock_hint(self, branch: str = "") -> str:
        """When one of git's lock files that a push's fetch, push or replay takes exists (an
        interrupted git command left it), the line that names it and its fix; else ""."""
        found = subprocess.run(
            ["git", "-C", str(self.root), "rev-parse", "--absolute-git-dir"],
            capture_output=True,
            text=True,
            check=False,
        )
        if found.returncode != 0:
            return ""
        names = ["index", "HEAD", "ORIG_HEAD", "packed-refs"]
        if branch:
            names += [f"refs/heads/{branch}", f"refs/remotes/{self.remote}/{branch}"]
        lock = held(Path(found.stdout.strip()), names)
        return lock_message(lock) if lock is not None else ""

    def _where(self, branch: str) -> str:
        """The remote branch, for messages: the remote is a name or a URL, and a URL may
        carry a token that must not reach the log, the job summary or an annotation."""
        return f"{_without_credentials(self.remote)}/{branch}"

    def _branch(self) -> str:
        if self.branch:
            return self.branch
        name = self._git("rev-parse", "--abbrev-ref", "HEAD").stdout.strip()
        if name == "HEAD":
            raise AuditError(
                "HEAD is detached, so there is no branch to push the records to",
                hint="check out the main branch, or pass the branch to push to",
            )
        return name

    def unpushed(self, branch: str) -> int:
        """Commits on HEAD that the remote branch lacks; -1 when the remote has no such branch."""
        result = self._git("rev-list", "--count", f"{self.remote}/{branch}..HEAD", check=False)
        return int(result.stdout.strip() or 0) if result.returncode == 0 else -1

    def _fetch(self, branch: str) -> bool:
        """Fetch the remote branch; False when it does not exist yet (the push creates it)."""
        result = self._git("fetch", "-q", self.remote, branch, check=False)
        if result.returncode == 0:
            return True
        if any(marker in result.stderr for marker in _MISSING_REF):
            return False
        raise AuditError(
            f"fetching {self._where(branch)} failed: {_last_line(result.stderr)}",
            hint=self._lock_hint(branch)
            or "check the remote's address and the token's `contents: write` permission; the "
            "records stay committed locally",
        )

    def push(self) -> PushResult:
        """Push HEAD to the remote branch, replaying over concurrent pushes until it lands."""
        branch = self._branch()
        exists = self._fetch(branch)
        pending = self.unpushed(branch) if exists else -1
        if pending == 0:
            return PushResult(pushed=False, attempts=0, commits=0, message="nothing to push")
        last = ""
        for attempt in range(1, self.attempts + 1):
            result = self._git("push", "-q", self.remote, f"HEAD:refs/heads/{branch}", check=False)
            if result.returncode == 0:
                what = "a new branch"
                if pending > 0:
                    what = f"{pending} audit commit{'s' * (pending != 1)}"
                retries = f" after {attempt - 1} retries" if attempt > 1 else ""
                return PushResult(
                    pushed=True,
                    attempts=attempt,
                    commits=max(pending, 0),
                    message=f"pushed {what} to {self._where(branch)}{retries}",
                )
            last = _last_line(result.stderr)
            if not any(marker in result.stderr for marker in _REJECTED):
                raise AuditError(
                    f"pushing the audit records to {self._where(branch)} failed: {last}",
                    hint=self._lock_hint(branch)
                    or "check the token's `contents: write` permission and the remote; the "
                    "next run recovers unrecorded changes from the deployments' annotations",
                )
            # Someone pushed first: take their commits, replay ours on top, try again. The
            # replayed commits keep their dates (the events' times) and the reconciler's name,
            # and need no git identity on the machine.
            self._fetch(branch)
            rebased = self._git(
                "-c",
                f"user.name={self.name}",
                "-c",
                f"user.email={self.email}",
                "rebase",
                "-q",
                "--autostash",
                "--committer-date-is-author-date",
                f"{self.remote}/{branch}",
                check=False,
            )
            if rebased.returncode != 0:
                self._git("rebase", "--abort", check=False)
                raise AuditError(
                    f"replaying the audit commits over {self._where(branch)} failed: "
                    f"{_last_line(rebased.stderr)}",
                    hint=self._lock_hint(branch)
                    or "someone changed the same files; audit records never do, so check "
                    "for local edits outside audit/",
                )
            backoff = min(self.pause * 2 ** (attempt - 1), self.max_pause)
            self._sleep(backoff * (0.5 + random.random()))
        raise AuditError(
            f"pushing the audit records to {self._where(branch)} was rejected "
            f"{self.attempts} times ({last})",
            hint="other jobs keep pushing; the records stay committed locally and the next run "
            "recovers unrecorded changes from the deployments' annotations",
        )


def _without_credentials(text: str) -> str:
    """`text` with the user and password of every URL in it replaced by ***: the one place
    where what names a remote is made fit to print."""
    return _CREDENTIALS.sub(r"\1***@", text)


def _last_line(text: str) -> str:
    """The line of git's output that says what went wrong, without any credentials a remote's
    URL may carry (`https://x-access-token:...@github.com/...`)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return _without_credentials(lines[-1]) if lines else "no output"
