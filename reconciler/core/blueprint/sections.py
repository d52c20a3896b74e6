"""A blueprint's sections, each checked and built: scaling, performance, resources,
reliability, cost, metadata and manifests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.core.blueprint import behavior as behavior_module
from reconciler.core.blueprint import units
from reconciler.core.blueprint.model import (
    ApprovalWorkflow,
    Cost,
    GlobalPolicies,
    Guards,
    ManifestFormat,
    Manifests,
    Metadata,
    MetricWeight,
    Performance,
    Reliability,
    Resources,
    ResourceSpec,
    Rule,
    Scaling,
    Tier,
)
from reconciler.core.blueprint.reading import CheckContext, get_dotted
from reconciler.core.blueprint.schemas import default_for
from reconciler.core.problems import Severity

#: Weights of the weighted utilization when a blueprint does not list `spec.scaling.metrics`.
DEFAULT_METRICS = (
    MetricWeight(type="cpu", weight=0.5),
    MetricWeight(type="memory", weight=0.3),
    MetricWeight(type="latency", weight=0.2),
)


def _percent(
    ctx: CheckContext, raw: Mapping[str, Any], dotted: str, default_key: str | None = None
) -> float:
    value = get_dotted(raw, dotted)
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


def _check_scaling(ctx: CheckContext, scaling: Scaling) -> None:
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
    ctx: CheckContext, raw: Mapping[str, Any], which: str, target_default: float
) -> ResourceSpec:
    node = get_dotted(raw, f"spec.resources.{which}") or {}
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


def _check_bare_quantity(ctx: CheckContext, which: str, key: str, value: Any) -> None:
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


def build_cost(ctx: CheckContext, raw: Mapping[str, Any]) -> Cost:
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


#: The fields of spec.manifests that only one format reads, by format.
_MANIFEST_FIELDS = {
    ManifestFormat.PLAIN: {"kind", "name"},
    ManifestFormat.KUSTOMIZE: {"kind", "name", "patch"},
    ManifestFormat.HELM: {"replicas_key", "requests_key"},
}
_KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


def build_manifests(ctx: CheckContext, raw: Mapping[str, Any]) -> Manifests | None:
    """spec.manifests, with the fields its format reads; a field another format reads is an
    error rather than ignored, since whoever wrote it expected it to matter."""
    node = get_dotted(raw, "spec.manifests")
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
        sync_timeout=units.parse_duration(value_or_default(raw, "spec.manifests.sync_timeout")),
    )


def check_write_back(ctx: CheckContext, scaling: Scaling, manifests: Manifests | None) -> None:
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


def check_name(ctx: CheckContext, raw: Mapping[str, Any], expected_name: str | None) -> None:
    name = raw["metadata"]["name"]
    if expected_name is not None and name != expected_name:
        ctx.add(
            ("metadata", "name"),
            f"{name!r} does not match its folder {expected_name!r}",
            f"rename the folder to blueprints/{name}/ or set `name: {expected_name}`",
            code="name.folder",
        )


def build_scaling(ctx: CheckContext, raw: Mapping[str, Any], policies: GlobalPolicies) -> Scaling:
    scaling_raw = get_dotted(raw, "spec.scaling")
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
            value_or_default(raw, "spec.scaling.scale_down_stabilization")
        )
        if behavior is None
        else behavior.scale_down.stabilization,
        behavior=behavior,
        stabilization_period=units.parse_duration(
            value_or_default(raw, "spec.scaling.stabilization_period")
        ),
        metrics=metrics,
        guards=Guards(
            # Utilization is usage / request, so a guard above 100% is meaningful.
            cpu_utilization=units.parse_percent(
                value_or_default(raw, "spec.scaling.guards.cpu_utilization")
            ),
            memory_utilization=units.parse_percent(
                value_or_default(raw, "spec.scaling.guards.memory_utilization")
            ),
            latency_factor=float(value_or_default(raw, "spec.scaling.guards.latency_factor")),
        ),
        coexistence=value_or_default(raw, "spec.scaling.coexistence"),
        replica_ceiling=policies.replica_ceiling,
    )
    _check_scaling(ctx, scaling)
    _check_ceiling(ctx, scaling, policies)
    return scaling


def _check_ceiling(ctx: CheckContext, scaling: Scaling, policies: GlobalPolicies) -> None:
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


def value_or_default(raw: Mapping[str, Any], dotted: str) -> Any:
    """The field's value, or the schema's default for it."""
    value = get_dotted(raw, dotted)
    return default_for("blueprint", dotted) if value is None else value


def build_performance(ctx: CheckContext, raw: Mapping[str, Any]) -> Performance:
    perf_raw = get_dotted(raw, "spec.performance") or {}

    def optional(parse: Any, key: str) -> Any:
        return parse(perf_raw[key]) if key in perf_raw else None

    latency_p95_ms = units.parse_latency_ms(value_or_default(raw, "spec.performance.latency_p95"))
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


def build_resources(
    ctx: CheckContext, raw: Mapping[str, Any], scaling: Scaling | None
) -> Resources:
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


def build_reliability(ctx: CheckContext, raw: Mapping[str, Any]) -> Reliability:
    reliability = Reliability(
        max_restart_count=int(value_or_default(raw, "spec.reliability.max_restart_count")),
        rollback_threshold=int(value_or_default(raw, "spec.reliability.rollback_threshold")),
        rollback_on_failure=bool(value_or_default(raw, "spec.reliability.rollback_on_failure")),
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


def cluster_of(ctx: CheckContext, raw: Mapping[str, Any], policies: GlobalPolicies) -> str | None:
    """`spec.cluster`, which must name a cluster the global policies declare."""
    name = get_dotted(raw, "spec.cluster")
    if name is None:
        return None
    names = [cluster.name for cluster in policies.clusters]
    if name not in names:
        known = ", ".join(names) if names else "none are declared"
        ctx.add(
            ("spec", "cluster"),
            f"{name!r} is not a cluster of the global policies ({known})",
            f"declare it under clusters: in {policies.source} (name, identity), "
            "or remove spec.cluster to let any cluster act on the service",
            code="blueprint.unknown_cluster",
        )
    return str(name)


def check_approvers(ctx: CheckContext, rules: Sequence[Rule], approval: ApprovalWorkflow) -> None:
    """Spans two sections: the tiers (with the global rules) and the approval workflow."""
    if any(rule.tier is Tier.RESTRICTED for rule in rules) and not approval.approvers:
        ctx.add(
            ("governance", "approval_workflow", "approvers"),
            "no approvers are set, so nobody can approve restricted operations",
            "list approvers here or in the global policies' approval_workflow",
            severity=Severity.WARNING,
            code="approval.no_approvers",
        )


def build_metadata(raw: Mapping[str, Any], policies: GlobalPolicies) -> Metadata:
    meta = raw["metadata"]
    return Metadata(
        name=meta["name"],
        version=meta["version"],
        namespace=meta.get("namespace") or policies.default_namespace,
        deployment=meta.get("deployment") or meta["name"],
        owner=meta.get("owner", ""),
        description=meta.get("description", ""),
        priority=value_or_default(raw, "metadata.priority"),
        criticality=value_or_default(raw, "metadata.criticality"),
    )
