"""TrailCache: the audit records a GitAuditStore has read, kept between runs on this machine.

A record is a git blob, and a blob never changes: what reading the file at a path with a given
blob id gave (the record, or why it is not one) is the same every time. A cycle over a
thousand services reads about ten thousand records, and parsing each (JSON, then every field
checked) was most of the time spent on history; reading the parsed record back costs a
fraction of that.

The entries sit in SQLite under the git directory (`.git/reconciler/trail.db`), one row per
day folder of a service: each file's name, blob id and the result, as plain values (`marshal`:
a record's envelope as a tuple of strings and numbers, its typed details pickled apart), so a
folder is fetched and decoded in one step and a record is built only when it is read: a
thousand services' worth of pickled records cost more to unpickle than the rest of reading
the trail. An entry is used only when its blob id is the one HEAD has at that path now. The
file holds a fingerprint of the pure core's code (the reader and the typed bodies) and of
Python: any other version of either starts from an empty cache. Like the validation cache it
is never trusted across versions, can be deleted at any time, lives where no commit can put
it, and a run without it only reads more.
"""

from __future__ import annotations

import contextlib
import marshal
import pickle
import sqlite3
import weakref
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from reconciler.adapters.local_state import dumps, fingerprint
from reconciler.adapters.trail_rows import pack, unpack
from reconciler.core.trail.records import Record

__all__ = ["Entry", "TrailCache"]

CACHE_FILE = Path("reconciler") / "trail.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    service TEXT NOT NULL,
    day TEXT NOT NULL,
    entries BLOB NOT NULL,
    PRIMARY KEY (service, day)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS days (
    service TEXT NOT NULL,
    day TEXT NOT NULL,
    tree TEXT NOT NULL,
    summary BLOB NOT NULL,
    state BLOB NOT NULL,
    PRIMARY KEY (service, day)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS listings (
    service TEXT NOT NULL,
    day TEXT NOT NULL,
    tree TEXT NOT NULL,
    entries BLOB NOT NULL,
    PRIMARY KEY (service, day)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS marks (
    service TEXT NOT NULL,
    mark TEXT NOT NULL,
    day TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (service, mark, day, name)
) WITHOUT ROWID;
"""

#: The layout of the tables; a file of another layout is emptied.
LAYOUT = "5"
#: Day folders read from git but not written yet are written in batches of this many.
_BATCH = 2000


class Entry(NamedTuple):
    """One entry of a folder of the trail as git lists it: what a reader needs of it without
    looking the folder up (its blob is looked up only when the record is not kept)."""

    name: str
    #: The object's id, in hex.
    id: str
    #: "blob", "tree" or "commit" (a submodule).
    type_str: str
    filemode: int


class TrailCache:
    """Parsed records by (service, day, name) and blob id, in one SQLite file."""

    def __init__(self, git_dir: str | Path | None) -> None:
        self.path = None if git_dir is None else Path(git_dir) / CACHE_FILE
        self._usable: bool | None = None
        #: The stored rows fetched so far: entries by day and service, summaries by service.
        self._raw_days: dict[str, dict[str, bytes]] = {}
        self._raw_summaries: dict[str, dict[str, tuple[str, bytes]]] | None = None
        #: Each day folder's entries as read (from the file, then from git), by (service,
        #: day), and the days with entries not written yet.
        self._entries: dict[tuple[str, str], dict[str, tuple[str, Any]]] = {}
        self._pending: set[tuple[str, str]] = set()
        #: One connection while the store reads (a cycle visits a thousand day folders),
        #: closed at each save and when the cache is collected.
        self._db: sqlite3.Connection | None = None
        self._closer: weakref.finalize[Any, Any] | None = None
        #: Day summaries made since the last save, by (service, day): what `days`, `state`
        #: and `marked` answer for them until they are written.
        self._fresh: dict[str, dict[str, tuple[str, Any, Any, dict[str, frozenset[str]]]]] = {}
        self._gone: dict[str, set[str]] = {}
        #: The stored folder listings fetched so far, by day ("" for the service folders)
        #: and service, as (tree id, bytes); and those listed from git since the last save.
        self._raw_listings: dict[str, dict[str, tuple[str, bytes]]] = {}
        self._new_listings: dict[tuple[str, str], tuple[str, list[Entry]]] = {}

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if self._db is None:
            assert self.path is not None
            # Used by one thread at a time, but the garbage collector may close it from
            # whichever thread it runs in; without this, that close raises and is lost.
            db = sqlite3.connect(
                self.path, timeout=5.0, isolation_level=None, check_same_thread=False
            )
            try:
                db.execute("PRAGMA synchronous=NORMAL")
            except sqlite3.Error:
                db.close()
                raise
            self._db = db
            self._closer = weakref.finalize(self, db.close)
        yield self._db

    def close(self) -> None:
        if self._closer is not None:
            self._closer()
        self._db = self._closer = None

    def _ready(self) -> bool:
        """Whether the file can be used: made if absent, emptied when another version of the
        code wrote it. A cache that cannot be opened is simply not used."""
        if self._usable is not None:
            return self._usable
        self._usable = False
        if self.path is None:
            return False
        try:
            self._open()
        except sqlite3.OperationalError:  # busy, read-only, ...: not used this time
            self.close()
            return False
        except sqlite3.DatabaseError:  # not a database (a crash, a person): start it anew
            try:
                self.close()
                for leftover in (self.path, *self.path.parent.glob(self.path.name + "-*")):
                    leftover.unlink(missing_ok=True)
                self._open()
            except (OSError, sqlite3.Error):
                return False
        except (OSError, sqlite3.Error):
            self.close()
            return False
        self._usable = True
        return True

    def _open(self) -> None:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            row = db.execute("SELECT value FROM meta WHERE key = 'fingerprint'").fetchone()
            if row is None or row[0] != f"{LAYOUT}:{fingerprint()}":
                db.execute("BEGIN IMMEDIATE")
                db.execute("DELETE FROM records")
                db.execute("DELETE FROM days")
                db.execute("DELETE FROM marks")
                db.execute("DELETE FROM listings")
                db.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('fingerprint', ?)",
                    (f"{LAYOUT}:{fingerprint()}",),
                )
                db.execute("COMMIT")

    def get(self, service: str, day: str, name: str, blob: str) -> Record | str | None:
        """What reading the file `name` of a day folder gave when it had this blob id (and
        mode): the Record, or the reason it is not one; None when nothing is kept for it."""
        kept = self.day(service, day).get(name)
        if kept is None or kept[0] != blob:
            return None
        return unpack(kept[1])

    def day(self, service: str, day: str) -> dict[str, tuple[str, Any]]:
        """The cached entries of one day folder: (blob id, packed result) by file name (see
        `pack`). A day's entries are stored and decoded together, in one call."""
        key = (service, day)
        found = self._entries.get(key)
        if found is not None:
            return found
        found = {}
        # Decoded once, into _entries: the stored bytes are let go (a fleet's day is tens of
        # megabytes at ten thousand services).
        stored = self._stored_day(day).pop(service, None)
        if stored is not None:
            try:
                loaded = marshal.loads(stored)
                found = loaded if isinstance(loaded, dict) else {}
            except (ValueError, EOFError, TypeError):
                found = {}
        self._entries[key] = found
        return found

    def _stored_day(self, day: str) -> dict[str, bytes]:
        """Every service's stored entries of one day, as bytes: one query for the whole
        fleet (a cycle visits the same day of each service), unpickled service by service."""
        found = self._raw_days.get(day)
        if found is None:
            found = {}
            if self._ready():
                try:
                    with self._connect() as db:
                        rows = db.execute(
                            "SELECT service, entries FROM records WHERE day = ?", (day,)
                        ).fetchall()
                    found = {str(service): bytes(entries) for service, entries in rows}
                except sqlite3.Error:
                    found = {}
            self._raw_days[day] = found
        return found

    def put(self, service: str, day: str, name: str, blob: str, result: Any) -> None:
        """Keep what reading a file gave (written with the next batch, or at `save`)."""
        if self.path is None:
            return
        try:
            packed = pack(result)
        except (pickle.PicklingError, TypeError, AttributeError):
            return  # not kept: read again next time
        self.day(service, day)[name] = (blob, packed)
        self._pending.add((service, day))
        if len(self._pending) >= _BATCH:
            self.save()

    # ----------------------------------------------------------------- folder listings
    #
    # Per service, its folder's listing (`day` "") and each day folder's, with the tree id it
    # was listed from. A tree id names its entries exactly, so a listing stands for the tree
    # with that id and for nothing else: a folder whose tree id HEAD no longer has is listed
    # from git again and its row replaced. Rows are fetched a day at a time for the whole
    # fleet, one query each, as the records are.

    def listing(self, service: str, day: str, tree: str) -> list[Entry] | None:
        """The entries of the folder `audit/<service>[/<day>]` when its tree id is `tree`;
        None when no listing of that very tree is kept."""
        stored = self._stored_listings(day).get(service)
        if stored is None or stored[0] != tree:
            return None
        try:
            loaded = marshal.loads(stored[1])
            return [Entry(*item) for item in loaded]
        except (ValueError, EOFError, TypeError):
            return None

    def keep_listing(self, service: str, day: str, tree: str, entries: list[Entry]) -> None:
        """A folder's listing as git gave it, written at the next save."""
        if self.path is not None:
            self._new_listings[(service, day)] = (tree, entries)

    def _stored_listings(self, day: str) -> dict[str, tuple[str, bytes]]:
        found = self._raw_listings.get(day)
        if found is None:
            found = {}
            if self._ready():
                try:
                    with self._connect() as db:
                        rows = db.execute(
                            "SELECT service, tree, entries FROM listings WHERE day = ?", (day,)
                        ).fetchall()
                    found = {str(service): (str(tree), bytes(raw)) for service, tree, raw in rows}
                except sqlite3.Error:
                    found = {}
            self._raw_listings[day] = found
        return found

    # ----------------------------------------------------------------- the day summaries
    #
    # Per service and day folder: the folder's tree id, and what the trail index keeps of it
    # (`summary`: plain values of the store's, kept with marshal, and `state`: where the
    # pending-proposal fold stood at the end of the day, pickled), with the marks of each
    # approval record in it
    # (`core.approvals.trail_marks`). A summary stands only while its tree id is the one HEAD
    # has, and only after every earlier day's does (the fold runs through them in order).

    def days(self, service: str) -> dict[str, tuple[str, Any]]:
        """The stored summaries of a service: (tree id, summary) by day."""
        found: dict[str, tuple[str, Any]] = {}
        if self._raw_summaries is None:  # one query for the whole fleet, as for the days
            self._raw_summaries = {}
            if self._ready():
                try:
                    with self._connect() as db:
                        for owner, day, tree, summary in db.execute(
                            "SELECT service, day, tree, summary FROM days"
                        ):
                            stored = self._raw_summaries.setdefault(str(owner), {})
                            stored[str(day)] = (str(tree), bytes(summary))
                except sqlite3.Error:
                    self._raw_summaries = {}
        try:
            for day, (tree, summary) in self._raw_summaries.get(service, {}).items():
                found[day] = (tree, marshal.loads(summary))
        except (ValueError, EOFError, TypeError):
            found = {}
        for day, (tree, summary, _state, _marks) in self._fresh.get(service, {}).items():
            found[day] = (tree, summary)
        for day in self._gone.get(service, ()):
            found.pop(day, None)
        return found

    def state(self, service: str, day: str) -> Any:
        """The fold's state at the end of a stored day (None when there is none)."""
        fresh = self._fresh.get(service, {}).get(day)
        if fresh is not None:
            return fresh[2]
        if not self._ready():
            return None
        try:
            with self._connect() as db:
                row = db.execute(
                    "SELECT state FROM days WHERE service = ? AND day = ?", (service, day)
                ).fetchone()
            return None if row is None else pickle.loads(row[0])
        except (sqlite3.Error, pickle.UnpicklingError, EOFError, AttributeError):
            return None

    def keep_day(
        self,
        service: str,
        day: str,
        tree: str,
        summary: Any,
        state: Any,
        marks: dict[str, frozenset[str]],
    ) -> None:
        """A day's new summary and the marks of its records by file name, written at `save`."""
        self._gone.get(service, set()).discard(day)
        self._fresh.setdefault(service, {})[day] = (tree, summary, state, marks)

    def drop_day(self, service: str, day: str) -> None:
        self._fresh.get(service, {}).pop(day, None)
        self._gone.setdefault(service, set()).add(day)

    def marked(self, service: str, marks: Collection[str]) -> set[tuple[str, str]]:
        """The (day, name) of every approval record that carries any of `marks`."""
        found: set[tuple[str, str]] = set()
        wanted = list(marks)
        if wanted and self._ready():
            try:
                with self._connect() as db:
                    for start in range(0, len(wanted), 500):
                        chunk = wanted[start : start + 500]
                        found |= {
                            (str(day), str(name))
                            for day, name in db.execute(
                                "SELECT day, name FROM marks WHERE service = ? AND mark IN "
                                f"({', '.join('?' * len(chunk))})",
                                (service, *chunk),
                            )
                        }
            except sqlite3.Error:
                found = set()
        fresh = self._fresh.get(service, {})
        stale = {*fresh, *self._gone.get(service, ())}
        found = {item for item in found if item[0] not in stale}
        chosen = set(wanted)
        for day, (_tree, _summary, _state, by_name) in fresh.items():
            found |= {(day, name) for name, its in by_name.items() if its & chosen}
        return found

    def save(self) -> None:
        """Write what was read and summarised since the last save (best effort)."""
        pending = []
        for service, day in self._pending:
            with contextlib.suppress(ValueError):
                pending.append((service, day, marshal.dumps(self._entries[(service, day)])))
        self._pending = set()
        fresh = {
            (service, day): value
            for service, days in self._fresh.items()
            for day, value in days.items()
        }
        gone = {(service, day) for service, days in self._gone.items() for day in days}
        self._fresh, self._gone = {}, {}
        listings = [
            (service, day, tree, marshal.dumps([tuple(entry) for entry in entries]))
            for (service, day), (tree, entries) in self._new_listings.items()
        ]
        self._new_listings = {}
        if (pending or fresh or gone or listings) and self._ready():
            with (
                contextlib.suppress(sqlite3.Error, pickle.PicklingError, ValueError),
                self._connect() as db,
            ):
                try:
                    db.execute("BEGIN IMMEDIATE")
                    db.executemany(
                        "INSERT OR REPLACE INTO records (service, day, entries) VALUES (?, ?, ?)",
                        pending,
                    )
                    db.executemany(
                        "INSERT OR REPLACE INTO listings (service, day, tree, entries) "
                        "VALUES (?, ?, ?, ?)",
                        listings,
                    )
                    for service, day in (*fresh, *gone):
                        db.execute("DELETE FROM days WHERE service = ? AND day = ?", (service, day))
                        db.execute(
                            "DELETE FROM marks WHERE service = ? AND day = ?", (service, day)
                        )
                    for (service, day), (tree, summary, state, by_name) in fresh.items():
                        db.execute(
                            "INSERT INTO days (service, day, tree, summary, state) "
                            "VALUES (?, ?, ?, ?, ?)",
                            (service, day, tree, marshal.dumps(summary), _dumps(state)),
                        )
                        db.executemany(
                            "INSERT OR IGNORE INTO marks (service, mark, day, name) "
                            "VALUES (?, ?, ?, ?)",
                            [
                                (service, mark, day, name)
                                for name, marks in by_name.items()
                                for mark in marks
                            ],
                        )
                    db.execute("COMMIT")
                except (sqlite3.Error, ValueError):
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
        self.close()


def _dumps(value: Any) -> bytes:
    return dumps(value)
