"""validate, schema and policy through the CLI, as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from tests.cli.commandlines import subcommands
from tests.conftest import REPO
from tests.scenarios.conftest import Scenario

Cli = Callable[..., Result]


def break_file(root: Path, service: str, text: str) -> Path:
    path = root / "blueprints" / service / "blueprint.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_validate_passes_the_shipped_blueprints(cli: Cli, blueprint_repo: Path) -> None:
    result = cli("--repo", str(blueprint_repo), "validate")
    assert result.exit_code == 0, result.output
    assert "2 blueprints: 2 valid, 0 invalid; 0 errors, 0 warnings" in result.output


def test_validate_reports_each_problem_and_keeps_the_others(cli: Cli, blueprint_repo: Path) -> None:
    break_file(
        blueprint_repo,
        "web",
        "metadata:\n  name: web\n  version: 1.0.0\nspec:\n  scaling:\n"
        "    min_replicas: 4\n    max_replicas: 2\n    cooldown_period: 60\n",
    )
    result = cli("--repo", str(blueprint_repo), "validate")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert (
        "blueprints/web/blueprint.yaml:8:5: spec.scaling.cooldown_period: 60 has no unit; "
        "did you mean 60s? (fix: write a duration with a unit, such as 60s, 5m, 1h or 1h30m)"
    ) in lines
    assert "3 blueprints: 2 valid, 1 invalid; 1 error, 0 warnings" in lines[-1]


def test_validate_json(cli: Cli, blueprint_repo: Path) -> None:
    break_file(blueprint_repo, "web", "- not a mapping\n")
    result = cli("--repo", str(blueprint_repo), "validate", "--output", "json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["ok"] is False
    assert sorted(report["valid"]) == ["todo-backend", "todo-frontend"]
    assert report["invalid"] == {"web": "blueprints/web/blueprint.yaml"}
    assert report["problems"][0]["file"] == "blueprints/web/blueprint.yaml"
    assert report["problems"][0]["line"] == 1


def test_validate_prints_annotations_on_github_actions(cli: Cli, blueprint_repo: Path) -> None:
    break_file(blueprint_repo, "web", "metadata:\n  name: Web\n")
    result = cli("--repo", str(blueprint_repo), "validate", env={"GITHUB_ACTIONS": "true"})
    assert result.exit_code == 1
    annotations = [line for line in result.output.splitlines() if line.startswith("::error")]
    assert any(
        line.startswith(
            "::error file=blueprints/web/blueprint.yaml,line=2,col=3,title=metadata.name::"
        )
        for line in annotations
    ), annotations
    plain = cli("--repo", str(blueprint_repo), "validate", env={"GITHUB_ACTIONS": ""})
    assert "::error" not in plain.output
    # A script asking for JSON on Actions gets only JSON.
    scripted = cli(
        "--repo", str(blueprint_repo), "validate", "-o", "json", env={"GITHUB_ACTIONS": "true"}
    )
    assert json.loads(scripted.output)["errors"] >= 1


def test_validate_a_single_path(
    cli: Cli, blueprint_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    break_file(blueprint_repo, "web", "broken: [\n")
    monkeypatch.chdir(blueprint_repo)
    result = cli("validate", "blueprints/todo-frontend")
    assert result.exit_code == 0, result.output
    assert "1 blueprint: 1 valid" in result.output


def test_strict_fails_on_warnings(cli: Cli, blueprint_repo: Path) -> None:
    break_file(
        blueprint_repo,
        "web",
        "metadata:\n  name: web\n  version: 1.0.0\nspec:\n  scaling:\n    min_replicas: 1\n"
        "    max_replicas: 2\n    metrics:\n      - {type: cpu, weight: 0.9}\n",
    )
    assert cli("--repo", str(blueprint_repo), "validate").exit_code == 0
    assert cli("--repo", str(blueprint_repo), "validate", "--strict").exit_code == 1


def test_broken_global_policies_are_reported(cli: Cli, blueprint_repo: Path) -> None:
    (blueprint_repo / "blueprints/governance/policies.yaml").write_text("governance: [1]\n")
    result = cli("--repo", str(blueprint_repo), "validate")
    assert result.exit_code == 1
    assert (
        "blueprints/governance/policies.yaml:1:1: governance: expected a mapping" in result.output
    )
    assert "the global policies do not validate" in result.output
    refused = cli("--repo", str(blueprint_repo), "policy", "todo-frontend", "--working-tree")
    assert refused.exit_code == 3
    assert refused.output.startswith("error: loading blueprints/governance/policies.yaml")


def test_no_repository_is_a_clear_error(cli: Cli, tmp_path: Path) -> None:
    result = cli("--repo", str(tmp_path), "validate")
    assert result.exit_code == 3
    assert (
        result.output.splitlines()[0]
        == f"error: no blueprints/ directory in {tmp_path.resolve()} or its parents"
    )
    assert "hint: " in result.output
    assert "Traceback" not in result.output


def test_schema_prints_the_file_editors_use(cli: Cli) -> None:
    result = cli("schema")
    assert result.exit_code == 0
    assert json.loads(result.output) == json.loads((REPO / "blueprints/schema.json").read_text())
    policies = json.loads(cli("schema", "--kind", "policies").output)
    assert policies["title"] == "Global policies"
    assert (REPO / "blueprints/governance/policies.schema.json").read_text() == cli(
        "schema", "--kind", "policies"
    ).output


def test_policy_shows_effective_rules_with_origins(seeded: Scenario) -> None:
    result = seeded.cli("policy", "todo-frontend")
    assert (
        "allowed     scale_within_limits when target_replicas >= min_replicas AND "
        "target_replicas <= max_replicas  [blueprint: governance.agent_authority.allowed_operations[0]]"
    ) in result.output
    assert "forbidden   delete_deployment  [global:" in result.output
    data = seeded.json("policy", "todo-backend")
    assert isinstance(data, dict)
    assert data["scaling"]["max_replicas"] == 3
    assert data["safety"]["cooldown_seconds"] == 90
    assert data["approval"]["approvers"] == ["backend-team", "devops-team"]


def test_policy_for_an_unknown_service(seeded: Scenario) -> None:
    result = seeded.cli("policy", "nope", expect=3)
    assert "no blueprint for service 'nope'" in result.output
    assert "todo-frontend" in result.output


def _commands(group: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    import click

    found = [prefix]
    if isinstance(group, click.Group):
        for name, command in subcommands(group).items():
            found += _commands(command, (*prefix, name))
    return found


def test_every_command_explains_itself(cli: Cli) -> None:
    from reconciler.cli import main

    for path in _commands(main):
        result = cli(*path, "--help")
        assert result.exit_code == 0, path
        assert "Usage: " in result.output
        description = result.output.split("\n\n")[1].strip()
        assert len(description) > 30, (path, description)


def test_module_entry_point_and_light_start_up() -> None:
    code = (
        "import sys, runpy\n"
        "sys.argv = ['reconciler', '--help']\n"
        "try:\n    runpy.run_module('reconciler', run_name='__main__')\n"
        "except SystemExit as e:\n    assert e.code == 0\n"
        "heavy = sorted(m for m in ('kubernetes', 'github', 'pygit2', 'jsonschema') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert "Usage: reconciler" in result.stdout
    assert "HEAVY []" in result.stdout


def test_validate_checks_the_manifests_a_blueprint_names(cli: Cli, blueprint_repo: Path) -> None:
    """spec.manifests is checked against the working tree: a missing file is an error at the
    blueprint's line, and the blueprint counts as invalid; a replica count outside the bounds
    is a warning at its own line (an approved one-off may hold it there)."""
    break_file(
        blueprint_repo,
        "web",
        "metadata:\n  name: web\n  version: 1.0.0\nspec:\n  scaling:\n"
        "    min_replicas: 2\n    max_replicas: 4\n    coexistence: write_back\n"
        "  manifests:\n    format: plain\n    path: deploy/web.yaml\n",
    )
    manifest = blueprint_repo / "deploy/web.yaml"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 6\n"
    )
    result = cli("--repo", str(blueprint_repo), "validate")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].startswith(
        "deploy/web.yaml:6:13: warning: spec.replicas: holds 6 replicas, above max_replicas (4) "
        "of blueprints/web/blueprint.yaml (fix: bring the manifest within the blueprint's bounds"
    )
    assert "3 blueprints: 3 valid, 0 invalid; 0 errors, 1 warning" in lines[-1]

    manifest.write_text(manifest.read_text().replace("replicas: 6", "replicas: 3"))
    result = cli("--repo", str(blueprint_repo), "validate")
    assert result.exit_code == 0, result.output

    manifest.unlink()
    result = cli("--repo", str(blueprint_repo), "validate")
    assert result.exit_code == 1
    assert result.output.startswith(
        "blueprints/web/blueprint.yaml:11:5: spec.manifests.path: deploy/web.yaml does not exist"
    )
