"""The seed scenario's cycle as a whole process: `reconciler run`, one service scaled 2 → 3.

Target: at most 0.25 s of CPU, the interpreter's start included. Each round, untimed, resets a
repository of the shipped blueprints (todo-frontend) to its first commit with `git reset
--hard`, then runs `reconciler sim init --scenario seed --force` and `reconciler validate`
(which fills the validation cache, as a kept runner has it); then `reconciler run` alone is
timed, its CPU from the operating system's accounting of the finished child (`getrusage`),
followed by the same environment's `python -c pass` as the yardstick. The median of the
rounds is quoted. Beside it: how many modules the run imported (the reconciler's own among
them) and how many dataclasses existed at its end, from one more run that counts them.

`python -m benchmarks.bench_seed [-n ROUNDS] [--vs OTHER] [RECONCILER]` measures a given
console script (an installed one: a regular install's bytecode is compiled, an editable
install pays for its import finder), and with `--vs` a second one in turn with it, round by
round, printing the ratio of their CPU times paired.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.common import CONSOLE_SCRIPT, REPO, Row

_GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@localhost",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@localhost",
}

#: Run in the measured environment's interpreter: the console script's own function, then
#: what it imported and how many dataclasses exist (the collector's frozen objects included).
_COUNT = """\
import atexit, gc, sys
def _count():
    gc.unfreeze()
    classes = sum(1 for o in gc.get_objects() if isinstance(o, type) and '__dataclass_fields__' in o.__dict__)
    ours = sum(1 for name in sys.modules if name == 'reconciler' or name.startswith('reconciler.'))
    print('\\nCOUNTS', len(sys.modules), ours, classes, file=sys.stderr)
atexit.register(_count)
sys.argv = ['reconciler', 'run']
from reconciler.entry import main
main()
"""


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(root), *args],
        check=True,
        env={**os.environ, **_GIT_ENV},
        capture_output=True,
    )


def seed_repository(root: Path) -> None:
    """A repository of the shipped blueprints with one service (todo-frontend), committed."""
    root.mkdir(parents=True)
    shutil.copytree(REPO / "blueprints", root / "blueprints", symlinks=True)
    shutil.rmtree(root / "blueprints" / "todo-backend")
    (root / ".gitignore").write_text(".reconciler/\n")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", ".")
    _git(root, "commit", "-qm", "fleet")


def _prepare(reconciler: Sequence[str], root: Path) -> None:
    """Back to the first commit, the seed's simulated cluster, a warm validation cache."""
    first = subprocess.run(
        ["git", "-C", str(root), "rev-list", "--max-parents=0", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()[0]
    _git(root, "reset", "-q", "--hard", first)
    for args in (["sim", "init", "--scenario", "seed", "--force"], ["validate"]):
        subprocess.run([*reconciler, *args], cwd=root, check=True, capture_output=True)


def _timed(command: Sequence[str], cwd: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one finished child."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


class Subject:
    """One console script measured: its own repository and its samples."""

    def __init__(self, script: str, scratch: Path, label: str) -> None:
        self.reconciler = [script]
        self.python = str(Path(script).with_name("python"))
        self.root = scratch / label
        seed_repository(self.root)
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self.bare: list[float] = []

    def round(self) -> None:
        _prepare(self.reconciler, self.root)
        wall, cpu = _timed([*self.reconciler, "run"], self.root)
        self.wall.append(wall)
        self.cpu.append(cpu)
        self.bare.append(_timed([self.python, "-c", "pass"], self.root)[1])

    def counts(self) -> tuple[int, int, int]:
        """Modules imported, the reconciler's among them, dataclasses: from one more run."""
        _prepare(self.reconciler, self.root)
        found = subprocess.run(
            [self.python, "-c", _COUNT], cwd=self.root, check=True, capture_output=True, text=True
        ).stderr
        line = next(line for line in found.splitlines() if line.startswith("COUNTS "))
        modules, ours, classes = map(int, line.split()[1:])
        return modules, ours, classes

    def summary(self) -> dict[str, float]:
        modules, ours, classes = self.counts()
        return {
            "cpu": statistics.median(self.cpu),
            "fastest": min(self.cpu),
            "wall": statistics.median(self.wall),
            "bare": statistics.median(self.bare),
            "modules": modules,
            "ours": ours,
            "dataclasses": classes,
        }


def measure(script: str, rounds: int = 15, versus: str | None = None) -> dict[str, object]:
    """The medians of ROUNDS rounds for SCRIPT (and VERSUS in turn with it, paired)."""
    with tempfile.TemporaryDirectory() as scratch:
        subjects = [Subject(script, Path(scratch), "a")]
        if versus:
            subjects.append(Subject(versus, Path(scratch), "b"))
        for _ in range(rounds):
            for subject in subjects:
                subject.round()
        result: dict[str, object] = {
            "rounds": rounds,
            "load": os.getloadavg()[0],
            "a": subjects[0].summary(),
        }
        if versus:
            result["b"] = subjects[1].summary()
            ratios = [a / b for a, b in zip(subjects[0].cpu, subjects[1].cpu, strict=True)]
            result["ratio"] = statistics.median(ratios)
            result["ratio_spread"] = (min(ratios), max(ratios))
        return result


def run() -> list[Row]:
    found = measure(CONSOLE_SCRIPT[0])
    a = found["a"]
    assert isinstance(a, dict)
    return [
        Row(
            "seed scenario cycle, CPU (1 service, scales 2→3)",
            a["cpu"] * 1000,
            "ms",
            "<= 250 ms",
            a["cpu"] <= 0.25,
            f"whole process, median of {found['rounds']}: wall {a['wall'] * 1000:.0f} ms, "
            f"python -c pass {a['bare'] * 1000:.0f} ms CPU; {a['modules']} modules imported "
            f"({a['ours']} the reconciler's), {a['dataclasses']} dataclasses",
        )
    ]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_seed", description=__doc__)
    parser.add_argument("reconciler", nargs="?", default=CONSOLE_SCRIPT[0])
    parser.add_argument("-n", "--rounds", type=int, default=15)
    parser.add_argument("--vs", dest="versus", help="a second console script, run in turn")
    options = parser.parse_args(argv)
    print(json.dumps(measure(options.reconciler, options.rounds, options.versus), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
