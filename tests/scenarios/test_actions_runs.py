"""The reconcile workflow's real steps, run in a simulated Actions environment.

`.github/workflows/reconcile.yml` is read and run step by step (tests/actions.py), the
Action's own steps (action.yml, `uses: ./`) included: the checkout is a shallow clone from a
git server on loopback that, like GitHub, answers only requests carrying a token, the GitHub
API is the fake server serving the same repository, and every `run:` step runs in bash with
the `GITHUB_*` variables, a summary file and an env file, as on a hosted runner. Only the
step that installs the package is skipped: the tests already run from it
(`python -m benchmarks install` runs that step for real).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.actions import JobRun, Runner, StepContext
from tests.conftest import REPO
from tests.fakes.github_api import FakeGitHub, init_bare_repo
from tests.gitserver import HttpGitServer, basic_header, git, http_git_server
from tests.scenarios.github_job import blueprint_files

WORKFLOW = REPO / ".github" / "workflows" / "reconcile.yml"
BOT_TOKEN = "ghs_actions_job_token_never_printed"
APP_ID = "Iv23liReconcilerApp"
APP_KEY = "-----BEGIN RSA PRIVATE KEY-----\nnever printed\n-----END RSA PRIVATE KEY-----"
APP_TOKEN = "ghs_app_installation_token_never_printed"
APP_LOGIN = "reconciler-app[bot]"
BIN = Path(sys.executable).parent
NO_REQUEST = {"dry_run": False, "service": "", "operation": "", "replicas": "", "reason": ""}
#: The repository as GitHub serves it.
REPOSITORY = "acme/service-blueprints"
INSTALL = "Install the reconciler"


def action_files() -> dict[str, str]:
    """This repository's Action, which `uses: ./` runs from the checkout."""
    files = {"action.yml": (REPO / "action.yml").read_text()}
    for path in (REPO / "requirements").iterdir():
        files[f"requirements/{path.name}"] = path.read_text()
    return files


def _service_blueprint(name: str) -> str:
    text = (REPO / "blueprints" / "todo-frontend" / "blueprint.yaml").read_text()
    return text.replace("name: todo-frontend", f"name: {name}")


@dataclass
class Hosted:
    """A repository as GitHub hosts it: git over the network, and the REST API."""

    server: HttpGitServer
    api: FakeGitHub
    bare: Path
    base: Path
    #: The token each checkout was given (the job's GITHUB_TOKEN unless `token:` says).
    checkout_tokens: list[str] = field(default_factory=list)
    #: The cache keys actions/cache was asked for.
    cache_keys: list[str] = field(default_factory=list)
    #: What actions/cache/save stored: key -> file (relative to the path) -> content.
    caches: dict[str, dict[str, bytes]] = field(default_factory=dict)
    #: The keys actions/cache/restore restored from, in order ("" for a miss).
    restored: list[str] = field(default_factory=list)
    #: owner/name, as GitHub serves it.
    repository: str = REPOSITORY

    def checkout(self, step: StepContext) -> None:
        """actions/checkout: a shallow clone of the requested branch into the workspace, with
        the token as an authorization header, which stays in .git/config unless
        `persist-credentials: false`."""
        token = str(step.with_.get("token") or BOT_TOKEN)
        self.checkout_tokens.append(token)
        ref = str(step.with_.get("ref") or "main")
        depth = str(step.with_.get("fetch-depth", 1))
        header = basic_header(token)
        args = ["-c", f"http.extraheader={header}", "clone", "-q", "--branch", ref]
        args += [self.server.url(self.repository), "."]
        if depth != "0":
            args[4:4] = ["--depth", depth]
        git(*args, cwd=step.workspace)
        if str(step.with_.get("persist-credentials", "true")).lower() != "false":
            key = f"http.{self.server.server_url}/.extraheader"
            git("config", "--local", key, header, cwd=step.workspace)

    def cache(self, step: StepContext) -> None:
        """actions/cache: nothing cached between these runs; the key is noted."""
        self.cache_keys.append(str(step.with_["key"]))

    def restore_cache(self, step: StepContext) -> None:
        """actions/cache/restore: the exact key, else the newest saved key that starts with a
        restore key, copied into the path; a miss restores nothing."""
        key = str(step.with_["key"])
        prefixes = [p.strip() for p in str(step.with_.get("restore-keys", "")).splitlines()]
        found = key if key in self.caches else ""
        if not found:
            matching = [k for k in self.caches for p in prefixes if p and k.startswith(p)]
            found = matching[-1] if matching else ""
        self.restored.append(found)
        if found:
            target = Path(str(step.with_["path"]))
            for name, content in self.caches[found].items():
                (target / name).parent.mkdir(parents=True, exist_ok=True)
                (target / name).write_bytes(content)
        step.outputs["cache-hit"] = "true" if found == key else "false"
        step.outputs["cache-matched-key"] = found

    def save_cache(self, step: StepContext) -> None:
        """actions/cache/save: the files under the path, under a key that is never
        overwritten (GitHub's caches are immutable); nothing when the path does not exist."""
        key, source = str(step.with_["key"]), Path(str(step.with_["path"]))
        if key in self.caches or not source.is_dir():
            return
        files = {
            str(f.relative_to(source)): f.read_bytes() for f in source.rglob("*") if f.is_file()
        }
        self.caches[key] = files

    def setup_python(self, step: StepContext) -> None:
        """actions/setup-python: this interpreter is the one asked for."""
        wanted = str(step.with_["python-version"])
        assert f"{sys.version_info.major}.{sys.version_info.minor}" == wanted

    def create_app_token(self, step: StepContext) -> None:
        """actions/create-github-app-token: an installation token for the App's key."""
        assert step.with_ == {"client-id": APP_ID, "private-key": APP_KEY}
        step.outputs["token"] = APP_TOKEN

    def runner(
        self,
        event_name: str,
        ref: str = "refs/heads/main",
        job: str = "reconcile",
        workflow: Path = WORKFLOW,
        run_id: str = "4242",
        **kwargs: object,
    ) -> Runner:
        self.base.mkdir(exist_ok=True)
        run_base = self.base / f"run-{len(list(self.base.iterdir()))}"
        return Runner(
            workflow=workflow,
            job=job,
            base=run_base,
            event_name=event_name,
            secrets={"GITHUB_TOKEN": BOT_TOKEN, "RECONCILER_APP_PRIVATE_KEY": APP_KEY},
            github={
                "api_url": self.api.url,
                "server_url": self.server.server_url,
                "repository": self.repository,
                "repository_owner": self.repository.split("/")[0],
                "ref": ref,
                "ref_name": ref.rsplit("/", 1)[-1],
                "run_id": run_id,
            },
            uses={
                "actions/checkout": self.checkout,
                "actions/setup-python": self.setup_python,
                "actions/create-github-app-token": self.create_app_token,
                "actions/cache": self.cache,
                "actions/cache/restore": self.restore_cache,
                "actions/cache/save": self.save_cache,
            },
            # A git that cannot authenticate fails at once instead of asking.
            env={"PATH": f"{BIN}:/usr/bin:/bin", "GIT_TERMINAL_PROMPT": "0"},
            skip={INSTALL},
            **kwargs,  # type: ignore[arg-type]
        )

    def log(self) -> list[str]:
        return git("log", "--format=%s", "main", cwd=self.bare).splitlines()

    def files(self, prefix: str = "audit/") -> list[str]:
        listing = git("ls-tree", "-r", "--name-only", "main", cwd=self.bare)
        return [line for line in listing.splitlines() if line.startswith(prefix)]


def _hosted(tmp_path: Path, extra: dict[str, str] | None = None) -> Iterator[Hosted]:
    yield from hosted_repository(tmp_path, blueprint_files(action_files() | (extra or {})))


def hosted_repository(tmp_path: Path, files: dict[str, str]) -> Iterator[Hosted]:
    """A repository of these files on the git server and the fake GitHub API."""
    tokens = {BOT_TOKEN: "reconciler-bot", APP_TOKEN: APP_LOGIN}
    with http_git_server(tmp_path / "served", tokens) as server:
        bare = server.base / REPOSITORY
        init_bare_repo(bare, files)
        with FakeGitHub(bare) as api:
            api.add_user("reconciler-bot", BOT_TOKEN)
            api.add_user(APP_LOGIN, APP_TOKEN)
            api.add_user("alice", "alice-token")
            api.add_team("acme", "devops-team", ["alice"])
            yield Hosted(server=server, api=api, bare=bare, base=tmp_path / "runs")
            assert api.internal_errors == []


@pytest.fixture
def hosted(tmp_path: Path) -> Iterator[Hosted]:
    yield from _hosted(tmp_path)


def _no_secret(*runs: JobRun) -> None:
    for run in runs:
        for secret in (BOT_TOKEN, APP_TOKEN, "never printed"):
            for step in run.all_steps():
                assert secret not in step.output
            assert secret not in run.summary


def test_a_dispatched_cycle_on_the_embedded_defaults(hosted: Hosted) -> None:
    before = hosted.log()
    (run,) = hosted.runner("workflow_dispatch", inputs=NO_REQUEST).run()
    assert run.ok, [s.output for s in run.steps]
    ran = [step.name for step in run.all_steps() if step.ran]
    assert ran == [
        "Check out the blueprints and the audit trail",
        "Reconcile",  # the Action, and its steps:
        "Set up Python",
        "Find the locks and the installer's cache",
        "Restore the installer's cache",
        "Restore what the GitHub forge kept",
        "Start the simulated cluster",
        "Reconcile",
        "Save what the GitHub forge kept",
    ]
    assert run.actions[1] == "./"
    (key,) = hosted.cache_keys
    assert key.startswith("blueprint-reconciler-install-Linux-py3.11-")
    # The job summary: the table of what was decided, done and verified.
    assert "### Reconcile cycle (shard 1/1) at" in run.summary
    assert "| todo-frontend | 2/2 | 81.5% | scale_up 2→3 | scale 2→3: allowed → execute |" in (
        run.summary
    )
    assert "✅ done: scale deployment todo-app/todo-frontend to 3 replicas" in run.summary
    assert "verified scale 2→3" in run.summary
    assert "Audit trail: pushed 2 audit commits to origin/main." in run.summary
    # The audit commits reached the remote, on top of what was there.
    log = hosted.log()
    assert log[len(log) - len(before) :] == before
    new = log[: len(log) - len(before)]
    assert len(new) == 2
    assert new[-1] == "todo-frontend: scale 2→3 (allowed): weighted 81.5% > 80%"
    assert new[0].startswith("todo-frontend: verified scale 2→3")
    assert run.annotations == []
    _no_secret(run)


def test_a_dispatched_request_opens_the_approval_pull_request(hosted: Hosted) -> None:
    inputs = NO_REQUEST | {
        "service": "todo-frontend",
        "operation": "scale",
        "replicas": "8",
        "reason": "launch traffic",
    }
    (run,) = hosted.runner("workflow_dispatch", inputs=inputs).run()
    assert run.ok, [s.output for s in run.steps]
    assert run.step("Start the simulated cluster").ran  # the request acts on it
    request = run.step("Reconcile")
    assert "scale_beyond_limits" in request.output and "proposed for approval" in request.output
    (pull,) = hosted.api.pulls()
    assert pull["state"] == "open"
    assert pull["head"]["ref"].startswith("reconciler/todo-frontend/request-")
    assert "launch traffic" in pull["body"]
    # The request's record, naming the pull request, was pushed to main.
    assert any("todo-frontend" in subject and "#1" in subject for subject in hosted.log()[:2])
    assert any("approval_requested" in path for path in hosted.files("audit/todo-frontend/"))
    _no_secret(run)


def test_scheduled_runs_wait_for_a_cluster(hosted: Hosted) -> None:
    (skipped,) = hosted.runner("schedule").run()
    assert skipped.skipped
    before = hosted.log()
    (run,) = hosted.runner("schedule", vars={"RECONCILER_CLUSTER": "simulated"}).run()
    assert run.ok and len(hosted.log()) == len(before) + 2


@pytest.mark.parametrize("event", ["push", "repository_dispatch"])
def test_without_a_cluster_a_push_or_a_dispatch_records_nothing_and_says_why(
    hosted: Hosted, event: str
) -> None:
    """Only a person's Run workflow may try the simulated cluster: a push or another system's
    dispatch would otherwise put a made-up scale in the real audit trail."""
    before = hosted.log()
    (reconcile,) = hosted.runner(event).run()
    assert reconcile.skipped and reconcile.steps == []
    (notice,) = hosted.runner(event, job="no-cluster").run()
    assert notice.ok
    (annotation,) = notice.annotations
    assert annotation.startswith("::notice title=reconcile skipped::No cluster is configured")
    assert f"this {event} run reconciled nothing" in annotation
    assert "RECONCILER_CLUSTER is unset" in notice.summary
    assert hosted.log() == before and hosted.checkout_tokens == []
    # Once a cluster is configured, the same trigger reconciles and the notice stays away.
    configured = {"RECONCILER_CLUSTER": "simulated"}
    (quiet,) = hosted.runner(event, job="no-cluster", vars=configured).run()
    assert quiet.skipped
    (run,) = hosted.runner(event, vars=configured).run()
    assert run.ok, [s.output for s in run.steps]
    assert len(hosted.log()) == len(before) + 2


@pytest.mark.parametrize("event", ["schedule", "workflow_dispatch"])
def test_the_no_cluster_notice_is_only_for_pushes_and_dispatches(
    hosted: Hosted, event: str
) -> None:
    # A schedule is skipped without a word; Run workflow runs on the simulated cluster.
    (run,) = hosted.runner(event, job="no-cluster", inputs=NO_REQUEST).run()
    assert run.skipped


@pytest.mark.parametrize("app", [False, True], ids=["GITHUB_TOKEN", "GitHub App"])
def test_the_job_acts_as_the_app_only_when_one_is_configured(hosted: Hosted, app: bool) -> None:
    """With RECONCILER_APP_ID the push and the forge use the App's token, which branch
    protection can let through; without it, the job's GITHUB_TOKEN."""
    inputs = NO_REQUEST | {
        "service": "todo-frontend",
        "operation": "scale",
        "replicas": "8",
        "reason": "launch traffic",
    }
    before = hosted.log()
    variables = {"RECONCILER_APP_ID": APP_ID} if app else {}
    (run,) = hosted.runner("workflow_dispatch", inputs=inputs, vars=variables).run()
    assert run.ok, [s.output for s in run.steps]
    assert run.step("Act as the reconciler's GitHub App").ran is app
    # The checkout only reads, with the job's token; the pushes carry the Action's token.
    assert hosted.checkout_tokens == [BOT_TOKEN]
    assert set(hosted.server.pushes) == {APP_LOGIN if app else "reconciler-bot"}
    (pull,) = hosted.api.pulls()
    assert pull["user"]["login"] == (APP_LOGIN if app else "reconciler-bot")
    assert len(hosted.log()) > len(before)
    _no_secret(run)


def test_a_run_on_another_branch_does_nothing(hosted: Hosted) -> None:
    before = hosted.log()
    (run,) = hosted.runner("workflow_dispatch", "refs/heads/experiment", inputs=NO_REQUEST).run()
    assert run.skipped and run.steps == [] and hosted.log() == before


def test_a_dry_run_changes_and_pushes_nothing(hosted: Hosted) -> None:
    before = hosted.log()
    (run,) = hosted.runner("workflow_dispatch", inputs=NO_REQUEST | {"dry_run": True}).run()
    assert run.ok
    assert "(dry run: nothing changed)" in run.summary and "👀 would do" in run.summary
    assert hosted.log() == before


SHARDED = ["todo-frontend", "todo-backend", "cart", "search", "orders", "checkout"]


@pytest.fixture
def sharded(tmp_path: Path) -> Iterator[Hosted]:
    extra = {
        f"blueprints/{name}/blueprint.yaml": _service_blueprint(name)
        for name in SHARDED
        if name not in {"todo-frontend", "todo-backend"}
    }
    yield from _hosted(tmp_path, extra)


def _cluster(hosted: Hosted, *hot: str, at_max: str = "") -> Path:
    """A simulated cluster's state, made from a clone of the repository before the job: the
    seed scenario, or every service in `hot` running hot (and `at_max` hot at its maximum of
    5 replicas). Jobs get it as a restored cache."""
    clone = hosted.base.parent / "setup"
    git("clone", "-q", str(hosted.bare), str(clone))
    state = clone / "state" / "state.db"
    reconciler = [str(BIN / "reconciler"), "--repo", str(clone), "--sim-state", str(state)]
    scenario = "steady" if hot or at_max else "seed"
    subprocess.run([*reconciler, "sim", "init", "--scenario", scenario], check=True)
    settings = ["cpu_utilization=90%", "memory_utilization=80%", "latency_p95=190ms"]
    for name in hot:
        subprocess.run([*reconciler, "sim", "set", name, *settings], check=True)
    if at_max:
        subprocess.run([*reconciler, "sim", "set", at_max, "replicas=5", *settings], check=True)
    return state


def _copy_of(state: Path) -> Callable[[int, Path, Path], None]:
    """Each job starts from its own copy of the cluster's state."""

    def prepare(_index: int, _workspace: Path, temp: Path) -> None:
        shutil.copytree(state.parent, temp / "sim")

    return prepare


def _shared(state: Path) -> Callable[[int, Path, Path], None]:
    """Successive jobs act on the same cluster: what one job did, the next one sees."""

    def prepare(_index: int, _workspace: Path, temp: Path) -> None:
        (temp / "sim").symlink_to(state.parent, target_is_directory=True)

    return prepare


def test_shards_reconcile_at_once_and_push_without_losing_a_record(sharded: Hosted) -> None:
    state = _cluster(sharded, *SHARDED)
    before = sharded.log()
    runs = sharded.runner(
        "repository_dispatch",
        vars={"RECONCILER_CLUSTER": "simulated", "RECONCILER_SHARDS": '["1/3","2/3","3/3"]'},
        prepare=_copy_of(state),
    ).run()
    assert [run.matrix["shard"] for run in runs] == ["1/3", "2/3", "3/3"]
    assert all(run.ok for run in runs), [s.output for run in runs for s in run.steps]
    owners: dict[str, str] = {}
    for run in runs:
        for name in SHARDED:
            if f"| {name} |" in run.summary:
                assert name not in owners, f"{name} reconciled by two shards"
                owners[name] = run.matrix["shard"]
    assert sorted(owners) == sorted(SHARDED)
    # Every shard's scale and verification landed: two commits per service, none lost.
    new = sharded.log()[: len(sharded.log()) - len(before)]
    assert len(new) == 2 * len(SHARDED)
    for name in SHARDED:
        assert any(subject.startswith(f"{name}: scale 2→3 (allowed)") for subject in new)
        assert any(subject.startswith(f"{name}: verified scale 2→3") for subject in new)


def test_a_push_that_fails_is_loud_and_the_next_run_records_the_change(hosted: Hosted) -> None:
    state = _cluster(hosted)
    hook = hosted.bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'pushes are paused for maintenance' >&2\nexit 1\n")
    hook.chmod(0o755)
    before = hosted.log()
    (failed,) = hosted.runner("workflow_dispatch", inputs=NO_REQUEST, prepare=_shared(state)).run()
    reconcile = failed.step("Reconcile")
    assert reconcile.exit_code == 5
    assert "pushing the audit records to origin/main failed" in reconcile.output
    assert any(a.startswith("::error title=audit records not pushed::") for a in failed.annotations)
    assert "❌ **The audit commits were not pushed**" in failed.summary
    assert hosted.log() == before  # nothing reached the remote...
    # ...but the cluster was changed: the next run finds the change on the deployment.
    hook.unlink()
    (recovered,) = hosted.runner(
        "workflow_dispatch", inputs=NO_REQUEST, prepare=_shared(state)
    ).run()
    assert recovered.ok, [s.output for s in recovered.steps]
    subjects = hosted.log()[: len(hosted.log()) - len(before)]
    assert any("found on the deployment" in subject for subject in subjects), subjects
    assert any("operation_recovered" in path for path in hosted.files("audit/todo-frontend/"))
    assert not any(subject.startswith("todo-frontend: scale 3→") for subject in subjects)


def test_one_scheduled_run_acts_proposes_summarises_and_pushes(hosted: Hosted) -> None:
    """The whole job in one scheduled run: one service scaled and verified, another at its
    maximum proposed for approval as a pull request, the summary, and the pushed commits."""
    state = _cluster(hosted, "todo-backend", at_max="todo-frontend")
    before = hosted.log()
    (run,) = hosted.runner(
        "schedule", vars={"RECONCILER_CLUSTER": "simulated"}, prepare=_copy_of(state)
    ).run()
    assert run.ok, [s.output for s in run.steps]
    (pull,) = hosted.api.pulls()
    assert pull["title"] == "todo-frontend: raise max_replicas 5 → 6 (approval needed)"
    assert "📝 proposed: " in run.summary and f"#{pull['number']}" in run.summary
    assert "✅ done: scale deployment todo-app/todo-backend to 3 replicas" in run.summary
    assert "verified scale 2→3" in run.summary
    new = hosted.log()[: len(hosted.log()) - len(before)]
    assert any(s.startswith("todo-backend: scale 2→3 (allowed)") for s in new), new
    assert any(s.startswith("todo-backend: verified scale 2→3") for s in new), new
    assert any(s.startswith("todo-frontend:") and f"#{pull['number']}" in s for s in new), new
    assert f"Audit trail: pushed {len(new)} audit commits to origin/main." in run.summary
    _no_secret(run)


def test_each_run_starts_from_what_the_last_one_kept_of_github(hosted: Hosted) -> None:
    """The forge's answers and validators are restored from the newest run's cache and saved
    under this run's own key; with them an unchanged listing is answered 304."""
    state = _cluster(hosted, at_max="todo-frontend")
    settings = {"vars": {"RECONCILER_CLUSTER": "simulated"}, "prepare": _shared(state)}
    summaries = []
    for run_id in ("101", "102", "103"):
        hosted.api.reset_log()
        (run,) = hosted.runner("schedule", run_id=run_id, **settings).run()  # type: ignore[arg-type]
        assert run.ok, [s.output for s in run.steps]
        summaries.append(run.summary)
    key = "blueprint-reconciler-github-acme/service-blueprints-1/1-{}-1"
    assert list(hosted.caches) == [key.format(run) for run in ("101", "102", "103")]
    assert hosted.restored == ["", key.format("101"), key.format("102")]
    assert len(hosted.api.pulls()) == 1
    assert all("GitHub API: " in summary for summary in summaries)
    # The third run: the proposal was open in the second run's listing too, so GitHub
    # confirms the listing unchanged (the same token in these runs; a job's token is new).
    assert "(1 answered 304, not counted)" in summaries[2]
    assert hosted.api.counted() == 0


# ------------------------------------------------------------------------------ credentials


def test_only_the_step_that_pushes_holds_a_credential(hosted: Hosted) -> None:
    """The checkout leaves no token in .git/config, so installing (and every other step)
    runs without one; the Action's Reconcile step alone gets the token and pushes with it."""
    (run,) = hosted.runner("workflow_dispatch", inputs=NO_REQUEST).run()
    assert run.ok, [s.output for s in run.steps]
    config = (run.workspace / ".git" / "config").read_text()
    assert "extraheader" not in config and basic_header(BOT_TOKEN).split()[-1] not in config
    credential = basic_header(BOT_TOKEN).split()[-1]
    holding = [
        step.name
        for step in run.all_steps()
        if any(BOT_TOKEN in value or credential in value for value in step.env.values())
    ]
    # The outer step is the Action itself; its Reconcile step is the only one with the token.
    assert holding == ["Reconcile"]
    (action,) = [step for step in run.steps if step.steps]
    (pushing,) = [step for step in action.steps if "GITHUB_TOKEN" in step.env]
    assert pushing.name == "Reconcile" and pushing.env["GITHUB_TOKEN"] == BOT_TOKEN
    install = run.step(INSTALL)
    assert not install.ran and install.env  # skipped here, but this is what it would see
    assert hosted.server.pushes == ["reconciler-bot"]


def test_a_persisted_checkout_credential_is_not_what_pushes(hosted: Hosted, tmp_path: Path) -> None:
    """Had the checkout kept its token, the push would still send exactly one header, the
    Action's: an App's pushes must not go out as GITHUB_TOKEN's."""
    workflow = tmp_path / "reconcile.yml"
    text = WORKFLOW.read_text().replace("persist-credentials: false", "persist-credentials: true")
    workflow.write_text(text)
    runner = hosted.runner(
        "workflow_dispatch", inputs=NO_REQUEST, vars={"RECONCILER_APP_ID": APP_ID}
    )
    runner.workflow = workflow
    (run,) = runner.run()
    assert run.ok, [s.output for s in run.steps]
    assert "extraheader" in (run.workspace / ".git" / "config").read_text()
    assert hosted.server.pushes == [APP_LOGIN]


def test_without_the_token_the_push_is_refused_and_says_so(hosted: Hosted) -> None:
    runner = hosted.runner("workflow_dispatch", inputs=NO_REQUEST)
    runner.secrets = runner.secrets | {"GITHUB_TOKEN": "ghs_revoked_token"}
    (run,) = runner.run()
    assert run.step("Reconcile").exit_code == 5
    assert hosted.server.pushes == [] and hosted.server.refused > 0
    assert any("audit records not pushed" in line for line in run.annotations)


@pytest.mark.parametrize(
    ("given", "annotation"),
    [
        ({"dry-run": "often"}, "::error title=dry-run::dry-run must be true or false, not 'often'"),
        ({"wait": "maybe"}, "::error title=wait::wait must be true, false or auto, not 'maybe'"),
        (
            {"mode": "deploy"},
            "::error title=mode::mode must be reconcile or pr-checks, not 'deploy'",
        ),
    ],
)
def test_an_input_the_action_cannot_read_stops_it_and_says_which(
    hosted: Hosted, tmp_path: Path, given: dict[str, str], annotation: str
) -> None:
    workflow = tmp_path / "reconcile.yml"
    text = WORKFLOW.read_text()
    lines = "".join(f"          {key}: {value}\n" for key, value in given.items())
    workflow.write_text(
        text.replace("          push-branch: main\n", f"          push-branch: main\n{lines}")
    )
    before = hosted.log()
    (run,) = hosted.runner("workflow_dispatch", inputs=NO_REQUEST, workflow=workflow).run()
    assert not run.ok and run.step("Reconcile").exit_code == 2
    assert annotation in run.annotations
    assert hosted.log() == before
    if "mode" in given:
        return  # not a reconcile: no dashboard to speak of
    # The run failed before reconciling: it lands on the dashboard all the same.
    assert run.step("Put the failed run on the dashboard").ran
    (dashboard,) = hosted.api.issues()
    assert "## ❌ The last run failed" in dashboard["body"]
    assert "/actions/runs/4242)" in dashboard["body"]
