"""GitManifests: changes made through git, on a local branch and on a served repository.

Against `git daemon` on loopback, racing writers push to the branch Argo CD would apply: two
reconcilers (two services, two files) both land, the loser having fetched and made its edit
again on the new tip; and a person racing the reconciler over the same value is never
overwritten: either the person's push lands and the reconciler refuses (ManifestConflict), or
the reconciler's lands and the person's push is rejected as git always rejects a stale push.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.adapters.git_manifests import GitManifests
from reconciler.core.blueprint.model import ManifestFormat, Manifests
from reconciler.core.errors import ClusterError
from reconciler.core.gitops.writeback import ManifestConflict, ManifestEdit, Written
from reconciler.core.observed.observation import ChangeStamp
from tests.gitserver import GitServer, basic_header, git, git_server, http_git_server

NOW = datetime(2026, 2, 10, 15, 30, tzinfo=UTC)

MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: {replicas}   # kept by the reconciler
"""


def location(name: str = "web") -> Manifests:
    return Manifests(format=ManifestFormat.PLAIN, path=f"deploy/{name}.yaml", name=name)


def scale(name: str, before: int, after: int, operation: str = "op-1") -> ManifestEdit:
    return ManifestEdit(
        manifests=location(name),
        service=name,
        operation_id=operation,
        replicas=after,
        expect_replicas=before,
        subject=f"{name}: scale to {after} replicas in deploy/{name}.yaml",
    )


def replicas_on(repo: Path, name: str = "web", ref: str = "main") -> int:
    text = git("show", f"{ref}:deploy/{name}.yaml", cwd=repo)
    line = next(line for line in text.splitlines() if "replicas:" in line)
    return int(line.split(":")[1].split("#")[0])


def seed(where: Path, services: tuple[str, ...] = ("web",)) -> Path:
    git("init", "-q", "-b", "main", str(where))
    for name in services:
        path = where / "deploy" / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(MANIFEST.format(name=name, replicas=2))
    git("add", "-A", cwd=where)
    git("commit", "-q", "--allow-empty", "-m", "manifests", cwd=where)
    return where


# ---------------------------------------------------------------------------------------------
# The local branch


def test_a_local_commit_changes_one_line_and_the_checkout_follows(tmp_path: Path) -> None:
    repo = seed(tmp_path / "fleet")
    written = GitManifests(repo).write(scale("web", 2, 3), NOW)
    assert written.attempts == 0 and written.branch == "main"
    assert (written.before, written.after) == ({"replicas": 2}, {"replicas": 3})
    assert git("rev-parse", "HEAD", cwd=repo).strip() == written.commit
    assert git("show", "--format=", "--numstat", "HEAD", cwd=repo).split() == [
        "1", "1", "deploy/web.yaml",
    ]  # fmt: skip
    # The checkout and the index hold the commit: nothing shows as changed.
    assert git("status", "--porcelain", cwd=repo) == ""
    assert "replicas: 3   # kept by the reconciler" in (repo / "deploy/web.yaml").read_text()
    message = git("log", "-1", "--format=%B", cwd=repo)
    assert message.startswith("web: scale to 3 replicas in deploy/web.yaml\n")
    assert "Reconciler-Operation: op-1" in message
    assert git("log", "-1", "--format=%ct", cwd=repo).strip() == str(int(NOW.timestamp()))


def test_a_persons_uncommitted_edit_of_the_file_stays_theirs(tmp_path: Path) -> None:
    repo = seed(tmp_path / "fleet")
    edited = MANIFEST.format(name="web", replicas=2) + "# a note in progress\n"
    (repo / "deploy/web.yaml").write_text(edited)
    GitManifests(repo).write(scale("web", 2, 3), NOW)
    assert replicas_on(repo) == 3
    assert (repo / "deploy/web.yaml").read_text() == edited


def test_a_value_someone_changed_is_a_conflict_and_nothing_is_committed(tmp_path: Path) -> None:
    repo = seed(tmp_path / "fleet")
    head = git("rev-parse", "HEAD", cwd=repo)
    with pytest.raises(ManifestConflict) as caught:
        GitManifests(repo).write(scale("web", 4, 5), NOW)
    assert str(caught.value).startswith(
        "spec.replicas in deploy/web.yaml:6 is 2, not 4 as the reconciler last read it"
    )
    assert git("rev-parse", "HEAD", cwd=repo) == head


def test_a_location_that_does_not_resolve_is_the_changes_error(tmp_path: Path) -> None:
    repo = seed(tmp_path / "fleet")
    with pytest.raises(ClusterError, match="no document is Deployment api"):
        GitManifests(repo).write(
            ManifestEdit(
                manifests=Manifests(
                    format=ManifestFormat.PLAIN, path="deploy/web.yaml", name="api"
                ),
                service="api",
                operation_id="op-1",
                replicas=3,
                expect_replicas=2,
            ),
            NOW,
        )


# ---------------------------------------------------------------------------------------------
# A served repository


@pytest.fixture
def server(tmp_path: Path) -> Iterator[GitServer]:
    with git_server(tmp_path / "served") as served:
        yield served


def served(tmp_path: Path, server: GitServer, services: tuple[str, ...] = ("web",)) -> Path:
    return server.create("deploy.git", seed(tmp_path / "seed", services))


def clone(url: str, where: Path) -> Path:
    git("clone", "-q", url, str(where))
    return where


def test_a_push_lands_on_the_remote_branch(tmp_path: Path, server: GitServer) -> None:
    bare = served(tmp_path, server)
    job = clone(server.url("deploy.git"), tmp_path / "job")
    written = GitManifests(job, remote="origin").write(scale("web", 2, 3), NOW)
    assert written.attempts == 1
    assert replicas_on(bare) == 3
    assert git("rev-parse", "main", cwd=bare).strip() == written.commit
    # The job's own branch is untouched: its audit push replays over the manifest commit.
    assert replicas_on(job, ref="HEAD") == 2


def test_another_repository_is_reached_by_its_url(tmp_path: Path, server: GitServer) -> None:
    bare = served(tmp_path, server)
    fleet = seed(tmp_path / "fleet", ())
    elsewhere = Manifests(
        format=ManifestFormat.PLAIN,
        path="deploy/web.yaml",
        name="web",
        repository=server.url("deploy.git"),
    )
    store = GitManifests(fleet)
    snapshot = store.read(elsewhere)
    assert snapshot.branch == "main"  # the remote's default branch
    edit = ManifestEdit(
        manifests=elsewhere, service="web", operation_id="op-1", replicas=4, expect_replicas=2
    )
    written = store.write(edit, NOW)
    assert written.repository == server.url("deploy.git") and replicas_on(bare) == 4


# ---------------------------------------------------------------------------------------------
# Another repository on the forge: `owner/name`, over HTTPS with the run's token

TOKEN = "manifests-token-7f3a9c"
ON_FORGE = Manifests(
    format=ManifestFormat.PLAIN, path="deploy/web.yaml", name="web", repository="org/deploy-config"
)


def on_forge_store(fleet: Path, url: str, token: str = TOKEN) -> GitManifests:
    return GitManifests(fleet, forge_url=url, token=token, pause=0.01, sleep=lambda _: None)


def test_a_repository_on_the_forge_is_reached_over_https_with_the_token(tmp_path: Path) -> None:
    with http_git_server(tmp_path / "served", {TOKEN: "deploy-bot"}) as server:
        bare = server.base / "org" / "deploy-config"
        bare.parent.mkdir(parents=True)
        git("clone", "-q", "--bare", str(seed(tmp_path / "seed")), str(bare))
        fleet = seed(tmp_path / "fleet", ())
        # The checkout's own header for the server (actions/checkout's, for the blueprint
        # repository alone) is not sent beside the manifests' token.
        stale = basic_header("the-blueprint-repository-token").split(": ", 1)[1]
        git(
            "config", f"http.{server.server_url}/.extraheader", f"AUTHORIZATION: {stale}", cwd=fleet
        )
        store = on_forge_store(fleet, server.server_url)

        assert store.read(ON_FORGE).branch == "main"  # the repository's default branch
        stamp = ChangeStamp(
            operation_id="op-7", decision_id="dec-7", operation="scale_within_limits",
            service="web", at=NOW, summary="scale 2→4", after={"replicas": 4},
        )  # fmt: skip
        edit = ManifestEdit(
            manifests=ON_FORGE,
            service="web",
            operation_id="op-7",
            replicas=4,
            expect_replicas=2,
            subject="web: scale to 4 replicas in deploy/web.yaml",
            stamp=stamp.dumps(),
        )
        written = store.write(edit, NOW)
        assert (written.repository, written.attempts) == ("org/deploy-config", 1)
        assert replicas_on(bare) == 4
        assert server.pushes == ["deploy-bot"]

        # The commit is found again, with what it changed, as a crash's next run finds it.
        (own,) = store.own_commits(ON_FORGE, "web")
        assert own.written.commit == written.commit and own.stamp == stamp
        assert (dict(own.written.before), dict(own.written.after)) == (
            {"replicas": 2},
            {"replicas": 4},
        )
        assert store.own_commits(ON_FORGE, "api") == []

        # The token is nowhere in the blueprint repository: not in its configuration, not in
        # a remote, not in a ref's name or a reflog.
        encoded = basic_header(TOKEN).split("basic ", 1)[1]
        for where in (fleet / ".git").rglob("*"):
            if where.is_file():
                content = where.read_bytes()
                assert TOKEN.encode() not in content and encoded.encode() not in content, where


def test_the_token_goes_only_to_repositories_named_on_the_forge(tmp_path: Path) -> None:
    """The blueprint repository's own remote keeps the checkout's credentials: a manifests
    token scoped to another repository would not be allowed to push there."""
    checkout = "the-checkout-token"
    tokens = {TOKEN: "deploy-bot", checkout: "actions-bot"}
    with http_git_server(tmp_path / "served", tokens) as server:
        for name in ("org/deploy-config", "org/blueprints"):
            bare = server.base / name
            bare.parent.mkdir(parents=True, exist_ok=True)
            git("clone", "-q", "--bare", str(seed(tmp_path / f"seed-{name[4:]}")), str(bare))
        job = tmp_path / "job"
        header = basic_header(checkout)
        git(
            "-c",
            f"http.extraheader={header}",
            "clone",
            "-q",
            server.url("org/blueprints"),
            str(job),
        )
        git("config", f"http.{server.server_url}/.extraheader", header, cwd=job)
        store = GitManifests(job, remote="origin", forge_url=server.server_url, token=TOKEN)

        store.write(scale("web", 2, 3), NOW)  # in the blueprint repository
        elsewhere = ManifestEdit(
            manifests=ON_FORGE, service="web", operation_id="op-2", replicas=4, expect_replicas=2
        )
        store.write(elsewhere, NOW)
        assert server.pushes == ["actions-bot", "deploy-bot"]
        assert replicas_on(server.base / "org" / "blueprints") == 3
        assert replicas_on(server.base / "org" / "deploy-config") == 4


@pytest.mark.parametrize(
    ("token", "hint"),
    [
        ("", "set RECONCILER_MANIFESTS_TOKEN to a token that may read org/deploy-config"),
        ("wrong-secret-token", "check that the token in RECONCILER_MANIFESTS_TOKEN may read"),
    ],
)
def test_a_refused_token_is_named_by_its_variable_never_shown(
    tmp_path: Path, token: str, hint: str
) -> None:
    with http_git_server(tmp_path / "served", {TOKEN: "deploy-bot"}) as server:
        bare = server.base / "org" / "deploy-config"
        bare.parent.mkdir(parents=True)
        git("clone", "-q", "--bare", str(seed(tmp_path / "seed")), str(bare))
        store = on_forge_store(seed(tmp_path / "fleet", ()), server.server_url, token)
        with pytest.raises(ClusterError) as caught:
            store.read(ON_FORGE)
        error = caught.value
        assert f"{server.server_url}/org/deploy-config.git" in str(error)
        assert hint in (error.hint or "")
        if token:
            assert token not in f"{error} {error.hint}"
        assert server.pushes == []


def race(writers: list[Callable[[], object]]) -> list[object]:
    """Run every writer at the same moment, each in its own thread."""
    barrier = threading.Barrier(len(writers))
    results: list[object] = [RuntimeError("did not finish")] * len(writers)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = writers[index]()
        except BaseException as error:  # reported by the caller's assertions
            results[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(writers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_racing_reconcilers_both_land(tmp_path: Path, server: GitServer) -> None:
    """Two jobs (two shards) scale two services at the same moment, 15 times: every commit
    lands; the one that lost a round fetched the winner's commit and made its edit again."""
    bare = served(tmp_path, server, ("web", "api"))
    url = server.url("deploy.git")
    jobs = [
        GitManifests(clone(url, tmp_path / name), remote="origin", pause=0.01, sleep=lambda _: None)
        for name in ("a", "b")
    ]
    rounds = 15
    attempts: list[int] = []
    for n in range(rounds):
        results = race(
            [
                lambda n=n: jobs[0].write(scale("web", 2 + n, 3 + n, f"op-a-{n}"), NOW),
                lambda n=n: jobs[1].write(scale("api", 2 + n, 3 + n, f"op-b-{n}"), NOW),
            ]
        )
        assert all(isinstance(r, Written) for r in results), results
        attempts += sorted(r.attempts for r in results if isinstance(r, Written))
    assert (replicas_on(bare, "web"), replicas_on(bare, "api")) == (2 + rounds, 2 + rounds)
    history = git("log", "--format=%s", "main", cwd=bare).splitlines()
    assert len(history) == 2 * rounds + 1
    # Each round, a fetch-and-retry happened whenever both fetched the same tip.
    assert max(attempts) >= 2
    assert git("fsck", "--no-progress", "--no-dangling", cwd=bare) == ""


def test_a_person_racing_the_reconciler_is_never_overwritten(
    tmp_path: Path, server: GitServer
) -> None:
    """A person pushes 5 replicas while the reconciler writes 2 → 3, ten times over. Whoever
    lands first keeps the value: the person's push lands and the reconciler refuses, or the
    reconciler's lands and git rejects the person's stale push. Never both."""
    bare = served(tmp_path, server)
    url = server.url("deploy.git")
    job = GitManifests(clone(url, tmp_path / "job"), remote="origin", sleep=lambda _: None)
    person = clone(url, tmp_path / "person")
    outcomes = set()
    for n in range(10):
        start = replicas_on(bare)
        git("fetch", "-q", cwd=person)
        git("reset", "-q", "--hard", "origin/main", cwd=person)
        (person / "deploy/web.yaml").write_text(MANIFEST.format(name="web", replicas=start + 3))
        git("commit", "-q", "-am", f"web: {start + 3} for the sale", cwd=person)

        def push_by_person() -> bool:
            result = git_status("push", "-q", "origin", "HEAD:main", cwd=person)
            return result == 0

        mine, theirs = race(
            [
                lambda start=start, n=n: job.write(scale("web", start, start + 1, f"op-{n}"), NOW),
                push_by_person,
            ]
        )
        final = replicas_on(bare)
        if isinstance(mine, ManifestConflict):
            assert theirs is True and final == start + 3
            outcomes.add("person first")
        else:
            assert isinstance(mine, Written), mine
            assert theirs is False and final == start + 1
            outcomes.add("reconciler first")
    assert outcomes  # both orders are fine; what never happens is asserted above


def git_status(*args: str, cwd: Path) -> int:
    import subprocess

    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=60
    ).returncode
