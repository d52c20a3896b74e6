"""A verification's named steps on their own: which checks it makes (`checks`), and the
summary its record carries, for each outcome."""

from __future__ import annotations

from dataclasses import replace

import pytest

from reconciler.core.decide.checks import verification_checks
from reconciler.core.decide.verification import verify
from reconciler.core.trail.bodies import CheckStatus, VerificationOutcome
from tests.core.helpers import NOW, metrics, seed_blueprint, state
from tests.core.test_verification import pending

ALL = [
    "replica_count",
    "pods_ready",
    "cpu_utilization",
    "memory_utilization",
    "latency_p95",
    "error_rate",
    "no_new_restarts",
]


@pytest.mark.parametrize(
    ("name", "target", "names"),
    [
        ("a scale checks its replicas first", 2, ALL),
        ("a change of no replicas skips the replica count", None, ALL[1:]),
    ],
)
def test_the_checks_and_their_order(name: str, target: int | None, names: list[str]) -> None:
    waiting = replace(pending(), target_replicas=target)
    checks = verification_checks(
        waiting, seed_blueprint(), state(2), metrics(0.375, 0.3, 100, error_rate=0.002)
    )
    assert [c.check for c in checks] == names, name


@pytest.mark.parametrize(
    ("name", "replicas", "ready", "latency", "outcome", "summary"),
    [
        (
            "all good",
            2,
            2,
            100,
            VerificationOutcome.PASSED,
            "7/7 checks passed; the change is verified.",
        ),
        # Latency 300ms is above the seed's 200ms target and 3× the 100ms baseline.
        (
            "latency worse",
            2,
            2,
            300,
            VerificationOutcome.FAILED,
            "6/7 checks passed; failed: latency_p95 300ms (expected < 200ms, worse than "
            "before); the change made things worse.",
        ),
        # Three replicas where two were set: missed, but nothing worse (CPU 37.5% is what the
        # change expected, so that check passes).
        (
            "someone scaled it since",
            3,
            3,
            100,
            VerificationOutcome.PARTIAL,
            "6/7 checks passed; failed: replica_count 3 (expected 2); nothing got worse, so the "
            "change is kept.",
        ),
    ],
)
def test_the_summary_of_each_outcome(
    name: str,
    replicas: int,
    ready: int,
    latency: float,
    outcome: VerificationOutcome,
    summary: str,
) -> None:
    done = verify(
        pending(),
        seed_blueprint(),
        state(replicas, ready),
        metrics(0.375, 0.3, latency, error_rate=0.002),
        NOW,
    )
    assert (done.outcome, done.summary) == (outcome, summary), name
    assert sum(c.status is CheckStatus.PASSED for c in done.checks) == int(summary[0])


@pytest.mark.parametrize(
    ("replicas", "status", "note"),
    [
        pytest.param(2, CheckStatus.PASSED, "", id="as the change set them"),
        pytest.param(3, CheckStatus.FAILED, "changed since (by someone else?)", id="changed since"),
    ],
)
def test_the_replica_count_notes_replicas_changed_since(
    replicas: int, status: CheckStatus, note: str
) -> None:
    (count, *_) = verification_checks(
        pending(), seed_blueprint(), state(replicas), metrics(0.375, 0.3, 100, error_rate=0.002)
    )
    assert (count.check, count.expected, count.actual) == ("replica_count", "2", str(replicas))
    assert (count.status, count.worse, count.note) == (status, False, note)
