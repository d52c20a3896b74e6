"""The syntax of the condition language: what a value measures (`Kind`), the names a
condition may use, and the tokenizer and parser that turn its text into a tree, with errors
that point at the column where the text goes wrong."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from reconciler.core import bounds

__all__ = [
    "COMPARISONS",
    "NAMES",
    "Binary",
    "ConditionError",
    "Kind",
    "Literal",
    "Name",
    "NameInfo",
    "Node",
    "Unary",
    "name_tokens",
    "parse_tree",
]


class Kind(StrEnum):
    """What a value measures; the checker refuses to mix kinds that do not compare."""

    COUNT = "count"
    PERCENT = "percentage"
    DURATION = "duration"
    NUMBER = "number"
    BOOL = "boolean"


@dataclass(frozen=True, kw_only=True)
class NameInfo:
    kind: Kind
    description: str


#: Every name a condition may use. Durations are in seconds, percentages are fractions.
NAMES: Mapping[str, NameInfo] = {
    "target_replicas": NameInfo(kind=Kind.COUNT, description="replicas the operation would set"),
    "current_replicas": NameInfo(kind=Kind.COUNT, description="replicas the deployment has now"),
    "ready_replicas": NameInfo(kind=Kind.COUNT, description="pods that are ready now"),
    "min_replicas": NameInfo(kind=Kind.COUNT, description="spec.scaling.min_replicas"),
    "max_replicas": NameInfo(kind=Kind.COUNT, description="spec.scaling.max_replicas"),
    "replica_change": NameInfo(
        kind=Kind.COUNT,
        description="target_replicas - current_replicas (negative when scaling down)",
    ),
    "change_percent": NameInfo(
        kind=Kind.PERCENT,
        description="size of the change relative to the current value (replicas or resources)",
    ),
    "restart_count": NameInfo(kind=Kind.COUNT, description="highest restart count among the pods"),
    "max_restart_count": NameInfo(
        kind=Kind.COUNT, description="spec.reliability.max_restart_count"
    ),
    "rollback_threshold": NameInfo(
        kind=Kind.COUNT, description="spec.reliability.rollback_threshold"
    ),
    "cpu_utilization": NameInfo(kind=Kind.PERCENT, description="average CPU usage / request"),
    "memory_utilization": NameInfo(kind=Kind.PERCENT, description="average memory usage / request"),
    "weighted_utilization": NameInfo(
        kind=Kind.PERCENT, description="the weighted utilization the decision used"
    ),
    "error_rate": NameInfo(kind=Kind.PERCENT, description="share of requests that failed"),
    "latency_p95": NameInfo(kind=Kind.DURATION, description="95th percentile latency"),
    "latency_p95_target": NameInfo(kind=Kind.DURATION, description="spec.performance.latency_p95"),
    "hour_utc": NameInfo(kind=Kind.COUNT, description="hour of the day in UTC, 0 to 23"),
    "weekday_utc": NameInfo(kind=Kind.COUNT, description="day of the week in UTC, 0 is Monday"),
}


class ConditionError(ValueError):
    """A condition that does not parse or check. `column` is 1-based within the condition."""

    def __init__(self, message: str, column: int, hint: str = "") -> None:
        super().__init__(message)
        self.column = column
        self.hint = hint


# ---------------------------------------------------------------------------------------------
# Syntax tree


@dataclass(frozen=True)
class Literal:
    value: float
    kind: Kind
    column: int


@dataclass(frozen=True)
class Name:
    name: str
    column: int


@dataclass(frozen=True)
class Unary:
    op: str  # "-" or "not"
    operand: Node
    column: int


@dataclass(frozen=True)
class Binary:
    op: str  # + - * / < <= > >= == != and or
    left: Node
    right: Node
    column: int


Node = Literal | Name | Unary | Binary

# ---------------------------------------------------------------------------------------------
# Tokens

_UNITS: Mapping[str, tuple[Kind, float]] = {
    "%": (Kind.PERCENT, 0.01),
    "ms": (Kind.DURATION, 0.001),
    "s": (Kind.DURATION, 1.0),
    "m": (Kind.DURATION, 60.0),
    "h": (Kind.DURATION, 3600.0),
    "d": (Kind.DURATION, 86400.0),
}
_TOKEN_RE = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>(?:\d+(?:\.\d*)?|\.\d+)(?:%|ms|s|m|h|d)?(?![A-Za-z_0-9]))
  | (?P<word>[A-Za-z_][A-Za-z_0-9]*)
  | (?P<op><=|>=|==|!=|<|>|=|\+|-|\*|/|\(|\)|&&|\|\||!)
    """,
    re.VERBOSE,
)
_KEYWORDS = {"and": "and", "or": "or", "not": "not", "&&": "and", "||": "or", "!": "not"}


@dataclass(frozen=True)
class _Token:
    kind: str  # number, name, op, end
    text: str
    column: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN_RE.match(text, position)
        if not match:
            raise ConditionError(
                f"unexpected character {text[position]!r}",
                position + 1,
                "conditions use names, numbers, AND/OR/NOT, comparisons and + - * /",
            )
        column = position + 1
        group = match.lastgroup
        word = match.group()
        position = match.end()
        if group == "space":
            continue
        if group == "word" and word.lower() in _KEYWORDS:
            tokens.append(_Token("op", _KEYWORDS[word.lower()], column))
        elif group == "word" and word.lower() in {"true", "false"}:
            tokens.append(_Token("bool", word.lower(), column))
        elif group == "op" and word in _KEYWORDS:
            tokens.append(_Token("op", _KEYWORDS[word], column))
        elif group == "op" and word == "=":
            tokens.append(_Token("op", "==", column))
        else:
            tokens.append(_Token("name" if group == "word" else str(group), word, column))
    tokens.append(_Token("end", "", len(text) + 1))
    return tokens


# ---------------------------------------------------------------------------------------------
# Parser: recursive descent, lowest precedence first.

COMPARISONS = {"<", "<=", ">", ">=", "==", "!="}


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.index = 0

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def accept(self, *ops: str) -> _Token | None:
        token = self.peek()
        if token.kind == "op" and token.text in ops:
            self.index += 1
            return token
        return None

    def parse(self) -> Node:
        if self.peek().kind == "end":
            raise ConditionError("the condition is empty", 1, "write a comparison or remove it")
        node = self.parse_or()
        token = self.peek()
        if token.kind != "end":
            raise ConditionError(
                f"unexpected {token.text!r}", token.column, "join comparisons with AND or OR"
            )
        return node

    def parse_or(self) -> Node:
        node = self.parse_and()
        while token := self.accept("or"):
            node = Binary("or", node, self.parse_and(), token.column)
        return node

    def parse_and(self) -> Node:
        node = self.parse_not()
        while token := self.accept("and"):
            node = Binary("and", node, self.parse_not(), token.column)
        return node

    def parse_not(self) -> Node:
        if token := self.accept("not"):
            return Unary("not", self.parse_not(), token.column)
        return self.parse_comparison()

    def parse_comparison(self) -> Node:
        node = self.parse_sum()
        token = self.accept(*COMPARISONS)
        if token:
            node = Binary(token.text, node, self.parse_sum(), token.column)
            if chained := self.accept(*COMPARISONS):
                raise ConditionError(
                    "comparisons cannot be chained",
                    chained.column,
                    "write `a <= b AND b <= c` instead of `a <= b <= c`",
                )
        return node

    def parse_sum(self) -> Node:
        node = self.parse_product()
        while token := self.accept("+", "-"):
            node = Binary(token.text, node, self.parse_product(), token.column)
        return node

    def parse_product(self) -> Node:
        node = self.parse_unary()
        while token := self.accept("*", "/"):
            node = Binary(token.text, node, self.parse_unary(), token.column)
        return node

    def parse_unary(self) -> Node:
        if token := self.accept("-"):
            return Unary("-", self.parse_unary(), token.column)
        return self.parse_atom()

    def parse_atom(self) -> Node:
        token = self.take()
        if token.kind == "number":
            return _literal(token)
        if token.kind == "bool":
            return Literal(1.0 if token.text == "true" else 0.0, Kind.BOOL, token.column)
        if token.kind == "name":
            return Name(token.text, token.column)
        if token.kind == "op" and token.text == "(":
            node = self.parse_or()
            if not self.accept(")"):
                raise ConditionError("missing )", self.peek().column, "close the parenthesis")
            return node
        if token.kind == "end":
            raise ConditionError(
                "the condition ends too early", token.column, "complete the expression"
            )
        raise ConditionError(f"unexpected {token.text!r}", token.column, "expected a value here")


def _literal(token: _Token) -> Literal:
    match = re.match(r"^([\d.]+)(.*)$", token.text)
    assert match is not None  # the tokenizer only produces numbers of this shape
    number, unit = float(match.group(1)), match.group(2)
    kind, factor = _UNITS[unit] if unit else (Kind.NUMBER, 1.0)
    # Digits make no NaN, and a number beyond a float is infinite: above the bound too.
    if number * factor > bounds.AMOUNT_MAX:
        raise ConditionError(
            f"{token.text[:24]} is too large a number",
            token.column,
            f"write a number of at most {bounds.AMOUNT_MAX:g}",
        )
    return Literal(number * factor, kind, token.column)


# ---------------------------------------------------------------------------------------------
# Checker: works out each node's kind and refuses mixtures that cannot mean anything.


def parse_tree(text: str) -> Node:
    """The tree of a condition's text; ConditionError with a 1-based column."""
    return _Parser(text).parse()


def name_tokens(text: str) -> list[tuple[str, int]]:
    """Each name in the text, with its 1-based column, in order."""
    return [(token.text, token.column) for token in _tokenize(text) if token.kind == "name"]
