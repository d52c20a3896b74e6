"""LocalValidationCache: what loading each blueprint gave, kept between runs on this machine.

Loading a blueprint (YAML, schema, semantic checks, the frozen model) is a pure function of its
content, its path, the global policies and the loader's code, and a blueprint's git blob id is
its content: so its result can be kept and reused while none of these change. The shell builds
each entry's key from the inputs (`shell/workspace.py`); this adapter keeps the entries, and
throws all of them away when the loader is not byte for byte the one that wrote them: the file
starts with a fingerprint of the package's pure core and schemas.

The file lives inside the repository's git directory (`.git/reconciler/validation.cache`), not
in the working tree: nothing a commit or a pull request brings can put it there, so a checkout
of someone's branch cannot plant results for its own files. It is local state in every other
way: absent (a fresh clone, a CI job) it is rebuilt, unreadable it is ignored, unwritable it
is skipped; a run is never wrong for want of it, only slower.
"""

from __future__ import annotations

import contextlib
import os
import pickle
from pathlib import Path
from typing import Any

from reconciler.adapters.local_state import dumps, find_git_dir, fingerprint
from reconciler.ports import LoadResult, PoliciesResult

__all__ = ["LocalValidationCache"]

#: What one entry holds.
Cached = LoadResult | PoliciesResult

#: The cache's own layout.
LAYOUT = 1
CACHE_FILE = Path("reconciler") / "validation.cache"


class LocalValidationCache:
    """The ValidationCache port over one file under the git directory of `start`."""

    def __init__(self, start: Path) -> None:
        git_dir = find_git_dir(start)
        self.path = None if git_dir is None else git_dir / CACHE_FILE
        self._entries: dict[str, Cached] | None = None
        self._used: set[str] = set()
        self._changed = False

    def _load(self) -> dict[str, Cached]:
        if self._entries is None:
            self._entries = self._read()
        return self._entries

    def _read(self) -> dict[str, Cached]:
        if self.path is None:
            return {}
        try:
            # Only this code writes the file, in the git directory (see the module's note).
            with self.path.open("rb") as handle:
                stored = pickle.load(handle)
        except FileNotFoundError:
            return {}
        except Exception:  # a cache that does not read is no cache: rebuilt, never trusted
            return {}
        try:
            version, entries = stored
        except (TypeError, ValueError):
            return {}
        if version != f"{LAYOUT}:{fingerprint()}" or not isinstance(entries, dict):
            return {}
        return entries

    def get(self, key: str) -> Cached | None:
        found = self._load().get(key)
        if found is not None:
            self._used.add(key)
        return found

    def put(self, key: str, result: Cached) -> None:
        self._load()[key] = result
        self._used.add(key)
        self._changed = True

    def save(self) -> None:
        """Write the entries when any changed; entries not used by this load are kept while
        the file stays within a few times what one load uses (other shards', an edit ago)."""
        entries = self._load()
        if len(entries) > 2 * len(self._used) + 1000:
            self._entries = entries = {key: entries[key] for key in self._used}
            self._changed = True
        if not self._changed or self.path is None:
            return
        with contextlib.suppress(OSError, pickle.PicklingError):
            self._write(entries)
        self._changed = False

    def _write(self, entries: dict[str, Any]) -> None:
        assert self.path is not None
        import tempfile  # only a run that loaded something anew writes

        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=self.path.parent, prefix=".validation-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(dumps((f"{LAYOUT}:{fingerprint()}", entries)))
            Path(temp).replace(self.path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
