"""Run every benchmark and print one table: `python -m benchmarks [NAME...]`.

Beside each row that runs the reconciler are its phases (start-up, blueprints, state,
observe, decide, record; see benchmarks/phases.py), so that a row that got slower says where.
"""

from __future__ import annotations

import importlib
import sys

from benchmarks.common import Row, compile_package

#: The phases column: where the run a row measures spent its CPU time (benchmarks/phases.py).
PHASES_HEADER = "phases (CPU seconds)"

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


def _selects(word: str, name: str) -> bool:
    """A benchmark's own name picks it alone (`kubernetes` is not `kubernetes_fleet`); any
    other word picks the benchmarks whose names contain it."""
    if f"bench_{word}" in MODULES or word in MODULES:
        return name in (word, f"bench_{word}")
    return word in name


def main(selected: list[str]) -> int:
    rows: list[Row] = []
    compile_package()
    for name in MODULES:
        if selected and not any(_selects(s, name) for s in selected):
            continue
        print(f"running {name} ...", file=sys.stderr, flush=True)
        rows.extend(importlib.import_module(f"benchmarks.{name}").run())
    width = max(len(row.name) for row in rows)
    phases = max(len(PHASES_HEADER), *(len(row.phases) for row in rows))
    print(
        f"{'benchmark':<{width}}  {'value':>10}  {'target':<12}  result  "
        f"{PHASES_HEADER:<{phases}}  note"
    )
    for row in rows:
        verdict = "-" if row.ok is None else ("ok" if row.ok else "MISSED")
        print(
            f"{row.name:<{width}}  {row.value:>8.3f} {row.unit:<2}  {row.target:<12}  "
            f"{verdict:<6}  {row.phases or '-':<{phases}}  {row.note}"
        )
    return 0 if all(row.ok is not False for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
