"""What a cycle reports: each step's outcome, a row per service, and the run as a whole,
with the exit-deciding severities read from typed notes, never from their words."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reconciler.core.approvals.attention import Concern, Waiting
from reconciler.core.decide.decision import Decision
from reconciler.core.planning.outcomes import Aside, Note, NoteSeverity, StepOutcome
from reconciler.core.problems import Problem
from reconciler.core.trail.clusters import ON_SIMULATOR, ClusterRef
from reconciler.shell.isolation import Failure, Stage


@dataclass(frozen=True, kw_only=True)
class StepResult:
    operation: str
    description: str
    classification: str
    action: str
    kind: StepOutcome
    #: Why the outcome did nothing new this time (a refusal already recorded), if so.
    aside: Aside | None = None
    detail: str
    commit: str | None = None
    record_ids: tuple[str, ...] = ()

    @property
    def outcome(self) -> str:
        """The outcome as people read it: `pending (already proposed)`."""
        label = self.kind.label
        return f"{label} ({self.aside})" if self.aside is not None else label

    def to_json(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "description": self.description,
            "classification": self.classification,
            "action": self.action,
            "outcome": self.outcome,
            "kind": str(self.kind),
            "detail": self.detail,
            "commit": self.commit,
            "record_ids": list(self.record_ids),
        }


@dataclass(frozen=True, kw_only=True)
class ServiceResult:
    service: str
    replicas: int | None = None
    ready: int | None = None
    weighted: float | None = None
    decision: Decision | None = None
    steps: tuple[StepResult, ...] = ()
    notes: tuple[Note, ...] = ()
    error: str | None = None
    #: For an error the cycle caught: the stage the service failed in, and what to do.
    stage: Stage | None = None
    hint: str = ""
    #: Set while a change awaits its verification (no new change meanwhile).
    waiting: str = ""
    #: What about the service needs a person (held, breaker open, escalated): the dashboard's.
    attention: tuple[Concern, ...] = ()
    #: Its proposals open after this run, and those the cap on new proposals held back.
    proposals: tuple[Waiting, ...] = ()
    unproposed: tuple[str, ...] = ()

    @property
    def warnings(self) -> tuple[Note, ...]:
        """The notes someone should look into, though nothing failed: a metrics source that
        failed or could not tell a value (the service was still reconciled on what was known,
        and missing data never scales down), a file no cycle reads. Shown in the row, as
        `warnings` in JSON and as ::warning annotations, without failing the run
        (docs/running-in-production.md#when-something-fails)."""
        return tuple(note for note in self.notes if note.severity is NoteSeverity.WARNING)

    @property
    def needs_person(self) -> tuple[Note, ...]:
        """The notes saying this run stopped automatic changes to the service until someone
        acts (an opened circuit breaker, an escalation): the run fails with them, so nobody
        misses it."""
        return tuple(note for note in self.notes if note.severity is NoteSeverity.NEEDS_PERSON)

    def to_json(self) -> dict[str, Any]:
        decision = self.decision
        return {
            "service": self.service,
            "replicas": self.replicas,
            "ready_replicas": self.ready,
            "weighted_utilization": self.weighted,
            "decision": None
            if decision is None
            else {
                "id": decision.id,
                "action": str(decision.action),
                "reason": str(decision.reason),
                "rule": str(decision.rule),
                "current_replicas": decision.current_replicas,
                "target_replicas": decision.target_replicas,
                "beyond_limits": decision.beyond_limits,
                "rationale": decision.rationale,
            },
            "steps": [step.to_json() for step in self.steps],
            "notes": [note.text for note in self.notes],
            "warnings": [note.text for note in self.warnings],
            "note_details": [note.to_json() for note in self.notes],
            "waiting": self.waiting or None,
            "error": self.error,
            "stage": None if self.stage is None else str(self.stage),
            "hint": self.hint or None,
        }


@dataclass(frozen=True, kw_only=True)
class ForgeHalt:
    """The forge stopped sending requests part-way through a cycle (a rate limit): the run
    fails with the forge's error, and says which services it reconciled without the forge
    (their proposals were neither looked up nor made; the next run picks them up)."""

    error: str
    hint: str
    #: The service being reconciled when the forge stopped.
    service: str
    #: The services reconciled after that, without asking the forge.
    not_asked: tuple[str, ...]

    def describe(self) -> str:
        after = ", ".join(self.not_asked) or "none"
        return (
            f"{self.error} (it stopped while reconciling {self.service}; reconciled without "
            f"asking the forge, their proposals left for the next run: {after})"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "error": self.error,
            "hint": self.hint,
            "service": self.service,
            "not_asked": list(self.not_asked),
        }


@dataclass(frozen=True, kw_only=True)
class CycleReport:
    started_at: datetime
    dry_run: bool
    services: tuple[ServiceResult, ...]
    commits: tuple[str, ...] = field(default_factory=tuple)
    forge_halt: ForgeHalt | None = None
    #: Set when the trail could not be written, not even the record of a change the cluster
    #: had just made: the cycle changed nothing more, and the run fails with it (exit 5).
    trail_halt: Failure | None = None
    #: What the whole run should say beside the rows: uncommitted blueprint edits it did not
    #: act on, audit records it skipped because they could not be read.
    warnings: tuple[Problem, ...] = ()
    #: The cluster the run was on, and the services it left alone as another cluster's,
    #: each with why.
    cluster: ClusterRef = ON_SIMULATOR
    skipped: tuple[tuple[str, str], ...] = ()

    @property
    def failed(self) -> bool:
        return (
            self.forge_halt is not None
            or self.trail_halt is not None
            or any(
                result.error
                or result.needs_person
                or any(step.kind is StepOutcome.FAILED for step in result.steps)
                for result in self.services
            )
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at.isoformat().replace("+00:00", "Z"),
            "dry_run": self.dry_run,
            "ok": not self.failed,
            "cluster": {"name": self.cluster.name, "identity": self.cluster.identity},
            "skipped": [{"service": name, "reason": why} for name, why in self.skipped],
            "commits": list(self.commits),
            "forge_halted": None if self.forge_halt is None else self.forge_halt.to_json(),
            "trail_halted": None
            if self.trail_halt is None
            else {
                "error": self.trail_halt.message,
                "hint": self.trail_halt.hint,
                "stage": str(self.trail_halt.stage),
            },
            "warnings": [warning.to_json() for warning in self.warnings],
            "services": [result.to_json() for result in self.services],
        }
