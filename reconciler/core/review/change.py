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

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from operator import attrgetter
from typing import Any

from reconciler.core.blueprint.model import TIER_KEYS, Blueprint, GlobalPolicies, Policy, Rule, Tier
from reconciler.core.blueprint.units import (
    format_cpu,
    format_duration,
    format_memory,
    format_percent,
)
from reconciler.core.blueprint.yamlsafe import Document, Path, YamlError, parse_yaml
from reconciler.core.decide.governance import (
    Classification,
    OperationRequest,
    Origin,
    classify_under,
    condition_values,
)
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
    "render_markdown",
    "review_change",
]

POLICIES_FILE = "blueprints/governance/policies.yaml"
#: Beside the blueprints, the two folders whose files speak for an approval: the audit trail
#: (which the reconciler alone writes) and the one-off requests it proposes.
AUDIT_DIR = "audit"
REQUESTS_DIR = "requests"
#: Hidden in the pull request comment, so a later run finds it and edits it in place.
COMMENT_MARKER = "<!-- reconciler:check-change -->"
#: The field that names who approves, as a finding cites it.
_APPROVERS_RULE = "governance.approval_workflow.approvers"


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


# ---------------------------------------------------------------------------------------------
# Entry point


def review_change(base: Snapshot, head: Snapshot, changes: Sequence[PathChange] = ()) -> Review:
    """Every edit from `base` to `head`, classified under `base`'s rules; `changes` are the
    files the change touches under `audit/` and `requests/`."""
    ctx = _Context(base=base, head=head)
    findings = _global_findings(ctx)
    services = sorted({*base.blueprints, *base.broken, *head.blueprints, *head.broken})
    for service in services:
        findings += _service_findings(ctx, service)
    findings += [_path_finding(ctx, change) for change in sorted(changes, key=lambda c: c.path)]
    if not base.policies_ok:
        # The rules in force are unknown, so nothing can be called allowed.
        findings = [
            _needs_global(ctx, f) if f.change_class is ChangeClass.ALLOWED else f for f in findings
        ]
        ctx.notes.append(
            f"the global policies do not validate at {base.label}, so the rules in force before "
            "this change are unknown; every edit is treated as needing the global approvers"
        )
    return Review(base=base, head=head, findings=tuple(findings), notes=tuple(ctx.notes))


@dataclass
class _Context:
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
            "rule": f"global:{_APPROVERS_RULE}",
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


def _finding(ctx: _Context, *, file: str, path: Path, **values: Any) -> Finding:
    line, column = ctx.position(file, path)
    return Finding(file=file, path=format_path(path), line=line, column=column, **values)


def _needs_global(ctx: _Context, finding: Finding) -> Finding:
    return replace(
        finding, change_class=ChangeClass.REQUIRES_APPROVAL, approvers=ctx.global_approvers
    )


# ---------------------------------------------------------------------------------------------
# The audit trail and the one-off requests


def _path_finding(ctx: _Context, change: PathChange) -> Finding:
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
            rule=_APPROVERS_RULE,
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


# ---------------------------------------------------------------------------------------------
# Classification with the real classifier, for edits that map to a catalogue operation

#: A static diff has no moment: the time names stay unknown. Only passed to fill the others.
_NO_MOMENT = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, kw_only=True)
class _Verdict:
    operation: str
    change_class: ChangeClass
    reason: str
    rule: str
    rule_file: str
    approvers: tuple[str, ...]
    unknown: tuple[str, ...]

    def fields(self, why: str) -> dict[str, Any]:
        """The verdict as a finding's fields, its reason after `why` (what the edit amounts to)."""
        return {
            "change_class": self.change_class,
            "reason": f"{why}: {self.reason}",
            "operation": self.operation,
            "rule": self.rule,
            "rule_file": self.rule_file,
            "approvers": self.approvers,
            "unknown": self.unknown,
        }


def _classify(
    operation: str,
    *,
    service: str,
    policy: Policy,
    blueprint: Blueprint | None,
    target: int | None = None,
    change_percent: float | None = None,
) -> _Verdict:
    request = OperationRequest(
        operation=operation,
        service=service,
        origin=Origin.REQUEST,
        target_replicas=target,
        change_percent=change_percent,
    )
    values: dict[str, float | None] = {}
    if blueprint is not None:
        values = condition_values(request, blueprint, {}, _NO_MOMENT)
        values.update(hour_utc=None, weekday_utc=None)
    result = classify_under(request, policy, values)
    unknown = tuple(sorted({name for check in result.checks for name in check.missing}))
    reference = result.references[0] if result.references else ""
    change_class, reason = _class_of(result, reference, unknown)
    approvers = policy.approval.approvers
    if result.rule is not None and result.rule.approvers:
        approvers = result.rule.approvers
    return _Verdict(
        operation=operation,
        change_class=change_class,
        reason=reason,
        rule=", ".join(result.references),
        rule_file=_rule_file(reference, blueprint),
        approvers=approvers if change_class is ChangeClass.REQUIRES_APPROVAL else (),
        unknown=unknown,
    )


def _class_of(
    result: Classification, reference: str, unknown: Sequence[str]
) -> tuple[ChangeClass, str]:
    """The class of the edit and why, from the tier the classifier chose."""
    if result.tier is Tier.ALLOWED:
        return ChangeClass.ALLOWED, result.rationale
    if result.tier is Tier.RESTRICTED:
        return ChangeClass.REQUIRES_APPROVAL, _unknown_note(result, unknown)
    deciding = next((c for c in result.checks if c.reference == reference), None)
    if deciding is None or deciding.result is not None:
        return ChangeClass.FORBIDDEN, result.rationale
    return (
        ChangeClass.REQUIRES_APPROVAL,
        f"{result.rationale} Its condition needs live values a diff cannot know "
        f"({', '.join(deciding.missing)}), so the edit is flagged for approval; the rule "
        "is still checked, with live values, whenever the reconciler acts.",
    )


def _unknown_note(result: Classification, unknown: Sequence[str]) -> str:
    if not unknown:
        return result.rationale
    return (
        f"{result.rationale} (A static diff cannot know {', '.join(unknown)}; unknown counts "
        "as needing approval.)"
    )


def _rule_file(reference: str, blueprint: Blueprint | None) -> str:
    if reference.startswith("global:"):
        return POLICIES_FILE
    if reference.startswith("catalogue:") or not reference:
        return ""
    return blueprint.source if blueprint is not None else POLICIES_FILE


def _global_policy(policies: GlobalPolicies) -> Policy:
    """The rules a service has before it has a blueprint: the global ones alone."""
    return Policy(
        rules=policies.rules,
        approval=policies.approval,
        safety=policies.safety,
        catalogue=policies.catalogue,
    )


# ---------------------------------------------------------------------------------------------
# Services


def _service_findings(ctx: _Context, service: str) -> list[Finding]:
    base, head = ctx.base, ctx.head
    before = base.blueprints.get(service)
    after = head.blueprints.get(service)
    if service in head.broken:
        return _invalid_findings(ctx, service, head.broken[service], before)
    if after is None:
        return [_deleted(ctx, service, before)]
    if before is None:
        return [_added(ctx, service, after)]
    return [
        *_field_findings(ctx, service, before, after, _SERVICE_FIELDS),
        *_rule_findings(ctx, service, before, after),
    ]


def _deleted(ctx: _Context, service: str, before: Blueprint | None) -> Finding:
    file = before.source if before else ctx.base.broken.get(service, f"blueprints/{service}")
    policy = before.policy if before else _global_policy(ctx.base.policies)
    verdict = _classify("delete_deployment", service=service, policy=policy, blueprint=before)
    return _finding(
        ctx,
        file=file,
        path=(),
        service=service,
        kind=ChangeKind.BLUEPRINT_DELETED,
        before=f"version {before.version}" if before else "invalid blueprint",
        after="deleted",
        **verdict.fields(
            "deleting a blueprint stops managing the service, which governance treats as "
            "delete_deployment"
        ),
    )


def _added(ctx: _Context, service: str, after: Blueprint) -> Finding:
    was_broken = service in ctx.base.broken
    reason = (
        "the blueprint did not validate before, so the reconciler did not manage the service; "
        if was_broken
        else "a new blueprint "
    )
    reason += (
        "gives the reconciler authority over a deployment it did not manage: onboarding a "
        "service needs the global approvers (the service's own approvers are part of this "
        "change and cannot approve it)"
    )
    return _finding(
        ctx,
        file=after.source,
        path=("metadata", "name"),
        service=service,
        kind=ChangeKind.SERVICE_ADDED,
        before="invalid blueprint" if was_broken else "no blueprint",
        after=f"version {after.version}, replicas {after.scaling.min_replicas}.."
        f"{after.scaling.max_replicas}",
        reason=reason,
        **ctx.by_global_approvers,
    )


def _invalid_findings(
    ctx: _Context, service: str, file: str, before: Blueprint | None
) -> list[Finding]:
    errors = [p for p in ctx.head.problems if p.file == file and p.severity is Severity.ERROR]
    if _unchanged_and_broken(ctx, file, service in ctx.base.broken):
        ctx.notes.append(
            f"{file} does not validate at {ctx.base.label} either and this change does not "
            "touch it or the global policies; not counted"
        )
        return []
    if not errors:  # every broken file has an error; this keeps a surprise from passing
        errors = [Problem(file=file, path="", message="the blueprint does not load")]
    return [_problem_finding(ctx, service, problem, before) for problem in errors]


def _unchanged_and_broken(ctx: _Context, file: str, broken_before: bool) -> bool:
    same = ctx.base.sources.get(file) == ctx.head.sources.get(file)
    same_policies = ctx.base.sources.get(POLICIES_FILE) == ctx.head.sources.get(POLICIES_FILE)
    return broken_before and same and same_policies


def _problem_finding(
    ctx: _Context, service: str, problem: Problem, before: Blueprint | None
) -> Finding:
    common: dict[str, Any] = {
        "service": service,
        "file": problem.file,
        "path": problem.path,
        "line": problem.line,
        "column": problem.column,
    }
    if problem.code == "policy.loosen_forbidden":
        operation, tier = _entry_at(ctx, problem.file, problem.path)
        rule = _global_forbidder(ctx, operation)
        return Finding(
            **common,
            kind=ChangeKind.LOOSEN_GOVERNANCE,
            change_class=ChangeClass.FORBIDDEN,
            before=_tiers(_own(before, operation)) if before and operation else "-",
            after=tier or "-",
            reason=problem.message,
            operation=operation,
            rule=rule,
            rule_file=POLICIES_FILE if rule else "",
        )
    return Finding(
        **common,
        kind=ChangeKind.INVALID_BLUEPRINT,
        change_class=ChangeClass.INVALID,
        before="-",
        after="invalid",
        reason=problem.message + (f" (fix: {problem.hint})" if problem.hint else ""),
        rule=f"validation:{problem.code}" if problem.code else "validation",
    )


def _entry_at(ctx: _Context, file: str, dotted: str) -> tuple[str, str]:
    """The operation named by the governance entry at `dotted` in HEAD's file, and its tier."""
    document = ctx.document(ctx.head, file)
    node: Any = None if document is None else document.data
    for part in _parse_path(dotted):
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return "", ""
    operation = node.get("operation", "") if isinstance(node, dict) else node
    keys = set(TIER_KEYS.values())
    tier = next((str(p).removesuffix("_operations") for p in _parse_path(dotted) if p in keys), "")
    return (operation if isinstance(operation, str) else ""), tier


def _parse_path(dotted: str) -> Path:
    parts: list[str | int] = []
    for chunk in dotted.split("."):
        name, _, rest = chunk.partition("[")
        parts.append(name)
        for index in filter(None, rest.replace("]", "").split("[")):
            parts.append(int(index))
    return tuple(parts)


def _global_forbidder(ctx: _Context, operation: str) -> str:
    for policies in (ctx.base.policies, ctx.head.policies):
        for rule in policies.rules:
            if rule.operation == operation and rule.tier is Tier.FORBIDDEN and not rule.condition:
                return f"global:{rule.reference}"
    return ""


# ---------------------------------------------------------------------------------------------
# Fields: a table of what to compare, how to show it, and what a change means


Judge = Callable[[Any, Any], ChangeKind]


@dataclass(frozen=True)
class _Field:
    """One field to compare: where it is written, the attribute of the loaded model that holds
    it (dotted), how to show it, and what a change of it means."""

    path: Path
    attribute: str
    show: Callable[[Any], str]
    judge: Judge
    #: For a service field that falls back to the global policies: the attribute of the global
    #: policies it falls back to. A change that only follows a global edit is reported once, as
    #: the global edit.
    inherited: str = ""

    def get(self, model: Any) -> Any:
        return attrgetter(self.attribute)(model)


def _tuning(_: Any, __: Any) -> ChangeKind:
    return ChangeKind.TUNING


def _higher_is_looser(before: Any, after: Any) -> ChangeKind:
    return ChangeKind.SAFETY_LOOSENED if after > before else ChangeKind.SAFETY_TIGHTENED


def _lower_is_looser(before: Any, after: Any) -> ChangeKind:
    return ChangeKind.SAFETY_LOOSENED if after < before else ChangeKind.SAFETY_TIGHTENED


def _true_is_stricter(before: Any, after: Any) -> ChangeKind:
    return ChangeKind.SAFETY_LOOSENED if before and not after else ChangeKind.SAFETY_TIGHTENED


def _exclusive_is_stricter(_: Any, after: Any) -> ChangeKind:
    # Leaving `exclusive` lets the reconciler write replicas another controller also manages.
    return ChangeKind.SAFETY_TIGHTENED if after == "exclusive" else ChangeKind.SAFETY_LOOSENED


def _max_bound(before: Any, after: Any) -> ChangeKind:
    return ChangeKind.BOUNDS_WIDENED if after > before else ChangeKind.BOUNDS_NARROWED


def _min_bound(before: Any, after: Any) -> ChangeKind:
    return ChangeKind.BOUNDS_WIDENED if after < before else ChangeKind.BOUNDS_NARROWED


def _kind(kind: ChangeKind) -> Judge:
    return lambda _, __: kind


def _optional(show: Callable[[Any], str]) -> Callable[[Any], str]:
    return lambda value: "unset" if value is None else show(value)


def _ms(value: float) -> str:
    return f"{value:g}ms"


def _names(value: Sequence[str]) -> str:
    return ", ".join(value) or "(none)"


def _queries(value: Mapping[str, str]) -> str:
    return ", ".join(sorted(value)) or "defaults"


def _weights(value: Sequence[Any]) -> str:
    return ", ".join(f"{metric.type} {metric.weight:g}" for metric in value)


_PCT = _optional(format_percent)
_DURATION = _optional(format_duration)

_RESOURCE_FORMATS = {"cpu": _optional(format_cpu), "memory": _optional(format_memory)}
_SCALING = ("spec", "scaling")
_BREAKER = ("governance", "safety", "circuit_breaker")
_APPROVAL = ("governance", "approval_workflow")
_RETARGETED = _kind(ChangeKind.RETARGETED)
_GLOBAL = _kind(ChangeKind.GLOBAL_POLICY)

#: Safety limits the global policies set and a blueprint may override, in the order reported.
_SAFETY_FIELDS: tuple[_Field, ...] = (
    _Field(
        ("governance", "safety", "rate_limits", "max_operations_per_hour"),
        "safety.rate_limits.per_hour",
        str,
        _higher_is_looser,
    ),
    _Field(
        ("governance", "safety", "rate_limits", "max_operations_per_day"),
        "safety.rate_limits.per_day",
        str,
        _higher_is_looser,
    ),
    _Field(
        (*_BREAKER, "failure_threshold"),
        "safety.circuit_breaker.failure_threshold",
        str,
        _higher_is_looser,
    ),
    _Field(
        (*_BREAKER, "failure_window"),
        "safety.circuit_breaker.failure_window",
        _DURATION,
        _lower_is_looser,
    ),
    _Field(
        (*_BREAKER, "reset_timeout"),
        "safety.circuit_breaker.reset_timeout",
        _DURATION,
        _lower_is_looser,
    ),
    _Field(
        (*_BREAKER, "manual_reset_required"),
        "safety.circuit_breaker.manual_reset_required",
        str,
        _true_is_stricter,
    ),
)
_APPROVERS_FIELD = _Field(
    (*_APPROVAL, "approvers"), "approval.approvers", _names, _kind(ChangeKind.APPROVERS_CHANGED)
)
#: The rest of the approval workflow; for a service, a change of these is tuning.
_APPROVAL_SETTINGS: tuple[_Field, ...] = (
    _Field((*_APPROVAL, "timeout"), "approval.timeout", _DURATION, _GLOBAL),
    _Field((*_APPROVAL, "auto_reject_on_timeout"), "approval.auto_reject_on_timeout", str, _GLOBAL),
    _Field((*_APPROVAL, "rejection_cooloff"), "approval.rejection_cooloff", _DURATION, _GLOBAL),
)


def _for_service(spec: _Field, judge: Judge | None = None) -> _Field:
    """A global field as a blueprint overrides it: read from the service's effective policy,
    and inherited from the global one."""
    return replace(
        spec,
        attribute=f"policy.{spec.attribute}",
        judge=judge or spec.judge,
        inherited=spec.attribute,
    )


_SERVICE_FIELDS: tuple[_Field, ...] = (
    _Field(("metadata", "namespace"), "metadata.namespace", str, _RETARGETED, "default_namespace"),
    _Field(("metadata", "deployment"), "metadata.deployment", str, _RETARGETED),
    _Field((*_SCALING, "min_replicas"), "scaling.min_replicas", str, _min_bound),
    _Field((*_SCALING, "max_replicas"), "scaling.max_replicas", str, _max_bound),
    *(
        _Field((*_SCALING, name), f"scaling.{name}", _PCT, _tuning)
        for name in (
            "target_cpu_utilization",
            "target_memory_utilization",
            "scale_up_threshold",
            "scale_down_threshold",
        )
    ),
    _Field((*_SCALING, "scale_up_increment"), "scaling.scale_up_increment", str, _tuning),
    _Field((*_SCALING, "scale_down_increment"), "scaling.scale_down_increment", str, _tuning),
    _Field(
        (*_SCALING, "scale_down_stabilization"),
        "scaling.scale_down_stabilization",
        _DURATION,
        _tuning,
    ),
    _Field((*_SCALING, "stabilization_period"), "scaling.stabilization_period", _DURATION, _tuning),
    _Field(
        (*_SCALING, "cooldown_period"),
        "policy.safety.cooldown",
        _DURATION,
        _tuning,
        "safety.cooldown",
    ),
    _Field((*_SCALING, "metrics"), "scaling.metrics", _weights, _tuning),
    _Field((*_SCALING, "coexistence"), "scaling.coexistence", str, _exclusive_is_stricter),
    _Field(("spec", "performance", "latency_p95"), "performance.latency_p95_ms", _ms, _tuning),
    _Field(("spec", "performance", "error_rate_max"), "performance.error_rate_max", _PCT, _tuning),
    _Field(
        ("spec", "performance", "throughput_min"),
        "performance.throughput_min",
        _optional(lambda v: f"{v:g} req/s"),
        _tuning,
    ),
    _Field(("spec", "performance", "availability"), "performance.availability", _PCT, _tuning),
    _Field(
        ("spec", "performance", "latency_p50"),
        "performance.latency_p50_ms",
        _optional(_ms),
        _tuning,
    ),
    _Field(
        ("spec", "performance", "latency_p99"),
        "performance.latency_p99_ms",
        _optional(_ms),
        _tuning,
    ),
    *(
        _Field(
            ("spec", "resources", which, part),
            f"resources.{which}.{part}",
            _RESOURCE_FORMATS[which],
            _kind(ChangeKind.RESOURCES_CHANGED),
        )
        for which in ("cpu", "memory")
        for part in ("request", "limit")
    ),
    *(
        _Field(("spec", "resources", which, part), f"resources.{which}.{part}", _PCT, _tuning)
        for which in ("cpu", "memory")
        for part in ("target_utilization", "optimization_threshold")
    ),
    _Field(
        ("spec", "reliability", "max_restart_count"),
        "reliability.max_restart_count",
        str,
        _higher_is_looser,
    ),
    _Field(
        ("spec", "reliability", "rollback_threshold"),
        "reliability.rollback_threshold",
        str,
        _tuning,
    ),
    _Field(
        ("spec", "reliability", "rollback_on_failure"),
        "reliability.rollback_on_failure",
        str,
        _true_is_stricter,
    ),
    _Field(("spec", "observability", "queries"), "queries", _queries, _tuning),
    *(_for_service(spec) for spec in _SAFETY_FIELDS),
    _for_service(_APPROVERS_FIELD),
    *(_for_service(spec, _tuning) for spec in _APPROVAL_SETTINGS),
)

#: Why each field-level kind gets its class; the classifier decides the others.
_WHY = {
    ChangeKind.TUNING: "tuning changes when and by how much the reconciler acts within the "
    "bounds and rules it already has; each resulting operation is still governed when it "
    "happens, so tuning is allowed",
    ChangeKind.BOUNDS_NARROWED: "narrowing the bounds takes authority away; if the deployment "
    "runs outside the new bounds (its replicas are unknown here), the next cycle brings it back "
    "inside as an ordinary governed change",
    ChangeKind.SAFETY_TIGHTENED: "a stricter safety limit takes authority away",
    ChangeKind.SAFETY_LOOSENED: "a looser safety limit (rate limits, circuit breaker, restart "
    "limit, automatic rollback, sharing replicas with another controller) lets the reconciler "
    "do more, or sooner, without a person",
    ChangeKind.APPROVERS_CHANGED: "approvers are part of the rules: a change may not name its "
    "own approvers, so the approvers in force before it must approve",
    ChangeKind.RETARGETED: "pointing the blueprint at another deployment gives the reconciler "
    "authority over a deployment it did not manage, like onboarding a service",
}


def _field_findings(
    ctx: _Context, service: str, before: Any, after: Any, fields: Sequence[_Field]
) -> list[Finding]:
    findings = []
    for spec in fields:
        old, new = spec.get(before), spec.get(after)
        if old == new:
            continue
        if spec.inherited and service and _follows_global(ctx, spec, old, new):
            continue
        kind = spec.judge(old, new)
        shown = {"before": spec.show(old), "after": spec.show(new)}
        if service:
            findings.append(_judge_field(ctx, service, spec.path, kind, before, old, new, shown))
        else:
            findings.append(_global_edit(ctx, spec.path, kind, **shown))
    return findings


def _follows_global(ctx: _Context, spec: _Field, old: Any, new: Any) -> bool:
    inherited = attrgetter(spec.inherited)
    was, now = inherited(ctx.base.policies), inherited(ctx.head.policies)
    return bool(was != now and old == was and new == now)


def _judge_field(
    ctx: _Context,
    service: str,
    path: Path,
    kind: ChangeKind,
    before: Blueprint,
    old: Any,
    new: Any,
    shown: Mapping[str, str],
) -> Finding:
    return _finding(
        ctx,
        file=ctx.head.blueprints[service].source,
        path=path,
        service=service,
        kind=kind,
        **shown,
        **_field_verdict(ctx, service, path, kind, before, old, new),
    )


def _field_verdict(
    ctx: _Context, service: str, path: Path, kind: ChangeKind, before: Blueprint, old: Any, new: Any
) -> dict[str, Any]:
    """A service field's class and why: an operation for the classifier, else by its kind."""
    if kind is ChangeKind.BOUNDS_WIDENED:
        verdict = _classify(
            "scale_beyond_limits",
            service=service,
            policy=before.policy,
            blueprint=before,
            target=int(new),
        )
        return verdict.fields(
            f"the reconciler could then scale to {new} replicas on its own, which under the "
            "rules before this change is scale_beyond_limits"
        )
    if kind is ChangeKind.RESOURCES_CHANGED:
        return _resource_verdict(service, path, before, old, new)
    if kind in (ChangeKind.SAFETY_LOOSENED, ChangeKind.APPROVERS_CHANGED):
        rule, rule_file = _where(ctx, before, path)
        return {
            "change_class": ChangeClass.REQUIRES_APPROVAL,
            "reason": _WHY[kind],
            "rule": rule,
            "rule_file": rule_file,
            "approvers": before.policy.approval.approvers,
        }
    if kind is ChangeKind.RETARGETED:
        return {"reason": _WHY[kind] + "; it needs the global approvers", **ctx.by_global_approvers}
    return {"change_class": ChangeClass.ALLOWED, "reason": _WHY[kind]}


def _where(ctx: _Context, before: Blueprint, path: Path) -> tuple[str, str]:
    """The field that set BASE's value: the blueprint's own, or the global one it inherited."""
    document = ctx.document(ctx.base, before.source)
    written = document is not None and path in document.key_marks
    if not written and path[0] == "governance":
        return f"global:{format_path(path)}", POLICIES_FILE
    return format_path(path), before.source


def _resource_verdict(
    service: str, path: Path, before: Blueprint, old: int | None, new: int | None
) -> dict[str, Any]:
    percent = abs(new - old) / old if old and new is not None else None
    small = percent is not None and percent <= 0.10 + 1e-9 and path[-1] == "request"
    # A limit has no "within 10 %" operation of its own: any limit change is the larger one.
    operation = (
        "adjust_resources_within_10_percent"
        if small
        else "change_resource_limits_beyond_10_percent"
    )
    verdict = _classify(
        operation,
        service=service,
        policy=before.policy,
        blueprint=before,
        change_percent=percent,
    )
    size = "an unknown share" if percent is None else format_percent(percent)
    return verdict.fields(f"a {path[-1]} change of {size} is {operation}")


# ---------------------------------------------------------------------------------------------
# Governance rules: loosened or tightened, operation by operation

_ALWAYS = ""


def _cond(rule: Rule) -> str:
    return str(rule.condition) if rule.condition is not None else _ALWAYS


def _own(blueprint: Blueprint | None, operation: str) -> list[Rule]:
    if blueprint is None:
        return []
    return [
        r for r in blueprint.policy.rules if r.origin == "blueprint" and r.operation == operation
    ]


def _tiers(rules: Sequence[Rule]) -> str:
    """`requires_approval when target_replicas > 10; allowed (autonomous: false)`."""
    if not rules:
        return "not listed"
    parts = []
    for rule in rules:
        text = TIER_KEYS[rule.tier].removesuffix("_operations")
        if rule.condition is not None:
            text += f" when {rule.condition}"
        if rule.tier is Tier.ALLOWED and not rule.autonomous:
            text += " (autonomous: false)"
        parts.append(text)
    return "; ".join(parts)


def _loosenings(
    before: Sequence[Rule], after: Sequence[Rule], allowed_when_unlisted: bool
) -> list[tuple[str, Rule | None]]:
    """Why `after` allows something `before` did not (empty when it is at least as strict).

    Syntactic and conservative: a condition that changed at all counts as relaxed, because
    whether one expression implies another is not something to guess about here."""

    def conditions(rules: Sequence[Rule], tier: Tier) -> dict[str, Rule]:
        found: dict[str, Rule] = {}
        for rule in rules:
            if rule.tier is tier:
                found.setdefault(_cond(rule), rule)
        return found

    fb, fa = conditions(before, Tier.FORBIDDEN), conditions(after, Tier.FORBIDDEN)
    rb, ra = conditions(before, Tier.RESTRICTED), conditions(after, Tier.RESTRICTED)
    ab, aa = conditions(before, Tier.ALLOWED), conditions(after, Tier.ALLOWED)
    if _ALWAYS in fa:
        return []
    reasons: list[tuple[str, Rule | None]] = []
    for condition, rule in fb.items():
        if condition not in fa:
            reasons.append((_lifted("forbidden", "forbidding", condition, fa), rule))
    never_allowed = _ALWAYS in ra or (not aa and not allowed_when_unlisted)
    if never_allowed:
        return reasons
    for condition, rule in rb.items():
        if condition not in ra and condition not in fa:
            reasons.append((_lifted("requires approval", "approval", condition, ra), rule))
    if not ab and not allowed_when_unlisted and not reasons:
        # Unlisted meant forbidden; the rule that decided was the absence of one.
        reasons.append(("now listed under allowed_operations, where it was not listed", None))
    for condition, rule in ab.items():
        if condition != _ALWAYS and condition not in aa:
            reasons.append((f"the allowed condition `{condition}` was removed or changed", rule))
    manual_before = [r for r in before if r.tier is Tier.ALLOWED and not r.autonomous]
    if manual_before and not any(r.tier is Tier.ALLOWED and not r.autonomous for r in after):
        reasons.append(
            ("`autonomous: false` was removed, so it runs without a person", manual_before[0])
        )
    return reasons


def _lifted(tier: str, adjective: str, condition: str, remaining: Mapping[str, Rule]) -> str:
    if condition != _ALWAYS:
        return f"the {adjective} condition `{condition}` was removed or changed"
    if remaining:
        return f"{tier} only when " + " or ".join(f"`{c}`" for c in remaining) + " now"
    return f"no longer {tier}"


def _shape(rules: Iterable[Rule]) -> list[tuple[str, str, bool]]:
    return sorted((str(r.tier), _cond(r), r.autonomous) for r in rules)


def _rule_approvers(rules: Iterable[Rule]) -> list[tuple[str, str, tuple[str, ...]]]:
    return sorted((str(r.tier), _cond(r), r.approvers) for r in rules if r.approvers)


def _rule_findings(ctx: _Context, service: str, before: Any, after: Any) -> list[Finding]:
    """Loosened or tightened rules, and rules whose approvers changed. For a service, its own
    rules are compared, each side merged with BASE's global rules, so a global edit does not
    show up in every service; for the global policies (`service` ""), the global rules."""
    old_policy: Policy | GlobalPolicies = before.policy if service else before
    new_policy: Policy | GlobalPolicies = after.policy if service else after
    origin = "blueprint" if service else "global"
    shared = [r for r in old_policy.rules if r.origin == "global"] if service else []
    names = sorted(
        {r.operation for r in (*old_policy.rules, *new_policy.rules) if r.origin == origin}
    )
    findings = []
    for operation in names:
        old = [r for r in old_policy.rules if r.origin == origin and r.operation == operation]
        new = [r for r in new_policy.rules if r.origin == origin and r.operation == operation]
        inherited = [r for r in shared if r.operation == operation]
        path = _rule_path(new, old)
        if _shape(old) != _shape(new):
            entry = old_policy.catalogue.get(operation)
            unlisted_ok = entry is not None and entry.allowed_when_unlisted
            loosened = _loosenings([*old, *inherited], [*new, *inherited], unlisted_ok)
            findings.append(
                _governance_finding(ctx, service, before, operation, loosened, old, new, path)
            )
        if _rule_approvers(old) != _rule_approvers(new):
            findings.append(
                _rule_approvers_finding(ctx, service, before, operation, old, new, path)
            )
    return findings


def _rule_path(new: Sequence[Rule], old: Sequence[Rule]) -> Path:
    """HEAD's entry for the operation, else the list it was removed from."""
    if new:
        return _parse_path(new[0].reference)
    if old:
        return _parse_path(old[0].reference)[:-1]
    return ("governance", "agent_authority")


def _approvers_for(before: Blueprint, rules: Sequence[Rule]) -> tuple[str, ...]:
    for rule in rules:
        if rule.approvers:
            return rule.approvers
    return before.policy.approval.approvers


def _governance_finding(
    ctx: _Context,
    service: str,
    before: Any,
    operation: str,
    loosened: Sequence[tuple[str, Rule | None]],
    old: Sequence[Rule],
    new: Sequence[Rule],
    path: Path,
) -> Finding:
    shown = {"before": _tiers(old), "after": _tiers(new)}
    if not service:
        kind = ChangeKind.LOOSEN_GOVERNANCE if loosened else ChangeKind.TIGHTEN_GOVERNANCE
        reason = f"{operation}: " + (
            "; ".join(text for text, _ in loosened) or "at least as strict as before"
        )
        return _global_edit(ctx, path, kind, operation=operation, detail=reason, **shown)
    file = ctx.head.blueprints[service].source
    return _finding(
        ctx,
        file=file,
        path=path,
        service=service,
        **shown,
        operation=operation,
        **_loosening_verdict(before, file, operation, loosened, new),
    )


def _loosening_verdict(
    before: Blueprint,
    file: str,
    operation: str,
    loosened: Sequence[tuple[str, Rule | None]],
    new: Sequence[Rule],
) -> dict[str, Any]:
    """Tightening a service's own rules is allowed; loosening needs its approvers at BASE."""
    if not loosened:
        return {
            "kind": ChangeKind.TIGHTEN_GOVERNANCE,
            "change_class": ChangeClass.ALLOWED,
            "reason": f"{operation} is at least as restricted as before, so the change is allowed",
            "rule": new[0].reference if new else "",
            "rule_file": file if new else "",
        }
    rules = [rule for _, rule in loosened if rule is not None]
    deciding = rules[0] if rules else None
    return {
        "kind": ChangeKind.LOOSEN_GOVERNANCE,
        "change_class": ChangeClass.REQUIRES_APPROVAL,
        "reason": f"{operation}: " + "; ".join(text for text, _ in loosened) + ". Loosening "
        "governance needs the service's approvers as they were before this change",
        "rule": _reference(deciding) or "governance.agent_authority (unlisted: forbidden)",
        "rule_file": POLICIES_FILE if deciding and deciding.origin == "global" else before.source,
        "approvers": _approvers_for(before, [r for r in rules if r.origin == "blueprint"]),
    }


def _rule_approvers_finding(
    ctx: _Context,
    service: str,
    before: Any,
    operation: str,
    old: Sequence[Rule],
    new: Sequence[Rule],
    path: Path,
) -> Finding:
    shown = {
        "before": _names([a for r in old for a in r.approvers]),
        "after": _names([a for r in new for a in r.approvers]),
    }
    if not service:
        return _global_edit(ctx, path, ChangeKind.APPROVERS_CHANGED, **shown)
    return _finding(
        ctx,
        file=ctx.head.blueprints[service].source,
        path=path,
        service=service,
        kind=ChangeKind.APPROVERS_CHANGED,
        change_class=ChangeClass.REQUIRES_APPROVAL,
        **shown,
        reason=_WHY[ChangeKind.APPROVERS_CHANGED],
        operation=operation,
        rule=old[0].reference if old else "",
        rule_file=before.source,
        approvers=_approvers_for(before, old),
    )


def _reference(rule: Rule | None) -> str:
    if rule is None:
        return ""
    return rule.reference if rule.origin == "blueprint" else f"global:{rule.reference}"


# ---------------------------------------------------------------------------------------------
# The global policies: every edit needs the global approvers


_GLOBAL_FIELDS: tuple[_Field, ...] = (
    _Field(("defaults", "namespace"), "default_namespace", str, _RETARGETED),
    _APPROVERS_FIELD,
    *_APPROVAL_SETTINGS,
    _Field(
        ("governance", "safety", "cooldown", "default_period"),
        "safety.cooldown",
        _DURATION,
        _lower_is_looser,
    ),
    *_SAFETY_FIELDS,
    _Field(
        ("governance", "proposals", "max_new_per_run"), "max_new_proposals_per_run", str, _GLOBAL
    ),
)


def _global_findings(ctx: _Context) -> list[Finding]:
    base, head = ctx.base, ctx.head
    if not head.policies_ok:
        errors = [
            p for p in head.problems if p.file == POLICIES_FILE and p.severity is Severity.ERROR
        ]
        if _unchanged_and_broken(ctx, POLICIES_FILE, not base.policies_ok):
            ctx.notes.append(
                f"{POLICIES_FILE} does not validate at {base.label} either and this change "
                "does not touch it; not counted"
            )
            return []
        return [_problem_finding(ctx, "", problem, None) for problem in errors]
    if not base.policies_ok:
        return []
    findings: list[Finding] = []
    if POLICIES_FILE in base.sources and POLICIES_FILE not in head.sources:
        findings.append(
            _global_edit(
                ctx,
                (),
                ChangeKind.GLOBAL_POLICY,
                before="present",
                after="deleted",
                detail="without the file, run, plan and request refuse to act until it is back",
            )
        )
    findings += _field_findings(ctx, "", base.policies, head.policies, _GLOBAL_FIELDS)
    old_ops, new_ops = _custom_operations(base.policies), _custom_operations(head.policies)
    if old_ops != new_ops:
        findings.append(
            _global_edit(
                ctx,
                ("operations",),
                ChangeKind.GLOBAL_POLICY,
                before=_names(old_ops),
                after=_names(new_ops),
                detail="the fleet's own operations changed",
            )
        )
    findings += _rule_findings(ctx, "", base.policies, head.policies)
    for team in sorted({*base.policies.teams, *head.policies.teams}):
        was, now = base.policies.teams.get(team, ()), head.policies.teams.get(team, ())
        if was != now:
            findings.append(
                _global_edit(
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


def _global_edit(
    ctx: _Context,
    path: Path,
    kind: ChangeKind,
    *,
    before: str,
    after: str,
    operation: str = "",
    detail: str = "",
) -> Finding:
    what = f"{detail}; " if detail else ""
    return _finding(
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


# ---------------------------------------------------------------------------------------------
# The pull request comment


_ICONS = {
    ChangeClass.ALLOWED: "✅",
    ChangeClass.REQUIRES_APPROVAL: "⚠️",
    ChangeClass.FORBIDDEN: "❌",
    ChangeClass.INVALID: "❌",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ") or " "


def _code(text: str) -> str:
    return f"`{text}`" if text and "`" not in text else _cell(text)


def render_markdown(review: Review) -> str:
    """The body of the pull request comment; starts with the marker that finds it again."""
    base, head = review.base.label, review.head.label
    if not review.findings:
        headline = "### ✅ Blueprint check passes: no change to what the blueprints allow"
    elif not review.ok:
        failing = review.count(ChangeClass.FORBIDDEN) + review.count(ChangeClass.INVALID)
        headline = (
            f"### ❌ Blueprint check fails: {failing} "
            f"change{'s' * (failing != 1)} forbidden or invalid"
        )
    elif review.approvers:
        headline = "### ⚠️ Blueprint check passes; merging needs approval"
    else:
        headline = "### ✅ Blueprint check passes: every change is allowed"
    lines = [
        COMMENT_MARKER,
        headline,
        "",
        f"Comparing `{base}` → `{head}`. Every edit is judged by the rules at `{base}`, "
        "so a pull request cannot grant itself permission or name its own approvers.",
        "",
    ]
    if review.findings:
        lines += [
            "| | service | field | before → after | kind | class | operation | approvers |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for f in review.findings:
            lines.append(
                "| "
                + " | ".join(
                    [
                        _ICONS[f.change_class],
                        _cell(f.subject),
                        _code(f.path or f.file),
                        _cell(f"{f.before} → {f.after}"),
                        _cell(str(f.kind).replace("_", " ")),
                        _cell(str(f.change_class).replace("_", " ")),
                        _code(f.operation) if f.operation else "-",
                        _cell(", ".join(f.approvers) or "-"),
                    ]
                )
                + " |"
            )
        lines += ["", "<details><summary>Why, edit by edit</summary>", ""]
        for f in review.findings:
            rule = f" Rule: `{f.rule}`" + (f" in `{f.rule_file}`" if f.rule_file else "") + "."
            field_path = f" {_cell(f.path)}" if f.path else ""
            lines.append(
                f"- **{_cell(f.subject)}** `{f.location()}`{field_path}: "
                f"{_cell(f.reason.rstrip('.'))}.{rule if f.rule else ''}"
            )
        lines += ["", "</details>", ""]
    if review.approvers:
        lines.append(
            "**Approval needed from:** "
            + "; ".join(_cell(review.expand(name)) for name in review.approvers)
        )
        lines.append("")
        lines.append(
            "Merging is the approval: branch protection requires a review from the code owners "
            "(`reconciler codeowners`), who are these approvers."
        )
        lines.append("")
    for note in review.notes:
        lines.append(f"> {_cell(note)}")
    return "\n".join(lines).rstrip() + "\n"
