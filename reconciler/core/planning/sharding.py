"""Shards: splitting a fleet across parallel jobs, stably and without overlap.

A service belongs to shard `sha256(name) mod N`. The assignment depends only on the name and
N, so it does not move when other services come and go, every service is in exactly one
shard, and no two jobs ever reconcile (or write audit records for) the same service.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from reconciler.core.errors import ConfigError

__all__ = ["Shard", "parse_shard"]

_SHARD_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    """Shard `index` (1-based) of `count`."""

    index: int
    count: int

    def owns(self, service: str) -> bool:
        digest = hashlib.sha256(service.encode()).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index - 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """`2/4` → Shard(2, 4); shards are numbered from 1, as in `--shard ${{ matrix.shard }}/4`."""
    match = _SHARD_RE.match(text)
    if not match:
        raise ConfigError(f"--shard {text!r} is not I/N", hint="write the shard as 1/4, 2/4, ...")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1 or not 1 <= index <= count:
        raise ConfigError(
            f"--shard {text}: the shard must be between 1 and the count",
            hint=f"use 1/{max(count, 1)} to {max(count, 1)}/{max(count, 1)}",
        )
    return Shard(index, count)
