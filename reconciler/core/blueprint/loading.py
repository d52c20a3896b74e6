"""From bytes to a validated `Blueprint`: the one place where defaults and merge rules apply.

Loading runs in stages, and reports every problem it can find rather than the first:

1. YAML, defensively (`yamlsafe`): size, encoding, duplicate keys, alias bombs, top-level shape.
2. The JSON Schema: structure, types and unit formats, each error explained with a fix.
3. Semantic checks the schema cannot express: min <= max, threshold order, ranges, weights,
   operation names (with "did you mean"), an operation in two tiers, conditions, and the rule
   that a service may tighten the global policies but never loosen them. They run section by
   section: a section's checks run when that section passed the schema, whatever failed
   elsewhere, and a check spanning two sections runs when both passed.
4. Building the frozen model, with defaults from the schema and the global policies, only when
   nothing failed.

It is pure: the caller reads the files and passes bytes, so the same code validates a file on
disk, a blob from another git revision, or a pull request's proposed content.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.core.blueprint import behavior as behavior_module
from reconciler.core.blueprint import catalogue as catalogue_module
from reconciler.core.blueprint import units
from reconciler.core.blueprint.catalogue import Alternative, Operation
from reconciler.core.blueprint.conditions import ConditionError, parse_condition
from reconciler.core.blueprint.model import (
    TIER_KEYS,
    ApprovalWorkflow,
    Blueprint,
    CircuitBreakerSettings,
    Cost,
    GlobalPolicies,
    Guards,
    ManifestFormat,
    Manifests,
    Metadata,
    MetricWeight,
    Mode,
    Performance,
    Policy,
    RateLimits,
    Reliability,
    Resources,
    ResourceSpec,
    Rule,
    Safety,
    Scaling,
    Tier,
)
from reconciler.core.blueprint.schemas import default_for, iter_issues
from reconciler.core.blueprint.yamlsafe import Document, Path, YamlError, parse_yaml
from reconciler.core.errors import BlueprintError
from reconciler.core.problems import Problem, Severity, format_path, has_errors

__all__ = [
    "DEFAULT_METRICS",
    "POLICIES_FILE",
    "check_unique_names",
    "load_blueprint",
    "load_policies",
    "parse_blueprint",
]

#: Weights of the weighted utilization when a blueprint does not list `spec.scaling.metrics`.
DEFAULT_METRICS = (
    MetricWeight(type="cpu", weight=0.5),
    MetricWeight(type="memory", weight=0.3),
    MetricWeight(type="latency", weight=0.2),
)


@dataclass
class _Context:
    """What the checks of one file share: where it came from and the problems so far."""

    source: str
    document: Document
    problems: list[Problem]
    #: Why the global policies did not load ("missing" or "invalid"), or "" when they did.
    #: The fleet's own operation names are declared there, so an unknown name may be one.
    policies_unloaded: str = ""

    def add(
        self,
        path: Path,
        message: str,
        hint: str = "",
        *,
        severity: Severity = Severity.ERROR,
        code: str = "",
        column_offset: int | None = None,
    ) -> None:
        line, column = self.document.position(path)
        if column_offset is not None:
            value_line, value_column = self.document.value_marks.get(path, (line, column))
            line = value_line
            column = (value_column or 1) + column_offset
        self.problems.append(
            Problem(
                file=self.source,
                path=format_path(path),
                message=message,
                hint=hint,
                line=line,
                column=column,
                severity=severity,
                code=code,
            )
        )


def _get(data: Mapping[str, Any], dotted: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _read_document(data: bytes, source: str, what: str) -> tuple[Document | None, list[Problem]]:
    try:
        return parse_yaml(data, what=what), []
    except YamlError as error:
        problem = Problem(
            file=source,
            path="",
            message=str(error),
            hint=error.hint,
            line=error.line,
            column=error.column,
            code="yaml",
        )
        return None, [problem]


def _schema_problems(kind: str, ctx: _Context) -> list[Path]:
    """Add every schema problem; return the paths that failed, so clean sections can go on."""
    failed = []
    for issue in iter_issues(kind, ctx.document.data):
        ctx.add(issue.path, issue.message, issue.hint, code="schema")
        failed.append(issue.path)
    return failed


def _by_position(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.line or 0, p.column or 0))


# ---------------------------------------------------------------------------------------------
# Governance rules


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


def _rules(
    authority: Mapping[str, Any] | None,
    ctx: _Context,
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
            condition, broken = None, False
            if "condition" in item:
                try:
                    condition = parse_condition(item["condition"])
                except ConditionError as error:
                    # Point inside the condition: its column plus the value's column, plus one
                    # for an opening quote when the value is quoted.
                    text = str(item["condition"])
                    quoted = (*path, "condition") in ctx.document.quoted
                    ctx.add(
                        (*path, "condition"),
                        f"{error} in condition {text!r} at column {error.column}",
                        error.hint,
                        code="condition",
                        column_offset=error.column - 1 + (1 if quoted else 0),
                    )
                    broken = True
            if name not in names:
                message, hint = _unknown_operation(name, names, ctx.policies_unloaded)
                ctx.add(path, message, hint, code="operation.unknown")
                continue
            if name in first_tier and first_tier[name][0] is not tier:
                other_tier, other_path = first_tier[name]
                ctx.add(
                    path,
                    f"{name} is also listed under {TIER_KEYS[other_tier]} "
                    f"({format_path(other_path)})",
                    "list each operation in one tier only; use `condition:` to split cases",
                    code="operation.two_tiers",
                )
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


def _check_against_global(rules: Sequence[Rule], policies: GlobalPolicies, ctx: _Context) -> None:
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


# ---------------------------------------------------------------------------------------------
# Global policies


_BUILTIN_POLICIES_SOURCE = "(built-in global policies)"

#: Where the global policies live in a blueprint repository.
POLICIES_FILE = "blueprints/governance/policies.yaml"


def load_policies(
    data: bytes | None, *, source: str = POLICIES_FILE
) -> tuple[GlobalPolicies | None, list[Problem]]:
    """Parse the global policies; `None` data means the file is absent and defaults apply."""
    if data is None:
        document = Document(data={}, key_marks={}, value_marks={})
        source = _BUILTIN_POLICIES_SOURCE
    else:
        parsed, problems = _read_document(data, source, "policies file")
        if parsed is None:
            return None, problems
        document = parsed
    ctx = _Context(source=source, document=document, problems=[])
    failed = _schema_problems("policies", ctx)
    raw = document.data
    # As for blueprints, a schema error elsewhere does not hide the rules' own problems; the
    # rules need the custom operations too, to know which names exist.
    if not (_clean(failed, "governance", "agent_authority") and _clean(failed, "operations")):
        return None, _by_position(ctx.problems)
    names = catalogue_module.with_custom(raw.get("operations") or {})
    rules = _rules(
        _get(raw, "governance.agent_authority"),
        ctx,
        ("governance", "agent_authority"),
        names,
        origin="global",
    )
    if failed:
        return None, _by_position(ctx.problems)
    safety_raw = _get(raw, "governance.safety") or {}
    approval = _approval(raw, _BUILTIN_APPROVAL)
    safety = _safety(safety_raw, None, _BUILTIN_SAFETY)
    proposals = _get(raw, "governance.proposals") or {}
    policies = GlobalPolicies(
        source=source,
        default_namespace=_get(raw, "defaults.namespace")
        or default_for("policies", "defaults.namespace"),
        catalogue=names,
        rules=tuple(rules),
        approval=approval,
        safety=safety,
        teams={
            name: tuple(members) for name, members in (_get(raw, "governance.teams") or {}).items()
        },
        max_new_proposals_per_run=int(
            proposals.get(
                "max_new_per_run", default_for("policies", "governance.proposals.max_new_per_run")
            )
        ),
        replica_ceiling=int(
            _get(raw, "limits.max_replicas") or default_for("policies", "limits.max_replicas")
        ),
        mode=Mode(raw.get("mode") or default_for("policies", "mode")),
    )
    ordered = _by_position(ctx.problems)
    return (None if has_errors(ordered) else policies), ordered


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


def _safety(raw: Mapping[str, Any], cooldown_override: float | None, base: Safety) -> Safety:
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


# ---------------------------------------------------------------------------------------------
# Blueprints


def _percent(
    ctx: _Context, raw: Mapping[str, Any], dotted: str, default_key: str | None = None
) -> float:
    value = _get(raw, dotted)
    if value is None:
        value = default_for("blueprint", default_key or dotted)
    fraction = units.parse_percent(value)
    if fraction > 1:
        ctx.add(
            tuple(dotted.split(".")),
            f"{value} is over 100%",
            "a utilization, threshold or rate is at most 100%",
            code="range.percent",
        )
    return fraction


def _check_scaling(ctx: _Context, scaling: Scaling) -> None:
    path = ("spec", "scaling")
    if scaling.max_replicas < scaling.min_replicas:
        ctx.add(
            (*path, "max_replicas"),
            f"must be >= min_replicas ({scaling.min_replicas}), got {scaling.max_replicas}",
            f"raise max_replicas to at least {scaling.min_replicas} or lower min_replicas",
            code="range.replicas",
        )
    up = units.format_percent(scaling.scale_up_threshold)
    down = units.format_percent(scaling.scale_down_threshold)
    if scaling.target_cpu_utilization <= 0:
        # The scale-up estimate divides by it: current × utilization / target.
        ctx.add(
            (*path, "target_cpu_utilization"),
            "must be more than 0%, got 0%",
            "set the utilization a scaling step aims for, e.g. `target_cpu_utilization: 70%`",
            code="range.target",
        )
    if scaling.scale_down_threshold >= scaling.scale_up_threshold:
        ctx.add(
            (*path, "scale_down_threshold"),
            f"must be below scale_up_threshold ({up}), got {down}",
            "leave a gap between the two thresholds so the service does not flap",
            code="range.thresholds",
        )
    elif scaling.target_cpu_utilization > 0 and not (
        scaling.scale_down_threshold < scaling.target_cpu_utilization <= scaling.scale_up_threshold
    ):
        ctx.add(
            (*path, "target_cpu_utilization"),
            f"{units.format_percent(scaling.target_cpu_utilization)} is outside the band between "
            f"the thresholds ({units.format_percent(scaling.scale_down_threshold)} to "
            f"{units.format_percent(scaling.scale_up_threshold)})",
            "a scaling step aims for this target, so it should sit between the thresholds",
            severity=Severity.WARNING,
            code="range.target",
        )
    types = [metric.type for metric in scaling.metrics]
    for index, metric_type in enumerate(types):
        if metric_type in types[:index]:
            ctx.add(
                (*path, "metrics", index, "type"),
                f"{metric_type} is listed twice",
                "give each metric one weight",
                code="metrics.duplicate",
            )
    total = sum(metric.weight for metric in scaling.metrics)
    if abs(total - 1.0) > 1e-6:
        ctx.add(
            (*path, "metrics"),
            f"weights sum to {total:g}, not 1",
            "the weights are used as written; make them sum to 1 so 80% means 80%",
            severity=Severity.WARNING,
            code="metrics.sum",
        )


def _resource(
    ctx: _Context, raw: Mapping[str, Any], which: str, target_default: float
) -> ResourceSpec:
    node = _get(raw, f"spec.resources.{which}") or {}
    parse = units.parse_cpu if which == "cpu" else units.parse_memory
    request = parse(node["request"]) if "request" in node else None
    limit = parse(node["limit"]) if "limit" in node else None
    for key in ("request", "limit"):
        if key in node:
            _check_bare_quantity(ctx, which, key, node[key])
    if request is not None and limit is not None and request > limit:
        ctx.add(
            ("spec", "resources", which, "request"),
            f"request ({node['request']}) is above limit ({node['limit']})",
            "Kubernetes refuses a request above its limit; raise the limit or lower the request",
            code="range.resources",
        )
    target = (
        _percent(ctx, raw, f"spec.resources.{which}.target_utilization")
        if "target_utilization" in node
        else target_default
    )
    return ResourceSpec(
        request=request,
        limit=limit,
        target_utilization=target,
        optimization_threshold=_percent(ctx, raw, f"spec.resources.{which}.optimization_threshold"),
    )


#: A CPU written as a bare number this large is read as cores, and is almost always a
#: forgotten `m`: `request: 250` is 250 cores, where `250m` was meant.
BARE_CPU_WARNING_CORES = 16
#: A memory written as a bare number below this is read as bytes: `512` where `512Mi` was meant.
BARE_MEMORY_WARNING_BYTES = 1024**2


def _check_bare_quantity(ctx: _Context, which: str, key: str, value: Any) -> None:
    """Warn about a quantity without its unit that is surely not what was meant."""
    text = str(value).strip()
    if not text or not text.replace(".", "", 1).isdigit():
        return  # it has a unit (250m, 512Mi): the person chose it
    number = float(text)
    if which == "cpu" and number >= BARE_CPU_WARNING_CORES:
        message = f"{text} is read as {text} CPU cores"
        hint = f"write `{key}: {text}m` for {text} millicores; ignore this if {text} cores is meant"
    elif which == "memory" and number < BARE_MEMORY_WARNING_BYTES:
        message = f"{text} is read as {text} bytes"
        hint = f"write `{key}: {text}Mi` (or Ki, Gi) for the unit you meant"
    else:
        return
    ctx.add(
        ("spec", "resources", which, key),
        message,
        hint,
        severity=Severity.WARNING,
        code="units.bare",
    )


def _cost(ctx: _Context, raw: Mapping[str, Any]) -> Cost:
    node = raw.get("cost") or {}
    per_replica = (
        units.parse_money(node["cost_per_replica"]) if "cost_per_replica" in node else None
    )
    budget = units.parse_money(node["monthly_budget"]) if "monthly_budget" in node else None
    if per_replica and budget and per_replica.currency != budget.currency:
        ctx.add(
            ("cost", "monthly_budget"),
            f"currency {budget.currency} differs from cost_per_replica's {per_replica.currency}",
            "use one currency for both",
            code="cost.currency",
        )
    return Cost(cost_per_replica=per_replica, monthly_budget=budget)


def _approval(raw: Mapping[str, Any], base: ApprovalWorkflow) -> ApprovalWorkflow:
    node = _get(raw, "governance.approval_workflow") or {}
    return ApprovalWorkflow(
        approvers=tuple(node.get("approvers", base.approvers)),
        timeout=_duration_or(node.get("timeout"), base.timeout),
        auto_reject_on_timeout=bool(
            node.get("auto_reject_on_timeout", base.auto_reject_on_timeout)
        ),
        rejection_cooloff=_duration_or(node.get("rejection_cooloff"), base.rejection_cooloff),
        notification_channels=tuple(node.get("notification_channels", base.notification_channels)),
    )


def load_blueprint(
    data: bytes,
    *,
    source: str,
    policies: GlobalPolicies,
    expected_name: str | None = None,
    policies_unloaded: str = "",
) -> tuple[Blueprint | None, list[Problem]]:
    """Validate one blueprint. Returns the blueprint (None if any error) and every problem.

    Schema errors in one section do not hide semantic problems in another: each section's
    checks run whenever that section passed the schema, and a check spanning two sections
    (such as restricted operations without approvers) runs when both did.

    `policies_unloaded` says why the global policies file did not load (`missing` or
    `invalid`), when `policies` are the built-in stand-in for it.
    """
    document, problems = _read_document(data, source, "blueprint")
    if document is None:
        return None, problems
    ctx = _Context(
        source=source,
        document=document,
        problems=problems,
        policies_unloaded=policies_unloaded,
    )
    failed = _schema_problems("blueprint", ctx)
    try:
        blueprint = _build(ctx, document.data, data, policies, expected_name, failed)
    except units.UnitError as error:  # the schema's unit check makes this unreachable
        ctx.add((), str(error), error.hint, code="unit")
        blueprint = None
    ordered = _by_position(ctx.problems)
    return (None if has_errors(ordered) else blueprint), ordered


def _clean(failed: Sequence[Path], *prefix: str) -> bool:
    """True when no schema error lies inside (or above) the section at `prefix`."""
    return not any(path[: len(prefix)] == prefix or prefix[: len(path)] == path for path in failed)


def _build(
    ctx: _Context,
    raw: Mapping[str, Any],
    data: bytes,
    policies: GlobalPolicies,
    expected_name: str | None,
    failed: Sequence[Path],
) -> Blueprint | None:
    """Check every section that passed the schema; build the blueprint only if all did.

    A section's own checks run whenever that section is clean, and a check that spans two
    sections runs when both are. So a typo in one section never hides a mistake in another,
    and a person fixing a blueprint sees everything wrong with it in one run.
    """

    def clean(*prefix: str) -> bool:
        return _clean(failed, *prefix)

    rules: list[Rule] | None = None
    if clean("governance", "agent_authority"):
        rules = _rules(
            _get(raw, "governance.agent_authority"),
            ctx,
            ("governance", "agent_authority"),
            policies.catalogue,
            origin="blueprint",
        )
        _check_against_global(rules, policies, ctx)
    if clean("metadata"):
        _check_name(ctx, raw, expected_name)
    scaling = _scaling(ctx, raw, policies) if clean("spec", "scaling") else None
    performance = _performance(ctx, raw) if clean("spec", "performance") else None
    resources = _resources(ctx, raw, scaling) if clean("spec", "resources") else None
    reliability = _reliability(ctx, raw) if clean("spec", "reliability") else None
    cost = _cost(ctx, raw) if clean("cost") else None
    manifests = _manifests(ctx, raw) if clean("spec", "manifests") else None
    approval = (
        _approval(raw, policies.approval) if clean("governance", "approval_workflow") else None
    )
    if rules is not None and approval is not None:
        _check_approvers(ctx, (*rules, *policies.rules), approval)
    if scaling is not None and clean("spec", "manifests"):
        _check_write_back(ctx, scaling, manifests)
    if failed:
        return None
    # Nothing failed the schema, so every section above was checked and built.
    assert rules is not None and scaling is not None and performance is not None
    assert resources is not None and reliability is not None and cost is not None
    assert approval is not None
    cooldown_raw = _get(raw, "spec.scaling.cooldown_period")
    policy = Policy(
        rules=tuple(rules) + policies.rules,
        approval=approval,
        safety=_safety(
            _get(raw, "governance.safety") or {},
            units.parse_duration(cooldown_raw) if cooldown_raw is not None else None,
            policies.safety,
        ),
        catalogue=policies.catalogue,
    )
    observed_by = ""
    if policies.mode is Mode.OBSERVE:
        observed_by = f"mode: observe in {policies.source}"
    elif _value(raw, "spec.mode") == Mode.OBSERVE:
        observed_by = "spec.mode: observe in the blueprint"
    return Blueprint(
        source=ctx.source,
        digest=hashlib.sha256(data).hexdigest(),
        metadata=_metadata(raw, policies),
        scaling=scaling,
        performance=performance,
        resources=resources,
        reliability=reliability,
        policy=policy,
        cost=cost,
        suspend=bool(_value(raw, "spec.suspend")),
        mode=Mode.OBSERVE if observed_by else Mode.ACT,
        observed_by=observed_by,
        queries=dict(_get(raw, "spec.observability.queries") or {}),
        manifests=manifests,
    )


#: The fields of spec.manifests that only one format reads, by format.
_MANIFEST_FIELDS = {
    ManifestFormat.PLAIN: {"kind", "name"},
    ManifestFormat.KUSTOMIZE: {"kind", "name", "patch"},
    ManifestFormat.HELM: {"replicas_key", "requests_key"},
}
_KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


def _manifests(ctx: _Context, raw: Mapping[str, Any]) -> Manifests | None:
    """spec.manifests, with the fields its format reads; a field another format reads is an
    error rather than ignored, since whoever wrote it expected it to matter."""
    node = _get(raw, "spec.manifests")
    if node is None:
        return None
    path = ("spec", "manifests")
    kind = ManifestFormat(node["format"])
    for key in sorted(set(node) & set().union(*_MANIFEST_FIELDS.values())):
        if key not in _MANIFEST_FIELDS[kind]:
            readers = [str(f) for f, keys in _MANIFEST_FIELDS.items() if key in keys]
            ctx.add(
                (*path, key),
                f"`{key}` is read only with format {' or '.join(readers)}, not {kind}",
                f"remove `{key}`, or set the format that holds the value this way",
                code="manifests.field",
            )
    if kind is ManifestFormat.KUSTOMIZE and not node["path"].endswith(_KUSTOMIZATION_NAMES):
        ctx.add(
            (*path, "path"),
            f"{node['path']!r} is not a kustomization file",
            "point at the overlay's kustomization.yaml (the file with the `replicas:` entry)",
            code="manifests.kustomization",
        )
    meta = raw.get("metadata") or {}
    helm = kind is ManifestFormat.HELM

    def keys(name: str, default: str = "") -> tuple[str, ...]:
        text = node.get(name, default)
        return tuple(text.split(".")) if helm and text else ()

    return Manifests(
        format=kind,
        path=node["path"],
        kind=node.get("kind", "Deployment"),
        name=node.get("name") or meta.get("deployment") or meta.get("name", ""),
        patch=node.get("patch", ""),
        replicas_key=keys("replicas_key", default_for("blueprint", "spec.manifests.replicas_key")),
        requests_key=keys("requests_key"),
        repository=node.get("repository", ""),
        branch=node.get("branch", ""),
        sync_timeout=units.parse_duration(_value(raw, "spec.manifests.sync_timeout")),
    )


def _check_write_back(ctx: _Context, scaling: Scaling, manifests: Manifests | None) -> None:
    """Spans two sections: acting through git needs to know where the numbers live, and a
    location nobody writes to is worth a word."""
    if scaling.coexistence == "write_back" and manifests is None:
        ctx.add(
            ("spec", "scaling", "coexistence"),
            "write_back changes the manifests Argo CD or Flux apply, but spec.manifests does "
            "not say where they are",
            "add spec.manifests (format and path of the file that holds the replicas), see "
            "docs/blueprint-format.md",
            code="manifests.missing",
        )
    elif manifests is not None and scaling.coexistence != "write_back":
        ctx.add(
            ("spec", "manifests"),
            f"spec.manifests is only written with coexistence: write_back (this blueprint has "
            f"{scaling.coexistence}); `validate` and `doctor` still check it",
            "set spec.scaling.coexistence: write_back to change the replicas through git",
            severity=Severity.WARNING,
            code="manifests.unused",
        )


def _check_name(ctx: _Context, raw: Mapping[str, Any], expected_name: str | None) -> None:
    name = raw["metadata"]["name"]
    if expected_name is not None and name != expected_name:
        ctx.add(
            ("metadata", "name"),
            f"{name!r} does not match its folder {expected_name!r}",
            f"rename the folder to blueprints/{name}/ or set `name: {expected_name}`",
            code="name.folder",
        )


def _scaling(ctx: _Context, raw: Mapping[str, Any], policies: GlobalPolicies) -> Scaling:
    scaling_raw = _get(raw, "spec.scaling")
    metrics = (
        tuple(
            MetricWeight(type=item["type"], weight=float(item["weight"]))
            for item in scaling_raw.get("metrics", [])
        )
        or DEFAULT_METRICS
    )
    behavior = behavior_module.parse_behavior(scaling_raw)
    for path, message, hint, code in behavior_module.problems(scaling_raw, behavior):
        ctx.add(path, message, hint, code=code)
    scaling = Scaling(
        min_replicas=int(scaling_raw["min_replicas"]),
        max_replicas=int(scaling_raw["max_replicas"]),
        target_cpu_utilization=_percent(ctx, raw, "spec.scaling.target_cpu_utilization"),
        target_memory_utilization=_percent(ctx, raw, "spec.scaling.target_memory_utilization"),
        scale_up_threshold=_percent(ctx, raw, "spec.scaling.scale_up_threshold"),
        scale_down_threshold=_percent(ctx, raw, "spec.scaling.scale_down_threshold"),
        scale_up_increment=behavior_module.increment(
            scaling_raw,
            "scale_up_increment",
            behavior,
            default_for("blueprint", "spec.scaling.scale_up_increment"),
        ),
        scale_down_increment=behavior_module.increment(
            scaling_raw,
            "scale_down_increment",
            behavior,
            default_for("blueprint", "spec.scaling.scale_down_increment"),
        ),
        scale_down_stabilization=units.parse_duration(
            _value(raw, "spec.scaling.scale_down_stabilization")
        )
        if behavior is None
        else behavior.scale_down.stabilization,
        behavior=behavior,
        stabilization_period=units.parse_duration(_value(raw, "spec.scaling.stabilization_period")),
        metrics=metrics,
        guards=Guards(
            # Utilization is usage / request, so a guard above 100% is meaningful.
            cpu_utilization=units.parse_percent(_value(raw, "spec.scaling.guards.cpu_utilization")),
            memory_utilization=units.parse_percent(
                _value(raw, "spec.scaling.guards.memory_utilization")
            ),
            latency_factor=float(_value(raw, "spec.scaling.guards.latency_factor")),
        ),
        coexistence=_value(raw, "spec.scaling.coexistence"),
        replica_ceiling=policies.replica_ceiling,
    )
    _check_scaling(ctx, scaling)
    _check_ceiling(ctx, scaling, policies)
    return scaling


def _check_ceiling(ctx: _Context, scaling: Scaling, policies: GlobalPolicies) -> None:
    """The fleet's ceiling bounds every blueprint: a service cannot be allowed more replicas
    than the fleet says any service may have, so raising it is a reviewed fleet-wide change."""
    ceiling = policies.replica_ceiling
    if scaling.max_replicas > ceiling:
        ctx.add(
            ("spec", "scaling", "max_replicas"),
            f"{scaling.max_replicas} is above the fleet ceiling of {ceiling} replicas "
            f"(limits.max_replicas in {policies.source})",
            f"lower max_replicas to at most {ceiling}, or raise the ceiling through a reviewed "
            "change to the global policies",
            code="range.ceiling",
        )


def _value(raw: Mapping[str, Any], dotted: str) -> Any:
    """The field's value, or the schema's default for it."""
    value = _get(raw, dotted)
    return default_for("blueprint", dotted) if value is None else value


def _performance(ctx: _Context, raw: Mapping[str, Any]) -> Performance:
    perf_raw = _get(raw, "spec.performance") or {}

    def optional(parse: Any, key: str) -> Any:
        return parse(perf_raw[key]) if key in perf_raw else None

    latency_p95_ms = units.parse_latency_ms(_value(raw, "spec.performance.latency_p95"))
    if latency_p95_ms <= 0:
        # Latency enters the weighted utilization as p95 / target.
        ctx.add(
            ("spec", "performance", "latency_p95"),
            "must be more than 0ms, got 0ms",
            "set the p95 latency the service aims for, e.g. `latency_p95: 200ms`",
            code="range.latency",
        )
    return Performance(
        latency_p95_ms=latency_p95_ms,
        error_rate_max=_percent(ctx, raw, "spec.performance.error_rate_max"),
        throughput_min=optional(units.parse_throughput, "throughput_min"),
        availability=(
            _percent(ctx, raw, "spec.performance.availability")
            if "availability" in perf_raw
            else None
        ),
        latency_p50_ms=optional(units.parse_latency_ms, "latency_p50"),
        latency_p99_ms=optional(units.parse_latency_ms, "latency_p99"),
    )


def _resources(ctx: _Context, raw: Mapping[str, Any], scaling: Scaling | None) -> Resources:
    """Resource targets default to the scaling targets of the same resource.

    When spec.scaling failed the schema no blueprint is built, so its schema defaults stand in
    only to let the resource checks run.
    """
    if scaling is None:
        cpu_target = units.parse_percent(
            default_for("blueprint", "spec.scaling.target_cpu_utilization")
        )
        memory_target = units.parse_percent(
            default_for("blueprint", "spec.scaling.target_memory_utilization")
        )
    else:
        cpu_target = scaling.target_cpu_utilization
        memory_target = scaling.target_memory_utilization
    return Resources(
        cpu=_resource(ctx, raw, "cpu", cpu_target),
        memory=_resource(ctx, raw, "memory", memory_target),
    )


def _reliability(ctx: _Context, raw: Mapping[str, Any]) -> Reliability:
    reliability = Reliability(
        max_restart_count=int(_value(raw, "spec.reliability.max_restart_count")),
        rollback_threshold=int(_value(raw, "spec.reliability.rollback_threshold")),
        rollback_on_failure=bool(_value(raw, "spec.reliability.rollback_on_failure")),
    )
    if (
        reliability.rollback_on_failure
        and reliability.rollback_threshold > reliability.max_restart_count
    ):
        ctx.add(
            ("spec", "reliability", "rollback_threshold"),
            f"{reliability.rollback_threshold} is above max_restart_count "
            f"({reliability.max_restart_count}), so an automatic rollback can never happen",
            "set rollback_threshold at or below max_restart_count",
            severity=Severity.WARNING,
            code="range.rollback",
        )
    return reliability


def _check_approvers(ctx: _Context, rules: Sequence[Rule], approval: ApprovalWorkflow) -> None:
    """Spans two sections: the tiers (with the global rules) and the approval workflow."""
    if any(rule.tier is Tier.RESTRICTED for rule in rules) and not approval.approvers:
        ctx.add(
            ("governance", "approval_workflow", "approvers"),
            "no approvers are set, so nobody can approve restricted operations",
            "list approvers here or in the global policies' approval_workflow",
            severity=Severity.WARNING,
            code="approval.no_approvers",
        )


def _metadata(raw: Mapping[str, Any], policies: GlobalPolicies) -> Metadata:
    meta = raw["metadata"]
    return Metadata(
        name=meta["name"],
        version=meta["version"],
        namespace=meta.get("namespace") or policies.default_namespace,
        deployment=meta.get("deployment") or meta["name"],
        owner=meta.get("owner", ""),
        description=meta.get("description", ""),
        priority=_value(raw, "metadata.priority"),
        criticality=_value(raw, "metadata.criticality"),
    )


def parse_blueprint(
    data: bytes,
    *,
    source: str,
    policies: GlobalPolicies | None = None,
    expected_name: str | None = None,
) -> Blueprint:
    """Like `load_blueprint`, but raises BlueprintError listing the errors."""
    blueprint, problems = load_blueprint(
        data, source=source, policies=policies or builtin_policies(), expected_name=expected_name
    )
    if blueprint is None:
        raise BlueprintError(source, [p for p in problems if p.severity is Severity.ERROR])
    return blueprint


def check_unique_names(blueprints: Iterable[Blueprint]) -> list[Problem]:
    """Two files that claim one service (or one deployment) would fight; both are refused."""
    groups: dict[tuple[str, str], list[Blueprint]] = {}
    for blueprint in blueprints:
        meta = blueprint.metadata
        groups.setdefault(("service", blueprint.name), []).append(blueprint)
        groups.setdefault(("deployment", f"{meta.namespace}/{meta.deployment}"), []).append(
            blueprint
        )
    problems: list[Problem] = []
    for (what, name), members in groups.items():
        if len(members) < 2:
            continue
        for member in members:
            others = ", ".join(other.source for other in members if other is not member)
            problems.append(
                Problem(
                    file=member.source,
                    path="metadata.name" if what == "service" else "metadata.deployment",
                    message=f"{what} {name!r} is also claimed by {others}",
                    hint=f"each {what} has exactly one blueprint; remove or rename one of them",
                    code="name.duplicate",
                )
            )
    return problems
