"""The Kubernetes adapter: the Cluster and MetricsSource ports on a real cluster, through the
official `kubernetes` client, and the doctor's probes.

Why it exists: the simulated cluster runs the demo and the tests; this runs production. Both
implement the same ports and pass the same contract tests (tests/adapters/
test_cluster_contract.py), so the cycle cannot tell them apart.

Modules: `mapping` (API JSON to the model, pure), `trimming` (listed objects cut down to
what the mapping reads), `errors` (client exceptions to
ClusterErrors), `transport` (reads with retries, paginated lists, writes made once),
`writes` (changes, HPAs, rollbacks), `probes` (the doctor's questions) and `cluster` (the
adapter that puts them together).
"""

from reconciler.adapters.kubernetes.cluster import KubernetesCluster
from reconciler.adapters.kubernetes.mapping import parse_quantity

__all__ = ["KubernetesCluster", "parse_quantity"]
