"""`reconciler doctor`: check the cluster, the permissions and the blueprints' deployments."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler.cli.context import Settings
from reconciler.cli.output import OUTPUT_OPTION, emit_json, plural

if TYPE_CHECKING:
    from reconciler.adapters.kubernetes import KubernetesCluster
    from reconciler.shell.doctor import Finding
    from reconciler.shell.workspace import Fleet

#: One retry, not the cycle's three: a person is waiting, and a cluster that does not answer
#: twice is the finding.
DOCTOR_RETRIES = 1


def other_findings(settings: Settings, fleet: Fleet) -> list[Finding]:
    """Checks of the other systems the reconciler depends on: Prometheus, when configured,
    with the same connection settings every run uses."""
    from reconciler.cli.prometheus_access import open_prometheus
    from reconciler.shell.doctor import check_prometheus

    return [check_prometheus(open_prometheus(settings, fleet))]


@click.command("doctor")
@OUTPUT_OPTION
@click.pass_obj
def doctor_command(settings: Settings, output: str) -> None:
    """Check that the reconciler can work on a cluster, and say how to fix what is missing.

    \b
    Checks, each printed with ✓ or ✗ and a fix:
      connectivity   the API server answers
      permissions    every RBAC verb the reconciler uses, in each namespace the blueprints
                     name (deploy/rbac.yaml grants them)
      metrics API    metrics.k8s.io is served (metrics-server), for CPU and memory
      deployments    the deployment each blueprint names exists
      manifests      for coexistence: write_back, the file, document and key of
                     spec.manifests on the branch the GitOps tool applies
      gitops         for write_back, the deployment carries an Argo CD or Flux mark

    \b
      prometheus     a query goes through, when --prometheus-url is given, with the same
                     credentials, TLS files, headers and proxy as every run; a failure
                     says which: credentials (401/403), CA, client certificate, proxy,
                     timeout, or not Prometheus

    The cluster comes from the global options: --kubeconfig, --context or --in-cluster.

    \b
    Exit codes: 0 every check passed, 1 at least one failed, 2 usage, 3 configuration (no
                kubeconfig, unknown context, no blueprint repository, a Prometheus file
                that cannot be read, conflicting Prometheus credentials).

    \b
    Examples:
      reconciler --kubeconfig ~/.kube/prod doctor
      reconciler --context prod doctor -o json | jq '.findings[] | select(.ok | not)'
      reconciler --prometheus-url https://prom:9090 --prometheus-ca-file ca.pem doctor
    """
    from reconciler.cli.compose import open_kubernetes
    from reconciler.shell.workspace import load_fleet

    root = settings.root()
    fleet = load_fleet(root)
    cluster = open_kubernetes(settings, retries=DOCTOR_RETRIES)
    with cluster:
        findings = _cluster_findings(cluster, fleet, root)
    findings.extend(_fleet_findings(fleet))
    findings.extend(other_findings(settings, fleet))
    ok = all(finding.ok for finding in findings)
    if output == "json":
        emit_json(
            {"ok": ok, "cluster": cluster.server, "findings": [f.to_json() for f in findings]}
        )
    else:
        _print_findings(cluster.server, findings)
    if not ok:
        raise SystemExit(1)


def _cluster_findings(cluster: KubernetesCluster, fleet: Fleet, root: Path) -> list[Finding]:
    """The cluster's checks, then, when it answers, those of the manifests written back."""
    from reconciler.cli.compose import open_manifests
    from reconciler.core.observed.observation import Target
    from reconciler.shell.doctor import diagnose
    from reconciler.shell.manifests import check_write_back

    services = [
        (b.name, Target(namespace=b.metadata.namespace, name=b.metadata.deployment))
        for b in fleet.blueprints
    ]
    findings = diagnose(cluster, services, fleet.blueprints, fleet.policies.clusters)
    if all(finding.ok for finding in findings[:1]):  # the cluster answers
        findings.extend(check_write_back(fleet.blueprints, cluster, open_manifests(root)))
    return findings


def _fleet_findings(fleet: Fleet) -> list[Finding]:
    """The blueprints that could not be checked, because they do not validate."""
    from reconciler.shell.doctor import Finding

    if not fleet.broken:
        return []
    return [
        Finding(
            check="blueprints",
            ok=False,
            detail="not checked, because they do not validate: " + ", ".join(sorted(fleet.broken)),
            fix="run `reconciler validate`",
        )
    ]


def _print_findings(server: str, findings: Sequence[Finding]) -> None:
    click.echo(f"cluster: {server}")
    for finding in findings:
        click.echo(f"{'✓' if finding.ok else '✗'} {finding.check}: {finding.detail}")
        if not finding.ok and finding.fix:
            click.echo(f"    fix: {finding.fix}")
    failed = sum(not f.ok for f in findings)
    click.echo(
        f"{plural(len(findings), 'check')}: {len(findings) - failed} ok, {failed} failed",
        err=failed > 0,
    )
