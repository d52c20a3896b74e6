"""Observing a fleet of 10,000 deployments over 20 namespaces on the Kubernetes adapter.

Target: `observe` and `current` together cost at most 5 list requests per namespace plus one
request per extra page, read the lists page by page (`limit`/`continue`), and hold only what
the mapping reads (pages are trimmed as they arrive). Measured twice against the fake API
server of tests/fakes/kube_api.py under the real client: with the default page size (one page
per list here) and with 250 items a page (pods and pod metrics take four pages a namespace).
Time is wall time for observe + current; peak memory is what Python allocated during them
(tracemalloc, in a separate pass because tracing slows everything down), the fake server's
own memory excluded (it runs in the same process but its store exists before the pass).

`python -m benchmarks kubernetes_fleet`.
"""

from __future__ import annotations

import math
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.common import Row

if TYPE_CHECKING:
    from reconciler.core.observed.observation import Target
    from tests.fakes.kube_api import FakeKubeAPI

NAMESPACES = 20
PER_NAMESPACE = 500
MIB = 1024**2


def _fleet(api: FakeKubeAPI) -> list[Target]:
    from tests.adapters.test_kubernetes import add_deployments_quickly

    return [
        target
        for n in range(NAMESPACES)
        for target in add_deployments_quickly(api, f"team-{n:02d}", PER_NAMESPACE)
    ]


def _expected_requests(page_size: int) -> int:
    """Five lists a namespace, each as many pages as its items need (at least one)."""
    items = {
        "deployments": PER_NAMESPACE,
        "replicasets": PER_NAMESPACE,
        "pods": 2 * PER_NAMESPACE,
        "pod metrics": 2 * PER_NAMESPACE,
        "autoscalers": 0,
    }
    return NAMESPACES * sum(max(1, math.ceil(n / page_size)) for n in items.values())


def _observe(
    api: FakeKubeAPI, targets: list[Target], scratch: Path, page_size: int
) -> tuple[float, int, float, bool]:
    """(seconds, requests, peak MiB, every service read) for observe + current."""
    from reconciler.adapters.kubernetes import KubernetesCluster
    from reconciler.core.observed.observation import DeploymentState, Metrics

    kubeconfig = api.write_kubeconfig(scratch / "kubeconfig")
    with KubernetesCluster.from_kubeconfig(kubeconfig, page_size=page_size) as cluster:
        api.reset_log()
        start = time.perf_counter()
        states = cluster.observe(targets)
        metrics = cluster.current(targets)
        elapsed = time.perf_counter() - start
        requests = api.count()
        complete = all(isinstance(s, DeploymentState) for s in states.values()) and all(
            isinstance(m, Metrics) for m in metrics.values()
        )
        del states, metrics
        cluster.forget()
        tracemalloc.start()
        try:
            cluster.observe(targets)
            cluster.current(targets)
            peak = tracemalloc.get_traced_memory()[1] / MIB
        finally:
            tracemalloc.stop()
    return elapsed, requests, peak, complete


def run() -> list[Row]:
    from tests.fakes.kube_api import FakeKubeAPI

    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as scratch, FakeKubeAPI() as api:
        targets = _fleet(api)
        for page_size in (5000, 250):
            elapsed, requests, peak, complete = _observe(api, targets, Path(scratch), page_size)
            bound = _expected_requests(page_size)
            label = f"observe+current 10,000 deployments in 20 namespaces, {page_size} a page"
            rows += [
                Row(
                    f"{label}: API requests",
                    requests,
                    "",
                    f"<= {bound}",
                    requests <= bound and complete,
                    "5 lists a namespace plus extra pages; every service read"
                    if complete
                    else "SOME SERVICES NOT READ",
                ),
                Row("  time", elapsed, "s", "-", None, "wall time, the fake server's included"),
                Row(
                    "  peak memory",
                    peak,
                    "Mi",
                    "-",
                    None,
                    "allocated by the client and the adapter (tracemalloc); pages trimmed as read",
                ),
            ]
    return rows
