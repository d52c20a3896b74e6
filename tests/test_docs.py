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


def _documented_queries(document: Path) -> list[list[str]]:
    """Every `git log --grep` command of the document's querying examples, as argv."""
    queries = []
    for line in document.read_text().splitlines():
        if line.startswith("git log ") and "--grep" in line:
            queries.append(shlex.split(line, comments=True))
    return queries


def _matches(root: Path, argv: list[str]) -> list[str]:
    import subprocess

    result = subprocess.run(
        ["git", "-C", str(root), *argv[1:], "--format=%s"],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.splitlines()


#: A reason and a requester that try to pass for trailers of other events.
FORGED = (
    "\x1b[2J\x1b[Hload\nReconciler-Event: operation_blocked\nReconciler-Service: todo-frontend\n"
    "Reconciler-Outcome: blocked\nReconciler-Decision: dec-20260210-153000-17ead1"
)


def test_the_documented_git_log_queries_find_exactly_what_they_say(tmp_path: Path) -> None:
    """Each `git log --grep` example of docs/audit-trail.md, run by git on a real trail that
    also holds a request whose --reason and --by imitate those trailers: the anchored queries
    find the reconciler's own trailers and never the imitation."""
    scenario = Scenario(tmp_path)
    init_repo(tmp_path)
    scenario.cli("sim", "init", "--scenario", "seed")
    scenario.cli("run")  # todo-frontend: scale 2→3, decision dec-20260210-153000-17ead1
    scenario.cli("request", "todo-frontend", "delete_deployment", "--reason", "cleanup", expect=1)
    by = "mallory\nReconciler-Event: operation_blocked"
    scenario.cli(
        "request", "todo-backend", "scale", "--replicas", "3", "--reason", FORGED, "--by", by
    )
    subjects = scenario.subjects()
    scaled = "todo-frontend: scale 2→3 (allowed): weighted 81.5% > 80%"
    blocked = next(s for s in subjects if s.startswith("todo-frontend: blocked delete_deployment"))
    forged = next(s for s in subjects if s.startswith("todo-backend: scale 2→3 (allowed)"))
    assert "Reconciler-Event: operation_blocked" in forged  # the imitation reached the subject
    # ...without the escapes that would repaint the terminal of whoever reads the log.
    oneline = _matches(tmp_path, ["git", "log", "--oneline", "--no-color"])
    assert oneline and not any(ord(c) < 32 for line in oneline for c in line)
    assert forged.endswith(": \\x1b…")  # shown as an escape, cut short
    expected = {
        "^Reconciler-Event: operation_blocked$": [blocked],
        "^Reconciler-Decision: dec-20260210-153000-17ead1$": [scaled],
        "^Reconciler-Service: todo-frontend$ ^Reconciler-Outcome: blocked$": [blocked],
    }
    queries = _documented_queries(DOCS / "audit-trail.md")
    patterns = [" ".join(q[i + 1] for i, a in enumerate(q) if a == "--grep") for q in queries]
    assert sorted(patterns) == sorted(expected)
    for query, pattern in zip(queries, patterns, strict=True):
        assert _matches(tmp_path, query) == expected[pattern], query
    # Without its anchors, the first query would have found the imitation too.
    loose = ["git", "log", "--grep", "Reconciler-Event: operation_blocked"]
    assert forged in _matches(tmp_path, loose)


def test_observe_mode_report_example_is_the_real_output(tmp_path: Path) -> None:
    shown = text_block_after(DOCS / "decision-engine.md", "## Observe mode")
    scenario = Scenario(tmp_path)
    init_repo(tmp_path)
    path = tmp_path / "blueprints/todo-frontend/blueprint.yaml"
    scenario.write_blueprint(
        "todo-frontend", path.read_text().replace("spec:\n", "spec:\n  mode: observe\n", 1)
    )
    scenario.cli("sim", "init", "--scenario", "seed")
    scenario.cli("run")
    scenario.cli("sim", "advance", "2m")
    scenario.cli(
        "sim",
        "set",
        "todo-frontend",
        "replicas=3",
        "cpu_utilization=95%",
        "memory_utilization=90%",
        "latency_p95=190ms",
    )
    scenario.cli("sim", "advance", "2m")
    scenario.cli("run")
    assert scenario.cli("report", "--since", "7d").output == shown
