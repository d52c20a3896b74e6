"""The contract every audit store keeps: one suite, run against each AuditStore the reconciler
composes.

The cycle rebuilds cooldowns, rate limits, the circuit breaker and pending approvals from what
these methods return, so they must read back exactly what was appended, in time order, with the
filters they promise, and skip (and name) a file that is not a record rather than fail. The
stores: GitAuditStore in a checkout (every command), GitAuditStore on a bare repository (the
trail read without a work tree), and the recording store `--outputs` wraps around it.

How GitAuditStore treats the index, the checkout, a detached HEAD and git's locks is in
tests/adapters/test_git_audit.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pygit2
import pytest

from reconciler.adapters.git_audit import GitAuditStore
from reconciler.cli.outputs import RecordingAudit
from reconciler.core.errors import AuditError
from reconciler.core.trail.commits import commit_message
from reconciler.core.trail.records import EventType, Outcome, Record
from tests.core.helpers import NOW

DAY = timedelta(days=1)


@dataclass
class Harness:
    """A store under test, on a repository of its own."""

    store: Any  # AuditStore
    #: A new store on the same repository, as the next run would open.
    reopen: Callable[[], Any]
    #: The repository, to look at the commits and to commit a file by hand.
    repo: Path


def checkout(tmp_path: Path) -> Iterator[Harness]:
    pygit2.init_repository(str(tmp_path), initial_head="main")
    yield Harness(
        store=GitAuditStore(tmp_path), reopen=lambda: GitAuditStore(tmp_path), repo=tmp_path
    )


def bare(tmp_path: Path) -> Iterator[Harness]:
    path = tmp_path / "trail.git"
    pygit2.init_repository(str(path), bare=True, initial_head="main")
    yield Harness(store=GitAuditStore(path), reopen=lambda: GitAuditStore(path), repo=path)


def recording(tmp_path: Path) -> Iterator[Harness]:
    pygit2.init_repository(str(tmp_path), initial_head="main")
    yield Harness(
        store=RecordingAudit(GitAuditStore(tmp_path)),
        reopen=lambda: RecordingAudit(GitAuditStore(tmp_path)),
        repo=tmp_path,
    )


@pytest.fixture(params=[checkout, bare, recording], ids=["git", "git-bare", "recording"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    yield from request.param(tmp_path)


def rec(
    event: EventType, seconds: float = 0, service: str = "web", rid: str = "", **fields: Any
) -> Record:
    at = NOW + timedelta(seconds=seconds)
    return Record(
        id=rid or f"x-{service}-{event}-{seconds:g}",
        timestamp=at,
        event_type=event,
        service=service,
        blueprint_version="1.0.0",
        outcome=Outcome.SUCCESS,
        rationale="test",
        **fields,
    )


def append(harness: Harness, *records: Record, subject: str = "web: something") -> str:
    sha: str = harness.store.append(list(records), commit_message(subject, list(records)))
    return sha


#: A service's trail over two days, appended out of order, and another service's record.
TRAIL = [
    rec(EventType.BREAKER_OPENED, -2 * 86400),
    rec(EventType.OPERATION_EXECUTED, -60, details={"request": {"target_replicas": 3}}),
    rec(EventType.DECISION_MADE, -3600),
    rec(EventType.VERIFICATION_PASSED, 0, links={"operation": "x-web-operation_executed--60"}),
    rec(EventType.DECISION_MADE, -30, service="api"),
]


def fill(harness: Harness) -> None:
    for record in TRAIL:
        append(harness, record)
    harness.store.flush()


def ids(records: Any) -> list[str]:
    return [record.id for record in records]


def test_history_reads_back_a_services_records_since_a_moment_oldest_first(
    harness: Harness,
) -> None:
    fill(harness)
    web = sorted((r for r in TRAIL if r.service == "web"), key=lambda r: r.timestamp)
    assert harness.store.history("web", NOW - 3 * DAY) == web  # exactly as appended
    assert ids(harness.store.history("web", NOW - timedelta(hours=2))) == [
        "x-web-decision_made--3600",
        "x-web-operation_executed--60",
        "x-web-verification_passed-0",
    ]
    assert ids(harness.store.history("api", NOW - DAY)) == ["x-api-decision_made--30"]
    assert harness.store.history("cart", NOW - DAY) == []


def test_a_new_store_reads_what_the_last_one_appended(harness: Harness) -> None:
    fill(harness)
    fresh = harness.reopen()
    assert fresh.history("web", NOW - 3 * DAY) == harness.store.history("web", NOW - 3 * DAY)
    assert list(fresh.scan()) == list(harness.store.scan())


def test_one_append_is_one_commit_of_all_its_records(harness: Harness) -> None:
    first = append(harness, TRAIL[0])
    both = [rec(EventType.DECISION_MADE, 1, rid="dec-1"), rec(EventType.OPERATION_EXECUTED, 2)]
    sha = append(harness, *both, subject="web: scale 2→3")
    commit = pygit2.Repository(str(harness.repo))[sha]
    assert commit.message.splitlines()[0] == "web: scale 2→3"
    assert [str(parent) for parent in commit.parent_ids] == [first]
    assert ids(harness.store.history("web", NOW)) == ["dec-1", "x-web-operation_executed-2"]


def test_latest_is_the_newest_record_of_the_kinds_however_old(harness: Harness) -> None:
    fill(harness)
    breaker = harness.store.latest("web", {EventType.BREAKER_OPENED, EventType.BREAKER_RESET})
    assert breaker == TRAIL[0]  # two days old: beyond any history window
    newest = harness.store.latest("web", {EventType.DECISION_MADE, EventType.OPERATION_EXECUTED})
    assert newest is not None and newest.id == "x-web-operation_executed--60"
    assert harness.store.latest("api", {EventType.BREAKER_OPENED}) is None


def test_events_are_every_record_of_the_kinds_however_old_oldest_first(harness: Harness) -> None:
    fill(harness)
    found = harness.store.events("web", {EventType.BREAKER_OPENED, EventType.DECISION_MADE})
    assert ids(found) == ["x-web-breaker_opened--172800", "x-web-decision_made--3600"]
    assert harness.store.events("web", {EventType.APPROVAL_GRANTED}) == []


def test_contains_looks_around_the_day_of_the_moment_given(harness: Harness) -> None:
    fill(harness)
    executed = "x-web-operation_executed--60"
    assert harness.store.contains("web", NOW, executed)
    assert not harness.store.contains("web", NOW, "op-never")
    assert not harness.store.contains("api", NOW, executed)
    # A stamp's moment and its record's may fall either side of midnight: a day either way.
    assert harness.store.contains("web", NOW - DAY, executed)
    assert harness.store.contains("web", NOW + DAY, executed)
    assert not harness.store.contains("web", NOW - 2 * DAY, executed)
    assert harness.store.contains("web", NOW - 2 * DAY, "x-web-breaker_opened--172800")


def test_scan_filters_by_service_and_moment_oldest_first(harness: Harness) -> None:
    fill(harness)
    everything = list(harness.store.scan())
    assert ids(everything) == ids(sorted(TRAIL, key=lambda r: r.timestamp))
    assert ids(harness.store.scan(service="api")) == ["x-api-decision_made--30"]
    window = harness.store.scan(since=NOW - timedelta(minutes=2), until=NOW - timedelta(seconds=1))
    assert ids(window) == ["x-web-operation_executed--60", "x-api-decision_made--30"]
    assert ids(harness.store.scan(service="web", since=NOW)) == ["x-web-verification_passed-0"]


def test_a_record_is_never_rewritten(harness: Harness) -> None:
    first = rec(EventType.DECISION_MADE, rid="dec-1")
    append(harness, first)
    with pytest.raises(AuditError, match="already exists"):
        append(harness, replace(first, rationale="something else"))
    assert list(harness.reopen().scan()) == [first]


def test_appending_nothing_is_refused(harness: Harness) -> None:
    with pytest.raises(ValueError, match="at least one record"):
        harness.store.append([], commit_message("web: nothing", [rec(EventType.DECISION_MADE)]))


def test_a_file_that_is_not_a_record_is_skipped_and_named(harness: Harness) -> None:
    fill(harness)
    foreign = "audit/web/2026-02-10/152000-operation_executed-op-broken.json"
    _commit_by_hand(harness.repo, foreign, b"{not json")
    fresh = harness.reopen()
    readers = {
        "history": lambda: fresh.history("web", NOW - DAY),
        "events": lambda: fresh.events("web", {EventType.OPERATION_EXECUTED}),
        "scan": lambda: list(fresh.scan(service="web")),
    }
    for name, read in readers.items():
        assert "op-broken" not in ids(read()), name
        assert [item.path for item in fresh.unreadable("web")] == [foreign], name
    assert fresh.unreadable("api") == []


def _commit_by_hand(root: Path, path: str, content: bytes) -> None:
    """Commit one file on top of HEAD, as a person could (with or without a work tree)."""
    repo = pygit2.Repository(str(root))
    head = repo.head.peel(pygit2.Commit)
    index = pygit2.Index()
    index.read_tree(head.tree)
    index.add(pygit2.IndexEntry(path, repo.create_blob(content), pygit2.enums.FileMode.BLOB))
    person = pygit2.Signature("A Person", "person@example.invalid", int(NOW.timestamp()), 0)
    tree = index.write_tree(repo)
    repo.create_commit("HEAD", person, person, "A file by hand", tree, [head.id])
