"""Reaching Prometheus as it is really run: behind authentication, TLS, tenants and proxies.

The HTTP side of `PrometheusMetrics`, on urllib3: `PrometheusAccess` says how to connect,
`Transport` checks it once and opens a `Session` (one keep-alive connection) per call.
Secrets come from the environment or files and are never shown; files are re-read per
session; failures that every later request would repeat raise `CallFailed` with a code the
doctor has a fix for. The reasons are in docs/architecture.md.
"""

from __future__ import annotations

import base64
import ipaddress
import re
import ssl
import urllib.parse
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ProxyError,
    ReadTimeoutError,
    SSLError,
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
#: OpenSSL's reasons for an alert the *server* sends about the client's certificate: none
#: given when one is required, or one it does not trust. (The reason is a code, not prose.)
_CLIENT_CERTIFICATE_ALERTS = frozenset(
    {
        "TLSV13_ALERT_CERTIFICATE_REQUIRED",
        "SSLV3_ALERT_BAD_CERTIFICATE",
        "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
        "TLSV1_ALERT_UNKNOWN_CA",
        "SSLV3_ALERT_CERTIFICATE_EXPIRED",
        "SSLV3_ALERT_CERTIFICATE_REVOKED",
        "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",
        "TLSV1_ALERT_ACCESS_DENIED",
    }
)
#: Shorter secrets are not searched for in messages: replacing every "ab" would garble them.
_REDACT_MIN = 4


class CallFailed(Exception):
    """Every later request of this call would fail the same way: stop asking.

    `sent` says the request was on its way (a read timeout), so the caller may name the query
    it interrupted in `during`, for that one message.
    """

    def __init__(self, message: str, *, failure: Failure, sent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.failure = failure
        self.sent = sent
        self.during = ""

    def __str__(self) -> str:
        return f"{self.message} {self.during}" if self.during else self.message


class RequestFailed(Exception):
    """This one request failed; others may succeed."""


@dataclass(frozen=True, kw_only=True)
class Credential:
    """A secret given as a value (from the environment) or as a file read at every use.

    `source` names where it comes from, for messages: an environment variable or the path.
    """

    value: str = field(default="", repr=False)
    file: Path | None = None
    source: str = ""

    def read(self, what: str) -> str:
        """The secret now; a file's surrounding whitespace (its final newline) is dropped."""
        if self.file is None:
            return self.value
        try:
            text = self.file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
            raise CallFailed(
                f"cannot read the {what} file {self.file}: {reason}", failure=Failure.SETTINGS
            ) from error
        if not text:
            raise CallFailed(f"the {what} file {self.file} is empty", failure=Failure.SETTINGS)
        return text

    def describe(self) -> str:
        return f"from file {self.file}" if self.file is not None else f"from {self.source}"


@dataclass(frozen=True, kw_only=True)
class Proxies:
    """The standard proxy variables, as the environment gave them ("" when unset)."""

    http: str = ""
    https: str = ""
    no_proxy: str = ""

    def for_url(self, scheme: str, host: str, port: int) -> tuple[str, str]:
        """(proxy URL, the variable it came from), or ("", "") to connect directly."""
        proxy = self.https if scheme == "https" else self.http
        if not proxy or _is_loopback(host) or _bypassed(host, port, self.no_proxy):
            return "", ""
        return proxy, f"{scheme.upper()}_PROXY"


@dataclass(frozen=True, kw_only=True)
class PrometheusAccess:
    """How to reach Prometheus, beyond its URL. Every field is optional.

    `token` is sent as `Authorization: Bearer`; `user` and `password` as basic auth (also
    taken from `user:password@` in the URL). `headers` are added to every request (a tenant
    id for Mimir, Cortex or Thanos). `ca_file` replaces the system's trusted CAs; `cert_file`
    and `key_file` are the client certificate for mutual TLS (`key_file` may be omitted when
    the certificate file holds the key too).
    """

    token: Credential | None = None
    user: str = ""
    password: Credential | None = None
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    proxies: Proxies = field(default_factory=Proxies)


@dataclass(frozen=True)
class Endpoint:
    scheme: str
    host: str
    port: int
    prefix: str
    #: The URL as shown in messages: never with credentials.
    display: str
    #: `user:password@` from the URL, decoded; never shown.
    user: str = field(default="", repr=False)
    password: str = field(default="", repr=False)

    @classmethod
    def parse(cls, base_url: str) -> Endpoint:
        parts = urllib.parse.urlsplit(base_url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"Prometheus URL {_without_userinfo(base_url)!r} is not an http(s) URL",
                hint="for example http://prometheus.monitoring.svc:9090",
            )
        try:
            explicit = parts.port
        except ValueError as error:
            raise ConfigError(f"Prometheus URL {_without_userinfo(base_url)!r}: {error}") from error
        host = parts.hostname
        netloc = f"[{host}]" if ":" in host else host
        if explicit is not None:
            netloc += f":{explicit}"
        port = explicit if explicit is not None else (443 if parts.scheme == "https" else 80)
        prefix = parts.path.rstrip("/")
        return cls(
            parts.scheme,
            host,
            port,
            prefix,
            f"{parts.scheme}://{netloc}{prefix}",
            user=urllib.parse.unquote(parts.username or ""),
            password=urllib.parse.unquote(parts.password or ""),
        )


def _without_userinfo(url: str) -> str:
    """A URL for an error message: whatever precedes the last `@` of the authority is cut."""
    scheme, sep, rest = url.strip().partition("://")
    if not sep:
        return url.strip().rpartition("@")[2]
    authority, slash, path = rest.partition("/")
    return f"{scheme}://{authority.rpartition('@')[2]}{slash}{path}"


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
        shown = _without_userinfo(url)
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
                f"cannot load the CA file {access.ca_file}: {_reason(error)}",
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
                    f"cannot load the client certificate {access.cert_file}{key}: {_reason(error)}",
                    failure=Failure.SETTINGS,
                ) from error
        return context

    def _redact(self, text: str) -> str:
        return self.transport.redact(text, self._secrets)

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
                failure = self._failure(error)
                if failure is not None:
                    raise failure from error
                # A keep-alive connection the server closed while idle: retry once, fresh.
                if self._answered and attempt == 1 and _dropped(error):
                    continue
                raise RequestFailed(self._redact(f"the request failed: {_root(error)}")) from error
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
                self._redact(f"{where} refused to forward to Prometheus at {display}: {words}"),
                failure=Failure.PROXY,
            )
        if status in (401, 403):
            raise CallFailed(
                self._redact(f"Prometheus at {display} refused the credentials: {words}{said}"),
                failure=Failure.AUTH,
            )

    def _failure(self, error: HTTPError) -> CallFailed | None:
        """The error as a CallFailed when every later request would fail the same way."""
        transport = self.transport
        display = transport.endpoint.display
        proxy = transport.proxy
        failure: Failure
        if proxy is not None and _tunnel_refused(error):
            failure = Failure.PROXY
            message = (
                f"the proxy {proxy.display} ({proxy.variable}) refused to connect to "
                f"Prometheus at {display}: {_root(error)}"
            )
        elif isinstance(error, ProxyError):
            assert proxy is not None
            failure = Failure.PROXY
            message = (
                f"the proxy {proxy.display} ({proxy.variable}) is unreachable: "
                f"{_root(error.original_error)}"
            )
        elif isinstance(error, NewConnectionError):
            failure = Failure.UNREACHABLE
            message = f"Prometheus at {display} is unreachable: {_root(error)}"
        elif isinstance(error, ConnectTimeoutError):
            failure = Failure.TIMEOUT
            message = (
                f"Prometheus at {display} is unreachable: no connection within "
                f"{transport.connect_timeout:g}s"
            )
        elif isinstance(error, ReadTimeoutError):
            # Prometheus ends slow queries itself before this, so silence means the server
            # (or the network) is stuck, not the query.
            return CallFailed(
                f"Prometheus at {display} did not answer within {transport.timeout:g}s",
                failure=Failure.TIMEOUT,
                sent=True,
            )
        elif isinstance(error, SSLError):
            failure, message = _tls_failure(error, display)
        elif (
            isinstance(error, ProtocolError)
            and transport.endpoint.scheme == "https"
            and not self._answered
            and _closed_after_handshake(error)
        ):
            failure = Failure.CLIENT_CERTIFICATE
            message = _CLOSED.format(display=display)
        else:
            return None
        return CallFailed(self._redact(message), failure=failure)


#: A server that rejects the client's certificate sends an alert and closes; when the request
#: was already on its way, the close resets the connection and the alert is lost. Only the
#: close is seen then, so the message hedges.
_CLOSED = (
    "Prometheus at {display} closed the TLS connection before answering: it may want a "
    "client certificate it trusts"
)


def _tls_failure(error: SSLError, display: str) -> tuple[Failure, str]:
    cause = _ssl_cause(error)
    if isinstance(cause, ssl.SSLCertVerificationError):
        return Failure.TLS, (
            f"the certificate of Prometheus at {display} could not be verified: "
            f"{cause.verify_message or _root(error)}"
        )
    if isinstance(cause, ssl.SSLError) and cause.reason in _CLIENT_CERTIFICATE_ALERTS:
        return Failure.CLIENT_CERTIFICATE, (
            f"Prometheus at {display} refused the TLS connection: it wants a client "
            f"certificate it trusts ({cause.reason})"
        )
    if isinstance(cause, ssl.SSLEOFError):
        return Failure.CLIENT_CERTIFICATE, _CLOSED.format(display=display)
    return Failure.TLS, f"TLS with Prometheus at {display} failed: {_root(error)}"


def _ssl_cause(error: BaseException) -> BaseException | None:
    return next((cause for cause in _causes(error) if isinstance(cause, ssl.SSLError)), None)


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The error, then what it wraps (urllib3 keeps the original in its args)."""
    seen: BaseException | None = error
    depth = 0
    while seen is not None and depth < 8:
        yield seen
        nested = [arg for arg in getattr(seen, "args", ()) if isinstance(arg, BaseException)]
        seen = nested[0] if nested else (seen.__cause__ or seen.__context__)
        depth += 1


def _tunnel_refused(error: HTTPError) -> bool:
    """Whether the proxy answered CONNECT with something other than 200: http.client raises a
    bare OSError for that, where a dropped connection is one of OSError's subclasses."""
    return any(type(cause) is OSError for cause in _causes(error))


def _closed_after_handshake(error: ProtocolError) -> bool:
    """A certificate alert, or the reset that can replace it (see _CLOSED), on the first
    exchange of a TLS connection."""
    return any(
        (isinstance(cause, ssl.SSLError) and cause.reason in _CLIENT_CERTIFICATE_ALERTS)
        or isinstance(cause, ConnectionResetError | ssl.SSLEOFError)
        for cause in _causes(error)
    )


def _dropped(error: HTTPError) -> bool:
    return any(
        isinstance(cause, ConnectionResetError | BrokenPipeError) for cause in _causes(error)
    )


def _root(error: BaseException) -> str:
    """The innermost description: `[Errno 111] Connection refused`, not urllib3's wrapping."""
    causes = list(_causes(error))
    for cause in reversed(causes):
        if isinstance(cause, TimeoutError):
            return "timed out"
        if isinstance(cause, OSError) and not isinstance(cause, HTTPError):
            return _reason(cause)
    return str(causes[-1]) or type(causes[-1]).__name__


def _reason(error: BaseException) -> str:
    if isinstance(error, ssl.SSLError) and error.reason:
        return str(error.reason)
    return str(error) or type(error).__name__


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bypassed(host: str, port: int, no_proxy: str) -> bool:
    """Whether NO_PROXY names the host: `*`, a host or domain (its subdomains too, with or
    without a leading dot), an IP address or a CIDR range, each optionally with `:port`."""
    host = host.lower().rstrip(".")
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        entry_port = ""
        if entry.startswith("["):
            entry, _, rest = entry[1:].partition("]")
            entry_port = rest.removeprefix(":")
        elif entry.count(":") == 1:
            entry, _, entry_port = entry.partition(":")
        if entry_port and entry_port != str(port):
            continue
        if address is not None:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        domain = entry.lstrip(".").rstrip(".")
        if domain and (host == domain or host.endswith(f".{domain}")):
            return True
    return False
