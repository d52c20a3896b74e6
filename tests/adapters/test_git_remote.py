"""GitRemote against a real git server on loopback: pushing audit commits, racing other jobs.

The race test is the proof that two scheduled jobs (or two shards) pushing at the same moment
lose no audit record: the loser is rejected as non-fast-forward, replays its commits over the
winner's, and pushes again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pygit2
import pytest

from reconciler.adapters.git_audit import GitAuditStore
from reconciler.adapters.git_remote import GitRemote, PushResult
from reconciler.core.errors import AuditError
from reconciler.core.trail.commits import commit_message
from reconciler.core.trail.records import EventType, Outcome, Record, record_path
from tests.core.helpers import NOW
from tests.gitserver import GitServer, git, git_server


def record(service: str, rid: str, offset: float = 0) -> Record:
    return Record(
        id=rid,
        timestamp=NOW + timedelta(seconds=offset),
        event_type=EventType.OPERATION_EXECUTED,
        service=service,
        blueprint_version="1.0.0",
        outcome=Outcome.SUCCESS,
        rationale=f"scaled ({rid})",
    )


def commit(clone: Path, service: str, rid: str, offset: float = 0) -> Record:
    store = GitAuditStore(clone)
    item = record(service, rid, offset)
    store.append([item], commit_message(f"{service}: {rid}", [item]))
    store.flush()
    return item


def remote_files(bare: Path, prefix: str = "audit/") -> set[str]:
    """The files under `prefix` on the served repository's main branch."""
    listing = git("ls-tree", "-r", "--name-only", "main", cwd=bare)
    return {line for line in listing.splitlines() if line.startswith(prefix)}


def race(clones: list[Path]) -> list[PushResult | BaseException]:
    """Push from every clone at the same moment, each in its own thread."""
    barrier = threading.Barrier(len(clones))
    results: list[PushResult | BaseException] = [RuntimeError("did not finish")] * len(clones)

    def push(index: int) -> None:
        barrier.wait()
        try:
            results[index] = GitRemote(clones[index], pause=0.01, sleep=lambda _s: None).push()
        except BaseException as error:  # reported by the caller's assertions
            results[index] = error

    threads = [threading.Thread(target=push, args=(i,)) for i in range(len(clones))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.fixture
def server(tmp_path: Path) -> Iterator[GitServer]:
    with git_server(tmp_path / "served") as served:
        yield served


@pytest.fixture
def origin(tmp_path: Path, server: GitServer) -> str:
    """A served repository with one commit on main."""
    seed = tmp_path / "seed"
    git("init", "-q", "-b", "main", str(seed))
    (seed / "README.md").write_text("blueprints\n")
    git("add", "README.md", cwd=seed)
    git("commit", "-q", "-m", "start", cwd=seed)
    server.create("fleet.git", seed)
    return server.url("fleet.git")


def clone(url: str, where: Path, *, depth: int | None = None) -> Path:
    git("clone", "-q", *(["--depth", str(depth)] if depth else []), url, str(where))
    return where


def test_push_sends_the_audit_commits(tmp_path: Path, origin: str, server: GitServer) -> None:
    work = clone(origin, tmp_path / "job")
    item = commit(work, "web", "op-1")
    result = GitRemote(work).push()
    assert result == PushResult(
        pushed=True, attempts=1, commits=1, message="pushed 1 audit commit to origin/main"
    )
    assert record_path(item) in remote_files(server.base / "fleet.git")
    again = GitRemote(work).push()
    assert again.pushed is False and again.message == "nothing to push"


def test_push_creates_a_missing_branch(tmp_path: Path, origin: str, server: GitServer) -> None:
    work = clone(origin, tmp_path / "job")
    commit(work, "web", "op-1")
    result = GitRemote(work, branch="audit-trail").push()
    assert result.pushed and result.message == "pushed a new branch to origin/audit-trail"
    assert (
        git("rev-parse", "audit-trail", cwd=server.base / "fleet.git").strip()
        == git("rev-parse", "HEAD", cwd=work).strip()
    )


def test_racing_pairs_lose_no_record(tmp_path: Path, origin: str, server: GitServer) -> None:
    """50 pairs of jobs commit and push at the same moment. In every pair one push wins and
    the other is rejected, replays and lands; afterwards the remote holds all 100 records."""
    first, second = clone(origin, tmp_path / "a"), clone(origin, tmp_path / "b")
    pairs = 50
    expected: set[str] = set()
    attempts: list[int] = []
    for round_ in range(pairs):
        # Half the pairs touch the same service, half different ones (as shards do).
        mine = commit(first, "web", f"a-{round_}", round_)
        theirs = commit(second, "web" if round_ % 2 else "api", f"b-{round_}", round_)
        expected |= {record_path(mine), record_path(theirs)}
        outcomes = race([first, second])
        assert all(isinstance(o, PushResult) and o.pushed for o in outcomes), outcomes
        counts = sorted(o.attempts for o in outcomes if isinstance(o, PushResult))
        # Both commits sit on the same old tip, so at least one push is rejected and replays:
        # usually once; twice when it lost the race for the ref's lock and fetched before the
        # winner's update was visible. On a loaded machine the winner, too, can be told of a
        # lock it met and replay once (its replay then finds nothing left to push).
        assert counts[0] <= 2 and 2 <= counts[1] <= 3, counts
        attempts += counts
    landed = remote_files(server.base / "fleet.git")
    assert landed == expected
    assert len(landed) == 2 * pairs
    history = git("log", "--format=%s", "main", cwd=server.base / "fleet.git").splitlines()
    assert len(history) == 2 * pairs + 1  # every audit commit, plus the first one
    assert 3 * pairs <= sum(attempts) <= 4 * pairs


def test_replayed_commits_keep_their_author_date_and_need_no_identity(
    tmp_path: Path, origin: str, server: GitServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No git identity anywhere, as on a fresh CI machine.
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "EMAIL"):
        monkeypatch.delenv(name, raising=False)
    # Shallow clones, as the scheduled job's checkout makes them (fetch-depth: 1).
    first = clone(origin, tmp_path / "a", depth=1)
    second = clone(origin, tmp_path / "b", depth=1)
    commit(first, "web", "a-1")
    commit(second, "api", "b-1", offset=30)
    GitRemote(first).push()
    result = GitRemote(second, sleep=lambda _s: None).push()
    assert result.attempts == 2
    line = git("log", "-1", "--format=%an|%cn|%at|%ct", "main", cwd=server.base / "fleet.git")
    author, committer, authored, committed = line.strip().split("|")
    assert author == committer == "reconciler"
    assert authored == committed == str(int((NOW + timedelta(seconds=30)).timestamp()))


def test_a_refused_push_fails_loudly_and_keeps_the_records(
    tmp_path: Path, origin: str, server: GitServer
) -> None:
    hook = server.base / "fleet.git" / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'protected branch: pushes need a review' >&2\nexit 1\n")
    hook.chmod(0o755)
    work = clone(origin, tmp_path / "job")
    item = commit(work, "web", "op-1")
    with pytest.raises(AuditError) as caught:
        GitRemote(work, sleep=lambda _s: None).push()
    assert "pushing the audit records to origin/main failed" in str(caught.value)
    assert "annotations" in (caught.value.hint or "")
    # Nothing was lost: the record is still committed locally, and the remote never got it.
    assert (work / record_path(item)).exists()
    assert GitRemote(work).unpushed("main") == 1
    assert record_path(item) not in remote_files(server.base / "fleet.git")


def test_errors_never_show_the_token_in_the_remote_url(tmp_path: Path, origin: str) -> None:
    work = clone(origin, tmp_path / "job")
    commit(work, "web", "op-1")
    secret = "ghs_s3cretTokenValue"
    git(
        "remote", "set-url", "origin", f"http://x-access-token:{secret}@127.0.0.1:9/r.git", cwd=work
    )
    with pytest.raises(AuditError) as caught:
        GitRemote(work).push()
    assert secret not in str(caught.value) and secret not in (caught.value.hint or "")
    assert "fetching origin/main failed" in str(caught.value)


SECRET = "ghs_s3cretTokenValue"


def test_a_remote_url_with_a_token_is_shown_without_it_when_the_push_fails(
    tmp_path: Path, origin: str
) -> None:
    work = clone(origin, tmp_path / "job")
    commit(work, "web", "op-1")
    url = f"http://x-access-token:{SECRET}@127.0.0.1:9/o/r.git"
    with pytest.raises(AuditError) as caught:
        GitRemote(work, remote=url).push()
    assert SECRET not in str(caught.value) and SECRET not in (caught.value.hint or "")
    assert "fetching http://***@127.0.0.1:9/o/r.git/main failed" in str(caught.value)


def test_a_remote_url_with_a_token_is_shown_without_it_when_the_push_lands(
    tmp_path: Path, origin: str, server: GitServer
) -> None:
    """The URL carries a token, as `--push-remote https://x-access-token:...@github.com/...`
    does; git's `insteadOf` sends it to the loopback server, which has no use for it."""
    work = clone(origin, tmp_path / "job")
    item = commit(work, "web", "op-1")
    base = f"https://x-access-token:{SECRET}@git.example.invalid/"
    git("config", f"url.{origin.removesuffix('fleet.git')}.insteadOf", base, cwd=work)
    result = GitRemote(work, remote=f"{base}fleet.git").push()
    assert result.pushed and SECRET not in result.message
    assert result.message.endswith(" to https://***@git.example.invalid/fleet.git/main")
    assert record_path(item) in remote_files(server.base / "fleet.git")


def test_a_detached_head_has_no_branch_to_push(tmp_path: Path, origin: str) -> None:
    work = clone(origin, tmp_path / "job")
    git("checkout", "-q", "--detach", cwd=work)
    with pytest.raises(AuditError, match="detached"):
        GitRemote(work).push()


def test_local_edits_outside_audit_survive_the_replay(
    tmp_path: Path, origin: str, server: GitServer
) -> None:
    first, second = clone(origin, tmp_path / "a"), clone(origin, tmp_path / "b")
    commit(first, "web", "a-1")
    commit(second, "api", "b-1")
    (second / "README.md").write_text("edited by hand, not committed\n")
    GitRemote(first).push()
    GitRemote(second, sleep=lambda _s: None).push()
    assert (second / "README.md").read_text() == "edited by hand, not committed\n"
    assert pygit2.Repository(str(second)).status().get("README.md") is not None


def test_a_replay_stopped_by_a_git_lock_names_it_and_keeps_the_records(
    tmp_path: Path, origin: str, server: GitServer
) -> None:
    """A lock file an interrupted git command left (here the index's) stops the replay; the
    error says which file and how to remove it, not a guess about conflicting edits."""
    first, second = clone(origin, tmp_path / "a"), clone(origin, tmp_path / "b")
    commit(first, "web", "a-1")
    commit(second, "api", "b-1")
    GitRemote(first).push()
    index_lock = second / ".git" / "index.lock"
    index_lock.write_text("")
    with pytest.raises(AuditError) as caught:
        GitRemote(second, sleep=lambda _s: None).push()
    assert "replaying the audit commits over origin/main failed" in str(caught.value)
    assert caught.value.hint.startswith(f"git's lock file {index_lock} exists")
    assert caught.value.hint.endswith(f"when no git command is running: rm {index_lock}")
    index_lock.unlink()
    assert GitRemote(second, sleep=lambda _s: None).push().pushed
    assert {"audit/api", "audit/web"} <= {
        "/".join(path.split("/")[:2]) for path in remote_files(server.base / "fleet.git")
    }
