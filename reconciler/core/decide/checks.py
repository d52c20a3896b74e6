"""The checks of a verification, each against its target and the pre-change baseline:
replicas, pod health, CPU and memory against what the change expected, latency and errors
against the blueprint's limits (unless the demand grew), and new restarts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.core.blueprint.model import Blueprint
from reconciler.core.decide.pending import Pending, number
from reconciler.core.observed.observation import DeploymentState, Metrics
from reconciler.core.trail import lazy_bodies
from reconciler.core.trail import verification_wording as said
from reconciler.core.trail.codes import Code
from reconciler.core.trail.verification_wording import Bound, Unit
from reconciler.core.trail.wording import Reason, say

if TYPE_CHECKING:
    from reconciler.core.trail.bodies import Check

__all__ = ["LOAD_NOISE", "UTILIZATION_TOLERANCE", "verification_checks"]

#: Relative tolerance of the CPU and memory checks around the expected value.
UTILIZATION_TOLERANCE = 0.10
#: How much more load (requests, or CPU in use) counts as "the load grew" rather than noise.
LOAD_NOISE = 0.10


def _worse(actual: float, baseline: float | None, relative: float, absolute: float) -> bool:
    """Worse than the baseline by more than noise: both a relative and an absolute margin."""
    if baseline is None:
        return False
    return actual > baseline * (1 + relative) and actual - baseline > absolute


def _target_check(
    name: str,
    actual: float | None,
    limit: float,
    baseline: float | None,
    unit: Unit,
    relative: float,
    absolute: float,
    load: str = "",
) -> Check:
    """`load` explains, when set, why getting worse is the demand's doing and not the
    change's: then it is noted but does not call for a rollback."""
    expected = said.expected(Bound.BELOW, limit, unit)
    shown_baseline = None if baseline is None else said.shown(baseline, unit)
    if actual is None:
        return lazy_bodies.Check(
            check=name,
            severity=lazy_bodies.Severity.CRITICAL,
            expected=expected,
            actual=said.shown(None, unit),
            status=lazy_bodies.CheckStatus.SKIPPED,
            baseline=shown_baseline,
            note=say(Reason(Code.CHECK_CANNOT_TELL)),
        )
    ok = actual < limit
    worse = _worse(actual, baseline, relative, absolute)
    note = "" if ok or baseline is not None else say(Reason(Code.CHECK_NO_BASELINE))
    if baseline is not None and baseline > 0:
        note = say(Reason(Code.CHECK_MOVED, {"baseline": baseline, "actual": actual, "unit": unit}))
    if worse and load:
        worse, note = False, f"{note}; {load}" if note else load
    return lazy_bodies.Check(
        check=name,
        severity=lazy_bodies.Severity.CRITICAL,
        expected=expected,
        actual=said.shown(actual, unit),
        status=lazy_bodies.CheckStatus.PASSED if ok else lazy_bodies.CheckStatus.FAILED,
        baseline=shown_baseline,
        worse=worse,
        note=note,
    )


def _demand_grew(pending: Pending, state: DeploymentState, metrics: Metrics) -> str:
    """Why a scale-up is not to blame for worse latency or errors, or "".

    Adding replicas adds capacity; on its own it does not slow a service down. When more
    requests arrived than before (throughput up by more than LOAD_NOISE), or, where the
    throughput is not measured, the total CPU in use (utilization × replicas) grew across a
    scale-up, latency and errors rose with the load. Rolling the scale-up back would take
    capacity away in the middle of a surge, so the change is kept and the next decision
    scales further. Unhealthy new pods (readiness, restarts) still count against it.
    """
    base = pending.baseline
    target = pending.target_replicas
    before_replicas = number(base.get("replicas"))
    if (
        pending.is_rollback
        or target is None
        or before_replicas is None
        or target <= before_replicas
    ):
        return ""
    before_rate, now_rate = number(base.get("throughput")), metrics.throughput
    if before_rate is not None and now_rate is not None:
        if now_rate <= before_rate * (1 + LOAD_NOISE):
            return ""
        return say(Reason(Code.REQUESTS_GREW, {"before": before_rate, "now": now_rate}))
    before_cpu = number(base.get("cpu_utilization"))
    now_cpu = metrics.cpu_utilization
    if before_cpu is None or now_cpu is None:
        return ""
    before, after = before_cpu * before_replicas, now_cpu * state.replicas
    if after <= before * (1 + LOAD_NOISE):
        return ""
    return say(Reason(Code.LOAD_GREW, {"before": before, "after": after}))


def _utilization_check(
    name: str, actual: float | None, expected: float | None, target: float
) -> Check:
    if actual is None:
        return lazy_bodies.Check(
            check=name,
            severity=lazy_bodies.Severity.HIGH,
            expected=said.expected(Bound.NONE, 0.0, Unit.PERCENT),
            actual=said.shown(None, Unit.PERCENT),
            status=lazy_bodies.CheckStatus.SKIPPED,
            note=say(Reason(Code.CHECK_NO_DATA)),
        )
    if expected is None:
        ok = actual < target
        return lazy_bodies.Check(
            check=name,
            severity=lazy_bodies.Severity.HIGH,
            expected=said.expected(Bound.BELOW, target, Unit.PERCENT),
            actual=said.shown(actual, Unit.PERCENT),
            status=lazy_bodies.CheckStatus.PASSED if ok else lazy_bodies.CheckStatus.FAILED,
        )
    ok = abs(actual - expected) <= UTILIZATION_TOLERANCE * expected
    return lazy_bodies.Check(
        check=name,
        severity=lazy_bodies.Severity.HIGH,
        expected=said.expected(Bound.NEAR, expected, Unit.PERCENT, UTILIZATION_TOLERANCE),
        actual=said.shown(actual, Unit.PERCENT),
        status=lazy_bodies.CheckStatus.PASSED if ok else lazy_bodies.CheckStatus.FAILED,
    )


def verification_checks(
    pending: Pending, blueprint: Blueprint, state: DeploymentState, metrics: Metrics
) -> tuple[Check, ...]:
    """Every check of a verification, in the order records list them."""
    return (
        *_replica_count(pending, state),
        _pods_ready(pending, state),
        *_utilization_checks(pending, blueprint, metrics),
        *_performance_checks(pending, blueprint, state, metrics),
        _no_new_restarts(pending, state),
    )


def _replica_count(pending: Pending, state: DeploymentState) -> tuple[Check, ...]:
    """The replicas the change set, still there; none for a change that set no replicas."""
    wanted = pending.target_replicas
    if wanted is None:
        return ()
    return (
        lazy_bodies.Check(
            check="replica_count",
            severity=lazy_bodies.Severity.CRITICAL,
            expected=said.expected(Bound.EXACTLY, wanted, Unit.COUNT),
            actual=said.shown(state.replicas, Unit.COUNT),
            status=lazy_bodies.CheckStatus.PASSED
            if state.replicas == wanted
            else lazy_bodies.CheckStatus.FAILED,
            note="" if state.replicas == wanted else say(Reason(Code.CHECK_REPLICAS_CHANGED)),
        ),
    )


def _pods_ready(pending: Pending, state: DeploymentState) -> Check:
    """Every pod ready; worse when more are unready than before the change."""
    base = pending.baseline
    base_replicas = number(base.get("replicas"))
    base_ready = number(base.get("ready_replicas"))
    base_unready = (
        None if base_replicas is None or base_ready is None else base_replicas - base_ready
    )
    unready = state.replicas - state.ready_replicas
    return lazy_bodies.Check(
        check="pods_ready",
        severity=lazy_bodies.Severity.CRITICAL,
        expected=said.expected(Bound.EXACTLY, state.replicas, Unit.COUNT),
        actual=said.shown(state.ready_replicas, Unit.COUNT),
        status=lazy_bodies.CheckStatus.PASSED if unready == 0 else lazy_bodies.CheckStatus.FAILED,
        baseline=(
            None
            if base_ready is None or base_replicas is None
            else said.ready_of(base_ready, base_replicas)
        ),
        worse=unready > (base_unready or 0),
    )


def _utilization_checks(
    pending: Pending, blueprint: Blueprint, metrics: Metrics
) -> tuple[Check, Check]:
    """CPU and memory near what the change expected (below their targets when it expected
    nothing)."""
    scaling = blueprint.scaling
    return (
        _utilization_check(
            "cpu_utilization",
            metrics.cpu_utilization,
            number(pending.expected.get("cpu_utilization")),
            scaling.target_cpu_utilization,
        ),
        _utilization_check(
            "memory_utilization",
            metrics.memory_utilization,
            number(pending.expected.get("memory_utilization")),
            scaling.target_memory_utilization,
        ),
    )


def _performance_checks(
    pending: Pending, blueprint: Blueprint, state: DeploymentState, metrics: Metrics
) -> tuple[Check, Check]:
    """Latency and errors within the blueprint's limits and no worse than before, unless the
    demand grew (then worse is noted, not blamed on the change)."""
    base, perf = pending.baseline, blueprint.performance
    load = _demand_grew(pending, state, metrics)
    return (
        _target_check(
            "latency_p95",
            metrics.latency_p95_ms,
            perf.latency_p95_ms,
            number(base.get("latency_p95_ms")),
            Unit.MS,
            relative=0.10,
            absolute=5.0,
            load=load,
        ),
        _target_check(
            "error_rate",
            metrics.error_rate,
            perf.error_rate_max,
            number(base.get("error_rate")),
            Unit.PERCENT,
            relative=0.10,
            absolute=0.001,
            load=load,
        ),
    )


def _no_new_restarts(pending: Pending, state: DeploymentState) -> Check:
    """No pod restarted more often than the most-restarted one had before the change."""
    base_restarts = number(pending.baseline.get("restart_count")) or 0.0
    restarts = state.max_restarts
    return lazy_bodies.Check(
        check="no_new_restarts",
        severity=lazy_bodies.Severity.CRITICAL,
        expected=said.expected(Bound.AT_MOST, base_restarts, Unit.COUNT),
        actual=said.shown(restarts, Unit.COUNT),
        status=lazy_bodies.CheckStatus.PASSED
        if restarts <= base_restarts
        else lazy_bodies.CheckStatus.FAILED,
        baseline=said.shown(base_restarts, Unit.COUNT),
        worse=restarts > base_restarts,
    )
