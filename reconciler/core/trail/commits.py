"""The commit message of a batch of audit records: a subject a person reads, a paragraph per
record, and `Reconciler-*` trailers that `git log --grep` can trust, because every part is
cleaned to one line first (`lines.clean_line`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reconciler.core.trail.lines import clean_line, wrap
from reconciler.core.trail.records import Record

__all__ = ["TRAILER_PREFIX", "CommitMessage", "commit_message"]


@dataclass(frozen=True, kw_only=True)
class CommitMessage:
    """A subject a person reads in `git log --oneline`, body paragraphs, and trailers for
    machines.

    Rendering cleans every part (`clean_line`): the subject, each paragraph and each trailer
    is made one line without control characters, and a paragraph is then wrapped with its
    continuation lines indented, so no text that came from a person (a `--reason`, a `--by`)
    can begin a line of the message or add a paragraph. A paragraph begins with what its
    builder wrote (an event type and an id); `git log --grep '^Reconciler-Event: ...$'`
    then matches only the trailers the reconciler wrote.
    """

    subject: str
    paragraphs: Sequence[str]
    trailers: Mapping[str, str]

    def render(self) -> str:
        trailer_text = "\n".join(
            f"{clean_line(key)}: {clean_line(value)}" for key, value in self.trailers.items()
        )
        body = [wrap(clean_line(text)) for text in self.paragraphs if text.strip()]
        return "\n\n".join([clean_line(self.subject), *body, trailer_text]) + "\n"


TRAILER_PREFIX = "Reconciler-"


def commit_message(subject: str, records: Sequence[Record]) -> CommitMessage:
    """Subject given by the caller (it knows the story); body and trailers from the records."""
    ordered = sorted(records, key=Record.sort_key)
    lines = []
    for record in ordered:
        lines.append(f"{record.event_type} {record.id}: {record.rationale}".strip())
    last = ordered[-1]
    trailers: dict[str, str] = {
        f"{TRAILER_PREFIX}Event": str(last.event_type),
        f"{TRAILER_PREFIX}Service": last.service,
        f"{TRAILER_PREFIX}Blueprint-Version": last.blueprint_version or "-",
    }
    if last.provenance.commit:
        trailers[f"{TRAILER_PREFIX}Blueprint-Commit"] = last.provenance.commit
    for link in ("decision", "governance", "operation", "verification", "rollback", "approval"):
        value = next((r.links.get(link) for r in ordered if r.links.get(link)), None)
        if value:
            trailers[f"{TRAILER_PREFIX}{link.capitalize()}"] = value
    if last.classification:
        trailers[f"{TRAILER_PREFIX}Classification"] = last.classification
    trailers[f"{TRAILER_PREFIX}Outcome"] = str(last.outcome)
    trailers[f"{TRAILER_PREFIX}Records"] = str(len(ordered))
    return CommitMessage(subject=subject, paragraphs=tuple(lines), trailers=trailers)
