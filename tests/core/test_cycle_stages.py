"""The stages of a cycle one by one, as tables over the pure planner, and their order.

Each stage either passes the cycle on (its progress without a plan) or settles it; these
tables give each stage the inputs that make it do one or the other, and what it leaves.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, timedelta, timezone

import pytest

from reconciler.core.approvals.authorization import Authorization
from reconciler.core.approvals.lifecycle import Kind
from reconciler.core.blueprint.model import Blueprint, Provenance
from reconciler.core.decide.decision import Action, DecisionRule
from reconciler.core.decide.decision import Reason as DecisionReason
from reconciler.core.decide.governance import Origin, VerdictAction
from reconciler.core.decide.verification import Pending
from reconciler.core.ids import make_id
from reconciler.core.observed.changes import Applied
from reconciler.core.observed.observation import (
    ChangeStamp,
    DeploymentState,
    Metrics,
    PodState,
    Sample,
)
from reconciler.core.planning import stages
from reconciler.core.planning.events import executed_record
from reconciler.core.planning.outcomes import NoteKind
from reconciler.core.planning.stages import STAGES, CycleInputs, Progress
from reconciler.core.trail.history import fold_history
from reconciler.core.trail.records import EventType, Outcome, Record
from tests.core.helpers import NOW, blueprint, flat_window, metrics, state

HOT = metrics(0.95, 0.90, 180)
CALM = metrics(0.60, 0.55, 100)
STAMP = ChangeStamp(
    operation_id="op-20260210-152900-aaaaaa",
    decision_id="dec-20260210-152900-aaaaaa",
    operation="scale_within_limits",
    service="web",
    at=NOW - timedelta(minutes=1),
    summary="scale 2→3",
    before={"replicas": 2},
    after={"replicas": 3},
)


def inputs(
    bp: Blueprint | None = None,
    observed: DeploymentState | None = None,
    load: Metrics = CALM,
    **options: object,
) -> CycleInputs:
    return CycleInputs(
        blueprint=bp or blueprint(),
        state=observed or state(2),
        metrics=load,
        now=NOW,
        **options,  # type: ignore[arg-type]
    )


def start(given: CycleInputs, records: tuple[Record, ...] = ()) -> Progress:
    bp = given.blueprint
    return Progress(history=fold_history(bp.name, records, bp.policy.safety.circuit_breaker, NOW))


def test_the_stages_run_in_this_order() -> None:
    assert [stage.__name__ for stage in STAGES] == [
        "record_unrecorded_change",
        "verify_due_changes",
        "stop_while_paused",
        "open_breaker",
        "roll_back_failed_changes",
        "wait_for_verification",
        "stop_when_verifying_only",
        "carry_out_approved_request",
        "recover_failing_pods",
        "retry_deferred_requests",
        "hold_approved_replicas",
        "decide_and_govern",
    ]


def test_only_the_last_stage_always_settles_a_calm_cycle() -> None:
    """On a quiet service every stage but the decision passes on, changing nothing."""
    given = inputs()
    progress = start(given)
    for stage in STAGES[:-1]:
        assert stage(given, progress) == progress, stage.__name__
    assert STAGES[-1](given, progress).plan is not None


@pytest.mark.parametrize(
    ("stamp", "recorded", "noted"),
    [(None, False, False), (STAMP, True, False), (STAMP, False, True)],
    ids=["no-stamp", "stamp-recorded", "stamp-not-recorded"],
)
def test_record_unrecorded_change(stamp: ChangeStamp | None, recorded: bool, noted: bool) -> None:
    given = inputs(observed=state(3, last_change=stamp), stamp_recorded=recorded)
    after = stages.record_unrecorded_change(given, start(given))
    assert after.plan is None
    assert [n.kind for n in after.notes] == ([NoteKind.CHANGE_RECOVERED] if noted else [])
    assert [r.event_type for r in after.history.records] == (
        [EventType.OPERATION_RECOVERED] if noted else []
    )


@pytest.mark.parametrize(
    ("bp", "annotation", "verify_only", "paused_by", "decided"),
    [
        (blueprint(), "", False, "", False),
        (
            blueprint(extra="  suspend: true\n"),
            "",
            False,
            "spec.suspend: true in the blueprint",
            True,
        ),
        (
            blueprint(),
            "maintenance",
            False,
            "the deployment's annotation reconciler/paused=maintenance",
            True,
        ),
        (
            blueprint(),
            "maintenance",
            True,
            "the deployment's annotation reconciler/paused=maintenance",
            False,
        ),
    ],
    ids=["running", "suspended", "annotated", "annotated-verify-only"],
)
def test_stop_while_paused(
    bp: Blueprint, annotation: str, verify_only: bool, paused_by: str, decided: bool
) -> None:
    given = inputs(bp, state(2, paused=annotation), HOT, verify_only=verify_only)
    after = stages.stop_while_paused(given, start(given))
    if not paused_by:
        assert after == start(given)
        return
    assert after.plan is not None
    assert after.plan.paused == paused_by
    assert not after.plan.steps
    assert [n.kind for n in after.notes] == [NoteKind.PAUSED]
    assert (after.plan.decision is not None) == decided
    if after.plan.decision is not None:  # what the engine would do, and does not
        paused = after.plan.decision
        assert (paused.action, paused.reason, paused.rule) == (
            Action.NONE,
            DecisionReason.PAUSED,
            DecisionRule.PAUSE,
        )
        assert (paused.target_replicas, paused.desired_replicas) == (2, 2)
        assert (paused.expected, paused.needs_window) == (None, False)
        assert paused.rationale.startswith(f"Paused by {paused_by}: nothing is changed")
        assert paused.id.startswith("dec-") and paused.service == "web"


@pytest.mark.parametrize("verify_only", [False, True])
def test_stop_when_verifying_only(verify_only: bool) -> None:
    given = inputs(load=HOT, verify_only=verify_only)
    after = stages.stop_when_verifying_only(given, start(given))
    assert (after.plan is not None) == verify_only
    if after.plan is not None:
        assert (after.plan.decision, after.plan.steps) == (None, ())


def _pending(due_in: timedelta, write_back: dict[str, object] | None = None) -> Pending:
    details: dict[str, object] = {"request": {"current_replicas": 2, "target_replicas": 3}}
    if write_back is not None:  # a change made through git: the sync deadline is its due
        details["write_back"] = write_back
    executed = Record(
        id="op-20260210-152900-aaaaaa",
        timestamp=NOW - timedelta(minutes=1),
        event_type=EventType.OPERATION_EXECUTED,
        service="web",
        blueprint_version="1.0.0",
        outcome=Outcome.SUCCESS,
        rationale="scale deployment todo-app/web to 3 replicas",
        operation="scale_within_limits",
        links={"operation": "op-20260210-152900-aaaaaa"},
        details=details,
    )
    return Pending(
        record=executed,
        operation_id=executed.id,
        due=NOW + due_in,
        target_replicas=3,
        baseline={},
        expected={},
        pre_state={},
    )


_ROLLED_OUT = Record(
    id="rol-20260210-153000-aaaaaa",
    timestamp=NOW,
    event_type=EventType.ROLLED_OUT,
    service="web",
    blueprint_version="1.0.0",
    outcome=Outcome.SUCCESS,
    rationale="rolled out",
    links={"operation": "op-20260210-152900-aaaaaa"},
)


@pytest.mark.parametrize(
    ("waiting", "records", "text"),
    [
        (None, (), None),
        (
            _pending(timedelta(seconds=30)),
            (),
            "op-20260210-152900-aaaaaa (scale 2→3) is verified at 15:30:30Z; "
            "no new change before that",
        ),
        (
            _pending(timedelta(seconds=-10)),
            (),
            "op-20260210-152900-aaaaaa (scale 2→3) is verified once its starting pods are "
            "ready (at the latest 15:31:50Z); no new change before that",
        ),
        (
            _pending(timedelta(0)),
            (),
            "op-20260210-152900-aaaaaa (scale 2→3) is verified once its starting pods are "
            "ready (at the latest 15:32:00Z); no new change before that",
        ),
        (
            _pending(timedelta(seconds=30), {"commit": "0123456789abcdef"}),
            (),
            "op-20260210-152900-aaaaaa (scale 2→3) is verified once the GitOps tool has rolled "
            "out 0123456789ab (escalated if it has not by 15:30:30Z); no new change before that",
        ),
        (
            _pending(timedelta(seconds=30), {"commit": "0123456789abcdef"}),
            (_ROLLED_OUT,),
            "op-20260210-152900-aaaaaa (scale 2→3) is verified at 15:30:30Z; "
            "no new change before that",
        ),
        (
            _pending(timedelta(0), {"commit": "0123456789abcdef"}),
            (),
            "op-20260210-152900-aaaaaa (scale 2→3) is verified once its starting pods are "
            "ready (at the latest 15:32:00Z); no new change before that",
        ),
        (
            _pending(timedelta(seconds=-10), {"commit": "0123456789abcdef"}),
            (),
            "op-20260210-152900-aaaaaa (scale 2→3) is verified once its starting pods are "
            "ready (at the latest 15:31:50Z); no new change before that",
        ),
    ],
    ids=[
        "nothing-waits",
        "due-later",
        "pods-starting",
        "due-now",
        "through-git-not-rolled-out",
        "through-git-rolled-out",
        "through-git-sync-deadline-now",
        "through-git-sync-deadline-passed",
    ],
)
def test_wait_for_verification(
    waiting: Pending | None, records: tuple[Record, ...], text: str | None
) -> None:
    """The waiting change holds the cycle either way; the history says what it waits for
    (the GitOps tool's rollout of its commit, until the trail records it rolled out). Once
    the due time (for a change through git, its sync deadline) has come, nothing is due but
    the starting pods: the rollout is not spoken of, rolled out or not."""
    given = inputs(load=HOT)
    progress = replace(start(given, records), waiting=waiting)
    after = stages.wait_for_verification(given, progress)
    assert (after.plan.waiting if after.plan else None) == text
    if after.plan is not None:
        assert (after.plan.decision, after.plan.steps) == (None, ())


def _authorization(
    kind: Kind, replicas: int | None, operation: str = "scale_within_limits"
) -> Authorization:
    return Authorization(
        approval_id="apv-20260210-152000-bbbbbb",
        reference="reconciler/web/scale",
        merged_by="alice",
        merged_at=NOW - timedelta(minutes=10),
        latency=60.0,
        kind=kind,
        operation=operation,
        target_replicas=replicas,
        current_replicas=2,
        parameters={},
    )


@pytest.mark.parametrize(
    ("authorizations", "operation", "target"),
    [
        ((), None, None),
        ((_authorization(Kind.BLUEPRINT, None),), None, None),
        ((_authorization(Kind.REQUEST, 4),), "scale_within_limits", 4),
        (
            (_authorization(Kind.REQUEST, 1, "rollback_own_change"),),
            "rollback_own_change",
            1,
        ),
    ],
    ids=["none", "a-blueprint-edit", "a-request", "an-approved-rollback-proposal"],
)
def test_carry_out_approved_request(
    authorizations: tuple[Authorization, ...], operation: str | None, target: int | None
) -> None:
    """The approved operation is carried out from the replicas the deployment has now (a
    rollback proposal keeps its own target, so its starting point comes from the state), and
    the approval leads its chain of records."""
    given = inputs(authorizations=authorizations)  # the deployment runs 2 replicas
    after = stages.carry_out_approved_request(given, start(given))
    if target is None:
        assert after.plan is None
        return
    assert after.plan is not None and after.plan.decision is None
    (step,) = after.plan.steps
    request = step.request
    assert (request.operation, request.origin) == (operation, Origin.APPROVAL)
    assert (request.current_replicas, request.target_replicas) == (2, target)
    assert (step.chain.approval, step.chain.decision) == (
        "apv-20260210-152000-bbbbbb",
        "apv-20260210-152000-bbbbbb",
    )
    assert step.verdict.action is VerdictAction.EXECUTE


def _crashing(restarts: int) -> DeploymentState:
    pods = (
        PodState(name="web-1", ready=True),
        PodState(name="web-2", ready=False, restart_count=restarts, reason="CrashLoopBackOff"),
    )
    return state(2, ready=1, pods=pods, revision=2)


@pytest.mark.parametrize(
    ("observed", "operation", "action"),
    [
        (state(2), None, None),
        (_crashing(1), "restart_failed_pods", VerdictAction.EXECUTE),
        (_crashing(2), "rollback_deployment", VerdictAction.EXECUTE),
        (_crashing(9), "rollback_deployment", VerdictAction.REQUEST_APPROVAL),
    ],
    ids=["healthy", "one-restart", "at-the-rollback-threshold", "beyond-max-restarts"],
)
def test_recover_failing_pods(
    observed: DeploymentState, operation: str | None, action: VerdictAction | None
) -> None:
    given = inputs(observed=observed)
    after = stages.recover_failing_pods(given, start(given))
    if operation is None:
        assert after.plan is None
        return
    assert after.plan is not None and after.plan.decision is not None
    (step,) = after.plan.steps
    assert (step.request.operation, step.verdict.action) == (operation, action)
    assert step.records[0].event_type is EventType.DECISION_MADE
    decision = after.plan.decision
    request = step.request
    assert (request.service, request.origin) == ("web", Origin.RECOVERY)
    assert (request.decision_id, step.chain.decision) == (decision.id, decision.id)
    assert request.reason == decision.rationale  # the request says why: the ladder's reason
    if step.change is not None:  # the stamp on the deployment says why too, shortened
        why = step.change.stamp.why
        assert why and decision.rationale.startswith(why.removesuffix("…"))


@pytest.mark.parametrize(
    ("below", "action"), [("90%", VerdictAction.EXECUTE), ("10%", VerdictAction.REQUEST_APPROVAL)]
)
def test_a_recovery_rule_may_use_the_weighted_utilization(
    below: str, action: VerdictAction
) -> None:
    """The recovery's conditions see W as the ladder's decision measured it (unknown W would
    hold the restart for a person either way)."""
    gov = (
        "governance:\n  agent_authority:\n    allowed_operations:\n"
        f"      - operation: restart_failed_pods\n        condition: weighted_utilization < {below}\n"
    )
    given = inputs(blueprint(governance=gov), observed=_crashing(1))
    after = stages.recover_failing_pods(given, start(given))
    assert after.plan is not None and after.plan.decision is not None
    (step,) = after.plan.steps
    assert step.request.operation == "restart_failed_pods"
    assert step.verdict.action is action


@pytest.mark.parametrize(
    ("load", "targets"),
    [(CALM, []), (HOT, [3])],
    ids=["within-thresholds", "hot"],
)
def test_decide_and_govern(load: Metrics, targets: list[int]) -> None:
    given = inputs(load=load)
    after = stages.decide_and_govern(given, start(given))
    assert after.plan is not None and after.plan.decision is not None
    assert (after.plan.service, after.plan.waiting, after.plan.paused) == ("web", "", "")
    assert after.plan.needs_window is False
    assert [s.request.target_replicas for s in after.plan.steps] == targets
    assert all(s.request.decision_id == after.plan.decision.id for s in after.plan.steps)
    assert all(s.chain.decision == after.plan.decision.id for s in after.plan.steps)


def test_the_scale_keeps_what_the_decision_expected_of_its_target() -> None:
    """2 -> 3: the change's context carries the decision's expectation of 3 replicas, which
    its verification checks against."""
    given = inputs(load=HOT)
    after = stages.decide_and_govern(given, start(given))
    assert after.plan is not None and after.plan.decision is not None
    expected = after.plan.decision.expected
    assert expected is not None and expected.replicas == 3
    (step,) = after.plan.steps
    assert step.context["expected"] == {
        "cpu_utilization": expected.cpu_utilization,
        "memory_utilization": expected.memory_utilization,
    }


def test_the_decision_id_is_unique_to_the_history_it_was_made_over() -> None:
    """The same decision over two different trails gets two ids (the history's fingerprint
    salts it), so a later cycle's record is never taken for an earlier one."""
    given = inputs(load=HOT)
    bare = stages.decide_and_govern(given, start(given)).plan
    rolled = stages.decide_and_govern(given, start(given, (_ROLLED_OUT,))).plan
    assert bare is not None and bare.decision is not None
    assert rolled is not None and rolled.decision is not None
    assert (bare.decision.target_replicas, rolled.decision.target_replicas) == (3, 3)
    assert bare.decision.id != rolled.decision.id


@pytest.mark.parametrize(
    ("condition", "action"),
    [("> 90%", VerdictAction.EXECUTE), ("< 90%", VerdictAction.REQUEST_APPROVAL)],
)
def test_a_scale_rule_may_use_the_weighted_utilization(
    condition: str, action: VerdictAction
) -> None:
    """The scale's conditions see W as the decision measured it (0.925 here): unknown W
    would hold the scale for a person either way."""
    gov = (
        "governance:\n  agent_authority:\n    allowed_operations:\n"
        "      - operation: scale_within_limits\n"
        f"        condition: weighted_utilization {condition}\n"
    )
    given = inputs(blueprint(governance=gov), load=HOT)
    after = stages.decide_and_govern(given, start(given))
    assert after.plan is not None
    (step,) = after.plan.steps
    assert step.request.operation == "scale_within_limits"
    assert step.verdict.action is action


def test_a_step_across_max_replicas_is_two_requests_and_one_decision_record() -> None:
    """3 -> 6 with max_replicas 5: the part within the bounds is carried out, the rest is
    proposed, and only the first request carries the decision's record."""
    given = inputs(
        blueprint("    scale_up_increment: 3\n"), observed=state(3), load=metrics(0.99, 0.99, 400)
    )
    after = stages.decide_and_govern(given, start(given))
    assert after.plan is not None and after.plan.decision is not None
    decision = after.plan.decision
    assert (decision.target_replicas, decision.beyond_limits) == (5, 6)
    within, beyond = after.plan.steps
    assert [
        (s.request.operation, s.request.current_replicas, s.request.target_replicas)
        for s in (within, beyond)
    ] == [("scale_within_limits", 3, 5), ("scale_beyond_limits", 5, 6)]
    assert all(
        (s.request.origin, s.request.decision_id, s.request.service)
        == (Origin.DECISION, decision.id, "web")
        for s in (within, beyond)
    )
    assert (within.verdict.action, beyond.verdict.action) == (
        VerdictAction.EXECUTE,
        VerdictAction.REQUEST_APPROVAL,
    )
    assert within.records[0].event_type is EventType.DECISION_MADE
    assert EventType.DECISION_MADE not in [r.event_type for r in beyond.records]


@pytest.mark.parametrize(
    ("window", "needs_window", "targets"),
    [(None, True, []), (flat_window(0.10, 0.10, 50), False, [2])],
    ids=["no-window", "a-quiet-window"],
)
def test_a_scale_down_is_decided_over_the_window_given(
    window: list[Sample] | None, needs_window: bool, targets: list[int]
) -> None:
    """A scale-down waits for the metrics' history: without it the cycle settles on asking
    for it (and changes nothing); with a quiet window given, the engine scales down."""
    given = inputs(observed=state(3), load=metrics(0.10, 0.10, 50), window=window)
    after = stages.decide_and_govern(given, start(given))
    assert after.plan is not None and after.plan.decision is not None
    assert (after.plan.needs_window, after.plan.decision.needs_window) == (
        needs_window,
        needs_window,
    )
    assert [s.request.target_replicas for s in after.plan.steps] == targets


def test_an_approved_blueprint_edit_is_credited_on_the_scale_within_the_limits_only() -> None:
    """3 -> 6 with max_replicas 5 and an approved blueprint edit (and an approved request,
    which is not the edit): the scale within the limits is credited to the edit's approval,
    the rest proposed beyond the limits is not."""
    edit = replace(_authorization(Kind.BLUEPRINT, None), approval_id="apv-20260210-152000-eeeeee")
    given = inputs(
        blueprint("    scale_up_increment: 3\n"),
        observed=state(3),
        load=metrics(0.99, 0.99, 400),
        authorizations=(_authorization(Kind.REQUEST, 4), edit),
    )
    after = stages.decide_and_govern(given, start(given))
    assert after.plan is not None
    within, beyond = after.plan.steps
    assert [s.request.operation for s in (within, beyond)] == [
        "scale_within_limits",
        "scale_beyond_limits",
    ]
    assert within.chain.approval == "apv-20260210-152000-eeeeee"
    assert within.context["authorized_by"] == edit.to_json()
    assert (beyond.chain.approval, beyond.context["authorized_by"]) == ("", None)
    assert (within.verdict.action, beyond.verdict.action) == (
        VerdictAction.EXECUTE,
        VerdictAction.REQUEST_APPROVAL,
    )


def test_decide_and_govern_credits_no_approval_without_a_blueprint_edit() -> None:
    given = inputs(load=HOT, authorizations=(_authorization(Kind.REQUEST, 4),))
    after = stages.decide_and_govern(given, start(given))
    assert after.plan is not None
    (step,) = after.plan.steps
    assert (step.request.operation, step.request.target_replicas) == ("scale_within_limits", 3)
    assert (step.chain.approval, step.context["authorized_by"]) == ("", None)


def test_a_settled_plan_keeps_every_note_made_before_it() -> None:
    given = inputs(observed=state(3, last_change=STAMP), load=HOT, stamp_recorded=False)
    progress = stages.record_unrecorded_change(given, start(given))
    after = stages.decide_and_govern(given, progress)
    assert after.plan is not None
    assert [n.kind for n in after.plan.notes] == [NoteKind.CHANGE_RECOVERED]


def _record(event: EventType, at_seconds_ago: int, number: int = 0, **fields: object) -> Record:
    base: dict[str, object] = {
        "id": f"rec-{event}-{number}",
        "timestamp": NOW - timedelta(seconds=at_seconds_ago),
        "event_type": event,
        "service": "web",
        "blueprint_version": "1.0.0",
        "outcome": Outcome.FAILURE,
        "rationale": f"{event} {number}",
    }
    return Record(**{**base, **fields})  # type: ignore[arg-type]


@pytest.mark.parametrize(("failures", "opens"), [(0, False), (2, False), (3, True)])
def test_open_breaker(failures: int, opens: bool) -> None:
    """The seed policies open the breaker at 3 failures within the window."""
    given = inputs()
    records = tuple(
        _record(EventType.OPERATION_FAILED, 60 - n, n, operation="scale_within_limits")
        for n in range(failures)
    )
    after = stages.open_breaker(given, start(given, records))
    assert after.plan is None
    assert [n.kind for n in after.notes] == ([NoteKind.BREAKER_OPENED] if opens else [])
    assert (after.history.breaker.phase == "open") == opens


def _deferred(seconds_ago: int, current: int) -> Record:
    return _record(
        EventType.OPERATION_DEFERRED,
        seconds_ago,
        outcome=Outcome.DEFERRED,
        operation="scale_within_limits",
        links={"decision": "req-20260210-152800-cccccc"},
        details={
            "request": {
                "operation": "scale_within_limits",
                "origin": "request",
                "current_replicas": current,
                "target_replicas": current + 1,
                "requested_by": "alice",
                "parameters": {},
            },
            "reasons": ["cooldown"],
            "retry_at": NOW - timedelta(seconds=5),
        },
    )


@pytest.mark.parametrize(
    ("current", "settles", "expired"),
    [(2, True, False), (3, False, True)],
    ids=["still-holds", "replicas-changed"],
)
def test_retry_deferred_requests(current: int, settles: bool, expired: bool) -> None:
    given = inputs()  # the deployment runs 2 replicas
    after = stages.retry_deferred_requests(given, start(given, (_deferred(30, current),)))
    assert (after.plan is not None) == settles
    if after.plan is not None:
        (step,) = after.plan.steps
        assert (step.request.target_replicas, step.request.requested_by) == (3, "alice")
    assert [n.kind for n in after.notes] == ([NoteKind.REQUEST_EXPIRED] if expired else [])
    if expired:
        assert after.notes[0].subject == (
            "web: deferred request scale 3→4 expired: the deployment has 2 replicas now, not "
            "the 3 the request wa…"
        )
        (record,) = after.notes[0].records
        assert record.details["why"] == (
            "the deployment has 2 replicas now, not the 3 the request was made from"
        )


@pytest.mark.parametrize(
    ("origin", "replicas", "held"),
    [("approval", 0, True), ("approval", 1, False), ("decision", 0, False)],
    ids=["approved-and-in-place", "changed-since", "not-approved"],
)
def test_hold_approved_replicas(origin: str, replicas: int, held: bool) -> None:
    given = inputs(observed=state(replicas), load=HOT)
    executed = _record(
        EventType.OPERATION_EXECUTED,
        600,
        outcome=Outcome.SUCCESS,
        operation="scale_beyond_limits",
        links={"approval": "apv-20260210-151000-dddddd", "operation": "op-1"},
        details={"request": {"origin": origin, "current_replicas": 2, "target_replicas": 0}},
    )
    after = stages.hold_approved_replicas(given, start(given, (executed,)))
    assert (after.plan is not None) == held
    if after.plan is not None:  # settled on the held decision, with no step
        assert after.plan.decision is not None
        decision = after.plan.decision
        assert decision.reason == "held_by_approval"
        assert (decision.action, decision.rule) == (Action.NONE, DecisionRule.APPROVAL)
        assert (decision.current_replicas, decision.target_replicas) == (0, 0)
        assert decision.desired_replicas == 0 and decision.service == "web"
        assert decision.references == ("governance.agent_authority.requires_approval",)
        assert "apv-20260210-151000-dddddd" in decision.rationale
        assert not after.plan.steps


@pytest.mark.parametrize(
    ("authorized_by", "reference"),
    [
        (None, "apv-20260210-151000-dddddd"),
        ({"reference": "reconciler/web/scale-to-zero"}, "reconciler/web/scale-to-zero"),
        ({"merged_by": "alice"}, "apv-20260210-151000-dddddd"),
    ],
    ids=["no-authorization-recorded", "authorization-recorded", "authorization-without-reference"],
)
def test_the_held_decision_is_the_services_own_at_this_moment(
    authorized_by: dict[str, object] | None, reference: str
) -> None:
    """The held decision is dated and identified like any other (its id over this history, so
    the same cycle run again finds the same record), measures W from the metrics, and cites
    where the approval was granted: the reference recorded with the change, else its id."""
    read_from = Provenance(commit="0123abcd", blobs={"blueprints/web/blueprint.yaml": "9f8e"})
    bp = replace(blueprint(), provenance=read_from)
    given = replace(inputs(bp, state(0), HOT), now=NOW.astimezone(timezone(timedelta(hours=2))))
    executed = _record(
        EventType.OPERATION_EXECUTED,
        600,
        outcome=Outcome.SUCCESS,
        operation="scale_beyond_limits",
        links={"approval": "apv-20260210-151000-dddddd", "operation": "op-1"},
        details={
            "request": {"origin": "approval", "current_replicas": 2, "target_replicas": 0},
            "authorized_by": authorized_by,
        },
    )
    history = start(given, (executed,)).history
    decision = stages.held_by_approval(given, history)
    assert decision is not None
    assert decision.id == make_id("dec", NOW, "web", "held", 0, history.fingerprint)
    assert decision.id != make_id("dec", NOW, "web", "held", 0, start(given).history.fingerprint)
    assert (decision.blueprint_version, decision.provenance) == ("1.0.0", read_from)
    assert (decision.at, decision.at.tzinfo) == (NOW, UTC)  # the local time given, in UTC
    assert decision.weighted is not None and decision.weighted.value == pytest.approx(0.925)
    assert [c.value for c in decision.weighted.components] == [0.95, 0.90, 180]
    assert decision.rationale == (
        f"Replicas are held at 0, as approved in {reference}; the engine resumes after the "
        "next change to the deployment (for example a request to scale back)."
    )


def _executed_scale(load: Metrics) -> tuple[Record, ...]:
    """The records of the engine's 2→3 at NOW, carried out: decision, verdict, executed."""
    given = inputs(load=HOT)
    plan = stages.decide_and_govern(given, start(given)).plan
    assert plan is not None
    (step,) = plan.steps
    assert step.change is not None
    applied = Applied(
        started_at=NOW,
        completed_at=NOW,
        message="scaled",
        before={"replicas": 2},
        after={"replicas": 3},
    )
    executed = executed_record(
        step.request,
        step.verdict,
        given.blueprint,
        step.chain,
        step.change,
        applied,
        verification_due=NOW + timedelta(seconds=60),
        context=step.context,
    )
    return (*step.records, executed)


@pytest.mark.parametrize(
    ("later", "load", "kind", "waits"),
    [
        (30, HOT, None, True),
        (90, metrics(0.62, 0.60, 150), NoteKind.VERIFIED, False),
    ],
    ids=["not-due-yet", "verified"],
)
def test_verify_due_changes(later: int, load: Metrics, kind: NoteKind | None, waits: bool) -> None:
    records = _executed_scale(HOT)
    given = replace(inputs(observed=state(3), load=load), now=NOW + timedelta(seconds=later))
    after = stages.verify_due_changes(given, start(given, records))
    assert after.plan is None
    assert [n.kind for n in after.notes] == ([kind] if kind else [])
    assert (after.waiting is not None) == waits
    if kind is not None:  # the verification is in the history the later stages see
        assert after.history.records[-1].links["operation"] == records[-1].id


def test_roll_back_failed_changes_passes_on_when_nothing_failed() -> None:
    given = replace(inputs(observed=state(3)), now=NOW + timedelta(seconds=90))
    verified = stages.verify_due_changes(given, start(given, _executed_scale(HOT)))
    assert [n.kind for n in verified.notes] == [NoteKind.VERIFIED]
    assert stages.roll_back_failed_changes(given, verified) == verified


def test_a_paused_decision_has_an_id_of_its_own() -> None:
    """Not the id of the decision the engine would have made: that one may be made and
    recorded once the pause ends. The id is the service's paused decision at this moment over
    this history, so running the cycle again finds the same record."""
    bp = blueprint()
    given = inputs(bp, state(2, paused="maintenance"), HOT)
    progress = start(given)
    after = stages.stop_while_paused(given, progress)
    assert after.plan is not None and after.plan.decision is not None
    unpaused = stages.decide_and_govern(inputs(bp, state(2), HOT), start(given)).plan
    assert unpaused is not None and unpaused.decision is not None
    paused_id = after.plan.decision.id
    assert paused_id != unpaused.decision.id
    # Over the history with the pause recorded in it.
    assert paused_id == make_id("dec", NOW, "web", "paused", after.history.fingerprint)


def test_a_change_that_failed_its_verification_is_rolled_back_before_anything_new() -> None:
    """2 -> 3 with one pod of three ready when the check is due: the change failed, and the
    cycle settles on undoing it (the reconciler's own change, allowed without a person)."""
    records = _executed_scale(HOT)
    given = replace(inputs(observed=state(3, ready=1), load=HOT), now=NOW + timedelta(seconds=400))
    verified = stages.verify_due_changes(given, start(given, records))
    assert [n.kind for n in verified.notes] == [NoteKind.VERIFICATION_FAILED]
    after = stages.roll_back_failed_changes(given, verified)
    assert after.plan is not None and after.plan.decision is None
    (step,) = after.plan.steps
    request = step.request
    assert (request.operation, request.origin) == ("rollback_own_change", Origin.ROLLBACK)
    assert (request.current_replicas, request.target_replicas) == (3, 2)
    assert request.reverts == records[-1].id
    assert step.verdict.action is VerdictAction.EXECUTE
    assert [n.kind for n in after.plan.notes] == [NoteKind.VERIFICATION_FAILED]


_ROLLBACK_NEEDS_APPROVAL = (
    "governance:\n  agent_authority:\n    requires_approval:\n"
    "      - operation: rollback_own_change\n"
)


@pytest.mark.parametrize(
    ("authorization", "carried_out"),
    [
        (None, False),
        (_authorization(Kind.REQUEST, 2, "rollback_own_change"), True),
        (_authorization(Kind.REQUEST, 1, "rollback_own_change"), False),
        (_authorization(Kind.REQUEST, 2, "scale_within_limits"), False),
    ],
    ids=["not-approved", "approved", "approved-to-other-replicas", "another-operation"],
)
def test_an_approved_rollback_is_carried_out_as_the_very_rollback_proposed(
    authorization: Authorization | None, carried_out: bool
) -> None:
    """A rollback that needs a person is proposed; the merge that grants exactly it (same
    operation, same replicas) has it carried out, the approval leading its chain and
    credited on the change, with the history and notes of the cycle so far."""
    bp = blueprint(governance=_ROLLBACK_NEEDS_APPROVAL)
    proposing = replace(inputs(bp, state(3, ready=1), HOT), now=NOW + timedelta(seconds=400))
    verified = stages.verify_due_changes(proposing, start(proposing, _executed_scale(HOT)))
    assert [n.kind for n in verified.notes] == [NoteKind.VERIFICATION_FAILED]
    proposed = stages.roll_back_failed_changes(proposing, verified).plan
    assert proposed is not None
    (proposal,) = proposed.steps
    assert proposal.verdict.action is VerdictAction.REQUEST_APPROVAL
    given = replace(proposing, authorizations=(authorization,) if authorization else ())
    after = stages.roll_back_failed_changes(given, verified)
    assert (after.history, after.notes) == (verified.history, verified.notes)
    assert after.plan is not None and after.plan.decision is None
    assert after.plan.notes == verified.notes
    (step,) = after.plan.steps
    assert step.request == proposal.request  # the very rollback, not a new request
    request = step.request
    assert (request.operation, request.origin) == ("rollback_own_change", Origin.ROLLBACK)
    assert (request.current_replicas, request.target_replicas) == (3, 2)
    if not carried_out:
        assert step == proposal
        return
    assert authorization is not None
    assert step.verdict.action is VerdictAction.EXECUTE
    assert step.approved_by == "reconciler/web/scale, merged by alice at 2026-02-10 15:20:00Z"
    assert (step.chain.decision, step.chain.approval) == (
        "apv-20260210-152000-bbbbbb",
        "apv-20260210-152000-bbbbbb",
    )
    assert (step.chain.governance, step.chain.operation) == (
        proposal.chain.governance,
        proposal.chain.operation,
    )
    assert [(r.event_type, r.links.get("approval")) for r in step.records] == [
        (EventType.GOVERNANCE_CHECKED, "apv-20260210-152000-bbbbbb")
    ]
    assert step.context["authorized_by"] == authorization.to_json()
    assert step.context["baseline"] == proposal.context["baseline"]
    assert step.change is not None
    assert dict(step.change.stamp.authorized_by) == {
        "reference": "reconciler/web/scale",
        "merged_by": "alice",
    }
    assert step.change.stamp.reverts == request.reverts


_BLOCKED_ROLLBACK = _record(
    EventType.OPERATION_BLOCKED,
    -340,  # a minute before the cycle below, at NOW + 400 s
    outcome=Outcome.BLOCKED,
    operation="rollback_own_change",
    details={
        "request": {
            "operation": "rollback_own_change",
            "origin": "rollback",
            "current_replicas": 3,
            "target_replicas": 2,
        }
    },
)


@pytest.mark.parametrize(
    ("earlier", "repeated"),
    [((), False), ((_BLOCKED_ROLLBACK,), True)],
    ids=["first-block", "blocked-a-minute-ago"],
)
def test_an_approved_rollback_the_policy_now_forbids_is_blocked_once(
    earlier: tuple[Record, ...], repeated: bool
) -> None:
    """Nothing approves a forbidden operation: a rollback approved before the policy forbade
    it is blocked, the approval still leading its chain, and a block of the same rollback
    already in the history is not told again as new."""
    bp = blueprint(
        governance="governance:\n  agent_authority:\n    forbidden_operations:\n"
        "      - operation: rollback_own_change\n"
    )
    authorization = _authorization(Kind.REQUEST, 2, "rollback_own_change")
    given = replace(
        inputs(bp, state(3, ready=1), HOT),
        now=NOW + timedelta(seconds=400),
        authorizations=(authorization,),
    )
    verified = stages.verify_due_changes(given, start(given, (*_executed_scale(HOT), *earlier)))
    assert [n.kind for n in verified.notes] == [NoteKind.VERIFICATION_FAILED]
    after = stages.roll_back_failed_changes(given, verified)
    assert after.plan is not None
    (step,) = after.plan.steps
    assert (step.request.operation, step.request.target_replicas) == ("rollback_own_change", 2)
    assert (step.verdict.action, step.change) == (VerdictAction.BLOCK, None)
    assert step.chain.approval == "apv-20260210-152000-bbbbbb"
    assert [r.event_type for r in step.records] == [
        EventType.GOVERNANCE_CHECKED,
        EventType.OPERATION_BLOCKED,
    ]
    assert step.repeated is repeated


def test_a_failed_change_nobody_may_roll_back_is_escalated_and_the_cycle_goes_on() -> None:
    """With rollback_on_failure false, the failed change goes to a person: the escalation
    and the breaker it opens are noted and folded into the history the later stages read,
    and nothing is undone, so the cycle is not settled here."""
    bp = blueprint(extra="  reliability:\n    rollback_on_failure: false\n")
    given = replace(inputs(bp, state(3, ready=1), HOT), now=NOW + timedelta(seconds=400))
    verified = stages.verify_due_changes(given, start(given, _executed_scale(HOT)))
    assert [n.kind for n in verified.notes] == [NoteKind.VERIFICATION_FAILED]
    after = stages.roll_back_failed_changes(given, verified)
    assert after.plan is None
    assert [n.kind for n in after.notes] == [NoteKind.VERIFICATION_FAILED, NoteKind.ESCALATED]
    (escalated,) = after.notes[1:]
    added = after.history.records[len(verified.history.records) :]
    assert added == escalated.records
    assert [r.event_type for r in added] == [EventType.ESCALATED, EventType.BREAKER_OPENED]
    assert after.history.breaker.phase == "open"


def _after_failed_verification() -> tuple[Record, ...]:
    """The engine's 2→3, failed at its verification (one pod of three ready): 3 is a
    target to avoid for a while."""
    later = replace(inputs(observed=state(3, ready=1), load=HOT), now=NOW + timedelta(seconds=400))
    verified = stages.verify_due_changes(later, start(later, _executed_scale(HOT)))
    assert [n.kind for n in verified.notes] == [NoteKind.VERIFICATION_FAILED]
    return verified.history.records


_BEHAVIOR = "    behavior:\n      scaleUp:\n        policies: [{type: Pods, value: 1, periodSeconds: 600}]\n"


@pytest.mark.parametrize(
    ("bp", "observed", "load", "later", "options", "records", "reason"),
    [
        pytest.param(
            blueprint(), 2, metrics(0.95, 0.90, 180, observed_at=NOW + timedelta(seconds=400)),
            400, {}, _after_failed_verification(),
            DecisionReason.RECENTLY_FAILED, id="a-target-that-failed-recently",
        ),
        pytest.param(
            blueprint(), 2, metrics(0.95, 0.90, 180, observed_at=NOW - timedelta(seconds=90)),
            0, {"max_metrics_age": 60.0}, (), DecisionReason.METRICS_STALE,
            id="metrics-older-than-the-configured-age",
        ),
        pytest.param(
            blueprint(_BEHAVIOR), 3, HOT, 0, {}, _executed_scale(HOT),
            DecisionReason.RATE_LIMITED, id="a-rate-policy-the-trail-used-up",
        ),
        pytest.param(
            blueprint(), 3, metrics(0.10, 0.10, 50), 0, {}, (), DecisionReason.STABILIZING,
            id="a-scale-down-that-needs-the-history",
        ),
    ],
)  # fmt: skip
def test_a_paused_decision_reports_what_the_engine_would_decide_from_the_same_trail(
    bp: Blueprint,
    observed: int,
    load: Metrics,
    later: int,
    options: dict[str, object],
    records: tuple[Record, ...],
    reason: DecisionReason,
) -> None:
    """Paused, the engine still decides over the trail as it is (the targets to avoid, the
    rate policies' room, the metrics' age limit) and reports that, acting on nothing and
    asking for no history."""
    now = NOW + timedelta(seconds=later)
    running = replace(inputs(bp, state(observed), load, **options), now=now)
    paused = replace(running, state=state(observed, paused="maintenance"))
    would = stages.decide_and_govern(running, start(running, records)).plan
    after = stages.stop_while_paused(paused, start(paused, records))
    assert would is not None and would.decision is not None
    assert after.plan is not None and after.plan.decision is not None
    engine, reported = would.decision, after.plan.decision
    assert engine.reason is reason and engine.needs_window is (reason is DecisionReason.STABILIZING)
    assert (reported.action, reported.reason, reported.target_replicas) == (
        Action.NONE,
        DecisionReason.PAUSED,
        observed,
    )
    assert (reported.needs_window, after.plan.needs_window, after.plan.steps) == (False, False, ())
    assert (reported.estimate, reported.references, reported.guards) == (
        engine.estimate,
        engine.references,
        engine.guards,
    )
    assert reported.rationale.endswith(f"would decide: {engine.rationale}")
