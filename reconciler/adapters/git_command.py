"""GitCommand: the git command line, run the one way the adapters that need it run it.

Pushing the audit records and writing manifests through a remote use git itself rather than
pygit2 (`git_remote` says why). Both need the same care: a missing git, a command that hangs
on the network and a command that fails each become one error of the caller's port, with
what was being done and a fix, and nothing a remote's URL may carry (a token) reaches a
message. The caller says which error type and which hint; the runner does the rest.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.core.errors import ReconcilerError

if TYPE_CHECKING:
    import subprocess

__all__ = ["GIT_TIMEOUT", "REJECTED", "GitCommand", "last_line", "without_credentials"]

#: How long one git command may take before it counts as hung (a remote that never answers).
GIT_TIMEOUT = 120
#: What git says when a push loses a race: the remote moved on since it was fetched.
REJECTED = ("[rejected]", "non-fast-forward", "fetch first", "stale info", "cannot lock ref")
#: The user information of a URL (`https://x-access-token:...@github.com/...`): everything
#: between the scheme and the last @ before the host's end, so a password with an @ in it
#: goes too.
_CREDENTIALS = re.compile(r"(://)[^/\s]*@")
_INSTALL = "install git (the job's checkout has it on GitHub Actions)"


def without_credentials(text: str) -> str:
    """`text` with the user and password of every URL in it replaced by ***: the one place
    where what names a remote is made fit to print."""
    return _CREDENTIALS.sub(r"\1***@", text)


def last_line(text: str) -> str:
    """The line of git's output that says what went wrong, without any credentials a remote's
    URL may carry (`https://x-access-token:...@github.com/...`)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return without_credentials(lines[-1]) if lines else "no output"


class GitCommand:
    """git in one repository, its failures raised as `error` (the caller's port's error)."""

    def __init__(
        self,
        root: Path,
        *,
        error: type[ReconcilerError],
        needs: str,
        timeout: float = GIT_TIMEOUT,
    ) -> None:
        self.root = root
        self._error = error
        #: What cannot be done without git, for the message when it is missing.
        self._needs = needs
        self._timeout = timeout

    def run(
        self,
        *args: str,
        doing: str,
        hint: str | Callable[[], str] = "",
        check: bool = True,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """`git -C root args`: its output, or the error saying `doing` and `hint` when it
        fails (with `check`; without, the caller reads the return code). A hint that costs
        something to find (another git command) is given as a function, asked only then."""
        import subprocess  # a run that pushes nothing starts no git

        try:
            result = subprocess.run(
                ["git", "-C", str(self.root), *args],
                capture_output=True,
                text=True,
                check=False,
                timeout=self._timeout,
                env=None if env is None else dict(env),
            )
        except FileNotFoundError:
            raise self._error(f"git is not installed, so {self._needs}", hint=_INSTALL) from None
        except subprocess.TimeoutExpired:
            raise self._error(
                f"{doing}: git did not finish within {self._timeout:g} s", hint="check the remote"
            ) from None
        if check and result.returncode != 0:
            raise self._error(
                f"{doing}: {last_line(result.stderr)}", hint=hint() if callable(hint) else hint
            )
        return result
