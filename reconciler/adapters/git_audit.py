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
from collections.abc import Collection, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import pygit2

from reconciler.adapters.gitrepo import merge_tree, nest, restore_index, write_error
from reconciler.adapters.trail_cache import TrailCache
from reconciler.core.errors import AuditError, ConfigError
from reconciler.core.records import (
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
        self._kept_days: dict[tuple[str, str], dict[str, tuple[str, bytes]]] = {}
        self._head_id: Any = None
        self._head: pygit2.Commit | None = None

    # ------------------------------------------------------------------ writing

    def _head_commit(self) -> pygit2.Commit | None:
        try:
            head = self.repo.head.target
        except self._pygit2.GitError:  # no commit yet (an unborn branch)
            return None
        if head != self._head_id:  # looking the commit up again costs more than the ref
            self._head_id, self._head = head, cast("pygit2.Commit", self.repo[head])
        return self._head

    def _tree(self, oid: pygit2.Oid) -> pygit2.Tree:
        return cast("pygit2.Tree", self.repo[oid])

    def append(self, records: Sequence[Record], message: CommitMessage) -> str:
        if not records:
            raise ValueError("append needs at least one record")
        git = self._pygit2
        try:
            parent = self._head_commit()
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
            self._move_head(commit, parent)
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
        """
        if self.repo.is_bare:
            return 0
        restored = restore_index(self.repo, f"{AUDIT_DIR}/", written=self._written)
        self._written.clear()
        return restored

    # ------------------------------------------------------------------ reading
    #
    # Every read of a record goes through `_read`, and so through `read_record`: whatever under
    # audit/<service>/<day>/ is not a readable record (a broken or foreign file, a link, a
    # folder) is skipped and remembered in `unreadable()`, so a reader shows it and a cycle can
    # refuse to act on a history it could not read in full.

    def _subtree(self, *parts: str) -> pygit2.Tree | None:
        """The tree at `parts` in HEAD. Trees are cached per HEAD commit: `audit/` holds one
        entry per service, and parsing it again for every service would dominate a cycle."""
        commit = self._head_commit()
        if commit is None:
            return None
        if self._cache_head != commit.id:
            self._cache_head, self._cache = commit.id, {}
        if parts in self._cache:
            cached: pygit2.Tree | None = self._cache[parts]
            return cached
        node: pygit2.Tree | None = commit.tree
        if parts:
            parent = self._subtree(*parts[:-1])
            entry = parent[parts[-1]] if parent is not None and parts[-1] in parent else None
            node = self._tree(entry.id) if entry is not None and entry.type_str == "tree" else None
        self._cache[parts] = node
        return node

    def _days(self, service: str) -> list[tuple[str, pygit2.Tree]]:
        tree = self._subtree(AUDIT_DIR, service)
        if tree is None:
            return []
        days = []
        for entry in tree:
            name = entry.name or ""
            if entry.type_str == "tree":
                days.append((name, self._tree(entry.id)))
            elif not name.startswith("."):
                self._skip(f"{AUDIT_DIR}/{service}/{name}", "not a day folder (YYYY-MM-DD)")
        return sorted(days, key=lambda pair: pair[0])

    def _entries(
        self, service: str, day: str, tree: pygit2.Tree
    ) -> Iterator[tuple[pygit2.Object, tuple[str, EventType, str]]]:
        """The entries of one day folder named like records, with their parsed names; any
        other entry (hidden ones aside) is noted as unreadable without being read."""
        for item in tree:
            name = item.name or ""
            parsed = parse_record_name(name)
            if parsed is not None:
                yield item, parsed
            elif not name.startswith("."):
                self._skip(
                    f"{AUDIT_DIR}/{service}/{day}/{name}",
                    "the file name is not <HHMMSS>-<event_type>-<id>.json",
                )

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
        kept = self._kept_day(service, day).get(entry.name or "")
        if kept is not None and kept[0] == blob_id:
            result = self._kept.value(kept[1])
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

    def _kept_day(self, service: str, day: str) -> dict[str, tuple[str, bytes]]:
        found = self._kept_days.get((service, day))
        if found is None:
            found = self._kept_days[(service, day)] = self._kept.day(service, day)
        return found

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
        for day, tree in self._days(service):
            if day < first_day:
                continue
            for item, (hhmmss, _event, _id) in self._entries(service, day, tree):
                if day == first_day and hhmmss < cutoff:
                    continue  # older than `since`, by its file name, without reading it
                record = self._read(service, day, item)
                if record is not None and record.timestamp >= since:
                    records.append(record)
        return sorted(records, key=Record.sort_key)

    def latest(self, service: str, events: Collection[EventType]) -> Record | None:
        wanted = set(events)
        for day, tree in reversed(self._days(service)):
            found = [(item, parsed) for item, parsed in self._entries(service, day, tree)]
            for item, parsed in sorted(found, key=lambda pair: pair[0].name or "", reverse=True):
                if parsed[1] in wanted:
                    record = self._read(service, day, item)
                    if record is not None:
                        return record
        return None

    def events(self, service: str, events: Collection[EventType]) -> list[Record]:
        wanted = set(events)
        records = []
        for day, tree in self._days(service):
            for item, parsed in self._entries(service, day, tree):
                if parsed[1] in wanted and (record := self._read(service, day, item)):
                    records.append(record)
        return sorted(records, key=Record.sort_key)

    def contains(self, service: str, at: datetime, record_id: str) -> bool:
        day = at.astimezone(UTC).date()
        for candidate in (day - timedelta(days=1), day, day + timedelta(days=1)):
            tree = self._subtree(AUDIT_DIR, service, candidate.isoformat())
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
            for day, tree in self._days(name):
                if (low and day < low.isoformat()) or (high and day > high.isoformat()):
                    continue
                for item, _parsed in self._entries(name, day, tree):
                    record = self._read(name, day, item)
                    if record is None:
                        continue
                    if (since and record.timestamp < since) or (until and record.timestamp > until):
                        continue
                    records.append(record)
        yield from sorted(records, key=Record.sort_key)
