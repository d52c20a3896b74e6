"""Allows `python -m reconciler`, the same entry point as the `reconciler` console script."""

from reconciler.entry import main

main()
