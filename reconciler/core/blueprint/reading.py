"""What the checks of one file share: the document, its source and the problems found so far,
and the schema's verdict on it as problems.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.core.blueprint.schemas import iter_issues
from reconciler.core.blueprint.yamlsafe import Document, Path, YamlError, parse_yaml
from reconciler.core.problems import Problem, Severity, format_path

__all__ = ["POLICIES_FILE"]


@dataclass
class CheckContext:
    """What the checks of one file share: where it came from and the problems so far."""

    source: str
    document: Document
    problems: list[Problem]
    #: Why the global policies did not load ("missing" or "invalid"), or "" when they did.
    #: The fleet's own operation names are declared there, so an unknown name may be one.
    policies_unloaded: str = ""

    def add(
        self,
        path: Path,
        message: str,
        hint: str,
        *,
        severity: Severity = Severity.ERROR,
        code: str,
        column_offset: int | None = None,
    ) -> None:
        """A problem at `path`: every one names its fix (`hint`) and its `code`, which
        check-change shows as the rule that refused the file."""
        line, column = self.document.position(path)
        if column_offset is not None:
            value_line, value_column = self.document.value_marks.get(path, (line, column))
            line = value_line
            column = (value_column or 1) + column_offset
        self.problems.append(
            Problem(
                file=self.source,
                path=format_path(path),
                message=message,
                hint=hint,
                line=line,
                column=column,
                severity=severity,
                code=code,
            )
        )


def get_dotted(data: Mapping[str, Any], dotted: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def read_document(data: bytes, source: str, what: str) -> tuple[Document | None, list[Problem]]:
    try:
        return parse_yaml(data, what=what), []
    except YamlError as error:
        problem = Problem(
            file=source,
            path="",
            message=str(error),
            hint=error.hint,
            line=error.line,
            column=error.column,
            code="yaml",
        )
        return None, [problem]


def schema_problems(kind: str, ctx: CheckContext) -> list[Path]:
    """Add every schema problem; return the paths that failed, so clean sections can go on."""
    failed = []
    for issue in iter_issues(kind, ctx.document.data):
        ctx.add(issue.path, issue.message, issue.hint, code="schema")
        failed.append(issue.path)
    return failed


def by_position(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.line or 0, p.column or 0))


#: Where the global policies live in a blueprint repository.
POLICIES_FILE = "blueprints/governance/policies.yaml"


def section_passed(failed: Sequence[Path], *prefix: str) -> bool:
    """True when no schema error lies inside (or above) the section at `prefix`."""
    return not any(path[: len(prefix)] == prefix or prefix[: len(path)] == path for path in failed)
