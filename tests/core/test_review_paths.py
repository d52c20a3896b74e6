"""Files under audit/ and requests/ in a change: the audit trail is the reconciler's alone, and a
request file counts as a proposal only when it is exactly one the reconciler would add.
"""

from __future__ import annotations

import pytest

from reconciler.core.review.change import review_change
from reconciler.core.review.findings import (
    APPROVERS_RULE,
    ChangeClass,
    ChangeKind,
    Finding,
    PathChange,
)
from tests.core.test_review import GLOBAL, POLICIES, WEB, WEB_TEAM, base_files, snapshot

K = ChangeKind
REQUEST = b"apiVersion: reconciler/v1\nkind: OperationRequest\nid: a1b2\nservice: web\n"
NOT_PROPOSED = (
    "the reconciler did not propose this ({}): it only adds requests/<service>/<approval id>.yaml "
    "and never carries out a request its audit trail does not hold, so merging this approves no "
    "operation, but it changes the repository's record of approvals, which the global approvers "
    "decide"
)


def finding_for(change: PathChange) -> Finding:
    files = base_files()
    (finding,) = review_change(snapshot("main", files), snapshot("pr", files), [change]).findings
    assert (finding.file, finding.path) == (change.path, "")
    return finding


@pytest.mark.parametrize(
    ("path", "status", "service", "before"),
    [
        pytest.param("audit/web/2026-01-01/r1.json", "added", "web", "absent", id="added"),
        pytest.param("audit/web/2026-01-01/r1.json", "modified", "web", "present", id="modified"),
        pytest.param("audit/web/2026-01-01/r1.json", "deleted", "web", "present", id="deleted"),
        pytest.param("audit/README.md", "added", "", "absent", id="a file of no service"),
    ],
)
def test_no_change_may_touch_the_audit_trail(
    path: str, status: str, service: str, before: str
) -> None:
    finding = finding_for(PathChange(path=path, status=status, content=b"{}"))
    assert (finding.kind, finding.change_class) == (K.AUDIT_CHANGED, ChangeClass.FORBIDDEN)
    assert (finding.service, finding.before, finding.after) == (service, before, status)
    assert (finding.rule, finding.approvers) == ("", ())
    assert finding.reason == (
        "the audit trail is written only by the reconciler: a record added, edited or removed "
        "in a pull request could pass for one it wrote (an approval it never granted, say), so "
        "no pull request may change audit/"
    )


def test_a_request_as_the_reconciler_proposes_it_needs_the_services_approvers() -> None:
    finding = finding_for(
        PathChange(path="requests/web/a1b2.yaml", status="added", content=REQUEST)
    )
    assert (finding.kind, finding.change_class) == (
        K.REQUEST_PROPOSED,
        ChangeClass.REQUIRES_APPROVAL,
    )
    assert (finding.service, finding.before, finding.after) == ("web", "absent", "added")
    assert (finding.rule, finding.rule_file, finding.approvers) == (APPROVERS_RULE, WEB, WEB_TEAM)
    assert finding.reason == (
        "a one-off request as the reconciler proposes it: merging it approves the operation "
        "once, and the reconciler carries it out only if its audit trail recorded proposing this "
        "very file (by its digest)"
    )


@pytest.mark.parametrize(
    ("path", "status", "content", "why"),
    [
        pytest.param(
            "requests/web/a1b2.yaml",
            "modified",
            REQUEST,
            "an existing request file is modified; the reconciler only adds them",
            id="modified",
        ),
        pytest.param(
            "requests/web/a1b2.yaml",
            "deleted",
            None,
            "an existing request file is deleted; the reconciler only adds them",
            id="deleted",
        ),
        pytest.param(
            "requests/web/a1b2.yml",
            "added",
            REQUEST,
            "it is not at requests/<service>/<approval id>.yaml",
            id="not .yaml",
        ),
        pytest.param(
            "requests/web/old/a1b2.yaml",
            "added",
            REQUEST,
            "it is not at requests/<service>/<approval id>.yaml",
            id="one folder too deep",
        ),
        pytest.param(
            "requests/api/a1b2.yaml",
            "added",
            REQUEST.replace(b"service: web", b"service: api"),
            "there is no service api at BASE",
            id="a service that does not exist",
        ),
        pytest.param(
            "requests/web/a1b2.yaml",
            "added",
            b"- a list\n",
            "it is not a YAML mapping",
            id="not a mapping",
        ),
        pytest.param(
            "requests/web/a1b2.yaml", "added", None, "it is not a YAML mapping", id="not read"
        ),
        pytest.param(
            "requests/web/a1b2.yaml",
            "added",
            REQUEST.replace(b"id: a1b2", b"id: other"),
            "its id is not as proposed",
            id="another id",
        ),
        pytest.param(
            "requests/web/a1b2.yaml",
            "added",
            REQUEST.replace(b"reconciler/v1", b"reconciler/v2").replace(b"web", b"api"),
            "its apiVersion, service are not as proposed",
            id="another version and service",
        ),
        pytest.param(
            "requests/web/a1b2.yaml",
            "added",
            REQUEST.replace(b"OperationRequest", b"Request"),
            "its kind is not as proposed",
            id="another kind",
        ),
    ],
)
def test_a_request_the_reconciler_did_not_propose_needs_the_global_approvers(
    path: str, status: str, content: bytes | None, why: str
) -> None:
    finding = finding_for(PathChange(path=path, status=status, content=content))
    assert (finding.kind, finding.change_class) == (
        K.REQUEST_CHANGED,
        ChangeClass.REQUIRES_APPROVAL,
    )
    assert (finding.service, finding.after) == (path.split("/")[1], status)
    assert finding.before == ("absent" if status == "added" else "present")
    assert (finding.rule, finding.rule_file, finding.approvers) == (
        f"global:{APPROVERS_RULE}",
        POLICIES,
        GLOBAL,
    )
    assert finding.reason == NOT_PROPOSED.format(why)


def test_path_findings_are_in_path_order() -> None:
    files = base_files()
    changes = [
        PathChange(path="requests/web/a1b2.yaml", status="added", content=REQUEST),
        PathChange(path="audit/web/r.json", status="added"),
    ]
    review = review_change(snapshot("main", files), snapshot("pr", files), changes)
    assert [(f.file, f.kind) for f in review.findings] == [
        ("audit/web/r.json", K.AUDIT_CHANGED),
        ("requests/web/a1b2.yaml", K.REQUEST_PROPOSED),
    ]
    assert not review.ok
