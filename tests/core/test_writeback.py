"""Acting through git, as tables over the pure core: which changes go to git, what a commit
expects to find, and when a change made through git is due for verification."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from reconciler.core.blueprint.model import Blueprint
from reconciler.core.decide.governance import VerdictAction
from reconciler.core.decide.verification import pending_verifications
from reconciler.core.errors import BlueprintError
from reconciler.core.gitops.rollout import RolloutPhase, await_rollout
from reconciler.core.gitops.writeback import (
    ManifestConflict,
    edit_for,
    own_stamp,
    rewrite,
    writes_back,
)
from reconciler.core.observed.changes import Change, ChangeKind
from reconciler.core.observed.observation import ChangeStamp, Target
from reconciler.core.planning.cycle import plan_cycle
from reconciler.core.trail.history import fold_history
from reconciler.core.trail.records import EventType, Outcome, Record
from tests.core.helpers import NOW, blueprint, metrics, state

LOCATED = "  manifests:\n    format: plain\n    path: deploy/web.yaml\n    sync_timeout: 5m\n"
MANIFEST = b"kind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 2\n"


def writing_back() -> Blueprint:
    return blueprint(scaling="    coexistence: write_back\n", extra=LOCATED)


def change(kind: ChangeKind = ChangeKind.SCALE, **values: Any) -> Change:
    stamp = ChangeStamp(
        operation_id="op-1", decision_id="dec-1", operation="scale", service="web", at=NOW,
        summary="scale 2→3",
    )  # fmt: skip
    target = Target(namespace="todo-app", name="web")
    return Change(target=target, kind=kind, stamp=stamp, **values)


def test_write_back_needs_to_know_where_the_manifests_are() -> None:
    with pytest.raises(BlueprintError) as caught:
        blueprint(scaling="    coexistence: write_back\n")
    (problem,) = caught.value.problems
    assert problem.path == "spec.scaling.coexistence"
    assert "spec.manifests does not say where they are" in problem.message


@pytest.mark.parametrize(
    ("kind", "values", "hpa", "expected"),
    [
        (ChangeKind.SCALE, {"replicas": 3}, None, True),
        (ChangeKind.RESOURCES, {"cpu_request": 300}, None, True),
        (ChangeKind.RESTART, {}, None, False),
        (ChangeKind.ROLLBACK, {}, None, False),
        (ChangeKind.SCALE, {"replicas": 3}, "web-hpa", False),
    ],
)
def test_which_changes_go_to_git(
    kind: ChangeKind, values: dict[str, int], hpa: str | None, expected: bool
) -> None:
    assert writes_back(writing_back(), change(kind, hpa=hpa, **values)) is expected
    assert writes_back(blueprint(), change(kind, hpa=hpa, **values)) is False


@pytest.mark.parametrize(
    ("controllers", "action"),
    [
        ((), VerdictAction.EXECUTE),
        (("argocd/shop-web",), VerdictAction.EXECUTE),
        (("flux/apps",), VerdictAction.EXECUTE),
        (("hpa/web-hpa",), VerdictAction.BLOCK),
        (("hpa/web-hpa", "argocd/shop-web"), VerdictAction.BLOCK),
    ],
)
def test_write_back_scales_what_argo_cd_or_flux_apply(
    controllers: tuple[str, ...], action: VerdictAction
) -> None:
    bp = writing_back()
    history = fold_history(bp.name, (), bp.policy.safety.circuit_breaker, NOW)
    plan = plan_cycle(bp, state(2, controllers=controllers), metrics(0.95, 0.9, 180), history, NOW)
    (step,) = plan.steps
    assert step.verdict.action is action, step.verdict.reasons
    if action is VerdictAction.EXECUTE:
        assert step.change is not None and step.change.replicas == 3


def test_a_refusal_for_gitops_marks_suggests_write_back() -> None:
    bp = blueprint()
    history = fold_history(bp.name, (), bp.policy.safety.circuit_breaker, NOW)
    observed = state(2, controllers=("argocd/shop-web",))
    (step,) = plan_cycle(bp, observed, metrics(0.95, 0.9, 180), history, NOW).steps
    assert "set spec.scaling.coexistence: write_back" in step.verdict.summary


def test_the_commit_carries_the_change_s_stamp_and_only_its_own_is_read_back() -> None:
    bp = writing_back()
    made = change(replicas=3)
    # A reason with a line break and a bidirectional override cannot break the trailer.
    made = replace(
        made, stamp=replace(made.stamp, why="Reconciler-Service: db\n\nReconciler-Stamp: {} \u202e")
    )
    message = edit_for(made, bp, state(replicas=2)).message().render()
    stamp = own_stamp(message, "web")
    assert stamp == made.stamp
    # Another service's commit, a person's commit, a stamp naming another operation: not ours.
    assert own_stamp(message, "db") is None
    assert own_stamp("web: 4 replicas for the sale\n", "web") is None
    forged = message.replace("Reconciler-Operation: op-1", "Reconciler-Operation: op-2")
    assert own_stamp(forged, "web") is None
    assert own_stamp(message.replace('"operation_id":"op-1"', '"operation_id":'), "web") is None


def test_the_commit_expects_what_the_cluster_runs() -> None:
    bp = writing_back()
    edit = edit_for(change(replicas=3), bp, state(2))
    assert (edit.expect_replicas, edit.replicas) == (2, 3)
    assert rewrite(edit, {"deploy/web.yaml": MANIFEST}) == {
        "deploy/web.yaml": MANIFEST.replace(b"replicas: 2", b"replicas: 3")
    }
    # The cluster still runs 2, but someone wrote 5 in git: not overwritten.
    with pytest.raises(ManifestConflict, match=r"deploy/web\.yaml:4 is 5, not 2"):
        rewrite(edit, {"deploy/web.yaml": MANIFEST.replace(b"replicas: 2", b"replicas: 5")})


# ---------------------------------------------------------------------------------------------
# Waiting for the tool


def executed(bp: Blueprint) -> Record:
    """A scale 2→3 committed at NOW, as the shell records it."""
    return Record(
        id="op-1",
        timestamp=NOW,
        event_type=EventType.OPERATION_EXECUTED,
        service=bp.name,
        blueprint_version=bp.version,
        outcome=Outcome.SUCCESS,
        rationale="committed",
        operation="scale_within_limits",
        links={"operation": "op-1", "decision": "dec-1", "commit": "c0ffee"},
        details={
            "request": {"current_replicas": 2, "target_replicas": 3},
            "verification_due": NOW + timedelta(seconds=60),
            "write_back": {
                "commit": "c0ffee" * 6 + "c0ff",
                "files": ["deploy/web.yaml"],
                "after": {"replicas": 3},
                "sync_deadline": NOW + timedelta(minutes=5),
            },
        },
    )


@pytest.mark.parametrize(
    ("seconds", "replicas", "ready", "generations", "phase", "event", "due_after"),
    [
        pytest.param(30, 2, 2, (1, 1), RolloutPhase.WAITING, None, None, id="not-synced"),
        pytest.param(60, 3, 2, (2, 2), RolloutPhase.WAITING, None, None, id="pods-starting"),
        pytest.param(
            60, 3, 3, (3, 2), RolloutPhase.WAITING, None, None, id="controller-behind"
        ),
        pytest.param(
            90, 3, 3, (2, 2), RolloutPhase.ROLLED_OUT, EventType.ROLLED_OUT, 60, id="rolled-out"
        ),
        pytest.param(
            301, 3, 2, (2, 2), RolloutPhase.ROLLED_OUT, EventType.ROLLED_OUT, 0,
            id="ran-but-not-ready-by-the-deadline-is-verified-now",
        ),
        pytest.param(
            301, 2, 2, (1, 1), RolloutPhase.WAITING, EventType.ESCALATED, None,
            id="not-synced-by-the-deadline-is-escalated",
        ),
    ],
)  # fmt: skip
def test_await_rollout(
    seconds: int,
    replicas: int,
    ready: int,
    generations: tuple[int, int],
    phase: RolloutPhase,
    event: EventType | None,
    due_after: int | None,
) -> None:
    bp = writing_back()
    record = executed(bp)
    history = fold_history(bp.name, (record,), bp.policy.safety.circuit_breaker, NOW)
    (pending,) = pending_verifications(history, bp)
    now = NOW + timedelta(seconds=seconds)
    observed = state(replicas, ready, generation=generations[0], observed_generation=generations[1])
    rollout = await_rollout(pending, bp, observed, history.records, now)
    assert rollout.phase is phase
    assert [r.event_type for r in rollout.records] == ([event] if event else [])
    if due_after is not None:
        assert rollout.pending.due == now + timedelta(seconds=due_after)
    if event is EventType.ESCALATED:
        (escalation,) = rollout.records
        assert escalation.details["reason"] == "not_synced"
        # Escalated once: the next look finds the escalation and only waits.
        later = await_rollout(
            pending, bp, observed, (*history.records, escalation), now + timedelta(minutes=5)
        )
        assert later.phase is RolloutPhase.WAITING and later.records == ()


def test_once_rolled_out_the_due_time_counts_from_the_rollout() -> None:
    bp = writing_back()
    record = executed(bp)
    history = fold_history(bp.name, (record,), bp.policy.safety.circuit_breaker, NOW)
    (pending,) = pending_verifications(history, bp)
    seen = await_rollout(pending, bp, state(3), history.records, NOW + timedelta(seconds=90))
    (rolled,) = seen.records
    again = await_rollout(
        pending, bp, state(3), (*history.records, rolled), NOW + timedelta(seconds=100)
    )
    assert again.records == () and again.pending.due == NOW + timedelta(seconds=150)
