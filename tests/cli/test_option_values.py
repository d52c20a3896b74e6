"""A bad option or argument value is a usage error (exit 2, as docs/cli.md says): the message
names the option or argument and shows a correct value, and nothing is changed or recorded."""

from __future__ import annotations

import pytest

from tests.scenarios.conftest import Scenario


def _state(scenario: Scenario) -> dict[str, bytes]:
    """Every file of the simulated cluster's state, to see that nothing was saved."""
    folder = scenario.root / ".reconciler"
    return {str(path): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ("--shard", "5/4"),
            [
                "Invalid value for '--shard'",
                "5/4: the shard must be between 1 and the count",
                "1/4",
            ],
        ),
        (("--shard", "two"), ["Invalid value for '--shard'", "'two' is not I/N", "1/4, 2/4"]),
        (
            ("--wait", "--wait-timeout", "10"),
            ["Invalid value for '--wait-timeout'", "'10' is not a duration", "5m"],
        ),
        (
            ("--wait-timeout", "-1m"),
            ["Invalid value for '--wait-timeout'", "'-1m' is negative", "60s"],
        ),
    ],
)
def test_run_refuses_bad_values_before_doing_anything(
    seeded: Scenario, args: tuple[str, ...], expected: list[str]
) -> None:
    commits = len(seeded.commits())
    result = seeded.cli("run", *args, expect=2)
    for text in expected:
        assert text in result.output, text
    assert "run --help' for help." in result.output  # click's usage error
    assert len(seeded.commits()) == commits  # no cycle ran, nothing was recorded


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (
            ("cpu_utilization=85",),
            "cpu_utilization=85: '85' is not a percentage (e.g. cpu_utilization=85%)",
        ),
        (("replicas=x",), "replicas=x: 'x' is not a whole number (e.g. replicas=3)"),
        (("rps=lots",), "rps=lots: 'lots' is not a number (e.g. rps=170)"),
        (("crashing=maybe",), "crashing=maybe: 'maybe' is not true or false (e.g. crashing=true)"),
        (("release=meh",), "release=meh: not an accepted value (release=good or release=bad)"),
        (("bogus=1",), "bogus=1: unknown setting 'bogus' (settable: replicas, cpu_utilization"),
        (("cpu_utilization",), "'cpu_utilization' is not KEY=VALUE (e.g. cpu_utilization=85%)"),
        # A bad setting after a good one: neither is saved.
        (
            ("latency_p95=90ms", "memory_utilization=0.7"),
            "memory_utilization=0.7: '0.7' is not a percentage (e.g. memory_utilization=70%)",
        ),
    ],
)
def test_sim_set_refuses_a_bad_setting_with_an_example(
    seeded: Scenario, settings: tuple[str, ...], expected: str
) -> None:
    before = _state(seeded)
    result = seeded.cli("sim", "set", "todo-frontend", *settings, expect=2)
    assert f"Invalid value for 'KEY=VALUE': {expected}" in result.output
    assert _state(seeded) == before


def test_every_sim_set_example_is_a_correct_value(seeded: Scenario) -> None:
    """The examples the errors show work as written, and cover every key there is."""
    from reconciler.adapters.simulated import SETTABLE
    from reconciler.cli.sim import SET_EXAMPLES

    assert set(SET_EXAMPLES) == set(SETTABLE)
    for key, example in SET_EXAMPLES.items():
        assert example.startswith(f"{key}=")
    seeded.cli("sim", "set", "todo-frontend", *SET_EXAMPLES.values())


def test_an_unknown_service_stays_a_configuration_error(seeded: Scenario) -> None:
    result = seeded.cli("sim", "set", "nope", "cpu_utilization=85%", expect=3)
    assert "no simulated deployment for 'nope'" in result.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ("--history", "10"),
            ["Invalid value for '--history'", "'10' is not a duration", "5m"],
        ),
        (
            ("--at", "yesterday"),
            ["Invalid value for '--at'", "'yesterday' is not a time", "2026-02-10T15:30:00Z"],
        ),
    ],
)
def test_sim_init_refuses_bad_values(
    seeded: Scenario, args: tuple[str, ...], expected: list[str]
) -> None:
    before = _state(seeded)
    result = seeded.cli("sim", "init", "--force", *args, expect=2)
    for text in expected:
        assert text in result.output, text
    assert _state(seeded) == before
