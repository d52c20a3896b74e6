"""A broken audit record is skipped and named by every reader, and stops only its service.

Each malformed shape is committed under audit/todo-backend/ in a seeded repository; then every
command that reads the trail runs. None prints a traceback, each exits as docs/cli.md says,
names the file (in text and in JSON), and in the same `run` the healthy todo-frontend still
scales 2→3 while todo-backend is an error that names the file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from tests.scenarios.conftest import Scenario, init_repo

BROKEN = "audit/todo-backend/2026-02-10/152000-approval_requested-apr-20260210-152000-b0b0b0.json"

#: A record as the reconciler writes it, for the shapes that break one field of it.
GOOD = {
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


def _without(key: str) -> bytes:
    return json.dumps({k: v for k, v in GOOD.items() if k != key}).encode()


def _with(**changes: object) -> bytes:
    return json.dumps({**GOOD, **changes}).encode()


SHAPES = {
    "invalid JSON": (b'{"id": "apr-1", ', "invalid JSON"),
    "a JSON array": (b'[{"id": "apr-1"}]', "a JSON array, not a record"),
    "missing id": (_without("id"), "no 'id' field"),
    "missing timestamp": (_without("timestamp"), "no 'timestamp' field"),
    "timestamp of the wrong type": (_with(timestamp=1770736800), "field 'timestamp' must be"),
    "links of the wrong type": (_with(links=["apr-1"]), "field 'links' must be an object"),
    "details of the wrong type": (_with(details="none"), "field 'details' must be an object"),
    "empty file": (b"", "the file is empty"),
    "binary": (bytes(range(256)) * 4, "not UTF-8 text (a binary file?)"),
}


class Broken:
    """One seeded repository with one malformed record, and the first run on it."""

    def __init__(self, root: Path, data: bytes) -> None:
        self.scenario = Scenario(root)
        init_repo(root)
        self.scenario.cli("sim", "init", "--scenario", "seed")
        path = root / BROKEN
        path.parent.mkdir(parents=True)
        path.write_bytes(data)
        self.scenario.commit_all("a record edited by hand")
        self.run = self.scenario.cli("run", expect=1)


@pytest.fixture(scope="module", params=list(SHAPES), ids=list(SHAPES))
def broken(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Broken, str]]:
    data, reason = SHAPES[request.param]
    root = tmp_path_factory.mktemp("broken") / "fleet"
    root.mkdir()
    yield Broken(root, data), reason


def _clean(result: Result) -> str:
    assert "Traceback" not in result.output
    return result.output


def _warned(report: Any, reason: str) -> None:
    assert isinstance(report, dict)
    (warning,) = [w for w in report["warnings"] if w["file"] == BROKEN]
    assert warning["severity"] == "warning" and warning["code"] == "record.unreadable"
    assert reason in warning["message"]


def test_run_scales_the_healthy_service_and_names_the_file(broken: tuple[Broken, str]) -> None:
    fixture, reason = broken
    text = _clean(fixture.run)
    frontend = next(line for line in text.splitlines() if line.startswith("todo-frontend "))
    backend = next(line for line in text.splitlines() if line.startswith("todo-backend "))
    assert "scale_up 2→3" in frontend and "executed" in frontend
    assert "error" in backend and BROKEN in backend and reason in backend
    assert "its cooldown, rate limits and circuit breaker are unknown" in backend
    assert f"{BROKEN}: warning: skipped, not a readable audit record: {reason}" in text
    executed = fixture.scenario.records("todo-frontend", "operation_executed")
    assert [r["details"]["post_operation_state"]["replicas"] for r in executed] == [3]
    assert fixture.scenario.records("todo-backend") == []  # nothing decided or done for it
    # The same in JSON, from a dry run of the same state.
    report = fixture.scenario.json("run", "--dry-run", expect=1)
    _warned(report, reason)
    rows = {row["service"]: row for row in report["services"]}  # type: ignore[index]
    assert BROKEN in rows["todo-backend"]["error"]


@pytest.mark.parametrize(
    "command",
    [
        ("audit",),
        ("audit", "-s", "todo-backend"),
        ("status",),
        ("approvals",),
        ("breaker", "status"),
        ("explain", "<frontend decision>"),
        ("plan",),
    ],
    ids=" ".join,
)
def test_every_reader_keeps_working_and_names_the_file(
    broken: tuple[Broken, str], command: tuple[str, ...]
) -> None:
    fixture, reason = broken
    scenario = fixture.scenario
    if command[0] == "explain":
        decision = scenario.records("todo-frontend", "decision_made")[0]["id"]
        command = ("explain", decision)
    text = _clean(scenario.cli(*command))
    assert f"{BROKEN}: warning: skipped, not a readable audit record: {reason}" in text
    _warned(scenario.json(*command), reason)
    if command[0] == "explain":
        assert "operation_executed" in text
    if command == ("status",):
        backend = next(line for line in text.splitlines() if line.startswith("todo-backend "))
        assert "unknown (1 unreadable record)" in backend


def test_a_request_for_the_service_is_refused_and_names_the_file(
    broken: tuple[Broken, str],
) -> None:
    fixture, reason = broken
    result = fixture.scenario.cli(
        "request", "todo-backend", "scale", "--replicas", "3", "--reason", "load", expect=1
    )
    lines = _clean(result).splitlines()
    assert lines[0].startswith(
        f"error: todo-backend: its audit trail cannot be read in full: {BROKEN}"
    )
    assert reason in lines[0]
    assert lines[1].startswith(
        f"hint: the reconciler never writes such a file: `git log -p -- {BROKEN}`"
    )


def test_run_wait_verifies_the_healthy_service_and_does_not_wait_on_the_broken_one(
    tmp_path: Path,
) -> None:
    """Both services scale; then a record of todo-backend breaks. `run --wait` verifies
    todo-frontend's change and ends: todo-backend's due verification cannot be done until its
    trail reads, so waiting for it (until --wait-timeout) would only delay the run."""
    scenario = Scenario(tmp_path)
    init_repo(tmp_path)
    scenario.cli("sim", "init", "--scenario", "seed")
    scenario.cli("sim", "set", "todo-backend", "cpu_utilization=95%", "memory_utilization=95%")
    scenario.cli("run")
    assert len(scenario.records(event="operation_executed")) == 2
    (tmp_path / BROKEN).write_bytes(b"{not json")
    scenario.commit_all("a record edited by hand")
    result = scenario.cli("run", "--wait", expect=1)
    assert "--wait: nothing left to verify or roll back" in _clean(result)
    assert len(scenario.records("todo-frontend", "verification_passed")) == 1
    assert scenario.records("todo-backend", "verification_passed") == []
