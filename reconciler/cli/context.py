"""Settings the top-level command collects for its subcommands."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    repo: Path | None
    cluster: str = "simulated"
    sim_state: Path | None = None
    kubeconfig: Path | None = None
    context: str | None = None
    in_cluster: bool = False
    prometheus_url: str | None = None
    forge: str = "local"
    github_repository: str | None = None
    github_api_url: str = "https://api.github.com"

    def root(self) -> Path:
        from reconciler.shell.workspace import find_root

        return find_root(self.repo)


def env_flag(name: str) -> bool:
    """A true/false environment variable such as GITHUB_ACTIONS."""
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes"}
