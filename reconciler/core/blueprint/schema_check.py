"""The compiled check: the same verdict as jsonschema on a whole document, without the
explanations, so a valid document (the common case) never pays for jsonschema.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any

from reconciler.core.blueprint import units
from reconciler.core.blueprint.schema_source import (
    UNIT_PARSERS,
    inline_refs,
    is_finite,
    parsed_schema,
)

#: A compiled schema node: True when the value passes it.
Check = Callable[[Any], bool]

#: Keywords that only annotate: they never change a verdict.
_ANNOTATIONS = frozenset({"$schema", "$id", "title", "description", "default", "examples"})


@cache
def compiled_check(kind: str) -> Check | None:
    """The schema of `kind` as one function of checks, or None when it uses a keyword the
    compiler does not know (jsonschema then judges every document, as before)."""
    schema = parsed_schema(kind)
    try:
        return _compile(inline_refs(schema, schema.get("$defs", {})))
    except _Uncompiled:
        return None


class _Uncompiled(Exception):
    """A schema keyword the compiled check does not implement."""


def _compile(node: Any) -> Check:
    """One schema node as a check; each keyword as Draft 2020-12 and jsonschema read it
    (types as `_validator`'s type checker: a number is finite, 3.0 is an integer)."""
    if node is True:
        return _always
    if node is False:
        return _never
    if not isinstance(node, dict):
        raise _Uncompiled(repr(node))
    checks: list[Check] = []
    unit = node.get("x-unit")
    for keyword, value in node.items():
        if keyword in _ANNOTATIONS or keyword == "x-unit":
            continue
        make = _KEYWORDS.get(keyword)
        if make is None:
            raise _Uncompiled(keyword)
        checks.append(make(value, node))
    if unit is not None:
        parse = UNIT_PARSERS.get(unit)
        if parse is not None:
            checks.append(_parses(parse))
    if len(checks) == 1:
        return checks[0]
    return lambda value: all(check(value) for check in checks)


def _always(value: Any) -> bool:
    return True


def _never(value: Any) -> bool:
    return False


def _parses(parse: Callable[[Any], Any]) -> Check:
    def check(value: Any) -> bool:
        try:
            parse(value)
        except units.UnitError:
            return False
        return True

    return check


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and is_finite(value)


_TYPES: Mapping[str, Check] = {
    "object": lambda value: isinstance(value, dict),
    "array": lambda value: isinstance(value, list),
    "string": lambda value: isinstance(value, str),
    "boolean": lambda value: isinstance(value, bool),
    "null": lambda value: value is None,
    "number": _is_number,
    "integer": lambda value: (
        (isinstance(value, int) and not isinstance(value, bool))
        or (isinstance(value, float) and value.is_integer())
    ),
}


def _type(wanted: Any, node: Any) -> Check:
    names = [wanted] if isinstance(wanted, str) else list(wanted)
    checks = [_TYPES[name] for name in names]
    return lambda value: any(check(value) for check in checks)


def _properties(properties: Mapping[str, Any], node: Any) -> Check:
    compiled = [(name, _compile(sub)) for name, sub in properties.items()]

    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            return True
        return all(sub(value[name]) for name, sub in compiled if name in value)

    return check


def _additional(extra: Any, node: Any) -> Check:
    known = frozenset(node.get("properties", {}))
    if "patternProperties" in node:
        raise _Uncompiled("patternProperties")
    sub = _compile(extra)

    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            return True
        return all(sub(item) for key, item in value.items() if key not in known)

    return check


def _required(names: Sequence[str], node: Any) -> Check:
    return lambda value: not isinstance(value, dict) or all(name in value for name in names)


def _property_names(names: Any, node: Any) -> Check:
    sub = _compile(names)
    return lambda value: not isinstance(value, dict) or all(sub(key) for key in value)


def _same(one: Any, two: Any) -> bool:
    """Equality as JSON Schema means it: true is not 1, false is not 0 (scalars only; a list
    or mapping is never proven equal here, so jsonschema judges it)."""
    if isinstance(one, list | dict) or isinstance(two, list | dict):
        return False
    return isinstance(one, bool) == isinstance(two, bool) and one == two


def _enum(options: Sequence[Any], node: Any) -> Check:
    return lambda value: any(_same(option, value) for option in options)


def _const(expected: Any, node: Any) -> Check:
    return lambda value: _same(expected, value)


def _minimum(bound: float, node: Any) -> Check:
    return lambda value: not _is_plain_number(value) or not value < bound


def _maximum(bound: float, node: Any) -> Check:
    return lambda value: not _is_plain_number(value) or not value > bound


def _is_plain_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _pattern(pattern: str, node: Any) -> Check:
    compiled = re.compile(pattern)
    return lambda value: not isinstance(value, str) or compiled.search(value) is not None


def _min_length(size: int, node: Any) -> Check:
    return lambda value: not isinstance(value, str) or len(value) >= size


def _max_length(size: int, node: Any) -> Check:
    return lambda value: not isinstance(value, str) or len(value) <= size


def _items(items: Any, node: Any) -> Check:
    if "prefixItems" in node:
        raise _Uncompiled("prefixItems")
    sub = _compile(items)
    return lambda value: not isinstance(value, list) or all(sub(item) for item in value)


def _min_items(size: int, node: Any) -> Check:
    return lambda value: not isinstance(value, list) or len(value) >= size


def _any_of(options: Sequence[Any], node: Any) -> Check:
    compiled = [_compile(option) for option in options]
    return lambda value: any(sub(value) for sub in compiled)


_KEYWORDS: Mapping[str, Callable[[Any, Any], Check]] = {
    "type": _type,
    "properties": _properties,
    "additionalProperties": _additional,
    "required": _required,
    "propertyNames": _property_names,
    "enum": _enum,
    "const": _const,
    "minimum": _minimum,
    "maximum": _maximum,
    "pattern": _pattern,
    "minLength": _min_length,
    "maxLength": _max_length,
    "items": _items,
    "minItems": _min_items,
    "anyOf": _any_of,
}
