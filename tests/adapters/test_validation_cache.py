"""LocalValidationCache under the loader: a fleet loaded with the cache is the fleet loaded
without it, whatever the cache holds, and an entry is used only for the very inputs it was
made from and by the very loader that made it."""

from __future__ import annotations

import pickle
import subprocess
from pathlib import Path

import pytest

from reconciler.adapters.local_state import find_git_dir, fingerprint
from reconciler.adapters.validation_cache import CACHE_FILE, LAYOUT, LocalValidationCache
from reconciler.shell.workspace import Fleet, load_fleet

FRONTEND = "blueprints/todo-frontend/blueprint.yaml"
POLICIES = "blueprints/governance/policies.yaml"


@pytest.fixture
def repo(blueprint_repo: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(blueprint_repo)], check=True)
    return blueprint_repo


def _same(one: Fleet, two: Fleet) -> None:
    assert one.blueprints == two.blueprints
    assert one.problems == two.problems
    assert one.broken == two.broken
    assert one.texts == two.texts


def _loads(repo: Path) -> tuple[Fleet, LocalValidationCache]:
    cache = LocalValidationCache(repo)
    return load_fleet(repo, cache=cache), cache


def test_a_cached_load_is_the_load_and_lives_in_the_git_directory(repo: Path) -> None:
    plain = load_fleet(repo)
    first, cache = _loads(repo)
    assert cache.path == repo / ".git" / CACHE_FILE and cache.path.is_file()
    again, cache = _loads(repo)
    _same(plain, first)
    _same(plain, again)
    assert not (repo / ".reconciler").exists()  # nothing in the working tree
    # The second load took its results from the file: entries of this very loader are
    # trusted, which is why the file is where no commit can put it.
    _, entries = pickle.loads(cache.path.read_bytes())
    forged = {
        key: (None, ()) if not key.startswith("policies") else entries[key] for key in entries
    }
    cache.path.write_bytes(pickle.dumps((f"{LAYOUT}:{fingerprint()}", forged)))
    trusted, _ = _loads(repo)
    assert trusted.blueprints == () and set(trusted.broken) == {"todo-backend", "todo-frontend"}


def test_a_broken_blueprint_keeps_its_problems_through_the_cache(repo: Path) -> None:
    path = repo / FRONTEND
    path.write_text(path.read_text().replace("max_replicas: 5", "max_replicas: 0"))
    plain = load_fleet(repo)
    assert "todo-frontend" in plain.broken
    _loads(repo)
    again, _ = _loads(repo)
    _same(plain, again)


def test_an_edit_of_the_blueprint_or_of_the_policies_is_loaded_anew(repo: Path) -> None:
    _loads(repo)
    path = repo / FRONTEND
    path.write_text(path.read_text().replace("max_replicas: 5", "max_replicas: 6"))
    edited, _ = _loads(repo)
    assert edited.get("todo-frontend").scaling.max_replicas == 6
    policies = repo / POLICIES
    # The policies now forbid what the backend allows: the same blueprint no longer loads.
    policies.write_text(
        policies.read_text().replace(
            "forbidden_operations:\n", "forbidden_operations:\n      - restart_failed_pods\n", 1
        )
    )
    plain = load_fleet(repo)
    assert "todo-backend" in plain.broken
    cached, _ = _loads(repo)
    _same(plain, cached)


def test_entries_of_another_loader_or_a_broken_file_are_never_used(repo: Path) -> None:
    first, cache = _loads(repo)
    assert cache.path is not None
    _, entries = pickle.loads(cache.path.read_bytes())
    # Entries claiming every blueprint is broken, written by "another version": ignored.
    forged = dict.fromkeys(entries, (None, ()))
    cache.path.write_bytes(pickle.dumps(("another loader", forged)))
    again, _ = _loads(repo)
    _same(first, again)
    for junk in (b"", b"not a pickle", pickle.dumps(["a", "list"])):
        cache.path.write_bytes(junk)
        again, _ = _loads(repo)
        _same(first, again)


def test_outside_git_nothing_is_kept(blueprint_repo: Path) -> None:
    first, cache = _loads(blueprint_repo)
    assert cache.path is None or not str(cache.path).startswith(str(blueprint_repo))
    _same(first, load_fleet(blueprint_repo))


def test_a_worktree_keeps_its_cache_in_its_own_git_directory(repo: Path, tmp_path: Path) -> None:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@localhost",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@localhost",
        "PATH": "/usr/bin:/bin",
    }
    subprocess.run(["git", "-C", str(repo), "add", "."], check=True, env=env)
    subprocess.run(["git", "-C", str(repo), "commit", "-qm", "fleet"], check=True, env=env)
    other = tmp_path / "other"
    subprocess.run(
        ["git", "-C", str(repo), "worktree", "add", "-q", str(other)], check=True, env=env
    )
    git_dir = find_git_dir(other / "blueprints")
    assert git_dir is not None and git_dir.parent == repo / ".git" / "worktrees"
    _, cache = _loads(other)
    assert cache.path == git_dir / CACHE_FILE and cache.path.is_file()
