"""`reconciler demo` (the README's run command) shows the seed scenario, and touches nothing
of the user's."""

from __future__ import annotations

from pathlib import Path

import pygit2
from click.testing import CliRunner

from tests.scenarios.conftest import init_repo


def test_the_demo_tells_the_seed_story_in_a_scratch_clone(tmp_path: Path) -> None:
    from reconciler.cli import main

    source = tmp_path / "mine"
    source.mkdir()
    repo = init_repo(source)
    before = (repo.head.target, repo.status())
    scratch = tmp_path / "scratch"
    result = CliRunner().invoke(
        main, ["--repo", str(source), "demo", "--dir", str(scratch)], catch_exceptions=False
    )
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
    ):
        assert landmark in story, landmark
    # The user's repository is exactly as it was; everything happened in the scratch clone.
    after = pygit2.Repository(str(source))
    assert (after.head.target, after.status()) == before
    assert not (source / ".reconciler").exists()
    assert (scratch / "audit" / "todo-frontend").is_dir()
