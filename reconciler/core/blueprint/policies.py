"""The global policies: loaded from their file, or the built-in defaults when there is none."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.core.blueprint import catalogue as catalogue_module
from reconciler.core.blueprint import units
from reconciler.core.blueprint.model import (
    ApprovalWorkflow,
    CircuitBreakerSettings,
    ClusterDeclaration,
    GlobalPolicies,
    Mode,
    RateLimits,
    Rule,
    Safety,
)
from reconciler.core.blueprint.reading import (
    POLICIES_FILE,
    CheckContext,
    by_position,
    get_dotted,
    read_document,
    schema_problems,
    section_passed,
)
from reconciler.core.blueprint.rules import build_rules
from reconciler.core.blueprint.schemas import default_for
from reconciler.core.blueprint.yamlsafe import Document
from reconciler.core.problems import Problem, has_errors

__all__ = ["load_policies"]


_BUILTIN_POLICIES_SOURCE = "(built-in global policies)"


def load_policies(
    data: bytes | None, *, source: str = POLICIES_FILE
) -> tuple[GlobalPolicies | None, list[Problem]]:
    """Parse the global policies; `None` data means the file is absent and defaults apply."""
    if data is None:
        document = Document(data={}, key_marks={}, value_marks={})
        source = _BUILTIN_POLICIES_SOURCE
    else:
        parsed, problems = read_document(data, source, "policies file")
        if parsed is None:
            return None, problems
        document = parsed
    ctx = CheckContext(source=source, document=document, problems=[])
    failed = schema_problems("policies", ctx)
    raw = document.data
    # As for blueprints, a schema error elsewhere does not hide the rules' own problems; the
    # rules need the custom operations too, to know which names exist.
    if not (
        section_passed(failed, "governance", "agent_authority")
        and section_passed(failed, "operations")
    ):
        return None, by_position(ctx.problems)
    names = catalogue_module.with_custom(raw.get("operations") or {})
    rules = build_rules(
        get_dotted(raw, "governance.agent_authority"),
        ctx,
        ("governance", "agent_authority"),
        names,
        origin="global",
    )
    if failed:
        return None, by_position(ctx.problems)
    policies = _policies(ctx, raw, names, tuple(rules))
    ordered = by_position(ctx.problems)
    return (None if has_errors(ordered) else policies), ordered


def _policies(
    ctx: CheckContext,
    raw: Mapping[str, Any],
    names: Mapping[str, catalogue_module.Operation],
    rules: tuple[Rule, ...],
) -> GlobalPolicies:
    """The checked file as the model, every default applied; the clusters' own problems go
    to `ctx`."""
    safety_raw = get_dotted(raw, "governance.safety") or {}
    approval = build_approval(raw, _BUILTIN_APPROVAL)
    safety = build_safety(safety_raw, None, _BUILTIN_SAFETY)
    proposals = get_dotted(raw, "governance.proposals") or {}
    return GlobalPolicies(
        source=ctx.source,
        default_namespace=get_dotted(raw, "defaults.namespace")
        or default_for("policies", "defaults.namespace"),
        catalogue=names,
        rules=rules,
        approval=approval,
        safety=safety,
        teams={
            name: tuple(members)
            for name, members in (get_dotted(raw, "governance.teams") or {}).items()
        },
        max_new_proposals_per_run=int(
            proposals.get(
                "max_new_per_run", default_for("policies", "governance.proposals.max_new_per_run")
            )
        ),
        replica_ceiling=int(
            get_dotted(raw, "limits.max_replicas") or default_for("policies", "limits.max_replicas")
        ),
        mode=Mode(raw.get("mode") or default_for("policies", "mode")),
        clusters=_clusters(ctx, raw.get("clusters") or ()),
    )


#: The embedded simulation's name (core/trail/clusters.py), which no real cluster may take.
SIMULATED_NAME = "simulated"


def _clusters(
    ctx: CheckContext, raw: Sequence[Mapping[str, Any]]
) -> tuple[ClusterDeclaration, ...]:
    """The policies' `clusters`; a name, identity or context said twice is an error, since a
    run could not tell which of the two it is on."""
    declared = []
    seen: dict[tuple[str, str], int] = {}
    for index, item in enumerate(raw):
        if item.get("name") == SIMULATED_NAME:
            ctx.add(
                ("clusters", index, "name"),
                f"{SIMULATED_NAME!r} is the embedded simulation's name",
                "give the real cluster another name",
                code="clusters.reserved_name",
            )
        for key in ("name", "identity", "context"):
            value = item.get(key)
            if not value:
                continue
            first = seen.setdefault((key, value), index)
            if first != index:
                ctx.add(
                    ("clusters", index, key),
                    f"{key} {value!r} is already that of clusters[{first}]",
                    "each cluster needs its own name, identity (the UID of its kube-system "
                    "namespace) and context",
                    code="clusters.duplicate",
                )
        declared.append(
            ClusterDeclaration(
                name=item["name"], identity=item["identity"], context=item.get("context", "")
            )
        )
    return tuple(declared)


#: Approval settings that apply when neither the global file nor a blueprint says otherwise.
_BUILTIN_APPROVAL = ApprovalWorkflow(
    approvers=(),
    timeout=3600.0,
    auto_reject_on_timeout=True,
    rejection_cooloff=86400.0,
)

#: The safety limits that apply when neither the global file nor a blueprint says otherwise.
_BUILTIN_SAFETY = Safety(
    cooldown=60.0,
    circuit_breaker=CircuitBreakerSettings(
        failure_threshold=3,
        failure_window=300.0,
        reset_timeout=3600.0,
        manual_reset_required=True,
    ),
    rate_limits=RateLimits(per_hour=10, per_day=50),
)


def build_safety(raw: Mapping[str, Any], cooldown_override: float | None, base: Safety) -> Safety:
    """Field-by-field override of `base` by `raw` (the `governance.safety` shape)."""
    breaker = raw.get("circuit_breaker") or {}
    limits = raw.get("rate_limits") or {}
    cooldown_raw = (raw.get("cooldown") or {}).get("default_period")
    cooldown = base.cooldown if cooldown_raw is None else units.parse_duration(cooldown_raw)
    if cooldown_override is not None:
        cooldown = cooldown_override
    base_breaker = base.circuit_breaker
    return Safety(
        cooldown=cooldown,
        circuit_breaker=CircuitBreakerSettings(
            failure_threshold=int(breaker.get("failure_threshold", base_breaker.failure_threshold)),
            failure_window=_duration_or(breaker.get("failure_window"), base_breaker.failure_window),
            reset_timeout=_duration_or(breaker.get("reset_timeout"), base_breaker.reset_timeout),
            manual_reset_required=bool(
                breaker.get("manual_reset_required", base_breaker.manual_reset_required)
            ),
        ),
        rate_limits=RateLimits(
            per_hour=int(limits.get("max_operations_per_hour", base.rate_limits.per_hour)),
            per_day=int(limits.get("max_operations_per_day", base.rate_limits.per_day)),
        ),
    )


def _duration_or(value: Any, fallback: float) -> float:
    return fallback if value is None else units.parse_duration(value)


def builtin_policies() -> GlobalPolicies:
    """The global policies used when the repository has no policies file."""
    policies, problems = load_policies(None)
    assert policies is not None, problems  # the built-in defaults always validate
    return policies


def build_approval(raw: Mapping[str, Any], base: ApprovalWorkflow) -> ApprovalWorkflow:
    node = get_dotted(raw, "governance.approval_workflow") or {}
    return ApprovalWorkflow(
        approvers=tuple(node.get("approvers", base.approvers)),
        timeout=_duration_or(node.get("timeout"), base.timeout),
        auto_reject_on_timeout=bool(
            node.get("auto_reject_on_timeout", base.auto_reject_on_timeout)
        ),
        rejection_cooloff=_duration_or(node.get("rejection_cooloff"), base.rejection_cooloff),
        notification_channels=tuple(node.get("notification_channels", base.notification_channels)),
    )
