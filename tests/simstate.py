"""The simulated cluster's state file as a person reads and edits it with sqlite3: the rows as
stored, so a test sees what a save wrote, and can write a value the CLI would refuse."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

SAMPLE_COLUMNS = ("at", "cpu", "memory", "latency", "errors", "throughput")


@contextlib.contextmanager
def _db(path: Path) -> Iterator[sqlite3.Connection]:
    assert path.is_file(), path
    db = sqlite3.connect(path)
    try:
        with db:  # one transaction, committed on success
            yield db
    finally:
        db.close()


def deployment(path: Path, name: str, namespace: str = "todo-app") -> dict[str, Any]:
    """A stored deployment's state, with the row's generation."""
    with _db(path) as db:
        row = db.execute(
            "SELECT generation, state FROM deployments WHERE namespace = ? AND name = ?",
            (namespace, name),
        ).fetchone()
    assert row is not None, f"{namespace}/{name} is not stored in {path}"
    return {**json.loads(row[1]), "generation": row[0]}


def cluster(path: Path) -> dict[str, Any]:
    """The stored clock and settings, with the row's generation."""
    with _db(path) as db:
        generation, state = db.execute("SELECT generation, state FROM cluster").fetchone()
    return {**json.loads(state), "generation": generation}


def samples(path: Path, name: str, namespace: str = "todo-app") -> list[dict[str, Any]]:
    with _db(path) as db:
        rows = db.execute(
            "SELECT at, cpu, memory, latency, errors, throughput FROM samples "
            "WHERE namespace = ? AND name = ? ORDER BY at",
            (namespace, name),
        ).fetchall()
    return [dict(zip(SAMPLE_COLUMNS, row, strict=True)) for row in rows]


def everything(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to compare before and after a command."""
    with _db(path) as db:
        return {
            table: db.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
            for table in ("cluster", "deployments", "samples")
        }


def edit_deployment(
    path: Path, name: str, change: Callable[[dict[str, Any]], None], namespace: str = "todo-app"
) -> None:
    """Change a stored deployment's state in place (its generation stays, as a hand edit
    leaves it)."""
    with _db(path) as db:
        (state,) = db.execute(
            "SELECT state FROM deployments WHERE namespace = ? AND name = ?", (namespace, name)
        ).fetchone()
        data = json.loads(state)
        change(data)
        db.execute(
            "UPDATE deployments SET state = ? WHERE namespace = ? AND name = ?",
            (json.dumps(data), namespace, name),
        )


def set_generation(path: Path, name: str, generation: object, namespace: str = "todo-app") -> None:
    with _db(path) as db:
        db.execute(
            "UPDATE deployments SET generation = ? WHERE namespace = ? AND name = ?",
            (generation, namespace, name),
        )


def edit_cluster(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    with _db(path) as db:
        (state,) = db.execute("SELECT state FROM cluster").fetchone()
        data = json.loads(state)
        change(data)
        db.execute("UPDATE cluster SET state = ?", (json.dumps(data),))


def edit_samples(path: Path, name: str, column: str, value: object) -> None:
    """Set one column of every stored sample of a deployment."""
    assert column in SAMPLE_COLUMNS
    with _db(path) as db:
        db.execute(f"UPDATE samples SET {column} = ? WHERE name = ?", (value, name))
