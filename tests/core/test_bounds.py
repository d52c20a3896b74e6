"""Every bounded field of a blueprint and of the global policies, at each edge of its bounds.

Each row puts one value in one field and says whether it validates. A value just at the
limit passes; one past it, NaN, the infinities, a negative and a huge one fail with an error
at that field's own line, never an exception, so `validate` reports them like any other
problem. The limits themselves come from `reconciler.core.bounds`, and the schemas carry the
same numbers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from importlib import resources
from typing import Any

import pytest
import yaml

from reconciler.core import bounds
from reconciler.core.approvals.authorization import unusable_reason
from reconciler.core.approvals.requests import RequestError, shape_request
from reconciler.core.blueprint import units
from reconciler.core.blueprint.conditions import ConditionError, parse_condition
from reconciler.core.blueprint.loading import load_blueprint, parse_blueprint
from reconciler.core.blueprint.policies import builtin_policies, load_policies
from reconciler.core.decide.decision import Action, decide
from reconciler.core.decide.governance import OperationRequest, Origin
from reconciler.core.problems import Severity
from reconciler.core.trail.proposal_metadata import ProposalMetadata
from tests.core.helpers import NOW, metrics, state

SOURCE = "blueprints/web/blueprint.yaml"
POLICIES = "blueprints/governance/policies.yaml"
INT32 = 2**31 - 1
NAN, INF = float("nan"), float("inf")
HUGE_INT = 10**30
HUGE_TEXT = "9" * 400


def _nested(dotted: str, value: object) -> dict[str, Any]:
    node: Any = value
    for part in reversed(dotted.split(".")):
        node = {part: node}
    return node


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _blueprint(fields: dict[str, object]) -> str:
    data: dict[str, Any] = {
        "metadata": {"name": "web", "version": "1.0.0"},
        "spec": {"scaling": {"min_replicas": 1, "max_replicas": 5}},
    }
    for dotted, value in fields.items():
        data = _merge(data, _nested(dotted, value))
    return yaml.safe_dump(data, sort_keys=False)


def _line_of(text: str, dotted: str) -> int:
    """The 1-based line of a field's value, found by YAML's own marks (not by the loader)."""
    node = yaml.compose(text)
    for part in dotted.split("."):
        assert isinstance(node, yaml.MappingNode)
        node = next(value for key, value in node.value if key.value == part)
    return int(node.start_mark.line) + 1


def _errors(text: str, **policies: object) -> list[Any]:
    loaded = builtin_policies()
    if policies:
        found, problems = load_policies(
            yaml.safe_dump(_nested_all(policies)).encode(), source=POLICIES
        )
        assert found is not None, [p.render() for p in problems]
        loaded = found
    blueprint, problems = load_blueprint(
        text.encode(), source=SOURCE, policies=loaded, expected_name="web"
    )
    errors = [p for p in problems if p.severity is Severity.ERROR]
    assert (blueprint is None) == bool(errors)
    return errors


def _nested_all(fields: dict[str, object]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for dotted, value in fields.items():
        data = _merge(data, _nested(dotted.replace("__", "."), value))
    return data


# ---------------------------------------------------------------------------------------------
# The rows: (field, value, passes). Fields that need a partner to be valid name it in `with_`.

_COUNTS = [
    "spec.scaling.target_replicas",
    "spec.scaling.scale_up_increment",
    "spec.scaling.scale_down_increment",
    "spec.reliability.max_restart_count",
    "governance.safety.circuit_breaker.failure_threshold",
    "governance.safety.rate_limits.max_operations_per_hour",
    "governance.safety.rate_limits.max_operations_per_day",
]
_DURATIONS = [
    "spec.scaling.cooldown_period",
    "spec.scaling.scale_down_stabilization",
    "spec.scaling.stabilization_period",
    "spec.reliability.health_check_timeout",
    "governance.approval_workflow.timeout",
    "governance.approval_workflow.rejection_cooloff",
    "governance.safety.cooldown.default_period",
    "governance.safety.circuit_breaker.failure_window",
    "governance.safety.circuit_breaker.reset_timeout",
]
_PERCENTS = [
    "spec.scaling.scale_up_threshold",
    "spec.performance.error_rate_max",
    "spec.performance.availability",
    "spec.resources.cpu.optimization_threshold",
]


def _rows() -> Iterator[Any]:
    def row(field: str, value: object, passes: bool, **extra: object) -> Any:
        label = "nan" if isinstance(value, float) and math.isnan(value) else repr(value)[:20]
        return pytest.param(field, value, passes, extra, id=f"{field}={label}")

    # Replicas: Kubernetes' int32 (max_replicas must stay >= min_replicas, so both move).
    yield row("spec.scaling.max_replicas", INT32, True)
    yield row("spec.scaling.max_replicas", INT32 + 1, False)
    yield row("spec.scaling.min_replicas", INT32, True, **{"spec.scaling.max_replicas": INT32})
    yield row("spec.scaling.min_replicas", INT32 + 1, False)
    for field in ("spec.scaling.max_replicas", "spec.scaling.min_replicas"):
        for bad in (NAN, INF, -INF, -1, HUGE_INT, 2.5):
            yield row(field, bad, False)
    for field in _COUNTS:
        yield row(field, INT32, True)
        for bad in (INT32 + 1, NAN, INF, -INF, -1, HUGE_INT):
            yield row(field, bad, False)
    yield row("governance.agent_authority.forbidden_operations", [{"operation": "delete_service", "alternatives": [{"operation": "scale_within_limits", "replicas": INT32}]}], True)  # fmt: skip
    yield row("governance.agent_authority.forbidden_operations", [{"operation": "delete_service", "alternatives": [{"operation": "scale_within_limits", "replicas": INT32 + 1}]}], False)  # fmt: skip
    # Durations: at most 365 days.
    for field in _DURATIONS:
        yield row(field, "365d", True)
        for bad in (
            "365d1ms",
            "366d",
            "99999999999999999999d",
            f"{HUGE_TEXT}s",
            "-5s",
            NAN,
            INF,
            60,
        ):
            yield row(field, bad, False)
    yield row("spec.performance.latency_p95", "365d", True)
    for bad in ("366d", "99999999999999999999d", "0ms", NAN, -INF):
        yield row("spec.performance.latency_p95", bad, False)
    # Ratios: finite, and utilizations, thresholds and rates at most 100 %.
    for field in _PERCENTS:
        yield row(field, "100%", True, **{"spec.scaling.scale_down_threshold": "30%"})
        for bad in ("100.1%", f"{HUGE_TEXT}%", NAN, INF, -INF, -0.5, "-5%"):
            yield row(field, bad, False)
    yield row("spec.scaling.target_cpu_utilization", "0%", False)
    yield row("spec.scaling.metrics", [{"type": "cpu", "weight": 1.0}], True)
    for bad in (NAN, INF, -INF, -0.1, 1.1, HUGE_INT):
        yield row("spec.scaling.metrics", [{"type": "cpu", "weight": bad}], False)
    # Quantities: CPU at most 100,000 cores, memory at most 1024Ti.
    yield row("spec.resources.cpu.request", "100000", True, **{"spec.resources.cpu.limit": 100000})
    yield row("spec.resources.cpu.request", "100000000m", True)
    for bad in ("100001", "100000001m", HUGE_TEXT, "99999999999999999999999", NAN, INF, -INF, -1):
        yield row("spec.resources.cpu.request", bad, False)
    yield row("spec.resources.memory.request", "1024Ti", True)
    yield row("spec.resources.memory.request", 1024**5, True)
    for bad in ("1025Ti", 1024**5 + 1, f"{HUGE_TEXT}Mi", NAN, INF, -INF, -1, HUGE_INT):
        yield row("spec.resources.memory.request", bad, False)
    yield row("spec.performance.throughput_min", "1000000000000000 req/s", True)
    yield row("spec.performance.throughput_min", "1000000000000001 req/s", False)
    yield row("spec.performance.throughput_min", f"{HUGE_TEXT} req/s", False)
    yield row("cost.cost_per_replica", "1000000000000000 USD", True)
    yield row("cost.cost_per_replica", f"{HUGE_TEXT} USD", False)


def _field_path(field: str, value: object) -> str:
    """Where the error points: inside a list value, at the number in it."""
    if field == "spec.scaling.metrics":
        return "spec.scaling.metrics[0].weight"
    if field.endswith("forbidden_operations"):
        return f"{field}[0].alternatives[0].replicas"
    return field


@pytest.mark.parametrize(("field", "value", "passes", "extra"), list(_rows()))
def test_a_value_at_its_limit_passes_and_one_past_it_is_an_error_at_its_line(
    field: str, value: object, passes: bool, extra: dict[str, object]
) -> None:
    text = _blueprint({**extra, field: value})
    errors = _errors(text)
    if passes:
        assert errors == [], [p.render() for p in errors]
        return
    assert len(errors) == 1, [p.render() for p in errors]
    problem = errors[0]
    assert problem.file == SOURCE
    assert problem.path == _field_path(field, value)
    if not isinstance(value, list):
        assert problem.line == _line_of(text, field)
    assert problem.hint  # every error says how to fix it
    assert problem.render().startswith(
        f"{SOURCE}:{problem.line}:{problem.column}: {problem.path}: "
    )


@pytest.mark.parametrize(
    ("value", "passes"),
    [(INT32, True), (1, True), (INT32 + 1, False), (0, False), (-1, False), (NAN, False),
     (INF, False), (HUGE_INT, False), ("10", False)],
)  # fmt: skip
def test_the_fleet_ceiling_is_itself_bounded(value: object, passes: bool) -> None:
    text = yaml.safe_dump({"limits": {"max_replicas": value}})
    policies, problems = load_policies(text.encode(), source=POLICIES)
    assert (policies is not None) == passes, [p.render() for p in problems]
    if not passes:
        (problem,) = problems
        assert (problem.file, problem.path, problem.line) == (POLICIES, "limits.max_replicas", 2)


@pytest.mark.parametrize(
    ("max_replicas", "passes"), [(49, True), (50, True), (51, False), (INT32, False)]
)
def test_no_blueprint_may_allow_more_replicas_than_the_fleet_ceiling(
    max_replicas: int, passes: bool
) -> None:
    text = _blueprint({"spec.scaling.max_replicas": max_replicas})
    errors = _errors(text, limits__max_replicas=50)
    if passes:
        assert errors == []
        return
    (problem,) = errors
    assert problem.path == "spec.scaling.max_replicas"
    assert problem.line == _line_of(text, "spec.scaling.max_replicas")
    assert "above the fleet ceiling of 50" in problem.message
    assert POLICIES in problem.message
    assert "at most 50" in problem.hint


def test_without_a_ceiling_the_limit_is_int32() -> None:
    assert builtin_policies().replica_ceiling == bounds.REPLICAS_MAX == INT32
    text = _blueprint({"spec.scaling.max_replicas": 50})
    blueprint, _ = load_blueprint(
        text.encode(), source=SOURCE, policies=builtin_policies(), expected_name="web"
    )
    assert blueprint is not None and blueprint.scaling.replica_ceiling == INT32


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("governance.safety.cooldown.default_period", "366d"),
        ("governance.safety.cooldown.default_period", "99999999999999999999d"),
        ("governance.approval_workflow.timeout", NAN),
        ("governance.safety.rate_limits.max_operations_per_day", INT32 + 1),
        ("governance.safety.circuit_breaker.failure_threshold", -INF),
        ("governance.proposals.max_new_per_run", HUGE_INT),
    ],
)
def test_the_global_policies_bound_their_values_too(field: str, value: object) -> None:
    text = yaml.safe_dump(_nested_all({field: value}))
    policies, problems = load_policies(text.encode(), source=POLICIES)
    assert policies is None
    (problem,) = problems
    assert (problem.file, problem.path) == (POLICIES, field)
    assert problem.line == _line_of(text, field)


# ---------------------------------------------------------------------------------------------
# The unit parsers themselves, and the schemas' agreement with `bounds`


@pytest.mark.parametrize(
    ("parse", "at_limit", "past_limit"),
    [
        (units.parse_duration, "365d", "365d1ms"),
        (units.parse_duration, "8760h", "8760h1s"),
        (units.parse_latency_ms, "365d", "366d"),
        (units.parse_cpu, "100000", "100000.001"),
        (units.parse_cpu, "100000000m", "100000001m"),
        (units.parse_cpu, 100000, 100000.5),
        (units.parse_memory, "1024Ti", "1025Ti"),
        (units.parse_memory, 1024**5, 1024**5 + 1),
        (units.parse_percent, "1000000%", "1000001%"),
        (units.parse_throughput, "1000000000000000 req/s", "1000000000000001 req/s"),
        (units.parse_money, "1000000000000000 USD", "1000000000000001 USD"),
    ],
)
def test_each_unit_parser_stops_at_its_limit(
    parse: Any, at_limit: object, past_limit: object
) -> None:
    parse(at_limit)
    with pytest.raises(units.UnitError, match="the most accepted") as caught:
        parse(past_limit)
    assert caught.value.hint.startswith("write at most ")


@pytest.mark.parametrize(
    "parse",
    [units.parse_duration, units.parse_latency_ms, units.parse_cpu, units.parse_memory,
     units.parse_percent, units.parse_throughput, units.parse_money],
)  # fmt: skip
@pytest.mark.parametrize(
    "value",
    [NAN, INF, -INF, HUGE_TEXT, f"{HUGE_TEXT}%", f"{HUGE_TEXT}d", f"{HUGE_TEXT}Mi",
     f"{HUGE_TEXT}m", f"{HUGE_TEXT} req/s", f"{HUGE_TEXT} USD"],
)  # fmt: skip
def test_no_unit_parser_lets_an_unusable_number_through(parse: Any, value: object) -> None:
    """Whatever the input, the answer is a finite number within bounds or a UnitError: never
    an OverflowError, a NaN or an infinity."""
    try:
        parsed = parse(value)
    except units.UnitError:
        return
    number = parsed.amount if isinstance(parsed, units.Money) else parsed
    assert math.isfinite(number) and abs(number) <= 1e21


def _numbers(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if isinstance(node.get("type"), str) and node["type"] in {"integer", "number"}:
            yield path, node
        for key, value in node.items():
            yield from _numbers(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _numbers(value, f"{path}/{index}")


@pytest.mark.parametrize("kind", ["blueprint", "policies"])
def test_every_number_in_the_schemas_has_a_maximum_from_bounds(kind: str) -> None:
    schema = json.loads(
        resources.files("reconciler.data").joinpath(f"{kind}.schema.json").read_text("utf-8")
    )
    allowed = {
        1,  # fractions and weights
        bounds.COUNT_MAX,
        bounds.REPLICAS_MAX,
        bounds.CPU_MAX_MILLICORES // 1000,  # CPU written in cores
        bounds.MEMORY_MAX_BYTES,
        bounds.BEHAVIOR_WINDOW_MAX_SECONDS,  # spec.scaling.behavior, as an HPA's
        bounds.BEHAVIOR_PERIOD_MAX_SECONDS,
    }
    found = list(_numbers(schema))
    assert found
    for path, node in found:
        assert node.get("maximum") in allowed, path


@pytest.mark.parametrize(
    ("ceiling", "replicas", "increment", "action", "target", "desired"),
    [
        # Below the ceiling, a step past max_replicas is proposed for approval.
        (6, 5, 1, Action.SCALE_UP, 5, 6),
        (10, 4, 3, Action.SCALE_UP, 5, 6),
        # At the ceiling nothing beyond it is proposed: no approval could make it valid.
        (5, 5, 1, Action.NONE, 5, 5),
        (5, 4, 3, Action.SCALE_UP, 5, 5),
    ],
)
def test_a_decision_never_proposes_replicas_beyond_the_fleet_ceiling(
    ceiling: int, replicas: int, increment: int, action: Action, target: int, desired: int
) -> None:
    policies, problems = load_policies(
        yaml.safe_dump({"limits": {"max_replicas": ceiling}}).encode(), source=POLICIES
    )
    assert policies is not None, problems
    text = _blueprint(
        {"spec.scaling.scale_up_increment": increment, "spec.scaling.scale_down_threshold": "40%"}
    )
    service = parse_blueprint(text.encode(), source=SOURCE, policies=policies)
    decision = decide(service, state(replicas), metrics(0.99, 0.99, 300), now=NOW)
    assert (decision.action, decision.target_replicas, decision.desired_replicas) == (
        action,
        target,
        desired,
    ), decision.rationale
    assert decision.beyond_limits is None or decision.beyond_limits <= ceiling
    if action is Action.NONE:
        assert "fleet ceiling" in decision.rationale


# ---------------------------------------------------------------------------------------------
# Requests and approvals: the same limits, and the fleet ceiling


def _request(target: int | None = None, **parameters: object) -> OperationRequest:
    return OperationRequest(
        operation="scale" if target is not None else "resources",
        service="web",
        origin=Origin.REQUEST,
        target_replicas=target,
        parameters=parameters,
    )


def _service(ceiling: int | None = None) -> Any:
    policies = builtin_policies()
    if ceiling is not None:
        loaded, _ = load_policies(
            yaml.safe_dump({"limits": {"max_replicas": ceiling}}).encode(), source=POLICIES
        )
        assert loaded is not None
        policies = loaded
    return parse_blueprint(_blueprint({}).encode(), source=SOURCE, policies=policies)


@pytest.mark.parametrize(
    ("ceiling", "request_", "option", "words"),
    [
        (None, _request(INT32), None, ""),
        (None, _request(INT32 + 1), "--replicas", "the most Kubernetes can store"),
        (None, _request(-3), "--replicas", "below 0"),
        (50, _request(50), None, ""),
        (50, _request(51), "--replicas", "above the fleet ceiling of 50"),
        (50, _request(INT32), "--replicas", "above the fleet ceiling of 50"),
        (None, _request(cpu_request=bounds.CPU_MAX_MILLICORES), None, ""),
        (None, _request(cpu_request=bounds.CPU_MAX_MILLICORES + 1), "--cpu", "the most accepted"),
        (None, _request(cpu_request=0), "--cpu", "positive"),
        (None, _request(cpu_request=-5), "--cpu", "positive"),
        (None, _request(cpu_request=NAN), "--cpu", "positive"),
        (None, _request(memory_request=bounds.MEMORY_MAX_BYTES), None, ""),
        (None, _request(memory_request=bounds.MEMORY_MAX_BYTES + 1), "--memory", "1024Ti"),
        (None, _request(memory_request=INF), "--memory", "positive"),
    ],
)
def test_a_request_out_of_bounds_is_a_usage_error_naming_its_option(
    ceiling: int | None, request_: OperationRequest, option: str | None, words: str
) -> None:
    service = _service(ceiling)
    current = state(2, cpu_request=100, memory_request=512 * 1024**2)
    if option is None:
        shaped = shape_request(request_, service, current)
        assert shaped.operation in {
            "scale_beyond_limits",
            "change_resource_limits_beyond_10_percent",
        }
        return
    with pytest.raises(RequestError) as caught:
        shape_request(request_, service, current)
    assert caught.value.exit_code == 2
    assert str(caught.value).startswith(f"{option}: ")
    assert words in str(caught.value)
    assert caught.value.hint


@pytest.mark.parametrize(
    ("ceiling", "metadata", "refused"),
    [
        (None, {"kind": "request", "target_replicas": INT32}, False),
        (50, {"kind": "request", "target_replicas": 50}, False),
        (50, {"kind": "request", "target_replicas": 51}, True),
        (None, {"kind": "request", "target_replicas": INT32 + 1}, True),
        (None, {"kind": "request", "target_replicas": -3}, True),
        (None, {"kind": "request", "target_replicas": 2.5}, True),
        (None, {"kind": "request", "target_replicas": "4"}, True),
        (None, {"kind": "request", "parameters": {"cpu_request": 10**20}}, True),
        (None, {"kind": "request", "parameters": {"memory_request": -1}}, True),
        (None, {"kind": "request", "parameters": {"cpu_request_before": 10**20}}, False),
        # A blueprint proposal carries its numbers in the blueprint, which is validated.
        (50, {"kind": "blueprint", "target_replicas": 51}, False),
    ],
)
def test_an_approved_request_out_of_bounds_is_refused(
    ceiling: int | None, metadata: dict[str, object], refused: bool
) -> None:
    reason = unusable_reason(ProposalMetadata.from_json(metadata), _service(ceiling))
    assert bool(reason) == refused, reason
    if refused:
        assert reason.startswith("out of bounds: ")


@pytest.mark.parametrize(
    "text",
    ["target_replicas < 1" + "0" * 400, "latency_p95 < " + "9" * 400 + "ms",
     "change_percent < 100000000000000000000%"],
)  # fmt: skip
def test_a_condition_with_a_number_too_large_is_refused_where_it_is_written(text: str) -> None:
    with pytest.raises(ConditionError, match="too large a number") as caught:
        parse_condition(text)
    assert caught.value.column == text.index(" < ") + 4


def test_arithmetic_beyond_a_float_in_a_condition_is_unknown_not_infinite() -> None:
    big = "1000000000000000"
    condition = parse_condition(f"target_replicas * {big} * {big} * {big} * {big} * {big} * {big} * {big} * {big} * {big} * {big} * {big} * {big} * {big} * {big} * {big} * {big} * {big} * {big} * {big} * {big} * {big} > 1")  # fmt: skip
    assert condition.evaluate({"target_replicas": 3.0}) is None
