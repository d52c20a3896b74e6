"""Run every benchmark and print one table: `python -m benchmarks [NAME...]`.

Beside each row that runs the reconciler are its phases (start-up, blueprints, state,
observe, decide, record; see benchmarks/phases.py), so that a row that got slower says where.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import sys
from pathlib import Path

from benchmarks.common import Row, compile_package

#: The phases column: where the run a row measures spent its CPU time (benchmarks/phases.py).
PHASES_HEADER = "phases (CPU seconds)"

MODULES = [
    "bench_blueprints",
    "bench_cycle",
    "bench_seed",
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


def _summary(name: str) -> str:
    """The first line of a benchmark's docstring, read without importing it (some import
    client libraries or start servers' helpers)."""
    source = (Path(__file__).parent / f"{name}.py").read_text(encoding="utf-8")
    docstring = ast.get_docstring(ast.parse(source)) or ""
    return docstring.splitlines()[0] if docstring else ""


def _parser() -> argparse.ArgumentParser:
    names = "\n".join(f"  {name.removeprefix('bench_'):<18}{_summary(name)}" for name in MODULES)
    return argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Run the benchmarks and print one table, each number beside its target "
        "(all of them when no NAME is given).",
        epilog=f"benchmarks:\n{names}\n\nA NAME that is not one of these picks every "
        "benchmark whose name contains it (`kube` runs both Kubernetes ones).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _chosen(parser: argparse.ArgumentParser, words: list[str]) -> list[str]:
    """The modules the words pick, in the table's order; a word that picks none is a usage
    error, not an empty table."""
    unknown = [word for word in words if not any(_selects(word, name) for name in MODULES)]
    if unknown:
        known = ", ".join(name.removeprefix("bench_") for name in MODULES)
        parser.error(f"no benchmark named {', '.join(map(repr, unknown))}; choose from {known}")
    return [name for name in MODULES if not words or any(_selects(w, name) for w in words)]


def main(argv: list[str]) -> int:
    parser = _parser()
    parser.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run")
    chosen = _chosen(parser, parser.parse_args(argv).names)
    rows: list[Row] = []
    compile_package()
    for name in chosen:
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
