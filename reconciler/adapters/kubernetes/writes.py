"""Writes: a change made with one JSON merge patch that carries the expected resourceVersion
(a concurrent edit makes it fail with 409, never overwrite) and the change's stamp together;
scaling through an HPA; a rollback to a kept ReplicaSet's template.

A write is never repeated blindly: when its fate is unknown the object is read back to see
whether the stamp landed. Only an HPA patch refused with 409 is retried, because a 409 means
nothing was written.
"""

from __future__ import annotations

import copy
from datetime import UTC
from fractions import Fraction
from functools import partial
from typing import Any

from reconciler.adapters.kubernetes.errors import ApiFailure
from reconciler.adapters.kubernetes.mapping import (
    JSON,
    _annotations,
    _containers,
    _controller_ref,
    _meta,
    _missing,
    _replicas,
    _revision,
    _selector_text,
    _without_hash,
    parse_quantity,
)
from reconciler.adapters.kubernetes.transport import Transport
from reconciler.core.errors import ClusterError, ConflictError
from reconciler.core.observed.changes import Change, ChangeKind
from reconciler.core.observed.observation import STAMP_ANNOTATION, ChangeStamp

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
MERGE_PATCH = "application/merge-patch+json"
MIB = 1024**2


def write_change(api: Transport, change: Change, cached: JSON | None) -> tuple[str, JSON, JSON]:
    """Make one change: (what kubectl would print, the state before, the state after).
    `cached` is the deployment as last observed, used when it is still the expected version."""
    if change.kind is ChangeKind.SCALE and change.hpa:
        return _scale_through_hpa(api, change, change.hpa, cached)
    return _patch_deployment(api, change, cached)


def _format_memory(size: int) -> str:
    return f"{size // MIB}Mi" if size % MIB == 0 else str(size)


def _share_request(containers: list[JSON], resource: str, total: int) -> None:
    """Set one resource's request so that the pod's total becomes `total` (millicores for
    CPU, bytes for memory), in place.

    The total is what the state reports and what governance sizes a change by, so it must also
    be what a change sets: setting `total` on every container would multiply it by their
    number. Each container that has a request keeps its share of the total (rounded down, the
    remainder going to the first, so the sum is exact); one without a request is left alone:
    it has no share to keep, and giving it one would be a choice nobody made. When no
    container has one, the first (by convention the application) takes it all.
    """
    holders: list[JSON] = []
    shares: list[Fraction] = []
    for container in containers:
        requests = (container.get("resources") or {}).get("requests") or {}
        if requests.get(resource) is not None:
            holders.append(container)
            shares.append(Fraction(parse_quantity(requests[resource])))
    # Exact rationals: a Decimal product rounds past 28 digits, and a share must never be
    # more or less than its proportion of the total (cores and millicores alike).
    whole = sum(shares)
    if whole <= 0:
        holders = holders or containers[:1]
        values = [0] * len(holders)
        values[0] = total
    else:
        values = [total * share // whole for share in shares]
        values[0] += total - sum(values)
    for index, container in enumerate(holders):
        value = values[index]
        resources = container["resources"] = dict(container.get("resources") or {})
        requests = resources["requests"] = dict(resources.get("requests") or {})
        requests[resource] = f"{value}m" if resource == "cpu" else _format_memory(value)


def _merge_diff(old: Any, new: Any) -> Any:
    """The JSON merge patch (RFC 7386) that turns `old` into `new`: changed keys, and null
    for keys `new` lacks. Lists are replaced whole, as merge patches do."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return copy.deepcopy(new)
    patch: JSON = {key: None for key in old if key not in new}
    for key, value in new.items():
        if key not in old:
            patch[key] = copy.deepcopy(value)
        elif old[key] != value:
            patch[key] = _merge_diff(old[key], value)
    return patch


def _before(api: Transport, change: Change, cached: JSON | None) -> JSON:
    """The deployment as it is now (from the snapshot when that is still the expected
    version); ConflictError without writing anything when it is not the expected one."""
    target, expected = change.target, change.expected_version
    deployment = cached
    version = str(_meta(deployment).get("resourceVersion", "")) if deployment else None
    if deployment is None or (expected and version != expected):
        try:
            deployment = api.get_deployment(target.namespace, target.name)
        except ApiFailure as failure:
            if failure.status == 404:
                raise ClusterError(
                    f"deployment {target} named in the blueprint does not exist",
                    hint=_missing(target).hint,
                    service=change.stamp.service,
                ) from failure
            raise ClusterError(
                str(failure),
                hint=failure.hint,
                service=change.stamp.service,
                retryable=failure.retryable,
            ) from failure
        version = str(_meta(deployment).get("resourceVersion", ""))
    if expected and version != expected:
        raise ConflictError(
            f"deployment {target} changed since it was observed (version {expected}, now "
            f"{version}); not overwriting it",
            hint="the next cycle observes it again",
            service=change.stamp.service,
        )
    return deployment


def _stamp_patch(change: Change) -> JSON:
    metadata: JSON = {"annotations": {STAMP_ANNOTATION: change.stamp.dumps()}}
    if change.expected_version:
        metadata["resourceVersion"] = change.expected_version
    return {"metadata": metadata}


def _patch_deployment(
    api: Transport, change: Change, cached: JSON | None
) -> tuple[str, JSON, JSON]:
    """Make a change to the deployment itself: one merge patch carrying the change, its
    stamp and the version it was computed from."""
    target = change.target
    deployment = _before(api, change, cached)
    body, message = _deployment_patch(api, change, deployment)
    written = api.write(
        f"patching deployment {target}",
        lambda: api.apps.patch_namespaced_deployment(
            target.name,
            target.namespace,
            body,
            _content_type=MERGE_PATCH,
            _preload_content=False,
            _request_timeout=api.timeout,
        ),
        confirm=lambda: _landed(api, change),
        service=change.stamp.service,
    )
    before, after = _deployment_moved(deployment, written)
    return message, before, after


def _deployment_patch(api: Transport, change: Change, deployment: JSON) -> tuple[JSON, str]:
    """The merge patch that makes `change` to `deployment`, and what kubectl would print."""
    target = change.target
    template = (deployment.get("spec") or {}).get("template") or {}
    body = _stamp_patch(change)
    name = f"deployment.apps/{target.name}"
    match change.kind:
        case ChangeKind.SCALE:
            if change.replicas is None:
                raise ClusterError(f"scaling {target}: the change names no replica count")
            body["spec"] = {"replicas": change.replicas}
            return body, f"{name} scaled"
        case ChangeKind.RESTART:
            moment = change.stamp.at.astimezone(UTC).isoformat().replace("+00:00", "Z")
            body["spec"] = {"template": {"metadata": {"annotations": {RESTARTED_AT: moment}}}}
            return body, f"{name} restarted"
        case ChangeKind.RESOURCES:
            # A merge patch replaces a list whole, so every container is sent; the
            # resourceVersion precondition guarantees it is the list that was read.
            containers = _requests_set(change, template)
            body["spec"] = {"template": {"spec": {"containers": containers}}}
            return body, f"{name} resource requirements updated"
        case ChangeKind.ROLLBACK:
            wanted, revision = _rollback_template(api, change, deployment)
            diff = _merge_diff(template, wanted)
            if not diff:
                return body, (
                    f"{name} skipped rollback (already at the template of revision {revision})"
                )
            body["spec"] = {"template": diff}
            return body, f"{name} rolled back"


def _requests_set(change: Change, template: JSON) -> list[JSON]:
    """The pod template's containers with the change's CPU and memory requests shared out."""
    containers = copy.deepcopy(_containers(template))
    if not containers:
        raise ClusterError(
            f"setting the requests of {change.target}: its pod template has no containers",
            service=change.stamp.service,
        )
    if change.cpu_request is not None:
        _share_request(containers, "cpu", change.cpu_request)
    if change.memory_request is not None:
        _share_request(containers, "memory", change.memory_request)
    return containers


def _deployment_moved(deployment: JSON, written: JSON) -> tuple[JSON, JSON]:
    """Replicas and revision before the patch and after it, from the patch's answer."""
    spec = deployment.get("spec") or {}
    template = spec.get("template") or {}
    before = {
        "replicas": _replicas(spec.get("replicas", 1), "spec.replicas"),
        "revision": _revision(deployment),
    }
    new_template = (written.get("spec") or {}).get("template") or {}
    changed = _without_hash(new_template) != _without_hash(template)
    after = {
        "replicas": _replicas(
            (written.get("spec") or {}).get("replicas", before["replicas"]), "spec.replicas"
        ),
        # The Deployment controller gives a new pod template the highest revision plus one
        # (an old template it returns to, too); the write's answer predates that.
        "revision": before["revision"] + 1 if changed else before["revision"],
    }
    return before, after


def _landed(api: Transport, change: Change) -> JSON | None:
    """The deployment, if it carries this change's stamp (the write went through)."""
    target = change.target
    deployment = api.get_deployment(target.namespace, target.name)
    text = _annotations(deployment).get(STAMP_ANNOTATION)
    stamp = ChangeStamp.loads(text) if text else None
    if stamp is not None and stamp.operation_id == change.stamp.operation_id:
        return deployment
    return None


def _rollback_template(api: Transport, change: Change, deployment: JSON) -> tuple[JSON, int]:
    """The pod template of the revision to return to, as `kubectl rollout undo` finds it:
    the deployment's own ReplicaSet with that revision, minus its pod-template-hash."""
    target = change.target
    selector = (deployment.get("spec") or {}).get("selector") or {}
    uid = _meta(deployment).get("uid")
    try:
        replicasets = api.list(
            f"listing the replicasets of deployment {target}",
            lambda **kw: api.apps.list_namespaced_replica_set(
                target.namespace, label_selector=_selector_text(selector), **kw
            ),
        )
    except ClusterError as failure:
        raise ClusterError(
            str(failure), hint=failure.hint, service=change.stamp.service
        ) from failure
    owned = {
        _revision(rs): rs
        for rs in replicasets
        if (_controller_ref(rs) or {}).get("uid") == uid and _revision(rs) > 0
    }
    current = _revision(deployment)
    earlier = sorted(r for r in owned if r < current)
    wanted = (
        change.to_revision if change.to_revision is not None else (earlier[-1] if earlier else None)
    )
    if wanted is None or wanted not in owned:
        kept = ", ".join(map(str, sorted(owned))) or "none"
        which = f"revision {wanted}" if wanted is not None else f"revision before {current}"
        raise ClusterError(
            f"deployment {target} has no {which} to roll back to (revisions kept: {kept})",
            hint="old revisions are kept up to spec.revisionHistoryLimit",
            service=change.stamp.service,
        )
    template = _without_hash((owned[wanted].get("spec") or {}).get("template") or {})
    return template, wanted


def _scale_through_hpa(
    api: Transport, change: Change, hpa_name: str, cached: JSON | None
) -> tuple[str, JSON, JSON]:
    """Scale by setting the HPA's minReplicas (and raising maxReplicas to fit).

    Two requests, because a stamp lives on the Deployment (where `observe` reads it) and
    Kubernetes has no transaction over two objects. The stamp goes first, with the
    deployment's resourceVersion as the precondition, so that a change that happened always
    has its stamp. If the HPA patch then fails, the stamp stays behind; the cycle records
    the failure under the same operation id, so the stamp is never mistaken for a change
    to recover.
    """
    replicas = change.replicas
    if replicas is None:
        raise ClusterError(f"scaling {change.target}: the change names no replica count")
    deployment = _before(api, change, cached)
    hpa = _hpa_of(api, change, hpa_name)
    before_min, before_max = _hpa_bounds(hpa, change, hpa_name)
    # Everything the answer reports is read before the first write, so an unreadable count
    # stops the change with nothing written rather than after the stamp and the HPA patch.
    replicas_now = _replicas((deployment.get("spec") or {}).get("replicas", 1), "replicas")
    revision = _revision(deployment)
    _stamp_deployment(api, change)
    high = _patch_hpa(api, change, hpa_name, hpa, replicas)
    return (
        f"horizontalpodautoscaler.autoscaling/{hpa_name} patched "
        f"(minReplicas {replicas}, maxReplicas {high})",
        {
            "replicas": replicas_now,
            "revision": revision,
            "min_replicas": before_min,
            "max_replicas": before_max,
        },
        {
            "replicas": replicas_now,
            "revision": revision,
            "min_replicas": replicas,
            "max_replicas": high,
        },
    )


def _hpa_of(api: Transport, change: Change, hpa_name: str) -> JSON:
    """The change's HPA, which must scale the change's deployment (and nothing else)."""
    target, service = change.target, change.stamp.service
    hpa = _read_hpa(api, target.namespace, hpa_name, service)
    ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
    if ref.get("kind") != "Deployment" or ref.get("name") != target.name:
        raise ClusterError(
            f"hpa {target.namespace}/{hpa_name} does not scale deployment {target}",
            hint="the next cycle observes the autoscalers again",
            service=service,
        )
    return hpa


def _hpa_bounds(hpa: JSON, change: Change, hpa_name: str) -> tuple[int, int]:
    """The HPA's minReplicas and maxReplicas. An API server keeps both in int32 and defaults
    the minimum to 1; an answer that does not stops this service's change before anything is
    written (the stamp included), not the whole cycle."""
    spec = hpa.get("spec") or {}
    try:
        return (
            _replicas(spec.get("minReplicas", 1), "minReplicas"),
            _replicas(spec["maxReplicas"], "maxReplicas"),
        )
    except (ValueError, KeyError) as error:
        raise ClusterError(
            f"hpa {change.target.namespace}/{hpa_name} has bounds the reconciler cannot read "
            f"({error})",
            hint="check it with `kubectl get hpa -o yaml`",
            service=change.stamp.service,
        ) from error


def _stamp_deployment(api: Transport, change: Change) -> None:
    """Write the change's stamp on its deployment, on the version it was computed from."""
    target = change.target
    api.write(
        f"stamping deployment {target}",
        lambda: api.apps.patch_namespaced_deployment(
            target.name,
            target.namespace,
            _stamp_patch(change),
            _content_type=MERGE_PATCH,
            _preload_content=False,
            _request_timeout=api.timeout,
        ),
        confirm=lambda: _landed(api, change),
        service=change.stamp.service,
    )


def _patch_hpa(api: Transport, change: Change, hpa_name: str, hpa: JSON, replicas: int) -> int:
    """Set the HPA's minReplicas to `replicas` (raising maxReplicas to fit) on the version
    read, and return the maxReplicas written. A 409 (someone changed the HPA since it was
    read) wrote nothing: read it again and patch on top of their edit, `api.retries` times."""
    namespace, service = change.target.namespace, change.stamp.service
    attempts = 0
    while True:
        high = max(_hpa_bounds(hpa, change, hpa_name)[1], replicas)
        body = {
            "metadata": {"resourceVersion": _meta(hpa).get("resourceVersion")},
            "spec": {"minReplicas": replicas, "maxReplicas": high},
        }
        try:
            api.write(
                f"patching hpa {namespace}/{hpa_name}",
                partial(
                    api.autoscaling.patch_namespaced_horizontal_pod_autoscaler,
                    hpa_name,
                    namespace,
                    body,
                    _content_type=MERGE_PATCH,
                    _preload_content=False,
                    _request_timeout=api.timeout,
                ),
                confirm=lambda: _hpa_at(api, namespace, hpa_name, replicas, service),
                service=service,
            )
            return high
        except ConflictError:
            # The HPA controller rewrites its status every few seconds; a 409 means
            # nothing was written, so reading again and retrying is safe.
            attempts += 1
            if attempts > api.retries:
                raise
            hpa = _read_hpa(api, namespace, hpa_name, service)


def _read_hpa(api: Transport, namespace: str, name: str, service: str) -> JSON:
    try:
        return api.read(
            f"reading hpa {namespace}/{name}",
            lambda: api.autoscaling.read_namespaced_horizontal_pod_autoscaler(
                name, namespace, _preload_content=False, _request_timeout=api.timeout
            ),
        )
    except ApiFailure as failure:
        raise ClusterError(
            str(failure), hint=failure.hint, service=service, retryable=failure.retryable
        ) from failure


def _hpa_at(api: Transport, namespace: str, name: str, replicas: int, service: str) -> JSON | None:
    hpa = _read_hpa(api, namespace, name, service)
    return hpa if (hpa.get("spec") or {}).get("minReplicas") == replicas else None
