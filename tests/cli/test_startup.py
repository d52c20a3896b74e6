"""Start-up: a command imports what it needs, and `--help` imports no command at all.

Each case runs a fresh interpreter and reads `sys.modules` after the command, so a module-level
import added to the wrong place fails here (how long start-up takes is measured by
`python -m benchmarks blueprints`, not here).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from reconciler.cli import COMMANDS, main
from tests.cli.commandlines import subcommands
from tests.scenarios.conftest import REPO, Scenario, init_repo

#: Client libraries and parsers that only some commands use, once they start working.
HEAVY = ("kubernetes", "pygit2", "github", "jsonschema", "yaml", "urllib3", "sqlite3")


def _modules_after(*argv: str, cwd: Path | None = None) -> set[str]:
    """The modules a fresh `reconciler ARGV` has imported when it exits."""
    code = (
        "import json, runpy, sys\n"
        f"sys.argv = ['reconciler', *{list(argv)!r}]\n"
        "try:\n    runpy.run_module('reconciler', run_name='__main__')\n"
        "except SystemExit as exit:\n    assert exit.code in (0, None), exit.code\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=cwd
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stderr.splitlines()[-1]))


def _heavy(modules: set[str]) -> list[str]:
    return sorted(name for name in modules if name.split(".")[0] in HEAVY)


def test_help_imports_the_command_line_and_nothing_of_the_commands() -> None:
    modules = _modules_after("--help")
    assert _heavy(modules) == []
    assert sorted(m for m in modules if m.startswith("reconciler")) == [
        "reconciler",
        "reconciler.cli",
        "reconciler.entry",  # the console script's module, which imports nothing itself
    ]
    # no dataclass is made before a command runs (each costs a compile per method)
    assert "dataclasses" not in modules


@pytest.mark.parametrize(
    "argv",
    [("run", "--help"), ("validate", "--help"), ("sim", "--help"), ("sim", "set", "--help")],
    ids=" ".join,
)
def test_a_commands_help_imports_no_client_library(argv: tuple[str, ...]) -> None:
    modules = _modules_after(*argv)
    assert _heavy(modules) == []
    module = COMMANDS[argv[0]].module
    assert module in modules
    others = {lazy.module for lazy in COMMANDS.values()} - {module}
    assert not others & modules


def test_every_summary_is_the_commands_own() -> None:
    """The listing's summaries are copies kept beside the lazy imports: each must be what click
    would have shown from the command's docstring."""
    loaded = subcommands(main)
    assert list(loaded) == sorted(COMMANDS)
    for name, command in loaded.items():
        assert command.name == name
        assert COMMANDS[name].summary == command.get_short_help_str(limit=10**6), name


@pytest.mark.parametrize("width", [50, 80, 100, 200])
def test_the_listing_is_the_one_click_prints_from_the_loaded_commands(width: int) -> None:
    context = click.Context(main)
    lazy = click.HelpFormatter(width=width)
    main.format_commands(context, lazy)
    subcommands(main)  # every command loaded, as click's own listing needs
    eager = click.HelpFormatter(width=width)
    click.Group.format_commands(main, context, eager)
    assert lazy.getvalue() == eager.getvalue()
    assert "validate" in lazy.getvalue()


def test_an_unknown_command_is_a_usage_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "nonesuch"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "No such command 'nonesuch'" in result.stderr


#: What loading a blueprint from its text takes, and a run whose blueprints all come from the
#: validation cache never needs.
LOADER = (
    "reconciler.core.blueprint.loading",
    "reconciler.core.blueprint.policies",
    "reconciler.core.blueprint.schemas",
    "reconciler.core.blueprint.sections",
)


#: What the seed scenario's run (one service scaled on the simulated cluster, nothing to
#: propose, nothing acting through git) never uses: the other commands' halves, the other
#: adapters, and the parts of the cycle that only a proposal, a merge or a write-back needs.
NOT_IN_A_SEED_RUN = (
    "reconciler.cli.review",  # check-change
    "reconciler.cli.step_outputs",  # --outputs for GitHub Actions
    "reconciler.core.review",
    "reconciler.core.approvals.drafting",  # a proposal's body
    "reconciler.core.approvals.judging",  # a merge judged
    "reconciler.core.approvals.dashboard",  # the dashboard issue's text
    "reconciler.shell.approvals.merges",
    "reconciler.shell.approvals.while_open",  # an open proposal moved, expired or closed
    "reconciler.core.gitops.manifests",  # write-back: the manifests' YAML
    "reconciler.core.gitops.writeback",  # write-back: the commit a change becomes
    "reconciler.core.gitops.documents",
    "reconciler.core.blueprint.yamlsafe",  # the YAML parser
    "reconciler.core.gitops.rollout",  # waiting for a GitOps tool's rollout
    "reconciler.core.planning.recovered",  # the record a run that died did not write
    "reconciler.shell.failures",  # a service's part that failed
    "reconciler.shell.announce",  # events on a real cluster
    "reconciler.core.trail.notices",
    "reconciler.adapters.github_forge",
    "reconciler.adapters.github_dashboard",
    "reconciler.adapters.kubernetes",
    "reconciler.adapters.prometheus",
    "reconciler.adapters.prometheus_transport",
)


def test_a_seed_run_on_cached_blueprints_imports_only_what_it_uses(seeded: Scenario) -> None:
    seeded.cli("validate")  # fills the validation cache, as an earlier run would have
    modules = _modules_after("--repo", str(seeded.root), "run", cwd=seeded.root)
    assert "reconciler.shell.cycle" in modules  # the cycle ran
    last = subprocess.run(
        ["git", "-C", str(seeded.root), "log", "-1", "--format=%s"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "scale 2→3" in last.stdout  # and scaled, as the seed does
    assert [m for m in LOADER if m in modules] == []
    loaded = [
        m
        for m in NOT_IN_A_SEED_RUN
        if any(name == m or name.startswith(f"{m}.") for name in modules)
    ]
    assert loaded == []
    assert "shlex" not in modules  # quoting the command a broken blueprint's row names
    # git and the simulated cluster's store; no YAML, no schema validator, no HTTP client
    assert {name.split(".")[0] for name in _heavy(modules)} == {"pygit2", "sqlite3"}


#: The record bodies (`core/trail/lazy_bodies.py`), which only reading a record needs.
BODIES = (
    "reconciler.core.trail.bodies",
    "reconciler.core.trail.operation_bodies",
    "reconciler.core.trail.approval_bodies",
    "reconciler.core.trail.followup_bodies",
    "reconciler.core.trail.request_body",  # the operation asked, as those bodies read it
)


def test_a_run_that_reads_no_record_loads_no_record_body(tmp_path: Path) -> None:
    """The seed scenario with its one service, run again from the first commit as `python -m
    benchmarks seed` runs it: the run scales and records, and the records it reads back are
    the ones the trail's index kept from the first run, whose details stay undecoded. (A first
    run reads its new records from git, and decodes them, bodies and all.)"""
    shutil.copytree(REPO / "blueprints", tmp_path / "blueprints", symlinks=True)
    shutil.rmtree(tmp_path / "blueprints" / "todo-backend")
    root = tmp_path / "fleet"
    root.mkdir()
    init_repo(root, tmp_path / "blueprints")
    scenario = Scenario(root)
    scenario.cli("sim", "init", "--scenario", "seed")
    scenario.cli("validate")
    scenario.cli("run")
    subprocess.run(["git", "-C", str(root), "reset", "-q", "--hard", "HEAD~1"], check=True)
    scenario.cli("sim", "init", "--scenario", "seed", "--force")
    modules = _modules_after("--repo", str(root), "run", cwd=root)
    last = subprocess.run(
        ["git", "-C", str(root), "log", "-1", "--format=%s"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "todo-frontend: scale 2→3" in last.stdout
    assert "reconciler.core.trail.lazy_bodies" in modules  # the cycle's readers were there
    assert [m for m in BODIES if m in modules] == []


@pytest.mark.parametrize("module", [*NOT_IN_A_SEED_RUN, *BODIES])
def test_every_module_a_seed_run_leaves_out_exists(module: str) -> None:
    """A renamed module would leave its entry above passing for nothing."""
    path = Path(__file__).parents[2] / module.replace(".", "/")
    assert path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()
