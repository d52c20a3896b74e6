"""One writer per repository, with real concurrent `reconciler` processes on a real repository.

Every command that writes the trail, the cluster or the simulated state holds the repository
lock; governance is read under it, a second writer waits a bounded time then exits 4, a
killed writer blocks nobody, and git locks an interrupted run left are removed or named.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import pygit2
import pytest

from reconciler.adapters.git_locks import INDEX_LOCK_STALE
from reconciler.adapters.repo_lock import RepositoryLock
from reconciler.cli.context import WritingCommand
from tests import simstate
from tests.adapters.test_repo_lock import HOLDER
from tests.cli.commandlines import subcommands
from tests.conftest import require_tool
from tests.scenarios.conftest import DEMO_2, Scenario

SERVICE = "todo-frontend"
STATE = Path(".reconciler/sim-state.db")


def start(scenario: Scenario, *args: str) -> subprocess.Popen[str]:
    """`reconciler --repo ROOT ARGS...` as its own process, as a person or a job starts it."""
    return subprocess.Popen(
        [sys.executable, "-m", "reconciler", "--repo", str(scenario.root), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out + err


def reconciler(scenario: Scenario, *args: str) -> tuple[int, str]:
    return finish(start(scenario, *args))


def no_crash(output: str) -> None:
    assert "Traceback" not in output and "internal error" not in output, output


def lock_path(scenario: Scenario) -> Path:
    return scenario.root / ".git" / "reconciler.lock"


def wait_until_held(scenario: Scenario, process: subprocess.Popen[str]) -> bool:
    """Whether `process` took the repository lock (as `reconciler run`) before it ended."""
    deadline = time.monotonic() + 20
    path = lock_path(scenario)
    while time.monotonic() < deadline and process.poll() is None:
        if path.exists() and "reconciler run" in path.read_text(errors="replace"):
            return True
        time.sleep(0.005)
    return False


@contextmanager
def held_by_another_process(scenario: Scenario) -> Iterator[subprocess.Popen[str]]:
    """The repository lock held by another process, as a `reconciler run --wait` holds it."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock_path(scenario))], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "held"
        yield process
    finally:
        process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()


def deployment(scenario: Scenario, name: str = SERVICE) -> dict[str, Any]:
    return simstate.deployment(scenario.root / STATE, name)


def head(scenario: Scenario) -> str:
    return str(scenario.repo.head.target)


def index_matches_head_for_audit(scenario: Scenario) -> bool:
    repo = scenario.repo
    repo.index.read()
    tree = repo.head.peel(pygit2.Commit).tree
    return not [
        d for d in repo.index.diff_to_tree(tree).deltas if d.old_file.path.startswith("audit/")
    ]


def person_commits_everything(scenario: Scenario) -> pygit2.Commit:
    """`git commit -a` by a person who edited a file of their own."""
    (scenario.root / "NOTES.md").write_text("notes\n")
    git = ["git", "-C", str(scenario.root), "-c", "user.name=alice", "-c", "user.email=a@x.invalid"]
    subprocess.run([*git, "add", "NOTES.md"], check=True)
    subprocess.run([*git, "commit", "-qam", "notes"], check=True)
    return scenario.repo.head.peel(pygit2.Commit)


def audit_paths(commit: pygit2.Commit) -> set[str]:
    found: set[str] = set()

    def walk(tree: pygit2.Tree, prefix: str) -> None:
        for entry in tree:
            if isinstance(entry, pygit2.Tree):
                walk(entry, f"{prefix}{entry.name}/")
            else:
                found.add(f"{prefix}{entry.name}")

    if "audit" in commit.tree:
        walk(commit.tree["audit"], "audit/")  # type: ignore[arg-type]
    return found


# --------------------------------------------------------------------------- governance


def test_concurrent_requests_execute_the_change_once(scenario: Scenario) -> None:
    scenario.cli("sim", "init")
    processes = {
        replicas: start(scenario, "request", SERVICE, "scale", "--replicas", str(replicas))
        for replicas in (3, 4, 5)
    }
    results = {replicas: finish(process) for replicas, process in processes.items()}
    for _code, output in results.values():
        no_crash(output)
    # One executes; the others, each reading the history only once it is alone, find the
    # cooldown running and are deferred.
    assert sorted(code for code, _output in results.values()) == [0, 1, 1], results
    (executed,) = [replicas for replicas, (code, _output) in results.items() if code == 0]
    (record,) = scenario.records(SERVICE, "operation_executed")
    assert record["details"]["request"]["target_replicas"] == executed
    assert len(scenario.records(SERVICE, "operation_deferred")) == 2
    assert deployment(scenario)["replicas"] == executed


def test_concurrent_waiting_runs_take_turns(scenario: Scenario) -> None:
    scenario.cli("sim", "init", "--scenario", "seed", "--history", "10m")
    results = [finish(p) for p in [start(scenario, "run", "--wait") for _ in range(2)]]
    for code, output in results:
        no_crash(output)
        assert code == 0, output
    assert len(scenario.records(SERVICE, "operation_executed")) == 1
    assert len(scenario.records(SERVICE, "verification_passed")) == 1
    assert deployment(scenario)["replicas"] == 3


def test_a_sim_set_waits_for_the_writer_and_is_not_lost(scenario: Scenario) -> None:
    """Deterministic: this test is the writer (it holds the lock, reads and saves the
    simulated state); `sim set` must wait for it, then apply on top of what it saved."""
    from reconciler.adapters.simulated import SimulatedCluster

    scenario.cli("sim", "init")
    with RepositoryLock(lock_path(scenario), timeout=0).hold("reconciler run"):
        sim = SimulatedCluster.load(scenario.root / STATE)
        setter = start(scenario, "sim", "set", "todo-backend", "rps=333")
        assert setter.stderr is not None
        assert "waiting (up to 60s) for another reconciler" in setter.stderr.readline()
        sim.advance(60)
        sim.save()
    code, output = finish(setter)
    assert code == 0, output
    backend = deployment(scenario, "todo-backend")
    assert backend["load"]["requests_per_second"] == 333.0
    assert simstate.cluster(scenario.root / STATE)["clock"].endswith("15:31:00Z")


def test_a_sim_set_racing_a_run_is_kept(scenario: Scenario) -> None:
    scenario.cli("sim", "init", "--scenario", "seed", "--history", "10m")
    run = start(scenario, "run", "--wait")
    wait_until_held(scenario, run)
    code, output = reconciler(scenario, "sim", "set", "todo-backend", "rps=333")
    assert code == 0, output
    run_code, run_output = finish(run)
    no_crash(run_output)
    assert run_code == 0, run_output
    assert deployment(scenario, "todo-backend")["load"]["requests_per_second"] == 333.0
    assert deployment(scenario)["replicas"] == 3  # the run's change is there too
    assert len(scenario.records(SERVICE, "verification_passed")) == 1


def test_a_sim_set_by_a_process_outside_the_lock_is_never_overwritten(
    scenario: Scenario,
) -> None:
    """The simulated state's own check holds across processes, also for a writer that does
    not share this repository's lock (another checkout pointing --sim-state at the file)."""
    from reconciler.adapters.simulated import SimulatedCluster
    from reconciler.core.errors import ConflictError

    scenario.cli("sim", "init")
    stale = SimulatedCluster.load(scenario.root / STATE)
    assert len(stale.deployments) == 2  # it has read every deployment
    code, output = reconciler(scenario, "sim", "set", "todo-backend", "rps=333")
    assert code == 0, output
    stale.advance(60)
    with pytest.raises(ConflictError, match="written by another process"):
        stale.save()
    assert deployment(scenario, "todo-backend")["load"]["requests_per_second"] == 333.0


# --------------------------------------------------------------------------- the lock


WRITERS = [
    ("run",),
    ("run", "--wait"),
    ("request", SERVICE, "scale", "--replicas", "3"),
    ("breaker", "reset", SERVICE, "--reason", "fixed"),
    ("sim", "set", SERVICE, "rps=300"),
    ("sim", "advance", "60s"),
    ("sim", "init", "--force"),
]


@pytest.mark.parametrize("args", WRITERS, ids=[" ".join(a[:2]) for a in WRITERS])
def test_a_second_writer_gives_up_with_exit_4_and_changes_nothing(
    scenario: Scenario, args: Sequence[str]
) -> None:
    scenario.cli("sim", "init", "--scenario", "seed")
    before = (head(scenario), deployment(scenario))
    with held_by_another_process(scenario) as holder:
        started = time.monotonic()
        result = scenario.cli("--lock-timeout", "0.3s", *args, expect=4)
        assert time.monotonic() - started < 5
    waiting, error, hint = result.output.splitlines()
    assert waiting.startswith("waiting (up to 0.3s) for another reconciler writing to ")
    assert error.startswith(
        "error: another reconciler is writing to this repository: `reconciler run --wait` "
        f"(pid {holder.pid}) since "
    )
    assert error.endswith("; waited 0.3s")
    assert hint.startswith("hint: try again when it has finished")
    assert (head(scenario), deployment(scenario)) == before


def test_the_timeout_comes_from_the_environment_too(scenario: Scenario) -> None:
    scenario.cli("sim", "init")
    with held_by_another_process(scenario):
        code, output = finish(
            subprocess.Popen(
                [sys.executable, "-m", "reconciler", "--repo", str(scenario.root), "run"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, "RECONCILER_LOCK_TIMEOUT": "0s"},
            )
        )
    assert code == 4, output
    assert "another reconciler is writing to this repository" in output
    bad = scenario.cli("--lock-timeout", "soon", "run", expect=2)
    assert "--lock-timeout" in bad.output and "60s" in bad.output


@pytest.mark.parametrize(
    "args",
    [
        ("plan",),
        ("status",),
        ("audit",),
        ("run", "--dry-run"),
        ("sim", "show"),
        ("validate",),
        ("approvals",),
        ("breaker", "status"),
    ],
)
def test_readers_do_not_wait_for_a_writer(scenario: Scenario, args: Sequence[str]) -> None:
    scenario.cli("sim", "init", "--scenario", "seed")
    with held_by_another_process(scenario):
        started = time.monotonic()
        scenario.cli("--lock-timeout", "30s", *args, expect=None)
        assert time.monotonic() - started < 10


def test_a_killed_writer_does_not_block_the_next(scenario: Scenario) -> None:
    scenario.cli("sim", "init", "--scenario", "seed")
    with held_by_another_process(scenario) as holder:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    code, output = reconciler(scenario, "--lock-timeout", "0s", "run")
    assert code == 0, output
    assert f"note: the previous writer, `reconciler run --wait` (pid {holder.pid})" in output
    assert len(scenario.records(SERVICE, "operation_executed")) == 1


@pytest.mark.parametrize("when", ["holding the lock", "after its first audit commit"])
def test_a_writer_killed_mid_run_does_not_block_the_next(scenario: Scenario, when: str) -> None:
    scenario.cli("sim", "init", "--scenario", "seed", "--history", "10m")
    start_head = head(scenario)
    run = start(scenario, "run", "--wait")
    assert wait_until_held(scenario, run)
    deadline = time.monotonic() + 20
    while when != "holding the lock" and head(scenario) == start_head and run.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.001)
    run.kill()
    finish(run)
    code, output = reconciler(scenario, "--lock-timeout", "0s", "run", "--wait")
    no_crash(output)
    assert code == 0, output
    assert (
        len(scenario.records(SERVICE, "operation_executed"))
        + len(scenario.records(SERVICE, "operation_recovered"))
        == 1
    )
    assert index_matches_head_for_audit(scenario)


def test_every_command_that_writes_holds_the_lock() -> None:
    """The commands routed through the repository lock, by the class that takes it: a new
    command that writes must be added here, and to docs/cli.md."""
    from reconciler.cli import main

    def walk(command: click.Command, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
        if isinstance(command, WritingCommand):
            yield path
        if isinstance(command, click.Group):
            for name, sub in subcommands(command).items():
                yield from walk(sub, (*path, name))

    assert sorted(" ".join(p) for p in walk(main, ())) == [
        "breaker reset",
        "request",
        "run",
        "sim advance",
        "sim init",
        "sim set",
    ]
    run = subcommands(main)["run"]
    assert isinstance(run, WritingCommand) and run.read_only_with == "dry_run"


# --------------------------------------------------------------------------- git's locks


def test_proposal_and_notes_locks_left_by_a_killed_run_are_removed(scenario: Scenario) -> None:
    scenario.cli("sim", "init", "--history", "10m")
    scenario.cli("sim", "set", SERVICE, *DEMO_2)
    left = [
        scenario.root / ".git/refs/heads/reconciler/todo-frontend/scale-beyond-limits.lock",
        scenario.root / ".git/refs/notes/reconciler.lock",
    ]
    for path in left:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    code, output = reconciler(scenario, "run")
    no_crash(output)
    assert code == 0, output
    assert not any(path.exists() for path in left)
    assert output.count("note: removed git's lock file") == 2
    assert scenario.repo.references.get("refs/heads/reconciler/todo-frontend/scale-beyond-limits")
    assert len(scenario.records(SERVICE, "approval_requested")) == 1


def age(path: Path, seconds: float) -> None:
    moment = time.time() - seconds
    os.utime(path, (moment, moment))


def test_a_young_index_lock_is_named_and_the_next_writer_repairs_the_index(
    scenario: Scenario,
) -> None:
    require_tool("git", "apt-get install git")
    scenario.cli("sim", "init", "--scenario", "seed")
    index_lock = scenario.root / ".git" / "index.lock"
    index_lock.write_text("")
    code, output = reconciler(scenario, "run")
    no_crash(output)
    assert code == 0, output
    # The work is done and committed; the index could not follow, and that is said once.
    assert len(scenario.records(SERVICE, "operation_executed")) == 1
    assert "warning: git's index does not list 3 committed file(s) under audit/: " in output
    assert f"when no git command is running: rm {index_lock}" in output
    assert index_lock.exists()  # it may be a person's `git commit`: not removed
    assert not index_matches_head_for_audit(scenario)

    index_lock.unlink()  # as the warning says
    code, output = reconciler(scenario, "sim", "advance", "1s")  # any command that writes
    assert code == 0, output
    assert "note: added 3 committed audit record(s) to git's index" in output
    assert index_matches_head_for_audit(scenario)
    recorded = audit_paths(scenario.repo.head.peel(pygit2.Commit))
    assert len(recorded) == 3
    assert audit_paths(person_commits_everything(scenario)) == recorded


def test_an_index_lock_left_long_ago_is_removed_and_the_index_kept_in_step(
    scenario: Scenario,
) -> None:
    require_tool("git", "apt-get install git")
    scenario.cli("sim", "init", "--scenario", "seed")
    index_lock = scenario.root / ".git" / "index.lock"
    index_lock.write_text("")
    age(index_lock, INDEX_LOCK_STALE + 60)
    code, output = reconciler(scenario, "run")
    no_crash(output)
    assert code == 0, output
    assert "note: removed git's lock file" in output and "warning" not in output
    assert not index_lock.exists()
    assert index_matches_head_for_audit(scenario)
    recorded = audit_paths(scenario.repo.head.peel(pygit2.Commit))
    assert len(recorded) == 3
    assert audit_paths(person_commits_everything(scenario)) == recorded


def test_a_held_branch_lock_stops_the_run_with_its_fix(scenario: Scenario) -> None:
    """No record can be written: the one change made is named as unrecorded, nothing more is
    changed, and the run exits 5 (audit records could not be stored)."""
    scenario.cli("sim", "init", "--scenario", "seed")
    branch_lock = scenario.root / ".git" / "refs" / "heads" / "main.lock"
    branch_lock.write_text("")
    code, output = reconciler(scenario, "run")
    no_crash(output)
    assert code == 5, output
    assert f"committing audit records: git's lock file {branch_lock} exists" in output
    assert f"rm {branch_lock}" in output
    assert "error: the audit trail could not be written, so the run stopped changing" in output
    assert branch_lock.exists()
    branch_lock.unlink()
    code, output = reconciler(scenario, "run")
    assert code == 0, output
    assert len(scenario.records(SERVICE, "operation_recovered")) == 1
