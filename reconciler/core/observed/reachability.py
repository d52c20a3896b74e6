"""Whether a server the reconciler reads from can be used, and if not, why, as a closed set.

`reconciler doctor` must tell a refused password from an untrusted certificate from a proxy
that is down, because each has a different fix. The adapter that made the connection knows
which it was (from the library's exception types and the HTTP status); it returns one of these
codes beside its own description, and the doctor words the fix for the code, never reading the
description.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Failure", "Reachability"]


class Failure(StrEnum):
    """What went wrong, in the order a connection meets them."""

    #: A credential file (token, password, certificate, key, CA) could not be read.
    SETTINGS = "settings"
    #: The proxy from HTTPS_PROXY or HTTP_PROXY could not be reached, or refused to forward.
    PROXY = "proxy"
    #: Connection refused, unknown host, no route.
    UNREACHABLE = "unreachable"
    #: No connection or no answer within the timeout.
    TIMEOUT = "timeout"
    #: The server's certificate could not be verified against the trusted CAs.
    TLS = "tls"
    #: The server wants a client certificate, or refused the one given.
    CLIENT_CERTIFICATE = "client_certificate"
    #: HTTP 401 or 403: credentials missing, wrong, or not allowed.
    AUTH = "auth"
    #: The server answers but is not ready yet (HTTP 503 while starting).
    NOT_READY = "not_ready"
    #: Something answers at the URL, but not Prometheus' query API.
    NOT_PROMETHEUS = "not_prometheus"


@dataclass(frozen=True, kw_only=True)
class Reachability:
    """The answer to "can I query it?": `detail` says what happened, for a person; `failure`
    is None exactly when `ok`."""

    ok: bool
    detail: str
    failure: Failure | None = None

    def __post_init__(self) -> None:
        if self.ok != (self.failure is None):
            raise ValueError("a reachable server has no failure, and an unreachable one has one")
