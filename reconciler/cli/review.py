"""Commands for pull requests that edit blueprints: check-change and codeowners."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler.cli.context import Settings, env_flag
from reconciler.cli.output import OUTPUT_OPTION, emit_json, table

if TYPE_CHECKING:
    import pygit2

    from reconciler.adapters.git_revisions import RevisionFiles
    from reconciler.core.approvals.codeowners import Entry
    from reconciler.core.problems import Problem
    from reconciler.core.review.findings import PathChange, Review, Snapshot


@click.command("check-change")
@click.argument("base")
@click.argument("head")
@OUTPUT_OPTION
@click.option(
    "--markdown",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    metavar="FILE",
    help="Write the pull request comment (Markdown) to FILE; `-` prints it instead of the table.",
)
@click.option(
    "--annotations/--no-annotations",
    default=None,
    help="Also print GitHub Actions ::error (forbidden, invalid) and ::warning (needs approval) "
    "annotations (default: on when GITHUB_ACTIONS=true).",
)
@click.option(
    "--comment",
    is_flag=True,
    help="Post the report on the pull request, or update the one posted before. Needs "
    "GITHUB_TOKEN, --github-repository (GITHUB_REPOSITORY) and the pull request's number.",
)
@click.option(
    "--pr",
    "pull_request",
    type=click.IntRange(min=1),
    metavar="N",
    help="The pull request to comment on (default: pull_request.number in the event file "
    "at GITHUB_EVENT_PATH).",
)
@click.option(
    "--status",
    is_flag=True,
    help="Set the reconciler/approval commit status on the pull request's head (or the merge "
    "queue's commit) from the event file: what a ruleset that requires it waits for. The "
    "reconciler's own proposals (branches under reconciler/) are left to the reconciler.",
)
@click.pass_obj
def check_change_command(
    settings: Settings,
    base: str,
    head: str,
    output: str,
    markdown: Path | None,
    annotations: bool | None,
    comment: bool,
    pull_request: int | None,
    status: bool,
) -> None:
    """Classify every blueprint edit between git revisions BASE and HEAD, and say who must
    approve it.

    BASE and HEAD are any revisions git knows (a sha, a branch, origin/main, HEAD~1); the
    files are read from git, nothing is checked out. Each edit is judged by the rules at BASE,
    never by the ones it proposes, so a pull request cannot grant itself permission or name
    its own approvers:

    \b
      blueprint deleted          delete_deployment: forbidden by the shipped policies
      new blueprint              onboarding: the global approvers
      max_replicas raised,       scale_beyond_limits under BASE's rules
        min_replicas lowered     (usually: the service's approvers)
      rule loosened              the service's approvers; forbidden if the global
                                 policies forbid the operation
      rate limits, breaker,      the service's approvers
        restart limit loosened
      approvers changed          the approvers at BASE
      global policies edited     the global approvers
      tightening, tuning         allowed
      HEAD does not validate     invalid, with file:line:col
      anything under audit/      forbidden: only the reconciler writes the trail
      a request file added as    the service's approvers
        the reconciler proposes
      any other requests/ edit   the global approvers

    \b
    Exit codes: 0 nothing forbidden or invalid (approvals are reported, not failed:
                  branch protection with code-owner review enforces them),
                1 an edit is forbidden or a blueprint at HEAD does not validate,
                2 usage, 3 a revision git does not know, not a git repository, or
                  --comment or --status without its settings, 4 GitHub refused the
                  comment or the status.

    \b
    Examples:
      reconciler check-change origin/main HEAD
      reconciler check-change main my-branch -o json | jq '.findings[] | .class'
      reconciler check-change "$BASE_SHA" "$HEAD_SHA" --markdown comment.md
      reconciler check-change origin/main HEAD --comment --pr 42     # on GitHub Actions
      reconciler check-change "$BASE" HEAD --status                   # the required check
    """
    from reconciler.adapters.git_revisions import GitRevisions
    from reconciler.core.review.change import review_change
    from reconciler.core.review.comment import render_markdown
    from reconciler.core.review.findings import ChangeClass

    if output == "json" and markdown == Path("-"):
        raise click.UsageError(
            "--markdown - prints the comment instead of the table; "
            "it cannot be combined with -o json"
        )
    target = _comment_target(settings, pull_request) if comment else None
    head_commit = _status_target(settings) if status else None
    start = (settings.repo or Path.cwd()).resolve()
    revisions = GitRevisions(start, blueprint_root=_blueprint_root(settings))
    sides = [revisions.read(revision) for revision in (base, head)]
    snapshots = [_snapshot(side, start) for side in sides]
    changes = _path_changes(start, revisions.subdirectory, sides[0].commit, sides[1].commit)
    review = review_change(snapshots[0], snapshots[1], changes)

    to_stdout = output == "text" and markdown != Path("-")
    if annotations if annotations is not None else env_flag("GITHUB_ACTIONS"):
        for finding in review.findings:
            if finding.change_class is not ChangeClass.ALLOWED:
                problem = finding.as_problem()
                if revisions.subdirectory:
                    problem = _under(problem, revisions.subdirectory)
                click.echo(problem.annotation(), err=not to_stdout)
    body = render_markdown(review)
    if output == "json":
        emit_json(review.to_json())
    elif markdown == Path("-"):
        click.echo(body, nl=False)
    else:
        click.echo(render_review(review))
    if markdown is not None and markdown != Path("-"):
        markdown.write_text(body, encoding="utf-8")
    if target is not None:
        _post(settings, target, body)
    if head_commit is not None:
        _set_status(settings, head_commit, review)
    if not review.ok:
        raise SystemExit(1)


def render_review(review: Review) -> str:
    """The table, then why each edit is classified as it is, then the verdict."""
    lines = [f"{review.base.label} → {review.head.label}"]
    if review.findings:
        rows = [
            [
                f.subject,
                f.path or "-",
                f"{f.before} → {f.after}",
                str(f.kind),
                str(f.change_class),
                f.operation or "-",
                ", ".join(f.approvers) or "-",
            ]
            for f in review.findings
        ]
        lines += [
            "",
            table(["SERVICE", "FIELD", "CHANGE", "KIND", "CLASS", "OPERATION", "APPROVERS"], rows),
            "",
        ]
        for f in review.findings:
            lines.append(f"{f.subject} {f.path or f.file} ({f.location()}): {f.change_class}")
            lines.append(f"  {f.reason}")
            if f.rule:
                lines.append(f"  rule: {f.rule}" + (f" ({f.rule_file})" if f.rule_file else ""))
            if f.approvers:
                lines.append(f"  approvers: {'; '.join(review.expand(a) for a in f.approvers)}")
    for note in review.notes:
        lines.append(f"note: {note}")
    lines += ["", review.summary()]
    return "\n".join(lines)


def _blueprint_root(settings: Settings) -> Path | None:
    """The directory that holds `blueprints/` in the working tree, when there is one."""
    from reconciler.core.errors import ConfigError

    try:
        return settings.root()
    except ConfigError:
        return None  # a bare or sparse clone: blueprints/ is at the top of the repository


def _snapshot(side: RevisionFiles, root: Path) -> Snapshot:
    from reconciler.core.review.findings import Snapshot
    from reconciler.shell.listing import revision_listing
    from reconciler.shell.workspace import load_fleet_files

    # With the revision's listing, a link or a folder where a blueprint should be is that
    # service's error here exactly as in a cycle, which reads the same commit.
    fleet = load_fleet_files(root, side.files, listing=revision_listing(side.entries, side.links))
    return Snapshot(
        revision=side.revision,
        commit=side.commit,
        policies=fleet.policies,
        policies_ok=fleet.policies_ok,
        blueprints={blueprint.name: blueprint for blueprint in fleet.blueprints},
        broken=dict(fleet.broken),
        problems=fleet.problems,
        sources=side.files,
    )


def _path_changes(start: Path, subdirectory: str, base: str, head: str) -> list[PathChange]:
    """The files under `audit/` and `requests/` that HEAD's own commits change: compared from
    the merge base of BASE and HEAD, as GitHub lists a pull request's files, so records the
    reconciler added to the main branch meanwhile never look like the pull request's doing.
    Request files are read too (cut a byte past the loader's limit), the audit trail's not.

    (Read here with pygit2 rather than by GitRevisions, which reads only blueprints.)"""
    from pathlib import PurePosixPath

    import pygit2

    from reconciler.core.blueprint.yamlsafe import MAX_BYTES
    from reconciler.core.review.findings import AUDIT_DIR, REQUESTS_DIR, PathChange

    repo = pygit2.Repository(pygit2.discover_repository(str(start)))
    new = repo[pygit2.Oid(hex=head)].peel(pygit2.Commit)
    since = repo.merge_base(pygit2.Oid(hex=base), new.id)
    old_root = repo[since].peel(pygit2.Commit).tree if since is not None else None
    changes = []
    for top in (AUDIT_DIR, REQUESTS_DIR):
        parts = (*PurePosixPath(subdirectory).parts, top)
        before, after = _tree_at(repo, old_root, parts), _tree_at(repo, new.tree, parts)
        if before is None and after is None:
            continue
        if before is None:
            assert after is not None
            diff = after.diff_to_tree(swap=True)  # everything is new
        else:
            diff = before.diff_to_tree(after) if after is not None else before.diff_to_tree()
        for delta in diff.deltas:
            status = {"A": "added", "D": "deleted"}.get(delta.status_char(), "modified")
            content = None
            if top == REQUESTS_DIR and status != "deleted":
                blob = repo[delta.new_file.id]
                content = (
                    bytes(blob.data[: MAX_BYTES + 1]) if isinstance(blob, pygit2.Blob) else None
                )
            changes.append(
                PathChange(path=f"{top}/{delta.new_file.path}", status=status, content=content)
            )
    return changes


def _tree_at(
    repo: pygit2.Repository, tree: pygit2.Tree | None, parts: tuple[str, ...]
) -> pygit2.Tree | None:
    import pygit2

    for part in parts:
        if tree is None or part not in tree:
            return None
        found = repo[tree[part].id]
        tree = found if isinstance(found, pygit2.Tree) else None
    return tree


def _under(problem: Problem, subdirectory: str) -> Problem:
    """Annotations name files from the top of the git repository."""
    from dataclasses import replace

    return replace(problem, file=f"{subdirectory}/{problem.file}")


@dataclass(frozen=True)
class _Target:
    repository: str
    token: str = field(repr=False)
    number: int


def _comment_target(settings: Settings, number: int | None) -> _Target:
    """Where --comment posts; every setting is checked before any work is done."""
    from reconciler.cli.compose import Environment
    from reconciler.core.errors import ConfigError

    if not settings.github_repository:
        raise ConfigError(
            "--comment needs the repository",
            hint="pass --github-repository owner/name (GITHUB_REPOSITORY on Actions)",
        )
    token = Environment.read().github_token
    if not token:
        raise ConfigError(
            "--comment needs a token in GITHUB_TOKEN (or RECONCILER_GITHUB_TOKEN)",
            hint="on Actions: env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}, with "
            "permissions: pull-requests: write",
        )
    if number is None:
        number = _event_pull_request()
    if number is None:
        raise ConfigError(
            "--comment needs the pull request's number",
            hint="pass --pr N, or run on a pull_request event (GITHUB_EVENT_PATH)",
        )
    return _Target(repository=settings.github_repository, token=token, number=number)


@dataclass(frozen=True)
class _Head:
    """The commit --status is for: a pull request's head, or a merge queue's commit."""

    sha: str
    #: The pull request's branch ("" in a merge queue).
    branch: str


def _status_target(settings: Settings) -> _Head | None:
    """The commit --status sets, from the event file; None (with a note) for a proposal of
    the reconciler's, whose status is the reconciler's to set."""
    from reconciler.cli.compose import Environment
    from reconciler.core.errors import ConfigError

    if not settings.github_repository or not Environment.read().github_token:
        raise ConfigError(
            "--status needs the repository and a token in GITHUB_TOKEN",
            hint="on Actions: GITHUB_REPOSITORY is set; env: GITHUB_TOKEN, with "
            "permissions: statuses: write",
        )
    event = _event()
    pull = event.get("pull_request")
    group = event.get("merge_group")
    if isinstance(pull, dict) and isinstance(pull.get("head"), dict):
        head = pull["head"]
        found = _Head(sha=str(head.get("sha") or ""), branch=str(head.get("ref") or ""))
    elif isinstance(group, dict):
        found = _Head(sha=str(group.get("head_sha") or ""), branch="")
    else:
        raise ConfigError(
            "--status needs a pull_request or merge_group event (GITHUB_EVENT_PATH)",
            hint="run it in the pull request checks, on pull_request and merge_group",
        )
    if not found.sha:
        raise ConfigError("the event file names no head commit", hint="GITHUB_EVENT_PATH")
    if found.branch.startswith(PROPOSAL_PREFIX):
        click.echo(
            f"the status of {found.branch} is the reconciler's: it sets it on its proposals",
            err=True,
        )
        return None
    return found


def _set_status(settings: Settings, head: _Head, review: Review) -> None:
    from reconciler.adapters.github_forge import GitHubForge
    from reconciler.cli.compose import Environment
    from reconciler.core.approvals.feedback import STATUS_CONTEXT
    from reconciler.core.review.findings import ChangeClass

    env = Environment.read()
    if review.ok:
        state = "success"
        needed = review.count(ChangeClass.REQUIRES_APPROVAL)
        description = "Not a proposal of the reconciler's: the blueprint changes were checked" + (
            f"; {needed} need code owners' approval" if needed else ""
        )
    else:
        state = "failure"
        description = "An edit is forbidden, or a blueprint does not validate: see the check"
    assert settings.github_repository is not None
    with GitHubForge(
        settings.github_repository,
        env.github_token,
        base_url=settings.github_api_url,
        timeout=env.github_timeout,
    ) as forge:
        forge.commit_status(
            head.sha,
            state=state,
            description=description,
            context=STATUS_CONTEXT,
            target_url=env.run_url,
        )
    click.echo(f"status {STATUS_CONTEXT} on {head.sha[:12]}: {state}", err=True)


#: The branches the reconciler proposes on (`reconciler/<service>/<topic>`).
PROPOSAL_PREFIX = "reconciler/"


def _event() -> dict[str, object]:
    from reconciler.core.errors import ConfigError

    path = os.environ.get("GITHUB_EVENT_PATH")
    if not path:
        return {}
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigError(
            f"cannot read the event file GITHUB_EVENT_PATH={path}: {error}", hint="check the path"
        ) from error
    return event if isinstance(event, dict) else {}


def _event_pull_request() -> int | None:
    """`pull_request.number` from the Actions event file, when there is one."""
    from reconciler.core.errors import ConfigError

    path = os.environ.get("GITHUB_EVENT_PATH")
    if not path:
        return None
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigError(
            f"cannot read the event file GITHUB_EVENT_PATH={path}: {error}",
            hint="pass --pr N",
        ) from error
    pull = event.get("pull_request") if isinstance(event, dict) else None
    number = pull.get("number") if isinstance(pull, dict) else None
    return number if isinstance(number, int) and number > 0 else None


def _post(settings: Settings, target: _Target, body: str) -> None:
    from reconciler.adapters.github_comments import GitHubPullComments
    from reconciler.cli.compose import Environment
    from reconciler.core.review.findings import COMMENT_MARKER

    comments = GitHubPullComments(
        target.repository,
        target.token,
        base_url=settings.github_api_url,
        timeout=Environment.read().github_timeout,
    )
    try:
        result = comments.upsert(target.number, COMMENT_MARKER, body)
    finally:
        comments.disconnect()
    action = "created" if result.created else "updated" if result.changed else "unchanged"
    where = f": {result.url}" if result.url else ""
    click.echo(f"comment on pull request #{target.number} {action}{where}", err=True)


# ---------------------------------------------------------------------------------------------
# codeowners

CODEOWNERS_PATH = Path(".github/CODEOWNERS")


@click.command("codeowners")
@click.option(
    "--org",
    help="GitHub organisation of the teams in the global policies' governance.teams "
    "(default: the owner part of --github-repository / GITHUB_REPOSITORY).",
)
@click.option(
    "--write",
    is_flag=True,
    help="Write .github/CODEOWNERS: replace the lines between the reconciler's markers (or "
    "append them), keeping every other line.",
)
@click.option(
    "--check",
    is_flag=True,
    help="Exit 1 with a diff when .github/CODEOWNERS is not what --write would make (for CI).",
)
@click.pass_obj
def codeowners_command(settings: Settings, org: str | None, write: bool, check: bool) -> None:
    """Print CODEOWNERS entries that make each blueprint's approvers its code owners.

    With branch protection's "Require review from Code Owners", only a blueprint's approvers
    can approve a pull request that changes it, which is what makes merging an approval:

    \b
      /blueprints/                the global approvers (new services, broken blueprints)
      /requests/                  the global approvers (requests of no known service)
      /blueprints/<service>/      the service's approvers and its rules' approvers
      /requests/<service>/        the same (one-off requests proposed for approval)
      /blueprints/governance/     the global approvers
      /blueprints/schema.json     the global approvers
      /.github/                   the global approvers (workflows, this file)
      /audit/                     the global approvers (no pull request may change it)

    Names become owners: @name stays; org/team becomes @org/team; a team listed under the
    global policies' governance.teams becomes @ORG/team (--org); an e-mail address stays; any
    other name is a user, @name. A blueprint that does not validate is reported and skipped
    (its folder falls back to the global approvers).

    \b
    Exit codes: 0 printed or written, or up to date; 1 --check found it out of date;
                2 usage; 3 no blueprint repository, the global policies do not validate,
                a team needs --org, or there are no global approvers.

    \b
    Examples:
      reconciler codeowners --org acme
      reconciler codeowners --write
      reconciler codeowners --check        # in CI, after `validate`
    """
    import difflib

    from reconciler.core.approvals.codeowners import codeowners_entries, merge_block, render_block
    from reconciler.core.errors import ConfigError
    from reconciler.core.problems import Severity, has_errors
    from reconciler.shell.workspace import load_fleet

    if write and check:
        raise click.UsageError("--write and --check do not go together: pick one")
    root = settings.root()
    fleet = load_fleet(root)
    fleet.require_policies()
    for problem in fleet.problems:
        if problem.severity is Severity.ERROR:
            click.echo(f"skipped: {problem.render()}", err=True)
    if not org and settings.github_repository and "/" in settings.github_repository:
        org = settings.github_repository.split("/", 1)[0]
    entries, problems = codeowners_entries(fleet.blueprints, fleet.policies, org=org)
    entries = with_trail_and_requests(entries)
    for problem in problems:
        click.echo(problem.render(), err=True)
    if has_errors(problems):
        # Writing what can be named would protect less than the blueprints say.
        raise ConfigError(
            "CODEOWNERS cannot name every approver; nothing was written",
            hint="see the errors above",
        )
    block = render_block(entries)
    if not (write or check):
        click.echo(block, nl=False)
        return
    path = root / CODEOWNERS_PATH
    current = path.read_text(encoding="utf-8") if path.is_file() else None
    wanted = merge_block(current, block)
    if write:
        if current != wanted:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(wanted, encoding="utf-8")
        click.echo(f"{CODEOWNERS_PATH}: {'unchanged' if current == wanted else 'written'}")
        return
    if current == wanted:
        click.echo(f"{CODEOWNERS_PATH} is up to date")
        return
    diff = difflib.unified_diff(
        (current or "").splitlines(keepends=True),
        wanted.splitlines(keepends=True),
        fromfile=f"{CODEOWNERS_PATH} (now)",
        tofile=f"{CODEOWNERS_PATH} (from the blueprints)",
    )
    click.echo("".join(diff), nl=False)
    click.echo(
        f"{CODEOWNERS_PATH} is out of date; run `reconciler codeowners --write` and commit it",
        err=True,
    )
    raise SystemExit(1)


def with_trail_and_requests(entries: list[Entry]) -> list[Entry]:
    """The entries with the global approvers also owning `/requests/` (before the services, so
    a request for a service without its own entry falls back to them, as check-change asks)
    and `/audit/` (last: no pull request may change the trail, and should one try, only the
    global approvers could let it through)."""
    from reconciler.core.approvals.codeowners import GLOBAL_PATHS, Entry

    owners = next((e.owners for e in entries if e.pattern == GLOBAL_PATHS[0]), None)
    if owners is None:  # no global approvers: codeowners_entries reported it
        return entries
    first = 1 if entries and entries[0].pattern == "/blueprints/" else 0
    return [
        *entries[:first],
        Entry(pattern="/requests/", owners=owners),
        *entries[first:],
        Entry(pattern="/audit/", owners=owners),
    ]
