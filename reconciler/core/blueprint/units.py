"""Parsers for the units a blueprint is written in.

Each kind of quantity has its own parser, because the same letter means different things in
different places: `m` is minutes in `5m` but millicores in `200m`, and a bare `1` is one CPU
core, not one millicore. Every parser accepts the written form (a string with a unit) and the
plain number a YAML file may hold, and raises `UnitError` with a hint that shows the expected
form, so the loader can report the field and the fix together.

Every parser also holds its result to the limits in `bounds` (finite, and no larger than a
year, 100,000 cores, 1024Ti, ...), so a value that parses is a value that can be used.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from reconciler.core import bounds

__all__ = [
    "UnitError",
    "format_cpu",
    "format_duration",
    "format_memory",
    "format_percent",
    "parse_cpu",
    "parse_duration",
    "parse_latency_ms",
    "parse_memory",
    "parse_money",
    "parse_percent",
    "parse_semver",
    "parse_throughput",
]


class UnitError(ValueError):
    """A value that does not parse as its unit; `hint` shows a correct example."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
# The patterns stay strings: `re` compiles each the first time it is used and keeps it, so a
# command that parses no money or throughput never pays for compiling them at start-up.
_PERCENT_RE = rf"^\s*(-?{_NUMBER})\s*%\s*$"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _shown(raw: object) -> str:
    """The value as written, cut short: a 400-digit number needs no 400-digit echo."""
    text = repr(raw)
    return text if len(text) <= 40 else text[:36] + "...'"


def _finite(value: float, raw: object, hint: str) -> float:
    if not math.isfinite(value):
        raise UnitError(f"{_shown(raw)} is not a finite number", hint)
    return value


def _at_most(value: float, high: float, raw: object, limit: str, hint: str) -> float:
    """`value` when finite and at most `high`; else UnitError naming the limit as written."""
    _finite(value, raw, hint)
    if value > high:
        raise UnitError(
            f"{_shown(raw)} is more than {limit}, the most accepted", f"write at most {limit}"
        )
    return value


def parse_percent(value: object) -> float:
    """`70%` → 0.70, `0.5%` → 0.005; a plain number from 0 to 1 is already a fraction.

    A plain number above 1 is refused rather than guessed: `70` could mean 70 % or 7000 %.
    """
    hint = "write a percentage such as 70% or 0.5%"
    if _is_number(value):
        number = _finite(float(value), value, hint)  # type: ignore[arg-type]
        if 0 <= number <= 1:
            return number
        raise UnitError(f"{value!r} has no % sign; did you mean {value}%?", hint)
    if isinstance(value, str):
        match = re.match(_PERCENT_RE, value)
        if match:
            number = float(match.group(1))
            if number < 0:
                raise UnitError(f"{value!r} is negative", hint)
            limit = f"{bounds.FRACTION_MAX * 100:,.0f}%"
            return _at_most(number / 100, bounds.FRACTION_MAX, value, limit, hint)
    raise UnitError(f"{value!r} is not a percentage", hint)


_DURATION_PART = rf"({_NUMBER})(ms|s|m|h|d)"
_DURATION_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: object) -> float:
    """`60s` → 60.0, `5m` → 300.0, `1h30m` → 5400.0, `200ms` → 0.2 (all in seconds).

    A bare number is refused: a cooldown of `60` reads as seconds to one person and minutes
    to another, and the blueprint is the place where that must not be ambiguous.
    """
    hint = "write a duration with a unit, such as 60s, 5m, 1h or 1h30m"
    if _is_number(value):
        _finite(float(value), value, hint)  # type: ignore[arg-type]
        raise UnitError(f"{value!r} has no unit; did you mean {value}s?", hint)
    return _seconds(value, "a duration", hint)


def _seconds(value: object, what: str, hint: str) -> float:
    """The written form shared by durations and latencies, in seconds, within bounds."""
    if not isinstance(value, str):
        raise UnitError(f"{_shown(value)} is not {what}", hint)
    text = value.strip()
    if text.startswith("-"):
        raise UnitError(f"{_shown(value)} is negative; {what} must be zero or more", hint)
    position, total = 0, 0.0
    for match in re.finditer(_DURATION_PART, text):
        if match.start() != position:
            break
        total += float(match.group(1)) * _DURATION_SECONDS[match.group(2)]
        position = match.end()
    if position == 0 or position != len(text):
        raise UnitError(f"{_shown(value)} is not {what}", hint)
    return _at_most(total, bounds.DURATION_MAX_SECONDS, value, _LONGEST, hint)


#: The longest duration as a person writes it.
_LONGEST = f"{bounds.DURATION_MAX_SECONDS / 86400:.0f}d"


def parse_latency_ms(value: object) -> float:
    """`200ms` → 200.0 and `0.2s` → 200.0 (milliseconds, the unit latency targets use)."""
    hint = "write a latency such as 200ms or 1.5s"
    if _is_number(value):
        _finite(float(value), value, hint)  # type: ignore[arg-type]
        raise UnitError(f"{value!r} has no unit; did you mean {value}ms?", hint)
    return _seconds(value, "a latency", hint) * 1000


_CPU_RE = rf"^\s*({_NUMBER})\s*(m?)\s*$"


def parse_cpu(value: object) -> int:
    """CPU in millicores, as Kubernetes writes it: `200m` → 200, `1` → 1000, `0.5` → 500."""
    hint = "write CPU as millicores (200m) or cores (1, 0.5)"
    millicores: float | None = None
    if _is_number(value):
        cores = _finite(float(value), value, hint)  # type: ignore[arg-type]
        if cores < 0:
            raise UnitError(f"{value!r} is negative", hint)
        millicores = cores * 1000
    elif isinstance(value, str):
        match = re.match(_CPU_RE, value)
        if match:
            number = float(match.group(1))
            millicores = number if match.group(2) else number * 1000
    if millicores is None:
        raise UnitError(f"{value!r} is not a CPU quantity", hint)
    limit = f"{format_cpu(bounds.CPU_MAX_MILLICORES)} cores"
    return math.ceil(_at_most(millicores, bounds.CPU_MAX_MILLICORES, value, limit, hint))


_MEMORY_RE = rf"^\s*({_NUMBER})\s*(Ki|Mi|Gi|Ti|k|K|M|G|T)?\s*$"
_MEMORY_FACTOR = {
    None: 1,
    "Ki": 1024,
    "Mi": 1024**2,
    "Gi": 1024**3,
    "Ti": 1024**4,
    "k": 1000,
    "K": 1000,
    "M": 1000**2,
    "G": 1000**3,
    "T": 1000**4,
}


def parse_memory(value: object) -> int:
    """Memory in bytes: `512Mi` → 536870912, `1Gi` → 1073741824, `128M` → 128000000."""
    hint = "write memory with a unit, such as 512Mi or 1Gi"
    size: float | None = None
    if _is_number(value):
        size = _finite(float(value), value, hint)  # type: ignore[arg-type]
        if size < 0:
            raise UnitError(f"{value!r} is negative", hint)
    elif isinstance(value, str):
        match = re.match(_MEMORY_RE, value)
        if match:
            size = float(match.group(1)) * _MEMORY_FACTOR[match.group(2)]
    if size is None:
        raise UnitError(f"{value!r} is not a memory quantity", hint)
    limit = format_memory(bounds.MEMORY_MAX_BYTES)
    return math.ceil(_at_most(size, bounds.MEMORY_MAX_BYTES, value, limit, hint))


_THROUGHPUT_RE = rf"^\s*({_NUMBER})\s*(?:req|requests)\s*/\s*(s|sec|min|m)\s*$"


def parse_throughput(value: object) -> float:
    """Requests per second: `100 req/s` → 100.0, `600 req/min` → 10.0."""
    hint = "write a throughput such as 100 req/s or 600 req/min"
    if isinstance(value, str):
        match = re.match(_THROUGHPUT_RE, value)
        if match:
            per_second = match.group(2) in {"s", "sec"}
            number = float(match.group(1))
            rate = number if per_second else number / 60
            return _at_most(rate, bounds.AMOUNT_MAX, value, f"{bounds.AMOUNT_MAX:g} req/s", hint)
    raise UnitError(f"{value!r} is not a throughput", hint)


_MONEY_RE = rf"^\s*({_NUMBER})\s*([A-Z]{{3}})\s*$"


@dataclass(frozen=True, kw_only=True)
class Money:
    """An amount with its currency, kept together so budgets are never compared across them."""

    amount: float
    currency: str

    def __str__(self) -> str:
        amount = f"{self.amount:.0f}" if self.amount == int(self.amount) else f"{self.amount:.2f}"
        return f"{amount} {self.currency}"


def parse_money(value: object) -> Money:
    """`20 USD` → Money(20.0, "USD")."""
    hint = "write an amount with a currency code, such as 20 USD"
    if isinstance(value, str):
        match = re.match(_MONEY_RE, value)
        if match:
            amount = float(match.group(1))
            limit = f"{bounds.AMOUNT_MAX:g} {match.group(2)}"
            _at_most(amount, bounds.AMOUNT_MAX, value, limit, hint)
            return Money(amount=amount, currency=match.group(2))
    raise UnitError(f"{value!r} is not an amount of money", hint)


_SEMVER_RE = r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$"


def parse_semver(value: object) -> tuple[int, int, int]:
    """`1.0.0` → (1, 0, 0). Pre-release tags are not used by blueprints and are refused."""
    hint = 'write a version such as "1.0.0"'
    if isinstance(value, str):
        match = re.match(_SEMVER_RE, value.strip())
        if match:
            major, minor, patch = (int(part) for part in match.groups())
            return major, minor, patch
    raise UnitError(f"{value!r} is not a version of the form MAJOR.MINOR.PATCH", hint)


def format_percent(fraction: float) -> str:
    """0.815 → `81.5%`, 0.8 → `80%`: as short as the number allows, for people to read."""
    text = f"{fraction * 100:.1f}".rstrip("0").rstrip(".")
    return f"{text}%"


def format_duration(seconds: float) -> str:
    """300 → `5m`, 5400 → `1h30m`, 45 → `45s`, 0.2 → `200ms`."""
    if seconds < 1 and seconds != 0:
        return f"{seconds * 1000:.0f}ms"
    remaining = round(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def format_cpu(millicores: int) -> str:
    """1000 → `1`, 250 → `250m`."""
    return str(millicores // 1000) if millicores % 1000 == 0 else f"{millicores}m"


def format_memory(size: int) -> str:
    """536870912 → `512Mi`; falls back to bytes when no binary unit divides it."""
    for unit, factor in (("Ti", 1024**4), ("Gi", 1024**3), ("Mi", 1024**2), ("Ki", 1024)):
        if size and size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)
