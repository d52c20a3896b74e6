"""Printing: aligned tables for people, JSON for scripts. No colour, so logs stay clean."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from reconciler.core.problems import Problem


def emit_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=False, default=str))


def warn(problems: Iterable[Problem]) -> None:
    """Warnings beside a command's output (uncommitted blueprint edits it leaves aside, audit
    records it skipped), one line each on standard error, so the output itself stays as is;
    `-o json` carries them in its `warnings` instead."""
    for problem in problems:
        click.echo(problem.render(), err=True)


def plural(count: int, word: str) -> str:
    """`1 service`, `2 services`: a count with its noun, which takes an s unless it is one."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain text table; the last column is left unpadded so long text does not wrap early.
    Cells are cleaned (`clean_line`): text from the trail, such as a request's reason, never
    repaints the terminal or breaks the table."""
    from reconciler.core.records import clean_line

    cells = [[clean_line(str(cell)) for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(cell))

    def line(values: Sequence[str]) -> str:
        padded = [v.ljust(widths[i]) for i, v in enumerate(values[:-1])]
        return "  ".join([*padded, values[-1]]).rstrip()

    return "\n".join([line(list(headers)), *(line(row) for row in cells)])


OUTPUT_OPTION = click.option(
    "--output",
    "-o",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text for people, json for scripts.",
)
