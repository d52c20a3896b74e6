"""Commits that belong to no operation: a change found unrecorded, a breaker opening, a
pause beginning or ending."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from reconciler.core.blueprint.model import Blueprint
from reconciler.core.observed.observation import (
    PAUSE_ANNOTATION,
    ChangeStamp,
    DeploymentState,
)
from reconciler.core.planning.events import (
    breaker_opened_record,
    pause_record,
    resume_record,
)
from reconciler.core.planning.outcomes import NoteKind
from reconciler.core.planning.plan import NoteCommit
from reconciler.core.planning.subjects import (
    breaker_subject,
    manifest_recovered_subject,
    paused_subject,
    recovered_subject,
    resumed_subject,
)
from reconciler.core.trail import lazy_bodies
from reconciler.core.trail.history import (
    PAUSE_EVENTS,
    BreakerPhase,
    BreakerState,
    ServiceHistory,
    fold_history,
)
from reconciler.core.trail.records import EventType, Record
from reconciler.core.trail.wording import Code, Reason, say

if TYPE_CHECKING:
    from reconciler.core.gitops.writeback import OwnCommit


def breaker_note(
    blueprint: Blueprint, history: ServiceHistory, now: datetime
) -> tuple[ServiceHistory, NoteCommit | None]:
    """Open the breaker when the recorded failures reach the threshold."""
    if not history.breaker.should_open:
        return history, None
    record = breaker_opened_record(blueprint.name, blueprint, history.breaker.failures, now)
    opened = replace(
        history,
        records=(*history.records, record),
        breaker=BreakerState(
            phase=BreakerPhase.OPEN, failures=history.breaker.failures, opened_at=now
        ),
    )
    subject = breaker_subject(blueprint.name, len(history.breaker.failures))
    return opened, NoteCommit(kind=NoteKind.BREAKER_OPENED, subject=subject, records=(record,))


def unrecorded_change_note(
    blueprint: Blueprint, state: DeploymentState, stamp_recorded: bool, now: datetime
) -> NoteCommit | None:
    stamp = state.last_change
    if stamp is None or stamp_recorded:
        return None
    return recovery_note(blueprint, stamp, now)


def recovery_note(blueprint: Blueprint, stamp: ChangeStamp, now: datetime) -> NoteCommit:
    """The record of a change found on a deployment that the trail lacks: what the next run
    writes after a run died between the two, and what a run writes at once when one service's
    part failed after changing the cluster."""
    from reconciler.core.planning.recovered import recovered_record  # after a run died

    record = recovered_record(stamp, blueprint, now)
    return NoteCommit(
        kind=NoteKind.CHANGE_RECOVERED,
        subject=recovered_subject(blueprint.name, stamp.summary),
        records=(record,),
    )


def fold(
    history: ServiceHistory, blueprint: Blueprint, records: Sequence[Record], now: datetime
) -> ServiceHistory:
    return fold_history(
        blueprint.name, (*history.records, *records), blueprint.policy.safety.circuit_breaker, now
    )


def pause_reason(blueprint: Blueprint, state: DeploymentState | None) -> str:
    """What pauses the service, in words for the records and the status; "" when nothing."""
    if blueprint.suspend:
        return say(Reason(Code.PAUSED_BY_SUSPEND))
    if state is not None and state.paused:
        annotation = {"annotation": PAUSE_ANNOTATION, "value": state.paused}
        return say(Reason(Code.PAUSED_BY_ANNOTATION, annotation))
    return ""


def pause_note(
    blueprint: Blueprint, history: ServiceHistory, paused_by: str, now: datetime
) -> NoteCommit | None:
    """A record when a pause begins, changes its reason, or ends; none while it lasts."""
    last = history.last(*PAUSE_EVENTS)
    paused = last is not None and last.event_type is EventType.SERVICE_PAUSED
    if paused_by and (
        not paused or last is None or lazy_bodies.pause_of(last).paused_by != paused_by
    ):
        return NoteCommit(
            kind=NoteKind.PAUSED,
            subject=paused_subject(blueprint.name, paused_by),
            records=(pause_record(blueprint, paused_by, now),),
        )
    if not paused_by and paused and last is not None:
        return NoteCommit(
            kind=NoteKind.RESUMED,
            subject=resumed_subject(blueprint.name, lazy_bodies.pause_of(last).paused_by),
            records=(resume_record(blueprint, last, now),),
        )
    return None


def manifest_recovery_note(blueprint: Blueprint, found: OwnCommit, now: datetime) -> NoteCommit:
    """The record of one of the reconciler's own manifest commits that the trail lacks (a run
    died between pushing it and recording it): the record that run would have written, from
    the stamp the commit carries, linked to the commit."""
    from reconciler.core.planning.recovered import recovered_record

    record = recovered_record(found.stamp, blueprint, now, found)
    return NoteCommit(
        kind=NoteKind.CHANGE_RECOVERED,
        subject=manifest_recovered_subject(
            blueprint.name, found.stamp.summary, found.written.commit
        ),
        records=(record,),
    )
