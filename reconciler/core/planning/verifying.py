"""The changes due for verification this cycle: verified, skipped or still waiting."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from reconciler.core.blueprint.model import Blueprint
from reconciler.core.decide.verification import (
    Pending,
    pending_verifications,
    still_starting,
    superseded,
    too_late,
    verification_record,
    verify,
)
from reconciler.core.ids import utc
from reconciler.core.observed.observation import (
    DeploymentState,
    Metrics,
)
from reconciler.core.planning.notes import (
    fold,
)
from reconciler.core.planning.outcomes import NoteKind
from reconciler.core.planning.plan import NoteCommit
from reconciler.core.planning.subjects import (
    rollout_subject,
    verification_subject,
)
from reconciler.core.trail.history import (
    CHANGE_EVENTS,
    ServiceHistory,
)
from reconciler.core.trail.records import EventType

#: The note each verification record makes; a skipped one (superseded, too late) says the
#: change was not verified.
_VERIFICATION_NOTES = {
    EventType.VERIFICATION_PASSED: NoteKind.VERIFIED,
    EventType.VERIFICATION_FAILED: NoteKind.VERIFICATION_FAILED,
    EventType.ROLLBACK_VERIFIED: NoteKind.ROLLBACK_VERIFIED,
    EventType.ROLLBACK_VERIFICATION_FAILED: NoteKind.ROLLBACK_VERIFICATION_FAILED,
}


def _await_rollouts(
    blueprint: Blueprint,
    state: DeploymentState,
    history: ServiceHistory,
    pending: Sequence[Pending],
    now: datetime,
    notes: list[NoteCommit],
) -> tuple[ServiceHistory, list[Pending], set[str]]:
    """A change made through git (coexistence: write_back) counts from when the GitOps tool
    rolled it out: its due time moves there, and until then it waits (escalated, not rolled
    back, when the tool does not apply it in time). Returns the history with what was seen
    recorded, the pending changes with their due times, and the ids still waiting."""
    result: list[Pending] = []
    rolling: set[str] = set()
    for item in pending:
        from reconciler.core.gitops.rollout import RolloutPhase, await_rollout  # when one waits

        rollout = await_rollout(item, blueprint, state, history.records, now)
        if rollout.records:
            kind = NoteKind.ROLLED_OUT
            if any(r.event_type is EventType.ESCALATED for r in rollout.records):
                kind = NoteKind.ESCALATED
            subject = rollout_subject(blueprint.name, rollout)
            notes.append(NoteCommit(kind=kind, subject=subject, records=rollout.records))
            history = fold(history, blueprint, rollout.records, now)
        if rollout.phase is RolloutPhase.WAITING:
            rolling.add(item.operation_id)
        result.append(rollout.pending)
    return history, result, rolling


def verify_due(
    blueprint: Blueprint,
    state: DeploymentState,
    metrics: Metrics,
    history: ServiceHistory,
    now: datetime,
) -> tuple[ServiceHistory, list[NoteCommit], Pending | None]:
    """Verify every change that is due; return the first one still waiting, if any."""
    notes: list[NoteCommit] = []
    waiting: Pending | None = None
    pending = pending_verifications(history, blueprint)
    history, pending, rolling = _await_rollouts(blueprint, state, history, pending, now, notes)
    changes = [r for r in history.records if r.event_type in CHANGE_EVENTS]
    for item in pending:
        later = [r for r in changes if r.sort_key() > item.record.sort_key()]
        if later:
            verification = superseded(
                item, later[0].links.get("operation", later[0].id), blueprint, now
            )
        elif item.operation_id in rolling:  # the GitOps tool has not rolled it out yet
            waiting = waiting or item
            continue
        elif item.due <= utc(now):
            late = too_late(item, blueprint, now)
            if late is None and still_starting(item, state, now):
                waiting = waiting or item
                continue
            verification = late or verify(item, blueprint, state, metrics, now)
        else:
            waiting = waiting or item
            continue
        record = verification_record(verification, blueprint)
        notes.append(
            NoteCommit(
                kind=_VERIFICATION_NOTES.get(record.event_type, NoteKind.NOT_VERIFIED),
                subject=verification_subject(record, item),
                records=(record,),
            )
        )
        history = fold(history, blueprint, [record], now)
    return history, notes, waiting
