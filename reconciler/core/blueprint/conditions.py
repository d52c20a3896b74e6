"""The small expression language of `condition:` in governance rules.

A condition such as `target_replicas >= min_replicas AND target_replicas <= max_replicas`
narrows when a rule applies. It is parsed and type-checked when the blueprint loads, so a typo
or a unit mistake is a load error pointing at its column, never a surprise in the middle of a
cycle. Evaluation walks the parsed tree; nothing is ever handed to `eval`.

Values carry a kind (count, percentage, duration, plain number) so that the classic mistake
`change_percent <= 10` (which would compare a fraction with ten and always hold) is refused
with a hint to write `10%`.

Logic is three-valued: a name whose value is unknown at evaluation time (a missing metric)
makes comparisons unknown, and the caller decides what unknown means for its tier. An allowed
rule whose condition is unknown does not apply; a forbidding rule whose condition is unknown
does. That keeps missing data on the safe side.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from reconciler.core import bounds

__all__ = [
    "NAMES",
    "Condition",
    "ConditionError",
    "Kind",
    "parse_condition",
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

_COMPARISONS = {"<", "<=", ">", ">=", "==", "!="}


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
        token = self.accept(*_COMPARISONS)
        if token:
            node = Binary(token.text, node, self.parse_sum(), token.column)
            if chained := self.accept(*_COMPARISONS):
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
    if not math.isfinite(number * factor) or number * factor > bounds.AMOUNT_MAX:
        raise ConditionError(
            f"{token.text[:24]} is too large a number",
            token.column,
            f"write a number of at most {bounds.AMOUNT_MAX:g}",
        )
    return Literal(number * factor, kind, token.column)


# ---------------------------------------------------------------------------------------------
# Checker: works out each node's kind and refuses mixtures that cannot mean anything.

_UNIT_EXAMPLE = {Kind.PERCENT: "10%", Kind.DURATION: "200ms or 5m", Kind.COUNT: "3"}


def _check(node: Node) -> Kind:
    match node:
        case Literal(kind=kind):
            return kind
        case Name(name=name, column=column):
            info = NAMES.get(name)
            if info is None:
                import difflib  # only for a misspelt name: not at every start-up

                close = difflib.get_close_matches(name, NAMES, n=1)
                hint = f"did you mean {close[0]}?" if close else "see the list of condition names"
                raise ConditionError(f"unknown name {name!r}", column, hint)
            return info.kind
        case Unary(op="not", operand=operand, column=column):
            _expect_bool(operand, column, "NOT")
            return Kind.BOOL
        case Unary(operand=operand, column=column):
            kind = _check(operand)
            if kind is Kind.BOOL:
                raise ConditionError("cannot negate a true/false value", column, "use NOT")
            return kind
        case Binary(op=("and" | "or") as op, left=left, right=right, column=column):
            _expect_bool(left, column, op.upper())
            _expect_bool(right, column, op.upper())
            return Kind.BOOL
        case Binary(op=op, left=left, right=right, column=column):
            return _check_arithmetic(op, _check(left), _check(right), left, right, column)
    raise AssertionError(f"unhandled node {node!r}")  # pragma: no cover


def _expect_bool(node: Node, column: int, word: str) -> None:
    if _check(node) is not Kind.BOOL:
        raise ConditionError(
            f"{word} needs comparisons on both sides",
            column,
            "compare values, for example `target_replicas <= max_replicas`",
        )


def _check_arithmetic(op: str, left: Kind, right: Kind, lnode: Node, rnode: Node, col: int) -> Kind:
    if Kind.BOOL in (left, right):
        raise ConditionError(f"{op!r} cannot use a true/false value", col, "compare numbers")
    if op in _COMPARISONS or op in {"+", "-"}:
        if _compatible(left, right) or _fraction_literal(left, right, lnode, rnode):
            return Kind.BOOL if op in _COMPARISONS else _stronger(left, right)
        named = left if left is not Kind.NUMBER else right
        example = _UNIT_EXAMPLE.get(named, "")
        hint = f"write the number with its unit, for example {example}" if example else ""
        what = _describe(lnode if left is named else rnode)
        raise ConditionError(
            f"cannot compare {what} ({named}) with a {left if named is right else right}",
            col,
            hint,
        )
    if op == "*":
        scalars = (Kind.NUMBER, Kind.PERCENT)
        if left in scalars and right in scalars:
            return Kind.PERCENT if Kind.PERCENT in (left, right) else Kind.NUMBER
        if right in scalars:
            return left
        if left in scalars:
            return right
        raise ConditionError(f"cannot multiply a {left} by a {right}", col, "")
    # Division: scaling by a plain number or a percentage keeps the kind; a kind divided by
    # itself is a ratio, such as current_replicas / max_replicas.
    if right in (Kind.NUMBER, Kind.PERCENT):
        return left
    if left == right:
        return Kind.PERCENT
    raise ConditionError(f"cannot divide a {left} by a {right}", col, "")


def _fraction_literal(left: Kind, right: Kind, lnode: Node, rnode: Node) -> bool:
    """A plain number from 0 to 1 next to a percentage is a fraction, as in blueprints:
    `cpu_utilization > 0.8` is fine, `change_percent <= 10` is the mistake we refuse."""
    if {left, right} != {Kind.PERCENT, Kind.NUMBER}:
        return False
    literal = lnode if left is Kind.NUMBER else rnode
    return isinstance(literal, Literal) and 0 <= literal.value <= 1


def _compatible(left: Kind, right: Kind) -> bool:
    if left == right:
        return True
    return {left, right} == {Kind.COUNT, Kind.NUMBER}


def _stronger(left: Kind, right: Kind) -> Kind:
    return right if left is Kind.NUMBER else left


def _describe(node: Node) -> str:
    return node.name if isinstance(node, Name) else "this value"


# ---------------------------------------------------------------------------------------------
# Evaluation: three-valued, so that unknown data stays visible to the caller.


def _evaluate(node: Node, values: Mapping[str, float | None]) -> float | bool | None:
    match node:
        case Literal(value=value, kind=Kind.BOOL):
            return bool(value)
        case Literal(value=value):
            return value
        case Name(name=name):
            return values.get(name)
        case Unary(op="not", operand=operand):
            inner = _evaluate(operand, values)
            return None if inner is None else not inner
        case Unary(operand=operand):
            inner = _evaluate(operand, values)
            return None if inner is None else -float(inner)
        case Binary(op="and", left=left, right=right):
            results = (_evaluate(left, values), _evaluate(right, values))
            if False in results:
                return False
            return None if None in results else True
        case Binary(op="or", left=left, right=right):
            results = (_evaluate(left, values), _evaluate(right, values))
            if True in results:
                return True
            return None if None in results else False
        case Binary(op=op, left=left, right=right):
            a, b = _evaluate(left, values), _evaluate(right, values)
            if a is None or b is None:
                return None
            return _apply(op, float(a), float(b))
    raise AssertionError(f"unhandled node {node!r}")  # pragma: no cover


_EPSILON = 1e-9


def _arithmetic(op: str, a: float, b: float) -> float | None:
    """None (unknown) for a result that is no number: division by zero, or beyond a float,
    so no NaN or infinity ever reaches a comparison."""
    if op == "/" and b == 0:
        return None
    result = {"+": a + b, "-": a - b, "*": a * b}[op] if op != "/" else a / b
    return result if math.isfinite(result) else None


def _apply(op: str, a: float, b: float) -> float | bool | None:
    # Comparisons allow for float noise: 0.1 * 3 must equal 0.3 in a condition.
    match op:
        case "+" | "-" | "*" | "/":
            return _arithmetic(op, a, b)
        case "<":
            return a < b - _EPSILON
        case "<=":
            return a <= b + _EPSILON
        case ">":
            return a > b + _EPSILON
        case ">=":
            return a >= b - _EPSILON
        case "==":
            return abs(a - b) <= _EPSILON
        case "!=":
            return abs(a - b) > _EPSILON
    raise AssertionError(op)  # pragma: no cover


def _format(name: str, value: float) -> str:
    kind = NAMES[name].kind if name in NAMES else Kind.NUMBER
    if kind is Kind.PERCENT:
        return f"{round(value * 100, 2):g}%"
    if kind is Kind.DURATION:
        return f"{round(value * 1000, 1):g}ms" if value < 1 else f"{round(value, 2):g}s"
    return f"{round(value, 4):g}"


def _names(node: Node) -> frozenset[str]:
    match node:
        case Name(name=name):
            return frozenset({name})
        case Unary(operand=operand):
            return _names(operand)
        case Binary(left=left, right=right):
            return _names(left) | _names(right)
    return frozenset()


@dataclass(frozen=True)
class Condition:
    """A parsed, checked condition. `evaluate` returns True, False, or None when unknown."""

    source: str
    tree: Node
    names: frozenset[str]

    def evaluate(self, values: Mapping[str, float | None]) -> bool | None:
        result = _evaluate(self.tree, values)
        return None if result is None else bool(result)

    def missing(self, values: Mapping[str, float | None]) -> list[str]:
        """The names this condition uses that have no value, for explaining an unknown result."""
        return sorted(name for name in self.names if values.get(name) is None)

    def render_with(self, values: Mapping[str, float | None]) -> str:
        """The condition with each name replaced by its value: `3 >= 1 AND 3 <= 5`."""
        out, position = [], 0
        for token in _tokenize(self.source):
            if token.kind != "name":
                continue
            start = token.column - 1
            value = values.get(token.text)
            out.append(self.source[position:start])
            out.append(token.text if value is None else _format(token.text, value))
            position = start + len(token.text)
        out.append(self.source[position:])
        return "".join(out)

    def __str__(self) -> str:
        return self.source


def parse_condition(text: str) -> Condition:
    """Parse and check a condition; raises ConditionError with a 1-based column."""
    if len(text) > 2000:
        raise ConditionError("the condition is longer than 2000 characters", 1, "shorten it")
    tree = _Parser(text).parse()
    if _check(tree) is not Kind.BOOL:
        raise ConditionError(
            "a condition must be true or false",
            1,
            "compare values, for example `target_replicas <= max_replicas`",
        )
    return Condition(source=text.strip(), tree=tree, names=_names(tree))
