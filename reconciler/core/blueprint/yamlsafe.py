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

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from reconciler.core.bounds import YAML_MAX_BYTES

if TYPE_CHECKING:
    import yaml

__all__ = [
    "MAX_BYTES",
    "MAX_NODES",
    "Document",
    "Path",
    "YamlError",
    "parse_documents",
    "parse_yaml",
]

#: Larger than any sensible blueprint by two orders of magnitude.
MAX_BYTES = YAML_MAX_BYTES
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


@cache
def _loader() -> Any:
    """SafeLoader without the implicit timestamp type, on libyaml's parser where PyYAML was
    built with it (several times faster; the pure-Python parser is the fallback). Made on
    first use: PyYAML costs a command that reads no YAML (a run whose blueprints were all
    loaded before) a fifth of its start-up."""
    import yaml

    base: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):  # type: ignore[misc]
        pass

    Loader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return Loader


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

    def document(self, data: dict[str, Any]) -> Document:
        """The walked mapping `data`, with the positions found on the way."""
        return Document(
            data=data,
            key_marks=self.key_marks,
            value_marks=self.value_marks,
            quoted=frozenset(self.quoted),
            spans=self.spans,
        )


_SCALARS = {
    "tag:yaml.org,2002:int": "construct_yaml_int",
    "tag:yaml.org,2002:float": "construct_yaml_float",
    "tag:yaml.org,2002:bool": "construct_yaml_bool",
    "tag:yaml.org,2002:null": "construct_yaml_null",
}


def _walk(state: _Walk, node: Any, path: Path) -> Any:
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
    if node.id == "mapping":  # PyYAML's node kinds, without importing it here
        seen: dict[object, int] = {}
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.id != "scalar":
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
    if node.id == "sequence":
        items = []
        for index, item in enumerate(node.value):
            state.key_marks[(*path, index)] = _mark(item)
            items.append(_walk(state, item, (*path, index)))
        return items
    if node.id == "scalar" and node.style in {"'", '"'}:
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


def _marked(error: yaml.MarkedYAMLError, text: str) -> YamlError:
    problem = error.problem or error.context or "invalid YAML"
    line, _ = _marked_position(error)
    if line is not None:
        explained = _indentation(text.splitlines(), line, problem)
        if explained is not None:
            return explained
    return YamlError(
        f"invalid YAML: {problem}",
        "check the indentation and quoting near here",
        *_marked_position(error),
    )


def _key_column(line: str) -> int:
    """Where a line's key starts, counting a list item's `- ` as indentation."""
    column = len(line) - len(line.lstrip(" "))
    while line[column : column + 2] == "- ":
        column += 2
        column += len(line[column:]) - len(line[column:].lstrip(" "))
    return column


def _content(line: str) -> str:
    """The line without a trailing comment (roughly: a `#` after a space)."""
    text = line.strip()
    if text.startswith("#"):
        return ""
    cut = text.find(" #")
    return (text[:cut] if cut >= 0 else text).rstrip()


def _opens_block(line: str) -> bool:
    """`key:` with nothing after it: what follows, indented deeper, is its value."""
    return _content(line).endswith(":")


def _previous(lines: list[str], index: int) -> int | None:
    """The nearest line above `index` that holds YAML (not blank, not only a comment)."""
    for before in range(index - 1, -1, -1):
        if _content(lines[before]) and _content(lines[before]) not in {"---", "..."}:
            return before
    return None


def _key(line: str) -> str:
    content = _content(line)[_key_column(line) - (len(line) - len(line.lstrip())) :]
    return content.split(":", 1)[0].strip() or content


def _indentation(lines: list[str], line: int, problem: str) -> YamlError | None:
    """Name the line whose indentation is off, rather than where the parser noticed.

    A key indented deeper than the line above, when that line's key already has a value, reads
    to YAML as more of that value, and the parser complains at the colon of the next line: a
    key indented two spaces too little on line 10 is reported at line 11, column 27. Looking at
    the lines around says which of the two lines is out of step in the usual cases.
    """
    here = line - 1
    if not 0 <= here < len(lines):
        return None
    above = _previous(lines, here)
    if above is None:
        return None
    if "mapping values are not allowed" in problem:
        if _opens_block(lines[above]) or _key_column(lines[here]) <= _key_column(lines[above]):
            return None
        return _deeper_than_a_value(lines, here, above)
    if "did not find expected key" in problem:
        return _out_of_line(lines, here)
    return None


def _out_of_line(lines: list[str], here: int) -> YamlError | None:
    """A line that lines up with none of the lines it could belong with."""
    start = _indent(lines[here]) + 1
    parent = next(
        (
            index
            for index in range(here - 1, -1, -1)
            if _content(lines[index])
            and _indent(lines[index]) + 1 < start
            and _opens_block(lines[index])
        ),
        None,
    )
    first = _next(lines, -1 if parent is None else parent)
    if first is None or first >= here or _indent(lines[first]) + 1 == start:
        return None
    siblings = _indent(lines[first]) + 1
    under = "at the top level" if parent is None else f"under `{_key(lines[parent])}`"
    return YamlError(
        f"invalid YAML: line {here + 1} starts in column {start}, but the lines {under} start "
        f"in column {siblings} (line {first + 1})",
        f"start `{_key(lines[here])}` in column {siblings}, or line {first + 1} and the lines "
        f"beside it in column {start}: the keys of one mapping line up",
        here + 1,
        start,
    )


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _next(lines: list[str], index: int) -> int | None:
    """The nearest line below `index` that holds YAML."""
    for after in range(index + 1, len(lines)):
        if _content(lines[after]) and _content(lines[after]) not in {"---", "..."}:
            return after
    return None


def _deeper_than_a_value(lines: list[str], here: int, above: int) -> YamlError:
    """Line `here` starts right of line `above`, whose key has a value: which is out of step?"""
    earlier = _previous(lines, above)
    want = _key_column(lines[here]) + 1
    got = _key_column(lines[above]) + 1
    before = None if earlier is None else _key_column(lines[earlier]) + 1
    between_siblings = (
        before is not None and not _opens_block(lines[earlier or 0]) and before == want > got
    )
    first_child = before is not None and _opens_block(lines[earlier or 0]) and got <= before < want
    if between_siblings or first_child:
        return YamlError(
            f"invalid YAML: the key on line {above + 1} starts in column {got}, but the keys "
            f"around it start in column {want}, so YAML reads line {here + 1} as part of its "
            "value",
            f"start `{_key(lines[above])}` in column {want}, like the keys around it",
            above + 1,
            got,
        )
    return YamlError(
        f"invalid YAML: the key on line {here + 1} starts in column {want}, right of the key on "
        f"line {above + 1} (column {got}), which already has a value",
        f"start `{_key(lines[here])}` in column {got}, like line {above + 1}; or, to nest it, "
        f"remove the value on line {above + 1}",
        here + 1,
        want,
    )


def _text(data: bytes, fix: str) -> str:
    """The text of untrusted bytes; YamlError, with `fix`, when there are too many to be a
    document the reconciler reads."""
    if len(data) > MAX_BYTES:
        raise YamlError(f"the file is {len(data)} bytes, over the {MAX_BYTES}-byte limit", fix)
    return _decode(data)


@contextmanager
def _reading(loader: Any, text: str) -> Iterator[None]:
    """A parse of `text` with `loader`: YAML's errors as YamlError naming the line where
    they have one, and the loader disposed of whatever happens."""
    import yaml

    try:
        yield
    except yaml.MarkedYAMLError as error:
        raise _marked(error, text) from None
    except yaml.YAMLError as error:
        raise YamlError(f"invalid YAML: {error}", "check the file's syntax") from None
    except RecursionError:
        raise YamlError("the document nests too deeply", "flatten the structure") from None
    finally:
        loader.dispose()


def parse_yaml(data: bytes, *, what: str = "blueprint") -> Document:
    """Parse untrusted bytes into a mapping with positions, or raise YamlError."""
    text = _text(data, f"a {what} is a short document; split or trim it")
    import yaml

    loader = _loader()(text)
    with _reading(loader, text):
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
                raise  # marked as any other error
            raise YamlError(
                "the file holds more than one YAML document (a second `---`)",
                "keep one blueprint per file",
                *_marked_position(error),
            ) from None
    if data_obj is None:
        # `---` alone, or `---` and comments: a document with nothing in it.
        raise YamlError(
            "the file holds an empty document (a `---` line and nothing else)",
            f"write the {what} after the `---`; docs/blueprint-format.md shows one",
            1,
            1,
        )
    if not isinstance(data_obj, dict):
        found = "a list" if isinstance(data_obj, list) else f"a single value ({data_obj!r:.40})"
        raise YamlError(
            f"the top level is {found}, not a mapping",
            f"a {what} starts with keys such as `metadata:` and `spec:`",
            1,
            1,
        )
    return state.document(data_obj)


def parse_documents(data: bytes, *, what: str = "manifest") -> list[Document | None]:
    """Every document of a multi-document stream (Kubernetes manifests separated by `---`),
    each with its positions; None stands for an empty document or one that is not a mapping,
    which a caller picking documents by kind and name skips. Spans are offsets in the whole
    text, so a value of any document can be edited in place. Raises YamlError as parse_yaml."""
    text = _text(data, f"split the {what} into smaller files")
    loader = _loader()(text)
    documents: list[Document | None] = []
    budget = MAX_NODES
    with _reading(loader, text):
        while loader.check_node():
            node = loader.get_node()
            if node is None:  # pragma: no cover - check_node said there is one
                break
            state = _Walk(loader=loader, key_marks={}, value_marks={}, quoted=set(), budget=budget)
            value = _walk(state, node, ())
            budget = state.budget
            documents.append(state.document(value) if isinstance(value, dict) else None)
    return documents
