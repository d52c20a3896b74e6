"""Governance rules as written in a blueprint or the global policies: checked (operation names,
tiers, conditions, never looser than the global policies) and built.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from reconciler.core.blueprint import catalogue as catalogue_module
from reconciler.core.blueprint.catalogue import Alternative, Operation
from reconciler.core.blueprint.conditions import Condition, ConditionError, parse_condition
from reconciler.core.blueprint.model import TIER_KEYS, GlobalPolicies, Rule, Tier
from reconciler.core.blueprint.reading import POLICIES_FILE, CheckContext
from reconciler.core.blueprint.yamlsafe import Path
from reconciler.core.problems import Severity, format_path


def _alternatives(raw: Iterable[Any]) -> tuple[Alternative, ...]:
    result = []
    for item in raw:
        if isinstance(item, str):
            result.append(Alternative(operation=item, description=""))
        else:
            result.append(
                Alternative(
                    operation=item["operation"],
                    description=item.get("description", ""),
                    replicas=item.get("replicas"),
                )
            )
    return tuple(result)


def build_rules(
    authority: Mapping[str, Any] | None,
    ctx: CheckContext,
    base_path: Path,
    names: Mapping[str, Operation],
    origin: str,
) -> list[Rule]:
    """Parse the three tier lists, checking names, conditions and duplicates across tiers."""
    rules: list[Rule] = []
    if not authority:
        return rules
    first_tier: dict[str, tuple[Tier, Path]] = {}
    for tier, key in TIER_KEYS.items():
        for index, entry in enumerate(authority.get(key) or []):
            path = (*base_path, key, index)
            item = {"operation": entry} if isinstance(entry, str) else entry
            name = item["operation"]
            # The condition is checked whatever is wrong with the name, so one run shows both.
            condition, broken = _condition(ctx, item, path)
            if not _name_fits(ctx, name, names, tier, path, first_tier):
                continue
            first_tier.setdefault(name, (tier, path))
            if broken:
                continue
            autonomous = bool(item.get("autonomous", True))
            if tier is not Tier.ALLOWED and "autonomous" in item and autonomous:
                ctx.add(
                    (*path, "autonomous"),
                    f"`autonomous: true` has no effect under {key}",
                    "only allowed operations run on their own; remove the field",
                    severity=Severity.WARNING,
                    code="operation.autonomous",
                )
            rules.append(
                Rule(
                    operation=name,
                    tier=tier,
                    condition=condition,
                    autonomous=autonomous,
                    rationale=item.get("rationale", ""),
                    alternatives=_alternatives(item.get("alternatives", [])),
                    approvers=tuple(item.get("approvers", [])),
                    origin=origin,
                    reference=format_path((*base_path, key, index)),
                )
            )
    return rules


def _condition(
    ctx: CheckContext, item: Mapping[str, Any], path: Path
) -> tuple[Condition | None, bool]:
    """The entry's parsed condition (None without one), and whether it failed to parse; a
    parse error points inside the condition, where the person must fix it."""
    if "condition" not in item:
        return None, False
    try:
        return parse_condition(item["condition"]), False
    except ConditionError as error:
        # Its column plus the value's column, plus one for an opening quote when the value
        # is quoted.
        text = str(item["condition"])
        quoted = (*path, "condition") in ctx.document.quoted
        ctx.add(
            (*path, "condition"),
            f"{error} in condition {text!r} at column {error.column}",
            error.hint,
            code="condition",
            column_offset=error.column - 1 + (1 if quoted else 0),
        )
        return None, True


def _name_fits(
    ctx: CheckContext,
    name: str,
    names: Mapping[str, Operation],
    tier: Tier,
    path: Path,
    first_tier: Mapping[str, tuple[Tier, Path]],
) -> bool:
    """Whether the entry names a known operation not listed under another tier already; an
    entry that does not is reported and left out, so one mistake yields one problem."""
    if name not in names:
        message, hint = _unknown_operation(name, names, ctx.policies_unloaded)
        ctx.add(path, message, hint, code="operation.unknown")
        return False
    if name in first_tier and first_tier[name][0] is not tier:
        other_tier, other_path = first_tier[name]
        ctx.add(
            path,
            f"{name} is also listed under {TIER_KEYS[other_tier]} ({format_path(other_path)})",
            "list each operation in one tier only; use `condition:` to split cases",
            code="operation.two_tiers",
        )
        return False
    return True


def _unknown_operation(
    name: str, names: Mapping[str, Operation], policies_unloaded: str
) -> tuple[str, str]:
    """The message and fix for a name that is not in the catalogue.

    When the global policies did not load, the fleet's own names (their `operations:`) are
    unknown too, so "did you mean" alone would send the reader after the wrong file.
    """
    close = catalogue_module.suggest(name, names)
    if policies_unloaded:
        missing = policies_unloaded == "missing"
        message = (
            f"unknown operation {name!r}; it may be one declared under `operations:` in "
            f"{POLICIES_FILE}, which {'does not exist' if missing else 'does not validate'}"
        )
        hint = (
            f"create {POLICIES_FILE} first"
            if missing
            else f"correct the errors of {POLICIES_FILE} first"
        )
        if close:
            hint += f"; if it does not declare {name}, did you mean {close}?"
        return message, hint
    hint = (
        f"did you mean {close}?"
        if close
        else "use a name from the catalogue (docs/governance.md) or declare it "
        f"under `operations:` in {POLICIES_FILE}"
    )
    return f"unknown operation {name!r}", hint


def check_against_global(
    rules: Sequence[Rule], policies: GlobalPolicies, ctx: CheckContext
) -> None:
    """A service may tighten the global policies, never loosen them."""
    forbidden_globally = {
        rule.operation
        for rule in policies.rules
        if rule.tier is Tier.FORBIDDEN and rule.condition is None
    }
    restricted_globally = {
        rule.operation for rule in policies.rules if rule.tier is Tier.RESTRICTED
    }
    for rule in rules:
        path = _reference_path(rule.reference)
        if rule.operation in forbidden_globally and rule.tier is not Tier.FORBIDDEN:
            ctx.add(
                path,
                f"{rule.operation} is forbidden by the global policies ({policies.source}); "
                "a service cannot allow it or make it approvable",
                "remove this entry; changing it needs a reviewed change to the global policies",
                code="policy.loosen_forbidden",
            )
        elif rule.operation in restricted_globally and rule.tier is Tier.ALLOWED:
            ctx.add(
                path,
                f"{rule.operation} needs approval under the global policies, so it stays "
                "restricted despite being listed as allowed here",
                "move it to requires_approval, or change the global policies",
                severity=Severity.WARNING,
                code="policy.loosen_restricted",
            )


def _reference_path(reference: str) -> Path:
    parts: list[str | int] = []
    for chunk in reference.split("."):
        name, _, rest = chunk.partition("[")
        parts.append(name)
        if rest:
            parts.append(int(rest.rstrip("]")))
    return tuple(parts)
