"""A fake GitHub REST API server for tests, backed by a real bare git repository.

Why it exists: the reconciler talks to GitHub through the real PyGithub client. Mocking PyGithub's
objects would test our assumptions about PyGithub instead of PyGithub itself, so tests point the
real client at this server (``Github(base_url=api.url, ...)``). It answers on the real paths with
the real JSON shapes, status codes, error bodies, pagination ``Link`` headers and rate-limit
headers, and it records every request so tests can count API calls precisely.

Main design choice: everything git already knows (branches, commits, trees, blobs, merge commits)
lives only in the bare repository, read afresh with pygit2 on every request. The fake itself
stores only what git cannot hold: users, teams, pull requests, labels, comments and reviews.
So a ``git push`` into the bare repository is visible to the very next API call (an open pull
request's ``head.sha`` follows its branch), and a merge made through the API is a real merge
commit that a ``git clone`` of the bare repository sees.

Known simplifications, each deliberate:

* one repository, owned by an organisation; every known user may read and write it;
* the merge commit's author and committer are the merging user (GitHub's web merges use
  ``GitHub <noreply@github.com>`` as committer; tests here want to see who merged);
* mergeability is computed synchronously (GitHub computes it in the background and may first
  answer ``mergeable: null``);
* a ``rebase`` merge replays the pull request's commits onto the base one by one, as the
  merging user (GitHub keeps each commit's author and makes the merging user committer); its
  ``merge_commit_sha`` is the commit the base branch was updated to, as GitHub documents.

Conditional requests are answered as GitHub answers them: every GET that succeeds carries an
``ETag`` (specific to the token that asked, as GitHub's are: a validator obtained with one token
never matches for another), single pull requests and issues carry ``Last-Modified`` too, and a
matching ``If-None-Match`` (or, without one, an ``If-Modified-Since`` no older than the
resource) gets ``304 Not Modified`` with no body. A 304 does not count against the rate limit;
:meth:`counted` says how many requests GitHub would have counted.

Beside pull requests the fake keeps plain issues (created, edited, listed, searched, closed,
commented on; they share the pull requests' numbers, as on GitHub) and commit statuses.

Faults GitHub really produces can be injected: any status on chosen requests (:meth:`fail`),
the primary and secondary rate limits with GitHub's headers and bodies
(:meth:`fail_rate_limit`), slow answers (:meth:`delay`), and a connection dropped after the
server carried out the request, so that the client never learns it succeeded (:meth:`drop`).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import math
import re
import socket
import threading
import traceback
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

import pygit2
from pygit2.enums import FileMode, SortMode

JSON = dict[str, Any]
GitObject = pygit2.Object | pygit2.Commit  # pygit2's stubs don't make Commit an Object
DOCS = "https://docs.github.com/rest"
RATE_LIMIT_DOCS = (
    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
)
PRIMARY_RATE_LIMIT_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
SECONDARY_RATE_LIMIT_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID {request_id}."
)
HOURLY_LIMIT = 5000
HTML_BASE = "https://github.com"
#: GitHub's caps on an issue's (or comment's) body, and on a commit status's description.
_BODY_LIMIT = 65536
_STATUS_DESCRIPTION_LIMIT = 140
_SHA_RE = re.compile(r"[0-9a-f]{40}")
_SHORT_SHA_RE = re.compile(r"[0-9a-f]{4,40}")
_TREE_MODES = {
    "100644": FileMode.BLOB,
    "100755": FileMode.BLOB_EXECUTABLE,
    "040000": FileMode.TREE,
    "160000": FileMode.COMMIT,
    "120000": FileMode.LINK,
}
_MODE_TYPES = {
    "100644": "blob",
    "100755": "blob",
    "120000": "blob",
    "040000": "tree",
    "160000": "commit",
}
_REVIEW_STATES = {
    "APPROVE": "APPROVED",
    "REQUEST_CHANGES": "CHANGES_REQUESTED",
    "COMMENT": "COMMENTED",
}
_DELTA_STATUS = {
    "A": "added",
    "D": "removed",
    "M": "modified",
    "R": "renamed",
    "C": "copied",
    "T": "changed",
}


# --------------------------------------------------------------------------------------------
# Public records and errors


@dataclass
class RequestRecord:
    """One HTTP request the fake received: what was asked, by whom, and what it answered.

    ``status`` is 0 while the request is still being served (for example while delayed).
    """

    method: str
    path: str
    query: dict[str, str]
    status: int
    user: str | None
    body: Any = None
    #: Whether GitHub would count it against the rate limit (a 304 or an unauthenticated
    #: request is not counted, nor is a look at ``/rate_limit`` or a search).
    counted: bool = False


class FakeGitHubError(RuntimeError):
    """GitHub refused the action; raised by the Python helpers, turned into a response by HTTP."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        errors: list[Any] | None = None,
        headers: Mapping[str, str] | None = None,
        documentation_url: str = DOCS,
    ) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        self.errors = errors
        self.headers = dict(headers or {})
        self.documentation_url = documentation_url

    def body(self) -> JSON:
        """The JSON error body GitHub sends for this error."""
        out: JSON = {"message": self.message}
        if self.errors is not None:
            out["errors"] = self.errors
        out["documentation_url"] = self.documentation_url
        out["status"] = str(self.status)
        return out


def _not_found(message: str = "Not Found") -> FakeGitHubError:
    return FakeGitHubError(404, message)


def _invalid(
    resource: str, field_name: str, code: str = "invalid", **extra: Any
) -> FakeGitHubError:
    error = {"resource": resource, "field": field_name, "code": code, **extra}
    return FakeGitHubError(422, "Validation Failed", errors=[error])


def _custom(resource: str, message: str) -> FakeGitHubError:
    error = {"resource": resource, "code": "custom", "message": message}
    return FakeGitHubError(422, "Validation Failed", errors=[error])


# --------------------------------------------------------------------------------------------
# Stored state (what git cannot hold)


@dataclass
class _User:
    login: str
    id: int
    token: str | None
    site_admin: bool
    name: str
    email: str
    permission: str
    created_at: datetime


@dataclass
class _Team:
    org: str
    slug: str
    id: int
    name: str
    members: list[str]
    maintainers: list[str]
    created_at: datetime
    #: Invited but not yet accepted: GitHub answers their membership with `state: pending`,
    #: and lists them nowhere else.
    pending: list[str] = field(default_factory=list)


@dataclass
class _Label:
    id: int
    name: str
    color: str
    description: str | None


@dataclass
class _Comment:
    id: int
    number: int
    user: str
    body: str
    created_at: datetime
    updated_at: datetime


@dataclass
class _Review:
    id: int
    user: str
    body: str
    state: str
    commit_id: str
    submitted_at: datetime | None


@dataclass
class _Pull:
    number: int
    id: int
    title: str
    body: str | None
    user: str
    head_ref: str
    base_ref: str
    head_sha: str
    base_sha: str
    draft: bool
    created_at: datetime
    updated_at: datetime
    state: str = "open"
    closed_at: datetime | None = None
    merged_at: datetime | None = None
    merged_by: str | None = None
    merge_commit_sha: str | None = None
    closed_by: str | None = None
    maintainer_can_modify: bool = True
    labels: list[str] = field(default_factory=list)
    requested_reviewers: list[str] = field(default_factory=list)
    requested_teams: list[str] = field(default_factory=list)
    reviews: list[_Review] = field(default_factory=list)
    comments: list[_Comment] = field(default_factory=list)


@dataclass
class _Issue:
    """A plain issue (not a pull request)."""

    number: int
    id: int
    title: str
    body: str | None
    user: str
    created_at: datetime
    updated_at: datetime
    state: str = "open"
    state_reason: str | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None
    labels: list[str] = field(default_factory=list)
    comments: list[_Comment] = field(default_factory=list)


@dataclass
class _Status:
    id: int
    sha: str
    state: str
    context: str
    description: str | None
    target_url: str | None
    creator: str
    created_at: datetime


@dataclass
class _Rule:
    method: str | None
    pattern: re.Pattern[str]
    remaining: int | None
    status: int = 0
    headers: dict[str, str] | None = None
    body: Any = None
    seconds: float = 0.0
    #: Carry the request out, then close the connection without answering.
    drop: bool = False
    #: Matching requests let through before the rule applies.
    skip: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.method not in (None, "*", method):
            return False
        return self.pattern.search(path) is not None


@dataclass
class _Ctx:
    method: str
    raw_path: str
    path: str
    query: dict[str, str]
    query_pairs: list[tuple[str, str]]
    body: Any
    user: _User
    repo: pygit2.Repository


@dataclass
class _Resp:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[..., _Resp]
_BAD_JSON = object()
#: The status `_dispatch` gives a request it carried out but must not answer.
_DROPPED = -1


# --------------------------------------------------------------------------------------------
# Small helpers


def _http_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")


def _parse_http_date(text: str) -> datetime | None:
    try:
        return datetime.strptime(text.strip(), "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=UTC)
    except ValueError:
        return None


def _etag_matches(header: str, etag: str) -> bool:
    """`If-None-Match` against an entity tag, by weak comparison (the `W/` prefix ignored)."""
    wanted = etag.removeprefix("W/")
    for item in header.split(","):
        tag = item.strip()
        if tag == "*" or tag.removeprefix("W/") == wanted:
            return True
    return False


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _b64(data: bytes) -> str:
    """Base64 the way GitHub sends file content: 60-character lines, each ending in a newline."""
    encoded = base64.b64encode(data).decode("ascii")
    return "".join(encoded[i : i + 60] + "\n" for i in range(0, len(encoded), 60))


def _quote(text: str) -> str:
    return urllib.parse.quote(text, safe="/")


def _signature(name: str, email: str, moment: datetime) -> pygit2.Signature:
    offset = moment.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    return pygit2.Signature(name, email, int(moment.timestamp()), minutes)


def _sig_time(sig: pygit2.Signature) -> datetime:
    return datetime.fromtimestamp(sig.time, UTC)


def _parse_date(text: Any) -> datetime:
    if not isinstance(text, str):
        raise _invalid("Commit", "date")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _invalid("Commit", "date") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _need_dict(body: Any) -> JSON:
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise FakeGitHubError(422, "Invalid request.\n\nThe request body must be a JSON object.")
    return body


def _get_object(repo: pygit2.Repository, sha: Any) -> GitObject | None:
    """The object with this full SHA, or None (also for anything that is not a full SHA)."""
    if not isinstance(sha, str) or not _SHA_RE.fullmatch(sha):
        return None
    try:
        return cast(GitObject | None, repo.get(sha))
    except (ValueError, KeyError):
        return None


def _tree(repo: pygit2.Repository, oid: pygit2.Oid) -> pygit2.Tree:
    obj = repo[oid]
    if not isinstance(obj, pygit2.Tree):
        raise TypeError(f"{oid} is not a tree")
    return obj


def _commit(repo: pygit2.Repository, oid: pygit2.Oid) -> pygit2.Commit:
    obj = cast(GitObject, repo[oid])
    if not isinstance(obj, pygit2.Commit):
        raise TypeError(f"{oid} is not a commit")
    return obj


def _peel_commit(obj: GitObject | None) -> pygit2.Commit | None:
    if obj is None:
        return None
    try:
        peeled = obj.peel(pygit2.Commit)
    except (ValueError, KeyError, pygit2.GitError):
        return None
    return peeled if isinstance(peeled, pygit2.Commit) else None


def _resolve_commit(repo: pygit2.Repository, spec: str) -> pygit2.Commit | None:
    """A commit from a branch name, tag name or (possibly abbreviated) SHA."""
    for name in (f"refs/heads/{spec}", f"refs/tags/{spec}", spec):
        if not name.startswith("refs/") or not pygit2.reference_is_valid_name(name):
            continue
        ref = repo.references.get(name)
        if ref is not None:
            return _peel_commit(cast(GitObject | None, repo.get(ref.resolve().target)))
    if _SHORT_SHA_RE.fullmatch(spec):
        try:
            return _peel_commit(repo.revparse_single(spec))
        except (KeyError, ValueError, pygit2.GitError):
            return None
    return None


def _branch_tip(repo: pygit2.Repository, branch: str) -> pygit2.Commit | None:
    name = f"refs/heads/{branch}"
    if not pygit2.reference_is_valid_name(name):
        return None
    ref = repo.references.get(name)
    return None if ref is None else _peel_commit(cast(GitObject | None, repo.get(ref.target)))


def _contains(repo: pygit2.Repository, tip: pygit2.Oid, oid: pygit2.Oid) -> bool:
    """Whether commit ``oid`` is ``tip`` or one of its ancestors."""
    return tip == oid or bool(repo.descendant_of(tip, oid))


def _edit_tree(
    repo: pygit2.Repository,
    base: pygit2.Tree | None,
    changes: Mapping[tuple[str, ...], tuple[pygit2.Oid, int] | None],
) -> pygit2.Oid | None:
    """Write ``base`` with ``changes`` applied (path parts → (oid, mode), or None to delete).

    Returns None when the result is empty, so that emptied directories disappear, as in git.
    """
    builder = repo.TreeBuilder(base) if base is not None else repo.TreeBuilder()
    nested: dict[str, dict[tuple[str, ...], tuple[pygit2.Oid, int] | None]] = {}
    for parts, value in changes.items():
        if len(parts) > 1:
            nested.setdefault(parts[0], {})[parts[1:]] = value
        elif value is None:
            if builder.get(parts[0]) is not None:
                builder.remove(parts[0])
        else:
            builder.insert(parts[0], value[0], value[1])
    for name, sub_changes in nested.items():
        current = builder.get(name)
        is_tree = current is not None and current.type_str == "tree"
        sub_base = _tree(repo, current.id) if is_tree else None
        new_oid = _edit_tree(repo, sub_base, sub_changes)
        if new_oid is None:
            if current is not None:
                builder.remove(name)
        else:
            builder.insert(name, new_oid, FileMode.TREE)
    if len(builder) == 0:
        return None
    return builder.write()


def _write_tree(
    repo: pygit2.Repository,
    base: pygit2.Tree | None,
    changes: Mapping[tuple[str, ...], tuple[pygit2.Oid, int] | None],
) -> pygit2.Oid:
    oid = _edit_tree(repo, base, changes)
    return oid if oid is not None else repo.TreeBuilder().write()


def _path_parts(path: Any) -> tuple[str, ...]:
    if not isinstance(path, str):
        raise _invalid("Tree", "path", "missing_field")
    parts = tuple(p for p in path.split("/") if p)
    if not parts or any(p in {".", ".."} for p in parts):
        raise FakeGitHubError(422, f"tree.path contains a malformed path component: {path!r}")
    return parts


def init_bare_repo(
    path: str | Path,
    files: Mapping[str, str],
    *,
    branch: str = "main",
    author: tuple[str, str] = ("Seed", "seed@example.com"),
    message: str = "Initial commit",
) -> str:
    """Create a bare repository at ``path`` whose ``branch`` holds ``files``; return the commit SHA.

    The commit has an explicit signature (there is no git identity on CI) and ``HEAD`` points at
    ``branch``, so that ``git clone`` checks it out.
    """
    repo = pygit2.init_repository(str(path), bare=True, initial_head=branch)
    changes: dict[tuple[str, ...], tuple[pygit2.Oid, int] | None] = {
        _path_parts(name): (repo.create_blob(text.encode()), FileMode.BLOB)
        for name, text in files.items()
    }
    tree = _write_tree(repo, None, changes)
    sig = _signature(author[0], author[1], datetime.now(UTC).replace(microsecond=0))
    oid = repo.create_commit(f"refs/heads/{branch}", sig, sig, message, tree, [])
    repo.free()
    return str(oid)


# --------------------------------------------------------------------------------------------
# HTTP plumbing


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, fake: FakeGitHub) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), _RequestHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Client disconnections are normal in tests (timeouts); keep stderr quiet."""


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "GitHub.com"
    sys_version = ""
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.fake._untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default access log on stderr."""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        conditions = {
            name: str(self.headers[name])
            for name in ("If-None-Match", "If-Modified-Since")
            if self.headers.get(name)
        }
        status, headers, payload = self.server.fake._dispatch(
            self.command, self.path, self.headers.get("Authorization"), raw, conditions
        )
        if status == _DROPPED:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        try:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            if status not in (204, 304):
                self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD" and status not in (204, 304):
                self.wfile.write(payload)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        if self.server.fake._stopping.is_set():
            self.close_connection = True

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _serve


# --------------------------------------------------------------------------------------------
# The fake


class FakeGitHub:
    """A GitHub REST API for one repository, served on ``127.0.0.1`` from a real bare repository.

    Use as a context manager, or call :meth:`start` and :meth:`stop`. Point PyGithub at
    :attr:`url`. All state is guarded by one lock, so the server and the helpers are thread-safe.
    """

    def __init__(
        self,
        bare_repo_path: str | Path,
        owner: str = "acme",
        repo: str = "service-blueprints",
        default_branch: str = "main",
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.bare_repo_path = Path(bare_repo_path)
        self.owner = owner
        self.repo = repo
        self.default_branch = default_branch
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._url: str | None = None
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._conn_lock = threading.Lock()

        self._ids: dict[str, int] = {}
        self._users: dict[str, _User] = {}
        self._tokens: dict[str, str] = {}
        self._orgs: dict[str, int] = {}
        self._teams: dict[tuple[str, str], _Team] = {}
        self._labels: dict[str, _Label] = {}
        self._pulls: dict[int, _Pull] = {}
        self._issues: dict[int, _Issue] = {}
        self._statuses: list[_Status] = []
        self._next_number = 1
        self._log: list[RequestRecord] = []
        self._failures: list[_Rule] = []
        self._delays: list[_Rule] = []
        self._drops: list[_Rule] = []
        self._rate_used: dict[str, int] = {}
        self._rate_window = self._clock()
        self._request_seq = 0
        self._created_at = self._now()
        self._repo_id = 700_000 + self._next_id("repo")
        self._org_id(owner)
        self.internal_errors: list[str] = []
        """Tracebacks of bugs inside the fake (answered as 500); tests should assert it's empty."""
        self._route_table = self._build_routes()
        #: Other repositories this server serves, by lower-cased (owner, name): see `host`.
        self._hosted: dict[tuple[str, str], FakeGitHub] = {}
        self._host: FakeGitHub | None = None

    # ---- lifecycle ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: PyGithub's ``base_url``."""
        if self._host is not None:
            return self._host.url
        if self._url is None:
            raise RuntimeError("FakeGitHub is not started")
        return self._url

    def start(self) -> FakeGitHub:
        """Start serving in a daemon thread; idempotent."""
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server(self)
        self._url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-github:{self._server.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close every open connection and wait for the handler threads."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = None
        self._stopping.set()
        server.shutdown()
        if thread is not None:
            thread.join(timeout=5)
        with self._conn_lock:
            live = list(self._connections.items())
        for sock, _ in live:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for _, handler_thread in live:
            handler_thread.join(timeout=5)
        server.server_close()

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _track(self, sock: socket.socket) -> None:
        with self._conn_lock:
            self._connections[sock] = threading.current_thread()
            stopping = self._stopping.is_set()
        if stopping:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _untrack(self, sock: socket.socket) -> None:
        with self._conn_lock:
            self._connections.pop(sock, None)

    # ---- configuration ----------------------------------------------------------------------

    def host(self, other: FakeGitHub) -> FakeGitHub:
        """Serve `other`'s repository on this server too, as one GitHub holds many: requests
        under ``/repos/{other.owner}/{other.repo}`` (and searches naming it) go to `other`,
        with its own branches, pull requests, issues, labels and statuses, while users,
        tokens, organisations and teams are this server's, shared. `other` is never started
        itself; its helpers (``merge_pull``, ``pulls``...) work as usual. Returns `other`."""
        with self._lock:
            other._host = self
            other._lock = self._lock
            other._users = self._users
            other._tokens = self._tokens
            other._orgs = self._orgs
            other._teams = self._teams
            other._ids = self._ids
            other.internal_errors = self.internal_errors
            self._hosted[(other.owner.lower(), other.repo.lower())] = other
        return other

    def _hosting(self, path: str, query: Mapping[str, str]) -> FakeGitHub | None:
        """The hosted fake that serves this request, if any."""
        if not self._hosted:
            return None
        if path.startswith("/repos/"):
            owner, _, rest = path.removeprefix("/repos/").partition("/")
            name = rest.partition("/")[0]
            return self._hosted.get((owner.lower(), name.lower()))
        if path == "/search/issues":
            for word in query.get("q", "").split():
                if word.lower().startswith("repo:"):
                    owner, _, name = word[5:].partition("/")
                    return self._hosted.get((owner.lower(), name.lower()))
        return None

    def add_user(
        self,
        login: str,
        token: str | None,
        *,
        site_admin: bool = False,
        name: str | None = None,
        email: str | None = None,
        permission: str = "write",
    ) -> None:
        """Register a user (before or after :meth:`start`); requests with ``Authorization: token <token>`` act as this user.

        Commits whose author email is ``email`` (default ``ID+login@users.noreply.github.com``)
        are attributed to this user by ``GET /repos/{o}/{r}/commits/{sha}``.
        """
        with self._lock:
            user = self._ensure_user(login)
            if user.token is not None:
                self._tokens.pop(user.token, None)
            user.token = token
            user.site_admin = site_admin
            user.name = name or login
            if email is not None:
                user.email = email
            user.permission = "admin" if site_admin else permission
            if token is not None:
                self._tokens[token] = login

    def add_team(
        self,
        org: str,
        slug: str,
        members: Iterable[str],
        *,
        maintainers: Iterable[str] = (),
        name: str | None = None,
        pending: Iterable[str] = (),
    ) -> None:
        """Create (or replace) team ``org/slug``; unknown member logins become token-less users.
        ``pending`` are invited members who have not accepted yet."""
        with self._lock:
            self._org_id(org)
            members = list(members)
            maintainers = list(maintainers)
            invited = list(pending)
            for login in [*members, *maintainers, *invited]:
                self._ensure_user(login)
            existing = self._teams.get((org.lower(), slug.lower()))
            team = _Team(
                org=org,
                slug=slug,
                id=existing.id if existing else self._next_id("team"),
                name=name or slug,
                members=members,
                maintainers=maintainers,
                created_at=self._now(),
                pending=invited,
            )
            self._teams[(org.lower(), slug.lower())] = team

    def fail(
        self,
        method: str | None,
        path_regex: str,
        status: int,
        *,
        times: int | None = 1,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        skip: int = 0,
    ) -> None:
        """Answer the next ``times`` matching requests (None: all) with ``status``, after
        letting the first ``skip`` of them through.

        ``method`` None or ``"*"`` matches any method; ``path_regex`` is searched in the decoded
        path (no query string). Without ``body``, the body is GitHub's for that status: 403 and
        429 get the primary rate-limit body, and also its headers (``x-ratelimit-remaining: 0``,
        ``x-ratelimit-reset``, ``retry-after``...). ``headers`` override the defaults; ``body``
        may be a dict (sent as JSON), ``str`` or ``bytes`` (sent as is).
        """
        rule = _Rule(
            method=method.upper() if method else None,
            pattern=re.compile(path_regex),
            remaining=times,
            status=status,
            headers={k.lower(): v for k, v in (headers or {}).items()},
            body=body,
            skip=skip,
        )
        with self._lock:
            self._failures.append(rule)

    def fail_rate_limit(
        self,
        method: str | None,
        path_regex: str,
        *,
        secondary: bool = False,
        status: int = 403,
        times: int | None = 1,
        retry_after: int | None = 60,
        reset_in: int = 60,
    ) -> None:
        """Answer matching requests as GitHub does when a rate limit is hit: 403 or 429
        (``status``), and

        * the primary limit (the hourly budget is spent): ``x-ratelimit-remaining: 0`` and
          ``x-ratelimit-reset`` ``reset_in`` seconds from now, body "API rate limit exceeded";
        * a secondary limit (``secondary``): the budget is not what ran out, the body says
          "You have exceeded a secondary rate limit", and ``retry-after`` may be there
          (``retry_after`` None leaves it out: then a client waits at least a minute).
        """
        reset = int(self._clock().timestamp()) + reset_in
        headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}
        if retry_after is not None:
            headers["retry-after"] = str(retry_after)
        body = None
        if secondary:
            headers = {
                "x-ratelimit-remaining": str(HOURLY_LIMIT - 10),
                "x-ratelimit-used": "10",
                "x-ratelimit-reset": str(reset),
            }
            if retry_after is not None:
                headers["retry-after"] = str(retry_after)
            body = {
                "message": SECONDARY_RATE_LIMIT_MESSAGE.format(request_id="0000:0000:0000000"),
                "documentation_url": RATE_LIMIT_DOCS,
            }
        self.fail(method, path_regex, status, times=times, headers=headers, body=body)

    def drop(self, method: str | None, path_regex: str, *, times: int | None = 1) -> None:
        """Carry out the next ``times`` matching requests, then close the connection without
        an answer: the write happened, the client sees a dropped connection (a lost answer)."""
        rule = _Rule(
            method=method.upper() if method else None,
            pattern=re.compile(path_regex),
            remaining=times,
            drop=True,
        )
        with self._lock:
            self._drops.append(rule)

    def delay(
        self,
        path_regex: str,
        seconds: float,
        *,
        method: str | None = None,
        times: int | None = None,
    ) -> None:
        """Hold matching requests for ``seconds`` before answering (to provoke client timeouts)."""
        rule = _Rule(
            method=method.upper() if method else None,
            pattern=re.compile(path_regex),
            remaining=times,
            seconds=seconds,
        )
        with self._lock:
            self._delays.append(rule)

    def clear_failures(self) -> None:
        """Forget every pending failure, delay and dropped connection."""
        with self._lock:
            self._failures.clear()
            self._delays.clear()
            self._drops.clear()

    # ---- request log ------------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """A snapshot of every request received since the last :meth:`reset_log`."""
        with self._lock:
            return [replace(r, query=dict(r.query)) for r in self._log]

    def count(self, method: str | None = None, path_prefix: str | None = None) -> int:
        """How many requests matched ``method`` and started with ``path_prefix`` (both optional)."""
        return sum(
            1
            for r in self.requests
            if (method is None or r.method == method.upper())
            and (path_prefix is None or r.path.startswith(path_prefix))
        )

    def counted(self, method: str | None = None, path_prefix: str | None = None) -> int:
        """How many of those requests GitHub would count against the rate limit: not the
        answers ``304 Not Modified``, nor unauthenticated ones, nor looks at the limit itself."""
        return sum(
            1
            for r in self.requests
            if r.counted
            and (method is None or r.method == method.upper())
            and (path_prefix is None or r.path.startswith(path_prefix))
        )

    def not_modified(self) -> int:
        """How many requests were answered ``304 Not Modified``."""
        return sum(1 for r in self.requests if r.status == 304)

    def writes(self) -> list[RequestRecord]:
        """Requests other than GET and HEAD."""
        return [r for r in self.requests if r.method not in ("GET", "HEAD")]

    def reset_log(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            self._log.clear()

    # ---- helpers acting as humans -------------------------------------------------------------

    def push_commit(
        self,
        branch: str,
        files: Mapping[str, str | None],
        author_login: str,
        message: str = "Update files",
    ) -> str:
        """Commit ``files`` (path → text, or None to delete) onto ``branch`` as that user.

        Like a human pushing: the branch is created from the default branch if it doesn't exist.
        Returns the new commit SHA.
        """
        with self._lock, self._open() as repo:
            user = self._known_user(author_login)
            parent = _branch_tip(repo, branch) or _branch_tip(repo, self.default_branch)
            if parent is None:
                raise FakeGitHubError(404, f"Branch {self.default_branch} not found")
            changes: dict[tuple[str, ...], tuple[pygit2.Oid, int] | None] = {}
            for path, text in files.items():
                blob = None if text is None else (repo.create_blob(text.encode()), FileMode.BLOB)
                changes[_path_parts(path)] = blob
            tree = _write_tree(repo, parent.tree, changes)
            sig = self._user_signature(user)
            oid = repo.create_commit(None, sig, sig, message, tree, [parent.id])
            repo.references.create(f"refs/heads/{branch}", oid, force=True)
            self._sync(repo)
            return str(oid)

    def merge_pull(
        self,
        number: int,
        login: str,
        *,
        merge_method: str = "merge",
        commit_title: str | None = None,
        commit_message: str | None = None,
    ) -> str:
        """Merge pull request ``number`` as ``login`` (like the green button); return the SHA."""
        with self._lock, self._open() as repo:
            self._sync(repo)
            user = self._known_user(login)
            pull = self._pull(number)
            return self._merge(repo, pull, user, merge_method, commit_title, commit_message, None)

    def open_pull(self, login: str, head: str, title: str, body: str = "") -> JSON:
        """Open a pull request from branch ``head`` into the default branch, as ``login``
        (like the "Create pull request" button); GitHub's own checks apply."""
        with self._lock, self._open() as repo:
            self._sync(repo)
            user = self._known_user(login)
            ctx = _Ctx(
                "POST",
                "",
                "",
                {},
                [],
                {"title": title, "body": body, "head": head, "base": self.default_branch},
                user,
                repo,
            )
            return cast(JSON, self._create_pull(ctx).body)

    def close_pull(self, number: int, login: str) -> None:
        """Close pull request ``number`` without merging it, as ``login``."""
        with self._lock, self._open() as repo:
            self._sync(repo)
            self._known_user(login)
            self._close(self._pull(number), login)

    def review_pull(self, number: int, login: str, event: str = "APPROVE", body: str = "") -> JSON:
        """Submit a review (APPROVE, REQUEST_CHANGES or COMMENT) as ``login``."""
        with self._lock, self._open() as repo:
            self._sync(repo)
            user = self._known_user(login)
            pull = self._pull(number)
            review = self._add_review(pull, user, {"event": event, "body": body})
            return self._review_json(pull, review)

    def comment(self, number: int, login: str, body: str) -> JSON:
        """Comment on pull request (or issue) ``number`` as ``login``."""
        with self._lock:
            comment = self._add_comment(self._issue_or_pull(number), self._known_user(login), body)
            return self._comment_json(comment)

    def update_branch(self, number: int, login: str) -> str:
        """Bring pull request ``number``'s branch up to date with its base as ``login`` does
        with the "Update branch" button: a merge of the base into the head; its SHA."""
        with self._lock, self._open() as repo:
            self._sync(repo)
            user = self._known_user(login)
            return self._update_branch(repo, self._pull(number), user, None)

    def open_issue(self, login: str, title: str, body: str = "") -> JSON:
        """Open a plain issue as ``login``."""
        with self._lock:
            issue = self._new_issue(self._known_user(login), title, body, [])
            return self._plain_issue_json(issue)

    def issues(self) -> list[JSON]:
        """Every plain issue (pull requests left out), as ``GET /issues/{n}`` returns it."""
        with self._lock:
            return [self._plain_issue_json(i) for _, i in sorted(self._issues.items())]

    def statuses(self, sha: str) -> list[JSON]:
        """The commit statuses of ``sha``, newest first, as ``GET .../statuses`` lists them."""
        with self._lock:
            return [self._status_json(x) for x in reversed(self._statuses) if x.sha == sha]

    def status(self, sha: str, context: str) -> JSON | None:
        """The latest status of ``sha`` in ``context``, or None."""
        return next((x for x in self.statuses(sha) if x["context"] == context), None)

    def pulls(self) -> list[JSON]:
        """Every pull request, as the full JSON ``GET /pulls/{n}`` would return, by number."""
        with self._lock, self._open() as repo:
            self._sync(repo)
            return [self._pull_json(repo, p, full=True) for p in self._sorted_pulls()]

    def pull(self, number: int) -> JSON:
        """One pull request as ``GET /pulls/{n}`` would return it."""
        with self._lock, self._open() as repo:
            self._sync(repo)
            return self._pull_json(repo, self._pull(number), full=True)

    def comments(self, number: int) -> list[JSON]:
        """The comments of pull request (or issue) ``number``, oldest first."""
        with self._lock:
            return [self._comment_json(c) for c in self._issue_or_pull(number).comments]

    def branch_sha(self, branch: str) -> str | None:
        """The SHA at the tip of ``branch`` in the bare repository, or None."""
        with self._lock, self._open() as repo:
            tip = _branch_tip(repo, branch)
            return None if tip is None else str(tip.id)

    def read_file(self, ref: str, path: str) -> str | None:
        """The text of ``path`` at ``ref`` (branch, tag or SHA) in the bare repository, or None."""
        with self._lock, self._open() as repo:
            commit = _resolve_commit(repo, ref)
            if commit is None:
                return None
            try:
                obj = commit.tree[path]
            except KeyError:
                return None
            return obj.data.decode() if isinstance(obj, pygit2.Blob) else None

    # ---- internals: identities ------------------------------------------------------------------

    def _now(self) -> datetime:
        return self._clock().astimezone(UTC).replace(microsecond=0)

    def _next_id(self, kind: str) -> int:
        self._ids[kind] = self._ids.get(kind, 0) + 1
        return self._ids[kind]

    def _org_id(self, org: str) -> int:
        key = org.lower()
        if key not in self._orgs:
            self._orgs[key] = 9_000_000 + self._next_id("org")
        return self._orgs[key]

    def _ensure_user(self, login: str) -> _User:
        key = login.lower()
        user = self._users.get(key)
        if user is None:
            uid = self._next_id("user")
            user = _User(
                login=login,
                id=uid,
                token=None,
                site_admin=False,
                name=login,
                email=f"{uid}+{login}@users.noreply.github.com",
                permission="write",
                created_at=self._now(),
            )
            self._users[key] = user
        return user

    def _known_user(self, login: str) -> _User:
        user = self._users.get(login.lower())
        if user is None:
            raise FakeGitHubError(404, f"Unknown user {login!r}")
        return user

    def _user_signature(self, user: _User) -> pygit2.Signature:
        return _signature(user.name, user.email, self._now())

    def _user_by_email(self, email: str) -> _User | None:
        return next((u for u in self._users.values() if u.email.lower() == email.lower()), None)

    # ---- internals: dispatch ---------------------------------------------------------------------

    @contextlib.contextmanager
    def _open(self) -> Any:
        repo = pygit2.Repository(str(self.bare_repo_path))
        try:
            yield repo
        finally:
            repo.free()

    def _take(self, rules: list[_Rule], method: str, path: str) -> _Rule | None:
        for rule in rules:
            if rule.matches(method, path):
                if rule.skip > 0:
                    rule.skip -= 1
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                return rule
        return None

    def _dispatch(
        self,
        method: str,
        target: str,
        authorization: str | None,
        raw: bytes,
        conditions: Mapping[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        split = urllib.parse.urlsplit(target)
        raw_path = split.path
        path = urllib.parse.unquote(raw_path)
        pairs = urllib.parse.parse_qsl(split.query, keep_blank_values=True)
        query = dict(pairs)
        hosted = self._hosting(path, query)
        if hosted is not None:
            return hosted._dispatch(method, target, authorization, raw, conditions)
        body: Any = None
        bad_json = False
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                bad_json = True
                body = raw.decode("utf-8", "replace")
        token = self._token(authorization)
        with self._lock:
            self._request_seq += 1
            request_id = f"{self._request_seq:04X}:{self._request_seq * 7919 % 65536:04X}:FAKE"
            login = self._tokens.get(token) if token else None
            user = self._users.get(login.lower()) if login else None
            record = RequestRecord(method, path, query, 0, user.login if user else None, body)
            self._log.append(record)
            delay = self._take(self._delays, method, path)
        if delay is not None and self._stopping.wait(delay.seconds):
            with self._lock:
                record.status = 503
            return 503, {"Connection": "close"}, b""
        with self._lock:
            spent = self._rate_used.get(user.login, 0) if user else 0
            try:
                if bad_json:
                    body = _BAD_JSON
                resp = self._respond(method, raw_path, path, query, pairs, body, token, user)
            except FakeGitHubError as err:
                resp = _Resp(err.status, err.body(), err.headers)
            except Exception:
                self.internal_errors.append(traceback.format_exc())
                resp = _Resp(500, {"message": "Server Error (bug in FakeGitHub)"})
            record.counted = user is not None and self._rate_used.get(user.login, 0) > spent
            if self._take(self._drops, method, path) is not None:
                record.status = resp.status
                return _DROPPED, {}, b""
            status, headers, payload = self._finish(
                method, resp, user, request_id, token, conditions or {}
            )
            if status == 304 and user is not None and record.counted:
                # GitHub does not count a 304 against the limit (the headers already said
                # what was left before it).
                self._rate_used[user.login] -= 1
                record.counted = False
                used = self._rate_used[user.login]
                headers["X-RateLimit-Used"] = str(used)
                headers["X-RateLimit-Remaining"] = str(max(0, HOURLY_LIMIT - used))
            record.status = status
            return status, headers, payload

    def _token(self, header: str | None) -> str | None:
        if not header:
            return None
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() in ("token", "bearer") and value.strip():
            return value.strip()
        return ""

    def _finish(
        self,
        method: str,
        resp: _Resp,
        user: _User | None,
        request_id: str,
        token: str | None = None,
        conditions: Mapping[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        headers: dict[str, str] = {
            "Content-Type": "application/json; charset=utf-8",
            "Cache-Control": "private, max-age=60, s-maxage=60",
            "Vary": "Accept, Authorization, Cookie, X-GitHub-OTP",
            "X-GitHub-Media-Type": "github.v3; format=json",
            "X-GitHub-Api-Version-Selected": "2022-11-28",
            "X-OAuth-Scopes": "repo, read:org",
            "X-Accepted-OAuth-Scopes": "",
            "X-Content-Type-Options": "nosniff",
            "X-GitHub-Request-Id": request_id,
        }
        if user is not None:
            used = self._rate_used.get(user.login, 0)
            reset = self._rate_window + timedelta(hours=1)
            headers.update(
                {
                    "X-RateLimit-Limit": str(HOURLY_LIMIT),
                    "X-RateLimit-Remaining": str(max(0, HOURLY_LIMIT - used)),
                    "X-RateLimit-Reset": str(int(reset.timestamp())),
                    "X-RateLimit-Used": str(used),
                    "X-RateLimit-Resource": "core",
                }
            )
        lower = {k.lower(): k for k in headers}
        for key, value in resp.headers.items():
            headers.pop(lower.get(key.lower(), key), None)
            headers[key] = value
        payload = b""
        if resp.status != 204 and resp.body is not None:
            if isinstance(resp.body, bytes):
                payload = resp.body
            elif isinstance(resp.body, str):
                payload = resp.body.encode()
            else:
                payload = json.dumps(resp.body, separators=(",", ":")).encode()
        if method == "GET" and resp.status == 200:
            # Specific to the token, as GitHub's are: a validator another token obtained does
            # not match (GitHub support confirms it; a job's token is new every run).
            salt = (token or "").encode() + b"\0"
            etag = f'W/"{hashlib.sha256(salt + payload).hexdigest()[:32]}"'
            headers["ETag"] = etag
            if self._not_modified(conditions or {}, etag, headers.get("Last-Modified")):
                kept = ("ETag", "Last-Modified", "Cache-Control", "Vary", "X-GitHub-Request-Id")
                return 304, {k: v for k, v in headers.items() if k in kept or "RateLimit" in k}, b""
        return resp.status, headers, payload

    @staticmethod
    def _not_modified(conditions: Mapping[str, str], etag: str, last_modified: str | None) -> bool:
        """Whether a GET's validators say the client has this answer already. As HTTP has it,
        `If-None-Match` decides when it is sent, and `If-Modified-Since` only without it."""
        wanted = conditions.get("If-None-Match")
        if wanted is not None:
            return _etag_matches(wanted, etag)
        since = conditions.get("If-Modified-Since")
        if since is None or last_modified is None:
            return False
        asked, modified = _parse_http_date(since), _parse_http_date(last_modified)
        return asked is not None and modified is not None and modified <= asked

    def _failure_response(self, rule: _Rule, user: _User | None) -> _Resp:
        status = rule.status
        headers: dict[str, str] = {}
        # A 403 with its own body is a refusal (permissions), which carries no rate-limit
        # headers on GitHub; without a body it is the primary rate limit.
        if status == 429 or (status == 403 and rule.body is None):
            reset = int(self._clock().timestamp()) + 60
            headers = {
                "x-ratelimit-limit": str(HOURLY_LIMIT),
                "x-ratelimit-remaining": "0",
                "x-ratelimit-used": str(HOURLY_LIMIT),
                "x-ratelimit-reset": str(reset),
                "x-ratelimit-resource": "core",
                "retry-after": "60",
            }
            uid = user.id if user else 1
            default: Any = {
                "message": f"API rate limit exceeded for user ID {uid}.",
                "documentation_url": PRIMARY_RATE_LIMIT_DOCS,
            }
        else:
            messages = {
                401: "Bad credentials",
                404: "Not Found",
                422: "Validation Failed",
                500: "Server Error",
                502: "Server Error",
                503: "Service Unavailable",
                504: "We couldn't respond to your request in time. Sorry about that.",
            }
            try:
                phrase = HTTPStatus(status).phrase
            except ValueError:
                phrase = "Error"
            default = {"message": messages.get(status, phrase), "documentation_url": DOCS}
        headers.update(rule.headers or {})
        body = rule.body if rule.body is not None else default
        if isinstance(body, str | bytes):
            headers.setdefault("content-type", "text/plain; charset=utf-8")
        return _Resp(status, body, headers)

    def _respond(
        self,
        method: str,
        raw_path: str,
        path: str,
        query: dict[str, str],
        pairs: list[tuple[str, str]],
        body: Any,
        token: str | None,
        user: _User | None,
    ) -> _Resp:
        failure = self._take(self._failures, method, path)
        if failure is not None:
            return self._failure_response(failure, user)
        if token is None:
            raise FakeGitHubError(401, "Requires authentication")
        if user is None:
            raise FakeGitHubError(401, "Bad credentials")
        if path != "/rate_limit" and not path.startswith("/search/"):
            # Searches have a bucket of their own (30 a minute), apart from the hourly one.
            self._rate_used[user.login] = self._rate_used.get(user.login, 0) + 1
        if body is _BAD_JSON:
            raise FakeGitHubError(400, "Problems parsing JSON")
        verb = "GET" if method == "HEAD" else method
        for route_method, pattern, handler in self._route_table:
            if route_method != verb:
                continue
            match = pattern.fullmatch(path)
            if match is None:
                continue
            groups = match.groupdict()
            owner, name = groups.pop("owner", None), groups.pop("name", None)
            if owner is not None and (
                owner.lower() != self.owner.lower() or (name or "").lower() != self.repo.lower()
            ):
                raise _not_found()
            with self._open() as repo:
                ctx = _Ctx(method, raw_path, path, query, pairs, body, user, repo)
                self._sync(repo)
                return handler(ctx, **groups)
        raise _not_found()

    def _build_routes(self) -> list[tuple[str, re.Pattern[str], Handler]]:
        r = r"/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)"
        n = r"(?P<number>\d+)"
        team = r"/orgs/(?P<org>[^/]+)/teams/(?P<slug>[^/]+)"
        team_by_id = r"/organizations/(?P<org_id>\d+)/team/(?P<team_id>\d+)"
        table: list[tuple[str, str, Handler]] = [
            ("GET", r"/user", self._get_me),
            ("GET", r"/users/(?P<login>[^/]+)", self._get_user),
            ("GET", r"/rate_limit", self._get_rate_limit),
            ("GET", r"/orgs/(?P<org>[^/]+)", self._get_org),
            ("GET", team, self._get_team),
            ("GET", team + r"/members", self._get_team_members),
            ("GET", team + r"/memberships/(?P<login>[^/]+)", self._get_team_membership),
            ("GET", team_by_id, self._get_team),
            ("GET", team_by_id + r"/members", self._get_team_members),
            ("GET", team_by_id + r"/memberships/(?P<login>[^/]+)", self._get_team_membership),
            ("GET", team_by_id + r"/members/(?P<login>[^/]+)", self._get_team_member_legacy),
            ("GET", r, self._get_repo),
            ("GET", r + r"/collaborators/(?P<login>[^/]+)", self._get_collaborator),
            ("GET", r + r"/collaborators/(?P<login>[^/]+)/permission", self._get_permission),
            ("GET", r + r"/branches", self._list_branches),
            ("GET", r + r"/branches/(?P<branch>.+)", self._get_branch),
            ("GET", r + r"/git/ref/(?P<ref>.+)", self._get_ref),
            ("GET", r + r"/git/refs", self._list_refs),
            ("GET", r + r"/git/refs/(?P<ref>.+)", self._get_refs_legacy),
            ("GET", r + r"/git/matching-refs/(?P<ref>.*)", self._matching_refs),
            ("POST", r + r"/git/refs", self._create_ref),
            ("PATCH", r + r"/git/refs/(?P<ref>.+)", self._update_ref),
            ("DELETE", r + r"/git/refs/(?P<ref>.+)", self._delete_ref),
            ("POST", r + r"/git/blobs", self._create_blob),
            ("GET", r + r"/git/blobs/(?P<sha>[^/]+)", self._get_blob),
            ("POST", r + r"/git/trees", self._create_tree),
            ("GET", r + r"/git/trees/(?P<sha>.+)", self._get_tree),
            ("POST", r + r"/git/commits", self._create_commit),
            ("GET", r + r"/git/commits/(?P<sha>[^/]+)", self._get_git_commit),
            ("GET", r + r"/commits", self._list_commits),
            ("GET", r + r"/commits/(?P<ref>.+)/statuses", self._list_statuses),
            ("GET", r + r"/commits/(?P<ref>.+)/status", self._combined_status),
            ("GET", r + r"/commits/(?P<sha>.+)", self._get_commit),
            ("POST", r + r"/statuses/(?P<sha>[^/]+)", self._create_status),
            ("GET", r + r"/statuses/(?P<ref>[^/]+)", self._list_statuses),
            ("GET", r + r"/contents(?:/(?P<path>.*))?", self._get_contents),
            ("PUT", r + r"/contents/(?P<path>.+)", self._put_contents),
            ("DELETE", r + r"/contents/(?P<path>.+)", self._delete_contents),
            ("GET", r + r"/pulls", self._list_pulls),
            ("POST", r + r"/pulls", self._create_pull),
            ("GET", r + rf"/pulls/{n}", self._get_pull),
            ("PATCH", r + rf"/pulls/{n}", self._update_pull),
            ("GET", r + rf"/pulls/{n}/merge", self._is_merged),
            ("PUT", r + rf"/pulls/{n}/merge", self._merge_pull_api),
            ("GET", r + rf"/pulls/{n}/commits", self._pull_commits),
            ("GET", r + rf"/pulls/{n}/files", self._pull_files),
            ("GET", r + rf"/pulls/{n}/requested_reviewers", self._get_review_requests),
            ("POST", r + rf"/pulls/{n}/requested_reviewers", self._request_reviewers),
            ("DELETE", r + rf"/pulls/{n}/requested_reviewers", self._remove_review_requests),
            ("GET", r + rf"/pulls/{n}/reviews", self._list_reviews),
            ("POST", r + rf"/pulls/{n}/reviews", self._create_review),
            ("GET", r + rf"/pulls/{n}/reviews/(?P<review_id>\d+)", self._get_review),
            ("PUT", r + rf"/pulls/{n}/update-branch", self._update_branch_api),
            ("GET", r + r"/issues", self._list_issues),
            ("POST", r + r"/issues", self._create_issue),
            ("GET", r"/search/issues", self._search_issues),
            ("GET", r + rf"/issues/{n}", self._get_issue),
            ("PATCH", r + rf"/issues/{n}", self._update_issue),
            ("GET", r + rf"/issues/{n}/comments", self._list_comments),
            ("POST", r + rf"/issues/{n}/comments", self._create_comment),
            ("GET", r + r"/issues/comments/(?P<comment_id>\d+)", self._get_comment),
            ("PATCH", r + r"/issues/comments/(?P<comment_id>\d+)", self._edit_comment),
            ("DELETE", r + r"/issues/comments/(?P<comment_id>\d+)", self._delete_comment),
            ("GET", r + rf"/issues/{n}/labels", self._list_issue_labels),
            ("POST", r + rf"/issues/{n}/labels", self._add_issue_labels),
            ("PUT", r + rf"/issues/{n}/labels", self._set_issue_labels),
            ("DELETE", r + rf"/issues/{n}/labels", self._clear_issue_labels),
            ("DELETE", r + rf"/issues/{n}/labels/(?P<label>.+)", self._remove_issue_label),
            ("GET", r + r"/labels", self._list_labels),
            ("POST", r + r"/labels", self._create_label),
            ("GET", r + r"/labels/(?P<label>.+)", self._get_label),
        ]
        return [(m, re.compile(p), h) for m, p, h in table]

    # ---- internals: pagination ---------------------------------------------------------------

    def _paginate(self, ctx: _Ctx, items: list[Any]) -> _Resp:
        try:
            per_page = min(max(int(ctx.query.get("per_page", 30)), 1), 100)
        except ValueError:
            per_page = 30
        try:
            page = max(int(ctx.query.get("page", 1)), 1)
        except ValueError:
            page = 1
        last = max(1, math.ceil(len(items) / per_page))
        chunk = items[(page - 1) * per_page : page * per_page]

        def link(target: int, rel: str) -> str:
            params = [(k, v) for k, v in ctx.query_pairs if k != "page"] + [("page", str(target))]
            return f'<{self.url}{ctx.raw_path}?{urllib.parse.urlencode(params)}>; rel="{rel}"'

        links = []
        if page > 1:
            links.append(link(min(page - 1, last), "prev"))
        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links.append(link(1, "first"))
        headers = {"Link": ", ".join(links)} if links else {}
        return _Resp(200, chunk, headers)

    # ---- internals: JSON shapes --------------------------------------------------------------

    @property
    def _repo_api(self) -> str:
        return f"{self.url}/repos/{self.owner}/{self.repo}"

    @property
    def _repo_html(self) -> str:
        return f"{HTML_BASE}/{self.owner}/{self.repo}"

    def _user_json(self, user: _User) -> JSON:
        api = f"{self.url}/users/{user.login}"
        return {
            "login": user.login,
            "id": user.id,
            "node_id": f"U_kgDO{user.id:08d}",
            "avatar_url": f"https://avatars.githubusercontent.com/u/{user.id}?v=4",
            "gravatar_id": "",
            "url": api,
            "html_url": f"{HTML_BASE}/{user.login}",
            "followers_url": f"{api}/followers",
            "following_url": f"{api}/following{{/other_user}}",
            "gists_url": f"{api}/gists{{/gist_id}}",
            "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/subscriptions",
            "organizations_url": f"{api}/orgs",
            "repos_url": f"{api}/repos",
            "events_url": f"{api}/events{{/privacy}}",
            "received_events_url": f"{api}/received_events",
            "type": "User",
            "user_view_type": "public",
            "site_admin": user.site_admin,
        }

    def _login_json(self, login: str | None) -> JSON | None:
        if login is None:
            return None
        user = self._users.get(login.lower())
        return None if user is None else self._user_json(user)

    def _full_user_json(self, user: _User) -> JSON:
        return {
            **self._user_json(user),
            "name": user.name,
            "company": None,
            "blog": "",
            "location": None,
            "email": user.email,
            "hireable": None,
            "bio": None,
            "twitter_username": None,
            "public_repos": 0,
            "public_gists": 0,
            "followers": 0,
            "following": 0,
            "created_at": _iso(user.created_at),
            "updated_at": _iso(user.created_at),
        }

    def _org_owner_json(self, org: str) -> JSON:
        oid = self._org_id(org)
        api = f"{self.url}/users/{org}"
        return {
            "login": org,
            "id": oid,
            "node_id": f"O_kgDO{oid:08d}",
            "avatar_url": f"https://avatars.githubusercontent.com/u/{oid}?v=4",
            "gravatar_id": "",
            "url": api,
            "html_url": f"{HTML_BASE}/{org}",
            "followers_url": f"{api}/followers",
            "following_url": f"{api}/following{{/other_user}}",
            "gists_url": f"{api}/gists{{/gist_id}}",
            "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/subscriptions",
            "organizations_url": f"{api}/orgs",
            "repos_url": f"{api}/repos",
            "events_url": f"{api}/events{{/privacy}}",
            "received_events_url": f"{api}/received_events",
            "type": "Organization",
            "user_view_type": "public",
            "site_admin": False,
        }

    def _org_json(self, org: str) -> JSON:
        oid = self._org_id(org)
        api = f"{self.url}/orgs/{org}"
        return {
            "login": org,
            "id": oid,
            "node_id": f"O_kgDO{oid:08d}",
            "url": api,
            "repos_url": f"{api}/repos",
            "events_url": f"{api}/events",
            "hooks_url": f"{api}/hooks",
            "issues_url": f"{api}/issues",
            "members_url": f"{api}/members{{/member}}",
            "public_members_url": f"{api}/public_members{{/member}}",
            "avatar_url": f"https://avatars.githubusercontent.com/u/{oid}?v=4",
            "description": None,
            "name": org,
            "company": None,
            "blog": "",
            "location": None,
            "email": None,
            "is_verified": False,
            "has_organization_projects": True,
            "has_repository_projects": True,
            "public_repos": 0,
            "public_gists": 0,
            "followers": 0,
            "following": 0,
            "html_url": f"{HTML_BASE}/{org}",
            "created_at": _iso(self._created_at),
            "updated_at": _iso(self._created_at),
            "type": "Organization",
        }

    def _permissions(self, user: _User) -> JSON:
        level = user.permission
        order = ["read", "triage", "write", "maintain", "admin"]
        rank = order.index(level) if level in order else 0
        return {
            "admin": rank >= 4,
            "maintain": rank >= 3,
            "push": rank >= 2,
            "triage": rank >= 1,
            "pull": True,
        }

    def _repo_json(self, user: _User | None) -> JSON:
        ra = self._repo_api
        full = f"{self.owner}/{self.repo}"
        open_count = sum(1 for p in self._pulls.values() if p.state == "open")
        out: JSON = {
            "id": self._repo_id,
            "node_id": f"R_kgDO{self._repo_id:08d}",
            "name": self.repo,
            "full_name": full,
            "private": True,
            "owner": self._org_owner_json(self.owner),
            "html_url": self._repo_html,
            "description": None,
            "fork": False,
            "url": ra,
            "archive_url": f"{ra}/{{archive_format}}{{/ref}}",
            "assignees_url": f"{ra}/assignees{{/user}}",
            "blobs_url": f"{ra}/git/blobs{{/sha}}",
            "branches_url": f"{ra}/branches{{/branch}}",
            "collaborators_url": f"{ra}/collaborators{{/collaborator}}",
            "comments_url": f"{ra}/comments{{/number}}",
            "commits_url": f"{ra}/commits{{/sha}}",
            "compare_url": f"{ra}/compare/{{base}}...{{head}}",
            "contents_url": f"{ra}/contents/{{+path}}",
            "contributors_url": f"{ra}/contributors",
            "deployments_url": f"{ra}/deployments",
            "downloads_url": f"{ra}/downloads",
            "events_url": f"{ra}/events",
            "forks_url": f"{ra}/forks",
            "git_commits_url": f"{ra}/git/commits{{/sha}}",
            "git_refs_url": f"{ra}/git/refs{{/sha}}",
            "git_tags_url": f"{ra}/git/tags{{/sha}}",
            "hooks_url": f"{ra}/hooks",
            "issue_comment_url": f"{ra}/issues/comments{{/number}}",
            "issue_events_url": f"{ra}/issues/events{{/number}}",
            "issues_url": f"{ra}/issues{{/number}}",
            "keys_url": f"{ra}/keys{{/key_id}}",
            "labels_url": f"{ra}/labels{{/name}}",
            "languages_url": f"{ra}/languages",
            "merges_url": f"{ra}/merges",
            "milestones_url": f"{ra}/milestones{{/number}}",
            "notifications_url": f"{ra}/notifications{{?since,all,participating}}",
            "pulls_url": f"{ra}/pulls{{/number}}",
            "releases_url": f"{ra}/releases{{/id}}",
            "stargazers_url": f"{ra}/stargazers",
            "statuses_url": f"{ra}/statuses/{{sha}}",
            "subscribers_url": f"{ra}/subscribers",
            "subscription_url": f"{ra}/subscription",
            "tags_url": f"{ra}/tags",
            "teams_url": f"{ra}/teams",
            "trees_url": f"{ra}/git/trees{{/sha}}",
            "git_url": f"git://github.com/{full}.git",
            "ssh_url": f"git@github.com:{full}.git",
            "clone_url": self.bare_repo_path.resolve().as_uri(),
            "svn_url": self._repo_html,
            "homepage": None,
            "size": 0,
            "stargazers_count": 0,
            "watchers_count": 0,
            "language": None,
            "has_issues": True,
            "has_projects": False,
            "has_downloads": True,
            "has_wiki": False,
            "has_pages": False,
            "has_discussions": False,
            "forks_count": 0,
            "mirror_url": None,
            "archived": False,
            "disabled": False,
            "open_issues_count": open_count,
            "license": None,
            "allow_forking": False,
            "is_template": False,
            "web_commit_signoff_required": False,
            "topics": [],
            "visibility": "private",
            "forks": 0,
            "open_issues": open_count,
            "watchers": 0,
            "default_branch": self.default_branch,
            "created_at": _iso(self._created_at),
            "updated_at": _iso(self._created_at),
            "pushed_at": _iso(self._created_at),
            "allow_squash_merge": True,
            "allow_merge_commit": True,
            "allow_rebase_merge": True,
            "allow_auto_merge": False,
            "delete_branch_on_merge": False,
            "allow_update_branch": False,
            "use_squash_pr_title_as_default": False,
            "squash_merge_commit_title": "COMMIT_OR_PR_TITLE",
            "squash_merge_commit_message": "COMMIT_MESSAGES",
            "merge_commit_title": "MERGE_MESSAGE",
            "merge_commit_message": "PR_TITLE",
        }
        if user is not None:
            out["permissions"] = self._permissions(user)
        return out

    def _team_json(self, team: _Team, *, full: bool = True) -> JSON:
        org_id = self._org_id(team.org)
        api = f"{self.url}/organizations/{org_id}/team/{team.id}"
        out: JSON = {
            "name": team.name,
            "id": team.id,
            "node_id": f"T_kwDO{team.id:08d}",
            "slug": team.slug,
            "description": "",
            "privacy": "closed",
            "notification_setting": "notifications_enabled",
            "url": api,
            "html_url": f"{HTML_BASE}/orgs/{team.org}/teams/{team.slug}",
            "members_url": f"{api}/members{{/member}}",
            "repositories_url": f"{api}/repos",
            "permission": "pull",
            "parent": None,
        }
        if full:
            out.update(
                {
                    "members_count": len(set(team.members) | set(team.maintainers)),
                    "repos_count": 0,
                    "created_at": _iso(team.created_at),
                    "updated_at": _iso(team.created_at),
                    "organization": self._org_json(team.org),
                }
            )
        return out

    def _ref_json(self, repo: pygit2.Repository, name: str) -> JSON:
        ref = repo.references[name]
        target = ref.resolve().target
        obj = repo.get(target)
        kind = obj.type_str if obj is not None else "commit"
        short = name.removeprefix("refs/")
        return {
            "ref": name,
            "node_id": f"REF_{hashlib.sha256(name.encode()).hexdigest()[:16]}",
            "url": f"{self._repo_api}/git/refs/{_quote(short)}",
            "object": {
                "sha": str(target),
                "type": kind,
                "url": f"{self._repo_api}/git/{kind}s/{target}",
            },
        }

    def _sig_json(self, sig: pygit2.Signature) -> JSON:
        return {"name": sig.name, "email": sig.email, "date": _iso(_sig_time(sig))}

    def _git_commit_json(self, commit: pygit2.Commit) -> JSON:
        sha = str(commit.id)
        ra = self._repo_api
        return {
            "sha": sha,
            "node_id": f"C_kwDO{sha[:16]}",
            "url": f"{ra}/git/commits/{sha}",
            "html_url": f"{self._repo_html}/commit/{sha}",
            "author": self._sig_json(commit.author),
            "committer": self._sig_json(commit.committer),
            "tree": {"sha": str(commit.tree_id), "url": f"{ra}/git/trees/{commit.tree_id}"},
            "message": commit.message.rstrip("\n"),
            "parents": [
                {
                    "sha": str(p),
                    "url": f"{ra}/git/commits/{p}",
                    "html_url": f"{self._repo_html}/commit/{p}",
                }
                for p in commit.parent_ids
            ],
            "verification": {
                "verified": False,
                "reason": "unsigned",
                "signature": None,
                "payload": None,
                "verified_at": None,
            },
        }

    def _diff_files(
        self, repo: pygit2.Repository, old: pygit2.Tree | None, new: pygit2.Tree, sha: str
    ) -> tuple[list[JSON], JSON]:
        diff = new.diff_to_tree(swap=True) if old is None else old.diff_to_tree(new)
        diff.find_similar()
        files: list[JSON] = []
        additions = deletions = 0
        for patch in diff:
            if patch is None:
                continue
            delta = patch.delta
            _, added, removed = patch.line_stats
            additions += added
            deletions += removed
            status = _DELTA_STATUS.get(delta.status_char(), "modified")
            path = delta.new_file.path if status != "removed" else delta.old_file.path
            blob_id = delta.old_file.id if status == "removed" else delta.new_file.id
            entry: JSON = {
                "sha": str(blob_id),
                "filename": path,
                "status": status,
                "additions": added,
                "deletions": removed,
                "changes": added + removed,
                "blob_url": f"{self._repo_html}/blob/{sha}/{_quote(path)}",
                "raw_url": f"{self._repo_html}/raw/{sha}/{_quote(path)}",
                "contents_url": f"{self._repo_api}/contents/{_quote(path)}?ref={sha}",
            }
            if not delta.is_binary:
                text = patch.text or ""
                at = text.find("@@")
                if at >= 0:
                    entry["patch"] = text[at:].rstrip("\n")
            if status == "renamed":
                entry["previous_filename"] = delta.old_file.path
            files.append(entry)
        stats = {"total": additions + deletions, "additions": additions, "deletions": deletions}
        return files, stats

    def _rest_commit_json(
        self, repo: pygit2.Repository, commit: pygit2.Commit, *, with_files: bool
    ) -> JSON:
        sha = str(commit.id)
        git = self._git_commit_json(commit)
        author = self._user_by_email(commit.author.email)
        committer = self._user_by_email(commit.committer.email)
        out: JSON = {
            "sha": sha,
            "node_id": git["node_id"],
            "commit": {
                "author": git["author"],
                "committer": git["committer"],
                "message": git["message"],
                "tree": git["tree"],
                "url": git["url"],
                "comment_count": 0,
                "verification": git["verification"],
            },
            "url": f"{self._repo_api}/commits/{sha}",
            "html_url": git["html_url"],
            "comments_url": f"{self._repo_api}/commits/{sha}/comments",
            "author": self._user_json(author) if author else None,
            "committer": self._user_json(committer) if committer else None,
            "parents": [
                {
                    "sha": p["sha"],
                    "url": f"{self._repo_api}/commits/{p['sha']}",
                    "html_url": p["html_url"],
                }
                for p in git["parents"]
            ],
        }
        if with_files:
            old = commit.parents[0].tree if commit.parents else None
            files, stats = self._diff_files(repo, old, commit.tree, sha)
            out["stats"] = stats
            out["files"] = files
        return out

    def _label_json(self, label: _Label) -> JSON:
        return {
            "id": label.id,
            "node_id": f"LA_kwDO{label.id:08d}",
            "url": f"{self._repo_api}/labels/{urllib.parse.quote(label.name, safe='')}",
            "name": label.name,
            "color": label.color,
            "default": False,
            "description": label.description,
        }

    def _association(self, login: str) -> str:
        user = self._users.get(login.lower())
        if user is not None and user.permission == "admin":
            return "OWNER" if login.lower() == self.owner.lower() else "MEMBER"
        in_team = any(
            login.lower() in {m.lower() for m in [*t.members, *t.maintainers]}
            for t in self._teams.values()
            if t.org.lower() == self.owner.lower()
        )
        return "MEMBER" if in_team else "COLLABORATOR"

    def _comment_json(self, comment: _Comment) -> JSON:
        ra = self._repo_api
        kind = "issues" if comment.number in self._issues else "pull"
        return {
            "url": f"{ra}/issues/comments/{comment.id}",
            "html_url": f"{self._repo_html}/{kind}/{comment.number}#issuecomment-{comment.id}",
            "issue_url": f"{ra}/issues/{comment.number}",
            "id": comment.id,
            "node_id": f"IC_kwDO{comment.id:08d}",
            "user": self._login_json(comment.user),
            "created_at": _iso(comment.created_at),
            "updated_at": _iso(comment.updated_at),
            "author_association": self._association(comment.user),
            "body": comment.body,
            "reactions": {"url": f"{ra}/issues/comments/{comment.id}/reactions", "total_count": 0},
            "performed_via_github_app": None,
        }

    def _review_json(self, pull: _Pull, review: _Review) -> JSON:
        html = f"{self._repo_html}/pull/{pull.number}#pullrequestreview-{review.id}"
        out: JSON = {
            "id": review.id,
            "node_id": f"PRR_kwDO{review.id:08d}",
            "user": self._login_json(review.user),
            "body": review.body,
            "state": review.state,
            "html_url": html,
            "pull_request_url": f"{self._repo_api}/pulls/{pull.number}",
            "author_association": self._association(review.user),
            "_links": {
                "html": {"href": html},
                "pull_request": {"href": f"{self._repo_api}/pulls/{pull.number}"},
            },
            "commit_id": review.commit_id,
        }
        if review.submitted_at is not None:
            out["submitted_at"] = _iso(review.submitted_at)
        return out

    def _labels_of(self, pull: _Pull | _Issue) -> list[JSON]:
        return [self._label_json(self._labels[name.lower()]) for name in pull.labels]

    def _pull_json(self, repo: pygit2.Repository, pull: _Pull, *, full: bool) -> JSON:
        ra = self._repo_api
        n = pull.number
        url = f"{ra}/pulls/{n}"
        html = f"{self._repo_html}/pull/{n}"
        base_sha = self._current_base_sha(repo, pull)
        repo_json = self._repo_json(None)
        out: JSON = {
            "url": url,
            "id": pull.id,
            "node_id": f"PR_kwDO{pull.id:08d}",
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "issue_url": f"{ra}/issues/{n}",
            "number": n,
            "state": pull.state,
            "locked": False,
            "title": pull.title,
            "user": self._login_json(pull.user),
            "body": pull.body,
            "created_at": _iso(pull.created_at),
            "updated_at": _iso(pull.updated_at),
            "closed_at": _iso(pull.closed_at),
            "merged_at": _iso(pull.merged_at),
            "merge_commit_sha": pull.merge_commit_sha,
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [self._login_json(u) for u in pull.requested_reviewers],
            "requested_teams": [
                self._team_json(self._teams[(self.owner.lower(), slug.lower())], full=False)
                for slug in pull.requested_teams
            ],
            "labels": self._labels_of(pull),
            "milestone": None,
            "draft": pull.draft,
            "commits_url": f"{url}/commits",
            "review_comments_url": f"{url}/comments",
            "review_comment_url": f"{ra}/pulls/comments{{/number}}",
            "comments_url": f"{ra}/issues/{n}/comments",
            "statuses_url": f"{ra}/statuses/{pull.head_sha}",
            "head": {
                "label": f"{self.owner}:{pull.head_ref}",
                "ref": pull.head_ref,
                "sha": pull.head_sha,
                "user": self._org_owner_json(self.owner),
                "repo": repo_json,
            },
            "base": {
                "label": f"{self.owner}:{pull.base_ref}",
                "ref": pull.base_ref,
                "sha": base_sha,
                "user": self._org_owner_json(self.owner),
                "repo": repo_json,
            },
            "_links": {
                "self": {"href": url},
                "html": {"href": html},
                "issue": {"href": f"{ra}/issues/{n}"},
                "comments": {"href": f"{ra}/issues/{n}/comments"},
                "review_comments": {"href": f"{url}/comments"},
                "review_comment": {"href": f"{ra}/pulls/comments{{/number}}"},
                "commits": {"href": f"{url}/commits"},
                "statuses": {"href": f"{ra}/statuses/{pull.head_sha}"},
            },
            "author_association": self._association(pull.user),
            "auto_merge": None,
            "active_lock_reason": None,
        }
        if full:
            mergeable: bool | None = None
            state = "unknown"
            if pull.state == "open":
                mergeable = self._mergeable(repo, pull)
                state = "draft" if pull.draft else ("clean" if mergeable else "dirty")
            commits = self._pull_commit_objects(repo, pull)
            _, stats, changed = self._pull_diff(repo, pull)
            out.update(
                {
                    "merged": pull.merged_at is not None,
                    "mergeable": mergeable,
                    "rebaseable": mergeable,
                    "mergeable_state": state,
                    "merged_by": self._login_json(pull.merged_by),
                    "comments": len(pull.comments),
                    "review_comments": 0,
                    "maintainer_can_modify": pull.maintainer_can_modify,
                    "commits": len(commits),
                    "additions": stats["additions"],
                    "deletions": stats["deletions"],
                    "changed_files": changed,
                }
            )
        return out

    def _issue_json(self, repo: pygit2.Repository, pull: _Pull) -> JSON:
        ra = self._repo_api
        n = pull.number
        return {
            "url": f"{ra}/issues/{n}",
            "repository_url": ra,
            "labels_url": f"{ra}/issues/{n}/labels{{/name}}",
            "comments_url": f"{ra}/issues/{n}/comments",
            "events_url": f"{ra}/issues/{n}/events",
            "html_url": f"{self._repo_html}/pull/{n}",
            "id": pull.id + 500_000,
            "node_id": f"PR_kwDO{pull.id:08d}",
            "number": n,
            "title": pull.title,
            "user": self._login_json(pull.user),
            "labels": self._labels_of(pull),
            "state": pull.state,
            "state_reason": None,
            "locked": False,
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "comments": len(pull.comments),
            "created_at": _iso(pull.created_at),
            "updated_at": _iso(pull.updated_at),
            "closed_at": _iso(pull.closed_at),
            "closed_by": self._login_json(pull.closed_by),
            "author_association": self._association(pull.user),
            "active_lock_reason": None,
            "draft": pull.draft,
            "body": pull.body,
            "pull_request": {
                "url": f"{ra}/pulls/{n}",
                "html_url": f"{self._repo_html}/pull/{n}",
                "diff_url": f"{self._repo_html}/pull/{n}.diff",
                "patch_url": f"{self._repo_html}/pull/{n}.patch",
                "merged_at": _iso(pull.merged_at),
            },
            "reactions": {"url": f"{ra}/issues/{n}/reactions", "total_count": 0},
            "timeline_url": f"{ra}/issues/{n}/timeline",
            "performed_via_github_app": None,
        }

    # ---- internals: pull request state -----------------------------------------------------------

    def _pull(self, number: int) -> _Pull:
        pull = self._pulls.get(number)
        if pull is None:
            raise _not_found()
        return pull

    def _issue_or_pull(self, number: int) -> _Pull | _Issue:
        """A pull request or a plain issue: both have comments and labels."""
        found = self._pulls.get(number) or self._issues.get(number)
        if found is None:
            raise _not_found()
        return found

    def _take_number(self) -> int:
        number = self._next_number
        self._next_number += 1
        return number

    def _sorted_pulls(self) -> list[_Pull]:
        return [self._pulls[n] for n in sorted(self._pulls)]

    def _current_base_sha(self, repo: pygit2.Repository, pull: _Pull) -> str:
        if pull.state == "open":
            tip = _branch_tip(repo, pull.base_ref)
            if tip is not None:
                return str(tip.id)
        return pull.base_sha

    def _sync(self, repo: pygit2.Repository) -> None:
        """Bring open pull requests up to date with the bare repository, as GitHub does on push.

        * the head branch moved: ``head.sha`` follows it;
        * the base branch moved and now contains the head commit (someone merged by hand and
          pushed): the pull request is merged, ``merged_by`` unknown;
        * the head branch moved onto a commit the base already contains (force-pushed back to
          the base, "no commits left"), or the head or base branch was deleted: it is closed.
        """
        for pull in self._pulls.values():
            if pull.state != "open":
                continue
            head = _branch_tip(repo, pull.head_ref)
            base = _branch_tip(repo, pull.base_ref)
            head_sha = str(head.id) if head is not None else pull.head_sha
            head_moved = head_sha != pull.head_sha
            if head_moved:
                pull.head_sha = head_sha
                pull.updated_at = self._now()
            contained = base is not None and _contains(repo, base.id, pygit2.Oid(hex=head_sha))
            if base is not None and contained and str(base.id) != pull.base_sha:
                now = self._now()
                pull.state = "closed"
                pull.merged_at = pull.closed_at = pull.updated_at = now
                pull.merge_commit_sha = str(base.id)
            elif head is None or base is None or (contained and head_moved):
                pull.state = "closed"
                pull.closed_at = pull.updated_at = self._now()
            else:
                pull.base_sha = str(base.id)

    def _mergeable(self, repo: pygit2.Repository, pull: _Pull) -> bool:
        base = _branch_tip(repo, pull.base_ref)
        if base is None:
            return False
        index = repo.merge_commits(base.id, pygit2.Oid(hex=pull.head_sha))
        return index.conflicts is None

    def _pull_commit_objects(self, repo: pygit2.Repository, pull: _Pull) -> list[pygit2.Commit]:
        walker = repo.walk(pygit2.Oid(hex=pull.head_sha), SortMode.TOPOLOGICAL | SortMode.REVERSE)
        walker.hide(pygit2.Oid(hex=self._current_base_sha(repo, pull)))
        return list(walker)[:250]

    def _pull_diff(self, repo: pygit2.Repository, pull: _Pull) -> tuple[list[JSON], JSON, int]:
        head = _commit(repo, pygit2.Oid(hex=pull.head_sha))
        base_oid = pygit2.Oid(hex=self._current_base_sha(repo, pull))
        merge_base = repo.merge_base(base_oid, head.id)
        old = _commit(repo, merge_base).tree if merge_base is not None else None
        files, stats = self._diff_files(repo, old, head.tree, pull.head_sha)
        return files, stats, len(files)

    def _parse_head(self, head: Any) -> str:
        if not isinstance(head, str) or not head:
            raise _invalid("PullRequest", "head", "missing_field")
        owner, sep, branch = head.rpartition(":")
        if sep and owner.lower() != self.owner.lower():
            raise _invalid("PullRequest", "head")
        return branch

    def _open_duplicate(self, head_ref: str, base_ref: str, exclude: int | None = None) -> bool:
        return any(
            p.state == "open" and p.head_ref == head_ref and p.base_ref == base_ref
            for p in self._pulls.values()
            if p.number != exclude
        )

    def _close(self, pull: _Pull, login: str) -> None:
        if pull.state == "closed":
            return
        now = self._now()
        pull.state = "closed"
        pull.closed_at = pull.updated_at = now
        pull.closed_by = login

    def _reopen(self, repo: pygit2.Repository, pull: _Pull) -> None:
        if pull.state == "open":
            return
        if pull.merged_at is not None:
            raise _custom("PullRequest", "state cannot be changed. The pull request is merged.")
        head = _branch_tip(repo, pull.head_ref)
        if head is None:
            raise _custom(
                "PullRequest",
                f"state cannot be changed. The {pull.head_ref} branch has been deleted.",
            )
        if self._open_duplicate(pull.head_ref, pull.base_ref, exclude=pull.number):
            raise _custom(
                "PullRequest", f"A pull request already exists for {self.owner}:{pull.head_ref}."
            )
        pull.state = "open"
        pull.closed_at = None
        pull.closed_by = None
        pull.head_sha = str(head.id)
        pull.updated_at = self._now()

    def _merge(
        self,
        repo: pygit2.Repository,
        pull: _Pull,
        user: _User,
        method: str,
        title: str | None,
        message: str | None,
        expected_sha: str | None,
    ) -> str:
        if method not in ("merge", "squash", "rebase"):
            raise _invalid("PullRequest", "merge_method")
        if pull.state != "open":
            raise FakeGitHubError(405, "Pull Request is not mergeable")
        if pull.draft:
            raise FakeGitHubError(405, "Pull Request is still a draft")
        if expected_sha is not None and expected_sha != pull.head_sha:
            raise FakeGitHubError(409, "Head branch was modified. Review and try the merge again.")
        base = _branch_tip(repo, pull.base_ref)
        head_oid = pygit2.Oid(hex=pull.head_sha)
        if base is None:
            raise FakeGitHubError(405, "Pull Request is not mergeable")
        index = repo.merge_commits(base.id, head_oid)
        if index.conflicts is not None:
            raise FakeGitHubError(405, "Pull Request is not mergeable")
        tree = index.write_tree(repo)
        sig = self._user_signature(user)
        commits = self._pull_commit_objects(repo, pull)
        if method == "rebase":
            oid = self._rebase(repo, base, commits, sig)
        elif method == "merge":
            subject = (
                title or f"Merge pull request #{pull.number} from {self.owner}/{pull.head_ref}"
            )
            text = pull.title if message is None else message
            parents = [base.id, head_oid]
        else:
            subject = title or f"{pull.title} (#{pull.number})"
            if message is not None:
                text = message
            else:
                text = "\n\n".join(f"* {c.message.strip()}" for c in commits)
            parents = [base.id]
        if method != "rebase":
            full_message = f"{subject}\n\n{text}" if text else subject
            oid = repo.create_commit(None, sig, sig, full_message, tree, parents)
        repo.references.create(f"refs/heads/{pull.base_ref}", oid, force=True)
        now = self._now()
        pull.base_sha = str(base.id)
        pull.state = "closed"
        pull.merged_at = pull.closed_at = pull.updated_at = now
        pull.merged_by = pull.closed_by = user.login
        pull.merge_commit_sha = str(oid)
        return str(oid)

    def _rebase(
        self,
        repo: pygit2.Repository,
        base: pygit2.Commit,
        commits: list[pygit2.Commit],
        committer: pygit2.Signature,
    ) -> pygit2.Oid:
        """Replay `commits` onto `base`, each keeping its author and message; the new tip."""
        tip = base
        for commit in commits:
            parent = commit.parents[0] if commit.parents else None
            if parent is None:
                raise FakeGitHubError(405, "Pull Request is not mergeable")
            index = repo.merge_trees(parent.tree, tip.tree, commit.tree)
            if index.conflicts is not None:
                raise FakeGitHubError(405, "Pull Request is not rebaseable")
            new = repo.create_commit(
                None, commit.author, committer, commit.message, index.write_tree(repo), [tip.id]
            )
            tip = _commit(repo, new)
        return tip.id

    def _add_comment(self, pull: _Pull | _Issue, user: _User, body: Any) -> _Comment:
        if not isinstance(body, str) or not body:
            raise _invalid("IssueComment", "body", "missing_field")
        now = self._now()
        comment = _Comment(self._next_id("comment"), pull.number, user.login, body, now, now)
        pull.comments.append(comment)
        pull.updated_at = now
        return comment

    def _add_review(self, pull: _Pull, user: _User, body: JSON) -> _Review:
        event = body.get("event")
        text = body.get("body") or ""
        if event is not None and event not in _REVIEW_STATES:
            raise _invalid("PullRequestReview", "event")
        if user.login.lower() == pull.user.lower() and event in ("APPROVE", "REQUEST_CHANGES"):
            what = "approve" if event == "APPROVE" else "request changes on"
            raise FakeGitHubError(
                422, "Unprocessable Entity", errors=[f"Can not {what} your own pull request"]
            )
        if event in ("REQUEST_CHANGES", "COMMENT") and not text:
            raise FakeGitHubError(
                422,
                "Unprocessable Entity",
                errors=[f"Review Body is required for {event} events"],
            )
        commit_id = body.get("commit_id") or pull.head_sha
        now = self._now()
        review = _Review(
            id=self._next_id("review"),
            user=user.login,
            body=text,
            state=_REVIEW_STATES[event] if event else "PENDING",
            commit_id=commit_id,
            submitted_at=now if event else None,
        )
        pull.reviews.append(review)
        if event:
            pull.requested_reviewers = [
                u for u in pull.requested_reviewers if u.lower() != user.login.lower()
            ]
        pull.updated_at = now
        return review

    def _label(self, name: str, *, create: bool) -> _Label:
        label = self._labels.get(name.lower())
        if label is None:
            if not create:
                raise _not_found()
            label = _Label(self._next_id("label"), name, "ededed", None)
            self._labels[name.lower()] = label
        return label

    def _label_names(self, body: Any) -> list[str]:
        items = body.get("labels") if isinstance(body, dict) else body
        if isinstance(items, str):
            items = [items]
        if not isinstance(items, list):
            raise _invalid("Label", "labels")
        names = []
        for item in items:
            name = item.get("name") if isinstance(item, dict) else item
            if not isinstance(name, str) or not name:
                raise _invalid("Label", "name")
            names.append(name)
        return names

    # ---- handlers: users, orgs, teams ------------------------------------------------------------

    def _get_me(self, ctx: _Ctx) -> _Resp:
        return _Resp(200, self._full_user_json(ctx.user))

    def _get_user(self, ctx: _Ctx, login: str) -> _Resp:
        user = self._users.get(login.lower())
        if user is not None:
            return _Resp(200, self._full_user_json(user))
        if login.lower() in self._orgs:
            return _Resp(200, {**self._org_json(login), **self._org_owner_json(login)})
        raise _not_found()

    def _get_rate_limit(self, ctx: _Ctx) -> _Resp:
        used = self._rate_used.get(ctx.user.login, 0)
        reset = int((self._rate_window + timedelta(hours=1)).timestamp())

        def bucket(limit: int, spent: int = 0) -> JSON:
            return {"limit": limit, "used": spent, "remaining": limit - spent, "reset": reset}

        core = bucket(HOURLY_LIMIT, used)
        resources = {
            "core": core,
            "search": bucket(30),
            "graphql": bucket(HOURLY_LIMIT),
            "integration_manifest": bucket(HOURLY_LIMIT),
            "code_search": bucket(10),
        }
        return _Resp(200, {"resources": resources, "rate": core})

    def _get_org(self, ctx: _Ctx, org: str) -> _Resp:
        if org.lower() not in self._orgs:
            raise _not_found()
        return _Resp(200, self._org_json(org))

    def _find_team(
        self, org: str | None, slug: str | None, org_id: str | None, team_id: str | None
    ) -> _Team:
        for team in self._teams.values():
            if org is not None and slug is not None:
                if team.org.lower() == org.lower() and team.slug.lower() == slug.lower():
                    return team
            elif str(team.id) == team_id and str(self._org_id(team.org)) == org_id:
                return team
        raise _not_found()

    def _get_team(self, ctx: _Ctx, **ids: str) -> _Resp:
        return _Resp(200, self._team_json(self._team_from(ids)))

    def _team_from(self, ids: Mapping[str, str]) -> _Team:
        return self._find_team(
            ids.get("org"), ids.get("slug"), ids.get("org_id"), ids.get("team_id")
        )

    def _get_team_members(self, ctx: _Ctx, **ids: str) -> _Resp:
        team = self._team_from(ids)
        role = ctx.query.get("role", "all")
        logins = {
            "member": team.members,
            "maintainer": team.maintainers,
        }.get(role, [*team.maintainers, *team.members])
        seen: dict[str, None] = dict.fromkeys(logins)
        return self._paginate(ctx, [self._login_json(login) for login in seen])

    def _team_role(self, team: _Team, login: str) -> str | None:
        if login.lower() in {m.lower() for m in team.maintainers}:
            return "maintainer"
        if login.lower() in {m.lower() for m in team.members}:
            return "member"
        return None

    def _get_team_membership(self, ctx: _Ctx, login: str, **ids: str) -> _Resp:
        team = self._team_from(ids)
        role = self._team_role(team, login)
        state = "active"
        if role is None and login.lower() in {m.lower() for m in team.pending}:
            role, state = "member", "pending"
        if role is None:
            raise _not_found()
        url = f"{self._team_json(team, full=False)['url']}/memberships/{login}"
        return _Resp(200, {"url": url, "role": role, "state": state})

    def _get_team_member_legacy(self, ctx: _Ctx, login: str, **ids: str) -> _Resp:
        if self._team_role(self._team_from(ids), login) is None:
            raise _not_found()
        return _Resp(204)

    # ---- handlers: repository ------------------------------------------------------------------

    def _get_repo(self, ctx: _Ctx) -> _Resp:
        out = self._repo_json(ctx.user)
        out["organization"] = self._org_owner_json(self.owner)
        out["network_count"] = 0
        out["subscribers_count"] = 0
        return _Resp(200, out)

    def _get_collaborator(self, ctx: _Ctx, login: str) -> _Resp:
        if login.lower() not in self._users:
            raise _not_found()
        return _Resp(204)

    def _get_permission(self, ctx: _Ctx, login: str) -> _Resp:
        user = self._users.get(login.lower())
        if user is None:
            raise _not_found()
        legacy = {"maintain": "write", "triage": "read"}.get(user.permission, user.permission)
        body = {"permission": legacy, "role_name": user.permission, "user": self._user_json(user)}
        return _Resp(200, body)

    def _branch_json(self, repo: pygit2.Repository, name: str, commit: pygit2.Commit) -> JSON:
        url = f"{self._repo_api}/branches/{_quote(name)}"
        return {
            "name": name,
            "commit": self._rest_commit_json(repo, commit, with_files=False),
            "_links": {"self": url, "html": f"{self._repo_html}/tree/{_quote(name)}"},
            "protected": False,
            "protection": {
                "enabled": False,
                "required_status_checks": {
                    "enforcement_level": "off",
                    "contexts": [],
                    "checks": [],
                },
            },
            "protection_url": f"{url}/protection",
        }

    def _list_branches(self, ctx: _Ctx) -> _Resp:
        out = []
        for name in sorted(ctx.repo.references):
            if not name.startswith("refs/heads/"):
                continue
            commit = _peel_commit(ctx.repo.get(ctx.repo.references[name].target))
            if commit is None:
                continue
            sha = str(commit.id)
            out.append(
                {
                    "name": name.removeprefix("refs/heads/"),
                    "commit": {"sha": sha, "url": f"{self._repo_api}/commits/{sha}"},
                    "protected": False,
                }
            )
        return self._paginate(ctx, out)

    def _get_branch(self, ctx: _Ctx, branch: str) -> _Resp:
        tip = _branch_tip(ctx.repo, branch)
        if tip is None:
            raise _not_found("Branch not found")
        return _Resp(200, self._branch_json(ctx.repo, branch, tip))

    # ---- handlers: git data ----------------------------------------------------------------

    def _ref_name(self, ref: str) -> str:
        name = ref if ref.startswith("refs/") else f"refs/{ref}"
        return name.rstrip("/")

    def _get_ref(self, ctx: _Ctx, ref: str) -> _Resp:
        name = self._ref_name(ref)
        if not pygit2.reference_is_valid_name(name) or ctx.repo.references.get(name) is None:
            raise _not_found()
        return _Resp(200, self._ref_json(ctx.repo, name))

    def _all_refs(self, repo: pygit2.Repository, prefix: str) -> list[JSON]:
        names = sorted(n for n in repo.references if n.startswith(prefix) and n != "HEAD")
        return [self._ref_json(repo, n) for n in names]

    def _list_refs(self, ctx: _Ctx) -> _Resp:
        return self._paginate(ctx, self._all_refs(ctx.repo, "refs/"))

    def _get_refs_legacy(self, ctx: _Ctx, ref: str) -> _Resp:
        name = self._ref_name(ref)
        valid = pygit2.reference_is_valid_name(name)
        if valid and ctx.repo.references.get(name) is not None:
            return _Resp(200, self._ref_json(ctx.repo, name))
        matches = self._all_refs(ctx.repo, name)
        if not matches:
            raise _not_found()
        return self._paginate(ctx, matches)

    def _matching_refs(self, ctx: _Ctx, ref: str) -> _Resp:
        return self._paginate(
            ctx, self._all_refs(ctx.repo, self._ref_name(ref) if ref else "refs/")
        )

    def _create_ref(self, ctx: _Ctx) -> _Resp:
        body = _need_dict(ctx.body)
        name, sha = body.get("ref"), body.get("sha")
        if not isinstance(name, str) or not isinstance(sha, str):
            raise FakeGitHubError(422, 'Invalid request.\n\n"ref" and "sha" are required.')
        if not name.startswith("refs/") or name.count("/") < 2:
            raise FakeGitHubError(
                422, "Reference name must start with 'refs/' and have at least two slashes."
            )
        if not pygit2.reference_is_valid_name(name):
            raise FakeGitHubError(422, f"{name} is not a valid ref name.")
        obj = _get_object(ctx.repo, sha)
        if obj is None:
            raise FakeGitHubError(422, "Object does not exist")
        if ctx.repo.references.get(name) is not None:
            raise FakeGitHubError(422, "Reference already exists")
        ctx.repo.references.create(name, obj.id)
        out = self._ref_json(ctx.repo, name)
        return _Resp(201, out, {"Location": out["url"]})

    def _update_ref(self, ctx: _Ctx, ref: str) -> _Resp:
        body = _need_dict(ctx.body)
        name = self._ref_name(ref)
        sha = body.get("sha")
        force = bool(body.get("force", False))
        current = ctx.repo.references.get(name) if pygit2.reference_is_valid_name(name) else None
        if current is None:
            raise FakeGitHubError(422, "Reference does not exist")
        obj = _get_object(ctx.repo, sha)
        if obj is None:
            raise FakeGitHubError(422, "Object does not exist")
        old = current.target
        if not force and old != obj.id:
            try:
                fast_forward = ctx.repo.descendant_of(obj.id, old)
            except (pygit2.GitError, ValueError):
                fast_forward = False
            if not fast_forward:
                raise FakeGitHubError(422, "Update is not a fast forward")
        ctx.repo.references.create(name, obj.id, force=True)
        self._sync(ctx.repo)
        return _Resp(200, self._ref_json(ctx.repo, name))

    def _delete_ref(self, ctx: _Ctx, ref: str) -> _Resp:
        name = self._ref_name(ref)
        if not pygit2.reference_is_valid_name(name) or ctx.repo.references.get(name) is None:
            raise FakeGitHubError(422, "Reference does not exist")
        ctx.repo.references.delete(name)
        self._sync(ctx.repo)
        return _Resp(204)

    def _create_blob(self, ctx: _Ctx) -> _Resp:
        body = _need_dict(ctx.body)
        content = body.get("content")
        encoding = body.get("encoding", "utf-8")
        if not isinstance(content, str):
            raise _invalid("Blob", "content", "missing_field")
        if encoding in ("utf-8", "utf8"):
            data = content.encode()
        elif encoding == "base64":
            try:
                data = base64.b64decode(content, validate=False)
            except (binascii.Error, ValueError):
                raise FakeGitHubError(422, "Invalid base64 content") from None
        else:
            raise FakeGitHubError(422, f"encoding must be one of utf-8, base64: {encoding!r}")
        oid = ctx.repo.create_blob(data)
        url = f"{self._repo_api}/git/blobs/{oid}"
        return _Resp(201, {"sha": str(oid), "url": url}, {"Location": url})

    def _get_blob(self, ctx: _Ctx, sha: str) -> _Resp:
        obj = _get_object(ctx.repo, sha)
        if not isinstance(obj, pygit2.Blob):
            raise _not_found()
        return _Resp(
            200,
            {
                "sha": sha,
                "node_id": f"B_kwDO{sha[:16]}",
                "size": obj.size,
                "url": f"{self._repo_api}/git/blobs/{sha}",
                "content": _b64(obj.data),
                "encoding": "base64",
            },
        )

    def _tree_entry_json(self, path: str, obj: pygit2.Object) -> JSON:
        mode = f"{obj.filemode:06o}"
        kind = _MODE_TYPES.get(mode, obj.type_str)
        out: JSON = {"path": path, "mode": mode, "type": kind, "sha": str(obj.id)}
        if isinstance(obj, pygit2.Blob):
            out["size"] = obj.size
        if kind != "commit":
            out["url"] = f"{self._repo_api}/git/{kind}s/{obj.id}"
        return out

    def _tree_json(self, repo: pygit2.Repository, tree: pygit2.Tree, recursive: bool) -> JSON:
        entries: list[JSON] = []

        def walk(node: pygit2.Tree, prefix: str) -> None:
            for obj in node:
                path = f"{prefix}{obj.name}"
                entries.append(self._tree_entry_json(path, obj))
                if recursive and obj.type_str == "tree":
                    walk(_tree(repo, obj.id), f"{path}/")

        walk(tree, "")
        return {
            "sha": str(tree.id),
            "url": f"{self._repo_api}/git/trees/{tree.id}",
            "tree": entries,
            "truncated": False,
        }

    def _create_tree(self, ctx: _Ctx) -> _Resp:
        body = _need_dict(ctx.body)
        items = body.get("tree")
        if not isinstance(items, list):
            raise _invalid("Tree", "tree", "missing_field")
        base: pygit2.Tree | None = None
        if body.get("base_tree") is not None:
            found = _get_object(ctx.repo, body["base_tree"])
            if isinstance(found, pygit2.Tree):
                base = found
            elif (commit := _peel_commit(found)) is not None:
                base = commit.tree
            else:
                raise FakeGitHubError(422, "base_tree is not a valid tree oid")
        changes: dict[tuple[str, ...], tuple[pygit2.Oid, int] | None] = {}
        for item in items:
            if not isinstance(item, dict):
                raise _invalid("Tree", "tree")
            parts = _path_parts(item.get("path"))
            mode = item.get("mode")
            if mode not in _TREE_MODES:
                raise FakeGitHubError(422, f"tree.mode must be one of {sorted(_TREE_MODES)}")
            kind = item.get("type", _MODE_TYPES[mode])
            if kind != _MODE_TYPES[mode]:
                raise FakeGitHubError(422, f"tree.type {kind!r} does not match mode {mode}")
            if "content" in item and item["content"] is not None:
                if kind != "blob":
                    raise FakeGitHubError(422, "tree.content is only allowed for blobs")
                oid = ctx.repo.create_blob(str(item["content"]).encode())
                changes[parts] = (oid, _TREE_MODES[mode])
            elif "sha" in item and item["sha"] is None:
                changes[parts] = None
            else:
                sha = item.get("sha")
                obj = _get_object(ctx.repo, sha)
                if kind != "commit" and (obj is None or obj.type_str != kind):
                    raise FakeGitHubError(422, "GitRPC::BadObjectState")
                if kind == "commit" and not (isinstance(sha, str) and _SHA_RE.fullmatch(sha)):
                    raise FakeGitHubError(422, "GitRPC::BadObjectState")
                changes[parts] = (pygit2.Oid(hex=str(sha)), _TREE_MODES[mode])
        oid = _write_tree(ctx.repo, base, changes)
        out = self._tree_json(ctx.repo, _tree(ctx.repo, oid), recursive=False)
        return _Resp(201, out, {"Location": out["url"]})

    def _get_tree(self, ctx: _Ctx, sha: str) -> _Resp:
        found = _get_object(ctx.repo, sha)
        if isinstance(found, pygit2.Tree):
            tree = found
        else:
            commit = _resolve_commit(ctx.repo, sha) if found is None else _peel_commit(found)
            if commit is None:
                raise _not_found()
            tree = commit.tree
        recursive = ctx.query.get("recursive", "") not in ("", "0", "false")
        return _Resp(200, self._tree_json(ctx.repo, tree, recursive))

    def _input_signature(
        self, raw: Any, fallback: pygit2.Signature | None, user: _User
    ) -> pygit2.Signature:
        if raw is None:
            return fallback if fallback is not None else self._user_signature(user)
        if not isinstance(raw, dict) or not raw.get("name") or not raw.get("email"):
            raise _invalid("Commit", "author")
        moment = _parse_date(raw["date"]) if raw.get("date") else self._now()
        return _signature(str(raw["name"]), str(raw["email"]), moment)

    def _create_commit(self, ctx: _Ctx) -> _Resp:
        body = _need_dict(ctx.body)
        message = body.get("message")
        if not isinstance(message, str):
            raise _invalid("Commit", "message", "missing_field")
        tree = _get_object(ctx.repo, body.get("tree"))
        if not isinstance(tree, pygit2.Tree):
            raise FakeGitHubError(422, "Tree SHA does not exist")
        parents = body.get("parents", [])
        if not isinstance(parents, list):
            raise _invalid("Commit", "parents")
        parent_ids = []
        for sha in parents:
            parent = _get_object(ctx.repo, sha)
            if not isinstance(parent, pygit2.Commit):
                raise FakeGitHubError(422, "Parent SHA does not exist or is not a commit object")
            parent_ids.append(parent.id)
        author = self._input_signature(body.get("author"), None, ctx.user)
        committer = self._input_signature(body.get("committer"), author, ctx.user)
        oid = ctx.repo.create_commit(None, author, committer, message, tree.id, parent_ids)
        out = self._git_commit_json(_commit(ctx.repo, oid))
        return _Resp(201, out, {"Location": out["url"]})

    def _get_git_commit(self, ctx: _Ctx, sha: str) -> _Resp:
        obj = _get_object(ctx.repo, sha)
        if not isinstance(obj, pygit2.Commit):
            raise _not_found()
        return _Resp(200, self._git_commit_json(obj))

    def _list_commits(self, ctx: _Ctx) -> _Resp:
        spec = ctx.query.get("sha") or self.default_branch
        start = _resolve_commit(ctx.repo, spec)
        if start is None:
            raise _not_found()
        path = ctx.query.get("path", "").strip("/")
        out = []
        for commit in ctx.repo.walk(start.id, SortMode.TOPOLOGICAL | SortMode.TIME):
            if path and not self._touches(ctx.repo, commit, path):
                continue
            out.append(self._rest_commit_json(ctx.repo, commit, with_files=False))
        return self._paginate(ctx, out)

    def _touches(self, repo: pygit2.Repository, commit: pygit2.Commit, path: str) -> bool:
        def entry(tree: pygit2.Tree) -> str | None:
            try:
                return str(tree[path].id)
            except KeyError:
                return None

        mine = entry(commit.tree)
        if not commit.parents:
            return mine is not None
        return any(entry(p.tree) != mine for p in commit.parents)

    def _get_commit(self, ctx: _Ctx, sha: str) -> _Resp:
        commit = _resolve_commit(ctx.repo, sha)
        if commit is None:
            raise FakeGitHubError(422, f"No commit found for SHA: {sha}")
        return _Resp(200, self._rest_commit_json(ctx.repo, commit, with_files=True))

    # ---- handlers: contents --------------------------------------------------------------------

    def _content_json(self, path: str, obj: pygit2.Object, ref: str, *, with_content: bool) -> JSON:
        ra = self._repo_api
        mode = obj.filemode
        kind = {FileMode.TREE: "dir", FileMode.LINK: "symlink", FileMode.COMMIT: "submodule"}.get(
            mode, "file"
        )
        url = f"{ra}/contents/{_quote(path)}?ref={urllib.parse.quote(ref, safe='')}"
        git_url = f"{ra}/git/{'trees' if kind == 'dir' else 'blobs'}/{obj.id}"
        html = f"{self._repo_html}/{'tree' if kind == 'dir' else 'blob'}/{ref}/{_quote(path)}"
        out: JSON = {
            "type": kind,
            "size": obj.size if isinstance(obj, pygit2.Blob) else 0,
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "sha": str(obj.id),
            "url": url,
            "git_url": git_url,
            "html_url": html,
            "download_url": (
                f"https://raw.githubusercontent.com/{self.owner}/{self.repo}/{ref}/{_quote(path)}"
                if kind == "file"
                else None
            ),
            "_links": {"self": url, "git": git_url, "html": html},
        }
        if with_content and isinstance(obj, pygit2.Blob):
            if kind == "symlink":
                out["target"] = obj.data.decode("utf-8", "replace")
            else:
                out["content"] = _b64(obj.data)
                out["encoding"] = "base64"
        return out

    def _get_contents(self, ctx: _Ctx, path: str | None = None) -> _Resp:
        ref = ctx.query.get("ref") or self.default_branch
        commit = _resolve_commit(ctx.repo, ref)
        if commit is None:
            raise _not_found(f"No commit found for the ref {ref}")
        path = (path or "").strip("/")
        if path:
            try:
                obj = commit.tree[path]
            except KeyError:
                raise _not_found() from None
        else:
            obj = commit.tree
        if isinstance(obj, pygit2.Tree):
            prefix = f"{path}/" if path else ""
            listing = [
                self._content_json(f"{prefix}{entry.name}", entry, ref, with_content=False)
                for entry in obj
            ]
            return _Resp(200, listing)
        return _Resp(200, self._content_json(path, obj, ref, with_content=True))

    def _commit_file_change(
        self, ctx: _Ctx, path: str, blob: pygit2.Oid | None, verb: str
    ) -> tuple[pygit2.Commit, str, pygit2.Object | None]:
        body = _need_dict(ctx.body)
        message = body.get("message")
        if not isinstance(message, str) or not message:
            raise FakeGitHubError(422, 'Invalid request.\n\n"message" wasn\'t supplied.')
        branch = body.get("branch") or self.default_branch
        tip = _branch_tip(ctx.repo, branch)
        if tip is None:
            raise _not_found(f"Branch {branch} not found")
        path = path.strip("/")
        try:
            existing: pygit2.Object | None = tip.tree[path]
        except KeyError:
            existing = None
        sha = body.get("sha")
        if existing is None and verb == "delete":
            raise _not_found()
        if existing is not None and sha is None:
            raise FakeGitHubError(422, 'Invalid request.\n\n"sha" wasn\'t supplied.')
        if existing is not None and sha != str(existing.id):
            raise FakeGitHubError(409, f"{path} does not match {sha}")
        value = None if blob is None else (blob, FileMode.BLOB)
        tree = _write_tree(ctx.repo, tip.tree, {_path_parts(path): value})
        author = self._input_signature(body.get("author"), None, ctx.user)
        committer = self._input_signature(body.get("committer"), author, ctx.user)
        oid = ctx.repo.create_commit(None, author, committer, message, tree, [tip.id])
        ctx.repo.references.create(f"refs/heads/{branch}", oid, force=True)
        self._sync(ctx.repo)
        return _commit(ctx.repo, oid), branch, existing

    def _put_contents(self, ctx: _Ctx, path: str) -> _Resp:
        body = _need_dict(ctx.body)
        content = body.get("content")
        if not isinstance(content, str):
            raise FakeGitHubError(422, 'Invalid request.\n\n"content" wasn\'t supplied.')
        try:
            data = base64.b64decode(content, validate=False)
        except (binascii.Error, ValueError):
            raise FakeGitHubError(422, "content is not valid Base64") from None
        blob = ctx.repo.create_blob(data)
        commit, branch, existing = self._commit_file_change(ctx, path, blob, "put")
        path = path.strip("/")
        content_json = self._content_json(path, commit.tree[path], branch, with_content=False)
        status = 201 if existing is None else 200
        return _Resp(status, {"content": content_json, "commit": self._git_commit_json(commit)})

    def _delete_contents(self, ctx: _Ctx, path: str) -> _Resp:
        commit, _, _ = self._commit_file_change(ctx, path, None, "delete")
        return _Resp(200, {"content": None, "commit": self._git_commit_json(commit)})

    # ---- handlers: pull requests -----------------------------------------------------------------

    def _list_pulls(self, ctx: _Ctx) -> _Resp:
        state = ctx.query.get("state", "open")
        if state not in ("open", "closed", "all"):
            raise _invalid("Issue", "state", value=state)
        pulls = [p for p in self._pulls.values() if state in ("all", p.state)]
        head = ctx.query.get("head")
        if head and ":" in head:
            # Without the "owner:" prefix GitHub silently ignores the filter; so does the fake.
            owner, _, branch = head.partition(":")
            if owner.lower() != self.owner.lower():
                pulls = []
            elif branch:
                pulls = [p for p in pulls if p.head_ref == branch]
        base = ctx.query.get("base")
        if base:
            pulls = [p for p in pulls if p.base_ref == base]
        sort = ctx.query.get("sort", "created")
        direction = ctx.query.get("direction", "desc" if sort == "created" else "asc")
        keys: dict[str, Callable[[_Pull], Any]] = {
            "created": lambda p: (p.created_at, p.number),
            "updated": lambda p: (p.updated_at, p.number),
            "popularity": lambda p: (len(p.comments), p.number),
            "long-running": lambda p: (p.created_at, p.number),
        }
        if sort not in keys or direction not in ("asc", "desc"):
            raise _invalid("PullRequest", "sort" if sort not in keys else "direction")
        pulls.sort(key=keys[sort], reverse=direction == "desc")
        return self._paginate(ctx, [self._pull_json(ctx.repo, p, full=False) for p in pulls])

    def _create_pull(self, ctx: _Ctx) -> _Resp:
        body = _need_dict(ctx.body)
        title = body.get("title")
        if not isinstance(title, str) or not title.strip():
            raise _invalid("PullRequest", "title", "missing_field")
        base_ref = body.get("base")
        if not isinstance(base_ref, str) or not base_ref:
            raise _invalid("PullRequest", "base", "missing_field")
        head_ref = self._parse_head(body.get("head"))
        base = _branch_tip(ctx.repo, base_ref)
        if base is None:
            raise _invalid("PullRequest", "base")
        head = _branch_tip(ctx.repo, head_ref)
        if head is None:
            raise _invalid("PullRequest", "head")
        if self._open_duplicate(head_ref, base_ref):
            raise _custom(
                "PullRequest", f"A pull request already exists for {self.owner}:{head_ref}."
            )
        if head.id == base.id or ctx.repo.descendant_of(base.id, head.id):
            raise _custom("PullRequest", f"No commits between {base_ref} and {head_ref}")
        now = self._now()
        number = self._take_number()
        pull = _Pull(
            number=number,
            id=1_000_000 + number,
            title=title,
            body=body.get("body"),
            user=ctx.user.login,
            head_ref=head_ref,
            base_ref=base_ref,
            head_sha=str(head.id),
            base_sha=str(base.id),
            draft=bool(body.get("draft", False)),
            created_at=now,
            updated_at=now,
            maintainer_can_modify=bool(body.get("maintainer_can_modify", True)),
        )
        self._pulls[number] = pull
        out = self._pull_json(ctx.repo, pull, full=True)
        return _Resp(201, out, {"Location": out["url"]})

    def _get_pull(self, ctx: _Ctx, number: str) -> _Resp:
        pull = self._pull(int(number))
        out = self._pull_json(ctx.repo, pull, full=True)
        return _Resp(200, out, {"Last-Modified": _http_date(pull.updated_at)})

    def _update_pull(self, ctx: _Ctx, number: str) -> _Resp:
        body = _need_dict(ctx.body)
        pull = self._pull(int(number))
        self._apply_edits(ctx, pull, body, resource="PullRequest")
        if "base" in body:
            if _branch_tip(ctx.repo, str(body["base"])) is None:
                raise _invalid("PullRequest", "base")
            pull.base_ref = str(body["base"])
        if "maintainer_can_modify" in body:
            pull.maintainer_can_modify = bool(body["maintainer_can_modify"])
        pull.updated_at = self._now()
        return _Resp(200, self._pull_json(ctx.repo, pull, full=True))

    def _apply_edits(self, ctx: _Ctx, pull: _Pull, body: JSON, *, resource: str) -> None:
        if "title" in body:
            if not isinstance(body["title"], str) or not body["title"].strip():
                raise _invalid(resource, "title", "missing_field")
            pull.title = body["title"]
        if "body" in body:
            pull.body = body["body"]
        if "state" in body:
            state = body["state"]
            if state == "closed":
                self._close(pull, ctx.user.login)
            elif state == "open":
                self._reopen(ctx.repo, pull)
            else:
                raise _invalid(resource, "state")

    def _is_merged(self, ctx: _Ctx, number: str) -> _Resp:
        if self._pull(int(number)).merged_at is None:
            raise _not_found()
        return _Resp(204)

    def _merge_pull_api(self, ctx: _Ctx, number: str) -> _Resp:
        body = _need_dict(ctx.body)
        pull = self._pull(int(number))
        sha = self._merge(
            ctx.repo,
            pull,
            ctx.user,
            body.get("merge_method", "merge"),
            body.get("commit_title"),
            body.get("commit_message"),
            body.get("sha"),
        )
        return _Resp(
            200, {"sha": sha, "merged": True, "message": "Pull Request successfully merged"}
        )

    def _pull_commits(self, ctx: _Ctx, number: str) -> _Resp:
        pull = self._pull(int(number))
        commits = self._pull_commit_objects(ctx.repo, pull)
        return self._paginate(
            ctx, [self._rest_commit_json(ctx.repo, c, with_files=False) for c in commits]
        )

    def _pull_files(self, ctx: _Ctx, number: str) -> _Resp:
        files, _, _ = self._pull_diff(ctx.repo, self._pull(int(number)))
        return self._paginate(ctx, files)

    def _review_request_lists(self, body: JSON) -> tuple[list[str], list[str]]:
        users = body.get("reviewers") or []
        teams = body.get("team_reviewers") or []
        if not isinstance(users, list) or not isinstance(teams, list):
            raise _invalid("PullRequest", "reviewers")
        return [str(u) for u in users], [str(t) for t in teams]

    def _get_review_requests(self, ctx: _Ctx, number: str) -> _Resp:
        pull = self._pull(int(number))
        out = self._pull_json(ctx.repo, pull, full=False)
        return _Resp(200, {"users": out["requested_reviewers"], "teams": out["requested_teams"]})

    def _request_reviewers(self, ctx: _Ctx, number: str) -> _Resp:
        pull = self._pull(int(number))
        users, teams = self._review_request_lists(_need_dict(ctx.body))
        not_collaborator = FakeGitHubError(
            422,
            "Reviews may only be requested from collaborators. One or more of the users or "
            f"teams you specified is not a collaborator of the {self.owner}/{self.repo} "
            "repository.",
        )
        for login in users:
            if login.lower() == pull.user.lower():
                raise FakeGitHubError(422, "Review cannot be requested from pull request author.")
            if login.lower() not in self._users:
                raise not_collaborator
        for slug in teams:
            if (self.owner.lower(), slug.lower()) not in self._teams:
                raise not_collaborator
        for login in users:
            canonical = self._users[login.lower()].login
            if canonical not in pull.requested_reviewers:
                pull.requested_reviewers.append(canonical)
        for slug in teams:
            canonical = self._teams[(self.owner.lower(), slug.lower())].slug
            if canonical not in pull.requested_teams:
                pull.requested_teams.append(canonical)
        pull.updated_at = self._now()
        return _Resp(201, self._pull_json(ctx.repo, pull, full=False))

    def _remove_review_requests(self, ctx: _Ctx, number: str) -> _Resp:
        pull = self._pull(int(number))
        users, teams = self._review_request_lists(_need_dict(ctx.body))
        drop_users = {u.lower() for u in users}
        drop_teams = {t.lower() for t in teams}
        pull.requested_reviewers = [
            u for u in pull.requested_reviewers if u.lower() not in drop_users
        ]
        pull.requested_teams = [t for t in pull.requested_teams if t.lower() not in drop_teams]
        pull.updated_at = self._now()
        return _Resp(200, self._pull_json(ctx.repo, pull, full=False))

    def _list_reviews(self, ctx: _Ctx, number: str) -> _Resp:
        pull = self._pull(int(number))
        return self._paginate(ctx, [self._review_json(pull, r) for r in pull.reviews])

    def _create_review(self, ctx: _Ctx, number: str) -> _Resp:
        pull = self._pull(int(number))
        review = self._add_review(pull, ctx.user, _need_dict(ctx.body))
        return _Resp(200, self._review_json(pull, review))

    def _get_review(self, ctx: _Ctx, number: str, review_id: str) -> _Resp:
        pull = self._pull(int(number))
        for review in pull.reviews:
            if str(review.id) == review_id:
                return _Resp(200, self._review_json(pull, review))
        raise _not_found()

    # ---- handlers: issues ----------------------------------------------------------------------

    def _get_issue(self, ctx: _Ctx, number: str) -> _Resp:
        issue = self._issues.get(int(number))
        if issue is not None:
            out = self._plain_issue_json(issue)
            return _Resp(200, out, {"Last-Modified": _http_date(issue.updated_at)})
        pull = self._pull(int(number))
        out = self._issue_json(ctx.repo, pull)
        return _Resp(200, out, {"Last-Modified": _http_date(pull.updated_at)})

    def _update_issue(self, ctx: _Ctx, number: str) -> _Resp:
        body = _need_dict(ctx.body)
        issue = self._issues.get(int(number))
        if issue is not None:
            self._edit_plain_issue(ctx, issue, body)
            return _Resp(200, self._plain_issue_json(issue))
        pull = self._pull(int(number))
        self._apply_edits(ctx, pull, body, resource="Issue")
        if "labels" in body:
            pull.labels = [self._label(n, create=True).name for n in self._label_names(body)]
        pull.updated_at = self._now()
        return _Resp(200, self._issue_json(ctx.repo, pull))

    def _list_comments(self, ctx: _Ctx, number: str) -> _Resp:
        pull = self._issue_or_pull(int(number))
        return self._paginate(ctx, [self._comment_json(c) for c in pull.comments])

    def _create_comment(self, ctx: _Ctx, number: str) -> _Resp:
        pull = self._issue_or_pull(int(number))
        comment = self._add_comment(pull, ctx.user, _need_dict(ctx.body).get("body"))
        out = self._comment_json(comment)
        return _Resp(201, out, {"Location": out["url"]})

    def _find_comment(self, comment_id: str) -> tuple[_Pull | _Issue, _Comment]:
        for pull in [*self._pulls.values(), *self._issues.values()]:
            for comment in pull.comments:
                if str(comment.id) == comment_id:
                    return pull, comment
        raise _not_found()

    def _get_comment(self, ctx: _Ctx, comment_id: str) -> _Resp:
        return _Resp(200, self._comment_json(self._find_comment(comment_id)[1]))

    def _edit_comment(self, ctx: _Ctx, comment_id: str) -> _Resp:
        _, comment = self._find_comment(comment_id)
        text = _need_dict(ctx.body).get("body")
        if not isinstance(text, str) or not text:
            raise _invalid("IssueComment", "body", "missing_field")
        comment.body = text
        comment.updated_at = self._now()
        return _Resp(200, self._comment_json(comment))

    def _delete_comment(self, ctx: _Ctx, comment_id: str) -> _Resp:
        pull, comment = self._find_comment(comment_id)
        pull.comments.remove(comment)
        return _Resp(204)

    def _list_issue_labels(self, ctx: _Ctx, number: str) -> _Resp:
        return self._paginate(ctx, self._labels_of(self._issue_or_pull(int(number))))

    def _add_issue_labels(self, ctx: _Ctx, number: str) -> _Resp:
        pull = self._issue_or_pull(int(number))
        for name in self._label_names(ctx.body):
            label = self._label(name, create=True)
            if label.name.lower() not in {n.lower() for n in pull.labels}:
                pull.labels.append(label.name)
        pull.updated_at = self._now()
        return _Resp(200, self._labels_of(pull))

    def _set_issue_labels(self, ctx: _Ctx, number: str) -> _Resp:
        pull = self._issue_or_pull(int(number))
        names = self._label_names(ctx.body) if ctx.body is not None else []
        pull.labels = list(dict.fromkeys(self._label(n, create=True).name for n in names))
        pull.updated_at = self._now()
        return _Resp(200, self._labels_of(pull))

    def _clear_issue_labels(self, ctx: _Ctx, number: str) -> _Resp:
        pull = self._issue_or_pull(int(number))
        pull.labels = []
        pull.updated_at = self._now()
        return _Resp(204)

    def _remove_issue_label(self, ctx: _Ctx, number: str, label: str) -> _Resp:
        pull = self._issue_or_pull(int(number))
        kept = [n for n in pull.labels if n.lower() != label.lower()]
        if len(kept) == len(pull.labels):
            raise _not_found("Label does not exist")
        pull.labels = kept
        pull.updated_at = self._now()
        return _Resp(200, self._labels_of(pull))

    def _list_labels(self, ctx: _Ctx) -> _Resp:
        return self._paginate(ctx, [self._label_json(lb) for lb in self._labels.values()])

    def _create_label(self, ctx: _Ctx) -> _Resp:
        body = _need_dict(ctx.body)
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise _invalid("Label", "name", "missing_field")
        if name.lower() in self._labels:
            raise _invalid("Label", "name", "already_exists")
        color = str(body.get("color") or "ededed").lstrip("#")
        if not re.fullmatch(r"[0-9a-fA-F]{6}", color):
            raise _invalid("Label", "color")
        label = _Label(self._next_id("label"), name, color, body.get("description"))
        self._labels[name.lower()] = label
        out = self._label_json(label)
        return _Resp(201, out, {"Location": out["url"]})

    def _get_label(self, ctx: _Ctx, label: str) -> _Resp:
        return _Resp(200, self._label_json(self._label(label, create=False)))

    # ---- handlers: plain issues ----------------------------------------------------------------

    def _new_issue(self, user: _User, title: Any, body: Any, labels: list[str]) -> _Issue:
        if not isinstance(title, str) or not title.strip():
            raise _invalid("Issue", "title", "missing_field")
        if body is not None and not isinstance(body, str):
            raise _invalid("Issue", "body")
        if body is not None and len(body) > _BODY_LIMIT:
            raise _custom("Issue", f"body is too long (maximum is {_BODY_LIMIT} characters)")
        now = self._now()
        number = self._take_number()
        issue = _Issue(
            number=number,
            id=3_000_000 + number,
            title=title,
            body=body,
            user=user.login,
            created_at=now,
            updated_at=now,
            labels=[self._label(name, create=True).name for name in labels],
        )
        self._issues[number] = issue
        return issue

    def _plain_issue_json(self, issue: _Issue) -> JSON:
        ra = self._repo_api
        n = issue.number
        return {
            "url": f"{ra}/issues/{n}",
            "repository_url": ra,
            "labels_url": f"{ra}/issues/{n}/labels{{/name}}",
            "comments_url": f"{ra}/issues/{n}/comments",
            "events_url": f"{ra}/issues/{n}/events",
            "html_url": f"{self._repo_html}/issues/{n}",
            "id": issue.id,
            "node_id": f"I_kwDO{issue.id:08d}",
            "number": n,
            "title": issue.title,
            "user": self._login_json(issue.user),
            "labels": self._labels_of(issue),
            "state": issue.state,
            "state_reason": issue.state_reason,
            "locked": False,
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "comments": len(issue.comments),
            "created_at": _iso(issue.created_at),
            "updated_at": _iso(issue.updated_at),
            "closed_at": _iso(issue.closed_at),
            "closed_by": self._login_json(issue.closed_by),
            "author_association": self._association(issue.user),
            "active_lock_reason": None,
            "body": issue.body,
            "reactions": {"url": f"{ra}/issues/{n}/reactions", "total_count": 0},
            "timeline_url": f"{ra}/issues/{n}/timeline",
            "performed_via_github_app": None,
        }

    def _edit_plain_issue(self, ctx: _Ctx, issue: _Issue, body: JSON) -> None:
        if "title" in body:
            if not isinstance(body["title"], str) or not body["title"].strip():
                raise _invalid("Issue", "title", "missing_field")
            issue.title = body["title"]
        if "body" in body:
            text = body["body"]
            if text is not None and (not isinstance(text, str) or len(text) > _BODY_LIMIT):
                raise _custom("Issue", f"body is too long (maximum is {_BODY_LIMIT} characters)")
            issue.body = text
        if "labels" in body:
            issue.labels = [self._label(n, create=True).name for n in self._label_names(body)]
        state = body.get("state")
        reason = body.get("state_reason")
        if state not in (None, "open", "closed"):
            raise _invalid("Issue", "state")
        if reason not in (None, "completed", "not_planned", "reopened"):
            raise _invalid("Issue", "state_reason")
        now = self._now()
        if state == "closed" and issue.state != "closed":
            issue.state, issue.closed_at, issue.closed_by = "closed", now, ctx.user.login
            issue.state_reason = reason or "completed"
        elif state == "open" and issue.state != "open":
            issue.state, issue.closed_at, issue.closed_by = "open", None, None
            issue.state_reason = "reopened"
        issue.updated_at = now

    def _create_issue(self, ctx: _Ctx) -> _Resp:
        body = _need_dict(ctx.body)
        labels = self._label_names(body) if body.get("labels") else []
        issue = self._new_issue(ctx.user, body.get("title"), body.get("body"), labels)
        out = self._plain_issue_json(issue)
        return _Resp(201, out, {"Location": out["url"]})

    def _list_issues(self, ctx: _Ctx) -> _Resp:
        """Issues and pull requests together, as GitHub lists them (a pull request carries a
        `pull_request` key), filtered by state, labels (all of them) and creator."""
        state = ctx.query.get("state", "open")
        if state not in ("open", "closed", "all"):
            raise _invalid("Issue", "state", value=state)
        wanted = {x.strip().lower() for x in ctx.query.get("labels", "").split(",") if x.strip()}
        creator = ctx.query.get("creator", "").lower()
        threads: list[_Pull | _Issue] = [*self._pulls.values(), *self._issues.values()]
        chosen = [
            t
            for t in threads
            if state in ("all", t.state)
            and wanted <= {label.lower() for label in t.labels}
            and (not creator or t.user.lower() == creator)
        ]
        sort = ctx.query.get("sort", "created")
        direction = ctx.query.get("direction", "desc")
        if sort not in ("created", "updated", "comments") or direction not in ("asc", "desc"):
            raise _invalid("Issue", "sort")
        keys: dict[str, Callable[[_Pull | _Issue], Any]] = {
            "created": lambda t: (t.created_at, t.number),
            "updated": lambda t: (t.updated_at, t.number),
            "comments": lambda t: (len(t.comments), t.number),
        }
        chosen.sort(key=keys[sort], reverse=direction == "desc")
        items = [
            self._plain_issue_json(t) if isinstance(t, _Issue) else self._issue_json(ctx.repo, t)
            for t in chosen
        ]
        return self._paginate(ctx, items)

    def _search_issues(self, ctx: _Ctx) -> _Resp:
        """`GET /search/issues`: the qualifiers `repo:`, `is:issue`/`is:pr`,
        `is:open`/`is:closed` (or `state:`), `label:`, `author:` and `in:title`, and words
        that must all appear (in the title with `in:title`, else in the title or body)."""
        query = ctx.query.get("q", "")
        if not query.strip():
            raise _invalid("Search", "q", "missing")
        terms: list[str] = []
        filters: dict[str, list[str]] = {}
        for token in re.findall(r'[\w:./-]+:"[^"]*"|"[^"]*"|\S+', query):
            key, sep, value = token.partition(":")
            if sep and key in ("repo", "is", "state", "label", "author", "in", "type"):
                filters.setdefault(key, []).append(value.strip('"').lower())
            else:
                terms.append(token.strip('"').lower())
        full = f"{self.owner}/{self.repo}".lower()
        if any(repo != full for repo in filters.get("repo", [])):
            items: list[JSON] = []
            return _Resp(200, {"total_count": 0, "incomplete_results": False, "items": items})
        kinds = {*filters.get("is", []), *filters.get("type", [])}
        states = {*(k for k in kinds if k in ("open", "closed")), *filters.get("state", [])}
        title_only = "title" in filters.get("in", [])
        threads: list[_Pull | _Issue] = [*self._pulls.values(), *self._issues.values()]
        found = []
        for thread in sorted(threads, key=lambda t: t.number, reverse=True):
            is_pull = isinstance(thread, _Pull)
            if ("issue" in kinds and is_pull) or ("pr" in kinds and not is_pull):
                continue
            if states and thread.state not in states:
                continue
            labels = {label.lower() for label in thread.labels}
            if any(label not in labels for label in filters.get("label", [])):
                continue
            if any(author != thread.user.lower() for author in filters.get("author", [])):
                continue
            text = thread.title if title_only else f"{thread.title}\n{thread.body or ''}"
            if any(term not in text.lower() for term in terms):
                continue
            found.append(
                self._issue_json(ctx.repo, thread)
                if isinstance(thread, _Pull)
                else self._plain_issue_json(thread)
            )
        page = self._paginate(ctx, found)
        body = {"total_count": len(found), "incomplete_results": False, "items": page.body}
        return _Resp(200, body, page.headers)

    # ---- handlers: commit statuses ---------------------------------------------------------------

    def _status_json(self, status: _Status) -> JSON:
        return {
            "url": f"{self._repo_api}/statuses/{status.sha}",
            "id": status.id,
            "node_id": f"SC_kwDO{status.id:08d}",
            "state": status.state,
            "description": status.description,
            "target_url": status.target_url,
            "context": status.context,
            "created_at": _iso(status.created_at),
            "updated_at": _iso(status.created_at),
            "creator": self._login_json(status.creator),
        }

    def _create_status(self, ctx: _Ctx, sha: str) -> _Resp:
        body = _need_dict(ctx.body)
        state = body.get("state")
        if state not in ("error", "failure", "pending", "success"):
            raise _invalid("Status", "state", "missing_field" if state is None else "invalid")
        commit = _resolve_commit(ctx.repo, sha) if _SHA_RE.fullmatch(sha) else None
        if commit is None:
            raise FakeGitHubError(422, f"No commit found for SHA: {sha}")
        description = body.get("description")
        if description is not None and len(str(description)) > _STATUS_DESCRIPTION_LIMIT:
            raise _custom(
                "Status",
                f"description is too long (maximum is {_STATUS_DESCRIPTION_LIMIT} characters)",
            )
        context = str(body.get("context") or "default")
        status = _Status(
            id=self._next_id("status"),
            sha=str(commit.id),
            state=state,
            context=context,
            description=None if description is None else str(description),
            target_url=body.get("target_url"),
            creator=ctx.user.login,
            created_at=self._now(),
        )
        self._statuses.append(status)
        return _Resp(201, self._status_json(status))

    def _statuses_of(self, ctx: _Ctx, ref: str) -> tuple[str, list[_Status]]:
        commit = _resolve_commit(ctx.repo, ref)
        if commit is None:
            raise _not_found(f"No commit found for SHA: {ref}")
        sha = str(commit.id)
        return sha, [x for x in reversed(self._statuses) if x.sha == sha]

    def _list_statuses(self, ctx: _Ctx, ref: str) -> _Resp:
        _, found = self._statuses_of(ctx, ref)
        return self._paginate(ctx, [self._status_json(x) for x in found])

    def _combined_status(self, ctx: _Ctx, ref: str) -> _Resp:
        """The latest status per context; failure if any is an error or a failure, pending if
        any is pending (or there is none), else success."""
        sha, found = self._statuses_of(ctx, ref)
        latest: dict[str, _Status] = {}
        for status in found:
            latest.setdefault(status.context, status)
        states = {x.state for x in latest.values()}
        combined = (
            "failure"
            if states & {"error", "failure"}
            else "pending"
            if "pending" in states or not states
            else "success"
        )
        return _Resp(
            200,
            {
                "state": combined,
                "statuses": [self._status_json(x) for x in latest.values()],
                "sha": sha,
                "total_count": len(latest),
                "repository": self._repo_json(None),
                "commit_url": f"{self._repo_api}/commits/{sha}",
                "url": f"{self._repo_api}/commits/{sha}/status",
            },
        )

    # ---- handlers: bringing a pull request up to date ------------------------------------------------

    def _update_branch(
        self, repo: pygit2.Repository, pull: _Pull, user: _User, expected: str | None
    ) -> str:
        """Merge the base into the head, as the "Update branch" button does: a merge commit
        by the user, committed by GitHub, with the head first and the base second."""
        if pull.state != "open":
            raise _custom("PullRequest", "Pull request is not open")
        if expected is not None and expected != pull.head_sha:
            raise _custom("PullRequest", "expected head sha didn't match current head ref.")
        base = _branch_tip(repo, pull.base_ref)
        head = pygit2.Oid(hex=pull.head_sha)
        if base is None:
            raise _custom("PullRequest", "The base branch does not exist")
        if base.id == head or repo.descendant_of(head, base.id):
            raise _custom("PullRequest", "There are no new commits on the base branch.")
        index = repo.merge_commits(head, base.id)
        if index.conflicts is not None:
            raise _custom("PullRequest", "merge conflict between base and head")
        tree = index.write_tree(repo)
        author = self._user_signature(user)
        committer = _signature("GitHub", "noreply@github.com", self._now())
        message = f"Merge branch '{pull.base_ref}' into {pull.head_ref}"
        oid = repo.create_commit(None, author, committer, message, tree, [head, base.id])
        repo.references.create(f"refs/heads/{pull.head_ref}", oid, force=True)
        self._sync(repo)
        return str(oid)

    def _update_branch_api(self, ctx: _Ctx, number: str) -> _Resp:
        body = ctx.body if isinstance(ctx.body, dict) else {}
        pull = self._pull(int(number))
        expected = body.get("expected_head_sha")
        self._update_branch(ctx.repo, pull, ctx.user, str(expected) if expected else None)
        return _Resp(
            202,
            {
                "message": "Updating pull request branch.",
                "url": f"{self._repo_html}/pull/{pull.number}",
            },
        )
