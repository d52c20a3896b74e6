"""The words of a scaling decision: how an estimate was reached, what the behavior's rate
policies allow, which rules asked for more replicas, and every outcome of a scale-up.

The decision engine (decide.scale_up, decide.scale_down, decide.guards) keeps values; this
module alone phrases them, by code (`WORDS`, merged into `wording.say`). The words are part
of the public audit format and stay exactly as they were written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from reconciler.core.blueprint.model import PolicyType, RatePolicy
from reconciler.core.blueprint.units import format_duration, format_percent
from reconciler.core.trail.codes import Code, Refusal

__all__ = ["WORDS", "estimate_words", "limit_words", "used_up_words", "w_words"]

#: The operation a step past max_replicas needs.
BEYOND_LIMITS = "scale_beyond_limits"
#: The rules that ask, by the value of the decision engine's DecisionRule.
_WEIGHTED, _LATENCY, _CPU = "weighted_utilization", "latency_guard", "cpu_guard"


class EstimateWords(Protocol):
    """ceil(current × value / target) = estimate, in percent or milliseconds."""

    @property
    def current(self) -> int: ...
    @property
    def value(self) -> float: ...
    @property
    def target(self) -> float: ...
    @property
    def estimate(self) -> int: ...
    @property
    def in_ms(self) -> bool: ...


class LimitWords(Protocol):
    """What a behavior's rate policies allow now (decide.rates.Limit)."""

    @property
    def replicas(self) -> int: ...
    @property
    def policy(self) -> RatePolicy | None: ...
    @property
    def start(self) -> int: ...


class StepWords(Protocol):
    """How a step's size was reached: the estimate, then the limits that cut it."""

    @property
    def basis(self) -> EstimateWords: ...
    @property
    def lowest(self) -> int | None: ...
    @property
    def window(self) -> float: ...
    @property
    def increment(self) -> int | None: ...
    @property
    def limit(self) -> LimitWords | None: ...
    @property
    def key(self) -> str: ...


class AskWords(Protocol):
    """One rule's recommendation (decide.model.Ask)."""

    @property
    def rule(self) -> str: ...
    @property
    def value(self) -> float: ...
    @property
    def limit(self) -> float: ...
    @property
    def estimate(self) -> int: ...
    @property
    def basis(self) -> EstimateWords: ...


class WeightedWords(Protocol):
    """W as the decision engine computed it (decide.utilization.WeightedUtilization)."""

    @property
    def value(self) -> float | None: ...
    @property
    def low(self) -> float: ...
    @property
    def high(self) -> float: ...
    @property
    def missing(self) -> tuple[str, ...]: ...
    def describe(self) -> str: ...


def estimate_words(basis: EstimateWords) -> str:
    """`estimate ceil(2 × 95% / 70%) = 3`."""
    if basis.in_ms:
        shown = f"{basis.value:g}ms / {basis.target:g}ms"
    else:
        shown = f"{format_percent(basis.value)} / {format_percent(basis.target)}"
    return f"estimate ceil({basis.current} × {shown}) = {basis.estimate}"


def limit_words(limit: LimitWords, key: str) -> str:
    """`behavior.scaleUp: Pods 4 per 15s from 3 replicas allows 7`."""
    if limit.policy is None:
        return f"behavior.{key} is Disabled"
    unit = "" if limit.policy.type is PolicyType.PODS else "%"
    return (
        f"behavior.{key}: {limit.policy.type} {limit.policy.value}{unit} per "
        f"{limit.policy.period:g}s from {limit.start} replica{'' if limit.start == 1 else 's'} "
        f"allows {limit.replicas}"
    )


def used_up_words(limit: LimitWords, key: str) -> str:
    """Why the limit holds a step back: the changes within its period used it up."""
    period = limit.policy.period if limit.policy is not None else 0.0
    return (
        f"{limit_words(limit, key)}, which the changes executed in the last {period:g}s "
        "have used up."
    )


def _window(span: float) -> str:
    return f"{format_duration(span)} behavior.scaleUp stabilization window"


def step_words(step: StepWords) -> str:
    """The estimate and every limit that cut the step, as one formula."""
    parts = [estimate_words(step.basis)]
    if step.lowest is not None:
        parts.append(f"lowest in the {_window(step.window)} {step.lowest}")
    if step.increment is not None:
        sign = "+" if step.key == "scaleUp" else "-"
        parts.append(f"step limit {sign}{step.increment}")
    if step.limit is not None:
        parts.append(limit_words(step.limit, step.key))
    return ", ".join(parts)


def w_words(weighted: WeightedWords, up: float) -> str:
    """W in words, for a decision some other rule made (or none did)."""
    if weighted.value is None:
        return (
            f"weighted utilization is between {format_percent(weighted.low)} and "
            f"{format_percent(weighted.high)} depending on the missing "
            f"{', '.join(weighted.missing)}"
        )
    relation = "exceeds" if weighted.value > up else "does not exceed"
    return (
        f"weighted utilization {format_percent(weighted.value)} ({weighted.describe()}) "
        f"{relation} scale_up_threshold {format_percent(up)}"
    )


def _guard_words(ask: AskWords) -> str:
    if ask.rule == _LATENCY:
        return (
            f"latency p95 {ask.value:g}ms is above its guard {ask.limit:g}ms "
            "(spec.scaling.guards.latency_factor × latency_p95)"
        )
    what, key = ("CPU", "cpu") if ask.rule == _CPU else ("memory", "memory")
    return (
        f"{what} utilization {format_percent(ask.value)} is above its guard "
        f"{format_percent(ask.limit)} (spec.scaling.guards.{key}_utilization)"
    )


def ask_brief(ask: AskWords) -> str:
    """`CPU 92% > 90% (asks 7)`: for a decision another rule made."""
    if ask.rule == _LATENCY:
        shown = f"p95 {ask.value:g}ms > {ask.limit:g}ms"
    else:
        what = "CPU" if ask.rule == _CPU else "memory"
        shown = f"{what} {format_percent(ask.value)} > {format_percent(ask.limit)}"
    return f"{shown} (asks {ask.estimate})"


def ask_words(ask: AskWords, up: float) -> str:
    """Which rule asked, why, and the estimate it asked for."""
    formula = estimate_words(ask.basis)
    if ask.rule == _WEIGHTED:
        return (
            f"weighted utilization {format_percent(ask.value)} exceeds scale_up_threshold "
            f"{format_percent(up)} ({formula})"
        )
    return f"{_guard_words(ask)} ({formula})"


def _capital(text: str) -> str:
    return text[0].upper() + text[1:]


def _idle(idle: tuple[int, int, float] | None) -> str:
    """Unready pods counted as idle: (ready, replicas, W with them idle)."""
    if idle is None:
        return ""
    ready, replicas, low = idle
    return (
        f" {ready} of {replicas} pods are ready; counting the others as "
        f"idle gives {format_percent(low)}."
    )


def _asked(
    asks: Sequence[AskWords],
    winner: AskWords,
    used: WeightedWords,
    up: float,
    idle: tuple[int, int, float] | None,
    errors: tuple[float, float] | None,
) -> str:
    """Which rules asked for more and why: the opening of every scale-up's words."""
    note = _idle(idle)
    guards = [a for a in asks if a.rule != _WEIGHTED]
    if winner.rule == _WEIGHTED:
        head = (
            f"Weighted utilization {format_percent(winner.value)} ({used.describe()}) exceeds "
            f"scale_up_threshold {format_percent(up)}.{note}"
        )
        if guards:
            head += f" Guards past their limits agree: {', '.join(ask_brief(a) for a in guards)}."
    else:
        texts = [ask_words(a, up) for a in asks]
        if not any(a.rule == _WEIGHTED for a in asks):
            texts.append(w_words(used, up))
        text = "; ".join(texts)
        head = f"{_capital(text)}. The largest recommendation decides: {winner.rule}.{note}"
    if errors is not None:
        rate, error_max = errors
        head += (
            f" Error rate {format_percent(rate)} is above error_rate_max "
            f"{format_percent(error_max)} (not a capacity signal; it played no part)."
        )
    return head


def _up(words: Callable[..., str]) -> Callable[..., str]:
    """A scale-up's words: which rules asked and why, then what came of it."""

    def said(
        asks: Sequence[AskWords],
        winner: AskWords,
        used: WeightedWords,
        up: float,
        idle: tuple[int, int, float] | None,
        errors: tuple[float, float] | None,
        **params: Any,
    ) -> str:
        return f"{_asked(asks, winner, used, up, idle, errors)} {words(**params)}"

    return said


def _waiting_for_pods(asks: Sequence[AskWords], low: float, up: float, idle: Any) -> str:
    if [a.rule for a in asks] == [_WEIGHTED]:
        asked = (
            f"Weighted utilization {format_percent(low)} is above "
            f"scale_up_threshold {format_percent(up)}"
        )
    else:
        asked = _capital("; ".join(ask_words(a, up) for a in asks))
    return f"{asked}, but{_idle(idle)} Waiting for the new pods."


def _refused(refusal: Refusal) -> str:
    """Why governance will refuse replicas beyond max_replicas whatever the metrics."""
    if refusal is Refusal.FORBIDDEN:
        return f"would need {BEYOND_LIMITS}, which the policy forbids, so governance refuses it"
    return (
        f"would need {BEYOND_LIMITS}, which no tier of the policy lists, so governance "
        "refuses it (list it under requires_approval to have it proposed)"
    )


def _at_max(maximum: int, step: StepWords, wanted: int, refusal: Refusal | None) -> str:
    proposed = (
        "are proposed for approval (scale_beyond_limits)" if refusal is None else _refused(refusal)
    )
    return (
        f"Already at max_replicas ({maximum}); {step_words(step)}, so {wanted} replicas {proposed}."
    )


def _scaling_up(
    current: int, to: int, wanted: int, maximum: int, step: StepWords, refusal: Refusal | None
) -> str:
    beyond = ""
    if wanted > to:
        beyond = f" {wanted} would exceed max_replicas ({maximum}); " + (
            "the rest is proposed for approval."
            if refusal is None
            else f"{wanted} replicas {_refused(refusal)}."
        )
    return f"Scaling {current} → {to} replicas ({step_words(step)}).{beyond}"


WORDS: Mapping[Code, Callable[..., str]] = {
    Code.UP_PODS_NOT_READY: _waiting_for_pods,
    Code.UP_NEEDS_HISTORY: _up(
        lambda span: f"The metric history is needed to confirm the {_window(span)}."
    ),
    Code.UP_STABILIZING: _up(
        lambda span, lowest: (
            f"The lowest recommendation in the {_window(span)} is {lowest} replicas; waiting."
        )
    ),
    Code.UP_DISABLED: _up(lambda: "Not scaling up: behavior.scaleUp.selectPolicy is Disabled."),
    Code.UP_RATE_LIMITED: _up(
        lambda limit: f"Not scaling up yet: {used_up_words(limit, 'scaleUp')}"
    ),
    Code.UP_RECENTLY_FAILED: _up(lambda avoided, why: f"Not scaling to {avoided} again: {why}."),
    Code.UP_AT_CEILING: _up(
        lambda maximum, step: (
            f"Already at max_replicas ({maximum}), which is the fleet "
            f"ceiling (limits.max_replicas); {step_words(step)}, but no more replicas can be "
            "proposed."
        )
    ),
    Code.UP_AT_MAX: _up(_at_max),
    Code.SCALING_UP: _up(_scaling_up),
}
