"""Real git servers on loopback, for tests of pushing over the network.

A local path as a remote skips the protocol's negotiation and locking; a daemon on
127.0.0.1 goes through the same receive-pack and ref-update path as a hosted remote, so two
jobs racing to push are rejected (or not) as they would be on GitHub. `git daemon` serves
anyone; `http_git_server` serves git's smart HTTP protocol (`git http-backend`) only to
requests with a known token, as GitHub does, so a test sees which credentials a push needed.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

__all__ = ["GitServer", "HttpGitServer", "basic_header", "git", "git_server", "http_git_server"]


def git(*args: str, cwd: Path | None = None) -> str:
    """Run git with a fixed identity (CI machines have none) and return its output."""
    result = subprocess.run(
        [
            "git",
            "-c",
            "user.name=Test Runner",
            "-c",
            "user.email=runner@example.invalid",
            "-c",
            "init.defaultBranch=main",
            *args,
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {result.stderr}")
    return result.stdout


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class GitServer:
    def __init__(self, base: Path, port: int) -> None:
        self.base = base
        self.port = port

    def url(self, name: str) -> str:
        return f"git://127.0.0.1:{self.port}/{name}"

    def create(self, name: str, seed: Path | None = None) -> Path:
        """A bare repository served as `name`, holding `seed`'s history if given."""
        path = self.base / name
        if seed is not None:
            git("clone", "-q", "--bare", str(seed), str(path))
        else:
            git("init", "-q", "--bare", str(path))
        return path


@contextmanager
def git_server(base: Path) -> Iterator[GitServer]:
    """Serve the bare repositories under `base` over git:// on 127.0.0.1, pushes allowed."""
    base.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    process = subprocess.Popen(
        [
            "git",
            "daemon",
            "--reuseaddr",
            "--export-all",
            "--enable=receive-pack",
            "--listen=127.0.0.1",
            f"--port={port}",
            f"--base-path={base}",
            str(base),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    error = process.stderr.read().decode() if process.stderr else ""
                    raise RuntimeError(f"git daemon did not start: {error}") from None
                time.sleep(0.05)
        yield GitServer(base, port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()


# ------------------------------------------------------------------------------ over HTTP


class HttpGitServer:
    """Bare repositories under `base` over smart HTTP (`git http-backend`), behind a check of
    the `Authorization` header as GitHub makes it: basic, any user, a known token as the
    password. A request without one gets 401, so a clone or a push works only with
    credentials, and `pushes` says whose credentials each push carried."""

    def __init__(self, base: Path, port: int, tokens: Mapping[str, str]) -> None:
        self.base = base
        self.port = port
        self.tokens = dict(tokens)
        #: The login (from `tokens`) behind each push, in order.
        self.pushes: list[str] = []
        #: Requests refused for want of valid credentials.
        self.refused = 0

    @property
    def server_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, name: str) -> str:
        return f"{self.server_url}/{name}"

    def login(self, authorization: str) -> str | None:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            _user, _, password = base64.b64decode(value).decode().partition(":")
        except ValueError:
            return None
        return self.tokens.get(password)


def basic_header(token: str) -> str:
    """The header actions/checkout and the Action send: basic auth, the token as password."""
    credential = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return f"AUTHORIZATION: basic {credential}"


class _GitHandler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: the tests' output is the git commands'

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _serve(self) -> None:
        git_server = self.server.git
        body = self._body() if self.command == "POST" else b""
        login = git_server.login(self.headers.get("Authorization", ""))
        if login is None:
            git_server.refused += 1
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, _, query = self.path.partition("?")
        parts = path.split("/")
        if len(parts) > 2 and parts[2].endswith(".git"):
            # GitHub serves owner/name and owner/name.git alike.
            bare = parts[2].removesuffix(".git")
            if (git_server.base / parts[1] / bare).is_dir():
                path = "/".join([*parts[:2], bare, *parts[3:]])
        if self.command == "POST" and path.endswith("/git-receive-pack"):
            git_server.pushes.append(login)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "GIT_PROJECT_ROOT": str(git_server.base),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "REQUEST_METHOD": self.command,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": login,
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
            "HTTP_GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
        }
        result = subprocess.run(
            ["git", "http-backend"],
            input=body,
            env=env,
            capture_output=True,
            check=False,
            timeout=60,
        )
        head, _, payload = result.stdout.partition(b"\r\n\r\n")
        status = 200
        headers = []
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    git: HttpGitServer


@contextmanager
def http_git_server(base: Path, tokens: Mapping[str, str]) -> Iterator[HttpGitServer]:
    """Serve the bare repositories under `base` over HTTP on 127.0.0.1; `tokens` maps each
    accepted token to the login it authenticates."""
    base.mkdir(parents=True, exist_ok=True)
    server = _Server(("127.0.0.1", 0), _GitHandler)
    server.daemon_threads = True
    git_server = HttpGitServer(base, server.server_address[1], tokens)
    server.git = git_server
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield git_server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
