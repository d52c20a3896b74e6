"""What the loader reads, and what it says about what it does not: a missing policies file is
an error that stops every acting command, and a blueprint that is not where the loader looks is
a warning in `validate` and in `run`, never a file dropped in silence."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from tests import simstate
from tests.scenarios.conftest import Scenario

Cli = Callable[..., Result]

POLICIES = "blueprints/governance/policies.yaml"
FRONTEND = "blueprints/todo-frontend/blueprint.yaml"


def _web(root: Path) -> str:
    """The seed blueprint, renamed to a new service todo-web."""
    return (root / FRONTEND).read_text().replace("todo-frontend", "todo-web")


def _problems(result: Result) -> list[str]:
    return [line for line in result.output.splitlines() if line.startswith(("blueprints/", "no"))]


# ---------------------------------------------------------------------------------------------
# The global policies file


def test_validate_reports_a_missing_policies_file(cli: Cli, blueprint_repo: Path) -> None:
    (blueprint_repo / POLICIES).unlink()
    result = cli("--repo", str(blueprint_repo), "validate")
    assert result.exit_code == 1
    lines = _problems(result)
    assert lines[0] == (
        f"{POLICIES}: the global policies file does not exist; `run`, `plan` and `request` "
        f"refuse to act without it (fix: create {POLICIES}: `reconciler schema --kind policies` "
        'prints its schema and docs/blueprint-format.md ("The global policies file") '
        "describes it; a fleet with no shared rules writes just `defaults: {namespace: default}`)"
    )
    # The backend's fleet-specific operation is declared in the missing file: say so.
    assert lines[1].startswith(
        "blueprints/todo-backend/blueprint.yaml:74:9: governance.agent_authority."
        "requires_approval[4]: unknown operation 'modify_database_connections'; it may be one "
        f"declared under `operations:` in {POLICIES}, which does not exist"
    )
    assert result.output.splitlines()[-1].endswith("; the global policies file is missing")
    report = json.loads(cli("--repo", str(blueprint_repo), "validate", "-o", "json").output)
    assert (report["ok"], report["policies_found"], report["policies_ok"]) == (False, False, False)


def test_the_suggested_one_line_policies_file_is_valid(cli: Cli, blueprint_repo: Path) -> None:
    """The way out the message offers must itself pass."""
    (blueprint_repo / POLICIES).write_text("defaults: {namespace: default}\n")
    (blueprint_repo / "blueprints/todo-backend/blueprint.yaml").unlink()
    (blueprint_repo / "blueprints/todo-backend").rmdir()
    result = cli("--repo", str(blueprint_repo), "validate")
    assert result.exit_code == 0, result.output
    assert "1 blueprint: 1 valid, 0 invalid; 0 errors, 0 warnings" in result.output


def test_a_typo_in_the_policies_file_is_named_in_the_blueprint_error(
    cli: Cli, blueprint_repo: Path
) -> None:
    path = blueprint_repo / POLICIES
    path.write_text(path.read_text().replace("- delete_service\n", "- delete_servce\n"))
    result = cli("--repo", str(blueprint_repo), "validate")
    assert result.exit_code == 1
    lines = _problems(result)
    assert lines[0].startswith(f"{POLICIES}:35:9: ")
    assert "unknown operation 'delete_servce' (fix: did you mean delete_service?)" in lines[0]
    assert lines[1] == (
        "blueprints/todo-backend/blueprint.yaml:74:9: governance.agent_authority."
        "requires_approval[4]: unknown operation 'modify_database_connections'; it may be one "
        f"declared under `operations:` in {POLICIES}, which does not validate (fix: correct the "
        f"errors of {POLICIES} first; if it does not declare modify_database_connections, "
        "did you mean modify_database_schema?)"
    )


@pytest.mark.parametrize(
    "command",
    [
        ("run",),
        ("run", "--dry-run"),
        ("plan",),
        ("request", "todo-frontend", "scale", "--replicas", "3", "--reason", "launch"),
    ],
    ids=["run", "run --dry-run", "plan", "request"],
)
def test_acting_commands_refuse_without_a_policies_file(
    seeded: Scenario, command: tuple[str, ...]
) -> None:
    (seeded.root / POLICIES).unlink()
    seeded.commit_all("remove the policies")
    commits = len(seeded.commits())
    cluster = _cluster(seeded)
    result = seeded.cli(*command, expect=3)
    assert result.output.splitlines()[0] == (
        f"error: {POLICIES} does not exist; refusing to act without the global policies "
        "(the fleet's forbidden operations, approvers and default namespace)"
    )
    assert result.output.splitlines()[1].startswith(f"hint: create {POLICIES}: ")
    # Nothing was decided in the `default` namespace, nothing recorded, nothing scaled.
    assert "default/todo-frontend" not in result.output
    assert len(seeded.commits()) == commits
    assert _cluster(seeded) == cluster


def _cluster(scenario: Scenario) -> dict[str, list[tuple[Any, ...]]]:
    """The simulated cluster's state, as stored."""
    return simstate.everything(scenario.root / ".reconciler/sim-state.db")


def test_run_refuses_a_policies_file_with_a_typo(seeded: Scenario) -> None:
    path = seeded.root / POLICIES
    path.write_text(path.read_text().replace("- delete_service\n", "- delete_servce\n"))
    seeded.commit_all("a typo")
    result = seeded.cli("run", expect=3)
    assert result.output.startswith(f"error: loading {POLICIES}: {POLICIES}:35:9: ")


# ---------------------------------------------------------------------------------------------
# Files the loader does not read


def _misplace(root: Path) -> None:
    """Four ways to write a blueprint the loader never reads."""
    web = _web(root)
    (root / "blueprints/todo-web").mkdir()
    (root / "blueprints/todo-web/blueprint.yml").write_text(web)
    (root / "blueprints/todo-flat.yaml").write_text(web.replace("todo-web", "todo-flat"))
    (root / "blueprints/todo-frontend/notes.yaml").write_text("replicas: 3\n")
    (root / "blueprints/todo-empty").mkdir()
    (root / "blueprints/todo-empty/README.md").write_text("no blueprint yet\n")  # git keeps it


IGNORED = [
    "blueprints/todo-empty: warning: ignored: the folder has no blueprint.yaml, so no service "
    "is read from it (fix: add blueprints/todo-empty/blueprint.yaml, or remove the folder)",
    "blueprints/todo-flat.yaml: warning: ignored: a blueprint is read only from its service's "
    "folder, as blueprints/<service>/blueprint.yaml "
    "(fix: move it to blueprints/todo-flat/blueprint.yaml)",
    "blueprints/todo-frontend/notes.yaml: warning: ignored: only blueprint.yaml is read in a "
    "service's folder (fix: move what it says into blueprints/todo-frontend/blueprint.yaml, or "
    "remove it)",
    "blueprints/todo-web/blueprint.yml: warning: ignored: the blueprint of todo-web is read only "
    "from blueprints/todo-web/blueprint.yaml (fix: rename it to "
    "blueprints/todo-web/blueprint.yaml)",
]


def test_validate_warns_about_every_file_it_does_not_read(cli: Cli, blueprint_repo: Path) -> None:
    _misplace(blueprint_repo)
    result = cli("--repo", str(blueprint_repo), "validate")
    assert result.exit_code == 0, result.output
    assert _problems(result) == IGNORED
    assert "2 blueprints: 2 valid, 0 invalid; 0 errors, 4 warnings" in result.output
    assert cli("--repo", str(blueprint_repo), "validate", "--strict").exit_code == 1
    report = json.loads(cli("--repo", str(blueprint_repo), "validate", "-o", "json").output)
    assert report["ignored"] == [line.split(":")[0] for line in IGNORED]
    assert {p["code"] for p in report["problems"]} == {"file.ignored"}


@pytest.mark.parametrize(
    ("misnamed", "fix"),
    [
        ("blueprints/governance/policies.yml", f"rename it to {POLICIES}"),
        ("blueprints/policies.yaml", f"move it to {POLICIES}"),
    ],
)
def test_a_misplaced_policies_file_is_named(
    cli: Cli, blueprint_repo: Path, misnamed: str, fix: str
) -> None:
    (blueprint_repo / POLICIES).rename(blueprint_repo / misnamed)
    result = cli("--repo", str(blueprint_repo), "validate")
    assert result.exit_code == 1
    assert (
        f"{misnamed}: warning: ignored: the global policies are read only from {POLICIES} "
        f"(fix: {fix})"
    ) in result.output.splitlines()


@pytest.mark.parametrize(
    ("path", "exit_code", "expected"),
    [
        (
            "blueprints/todo-web",
            1,
            [
                "blueprints/todo-web: holds no blueprint.yaml "
                "(fix: put the service's blueprint at blueprints/todo-web/blueprint.yaml)",
                IGNORED[3],
            ],
        ),
        (
            "blueprints/governance",
            1,
            [
                "blueprints/governance: holds no blueprint; the policies file is checked with "
                "every validate (fix: run `reconciler validate` to check everything, or name a "
                "service folder)"
            ],
        ),
        (
            "nope",
            1,
            [
                "nope: no such file or folder (fix: name a blueprint file or a service folder, "
                "such as blueprints/<service>)"
            ],
        ),
        ("blueprints/todo-frontend", 0, [IGNORED[2]]),
        ("blueprints/todo-web/blueprint.yml", 0, [IGNORED[3]]),
    ],
    ids=["folder without blueprint.yaml", "governance", "no such path", "service", "a .yml file"],
)
def test_a_path_that_names_no_blueprint_says_so(
    cli: Cli,
    blueprint_repo: Path,
    monkeypatch: pytest.MonkeyPatch,
    path: str,
    exit_code: int,
    expected: list[str],
) -> None:
    _misplace(blueprint_repo)
    monkeypatch.chdir(blueprint_repo)
    result = cli("validate", path)
    assert result.exit_code == exit_code, result.output
    assert _problems(result) == expected


def test_run_notes_the_files_it_does_not_read_without_failing(seeded: Scenario) -> None:
    _misplace(seeded.root)
    seeded.commit_all("misplaced blueprints")
    result = seeded.cli("run", "--dry-run")
    lines = result.output.splitlines()
    assert "todo-web:" in lines
    assert (
        "  note: file ignored: blueprints/todo-web/blueprint.yml: the blueprint of todo-web is "
        "read only from blueprints/todo-web/blueprint.yaml "
        "(fix: rename it to blueprints/todo-web/blueprint.yaml)"
    ) in lines
    assert (
        "  note: file ignored: blueprints/todo-frontend/notes.yaml: only blueprint.yaml is read "
        "in a service's folder (fix: move what it says into "
        "blueprints/todo-frontend/blueprint.yaml, or remove it)"
    ) in lines
    report = seeded.json("run", "--dry-run")
    assert isinstance(report, dict) and report["ok"] is True
    warned = {row["service"]: row["warnings"] for row in report["services"] if row["warnings"]}
    assert sorted(warned) == ["todo-empty", "todo-flat", "todo-frontend", "todo-web"]
    # Only the services asked for.
    picked = seeded.json("run", "--dry-run", "-s", "todo-frontend")
    assert isinstance(picked, dict)
    assert [row["service"] for row in picked["services"]] == ["todo-frontend"]


def test_each_shard_notes_only_the_files_of_its_own_services(seeded: Scenario) -> None:
    _misplace(seeded.root)
    seeded.commit_all("misplaced blueprints")
    warned = []
    for shard in ("1/2", "2/2"):
        report = seeded.json("run", "--dry-run", "--shard", shard)
        assert isinstance(report, dict)
        warned += [row["service"] for row in report["services"] if row["warnings"]]
    assert sorted(warned) == ["todo-empty", "todo-flat", "todo-frontend", "todo-web"]


def test_asking_for_a_service_whose_blueprint_is_not_read_says_why(seeded: Scenario) -> None:
    _misplace(seeded.root)
    seeded.commit_all("misplaced blueprints")
    result = seeded.cli("policy", "todo-web", expect=3)
    assert result.output.splitlines() == [
        "error: no blueprint for service 'todo-web': blueprints/todo-web/blueprint.yml is not read",
        "hint: rename it to blueprints/todo-web/blueprint.yaml",
    ]
