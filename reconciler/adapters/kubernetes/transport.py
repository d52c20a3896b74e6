"""Requests to the API server: reads retried with backoff, lists read page by page, and
writes made once and confirmed by reading back when their fate is unknown.

Retries are ours, not urllib3's (switched off): reads are retried on timeouts, throttling and
server errors; writes never are, because a write that timed out may have been applied. Reads
ask for the raw response (`_preload_content=False`) and the JSON is mapped by `mapping`: pod
metrics come back as plain JSON anyway, and the client's models cost about 40 % more time on a
large list and fail on fields a newer server adds.
"""

from __future__ import annotations

import builtins
import json
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from reconciler.adapters.kubernetes.errors import (
    ApiFailure,
    NotAnObject,
    credentials,
    expected_errors,
    translate,
)
from reconciler.adapters.kubernetes.mapping import JSON, _meta
from reconciler.core.errors import ClusterError, ConflictError

if TYPE_CHECKING:
    from kubernetes.client import ApiClient


class Transport:
    """The client's API objects and the request discipline every call goes through."""

    def __init__(
        self,
        api_client: ApiClient,
        *,
        server: str,
        page_size: int,
        timeout: float,
        retries: int,
        backoff: float,
    ) -> None:
        from kubernetes import client

        self.client = api_client
        self.server = server
        self.page_size = page_size
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = backoff
        self.apps = client.AppsV1Api(api_client)
        self.core = client.CoreV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)
        self.autoscaling = client.AutoscalingV2Api(api_client)
        self.authorization = client.AuthorizationV1Api(api_client)
        self.version = client.VersionApi(api_client)
        self.errors = expected_errors()

    def translate(self, action: str, error: BaseException) -> ApiFailure:
        """One library exception as a ClusterError that says what was being done, with no
        credential in it."""
        return translate(
            action,
            error,
            server=self.server,
            timeout=self.timeout,
            secrets=credentials(self.client.configuration),
        )

    def read(self, action: str, call: Callable[[], Any]) -> JSON:
        """One read, retried with exponential backoff while the failure is transient."""
        attempt = 0
        while True:
            try:
                response = call()
                data = json.loads(response.data)
                if not isinstance(data, dict):
                    raise NotAnObject("not a JSON object")
                return data
            except self.errors as error:
                failure = self.translate(action, error)
                if not failure.retryable or attempt >= self.retries:
                    if failure.retryable and attempt:
                        failure.args = (f"{failure} (after {attempt + 1} attempts)",)
                    raise failure from error
                delay = self.backoff * 2**attempt
                if failure.retry_after is not None:
                    delay = min(max(delay, failure.retry_after), 30.0)
                time.sleep(delay)
                attempt += 1

    def list(
        self,
        action: str,
        fetch: Callable[..., Any],
        keep: Callable[[JSON], JSON] | None = None,
    ) -> builtins.list[JSON]:
        """Every item of a list, page by page (`limit` and `continue`). A continue token that
        expired (410) restarts the list, so the result is one consistent snapshot. `keep`
        trims each item as its page arrives, so a page's full JSON is never held longer
        than it takes to read it."""
        items: builtins.list[JSON] = []
        token: str | None = None
        restarts = 0
        while True:
            options: dict[str, Any] = {
                "limit": self.page_size,
                "_request_timeout": self.timeout,
                "_preload_content": False,
            }
            if token:
                options["_continue"] = token
            try:
                page = self.read(action, partial(fetch, **options))
            except ApiFailure as failure:
                if failure.status == 410 and token and restarts < self.retries:
                    items, token, restarts = [], None, restarts + 1
                    continue
                raise
            found = page.get("items") or []
            items.extend(found if keep is None else map(keep, found))
            token = _meta(page).get("continue") or None
            if not token:
                return items

    def get_deployment(self, namespace: str, name: str) -> JSON:
        return self.read(
            f"reading deployment {namespace}/{name}",
            lambda: self.apps.read_namespaced_deployment(
                name, namespace, _preload_content=False, _request_timeout=self.timeout
            ),
        )

    def write(
        self,
        action: str,
        call: Callable[[], Any],
        confirm: Callable[[], JSON | None],
        service: str,
    ) -> JSON:
        """One write, never repeated. When its fate is unknown (a timeout, a dropped connection,
        a 5xx) the object is read back: `confirm` returns it if the write landed, else None.
        Repeating it instead could apply a change twice, or apply one that was decided on
        state that has moved on."""
        try:
            data = json.loads(call().data)
        except self.errors as error:
            failure = self.translate(action, error)
            if failure.status == 409:
                raise ConflictError(
                    f"{action}: the object changed since it was observed; not overwriting it",
                    hint="the next cycle observes it again",
                    service=service,
                ) from error
            if not failure.ambiguous:
                raise ClusterError(
                    str(failure), hint=failure.hint, service=service, retryable=failure.retryable
                ) from error
            try:
                landed = confirm()
            except ClusterError:
                landed = None
            if landed is None:
                raise ClusterError(
                    f"{failure}; it may still take effect",
                    hint="the write is not repeated blindly: the next cycle observes the "
                    "deployment again, and records the change from its stamp if it landed",
                    service=service,
                    retryable=True,
                ) from error
            return landed
        if not isinstance(data, dict):
            raise ClusterError(f"{action}: the answer is not a JSON object", service=service)
        return data
