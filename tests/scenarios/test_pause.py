"""Pausing one service: `spec.suspend: true` (reviewed) or the deployment's annotation
(`kubectl annotate ... reconciler/paused=true`): observed and reported, nothing changed."""

from __future__ import annotations

from typing import Any

from tests.scenarios.conftest import Scenario


def _frontend(report: object) -> dict[str, Any]:
    return next(s for s in report["services"] if s["service"] == "todo-frontend")  # type: ignore[index]


def _replicas(scenario: Scenario) -> int:
    sim = scenario.json("sim", "show")
    return next(d for d in sim["deployments"] if d["name"] == "todo-frontend")["replicas"]  # type: ignore[index,no-any-return]


def _suspend(scenario: Scenario, value: bool) -> None:
    path = scenario.root / "blueprints/todo-frontend/blueprint.yaml"
    text = path.read_text().replace("  suspend: true\n", "")
    if value:
        text = text.replace("spec:\n", "spec:\n  suspend: true\n", 1)
    scenario.write_blueprint("todo-frontend", text, f"suspend: {value}")


def test_spec_suspend_keeps_the_seed_at_2_replicas_where_w_81_5_would_scale_to_3(
    scenario: Scenario,
) -> None:
    scenario.cli("sim", "init", "--scenario", "seed", "--history", "10m")
    _suspend(scenario, True)
    planned = _frontend(scenario.json("plan", "-s", "todo-frontend"))
    assert (planned["decision"]["reason"], planned["decision"]["rule"]) == ("paused", "pause")
    assert planned["decision"]["rationale"].startswith(
        "Paused by spec.suspend: true in the blueprint: nothing is changed or proposed. "
        "Unpaused, the engine would decide: Weighted utilization 81.5%"
    )
    run = scenario.cli("run", "-s", "todo-frontend")
    assert "none (paused)" in run.output
    assert _replicas(scenario) == 2
    (paused,) = scenario.records("todo-frontend", "service_paused")
    assert paused["details"]["paused_by"] == "spec.suspend: true in the blueprint"
    assert scenario.subjects()[0] == (
        "todo-frontend: paused by spec.suspend: true in the blueprint"
    )
    assert scenario.records("todo-frontend", "decision_made") == []
    # While it lasts, a pause is recorded once, not every cycle.
    before = len(scenario.commits())
    scenario.cli("sim", "advance", "2m")
    scenario.cli("run", "-s", "todo-frontend")
    assert len(scenario.commits()) == before
    status = scenario.cli("status")
    assert (
        "note: todo-frontend: paused by spec.suspend: true in the blueprint: observed only, "
        "nothing is changed or proposed"
    ) in status.output
    assert _frontend(scenario.json("status"))["paused"] == "spec.suspend: true in the blueprint"

    _suspend(scenario, False)
    scenario.cli("run", "-s", "todo-frontend")
    (resumed,) = scenario.records("todo-frontend", "service_resumed")
    assert resumed["links"]["paused"] == paused["id"]
    assert _replicas(scenario) == 3


def test_the_paused_annotation_stops_a_scale_and_refuses_a_request(scenario: Scenario) -> None:
    scenario.cli("sim", "init", "--scenario", "seed")
    scenario.cli("sim", "set", "todo-frontend", "paused=incident-42")
    run = scenario.cli("run", "-v", "-s", "todo-frontend")
    assert (
        "Paused by the deployment's annotation reconciler/paused=incident-42: nothing is "
        "changed or proposed" in run.output
    )
    assert _replicas(scenario) == 2
    request = scenario.cli("request", "todo-frontend", "scale", "--replicas", "4", expect=None)
    assert request.exit_code == 1
    assert (
        "todo-frontend is paused by the deployment's annotation reconciler/paused=incident-42"
        in (request.output)
    )
    assert "reconciler/paused-" in request.output
    assert scenario.records("todo-frontend", "operation_requested") == []
    scenario.cli("sim", "set", "todo-frontend", "paused=false")
    scenario.cli("run", "-s", "todo-frontend")
    assert _replicas(scenario) == 3
    assert [r["event_type"] for r in scenario.records("todo-frontend")][:2] == [
        "service_paused",
        "service_resumed",
    ]


def test_validate_still_checks_the_governance_of_a_paused_service(scenario: Scenario) -> None:
    path = scenario.root / "blueprints/todo-frontend/blueprint.yaml"
    text = path.read_text().replace("spec:\n", "spec:\n  suspend: true\n", 1)
    # Allowing what the global policies forbid is an error, paused or not.
    path.write_text(
        text.replace("allowed_operations:", "allowed_operations:\n      - delete_deployment", 1)
    )
    result = scenario.cli("validate", expect=None)
    assert result.exit_code != 0
    assert "delete_deployment" in result.output
