"""What a metrics source could not tell travels to the service's result, and from there to the
job summary and the annotations, once per run.

The end-to-end path (CLI, fake API server, Prometheus down or answering NaN) is in
tests/scenarios/test_metrics_failures.py; these pin the merge and the rendering rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from reconciler.cli.summary import markdown, problem_annotations
from reconciler.core.errors import MetricsError
from reconciler.core.observed.observation import Metrics, Sample, Target
from reconciler.core.planning.outcomes import Note, NoteKind
from reconciler.shell.cycle import CycleReport, ServiceResult
from reconciler.shell.metrics import CombinedMetrics
from tests.core.helpers import NOW

WEB = Target(namespace="shop", name="web")
DOWN = "web (shop/web): Prometheus at http://prometheus:9090 is unreachable: refused"
NAN = "web (shop/web): latency_p95 is NaN (no requests in the range?) (query: q)"


class Fixed:
    """A metrics source with canned answers (a fake of the port, not of our code)."""

    def __init__(self, answers: Mapping[Target, Metrics | MetricsError]) -> None:
        self.answers = answers

    def current(self, targets: Sequence[Target]) -> Mapping[Target, Metrics | MetricsError]:
        return {t: self.answers[t] for t in targets if t in self.answers}

    def window(self, target: Target, seconds: float, now: datetime) -> Sequence[Sample]:
        return []


def test_a_source_failing_beside_one_that_answers_becomes_a_warning() -> None:
    kube = Fixed({WEB: Metrics(cpu_utilization=0.8, observed_at=NOW, source="k8s")})
    merged = CombinedMetrics([kube, Fixed({WEB: MetricsError(DOWN)})]).current([WEB])[WEB]
    assert isinstance(merged, Metrics)
    assert merged.cpu_utilization == 0.8
    assert merged.warnings == (DOWN,)


def test_each_sources_warnings_are_kept_and_a_silent_source_is_named() -> None:
    kube = Fixed({WEB: Metrics(cpu_utilization=0.8, warnings=("cpu: partial",))})
    prom = Fixed({WEB: Metrics(latency_p95_ms=None, warnings=(NAN,))})
    merged = CombinedMetrics([kube, prom, Fixed({})]).current([WEB])[WEB]
    assert isinstance(merged, Metrics)
    assert merged.warnings == ("no answer for shop/web", "cpu: partial", NAN)


def report(*notes: Note) -> CycleReport:
    result = ServiceResult(service="web", replicas=2, ready=2, notes=notes)
    return CycleReport(started_at=NOW, dry_run=False, services=(result,))


INCOMPLETE = Note(kind=NoteKind.METRICS_INCOMPLETE, text=f"metrics incomplete: {DOWN}")


def test_warnings_are_the_metrics_notes_only() -> None:
    slow = Note(kind=NoteKind.FORGE_FAILED, text="approvals: forge slow")
    (result,) = report(INCOMPLETE, slow).services
    assert result.warnings == (INCOMPLETE,)
    assert result.to_json()["warnings"] == [f"metrics incomplete: {DOWN}"]
    assert result.to_json()["notes"] == [f"metrics incomplete: {DOWN}", "approvals: forge slow"]
    assert [n["severity"] for n in result.to_json()["note_details"]] == ["warning", "info"]


def test_a_warning_of_every_pass_is_one_annotation_and_one_marked_note() -> None:
    note = INCOMPLETE.text
    verified = Note(kind=NoteKind.VERIFIED, text="verified scale 2→3")
    passes = [report(INCOMPLETE), report(INCOMPLETE, verified)]
    assert problem_annotations(passes) == [f"::warning title=web::{note}"]
    text = markdown(passes)
    assert text.count(note) == 1
    assert f"⚠️ {note}<br>verified scale 2→3 |" in text
    assert "1 verified, 1 with warnings" in text
