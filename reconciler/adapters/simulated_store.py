"""The simulated cluster's state in one SQLite file: a row per deployment, its samples apart.

A cycle reads every deployment it manages and writes only those it changes, so the state is
kept where one deployment can be read or written without the others: SQLite from the standard
library. One file per deployment in YAML, the format before this one, cost a thousand-service
cycle more to read than the cycle itself cost. Each row holds the deployment as JSON (what
`reconciler sim show -o json` prints, and what the adapter checks field by field when it reads
it); metric samples have a table of their own, read only for the window a cycle asks about.

Every row carries a `generation`, raised by every write. Checking that the generations are
still those a process read and writing the rows is one transaction (`BEGIN IMMEDIATE`), so the
check holds across processes: a write over another process's change is refused, not lost.

The file is in WAL mode with `synchronous=NORMAL`: a change is one small append, and neither a
killed process nor a crash of the machine leaves half a state.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import stat
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "CLUSTER",
    "FORMAT",
    "Key",
    "Sample",
    "SimStore",
    "Stale",
    "StoreError",
    "is_sqlite",
]

#: The layout of the file (`PRAGMA user_version`); a file of another layout is refused.
FORMAT = 1

#: A deployment's key; CLUSTER is the row of the clock and settings (no deployment has an
#: empty namespace).
Key = tuple[str, str]
CLUSTER: Key = ("", "")

#: One metric sample: the time (fixed-width ISO 8601, so text order is time order) and the
#: values of SAMPLE_FIELDS, None where there was none.
Sample = tuple[str, float | None, float | None, float | None, float | None, float | None]
SAMPLE_FIELDS = ("cpu", "memory", "latency", "errors", "throughput")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cluster (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL,
    state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deployments (
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    generation INTEGER NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (namespace, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS samples (
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    at TEXT NOT NULL,
    cpu REAL, memory REAL, latency REAL, errors REAL, throughput REAL,
    PRIMARY KEY (namespace, name, at)
) WITHOUT ROWID;
"""

_MAGIC = b"SQLite format 3\x00"

#: How long a writer waits for another's transaction: they last milliseconds.
_BUSY_TIMEOUT = 30.0


class StoreError(Exception):
    """The file cannot be used as a simulated cluster's state (say why, in words)."""


class Stale(Exception):
    """Rows another process wrote since this one read them; nothing was written."""

    def __init__(self, keys: Sequence[Key]) -> None:
        super().__init__(", ".join("/".join(key) for key in keys))
        self.keys = tuple(keys)


def is_sqlite(path: Path) -> bool:
    """Whether `path` is an SQLite file (the current format), from its first bytes."""
    try:  # without blocking: a pipe put in the file's place must not stop the command
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return False
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return False
        return handle.read(len(_MAGIC)) == _MAGIC


@dataclass(frozen=True, kw_only=True)
class Row:
    """A stored row: the JSON text of the state, and its generation."""

    key: Key
    generation: int
    state: str


@dataclass(frozen=True, kw_only=True)
class Write:
    """What one save writes, in one transaction."""

    #: The clock and settings (JSON), when they are written.
    cluster: str | None = None
    #: Deployments' states (JSON) by key.
    rows: Mapping[Key, str]
    #: The generations this process read (or last wrote), by key; None: a new cluster, which
    #: replaces whatever the file held (numbering on from it).
    known: Mapping[Key, int] | None
    #: Samples to add, by deployment.
    samples: Mapping[Key, Sequence[Sample]]
    #: Samples before this time are dropped (fixed-width ISO), when given.
    prune_before: str | None = None


class SimStore:
    """Reads and writes of one state file; a connection per call, closed at its end."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def exists(self) -> bool:
        return self.path.exists()

    @contextlib.contextmanager
    def _connect(self, *, create: bool = False) -> Iterator[sqlite3.Connection]:
        mode = "rwc" if create else "rw"
        uri = f"{self.path.resolve().as_uri()}?mode={mode}"
        try:
            db = sqlite3.connect(uri, uri=True, timeout=_BUSY_TIMEOUT, isolation_level=None)
        except sqlite3.Error as error:
            raise StoreError(f"cannot open it ({error})") from None
        try:
            db.execute("PRAGMA synchronous=NORMAL")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if create and version == 0:
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(_SCHEMA)
                db.execute(f"PRAGMA user_version={FORMAT}")
            elif version != FORMAT:
                raise StoreError(
                    f"it is in layout {version}, and this version of the reconciler reads "
                    f"layout {FORMAT}"
                )
            yield db
        except sqlite3.DatabaseError as error:
            raise StoreError(f"it is not a usable state file ({error})") from None
        finally:
            db.close()

    # ------------------------------------------------------------------------- reading

    def cluster(self) -> Row:
        with self._connect() as db:
            found = db.execute("SELECT generation, state FROM cluster WHERE id = 1").fetchone()
        if found is None:
            raise StoreError("it holds no clock (the cluster row is missing)")
        return Row(key=CLUSTER, generation=_generation(found[0]), state=str(found[1]))

    def rows(self, keys: Iterable[Key] | None = None) -> list[Row]:
        """The deployments' rows: all of them, or those of `keys` (absent ones are left out)."""
        query = "SELECT namespace, name, generation, state FROM deployments"
        with self._connect() as db:
            if keys is None:
                found = db.execute(query + " ORDER BY namespace, name").fetchall()
            else:
                wanted = list(dict.fromkeys(keys))
                if len(wanted) > 64:  # one pass over the table beats many lookups
                    chosen = set(wanted)
                    found = [
                        row for row in db.execute(query).fetchall() if (row[0], row[1]) in chosen
                    ]
                else:
                    found = []
                    for namespace, name in wanted:
                        found += db.execute(
                            query + " WHERE namespace = ? AND name = ?", (namespace, name)
                        ).fetchall()
        return [
            Row(key=(str(ns), str(name)), generation=_generation(gen), state=str(state))
            for ns, name, gen, state in found
        ]

    def samples(self, key: Key, start: str = "", end: str = "\uffff") -> list[tuple[Any, ...]]:
        """A deployment's samples from `start` to `end` (fixed-width ISO), oldest first. The
        values are as stored: the caller checks each."""
        with self._connect() as db:
            return db.execute(
                "SELECT at, cpu, memory, latency, errors, throughput FROM samples "
                "WHERE namespace = ? AND name = ? AND at >= ? AND at <= ? ORDER BY at",
                (*key, start, end),
            ).fetchall()

    # ------------------------------------------------------------------------- writing

    def write(self, change: Write) -> dict[Key, int]:
        """Check the generations and write, in one transaction; the new generations by key.
        Raises Stale when a row changed since `change.known` was read."""
        fresh = change.known is None
        if fresh and self.path.exists() and not is_sqlite(self.path):
            self.path.unlink()  # a new cluster replaces a file of the earlier format
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect(create=True) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                written = self._write(db, change)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        return written

    def _write(self, db: sqlite3.Connection, change: Write) -> dict[Key, int]:
        keys = [*([CLUSTER] if change.cluster is not None else []), *change.rows]
        on_disk = self._generations(db, keys, everything=change.known is None)
        if change.known is not None:
            stale = [key for key in keys if on_disk.get(key) != change.known.get(key)]
            if stale:
                raise Stale(stale)
        written: dict[Key, int] = {}
        if change.cluster is not None:
            written[CLUSTER] = on_disk.get(CLUSTER, 0) + 1
            db.execute(
                "INSERT OR REPLACE INTO cluster (id, generation, state) VALUES (1, ?, ?)",
                (written[CLUSTER], change.cluster),
            )
        for key, state in change.rows.items():
            written[key] = on_disk.get(key, 0) + 1
            db.execute(
                "INSERT OR REPLACE INTO deployments (namespace, name, generation, state) "
                "VALUES (?, ?, ?, ?)",
                (*key, written[key], state),
            )
        if change.known is None:  # a new cluster: nothing of the old one stays
            gone = [key for key in on_disk if key != CLUSTER and key not in change.rows]
            db.executemany("DELETE FROM deployments WHERE namespace = ? AND name = ?", gone)
            db.execute("DELETE FROM samples")
        for key, samples in change.samples.items():
            db.executemany(
                "INSERT OR REPLACE INTO samples (namespace, name, at, cpu, memory, latency, "
                "errors, throughput) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(*key, *sample) for sample in samples],
            )
        if change.prune_before is not None:
            db.execute("DELETE FROM samples WHERE at < ?", (change.prune_before,))
        return written

    def _generations(
        self, db: sqlite3.Connection, keys: Sequence[Key], *, everything: bool
    ) -> dict[Key, int]:
        """The stored generation of each of `keys` (or of every row), absent ones left out."""
        found: dict[Key, int] = {}
        row = db.execute("SELECT generation FROM cluster WHERE id = 1").fetchone()
        if row is not None:
            found[CLUSTER] = _generation(row[0])
        query = "SELECT namespace, name, generation FROM deployments"
        if everything or len(keys) > 64:
            chosen = None if everything else set(keys)
            for ns, name, gen in db.execute(query):
                if chosen is None or (ns, name) in chosen:
                    found[(ns, name)] = _generation(gen)
        else:
            for key in keys:
                if key == CLUSTER:
                    continue
                hit = db.execute(query + " WHERE namespace = ? AND name = ?", key).fetchone()
                if hit is not None:
                    found[key] = _generation(hit[2])
        return found


def _generation(value: object) -> int:
    """A stored generation; anything but a whole number (a hand edit) reads as 0, so the
    next write by its reader goes ahead and numbers on from 1."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def dumps(data: Mapping[str, Any]) -> str:
    """A row's JSON, compact and in the order the adapter wrote it."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=True)


def loads(text: str) -> object:
    """A row's JSON as written (NaN and infinities included: the adapter's checks refuse them
    with the field's name)."""
    return json.loads(text)
