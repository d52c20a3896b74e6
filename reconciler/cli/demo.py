"""`reconciler demo`: the seed scenario, narrated, on the embedded defaults.

It clones the repository into a scratch directory (the user's checkout is never touched),
seeds the simulated cluster with the seed scenario, and then runs the same commands a person
would type, printing each one first, so the demo doubles as a tutorial. Each command declares
the exit code the story expects; any other stops the demo with an error, so `make demo` fails
loudly instead of narrating something that did not happen.
"""

from __future__ import annotations

import itertools
import shlex
import sys
import textwrap
from pathlib import Path
from typing import NoReturn

import click

from reconciler.cli.context import Settings


def _clone(root: Path, scratch: Path) -> str:
    """Clone `root` into `scratch`; a directory that is not a repository is copied instead."""
    import shutil

    import pygit2

    if scratch.exists() and any(scratch.iterdir()):
        from reconciler.core.errors import ConfigError

        raise ConfigError(f"{scratch} is not empty", hint="pass an empty or new --dir")
    if pygit2.discover_repository(str(root)) is not None:
        repo = pygit2.Repository(str(root))
        if not repo.head_is_unborn:
            pygit2.clone_repository(str(root), str(scratch))
            return f"a clone of {root}"
    scratch.mkdir(parents=True, exist_ok=True)
    shutil.copytree(root / "blueprints", scratch / "blueprints", symlinks=True)
    repo = pygit2.init_repository(str(scratch), initial_head="main")
    repo.index.add_all(["blueprints"])
    repo.index.write()
    signature = pygit2.Signature("reconciler demo", "demo@localhost", 1770737400, 0)
    repo.create_commit(
        "HEAD", signature, signature, "Blueprints for the demo", repo.index.write_tree(), []
    )
    return f"a new repository with the blueprints of {root}"


#: The manifest Argo CD applies for todo-backend in the write-back step.
BACKEND_MANIFEST = "deploy/todo-backend/deployment.yaml"


def _adopt_write_back(scratch: Path) -> None:
    """What a team writes to let the reconciler act through git: the manifest Argo CD
    applies (as it already has it), and two additions to the blueprint."""
    manifest = scratch / BACKEND_MANIFEST
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(
        "# Applied by Argo CD (application todo-backend). The reconciler commits changes to\n"
        "# the replicas line; everything else is the team's.\n"
        "apiVersion: apps/v1\n"
        "kind: Deployment\n"
        "metadata:\n"
        "  name: todo-backend\n"
        "  namespace: todo-app\n"
        "spec:\n"
        "  replicas: 2\n"
        "  selector:\n"
        "    matchLabels: {app: todo-backend}\n"
        "  template:\n"
        "    metadata:\n"
        "      labels: {app: todo-backend}\n"
        "    spec:\n"
        "      containers:\n"
        "        - name: api\n"
        "          image: todo/backend:2.3\n"
    )
    blueprint = scratch / "blueprints/todo-backend/blueprint.yaml"
    text = blueprint.read_text()
    text = text.replace(
        "    stabilization_period: 60s\n",
        "    stabilization_period: 60s\n    coexistence: write_back         # Argo CD applies it\n",
        1,
    )
    text = text.replace(
        "\n  performance:\n",
        f"\n  manifests:\n    format: plain\n    path: {BACKEND_MANIFEST}\n\n  performance:\n",
        1,
    )
    blueprint.write_text(text)


def git(scratch: Path, *args: str) -> int:
    """Run git as the person in the story would, printing the command and its output."""
    import subprocess

    argv = ["git", "-C", str(scratch), *args]
    click.echo(f"\n$ {shlex.join(argv)}")
    result = subprocess.run(argv, check=False, capture_output=True, text=True)
    printed = (result.stdout + result.stderr).rstrip()
    if printed:  # a quiet command (merge -q) leaves no blank line behind
        click.echo(printed)
    return result.returncode


def stop(scratch: Path, command: str, code: int, expect: int) -> NoReturn:
    """End the demo at a step that did not go as the story says."""
    click.echo(
        f"\nerror: the demo stopped: `{command}` exited {code} where the story expects {expect}",
        err=True,
    )
    click.echo(f"hint: its output is above; the scratch repository is {scratch}", err=True)
    sys.exit(1)


def rolled_back_decision(scratch: Path, service: str) -> str | None:
    """The decision behind the service's latest change that was rolled back: the rollback
    record names the operation it undid, and that operation names its decision."""
    from reconciler.cli.compose import open_audit
    from reconciler.core.trail.records import EventType

    store = open_audit(scratch)
    rollback = store.latest(service, {EventType.ROLLBACK_EXECUTED})
    if rollback is None or not rollback.links.get("rollback_of"):
        return None
    undone = rollback.links["rollback_of"]
    for record in store.scan(service=service):
        if record.id == undone:
            return record.links.get("decision")
    return None


def _log_oneline(scratch: Path, limit: int = 30) -> list[str]:
    """`git log --oneline -- audit/`: the commits that added audit records."""
    import pygit2

    repo = pygit2.Repository(str(scratch))
    lines = []
    for commit in repo.walk(repo.head.target, pygit2.enums.SortMode.TOPOLOGICAL):
        parent_tree = commit.parents[0].tree if commit.parents else None
        touched = (
            commit.tree.diff_to_tree(parent_tree) if parent_tree else commit.tree.diff_to_tree()
        )
        if not any(delta.new_file.path.startswith("audit/") for delta in touched.deltas):
            continue
        lines.append(f"{str(commit.id)[:7]} {commit.message.splitlines()[0]}")
        if len(lines) >= limit:
            break
    return lines


@click.command("demo")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to create the scratch repository (default: a new temporary directory).",
)
@click.pass_obj
def demo_command(settings: Settings, directory: Path | None) -> None:
    """Run the seed scenario end to end on the embedded defaults, and narrate it.

    Works in a scratch clone of this repository with a simulated cluster, so nothing you
    have is touched. It shows: a scale-up decided from the seed's numbers, carried out and
    verified (2 → 3 replicas), a second service left alone, a harmful scale-down rolled back
    automatically, a change beyond the blueprint proposed for approval and carried out once
    merged, a service that Argo CD deploys scaled by a commit to its manifest, a forbidden
    request refused with safer alternatives, and the audit trail in `git log`. It needs git
    on the PATH (for the merge a person would make).

    Each command is printed before it runs, quoted so that it can be copied: the reconciler
    commands run in the scratch repository, so `cd` there first to repeat one.

    \b
    Exit codes: 0 the story went as told, 1 a step did not (the demo stops there and
                names it), 2 usage, 3 no blueprint repository, or --dir is not empty.

    \b
    Examples:
      reconciler demo
      reconciler demo --dir /tmp/reconciler-demo
      make demo                       # the same, after setting up .venv
    """
    import tempfile  # with shutil and random: paid by the demo only, not by every --help

    root = settings.root()
    scratch = (directory or Path(tempfile.mkdtemp(prefix="reconciler-demo-"))).resolve()
    origin = _clone(root, scratch)
    story = _Story(scratch)
    click.echo(f"Scratch repository: {scratch} ({origin}). Your checkout is not touched.")
    click.echo(f"The reconciler commands below run there: `cd {story.here}` to repeat one.")
    _scale_up(story)
    rollback_step = _rollback(story)
    _approval(story)
    _write_back(story)
    _refusal_and_trail(story, rollback_step)


class _Story:
    """The narration: numbered steps, and each command printed before it runs, with the
    exit code the story expects; any other stops the demo, naming the command."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.here = shlex.quote(str(scratch))
        self._numbers = itertools.count(1)

    def say(self, text: str) -> None:
        click.echo()
        click.echo(textwrap.fill(text, width=96))

    def step(self, text: str) -> int:
        """A numbered step of the story; the numbers are counted, so they stay in order."""
        number = next(self._numbers)
        self.say(f"{number}. {text}")
        return number

    def run(self, *args: str, expect: int = 0) -> None:
        from reconciler.cli import main

        # Quoted as a shell would need it, so a command copied from the story runs as shown.
        command = shlex.join(["reconciler", *args])
        click.echo(f"\n$ {command}")
        code = 0
        try:
            returned = main.main(["--repo", str(self.scratch), *args], standalone_mode=False)
            code = returned if isinstance(returned, int) else 0  # click's ctx.exit(n)
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 0 if exit_.code is None else 1
        except click.ClickException as error:  # a usage error: the demo itself is wrong
            error.show()
            code = error.exit_code
        if code != expect:
            stop(self.scratch, command, code, expect)

    def run_git(self, *args: str) -> None:
        code = git(self.scratch, *args)
        if code != 0:
            stop(self.scratch, shlex.join(["git", *args]), code, 0)


def _scale_up(story: _Story) -> None:
    """The blueprints, the seeded cluster, and a scale-up carried out and verified."""
    story.step(
        "The blueprints. todo-frontend is the seed's blueprint as written: replicas 1..5, "
        "scale up above 80% weighted utilization; everything it leaves out has a default "
        "(weights cpu 0.5, memory 0.3, latency 0.2; p95 target 200 ms; cooldown 60 s)."
    )
    story.run("validate")
    story.step(
        "The cluster: simulated, with a virtual clock. The seed scenario puts todo-frontend "
        "on 2 replicas at CPU 85%, memory 70% and p95 180 ms; todo-backend is steady."
    )
    story.run("sim", "init", "--scenario", "seed", "--history", "10m")
    story.run("sim", "show")
    story.step(
        "One reconcile cycle, staying to verify it (--wait). Weighted utilization = 0.5 × 85% "
        "+ 0.3 × 70% + 0.2 × 180/200 = 81.5%, above 80%, so 2 → 3 replicas (ceil(2 × 81.5% / 70%) "
        "= 3). Governance: scale_within_limits is allowed because 1 <= 3 <= 5. Expected "
        "afterwards: CPU about 57%, memory about 47%. Sixty seconds later (virtual time) the "
        "change is verified: replica count, pods ready, CPU, memory, p95 latency, error rate and "
        "restarts. todo-backend is reconciled independently and left alone."
    )
    story.run("run", "--wait")


def _rollback(story: _Story) -> int:
    """A harmful scale-down, rolled back automatically; the step's number, for the end."""
    rollback_step = story.step(
        "The load drops: CPU 25%, memory 20%, p95 100 ms on 3 replicas, but each pod is close "
        "to its queueing limit. After five quiet minutes the engine scales down 3 → 2; the "
        "verification finds p95 latency and errors over target and worse than before, so the "
        "change is rolled back automatically, and the rollback is verified in turn."
    )
    story.run(
        "sim",
        "set",
        "todo-frontend",
        "replicas=3",
        "rps=180",
        "capacity=100",
        "base_latency=40ms",
        "cpu_utilization=25%",
        "memory_utilization=20%",
        "base_error_rate=0.2%",
    )
    story.run("sim", "advance", "6m")
    story.run("run", "--wait")
    return rollback_step


def _approval(story: _Story) -> None:
    """A change beyond the blueprint, proposed, merged by an approver, and carried out."""
    story.step(
        "Later, a surge: todo-frontend is at max_replicas (5) with CPU 92%, memory 85% and "
        "p95 280 ms (weighted 91.5%). More replicas than the blueprint allows need a person, so "
        "the reconciler proposes raising max_replicas to 6 as a branch of this repository (with "
        "--forge github, a pull request) and does nothing else."
    )
    story.run(
        "sim",
        "set",
        "todo-frontend",
        "replicas=5",
        "rps=450",
        "cpu_utilization=92%",
        "memory_utilization=85%",
        "latency_p95=280ms",
        "error_rate=1.2%",
    )
    story.run("run", "-s", "todo-frontend")
    branch = "reconciler/todo-frontend/scale-beyond-limits"
    story.run_git("diff", "main", branch, "--", "blueprints/")
    story.say(
        "alice, who is in devops-team (the approvers), reviews it and approves by merging it. "
        "The next cycle judges the merge (an approver? exactly what was proposed?), records "
        "the approval, scales 5 → 6 under the new policy, and verifies it."
    )
    story.run_git(
        "-c",
        "user.name=alice",
        "-c",
        "user.email=alice@example.com",
        "merge",
        "--no-ff",
        "-q",
        branch,
        "-m",
        "Approve: raise max_replicas of todo-frontend to 6",
    )
    story.run("sim", "advance", "5m")
    story.run("run", "-s", "todo-frontend", "--wait")
    story.run("approvals")


def _write_back(story: _Story) -> None:
    """A service Argo CD deploys, scaled by a commit to its manifest."""
    story.step(
        "Argo CD deploys todo-backend from git: its replicas live in "
        f"{BACKEND_MANIFEST}. The team says so in the blueprint (spec.manifests) and sets "
        "coexistence: write_back, so a change becomes a commit to that file, which Argo CD "
        "rolls out. The simulated cluster plays Argo CD here: it applies each commit 30 s "
        "after it is made."
    )
    _adopt_write_back(story.scratch)
    story.run_git("add", "--", BACKEND_MANIFEST, "blueprints/todo-backend/blueprint.yaml")
    story.run_git(
        "-c",
        "user.name=bob",
        "-c",
        "user.email=bob@example.com",
        "commit",
        "-q",
        "-m",
        "todo-backend: Argo CD applies deploy/todo-backend; the reconciler writes back to it",
    )
    story.run("validate", "blueprints/todo-backend")
    story.say(
        "Load rises on todo-backend (CPU 95%, memory 90%). The cycle decides 2 → 3 and, instead "
        "of scaling the deployment, commits `replicas: 3` to the manifest; the cluster is "
        "untouched until Argo CD syncs. Verification waits for that: its 60 s start once the "
        "third pod runs, not when the commit was made."
    )
    story.run("sim", "set", "todo-backend", "cpu_utilization=95%", "memory_utilization=90%")
    story.run("run", "-s", "todo-backend", "--wait")
    story.run_git(
        "log",
        "-1",
        "-p",
        "--format=%h %s%n%(trailers:only,unfold,separator=%x2c )",
        "--",
        BACKEND_MANIFEST,
    )


def _refusal_and_trail(story: _Story, rollback_step: int) -> None:
    """A forbidden request refused, the audit trail in git, and the chain of the rollback."""
    scratch, here = story.scratch, story.here
    story.step(
        "Someone asks to delete the frontend deployment. delete_deployment is forbidden by "
        "the global policies, so the request is refused, the cluster is untouched, and the "
        "refusal with safer alternatives goes into the audit trail."
    )
    story.run(
        "request",
        "todo-frontend",
        "delete_deployment",
        "--reason",
        "cleanup",
        "--by",
        "demo-user",
        expect=1,  # refused
    )
    story.step(
        "The audit trail is git. Every step above that changed or refused something is a commit:"
    )
    click.echo(f"\n$ {shlex.join(['git', '-C', str(scratch), 'log', '--oneline', '--', 'audit/'])}")
    for line in _log_oneline(story.scratch):
        click.echo(line)
    decision = rolled_back_decision(story.scratch, "todo-frontend")
    if decision is None:
        stop(story.scratch, "finding the rolled-back scale-down in the audit trail", 1, 0)
    story.say(
        f"And the whole chain behind the rolled-back scale-down (step {rollback_step}), from its "
        "decision to the verified rollback, with its numbers, rules and checks:"
    )
    story.run("explain", decision)
    story.say(
        f"Where to look next: `git -C {here} log --stat`, `reconciler --repo {here} audit`, "
        f"the JSON records under {scratch}/audit/, and `reconciler --repo {here} status`."
    )
