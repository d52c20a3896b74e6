"""Values that cannot be used, through the command line: each is refused where it is written
(a blueprint, the global policies, a request, `sim set`, the simulated state), with the exit
code docs/cli.md gives, the file (and line) or option named, no traceback, and nothing else
stopped: a healthy service in the same repository still scales in the same run.

The repository is the seed scenario: todo-frontend at CPU 85 % on 2 replicas, so any run that
is not stopped scales it to 3.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from reconciler.adapters.simulated import MAX_PODS
from tests import simstate
from tests.scenarios.conftest import DEMO_2, Scenario

BACKEND = "blueprints/todo-backend/blueprint.yaml"
POLICIES = "blueprints/governance/policies.yaml"
INT32 = 2**31 - 1
STATE = ".reconciler/sim-state.db"


def _no_traceback(output: str) -> None:
    assert "Traceback" not in output
    assert "internal error" not in output


def _edit(scenario: Scenario, relative: str, old: str, new: str) -> str:
    text = (scenario.root / relative).read_text()
    assert old in text, old
    edited = text.replace(old, new, 1)
    scenario.write(relative, edited, f"edit {relative}")
    return edited


def _services(report: Any) -> dict[str, dict[str, Any]]:
    return {service["service"]: service for service in report["services"]}


def _frontend_scaled(report: Any) -> None:
    """The healthy service did its work in the same run: 2 → 3, executed and recorded."""
    frontend = _services(report)["todo-frontend"]
    assert frontend.get("error") is None, frontend
    (step,) = frontend["steps"]
    assert (step["description"], step["outcome"]) == ("scale 2→3", "executed"), step


def _commits(scenario: Scenario) -> int:
    return len(scenario.commits())


# ---------------------------------------------------------------------------------------------
# Blueprints and global policies: `validate` errors with file:line:col, and the run goes on


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("cooldown_period: 90s", "cooldown_period: 99999999999999999999d", "cooldown_period"),
        ("scale_down_stabilization: 10m", "scale_down_stabilization: .inf", "scale_down_stabilization"),
        ("weight: 0.4", "weight: .nan", "metrics[0].weight"),
        ("max_replicas: 3", f"max_replicas: {INT32 + 1}", "max_replicas"),
        ("min_replicas: 1", "min_replicas: -3", "min_replicas"),
        ("scale_up_increment: 1", f"scale_up_increment: {INT32 + 1}", "scale_up_increment"),
        ("scale_up_threshold: 75%", "scale_up_threshold: " + "9" * 400 + "%", "scale_up_threshold"),
        ("request: 100m", "request: 99999999999999999999999", "cpu.request"),
        ("latency_p95: 150ms", "latency_p95: 0ms", "latency_p95"),
    ],
)  # fmt: skip
def test_an_unusable_blueprint_value_is_a_validate_error_and_stops_only_its_service(
    seeded: Scenario, old: str, new: str, field: str
) -> None:
    text = _edit(seeded, BACKEND, old, new)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if row.strip().startswith(new))
    result = seeded.cli("validate", expect=1)
    _no_traceback(result.output)
    assert re.search(rf"^{BACKEND}:{line}:\d+: spec\.\S*{re.escape(field)}: ", result.output, re.M)
    assert "(fix: " in result.output
    report = seeded.json("run", expect=1)
    _no_traceback(str(report))
    assert "does not validate" in _services(report)["todo-backend"]["error"]
    _frontend_scaled(report)


def test_observation_5_cooldown_no_longer_passes_then_overflows(seeded: Scenario) -> None:
    """The reported case: validate used to pass and `run`/`request` died with OverflowError."""
    _edit(
        seeded,
        "blueprints/todo-frontend/blueprint.yaml",
        "    scale_down_threshold: 40%\n",
        "    scale_down_threshold: 40%\n    cooldown_period: 99999999999999999999d\n",
    )
    result = seeded.cli("validate", expect=1)
    assert "blueprints/todo-frontend/blueprint.yaml:15:5: spec.scaling.cooldown_period: " in (
        result.output
    )
    for args in (["run"], ["request", "todo-frontend", "scale", "--replicas", "4"]):
        outcome = seeded.cli(*args, expect=None)
        _no_traceback(outcome.output)
        assert outcome.exit_code in {1, 3}, outcome.output
        assert "OverflowError" not in outcome.output


@pytest.mark.parametrize(
    ("ceiling", "broken"),
    [(INT32, []), (5, []), (4, ["todo-frontend"]), (2, ["todo-backend", "todo-frontend"])],
)
def test_the_fleet_ceiling_bounds_every_blueprint(
    seeded: Scenario, ceiling: int, broken: list[str]
) -> None:
    """todo-frontend allows 5 replicas and todo-backend 3: a ceiling below that is an error
    at the blueprint's max_replicas line."""
    text = (seeded.root / POLICIES).read_text()
    seeded.write(POLICIES, text + f"\nlimits:\n  max_replicas: {ceiling}\n", "set a ceiling")
    result = seeded.cli("validate", expect=1 if broken else 0)
    _no_traceback(result.output)
    lines = {"todo-frontend": 10, "todo-backend": 19}
    allowed = {"todo-frontend": 5, "todo-backend": 3}
    for service in broken:
        assert (
            f"blueprints/{service}/blueprint.yaml:{lines[service]}:5: spec.scaling.max_replicas: "
            f"{allowed[service]} is above the fleet ceiling of {ceiling} replicas "
            f"(limits.max_replicas in {POLICIES})"
        ) in result.output
    assert result.output.count("above the fleet ceiling") == len(broken)


@pytest.mark.parametrize("value", [0, INT32 + 1, ".nan", ".inf", "-1", "ten"])
def test_a_ceiling_out_of_bounds_is_an_error_of_the_policies_file(
    seeded: Scenario, value: object
) -> None:
    text = (seeded.root / POLICIES).read_text()
    seeded.write(POLICIES, text + f"\nlimits:\n  max_replicas: {value}\n", "set a ceiling")
    lines = (seeded.root / POLICIES).read_text().splitlines()
    result = seeded.cli("validate", expect=1)
    _no_traceback(result.output)
    assert f"{POLICIES}:{len(lines)}:3: limits.max_replicas: " in result.output


# ---------------------------------------------------------------------------------------------
# Requests: usage errors (exit 2) naming the option, with nothing recorded


@pytest.mark.parametrize(
    ("args", "expect", "words"),
    [
        (["scale", "--replicas", str(INT32)], 0, "proposed"),
        (["scale", "--replicas", str(INT32 + 1)], 2, "'--replicas': 2147483648 is not in the range"),
        (["scale", "--replicas", "100000000000000000000"], 2, "'--replicas'"),
        (["scale", "--replicas", "-3"], 2, "'--replicas': -3 is not in the range"),
        (["scale", "--replicas", "nan"], 2, "'--replicas'"),
        (["resources", "--cpu", "100000"], 0, "proposed"),
        (["resources", "--cpu", "100001"], 2, "--cpu: '100001' is more than 100000 cores"),
        (["resources", "--cpu", "99999999999999999999999"], 2, "--cpu: "),
        (["resources", "--cpu", "nan"], 2, "--cpu: 'nan' is not a CPU quantity"),
        (["resources", "--cpu", "inf"], 2, "--cpu: 'inf' is not a CPU quantity"),
        (["resources", "--cpu", "-1"], 2, "--cpu: '-1' is not a CPU quantity"),
        (["resources", "--cpu", "0"], 2, "--cpu: cpu_request must be a positive quantity"),
        (["resources", "--memory", "1024Ti"], 0, "proposed"),
        (["resources", "--memory", "1025Ti"], 2, "--memory: '1025Ti' is more than 1024Ti"),
        (["resources", "--memory", "9" * 400 + "Mi"], 2, "--memory: "),
    ],
)  # fmt: skip
def test_a_request_out_of_bounds_is_a_usage_error_and_records_nothing(
    seeded: Scenario, args: list[str], expect: int, words: str
) -> None:
    before = _commits(seeded)
    result = seeded.cli("request", "todo-frontend", *args, "--reason", "test", expect=expect)
    _no_traceback(result.output)
    assert words in result.output
    if expect:
        assert _commits(seeded) == before
        assert not [b for b in seeded.repo.branches.local if b.startswith("reconciler/")]


@pytest.mark.parametrize(("replicas", "expect"), [(50, 0), (51, 2), (INT32, 2)])
def test_a_request_beyond_the_fleet_ceiling_names_it(
    seeded: Scenario, replicas: int, expect: int
) -> None:
    text = (seeded.root / POLICIES).read_text()
    seeded.write(POLICIES, text + "\nlimits:\n  max_replicas: 50\n", "set a ceiling")
    before = _commits(seeded)
    result = seeded.cli(
        "request", "todo-frontend", "scale", "--replicas", str(replicas), expect=expect
    )
    _no_traceback(result.output)
    if expect:
        assert f"error: --replicas: {replicas} replicas is above the fleet ceiling of 50" in (
            result.output
        )
        assert "hint: ask for at most 50 replicas" in result.output
        assert _commits(seeded) == before
    # Either way, the next run scales the healthy service.
    _frontend_scaled(seeded.json("run", "-s", "todo-frontend", expect=None))


# ---------------------------------------------------------------------------------------------
# Approvals: an approved absurd request fails that service alone (observation 1)


def _merge(scenario: Scenario, branch: str) -> None:
    identity = ["-c", "user.name=alice", "-c", "user.email=alice@example.com"]
    subprocess.run(
        ["git", "-C", str(scenario.root), *identity, "merge", "--no-ff", "-q", branch, "-m", "ok"],
        check=True,
        capture_output=True,
    )


def _approve_request(scenario: Scenario, service: str, replicas: int) -> None:
    scenario.cli("request", service, "scale", "--replicas", str(replicas), "--reason", "x")
    (branch,) = [b for b in scenario.repo.branches.local if b.startswith(f"reconciler/{service}/")]
    _merge(scenario, branch)


def _hot_backend(scenario: Scenario) -> None:
    """todo-backend needs a scale-up too, so both services have something to do."""
    scenario.cli("sim", "set", "todo-backend", "cpu_utilization=95%", "memory_utilization=90%")


@pytest.mark.parametrize("replicas", [100_000_000, INT32, MAX_PODS + 1])
def test_an_approved_absurd_request_fails_only_its_own_service(
    seeded: Scenario, replicas: int
) -> None:
    """Observation 1: the simulated cluster refuses more pods than it runs, as that one
    service's recorded failure; every other service is reconciled in the same run."""
    _hot_backend(seeded)
    _approve_request(seeded, "todo-frontend", replicas)
    report = seeded.json("run", expect=1)
    _no_traceback(str(report))
    frontend = _services(report)["todo-frontend"]
    (step,) = frontend["steps"]
    assert step["outcome"] == "failed"
    assert f"runs at most {MAX_PODS} pods per deployment" in step["detail"]
    backend = _services(report)["todo-backend"]
    assert [(s["description"], s["outcome"]) for s in backend["steps"]] == [
        ("scale 2→3", "executed")
    ]
    failed = seeded.records("todo-frontend", "operation_failed")
    assert len(failed) == 1
    assert failed[0]["details"]["request"]["target_replicas"] == replicas
    assert f"runs at most {MAX_PODS} pods per deployment" in failed[0]["details"]["error"]
    # The approval is used up: the next run does not try again.
    again = _services(seeded.json("run", "-s", "todo-frontend", expect=None))["todo-frontend"]
    assert all(s["outcome"] != "failed" for s in again.get("steps", []))


@pytest.mark.parametrize(("replicas", "refused"), [(50, False), (51, True), (100_000_000, True)])
def test_an_approval_beyond_a_ceiling_set_since_is_refused_and_recorded(
    seeded: Scenario, replicas: int, refused: bool
) -> None:
    """A request proposed before the fleet set its ceiling, merged after: the merge approves
    numbers that can no longer be used, so it is refused with a record; the run goes on."""
    _hot_backend(seeded)
    _approve_request(seeded, "todo-frontend", replicas)
    text = (seeded.root / POLICIES).read_text()
    seeded.write(POLICIES, text + "\nlimits:\n  max_replicas: 50\n", "set a ceiling")
    report = seeded.json("run", expect=0)
    _no_traceback(str(report))
    refusals = seeded.records("todo-frontend", "approval_refused")
    if refused:
        (record,) = refusals
        assert record["details"]["reasons"] == [
            f"out of bounds: {replicas} replicas is above the fleet ceiling of 50 "
            f"(limits.max_replicas in {POLICIES})"
        ]
        assert not seeded.records("todo-frontend", "operation_failed")
        # Refused, the approval does nothing; the service's own decision goes on.
        _frontend_scaled(report)
    else:
        assert refusals == []
        (executed,) = seeded.records("todo-frontend", "operation_executed")
        assert executed["details"]["request"]["target_replicas"] == 50
    backend = _services(report)["todo-backend"]
    assert [(s["description"], s["outcome"]) for s in backend["steps"]] == [
        ("scale 2→3", "executed")
    ]


def test_a_merged_blueprint_beyond_a_ceiling_set_since_is_that_services_error(
    seeded: Scenario,
) -> None:
    """Seed demo 2 proposes raising max_replicas to 6; the fleet then sets a ceiling of 5, and
    an approver merges the proposal anyway: the merged blueprint does not validate, which
    stops that service alone, and at the ceiling no new proposal is made."""
    seeded.cli("sim", "set", "todo-frontend", *DEMO_2)
    seeded.cli("run", "-s", "todo-frontend")
    (branch,) = [b for b in seeded.repo.branches.local if b.startswith("reconciler/")]
    text = (seeded.root / POLICIES).read_text()
    seeded.write(POLICIES, text + "\nlimits:\n  max_replicas: 5\n", "set a ceiling")
    _merge(seeded, branch)
    result = seeded.cli("validate", expect=1)
    assert (
        "blueprints/todo-frontend/blueprint.yaml:10:5: spec.scaling.max_replicas: 6 is above "
        "the fleet ceiling of 5 replicas"
    ) in result.output
    _hot_backend(seeded)
    report = seeded.json("run", expect=1)
    _no_traceback(str(report))
    assert "does not validate" in _services(report)["todo-frontend"]["error"]
    backend = _services(report)["todo-backend"]
    assert [(s["description"], s["outcome"]) for s in backend["steps"]] == [
        ("scale 2→3", "executed")
    ]


# ---------------------------------------------------------------------------------------------
# `sim set`: usage errors, nothing saved


def _state(scenario: Scenario) -> dict[str, list[tuple[Any, ...]]]:
    return simstate.everything(scenario.root / STATE)


@pytest.mark.parametrize(
    ("setting", "passes", "words"),
    [
        (f"replicas={MAX_PODS}", True, ""),
        (f"replicas={MAX_PODS + 1}", False, f"is above {MAX_PODS} (the simulated cluster runs at most {MAX_PODS} pods)"),
        ("replicas=100000000", False, "is above 1000"),
        ("replicas=-3", False, "-3 is below 0"),
        ("replicas=nan", False, "'nan' is not a whole number"),
        ("rps=nan", False, "nan is not a finite number"),
        ("rps=inf", False, "inf is not a finite number"),
        ("rps=-1", False, "-1.0 is below 0"),
        ("capacity=1e16", False, "is above 1e+15"),
        ("capacity=0", True, ""),
        ("restarts=2147483647", True, ""),
        ("restarts=2147483648", False, "is above 2147483647"),
        ("crashing_pods=-1", False, "is below 0"),
        ("cpu_request=0", False, "'0' is not above 0"),
        ("cpu_request=100001", False, "is more than 100000 cores"),
        ("memory_request=1025Ti", False, "is more than 1024Ti"),
        ("startup=365d", True, ""),
        ("startup=366d", False, "is more than 365d"),
        ("cpu_utilization=" + "9" * 400 + "%", False, "is not a finite number"),
        ("latency_p95=99999999999999999999d", False, "is more than 365d"),
    ],
)  # fmt: skip
def test_sim_set_refuses_values_out_of_bounds(
    seeded: Scenario, setting: str, passes: bool, words: str
) -> None:
    before = _state(seeded)
    result = seeded.cli("sim", "set", "todo-frontend", setting, expect=0 if passes else 2)
    _no_traceback(result.output)
    if passes:
        return
    key, value = setting.split("=", 1)
    assert f"Invalid value for 'KEY=VALUE': {key}={value}: " in result.output
    assert words in result.output
    assert _state(seeded) == before


# ---------------------------------------------------------------------------------------------
# The simulated state: a broken deployment is that deployment's error, naming it and its file


def _break(scenario: Scenario, change: Any) -> Path:
    """Edit the frontend's stored state as a person could with sqlite3."""
    path = scenario.root / STATE
    simstate.edit_deployment(path, "todo-frontend", change)
    return path


def _set(path: tuple[str, ...], value: object) -> Any:
    def change(data: dict[str, Any]) -> None:
        node = data
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return change


#: Broken deployment files: (the change, the words of the error after the file name).
BROKEN_DEPLOYMENTS = [
    (_set(("replicas",), -3), "replicas: -3 is below 0"),
    (_set(("replicas",), 100_000_000), "replicas: 100000000 is above 1000"),
    (_set(("replicas",), "three"), "replicas: 'three' is not a whole number"),
    (_set(("load", "requests_per_second"), float("nan")), "load.requests_per_second: nan is not a finite number"),
    (_set(("load", "capacity_per_pod"), float("-inf")), "load.capacity_per_pod: -inf is not a finite number"),
    (_set(("requests", "cpu"), "0"), "requests.cpu: '0' is not above 0"),
    (_set(("requests", "memory"), "2000Ti"), "requests.memory: '2000Ti' is more than 1024Ti"),
    (_set(("startup",), "99999999999999999999d"), "startup: '99999999999999999999d' is more than 365d"),
    (_set(("pods",), [{"name": "p", "started": "yesterday"}]), "pods[p].started: 'yesterday' is not a time"),
    (_set(("pods",), [{"name": "p", "started": "2026-02-10T15:00:00Z", "restarts": -1}]), "pods[p].restarts: -1 is below 0"),
    (_set(("revisions",), {"1": {"cpu_request": 100}}), "missing field `memory_request`"),
    (lambda data: data.pop("name"), "missing field `name`"),
    (_set(("faults",), {"scale_fails": "sometimes"}), "faults.scale_fails: 'sometimes' is not true or false"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "words"), BROKEN_DEPLOYMENTS)
def test_sim_show_and_set_name_the_broken_deployment_and_field(
    seeded: Scenario, change: Any, words: str
) -> None:
    path = _break(seeded, change)
    where = f"reading the simulated deployment todo-app/todo-frontend in {path}"
    show = seeded.cli("sim", "show", expect=0)
    _no_traceback(show.output)
    assert f"warning: {where}: {words}" in show.output
    assert "todo-app/todo-backend" in show.output
    result = seeded.cli("sim", "set", "todo-frontend", "rps=100", expect=3)
    assert f"error: {where}: {words}" in result.output


@pytest.mark.parametrize(("change", "words"), BROKEN_DEPLOYMENTS[::3])
def test_a_broken_deployment_is_that_deployments_error_in_a_run(
    seeded: Scenario, change: Any, words: str
) -> None:
    _hot_backend(seeded)
    path = _break(seeded, change)
    broken = simstate.deployment(path, "todo-frontend")
    report = seeded.json("run", expect=1)
    error = _services(report)["todo-frontend"]["error"]
    assert f"reading the simulated deployment todo-app/todo-frontend in {path}: {words}" in error
    backend = _services(report)["todo-backend"]
    assert [(s["description"], s["outcome"]) for s in backend["steps"]] == [
        ("scale 2→3", "executed")
    ]
    assert simstate.deployment(path, "todo-frontend") == broken  # left for a person to fix


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda data: data.pop("clock"), "missing field `clock`"),
        (_set(("clock",), "soon"), "clock: 'soon' is not a time"),
        (_set(("clock",), "9999-12-31T00:00:00Z"), "clock: 9999-12-31 is outside the years 1970 to 9000"),
        (_set(("settings",), {"sample_interval": "0s"}), "settings.sample_interval: '0s' is shorter than 1s"),
        (_set(("settings",), {"sample_interval": "1s", "history_kept": "365d"}), "settings.history_kept: '365d' at one sample every '1s' is 31536000 samples, more than the 10000 kept"),
        (_set(("settings",), {"history_kept": "99999999999999999999d"}), "settings.history_kept: '99999999999999999999d' is more than 365d"),
        (_set(("settings",), ["15s"]), "settings: expected a mapping, got list"),
    ],
)  # fmt: skip
def test_a_broken_main_state_file_is_a_configuration_error_naming_it(
    seeded: Scenario, change: Any, words: str
) -> None:
    path = seeded.root / STATE
    simstate.edit_cluster(path, change)
    for args in (["sim", "show"], ["run"]):
        result = seeded.cli(*args, expect=3)
        _no_traceback(result.output)
        assert f"error: reading the simulated cluster {path}: {words}" in result.output


def test_sim_advance_by_a_year_keeps_only_the_history_it_keeps(seeded: Scenario) -> None:
    seeded.cli("sim", "advance", "365d")
    kept = simstate.samples(seeded.root / STATE, "todo-frontend")
    assert 0 < len(kept) <= 3600 // 15 + 1
    result = seeded.cli("sim", "advance", "366d", expect=2)
    assert "'366d' is more than 365d, the most accepted" in result.output


def test_sim_init_refuses_a_clock_outside_the_years_it_can_count(seeded: Scenario) -> None:
    result = seeded.cli("sim", "init", "--force", "--at", "9999-01-01T00:00:00Z", expect=2)
    _no_traceback(result.output)
    assert "Invalid value for '--at': 9999-01-01 is outside the years 1970 to 9000" in result.output


@pytest.mark.parametrize(
    ("timeout", "expect"), [("3600", 0), ("3601", 3), ("99999999999999999999", 3), ("nan", 3)]
)
def test_the_github_timeout_is_bounded_where_it_is_read(
    seeded: Scenario, monkeypatch: pytest.MonkeyPatch, timeout: str, expect: int
) -> None:
    """A socket cannot wait longer than its clock counts (OverflowError); an hour is the most."""
    monkeypatch.setenv("RECONCILER_GITHUB_TIMEOUT", timeout)
    result = seeded.cli("audit", expect=expect)
    _no_traceback(result.output)
    if expect:
        assert f"error: {timeout!r} is not a whole number" in result.output or (
            "longer than 3600, the longest timeout accepted" in result.output
        )
