"""Reading a manifest file for write-back: its text, its YAML documents, the one object a
blueprint names, and each scalar's site (file, line, characters), with problems that name the
file and line of whatever is missing or unusable."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.core.blueprint.yamlsafe import (
    Document,
    Path,
    YamlError,
    parse_documents,
    parse_yaml,
)
from reconciler.core.problems import Problem, Severity

__all__ = [
    "CONTAINERS",
    "ManifestError",
    "Site",
    "container_requests",
    "documents_of",
    "field_name",
    "has",
    "lookup",
    "missing",
    "pick",
    "problem",
    "single_document",
    "site_of",
    "value_at",
]

#: Where a Deployment's containers are, in a manifest or a strategic-merge patch.
CONTAINERS: Path = ("spec", "template", "spec", "containers")


class ManifestError(ValueError):
    """The location cannot be used as it is: every problem found, each with file and line."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(problem.render() for problem in problems))
        self.problems = tuple(problems)

    @property
    def hint(self) -> str:
        return self.problems[0].hint if self.problems else ""


@dataclass(frozen=True, kw_only=True)
class Site:
    """One scalar in one file: where it is, how it is written, and what it holds."""

    file: str
    #: The field inside the file, for people: `spec.replicas`, `replicas[0].count`, ...
    field: str
    line: int
    column: int
    #: Character offsets of the scalar (quotes included) in the file's text.
    start: int
    end: int
    #: The scalar as written, and its value.
    text: str
    value: Any

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


def problem(
    file: str,
    field: str,
    message: str,
    hint: str,
    line: int | None = None,
    column: int | None = None,
    *,
    code: str = "manifests",
    severity: Severity = Severity.ERROR,
) -> Problem:
    return Problem(
        file=file,
        path=field,
        message=message,
        hint=hint,
        line=line,
        column=column,
        code=code,
        severity=severity,
    )


def field_name(path: Path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def site_of(file: str, text: str, document: Document, path: Path, offset: int = 0) -> Site:
    start, end = document.spans[path]
    line, column = document.value_marks[path]
    return Site(
        file=file,
        field=field_name(path[offset:]),
        line=line,
        column=column,
        start=start,
        end=end,
        text=text[start:end],
        value=value_at(document.data, path),
    )


def value_at(data: Any, path: Path) -> Any:
    node = data
    for part in path:
        node = node[part]
    return node


def has(data: Any, path: Path) -> bool:
    node = data
    for part in path:
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                return False
        elif not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


def text_of(file: str, data: bytes | None) -> str:
    if data is None:
        raise ManifestError(
            [problem(file, "", "no such file", "check spec.manifests in the blueprint")]
        )
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise ManifestError([problem(file, "", "not UTF-8", "save the file as UTF-8")]) from None


def documents_of(file: str, data: bytes | None) -> tuple[str, list[Document | None]]:
    text = text_of(file, data)
    try:
        return text, parse_documents(text.encode(), what="manifest")
    except YamlError as error:
        raise ManifestError(
            [problem(file, "", str(error), error.hint, error.line, error.column, code="yaml")]
        ) from None


def pick(file: str, documents: Sequence[Document | None], kind: str, name: str) -> Document:
    """The one document of `kind` named `name`."""
    found = [
        d
        for d in documents
        if d is not None
        and d.data.get("kind") == kind
        and isinstance(d.data.get("metadata"), Mapping)
        and d.data["metadata"].get("name") == name
    ]
    if len(found) == 1:
        return found[0]
    if found:
        line = found[1].position(("kind",))[0]
        raise ManifestError(
            [
                problem(
                    file,
                    "",
                    f"{len(found)} documents are {kind} {name}",
                    "keep one document per object in the file",
                    line,
                )
            ]
        )
    others = [
        f"{d.data.get('kind')}/{(d.data.get('metadata') or {}).get('name')}"
        for d in documents
        if d is not None and isinstance(d.data.get("metadata") or {}, Mapping)
    ]
    listing = f" (it holds {', '.join(others)})" if others else " (it holds no object)"
    raise ManifestError(
        [
            problem(
                file,
                "",
                f"no document is {kind} {name}{listing}",
                "set spec.manifests.kind and name to the object the GitOps tool applies",
                1,
            )
        ]
    )


def container_requests(file: str, text: str, document: Document, resource: str) -> tuple[Site, ...]:
    """Each container's request of `resource` (cpu or memory), for those that set one."""
    containers = value_at(document.data, CONTAINERS) if has(document.data, CONTAINERS) else []
    sites = []
    for index, _container in enumerate(containers if isinstance(containers, list) else []):
        path = (*CONTAINERS, index, "resources", "requests", resource)
        if has(document.data, path) and path in document.spans:
            sites.append(site_of(file, text, document, path))
    return tuple(sites)


def single_document(file: str, data: bytes | None) -> tuple[str, Document]:
    text = text_of(file, data)
    try:
        return text, parse_yaml(text.encode(), what="file")
    except YamlError as error:
        raise ManifestError(
            [problem(file, "", str(error), error.hint, error.line, error.column, code="yaml")]
        ) from None


def missing(file: str, document: Document, path: Path, what: str, hint: str) -> ManifestError:
    """A key the location needs is not there: point at the closest enclosing key."""
    line, column = document.position(path)
    return ManifestError(
        [problem(file, field_name(path), f"has no {field_name(path)} ({what})", hint, line, column)]
    )


def lookup(data: Any, path: Path) -> Any:
    return value_at(data, path) if has(data, path) else None
