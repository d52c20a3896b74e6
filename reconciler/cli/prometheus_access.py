"""Reaching Prometheus from the global options and the environment: the adapter with each
blueprint's queries, and its access, with secrets taken only from the environment or files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.core.errors import ConfigError

if TYPE_CHECKING:
    from reconciler.adapters.prometheus import PrometheusMetrics
    from reconciler.adapters.prometheus_transport import Credential, PrometheusAccess
    from reconciler.cli.compose import Environment
    from reconciler.cli.context import PrometheusOptions, Settings
    from reconciler.shell.workspace import Fleet

__all__ = ["open_prometheus", "prometheus_access"]


def open_prometheus(settings: Settings, fleet: Fleet) -> PrometheusMetrics | None:
    """Prometheus, with each blueprint's query overrides, when a URL is configured."""
    if not settings.prometheus_url:
        return None
    from reconciler.adapters.prometheus import PrometheusMetrics
    from reconciler.cli.compose import Environment
    from reconciler.core.observed.observation import Target

    targets = {
        b.name: Target(namespace=b.metadata.namespace, name=b.metadata.deployment)
        for b in fleet.blueprints
    }
    options = settings.prometheus
    return PrometheusMetrics(
        settings.prometheus_url,
        queries={targets[b.name]: b.queries for b in fleet.blueprints if b.queries},
        services={target: name for name, target in targets.items()},
        timeout=options.timeout,
        connect_timeout=options.connect_timeout,
        access=prometheus_access(options, Environment.read()),
    )


def prometheus_access(options: PrometheusOptions, env: Environment) -> PrometheusAccess:
    """How to reach Prometheus, from the global options and the environment. Secret values
    come only from the environment or files; each file named must be readable now (it is
    read again at every run, so a rotated secret is picked up)."""
    from reconciler.adapters.prometheus_transport import PrometheusAccess, Proxies

    token_file = _readable(options.token_file, "--prometheus-token-file", "TOKEN_FILE")
    password_file = _readable(options.password_file, "--prometheus-password-file", "PASSWORD_FILE")
    token = _secret(env.prometheus_token, token_file, "TOKEN", "--prometheus-token-file")
    password = _secret(
        env.prometheus_password, password_file, "PASSWORD", "--prometheus-password-file"
    )
    if password is not None and not options.user:
        raise ConfigError(
            "a Prometheus password is set but no user",
            hint="pass --prometheus-user (RECONCILER_PROMETHEUS_USER)",
        )
    if options.user and password is None:
        raise ConfigError(
            f"Prometheus user {options.user} has no password",
            hint="set RECONCILER_PROMETHEUS_PASSWORD or pass --prometheus-password-file",
        )
    return PrometheusAccess(
        token=token,
        user=options.user or "",
        password=password,
        headers=options.headers,
        ca_file=_readable(options.ca_file, "--prometheus-ca-file", "CA_FILE"),
        cert_file=_readable(options.cert_file, "--prometheus-cert-file", "CERT_FILE"),
        key_file=_readable(options.key_file, "--prometheus-key-file", "KEY_FILE"),
        proxies=Proxies(http=env.http_proxy, https=env.https_proxy, no_proxy=env.no_proxy),
    )


def _readable(path: Path | None, option: str, variable: str) -> Path | None:
    if path is None:
        return None
    where = f"{option} (RECONCILER_PROMETHEUS_{variable})"
    if not path.is_file():
        raise ConfigError(f"{where}: {path} is not a file", hint="check the path")
    if not os.access(path, os.R_OK):
        raise ConfigError(f"{where}: {path} is not readable", hint="check its permissions")
    return path.resolve()


def _secret(value: str, path: Path | None, variable: str, option: str) -> Credential | None:
    from reconciler.adapters.prometheus_transport import Credential

    name = f"RECONCILER_PROMETHEUS_{variable}"
    if value and path is not None:
        raise ConfigError(
            f"both {name} and {option} are set", hint="keep one: the file allows rotation"
        )
    if path is not None:
        return Credential(file=path, source=option)
    if value:
        return Credential(value=value, source=name)
    return None
