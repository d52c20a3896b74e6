"""What needs a person about a service, as a cycle finds it: held, its breaker open, an
escalation, a proposal waiting for an approver.

Kept apart from the dashboard's text (`dashboard.py`), which only a run that publishes the
dashboard renders: every cycle reports these, so importing them must not load the rendering.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

__all__ = ["Attention", "Concern", "Waiting"]


class Attention(StrEnum):
    """Why a service needs a person."""

    #: Its blueprint has a change no approval stands behind (a refused merge, a landing).
    HELD = "held"
    #: Its circuit breaker is open: no automatic change until a person resets it.
    BREAKER_OPEN = "breaker_open"
    #: A failed change could not be (or may not be) rolled back.
    ESCALATED = "escalated"


@dataclass(frozen=True, kw_only=True)
class Concern:
    """One thing about one service that needs a person, or one service that failed."""

    service: str
    kind: Attention | None
    detail: str

    @property
    def key(self) -> str:
        return f"{self.service}:{self.kind or 'failing'}"


@dataclass(frozen=True, kw_only=True)
class Waiting:
    """A proposal waiting for an approver."""

    service: str
    reference: str
    url: str
    title: str
    expires_at: datetime | None
    timed_out: bool = False
    #: A person pushed to it: merging it approves nothing.
    changed: bool = False
