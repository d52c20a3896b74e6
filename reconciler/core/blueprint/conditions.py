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
from collections.abc import Mapping
from dataclasses import dataclass

from reconciler.core.blueprint.condition_syntax import (
    COMPARISONS,
    NAMES,
    Binary,
    ConditionError,
    Kind,
    Literal,
    Name,
    Node,
    Unary,
    name_tokens,
    parse_tree,
)

__all__ = [
    "NAMES",
    "Condition",
    "ConditionError",
    "Kind",
    "parse_condition",
]


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
    if op in COMPARISONS or op in {"+", "-"}:
        if _compatible(left, right) or _fraction_literal(left, right, lnode, rnode):
            return Kind.BOOL if op in COMPARISONS else _stronger(left, right)
        # Two kinds that do not compare: at most one is a plain number, so the other is a
        # count, a percentage or a duration, each with an example of its unit.
        named = left if left is not Kind.NUMBER else right
        what = _describe(lnode if left is named else rnode)
        raise ConditionError(
            f"cannot compare {what} ({named}) with a {left if named is right else right}",
            col,
            f"write the number with its unit, for example {_UNIT_EXAMPLE[named]}",
        )
    if op == "*":
        scalars = (Kind.NUMBER, Kind.PERCENT)
        if left in scalars and right in scalars:
            return Kind.PERCENT if Kind.PERCENT in (left, right) else Kind.NUMBER
        if right in scalars:
            return left
        if left in scalars:
            return right
        raise ConditionError(f"cannot multiply a {left} by a {right}", col)
    # Division: scaling by a plain number or a percentage keeps the kind; a kind divided by
    # itself is a ratio, such as current_replicas / max_replicas.
    if right in (Kind.NUMBER, Kind.PERCENT):
        return left
    if left == right:
        return Kind.PERCENT
    raise ConditionError(f"cannot divide a {left} by a {right}", col)


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
        for name, column in name_tokens(self.source):
            start = column - 1
            value = values.get(name)
            out.append(self.source[position:start])
            out.append(name if value is None else _format(name, value))
            position = start + len(name)
        out.append(self.source[position:])
        return "".join(out)

    def __str__(self) -> str:
        return self.source


def parse_condition(text: str) -> Condition:
    """Parse and check a condition; raises ConditionError with a 1-based column."""
    if len(text) > 2000:
        raise ConditionError("the condition is longer than 2000 characters", 1, "shorten it")
    tree = parse_tree(text)
    if _check(tree) is not Kind.BOOL:
        raise ConditionError(
            "a condition must be true or false",
            1,
            "compare values, for example `target_replicas <= max_replicas`",
        )
    return Condition(source=text.strip(), tree=tree, names=_names(tree))
