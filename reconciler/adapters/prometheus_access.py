"""How to reach Prometheus, as the settings give it: the URL, credentials, headers, TLS files
and proxies, each a plain value checked where it is parsed.

Secrets are held as `Credential`s, given as a value from the environment or as a file read at
every use (so a rotated token is picked up), and never shown: `repr` leaves them out and a
URL's `user:password@` is cut from every message. Proxies are chosen as Go programs choose
them (`NO_PROXY` with suffixes, addresses, CIDR ranges and `*`; loopback always direct).
"""

from __future__ import annotations

import ipaddress
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.adapters.prometheus_failures import CallFailed
from reconciler.core.errors import ConfigError
from reconciler.core.observed.reachability import Failure

__all__ = ["Credential", "Endpoint", "PrometheusAccess", "Proxies", "without_userinfo"]


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
                f"Prometheus URL {without_userinfo(base_url)!r} is not an http(s) URL",
                hint="for example http://prometheus.monitoring.svc:9090",
            )
        try:
            explicit = parts.port
        except ValueError as error:
            raise ConfigError(f"Prometheus URL {without_userinfo(base_url)!r}: {error}") from error
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


def without_userinfo(url: str) -> str:
    """A URL for an error message: whatever precedes the last `@` of the authority is cut."""
    scheme, sep, rest = url.strip().partition("://")
    if not sep:
        return url.strip().rpartition("@")[2]
    authority, slash, path = rest.partition("/")
    return f"{scheme}://{authority.rpartition('@')[2]}{slash}{path}"


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
