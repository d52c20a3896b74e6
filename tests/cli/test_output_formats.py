"""`-o yaml` wherever `-o json` exists: the same document, for scripts that read YAML."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
import yaml

from reconciler.cli import main
from tests.cli.commandlines import subcommands
from tests.scenarios.conftest import Scenario, init_repo


@pytest.fixture
def scenario(tmp_path: Path) -> Scenario:
    root = tmp_path / "fleet"
    root.mkdir()
    init_repo(root)
    return Scenario(root)


def _commands(group: click.Group, prefix: str = "") -> Iterator[tuple[str, click.Command]]:
    for name, command in sorted(subcommands(group).items()):
        if isinstance(command, click.Group):
            yield from _commands(command, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}", command


def _output_choices(command: click.Command) -> list[str] | None:
    for param in command.params:
        if "--output" in getattr(param, "opts", []) and isinstance(param.type, click.Choice):
            return list(param.type.choices)
    return None


def test_every_command_that_writes_json_writes_yaml_too() -> None:
    offered = {name: _output_choices(command) for name, command in _commands(main)}
    with_json = {
        name: choices for name, choices in offered.items() if choices and "json" in choices
    }
    # The commands scripts read: at least these have -o json, so -o yaml.
    assert {"run", "plan", "status", "audit", "report", "validate", "doctor", "sim show"} <= set(
        with_json
    )
    assert {name for name, choices in with_json.items() if "yaml" not in choices} == set()


@pytest.mark.parametrize(
    "args",
    [("status",), ("validate",), ("audit",), ("report",), ("plan",), ("policy", "todo-frontend")],
)
def test_yaml_is_the_same_document_as_json(scenario: Scenario, args: tuple[str, ...]) -> None:
    scenario.cli("sim", "init", "--scenario", "seed")
    scenario.cli("run")
    as_json = json.loads(scenario.cli(*args, "-o", "json").output)
    as_yaml = yaml.safe_load(scenario.cli(*args, "-o", "yaml").output)
    assert as_yaml == as_json
    assert as_json  # a document, not an empty answer


def test_an_unknown_format_names_the_choices(scenario: Scenario) -> None:
    result = scenario.cli("status", "-o", "toml", expect=2)
    assert "'text', 'json', 'yaml'" in result.output
