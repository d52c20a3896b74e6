"""`run` in a scheduled job: --shard, --push, the job summary and annotations."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.core.planning.sharding import Shard
from tests.scenarios.conftest import Scenario


def _invoke(scenario: Scenario, *args: str, env: dict[str, str] | None = None) -> Result:
    from reconciler.cli import main

    return CliRunner().invoke(
        main, ["--repo", str(scenario.root), *args], env=env or {}, catch_exceptions=False
    )


def _owner(service: str, count: int) -> str:
    return next(f"{i}/{count}" for i in range(1, count + 1) if Shard(i, count).owns(service))


def test_a_shard_reconciles_only_its_services(scenario: Scenario) -> None:
    scenario.cli("sim", "init", "--scenario", "seed")
    seen = []
    for index in (1, 2):
        report = scenario.json("run", "--shard", f"{index}/2", "--dry-run")
        seen += [row["service"] for row in report["services"]]  # type: ignore[index]
        for row in report["services"]:  # type: ignore[index]
            assert _owner(row["service"], 2) == f"{index}/2"
    assert sorted(seen) == ["todo-backend", "todo-frontend"]


@pytest.mark.parametrize(
    ("shard", "message"),
    [("5/4", "5/4: the shard must be between 1 and the count"), ("two", "is not I/N")],
)
def test_a_bad_shard_is_a_usage_error(scenario: Scenario, shard: str, message: str) -> None:
    result = scenario.cli("run", "--shard", shard, expect=2)
    assert message in result.output


def test_a_service_outside_the_shard_is_refused(scenario: Scenario) -> None:
    scenario.cli("sim", "init", "--scenario", "seed")
    other = "2/2" if _owner("todo-frontend", 2) == "1/2" else "1/2"
    result = scenario.cli("run", "--shard", other, "-s", "todo-frontend", expect=3)
    assert f"--shard {other} does not own todo-frontend" in result.output


def test_the_job_summary_and_annotations(scenario: Scenario, tmp_path: Path) -> None:
    scenario.cli("sim", "init", "--scenario", "seed")
    scenario.cli("sim", "set", "todo-frontend", "scale_fails=true")
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step's summary\n")
    result = _invoke(
        scenario, "run", env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    )
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("::error")]
    assert len(errors) == 1
    assert errors[0].startswith("::error title=todo-frontend%3A scale 2→3::")
    text = summary.read_text()
    assert text.startswith("earlier step's summary\n### Reconcile cycle at 2026-02-10 15:30:00Z")
    assert "| todo-frontend | 2/2 | 81.5% | scale_up 2→3 | scale 2→3: allowed → execute |" in text
    assert "❌ failed:" in text
    assert "| todo-backend | 2/2 | 51.3% | none (within thresholds) | - | - | - |" in text
    assert "**2 services**: 1 decided, 1 failed; 1 audit commit." in text


def test_no_annotations_outside_actions_or_with_json(scenario: Scenario) -> None:
    scenario.cli("sim", "init", "--scenario", "seed")
    scenario.cli("sim", "set", "todo-frontend", "scale_fails=true")
    plain = _invoke(scenario, "run", "--dry-run")
    assert "::error" not in plain.output
    scripted = _invoke(scenario, "run", "-o", "json", env={"GITHUB_ACTIONS": "true"})
    json.loads(scripted.output)  # nothing but the JSON on stdout


def _remote(scenario: Scenario, tmp_path: Path) -> Path:
    bare = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    subprocess.run(
        ["git", "-C", str(scenario.root), "remote", "add", "origin", str(bare)], check=True
    )
    subprocess.run(["git", "-C", str(scenario.root), "push", "-q", "origin", "main"], check=True)
    return bare


def _remote_subjects(bare: Path) -> list[str]:
    log = subprocess.run(
        ["git", "-C", str(bare), "log", "--format=%s", "main"],
        check=True,
        capture_output=True,
        text=True,
    )
    return log.stdout.splitlines()


def test_run_push_sends_the_records(scenario: Scenario, tmp_path: Path) -> None:
    bare = _remote(scenario, tmp_path)
    scenario.cli("sim", "init", "--scenario", "seed")
    result = scenario.cli("run", "--push")
    assert "pushed 1 audit commit to origin/main" in result.output
    assert _remote_subjects(bare)[0] == "todo-frontend: scale 2→3 (allowed): weighted 81.5% > 80%"


def test_push_is_skipped_on_a_dry_run(scenario: Scenario, tmp_path: Path) -> None:
    bare = _remote(scenario, tmp_path)
    scenario.cli("sim", "init", "--scenario", "seed")
    result = scenario.cli("run", "--push", "--dry-run")
    assert "pushed" not in result.output and _remote_subjects(bare) == ["Initial blueprints"]


def test_a_failed_push_exits_5_after_the_report(scenario: Scenario, tmp_path: Path) -> None:
    bare = _remote(scenario, tmp_path)
    hook = bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\nexit 1\n")
    hook.chmod(0o755)
    scenario.cli("sim", "init", "--scenario", "seed")
    result = scenario.cli("run", "--push", expect=5)
    assert "todo-frontend  2/2    81.5%     scale_up 2→3" in result.output  # the report first
    assert "error: pushing the audit records to origin/main failed" in result.output
    assert "hint: check the token's `contents: write` permission" in result.output
    # The change and its record are here, committed, for the next push.
    assert scenario.subjects()[0] == "todo-frontend: scale 2→3 (allowed): weighted 81.5% > 80%"


def test_request_push(scenario: Scenario, tmp_path: Path) -> None:
    bare = _remote(scenario, tmp_path)
    scenario.cli("sim", "init", "--scenario", "seed")
    result = scenario.cli(
        "request", "todo-frontend", "delete_deployment", "--reason", "cleanup", "--push", expect=1
    )
    assert "pushed 1 audit commit to origin/main" in result.output
    assert "delete_deployment" in _remote_subjects(bare)[0]


def test_an_opened_breaker_is_an_error_on_the_run_page(scenario: Scenario) -> None:
    """Automatic changes stop when the breaker opens; the run that opens it says so loudly."""
    scenario.cli("sim", "init", "--scenario", "seed")
    scenario.cli("sim", "set", "todo-frontend", "scale_fails=true")
    outputs = []
    for _ in range(3):
        result = _invoke(scenario, "run", "-s", "todo-frontend", env={"GITHUB_ACTIONS": "true"})
        outputs.append(result.output)
        scenario.cli("sim", "advance", "60s")
    opened = [
        line
        for output in outputs
        for line in output.splitlines()
        if line.startswith("::error title=todo-frontend::")
    ]
    assert opened == [
        "::error title=todo-frontend::todo-frontend: circuit breaker opened after 3 failures"
    ]


def test_notes_that_name_a_rollback_are_not_counted_as_verifications(
    scenario: Scenario, tmp_path: Path
) -> None:
    """On the local forge a rollback proposal's branch names the rollback, so its approval
    and its rejection both say "rollback": the totals once counted each as verified."""
    scenario.cli("sim", "init", "--scenario", "seed", "--history", "10m")
    for service in ("todo-frontend", "todo-backend"):
        scenario.cli("sim", "set", service, "crashing_pods=1", "restarts=10")
    for _ in range(3):  # the restarts do not help: a rollback is proposed for each
        scenario.cli("run")
        scenario.cli("sim", "advance", "2m")
    branches = sorted(b for b in scenario.repo.branches.local if b != "main")
    assert branches == [
        "reconciler/todo-backend/request-rollback-deployment",
        "reconciler/todo-frontend/request-rollback-deployment",
    ]
    git = ["git", "-C", str(scenario.root), "-c", "user.name=alice", "-c", "user.email=a@b.c"]
    subprocess.run([*git, "merge", "--no-ff", "-q", branches[1], "-m", "approve"], check=True)
    subprocess.run([*git, "branch", "-D", "-q", branches[0]], check=True)  # rejected
    summary = tmp_path / "summary.md"
    result = _invoke(scenario, "run", "-o", "json", env={"GITHUB_STEP_SUMMARY": str(summary)})
    rows = {row["service"]: row for row in json.loads(result.output)["services"]}
    kinds = {
        service: [note["kind"] for note in row["note_details"]] for service, row in rows.items()
    }
    assert kinds == {"todo-backend": ["proposal_rejected"], "todo-frontend": ["approved"]}
    assert "rollback" in rows["todo-backend"]["notes"][0]
    assert "rollback" in rows["todo-frontend"]["notes"][0]
    text = summary.read_text()
    assert "request-rollback-deployment rejected" in text
    assert "approved: reconciler/todo-frontend/request-rollback-deployment" in text
    (totals,) = [line for line in text.splitlines() if line.startswith("**2 services**")]
    assert "verif" not in totals, totals
