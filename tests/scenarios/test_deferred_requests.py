"""A request deferred by the cooldown is finished by the first cycle after its retry_at,
governed again then, or expires with a record."""

from __future__ import annotations

from tests.scenarios.conftest import Scenario


def _replicas(scenario: Scenario) -> int:
    sim = scenario.json("sim", "show")
    return next(d for d in sim["deployments"] if d["name"] == "todo-frontend")["replicas"]  # type: ignore[index,no-any-return]


def _defer_3_to_4(scenario: Scenario) -> str:
    """2 → 3 at 15:30:00 starts the 60s cooldown; 3 → 4 asked at once is deferred to 15:31:00."""
    scenario.cli("sim", "init")
    scenario.cli("request", "todo-frontend", "scale", "--replicas", "3", "--by", "alice")
    result = scenario.cli(
        "request", "todo-frontend", "scale", "--replicas", "4", "--by", "alice", expect=1
    )
    assert "scale 3→4: allowed, defer → deferred" in result.output
    assert (
        "retried by the first cycle after 2026-02-10 15:31:00Z and governed again then; it "
        "expires if the deployment changes meanwhile or no cycle comes within 1h after"
    ) in result.output
    (deferred,) = scenario.records("todo-frontend", "operation_deferred")
    assert deferred["details"]["retry_at"] == "2026-02-10T15:31:00Z"
    return str(deferred["links"]["decision"])


def test_a_scale_3_to_4_deferred_by_60s_cooldown_is_carried_out_after_its_retry_at(
    scenario: Scenario,
) -> None:
    asked = _defer_3_to_4(scenario)
    scenario.cli("sim", "advance", "30s")
    scenario.cli("run", "-s", "todo-frontend")  # before retry_at (and 2 → 3 not verified yet)
    assert _replicas(scenario) == 3
    scenario.cli("sim", "advance", "35s")
    scenario.cli("run", "-s", "todo-frontend")
    assert _replicas(scenario) == 4
    executed = scenario.records("todo-frontend", "operation_executed")[-1]
    assert executed["links"]["decision"] == asked
    assert executed["details"]["request"]["requested_by"] == "alice"
    assert executed["details"]["request"]["origin"] == "request"
    # Carried out once: the next cycle does not do it again.
    scenario.cli("sim", "advance", "2m")
    scenario.cli("run", "-s", "todo-frontend")
    assert [
        r
        for r in scenario.records("todo-frontend", "operation_executed")
        if r["links"]["decision"] == asked
    ] == [executed]


def test_a_deferred_scale_3_to_4_expires_when_the_deployment_has_5_replicas_meanwhile(
    scenario: Scenario,
) -> None:
    asked = _defer_3_to_4(scenario)
    scenario.cli("sim", "set", "todo-frontend", "replicas=5")
    scenario.cli("sim", "advance", "65s")
    scenario.cli("run", "-s", "todo-frontend")
    (expired,) = scenario.records("todo-frontend", "request_expired")
    assert expired["links"]["decision"] == asked
    assert expired["details"]["why"] == (
        "the deployment has 5 replicas now, not the 3 the request was made from"
    )
    assert any(
        s.startswith("todo-frontend: deferred request scale 3→4 expired")
        for s in scenario.subjects()
    )
    assert _replicas(scenario) == 5


def test_a_deferred_request_expires_when_no_cycle_comes_for_1h_after_its_retry_at(
    scenario: Scenario,
) -> None:
    asked = _defer_3_to_4(scenario)
    scenario.cli("sim", "advance", "2h")
    scenario.cli("run", "-s", "todo-frontend")
    (expired,) = scenario.records("todo-frontend", "request_expired")
    assert expired["details"]["why"].startswith("no cycle retried it for 1h59m")
    executed = scenario.records("todo-frontend", "operation_executed")
    assert [r["links"]["decision"] for r in executed].count(asked) == 0
