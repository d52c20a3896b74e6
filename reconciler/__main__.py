"""Allows `python -m reconciler`, the same entry point as the `reconciler` console script
(which also sets the collector's thresholds before importing the command line)."""

from reconciler.entry import main

main()
