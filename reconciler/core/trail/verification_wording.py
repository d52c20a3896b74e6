"""The words of a verification: each check's values and notes, the summary, why a change
went unverified, the escalation after repeated failed rollbacks, and why a failed replica
count is not tried again.

Verification (decide.verification, decide.checks) judges with values and says why with a
code; this module alone phrases it (`WORDS`, merged into `wording.say`). The words are part
of the public audit format and stay exactly as they were written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from reconciler.core.blueprint.units import format_duration, format_percent
from reconciler.core.trail.codes import Code

if TYPE_CHECKING:
    from reconciler.core.trail.bodies import VerificationOutcome

__all__ = ["WORDS", "Bound", "Missed", "Unit", "expected", "ready_of", "shown"]


class Unit(StrEnum):
    """What a check's number measures, which says how it is written."""

    MS = "ms"
    PERCENT = "percent"
    COUNT = "count"


class Bound(StrEnum):
    """How a check's expected value bounds the actual one."""

    BELOW = "below"
    NEAR = "near"
    AT_MOST = "at_most"
    EXACTLY = "exactly"
    #: Nothing is expected (the check could not judge).
    NONE = "none"


def shown(value: float | None, unit: Unit) -> str:
    """A check's value as the record shows it: `240ms`, `61.5%`, `3`, or `unknown`."""
    if value is None:
        return "unknown"
    if unit is Unit.MS:
        return f"{value:.0f}ms"
    if unit is Unit.PERCENT:
        return format_percent(value)
    return f"{value:.0f}"


def expected(bound: Bound, value: float, unit: Unit, tolerance: float = 0.0) -> str:
    """`< 300ms`, `≈60% (±10%)`, `<= 2`, `3`, or `-`: what a check expects."""
    match bound:
        case Bound.BELOW:
            return f"< {shown(value, unit)}"
        case Bound.NEAR:
            return f"≈{shown(value, unit)} (±{format_percent(tolerance)})"
        case Bound.AT_MOST:
            return f"<= {shown(value, unit)}"
        case Bound.EXACTLY:
            return shown(value, unit)
    return "-"


def ready_of(ready: float, replicas: float) -> str:
    """`2/3`: pods ready of the replicas."""
    return f"{ready:.0f}/{replicas:.0f}"


@dataclass(frozen=True, kw_only=True)
class Missed:
    """A failed check, as its summary needs it."""

    check: str
    actual: str
    expected: str
    worse: bool


def _moved(baseline: float, actual: float, unit: Unit) -> str:
    """How a measure moved from its baseline: `up 40ms (200ms → 240ms)`."""
    change = actual - baseline
    by, before, after = shown(abs(change), unit), shown(baseline, unit), shown(actual, unit)
    return f"{'up' if change > 0 else 'down'} {by} ({before} → {after})"


def _requests_grew(before: float, now: float) -> str:
    return (
        f"requests grew from {before:.0f}/s to {now:.0f}/s, so a scale-up is not what made it worse"
    )


def _load_grew(before: float, after: float) -> str:
    return (
        f"the load grew ({before:.2f} → {after:.2f} pods' worth of requested CPU in use), so a "
        "scale-up is not what made it worse"
    )


#: What each verification outcome means for the change, by the outcome's value (a
#: `VerificationOutcome` finds its value's entry): every cycle imports the wording, and the
#: body types only a trail with records to read needs (`lazy_bodies`).
_MEANS = {
    "passed": "; the {what} is verified.",
    "partial": "; nothing got worse, so the {what} is kept.",
    "failed": "; the {what} made things worse.",
}


def _summary(
    *,
    passed: int,
    total: int,
    skipped: int,
    failed: Sequence[Missed],
    outcome: VerificationOutcome,
    rollback: bool,
) -> str:
    """`5/6 checks passed; failed: ...; the change is kept.`: the counts, each failed check
    with what was expected, and what the outcome means for the change."""
    said = f"{passed}/{total} checks passed"
    if skipped:
        said += f", {skipped} skipped"
    if failed:
        said += "; failed: " + ", ".join(
            f"{c.check} {c.actual} (expected {c.expected}"
            f"{', worse than before' if c.worse else ''})"
            for c in failed
        )
    return said + _MEANS[outcome].format(what="rollback" if rollback else "change")


def _superseded(by: str) -> str:
    return f"not verified: a later change ({by}) altered the service before this one was due"


def _too_late(due: datetime, late: float) -> str:
    return (
        f"not verified: due at {due:%Y-%m-%d %H:%M:%S}Z, and no run came until "
        f"{format_duration(late)} later; too long after the change to tell what it did, so it "
        "is kept and the next decision works from the service as it is"
    )


def _escalated(operation_id: str, attempts: int) -> str:
    return (
        f"rolling back {operation_id} failed {attempts} times; a person must decide. Automatic "
        "changes to this service stop (circuit breaker open)."
    )


def _avoided(target: int, at: datetime, left: float) -> str:
    return (
        f"{target} replicas failed verification at {at:%H:%M:%S}Z and was rolled back (not "
        f"tried again for {format_duration(left)})"
    )


WORDS: Mapping[Code, Callable[..., str]] = {
    Code.VERIFICATION_SUMMARY: _summary,
    Code.NOT_VERIFIED_SUPERSEDED: _superseded,
    Code.NOT_VERIFIED_TOO_LATE: _too_late,
    Code.ROLLBACK_ESCALATED: _escalated,
    Code.TARGET_AVOIDED: _avoided,
    Code.REQUESTS_GREW: _requests_grew,
    Code.LOAD_GREW: _load_grew,
    Code.CHECK_MOVED: _moved,
    Code.CHECK_NO_DATA: lambda: "no data",
    Code.CHECK_CANNOT_TELL: lambda: "no data: cannot tell",
    Code.CHECK_NO_BASELINE: lambda: "no baseline: cannot tell whether it got worse",
    Code.CHECK_REPLICAS_CHANGED: lambda: "changed since (by someone else?)",
}
