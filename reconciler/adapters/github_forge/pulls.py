"""The writes and lookups behind a proposal on GitHub: its branch, its pull request, labels,
reviewers and the reconciler's comments.

Every write here is safe to repeat after a lost answer, because GitHub may have acted on a
request whose answer never came: a branch that exists is reset, a pull request is looked for
before a second create, a comment carries a hidden marker and is looked for before it is
posted. Labels and review requests are best effort: they must never cost the proposal.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from reconciler.adapters.github_forge.api import GitHubApi, Stopped, quote
from reconciler.adapters.github_forge.identity import Identity
from reconciler.adapters.github_forge.limits import github_message
from reconciler.adapters.github_forge.proposals import ProposalReader
from reconciler.core.approvals.proposals import CommentTopic, Draft, Proposal, comment_marker
from reconciler.core.errors import ForgeError

__all__ = ["LISTING_TTL", "PullRequests"]

JSON = dict[str, Any]
_log = logging.getLogger(__name__)

#: The open pull requests listed once a run (100 a page): beyond, proposals are asked alone.
_OPEN_PULLS_PAGES = 10
#: How long a listing of the open pull requests stands for them: about one cycle. A run that
#: waits for verifications (`--wait`) lists again in its later passes.
LISTING_TTL = 10.0
#: The most comments read when looking for the reconciler's own (100 a page).
_COMMENT_PAGES = 10


class PullRequests:
    """One repository's branches and pull requests, as the forge writes and finds them."""

    def __init__(
        self,
        api: GitHubApi,
        *,
        repo_path: str,
        identity: Identity,
        reader: ProposalReader,
        base_branch: str | None,
        listing_ttl: float,
    ) -> None:
        self._api = api
        self._path = repo_path
        self._identity = identity
        self._reader = reader
        self._base_branch = base_branch
        self._repo_checked = False
        #: The open pull requests by number, listed once a run (None: not listed yet).
        self._listed: dict[int, JSON] | None = None
        self._listed_at = 0.0
        self._listing_ttl = listing_ttl

    # ------------------------------------------------------------------ branches

    def base(self) -> str:
        """The base branch: as configured, else the repository's default (asked once)."""
        if self._base_branch is None:
            self._base_branch = str(self._api.get(self._path)["default_branch"])
            self._repo_checked = True
        return self._base_branch

    def check_repository(self) -> None:
        """Make a 404 on the repository itself an error, not a vanished pull request."""
        if not self._repo_checked:
            self._api.get(self._path)
            self._repo_checked = True

    def write_branch(self, draft: Draft, *, create: bool) -> str:
        """One commit on top of the base tip with exactly `draft.files` changed, and the
        branch pointed at it (created, or reset when it exists). Returns the commit's SHA."""
        base = self.base()
        tip = self._api.get(f"{self._path}/branches/{quote(base)}")["commit"]
        tree = self._api.write(
            "POST",
            f"{self._path}/git/trees",
            {
                "base_tree": tip["commit"]["tree"]["sha"],
                "tree": [
                    {"path": path, "mode": "100644", "type": "blob", "content": content}
                    for path, content in sorted(draft.files.items())
                ],
            },
        )
        commit = self._api.write(
            "POST",
            f"{self._path}/git/commits",
            {
                "message": draft.commit_message or draft.title,
                "tree": tree["sha"],
                "parents": [tip["sha"]],
            },
        )
        sha = str(commit["sha"])
        # Who wrote it is known without asking: the account the token acts as.
        author = (commit.get("author") or {}).get("name") if isinstance(commit, dict) else None
        self._reader.wrote(sha, self._identity.known or str(author or ""), draft.files)
        ref = f"refs/heads/{draft.branch}"
        created = False
        if create:
            created = self._create_ref(ref, sha)
        if not created:  # updating, or the branch is left over from an earlier try
            self._api.write("PATCH", f"{self._path}/git/{quote(ref)}", {"sha": sha, "force": True})
        return sha

    def _create_ref(self, ref: str, sha: str) -> bool:
        """Create the branch; False when it exists already."""
        from github import GithubException

        try:
            self._api.write("POST", f"{self._path}/git/refs", {"ref": ref, "sha": sha})
        except GithubException as error:
            if error.status == 422 and "already exists" in github_message(error.data):
                return False
            raise
        return True

    def delete_branch(self, branch: str) -> None:
        """Delete a branch; one already gone is fine."""
        ref = f"{self._path}/git/refs/heads/{quote(branch)}"
        self._api.write("DELETE", ref, None, missing=(404, 422))

    # ------------------------------------------------------------------ pull requests

    def open_pulls(self) -> dict[int, JSON]:
        """The open pull requests by number, listed once a run: one request per hundred
        however many proposals are open, instead of one per proposal. A pull request that
        changes later in the run is asked for again (`unlist`)."""
        if self._listed is None or time.monotonic() - self._listed_at >= self._listing_ttl:
            listed: dict[int, JSON] = {}
            for page in range(1, _OPEN_PULLS_PAGES + 1):
                found = self._api.get(
                    f"{self._path}/pulls",
                    params={"state": "open", "per_page": 100, "page": page},
                )
                found = found if isinstance(found, list) else []
                for pull in found:
                    if isinstance(pull, dict) and isinstance(pull.get("number"), int):
                        listed[int(pull["number"])] = pull
                if len(found) < 100:
                    break
            self._listed, self._listed_at = listed, time.monotonic()
        return self._listed

    def unlist(self, number: int | None) -> None:
        """Forget a pull request's listed state after changing it."""
        if self._listed is not None and number is not None:
            self._listed.pop(number, None)

    def open_pull(self, branch: str) -> JSON | None:
        found = self._api.get(
            f"{self._path}/pulls",
            params={"state": "open", "head": f"{self._identity.owner}:{branch}", "per_page": 1},
        )
        return found[0] if found else None

    def create_pull(self, draft: Draft) -> JSON:
        """The pull request for the branch `write_branch` just wrote.

        A 5xx or a timeout may hide a pull request that was created anyway: look before
        trying a second and last time. GitHub allows one open pull request per head and base,
        so a duplicate comes back as 422 "A pull request already exists", and is adopted."""
        from github import GithubException
        from requests import ConnectionError, Timeout

        body = {
            "title": draft.title,
            "body": draft.body,
            "head": draft.branch,
            "base": self.base(),
        }
        path = f"{self._path}/pulls"
        exists = False
        try:
            return dict(self._api.write("POST", path, body))
        except GithubException as error:
            exists = error.status == 422 and "already exists" in github_message(error.data)
            if not exists and error.status < 500:
                raise
        except (Timeout, ConnectionError):
            pass
        existing = self.open_pull(draft.branch)
        if existing is None:
            return dict(self._api.write("POST", path, body))
        if exists:
            # GitHub refused a second pull request on the branch: the one there was opened
            # before ours, and may be anyone's.
            self._identity.require_own(existing, draft.branch)
        # Otherwise it appeared after this run looked and found none, while GitHub's answer
        # to creating ours was lost: it is ours, unless the token's account says otherwise.
        elif self._identity.whoami() is not None:
            self._identity.require_own(existing, draft.branch)
        return existing

    def number(self, proposal: Proposal) -> int:
        """The proposal's pull request number, looked up by branch when it is not known."""
        if proposal.number is not None:
            return proposal.number
        pull = self.open_pull(proposal.branch)
        if pull is None:
            raise ForgeError(f"branch {proposal.branch} has no open pull request")
        self._identity.require_own(pull, proposal.branch)
        return int(pull["number"])

    # ------------------------------------------------------------------ labels and reviews

    def ensure_labels(self, pull: JSON, labels: Sequence[str]) -> JSON:
        """Add the draft's labels the pull request lacks (GitHub creates unknown ones)."""
        have = {str(label.get("name", "")).lower() for label in pull.get("labels") or []}
        missing = [label for label in labels if label.lower() not in have]
        if not missing:
            return pull
        number = pull["number"]
        added = self.label(number, "POST", missing)
        return {**pull, "labels": added if isinstance(added, list) else pull.get("labels")}

    def label(self, number: int, verb: str, labels: Sequence[str]) -> Any:
        """Add (POST) or set (PUT) a pull request's labels. Labels are for people, not for
        the reconciler, which finds its proposals by branch; so a token that may not label (a
        job's GITHUB_TOKEN with only contents and pull-requests, when a label is new) costs the
        labels, not the proposal."""
        from github import GithubException
        from requests import RequestException

        try:
            return self._api.write(
                verb, f"{self._path}/issues/{number}/labels", {"labels": list(labels)}
            )
        except (GithubException, RequestException, Stopped) as error:
            refused = isinstance(error, GithubException) and error.status in (403, 404, 422)
            fix = (
                "create the labels once, or give the token issues: write"
                if refused and self._api.limit is None
                else "the next run adds them"
            )
            _log.warning(
                "could not label #%d with %s: %s (%s)",
                number,
                ", ".join(labels),
                self._api.why(error),
                fix,
            )
            return None

    def _reviewers(self, number: int, reviewers: Sequence[str]) -> tuple[list[str], list[str]]:
        """The users and the teams to ask, as GitHub wants them: a plain name the global
        policies declare a team is a team of the owner (as `is_member` reads it), the bot is
        never asked, and teams outside the owner cannot be."""
        users: list[str] = []
        teams: list[str] = []
        bot = self._identity.bot_login
        for name in dict.fromkeys(reviewers):
            org, _, slug = name.removeprefix("@").rpartition("/")
            if not org and slug.lower() in self._identity.teams:
                # GitHub refuses a team's slug among the users.
                teams.append(slug)
            elif not org:
                if bot is None or name.lower() != bot.lower():
                    users.append(name)
            elif org.lower() == self._identity.owner.lower():
                teams.append(slug)
            else:
                owner = self._identity.owner
                _log.warning(
                    "not asking %s to review #%d: teams outside %s cannot", name, number, owner
                )
        return users, teams

    def request_reviews(self, number: int, reviewers: Sequence[str]) -> None:
        """Ask the draft's reviewers; a refusal (the author cannot review their own pull
        request, someone without access) never fails `open`. When GitHub refuses the whole
        list (422), each reviewer is asked alone so one bad name does not cost the others."""
        from github import GithubException
        from requests import RequestException

        users, teams = self._reviewers(number, reviewers)
        if not users and not teams:
            return
        path = f"{self._path}/pulls/{number}/requested_reviewers"
        try:
            self._api.write("POST", path, {"reviewers": users, "team_reviewers": teams})
            return
        except (GithubException, RequestException, Stopped) as error:
            if getattr(error, "status", None) != 422 or len(users) + len(teams) == 1:
                self._review_refused(number, [*users, *teams], error)
                return
        asks: list[tuple[list[str], list[str]]] = [([user], []) for user in users]
        asks += [([], [team]) for team in teams]
        for some_users, some_teams in asks:
            try:
                self._api.write(
                    "POST", path, {"reviewers": some_users, "team_reviewers": some_teams}
                )
            except (GithubException, RequestException, Stopped) as error:
                self._review_refused(number, [*some_users, *some_teams], error)

    def _review_refused(self, number: int, names: Sequence[str], error: Exception) -> None:
        _log.warning(
            "could not ask %s to review #%d: %s", ", ".join(names), number, self._api.why(error)
        )

    # ------------------------------------------------------------------ comments

    def comment_once(self, number: int, text: str, topic: CommentTopic) -> None:
        """Post the reconciler's comment on `topic`, unless it is there already: a run whose
        answer was lost may have posted it. The topic's marker opens the comment (a person
        quoting it starts with `>`, so a quote is never taken for it)."""
        marker = comment_marker(topic)
        if self.find_comment(number, marker) is not None:
            return
        path = f"{self._path}/issues/{number}/comments"
        self._api.write("POST", path, {"body": f"{marker}\n{text}"})

    def find_comment(self, number: int, marker: str) -> JSON | None:
        """The oldest comment on issue or pull request `number` that starts with `marker`."""
        path = f"{self._path}/issues/{number}/comments"
        for page in range(1, _COMMENT_PAGES + 1):
            comments = self._api.get(path, params={"per_page": 100, "page": page})
            comments = comments if isinstance(comments, list) else []
            for item in comments:
                if isinstance(item, dict) and str(item.get("body") or "").startswith(marker):
                    return item
            if len(comments) < 100:
                break
        return None
