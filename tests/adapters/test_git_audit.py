"""GitAuditStore against real repositories: commits, reading back, index and worktree."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pygit2
import pytest

from reconciler.adapters.git_audit import GitAuditStore
from reconciler.adapters.trail_cache import TrailCache
from reconciler.core.errors import AuditError, ConfigError
from reconciler.core.trail.commits import CommitMessage, commit_message
from reconciler.core.trail.records import (
    EventType,
    Outcome,
    Record,
    record_path,
)
from tests.core.helpers import NOW


def rec(event: EventType, at_offset: float = 0, service: str = "web", rid: str = "") -> Record:
    at = NOW + timedelta(seconds=at_offset)
    return Record(
        id=rid or f"x-{event}-{at_offset:g}",
        timestamp=at,
        event_type=event,
        service=service,
        blueprint_version="1.0.0",
        outcome=Outcome.SUCCESS,
        rationale="test",
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    pygit2.init_repository(str(tmp_path), initial_head="main")
    return tmp_path


def test_first_commit_in_an_empty_repository(repo: Path) -> None:
    store = GitAuditStore(repo, name="bot", email="bot@example.invalid")
    sha = store.append(
        [rec(EventType.DECISION_MADE)],
        commit_message("web: subject", [rec(EventType.DECISION_MADE)]),
    )
    store.flush()
    git = pygit2.Repository(str(repo))
    commit = git[sha]
    assert commit.message.startswith("web: subject\n")
    assert commit.author.name == "bot" and commit.author.time == int(NOW.timestamp())
    assert git.head.shorthand == "main"
    assert (repo / "audit/web/2026-02-10/153000-decision_made-x-decision_made-0.json").exists()
    assert git.status() == {}  # the new file is in the index: nothing left unrecorded


def test_a_commit_is_dated_in_utc_at_its_latest_record(repo: Path) -> None:
    """The simulated cluster's virtual clock dates its events, so the commit takes its time
    from the records (the latest of a batch), written as UTC for author and committer."""
    store = GitAuditStore(repo, name="bot", email="bot@example.invalid")
    batch = [rec(EventType.DECISION_MADE, 90, rid="late"), rec(EventType.DECISION_MADE, 0)]
    commit = pygit2.Repository(str(repo))[store.append(batch, commit_message("web: two", batch))]
    for who in (commit.author, commit.committer):
        assert (who.name, who.email) == ("bot", "bot@example.invalid")
        assert (who.time, who.offset) == (int(NOW.timestamp()) + 90, 0)


def test_a_batch_is_in_the_checkout_as_soon_as_it_is_committed(repo: Path) -> None:
    """Each record of a batch is written to the working tree by append itself (two in one
    day folder included), so the checkout matches the commit before any flush."""
    store = GitAuditStore(repo)
    batch = [rec(EventType.DECISION_MADE, 0, rid="a"), rec(EventType.DECISION_MADE, 1, rid="b")]
    store.append(batch, commit_message("web: two", batch))
    for record in batch:
        path = repo / record_path(record)
        assert path.read_text(encoding="utf-8") == record.dumps()


def test_a_record_the_checkout_cannot_hold_is_still_committed(repo: Path) -> None:
    """The commit is what counts: a working tree where the record's file cannot be written
    (a file where its folder belongs) does not undo or fail the append."""
    (repo / "audit").write_text("not a folder\n")
    store = GitAuditStore(repo)
    record = rec(EventType.DECISION_MADE, rid="kept")
    sha = store.append([record], commit_message("web: kept", [record]))
    git = pygit2.Repository(str(repo))
    assert str(git.head.target) == sha
    assert [found.id for found in store.scan()] == ["kept"]


def test_reading_back(repo: Path) -> None:
    store = GitAuditStore(repo)
    for offset, event in [
        (-90000, EventType.BREAKER_OPENED),
        (-60, EventType.OPERATION_EXECUTED),
        (0, EventType.DECISION_MADE),
    ]:
        record = rec(event, offset)
        store.append([record], commit_message("s", [record]))
    store.append(
        [rec(EventType.DECISION_MADE, 5, service="api")],
        commit_message("s", [rec(EventType.DECISION_MADE, 5, service="api")]),
    )
    recent = store.history("web", NOW - timedelta(hours=1))
    assert [r.event_type for r in recent] == [EventType.OPERATION_EXECUTED, EventType.DECISION_MADE]
    latest = store.latest("web", {EventType.BREAKER_OPENED})
    assert latest is not None and latest.timestamp == NOW - timedelta(seconds=90000)
    assert store.contains("web", NOW - timedelta(seconds=60), "x-operation_executed--60")
    assert not store.contains("web", NOW, "nope")
    assert [r.service for r in store.scan(since=NOW - timedelta(seconds=1))] == ["web", "api"]
    assert store.services() == ["api", "web"]


def test_staged_work_of_a_person_is_left_alone(repo: Path) -> None:
    (repo / "notes.txt").write_text("mine")
    git = pygit2.Repository(str(repo))
    git.index.add("notes.txt")
    git.index.write()
    store = GitAuditStore(repo)
    store.append(
        [rec(EventType.DECISION_MADE)], commit_message("s", [rec(EventType.DECISION_MADE)])
    )
    store.flush()
    status = pygit2.Repository(str(repo)).status()
    assert status == {"notes.txt": pygit2.enums.FileStatus.INDEX_NEW}
    head_tree = git.head.peel(pygit2.Commit).tree
    assert "notes.txt" not in head_tree  # not swept into the audit commit


def test_detached_head(repo: Path) -> None:
    store = GitAuditStore(repo)
    first = store.append(
        [rec(EventType.DECISION_MADE)], commit_message("s", [rec(EventType.DECISION_MADE)])
    )
    git = pygit2.Repository(str(repo))
    git.set_head(pygit2.Oid(hex=first))
    store.append(
        [rec(EventType.OPERATION_EXECUTED, 1)],
        commit_message("s2", [rec(EventType.OPERATION_EXECUTED, 1)]),
    )
    assert git.head_is_detached
    assert git.head.peel(pygit2.Commit).message.startswith("s2")


def test_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a git repository") as caught:
        GitAuditStore(tmp_path / "nowhere")
    assert str(caught.value).startswith(f"{tmp_path / 'nowhere'} is not a git repository: ")
    assert caught.value.hint == (
        "the audit trail lives in git; run inside a clone, or `git init` first"
    )


def test_a_store_without_an_identity_commits_as_the_reconciler(repo: Path) -> None:
    """CI machines have no git identity: every commit carries the store's own."""
    record = rec(EventType.DECISION_MADE)
    sha = GitAuditStore(repo).append([record], commit_message("web: decision", [record]))
    commit = pygit2.Repository(str(repo))[sha]
    for who in (commit.author, commit.committer):
        assert (who.name, who.email) == ("reconciler", "reconciler@localhost")


def test_a_commit_git_refuses_is_an_audit_error(repo: Path) -> None:
    """A lock left on the branch (a crashed git, another writer) must surface as the
    documented audit failure, exit 5, not as an internal error."""
    from reconciler.core.errors import AuditError, ExitCode

    store = GitAuditStore(repo, name="bot", email="bot@example.invalid")
    first = [rec(EventType.DECISION_MADE)]
    store.append(first, commit_message("web: first", first))
    (repo / ".git" / "refs" / "heads" / "main.lock").write_text("")
    second = [rec(EventType.DECISION_MADE, 1)]
    with pytest.raises(AuditError) as raised:
        store.append(second, commit_message("web: second", second))
    assert str(raised.value).startswith("committing audit records: ")
    assert raised.value.exit_code is ExitCode.AUDIT


def test_a_write_git_fails_for_another_reason_says_what_git_said(repo: Path) -> None:
    """Not every failure is a lock: the refusal carries git's own reason (here, the object
    folder the record's blob belongs in cannot be made), and nothing is committed."""
    from reconciler.core.errors import ExitCode

    store = GitAuditStore(repo)
    blocked = rec(EventType.DECISION_MADE, rid="blocked")
    folder = repo / ".git" / "objects" / str(pygit2.hash(blocked.dumps().encode()))[:2]
    folder.write_text("")  # a file where git makes the blob's folder
    with pytest.raises(AuditError) as raised:
        store.append([blocked], commit_message("web: blocked", [blocked]))
    assert raised.value.exit_code is ExitCode.AUDIT
    assert str(raised.value).startswith("committing audit records: ")
    assert f"'{folder}'" in str(raised.value)
    assert raised.value.hint == "check the repository"
    assert pygit2.Repository(str(repo)).head_is_unborn


@pytest.mark.parametrize(
    ("detached", "lock"),
    [(False, "refs/heads/main.lock"), (True, "HEAD.lock")],
    ids=["on a branch", "on a detached HEAD"],
)
def test_a_lock_on_the_ref_the_record_moves_is_named(repo: Path, detached: bool, lock: str) -> None:
    """The ref an audit commit moves is the branch, or HEAD itself when detached: the lock
    git holds on that one is what the refusal names, with how to remove it."""
    from reconciler.core.errors import ExitCode

    store = GitAuditStore(repo)
    first = [rec(EventType.DECISION_MADE)]
    store.append(first, commit_message("web: first", first))
    git = pygit2.Repository(str(repo))
    if detached:
        git.set_head(git.head.target)
    (repo / ".git" / lock).write_text("")
    second = [rec(EventType.DECISION_MADE, 1)]
    with pytest.raises(AuditError) as raised:
        store.append(second, commit_message("web: second", second))
    assert raised.value.exit_code is ExitCode.AUDIT
    assert str(raised.value).endswith(f"rm {repo / '.git' / lock}")
    assert len(list(git.walk(git.head.target))) == 1  # nothing committed past the lock


def test_appending_no_records_is_refused_and_commits_nothing(repo: Path) -> None:
    """An empty commit would be a trail entry that records nothing: a caller's bug, refused
    before git is touched."""
    store = GitAuditStore(repo)
    seed = [rec(EventType.DECISION_MADE, rid="seed")]
    sha = store.append(seed, commit_message("web: seed", seed))
    with pytest.raises(ValueError) as caught:
        store.append([], commit_message("web: nothing", seed))
    assert str(caught.value) == "append needs at least one record"
    git = pygit2.Repository(str(repo))
    assert str(git.head.target) == sha


def test_a_record_is_never_rewritten(repo: Path) -> None:
    from reconciler.core.errors import AuditError

    store = GitAuditStore(repo, name="bot", email="bot@example.invalid")
    first = [rec(EventType.DECISION_MADE, rid="dec-1")]
    sha = store.append(first, commit_message("web: first", first))
    again = [replace(first[0], rationale="something else")]
    with pytest.raises(AuditError, match="already exists") as caught:
        store.append(again, commit_message("web: again", again))
    assert caught.value.hint == "record ids are unique; this is a bug worth reporting"
    git = pygit2.Repository(str(repo))
    assert git.head.target == git[sha].id  # nothing committed
    (found,) = store.scan()
    assert found.rationale == "test"


# ---------------------------------------------------------------------------------------------
# Reading a trail that holds something other than records


def _commit_files(repo: Path, message: str = "hand-made files") -> None:
    """Commit what is in the working tree with git itself, as a person would."""
    import subprocess

    env = {"GIT_AUTHOR_NAME": "p", "GIT_AUTHOR_EMAIL": "p@x", "GIT_COMMITTER_NAME": "p"}
    env |= {"GIT_COMMITTER_EMAIL": "p@x", "PATH": "/usr/bin:/bin"}
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True, env=env)
    subprocess.run(["git", "-C", str(repo), "commit", "-qm", message], check=True, env=env)


DAY = "audit/web/2026-02-10"


def _foreign_files(repo: Path) -> dict[str, str]:
    """Files under audit/web that are not records, and the reason each is skipped."""
    day = repo / DAY
    day.mkdir(parents=True, exist_ok=True)
    (day / "152000-operation_executed-op-broken.json").write_text("{not json")
    (day / "152001-operation_executed-op-array.json").write_text("[1, 2]")
    (day / "152002-breaker_opened-brk-link.json").symlink_to("/dev/zero")
    (day / "152003-decision_made-dec-folder.json").mkdir()
    (day / "152003-decision_made-dec-folder.json" / "inside.json").write_text("{}")
    (day / "notes.json").write_text("{}")
    (day / "152004-operation_executed-op-huge.json").write_bytes(b" " * (2 * 1024 * 1024))
    (day / "152005-operation_executed-op-at-most.json").write_bytes(b" " * (1024 * 1024))
    (repo / "audit/web/stray.json").write_text("{}")
    (repo / "audit/web/.keep").write_text("")  # hidden files are a person's, not records
    (day / ".keep").write_text("")
    (repo / "audit/notes").write_text("a file where a service folder would be\n")
    return {
        f"{DAY}/152000-operation_executed-op-broken.json": "invalid JSON: Expecting property",
        f"{DAY}/152001-operation_executed-op-array.json": "a JSON array, not a record",
        f"{DAY}/152002-breaker_opened-brk-link.json": "a symbolic link, not a file",
        f"{DAY}/152003-decision_made-dec-folder.json": "a folder",
        f"{DAY}/notes.json": "the file name is not <HHMMSS>-<event_type>-<id>.json",
        f"{DAY}/152004-operation_executed-op-huge.json": "2097152 bytes, larger than any record",
        f"{DAY}/152005-operation_executed-op-at-most.json": "the file is empty",
        "audit/web/stray.json": "not a day folder (YYYY-MM-DD)",
    }


def test_every_reader_skips_what_is_not_a_record_and_names_it(repo: Path) -> None:
    store = GitAuditStore(repo, name="bot", email="bot@example.invalid")
    good = [rec(EventType.OPERATION_EXECUTED, -3600, rid="op-good")]
    store.append(good, commit_message("web: good", good))
    expected = _foreign_files(repo)
    _commit_files(repo)

    readers = {
        "history": lambda s: s.history("web", NOW - timedelta(days=1)),
        "events": lambda s: s.events("web", set(EventType)),
        "scan": lambda s: list(s.scan()),
        "scan one service": lambda s: list(s.scan(service="web")),
    }
    for name, read in readers.items():
        fresh = GitAuditStore(repo)  # nothing remembered from another reader
        assert [r.id for r in read(fresh)] == ["op-good"], name
        skipped = {item.path: item.reason for item in fresh.unreadable("web")}
        assert sorted(skipped) == sorted(expected), name
        for path, reason in expected.items():
            assert skipped[path].startswith(reason), (name, path, skipped[path])
        assert fresh.unreadable("api") == []
    fresh = GitAuditStore(repo)
    assert fresh.services() == ["web"]
    assert (fresh.history("notes", NOW - timedelta(days=1)), fresh.unreadable("notes")) == ([], [])


def test_latest_passes_over_an_unreadable_record_to_the_one_before(repo: Path) -> None:
    store = GitAuditStore(repo, name="bot", email="bot@example.invalid")
    older = [rec(EventType.BREAKER_OPENED, -7200, rid="brk-older")]
    store.append(older, commit_message("web: older", older))
    (repo / DAY / "152000-breaker_reset-brk-newer.json").write_text('{"id": "brk-newer"}')
    _commit_files(repo)
    fresh = GitAuditStore(repo)
    found = fresh.latest("web", {EventType.BREAKER_OPENED, EventType.BREAKER_RESET})
    assert found is not None and found.id == "brk-older"
    (skipped,) = fresh.unreadable()
    assert skipped.path == f"{DAY}/152000-breaker_reset-brk-newer.json"
    assert skipped.reason == "no 'event_type' field"


# --- two writers interleaved at the branch update ---------------------------------------------


class _OtherWriterFirst:
    """A commit message that, while it is rendered (after its writer read the branch, before
    it moves it), lets another writer commit: the interleaving two writers without the
    repository lock could produce, made to happen every time."""

    def __init__(self, message: CommitMessage, other: Callable[[], object]) -> None:
        self.message, self.other = message, other

    def render(self) -> str:
        self.other()
        return self.message.render()


def _paths(repo: Path) -> set[str]:
    git = pygit2.Repository(str(repo))
    found: set[str] = set()

    def walk(tree: pygit2.Tree, prefix: str) -> None:
        for entry in tree:
            path = f"{prefix}{entry.name}"
            if entry.type_str == "tree":
                walk(git[entry.id], f"{path}/")  # type: ignore[arg-type]
            else:
                found.add(path)

    walk(git.head.peel(pygit2.Commit).tree, "")
    return found


@pytest.mark.parametrize(
    ("seeded", "detached"),
    [(True, False), (False, False), (True, True)],
    ids=["on a branch", "on an unborn branch", "on a detached HEAD"],
)
def test_a_writer_whose_branch_moved_meanwhile_commits_nothing(
    repo: Path, seeded: bool, detached: bool
) -> None:
    first, second = GitAuditStore(repo), GitAuditStore(repo)
    if seeded:
        seed = rec(EventType.DECISION_MADE, -60, rid="seed")
        first.append([seed], commit_message("seed", [seed]))
    if detached:
        git = pygit2.Repository(str(repo))
        git.set_head(git.head.target)
        assert git.head_is_detached
    mine, theirs = (
        rec(EventType.DECISION_MADE, rid="mine"),
        rec(EventType.DECISION_MADE, rid="theirs"),
    )
    theirs_sha: list[str] = []
    interleaved = _OtherWriterFirst(
        commit_message("mine", [mine]),
        lambda: theirs_sha.append(second.append([theirs], commit_message("theirs", [theirs]))),
    )
    with pytest.raises(AuditError) as caught:
        first.append([mine], interleaved)  # type: ignore[arg-type]
    moved = "HEAD" if detached else "refs/heads/main"
    assert str(caught.value) == f"{moved} moved while a record was being committed"
    assert caught.value.hint == "another writer committed at the same time; run again"
    git = pygit2.Repository(str(repo))
    assert str(git.head.target) == theirs_sha[0]  # the other writer's commit stands
    paths = _paths(repo)
    assert any(p.endswith("-decision_made-theirs.json") for p in paths)
    assert not any(p.endswith("-decision_made-mine.json") for p in paths)
    # Run again, the writer commits on top: nothing of either is lost.
    first.append([mine], commit_message("mine", [mine]))
    paths = _paths(repo)
    assert {"mine", "theirs"} <= {p.rsplit("-", 1)[-1].removesuffix(".json") for p in paths}
    assert len(list(git.walk(git.head.target))) == (3 if seeded else 2)
    if seeded and not detached:  # the branch's reflog says who moved it
        entry = next(iter(git.references["refs/heads/main"].log()))
        assert entry.message == "reconciler: audit record"


def _indexed(repo: Path) -> set[str]:
    index = pygit2.Repository(str(repo)).index
    index.read()
    return {entry.path for entry in index if entry.path.startswith("audit/")}


def test_the_index_is_compared_in_full_unless_only_this_store_moved_head(repo: Path) -> None:
    """The index mark: a store that knows the index was in step adds only its own records;
    a commit of another writer in between (or an index changed meanwhile) makes it compare
    everything again, so no committed record is left out of the index."""
    first, second = GitAuditStore(repo), GitAuditStore(repo)
    one = [rec(EventType.DECISION_MADE, 0, rid="one")]
    first.append(one, commit_message("web: one", one))
    first.flush()
    assert (repo / ".git" / "reconciler" / "index-mark").is_file()
    two = [rec(EventType.DECISION_MADE, 1, rid="two")]
    second.append(two, commit_message("web: two", two))  # another writer, its index not updated
    three = [rec(EventType.DECISION_MADE, 2, rid="three")]
    first.append(three, commit_message("web: three", three))
    first.flush()
    assert len(_indexed(repo)) == 3
    # A person takes a record out of the index: the next writer finds the index changed.
    git = pygit2.Repository(str(repo))
    git.index.read()
    git.index.remove(sorted(_indexed(repo))[0])
    git.index.write()
    assert len(_indexed(repo)) == 2
    assert GitAuditStore(repo).repair_index() == 1
    assert len(_indexed(repo)) == 3
    assert GitAuditStore(repo).repair_index() == 0  # in step, by the mark


def test_reads_take_head_as_last_looked_up_and_writes_look_again(repo: Path) -> None:
    """A read does not ask git where HEAD is each time (several times a service); the
    store's own commits, any later write and `refresh` do, so nothing is built on a stale
    HEAD and nothing this store wrote is missed."""
    store = GitAuditStore(repo)
    first = rec(EventType.OPERATION_EXECUTED, -60)
    store.append([first], commit_message("s", [first]))
    assert [r.id for r in store.history("web", NOW - timedelta(hours=1))] == [first.id]
    # Someone else commits a record meanwhile (another store stands for a person's commit).
    outside = rec(EventType.VERIFICATION_PASSED, -30)
    other = GitAuditStore(repo)
    sha_outside = other.append([outside], commit_message("s", [outside]))
    # This store's next write builds on that commit, and reads see both records after it.
    mine = rec(EventType.DECISION_MADE, 0)
    sha = store.append([mine], commit_message("s", [mine]))
    git = pygit2.Repository(str(repo))
    assert [str(parent.id) for parent in git[sha].parents] == [sha_outside]
    assert [r.id for r in store.history("web", NOW - timedelta(hours=1))] == [
        first.id,
        outside.id,
        mine.id,
    ]
    later = rec(EventType.VERIFICATION_PASSED, 10, rid="ver-later")
    GitAuditStore(repo).append([later], commit_message("s", [later]))
    store.refresh()
    assert store.history("web", NOW)[-1].id == "ver-later"


# --- finding a record by its id near a moment -------------------------------------------------


@pytest.mark.parametrize("zone", ["UTC", "UTC-14"], ids=["in UTC", "fourteen hours ahead"])
@pytest.mark.parametrize(
    ("days_after", "found"),
    [(-2, False), (-1, True), (0, True), (1, True), (2, False)],
    ids=["two days before", "a day before", "that day", "a day after", "two days after"],
)
def test_a_record_is_found_by_its_id_within_a_day_of_the_moment_asked(
    repo: Path, monkeypatch: pytest.MonkeyPatch, zone: str, days_after: int, found: bool
) -> None:
    """A change's stamp dates it when it was made, and its record may be filed up to a day
    from then (a change just before midnight, recorded just after): the UTC day folders
    either side are looked in too, no further, whatever the machine's zone."""
    import time

    store = GitAuditStore(repo)
    for offset, rid in [(-5 * 86400, "op-early"), (0, "op-wanted"), (5 * 86400, "op-late")]:
        record = rec(EventType.OPERATION_EXECUTED, offset, rid=rid)
        store.append([record], commit_message("web: op", [record]))
    at = NOW + timedelta(days=days_after)
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        assert store.contains("web", at, "op-wanted") is found
        assert not store.contains("api", at, "op-wanted")  # another service's folder
    finally:
        monkeypatch.undo()
        time.tzset()


def test_a_folder_contains_looked_in_is_kept_under_its_service_and_day(repo: Path) -> None:
    """`contains` lists a day folder once and keeps the listing for the next process under
    the service and day it belongs to, which is what the next process goes by: with the
    kept listing emptied, the record is not found there (git is not asked again)."""
    import marshal
    import sqlite3

    from reconciler.adapters.trail_cache import CACHE_FILE

    store = GitAuditStore(repo)
    record = rec(EventType.OPERATION_EXECUTED, rid="op-kept")
    store.append([record], commit_message("web: op", [record]))
    store.flush()
    reader = GitAuditStore(repo)
    assert reader.contains("web", NOW, "op-kept")
    reader.flush()
    with sqlite3.connect(repo / ".git" / CACHE_FILE) as db:
        changed = db.execute(
            "UPDATE listings SET entries = ? WHERE service = ? AND day = ?",
            (marshal.dumps([]), "web", NOW.date().isoformat()),
        ).rowcount
    assert changed == 1
    assert not GitAuditStore(repo).contains("web", NOW, "op-kept")


def test_history_starts_at_the_utc_day_and_second_whatever_the_machines_zone(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The day folders and file names are in UTC, so `since` is read in UTC: on a machine
    nine hours ahead, an hour before 15:30 UTC is still that UTC day at 14:30."""
    import time

    store = GitAuditStore(repo)
    for offset, rid in [(-7200, "two-hours"), (-1800, "half-an-hour"), (0, "now")]:
        record = rec(EventType.DECISION_MADE, offset, rid=rid)
        store.append([record], commit_message("web: decision", [record]))
    monkeypatch.setenv("TZ", "UTC-9")
    time.tzset()
    try:
        found = GitAuditStore(repo).history("web", NOW - timedelta(hours=1))
    finally:
        monkeypatch.undo()
        time.tzset()
    assert [record.id for record in found] == ["half-an-hour", "now"]


def test_history_from_the_very_second_of_a_record_includes_it(repo: Path) -> None:
    store = GitAuditStore(repo)
    for offset, rid in [(-1, "before"), (0, "at"), (1, "after")]:
        record = rec(EventType.DECISION_MADE, offset, rid=rid)
        store.append([record], commit_message("web: decision", [record]))
    assert [record.id for record in store.history("web", NOW)] == ["at", "after"]


@pytest.mark.parametrize(
    "zone", ["UTC", "UTC-9", "UTC+9"], ids=["in UTC", "nine hours ahead", "nine hours behind"]
)
def test_a_scan_reads_the_utc_days_of_its_window_and_keeps_its_ends(
    repo: Path, monkeypatch: pytest.MonkeyPatch, zone: str
) -> None:
    """`since` and `until` both count (a record at either end is in), the day folders are
    chosen by their UTC days whatever the machine's zone, a folder outside them is not read
    at all (its misnamed files go unnoticed), and one service's scan reads that service."""
    import time

    store = GitAuditStore(repo)
    day = 86400
    for offset, rid, service in [
        (-2 * day, "two-days-before", "web"),
        (-day, "a-day-before", "web"),
        (-10 * 3600, "early-that-day", "web"),
        (0, "now", "web"),
        (0, "api-now", "api"),
        (day, "a-day-after", "web"),
    ]:
        record = rec(EventType.DECISION_MADE, offset, service=service, rid=rid)
        store.append([record], commit_message("s", [record]))
    for offset in (-2 * day, day):
        folder = repo / record_path(rec(EventType.DECISION_MADE, offset)).rsplit("/", 1)[0]
        (folder / "notes.json").write_text("{}")
    _commit_files(repo)
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        reader = GitAuditStore(repo)
        window = list(reader.scan(service="web", since=NOW - timedelta(days=1), until=NOW))
        unnoticed = reader.unreadable()
        early = list(
            GitAuditStore(repo).scan(since=NOW - timedelta(days=1), until=NOW - timedelta(hours=10))
        )
        everything = list(GitAuditStore(repo).scan())
    finally:
        monkeypatch.undo()
        time.tzset()
    assert [record.id for record in window] == ["a-day-before", "early-that-day", "now"]
    assert unnoticed == []
    assert [record.id for record in early] == ["a-day-before", "early-that-day"]
    assert len(everything) == 6


def test_a_repository_without_a_trail_has_no_services_and_nothing_to_scan(repo: Path) -> None:
    store = GitAuditStore(repo)
    assert (store.services(), list(store.scan()), store.unreadable()) == ([], [], [])
    (repo / "README").write_text("no trail yet\n")
    _commit_files(repo, "a commit without audit/")
    store.refresh()
    assert (store.services(), list(store.scan()), store.unreadable()) == ([], [], [])


def test_an_index_flush_could_not_write_is_kept_as_its_error_until_one_can(repo: Path) -> None:
    """The records are committed whatever git's index: a flush that finds the index locked
    keeps why (naming the lock) instead of failing, and the next flush that brings the index
    in step clears it."""
    store = GitAuditStore(repo)
    record = rec(EventType.DECISION_MADE)
    store.append([record], commit_message("web: decision", [record]))
    index_lock = repo / ".git" / "index.lock"
    index_lock.write_text("")
    store.flush()
    assert isinstance(store.index_error, AuditError)
    assert f"rm {index_lock}" in str(store.index_error)
    index_lock.unlink()
    store.flush()
    assert store.index_error is None
    assert pygit2.Repository(str(repo)).status() == {}


def test_a_bare_repository_has_no_index_to_repair(tmp_path: Path) -> None:
    """A bare repository (a mirror the trail is pushed to) has no index or checkout: the
    records are committed, and there is nothing to restore."""
    pygit2.init_repository(str(tmp_path), bare=True, initial_head="main")
    store = GitAuditStore(tmp_path)
    record = rec(EventType.DECISION_MADE, rid="bare")
    store.append([record], commit_message("web: decision", [record]))
    assert store.repair_index() == 0
    store.flush()
    assert store.index_error is None
    assert [found.id for found in GitAuditStore(tmp_path).scan()] == ["bare"]


def test_a_repair_looks_head_up_again_though_the_store_knows_where_it_was(repo: Path) -> None:
    """A store that brought the index in step knows HEAD as it was then; another writer's
    commit since (its records not in the index) must not pass for "in step": the repair looks
    HEAD up again, finds a commit that is not this store's, and compares in full."""
    first, second = GitAuditStore(repo), GitAuditStore(repo)
    one = [rec(EventType.DECISION_MADE, 0, rid="one")]
    first.append(one, commit_message("web: one", one))
    first.flush()
    two = [rec(EventType.DECISION_MADE, 1, rid="two")]
    second.append(two, commit_message("web: two", two))  # its index not updated
    assert len(_indexed(repo)) == 1
    assert first.repair_index() == 1
    assert len(_indexed(repo)) == 2


def test_a_record_the_checkout_lacked_is_written_by_the_flush_though_the_index_lists_it(
    repo: Path,
) -> None:
    """A record the checkout could not hold when it was committed is written by the next
    flush, also when the index already lists it (a `git reset` in between put it there):
    the file is then missing from the checkout alone, and `git status` is clean after."""
    import subprocess

    store = GitAuditStore(repo)
    seed = [rec(EventType.DECISION_MADE, -60, rid="seed")]
    store.append(seed, commit_message("web: seed", seed))
    store.flush()
    record = rec(EventType.DECISION_MADE, rid="late")
    target = repo / record_path(record)
    target.mkdir(parents=True)  # a folder where the file belongs: append cannot write it
    store.append([record], commit_message("web: late", [record]))
    target.rmdir()
    subprocess.run(["git", "-C", str(repo), "reset", "-q"], check=True)
    assert record_path(record) in _indexed(repo) and not target.exists()
    store.flush()
    assert target.read_text(encoding="utf-8") == record.dumps()
    assert pygit2.Repository(str(repo)).status() == {}


def test_a_day_folder_a_reader_listed_is_kept_under_its_service_and_day(repo: Path) -> None:
    """What a reader lists is kept for the next process under the service and day it
    belongs to, and the next process goes by it: with the kept listing emptied, the day
    reads as empty (git is not asked again for that tree)."""
    import marshal
    import sqlite3

    from reconciler.adapters.trail_cache import CACHE_FILE

    store = GitAuditStore(repo)
    record = rec(EventType.DECISION_MADE, rid="listed")
    store.append([record], commit_message("web: decision", [record]))
    reader = GitAuditStore(repo)
    assert [r.id for r in reader.history("web", NOW - timedelta(hours=1))] == ["listed"]
    reader.flush()
    with sqlite3.connect(repo / ".git" / CACHE_FILE) as db:
        changed = db.execute(
            "UPDATE listings SET entries = ? WHERE service = ? AND day = ?",
            (marshal.dumps([]), "web", NOW.date().isoformat()),
        ).rowcount
    assert changed == 1
    assert GitAuditStore(repo).history("web", NOW - timedelta(hours=1)) == []


def test_a_record_file_rewritten_by_hand_is_read_again(repo: Path) -> None:
    """What earlier runs read is kept by the file's blob: a file rewritten in place (a new
    blob under the same name) is read anew, not taken from what was kept."""
    store = GitAuditStore(repo)
    record = rec(EventType.DECISION_MADE, rid="rewritten")
    store.append([record], commit_message("web: decision", [record]))
    store.flush()
    reader = GitAuditStore(repo)
    assert [r.rationale for r in reader.history("web", NOW - timedelta(hours=1))] == ["test"]
    reader.flush()
    (repo / record_path(record)).write_text(replace(record, rationale="by hand").dumps())
    _commit_files(repo, "a record rewritten")
    found = GitAuditStore(repo).history("web", NOW - timedelta(hours=1))
    assert [r.rationale for r in found] == ["by hand"]


# ---------------------------------------------------------------- the index mark
#
# When the mark says the index was in step, the store adds only its own records and does not
# compare the rest: these tests take an entry out of the index by hand and record the changed
# index in the mark, so what the fast path skips (that entry) is seen, and a mark that must
# not be trusted is seen by the entry coming back.


def _mark_file(repo: Path) -> Path:
    return repo / ".git" / "reconciler" / "index-mark"


def _index_key(repo: Path) -> str:
    """The index file's size and its last 32 bytes (where git keeps the hash of it)."""
    data = (repo / ".git" / "index").read_bytes()
    return f"{len(data)}:{data[-32:].hex()}"


def _head_sha(repo: Path) -> str:
    return str(pygit2.Repository(str(repo)).head.target)


def _unindex(repo: Path, path: str) -> None:
    git = pygit2.Repository(str(repo))
    git.index.read()
    git.index.remove(path)
    git.index.write()


def _seeded(repo: Path) -> tuple[GitAuditStore, str]:
    """A store whose flush left a mark, and the seed record's path, taken out of the index
    by hand since, with the mark saying the index is in step as it is now."""
    store = GitAuditStore(repo)
    seed = [rec(EventType.DECISION_MADE, -60, rid="seed")]
    store.append(seed, commit_message("web: seed", seed))
    store.flush()
    path = record_path(seed[0])
    _unindex(repo, path)
    _mark_file(repo).write_text(
        f'{{"head": "{_head_sha(repo)}", "index": "{_index_key(repo)}"}}', "utf-8"
    )
    return store, path


def test_a_flush_marks_head_and_the_index_file_it_left(repo: Path) -> None:
    store = GitAuditStore(repo)
    one = [rec(EventType.DECISION_MADE, rid="one")]
    store.append(one, commit_message("web: one", one))
    store.flush()
    mark = json.loads(_mark_file(repo).read_text("utf-8"))
    assert mark == {"head": _head_sha(repo), "index": _index_key(repo)}


def test_an_index_the_mark_knows_is_trusted_and_not_compared(repo: Path) -> None:
    """With a mark for HEAD and the index as it is, nothing is compared: the entry taken out
    by hand stays out. Without the mark the same repair compares in full and restores it."""
    _, seed = _seeded(repo)
    assert GitAuditStore(repo).repair_index() == 0
    assert seed not in _indexed(repo)
    _mark_file(repo).unlink()
    assert GitAuditStore(repo).repair_index() == 1
    assert seed in _indexed(repo)


def test_the_store_adds_only_its_own_records_to_an_index_the_mark_knows(repo: Path) -> None:
    """HEAD moved by this store's commits alone: the records they wrote are added, and only
    those (the entry taken out by hand is not looked for)."""
    store, seed = _seeded(repo)
    two = [rec(EventType.DECISION_MADE, 0, rid="two")]
    store.append(two, commit_message("web: two", two))
    three = [rec(EventType.DECISION_MADE, 1, rid="three")]
    store.append(three, commit_message("web: three", three))
    assert store.repair_index() == 2
    assert _indexed(repo) == {record_path(two[0]), record_path(three[0])}
    # The mark now names the new HEAD and the index as written.
    assert GitAuditStore(repo).repair_index() == 0
    assert seed not in _indexed(repo)


def test_a_head_moved_by_a_merge_commit_is_compared_in_full(repo: Path) -> None:
    """Only a line of single-parent commits of this store is walked back to the mark: a
    commit of the store with two parents sends the repair to the full comparison."""
    from reconciler.adapters.git_audit_index import IndexMark

    _, seed = _seeded(repo)
    git = pygit2.Repository(str(repo))
    head = git.head.peel(pygit2.Commit)
    sig = pygit2.Signature("t", "t@example.invalid")
    merge = git.create_commit("HEAD", sig, sig, "merge", head.tree.id, [head.id, head.id])
    mark = IndexMark(git)
    assert mark.added(git[merge], {str(merge)}, []) is None
    assert mark.added(git[merge], set(), []) is None
    # The single-parent walk: the same tree on one parent is this store's commit.
    single = git.create_commit("HEAD", sig, sig, "one", head.tree.id, [merge])
    assert mark.added(git[single], {str(single), str(merge)}, []) is None
    assert mark.added(git[head.id], set(), []) == 0
    assert seed not in _indexed(repo)


@pytest.mark.parametrize(
    "content",
    ["{not json", '["a list", "of strings"]', '{"head": "0000", "index": "1:00"}', "{}"],
)
def test_a_corrupt_or_foreign_mark_is_ignored(repo: Path, content: str) -> None:
    _, seed = _seeded(repo)
    _mark_file(repo).write_text(content, "utf-8")
    assert GitAuditStore(repo).repair_index() == 1
    assert seed in _indexed(repo)
    assert json.loads(_mark_file(repo).read_text("utf-8"))["head"] == _head_sha(repo)


def test_a_mark_for_another_index_or_another_head_is_ignored(repo: Path) -> None:
    _, seed = _seeded(repo)
    mark = json.loads(_mark_file(repo).read_text("utf-8"))
    _mark_file(repo).write_text(json.dumps({**mark, "index": "1:00"}), "utf-8")
    assert GitAuditStore(repo).repair_index() == 1
    _unindex(repo, seed)
    _mark_file(repo).write_text(json.dumps({**mark, "index": _index_key(repo)}), "utf-8")
    assert GitAuditStore(repo).repair_index() == 0  # the mark as written: trusted
    _mark_file(repo).write_text(json.dumps({"index": _index_key(repo)}), "utf-8")
    assert GitAuditStore(repo).repair_index() == 1  # no head in it
    assert seed in _indexed(repo)


def test_a_mark_that_is_a_folder_is_ignored(repo: Path) -> None:
    _, seed = _seeded(repo)
    _mark_file(repo).unlink()
    _mark_file(repo).mkdir()
    assert GitAuditStore(repo).repair_index() == 1
    assert seed in _indexed(repo)


def test_a_missing_index_file_is_compared_in_full_and_drops_the_mark(repo: Path) -> None:
    """No index file has no key: the mark cannot match it (the repair compares in full and
    writes an index), and remembering without one removes the mark."""
    from reconciler.adapters.git_audit_index import IndexMark

    _seeded(repo)
    git = pygit2.Repository(str(repo))
    head = git.head.peel(pygit2.Commit)
    (repo / ".git" / "index").unlink()
    assert IndexMark(git).added(head, set(), []) is None
    IndexMark(git).remember(head)
    assert not _mark_file(repo).exists()
    IndexMark(git).remember(head)  # no mark to remove: nothing to do
    assert not _mark_file(repo).exists()


def test_remembering_without_head_drops_the_mark(repo: Path) -> None:
    from reconciler.adapters.git_audit_index import IndexMark

    _seeded(repo)
    git = pygit2.Repository(str(repo))
    IndexMark(git).remember(None)
    assert not _mark_file(repo).exists()
    IndexMark(git).remember(None)
    assert not _mark_file(repo).exists()
    assert IndexMark(git).added(None, set(), []) is None


def _a_file_where_the_mark_folder_belongs(repo: Path) -> pygit2.Repository:
    """A store that committed and flushed once, then a file put where its mark's folder is."""
    store = GitAuditStore(repo)
    one = [rec(EventType.DECISION_MADE, rid="one")]
    store.append(one, commit_message("web: one", one))
    store.flush()
    for child in (repo / ".git" / "reconciler").iterdir():
        child.unlink()
    (repo / ".git" / "reconciler").rmdir()
    (repo / ".git" / "reconciler").write_text("not a folder\n")
    return pygit2.Repository(str(repo))


def test_a_mark_that_cannot_be_written_is_not_an_error(repo: Path) -> None:
    """The mark is best effort: a file where its folder belongs only means no mark."""
    from reconciler.adapters.git_audit_index import IndexMark

    git = _a_file_where_the_mark_folder_belongs(repo)
    IndexMark(git).remember(git.head.peel(pygit2.Commit))
    assert (repo / ".git" / "reconciler").read_text() == "not a folder\n"


def test_a_mark_that_cannot_be_removed_is_not_an_error(repo: Path) -> None:
    """Forgetting the mark (no HEAD, or no index file) is as best effort as writing it: a
    file where its folder belongs leaves a repair that finds no index with nothing to say."""
    from reconciler.adapters.git_audit_index import IndexMark

    git = _a_file_where_the_mark_folder_belongs(repo)
    IndexMark(git).remember(None)
    (repo / ".git" / "index").unlink()
    IndexMark(git).remember(git.head.peel(pygit2.Commit))
    assert (repo / ".git" / "reconciler").read_text() == "not a folder\n"


def test_a_mark_is_written_into_a_folder_that_exists(repo: Path) -> None:
    from reconciler.adapters.git_audit_index import IndexMark

    _seeded(repo)
    _mark_file(repo).unlink()
    git = pygit2.Repository(str(repo))
    IndexMark(git).remember(git.head.peel(pygit2.Commit))
    assert _mark_file(repo).is_file()


def test_the_same_record_written_twice_is_added_once(repo: Path) -> None:
    from reconciler.adapters.git_audit_index import IndexMark

    _, seed = _seeded(repo)
    git = pygit2.Repository(str(repo))
    head = git.head.peel(pygit2.Commit)
    assert IndexMark(git).added(head, set(), [seed, seed]) == 1
    assert seed in _indexed(repo)


def test_a_record_head_lacks_cannot_be_added_by_the_mark(repo: Path) -> None:
    from reconciler.adapters.git_audit_index import IndexMark

    _, seed = _seeded(repo)
    git = pygit2.Repository(str(repo))
    head = git.head.peel(pygit2.Commit)
    with pytest.raises(AuditError) as caught:
        IndexMark(git).added(head, set(), ["audit/web/no-such-record.json"])
    assert str(caught.value) == (
        "git's index does not list 1 committed file(s) under audit/: "
        "'audit/web/no-such-record.json'"
    )
    assert caught.value.hint == "check the repository"
    assert seed not in _indexed(repo)


def test_a_held_index_lock_on_the_fast_path_is_named(repo: Path) -> None:
    """The mark's path writes the index too: git's lock held on it is an AuditError that
    names the lock, the records' count and where they are, and the index is left as it was."""
    store, _ = _seeded(repo)
    one = [rec(EventType.DECISION_MADE, rid="one")]
    store.append(one, commit_message("web: one", one))
    index_lock = repo / ".git" / "index.lock"
    index_lock.write_text("")
    with pytest.raises(AuditError) as caught:
        store.repair_index()
    message = str(caught.value)
    assert message.startswith("git's index does not list 1 committed file(s) under audit/: ")
    assert f"rm {index_lock}" in message
    assert caught.value.hint is not None and "another git command holds it" in caught.value.hint
    index_lock.unlink()
    assert _indexed(repo) == set()
    assert store.repair_index() == 1  # the mark is still good: only the new record is added
    assert _indexed(repo) == {record_path(one[0])}


def test_records_the_checkout_lacks_are_written_on_the_fast_path(repo: Path) -> None:
    """Two records of one day in a service whose folder the checkout could not hold (a file
    where it belongs, removed since): the mark's path writes both, folders and all."""
    import shutil

    store, seed = _seeded(repo)
    (repo / "audit" / "db").write_text("not a folder\n")
    batch = [
        rec(EventType.DECISION_MADE, 0, service="db", rid="a"),
        rec(EventType.DECISION_MADE, 1, service="db", rid="b"),
    ]
    store.append(batch, commit_message("db: two", batch))
    (repo / "audit" / "db").unlink()
    assert store.repair_index() == 2
    for record in batch:
        assert (repo / record_path(record)).read_text(encoding="utf-8") == record.dumps()
    assert seed not in _indexed(repo)  # the fast path it was
    shutil.rmtree(repo / "audit" / "db")


def test_a_record_the_checkout_still_cannot_hold_is_left_to_the_next_write(repo: Path) -> None:
    """On the mark's path too the checkout is best effort: a file still where the record's
    folder belongs leaves the record out of the checkout, and the index lists it."""
    store, _ = _seeded(repo)
    (repo / "audit" / "db").write_text("not a folder\n")
    record = rec(EventType.DECISION_MADE, service="db", rid="a")
    store.append([record], commit_message("db: one", [record]))
    assert store.repair_index() == 1
    assert _indexed(repo) == {record_path(record)}
    assert (repo / "audit" / "db").read_text() == "not a folder\n"


def test_the_mark_of_an_index_without_entries_keys_the_whole_file(repo: Path) -> None:
    """An index that lists nothing is its header and hash alone (32 bytes with SHA-1): the
    key is all of it."""
    from reconciler.adapters.git_audit_index import IndexMark

    _, seed = _seeded(repo)
    git = pygit2.Repository(str(repo))
    git.index.read()
    git.index.clear()
    git.index.write()
    assert len((repo / ".git" / "index").read_bytes()) == 32
    IndexMark(git).remember(git.head.peel(pygit2.Commit))
    assert json.loads(_mark_file(repo).read_text("utf-8")) == {
        "head": _head_sha(repo),
        "index": _index_key(repo),
    }
    assert GitAuditStore(repo).repair_index() == 0  # trusted: the index stays empty
    assert seed not in _indexed(repo)


def test_the_mark_is_read_as_utf_8_whatever_the_locale(repo: Path) -> None:
    """The mark is the store's own file, written as UTF-8: a machine whose locale says ASCII
    reads it the same (a key it does not know, in any script, does not spoil it)."""
    import locale

    _, seed = _seeded(repo)
    mark = json.loads(_mark_file(repo).read_text("utf-8"))
    _mark_file(repo).write_text(json.dumps({**mark, "note": "é"}, ensure_ascii=False), "utf-8")
    before = locale.setlocale(locale.LC_CTYPE)
    locale.setlocale(locale.LC_CTYPE, "C")
    try:
        assert locale.getpreferredencoding(False) != "UTF-8"
        assert GitAuditStore(repo).repair_index() == 0
    finally:
        locale.setlocale(locale.LC_CTYPE, before)
    assert seed not in _indexed(repo)


# ---------------------------------------------------------------- what a reader keeps for the next


def test_the_next_process_names_each_unreadable_file_as_the_first_did(repo: Path) -> None:
    """Why a file is not a record is kept with its blob for the next process, which then
    names it with the very same reason without reading the file again. It is kept by blob
    id and mode (the same bytes as a link are no record); a folder is not kept at all."""
    store = GitAuditStore(repo)
    good = [rec(EventType.OPERATION_EXECUTED, -3600, rid="op-good")]
    store.append(good, commit_message("web: good", good))
    expected = _foreign_files(repo)
    _commit_files(repo)
    first = GitAuditStore(repo)
    assert [r.id for r in first.history("web", NOW - timedelta(days=1))] == ["op-good"]
    reasons = {item.path: item.reason for item in first.unreadable("web")}
    assert sorted(reasons) == sorted(expected)
    first.flush()
    kept = TrailCache(pygit2.Repository(str(repo)).path)
    tree = pygit2.Repository(str(repo)).head.peel(pygit2.Commit).tree
    read = [path for path in expected if path.startswith(DAY) and not path.endswith("/notes.json")]
    for path in [*read, record_path(good[0])]:
        entry = tree[path]
        found = kept.get("web", DAY[-10:], entry.name, f"{entry.id}:{int(entry.filemode)}")
        if entry.type_str == "tree":
            assert found is None, path  # a folder is told apart by its listing, not kept
        else:
            assert found == reasons.get(path, good[0]), path
    second = GitAuditStore(repo)
    assert [r.id for r in second.history("web", NOW - timedelta(days=1))] == ["op-good"]
    assert {item.path: item.reason for item in second.unreadable("web")} == reasons
    for path in expected:
        assert second.reason(path) == reasons[path]


def test_a_submodule_in_a_day_folder_is_named_as_one(repo: Path) -> None:
    """A gitlink (a submodule's commit) where a record belongs is no file: it is skipped as
    a submodule, not looked up as a blob, by this process and the next."""
    store = GitAuditStore(repo)
    good = [rec(EventType.OPERATION_EXECUTED, -3600, rid="op-good")]
    store.append(good, commit_message("web: good", good))
    store.flush()
    git = pygit2.Repository(str(repo))
    head = git.head.peel(pygit2.Commit)
    day_tree = head.tree[DAY]
    builder = git.TreeBuilder(git[day_tree.id])
    name = "152000-operation_executed-op-sub.json"
    builder.insert(name, head.id, pygit2.enums.FileMode.COMMIT)
    web = git.TreeBuilder(git[head.tree["audit/web"].id])
    web.insert("2026-02-10", builder.write(), pygit2.enums.FileMode.TREE)
    audit = git.TreeBuilder(git[head.tree["audit"].id])
    audit.insert("web", web.write(), pygit2.enums.FileMode.TREE)
    root = git.TreeBuilder(head.tree)
    root.insert("audit", audit.write(), pygit2.enums.FileMode.TREE)
    new_root = root.write()
    who = pygit2.Signature("p", "p@x")
    git.create_commit("HEAD", who, who, "a submodule", new_root, [head.id])
    for reader in (GitAuditStore(repo), GitAuditStore(repo)):
        assert [r.id for r in reader.events("web", set(EventType))] == ["op-good"]
        assert [(i.path, i.reason) for i in reader.unreadable("web")] == [
            (f"{DAY}/{name}", "a submodule")
        ]
        reader.flush()


def test_the_next_process_goes_by_what_was_kept_for_a_blob(repo: Path) -> None:
    """What was kept for a file's blob and mode is what the next process answers, without
    reading the blob: with a different reason and a different record kept for them, those
    are what it names and returns."""
    store = GitAuditStore(repo)
    good = rec(EventType.OPERATION_EXECUTED, -3600, rid="op-good")
    store.append([good], commit_message("web: good", [good]))
    broken = f"{DAY}/152000-operation_executed-op-broken.json"
    (repo / broken).write_text("{not json")
    _commit_files(repo)
    first = GitAuditStore(repo)
    assert [r.id for r in first.events("web", set(EventType))] == ["op-good"]
    first.flush()
    tree = pygit2.Repository(str(repo)).head.peel(pygit2.Commit).tree
    kept = TrailCache(pygit2.Repository(str(repo)).path)
    for path, result in (
        (broken, "kept reason"),
        (record_path(good), replace(good, rationale="kept")),
    ):
        entry = tree[path]
        kept.put("web", DAY[-10:], entry.name, f"{entry.id}:{int(entry.filemode)}", result)
    kept.save()
    second = GitAuditStore(repo)
    assert [r.rationale for r in second.events("web", set(EventType))] == ["kept"]
    assert [(i.path, i.reason) for i in second.unreadable("web")] == [(broken, "kept reason")]


def test_a_service_folder_a_reader_listed_is_kept_under_its_service(repo: Path) -> None:
    """The listing of a service's folder is kept for the next process under the service
    with no day, and the next process goes by it: with it emptied, the service has no days."""
    import marshal
    import sqlite3

    from reconciler.adapters.trail_cache import CACHE_FILE

    store = GitAuditStore(repo)
    record = rec(EventType.DECISION_MADE, rid="listed")
    store.append([record], commit_message("web: decision", [record]))
    reader = GitAuditStore(repo)
    assert [day for day, _tree in reader.days("web")] == [NOW.date().isoformat()]
    reader.flush()
    with sqlite3.connect(repo / ".git" / CACHE_FILE) as db:
        changed = db.execute(
            "UPDATE listings SET entries = ? WHERE service = ? AND day = ?",
            (marshal.dumps([]), "web", ""),
        ).rowcount
    assert changed == 1
    assert GitAuditStore(repo).days("web") == []
