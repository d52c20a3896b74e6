"""What a cluster is told about a record: a reason code, a one-line message with the numbers,
and the record's id, for a Kubernetes Event on the deployment.

`kubectl describe deployment` and event exporters are where an operator looks first when the
replicas changed; an Event there says who changed them and why, and its record id leads to the
full audit record. Only what was done, refused, deferred or failed is announced: decisions and
verdicts stay in the trail. The wording lives here alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from reconciler.core.ids import utc
from reconciler.core.trail.bodies import (
    ExecutionBody,
    FailureBody,
    RequestBody,
    body_of,
    refusal_of,
    request_of,
)
from reconciler.core.trail.records import EventType, Record

__all__ = ["MESSAGE_LIMIT", "Notice", "NoticeReason", "notice_for"]

#: Kubernetes keeps an Event's message to 1 kB (events.k8s.io `note`); longer is cut.
MESSAGE_LIMIT = 1024


class NoticeReason(StrEnum):
    """An Event's `reason`: CamelCase, as Kubernetes' own reasons are."""

    SCALED = "ReconcilerScaled"
    RESOURCES_SET = "ReconcilerResourcesSet"
    RESTARTED = "ReconcilerRestarted"
    ROLLED_BACK = "ReconcilerRolledBack"
    REFUSED = "ReconcilerRefused"
    DEFERRED = "ReconcilerDeferred"
    FAILED = "ReconcilerFailed"
    ROLLBACK_FAILED = "ReconcilerRollbackFailed"


#: Reasons an operator should look at: posted as `type: Warning`.
_WARNINGS = frozenset(
    {
        NoticeReason.ROLLED_BACK,
        NoticeReason.REFUSED,
        NoticeReason.FAILED,
        NoticeReason.ROLLBACK_FAILED,
    }
)


@dataclass(frozen=True, kw_only=True)
class Notice:
    reason: NoticeReason
    #: One line, at most MESSAGE_LIMIT characters, ending with the record's id.
    message: str
    record_id: str
    service: str

    @property
    def warning(self) -> bool:
        return self.reason in _WARNINGS


def notice_for(record: Record) -> Notice | None:
    """The notice a record gives the cluster, or None for a record that changes nothing there
    and refuses nothing (decisions, verdicts, approvals, observe mode)."""
    match record.event_type:
        case EventType.OPERATION_EXECUTED:
            reason, text = _executed(body_of(record, ExecutionBody))
        case EventType.ROLLBACK_EXECUTED:
            done = body_of(record, ExecutionBody)
            undone = done.request.reverts or "an earlier change"
            reason, what = NoticeReason.ROLLED_BACK, _executed(done)[1]
            text = f"rolled back {undone}, {what}"
        case EventType.OPERATION_BLOCKED:
            reason = NoticeReason.REFUSED
            text = f"refused {_asked(request_of(record))}: {record.rationale}"
        case EventType.OPERATION_DEFERRED:
            reason = NoticeReason.DEFERRED
            refusal = refusal_of(record)
            until = f" until {_moment(refusal.retry_at)}" if refusal.retry_at else ""
            text = f"deferred {_asked(refusal.request)}{until}: {record.rationale}"
        case EventType.OPERATION_FAILED:
            reason = NoticeReason.FAILED
            failed = body_of(record, FailureBody)
            text = f"{_asked(failed.request)} failed: {failed.error or record.rationale}"
        case EventType.ROLLBACK_FAILED:
            reason = NoticeReason.ROLLBACK_FAILED
            text = f"rollback failed: {body_of(record, FailureBody).error or record.rationale}"
        case _:
            return None
    return Notice(
        reason=reason,
        message=_one_line(text, f" (audit record {record.id})"),
        record_id=record.id,
        service=record.service,
    )


def _executed(done: ExecutionBody) -> tuple[NoticeReason, str]:
    before, after, request = done.pre_operation_state, done.post_operation_state, done.request
    match done.kind:
        case "rollback":
            return NoticeReason.ROLLED_BACK, (
                f"back to revision {after.get('revision', '?')} from "
                f"{before.get('revision', '?')}: {_why(request)}"
            )
        case "scale" if "min_replicas" in after:
            return NoticeReason.SCALED, (
                f"set the HPA's minReplicas from {before.get('min_replicas', '?')} to "
                f"{after['min_replicas']}: {_why(request)}"
            )
        case "scale":
            return NoticeReason.SCALED, (
                f"scaled from {before.get('replicas', '?')} to {after.get('replicas', '?')} "
                f"replicas: {_why(request)}"
            )
        case "resources":
            return NoticeReason.RESOURCES_SET, f"{done.change or ''}: {_why(request)}"
        case "restart":
            return NoticeReason.RESTARTED, f"restarted: {_why(request)}"
    return NoticeReason.SCALED, f"{done.change or ''}: {_why(request)}"


def _asked(request: RequestBody) -> str:
    """The operation, with its replica counts when it has them."""
    operation = request.operation or "the operation"
    current, target = request.current_replicas, request.target_replicas
    if current is not None and target is not None:
        return f"{operation} from {current} to {target} replicas"
    return operation


def _moment(value: datetime) -> str:
    return utc(value).isoformat().replace("+00:00", "Z")


def _why(request: RequestBody) -> str:
    return request.reason or "requested"


def _one_line(text: str, suffix: str) -> str:
    """`text` on one line with `suffix` kept whole, cut to fit MESSAGE_LIMIT."""
    flat = " ".join(text.split())
    room = MESSAGE_LIMIT - len(suffix)
    if len(flat) > room:
        flat = flat[: room - 1].rstrip() + "…"
    return flat + suffix
