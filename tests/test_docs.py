"""The command output the docs show is the output the commands print, so the docs cannot drift.

Each example is cut from its document and compared with a real run on the shipped blueprints.
Only what really varies from run to run (a commit id) is masked.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from pathlib import Path

from click.testing import Result

from tests.conftest import REPO
from tests.scenarios.conftest import Scenario, init_repo

Cli = Callable[..., Result]

DOCS = REPO / "docs"


def text_block_after(document: Path, marker: str) -> str:
    """The body of the first ```text block after `marker` in `document`."""
    text = document.read_text()
    assert marker in text, f"{document.name} no longer says {marker!r}"
    start = text.index("```text\n", text.index(marker)) + len("```text\n")
    return text[start : text.index("```\n", start)]


def test_policy_example_is_the_real_output(cli: Cli) -> None:
    shown = text_block_after(
        DOCS / "blueprint-format.md", "`reconciler policy todo-frontend`\nprints:"
    )
    result = cli("--repo", str(REPO), "policy", "todo-frontend")
    assert result.exit_code == 0, result.output
    assert shown == result.output


def test_validate_example_is_the_real_output(cli: Cli, blueprint_repo: Path) -> None:
    shown = text_block_after(DOCS / "blueprint-format.md", "`reconciler validate` checks")
    # A blueprint whose line 8 is the field the example complains about.
    web = blueprint_repo / "blueprints" / "web" / "blueprint.yaml"
    web.parent.mkdir()
    web.write_text(
        "metadata:\n  name: web\n  version: 1.0.0\nspec:\n  scaling:\n"
        "    min_replicas: 1\n    max_replicas: 5\n    cooldown_period: 60\n"
    )
    result = cli("--repo", str(blueprint_repo), "validate")
    assert result.exit_code == 1
    problems = [line for line in result.output.splitlines() if line.startswith("blueprints/")]
    assert shown.splitlines() == problems


def _mask_commits(text: str) -> str:
    return re.sub(r"\bcommit [0-9a-f]{7,40}\b", "commit <id>", text)


def test_request_example_is_the_real_output(tmp_path: Path) -> None:
    shown = text_block_after(DOCS / "governance.md", "## Requests")
    command, _, expected = shown.partition("\n")
    assert command.startswith("$ reconciler ")
    scenario = Scenario(tmp_path)
    init_repo(tmp_path)
    scenario.cli("sim", "init", "--scenario", "seed")
    result = scenario.cli(*shlex.split(command)[2:], expect=1)  # forbidden: exit 1
    assert _mask_commits(expected) == _mask_commits(result.output)
