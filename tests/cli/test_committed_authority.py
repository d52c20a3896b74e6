"""Authority is what was committed: a cycle judges under the blueprints and policies of HEAD,
never under uncommitted edits, says when the working tree differs, and every record names the
commit and blobs it was judged under. `validate` alone reads the working tree."""

from __future__ import annotations

import shutil
from pathlib import Path

import pygit2
import pytest

from tests.conftest import REPO
from tests.scenarios.conftest import Scenario

BACKEND = "blueprints/todo-backend/blueprint.yaml"
POLICIES = "blueprints/governance/policies.yaml"


def _raise_max_replicas(scenario: Scenario, to: int = 10) -> None:
    """Edit the backend's blueprint in the working tree only: max_replicas 3 → `to`."""
    path = scenario.root / BACKEND
    path.write_text(path.read_text().replace("max_replicas: 3", f"max_replicas: {to}"))


def _blob(scenario: Scenario, commit: str, path: str) -> str:
    tree = scenario.repo[commit].peel(pygit2.Commit).tree
    return str(tree[path].id)


def _uncommitted(report: object) -> dict[str, object]:
    assert isinstance(report, dict)
    (warning,) = [w for w in report["warnings"] if w["code"] == "blueprints.uncommitted"]
    return warning  # type: ignore[no-any-return]


def test_an_uncommitted_limit_does_not_make_a_request_autonomous(seeded: Scenario) -> None:
    head = str(seeded.repo.head.target)
    _raise_max_replicas(seeded)
    result = seeded.cli("--forge", "none", "request", "todo-backend", "scale", "--replicas", "5")
    assert "todo-backend: scale 2→5: restricted, request approval → pending" in result.output
    assert (
        f"blueprints/: warning: uncommitted changes are not used: {BACKEND} (modified); the "
        f"blueprints and policies that count are those committed at HEAD ({head[:12]})"
    ) in result.output
    assert seeded.records("todo-backend", "operation_executed") == []
    (pending,) = seeded.records("todo-backend", "approval_requested")
    assert pending["blueprint_commit"] == head
    assert pending["blueprint_blobs"] == {
        BACKEND: _blob(seeded, head, BACKEND),
        POLICIES: _blob(seeded, head, POLICIES),
    }
    trailers = seeded.commits()[0].message.splitlines()
    assert f"Reconciler-Blueprint-Commit: {head}" in trailers
    # Committed, the same edit counts: the request is allowed and judged under the new commit.
    edited = seeded.commit_all("raise the backend's limit")
    seeded.cli("sim", "advance", "2m")
    result = seeded.cli("request", "todo-backend", "scale", "--replicas", "5")
    assert "allowed, execute → executed" in result.output
    assert "warning" not in result.output
    (executed,) = seeded.records("todo-backend", "operation_executed")
    assert executed["blueprint_commit"] == edited
    assert executed["blueprint_blobs"][BACKEND] == _blob(seeded, edited, BACKEND)


def test_a_run_decides_under_head_and_reports_the_dirty_tree(seeded: Scenario) -> None:
    head = str(seeded.repo.head.target)
    seeded.cli(
        "sim", "set", "todo-backend", "replicas=3", "cpu_utilization=95%", "memory_utilization=95%"
    )
    _raise_max_replicas(seeded)
    (seeded.root / "blueprints/todo-web").mkdir()
    (seeded.root / "blueprints/todo-web/blueprint.yaml").write_text(
        (seeded.root / BACKEND).read_text().replace("todo-backend", "todo-web")
    )
    text = seeded.cli("run").output
    assert "blueprints/: warning: uncommitted changes are not used: " in text
    assert f"{BACKEND} (modified), blueprints/todo-web/blueprint.yaml (new)" in text
    assert "todo-web" not in text.replace("blueprints/todo-web/blueprint.yaml", "")
    # Beyond HEAD's max_replicas 3: proposed for approval, not carried out.
    assert seeded.records("todo-backend", "operation_executed") == []
    assert seeded.records("todo-backend", "approval_requested")
    # Every record of the run names the commit and the blobs it was judged under.
    records = seeded.records()
    assert records and {r["blueprint_commit"] for r in records} == {head}
    for record in records:
        blueprint = f"blueprints/{record['service']}/blueprint.yaml"
        assert record["blueprint_blobs"] == {
            blueprint: _blob(seeded, head, blueprint),
            POLICIES: _blob(seeded, head, POLICIES),
        }
    report = seeded.json("run", "--dry-run")
    warning = _uncommitted(report)
    assert warning["file"] == "blueprints/"
    assert "blueprints/todo-web/blueprint.yaml (new)" in str(warning["message"])
    assert [s["service"] for s in report["services"]] == ["todo-backend", "todo-frontend"]  # type: ignore[index]


@pytest.mark.parametrize(
    "command",
    [("plan",), ("status",), ("breaker", "status"), ("policy", "todo-backend")],
    ids=" ".join,
)
def test_every_command_that_judges_reads_head_and_says_so(
    seeded: Scenario, command: tuple[str, ...]
) -> None:
    _raise_max_replicas(seeded)
    text = seeded.cli(*command).output
    assert f"warning: uncommitted changes are not used: {BACKEND} (modified)" in text
    assert f"{BACKEND} (modified)" in str(_uncommitted(seeded.json(*command))["message"])


def test_policy_shows_the_committed_limit_and_the_working_tree_on_request(
    seeded: Scenario,
) -> None:
    _raise_max_replicas(seeded)
    committed = seeded.json("policy", "todo-backend")
    edited = seeded.json("policy", "todo-backend", "--working-tree")
    assert isinstance(committed, dict) and isinstance(edited, dict)
    assert (committed["scaling"]["max_replicas"], edited["scaling"]["max_replicas"]) == (3, 10)
    assert committed["commit"] == str(seeded.repo.head.target)
    assert edited["commit"] is None


def test_validate_checks_the_working_tree_before_it_is_committed(seeded: Scenario) -> None:
    path = seeded.root / BACKEND
    path.write_text(path.read_text().replace("max_replicas: 3", "max_replicas: 0"))
    result = seeded.cli("validate", expect=1)
    assert f"{BACKEND}:19:" in result.output
    # The committed blueprint still governs, and a run says the edit is not used.
    run = seeded.cli("run", "--dry-run")
    assert f"uncommitted changes are not used: {BACKEND} (modified)" in run.output
    assert "todo-backend   2/2" in run.output


def test_nothing_committed_yet_is_a_clear_error(tmp_path: Path) -> None:
    shutil.copytree(REPO / "blueprints", tmp_path / "blueprints", symlinks=True)
    pygit2.init_repository(str(tmp_path), initial_head="main")
    scenario = Scenario(tmp_path)
    scenario.cli("sim", "init", "--scenario", "seed")
    for command in (("run", "--dry-run"), ("status",), ("policy", "todo-frontend")):
        result = scenario.cli(*command, expect=3)
        assert result.output.splitlines() == [
            "error: nothing is committed yet: the blueprints a cycle judges under are those of "
            "the commit it runs on",
            "hint: commit them first: `git add blueprints && git commit`",
        ]
    scenario.cli("validate")  # the working tree, as it is


def test_only_what_changes_authority_is_reported_as_uncommitted(seeded: Scenario) -> None:
    frontend = seeded.root / "blueprints/todo-frontend/blueprint.yaml"
    crlf = frontend.read_bytes().replace(b"\n", b"\r\n")
    frontend.write_bytes(crlf)  # as a checkout with core.autocrlf writes it: the same blob
    (seeded.root / "blueprints/README.md").write_text("notes\n")  # not read by the loader
    assert "warning" not in seeded.cli("status").output
    (seeded.root / BACKEND).unlink()
    (seeded.root / POLICIES).write_text((seeded.root / POLICIES).read_text() + "# note\n")
    message = str(_uncommitted(seeded.json("status"))["message"])
    assert message.startswith(
        f"uncommitted changes are not used: {POLICIES} (modified), {BACKEND} (deleted); "
    )
    # The deleted blueprint still governs: it is in HEAD.
    assert [s["service"] for s in seeded.json("status")["services"]] == [  # type: ignore[index]
        "todo-backend",
        "todo-frontend",
    ]
