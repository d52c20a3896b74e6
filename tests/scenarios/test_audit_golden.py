"""The audit format stays exactly as it is: the demo and a few scenario stories are replayed
and every record file, every commit message that added records, and the demo's narration are
compared byte for byte with the copies under tests/golden/.

A deliberate change of the format regenerates the copies with
`UPDATE_AUDIT_GOLDEN=1 .venv/bin/pytest tests/scenarios/test_audit_golden.py`, and the diff of
tests/golden/ is then reviewed with the change.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pygit2
import pytest
from click.testing import CliRunner

from tests.scenarios.conftest import Scenario, init_repo

GOLDEN = Path(__file__).resolve().parent.parent / "golden"

#: `sim set todo-frontend` values of seed demo 4: low load, so a scale-down that harms.
DEMO_4 = [
    "replicas=3",
    "rps=180",
    "capacity=100",
    "base_latency=40ms",
    "cpu_utilization=25%",
    "memory_utilization=20%",
    "base_error_rate=0.2%",
]


def _commits(repo: pygit2.Repository) -> list[str]:
    """Every commit of every branch, oldest first: the ids the comparison masks."""
    seen: dict[str, None] = {}
    for name in sorted(repo.branches.local):
        tip = repo.branches.local[name].target
        for commit in repo.walk(
            tip, pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.REVERSE
        ):
            seen.setdefault(str(commit.id), None)
    return list(seen)


def _masked(repo: pygit2.Repository, text: str) -> str:
    """The text with commit ids (whole, 12 and 7 characters) numbered in order: a commit made
    by `git merge` in the demo carries the clock's time, so its id differs run to run."""
    for number, commit in enumerate(_commits(repo), 1):
        for width in (40, 12, 7):
            text = text.replace(commit[:width], f"<commit {number}>")
    return text


def _trail(root: Path) -> str:
    """Every audit file, then the message of every commit that touched audit/, oldest first."""
    parts = []
    for path in sorted((root / "audit").rglob("*.json")):
        parts.append(f"=== {path.relative_to(root).as_posix()}\n{path.read_text()}")
    repo = pygit2.Repository(str(root))
    messages = []
    for commit in repo.walk(repo.head.target, pygit2.enums.SortMode.TOPOLOGICAL):
        parent = commit.parents[0].tree if commit.parents else None
        diff = commit.tree.diff_to_tree(parent) if parent else commit.tree.diff_to_tree()
        if any(d.new_file.path.startswith("audit/") for d in diff.deltas):
            messages.append(f"=== commit\n{commit.message}")
    return _masked(repo, "".join(parts) + "".join(reversed(messages)))


def _compare(name: str, text: str) -> None:
    golden = GOLDEN / f"{name}.txt"
    if os.environ.get("UPDATE_AUDIT_GOLDEN"):
        golden.write_text(text)
    assert golden.read_text() == text, f"{name}: the audit trail differs from {golden}"


def test_the_demo_writes_the_same_records_subjects_and_narration(tmp_path: Path) -> None:
    from reconciler.cli import main

    source = tmp_path / "mine"
    source.mkdir()
    init_repo(source)
    scratch = tmp_path / "scratch"
    result = CliRunner().invoke(
        main, ["--repo", str(source), "demo", "--dir", str(scratch)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    # Paragraphs that name the temporary directory are wrapped by its length: left out.
    narration = "\n\n".join(
        "<a paragraph naming the temporary directory>" if tmp_path.name in paragraph else paragraph
        for paragraph in result.output.split("\n\n")
    )
    repo = pygit2.Repository(str(scratch))
    _compare("demo", _trail(scratch) + "=== narration\n" + _masked(repo, narration))


def _rollback_retried_then_escalated(scenario: Scenario) -> None:
    scenario.cli("sim", "init", "--history", "10m")
    scenario.cli("sim", "set", "todo-frontend", *DEMO_4)
    scenario.cli("sim", "advance", "6m")
    scenario.cli("run", "-s", "todo-frontend")
    scenario.cli("sim", "set", "todo-frontend", "scale_fails=true")
    scenario.cli("sim", "advance", "60s")
    scenario.cli("run", "--wait", "-s", "todo-frontend", expect=1)


def _recovery_ladder(scenario: Scenario) -> None:
    scenario.cli("sim", "init")
    scenario.cli("sim", "set", "todo-backend", "release=good")
    scenario.cli("sim", "advance", "60s")
    for wait, after in (("35s", "2m"), ("35s", "3m"), ("95s", "")):
        scenario.cli("sim", "set", "todo-backend", "crashing_pods=1")
        scenario.cli("sim", "advance", wait)
        scenario.cli("run", "-s", "todo-backend", expect=None)
        if after:
            scenario.cli("sim", "advance", after)
            scenario.cli("run", "-s", "todo-backend", expect=None)


def _deferred_paused_and_expired(scenario: Scenario) -> None:
    scenario.cli("sim", "init")
    scenario.cli("request", "todo-frontend", "scale", "--replicas", "3", "--by", "alice")
    scenario.cli("request", "todo-frontend", "scale", "--replicas", "4", "--by", "alice", expect=1)
    scenario.cli("request", "todo-frontend", "delete_deployment", "--by", "bob", expect=None)
    scenario.cli("sim", "set", "todo-frontend", "replicas=5")
    scenario.cli("sim", "advance", "65s")
    scenario.cli("run", "-s", "todo-frontend", expect=None)
    scenario.cli("sim", "advance", "60s")
    scenario.cli("run", expect=None)
    text = (scenario.root / "blueprints/todo-backend/blueprint.yaml").read_text()
    scenario.write_blueprint("todo-backend", text.replace("spec:\n", "spec:\n  suspend: true\n", 1))
    scenario.cli("sim", "advance", "60s")
    scenario.cli("run", expect=None)
    scenario.write_blueprint("todo-backend", text)
    scenario.cli("sim", "advance", "60s")
    scenario.cli("run", expect=None)


def _deferred_then_carried_out_and_rollback_in_vain(scenario: Scenario) -> None:
    scenario.cli("sim", "init")
    scenario.cli("request", "todo-frontend", "scale", "--replicas", "3", "--by", "alice")
    scenario.cli("request", "todo-frontend", "scale", "--replicas", "4", "--by", "alice", expect=1)
    scenario.cli("sim", "advance", "65s")
    scenario.cli("run", "-s", "todo-frontend", expect=None)
    scenario.cli("sim", "advance", "2m")
    scenario.cli("run", "-s", "todo-frontend", expect=None)
    # A scale-down that harms, rolled back, and still failing once back: escalated.
    scenario.cli("sim", "set", "todo-frontend", *DEMO_4)
    scenario.cli("sim", "advance", "6m")
    scenario.cli("run", "-s", "todo-frontend", expect=None)
    scenario.cli("sim", "advance", "60s")
    scenario.cli("run", "-s", "todo-frontend", expect=None)
    scenario.cli("sim", "set", "todo-frontend", "rps=600")
    scenario.cli("sim", "advance", "60s")
    scenario.cli("run", "-s", "todo-frontend", expect=None)


def _observe_mode(scenario: Scenario) -> None:
    scenario.cli("sim", "init", "--scenario", "seed", "--history", "10m")
    path = scenario.root / "blueprints/todo-frontend/blueprint.yaml"
    text = path.read_text().replace("spec:\n", "spec:\n  mode: observe\n", 1)
    scenario.write_blueprint("todo-frontend", text, "todo-frontend: observe mode")
    scenario.cli("run", expect=None)
    scenario.cli("sim", "advance", "90s")
    scenario.cli("run", expect=None)
    scenario.cli(
        "request", "todo-frontend", "scale", "--replicas", "4", "--by", "carol", expect=None
    )


STORIES: dict[str, Callable[[Scenario], None]] = {
    "rollback-retried-then-escalated": _rollback_retried_then_escalated,
    "recovery-ladder": _recovery_ladder,
    "deferred-paused-and-expired": _deferred_paused_and_expired,
    "observe-mode": _observe_mode,
    "deferred-then-carried-out-and-rollback-in-vain": _deferred_then_carried_out_and_rollback_in_vain,
}


@pytest.mark.parametrize("story", sorted(STORIES))
def test_a_scenario_writes_the_same_records_and_subjects(scenario: Scenario, story: str) -> None:
    STORIES[story](scenario)
    _compare(story, _trail(scenario.root))
