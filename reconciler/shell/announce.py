"""Telling the cluster what a cycle did: each record that changed, refused or rolled back
something becomes a notice on its deployment (a Kubernetes Event) through the ClusterEvents
port. A notice is a courtesy to whoever runs `kubectl describe`: one that cannot be posted is
a warning on the service, never a failure of the change it describes.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.core.errors import ReconcilerError
from reconciler.core.observed.observation import Target
from reconciler.core.planning.outcomes import Note, NoteKind
from reconciler.core.trail.notices import notice_for
from reconciler.core.trail.records import Record
from reconciler.ports import ClusterEvents

__all__ = ["announce"]


def announce(events: ClusterEvents, target: Target, records: Sequence[Record]) -> list[Note]:
    """Post a notice for each record that calls for one; a warning note for each that failed."""
    notes: list[Note] = []
    for record in records:
        notice = notice_for(record)
        if notice is None:
            continue
        try:
            events.announce(target, notice)
        except ReconcilerError as error:
            text = f"no {notice.reason} event on deployment {target} (record {record.id}): {error}"
            notes.append(Note(kind=NoteKind.EVENT_NOT_POSTED, text=text))
    return notes
