"""The workflow files, checked offline: schema, permissions, pinning, cron, expressions, shell.

These catch, before a push, the mistakes that otherwise show up only on GitHub: a typo in a
key (the schema), a job that can do more than it needs (permissions), an action that can
change under us (pinning), a schedule GitHub would refuse, an expression that uses a context
where it is not available, and shell bugs in `run:` steps (shellcheck).
"""

from __future__ import annotations

import re
import subprocess
import sys
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.actions import (
    CONTEXTS,
    Concurrency,
    ConcurrencyQueue,
    ExpressionError,
    Runner,
    condition,
    expressions_in,
    interpolate,
    parse_expression,
)
from tests.conftest import REPO, require_tool

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
RECONCILE = REPO / ".github" / "workflows" / "reconcile.yml"
ACTION = REPO / "action.yml"
BIN = Path(sys.executable).parent


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as true.
    document["on"] = document.pop(True, document.get("on"))
    return document  # type: ignore[no-any-return]


def test_the_workflows_exist() -> None:
    assert [p.name for p in WORKFLOWS] == ["ci.yml", "reconcile.yml"]


def _check_jsonschema(
    *paths: Path, schema: str = "vendor.github-workflows"
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", schema, *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_workflows_match_githubs_schema() -> None:
    result = _check_jsonschema(*WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_catches_a_mistake(tmp_path: Path) -> None:
    broken = tmp_path / "reconcile.yml"
    text = (REPO / ".github/workflows/reconcile.yml").read_text()
    broken.write_text(text.replace("contents: write", "contents: writeable"))
    result = _check_jsonschema(broken)
    assert result.returncode != 0 and "writeable" in result.stdout + result.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_nothing_is_granted_by_default(path: Path) -> None:
    assert load(path)["permissions"] == {}


def test_the_reconcile_job_gets_exactly_what_it_needs() -> None:
    jobs = load(RECONCILE)["jobs"]
    assert set(jobs) == {"reconcile", "no-cluster"}
    assert jobs["reconcile"]["permissions"] == {
        "contents": "write",
        "pull-requests": "write",
        "statuses": "write",
        "issues": "write",
    }
    # The job that only says why nothing ran needs nothing at all.
    assert jobs["no-cluster"]["permissions"] == {}


def test_the_check_jobs_only_read_except_for_the_comment() -> None:
    jobs = load(REPO / ".github/workflows/ci.yml")["jobs"]
    assert jobs["tests"]["permissions"] == {"contents": "read"}
    assert jobs["blueprints"]["permissions"] == {
        "contents": "read",
        "pull-requests": "write",
        "statuses": "write",
    }


def _steps(path: Path) -> list[dict[str, Any]]:
    return [step for job in load(path)["jobs"].values() for step in job["steps"]]


def _action_steps() -> list[dict[str, Any]]:
    return yaml.safe_load(ACTION.read_text())["runs"]["steps"]  # type: ignore[no-any-return]


def _installs(script: str) -> list[str]:
    """The `pip install` and `uv pip install` commands of a script, continuation lines joined,
    with the arrays they are built from expanded."""
    lines = [line.strip() for line in script.replace("\\\n", " ").splitlines()]
    arrays = dict(re.findall(r"^(\w+)=\((.*)\)$", "\n".join(lines), flags=re.MULTILINE))
    commands = []
    for line in lines:
        expanded = line
        for name, value in arrays.items():
            expanded = expanded.replace(f'"${{{name}[@]}}"', value)
        if re.search(r"\bpip\b.*\sinstall\s", f"{expanded} ") and not re.match(r"^\w+=\(", line):
            commands.append(expanded)
    return commands


@pytest.mark.parametrize("path", [*WORKFLOWS, ACTION], ids=lambda p: p.name)
def test_every_install_is_pinned_by_a_lock(path: Path) -> None:
    """No step resolves dependencies at run time: every install is either a hash-checked
    lock or a package built with --no-deps from files already checked out."""
    steps = _action_steps() if path == ACTION else _steps(path)
    installs = [c for step in steps for c in _installs(str(step.get("run", "")))]
    assert len(installs) == {"ci.yml": 2, "reconcile.yml": 0, "action.yml": 3}[path.name]
    for command in installs:
        assert "--no-deps" in command, command
        assert "--require-hashes -r" in command or "--no-build-isolation" in command, command


def test_the_install_check_sees_through_arrays() -> None:
    script = 'pip=(python -m pip install --quiet)\n"${pip[@]}" "$RUNNER_TEMP/base"\n'
    (command,) = _installs(script)
    assert command == 'python -m pip install --quiet "$RUNNER_TEMP/base"'
    assert "--no-deps" not in command  # what the check above refuses


@pytest.mark.parametrize("path", [*WORKFLOWS, ACTION], ids=lambda p: p.name)
def test_actions_are_pinned_to_a_commit(path: Path) -> None:
    steps = _action_steps() if path == ACTION else _steps(path)
    # This repository's own Action runs from the checkout itself (`uses: ./`).
    uses = [step["uses"] for step in steps if "uses" in step and step["uses"] != "./"]
    assert uses
    for reference in uses:
        # owner/repo@sha, or owner/repo/path@sha for an action in a subfolder (actions/cache/save).
        assert re.fullmatch(r"[\w.-]+/[\w.-]+(/[\w.-]+)*@[0-9a-f]{40}", reference), reference
    # ...with the version beside it, for people and for update bots.
    for line in path.read_text().splitlines():
        if re.match(r"\s*(- )?uses: ", line) and not line.rstrip().endswith("uses: ./"):
            assert re.search(r"@[0-9a-f]{40} # v\d+\.\d+\.\d+$", line), line


def test_the_triggers() -> None:
    triggers = load(REPO / ".github/workflows/reconcile.yml")["on"]
    assert triggers["schedule"] == [{"cron": "*/5 * * * *"}]
    assert set(triggers["workflow_dispatch"]["inputs"]) == {
        "dry_run",
        "service",
        "operation",
        "replicas",
        "reason",
    }
    assert triggers["workflow_dispatch"]["inputs"]["dry_run"]["type"] == "boolean"
    assert triggers["push"] == {"branches": ["main"], "paths": ["blueprints/**", "requests/**"]}
    assert triggers["repository_dispatch"] == {"types": ["reconcile"]}
    # The checks run in a merge queue too: its commit needs them to pass before it lands.
    for checks in (REPO / ".github/workflows/ci.yml", REPO / "reconciler/data/init/pr-checks.yml"):
        assert "merge_group" in load(checks)["on"]


def test_the_jobs_own_pushes_start_no_workflow() -> None:
    """Acting as a GitHub App, the job's pushes would start workflows (GITHUB_TOKEN's do not).
    They only add records under audit/, which neither workflow's push trigger takes."""
    record = "audit/todo-frontend/2026-11-27/100500-operation_executed-abc.yaml"
    paths = load(RECONCILE)["on"]["push"]["paths"]
    assert not any(fnmatch(record, pattern) for pattern in paths)
    assert any(fnmatch("blueprints/todo-frontend/blueprint.yaml", pattern) for pattern in paths)
    assert load(REPO / ".github/workflows/ci.yml")["on"]["push"]["paths-ignore"] == ["audit/**"]


# ------------------------------------------------------------------------------ concurrency

NO_REQUEST = {"dry_run": False, "service": "", "operation": "", "replicas": "", "reason": ""}
A_REQUEST = NO_REQUEST | {"service": "todo-frontend", "operation": "scale", "replicas": "4"}

#: Every way a reconcile run starts: the event and the inputs it carries.
TRIGGERS: dict[str, tuple[str, dict[str, Any]]] = {
    "schedule": ("schedule", {}),
    "push": ("push", {}),
    "repository_dispatch": ("repository_dispatch", {}),
    "dispatched cycle": ("workflow_dispatch", NO_REQUEST),
    "dry run": ("workflow_dispatch", NO_REQUEST | {"dry_run": True}),
    "request": ("workflow_dispatch", A_REQUEST),
}


def _concurrency(trigger: str, run_id: int, workflow: Path = RECONCILE) -> Concurrency:
    """The group GitHub puts run `run_id` of this trigger in, evaluated by the test runner."""
    event, inputs = TRIGGERS[trigger]
    runner = Runner(
        workflow=workflow,
        job="reconcile",
        base=Path("unused"),
        event_name=event,
        inputs=inputs,
        github={"run_id": str(run_id)},
    )
    concurrency = runner.concurrency()
    assert concurrency is not None
    return concurrency


@pytest.mark.parametrize(
    ("trigger", "group"),
    [
        ("schedule", "reconcile-refs/heads/main"),
        ("push", "reconcile-refs/heads/main"),
        ("repository_dispatch", "reconcile-refs/heads/main"),
        ("dispatched cycle", "reconcile-refs/heads/main"),
        ("dry run", "reconcile-refs/heads/main-run-{}"),
        ("request", "reconcile-refs/heads/main-run-{}"),
    ],
)
def test_the_concurrency_group_of_each_trigger(trigger: str, group: str) -> None:
    """Cycles share one group (one at a time); a run carrying a request or a dry run has one of
    its own; nothing in progress is ever cut off."""
    first, second = _concurrency(trigger, 101), _concurrency(trigger, 102)
    assert first == Concurrency(group=group.format(101), cancel_in_progress=False)
    assert second == Concurrency(group=group.format(102), cancel_in_progress=False)


#: Runs queued one after another while the first is still going, then everything finishes.
QUEUED = [
    ("cron 1", "schedule"),
    ("request 1", "request"),
    ("cron 2", "schedule"),
    ("push 1", "push"),
    ("dry run 1", "dry run"),
    ("alert 1", "repository_dispatch"),
    ("request 2", "request"),
]


def _queue(workflow: Path) -> ConcurrencyQueue:
    queue = ConcurrencyQueue()
    for run_id, (run, trigger) in enumerate(QUEUED, start=1):
        queue.queue(run, _concurrency(trigger, run_id, workflow))
    while queue.running:
        queue.finish(next(iter(queue.running.values())))
    return queue


def test_a_queued_request_is_never_cancelled_by_a_later_run() -> None:
    queue = _queue(RECONCILE)
    # Only waiting cycles were replaced, each by a later cycle that did the same work.
    assert queue.cancelled == ["cron 2", "push 1"]
    assert queue.started == ["cron 1", "request 1", "dry run 1", "request 2", "alert 1"]


def test_the_queue_check_catches_one_group_for_every_run(tmp_path: Path) -> None:
    """With one group for every run, as before, the later cron run cancels the request."""
    document = load(RECONCILE)
    document["concurrency"]["group"] = "reconcile-${{ github.ref }}"
    single = tmp_path / "reconcile.yml"
    single.write_text(yaml.safe_dump(document, sort_keys=False))
    assert "request 1" in _queue(single).cancelled


# ------------------------------------------------------------------------------ the App token

APP_STEP = "Act as the reconciler's GitHub App"


def _token_contexts(vars_: dict[str, str]) -> dict[str, Any]:
    return {
        "github": {"event_name": "schedule", "ref": "refs/heads/main"},
        "vars": vars_,
        "secrets": {"GITHUB_TOKEN": "ghs_job_token", "RECONCILER_APP_PRIVATE_KEY": "PEM"},
        "inputs": {},
        "env": {},
        "steps": {},
    }


@pytest.mark.parametrize(
    ("vars_", "token"),
    [({}, "ghs_job_token"), ({"RECONCILER_APP_ID": "Iv23liExample"}, "ghs_app_token")],
    ids=["without the variable", "with RECONCILER_APP_ID"],
)
def test_the_app_token_is_made_and_used_only_with_the_variable(
    vars_: dict[str, str], token: str
) -> None:
    steps = load(RECONCILE)["jobs"]["reconcile"]["steps"]
    (app,) = [step for step in steps if step.get("name") == APP_STEP]
    assert app["uses"].startswith("actions/create-github-app-token@")
    assert steps[0] is app  # before the checkout, which needs its token
    contexts = _token_contexts(vars_)
    minted = condition(app["if"], contexts, "success")
    assert minted is bool(vars_)
    if minted:
        with_ = {key: interpolate(value, contexts) for key, value in app["with"].items()}
        assert with_ == {"client-id": "Iv23liExample", "private-key": "PEM"}
    # What `steps.app-token` holds once the step ran, or was skipped.
    outputs = {"token": "ghs_app_token"} if minted else {}
    outcome = "success" if minted else "skipped"
    contexts["steps"] = {app["id"]: {"outputs": outputs, "outcome": outcome}}
    (checkout,) = [s for s in steps if str(s.get("uses", "")).startswith("actions/checkout@")]
    # The checkout only reads and keeps no credentials; the Action gets the token.
    assert "token" not in checkout["with"] and checkout["with"]["persist-credentials"] is False
    (action,) = [step for step in steps if step.get("uses") == "./"]
    assert interpolate(action["with"]["github-token"], contexts) == token
    assert not [step for step in steps if "GITHUB_TOKEN" in (step.get("env") or {})]


def test_the_kubeconfig_secret_is_never_in_a_command_line() -> None:
    steps = _steps(REPO / ".github/workflows/reconcile.yml")
    (action,) = [step for step in steps if step.get("uses") == "./"]
    assert action["with"]["kubeconfig"] == "${{ secrets.KUBECONFIG }}"
    inside = _action_steps()
    (connect,) = [s for s in inside if s.get("name") == "Connect to the cluster"]
    assert connect["env"] == {"KUBECONFIG_DATA": "${{ inputs.kubeconfig }}"}
    assert "umask 077" in connect["run"]
    # The input reaches that step alone.
    assert [s["name"] for s in inside if "inputs.kubeconfig" in str(s)] == [connect["name"]]
    for step in [*steps, *inside]:
        assert "secrets." not in step.get("run", ""), step["name"]
        assert 'echo "$KUBECONFIG_DATA' not in step.get("run", "")
    # Inputs reach scripts only through the environment, never pasted into the script.
    for path in WORKFLOWS:
        for step in _steps(path):
            assert "${{" not in step.get("run", ""), (path.name, step.get("name"))
    for step in inside:
        assert "${{" not in step.get("run", ""), ("action.yml", step.get("name"))


# ------------------------------------------------------------------------------ cron

_RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 6)]


def cron_minutes(expression: str) -> list[int]:
    """The minutes of the hour a five-field cron expression fires at; raises on bad syntax."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"{expression!r}: a schedule has five fields")
    minutes: list[int] = []
    for index, text in enumerate(fields):
        low, high = _RANGES[index]
        values: set[int] = set()
        for part in text.split(","):
            match = re.fullmatch(r"(\*|\d+(?:-\d+)?)(?:/(\d+))?", part)
            if not match:
                raise ValueError(f"{expression!r}: cannot read {part!r}")
            span, step = match.group(1), int(match.group(2) or 1)
            if span == "*":
                start, end = low, high
            else:
                start, _, end_text = span.partition("-")
                start, end = int(start), int(end_text or start)
            if not (low <= start <= end <= high) or step < 1:
                raise ValueError(f"{expression!r}: {part!r} is outside {low}-{high}")
            values |= set(range(start, end + 1, step))
        if index == 0:
            minutes = sorted(values)
    return minutes


@pytest.mark.parametrize(
    ("expression", "minutes"),
    [("*/5 * * * *", list(range(0, 60, 5))), ("0,30 * * * 1-5", [0, 30]), ("7 3 * * *", [7])],
)
def test_cron_reader(expression: str, minutes: list[int]) -> None:
    assert cron_minutes(expression) == minutes


@pytest.mark.parametrize("expression", ["*/5 * * *", "61 * * * *", "*/0 * * * *", "x * * * *"])
def test_cron_reader_refuses_bad_schedules(expression: str) -> None:
    with pytest.raises(ValueError):
        cron_minutes(expression)


def test_schedules_are_valid_and_no_more_often_than_github_allows() -> None:
    for path in WORKFLOWS:
        for entry in load(path)["on"].get("schedule", []):
            minutes = cron_minutes(entry["cron"])
            gaps = [b - a for a, b in zip(minutes, [*minutes[1:], minutes[0] + 60], strict=True)]
            assert min(gaps) >= 5, entry  # GitHub runs schedules at most every 5 minutes


# ------------------------------------------------------------------------------ expressions

#: Which contexts GitHub makes available where (docs: "Context availability").
AVAILABLE = {
    "concurrency": {"github", "inputs", "vars"},
    "job.if": {"github", "needs", "vars", "inputs"},
    "job.name": {"github", "needs", "strategy", "matrix", "vars", "inputs"},
    "job.strategy": {"github", "needs", "vars", "inputs"},
    "job.env": {"github", "needs", "strategy", "matrix", "vars", "secrets", "inputs"},
    "step.if": {
        "github",
        "needs",
        "strategy",
        "matrix",
        "job",
        "runner",
        "env",
        "vars",
        "steps",
        "inputs",
    },
    "step.env": CONTEXTS,
    "step.with": CONTEXTS,
    "step.run": CONTEXTS,
}


def _expressions(document: dict[str, Any]) -> list[tuple[str, str]]:
    """(place, expression) for every expression in a workflow."""
    found: list[tuple[str, str]] = []

    def add(place: str, value: Any, bare: bool = False) -> None:
        text = str(value)
        if bare and "${{" not in text:
            found.append((place, text))
        found.extend((place, expression) for expression in expressions_in(text))

    add("concurrency", document.get("concurrency", {}).get("group", ""))
    for job in document["jobs"].values():
        add("job.if", job.get("if", ""), bare="if" in job)
        add("job.name", job.get("name", ""))
        for value in _leaves(job.get("strategy", {})):
            add("job.strategy", value)
        for value in (job.get("env") or {}).values():
            add("job.env", value)
        for step in job["steps"]:
            if "if" in step:
                add("step.if", step["if"], bare=True)
            for value in (step.get("env") or {}).values():
                add("step.env", value)
            for value in (step.get("with") or {}).values():
                add("step.with", value)
            add("step.run", step.get("run", ""))
    return found


def _leaves(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [str(value)]


def _contexts(tree: Any) -> set[str]:
    if isinstance(tree, tuple):
        if tree and tree[0] == "context":
            return {tree[1]}
        return set().union(*(_contexts(part) for part in tree)) if tree else set()
    if isinstance(tree, list):
        return set().union(*(_contexts(part) for part in tree)) if tree else set()
    return set()


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_expression_parses_and_uses_contexts_where_they_exist(path: Path) -> None:
    expressions = _expressions(load(path))
    assert expressions
    for place, expression in expressions:
        tree = parse_expression(expression)
        unavailable = _contexts(tree) - AVAILABLE[place]
        assert not unavailable, f"{path.name}: {place}: {expression!r} uses {unavailable}"


def test_the_expression_check_catches_mistakes() -> None:
    with pytest.raises(ExpressionError):
        parse_expression("github.event_name == ")
    with pytest.raises(ExpressionError, match="unknown context"):
        parse_expression("gihtub.ref == 'refs/heads/main'")
    with pytest.raises(ExpressionError, match="unknown function"):
        parse_expression("toUpper(github.ref)")
    assert _contexts(parse_expression("runner.temp")) - AVAILABLE["job.env"] == {"runner"}


# ------------------------------------------------------------------------------ shell


def _shellcheck() -> str:
    return require_tool("shellcheck", "apt-get install shellcheck")


@pytest.mark.parametrize("path", [*WORKFLOWS, ACTION], ids=lambda p: p.name)
def test_run_steps_pass_shellcheck(path: Path, tmp_path: Path) -> None:
    shellcheck = _shellcheck()
    for number, step in enumerate(_action_steps() if path == ACTION else _steps(path)):
        if "run" not in step:
            continue
        script = tmp_path / f"step-{number}.sh"
        script.write_text("#!/bin/bash\nset -e\n" + step["run"])
        result = subprocess.run(
            [shellcheck, "--severity=style", str(script)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, f"{path.name}: {step.get('name')}:\n{result.stdout}"


def test_shellcheck_is_not_a_check_that_cannot_fail(tmp_path: Path) -> None:
    shellcheck = _shellcheck()
    script = tmp_path / "bad.sh"
    script.write_text("#!/bin/bash\nreconciler run $ARGS\nif [ $X = 1 ]; then echo; fi\n")
    result = subprocess.run([shellcheck, str(script)], capture_output=True, text=True, check=False)
    assert result.returncode != 0 and "SC2086" in result.stdout


# ------------------------------------------------------------------------------ dependabot


def test_dependabot_watches_the_pinned_actions_and_the_lock() -> None:
    path = REPO / ".github" / "dependabot.yml"
    result = _check_jsonschema(path, schema="vendor.dependabot")
    assert result.returncode == 0, result.stdout + result.stderr
    updates = {u["package-ecosystem"]: u for u in yaml.safe_load(path.read_text())["updates"]}
    assert set(updates) == {"github-actions", "pip"}
    # "/" covers .github/workflows and action.yml at the top, where the Action pins its own.
    assert updates["github-actions"]["directory"] == "/"
    lock = REPO / updates["pip"]["directory"].lstrip("/") / "runtime.txt"
    assert lock.is_file() and "--hash=sha256:" in lock.read_text()
