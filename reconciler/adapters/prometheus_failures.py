"""Why a request to Prometheus failed, read from urllib3's exceptions as Failure codes.

A failure every later request of a call would repeat (no connection, a timeout, TLS, the proxy,
refused credentials) is a `CallFailed` with a code `reconciler doctor` has a fix for, so the
caller stops after one; anything else is this request's `RequestFailed`. The code is taken
from exception types and OpenSSL's reason codes, never from the words of a message.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import Protocol

from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ProxyError,
    ReadTimeoutError,
    SSLError,
)

from reconciler.core.observed.reachability import Failure

__all__ = ["CallFailed", "RequestFailed", "call_failure", "dropped", "reason", "root"]

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


class ProxyShown(Protocol):
    """A proxy as messages name it."""

    @property
    def display(self) -> str: ...
    @property
    def variable(self) -> str: ...


class Reaching(Protocol):
    """What a failure's message and code depend on: where the call was going, how."""

    @property
    def display(self) -> str: ...
    @property
    def proxy(self) -> ProxyShown | None: ...
    @property
    def connect_timeout(self) -> float: ...
    @property
    def timeout(self) -> float: ...
    @property
    def tls(self) -> bool: ...
    @property
    def answered(self) -> bool: ...

    def redact(self, text: str) -> str: ...


def call_failure(error: HTTPError, session: Reaching) -> CallFailed | None:
    """The error as a CallFailed when every later request would fail the same way."""
    display = session.display
    proxy = session.proxy
    failure: Failure
    if proxy is not None and _tunnel_refused(error):
        failure = Failure.PROXY
        message = (
            f"the proxy {proxy.display} ({proxy.variable}) refused to connect to "
            f"Prometheus at {display}: {root(error)}"
        )
    elif isinstance(error, ProxyError):
        assert proxy is not None
        failure = Failure.PROXY
        message = (
            f"the proxy {proxy.display} ({proxy.variable}) is unreachable: "
            f"{root(error.original_error)}"
        )
    elif isinstance(error, NewConnectionError):
        failure = Failure.UNREACHABLE
        message = f"Prometheus at {display} is unreachable: {root(error)}"
    elif isinstance(error, ConnectTimeoutError):
        failure = Failure.TIMEOUT
        message = (
            f"Prometheus at {display} is unreachable: no connection within "
            f"{session.connect_timeout:g}s"
        )
    elif isinstance(error, ReadTimeoutError):
        # Prometheus ends slow queries itself before this, so silence means the server
        # (or the network) is stuck, not the query.
        return CallFailed(
            f"Prometheus at {display} did not answer within {session.timeout:g}s",
            failure=Failure.TIMEOUT,
            sent=True,
        )
    elif isinstance(error, SSLError):
        failure, message = _tls_failure(error, display)
    elif (
        isinstance(error, ProtocolError)
        and session.tls
        and not session.answered
        and _closed_after_handshake(error)
    ):
        failure = Failure.CLIENT_CERTIFICATE
        message = _CLOSED.format(display=display)
    else:
        return None
    return CallFailed(session.redact(message), failure=failure)


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
            f"{cause.verify_message or root(error)}"
        )
    if isinstance(cause, ssl.SSLError) and cause.reason in _CLIENT_CERTIFICATE_ALERTS:
        return Failure.CLIENT_CERTIFICATE, (
            f"Prometheus at {display} refused the TLS connection: it wants a client "
            f"certificate it trusts ({cause.reason})"
        )
    if isinstance(cause, ssl.SSLEOFError):
        return Failure.CLIENT_CERTIFICATE, _CLOSED.format(display=display)
    return Failure.TLS, f"TLS with Prometheus at {display} failed: {root(error)}"


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


def dropped(error: HTTPError) -> bool:
    return any(
        isinstance(cause, ConnectionResetError | BrokenPipeError) for cause in _causes(error)
    )


def root(error: BaseException) -> str:
    """The innermost description: `[Errno 111] Connection refused`, not urllib3's wrapping."""
    causes = list(_causes(error))
    for cause in reversed(causes):
        if isinstance(cause, TimeoutError):
            return "timed out"
        if isinstance(cause, OSError) and not isinstance(cause, HTTPError):
            return reason(cause)
    return str(causes[-1]) or type(causes[-1]).__name__


def reason(error: BaseException) -> str:
    if isinstance(error, ssl.SSLError) and error.reason:
        return str(error.reason)
    return str(error) or type(error).__name__
