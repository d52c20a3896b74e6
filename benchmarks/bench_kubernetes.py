"""The Kubernetes adapter at fleet size, and against the seed's kubectl loop.

Targets (issue: real cluster adapter): observing 1,000 deployments in one namespace costs at
most 5 API requests (observe and current together), and the cycle for all 1,000 takes under
5 s: observe + current + decide + govern, and `run_cycle` end to end (100 of them scaled and
recorded in git), wall time including the fake server's own work (its controllers settling
after each write), which is also reported apart. Side by side on 50 services,
the seed's loop (three kubectl processes per service) against one observe + current + plan +
apply pass, and against the whole `run_cycle` that also records each change in git (the seed's
loop records nothing).

Both run against the fake API server of tests/fakes/kube_api.py under the real clients, so the
numbers measure the clients and the reconciler, not a network: a real API server adds latency
per request, which widens the gap between 3 requests per service and 5 per namespace.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.common import REPO, Row

if TYPE_CHECKING:
    from reconciler.adapters.kubernetes import KubernetesCluster
    from reconciler.core.blueprint.model import Blueprint
    from reconciler.core.observed.observation import Target
    from tests.fakes.kube_api import FakeKubeAPI

NAMESPACE = "fleet"
TOKEN = "bench-token"
#: Scale up above 80 % CPU, down below 30 %; CPU alone, so the kubectl loop can decide alike.
BLUEPRINT = """\
metadata:
  name: {name}
  version: 1.0.0
  namespace: {namespace}
spec:
  scaling:
    min_replicas: 1
    max_replicas: 10
    target_cpu_utilization: 70%
    scale_up_threshold: 80%
    scale_down_threshold: 30%
    cooldown_period: 60s
    metrics:
      - {{type: cpu, weight: 1.0}}
governance:
  agent_authority:
    allowed_operations:
      - operation: scale_within_limits
        condition: target_replicas >= min_replicas AND target_replicas <= max_replicas
    forbidden_operations: [delete_deployment]
"""


def blueprints(targets: Sequence[Target]) -> list[Blueprint]:
    """Blueprints parsed against the built-in policies, on purpose: this part measures the
    cluster work alone, so each blueprint names its namespace and carries its own rules, and
    no policies file is involved. (`run_cycle` below uses a real repository and its file.)"""
    from reconciler.core.blueprint.loading import parse_blueprint

    return [
        parse_blueprint(
            BLUEPRINT.format(name=t.name, namespace=t.namespace).encode(),
            source=f"blueprints/{t.name}/blueprint.yaml",
        )
        for t in targets
    ]


def plan_and_apply(
    cluster: KubernetesCluster, fleet: Sequence[Blueprint], targets: Sequence[Target], act: bool
) -> set[str]:
    """One cycle's cluster work without the audit trail: observe, current, decide and govern
    each service, and (with `act`) apply what the verdicts allow. Returns the deployments
    changed (or allowed to be)."""
    from reconciler.core.observed.observation import DeploymentState, Metrics
    from reconciler.core.planning.cycle import plan_cycle
    from reconciler.core.trail.history import fold_history

    now = datetime.now(UTC)
    states = cluster.observe(targets)
    metrics = cluster.current(targets)
    changed: set[str] = set()
    for blueprint, target in zip(fleet, targets, strict=True):
        state, current = states[target], metrics[target]
        assert isinstance(state, DeploymentState) and isinstance(current, Metrics)
        breaker = blueprint.policy.safety.circuit_breaker
        history = fold_history(blueprint.name, [], breaker, now)
        plan = plan_cycle(blueprint, state, current, history, now, window=[])
        for step in plan.steps:
            if step.change is not None:
                changed.add(target.name)
                if act:
                    cluster.apply(step.change)
    return changed


def connect(api: FakeKubeAPI, scratch: Path) -> KubernetesCluster:
    from reconciler.adapters.kubernetes import KubernetesCluster

    return KubernetesCluster.from_kubeconfig(api.write_kubeconfig(scratch / "kubeconfig", TOKEN))


def thousand(scratch: Path) -> list[Row]:
    from tests.adapters.test_kubernetes import add_deployments_quickly
    from tests.fakes.kube_api import FakeKubeAPI

    with FakeKubeAPI() as api:
        # 90m of 100m: every service is above its scale-up threshold, so each is decided and
        # governed in full (the slowest path short of acting).
        targets = add_deployments_quickly(api, NAMESPACE, 1000, cpu="90m")
        fleet = blueprints(targets)
        start = time.perf_counter()
        cluster = connect(api, scratch)
        startup = time.perf_counter() - start
        with cluster:
            api.reset_log()
            start = time.perf_counter()
            allowed = plan_and_apply(cluster, fleet, targets, act=False)
            elapsed = time.perf_counter() - start
            requests = api.count()
    return [
        Row(
            "observe+current 1,000 deployments: API requests",
            requests,
            "",
            "<= 5",
            requests <= 5,
        ),
        Row(
            "observe+current+decide+govern 1,000 services",
            elapsed,
            "s",
            "< 5 s",
            elapsed < 5.0,
            f"{len(allowed)} scale-ups allowed; client start-up {startup:.2f} s once per process",
        ),
    ]


#: The fleet of the paging rows: 10,000 deployments (20,000 pods) over 20 namespaces.
NAMESPACES, PER_NAMESPACE = 20, 500


def many_namespaces(scratch: Path) -> list[Row]:
    """Observing (and measuring) 10,000 deployments over 20 namespaces: every list is read
    in pages (`limit`, then `continue`), each namespace's lists once. At the default page
    size (5,000) a namespace of 500 deployments and 1,000 pods is one page per list, 5
    requests; at 200 a list of 1,000 pods takes 5 pages. Each row counts the requests the
    fake server answered (observe and current together: current reuses what observe read)."""
    from reconciler.adapters.kubernetes import KubernetesCluster
    from tests.adapters.test_kubernetes import add_deployments_quickly
    from tests.fakes.kube_api import FakeKubeAPI

    rows = []
    with FakeKubeAPI() as api:
        targets = [
            target
            for index in range(NAMESPACES)
            for target in add_deployments_quickly(api, f"team-{index:02d}", PER_NAMESPACE)
        ]
        config = api.write_kubeconfig(scratch / "kubeconfig-paging", TOKEN)
        for page_size in (5000, 200):
            # current() reuses what observe() listed while it is younger than the snapshot
            # TTL (15 s, metrics-server's resolution); the fake server, answering in this
            # process, takes longer than that for 20 namespaces, so the TTL is raised here.
            with KubernetesCluster.from_kubeconfig(
                config, page_size=page_size, snapshot_ttl=600
            ) as cluster:
                api.reset_log()
                api.busy_seconds = 0.0
                start = time.perf_counter()
                states = cluster.observe(targets)
                metrics = cluster.current(targets)
                elapsed = time.perf_counter() - start
                requests, server = api.count(), api.busy_seconds
            seen = sum(1 for state in states.values() if not isinstance(state, Exception))
            measured = sum(1 for value in metrics.values() if not isinstance(value, Exception))
            pages = requests - 5 * NAMESPACES
            rows.append(
                Row(
                    f"observe+current 10,000 deployments in 20 namespaces, pages of {page_size:,}",
                    requests,
                    "",
                    "5/ns + pages",
                    seen == measured == len(targets) and pages >= 0,
                    f"{elapsed:.2f} s, of which the fake server answering {server:.2f} s; "
                    f"{pages} further pages beyond the first of each list",
                )
            )
    return rows


def _fleet_of_fifty(api: FakeKubeAPI) -> list[Target]:
    """50 services at 2 replicas; every fifth is at 90 % CPU and needs a scale-up."""
    from tests.adapters.test_kubernetes import add_deployments_quickly

    targets = add_deployments_quickly(api, NAMESPACE, 50, cpu="50m")
    for target in targets[::5]:
        api.set_pod_usage(target.namespace, target.name, cpu="90m", memory="256Mi")
    return targets


def kubectl_loop(
    kubectl: str, kubeconfig: Path, scratch: Path, targets: Sequence[Target]
) -> set[str]:
    """The seed's loop: per service, `kubectl top` for usage, `kubectl get -o json` for
    replicas and requests, and `kubectl scale` when CPU is above 80 % of the request."""
    import json

    from reconciler.adapters.kubernetes import parse_quantity

    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(scratch)}
    base = [kubectl, "--cache-dir", str(scratch / "kube-cache")]

    def run(*args: str) -> str:
        done = subprocess.run([*base, *args], env=env, capture_output=True, text=True, check=True)
        return done.stdout

    run("api-resources")  # a warm discovery cache, as on the seed's long-lived runner
    scaled: set[str] = set()
    for target in targets:
        ns, name = target.namespace, target.name
        top = run("top", "pods", "-n", ns, "-l", f"app={name}", "--no-headers")
        usage = [parse_quantity(line.split()[1]) for line in top.splitlines() if line.strip()]
        deployment = json.loads(run("get", "deployment", name, "-n", ns, "-o", "json"))
        replicas = deployment["spec"]["replicas"]
        request = parse_quantity(
            deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"]
        )
        if usage and sum(usage) / len(usage) / request > 0.8 and replicas < 10:
            run("scale", "deployment", name, f"--replicas={replicas + 1}", "-n", ns)
            scaled.add(name)
    return scaled


def fifty(scratch: Path) -> list[Row]:
    from tests.fakes.kube_api import FakeKubeAPI

    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return [
            Row(
                "kubectl loop vs reconciler, 50 services",
                0,
                "",
                "-",
                None,
                "kubectl not installed (apt-get install kubernetes-client)",
            )
        ]
    # Two identical fakes, so each approach starts from the same cluster state; TLS because
    # kubectl sends a token over TLS only.
    with FakeKubeAPI(tls=True, required_token=TOKEN) as api:
        targets = _fleet_of_fifty(api)
        kubeconfig = api.write_kubeconfig(scratch / "kubectl-config", TOKEN)
        start = time.perf_counter()
        seed_scaled = kubectl_loop(kubectl, kubeconfig, scratch, targets)
        seed_time = time.perf_counter() - start
        seed_requests = api.count()
    with FakeKubeAPI(tls=True, required_token=TOKEN) as api:
        targets = _fleet_of_fifty(api)
        fleet = blueprints(targets)
        with connect(api, scratch) as cluster:
            api.reset_log()
            start = time.perf_counter()
            ours_scaled = plan_and_apply(cluster, fleet, targets, act=True)
            ours_time = time.perf_counter() - start
            our_requests = api.count()
    with FakeKubeAPI(tls=True, required_token=TOKEN) as api:
        targets = _fleet_of_fifty(api)
        cycle_time, _, cycle_scaled = _cycle_with_audit(
            api, targets, scratch / "fifty-fleet", scratch
        )
    ratio = seed_time / ours_time
    cycle_ratio = seed_time / cycle_time
    same = "same services" if seed_scaled == ours_scaled else "DIFFERENT services"
    return [
        Row(
            "kubectl loop (seed), 50 services",
            seed_time,
            "s",
            "-",
            None,
            f"{seed_requests} requests, {len(seed_scaled)} scaled",
        ),
        Row(
            "observe+current+plan+apply, 50 services",
            ours_time,
            "s",
            "-",
            None,
            f"{our_requests} requests, {len(ours_scaled)} scaled ({same})",
        ),
        Row(
            "speed-up over the kubectl loop",
            ratio,
            "x",
            "> 1x",
            ratio > 1 and seed_scaled == ours_scaled,
        ),
        Row(
            "run_cycle with audit commits, 50 services",
            cycle_time,
            "s",
            "-",
            None,
            f"{cycle_scaled} scaled, each also recorded in a git commit",
        ),
        Row(
            "  speed-up over the kubectl loop, records included",
            cycle_ratio,
            "x",
            "> 1x",
            cycle_ratio > 1 and cycle_scaled == len(seed_scaled),
        ),
    ]


def _cycle_with_audit(
    api: FakeKubeAPI, targets: Sequence[Target], root: Path, scratch: Path
) -> tuple[float, float, int]:
    """`run_cycle` as `reconciler run` does it: blueprints in a git repository, the Kubernetes
    adapter, every change recorded in a commit. Returns (wall seconds, of which the fake
    server's own seconds, services scaled)."""
    from reconciler.adapters.clock import SystemClock
    from reconciler.adapters.git_audit import GitAuditStore
    from reconciler.core.planning.outcomes import StepOutcome
    from reconciler.shell.cycle import CycleOptions, Ports, run_cycle
    from reconciler.shell.workspace import load_fleet

    for target in targets:
        folder = root / "blueprints" / target.name
        folder.mkdir(parents=True)
        text = BLUEPRINT.format(name=target.name, namespace=target.namespace)
        (folder / "blueprint.yaml").write_text(text)
    policies = root / "blueprints" / "governance" / "policies.yaml"
    policies.parent.mkdir(parents=True)
    shutil.copy(REPO / "blueprints" / "governance" / "policies.yaml", policies)
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    fleet = load_fleet(root)
    with connect(api, scratch) as cluster:
        ports = Ports(
            cluster=cluster, metrics=cluster, audit=GitAuditStore(root), clock=SystemClock()
        )
        api.busy_seconds = 0.0
        start = time.perf_counter()
        report = run_cycle(fleet, ports, CycleOptions())
        elapsed = time.perf_counter() - start
        server = api.busy_seconds
    scaled = sum(1 for s in report.services if any(x.kind is StepOutcome.EXECUTED for x in s.steps))
    return elapsed, server, scaled


def whole_cycle(scratch: Path) -> list[Row]:
    """`run_cycle` end to end on the Kubernetes adapter: 1,000 services, of which 100 run hot
    and are scaled (a patch each) and recorded (a commit each) in a real git repository."""
    from tests.adapters.test_kubernetes import add_deployments_quickly
    from tests.fakes.kube_api import FakeKubeAPI

    with FakeKubeAPI() as api:
        targets = add_deployments_quickly(api, NAMESPACE, 900, cpu="50m")
        targets += add_deployments_quickly(api, NAMESPACE, 100, prefix="hot", cpu="90m")
        elapsed, server, scaled = _cycle_with_audit(api, targets, scratch / "fleet", scratch)
    ours = elapsed - server
    return [
        Row(
            "whole cycle, 1,000 services on the Kubernetes adapter",
            elapsed,
            "s",
            "< 5 s",
            elapsed < 5.0 and scaled == 100,
            f"run_cycle wall time: {scaled} scaled, each a patch and a commit; of which the "
            f"fake API server's own work (its controllers settling after each write) {server:.2f} s",
        ),
        Row(
            "  the reconciler's part of it",
            ours,
            "s",
            "-",
            None,
            "wall time minus the time the fake server spent answering",
        ),
    ]


def run() -> list[Row]:
    with tempfile.TemporaryDirectory() as scratch:
        rows = thousand(Path(scratch)) + many_namespaces(Path(scratch)) + fifty(Path(scratch))
    with tempfile.TemporaryDirectory() as scratch:
        return rows + whole_cycle(Path(scratch))
