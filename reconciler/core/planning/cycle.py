"""Planning one service's part of a cycle: the pure heart of `reconciler run`.

The shell gathers the inputs (blueprint, observed state, metrics, history) and hands them
here; the planner decides, governs each resulting operation and prepares its records. What
comes back is a `ServicePlan`: steps to carry out, each with the cluster change to make (if
any) and the records that tell the story. The shell performs the changes and commits the
records; nothing in here touches the world.

Identical refusals are not recorded again within an hour (a service in cooldown, or behind an
open breaker, would otherwise add a commit every cycle); they still show in the run's output.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from reconciler.core.approvals.authorization import Authorization
from reconciler.core.approvals.requests import shape_request
from reconciler.core.blueprint.model import Blueprint
from reconciler.core.decide.decision import DEFAULT_MAX_METRICS_AGE
from reconciler.core.decide.governance import OperationRequest
from reconciler.core.errors import PausedError
from reconciler.core.ids import make_id, utc
from reconciler.core.observed.observation import (
    PAUSE_ANNOTATION,
    DeploymentState,
    Metrics,
    Sample,
)
from reconciler.core.planning.deferred import deferred_requests
from reconciler.core.planning.events import request_record
from reconciler.core.planning.notes import (
    breaker_note,
    manifest_recovery_note,
    pause_reason,
    recovery_note,
)
from reconciler.core.planning.plan import NoteCommit, ServicePlan, Step
from reconciler.core.planning.stages import STAGES, CycleInputs, Progress
from reconciler.core.planning.steps import govern_step, observed_values, replica_ownership
from reconciler.core.trail.history import ServiceHistory

__all__ = [
    "NoteCommit",
    "ServicePlan",
    "Step",
    "deferred_requests",
    "manifest_recovery_note",
    "observed_values",
    "pause_reason",
    "plan_cycle",
    "plan_request",
    "recovery_note",
    "replica_ownership",
]


def plan_cycle(
    blueprint: Blueprint,
    state: DeploymentState,
    metrics: Metrics,
    history: ServiceHistory,
    now: datetime,
    *,
    window: Sequence[Sample] | None = None,
    stamp_recorded: bool = True,
    max_metrics_age: float = DEFAULT_MAX_METRICS_AGE,
    verify_only: bool = False,
    authorizations: Sequence[Authorization] = (),
) -> ServicePlan:
    """One service's cycle: verify what is due, undo what failed, then recover or scale.

    `authorizations` are approvals granted this cycle (or granted and not yet carried out): a
    one-off request approved by a merge becomes the cycle's operation; an approved blueprint
    edit is credited on the change it allows.

    The cycle runs the STAGES in order (see stages.py); the first that settles the cycle
    ends it. At most one change per service per cycle, and none while an earlier change still
    waits for its verification: a second change would make the first one unverifiable.
    """
    inputs = CycleInputs(
        blueprint=blueprint,
        state=state,
        metrics=metrics,
        now=utc(now),
        window=window,
        stamp_recorded=stamp_recorded,
        max_metrics_age=max_metrics_age,
        verify_only=verify_only,
        authorizations=authorizations,
    )
    progress = Progress(history=history)
    for stage in STAGES:
        progress = stage(inputs, progress)
        if progress.plan is not None:
            return progress.plan
    raise AssertionError("the last stage always settles the cycle")


def plan_request(
    blueprint: Blueprint,
    state: DeploymentState,
    metrics: Metrics,
    history: ServiceHistory,
    request: OperationRequest,
    now: datetime,
) -> ServicePlan:
    """Govern an operation a person or a tool asked for, exactly as a decision would be.

    The request is first shaped (`shape_request`): a scale is named by where its target lies
    and a resource change by its size, whatever name was used, and parameters that do not
    belong to the operation are refused (RequestError) before anything is recorded.
    """
    now = utc(now)
    paused_by = pause_reason(blueprint, state)
    if paused_by:
        raise PausedError(
            f"{blueprint.name} is paused by {paused_by}: nothing is changed or proposed",
            hint="end the pause first (set spec.suspend: false, or remove the annotation with "
            f"`kubectl annotate deployment {state.target.name} {PAUSE_ANNOTATION}-`)",
        )
    request = shape_request(request, blueprint, state)
    history, opened = breaker_note(blueprint, history, now)
    # Everything the person asked, and the history so far: two requests in one second (even the
    # same request twice) get ids of their own, so neither overwrites the other's records.
    request_id = make_id(
        "req",
        now,
        blueprint.name,
        request.operation,
        request.target_replicas,
        request.reason,
        request.requested_by,
        sorted(request.parameters.items()),
        history.fingerprint,
    )
    request = replace(request, decision_id=request_id)
    lead = request_record(request, blueprint, request_id, now)
    step = govern_step(
        request,
        blueprint,
        state,
        history,
        observed_values(state, metrics),
        now,
        lead=lead,
        lead_id=lead.id,
        decision=None,
    )
    step = replace(step, repeated=False)  # a person asked: always record the answer
    return ServicePlan(
        service=blueprint.name,
        decision=None,
        steps=(step,),
        notes=(opened,) if opened else (),
    )
