"""The cluster's token never reaches what a run prints or keeps.

Why it exists: a run's output lives on in the job log, the job summary, GitHub's annotations,
the JSON a script keeps and the audit trail, all readable by more people than the token
should be. The client's own errors quote the Authorization header, so this drives the CLI,
`--cluster kubernetes`, with kubeconfigs whose token file is not what the client expects, and
looks for the token everywhere the run wrote.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from tests.clusters import token_file_kubeconfig
from tests.fakes.kube_api import FakeKubeAPI
from tests.scenarios.conftest import Scenario, web_fleet

FIRST, SECOND = "first-half-of-the-token", "second-half-of-the-token"


def invoke(scenario: Scenario, config: Path, *args: str) -> Result:
    from reconciler.cli import main

    cluster = ["--cluster", "kubernetes", "--kubeconfig", str(config)]
    return CliRunner().invoke(
        main,
        ["--repo", str(scenario.root), *cluster, *args],
        env={"GITHUB_ACTIONS": "true"},
        catch_exceptions=False,
    )


def everything_written(scenario: Scenario, config: Path, tmp_path: Path) -> str:
    """What `run` (text with annotations and a summary, then JSON), `status` and `doctor`
    print, the job summary, and every file of the repository, the audit trail included."""
    summary = tmp_path / "summary.md"
    texts = [
        invoke(scenario, config, "run", "--annotations", "--summary", str(summary)).output,
        invoke(scenario, config, "run", "-o", "json").output,
        invoke(scenario, config, "status").output,
        invoke(scenario, config, "doctor").output,
        summary.read_text(),
    ]
    texts += [
        path.read_text(errors="replace")
        for path in scenario.root.rglob("*")
        if path.is_file() and ".git" not in path.parts
    ]
    return "\n".join(texts)


def test_a_token_file_ending_in_a_newline_works_and_stays_unseen(tmp_path: Path) -> None:
    token = "s3cret-token-value"
    with FakeKubeAPI(required_token=token) as api:
        api.add_deployment("shop", "web")
        api.set_pod_usage("shop", "web", cpu="50m", memory="256Mi")
        scenario = web_fleet(tmp_path)
        config = token_file_kubeconfig(api, tmp_path, f"{token}\n")
        report = json.loads(invoke(scenario, config, "run", "-o", "json").output)
        (service,) = report["services"]
        assert service["error"] is None, service
        assert token not in everything_written(scenario, config, tmp_path)


def test_a_token_the_client_refuses_to_send_is_never_shown(tmp_path: Path) -> None:
    """A token file of two lines: the client's error quotes the header it refused."""
    with FakeKubeAPI(required_token=FIRST) as api:
        api.add_deployment("shop", "web")
        scenario = web_fleet(tmp_path)
        config = token_file_kubeconfig(api, tmp_path, f"{FIRST}\n{SECOND}\n")
        report = json.loads(invoke(scenario, config, "run", "-o", "json").output)
        (service,) = report["services"]
        assert "Bearer ***" in json.dumps(service["error"]), service
        written = everything_written(scenario, config, tmp_path)
    assert "::error" in written  # the annotations were printed, and are clean too
    for secret in (FIRST, SECOND):
        assert secret not in written
