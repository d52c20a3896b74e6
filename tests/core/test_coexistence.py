"""Sharing a deployment's replicas with another controller, as tables over the pure planner.

Two controllers writing one field fight forever, so a scale is refused while an HPA, Argo CD
or Flux owns the replicas, unless the blueprint's `spec.scaling.coexistence` says how to share
(docs/governance.md, Other controllers). Each case runs through both ways a scale is planned:
a whole cycle (`plan_cycle`, where the engine decides 2→3 on high load) and a person's request
(`plan_request`, 2→4), with the owners as the adapter reports them in
`DeploymentState.controllers`.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from reconciler.core.blueprint.model import Blueprint
from reconciler.core.decide.governance import OperationRequest, Origin, VerdictAction
from reconciler.core.observed.changes import ChangeKind
from reconciler.core.observed.observation import DeploymentState
from reconciler.core.planning.cycle import ServicePlan, Step, plan_cycle, plan_request
from reconciler.core.trail.history import fold_history
from reconciler.core.trail.records import EventType
from tests.core.helpers import NOW, blueprint, metrics, state

HPA = ("hpa/web-hpa",)
ARGO_CD = ("argocd/shop-web",)
FLUX = ("flux/apps",)
MODES = ("exclusive", "adjust_hpa", "gitops_ignores_replicas")

EXECUTE, BLOCK = VerdictAction.EXECUTE, VerdictAction.BLOCK
#: What a refusal tells a person to do, by the kind of owner.
USE_THE_HPA = "set spec.scaling.coexistence: adjust_hpa to scale through the HPA's minReplicas"
IGNORED_BY_GITOPS = "set spec.scaling.coexistence: gitops_ignores_replicas"


def with_mode(mode: str) -> Blueprint:
    return blueprint(scaling=f"    coexistence: {mode}\n")


def by_cycle(bp: Blueprint, observed: DeploymentState) -> ServicePlan:
    """A cycle under high load: the engine decides to scale 2→3."""
    history = fold_history(bp.name, (), bp.policy.safety.circuit_breaker, NOW)
    return plan_cycle(bp, observed, metrics(0.95, 0.90, 180), history, NOW)


def by_request(bp: Blueprint, observed: DeploymentState, operation: str = "scale") -> ServicePlan:
    """A person asks for 4 replicas (or for another operation)."""
    history = fold_history(bp.name, (), bp.policy.safety.circuit_breaker, NOW)
    request = OperationRequest(
        operation=operation,
        service=bp.name,
        origin=Origin.REQUEST,
        target_replicas=4 if operation == "scale" else None,
        reason="more room for the sale",
        requested_by="alice",
    )
    return plan_request(bp, observed, metrics(0.50, 0.50, 100), history, request, NOW)


PLANNERS: dict[str, tuple[Callable[[Blueprint, DeploymentState], ServicePlan], int]] = {
    "cycle": (by_cycle, 3),
    "request": (by_request, 4),
}


def only_step(plan: ServicePlan) -> Step:
    (step,) = plan.steps
    assert step.request.operation == "scale_within_limits"
    return step


@pytest.mark.parametrize("planner", PLANNERS)
@pytest.mark.parametrize(
    ("controllers", "mode", "action", "hpa", "hint"),
    [
        ((), "exclusive", EXECUTE, None, ""),
        ((), "adjust_hpa", EXECUTE, None, ""),
        ((), "gitops_ignores_replicas", EXECUTE, None, ""),
        (HPA, "exclusive", BLOCK, None, USE_THE_HPA),
        (HPA, "adjust_hpa", EXECUTE, "web-hpa", ""),
        (HPA, "gitops_ignores_replicas", BLOCK, None, USE_THE_HPA),
        (ARGO_CD, "exclusive", BLOCK, None, IGNORED_BY_GITOPS),
        (ARGO_CD, "adjust_hpa", BLOCK, None, IGNORED_BY_GITOPS),
        (ARGO_CD, "gitops_ignores_replicas", EXECUTE, None, ""),
        (FLUX, "exclusive", BLOCK, None, IGNORED_BY_GITOPS),
        (FLUX, "adjust_hpa", BLOCK, None, IGNORED_BY_GITOPS),
        (FLUX, "gitops_ignores_replicas", EXECUTE, None, ""),
    ],
)
def test_a_scale_and_another_owner_of_the_replicas(
    planner: str,
    controllers: tuple[str, ...],
    mode: str,
    action: VerdictAction,
    hpa: str | None,
    hint: str,
) -> None:
    plan, target = PLANNERS[planner]
    step = only_step(plan(with_mode(mode), state(2, controllers=controllers)))
    verdict = step.verdict
    assert verdict.action is action, verdict.reasons
    if action is BLOCK:
        (owner,) = controllers
        reason = verdict.summary
        assert reason.startswith(f"the replicas of todo-app/web are managed by {owner};")
        assert hint in reason and reason in verdict.reason_words
        assert verdict.reasons[-1].params["owners"] == owner
        assert step.change is None
        refusal = step.records[-1]
        assert refusal.event_type is EventType.OPERATION_BLOCKED
        assert reason in refusal.rationale and refusal.details["execution_prevented"] is True
        return
    assert not any("managed by" in r for r in verdict.reason_words), verdict.reasons
    change = step.change
    assert change is not None and change.kind is ChangeKind.SCALE
    assert (change.replicas, change.hpa) == (target, hpa)
    where = f"minReplicas of hpa todo-app/{hpa}" if hpa else "scale deployment todo-app/web"
    assert where in change.describe()


@pytest.mark.parametrize("planner", PLANNERS)
@pytest.mark.parametrize(
    ("controllers", "mode"),
    [
        (("hpa/web-hpa", "hpa/web-hpa-v2"), "exclusive"),
        (("hpa/web-hpa", "hpa/web-hpa-v2"), "adjust_hpa"),
        (("hpa/web-hpa", "argocd/shop-web"), "exclusive"),
        (("hpa/web-hpa", "argocd/shop-web"), "adjust_hpa"),
        (("hpa/web-hpa", "argocd/shop-web"), "gitops_ignores_replicas"),
        (("argocd/shop-web", "flux/apps"), "exclusive"),
    ],
    ids=lambda value: "+".join(value) if isinstance(value, tuple) else str(value),
)
def test_several_owners_are_refused_and_all_named(
    planner: str, controllers: tuple[str, ...], mode: str
) -> None:
    """Only one HPA per deployment is supported, and an HPA does not make Argo CD's or Flux's
    marks go away: no mode lets these through."""
    plan, _ = PLANNERS[planner]
    step = only_step(plan(with_mode(mode), state(2, controllers=controllers)))
    assert step.verdict.action is BLOCK and step.change is None
    assert f"managed by {', '.join(controllers)};" in step.verdict.summary


@pytest.mark.parametrize(
    ("controllers", "mode", "misleading"),
    [
        pytest.param(
            ("hpa/web-hpa", "hpa/web-hpa-v2"), "adjust_hpa",
            "set spec.scaling.coexistence: adjust_hpa", id="two-hpas-told-to-set-adjust_hpa",
        ),
        pytest.param(
            ("hpa/web-hpa", "argocd/shop-web"), "gitops_ignores_replicas", USE_THE_HPA,
            id="hpa-and-argo-cd-told-to-set-adjust_hpa",
        ),
        pytest.param(
            ("hpa/web-hpa", "argocd/shop-web"), "adjust_hpa", IGNORED_BY_GITOPS,
            id="hpa-and-argo-cd-told-to-set-gitops_ignores_replicas",
        ),
    ],
)  # fmt: skip
def test_a_refusal_never_suggests_a_mode_that_would_still_be_refused(
    controllers: tuple[str, ...], mode: str, misleading: str
) -> None:
    step = only_step(by_request(with_mode(mode), state(2, controllers=controllers)))
    assert step.verdict.action is BLOCK
    assert misleading not in step.verdict.summary


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("operation", ["restart_failed_pods", "rollback_deployment"])
def test_changes_that_leave_the_replicas_alone_are_not_refused(mode: str, operation: str) -> None:
    """Only replicas are shared; a restart or a rollback goes ahead whoever else is there
    (docs/running-in-production.md says which of them a GitOps tool may revert)."""
    owners = ("hpa/web-hpa", "argocd/shop-web", "flux/apps")
    (step,) = by_request(with_mode(mode), state(2, controllers=owners), operation).steps
    assert step.verdict.action is EXECUTE, step.verdict.reasons
    assert step.change is not None and step.change.hpa is None
    assert step.change.kind in (ChangeKind.RESTART, ChangeKind.ROLLBACK)


@pytest.mark.parametrize("owners", [HPA, ARGO_CD])
def test_a_scale_needing_approval_is_refused_before_anyone_is_asked(
    owners: tuple[str, ...],
) -> None:
    """Beyond max_replicas a scale needs approval; asking would waste a person's time when the
    change could not be made anyway, so the ownership refusal comes first."""
    bp = with_mode("exclusive")
    history = fold_history(bp.name, (), bp.policy.safety.circuit_breaker, NOW)
    request = OperationRequest(
        operation="scale",
        service=bp.name,
        origin=Origin.REQUEST,
        target_replicas=bp.scaling.max_replicas + 3,
        requested_by="alice",
    )
    plan = plan_request(
        bp, state(2, controllers=owners), metrics(0.5, 0.5, 100), history, request, NOW
    )
    (step,) = plan.steps
    assert step.request.operation == "scale_beyond_limits"
    assert step.verdict.action is BLOCK and step.change is None
    assert "managed by" in step.verdict.summary
    assert step.records[-1].event_type is EventType.OPERATION_BLOCKED
