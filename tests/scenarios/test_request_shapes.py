"""A request is governed as what it changes, not as what it is called.

Governance classifies by operation name, so a request whose parameters do not fit its name
(a restart that carries a replica count, a "small" resource change that doubles the CPU) must
never reach the cluster under the wrong classification.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.scenarios.conftest import Scenario


def deployment(scenario: Scenario, name: str) -> dict[str, Any]:
    shown = scenario.json("sim", "show")
    return next(d for d in shown["deployments"] if d["name"] == name)  # type: ignore[index]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["restart_failed_pods", "--replicas", "40"],
            "restart_failed_pods does not change replicas",
        ),
        (["rollback_deployment", "--replicas", "1"], "rollback_deployment does not change"),
        (["restart_failed_pods", "--cpu", "1"], "does not change resource requests"),
        (["scale"], "scale needs a target replica count"),
        (["scale_within_limits"], "scale_within_limits needs a target replica count"),
        (["scale", "--replicas", "3", "--memory", "1Gi"], "changes replicas only"),
        (["scale", "--replicas", "2"], "already has 2 replicas"),
        (["resources"], "resources needs the new requests"),
        (["adjust_resources_within_10_percent", "--replicas", "3"], "CPU and memory requests only"),
        (["resources", "--cpu", "100m"], "already has these requests (cpu_request 100m)"),
        (["rollback_own_change"], "cannot be asked for"),
        (["resources", "--cpu", "lots"], "Invalid value for --cpu: 'lots' is not a CPU quantity"),
    ],
)
def test_a_request_that_does_not_fit_its_operation_is_a_usage_error(
    scenario: Scenario, args: list[str], message: str
) -> None:
    scenario.cli("sim", "init")
    before = scenario.subjects()
    result = scenario.cli("request", "todo-frontend", *args, expect=2)
    assert message in result.output
    # Nothing governed, nothing recorded, nothing changed.
    assert scenario.subjects() == before
    frontend = deployment(scenario, "todo-frontend")
    assert (frontend["replicas"], frontend["revision"]) == (2, 1)


def test_a_small_resource_change_is_allowed_and_carried_out(scenario: Scenario) -> None:
    scenario.cli("sim", "init")
    result = scenario.cli("request", "todo-frontend", "resources", "--cpu", "110m")
    assert "requests cpu 100m→110m: allowed, execute → executed" in result.output
    frontend = deployment(scenario, "todo-frontend")
    assert frontend["requests"]["cpu"] == "110m" and frontend["revision"] == 2
    executed = scenario.records("todo-frontend", "operation_executed")[0]
    assert executed["operation"] == "adjust_resources_within_10_percent"
    request = executed["details"]["request"]
    assert request["change_percent"] == pytest.approx(0.10)
    assert request["parameters"] == {"cpu_request": 110, "cpu_request_before": 100}
    assert scenario.subjects()[0] == (
        "todo-frontend: requests cpu 100m→110m (allowed): requested by unknown"
    )


def test_a_large_change_called_small_is_governed_as_large(scenario: Scenario) -> None:
    scenario.cli("sim", "init")
    result = scenario.cli(
        "request", "todo-frontend", "adjust_resources_within_10_percent", "--cpu", "200m"
    )
    assert "requests cpu 100m→200m: restricted, request approval → proposed" in result.output
    assert "change_resource_limits_beyond_10_percent requires approval" in result.output
    assert deployment(scenario, "todo-frontend")["requests"]["cpu"] == "100m"
    assert scenario.records("todo-frontend", "operation_executed") == []
    requested = scenario.records("todo-frontend", "operation_requested")[0]
    assert requested["operation"] == "change_resource_limits_beyond_10_percent"
    assert requested["details"]["change_percent"] == pytest.approx(1.0)


def test_the_largest_of_two_changes_names_the_request(scenario: Scenario) -> None:
    scenario.cli("sim", "init")
    # CPU +5 % is small, memory -50 % is not: the request is the larger change.
    result = scenario.cli(
        "request", "todo-frontend", "resources", "--cpu", "105m", "--memory", "256Mi"
    )
    assert "change_resource_limits_beyond_10_percent requires approval" in result.output
    assert scenario.records("todo-frontend", "operation_executed") == []


def test_requests_in_the_same_second_never_overwrite_each_other(scenario: Scenario) -> None:
    """The trail is append-only: ids are unique even for the same request twice at once."""
    scenario.cli("sim", "init")  # the simulated clock stands still between commands
    scenario.cli("request", "todo-frontend", "restart_failed_pods", "--reason", "a", "--by", "al")
    first = {r["id"]: r for r in scenario.records("todo-frontend")}
    for by in ("bob", "bob"):  # a different person, then the very same request again
        scenario.cli(
            "request", "todo-frontend", "restart_failed_pods", "--reason", "b", "--by", by, expect=1
        )
    records = scenario.records("todo-frontend")
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)) == len(first) + 2 * 3  # requested, verdict, deferred
    for record in records:
        if record["id"] in first:
            assert record == first[record["id"]]  # untouched
    executed = scenario.records("todo-frontend", "operation_executed")
    assert len(executed) == 1 and executed[0]["details"]["request"]["requested_by"] == "al"
    explained = scenario.json("explain", executed[0]["id"])["records"]  # type: ignore[index]
    assert {r["details"].get("requested_by") for r in explained} >= {"al"}  # type: ignore[union-attr]
    assert "bob" not in str(explained)
