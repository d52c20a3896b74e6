"""Posting a notice as a Kubernetes Event on the deployment (core v1, which `kubectl describe`
and event exporters read), with the audit record's id as an annotation and in the message.

An Event is never retried or confirmed: it is a courtesy, and one lost to a timeout costs
less than a duplicate. The caller turns a failure into a warning.
"""

from __future__ import annotations

from datetime import datetime

from reconciler.adapters.kubernetes.transport import Transport
from reconciler.core.errors import ClusterError
from reconciler.core.observed.observation import Target
from reconciler.core.trail.notices import Notice

#: The annotation on each Event that names the audit record it stands for.
RECORD_ANNOTATION = "reconciler/record-id"
COMPONENT = "reconciler"


def post_event(api: Transport, target: Target, uid: str, notice: Notice, now: datetime) -> None:
    """Create one Event about the deployment `target` (whose uid `kubectl describe` matches
    Events by)."""
    from kubernetes import client

    body = client.CoreV1Event(
        metadata=client.V1ObjectMeta(
            generate_name=f"{target.name}.",
            namespace=target.namespace,
            annotations={RECORD_ANNOTATION: notice.record_id},
        ),
        involved_object=client.V1ObjectReference(
            api_version="apps/v1",
            kind="Deployment",
            name=target.name,
            namespace=target.namespace,
            uid=uid or None,
        ),
        reason=str(notice.reason),
        message=notice.message,
        type="Warning" if notice.warning else "Normal",
        source=client.V1EventSource(component=COMPONENT),
        first_timestamp=now,
        last_timestamp=now,
        count=1,
    )
    action = f"posting a {notice.reason} event on deployment {target}"
    try:
        api.core.create_namespaced_event(
            target.namespace, body, _preload_content=False, _request_timeout=api.timeout
        )
    except api.errors as error:
        failure = api.translate(action, error)
        raise ClusterError(str(failure), hint=failure.hint, service=notice.service) from error
