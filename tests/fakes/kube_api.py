"""A fake Kubernetes API server for tests, speaking the real wire format over real HTTP.

Why it exists: the reconciler drives clusters through the official ``kubernetes`` client and
through ``kubectl``, and no cluster is available to tests. Mocking the client's objects would
test our assumptions about the client; instead both point at this server. It answers on the
real paths with the real JSON shapes (complete enough for the client's strict pydantic models),
real status codes and real ``Status`` error bodies, and records every request so tests can
count API calls.

Main design choice: state is a plain in-memory store of JSON dicts (one table per resource
kind, keyed by namespace and name, all behind one lock), and a small *synchronous* controller
runs after every write, in the writing request's thread. It plays the Deployment and ReplicaSet
controllers, the garbage collector and the kubelet: it creates a ReplicaSet for each new pod
template (revision max+1, reusing the old ReplicaSet on a rollback), creates and deletes pods,
and recomputes status. So a test sees the settled cluster on its very next request, with no
background threads and no sleeps. The write's own response is the object as written, before the
controller ran; as on a real cluster, the controller's status update then bumps
``resourceVersion`` again.

Known simplifications, each deliberate:

* rollouts are immediate (no surge, no waiting for the new pods to become ready);
* strategic merge patches merge lists of objects by ``name`` only and replace other lists;
  server-side apply (``application/apply-patch+yaml``) is treated as such a merge;
* watches are refused (405) and tables are not served (kubectl falls back to NAME/AGE);
* zero-valued ``omitempty`` status fields are left out, as on a real server: with no ready pod,
  ``status.readyReplicas`` is absent, not 0;
* kubectl (client-go) sends tokens only over TLS, so ``required_token`` with kubectl needs
  ``FakeKubeAPI(tls=True)``, which serves a fresh self-signed certificate.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import hashlib
import ipaddress
import json
import math
import re
import socket
import socketserver
import ssl
import tempfile
import threading
import time
import traceback
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

JSON = dict[str, Any]
Key = tuple[str, str]  # (namespace, name)
DEFAULT_USER = "system:serviceaccount:ops:reconciler"
REVISION = "deployment.kubernetes.io/revision"
HASH_LABEL = "pod-template-hash"
DESIRED = "deployment.kubernetes.io/desired-replicas"
_SAFE = "bcdfghjklmnpqrstvwxz2456789"  # the alphabet Kubernetes uses for generated names
_ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
_PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
}
_NO_RESOURCE = "the server could not find the requested resource"
_UNKNOWN_FORMAT = "the body of the request was in an unknown format"
_BAD_CONTINUE = (
    "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)"
)
_EXPIRED_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter."
)
_NO_FIELD_MANAGER = (
    'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
    "is required for apply patch"
)
_SERVER_FIELDS = ("name", "namespace", "uid", "creationTimestamp", "generation", "resourceVersion")
_CONFLICT = (
    'Operation cannot be fulfilled on {gr} "{name}": the object has been modified; '
    "please apply your changes to the latest version and try again"
)
_REASONS = {
    400: ("BadRequest", "the server rejected our request for an unknown reason"),
    401: ("Unauthorized", "Unauthorized"),
    403: ("Forbidden", ""),
    404: ("NotFound", ""),
    405: ("MethodNotAllowed", "the server does not allow this method on the requested resource"),
    409: ("Conflict", ""),
    410: ("Expired", _EXPIRED_CONTINUE),
    415: ("UnsupportedMediaType", ""),
    422: ("Invalid", ""),
    429: ("TooManyRequests", "Too many requests, please try again later."),
    500: ("InternalError", "Internal error occurred: injected failure"),
    503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
    504: ("Timeout", "the server was unable to return a response in the time allotted"),
}


@dataclass(frozen=True)
class Resource:
    """One REST resource as discovery describes it."""

    group: str
    version: str
    kind: str
    plural: str
    short_names: tuple[str, ...] = ()
    subresources: tuple[tuple[str, str, str], ...] = ()  # (name, kind, "group/version" or "")
    verbs: tuple[str, ...] = _ALL_VERBS
    namespaced: bool = True
    stored: bool = True  # False: synthesized on read (metrics) or never stored (reviews)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        """``deployments.apps``, ``pods``: how error messages name the resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def kind_group(self) -> str:
        """``Deployment.apps``, ``Pod``: how validation errors name the kind."""
        return f"{self.kind}.{self.group}" if self.group else self.kind


def _status_sub(kind: str) -> tuple[str, str, str]:
    return ("status", kind, "")


_SCALE = ("scale", "Scale", "autoscaling/v1")
DEPLOYMENTS = Resource(
    "apps", "v1", "Deployment", "deployments", ("deploy",), (_SCALE, _status_sub("Deployment"))
)
REPLICASETS = Resource(
    "apps", "v1", "ReplicaSet", "replicasets", ("rs",), (_SCALE, _status_sub("ReplicaSet"))
)
PODS = Resource("", "v1", "Pod", "pods", ("po",), (_status_sub("Pod"),))
EVENTS = Resource("", "v1", "Event", "events", ("ev",))
HPAS = Resource(
    "autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", ("hpa",),
    (_status_sub("HorizontalPodAutoscaler"),),
)  # fmt: skip
POD_METRICS = Resource(
    "metrics.k8s.io", "v1beta1", "PodMetrics", "pods", verbs=("get", "list"), stored=False
)
SSAR = Resource(
    "authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews",
    verbs=("create",), namespaced=False, stored=False,
)  # fmt: skip
RESOURCES = (PODS, EVENTS, DEPLOYMENTS, REPLICASETS, HPAS, POD_METRICS, SSAR)
_BY_PATH = {(r.group, r.version, r.plural): r for r in RESOURCES}
_GROUPS = ("apps", "autoscaling", "authorization.k8s.io", "metrics.k8s.io")


@dataclass(frozen=True)
class Encoded:
    """An answer already encoded as JSON (a list, encoded while the store was locked)."""

    data: bytes


def status_body(code: int, reason: str, message: str, details: JSON | None = None) -> JSON:
    """A ``Status`` failure body, fields in the API server's order."""
    body: JSON = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure"}
    body |= {"message": message, "reason": reason}
    if details is not None:
        body["details"] = details
    body["code"] = code
    return body


def _details(group: str, plural: str, name: str = "") -> JSON:
    out: JSON = {"name": name} if name else {}
    return out | ({"group": group} if group else {}) | {"kind": plural}


class ApiError(Exception):
    """An error answer: the HTTP status code and the ``Status`` body to send."""

    def __init__(
        self,
        code: int,
        message: str,
        details: JSON | None = None,
        headers: dict[str, str] | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code, self.headers = code, headers or {}
        reason = reason or _REASONS.get(code, ("InternalError", ""))[0]
        self.body = status_body(code, reason, message, details)


@dataclass
class Target:
    """What a request is about, in the API server's authorization terms."""

    method: str
    path: str
    verb: str
    resource: Resource | None = None
    group: str = ""
    plural: str = ""
    namespace: str = ""
    name: str = ""
    subresource: str = ""
    resource_request: bool = False

    @property
    def qualified(self) -> str:
        """``deployments.apps`` style, ``pods`` for the core group."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def rbac_resource(self) -> str:
        return f"{self.plural}/{self.subresource}" if self.subresource else self.plural

    def details(self) -> JSON:
        return _details(self.group, self.plural, self.name)


@dataclass
class RecordedRequest:
    """One request as the fake saw it; ``status`` is 0 while it is still being answered."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    content_type: str = ""
    body: Any = None


@dataclass
class _Rule:
    """A configured fault (``status``) or delay (``seconds``) for matching requests."""

    method: str | None
    pattern: re.Pattern[str]
    status: int = 0
    seconds: float = 0.0
    times: int | None = None
    message: str | None = None

    def take(self, method: str, path: str) -> bool:
        """Whether this rule applies to the request (and use up one of its ``times``)."""
        if self.times == 0 or self.method not in (None, method) or not self.pattern.search(path):
            return False
        if self.times is not None:
            self.times -= 1
        return True


@dataclass
class _DeploymentExtras:
    """What the fake kubelet and metrics-server know about a deployment's pods."""

    new_pods_ready: bool = True
    cpu: str = "1m"
    memory: str = "8Mi"


@dataclass
class _PodInfo:
    serial: int  # creation order
    deployment: str
    usage: tuple[str, str] | None = None  # (cpu, memory) overriding the deployment's


# -- small pure helpers ------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _safe_hash(text: str, length: int) -> str:
    digest = hashlib.sha256(text.encode()).digest()
    return "".join(_SAFE[b % len(_SAFE)] for b in digest[:length])


def _key(obj: JSON) -> Key:
    return obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


def _uid(obj: JSON) -> str:
    return str(obj["metadata"]["uid"])


def _owner_name(obj: JSON) -> str | None:
    refs = obj["metadata"].get("ownerReferences", [])
    return next((str(r["name"]) for r in refs if r.get("controller")), None)


def _owner_uid(obj: JSON) -> str | None:
    refs = obj["metadata"].get("ownerReferences", [])
    return next((str(r["uid"]) for r in refs if r.get("controller")), None)


def _revision(rs: JSON) -> int:
    return int(rs["metadata"].get("annotations", {}).get(REVISION, "0"))


def _without_hash(template: JSON) -> JSON:
    out = copy.deepcopy(template)
    out.get("metadata", {}).get("labels", {}).pop(HASH_LABEL, None)
    return out


def _pod_ready(pod: JSON) -> bool:
    conditions = pod.get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def _drop_nulls(value: Any) -> Any:
    """Drop nulls, as decoding into Go structs does (kubectl sends ``creationTimestamp: null``)."""
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([numkMGTPE]|[KMGTPE]i)?$")
_FACTORS = {"n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
_FACTORS |= {"P": 1e15, "E": 1e18} | {f"{p}i": 2.0 ** (10 * i) for i, p in enumerate("KMGTPE", 1)}


def parse_quantity(text: str) -> float:
    """A Kubernetes quantity ("85m", "512Mi", "1.5") as a float in base units."""
    match = _QUANTITY.match(str(text).strip())
    if not match:
        raise ValueError(f"not a quantity: {text!r}")
    return float(match.group(1)) * _FACTORS[match.group(2) or ""]


# -- selectors ---------------------------------------------------------------------------------

Requirement = tuple[str, str, frozenset[str]]  # (key, operator, values)
_REQUIREMENT = re.compile(
    r"\s*(?:!\s*(?P<absent>[\w./-]+)|(?P<key>[\w./-]+)\s*(?:(?P<op>==|!=|=)\s*(?P<value>[\w./-]*)"
    r"|\s(?P<setop>in|notin)\s*\((?P<values>[^)]*)\))?)\s*(?:,|$)"
)


def parse_selector(text: str) -> list[Requirement]:
    """A label selector (``a=b``, ``a!=b``, ``a in (x,y)``, ``a notin (x)``, ``a``, ``!a``)."""
    requirements: list[Requirement] = []
    pos, text = 0, text.strip()
    while pos < len(text):
        match = _REQUIREMENT.match(text, pos)
        if not match or match.end() == pos:
            raise ValueError(f"unable to parse requirement: {text[pos:]!r}")
        pos = match.end()
        if match["absent"]:
            requirements.append((match["absent"], "!", frozenset()))
        elif match["op"]:
            op = "!=" if match["op"] == "!=" else "in"
            requirements.append((match["key"], op, frozenset([match["value"]])))
        elif match["setop"]:
            values = frozenset(v.strip() for v in match["values"].split(",") if v.strip())
            requirements.append((match["key"], match["setop"], values))
        else:
            requirements.append((match["key"], "exists", frozenset()))
    return requirements


def selector_matches(requirements: list[Requirement], labels: JSON) -> bool:
    """Whether labels satisfy every requirement."""
    for key, op, values in requirements:
        present = key in labels
        matched = present and labels[key] in values
        ok = {"in": matched, "!=": not matched, "notin": not matched, "exists": present}
        if not ok.get(op, not present):
            return False
    return True


def _fields_match(selector: str, obj: JSON) -> bool:
    for part in filter(None, (p.strip() for p in selector.split(","))):
        negate = "!=" in part
        path, _, wanted = part.partition("!=" if negate else "=")
        value: Any = obj
        for step in path.strip().split("."):
            value = value.get(step, "") if isinstance(value, dict) else ""
        if (str(value) == wanted.lstrip("=")) == negate:
            return False
    return True


# -- patches -----------------------------------------------------------------------------------


def merge_patch(target: Any, patch: Any, *, strategic: bool = False) -> Any:
    """RFC 7386 merge (null deletes); ``strategic`` also merges lists of objects by name."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if strategic and key.startswith("$"):  # directives such as $setElementOrder
            continue
        if value is None:
            result.pop(key, None)
        elif strategic and _named_list(value) and _named_list(result.get(key)):
            result[key] = _merge_named(result[key], value)
        else:
            result[key] = merge_patch(result.get(key), value, strategic=strategic)
    return result


def _named_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, dict) and "name" in v for v in value)


def _merge_named(current: list[JSON], patch: list[JSON]) -> list[JSON]:
    merged = {item["name"]: item for item in current}
    for item in patch:
        if item.get("$patch") == "delete":
            merged.pop(item["name"], None)
        else:
            merged[item["name"]] = merge_patch(merged.get(item["name"]), item, strategic=True)
    return list(merged.values())


def _pointer(path: str) -> list[str]:
    if path and not path.startswith("/"):
        raise ValueError(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]


def _walk(doc: Any, tokens: list[str]) -> Any:
    for token in tokens:
        doc = doc[int(token)] if isinstance(doc, list) else doc[token]
    return doc


def json_patch(doc: JSON, operations: list[JSON]) -> JSON:
    """RFC 6902 (add, remove, replace, move, copy, test); raises ValueError when an op fails."""
    doc = copy.deepcopy(doc)
    for op in operations:
        kind, path = op.get("op"), op.get("path", "")
        tokens = _pointer(path)
        try:
            if kind == "test":
                if _walk(doc, tokens) != op.get("value"):
                    raise ValueError(f"testing value {path} failed")
                continue
            value = copy.deepcopy(op.get("value"))
            if kind in ("move", "copy"):
                value = copy.deepcopy(_walk(doc, _pointer(op["from"])))
                if kind == "move":
                    _remove(doc, _pointer(op["from"]))
            elif kind in ("remove", "replace"):
                _remove(doc, tokens)
            elif kind != "add":
                raise ValueError(f"unknown JSON patch operation {kind!r}")
            if kind != "remove":
                doc = _add(doc, tokens, value)
        except (KeyError, IndexError, TypeError) as exc:
            raise ValueError(
                f"{kind} operation does not apply: doc is missing path: {path}"
            ) from exc
    return doc


def _remove(doc: Any, tokens: list[str]) -> None:
    parent = _walk(doc, tokens[:-1])
    del parent[int(tokens[-1]) if isinstance(parent, list) else tokens[-1]]


def _add(doc: Any, tokens: list[str], value: Any) -> Any:
    if not tokens:
        return value
    parent = _walk(doc, tokens[:-1])
    if isinstance(parent, list):
        index = len(parent) if tokens[-1] == "-" else int(tokens[-1])
        if not 0 <= index <= len(parent):
            raise IndexError(index)
        parent.insert(index, value)
    else:
        parent[tokens[-1]] = value
    return doc


# -- the server --------------------------------------------------------------------------------


class FakeKubeAPI(ThreadingHTTPServer):
    """An in-memory Kubernetes API server on ``127.0.0.1`` (random port), for tests.

    Use as ``with FakeKubeAPI() as api:`` or ``start()``/``stop()``; ``api.url`` is its base URL.
    """

    daemon_threads = True
    block_on_close = False

    def __init__(
        self,
        *,
        required_token: str | None = None,
        user: str = DEFAULT_USER,
        git_version: str = "v1.32.4",
        tls: bool = False,
        cluster_uid: str = "",
    ) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.required_token, self.user, self.git_version = required_token, user, git_version
        #: The kube-system namespace's UID: what the reconciler names this cluster by.
        self.cluster_uid = cluster_uid or str(uuid.uuid4())
        self._tls: ssl.SSLContext | None = None
        self.ca_pem = b""  # the certificate clients must trust, with ``tls``
        if tls:
            self._tls, self.ca_pem = _tls_context()
        self._lock = threading.RLock()
        self._store: dict[Resource, dict[Key, JSON]] = {r: {} for r in RESOURCES if r.stored}
        self._extras: dict[Key, _DeploymentExtras] = {}
        self._pod_info: dict[Key, _PodInfo] = {}
        self._rv, self._serial = 1000, 0
        #: The resourceVersion the history was compacted at (``compact``): a continue token
        #: from a list before it has expired.
        self._compacted = 0
        #: Time spent answering requests (playing the controllers included), for benchmarks
        #: that separate the fake's own work from the client's.
        self.busy_seconds = 0.0
        self._index_cache: dict[Resource, tuple[int, dict[Any, list[JSON]]]] = {}
        #: Each table's keys in etcd's order, with the table's key version and size when
        #: sorted: settling after a write lists every table several times.
        self._key_order: dict[Resource, tuple[int, int, list[Key], dict[str, list[Key]]]] = {}
        self._key_version: dict[Resource, int] = {}
        #: Deployments whose object or children were written since the controllers last ran,
        #: the table sizes those writes account for (a test that fills the store directly
        #: changes them: then every deployment is looked at), and whether an owner went away
        #: or a client created an object, which is when the garbage collector has work.
        self._dirty: set[Key] = set()
        self._sizes: dict[Resource, int] = {}
        self._collect = True
        self._settled: dict[tuple[str, str], tuple[str, ...]] = {}
        self._faults: list[_Rule] = []
        self._delays: list[_Rule] = []
        self._afters: list[tuple[_Rule, Callable[[FakeKubeAPI], None]]] = []
        self._denied: set[tuple[str, str, str, str | None]] = set()
        self._log: list[RecordedRequest] = []
        self._connections: set[socket.socket] = set()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL, ``http://127.0.0.1:PORT`` (``https`` with ``tls``)."""
        return f"{'https' if self._tls else 'http'}://127.0.0.1:{self.server_port}"

    def start(self) -> FakeKubeAPI:
        """Serve in a daemon thread; returns self."""
        if self._thread is None:
            self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; close the listening socket and every open connection."""
        self._stopped.set()  # wakes delayed requests
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.server_close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:  # idle keep-alive handlers see EOF, then close their socket
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> FakeKubeAPI:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # skips HTTPServer's reverse DNS lookup
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, address = super().get_request()
        if self._tls is not None:  # the handshake happens in the handler's thread
            conn = self._tls.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        return conn, address

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up (timeouts, closed pools) are normal here: stay quiet."""

    # -- faults, delays, authorization -----------------------------------------------------

    def fail(
        self,
        method: str | None = None,
        path_regex: str = ".*",
        status: int = 403,
        times: int | None = None,
        message: str | None = None,
    ) -> None:
        """Answer matching requests (``times`` of them, or all) with ``status`` and the ``Status``
        body the real server would send (401/403/404/409/422/429/500/503/504...). Checked before
        authentication, authorization and routing; the first matching rule wins."""
        with self._lock:
            rule = _Rule(method and method.upper(), re.compile(path_regex), status, times=times)
            rule.message = message
            self._faults.append(rule)

    def delay(self, path_regex: str, seconds: float, method: str | None = None) -> None:
        """Hold matching requests for ``seconds`` before answering (to provoke client timeouts).
        A held write still takes effect afterwards, as on a real server."""
        with self._lock:
            self._delays.append(
                _Rule(method and method.upper(), re.compile(path_regex), 0, seconds)
            )

    def after(
        self,
        method: str,
        path_regex: str,
        action: Callable[[FakeKubeAPI], None],
        times: int | None = 1,
    ) -> None:
        """Run ``action(self)`` right after a matching request is answered, before the next one:
        what another writer does between a client's read and its write (a person's
        ``kubectl edit``, a controller's status update)."""
        with self._lock:
            rule = _Rule(method.upper(), re.compile(path_regex), times=times)
            self._afters.append((rule, action))

    def compact(self) -> None:
        """Compact the history as etcd does every few minutes: every continue token handed out
        so far expires, and a list continued with one is answered 410 Gone (reason Expired),
        as a real API server answers a client that paged too slowly."""
        with self._lock:
            self._rv += 1
            self._compacted = self._rv

    def deny(self, verb: str, group: str, resource: str, namespace: str | None = None) -> None:
        """Forbid ``verb`` on ``resource`` (``"deployments/scale"`` for a subresource) of API group
        ``group`` (``""`` for core) in ``namespace``, or everywhere; ``"*"`` matches anything.
        Matching requests get a real 403, and SelfSubjectAccessReviews answer not allowed."""
        with self._lock:
            self._denied.add((verb, group, resource, namespace))

    def clear_faults(self) -> None:
        """Forget every ``fail``, ``delay``, ``deny`` and ``after``."""
        with self._lock:
            self._faults.clear()
            self._delays.clear()
            self._denied.clear()
            self._afters.clear()

    def is_allowed(self, verb: str, group: str, resource: str, namespace: str | None) -> bool:
        """The fake RBAC decision."""
        with self._lock:
            return not any(
                v in ("*", verb) and g in ("*", group) and r in ("*", resource)
                and ns in (None, namespace or "")
                for v, g, r, ns in self._denied
            )  # fmt: skip

    # -- request log -----------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request so far, oldest first (logged on arrival)."""
        with self._lock:
            return list(self._log)

    def count(self, method: str | None = None, path_prefix: str | None = None) -> int:
        """How many logged requests have this method and path prefix."""
        return sum(
            1
            for r in self.requests
            if method in (None, r.method) and r.path.startswith(path_prefix or "")
        )

    def reset_log(self) -> None:
        """Forget the logged requests."""
        with self._lock:
            self._log.clear()

    # -- building the cluster --------------------------------------------------------------

    def add_deployment(
        self,
        namespace: str,
        name: str,
        replicas: int = 2,
        cpu_request: str | None = "100m",
        memory_request: str | None = "512Mi",
        cpu_limit: str | None = None,
        memory_limit: str | None = None,
        labels: dict[str, str] | None = None,
        annotations: dict[str, str] | None = None,
        ready: bool = True,
        container_name: str | None = None,
        image: str = "example/app:1.0",
        new_pods_ready: bool | None = None,
    ) -> JSON:
        """Create a Deployment, its ReplicaSet (revision 1) and pods; returns a copy.

        ``ready``: whether the first pods are ready; ``new_pods_ready`` (default: ``ready``):
        whether pods created later are (see ``set_new_pods_ready``, ``mark_pods_ready``)."""
        labels = dict(labels) if labels is not None else {"app": name}
        resources: JSON = {}
        for section, cpu, memory in (
            ("requests", cpu_request, memory_request),
            ("limits", cpu_limit, memory_limit),
        ):
            if values := {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}:
                resources[section] = values
        container = {"name": container_name or name, "image": image, "resources": resources}
        meta: JSON = {"name": name, "labels": labels}
        if annotations:
            meta["annotations"] = dict(annotations)
        pod_template = {"metadata": {"labels": dict(labels)}, "spec": {"containers": [container]}}
        spec = {"replicas": replicas, "selector": {"matchLabels": dict(labels)}}
        with self._lock:
            extras = self._extras[(namespace, name)] = _DeploymentExtras(new_pods_ready=ready)
            self._create(
                DEPLOYMENTS,
                namespace,
                {"metadata": meta, "spec": spec | {"template": pod_template}},
            )
            extras.new_pods_ready = ready if new_pods_ready is None else new_pods_ready
            return self.get_deployment(namespace, name)

    def add_hpa(
        self,
        namespace: str,
        name: str,
        target_deployment: str,
        min_replicas: int = 1,
        max_replicas: int = 10,
        target_cpu_utilization: int = 80,
    ) -> JSON:
        """Create an autoscaling/v2 HorizontalPodAutoscaler on CPU utilization; returns a copy."""
        target = {"type": "Utilization", "averageUtilization": target_cpu_utilization}
        spec = {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": target_deployment,
            },
            "minReplicas": min_replicas,
            "maxReplicas": max_replicas,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": target}}],
        }
        with self._lock:
            return self._create(HPAS, namespace, {"metadata": {"name": name}, "spec": spec})

    def edit_hpa(self, namespace: str, name: str, **spec: Any) -> JSON:
        """Change an HPA's spec as a person would (``minReplicas=3``): a new resourceVersion,
        so a write that carries the one read before gets 409. Returns a copy."""
        with self._lock:
            hpa = copy.deepcopy(self._get(HPAS, namespace, name))
            hpa["spec"].update(spec)
            return copy.deepcopy(self._save(HPAS, hpa))

    def get_deployment(self, namespace: str, name: str) -> JSON:
        """A copy of the stored Deployment (KeyError if absent)."""
        with self._lock:
            return copy.deepcopy(self._store[DEPLOYMENTS][(namespace, name)])

    def objects(self, resource: Resource, namespace: str | None = None) -> list[JSON]:
        """Copies of the stored objects of one kind (e.g. ``HPAS``), by namespace and name."""
        with self._lock:
            return copy.deepcopy(self._items(resource, namespace))

    def events(self, namespace: str, deployment: str) -> list[JSON]:
        """The Events about a deployment, oldest first, as ``kubectl describe`` finds them."""
        uid = self.get_deployment(namespace, deployment)["metadata"]["uid"]
        with self._lock:
            found = [
                e for e in self._items(EVENTS, namespace)
                if (e.get("involvedObject") or {}).get("uid") == uid
            ]  # fmt: skip
            return copy.deepcopy(sorted(found, key=lambda e: int(e["metadata"]["resourceVersion"])))

    def replicasets(self, namespace: str, deployment: str) -> list[JSON]:
        """Copies of a deployment's ReplicaSets, oldest revision first."""
        with self._lock:
            found = self._children(REPLICASETS, self._get(DEPLOYMENTS, namespace, deployment))
            return copy.deepcopy(sorted(found, key=_revision))

    def pods(self, namespace: str, deployment: str) -> list[JSON]:
        """Copies of a deployment's pods, oldest first."""
        with self._lock:
            return copy.deepcopy(self._deployment_pods(namespace, deployment))

    def set_new_pods_ready(self, namespace: str, deployment: str, ready: bool) -> None:
        """Whether pods created from now on for ``deployment`` start ready."""
        with self._lock:
            self._extras_for(namespace, deployment).new_pods_ready = ready

    def mark_pods_ready(self, namespace: str, deployment: str, ready: bool = True) -> None:
        """Make every pod of ``deployment`` ready (or not ready), as readiness probes would."""
        with self._lock:
            for pod in self._deployment_pods(namespace, deployment):
                self._set_pod_state(pod, ready=ready)
            self._reconcile()

    def crash_pod(self, namespace: str, deployment: str, index: int = 0, restarts: int = 3) -> str:
        """Put the ``index``-th pod (oldest first) into CrashLoopBackOff, not ready, with
        ``restarts`` restarts; returns its name."""
        with self._lock:
            pod = self._deployment_pods(namespace, deployment)[index]
            self._set_pod_state(pod, ready=False, restarts=restarts, crashing=True)
            self._reconcile()
            return str(pod["metadata"]["name"])

    def set_pod_usage(
        self,
        namespace: str,
        deployment: str,
        cpu: str = "85m",
        memory: str = "358Mi",
        pod: str | int | None = None,
    ) -> None:
        """Set the usage metrics report for each container of the deployment's pods. Without
        ``pod`` it is the deployment's usage, which pods created later inherit; a pod name or
        index (oldest first) overrides one pod."""
        with self._lock:
            pods = self._deployment_pods(namespace, deployment)
            if isinstance(pod, int):
                pod = str(pods[pod]["metadata"]["name"])
            if pod is None:
                extras = self._extras_for(namespace, deployment)
                extras.cpu, extras.memory = cpu, memory
                for p in pods:
                    self._pod_info[_key(p)].usage = None
            elif (namespace, pod) in self._pod_info:
                self._pod_info[(namespace, pod)].usage = (cpu, memory)
            else:
                raise KeyError(f"no pod {pod!r} in {namespace!r}")
            self._reconcile()  # the HPA's status follows usage

    def set_owner_markers(
        self,
        namespace: str,
        name: str,
        argocd: bool = False,
        flux: bool = False,
        argocd_app: str | None = None,
        flux_kustomization: str = "apps",
        flux_namespace: str = "flux-system",
    ) -> None:
        """Add (or, when false, remove) the marks Argo CD and Flux leave on a Deployment."""
        app = argocd_app or name
        tracking = f"{app}:apps/Deployment:{namespace}/{name}"
        marks = (
            (argocd, "annotations", "argocd.argoproj.io/tracking-id", tracking),
            (argocd, "labels", "app.kubernetes.io/instance", app),
            (flux, "labels", "kustomize.toolkit.fluxcd.io/name", flux_kustomization),
            (flux, "labels", "kustomize.toolkit.fluxcd.io/namespace", flux_namespace),
        )  # fmt: skip
        with self._lock:
            dep = copy.deepcopy(self._get(DEPLOYMENTS, namespace, name))
            for wanted, section, key, value in marks:
                values = dep["metadata"].setdefault(section, {})
                if wanted:
                    values[key] = value
                else:
                    values.pop(key, None)
                if not values:  # the API server omits empty maps
                    del dep["metadata"][section]
            self._save(DEPLOYMENTS, dep)

    def write_kubeconfig(
        self,
        path: str | Path,
        token: str = "test-token",
        context: str = "fake",
        namespace: str | None = None,
    ) -> Path:
        """Write a kubeconfig whose current context ``context`` points here, plus a context
        ``other`` pointing at a port where nothing listens; returns the path."""
        if context == "other":
            raise ValueError('the context name "other" is reserved for the dead cluster')
        with socket.socket() as probe:  # a port that was free a moment ago and is closed now
            probe.bind(("127.0.0.1", 0))
            dead_port = probe.getsockname()[1]
        cluster: JSON = {"server": self.url}
        if self.ca_pem:
            cluster["certificate-authority-data"] = base64.b64encode(self.ca_pem).decode()
        here: JSON = {"cluster": "fake-cluster", "user": "fake-user"}
        if namespace:
            here["namespace"] = namespace
        dead = {"server": f"http://127.0.0.1:{dead_port}"}
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "preferences": {},
            "clusters": [
                {"name": "fake-cluster", "cluster": cluster},
                {"name": "other-cluster", "cluster": dead},
            ],
            "users": [{"name": "fake-user", "user": {"token": token}}],
            "contexts": [
                {"name": context, "context": here},
                {"name": "other", "context": {"cluster": "other-cluster", "user": "fake-user"}},
            ],
            "current-context": context,
        }
        path = Path(path)
        path.write_text(json.dumps(config, indent=2) + "\n")  # JSON is YAML
        return path

    # -- the store (callers hold the lock) -------------------------------------------------

    def _items(self, resource: Resource, namespace: str | None) -> list[JSON]:
        if resource is POD_METRICS:
            pods = self._items(PODS, namespace)
            return [self._pod_metrics(p) for p in pods if p["status"].get("phase") == "Running"]
        table = self._store[resource]
        version = self._key_version.get(resource, 0)
        cached = self._key_order.get(resource)
        if cached is None or cached[:2] != (version, len(table)):
            keys = sorted(table, key=lambda k: f"{k[0]}/{k[1]}")  # etcd's order
            by_namespace: dict[str, list[Key]] = {}
            for key in keys:
                by_namespace.setdefault(key[0], []).append(key)
            cached = (version, len(table), keys, by_namespace)
            self._key_order[resource] = cached
        # A namespace's keys apart: a list in one of 20 namespaces reads its own 1,000 pods,
        # not the 20,000 of the fleet.
        keys = cached[2] if namespace is None else cached[3].get(namespace, [])
        return [table[k] for k in keys]

    def _get(self, resource: Resource, namespace: str, name: str) -> JSON:
        table = self._store[PODS if resource is POD_METRICS else resource]
        obj = table.get((namespace, name))
        if obj is None:
            message = f'{resource.group_resource} "{name}" not found'
            raise ApiError(404, message, _details(resource.group, resource.plural, name))
        return self._pod_metrics(obj) if resource is POD_METRICS else obj

    def _save(self, resource: Resource, obj: JSON) -> JSON:
        """Store ``obj`` (a fresh dict): a new resourceVersion, and a new generation when the
        spec changed; nothing at all when nothing changed."""
        old = self._store[resource].get(_key(obj))
        if old == obj:
            return old
        meta = obj["metadata"]
        if old is not None and "generation" in meta and old.get("spec") != obj.get("spec"):
            meta["generation"] = old["metadata"]["generation"] + 1
        self._rv += 1
        meta["resourceVersion"] = str(self._rv)
        self._store[resource][_key(obj)] = obj
        if old is None:
            self._key_version[resource] = self._key_version.get(resource, 0) + 1
            self._sizes[resource] = self._sizes.get(resource, 0) + 1
        self._reindex(resource, old, obj)
        self._mark(resource, obj)
        return obj

    def _delete(self, resource: Resource, obj: JSON) -> None:
        old = self._store[resource].pop(_key(obj), None)
        self._key_version[resource] = self._key_version.get(resource, 0) + 1
        if old is not None:
            self._sizes[resource] = self._sizes.get(resource, 0) - 1
            self._mark(resource, old)
            self._collect = self._collect or resource in (DEPLOYMENTS, REPLICASETS)
        self._reindex(resource, old, None)
        if resource is PODS:
            self._pod_info.pop(_key(obj), None)
        elif resource is DEPLOYMENTS:
            self._extras.pop(_key(obj), None)
        self._rv += 1

    def _create(self, resource: Resource, namespace: str, obj: JSON) -> JSON:
        meta = obj["metadata"] = _drop_nulls(obj.get("metadata", {}))
        if not meta.get("name") and meta.get("generateName"):
            self._serial += 1
            meta["name"] = meta["generateName"] + _safe_hash(str(self._serial), 5)
        name = meta.get("name", "")
        if not name:
            message = f'{resource.kind_group} "" is invalid: metadata.name: Required value'
            raise ApiError(422, message, _details(resource.group, resource.plural))
        if (namespace, name) in self._store[resource]:
            message = f'{resource.group_resource} "{name}" already exists'
            details = _details(resource.group, resource.plural, name)
            raise ApiError(409, message, details, reason="AlreadyExists")
        obj |= {"apiVersion": resource.api_version, "kind": resource.kind}
        meta |= {"namespace": namespace, "uid": str(uuid.uuid4()), "creationTimestamp": _now()}
        if resource is EVENTS:  # no spec, no status, no generation: stored as sent
            _check_event(obj, namespace)
            return copy.deepcopy(self._save(resource, obj))
        if resource is not PODS:
            meta["generation"] = 1
        obj["spec"] = _drop_nulls(obj.get("spec", {}))
        _apply_defaults(resource, obj)
        # a client's status is ignored; non-omitempty fields start at zero, as Go serializes them
        initial = {HPAS: {"desiredReplicas": 0}, REPLICASETS: {"replicas": 0}}
        obj["status"] = initial.get(resource, {})
        if resource is PODS:
            obj["status"] = {
                "phase": "Pending",
                "qosClass": _qos_class(obj["spec"].get("containers", [])),
            }
        self._collect = True  # a client may name an owner that does not exist
        created = copy.deepcopy(self._save(resource, obj))
        self._reconcile()
        return created

    def _mark(self, resource: Resource, obj: JSON) -> None:
        """Note the deployment a write touched (through its ReplicaSet, for a pod)."""
        namespace = _key(obj)[0]
        if resource is DEPLOYMENTS:
            self._dirty.add(_key(obj))
            return
        if resource is PODS:
            rs = self._store[REPLICASETS].get((namespace, _owner_name(obj) or ""))
            if rs is None:
                return
            obj = rs
        if resource in (PODS, REPLICASETS):
            owner = _owner_name(obj)
            if owner:
                self._dirty.add((namespace, owner))

    def _children(self, resource: Resource, owner: JSON) -> list[JSON]:
        """The objects ``owner`` controls, through ownerReferences, in etcd's order."""
        return list(self._owner_index(resource).get((_key(owner)[0], _uid(owner)), ()))

    def _signature(self, dep: JSON) -> tuple[str, ...]:
        """The resourceVersions of a deployment, its ReplicaSets and their pods."""
        versions = [dep["metadata"].get("resourceVersion", "")]
        for rs in self._children(REPLICASETS, dep):
            versions.append(rs["metadata"].get("resourceVersion", ""))
            versions += [p["metadata"].get("resourceVersion", "") for p in self._children(PODS, rs)]
        return tuple(versions)

    def _owner_index(self, resource: Resource) -> dict[tuple[str, str | None], list[JSON]]:
        """Objects by (namespace, owner uid), in etcd's order. Kept up to date by `_save` and
        `_delete`, and rebuilt when the table's size says someone wrote to it directly:
        settling a thousand deployments after every write would otherwise scan every pod for
        every deployment."""
        cached = self._index_cache.get(resource)
        if cached is None or cached[0] != len(self._store[resource]):
            index: dict[tuple[str, str | None], list[JSON]] = {}
            for obj in self._items(resource, None):
                index.setdefault((_key(obj)[0], _owner_uid(obj)), []).append(obj)
            cached = (len(self._store[resource]), index)
            self._index_cache[resource] = cached
        return cached[1]

    def _reindex(self, resource: Resource, old: JSON | None, new: JSON | None) -> None:
        cached = self._index_cache.get(resource)
        if cached is None:
            return
        index = cached[1]
        if old is not None:
            bucket = index.get((_key(old)[0], _owner_uid(old)), [])
            bucket[:] = [o for o in bucket if _key(o) != _key(old)]
        if new is not None:
            bucket = index.setdefault((_key(new)[0], _owner_uid(new)), [])
            bucket.append(new)
            bucket.sort(key=lambda o: f"{_key(o)[0]}/{_key(o)[1]}")
        self._index_cache[resource] = (len(self._store[resource]), index)

    def _serial_of(self, pod: JSON) -> int:
        info = self._pod_info.get(_key(pod))
        return info.serial if info else 0

    def _deployment_pods(self, namespace: str, deployment: str) -> list[JSON]:
        dep = self._get(DEPLOYMENTS, namespace, deployment)
        pods = [p for rs in self._children(REPLICASETS, dep) for p in self._children(PODS, rs)]
        return sorted(pods, key=self._serial_of)

    def _extras_for(self, namespace: str, deployment: str) -> _DeploymentExtras:
        self._get(DEPLOYMENTS, namespace, deployment)
        return self._extras.setdefault((namespace, deployment), _DeploymentExtras())

    # -- the controller --------------------------------------------------------------------

    def _reconcile(self) -> None:
        """Play the Deployment and ReplicaSet controllers, the garbage collector and the HPA
        status writer until the store is settled. Callers hold the lock."""
        # A deployment whose object and children are as the last pass left them is settled
        # already (the controller is a pure function of them), so only the others are
        # played; they are found before any is changed, with one look at the store.
        # Only deployments a write touched can have changed, unless the store was filled
        # directly (the table sizes do not match what the writes account for).
        sizes = {r: len(self._store[r]) for r in (DEPLOYMENTS, REPLICASETS, PODS)}
        everything = any(self._sizes.get(r, 0) != n for r, n in sizes.items())
        if everything:
            self._sizes.update(sizes)
            self._collect = True
            candidates = self._items(DEPLOYMENTS, None)
        else:
            table = self._store[DEPLOYMENTS]
            candidates = [table[k] for k in sorted(self._dirty) if k in table]
        self._dirty.clear()
        unsettled = [
            dep for dep in candidates if self._settled.get(_key(dep)) != self._signature(dep)
        ]
        for dep in unsettled:
            self._reconcile_deployment(dep)
        for dep in unsettled:
            fresh = self._store[DEPLOYMENTS].get(_key(dep))
            if fresh is not None:
                self._settled[_key(dep)] = self._signature(fresh)
                self._dirty.discard(_key(dep))
        if self._collect:
            self._collect = False
            self._collect_garbage()
        for hpa in self._items(HPAS, None):
            self._update_hpa_status(hpa)

    def _collect_garbage(self) -> None:
        """Delete ReplicaSets and pods whose controlling owner is gone, owners first."""
        for resource in (REPLICASETS, PODS):
            owners: set[str | None] = {None}
            owners |= {_uid(o) for r in (DEPLOYMENTS, REPLICASETS) for o in self._store[r].values()}
            orphans = [o for o in self._store[resource].values() if _owner_uid(o) not in owners]
            for obj in sorted(orphans, key=lambda o: f"{_key(o)[0]}/{_key(o)[1]}"):
                self._delete(resource, obj)
        self._collect = False

    def _reconcile_deployment(self, dep: JSON) -> None:
        owned = self._children(REPLICASETS, dep)
        template = _without_hash(dep["spec"]["template"])
        current = next(
            (rs for rs in owned if _without_hash(rs["spec"]["template"]) == template), None
        )
        top = max(map(_revision, owned), default=0)
        if current is None:
            current = self._new_replicaset(dep, template, top + 1)
        elif _revision(current) < top:  # a rollback: the old ReplicaSet becomes the newest
            current = copy.deepcopy(current)
            notes = current["metadata"]["annotations"]
            history = [h for h in notes.get(f"{REVISION}-history", "").split(",") if h]
            notes[f"{REVISION}-history"] = ",".join([*history, notes[REVISION]])
            notes[REVISION] = str(top + 1)
            current = self._save(REPLICASETS, current)
        old = sorted((rs for rs in owned if _uid(rs) != _uid(current)), key=_revision)
        for rs in old:
            self._scale_replicaset(rs, 0, dep)
        current = self._scale_replicaset(current, int(dep["spec"].get("replicas", 1)), dep)
        for rs in old[: max(0, len(old) - int(dep["spec"].get("revisionHistoryLimit", 10)))]:
            self._delete(REPLICASETS, rs)
        self._update_deployment_status(self._store[DEPLOYMENTS][_key(dep)], current)

    def _new_replicaset(self, dep: JSON, template: JSON, revision: int) -> JSON:
        pod_hash = _safe_hash(json.dumps(template, sort_keys=True), 10)
        template = copy.deepcopy(template)
        template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = pod_hash
        selector = copy.deepcopy(dep["spec"]["selector"])
        selector.setdefault("matchLabels", {})[HASH_LABEL] = pod_hash
        replicas = int(dep["spec"].get("replicas", 1))
        notes = {
            DESIRED: str(replicas),
            "deployment.kubernetes.io/max-replicas": str(replicas + _rolling(dep, "maxSurge")),
            REVISION: str(revision),
        }
        meta = {
            "name": f"{dep['metadata']['name']}-{pod_hash}",
            "namespace": _key(dep)[0],
            "uid": str(uuid.uuid4()),
            "generation": 1,
            "creationTimestamp": _now(),
            "labels": dict(template["metadata"]["labels"]),
            "annotations": notes,
            "ownerReferences": [_owner_ref(dep)],
        }
        spec = {"replicas": 0, "selector": selector, "template": template}
        rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": meta, "spec": spec}
        return self._save(REPLICASETS, rs | {"status": {"replicas": 0}})

    def _scale_replicaset(self, rs: JSON, replicas: int, dep: JSON) -> JSON:
        rs = copy.deepcopy(rs)
        rs["spec"]["replicas"] = replicas
        if replicas:
            rs["metadata"]["annotations"][DESIRED] = str(replicas)
        pods = sorted(self._children(PODS, rs), key=self._serial_of)
        extras = self._extras.setdefault(_key(dep), _DeploymentExtras())
        pods += [self._new_pod(rs, dep, extras.new_pods_ready) for _ in range(len(pods), replicas)]
        doomed = sorted(pods, key=lambda p: (_pod_ready(p), -self._serial_of(p)))  # as the real
        for pod in doomed[: max(0, len(pods) - replicas)]:  # controller: unready first, then newest
            self._delete(PODS, pod)
            pods.remove(pod)
        ready = sum(map(_pod_ready, pods))
        status: JSON = {"replicas": len(pods)}
        status |= {"fullyLabeledReplicas": len(pods)} if pods else {}
        status |= {"readyReplicas": ready, "availableReplicas": ready} if ready else {}
        rs["status"] = status | {"observedGeneration": rs["metadata"]["generation"]}
        return self._save(REPLICASETS, rs)

    def _update_deployment_status(self, dep: JSON, current: JSON) -> None:
        dep, desired = copy.deepcopy(dep), int(dep["spec"].get("replicas", 1))
        pods = [p for rs in self._children(REPLICASETS, dep) for p in self._children(PODS, rs)]
        updated = [p for p in pods if _owner_uid(p) == _uid(current)]
        ready = sum(map(_pod_ready, pods))
        counts = {
            "replicas": len(pods),
            "updatedReplicas": len(updated),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "unavailableReplicas": max(0, desired - ready),
        }
        status: JSON = {"observedGeneration": dep["metadata"]["generation"]}
        status |= {k: v for k, v in counts.items() if v}
        old = {c["type"]: c for c in dep.get("status", {}).get("conditions", [])}
        name = current["metadata"]["name"]
        available = ready >= desired - _rolling(dep, "maxUnavailable")
        done = len(updated) == desired == len(pods) and all(map(_pod_ready, updated))
        status["conditions"] = [
            _condition(old.get("Available"), "Available", available,
                       "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
                       "Deployment has minimum availability." if available
                       else "Deployment does not have minimum availability."),
            _condition(old.get("Progressing"), "Progressing", True,
                       "NewReplicaSetAvailable" if done else "ReplicaSetUpdated",
                       f'ReplicaSet "{name}" has successfully progressed.' if done
                       else f'ReplicaSet "{name}" is progressing.'),
        ]  # fmt: skip
        dep["status"] = status
        dep["metadata"].setdefault("annotations", {})[REVISION] = str(_revision(current))
        self._save(DEPLOYMENTS, dep)

    def _update_hpa_status(self, hpa: JSON) -> None:
        """Status as the HPA controller computes it; this fake never scales on its own."""
        hpa, spec = copy.deepcopy(hpa), hpa["spec"]
        dep = self._store[DEPLOYMENTS].get((_key(hpa)[0], spec["scaleTargetRef"]["name"]))
        low, high = int(spec.get("minReplicas", 1)), int(spec["maxReplicas"])
        current = int(dep["status"].get("replicas", 0)) if dep else 0
        metric, wanted = (self._cpu_metric(dep) if dep else None), current
        targets = [
            m["resource"]["target"].get("averageUtilization")
            for m in spec.get("metrics", [])
            if m.get("type") == "Resource" and m["resource"].get("name") == "cpu"
        ]
        if metric and targets and targets[0]:
            ratio = metric["resource"]["current"].get("averageUtilization", 0) / targets[0]
            if abs(ratio - 1) > 0.1:  # the controller's default tolerance
                wanted = math.ceil(current * ratio)
        desired = min(max(wanted, low), high) if dep else 0
        status: JSON = {"currentReplicas": current} if current else {}
        status |= {"desiredReplicas": desired} | ({"currentMetrics": [metric]} if metric else {})
        limit = "" if low <= wanted <= high else "minimum" if wanted < low else "maximum"
        reasons = {"minimum": "TooFewReplicas", "maximum": "TooManyReplicas"}
        limited = (
            f"the desired replica count is {'less' if wanted < low else 'more'} than the {limit} "
            "replica count"
        )
        states = (
            ("AbleToScale", dep is not None, "ReadyForNewScale" if dep else "FailedGetScale",
             "recommended size matches current size" if dep else "the target was not found"),
            ("ScalingActive", metric is not None,
             "ValidMetricFound" if metric else "FailedGetResourceMetric",
             "the HPA was able to successfully calculate a replica count from cpu resource "
             "utilization (percentage of request)" if metric else "no metrics returned"),
            ("ScalingLimited", bool(limit),
             reasons.get(limit, "DesiredWithinRange"),
             limited if limit else "the desired count is within the acceptable range"),
        )  # fmt: skip
        old = {c["type"]: c for c in hpa.get("status", {}).get("conditions", [])}
        status["conditions"] = [
            _condition(old.get(kind), kind, ok, reason, message, with_update=False)
            for kind, ok, reason, message in states
        ]
        self._save(HPAS, hpa | {"status": status})

    def _cpu_metric(self, dep: JSON) -> JSON | None:
        pods = self._deployment_pods(*_key(dep))
        if not pods:
            return None
        requests = (
            c.get("resources", {}).get("requests", {})
            for c in dep["spec"]["template"]["spec"]["containers"]
        )
        request = sum(parse_quantity(r.get("cpu", "0")) for r in requests)
        used = [parse_quantity(self._usage_of(p)[0]) * len(p["spec"]["containers"]) for p in pods]
        usage = sum(used) / len(pods)
        current: JSON = {"averageValue": f"{round(usage * 1000)}m"}
        if request:
            current = {"averageUtilization": round(100 * usage / request)} | current
        return {"type": "Resource", "resource": {"name": "cpu", "current": current}}

    # -- pods and metrics ------------------------------------------------------------------

    def _new_pod(self, rs: JSON, dep: JSON, ready: bool) -> JSON:
        (namespace, rs_name), template = _key(rs), rs["spec"]["template"]
        self._serial += 1
        name = f"{rs_name}-{_safe_hash(f'{rs_name}/{self._serial}', 5)}"
        self._pod_info[(namespace, name)] = _PodInfo(self._serial, dep["metadata"]["name"])
        meta: JSON = {
            "name": name,
            "generateName": f"{rs_name}-",
            "namespace": namespace,
            "uid": str(uuid.uuid4()),
            "creationTimestamp": _now(),
            "labels": dict(template["metadata"].get("labels", {})),
            "ownerReferences": [_owner_ref(rs)],
        }
        if template["metadata"].get("annotations"):
            meta["annotations"] = dict(template["metadata"]["annotations"])
        spec: JSON = {"serviceAccountName": "default", "serviceAccount": "default"}
        spec |= copy.deepcopy(template["spec"]) | {"nodeName": "fake-node-1", "priority": 0}
        spec |= {"enableServiceLinks": True, "preemptionPolicy": "PreemptLowerPriority"}
        spec["serviceAccount"] = spec["serviceAccountName"]
        ip = f"10.244.{self._serial // 250 % 250}.{self._serial % 250 + 2}"
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
        self._set_pod_state(
            pod | {"status": {"startTime": meta["creationTimestamp"], "podIP": ip}}, ready=ready
        )
        return self._store[PODS][(namespace, name)]

    def _set_pod_state(
        self, pod: JSON, *, ready: bool, restarts: int | None = None, crashing: bool = False
    ) -> None:
        """Rewrite a pod's status as the kubelet would report it."""
        pod, now = copy.deepcopy(pod), _now()
        old, meta, containers = pod["status"], pod["metadata"], pod["spec"]["containers"]
        started = old["startTime"]
        old_counts = {c["name"]: c["restartCount"] for c in old.get("containerStatuses", [])}
        ok = ready and not crashing
        statuses = []
        for c in containers:
            count = old_counts.get(c["name"], 0) if restarts is None else restarts
            cid = (
                "containerd://"
                + hashlib.sha256(f"{meta['uid']}/{c['name']}/{count}".encode()).hexdigest()
            )
            state: JSON = {"running": {"startedAt": started}}
            last: JSON = {}
            if crashing:
                message = (f"back-off 5m0s restarting failed container={c['name']} "
                           f"pod={meta['name']}_{meta['namespace']}({meta['uid']})")  # fmt: skip
                state = {"waiting": {"reason": "CrashLoopBackOff", "message": message}}
                last = {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": started,
                                       "finishedAt": now, "containerID": cid}}  # fmt: skip
            image = c.get("image", "")
            repo = image if "/" in image.split(":")[0] else f"library/{image}"
            digest = hashlib.sha256(image.encode()).hexdigest()
            statuses.append({
                "containerID": cid, "image": f"docker.io/{repo}",
                "imageID": f"docker.io/{repo.split(':')[0]}@sha256:{digest}", "lastState": last,
                "name": c["name"], "ready": ok, "restartCount": count, "started": not crashing,
                "state": state,
            })  # fmt: skip
        names = " ".join(c["name"] for c in containers)
        unready = {"reason": "ContainersNotReady"}
        unready["message"] = f"containers with unready status: [{names}]"
        old_conditions = {c["type"]: c for c in old.get("conditions", [])}
        conditions = []
        for kind, good in (
            ("PodReadyToStartContainers", True), ("Initialized", True), ("Ready", ok),
            ("ContainersReady", ok), ("PodScheduled", True),
        ):  # fmt: skip
            value = "True" if good else "False"
            before = old_conditions.get(kind, {})
            since = before["lastTransitionTime"] if before.get("status") == value else now
            condition = {
                "type": kind,
                "status": value,
                "lastProbeTime": None,
                "lastTransitionTime": since,
            }
            conditions.append(condition | (unready if value == "False" else {}))
        pod["status"] = {
            "phase": "Running",
            "conditions": conditions,
            "hostIP": "172.18.0.2",
            "hostIPs": [{"ip": "172.18.0.2"}],
            "podIP": old["podIP"],
            "podIPs": [{"ip": old["podIP"]}],
            "startTime": started,
            "containerStatuses": statuses,
            "qosClass": _qos_class(containers),
        }
        self._save(PODS, pod)

    def _usage_of(self, pod: JSON) -> tuple[str, str]:
        info = self._pod_info.get(_key(pod))
        if info is not None and info.usage is not None:
            return info.usage
        extras = self._extras.get((_key(pod)[0], info.deployment if info else ""))
        return (extras.cpu, extras.memory) if extras else ("0", "0")

    def _pod_metrics(self, pod: JSON) -> JSON:
        cpu, memory = self._usage_of(pod)
        meta = {k: pod["metadata"][k] for k in ("name", "namespace")}
        meta |= {"creationTimestamp": _now(), "labels": dict(pod["metadata"].get("labels", {}))}
        usage = [
            {"name": c["name"], "usage": {"cpu": cpu, "memory": memory}}
            for c in pod["spec"]["containers"]
        ]
        return {
            "kind": "PodMetrics",
            "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": meta,
            "timestamp": _now(),
            "window": "30s",
            "containers": usage,
        }

    # -- requests --------------------------------------------------------------------------

    def _handle(
        self, method: str, raw_path: str, headers: dict[str, str], raw_body: bytes
    ) -> tuple[int, JSON, dict[str, str]]:
        """Log and answer one request: (status code, JSON body, extra headers)."""
        parsed = urllib.parse.urlsplit(raw_path)
        path = parsed.path.rstrip("/") or "/"
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query).items()}
        content_type = headers.get("content-type", "").split(";")[0].strip()
        body: Any = raw_body
        with contextlib.suppress(ValueError, IndexError, KeyError):
            if content_type == "application/vnd.kubernetes.protobuf":
                body = _decode_review(raw_body)  # kubectl auth can-i speaks protobuf
            elif raw_body and "yaml" not in content_type:
                body = json.loads(raw_body)
        record = RecordedRequest(method, path, query, 0, content_type, body)
        with self._lock:
            self._log.append(record)
            delays = [rule.seconds for rule in self._delays if rule.take(method, path)]
        for seconds in delays:
            self._stopped.wait(seconds)
        started = time.perf_counter()
        try:
            code, answer, extra = 200, self._answer(method, path, query, headers, body), {}
            if method == "POST" and isinstance(answer, dict) and answer.get("kind") != "Status":
                code = 201
        except ApiError as error:
            code, answer, extra = error.code, error.body, error.headers
        except Exception as exc:  # a bug in the fake: say so as the API server would
            message = f"Internal error occurred: {exc!r}: {traceback.format_exc(limit=3)}"
            code, answer, extra = 500, status_body(500, "InternalError", message), {}
        record.status = code
        with self._lock:
            self.busy_seconds += time.perf_counter() - started
            actions = [action for rule, action in self._afters if rule.take(method, path)]
        for action in actions:
            action(self)
        return code, answer, extra

    def _answer(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any
    ) -> JSON | Encoded:
        target = parse_target(method, path, query)
        with self._lock:
            fault = next((rule for rule in self._faults if rule.take(method, path)), None)
        if fault is not None:
            raise self._error(fault.status, target, fault.message)
        if self.required_token is not None:
            scheme, _, token = headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or token.strip() != self.required_token:
                raise self._error(401, target)
        if not target.resource_request:
            return self._discovery(path)
        if not self.is_allowed(target.verb, target.group, target.rbac_resource, target.namespace):
            raise self._error(403, target)
        if (method, target.group, target.plural) == ("GET", "", "namespaces") and target.name:
            return self._namespace(target)
        if target.resource is None or target.subresource not in ("", "status", "scale"):
            raise self._error(404, target, _NO_RESOURCE)
        if target.verb not in target.resource.verbs or target.verb == "watch":
            raise self._error(405, target, f"{target.verb} is not supported by this fake")
        with self._lock:
            return self._serve(target, query, body, headers.get("content-type", ""))

    def _namespace(self, target: Target) -> JSON:
        """A namespace, as GET /api/v1/namespaces/NAME answers: only kube-system exists, with
        the UID the server was given (the namespaces of deployments are not objects here)."""
        if target.name != "kube-system" or target.subresource:
            raise self._error(404, target)
        metadata = {
            "name": "kube-system",
            "uid": self.cluster_uid,
            "resourceVersion": "4",
            "creationTimestamp": "2025-01-01T00:00:00Z",
            "labels": {"kubernetes.io/metadata.name": "kube-system"},
        }
        return {
            "kind": "Namespace",
            "apiVersion": "v1",
            "metadata": metadata,
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        }

    def _error(self, code: int, target: Target, message: str | None = None) -> ApiError:
        """The error the real API server sends with ``code`` for this request."""
        text = _REASONS.get(code, _REASONS[500])[1]
        named = f'{target.qualified} "{target.name}"' if target.name else target.qualified
        if code == 403 and target.resource_request:
            where = (
                f'in the namespace "{target.namespace}"'
                if target.namespace
                else "at the cluster scope"
            )
            text = (f'{named} is forbidden: User "{self.user}" cannot {target.verb} resource '
                    f'"{target.rbac_resource}" in API group "{target.group}" {where}')  # fmt: skip
        elif code == 403:
            text = f'forbidden: User "{self.user}" cannot {target.verb} path "{target.path}"'
        elif code == 404:
            text = f"{named} not found" if target.name else _NO_RESOURCE
        elif code == 409:
            text = _CONFLICT.format(gr=target.qualified, name=target.name)
        elif code == 422:
            text = f"{named} is invalid"
        details = target.details() if target.resource_request and code != 401 else None
        headers = {"Retry-After": "1"} if code == 429 else {}
        if code == 429:
            details = (details or {}) | {"retryAfterSeconds": 1}
        elif code in (500, 502):
            details = (details or {}) | {"causes": [{"message": message or "injected failure"}]}
        return ApiError(code, message or text, details, headers)

    def _serve(
        self, target: Target, query: dict[str, str], body: Any, content_type: str
    ) -> JSON | Encoded:
        resource, verb, ns, name = target.resource, target.verb, target.namespace, target.name
        assert resource is not None
        dry_run = "dryRun" in query
        if resource is SSAR:
            return self._review(body)
        if verb == "list":
            return self._list(resource, ns or None, query)
        if verb == "create":
            _check_body(body, resource, ns)
            return body if dry_run else self._create(resource, ns, copy.deepcopy(body))
        current = self._get(resource, ns, name)
        scale = target.subresource == "scale"
        shown = _scale_of(current) if scale else current
        if verb == "get":
            return copy.deepcopy(shown)
        if verb == "delete":
            return self._delete_request(resource, current, dry_run)
        if verb == "update":
            _check_body(body, None if scale else resource, ns, name)
            new = copy.deepcopy(body)
            if not scale and not new["metadata"].get("resourceVersion"):
                message = (f'{resource.kind_group} "{name}" is invalid: metadata.resourceVersion: '
                           "Invalid value: 0x0: must be specified for an update")  # fmt: skip
                raise ApiError(422, message, target.details())
        else:
            new = _patch(shown, body, content_type, query, target)
        current_rv = current["metadata"]["resourceVersion"]
        if (new.get("metadata", {}).get("resourceVersion") or current_rv) != current_rv:
            raise self._error(409, target)
        if scale:
            replicas = new.get("spec", {}).get("replicas")
            if not isinstance(replicas, int) or replicas < 0:
                message = (f'Scale.autoscaling "{name}" is invalid: spec.replicas: Invalid value: '
                           f"{replicas!r}: must be greater than or equal to 0")  # fmt: skip
                raise ApiError(422, message, target.details())
            new = copy.deepcopy(current)
            new["spec"]["replicas"] = replicas
        saved = self._write(resource, current, new, target, dry_run)
        return _scale_of(saved) if scale else saved

    def _write(
        self, resource: Resource, current: JSON, new: JSON, target: Target, dry_run: bool
    ) -> JSON:
        """Store an updated object (PUT or PATCH) the way the API server would."""
        new = {k: _drop_nulls(v) if k in ("metadata", "spec") else v for k, v in new.items()}
        _check_body(new, None, target.namespace, target.name)
        for field in _SERVER_FIELDS:
            if field in current["metadata"]:
                new["metadata"][field] = current["metadata"][field]
        new |= {"apiVersion": resource.api_version, "kind": resource.kind}
        if target.subresource == "status":  # /status writes status only; the rest never does
            new = copy.deepcopy(current) | {"status": new.get("status", {})}
        elif "status" in current:
            new["status"] = copy.deepcopy(current["status"])
        _apply_defaults(resource, new)
        if dry_run:
            return new
        saved = copy.deepcopy(self._save(resource, new))
        self._reconcile()
        return saved

    def _delete_request(self, resource: Resource, current: JSON, dry_run: bool) -> JSON:
        deleted = copy.deepcopy(current)
        if not dry_run:
            self._delete(resource, current)
            self._reconcile()
        if resource is PODS:  # pods answer with the object, now terminating
            deleted["metadata"] |= {"deletionTimestamp": _now(), "deletionGracePeriodSeconds": 30}
            return deleted
        details = _details(resource.group, resource.plural, current["metadata"]["name"])
        details["uid"] = _uid(current)
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": details,
        }

    def _list(self, resource: Resource, namespace: str | None, query: dict[str, str]) -> Encoded:
        items = self._items(resource, namespace)
        if query.get("labelSelector"):
            try:
                wanted = parse_selector(query["labelSelector"])
            except ValueError as exc:
                raise ApiError(400, str(exc)) from exc
            items = [o for o in items if selector_matches(wanted, o["metadata"].get("labels", {}))]
        if query.get("fieldSelector"):
            items = [o for o in items if _fields_match(query["fieldSelector"], o)]
        meta: JSON = {"resourceVersion": str(self._rv)}
        if query.get("continue"):
            try:
                token = json.loads(base64.urlsafe_b64decode(query["continue"]))
                start, meta["resourceVersion"] = str(token["start"]), str(token["rv"])
            except (ValueError, KeyError, TypeError, binascii.Error) as exc:
                raise ApiError(400, _BAD_CONTINUE) from exc
            if int(token["rv"]) < self._compacted:
                raise ApiError(410, _EXPIRED_CONTINUE, reason="Expired")
            items = [o for o in items if "/".join(_key(o)) >= start]
        limit = int(query.get("limit") or 0)
        if 0 < limit < len(items):
            last = "/".join(_key(items[limit - 1])) + "\x00"
            token = {"v": "meta.k8s.io/v1", "rv": int(meta["resourceVersion"]), "start": last}
            meta["continue"] = base64.urlsafe_b64encode(json.dumps(token).encode()).decode()
            meta["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        kind = {"kind": f"{resource.kind}List", "apiVersion": resource.api_version}
        stripped = [{k: v for k, v in o.items() if k not in kind} for o in items]
        # Encoded here, under the store's lock, so that later writes cannot reach the answer,
        # and once: a copy first and the answer's encoding after was three passes over a
        # thousand objects for every page.
        answer = kind | {"metadata": meta, "items": stripped}  # items carry no kind, as for real
        return Encoded(json.dumps(answer, separators=(",", ":")).encode())

    def _review(self, body: Any) -> JSON:
        spec = body.get("spec", {}) if isinstance(body, dict) else {}
        allowed = True
        if (attrs := spec.get("resourceAttributes")) is not None:
            resource = attrs.get("resource", "")
            resource += f"/{attrs['subresource']}" if attrs.get("subresource") else ""
            allowed = self.is_allowed(
                attrs.get("verb", ""), attrs.get("group", ""), resource, attrs.get("namespace")
            )
        status: JSON = {"allowed": allowed}
        if allowed:
            status["reason"] = 'RBAC: allowed by RoleBinding "reconciler" of ClusterRole "edit"'
        review = {"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1"}
        return review | {"metadata": {}, "spec": spec, "status": status}

    def _discovery(self, path: str) -> JSON:
        parts = path.strip("/").split("/")
        if path == "/version":
            major, minor = self.git_version.lstrip("v").split(".")[:2]
            return {
                "major": major, "minor": minor, "emulationMajor": major, "emulationMinor": minor,
                "minCompatibilityMajor": major, "minCompatibilityMinor": str(int(minor) - 1),
                "gitVersion": self.git_version, "gitCommit": _safe_hash(self.git_version, 40),
                "gitTreeState": "clean", "buildDate": "2025-04-22T15:56:12Z",
                "goVersion": "go1.23.8", "compiler": "gc", "platform": "linux/amd64",
            }  # fmt: skip
        if path == "/api":
            cidr = {"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{self.server_port}"}
            return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [cidr]}
        if path == "/apis":
            return {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [_group(g) for g in _GROUPS],
            }
        if parts[0] == "apis" and len(parts) == 2 and parts[1] in _GROUPS:
            return {"kind": "APIGroup", "apiVersion": "v1"} | _group(parts[1])
        group, version = ("", parts[-1]) if parts[0] == "api" else (parts[1], parts[-1])
        resources = [r for r in RESOURCES if (r.group, r.version) == (group, version)]
        if not resources or len(parts) != (2 if parts[0] == "api" else 3):
            raise ApiError(404, _NO_RESOURCE, {})
        listing: JSON = {"kind": "APIResourceList"} | ({"apiVersion": "v1"} if group else {})
        resource_list = [entry for r in resources for entry in _api_resources(r)]
        return listing | {"groupVersion": resources[0].api_version, "resources": resource_list}


# -- module helpers ----------------------------------------------------------------------------


def parse_target(method: str, path: str, query: dict[str, str]) -> Target:
    """The authorization attributes the API server derives from a request."""
    parts = [p for p in path.split("/") if p]
    verbs = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
    target = Target(method, path, verbs.get(method, method.lower()))
    if len(parts) < 3 or parts[0] not in ("api", "apis") or (parts[0] == "apis" and len(parts) < 4):
        return target
    group, version, rest = (
        ("", parts[1], parts[2:]) if parts[0] == "api" else (parts[1], parts[2], parts[3:])
    )
    if rest[0] == "namespaces" and len(rest) >= 3:
        target.namespace, rest = rest[1], rest[2:]
    target.resource_request, target.group, target.plural = True, group, rest[0]
    target.name = rest[1] if len(rest) > 1 else ""
    target.subresource = "/".join(rest[2:])
    target.resource = _BY_PATH.get((group, version, target.plural))
    if not target.name and method == "GET":
        target.verb = "watch" if query.get("watch") in ("1", "true") else "list"
    elif not target.name and method == "DELETE":
        target.verb = "deletecollection"
    return target


def _group(name: str) -> JSON:
    version = next(r.version for r in RESOURCES if r.group == name)
    entry = {"groupVersion": f"{name}/{version}", "version": version}
    return {"name": name, "versions": [entry], "preferredVersion": entry}


def _api_resources(resource: Resource) -> list[JSON]:
    main: JSON = {"name": resource.plural, "singularName": resource.kind.lower()}
    main |= {
        "namespaced": resource.namespaced,
        "kind": resource.kind,
        "verbs": list(resource.verbs),
    }
    if resource.short_names:
        main["shortNames"] = list(resource.short_names)
    if resource.stored and resource is not EVENTS:
        main["categories"] = ["all"]
        main["storageVersionHash"] = _safe_hash(resource.group_resource, 11) + "="
    entries = [main]
    for sub, kind, group_version in resource.subresources:
        entry: JSON = {"name": f"{resource.plural}/{sub}", "singularName": "", "namespaced": True}
        if group_version:
            entry["group"], entry["version"] = group_version.split("/")
        entries.append(entry | {"kind": kind, "verbs": ["get", "patch", "update"]})
    return entries


def _check_event(event: JSON, namespace: str) -> None:
    """The API server's checks of a core/v1 Event: it must be about an object in its own
    namespace, of a known type, with a message of at most 1 kB (``noteLengthLimit``)."""
    name = event["metadata"]["name"]
    involved = event.get("involvedObject") or {}
    problems = []
    if involved.get("namespace", namespace) != namespace:
        problems.append(
            f"involvedObject.namespace: Invalid value: {involved['namespace']!r}: does not match "
            "event.namespace"
        )
    if event.get("type", "Normal") not in ("Normal", "Warning"):
        problems.append(
            f'type: Unsupported value: {event["type"]!r}: supported values: "Normal", "Warning"'
        )
    if len(event.get("message") or "") > 1024:
        problems.append("message: Too long: may not be more than 1024 bytes")
    if problems:
        raise ApiError(422, f'Event "{name}" is invalid: {", ".join(problems)}')


def _check_body(body: Any, resource: Resource | None, namespace: str, name: str = "") -> None:
    """The API server's checks of a written object against its URL."""
    if not isinstance(body, dict) or not isinstance(body.setdefault("metadata", {}), dict):
        raise ApiError(400, _UNKNOWN_FORMAT)
    meta, message = body["metadata"], ""
    if meta.get("namespace") and namespace and meta["namespace"] != namespace:
        message = (
            "the namespace of the provided object does not match the namespace sent on the request"
        )
    if resource is not None and body.get("kind") not in (None, resource.kind):
        message = (
            f'{resource.kind} in version "{resource.version}" cannot be handled as a {body["kind"]}'
        )
    if name and meta.get("name", name) != name:
        message = (
            f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
        )
    if message:
        raise ApiError(400, message)


def _patch(
    current: JSON, body: Any, content_type: str, query: dict[str, str], target: Target
) -> JSON:
    """Apply a PATCH body of any of the four patch types."""
    kind = _PATCH_TYPES.get(content_type.split(";", maxsplit=1)[0].strip())
    if kind is None:
        raise ApiError(
            415, f"{_UNKNOWN_FORMAT} - accepted media types include: {', '.join(_PATCH_TYPES)}"
        )
    if kind == "apply":
        if not query.get("fieldManager"):
            raise ApiError(422, _NO_FIELD_MANAGER)
        import yaml

        body = yaml.safe_load(body) if isinstance(body, bytes | str) else body
    if kind == "json" and isinstance(body, list):
        try:
            return json_patch(current, body)
        except ValueError as exc:
            raise ApiError(422, str(exc), target.details()) from exc
    if kind == "json" or not isinstance(body, dict):
        raise ApiError(400, _UNKNOWN_FORMAT)
    return dict(merge_patch(current, body, strategic=kind != "merge"))


def _proto_fields(data: bytes) -> dict[int, Any]:
    """The fields of one protobuf message (wire format), by number; the last value wins."""
    fields: dict[int, Any] = {}
    pos = 0

    def varint() -> int:
        nonlocal pos
        value = shift = 0
        while True:
            byte = data[pos]
            pos, value, shift = pos + 1, value | (byte & 0x7F) << shift, shift + 7
            if byte < 0x80:
                return value

    while pos < len(data):
        key = varint()
        if key & 7 == 0:
            fields[key >> 3] = varint()
        elif key & 7 == 2:
            length = varint()
            fields[key >> 3], pos = data[pos : pos + length], pos + length
        else:  # fixed 64 or 32 bits; nothing used here
            pos += 8 if key & 7 == 1 else 4
    return fields


def _decode_review(raw: bytes) -> JSON:
    """A protobuf SelfSubjectAccessReview (k8s envelope, runtime.Unknown) as its JSON spec."""
    review = _proto_fields(_proto_fields(raw.removeprefix(b"k8s\x00"))[2])
    spec, out = _proto_fields(review.get(2, b"")), {}
    names = {"resourceAttributes": ("namespace", "verb", "group", "version", "resource"),
             "nonResourceAttributes": ("path", "verb")}  # fmt: skip
    names["resourceAttributes"] += ("subresource", "name")
    for number, (section, keys) in enumerate(names.items(), 1):
        if number in spec:
            attrs = _proto_fields(spec[number])
            out[section] = {k: attrs[i].decode() for i, k in enumerate(keys, 1) if attrs.get(i)}
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": out}


def _scale_of(obj: JSON) -> JSON:
    """The autoscaling/v1 Scale of a Deployment or ReplicaSet."""
    meta = {
        k: obj["metadata"][k]
        for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
    }
    labels = obj["spec"].get("selector", {}).get("matchLabels", {})
    selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": meta,
        "spec": {"replicas": obj["spec"].get("replicas", 1)},
        "status": {"replicas": obj.get("status", {}).get("replicas", 0), "selector": selector},
    }


def _owner_ref(owner: JSON) -> JSON:
    ref = {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
    }
    return ref | {"uid": _uid(owner), "controller": True, "blockOwnerDeletion": True}


def _condition(
    old: JSON | None, kind: str, ok: bool, reason: str, message: str, with_update: bool = True
) -> JSON:
    """A condition, keeping its timestamps when nothing about it changed."""
    status, now = ("True" if ok else "False"), _now()
    if old and (old["status"], old.get("reason"), old.get("message")) == (status, reason, message):
        return old
    since = old["lastTransitionTime"] if old and old["status"] == status else now
    out = {"type": kind, "status": status} | ({"lastUpdateTime": now} if with_update else {})
    return out | {"lastTransitionTime": since, "reason": reason, "message": message}


def _rolling(dep: JSON, field: str) -> int:
    """maxSurge (rounded up) or maxUnavailable (rounded down) of a deployment, in pods."""
    value = dep["spec"].get("strategy", {}).get("rollingUpdate", {}).get(field, "25%")
    if isinstance(value, str) and value.endswith("%"):
        exact = int(dep["spec"].get("replicas", 1)) * int(value[:-1]) / 100
        return int(-(-exact // 1)) if field == "maxSurge" else int(exact)
    return int(value)


def _qos_class(containers: list[JSON]) -> str:
    sections = [c.get("resources", {}) for c in containers]
    if not any(s.get("requests") or s.get("limits") for s in sections):
        return "BestEffort"
    guaranteed = all(
        kind in s.get("limits", {})
        and s.get("requests", {}).get(kind, s["limits"][kind]) == s["limits"][kind]
        for s in sections
        for kind in ("cpu", "memory")
    )
    return "Guaranteed" if guaranteed else "Burstable"


def _apply_defaults(resource: Resource, obj: JSON) -> None:
    """The API server's defaulting, for the fields tests see (idempotent)."""
    spec = obj.setdefault("spec", {})
    if resource is HPAS:
        spec.setdefault("behavior", {
            "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
                {"type": "Pods", "value": 4, "periodSeconds": 15},
                {"type": "Percent", "value": 100, "periodSeconds": 15}]},
            "scaleDown": {"stabilizationWindowSeconds": 300, "selectPolicy": "Max", "policies": [
                {"type": "Percent", "value": 100, "periodSeconds": 15}]},
        })  # fmt: skip
    if resource is not DEPLOYMENTS:
        return
    for field, number in {"replicas": 1, "revisionHistoryLimit": 10}.items():
        spec.setdefault(field, number)
    spec.setdefault("progressDeadlineSeconds", 600)
    strategy = spec.setdefault("strategy", {"type": "RollingUpdate"})
    if strategy.get("type") == "RollingUpdate":
        strategy.setdefault("rollingUpdate", {"maxUnavailable": "25%", "maxSurge": "25%"})
    spec.setdefault("template", {}).setdefault("metadata", {})
    pod_spec = spec["template"].setdefault("spec", {})
    pod_defaults: JSON = {"restartPolicy": "Always", "terminationGracePeriodSeconds": 30}
    pod_defaults |= {"dnsPolicy": "ClusterFirst", "securityContext": {}}
    for field, value in (pod_defaults | {"schedulerName": "default-scheduler"}).items():
        pod_spec.setdefault(field, value)
    for container in pod_spec.setdefault("containers", []):
        image = str(container.get("image", ""))
        latest = ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")
        container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
        container.setdefault("resources", {})
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")


def _tls_context() -> tuple[ssl.SSLContext, bytes]:
    """A server context with a fresh self-signed certificate for 127.0.0.1 and localhost."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-kube-apiserver")])
    now, ski = datetime.now(UTC), x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    sans = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    usage = x509.KeyUsage(True, False, False, False, False, True, False, False, False)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(usage, critical=True).add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as tmp:  # load_cert_chain reads only files
        (Path(tmp) / "tls.crt").write_bytes(cert_pem)
        (Path(tmp) / "tls.key").write_bytes(key_pem)
        context.load_cert_chain(Path(tmp) / "tls.crt", Path(tmp) / "tls.key")
    return context, cert_pem


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every answer has a Content-Length
    disable_nagle_algorithm = True
    server: FakeKubeAPI

    def setup(self) -> None:
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.settimeout(10)
            self.connection.do_handshake()
            self.connection.settimeout(None)

    def _respond(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        code, body, extra = self.server._handle(self.command, self.path, headers, raw_body)
        if isinstance(body, Encoded):
            data = body.data
        else:
            data = json.dumps(body, separators=(",", ":")).encode()
        try:
            self.send_response(code)
            headers = {"Content-Type": "application/json", "Cache-Control": "no-cache, private"}
            for name, value in (headers | {"Audit-Id": str(uuid.uuid4())} | extra).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up (a timeout): nothing to tell it
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _respond

    def log_message(self, format: str, *args: Any) -> None:
        """No access log on stderr: ``FakeKubeAPI.requests`` has it."""
