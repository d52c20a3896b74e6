"""Seed demos 1, 3 and 5, cooldown, rate limit and breaker, end to end through the CLI."""

from __future__ import annotations

import pytest

from tests.scenarios.conftest import Scenario


def test_seed_demo_1_to_the_number(scenario: Scenario) -> None:
    scenario.cli("sim", "init", "--scenario", "seed", "--history", "10m")
    report = scenario.json("run")
    frontend = next(s for s in report["services"] if s["service"] == "todo-frontend")
    assert frontend["weighted_utilization"] == pytest.approx(0.815, abs=1e-9)
    assert frontend["decision"]["action"] == "scale_up"
    assert (frontend["decision"]["current_replicas"], frontend["decision"]["target_replicas"]) == (
        2,
        3,
    )
    assert [step["outcome"] for step in frontend["steps"]] == ["executed"]

    decision = scenario.records("todo-frontend", "decision_made")[0]
    details = decision["details"]
    assert details["weighted_utilization"] == pytest.approx(0.815, abs=1e-6)
    assert details["expected_outcome"] == {
        "replicas": 3,
        "expected_cpu_utilization": 0.57,
        "expected_memory_utilization": 0.47,
    }
    assert "spec.scaling.scale_up_threshold" in details["blueprint_references"]

    verdict = scenario.records("todo-frontend", "governance_checked")[0]
    assert verdict["classification"] == "allowed"
    assert verdict["outcome"] == "execute"
    assert verdict["rationale"].startswith("Target replicas (3) within blueprint limits (1-5)")
    seed_rule = next(
        rule
        for rule in verdict["details"]["rules"]
        if rule["reference"] == "governance.agent_authority.allowed_operations[0]"
    )
    assert seed_rule["evaluated"] == "3 >= 1 AND 3 <= 5"
    assert seed_rule["result"] is True
    assert verdict["details"]["safety_checks"]["circuit_breaker"]["ok"] is True

    operation = scenario.records("todo-frontend", "operation_executed")[0]
    assert operation["outcome"] == "success"
    assert operation["details"]["pre_operation_state"]["replicas"] == 2
    assert operation["details"]["post_operation_state"]["replicas"] == 3
    # The three records share one chain of ids.
    assert operation["links"]["decision"] == decision["id"] == verdict["links"]["decision"]

    commit = scenario.commits()[0]
    assert (
        commit.message.splitlines()[0] == "todo-frontend: scale 2→3 (allowed): weighted 81.5% > 80%"
    )
    trailers = dict(commit.message_trailers)
    assert trailers["Reconciler-Event"] == "operation_executed"
    assert trailers["Reconciler-Service"] == "todo-frontend"
    assert trailers["Reconciler-Decision"] == decision["id"]
    assert trailers["Reconciler-Classification"] == "allowed"
    assert trailers["Reconciler-Outcome"] == "success"
    assert trailers["Reconciler-Blueprint-Version"] == "1.0.0"
    assert commit.author.name == "reconciler"
    assert commit.author.time == 1770737400  # the virtual clock: 2026-02-10T15:30:00Z

    # The cluster really changed, and nothing is left uncommitted.
    sim = scenario.json("sim", "show")
    frontend_sim = next(d for d in sim["deployments"] if d["name"] == "todo-frontend")  # type: ignore[index]
    assert frontend_sim["replicas"] == 3
    assert not [p for p in scenario.repo.status() if p.startswith("audit/")]


def test_no_op_decisions_are_shown_not_committed(scenario: Scenario) -> None:
    scenario.cli("sim", "init")
    before = len(scenario.commits())
    result = scenario.cli("run")
    assert "none (within thresholds)" in result.output
    assert len(scenario.commits()) == before
    assert scenario.records() == []


def test_dry_run_changes_and_records_nothing(scenario: Scenario) -> None:
    scenario.cli("sim", "init", "--scenario", "seed")
    before = len(scenario.commits())
    result = scenario.cli("run", "--dry-run")
    assert "would execute" in result.output
    assert len(scenario.commits()) == before
    assert scenario.json("plan")["dry_run"] is True  # type: ignore[index]
    sim = scenario.json("sim", "show")
    assert next(d for d in sim["deployments"] if d["name"] == "todo-frontend")["replicas"] == 2  # type: ignore[index]


def test_seed_demo_3_forbidden_request_is_refused(scenario: Scenario) -> None:
    scenario.cli("sim", "init")
    result = scenario.cli(
        "request",
        "todo-frontend",
        "delete_deployment",
        "--reason",
        "cleanup",
        "--by",
        "alice",
        expect=1,
    )
    assert "forbidden, block → blocked" in result.output
    assert "complete outage" in result.output
    assert "scale_beyond_limits to 0 replicas [restricted]" in result.output
    assert "restart_failed_pods [allowed]" in result.output
    blocked = scenario.records("todo-frontend", "operation_blocked")[0]
    assert blocked["classification"] == "forbidden"
    assert blocked["outcome"] == "blocked"
    assert blocked["details"]["execution_prevented"] is True
    assert {a["operation"]: a["classification"] for a in blocked["details"]["alternatives"]} == {
        "scale_beyond_limits": "restricted",
        "restart_failed_pods": "allowed",
        "rollback_deployment": "allowed",
    }
    requested = scenario.records("todo-frontend", "operation_requested")[0]
    assert requested["details"]["requested_by"] == "alice"
    assert scenario.subjects()[0].startswith("todo-frontend: blocked delete_deployment (forbidden)")
    # The cluster is untouched.
    sim = scenario.json("sim", "show")
    frontend = next(d for d in sim["deployments"] if d["name"] == "todo-frontend")  # type: ignore[index]
    assert frontend["version"] == 2 and frontend["replicas"] == 2


def test_unknown_operation_is_forbidden(scenario: Scenario) -> None:
    scenario.cli("sim", "init")
    result = scenario.cli("request", "todo-backend", "reboot_the_world", expect=1)
    assert "unknown operations are forbidden" in result.output


def test_request_needing_approval_is_proposed(scenario: Scenario) -> None:
    scenario.cli("sim", "init")
    result = scenario.cli(
        "request", "todo-frontend", "scale", "--replicas", "7", "--reason", "launch"
    )
    assert "scale 2→7: restricted, request approval → proposed" in result.output
    assert "todo-frontend: scale 2→7 (approval needed)" in result.output
    pending = scenario.records("todo-frontend", "approval_requested")[0]
    assert pending["operation"] == "scale_beyond_limits"
    assert pending["details"]["metadata"]["approvers"] == ["devops-team"]
    assert pending["details"]["metadata"]["kind"] == "request"  # a one-off: a request file


def test_seed_demo_5_services_are_independent(scenario: Scenario) -> None:
    scenario.write_blueprint("broken-svc", "metadata:\n  name: broken-svc\n  version: 1\n")
    scenario.cli("sim", "init", "--scenario", "seed")
    report = scenario.json("run", expect=1)  # the broken blueprint makes the run report failure
    by_name = {s["service"]: s for s in report["services"]}  # type: ignore[index]
    assert by_name["todo-frontend"]["steps"][0]["outcome"] == "executed"
    assert by_name["todo-backend"]["decision"]["action"] == "no_action"
    assert by_name["todo-backend"]["steps"] == []
    # The hint runs as printed from anywhere: with --repo, since the repository is elsewhere.
    assert by_name["broken-svc"]["error"] == (
        "blueprint does not validate: run "
        f"`reconciler --repo {scenario.root} validate blueprints/broken-svc/blueprint.yaml`"
    )
    # Each service has its own pace: the backend acts at once while the frontend's change
    # still waits for its verification (due 60 s after it was made).
    scenario.cli("sim", "advance", "50s")
    scenario.cli("sim", "set", "todo-backend", "cpu_utilization=95%", "memory_utilization=95%")
    scenario.cli("sim", "set", "todo-frontend", "cpu_utilization=99%", "memory_utilization=99%")
    again = {s["service"]: s for s in scenario.json("run", expect=1)["services"]}  # type: ignore[index]
    assert again["todo-backend"]["steps"][0]["outcome"] == "executed"
    assert again["todo-frontend"]["steps"] == []
    assert "is verified at 15:31:00Z" in again["todo-frontend"]["waiting"]


def test_seed_demo_5_breakers_are_independent(scenario: Scenario) -> None:
    scenario.cli("sim", "init", "--scenario", "seed")
    scenario.cli("sim", "set", "todo-frontend", "scale_fails=true")
    for _ in range(3):
        report = scenario.json("run", expect=1)
        by_name = {s["service"]: s for s in report["services"]}  # type: ignore[index]
        assert by_name["todo-frontend"]["steps"][0]["outcome"] == "failed"
        assert by_name["todo-backend"]["steps"] == []
        scenario.cli("sim", "advance", "60s")
    status = {s["service"]: s for s in scenario.json("breaker", "status")["services"]}  # type: ignore[index]
    assert status["todo-frontend"]["phase"] == "open"
    assert status["todo-backend"]["phase"] == "closed"
    # The backend's load rises: it scales while the frontend stays stopped by its breaker.
    scenario.cli("sim", "set", "todo-backend", "cpu_utilization=95%", "memory_utilization=95%")
    by_name = {s["service"]: s for s in scenario.json("run")["services"]}  # type: ignore[index]
    assert by_name["todo-frontend"]["steps"][0]["outcome"] == "blocked"
    assert "circuit breaker open" in by_name["todo-frontend"]["steps"][0]["detail"]
    backend = by_name["todo-backend"]
    assert (backend["decision"]["current_replicas"], backend["decision"]["target_replicas"]) == (
        2,
        3,
    )
    assert backend["steps"][0]["outcome"] == "executed"
    status = {s["service"]: s for s in scenario.json("breaker", "status")["services"]}  # type: ignore[index]
    assert status["todo-frontend"]["phase"] == "open"
    assert status["todo-backend"]["phase"] == "closed"
    assert status["todo-backend"]["failures"] == []
    assert scenario.records("todo-backend", "breaker_opened") == []


def test_cooldown_defers_until_it_has_elapsed(scenario: Scenario) -> None:
    scenario.cli("sim", "init")
    scenario.cli("request", "todo-frontend", "scale", "--replicas", "3")
    deferred = scenario.cli("request", "todo-frontend", "scale", "--replicas", "4", expect=1)
    assert "deferred" in deferred.output
    assert "last change 0s ago, cooldown 1m (1m left)" in deferred.output
    record = scenario.records("todo-frontend", "operation_deferred")[0]
    assert record["details"]["retry_at"] == "2026-02-10T15:31:00Z"
    scenario.cli("sim", "advance", "59s")
    scenario.cli("request", "todo-frontend", "scale", "--replicas", "4", expect=1)
    scenario.cli("sim", "advance", "1s")  # exactly the cooldown: allowed (elapsed >= cooldown)
    assert (
        "→ executed" in scenario.cli("request", "todo-frontend", "scale", "--replicas", "4").output
    )


def test_hourly_rate_limit(scenario: Scenario) -> None:
    scenario.cli("sim", "init")
    for index in range(10):
        replicas = "3" if index % 2 == 0 else "2"
        scenario.cli("request", "todo-frontend", "scale", "--replicas", replicas)
        scenario.cli("sim", "advance", "61s")
    result = scenario.cli("request", "todo-frontend", "scale", "--replicas", "4", expect=1)
    assert "10/10 changes in the last 1h" in result.output
    deferred = scenario.records("todo-frontend", "operation_deferred")[-1]
    assert deferred["details"]["retry_at"] == "2026-02-10T16:30:00Z"
    # A sliding window: once the first change is an hour old, there is room again.
    scenario.cli("sim", "advance", "50m")
    assert (
        "→ executed" in scenario.cli("request", "todo-frontend", "scale", "--replicas", "4").output
    )


def test_daily_rate_limit(scenario: Scenario) -> None:
    # A day's limit of 6 (an override of the global 50, so the day fits in a few commands).
    frontend = (scenario.root / "blueprints/todo-frontend/blueprint.yaml").read_text()
    scenario.write_blueprint(
        "todo-frontend",
        frontend.replace(
            "governance:\n",
            "governance:\n  safety:\n    rate_limits:\n      max_operations_per_day: 6\n",
        ),
    )
    scenario.cli("sim", "init")
    # Six changes 3.5 hours apart, over midnight: one an hour at most (the limit is 10).
    for index in range(6):
        replicas = "3" if index % 2 == 0 else "2"
        scenario.cli("request", "todo-frontend", "scale", "--replicas", replicas)
        scenario.cli("sim", "advance", "3h30m")
    assert scenario.cli("sim", "show").output.startswith("clock 2026-02-11 12:30:00Z")
    result = scenario.cli("request", "todo-frontend", "scale", "--replicas", "4", expect=1)
    assert "allowed, defer → deferred" in result.output
    assert "6/6 changes in the last 1d" in result.output
    deferred = scenario.records("todo-frontend", "operation_deferred")[-1]
    assert deferred["rationale"].endswith(". 6/6 changes in the last 1d")
    safety = scenario.records("todo-frontend", "governance_checked")[-1]["details"]["safety_checks"]
    # Room again when the first change (15:30 the day before) is a day old.
    assert safety["rate_limit_daily"] == {
        "ok": False,
        "detail": "6/6 changes in the last 1d",
        "retry_at": "2026-02-11T15:30:00Z",
    }
    assert [name for name, check in safety.items() if not check["ok"]] == ["rate_limit_daily"]
    assert deferred["details"]["retry_at"] == "2026-02-11T15:30:00Z"
    scenario.cli("sim", "advance", "2h59m")
    scenario.cli("request", "todo-frontend", "scale", "--replicas", "4", expect=1)
    scenario.cli("sim", "advance", "1m")
    assert (
        "→ executed" in scenario.cli("request", "todo-frontend", "scale", "--replicas", "4").output
    )


def test_breaker_opens_after_three_failures_and_needs_a_recorded_reset(scenario: Scenario) -> None:
    scenario.cli("sim", "init", "--scenario", "seed")
    scenario.cli("sim", "set", "todo-frontend", "scale_fails=true")
    for _ in range(3):
        outcome = scenario.json("run", "-s", "todo-frontend", expect=1)
        assert outcome["services"][0]["steps"][0]["outcome"] == "failed"  # type: ignore[index]
        scenario.cli("sim", "advance", "60s")
    assert scenario.subjects()[0] == "todo-frontend: circuit breaker opened after 3 failures"
    opened = scenario.records("todo-frontend", "breaker_opened")[0]
    assert len(opened["details"]["failures"]) == 3

    scenario.cli("sim", "set", "todo-frontend", "scale_fails=false")
    blocked = scenario.json("run", "-s", "todo-frontend")["services"][0]["steps"][0]  # type: ignore[index]
    assert blocked["outcome"] == "blocked"
    assert "circuit breaker open" in blocked["detail"]
    # Identical refusals are not recorded again within the hour.
    scenario.cli("sim", "advance", "60s")
    repeat = scenario.json("run", "-s", "todo-frontend")["services"][0]["steps"][0]  # type: ignore[index]
    assert repeat["outcome"] == "blocked (already recorded)"
    assert len(scenario.records("todo-frontend", "operation_blocked")) == 1

    reset = scenario.cli(
        "breaker", "reset", "todo-frontend", "--reason", "quota raised", "--by", "alice"
    )
    assert "circuit breaker reset by alice" in reset.output
    assert scenario.subjects()[0] == "todo-frontend: circuit breaker reset by alice: quota raised"
    after = scenario.json("run", "-s", "todo-frontend")["services"][0]["steps"][0]  # type: ignore[index]
    assert after["outcome"] == "executed"


def test_breaker_counts_only_failures_within_the_window(scenario: Scenario) -> None:
    scenario.cli("sim", "init", "--scenario", "seed")
    scenario.cli("sim", "set", "todo-frontend", "scale_fails=true")
    for _ in range(3):
        scenario.cli("run", "-s", "todo-frontend", expect=1)
        scenario.cli("sim", "advance", "3m")  # 3 failures spread over 6 minutes
    assert scenario.records("todo-frontend", "breaker_opened") == []
    assert scenario.json("breaker", "status")["services"][1]["phase"] == "closed"  # type: ignore[index]


def test_status_and_explain(scenario: Scenario) -> None:
    scenario.cli("sim", "init", "--scenario", "seed", "--history", "10m")
    scenario.cli("run")
    # Twenty seconds on: a pending proposal for the frontend, a failure for the backend.
    scenario.cli("sim", "advance", "20s")
    scenario.cli("request", "todo-frontend", "scale", "--replicas", "7")
    scenario.cli("sim", "set", "todo-backend", "scale_fails=true")
    scenario.cli("request", "todo-backend", "scale", "--replicas", "3", expect=1)
    status = scenario.cli("status").output.splitlines()
    assert [line.split("  ")[0] for line in status] == ["SERVICE", "todo-backend", "todo-frontend"]
    columns = {
        line.split()[0]: [c.strip() for c in line.split("  ") if c.strip()] for line in status
    }
    assert columns["SERVICE"] == [
        "SERVICE",
        "READY",
        "WEIGHTED",
        "LAST CHANGE",
        "COOLDOWN",
        "BREAKER",
        "PENDING",
    ]
    # The frontend's pods are still starting; its cooldown has 40 s of its minute left.
    assert columns["todo-frontend"] == [
        "todo-frontend",
        "2/3",
        "81.5%",
        "scale_within_limits at 02-10 15:30Z",
        "40s",
        "closed (0/3 failures)",
        "1",
    ]
    # A failed change is no change: no cooldown, but it counts towards the breaker.
    assert columns["todo-backend"] == [
        "todo-backend",
        "2/2",
        "51.3%",
        "-",
        "-",
        "closed (1/3 failures)",
        "-",
    ]
    pending = scenario.records("todo-frontend", "approval_requested")[0]["id"]
    rows = {row["service"]: row for row in scenario.json("status")["services"]}  # type: ignore[index]
    assert rows["todo-frontend"]["cooldown_left_seconds"] == 40
    assert rows["todo-frontend"]["pending_approvals"] == [pending]
    assert (rows["todo-backend"]["breaker"], rows["todo-backend"]["breaker_failures"]) == (
        "closed",
        1,
    )
    decision = scenario.records("todo-frontend", "decision_made")[0]["id"]
    explained = scenario.cli("explain", decision).output
    for line in (
        "decision_made",
        "governance_checked",
        "operation_executed",
        "3 >= 1 AND 3 <= 5 → True",
    ):
        assert line in explained
    missing = scenario.cli("explain", "dec-nope", expect=3)
    assert "no audit record has the id" in missing.output
