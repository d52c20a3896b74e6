"""Observe mode, for a trial: full cycles recorded as what they would have done, nothing
changed and nothing proposed; `reconciler report` sums the trial up."""

from __future__ import annotations

from typing import Any

from tests.scenarios.conftest import DEMO_2, Scenario

POLICIES = "blueprints/governance/policies.yaml"


def _observe(scenario: Scenario, service: str) -> None:
    path = scenario.root / f"blueprints/{service}/blueprint.yaml"
    text = path.read_text().replace("spec:\n", "spec:\n  mode: observe\n", 1)
    scenario.write_blueprint(service, text, f"{service}: observe mode")


def _replicas(scenario: Scenario, service: str) -> int:
    sim = scenario.json("sim", "show")
    return next(d for d in sim["deployments"] if d["name"] == service)["replicas"]  # type: ignore[index,no-any-return]


def _service(report: Any, service: str) -> dict[str, Any]:
    return next(s for s in report["services"] if s["service"] == service)  # type: ignore[no-any-return]


def _branches(scenario: Scenario) -> list[str]:
    return sorted(b for b in scenario.repo.branches.local if b != "main")


def test_observe_mode_records_the_seed_scale_2_to_3_at_w_81_5_then_3_to_4_and_leaves_2(
    scenario: Scenario,
) -> None:
    scenario.cli("sim", "init", "--scenario", "seed", "--history", "10m")
    _observe(scenario, "todo-frontend")
    run = scenario.json("run")
    frontend = _service(run, "todo-frontend")
    assert frontend["decision"]["target_replicas"] == 3
    assert round(frontend["weighted_utilization"], 3) == 0.815
    assert [s["outcome"] for s in frontend["steps"]] == ["would execute"]
    assert "observing" in [n["kind"] for n in frontend["note_details"]]
    assert _replicas(scenario, "todo-frontend") == 2
    (observed,) = scenario.records("todo-frontend", "operation_observed")
    assert observed["details"]["would"] == "execute"
    assert observed["details"]["replicas_running"] == 2
    assert observed["details"]["request"]["target_replicas"] == 3
    assert observed["details"]["observed_by"] == "spec.mode: observe in the blueprint"
    assert scenario.records("todo-frontend", "operation_executed") == []
    # The decision and the verdict are recorded as in any cycle; the outcome is observed.
    assert [r["event_type"] for r in scenario.records("todo-frontend")] == [
        "decision_made",
        "governance_checked",
        "operation_observed",
    ]
    assert scenario.subjects()[0] == (
        "todo-frontend: observe mode: scale 2→3 would apply (allowed)"
    )
    # The backend, not on trial, is reconciled as usual (nothing to do at W 51.3 %).
    assert _service(run, "todo-backend")["decision"]["reason"] == "within_thresholds"

    # Nothing happened, so the same wish next cycle is not a new record within the hour...
    before = len(scenario.commits())
    scenario.cli("sim", "advance", "2m")
    again = _service(scenario.json("run", "-s", "todo-frontend"), "todo-frontend")
    assert again["steps"][0]["outcome"] == "would execute (already recorded)"
    assert len(scenario.commits()) == before
    # ... but once the cluster runs other replicas (someone scaled it, and it is still hot:
    # W 93.5 % asks for 3→4), it is.
    scenario.cli(
        "sim",
        "set",
        "todo-frontend",
        "replicas=3",
        "cpu_utilization=95%",
        "memory_utilization=90%",
        "latency_p95=190ms",
    )
    scenario.cli("sim", "advance", "2m")
    scenario.cli("run", "-s", "todo-frontend")
    assert len(scenario.records("todo-frontend", "operation_observed")) == 2

    status = _service(scenario.json("status"), "todo-frontend")
    assert status["mode"] == "observe"
    assert status["note"].startswith("observe mode (spec.mode: observe in the blueprint)")
    report = scenario.json("report", "--since", "7d")
    (trial,) = report["services"]  # type: ignore[index]
    assert trial["service"] == "todo-frontend"
    assert (trial["would_apply"], trial["would_propose"], trial["would_refuse"]) == (2, 0, 0)
    assert trial["replicas_ran"] == {"min": 2, "max": 3}
    assert trial["replicas_would_run"] == {"min": 3, "max": 4}
    assert trial["acted"] == 0
    text = scenario.cli("report").output
    assert "SERVICE        DECISIONS  WOULD APPLY  WOULD PROPOSE  WOULD REFUSE  RAN  WOULD RUN" in (
        text
    )
    assert "todo-frontend  2          2            0              0             2-3  3-4" in text


def test_fleet_wide_observe_mode_records_demo_2s_proposal_to_6_and_opens_none(
    scenario: Scenario,
) -> None:
    policies = (scenario.root / POLICIES).read_text()
    scenario.write(
        POLICIES,
        policies.replace("kind: GlobalPolicies\n", "kind: GlobalPolicies\nmode: observe\n", 1),
    )
    scenario.cli("sim", "init", "--scenario", "seed", "--history", "10m")
    scenario.cli("sim", "set", "todo-frontend", *DEMO_2)
    frontend = _service(scenario.json("run", "-s", "todo-frontend"), "todo-frontend")
    assert frontend["decision"]["beyond_limits"] == 6
    assert [s["outcome"] for s in frontend["steps"]] == ["would propose"]
    assert _branches(scenario) == []
    assert scenario.records("todo-frontend", "approval_requested") == []
    (observed,) = scenario.records("todo-frontend", "operation_observed")
    assert observed["operation"] == "scale_beyond_limits"
    assert observed["details"]["would"] == "request_approval"
    assert observed["details"]["observed_by"] == f"mode: observe in {POLICIES}"
    assert _replicas(scenario, "todo-frontend") == 5
    trial = scenario.json("report")["services"][0]  # type: ignore[index]
    assert (trial["would_apply"], trial["would_propose"]) == (0, 1)
    assert trial["replicas_ran"] == trial["replicas_would_run"] == {"min": 5, "max": 5}


def test_a_request_in_observe_mode_is_governed_and_recorded_but_scales_nothing(
    scenario: Scenario,
) -> None:
    scenario.cli("sim", "init", "--scenario", "seed")
    _observe(scenario, "todo-frontend")
    result = scenario.cli("request", "todo-frontend", "scale", "--replicas", "4")
    assert "would execute" in result.output
    assert _replicas(scenario, "todo-frontend") == 2
    (observed,) = scenario.records("todo-frontend", "operation_observed")
    assert observed["details"]["request"]["target_replicas"] == 4


def test_report_with_no_trial_says_how_to_start_one(scenario: Scenario) -> None:
    scenario.cli("sim", "init", "--scenario", "seed")
    scenario.cli("run")
    result = scenario.cli("report")
    assert "no observe-mode records since" in result.output
    assert "spec.mode: observe" in result.output
    assert scenario.json("report")["services"] == []  # type: ignore[index]
