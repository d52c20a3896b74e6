"""What a granted approval lets the next cycle do, and why one can no longer be used (expired,
overtaken by the state of the service).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from reconciler.core.approvals.lifecycle import Kind
from reconciler.core.approvals.recording import shown_value
from reconciler.core.approvals.requests import out_of_bounds
from reconciler.core.blueprint.model import Blueprint
from reconciler.core.decide.governance import OperationRequest, Origin
from reconciler.core.ids import utc
from reconciler.core.observed.observation import DeploymentState
from reconciler.core.trail.proposal_metadata import ProposalMetadata

__all__ = ["Authorization", "stale_reason", "unusable_reason"]


@dataclass(frozen=True, kw_only=True)
class Authorization:
    """A granted approval, carried into planning so the change it allows says who allowed it."""

    approval_id: str
    reference: str
    merged_by: str
    merged_at: datetime | None
    latency: float | None
    kind: Kind
    operation: str
    target_replicas: int | None
    current_replicas: int | None
    parameters: Mapping[str, Any]

    def describe(self) -> str:
        when = f" at {utc(self.merged_at):%Y-%m-%d %H:%M:%S}Z" if self.merged_at else ""
        return f"{self.reference}, merged by {self.merged_by}{when}"

    def to_json(self) -> dict[str, Any]:
        return {
            "approval_id": self.approval_id,
            "reference": self.reference,
            "merged_by": self.merged_by,
            "merged_at": self.merged_at,
            "approval_latency_seconds": self.latency,
            # What the proposal was made from: where a merge that edited the manifests took
            # the service from (coexistence: write_back).
            "current_replicas": self.current_replicas,
        }

    def request(self, blueprint: Blueprint, current_replicas: int) -> OperationRequest:
        """The one-off operation a granted request file approved."""
        return OperationRequest(
            operation=self.operation,
            service=blueprint.name,
            origin=Origin.APPROVAL,
            current_replicas=current_replicas if self.target_replicas is not None else None,
            target_replicas=self.target_replicas,
            decision_id=self.approval_id,
            reason=f"approved in {self.reference} by {self.merged_by}",
            requested_by=self.merged_by,
            parameters=self.parameters,
        )


def stale_reason(metadata: ProposalMetadata, state: DeploymentState) -> str:
    """Why an approved one-off request no longer fits the deployment, or "".

    A request describes the deployment it was proposed for: its replicas, its revision, and
    the values a change replaces (`*_before` parameters, e.g. `cpu_request_before`). If what
    the operation depends on moved since (the replicas of a scale, the requests a resources
    change replaces, the revision of a rollback), someone changed the deployment meanwhile,
    and carrying out the approval now (a rollback after a person already shipped a fixed
    release, say) would act on a deployment the approver never saw. What it does not depend
    on is not compared: another approved request carried out first (a resources change,
    which rolls out a new revision) leaves a scale approved beside it as it was."""
    if metadata.kind != Kind.REQUEST:
        return ""
    done = state.last_change  # carried out, though its run may have died before recording it
    if done is not None and done.approval_id and done.approval_id == metadata.approval_id:
        return f"already carried out as {done.operation_id}, as the deployment's stamp shows"
    changed = []
    parameters = metadata.parameters
    current = metadata.current_replicas
    scale = metadata.target_replicas is not None
    resources = any(str(key).endswith("_before") for key in parameters)
    # A proposal that edits the manifests a GitOps tool applies is carried out by its merge:
    # the deployment already at the target is that merge rolled out, not someone else's change.
    rolled_out = bool(metadata.write_back) and state.replicas == metadata.target_replicas
    if current is not None and current != state.replicas and not rolled_out:
        changed.append(f"replicas {current} (now {state.replicas})")
    # Only what the operation depends on: a scale, the replicas; a resources change, the
    # values it replaces; anything else (a rollback, a restart), the revision. A change the
    # reconciler made under another approval (a second request for the same service) moves
    # the revision, and must not make a scale approved beside it stale.
    revision = metadata.revision
    if not scale and not resources and revision is not None and revision != state.revision:
        changed.append(f"revision {revision} (now {state.revision})")
    known = {f.name for f in fields(DeploymentState)}
    for key, before in sorted(parameters.items()):
        if not key.endswith("_before"):
            continue
        name = key.removesuffix("_before")
        if name not in known:
            changed.append(f"{name} {shown_value(name, before)} (the deployment does not say)")
            continue
        now_value = getattr(state, name)
        if now_value != before:
            changed.append(
                f"{name} {shown_value(name, before)} (now {shown_value(name, now_value)})"
            )
    if not changed:
        return ""
    return (
        "overtaken by the state: it was proposed when the deployment had "
        + ", ".join(changed)
        + "; propose it again if it is still wanted"
    )


def unusable_reason(metadata: ProposalMetadata, blueprint: Blueprint) -> str:
    """Why an approved one-off request cannot be carried out on any deployment, or "".

    Its numbers were checked when it was proposed, but the bounds may have tightened since (a
    lower fleet ceiling), or the proposal predates them. A merge approves the numbers it shows,
    and none of these can be carried out, so it is refused rather than left to fail each run.
    """
    if metadata.kind != Kind.REQUEST:
        return ""
    # The numbers as stored, not as read: a target of the wrong type (`2.5`, `"4"`) reads as
    # none, but is a number this request cannot be carried out with, so it is refused.
    parameters = metadata.get("parameters")
    beyond = out_of_bounds(
        metadata.get("target_replicas"),
        parameters if isinstance(parameters, Mapping) else {},
        ceiling=blueprint.scaling.replica_ceiling,
    )
    return "" if beyond is None else f"out of bounds: {beyond.problem}"
