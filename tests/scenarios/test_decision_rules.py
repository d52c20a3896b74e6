"""Each decision rule on the simulated cluster, run as a user would, numbers in the names.

todo-backend's blueprint: p95 target 150ms, error_rate_max 0.5%, weights 0.4/0.4/0.2,
thresholds 40% and 75%; the guards are the defaults (CPU and memory 90%, p95 1.25 × 150ms).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.scenarios.conftest import Scenario


def _backend(report: object) -> dict[str, Any]:
    return next(s for s in report["services"] if s["service"] == "todo-backend")  # type: ignore[index]


def test_p95_200ms_over_a_150ms_target_at_w_60_percent_scales_up_by_the_latency_guard(
    scenario: Scenario,
) -> None:
    scenario.cli("sim", "init")
    scenario.cli(
        "sim",
        "set",
        "todo-backend",
        "replicas=2",
        "cpu_utilization=50%",
        "memory_utilization=50%",
        "latency_p95=200ms",
    )
    planned = _backend(scenario.json("plan", "-s", "todo-backend"))
    # W = 0.4 × 50% + 0.4 × 50% + 0.2 × 100% (capped) = 60%: within 40%..75% on its own.
    assert planned["weighted_utilization"] == pytest.approx(0.6)
    assert planned["decision"]["rule"] == "latency_guard"
    # ceil(2 × 200 / 150) = 3, one step.
    assert (planned["decision"]["current_replicas"], planned["decision"]["target_replicas"]) == (
        2,
        3,
    )
    result = scenario.cli("run", "-v", "-s", "todo-backend")
    assert "Latency p95 200ms is above its guard 187.5ms" in result.output
    (decision,) = scenario.records("todo-backend", "decision_made")
    assert decision["details"]["rule"] == "latency_guard"
    assert decision["details"]["guards"] == [
        {"rule": "latency_guard", "value": 200.0, "limit": 187.5, "estimate": 3}
    ]
    assert "spec.scaling.guards.latency_factor" in decision["details"]["blueprint_references"]
    sim = scenario.json("sim", "show")
    backend = next(d for d in sim["deployments"] if d["name"] == "todo-backend")  # type: ignore[index]
    assert backend["replicas"] == 3


def test_error_rate_4_percent_over_0_5_at_w_50_percent_changes_nothing_and_says_why(
    scenario: Scenario,
) -> None:
    scenario.cli("sim", "init")
    scenario.cli(
        "sim",
        "set",
        "todo-backend",
        "replicas=2",
        "cpu_utilization=50%",
        "memory_utilization=50%",
        "latency_p95=100ms",
        "error_rate=4%",
    )
    before = len(scenario.commits())
    planned = _backend(scenario.json("plan", "-s", "todo-backend"))
    assert planned["decision"]["reason"] == "errors_not_capacity"
    assert planned["decision"]["rule"] == "error_rate"
    run = scenario.cli("run", "-v", "-s", "todo-backend")
    assert "Error rate 4% is above error_rate_max 0.5%" in run.output
    assert "errors with normal utilization are not a capacity signal" in run.output
    assert len(scenario.commits()) == before  # a decision that changes nothing is not committed
    status = scenario.cli("status")
    assert (
        "note: todo-backend: error rate 4% is above error_rate_max 0.5% with normal "
        "utilization: not a capacity signal, so replicas are left as they are"
    ) in status.output
    data = scenario.json("status")
    backend = next(s for s in data["services"] if s["service"] == "todo-backend")  # type: ignore[index]
    assert backend["note"].startswith("error rate 4% is above error_rate_max 0.5%")


def test_with_a_one_line_policies_file_demo_2s_6_replicas_are_refused_not_proposed(
    scenario: Scenario,
) -> None:
    from tests.scenarios.conftest import DEMO_2

    scenario.write("blueprints/governance/policies.yaml", "defaults: {namespace: todo-app}\n")
    scenario.cli("sim", "init", "--scenario", "seed")
    scenario.cli("sim", "set", "todo-frontend", *DEMO_2)
    planned = next(
        s
        for s in scenario.json("plan", "-s", "todo-frontend")["services"]  # type: ignore[index]
        if s["service"] == "todo-frontend"
    )
    # The decision says what governance then does: no tier lists scale_beyond_limits.
    assert planned["decision"]["rationale"].endswith(
        "so 6 replicas would need scale_beyond_limits, which no tier of the policy lists, so "
        "governance refuses it (list it under requires_approval to have it proposed)."
    )
    assert "proposed for approval" not in planned["decision"]["rationale"]
    (step,) = planned["steps"]
    assert (step["operation"], step["kind"]) == ("scale_beyond_limits", "blocked")
