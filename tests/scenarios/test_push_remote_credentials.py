"""`run --push` to a remote whose URL carries a token: the token is never printed.

Why it exists: a job may configure its remote as
`https://x-access-token:<token>@github.com/owner/repo.git`. What the push says, when it fails
and when it lands, goes to the log, the job summary and (on failure) an annotation, all of
which outlive the token's secrecy; so a URL is always shown as `https://***@...`.
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

from click.testing import CliRunner, Result

from tests.scenarios.conftest import Scenario

SECRET = "ghs_s3cretTokenValue"


def invoke(scenario: Scenario, summary: Path, *args: str) -> Result:
    from reconciler.cli import main

    return CliRunner().invoke(
        main,
        ["--repo", str(scenario.root), "run", "--push", "--summary", str(summary), *args],
        env={"GITHUB_ACTIONS": "true"},
        catch_exceptions=False,
    )


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_failed_push_names_the_remote_without_its_token(
    scenario: Scenario, tmp_path: Path
) -> None:
    scenario.cli("sim", "init", "--scenario", "seed")
    remote = f"http://x-access-token:{SECRET}@127.0.0.1:{closed_port()}/o/r.git"
    subprocess.run(["git", "-C", str(scenario.root), "remote", "add", "origin", remote], check=True)
    summary = tmp_path / "summary.md"
    result = invoke(scenario, summary, "--annotations")
    assert result.exit_code == 5, result.output
    annotation = next(line for line in result.output.splitlines() if "not pushed" in line)
    assert annotation.startswith("::error title=audit records not pushed::")
    assert "origin" in annotation
    for text in (result.output, summary.read_text()):
        assert SECRET not in text


def test_a_push_that_lands_names_the_remote_without_its_token(
    scenario: Scenario, tmp_path: Path
) -> None:
    """git's `insteadOf` sends the URL with the token to a local bare repository."""
    bare = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    base = f"https://x-access-token:{SECRET}@git.example.invalid/"
    git_config = ["git", "-C", str(scenario.root), "config"]
    subprocess.run([*git_config, f"url.{bare.parent.as_uri()}/.insteadOf", base], check=True)
    remote = ["git", "-C", str(scenario.root), "remote", "add", "origin", f"{base}origin.git"]
    subprocess.run(remote, check=True)
    scenario.cli("sim", "init", "--scenario", "seed")
    summary = tmp_path / "summary.md"
    result = invoke(scenario, summary)
    assert result.exit_code == 0, result.output
    assert "to origin/main" in result.output
    log = ["git", "-C", str(bare), "log", "--format=%s", "main"]
    assert subprocess.run(log, check=True, capture_output=True, text=True).stdout.strip()
    for text in (result.output, summary.read_text()):
        assert SECRET not in text


def test_a_url_as_the_push_remote_is_refused_before_anything_is_done(
    scenario: Scenario, tmp_path: Path
) -> None:
    """Replaying over other jobs' commits needs REMOTE/BRANCH, which only a named remote has,
    and a URL on the command line ends up in logs: a remote name is asked for instead."""
    scenario.cli("sim", "init", "--scenario", "seed")
    url = f"https://x-access-token:{SECRET}@github.com/o/r.git"
    result = invoke(scenario, tmp_path / "summary.md", "--push-remote", url)
    assert result.exit_code == 2
    assert "give the name of a configured remote, not a URL" in result.output
    assert SECRET not in result.output
    assert scenario.records("todo-frontend") == []
