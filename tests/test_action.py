"""The Action (action.yml), checked offline, and the test runner's composite actions.

action.yml is what every blueprint repository runs, so it gets the workflow files' checks
(GitHub's schema for actions, pinned actions, shellcheck, the contexts each expression uses)
plus its own: what each input reaches, that only the step that pushes holds the token, that
the install is hash-checked, and that its outputs are what `--outputs` writes. The last part
checks that tests/actions.py runs composite actions as GitHub does, on a small action made
here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.cli.step_outputs import ActionOutputs
from tests.actions import Runner, StepContext, expressions_in, parse_expression
from tests.conftest import REPO
from tests.test_workflows import ACTION, RECONCILE, _check_jsonschema, _contexts, load

DOCUMENT: dict[str, Any] = yaml.safe_load(ACTION.read_text())
STEPS: list[dict[str, Any]] = DOCUMENT["runs"]["steps"]
INPUTS: dict[str, Any] = DOCUMENT["inputs"]


def _step(name: str) -> dict[str, Any]:
    (found,) = [step for step in STEPS if step.get("name") == name]
    return found


def test_the_action_matches_githubs_schema() -> None:
    result = _check_jsonschema(ACTION, schema="vendor.github-actions")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_catches_a_mistake(tmp_path: Path) -> None:
    broken = tmp_path / "action.yml"
    broken.write_text(ACTION.read_text().replace("using: composite", "using: composit"))
    result = _check_jsonschema(broken, schema="vendor.github-actions")
    assert result.returncode != 0


def test_it_is_a_composite_action_whose_scripts_say_their_shell() -> None:
    assert DOCUMENT["runs"]["using"] == "composite"
    for step in STEPS:
        if "run" in step:
            assert step["shell"] == "bash", step["name"]


#: Contexts GitHub gives an action's metadata (no secrets, no vars: those come as inputs).
AVAILABLE = {
    "inputs.default": {"github", "runner", "env", "job", "strategy", "matrix"},
    "outputs.value": {"github", "inputs", "steps", "runner", "env", "job", "strategy", "matrix"},
    "step": {"github", "inputs", "steps", "runner", "env", "job", "strategy", "matrix"},
}


def _places() -> list[tuple[str, str]]:
    found = [
        ("inputs.default", expression)
        for spec in INPUTS.values()
        for expression in expressions_in(str(spec.get("default", "")))
    ]
    found += [
        ("outputs.value", expression)
        for spec in DOCUMENT["outputs"].values()
        for expression in expressions_in(spec["value"])
    ]
    for step in STEPS:
        if "if" in step:
            found.append(("step", str(step["if"])))
        for key in ("env", "with"):
            for value in (step.get(key) or {}).values():
                found += [("step", expression) for expression in expressions_in(str(value))]
    return found


def test_every_expression_parses_and_uses_contexts_an_action_has() -> None:
    places = _places()
    assert len(places) > 20
    for place, expression in places:
        unavailable = _contexts(parse_expression(expression)) - AVAILABLE[place]
        assert not unavailable, f"{place}: {expression!r} uses {unavailable}"


def test_every_input_is_used_and_described() -> None:
    text = yaml.safe_dump(STEPS)
    for name, spec in INPUTS.items():
        assert spec.get("description"), name
        assert f"inputs.{name}" in text, f"input {name} reaches no step"


def test_the_token_reaches_only_the_steps_that_push_or_comment() -> None:
    holding = [step["name"] for step in STEPS if "inputs.github-token" in str(step)]
    assert holding == [
        "Reconcile",
        "Put the failed run on the dashboard",
        "Classify the blueprint changes",
    ]
    # ...and no step before them: installing, above all, runs without it.
    before = STEPS[: STEPS.index(_step("Reconcile"))]
    assert not any("token" in str(step.get("env", {})).lower() for step in before)


def test_the_push_credential_lives_in_the_steps_environment_only() -> None:
    script = _step("Reconcile")["run"]
    assert "git config" not in script and "remote set-url" not in script
    assert "GIT_CONFIG_COUNT=2" in script and 'GIT_CONFIG_VALUE_0=""' in script
    assert '"::add-mask::$basic"' in script


def test_the_install_is_pinned_and_hash_checked() -> None:
    script = _step("Install the reconciler")["run"]
    commands = [line.strip() for line in script.replace("\\\n", " ").splitlines()]
    # pip installs the installer alone, from its own hash-checked lock...
    (pip,) = [line for line in commands if line.startswith("python -m pip")]
    assert "--no-deps" in pip
    assert '--require-hashes -r "$GITHUB_ACTION_PATH/requirements/installer.txt"' in pip
    # ...and every uv install is --no-deps: nothing but what the locks list.
    assert 'uv=("$venv/bin/uv" pip install --quiet --python "$venv/bin/python" --no-deps)' in (
        commands
    )
    assert '"${uv[@]}" --require-hashes -r "$GITHUB_ACTION_PATH/requirements/runtime.txt"' in (
        commands
    )
    # The package itself: from the Action's files, with the locked build backend.
    assert '"${uv[@]}" --no-build-isolation "$GITHUB_ACTION_PATH"' in commands
    for lock in ("runtime.txt", "installer.txt"):
        assert (REPO / "requirements" / lock).is_file()


def test_the_cache_is_keyed_on_both_locks() -> None:
    """A changed lock must not reuse another lock's downloads (they would be re-checked
    anyway, but a stale cache would only ever grow)."""
    script = _step("Find the locks and the installer's cache")["run"]
    assert "requirements/installer.txt" in script and "requirements/runtime.txt" in script
    key = _step("Restore the installer's cache")["with"]["key"]
    assert "${{ steps.lock.outputs.digest }}" in key and "${{ inputs.python-version }}" in key
    install = _step("Install the reconciler")
    assert install["env"]["CACHE"] == "${{ steps.lock.outputs.cache }}"


def test_prometheus_inputs_become_their_variables_in_the_reconcile_step_only() -> None:
    """The convention for Prometheus settings: input prometheus-<name> is the variable
    RECONCILER_PROMETHEUS_<NAME> of the Reconcile step, and of no other step."""
    prometheus = [name for name in INPUTS if name.startswith("prometheus-")]
    assert "prometheus-url" in prometheus
    env = _step("Reconcile")["env"]
    for name in prometheus:
        variable = "RECONCILER_" + name.upper().replace("-", "_")
        assert env.get(variable) == f"${{{{ inputs.{name} }}}}", name
        reached = [step["name"] for step in STEPS if f"inputs.{name}" in str(step)]
        assert reached == ["Reconcile"], name


def test_the_outputs_are_what_the_reconciler_writes() -> None:
    written = {line.split("=", 1)[0] for line in ActionOutputs.of([]).lines()}
    assert set(DOCUMENT["outputs"]) == written
    for name, spec in DOCUMENT["outputs"].items():
        assert spec["value"] == f"${{{{ steps.reconcile.outputs.{name} }}}}"
    assert _step("Reconcile")["id"] == "reconcile"
    assert '--outputs "$GITHUB_OUTPUT"' in _step("Reconcile")["run"]


def test_the_workflow_gives_only_inputs_the_action_has() -> None:
    steps = load(RECONCILE)["jobs"]["reconcile"]["steps"]
    (action,) = [step for step in steps if step.get("uses") == "./"]
    assert set(action["with"]) <= set(INPUTS)


# ------------------------------------------------------------------------------ the runner

SMALL_ACTION = """\
name: small
description: a composite action for the runner's own tests
inputs:
  who:
    description: who to greet
    default: ${{ github.actor }}
  loud:
    description: shout
    default: "false"
outputs:
  greeting:
    description: what was said
    value: ${{ steps.say.outputs.text }}
runs:
  using: composite
  steps:
    - name: Say it
      id: say
      shell: bash
      env:
        WHO: ${{ inputs.who }}
        LOUD: ${{ inputs.loud }}
      run: |
        text="hello $WHO from $(basename "$GITHUB_ACTION_PATH") ($FROM_CALLER)"
        if [ "$LOUD" = true ]; then text="${text^^}"; fi
        echo "text=$text" >> "$GITHUB_OUTPUT"
        echo "$GITHUB_ACTION_PATH/bin" >> "$GITHUB_PATH"
    - name: Fail if asked
      if: inputs.who == 'nobody'
      shell: bash
      run: exit 3
    - name: After a failure
      shell: bash
      run: echo never
"""

CALLER = """\
name: caller
on: push
jobs:
  job:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@0000000000000000000000000000000000000000
      - name: Greet
        id: greet
        uses: {uses}
        env:
          FROM_CALLER: set by the caller
        with:
{with_}
      - name: Afterwards
        if: always()
        shell: bash
        env:
          GREETING: ${{{{ steps.greet.outputs.greeting }}}}
        run: |
          echo "$GREETING"
          command -v small-tool
"""


def _run(tmp_path: Path, uses: str, with_: dict[str, str]) -> Any:
    home = tmp_path / "small-action"
    (home / "bin").mkdir(parents=True)
    (home / "action.yml").write_text(SMALL_ACTION)
    tool = home / "bin" / "small-tool"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    lines = (
        "".join(f"          {key}: {value}\n" for key, value in with_.items()) or "          {}\n"
    )
    workflow = tmp_path / "caller.yml"
    workflow.write_text(CALLER.format(uses=uses, with_=lines.rstrip("\n")))

    def checkout(step: StepContext) -> None:
        # The caller's repository holds the same action under .github/actions/small.
        (step.workspace / ".github" / "actions").mkdir(parents=True)
        (step.workspace / ".github" / "actions" / "small").symlink_to(home)

    runner = Runner(
        workflow=workflow,
        job="job",
        base=tmp_path / "runs",
        event_name="push",
        github={"actor": "alice"},
        uses={"actions/checkout": checkout},
        actions={"acme/small": home},
    )
    (run,) = runner.run()
    return run


@pytest.mark.parametrize("uses", ["acme/small@v1", "./.github/actions/small"])
def test_a_composite_action_gets_its_inputs_and_gives_its_outputs(
    tmp_path: Path, uses: str
) -> None:
    run = _run(tmp_path, uses, {"loud": "true"})
    assert run.ok, [s.output for s in run.all_steps()]
    assert run.actions[1] == uses
    greeting = run.step("Afterwards").output.splitlines()
    # `who` from its default (github.actor), `loud` given; the caller's step env is seen;
    # GITHUB_ACTION_PATH is where the action's files are.
    where = "SMALL-ACTION" if uses.startswith("acme/") else "SMALL"
    assert greeting[0] == f"HELLO ALICE FROM {where} (SET BY THE CALLER)"
    # GITHUB_PATH from inside the action reaches the job's later steps.
    assert greeting[1].endswith("/bin/small-tool")
    assert [s.name for s in run.step("Greet").steps] == [
        "Say it",
        "Fail if asked",
        "After a failure",
    ]
    assert run.annotations == []


def test_an_input_the_action_does_not_have_is_warned_about(tmp_path: Path) -> None:
    run = _run(tmp_path, "acme/small@v1", {"volume": "11"})
    assert run.annotations == [
        "::warning::Unexpected input(s) 'volume', valid inputs are ['who', 'loud']"
    ]


def test_a_failing_step_fails_the_action_and_skips_the_rest(tmp_path: Path) -> None:
    run = _run(tmp_path, "acme/small@v1", {"who": "nobody"})
    assert not run.ok
    greet = run.step("Greet")
    assert greet.exit_code == 3
    assert [(s.name, s.ran) for s in greet.steps] == [
        ("Say it", True),
        ("Fail if asked", True),
        ("After a failure", False),
    ]
    assert run.step("Afterwards").ran  # if: always()


def test_a_local_action_needs_the_checkout_first(tmp_path: Path) -> None:
    workflow = tmp_path / "w.yml"
    workflow.write_text(
        "on: push\njobs:\n  job:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: ./\n"
    )
    runner = Runner(workflow=workflow, job="job", base=tmp_path / "runs", event_name="push")
    with pytest.raises(AssertionError, match=re.escape("Can't find 'action.yml'")):
        runner.run()
