"""Printing: aligned tables for people, JSON or YAML for scripts. No colour, so logs stay clean.

Every command with `-o json` takes `-o yaml` too, through the one option below: a command
branches on `output == "json"` for "structured output", and `emit_json` writes the value in
the format that was asked for. So no command can offer one format and forget the other.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from reconciler.core.problems import Problem


#: Where the option keeps the structured format asked for (`json` or `yaml`).
_FORMAT_KEY = "reconciler.output_format"


def emit_json(value: Any) -> None:
    """Write `value` for scripts: as JSON, or as YAML when the command ran with `-o yaml`
    (the same document: what JSON would carry, keys in the same order)."""
    text = json.dumps(value, indent=2, sort_keys=False, default=str)
    context = click.get_current_context(silent=True)
    if context is not None and context.meta.get(_FORMAT_KEY) == "yaml":
        import yaml

        text = yaml.safe_dump(
            json.loads(text), sort_keys=False, allow_unicode=True, default_flow_style=False
        ).rstrip("\n")
    click.echo(text)


def _structured(context: click.Context, _: click.Parameter, value: str) -> str:
    """`-o yaml` is `-o json` written as YAML: the command sees `json` and `emit_json`
    writes YAML."""
    if value in {"json", "yaml"}:
        context.meta[_FORMAT_KEY] = value
        return "json"
    return value


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
    from reconciler.core.trail.records import clean_line

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
    type=click.Choice(["text", "json", "yaml"]),
    default="text",
    show_default=True,
    callback=_structured,
    help="text for people, json or yaml for scripts.",
)


def percent_cell(value: float | None) -> str:
    from reconciler.core.blueprint.units import format_percent

    return "-" if value is None else format_percent(value)
