"""One service's failure stays that service's: which stage it failed in, and what to do.

A cycle reconciles every service through the same ports. Rather than guarding each call, the
cycle hands its services watched ports: each call marks the stage it serves (reading the
deployment is `observe`, committing records is `record`, anything on the forge is `forge`, ...)
and remembers the stage of whatever it raised. The cycle's per-service loop then catches any
exception of one service, names it with that stage and a hint, and goes on to the next; an
exception from the pure core is named by the phase the service was in. The watch also
remembers whether the cluster was asked to change, so that a failure after a change can have
the change recorded before moving on (see `run_cycle`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from reconciler.core.approvals.feedback import ProposalStatus
from reconciler.core.approvals.proposals import CommentTopic, Draft, Proposal
from reconciler.core.errors import ClusterError, ForgeError, MetricsError, ReconcilerError
from reconciler.core.observed.changes import Applied, Change
from reconciler.core.observed.observation import DeploymentState, Metrics, Sample, Target
from reconciler.core.trail.commits import CommitMessage
from reconciler.core.trail.records import EventType, Record, UnreadableRecord
from reconciler.ports import AuditStore, Cluster, Forge, MetricsSource

__all__ = [
    "Failure",
    "Stage",
    "Watch",
    "WatchedAudit",
    "WatchedCluster",
    "WatchedForge",
    "WatchedMetrics",
    "ask_each",
    "failure",
]

Found = TypeVar("Found")


class Stage(StrEnum):
    """Where in its part of a cycle a service failed."""

    #: Reading the deployment and its current metrics.
    OBSERVE = "observe"
    #: Planning: the decision, and the metric history a scale-down rests on.
    DECIDE = "decide"
    #: Reading the trail that cooldowns, rate limits and the breaker are rebuilt from, and
    #: governing the change again just before acting.
    GOVERN = "govern"
    #: Changing the cluster.
    APPLY = "apply"
    #: Committing the audit records.
    RECORD = "record"
    #: Judging merged proposals, and making or updating proposals.
    FORGE = "forge"


#: What to do about an error of each stage that brings no hint of its own.
HINTS = {
    Stage.OBSERVE: "check that the deployment exists and the cluster answers "
    "(`reconciler doctor` on a real cluster); the next run tries again",
    Stage.DECIDE: "the next run decides again; a value the decision cannot use is named above",
    Stage.GOVERN: "check the service's audit trail with `reconciler audit -s SERVICE`; "
    "nothing is changed until its history can be read",
    Stage.APPLY: "check the deployment on the cluster; the next run sees what it holds",
    Stage.RECORD: "check that the repository can be written (disk space, permissions, "
    "`git status`); a change made without its record is recorded by the next run",
    Stage.FORGE: "check the forge (`reconciler approvals -s SERVICE`); the next run asks again",
}

#: The hint of an exception outside the error tree: a bug, in the reconciler or an adapter.
BUG_HINT = (
    "this is a bug; the other services were reconciled. `reconciler run -s SERVICE` repeats "
    "it for this service alone: please report it with this line"
)


@dataclass(frozen=True, kw_only=True)
class Failure:
    """One service's failure, as its row shows it."""

    stage: Stage
    message: str
    hint: str

    def describe(self) -> str:
        return f"{self.stage}: {self.message} (fix: {self.hint})"


def failure(error: BaseException, stage: Stage, service: str) -> Failure:
    """Name an exception of one service: its own text and hint for an error of the tree, the
    exception's type and text for anything else (a bug)."""
    if isinstance(error, ReconcilerError):
        hint = error.hint or HINTS[stage]
        return Failure(stage=stage, message=str(error), hint=hint.replace("SERVICE", service))
    import traceback  # a bug's name only

    detail = "".join(traceback.format_exception_only(error)).strip()
    return Failure(
        stage=stage, message=f"internal error: {detail}", hint=BUG_HINT.replace("SERVICE", service)
    )


@dataclass
class Watch:
    """The stage one service is in, where its exceptions came from, and the changes it asked
    of the cluster. One per cycle, begun again for each service."""

    stage: Stage = Stage.OBSERVE
    #: The changes asked of the cluster for this service (made or not: an answer may be lost).
    changes: list[Change] = field(default_factory=list)
    #: The operations this service asked to commit to its manifests (coexistence: write_back).
    commits: list[str] = field(default_factory=list)
    _raised: list[tuple[BaseException, Stage]] = field(default_factory=list)

    def begin(self) -> None:
        self.stage = Stage.OBSERVE
        self.changes.clear()
        self.commits.clear()
        self._raised.clear()

    def at(self, stage: Stage) -> _At:
        """Mark a port call: what it raises is of `stage`, whatever catches it later."""
        return _At(self, stage)

    def stage_of(self, error: BaseException) -> Stage:
        """The stage of the port call that raised `error` (or the error it was raised from),
        else the phase the service was in."""
        seen: set[int] = set()
        current: BaseException | None = error
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            for raised, stage in self._raised:
                if raised is current:
                    return stage
            current = current.__cause__ or current.__context__
        return self.stage


class _At:
    """`Watch.at` as a plain context manager: a cycle makes about seven port calls a service,
    and a generator-based one cost more than some of the calls it marked."""

    __slots__ = ("before", "stage", "watch")

    def __init__(self, watch: Watch, stage: Stage) -> None:
        self.watch = watch
        self.stage = stage
        self.before = watch.stage

    def __enter__(self) -> None:
        self.before, self.watch.stage = self.watch.stage, self.stage

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _trace: object
    ) -> None:
        """Puts the stage back and notes what was raised, which goes on (None: not kept)."""
        self.watch.stage = self.before
        if error is not None and not any(seen is error for seen, _stage in self.watch._raised):
            self.watch._raised.append((error, self.stage))


def ask_each(
    ask: Callable[[Sequence[Target]], Mapping[Target, Found]],
    targets: Sequence[Target],
) -> Mapping[Target, Found | Exception]:
    """A batch request that cannot take one bad member down with it.

    An error of the tree from the batch (an unreachable cluster) is the run's, and raised. Any
    other exception is a bug that some deployment's data set off: each target is then asked
    alone, so that only the ones that set it off fail, with the exception as their answer.
    """
    try:
        return ask(targets)
    except ReconcilerError:
        raise
    except Exception:
        found: dict[Target, Found | Exception] = {}
        for target in targets:
            try:
                found.update(ask([target]))
            except Exception as error:
                found[target] = error
        return found


class WatchedCluster:
    def __init__(self, cluster: Cluster, watch: Watch) -> None:
        self.cluster = cluster
        self.watch = watch

    def observe(self, targets: Sequence[Target]) -> Mapping[Target, DeploymentState | ClusterError]:
        with self.watch.at(Stage.OBSERVE):
            return self.cluster.observe(targets)

    def apply(self, change: Change) -> Applied:
        self.watch.changes.append(change)
        with self.watch.at(Stage.APPLY):
            return self.cluster.apply(change)


class WatchedMetrics:
    def __init__(self, metrics: MetricsSource, watch: Watch) -> None:
        self.metrics = metrics
        self.watch = watch

    def current(self, targets: Sequence[Target]) -> Mapping[Target, Metrics | MetricsError]:
        with self.watch.at(Stage.OBSERVE):
            return self.metrics.current(targets)

    def window(self, target: Target, seconds: float, now: datetime) -> Sequence[Sample]:
        with self.watch.at(Stage.DECIDE):
            return self.metrics.window(target, seconds, now)


class WatchedAudit:
    def __init__(self, audit: AuditStore, watch: Watch) -> None:
        self.audit = audit
        self.watch = watch

    def append(self, records: Sequence[Record], message: CommitMessage) -> str:
        with self.watch.at(Stage.RECORD):
            return self.audit.append(records, message)

    def flush(self) -> None:
        with self.watch.at(Stage.RECORD):
            self.audit.flush()

    def history(self, service: str, since: datetime) -> list[Record]:
        with self.watch.at(Stage.GOVERN):
            return self.audit.history(service, since)

    def latest(self, service: str, events: Collection[EventType]) -> Record | None:
        with self.watch.at(Stage.GOVERN):
            return self.audit.latest(service, events)

    def contains(self, service: str, at: datetime, record_id: str) -> bool:
        with self.watch.at(Stage.GOVERN):
            return self.audit.contains(service, at, record_id)

    def events(self, service: str, events: Collection[EventType]) -> list[Record]:
        with self.watch.at(Stage.GOVERN):
            return self.audit.events(service, events)

    def approvals(self, service: str, *, digest: str, since: datetime) -> list[Record]:
        with self.watch.at(Stage.GOVERN):
            return self.audit.approvals(service, digest=digest, since=since)

    def scan(
        self,
        *,
        service: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Iterator[Record]:
        with self.watch.at(Stage.GOVERN):
            # Read in full here: a generator would raise later, outside the mark.
            return iter(list(self.audit.scan(service=service, since=since, until=until)))

    def unreadable(self, service: str | None = None) -> list[UnreadableRecord]:
        with self.watch.at(Stage.GOVERN):
            return self.audit.unreadable(service)


class WatchedForge:
    def __init__(self, forge: Forge, watch: Watch) -> None:
        self.forge = forge
        self.watch = watch

    def find(
        self,
        branch: str,
        number: int | None = None,
        head: str = "",
        paths: Sequence[str] = (),
    ) -> Proposal | None:
        with self.watch.at(Stage.FORGE):
            return self.forge.find(branch, number, head, paths)

    def open(self, draft: Draft) -> Proposal:
        with self.watch.at(Stage.FORGE):
            return self.forge.open(draft)

    def update(self, proposal: Proposal, draft: Draft) -> Proposal:
        with self.watch.at(Stage.FORGE):
            return self.forge.update(proposal, draft)

    def label(self, proposal: Proposal, labels: Sequence[str]) -> None:
        with self.watch.at(Stage.FORGE):
            self.forge.label(proposal, labels)

    def comment(self, proposal: Proposal, text: str, topic: CommentTopic) -> None:
        with self.watch.at(Stage.FORGE):
            self.forge.comment(proposal, text, topic)

    def close(self, proposal: Proposal, comment: str) -> None:
        with self.watch.at(Stage.FORGE):
            self.forge.close(proposal, comment)

    def set_status(self, proposal: Proposal, status: ProposalStatus) -> None:
        with self.watch.at(Stage.FORGE):
            self.forge.set_status(proposal, status)

    def report(self, proposal: Proposal, text: str, topic: CommentTopic) -> None:
        with self.watch.at(Stage.FORGE):
            self.forge.report(proposal, text, topic)

    def is_member(self, approver: str, login: str) -> bool:
        with self.watch.at(Stage.FORGE):
            return self.forge.is_member(approver, login)

    def halted(self) -> ForgeError | None:
        return self.forge.halted()
