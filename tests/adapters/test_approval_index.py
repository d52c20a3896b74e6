"""The approvals a cycle reads (`GitAuditStore.approvals`, through the trail index) decide what
all of a service's approval records decide: the pending proposals, the hold on a blueprint
nobody approved, the landings without approval, and the grants still usable. Random trails,
including orders and mixes no reconciler writes, are committed to a real repository in parts
(so the index is built, kept and extended), and every judgement is made both ways."""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pygit2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.adapters.git_audit import GitAuditStore
from reconciler.core.approvals.holds import approval_hold
from reconciler.core.approvals.landings import landed_without_approval
from reconciler.core.approvals.lifecycle import APPROVAL_EVENTS
from reconciler.core.approvals.pending import pending_proposals
from reconciler.core.blueprint.loading import parse_blueprint
from reconciler.core.blueprint.model import Blueprint
from reconciler.core.trail.commits import commit_message
from reconciler.core.trail.records import EventType, Outcome, Record
from tests.core.helpers import NOW
from tests.core.test_loading import SEED_BLUEPRINT

SERVICE = "todo-frontend"
SOURCE = f"blueprints/{SERVICE}/blueprint.yaml"
DIGESTS = ("d-loaded", "d-other", "d-third")
KEYS = (f"{SERVICE}/scale-beyond-limits", f"{SERVICE}/restart")
OUTCOMES = {
    EventType.APPROVAL_REQUESTED: (Outcome.PENDING,),
    EventType.APPROVAL_UPDATED: (Outcome.PENDING,),
    EventType.APPROVAL_EXPIRED: (Outcome.EXPIRED, Outcome.PENDING),
    EventType.APPROVAL_GRANTED: (Outcome.APPROVED,),
    EventType.APPROVAL_REJECTED: (Outcome.REJECTED,),
    EventType.APPROVAL_SUPERSEDED: (Outcome.SUPERSEDED,),
    EventType.APPROVAL_REFUSED: (Outcome.REFUSED,),
}


def _blueprint(digest: str) -> Blueprint:
    loaded = parse_blueprint(SEED_BLUEPRINT.encode(), source=SOURCE)
    return replace(loaded, digest=digest)


@st.composite
def _records(draw: st.DrawFn) -> list[Record]:
    """Approval records over ten days: proposals on two keys, each event of any kind, some
    naming the loaded blueprint's digest, and a few records that are not of a proposal."""
    records = []
    proposals = draw(st.integers(1, 12))
    for number in range(proposals):
        approval = f"apr-{number:03d}"
        key = draw(st.sampled_from(KEYS))
        kind = draw(st.sampled_from(["blueprint", "request"]))
        start = NOW - timedelta(days=draw(st.integers(0, 9)), minutes=draw(st.integers(0, 600)))
        proposed = draw(st.sampled_from(DIGESTS))
        against = draw(st.sampled_from(DIGESTS))
        events = [EventType.APPROVAL_REQUESTED]
        events += draw(st.lists(st.sampled_from(sorted(OUTCOMES, key=str)), min_size=0, max_size=3))
        for step, event in enumerate(events):
            metadata: dict[str, Any] = {
                "approval_id": approval,
                "key": key,
                "kind": kind,
                "service": SERVICE,
                "blueprint_digest": against,
                "digests": {SOURCE: proposed},
                "files": [SOURCE],
            }
            details: dict[str, Any] = {"key": key, "metadata": metadata, "branch": approval}
            if event in {EventType.APPROVAL_REFUSED, EventType.APPROVAL_GRANTED}:
                details["merged_blueprint_digest"] = draw(st.sampled_from([*DIGESTS, None]))
                details["beyond_proposal"] = draw(st.sampled_from([[], None]))
                details["blueprint_path"] = draw(st.sampled_from([SOURCE, "elsewhere.yaml"]))
            at = start + timedelta(minutes=37 * step + draw(st.integers(0, 5)))
            records.append(
                Record(
                    id=approval if event is EventType.APPROVAL_REQUESTED else f"{approval}-{step}",
                    timestamp=at,
                    event_type=event,
                    service=SERVICE,
                    blueprint_version="1.0.0",
                    outcome=draw(st.sampled_from(OUTCOMES[event])),
                    rationale="test",
                    links={"approval": approval},
                    details=details,
                )
            )
    return records


def _commit(repo: Path, records: list[Record]) -> None:
    store = GitAuditStore(repo)
    for record in sorted(records, key=Record.sort_key):
        store.append([record], commit_message(f"{SERVICE}: {record.id}", [record]))
    store.flush()


def _judgements(records: list[Record], blueprint: Blueprint) -> Any:
    return (
        pending_proposals(records),
        approval_hold(blueprint, records),
        approval_hold(blueprint, records, settled=set(KEYS[:1])),
        [record.id for record in landed_without_approval(blueprint, records)],
        sorted(
            record.id
            for record in records
            if record.event_type is EventType.APPROVAL_GRANTED
            and record.timestamp >= NOW - timedelta(hours=30)
        ),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    trail=_records(),
    cut=st.floats(0.0, 1.0),
    digest=st.sampled_from(DIGESTS),
    window=st.integers(1, 40),
)
def test_the_approvals_read_judge_as_all_of_them(
    tmp_path_factory: Any, trail: list[Record], cut: float, digest: str, window: int
) -> None:
    repo = tmp_path_factory.mktemp("trail")
    pygit2.init_repository(str(repo), initial_head="main")
    ordered = sorted(trail, key=Record.sort_key)
    split = int(len(ordered) * cut)
    blueprint = _blueprint(digest)
    since = NOW - timedelta(hours=window)
    for part in (ordered[:split], ordered[split:]):  # the index made, then extended
        if part:
            _commit(repo, part)
        store = GitAuditStore(repo)
        chosen = store.approvals(SERVICE, digest=digest, since=since)
        everything = GitAuditStore(repo).events(SERVICE, APPROVAL_EVENTS)
        keys = {record.sort_key() for record in chosen}
        assert keys <= {record.sort_key() for record in everything}
        assert {r.sort_key() for r in everything if r.timestamp >= since} <= keys
        assert _judgements(chosen, blueprint)[:4] == _judgements(everything, blueprint)[:4]
    shutil.rmtree(repo)


def test_a_year_is_not_read_to_judge_today(tmp_path: Path) -> None:
    """Settled proposals of other blueprints, older than the window, are left unread; those
    naming the loaded blueprint are read whatever their age."""
    pygit2.init_repository(str(tmp_path), initial_head="main")
    records = []
    for day in range(30):
        at = NOW - timedelta(days=day, hours=1)
        approval = f"apr-{day:03d}"
        named = "d-loaded" if day == 20 else "d-other"
        for offset, event, outcome in (
            (0, EventType.APPROVAL_REQUESTED, Outcome.PENDING),
            (30, EventType.APPROVAL_REJECTED, Outcome.REJECTED),
        ):
            records.append(
                Record(
                    id=approval if offset == 0 else f"{approval}-end",
                    timestamp=at + timedelta(minutes=offset),
                    event_type=event,
                    service=SERVICE,
                    blueprint_version="1.0.0",
                    outcome=outcome,
                    rationale="test",
                    links={"approval": approval},
                    details={
                        "key": KEYS[0],
                        "metadata": {
                            "approval_id": approval,
                            "key": KEYS[0],
                            "kind": "blueprint",
                            "digests": {SOURCE: named},
                        },
                    },
                )
            )
    _commit(tmp_path, records)
    chosen = GitAuditStore(tmp_path).approvals(
        SERVICE, digest="d-loaded", since=NOW - timedelta(days=1)
    )
    # Today's and yesterday's (the window starts yesterday; its day is read whole), and the
    # one that proposed the loaded blueprint twenty days ago; not the other 27.
    assert sorted(r.id for r in chosen) == [
        "apr-000",
        "apr-000-end",
        "apr-001",
        "apr-001-end",
        "apr-020",
        "apr-020-end",
    ]


def _proposal(
    approval: str,
    at: Any,
    *,
    key: str = KEYS[0],
    named: str = "d-other",
    end: tuple[EventType, Outcome] | None = (EventType.APPROVAL_REJECTED, Outcome.REJECTED),
    after: timedelta = timedelta(minutes=30),
) -> list[Record]:
    """A blueprint edit proposed at `at`, proposing a file whose digest is `named`, and its
    end `after` later (none: still open)."""
    steps = [(timedelta(0), EventType.APPROVAL_REQUESTED, Outcome.PENDING)]
    if end is not None:
        steps.append((after, *end))
    metadata = {
        "approval_id": approval,
        "key": key,
        "kind": "blueprint",
        "digests": {SOURCE: named},
    }
    return [
        Record(
            id=approval if offset == timedelta(0) else f"{approval}-end",
            timestamp=at + offset,
            event_type=event,
            service=SERVICE,
            blueprint_version="1.0.0",
            outcome=outcome,
            rationale="test",
            links={"approval": approval},
            details={"key": key, "metadata": metadata},
        )
        for offset, event, outcome in steps
    ]


def _chosen(repo: Path, since: Any = NOW - timedelta(days=1)) -> list[str]:
    return _chosen_by(GitAuditStore(repo), since)


def _chosen_by(store: GitAuditStore, since: Any = NOW - timedelta(days=1)) -> list[str]:
    found = store.approvals(SERVICE, digest="d-loaded", since=since)
    return sorted(record.id for record in found)


def test_a_service_without_approval_records_reads_none(tmp_path: Path) -> None:
    pygit2.init_repository(str(tmp_path), initial_head="main")
    assert _chosen(tmp_path) == []  # nothing committed yet
    decision = Record(
        id="dec-1",
        timestamp=NOW,
        event_type=EventType.DECISION_MADE,
        service=SERVICE,
        blueprint_version="1.0.0",
        outcome=Outcome.DECIDED,
        rationale="test",
    )
    _commit(tmp_path, [decision])
    assert _chosen(tmp_path) == []


def test_a_proposal_open_since_the_trail_began_makes_every_record_read(tmp_path: Path) -> None:
    """Nothing folded before today decides less than the whole trail: a proposal has been
    open since the trail's first day, so the last moment none was open is that day's start
    and every approval record is read."""
    pygit2.init_repository(str(tmp_path), initial_head="main")
    records = _proposal("apr-open", NOW - timedelta(days=20), key=KEYS[1], end=None)
    for day in (15, 10, 5):
        records += _proposal(f"apr-{day:03d}", NOW - timedelta(days=day))
    _commit(tmp_path, records)
    assert _chosen(tmp_path) == sorted(record.id for record in records)
    # Once it ends, the reading starts again from the last moment no proposal was open: the
    # end of the proposal five days ago (its day is read whole).
    ended = _proposal("apr-open", NOW - timedelta(days=20), key=KEYS[1], after=timedelta(days=8))
    _commit(tmp_path, ended[1:])
    assert _chosen(tmp_path) == ["apr-005", "apr-005-end"]


def test_an_old_proposal_of_a_record_in_the_window_is_read_with_it(tmp_path: Path) -> None:
    """A rejection today of an edit proposed ten days ago brings its request in (the
    proposal's records are taken together); a proposal settled between them is left unread."""
    pygit2.init_repository(str(tmp_path), initial_head="main")
    records = _proposal("apr-late", NOW - timedelta(days=10), after=timedelta(days=10))
    records += _proposal("apr-mid", NOW - timedelta(days=5), key=KEYS[1])
    _commit(tmp_path, records)
    assert _chosen(tmp_path, NOW - timedelta(hours=1)) == ["apr-late", "apr-late-end"]
    # The records naming the loaded blueprint are read whatever their age.
    _commit(
        tmp_path, _proposal("apr-named", NOW - timedelta(days=7), key=KEYS[1], named="d-loaded")
    )
    assert _chosen(tmp_path, NOW - timedelta(hours=1)) == [
        "apr-late",
        "apr-late-end",
        "apr-named",
        "apr-named-end",
    ]


def test_the_unreadable_files_of_a_summarized_day_are_named_by_every_reader(
    tmp_path: Path,
) -> None:
    """A day's summary keeps the files it could not read, so a reader that uses the summary
    instead of reading the day names them all the same."""
    import subprocess

    pygit2.init_repository(str(tmp_path), initial_head="main")
    _commit(tmp_path, _proposal("apr-1", NOW - timedelta(hours=3)))
    day = tmp_path / "audit" / SERVICE / "2026-02-10"
    (day / "notes.json").write_text("{}")
    (day / "120000-approval_granted-apr-x.json").write_text("{not json")
    (day / ".keep").write_text("")
    env = {"GIT_AUTHOR_NAME": "p", "GIT_AUTHOR_EMAIL": "p@x", "GIT_COMMITTER_NAME": "p"}
    env |= {"GIT_COMMITTER_EMAIL": "p@x", "PATH": "/usr/bin:/bin"}
    subprocess.run(["git", "-C", str(tmp_path), "add", "-A"], check=True, env=env)
    subprocess.run(["git", "-C", str(tmp_path), "commit", "-qm", "by hand"], check=True, env=env)
    beginnings = {
        f"audit/{SERVICE}/2026-02-10/notes.json": "the file name is not",
        f"audit/{SERVICE}/2026-02-10/120000-approval_granted-apr-x.json": "invalid JSON",
    }
    everything = GitAuditStore(tmp_path)
    everything.events(SERVICE, APPROVAL_EVENTS)
    expected = {item.path: item.reason for item in everything.unreadable()}
    assert sorted(expected) == sorted(beginnings)
    for path, reason in beginnings.items():
        assert expected[path].startswith(reason), expected[path]
    for reader in ("makes the summary", "reads the summary kept"):
        store = GitAuditStore(tmp_path)
        chosen = store.approvals(SERVICE, digest="d-loaded", since=NOW - timedelta(days=1))
        assert sorted(record.id for record in chosen) == ["apr-1", "apr-1-end"], reader
        skipped = {item.path: item.reason for item in store.unreadable()}
        assert skipped == expected, reader  # word for word what reading everything says
        store.flush()


def test_a_refused_merge_of_any_age_is_read_with_its_proposal(tmp_path: Path) -> None:
    """A refusal naming the loaded blueprint's digest, or a refused merge that left no file,
    holds the service whatever its age: each is read, and its proposal's request with it
    (by the proposal's id), though neither names the loaded blueprint. A proposal settled
    before them is not read; the day of the last moment no proposal was open is read whole."""
    pygit2.init_repository(str(tmp_path), initial_head="main")
    records = _proposal("apr-old", NOW - timedelta(days=15), key=KEYS[1])
    for approval, days, merged in (("apr-nofile", 12, None), ("apr-named", 9, "d-loaded")):
        request, refusal = _proposal(
            approval, NOW - timedelta(days=days), end=(EventType.APPROVAL_REFUSED, Outcome.REFUSED)
        )
        records += [
            request,
            replace(refusal, details={**refusal.details, "merged_blueprint_digest": merged}),
        ]
    records += _proposal("apr-last", NOW - timedelta(days=6), key=KEYS[1])
    _commit(tmp_path, records)
    assert _chosen(tmp_path, NOW - timedelta(hours=1)) == [
        "apr-last",
        "apr-last-end",
        "apr-named",
        "apr-named-end",
        "apr-nofile",
        "apr-nofile-end",
    ]


def test_the_window_starts_on_its_day_in_utc_whatever_the_machines_zone(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """The window's first day is its UTC day, as the day folders are: on a machine fourteen
    hours ahead, a window starting late on 9 February still reads that day's folder."""
    import time

    pygit2.init_repository(str(tmp_path), initial_head="main")
    late = datetime(2026, 2, 9, 23, 30, tzinfo=UTC)
    records = _proposal("apr-late", late, after=timedelta(minutes=15))
    records += _proposal("apr-next", late + timedelta(hours=11))
    _commit(tmp_path, records)
    monkeypatch.setenv("TZ", "UTC-14")
    time.tzset()
    try:
        chosen = _chosen(tmp_path, late - timedelta(minutes=30))
    finally:
        monkeypatch.undo()
        time.tzset()
    assert chosen == ["apr-late", "apr-late-end", "apr-next", "apr-next-end"]


def test_one_store_reads_a_day_again_once_its_folder_changed(tmp_path: Path) -> None:
    """The summaries a store keeps in memory are keyed by each day folder's tree: a record
    added to an old day after a first reading (a run that proposes, then reads again) is seen
    by the same store exactly as a fresh one sees it."""
    pygit2.init_repository(str(tmp_path), initial_head="main")
    records = []
    for day in (15, 10, 5):
        records += _proposal(f"apr-{day:03d}", NOW - timedelta(days=day))
    store = GitAuditStore(tmp_path)

    def chosen(reader: GitAuditStore) -> list[str]:
        found = reader.approvals(SERVICE, digest="d-loaded", since=NOW - timedelta(days=1))
        return sorted(record.id for record in found)

    for record in records:
        store.append([record], commit_message(f"{SERVICE}: {record.id}", [record]))
    store.flush()
    # Every proposal ended days ago: the reading starts from the last of them (its day whole).
    assert chosen(store) == ["apr-005", "apr-005-end"]
    # A proposal still open, in the folder of ten days ago: from it on, everything is read.
    opened = _proposal("apr-open", NOW - timedelta(days=10, minutes=-90), key=KEYS[1], end=None)
    store.append(opened, commit_message(f"{SERVICE}: apr-open", opened))
    store.flush()
    fresh = chosen(GitAuditStore(tmp_path))
    assert "apr-open" in fresh
    assert chosen(store) == fresh


def test_a_later_day_folds_on_from_the_state_at_the_end_of_the_last_unchanged_one(
    tmp_path: Path,
) -> None:
    """A new day folder is summarized from the fold's state at the end of the day just before
    it: a proposal opened there and still open keeps every record after it in the reading."""
    pygit2.init_repository(str(tmp_path), initial_head="main")
    records = _proposal("apr-020", NOW - timedelta(days=20))
    records += _proposal("apr-015", NOW - timedelta(days=15))
    records += _proposal("apr-012", NOW - timedelta(days=12), key=KEYS[1], end=None)
    store = GitAuditStore(tmp_path)

    def chosen(reader: GitAuditStore) -> list[str]:
        found = reader.approvals(SERVICE, digest="d-loaded", since=NOW - timedelta(days=1))
        return sorted(record.id for record in found)

    for record in records:
        store.append([record], commit_message(f"{SERVICE}: {record.id}", [record]))
    store.flush()
    assert chosen(store) == ["apr-012"]
    later = _proposal("apr-005", NOW - timedelta(days=5))
    store.append(later, commit_message(f"{SERVICE}: apr-005", later))
    store.flush()
    expected = ["apr-005", "apr-005-end", "apr-012"]
    assert chosen(GitAuditStore(tmp_path)) == expected
    assert chosen(store) == expected


def test_latest_passes_over_the_days_a_kept_summary_says_hold_no_kind_wanted(
    tmp_path: Path,
) -> None:
    """`latest` walks the days newest first. A day folder whose summary was kept for its very
    tree, saying no file of it is of a wanted kind, is passed over without being listed (its
    misnamed files named all the same); a folder changed since its summary is listed again.

    What a listing would find is made visible by planting, in the kept listings of the days
    the summaries pass over, a readable record of the kind wanted: it is never returned."""
    import marshal
    import sqlite3

    from reconciler.adapters.trail_cache import CACHE_FILE
    from tests.adapters.test_git_audit import _commit_files, rec

    pygit2.init_repository(str(tmp_path), initial_head="main")
    old = rec(EventType.BREAKER_OPENED, -2 * 86400, service=SERVICE, rid="brk-old")
    today = rec(EventType.DECISION_MADE, 0, service=SERVICE, rid="dec-now")
    _commit(tmp_path, [old, *_proposal("apr-1", NOW - timedelta(days=1)), today])
    days = [(NOW - timedelta(days=n)).date().isoformat() for n in (2, 1, 0)]
    folder = tmp_path / "audit" / SERVICE
    (folder / days[0] / "stray.txt").write_text("{}")
    (folder / days[1] / "notes.json").write_text("{}")
    _commit_files(tmp_path)
    keeper = GitAuditStore(tmp_path)
    keeper.approvals(SERVICE, digest="d-loaded", since=NOW - timedelta(days=1))
    keeper.flush()
    planted = rec(EventType.BREAKER_OPENED, 0, service=SERVICE, rid="brk-planted")
    blob = str(pygit2.Repository(str(tmp_path)).create_blob(planted.dumps().encode()))
    entry = ("235959-breaker_opened-brk-planted.json", blob, "blob", 0o100644)
    with sqlite3.connect(tmp_path / ".git" / CACHE_FILE) as db:
        for day in days[1:]:
            (raw,) = db.execute(
                "SELECT entries FROM listings WHERE service = ? AND day = ?", (SERVICE, day)
            ).fetchone()
            db.execute(
                "UPDATE listings SET entries = ? WHERE service = ? AND day = ?",
                (marshal.dumps([*marshal.loads(raw), entry]), SERVICE, day),
            )
    fresh = GitAuditStore(tmp_path)
    found = fresh.latest(SERVICE, {EventType.BREAKER_OPENED, EventType.BREAKER_RESET})
    assert found is not None and found.id == "brk-old"
    skipped = {item.path: item.reason for item in fresh.unreadable(SERVICE)}
    assert sorted(skipped) == [
        f"audit/{SERVICE}/{days[0]}/stray.txt",
        f"audit/{SERVICE}/{days[1]}/notes.json",
    ]
    assert all(reason.startswith("the file name is not") for reason in skipped.values())
    # A breaker opened on the day of the proposal changes that folder: it is listed again.
    new = rec(EventType.BREAKER_OPENED, -86400 + 3600, service=SERVICE, rid="brk-new")
    _commit(tmp_path, [new])
    found = GitAuditStore(tmp_path).latest(SERVICE, {EventType.BREAKER_OPENED})
    assert found is not None and found.id == "brk-new"


def _git(repo: Path, *args: str) -> None:
    import subprocess

    env = {"GIT_AUTHOR_NAME": "p", "GIT_AUTHOR_EMAIL": "p@x", "GIT_COMMITTER_NAME": "p"}
    env |= {"GIT_COMMITTER_EMAIL": "p@x", "PATH": "/usr/bin:/bin"}
    subprocess.run(["git", "-C", str(repo), *args], check=True, env=env, capture_output=True)


def test_an_index_saved_by_runs_at_other_commits_out_of_order_still_reads_every_record(
    tmp_path: Path,
) -> None:
    """The index file is shared by every run of the repository, whatever commit each reads.
    A run that read it before another saved, and saves after it, can leave a later day's
    summary without the day it was folded on from (here: folded on from a proposal opened
    the day before, whose folder a person then removed). No day of what HEAD has then ends
    with no proposal open, and every approval record is read, as without the index."""
    pygit2.init_repository(str(tmp_path), initial_head="main")
    opened = _proposal("apr-open", NOW - timedelta(days=3), key=KEYS[1], end=None)
    _commit(tmp_path, opened)
    first = GitAuditStore(tmp_path)
    assert _chosen_by(first) == ["apr-open"]
    first.flush()  # the index: the day the proposal opened
    _git(tmp_path, "rm", "-r", "-q", f"audit/{SERVICE}")
    _git(tmp_path, "commit", "-q", "-m", "the service's trail removed")
    slow = GitAuditStore(tmp_path)  # reads while the service has no trail...
    assert _chosen_by(slow) == []
    _git(tmp_path, "revert", "--no-edit", "HEAD")
    later = _proposal("apr-later", NOW - timedelta(days=1))
    _commit(tmp_path, later)
    other = GitAuditStore(tmp_path)
    assert _chosen_by(other) == ["apr-later", "apr-later-end", "apr-open"]
    other.flush()  # the later day, folded on from the open proposal
    slow.flush()  # ...and saves after: the day the proposal opened is dropped
    _git(tmp_path, "rm", "-r", "-q", f"audit/{SERVICE}/{opened[0].timestamp:%Y-%m-%d}")
    _git(tmp_path, "commit", "-q", "-m", "the first day's folder removed")
    store = GitAuditStore(tmp_path)
    everything = [record.id for record in store.events(SERVICE, APPROVAL_EVENTS)]
    assert everything == ["apr-later", "apr-later-end"]
    assert _chosen_by(GitAuditStore(tmp_path)) == everything


def test_an_index_file_deleted_while_a_store_reads_folds_again_from_the_first_day(
    tmp_path: Path,
) -> None:
    """Deleting the index is always safe, even under a store that already read it: the
    fold's state at the end of the last unchanged day is then gone, and a new day is folded
    on from the trail's first day, so a proposal opened days before is still open."""
    pygit2.init_repository(str(tmp_path), initial_head="main")
    records = _proposal("apr-020", NOW - timedelta(days=20))
    records += _proposal("apr-012", NOW - timedelta(days=12), key=KEYS[1], end=None)
    store = GitAuditStore(tmp_path)
    for record in records:
        store.append([record], commit_message(f"{SERVICE}: {record.id}", [record]))
    store.flush()
    assert _chosen_by(store) == ["apr-012"]
    store.flush()  # the day summaries written
    index = tmp_path / ".git" / "reconciler" / "trail.db"
    for leftover in (index, *index.parent.glob(index.name + "-*")):
        leftover.unlink()
    later = _proposal("apr-005", NOW - timedelta(days=5))
    store.append(later, commit_message(f"{SERVICE}: apr-005", later))
    store.flush()
    assert _chosen_by(store) == ["apr-005", "apr-005-end", "apr-012"]


def test_a_kept_summary_stands_for_its_folder_while_the_folder_is_unchanged(
    tmp_path: Path,
) -> None:
    """A day whose folder's tree is the one kept is not read again: what the index kept of
    it is used (here: an unreadable file it noted, edited into the index file to show it),
    by every later run and when a new day is folded on from it, once a day removed before
    it is dropped from the index; a record added to the folder changes its tree, and the
    day is read again."""
    import marshal
    import sqlite3

    pygit2.init_repository(str(tmp_path), initial_head="main")
    old = NOW - timedelta(days=10)
    records = _proposal("apr-first", NOW - timedelta(days=12))
    records += _proposal("apr-loaded", NOW - timedelta(days=11), named="d-loaded")
    records += _proposal("apr-old", old) + _proposal("apr-new", NOW - timedelta(days=2))
    _commit(tmp_path, records)
    first = GitAuditStore(tmp_path)  # reads the records of the loaded blueprint by their marks
    assert _chosen_by(first) == ["apr-loaded", "apr-loaded-end", "apr-new", "apr-new-end"]
    first.flush()
    _git(tmp_path, "rm", "-r", "-q", f"audit/{SERVICE}/{records[0].timestamp:%Y-%m-%d}")
    _git(tmp_path, "commit", "-q", "-m", "the first day's folder removed")
    second = GitAuditStore(tmp_path)
    assert _chosen_by(second) == ["apr-loaded", "apr-loaded-end", "apr-new", "apr-new-end"]
    second.flush()
    day = f"{old:%Y-%m-%d}"
    noted = f"audit/{SERVICE}/{day}/noted-by-the-index.json"
    with contextlib.closing(sqlite3.connect(tmp_path / ".git" / "reconciler" / "trail.db")) as db:
        (raw,) = db.execute(
            "SELECT summary FROM days WHERE service = ? AND day = ?", (SERVICE, day)
        ).fetchone()
        summary = marshal.loads(raw)
        summary["name_skips"] = [(noted, "the file name is not <HHMMSS>-<event_type>-<id>.json")]
        db.execute(
            "UPDATE days SET summary = ? WHERE service = ? AND day = ?",
            (marshal.dumps(summary), SERVICE, day),
        )
        db.commit()
    for reader in ("reads the index", "reads it after another run kept it"):
        kept = GitAuditStore(tmp_path)
        assert _chosen_by(kept)[-2:] == ["apr-new", "apr-new-end"], reader
        assert [item.path for item in kept.unreadable()] == [noted], reader
        kept.flush()
    _commit(tmp_path, _proposal("apr-today", NOW - timedelta(hours=2)))
    later = GitAuditStore(tmp_path)  # reads the old day's folder of the loaded blueprint
    assert _chosen_by(later)[-2:] == ["apr-today", "apr-today-end"]
    assert [item.path for item in later.unreadable()] == [noted]
    later.flush()  # as the index kept it, and keeps the new day's summary
    with contextlib.closing(sqlite3.connect(tmp_path / ".git" / "reconciler" / "trail.db")) as db:
        kept_days = db.execute("SELECT day FROM days WHERE service = ?", (SERVICE,)).fetchall()
    assert (f"{NOW - timedelta(hours=2):%Y-%m-%d}",) in kept_days
    _commit(tmp_path, _proposal("apr-added", old + timedelta(hours=2)))
    again = GitAuditStore(tmp_path)
    assert _chosen_by(again)[-2:] == ["apr-today", "apr-today-end"]
    assert again.unreadable() == []


def test_a_store_reads_at_its_head_whatever_another_run_indexed_since(tmp_path: Path) -> None:
    """A store reads the trail at HEAD as it last looked it up. Another run that commits
    records into an old day and into days its HEAD lacks (one older than any), all naming the
    loaded blueprint, and keeps their marks in the index file meanwhile, changes nothing of
    what the store reads: those marks name files of folders its HEAD does not have, and the
    record of the loaded blueprint its HEAD has is still read."""
    pygit2.init_repository(str(tmp_path), initial_head="main")
    old = NOW - timedelta(days=10)
    records = _proposal("apr-old", old)
    records += _proposal("apr-loaded", NOW - timedelta(days=8), named="d-loaded")
    records += _proposal("apr-new", NOW - timedelta(days=2))
    _commit(tmp_path, records)
    store = GitAuditStore(tmp_path)
    mine = ["apr-loaded", "apr-loaded-end", "apr-new", "apr-new-end"]
    assert _chosen_by(store) == mine
    store.flush()
    other = GitAuditStore(tmp_path)
    named = _proposal("apr-named-older", NOW - timedelta(days=15), named="d-loaded")
    named += _proposal("apr-named-old", old + timedelta(hours=2), named="d-loaded")
    named += _proposal("apr-named-new", NOW - timedelta(hours=30), named="d-loaded")
    for record in named:
        other.append([record], commit_message(f"{SERVICE}: {record.id}", [record]))
    indexed = sorted([*mine[:2], *(record.id for record in named)])
    assert _chosen_by(other, NOW - timedelta(hours=1)) == indexed
    other.flush()
    # Asked again (another window, so not the answer it gave before), at the HEAD it read.
    assert _chosen_by(store, NOW - timedelta(hours=1)) == mine
    assert _chosen_by(GitAuditStore(tmp_path), NOW - timedelta(hours=1)) == indexed


@pytest.mark.parametrize("settled", [True, False], ids=["quiet-after-a-record", "quiet-at-dawn"])
def test_a_proposal_the_records_read_leave_open_makes_every_record_read(
    tmp_path: Path, settled: bool
) -> None:
    """A request naming the loaded blueprint, replaced on its topic by another proposal's
    request whose rejection closed the topic (an order no reconciler writes): read alone, it
    would be judged still open. The records read then judge otherwise than those after the
    last quiet moment (after the last record of a settled proposal, or at the start of the
    day a proposal still open began), and every approval record is read, which closes it."""
    pygit2.init_repository(str(tmp_path), initial_head="main")
    records = _proposal("apr-1", NOW - timedelta(days=10), named="d-loaded", end=None)
    records += _proposal("apr-2", NOW - timedelta(days=9))
    records += _proposal(
        "apr-new",
        NOW - timedelta(days=2),
        key=KEYS[1],
        end=(EventType.APPROVAL_REJECTED, Outcome.REJECTED) if settled else None,
    )
    _commit(tmp_path, records)
    store = GitAuditStore(tmp_path)
    chosen = store.approvals(SERVICE, digest="d-loaded", since=NOW - timedelta(hours=1))
    assert sorted(record.id for record in chosen) == sorted(record.id for record in records)
    assert [pending.record.id for pending in pending_proposals(chosen)] == (
        [] if settled else ["apr-new"]
    )


def test_the_records_after_the_quiet_moment_are_those_written_after_it_in_any_folder(
    tmp_path: Path,
) -> None:
    """A proposal's rejection filed under an older day's folder (moved there by hand) is
    read with its request by their approval id. Written after the day's last quiet moment,
    it counts among the records after it, which then judge as all the records read do: the
    older settled proposal is left unread."""
    pygit2.init_repository(str(tmp_path), initial_head="main")
    day = NOW - timedelta(days=3)
    records = _proposal("apr-older", NOW - timedelta(days=6))
    records += _proposal("apr-quiet", day.replace(hour=9, minute=0))
    records += _proposal("apr-5", day.replace(hour=11, minute=0), key=KEYS[1])
    _commit(tmp_path, records)
    moved = f"{records[-1].timestamp:%H%M%S}-approval_rejected-apr-5-end.json"
    _git(
        tmp_path,
        "mv",
        f"audit/{SERVICE}/{day:%Y-%m-%d}/{moved}",
        f"audit/{SERVICE}/{NOW - timedelta(days=6):%Y-%m-%d}/{moved}",
    )
    _git(tmp_path, "commit", "-q", "-m", "a rejection filed under an older day")
    chosen = _chosen(tmp_path, NOW - timedelta(hours=1))
    assert chosen == ["apr-5", "apr-5-end", "apr-quiet", "apr-quiet-end"]
    everything = GitAuditStore(tmp_path).events(SERVICE, APPROVAL_EVENTS)
    assert pending_proposals(everything) == []


def test_an_end_of_another_proposal_on_an_open_topic_a_day_later_leaves_it_open(
    tmp_path: Path,
) -> None:
    """The fold carried into a day holds each topic's open request: a rejection on the same
    topic the next day, of another proposal, does not end it (the end of an earlier
    proposal, sorted after its successor's request), so no moment after the request is
    quiet and the reading starts before it."""
    pygit2.init_repository(str(tmp_path), initial_head="main")
    records = _proposal("apr-1", NOW - timedelta(days=10), end=None)
    records += _proposal("apr-0", NOW - timedelta(days=9, minutes=30))[1:]
    records += _proposal("apr-new", NOW - timedelta(days=2), key=KEYS[1])
    _commit(tmp_path, records)
    chosen = GitAuditStore(tmp_path).approvals(
        SERVICE, digest="d-loaded", since=NOW - timedelta(hours=1)
    )
    assert sorted(record.id for record in chosen) == sorted(record.id for record in records)
    assert [pending.record.id for pending in pending_proposals(chosen)] == ["apr-1"]


def test_a_day_is_folded_in_the_order_of_its_records_not_of_their_file_names(
    tmp_path: Path,
) -> None:
    """A request and its rejection within one second: the rejection's file name sorts first
    ("rejected" before "requested"), the fold takes them in the order they were written, so
    the day ends with no proposal open and the reading starts from the next day's quiet
    moment."""
    pygit2.init_repository(str(tmp_path), initial_head="main")
    second = NOW.replace(microsecond=0) - timedelta(days=3)
    records = _proposal("apr-1", second + timedelta(milliseconds=200), after=timedelta(0, 0, 500))
    assert records[0].timestamp.second == records[1].timestamp.second
    records += _proposal("apr-3", NOW - timedelta(days=2), key=KEYS[1])
    _commit(tmp_path, records)
    assert _chosen(tmp_path, NOW - timedelta(hours=1)) == ["apr-3", "apr-3-end"]


def test_a_stores_summaries_stand_for_its_head_whatever_another_run_kept_since(
    tmp_path: Path,
) -> None:
    """The day summaries a store made stand for the HEAD it reads, in memory: another run
    at a later commit, where the day a proposal opened is gone, keeps other fold states for
    the days after it, and the store still reads that proposal as open."""
    pygit2.init_repository(str(tmp_path), initial_head="main")
    opened = _proposal("apr-a", NOW - timedelta(days=10), key=KEYS[1], end=None)
    _commit(tmp_path, opened + _proposal("apr-b", NOW - timedelta(days=6)))
    first = GitAuditStore(tmp_path)
    _chosen_by(first)
    first.flush()
    _commit(tmp_path, _proposal("apr-c", NOW - timedelta(days=2)))
    store = GitAuditStore(tmp_path)
    everything = ["apr-a", "apr-b", "apr-b-end", "apr-c", "apr-c-end"]
    assert _chosen_by(store) == everything
    store.flush()
    _git(tmp_path, "rm", "-r", "-q", f"audit/{SERVICE}/{opened[0].timestamp:%Y-%m-%d}")
    _git(tmp_path, "commit", "-q", "-m", "the day the proposal opened removed")
    other = GitAuditStore(tmp_path)
    assert _chosen_by(other) == ["apr-c", "apr-c-end"]
    other.flush()
    # Asked again (another window, so not the answer it gave before), at the HEAD it read.
    assert _chosen_by(store, NOW - timedelta(hours=1)) == everything
