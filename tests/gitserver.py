"""A real git server on loopback (`git daemon`), for tests of pushing over the network.

A local path as a remote skips the protocol's negotiation and locking; a daemon on
127.0.0.1 goes through the same receive-pack and ref-update path as a hosted remote, so two
jobs racing to push are rejected (or not) as they would be on GitHub.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["GitServer", "git", "git_server"]


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
