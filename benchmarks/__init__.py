"""Benchmarks, kept out of the test suite: `make bench` (or `python -m benchmarks`).

Each benchmark module has a `run()` that returns rows; the runner prints them as one table
with the target each number is held to. Machines are noisy, so every timing is the median of
several runs, and comparisons are made within one run.
"""
