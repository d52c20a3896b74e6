"""Observing a fleet of 10,000 deployments over 20 namespaces on the Kubernetes adapter.

Target: `observe` and `current` together cost at most 5 list requests per namespace plus one
request per extra page, read the lists page by page (`limit`/`continue`), and hold only what
the mapping reads (pages are trimmed as they arrive). Measured twice against the fake API
server of tests/fakes/kube_api.py under the real client: with the default page size (one page
per list here) and with 250 items a page (pods and pod metrics take four pages a namespace).

The reconciler's side runs in a process of its own, as it does against a real API server: the
fake server (in this process) then neither shares the interpreter's lock with the client nor
counts in its memory. Time is wall time for observe + current; memory is that process's peak
resident size, beside what it held before observing (the interpreter, the client library and
the adapter), so the difference is what reading the fleet cost. The reconciler's CPU time and
the fake server's answering time are beside the wall time: on a busy machine they are the
figures that hold.

`python -m benchmarks kubernetes_fleet`.
"""

from __future__ import annotations

import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.common import REPO, Row

if TYPE_CHECKING:
    from reconciler.core.observed.observation import Target
    from tests.fakes.kube_api import FakeKubeAPI

NAMESPACES = 20
PER_NAMESPACE = 500
#: Longer than any pass over the fleet on a loaded machine: `current` reuses what `observe`
#: read, as it does within the default 15 s on an idle one, so the count is the adapter's
#: lists and not a slow machine's second round of them.
SNAPSHOT_TTL = 600.0


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


def _resident_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def observe_child(kubeconfig: str, page_size: int, targets_file: str) -> None:
    """The reconciler's side: build the adapter, say so, wait for the go, then observe and
    print what it took as JSON."""
    from reconciler.adapters.kubernetes import KubernetesCluster
    from reconciler.core.observed.observation import DeploymentState, Metrics, Target

    targets = [
        Target(namespace=ns, name=name) for ns, name in json.loads(Path(targets_file).read_text())
    ]
    with KubernetesCluster.from_kubeconfig(
        Path(kubeconfig), page_size=page_size, snapshot_ttl=SNAPSHOT_TTL
    ) as cluster:
        before = _resident_mib()
        print("ready", flush=True)
        sys.stdin.readline()
        start, used = time.perf_counter(), _cpu_seconds()
        states = cluster.observe(targets)
        metrics = cluster.current(targets)
        elapsed, used = time.perf_counter() - start, _cpu_seconds() - used
        complete = all(isinstance(s, DeploymentState) for s in states.values()) and all(
            isinstance(m, Metrics) for m in metrics.values()
        )
        complete = complete and len(states) == len(metrics) == len(targets)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {"seconds": elapsed, "cpu": used, "before": before, "peak": peak, "complete": complete}
        )
    )


def _observe(
    api: FakeKubeAPI, targets: list[Target], scratch: Path, page_size: int
) -> dict[str, Any]:
    """seconds, requests, memory before and at its peak (MiB), every service read, and the
    seconds the fake server spent answering."""
    kubeconfig = api.write_kubeconfig(scratch / "kubeconfig")
    listed = scratch / "targets.json"
    listed.write_text(json.dumps([[t.namespace, t.name] for t in targets]))
    command = [
        sys.executable,
        "-m",
        "benchmarks.bench_kubernetes_fleet",
        str(kubeconfig),
        str(page_size),
        str(listed),
    ]
    with subprocess.Popen(
        command, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as child:
        assert child.stdin is not None and child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        api.reset_log()
        busy = api.busy_seconds
        child.stdin.write("go\n")
        child.stdin.flush()
        answer: dict[str, Any] = json.loads(child.stdout.readline())
        serving = api.busy_seconds - busy
    assert child.returncode == 0, child.returncode
    return answer | {"requests": api.count(), "serving": serving}


def run() -> list[Row]:
    from tests.fakes.kube_api import FakeKubeAPI

    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as scratch, FakeKubeAPI() as api:
        targets = _fleet(api)
        for page_size in (5000, 250):
            seen = _observe(api, targets, Path(scratch), page_size)
            bound = _expected_requests(page_size)
            label = f"observe+current 10,000 deployments in 20 namespaces, {page_size} a page"
            complete = seen["complete"]
            rows += [
                Row(
                    f"{label}: API requests",
                    seen["requests"],
                    "",
                    f"<= {bound}",
                    seen["requests"] <= bound and complete,
                    "5 lists a namespace plus extra pages; every service read"
                    if complete
                    else "SOME SERVICES NOT READ",
                ),
                Row(
                    "  time",
                    seen["seconds"],
                    "s",
                    "-",
                    None,
                    f"wall time of observe + current; the reconciler's CPU {seen['cpu']:.1f} s, "
                    f"the fake server's answering (another process) {seen['serving']:.1f} s",
                ),
                Row(
                    "  peak memory",
                    seen["peak"],
                    "Mi",
                    "-",
                    None,
                    f"peak resident size of that process; {seen['before']:.0f} MiB before "
                    f"observing (interpreter, client library, adapter)",
                ),
            ]
    return rows


if __name__ == "__main__":
    observe_child(sys.argv[1], int(sys.argv[2]), sys.argv[3])
