"""spec.scaling.behavior on the simulated cluster, run as a user would, numbers in the names.

todo-frontend with a behavior block `scaleUp: Pods 2 per 300s` and no scale_up_increment: the
behavior alone limits the step, and its period counts the changes the trail recorded.
"""

from __future__ import annotations

from tests.scenarios.conftest import REPO, Scenario

BEHAVIOR = (
    "    behavior:\n"
    "      scaleUp:\n"
    "        policies: [{type: Pods, value: 2, periodSeconds: 300}]\n"
)


def _with_behavior(scenario: Scenario) -> None:
    text = (REPO / "blueprints" / "todo-frontend" / "blueprint.yaml").read_text()
    text = text.replace(
        "    scale_down_threshold: 40%\n", "    scale_down_threshold: 40%\n" + BEHAVIOR
    )
    scenario.write_blueprint("todo-frontend", text, "todo-frontend: scale like an HPA")


def _frontend(report: object) -> dict:  # type: ignore[type-arg]
    return next(s for s in report["services"] if s["service"] == "todo-frontend")  # type: ignore[index,no-any-return]


def test_pods_2_per_300s_scales_2_to_4_holds_at_4_for_the_period_then_4_to_5(
    scenario: Scenario,
) -> None:
    _with_behavior(scenario)
    scenario.cli("sim", "init")
    scenario.cli(
        "sim",
        "set",
        "todo-frontend",
        "replicas=2",
        "cpu_utilization=150%",
        "memory_utilization=150%",
        "latency_p95=400ms",
    )
    # CPU guard: ceil(2 × 150% / 70%) = 5; the behavior allows 2 + 2 = 4.
    scenario.cli("run", "-s", "todo-frontend")
    (first,) = scenario.records("todo-frontend", "decision_made")
    assert (first["details"]["current_replicas"], first["details"]["target_replicas"]) == (2, 4)
    assert "behavior.scaleUp: Pods 2 per 300s from 2 replicas allows 4" in first["rationale"]
    assert "spec.scaling.behavior.scaleUp" in first["details"]["blueprint_references"]
    (executed,) = scenario.records("todo-frontend", "operation_executed")
    assert executed["details"]["post_operation_state"]["replicas"] == 4

    # 61 s later (past the cooldown) the load still asks for 6, but the 2 pods added 61 s
    # ago are within the 300 s period: held, by the behavior rule, nothing recorded.
    scenario.cli("sim", "advance", "61s")
    planned = _frontend(scenario.json("plan", "-s", "todo-frontend"))
    assert planned["decision"]["rule"] == "scaling_behavior"
    assert planned["decision"]["reason"] == "behavior_rate_limit"
    scenario.cli("run", "-s", "todo-frontend")
    assert len(scenario.records("todo-frontend", "operation_executed")) == 1

    # Once the change has left the period: from 4, up to 6 allowed; max_replicas 5 → 4 → 5.
    scenario.cli("sim", "advance", "240s")
    scenario.cli("run", "-s", "todo-frontend")
    executed = scenario.records("todo-frontend", "operation_executed")
    assert [e["details"]["post_operation_state"]["replicas"] for e in executed] == [4, 5]
    sim = scenario.json("sim", "show")
    frontend = next(d for d in sim["deployments"] if d["name"] == "todo-frontend")  # type: ignore[index]
    assert frontend["replicas"] == 5


def test_without_behavior_the_seed_still_scales_2_to_3(scenario: Scenario) -> None:
    scenario.cli("sim", "init", "--scenario", "seed")
    scenario.cli("run", "-s", "todo-frontend")
    (decision,) = scenario.records("todo-frontend", "decision_made")
    assert (decision["details"]["current_replicas"], decision["details"]["target_replicas"]) == (
        2,
        3,
    )
    assert "step limit +1)" in decision["rationale"]
    assert "behavior" not in decision["rationale"]


def test_increment_2_at_4_of_max_5_scales_to_5_proposes_6_and_records_the_decision_once(
    scenario: Scenario,
) -> None:
    text = (REPO / "blueprints" / "todo-frontend" / "blueprint.yaml").read_text()
    text = text.replace(
        "    scale_down_threshold: 40%\n",
        "    scale_down_threshold: 40%\n    scale_up_increment: 2\n",
    )
    scenario.write_blueprint("todo-frontend", text, "todo-frontend: steps of two")
    scenario.cli("sim", "init")
    scenario.cli(
        "sim",
        "set",
        "todo-frontend",
        "replicas=4",
        "cpu_utilization=150%",
        "memory_utilization=150%",
        "latency_p95=400ms",
    )
    scenario.cli("run", "-s", "todo-frontend")
    (decision,) = scenario.records("todo-frontend", "decision_made")
    assert (decision["details"]["target_replicas"], decision["details"]["desired_replicas"]) == (
        5,
        6,
    )
    (executed,) = scenario.records("todo-frontend", "operation_executed")
    assert executed["details"]["post_operation_state"]["replicas"] == 5
    (proposed,) = scenario.records("todo-frontend", "approval_requested")
    assert proposed["links"]["decision"] == decision["id"]


def test_behavior_step_2_to_5_past_a_replica_change_2_condition_is_proposed_not_done(
    scenario: Scenario,
) -> None:
    # The behavior's default allows 2 → 6 (Pods 4 per 15s); max_replicas 5. The seed's
    # scale_within_limits rule, narrowed to steps of at most 2, makes the 3-replica step a
    # proposal: governance still judges every step the behavior allows.
    text = (REPO / "blueprints" / "todo-frontend" / "blueprint.yaml").read_text()
    text = text.replace(
        "    scale_down_threshold: 40%\n", "    scale_down_threshold: 40%\n    behavior: {}\n"
    ).replace(
        "condition: target_replicas >= min_replicas AND target_replicas <= max_replicas",
        "condition: target_replicas <= max_replicas AND replica_change <= 2",
    )
    scenario.write_blueprint("todo-frontend", text, "todo-frontend: HPA defaults, small steps")
    scenario.cli("sim", "init")
    scenario.cli(
        "sim",
        "set",
        "todo-frontend",
        "replicas=2",
        "cpu_utilization=300%",
        "memory_utilization=150%",
        "latency_p95=400ms",
    )
    scenario.cli("run", "-s", "todo-frontend")
    (decision,) = scenario.records("todo-frontend", "decision_made")
    assert (decision["details"]["target_replicas"], decision["details"]["desired_replicas"]) == (
        5,
        6,
    )
    assert "behavior.scaleUp: Pods 4 per 15s from 2 replicas allows 6" in decision["rationale"]
    assert scenario.records("todo-frontend", "operation_executed") == []
    proposed = scenario.records("todo-frontend", "approval_requested")
    assert sorted(p["operation"] for p in proposed) == [
        "scale_beyond_limits",
        "scale_within_limits",
    ]
    sim = scenario.json("sim", "show")
    frontend = next(d for d in sim["deployments"] if d["name"] == "todo-frontend")  # type: ignore[index]
    assert frontend["replicas"] == 2
