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
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from reconciler.adapters.git_command import (
    REJECTED,
    GitCommand,
    last_line,
    without_credentials,
)
from reconciler.adapters.git_locks import held, lock_message
from reconciler.core.errors import AuditError

__all__ = ["GitRemote", "PushResult"]

_MISSING_REF = ("couldn't find remote ref", "could not find remote ref")


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
        self._command = GitCommand(
            root, error=AuditError, needs="the audit records cannot be pushed"
        )

    def _git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = without_credentials(" ".join(args[:2]))
        return self._command.run(
            *args,
            doing=f"`git {command}` failed",
            hint=lambda: (
                self._lock_hint()
                or "the records are committed locally; the next run recovers what the "
                "cluster shows from the annotations on the deployments"
            ),
            check=check,
        )

    def _lock_hint(self, branch: str = "") -> str:
        """When one of git's lock files that a push's fetch, push or replay takes exists (an
        interrupted git command left it), the line that names it and its fix; else ""."""
        try:
            found = self._git("rev-parse", "--absolute-git-dir", check=False)
        except AuditError:
            return ""
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
        return f"{without_credentials(self.remote)}/{branch}"

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
            f"fetching {self._where(branch)} failed: {last_line(result.stderr)}",
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
            last = last_line(result.stderr)
            if not any(marker in result.stderr for marker in REJECTED):
                raise AuditError(
                    f"pushing the audit records to {self._where(branch)} failed: {last}",
                    hint=self._lock_hint(branch)
                    or "check the token's `contents: write` permission and the remote; the "
                    "next run recovers unrecorded changes from the deployments' annotations",
                )
            self._replay(branch)
            backoff = min(self.pause * 2 ** (attempt - 1), self.max_pause)
            self._sleep(backoff * (0.5 + random.random()))
        raise AuditError(
            f"pushing the audit records to {self._where(branch)} was rejected "
            f"{self.attempts} times ({last})",
            hint="other jobs keep pushing; the records stay committed locally and the next run "
            "recovers unrecorded changes from the deployments' annotations",
        )

    def _replay(self, branch: str) -> None:
        """Someone pushed first: take their commits and replay ours on top. The replayed
        commits keep their dates (the events' times) and the reconciler's name, and need no
        git identity on the machine."""
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
                f"{last_line(rebased.stderr)}",
                hint=self._lock_hint(branch)
                or "someone changed the same files; audit records never do, so check "
                "for local edits outside audit/",
            )
