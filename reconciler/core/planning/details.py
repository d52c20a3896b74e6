"""The JSON of a decision, a verdict and a request, as the records' details carry them."""

from __future__ import annotations

from typing import Any

from reconciler.core.decide.decision import Decision
from reconciler.core.decide.governance import OperationRequest, Verdict


def decision_json(decision: Decision) -> dict[str, Any]:
    weighted = decision.weighted
    return {
        "decision_id": decision.id,
        "action": str(decision.action),
        "reason": str(decision.reason),
        "rule": str(decision.rule),
        "current_replicas": decision.current_replicas,
        "target_replicas": decision.target_replicas,
        "desired_replicas": decision.desired_replicas,
        "beyond_limits": decision.beyond_limits,
        "estimate": decision.estimate,
        "weighted_utilization": None if weighted.value is None else round(weighted.value, 6),
        "weighted_bounds": [round(weighted.low, 6), round(weighted.high, 6)],
        "metrics_breakdown": [
            {
                "type": c.type,
                "weight": c.weight,
                "value": c.value,
                "normalised": None if c.normalised is None else round(c.normalised, 6),
                "contribution": None if c.contribution is None else round(c.contribution, 6),
            }
            for c in weighted.components
        ],
        "expected_outcome": None
        if decision.expected is None
        else {
            "replicas": decision.expected.replicas,
            "expected_cpu_utilization": _round(decision.expected.cpu_utilization),
            "expected_memory_utilization": _round(decision.expected.memory_utilization),
        },
        "inputs": dict(decision.inputs),
        "blueprint_references": list(decision.references),
        **(
            {
                "guards": [
                    {
                        "rule": str(g.rule),
                        "value": round(g.value, 6),
                        "limit": round(g.limit, 6),
                        "estimate": g.estimate,
                    }
                    for g in decision.guards
                ]
            }
            if decision.guards
            else {}
        ),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def verdict_json(verdict: Verdict) -> dict[str, Any]:
    return {
        "governance_check_id": verdict.id,
        "decision_id": verdict.decision_id,
        "operation": verdict.operation,
        "classification": str(verdict.classification),
        "action": str(verdict.action),
        "requires_approval": verdict.requires_approval,
        "reasons": list(verdict.reason_words),
        "blueprint_references": list(verdict.references),
        "rules": [
            {
                "reference": c.reference,
                "origin": c.origin,
                "tier": str(c.tier),
                "condition": c.condition,
                "evaluated": c.rendered,
                "result": c.result,
                "unknown": list(c.missing),
            }
            for c in verdict.checks
        ],
        "safety_checks": {
            check.name: {"ok": check.ok, "detail": check.detail, "retry_at": check.retry_at}
            for check in verdict.safety
        },
        "alternatives": [
            {
                "operation": a.operation,
                "description": a.description,
                "classification": str(a.tier),
                "replicas": a.replicas,
            }
            for a in verdict.alternatives
        ],
        "approvers": list(verdict.approvers),
        "retry_at": verdict.retry_at,
    }


def request_json(request: OperationRequest) -> dict[str, Any]:
    return {
        "operation": request.operation,
        "origin": str(request.origin),
        "current_replicas": request.current_replicas,
        "target_replicas": request.target_replicas,
        "change_percent": request.change_percent,
        "reason": request.reason,
        "requested_by": request.requested_by,
        "reverts": request.reverts or None,
        "parameters": dict(request.parameters),
    }
