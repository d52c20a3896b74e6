"""Error translation: every exception the `kubernetes` client raises becomes a ClusterError
that says what was being done, what the HTTP status means for a person (RBAC, credentials,
conflicts) and whether the request may be retried, with no credential left in its text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from reconciler.core.errors import ClusterError

RBAC_HINT = (
    "grant it with deploy/rbac.yaml (docs/running-in-production.md#rbac); "
    "`reconciler doctor` checks every permission the reconciler needs"
)


class ApiFailure(ClusterError):
    """A ClusterError that remembers the HTTP status (0 when there was no answer), and whether
    a write that failed this way may nevertheless have been applied (`ambiguous`)."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        hint: str = "",
        retryable: bool = False,
        ambiguous: bool = False,
    ):
        super().__init__(message, hint=hint, retryable=retryable)
        self.status = status
        self.ambiguous = ambiguous
        self.retry_after: float | None = None


_FORBIDDEN = re.compile(
    r'User "(?P<user>[^"]*)" cannot (?P<verb>\S+) resource "(?P<resource>[^"]+)" in API group '
    r'"(?P<group>[^"]*)"(?: in the namespace "(?P<namespace>[^"]+)")?'
)


def _status_message(body: object, fallback: str) -> str:
    """The `message` of a Kubernetes Status body, or `fallback`."""
    try:
        data = json.loads(body) if isinstance(body, str | bytes) else None
    except ValueError:
        data = None
    if isinstance(data, dict) and data.get("message"):
        return str(data["message"])
    return fallback


#: An Authorization header's value, as the client's errors may quote it (`b'Bearer abc\\n'`).
_AUTHORIZATION = re.compile(r"\b(Bearer|Basic)\s+[^\s'\"]+", re.IGNORECASE)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every credential replaced by ***: any Bearer or Basic header value, and
    each of `secrets` (the configured tokens, which an error may quote without their scheme).

    Error messages go to the terminal, the JSON report, the job summary and GitHub's
    annotations, all of which outlive the run and are read by more people than the token
    should be; so every message built from an error the client raised or a server sent
    passes through here.
    """
    text = _AUTHORIZATION.sub(lambda found: f"{found[1]} ***", text)
    for secret in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def credentials(configuration: Any) -> list[str]:
    """The secrets in a client configuration, as they may appear in an error: each
    whitespace-separated piece of each API key without its scheme, and the password."""
    values = [str(v) for v in (getattr(configuration, "api_key", None) or {}).values() if v]
    if password := getattr(configuration, "password", None):
        values.append(str(password))
    pieces: list[str] = []
    for value in values:
        words = value.split()
        if len(words) > 1 and words[0].lower() in ("bearer", "basic"):
            words = words[1:]
        pieces.extend(word for word in words if word)
    return pieces


class NotAnObject(ValueError):
    """An answer that is JSON, but not the object every Kubernetes answer is."""


def expected_errors() -> tuple[type[BaseException], ...]:
    """The exceptions a request may raise that are about the cluster, not a bug here."""
    import urllib3
    from kubernetes.client.exceptions import ApiException
    from pydantic import ValidationError

    return (ApiException, urllib3.exceptions.HTTPError, ValidationError, ValueError)


def translate(
    action: str, error: BaseException, *, server: str, timeout: float, secrets: Iterable[str]
) -> ApiFailure:
    """One library exception as a ClusterError that says what was being done, with no
    credential in it: every failure of a request passes through here, and the client's
    own errors may quote the Authorization header (and a server may echo it)."""
    failure = _describe(action, error, server=server, timeout=timeout)
    failure.args = (redact(str(failure), secrets),)
    return failure


def _describe(action: str, error: BaseException, *, server: str, timeout: float) -> ApiFailure:
    import urllib3
    from kubernetes.client.exceptions import ApiException
    from pydantic import ValidationError

    if isinstance(error, ApiException):
        status = int(error.status or 0)
        message = _status_message(error.body, str(error.reason or "no reason given"))
        failure = _api_failure(action, status, message)
        if status == 429:
            header = (error.headers or {}).get("Retry-After")
            failure.retry_after = float(header) if header and header.isdigit() else None
        return failure
    if isinstance(
        error, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError
    ):
        # Nothing was sent, so a write that failed this way certainly did not happen.
        return ApiFailure(
            f"{action}: cannot connect to {server}: {error.__context__ or error}",
            status=0,
            hint="check that the cluster is up and reachable from here (VPN, firewall), "
            "and that --kubeconfig/--context point at the right one",
            retryable=True,
        )
    if isinstance(error, urllib3.exceptions.TimeoutError):
        return ApiFailure(
            f"{action}: no answer within {timeout:g}s",
            status=0,
            hint="the API server is slow or unreachable; the next cycle tries again",
            retryable=True,
            ambiguous=True,
        )
    if isinstance(error, urllib3.exceptions.HTTPError):
        return ApiFailure(
            f"{action}: the connection failed: {error}",
            status=0,
            hint="the next cycle tries again",
            retryable=True,
            ambiguous=True,
        )
    if isinstance(error, ValidationError):
        first = error.errors()[0] if error.errors() else {"msg": str(error)}
        return ApiFailure(
            f"{action}: the client refused the request: {first.get('msg')}",
            status=0,
            hint="this is a bug in the reconciler; please report it",
        )
    if isinstance(error, json.JSONDecodeError | UnicodeDecodeError | NotAnObject):
        return ApiFailure(
            f"{action}: the API server's answer is not valid JSON ({error})",
            status=0,
            hint="is the kubeconfig's server really a Kubernetes API server?",
        )
    # Anything else was raised before the request left (http.client refuses a header
    # with a line break in it, for one), so nothing was sent.
    return ApiFailure(
        f"{action}: the client could not send the request: {error}",
        status=0,
        hint="check the user in the kubeconfig: a token, for example, must be a single line",
    )


def _api_failure(action: str, status: int, message: str) -> ApiFailure:
    if status == 401:
        return ApiFailure(
            f"{action}: the cluster rejected the credentials (401 Unauthorized)",
            status=status,
            hint="the token or client certificate in the kubeconfig is missing, wrong or "
            "expired; `kubectl auth whoami` shows whether they work",
        )
    if status == 403:
        found = _FORBIDDEN.search(message)
        if found:
            resource = found["resource"] + (f".{found['group']}" if found["group"] else "")
            where = (
                f"in namespace {found['namespace']}"
                if found["namespace"]
                else "at the cluster scope"
            )
            return ApiFailure(
                f"{action}: forbidden: {found['user']} may not {found['verb']} {resource} "
                f"{where} (RBAC)",
                status=status,
                hint=f"the reconciler needs `{found['verb']}` on {resource}; {RBAC_HINT}",
            )
        return ApiFailure(f"{action}: forbidden: {message}", status=status, hint=RBAC_HINT)
    if status == 404:
        return ApiFailure(f"{action}: not found ({message})", status=status)
    if status == 409:
        return ApiFailure(f"{action}: conflict: {message}", status=status)
    if status == 422:
        return ApiFailure(
            f"{action}: the cluster refused it as invalid: {message}",
            status=status,
            hint="check the values the blueprint asks for (a request above its limit?)",
        )
    if status == 0:
        return ApiFailure(
            f"{action}: {message}",
            status=status,
            hint="check the certificate authority and server address in the kubeconfig",
        )
    retryable = status == 429 or status >= 500
    return ApiFailure(
        f"{action}: the API server answered {status}: {message}",
        status=status,
        hint="the next cycle tries again" if retryable else "",
        retryable=retryable,
        # 429 is a refusal before any work; a 5xx may come after the write was stored.
        ambiguous=status >= 500,
    )
