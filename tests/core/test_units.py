"""Unit parsers: each written form, the plain numbers YAML produces, and the refusals."""

import pytest

from reconciler.core.blueprint import units
from reconciler.core.blueprint.units import UnitError


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("70%", 0.70),
        ("0.5%", 0.005),
        ("100%", 1.0),
        ("150%", 1.5),  # parses; range checks belong to the field, not the unit
        (" 80 % ", 0.80),
        (0.7, 0.7),
        (1, 1.0),
        (0, 0.0),
    ],
)
def test_percent(raw: object, expected: float) -> None:
    assert units.parse_percent(raw) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (70, "did you mean 70%"),
        ("70", "not a percentage"),
        ("-5%", "negative"),
        ("seventy%", "not a percentage"),
        (True, "not a percentage"),
        (None, "not a percentage"),
    ],
)
def test_percent_refusals(raw: object, message: str) -> None:
    with pytest.raises(UnitError, match=message) as caught:
        units.parse_percent(raw)
    assert "70%" in caught.value.hint


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [("60s", 60), ("5m", 300), ("1h", 3600), ("1h30m", 5400), ("200ms", 0.2), ("1d", 86400)],
)
def test_duration(raw: str, seconds: float) -> None:
    assert units.parse_duration(raw) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (60, "did you mean 60s"),
        ("-5s", "negative"),
        ("5 minutes", "not a duration"),
        ("", "not a duration"),
        ("5x", "not a duration"),
        ("s", "not a duration"),
    ],
)
def test_duration_refusals(raw: object, message: str) -> None:
    with pytest.raises(UnitError, match=message):
        units.parse_duration(raw)


@pytest.mark.parametrize(
    ("raw", "millicores"),
    [("200m", 200), ("1", 1000), (1, 1000), (0.5, 500), ("0.25", 250), ("1500m", 1500)],
)
def test_cpu(raw: object, millicores: int) -> None:
    assert units.parse_cpu(raw) == millicores


@pytest.mark.parametrize(
    ("raw", "size"),
    [("512Mi", 536870912), ("1Gi", 1073741824), ("128Mi", 134217728), ("1k", 1000), (4096, 4096)],
)
def test_memory(raw: object, size: int) -> None:
    assert units.parse_memory(raw) == size


@pytest.mark.parametrize(("raw", "ms"), [("200ms", 200.0), ("1.5s", 1500.0), ("180ms", 180.0)])
def test_latency(raw: str, ms: float) -> None:
    assert units.parse_latency_ms(raw) == pytest.approx(ms)


def test_latency_without_unit_suggests_ms() -> None:
    with pytest.raises(UnitError, match="did you mean 200ms"):
        units.parse_latency_ms(200)


@pytest.mark.parametrize(
    ("raw", "per_second"), [("100 req/s", 100.0), ("600 req/min", 10.0), ("50req/s", 50.0)]
)
def test_throughput(raw: str, per_second: float) -> None:
    assert units.parse_throughput(raw) == pytest.approx(per_second)


def test_money_and_semver() -> None:
    assert units.parse_money("20 USD") == units.Money(amount=20.0, currency="USD")
    assert str(units.parse_money("19.5 EUR")) == "19.50 EUR"
    assert units.parse_semver("1.10.3") == (1, 10, 3)
    for bad in ("1.0", "01.0.0", "1.0.0-rc1", 1.0):
        with pytest.raises(UnitError):
            units.parse_semver(bad)


@pytest.mark.parametrize(
    ("fraction", "text"), [(0.815, "81.5%"), (0.8, "80%"), (0.005, "0.5%"), (1.0, "100%")]
)
def test_format_percent(fraction: float, text: str) -> None:
    assert units.format_percent(fraction) == text


@pytest.mark.parametrize(
    ("seconds", "text"), [(300, "5m"), (5400, "1h30m"), (45, "45s"), (0.2, "200ms"), (0, "0s")]
)
def test_format_duration(seconds: float, text: str) -> None:
    assert units.format_duration(seconds) == text


def test_format_resources_round_trip() -> None:
    assert units.format_cpu(units.parse_cpu("250m")) == "250m"
    assert units.format_cpu(units.parse_cpu("2")) == "2"
    assert units.format_memory(units.parse_memory("512Mi")) == "512Mi"
    assert units.format_memory(units.parse_memory("1Gi")) == "1Gi"
