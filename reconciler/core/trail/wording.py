"""The English of the records: every reason the deciding code gives, as a code with its
parameters, turned into the words records, commit subjects and proposal bodies carry.

Deciding functions (governance, the stages of a cycle) say *why* with a `Reason`; this module
alone says it in words. The words are part of the public audit format and stay exactly as
they were written before the codes existed (tests/golden/ holds the proof). Code that needs
to know why branches on `Reason.code`, never on the words.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from reconciler.core.blueprint.units import format_duration, format_percent
from reconciler.core.observed.observation import PodState
from reconciler.core.trail import (
    approval_wording,
    cycle_wording,
    scaling_wording,
    verification_wording,
)
from reconciler.core.trail.codes import Code

__all__ = ["Code", "Reason", "brief", "explain_check", "say"]


@dataclass(frozen=True)
class Reason:
    """A reason as a code and the values its words need."""

    code: Code
    params: Mapping[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return say(self)


class CheckWords(Protocol):
    """What the words of one evaluated rule need (governance.RuleCheck has it)."""

    @property
    def reference(self) -> str: ...
    @property
    def condition(self) -> str | None: ...
    @property
    def rendered(self) -> str | None: ...
    @property
    def result(self) -> bool | None: ...
    @property
    def missing(self) -> tuple[str, ...]: ...


def explain_check(check: CheckWords) -> str:
    """One rule as evaluated: its reference, its condition with the values, and the result."""
    if check.condition is None:
        return check.reference
    shown = f"{check.condition} ({check.rendered})" if check.rendered else check.condition
    state = {True: "holds", False: "does not hold", None: "cannot be evaluated"}[check.result]
    unknown = f"; unknown: {', '.join(check.missing)}" if check.missing else ""
    return f"{check.reference}: {shown} {state}{unknown}"


def _explained(checks: Sequence[CheckWords]) -> str:
    return "; ".join(explain_check(check) for check in checks)


def _forbidden_by_rule(operation: str, check: CheckWords, why: str) -> str:
    return (
        f"{operation} is forbidden ({explain_check(check)}){': ' + why if why else ''}. "
        "No approval can override this; changing it needs a reviewed policy change."
    )


def _restricted_by_rule(operation: str, check: CheckWords, why: str) -> str:
    return f"{operation} requires approval ({explain_check(check)})" + (f": {why}." if why else ".")


def _conditions_unmet(operation: str, checks: Sequence[CheckWords]) -> str:
    return (
        f"{operation} is allowed only when its conditions hold, and {_explained(checks)}, so "
        "it needs approval."
    )


def _not_autonomous(operation: str, reference: str) -> str:
    return (
        f"{operation} is allowed but marked `autonomous: false` ({reference}), so it needs "
        "approval."
    )


def _unknown_operation(operation: str, close: str | None) -> str:
    meant = f" (did you mean {close}?)" if close else ""
    return (
        f"{operation} is not an operation the governance rules know{meant}; unknown "
        "operations are forbidden. Add it to the catalogue (operations: in the global "
        "policies) and to a tier if it should be possible."
    )


def _rollback_disabled(operation_id: str) -> str:
    return (
        f"{operation_id} failed verification and rollback_on_failure is false: a person must "
        "decide. Automatic changes stop (circuit breaker open)."
    )


def _rolled_back_still_failing(operation_id: str) -> str:
    return (
        f"the service is back as it was before {operation_id} and still fails its checks, so "
        "undoing it again would change nothing: a person must decide. Automatic changes stop "
        "(circuit breaker open)."
    )


def _cooldown(elapsed: float, cooldown: float) -> str:
    left = "" if elapsed >= cooldown else f" ({format_duration(cooldown - elapsed)} left)"
    return f"last change {format_duration(elapsed)} ago, cooldown {format_duration(cooldown)}{left}"


def _breaker_open(state: str, service: str) -> str:
    return (
        f"circuit breaker {state} after repeated failures; "
        f"`reconciler breaker reset {service} --reason ...` closes it"
    )


def _managed_by(target: object, owners: str) -> str:
    return f"the replicas of {target} are managed by {owners}"


def _gitops_owns_replicas(target: object, owners: str) -> str:
    return (
        f"{_managed_by(target, owners)}; the reconciler does not fight another controller. To "
        "change them in the manifests that tool applies, name the file in spec.manifests and "
        "set spec.scaling.coexistence: write_back; if the tool ignores spec.replicas (Argo CD "
        "ignoreDifferences, or no replicas in the Flux manifest), set "
        "spec.scaling.coexistence: gitops_ignores_replicas"
    )


def _retry_too_late(late: float, timeout: float) -> str:
    return (
        f"no cycle retried it for {format_duration(late)} after it was due, longer than the "
        f"{format_duration(timeout)} an approval would wait"
    )


def _replicas_changed(replicas: int, asked_from: int) -> str:
    return (
        f"the deployment has {replicas} replicas now, not the {asked_from} the request was "
        "made from"
    )


def _back_within(current: int, bound: str, limit: int) -> str:
    return (
        f"{current} replicas is {bound} ({limit}); bringing the deployment back within the "
        "blueprint's bounds."
    )


def _metrics_stale(age: float, max_age: float) -> str:
    return (
        f"Metrics are {format_duration(age)} old (older than {format_duration(max_age)}); "
        "not scaling on stale data."
    )


def _errors_not_capacity(
    errors: float, error_max: float, used: scaling_wording.WeightedWords, up: float, replicas: int
) -> str:
    w = scaling_wording.w_words(used, up)
    return (
        f"Error rate {format_percent(errors)} is above error_rate_max "
        f"{format_percent(error_max)}, but {w} and no guard is past its limit: errors with "
        "normal utilization are not a capacity signal, so replicas stay at "
        f"{replicas} (and no scale-down while errors are high). Look at the release and its "
        "dependencies."
    )


def _metrics_undecided(low: float, high: float, missing: str, up: float) -> str:
    return (
        f"Not scaling: W is between {format_percent(low)} and {format_percent(high)} depending "
        f"on the missing {missing}, so it may or may not exceed scale_up_threshold "
        f"{format_percent(up)}."
    )


def _within_thresholds(value: float, described: str, down: float, up: float) -> str:
    return (
        f"Weighted utilization {format_percent(value)} ({described}) is within the thresholds "
        f"({format_percent(down)} to {format_percent(up)})."
    )


def _below(value: float, described: str, down: float) -> str:
    return (
        f"Weighted utilization {format_percent(value)} ({described}) is below "
        f"scale_down_threshold {format_percent(down)}."
    )


def _down(words: Callable[..., str]) -> Callable[..., str]:
    """A scale-down's words: that W is below the threshold, then what came of it."""

    def said(value: float, described: str, down: float, **params: Any) -> str:
        return f"{_below(value, described, down)} {words(**params)}"

    return said


def _history_gap(gap: str, below_for: float, span: float) -> str:
    return (
        f"The metric history has no {gap} data there, so it cannot show the load stayed low "
        f"(below for {format_duration(below_for)} of the {format_duration(span)} window); "
        "waiting."
    )


def _scaling_down(
    span: float,
    highest: float,
    current: int,
    target: int,
    step: scaling_wording.StepWords,
    floor: int,
) -> str:
    formula = scaling_wording.step_words(step)
    return (
        f"It stayed below for the whole {format_duration(span)} window (highest "
        f"{format_percent(highest)}). Scaling {current} → {target} replicas ({formula}, floor "
        f"min_replicas {floor})."
    )


def _failing(failing: Sequence[PodState], pods: int) -> str:
    """`2 of 3 pods failing: web-1 (CrashLoopBackOff, 4 restarts), ...`: the first three."""
    named = ", ".join(f"{p.name} ({p.reason}, {p.restart_count} restarts)" for p in failing[:3])
    more = f" and {len(failing) - 3} more" if len(failing) > 3 else ""
    return f"{len(failing)} of {pods} pods failing: {named}{more}."


def _recovery(words: Callable[..., str]) -> Callable[..., str]:
    """A recovery's words: the failing pods and the restarts counted, then the rung."""

    def said(failing: Sequence[PodState], pods: int, restarts: int, **params: Any) -> str:
        counted = (
            f" Restarts counted: {restarts} (including the reconciler's own restarts this hour)."
        )
        return f"{_failing(failing, pods)}{counted} {words(**params)}"

    return said


_WORDS: Mapping[Code, Callable[..., str]] = {
    Code.FORBIDDEN_BY_RULE: _forbidden_by_rule,
    Code.RESTRICTED_BY_RULE: _restricted_by_rule,
    Code.CONDITIONS_UNMET: _conditions_unmet,
    Code.NOT_AUTONOMOUS: _not_autonomous,
    Code.ALLOWED_BY_RULES: lambda operation, checks: (
        f"{operation} is allowed ({_explained(checks)})."
    ),
    Code.ALLOWED_BY_DEFAULT: lambda operation: (
        f"{operation} is allowed by default: undoing the reconciler's own change that failed "
        "verification restores the state the blueprint last accepted."
    ),
    Code.UNKNOWN_OPERATION: _unknown_operation,
    Code.UNLISTED: lambda operation: (
        f"{operation} is not listed in any tier of the effective policy, and unlisted "
        "operations are forbidden. List it under allowed_operations or requires_approval if it "
        "should be possible."
    ),
    Code.NOT_EXECUTABLE: lambda operation: (
        f"this reconciler cannot carry out {operation}; make that change through your "
        "deployment pipeline"
    ),
    Code.SAFETY_RECHECKED: lambda details: (
        "safety is checked again when the approved change is applied; now: " + "; ".join(details)
    ),
    Code.APPROVED: lambda by: f"approved: {by}",
    Code.READ_ONLY: lambda: "reads nothing back; no limits",
    Code.ROLLBACK_EXEMPT: lambda: (
        "undoing the reconciler's own failed change is exempt from cooldown, rate limits and "
        "the circuit breaker"
    ),
    Code.NO_EARLIER_CHANGE: lambda: "no earlier change",
    Code.COOLDOWN: _cooldown,
    Code.RATE_LIMIT: lambda changes, limit, span: (
        f"{changes}/{limit} changes in the last {format_duration(span)}"
    ),
    Code.BREAKER: lambda state: f"circuit breaker {state}",
    Code.BREAKER_OPEN: _breaker_open,
    Code.SEVERAL_HPAS: lambda target, owners: (
        f"{_managed_by(target, owners)}; several HPAs on one deployment fight each other, and "
        "the reconciler supports only one: remove all but one"
    ),
    Code.HPA_AND_GITOPS: lambda target, owners: (
        f"{_managed_by(target, owners)}; the reconciler cannot scale a deployment that both an "
        "HPA and a GitOps tool claim: let one of them own its replicas"
    ),
    Code.GITOPS_OWNS_REPLICAS: _gitops_owns_replicas,
    Code.HPA_OWNS_REPLICAS: lambda target, owners: (
        f"{_managed_by(target, owners)}; set spec.scaling.coexistence: adjust_hpa to scale "
        "through the HPA's minReplicas"
    ),
    Code.RESTARTS_BEYOND_MAX: lambda: (
        "restarts are beyond max_restart_count: a person decides (escalated for approval)"
    ),
    # The escalation record's own rationale says it (verification.escalation_record).
    Code.ROLLBACK_FAILED_REPEATEDLY: lambda: "",
    Code.ROLLBACK_DISABLED: _rollback_disabled,
    Code.ROLLED_BACK_STILL_FAILING: _rolled_back_still_failing,
    Code.RETRY_TOO_LATE: _retry_too_late,
    Code.REPLICAS_CHANGED: _replicas_changed,
    Code.RESOURCE_CHANGED: lambda key: (
        f"the deployment's {key.replace('_', ' ')} changed since the request"
    ),
    Code.NO_LONGER_FITS: lambda error: f"it no longer fits the blueprint: {error}",
    Code.ABOVE_MAX: lambda current, limit: _back_within(current, "above max_replicas", limit),
    Code.BELOW_MIN: lambda current, limit: _back_within(current, "below min_replicas", limit),
    Code.METRICS_STALE: _metrics_stale,
    Code.ERRORS_NOT_CAPACITY: _errors_not_capacity,
    Code.METRICS_UNDECIDED: _metrics_undecided,
    Code.METRICS_MISSING: lambda missing: (
        f"Not scaling: {missing} missing, and missing data never scales down."
    ),
    Code.WITHIN_THRESHOLDS: _within_thresholds,
    Code.DOWN_AT_MIN: _down(lambda floor: f"Already at min_replicas ({floor})."),
    Code.DOWN_DISABLED: _down(
        lambda: "Not scaling down: behavior.scaleDown.selectPolicy is Disabled."
    ),
    Code.DOWN_PODS_NOT_READY: _down(
        lambda ready, current: (
            f"Only {ready} of {current} pods are ready; not scaling down until all are."
        )
    ),
    Code.DOWN_NEEDS_HISTORY: _down(
        lambda: "The metric history is needed to confirm it stayed low."
    ),
    Code.DOWN_NO_HISTORY: _down(lambda: "There is no metric history for the window yet; waiting."),
    Code.DOWN_HISTORY_GAP: _down(_history_gap),
    Code.DOWN_NOT_LONG_ENOUGH: _down(
        lambda below_for, span: (
            f"It has been below for {format_duration(below_for)} of the "
            f"{format_duration(span)} scale_down_stabilization window; waiting."
        )
    ),
    Code.DOWN_ESTIMATE_KEEPS: _down(
        lambda basis, current: (
            f"The {scaling_wording.estimate_words(basis)} keeps {current} replicas."
        )
    ),
    Code.DOWN_RATE_LIMITED: _down(
        lambda limit: f"Not scaling down yet: {scaling_wording.used_up_words(limit, 'scaleDown')}"
    ),
    Code.DOWN_RECENTLY_FAILED: _down(lambda target, why: f"Not scaling to {target} again: {why}."),
    Code.SCALING_DOWN: _down(_scaling_down),
    Code.RECOVERY_ALL_DOWN: lambda failing, pods: (
        f"{_failing(failing, pods)} No pod is ready: rolling back to the previous revision at once."
    ),
    Code.RECOVERY_ESCALATE: _recovery(
        lambda limit: (
            f"That is at or beyond max_restart_count ({limit}): proposing a rollback for approval."
        )
    ),
    Code.RECOVERY_ROLLBACK: _recovery(
        lambda limit: (
            f"That reaches rollback_threshold ({limit}): rolling back to the previous revision."
        )
    ),
    Code.RECOVERY_RESTART: _recovery(
        lambda limit: f"Below rollback_threshold ({limit}): restarting the pods."
    ),
    **scaling_wording.WORDS,
    **verification_wording.WORDS,
    **cycle_wording.WORDS,
    **approval_wording.WORDS,
}

#: The few words a commit subject uses for a reason, where they differ from the full text.
_BRIEF: Mapping[Code, Callable[..., str]] = {
    Code.ROLLBACK_FAILED_REPEATEDLY: lambda: "its rollback failed 3 times",
    Code.ROLLBACK_DISABLED: lambda operation_id: (
        "it failed verification and rollback_on_failure is false"
    ),
    Code.ROLLED_BACK_STILL_FAILING: lambda operation_id: "rolled back and still failing",
}


def say(reason: Reason) -> str:
    """The words of a reason, as records and proposals carry them."""
    return _WORDS[reason.code](**reason.params)


def brief(reason: Reason) -> str:
    """The words of a reason for a commit subject: short where the full text is long."""
    words = _BRIEF.get(reason.code, _WORDS[reason.code])
    return words(**reason.params)
