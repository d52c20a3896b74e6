"""The condition language: syntax, kinds, three-valued evaluation, and error columns."""

import pytest

from reconciler.core.blueprint.condition_syntax import (
    Binary,
    Kind,
    Literal,
    Name,
    Node,
    Unary,
    name_tokens,
    parse_tree,
)
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


# Every refusal, with the column it points at, its whole message and its whole hint: the column
# is where the loader places the caret, the hint is the fix the author is told.
@pytest.mark.parametrize(
    ("text", "column", "message", "hint"),
    [
        (
            "target_replicas > 1 @ 2",
            21,
            "unexpected character '@'",
            "conditions use names, numbers, AND/OR/NOT, comparisons and + - * /",
        ),
        ("", 1, "the condition is empty", "write a comparison or remove it"),
        ("   ", 1, "the condition is empty", "write a comparison or remove it"),
        (
            "target_replicas > 1 target_replicas",
            21,
            "unexpected 'target_replicas'",
            "join comparisons with AND or OR",
        ),
        (
            "target_replicas <= max_replicas <= 5",
            33,
            "comparisons cannot be chained",
            "write `a <= b AND b <= c` instead of `a <= b <= c`",
        ),
        ("(target_replicas > 1", 21, "missing )", "close the parenthesis"),
        ("(target_replicas > 1 OR", 24, "the condition ends too early", "complete the expression"),
        ("target_replicas > ", 19, "the condition ends too early", "complete the expression"),
        ("target_replicas > * 2", 19, "unexpected '*'", "expected a value here"),
        ("target_replicas > + 2", 19, "unexpected '+'", "expected a value here"),
        ("target_replicas > )", 19, "unexpected ')'", "expected a value here"),
        (
            "target_replicas >= min_replica",
            20,
            "unknown name 'min_replica'",
            "did you mean min_replicas?",
        ),
        ("zzz > 1", 1, "unknown name 'zzz'", "see the list of condition names"),
        (
            "target_replicas > 1 AND NOT 5",
            25,
            "NOT needs comparisons on both sides",
            "compare values, for example `target_replicas <= max_replicas`",
        ),
        (
            "target_replicas AND max_replicas > 1",
            17,
            "AND needs comparisons on both sides",
            "compare values, for example `target_replicas <= max_replicas`",
        ),
        (
            "target_replicas > 1 AND max_replicas",
            21,
            "AND needs comparisons on both sides",
            "compare values, for example `target_replicas <= max_replicas`",
        ),
        (
            "target_replicas > 1 OR 5",
            21,
            "OR needs comparisons on both sides",
            "compare values, for example `target_replicas <= max_replicas`",
        ),
        (
            "target_replicas",
            1,
            "a condition must be true or false",
            "compare values, for example `target_replicas <= max_replicas`",
        ),
        ("-(target_replicas > 1)", 1, "cannot negate a true/false value", "use NOT"),
        ("- true", 1, "cannot negate a true/false value", "use NOT"),
        (
            "(target_replicas > 1) + 1 > 2",
            23,
            "'+' cannot use a true/false value",
            "compare numbers",
        ),
        ("1 * true > 0", 3, "'*' cannot use a true/false value", "compare numbers"),
        (
            "change_percent <= 10",
            16,
            "cannot compare change_percent (percentage) with a number",
            "write the number with its unit, for example 10%",
        ),
        (
            "10 >= change_percent",
            4,
            "cannot compare change_percent (percentage) with a number",
            "write the number with its unit, for example 10%",
        ),
        (
            "200 > latency_p95",
            5,
            "cannot compare latency_p95 (duration) with a number",
            "write the number with its unit, for example 200ms or 5m",
        ),
        (
            "latency_p95 + 1 > 1s",
            13,
            "cannot compare latency_p95 (duration) with a number",
            "write the number with its unit, for example 200ms or 5m",
        ),
        (
            "latency_p95 < change_percent",
            13,
            "cannot compare latency_p95 (duration) with a percentage",
            "write the number with its unit, for example 200ms or 5m",
        ),
        (
            "target_replicas > change_percent",
            17,
            "cannot compare target_replicas (count) with a percentage",
            "write the number with its unit, for example 3",
        ),
        (
            "change_percent > target_replicas",
            16,
            "cannot compare change_percent (percentage) with a count",
            "write the number with its unit, for example 10%",
        ),
        (
            "latency_p95 * 2 < 200",
            17,
            "cannot compare this value (duration) with a number",
            "write the number with its unit, for example 200ms or 5m",
        ),
        (
            "latency_p95 * 2 > 1",
            17,
            "cannot compare this value (duration) with a number",
            "write the number with its unit, for example 200ms or 5m",
        ),
        ("target_replicas * max_replicas > 1", 17, "cannot multiply a count by a count", ""),
        ("latency_p95 * 1s > 1s", 13, "cannot multiply a duration by a duration", ""),
        ("latency_p95 / target_replicas > 1s", 13, "cannot divide a duration by a count", ""),
        ("2 / latency_p95 > 1", 3, "cannot divide a number by a duration", ""),
        (
            "cpu_utilization > 1.5",
            17,
            "cannot compare cpu_utilization (percentage) with a number",
            "write the number with its unit, for example 10%",
        ),
        (
            "cpu_utilization > -0.5",
            17,
            "cannot compare cpu_utilization (percentage) with a number",
            "write the number with its unit, for example 10%",
        ),
        (
            "change_percent * 2 > 0.5 * 2",
            20,
            "cannot compare this value (percentage) with a number",
            "write the number with its unit, for example 10%",
        ),
    ],
)
def test_each_refusal_at_its_column_with_its_words(
    text: str, column: int, message: str, hint: str
) -> None:
    with pytest.raises(ConditionError) as caught:
        parse_condition(text)
    assert (str(caught.value), caught.value.column, caught.value.hint) == (message, column, hint)


def test_too_large_a_number_is_named_by_its_first_24_characters() -> None:
    text = "target_replicas <= " + "1" * 30
    with pytest.raises(ConditionError) as caught:
        parse_condition(text)
    assert (str(caught.value), caught.value.column, caught.value.hint) == (
        "1" * 24 + " is too large a number",
        20,
        "write a number of at most 1e+15",
    )


def test_a_number_beyond_a_float_is_too_large_too() -> None:
    with pytest.raises(ConditionError, match="too large a number") as caught:
        parse_condition("target_replicas <= " + "9" * 400)
    assert caught.value.column == 20


# The bound applies to the value in seconds or as a fraction, after the unit: 10^15 + 1
# milliseconds are within it, 10^15 days are not, 10^17 % is a fraction of 10^15.
@pytest.mark.parametrize(
    ("text", "allowed"),
    [
        ("latency_p95 < 1000000000000001ms", True),
        ("latency_p95 < 1000000000000000d", False),
        ("latency_p95 < 16666666666666m", True),
        ("latency_p95 < 16666666666667m", False),
        ("change_percent < 100000000000000000%", True),
        ("change_percent < 100000000000000100%", False),
    ],
)
def test_the_bound_is_on_the_value_after_its_unit(text: str, allowed: bool) -> None:
    if allowed:
        assert parse_condition(text).evaluate({"latency_p95": 1.0, "change_percent": 1.0})
    else:
        with pytest.raises(ConditionError, match="too large a number"):
            parse_condition(text)


# What each kind becomes under arithmetic: a count scaled by a number stays a count, a duration
# by a percentage stays a duration, a kind over itself is a ratio. Each row would be refused, or
# evaluate otherwise, if the kind came out different.
@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("latency_p95 * 2 > 1s", {"latency_p95": 0.6}, True),
        ("latency_p95 * 2 > 1s", {"latency_p95": 0.4}, False),
        ("2 * latency_p95 > 1s", {"latency_p95": 0.6}, True),
        ("latency_p95 * 50% < 100ms", {"latency_p95": 0.15}, True),
        ("50% * latency_p95 < 100ms", {"latency_p95": 0.25}, False),
        ("change_percent * 2 > 10%", {"change_percent": 0.06}, True),
        ("2 * change_percent > 10%", {"change_percent": 0.04}, False),
        ("change_percent * change_percent < 1%", {"change_percent": 0.09}, True),
        ("2 * 3 == 6", {}, True),
        ("2 * 3 > 0.5", {}, True),
        ("target_replicas * 2 > 5", {"target_replicas": 3}, True),
        ("latency_p95 / 2 > 100ms", {"latency_p95": 0.3}, True),
        ("latency_p95 / 50% > 500ms", {"latency_p95": 0.3}, True),
        (
            "latency_p95 / latency_p95_target > 150%",
            {"latency_p95": 0.4, "latency_p95_target": 0.2},
            True,
        ),
        ("latency_p95 + 1s > 2s", {"latency_p95": 1.5}, True),
        ("change_percent + 0.1 > 50%", {"change_percent": 0.45}, True),
        ("0.1 + change_percent > 50%", {"change_percent": 0.35}, False),
        ("1 + target_replicas == 4", {"target_replicas": 3}, True),
        ("target_replicas + 0 > 2", {"target_replicas": 3}, True),
        ("target_replicas - 0 > 2", {"target_replicas": 3}, True),
        ("target_replicas * 1 > 2", {"target_replicas": 3}, True),
        ("target_replicas / 1 > 2", {"target_replicas": 3}, True),
        ("target_replicas / 2 == 1.5", {"target_replicas": 3}, True),
        ("-target_replicas == -3", {"target_replicas": 3}, True),
        ("cpu_utilization > 0", {"cpu_utilization": 0.5}, True),
        ("cpu_utilization < 1", {"cpu_utilization": 0.5}, True),
        ("cpu_utilization >= 0.8", {"cpu_utilization": 0.8}, True),
        ("0.8 < cpu_utilization", {"cpu_utilization": 0.8}, False),
        ("0.8 < cpu_utilization", {"cpu_utilization": 0.81}, True),
        ("change_percent < .5", {"change_percent": 0.4}, True),
        ("change_percent < 5.%", {"change_percent": 0.04}, True),
    ],
)
def test_kinds_under_arithmetic(text: str, values: dict[str, float], expected: bool) -> None:
    assert parse_condition(text).evaluate(values) is expected


# A result beyond a float is unknown, like a division by zero: no infinity reaches a comparison.
@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("target_replicas * 10 > 1", 1e308),
        ("target_replicas + target_replicas > 1", 1e308),
        ("-target_replicas - target_replicas < 1", 1e308),
        ("target_replicas / 0.5 > 1", 1e308),
    ],
)
def test_a_result_beyond_a_float_is_unknown(text: str, value: float) -> None:
    assert parse_condition(text).evaluate({"target_replicas": value}) is None


@pytest.mark.parametrize(
    ("length", "parses"),
    [(2000, True), (2001, False)],
)
def test_a_condition_may_be_2000_characters_long(length: int, parses: bool) -> None:
    text = "target_replicas > 1".ljust(length)
    if parses:
        assert parse_condition(text).evaluate({"target_replicas": 2}) is True
    else:
        with pytest.raises(ConditionError) as caught:
            parse_condition(text)
        assert (str(caught.value), caught.value.column, caught.value.hint) == (
            "the condition is longer than 2000 characters",
            1,
            "shorten it",
        )


def test_the_source_is_kept_without_surrounding_space() -> None:
    condition = parse_condition("  target_replicas > 1 \n")
    assert (condition.source, str(condition)) == ("target_replicas > 1", "target_replicas > 1")
    assert condition.render_with({"target_replicas": 2}) == "2 > 1"


# The audit shows a condition with each name replaced by its value in the name's unit.
@pytest.mark.parametrize(
    ("text", "values", "rendered"),
    [
        (SEED, {"target_replicas": 3, "min_replicas": 1, "max_replicas": 5}, "3 >= 1 AND 3 <= 5"),
        (SEED, {"target_replicas": 3}, "3 >= min_replicas AND 3 <= max_replicas"),
        ("restart_count>0", {"restart_count": 2}, "2>0"),
        ("(restart_count > 0)", {"restart_count": 0}, "(0 > 0)"),
        ("target_replicas > 2", {"target_replicas": 2.123456}, "2.1235 > 2"),
        ("change_percent <= 10%", {"change_percent": 0.123456}, "12.35% <= 10%"),
        ("change_percent <= 10%", {"change_percent": 0.1}, "10% <= 10%"),
        ("latency_p95 < 200ms", {"latency_p95": 0.12346}, "123.5ms < 200ms"),
        ("latency_p95 < 2s", {"latency_p95": 1.0}, "1s < 2s"),
        ("latency_p95 < 2s", {"latency_p95": 0.999}, "999ms < 2s"),
        ("latency_p95 < 2s", {"latency_p95": 2.345678}, "2.35s < 2s"),
    ],
)
def test_render_with_puts_each_value_in_its_unit(
    text: str, values: dict[str, float], rendered: str
) -> None:
    assert parse_condition(text).render_with(values) == rendered


def test_missing_lists_the_unknown_names_in_order() -> None:
    condition = parse_condition("weighted_utilization > 50% OR error_rate > 1% OR hour_utc > 3")
    assert condition.missing({"hour_utc": 4}) == ["error_rate", "weighted_utilization"]
    assert condition.missing({"hour_utc": 0, "error_rate": 0, "weighted_utilization": 0}) == []
    assert condition.evaluate({"hour_utc": 4}) is True


# The tree the parser builds, each node at the column of its operator or its first character:
# AND under OR, NOT under AND, comparisons under NOT, sums under comparisons, products under
# sums, unary minus under products, and left to right within a level.
@pytest.mark.parametrize(
    ("text", "tree"),
    [
        (
            "target_replicas > 3",
            Binary(">", Name("target_replicas", 1), Literal(3.0, Kind.NUMBER, 19), 17),
        ),
        (
            "x OR y AND NOT z",
            Binary(
                "or",
                Name("x", 1),
                Binary("and", Name("y", 6), Unary("not", Name("z", 16), 12), 8),
                3,
            ),
        ),
        (
            "-x * 2 + 3 / y - 1 < 10%",
            Binary(
                "<",
                Binary(
                    "-",
                    Binary(
                        "+",
                        Binary(
                            "*",
                            Unary("-", Name("x", 2), 1),
                            Literal(2.0, Kind.NUMBER, 6),
                            4,
                        ),
                        Binary("/", Literal(3.0, Kind.NUMBER, 10), Name("y", 14), 12),
                        8,
                    ),
                    Literal(1.0, Kind.NUMBER, 18),
                    16,
                ),
                Literal(0.1, Kind.PERCENT, 22),
                20,
            ),
        ),
        (
            "NOT (a || b) && !c",
            Binary(
                "and",
                Unary("not", Binary("or", Name("a", 6), Name("b", 11), 8), 1),
                Unary("not", Name("c", 18), 17),
                14,
            ),
        ),
        (
            "true != false",
            Binary("!=", Literal(1.0, Kind.BOOL, 1), Literal(0.0, Kind.BOOL, 9), 6),
        ),
        (
            "1.5h >= 2 * .5ms",
            Binary(
                ">=",
                Literal(5400.0, Kind.DURATION, 1),
                Binary("*", Literal(2.0, Kind.NUMBER, 9), Literal(0.0005, Kind.DURATION, 13), 11),
                6,
            ),
        ),
        ("a = 1", Binary("==", Name("a", 1), Literal(1.0, Kind.NUMBER, 5), 3)),
    ],
)
def test_the_tree_of_each_precedence_level(text: str, tree: Node) -> None:
    assert parse_tree(text) == tree


def test_name_tokens_are_the_names_at_their_columns() -> None:
    assert name_tokens("a AND NOT b_2 > 3 OR true") == [("a", 1), ("b_2", 11)]


def test_a_refusal_without_a_hint_has_an_empty_one() -> None:
    error = ConditionError("cannot divide a count by a duration", 7)
    assert (str(error), error.column, error.hint) == ("cannot divide a count by a duration", 7, "")


# The names a condition uses are found under NOT and under a minus too: they are the ones an
# unknown result is explained by.
@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("NOT error_rate > 1%", {"error_rate"}),
        ("-replica_change > 1", {"replica_change"}),
        ("NOT -replica_change > restart_count", {"replica_change", "restart_count"}),
        ("true", set()),
    ],
)
def test_names_under_not_and_minus(text: str, names: set[str]) -> None:
    condition = parse_condition(text)
    assert condition.names == names
    assert condition.missing({}) == sorted(names)
