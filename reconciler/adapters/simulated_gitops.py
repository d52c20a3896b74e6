"""SimulatedGitOps: the simulated cluster with a GitOps tool in front, playing Argo CD.

For every deployment whose blueprint changes its manifests through git (`coexistence:
write_back`), the tool applies what the manifest location holds on its branch, a set delay
after each commit (`reconciler sim init --gitops-delay`, 30 s by default, kept in its settings):
the replicas, and the requests when the file sets them. Like Argo CD with self-heal, it also
puts back what a direct write changed, and it marks what it manages (`argocd/<service>`), so
the demo and the scenario tests run the whole loop without a real Argo CD: decide, commit,
sync, verify, revert.

It syncs when the cluster is observed, as of the moment each commit became due: new pods
start then, so a run that comes late sees them as ready as a real cluster would. Manifests
in another repository are read where the reconciler reads them: a path on this machine is
opened as it is, and a repository on the forge (or a URL) is fetched through the manifest
store, with its token, as a tool watching that repository's branch would see it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.adapters.git_manifests import GitManifests, on_forge
from reconciler.adapters.gitrepo import read_file
from reconciler.adapters.simulated import SimulatedCluster
from reconciler.adapters.simulated_model import SimDeployment
from reconciler.core.blueprint.model import Manifests
from reconciler.core.blueprint.units import UnitError, parse_duration
from reconciler.core.errors import ClusterError, ConfigError
from reconciler.core.gitops.manifests import ManifestError, Numbers, locate
from reconciler.core.observed.changes import Applied, Change
from reconciler.core.observed.observation import DeploymentState, Target

if TYPE_CHECKING:
    import pygit2

__all__ = ["DEFAULT_DELAY", "SimulatedGitOps"]

#: How long after a commit the simulated tool applies it, unless the state file says.
DEFAULT_DELAY = "30s"


class SimulatedGitOps:
    """The Cluster port: `sim`, with the manifests at `locations` applied from git first."""

    def __init__(
        self,
        sim: SimulatedCluster,
        root: Path,
        locations: Mapping[Target, tuple[str, Manifests]],
        store: GitManifests | None = None,
    ) -> None:
        """`locations`: for each managed deployment, its service and its manifest location;
        `store` fetches the ones on the forge or at a URL (without it they are left alone)."""
        import pygit2

        self._pygit2 = pygit2
        self.sim = sim
        self.root = root
        self.locations = dict(locations)
        self.store = store
        #: What each sync did, for people: "web: scaled to 3 from abc123 (30s after commit)".
        self.log: list[str] = []

    @property
    def delay(self) -> float:
        raw = self.sim.settings.get("gitops_delay", DEFAULT_DELAY)
        try:
            return parse_duration(raw)
        except UnitError as error:
            raise ConfigError(
                f"reading the simulated cluster {self.sim.path}: settings.gitops_delay: {error}",
                hint="write how long the simulated Argo CD waits after a commit, e.g. "
                "gitops_delay: 30s",
            ) from None

    # ------------------------------------------------------------------ Cluster

    def observe(self, targets: Sequence[Target]) -> Mapping[Target, DeploymentState | ClusterError]:
        self.sync([t for t in targets if t in self.locations])
        observed = dict(self.sim.observe(targets))
        for target, state in observed.items():
            if target in self.locations and isinstance(state, DeploymentState):
                service, _ = self.locations[target]
                mark = f"argocd/{service}"
                if mark not in state.controllers:
                    observed[target] = replace(state, controllers=(*state.controllers, mark))
        return observed

    def apply(self, change: Change) -> Applied:
        """A direct write, as to any cluster; the tool puts a managed value back next sync."""
        return self.sim.apply(change)

    # ------------------------------------------------------------------ the tool

    def sync(self, targets: Sequence[Target] | None = None) -> list[str]:
        """Apply, for each managed deployment, the newest commit that is due; returns what
        changed, one line each. A location that does not resolve is left alone (the tool
        would report its sync as failed)."""
        done = []
        for target in targets if targets is not None else list(self.locations):
            service, manifests = self.locations[target]
            deployment = self.sim.deployments.get((target.namespace, target.name))
            if deployment is None:
                continue
            tip = self._tip(manifests)
            if tip is None:
                continue
            repo, newest = tip
            due = self._due_commit(newest)
            if due is None:
                continue
            commit, moment = due
            files = {path: read_file(repo, commit.tree, path) for path in manifests.files}
            try:
                numbers = locate(manifests, files)
            except ManifestError:
                continue
            line = self._apply(deployment, numbers.replica_count, numbers, moment)
            if line:
                text = f"{service}: {line} from {str(commit.id)[:12]}"
                self.log.append(text)
                done.append(text)
        return done

    def _tip(self, manifests: Manifests) -> tuple[pygit2.Repository, pygit2.Commit] | None:
        """The repository the tool applies and the newest commit of its branch: this one,
        another on this machine (a path, as git reads it from this repository), or one on the
        forge or at a URL, fetched by the store. None when the branch does not exist or the
        repository cannot be reached: the deployment is left alone, as a tool that cannot
        reach it would leave it."""
        if manifests.repository and (
            on_forge(manifests.repository) or "://" in manifests.repository
        ):
            if self.store is None:
                return None
            try:
                return self.store.repo, self.store.tip(manifests)
            except (ClusterError, ConfigError):
                return None
        try:
            repo = self._pygit2.Repository(str(self.root / manifests.repository))
        except self._pygit2.GitError:
            return None
        if manifests.branch:
            ref = repo.references.get(f"refs/heads/{manifests.branch}")
            if ref is None:
                return None
            return repo, ref.peel(self._pygit2.Commit)
        if repo.head_is_unborn:
            return None
        return repo, repo.head.peel(self._pygit2.Commit)

    def _due_commit(self, commit: pygit2.Commit) -> tuple[pygit2.Commit, datetime] | None:
        """The newest commit from `commit` back along first parents that is at least `delay`
        old, and when it became due; None when nothing is due yet."""
        delay = timedelta(seconds=self.delay)
        now = self.sim.now()
        while True:
            moment = datetime.fromtimestamp(commit.commit_time, tz=UTC) + delay
            if moment <= now:
                return commit, moment
            if not commit.parents:
                return None
            commit = commit.parents[0]

    def _apply(self, d: SimDeployment, replicas: int, numbers: Numbers, moment: datetime) -> str:
        """Make the deployment what the manifest says, as of `moment`; what changed, or ""."""
        at = min(moment, self.sim.now())
        said = []
        if replicas != d.replicas:
            if replicas > d.replicas:
                d.add_pods(replicas - d.replicas, at)
            else:
                d.remove_pods(d.replicas - replicas, at)
            said.append(f"replicas {d.replicas} → {replicas}")
            d.replicas = replicas
        cpu = numbers.cpu_total if numbers.cpu_total is not None else d.cpu_request
        memory = numbers.memory_total if numbers.memory_total is not None else d.memory_request
        if (cpu, memory) != (d.cpu_request, d.memory_request):
            said.append("requests")
            d.cpu_request, d.memory_request = cpu, memory
            d.new_revision(at, bad=d.bad)
        if not said:
            return ""
        d.version += 1
        self.sim.save(only=d)
        return "synced " + ", ".join(said)
