"""The limits every number is held to where it is parsed, so nothing out of range goes further.

A count, quantity, duration or ratio can arrive from a blueprint, the global policies, a
request, the simulated cluster's state or an API answer. Each of those parsers checks it here,
against one table of limits, and refuses it with a message and a fix; so no later arithmetic
meets a NaN, an infinity, a replica count Kubernetes cannot store, or a duration no clock can
add (`timedelta` overflows past about 2.7 million years, long before a float does).

The limits are deliberately far beyond any real use and well inside exact arithmetic: replicas
are Kubernetes' int32, and every quantity fits a float exactly. The JSON Schemas carry the same
numbers (a test keeps them equal) so editors can warn as the file is written.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

__all__ = [
    "AMOUNT_MAX",
    "BEHAVIOR_PERIOD_MAX_SECONDS",
    "BEHAVIOR_WINDOW_MAX_SECONDS",
    "COUNT_MAX",
    "CPU_MAX_MILLICORES",
    "DURATION_MAX_SECONDS",
    "FRACTION_MAX",
    "MEMORY_MAX_BYTES",
    "REPLICAS_MAX",
    "TIME_MAX",
    "TIME_MIN",
    "YAML_MAX_BYTES",
    "OutOfRange",
    "count",
    "finite",
    "moment",
    "replicas",
]

#: Kubernetes stores `spec.replicas` (and an HPA's bounds) as int32.
REPLICAS_MAX = 2**31 - 1
#: Any other whole count (steps, thresholds, rate limits, restarts): int32 as well.
COUNT_MAX = 2**31 - 1
#: The longest duration: 365 days (cooldowns, windows, timeouts, start-up times, clock moves).
DURATION_MAX_SECONDS = 365 * 86400.0
#: An HPA's bounds for `behavior`, which a blueprint's `spec.scaling.behavior` keeps so that
#: the block can be pasted either way: a stabilization window of at most an hour, a rate
#: policy's period of at most half an hour.
BEHAVIOR_WINDOW_MAX_SECONDS = 3600
BEHAVIOR_PERIOD_MAX_SECONDS = 1800
#: The largest CPU quantity: 100,000 cores, in millicores.
CPU_MAX_MILLICORES = 100_000 * 1000
#: The largest memory quantity: 1024Ti (one pebibyte), in bytes.
MEMORY_MAX_BYTES = 1024**5
#: The largest ratio written as a percentage (a utilization of a simulated load, say):
#: 1,000,000 %. Utilizations, thresholds and rates in a blueprint stop at 100 %.
FRACTION_MAX = 10_000.0
#: Any other quantity (a throughput, an amount of money, a simulated load): 10^15, below
#: which a float still counts whole units exactly.
AMOUNT_MAX = 1e15
#: The span of clocks accepted (a simulated cluster's, a time given on the command line): far
#: enough inside `datetime`'s own years 1 to 9999 that a year of arithmetic either way fits.
TIME_MIN = datetime(1970, 1, 1, tzinfo=UTC)
TIME_MAX = datetime(9000, 1, 1, tzinfo=UTC)
#: The largest YAML file read (a blueprint, the policies, a manifest): larger than any sensible
#: blueprint by two orders of magnitude. Here rather than beside the parser, so that what only
#: reads files (git, the working tree) need not import it.
YAML_MAX_BYTES = 256 * 1024


class OutOfRange(ValueError):
    """A number that parsed but cannot be used; `hint` says what would be accepted."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _subject(what: str, value: object) -> str:
    return f"{what} {value!r}" if what else repr(value)


def finite(value: object, what: str = "", *, low: float = 0.0, high: float = AMOUNT_MAX) -> float:
    """`value` as a float from `low` to `high`, refusing NaN and the infinities."""
    shown = f"a number from {low:g} to {high:g}"
    if not _is_number(value):
        raise OutOfRange(f"{_subject(what, value)} is not a number", f"write {shown}")
    number = float(value)  # type: ignore[arg-type]
    if not math.isfinite(number):
        raise OutOfRange(f"{_subject(what, value)} is not a finite number", f"write {shown}")
    if not low <= number <= high:
        side = "below" if number < low else "above"
        edge = low if number < low else high
        raise OutOfRange(f"{_subject(what, value)} is {side} {edge:g}", f"write {shown}")
    return number


def count(value: object, what: str = "", *, low: int = 0, high: int = COUNT_MAX) -> int:
    """A whole number from `low` to `high`; a bool, a float or a text is refused, not rounded."""
    shown = f"from {low} to {high}"
    if not isinstance(value, int) or isinstance(value, bool):
        raise OutOfRange(
            f"{_subject(what, value)} is not a whole number", f"write a whole number {shown}"
        )
    if not low <= value <= high:
        side = "below" if value < low else "above"
        edge = low if value < low else high
        raise OutOfRange(
            f"{_subject(what, value)} is {side} {edge}", f"write a whole number {shown}"
        )
    return value


def replicas(value: object, what: str = "", *, ceiling: int = REPLICAS_MAX) -> int:
    """A replica count: 0 to `ceiling` (Kubernetes' int32 limit unless a lower one applies)."""
    return count(value, what, low=0, high=min(ceiling, REPLICAS_MAX))


def moment(value: datetime, what: str = "") -> datetime:
    """A time from TIME_MIN to TIME_MAX (a naive one is taken as UTC)."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    if not TIME_MIN <= aware <= TIME_MAX:
        shown = f"{value:%Y-%m-%d}"
        raise OutOfRange(
            f"{what + ' ' if what else ''}{shown} is outside the years 1970 to 9000",
            "write a time such as 2026-02-10T15:30:00Z",
        )
    return aware
