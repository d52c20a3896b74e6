"""A blueprint change's findings: the two snapshots compared, each edit's class and reason,
and the context the judges of a review share.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from reconciler.core.blueprint.model import Blueprint, GlobalPolicies
from reconciler.core.blueprint.yamlsafe import Document, Path, YamlError, parse_yaml
from reconciler.core.problems import Problem, Severity, format_path

__all__ = [
    "AUDIT_DIR",
    "COMMENT_MARKER",
    "POLICIES_FILE",
    "REQUESTS_DIR",
    "ChangeClass",
    "ChangeKind",
    "Finding",
    "PathChange",
    "Review",
    "Snapshot",
]


POLICIES_FILE = "blueprints/governance/policies.yaml"
#: Beside the blueprints, the two folders whose files speak for an approval: the audit trail
#: (which the reconciler alone writes) and the one-off requests it proposes.
AUDIT_DIR = "audit"
REQUESTS_DIR = "requests"
#: Hidden in the pull request comment, so a later run finds it and edits it in place.
COMMENT_MARKER = "<!-- reconciler:check-change -->"
#: The field that names who approves, as a finding cites it.
APPROVERS_RULE = "governance.approval_workflow.approvers"


class ChangeKind(StrEnum):
    """What an edit does, in the words a reviewer uses."""

    BLUEPRINT_DELETED = "blueprint_deleted"
    SERVICE_ADDED = "service_added"
    INVALID_BLUEPRINT = "invalid_blueprint"
    LOOSEN_GOVERNANCE = "loosen_governance"
    TIGHTEN_GOVERNANCE = "tighten_governance"
    BOUNDS_WIDENED = "bounds_widened"
    BOUNDS_NARROWED = "bounds_narrowed"
    RESOURCES_CHANGED = "resources_changed"
    TUNING = "tuning"
    SAFETY_LOOSENED = "safety_loosened"
    SAFETY_TIGHTENED = "safety_tightened"
    APPROVERS_CHANGED = "approvers_changed"
    RETARGETED = "retargeted"
    GLOBAL_POLICY = "global_policy"
    AUDIT_CHANGED = "audit_changed"
    REQUEST_PROPOSED = "request_proposed"
    REQUEST_CHANGED = "request_changed"


class ChangeClass(StrEnum):
    """The verdict on one edit. Forbidden and invalid fail the check; approval is reported."""

    ALLOWED = "allowed"
    REQUIRES_APPROVAL = "requires_approval"
    FORBIDDEN = "forbidden"
    INVALID = "invalid"


@dataclass(frozen=True, kw_only=True)
class Snapshot:
    """The blueprints of the repository at one revision, as the loader left them."""

    revision: str
    commit: str = ""
    policies: GlobalPolicies
    #: False when the global policies file does not validate (`policies` are then built-in).
    policies_ok: bool = True
    blueprints: Mapping[str, Blueprint]
    #: Services whose blueprint did not load, and its file.
    broken: Mapping[str, str] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()
    #: The raw files by repository path, to point findings at lines.
    sources: Mapping[str, bytes] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.revision} ({self.commit[:7]})" if self.commit else self.revision


@dataclass(frozen=True, kw_only=True)
class PathChange:
    """A file under `audit/` or `requests/` that the change adds, modifies or deletes."""

    #: Relative to the blueprint repository's root, like a blueprint's `source`.
    path: str
    #: "added", "modified" or "deleted".
    status: str
    #: The file at HEAD (None when deleted, or not read: only request files are).
    content: bytes | None = None


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One edit, classified, with the rule that decided and who must approve it."""

    #: The service, or "" for the global policies.
    service: str
    file: str
    path: str
    kind: ChangeKind
    change_class: ChangeClass
    before: str
    after: str
    reason: str
    #: The catalogue operation the edit maps to, or "" when it maps to none.
    operation: str = ""
    #: The deciding rule or field at BASE, as governance writes it
    #: (`global:governance.agent_authority.forbidden_operations[0]`), and its file.
    rule: str = ""
    rule_file: str = ""
    #: Who must approve (BASE's approvers); empty unless the class is requires_approval.
    approvers: tuple[str, ...] = ()
    #: Names a condition needed that a static diff cannot know.
    unknown: tuple[str, ...] = ()
    line: int | None = None
    column: int | None = None

    @property
    def fails(self) -> bool:
        return self.change_class in (ChangeClass.FORBIDDEN, ChangeClass.INVALID)

    @property
    def subject(self) -> str:
        return self.service or "(global policies)"

    def location(self) -> str:
        """`file:line:col`, as a configuration problem shows it."""
        return self.as_problem().location()

    def as_problem(self) -> Problem:
        """The finding in the shape of a configuration problem, for GitHub annotations."""
        severity = Severity.ERROR if self.fails else Severity.WARNING
        what = (
            self.reason
            if self.change_class is ChangeClass.INVALID
            else f"{self.kind}: {self.before} → {self.after}: {self.reason}"
        )
        who = f"merging needs approval by {', '.join(self.approvers)}" if self.approvers else ""
        return Problem(
            file=self.file,
            path=self.path,
            message=f"{what} [{self.change_class}]",
            hint=who,
            line=self.line,
            column=self.column,
            severity=severity,
            code=f"review.{self.kind}",
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "kind": str(self.kind),
            "class": str(self.change_class),
            "operation": self.operation or None,
            "before": self.before,
            "after": self.after,
            "rule": self.rule or None,
            "rule_file": self.rule_file or None,
            "approvers": list(self.approvers),
            "unknown": list(self.unknown),
            "reason": self.reason,
        }


@dataclass(frozen=True, kw_only=True)
class Review:
    base: Snapshot
    head: Snapshot
    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Nothing forbidden and nothing invalid; approvals are enforced by branch protection."""
        return not any(finding.fails for finding in self.findings)

    @property
    def approvers(self) -> tuple[str, ...]:
        """Everyone whose approval some edit needs, in order of first appearance."""
        seen: dict[str, None] = {}
        for finding in self.findings:
            if finding.change_class is ChangeClass.REQUIRES_APPROVAL:
                for name in finding.approvers:
                    seen.setdefault(name)
        return tuple(seen)

    @property
    def teams(self) -> Mapping[str, tuple[str, ...]]:
        """Approver teams and their members, from BASE's global policies (display only)."""
        return self.base.policies.teams

    def count(self, change_class: ChangeClass) -> int:
        return sum(1 for finding in self.findings if finding.change_class is change_class)

    def expand(self, approver: str) -> str:
        """`devops-team (alice, bob)` for a team the global policies list, else the name."""
        members = self.teams.get(approver)
        return f"{approver} ({', '.join(members)})" if members else approver

    def summary(self) -> str:
        total = len(self.findings)
        if not total:
            return "no change to what the blueprints allow; the check passes"
        parts = [
            f"{self.count(ChangeClass.ALLOWED)} allowed",
            f"{self.count(ChangeClass.REQUIRES_APPROVAL)} need approval",
            f"{self.count(ChangeClass.FORBIDDEN)} forbidden",
            f"{self.count(ChangeClass.INVALID)} invalid",
        ]
        verdict = "the check passes" if self.ok else "the check fails"
        return f"{total} change{'s' * (total != 1)}: {', '.join(parts)}; {verdict}"

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "base": {"revision": self.base.revision, "commit": self.base.commit or None},
            "head": {"revision": self.head.revision, "commit": self.head.commit or None},
            "counts": {str(c): self.count(c) for c in ChangeClass},
            "approvers": list(self.approvers),
            "teams": {
                name: list(self.teams[name]) for name in self.approvers if name in self.teams
            },
            "notes": list(self.notes),
            "findings": [finding.to_json() for finding in self.findings],
        }


@dataclass
class ReviewContext:
    base: Snapshot
    head: Snapshot
    notes: list[str] = field(default_factory=list)
    _documents: dict[tuple[str, str], Document | None] = field(default_factory=dict)

    @property
    def global_approvers(self) -> tuple[str, ...]:
        return self.base.policies.approval.approvers

    @property
    def by_global_approvers(self) -> dict[str, Any]:
        """A finding's verdict when BASE's global approvers decide it."""
        return {
            "change_class": ChangeClass.REQUIRES_APPROVAL,
            "rule": f"global:{APPROVERS_RULE}",
            "rule_file": POLICIES_FILE,
            "approvers": self.global_approvers,
        }

    def document(self, side: Snapshot, file: str) -> Document | None:
        key = ("base" if side is self.base else "head", file)
        if key not in self._documents:
            data = side.sources.get(file)
            try:
                self._documents[key] = None if data is None else parse_yaml(data)
            except YamlError:
                self._documents[key] = None
        return self._documents[key]

    def position(self, file: str, path: Path) -> tuple[int | None, int | None]:
        """Where `path` sits in HEAD's version of `file` (or its nearest enclosing key)."""
        document = self.document(self.head, file)
        return (None, None) if document is None else document.position(path)


def finding_at(ctx: ReviewContext, *, file: str, path: Path, **values: Any) -> Finding:
    line, column = ctx.position(file, path)
    return Finding(file=file, path=format_path(path), line=line, column=column, **values)


def needs_global(ctx: ReviewContext, finding: Finding) -> Finding:
    return replace(
        finding, change_class=ChangeClass.REQUIRES_APPROVAL, approvers=ctx.global_approvers
    )


def parse_dotted(dotted: str) -> Path:
    parts: list[str | int] = []
    for chunk in dotted.split("."):
        name, _, rest = chunk.partition("[")
        parts.append(name)
        for index in filter(None, rest.replace("]", "").split("[")):
            parts.append(int(index))
    return tuple(parts)


def global_edit(
    ctx: ReviewContext,
    path: Path,
    kind: ChangeKind,
    *,
    before: str,
    after: str,
    operation: str = "",
    detail: str = "",
) -> Finding:
    what = f"{detail}; " if detail else ""
    return finding_at(
        ctx,
        file=POLICIES_FILE,
        path=path,
        service="",
        kind=kind,
        before=before,
        after=after,
        reason=f"{what}every edit of the global policies needs the global approvers as they "
        "were before this change",
        operation=operation,
        **ctx.by_global_approvers,
    )
