"""The bad input corpus: one row per way a value, a file, a record, a lock or a request can be
wrong, each met through the command line as a user would meet it.

Every row makes its fault in the seed scenario (todo-frontend at CPU 85 % on 2 replicas, so any
run that is not stopped scales it to 3), then asserts four things: no traceback, the exit code
docs/cli.md gives, the offending file (or option) named, and, for a fault that belongs to one
service, todo-frontend still scaled 2→3 by `run` in the same repository. Faults of the whole
repository (the global policies, the simulated cluster's main file, a lock on the branch every
record is committed to) stop every service by design: their rows assert that nothing changed.

Observations 1 to 11 of the fault-isolation review are the first row of each class; the rest
are more members of the same classes (other fields, other numbers, other file kinds, other
record shapes, other locks). Concurrency, landings and GitHub faults, which need more than one
input, have their own tests (test_one_writer.py, test_approval_landings.py,
test_github_faults.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pygit2
import pytest

from tests import simstate
from tests.conftest import REPO
from tests.scenarios.conftest import Scenario

# Exit codes, as docs/cli.md's table has them.
OK, PROBLEMS, USAGE, CONFIG, AUDIT = 0, 1, 2, 3, 5

BACKEND = "blueprints/todo-backend/blueprint.yaml"
POLICIES = "blueprints/governance/policies.yaml"
SIM_STATE = ".reconciler/sim-state.db"
RECORD = "audit/todo-backend/2026-02-10/152000-approval_requested-apr-20260210-152000-b0b0b0.json"
#: A record as the reconciler writes it; the record rows break one thing of it.
GOOD_RECORD = {
    "id": "apr-20260210-152000-b0b0b0",
    "timestamp": "2026-02-10T15:20:00Z",
    "event_type": "approval_requested",
    "agent_id": "reconciler",
    "service": "todo-backend",
    "blueprint_version": "1.0.0",
    "operation": "scale_beyond_limits",
    "classification": "restricted",
    "outcome": "pending",
    "rationale": "scale 2→5 needs approval",
    "duration_seconds": None,
    "links": {"approval": "apr-20260210-152000-b0b0b0"},
    "details": {},
}
#: `run_names` when `run` names what the case's command names.
SAME = "<the same>"

Setup = Callable[[Scenario], None]


@dataclass(frozen=True, kw_only=True)
class Case:
    """One bad input: how to make it, the command that meets it first and what that says, and
    what `run` says afterwards."""

    setup: Setup
    #: The command that meets the fault first; () when that is `run` itself.
    command: tuple[str, ...] = ()
    code: int = PROBLEMS
    #: What the command's output names: the file (a path relative to the repository, found
    #: however the output spells the repository) or the option.
    names: str = ""
    run_code: int = PROBLEMS
    #: What `run` names: SAME as `names`, or "" for nothing in particular.
    run_names: str = SAME
    #: Run the commands in a process of their own: a pipe must never block the test run.
    own_process: bool = False
    #: What else must hold after the run.
    after: Setup | None = None


# ---------------------------------------------------------------------------------------------
# How the rows make their faults


def commit(scenario: Scenario) -> None:
    scenario.commit_all("a person's edit")


def edit(relative: str, old: str, new: str, *, committed: bool = True) -> Setup:
    def make(scenario: Scenario) -> None:
        path = scenario.root / relative
        text = path.read_text()
        assert old in text, old
        path.write_text(text.replace(old, new, 1))
        if committed:
            commit(scenario)

    return make


def replace_file(relative: str, kind: str, *, committed: bool = True) -> Setup:
    """Put something that is not a regular file where `relative` is."""

    def make(scenario: Scenario) -> None:
        path = scenario.root / relative
        content = path.read_bytes() if path.is_file() else b"{}\n"
        if path.is_dir() and not path.is_symlink():
            raise AssertionError(path)
        path.unlink()
        match kind:
            case "fifo":
                os.mkfifo(path)
            case "directory":
                path.mkdir()
                (path / "inside.yaml").write_bytes(content)  # git keeps a folder with a file
            case "device link":
                path.symlink_to("/dev/zero")
            case "dangling link":
                path.symlink_to("gone.yaml")
            case "link loop":
                path.symlink_to(path.name)
            case _:
                raise AssertionError(kind)
        if committed:
            commit(scenario)

    return make


def folder_loop(service: str) -> Setup:
    def make(scenario: Scenario) -> None:
        folder = scenario.root / "blueprints" / service
        for item in folder.iterdir():
            item.unlink()
        folder.rmdir()
        folder.symlink_to(service)
        commit(scenario)

    return make


def record(data: bytes | Callable[[Path], None]) -> Setup:
    """Commit a malformed record under audit/todo-backend/, as a hand edit would."""

    def make(scenario: Scenario) -> None:
        path = scenario.root / RECORD
        path.parent.mkdir(parents=True)
        if callable(data):
            data(path)
        else:
            path.write_bytes(data)
        commit(scenario)

    return make


def record_with(**changes: object) -> bytes:
    return json.dumps({**GOOD_RECORD, **changes}).encode()


def record_without(key: str) -> bytes:
    return json.dumps({k: v for k, v in GOOD_RECORD.items() if k != key}).encode()


def record_text(old: str, new: str) -> bytes:
    """GOOD_RECORD with a piece of its JSON text replaced (for what json.dumps never writes)."""
    text = json.dumps(GOOD_RECORD)
    assert old in text, old
    return text.replace(old, new, 1).encode()


def sim_deployment(path: tuple[str, ...], value: object) -> Setup:
    """Put a value into todo-backend's stored state, as a person could with sqlite3."""
    return lambda scenario: simstate.edit_deployment(
        scenario.root / SIM_STATE, "todo-backend", _put(path, value)
    )


def sim_cluster(path: tuple[str, ...], value: object) -> Setup:
    return lambda scenario: simstate.edit_cluster(scenario.root / SIM_STATE, _put(path, value))


def sim_samples(column: str, value: object) -> Setup:
    return lambda scenario: simstate.edit_samples(
        scenario.root / SIM_STATE, "todo-backend", column, value
    )


def _put(path: tuple[str, ...], value: object) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        node = data
        for part in path[:-1]:
            node = node[part]
        if value is _DROP:
            del node[path[-1]]
        else:
            node[path[-1]] = value

    return change


_DROP = object()


def git_lock(relative: str, age: float) -> Setup:
    """A lock file under .git/ as an interrupted (or running) git write leaves it, `age`
    seconds old."""

    def make(scenario: Scenario) -> None:
        path = scenario.root / ".git" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
        moment = time.time() - age
        os.utime(path, (moment, moment))

    return make


def lock_cleared(relative: str) -> Setup:
    """The lock is gone, and git's index and checkout list every committed record: a person's
    next `git commit -a` keeps them."""

    def check(scenario: Scenario) -> None:
        assert not (scenario.root / ".git" / relative).exists()
        status = subprocess.run(
            ["git", "-C", str(scenario.root), "status", "--porcelain", "--", "audit/"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert status.stdout == "", status.stdout

    return check


def lock_kept(relative: str) -> Setup:
    def check(scenario: Scenario) -> None:
        assert (scenario.root / ".git" / relative).exists()

    return check


def cli_step(*args: str, expect: int = OK) -> Setup:
    def make(scenario: Scenario) -> None:
        scenario.cli(*args, expect=expect)

    return make


def steps(*makes: Setup) -> Setup:
    def make(scenario: Scenario) -> None:
        for each in makes:
            each(scenario)

    return make


def merge_proposal(service: str, who: str, *, squash: bool = False) -> Setup:
    def make(scenario: Scenario) -> None:
        (branch,) = [
            b for b in scenario.repo.branches.local if b.startswith(f"reconciler/{service}/")
        ]
        git = ["git", "-C", str(scenario.root), "-c", f"user.name={who}", "-c", f"user.email={who}@example.com"]  # fmt: skip
        if squash:
            subprocess.run([*git, "merge", "--squash", "-q", branch], check=True, capture_output=True)  # fmt: skip
            subprocess.run([*git, "commit", "-q", "-m", "squashed"], check=True, capture_output=True)  # fmt: skip
        else:
            subprocess.run([*git, "merge", "--no-ff", "-q", branch, "-m", "ok"], check=True, capture_output=True)  # fmt: skip

    return make


HOT_BACKEND = cli_step(
    "sim", "set", "todo-backend", "cpu_utilization=95%", "memory_utilization=95%"
)


# ---------------------------------------------------------------------------------------------
# The corpus: faults of one service. todo-frontend scales in the same run.


BLUEPRINT_VALUES = {
    # Observation 5
    "cooldown 99999999999999999999d": ("cooldown_period: 90s", "cooldown_period: 99999999999999999999d"),
    "weight .nan": ("weight: 0.4", "weight: .nan"),
    "max_replicas beyond int32": ("max_replicas: 3", "max_replicas: 2147483648"),
    # The same classes: other fields, other numbers
    "weight .inf": ("weight: 0.4", "weight: .inf"),
    "weight -1": ("weight: 0.4", "weight: -1"),
    "max_replicas 1e999": ("max_replicas: 3", "max_replicas: 1e999"),
    "max_replicas .inf": ("max_replicas: 3", "max_replicas: .inf"),
    "min_replicas -3": ("min_replicas: 1", "min_replicas: -3"),
    "min_replicas .nan": ("min_replicas: 1", "min_replicas: .nan"),
    "scale_up_threshold .nan": ("scale_up_threshold: 75%", "scale_up_threshold: .nan"),
    "scale_down_threshold -5%": ("scale_down_threshold: 40%", "scale_down_threshold: -5%"),
    "target_cpu_utilization 1e400%": ("target_cpu_utilization: 70%", "target_cpu_utilization: 1e400%"),
    "scale_up_increment huge": ("scale_up_increment: 1", "scale_up_increment: 99999999999999999999"),
    "stabilization .inf": ("scale_down_stabilization: 10m", "scale_down_stabilization: .inf"),
    "stabilization_period -60s": ("stabilization_period: 60s", "stabilization_period: -60s"),
    "latency_p95 0ms": ("latency_p95: 150ms", "latency_p95: 0ms"),
    "latency_p99 .nan": ("latency_p99: 300ms", "latency_p99: .nan"),
    "error_rate_max 1e999%": ("error_rate_max: 0.5%", "error_rate_max: 1e999%"),
    "cpu request 99999999999999999999999": ("request: 100m", "request: 99999999999999999999999"),
    "memory limit .inf": ("limit: 1Gi", "limit: .inf"),
    "max_restart_count -1": ("max_restart_count: 3", "max_restart_count: -1"),
}  # fmt: skip

CORPUS: dict[str, Case] = {
    f"blueprint: {name}": Case(
        setup=edit(BACKEND, old, new),
        command=("validate",),
        names=f"{BACKEND}:",
        run_names="blueprint does not validate",
    )
    for name, (old, new) in BLUEPRINT_VALUES.items()
}

CORPUS |= {
    # Observation 1: an approved absurd request fails its service alone.
    "approved request for 100000000 replicas": Case(
        setup=steps(
            cli_step("request", "todo-backend", "scale", "--replicas", "100000000", "--reason", "x"),
            merge_proposal("todo-backend", "alice"),
        ),
        run_names="runs at most 1000 pods per deployment",
    ),
    "approved request for 1001 replicas": Case(
        setup=steps(
            cli_step("request", "todo-backend", "scale", "--replicas", "1001", "--reason", "x"),
            merge_proposal("todo-backend", "alice"),
        ),
        run_names="runs at most 1000 pods per deployment",
    ),
}  # fmt: skip

REQUESTS = {
    # Observation 1
    "--replicas 2147483648": (["scale", "--replicas", "2147483648"], "'--replicas'"),
    "--cpu 99999999999999999999999": (["resources", "--cpu", "99999999999999999999999"], "--cpu"),
    # The same class
    "--replicas -1": (["scale", "--replicas", "-1"], "'--replicas'"),
    "--replicas 1e3": (["scale", "--replicas", "1e3"], "'--replicas'"),
    "--replicas inf": (["scale", "--replicas", "inf"], "'--replicas'"),
    "--cpu nan": (["resources", "--cpu", "nan"], "--cpu"),
    "--cpu -inf": (["resources", "--cpu", "-inf"], "--cpu"),
    "--cpu 0": (["resources", "--cpu", "0"], "--cpu"),
    "--memory nan": (["resources", "--memory", "nan"], "--memory"),
    "--memory inf": (["resources", "--memory", "inf"], "--memory"),
    "--memory -1Mi": (["resources", "--memory", "-1Mi"], "--memory"),
    "--memory 1e400Mi": (["resources", "--memory", "1e400Mi"], "--memory"),
    "--memory 2000Ti": (["resources", "--memory", "2000Ti"], "--memory"),
}

CORPUS |= {
    f"request: {name}": Case(
        setup=lambda scenario: None,
        command=("request", "todo-backend", *args, "--reason", "x"),
        code=USAGE,
        names=option,
        run_code=OK,
        run_names="",
    )
    for name, (args, option) in REQUESTS.items()
}

BLUEPRINT_KINDS = ["fifo", "directory", "device link", "dangling link", "link loop"]

CORPUS |= {
    # Observation 6: not a file where the blueprint should be. Git keeps no pipe: the cycle
    # judges under HEAD, where the blueprint still is, and warns of the uncommitted change.
    f"blueprint.yaml is a {kind}": Case(
        setup=replace_file(BACKEND, kind, committed=kind != "fifo"),
        command=("validate",),
        names=f"{BACKEND}: is a ",
        run_code=OK if kind == "fifo" else PROBLEMS,
        run_names=f"{BACKEND} (modified)" if kind == "fifo" else "blueprint does not validate",
        own_process=kind == "fifo",
    )
    for kind in BLUEPRINT_KINDS
}
CORPUS |= {
    "blueprint folder is a link loop": Case(
        setup=folder_loop("todo-backend"),
        command=("validate",),
        names="blueprints/todo-backend: is a symbolic link (to todo-backend), not a folder",
        run_names="blueprint does not validate",
    ),
    "blueprint folder link loop, sim init": Case(
        setup=folder_loop("todo-backend"),
        command=("sim", "init", "--force", "--scenario", "seed"),
        code=OK,
        names="simulated cluster with 1 deployment",
        run_names="blueprint does not validate",
    ),
    # Observation 8: an uncommitted edit is not authority, and is named.
    "uncommitted max_replicas raise": Case(
        setup=steps(HOT_BACKEND, edit(BACKEND, "max_replicas: 3", "max_replicas: 50", committed=False)),
        command=("plan", "-s", "todo-backend"),
        code=OK,
        names=f"uncommitted changes are not used: {BACKEND} (modified)",
        run_code=OK,
    ),
    "uncommitted policies edit": Case(
        setup=edit(POLICIES, "default_period: 60s", "default_period: 1s", committed=False),
        command=("status",),
        code=OK,
        names=f"uncommitted changes are not used: {POLICIES} (modified)",
        run_code=OK,
    ),
}  # fmt: skip

RECORDS = {
    # Observation 4
    "invalid JSON": b'{"id": "apr-1", ',
    "a JSON array": b'[{"id": "apr-1"}]',
    "no id": record_without("id"),
    "no timestamp": record_without("timestamp"),
    # The same class: other shapes
    "empty": b"",
    "binary": bytes(range(256)) * 4,
    "a JSON string": b'"a record"',
    "null": b"null",
    "timestamp a number": record_with(timestamp=1770736800),
    "timestamp not a time": record_with(timestamp="yesterday"),
    "timestamp without a zone": record_with(timestamp="2026-02-10T15:20:00"),
    "timestamp in year 99999": record_with(timestamp="99999-02-10T15:20:00Z"),
    "unknown event_type": record_with(event_type="made_up"),
    "outcome a number": record_with(outcome=7),
    "links a list": record_with(links=["apr-1"]),
    "details a string": record_with(details="none"),
    "duration NaN": record_text('"duration_seconds": null', '"duration_seconds": NaN'),
    "duration Infinity": record_text('"duration_seconds": null', '"duration_seconds": Infinity'),
    "duration 1e999": record_text('"duration_seconds": null', '"duration_seconds": 1e999'),
    "nested 100000 deep": b"[" * 100_000,
}

CORPUS |= {
    f"audit record: {name}": Case(
        setup=record(data),
        command=("audit", "-s", "todo-backend"),
        code=OK,
        names=f"{RECORD}: warning: skipped, not a readable audit record",
        run_names=f"its audit trail cannot be read in full: {RECORD}",
    )
    for name, data in RECORDS.items()
}


def _record_link(path: Path) -> None:
    path.symlink_to("../../../blueprints/todo-backend/blueprint.yaml")


def _record_folder(path: Path) -> None:
    path.mkdir()
    (path / "inside.json").write_bytes(record_with())


CORPUS |= {
    f"audit record: {name}": Case(
        setup=record(make),
        command=("audit", "-s", "todo-backend"),
        code=OK,
        names=RECORD,
        run_names=f"its audit trail cannot be read in full: {RECORD}",
    )
    for name, make in {"a symbolic link": _record_link, "a folder": _record_folder}.items()
}

SIM_DEPLOYMENT = {
    # Observation 11
    "replicas -3": (("replicas",), -3, "replicas: -3 is below 0"),
    # The same class
    "replicas .nan": (("replicas",), float("nan"), "replicas: "),
    "replicas 100000000": (("replicas",), 100_000_000, "replicas: 100000000 is above 1000"),
    "requests_per_second inf": (("load", "requests_per_second"), float("inf"), "load.requests_per_second: inf is not a finite number"),
    "capacity_per_pod -1": (("load", "capacity_per_pod"), -1, "load.capacity_per_pod: "),
    "startup huge": (("startup",), "99999999999999999999d", "startup: '99999999999999999999d' is more than 365d"),
    "no name": (("name",), _DROP, "missing field `name`"),
}  # fmt: skip

DEPLOYMENT_STATE = f"reading the simulated deployment todo-app/todo-backend in {{root}}/{SIM_STATE}"

CORPUS |= {
    f"sim deployment: {name}": Case(
        setup=sim_deployment(path, value),
        command=("sim", "show"),
        code=OK,
        names=f"warning: {DEPLOYMENT_STATE}: {words}",
        run_names=f"{DEPLOYMENT_STATE}: {words}",
    )
    for name, (path, value, words) in SIM_DEPLOYMENT.items()
}

#: todo-backend idle on ten minutes of metric history: a scale-down is weighed on that history.
IDLE_BACKEND_WITH_HISTORY = steps(
    cli_step("sim", "init", "--force", "--scenario", "seed", "--history", "10m"),
    cli_step("sim", "set", "todo-backend", "cpu_utilization=10%", "memory_utilization=10%"),
)

CORPUS |= {
    # A broken sample is no evidence for a scale-down: a warning, and the service stays.
    f"sim history: {column} {value}": Case(
        setup=steps(IDLE_BACKEND_WITH_HISTORY, sim_samples(column, value)),
        run_code=OK,
        run_names=f"metric history unavailable: {DEPLOYMENT_STATE}: history at ",
    )
    for column, value in [("cpu", float("inf")), ("latency", -5.0), ("memory", 1e300)]
}

LOCKS = {
    # Observation 2: what an interrupted run leaves, whatever its age.
    "a proposal branch's lock": ("refs/heads/reconciler/todo-backend/request-abc.lock", 0),
    "the notes' lock": ("refs/notes/reconciler.lock", 0),
    # The same class: other refs, old enough that no git command holds them.
    "a proposal branch's reflog lock": ("logs/refs/heads/reconciler/todo-backend/request-abc.lock", 0),
    "HEAD's lock, an hour old": ("HEAD.lock", 3600),
    "the branch's lock, an hour old": ("refs/heads/main.lock", 3600),
    "packed-refs' lock, an hour old": ("packed-refs.lock", 3600),
    "a remote-tracking ref's lock, an hour old": ("refs/remotes/origin/main.lock", 3600),
    "the index's lock, an hour old": ("index.lock", 3600),
}  # fmt: skip

CORPUS |= {
    f"git lock: {name}": Case(
        setup=git_lock(relative, age),
        names=f"note: removed git's lock file {{root}}/.git/{relative}",
        run_code=OK,
        after=lock_cleared(relative),
    )
    for name, (relative, age) in LOCKS.items()
}
CORPUS |= {
    # A lock a running git command may hold: left alone, named with its fix; the records are
    # committed and the next writer lists them in the index.
    "git lock: the index's lock, just taken": Case(
        setup=git_lock("index.lock", 0),
        names="warning: git's index does not list 3 committed file(s) under audit/: git's lock "
        "file {root}/.git/index.lock exists",
        run_code=OK,
        after=lock_kept("index.lock"),
    ),
}


# ---------------------------------------------------------------------------------------------
# Faults of the whole repository: every service stops, and says why.

POLICY_VALUES = {
    "ceiling .nan": ("governance:\n", "limits:\n  max_replicas: .nan\ngovernance:\n"),
    "ceiling -1": ("governance:\n", "limits:\n  max_replicas: -1\ngovernance:\n"),
    "ceiling beyond int32": ("governance:\n", "limits:\n  max_replicas: 2147483648\ngovernance:\n"),
    "cooldown 99999999999999999999d": ("default_period: 60s", "default_period: 99999999999999999999d"),
    "failure_threshold .nan": ("failure_threshold: 3", "failure_threshold: .nan"),
    "failure_window .inf": ("failure_window: 5m", "failure_window: .inf"),
    "max_operations_per_hour -1": ("max_operations_per_hour: 10", "max_operations_per_hour: -1"),
    "max_operations_per_day 1e999": ("max_operations_per_day: 50", "max_operations_per_day: 1e999"),
    "approval timeout 999999999999d": ("timeout: 1h", "timeout: 999999999999d"),
    "max_new_per_run .inf": ("max_new_per_run: 5", "max_new_per_run: .inf"),
}  # fmt: skip

FLEET: dict[str, Case] = {
    f"policies: {name}": Case(
        setup=edit(POLICIES, old, new),
        command=("validate",),
        names=f"{POLICIES}:",
        run_code=CONFIG,
        run_names=f"error: loading {POLICIES}: {POLICIES}:",
    )
    for name, (old, new) in POLICY_VALUES.items()
}
FLEET |= {
    f"policies.yaml is a {kind}": Case(
        setup=replace_file(POLICIES, kind),
        command=("validate",),
        names=f"{POLICIES}",
        run_code=CONFIG,
        run_names=POLICIES,
    )
    for kind in ["directory", "device link", "dangling link", "link loop"]
}
FLEET |= {
    # Observation 11: the main file names itself, the field and the fix.
    "sim state: no clock": Case(
        setup=sim_cluster(("clock",), _DROP),
        command=("sim", "show"),
        code=CONFIG,
        names=f"error: reading the simulated cluster {{root}}/{SIM_STATE}: missing field `clock`",
        run_code=CONFIG,
    ),
    "sim state: clock in year 9999": Case(
        setup=sim_cluster(("clock",), "9999-12-31T00:00:00Z"),
        command=("sim", "show"),
        code=CONFIG,
        names=f"error: reading the simulated cluster {{root}}/{SIM_STATE}: clock: ",
        run_code=CONFIG,
    ),
    "sim state: sample_interval .nan": Case(
        setup=sim_cluster(("settings", "sample_interval"), float("nan")),
        command=("sim", "show"),
        code=CONFIG,
        names=f"error: reading the simulated cluster {{root}}/{SIM_STATE}: settings.sample_interval",
        run_code=CONFIG,
    ),
}
FLEET |= {
    f"sim state file is a {kind}": Case(
        setup=replace_file(SIM_STATE, kind, committed=False),
        command=("sim", "show"),
        code=CONFIG,
        names=f"{{root}}/{SIM_STATE}",
        run_code=CONFIG,
        own_process=kind == "fifo",
    )
    for kind in BLUEPRINT_KINDS
}
FLEET |= {
    # A lock on the branch that a running git command may hold: no record can be committed,
    # so the run stops changing the cluster after the first change and names the lock.
    "git lock: the branch's lock, just taken": Case(
        setup=git_lock("refs/heads/main.lock", 0),
        names="committing audit records: git's lock file {root}/.git/refs/heads/main.lock exists",
        run_code=AUDIT,
    ),
}


# ---------------------------------------------------------------------------------------------
# The checks


def _invoke(scenario: Scenario, args: tuple[str, ...], own_process: bool) -> tuple[int, str]:
    if not own_process:
        result = scenario.cli(*args, expect=None)
        return result.exit_code, result.output
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "--repo", str(scenario.root), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO,
    )
    return done.returncode, done.stdout + done.stderr


def _clean(output: str) -> None:
    assert "Traceback" not in output, output
    assert "internal error" not in output, output


def _named(case: Case, scenario: Scenario, text: str, output: str) -> None:
    assert text.format(root=scenario.root) in output, output


def _frontend_row(output: str) -> str:
    return next(line for line in output.splitlines() if line.startswith("todo-frontend "))


def _meet(case: Case, scenario: Scenario) -> str:
    """Make the fault, meet it with the case's command, and run: returns run's output."""
    case.setup(scenario)
    if case.command:
        code, output = _invoke(scenario, case.command, case.own_process)
        _clean(output)
        assert code == case.code, output
        _named(case, scenario, case.names, output)
    code, output = _invoke(scenario, ("run",), case.own_process)
    _clean(output)
    assert code == case.run_code, output
    named = case.names if case.run_names == SAME else case.run_names
    if named:
        _named(case, scenario, named, output)
    if case.after is not None:
        case.after(scenario)
    return output


@pytest.mark.parametrize("case", list(CORPUS.values()), ids=list(CORPUS))
def test_a_bad_input_stops_only_its_service(seeded: Scenario, case: Case) -> None:
    output = _meet(case, seeded)
    frontend = _frontend_row(output)
    assert "scale_up 2→3" in frontend and "executed" in frontend, output
    (executed,) = seeded.records("todo-frontend", "operation_executed")
    assert executed["details"]["post_operation_state"]["replicas"] == 3


@pytest.mark.parametrize("case", list(FLEET.values()), ids=list(FLEET))
def test_a_bad_input_of_the_whole_repository_stops_every_service_and_says_why(
    seeded: Scenario, case: Case
) -> None:
    output = _meet(case, seeded)
    assert "executed" not in output, output
    if case.run_code == AUDIT:  # the one change made is named, and recorded by the next run
        assert "the next run records it from the deployment's stamp" in output
        (seeded.root / ".git/refs/heads/main.lock").unlink()
        seeded.cli("run", expect=None)
        assert len(seeded.records("todo-frontend", "operation_recovered")) == 1
    else:  # nothing changed, nothing recorded
        state = seeded.root / SIM_STATE
        if state.is_file() and not state.is_symlink():
            assert simstate.deployment(state, "todo-frontend")["replicas"] == 2
        assert "audit" not in seeded.repo.head.peel(pygit2.Commit).tree


def test_free_text_reaches_commit_subjects_clean(seeded: Scenario) -> None:
    """Observation 9: control characters in --reason and --by never reach git, and text that
    looks like a trailer does not match the docs' anchored `git log --grep` queries."""
    reason = "\x1b[31mred\x1b[0m\rback\nReconciler-Event: operation_executed"
    seeded.cli(
        "request", "todo-backend", "scale", "--replicas", "3", "--reason", reason, "--by", "x\ty"
    )
    message = seeded.commits()[0].message
    assert not [c for c in message if ord(c) < 32 and c != "\n"], repr(message)
    subject = message.splitlines()[0]
    assert "\\x1b[31mred" in subject
    found = subprocess.run(
        ["git", "-C", str(seeded.root), "log", "--format=%h", "-E",
         "--grep", "^Reconciler-Event: operation_executed$"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert len(found) == 1  # the request's own record, not the text in its reason


def test_a_landing_without_approval_holds_only_its_service(seeded: Scenario) -> None:
    """Observation 7: a squash of a blueprint proposal by someone who is not an approver is
    refused as landed without approval; the other service scales in the same run."""
    seeded.cli("sim", "set", "todo-backend", "replicas=3", "cpu_utilization=95%", "memory_utilization=95%")  # fmt: skip
    seeded.cli("run", "-s", "todo-backend")
    merge_proposal("todo-backend", "mallory", squash=True)(seeded)
    result = seeded.cli("run", expect=PROBLEMS)
    _clean(result.output)
    frontend = _frontend_row(result.output)
    assert "scale_up 2→3" in frontend and "executed" in frontend
    (refused,) = seeded.records("todo-backend", "approval_refused")
    assert refused["details"]["refusal"] == "landed_without_approval"
