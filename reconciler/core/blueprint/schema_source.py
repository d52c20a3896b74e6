"""The JSON Schemas as the package ships them (so a repository cannot weaken its own validation
by editing them): their text, their parsed form with references inlined, and the unit parsers
their `x-unit` keyword names.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from reconciler.core.blueprint import units

__all__ = ["schema_text"]


UNIT_PARSERS = {
    "percent": units.parse_percent,
    "duration": units.parse_duration,
    "latency": units.parse_latency_ms,
    "cpu": units.parse_cpu,
    "memory": units.parse_memory,
    "throughput": units.parse_throughput,
    "money": units.parse_money,
    "semver": units.parse_semver,
}


def schema_text(kind: str) -> str:
    """The schema file's text; `kind` is `blueprint` or `policies`."""
    return resources.files("reconciler.data").joinpath(f"{kind}.schema.json").read_text("utf-8")


@cache
def parsed_schema(kind: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(schema_text(kind))
    return loaded


def inline_refs(node: Any, defs: Mapping[str, Any]) -> Any:
    """The schema with every local `$ref` replaced by its definition.

    The schemas are not recursive, so this terminates; it makes validation about twice as
    fast because jsonschema no longer resolves a reference at every step.
    """
    if isinstance(node, dict):
        if "$ref" in node:
            target = inline_refs(defs[node["$ref"].removeprefix("#/$defs/")], defs)
            return {**target, **{k: inline_refs(v, defs) for k, v in node.items() if k != "$ref"}}
        return {k: inline_refs(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [inline_refs(item, defs) for item in node]
    return node


def is_finite(value: Any) -> bool:
    return not isinstance(value, float) or math.isfinite(value)
