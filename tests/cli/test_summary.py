"""The job summary, the annotations, the exit status and `-o json` read a note's kind and a
step's outcome, never their words: the same text under another kind reports otherwise."""

from __future__ import annotations

import pytest

from reconciler.cli.summary import markdown, problem_annotations
from reconciler.core.planning.outcomes import Aside, Note, NoteKind, NoteSeverity, StepOutcome
from reconciler.shell.reports import CycleReport, ServiceResult, StepResult
from tests.core.helpers import NOW


def report(*notes: Note, steps: tuple[StepResult, ...] = ()) -> CycleReport:
    result = ServiceResult(service="web", replicas=2, ready=2, notes=notes, steps=steps)
    return CycleReport(started_at=NOW, dry_run=False, services=(result,))


def totals(text: str) -> str:
    (line,) = [line for line in text.splitlines() if line.startswith("**1 service**")]
    return line


def step(kind: StepOutcome, aside: Aside | None = None) -> StepResult:
    return StepResult(
        operation="scale_down",
        description="scale 3→2",
        classification="allowed",
        action="defer",
        kind=kind,
        aside=aside,
        detail="in cooldown",
    )


@pytest.mark.parametrize(
    ("kind", "severity"),
    [
        (NoteKind.METRICS_UNAVAILABLE, NoteSeverity.WARNING),
        (NoteKind.METRICS_INCOMPLETE, NoteSeverity.WARNING),
        (NoteKind.METRIC_HISTORY_UNAVAILABLE, NoteSeverity.WARNING),
        (NoteKind.FILE_IGNORED, NoteSeverity.WARNING),
        (NoteKind.BREAKER_OPENED, NoteSeverity.NEEDS_PERSON),
        (NoteKind.ESCALATED, NoteSeverity.NEEDS_PERSON),
        (NoteKind.VERIFICATION_FAILED, NoteSeverity.INFO),
        (NoteKind.APPROVED, NoteSeverity.INFO),
        (NoteKind.FORGE_FAILED, NoteSeverity.INFO),
    ],
)
def test_a_notes_severity_follows_from_its_kind(kind: NoteKind, severity: NoteSeverity) -> None:
    assert Note(kind=kind, text="whatever it says").severity is severity


@pytest.mark.parametrize(
    ("kind", "counted"),
    [
        (NoteKind.VERIFIED, "1 verified"),
        (NoteKind.ROLLBACK_VERIFIED, "1 verified"),
        (NoteKind.VERIFICATION_FAILED, "1 verification failed"),
        (NoteKind.ROLLBACK_VERIFICATION_FAILED, "1 verification failed"),
        (NoteKind.NOT_VERIFIED, "no changes"),
        (NoteKind.ESCALATED, "no changes"),
        (NoteKind.APPROVED, "no changes"),
        (NoteKind.PROPOSAL_REJECTED, "no changes"),
    ],
)
def test_the_totals_count_verifications_by_kind(kind: NoteKind, counted: str) -> None:
    # The same words under every kind: only the kind decides what is counted.
    note = Note(kind=kind, text="web: rollback verification failed, verified, rolled back")
    assert f"**1 service**: {counted};" in totals(markdown([report(note)]))


def test_annotations_follow_the_kind_not_the_words() -> None:
    words = "web: escalated, circuit breaker opened, verification failed"
    passes = [
        report(
            Note(kind=NoteKind.APPROVED, text=f"{words} (approved)"),
            Note(kind=NoteKind.BREAKER_OPENED, text="web: the breaker"),
            Note(kind=NoteKind.VERIFICATION_FAILED, text="web: checks"),
            Note(kind=NoteKind.METRICS_INCOMPLETE, text="web: no latency"),
        )
    ]
    assert problem_annotations(passes) == [
        "::error title=web::web: the breaker",
        "::warning title=web::web: checks",
        "::warning title=web::web: no latency",
    ]


def test_only_a_needs_person_note_fails_the_run() -> None:
    escalated = Note(kind=NoteKind.ESCALATED, text="web: the change stays")
    worded = Note(kind=NoteKind.APPROVED, text="web: escalated to approval: circuit breaker opened")
    assert report(escalated).failed
    assert not report(worded).failed
    assert report(worded).services[0].needs_person == ()


@pytest.mark.parametrize(
    ("outcome", "aside", "text", "annotated"),
    [
        (StepOutcome.DEFERRED, None, "deferred", True),
        (StepOutcome.DEFERRED, Aside.ALREADY_RECORDED, "deferred (already recorded)", False),
        (StepOutcome.BLOCKED, None, "blocked", True),
        (StepOutcome.PENDING, Aside.ALREADY_PROPOSED, "pending (already proposed)", False),
        (StepOutcome.PROPOSAL_UPDATED, None, "proposal updated", False),
        (StepOutcome.WOULD_EXECUTE, None, "would execute", False),
    ],
)
def test_a_steps_outcome_reads_as_before_and_is_annotated_by_kind(
    outcome: StepOutcome, aside: Aside | None, text: str, annotated: bool
) -> None:
    result = step(outcome, aside)
    assert result.outcome == text
    assert result.to_json()["outcome"] == text
    assert result.to_json()["kind"] == outcome.value
    warnings = problem_annotations([report(steps=(result,))])
    assert warnings == (
        [f"::warning title=web%3A scale 3→2::{outcome.label}: in cooldown"] if annotated else []
    )
    assert f"1 {outcome.label};" in totals(markdown([report(steps=(result,))]))


def test_a_failed_step_fails_the_run_and_is_an_error() -> None:
    failed = report(steps=(step(StepOutcome.FAILED),))
    assert failed.failed
    assert problem_annotations([failed]) == ["::error title=web%3A scale 3→2::in cooldown"]
