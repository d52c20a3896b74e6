"""Edits of the global policies: every one needs the global approvers as they were before the
change.
"""

from __future__ import annotations

from reconciler.core.blueprint.model import GlobalPolicies
from reconciler.core.problems import Severity
from reconciler.core.review.fields import (
    _APPROVAL_SETTINGS,
    _APPROVERS_FIELD,
    _DURATION,
    _GLOBAL,
    _RETARGETED,
    SAFETY_FIELDS,
    Field,
    _lower_is_looser,
    _names,
    field_findings,
)
from reconciler.core.review.findings import (
    POLICIES_FILE,
    ChangeKind,
    Finding,
    ReviewContext,
    global_edit,
)
from reconciler.core.review.rules import rule_findings
from reconciler.core.review.services import problem_finding, unchanged_and_broken

_GLOBAL_FIELDS: tuple[Field, ...] = (
    Field(("defaults", "namespace"), "default_namespace", str, _RETARGETED),
    _APPROVERS_FIELD,
    *_APPROVAL_SETTINGS,
    Field(
        ("governance", "safety", "cooldown", "default_period"),
        "safety.cooldown",
        _DURATION,
        _lower_is_looser,
    ),
    *SAFETY_FIELDS,
    Field(
        ("governance", "proposals", "max_new_per_run"), "max_new_proposals_per_run", str, _GLOBAL
    ),
)


def global_findings(ctx: ReviewContext) -> list[Finding]:
    base, head = ctx.base, ctx.head
    if not head.policies_ok:
        errors = [
            p for p in head.problems if p.file == POLICIES_FILE and p.severity is Severity.ERROR
        ]
        if unchanged_and_broken(ctx, POLICIES_FILE, not base.policies_ok):
            ctx.notes.append(
                f"{POLICIES_FILE} does not validate at {base.label} either and this change "
                "does not touch it; not counted"
            )
            return []
        return [problem_finding(ctx, "", problem, None) for problem in errors]
    if not base.policies_ok:
        return []
    findings: list[Finding] = []
    if POLICIES_FILE in base.sources and POLICIES_FILE not in head.sources:
        findings.append(
            global_edit(
                ctx,
                (),
                ChangeKind.GLOBAL_POLICY,
                before="present",
                after="deleted",
                detail="without the file, run, plan and request refuse to act until it is back",
            )
        )
    findings += field_findings(ctx, "", base.policies, head.policies, _GLOBAL_FIELDS)
    old_ops, new_ops = _custom_operations(base.policies), _custom_operations(head.policies)
    if old_ops != new_ops:
        findings.append(
            global_edit(
                ctx,
                ("operations",),
                ChangeKind.GLOBAL_POLICY,
                before=_names(old_ops),
                after=_names(new_ops),
                detail="the fleet's own operations changed",
            )
        )
    findings += rule_findings(ctx, "", base.policies, head.policies)
    for team in sorted({*base.policies.teams, *head.policies.teams}):
        was, now = base.policies.teams.get(team, ()), head.policies.teams.get(team, ())
        if was != now:
            findings.append(
                global_edit(
                    ctx,
                    ("governance", "teams", team),
                    ChangeKind.APPROVERS_CHANGED,
                    before=_names(was),
                    after=_names(now),
                )
            )
    return findings


def _custom_operations(policies: GlobalPolicies) -> list[str]:
    return sorted(name for name, operation in policies.catalogue.items() if operation.custom)
