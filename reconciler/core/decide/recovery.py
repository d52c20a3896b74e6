"""Recovery decisions: what to do about pods that keep failing.

The ladder, from the blueprint's `spec.reliability`:

1. Every pod failing (none ready) → roll back at once, if `rollback_on_failure`.
2. Restarts at or beyond `max_restart_count` → escalate: a rollback proposed for approval.
3. Restarts at `rollback_threshold` → roll back to the previous revision, if
   `rollback_on_failure`.
4. Some pods failing with restarts → restart them (a rollout restart).

A rollout restart replaces the pods, and new pods start counting restarts from zero, so the
count that climbs the ladder adds the restarts the reconciler itself did in the last hour:
a release that crashes again after a restart moves on to a rollback instead of being
restarted forever.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from reconciler.core.blueprint.model import Blueprint
from reconciler.core.decide.decision import (
    Action,
    Decision,
    DecisionRule,
    Reason,
    weighted_utilization,
)
from reconciler.core.ids import make_id, utc
from reconciler.core.observed.observation import DeploymentState, Metrics
from reconciler.core.trail import wording
from reconciler.core.trail.codes import Code
from reconciler.core.trail.history import ServiceHistory
from reconciler.core.trail.records import EventType

__all__ = ["decide_recovery", "effective_restarts"]

#: How far back the reconciler's own restarts count toward the ladder.
RESTART_MEMORY = timedelta(hours=1)


def effective_restarts(state: DeploymentState, history: ServiceHistory, now: datetime) -> int:
    ours = sum(
        1
        for r in history.records
        if r.event_type is EventType.OPERATION_EXECUTED
        and r.operation == "restart_failed_pods"
        and utc(now) - utc(r.timestamp) <= RESTART_MEMORY
    )
    return state.max_restarts + ours


_REFS = (
    "spec.reliability.max_restart_count",
    "spec.reliability.rollback_threshold",
    "spec.reliability.rollback_on_failure",
)


def _rung(
    blueprint: Blueprint, state: DeploymentState, restarts: int
) -> tuple[Action, Reason, wording.Reason]:
    """The rung of the ladder the failing pods stand on, and why: every pod down rolls back
    at once; then escalate, roll back, or restart, by the restarts counted."""
    reliability = blueprint.reliability
    failing = state.failing_pods
    seen = {"failing": failing, "pods": len(state.pods)}
    everyone = state.ready_replicas == 0 and len(failing) == len(state.pods)
    if everyone and reliability.rollback_on_failure and state.revision > 1:
        return (
            Action.ROLLBACK,
            Reason.WIDESPREAD_FAILURE,
            wording.Reason(Code.RECOVERY_ALL_DOWN, seen),
        )
    counted = {**seen, "restarts": restarts}
    if restarts >= reliability.max_restart_count:
        return (
            Action.ESCALATE,
            Reason.MAX_RESTARTS,
            wording.Reason(
                Code.RECOVERY_ESCALATE, {**counted, "limit": reliability.max_restart_count}
            ),
        )
    threshold = {**counted, "limit": reliability.rollback_threshold}
    if restarts >= reliability.rollback_threshold and reliability.rollback_on_failure:
        return (
            Action.ROLLBACK,
            Reason.ROLLBACK_THRESHOLD,
            wording.Reason(Code.RECOVERY_ROLLBACK, threshold),
        )
    return Action.RESTART, Reason.PODS_FAILING, wording.Reason(Code.RECOVERY_RESTART, threshold)


def decide_recovery(
    blueprint: Blueprint,
    state: DeploymentState,
    metrics: Metrics,
    history: ServiceHistory,
    now: datetime,
) -> Decision | None:
    """A recovery decision when pods are failing now, else None (scaling decides instead)."""
    failing = state.failing_pods
    if not failing:
        return None
    restarts = effective_restarts(state, history, now)
    action, reason, why = _rung(blueprint, state, restarts)
    return Decision(
        id=make_id("dec", now, blueprint.name, action, restarts, history.fingerprint),
        service=blueprint.name,
        blueprint_version=blueprint.version,
        provenance=blueprint.provenance,
        at=utc(now),
        action=action,
        reason=reason,
        current_replicas=state.replicas,
        target_replicas=state.replicas,
        desired_replicas=state.replicas,
        weighted=weighted_utilization(blueprint, metrics),
        rationale=wording.say(why),
        references=_REFS,
        inputs={
            "replicas": state.replicas,
            "ready_replicas": state.ready_replicas,
            "failing_pods": [p.name for p in failing],
            "restart_count": state.max_restarts,
            "effective_restarts": restarts,
            "revision": state.revision,
        },
        rule=DecisionRule.RECOVERY,
    )
