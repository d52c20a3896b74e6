"""Building the adapters a command needs from flags and environment (the composition root)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.core.errors import ConfigError

if TYPE_CHECKING:
    from reconciler.adapters.git_audit import GitAuditStore
    from reconciler.adapters.simulated import SimulatedCluster
    from reconciler.shell.cycle import Ports

DEFAULT_SIM_STATE = Path(".reconciler/sim-state.yaml")


@dataclass(frozen=True)
class Environment:
    """The environment variables the reconciler reads, in one place."""

    git_name: str
    git_email: str
    actor: str

    @classmethod
    def read(cls) -> Environment:
        return cls(
            git_name=os.environ.get("RECONCILER_GIT_NAME", "reconciler"),
            git_email=os.environ.get("RECONCILER_GIT_EMAIL", "reconciler@localhost"),
            actor=os.environ.get("GITHUB_ACTOR") or os.environ.get("USER") or "unknown",
        )


def sim_state_path(root: Path, explicit: Path | None) -> Path:
    if explicit is not None:
        return explicit if explicit.is_absolute() else Path.cwd() / explicit
    return root / DEFAULT_SIM_STATE


def open_simulation(root: Path, explicit: Path | None) -> SimulatedCluster:
    from reconciler.adapters.simulated import SimulatedCluster

    return SimulatedCluster.load(sim_state_path(root, explicit))


def open_audit(root: Path) -> GitAuditStore:
    from reconciler.adapters.git_audit import GitAuditStore

    env = Environment.read()
    return GitAuditStore(root, name=env.git_name, email=env.git_email)


def build_ports(root: Path, cluster: str, sim_state: Path | None) -> Ports:
    """The ports for a cycle: the simulated cluster (default) or a real one."""
    from reconciler.shell.cycle import Ports

    if cluster == "simulated":
        sim = open_simulation(root, sim_state)
        return Ports(cluster=sim, metrics=sim, audit=open_audit(root), clock=sim)
    raise ConfigError(f"unknown cluster kind {cluster!r}", hint="use --cluster simulated")
