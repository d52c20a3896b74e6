"""Files under audit/ and requests/ in a change: only the reconciler writes the trail, and a
request file counts only as the proposal it made.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reconciler.core.blueprint.model import Blueprint
from reconciler.core.blueprint.yamlsafe import YamlError, parse_yaml
from reconciler.core.review.findings import (
    APPROVERS_RULE,
    AUDIT_DIR,
    ChangeClass,
    ChangeKind,
    Finding,
    PathChange,
    ReviewContext,
)


def path_finding(ctx: ReviewContext, change: PathChange) -> Finding:
    """A file under `audit/` or `requests/`.

    Neither is a blueprint, but both speak for approvals. An audit record is what the
    reconciler believes happened: a record added in a pull request would be taken for one it
    wrote (an `approval_granted` record, say), so no pull request may touch `audit/`. A request
    file is what an approval proposal adds; the reconciler acts on one only when its trail
    recorded proposing that very file, so a request it did not propose does nothing when
    merged, yet it still changes the record of approvals: the global approvers decide it.
    """
    parts = change.path.split("/")
    service = parts[1] if len(parts) > 2 else ""
    common: dict[str, Any] = {
        "service": service,
        "file": change.path,
        "path": "",
        "before": "absent" if change.status == "added" else "present",
        "after": change.status,
    }
    if parts[0] == AUDIT_DIR:
        return Finding(
            **common,
            kind=ChangeKind.AUDIT_CHANGED,
            change_class=ChangeClass.FORBIDDEN,
            reason="the audit trail is written only by the reconciler: a record added, edited "
            "or removed in a pull request could pass for one it wrote (an approval it never "
            "granted, say), so no pull request may change audit/",
        )
    before = ctx.base.blueprints.get(service)
    not_proposed = _not_a_proposal(change, parts, before)
    if before is not None and not not_proposed:
        return Finding(
            **common,
            kind=ChangeKind.REQUEST_PROPOSED,
            change_class=ChangeClass.REQUIRES_APPROVAL,
            reason="a one-off request as the reconciler proposes it: merging it approves the "
            "operation once, and the reconciler carries it out only if its audit trail "
            "recorded proposing this very file (by its digest)",
            rule=APPROVERS_RULE,
            rule_file=before.source,
            approvers=before.policy.approval.approvers,
        )
    return Finding(
        **common,
        kind=ChangeKind.REQUEST_CHANGED,
        reason=f"the reconciler did not propose this ({not_proposed}): it only adds "
        "requests/<service>/<approval id>.yaml and never carries out a request its audit "
        "trail does not hold, so merging this approves no operation, but it changes the "
        "repository's record of approvals, which the global approvers decide",
        **ctx.by_global_approvers,
    )


def _not_a_proposal(change: PathChange, parts: Sequence[str], before: Blueprint | None) -> str:
    """Why a request file is not one the reconciler would have proposed, or ""."""
    if change.status != "added":
        return f"an existing request file is {change.status}; the reconciler only adds them"
    if len(parts) != 3 or not parts[2].endswith(".yaml"):
        return "it is not at requests/<service>/<approval id>.yaml"
    if before is None:
        return f"there is no service {parts[1]} at BASE"
    try:
        data = parse_yaml(change.content or b"").data
    except YamlError:
        return "it is not a YAML mapping"
    expected = {
        "apiVersion": "reconciler/v1",
        "kind": "OperationRequest",
        "id": parts[2].removesuffix(".yaml"),
        "service": parts[1],
    }
    wrong = [key for key, value in expected.items() if data.get(key) != value]
    if wrong:
        return f"its {', '.join(wrong)} {'is' if len(wrong) == 1 else 'are'} not as proposed"
    return ""
