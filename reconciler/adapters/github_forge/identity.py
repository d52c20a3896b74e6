"""Who is who on GitHub, for the forge: the account the token acts as, whether a pull request
is the reconciler's own, and whether a login is an approver.

An approver's kind (user or team) is decided by how it is written and by the global policies,
never by what exists on GitHub; a pull request on a proposal's branch is adopted only when the
token's own account opened it. Both keep a person from passing for an approver or for the
reconciler.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from reconciler.adapters.github_forge.api import GitHubApi, quote
from reconciler.core.errors import ForgeError

__all__ = ["Identity", "login_of"]

JSON = dict[str, Any]


def login_of(user: object) -> str | None:
    if isinstance(user, dict) and isinstance(user.get("login"), str):
        return str(user["login"])
    return None


class Identity:
    """The token's account, the repository's owner and the teams the policies declare."""

    def __init__(
        self, api: GitHubApi, *, owner: str, bot_login: str | None, teams: Collection[str]
    ) -> None:
        self._api = api
        self.owner = owner
        self.bot_login = bot_login
        #: Plain approver names the global policies declare as teams (`governance.teams`).
        self.teams = frozenset(team.lower() for team in teams)
        #: Which account the token acts as: `bot_login`, else asked once (None: unknown).
        self.known: str | None = bot_login
        self._asked = bot_login is not None
        self._members: dict[tuple[str, str], bool] = {}

    def whoami(self) -> str | None:
        """The login the token acts as: `bot_login` when given, else GitHub's answer to
        `GET /user`, asked once. None when GitHub will not say (a GitHub App's installation
        token is refused `GET /user`): give the bot login in the settings then."""
        from github import GithubException

        if not self._asked:
            self._asked = True
            try:
                me = self._api.get("/user")
            except GithubException as error:
                if error.status not in (401, 403, 404) or self._api.limit is not None:
                    raise
                me = None
            self.known = login_of(me)
        return self.known

    def require_own(self, pull: JSON, branch: str) -> None:
        """Refuse a pull request on a proposal's branch that the reconciler did not open:
        anyone who can push may open one there, and adopting it would make a person's pull
        request (its title, its body, its merge) pass for the reconciler's proposal."""
        author = login_of(pull.get("user")) or "an unknown account"
        me = self.whoami()
        if me is not None and author.lower() == me.lower():
            return
        number = pull.get("number")
        why = (
            "which the reconciler did not open"
            if me is not None
            else "and the reconciler cannot tell whether it opened it (GitHub does not say "
            "which account the token acts as: set the bot login)"
        )
        raise ForgeError(
            f"the branch {branch} has pull request #{number} by {author}, {why}: it is not "
            "adopted, and its merge approves nothing",
            hint=f"close #{number} (or move it to another branch); the next run proposes again",
        )

    def is_member(self, approver: str, login: str) -> bool:
        """`login` is the approver, or an active member of the team it names.

        Which an approver is must not depend on what exists on GitHub, or anyone able to
        create a team (or to register a login) could become an approver: a team named `alice`
        holding mallory, or a user called `devops-team`. So an approver is a team when it is
        written `org/slug` (or `@org/slug`), or when it is a plain name the global policies
        declare in `governance.teams` (a team of the repository's owner); any other plain
        name is a user's login and matches that login only. Answers are kept for the forge's
        lifetime: a cycle asks the same question for many proposals."""
        approver = approver.strip().removeprefix("@")
        if not approver or not login:
            return False
        key = (approver.lower(), login.lower())
        if key in self._members:
            return self._members[key]
        if "/" not in approver and approver.lower() not in self.teams:
            answer = approver.lower() == login.lower()
            self._members[key] = answer
            return answer
        org, _, slug = approver.rpartition("/")
        org = org or self.owner
        with self._api.translate(f"checking whether {login} belongs to {org}/{slug}"):
            path = f"/orgs/{quote(org)}/teams/{quote(slug)}/memberships/{quote(login)}"
            membership = self._api.get(path, missing=True)
        answer = isinstance(membership, dict) and membership.get("state") == "active"
        self._members[key] = answer
        return answer
