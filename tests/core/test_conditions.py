"""The condition language: syntax, kinds, three-valued evaluation, and error columns."""

import pytest

from reconciler.core.blueprint.conditions import NAMES, ConditionError, parse_condition

SEED = "target_replicas >= min_replicas AND target_replicas <= max_replicas"


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        (SEED, {"target_replicas": 3, "min_replicas": 1, "max_replicas": 5}, True),
        (SEED, {"target_replicas": 6, "min_replicas": 1, "max_replicas": 5}, False),
        (SEED, {"target_replicas": 0, "min_replicas": 1, "max_replicas": 5}, False),
        (
            "restart_count > 0 and restart_count < max_restart_count",
            {"restart_count": 2, "max_restart_count": 3},
            True,
        ),
        ("NOT (error_rate > 1%)", {"error_rate": 0.005}, True),
        ("latency_p95 < 200ms", {"latency_p95": 0.18}, True),
        ("latency_p95 < 0.2s", {"latency_p95": 0.25}, False),
        ("change_percent <= 10%", {"change_percent": 0.1}, True),
        ("target_replicas <= max_replicas * 150%", {"target_replicas": 7, "max_replicas": 5}, True),
        (
            "target_replicas - current_replicas <= 2",
            {"target_replicas": 5, "current_replicas": 2},
            False,
        ),
        (
            "current_replicas / max_replicas >= 80%",
            {"current_replicas": 4, "max_replicas": 5},
            True,
        ),
        ("hour_utc >= 9 && hour_utc < 17", {"hour_utc": 12}, True),
        ("target_replicas = 3 || target_replicas == 4", {"target_replicas": 4}, True),
        ("-replica_change > 1", {"replica_change": -2}, True),
        ("true", {}, True),
    ],
)
def test_evaluate(text: str, values: dict[str, float], expected: bool) -> None:
    assert parse_condition(text).evaluate(values) is expected


def test_unknown_values_make_comparisons_unknown() -> None:
    condition = parse_condition("latency_p95 < 200ms AND error_rate < 1%")
    assert condition.evaluate({"latency_p95": 0.1}) is None
    assert condition.missing({"latency_p95": 0.1}) == ["error_rate"]
    # A known false side decides an AND; a known true side decides an OR.
    assert condition.evaluate({"latency_p95": 0.3}) is False
    assert (
        parse_condition("latency_p95 < 200ms OR error_rate < 1%").evaluate({"latency_p95": 0.1})
        is True
    )


def test_division_by_zero_is_unknown_not_a_crash() -> None:
    assert (
        parse_condition("current_replicas / min_replicas > 1").evaluate(
            {"current_replicas": 2, "min_replicas": 0}
        )
        is None
    )


@pytest.mark.parametrize(
    ("text", "column", "message", "hint"),
    [
        ("change_percent <= 10", 16, "cannot compare change_percent", "10%"),
        ("target_replicas >= min_replica", 20, "unknown name 'min_replica'", "min_replicas"),
        ("target_replicas <= max_replicas <= 5", 33, "cannot be chained", "AND"),
        ("target_replicas", 1, "true or false", "compare"),
        ("(target_replicas > 1", 21, r"missing \)", "close"),
        ("latency_p95 < 200", 13, "cannot compare latency_p95", "200ms"),
        ("target_replicas > 1 @ 2", 21, "unexpected character '@'", ""),
        ("target_replicas > 1 target_replicas", 21, "unexpected 'target_replicas'", "AND"),
        ("", 1, "empty", ""),
        ("target_replicas > ", 19, "ends too early", ""),
        ("target_replicas AND max_replicas", 17, "needs comparisons", ""),
        ("target_replicas * max_replicas > 1", 17, "cannot multiply", ""),
        ("target_replicas > 1 OR 5", 21, "needs comparisons", ""),
        ("target_replicas > 1 AND NOT 5", 25, "needs comparisons", ""),
    ],
)
def test_errors_point_at_the_column(text: str, column: int, message: str, hint: str) -> None:
    with pytest.raises(ConditionError, match=message) as caught:
        parse_condition(text)
    assert caught.value.column == column
    assert hint in caught.value.hint


def test_keywords_in_any_case_and_names_listed() -> None:
    condition = parse_condition("target_replicas > 1 aNd NoT target_replicas > 5 Or false")
    assert condition.names == {"target_replicas"}
    assert condition.evaluate({"target_replicas": 3}) is True
    assert {"target_replicas", "change_percent", "restart_count"} <= set(NAMES)


def test_no_python_evaluation() -> None:
    for attack in ("__import__('os').system('true')", "open('/etc/passwd')", "1 if 1 else 2"):
        with pytest.raises(ConditionError):
            parse_condition(attack)


# AND binds tighter than OR, NOT tighter than AND, as in SQL and Python; arithmetic binds tighter
# than comparisons. Each row reads differently under the other precedence.
@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        # true OR (false AND false): true; (true OR false) AND false would be false.
        (
            "hour_utc < 9 OR hour_utc > 20 AND hour_utc < 5",
            {"hour_utc": 8},
            True,
        ),
        # (false AND true) OR true: true; false AND (true OR true) would be false.
        (
            "target_replicas > 5 AND target_replicas > 1 OR target_replicas < 4",
            {"target_replicas": 3},
            True,
        ),
        # (NOT false) AND false: false; NOT (false AND false) would be true.
        ("NOT target_replicas > 5 AND target_replicas > 5", {"target_replicas": 3}, False),
        # (NOT true) OR true: true; NOT (true OR true) would be false.
        ("NOT target_replicas > 1 OR target_replicas > 1", {"target_replicas": 3}, True),
        # Parentheses override: (true OR false) AND false.
        (
            "(hour_utc < 9 OR hour_utc > 20) AND hour_utc < 5",
            {"hour_utc": 8},
            False,
        ),
        # 1 + 2 * 3 is 7, not 9; 8 - 2 - 1 is 5, not 7; 12 / 2 / 3 is 2, not 18.
        ("target_replicas == 1 + 2 * 3", {"target_replicas": 7}, True),
        ("target_replicas == 8 - 2 - 1", {"target_replicas": 5}, True),
        ("target_replicas == 12 / 2 / 3", {"target_replicas": 2}, True),
        ("-target_replicas + 4 == 1", {"target_replicas": 3}, True),
    ],
)
def test_precedence(text: str, values: dict[str, float], expected: bool) -> None:
    assert parse_condition(text).evaluate(values) is expected


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        # Comparisons are exact up to float noise (1e-9) in both directions.
        ("change_percent <= 10%", {"change_percent": 0.1 + 1e-12}, True),
        ("change_percent <= 10%", {"change_percent": 0.1001}, False),
        ("change_percent < 10%", {"change_percent": 0.1}, False),
        ("change_percent < 10%", {"change_percent": 0.0999}, True),
        ("change_percent >= 10%", {"change_percent": 0.1 - 1e-12}, True),
        ("change_percent >= 10%", {"change_percent": 0.0999}, False),
        ("change_percent > 10%", {"change_percent": 0.1}, False),
        ("change_percent > 10%", {"change_percent": 0.1001}, True),
        ("change_percent == 30%", {"change_percent": 0.1 * 3}, True),
        ("change_percent != 30%", {"change_percent": 0.1 * 3}, False),
        ("change_percent != 30%", {"change_percent": 0.31}, True),
        # Unknown on one side of AND/OR: the known side decides when it can.
        ("error_rate > 1% AND target_replicas > 1", {"target_replicas": 0}, False),
        ("error_rate > 1% AND target_replicas > 1", {"target_replicas": 3}, None),
        ("error_rate > 1% OR target_replicas > 1", {"target_replicas": 3}, True),
        ("error_rate > 1% OR target_replicas > 1", {"target_replicas": 0}, None),
        ("NOT error_rate > 1%", {}, None),
        ("-replica_change > 1", {}, None),
        ("target_replicas + current_replicas > 1", {"target_replicas": 3}, None),
    ],
)
def test_comparison_edges_and_unknowns(
    text: str, values: dict[str, float], expected: bool | None
) -> None:
    assert parse_condition(text).evaluate(values) is expected


# Float noise: a comparison treats values within 1e-9 as equal, and exactly 1e-9 apart as still
# equal, on every operator. (0.1 - 1e-9 is computed here as the evaluator computes it.)
@pytest.mark.parametrize(
    ("text", "value", "expected"),
    [
        ("change_percent < 10%", 0.1 - 1e-9, False),
        ("change_percent <= 10%", 0.1 + 1e-9, True),
        ("change_percent > 10%", 0.1 + 1e-9, False),
        ("change_percent >= 10%", 0.1 - 1e-9, True),
        ("change_percent == 0%", 1e-9, True),
        ("change_percent != 0%", 1e-9, False),
    ],
)
def test_values_exactly_one_noise_step_apart_are_equal(
    text: str, value: float, expected: bool
) -> None:
    assert parse_condition(text).evaluate({"change_percent": value}) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("target_replicas > 5 OR target_replicas < 1", False),
        ("target_replicas > 5 OR target_replicas > 1", True),
        ("target_replicas > 1 AND target_replicas < 5", True),
        ("target_replicas > 1 AND target_replicas > 5", False),
        ("NOT target_replicas > 5", True),
        ("false OR false", False),
        ("true AND true", True),
    ],
)
def test_known_logic_is_never_unknown(text: str, expected: bool) -> None:
    assert parse_condition(text).evaluate({"target_replicas": 3}) is expected


# Each duration unit at its exact size: a latency of exactly 1m is not above `1m`, half a second
# more is; the same for an hour and a day.
@pytest.mark.parametrize(
    ("text", "seconds", "expected"),
    [
        ("latency_p95 > 1m", 60.0, False),
        ("latency_p95 > 1m", 60.5, True),
        ("latency_p95 > 1h", 3600.0, False),
        ("latency_p95 > 1h", 3600.5, True),
        ("latency_p95 > 1d", 86400.0, False),
        ("latency_p95 > 1d", 86400.5, True),
        ("latency_p95 > 2s", 2.0, False),
        ("latency_p95 > 2s", 2.0005, True),
        ("latency_p95 > 2ms", 0.002, False),
        ("latency_p95 > 2ms", 0.0025, True),
    ],
)
def test_each_duration_unit_at_its_exact_size(text: str, seconds: float, expected: bool) -> None:
    assert parse_condition(text).evaluate({"latency_p95": seconds}) is expected


def test_the_largest_number_a_condition_may_hold_is_allowed_and_no_more() -> None:
    assert parse_condition("target_replicas <= 1000000000000000").evaluate({"target_replicas": 3})
    with pytest.raises(ConditionError, match="too large a number"):
        parse_condition("target_replicas <= 1000000000000001")


def test_not_applies_to_a_not() -> None:
    """NOT binds to what follows it, itself a NOT: NOT NOT a is a."""
    assert parse_condition("NOT NOT target_replicas > 5").evaluate({"target_replicas": 3}) is False
    assert parse_condition("NOT NOT target_replicas > 1").evaluate({"target_replicas": 3}) is True
