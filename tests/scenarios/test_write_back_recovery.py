"""A run that dies between committing a manifest change and recording it.

Under `coexistence: write_back` the change is the commit to the manifests; its record is the
audit commit that follows. A run killed between the two leaves a commit the trail does not
know. The commit carries the change's stamp (`Reconciler-Stamp`), so the next run writes the
record that run would have written (`operation_recovered`, linked to the commit) and then
waits for the GitOps tool and verifies the change like any other: it neither commits the
change a second time nor loses it. A failure short of a kill (the audit commit refused) has
the change recorded before the run moves on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli.compose import build_ports, committed_fleet
from reconciler.cli.context import Settings
from reconciler.core.errors import AuditError
from reconciler.core.trail.commits import CommitMessage
from reconciler.core.trail.records import EventType, Record
from reconciler.ports import AuditStore
from reconciler.shell.cycle import CycleOptions, run_cycle
from tests.scenarios.conftest import Scenario
from tests.scenarios.test_write_back import hot, replicas_in_git, run, write_back_fleet


class Killed(BaseException):
    """The process ending at this point: nothing in the reconciler catches it."""


class DyingAudit:
    """The real audit store, until the executed record of a change is committed: then the
    run is killed (`BaseException`), or the commit refused once (`AuditError`)."""

    def __init__(self, store: AuditStore, kill: bool) -> None:
        self.store = store
        self.kill = kill
        self.refused = 0

    def append(self, records: Sequence[Record], message: CommitMessage) -> str:
        if any(r.event_type is EventType.OPERATION_EXECUTED for r in records):
            if self.kill:
                raise Killed
            if not self.refused:
                self.refused += 1
                raise AuditError("committing audit records: the disk is full", hint="free space")
        return self.store.append(records, message)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def _run_dying(scenario: Scenario, *, kill: bool) -> Any:
    root = scenario.root
    fleet = committed_fleet(root)
    ports = build_ports(root, Settings(repo=root), fleet)
    ports = replace(ports, audit=DyingAudit(ports.audit, kill))
    return run_cycle(fleet, ports, CycleOptions())


def _manifest_commits(scenario: Scenario) -> list[str]:
    return [
        str(c.id) for c in scenario.commits() if c.message.startswith("web: scale to 3 replicas")
    ]


def test_a_run_killed_after_the_manifest_commit_is_recorded_by_the_next(tmp_path: Path) -> None:
    scenario = write_back_fleet(tmp_path)
    hot(scenario)
    with pytest.raises(Killed):
        _run_dying(scenario, kill=True)
    # The commit landed; its record did not.
    (commit,) = _manifest_commits(scenario)
    assert replicas_in_git(scenario) == 3
    assert scenario.records("web", "operation_executed") == []
    assert scenario.records("web", "operation_recovered") == []

    service = run(scenario)
    # The next run records the commit instead of making the change again.
    assert service["steps"] == []
    assert any(f"found in manifest commit {commit[:12]}" in note for note in service["notes"])
    (recovered,) = scenario.records("web", "operation_recovered")
    assert recovered["links"]["commit"] == commit
    assert recovered["details"]["recovered_from"] == "manifest_commit"
    assert recovered["details"]["write_back"]["commit"] == commit
    assert recovered["details"]["write_back"]["before"] == {"replicas": 2}
    assert recovered["details"]["write_back"]["after"] == {"replicas": 3}
    assert recovered["details"]["request"]["target_replicas"] == 3
    assert f"manifest commit {commit[:12]}" in recovered["rationale"]
    assert _manifest_commits(scenario) == [commit]
    assert replicas_in_git(scenario) == 3
    shown = scenario.cli("explain", recovered["id"]).output
    assert f"    commit {commit} to deploy/web.yaml on main" in shown

    # Recorded once: a later run finds it in the trail.
    service = run(scenario)
    assert not any("found in manifest commit" in note for note in service["notes"])
    assert len(scenario.records("web", "operation_recovered")) == 1

    # And then it is the change like any other: the tool syncs it, it is verified.
    scenario.cli("sim", "advance", "30s")
    run(scenario)
    scenario.cli("sim", "advance", "45s")
    run(scenario)
    (rolled,) = scenario.records("web", "rolled_out")
    assert (rolled["links"]["operation"], rolled["links"]["commit"]) == (recovered["id"], commit)
    scenario.cli("sim", "advance", "60s")
    run(scenario)
    (verified,) = scenario.records("web", "verification_passed")
    assert verified["links"]["operation"] == recovered["id"]
    assert _manifest_commits(scenario) == [commit]
    assert scenario.records("web", "operation_executed") == []


def test_a_refused_record_after_the_manifest_commit_is_written_in_the_same_run(
    tmp_path: Path,
) -> None:
    scenario = write_back_fleet(tmp_path)
    hot(scenario)
    report = _run_dying(scenario, kill=False)
    (row,) = report.services
    assert row.stage == "record"
    (commit,) = _manifest_commits(scenario)
    assert any(f"found in manifest commit {commit[:12]}" in note.text for note in row.notes)
    (recovered,) = scenario.records("web", "operation_recovered")
    assert recovered["links"]["commit"] == commit

    # The next run has nothing left to recover, and does not commit the change again.
    service = run(scenario)
    assert not any("found in manifest commit" in note for note in service["notes"])
    assert len(scenario.records("web", "operation_recovered")) == 1
    assert _manifest_commits(scenario) == [commit]
