"""GitAuditStore: audit records as files under audit/, one commit per event, with pygit2.

Commits are built from trees directly (the HEAD tree plus the new files), so the store never
needs a clean working tree and never disturbs what a person has staged: afterwards the index
is brought in line with HEAD for audit/ alone, and the files are written to the working tree,
so the checkout matches what was committed and a person's next commit keeps the records. An
index that cannot be updated then (git's lock on it held) is repaired by the next writer.
Reading goes through the committed tree, not the disk, so what a cycle sees is exactly what is
in git, and every record is read by one function (`read_record`): a file that is not a
readable record is skipped and listed by `unreadable()` rather than crashing the reader.

Every commit carries an explicit signature: CI machines have no git identity, and the
simulated cluster's virtual clock, not the wall clock, dates its events.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Collection, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import pygit2

from reconciler.adapters.gitrepo import merge_tree, nest, restore_index, write_error
from reconciler.adapters.trail_cache import TrailCache
from reconciler.core.approvals.lifecycle import APPROVAL_EVENTS
from reconciler.core.approvals.pending import PendingFold, pending_proposals, trail_marks
from reconciler.core.errors import AuditError, ConfigError
from reconciler.core.trail.records import (
    AUDIT_DIR,
    MAX_RECORD_BYTES,
    CommitMessage,
    EventType,
    Record,
    RecordError,
    UnreadableRecord,
    parse_record_name,
    read_record,
    record_path,
)

__all__ = ["GitAuditStore"]


class GitAuditStore:
    def __init__(
        self, root: Path, *, name: str = "reconciler", email: str = "reconciler@localhost"
    ):
        import pygit2  # deferred: only commands that read or write the trail pay for it

        self._pygit2 = pygit2
        try:
            self.repo = pygit2.Repository(str(root))
        except pygit2.GitError as error:
            raise ConfigError(
                f"{root} is not a git repository: {error}",
                hint="the audit trail lives in git; run inside a clone, or `git init` first",
            ) from error
        self.name = name
        self.email = email
        #: Paths of records committed by this store since the last flush.
        self._written: list[str] = []
        #: Why the last flush could not update the index (None: it did).
        self.index_error: AuditError | None = None
        self._cache_head: Any = None
        self._cache: dict[tuple[str, ...], Any] = {}
        #: Records read so far by (path, blob id): the trail is append-only, so a blob once
        #: read never needs reading again in this process.
        self._parsed: dict[tuple[str, str], Record | None] = {}
        self._unreadable: dict[str, UnreadableRecord] = {}
        #: What earlier runs read, by blob id (see trail_cache); each day folder fetched once.
        self._kept = TrailCache(self.repo.path)
        self._head_id: Any = None
        self._head: pygit2.Commit | None = None
        #: Whether `_head` is HEAD as this store last looked it up (see _head_commit).
        self._head_known = False
        #: Each day folder's entries named like records, and its other names, by the
        #: folder's tree id.
        self._listings: dict[Any, list[tuple[pygit2.Object, tuple[str, EventType, str]]]] = {}
        self._misnamed: dict[Any, list[str]] = {}
        #: The last answer of `approvals`, by what it was asked and HEAD's commit.
        self._approvals: dict[tuple[str, str, datetime, str | None], list[Record]] = {}
        #: The commits this store made since the index was last brought in step.
        self._commits: set[str] = set()
        #: The index's day summaries read or made in this process, by service.
        self._summary_cache: dict[str, dict[str, tuple[str, Any]]] = {}

    # ------------------------------------------------------------------ writing

    def _head_commit(self, *, check: bool = False) -> pygit2.Commit | None:
        """HEAD's commit. A read takes the one this store last looked up; a write (`check`)
        looks it up again, since it must build on where the branch is now.

        One writer holds the repository, so between this store's own commits the trail at
        HEAD changes only if someone commits records by hand meanwhile, which is no different
        from committing them just after this store read: the next read after any write of
        this store, and every write, sees them. Checking where HEAD is for every read (four
        `stat` calls each, several per service) cost more than reading a service's day."""
        if not check and self._head_known:
            return self._head
        try:
            head = self.repo.head.target
        except self._pygit2.GitError:  # no commit yet (an unborn branch)
            self._head_id = self._head = None
            self._head_known = True
            return None
        if head != self._head_id:  # looking the commit up again costs more than the ref
            self._head_id, self._head = head, cast("pygit2.Commit", self.repo[head])
        self._head_known = True
        return self._head

    def refresh(self) -> None:
        """Look HEAD up again at the next read (after a commit made outside this store)."""
        self._head_known = False

    def _tree(self, oid: pygit2.Oid) -> pygit2.Tree:
        return cast("pygit2.Tree", self.repo[oid])

    def append(self, records: Sequence[Record], message: CommitMessage) -> str:
        if not records:
            raise ValueError("append needs at least one record")
        git = self._pygit2
        try:
            parent = self._head_commit(check=True)
            files = []
            for record in records:
                path = record_path(record)
                if parent is not None and path in parent.tree:
                    # The trail is append-only: a record is never rewritten, whatever asks.
                    raise AuditError(
                        f"committing audit records: {path} already exists",
                        hint="record ids are unique; this is a bug worth reporting",
                    )
                files.append((path, self.repo.create_blob(record.dumps().encode()), record))
            changes = nest({path: blob for path, blob, _record in files})
            tree = self._tree(merge_tree(self.repo, parent.tree if parent else None, changes))
            moment = max(record.timestamp for record in records).astimezone(UTC)
            signature = git.Signature(self.name, self.email, int(moment.timestamp()), 0)
            commit = self.repo.create_commit(
                None,
                signature,
                signature,
                message.render(),
                tree.id,
                [parent.id] if parent is not None else [],
            )
            self._head_known = False  # moved by this commit, or by someone else: look again
            self._move_head(commit, parent)
            self._commits.add(str(commit))
        except (git.GitError, OSError) as error:  # a lock git cannot take is an OSError
            raise write_error(
                self.repo,
                error,
                "committing audit records",
                names=[self._head_ref()],
                kind=AuditError,
            ) from error
        if self.repo.workdir:
            for path, _blob, record in files:
                self._written.append(path)
                target = Path(self.repo.workdir) / path
                # The records are committed; a file the checkout lacks is written by the
                # next flush, so failing here would only hide that the work was done.
                with contextlib.suppress(OSError):
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text(record.dumps(), encoding="utf-8")
        return str(commit)

    def _head_ref(self) -> str:
        """The ref an audit commit moves: the checked-out branch, or HEAD when detached."""
        head = self.repo.references.get("HEAD")
        target = head.target if head is not None else None
        return target if isinstance(target, str) else "HEAD"

    def _move_head(self, commit: Any, parent: Any | None) -> None:
        head = self.repo.references.get("HEAD")
        name = head.target if head is not None and isinstance(head.target, str) else None
        ref = self.repo.references.get(name) if name is not None else None
        # HEAD or the branch must still be where this commit was built on: at `parent`, or
        # unborn when there was none (another writer's first commit may have created it).
        current = head.target if name is None and head is not None else None
        if ref is not None:
            current = ref.target
        if current != (parent.id if parent is not None else None):
            raise AuditError(
                f"{name or 'HEAD'} moved while a record was being committed",
                hint="another writer committed at the same time; run again",
            )
        if name is None:  # detached HEAD: move HEAD itself
            self.repo.set_head(commit)
        elif ref is None:
            self.repo.references.create(name, commit)
        else:
            ref.set_target(commit, "reconciler: audit record")

    def flush(self) -> None:
        """Bring the index (and the checkout) up to date with the records committed, so
        `git status` shows a clean tree and a person's next commit keeps them.

        The records are committed already, so an index that cannot be written now (git's
        lock on it held by another command) is not this batch's failure: it is kept in
        `index_error`, the command reports it once, and the next writer repairs the index.
        """
        self._kept.save()
        try:
            self.repair_index()
        except AuditError as error:
            self.index_error = error
            return
        self.index_error = None

    def repair_index(self) -> int:
        """Make git's index list every record HEAD has under audit/ (and the checkout hold
        its file), touching nothing else; returns how many entries it restored. Raises
        AuditError, naming git's lock when one is in the way, if the index cannot be written.

        Comparing the whole index with HEAD costs as much as the trail is long, and every
        command that writes asks three times. So the last comparison that found the index in
        step is remembered (`.git/reconciler/index-mark`: HEAD's commit and the index file's
        size, time and inode): while neither changed, the index is still in step; when HEAD
        moved only by this store's own commits and the index file is the one compared, only
        the records they wrote are added. Anything else (a person's commit, a `git add`, a
        missing mark) is compared in full, as before. (The index file ends with a hash of
        its content, which is what the mark keeps of it.)
        """
        if self.repo.is_bare:
            return 0
        restored = self._in_step()
        if restored is None:
            restored = restore_index(self.repo, f"{AUDIT_DIR}/", written=self._written)
        self._written.clear()
        self._commits.clear()
        self._mark_index()
        return restored

    def _in_step(self) -> int | None:
        """The records added when the index was known in step before this store's commits
        (see repair_index), or None when it has to be compared in full."""
        git = self._pygit2
        mark = self._index_mark()
        head = self._head_commit(check=True)
        if mark is None or head is None or mark.get("index") != _stat_key(self._index_path()):
            return None
        commit = head
        while str(commit.id) != mark.get("head"):
            if str(commit.id) not in self._commits or len(commit.parents) != 1:
                return None
            commit = commit.parents[0]
        paths = list(dict.fromkeys(self._written))
        if not paths:
            return 0
        try:
            index = self.repo.index
            index.read()
            for path in paths:
                entry = head.tree[path]
                index.add(git.IndexEntry(path, entry.id, git.enums.FileMode(entry.filemode)))
            index.write()
        except (git.GitError, OSError, KeyError) as error:
            raise write_error(
                self.repo,
                error,
                f"git's index does not list {len(paths)} committed file(s) under {AUDIT_DIR}/",
                names=["index"],
                kind=AuditError,
            ) from error
        for path in paths:  # a record the checkout lacks (its write failed): written now
            target = Path(self.repo.workdir) / path
            if not target.exists():
                with contextlib.suppress(OSError, KeyError):
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(cast("pygit2.Blob", self.repo[head.tree[path].id]).data)
        return len(paths)

    def _index_path(self) -> Path:
        return Path(self.repo.path) / "index"

    def _mark_path(self) -> Path:
        return Path(self.repo.path) / "reconciler" / "index-mark"

    def _index_mark(self) -> dict[str, Any] | None:
        try:
            found = json.loads(self._mark_path().read_text("utf-8"))
        except (OSError, ValueError):
            return None
        return found if isinstance(found, dict) else None

    def _mark_index(self) -> None:
        """Remember that the index is in step with HEAD now (best effort: no mark only means
        comparing in full next time)."""
        head = self._head_commit(check=True)
        key = _stat_key(self._index_path())
        path = self._mark_path()
        if head is None or key is None:
            path.unlink(missing_ok=True)
            return
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"head": str(head.id), "index": key}), "utf-8")

    # ------------------------------------------------------------------ reading
    #
    # Every read of a record goes through `_read`, and so through `read_record`: whatever under
    # audit/<service>/<day>/ is not a readable record (a broken or foreign file, a link, a
    # folder) is skipped and remembered in `unreadable()`, so a reader shows it and a cycle can
    # refuse to act on a history it could not read in full.

    def _subtree(self, *parts: str) -> pygit2.Tree | None:
        """The tree at `parts` in HEAD. Trees are cached per HEAD commit: `audit/` holds one
        entry per service, and parsing it again for every service would dominate a cycle."""
        return self._subtree_at(self._head_commit(), *parts)

    def _subtree_at(self, commit: pygit2.Commit | None, *parts: str) -> pygit2.Tree | None:
        """The same in a commit already looked up (a reader that visits several trees looks
        HEAD up once)."""
        if commit is None:
            return None
        if self._cache_head != commit.id:
            self._cache_head, self._cache = commit.id, {}
        return self._subtree_of(commit, parts)

    def _subtree_of(self, commit: pygit2.Commit, parts: tuple[str, ...]) -> pygit2.Tree | None:
        if parts in self._cache:
            cached: pygit2.Tree | None = self._cache[parts]
            return cached
        node: pygit2.Tree | None = commit.tree
        if parts:
            parent = self._subtree_of(commit, parts[:-1])
            entry = parent[parts[-1]] if parent is not None and parts[-1] in parent else None
            node = self._tree(entry.id) if entry is not None and entry.type_str == "tree" else None
        self._cache[parts] = node
        return node

    def _days(
        self, service: str, commit: pygit2.Commit | None = None
    ) -> list[tuple[str, pygit2.Oid]]:
        """The service's day folders, oldest first, by name and tree id (a folder is read
        only when a reader visits it)."""
        tree = self._subtree_at(commit or self._head_commit(), AUDIT_DIR, service)
        if tree is None:
            return []
        days = []
        for entry in tree:
            name = entry.name or ""
            if entry.type_str == "tree":
                days.append((name, entry.id))
            elif not name.startswith("."):
                self._skip(f"{AUDIT_DIR}/{service}/{name}", "not a day folder (YYYY-MM-DD)")
        return sorted(days, key=lambda pair: pair[0])

    def _entries(
        self, service: str, day: str, oid: pygit2.Oid
    ) -> Iterator[tuple[pygit2.Object, tuple[str, EventType, str]]]:
        """The entries of one day folder named like records, with their parsed names; any
        other entry (hidden ones aside) is noted as unreadable without being read. A folder
        is looked up and listed once per process (by its tree id: the same id is the same
        entries), however often a cycle reads the service."""
        listed = self._listings.get(oid)
        if listed is not None:
            yield from listed
            for name in self._misnamed.get(oid, ()):
                self._skip(
                    f"{AUDIT_DIR}/{service}/{day}/{name}",
                    "the file name is not <HHMMSS>-<event_type>-<id>.json",
                )
            return
        listed, misnamed = [], []
        tree = self._tree(oid)
        for item in tree:
            name = item.name or ""
            parsed = parse_record_name(name)
            if parsed is not None:
                listed.append((item, parsed))
            elif not name.startswith("."):
                misnamed.append(name)
        self._listings[oid] = listed
        self._misnamed[oid] = misnamed
        yield from self._entries(service, day, oid)

    def _read(self, service: str, day: str, entry: pygit2.Object) -> Record | None:
        """The one way a record is read: the entry's blob through `read_record`, or None (and
        a note in `unreadable()`) for anything that is not a readable record."""
        path = f"{AUDIT_DIR}/{service}/{day}/{entry.name}"
        key = (path, str(entry.id))
        if key in self._parsed:
            return self._parsed[key]
        record: Record | None = None
        # The file's mode is part of what it is: the same bytes as a link are no record.
        blob_id = f"{entry.id}:{getattr(entry, 'filemode', '')}"
        result = self._kept.get(service, day, entry.name or "", blob_id)
        if result is not None:
            if isinstance(result, Record):
                record = result
            else:
                self._skip(path, str(result))
            self._parsed[key] = record
            return record
        mode = getattr(entry, "filemode", None)
        if entry.type_str != "blob":
            self._skip(path, f"a {'folder' if entry.type_str == 'tree' else 'submodule'}")
        elif mode == self._pygit2.enums.FileMode.LINK:
            self._skip(path, "a symbolic link, not a file")
        else:
            blob = cast("pygit2.Blob", self.repo[entry.id])
            try:
                if blob.size > MAX_RECORD_BYTES:  # refused before it is read into memory
                    raise RecordError(f"{blob.size} bytes, larger than any record")
                record = read_record(path, bytes(blob.data))
            except RecordError as error:
                self._skip(path, str(error))
        if entry.type_str == "blob":
            reason = self._unreadable[path].reason if record is None else None
            self._kept.put(service, day, entry.name or "", blob_id, record or reason)
        self._parsed[key] = record
        return record

    def _skip(self, path: str, reason: str) -> None:
        self._unreadable.setdefault(path, UnreadableRecord(path=path, reason=reason))

    def unreadable(self, service: str | None = None) -> list[UnreadableRecord]:
        return [
            item
            for path, item in sorted(self._unreadable.items())
            if service is None or item.service == service
        ]

    def history(self, service: str, since: datetime) -> list[Record]:
        moment = since.astimezone(UTC)
        first_day = moment.date().isoformat()
        cutoff = f"{moment:%H%M%S}"
        records = []
        for day, oid in self._days(service):
            if day < first_day:
                continue
            for item, (hhmmss, _event, _id) in self._entries(service, day, oid):
                if day == first_day and hhmmss < cutoff:
                    continue  # older than `since`, by its file name, without reading it
                record = self._read(service, day, item)
                if record is not None and record.timestamp >= since:
                    records.append(record)
        return sorted(records, key=Record.sort_key)

    def latest(self, service: str, events: Collection[EventType]) -> Record | None:
        wanted = set(events)
        kinds = {str(event) for event in wanted}
        summaries = self._stored_summaries(service)
        for day, oid in reversed(self._days(service)):
            stored = summaries.get(day)
            if stored is not None and stored[0] == str(oid) and not kinds & set(stored[1]["kinds"]):
                # The index says no file of the day is of a wanted kind: not listed again,
                # its misnamed files noted as a visit would.
                self._replay(stored[1]["name_skips"])
                continue
            found = [(item, parsed) for item, parsed in self._entries(service, day, oid)]
            for item, parsed in sorted(found, key=lambda pair: pair[0].name or "", reverse=True):
                if parsed[1] in wanted:
                    record = self._read(service, day, item)
                    if record is not None:
                        return record
        return None

    def events(self, service: str, events: Collection[EventType]) -> list[Record]:
        wanted = set(events)
        records = []
        for day, oid in self._days(service):
            for item, parsed in self._entries(service, day, oid):
                if parsed[1] in wanted and (record := self._read(service, day, item)):
                    records.append(record)
        return sorted(records, key=Record.sort_key)

    def contains(self, service: str, at: datetime, record_id: str) -> bool:
        day = at.astimezone(UTC).date()
        head = self._head_commit()
        for candidate in (day - timedelta(days=1), day, day + timedelta(days=1)):
            tree = self._subtree_at(head, AUDIT_DIR, service, candidate.isoformat())
            if tree is not None and any(
                (parsed := parse_record_name(item.name or "")) is not None
                and parsed[2] == record_id
                for item in tree
            ):
                return True
        return False

    def services(self) -> list[str]:
        tree = self._subtree(AUDIT_DIR)
        return (
            sorted(entry.name or "" for entry in tree if entry.type_str == "tree") if tree else []
        )

    def scan(
        self,
        *,
        service: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Iterator[Record]:
        low: date | None = since.astimezone(UTC).date() if since else None
        high: date | None = until.astimezone(UTC).date() if until else None
        records: list[Record] = []
        for name in [service] if service else self.services():
            for day, oid in self._days(name):
                if (low and day < low.isoformat()) or (high and day > high.isoformat()):
                    continue
                for item, _parsed in self._entries(name, day, oid):
                    record = self._read(name, day, item)
                    if record is None:
                        continue
                    if (since and record.timestamp < since) or (until and record.timestamp > until):
                        continue
                    records.append(record)
        yield from sorted(records, key=Record.sort_key)

    # ------------------------------------------------------------------ the approvals a cycle needs
    #
    # `events(service, APPROVAL_EVENTS)` reads every approval record ever written: a year of
    # proposals is thousands of records on every cycle. A cycle needs fewer: the records from
    # the last moment no proposal was open (before it, nothing decides which proposals are
    # pending), those of its windows (grants within their timeout, rejections within their
    # cool-off), and, of any age, the proposals that name the blueprint now loaded (a refused
    # or ungranted merge of it holds the service) or a refused merge that left no file. The
    # trail index (`trail_cache`: one summary per day folder, and the marks of each approval
    # record) finds them without reading the rest. docs/audit-trail.md says why the result
    # is the same as reading everything; the last step checks it for the pending proposals
    # and reads everything when it is not.

    def approvals(self, service: str, *, digest: str, since: datetime) -> list[Record]:
        head = self._head_commit()
        key = (service, digest, since, None if head is None else str(head.id))
        if key not in self._approvals:  # a cycle asks up to three times before it commits
            self._approvals = {key: self._select_approvals(service, digest, since, head)}
        return list(self._approvals[key])

    def _select_approvals(
        self, service: str, digest: str, since: datetime, head: pygit2.Commit | None
    ) -> list[Record]:
        days = self._days(service, head)
        summaries = self._summaries(service, days)
        for summary in summaries.values():
            self._replay(summary["name_skips"])
            self._replay(summary["record_skips"])
        if not any(APPROVAL_KINDS & set(summary["kinds"]) for summary in summaries.values()):
            return []  # no file of the service is an approval record: nothing to read
        quiet: tuple[str, str] | None = None
        for day, _oid in reversed(days):
            if summaries[day]["quiet"] is not None:
                quiet = (day, summaries[day]["quiet"])
                break
        if quiet is None:  # a proposal has been open since the trail began: read it all
            return self.events(service, APPROVAL_EVENTS)
        first_day = min(quiet[0], since.astimezone(UTC).date().isoformat())
        trees = dict(days)
        chosen: dict[tuple[str, str], Record] = {}
        for day, oid in days:
            if day >= first_day:
                for item, parsed in self._entries(service, day, oid):
                    if parsed[1] in APPROVAL_EVENTS and (found := self._read(service, day, item)):
                        chosen[(day, item.name or "")] = found
        wanted = {f"digest:{digest}", "refusal-unknown"}
        wanted |= {mark for record in chosen.values() for mark in _ids(record)}
        asked: set[str] = set()
        while wanted - asked:
            new = wanted - asked
            asked |= new
            for day, name in sorted(self._kept.marked(service, new)):
                if (day, name) in chosen or day not in trees:
                    continue
                tree = self._tree(trees[day])
                if name not in tree:
                    continue
                found = self._read(service, day, tree[name])
                if found is not None:
                    chosen[(day, name)] = found
                    wanted |= _ids(found)
        records = sorted(chosen.values(), key=Record.sort_key)
        start = chosen.get(quiet)
        if quiet[1] and start is None:
            return self.events(service, APPROVAL_EVENTS)
        suffix = [
            record
            for (day, _name), record in chosen.items()
            if (record.sort_key() > start.sort_key() if start is not None else day >= quiet[0])
        ]
        if pending_proposals(records) != pending_proposals(suffix):
            return self.events(service, APPROVAL_EVENTS)  # what the index gave is not enough
        return records

    def _replay(self, skips: Sequence[Sequence[str]]) -> None:
        """Note the unreadable files a summary recorded, as reading its day would."""
        for path, reason in skips:
            self._skip(path, reason)

    def _stored_summaries(self, service: str) -> dict[str, tuple[str, Any]]:
        found = self._summary_cache.get(service)
        if found is None:
            found = self._summary_cache[service] = self._kept.days(service)
        return found

    def _summaries(self, service: str, days: Sequence[tuple[str, pygit2.Oid]]) -> dict[str, Any]:
        """Each day folder's summary, made for the days whose folder changed since it was
        kept and for every day after them (the fold runs through the days in order)."""
        stored = self._stored_summaries(service)
        current = {day: str(oid) for day, oid in days}
        changed = next(
            (
                day
                for day in sorted({*stored, *current})
                if stored.get(day, ("", None))[0] != current.get(day)
            ),
            None,
        )
        before = [day for day, _oid in days if changed is None or day < changed]
        state: PendingFold | None = PendingFold()
        if before and changed is not None:
            state = self._kept.state(service, before[-1])
            if not isinstance(state, PendingFold):  # lost: fold again from the first day
                before, changed, state = [], days[0][0] if days else None, PendingFold()
        result = {day: stored[day][1] for day in before}
        for day in stored:
            if day not in current or (changed is not None and day >= changed):
                self._kept.drop_day(service, day)
        for day, oid in days:
            if day in result:
                continue
            assert state is not None
            summary, state, marks = self._summarize(service, day, oid, state)
            result[day] = summary
            self._kept.keep_day(service, day, str(oid), summary, state, marks)
        self._summary_cache[service] = {
            day: (current[day], summary) for day, summary in result.items()
        }
        return result

    def _summarize(
        self, service: str, day: str, oid: pygit2.Oid, before: PendingFold
    ) -> tuple[dict[str, Any], PendingFold, dict[str, frozenset[str]]]:
        """One day folder, read: the kinds of its files, its unreadable files, where in it no
        proposal was open last, the fold's state at its end, and each approval record's
        marks. Plain values only, so that a summary outlives the code that made it."""
        fold = PendingFold(
            latest=dict(before.latest),
            first=dict(before.first),
            flags={key: dict(value) for key, value in before.flags.items()},
        )
        kinds: set[str] = set()
        name_skips: list[tuple[str, str]] = []
        record_skips: list[tuple[str, str]] = []
        marks: dict[str, frozenset[str]] = {}
        approvals: list[tuple[Record, str]] = []
        for item in self._tree(oid):
            name = item.name or ""
            path = f"{AUDIT_DIR}/{service}/{day}/{name}"
            parsed = parse_record_name(name)
            if parsed is None:
                if not name.startswith("."):
                    reason = "the file name is not <HHMMSS>-<event_type>-<id>.json"
                    self._skip(path, reason)
                    name_skips.append((path, reason))
                continue
            kinds.add(str(parsed[1]))
            if parsed[1] in APPROVAL_EVENTS:
                record = self._read(service, day, item)
                if record is None:
                    record_skips.append((path, self._unreadable[path].reason))
                else:
                    approvals.append((record, name))
                    marks[name] = trail_marks(record)
        quiet = "" if fold.empty() else None
        for record, name in sorted(approvals, key=lambda pair: pair[0].sort_key()):
            fold.step(record)
            if fold.empty():
                quiet = name
        summary = {
            "kinds": sorted(kinds),
            "quiet": quiet,
            "name_skips": name_skips,
            "record_skips": record_skips,
        }
        return summary, fold, marks


APPROVAL_KINDS = frozenset(str(event) for event in APPROVAL_EVENTS)


def _ids(record: Record) -> set[str]:
    return {mark for mark in trail_marks(record) if mark.startswith("id:")}


def _stat_key(path: Path) -> str | None:
    """What tells one version of git's index from another without reading it all: the file
    ends with the hash of its content (SHA-1, or SHA-256), so its last bytes change with any
    change to it."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 32))
            return f"{size}:{handle.read().hex()}"
    except OSError:
        return None
