"""Problems found in configuration, in one shape for people, for scripts and for CI annotations.

Validation reports every problem rather than stopping at the first, so each one carries its own
file, position, field path, message and fix. Rendering lives here too, so `validate`, `run` and
the GitHub annotations all say the same thing in the same words.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Problem", "Severity", "format_path", "has_errors", "workflow_command"]


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, kw_only=True)
class Problem:
    file: str
    path: str
    message: str
    hint: str = ""
    line: int | None = None
    column: int | None = None
    severity: Severity = Severity.ERROR
    code: str = ""

    def location(self) -> str:
        parts = [self.file]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def render(self) -> str:
        """`file:line:col: field.path: message (fix: hint)`, one line."""
        prefix = "" if self.severity is Severity.ERROR else "warning: "
        where = f"{self.path}: " if self.path else ""
        fix = f" (fix: {self.hint})" if self.hint else ""
        return f"{self.location()}: {prefix}{where}{self.message}{fix}"

    def annotation(self) -> str:
        """A GitHub Actions workflow command that marks the line in the pull request."""
        return workflow_command(
            "error" if self.severity is Severity.ERROR else "warning",
            self.message + (f" (fix: {self.hint})" if self.hint else ""),
            file=self.file,
            line=self.line,
            col=self.column,
            title=self.path or "blueprint",
        )

    def to_json(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "severity": str(self.severity),
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
        }


def workflow_command(
    level: str,
    message: str,
    *,
    file: str | None = None,
    line: int | None = None,
    col: int | None = None,
    title: str | None = None,
) -> str:
    """A GitHub Actions annotation (`::error file=...,line=...::message`), escaped so that a
    message with newlines, colons or commas cannot break out of it or forge another command."""
    props = []
    if file:
        props.append(f"file={_escape_property(file)}")
        if line is not None:
            props.append(f"line={line}")
            if col is not None:
                props.append(f"col={col}")
    if title:
        props.append(f"title={_escape_property(title)}")
    head = f"::{level} {','.join(props)}" if props else f"::{level}"
    return f"{head}::{_escape_data(message)}"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def format_path(path: Iterable[str | int]) -> str:
    """("spec", "metrics", 0, "weight") → `spec.metrics[0].weight`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def has_errors(problems: Iterable[Problem]) -> bool:
    return any(problem.severity is Severity.ERROR for problem in problems)
