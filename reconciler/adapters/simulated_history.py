"""The simulated cluster's metric history: samples taken as its virtual clock moves, kept
for `history_kept`, and read back for the window a caller asks about.

Samples taken since the last save wait in memory and are written with the next save; stored
ones are read only for the window asked, each value checked as it is read, so a long history
costs nothing to a cycle that asks for none.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from reconciler.adapters.simulated_format import Broken, Checked, check_sample, sample_time
from reconciler.adapters.simulated_store import Key, SimStore, StoreError
from reconciler.adapters.simulated_store import Sample as StoredSample
from reconciler.core.errors import MetricsError

__all__ = ["SampleHistory"]


class SampleHistory:
    """The samples of every deployment: those stored, and those taken since the last save."""

    def __init__(self, store: SimStore, path: Path) -> None:
        self._store = store
        self._path = path
        #: Samples taken since the last save, by deployment.
        self._pending: dict[Key, list[StoredSample]] = {}
        #: The time before which stored samples are no longer kept (None: nothing pruned).
        self.prune_before: str | None = None

    def take(self, key: Key, sample: StoredSample) -> None:
        self._pending.setdefault(key, []).append(sample)

    def prune(self, cutoff: str) -> None:
        """Keep nothing older than `cutoff`, in memory now and in the file at the next save."""
        for key, samples in self._pending.items():
            self._pending[key] = [sample for sample in samples if sample[0] >= cutoff]
        self.prune_before = max(cutoff, self.prune_before or cutoff)

    def unsaved(self, keys: Collection[Key] | None = None) -> dict[Key, list[StoredSample]]:
        """The samples waiting to be written: every deployment's, or those of `keys`."""
        if keys is None:
            return dict(self._pending)
        return {key: self._pending[key] for key in keys if key in self._pending}

    def saved(self, written: Mapping[Key, Any], *, everything: bool) -> None:
        """Forget what a save wrote; a save of everything also applied the pruning."""
        for key in written:
            self._pending.pop(key, None)
        if everything:
            self.prune_before = None

    def samples(
        self,
        key: Key,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        stored: bool = True,
    ) -> list[Checked]:
        """A deployment's samples from `start` to `end`, oldest first: those stored (still
        kept; none unless `stored`) and those taken since the last save."""
        low = "" if start is None else sample_time(start)
        high = "\uffff" if end is None else sample_time(end)
        kept: list[tuple[Any, ...]] = []
        if stored and self._store.exists():
            try:
                kept = self._store.samples(key, max(low, self.prune_before or ""), high)
            except StoreError as error:
                raise MetricsError(
                    f"reading the metric history of {'/'.join(key)} in {self._path}: {error}"
                ) from None
        fresh = [s for s in self._pending.get(key, ()) if low <= s[0] <= high]
        result = []
        for at, *values in [*kept, *fresh]:
            try:
                result.append(check_sample(at, values))
            except Broken as error:
                raise MetricsError(
                    f"reading the simulated deployment {'/'.join(key)} in {self._path}: "
                    f"history at {at}: {error}"
                ) from None
        return result
