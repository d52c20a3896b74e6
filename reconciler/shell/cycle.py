"""The reconcile cycle: gather every input, let the core plan, then perform and record.

Order matters for safety:

1. Observe all deployments and metrics first (batched), before deciding anything.
2. For each service, fold its recent audit history into safety state, and plan
   (`shell/service.py`).
3. Just before a change, govern it again with a fresh clock: the verdict that counts is the
   one at the moment of acting (`_act` in `shell/acting.py`).
4. Apply the change with a stamp on the deployment, then commit its records. If the run dies
   between the two, the next run finds the stamp and records the change (`operation_recovered`).

One service's failure (an unreachable deployment, a refused request, even a bug) is reported
in its row, with the stage it failed in and a hint, and never stops the others: the services
get watched ports (`shell/isolation.py`), and the per-service loop of `run_cycle` is the one
place that catches. A failure after the cluster was asked to change has the change recorded
before the loop moves on, from the stamp it left on the deployment (`shell/failures.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from reconciler.core.blueprint.model import Blueprint
from reconciler.core.errors import ClusterError, MetricsError
from reconciler.core.observed.observation import DeploymentState, Metrics, Target
from reconciler.core.planning.outcomes import Note, NoteKind
from reconciler.core.trail.clusters import skip_reason
from reconciler.core.trail.records import Record
from reconciler.ports import Forge
from reconciler.shell.approvals import Proposer
from reconciler.shell.feedback import follow_up
from reconciler.shell.isolation import (
    Failure,
    Watch,
    WatchedAudit,
    WatchedCluster,
    WatchedForge,
    WatchedMetrics,
    ask_each,
)
from reconciler.shell.ports import Ports
from reconciler.shell.recording import Recorder
from reconciler.shell.reports import CycleReport, ForgeHalt, ServiceResult
from reconciler.shell.service import CycleContext, CycleOptions, reconcile_service
from reconciler.shell.workspace import Fleet
from reconciler.shell.writeback import WatchedManifests

__all__ = ["CycleOptions", "CycleReport", "Ports", "ServiceResult", "run_cycle"]


def run_cycle(fleet: Fleet, ports: Ports, options: CycleOptions) -> CycleReport:
    """One reconcile cycle over the fleet (or the selected services)."""
    fleet.require_policies()
    now = ports.clock.now()
    selected, skipped = _select(fleet, ports, options)
    results = _broken(fleet, options)
    targets = [Target(namespace=b.metadata.namespace, name=b.metadata.deployment) for b in selected]
    observed, current = _observe(ports, targets)
    watch = Watch()
    watched = _watched(ports, watch)
    recorder = Recorder(watched.audit, options.dry_run)
    context = CycleContext(
        texts=fleet.texts, proposer=_proposer(fleet, watched, options), watch=watch
    )
    halted = _Halted()
    unwritable: Failure | None = None
    for index, (blueprint, target) in enumerate(zip(selected, targets, strict=True), start=1):
        if unwritable is not None:
            # Acting on would change the cluster with no record of it: the trail's failure
            # stops what is left of the cycle, and the run fails with it.
            from reconciler.shell.failures import not_reconciled

            results.append(not_reconciled(blueprint.name, unwritable))
            continue
        watch.begin()
        first = len(recorder.records)
        try:
            result = reconcile_service(
                blueprint,
                observed.get(target, ClusterError(f"{target} was not observed")),
                current.get(target, MetricsError(f"no metrics for {target}")),
                watched,
                options,
                recorder,
                now,
                context,
            )
        except Exception as error:  # whatever it is, it is this service's alone
            from reconciler.shell.failures import record_failure

            result, unwritable = record_failure(blueprint, target, error, watch, ports, recorder)
        results.append(_tell(result, target, recorder.records[first:], ports, options))
        halted.see(blueprint.name, ports.forge)
        if options.progress is not None:
            options.progress(index, len(selected))
    if not options.dry_run:
        ports.audit.flush()
    if not options.verify_only:
        results = _note_ignored_files(results, fleet, options.services)
    results.sort(key=lambda r: r.service)
    return CycleReport(
        started_at=now,
        dry_run=options.dry_run,
        services=tuple(results),
        commits=tuple(recorder.commits),
        forge_halt=halted.halt(ports.forge),
        trail_halt=unwritable,
        warnings=(*fleet.notices, *(item.problem() for item in ports.audit.unreadable())),
        cluster=ports.where,
        skipped=skipped,
    )


def _observe(
    ports: Ports, targets: Sequence[Target]
) -> tuple[Mapping[Target, DeploymentState | Exception], Mapping[Target, Metrics | Exception]]:
    """Every deployment and its metrics, asked for all at once before anything is decided."""
    observed = ask_each(ports.cluster.observe, targets)
    try:
        current = ask_each(ports.metrics.current, targets)
    except MetricsError as error:  # a warning for every service, as a failing source is
        current = dict.fromkeys(targets, error)
    return observed, current


def _select(
    fleet: Fleet, ports: Ports, options: CycleOptions
) -> tuple[list[Blueprint], tuple[tuple[str, str], ...]]:
    """The blueprints this cycle reconciles, and those it leaves to another cluster, with why."""
    wanted = [b for b in fleet.blueprints if not options.services or b.name in options.services]
    skipped = tuple(
        (b.name, why) for b in wanted if (why := skip_reason(b, ports.where)) is not None
    )
    return [b for b in wanted if skip_reason(b, ports.where) is None], skipped


def _broken(fleet: Fleet, options: CycleOptions) -> list[ServiceResult]:
    """A row for each selected blueprint that does not validate."""
    return [
        ServiceResult(
            service=name,
            error=f"blueprint does not validate: run `{fleet.validate_command(name)}`",
        )
        for name in sorted(fleet.broken)
        if not options.services or name in options.services
    ]


def _proposer(fleet: Fleet, watched: Ports, options: CycleOptions) -> Proposer | None:
    if watched.forge is None:
        return None
    return Proposer(
        forge=watched.forge,
        audit=watched.audit,
        budget=fleet.policies.max_new_proposals_per_run,
        links=options.links,
    )


def _tell(
    result: ServiceResult,
    target: Target,
    recorded: Sequence[Record],
    ports: Ports,
    options: CycleOptions,
) -> ServiceResult:
    """Say what the service's part of the cycle recorded where people look: a comment on the
    proposals it ended or added to, an Event on the deployment. Neither is ever the cycle's
    failure; what could not be said is a note."""
    if not recorded:
        return result
    if ports.forge is not None:
        # The forge is not asked when nothing of the kind happened.
        try:
            said = follow_up(result.service, recorded, ports.audit, ports.forge, options.links)
        except Exception as error:  # the comment is a courtesy: never the cycle's failure
            text = f"could not comment on the proposals: {error}"
            said = [Note(kind=NoteKind.FORGE_FAILED, text=text)]
        if said:
            result = replace(result, notes=(*result.notes, *said))
    if ports.events is not None:
        from reconciler.shell.announce import announce  # a cluster that keeps events

        said = announce(ports.events, target, recorded)
        result = replace(result, notes=(*result.notes, *said)) if said else result
    return result


@dataclass
class _Halted:
    """Where the forge stopped sending requests, if it did. Every later service is still
    reconciled (what needs no forge goes on), and named, so that nobody takes its untouched
    proposals for an answer."""

    service: str = ""
    not_asked: list[str] = field(default_factory=list)

    def see(self, service: str, forge: Forge | None) -> None:
        if forge is None or forge.halted() is None:
            return
        if self.service:
            self.not_asked.append(service)
        else:
            self.service = service

    def halt(self, forge: Forge | None) -> ForgeHalt | None:
        stopped = forge.halted() if forge is not None else None
        if stopped is None:
            return None
        return ForgeHalt(
            error=str(stopped),
            hint=stopped.hint,
            service=self.service,
            not_asked=tuple(self.not_asked),
        )


def _watched(ports: Ports, watch: Watch) -> Ports:
    """The ports a cycle's services are reconciled through: each call marks its stage."""
    return Ports(
        cluster=WatchedCluster(ports.cluster, watch),
        metrics=WatchedMetrics(ports.metrics, watch),
        audit=WatchedAudit(ports.audit, watch),
        clock=ports.clock,
        forge=None if ports.forge is None else WatchedForge(ports.forge, watch),
        manifests=None if ports.manifests is None else WatchedManifests(ports.manifests, watch),
        where=ports.where,
        paired=ports.paired,
    )


def _note_ignored_files(
    results: list[ServiceResult], fleet: Fleet, services: Sequence[str]
) -> list[ServiceResult]:
    """Note each file the loader ignored in the row of the service it seems meant for, so a
    misnamed blueprint shows in the run's output and not only in `validate`."""
    notes: dict[str, list[Note]] = {}
    for item in fleet.ignored:
        if not services or item.service in services:
            problem = item.problem
            text = f"file ignored: {problem.file}: {problem.message.removeprefix('ignored: ')}"
            notes.setdefault(item.service, []).append(
                Note(kind=NoteKind.FILE_IGNORED, text=f"{text} (fix: {problem.hint})")
            )
    rows = {result.service: result for result in results}
    for service, extra in notes.items():
        row = rows.get(service, ServiceResult(service=service))
        rows[service] = replace(row, notes=(*row.notes, *extra))
    return list(rows.values())
