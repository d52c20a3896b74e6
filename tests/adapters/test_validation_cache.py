"""LocalValidationCache under the loader: a fleet loaded with the cache is the fleet loaded
without it, whatever the cache holds, and an entry is used only for the very inputs it was
made from and by the very loader that made it."""

from __future__ import annotations

import dataclasses
import pickle
import subprocess
from pathlib import Path

import pytest

from reconciler.adapters.local_state import find_git_dir, fingerprint
from reconciler.adapters.validation_cache import CACHE_FILE, LAYOUT, LocalValidationCache, shared
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


def test_the_file_holds_each_part_the_blueprints_share_once(repo: Path) -> None:
    """Both blueprints are checked against the same policies: their equal rules are one
    object once read back from the file, and the fleet is the one loaded without a cache."""
    plain = load_fleet(repo)
    _loads(repo)
    again, cache = _loads(repo)
    _same(plain, again)
    assert cache.path is not None
    _, entries = pickle.loads(cache.path.read_bytes())
    loaded = [value[0] for key, value in entries.items() if not key.startswith("policies")]
    one, two = (blueprint.policy for blueprint in loaded)
    common = [rule for rule in one.rules if rule in two.rules]
    assert len(common) >= 5
    assert all(any(rule is theirs for theirs in two.rules) for rule in common)
    assert all(one.catalogue[name] is two.catalogue[name] for name in one.catalogue)
    # What differs stays apart.
    assert loaded[0].metadata is not loaded[1].metadata


@dataclasses.dataclass(frozen=True)
class _Part:
    value: object


@dataclasses.dataclass
class _Open:
    value: object


def test_only_what_cannot_change_is_shared_and_equal_is_not_enough() -> None:
    entries = {
        "a": (_Part(("x", 1)), _Part({"k": 1}), _Part(1), _Part(0.0), _Open(1), [1]),
        "b": (_Part(("x", 1)), _Part({"k": 1}), _Part(True), _Part(-0.0), _Open(1), [1]),
        "c": (_Part(1.0), _Part(1), _Part(-0.0)),
    }
    found = shared(entries)
    assert found == entries
    a, b, c = found["a"], found["b"], found["c"]
    assert a[0] is b[0] and a[0].value is b[0].value  # frozen, all the way down
    assert a[1] is not b[1] and a[1].value is not b[1].value  # it holds a dict
    assert a[2] is c[1] and a[2] is not b[2] and a[2] is not c[0]  # 1, True and 1.0 differ
    assert b[3] is c[2] and a[3] is not b[3]  # so do 0.0 and -0.0
    assert a[4] is not b[4] and a[5] is not b[5]  # neither a mutable dataclass nor a list
    assert type(b[2].value) is bool and type(c[0].value) is float
    # An object held twice stays one object, shared or not.
    held = _Open([1])
    twice = shared({"x": (held, held)})["x"]
    assert twice[0] is twice[1] is held


def test_a_file_of_the_layout_before_sharing_is_read_as_absent_and_written_anew(
    repo: Path,
) -> None:
    """Layout 1 kept every blueprint's parts apart; its entries, even forged ones, are not
    used, and the next load writes the shared layout in its place."""
    first, cache = _loads(repo)
    assert cache.path is not None and LAYOUT == 2
    _, entries = pickle.loads(cache.path.read_bytes())
    forged = dict.fromkeys(entries, (None, ()))
    cache.path.write_bytes(pickle.dumps((f"1:{fingerprint()}", forged)))
    again, _ = _loads(repo)
    _same(first, again)
    version, rewritten = pickle.loads(cache.path.read_bytes())
    assert version == f"2:{fingerprint()}" and rewritten.keys() == entries.keys()
    assert all(value != (None, ()) for value in rewritten.values())
