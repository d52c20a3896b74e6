"""`make mutate`'s own logic: which mutants a module or function names, and the excuses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import mutation
from tests.conftest import REPO


def test_every_configured_module_exists_and_every_excuse_names_one() -> None:
    modules = mutation.configured()
    assert modules and all((REPO / module).is_file() for module in modules)
    names = {mutation.module_name(module) for module in modules}
    for mutant, (line, reason) in mutation.EQUIVALENT.items():
        assert mutant.rpartition(".x")[0] in names, mutant
        assert line and reason


def test_a_module_or_some_functions_as_mutmut_names() -> None:
    assert mutation.split("reconciler/core/decide/decision.py") == (
        "reconciler/core/decide/decision.py",
        (),
    )
    assert mutation.patterns("reconciler/core/decide/decision.py") == [
        "reconciler.core.decide.decision.*"
    ]
    assert mutation.patterns("reconciler/adapters/git_audit.py:_move_head") == [
        "reconciler.adapters.git_audit.x__move_head__mutmut_*",
        "reconciler.adapters.git_audit.xǁ*ǁ_move_head__mutmut_*",
    ]
    method = "reconciler.adapters.git_audit.xǁGitAuditStoreǁ_move_head__mutmut_3"
    assert mutation._selected(method, ("_move_head",))
    assert not mutation._selected(method, ("append",))
    assert mutation._selected("reconciler.core.decide.decision.x_decide__mutmut_1", ())
    # A function whose name starts like another's is not taken for it.
    assert not mutation._selected(
        "reconciler.core.decide.verification.x_verification_record__mutmut_1", ("verify",)
    )


def test_lines_marked_equivalent_are_listed_with_their_reason(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        "a = 1\nb = 2  # pragma: no mutate: only read by people\nc = 3  # pragma: no mutate\n"
    )
    assert mutation.equivalents("m.py", root=tmp_path) == [
        (2, "only read by people"),
        (3, "(no reason given)"),
    ]


@pytest.mark.parametrize("jobs", [["--jobs"], ["--jobs", "0"], ["--jobs", "two"]])
def test_a_number_of_jobs_that_is_not_one_or_more_is_refused_before_running(
    jobs: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert mutation.main(["run", *jobs, "reconciler/core/trail/history.py"]) == 2
    assert "--jobs" in capsys.readouterr().err


@pytest.mark.parametrize("tests", [["--tests"], ["--tests", ","], ["--tests", "tests/nowhere.py"]])
def test_tests_that_do_not_exist_are_refused_before_running(
    tests: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert mutation.main(["run", *tests, "reconciler/core/trail/history.py"]) == 2
    assert "--tests" in capsys.readouterr().err


FILES = ("tests/core/test_bounds.py", "tests/core/test_units.py")


@pytest.mark.parametrize(
    ("mutant", "collected"),
    [
        # A mutant's own run meets only the chosen tests.
        ("reconciler.core.bounds.x_finite__mutmut_1", {"tests/core/test_bounds.py"}),
        # The run that maps tests to functions (and any other) still sees every test.
        ("", set(FILES)),
    ],
)
def test_tests_chosen_for_a_mutant_leave_the_others_out(mutant: str, collected: set[str]) -> None:
    env = {**os.environ, "MUTATION_TESTS": "tests/core/test_bounds.py,tests/fakes/"}
    env["MUTANT_UNDER_TEST"] = mutant
    listed = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *FILES],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert listed.returncode == 0, listed.stdout + listed.stderr
    files = {line.partition("::")[0] for line in listed.stdout.splitlines() if "::" in line}
    assert files == collected
