"""`spec.scaling.behavior`: how fast replicas may change, read from a blueprint's raw mapping.

The block is a HorizontalPodAutoscaler's `behavior`, field for field, so a team can paste the
one it already runs; what is not written takes HPA's defaults. The schema has checked the
shape and bounds before this runs; what is left is the meaning of the fields together with
the older step settings, which only the loader can judge (see `problems`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.core.blueprint import units
from reconciler.core.blueprint.model import (
    DEFAULT_BEHAVIOR,
    Behavior,
    PolicyType,
    RatePolicy,
    ScalingRules,
    SelectPolicy,
)
from reconciler.core.blueprint.yamlsafe import Path

__all__ = [
    "BehaviorProblem",
    "behavior_json",
    "describe_behavior",
    "describe_rules",
    "increment",
    "parse_behavior",
    "problems",
    "rules_json",
]

#: (path, message, hint, code) of one problem, for the loader's context to place at its line.
BehaviorProblem = tuple[Path, str, str, str]


def _rules(node: Mapping[str, Any] | None, default: ScalingRules, window: float) -> ScalingRules:
    node = node or {}
    policies = tuple(
        RatePolicy(
            type=PolicyType(item["type"]),
            value=int(item["value"]),
            period=float(item["periodSeconds"]),
        )
        for item in node.get("policies", ())
    )
    written = node.get("stabilizationWindowSeconds")
    return ScalingRules(
        policies=policies or default.policies,
        select=SelectPolicy(node.get("selectPolicy", default.select)),
        stabilization=window if written is None else float(written),
    )


def parse_behavior(scaling: Mapping[str, Any]) -> Behavior | None:
    """The behavior `spec.scaling` (raw) writes, with HPA's defaults for what it leaves out;
    None when it writes no `behavior` at all, so the step settings alone apply, as before.
    The scale-down window is the one `scale_down_stabilization` sets unless the behavior
    writes its own."""
    node = scaling.get("behavior")
    if node is None:
        return None
    down_window = scaling.get("scale_down_stabilization")
    return Behavior(
        scale_up=_rules(node.get("scaleUp"), DEFAULT_BEHAVIOR.scale_up, 0.0),
        scale_down=_rules(
            node.get("scaleDown"),
            DEFAULT_BEHAVIOR.scale_down,
            DEFAULT_BEHAVIOR.scale_down.stabilization
            if down_window is None
            else units.parse_duration(down_window),
        ),
    )


def increment(
    scaling: Mapping[str, Any], key: str, behavior: Behavior | None, default: int
) -> int | None:
    """A step limit: as written; else none when the blueprint writes a behavior (its
    policies decide the step, as on an HPA); else the old default of one replica, so a
    blueprint without `behavior` scales exactly as before."""
    value = scaling.get(key)
    if value is not None:
        return int(value)
    return None if behavior is not None else default


def problems(scaling: Mapping[str, Any], behavior: Behavior | None) -> list[BehaviorProblem]:
    """What the schema cannot see: two settings for one window that disagree."""
    found: list[BehaviorProblem] = []
    if behavior is None:
        return found
    node = scaling.get("behavior") or {}
    down = node.get("scaleDown") or {}
    old = scaling.get("scale_down_stabilization")
    if old is not None and down.get("stabilizationWindowSeconds") is not None:
        seconds = units.parse_duration(old)
        if seconds != behavior.scale_down.stabilization:
            found.append(
                (
                    ("spec", "scaling", "behavior", "scaleDown", "stabilizationWindowSeconds"),
                    f"{behavior.scale_down.stabilization:g}s disagrees with "
                    f"scale_down_stabilization ({old}); both set the scale-down window",
                    "keep one of the two: they set the same window",
                    "behavior.window_conflict",
                )
            )
    return found


def describe_behavior(behavior: Behavior | None) -> str:
    """`up Max of 4 pods/15s, 100%/15s, window 0s; down ...`, for `policy` and `explain`."""
    if behavior is None:
        return "not written (the steps above limit each change)"
    return f"up {describe_rules(behavior.scale_up)}; down {describe_rules(behavior.scale_down)}"


def describe_rules(rules: ScalingRules) -> str:
    """`Max of 4 pods/15s, 100%/15s, window 0s`."""
    if rules.select is SelectPolicy.DISABLED:
        return "disabled"
    shown = ", ".join(
        f"{p.value} pods/{p.period:g}s"
        if p.type is PolicyType.PODS
        else f"{p.value}%/{p.period:g}s"
        for p in rules.policies
    )
    return f"{rules.select} of {shown}, window {units.format_duration(rules.stabilization)}"


def behavior_json(behavior: Behavior | None) -> dict[str, Any] | None:
    """HPA's own field names, for `policy -o json`; None when not written."""
    if behavior is None:
        return None
    return {"scaleUp": rules_json(behavior.scale_up), "scaleDown": rules_json(behavior.scale_down)}


def rules_json(rules: ScalingRules) -> dict[str, Any]:
    """One direction in HPA's own field names."""
    return {
        "selectPolicy": str(rules.select),
        "stabilizationWindowSeconds": rules.stabilization,
        "policies": [
            {"type": str(p.type), "value": p.value, "periodSeconds": p.period}
            for p in rules.policies
        ],
    }
