"""Approval through proposals on the local forge (seed demo 2), and every lifecycle case."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.scenarios.conftest import DEMO_2, Scenario

BRANCH = "reconciler/todo-frontend/scale-beyond-limits"


def git(root: Path, *args: str, who: str = "alice") -> str:
    identity = ["-c", f"user.name={who}", "-c", f"user.email={who}@example.com"]
    result = subprocess.run(
        ["git", "-C", str(root), *identity, *args], check=True, capture_output=True, text=True
    )
    return result.stdout


def merge(scenario: Scenario, branch: str = BRANCH, who: str = "alice") -> None:
    git(scenario.root, "merge", "--no-ff", "-q", branch, "-m", f"Merge {branch}", who=who)


def branches(scenario: Scenario) -> list[str]:
    return sorted(b for b in scenario.repo.branches.local if b != "main")


def at_max(scenario: Scenario) -> None:
    scenario.cli("sim", "init", "--scenario", "seed", "--history", "10m")
    scenario.cli("sim", "set", "todo-frontend", *DEMO_2)


def at_max_stepping_by_3(scenario: Scenario) -> None:
    """Seed demo 2, with todo-frontend scaling up 3 replicas at a time and running at 90 %."""
    text = (scenario.root / "blueprints/todo-frontend/blueprint.yaml").read_text()
    scenario.write_blueprint(
        "todo-frontend",
        text.replace("    max_replicas: 5\n", "    max_replicas: 5\n    scale_up_increment: 3\n"),
    )
    at_max(scenario)
    scenario.cli("sim", "set", "todo-frontend", "cpu_utilization=90%", "memory_utilization=90%")


def run(scenario: Scenario, *args: str, expect: int = 0) -> dict:
    return scenario.json("run", "-s", "todo-frontend", *args, expect=expect)["services"][0]  # type: ignore[index]


def test_seed_demo_2_on_the_local_forge(scenario: Scenario) -> None:
    at_max(scenario)
    first = run(scenario)
    assert first["decision"]["beyond_limits"] == 6
    assert first["steps"][0]["outcome"] == "proposed"
    assert branches(scenario) == [BRANCH]
    diff = git(scenario.root, "diff", "main", BRANCH, "--", "blueprints/")
    changed = [
        line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]
    assert changed == [
        "-  version: 1.0.0",
        "+  version: 1.0.1",
        "-    max_replicas: 5",
        "+    max_replicas: 6",
    ]
    body = scenario.repo.revparse_single(BRANCH).message
    for part in (
        "## Why this needs you",
        "| metric | value | weight |",
        "| `spec.scaling.max_replicas` | 5 | 6 |",
        "## Risk and cost",
        "## Rollback plan",
        "## What merging does",
        "Expires 2026-02-10 16:30Z",
        "```mermaid",
        "xychart-beta",
        "<!-- reconciler:proposal ",
    ):
        assert part in body, part
    requested = scenario.records("todo-frontend", "approval_requested")[0]
    assert requested["details"]["metadata"]["target_replicas"] == 6
    assert requested["links"]["decision"] == first["decision"]["id"]

    # Nothing changed: the next run writes nothing (no commit, no branch update).
    head, tip = scenario.repo.head.target, scenario.repo.branches[BRANCH].target
    again = run(scenario)
    assert again["steps"][0]["outcome"] == "pending (already proposed)"
    assert (scenario.repo.head.target, scenario.repo.branches[BRANCH].target) == (head, tip)

    scenario.cli("sim", "advance", "10m")
    merge(scenario)  # alice is in devops-team (blueprints/governance/policies.yaml)
    done = scenario.json("run", "-s", "todo-frontend", "--wait")
    cycle = done[0]["services"][0]  # type: ignore[index]
    assert cycle["decision"]["target_replicas"] == 6 and cycle["steps"][0]["outcome"] == "executed"
    granted = scenario.records("todo-frontend", "approval_granted")[0]
    assert granted["details"]["merged_by"] == "alice <alice@example.com>"
    assert granted["details"]["approval_latency_seconds"] == 600
    executed = scenario.records("todo-frontend", "operation_executed")[0]
    assert executed["links"]["approval"] == requested["id"]
    assert executed["details"]["authorized_by"]["reference"] == BRANCH
    assert scenario.records("todo-frontend", "verification_passed")[0]["outcome"] == "passed"
    subjects = scenario.subjects()
    assert (
        "todo-frontend: approved by alice <alice@example.com> (reconciler/todo-frontend/scale-beyond-limits)"
        in subjects
    )
    assert "todo-frontend: scale 5→6 (allowed): weighted 91.5% > 80%" in subjects
    listing = scenario.json("approvals")["approvals"]  # type: ignore[index]
    assert [(a["state"], a["merged_by"]) for a in listing] == [
        ("approved", "alice <alice@example.com>")
    ]  # type: ignore[index]


def test_a_changed_need_updates_the_same_proposal(scenario: Scenario) -> None:
    at_max_stepping_by_3(scenario)
    assert run(scenario)["decision"]["beyond_limits"] == 7
    tip = scenario.repo.branches[BRANCH].target
    scenario.cli("sim", "set", "todo-frontend", "cpu_utilization=99%", "memory_utilization=99%")
    updated = run(scenario)
    assert updated["decision"]["beyond_limits"] == 8
    assert updated["steps"][0]["outcome"] == "proposal updated"
    assert branches(scenario) == [BRANCH] and scenario.repo.branches[BRANCH].target != tip
    assert "max_replicas: 8" in git(
        scenario.root, "show", f"{BRANCH}:blueprints/todo-frontend/blueprint.yaml"
    )
    assert len(scenario.records("todo-frontend", "approval_updated")) == 1


def test_a_person_push_stops_rewrites(scenario: Scenario) -> None:
    at_max_stepping_by_3(scenario)
    run(scenario)
    # bob adds a commit to the proposal branch.
    git(scenario.root, "checkout", "-q", BRANCH, who="bob")
    (scenario.root / "NOTES.md").write_text("capacity reviewed\n")
    git(scenario.root, "add", "NOTES.md", who="bob")
    git(scenario.root, "commit", "-qm", "Reviewed", who="bob")
    git(scenario.root, "checkout", "-q", "main", who="bob")
    bob_tip = scenario.repo.branches[BRANCH].target
    scenario.cli("sim", "set", "todo-frontend", "cpu_utilization=99%", "memory_utilization=99%")
    # The run sees the push before it decides: it says once that merging approves nothing.
    seen = run(scenario)
    assert seen["steps"][0]["outcome"] == "pending (a person is editing it)"
    assert any("changed by a person" in note for note in seen["notes"])
    assert scenario.repo.branches[BRANCH].target == bob_tip  # not rewritten
    note = scenario.repo.lookup_note(str(bob_tip), "refs/notes/reconciler").message
    assert "no longer rewrites it" in note and "merging it approves nothing" in note
    updated = scenario.records("todo-frontend", "approval_updated")
    assert [r["details"].get("hands_off") for r in updated] == [True]
    again = run(scenario)  # commented once, recorded once
    assert again["steps"][0]["outcome"] == "pending (a person is editing it)"
    assert len(scenario.records("todo-frontend", "approval_updated")) == 1


def test_a_proposal_no_longer_needed_is_superseded(scenario: Scenario) -> None:
    at_max(scenario)
    run(scenario)
    scenario.cli(
        "sim",
        "set",
        "todo-frontend",
        "cpu_utilization=60%",
        "memory_utilization=60%",
        "latency_p95=120ms",
    )
    result = run(scenario)
    assert any("superseded" in note for note in result["notes"])
    assert branches(scenario) == []
    superseded = scenario.records("todo-frontend", "approval_superseded")[0]
    assert "no longer needed" in superseded["rationale"]


def test_an_unanswered_proposal_expires(scenario: Scenario) -> None:
    at_max(scenario)
    run(scenario)
    scenario.cli("sim", "advance", "61m")
    result = run(scenario)
    assert any("expired" in note for note in result["notes"])
    expired = scenario.records("todo-frontend", "approval_expired")[0]
    assert expired["outcome"] == "expired" and expired["details"]["auto_rejected"] is True
    # Still needed, so it is proposed afresh (a new proposal, after the old one closed).
    assert result["steps"][0]["outcome"] == "proposed"


def test_a_rejection_is_remembered_unless_things_get_worse(scenario: Scenario) -> None:
    at_max(scenario)
    scenario.cli("sim", "set", "todo-frontend", "cpu_utilization=85%", "memory_utilization=85%")
    run(scenario)
    git(scenario.root, "branch", "-D", BRANCH)  # a person closes it without merging
    result = run(scenario)
    assert scenario.records("todo-frontend", "approval_rejected")
    assert result["steps"][0]["outcome"] == "pending (not proposed)"
    assert "rejected this" in result["steps"][0]["detail"]
    scenario.cli("sim", "set", "todo-frontend", "cpu_utilization=99%", "memory_utilization=99%")
    assert run(scenario)["steps"][0]["outcome"] == "proposed"  # materially worse: asked again


def test_new_proposals_per_run_are_capped(scenario: Scenario) -> None:
    policies = scenario.root / "blueprints/governance/policies.yaml"
    scenario.write(
        "blueprints/governance/policies.yaml",
        policies.read_text().replace("max_new_per_run: 5", "max_new_per_run: 1"),
    )
    at_max(scenario)
    scenario.cli(
        "sim", "set", "todo-backend", "replicas=3", "cpu_utilization=95%", "memory_utilization=95%"
    )
    report = {s["service"]: s for s in scenario.json("run")["services"]}  # type: ignore[index]
    outcomes = sorted(
        report[name]["steps"][0]["outcome"] for name in ("todo-backend", "todo-frontend")
    )
    assert outcomes == ["pending (not proposed)", "proposed"]
    capped = next(
        report[n]["steps"][0] for n in report if report[n]["steps"][0]["outcome"] != "proposed"
    )
    assert "cap of 1 new proposals per run" in capped["detail"]
    # The next run proposes the other one.
    again = {s["service"]: s for s in scenario.json("run")["services"]}  # type: ignore[index]
    assert sorted(again[n]["steps"][0]["outcome"] for n in ("todo-backend", "todo-frontend")) == [
        "pending (already proposed)",
        "proposed",
    ]


def test_the_proposal_shows_cost_against_the_budget(scenario: Scenario) -> None:
    scenario.cli("sim", "init")
    scenario.cli(
        "sim", "set", "todo-backend", "replicas=3", "cpu_utilization=95%", "memory_utilization=95%"
    )
    scenario.cli("run", "-s", "todo-backend")
    body = scenario.repo.revparse_single("reconciler/todo-backend/scale-beyond-limits").message
    assert "- Monthly cost: 150 USD → 200 USD (+50 USD, 4 × 50 USD)." in body
    assert "- Budget: **over** the monthly budget of 150 USD." in body
    assert "@backend-team, @devops-team" in body


def test_a_merge_by_someone_who_is_not_an_approver_approves_nothing(scenario: Scenario) -> None:
    at_max(scenario)
    run(scenario)
    merge(scenario, who="mallory")
    result = run(scenario, expect=1)
    assert "held" in result["error"]
    refused = scenario.records("todo-frontend", "approval_refused")[0]
    assert (
        "merged by mallory <mallory@example.com>, who is not an approver (devops-team)"
        in refused["rationale"]
    )
    sim = scenario.json("sim", "show")
    assert next(d for d in sim["deployments"] if d["name"] == "todo-frontend")["replicas"] == 5  # type: ignore[index]
    # Reverting the unapproved change releases the hold.
    merge_commit = git(scenario.root, "log", "--merges", "-1", "--format=%H").strip()
    git(scenario.root, "revert", "--no-edit", "-m", "1", merge_commit)
    assert run(scenario)["error"] is None


def test_a_fast_forward_merge_identifies_no_approver(scenario: Scenario) -> None:
    at_max(scenario)
    run(scenario)
    # Rebased onto main and fast-forwarded: no merge commit says who approved.
    git(scenario.root, "rebase", "-q", "main", BRANCH)
    git(scenario.root, "checkout", "-q", "main")
    git(scenario.root, "merge", "--ff-only", "-q", BRANCH)
    run(scenario, expect=1)
    refused = scenario.records("todo-frontend", "approval_refused")[0]
    assert "no approver can be identified" in refused["rationale"]


def test_a_proposal_cannot_loosen_a_forbidden_operation(scenario: Scenario) -> None:
    text = (scenario.root / "blueprints/todo-frontend/blueprint.yaml").read_text()
    scenario.write_blueprint(
        "todo-frontend", text + "    forbidden_operations: [restart_failed_pods]\n"
    )
    at_max(scenario)
    run(scenario)
    git(scenario.root, "checkout", "-q", BRANCH)
    path = scenario.root / "blueprints/todo-frontend/blueprint.yaml"
    path.write_text(
        path.read_text().replace("    forbidden_operations: [restart_failed_pods]\n", "")
    )
    git(scenario.root, "commit", "-qam", "Allow restarts too")
    git(scenario.root, "checkout", "-q", "main")
    merge(scenario)
    result = run(scenario, expect=1)
    refused = scenario.records("todo-frontend", "approval_refused")[0]
    assert "no longer forbids restart_failed_pods" in refused["rationale"]
    assert "held" in result["error"]
    sim = scenario.json("sim", "show")
    assert next(d for d in sim["deployments"] if d["name"] == "todo-frontend")["replicas"] == 5  # type: ignore[index]
    assert scenario.records("todo-frontend", "operation_executed") == []


def test_an_approved_one_off_request_is_carried_out_once(scenario: Scenario) -> None:
    scenario.cli("sim", "init")
    proposed = scenario.cli(
        "request", "todo-frontend", "scale", "--replicas", "0", "--reason", "maintenance"
    )
    assert "scale 2→0 (approval needed)" in proposed.output
    (branch,) = branches(scenario)
    request_file = git(
        scenario.root, "diff", "--name-only", "main", branch, "--", "requests/"
    ).split()
    assert request_file and request_file[0].startswith("requests/todo-frontend/apr-")
    merge(scenario, branch)
    result = run(scenario)
    assert result["steps"][0]["outcome"] == "executed"
    executed = scenario.records("todo-frontend", "operation_executed")[0]
    assert executed["details"]["post_operation_state"]["replicas"] == 0
    assert executed["links"]["approval"].startswith("apr-")
    # Held there: not scaled back to min_replicas, and not carried out twice.
    scenario.cli("sim", "advance", "2m")
    later = run(scenario)
    assert later["decision"]["reason"] == "held_by_approval" and later["steps"] == []
    assert len(scenario.records("todo-frontend", "operation_executed")) == 1


def test_an_edited_request_file_approves_nothing(scenario: Scenario) -> None:
    scenario.cli("sim", "init")
    scenario.cli("request", "todo-frontend", "scale", "--replicas", "0")
    (branch,) = branches(scenario)
    git(scenario.root, "checkout", "-q", branch)
    (path,) = (scenario.root / "requests/todo-frontend").glob("*.yaml")
    path.write_text(path.read_text().replace("target_replicas: 0", "target_replicas: 40"))
    git(scenario.root, "commit", "-qam", "More replicas")
    git(scenario.root, "checkout", "-q", "main")
    merge(scenario, branch)
    run(scenario)
    refused = scenario.records("todo-frontend", "approval_refused")[0]
    assert "changed after the reconciler proposed it" in refused["rationale"]
    assert scenario.records("todo-frontend", "operation_executed") == []


def test_a_request_overtaken_by_the_state_is_stale(scenario: Scenario) -> None:
    scenario.cli("sim", "init")
    scenario.cli("request", "todo-frontend", "scale", "--replicas", "0")
    (branch,) = branches(scenario)
    scenario.cli("sim", "set", "todo-frontend", "replicas=4")  # someone scaled it meanwhile
    merge(scenario, branch)
    run(scenario)
    refused = scenario.records("todo-frontend", "approval_refused")[0]
    assert "overtaken by the state" in refused["rationale"]
    assert scenario.records("todo-frontend", "operation_executed") == []


def test_status_counts_only_proposals_still_open(scenario: Scenario) -> None:
    at_max(scenario)
    run(scenario)

    def pending() -> list[str]:
        rows = scenario.json("status")["services"]  # type: ignore[index]
        return next(r for r in rows if r["service"] == "todo-frontend")["pending_approvals"]

    (open_one,) = pending()
    assert open_one.startswith("apr-")
    merge(scenario)
    scenario.cli("sim", "advance", "1m")
    run(scenario)
    assert scenario.records("todo-frontend", "approval_granted")
    assert pending() == []  # approved: no longer pending, though its request record remains
