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

from reconciler.adapters.git_audit_approvals import ApprovalIndex
from reconciler.adapters.git_audit_index import IndexMark
from reconciler.adapters.gitrepo import merge_tree, nest, restore_index, write_error
from reconciler.adapters.trail_cache import Entry, TrailCache
from reconciler.core.errors import AuditError, ConfigError
from reconciler.core.trail.commits import CommitMessage
from reconciler.core.trail.records import (
    AUDIT_DIR,
    MAX_RECORD_BYTES,
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
        #: The entries of `audit/` at `_cache_head`, by name (see _service_folders).
        self._folders: dict[str, Entry] | None = None
        #: Each folder's entries by its tree id, and each day folder's entries named like
        #: records (with the parsed names) and its other names.
        self._listed: dict[str, list[Entry]] = {}
        self._named: dict[str, list[tuple[Entry, tuple[str, EventType, str]]]] = {}
        self._misnamed: dict[str, list[str]] = {}
        #: The last answer of `approvals`, by what it was asked and HEAD's commit.
        self._approvals: dict[tuple[str, str, datetime, str | None], list[Record]] = {}
        #: When git's index was last known in step with HEAD (see repair_index).
        self._mark = IndexMark(self.repo)
        #: The commits this store made since the index was last brought in step.
        self._commits: set[str] = set()
        #: The day summaries that find the approvals a cycle needs.
        self._index = ApprovalIndex(self, self._kept)

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

    def tree(self, oid: pygit2.Oid | str) -> pygit2.Tree:
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
            tree = self.tree(merge_tree(self.repo, parent.tree if parent else None, changes))
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
        `index_error` (for the caller that wants to say it; the cycle does not yet), and the
        next writer repairs the index.
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
        restored = self._mark.added(self._head_commit(check=True), self._commits, self._written)
        if restored is None:
            restored = restore_index(self.repo, f"{AUDIT_DIR}/", written=self._written)
        self._written.clear()
        self._commits.clear()
        self._mark.remember(self._head_commit(check=True))
        return restored

    # ------------------------------------------------------------------ reading
    #
    # Every read of a record goes through `read_entry`, and so through `read_record`: whatever
    # under audit/<service>/<day>/ is not a readable record (a broken or foreign file, a link,
    # a folder) is skipped and remembered in `unreadable()`, so a reader shows it and a cycle
    # can refuse to act on a history it could not read in full.

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
            self._cache_head, self._cache, self._folders = commit.id, {}, None
        return self._subtree_of(commit, parts)

    def _subtree_of(self, commit: pygit2.Commit, parts: tuple[str, ...]) -> pygit2.Tree | None:
        if parts in self._cache:
            cached: pygit2.Tree | None = self._cache[parts]
            return cached
        node: pygit2.Tree | None = commit.tree
        if parts:
            parent = self._subtree_of(commit, parts[:-1])
            entry = parent[parts[-1]] if parent is not None and parts[-1] in parent else None
            node = self.tree(entry.id) if entry is not None and entry.type_str == "tree" else None
        self._cache[parts] = node
        return node

    def _service_folders(self, commit: pygit2.Commit | None) -> dict[str, Entry]:
        """The entries of `audit/` in a commit, by name: each service folder's tree id, listed
        once per commit (one lookup for the whole fleet)."""
        tree = self._subtree_at(commit, AUDIT_DIR)
        if tree is None:
            return {}
        if self._folders is None:
            self._folders = {
                entry.name or "": Entry(
                    entry.name or "", str(entry.id), entry.type_str, int(entry.filemode)
                )
                for entry in tree
            }
        return self._folders

    def listing(self, service: str, day: str, tree: str) -> list[Entry]:
        """The entries of the folder `audit/<service>` (`day` "") or of one of its day
        folders, whose tree id is `tree`: from this process's reads, else from the trail
        cache when it kept that very tree, else from git (and then kept). A tree id names
        its entries exactly, so an unchanged folder is not looked up at all."""
        found = self._listed.get(tree)
        if found is None:
            found = self._kept.listing(service, day, tree)
            if found is None:
                found = [
                    Entry(item.name or "", str(item.id), item.type_str, int(item.filemode))
                    for item in self.tree(tree)
                ]
                self._kept.keep_listing(service, day, tree, found)
            self._listed[tree] = found
        return found

    def days(self, service: str, commit: pygit2.Commit | None = None) -> list[tuple[str, str]]:
        """The service's day folders, oldest first, by name and tree id (a folder is read
        only when a reader visits it)."""
        folder = self._service_folders(commit or self._head_commit()).get(service)
        if folder is None or folder.type_str != "tree":
            return []
        days = []
        for entry in self.listing(service, "", folder.id):
            name = entry.name
            if entry.type_str == "tree":
                days.append((name, entry.id))
            elif not name.startswith("."):
                self.skip(f"{AUDIT_DIR}/{service}/{name}", "not a day folder (YYYY-MM-DD)")
        return sorted(days, key=lambda pair: pair[0])

    def entries(
        self, service: str, day: str, oid: str
    ) -> Iterator[tuple[Entry, tuple[str, EventType, str]]]:
        """The entries of one day folder named like records, with their parsed names; any
        other entry (hidden ones aside) is noted as unreadable without being read. A folder
        is listed and its names parsed once per process (by its tree id: the same id is the
        same entries), however often a cycle reads the service."""
        listed = self._named.get(oid)
        if listed is None:
            listed, misnamed = [], []
            for item in self.listing(service, day, oid):
                parsed = parse_record_name(item.name)
                if parsed is not None:
                    listed.append((item, parsed))
                elif not item.name.startswith("."):
                    misnamed.append(item.name)
            self._named[oid] = listed
            self._misnamed[oid] = misnamed
        yield from listed
        for name in self._misnamed.get(oid, ()):
            self.skip(
                f"{AUDIT_DIR}/{service}/{day}/{name}",
                "the file name is not <HHMMSS>-<event_type>-<id>.json",
            )

    def read_entry(self, service: str, day: str, entry: Entry) -> Record | None:
        """The one way a record is read: the entry's blob through `read_record`, or None (and
        a note in `unreadable()`) for anything that is not a readable record."""
        path = f"{AUDIT_DIR}/{service}/{day}/{entry.name}"
        key = (path, entry.id)
        if key in self._parsed:
            return self._parsed[key]
        record: Record | None = None
        # The file's mode is part of what it is: the same bytes as a link are no record.
        blob_id = f"{entry.id}:{entry.filemode}"
        result = self._kept.get(service, day, entry.name, blob_id)
        if result is not None:
            if isinstance(result, Record):
                record = result
            else:
                self.skip(path, str(result))
            self._parsed[key] = record
            return record
        if entry.type_str != "blob":
            self.skip(path, f"a {'folder' if entry.type_str == 'tree' else 'submodule'}")
        elif entry.filemode == self._pygit2.enums.FileMode.LINK:
            self.skip(path, "a symbolic link, not a file")
        else:
            blob = cast("pygit2.Blob", self.repo[entry.id])
            try:
                if blob.size > MAX_RECORD_BYTES:  # refused before it is read into memory
                    raise RecordError(f"{blob.size} bytes, larger than any record")
                record = read_record(path, bytes(blob.data))
            except RecordError as error:
                self.skip(path, str(error))
        if entry.type_str == "blob":
            reason = self._unreadable[path].reason if record is None else None
            self._kept.put(service, day, entry.name, blob_id, record or reason)
        self._parsed[key] = record
        return record

    def skip(self, path: str, reason: str) -> None:
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
        for day, oid in self.days(service):
            if day < first_day:
                continue
            for item, (hhmmss, _event, _id) in self.entries(service, day, oid):
                if day == first_day and hhmmss < cutoff:
                    continue  # older than `since`, by its file name, without reading it
                record = self.read_entry(service, day, item)
                if record is not None and record.timestamp >= since:
                    records.append(record)
        return sorted(records, key=Record.sort_key)

    def latest(self, service: str, events: Collection[EventType]) -> Record | None:
        wanted = set(events)
        kinds = {str(event) for event in wanted}
        summaries = self._index.stored(service)
        for day, oid in reversed(self.days(service)):
            stored = summaries.get(day)
            if stored is not None and stored[0] == str(oid) and not kinds & set(stored[1]["kinds"]):
                # The index says no file of the day is of a wanted kind: not listed again,
                # its misnamed files noted as a visit would.
                self._index.replay(stored[1]["name_skips"])
                continue
            found = [(item, parsed) for item, parsed in self.entries(service, day, oid)]
            for item, parsed in sorted(found, key=lambda pair: pair[0].name, reverse=True):
                if parsed[1] in wanted:
                    record = self.read_entry(service, day, item)
                    if record is not None:
                        return record
        return None

    def events(self, service: str, events: Collection[EventType]) -> list[Record]:
        wanted = set(events)
        records = []
        for day, oid in self.days(service):
            for item, parsed in self.entries(service, day, oid):
                if parsed[1] in wanted and (record := self.read_entry(service, day, item)):
                    records.append(record)
        return sorted(records, key=Record.sort_key)

    def contains(self, service: str, at: datetime, record_id: str) -> bool:
        day = at.astimezone(UTC).date()
        folders = dict(self.days(service))
        for candidate in (day - timedelta(days=1), day, day + timedelta(days=1)):
            oid = folders.get(candidate.isoformat())
            if oid is not None and any(
                (parsed := parse_record_name(item.name)) is not None and parsed[2] == record_id
                for item in self.listing(service, candidate.isoformat(), oid)
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
            for day, oid in self.days(name):
                if (low and day < low.isoformat()) or (high and day > high.isoformat()):
                    continue
                for item, _parsed in self.entries(name, day, oid):
                    record = self.read_entry(name, day, item)
                    if record is None:
                        continue
                    if (since and record.timestamp < since) or (until and record.timestamp > until):
                        continue
                    records.append(record)
        yield from sorted(records, key=Record.sort_key)

    # ------------------------------------------------------------------ the approvals a cycle needs

    def approvals(self, service: str, *, digest: str, since: datetime) -> list[Record]:
        """The approval records a cycle's judgements depend on, found through the trail
        index (`git_audit_approvals`); the same judgements as reading them all."""
        head = self._head_commit()
        key = (service, digest, since, None if head is None else str(head.id))
        if key not in self._approvals:  # a cycle asks up to three times before it commits
            self._approvals = {key: self._index.select(service, digest, since, head)}
        return list(self._approvals[key])

    def reason(self, path: str) -> str:
        """Why the file at `path`, read and refused, is not a readable record."""
        return self._unreadable[path].reason
