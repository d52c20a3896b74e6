"""Identifiers for decisions, verdicts, operations and records.

They read like the seed's (`dec-20260210-153000-...`) so a person can tell when and what at a
glance, and they are derived from their inputs rather than random: the core stays free of
hidden state, and a re-run of the same inputs (a dry run, then the real run) names things the
same way. The hash suffix keeps two services, or two events of one service in one second,
apart.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

__all__ = ["make_id", "parse_utc", "utc"]


def utc(moment: datetime) -> datetime:
    """Every time in the core is timezone-aware UTC; naive times are refused, not guessed."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: pass an aware UTC time")
    return moment.astimezone(UTC)


def parse_utc(text: object) -> datetime:
    """A time as the records write it (`2026-02-10T15:30:00Z`), as aware UTC; ValueError for
    anything else, a time without a zone included."""
    return utc(datetime.fromisoformat(str(text).replace("Z", "+00:00")))


def make_id(prefix: str, at: datetime, *parts: object) -> str:
    """`dec-20260210-153000-3fa4c1`: prefix, UTC time to the second, and a hash of the parts."""
    moment = utc(at)
    digest = hashlib.sha256(
        "|".join([prefix, moment.isoformat(), *map(str, parts)]).encode()
    ).hexdigest()[:6]
    return f"{prefix}-{moment:%Y%m%d-%H%M%S}-{digest}"
