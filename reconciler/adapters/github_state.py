"""GitHubState: what the GitHub adapters keep between runs, in one local file.

Why it exists: every scheduled run is a new process, so whatever the GitHub forge learnt in
the last run (the validators of its answers, which issue is the dashboard and what it says)
is lost unless it is written down. GitHub answers a conditional request whose validator still
matches with `304 Not Modified`, which does not count against the rate limit, and the
dashboard need not be read back when this run would write exactly what the last one wrote.

Main design choice: the file is a cache, never an authority. Every answer kept in it stands in
for one that GitHub confirmed unchanged (304) in this run, and nothing the reconciler decides
rests on the file alone: a missing, unreadable or foreign file (another repository, another
API) is an empty one, and the run costs what it did before. The token is never written; an
entry records a fingerprint of the token that obtained it, because GitHub's ETags are specific
to the token (a job's GITHUB_TOKEN is new every run), so another token's entry is revalidated
by its date (`If-Modified-Since`) instead.

The file is replaced atomically (a temporary file, then a rename), holds at most
`MAX_ENTRIES` answers (the least recently used go first), and is written only when something
in it changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["MAX_ENTRIES", "Cached", "GitHubState", "token_fingerprint"]

#: The most answers kept: a cycle reads each proposal's pull request and files, and the listing.
MAX_ENTRIES = 2000
_VERSION = 1


def token_fingerprint(token: str) -> str:
    """A short one-way digest of a token: enough to tell two tokens apart, nothing to sign in
    with (a token has far more entropy than the 64 bits kept)."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


@dataclass(frozen=True, kw_only=True)
class Cached:
    """One GET's last answer and its validators."""

    body: Any
    etag: str = ""
    last_modified: str = ""
    #: `token_fingerprint` of the token the answer came to (its ETag is that token's).
    holder: str = ""


class GitHubState:
    """The validators and answers of one repository's GET requests, and small named sections
    (the dashboard's) that other GitHub adapters keep between runs."""

    def __init__(self, path: Path | None, *, scope: str) -> None:
        self.path = path
        self.scope = scope
        self._entries: dict[str, dict[str, Any]] = {}
        self._sections: dict[str, dict[str, Any]] = {}
        self._tick = 0
        self._dirty = False
        #: Why the file was not used, when it exists but could not be (for the log).
        self.problem = ""
        if path is not None:
            self._load(path)

    # ------------------------------------------------------------------ reading and writing

    def _load(self, path: Path) -> None:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        except OSError as error:
            self.problem = f"cannot read {path}: {error.strerror or error}"
            return
        try:
            data = json.loads(text)
        except ValueError:
            self.problem = f"{path} is not JSON; starting afresh"
            return
        if not isinstance(data, dict) or data.get("version") != _VERSION:
            self.problem = f"{path} is of another version; starting afresh"
            return
        if data.get("scope") != self.scope:
            return  # another repository's or another API's answers: not ours to use
        entries = data.get("entries")
        sections = data.get("sections")
        if isinstance(entries, dict):
            self._entries = {
                str(key): value
                for key, value in entries.items()
                if isinstance(value, dict) and "body" in value
            }
        if isinstance(sections, dict):
            self._sections = {
                str(key): value for key, value in sections.items() if isinstance(value, dict)
            }
        self._tick = max((int(e.get("used", 0)) for e in self._entries.values()), default=0)

    def save(self) -> None:
        """Write the file if anything changed; a failure to write costs only the saving."""
        if self.path is None or not self._dirty:
            return
        if len(self._entries) > MAX_ENTRIES:
            newest = sorted(self._entries, key=lambda k: int(self._entries[k].get("used", 0)))
            for key in newest[: len(self._entries) - MAX_ENTRIES]:
                del self._entries[key]
        data = {
            "version": _VERSION,
            "scope": self.scope,
            "entries": self._entries,
            "sections": self._sections,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".github-state.")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(data, out, separators=(",", ":"), sort_keys=True)
            Path(temporary).replace(self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                Path(temporary).unlink()
            raise
        self._dirty = False

    # ------------------------------------------------------------------ answers

    def get(self, key: str) -> Cached | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        self._tick += 1
        entry["used"] = self._tick
        return Cached(
            body=entry["body"],
            etag=str(entry.get("etag") or ""),
            last_modified=str(entry.get("last_modified") or ""),
            holder=str(entry.get("holder") or ""),
        )

    def put(self, key: str, cached: Cached) -> None:
        self._tick += 1
        entry = {
            "body": cached.body,
            "etag": cached.etag,
            "last_modified": cached.last_modified,
            "holder": cached.holder,
            "used": self._tick,
        }
        previous = self._entries.get(key)
        if previous is None or {k: v for k, v in previous.items() if k != "used"} != {
            k: v for k, v in entry.items() if k != "used"
        }:
            self._dirty = True
        self._entries[key] = entry

    def forget(self, key: str) -> None:
        if self._entries.pop(key, None) is not None:
            self._dirty = True

    def __len__(self) -> int:
        return len(self._entries)

    # ------------------------------------------------------------------ sections

    def section(self, name: str) -> dict[str, Any]:
        """A copy of a named section (empty when there is none)."""
        return dict(self._sections.get(name, {}))

    def set_section(self, name: str, value: dict[str, Any]) -> None:
        if self._sections.get(name) != value:
            self._sections[name] = dict(value)
            self._dirty = True
