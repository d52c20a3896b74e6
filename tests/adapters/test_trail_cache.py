"""The trail cache under GitAuditStore: a store that reads what an earlier one read gets the
same records and the same unreadable files, and a cached entry is used only for the very blob
(and file mode) it was read from, and only by the code that wrote it."""

from __future__ import annotations

import marshal
import sqlite3
from datetime import timedelta
from pathlib import Path

import pygit2
import pytest

from reconciler.adapters.git_audit import GitAuditStore
from reconciler.adapters.trail_cache import CACHE_FILE
from reconciler.adapters.trail_rows import pack
from reconciler.core.trail.commits import commit_message
from reconciler.core.trail.records import EventType, Record, parse_record_name, record_path
from tests.adapters.test_git_audit import rec
from tests.core.helpers import NOW

SINCE = NOW - timedelta(days=2)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    pygit2.init_repository(str(tmp_path), initial_head="main")
    store = GitAuditStore(tmp_path)
    records = [rec(EventType.OPERATION_EXECUTED, -60), rec(EventType.VERIFICATION_PASSED, 0)]
    store.append(records, commit_message("web: two records", records))
    store.flush()
    return tmp_path


def _read(repo: Path) -> tuple[list[Record], list[str]]:
    store = GitAuditStore(repo)
    records = store.history("web", SINCE)
    unreadable = [f"{item.path}: {item.reason}" for item in store.unreadable("web")]
    store.flush()
    return records, unreadable


def _cached(repo: Path) -> list[tuple[str, str, str, str]]:
    """(service, day, file name, blob id) of every record kept."""
    with sqlite3.connect(repo / ".git" / CACHE_FILE) as db:
        rows = db.execute("SELECT service, day, entries FROM records").fetchall()
    return sorted(
        (service, day, name, blob)
        for service, day, entries in rows
        for name, (blob, _result) in marshal.loads(entries).items()
    )


def _plant(repo: Path, value: str) -> None:
    """Put `value` in place of every kept result, blob ids unchanged."""
    with sqlite3.connect(repo / ".git" / CACHE_FILE) as db:
        rows = db.execute("SELECT service, day, entries FROM records").fetchall()
        for service, day, entries in rows:
            planted = {
                name: (blob, pack(value)) for name, (blob, _r) in marshal.loads(entries).items()
            }
            db.execute(
                "UPDATE records SET entries = ? WHERE service = ? AND day = ?",
                (marshal.dumps(planted), service, day),
            )


def _commit_file(repo: Path, path: str, data: bytes, mode: int = pygit2.GIT_FILEMODE_BLOB) -> None:
    git = pygit2.Repository(str(repo))
    builder = pygit2.IndexEntry(path, git.create_blob(data), mode)
    git.index.read()
    git.index.add(builder)
    git.index.write()
    tree = git.index.write_tree()
    author = pygit2.Signature("t", "t@localhost", int(NOW.timestamp()), 0)
    git.create_commit("HEAD", author, author, f"add {path}", tree, [git.head.target])


def test_a_second_reader_gets_the_same_records_from_the_cache(repo: Path) -> None:
    first = _read(repo)
    assert [r.event_type for r in first[0]] == [
        EventType.OPERATION_EXECUTED,
        EventType.VERIFICATION_PASSED,
    ]
    assert len(_cached(repo)) == 2  # kept under the git directory, not in the working tree
    assert _read(repo) == first
    # The second read came from the cache: a value planted for the very blob is what it gets
    # (which is why the file is where no commit can put it).
    _plant(repo, "planted reason")
    records, unreadable = _read(repo)
    assert records == [] and len(unreadable) == 2 and unreadable[0].endswith(": planted reason")


def test_an_entry_is_used_only_for_its_blob_and_mode(repo: Path) -> None:
    _read(repo)
    (_service, day, name, _blob) = _cached(repo)[0]
    path = f"audit/web/{day}/{name}"
    original = pygit2.Repository(str(repo)).revparse_single(f"HEAD:{path}").data
    # The same bytes committed as a link at the same path: a link is never a record.
    _commit_file(repo, path, original, pygit2.GIT_FILEMODE_LINK)
    records, unreadable = _read(repo)
    assert len(records) == 1 and unreadable == [f"{path}: a symbolic link, not a file"]
    # Other bytes at the same path: read anew, and found broken.
    _commit_file(repo, path, b"{not json", pygit2.GIT_FILEMODE_BLOB)
    records, unreadable = _read(repo)
    assert len(records) == 1 and unreadable[0].startswith(f"{path}: invalid JSON")
    assert _read(repo) == (records, unreadable)  # the broken file's reason, from the cache


def test_another_version_of_the_code_or_a_broken_file_starts_empty(repo: Path) -> None:
    first = _read(repo)
    _plant(repo, "planted reason")
    with sqlite3.connect(repo / ".git" / CACHE_FILE) as db:
        db.execute("UPDATE meta SET value = 'another version'")
    assert _read(repo) == first  # the planted values went with the other version's file
    (repo / ".git" / CACHE_FILE).write_bytes(b"not a database")
    assert _read(repo) == first
    assert len(_cached(repo)) == 2  # the broken file was replaced by a working one


def test_a_cache_read_in_one_thread_closes_cleanly_from_another(repo: Path) -> None:
    """The garbage collector may collect a store in any thread (a test server's, a pool's);
    closing its cache there must neither raise nor leave the file locked."""
    import threading

    from reconciler.adapters.trail_cache import TrailCache

    _read(repo)
    cache = TrailCache(repo / ".git")
    [(service, day, _name, _blob), *_] = _cached(repo)
    assert cache.day(service, day)  # read through a connection opened in this thread
    errors: list[BaseException] = []

    def close() -> None:
        try:
            cache.close()
        except BaseException as error:  # the assertion below names it
            errors.append(error)

    closer = threading.Thread(target=close)
    closer.start()
    closer.join()
    assert errors == []
    assert _read(repo)[0]  # the file is free for the next store


def test_a_kept_record_is_the_record_read_from_git(repo: Path) -> None:
    """What the cache gives back is equal, field by field, to what reading the file gives:
    typed details, links, provenance and times included, and a record kept whole when its
    time is not the reader's UTC."""
    from datetime import timezone

    from reconciler.adapters.trail_rows import unpack
    from reconciler.core.blueprint.model import Provenance
    from reconciler.core.trail.bodies import read_body

    body = read_body(EventType.VERIFICATION_PASSED, {"checks": [], "passed": 3, "total": 3})
    full = Record(
        **{
            **rec(EventType.VERIFICATION_PASSED, 0.5).__dict__,
            "provenance": Provenance(commit="c0ffee", blobs={"blueprints/web.yaml": "b1"}),
            "links": {"operation": "op-1"},
            "details": body,
            "duration_seconds": 1.25,
            "cluster": "simulated",
        }
    )
    assert unpack(pack(full)) == full
    assert type(unpack(pack(full)).details) is type(body)  # type: ignore[union-attr]
    plain = rec(EventType.OPERATION_EXECUTED)
    assert unpack(pack(plain)) == plain
    offset = Record(
        **{**plain.__dict__, "timestamp": plain.timestamp.astimezone(timezone(timedelta(hours=1)))}
    )
    assert unpack(pack(offset)) == offset and pack(offset)[0] == "p"
    assert unpack(pack("not a record: why")) == "not a record: why"
    assert unpack(("r", "too", "short")) is None and unpack(None) is None
    # The records a second store reads come from these entries, and equal the first read.
    first = _read(repo)
    assert _read(repo) == first


def _listings(repo: Path) -> dict[tuple[str, str], tuple[str, list[tuple[str, str, str, int]]]]:
    """Every folder listing kept: (tree id, entries) by (service, day), day "" for the
    service's own folder."""
    with sqlite3.connect(repo / ".git" / CACHE_FILE) as db:
        rows = db.execute("SELECT service, day, tree, entries FROM listings").fetchall()
    return {(service, day): (tree, marshal.loads(raw)) for service, day, tree, raw in rows}


def _set_listing(repo: Path, service: str, day: str, tree: str, raw: bytes) -> None:
    with sqlite3.connect(repo / ".git" / CACHE_FILE) as db:
        db.execute(
            "UPDATE listings SET tree = ?, entries = ? WHERE service = ? AND day = ?",
            (tree, raw, service, day),
        )


def test_a_folder_listing_is_kept_by_its_tree_id_and_used_for_that_tree(repo: Path) -> None:
    first = _read(repo)
    git = pygit2.Repository(str(repo))
    kept = _listings(repo)
    folder = git.revparse_single("HEAD:audit/web")
    assert kept[("web", "")][0] == str(folder.id)
    [(day, (tree, entries))] = [(d, v) for (s, d), v in kept.items() if d]
    assert tree == str(git.revparse_single(f"HEAD:audit/web/{day}").id)
    assert sorted(name for name, *_ in entries) == sorted(
        item.name for item in git.revparse_single(f"HEAD:audit/web/{day}")
    )
    # The listing of that very tree is what the next reader goes by, without asking git:
    # with one entry taken out of the kept listing, that record is not read.
    _set_listing(repo, "web", day, tree, marshal.dumps(entries[1:]))
    records, _unreadable = _read(repo)
    dropped = parse_record_name(entries[0][0])
    assert dropped is not None
    assert records == [r for r in first[0] if r.id != dropped[2]] and len(records) == 1


def test_a_folder_changed_in_git_is_listed_again(repo: Path) -> None:
    """A kept listing stands for its tree id only: a record committed by hand changes the
    day folder's (and the service folder's) tree id, and the new record is read."""
    _read(repo)
    kept = _listings(repo)
    [day] = [d for (_s, d) in kept if d]
    extra = rec(EventType.OPERATION_EXECUTED, 30, rid="op-by-hand")
    _commit_file(repo, f"audit/web/{day}/{Path(record_path(extra)).name}", extra.dumps().encode())
    records, unreadable = _read(repo)
    assert [r.id for r in records].count("op-by-hand") == 1 and unreadable == []
    assert len(records) == 3
    again = _listings(repo)
    assert again[("web", day)][0] != kept[("web", day)][0]  # the row was replaced
    assert again[("web", "")][0] != kept[("web", "")][0]
    assert _read(repo) == (records, unreadable)


def test_a_new_day_folder_is_found_though_the_service_folder_was_kept(repo: Path) -> None:
    _read(repo)
    later = rec(EventType.OPERATION_EXECUTED, 86400, rid="op-next-day")
    _commit_file(repo, record_path(later), later.dumps().encode())
    records, _unreadable = _read(repo)
    assert records[-1].id == "op-next-day"


def test_a_missing_or_broken_listing_is_read_from_git(repo: Path) -> None:
    first = _read(repo)
    kept = _listings(repo)
    for (service, day), (tree, _entries) in kept.items():
        _set_listing(repo, service, day, tree, b"\x00not marshal")
    assert _read(repo) == first
    with sqlite3.connect(repo / ".git" / CACHE_FILE) as db:
        db.execute("DELETE FROM listings")
    assert _read(repo) == first
    assert _listings(repo) == kept  # listed again from git, and kept again
    (repo / ".git" / CACHE_FILE).unlink()
    assert _read(repo) == first
