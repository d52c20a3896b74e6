"""What a granted approval lets the next cycle do: the request it carries out, how it is named
in the trail, and each reason an approved request no longer fits the deployment."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from reconciler.core.approvals.authorization import Authorization, stale_reason
from reconciler.core.approvals.lifecycle import Kind
from reconciler.core.decide.governance import OperationRequest, Origin
from reconciler.core.observed.observation import ChangeStamp
from reconciler.core.trail.proposal_metadata import ProposalMetadata
from tests.core.helpers import NOW, blueprint, state

WEB = blueprint()


def _granted(**changes: Any) -> Authorization:
    given: dict[str, Any] = {
        "approval_id": "apv-20260210-152000-bbbbbb",
        "reference": "#7",
        "merged_by": "alice",
        "merged_at": NOW - timedelta(minutes=10),
        "latency": 60.0,
        "kind": Kind.REQUEST,
        "operation": "scale_beyond_limits",
        "target_replicas": 8,
        "current_replicas": 2,
        "parameters": {"note": "launch"},
    }
    return Authorization(**{**given, **changes})


def test_the_request_a_grant_carries_out_is_the_approved_one_by_the_merger() -> None:
    assert _granted().request(WEB, 3) == OperationRequest(
        operation="scale_beyond_limits",
        service="web",
        origin=Origin.APPROVAL,
        current_replicas=3,
        target_replicas=8,
        decision_id="apv-20260210-152000-bbbbbb",
        reason="approved in #7 by alice",
        requested_by="alice",
        parameters={"note": "launch"},
    )


def test_a_granted_request_without_a_target_carries_no_replicas() -> None:
    request = _granted(operation="restart_failed_pods", target_replicas=None).request(WEB, 3)
    assert (request.operation, request.current_replicas, request.target_replicas) == (
        "restart_failed_pods",
        None,
        None,
    )


@pytest.mark.parametrize(
    ("merged_at", "described"),
    [
        (NOW - timedelta(minutes=10), "#7, merged by alice at 2026-02-10 15:20:00Z"),
        (None, "#7, merged by alice"),
    ],
    ids=["merge-time-known", "merge-time-unknown"],
)
def test_a_grant_names_its_pull_request_its_merger_and_when(merged_at: Any, described: str) -> None:
    assert _granted(merged_at=merged_at).describe() == described


def test_a_grant_is_recorded_with_the_keys_the_trail_reads() -> None:
    assert _granted().to_json() == {
        "approval_id": "apv-20260210-152000-bbbbbb",
        "reference": "#7",
        "merged_by": "alice",
        "merged_at": NOW - timedelta(minutes=10),
        "approval_latency_seconds": 60.0,
        "current_replicas": 2,
    }


def _stamp(approval_id: str) -> ChangeStamp:
    return ChangeStamp(
        operation_id="op-20260210-152500-cccccc",
        decision_id="dec-1",
        operation="scale_beyond_limits",
        service="web",
        at=NOW,
        summary="scale 2→8",
        approval_id=approval_id,
    )


def _stale(metadata: dict[str, Any], **now: Any) -> str:
    replicas = now.pop("replicas", 2)
    raw = {"kind": "request", "approval_id": "apv-1", **metadata}
    return stale_reason(ProposalMetadata.from_json(raw), state(replicas, **now))


def _overtaken(*changed: str) -> str:
    return (
        "overtaken by the state: it was proposed when the deployment had "
        + ", ".join(changed)
        + "; propose it again if it is still wanted"
    )


@pytest.mark.parametrize(
    ("metadata", "now", "stale"),
    [
        # Carried out already, by this approval's own change (its stamp on the deployment).
        (
            {"current_replicas": 3, "target_replicas": 8},
            {"last_change": _stamp("apv-1")},
            "already carried out as op-20260210-152500-cccccc, as the deployment's stamp shows",
        ),
        # Another approval's change: this one is judged on the deployment as it is.
        ({"current_replicas": 2, "target_replicas": 8}, {"last_change": _stamp("apv-2")}, ""),
        (
            {"current_replicas": 3, "target_replicas": 8},
            {"last_change": _stamp("apv-2")},
            _overtaken("replicas 3 (now 2)"),
        ),
        # A scale depends on the replicas only: a new revision leaves it as it was.
        ({"current_replicas": 2, "target_replicas": 8, "revision": 4}, {"revision": 5}, ""),
        # A resources change depends on the values it replaces, not on the revision.
        (
            {"revision": 4, "parameters": {"cpu_request_before": 100, "cpu_request": 200}},
            {"revision": 5, "cpu_request": 100},
            "",
        ),
        # Anything else depends on the revision.
        ({"revision": 4, "parameters": {"cpu_request": 200}}, {"revision": 5}, None),
        # A proposal that edits the manifests is carried out by its merge: the deployment at
        # its target is that merge rolled out.
        (
            {"current_replicas": 2, "target_replicas": 4, "write_back": ["k8s/web.yaml"]},
            {"replicas": 4},
            "",
        ),
        (
            {"current_replicas": 2, "target_replicas": 4, "write_back": ["k8s/web.yaml"]},
            {"replicas": 3},
            _overtaken("replicas 2 (now 3)"),
        ),
        (
            {"current_replicas": 2, "target_replicas": 4},
            {"replicas": 4},
            _overtaken("replicas 2 (now 4)"),
        ),
        # Every replaced value is compared, whatever comes before it.
        (
            {"parameters": {"a_note": "x", "cpu_request_before": 100}},
            {"cpu_request": 200},
            _overtaken("cpu_request 100m (now 200m)"),
        ),
        (
            {"parameters": {"gpu_before": 1, "memory_request_before": None}},
            {"memory_request": 2**30},
            _overtaken("gpu 1 (the deployment does not say)", "memory_request unset (now 1Gi)"),
        ),
        (
            {"current_replicas": 3, "revision": 2},
            {"revision": 3},
            _overtaken("replicas 3 (now 2)", "revision 2 (now 3)"),
        ),
    ],
    ids=[
        "carried-out-by-this-approval",
        "another-approvals-change",
        "another-approvals-change-moved-replicas",
        "scale-after-a-new-revision",
        "resources-after-a-new-revision",
        "other-after-a-new-revision",
        "write-back-rolled-out",
        "write-back-elsewhere",
        "no-write-back-at-target",
        "a-parameter-before-the-replaced-value",
        "an-unknown-value-before-a-known-one",
        "replicas-and-revision",
    ],
)
def test_when_an_approved_request_no_longer_fits(
    metadata: dict[str, Any], now: dict[str, Any], stale: str | None
) -> None:
    reason = _stale(metadata, **now)
    if stale is None:
        assert reason == _overtaken("revision 4 (now 5)")
    else:
        assert reason == stale
