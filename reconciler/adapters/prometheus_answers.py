"""Prometheus's answers, read: the `data` of an API answer (or the server's own words for a
failure), each sample value a bounded number or missing with its reason, and one series per
query.

Missing is never zero: an empty answer, NaN (a 0/0 without traffic) and ±Inf are `None` with
the reason, so the decision engine can refuse to scale down on data it does not have.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.adapters.prometheus_failures import RequestFailed
from reconciler.core import bounds

__all__ = ["Point", "answer_data", "one_series", "sample_time", "sample_value", "series_label"]


@dataclass(frozen=True)
class Point:
    """One sample: its time, its value (None: missing) and why it is missing."""

    at: float
    value: float | None
    note: str = ""


def sample_value(raw: object) -> tuple[float | None, str]:
    """A sample value: None with a reason when it is not a finite number within bounds."""
    try:
        value = float(str(raw))
    except ValueError:
        return None, f"is not a number: {raw!r}"
    if math.isnan(value):
        return None, "is NaN (no requests in the range?)"
    if math.isinf(value):
        return None, f"is {value:+}"
    try:
        bounds.finite(value, low=-bounds.AMOUNT_MAX)
    except bounds.OutOfRange as error:
        return None, f"is out of range: {error}"
    return value, ""


def sample_time(raw: object) -> float:
    """A sample's time in Unix seconds; ValueError unless it is a time a clock can show."""
    at = float(str(raw))
    low, high = bounds.TIME_MIN.timestamp(), bounds.TIME_MAX.timestamp()
    if not (math.isfinite(at) and low <= at <= high):
        raise ValueError(f"the sample time {raw!r} is not a time")
    return at


def series_label(series: Mapping[str, Any]) -> str:
    labels = series.get("metric") or {}
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def one_series(result: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    if not result:
        return None
    if len(result) > 1:
        shown = ", ".join(series_label(s) for s in result[:3])
        more = ", ..." if len(result) > 3 else ""
        raise RequestFailed(
            f"it returned {len(result)} series ({shown}{more}); a metric query must return "
            "at most one: aggregate it, for example with sum() or max()"
        )
    return result[0]


def answer_data(status: int, body: bytes) -> Mapping[str, Any]:
    """The `data` of a Prometheus API answer, or RequestFailed with the server's own words."""
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        snippet = body[:200].decode("utf-8", "replace").strip() or "an empty body"
        raise RequestFailed(f"Prometheus answered HTTP {status} with {snippet!r}")
    if status != 200 or answer.get("status") != "success":
        kind = answer.get("errorType") or "error"
        message = answer.get("error") or "no error message"
        raise RequestFailed(f"Prometheus answered HTTP {status} {kind}: {message}")
    data = answer.get("data")
    if not isinstance(data, dict):
        raise RequestFailed("Prometheus answered without data")
    return data
