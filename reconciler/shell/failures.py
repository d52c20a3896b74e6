"""A service's failure in a cycle, named by its stage, and the change it left behind recorded
before the cycle moves on."""

from __future__ import annotations

from reconciler.core.blueprint.model import Blueprint
from reconciler.core.errors import ClusterError
from reconciler.core.observed.observation import Target
from reconciler.core.planning.cycle import recovery_note
from reconciler.core.planning.outcomes import Note, NoteKind
from reconciler.shell.gating import record_found_commits
from reconciler.shell.isolation import Failure, Stage, Watch, failure
from reconciler.shell.ports import Ports
from reconciler.shell.recording import Recorder
from reconciler.shell.reports import ServiceResult


def record_failure(
    blueprint: Blueprint,
    target: Target,
    error: Exception,
    watch: Watch,
    ports: Ports,
    recorder: Recorder,
) -> tuple[ServiceResult, Failure | None]:
    """A service's failure, named with its stage and hint. When it came after the cluster was
    asked to change, the change is recorded now from the stamp it left on the deployment (the
    same record the next run would write), so that no change outlives its run unrecorded while
    the trail can be written. When even that record cannot be written, the trail's failure is
    returned too: the cycle must change nothing more."""
    found = failure(error, watch.stage_of(error), blueprint.name)
    message, notes, unwritable = found.message, list[Note](), None
    if (watch.changes or watch.commits) and not recorder.dry_run:
        try:
            # A change asked of the cluster left a stamp on the deployment; one committed to
            # the manifests left it on the commit.
            recorded = "; ".join(
                subject
                for subject in (
                    _record_found_change(blueprint, target, ports, recorder)
                    if watch.changes
                    else "",
                    *record_found_commits(blueprint, ports, recorder, None, ports.clock.now()),
                )
                if subject
            )
        except Exception as again:
            second = failure(again, watch.stage_of(again), blueprint.name)
            why = "the same error" if second.message == found.message else second.message
            message += (
                f"; the change it asked of the cluster could not be recorded either ({why}): "
                "the next run records it from the deployment's stamp (operation_recovered)"
            )
            if second.stage is Stage.RECORD:
                unwritable = second
        else:
            if recorded:
                notes.append(Note(kind=NoteKind.CHANGE_RECOVERED, text=recorded))
    result = ServiceResult(
        service=blueprint.name,
        error=f"{found.stage}: {message} (fix: {found.hint})",
        stage=found.stage,
        hint=found.hint,
        notes=tuple(notes),
    )
    return result, unwritable


def not_reconciled(service: str, unwritable: Failure) -> ServiceResult:
    return ServiceResult(
        service=service,
        error=(
            f"{Stage.RECORD}: not reconciled: the audit trail cannot be written "
            f"({unwritable.message}), so this run changes nothing more (fix: {unwritable.hint})"
        ),
        stage=Stage.RECORD,
        hint=unwritable.hint,
    )


def _record_found_change(
    blueprint: Blueprint, target: Target, ports: Ports, recorder: Recorder
) -> str:
    """Record the change the deployment carries if the trail lacks it; returns the note."""
    state = ports.cluster.observe([target]).get(target)
    if isinstance(state, Exception) or state is None:
        raise state or ClusterError(f"{target} was not observed")
    stamp = state.last_change
    if stamp is None or ports.audit.contains(blueprint.name, stamp.at, stamp.operation_id):
        return ""
    note = recovery_note(blueprint, stamp, ports.clock.now())
    recorder.commit(note.subject, note.records)
    return note.subject
