"""Mutation testing of the safety logic: `python -m tests.mutation run|report [MODULE ...]`.

`make mutate` runs it. mutmut changes one thing at a time in a module (a `<` into `<=`, an
`and` into `or`, a number, a string...) and runs the tests that reach the changed function; a
mutant the tests do not notice *survived*. Each survivor is a missing test, or an equivalent
mutant (one no input can tell apart), which is marked in the code with
`# pragma: no mutate` and the reason after it; `report` lists those marks too.

The modules mutmut may mutate are `[tool.mutmut] only_mutate` in pyproject.toml (generating
mutants is slow, so the set is fixed there); MODULE picks some of them for this run. Results
are kept under mutants/ (not committed): `report` reads the last run.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The score each module is held to.
TARGET = 0.90
_PRAGMA = re.compile(r"#\s*pragma:\s*no mutate\b(.*)$")


def configured() -> list[str]:
    """The modules mutmut may mutate, from pyproject.toml."""
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    return list(settings["only_mutate"])


def module_name(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


@dataclass(frozen=True, kw_only=True)
class Score:
    module: str
    killed: int
    survived: tuple[str, ...]
    #: Mutants no selected test reaches, timeouts, and those not run yet.
    other: dict[str, int]

    @property
    def mutants(self) -> int:
        return self.killed + len(self.survived) + sum(self.other.values())

    @property
    def score(self) -> float | None:
        judged = self.killed + len(self.survived) + self.other.get("no tests", 0)
        return self.killed / judged if judged else None


def score(path: str) -> Score | None:
    """What the last run left for `path`, or None when it has no results."""
    from mutmut.stats import status_by_exit_code

    meta = ROOT / "mutants" / (path + ".meta")
    if not meta.exists():
        return None
    codes = json.loads(meta.read_text())["exit_code_by_key"]
    killed, survived, other = 0, [], {}
    for name, code in sorted(codes.items(), key=lambda item: _number(item[0])):
        status = status_by_exit_code[code]
        if status in ("killed", "timeout", "caught by type check"):
            killed += 1  # a mutant that hangs the tests is noticed too
        elif status == "survived":
            survived.append(name)
        else:
            other[status] = other.get(status, 0) + 1
    return Score(module=path, killed=killed, survived=tuple(survived), other=other)


def _number(name: str) -> tuple[str, int]:
    base, _, number = name.rpartition("__mutmut_")
    return base, int(number) if number.isdigit() else 0


def equivalents(path: str) -> list[tuple[int, str]]:
    """The lines marked `# pragma: no mutate`, with the reason written after the mark."""
    found = []
    for number, line in enumerate((ROOT / path).read_text().splitlines(), 1):
        match = _PRAGMA.search(line)
        if match:
            found.append((number, match.group(1).strip(" :-—") or "(no reason given)"))
    return found


def report(paths: Sequence[str], *, diffs: bool = True) -> int:
    """Print the table and the survivors; 1 when a module is under TARGET or not run."""
    rows = [(path, score(path)) for path in paths]
    print(f"{'module':<40} {'mutants':>7} {'killed':>6} {'survived':>8} {'score':>6}")
    failing = False
    for path, result in rows:
        if result is None or result.score is None:
            print(f"{path:<40} {'-':>7} {'-':>6} {'-':>8} {'not run':>6}")
            failing = True
            continue
        failing |= result.score < TARGET or bool(result.other.get("not checked"))
        extra = ", ".join(f"{n} {status}" for status, n in sorted(result.other.items()))
        print(
            f"{path:<40} {result.mutants:>7} {result.killed:>6} {len(result.survived):>8} "
            f"{result.score:>6.1%}" + (f"  ({extra})" if extra else "")
        )
    for path, result in rows:
        marks = equivalents(path)
        if result is not None and result.survived:
            print(f"\n{path}: {len(result.survived)} survived")
            for name in result.survived:
                print(f"  {name}")
                if diffs:
                    print(_indent(_diff(name, path)))
        if marks:
            print(f"\n{path}: marked equivalent (# pragma: no mutate)")
            for line, reason in marks:
                print(f"  line {line}: {reason}")
    return 1 if failing else 0


def _diff(name: str, path: str) -> str:
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    try:
        return get_diff_for_mutant(name, path=path)
    except Exception as error:  # an out-of-date mutants/ folder: say so, keep reporting
        return f"(no diff: {error})"


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())


def run(paths: Sequence[str]) -> int:
    """mutmut over the mutants of `paths` (every one again), then the report."""
    patterns = [f"{module_name(path)}.*" for path in paths]
    mutmut = Path(sys.executable).with_name("mutmut")
    done = subprocess.run([str(mutmut), "run", *patterns], cwd=ROOT, check=False)
    if done.returncode not in (0, 1):
        print(f"mutmut run failed (exit {done.returncode})", file=sys.stderr)
        return done.returncode
    return report(paths)


def main(argv: Sequence[str]) -> int:
    command, *modules = argv or ["report"]
    allowed = configured()
    unknown = [m for m in modules if m not in allowed]
    if command not in ("run", "report") or unknown:
        if unknown:
            print(
                f"not configured for mutation: {', '.join(unknown)}; add them to "
                "[tool.mutmut] only_mutate in pyproject.toml",
                file=sys.stderr,
            )
        print("usage: python -m tests.mutation run|report [MODULE ...]", file=sys.stderr)
        return 2
    paths = modules or allowed
    return run(paths) if command == "run" else report(paths)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
