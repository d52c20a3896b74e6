"""Small builders for core tests: blueprints from YAML text, states and metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from reconciler.core.blueprint.loading import parse_blueprint
from reconciler.core.blueprint.model import Blueprint
from reconciler.core.blueprint.policies import load_policies
from reconciler.core.observed.observation import DeploymentState, Metrics, Sample, Target
from tests.conftest import REPO

NOW = datetime(2026, 2, 10, 15, 30, tzinfo=UTC)
POLICIES, _ = load_policies((REPO / "blueprints/governance/policies.yaml").read_bytes())
SEED = (REPO / "blueprints/todo-frontend/blueprint.yaml").read_bytes()


def seed_blueprint() -> Blueprint:
    return parse_blueprint(
        SEED, source="blueprints/todo-frontend/blueprint.yaml", policies=POLICIES
    )


def blueprint(scaling: str = "", governance: str = "", extra: str = "") -> Blueprint:
    text = (
        "metadata:\n  name: web\n  version: 1.0.0\nspec:\n  scaling:\n"
        "    min_replicas: 1\n    max_replicas: 5\n    scale_down_threshold: 40%\n"
        + scaling
        + extra
        + governance
    )
    return parse_blueprint(
        text.encode(), source=str(Path("blueprints/web/blueprint.yaml")), policies=POLICIES
    )


def state(replicas: int, ready: int | None = None, **kwargs: object) -> DeploymentState:
    return DeploymentState(
        target=Target(namespace="todo-app", name="web"),
        replicas=replicas,
        ready_replicas=replicas if ready is None else ready,
        observed_at=NOW,
        **kwargs,  # type: ignore[arg-type]
    )


def metrics(
    cpu: float | None, memory: float | None, latency: float | None, **kwargs: object
) -> Metrics:
    return Metrics(
        cpu_utilization=cpu,
        memory_utilization=memory,
        latency_p95_ms=latency,
        observed_at=kwargs.pop("observed_at", NOW),  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    )


def flat_window(
    cpu: float, memory: float, latency: float, seconds: int = 300, step: int = 15
) -> list[Sample]:
    return [
        Sample(
            at=NOW - timedelta(seconds=s),
            cpu_utilization=cpu,
            memory_utilization=memory,
            latency_p95_ms=latency,
        )
        for s in range(0, seconds + 1, step)
    ]
