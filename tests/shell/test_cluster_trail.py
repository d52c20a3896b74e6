"""ClusterTrail on a real git trail: what one cluster writes names it, what it reads is its own,
and records written before records named their cluster follow core/trail/clusters.py."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pygit2
import pytest

from reconciler.adapters.git_audit import GitAuditStore
from reconciler.core.approvals.lifecycle import APPROVAL_EVENTS
from reconciler.core.trail.clusters import ON_SIMULATOR, ClusterRef
from reconciler.core.trail.commits import commit_message
from reconciler.core.trail.history import CHANGE_EVENTS
from reconciler.core.trail.records import EventType, Outcome, Record
from reconciler.shell.trail import ClusterTrail
from tests.core.helpers import NOW

PROD = ClusterRef(identity="5f0c7e2a-prod", name="prod")
DAY = timedelta(days=1)


def rec(event: EventType, seconds: float, rid: str, cluster: str | None = None) -> Record:
    return Record(
        id=rid,
        timestamp=NOW + timedelta(seconds=seconds),
        event_type=event,
        service="web",
        blueprint_version="1.0.0",
        outcome=Outcome.SUCCESS,
        rationale="test",
        cluster=cluster,
    )


@pytest.fixture
def store(tmp_path: Path) -> GitAuditStore:
    pygit2.init_repository(str(tmp_path), initial_head="main")
    return GitAuditStore(tmp_path)


def write(store: GitAuditStore, *records: Record) -> None:
    """Records as an older reconciler (no cluster) or another cluster's run wrote them."""
    for record in records:
        store.append([record], commit_message("web: test", [record]))


def test_what_a_cluster_writes_names_it_in_the_record_and_the_commit(
    store: GitAuditStore,
) -> None:
    trail = ClusterTrail(store, PROD)
    record = rec(EventType.OPERATION_EXECUTED, 0, "op-1")
    sha = trail.append([record], commit_message("web: scaled", [record]))
    (read,) = store.history("web", NOW - DAY)
    assert read.cluster == "5f0c7e2a-prod"
    assert read.to_json()["cluster"] == "5f0c7e2a-prod"
    message = store.repo[sha].message  # type: ignore[attr-defined]
    assert "Reconciler-Cluster: 5f0c7e2a-prod" in message.splitlines()


def test_each_cluster_reads_only_its_own_records(store: GitAuditStore) -> None:
    write(
        store,
        rec(EventType.OPERATION_EXECUTED, -60, "op-sim", "simulated"),
        rec(EventType.OPERATION_EXECUTED, -30, "op-prod", PROD.identity),
        rec(EventType.BREAKER_OPENED, -20, "brk-sim", "simulated"),
    )
    prod, sim = ClusterTrail(store, PROD), ClusterTrail(store, ON_SIMULATOR)
    assert [r.id for r in prod.history("web", NOW - DAY)] == ["op-prod"]
    assert [r.id for r in sim.history("web", NOW - DAY)] == ["op-sim", "brk-sim"]
    # The newest change of all is the simulator's: prod's own is found under it.
    latest = prod.latest("web", CHANGE_EVENTS | {EventType.BREAKER_OPENED})
    assert latest is not None and latest.id == "op-prod"
    assert prod.latest("web", {EventType.BREAKER_OPENED}) is None
    assert [r.id for r in prod.events("web", CHANGE_EVENTS)] == ["op-prod"]
    assert [r.id for r in prod.scan()] == ["op-prod"]
    assert [r.id for r in sim.scan(service="web")] == ["op-sim", "brk-sim"]


def test_records_naming_no_cluster_are_the_readers_until_another_cluster_wrote(
    store: GitAuditStore,
) -> None:
    write(store, rec(EventType.OPERATION_EXECUTED, -60, "op-old"))
    prod = ClusterTrail(store, PROD)
    # A repository that served one cluster keeps its history across the upgrade.
    assert [r.id for r in prod.history("web", NOW - DAY)] == ["op-old"]
    found = prod.latest("web", CHANGE_EVENTS)
    assert found is not None and found.id == "op-old"
    # Once another cluster wrote records of the service, the unnamed ones are nobody's.
    write(store, rec(EventType.DECISION_MADE, -10, "dec-sim", "simulated"))
    assert prod.history("web", NOW - DAY) == []
    assert prod.latest("web", CHANGE_EVENTS) is None
    # The simulator has seen no other cluster's record of the service: they are its own.
    sim = ClusterTrail(store, ON_SIMULATOR)
    assert [r.id for r in sim.history("web", NOW - DAY)] == ["op-old", "dec-sim"]
    # Until prod writes one; a run that saw it keeps the answer for every later read.
    write(store, rec(EventType.DECISION_MADE, -5, "dec-prod", PROD.identity))
    sim = ClusterTrail(store, ON_SIMULATOR)
    assert [r.id for r in sim.history("web", NOW - DAY)] == ["dec-sim"]
    assert sim.latest("web", CHANGE_EVENTS) is None


def test_a_proposal_of_another_cluster_is_not_pending_here(store: GitAuditStore) -> None:
    requested = replace(
        rec(EventType.APPROVAL_REQUESTED, -60, "apr-sim", "simulated"),
        outcome=Outcome.PENDING,
        operation="scale_up",
        details={"key": "web-scale-up", "branch": "reconciler/web-scale-up"},
    )
    write(store, requested)
    assert ClusterTrail(store, PROD).events("web", APPROVAL_EVENTS) == []
    assert ClusterTrail(store, PROD).approvals("web", digest="d", since=NOW - DAY) == []
    own = ClusterTrail(store, ON_SIMULATOR).approvals("web", digest="d", since=NOW - DAY)
    assert [r.id for r in own] == ["apr-sim"]
