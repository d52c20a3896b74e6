"""A person's request for one operation, carried through the same gate, plan and governance as
a cycle's decision: what to look up before it, when it must not go ahead, and whether it did.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from reconciler.core.approvals.feedback import TrailLinks
from reconciler.core.approvals.requests import shape_request
from reconciler.core.blueprint.model import Blueprint
from reconciler.core.decide.governance import OperationRequest, Origin
from reconciler.core.errors import ClusterError, HeldError, MetricsError
from reconciler.core.observed.observation import DeploymentState, Metrics, Target
from reconciler.core.planning.cycle import Step, plan_request
from reconciler.core.planning.outcomes import StepOutcome
from reconciler.shell.acting import Proposing, carry_out
from reconciler.shell.approvals import Proposer, Review
from reconciler.shell.gating import gate_service
from reconciler.shell.ports import Ports
from reconciler.shell.recording import Recorder
from reconciler.shell.reports import StepResult
from reconciler.shell.workspace import Fleet

__all__ = ["SUCCEEDED", "Ask", "Prepared", "RequestDone", "carry_out_request", "prepare_request"]

#: The outcomes of a request that went as asked: executed, or waiting for a person (and in
#: observe mode, what would have been); any other outcome fails the command.
SUCCEEDED = frozenset(
    {
        StepOutcome.EXECUTED,
        StepOutcome.PENDING,
        StepOutcome.PROPOSED,
        StepOutcome.WOULD_EXECUTE,
        StepOutcome.WOULD_PROPOSE,
    }
)


@dataclass(frozen=True, kw_only=True)
class Ask:
    """What the person asked for, as the command line parsed it."""

    service: str
    operation: str
    replicas: int | None
    #: The new total requests (`cpu_request` in millicores, `memory_request` in bytes).
    parameters: Mapping[str, object]
    reason: str
    requested_by: str


@dataclass(frozen=True, kw_only=True)
class Prepared:
    """A request shaped against the deployment as it is now, ready to be carried out."""

    blueprint: Blueprint
    state: DeploymentState
    metrics: Metrics
    now: datetime
    request: OperationRequest
    proposing: Proposing | None


@dataclass(frozen=True, kw_only=True)
class RequestDone:
    #: The planned step: the request as governed, and the verdict.
    step: Step
    result: StepResult

    @property
    def succeeded(self) -> bool:
        return self.result.kind in SUCCEEDED


def prepare_request(ask: Ask, fleet: Fleet, ports: Ports, links: TrailLinks) -> Prepared:
    """Observe the deployment and shape the request for it; a request that does not fit its
    operation is a usage error here, before anything is recorded."""
    blueprint = fleet.get(ask.service)
    target = Target(namespace=blueprint.metadata.namespace, name=blueprint.metadata.deployment)
    state = ports.cluster.observe([target])[target]
    if isinstance(state, ClusterError):
        raise state
    current = ports.metrics.current([target]).get(target)
    metrics = Metrics() if current is None or isinstance(current, MetricsError) else current
    request = OperationRequest(
        operation=ask.operation,
        service=ask.service,
        origin=Origin.REQUEST,
        current_replicas=state.replicas if ask.replicas is not None else None,
        target_replicas=ask.replicas,
        reason=ask.reason,
        requested_by=ask.requested_by,
        parameters=dict(ask.parameters),
    )
    shape_request(request, blueprint, state)  # a usage error records nothing
    proposing = None
    if ports.forge is not None:
        proposing = Proposing(
            proposer=Proposer(
                forge=ports.forge,
                audit=ports.audit,
                budget=fleet.policies.max_new_proposals_per_run,
                links=links,
            ),
            review=Review(),
            blueprint=blueprint,
            blueprint_text=fleet.texts.get(blueprint.name, ""),
            state=state,
        )
    return Prepared(
        blueprint=blueprint,
        state=state,
        metrics=metrics,
        now=ports.clock.now(),
        request=request,
        proposing=proposing,
    )


def carry_out_request(prepared: Prepared, ports: Ports) -> RequestDone:
    """Gate the service, plan the request and carry it out, committing its records.

    A request must not act on a blueprint no approval stands behind, exactly as a run would
    not, nor over a change the deployment carries that the trail does not know.
    """
    blueprint, state, now = prepared.blueprint, prepared.state, prepared.now
    recorder = Recorder(ports.audit, dry_run=False)
    gate = gate_service(blueprint, state, ports, recorder, now)
    held = gate.held or gate.review.wait
    if not held and not gate.stamp_recorded and state.last_change is not None:
        # A new change would replace the stamp, the only trace of the unrecorded one.
        stamp = state.last_change
        held = (
            f"the deployment carries {stamp.operation_id} ({stamp.summary}), which is not in "
            "the audit trail: a run stopped before recording it; `reconciler run` records "
            "and verifies it first"
        )
    if held:
        ports.audit.flush()
        raise HeldError(f"{blueprint.name}: {held}", hint="nothing was requested or recorded")
    plan = plan_request(blueprint, state, prepared.metrics, gate.history, prepared.request, now)
    steps, _notes = carry_out(
        plan, blueprint, state, prepared.metrics, gate.history, ports, recorder, prepared.proposing
    )
    ports.audit.flush()
    return RequestDone(step=plan.steps[0], result=steps[0])
