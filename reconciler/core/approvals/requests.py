"""What an operation request must say, and which operation it really is.

Governance classifies an operation by its name, so the name has to match what the request
changes. A request called `restart_failed_pods` that also carries a replica count must not
scale the deployment under the restart's (allowed) classification; a request called
`adjust_resources_within_10_percent` that doubles the CPU must not pass as a small change. So
a request is checked for the parameters its operation needs, and scale and resource requests
are renamed by their actual size, whatever name was used, before anything is classified.

Its numbers are held to the limits in `bounds` and to the fleet's replica ceiling first
(`out_of_bounds`): a request beyond them is a usage error, and an approval of one, granted
before the ceiling was lowered say, is refused rather than carried out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from reconciler.core import bounds
from reconciler.core.blueprint.catalogue import ROLLBACK_OWN_CHANGE
from reconciler.core.blueprint.model import Blueprint
from reconciler.core.blueprint.units import format_cpu, format_memory
from reconciler.core.decide.governance import OperationRequest, Origin
from reconciler.core.errors import ExitCode, ReconcilerError
from reconciler.core.observed.observation import DeploymentState

__all__ = [
    "RESOURCE_OPERATIONS",
    "SCALE_OPERATIONS",
    "OutOfBounds",
    "RequestError",
    "out_of_bounds",
    "shape_request",
]

#: Names a scale request may use; it is renamed by where its target lies.
SCALE_OPERATIONS = frozenset({"scale", "scale_within_limits", "scale_beyond_limits"})
#: Names a resource request may use; it is renamed by how far it moves the requests.
RESOURCE_OPERATIONS = frozenset(
    {"resources", "adjust_resources_within_10_percent", "change_resource_limits_beyond_10_percent"}
)
#: The share of a request that `adjust_resources_within_10_percent` covers.
SMALL_RESOURCE_CHANGE = 0.10
_RESOURCE_KEYS = ("cpu_request", "memory_request")


class RequestError(ReconcilerError):
    """A request whose parameters do not fit its operation: nothing is governed or recorded."""

    exit_code = ExitCode.USAGE


#: Where the fleet's replica ceiling is set, for messages.
_CEILING_FIELD = "limits.max_replicas in blueprints/governance/policies.yaml"


@dataclass(frozen=True, kw_only=True)
class OutOfBounds:
    """A number in a request that no approval could make usable, and the option that set it."""

    option: str
    #: e.g. "500 replicas is above the fleet ceiling of 100 (limits.max_replicas ...)"
    problem: str
    hint: str


def out_of_bounds(
    target_replicas: object, parameters: Mapping[str, object], *, ceiling: int
) -> OutOfBounds | None:
    """The first number of a request (as asked, or as a proposal recorded it) that lies
    outside the bounds, or None: replicas from 0 to the fleet's ceiling (at most int32), CPU
    and memory requests above 0 and within `bounds`. Anything that is not a whole number is
    refused too, since a recorded proposal is only JSON."""
    if target_replicas is not None:
        top = min(ceiling, bounds.REPLICAS_MAX)
        if not isinstance(target_replicas, int) or isinstance(target_replicas, bool):
            return OutOfBounds(
                option="--replicas",
                problem=f"{target_replicas!r} is not a whole number of replicas",
                hint="write a replica count such as --replicas 4",
            )
        if target_replicas < 0:
            return OutOfBounds(
                option="--replicas",
                problem=f"{target_replicas} replicas is below 0",
                hint="ask for 0 replicas or more",
            )
        if target_replicas > top:
            where = (
                f"the fleet ceiling of {ceiling} ({_CEILING_FIELD})"
                if ceiling < bounds.REPLICAS_MAX
                else f"{bounds.REPLICAS_MAX}, the most Kubernetes can store"
            )
            return OutOfBounds(
                option="--replicas",
                problem=f"{target_replicas} replicas is above {where}",
                hint=f"ask for at most {top} replicas"
                + (
                    ", or raise the ceiling through a reviewed change to the global policies"
                    if ceiling < bounds.REPLICAS_MAX
                    else ""
                ),
            )
    for key, option, high, fmt in (
        ("cpu_request", "--cpu", bounds.CPU_MAX_MILLICORES, format_cpu),
        ("memory_request", "--memory", bounds.MEMORY_MAX_BYTES, format_memory),
    ):
        value = parameters.get(key)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            return OutOfBounds(
                option=option,
                problem=f"{key} must be a positive quantity, not {value!r}",
                hint="write CPU as 250m or 1, memory as 512Mi or 1Gi",
            )
        if value > high:
            return OutOfBounds(
                option=option,
                problem=f"{key} {fmt(value)} is more than {fmt(high)}, the most accepted",
                hint=f"ask for at most {fmt(high)}",
            )
    return None


def shape_request(
    request: OperationRequest, blueprint: Blueprint, state: DeploymentState
) -> OperationRequest:
    """The request as governance must see it, or RequestError saying what to fix.

    Scale requests need a target and are named scale_within_limits or scale_beyond_limits by
    the blueprint's bounds. Resource requests need a new CPU or memory request and are named
    by the largest relative change; the values they replace are kept as `*_before`
    parameters, so an approval granted later can tell whether the deployment still has them.
    Every other operation must carry neither.
    """
    operation = request.operation
    beyond = out_of_bounds(
        request.target_replicas, request.parameters, ceiling=blueprint.scaling.replica_ceiling
    )
    if beyond is not None:
        raise RequestError(f"{beyond.option}: {beyond.problem}", hint=beyond.hint)
    resources = {key: request.parameters.get(key) for key in _RESOURCE_KEYS}
    asked = {key: value for key, value in resources.items() if value is not None}
    if operation in SCALE_OPERATIONS:
        return _scale(request, blueprint, state, asked)
    if operation in RESOURCE_OPERATIONS:
        return _resources(request, state, asked)
    # A person cannot ask for it, but can approve the reconciler's own proposal of it (a
    # blueprint that lists it under requires_approval): that approval is carried out.
    if operation == ROLLBACK_OWN_CHANGE and request.origin is Origin.REQUEST:
        raise RequestError(
            f"{ROLLBACK_OWN_CHANGE} is how the reconciler undoes its own change after a failed "
            "verification; it cannot be asked for",
            hint="ask for rollback_deployment to return to the previous revision",
        )
    if request.target_replicas is not None and operation != ROLLBACK_OWN_CHANGE:
        raise RequestError(
            f"{operation} does not change replicas, so --replicas does not belong to it",
            hint="to change replicas ask for `scale --replicas N`",
        )
    if asked:
        raise RequestError(
            f"{operation} does not change resource requests, so --cpu/--memory do not belong to it",
            hint="to change requests ask for `resources --cpu ... --memory ...`",
        )
    return request


def _scale(
    request: OperationRequest,
    blueprint: Blueprint,
    state: DeploymentState,
    asked: dict[str, object],
) -> OperationRequest:
    target = request.target_replicas
    if target is None:
        raise RequestError(
            f"{request.operation} needs a target replica count",
            hint=f"add --replicas N (the deployment has {state.replicas} now)",
        )
    if asked:
        raise RequestError(
            "a scale request changes replicas only; --cpu/--memory belong to a resources request",
            hint="ask for the two separately",
        )
    if target == state.replicas:
        raise RequestError(
            f"{blueprint.name} already has {target} replicas: there is nothing to change",
            hint="check the current state with `reconciler status`",
        )
    scaling = blueprint.scaling
    inside = scaling.min_replicas <= target <= scaling.max_replicas
    return replace(
        request,
        operation="scale_within_limits" if inside else "scale_beyond_limits",
        current_replicas=state.replicas,
    )


def _resources(
    request: OperationRequest, state: DeploymentState, asked: dict[str, object]
) -> OperationRequest:
    if request.target_replicas is not None:
        raise RequestError(
            "a resources request changes CPU and memory requests only; --replicas belongs to "
            "a scale request",
            hint="ask for the two separately",
        )
    if not asked:
        raise RequestError(
            f"{request.operation} needs the new requests",
            hint="add --cpu (e.g. 250m) and/or --memory (e.g. 512Mi)",
        )
    current = {"cpu_request": state.cpu_request, "memory_request": state.memory_request}
    shares: list[float] = []
    unknown: list[str] = []
    changed: list[str] = []
    for key, value in asked.items():
        assert isinstance(value, int)  # out_of_bounds checked it
        before = current[key]
        if before == value:
            continue
        changed.append(key)
        if before:
            shares.append(abs(value - before) / before)
        else:
            unknown.append(key)
    if not changed:
        now = ", ".join(_show(key, current[key]) for key in asked)
        raise RequestError(
            f"the deployment already has these requests ({now}): there is nothing to change",
            hint="check the current requests with `reconciler status`",
        )
    # A request the deployment had no value for has no size: treat it as the larger change.
    percent = None if unknown else max(shares)
    small = percent is not None and percent <= SMALL_RESOURCE_CHANGE + 1e-9
    parameters = dict(request.parameters)
    for key in changed:
        parameters[f"{key}_before"] = current[key]
    for key in asked:
        if key not in changed:
            parameters.pop(key, None)
    return replace(
        request,
        operation=(
            "adjust_resources_within_10_percent"
            if small
            else "change_resource_limits_beyond_10_percent"
        ),
        change_percent=percent,
        parameters=parameters,
    )


def _show(key: str, value: int | None) -> str:
    if value is None:
        return f"{key} unset"
    return f"{key} {format_cpu(value) if key == 'cpu_request' else format_memory(value)}"
