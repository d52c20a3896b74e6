"""Describing a blueprint's effective policy, for people and for scripts.

`reconciler policy SERVICE` prints this. It answers the question a reviewer asks first: what
may the reconciler do to this service on its own, what needs my approval, what is refused,
and which file and field says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.core.blueprint.behavior import behavior_json, describe_behavior
from reconciler.core.blueprint.catalogue import Operation
from reconciler.core.blueprint.model import Blueprint, Rule, Tier
from reconciler.core.blueprint.units import (
    format_cpu,
    format_duration,
    format_memory,
    format_percent,
)

__all__ = ["policy_lines", "policy_to_json"]


def _rule_json(rule: Rule) -> dict[str, Any]:
    return {
        "operation": rule.operation,
        "tier": str(rule.tier),
        "condition": str(rule.condition) if rule.condition else None,
        "autonomous": rule.autonomous,
        "rationale": rule.rationale or None,
        "approvers": list(rule.approvers),
        "alternatives": [a.operation for a in rule.alternatives],
        "origin": rule.origin,
        "reference": rule.reference,
    }


def policy_to_json(blueprint: Blueprint) -> dict[str, Any]:
    """The effective policy with every default applied, in units a script can use."""
    policy = blueprint.policy
    return {
        "service": blueprint.name,
        "version": blueprint.version,
        "source": blueprint.source,
        "namespace": blueprint.metadata.namespace,
        "deployment": blueprint.metadata.deployment,
        "priority": blueprint.metadata.priority,
        "scaling": _scaling_json(blueprint),
        "performance": {
            "latency_p95_ms": blueprint.performance.latency_p95_ms,
            "error_rate_max": blueprint.performance.error_rate_max,
            "throughput_min": blueprint.performance.throughput_min,
        },
        "reliability": {
            "max_restart_count": blueprint.reliability.max_restart_count,
            "rollback_threshold": blueprint.reliability.rollback_threshold,
            "rollback_on_failure": blueprint.reliability.rollback_on_failure,
        },
        "rules": [_rule_json(rule) for rule in policy.rules],
        "unlisted_operations": "forbidden",
        "allowed_when_unlisted": _allowed_when_unlisted(
            policy.catalogue, {rule.operation for rule in policy.rules}
        ),
        **_governance_json(blueprint),
        "cost": {
            "cost_per_replica": str(blueprint.cost.cost_per_replica)
            if blueprint.cost.cost_per_replica
            else None,
            "monthly_budget": str(blueprint.cost.monthly_budget)
            if blueprint.cost.monthly_budget
            else None,
        },
    }


def _scaling_json(blueprint: Blueprint) -> dict[str, Any]:
    scaling = blueprint.scaling
    return {
        "min_replicas": scaling.min_replicas,
        "max_replicas": scaling.max_replicas,
        "target_cpu_utilization": scaling.target_cpu_utilization,
        "target_memory_utilization": scaling.target_memory_utilization,
        "scale_up_threshold": scaling.scale_up_threshold,
        "scale_down_threshold": scaling.scale_down_threshold,
        "scale_up_increment": scaling.scale_up_increment,
        "scale_down_increment": scaling.scale_down_increment,
        "scale_down_stabilization_seconds": scaling.scale_down_stabilization,
        "stabilization_period_seconds": scaling.stabilization_period,
        "behavior": behavior_json(scaling.behavior),
        "metrics": {metric.type: metric.weight for metric in scaling.metrics},
    }


def _governance_json(blueprint: Blueprint) -> dict[str, Any]:
    """The safety limits and the approval settings, in seconds and counts."""
    policy = blueprint.policy
    safety = policy.safety
    return {
        "safety": {
            "cooldown_seconds": safety.cooldown,
            "max_operations_per_hour": safety.rate_limits.per_hour,
            "max_operations_per_day": safety.rate_limits.per_day,
            "circuit_breaker": {
                "failure_threshold": safety.circuit_breaker.failure_threshold,
                "failure_window_seconds": safety.circuit_breaker.failure_window,
                "reset_timeout_seconds": safety.circuit_breaker.reset_timeout,
                "manual_reset_required": safety.circuit_breaker.manual_reset_required,
            },
        },
        "approval": {
            "approvers": list(policy.approval.approvers),
            "timeout_seconds": policy.approval.timeout,
            "auto_reject_on_timeout": policy.approval.auto_reject_on_timeout,
            "rejection_cooloff_seconds": policy.approval.rejection_cooloff,
        },
    }


_TIER_ORDER = {Tier.FORBIDDEN: 0, Tier.RESTRICTED: 1, Tier.ALLOWED: 2}


def _allowed_when_unlisted(catalogue: Mapping[str, Operation], listed: set[str]) -> list[str]:
    """Operations allowed by default (undoing the reconciler's own failed change), unless a
    rule names them, in which case that rule shows instead."""
    return sorted(
        name for name, op in catalogue.items() if op.allowed_when_unlisted and name not in listed
    )


def policy_lines(blueprint: Blueprint) -> list[str]:
    """A readable summary: the numbers that drive decisions, then every rule and its origin."""
    return [
        *_numbers_lines(blueprint),
        "",
        *_operation_lines(blueprint),
        "",
        *_governance_lines(blueprint),
    ]


def _numbers_lines(blueprint: Blueprint) -> list[str]:
    """The service, and the numbers that drive its decisions."""
    meta, scaling, perf = blueprint.metadata, blueprint.scaling, blueprint.performance
    weights = ", ".join(f"{m.type} {m.weight:g}" for m in scaling.metrics)
    resources = []
    for name, spec, fmt in (
        ("cpu", blueprint.resources.cpu, format_cpu),
        ("memory", blueprint.resources.memory, format_memory),
    ):
        if spec.request is not None:
            limit = f", limit {fmt(spec.limit)}" if spec.limit is not None else ""
            resources.append(f"{name} request {fmt(spec.request)}{limit}")
    lines = [
        f"{blueprint.name} {blueprint.version}  ({blueprint.source})",
        f"  deployment {meta.namespace}/{meta.deployment}, priority {meta.priority}",
        "",
        "Scaling",
        f"  replicas {scaling.min_replicas}..{scaling.max_replicas}; "
        f"steps of {_step('+', scaling.scale_up_increment)} / "
        f"{_step('-', scaling.scale_down_increment)}",
        f"  behavior: {describe_behavior(scaling.behavior)}",
        f"  scale up when weighted utilization > {format_percent(scaling.scale_up_threshold)}; "
        f"down when < {format_percent(scaling.scale_down_threshold)} "
        f"for {format_duration(scaling.scale_down_stabilization)}",
        f"  target cpu {format_percent(scaling.target_cpu_utilization)}, "
        f"memory {format_percent(scaling.target_memory_utilization)}; weights {weights}",
        f"  verify {format_duration(scaling.stabilization_period)} after each change",
        "Performance",
        f"  latency p95 < {perf.latency_p95_ms:g}ms, "
        f"error rate < {format_percent(perf.error_rate_max)}",
    ]
    if resources:
        lines += ["Resources", "  " + "; ".join(resources)]
    return lines


def _operation_lines(blueprint: Blueprint) -> list[str]:
    """Every rule by tier with its origin, the built-in defaults, and the unlisted rest."""
    policy = blueprint.policy
    lines = ["Operations (first matching tier wins: forbidden, then restricted, then allowed)"]
    for rule in sorted(policy.rules, key=lambda r: (_TIER_ORDER[r.tier], r.operation)):
        condition = f" when {rule.condition}" if rule.condition else ""
        needs = " (autonomous: false, so approval)" if not rule.autonomous else ""
        lines.append(
            f"  {rule.tier!s:<10}  {rule.operation}{condition}{needs}"
            f"  [{rule.origin}: {rule.reference}]"
        )
    listed = {rule.operation for rule in policy.rules}
    for name in _allowed_when_unlisted(policy.catalogue, listed):
        lines.append(
            f"  allowed     {name}  [built in: allowed unless a policy lists it; exempt from "
            "cooldown, rate limits and the circuit breaker]"
        )
    lines.append("  forbidden   any operation not listed above")
    return lines


def _governance_lines(blueprint: Blueprint) -> list[str]:
    """The safety limits and how approvals work."""
    policy, safety = blueprint.policy, blueprint.policy.safety
    breaker = safety.circuit_breaker
    return [
        "Safety",
        f"  cooldown {format_duration(safety.cooldown)} between changes; at most "
        f"{safety.rate_limits.per_hour}/hour and {safety.rate_limits.per_day}/day",
        f"  circuit breaker opens at {breaker.failure_threshold} failures within "
        f"{format_duration(breaker.failure_window)}; "
        + (
            "closes only by `reconciler breaker reset`"
            if breaker.manual_reset_required
            else f"half-opens after {format_duration(breaker.reset_timeout)}"
        ),
        "Approval",
        f"  approvers: {', '.join(policy.approval.approvers) or '(none)'}; proposals expire "
        f"after {format_duration(policy.approval.timeout)}"
        + (" and are closed" if policy.approval.auto_reject_on_timeout else " and stay open"),
        f"  a rejected proposal is not repeated for "
        f"{format_duration(policy.approval.rejection_cooloff)}",
    ]


def _step(sign: str, increment: int | None) -> str:
    """`+1`, or what limits the step when no increment does."""
    return f"{sign}{increment}" if increment is not None else f"{sign}any within the behavior"
