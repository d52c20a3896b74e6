"""Reviewing a change to the blueprints: what each edit does to the reconciler's authority, and
who must approve it before it is merged.

`reconciler check-change BASE HEAD` loads the blueprints at both revisions and hands them here;
this module diffs the two loaded fleets field by field and rule by rule, and classifies every
edit as allowed, requires_approval, forbidden or invalid.

Main design choice: every edit is judged by the rules in force **before** the change (BASE),
never by the ones it proposes, so a pull request can neither grant itself permission nor name
its own approvers. Where an edit maps to an operation of the catalogue (deleting a blueprint is
`delete_deployment`, widening the replica bounds is `scale_beyond_limits`, a resource request is
one of the two resource operations), the governance classifier decides with BASE's effective
policy. Conditions that need live numbers a diff cannot know (current replicas, metrics, the
time) evaluate to unknown, and unknown is read conservatively as *needs approval*: a forbidding
rule that only might apply makes the edit need approval rather than fail the check, because that
rule is evaluated again, with live numbers, whenever the reconciler acts. Edits that map to no
operation (governance rules, safety limits, approvers, tuning) are judged by their direction:
loosening needs approval, tightening and tuning are allowed. Every edit of the global policies
needs the global approvers.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.core.review.findings import (
    ChangeClass,
    PathChange,
    Review,
    ReviewContext,
    Snapshot,
    needs_global,
)
from reconciler.core.review.paths import path_finding
from reconciler.core.review.policies import global_findings
from reconciler.core.review.services import (
    service_findings,
)

__all__ = [
    "review_change",
]


def review_change(base: Snapshot, head: Snapshot, changes: Sequence[PathChange] = ()) -> Review:
    """Every edit from `base` to `head`, classified under `base`'s rules; `changes` are the
    files the change touches under `audit/` and `requests/`."""
    ctx = ReviewContext(base=base, head=head)
    findings = global_findings(ctx)
    services = sorted({*base.blueprints, *base.broken, *head.blueprints, *head.broken})
    for service in services:
        findings += service_findings(ctx, service)
    findings += [path_finding(ctx, change) for change in sorted(changes, key=lambda c: c.path)]
    if not base.policies_ok:
        # The rules in force are unknown, so nothing can be called allowed.
        findings = [
            needs_global(ctx, f) if f.change_class is ChangeClass.ALLOWED else f for f in findings
        ]
        ctx.notes.append(
            f"the global policies do not validate at {base.label}, so the rules in force before "
            "this change are unknown; every edit is treated as needing the global approvers"
        )
    return Review(base=base, head=head, findings=tuple(findings), notes=tuple(ctx.notes))
