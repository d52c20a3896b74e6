"""Listed Kubernetes objects trimmed as their pages arrive, to what the mapping reads.

A namespace may hold thousands of pods, each ten times the size of what observing needs, and
a snapshot keeps a namespace's lists for a cycle; so each page is trimmed before it is kept.
Deployments keep everything a change may be written from.
"""

from __future__ import annotations

from reconciler.adapters.kubernetes.mapping import (
    JSON,
    REVISION_ANNOTATION,
    _annotations,
    _containers,
    _controller_ref,
    _meta,
)

__all__ = ["LAST_APPLIED", "slim_deployment", "slim_pod", "slim_replicaset"]

#: What kubectl apply leaves on an object: a copy of the whole object, which nothing here reads.
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def slim_deployment(deployment: JSON) -> JSON:
    """A listed deployment without what only the server needs (managedFields, kubectl's copy
    of the last applied object): often most of its size. Everything else is kept, because a
    change may be written from it (its pod template, say)."""
    meta = deployment.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
        annotations = meta.get("annotations")
        if isinstance(annotations, dict):
            annotations.pop(LAST_APPLIED, None)
    return deployment


def slim_pod(pod: JSON) -> JSON:
    """A listed pod as far as the mapping reads it: identity, labels, owner, readiness, the
    containers' states and requests. A pod's full spec and status are ten times that, and a
    namespace may hold thousands of pods, so pages are trimmed as they arrive."""
    meta, status = _meta(pod), pod.get("status") or {}
    owner = _controller_ref(pod)
    containers = [
        {"name": c.get("name"), "resources": c.get("resources") or {}} for c in _containers(pod)
    ]

    def states(key: str) -> list[JSON]:
        return [
            {"restartCount": c.get("restartCount"), "state": c.get("state")}
            for c in status.get(key) or []
        ]

    kept_meta: JSON = {k: meta[k] for k in ("name", "labels", "deletionTimestamp") if k in meta}
    if owner is not None:
        kept_meta["ownerReferences"] = [{"name": owner.get("name"), "controller": True}]
    return {
        "metadata": kept_meta,
        "spec": {"containers": containers},
        "status": {
            "phase": status.get("phase"),
            "conditions": [
                {key: c.get(key) for key in ("type", "status", "reason")}
                for c in status.get("conditions") or []
            ],
            "containerStatuses": states("containerStatuses"),
            "initContainerStatuses": states("initContainerStatuses"),
        },
    }


def slim_replicaset(replicaset: JSON) -> JSON:
    """A listed ReplicaSet as observing reads it: its name and revision."""
    meta = _meta(replicaset)
    revision = _annotations(replicaset).get(REVISION_ANNOTATION)
    annotations = {} if revision is None else {REVISION_ANNOTATION: revision}
    return {"metadata": {"name": meta.get("name"), "annotations": annotations}}
