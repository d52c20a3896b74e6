"""Building the adapters a command needs from flags and environment: the composition root."""

from __future__ import annotations

import os
import sys
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.core.errors import ClusterError, ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable

    from reconciler.adapters.git_audit import GitAuditStore
    from reconciler.adapters.git_manifests import GitManifests
    from reconciler.adapters.github_forge import GitHubForge
    from reconciler.adapters.kubernetes import KubernetesCluster
    from reconciler.adapters.simulated import SimulatedCluster
    from reconciler.adapters.validation_cache import LocalValidationCache
    from reconciler.cli.context import Settings
    from reconciler.core.approvals.feedback import TrailLinks
    from reconciler.core.planning.sharding import Shard
    from reconciler.core.trail.clusters import ClusterRef
    from reconciler.ports import Clock, Cluster, ClusterEvents, Forge, MetricsSource
    from reconciler.shell.ports import Ports
    from reconciler.shell.workspace import Fleet

DEFAULT_KUBECONFIG = Path("~/.kube/config")

DEFAULT_SIM_STATE = Path(".reconciler/sim-state.db")


@dataclass(frozen=True)
class Environment:
    """The environment variables the reconciler reads, in one place."""

    git_name: str
    git_email: str
    actor: str
    #: Never printed: only handed to the GitHub forge.
    github_token: str = field(default="", repr=False)
    #: Never printed: only handed to git, for manifests in another repository on the forge
    #: (RECONCILER_MANIFESTS_TOKEN; the forge's token when unset).
    manifests_token: str = field(default="", repr=False)
    github_timeout: int = 10
    #: Where the GitHub forge keeps its answers between runs (RECONCILER_GITHUB_CACHE); empty:
    #: in the repository's git directory.
    github_cache: str = ""
    #: The page of the Actions run doing this (GITHUB_SERVER_URL, GITHUB_REPOSITORY,
    #: GITHUB_RUN_ID), linked from what the reconciler says on GitHub; empty elsewhere.
    run_url: str = ""
    #: GITHUB_RUN_ID and GITHUB_RUN_ATTEMPT: which run this is (empty off Actions).
    run_id: str = ""
    #: GITHUB_SERVER_URL, and the branch an Actions run runs on (GITHUB_REF's refs/heads/...).
    server_url: str = "https://github.com"
    branch: str = ""
    #: Never printed: only handed to the Prometheus adapter.
    prometheus_token: str = field(default="", repr=False)
    prometheus_password: str = field(default="", repr=False)
    #: The standard proxy variables, upper case first as Go programs read them.
    https_proxy: str = field(default="", repr=False)
    http_proxy: str = field(default="", repr=False)
    no_proxy: str = ""

    @classmethod
    def read(cls) -> Environment:
        return cls(
            git_name=os.environ.get("RECONCILER_GIT_NAME", "reconciler"),
            git_email=os.environ.get("RECONCILER_GIT_EMAIL", "reconciler@localhost"),
            actor=os.environ.get("GITHUB_ACTOR") or os.environ.get("USER") or "unknown",
            github_token=os.environ.get("RECONCILER_GITHUB_TOKEN")
            or os.environ.get("GITHUB_TOKEN", ""),
            manifests_token=os.environ.get("RECONCILER_MANIFESTS_TOKEN", "").strip(),
            github_timeout=_positive_int(os.environ.get("RECONCILER_GITHUB_TIMEOUT"), 10),
            github_cache=os.environ.get("RECONCILER_GITHUB_CACHE", "").strip(),
            run_url=_run_url(),
            run_id="-".join(
                part
                for part in (
                    os.environ.get("GITHUB_RUN_ID", "").strip(),
                    os.environ.get("GITHUB_RUN_ATTEMPT", "").strip(),
                )
                if part
            ),
            server_url=os.environ.get("GITHUB_SERVER_URL", "").strip().rstrip("/")
            or "https://github.com",
            branch=os.environ.get("GITHUB_REF", "").strip().removeprefix("refs/heads/")
            if os.environ.get("GITHUB_REF", "").startswith("refs/heads/")
            else "",
            prometheus_token=os.environ.get("RECONCILER_PROMETHEUS_TOKEN", "").strip(),
            prometheus_password=os.environ.get("RECONCILER_PROMETHEUS_PASSWORD", ""),
            https_proxy=_first("HTTPS_PROXY", "https_proxy"),
            http_proxy=_first("HTTP_PROXY", "http_proxy"),
            no_proxy=_first("NO_PROXY", "no_proxy"),
        )


def _run_url() -> str:
    """The Actions run's page, from the variables GitHub sets on every run."""
    repository = os.environ.get("GITHUB_REPOSITORY", "").strip()
    run_id = os.environ.get("GITHUB_RUN_ID", "").strip()
    if not repository or not run_id.isdigit():
        return ""
    server = os.environ.get("GITHUB_SERVER_URL", "").strip().rstrip("/") or "https://github.com"
    return f"{server}/{repository}/actions/runs/{run_id}"


def _first(*names: str) -> str:
    return next((os.environ[name].strip() for name in names if os.environ.get(name)), "")


def _positive_int(text: str | None, default: int) -> int:
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"{text!r} is not a whole number of seconds", hint="e.g. 10") from None
    if value <= 0:
        raise ConfigError(f"{value} is not a positive number of seconds", hint="e.g. 10")
    if value > _TIMEOUT_MAX:
        # A socket cannot wait longer than its clock can count; an hour is plenty.
        raise ConfigError(
            f"{value} seconds is longer than {_TIMEOUT_MAX}, the longest timeout accepted",
            hint="e.g. 10",
        )
    return value


_TIMEOUT_MAX = 3600


def sim_state_path(root: Path, explicit: Path | None) -> Path:
    if explicit is not None:
        return explicit if explicit.is_absolute() else Path.cwd() / explicit
    return root / DEFAULT_SIM_STATE


def open_simulation(root: Path, explicit: Path | None) -> SimulatedCluster:
    from reconciler.adapters.simulated import SimulatedCluster

    return SimulatedCluster.load(sim_state_path(root, explicit))


def committed_fleet(root: Path, *, shard: Shard | None = None) -> Fleet:
    """The blueprints and policies committed at HEAD: what a cycle judges under. Edits in the
    working tree do not count until committed; they are named in the fleet's notices."""
    from reconciler.adapters.git_revisions import GitRevisions
    from reconciler.adapters.worktree_blobs import LocalWorktreeBlobs
    from reconciler.shell.listing import revision_listing
    from reconciler.shell.workspace import (
        load_fleet_files,
        uncommitted_changes,
        uncommitted_notice,
    )

    head = GitRevisions(root, blueprint_root=root).read("HEAD")
    changes = uncommitted_changes(root, head.blobs, known=LocalWorktreeBlobs(root))
    notice = uncommitted_notice(changes, head.commit)
    return load_fleet_files(
        root,
        head.files,
        listing=revision_listing(head.entries, head.links),
        commit=head.commit,
        blobs=head.blobs,
        shard=shard,
        notices=[notice] if notice else [],
        cache=validation_cache(root),
    )


def validation_cache(root: Path) -> LocalValidationCache:
    """The blueprints loaded by earlier runs on this machine (under the git directory)."""
    from reconciler.adapters.validation_cache import LocalValidationCache

    return LocalValidationCache(root)


def open_audit(root: Path) -> GitAuditStore:
    from reconciler.adapters.git_audit import GitAuditStore

    env = Environment.read()
    return GitAuditStore(root, name=env.git_name, email=env.git_email)


def open_kubernetes(settings: Settings, *, retries: int = 3) -> KubernetesCluster:
    from reconciler.adapters.kubernetes import KubernetesCluster

    if settings.in_cluster:
        return KubernetesCluster.in_cluster(retries=retries)
    path = settings.kubeconfig or DEFAULT_KUBECONFIG.expanduser()
    return KubernetesCluster.from_kubeconfig(path, settings.context, retries=retries)


def build_ports(root: Path, settings: Settings, fleet: Fleet | None = None) -> Ports:
    """The ports for a cycle: the simulated cluster (default) or a real one.

    On a real cluster, CPU and memory come from the Kubernetes metrics API and, when
    --prometheus-url is given, latency, error rate and the CPU and memory history from
    Prometheus, merged field by field.
    """
    from reconciler.core.trail.clusters import ON_SIMULATOR, ClusterRef
    from reconciler.shell.ports import Ports
    from reconciler.shell.trail import ClusterTrail, Unidentified

    def ports_on(
        forge: Forge | None,
        cluster: Cluster,
        metrics: MetricsSource,
        clock: Clock,
        where: ClusterRef,
        events: ClusterEvents | None = None,
    ) -> Ports:
        """The ports of a cluster that is known: its own part of the trail, the forge, the
        manifests."""
        return Ports(
            cluster=cluster,
            metrics=metrics,
            audit=ClusterTrail(open_audit(root), where),
            clock=clock,
            forge=forge,
            manifests=open_manifests(root),
            where=where,
            events=events,
            paired=paired_repositories(forge),
        )

    if settings.cluster == "simulated":
        sim = open_simulation(root, settings.sim_state)
        forge = open_forge(root, settings, fleet, sim.now)
        return ports_on(forge, with_gitops(sim, root, fleet), sim, sim, ON_SIMULATOR)
    if settings.cluster == "kubernetes":
        from reconciler.adapters.clock import SystemClock
        from reconciler.shell.metrics import CombinedMetrics

        fleet = fleet or committed_fleet(root)
        kube = open_kubernetes(settings)
        from reconciler.cli.prometheus_access import open_prometheus

        prometheus = open_prometheus(settings, fleet)
        metrics: MetricsSource = CombinedMetrics([kube, prometheus]) if prometheus else kube
        clock = SystemClock()
        try:
            where = kubernetes_cluster(kube, settings, fleet)
        except ClusterError as error:
            # Which trail is this cluster's is unknown: every service reports the error,
            # and nothing is changed, proposed or recorded.
            unknown = Unidentified(error)
            where = ClusterRef(identity="unidentified", name="unidentified")
            return Ports(cluster=unknown, metrics=metrics, audit=unknown, clock=clock, where=where)
        forge = open_forge(root, settings, fleet, clock.now)
        return ports_on(forge, kube, metrics, clock, where, events=kube)
    raise ConfigError(
        f"unknown cluster kind {settings.cluster!r}", hint="use --cluster simulated or kubernetes"
    )


def kubernetes_cluster(kube: KubernetesCluster, settings: Settings, fleet: Fleet) -> ClusterRef:
    """Which real cluster `kube` reaches: its identity, named as the policies declare it
    (a cluster the policies do not declare, when they declare some, is refused)."""
    from reconciler.core.trail.clusters import real_cluster

    policies = fleet.policies
    return real_cluster(kube.identity(), settings.context, policies.clusters, policies.source)


def open_manifests(root: Path, remote: str = "", branch: str = "") -> GitManifests:
    """Where changes made through git are committed: the local branch, or, when the run
    pushes (`remote`), the remote's branch, pushed at once so the GitOps tool sees them."""
    from reconciler.adapters.git_manifests import GitManifests

    env = Environment.read()
    # A location named `owner/name` is on the forge's server, reached with its own token
    # when the run has one for it, else the forge's.
    source = "RECONCILER_MANIFESTS_TOKEN"
    if not env.manifests_token and env.github_token:
        source = (
            "RECONCILER_GITHUB_TOKEN"
            if os.environ.get("RECONCILER_GITHUB_TOKEN")
            else "GITHUB_TOKEN"
        )
    return GitManifests(
        root,
        remote=remote,
        branch=branch,
        name=env.git_name,
        email=env.git_email,
        forge_url=env.server_url,
        token=env.manifests_token or env.github_token,
        token_source=source,
    )


def with_gitops(sim: SimulatedCluster, root: Path, fleet: Fleet | None) -> Cluster:
    """The simulated cluster, with a simulated Argo CD in front of the deployments whose
    blueprints act through git (coexistence: write_back); the cluster alone otherwise."""
    from reconciler.core.gitops.coexistence import WRITE_BACK
    from reconciler.core.observed.observation import Target

    locations = {
        Target(namespace=b.metadata.namespace, name=b.metadata.deployment): (b.name, b.manifests)
        for b in (fleet.blueprints if fleet is not None else ())
        if b.manifests is not None and b.scaling.coexistence == WRITE_BACK
    }
    if not locations:
        return sim
    from reconciler.adapters.simulated_gitops import SimulatedGitOps

    return SimulatedGitOps(sim, root, locations, open_manifests(root))


def open_forge(
    root: Path, settings: Settings, fleet: Fleet | None, now: Callable[[], datetime]
) -> Forge | None:
    """Where approval proposals go: branches in this repository (local, the default), pull
    requests on GitHub, or nowhere (none: restricted operations are only recorded)."""
    if settings.forge == "none":
        return None
    env = Environment.read()
    if settings.forge == "local":
        from reconciler.adapters.local_forge import LocalForge

        teams = fleet.policies.teams if fleet is not None else {}
        return LocalForge(root, name=env.git_name, email=env.git_email, teams=teams, now=now)
    if settings.forge == "github":
        from reconciler.adapters.github_forge import GitHubForge

        if not settings.github_repository:
            raise ConfigError(
                "the GitHub forge needs the repository",
                hint="pass --github-repository owner/name (GITHUB_REPOSITORY on Actions)",
            )
        if not env.github_token:
            raise ConfigError(
                "the GitHub forge needs a token in GITHUB_TOKEN (or RECONCILER_GITHUB_TOKEN)",
                hint="on Actions: env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}",
            )
        # GitHub's clock is the wall clock (its rate-limit resets, its merge times), whatever
        # clock the cycle runs on, so the forge keeps its own.
        forge = GitHubForge(
            settings.github_repository,
            env.github_token,
            base_url=settings.github_api_url,
            timeout=env.github_timeout,
            teams=tuple(fleet.policies.teams) if fleet is not None else (),
            state_path=github_cache_path(root, env),
            run_url=env.run_url,
        )
        return paired_forge(forge, root, settings, fleet, env)
    raise ConfigError(f"unknown forge {settings.forge!r}", hint="use local, github or none")


def paired_forge(
    forge: GitHubForge, root: Path, settings: Settings, fleet: Fleet | None, env: Environment
) -> Forge:
    """The GitHub forge, paired with a forge for each other repository on the same server that
    holds manifests (coexistence: write_back, spec.manifests.repository `owner/name`): a
    proposal for such a service is a pull request there too. Each is reached with the
    manifests token (RECONCILER_MANIFESTS_TOKEN, else the forge's)."""
    from reconciler.adapters.git_manifests import on_forge
    from reconciler.core.gitops.coexistence import WRITE_BACK

    repositories = sorted(
        {
            b.manifests.repository
            for b in (fleet.blueprints if fleet is not None else ())
            if b.manifests is not None
            and b.scaling.coexistence == WRITE_BACK
            and on_forge(b.manifests.repository)
            and b.manifests.repository.lower() != forge.repository.lower()
        }
    )
    if not repositories:
        return forge
    from reconciler.adapters.github_forge import GitHubForge
    from reconciler.adapters.github_pairs import GitHubPairedForge

    cache = github_cache_path(root, env)
    others = {
        repository: GitHubForge(
            repository,
            env.manifests_token or env.github_token,
            base_url=settings.github_api_url,
            timeout=env.github_timeout,
            teams=tuple(fleet.policies.teams) if fleet is not None else (),
            state_path=cache.with_name(f"{cache.stem}-{repository.replace('/', '--')}.json"),
            run_url=env.run_url,
        )
        for repository in repositories
    }
    return GitHubPairedForge(forge, others)


def paired_repositories(forge: Forge | None) -> frozenset[str]:
    """The other repositories `forge` opens pull requests in (none but a paired forge's)."""
    # A run that built no paired forge never imported its module, and need not pay for it.
    pairs = sys.modules.get("reconciler.adapters.github_pairs")
    if pairs is not None and isinstance(forge, pairs.GitHubPairedForge):
        repositories: frozenset[str] = forge.repositories
        return repositories
    return frozenset()


#: The GitHub forge's local state, under the git directory (never committed, shared by a
#: repository's worktrees) unless RECONCILER_GITHUB_CACHE names another file.
GITHUB_CACHE = Path("reconciler") / "github-cache.json"


def github_cache_path(root: Path, env: Environment) -> Path:
    """Where the GitHub forge keeps GitHub's answers between runs: RECONCILER_GITHUB_CACHE
    (the Action points it at a file it restores with the cache action, since a job's
    checkout is new every run), else the repository's git directory."""
    from reconciler.adapters.git_locks import common_dir
    from reconciler.adapters.gitrepo import git_dir

    if env.github_cache:
        path = Path(env.github_cache).expanduser()
        return path if path.is_absolute() else Path.cwd() / path
    gitdir = git_dir(root)
    place = common_dir(gitdir) if gitdir is not None else root / ".reconciler"
    return place / GITHUB_CACHE


def trail_links(settings: Settings, branch: str | None = None) -> TrailLinks:
    """Where what the reconciler says on GitHub links to: the audit trail's files on the
    branch the records go to (`branch`, the push branch, else the run's own), and the run."""
    from reconciler.core.approvals.feedback import TrailLinks

    env = Environment.read()
    branch = branch or env.branch
    if settings.forge != "github" or not settings.github_repository or not branch:
        return TrailLinks(run=env.run_url)
    quoted = urllib.parse.quote(branch, safe="/")
    blob = f"{env.server_url}/{settings.github_repository}/blob/{quoted}"
    return TrailLinks(blob=blob, run=env.run_url)


def release(ports: Ports) -> None:
    """Close the network clients a command opened (a GitHub client, a Kubernetes pool)."""
    for adapter in (ports.forge, ports.cluster):
        disconnect = getattr(adapter, "disconnect", None)
        if callable(disconnect):
            disconnect()
