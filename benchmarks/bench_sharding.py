"""Sharding: how long one shard's `reconciler run` takes as the fleet is split N ways.

Shards run as parallel jobs, so what a scheduled run costs in wall time is its slowest
shard. Each run here is a whole process (`reconciler run --shard I/N`) on a fresh copy of a
fleet with 10 earlier records per service and every tenth service running hot, so each
shard both decides and acts. The numbers tell when splitting pays (docs/github-actions.md).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from benchmarks.bench_cycle import _fleet_with_history, _git
from benchmarks.common import Row, run_cli
from benchmarks.phases import phases_of

SIZES = (1000, 3000)
SPLITS = (1, 2, 4, 8)


def run() -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as scratch:
        for size in SIZES:
            template = Path(scratch) / f"fleet-{size}"
            _fleet_with_history(template, size, busy_every=10)
            _git("-C", str(template), "gc", "-q")  # one pack, not thousands of loose objects
            single = 0.0
            for count in SPLITS:
                # Shards own disjoint services, so running them one after another on one copy
                # gives each the same starting point for its own services.
                root = Path(scratch) / f"run-{size}-{count}"
                shutil.copytree(template, root, symlinks=True)
                times = [
                    run_cli(["--repo", str(root), "run", "--shard", f"{i}/{count}", "-o", "json"])
                    for i in range(1, count + 1)
                ]
                shutil.rmtree(root)
                slowest = max(times)
                # The phases of the slowest shard, on a fresh copy of the fleet as it ran.
                root = Path(scratch) / f"phases-{size}-{count}"
                shutil.copytree(template, root, symlinks=True)
                phases = phases_of(root, shard=f"{times.index(slowest) + 1}/{count}")
                shutil.rmtree(root)
                single = single or slowest
                rows.append(
                    Row(
                        f"run, {size:,} services in {count} shard{'s' * (count > 1)}: slowest shard",
                        slowest,
                        "s",
                        "-",
                        None,
                        f"{single / slowest:.1f}x faster than one job; all shards together "
                        f"{sum(times):.1f} s of runner time",
                        phases,
                    )
                )
    return rows
