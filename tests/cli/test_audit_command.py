"""`reconciler audit` filters by time, and bad option values are usage errors (exit 2) that
name the option; `sim advance` explains a negative duration."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.scenarios.conftest import Scenario, init_repo


@pytest.fixture
def trail(tmp_path: Path) -> Scenario:
    """Records at three moments: 15:30 (a scale-up), 16:30 and 17:30 (requested scale-ups).

    The virtual clock ends at 17:30, so `--since 30m` means 17:00 and `--until 90m` 16:00.
    """
    scenario = Scenario(tmp_path)
    init_repo(tmp_path)
    scenario.cli("sim", "init", "--scenario", "seed")
    scenario.cli("run")
    scenario.cli("sim", "advance", "1h")
    scenario.cli("request", "todo-frontend", "scale", "--replicas", "4")
    scenario.cli("sim", "advance", "1h")
    scenario.cli("request", "todo-frontend", "scale", "--replicas", "5")
    return scenario


def _times(scenario: Scenario, *args: str) -> set[str]:
    records = scenario.json("audit", *args)["records"]  # type: ignore[index]
    return {record["timestamp"] for record in records}  # type: ignore[attr-defined]


def test_since_and_until_select_a_time_range(trail: Scenario) -> None:
    everything = {"2026-02-10T15:30:00Z", "2026-02-10T16:30:00Z", "2026-02-10T17:30:00Z"}
    assert _times(trail) == everything
    assert _times(trail, "--since", "30m") == {"2026-02-10T17:30:00Z"}
    assert _times(trail, "--until", "90m") == {"2026-02-10T15:30:00Z"}
    assert _times(trail, "--since", "90m", "--until", "30m") == {"2026-02-10T16:30:00Z"}
    # Times and durations mix, and the ends are included.
    assert _times(trail, "--since", "2026-02-10T16:30:00Z", "--until", "2026-02-10T17:30:00Z") == {
        "2026-02-10T16:30:00Z",
        "2026-02-10T17:30:00Z",
    }
    text = trail.cli("audit", "--since", "30m", "-e", "operation_executed").output
    assert "2026-02-10 17:30:00Z  todo-frontend  operation_executed" in text
    assert "16:30" not in text and "15:30" not in text


def test_a_reversed_range_is_a_usage_error(trail: Scenario) -> None:
    result = trail.cli("audit", "--since", "1m", "--until", "2h", expect=2)
    assert "--since 1m (2026-02-10T17:29:00Z) is later than --until 2h (2026-02-10T15:30:00Z)" in (
        result.output
    )
    assert "no records match" not in result.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ("-e", "nope"),
            [
                "Invalid value for '--event' / '-e'",
                "unknown event type 'nope'",
                "decision_made, operation_requested",
            ],
        ),
        (
            ("--since", "yesterday"),
            [
                "Invalid value for '--since'",
                "'yesterday' is neither a duration nor a time",
                "2026-02-10T15:30:00Z",
            ],
        ),
        (
            ("--until", "soon"),
            ["Invalid value for '--until'", "'soon' is neither a duration nor a time", "30m"],
        ),
        (("--limit", "-1"), ["Invalid value for '--limit'", "-1 is not in the range x>=0"]),
    ],
)
def test_bad_option_values_are_usage_errors(
    trail: Scenario, args: tuple[str, ...], expected: list[str]
) -> None:
    result = trail.cli("audit", *args, expect=2)
    for text in expected:
        assert text in result.output, text


@pytest.mark.parametrize("args", [("-5s",), ("--", "-5s")])
def test_a_negative_advance_says_durations_cannot_be_negative(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    scenario = Scenario(tmp_path)
    init_repo(tmp_path)
    scenario.cli("sim", "init")
    result = scenario.cli("sim", "advance", *args, expect=2)
    assert "Invalid value for 'DURATION': '-5s' is negative" in result.output
    assert "No such option" not in result.output
    assert "clock 2026-02-10 15:30:00Z" in scenario.cli("sim", "show").output


def test_a_bad_advance_is_a_usage_error(tmp_path: Path) -> None:
    scenario = Scenario(tmp_path)
    init_repo(tmp_path)
    scenario.cli("sim", "init")
    result = scenario.cli("sim", "advance", "5 parsecs", expect=2)
    assert "Invalid value for 'DURATION': '5 parsecs' is not a duration" in result.output
    assert "60s, 5m, 1h" in result.output
    # An unknown option is still reported as one, not as a negative duration.
    mistyped = scenario.cli("sim", "advance", "--bogus", expect=2)
    assert "No such option '--bogus'" in mistyped.output


def test_the_table_shows_the_ids_explain_takes(trail: Scenario) -> None:
    text = trail.cli("audit", "-e", "decision_made").output
    (decision,) = trail.json("audit", "-e", "decision_made")["records"]  # type: ignore[index]
    assert "ID" in text.splitlines()[0]
    assert decision["id"] in text
    assert decision["id"] in trail.cli("explain", decision["id"]).output
