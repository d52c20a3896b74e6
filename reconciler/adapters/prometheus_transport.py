"""Reaching Prometheus as it is really run: behind authentication, TLS, tenants and proxies.

The HTTP side of `PrometheusMetrics`, on urllib3: `PrometheusAccess` says how to connect,
`Transport` checks it once and opens a `Session` (one keep-alive connection) per call.
Secrets come from the environment or files and are never shown; files are re-read per
session; failures that every later request would repeat raise `CallFailed` with a code the
doctor has a fix for (`prometheus_failures`). The settings themselves are
`prometheus_access`'s. The reasons are in docs/architecture.md.
"""

from __future__ import annotations

import base64
import re
import ssl
import urllib.parse
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

import urllib3
from urllib3.exceptions import HTTPError

from reconciler.adapters.prometheus_access import (
    Credential,
    Endpoint,
    PrometheusAccess,
    Proxies,
    without_userinfo,
)
from reconciler.adapters.prometheus_failures import (
    CallFailed,
    RequestFailed,
    call_failure,
    dropped,
    reason,
    root,
)
from reconciler.core.errors import ConfigError
from reconciler.core.observed.reachability import Failure

__all__ = [
    "MAX_BODY",
    "CallFailed",
    "Credential",
    "Endpoint",
    "PrometheusAccess",
    "Proxies",
    "RequestFailed",
    "Session",
    "Transport",
]

#: Answers larger than this are refused: a metric query returns one series (a batched one,
#: one per deployment).
MAX_BODY = 8 * 1024 * 1024

#: Header names the transport sets itself; a user's header may not replace them.
_RESERVED_HEADERS = frozenset(
    {"host", "content-length", "content-type", "transfer-encoding", "connection"}
)
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
#: Shorter secrets are not searched for in messages: replacing every "ab" would garble them.
_REDACT_MIN = 4


@dataclass(frozen=True)
class _Proxy:
    url: str
    display: str
    variable: str
    headers: Mapping[str, str] = field(repr=False)
    secrets: tuple[str, ...] = field(repr=False)


class Transport:
    """The checked connection settings for one Prometheus; opens a `Session` per call."""

    def __init__(
        self,
        endpoint: Endpoint,
        access: PrometheusAccess,
        *,
        timeout: float,
        connect_timeout: float,
    ) -> None:
        self.endpoint = endpoint
        self.access = access
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._check(access)
        self.proxy = self._proxy(access.proxies)

    def _check(self, access: PrometheusAccess) -> None:
        url_auth = bool(self.endpoint.user or self.endpoint.password)
        if access.token is not None and (access.user or access.password or url_auth):
            raise ConfigError(
                "Prometheus: both a bearer token and basic auth are configured",
                hint="give either the token or the user and password, not both",
            )
        if url_auth and (access.user or access.password):
            raise ConfigError(
                "Prometheus: basic auth is given both in the URL and as user and password",
                hint="remove `user:password@` from the URL (preferred) or the separate settings",
            )
        if bool(access.user) != (access.password is not None):
            missing = "password" if access.user else "user"
            raise ConfigError(
                f"Prometheus basic auth needs a user and a password; the {missing} is missing"
            )
        if access.key_file is not None and access.cert_file is None:
            raise ConfigError(
                "Prometheus: a client key without a client certificate",
                hint="give the certificate too (or drop the key)",
            )
        authorized = url_auth or access.token is not None or bool(access.user)
        for name, value in access.headers:
            if not _TOKEN.match(name):
                raise ConfigError(f"Prometheus header name {name!r} is not a valid header name")
            if any(char in value for char in "\r\n\0"):
                raise ConfigError(f"Prometheus header {name}: the value contains a line break")
            if name.lower() in _RESERVED_HEADERS:
                raise ConfigError(f"Prometheus header {name} is set by the reconciler itself")
            if name.lower() == "authorization" and authorized:
                raise ConfigError(
                    "Prometheus: an Authorization header and a token or basic auth are both "
                    "configured",
                    hint="keep one of them",
                )

    def _proxy(self, proxies: Proxies) -> _Proxy | None:
        url, variable = proxies.for_url(
            self.endpoint.scheme, self.endpoint.host, self.endpoint.port
        )
        if not url:
            return None
        if "://" not in url:
            url = f"http://{url}"  # as curl and Go read `proxy:3128`
        parts = urllib.parse.urlsplit(url)
        shown = without_userinfo(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"{variable} {shown!r} is not an http(s) proxy URL",
                hint="for example http://proxy.example.com:3128 (SOCKS proxies are not supported)",
            )
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as error:
            raise ConfigError(f"{variable} {shown!r}: {error}") from error
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        headers: dict[str, str] = {}
        secrets: tuple[str, ...] = ()
        if parts.username or parts.password:
            user = urllib.parse.unquote(parts.username or "")
            password = urllib.parse.unquote(parts.password or "")
            encoded = base64.b64encode(f"{user}:{password}".encode()).decode()
            headers["Proxy-Authorization"] = f"Basic {encoded}"
            secrets = (password, encoded)
        return _Proxy(
            url=f"{parts.scheme}://{host}:{port}",
            display=f"{parts.scheme}://{host}:{port}",
            variable=variable,
            headers=headers,
            secrets=secrets,
        )

    def describe(self) -> str:
        """The settings in use, without a secret: for `reconciler doctor`."""
        access = self.access
        parts = []
        if access.token is not None:
            parts.append(f"bearer token {access.token.describe()}")
        if access.user and access.password is not None:
            parts.append(f"basic auth as {access.user}, password {access.password.describe()}")
        if self.endpoint.user or self.endpoint.password:
            parts.append("basic auth from the URL")
        if access.headers:
            parts.append("headers " + ", ".join(name for name, _ in access.headers))
        if access.ca_file is not None:
            parts.append(f"CA file {access.ca_file}")
        if access.cert_file is not None:
            parts.append(f"client certificate {access.cert_file}")
        if self.proxy is not None:
            parts.append(f"through the proxy {self.proxy.display} ({self.proxy.variable})")
        return "; ".join(parts)

    def redact(self, text: str, extra: tuple[str, ...] = ()) -> str:
        """`text` with every configured secret replaced by `***`."""
        secrets = [*extra, self.endpoint.password, *(v for _, v in self.access.headers)]
        if self.access.token is not None and self.access.token.file is None:
            secrets.append(self.access.token.value)
        if self.access.password is not None and self.access.password.file is None:
            secrets.append(self.access.password.value)
        if self.proxy is not None:
            secrets.extend(self.proxy.secrets)
        for secret in sorted(set(secrets), key=len, reverse=True):
            if len(secret) >= _REDACT_MIN:
                text = text.replace(secret, "***")
        return text

    @contextmanager
    def session(self) -> Iterator[Session]:
        session = Session(self)
        try:
            yield session
        finally:
            session.close()


class Session:
    """One keep-alive connection for the requests of one call, reopened when dropped.

    Credentials and certificates are read when the session opens (see the module docstring).
    """

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self._manager: urllib3.PoolManager | None = None
        self._headers: dict[str, str] = {}
        self._secrets: tuple[str, ...] = ()
        self._answered = False

    def close(self) -> None:
        if self._manager is not None:
            self._manager.clear()
            self._manager = None

    def _open(self) -> urllib3.PoolManager:
        if self._manager is not None:
            return self._manager
        transport = self.transport
        access = transport.access
        endpoint = transport.endpoint
        headers = {"Accept": "application/json", "User-Agent": "reconciler"}
        secrets: list[str] = []
        if access.token is not None:
            token = access.token.read("bearer token")
            headers["Authorization"] = f"Bearer {token}"
            secrets.append(token)
        user, password = endpoint.user, endpoint.password
        if access.password is not None:
            user, password = access.user, access.password.read("password")
        if user or password:
            encoded = base64.b64encode(f"{user}:{password}".encode()).decode()
            headers["Authorization"] = f"Basic {encoded}"
            secrets += [password, encoded]
        headers.update(access.headers)
        self._headers = headers
        self._secrets = tuple(secrets)
        options: dict[str, object] = {
            "num_pools": 1,
            "maxsize": 1,
            "retries": False,
            "timeout": urllib3.Timeout(connect=transport.connect_timeout, read=transport.timeout),
        }
        if endpoint.scheme == "https":
            options["ssl_context"] = self._tls_context()
        proxy = transport.proxy
        manager: urllib3.PoolManager
        if proxy is None:
            manager = urllib3.PoolManager(**options)  # type: ignore[arg-type]
        else:
            manager = urllib3.ProxyManager(
                proxy.url,
                proxy_headers=dict(proxy.headers),
                **options,  # type: ignore[arg-type]
            )
        self._manager = manager
        return manager

    def _tls_context(self) -> ssl.SSLContext:
        access = self.transport.access
        try:
            context = ssl.create_default_context(
                cafile=str(access.ca_file) if access.ca_file else None
            )
        except (OSError, ssl.SSLError) as error:
            raise CallFailed(
                f"cannot load the CA file {access.ca_file}: {reason(error)}",
                failure=Failure.SETTINGS,
            ) from error
        if access.cert_file is not None:
            try:
                context.load_cert_chain(
                    str(access.cert_file), str(access.key_file) if access.key_file else None
                )
            except (OSError, ssl.SSLError) as error:
                key = f" and key {access.key_file}" if access.key_file else ""
                raise CallFailed(
                    f"cannot load the client certificate {access.cert_file}{key}: {reason(error)}",
                    failure=Failure.SETTINGS,
                ) from error
        return context

    def redact(self, text: str) -> str:
        return self.transport.redact(text, self._secrets)

    # What a failure's message depends on (prometheus_failures.Reaching).

    @property
    def display(self) -> str:
        return self.transport.endpoint.display

    @property
    def proxy(self) -> _Proxy | None:
        return self.transport.proxy

    @property
    def connect_timeout(self) -> float:
        return self.transport.connect_timeout

    @property
    def timeout(self) -> float:
        return self.transport.timeout

    @property
    def tls(self) -> bool:
        return self.transport.endpoint.scheme == "https"

    @property
    def answered(self) -> bool:
        return self._answered

    def request(
        self, method: str, path: str, fields: Mapping[str, str] | None = None
    ) -> tuple[int, bytes]:
        """Send one request; returns (status, body). Raises CallFailed or RequestFailed."""
        manager = self._open()
        endpoint = self.transport.endpoint
        host = f"[{endpoint.host}]" if ":" in endpoint.host else endpoint.host
        url = f"{endpoint.scheme}://{host}:{endpoint.port}{endpoint.prefix}{path}"
        headers = dict(self._headers)
        body: bytes | None = None
        if fields is not None and method == "POST":
            body = urllib.parse.urlencode(fields).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif fields is not None:
            url += "?" + urllib.parse.urlencode(fields)
        for attempt in (1, 2):
            try:
                response = manager.request(
                    method,
                    url,
                    body=body,
                    headers=headers,
                    preload_content=False,
                    redirect=False,
                    retries=False,
                )
                try:
                    data = response.read(MAX_BODY + 1)
                finally:
                    response.release_conn()
            except HTTPError as error:
                failure = call_failure(error, self)
                if failure is not None:
                    raise failure from error
                # A keep-alive connection the server closed while idle: retry once, fresh.
                if self._answered and attempt == 1 and dropped(error):
                    continue
                raise RequestFailed(self.redact(f"the request failed: {root(error)}")) from error
            self._answered = True
            if len(data) > MAX_BODY:
                self.close()
                raise RequestFailed(f"the answer is larger than {MAX_BODY // 1024 // 1024} MiB")
            self._refused(response.status, response.reason, data)
            return response.status, data
        raise AssertionError("unreachable")  # pragma: no cover

    def _refused(self, status: int, reason: str | None, data: bytes) -> None:
        """Statuses every request of the call would get: credentials refused."""
        display = self.transport.endpoint.display
        words = f"HTTP {status} {reason or ''}".strip()
        snippet = data[:200].decode("utf-8", "replace").strip()
        said = f" ({snippet})" if snippet else ""
        if status == 407:
            proxy = self.transport.proxy
            where = f"the proxy {proxy.display} ({proxy.variable})" if proxy else "a proxy"
            raise CallFailed(
                self.redact(f"{where} refused to forward to Prometheus at {display}: {words}"),
                failure=Failure.PROXY,
            )
        if status in (401, 403):
            raise CallFailed(
                self.redact(f"Prometheus at {display} refused the credentials: {words}{said}"),
                failure=Failure.AUTH,
            )
