"""Verification and rollback (seed demo 4), recovery, escalation and crash safety, end to end."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from reconciler.adapters.simulated import SimulatedCluster
from reconciler.core.observed.changes import Change, ChangeKind
from reconciler.core.observed.observation import ChangeStamp, Target
from tests.scenarios.conftest import SEED_CHECKS, Scenario

DEMO_4 = [
    "replicas=3",
    "rps=180",
    "capacity=100",
    "base_latency=40ms",
    "cpu_utilization=25%",
    "memory_utilization=20%",
    "base_error_rate=0.2%",
]


def events(scenario: Scenario, service: str = "todo-frontend") -> list[str]:
    return [r["event_type"] for r in scenario.records(service)]


def test_seed_demo_1_with_wait_ends_verified(scenario: Scenario) -> None:
    scenario.cli("sim", "init", "--scenario", "seed", "--history", "10m")
    result = scenario.cli("run", "--wait")
    assert "verification pass at 15:31:00Z" in result.output
    assert "--wait: nothing left to verify or roll back" in result.output
    verification = scenario.records("todo-frontend", "verification_passed")[0]
    checks = {c["check"]: c for c in verification["details"]["checks"]}
    assert set(SEED_CHECKS) <= set(checks)
    assert all(c["status"] == "passed" for c in checks.values())
    assert checks["replica_count"]["actual"] == "3" and checks["pods_ready"]["actual"] == "3"
    assert checks["cpu_utilization"]["expected"].startswith("≈56.7%")
    assert checks["latency_p95"]["baseline"] == "180ms"
    assert verification["details"]["summary"]["verification_result"] == "passed"
    assert verification["timestamp"] == "2026-02-10T15:31:00Z"
    assert events(scenario) == [
        "decision_made",
        "governance_checked",
        "operation_executed",
        "verification_passed",
    ]
    assert scenario.subjects()[0] == "todo-frontend: verified scale 2→3: 7/7 checks passed"


def test_seed_demo_4_rollback_on_failed_verification(scenario: Scenario) -> None:
    scenario.cli("sim", "init", "--history", "10m")
    scenario.cli("sim", "set", "todo-frontend", *DEMO_4)
    scenario.cli("sim", "advance", "6m")  # five minutes of low load: evidence for a scale-down
    scenario.cli("run", "--wait", "-s", "todo-frontend")
    assert events(scenario) == [
        "decision_made",
        "governance_checked",
        "operation_executed",
        "verification_failed",
        "governance_checked",
        "rollback_executed",
        "rollback_verified",
    ]
    failed = scenario.records("todo-frontend", "verification_failed")[0]
    checks = {c["check"]: c for c in failed["details"]["checks"]}
    # Over target and worse than before the change: that is what triggers the rollback.
    assert checks["latency_p95"] == {
        "check": "latency_p95",
        "severity": "critical",
        "expected": "< 200ms",
        "actual": "400ms",
        "status": "failed",
        "baseline": "100ms",
        "worse_than_baseline": True,
        "rollback_trigger": True,
        "note": "up 300ms (100ms → 400ms)",
    }
    assert checks["latency_p95"]["rollback_trigger"] and checks["error_rate"]["rollback_trigger"]
    assert checks["cpu_utilization"]["status"] == "passed"  # CPU alone never triggers a rollback
    assert failed["details"]["rollback_triggered"] is True
    rollback = scenario.records("todo-frontend", "rollback_executed")[0]
    assert rollback["operation"] == "rollback_own_change"
    assert rollback["links"]["rollback_of"] == failed["links"]["operation"]
    assert rollback["details"]["post_operation_state"]["replicas"] == 3
    restored = scenario.records("todo-frontend", "rollback_verified")[0]
    assert restored["outcome"] == "passed"
    assert scenario.subjects()[:4] == [
        "todo-frontend: rollback verified (scale 2→3): service restored",
        f"todo-frontend: rolled back (scale 2→3): undoes {failed['links']['operation']}",
        "todo-frontend: verification failed for scale 3→2: latency_p95, error_rate worse; rolling back",
        "todo-frontend: scale 3→2 (allowed): weighted 28.5% < 40%",
    ]
    # explain shows the whole chain from the decision.
    explained = scenario.cli(
        "explain", scenario.records("todo-frontend", "decision_made")[0]["id"]
    ).output
    order = [
        "decision_made",
        "governance_checked",
        "operation_executed",
        "verification_failed",
        "check latency_p95: expected < 200ms, actual 400ms → failed",
        "rollback_executed",
        "rollback_verified",
    ]
    positions = [explained.index(item) for item in order]
    assert positions == sorted(positions)
    # The failed target is remembered: no scale-down to 2 again within the hour.
    scenario.cli("sim", "advance", "6m")
    again = scenario.json("run", "-s", "todo-frontend")["services"][0]  # type: ignore[index]
    assert again["decision"]["reason"] == "recently_failed"
    assert "2 replicas failed verification at 15:37:00Z" in again["decision"]["rationale"]


def test_a_rollback_that_fails_is_retried_then_escalated(scenario: Scenario) -> None:
    scenario.cli("sim", "init", "--history", "10m")
    scenario.cli("sim", "set", "todo-frontend", *DEMO_4)
    scenario.cli("sim", "advance", "6m")
    scenario.cli("run", "-s", "todo-frontend")  # 3 → 2 executed
    scenario.cli("sim", "set", "todo-frontend", "scale_fails=true")  # the way back is broken
    scenario.cli("sim", "advance", "60s")
    result = scenario.cli("run", "--wait", "-s", "todo-frontend", "--annotations", expect=1)
    assert "--wait: nothing left to verify or roll back" in result.output
    assert len(scenario.records("todo-frontend", "rollback_failed")) == 3
    # The alert: an error on the run's page says a person must act.
    alerts = [
        line
        for line in result.output.splitlines()
        if line.startswith("::error title=todo-frontend::todo-frontend: escalated ")
    ]
    assert alerts == [
        "::error title=todo-frontend::todo-frontend: escalated scale 3→2: its rollback failed 3 "
        "times; a person must decide"
    ]
    escalated = scenario.records("todo-frontend", "escalated")[0]
    assert "failed 3 times" in escalated["rationale"]
    assert scenario.records("todo-frontend", "breaker_opened")
    assert scenario.json("breaker", "status")["services"][1]["phase"] == "open"  # type: ignore[index]
    # Nothing more is tried automatically.
    scenario.cli("sim", "advance", "60s")
    quiet = scenario.json("run", "-s", "todo-frontend")["services"][0]  # type: ignore[index]
    assert not [s for s in quiet["steps"] if s["outcome"] in {"executed", "failed"}]


def test_breaker_opens_after_repeated_failed_verifications(scenario: Scenario) -> None:
    scenario.cli("sim", "init", "--history", "10m")
    scenario.cli("sim", "set", "todo-frontend", *DEMO_4)
    codes = []
    for _ in range(3):
        scenario.cli("request", "todo-frontend", "scale", "--replicas", "2", "--by", "tester")
        scenario.cli("sim", "advance", "60s")
        # verification fails, rollback (the third time, the breaker opens: exit 1)
        codes.append(scenario.cli("run", "-s", "todo-frontend", expect=None).exit_code)
        scenario.cli("sim", "advance", "60s")
        scenario.cli("run", "-s", "todo-frontend")  # rollback verified
    assert codes == [0, 0, 1]  # the run that stops automatic changes says so
    assert len(scenario.records("todo-frontend", "verification_failed")) == 3
    opened = scenario.records("todo-frontend", "breaker_opened")[0]
    assert [f["reason"][:27] for f in opened["details"]["failures"]] == [
        "5/7 checks passed; failed: "
    ] * 3
    assert len(scenario.records("todo-frontend", "rollback_verified")) == 3  # rollbacks still ran
    refused = scenario.cli("request", "todo-frontend", "scale", "--replicas", "4", expect=1)
    assert "circuit breaker open" in refused.output


def test_a_crash_between_execute_and_verify_is_caught_up(scenario: Scenario) -> None:
    scenario.cli("sim", "init", "--scenario", "seed", "--history", "10m")
    scenario.cli("run")  # executes 2 → 3; the process ends before the verification is due
    scenario.cli("sim", "advance", "5m")
    scenario.cli("run")  # a later run, from scratch, finds and does it
    verification = scenario.records("todo-frontend", "verification_passed")[0]
    assert verification["details"]["verified_late_by_seconds"] == 240
    assert "todo-frontend: verified scale 2→3 (4m late): 7/7 checks passed" in scenario.subjects()


def test_a_crash_between_apply_and_record_is_recovered(scenario: Scenario) -> None:
    scenario.cli("sim", "init", "--scenario", "seed")
    # What a run that dies right after changing the cluster leaves behind: the change and its
    # stamp on the deployment, and no record in git.
    sim = SimulatedCluster.load(scenario.root / ".reconciler/sim-state.db")
    target = Target(namespace="todo-app", name="todo-frontend")
    stamp = ChangeStamp(
        operation_id="op-20260210-153000-dead01",
        decision_id="dec-20260210-153000-dead01",
        operation="scale_within_limits",
        service="todo-frontend",
        at=datetime(2026, 2, 10, 15, 30, tzinfo=UTC),
        summary="scale 2→3",
        before={"replicas": 2},
        after={"replicas": 3},
    )
    sim.apply(Change(target=target, kind=ChangeKind.SCALE, replicas=3, stamp=stamp))
    result = scenario.cli("run")
    assert "recorded scale 2→3 found on the deployment" in result.output
    recovered = scenario.records("todo-frontend", "operation_recovered")[0]
    assert recovered["id"] == "op-20260210-153000-dead01"
    assert scenario.subjects()[0] == "todo-frontend: recorded scale 2→3 found on the deployment"
    scenario.cli("run")  # recorded once, not again
    assert len(scenario.records("todo-frontend", "operation_recovered")) == 1
    scenario.cli("sim", "advance", "60s")
    scenario.cli("run")
    assert (
        scenario.records("todo-frontend", "verification_passed")[0]["links"]["operation"]
        == recovered["id"]
    )


def test_recovery_ladder_restart_then_rollback_then_escalate(scenario: Scenario) -> None:
    scenario.cli("sim", "init")
    scenario.cli("sim", "set", "todo-backend", "release=good")  # revision 2, so there is a previous
    scenario.cli("sim", "advance", "60s")
    # One pod crash-looping with 1 restart: restart the pods.
    scenario.cli("sim", "set", "todo-backend", "crashing_pods=1")
    scenario.cli("sim", "advance", "35s")
    first = scenario.json("run", "-s", "todo-backend")["services"][0]  # type: ignore[index]
    assert (first["decision"]["action"], first["steps"][0]["operation"]) == (
        "restart_pods",
        "restart_failed_pods",
    )
    scenario.cli("sim", "advance", "2m")
    scenario.cli("run", "-s", "todo-backend")  # the restart is verified (new pods are healthy)
    # It crashes again: 1 restart now + 1 restart of ours = 2 = rollback_threshold.
    scenario.cli("sim", "set", "todo-backend", "crashing_pods=1")
    scenario.cli("sim", "advance", "35s")
    second = scenario.json("run", "-s", "todo-backend")["services"][0]  # type: ignore[index]
    assert (second["decision"]["reason"], second["steps"][0]["outcome"]) == (
        "rollback_threshold_reached",
        "executed",
    )
    scenario.cli("sim", "advance", "3m")
    scenario.cli("run", "-s", "todo-backend")
    # Restarts beyond max_restart_count: a person decides.
    scenario.cli("sim", "set", "todo-backend", "crashing_pods=1")
    scenario.cli("sim", "advance", "95s")
    third = scenario.json("run", "-s", "todo-backend")["services"][0]  # type: ignore[index]
    assert third["decision"]["reason"] == "max_restarts_exceeded"
    assert third["steps"][0]["outcome"] == "proposed"
    assert "todo-backend: rollback_deployment (approval needed)" in third["steps"][0]["detail"]
    requested = scenario.records("todo-backend", "approval_requested")[0]
    assert requested["details"]["metadata"]["kind"] == "request"
    assert (
        "beyond max_restart_count"
        in scenario.records("todo-backend", "governance_checked")[-1]["rationale"]
    )


def test_all_pods_failing_rolls_back_at_once(scenario: Scenario) -> None:
    scenario.cli("sim", "init")
    scenario.cli("sim", "set", "todo-backend", "release=bad")
    scenario.cli("sim", "advance", "31s")
    result = scenario.json("run", "-s", "todo-backend")["services"][0]  # type: ignore[index]
    assert result["decision"]["reason"] == "widespread_failure"
    assert result["steps"][0]["outcome"] == "executed"
    scenario.cli("sim", "advance", "2m")
    scenario.cli("run", "-s", "todo-backend")
    assert scenario.records("todo-backend", "verification_passed")
    sim = scenario.json("sim", "show")
    backend = next(d for d in sim["deployments"] if d["name"] == "todo-backend")  # type: ignore[index]
    assert not any(pod["crashing"] for pod in backend["pods"])


def test_a_scale_up_overtaken_by_a_surge_is_kept(scenario: Scenario) -> None:
    """Latency and errors rose after 2→3 because requests rose too: taking the new replica
    away again would make the surge worse, so the change is kept, with the reason."""
    scenario.cli("sim", "init", "--scenario", "seed", "--history", "10m")
    scenario.cli("run", "-s", "todo-frontend")  # 2 → 3
    scenario.cli("sim", "advance", "60s")
    scenario.cli("sim", "set", "todo-frontend", "rps=600")
    scenario.cli("run", "-s", "todo-frontend")
    assert "rollback_executed" not in events(scenario)
    (kept,) = scenario.records("todo-frontend", "verification_passed")
    assert kept["outcome"] == "partial"
    checks = {c["check"]: c for c in kept["details"]["checks"]}
    for name in ("latency_p95", "error_rate"):
        assert checks[name]["status"] == "failed" and not checks[name]["rollback_trigger"]
        assert "requests grew from 170/s to 300/s" in checks[name]["note"]
    # Kept, and the surge itself asks for more: latency far past its guard scales 3 → 4.
    decision = scenario.records("todo-frontend", "decision_made")[-1]["details"]
    assert (decision["rule"], decision["current_replicas"]) == ("latency_guard", 3)
    sim = scenario.json("sim", "show")
    assert next(d for d in sim["deployments"] if d["name"] == "todo-frontend")["replicas"] == 4  # type: ignore[index]


def test_a_scale_down_is_still_rolled_back_when_the_load_grows(scenario: Scenario) -> None:
    """Only a scale-up is excused by the load: after a scale-down, less capacity and more
    load is exactly when the old replica count is needed back."""
    scenario.cli("sim", "init", "--history", "10m")
    scenario.cli("sim", "set", "todo-frontend", *DEMO_4)
    scenario.cli("sim", "advance", "6m")
    scenario.cli("run", "-s", "todo-frontend")  # 3 → 2
    scenario.cli("sim", "advance", "60s")
    scenario.cli("sim", "set", "todo-frontend", "rps=250")
    scenario.cli("run", "-s", "todo-frontend")
    assert events(scenario)[-2:] == ["governance_checked", "rollback_executed"]


def test_a_rollback_that_would_change_nothing_is_escalated(scenario: Scenario) -> None:
    """The first rollback put 3 replicas back and the service still fails (the load grew
    meanwhile): a second rollback to 3 would be a no-op, so a person is asked at once."""
    scenario.cli("sim", "init", "--history", "10m")
    scenario.cli("sim", "set", "todo-frontend", *DEMO_4)
    scenario.cli("sim", "advance", "6m")
    scenario.cli("run", "-s", "todo-frontend")  # 3 → 2
    scenario.cli("sim", "advance", "60s")
    scenario.cli("run", "-s", "todo-frontend")  # verification failed, rolled back 2 → 3
    scenario.cli("sim", "set", "todo-frontend", "rps=600")
    scenario.cli("sim", "advance", "60s")
    result = scenario.cli("run", "-s", "todo-frontend", expect=1)  # a person is needed
    assert "rollback verification failed (scale 2→3)" in result.output
    assert len(scenario.records("todo-frontend", "rollback_executed")) == 1  # no 3 → 3
    (escalated,) = scenario.records("todo-frontend", "escalated")
    assert "back as it was before" in escalated["rationale"]
    assert "undoing it again would change nothing" in escalated["rationale"]
    assert scenario.records("todo-frontend", "breaker_opened")


@pytest.mark.parametrize("gap", ["23h", "26h"], ids=["within-a-day", "beyond-the-history-window"])
def test_a_change_verified_long_after_it_was_due_is_recorded_as_not_verifiable(
    scenario: Scenario, gap: str
) -> None:
    """No run for a day: the service has had time to change for reasons of its own, so the
    old baseline says nothing about the change. It is neither forgotten nor rolled back."""
    scenario.cli("sim", "init", "--scenario", "seed", "--history", "10m")
    scenario.cli("run", "-s", "todo-frontend")  # 2 → 3
    scenario.cli("sim", "set", "todo-frontend", "latency_p95=600ms", "error_rate=4%")
    scenario.cli("sim", "advance", gap)
    scenario.cli("run", "-s", "todo-frontend", expect=None)
    (skipped,) = scenario.records("todo-frontend", "verification_skipped")
    assert "no run came until" in skipped["rationale"]
    assert "too long after the change to tell what it did" in skipped["rationale"]
    assert (
        skipped["links"]["operation"]
        == scenario.records("todo-frontend", "operation_executed")[0]["links"]["operation"]
    )
    assert "rollback_executed" not in events(scenario)


def test_a_restart_is_verified_once_its_new_pods_have_started(scenario: Scenario) -> None:
    """Restarts are due for verification after 30 s, but pods take 45 s to start: the
    verification waits for them instead of rolling back a restart that worked."""
    scenario.cli("sim", "init", "--history", "10m")
    scenario.cli("sim", "set", "todo-frontend", "crashing_pods=1", "restarts=1")
    result = scenario.cli("run", "--wait", "-s", "todo-frontend")
    assert "is verified once its starting pods are ready (at the latest 15:32:30Z)" in (
        result.output
    )
    assert events(scenario) == [
        "decision_made",
        "governance_checked",
        "operation_executed",
        "verification_passed",
    ]
    (verified,) = scenario.records("todo-frontend", "verification_passed")
    assert verified["outcome"] == "passed"
    assert verified["timestamp"] == "2026-02-10T15:30:50Z"  # 45 s start-up, looked at every 10 s


def test_pods_that_never_start_still_fail_the_change_after_the_grace(scenario: Scenario) -> None:
    scenario.cli("sim", "init", "--scenario", "seed", "--history", "10m")
    scenario.cli("sim", "set", "todo-frontend", "pods_never_ready=true")
    scenario.cli("run", "--wait", "-s", "todo-frontend", expect=None)
    (failed,) = scenario.records("todo-frontend", "verification_failed")
    assert failed["timestamp"] == "2026-02-10T15:33:00Z"  # due 15:31:00, plus the 2 min grace
    checks = {c["check"]: c for c in failed["details"]["checks"]}
    assert checks["pods_ready"]["rollback_trigger"] is True
    assert "rollback_executed" in events(scenario)
