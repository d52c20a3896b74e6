"""GitHubPairedForge: a proposal whose manifests live in another repository, as two pull requests.

A pull request lives in one repository. When the manifests Argo CD or Flux apply are kept in
another one, a change that needs approval is made there: the proposal becomes a pair, the
pull request in the manifests repository editing the manifest, and the one in the blueprint
repository carrying the rest (the bound the change goes beyond, or the request file). The two
link each other in a comment. Merging the manifests half is the approval and the change.

Main design choice: to the core, the pair is one proposal (the Forge port, unchanged). Its
files are keyed as the proposal recorded them, a manifest as `owner/name:path`
(`core.approvals.proposals.elsewhere`), and `find` reports the pair as merged when the
manifests half is, by whoever merged that half, with the manifests as that merge left them
and the blueprint half's files beside them: the approval is then judged as any other (the
approvers, the digests of what was proposed, the expiry), and a merge by someone else is
refused and holds the service. A blueprint half merged alone lacks the manifests, so it
approves nothing. When the approval is granted (`set_status`), the blueprint half is merged by
the reconciler so that the blueprint follows; a half closed unmerged makes the pair rejected,
and when the pair ends, the other half is closed too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from reconciler.adapters.github_forge import GitHubForge
from reconciler.core.approvals.feedback import ProposalStatus, Standing
from reconciler.core.approvals.proposals import (
    CommentTopic,
    Draft,
    Proposal,
    ProposalState,
    elsewhere,
    where_is,
)
from reconciler.core.errors import ForgeError

__all__ = ["GitHubPairedForge"]

_log = logging.getLogger(__name__)

_ENDED = (ProposalState.CLOSED, ProposalState.GONE)


@dataclass(frozen=True, kw_only=True)
class _Pair:
    """The two halves of a proposal as last seen, by its branch."""

    repository: str
    own: Proposal | None
    other: Proposal | None


def _split(keys: Sequence[str]) -> tuple[list[str], str, list[str]]:
    """(the blueprint repository's paths, the other repository, its paths)."""
    own: list[str] = []
    repository, theirs = "", []
    for key in keys:
        where, path = where_is(key)
        if not where:
            own.append(key)
        elif not repository or where == repository:
            repository = where
            theirs.append(path)
        else:
            raise ForgeError(
                f"a proposal edits files in two other repositories ({repository}, {where})",
                hint="a blueprint's manifests live in one repository",
            )
    return own, repository, theirs


class GitHubPairedForge:
    """The Forge port on GitHub: pull requests in the blueprint repository (`forge`), paired
    with pull requests in the repositories holding manifests (`others`, by `owner/name`)."""

    def __init__(self, forge: GitHubForge, others: Mapping[str, GitHubForge]) -> None:
        #: The blueprint repository's forge; the dashboard and the run's usage report are its.
        self.primary = forge
        self.others = dict(others)
        self._pairs: dict[str, _Pair] = {}

    @property
    def repositories(self) -> frozenset[str]:
        """The other repositories this forge opens pull requests in."""
        return frozenset(self.others)

    def disconnect(self) -> None:
        for forge in (self.primary, *self.others.values()):
            forge.disconnect()

    def _other(self, repository: str) -> GitHubForge:
        forge = self.others.get(repository)
        if forge is None:
            raise ForgeError(
                f"no pull request can be opened in {repository}: the run has no forge for it",
                hint="name the repository in spec.manifests.repository and give the run "
                "RECONCILER_MANIFESTS_TOKEN for it",
            )
        return forge

    # ------------------------------------------------------------------ reading

    def find(
        self,
        branch: str,
        number: int | None = None,
        head: str = "",
        paths: Sequence[str] = (),
    ) -> Proposal | None:
        own_paths, repository, theirs = _split(paths)
        if not repository:
            return self.primary.find(branch, number, head, paths)
        own = self.primary.find(branch, number, head, own_paths)
        other = self._other(repository).find(branch, None, "", theirs)
        if (
            own is not None
            and other is not None
            and other.state is ProposalState.MERGED
            and own.state is ProposalState.OPEN
            and not own.files
        ):
            # The approval is judged by every proposed file: read the blueprint half's too.
            own = self.primary.find(branch, number, "", own_paths)
        self._pairs[branch] = _Pair(repository=repository, own=own, other=other)
        if own is None:
            return None
        return _as_one(own, other, repository, own_paths, head)

    def _pair(self, proposal: Proposal) -> _Pair | None:
        """The halves of a proposal this run has seen, else looked up by its branch in each
        other repository (a proposal closed without being read first)."""
        known = self._pairs.get(proposal.branch)
        if known is not None:
            return known
        for repository, forge in self.others.items():
            found = forge.find(proposal.branch)
            if found is not None:
                pair = _Pair(repository=repository, own=proposal, other=found)
                self._pairs[proposal.branch] = pair
                return pair
        return None

    # ------------------------------------------------------------------ writing

    def open(self, draft: Draft) -> Proposal:
        own_files, repository, theirs = self._split_files(draft.files)
        if not repository:
            return self.primary.open(draft)
        other = self._other(repository).open(replace(draft, files=theirs))
        own = self.primary.open(replace(draft, files=own_files))
        self._link(own, other, repository)
        self._pairs[draft.branch] = _Pair(repository=repository, own=own, other=other)
        return own

    def update(self, proposal: Proposal, draft: Draft) -> Proposal:
        own_files, repository, theirs = self._split_files(draft.files)
        if not repository:
            return self.primary.update(proposal, draft)
        forge = self._other(repository)
        found = forge.find(draft.branch)
        mine = replace(draft, files=theirs)
        other = (
            forge.update(found, mine)
            if found is not None and found.state is ProposalState.OPEN
            else forge.open(mine)
        )
        own = self.primary.update(proposal, replace(draft, files=own_files))
        self._link(own, other, repository)
        self._pairs[draft.branch] = _Pair(repository=repository, own=own, other=other)
        return own

    def _split_files(self, files: Mapping[str, str]) -> tuple[dict[str, str], str, dict[str, str]]:
        own, repository, theirs = _split(list(files))
        found = {where_is(key)[1]: files[key] for key in files if where_is(key)[0]}
        return {path: files[path] for path in own}, repository, {p: found[p] for p in theirs}

    def _link(self, own: Proposal, other: Proposal, repository: str) -> None:
        """One comment on each half naming the other (kept, never posted twice). Once both
        pull requests exist nothing fails the proposal: a comment GitHub refuses is logged,
        and the next update posts it."""
        _courtesy(
            self.primary.report,
            own,
            f"The manifests this proposal changes live in {repository}: its pull request is "
            f"{other.url or other.reference}. **Merging that pull request is the approval** "
            "(by an approver, before the proposal expires); once it is granted, the "
            "reconciler merges this one so the blueprint follows. Closing either withdraws "
            "both.",
            CommentTopic.PAIRED,
        )
        _courtesy(
            self._other(repository).report,
            other,
            f"This pull request edits the manifests for the proposal {own.url or own.reference} "
            f"in {self.primary.repository}. **Merging it is the approval and the change**, "
            "judged there (by an approver, before the proposal expires; a merge by anyone "
            "else holds the service). Closing either withdraws both.",
            CommentTopic.PAIRED,
        )

    # Labels and comments go to both halves; the blueprint half's answer is the port's, the
    # other half's is a courtesy (logged when refused), as the pair's links are.

    def label(self, proposal: Proposal, labels: Sequence[str]) -> None:
        self.primary.label(proposal, labels)
        pair = self._known(proposal)
        if pair is not None and pair.other is not None:
            self._other(pair.repository).label(pair.other, labels)

    def comment(self, proposal: Proposal, text: str, topic: CommentTopic) -> None:
        self.primary.comment(proposal, text, topic)
        pair = self._known(proposal)
        if pair is not None and pair.other is not None:
            _courtesy(self._other(pair.repository).comment, pair.other, text, topic)

    def report(self, proposal: Proposal, text: str, topic: CommentTopic) -> None:
        self.primary.report(proposal, text, topic)
        pair = self._known(proposal)
        if pair is not None and pair.other is not None:
            _courtesy(self._other(pair.repository).report, pair.other, text, topic)

    def close(self, proposal: Proposal, comment: str) -> None:
        pair = self._pair(proposal)
        if pair is None:
            self.primary.close(proposal, comment)
            return
        self._close_pair(_half(proposal, pair.own), pair, comment)

    def set_status(self, proposal: Proposal, status: ProposalStatus) -> None:
        pair = self._known(proposal)
        if pair is None:
            self.primary.set_status(proposal, status)
            return
        own = _half(proposal, pair.own)
        self.primary.set_status(own, status)
        if pair.other is not None:
            self._other(pair.repository).set_status(pair.other, status)
        if status.standing is Standing.GRANTED and own.state is ProposalState.OPEN:
            self._follow(own, pair)
        elif status.standing is Standing.ENDED:
            self._withdraw(own, pair)

    def _follow(self, own: Proposal, pair: _Pair) -> None:
        """Merge the blueprint half of a granted pair, as proposed (its head), so that the
        blueprint follows the approved manifests. Best effort, as statuses are: branch
        protection may refuse the reconciler, and then a person merges it."""
        number = own.number
        try:
            self.primary.request(
                "PUT",
                f"{self.primary.repo_path}/pulls/{number}/merge",
                doing=f"merging {own.reference}, approved in {pair.repository}",
                body={"sha": own.head, "merge_method": "merge"},
            )
        except ForgeError as error:
            _log.warning("could not merge %s: %s", own.reference, error)
            self.primary.report(
                own,
                f"The approval was granted in {pair.repository}, but the reconciler could not "
                f"merge this pull request ({error}). Merge it so that the blueprint follows.",
                CommentTopic.OUTCOME,
            )

    def _withdraw(self, own: Proposal, pair: _Pair) -> None:
        """The pair ended: when because a person closed one half unmerged, close the other.
        (A pair the reconciler ends itself, superseded or landed, it closes next, saying why.)"""
        halves = (own, pair.other)
        if any(half is not None and half.state in _ENDED for half in halves):
            text = "Withdrawn: the other pull request of this proposal was closed without merging."
            self._close_pair(own, pair, text)

    def _close_pair(self, own: Proposal, pair: _Pair, comment: str) -> None:
        """Close whichever half is still open, and remember both as closed."""
        if own.state is ProposalState.OPEN:
            self.primary.close(own, comment)
        other = pair.other
        if other is not None and other.state is ProposalState.OPEN:
            self._other(pair.repository).close(other, comment)
        # Closed now: a close that follows (expired, superseded) has nothing left to do.
        self._pairs[own.branch] = replace(
            pair,
            own=replace(own, state=ProposalState.CLOSED),
            other=None if other is None else replace(other, state=ProposalState.CLOSED),
        )

    def _known(self, proposal: Proposal) -> _Pair | None:
        return self._pairs.get(proposal.branch)

    def is_member(self, approver: str, login: str) -> bool:
        return self.primary.is_member(approver, login)

    def halted(self) -> ForgeError | None:
        for forge in (self.primary, *self.others.values()):
            stopped = forge.halted()
            if stopped is not None:
                return stopped
        return None


def _courtesy(
    say: Callable[[Proposal, str, CommentTopic], None],
    proposal: Proposal,
    text: str,
    topic: CommentTopic,
) -> None:
    """A comment that must not fail what already happened: logged when GitHub refuses it."""
    try:
        say(proposal, text, topic)
    except ForgeError as error:
        _log.warning("could not comment on %s: %s", proposal.url or proposal.reference, error)


def _half(proposal: Proposal, own: Proposal | None) -> Proposal:
    """The blueprint half as GitHub last showed it, for a request on that pull request alone."""
    return own if own is not None else proposal


def _as_one(
    own: Proposal,
    other: Proposal | None,
    repository: str,
    own_paths: Sequence[str],
    head: str,
) -> Proposal:
    """The pair as the one proposal the core judges."""
    if other is None:
        return own
    theirs = {elsewhere(repository, path): text for path, text in other.files.items()}
    if other.state is ProposalState.MERGED:
        if own.state is ProposalState.OPEN:
            files = {**own.files, **theirs}
            mine: tuple[str, ...] | None = (
                tuple(own_paths) if own.head == head or not head else own.changed
            )
        elif own.state is ProposalState.MERGED:
            files, mine = {**own.files, **theirs}, own.changed
        else:
            files, mine = dict(theirs), ()
        changed = (
            None
            if mine is None or other.changed is None
            else tuple(sorted({*mine, *(elsewhere(repository, path) for path in other.changed)}))
        )
        return replace(
            own,
            state=ProposalState.MERGED,
            merged_by=other.merged_by,
            merged_at=other.merged_at,
            merge_commit=other.merge_commit,
            files=files,
            changed=changed,
        )
    if other.state in _ENDED and own.state is ProposalState.OPEN:
        return replace(
            own,
            state=ProposalState.CLOSED,
            closed_by=other.closed_by,
            closed_at=other.closed_at,
        )
    # Open beside an open or ended half: the blueprint half tells. Merged alone, it lacks
    # the manifests, so its merge approves nothing.
    return own
