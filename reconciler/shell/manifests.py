"""Checking the manifest locations of a fleet's blueprints against the files they name.

`validate` reads the working tree, so a blueprint and the manifests it points at are checked
together before either is committed: the file, the document and the key exist, and the value
there is one the blueprint allows. A location in another repository is not in the working
tree; `reconciler doctor` reads it from there (`check_write_back`), and checks that the
deployment carries the mark of the GitOps tool that is to apply the commits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from reconciler.core.blueprint.model import Blueprint
from reconciler.core.errors import ReconcilerError
from reconciler.core.gitops.coexistence import WRITE_BACK
from reconciler.core.gitops.manifests import ManifestError, check, locate
from reconciler.core.observed.observation import DeploymentState, Target
from reconciler.core.problems import Problem, Severity
from reconciler.ports import Cluster, ManifestStore
from reconciler.shell.doctor import Finding
from reconciler.shell.workspace import Fleet

__all__ = ["check_manifests", "check_write_back", "working_tree_reader"]

#: The marks that say which GitOps tool applied a deployment (as the cluster adapter reports).
GITOPS_MARKS = ("argocd/", "flux/")

Reader = Callable[[str], "bytes | None"]


def working_tree_reader(root: Path) -> Reader:
    """Read a repository path from the working tree: regular files only, never a link that
    could lead out of the repository."""

    def read(path: str) -> bytes | None:
        target = root / path
        if target.is_symlink() or not target.is_file():
            return None
        try:
            return target.read_bytes()
        except OSError:
            return None

    return read


def check_manifests(fleet: Fleet, read: Reader) -> Fleet:
    """The fleet with the problems of every manifest location added; a blueprint whose
    location has an error counts as broken, as one whose own file has."""
    problems: list[Problem] = []
    broken = dict(fleet.broken)
    for blueprint in fleet.blueprints:
        manifests = blueprint.manifests
        if manifests is None:
            continue
        if manifests.repository:
            problems.append(
                Problem(
                    file=blueprint.source,
                    path="spec.manifests.repository",
                    message=f"not checked here: {manifests.path} is in {manifests.repository}",
                    hint="`reconciler doctor` reads it from that repository",
                    severity=Severity.WARNING,
                    code="manifests.elsewhere",
                )
            )
            continue
        found = check(
            blueprint,
            {path: read(path) for path in manifests.files},
            blueprint_text=fleet.texts.get(blueprint.name, ""),
        )
        problems += found
        if any(problem.severity is Severity.ERROR for problem in found):
            broken[blueprint.name] = blueprint.source
    if not problems:
        return fleet
    return replace(
        fleet,
        problems=(*fleet.problems, *problems),
        broken=broken,
        blueprints=tuple(b for b in fleet.blueprints if b.name not in broken),
    )


def check_write_back(
    blueprints: Sequence[Blueprint], cluster: Cluster, store: ManifestStore
) -> list[Finding]:
    """For each service that acts through git: its manifest location resolves on the branch
    the tool applies, and its deployment carries an Argo CD or Flux mark (a commit nobody
    applies would only be escalated after sync_timeout). A deployment with such a mark whose
    blueprint writes its replicas itself is told about write_back."""
    findings: list[Finding] = []
    targets = {
        b.name: Target(namespace=b.metadata.namespace, name=b.metadata.deployment)
        for b in blueprints
    }
    try:
        observed = cluster.observe(list(targets.values()))
    except ReconcilerError:
        observed = {}  # the deployments' own finding says why
    for blueprint in blueprints:
        state = observed.get(targets[blueprint.name])
        marks = (
            [c for c in state.controllers if c.startswith(GITOPS_MARKS)]
            if isinstance(state, DeploymentState)
            else []
        )
        if blueprint.scaling.coexistence == WRITE_BACK and blueprint.manifests is not None:
            findings.append(_location(blueprint, store))
            if isinstance(state, DeploymentState):
                findings.append(_marked(blueprint, targets[blueprint.name], marks))
        elif marks and blueprint.scaling.coexistence == "exclusive":
            findings.append(
                Finding(
                    check=f"gitops {blueprint.name}",
                    ok=True,
                    detail=f"{targets[blueprint.name]} is applied by {', '.join(marks)}: the "
                    "reconciler refuses to scale it; with spec.manifests and coexistence: "
                    "write_back it would commit the changes to the manifests instead",
                )
            )
    return findings


def _location(blueprint: Blueprint, store: ManifestStore) -> Finding:
    manifests = blueprint.manifests
    assert manifests is not None
    check_name = f"manifests {blueprint.name}"
    try:
        snapshot = store.read(manifests)
        numbers = locate(manifests, snapshot.files)
    except ManifestError as error:
        first = error.problems[0]
        return Finding(check=check_name, ok=False, detail=first.render(), fix=first.hint)
    except ReconcilerError as error:
        return Finding(check=check_name, ok=False, detail=str(error), fix=error.hint)
    where = manifests.repository or "this repository"
    site = numbers.replicas
    return Finding(
        check=check_name,
        ok=True,
        detail=f"{site.where} ({site.field}) holds {numbers.replica_count} replicas, on "
        f"{snapshot.branch} of {where} at {snapshot.commit[:12]}",
    )


def _marked(blueprint: Blueprint, target: Target, marks: Sequence[str]) -> Finding:
    check_name = f"gitops {blueprint.name}"
    if marks:
        return Finding(
            check=check_name,
            ok=True,
            detail=f"{target} is applied by {', '.join(marks)}, which rolls out the commits",
        )
    return Finding(
        check=check_name,
        ok=False,
        detail=f"{target} carries no Argo CD or Flux mark, so nothing may apply the commits "
        "write_back makes (each would be escalated after spec.manifests.sync_timeout)",
        fix="check that Argo CD or Flux applies spec.manifests.path to this deployment "
        "(docs/running-in-production.md#how-argo-cd-is-recognised), or set coexistence: "
        "exclusive to change the cluster directly",
    )
