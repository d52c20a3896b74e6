"""The commit subjects of a proposal's life, as `git log --oneline` has always shown them:
each is written once, in core/planning/subjects.py, and long reasons are cut short."""

from __future__ import annotations

import pytest

from reconciler.core.planning import subjects

LONG = "the deployment has 7 replicas now, not the 3 the request was made from, so it is stale"


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        (
            subjects.proposed_subject("web: scale 2→3 (needs approval)", "#12"),
            "web: scale 2→3 (needs approval): proposed as #12",
        ),
        (
            subjects.proposal_updated_subject("web", "scale 2→4", "#12"),
            "web: scale 2→4 (#12 updated)",
        ),
        (
            subjects.up_to_date_subject("web", "#12"),
            "web: #12 brought up to date with the main branch",
        ),
        (subjects.edited_subject("web", "#12"), "web: #12 changed by a person; commented"),
        (
            subjects.superseded_subject("web", "#12"),
            "web: proposal #12 superseded: no longer needed",
        ),
        (subjects.proposal_expired_subject("web", "#12"), "web: proposal #12 expired"),
        (
            subjects.rejected_subject("web", "#12"),
            "web: proposal #12 rejected (closed unmerged)",
        ),
        (subjects.approved_subject("web", "#12", "alice"), "web: approved by alice (#12)"),
        (
            subjects.refused_subject("web", "#12", LONG),
            "web: approval refused for #12: the deployment has 7 replicas now, not the 3 the "
            "request wa…",
        ),
        (
            subjects.stale_subject("web", "#12", "cooldown"),
            "web: approval #12 went stale: cooldown",
        ),
        (
            subjects.landed_subject("web", "#12"),
            "web: #12 landed without approval; held",
        ),
    ],
)
def test_a_proposal_subject_reads_as_the_log_has_it(subject: str, expected: str) -> None:
    assert subject == expected


def test_a_long_title_is_cut_short_in_its_subject() -> None:
    title = "web: " + "x" * 200
    assert subjects.proposed_subject(title, "#12") == title[:89] + "…: proposed as #12"
