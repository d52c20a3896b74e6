"""The step outputs a run writes for GitHub Actions (`--outputs FILE`): what its audit records
say it did (see `outputs.py`, which keeps them). Apart from the option, so that a run not asked
for outputs never builds their dataclass."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reconciler.core.trail.records import Record

__all__ = ["ActionOutputs", "write_outputs"]


@dataclass(frozen=True, kw_only=True)
class ActionOutputs:
    #: Services whose deployment the run changed: an operation or a rollback carried out.
    services_changed: tuple[str, ...]
    #: The approval proposals the run opened: a pull request's URL, or a local forge's branch.
    proposals_opened: tuple[str, ...]
    #: Whether the run stopped automatic changes to a service until a person acts: a circuit
    #: breaker opened, or a failed change escalated.
    needs_person: bool

    @classmethod
    def of(cls, records: Sequence[Record]) -> ActionOutputs:
        from reconciler.core.trail.bodies import ApprovalBody, body_of
        from reconciler.core.trail.records import EventType

        changes = {EventType.OPERATION_EXECUTED, EventType.ROLLBACK_EXECUTED}
        person = {EventType.BREAKER_OPENED, EventType.ESCALATED}
        proposals: dict[str, None] = {}
        for record in records:
            if record.event_type is EventType.APPROVAL_REQUESTED:
                # A pull request's address; the local forge has only a branch.
                proposal = body_of(record, ApprovalBody)
                where = proposal.url if proposal.number else proposal.branch
                if where:
                    proposals.setdefault(str(where))
        return cls(
            services_changed=tuple(sorted({r.service for r in records if r.event_type in changes})),
            proposals_opened=tuple(proposals),
            needs_person=any(r.event_type in person for r in records),
        )

    def lines(self) -> list[str]:
        return [
            f"services-changed={json.dumps(list(self.services_changed))}",
            f"proposals-opened={json.dumps(list(self.proposals_opened))}",
            f"needs-person={'true' if self.needs_person else 'false'}",
        ]


def write_outputs(path: Path, records: Sequence[Record]) -> None:
    """Append the outputs, as Actions reads `GITHUB_OUTPUT` (one `NAME=VALUE` a line; JSON
    keeps every value on one line)."""
    with path.open("a", encoding="utf-8") as handle:
        handle.write("".join(line + "\n" for line in ActionOutputs.of(records).lines()))
