"""The commit subject of every kind of commit a cycle makes, each written once.

Subjects are written for `git log --oneline`, which is the audit trail a person reads first:

    todo-frontend: scale 2→3 (allowed): weighted 81.5% > 80%
    todo-frontend: blocked delete_deployment (forbidden): complete outage of the service
    todo-backend: deferred scale 2→3 (allowed): cooldown 1m30s, 40s left
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from reconciler.core.blueprint.units import format_duration, format_percent
from reconciler.core.decide.decision import Decision
from reconciler.core.decide.governance import OperationRequest, Origin, Verdict
from reconciler.core.decide.verification import Pending
from reconciler.core.trail import lazy_bodies
from reconciler.core.trail.cycle_wording import WOULD
from reconciler.core.trail.records import EventType, Outcome, Record, RecordError


class RolloutWords(Protocol):
    """What a rollout's subject says (gitops.rollout.Rollout, which is loaded only when a
    service acts through git)."""

    @property
    def phase(self) -> str: ...
    @property
    def commit(self) -> str: ...
    @property
    def ready(self) -> bool: ...
    @property
    def timeout(self) -> float: ...


def what_of(record: Record) -> str:
    """What a record's operation changed, for a subject: `scale 2→3`, else the operation."""
    try:
        scale = lazy_bodies.request_of(record).describe()
    except RecordError:  # wording only: a malformed request is named by its operation
        scale = ""
    return scale or record.operation or str(record.event_type)


def short(text: str, limit: int = 72) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def subject_for(
    record: Record, request: OperationRequest, verdict: Verdict, decision: Decision | None
) -> str:
    """The `git log --oneline` line for one operation's commit."""
    service = request.service
    what = request.describe()
    tier = verdict.classification
    if request.origin is Origin.ROLLBACK:
        attempt = request.parameters.get("attempt")
        nth = f", attempt {attempt}" if isinstance(attempt, int) and attempt > 1 else ""
        outcome = {
            EventType.ROLLBACK_EXECUTED: "rolled back",
            EventType.ROLLBACK_FAILED: "rollback failed",
        }.get(record.event_type, f"rollback {record.outcome}")
        return f"{service}: {outcome} ({what}{nth}): undoes {request.reverts}"
    match record.event_type:
        case EventType.OPERATION_OBSERVED:
            would = WOULD.get(lazy_bodies.observed_of(record).would, "observed")
            return f"{service}: observe mode: {what} {would} ({tier})"
        case EventType.OPERATION_EXECUTED | EventType.ROLLBACK_EXECUTED:
            return f"{service}: {what} ({tier}): {_because(request, decision)}"
        case EventType.OPERATION_FAILED | EventType.ROLLBACK_FAILED:
            error = lazy_bodies.body_of(record, lazy_bodies.FailureBody).error or ""
            return f"{service}: {what} failed: {short(error, 60)}"
        case EventType.OPERATION_BLOCKED:
            return f"{service}: blocked {what} ({tier}): {short(verdict.summary, 60)}"
        case EventType.OPERATION_DEFERRED:
            return f"{service}: deferred {what} ({tier}): {short(verdict.summary, 60)}"
        case EventType.APPROVAL_REQUESTED:
            return f"{service}: {what} needs approval ({tier}): {_because(request, decision)}"
    return f"{service}: {record.event_type} {what}"


def escalated_subject(service: str, what: str, briefly: str) -> str:
    """A failed change handed to a person."""
    return f"{service}: escalated {what}: {briefly}; a person must decide"


def breaker_subject(service: str, failures: int) -> str:
    """The circuit breaker opened."""
    return f"{service}: circuit breaker opened after {failures} failures"


def breaker_reset_subject(service: str, who: str, reason: str) -> str:
    """A person closed the circuit breaker."""
    return f"{service}: circuit breaker reset by {who}: {reason}"


def merged_subject(service: str, approval: Mapping[str, object]) -> str:
    """The manifest commit a merged proposal made, as its write-back record names it."""
    return f"{service}: merged {approval.get('reference', 'the approved proposal')}"


def rollout_subject(service: str, rollout: RolloutWords) -> str:
    """A change made through git rolled out, or escalated for not rolling out in time."""
    commit = rollout.commit[:12]
    if rollout.phase == "rolled_out":
        late = "" if rollout.ready else " (pods not all ready by its deadline)"
        return f"{service}: {commit} rolled out{late}"
    return (
        f"{service}: escalated {commit}: not rolled out within "
        f"{format_duration(rollout.timeout)}; a person must decide"
    )


def recovered_subject(service: str, summary: str) -> str:
    """A change found on the deployment that the trail lacked."""
    return f"{service}: recorded {short(summary, 40)} found on the deployment"


def manifest_recovered_subject(service: str, summary: str, commit: str) -> str:
    """A change found in one of the reconciler's own manifest commits that the trail lacked."""
    return f"{service}: recorded {short(summary, 40)} found in manifest commit {commit[:12]}"


def paused_subject(service: str, paused_by: str) -> str:
    return f"{service}: paused by {paused_by}"


def resumed_subject(service: str, paused_by: object) -> str:
    return f"{service}: resumed after the pause by {paused_by}"


def expired_subject(service: str, what: str, why: str) -> str:
    """A deferred request that was not carried out."""
    return f"{service}: deferred request {what} expired: {short(why, 60)}"


def proposed_subject(title: str, reference: str) -> str:
    """A proposal opened for an approver (its title names the service)."""
    return f"{short(title, 90)}: proposed as {reference}"


def proposal_updated_subject(service: str, title: str, reference: str) -> str:
    """An open proposal rewritten in place to ask for what the load calls for now."""
    return f"{service}: {short(title, 70)} ({reference} updated)"


def up_to_date_subject(service: str, reference: str) -> str:
    """A proposal's branch brought up to date with the main branch, still as proposed."""
    return f"{service}: {reference} brought up to date with the main branch"


def edited_subject(service: str, reference: str) -> str:
    """A person pushed to a proposal's branch, and was answered with a comment."""
    return f"{service}: {reference} changed by a person; commented"


def superseded_subject(service: str, reference: str) -> str:
    """A proposal the load no longer calls for, closed."""
    return f"{service}: proposal {reference} superseded: no longer needed"


def proposal_expired_subject(service: str, reference: str) -> str:
    """Nobody approved a proposal in time."""
    return f"{service}: proposal {reference} expired"


def rejected_subject(service: str, reference: str) -> str:
    """A proposal closed without a merge."""
    return f"{service}: proposal {reference} rejected (closed unmerged)"


def approved_subject(service: str, reference: str, merged_by: object) -> str:
    """An approver's merge granted."""
    return f"{service}: approved by {merged_by} ({reference})"


def refused_subject(service: str, reference: str, why: str) -> str:
    """A merge that approves nothing, with its first reason."""
    return f"{service}: approval refused for {reference}: {short(why, 60)}"


def stale_subject(service: str, reference: str, why: str) -> str:
    """A granted request that went stale while it waited."""
    return f"{service}: approval {reference} went stale: {short(why, 60)}"


def landed_subject(service: str, reference: str) -> str:
    """A proposed change on the main branch without an approver's merge; the service held."""
    return f"{service}: {reference} landed without approval; held"


def _because(request: OperationRequest, decision: Decision | None) -> str:
    if request.origin is Origin.REQUEST:
        who = request.requested_by or "someone"
        return short(f"requested by {who}" + (f": {request.reason}" if request.reason else ""), 60)
    if decision is not None and request.origin is Origin.RECOVERY:
        failing = decision.inputs.get("failing_pods")
        count = len(failing) if isinstance(failing, list) else 0
        restarts = decision.inputs.get("effective_restarts")
        reason = decision.reason.value.replace("_", " ")
        return f"{reason}: {count}/{decision.current_replicas} pods failing, {restarts} restarts"
    if decision is None or decision.weighted.value is None:
        return short(decision.rationale if decision else request.reason, 60)
    w = format_percent(decision.weighted.value)
    up = decision.inputs.get("scale_up_threshold")
    down = decision.inputs.get("scale_down_threshold")
    if decision.target_replicas > decision.current_replicas or decision.beyond_limits:
        return f"weighted {w} > {format_percent(float(up))}" if isinstance(up, float) else w
    return f"weighted {w} < {format_percent(float(down))}" if isinstance(down, float) else w


#: A verification later than this after it was due says so in its subject.
LATE_NOTE = 120.0


def verification_subject(record: Record, pending: Pending) -> str:
    """A verification's subject: what was verified, how it came out, how late."""
    what = what_of(pending.record)
    service = record.service
    body = lazy_bodies.verification_of(record)
    failed = body.failed()
    # A verification a run caught up on (the one due to do it never came) says how late.
    late = f" ({format_duration(body.late_by)} late)" if body.late_by >= LATE_NOTE else ""
    match record.event_type:
        case EventType.VERIFICATION_PASSED if record.outcome is Outcome.PARTIAL:
            return (
                f"{service}: verified {what}{late}, kept: missed {', '.join(failed)}, nothing worse"
            )
        case EventType.VERIFICATION_PASSED:
            counts = f"{body.count(lazy_bodies.CheckStatus.PASSED)}/{len(body.checks)}"
            return f"{service}: verified {what}{late}: {counts} checks passed"
        case EventType.VERIFICATION_FAILED:
            worse = ", ".join(failed)
            return f"{service}: verification failed for {what}: {worse} worse; rolling back"
        case EventType.ROLLBACK_VERIFIED if record.outcome is Outcome.PARTIAL:
            missing = ", ".join(failed)
            return f"{service}: rollback verified ({what}): back as before, still missing {missing}"
        case EventType.ROLLBACK_VERIFIED:
            return f"{service}: rollback verified ({what}): service restored"
        case EventType.ROLLBACK_VERIFICATION_FAILED:
            return f"{service}: rollback verification failed ({what}): {', '.join(failed)}"
    return f"{service}: {what} not verified: {record.rationale.removeprefix('not verified: ')}"
