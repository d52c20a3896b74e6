"""One tree of errors, each with the exit code the CLI reports for it.

Adapters translate library exceptions into these (`raise ... from`), so the CLI can print one
clear line and a documented exit code instead of a traceback. The message always says what was
being done, for example `loading blueprints/web/blueprint.yaml: spec.scaling.max_replicas: ...`.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reconciler.core.problems import Problem

__all__ = [
    "AuditError",
    "BlueprintError",
    "BusyError",
    "ClusterError",
    "ConfigError",
    "ExitCode",
    "ForgeError",
    "HeldError",
    "MetricsError",
    "PausedError",
    "ReconcilerError",
    "TrailError",
]


class ExitCode(IntEnum):
    """Documented in docs/cli.md; scripts may rely on them."""

    OK = 0
    #: `validate` found errors, or a cycle finished but some services failed.
    PROBLEMS = 1
    #: Wrong flags or arguments (click's own code).
    USAGE = 2
    #: The configuration cannot be used: global policies, settings, a missing repository.
    CONFIG = 3
    #: A system the run depends on is unreachable or refused: cluster, forge, git remote;
    #: or another reconciler is writing to the repository.
    UNAVAILABLE = 4
    #: Audit records could not be stored or pushed; the next run recovers from annotations.
    AUDIT = 5


class ReconcilerError(Exception):
    """Base of every error the CLI reports as one line rather than a traceback."""

    exit_code: ExitCode = ExitCode.CONFIG

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


class ConfigError(ReconcilerError):
    exit_code = ExitCode.CONFIG


class BlueprintError(ConfigError):
    """A blueprint or policies file that does not validate; carries every problem found."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        first = problems[0].render() if problems else source
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"loading {source}: {first}{more}")
        self.source = source
        self.problems = tuple(problems)


class HeldError(ReconcilerError):
    """A service the reconciler must not change now, because its blueprint is not one an
    approval stands behind (a merge refused or not judged yet)."""

    exit_code = ExitCode.PROBLEMS


class PausedError(HeldError):
    """A request for a paused service (`spec.suspend`, or the deployment's annotation): a
    pause changes nothing and proposes nothing, so the request is refused unrecorded."""


class TrailError(HeldError):
    """A service whose audit records could not all be read: its cooldown, rate limits, circuit
    breaker and pending work are unknown, so the reconciler changes nothing on its own."""


class ClusterError(ReconcilerError):
    """The cluster refused or failed a request. `service` names whose cycle it stopped."""

    exit_code = ExitCode.UNAVAILABLE

    def __init__(self, message: str, *, hint: str = "", service: str = "", retryable: bool = False):
        super().__init__(message, hint=hint)
        self.service = service
        self.retryable = retryable


class ConflictError(ClusterError):
    """The object changed since it was observed; observe again rather than overwrite."""


class MetricsError(ReconcilerError):
    exit_code = ExitCode.UNAVAILABLE


class ForgeError(ReconcilerError):
    exit_code = ExitCode.UNAVAILABLE


class AuditError(ReconcilerError):
    exit_code = ExitCode.AUDIT


class BusyError(ReconcilerError):
    """Another reconciler holds the repository (it writes the trail, the cluster or the
    simulated state) for longer than this one was willing to wait."""

    exit_code = ExitCode.UNAVAILABLE
