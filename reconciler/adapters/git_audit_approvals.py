"""The approvals a cycle needs, found through the trail index without reading every approval
record ever written.

`events(service, APPROVAL_EVENTS)` reads every approval record: a year of proposals is
thousands of records on every cycle. A cycle needs fewer: the records from the last moment no
proposal was open (before it, nothing decides which proposals are pending), those of its
windows (grants within their timeout, rejections within their cool-off), and, of any age, the
proposals that name the blueprint now loaded (a refused or ungranted merge of it holds the
service) or a refused merge that left no file. The trail index (`trail_cache`: one summary per
day folder, and the marks of each approval record) finds them without reading the rest.
docs/audit-trail.md says why the result is the same as reading everything; the last step
checks it for the pending proposals and reads everything when it is not.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from reconciler.adapters.trail_cache import Entry, TrailCache
from reconciler.core.approvals.lifecycle import APPROVAL_EVENTS
from reconciler.core.approvals.pending import PendingFold, pending_proposals, trail_marks
from reconciler.core.trail.records import AUDIT_DIR, EventType, Record, parse_record_name

if TYPE_CHECKING:
    import pygit2

__all__ = ["APPROVAL_KINDS", "ApprovalIndex", "TrailFolders"]

APPROVAL_KINDS = frozenset(str(event) for event in APPROVAL_EVENTS)


def _ids(record: Record) -> set[str]:
    return {mark for mark in trail_marks(record) if mark.startswith("id:")}


class TrailFolders(Protocol):
    """The audit store's reading of its day folders, which the index reads through."""

    def days(self, service: str, commit: pygit2.Commit | None = None) -> list[tuple[str, str]]: ...

    def entries(
        self, service: str, day: str, oid: str
    ) -> Iterator[tuple[Entry, tuple[str, EventType, str]]]: ...

    def listing(self, service: str, day: str, tree: str) -> list[Entry]: ...

    def read_entry(self, service: str, day: str, entry: Entry) -> Record | None: ...

    def skip(self, path: str, reason: str) -> None: ...

    def reason(self, path: str) -> str: ...

    def events(self, service: str, events: Collection[EventType]) -> list[Record]: ...


class ApprovalIndex:
    """Day summaries of one repository's trail, kept under .git/ and read back per service."""

    def __init__(self, trail: TrailFolders, kept: TrailCache) -> None:
        self._trail = trail
        self._kept = kept
        #: The index's day summaries read or made in this process, by service.
        self._summary_cache: dict[str, dict[str, tuple[str, Any]]] = {}

    def select(
        self, service: str, digest: str, since: datetime, head: pygit2.Commit | None
    ) -> list[Record]:
        """The approval records a cycle needs (see the module docstring), or all of them when
        the index cannot tell."""
        days = self._trail.days(service, head)
        summaries = self._summaries(service, days)
        for summary in summaries.values():
            self.replay(summary["name_skips"])
            self.replay(summary["record_skips"])
        if not any(APPROVAL_KINDS & set(summary["kinds"]) for summary in summaries.values()):
            return []  # no file of the service is an approval record: nothing to read
        quiet: tuple[str, str] | None = None
        for day, _oid in reversed(days):
            if summaries[day]["quiet"] is not None:
                quiet = (day, summaries[day]["quiet"])
                break
        if quiet is None:
            # Not for a trail as the index keeps it (its oldest day is summarized from an
            # empty fold, so it starts quiet), but for an index file saved by runs at other
            # commits in another order than they read it: a day kept without the day it was
            # folded on from. Every approval record is read then, as without the index.
            return self._trail.events(service, APPROVAL_EVENTS)
        first_day = min(quiet[0], since.astimezone(UTC).date().isoformat())
        trees = dict(days)
        chosen: dict[tuple[str, str], Record] = {}
        for day, oid in days:
            if day >= first_day:
                for item, parsed in self._trail.entries(service, day, oid):
                    if parsed[1] in APPROVAL_EVENTS and (
                        found := self._trail.read_entry(service, day, item)
                    ):
                        chosen[(day, item.name)] = found
        wanted = {f"digest:{digest}", "refusal-unknown"}
        wanted |= {mark for record in chosen.values() for mark in _ids(record)}
        asked: set[str] = set()
        while wanted - asked:
            new = wanted - asked
            asked |= new
            for day, name in sorted(self._kept.marked(service, new)):
                if (day, name) in chosen or day not in trees:
                    continue
                entry = next(
                    (e for e in self._trail.listing(service, day, trees[day]) if e.name == name),
                    None,
                )
                if entry is None:
                    continue
                found = self._trail.read_entry(service, day, entry)
                if found is not None:
                    chosen[(day, name)] = found
                    wanted |= _ids(found)
        records = sorted(chosen.values(), key=Record.sort_key)
        # A quiet mark names a file of the very folder (tree id) its summary was made from,
        # which read as an approval record then: read again it is the same record (a blob id
        # and mode read once are kept so), so it is among `chosen`. "" is the day's start.
        start = chosen[quiet] if quiet[1] else None
        suffix = [
            record
            for (day, _name), record in chosen.items()
            if (record.sort_key() > start.sort_key() if start is not None else day >= quiet[0])
        ]
        if pending_proposals(records) != pending_proposals(suffix):
            return self._trail.events(service, APPROVAL_EVENTS)  # what the index gave is not enough
        return records

    def replay(self, skips: Sequence[Sequence[str]]) -> None:
        """Note the unreadable files a summary recorded, as reading its day would."""
        for path, reason in skips:
            self._trail.skip(path, reason)

    def stored(self, service: str) -> dict[str, tuple[str, Any]]:
        found = self._summary_cache.get(service)
        if found is None:
            found = self._summary_cache[service] = self._kept.days(service)
        return found

    def _summaries(self, service: str, days: Sequence[tuple[str, str]]) -> dict[str, Any]:
        """Each day folder's summary, made for the days whose folder changed since it was
        kept and for every day after them (the fold runs through the days in order). A day
        made again replaces what was kept of it; a day HEAD no longer has is dropped."""
        stored = self.stored(service)
        current = {day: str(oid) for day, oid in days}
        changed = next(
            (
                day
                for day in sorted({*stored, *current})
                if day not in stored or stored[day][0] != current.get(day)
            ),
            None,
        )
        before = [day for day, _oid in days if changed is None or day < changed]
        state: PendingFold | None = PendingFold()
        if before and changed is not None:
            state = self._kept.state(service, before[-1])
            if not isinstance(state, PendingFold):  # lost: fold again from the first day
                before, state = [], PendingFold()
        result = {day: stored[day][1] for day in before}
        for day in stored:
            if day not in current:
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
        self, service: str, day: str, oid: str, before: PendingFold
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
        for item in self._trail.listing(service, day, oid):
            name = item.name
            path = f"{AUDIT_DIR}/{service}/{day}/{name}"
            parsed = parse_record_name(name)
            if parsed is None:
                if not name.startswith("."):
                    reason = "the file name is not <HHMMSS>-<event_type>-<id>.json"
                    self._trail.skip(path, reason)
                    name_skips.append((path, reason))
                continue
            kinds.add(str(parsed[1]))
            if parsed[1] in APPROVAL_EVENTS:
                record = self._trail.read_entry(service, day, item)
                if record is None:
                    record_skips.append((path, self._trail.reason(path)))
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
