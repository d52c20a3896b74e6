"""The pure approval checks: what a merge approves, when a service is held, and when an approved
request went stale."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.core.approvals import (
    Judgement,
    approval_hold,
    approval_record,
    digest,
    judge_merge,
    pending_proposals,
    stale_reason,
)
from reconciler.core.proposals import Proposal, ProposalState
from reconciler.core.records import EventType, Outcome, Record
from tests.core.helpers import NOW, blueprint, state

WEB = blueprint()
OTHER = "0" * 64


def record(event: EventType, outcome: Outcome, kind: str, digest: str, **extra: Any) -> Record:
    metadata = {
        "key": f"web/{kind}",
        "kind": kind,
        "approval_id": f"apr-{kind}",
        "blueprint_digest": digest,
        "created_at": "2026-02-10T15:00:00Z",
        "expires_at": "2026-02-10T16:00:00Z",
    }
    return approval_record(event, outcome, WEB, "web", metadata, None, "why", NOW, extra=extra)


REQUESTED = EventType.APPROVAL_REQUESTED, Outcome.PENDING


@pytest.mark.parametrize(
    ("records", "settled", "held"),
    [
        ([], (), ""),
        ([record(*REQUESTED, "blueprint", WEB.digest)], (), ""),
        ([record(*REQUESTED, "blueprint", OTHER)], (), "has not been judged yet"),
        ([record(*REQUESTED, "blueprint", OTHER)], ("web/blueprint",), ""),
        ([record(*REQUESTED, "request", OTHER)], (), ""),
        (
            [
                record(*REQUESTED, "blueprint", OTHER),
                record(EventType.APPROVAL_GRANTED, Outcome.APPROVED, "blueprint", OTHER),
            ],
            (),
            "",
        ),
        (
            [
                record(*REQUESTED, "blueprint", OTHER),
                record(
                    EventType.APPROVAL_REFUSED,
                    Outcome.REFUSED,
                    "blueprint",
                    OTHER,
                    merged_blueprint_digest=WEB.digest,
                    reference="#7",
                ),
            ],
            (),
            "held: the blueprint is the one #7 merged without a valid approval",
        ),
    ],
    ids=[
        "nothing",
        "proposed-against-this-blueprint",
        "blueprint-changed-unjudged",
        "found-open-this-cycle",
        "requests-change-no-blueprint",
        "judged-and-granted",
        "refused-and-still-loaded",
    ],
)
def test_approval_hold(records: list[Record], settled: tuple[str, ...], held: str) -> None:
    reason = approval_hold(WEB, records, settled=settled)
    assert (held in reason) if held else reason == ""


@pytest.mark.parametrize(
    ("metadata", "now", "stale"),
    [
        ({"current_replicas": 2}, {}, ""),
        ({"current_replicas": 3}, {}, "replicas 3 (now 2)"),
        ({"current_replicas": None, "revision": 1}, {}, ""),
        ({"revision": 2}, {"revision": 3}, "revision 2 (now 3)"),
        ({"parameters": {"cpu_request_before": 100}}, {"cpu_request": 100}, ""),
        ({"parameters": {"cpu_request_before": 100}}, {"cpu_request": 200}, "100m (now 200m)"),
        ({"parameters": {"memory_request_before": None}}, {"memory_request": None}, ""),
        (
            {"parameters": {"memory_request_before": None}},
            {"memory_request": 2**30},
            "memory_request unset (now 1Gi)",
        ),
        ({"parameters": {"to_revision": 1}}, {}, ""),
        ({"parameters": {"gpu_before": 1}}, {}, "gpu 1 (the deployment does not say)"),
        ({"kind": "blueprint", "current_replicas": 3}, {}, ""),
    ],
)
def test_stale_reason(metadata: dict[str, Any], now: dict[str, Any], stale: str) -> None:
    reason = stale_reason({"kind": "request", **metadata}, state(2, **now))
    assert (
        (stale in reason and reason.startswith("overtaken by the state")) if stale else not reason
    )


REQUEST_FILE = "requests/web/apr-request.yaml"
TEXT = "operation: scale_beyond_limits\n"


@pytest.mark.parametrize(
    ("changed", "refusal"),
    [
        ((REQUEST_FILE,), ""),
        ((), ""),
        (None, "the forge did not say which files the merge changed"),
        (
            (REQUEST_FILE, "audit/web/2026-02-10/153000-approval_granted-apr-x.json"),
            "the merge also changed audit/web/2026-02-10/153000-approval_granted-apr-x.json, "
            "which the reconciler did not propose",
        ),
        (
            tuple(f"blueprints/s{n:02d}/blueprint.yaml" for n in range(12)),
            "blueprints/s09/blueprint.yaml and 2 more, which",
        ),
    ],
    ids=["only-the-proposed-file", "nothing-new", "unknown", "an-audit-record", "many"],
)
def test_a_merge_approves_only_the_proposed_files(
    changed: tuple[str, ...] | None, refusal: str
) -> None:
    requested = record(*REQUESTED, "request", OTHER)
    metadata = {
        **requested.details["metadata"],
        "files": [REQUEST_FILE],
        "digests": {REQUEST_FILE: digest(TEXT)},
        "approvers": ["alice"],
    }
    requested = approval_record(
        EventType.APPROVAL_REQUESTED, Outcome.PENDING, WEB, "web", metadata, None, "why", NOW
    )
    (pending,) = pending_proposals([requested])
    proposal = Proposal(
        key="web/request",
        branch="reconciler/web/request",
        state=ProposalState.MERGED,
        head="abc",
        merged_by="alice",
        merged_at=NOW,
        files={REQUEST_FILE: TEXT},
        changed=changed,
    )
    judged = judge_merge(pending, proposal, WEB, lambda approver, who: approver == who, NOW)
    if refusal:
        assert judged.judgement is Judgement.REFUSED
        assert any(refusal in reason for reason in judged.reasons), judged.reasons
    else:
        assert (judged.judgement, judged.reasons) == (Judgement.GRANTED, ())
