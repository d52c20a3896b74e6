"""Deciding code gives reasons as codes and values; only the wording modules write English.

An `ast` walk over the deciding stages of the core finds every f-string, and every string
concatenation, whose literal text has three words or more outside the wording modules. A
finding fails the test unless ALLOWED names its function, with a comment saying why. The
walk is tested on planted examples, so it cannot quietly stop finding anything.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass

import pytest

from tests.conftest import REPO

#: The folders whose code decides: what they say goes through trail/wording.py and its
#: siblings (codes.py, scaling_wording.py, verification_wording.py).
SCANNED = ("reconciler/core/decide", "reconciler/core/planning")

#: Whole modules whose job is words.
WORDING_MODULES = {
    # Each commit subject is written once, here (the subjects are words, not reasons).
    "reconciler/core/planning/subjects.py",
}

#: Functions still allowed to build prose: (module, function), each with why.
ALLOWED = {
    # W's parts as a formula (`cpu 80% × 0.5 + latency 240ms/200ms = 100% × 0.5`), the
    # notation a reader checks the arithmetic with, not a sentence.
    ("reconciler/core/decide/utilization.py", "describe"),
}

#: A word of prose: two letters or more (so `ms`, `s` and `%` in a formula do not count).
_WORD = re.compile(r"[A-Za-z]{2,}")
#: Literal text with this many words is prose.
PROSE_WORDS = 3


@dataclass(frozen=True)
class Finding:
    line: int
    function: str
    text: str


def _literal(node: ast.AST) -> str | None:
    """The literal text of an f-string or a string constant, else None."""
    if isinstance(node, ast.JoinedStr):
        return "".join(
            part.value
            for part in node.values
            if isinstance(part, ast.Constant) and isinstance(part.value, str)
        )
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _is_prose(text: str | None) -> bool:
    return text is not None and len(_WORD.findall(text)) >= PROSE_WORDS


def _added(node: ast.AST) -> list[ast.AST]:
    """The operands of a chain of `+`, left to right."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return [*_added(node.left), *_added(node.right)]
    return [node]


def _built(node: ast.AST) -> str | None:
    """The prose an expression builds: an f-string, or a `+` chain whose string pieces
    together are prose."""
    if isinstance(node, ast.JoinedStr):
        text = _literal(node)
        return text if _is_prose(text) else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        pieces = [_literal(operand) for operand in _added(node)]
        text = "".join(piece for piece in pieces if piece is not None)
        if any(piece is not None for piece in pieces) and _is_prose(text):
            return text
    return None


def prose_built(source: str) -> list[Finding]:
    """Every f-string or concatenation of prose in `source`, with its enclosing function.

    Error messages are left out (anything under a `raise`): they name a file, field and fix
    for a person and are not part of the record format."""
    found: list[Finding] = []

    def walk(node: ast.AST, function: str, raised: bool) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = node.name
        raised = raised or isinstance(node, ast.Raise)
        text = None if raised else _built(node)
        if text is not None:
            found.append(Finding(line=getattr(node, "lineno", 0), function=function, text=text))
            return  # the parts of a finding are not findings of their own
        for child in ast.iter_child_nodes(node):
            walk(child, function, raised)

    walk(ast.parse(source), "<module>", False)
    return found


def deciding_sources() -> dict[str, str]:
    """The source of every scanned module, by its path in the repository."""
    return {
        path.relative_to(REPO).as_posix(): path.read_text()
        for folder in SCANNED
        for path in sorted((REPO / folder).rglob("*.py"))
    }


def findings(sources: Mapping[str, str]) -> dict[tuple[str, str], list[Finding]]:
    """The prose each (module, function) builds, wording modules left out."""
    by_function: dict[tuple[str, str], list[Finding]] = {}
    for module, source in sources.items():
        if module in WORDING_MODULES:
            continue
        for finding in prose_built(source):
            by_function.setdefault((module, finding.function), []).append(finding)
    return by_function


def unexpected(sources: Mapping[str, str]) -> list[str]:
    """Each finding ALLOWED does not excuse, as `module:line in function(): 'text'`."""
    return sorted(
        f"{module}:{f.line} in {function}(): {f.text!r}"
        for (module, function), found in findings(sources).items()
        if (module, function) not in ALLOWED
        for f in found
    )


def test_deciding_code_builds_no_prose() -> None:
    found = unexpected(deciding_sources())
    assert not found, (
        "deciding code builds English; give a wording.Reason (a Code and its values) and "
        "word it in core/trail/wording.py or a sibling:\n" + "\n".join(found)
    )


def test_every_allowance_is_still_needed() -> None:
    """An allowance whose function no longer builds prose is removed, so the list shrinks."""
    needless = ALLOWED - set(findings(deciding_sources()))
    assert not needless, f"no longer needed, remove from ALLOWED: {sorted(needless)}"
    assert all((REPO / module).is_file() for module in WORDING_MODULES)


def test_a_sentence_planted_in_deciding_code_fails_the_scan() -> None:
    """The scan of the real folders reports a sentence added to a real module."""
    sources = deciding_sources()
    module = "reconciler/core/decide/recovery.py"
    assert unexpected(sources) == []
    sources[module] += '\n\ndef _planted(n):\n    return f"restarting {n} failing pods"\n'
    line = sources[module].count("\n")
    assert unexpected(sources) == [f"{module}:{line} in _planted(): 'restarting  failing pods'"]


@pytest.mark.parametrize(
    ("source", "function", "text"),
    [
        (
            'def decide(n):\n    return f"Scaling to {n} replicas now."\n',
            "decide",
            "Scaling to  replicas now.",
        ),
        (
            'def why(n):\n    return "scaling up " + str(n) + " more replicas"\n',
            "why",
            "scaling up  more replicas",
        ),
        (
            'class Held:\n    def text(self, x):\n        return f"{x} is held back"\n',
            "text",
            " is held back",
        ),
        (
            'WORDS = f"a module-level {1} sentence"\n',
            "<module>",
            "a module-level  sentence",
        ),
    ],
)
def test_the_walk_finds_planted_prose(source: str, function: str, text: str) -> None:
    assert [(f.function, f.text) for f in prose_built(source)] == [(function, text)]


@pytest.mark.parametrize(
    "source",
    [
        # A formula or a key, not a sentence.
        'def f(a, b):\n    return f"{a} → {b} ms/s"\n',
        'def f(key):\n    return f"behavior.{key}"\n',
        # A plain string (a table's entry, a docstring) is not built.
        'def f():\n    """Say what this does, in words."""\n    return "no earlier change"\n',
        # An error message names a fix for a person.
        'def f(p):\n    raise ValueError(f"{p} is not a number; write one")\n',
        # Joining values with punctuation only.
        'def f(a, b):\n    return a + "; " + b\n',
    ],
)
def test_the_walk_leaves_formulas_tables_and_errors(source: str) -> None:
    assert prose_built(source) == []
