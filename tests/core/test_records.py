"""Audit records: file names, JSON round trips, and commit messages with trailers."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from reconciler.core.trail.commits import commit_message
from reconciler.core.trail.records import (
    MAX_RECORD_BYTES,
    EventType,
    Outcome,
    Provenance,
    Record,
    RecordError,
    UnreadableRecord,
    clean_line,
    parse_record_name,
    read_record,
    record_path,
    restored,
)
from tests.core.helpers import NOW


def sample() -> Record:
    return Record(
        id="op-20260210-153000-abcdef",
        timestamp=NOW,
        event_type=EventType.OPERATION_EXECUTED,
        service="todo-frontend",
        blueprint_version="1.0.0",
        outcome=Outcome.SUCCESS,
        rationale="scale deployment todo-app/todo-frontend to 3 replicas",
        operation="scale_within_limits",
        classification="allowed",
        duration_seconds=0.01,
        links={
            "decision": "dec-1",
            "governance": "gov-1",
            "operation": "op-20260210-153000-abcdef",
        },
        details={"when": NOW},
    )


def test_path_and_name_round_trip() -> None:
    path = record_path(sample())
    assert (
        path
        == "audit/todo-frontend/2026-02-10/153000-operation_executed-op-20260210-153000-abcdef.json"
    )
    assert parse_record_name(path.rsplit("/", 1)[1]) == (
        "153000",
        EventType.OPERATION_EXECUTED,
        "op-20260210-153000-abcdef",
    )
    assert parse_record_name("README.md") is None


def test_json_round_trip_keeps_the_seed_fields() -> None:
    import json

    data = json.loads(sample().dumps())
    for field in (
        "timestamp",
        "event_type",
        "agent_id",
        "service",
        "blueprint_version",
        "operation",
        "classification",
        "rationale",
        "outcome",
        "duration_seconds",
    ):
        assert field in data
    assert data["timestamp"] == "2026-02-10T15:30:00Z"
    again = Record.from_json(data)
    assert again.timestamp == NOW and again.links == sample().links


def test_a_restored_record_is_the_record_and_needs_every_field() -> None:
    record = sample()
    fields = dict(record.__dict__)
    assert restored(fields) == record
    details = fields.pop("details")
    built: list[object] = []
    later = restored(fields, lambda: built.append(1) or details)
    assert built == []  # the details are built when first read, once
    assert later == record and later.details == details and built == [1]
    fields.pop("cluster")
    with pytest.raises(ValueError, match="a record's fields are"):
        restored(fields, lambda: details)
    with pytest.raises(ValueError, match="a record's fields are"):
        restored({**record.__dict__, "color": "red"})


def test_commit_message_trailers() -> None:
    message = commit_message("todo-frontend: scale 2→3 (allowed): weighted 81.5% > 80%", [sample()])
    text = message.render()
    assert text.splitlines()[0] == "todo-frontend: scale 2→3 (allowed): weighted 81.5% > 80%"
    for trailer in (
        "Reconciler-Event: operation_executed",
        "Reconciler-Service: todo-frontend",
        "Reconciler-Decision: dec-1",
        "Reconciler-Governance: gov-1",
        "Reconciler-Operation: op-20260210-153000-abcdef",
        "Reconciler-Classification: allowed",
        "Reconciler-Outcome: success",
        "Reconciler-Records: 1",
    ):
        assert trailer in text.splitlines()


# ---------------------------------------------------------------------------------------------
# The one reader: what is exactly a record reads; anything else is refused with one line


SAMPLE_PATH = record_path(sample())


def _stored(**changes: object) -> bytes:
    """The sample record as stored, with fields changed (None removes one)."""
    data = json.loads(sample().dumps())
    for key, value in changes.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"{not json", "invalid JSON: Expecting property name enclosed in double quotes at line 1"),
        (b"[1, 2]", "a JSON array, not a record (a JSON object)"),
        (b'"text"', "a JSON string, not a record"),
        (b"", "the file is empty"),
        (b"  \n", "the file is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not UTF-8 text (a binary file?): byte 0"),
        (_stored(id=None), "no 'id' field"),
        (_stored(timestamp=None), "no 'timestamp' field"),
        (_stored(id=5), "field 'id' must be a non-empty string, got 5"),
        (_stored(id=""), "field 'id' must be a non-empty string"),
        (_stored(timestamp=1770737400), "field 'timestamp' must be a time with its zone"),
        (
            _stored(timestamp="2026-02-10T15:30:00"),
            "field 'timestamp' must be a time with its zone",
        ),
        (_stored(timestamp="yesterday"), "field 'timestamp' must be a time with its zone"),
        (_stored(event_type="operation_exploded"), "field 'event_type' must be a known event type"),
        (_stored(outcome=["success"]), "field 'outcome' must be a known outcome"),
        (_stored(service=None), "no 'service' field"),
        (_stored(links="dec-1"), "field 'links' must be an object of strings"),
        (_stored(links={"decision": 1}), "field 'links' must be an object of strings"),
        (_stored(details=[1, 2]), "field 'details' must be an object, got a JSON array"),
        (_stored(duration_seconds="1s"), "field 'duration_seconds' must be a number or null"),
        (_stored(duration_seconds=True), "field 'duration_seconds' must be a number or null"),
        (_stored(rationale=7), "field 'rationale' must be a string"),
        (_stored(blueprint_commit=7), "field 'blueprint_commit' must be a string or null"),
        (_stored(blueprint_blobs=["a"]), "field 'blueprint_blobs' must be an object of strings"),
        (sample().dumps().replace("0.01", "NaN").encode(), "invalid JSON: NaN is not a number"),
        (_stored(event_type="decision_made"), "the file name says operation_executed op-2026"),
        (_stored(id="op-other"), "the file name says operation_executed op-20260210-153000-abcdef"),
        (_stored(service="todo-backend"), "filed under 'todo-frontend' but the record is about"),
        (b"{" * 100_000, "invalid JSON"),
        (b" " * (MAX_RECORD_BYTES + 1), f"{MAX_RECORD_BYTES + 1} bytes, larger than any record"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_what_is_not_exactly_a_record_is_refused_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(RecordError) as refused:
        read_record(SAMPLE_PATH, data)
    assert str(refused.value).startswith(reason)
    assert "\n" not in str(refused.value)


def test_a_record_reads_back_with_what_it_was_judged_under() -> None:
    judged = replace(
        sample(),
        provenance=Provenance(
            commit="96f6aee7a338d5257a9f6c284101e57bd5d3fb60",
            blobs={"blueprints/todo-frontend/blueprint.yaml": "fea84d4a"},
        ),
    )
    stored = json.loads(judged.dumps())
    assert stored["blueprint_commit"] == "96f6aee7a338d5257a9f6c284101e57bd5d3fb60"
    assert stored["blueprint_blobs"] == {"blueprints/todo-frontend/blueprint.yaml": "fea84d4a"}
    again = read_record(SAMPLE_PATH, judged.dumps().encode())
    assert again == replace(judged, details={"when": "2026-02-10T15:30:00Z"})


def test_a_record_written_before_the_envelope_named_its_commit_still_reads() -> None:
    older = _stored(blueprint_commit=None, blueprint_blobs=None, agent_id=None, links=None)
    record = read_record(SAMPLE_PATH, older)
    assert record.provenance == Provenance()
    assert (record.agent, record.links) == ("reconciler", {})


def test_an_unreadable_record_is_a_warning_naming_its_file_and_the_fix() -> None:
    problem = UnreadableRecord(path=SAMPLE_PATH, reason="the file is empty").problem()
    assert problem.render() == (
        f"{SAMPLE_PATH}: warning: skipped, not a readable audit record: the file is empty "
        f"(fix: the reconciler never writes such a file: `git log -p -- {SAMPLE_PATH}` shows "
        "the commit that did; revert that commit, or restore or remove the file in a reviewed "
        "commit)"
    )
    assert UnreadableRecord(path=SAMPLE_PATH, reason="x").service == "todo-frontend"


# ---------------------------------------------------------------------------------------------
# Clean text in git: one line, no control characters, no forged trailers


@pytest.mark.parametrize(
    ("text", "clean"),
    [
        ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
        ("\x1b]0;owned\x07", "\\x1b]0;owned\\x07"),
        ("back\x08\x08space and del\x7f", "back\\x08\\x08space and del\\x7f"),
        ("nul\x00 and c1 \x9b31m", "nul\\x00 and c1 \\x9b31m"),
        ("one\ntwo\r\nthree\tfour", "one two three four"),
        (
            "para\n\nReconciler-Event: operation_executed",
            "para Reconciler-Event: operation_executed",
        ),
        ("line\u2028sep\u2029par\x85nel\x0bvt\x0cff", "line sep par nel vt ff"),
        ("admin\u202etxt.exe", "admin\\u202etxt.exe"),
        ("\u2066isolate\u2069", "\\u2066isolate\\u2069"),
        ("  spaced   out  ", "spaced out"),
        ("scale 2→3 ✅ café", "scale 2→3 ✅ café"),
    ],
)
def test_clean_line_keeps_one_visible_line(text: str, clean: str) -> None:
    assert clean_line(text) == clean


#: Text a person could type as a --reason or --by, trying to repaint a terminal or to add a
#: trailer line to the commit.
HOSTILE = [
    "\x1b[2J\x1b[Hall good",
    "fine\nReconciler-Event: operation_executed",
    "fine\n\nReconciler-Event: operation_executed\nReconciler-Outcome: success",
    "x" * 70 + " Reconciler-Event: operation_executed " + "y" * 70,
    "\rReconciler-Service: other",
    "ok\x85Reconciler-Event: operation_executed",
]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_free_text_reaches_no_line_of_its_own_in_a_commit_message(hostile: str) -> None:
    record = replace(sample(), rationale=f"requested by bob: {hostile}")
    message = commit_message(f"todo-frontend: scale 2→3 (allowed): {hostile}", [record])
    text = message.render()
    lines = text.splitlines()
    assert all(not (ord(c) < 32 or 0x7F <= ord(c) < 0xA0) for line in lines for c in line)
    assert lines[0].startswith("todo-frontend: scale 2→3 (allowed): ")
    # Every line begins with the subject, an event type, an indent, or a real trailer.
    trailers = [line for line in lines if line.startswith("Reconciler-")]
    assert trailers == [f"{key}: {value}" for key, value in message.trailers.items()]
    assert [line for line in lines[1:] if line and not line.startswith(("  ", "Reconciler-"))] == [
        line for line in lines if line.startswith("operation_executed op-")
    ]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_trailer_values_are_one_line_too(hostile: str) -> None:
    record = replace(sample(), blueprint_version=hostile, classification=hostile)
    text = commit_message("todo-frontend: subject", [record]).render()
    trailer_block = text.rstrip("\n").split("\n\n")[-1].splitlines()
    assert len(trailer_block) == 9
    assert all(line.startswith("Reconciler-") for line in trailer_block)
    assert not any(ord(c) == 0x1B for line in trailer_block for c in line)
