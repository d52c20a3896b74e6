"""Run every benchmark and print one table: `python -m benchmarks [NAME...]`."""

from __future__ import annotations

import importlib
import sys

from benchmarks.common import Row, compile_package

MODULES = [
    "bench_blueprints",
    "bench_cycle",
    "bench_history",
    "bench_kubernetes",
    "bench_kubernetes_fleet",
    "bench_prometheus",
    "bench_sharding",
    "bench_github",
    "bench_install",
]


def main(selected: list[str]) -> int:
    rows: list[Row] = []
    compile_package()
    for name in MODULES:
        if selected and not any(s in name for s in selected):
            continue
        print(f"running {name} ...", file=sys.stderr, flush=True)
        rows.extend(importlib.import_module(f"benchmarks.{name}").run())
    width = max(len(row.name) for row in rows)
    print(f"{'benchmark':<{width}}  {'value':>10}  {'target':<12}  result  note")
    for row in rows:
        verdict = "-" if row.ok is None else ("ok" if row.ok else "MISSED")
        print(
            f"{row.name:<{width}}  {row.value:>8.3f} {row.unit:<2}  {row.target:<12}  "
            f"{verdict:<6}  {row.note}"
        )
    return 0 if all(row.ok is not False for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
