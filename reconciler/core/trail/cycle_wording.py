"""The words of a cycle's own records and status: a verdict's one-line summary, a change
waiting for its verification, a pause and what causes it, a replica count an approval holds,
a change recovered from the deployment's stamp after a crash, and the rationales of the
records about approvals, observe mode, the circuit breaker, pauses and expired requests.

The stages of a cycle (planning) and governance keep values and say why with a code; this
module alone phrases it (`WORDS`, merged into `wording.say`). The words are part of the
public audit format and stay exactly as they were written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from reconciler.core.ids import utc
from reconciler.core.trail.codes import Code

__all__ = ["WORDS", "WOULD"]

#: What a verdict would have led to, as the observe record's `would` says it.
WOULD: Mapping[str, str] = {
    "execute": "would apply",
    "request_approval": "would propose",
    "block": "would be blocked",
    "defer": "would be deferred",
}


def _verdict_headline(
    operation: str, target: int | None, low: int, high: int, tier: str, action: str
) -> str:
    """`Target replicas (5) within blueprint limits (2-10): allowed, execute.`"""
    if target is None:
        head = operation
    elif low <= target <= high:
        head = f"Target replicas ({target}) within blueprint limits ({low}-{high})"
    elif target > high:
        head = f"Target replicas ({target}) exceeds max_replicas ({high})"
    else:
        head = f"Target replicas ({target}) is below min_replicas ({low})"
    return f"{head}: {tier}, {action.replace('_', ' ')}."


def _waiting(
    operation_id: str, what: str, due: datetime, settled_by: datetime | None, rollout: str
) -> str:
    """A change still waiting for its verification: when it is verified, and that nothing
    new happens before."""
    if settled_by is not None:
        when = f"once its starting pods are ready (at the latest {settled_by:%H:%M:%S}Z)"
    else:
        when = rollout or f"at {due:%H:%M:%S}Z"
    return f"{operation_id} ({what}) is verified {when}; no new change before that"


def _recovered(
    summary: str,
    manifest_commit: str | None,
    annotation: str,
    at: datetime,
    now: datetime,
    lost: Sequence[tuple[str, str]],
    why: str,
    with_baseline: bool,
) -> str:
    """A change found on the deployment (or in a manifest commit) that the trail lacked."""
    found_in = (
        f"the stamp on its manifest commit {manifest_commit[:12]}"
        if manifest_commit is not None
        else f"the deployment's {annotation} stamp"
    )
    named = [f"{kind} {record_id}" for kind, record_id in lost]
    several = len(named) > 1
    lost_with_it = (
        f"; the record{'s' if several else ''} of its {' and '.join(named)} "
        f"{'were' if several else 'was'} lost with it"
        if named
        else ""
    )
    said = (
        f"{summary}: recovered from {found_in} after a crash. The run that made this change at "
        f"{utc(at):%Y-%m-%d %H:%M:%SZ} ended before recording it (found at "
        f"{utc(now):%Y-%m-%d %H:%M:%SZ}){lost_with_it}."
    )
    if why:
        said += f" It was made because: {why}"
    return said + (
        " The stamp keeps the request and the pre-change baseline, so the change is verified, "
        "and rolled back if it made things worse, like any recorded change."
        if with_baseline
        else " This stamp carries no baseline (an older reconciler wrote it), so its "
        "verification cannot tell whether anything got worse."
    )


def _breaker_opened(failures: int, window: float, threshold: int, service: str) -> str:
    return (
        f"{failures} failures within {window:g}s (threshold {threshold}); changes to "
        f"{service} stop until `reconciler breaker reset {service} --reason ...`."
    )


WORDS: Mapping[Code, Callable[..., str]] = {
    Code.VERDICT_HEADLINE: _verdict_headline,
    Code.WAITING_FOR_VERIFICATION: _waiting,
    Code.PAUSED_DECISION: lambda paused_by, would: (
        f"Paused by {paused_by}: nothing is changed or proposed. Unpaused, the engine "
        f"would decide: {would}"
    ),
    Code.HELD_BY_APPROVAL: lambda replicas, reference: (
        f"Replicas are held at {replicas}, as approved in {reference}; the engine resumes "
        "after the next change to the deployment (for example a request to scale back)."
    ),
    Code.PAUSED_BY_SUSPEND: lambda: "spec.suspend: true in the blueprint",
    Code.PAUSED_BY_ANNOTATION: lambda annotation, value: (
        f"the deployment's annotation {annotation}={value}"
    ),
    Code.RECOVERED_CHANGE: _recovered,
    Code.APPROVAL_NEEDED: lambda what, approvers: (
        f"{what} needs approval by {', '.join(approvers) or 'nobody (no approvers set)'}."
    ),
    Code.OBSERVED_ONLY: lambda observed_by, what, would, summary: (
        f"Observe mode ({observed_by}): {what} {WOULD[would]}; nothing was changed or "
        f"proposed. {summary}"
    ),
    Code.BREAKER_OPENED: _breaker_opened,
    Code.BREAKER_RESET: lambda by, reason: f"circuit breaker reset by {by}: {reason}",
    Code.SERVICE_PAUSED: lambda paused_by: (
        f"Paused by {paused_by}: the reconciler observes and reports, and changes and "
        "proposes nothing until the pause ends."
    ),
    Code.SERVICE_RESUMED: lambda paused_by: (
        f"The pause by {paused_by or 'unknown'} has ended; the reconciler acts again."
    ),
    Code.REQUEST_EXPIRED: lambda why: f"The deferred request was not carried out: {why}.",
}
