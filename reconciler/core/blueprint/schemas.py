"""The JSON Schemas for blueprints and global policies, and readable messages for their errors.

The schemas ship inside the package (the copies under `blueprints/` are links for editors), so a
repository cannot weaken its own validation by editing them. jsonschema's messages are written
for schema authors (`'70' is not valid under any of the given schemas`); `explain` turns each
error into a message and a fix for the person who wrote the blueprint, using the unit parsers'
own wording where a unit is involved.

Validation is stricter than JSON Schema's own: a number must be finite (YAML's `.nan` and `.inf`
are numbers to jsonschema, and NaN passes every `minimum` and `maximum`), and a value with a
unit (`x-unit`) must parse within its bounds, so `99999999999999999999d` is a schema error at its
own line rather than an exception when the value is first used.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

from reconciler.core import bounds
from reconciler.core.blueprint import units
from reconciler.core.blueprint.schema_check import compiled_check
from reconciler.core.blueprint.schema_source import (
    UNIT_PARSERS,
    inline_refs,
    is_finite,
    parsed_schema,
    schema_text,
)
from reconciler.core.blueprint.yamlsafe import Path

__all__ = ["SchemaIssue", "default_for", "iter_issues", "schema_text"]

_REQUIRED_RE = re.compile(r"^'(.+)' is a required property$")


@cache
def _validator(kind: str) -> Any:
    import jsonschema  # deferred: about 100 ms, and only validation needs it

    base = jsonschema.Draft202012Validator
    types = base.TYPE_CHECKER.redefine(
        "number",
        lambda checker, value: base.TYPE_CHECKER.is_type(value, "number") and is_finite(value),
    )
    extend: Any = jsonschema.validators.extend  # untyped in jsonschema
    strict = extend(base, {"x-unit": _unit_keyword}, type_checker=types)
    schema = parsed_schema(kind)
    return strict(inline_refs(schema, schema.get("$defs", {})))


def _unit_keyword(validator: Any, unit: str, instance: Any, schema: Mapping[str, Any]) -> Any:
    """`x-unit`: the value parses as its unit, within the unit's bounds.

    Checked only when the value already has the right shape, so a malformed one gets the one
    error that explains its shape, not a second one.
    """
    from jsonschema.exceptions import ValidationError

    parse = UNIT_PARSERS.get(unit)
    if parse is None:
        return
    shape = {key: value for key, value in schema.items() if key != "x-unit"}
    if not validator.evolve(schema=shape).is_valid(instance):
        return
    try:
        parse(instance)
    except units.UnitError as error:
        yield ValidationError(str(error))


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].removeprefix("#/$defs/")
        schema = {**root["$defs"][name], **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _subschema(kind: str, path: Path) -> Mapping[str, Any] | None:
    root = parsed_schema(kind)
    node: Mapping[str, Any] = _resolve(root, root)
    for part in path:
        if isinstance(part, int):
            items = node.get("items")
            if not isinstance(items, Mapping):
                return None
            node = _resolve(items, root)
        else:
            props = node.get("properties", {})
            if part not in props:
                return None
            node = _resolve(props[part], root)
    return node


@cache
def default_for(kind: str, dotted: str) -> Any:
    """The schema's `default` for a field, so defaults are written down in exactly one place."""
    node = _subschema(kind, tuple(dotted.split(".")))
    if node is None or "default" not in node:
        raise KeyError(f"the {kind} schema has no default for {dotted}")
    return node["default"]


class SchemaIssue:
    """One schema violation, explained: where, what, and how to fix it."""

    __slots__ = ("hint", "message", "path")

    def __init__(self, path: Path, message: str, hint: str) -> None:
        self.path = path
        self.message = message
        self.hint = hint


def _json_type(value: object) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a true/false value ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"text ({value!r})"
    if isinstance(value, list):
        return "a list"
    return "a mapping"


_TYPE_WORDS = {
    "object": "a mapping (key: value lines)",
    "array": "a list (lines starting with -)",
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
}


_WHOLE_NUMBER_RE = re.compile(r"^[+-]?\d+$", re.ASCII)
_NUMBER_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$", re.ASCII)


def _quoted_number_hint(path: Path, schema: Mapping[str, Any], text: str, expected: str) -> str:
    """Suggest removing the quotes only when that would give a valid number.

    `min_replicas: "3"` is a number in quotes; `min_replicas: "one"` is not a number at all (nor
    is `"0"`, below the minimum of 1), and telling its author to drop the quotes would only
    trade one error for another. Those get the expected type and an example instead.
    """
    value = text.strip()
    pattern = _WHOLE_NUMBER_RE if expected == "integer" else _NUMBER_RE
    if pattern.match(value) and _in_range(float(value), schema):
        # Suggest the plain spelling: YAML reads `08` and `1e3` without quotes as text too.
        plain = str(int(value)) if expected == "integer" else repr(float(value)).removesuffix(".0")
        if "e" not in plain:
            return f"write the number without quotes, e.g. {plain}"
    words = ("a whole number" if expected == "integer" else "a number") + _range_words(schema)
    example: Any = schema.get("default")
    if example is None and expected == "number" and {"minimum", "maximum"} <= schema.keys():
        example = (schema["minimum"] + schema["maximum"]) / 2
    if example is None:
        example = max(schema.get("minimum", 1), 1)
    field = path[-1] if path and isinstance(path[-1], str) else None
    return (
        f"write {words}, e.g. `{field}: {example}`" if field else f"write {words}, e.g. {example}"
    )


#: Example values for required fields whose schema has neither a default nor a useful minimum.
_EXAMPLES: dict[str, str] = {
    "version": '"1.0.0"',
    "name": "my-service",
    "max_replicas": "5",
    "operation": "scale_within_limits",
    "type": "cpu",
    "weight": "0.5",
}


def _add_hint(missing: str, schema: Mapping[str, Any]) -> str:
    """`add `min_replicas: 1` (the fewest replicas ...)`: a line to write, and what it means."""
    if schema.get("type") == "object":
        inner = [f"`{name}:`" for name in schema.get("required", [])]
        hint = f"add a `{missing}:` section" + (f" with {' and '.join(inner)}" if inner else "")
    else:
        example = _EXAMPLES.get(missing)
        if example is None and "default" in schema:
            example = str(schema["default"])
        if example is None and schema.get("type") == "integer":
            example = str(max(schema.get("minimum", 1), 1))
        hint = f"add `{missing}: {example}`" if example is not None else f"add `{missing}:`"
    description = _sentence_part(str(schema.get("description", "")))
    return f"{hint} ({description})" if description else hint


def _sentence_part(text: str) -> str:
    """A schema description, to follow a hint in parentheses: no capital, no full stop."""
    text = text.strip().removesuffix(".")
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        text = text[0].lower() + text[1:]
    return text


def _example_line(path: Path, value: object) -> str:
    field = path[-1] if path and isinstance(path[-1], str) else None
    return f"`{field}: {value}`" if field else str(value)


def _number_hint(path: Path, schema: Mapping[str, Any], instance: object, expected: str) -> str:
    """A number where a whole number belongs (`max_replicas: 5.5`), or not a number at all."""
    if (
        expected == "integer"
        and isinstance(instance, float)
        and not isinstance(instance, bool)
        and math.isfinite(instance)
    ):
        nearby = [n for n in (math.floor(instance), math.ceil(instance)) if _in_range(n, schema)]
        if nearby:
            choices = " or ".join(_example_line(path, n) for n in dict.fromkeys(nearby))
            return f"write a whole number, such as {choices}"
    words = "a whole number" if expected == "integer" else "a number"
    example = schema.get("default", max(schema.get("minimum", 1), 1))
    return f"write {words}, e.g. {_example_line(path, example)}"


def _finite_hint(path: Path, schema: Mapping[str, Any]) -> str:
    """`weight: .nan`: a number in the field's range, with one for an example."""
    low, high = schema.get("minimum"), schema.get("maximum")
    words = "a whole number" if schema.get("type") == "integer" else "a number"
    example = schema.get("default")
    if example is None and low is not None and high is not None and high <= 1:
        example = (low + high) / 2
    if example is None:
        example = max(low or 1, 1)
    return f"write {words}{_range_words(schema)}, e.g. {_example_line(path, example)}"


def _range_words(schema: Mapping[str, Any]) -> str:
    """` from 0 to 1`, ` of at least 1`: the outer limit of counts is left out, as it only
    matters to the rare value that breaks it, whose own message names it."""
    low, high = schema.get("minimum"), schema.get("maximum")
    if high is not None and high >= bounds.COUNT_MAX:
        high = None
    if low is not None and high is not None:
        return f" from {low} to {high}"
    if low is not None:
        return f" of at least {low}"
    if high is not None:
        return f" of at most {high}"
    return ""


def _bound_hint(path: Path, schema: Mapping[str, Any], validator: str) -> str:
    """`max_replicas: 0`: say the allowed range, with a value that is in it."""
    low, high = schema.get("minimum"), schema.get("maximum")
    if validator == "maximum" and high == bounds.COUNT_MAX:
        # An example this large would only invite copying it; the reason helps more.
        return (
            f"write a whole number of at most {high}: counts are 32-bit integers, as in Kubernetes"
        )
    allowed = _range_words(schema).strip()
    example = schema.get("default")
    if example is None or not _in_range(float(example), schema):
        example = low if validator == "minimum" else high
    hint = f"write a value {allowed}, e.g. {_example_line(path, example)}"
    description = _sentence_part(str(schema.get("description", "")))
    return f"{hint} ({description})" if description else hint


def _in_range(number: float, schema: Mapping[str, Any]) -> bool:
    if not math.isfinite(number):
        return False
    return bool(schema.get("minimum", number) <= number <= schema.get("maximum", number))


def _explain(error: Any, kind: str) -> SchemaIssue:
    """One jsonschema error as a message and a fix for whoever wrote the file."""
    path: Path = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    validator = error.validator
    instance = error.instance
    unit_issue = _unit_issue(path, schema, validator, instance)
    if unit_issue is not None:
        return unit_issue
    if validator == "required":
        return _required_issue(error, kind, path, schema)
    if validator == "additionalProperties":
        return _unknown_fields(path, schema, instance)[0]
    if validator == "type":
        return _type_issue(path, schema, instance)
    if validator == "enum":
        options = [str(option) for option in schema.get("enum", [])]
        close = difflib.get_close_matches(str(instance), options, n=1)
        hint = f"did you mean {close[0]}?" if close else f"use one of: {', '.join(options)}"
        return SchemaIssue(path, f"{instance!r} is not one of {', '.join(options)}", hint)
    if validator == "const":
        return SchemaIssue(path, f"must be {schema.get('const')!r}", "fix or remove the field")
    if validator in {"minimum", "maximum"}:
        bound = error.validator_value
        word = ">=" if validator == "minimum" else "<="
        return SchemaIssue(
            path, f"must be {word} {bound}, got {instance!r}", _bound_hint(path, schema, validator)
        )
    if validator == "minItems":
        return SchemaIssue(path, "must not be empty", "add at least one entry or remove the field")
    if validator == "anyOf" and error.context:
        return _any_of_issue(error, kind, path)
    if validator == "pattern":
        return SchemaIssue(path, f"{instance!r} has the wrong form", schema.get("description", ""))
    return SchemaIssue(path, error.message, "")


def _unit_issue(
    path: Path, schema: Mapping[str, Any], validator: str, instance: Any
) -> SchemaIssue | None:
    """For a value with a unit, the unit parser's own words (they name the unit and show a
    valid value), which say more than the schema keyword that failed; None otherwise."""
    unit = schema.get("x-unit")
    if unit in UNIT_PARSERS and validator in {
        "anyOf",
        "pattern",
        "type",
        "minimum",
        "maximum",
        "x-unit",
    }:
        try:
            UNIT_PARSERS[unit](instance)
        except units.UnitError as unit_error:
            return SchemaIssue(path, str(unit_error), unit_error.hint)
        if validator in {"minimum", "maximum"}:
            return SchemaIssue(path, f"{instance!r} is out of range", schema.get("description", ""))
    if unit in {"dns_label", "dns_subdomain"}:
        return SchemaIssue(
            path,
            f"{instance!r} is not a valid name",
            "use lower-case letters, digits and '-' only, starting and ending with a letter "
            "or digit (at most 63 characters), e.g. todo-frontend",
        )
    return None


def _required_issue(error: Any, kind: str, path: Path, schema: Mapping[str, Any]) -> SchemaIssue:
    """A missing field, at the path where it belongs, with an example of it to add."""
    # jsonschema names the missing property only in its message: "'spec' is a required
    # property". Fall back to the first absent name if that wording ever changes.
    named = _REQUIRED_RE.match(error.message)
    missing = (
        named.group(1)
        if named
        else next((n for n in schema.get("required", []) if n not in (error.instance or {})), "?")
    )
    sub = _subschema(kind, (*path, missing)) or {}
    return SchemaIssue(
        (*path, missing), f"missing required field `{missing}`", _add_hint(missing, sub)
    )


def _type_issue(path: Path, schema: Mapping[str, Any], instance: Any) -> SchemaIssue:
    """A value of the wrong type, with the fix for the usual slip behind it (a quoted number,
    a number where text belongs, a list where a mapping belongs)."""
    expected = schema.get("type")
    words = _TYPE_WORDS.get(str(expected), str(expected))
    if isinstance(instance, float) and not math.isfinite(instance):
        return SchemaIssue(path, f"{instance} is not a finite number", _finite_hint(path, schema))
    hint = ""
    if isinstance(instance, str) and expected in {"integer", "number"}:
        hint = _quoted_number_hint(path, schema, instance, str(expected))
    elif expected in {"integer", "number"}:
        hint = _number_hint(path, schema, instance, str(expected))
    elif isinstance(instance, int | float) and expected == "string":
        hint = f'put the value in quotes, e.g. "{instance}"'
    elif isinstance(instance, list) and expected == "object":
        hint = "remove the leading '-' so the entries become keys of a mapping"
    return SchemaIssue(path, f"expected {words}, got {_json_type(instance)}", hint)


def _any_of_issue(error: Any, kind: str, path: Path) -> SchemaIssue:
    """The complaint of the branch that matches the value's shape: for a mapping entry, the
    object branch's (say, an unknown key) is the useful one."""
    wanted = "object" if isinstance(error.instance, dict) else "string"
    for sub_error in error.context:
        sub_schema = sub_error.schema if isinstance(sub_error.schema, Mapping) else {}
        if _resolve(sub_schema, parsed_schema(kind)).get("type") == wanted or sub_error.path:
            return _explain(sub_error, kind)
    return SchemaIssue(
        path,
        "expected an operation name or a mapping with `operation:`, "
        f"got {_json_type(error.instance)}",
        "write `- scale_within_limits` or `- operation: scale_within_limits`",
    )


def _unknown_fields(path: Path, schema: Mapping[str, Any], instance: Any) -> list[SchemaIssue]:
    """One issue per unknown key of a mapping: a person fixing a file sees them all at once."""
    allowed = list(schema.get("properties", {}))
    extras = [key for key in instance if key not in allowed] or ["?"]
    issues = []
    for extra in extras:
        close = difflib.get_close_matches(str(extra), allowed, n=1)
        hint = f"did you mean `{close[0]}`?" if close else f"known fields: {', '.join(allowed)}"
        issues.append(SchemaIssue((*path, extra), f"unknown field `{extra}`", hint))
    return issues


def iter_issues(kind: str, data: object) -> Iterator[SchemaIssue]:
    """Every schema violation of `data`, explained, in document order.

    Most documents have none: a check compiled from the schema says so in a tenth of the time
    jsonschema takes, and jsonschema runs only on a document that check does not pass, to find
    and explain each error. The compiled check never passes what jsonschema would refuse
    (tests/core/test_schema_check.py holds the two to the same verdicts).
    """
    check = compiled_check(kind)
    if check is not None and check(data):
        return
    errors = sorted(
        _validator(kind).iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]
    )
    for error in errors:
        if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
            schema = error.schema if isinstance(error.schema, Mapping) else {}
            yield from _unknown_fields(tuple(error.absolute_path), schema, error.instance)
        else:
            yield _explain(error, kind)
