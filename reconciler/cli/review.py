"""`reconciler check-change`: every blueprint edit between two revisions classified, and who
must approve it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler.cli.context import Settings, env_flag
from reconciler.cli.output import OUTPUT_OPTION, emit_json, table
from reconciler.cli.pull_request import comment_target, post_comment, set_status, status_target

if TYPE_CHECKING:
    import pygit2

    from reconciler.adapters.git_revisions import RevisionFiles
    from reconciler.core.problems import Problem
    from reconciler.core.review.findings import PathChange, Review, Snapshot


#: The help of the command below (as its docstring it would make the function too long).
_CHECK_CHANGE_HELP = """\
Classify every blueprint edit between git revisions BASE and HEAD, and say who must
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


@click.command("check-change", help=_CHECK_CHANGE_HELP)
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
    from reconciler.adapters.git_revisions import GitRevisions
    from reconciler.core.review.change import review_change
    from reconciler.core.review.comment import render_markdown

    if output == "json" and markdown == Path("-"):
        raise click.UsageError(
            "--markdown - prints the comment instead of the table; "
            "it cannot be combined with -o json"
        )
    target = comment_target(settings, pull_request) if comment else None
    head_commit = status_target(settings) if status else None
    start = (settings.repo or Path.cwd()).resolve()
    revisions = GitRevisions(start, blueprint_root=_blueprint_root(settings))
    sides = [revisions.read(revision) for revision in (base, head)]
    snapshots = [_snapshot(side, start) for side in sides]
    changes = _path_changes(start, revisions.subdirectory, sides[0].commit, sides[1].commit)
    review = review_change(snapshots[0], snapshots[1], changes)

    if annotations if annotations is not None else env_flag("GITHUB_ACTIONS"):
        to_stdout = output == "text" and markdown != Path("-")
        _annotate(review, revisions.subdirectory, to_stdout=to_stdout)
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
        post_comment(settings, target, body)
    if head_commit is not None:
        set_status(settings, head_commit, review)
    if not review.ok:
        raise SystemExit(1)


def _annotate(review: Review, subdirectory: str, *, to_stdout: bool) -> None:
    """An ::error or ::warning annotation for each edit that is not simply allowed, naming
    files from the top of the git repository."""
    from reconciler.core.review.findings import ChangeClass

    for finding in review.findings:
        if finding.change_class is not ChangeClass.ALLOWED:
            problem = finding.as_problem()
            if subdirectory:
                problem = _under(problem, subdirectory)
            click.echo(problem.annotation(), err=not to_stdout)


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
