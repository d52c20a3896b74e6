"""LocalForge: approval proposals as branches of the same repository, the embedded default.

A proposal is a branch `reconciler/<service>/<topic>` with one commit on the main branch;
merging it (`git merge --no-ff`) is the approval and its author the approver, deleting it the
rejection. What a merge approved is read from the merge commit, and which files count is the
caller's trail to say. Comments are git notes. Anyone can set a git author, so this forge is
for trying the workflow out; docs/architecture.md has the reasoning.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.adapters.gitrepo import read_file, write_error, write_files
from reconciler.core.approvals.feedback import ProposalStatus
from reconciler.core.approvals.proposals import (
    CommentTopic,
    Draft,
    Proposal,
    ProposalState,
    comment_marker,
    parse_metadata,
)
from reconciler.core.errors import ConfigError, ForgeError

if TYPE_CHECKING:
    import pygit2

__all__ = ["NOTES_REF", "LocalForge"]

NOTES_REF = "refs/notes/reconciler"


class LocalForge:
    def __init__(
        self,
        root: Path,
        *,
        name: str = "reconciler",
        email: str = "reconciler@localhost",
        teams: Mapping[str, tuple[str, ...]] | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        import pygit2

        self._git = pygit2
        try:
            self.repo = pygit2.Repository(str(root))
        except pygit2.GitError as error:
            raise ConfigError(f"{root} is not a git repository: {error}") from error
        if self.repo.head_is_unborn or self.repo.head_is_detached:
            raise ConfigError(
                "the local forge needs a checked-out branch to propose changes against",
                hint="check out the main branch",
            )
        self.base = self.repo.head.shorthand
        self.name, self.email = name, email
        self.teams = {k.lower(): tuple(m.lower() for m in v) for k, v in (teams or {}).items()}
        self._now = now or (lambda: datetime.now(UTC))

    # ------------------------------------------------------------------ helpers

    def _signature(self) -> pygit2.Signature:
        return self._git.Signature(self.name, self.email, int(self._now().timestamp()), 0)

    def _base_tip(self) -> pygit2.Commit:
        return self.repo.revparse_single(f"refs/heads/{self.base}").peel(self._git.Commit)

    def _commit(self, draft: Draft) -> pygit2.Oid:
        base = self._base_tip()
        tree = write_files(self.repo, base.tree, {p: c.encode() for p, c in draft.files.items()})
        message = f"{draft.title}\n\n{draft.body}\n"
        signature = self._signature()
        return self.repo.create_commit(None, signature, signature, message, tree, [base.id])

    def _proposal_commit(self, head: pygit2.Commit) -> pygit2.Commit:
        """The reconciler's commit on the branch (a person may have added commits after it)."""
        base = self._base_tip().id
        for commit in self.repo.walk(head.id, self._git.enums.SortMode.TOPOLOGICAL):
            if "reconciler:proposal" in commit.message:
                return commit
            if commit.id == base:
                break
        return head

    def _merged_by(self, head: pygit2.Oid) -> tuple[pygit2.Commit | None, bool]:
        """The commit on the main branch's first-parent line that brought `head` in, and
        whether `head` is in the main branch at all."""
        tip = self._base_tip()
        if tip.id != head and not self.repo.descendant_of(tip.id, head):
            return None, False
        commit: pygit2.Commit | None = tip
        while commit is not None:
            parent = commit.parents[0] if commit.parents else None
            inside_parent = parent is not None and (
                parent.id == head or self.repo.descendant_of(parent.id, head)
            )
            if not inside_parent:
                return commit, True
            commit = parent
        return None, True

    def _to_proposal(
        self,
        branch: str,
        head: pygit2.Commit,
        state: ProposalState,
        paths: Sequence[str],
        *,
        branch_gone: bool = False,
        known_head: str = "",
    ) -> Proposal:
        own = self._proposal_commit(head)
        title, _, body = own.message.partition("\n\n")
        metadata = parse_metadata(body)
        merged_by = merged_at = merge_commit = None
        changed: tuple[str, ...] | None = None
        landed = head
        if state is ProposalState.MERGED:
            merger, _inside = self._merged_by(head.id)
            if merger is not None and merger.id != head.id and len(merger.parents) > 1:
                merged_by = f"{merger.author.name} <{merger.author.email}>"
                merged_at = datetime.fromtimestamp(merger.commit_time, UTC)
                merge_commit = str(merger.id)
                landed = merger
                # What the merge brought onto the main branch, whatever the branch carried.
                changed = self._changed(merger.parents[0], merger)
            else:
                landed, changed = self._fast_forwarded(own, head, branch_gone=branch_gone)
        elif state is ProposalState.OPEN and known_head and str(head.id) != known_head:
            changed = self._would_bring(head)
        return Proposal(
            key=str(metadata.get("key", branch)),
            branch=branch,
            state=state,
            head=str(head.id),
            title=title.strip(),
            body=body.strip(),
            url=f"branch {branch}",
            created_at=datetime.fromtimestamp(own.commit_time, UTC),
            merged_by=merged_by,
            merged_at=merged_at,
            merge_commit=merge_commit,
            head_author=f"{head.author.name} <{head.author.email}>",
            files=self._files(landed, paths),
            changed=changed,
            labels=tuple(metadata.get("labels", ())),
        )

    def _fast_forwarded(
        self, own: pygit2.Commit, head: pygit2.Commit, *, branch_gone: bool
    ) -> tuple[pygit2.Commit, tuple[str, ...] | None]:
        """Where a merge without a merge commit landed, and what the proposal's commit
        changed. No merge commit (a fast-forward) and no branch: which commit ended the
        branch is unknown, so the main branch stands witness. Such a merge names no approver
        and is refused anyway; this is what its hold compares with."""
        landed = self._base_tip() if branch_gone else head
        changed = self._changed(own.parents[0], head) if own.parents else None
        return landed, changed

    def _would_bring(self, head: pygit2.Commit) -> tuple[str, ...] | None:
        """What merging an open proposal now would bring: the branch against where it left
        the base (None: they share no history)."""
        # pygit2's stub says an Oid, but unrelated histories give None.
        fork: pygit2.Oid | None = self.repo.merge_base(self._base_tip().id, head.id)
        if fork is not None:
            return self._changed(self.repo[fork].peel(self._git.Commit), head)
        return None

    def _files(self, landed: pygit2.Commit, paths: Sequence[str]) -> dict[str, str]:
        """Exactly the paths the caller names (from its own record of the proposal), as the
        commit holds them: a commit message on the branch is anyone's to write, and one
        listing no file would leave the merged blueprint unread."""
        files = {}
        for path in dict.fromkeys(paths):
            content = read_file(self.repo, landed.tree, str(path))
            if content is not None:
                files[str(path)] = content.decode("utf-8", errors="replace")
        return files

    def _changed(self, before: pygit2.Commit, after: pygit2.Commit) -> tuple[str, ...]:
        """Every path that differs between two commits (both names of a renamed file)."""
        diff = before.tree.diff_to_tree(after.tree)
        paths = {
            path for delta in diff.deltas for path in (delta.old_file.path, delta.new_file.path)
        }
        return tuple(sorted(paths))

    # ------------------------------------------------------------------ the Forge port

    def find(
        self,
        branch: str,
        number: int | None = None,
        head: str = "",
        paths: Sequence[str] = (),
    ) -> Proposal | None:
        ref = self.repo.references.get(f"refs/heads/{branch}")
        if ref is not None:
            tip = ref.peel(self._git.Commit)
            _merger, merged = self._merged_by(tip.id)
            state = ProposalState.MERGED if merged else ProposalState.OPEN
            return self._to_proposal(branch, tip, state, paths, known_head=head)
        if not head:
            return None
        try:
            known = self.repo[self._git.Oid(hex=head)].peel(self._git.Commit)
        except (KeyError, ValueError, self._git.GitError):
            return Proposal(key=branch, branch=branch, state=ProposalState.GONE, head=head)
        _merger, merged = self._merged_by(known.id)
        state = ProposalState.MERGED if merged else ProposalState.CLOSED
        return self._to_proposal(branch, known, state, paths, branch_gone=True)

    def open(self, draft: Draft) -> Proposal:
        existing = self.find(draft.branch, paths=sorted(draft.files))
        if existing is not None and existing.state is ProposalState.OPEN:
            return existing
        return self._write(draft)

    def update(self, proposal: Proposal, draft: Draft) -> Proposal:
        return self._write(draft)

    def _write(self, draft: Draft) -> Proposal:
        """Point the draft's branch at a fresh commit of its files."""
        ref = f"refs/heads/{draft.branch}"
        with self._writing(f"writing the proposal branch {draft.branch}", ref):
            commit = self._commit(draft)
            self.repo.references.create(ref, commit, force=True)
        return self._to_proposal(
            draft.branch,
            self.repo[commit].peel(self._git.Commit),
            ProposalState.OPEN,
            sorted(draft.files),
        )

    def label(self, proposal: Proposal, labels: Sequence[str]) -> None:
        """Branches have no labels."""

    def comment(self, proposal: Proposal, text: str, topic: CommentTopic) -> None:
        target = self._git.Oid(hex=proposal.head)
        signature = self._signature()
        previous = ""
        with contextlib.suppress(KeyError):  # no note yet
            previous = self.repo.lookup_note(str(target), NOTES_REF).message
        marker = comment_marker(topic)
        if marker in previous.splitlines():
            return  # one comment per topic
        text = f"{marker}\n{text}"
        message = f"{previous}\n---\n{text}\n" if previous else f"{text}\n"
        with self._writing(f"commenting on {proposal.branch}", NOTES_REF):
            self.repo.create_note(message, signature, signature, str(target), NOTES_REF, True)

    def report(self, proposal: Proposal, text: str, topic: CommentTopic) -> None:
        """The topic's section of the note on the proposal's tip, replaced when its text
        changed (the other sections are kept)."""
        target = self._git.Oid(hex=proposal.head)
        previous = ""
        with contextlib.suppress(KeyError):  # no note yet
            previous = self.repo.lookup_note(str(target), NOTES_REF).message
        marker = comment_marker(topic)
        sections = [part for part in previous.strip("\n").split("\n---\n") if part.strip()]
        wanted = f"{marker}\n{text}"
        kept = [part for part in sections if part.splitlines()[0] != marker]
        if wanted in sections:
            return
        message = "\n---\n".join([*kept, wanted]) + "\n"
        signature = self._signature()
        with self._writing(f"commenting on {proposal.branch}", NOTES_REF):
            self.repo.create_note(message, signature, signature, str(target), NOTES_REF, True)

    def set_status(self, proposal: Proposal, status: ProposalStatus) -> None:
        """A branch has no statuses: `reconciler approvals` says the same."""

    def halted(self) -> ForgeError | None:
        """Git has no rate limit."""
        return None

    def close(self, proposal: Proposal, comment: str) -> None:
        self.comment(proposal, comment, CommentTopic.CLOSING)
        name = f"refs/heads/{proposal.branch}"
        with self._writing(f"deleting the proposal branch {proposal.branch}", name, "packed-refs"):
            ref = self.repo.references.get(name)
            if ref is not None:
                ref.delete()

    @contextlib.contextmanager
    def _writing(self, doing: str, *refs: str) -> Iterator[None]:
        """Turn libgit2's failure to write `refs` into a ForgeError that names the git lock
        in the way, if one is: the service's error then says what to do."""
        try:
            yield
        except (self._git.GitError, OSError) as error:
            raise write_error(self.repo, error, doing, names=refs, kind=ForgeError) from error

    def is_member(self, approver: str, login: str) -> bool:
        """`login` is `Name <email>` from a merge commit; it matches an approver by name, by
        email, or by the email's local part, or through the global policies' teams."""
        who = _identities(login)
        wanted = approver.lower()
        if wanted in who:
            return True
        members = self.teams.get(wanted) or self.teams.get(wanted.rsplit("/", 1)[-1], ())
        return any(member in who for member in members)


def _identities(login: str) -> set[str]:
    name, _, rest = login.partition("<")
    email = rest.rstrip(">").strip().lower()
    found = {name.strip().lower(), login.strip().lower()}
    if email:
        found |= {email, email.split("@", 1)[0]}
    return {item for item in found if item}
