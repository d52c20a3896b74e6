"""`reconciler init`: a new blueprint repository that works at once, and never overwrites.

The seed flow runs in the new repository exactly as in this one (validate, sim init --scenario
seed, run --wait, audit), to the seed's numbers; the generated workflows pass the same offline
checks as this repository's own (tests/test_workflows.py), and the emulated runner runs them
in tests/scenarios/test_init_actions.py.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pygit2
import pytest
import yaml
from click.testing import Result

from reconciler import ACTION_REPOSITORY, ACTION_VERSION
from tests.conftest import REPO, require_tool
from tests.scenarios.conftest import Scenario
from tests.test_workflows import _check_jsonschema

Cli = Callable[..., Result]

FILES = [
    "blueprints/governance/policies.yaml",
    "blueprints/governance/policies.schema.json",
    "blueprints/schema.json",
    "blueprints/todo-frontend/blueprint.yaml",
    ".gitignore",
    ".github/workflows/reconcile.yml",
    ".github/workflows/pr-checks.yml",
    ".github/CODEOWNERS",
]
SEED = ["--service", "todo-frontend", "--namespace", "todo-app", "--approver", "alice"]


def _init(cli: Cli, root: Path, *args: str, expect: int = 0) -> Result:
    result = cli("init", str(root), *args)
    assert result.exit_code == expect, result.output
    return result


def test_the_seed_flow_runs_in_a_new_repository(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "fleet"
    written = json.loads(_init(cli, root, *SEED, "-o", "json").output)
    assert written["files"] == FILES
    assert written["repository_created"] is True
    assert written["action"] == f"{ACTION_REPOSITORY}@{ACTION_VERSION}"
    repo = pygit2.Repository(str(root))
    assert repo.head.shorthand == "main"
    assert sorted(repo.status()) == []  # everything it wrote is committed
    fleet = Scenario(root)
    assert "1 valid, 0 invalid; 0 errors, 0 warnings" in fleet.cli("validate").output
    fleet.cli("sim", "init", "--scenario", "seed")
    report = fleet.json("run", "--wait")
    (first, *_rest) = report  # type: ignore[misc]
    (service,) = first["services"]
    assert service["decision"]["action"] == "scale_up"
    assert (service["decision"]["current_replicas"], service["decision"]["target_replicas"]) == (
        2,
        3,
    )
    assert service["weighted_utilization"] == pytest.approx(0.815)
    events = [record["event_type"] for record in fleet.records("todo-frontend")]
    assert events == [
        "decision_made",
        "governance_checked",
        "operation_executed",
        "verification_passed",
    ]
    assert "is up to date" in fleet.cli("codeowners", "--check").output


def test_it_refuses_to_overwrite_and_writes_nothing(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "fleet"
    (root / ".github").mkdir(parents=True)
    (root / ".github" / "CODEOWNERS").write_text("* @someone\n")
    result = _init(cli, root, *SEED, expect=3)
    assert f"{root / '.github/CODEOWNERS'} exists already; nothing was written" in result.output
    assert [p.relative_to(root).as_posix() for p in root.rglob("*")] == [
        ".github",
        ".github/CODEOWNERS",
    ]
    assert (root / ".github" / "CODEOWNERS").read_text() == "* @someone\n"
    assert not (root / ".git").exists()


def test_in_an_existing_repository_it_commits_only_its_own_files(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "existing"
    root.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "trunk", str(root)], check=True)
    (root / "README.md").write_text("ours\n")
    subprocess.run(["git", "-C", str(root), "add", "README.md"], check=True)
    written = json.loads(_init(cli, root, *SEED, "-o", "json").output)
    assert written["repository_created"] is False
    repo = pygit2.Repository(str(root))
    assert repo.head.shorthand == "trunk"
    committed = {entry.name for entry in repo.head.peel(pygit2.Commit).tree}
    assert committed == {"blueprints", ".github", ".gitignore"}
    assert repo.status() == {"README.md": pygit2.enums.FileStatus.INDEX_NEW}


def test_without_commit_nothing_is_committed(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "fleet"
    output = _init(cli, root, *SEED, "--no-commit").output
    assert "not committed" in output and not (root / ".git").exists()
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) == sorted(
        FILES
    )


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--service", "Web", "--approver", "alice"], "--service"),
        (["--service", "web", "--namespace", "a_b", "--approver", "alice"], "--namespace"),
        (["--service", "web", "--approver", "two words"], "--approver"),
        (["--service", "web", "--approver", "ops@example.com"], "--approver"),
        (["--service", "web", "--approver", "alice", "--action", "no-ref"], "--action"),
        (["--service", "web"], "--approver"),
    ],
)
def test_bad_options_are_usage_errors(
    cli: Cli, tmp_path: Path, args: list[str], option: str
) -> None:
    result = _init(cli, tmp_path / "fleet", *args, expect=2)
    assert option in result.output
    assert not (tmp_path / "fleet").exists()


def test_names_and_approvers_reach_the_files(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "fleet"
    _init(
        cli,
        root,
        "--service",
        "checkout",
        "--namespace",
        "shop",
        "--deployment",
        "checkout-api",
        "--approver",
        "@alice",
        "--approver",
        "acme/sre-team",
        "--action",
        "acme/reconciler@0123456789abcdef0123456789abcdef01234567",
    )
    blueprint = yaml.safe_load((root / "blueprints/checkout/blueprint.yaml").read_text())
    assert blueprint["metadata"] | {} == {
        "name": "checkout",
        "version": "1.0.0",
        "namespace": "shop",
        "deployment": "checkout-api",
    }
    approvers = ["alice", "acme/sre-team"]
    assert blueprint["governance"]["approval_workflow"]["approvers"] == approvers
    policies = yaml.safe_load((root / "blueprints/governance/policies.yaml").read_text())
    assert policies["governance"]["approval_workflow"]["approvers"] == approvers
    assert policies["defaults"]["namespace"] == "shop"
    owners = (root / ".github/CODEOWNERS").read_text()
    assert re.search(r"^/blueprints/checkout/ +@alice @acme/sre-team$", owners, re.MULTILINE)
    for name in ("reconcile.yml", "pr-checks.yml"):
        text = (root / ".github/workflows" / name).read_text()
        assert "uses: acme/reconciler@0123456789abcdef0123456789abcdef01234567\n" in text
        assert "uses: ./\n" not in text


def test_the_schemas_are_real_files_the_yaml_names(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "fleet"
    _init(cli, root, *SEED)
    for name in ("schema.json", "governance/policies.schema.json"):
        path = root / "blueprints" / name
        assert not path.is_symlink()
        json.loads(path.read_text())
    packaged = REPO / "reconciler" / "data"
    assert (root / "blueprints/schema.json").read_bytes() == (
        packaged / "blueprint.schema.json"
    ).read_bytes()
    for document in root.glob("blueprints/**/*.yaml"):
        match = re.match(r"# yaml-language-server: \$schema=(\S+)\n", document.read_text())
        assert match, document
        assert (document.parent / match.group(1)).is_file(), document


def test_the_reconcile_workflow_is_this_repositorys_own(cli: Cli, tmp_path: Path) -> None:
    """So every test of .github/workflows/reconcile.yml covers what init writes."""
    root = tmp_path / "fleet"
    _init(cli, root, *SEED)
    ours = (REPO / ".github/workflows/reconcile.yml").read_text()
    assert ours.count("        uses: ./\n") == 1
    expected = ours.replace(
        "        uses: ./\n", f"        uses: {ACTION_REPOSITORY}@{ACTION_VERSION}\n"
    )
    assert (root / ".github/workflows/reconcile.yml").read_text() == expected


def test_the_generated_workflows_pass_the_offline_checks(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "fleet"
    _init(cli, root, *SEED)
    workflows = sorted((root / ".github/workflows").glob("*.yml"))
    result = _check_jsonschema(*workflows)
    assert result.returncode == 0, result.stdout + result.stderr
    shellcheck = require_tool("shellcheck", "apt-get install shellcheck")
    for path in workflows:
        document = yaml.safe_load(path.read_text())
        assert document["permissions"] == {}
        for job in document["jobs"].values():
            assert "permissions" in job
            for number, step in enumerate(job["steps"]):
                if "run" in step:
                    script = tmp_path / f"{path.stem}-{number}.sh"
                    script.write_text("#!/bin/bash\nset -e\n" + step["run"])
                    checked = subprocess.run(
                        [shellcheck, "--severity=style", str(script)],
                        capture_output=True,
                        text=True,
                        check=False,
                    )
                    assert checked.returncode == 0, checked.stdout
    checks = yaml.safe_load((root / ".github/workflows/pr-checks.yml").read_text())
    assert checks["jobs"]["blueprints"]["permissions"] == {
        "contents": "read",
        "pull-requests": "write",
        "statuses": "write",
    }
