"""The fields a review compares, as one table: how to read and show each one, and which
direction of change loosens the reconciler's authority.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from operator import attrgetter
from typing import Any

from reconciler.core.blueprint.model import Blueprint
from reconciler.core.blueprint.units import (
    format_cpu,
    format_duration,
    format_memory,
    format_percent,
)
from reconciler.core.blueprint.yamlsafe import Path
from reconciler.core.problems import format_path
from reconciler.core.review.findings import (
    POLICIES_FILE,
    ChangeClass,
    ChangeKind,
    Finding,
    ReviewContext,
    finding_at,
    global_edit,
)
from reconciler.core.review.operations import classify_edit

Judge = Callable[[Any, Any], ChangeKind]


@dataclass(frozen=True)
class Field:
    """One field to compare: where it is written, the attribute of the loaded model that holds
    it (dotted), how to show it, and what a change of it means."""

    path: Path
    attribute: str
    show: Callable[[Any], str]
    judge: Judge
    #: For a service field that falls back to the global policies: the attribute of the global
    #: policies it falls back to. A change that only follows a global edit is reported once, as
    #: the global edit.
    inherited: str = ""

    def get(self, model: Any) -> Any:
        return attrgetter(self.attribute)(model)


def _tuning(_: Any, __: Any) -> ChangeKind:
    return ChangeKind.TUNING


def _higher_is_looser(before: Any, after: Any) -> ChangeKind:
    return ChangeKind.SAFETY_LOOSENED if after > before else ChangeKind.SAFETY_TIGHTENED


def _lower_is_looser(before: Any, after: Any) -> ChangeKind:
    return ChangeKind.SAFETY_LOOSENED if after < before else ChangeKind.SAFETY_TIGHTENED


def _true_is_stricter(before: Any, after: Any) -> ChangeKind:
    return ChangeKind.SAFETY_LOOSENED if before and not after else ChangeKind.SAFETY_TIGHTENED


def _exclusive_is_stricter(_: Any, after: Any) -> ChangeKind:
    # Leaving `exclusive` lets the reconciler write replicas another controller also manages.
    return ChangeKind.SAFETY_TIGHTENED if after == "exclusive" else ChangeKind.SAFETY_LOOSENED


def _max_bound(before: Any, after: Any) -> ChangeKind:
    return ChangeKind.BOUNDS_WIDENED if after > before else ChangeKind.BOUNDS_NARROWED


def _min_bound(before: Any, after: Any) -> ChangeKind:
    return ChangeKind.BOUNDS_WIDENED if after < before else ChangeKind.BOUNDS_NARROWED


def _kind(kind: ChangeKind) -> Judge:
    # Called only to build the tables below, as the module is imported: before mutmut turns
    # a mutant on, so no mutant here could ever run (every review row tests the tables).
    return lambda _, __: kind  # pragma: no mutate: runs only at import


def _optional(show: Callable[[Any], str]) -> Callable[[Any], str]:
    # Called only to build the tables below, as the module is imported (see _kind).
    return lambda value: "unset" if value is None else show(value)  # pragma: no mutate: at import


def _ms(value: float) -> str:
    return f"{value:g}ms"


def _names(value: Sequence[str]) -> str:
    return ", ".join(value) or "(none)"


def _queries(value: Mapping[str, str]) -> str:
    return ", ".join(sorted(value)) or "defaults"


def _weights(value: Sequence[Any]) -> str:
    return ", ".join(f"{metric.type} {metric.weight:g}" for metric in value)


_PCT = _optional(format_percent)
_DURATION = _optional(format_duration)

_RESOURCE_FORMATS = {"cpu": _optional(format_cpu), "memory": _optional(format_memory)}
_SCALING = ("spec", "scaling")
_BREAKER = ("governance", "safety", "circuit_breaker")
_APPROVAL = ("governance", "approval_workflow")
_RETARGETED = _kind(ChangeKind.RETARGETED)
_GLOBAL = _kind(ChangeKind.GLOBAL_POLICY)

#: Safety limits the global policies set and a blueprint may override, in the order reported.
SAFETY_FIELDS: tuple[Field, ...] = (
    Field(
        ("governance", "safety", "rate_limits", "max_operations_per_hour"),
        "safety.rate_limits.per_hour",
        str,
        _higher_is_looser,
    ),
    Field(
        ("governance", "safety", "rate_limits", "max_operations_per_day"),
        "safety.rate_limits.per_day",
        str,
        _higher_is_looser,
    ),
    Field(
        (*_BREAKER, "failure_threshold"),
        "safety.circuit_breaker.failure_threshold",
        str,
        _higher_is_looser,
    ),
    Field(
        (*_BREAKER, "failure_window"),
        "safety.circuit_breaker.failure_window",
        _DURATION,
        _lower_is_looser,
    ),
    Field(
        (*_BREAKER, "reset_timeout"),
        "safety.circuit_breaker.reset_timeout",
        _DURATION,
        _lower_is_looser,
    ),
    Field(
        (*_BREAKER, "manual_reset_required"),
        "safety.circuit_breaker.manual_reset_required",
        str,
        _true_is_stricter,
    ),
)
_APPROVERS_FIELD = Field(
    (*_APPROVAL, "approvers"), "approval.approvers", _names, _kind(ChangeKind.APPROVERS_CHANGED)
)
#: The rest of the approval workflow; for a service, a change of these is tuning.
_APPROVAL_SETTINGS: tuple[Field, ...] = (
    Field((*_APPROVAL, "timeout"), "approval.timeout", _DURATION, _GLOBAL),
    Field((*_APPROVAL, "auto_reject_on_timeout"), "approval.auto_reject_on_timeout", str, _GLOBAL),
    Field((*_APPROVAL, "rejection_cooloff"), "approval.rejection_cooloff", _DURATION, _GLOBAL),
)


def _for_service(spec: Field, judge: Judge | None = None) -> Field:
    """A global field as a blueprint overrides it: read from the service's effective policy,
    and inherited from the global one. Called only to build the tables, as the module is
    imported (see _kind)."""
    # pragma: no mutate block, as it runs only at import, before mutmut turns a mutant on
    return replace(
        spec,
        attribute=f"policy.{spec.attribute}",
        judge=judge or spec.judge,
        inherited=spec.attribute,
    )


SERVICE_FIELDS: tuple[Field, ...] = (
    Field(("metadata", "namespace"), "metadata.namespace", str, _RETARGETED, "default_namespace"),
    Field(("metadata", "deployment"), "metadata.deployment", str, _RETARGETED),
    Field((*_SCALING, "min_replicas"), "scaling.min_replicas", str, _min_bound),
    Field((*_SCALING, "max_replicas"), "scaling.max_replicas", str, _max_bound),
    *(
        Field((*_SCALING, name), f"scaling.{name}", _PCT, _tuning)
        for name in (
            "target_cpu_utilization",
            "target_memory_utilization",
            "scale_up_threshold",
            "scale_down_threshold",
        )
    ),
    Field((*_SCALING, "scale_up_increment"), "scaling.scale_up_increment", str, _tuning),
    Field((*_SCALING, "scale_down_increment"), "scaling.scale_down_increment", str, _tuning),
    Field(
        (*_SCALING, "scale_down_stabilization"),
        "scaling.scale_down_stabilization",
        _DURATION,
        _tuning,
    ),
    Field((*_SCALING, "stabilization_period"), "scaling.stabilization_period", _DURATION, _tuning),
    Field(
        (*_SCALING, "cooldown_period"),
        "policy.safety.cooldown",
        _DURATION,
        _tuning,
        "safety.cooldown",
    ),
    Field((*_SCALING, "metrics"), "scaling.metrics", _weights, _tuning),
    Field((*_SCALING, "coexistence"), "scaling.coexistence", str, _exclusive_is_stricter),
    Field(("spec", "performance", "latency_p95"), "performance.latency_p95_ms", _ms, _tuning),
    Field(("spec", "performance", "error_rate_max"), "performance.error_rate_max", _PCT, _tuning),
    Field(
        ("spec", "performance", "throughput_min"),
        "performance.throughput_min",
        _optional(lambda v: f"{v:g} req/s"),
        _tuning,
    ),
    Field(("spec", "performance", "availability"), "performance.availability", _PCT, _tuning),
    Field(
        ("spec", "performance", "latency_p50"),
        "performance.latency_p50_ms",
        _optional(_ms),
        _tuning,
    ),
    Field(
        ("spec", "performance", "latency_p99"),
        "performance.latency_p99_ms",
        _optional(_ms),
        _tuning,
    ),
    *(
        Field(
            ("spec", "resources", which, part),
            f"resources.{which}.{part}",
            _RESOURCE_FORMATS[which],
            _kind(ChangeKind.RESOURCES_CHANGED),
        )
        for which in ("cpu", "memory")
        for part in ("request", "limit")
    ),
    *(
        Field(("spec", "resources", which, part), f"resources.{which}.{part}", _PCT, _tuning)
        for which in ("cpu", "memory")
        for part in ("target_utilization", "optimization_threshold")
    ),
    Field(
        ("spec", "reliability", "max_restart_count"),
        "reliability.max_restart_count",
        str,
        _higher_is_looser,
    ),
    Field(
        ("spec", "reliability", "rollback_threshold"),
        "reliability.rollback_threshold",
        str,
        _tuning,
    ),
    Field(
        ("spec", "reliability", "rollback_on_failure"),
        "reliability.rollback_on_failure",
        str,
        _true_is_stricter,
    ),
    Field(("spec", "observability", "queries"), "queries", _queries, _tuning),
    *(_for_service(spec) for spec in SAFETY_FIELDS),
    _for_service(_APPROVERS_FIELD),
    *(_for_service(spec, _tuning) for spec in _APPROVAL_SETTINGS),
)

#: Why each field-level kind gets its class; the classifier decides the others.
_WHY = {
    ChangeKind.TUNING: "tuning changes when and by how much the reconciler acts within the "
    "bounds and rules it already has; each resulting operation is still governed when it "
    "happens, so tuning is allowed",
    ChangeKind.BOUNDS_NARROWED: "narrowing the bounds takes authority away; if the deployment "
    "runs outside the new bounds (its replicas are unknown here), the next cycle brings it back "
    "inside as an ordinary governed change",
    ChangeKind.SAFETY_TIGHTENED: "a stricter safety limit takes authority away",
    ChangeKind.SAFETY_LOOSENED: "a looser safety limit (rate limits, circuit breaker, restart "
    "limit, automatic rollback, sharing replicas with another controller) lets the reconciler "
    "do more, or sooner, without a person",
    ChangeKind.APPROVERS_CHANGED: "approvers are part of the rules: a change may not name its "
    "own approvers, so the approvers in force before it must approve",
    ChangeKind.RETARGETED: "pointing the blueprint at another deployment gives the reconciler "
    "authority over a deployment it did not manage, like onboarding a service",
}


def field_findings(
    ctx: ReviewContext, service: str, before: Any, after: Any, fields: Sequence[Field]
) -> list[Finding]:
    findings = []
    for spec in fields:
        old, new = spec.get(before), spec.get(after)
        if old == new:
            continue
        if spec.inherited and service and _follows_global(ctx, spec, old, new):
            continue
        kind = spec.judge(old, new)
        shown = {"before": spec.show(old), "after": spec.show(new)}
        if service:
            findings.append(_judge_field(ctx, service, spec.path, kind, before, old, new, shown))
        else:
            findings.append(global_edit(ctx, spec.path, kind, **shown))
    return findings


def _follows_global(ctx: ReviewContext, spec: Field, old: Any, new: Any) -> bool:
    inherited = attrgetter(spec.inherited)
    was, now = inherited(ctx.base.policies), inherited(ctx.head.policies)
    return bool(was != now and old == was and new == now)


def _judge_field(
    ctx: ReviewContext,
    service: str,
    path: Path,
    kind: ChangeKind,
    before: Blueprint,
    old: Any,
    new: Any,
    shown: Mapping[str, str],
) -> Finding:
    return finding_at(
        ctx,
        file=ctx.head.blueprints[service].source,
        path=path,
        service=service,
        kind=kind,
        **shown,
        **_field_verdict(ctx, service, path, kind, before, old, new),
    )


def _field_verdict(
    ctx: ReviewContext,
    service: str,
    path: Path,
    kind: ChangeKind,
    before: Blueprint,
    old: Any,
    new: Any,
) -> dict[str, Any]:
    """A service field's class and why: an operation for the classifier, else by its kind."""
    if kind is ChangeKind.BOUNDS_WIDENED:
        verdict = classify_edit(
            "scale_beyond_limits",
            service=service,
            policy=before.policy,
            blueprint=before,
            target=int(new),
        )
        return verdict.fields(
            f"the reconciler could then scale to {new} replicas on its own, which under the "
            "rules before this change is scale_beyond_limits"
        )
    if kind is ChangeKind.RESOURCES_CHANGED:
        return _resource_verdict(service, path, before, old, new)
    if kind in (ChangeKind.SAFETY_LOOSENED, ChangeKind.APPROVERS_CHANGED):
        rule, rule_file = _where(ctx, before, path)
        return {
            "change_class": ChangeClass.REQUIRES_APPROVAL,
            "reason": _WHY[kind],
            "rule": rule,
            "rule_file": rule_file,
            "approvers": before.policy.approval.approvers,
        }
    if kind is ChangeKind.RETARGETED:
        return {"reason": _WHY[kind] + "; it needs the global approvers", **ctx.by_global_approvers}
    return {"change_class": ChangeClass.ALLOWED, "reason": _WHY[kind]}


def _where(ctx: ReviewContext, before: Blueprint, path: Path) -> tuple[str, str]:
    """The field that set BASE's value: the blueprint's own, or the global one it inherited."""
    document = ctx.document(ctx.base, before.source)
    written = document is not None and path in document.key_marks
    if not written and path[0] == "governance":
        return f"global:{format_path(path)}", POLICIES_FILE
    return format_path(path), before.source


def _resource_verdict(
    service: str, path: Path, before: Blueprint, old: int | None, new: int | None
) -> dict[str, Any]:
    percent = abs(new - old) / old if old and new is not None else None
    small = percent is not None and percent <= 0.10 + 1e-9 and path[-1] == "request"
    # A limit has no "within 10 %" operation of its own: any limit change is the larger one.
    operation = (
        "adjust_resources_within_10_percent"
        if small
        else "change_resource_limits_beyond_10_percent"
    )
    verdict = classify_edit(
        operation,
        service=service,
        policy=before.policy,
        blueprint=before,
        change_percent=percent,
    )
    size = "an unknown share" if percent is None else format_percent(percent)
    return verdict.fields(f"a {path[-1]} change of {size} is {operation}")
