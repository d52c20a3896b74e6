"""One service's failure is its own: a cycle over 50 services in which one stage fails for a
tenth of them still reconciles and records the other 45, and names each failure with its stage
and a hint.

Faults come in only through the ports (reconciler/ports.py): the real simulated cluster, git
audit store and local forge, each behind a wrapper that fails for the chosen services at one
stage. Two kinds of fault per stage: the port's own error from the error tree (what an adapter
raises when the world refuses), and an exception outside it (what a bug in an adapter raises).
Whatever happens, no change reaches the cluster without its audit record.
"""

from __future__ import annotations

import shutil
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from reconciler.adapters.git_audit import GitAuditStore
from reconciler.adapters.local_forge import LocalForge
from reconciler.adapters.simulated import SimTarget, SimulatedCluster, create
from reconciler.core.approvals.feedback import ProposalStatus
from reconciler.core.approvals.proposals import CommentTopic, Draft, Proposal
from reconciler.core.errors import AuditError, ClusterError, ForgeError, MetricsError
from reconciler.core.observed.changes import Applied, Change
from reconciler.core.observed.observation import DeploymentState, Metrics, Sample, Target
from reconciler.core.planning.outcomes import NoteKind
from reconciler.core.trail.commits import CommitMessage
from reconciler.core.trail.records import EventType, Record, UnreadableRecord
from reconciler.shell.cycle import CycleOptions, CycleReport, Ports, ServiceResult, run_cycle
from reconciler.shell.workspace import Fleet, load_fleet
from tests.conftest import REPO
from tests.scenarios.conftest import init_repo

START = datetime(2026, 2, 10, 15, 30, tzinfo=UTC)
SERVICES = [f"svc-{index:02d}" for index in range(50)]
#: A tenth of the fleet, spread over it: every tenth service, from the first.
BROKEN = frozenset(SERVICES[::10])
STAGES = ("observe", "decide", "govern", "apply", "record", "forge")
#: `error`: the port raises (or answers) its own error from the error tree; `crash`: it raises
#: an exception outside the tree, as a bug in an adapter would.
KINDS = ("error", "crash")

BLUEPRINT = """\
metadata:
  name: {name}
  namespace: shop
  version: 1.0.0
spec:
  scaling:
    min_replicas: 1
    max_replicas: 5
    scale_up_threshold: 80%
    scale_down_threshold: 40%
    metrics:
      - {{type: cpu, weight: 1.0}}
"""

#: Each stage's fleet: where every service stands, so that each reaches the stage under test.
#: (replicas, CPU utilization, what a healthy service's step is).
LOADS = {
    "hot": (2, "95%", ("scale 2→3", "executed")),  # scales up within its limits
    "at the limit": (5, "95%", ("scale 5→6", "proposed")),  # needs approval: a proposal
    "idle": (4, "10%", ("scale 4→3", "executed")),  # scales down, on its metric history
}
FLEET_OF = {
    "observe": "hot",
    "decide": "idle",
    "govern": "hot",
    "apply": "hot",
    "record": "hot",
    "forge": "at the limit",
}


def _fleet(root: Path, load: str) -> None:
    source = root.parent / f"{root.name}-blueprints"
    shutil.copytree(REPO / "blueprints" / "governance", source / "governance")
    policies = source / "governance" / "policies.yaml"
    # Every service at its limit proposes in the same run: no cap on new proposals.
    text = policies.read_text()
    assert "    max_new_per_run: 5\n" in text
    policies.write_text(text.replace("    max_new_per_run: 5\n", "    max_new_per_run: 100\n"))
    for name in SERVICES:
        (source / name).mkdir(parents=True)
        (source / name / "blueprint.yaml").write_text(BLUEPRINT.format(name=name))
    init_repo(root, source)
    replicas, cpu, _step = LOADS[load]
    targets = [
        SimTarget(
            namespace="shop",
            name=name,
            replicas=replicas,
            cpu_request=None,
            memory_request=None,
            latency_target_ms=200.0,
        )
        for name in SERVICES
    ]
    # Ten minutes of history at this load: the evidence a scale-down is decided on.
    sim = create(
        root / ".reconciler/sim-state.db",
        targets,
        clock=START - timedelta(minutes=10),
        scenario="steady",
    )
    for deployment in sim.deployments.values():
        sim.set(deployment, {"cpu_utilization": cpu})
    sim.record_samples()
    sim.advance(600)
    sim.save()


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One repository per load, made once and copied for each test."""
    made = {}
    for load in LOADS:
        root = tmp_path_factory.mktemp("template") / "fleet"
        root.mkdir()
        _fleet(root, load)
        made[load] = root
    return made


class Injected(Exception):
    """The `crash` kind: not in the reconciler's error tree, as an adapter's bug would raise."""


@dataclass
class Faults:
    """Which stage fails, how, and for which services."""

    stage: str
    kind: str
    broken: frozenset[str] = BROKEN
    #: A record store fails once per broken service (a lost write), or for good.
    persistent: bool = False

    def hits(self, stage: str, service: str) -> bool:
        return self.stage == stage and service in self.broken

    def crash(self, stage: str, service: str) -> Injected:
        return Injected(f"injected {stage} fault for {service}")


class FaultyCluster:
    """The simulated cluster, failing to observe or to apply for the broken services."""

    def __init__(self, sim: SimulatedCluster, faults: Faults) -> None:
        self.sim = sim
        self.faults = faults

    def observe(self, targets: Sequence[Target]) -> Mapping[Target, DeploymentState | ClusterError]:
        found = dict(self.sim.observe(targets))
        for target in targets:
            if self.faults.hits("observe", target.name):
                if self.faults.kind == "crash":
                    # A bug that one deployment's data sets off fails the whole batch.
                    raise self.faults.crash("observe", target.name)
                found[target] = ClusterError(
                    f"reading deployment {target}: the API answered 500 Internal Server Error",
                    hint="check the API server's health",
                )
        return found

    def apply(self, change: Change) -> Applied:
        service = change.target.name
        if self.faults.hits("apply", service):
            if self.faults.kind == "error":
                raise ClusterError(
                    f"scaling deployment {change.target}: the API answered 500",
                    hint="check the API server's health",
                )
            # The change is made, then the answer is lost to a crash.
            self.sim.apply(change)
            raise self.faults.crash("apply", service)
        return self.sim.apply(change)


class FaultyMetrics:
    """The simulated metrics, failing to give the broken services' history."""

    def __init__(self, sim: SimulatedCluster, faults: Faults) -> None:
        self.sim = sim
        self.faults = faults

    def current(self, targets: Sequence[Target]) -> Mapping[Target, Metrics | MetricsError]:
        return self.sim.current(targets)

    def window(self, target: Target, seconds: float, now: datetime) -> Sequence[Sample]:
        if self.faults.hits("decide", target.name):
            if self.faults.kind == "crash":
                raise self.faults.crash("decide", target.name)
            raise MetricsError(f"metric history of {target}: the query timed out")
        return self.sim.window(target, seconds, now)


class FaultyAudit:
    """The git audit store, failing to read the broken services' history (what governance
    judges on) or to commit their first records."""

    def __init__(self, store: GitAuditStore, faults: Faults) -> None:
        self.store = store
        self.faults = faults
        self.lost: set[str] = set()

    def append(self, records: Sequence[Record], message: CommitMessage) -> str:
        service = records[0].service
        if self.faults.hits("record", service) and (
            self.faults.persistent or service not in self.lost
        ):
            self.lost.add(service)
            if self.faults.kind == "crash":
                raise self.faults.crash("record", service)
            raise AuditError("committing audit records: the disk is full", hint="free some space")
        return self.store.append(records, message)

    def history(self, service: str, since: datetime) -> list[Record]:
        if self.faults.hits("govern", service):
            if self.faults.kind == "crash":
                raise self.faults.crash("govern", service)
            raise AuditError(
                f"reading audit/{service}/: the object store is corrupt", hint="run git fsck"
            )
        return self.store.history(service, since)

    def latest(self, service: str, events: Collection[EventType]) -> Record | None:
        return self.store.latest(service, events)

    def contains(self, service: str, at: datetime, record_id: str) -> bool:
        return self.store.contains(service, at, record_id)

    def flush(self) -> None:
        self.store.flush()

    def events(self, service: str, events: Collection[EventType]) -> list[Record]:
        return self.store.events(service, events)

    def approvals(self, service: str, *, digest: str, since: datetime) -> list[Record]:
        return self.store.approvals(service, digest=digest, since=since)

    def scan(
        self,
        *,
        service: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Iterator[Record]:
        return self.store.scan(service=service, since=since, until=until)

    def unreadable(self, service: str | None = None) -> list[UnreadableRecord]:
        return self.store.unreadable(service)


class FaultyForge:
    """The local forge, failing to open the broken services' proposals."""

    def __init__(self, forge: LocalForge, faults: Faults) -> None:
        self.forge = forge
        self.faults = faults

    def find(
        self, branch: str, number: int | None = None, head: str = "", paths: Sequence[str] = ()
    ) -> Proposal | None:
        return self.forge.find(branch, number, head, paths)

    def open(self, draft: Draft) -> Proposal:
        service = draft.key.split("/")[0]
        if self.faults.hits("forge", service):
            if self.faults.kind == "crash":
                raise self.faults.crash("forge", service)
            raise ForgeError("opening a pull request: the forge answered 502", hint="try later")
        return self.forge.open(draft)

    def update(self, proposal: Proposal, draft: Draft) -> Proposal:
        return self.forge.update(proposal, draft)

    def label(self, proposal: Proposal, labels: Sequence[str]) -> None:
        self.forge.label(proposal, labels)

    def comment(self, proposal: Proposal, text: str, topic: CommentTopic) -> None:
        self.forge.comment(proposal, text, topic)

    def close(self, proposal: Proposal, comment: str) -> None:
        self.forge.close(proposal, comment)

    def set_status(self, proposal: Proposal, status: ProposalStatus) -> None:
        self.forge.set_status(proposal, status)

    def report(self, proposal: Proposal, text: str, topic: CommentTopic) -> None:
        self.forge.report(proposal, text, topic)

    def is_member(self, approver: str, login: str) -> bool:
        return self.forge.is_member(approver, login)

    def halted(self) -> ForgeError | None:
        return self.forge.halted()


@dataclass
class Cycle:
    root: Path
    fleet: Fleet
    sim: SimulatedCluster
    store: GitAuditStore
    report: CycleReport

    @property
    def rows(self) -> dict[str, ServiceResult]:
        return {result.service: result for result in self.report.services}


def _ports(root: Path, fleet: Fleet, faults: Faults | None) -> tuple[Ports, SimulatedCluster]:
    sim = SimulatedCluster.load(root / ".reconciler/sim-state.db")
    store = GitAuditStore(root, name="reconciler", email="reconciler@localhost")
    forge = LocalForge(
        root,
        name="reconciler",
        email="reconciler@localhost",
        teams=fleet.policies.teams,
        now=sim.now,
    )
    if faults is None:
        return Ports(cluster=sim, metrics=sim, audit=store, clock=sim, forge=forge), sim
    ports = Ports(
        cluster=FaultyCluster(sim, faults),
        metrics=FaultyMetrics(sim, faults),
        audit=FaultyAudit(store, faults),
        clock=sim,
        forge=FaultyForge(forge, faults),
    )
    return ports, sim


def _cycle(root: Path, faults: Faults | None) -> Cycle:
    fleet = load_fleet(root)
    ports, sim = _ports(root, fleet, faults)
    report = run_cycle(fleet, ports, CycleOptions())
    sim.save()
    store = GitAuditStore(root, name="reconciler", email="reconciler@localhost")
    return Cycle(root=root, fleet=fleet, sim=sim, store=store, report=report)


def _copy(templates: dict[str, Path], load: str, tmp_path: Path) -> Path:
    root = tmp_path / "fleet"
    shutil.copytree(templates[load], root, symlinks=True)
    return root


def _step(result: ServiceResult) -> tuple[str, str]:
    (step,) = result.steps
    return step.description, step.outcome


def _unrecorded_changes(cycle: Cycle) -> list[str]:
    """Services whose deployment carries a change that the audit trail lacks."""
    observed = cycle.sim.observe([Target(namespace="shop", name=name) for name in SERVICES])
    missing = []
    for target, state in observed.items():
        assert isinstance(state, DeploymentState), state
        stamp = state.last_change
        if stamp is not None and not cycle.store.contains(
            target.name, stamp.at, stamp.operation_id
        ):
            missing.append(target.name)
    return missing


def _assert_healthy_completed(cycle: Cycle, load: str) -> None:
    """Every service that was not broken did its work and has its records in git."""
    _replicas, _cpu, expected = LOADS[load]
    wanted = {
        "executed": EventType.OPERATION_EXECUTED,
        "proposed": EventType.APPROVAL_REQUESTED,
    }[expected[1]]
    for name in SERVICES:
        if name in BROKEN:
            continue
        result = cycle.rows[name]
        assert result.error is None, (name, result.error)
        assert _step(result) == expected, (name, result.steps)
        (step,) = result.steps
        assert step.commit is not None
        records = cycle.store.events(name, [wanted, EventType.DECISION_MADE])
        assert [r.event_type for r in records] == [EventType.DECISION_MADE, wanted], name
        assert {r.id for r in records} <= set(step.record_ids)


def _failures(cycle: Cycle) -> dict[str, dict[str, Any]]:
    """The broken services' rows as JSON: each names its error, the stage and a fix."""
    rows = {row["service"]: row for row in cycle.report.to_json()["services"]}
    return {name: rows[name] for name in sorted(BROKEN)}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_failing_for_a_tenth_of_the_fleet_stops_only_those_services(
    templates: dict[str, Path], tmp_path: Path, stage: str, kind: str
) -> None:
    assert len(BROKEN) == len(SERVICES) // 10
    load = FLEET_OF[stage]
    root = _copy(templates, load, tmp_path)
    cycle = _cycle(root, Faults(stage=stage, kind=kind))

    assert len(cycle.report.services) == len(SERVICES)
    _assert_healthy_completed(cycle, load)
    assert _unrecorded_changes(cycle) == []
    assert cycle.report.failed == (stage != "decide" or kind == "crash")

    for name, row in _failures(cycle).items():
        if stage == "decide" and kind == "error":
            # Metric history that cannot be read is no evidence for a scale-down: a warning,
            # and the service is left as it is.
            assert row["error"] is None and row["steps"] == [], row
            assert any("metric history unavailable" in w for w in row["warnings"]), row
            continue
        if stage in {"apply", "forge"} and kind == "error":
            # The port's own error is the step's recorded failure (the forge: retried next run).
            (step,) = row["steps"]
            assert step["outcome"] == "failed", row
            assert ("API answered 500" if stage == "apply" else "forge answered 502") in (
                step["detail"]
            )
            continue
        assert row["stage"] == stage, (name, row)
        assert row["error"].startswith(f"{stage}: "), row
        assert row["hint"], row
        assert f"(fix: {row['hint']})" in row["error"]
        if kind == "crash":
            assert row["error"].startswith(f"{stage}: internal error: "), row
            assert (
                f"Injected: injected {stage} fault for {name} (fix: this is a bug" in (row["error"])
            )

    if stage == "apply" and kind == "error":
        for name in BROKEN:
            (failed,) = cycle.store.events(name, [EventType.OPERATION_FAILED])
            assert "API answered 500" in failed.details["error"]
    if (stage, kind) in {("apply", "crash"), ("record", "crash"), ("record", "error")}:
        # The cluster changed, and the run lost what said so: it is recorded in the same run,
        # from the stamp the change left on the deployment.
        for name in BROKEN:
            (recovered,) = cycle.store.events(name, [EventType.OPERATION_RECOVERED])
            assert recovered.operation == "scale_within_limits"
            assert recovered.details["post_operation_state"]["replicas"] == 3
            (note,) = cycle.rows[name].notes
            assert note.kind is NoteKind.CHANGE_RECOVERED, note
            assert note.text.endswith("found on the deployment"), note


def test_a_trail_that_cannot_be_written_stops_changing_the_cluster(
    templates: dict[str, Path], tmp_path: Path
) -> None:
    """Every write fails for good (a disk that is full, a lock git cannot take): the first
    service's change is made, and not even its record can be written. Changing the other
    services would leave 49 changes unrecorded, so the cycle stops there and says why; the
    next run records the one change from its stamp and reconciles the rest."""
    root = _copy(templates, "hot", tmp_path)
    everyone = frozenset(SERVICES)
    cycle = _cycle(root, Faults(stage="record", kind="error", broken=everyone, persistent=True))
    assert _unrecorded_changes(cycle) == ["svc-00"]
    halt = cycle.report.trail_halt
    assert halt is not None and "the disk is full" in halt.message
    assert cycle.report.failed
    first, *rest = cycle.report.to_json()["services"]
    assert first["stage"] == "record"
    assert (
        "could not be recorded either (the same error): the next run records it" in (first["error"])
    )
    assert len(rest) == 49
    for row in rest:
        assert row["stage"] == "record" and row["steps"] == [], row
        assert row["error"].startswith("record: not reconciled: the audit trail cannot be "), row
        assert "(fix: free some space)" in row["error"]

    following = _cycle(root, None)
    assert _unrecorded_changes(following) == []
    (recovered,) = following.store.events("svc-00", [EventType.OPERATION_RECOVERED])
    assert recovered.details["post_operation_state"]["replicas"] == 3
    for name in SERVICES[1:]:
        assert _step(following.rows[name]) == ("scale 2→3", "executed"), name
