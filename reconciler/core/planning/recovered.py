"""The record of a change found on a deployment that the audit trail does not have."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from reconciler.core.blueprint.model import Blueprint
from reconciler.core.gitops.writeback import OwnCommit, write_back_details
from reconciler.core.ids import utc
from reconciler.core.observed.observation import STAMP_ANNOTATION, ChangeStamp
from reconciler.core.trail.records import EventType, Outcome, Record, record_under
from reconciler.core.trail.wording import Code, Reason, say

#: Records that lead a chain and are committed with its change, by id prefix.
_SAME_RUN_LEADS = {"dec-": "decision", "req-": "request"}


def recovered_record(
    stamp: ChangeStamp, blueprint: Blueprint, now: datetime, commit: OwnCommit | None = None
) -> Record:
    """A change found on a deployment that the audit trail does not have (a run died), or,
    with `commit`, in one of the reconciler's own manifest commits (coexistence: write_back;
    the stamp travels in the commit's trailer, the commit is linked and kept as
    `details.write_back`, so the change is waited for, verified and reverted like one).

    Built from the deployment's stamp so that it stands where the lost `operation_executed`
    record would: the same links (decision, governance, approval, rollback_of), the request,
    the pre-change baseline and expectations. Verification then treats it as any executed
    change, a harmful one is rolled back, and an approval it carried out counts as used.
    A stamp from before stamps carried these has none of them; the rationale says so.
    """
    return record_under(
        blueprint,
        EventType.OPERATION_RECOVERED,
        Outcome.RECOVERED,
        record_id=stamp.operation_id,
        at=utc(stamp.at),
        service=stamp.service,
        rationale=_rationale(stamp, now, with_baseline=bool(stamp.baseline), commit=commit),
        operation=stamp.operation,
        classification=stamp.classification or None,
        links=_links(stamp, commit),
        details=_details(stamp, blueprint, now, commit),
    )


def _links(stamp: ChangeStamp, commit: OwnCommit | None) -> dict[str, str]:
    """The links the lost record would have had, as far as the stamp kept them."""
    return {
        key: value
        for key, value in (
            ("decision", stamp.decision_id),
            ("governance", stamp.governance_id),
            ("operation", stamp.operation_id),
            ("approval", stamp.approval_id),
            ("rollback_of", stamp.reverts),
            ("commit", commit.written.commit if commit is not None else ""),
        )
        if value
    }


def _details(
    stamp: ChangeStamp, blueprint: Blueprint, now: datetime, commit: OwnCommit | None
) -> dict[str, Any]:
    """An executed record's details, from the stamp: the request, the states before and
    after, the baseline and expectations; and the commit's write-back, when it was one."""
    request = _request(stamp)
    baseline = dict(stamp.baseline)
    pre = (
        {
            "replicas": baseline.get("replicas"),
            "ready": baseline.get("ready_replicas"),
            "revision": baseline.get("revision"),
        }
        if baseline
        else dict(stamp.before)
    )
    extra: dict[str, Any] = {}
    if commit is not None:
        sync_timeout = blueprint.manifests.sync_timeout if blueprint.manifests else 600.0
        extra = {"write_back": write_back_details(commit.written, sync_timeout)}
    return {
        "summary": stamp.summary,
        "recovered_from": "manifest_commit" if commit is not None else STAMP_ANNOTATION,
        "request": request,
        "pre_operation_state": pre,
        "post_operation_state": dict(stamp.after),
        "baseline": baseline or None,
        "expected": dict(stamp.expected) or None,
        "attempt": request["parameters"].get("attempt"),
        "authorized_by": dict(stamp.authorized_by) or None,
        "why": stamp.why or None,
        "recovered_at": now,
        **extra,
    }


def _rationale(
    stamp: ChangeStamp, now: datetime, *, with_baseline: bool, commit: OwnCommit | None
) -> str:
    """What the recovered record says: when the change was made and found, which records
    were lost with it, why it was made, and whether it can be verified."""
    # Committed with the change, so lost with it: the verdict, and the decision or request
    # when the same run made it (an approval or a failed verification leads from older records).
    lost = [
        (kind, record_id)
        for kind, record_id in (
            (_SAME_RUN_LEADS.get(stamp.decision_id[:4], ""), stamp.decision_id),
            ("governance check", stamp.governance_id),
        )
        if kind and record_id
    ]
    found = {
        "summary": stamp.summary,
        "manifest_commit": None if commit is None else commit.written.commit,
        "annotation": STAMP_ANNOTATION,
        "at": stamp.at,
        "now": now,
        "lost": lost,
        "why": stamp.why,
        "with_baseline": with_baseline,
    }
    return say(Reason(Code.RECOVERED_CHANGE, found))


def _request(stamp: ChangeStamp) -> dict[str, Any]:
    """The request as the stamp kept it, in the shape of an executed record's; a stamp from
    before stamps carried the request gives its replicas before and after."""
    asked = stamp.request
    parameters = asked.get("parameters")
    return {
        "operation": stamp.operation,
        "origin": asked.get("origin"),
        "current_replicas": asked.get("current_replicas", stamp.before.get("replicas")),
        "target_replicas": asked.get("target_replicas", stamp.after.get("replicas")),
        "change_percent": asked.get("change_percent"),
        "reason": asked.get("reason", ""),
        "requested_by": asked.get("requested_by", ""),
        "reverts": stamp.reverts or None,
        "parameters": dict(parameters) if isinstance(parameters, Mapping) else {},
    }
