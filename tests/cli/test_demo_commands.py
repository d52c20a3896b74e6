"""Every command the demo prints can be copied: it is shell-quoted, splits into the words that
were run, and the story has no stray blank lines."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.cli.commandlines import check_parses
from tests.scenarios.conftest import init_repo

MERGE_MESSAGE = "Approve: raise max_replicas of todo-frontend to 6"


@pytest.fixture
def git_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `git` first on the PATH that writes down its argv, then runs the real git."""
    real = shutil.which("git")
    assert real is not None
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "git-argv.jsonl"
    wrapper = bin_dir / "git"
    wrapper.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        f"with open({str(log)!r}, 'a') as out:\n"
        "    out.write(json.dumps(['git', *sys.argv[1:]]) + '\\n')\n"
        f"os.execv({real!r}, [{real!r}, *sys.argv[1:]])\n"
    )
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return log


def test_each_printed_command_is_the_one_run(tmp_path: Path, git_log: Path) -> None:
    from reconciler.cli import main

    source = tmp_path / "my repo"  # a space in the path needs quoting too
    source.mkdir()
    init_repo(source)
    scratch = (tmp_path / "scratch dir").resolve()
    result = CliRunner().invoke(
        main, ["--repo", str(source), "demo", "--dir", str(scratch)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    story = result.output
    assert "\n\n\n" not in story, "two blank lines in a row"

    shown = [shlex.split(line[2:]) for line in story.splitlines() if line.startswith("$ ")]
    assert shown, "no commands shown"

    # git commands: exactly the argv that ran, in order. `git log` is shown but read with
    # pygit2, so it is run here instead, and must print what the story shows.
    ran = [json.loads(line) for line in git_log.read_text().splitlines()]
    shown_git = [argv for argv in shown if argv[0] == "git"]
    log_command = ["git", "-C", str(scratch), "log", "--oneline", "--", "audit/"]
    assert log_command in shown_git
    assert [argv for argv in shown_git if argv != log_command] == ran
    merge = next(argv for argv in ran if "merge" in argv)
    assert merge[-2:] == ["-m", MERGE_MESSAGE]
    assert f"-m '{MERGE_MESSAGE}'" in story
    assert pygit_subject(scratch, MERGE_MESSAGE)
    logged = subprocess.run(log_command, check=True, capture_output=True, text=True).stdout
    after = story.split(f"$ {shlex.join(log_command)}\n", 1)[1]
    assert after.startswith(logged)

    # reconciler commands: click accepts each as printed; read-only ones print the same
    # again when copied and run in the scratch repository.
    shown_reconciler = [argv[1:] for argv in shown if argv[0] == "reconciler"]
    assert len(shown_reconciler) + len(shown_git) == len(shown)
    for argv in shown_reconciler:
        check_parses(argv)
    for argv in (a for a in shown_reconciler if a[0] in {"approvals", "explain"}):
        again = CliRunner().invoke(main, ["--repo", str(scratch), *argv], catch_exceptions=False)
        assert again.exit_code == 0, again.output
        assert f"$ {shlex.join(['reconciler', *argv])}\n{again.output}" in story


def pygit_subject(scratch: Path, subject: str) -> bool:
    """Whether the scratch repository has a commit with this subject: the -m text arrived
    whole."""
    import pygit2

    repo = pygit2.Repository(str(scratch))
    return any(commit.message.splitlines()[0] == subject for commit in repo.walk(repo.head.target))
