"""The doctor's probes: the questions `reconciler doctor` asks a cluster (does it answer, may
the reconciler do each thing it needs, is metrics-server there, does a deployment exist).
Each is one cheap request; the checks that judge the answers live in `reconciler.shell.doctor`.
"""

from __future__ import annotations

from reconciler.adapters.kubernetes.errors import ApiFailure
from reconciler.adapters.kubernetes.mapping import METRICS_GROUP, METRICS_VERSION
from reconciler.adapters.kubernetes.transport import Transport


def server_version(api: Transport) -> str:
    """The API server's version (GET /version): the cheapest proof that it answers."""
    data = api.read(
        f"asking {api.server} for its version",
        lambda: api.version.get_code(_preload_content=False, _request_timeout=api.timeout),
    )
    return str(data.get("gitVersion") or "unknown version")


def access_review(
    api: Transport, verb: str, group: str, resource: str, namespace: str | None
) -> bool:
    """Whether the reconciler's account may do `verb` on `resource` (SelfSubjectAccessReview;
    `resource` may name a subresource, as in `deployments/scale`)."""
    from kubernetes import client

    plural, _, subresource = resource.partition("/")
    attributes = client.V1ResourceAttributes(
        verb=verb,
        group=group,
        resource=plural,
        subresource=subresource or None,
        namespace=namespace or None,
    )
    body = client.V1SelfSubjectAccessReview(
        api_version="authorization.k8s.io/v1",
        kind="SelfSubjectAccessReview",
        spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=attributes),
    )
    # A review changes nothing, so it is retried like a read.
    data = api.read(
        f"asking whether the reconciler may {verb} {resource}",
        lambda: api.authorization.create_self_subject_access_review(
            body, _preload_content=False, _request_timeout=api.timeout
        ),
    )
    return bool((data.get("status") or {}).get("allowed"))


def metrics_api_available(api: Transport) -> bool:
    """Whether the cluster serves metrics.k8s.io/v1beta1 (metrics-server is installed)."""
    try:
        api.read(
            "looking for the metrics API",
            lambda: api.custom.get_api_resources(
                METRICS_GROUP,
                METRICS_VERSION,
                _preload_content=False,
                _request_timeout=api.timeout,
            ),
        )
    except ApiFailure as failure:
        if failure.status in (404, 503):  # absent, or registered with nothing behind it
            return False
        raise
    return True


def deployment_exists(api: Transport, namespace: str, name: str) -> bool:
    try:
        api.get_deployment(namespace, name)
    except ApiFailure as failure:
        if failure.status == 404:
            return False
        raise
    return True
