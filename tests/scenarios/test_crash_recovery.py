"""A run that changes the cluster and then fails to commit its records, end to end.

The failure is a real one: git's lock on the branch (`refs/heads/main.lock`, what a crashed or
concurrent git process leaves behind) makes the audit commit fail right after the change was
applied, exactly where a run that dies between the two would stop (the run then exits 5: the
trail cannot be written, so it changes nothing more). The change's stamp is then
all the next run has: it must record the change, verify it against the baseline from before
it, roll it back if it made things worse, and never carry out its approval a second time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import yaml

from reconciler.core.observed.observation import STAMP_ANNOTATION
from tests import simstate
from tests.scenarios.conftest import Scenario
from tests.scenarios.test_approval_scenarios import branches, merge, run
from tests.scenarios.test_verification_scenarios import DEMO_4, events

SERVICE = "todo-frontend"


@contextmanager
def audit_commits_fail(scenario: Scenario) -> Iterator[None]:
    """Hold git's lock on the main branch: every audit commit fails, changes still happen."""
    lock = scenario.root / ".git" / "refs" / "heads" / "main.lock"
    lock.write_text("")
    try:
        yield
    finally:
        lock.unlink()


def deployment(scenario: Scenario) -> dict[str, Any]:
    return simstate.deployment(scenario.root / ".reconciler/sim-state.db", SERVICE)


def stamp(scenario: Scenario) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(deployment(scenario)["annotations"][STAMP_ANNOTATION])
    return data


def test_demo_4_crashed_before_recording_is_recovered_verified_and_rolled_back(
    scenario: Scenario,
) -> None:
    scenario.cli("sim", "init", "--history", "10m")
    scenario.cli("sim", "set", SERVICE, *DEMO_4)
    scenario.cli("sim", "advance", "6m")  # five minutes of low load: evidence for a scale-down
    with audit_commits_fail(scenario):
        crashed = scenario.cli("run", "-s", SERVICE, expect=5)
    assert "1 with errors; 0 audit commits" in crashed.output
    # The scale-down happened, and nothing in the trail says so: only its stamp.
    assert deployment(scenario)["replicas"] == 2
    assert scenario.records(SERVICE) == []
    left = stamp(scenario)
    assert (left["baseline"]["latency_p95_ms"], left["baseline"]["error_rate"]) == (100.0, 0.002)
    assert len(deployment(scenario)["annotations"][STAMP_ANNOTATION].encode()) < 1024

    recovered_run = scenario.cli("run", "-s", SERVICE)
    assert "recorded scale 3→2 found on the deployment" in recovered_run.output
    (recovered,) = scenario.records(SERVICE, "operation_recovered")
    assert recovered["id"] == left["operation_id"]
    assert recovered["classification"] == "allowed"
    assert recovered["links"] == {
        "decision": left["decision_id"],
        "governance": left["governance_id"],
        "operation": left["operation_id"],
    }
    assert (
        "recovered from the deployment's reconciler/last-change stamp after a crash"
        in (recovered["rationale"])
    )
    assert f"decision {left['decision_id']}" in recovered["rationale"]
    assert recovered["details"]["pre_operation_state"] == {"replicas": 3, "ready": 3, "revision": 1}
    assert recovered["details"]["baseline"]["latency_p95_ms"] == 100.0

    # Verified as a recorded change would be: worse than before, so rolled back.
    scenario.cli("sim", "advance", "60s")
    scenario.cli("run", "--wait", "-s", SERVICE)
    assert events(scenario) == [
        "operation_recovered",
        "verification_failed",
        "governance_checked",
        "rollback_executed",
        "rollback_verified",
    ]
    failed = scenario.records(SERVICE, "verification_failed")[0]
    checks = {c["check"]: c for c in failed["details"]["checks"]}
    assert checks["latency_p95"]["baseline"] == "100ms"
    assert checks["latency_p95"]["rollback_trigger"] and checks["error_rate"]["rollback_trigger"]
    assert failed["links"]["operation"] == recovered["id"]
    assert failed["links"]["decision"] == left["decision_id"]
    rollback = scenario.records(SERVICE, "rollback_executed")[0]
    assert rollback["links"]["rollback_of"] == recovered["id"]
    assert deployment(scenario)["replicas"] == 3
    assert scenario.subjects()[2] == (
        f"{SERVICE}: verification failed for scale 3→2: latency_p95, error_rate worse; rolling back"
    )


def crash_an_approved_scale_to_zero(scenario: Scenario) -> dict[str, Any]:
    """Approve scaling to 0, then lose the records of the run that carries it out; the stamp."""
    scenario.cli("sim", "init")
    # A cooldown longer than a verification, so the approval waits for a later run and the
    # run that carries it out commits nothing before the change.
    path = scenario.root / "blueprints" / SERVICE / "blueprint.yaml"
    text = path.read_text().replace(
        "    scale_down_threshold: 40%\n",
        "    scale_down_threshold: 40%\n    cooldown_period: 5m\n",
    )
    scenario.write_blueprint(SERVICE, text)
    scenario.cli("request", SERVICE, "scale", "--replicas", "3", "--reason", "launch")
    scenario.cli("request", SERVICE, "scale", "--replicas", "0", "--reason", "maintenance")
    (branch,) = branches(scenario)
    merge(scenario, branch)
    scenario.cli("sim", "advance", "60s")
    waited = run(scenario)  # approved, and deferred by the cooldown
    assert waited["steps"][0]["outcome"] == "deferred"
    scenario.cli("sim", "advance", "4m")
    with audit_commits_fail(scenario):
        scenario.cli("run", "-s", SERVICE, expect=5)  # scales 3 → 0; its records fail to commit
    assert deployment(scenario)["replicas"] == 0
    assert (
        scenario.records(SERVICE, "operation_executed")[-1]["details"]["request"]["target_replicas"]
        == 3
    )
    left = stamp(scenario)
    (granted,) = scenario.records(SERVICE, "approval_granted")
    assert left["approval_id"] == granted["links"]["approval"]
    return left


def test_an_approved_request_whose_records_were_lost_is_not_carried_out_again(
    scenario: Scenario,
) -> None:
    left = crash_an_approved_scale_to_zero(scenario)
    # A person scales it back by hand before the next run: the deployment looks again as the
    # approver saw it, so only the stamp can tell that the approval was used.
    scenario.cli("sim", "set", SERVICE, "replicas=3")

    for _ in range(3):
        run(scenario)
        scenario.cli("sim", "advance", "60s")
    assert deployment(scenario)["replicas"] == 3  # not scaled to 0 a second time
    assert stamp(scenario)["operation_id"] == left["operation_id"]
    assert [r["id"] for r in scenario.records(SERVICE, "operation_recovered")] == [
        left["operation_id"]
    ]
    assert not [
        r
        for r in scenario.records(SERVICE, "operation_executed")
        if r["details"]["request"]["target_replicas"] == 0
    ]
    (refused,) = scenario.records(SERVICE, "approval_refused")
    assert f"already carried out as {left['operation_id']}" in refused["rationale"]


def test_the_recovered_record_keeps_the_chain_and_explain_shows_it(scenario: Scenario) -> None:
    left = crash_an_approved_scale_to_zero(scenario)

    run(scenario)
    (recovered,) = scenario.records(SERVICE, "operation_recovered")
    approval = left["approval_id"]
    assert approval.startswith("apr-")
    assert recovered["links"] == {
        "decision": approval,  # an approved request leads from its approval
        "governance": left["governance_id"],
        "operation": left["operation_id"],
        "approval": approval,
    }
    assert recovered["classification"] == "restricted"
    assert recovered["details"]["request"]["origin"] == "approval"
    assert recovered["details"]["authorized_by"]["merged_by"] == "alice <alice@example.com>"

    scenario.cli("sim", "advance", "60s")
    later = run(scenario)
    assert later["decision"]["reason"] == "held_by_approval"  # as after a recorded change
    explained = scenario.cli("explain", left["operation_id"]).output
    order = [
        "operation_requested",
        "approval_requested",
        f"operation_recovered  {left['operation_id']}  [restricted]",
        f"governance check {left['governance_id']}",
        "verification_passed",
    ]
    positions = [explained.index(item) for item in order]
    assert positions == sorted(positions)
    # The lost verdict's id still finds the change.
    by_verdict = scenario.cli("explain", left["governance_id"]).output
    assert f"operation_recovered  {left['operation_id']}" in by_verdict


def test_a_rollback_whose_records_were_lost_is_not_repeated_and_is_verified(
    scenario: Scenario,
) -> None:
    scenario.cli("sim", "init", "--history", "10m")
    scenario.cli("sim", "set", SERVICE, *DEMO_4)
    scenario.cli("sim", "advance", "6m")
    run(scenario)  # scales 3 → 2, recorded
    scenario.cli("sim", "set", SERVICE, "scale_fails=true")
    scenario.cli("sim", "advance", "60s")
    run(scenario, expect=1)  # verification fails; the first rollback is refused by the API
    scenario.cli("sim", "set", SERVICE, "scale_fails=false")
    scenario.cli("sim", "advance", "30s")
    with audit_commits_fail(scenario):
        # The second attempt scales back to 3; its records are lost.
        scenario.cli("run", "-s", SERVICE, expect=5)
    assert deployment(scenario)["replicas"] == 3
    left = stamp(scenario)
    assert left["operation"] == "rollback_own_change" and left["reverts"]

    run(scenario)
    (recovered,) = scenario.records(SERVICE, "operation_recovered")
    assert recovered["links"]["rollback_of"] == left["reverts"]
    assert recovered["details"]["attempt"] == 2
    # The recovered rollback is in flight: no third attempt, its verification decides.
    assert scenario.records(SERVICE, "rollback_executed") == []
    scenario.cli("sim", "advance", "60s")
    run(scenario)
    (verified,) = scenario.records(SERVICE, "rollback_verified")
    assert verified["links"]["operation"] == recovered["id"]
    assert verified["links"]["rollback_of"] == left["reverts"]
    assert verified["details"]["attempt"] == 2


def test_a_request_waits_until_the_unrecorded_change_is_recorded(scenario: Scenario) -> None:
    """A request's own change would replace the stamp, the only trace of the lost one."""
    scenario.cli("sim", "init", "--history", "10m")
    scenario.cli("sim", "set", SERVICE, *DEMO_4)
    scenario.cli("sim", "advance", "6m")
    with audit_commits_fail(scenario):
        scenario.cli("run", "-s", SERVICE, expect=5)
    left = stamp(scenario)
    refused = scenario.cli("request", SERVICE, "restart_failed_pods", expect=1)
    assert f"carries {left['operation_id']}" in refused.output
    assert "`reconciler run` records and verifies it first" in refused.output
    assert stamp(scenario)["operation_id"] == left["operation_id"]
    assert scenario.records(SERVICE) == []
    run(scenario)  # records it
    assert [r["id"] for r in scenario.records(SERVICE, "operation_recovered")] == [
        left["operation_id"]
    ]
    # Now the request is governed as usual (the recovered change started the cooldown).
    governed = scenario.cli("request", SERVICE, "restart_failed_pods", expect=1)
    assert "restart_failed_pods: allowed, defer → deferred" in governed.output
    assert "carries" not in governed.output
