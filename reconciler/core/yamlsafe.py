"""Reading YAML that a person wrote, defensively, and remembering where every value was.

Blueprints arrive through pull requests, so the parser treats them as untrusted input: a size
cap, a cap on alias expansion (a "billion laughs" document is tiny on disk and huge in memory),
strict UTF-8, one document only, and duplicate keys refused (YAML silently keeps the last one,
which would let a second `forbidden_operations:` quietly replace the first).

Dates stay strings: `created: 2026-02-10` must not become a `date` object that the JSON Schema
then rejects with a confusing message.

The result keeps a map from each field path to its line and column, so that every later check,
schema or semantic, can point at the exact place in the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

__all__ = ["MAX_BYTES", "MAX_NODES", "Document", "Path", "YamlError", "parse_yaml"]

#: Larger than any sensible blueprint by two orders of magnitude.
MAX_BYTES = 256 * 1024
#: Nodes after alias expansion; a real blueprint has a few hundred.
MAX_NODES = 20_000

Path = tuple[str | int, ...]


class YamlError(ValueError):
    """The bytes are not a usable YAML mapping. Line and column are 1-based when known."""

    def __init__(self, message: str, hint: str, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.hint = hint
        self.line = line
        self.column = column


@dataclass(frozen=True)
class Document:
    """A parsed mapping plus where each path sits in the source (1-based line, column)."""

    data: dict[str, Any]
    key_marks: Mapping[Path, tuple[int, int]]
    value_marks: Mapping[Path, tuple[int, int]]
    #: Paths of scalars written in quotes, so columns inside them can be reported exactly.
    quoted: frozenset[Path] = frozenset()
    #: Character offsets (start, end) of each scalar value, for editing a value in place.
    spans: Mapping[Path, tuple[int, int]] = field(default_factory=dict)

    def position(self, path: Path) -> tuple[int | None, int | None]:
        """The closest known position: the key itself, else the nearest enclosing one."""
        for end in range(len(path), -1, -1):
            prefix = path[:end]
            mark = self.key_marks.get(prefix) or self.value_marks.get(prefix)
            if mark:
                return mark
        return None, None


try:  # libyaml is several times faster; the pure-Python parser is the fallback.
    _BaseLoader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _BaseLoader = yaml.SafeLoader


class _Loader(_BaseLoader):  # type: ignore[misc]
    """SafeLoader without the implicit timestamp type."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _decode(data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        raise YamlError(
            f"byte 0x{data[error.start]:02x} at offset {error.start} is not valid UTF-8",
            "save the file as UTF-8",
            line,
            column,
        ) from None
    return text.removeprefix("\ufeff")


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


@dataclass
class _Walk:
    """State of one walk: positions found so far, and the node budget left."""

    loader: Any
    key_marks: dict[Path, tuple[int, int]]
    value_marks: dict[Path, tuple[int, int]]
    quoted: set[Path]
    spans: dict[Path, tuple[int, int]] = field(default_factory=dict)
    budget: int = MAX_NODES


_SCALARS = {
    "tag:yaml.org,2002:int": "construct_yaml_int",
    "tag:yaml.org,2002:float": "construct_yaml_float",
    "tag:yaml.org,2002:bool": "construct_yaml_bool",
    "tag:yaml.org,2002:null": "construct_yaml_null",
}


def _walk(state: _Walk, node: yaml.Node, path: Path) -> Any:
    """Build the value of `node` while recording where each path sits: one pass, not two.

    Aliases are expanded as they are met, so the node budget is what stops an expansion bomb:
    the walk gives up after MAX_NODES nodes however small the file is.
    """
    state.budget -= 1
    if state.budget < 0:
        raise YamlError(
            f"the document expands to more than {MAX_NODES} values through aliases",
            "remove the anchors and aliases (&name / *name)",
            *_mark(node),
        )
    if len(path) > 50:
        raise YamlError("the document nests deeper than 50 levels", "flatten the structure")
    state.value_marks[path] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        seen: dict[object, int] = {}
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                line, column = _mark(key_node)
                raise YamlError("a mapping key must be a plain value", "use a name", line, column)
            if key_node.tag == "tag:yaml.org,2002:merge":
                line, column = _mark(key_node)
                raise YamlError(
                    "merge keys (<<) are not supported", "write the keys out", line, column
                )
            key = _scalar(state.loader, key_node)
            line, column = _mark(key_node)
            if key in seen:
                raise YamlError(
                    f"duplicate key {key!r} (first on line {seen[key]})",
                    "keep one of the two entries",
                    line,
                    column,
                )
            seen[key] = line
            child = (*path, key)
            state.key_marks[child] = (line, column)
            result[key] = _walk(state, value_node, child)
        return result
    if isinstance(node, yaml.SequenceNode):
        items = []
        for index, item in enumerate(node.value):
            state.key_marks[(*path, index)] = _mark(item)
            items.append(_walk(state, item, (*path, index)))
        return items
    if isinstance(node, yaml.ScalarNode) and node.style in {"'", '"'}:
        state.quoted.add(path)
    state.spans[path] = (node.start_mark.index, node.end_mark.index)
    return _scalar(state.loader, node)


def _scalar(loader: Any, node: yaml.Node) -> Any:
    if node.tag == "tag:yaml.org,2002:str":
        return node.value
    method = _SCALARS.get(node.tag)
    return getattr(loader, method)(node) if method else loader.construct_object(node)


def _marked_position(error: yaml.MarkedYAMLError) -> tuple[int | None, int | None]:
    mark = error.problem_mark or error.context_mark
    return (mark.line + 1, mark.column + 1) if mark else (None, None)


def _marked(error: yaml.MarkedYAMLError) -> YamlError:
    problem = error.problem or error.context or "invalid YAML"
    return YamlError(
        f"invalid YAML: {problem}",
        "check the indentation and quoting near here",
        *_marked_position(error),
    )


def parse_yaml(data: bytes, *, what: str = "blueprint") -> Document:
    """Parse untrusted bytes into a mapping with positions, or raise YamlError."""
    if len(data) > MAX_BYTES:
        raise YamlError(
            f"the file is {len(data)} bytes, over the {MAX_BYTES}-byte limit",
            f"a {what} is a short document; split or trim it",
        )
    text = _decode(data)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise YamlError(
                "the file is empty", f"write a {what} mapping (see docs/blueprint-format.md)"
            )
        state = _Walk(loader=loader, key_marks={}, value_marks={}, quoted=set())
        data_obj = _walk(state, node, ())
    except yaml.composer.ComposerError as error:
        if "another document" not in str(error.problem):
            raise _marked(error) from None
        raise YamlError(
            "the file holds more than one YAML document (a second `---`)",
            "keep one blueprint per file",
            *_marked_position(error),
        ) from None
    except yaml.MarkedYAMLError as error:
        raise _marked(error) from None
    except yaml.YAMLError as error:
        raise YamlError(f"invalid YAML: {error}", "check the file's syntax") from None
    except RecursionError:
        raise YamlError("the document nests too deeply", "flatten the structure") from None
    finally:
        loader.dispose()
    if not isinstance(data_obj, dict):
        found = "a list" if isinstance(data_obj, list) else f"a single value ({data_obj!r:.40})"
        raise YamlError(
            f"the top level is {found}, not a mapping",
            f"a {what} starts with keys such as `metadata:` and `spec:`",
            1,
            1,
        )
    return Document(
        data=data_obj,
        key_marks=state.key_marks,
        value_marks=state.value_marks,
        quoted=frozenset(state.quoted),
        spans=state.spans,
    )
