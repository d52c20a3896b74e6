"""Allows `python -m reconciler`, the same entry point as the `reconciler` console script
(which also sets the collector's thresholds before importing the command line)."""

from reconciler.entry import collect_rarely

collect_rarely()

from reconciler.cli import main  # noqa: E402  # after the collector's thresholds are set

main()
