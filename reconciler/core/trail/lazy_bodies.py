"""The record bodies of `bodies.py`, loaded when one is first used: `lazy_bodies.ExecutionBody`
is `bodies.ExecutionBody`, `lazy_bodies.body_of` is `bodies.body_of`.

A cycle reads a body only when its trail holds records to read: a first run, the seed scenario
and any service with an empty trail never do. The body types are some twenty frozen
dataclasses, and Python 3.11 compiles every method it generates for each of them when its
module is imported, which costs such a run more than its cycle. So the modules of the cycle
that read bodies name them through this module's attributes, and `bodies.py` and the modules
it gathers are imported on the first such attribute, not at start-up (tests/cli/test_startup.py
checks that the seed scenario's run never loads them). Everything else imports `bodies`
directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reconciler.core.trail.bodies import (
        ApprovalBody,
        Check,
        CheckStatus,
        ExecutionBody,
        FailureBody,
        Severity,
        VerificationBody,
        VerificationOutcome,
        body_of,
        observed_of,
        pause_of,
        refusal_of,
        request_of,
        verification_of,
    )

__all__ = [
    "ApprovalBody",
    "Check",
    "CheckStatus",
    "ExecutionBody",
    "FailureBody",
    "Severity",
    "VerificationBody",
    "VerificationOutcome",
    "body_of",
    "observed_of",
    "pause_of",
    "refusal_of",
    "request_of",
    "verification_of",
]


def __getattr__(name: str) -> Any:
    """The first name asked for imports the bodies and keeps all of them here, so that every
    later use is a plain attribute of this module."""
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from reconciler.core.trail import bodies

    found = {each: getattr(bodies, each) for each in __all__}
    globals().update(found)
    return found[name]
