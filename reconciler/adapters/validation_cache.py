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
import dataclasses
import enum
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
LAYOUT = 2  # 2: shared parts (`shared`); a file of layout 1 is read as absent and rewritten
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
                out.write(dumps((f"{LAYOUT}:{fingerprint()}", shared(entries))))
            Path(temp).replace(self.path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise


def shared(entries: dict[str, Any]) -> dict[str, Any]:
    """The entries with every immutable part that is the same in several of them made one
    object, so that the file stores it once and reading it back builds it once.

    A fleet's blueprints are each checked against the same global policies and mostly hold
    the same rules: 1,000 blueprints held 28,000 operation rules of 28 kinds, and unpickling
    those copies was most of the time of reading the file. Only what nothing can change is
    shared (frozen dataclasses, tuples and frozensets of plain values, all the way down): a
    part that holds a dict, a list or anything else keeps its own copy, as a fresh load has."""
    sharing = _Sharing()
    return {key: sharing.share(value) for key, value in entries.items()}


class _Sharing:
    """One pass of `shared`: each immutable part by what it holds (its type and its parts,
    themselves shared first, so equal parts are then the same objects), kept for the pass."""

    def __init__(self) -> None:
        self.seen: dict[tuple[Any, ...], Any] = {}
        #: What each object met so far became, by its id, with the object itself (so that
        #: its id is not reused while the pass runs): an object two parts held stays one.
        self.done: dict[int, tuple[Any, Any, tuple[Any, ...] | None]] = {}

    def share(self, value: Any) -> Any:
        return self._part(value)[0]

    def _part(self, value: Any) -> tuple[Any, tuple[Any, ...] | None]:
        """The shared value and its key; a key of None says the value is kept as it is
        (something that may change, or that this pass does not know how to compare)."""
        found = self.done.get(id(value))
        if found is None:
            found = self.done[id(value)] = (value, *self._made(value))
        return found[1], found[2]

    def _made(self, value: Any) -> tuple[Any, tuple[Any, ...] | None]:
        kind = type(value)
        if value is None or kind in (str, int, bool, bytes):
            return value, (kind, value)
        if kind is float:
            return value, (kind, value.hex())  # -0.0 and 0.0 are equal, not the same
        if isinstance(value, enum.Enum):
            return value, (kind, id(value))  # members are singletons
        if kind is tuple or kind is frozenset:
            parts = [self._part(item) for item in value]
            if any(key is None for _, key in parts):
                return kind(item for item, _ in parts), None
            return self._one((kind, *(key for _, key in parts)), kind(v for v, _ in parts))
        cls: Any = kind
        if (
            dataclasses.is_dataclass(value)
            and cls.__dataclass_params__.frozen
            and not hasattr(cls, "__slots__")
            and cls.__reduce_ex__ is object.__reduce_ex__
            and getattr(cls, "__getstate__", None) is object.__getstate__
        ):
            fields = {name: self._part(item) for name, item in vars(value).items()}
            copy = object.__new__(kind)
            copy.__dict__.update({name: item for name, (item, _) in fields.items()})
            if any(key is None for _, key in fields.values()):
                return copy, None
            return self._one((kind, *((n, k) for n, (_, k) in sorted(fields.items()))), copy)
        return value, None

    def _one(self, key: tuple[Any, ...], value: Any) -> tuple[Any, tuple[Any, ...]]:
        found = self.seen.setdefault(key, value)
        # The key names the shared object itself, so keys of what holds it stay short.
        return found, (id(found),)
