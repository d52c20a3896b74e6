"""The dashboard's text: what it says, and that an unchanged situation reads the same."""

from __future__ import annotations

from datetime import timedelta

from reconciler.core.approvals.dashboard import (
    Attention,
    Board,
    Concern,
    Waiting,
    marker,
    mention_comment,
    read_state,
    render,
    with_failure,
)
from tests.core.helpers import NOW

HELD = Concern(service="web", kind=Attention.HELD, detail="held: #3 was merged by mallory")
FAILING = Concern(service="api", kind=None, detail="deployment shop/api not found")
WAITING = Waiting(
    service="web",
    reference="#4",
    url="https://github.com/acme/b/pull/4",
    title="web: raise max_replicas 5 → 6",
    expires_at=NOW + timedelta(hours=1),
)


def test_nothing_to_show_is_a_closed_dashboard() -> None:
    rendered = render(Board(now=NOW))
    assert not rendered.open and rendered.new == ()
    assert rendered.body.startswith(marker("") + "\n# Reconciler dashboard\n")
    assert "Nothing needs a person" in rendered.body


def test_what_needs_a_person_is_new_once() -> None:
    board = Board(attention=(HELD,), waiting=(WAITING,), now=NOW, shard="2/4")
    first = render(board)
    assert first.open and first.new == (HELD,)
    assert first.title == "Reconciler dashboard (shard 2/4)"
    assert "- **web**: held: #3 was merged by mallory" in first.body
    assert (
        "- [#4](https://github.com/acme/b/pull/4) **web**: web: raise max_replicas 5 → 6 "
        "(expires 2026-02-10 16:30Z)"
    ) in first.body
    again = render(board, first.body)
    assert again.body == first.body and again.new == ()  # the same text: no edit, no mention


def test_a_failing_service_keeps_the_time_it_started_failing() -> None:
    first = render(Board(failing=(FAILING,), now=NOW, last_success=NOW - timedelta(hours=2)))
    assert "- **api** (since 2026-02-10 15:30Z): deployment shop/api not found" in first.body
    assert "Last successful cycle: 2026-02-10 13:30Z." in first.body
    assert read_state(first.body) == {"failing": {"api": "2026-02-10 15:30Z"}, "needs": []}
    later = render(
        Board(failing=(FAILING,), now=NOW + timedelta(hours=1), last_success=NOW), first.body
    )
    assert "- **api** (since 2026-02-10 15:30Z)" in later.body


def test_the_mention_names_the_approvers_of_what_is_new() -> None:
    text = mention_comment([HELD], {"web": ("@acme/devops-team", "@alice"), "api": ("@bob",)})
    assert text.splitlines()[0] == "@acme/devops-team @alice: newly needs a person:"
    assert "@bob" not in text


def test_a_run_that_failed_goes_on_top_of_what_the_last_run_saw() -> None:
    before = render(Board(waiting=(WAITING,), now=NOW))
    failed = with_failure(before.body, "", "exit 3: broken policies", "https://ci/runs/9")
    assert failed.open
    lines = failed.body.splitlines()
    assert lines[3] == "## ❌ The last run failed"
    assert lines[5] == "exit 3: broken policies ([the run](https://ci/runs/9))"
    assert "## Waiting for an approver" in failed.body
    twice = with_failure(failed.body, "", "exit 4: locked", "")
    assert twice.body.count("The last run failed") == 1 and "exit 4: locked" in twice.body
    # Without a dashboard yet, a failed run starts one.
    assert "exit 3" in with_failure("", "", "exit 3", "").body
