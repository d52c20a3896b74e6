"""What must be settled about a service before it is planned: its proposals judged, its
blueprint held or not, and changes the trail lacks recorded first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from reconciler.core.approvals.holds import approval_hold
from reconciler.core.blueprint.model import Blueprint
from reconciler.core.observed.observation import DeploymentState
from reconciler.core.planning.cycle import manifest_recovery_note
from reconciler.core.planning.outcomes import Note, NoteKind
from reconciler.core.trail.history import ServiceHistory
from reconciler.shell.approvals import Review, approval_records, review_proposals
from reconciler.shell.ports import Ports
from reconciler.shell.recording import Recorder, load_history, require_readable
from reconciler.shell.writeback import unrecorded_commits


@dataclass(frozen=True, kw_only=True)
class Gate:
    """What must be settled about a service before it is planned, by a cycle or a request."""

    review: Review
    #: The service's history, including what judging its proposals just recorded.
    history: ServiceHistory
    #: Why its blueprint is one no approval stands behind, or "".
    held: str
    #: False when the deployment carries the stamp of a change the trail lacks (a run died
    #: between changing the cluster and recording it).
    stamp_recorded: bool
    #: The reconciler's own manifest commits the trail lacked, recorded now (a run died
    #: between pushing one and recording it).
    recovered: tuple[Note, ...] = ()


def gate_service(
    blueprint: Blueprint,
    state: DeploymentState,
    ports: Ports,
    recorder: Recorder,
    now: datetime,
    *,
    judge: bool = True,
) -> Gate:
    """Judge the service's proposals when a forge may be asked (`judge`, and a forge), or
    else read from the trail alone whether its blueprint is held; both cycles and requests
    come through here, so neither acts on a blueprint the other would refuse."""
    history = load_history(ports.audit, blueprint, now)
    # Everything the service's part of the cycle relies on is read before any of it is acted
    # on, and refused when a record of it could not be read.
    approvals = approval_records(ports.audit, blueprint, now)
    require_readable(ports.audit, blueprint.name)
    recovered = tuple(
        Note(kind=NoteKind.CHANGE_RECOVERED, text=subject)
        for subject in record_found_commits(blueprint, ports, recorder, history, now)
    )
    if recovered:
        history = load_history(ports.audit, blueprint, now)
    review = Review()
    if judge and ports.forge is not None:
        review = review_proposals(
            blueprint, state, history.records, ports.audit, ports.forge, recorder.commit, now
        )
        require_readable(ports.audit, blueprint.name)
        held = review.hold
        if review.notes:  # judging recorded something: plan with it
            history = load_history(ports.audit, blueprint, now)
    else:
        held = approval_hold(blueprint, approvals)
    stamp = state.last_change
    stamp_recorded = (
        stamp is None
        or stamp.operation_id in history.operation_ids
        or ports.audit.contains(blueprint.name, stamp.at, stamp.operation_id)
    )
    return Gate(
        review=review,
        history=history,
        held=held,
        stamp_recorded=stamp_recorded,
        recovered=recovered,
    )


def record_found_commits(
    blueprint: Blueprint,
    ports: Ports,
    recorder: Recorder,
    history: ServiceHistory | None,
    now: datetime,
) -> list[str]:
    """Record each of the reconciler's own manifest commits for the service that the trail
    lacks, as the run that pushed it would have (`operation_recovered`, linked to the commit);
    returns their subjects. Nothing in a dry run."""
    if recorder.dry_run:
        return []

    def recorded(operation_id: str, at: datetime) -> bool:
        if history is not None and operation_id in history.operation_ids:
            return True
        return ports.audit.contains(blueprint.name, at, operation_id)

    subjects = []
    for found in unrecorded_commits(blueprint, ports.manifests, recorded):
        note = manifest_recovery_note(blueprint, found, now)
        recorder.commit(note.subject, note.records)
        subjects.append(note.subject)
    return subjects
