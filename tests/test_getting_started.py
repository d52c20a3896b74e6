"""docs/getting-started.md, followed command by command, in the order the page gives them.

Every line of the page's `sh` blocks runs in bash, as typed, in one home directory, carrying
the working directory and the exported variables from one line to the next. What stands in for
GitHub is the same as in the workflow tests: `gh` is a small stand-in (tests/gh_stub.py) that
creates the repository on the git server on loopback and remembers variables, secrets and
dispatched workflows; `https://github.com/` is that server (git's `insteadOf`); a dispatched or
scheduled run is the emulated runner running the repository's own reconcile.yml, with the
Action's release resolved to this checkout; the cluster is the fake Kubernetes API.

One line cannot run here, because it fetches from github.com: the `pip install` of the tagged
release. The test checks that it names this distribution at this release (and the tests run
from this very package).
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from reconciler import ACTION_REPOSITORY, ACTION_VERSION, DISTRIBUTION
from tests.actions import JobRun
from tests.conftest import REPO
from tests.fakes.github_api import FakeGitHub
from tests.fakes.kube_api import FakeKubeAPI
from tests.gitserver import HttpGitServer, basic_header, http_git_server
from tests.scenarios.test_actions_runs import APP_LOGIN, APP_TOKEN, BOT_TOKEN, INSTALL, Hosted

PAGE = REPO / "docs" / "getting-started.md"
BIN = Path(sys.executable).parent
USER_TOKEN = "gho_user_token_of_alice"


def sh_blocks(text: str) -> list[list[str]]:
    """The command lines of each ```sh block, in page order."""
    blocks = re.findall(r"^```sh\n(.*?)^```$", text, re.DOTALL | re.MULTILINE)
    return [[line for line in block.splitlines() if line.strip()] for block in blocks]


class Terminal:
    """One person's shell: each line runs in bash as typed; the working directory and the
    exported variables carry over to the next line."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home = home
        self.state = home.parent / "shell"
        self.state.mkdir()
        (self.state / "cwd").write_text(str(home))
        exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items())
        (self.state / "env").write_text(exports)

    @property
    def cwd(self) -> Path:
        return Path((self.state / "cwd").read_text().strip())

    def type(self, line: str) -> str:
        script = (
            f'cd "$(cat {self.state}/cwd)"\nsource {self.state}/env\n{line}\nstatus=$?\n'
            f"pwd > {self.state}/cwd\nexport -p > {self.state}/env\nexit $status\n"
        )
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-c", script],
            env={"PATH": "/usr/bin:/bin", "HOME": str(self.home)},
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        assert result.returncode == 0, f"$ {line}\n{result.stdout}{result.stderr}"
        return result.stdout + result.stderr


class GitHubStandIn:
    """What `gh` and github.com do for the page: the stub's records, the served repository,
    and the runs of its workflow."""

    def __init__(self, server: HttpGitServer, state: Path, base: Path) -> None:
        self.server = server
        self.state = state
        self.base = base
        self.api: FakeGitHub | None = None
        self.runs: list[JobRun] = []

    def records(self) -> dict[str, object]:
        path = self.state / "gh.json"
        return json.loads(path.read_text()) if path.exists() else {}  # type: ignore[no-any-return]

    def hosted(self) -> Hosted:
        (repository,) = self.records()["repositories"]  # type: ignore[misc]
        bare = self.server.base / repository
        if self.api is None:
            self.api = FakeGitHub(bare).start()
            self.api.add_user("reconciler-bot", BOT_TOKEN)
            self.api.add_user(APP_LOGIN, APP_TOKEN)
            self.api.add_user("alice", USER_TOKEN)
        return Hosted(
            server=self.server, api=self.api, bare=bare, base=self.base, repository=repository
        )

    def run(self, event: str, inputs: dict[str, object] | None = None) -> JobRun:
        """A run of the repository's reconcile workflow, as GitHub would start it."""
        hosted = self.hosted()
        records = self.records()
        workflow = self.base.parent / "workflow" / f"run-{len(self.runs)}.yml"
        workflow.parent.mkdir(exist_ok=True)
        shown = subprocess.run(
            ["git", "--git-dir", str(hosted.bare), "show", "main:.github/workflows/reconcile.yml"],
            capture_output=True,
            text=True,
            check=True,
        )
        workflow.write_text(shown.stdout)
        runner = hosted.runner(
            event,
            workflow=workflow,
            inputs=inputs or {},
            vars=dict(records.get("variables", {})),  # type: ignore[call-overload]
        )
        runner.secrets = runner.secrets | dict(records.get("secrets", {}))  # type: ignore[call-overload]
        runner.actions = {ACTION_REPOSITORY: REPO}
        (run,) = runner.run()
        assert run.ok, [step.output for step in run.all_steps()]
        assert not run.step(INSTALL).ran  # the tests run from this package already
        self.runs.append(run)
        listing = [{"event": event, "conclusion": "success"} for _ in self.runs]
        (self.state / "runs.json").write_text(json.dumps(listing))
        return run

    def dispatched(self) -> list[dict[str, object]]:
        return list(self.records().get("dispatches", []))  # type: ignore[call-overload]

    def stop(self) -> None:
        if self.api is not None:
            self.api.stop()


@pytest.fixture
def github(tmp_path: Path) -> Iterator[GitHubStandIn]:
    tokens = {BOT_TOKEN: "reconciler-bot", APP_TOKEN: APP_LOGIN, USER_TOKEN: "alice"}
    with http_git_server(tmp_path / "github", tokens) as server:
        stand_in = GitHubStandIn(server, tmp_path / "gh-state", tmp_path / "runs")
        stand_in.state.mkdir()
        try:
            yield stand_in
        finally:
            stand_in.stop()


def _home(tmp_path: Path, server: HttpGitServer) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    # The person's git: an identity, and github.com as the server here, with their token.
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Alice\n\temail = alice@example.com\n"
        "[init]\n\tdefaultBranch = main\n"
        f'[url "{server.server_url}/"]\n\tinsteadOf = https://github.com/\n'
        f'[http "{server.server_url}/"]\n\textraheader = {basic_header(USER_TOKEN)}\n'
    )
    return home


@pytest.mark.slow
def test_the_page_from_an_empty_repository_to_a_scheduled_run(
    tmp_path: Path, github: GitHubStandIn
) -> None:
    blocks = sh_blocks(PAGE.read_text())
    assert len(blocks) == 7, "one block per step of the page"
    home = _home(tmp_path, github.server)
    stub = tmp_path / "stub-bin"
    stub.mkdir()
    gh = stub / "gh"
    gh.write_text(f'#!/bin/sh\nexec {sys.executable} {REPO / "tests" / "gh_stub.py"} "$@"\n')
    gh.chmod(0o755)
    terminal = Terminal(
        home,
        {
            "PATH": f"{stub}:{BIN}:/usr/bin:/bin",
            "GH_STUB_STATE": str(github.state),
            "GH_STUB_GIT_BASE": str(github.server.base),
            "GIT_TERMINAL_PROMPT": "0",
            "LANG": "C.UTF-8",
        },
    )
    install, make, local, publish, first_run, connect, scheduled = blocks

    # 1. Install: the release's pip line is checked, the rest runs.
    (pip_line,) = [line for line in install if " install " in line]
    (spec,) = [word for word in shlex.split(pip_line) if "@" in word]
    requirement = Requirement(spec)
    assert requirement.name == DISTRIBUTION
    assert requirement.url == f"git+https://github.com/{ACTION_REPOSITORY}@{ACTION_VERSION}"
    for line in install:
        if line != pip_line:
            output = terminal.type(line)
    assert "reconciler, version" in output

    # 2. Make the repository.
    for line in make:
        output = terminal.type(line)
    assert "from reconciler init" in output
    fleet = terminal.cwd
    assert (fleet / "blueprints" / "web" / "blueprint.yaml").is_file()

    # 3. Try it locally: web runs hot, is scaled and verified.
    for line in local:
        output = terminal.type(line)
    assert "operation_executed" in output and "verification_passed" in output

    # 4. On GitHub.
    for line in publish:
        terminal.type(line)
    hosted = github.hosted()
    assert hosted.repository == "acme/fleet"
    pushed = subprocess.run(
        ["git", "--git-dir", str(hosted.bare), "log", "--format=%s", "main"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Blueprint repository for web, from reconciler init" in pushed

    # 5. One run by hand, on the simulated cluster: GitHub runs it between the two lines.
    dispatch, listing = first_run
    terminal.type(dispatch)
    (request,) = github.dispatched()
    assert request == {"workflow": "reconcile", "inputs": {}}
    run = github.run("workflow_dispatch", {"dry_run": False, "operation": ""})
    assert "### Reconcile cycle (shard 1/1)" in run.summary
    assert "success" in terminal.type(listing)

    # 6. The cluster: the account's kubeconfig, saved where the page says.
    with FakeKubeAPI() as api:
        api.add_deployment("shop", "web", replicas=2)
        # Warm, though no single metric is past its guard.
        api.set_pod_usage("shop", "web", cpu="75m", memory="400Mi")
        api.write_kubeconfig(home / "reconciler.kubeconfig")
        for line in connect:
            output = terminal.type(line)
        records = github.records()
        assert records["variables"] == {"RECONCILER_CLUSTER": "kubernetes"}
        assert set(records["secrets"]) == {"KUBECONFIG"}  # type: ignore[arg-type]

        # 7. The first scheduled run, on the cluster: it observes web and, without
        # Prometheus for the latency the blueprint weighs, decides nothing, as the page says
        # (no metric is past its own guard, which would ask for a scale-up on its own).
        run = github.run("schedule")
        assert "| web | 2/2 | - | none (metrics missing) |" in run.summary
        assert api.count("GET", "/apis/apps/v1/namespaces/shop/deployments") > 0
        outputs = [terminal.type(line) for line in scheduled]
    assert outputs[0].count("success") == 2 and "schedule" in outputs[0]
    # The audit trail pulled from GitHub holds the run of step 5.
    trail = outputs[-1]
    assert "operation_executed" in trail and "verification_passed" in trail
