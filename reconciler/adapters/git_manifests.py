"""GitManifests: changes made through git, as commits to the branch Argo CD or Flux applies.

Two ways to reach the branch:

- **Local**: the manifests are in the blueprint repository and nothing is pushed (a try-out,
  the demo). The commit is built from trees with pygit2, as the audit store's are, on the
  branch checked out (or the one `spec.manifests.branch` names); the checkout and the index
  follow for the files it changed, unless a person has edited them.
- **Remote**: the branch lives on a remote (the blueprint repository's own when the run
  pushes, or another repository). Each attempt fetches the branch, applies the edit to what
  the tip holds (so a person's commit that landed meanwhile is seen, and a changed value is a
  conflict, never overwritten), makes the commit on that tip and pushes it. A push that loses
  a race is not rebased as text: the edit is made again on the new tip, which is what a
  rebase of a one-value change does, with the check that the value is still the expected one.

The git command line does the network part, for the reasons `git_remote` gives; objects are
fetched into the blueprint repository under `refs/reconciler/manifests/`.

Another repository is named by URL (or a path), or as `owner/name` on the forge: then it is
reached over HTTPS at the forge's server (GITHUB_SERVER_URL) with the token the run was given,
sent as the header actions/checkout sends. The header goes to git through its environment
(`GIT_CONFIG_*`), never on a command line or in a URL, so no process listing, error message,
remote-tracking ref or log line can show it; and git is told never to prompt for one.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from reconciler.adapters.git_command import REJECTED, GitCommand, last_line, without_credentials
from reconciler.adapters.gitrepo import read_file, write_files
from reconciler.core.blueprint.model import Manifests
from reconciler.core.errors import ClusterError, ConfigError

if TYPE_CHECKING:
    import subprocess

    import pygit2

    # The commit a change becomes is loaded by the methods that read or write one: a run
    # whose blueprints do not write back builds this store and never calls them.
    from reconciler.core.gitops.writeback import ManifestEdit, OwnCommit, Snapshot, Written

__all__ = ["FORGE_REPOSITORY", "GitManifests", "on_forge"]

#: A repository named as the forge names it (`owner/name`), reached at the forge's server.
FORGE_REPOSITORY = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}")


def on_forge(repository: str) -> bool:
    """Whether `spec.manifests.repository` names a repository on the forge (`owner/name`)
    rather than a URL or a path git fetches from as it is."""
    return FORGE_REPOSITORY.fullmatch(repository) is not None and not repository.endswith(
        (".", "/")
    )


_MISSING = ("couldn't find remote ref", "could not find remote ref")
#: How far back `read` looks for the commit that last changed a location's files.
CHANGED_BY_DEPTH = 1000
#: How far back (first parents from the tip) `own_commits` looks for the reconciler's own
#: commits: a run that died before recording one is found by the next few runs, long before
#: this many commits land on the branch.
OWN_COMMITS_DEPTH = 200


def _blob(commit: pygit2.Commit, path: str) -> str | None:
    try:
        return str(commit.tree[path].id)
    except KeyError:
        return None


class GitManifests:
    """The ManifestStore port on git."""

    def __init__(
        self,
        root: Path,
        *,
        remote: str = "",
        branch: str = "",
        name: str = "reconciler",
        email: str = "reconciler@localhost",
        attempts: int = 10,
        pause: float = 0.5,
        max_pause: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
        forge_url: str = "https://github.com",
        token: str = "",
        token_source: str = "RECONCILER_MANIFESTS_TOKEN",
    ) -> None:
        """`remote` (a configured remote's name, or "") is where the blueprint repository's
        own branch is pushed; `branch` the branch the run pushes (default: the checked-out
        one). A location in another repository always goes through that repository; one
        named `owner/name` is at `forge_url`, reached with `token` (named in messages by
        `token_source`, the variable it came from; the token itself never is)."""
        import pygit2

        self._pygit2 = pygit2
        self._repo: pygit2.Repository | None = None
        self.root = root
        self.remote = remote
        self.branch = branch
        self.name = name
        self.email = email
        self.attempts = attempts
        self.pause = pause
        self.max_pause = max_pause
        self._sleep = sleep
        self.forge_url = forge_url.rstrip("/")
        self._token = token
        self.token_source = token_source
        #: The addresses made for repositories named `owner/name`: only commands reaching
        #: one of them carry the token.
        self._on_forge: set[str] = set()
        self._command = GitCommand(
            root, error=ClusterError, needs="the manifests cannot be written"
        )

    @property
    def repo(self) -> pygit2.Repository:
        """The blueprint repository, opened when first needed: a run whose services all act
        on the cluster directly needs no repository of manifests."""
        if self._repo is None:
            try:
                self._repo = self._pygit2.Repository(str(self.root))
            except self._pygit2.GitError as error:
                raise ConfigError(
                    f"{self.root} is not a git repository: {error}",
                    hint="the manifests are written with git; run inside a clone",
                ) from error
        return self._repo

    # ------------------------------------------------------------------ where

    def _where(self, manifests: Manifests) -> tuple[str, str]:
        """(remote, branch): remote "" means the local branch."""
        if manifests.repository:
            address = self._address(manifests.repository)
            return address, manifests.branch or self._default_branch(address)
        if self.remote:
            return self.remote, manifests.branch or self.branch or self._checked_out()
        return "", manifests.branch or self._checked_out()

    def _address(self, repository: str) -> str:
        """What git fetches from: the forge's HTTPS address for `owner/name`, else as given."""
        if on_forge(repository):
            address = f"{self.forge_url}/{repository}.git"
            self._on_forge.add(address)
            return address
        return repository

    def _environment(self, remote: str) -> dict[str, str]:
        """git's environment: never a prompt for credentials (a run has no one to answer),
        and, for a command that reaches a repository named `owner/name`, the token as the
        forge's Authorization header. The empty value first drops any header the checkout's
        configuration holds for the server (actions/checkout's, for the blueprint repository
        alone), which would otherwise be sent beside it. A command that reaches anything
        else (the blueprint repository's own remote) runs with git's configuration as it is,
        whose credentials are the checkout's."""
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GCM_INTERACTIVE": "never"}
        if not self._token or remote not in self._on_forge:
            return env
        credential = base64.b64encode(f"x-access-token:{self._token}".encode()).decode()
        key = f"http.{self.forge_url}/.extraheader"
        count = int(env.get("GIT_CONFIG_COUNT", "0") or 0)
        for offset, value in enumerate(("", f"AUTHORIZATION: basic {credential}")):
            env[f"GIT_CONFIG_KEY_{count + offset}"] = key
            env[f"GIT_CONFIG_VALUE_{count + offset}"] = value
        env["GIT_CONFIG_COUNT"] = str(count + 2)
        return env

    def _access_hint(self, remote: str, access: str) -> str:
        """What to check when the remote refused: for the forge, the token and its scope."""
        if remote.startswith(f"{self.forge_url}/") and remote.endswith(".git"):
            repository = remote.removeprefix(f"{self.forge_url}/").removesuffix(".git")
            if not self._token:
                return (
                    f"set {self.token_source} to a token that may {access} {repository} "
                    "(contents: write; pull requests: write for proposals)"
                )
            return (
                f"check that the token in {self.token_source} may {access} {repository} "
                "(contents: write; pull requests: write for proposals) and that the "
                "repository exists"
            )
        return f"check the remote's address and that the token may {access} it"

    def _checked_out(self) -> str:
        head = self.repo.references.get("HEAD")
        target = head.target if head is not None else None
        if isinstance(target, str) and target.startswith("refs/heads/"):
            return target.removeprefix("refs/heads/")
        raise ClusterError(
            "HEAD is detached, so there is no branch to commit the manifests to",
            hint="check out the branch Argo CD or Flux applies, or set spec.manifests.branch",
        )

    def _default_branch(self, remote: str) -> str:
        shown = without_credentials(remote)
        result = self._git(
            "ls-remote", "--symref", remote, "HEAD", doing=f"asking {shown}", check=False,
            remote=remote,
        )  # fmt: skip
        if result.returncode != 0:
            raise ClusterError(
                f"asking {shown} for its default branch: {last_line(result.stderr)}",
                hint=self._access_hint(remote, "read"),
            )
        for line in result.stdout.splitlines():
            if line.startswith("ref: refs/heads/") and line.endswith("\tHEAD"):
                return line.removeprefix("ref: refs/heads/").split("\t", 1)[0]
        raise ClusterError(
            f"{without_credentials(remote)} does not say which branch is its default",
            hint="set spec.manifests.branch to the branch the GitOps tool applies",
        )

    def _tracking(self, remote: str, branch: str) -> str:
        key = hashlib.sha256(f"{remote}\n{branch}".encode()).hexdigest()[:16]
        return f"refs/reconciler/manifests/{key}"

    # ------------------------------------------------------------------ git

    def _git(
        self, *args: str, doing: str, check: bool = True, remote: str = ""
    ) -> subprocess.CompletedProcess[str]:
        """git with `args`; `remote` is the remote the command reaches, if any."""
        return self._command.run(
            *args,
            doing=doing,
            hint="check the remote's address and that the token may read it",
            check=check,
            env=self._environment(remote),
        )

    def _fetch(self, remote: str, branch: str) -> pygit2.Commit:
        ref = self._tracking(remote, branch)
        shown = f"{without_credentials(remote)}/{branch}"
        result = self._git(
            "fetch", "-q", "--no-tags", remote, f"+refs/heads/{branch}:{ref}",
            doing=f"fetching {shown}", check=False, remote=remote,
        )  # fmt: skip
        if result.returncode != 0:
            if any(marker in result.stderr for marker in _MISSING):
                raise ClusterError(
                    f"{shown} does not exist",
                    hint="set spec.manifests.branch to the branch the GitOps tool applies",
                )
            raise ClusterError(
                f"fetching {shown}: {last_line(result.stderr)}",
                hint=self._access_hint(remote, "read"),
            )
        return self.repo.revparse_single(ref).peel(self._pygit2.Commit)

    def _local_tip(self, branch: str) -> pygit2.Commit:
        ref = self.repo.references.get(f"refs/heads/{branch}")
        if ref is None:
            raise ClusterError(
                f"the branch {branch} does not exist in {self.root}",
                hint="set spec.manifests.branch to the branch the GitOps tool applies",
            )
        return ref.peel(self._pygit2.Commit)

    def _files(self, commit: pygit2.Commit, manifests: Manifests) -> dict[str, bytes | None]:
        return {path: read_file(self.repo, commit.tree, path) for path in manifests.files}

    # ------------------------------------------------------------------ the port

    def tip(self, manifests: Manifests) -> pygit2.Commit:
        """The newest commit of the branch the GitOps tool applies, fetched into the
        blueprint repository (`repo`) when it lives on a remote: what a tool watching that
        branch sees. Raises ClusterError when the branch cannot be reached."""
        remote, branch = self._where(manifests)
        return self._fetch(remote, branch) if remote else self._local_tip(branch)

    def read(self, manifests: Manifests) -> Snapshot:
        from reconciler.core.gitops.writeback import Snapshot

        remote, branch = self._where(manifests)
        tip = self._fetch(remote, branch) if remote else self._local_tip(branch)
        return Snapshot(
            commit=str(tip.id),
            branch=branch,
            files=self._files(tip, manifests),
            changed_by=self._changed_by(tip, manifests),
        )

    def _changed_by(self, tip: pygit2.Commit, manifests: Manifests) -> str:
        """The newest first-parent commit whose files differ from its first parent's."""
        commit = tip
        for _ in range(CHANGED_BY_DEPTH):
            if not commit.parents:
                return str(commit.id)
            parent = commit.parents[0]
            if any(_blob(commit, path) != _blob(parent, path) for path in manifests.files):
                return str(commit.id)
            commit = parent
        return ""

    def own_commits(self, manifests: Manifests, service: str) -> list[OwnCommit]:
        from reconciler.core.gitops.manifests import ManifestError, locate
        from reconciler.core.gitops.writeback import OwnCommit, Written, own_stamp, values

        remote, branch = self._where(manifests)
        tip = self._fetch(remote, branch) if remote else self._local_tip(branch)
        found: list[OwnCommit] = []
        commit = tip
        for _ in range(OWN_COMMITS_DEPTH):
            stamp = own_stamp(commit.message, service)
            if stamp is not None and commit.parents:
                parent = commit.parents[0]
                files = self._files(commit, manifests)
                changed = tuple(
                    path for path in manifests.files if _blob(commit, path) != _blob(parent, path)
                )
                with contextlib.suppress(ManifestError):
                    found.append(
                        OwnCommit(
                            written=Written(
                                commit=str(commit.id),
                                at=datetime.fromtimestamp(commit.commit_time, tz=UTC),
                                repository=manifests.repository,
                                branch=branch,
                                files=changed,
                                attempts=1 if remote else 0,
                                before=values(locate(manifests, self._files(parent, manifests))),
                                after=values(locate(manifests, files)),
                                subject=commit.message.split("\n", 1)[0],
                            ),
                            stamp=stamp,
                        )
                    )
            if not commit.parents:
                break
            commit = commit.parents[0]
        return found

    def write(self, edit: ManifestEdit, now: datetime) -> Written:
        from reconciler.core.gitops.writeback import Written

        manifests = edit.manifests
        remote, branch = self._where(manifests)
        if not remote:
            return self._commit_locally(edit, branch, now)
        shown = f"{without_credentials(remote)}/{branch}"
        last = ""
        for attempt in range(1, self.attempts + 1):
            tip = self._fetch(remote, branch)
            commit, before, after, changed = self._commit_on(tip, edit, now)
            result = self._git(
                "push", "-q", remote, f"{commit}:refs/heads/{branch}",
                doing=f"pushing to {shown}", check=False, remote=remote,
            )  # fmt: skip
            if result.returncode == 0:
                self.repo.references.create(self._tracking(remote, branch), commit, force=True)
                return Written(
                    commit=str(commit),
                    at=now,
                    repository=manifests.repository,
                    branch=branch,
                    files=changed,
                    attempts=attempt,
                    before=before,
                    after=after,
                    subject=edit.subject,
                )
            last = last_line(result.stderr)
            if not any(marker in result.stderr for marker in REJECTED):
                raise ClusterError(
                    f"pushing the manifests to {shown} failed: {last}",
                    hint=self._access_hint(remote, "push to")
                    + " (branch protection that requires pull requests refuses the "
                    "reconciler's commits)",
                )
            import random  # a lost race only

            backoff = min(self.pause * 2 ** (attempt - 1), self.max_pause)
            self._sleep(backoff * (0.5 + random.random()))
        raise ClusterError(
            f"pushing the manifests to {shown} was rejected {self.attempts} times ({last})",
            hint="others keep pushing to the branch; the next cycle tries again",
        )

    def _commit_on(
        self, tip: pygit2.Commit, edit: ManifestEdit, now: datetime
    ) -> tuple[Any, dict[str, int], dict[str, int], tuple[str, ...]]:
        """A commit on `tip` with the edit made to what the tip holds (not yet on a branch)."""
        from reconciler.core.gitops.manifests import ManifestError, locate
        from reconciler.core.gitops.writeback import ManifestConflict, rewrite, values

        files = self._files(tip, edit.manifests)
        try:
            before = values(locate(edit.manifests, files))
            new = rewrite(edit, files)
        except ManifestError as error:
            raise ClusterError(
                f"the manifests of {edit.service} at {str(tip.id)[:12]}: {error}",
                hint=error.hint,
            ) from None
        if not new:
            # Someone wrote the very value already (a person, or a merged proposal): nothing
            # to commit, and nothing of theirs to overwrite.
            raise ManifestConflict(
                f"{', '.join(edit.manifests.files)} already hold what {edit.operation_id} "
                f"sets, at {str(tip.id)[:12]}: someone else made the change",
                hint="nothing to commit; the next cycle works from what they hold",
                service=edit.service,
            )
        merged = {**files, **new}
        after = values(locate(edit.manifests, merged))
        tree = write_files(self.repo, tip.tree, new)
        moment = now.astimezone(UTC)
        signature = self._pygit2.Signature(self.name, self.email, int(moment.timestamp()), 0)
        commit = self.repo.create_commit(
            None, signature, signature, edit.message().render(), tree, [tip.id]
        )
        return commit, before, after, tuple(sorted(new))

    def _commit_locally(self, edit: ManifestEdit, branch: str, now: datetime) -> Written:
        from reconciler.core.gitops.writeback import Written

        name = f"refs/heads/{branch}"
        tip = self._local_tip(branch)
        commit, before, after, changed = self._commit_on(tip, edit, now)
        ref = self.repo.references.get(name)
        if ref is None or ref.target != tip.id:
            raise ClusterError(
                f"{branch} moved while the manifests were being committed",
                hint="another writer committed at the same time; the next cycle tries again",
            )
        ref.set_target(commit, "reconciler: manifests")
        head = self.repo.references.get("HEAD")
        if head is not None and head.target == name:
            self._follow(tip, commit, changed)
        return Written(
            commit=str(commit),
            at=now,
            repository=edit.manifests.repository,
            branch=branch,
            files=changed,
            attempts=0,
            before=before,
            after=after,
            subject=edit.subject,
        )

    def _follow(self, old: pygit2.Commit, new_id: Any, paths: tuple[str, ...]) -> None:
        """Bring the checkout and the index up to the new commit for `paths`, where they
        still hold the old content: a person's uncommitted edit of the file stays theirs."""
        if self.repo.is_bare or not self.repo.workdir:
            return
        new = cast("pygit2.Commit", self.repo[new_id])
        git = self._pygit2
        # The commit is made: nothing here may fail the change, only leave the checkout behind.
        with contextlib.suppress(git.GitError, OSError, KeyError, ValueError):
            index = self.repo.index
            index.read()
            for path in paths:
                was, now_blob = old.tree[path], new.tree[path]
                target = Path(self.repo.workdir) / path
                if target.is_file() and target.read_bytes() == read_file(self.repo, old.tree, path):
                    target.write_bytes(read_file(self.repo, new.tree, path) or b"")
                entry = index[path] if path in index else None  # noqa: SIM401 (no .get)
                if entry is not None and entry.id == was.id:
                    index.add(git.IndexEntry(path, now_blob.id, git.enums.FileMode(entry.mode)))
            index.write()
