"""A small GitHub Actions runner for tests: runs a workflow job's steps on this machine.

It does what the hosted runner does for the parts our workflows use, so a test can run the
real `.github/workflows/*.yml` rather than a copy of its commands:

- `${{ }}` expressions, with GitHub's semantics for `||`, `&&`, `!`, `==` (strings compare
  without case), property access, `fromJSON`, `format`, `contains`, `startsWith`, and the
  status functions; the same parser checks every expression in the workflow files offline;
- job and step `if:`, the matrix (each combination in its own workspace, run at the same
  time, as hosted runners do), job and step `env`;
- `run:` steps with `bash -e`, the `GITHUB_*` and `RUNNER_*` variables, `GITHUB_ENV`,
  `GITHUB_OUTPUT`, `GITHUB_PATH` and `GITHUB_STEP_SUMMARY` files, workflow commands
  (`::error ...`) collected from the output as annotations, and `::add-mask::`;
- `uses:` steps through handlers the test supplies (checkout becomes a clone of the served
  repository), and step `id`s: `steps.<id>.outputs` from a handler or from `GITHUB_OUTPUT`,
  `steps.<id>.outcome`;
- composite actions (`runs.using: composite`), from the workspace (`uses: ./`) or from a
  directory the test names for `owner/repo@ref`: `inputs` with their defaults (and GitHub's
  warning for an input the action does not declare), `${{ inputs.x }}`, `github.action_path`
  and `GITHUB_ACTION_PATH`, the step's `env` seen by the action's steps, the action's own
  `steps` context, and its `outputs` mapped from its steps' outputs;
- the workflow's `concurrency:` group for an event, and GitHub's rule for the runs that share
  one (`ConcurrencyQueue`): what a test cannot watch on GitHub, which queued run is cancelled.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "Concurrency",
    "ConcurrencyQueue",
    "ExpressionError",
    "JobRun",
    "Runner",
    "StepRun",
    "condition",
    "evaluate",
    "expressions_in",
    "interpolate",
    "parse_expression",
]


class ExpressionError(ValueError):
    pass


# ------------------------------------------------------------------------------ expressions

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>-?\d+(?:\.\d+)?)
      | '(?P<string>(?:[^']|'')*)'
      | (?P<op>\|\||&&|==|!=|<=|>=|[!<>()\[\],.*])
      | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)
    )""",
    re.VERBOSE,
)

_FUNCTIONS = {
    "fromjson",
    "tojson",
    "format",
    "contains",
    "startswith",
    "endswith",
    "join",
    "success",
    "failure",
    "always",
    "cancelled",
    "hashfiles",
}
CONTEXTS = {
    "github",
    "env",
    "vars",
    "secrets",
    "inputs",
    "matrix",
    "strategy",
    "runner",
    "job",
    "steps",
    "needs",
}


def _tokens(text: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if not match:
            raise ExpressionError(f"cannot read {text[position:]!r} in {text!r}")
        position = match.end()
        if match.group("number") is not None:
            tokens.append(("literal", float(match.group("number"))))
        elif match.group("string") is not None:
            tokens.append(("literal", match.group("string").replace("''", "'")))
        elif match.group("op") is not None:
            tokens.append(("op", match.group("op")))
        else:
            name = match.group("name")
            literal = {"true": True, "false": False, "null": None}
            tokens.append(("literal", literal[name]) if name in literal else ("name", name))
    return tokens


class _Parser:
    """Recursive descent over the tokens, building nested tuples (the syntax tree)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.index = 0

    def peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self, op: str | None = None) -> tuple[str, Any]:
        token = self.peek()
        if token is None or (op is not None and token != ("op", op)):
            raise ExpressionError(f"expected {op or 'more'} in {self.text!r}")
        self.index += 1
        return token

    def parse(self) -> Any:
        tree = self.disjunction()
        if self.peek() is not None:
            raise ExpressionError(f"unexpected {self.peek()[1]!r} in {self.text!r}")  # type: ignore[index]
        return tree

    def disjunction(self) -> Any:
        tree = self.conjunction()
        while self.peek() == ("op", "||"):
            self.take()
            tree = ("or", tree, self.conjunction())
        return tree

    def conjunction(self) -> Any:
        tree = self.comparison()
        while self.peek() == ("op", "&&"):
            self.take()
            tree = ("and", tree, self.comparison())
        return tree

    def comparison(self) -> Any:
        tree = self.unary()
        token = self.peek()
        if (
            token is not None
            and token[0] == "op"
            and token[1] in {"==", "!=", "<", ">", "<=", ">="}
        ):
            self.take()
            tree = ("compare", token[1], tree, self.unary())
        return tree

    def unary(self) -> Any:
        if self.peek() == ("op", "!"):
            self.take()
            return ("not", self.unary())
        return self.postfix(self.primary())

    def primary(self) -> Any:
        kind, value = self.take()
        if kind == "literal":
            return ("literal", value)
        if (kind, value) == ("op", "("):
            tree = self.disjunction()
            self.take(")")
            return tree
        if kind == "name":
            if self.peek() == ("op", "("):
                if value.lower() not in _FUNCTIONS:
                    raise ExpressionError(f"unknown function {value}() in {self.text!r}")
                self.take()
                args = []
                while self.peek() != ("op", ")"):
                    args.append(self.disjunction())
                    if self.peek() == ("op", ","):
                        self.take()
                self.take(")")
                return ("call", value.lower(), args)
            if value not in CONTEXTS:
                raise ExpressionError(f"unknown context {value!r} in {self.text!r}")
            return ("context", value)
        raise ExpressionError(f"unexpected {value!r} in {self.text!r}")

    def postfix(self, tree: Any) -> Any:
        while True:
            if self.peek() == ("op", "."):
                self.take()
                kind, name = self.take()
                if kind != "name":
                    raise ExpressionError(f"expected a property name in {self.text!r}")
                tree = ("property", tree, ("literal", name))
            elif self.peek() == ("op", "["):
                self.take()
                key = self.disjunction()
                self.take("]")
                tree = ("property", tree, key)
            else:
                return tree


def parse_expression(text: str) -> Any:
    return _Parser(text).parse()


def _truthy(value: Any) -> bool:
    return value not in (None, False, 0, 0.0, "")


def _number(value: Any) -> float:
    if value is None or value is False:
        return 0.0
    if value is True:
        return 1.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip() or 0)
        except ValueError:
            return float("nan")
    return float("nan")


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        return left.casefold() == right.casefold()
    if type(left) is type(right) or (
        isinstance(left, dict | list) or isinstance(right, dict | list)
    ):
        return bool(left == right)
    return _number(left) == _number(right)


def to_text(value: Any) -> str:
    """How a value appears when interpolated into a string."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _evaluate(tree: Any, contexts: Mapping[str, Any], status: str) -> Any:
    kind = tree[0]
    if kind == "literal":
        return tree[1]
    if kind == "context":
        return contexts.get(tree[1], {})
    if kind == "property":
        base = _evaluate(tree[1], contexts, status)
        key = _evaluate(tree[2], contexts, status)
        if isinstance(base, Mapping):
            if isinstance(key, str):
                found = {k.casefold(): v for k, v in base.items()}
                return found.get(key.casefold())
            return None
        if isinstance(base, list) and isinstance(key, int | float) and 0 <= key < len(base):
            return base[int(key)]
        return None
    if kind == "not":
        return not _truthy(_evaluate(tree[1], contexts, status))
    if kind == "or":
        left = _evaluate(tree[1], contexts, status)
        return left if _truthy(left) else _evaluate(tree[2], contexts, status)
    if kind == "and":
        left = _evaluate(tree[1], contexts, status)
        return _evaluate(tree[2], contexts, status) if _truthy(left) else left
    if kind == "compare":
        left = _evaluate(tree[2], contexts, status)
        right = _evaluate(tree[3], contexts, status)
        match tree[1]:
            case "==":
                return _equal(left, right)
            case "!=":
                return not _equal(left, right)
            case "<":
                return _number(left) < _number(right)
            case ">":
                return _number(left) > _number(right)
            case "<=":
                return _number(left) <= _number(right)
            case _:
                return _number(left) >= _number(right)
    if kind == "call":
        args = [_evaluate(arg, contexts, status) for arg in tree[2]]
        return _call(tree[1], args, status)
    raise ExpressionError(f"cannot evaluate {tree!r}")


def _call(name: str, args: Sequence[Any], status: str) -> Any:
    match name:
        case "fromjson":
            return json.loads(to_text(args[0]))
        case "tojson":
            return json.dumps(args[0], indent=2)
        case "format":
            text = to_text(args[0])
            for index, value in enumerate(args[1:]):
                text = text.replace("{" + str(index) + "}", to_text(value))
            return text
        case "contains":
            haystack, needle = args
            if isinstance(haystack, list):
                return any(_equal(item, needle) for item in haystack)
            return to_text(needle).casefold() in to_text(haystack).casefold()
        case "startswith":
            return to_text(args[0]).casefold().startswith(to_text(args[1]).casefold())
        case "endswith":
            return to_text(args[0]).casefold().endswith(to_text(args[1]).casefold())
        case "join":
            separator = to_text(args[1]) if len(args) > 1 else ","
            return separator.join(to_text(item) for item in args[0] or [])
        case "success":
            return status == "success"
        case "failure":
            return status == "failure"
        case "always":
            return True
        case "cancelled":
            return False
    raise ExpressionError(f"{name}() is not supported by the test runner")


def evaluate(text: str, contexts: Mapping[str, Any], status: str = "success") -> Any:
    return _evaluate(parse_expression(text), contexts, status)


_INTERPOLATION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)


def expressions_in(text: str) -> list[str]:
    return [match.group(1).strip() for match in _INTERPOLATION.finditer(text)]


def interpolate(text: str, contexts: Mapping[str, Any]) -> Any:
    """A value with `${{ }}` in it: a lone expression keeps its type (a matrix list, say)."""
    whole = _INTERPOLATION.fullmatch(text.strip())
    if whole:
        return evaluate(whole.group(1).strip(), contexts)
    return _INTERPOLATION.sub(lambda m: to_text(evaluate(m.group(1).strip(), contexts)), text)


def condition(text: Any, contexts: Mapping[str, Any], status: str) -> bool:
    """A job's or step's `if:`. Without a status function it also needs success, as on Actions."""
    if text is None:
        return status == "success"
    source = str(text).strip()
    whole = _INTERPOLATION.fullmatch(source)
    if whole:
        source = whole.group(1).strip()
    tree = parse_expression(source)
    uses_status = re.search(r"\b(success|failure|always|cancelled)\s*\(", source)
    if not uses_status and status != "success":
        return False
    return _truthy(_evaluate(tree, contexts, status))


# ------------------------------------------------------------------------------ running jobs

Handler = Callable[["StepContext"], None]


@dataclass
class StepContext:
    """What a `uses:` handler gets: the step's inputs and the job's directories. It may fill
    `outputs`, which later steps read as `steps.<id>.outputs`."""

    with_: dict[str, Any]
    workspace: Path
    env: dict[str, str]
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass
class StepRun:
    name: str
    ran: bool
    exit_code: int = 0
    output: str = ""
    #: The environment the step ran with (or would have, when the test skipped it).
    env: dict[str, str] = field(default_factory=dict)
    #: A composite action's own steps.
    steps: list[StepRun] = field(default_factory=list)

    def walk(self) -> Iterator[StepRun]:
        yield self
        for step in self.steps:
            yield from step.walk()


@dataclass
class JobRun:
    matrix: dict[str, Any]
    workspace: Path
    summary: str
    steps: list[StepRun] = field(default_factory=list)
    annotations: list[str] = field(default_factory=list)
    skipped: bool = False
    #: The `uses:` references the job ran, composite actions' own included, in order.
    actions: list[str] = field(default_factory=list)
    #: `steps.<id>.outputs` of the job's steps, as a later step would read them.
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.skipped and all(step.exit_code == 0 for step in self.steps)

    def all_steps(self) -> list[StepRun]:
        """Every step, a composite action's own steps right after the step that used it."""
        return [inner for step in self.steps for inner in step.walk()]

    def step(self, name: str) -> StepRun:
        return next(step for step in self.all_steps() if step.name == name)


@dataclass
class _Job:
    """What the steps of one job share: its directories, files and exported variables."""

    home: Path
    workspace: Path
    temp: Path
    files: dict[str, Path]
    event_path: Path
    github: dict[str, Any]
    job_env: dict[str, str]
    run: JobRun
    exported: dict[str, str] = field(default_factory=dict)
    #: GITHUB_PATH entries, newest first, as Actions prepends them to PATH.
    path: list[str] = field(default_factory=list)
    #: Values hidden from the log by `::add-mask::`.
    masks: list[str] = field(default_factory=list)


@dataclass
class Runner:
    """Runs one job of a workflow file for an event, with the test's contexts and handlers."""

    workflow: Path
    job: str
    base: Path
    event_name: str
    event: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    vars: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    github: dict[str, Any] = field(default_factory=dict)
    uses: dict[str, Handler] = field(default_factory=dict)
    #: Composite actions by `owner/repo`: the directory GitHub would download the reference
    #: to (`uses: owner/repo@ref` runs that directory's action.yml). `uses: ./path` needs no
    #: entry: it is the action in the job's workspace, as on GitHub.
    actions: dict[str, Path] = field(default_factory=dict)
    #: Extra environment for every step (PATH to the tools, the fake API's URL).
    env: dict[str, str] = field(default_factory=dict)
    #: Steps not to run, by name (installing the package the tests already run from).
    skip: set[str] = field(default_factory=set)
    #: Called with (job index, workspace, runner temp) before a job's first step, as a
    #: restored cache would be.
    prepare: Callable[[int, Path, Path], None] | None = None

    def document(self) -> dict[str, Any]:
        return yaml.safe_load(self.workflow.read_text())  # type: ignore[no-any-return]

    def contexts(self) -> dict[str, Any]:
        """The contexts known before any job starts (a workflow's `concurrency`, a job's `if`)."""
        return {
            "github": self._github(),
            "vars": self.vars,
            "inputs": self.inputs,
            "secrets": self.secrets | {"GITHUB_TOKEN": self.secrets.get("GITHUB_TOKEN", "")},
        }

    def concurrency(self) -> Concurrency | None:
        """The workflow's concurrency group for this event, as GitHub evaluates it at queueing."""
        setting = self.document().get("concurrency")
        if setting is None:
            return None
        if isinstance(setting, str):
            setting = {"group": setting}
        contexts = self.contexts()
        cancel = setting.get("cancel-in-progress", False)
        if isinstance(cancel, str):
            cancel = _truthy(interpolate(cancel, contexts))
        return Concurrency(
            group=to_text(interpolate(str(setting["group"]), contexts)),
            cancel_in_progress=bool(cancel),
        )

    def _github(self) -> dict[str, Any]:
        defaults = {
            "event_name": self.event_name,
            "event": self.event,
            "ref": "refs/heads/main",
            "ref_name": "main",
            "repository": "acme/service-blueprints",
            "repository_owner": "acme",
            "actor": "octo-operator",
            "sha": "0" * 40,
            "run_id": "4242",
            "run_attempt": "1",
            "server_url": "https://github.com",
            "api_url": "https://api.github.com",
            "workflow": self.document().get("name", ""),
        }
        defaults["token"] = self.secrets.get("GITHUB_TOKEN", "")
        return defaults | self.github

    def run(self) -> list[JobRun]:
        document = self.document()
        job = document["jobs"][self.job]
        base_contexts = self.contexts()
        github = base_contexts["github"]
        if not condition(job.get("if"), base_contexts, "success"):
            return [JobRun(matrix={}, workspace=self.base, summary="", skipped=True)]
        matrix = (job.get("strategy") or {}).get("matrix") or {}
        combinations = self._combinations(matrix, base_contexts)
        results: list[JobRun | None] = [None] * len(combinations)
        errors: list[BaseException] = []

        def run_one(index: int) -> None:
            try:
                results[index] = self._run_job(job, github, base_contexts, combinations, index)
            except BaseException as error:  # the test's failure, raised in the test's thread
                errors.append(error)

        threads = [threading.Thread(target=run_one, args=(i,)) for i in range(len(combinations))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=600)
        if errors:
            raise errors[0]
        return [result for result in results if result is not None]

    def _combinations(self, matrix: Any, contexts: Mapping[str, Any]) -> list[dict[str, Any]]:
        if isinstance(matrix, str):
            matrix = interpolate(matrix, contexts)
        if not matrix:
            return [{}]
        combos: list[dict[str, Any]] = [{}]
        for key, raw in matrix.items():
            values = interpolate(raw, contexts) if isinstance(raw, str) else raw
            combos = [combo | {key: value} for combo in combos for value in values]
        return combos

    def _run_job(
        self,
        job: Mapping[str, Any],
        github: dict[str, Any],
        base_contexts: Mapping[str, Any],
        combinations: Sequence[dict[str, Any]],
        index: int,
    ) -> JobRun:
        combo = combinations[index]
        home = self.base / f"job-{index}"
        workspace, temp = home / "workspace", home / "temp"
        for directory in (workspace, temp, home / "home"):
            directory.mkdir(parents=True, exist_ok=True)
        event_path = home / "event.json"
        event_path.write_text(json.dumps(self.event))
        files = {name: home / f"{name}.txt" for name in ("env", "output", "summary", "path")}
        for path in files.values():
            path.write_text("")
        contexts: dict[str, Any] = dict(base_contexts) | {
            "matrix": combo,
            "strategy": {"job-index": index, "job-total": len(combinations)},
            "runner": {"temp": str(temp), "os": "Linux"},
            "github": github | {"workspace": str(workspace)},
            "job": {"status": "success"},
            "steps": {},
        }
        job_env = {
            k: to_text(interpolate(_scalar(v), contexts)) for k, v in (job.get("env") or {}).items()
        }
        run = JobRun(matrix=combo, workspace=workspace, summary="")
        state = _Job(
            home=home,
            workspace=workspace,
            temp=temp,
            files=files,
            event_path=event_path,
            github=contexts["github"],
            job_env=job_env,
            run=run,
        )
        if self.prepare is not None:
            self.prepare(index, workspace, temp)
        run.steps, _status = self._run_steps(job["steps"], contexts, state, scope_env={})
        run.summary = files["summary"].read_text()
        run.outputs = {key: step["outputs"] for key, step in contexts["steps"].items()}
        return run

    def _environment(self, state: _Job, scope_env: Mapping[str, str]) -> dict[str, str]:
        """What every step's process starts from, before its own `env:`."""
        github = state.github
        base = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(state.home / "home"),
            "LANG": "C.UTF-8",
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(state.workspace),
            "GITHUB_EVENT_NAME": self.event_name,
            "GITHUB_EVENT_PATH": str(state.event_path),
            "GITHUB_REPOSITORY": github["repository"],
            "GITHUB_REPOSITORY_OWNER": github["repository_owner"],
            "GITHUB_REF": github["ref"],
            "GITHUB_REF_NAME": github["ref_name"],
            "GITHUB_SHA": github["sha"],
            "GITHUB_ACTOR": github["actor"],
            "GITHUB_RUN_ID": str(github["run_id"]),
            "GITHUB_SERVER_URL": github["server_url"],
            "GITHUB_API_URL": github["api_url"],
            "GITHUB_ENV": str(state.files["env"]),
            "GITHUB_OUTPUT": str(state.files["output"]),
            "GITHUB_STEP_SUMMARY": str(state.files["summary"]),
            "GITHUB_PATH": str(state.files["path"]),
            "RUNNER_TEMP": str(state.temp),
            "RUNNER_OS": "Linux",
        } | self.env
        if state.path:
            base["PATH"] = ":".join([*state.path, base["PATH"]])
        return base | state.job_env | state.exported | dict(scope_env)

    def _run_steps(
        self,
        steps: Sequence[Mapping[str, Any]],
        contexts: dict[str, Any],
        state: _Job,
        *,
        scope_env: Mapping[str, str],
        composite: bool = False,
    ) -> tuple[list[StepRun], str]:
        """Run a job's steps, or a composite action's (`scope_env`: the env of the step that
        used the action, which its steps see too). Returns the runs and the final status."""
        status = "success"
        runs: list[StepRun] = []
        for number, step in enumerate(steps):
            name = step.get("name") or step.get("uses") or f"step {number}"
            contexts["env"] = state.job_env | state.exported | dict(scope_env)
            step_id = step.get("id")
            if not condition(step.get("if"), contexts, status):
                runs.append(StepRun(name=name, ran=False))
                if step_id:
                    contexts["steps"][step_id] = _step_result("skipped")
                continue
            step_env = {
                k: to_text(interpolate(_scalar(v), contexts))
                for k, v in (step.get("env") or {}).items()
            }
            env = self._environment(state, scope_env) | step_env
            if name in self.skip:
                runs.append(StepRun(name=name, ran=False, env=env))
                if step_id:
                    contexts["steps"][step_id] = _step_result("skipped")
                continue
            if "uses" in step:
                result, outputs = self._uses(step, name, contexts, state, env, scope_env | step_env)
            else:
                if composite and step.get("shell") != "bash":
                    raise AssertionError(f"{name}: a composite action's run step needs shell: bash")
                result, outputs = self._script(step, name, number, contexts, state, env)
            runs.append(result)
            outcome = "success" if result.exit_code == 0 else "failure"
            if step_id:
                contexts["steps"][step_id] = _step_result(outcome, outputs)
            if result.exit_code != 0:
                status = "failure"
        return runs, status

    def _script(
        self,
        step: Mapping[str, Any],
        name: str,
        number: int,
        contexts: Mapping[str, Any],
        state: _Job,
        env: dict[str, str],
    ) -> tuple[StepRun, dict[str, str]]:
        # Each step gets fresh output and path files; what it writes becomes its outputs.
        state.files["output"].write_text("")
        state.files["path"].write_text("")
        script = interpolate(str(step["run"]), contexts)
        script_path = state.temp / f"step-{number}-{len(state.run.actions)}.sh"
        script_path.write_text(script)
        cwd = state.workspace / str(step.get("working-directory", "."))
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", str(script_path)],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        lines = []
        for line in (result.stdout + result.stderr).splitlines(keepends=True):
            if line.startswith("::add-mask::"):
                state.masks.append(line.removeprefix("::add-mask::").strip())
            else:
                lines.append(line)
        output = _masked("".join(lines), state.masks)
        state.run.annotations += [
            _masked(line, state.masks)
            for line in result.stdout.splitlines()
            if re.match(r"::(error|warning|notice)", line)
        ]
        state.exported |= read_env_file(state.files["env"])
        state.path[:0] = reversed(state.files["path"].read_text().split())
        return (
            StepRun(name=name, ran=True, exit_code=result.returncode, output=output, env=env),
            read_env_file(state.files["output"]),
        )

    def _uses(
        self,
        step: Mapping[str, Any],
        name: str,
        contexts: Mapping[str, Any],
        state: _Job,
        env: dict[str, str],
        scope_env: Mapping[str, str],
    ) -> tuple[StepRun, dict[str, str]]:
        reference = str(step["uses"])
        state.run.actions.append(reference)
        with_ = {k: interpolate(_scalar(v), contexts) for k, v in (step.get("with") or {}).items()}
        action = self._action_directory(reference, state.workspace)
        if action is not None:
            return self._composite(action, name, with_, contexts, state, env, scope_env)
        handler = self.uses.get(reference.split("@", 1)[0])
        if handler is None:
            raise AssertionError(f"no handler for {reference} in the test")
        context = StepContext(with_=with_, workspace=state.workspace, env=env)
        handler(context)
        return StepRun(name=name, ran=True, env=env), context.outputs

    def _action_directory(self, reference: str, workspace: Path) -> Path | None:
        """Where a composite action's files are: `./path` in the workspace (checked out by an
        earlier step, as GitHub requires), or the test's copy of `owner/repo[/path]@ref`."""
        if reference.startswith("./"):
            directory = workspace / reference[2:]
            if not any((directory / f).is_file() for f in ("action.yml", "action.yaml")):
                raise AssertionError(
                    f"Can't find 'action.yml' under {directory}: did you forget to run "
                    "actions/checkout before running your local action?"
                )
            return directory
        path = reference.split("@", 1)[0]
        owner, repo, *rest = path.split("/")
        found = self.actions.get(f"{owner}/{repo}")
        return None if found is None else found.joinpath(*rest)

    def _composite(
        self,
        directory: Path,
        name: str,
        with_: Mapping[str, Any],
        contexts: Mapping[str, Any],
        state: _Job,
        env: dict[str, str],
        scope_env: Mapping[str, str],
    ) -> tuple[StepRun, dict[str, str]]:
        """A composite action as GitHub runs one: its inputs (given, else their default),
        its steps with their own `steps` context and `github.action_path`, and its outputs
        read from its steps. A step that fails fails the action."""
        file = next(
            directory / f for f in ("action.yml", "action.yaml") if (directory / f).is_file()
        )
        document = yaml.safe_load(file.read_text())
        runs = document["runs"]
        if runs.get("using") != "composite":
            raise AssertionError(
                f"{file}: only composite actions run here, not {runs.get('using')}"
            )
        declared: dict[str, Any] = document.get("inputs") or {}
        unexpected = sorted(set(with_) - set(declared))
        if unexpected:
            # GitHub warns and goes on; tests treat the warning as the mistake it is.
            valid = ", ".join(f"'{key}'" for key in declared)
            state.run.annotations.append(
                f"::warning::Unexpected input(s) {', '.join(repr(k) for k in unexpected)}, "
                f"valid inputs are [{valid}]"
            )
        github = dict(contexts["github"]) | {"action_path": str(directory)}
        outer = {key: contexts[key] for key in ("runner", "job", "strategy", "matrix")}
        default_contexts = outer | {"github": github, "env": contexts.get("env", {})}
        inputs: dict[str, str] = {}
        for key, given in declared.items():
            spec = given or {}
            if key in with_:
                inputs[key] = to_text(with_[key])
            elif "default" in spec:
                inputs[key] = to_text(interpolate(str(spec["default"]), default_contexts))
            else:
                inputs[key] = ""
                if spec.get("required"):
                    state.run.annotations.append(
                        f"::warning::Input required and not supplied: {key}"
                    )
        inner: dict[str, Any] = outer | {"github": github, "inputs": inputs, "steps": {}}
        action_env = dict(scope_env) | {"GITHUB_ACTION_PATH": str(directory)}
        steps, _status = self._run_steps(
            runs["steps"], inner, state, scope_env=action_env, composite=True
        )
        outputs = {
            key: to_text(interpolate(str(spec.get("value", "")), inner))
            for key, spec in (document.get("outputs") or {}).items()
        }
        failed = next((s for s in steps if s.exit_code != 0), None)
        return (
            StepRun(
                name=name,
                ran=True,
                exit_code=0 if failed is None else failed.exit_code,
                output="".join(s.output for s in steps),
                env=env,
                steps=steps,
            ),
            outputs,
        )


def _scalar(value: Any) -> str:
    """A YAML value as the runner reads it into a string: `true`, not Python's `True`."""
    return value if isinstance(value, str) else to_text(value)


def _masked(text: str, masks: Sequence[str]) -> str:
    for mask in masks:
        if mask:
            text = text.replace(mask, "***")
    return text


def _step_result(outcome: str, outputs: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A step as `steps.<id>` shows it (no `continue-on-error` here, so conclusion = outcome)."""
    return {"outputs": dict(outputs or {}), "outcome": outcome, "conclusion": outcome}


def read_env_file(path: Path) -> dict[str, str]:
    """`NAME=value` lines and `NAME<<DELIMITER` blocks, as Actions reads GITHUB_ENV."""
    values: dict[str, str] = {}
    lines = path.read_text().splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if "<<" in line and "=" not in line.split("<<", 1)[0]:
            name, delimiter = line.split("<<", 1)
            block = []
            index += 1
            while index < len(lines) and lines[index] != delimiter:
                block.append(lines[index])
                index += 1
            values[name] = "\n".join(block)
        elif "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
        index += 1
    return values


# ------------------------------------------------------------------------------ concurrency


@dataclass(frozen=True)
class Concurrency:
    group: str
    cancel_in_progress: bool = False


@dataclass
class ConcurrencyQueue:
    """GitHub's rule for runs that share a concurrency group, in one repository.

    A run whose group has nothing in progress starts. Otherwise it waits, and a group holds at
    most one waiting run: a run that queues cancels the one already waiting and takes its place
    (and with `cancel-in-progress`, cancels the run in progress and starts). When the run in
    progress ends, the waiting one starts. Runs are named by the test.
    """

    running: dict[str, str] = field(default_factory=dict)
    waiting: dict[str, str] = field(default_factory=dict)
    started: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    _group_of: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    def queue(self, run: str, concurrency: Concurrency) -> None:
        group = concurrency.group
        self._group_of[run] = group
        if group in self.running and concurrency.cancel_in_progress:
            self.cancelled.append(self.running.pop(group))
        if group not in self.running:
            if group in self.waiting:
                self.cancelled.append(self.waiting.pop(group))
            self._start(run, group)
            return
        if group in self.waiting:
            self.cancelled.append(self.waiting[group])
        self.waiting[group] = run

    def finish(self, run: str) -> None:
        group = self._group_of[run]
        assert self.running.get(group) == run, f"{run} is not in progress"
        del self.running[group]
        if group in self.waiting:
            self._start(self.waiting.pop(group), group)

    def _start(self, run: str, group: str) -> None:
        self.running[group] = run
        self.started.append(run)
