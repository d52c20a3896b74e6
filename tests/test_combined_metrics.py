"""CombinedMetrics merges sources field by field; a failing source hides nothing else."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from reconciler.core.errors import MetricsError
from reconciler.core.observed.observation import Metrics, Sample, Target
from reconciler.shell.metrics import CombinedMetrics
from tests.core.helpers import NOW

WEB = Target(namespace="shop", name="web")
API = Target(namespace="shop", name="api")


class Fixed:
    """A metrics source with canned answers (a fake of the port, not of our code)."""

    def __init__(
        self, answers: Mapping[Target, Metrics | MetricsError], samples: Sequence[Sample] = ()
    ):
        self.answers = answers
        self.samples = samples

    def current(self, targets: Sequence[Target]) -> Mapping[Target, Metrics | MetricsError]:
        return {t: self.answers[t] for t in targets if t in self.answers}

    def window(self, target: Target, seconds: float, now: datetime) -> Sequence[Sample]:
        return self.samples


def test_fields_are_taken_from_the_first_source_that_knows_them() -> None:
    kube = Fixed(
        {
            WEB: Metrics(
                cpu_utilization=0.8, memory_utilization=0.5, observed_at=NOW, source="k8s"
            ),
            API: MetricsError("api down"),
        }
    )
    prom = Fixed(
        {
            WEB: Metrics(
                latency_p95_ms=180,
                error_rate=0.01,
                cpu_utilization=0.1,
                observed_at=NOW - timedelta(seconds=30),
                source="prom",
            ),
            API: Metrics(latency_p95_ms=90, source="prom"),
        }
    )
    merged = CombinedMetrics([kube, prom]).current([WEB, API])
    web = merged[WEB]
    assert isinstance(web, Metrics)
    assert (web.cpu_utilization, web.memory_utilization, web.latency_p95_ms, web.error_rate) == (
        0.8,
        0.5,
        180,
        0.01,
    )
    assert web.source == "k8s+prom" and web.observed_at == NOW - timedelta(seconds=30)
    api = merged[API]
    assert isinstance(api, Metrics) and api.latency_p95_ms == 90 and api.cpu_utilization is None


def test_all_sources_failing_is_an_error_that_names_each() -> None:
    merged = CombinedMetrics([Fixed({WEB: MetricsError("one")}), Fixed({})]).current([WEB])
    assert isinstance(merged[WEB], MetricsError)
    assert "one" in str(merged[WEB]) and "no answer" in str(merged[WEB])


def test_windows_merge_by_time() -> None:
    a = Fixed({}, [Sample(at=NOW, cpu_utilization=0.2)])
    b = Fixed(
        {},
        [
            Sample(at=NOW, latency_p95_ms=50),
            Sample(at=NOW - timedelta(seconds=15), latency_p95_ms=40),
        ],
    )
    window = CombinedMetrics([a, b]).window(WEB, 300, NOW)
    assert [(s.cpu_utilization, s.latency_p95_ms) for s in window] == [(None, 40), (0.2, 50)]


class Broken(Fixed):
    def window(self, target: Target, seconds: float, now: datetime) -> Sequence[Sample]:
        raise MetricsError("prometheus down")


def test_a_failing_history_source_leaves_the_others() -> None:
    import pytest

    good = Fixed({}, [Sample(at=NOW, cpu_utilization=0.2)])
    assert [
        s.cpu_utilization for s in CombinedMetrics([good, Broken({})]).window(WEB, 300, NOW)
    ] == [0.2]
    with pytest.raises(MetricsError, match="prometheus down"):
        CombinedMetrics([Broken({}), Broken({})]).window(WEB, 300, NOW)
