"""A small GitHub Actions runner for tests: runs a workflow job's steps on this machine.

It does what the hosted runner does for the parts our workflows use, so a test can run the
real `.github/workflows/*.yml` rather than a copy of its commands:

- `${{ }}` expressions, with GitHub's semantics for `||`, `&&`, `!`, `==` (strings compare
  without case), property access, `fromJSON`, `format`, `contains`, `startsWith`, and the
  status functions; the same parser checks every expression in the workflow files offline;
- job and step `if:`, the matrix (each combination in its own workspace, run at the same
  time, as hosted runners do), job and step `env`;
- `run:` steps with `bash -e`, the `GITHUB_*` and `RUNNER_*` variables, `GITHUB_ENV`,
  `GITHUB_OUTPUT` and `GITHUB_STEP_SUMMARY` files, and workflow commands (`::error ...`)
  collected from the output as annotations;
- `uses:` steps through handlers the test supplies (checkout becomes a clone of the served
  repository), and step `id`s: `steps.<id>.outputs` from a handler or from `GITHUB_OUTPUT`,
  `steps.<id>.outcome`;
- the workflow's `concurrency:` group for an event, and GitHub's rule for the runs that share
  one (`ConcurrencyQueue`): what a test cannot watch on GitHub, which queued run is cancelled.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
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


@dataclass
class JobRun:
    matrix: dict[str, Any]
    workspace: Path
    summary: str
    steps: list[StepRun] = field(default_factory=list)
    annotations: list[str] = field(default_factory=list)
    skipped: bool = False

    @property
    def ok(self) -> bool:
        return not self.skipped and all(step.exit_code == 0 for step in self.steps)

    def step(self, name: str) -> StepRun:
        return next(step for step in self.steps if step.name == name)


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
            "server_url": "https://github.com",
            "api_url": "https://api.github.com",
            "workflow": self.document().get("name", ""),
        }
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

        def run_one(index: int) -> None:
            results[index] = self._run_job(job, github, base_contexts, combinations, index)

        threads = [threading.Thread(target=run_one, args=(i,)) for i in range(len(combinations))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=600)
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
            "steps": {},
        }
        job_env = {
            k: to_text(interpolate(str(v), contexts)) for k, v in (job.get("env") or {}).items()
        }
        exported: dict[str, str] = {}
        run = JobRun(matrix=combo, workspace=workspace, summary="")
        if self.prepare is not None:
            self.prepare(index, workspace, temp)
        status = "success"
        for number, step in enumerate(job["steps"]):
            name = step.get("name") or step.get("uses") or f"step {number}"
            contexts["env"] = job_env | exported
            step_id = step.get("id")
            if name in self.skip or not condition(step.get("if"), contexts, status):
                run.steps.append(StepRun(name=name, ran=False))
                if step_id:
                    contexts["steps"][step_id] = _step_result("skipped")
                continue
            # Each step gets a fresh output file; what it writes becomes its outputs.
            files["output"].write_text("")
            step_env = {
                k: to_text(interpolate(str(v), contexts))
                for k, v in (step.get("env") or {}).items()
            }
            env = (
                {
                    "PATH": os.environ.get("PATH", ""),
                    "HOME": str(home / "home"),
                    "LANG": "C.UTF-8",
                    "CI": "true",
                    "GITHUB_ACTIONS": "true",
                    "GITHUB_WORKSPACE": str(workspace),
                    "GITHUB_EVENT_NAME": self.event_name,
                    "GITHUB_EVENT_PATH": str(event_path),
                    "GITHUB_REPOSITORY": github["repository"],
                    "GITHUB_REPOSITORY_OWNER": github["repository_owner"],
                    "GITHUB_REF": github["ref"],
                    "GITHUB_REF_NAME": github["ref_name"],
                    "GITHUB_SHA": github["sha"],
                    "GITHUB_ACTOR": github["actor"],
                    "GITHUB_RUN_ID": str(github["run_id"]),
                    "GITHUB_SERVER_URL": github["server_url"],
                    "GITHUB_API_URL": github["api_url"],
                    "GITHUB_ENV": str(files["env"]),
                    "GITHUB_OUTPUT": str(files["output"]),
                    "GITHUB_STEP_SUMMARY": str(files["summary"]),
                    "GITHUB_PATH": str(files["path"]),
                    "RUNNER_TEMP": str(temp),
                    "RUNNER_OS": "Linux",
                }
                | self.env
                | job_env
                | exported
                | step_env
            )
            if "uses" in step:
                action = str(step["uses"]).split("@", 1)[0]
                handler = self.uses.get(action)
                if handler is None:
                    raise AssertionError(f"no handler for {step['uses']} in the test")
                with_ = {
                    k: interpolate(str(v), contexts) for k, v in (step.get("with") or {}).items()
                }
                context = StepContext(with_=with_, workspace=workspace, env=env)
                handler(context)
                run.steps.append(StepRun(name=name, ran=True))
                if step_id:
                    contexts["steps"][step_id] = _step_result("success", context.outputs)
                continue
            script = interpolate(str(step["run"]), contexts)
            script_path = temp / f"step-{number}.sh"
            script_path.write_text(script)
            result = subprocess.run(
                ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", str(script_path)],
                cwd=workspace,
                env=env,
                capture_output=True,
                text=True,
                check=False,
                timeout=300,
            )
            output = result.stdout + result.stderr
            run.steps.append(
                StepRun(name=name, ran=True, exit_code=result.returncode, output=output)
            )
            run.annotations += [
                line
                for line in result.stdout.splitlines()
                if re.match(r"::(error|warning|notice)", line)
            ]
            exported |= read_env_file(files["env"])
            if step_id:
                outcome = "success" if result.returncode == 0 else "failure"
                contexts["steps"][step_id] = _step_result(outcome, read_env_file(files["output"]))
            if result.returncode != 0:
                status = "failure"
        run.summary = files["summary"].read_text()
        return run


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
