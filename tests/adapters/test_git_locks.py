"""Git's lock files in real repositories: which ones an interrupted run left are removed, how
a write stopped by one names it, and how the index is kept listing every audit record."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pygit2
import pytest

from reconciler.adapters.git_audit import GitAuditStore
from reconciler.adapters.git_locks import INDEX_LOCK_STALE, REF_LOCK_STALE, remove_left_behind
from reconciler.adapters.local_forge import NOTES_REF, LocalForge
from reconciler.core.approvals.proposals import CommentTopic, Draft
from reconciler.core.errors import AuditError, ExitCode, ForgeError
from reconciler.core.trail.commits import commit_message
from reconciler.core.trail.records import EventType
from tests.adapters.test_git_audit import rec
from tests.conftest import require_tool

SIGNATURE = pygit2.Signature("Test Setup", "setup@example.invalid", 1770700000, 0)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository on main with one commit, as a blueprint repository is."""
    root = tmp_path / "repo"
    git = pygit2.init_repository(str(root), initial_head="main")
    (root / "README").write_text("hello\n")
    git.index.add_all()
    git.index.write()
    git.create_commit("HEAD", SIGNATURE, SIGNATURE, "init", git.index.write_tree(), [])
    return root


def lock(path: Path, age: float = 0.0) -> Path:
    """A lock file at `path`, last written `age` seconds ago."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    moment = datetime.now(UTC).timestamp() - age
    os.utime(path, (moment, moment))
    return path


def test_only_locks_left_behind_are_removed(repo: Path) -> None:
    git = repo / ".git"
    own = [
        lock(git / "refs/heads/reconciler/web/scale-beyond-limits.lock"),
        lock(git / "refs/notes/reconciler.lock"),
    ]
    young = [
        lock(git / "index.lock", age=INDEX_LOCK_STALE - 60),
        lock(git / "refs/heads/main.lock", age=5),
        lock(git / "HEAD.lock", age=5),
        lock(git / "packed-refs.lock", age=5),
        lock(git / "refs/remotes/origin/main.lock", age=5),
        # A ref the reconciler never writes is not its to judge, however old its lock.
        lock(git / "refs/heads/feature.lock", age=86400),
        lock(git / "config.lock", age=86400),
    ]
    removed = remove_left_behind(git, now=datetime.now(UTC))
    assert sorted(item.path for item in removed) == sorted(own)
    assert all(path.exists() for path in young)
    assert not any(path.exists() for path in own)

    # The shared ones once older than any git command holds them.
    for path in young[:5]:
        stale = INDEX_LOCK_STALE if path.name == "index.lock" else REF_LOCK_STALE
        lock(path, age=stale + 1)
    removed = remove_left_behind(git, now=datetime.now(UTC))
    assert sorted(item.path for item in removed) == sorted(young[:5])
    assert (git / "refs/heads/feature.lock").exists() and (git / "config.lock").exists()
    assert "left by an interrupted" in removed[0].describe()


def test_a_linked_worktree_clears_the_shared_refs_of_its_repository(
    repo: Path, tmp_path: Path
) -> None:
    require_tool("git", "apt-get install git")
    other = tmp_path / "other"
    subprocess.run(
        ["git", "-C", str(repo), "worktree", "add", "-q", "-b", "other", str(other)], check=True
    )
    worktree_git = Path(pygit2.discover_repository(str(other)))
    assert worktree_git != repo / ".git"
    left = lock(repo / ".git/refs/heads/reconciler/web/topic.lock")
    branch = lock(repo / ".git/refs/heads/other.lock", age=REF_LOCK_STALE + 1)
    index = lock(worktree_git / "index.lock", age=INDEX_LOCK_STALE + 1)
    main_index = lock(repo / ".git/index.lock", age=INDEX_LOCK_STALE + 1)
    removed = {item.path for item in remove_left_behind(worktree_git, now=datetime.now(UTC))}
    assert removed == {left, branch, index}
    assert main_index.exists()  # the other checkout's index is not this one's


def draft(branch: str = "reconciler/web/scale-beyond-limits") -> Draft:
    return Draft(
        key=branch,
        branch=branch,
        title="web: raise max_replicas",
        body="why",
        files={"blueprints/web/blueprint.yaml": "spec: {}\n"},
        labels=(),
    )


def test_a_forge_write_stopped_by_a_lock_names_it_and_its_fix(repo: Path) -> None:
    forge = LocalForge(repo)
    branch_lock = lock(repo / ".git/refs/heads/reconciler/web/scale-beyond-limits.lock")
    with pytest.raises(ForgeError) as caught:
        forge.open(draft())
    error = caught.value
    assert error.exit_code is ExitCode.UNAVAILABLE
    assert str(error).startswith("writing the proposal branch reconciler/web/scale-beyond-limits")
    assert f"rm {branch_lock}" in str(error) and "when no git command is running" in str(error)
    branch_lock.unlink()
    proposal = forge.open(draft())
    notes_lock = lock(repo / ".git" / f"{NOTES_REF}.lock")
    with pytest.raises(ForgeError, match=f"rm {notes_lock}"):
        forge.comment(proposal, "superseded", CommentTopic.CLOSING)
    notes_lock.unlink()
    forge.comment(proposal, "superseded", CommentTopic.CLOSING)


def test_an_audit_commit_stopped_by_the_branch_lock_names_it(repo: Path) -> None:
    store = GitAuditStore(repo)
    branch_lock = lock(repo / ".git/refs/heads/main.lock")
    record = rec(EventType.DECISION_MADE)
    with pytest.raises(AuditError) as caught:
        store.append([record], commit_message("web: subject", [record]))
    assert str(caught.value).startswith("committing audit records: git's lock file ")
    assert f"rm {branch_lock}" in str(caught.value)
    assert caught.value.exit_code is ExitCode.AUDIT


def index_matches_head(repo: Path, prefix: str = "audit/") -> bool:
    """What `git diff --cached HEAD -- audit/` shows is nothing: the index lists every record."""
    git = pygit2.Repository(str(repo))
    git.index.read()
    tree = git.head.peel(pygit2.Commit).tree
    return not [
        delta
        for delta in git.index.diff_to_tree(tree).deltas
        if delta.old_file.path.startswith(prefix) or delta.new_file.path.startswith(prefix)
    ]


def test_a_locked_index_is_repaired_later_and_a_persons_commit_keeps_the_records(
    repo: Path,
) -> None:
    require_tool("git", "apt-get install git")
    store = GitAuditStore(repo)
    index_lock = lock(repo / ".git/index.lock")
    records = [rec(EventType.DECISION_MADE), rec(EventType.OPERATION_EXECUTED, 1)]
    store.append(records, commit_message("web: subject", records))
    store.flush()  # does not raise: the records are committed
    assert store.index_error is not None and f"rm {index_lock}" in str(store.index_error)
    assert not index_matches_head(repo)
    with pytest.raises(AuditError, match="does not list 2 committed file"):
        GitAuditStore(repo).repair_index()

    index_lock.unlink()
    (repo / "README").write_text("edited by a person\n")
    assert GitAuditStore(repo).repair_index() == 2
    assert index_matches_head(repo)
    assert GitAuditStore(repo).repair_index() == 0  # nothing left to do
    person = ["-c", "user.name=alice", "-c", "user.email=alice@example.invalid"]
    subprocess.run(["git", "-C", str(repo), *person, "commit", "-qam", "docs"], check=True)
    head = pygit2.Repository(str(repo)).head.peel(pygit2.Commit)
    assert head.message.strip() == "docs"
    paths = [f"audit/web/2026-02-10/{p.name}" for p in (repo / "audit/web/2026-02-10").iterdir()]
    assert len(paths) == 2 and all(path in head.tree for path in paths)


def test_the_repair_restores_a_missing_checkout_file_and_leaves_other_staging_alone(
    repo: Path,
) -> None:
    store = GitAuditStore(repo)
    record = rec(EventType.DECISION_MADE)
    store.append([record], commit_message("web: subject", [record]))
    store.flush()
    (path,) = (repo / "audit").rglob("*.json")
    git = pygit2.Repository(str(repo))
    # A run killed after committing and before updating the checkout and the index.
    path.unlink()
    git.index.remove(str(path.relative_to(repo)))
    (repo / "notes.txt").write_text("staged by a person\n")
    git.index.add("notes.txt")
    git.index.write()
    assert GitAuditStore(repo).repair_index() == 1
    assert path.exists() and index_matches_head(repo)
    git.index.read()
    assert "notes.txt" in git.index  # a person's staging is theirs
    assert (
        git.head.peel(pygit2.Commit).tree[str(path.relative_to(repo))].id
        == git.index[str(path.relative_to(repo))].id
    )


def test_a_lock_dated_in_the_future_is_not_taken_as_stale(repo: Path) -> None:
    """A shared lock is judged by its age; one dated ahead of the clock (a clock set
    differently elsewhere) is young, not left behind."""
    future = lock(repo / ".git/index.lock", age=-3600)
    assert remove_left_behind(repo / ".git", now=datetime.now(UTC)) == []
    assert future.exists()
