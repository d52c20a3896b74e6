"""Blueprint validation at fleet size, and CLI start-up.

Targets: `reconciler validate` on 1,000 generated blueprints takes at most 0.8 s as a whole
process, on a repository whose validation cache (under `.git/reconciler/`) a kept runner's
earlier run filled; the first run, which loads and checks every blueprint, is shown beside it.
`reconciler --help` (the console script) starts in under 100 ms: it prints a kept rendering
without importing click, and a command imports no client library and no other command's
work at start-up.
"""

from __future__ import annotations

import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import CONSOLE_SCRIPT, REPO, Row, median_seconds, run_cli, run_cli_timed

BLUEPRINT = """\
metadata:
  name: svc-{index:04d}
  version: 1.{minor}.0
  namespace: team-{team}
spec:
  scaling:
    min_replicas: {low}
    max_replicas: {high}
    target_cpu_utilization: 70%
    scale_up_threshold: {up}%
    scale_down_threshold: 30%
    cooldown_period: {cooldown}s
    metrics:
      - {{type: cpu, weight: 0.5}}
      - {{type: memory, weight: 0.3}}
      - {{type: latency, weight: 0.2}}
  performance:
    latency_p95: {latency}ms
    error_rate_max: 1%
  resources:
    cpu: {{request: 100m, limit: 500m}}
    memory: {{request: 256Mi, limit: 1Gi}}
governance:
  agent_authority:
    allowed_operations:
      - operation: scale_within_limits
        condition: target_replicas >= min_replicas AND target_replicas <= max_replicas
      - restart_failed_pods
    requires_approval: [scale_beyond_limits]
    forbidden_operations: [delete_deployment]
  approval_workflow:
    approvers: [team-{team}]
cost:
  cost_per_replica: 20 USD
  monthly_budget: 500 USD
"""


def generate_fleet(root: Path, count: int) -> None:
    shutil.copytree(REPO / "blueprints" / "governance", root / "blueprints" / "governance")
    for index in range(count):
        folder = root / "blueprints" / f"svc-{index:04d}"
        folder.mkdir(parents=True)
        (folder / "blueprint.yaml").write_text(
            BLUEPRINT.format(
                index=index,
                minor=index % 7,
                team=index % 13,
                low=1 + index % 2,
                high=5 + index % 10,
                up=75 + index % 10,
                cooldown=30 + index % 90,
                latency=150 + index % 100,
            )
        )


def _bare_interpreter() -> tuple[float, float]:
    """Wall and CPU seconds of `python -c pass`: the floor any command starts from."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def run() -> list[Row]:
    from benchmarks.bench_cycle import _git_init
    from benchmarks.phases import phases_of

    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "fleet"
        generate_fleet(root, 1000)
        _git_init(root)
        first = run_cli(["--repo", str(root), "validate", "-o", "json"])
        whole = statistics.median(
            run_cli(["--repo", str(root), "validate", "-o", "json"]) for _ in range(5)
        )
        rows.append(
            Row(
                "validate 1,000 blueprints (whole process)",
                whole,
                "s",
                "<= 0.8 s",
                whole <= 0.8,
                f"median of 5 with the validation cache a kept runner has; first run {first:.2f} s",
                phases_of(root, validate=True),
            )
        )

        from reconciler.shell.workspace import load_fleet

        load_fleet(root)  # warm the schema cache, as a long-lived process would have it
        in_process = median_seconds(lambda: load_fleet(root), repeat=3)
        rows.append(
            Row(
                "validate 1,000 blueprints (in process)",
                in_process,
                "s",
                "-",
                None,
                f"{in_process / 1000 * 1000:.2f} ms per blueprint",
            )
        )
    # Paired with a bare interpreter, run in turn: on a busy machine the ratio holds when the
    # wall time does not.
    helps, bares, ratios = [], [], []
    for _ in range(9):
        helps.append(run_cli_timed(["--help"], command=CONSOLE_SCRIPT))
        bares.append(_bare_interpreter())
        ratios.append(helps[-1][1] / max(bares[-1][1], 1e-6))
    help_time = statistics.median(wall for wall, _ in helps)
    rows.append(
        Row(
            "reconciler --help start-up",
            help_time * 1000,
            "ms",
            "< 100 ms",
            help_time < 0.1,
            f"the console script, whole process, median of 9; cpu {statistics.median(c for _, c in helps) * 1000:.0f}"
            f" ms, {statistics.median(ratios):.1f}x a bare `python -c pass` run in turn "
            f"({statistics.median(c for _, c in bares) * 1000:.0f} ms cpu)",
        )
    )
    return rows
