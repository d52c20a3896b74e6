"""The GitHub Actions job summary and annotations for a run.

On Actions, `GITHUB_STEP_SUMMARY` names a file whose markdown is shown on the run's page. The
reconciler appends one table per run: for each service, what was decided, what governance
said, what was done, proposed or refused, and what was verified or rolled back, with the
totals underneath. Problems become workflow annotations (`::error` / `::warning`), which
GitHub lists on the run's page, so nobody has to read the log to see that something failed.
A service's warnings (a metrics source that failed or answered NaN: the service was
reconciled on what was known) are a `::warning` each and a ⚠️ note, never an error; so are the
run's own (uncommitted blueprint edits it left aside, audit records it could not read).

A run with --wait has several passes (the cycle, then verification passes); the summary
folds them into one row per service, so the verification shows beside the change it checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.cli.output import plural
from reconciler.core.planning.outcomes import Aside, NoteKind, NoteSeverity, StepOutcome
from reconciler.core.problems import workflow_command

if TYPE_CHECKING:
    from reconciler.shell.reports import CycleReport, ServiceResult

__all__ = ["append_summary", "decision_cell", "markdown", "problem_annotations"]

_LABELS = {
    StepOutcome.EXECUTED: "✅ done",
    StepOutcome.PROPOSED: "📝 proposed",
    StepOutcome.BLOCKED: "⛔ blocked",
    StepOutcome.DEFERRED: "⏳ deferred",
    StepOutcome.FAILED: "❌ failed",
    StepOutcome.PENDING: "📝 pending approval",
    StepOutcome.PROPOSAL_UPDATED: "📝 proposal updated",
    StepOutcome.WOULD_EXECUTE: "👀 would do",
    StepOutcome.WOULD_PROPOSE: "👀 would propose",
}
#: The verification notes the totals count, and under which word. A note that merely names
#: a rollback (an approved or rejected rollback proposal) is not a verification.
_VERIFICATIONS = {
    NoteKind.VERIFIED: "verified",
    NoteKind.ROLLBACK_VERIFIED: "verified",
    NoteKind.VERIFICATION_FAILED: "verification failed",
    NoteKind.ROLLBACK_VERIFICATION_FAILED: "verification failed",
}
#: The notes annotated as a warning though they are no warning of the service's (the run
#: rolled the change back, or tried to).
_FAILED_VERIFICATIONS = {NoteKind.VERIFICATION_FAILED, NoteKind.ROLLBACK_VERIFICATION_FAILED}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").strip() or "-"


def decision_cell(result: ServiceResult) -> str:
    """The decision in a few words, for the terminal's table and the job summary alike."""
    decision = result.decision
    if result.error:
        return "error"
    if result.waiting:
        return "waiting to verify"
    if decision is None:
        return "-"
    if decision.action.value == "no_action":
        return f"none ({decision.reason.value.replace('_', ' ')})"
    if decision.action.value not in {"scale_up", "scale_down"}:
        return f"{decision.action.value} ({decision.reason.value.replace('_', ' ')})"
    text = f"{decision.action.value} {decision.current_replicas}→{decision.target_replicas}"
    if decision.beyond_limits:
        text += f" (+{decision.beyond_limits} proposed)" if decision.changes else ""
        if not decision.changes:
            text = f"{decision.action.value} {decision.current_replicas}→{decision.beyond_limits}"
    return text


def _without_service(note: str, service: str) -> str:
    prefix = f"{service}: "
    return note[len(prefix) :] if note.startswith(prefix) else note


def markdown(
    reports: Sequence[CycleReport], *, title: str = "Reconcile cycle", extra: str = ""
) -> str:
    """One markdown table for the run, every pass folded into its service's row."""
    first = reports[0]
    by_service: dict[str, list[ServiceResult]] = {}
    for report in reports:
        for result in report.services:
            by_service.setdefault(result.service, []).append(result)
    mode = " (dry run: nothing changed)" if first.dry_run else ""
    lines = [
        f"### {title} at {first.started_at:%Y-%m-%d %H:%M:%S}Z{mode}",
        "",
        "| service | ready | weighted | decided | governance | outcome | verified, notes |",
        "|---|---|---|---|---|---|---|",
    ]
    counts: dict[str, int] = {}
    for service in sorted(by_service):
        _count(by_service[service], counts)
        lines.append(_row(service, by_service[service]))
    order = ("decided", "executed", "pending", "proposed", "blocked", "deferred", "failed")
    ordered = [k for k in order if k in counts] + sorted(k for k in counts if k not in order)
    totals = ", ".join(f"{counts[k]} {k}" for k in ordered) or "no changes"
    commits = sum(len(r.commits) for r in reports)
    lines += [
        "",
        f"**{plural(len(by_service), 'service')}**: {totals}; {plural(commits, 'audit commit')}.",
    ]
    warnings = list(dict.fromkeys(w for report in reports for w in report.warnings))
    if warnings:
        lines += ["", *(f"- ⚠️ {_cell(w.render())}" for w in warnings)]
    if extra:
        lines += ["", extra]
    return "\n".join(lines) + "\n"


def _row(service: str, results: Sequence[ServiceResult]) -> str:
    """A service's row, every pass of the run folded in."""
    head = results[0]
    steps = [step for result in results for step in result.steps]
    # A warning that holds for the whole run (Prometheus down) recurs in every pass: once.
    notes = list(
        dict.fromkeys(
            ("⚠️ " if note.severity is NoteSeverity.WARNING else "")
            + _without_service(note.text, service)
            for result in results
            for note in result.notes
        )
    )
    governance = "<br>".join(
        f"{s.description}: {s.classification} → {s.action.replace('_', ' ')}" for s in steps
    )
    outcomes = [f"{_LABELS[s.kind]}: {s.detail}" for s in steps]
    outcomes += [f"❌ {r.error}" for r in results if r.error]
    ready = "-" if head.replicas is None else f"{head.ready}/{head.replicas}"
    weighted = "-" if head.weighted is None else f"{head.weighted * 100:.1f}%"
    cells = (
        service,
        ready,
        weighted,
        decision_cell(head),
        governance,
        "<br>".join(outcomes),
        "<br>".join(notes),
    )
    return "| " + " | ".join(_cell(cell) for cell in cells) + " |"


def _count(results: Sequence[ServiceResult], counts: dict[str, int]) -> None:
    """Add a service's steps, errors, warnings, verifications and decision to the totals."""
    for step in (step for result in results for step in result.steps):
        counts[step.kind.label] = counts.get(step.kind.label, 0) + 1
    if any(r.error for r in results):
        counts["errors"] = counts.get("errors", 0) + 1
    if any(result.warnings for result in results):
        counts["with warnings"] = counts.get("with warnings", 0) + 1
    for note in (note for result in results for note in result.notes):
        if note.kind in _VERIFICATIONS:
            key = _VERIFICATIONS[note.kind]
            counts[key] = counts.get(key, 0) + 1
    head = results[0]
    if head.decision is not None and head.decision.action.value != "no_action":
        counts["decided"] = counts.get("decided", 0) + 1


def problem_annotations(reports: Sequence[CycleReport]) -> list[str]:
    """One workflow command per problem: an error per failed service or step and per service
    that now needs a person (breaker opened, escalation), a warning per refusal, failed
    verification or service warning (a metrics source that failed), so they show on the
    run's page."""
    found = []
    for report in reports:
        # The run's own warnings: uncommitted blueprint edits, audit records it could not read.
        found += [warning.annotation() for warning in report.warnings]
        for result in report.services:
            if result.error:
                found.append(workflow_command("error", result.error, title=result.service))
            for step in result.steps:
                title = f"{result.service}: {step.description}"
                if step.kind is StepOutcome.FAILED:
                    found.append(workflow_command("error", step.detail, title=title))
                elif (
                    step.kind in {StepOutcome.BLOCKED, StepOutcome.DEFERRED}
                    and step.aside is not Aside.ALREADY_RECORDED
                ):
                    text = f"{step.kind.label}: {step.detail}"
                    found.append(workflow_command("warning", text, title=title))
            for note in result.notes:
                if note.severity is NoteSeverity.NEEDS_PERSON:
                    # Automatic changes to the service have stopped until someone acts.
                    found.append(workflow_command("error", note.text, title=result.service))
                elif note.kind in _FAILED_VERIFICATIONS:
                    found.append(workflow_command("warning", note.text, title=result.service))
            for warning in result.warnings:
                found.append(workflow_command("warning", warning.text, title=result.service))
    return list(dict.fromkeys(found))  # what every pass of a --wait run says, said once


def append_summary(path: Path, text: str) -> None:
    """Append, as Actions expects: several steps (or shards' runs) may write the same file."""
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text + "\n")
