"""Seed demos 1 and 4 on a real cluster's adapters: the CLI with `--cluster kubernetes`, the
Kubernetes adapter against the fake API server, and a real Prometheus.

Why it exists: the simulated cluster proves the engine; this proves the wiring a production
run uses, end to end. CPU and memory now come from the metrics API (the fake's pod metrics),
latency and error rate from Prometheus, and the scale-down in demo 4 is proven by CPU and
memory *history* from Prometheus, which the metrics API cannot give.

The tests play the world: after the reconciler changes the replicas, they set what the new
count implies, on both sides (the pods' usage in the fake, the exporter's latency, errors and
utilization gauges), as a real service would respond, and wait until Prometheus shows it.

Time is real, so the blueprints use short periods (verification 2s after a change, a 20s
scale-down window) and the latency and error queries a 4s range, so that Prometheus shows a
change of load within seconds instead of blending it in for five minutes. One Prometheus
serves the module; the exporter carries both demos' services from the start (in separate
namespaces), so demo 4's low-load history builds up while demo 1 runs.

Without the `prometheus` binary the module is skipped, unless RECONCILER_REQUIRE_PROMETHEUS
is set (CI sets it): then it fails, as tests/adapters/test_prometheus.py does.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.adapters.prometheus import PrometheusMetrics, default_queries
from reconciler.core.observed.observation import STAMP_ANNOTATION, Metrics, Target
from tests.conftest import REPO, require_prometheus
from tests.fakes.kube_api import FakeKubeAPI
from tests.fakes.prometheus import Exporter, Load, Running, running
from tests.scenarios.conftest import SEED_CHECKS, Scenario, init_repo

require_prometheus()

# About 40 seconds of real time, most of it demo 4's window filling with history.
pytestmark = [pytest.mark.prometheus, pytest.mark.slow]

SERVICE = "todo-frontend"
DEMO_1 = Target(namespace="seed-demo-1", name=SERVICE)
DEMO_4 = Target(namespace="seed-demo-4", name=SERVICE)
STABILIZATION = 2.0
SCALE_DOWN_WINDOW = 20.0
CPU_REQUEST_M = 100
MEMORY_REQUEST_KI = 512 * 1024


@dataclass(frozen=True)
class World:
    """What every pod of the service does, as fractions of its requests (100m, 512Mi)."""

    cpu: float
    memory: float
    p95_ms: float
    errors: float


DEMO_1_START = World(cpu=0.85, memory=358 / 512, p95_ms=180, errors=0.005)
DEMO_1_AFTER = World(cpu=0.57, memory=239 / 512, p95_ms=150, errors=0.005)  # 2 → 3 pods
DEMO_4_START = World(cpu=0.25, memory=0.2, p95_ms=100, errors=0.002)
DEMO_4_AFTER = World(cpu=0.375, memory=0.3, p95_ms=400, errors=0.015)  # 3 → 2: it hurts


def show(exporter: Exporter, target: Target, world: World) -> None:
    """The service's side of the world in Prometheus: traffic and the utilization gauges."""
    load = Load(rps=50, error_share=world.errors, p95_seconds=world.p95_ms / 1000)
    exporter.set(target.namespace, target.name, load)
    exporter.set_utilization(target.namespace, target.name, cpu=world.cpu, memory=world.memory)


def queries() -> dict[str, str]:
    """The blueprint's overrides: the default latency and error queries over 4s instead of
    5m, and CPU and memory history from the exporter's gauges."""
    short = default_queries("4s")
    labels = 'namespace="{namespace}", deployment="{deployment}"'
    return {
        "latency_p95": short["latency_p95"],
        "error_rate": short["error_rate"],
        "cpu_utilization": "max(test_cpu_utilization{" + labels + "})",
        "memory_utilization": "max(test_memory_utilization{" + labels + "})",
    }


def blueprint(target: Target) -> str:
    """The sample todo-frontend blueprint, in the target's namespace, with short periods."""
    data = yaml.safe_load((REPO / "blueprints" / SERVICE / "blueprint.yaml").read_text())
    data["metadata"]["namespace"] = target.namespace
    data["spec"]["scaling"] |= {
        "stabilization_period": f"{STABILIZATION:g}s",
        "scale_down_stabilization": f"{SCALE_DOWN_WINDOW:g}s",
        "cooldown_period": "1s",
    }
    data["spec"]["observability"] = {"queries": queries()}
    return yaml.safe_dump(data, sort_keys=False, width=200)


@pytest.fixture(scope="module")
def prom() -> Iterator[tuple[Running, float]]:
    """Prometheus scraping both demos' starting worlds, and the moment from which it has
    every metric of demo 4 (latency needs two scrapes in its range: it comes last)."""
    with running() as env:
        show(env.exporter, DEMO_1, DEMO_1_START)
        show(env.exporter, DEMO_4, DEMO_4_START)
        adapter = PrometheusMetrics(env.url, {DEMO_4: queries()})
        env.prometheus.wait_for(adapter.query_for(DEMO_4, "latency_p95"))
        yield env, time.monotonic()


class Cluster:
    """One demo: its blueprint repository, the fake API server, and the CLI pointed at both."""

    def __init__(self, root: Path, api: FakeKubeAPI, env: Running, target: Target) -> None:
        self.scenario = Scenario(root)
        self.api, self.env, self.target = api, env, target
        self.kubeconfig = api.write_kubeconfig(root.parent / "kubeconfig")
        # The product's own adapter, to wait until Prometheus shows what the world does.
        self.prometheus = PrometheusMetrics(env.url, {target: queries()})

    def run(self) -> dict[str, Any]:
        """`reconciler --cluster kubernetes ... run -o json`, for the one service."""
        options = ["--cluster", "kubernetes", "--kubeconfig", str(self.kubeconfig)]
        result = self.scenario.json(*options, "--prometheus-url", self.env.url, "run")
        assert isinstance(result, dict)
        (service,) = result["services"]
        assert service["error"] is None, service
        return dict(service)

    def respond(self, world: World) -> None:
        """The service under its new replica count: pods' usage and Prometheus' view."""
        cpu = f"{round(world.cpu * CPU_REQUEST_M)}m"
        memory = f"{round(world.memory * MEMORY_REQUEST_KI)}Ki"
        self.api.set_pod_usage(self.target.namespace, SERVICE, cpu=cpu, memory=memory)
        show(self.env.exporter, self.target, world)

    def settle(self, world: World, *, not_before: float = 0.0, within: float = 20.0) -> None:
        """Wait until Prometheus reports the world's latency and errors (once the range holds
        only samples scraped since the change), and at least until `not_before`."""
        deadline = max(time.monotonic(), not_before) + within
        while True:
            now = self.prometheus.current([self.target])[self.target]
            if isinstance(now, Metrics) and _shows(now, world) and time.monotonic() >= not_before:
                return
            assert time.monotonic() < deadline, f"Prometheus still shows {now}, not {world}"
            time.sleep(0.2)

    def deployment(self) -> dict[str, Any]:
        return self.api.get_deployment(self.target.namespace, SERVICE)

    def stamp(self) -> dict[str, Any]:
        annotations = self.deployment()["metadata"].get("annotations", {})
        return dict(json.loads(annotations[STAMP_ANNOTATION]))

    def events(self) -> list[str]:
        return [r["event_type"] for r in self.scenario.records(SERVICE)]

    def record(self, event: str) -> dict[str, Any]:
        (record,) = self.scenario.records(SERVICE, event)
        return record


def _shows(metrics: Metrics, world: World) -> bool:
    latency, errors = metrics.latency_p95_ms, metrics.error_rate
    return (
        latency is not None
        and errors is not None
        and abs(latency - world.p95_ms) < 1e-6 * world.p95_ms
        and abs(errors - world.errors) < 1e-6 * world.errors
    )


def start(
    tmp_path: Path, api: FakeKubeAPI, env: Running, target: Target, replicas: int, world: World
) -> Cluster:
    """A blueprint repository with only todo-frontend, and its deployment in the fake."""
    source = tmp_path / "source"
    shutil.copytree(REPO / "blueprints", source, symlinks=True)
    shutil.rmtree(source / "todo-backend")
    (source / SERVICE / "blueprint.yaml").write_text(blueprint(target))
    root = tmp_path / "fleet"
    root.mkdir()
    init_repo(root, source)
    api.add_deployment(target.namespace, SERVICE, replicas=replicas)
    cluster = Cluster(root, api, env, target)
    cluster.respond(world)
    return cluster


@pytest.fixture
def api() -> Iterator[FakeKubeAPI]:
    with FakeKubeAPI() as server:
        yield server


def test_seed_demo_1_scales_up_and_verifies(
    tmp_path: Path, api: FakeKubeAPI, prom: tuple[Running, float]
) -> None:
    env, _ = prom
    cluster = start(tmp_path, api, env, DEMO_1, replicas=2, world=DEMO_1_START)
    cluster.settle(DEMO_1_START)

    first = cluster.run()
    assert first["decision"]["action"] == "scale_up"
    assert (first["decision"]["current_replicas"], first["decision"]["target_replicas"]) == (2, 3)
    (step,) = first["steps"]
    assert (step["operation"], step["classification"], step["outcome"]) == (
        "scale_within_limits",
        "allowed",
        "executed",
    )
    executed = time.monotonic()
    decision = cluster.record("decision_made")["details"]
    assert decision["weighted_utilization"] == pytest.approx(0.815, abs=0.001)
    assert decision["inputs"]["latency_p95_ms"] == pytest.approx(180)  # from Prometheus
    assert decision["inputs"]["cpu_utilization"] == pytest.approx(0.85)  # from the metrics API
    governance = cluster.record("governance_checked")
    assert "3 >= 1 AND 3 <= 5" in governance["rationale"]
    operation = cluster.record("operation_executed")
    assert cluster.deployment()["spec"]["replicas"] == 3
    stamp = cluster.stamp()
    assert stamp["operation_id"] == operation["id"]
    assert (stamp["operation"], stamp["before"], stamp["after"]) == (
        "scale_within_limits",
        {"replicas": 2},
        {"replicas": 3},
    )
    (event,) = api.events(DEMO_1.namespace, SERVICE)  # what `kubectl describe` shows
    assert (event["reason"], event["type"]) == ("ReconcilerScaled", "Normal")
    assert event["message"].startswith("scaled from 2 to 3 replicas: ")
    assert event["metadata"]["annotations"]["reconciler/record-id"] == operation["id"]

    cluster.respond(DEMO_1_AFTER)
    cluster.settle(DEMO_1_AFTER, not_before=executed + STABILIZATION)
    cluster.run()
    assert cluster.events() == [
        "decision_made",
        "governance_checked",
        "operation_executed",
        "verification_passed",
    ]
    verification = cluster.record("verification_passed")
    checks = {c["check"]: c for c in verification["details"]["checks"]}
    assert set(SEED_CHECKS) <= set(checks)
    assert {name: checks[name]["status"] for name in SEED_CHECKS} == dict.fromkeys(
        SEED_CHECKS, "passed"
    )
    assert checks["replica_count"]["actual"] == "3"
    assert checks["latency_p95"]["baseline"] == "180ms"
    assert checks["latency_p95"]["actual"] == "150ms"
    assert checks["cpu_utilization"]["expected"].startswith("≈56.7%")
    assert verification["details"]["summary"]["verification_result"] == "passed"


def test_seed_demo_4_scales_down_on_prometheus_history_then_rolls_back(
    tmp_path: Path, api: FakeKubeAPI, prom: tuple[Running, float]
) -> None:
    env, since = prom
    cluster = start(tmp_path, api, env, DEMO_4, replicas=3, world=DEMO_4_START)
    # Low load for the whole window, in Prometheus: even the window's oldest point has data.
    cluster.settle(DEMO_4_START, not_before=since + SCALE_DOWN_WINDOW + 1)
    history = cluster.prometheus.window(DEMO_4, SCALE_DOWN_WINDOW, datetime.now(UTC))
    assert len(history) == 2  # every 15s over 20s, both with CPU and memory from Prometheus
    assert {(s.cpu_utilization, s.memory_utilization) for s in history} == {(0.25, 0.2)}

    first = cluster.run()
    assert first["decision"]["action"] == "scale_down"
    assert (
        "It stayed below for the whole 20s window (highest 28.5%)"
        in (first["decision"]["rationale"])
    )
    assert [s["outcome"] for s in first["steps"]] == ["executed"]
    executed = time.monotonic()
    assert cluster.deployment()["spec"]["replicas"] == 2
    assert cluster.stamp()["after"] == {"replicas": 2}
    scale_down = cluster.record("operation_executed")

    cluster.respond(DEMO_4_AFTER)
    cluster.settle(DEMO_4_AFTER, not_before=executed + STABILIZATION)
    cluster.run()
    failed = cluster.record("verification_failed")
    checks = {c["check"]: c for c in failed["details"]["checks"]}
    assert (checks["latency_p95"]["actual"], checks["latency_p95"]["status"]) == ("400ms", "failed")
    assert checks["latency_p95"]["rollback_trigger"] and checks["error_rate"]["rollback_trigger"]
    assert checks["cpu_utilization"]["status"] == "passed"  # CPU alone never triggers a rollback
    assert failed["details"]["rollback_triggered"] is True
    rollback = cluster.record("rollback_executed")
    assert rollback["operation"] == "rollback_own_change"
    assert rollback["links"]["rollback_of"] == scale_down["id"]
    rolled_back = time.monotonic()
    assert cluster.deployment()["spec"]["replicas"] == 3
    stamp = cluster.stamp()
    assert (stamp["operation_id"], stamp["operation"]) == (rollback["id"], "rollback_own_change")
    assert (stamp["before"], stamp["after"]) == ({"replicas": 2}, {"replicas": 3})
    events = api.events(DEMO_4.namespace, SERVICE)
    assert [(e["reason"], e["type"]) for e in events] == [
        ("ReconcilerScaled", "Normal"),
        ("ReconcilerRolledBack", "Warning"),
    ]
    assert events[0]["message"].startswith("scaled from 3 to 2 replicas: ")
    assert events[1]["message"].startswith(
        f"rolled back {scale_down['id']}, scaled from 2 to 3 replicas: "
    )
    assert events[1]["message"].endswith(f"(audit record {rollback['id']})")

    cluster.respond(DEMO_4_START)  # three pods again: the service recovers
    cluster.settle(DEMO_4_START, not_before=rolled_back + STABILIZATION)
    cluster.run()
    assert cluster.record("rollback_verified")["outcome"] == "passed"
    assert cluster.events() == [
        "decision_made",
        "governance_checked",
        "operation_executed",
        "verification_failed",
        "governance_checked",
        "rollback_executed",
        "rollback_verified",
    ]
    assert cluster.deployment()["spec"]["replicas"] == 3
