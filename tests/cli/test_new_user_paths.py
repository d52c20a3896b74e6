"""What a new user met: `policy` omitting what is allowed unlisted, `sim init --scenario seed`
in a repository without the sample services."""

from __future__ import annotations

from pathlib import Path

from tests.scenarios.conftest import Scenario


def test_policy_shows_rollback_own_change_allowed_by_default(seeded: Scenario) -> None:
    result = seeded.cli("policy", "todo-frontend")
    assert (
        "  allowed     rollback_own_change  [built in: allowed unless a policy lists it; "
        "exempt from cooldown, rate limits and the circuit breaker]"
    ) in result.output
    assert seeded.json("policy", "todo-frontend")["allowed_when_unlisted"] == [  # type: ignore[index]
        "rollback_own_change"
    ]


def test_a_policy_that_lists_rollback_own_change_shows_its_rule_instead(seeded: Scenario) -> None:
    path = seeded.root / "blueprints/todo-frontend/blueprint.yaml"
    text = path.read_text().replace(
        "    allowed_operations:\n", "    allowed_operations:\n      - rollback_own_change\n", 1
    )
    seeded.write_blueprint("todo-frontend", text, "list rollback_own_change")
    result = seeded.cli("policy", "todo-frontend")
    assert "allowed     rollback_own_change  [blueprint:" in result.output
    assert "built in" not in result.output
    assert seeded.json("policy", "todo-frontend")["allowed_when_unlisted"] == []  # type: ignore[index]


def test_sim_init_seed_without_todo_frontend_says_so(tmp_path: Path) -> None:
    from tests.scenarios.conftest import web_fleet

    scenario = web_fleet(tmp_path)
    result = scenario.cli("sim", "init", "--scenario", "seed")
    assert (
        "warning: the seed scenario sets the load of todo-backend, todo-frontend, and no "
        "blueprint here names them: every deployment starts steady"
    ) in result.output
    quiet = scenario.cli("sim", "init", "--force")
    assert "warning" not in quiet.output


def test_shell_completion_as_documented_produces_a_script_for_each_shell() -> None:
    import os
    import subprocess
    import sys

    for shell, marker in (("bash", "complete "), ("zsh", "compdef"), ("fish", "complete ")):
        script = subprocess.run(
            [str(Path(sys.executable).parent / "reconciler")],  # the console script
            env={**os.environ, "_RECONCILER_COMPLETE": f"{shell}_source"},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert marker in script, shell
        assert "_RECONCILER_COMPLETE" in script
