"""The dashboard: one issue per repository (or shard) saying what needs a person now.

Why it exists: a scheduled job that fails, opens a breaker, escalates or holds a service says
so only on its run page, which nobody watches. The dashboard issue lists what needs a person
(services held, breakers open, escalations), the proposals waiting for an approver with their
expiry, the ones not opened because of the cap on new proposals, the services failing each
run, and a run that failed. It mentions the approvers when something newly needs them, and
closes itself when nothing does.

Main design choice: the body is a pure function of what the run saw and of the previous body's
hidden state (which services failed since when), and holds no time that changes every run,
so an unchanged situation renders the same text and the issue is edited only when its content
changes. Whether to write, and what to mention, is decided here; the adapter only carries it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reconciler.core.approvals.attention import Attention, Concern, Waiting
from reconciler.core.approvals.proposals import hidden_block, read_hidden
from reconciler.core.ids import utc

__all__ = [
    "DASHBOARD_LABEL",
    "Attention",
    "Board",
    "Concern",
    "Rendered",
    "Waiting",
    "marker",
    "mention_comment",
    "read_state",
    "render",
    "with_failure",
]

DASHBOARD_LABEL = "reconciler-dashboard"
#: GitHub's cap on an issue's body; each list is cut well before it.
_BODY_LIMIT = 60000
_SHOWN = 100
_STATE_RE = hidden_block("reconciler:dashboard-state")


@dataclass(frozen=True, kw_only=True)
class Board:
    """What one run saw, for its dashboard."""

    #: The shard the run covered ("" for the whole fleet).
    shard: str = ""
    attention: tuple[Concern, ...] = ()
    failing: tuple[Concern, ...] = ()
    waiting: tuple[Waiting, ...] = ()
    #: Proposals the cap on new proposals held back this run: (service, what).
    unproposed: tuple[tuple[str, str], ...] = ()
    #: Why the run itself failed ("" when it did not), and its page.
    run_failure: str = ""
    run_url: str = ""
    #: The last cycle that succeeded, when known (shown while something fails).
    last_success: datetime | None = None
    now: datetime | None = None
    #: Approver handles (`@org/team`, `@login`) to mention, by service.
    approvers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Rendered:
    title: str
    body: str
    #: Whether the issue should be open: something needs a person.
    open: bool
    #: What newly needs a person since the previous body (to mention the approvers for).
    new: tuple[Concern, ...]


def marker(shard: str) -> str:
    """The hidden first line by which the dashboard is found again (one per shard)."""
    return f"<!-- reconciler:dashboard {shard or 'all'} -->"


def read_state(body: str) -> dict[str, Any]:
    """The hidden state of a previous body: {"needs": [...keys], "failing": {service: since}}."""
    return read_hidden(_STATE_RE, body)


def _when(moment: datetime | None) -> str:
    return f"{utc(moment):%Y-%m-%d %H:%M}Z" if moment is not None else "unknown"


def _cut(rows: Sequence[str]) -> list[str]:
    if len(rows) <= _SHOWN:
        return list(rows)
    return [*rows[:_SHOWN], f"- … and {len(rows) - _SHOWN} more"]


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def render(board: Board, previous_body: str = "") -> Rendered:
    """The dashboard's title and body for what the run saw."""
    previous = read_state(previous_body)
    before = {str(k) for k in previous.get("needs") or []}
    since_before = previous.get("failing") or {}
    failing_since: dict[str, str] = {}
    for concern in board.failing:
        kept = since_before.get(concern.service) if isinstance(since_before, dict) else None
        failing_since[concern.service] = str(kept or (_when(board.now) if board.now else ""))
    needs = sorted({c.key for c in board.attention})
    new = tuple(c for c in board.attention if c.key not in before)
    title = "Reconciler dashboard" + (f" (shard {board.shard})" if board.shard else "")
    lines = [marker(board.shard), f"# {title}", ""]
    anything = bool(
        board.attention or board.failing or board.waiting or board.unproposed or board.run_failure
    )
    if not anything:
        lines += ["Nothing needs a person: every service reconciles on its own.", ""]
    if board.run_failure:
        link = f" ([the run]({board.run_url}))" if board.run_url else ""
        lines += ["## ❌ The last run failed", "", f"{_cell(board.run_failure)}{link}", ""]
    lines += _attention_section(board)
    lines += _failing_section(board, failing_since)
    if board.failing or board.run_failure:
        lines += [f"Last successful cycle: {_when(board.last_success)}.", ""]
    lines += _waiting_section(board)
    if board.unproposed:
        lines += ["## Not proposed yet (the cap on new proposals per run)", ""]
        rows = [f"- **{s}**: {_cell(what)}" for s, what in sorted(board.unproposed)]
        lines += [*_cut(rows), ""]
    hidden = {"needs": needs, "failing": dict(sorted(failing_since.items()))}
    lines.append(f"<!-- reconciler:dashboard-state {json.dumps(hidden, sort_keys=True)} -->")
    body = "\n".join(lines)
    if len(body) > _BODY_LIMIT:
        body = body[: _BODY_LIMIT - 200] + "\n\n… (cut: GitHub's limit)\n" + lines[-1]
    return Rendered(title=title, body=body, open=anything, new=new)


def _attention_section(board: Board) -> list[str]:
    if not board.attention:
        return []
    rows = [
        _attention_row(c) for c in sorted(board.attention, key=lambda c: (c.service, str(c.kind)))
    ]
    return ["## Needs a person", "", *_cut(rows), ""]


def _failing_section(board: Board, failing_since: Mapping[str, str]) -> list[str]:
    if not board.failing:
        return []
    rows = [
        f"- **{c.service}** (since {failing_since[c.service]}): {_cell(c.detail)}"
        for c in sorted(board.failing, key=lambda c: c.service)
    ]
    return ["## Failing", "", *_cut(rows), ""]


def _waiting_section(board: Board) -> list[str]:
    """Open proposals, the soonest to expire first, each with what has become of it."""
    if not board.waiting:
        return []
    rows = []
    for w in sorted(board.waiting, key=lambda w: (w.expires_at is None, w.expires_at or 0)):
        link = f"[{w.reference}]({w.url})" if w.url.startswith("http") else w.reference
        state = (
            "a person pushed to it: merging approves nothing"
            if w.changed
            else "timed out, left open"
            if w.timed_out
            else f"expires {_when(w.expires_at)}"
        )
        rows.append(f"- {link} **{w.service}**: {_cell(w.title)} ({state})")
    return ["## Waiting for an approver", "", *_cut(rows), ""]


_ATTENTION_WORDS = {
    Attention.HELD: "held",
    Attention.BREAKER_OPEN: "circuit breaker open",
    Attention.ESCALATED: "escalated",
}


def _attention_row(concern: Concern) -> str:
    words = _ATTENTION_WORDS.get(concern.kind, "failing") if concern.kind else "failing"
    detail = _cell(concern.detail)
    if detail.lower().startswith(f"{words}:"):
        detail = detail[len(words) + 1 :].strip()
    return f"- **{concern.service}**: {words}: {detail}"


def mention_comment(new: Sequence[Concern], approvers: Mapping[str, Sequence[str]]) -> str:
    """The comment that tells the approvers what newly needs them (a body edit notifies
    nobody; a comment's mentions do)."""
    handles: dict[str, None] = {}
    for concern in new:
        for handle in approvers.get(concern.service, ()):
            handles.setdefault(handle)
    who = " ".join(handles) or "Approvers"
    rows = [_attention_row(c) for c in new]
    return "\n".join([f"{who}: newly needs a person:", "", *_cut(rows)])


_FAILED_RE = re.compile(r"## ❌ The last run failed\n\n.*?\n\n", re.S)


def with_failure(previous_body: str, shard: str, failure: str, run_url: str) -> Rendered:
    """The previous dashboard with a run's failure on top (a run that failed before it could
    say what it saw): the services' lists stay as the last run left them, and the next run
    that gets as far as reconciling writes the dashboard afresh."""
    if not previous_body.startswith(marker(shard)):
        return render(Board(shard=shard, run_failure=failure, run_url=run_url))
    link = f" ([the run]({run_url}))" if run_url else ""
    section = f"## ❌ The last run failed\n\n{_cell(failure)}{link}\n\n"
    body = _FAILED_RE.sub("", previous_body)
    body = body.replace("Nothing needs a person: every service reconciles on its own.\n\n", "")
    head, _, rest = body.partition("\n\n")
    title = head.splitlines()[-1].removeprefix("# ")
    return Rendered(title=title, body=f"{head}\n\n{section}{rest}", open=True, new=())
