"""`reconciler demo` (the README's run command) shows the seed scenario, and touches nothing
of the user's."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pygit2
from click.testing import CliRunner, Result

from tests.scenarios.conftest import init_repo


def _demo(source: Path, scratch: Path) -> Result:
    from reconciler.cli import main

    return CliRunner().invoke(
        main, ["--repo", str(source), "demo", "--dir", str(scratch)], catch_exceptions=False
    )


def _records(scratch: Path) -> list[dict[str, object]]:
    return [json.loads(path.read_text()) for path in sorted(scratch.glob("audit/*/*/*.json"))]


def test_the_demo_tells_the_seed_story_in_a_scratch_clone(tmp_path: Path) -> None:
    source = tmp_path / "mine"
    source.mkdir()
    repo = init_repo(source)
    before = (repo.head.target, repo.status())
    scratch = tmp_path / "scratch"
    result = _demo(source, scratch)
    assert result.exit_code == 0, result.output
    story = result.output
    for landmark in (
        "todo-frontend: scale 2→3 (allowed): weighted 81.5% > 80%",
        "todo-frontend: verified scale 2→3: 7/7 checks passed",
        "todo-frontend: verification failed for scale 3→2: latency_p95, error_rate worse; rolling back",
        "todo-frontend: rollback verified (scale 2→3): service restored",
        "+    max_replicas: 6",
        "approved: reconciler/todo-frontend/scale-beyond-limits by alice <alice@example.com>",
        "todo-frontend: verified scale 5→6",
        "todo-frontend: blocked delete_deployment (forbidden)",
        "todo-backend   2/2    51.3%     none (within thresholds)",
        f"$ git -C {scratch.resolve()} log --oneline -- audit/",
        # Argo CD's service: a commit to its manifest, rolled out, then verified.
        "to deploy/todo-backend/deployment.yaml in this repository on main; the GitOps tool",
        "todo-backend: scale to 3 replicas in deploy/todo-backend/deployment.yaml",
        "-  replicas: 2\n+  replicas: 3\n",
        "rolled out",
        "todo-backend: verified scale 2→3",
    ):
        assert landmark in story, landmark
    # The user's repository is exactly as it was; everything happened in the scratch clone.
    after = pygit2.Repository(str(source))
    assert (after.head.target, after.status()) == before
    assert not (source / ".reconciler").exists()
    assert (scratch / "audit" / "todo-frontend").is_dir()

    # The steps are numbered 1, 2, 3... once each.
    assert re.findall(r"^(\d+)\. ", story, re.MULTILINE) == [str(n) for n in range(1, 9)]

    # The chain explained at the end is the rolled-back scale-down's: the decision behind the
    # operation that the rollback undid, not the latest decision (the approved 5→6).
    records = {str(r["id"]): r for r in _records(scratch)}
    rollback = next(r for r in records.values() if r["event_type"] == "rollback_executed")
    undone = records[rollback["links"]["rollback_of"]]  # type: ignore[index]
    scale_down = records[undone["links"]["decision"]]  # type: ignore[index]
    assert scale_down["details"]["action"] == "scale_down"  # type: ignore[index]
    explained = story.split(f"$ reconciler explain {scale_down['id']}\n", 1)[1]
    assert explained.startswith(f"todo-frontend: 7 records linked to {scale_down['id']}\n")
    for event in ("decision_made", "verification_failed", "rollback_executed", "rollback_verified"):
        assert event in explained.split("Where to look next")[0], event
    assert "Scaling 3 → 2 replicas" in explained
    assert "to 6 replicas" not in explained


def test_a_step_that_fails_stops_the_demo(tmp_path: Path) -> None:
    """A step that does not end as the story says stops the demo with a non-zero exit."""
    source = tmp_path / "mine"
    source.mkdir()
    init_repo(source)
    broken = source / "blueprints" / "broken-svc" / "blueprint.yaml"
    broken.parent.mkdir()
    broken.write_text("metadata:\n  name: broken-svc\n  version: 1\n")
    repo = pygit2.Repository(str(source))
    repo.index.add_all()
    repo.index.write()
    signature = pygit2.Signature("Test Setup", "setup@example.invalid", 1770700000, 0)
    repo.create_commit(
        "HEAD",
        signature,
        signature,
        "a broken blueprint",
        repo.index.write_tree(),
        [repo.head.target],
    )
    result = _demo(source, tmp_path / "scratch")
    assert result.exit_code == 1, result.output
    assert "$ reconciler validate" in result.output
    assert (
        "error: the demo stopped: `reconciler validate` exited 1 where the story expects 0"
        in result.stderr
    )
    assert "2. The cluster" not in result.output  # nothing after the failing step ran
