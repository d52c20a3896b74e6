"""Approval through pull requests: what to propose, and whether a merge really approves it.

Two kinds of proposal:

- **Blueprint edits** widen authority for good: when load needs more replicas than
  `max_replicas`, the proposal edits that one field in the blueprint (comments and formatting
  kept, patch version bumped). Merging leaves the new policy in git, and the next cycle
  converges to it as an ordinary allowed change.
- **Request files** carry a one-off operation that needs a person (a requested scale to zero,
  a rollback beyond the automatic limits): the proposal adds `requests/<service>/<id>.yaml`;
  once merged by an approver, the reconciler carries it out, after governing it again.

A merge approves only what the proposal says, and only when an approver merged it. The
judgement refuses a merge by someone who is not an approver, a proposed file that is not, as
merged, what the reconciler proposed (its digest), a merge that changed any other path too, a
blueprint edit that loosens a forbidden operation, and a proposal that went stale (expired, or
overtaken by the state of the service).
Everything is judged against the audit trail's copy of the proposal's metadata, never against
the pull request's body or branch, which anyone who can push may change; and a blueprint edit
is judged by the file the merge produced, not by the blueprint the cycle happened to load.

Until a merged blueprint edit has been judged, and after one was refused, the service is held
(`approval_hold`): a blueprint nobody approved is never acted on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from reconciler.core.approvals.feedback import TrailLinks
from reconciler.core.approvals.proposals import Draft, Proposal, render_metadata
from reconciler.core.approvals.requests import out_of_bounds
from reconciler.core.blueprint.model import TIER_KEYS, Blueprint, Tier
from reconciler.core.blueprint.units import (
    Money,
    format_cpu,
    format_duration,
    format_memory,
    format_percent,
    parse_semver,
)
from reconciler.core.blueprint.yamlsafe import Path, YamlError, parse_yaml
from reconciler.core.decide.decision import Decision
from reconciler.core.decide.governance import OperationRequest, Origin, Verdict
from reconciler.core.ids import make_id, parse_utc, utc
from reconciler.core.observed.observation import DeploymentState, Sample
from reconciler.core.trail.records import (
    EventType,
    Outcome,
    Provenance,
    Record,
    clean_line,
    path_of,
)

__all__ = [
    "APPROVAL_EVENTS",
    "CONCLUDED",
    "Authorization",
    "Kind",
    "Landing",
    "Pending",
    "PendingFold",
    "Refusal",
    "approval_hold",
    "draft_for",
    "edit_yaml",
    "judge_merge",
    "landed_without_approval",
    "pending_proposals",
    "proposal_reference",
    "stale_reason",
    "still_as_proposed",
    "trail_marks",
    "unusable_reason",
]

#: Every event in a proposal's life.
APPROVAL_EVENTS = frozenset(
    {
        EventType.APPROVAL_REQUESTED,
        EventType.APPROVAL_UPDATED,
        EventType.APPROVAL_GRANTED,
        EventType.APPROVAL_REJECTED,
        EventType.APPROVAL_EXPIRED,
        EventType.APPROVAL_SUPERSEDED,
        EventType.APPROVAL_REFUSED,
    }
)
#: Events after which a proposal is no longer waiting.
CONCLUDED = frozenset(
    {
        EventType.APPROVAL_GRANTED,
        EventType.APPROVAL_REJECTED,
        EventType.APPROVAL_EXPIRED,
        EventType.APPROVAL_SUPERSEDED,
        EventType.APPROVAL_REFUSED,
    }
)
LABELS = ("reconciler", "approval-needed")
#: A rejected proposal comes back within its cool-off only if the load got this much worse.
MATERIALLY_WORSE = 0.10


class Kind(StrEnum):
    BLUEPRINT = "blueprint"
    REQUEST = "request"


class Refusal(StrEnum):
    """Why a proposal's landing approves nothing, as a code (`details.refusal` of an
    `approval_refused` record); the rationale words it for people."""

    #: The proposed change is on the main branch and no approver's timely merge of the
    #: proposal stands behind it: a merge by someone who is not an approver, after expiry, or
    #: with nobody recorded as merging (a fast-forward); or no merge at all (a squash or a
    #: cherry-pick on the local forge, a rebase, a direct edit).
    LANDED_WITHOUT_APPROVAL = "landed_without_approval"
    #: A merge that brought something other than the proposal: a changed file, other paths,
    #: a loosened forbidden operation.
    NOT_AS_PROPOSED = "not_as_proposed"
    #: An approved request that no longer fits the deployment.
    STALE = "stale"


class Landing(StrEnum):
    """How a proposal's change reached the main branch (`details.landing`)."""

    #: A merge of the proposal by a known account (on GitHub, any merge method).
    MERGE = "merge"
    #: The proposal's commits are on the main branch, but nobody is recorded as merging them
    #: (a fast-forward, a push of the branch).
    UNATTRIBUTED = "unattributed"
    #: The proposal is not merged, but its change is in the main branch's blueprint: a
    #: squash or a cherry-pick on the local forge, a rebase, an edit by hand.
    CONTENT = "content"


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# ---------------------------------------------------------------------------------------------
# Editing YAML in place


def edit_yaml(text: str, edits: Mapping[Path, str]) -> str:
    """Replace the values at `edits` paths by the given YAML scalars, touching nothing else:
    comments, ordering, spacing and every other value stay byte for byte."""
    document = parse_yaml(text.encode())
    spans = []
    for path, value in edits.items():
        if path not in document.spans:
            raise YamlError(f"{'.'.join(map(str, path))} is not a scalar in the file", "")
        spans.append((*document.spans[path], value))
    result = text.removeprefix("\ufeff")
    for start, end, value in sorted(spans, reverse=True):
        result = result[:start] + value + result[end:]
    return result


def bump_patch(version: str) -> str:
    major, minor, patch = parse_semver(version)
    return f"{major}.{minor}.{patch + 1}"


# ---------------------------------------------------------------------------------------------
# Drafting


@dataclass(frozen=True, kw_only=True)
class Evidence:
    """What the proposal's body shows: the numbers that made it necessary."""

    decision: Decision | None
    samples: Sequence[Sample] = ()
    current_replicas: int | None = None
    #: The deployment's revision when proposed: a one-off request approved after someone
    #: released a new revision no longer describes the deployment (`stale_reason`).
    revision: int | None = None


def topic_for(request: OperationRequest, kind: Kind) -> str:
    """The proposal's topic: one proposal per service and topic, updated in place.

    What the reconciler asks for itself (an escalated recovery, a rollback that needs a
    person) is asked again every cycle until someone answers, with a new decision each time:
    its topic is the operation, so the same proposal stays open instead of a new one per
    cycle. What a person asks for with `reconciler request` is that person's own request, and
    keeps a topic of its own."""
    operation = request.operation.replace("_", "-")
    if kind is Kind.BLUEPRINT:
        return operation
    if request.origin is Origin.REQUEST:
        return f"request-{request.decision_id.split('-')[-1] or 'manual'}"
    return f"request-{operation}"


def kind_for(request: OperationRequest) -> Kind:
    """Decisions that want more than the blueprint allows edit the blueprint; everything a
    person asked for, and every escalation, is a one-off request."""
    if request.origin is Origin.DECISION and request.operation == "scale_beyond_limits":
        return Kind.BLUEPRINT
    return Kind.REQUEST


def _cost_lines(blueprint: Blueprint, current: int | None, target: int | None) -> list[str]:
    cost = blueprint.cost
    if cost.cost_per_replica is None or current is None or target is None:
        return []
    per = cost.cost_per_replica

    def money(replicas: int) -> Money:
        return Money(amount=per.amount * replicas, currency=per.currency)

    before, after = money(current), money(target)
    change = after.amount - before.amount
    lines = [
        f"- Monthly cost: {before} → {after} "
        f"({'+' if change >= 0 else ''}{change:g} {per.currency}, {target} × {per})."
    ]
    if cost.monthly_budget is not None:
        budget = cost.monthly_budget
        status = "within" if after.amount <= budget.amount else "**over**"
        lines.append(f"- Budget: {status} the monthly budget of {budget}.")
    return lines


def _chart(blueprint: Blueprint, samples: Sequence[Sample]) -> list[str]:
    """A Mermaid xychart of recent weighted utilization against the scale-up threshold."""
    from reconciler.core.decide.decision import weighted_utilization

    points = []
    for sample in samples[-24:]:
        value = weighted_utilization(blueprint, sample).value
        if value is not None:
            points.append((f"{utc(sample.at):%H:%M}", round(value * 100, 1)))
    if len(points) < 2:
        return []
    threshold = round(blueprint.scaling.scale_up_threshold * 100, 1)
    top = max(100.0, max(value for _, value in points) + 5)
    labels = ", ".join(f'"{label}"' for label, _ in points)
    return [
        "```mermaid",
        "xychart-beta",
        f'    title "{blueprint.name}: weighted utilization (%) and scale-up threshold"',
        f"    x-axis [{labels}]",
        f'    y-axis "percent" 0 --> {top:g}',
        f"    line [{', '.join(f'{value:g}' for _, value in points)}]",
        f"    line [{', '.join(f'{threshold:g}' for _ in points)}]",
        "```",
    ]


def _state_table(rows: Sequence[tuple[str, str, str]]) -> list[str]:
    lines = ["| | current | proposed |", "|---|---|---|"]
    lines += [f"| {name} | {now} | {then} |" for name, now, then in rows]
    return lines


def draft_for(
    request: OperationRequest,
    verdict: Verdict,
    blueprint: Blueprint,
    blueprint_text: str,
    evidence: Evidence,
    approval_id: str,
    now: datetime,
    *,
    links: TrailLinks | None = None,
    manifest_files: Mapping[str, str] | None = None,
) -> tuple[Draft, dict[str, Any]]:
    """The proposal for a restricted operation, and its metadata (also hidden in the body).
    With `links`, the body links the proposal's own record in the audit trail (its path is
    known before it is written) and the run that proposed it.

    `manifest_files` are the manifests Argo CD or Flux apply, edited to what the operation
    sets (coexistence: write_back): the proposal carries them, so merging it is both the
    approval and the change, which the tool then rolls out."""
    kind = kind_for(request)
    service = blueprint.name
    topic = topic_for(request, kind)
    expires = utc(now) + timedelta(seconds=blueprint.policy.approval.timeout)
    current, target = request.current_replicas, request.target_replicas
    decision = evidence.decision
    files: dict[str, str] = {}
    edited_fields: dict[str, int] = {}
    rows: list[tuple[str, str, str]] = []
    scaling = blueprint.scaling
    if kind is Kind.BLUEPRINT:
        assert target is not None
        field_name = "max_replicas" if target > scaling.max_replicas else "min_replicas"
        edited_fields[field_name] = target
        old = getattr(scaling, field_name)
        new_version = bump_patch(blueprint.version)
        edited = edit_yaml(
            blueprint_text,
            {("spec", "scaling", field_name): str(target), ("metadata", "version"): new_version},
        )
        files[blueprint.source] = edited
        verb = "raise" if target > old else "lower"
        title = f"{service}: {verb} {field_name} {old} → {target} (approval needed)"
        rows += [
            (f"`spec.scaling.{field_name}`", str(old), str(target)),
            ("`metadata.version`", blueprint.version, new_version),
            ("replicas", str(evidence.current_replicas or current), str(target)),
        ]
        merging = (
            f"Merging changes `spec.scaling.{field_name}` from {old} to {target} in "
            f"`{blueprint.source}` for good. The next cycle then scales to {target} replicas as "
            "an ordinary allowed change (`scale_within_limits`), verifies it, and records that "
            "this pull request authorised it."
        )
        rollback = (
            f"Scale back to {evidence.current_replicas or current} replicas (allowed, automatic "
            f"if the change fails verification), and revert `{field_name}` to {old} with a "
            "follow-up change to the blueprint."
        )
    else:
        import yaml

        path = f"requests/{service}/{approval_id}.yaml"
        content = yaml.safe_dump(
            {
                "apiVersion": "reconciler/v1",
                "kind": "OperationRequest",
                "id": approval_id,
                "service": service,
                "operation": request.operation,
                "current_replicas": current,
                "target_replicas": target,
                "parameters": dict(request.parameters),
                "reason": request.reason,
                "requested_by": request.requested_by or "reconciler",
                "created_at": utc(now).isoformat().replace("+00:00", "Z"),
                "expires_at": expires.isoformat().replace("+00:00", "Z"),
            },
            sort_keys=False,
        )
        files[path] = "# One-off operation; merging this file approves it, once.\n" + content
        what = request.describe()
        title = f"{service}: {what} (approval needed)"
        if target is not None:
            rows.append(("replicas", str(current), str(target)))
        rows.append(("operation", "-", request.operation))
        merging = (
            f"Merging approves `{request.operation}` once: the next cycle checks that the service "
            "is still as described here, governs the operation again, carries it out, verifies "
            "it, and records that this pull request authorised it. Nothing else changes."
        )
        rollback = (
            f"Scale back to {current} replicas."
            if current is not None and target is not None
            else "Roll back to the revision the deployment has now."
        )
    if manifest_files:
        files.update(manifest_files)
        where = ", ".join(f"`{path}`" for path in sorted(manifest_files))
        merging += (
            f" The proposal also edits {where}, the manifests the GitOps tool applies: "
            "merging is the change itself, which the tool rolls out and the reconciler then "
            "records and verifies."
        )
    metadata: dict[str, Any] = {
        "version": 1,
        "key": f"{service}/{topic}",
        "service": service,
        "kind": str(kind),
        "approval_id": approval_id,
        "operation": request.operation,
        "origin": str(request.origin),
        "current_replicas": current,
        "target_replicas": target,
        "decision_id": request.decision_id,
        "revision": evidence.revision,
        "parameters": dict(request.parameters),
        "blueprint_version": blueprint.version,
        # The loaded file's own digest (of its bytes), the one `approval_hold` compares with.
        "blueprint_digest": blueprint.digest,
        "files": sorted(files),
        "digests": {path: digest(content) for path, content in files.items()},
        # The blueprint fields the edit changes, and to what: what "its change landed" means
        # when the file as a whole is not the proposed one (edited since, or landed in part).
        "fields": {f"spec.scaling.{field}": value for field, value in edited_fields.items()},
        "approvers": list(verdict.approvers),
        "forbidden": sorted(blueprint.policy.names(Tier.FORBIDDEN)),
        "weighted_utilization": None if decision is None else decision.weighted.value,
        "created_at": utc(now).isoformat().replace("+00:00", "Z"),
        "expires_at": expires.isoformat().replace("+00:00", "Z"),
    }
    if manifest_files:
        # The manifests the proposal edits: its merge is the change (coexistence: write_back).
        metadata["write_back"] = sorted(manifest_files)
    record = path_of(service, EventType.APPROVAL_REQUESTED, approval_id, now)
    trail = links.file(record) if links is not None else ""
    run = links.run if links is not None else ""
    body = _body(request, verdict, blueprint, evidence, rows, merging, rollback, expires, metadata)
    if trail or run:
        found = [f"- [This proposal's record]({trail}) in the audit trail." if trail else ""]
        found.append(f"- Proposed by [this run]({run})." if run else "")
        section = ["## Records", "", *[line for line in found if line], ""]
        marker = render_metadata(metadata)
        body = body.replace(marker, "\n".join(section) + "\n" + marker)
    draft = Draft(
        key=str(metadata["key"]),
        branch=f"reconciler/{service}/{topic}",
        title=title,
        body=body,
        files=files,
        labels=(*LABELS, f"service:{service}"),
        reviewers=tuple(verdict.approvers),
        commit_message=f"{title}\n\nProposed by the reconciler; merging this branch is the "
        f"approval.\n\nReconciler-Approval: {approval_id}\nReconciler-Service: {service}\n",
    )
    return draft, metadata


def _body(
    request: OperationRequest,
    verdict: Verdict,
    blueprint: Blueprint,
    evidence: Evidence,
    rows: Sequence[tuple[str, str, str]],
    merging: str,
    rollback: str,
    expires: datetime,
    metadata: Mapping[str, Any],
) -> str:
    decision = evidence.decision
    lines = ["## Why this needs you", ""]
    if decision is not None:
        w = decision.weighted
        lines.append(f"{decision.rationale}")
        lines.append("")
        lines.append("| metric | value | weight |")
        lines.append("|---|---|---|")
        for c in w.components:
            shown = (
                "missing"
                if c.value is None
                else (f"{c.value:g} ms" if c.type == "latency" else format_percent(c.value))
            )
            lines.append(f"| {c.type} | {shown} | {c.weight:g} |")
        scaling = blueprint.scaling
        lines += [
            "",
            "Weighted utilization: "
            f"**{'unknown' if w.value is None else format_percent(w.value)}** "
            f"(scale up above {format_percent(scaling.scale_up_threshold)}, down below "
            f"{format_percent(scaling.scale_down_threshold)}).",
        ]
    else:
        # One line each, control characters escaped: the body is also the local forge's
        # commit message, where a person's text must not start a line (docs/audit-trail.md).
        who = clean_line(request.requested_by or "someone")
        lines.append(
            f"{who} asked for `{request.operation}`"
            + (f": {clean_line(request.reason)}" if request.reason else ".")
        )
    lines += ["", f"**Rule:** {verdict.reasons[0]}", ""]
    lines += ["## Current and proposed", "", *_state_table(rows), ""]
    risk = blueprint.policy.catalogue.get(request.operation)
    lines += ["## Risk and cost", ""]
    if risk is not None:
        lines.append(f"- Risk: {risk.risk} ({risk.summary}).")
    lines += _cost_lines(blueprint, request.current_replicas, request.target_replicas)
    lines += ["", "## What merging does", "", merging, ""]
    lines += ["## Rollback plan", "", rollback, ""]
    approvers = ", ".join(f"@{a}" for a in verdict.approvers) or "(no approvers configured)"
    approval = blueprint.policy.approval
    on_timeout = (
        "it is closed as expired"
        if approval.auto_reject_on_timeout
        else "it stays open for a person to decide, with a comment saying it timed out, and "
        "the reconciler no longer updates it"
    )
    lines += [
        "## Approval",
        "",
        f"- Approvers: {approvers}. A merge by anyone else approves nothing.",
        f"- Expires {expires:%Y-%m-%d %H:%M}Z ({format_duration(approval.timeout)} after it was "
        f"opened); then {on_timeout}.",
        "- Closing without merging rejects it; the same proposal is not made again for "
        f"{format_duration(approval.rejection_cooloff)}, unless the load gets materially worse.",
        "",
    ]
    chart = _chart(blueprint, evidence.samples)
    if chart:
        lines += ["## Recent load", "", *chart, ""]
    lines += [render_metadata(metadata), ""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Proposals waiting for an answer


@dataclass(frozen=True, kw_only=True)
class Pending:
    """A proposal the trail says is open: its latest request/update record."""

    record: Record
    key: str
    kind: Kind
    branch: str
    number: int | None
    head: str
    metadata: Mapping[str, Any]
    created_at: datetime
    expires_at: datetime
    #: Set once the reconciler commented that it stopped updating (a person pushed).
    hands_off: bool = False
    timed_out: bool = False

    @property
    def target(self) -> int | None:
        value = self.metadata.get("target_replicas")
        return value if isinstance(value, int) else None

    @property
    def paths(self) -> tuple[str, ...]:
        """The proposed files, as the trail recorded them: what the forge is asked to read.
        Never taken from the branch or the body, where anyone who can push or edit the pull
        request could list none, so that the merged blueprint would go unread."""
        return _proposed_paths(self.metadata)


def _proposed_paths(metadata: Mapping[str, Any]) -> tuple[str, ...]:
    files = metadata.get("files")
    digests = metadata.get("digests")
    listed = [*(files if isinstance(files, list) else ()), *(digests or {})]
    return tuple(sorted({str(path) for path in listed}))


def _approval_of(record: Record) -> str:
    """The approval id a record is about."""
    metadata = record.details.get("metadata") or {}
    return str(record.links.get("approval") or metadata.get("approval_id") or record.id)


def pending_proposals(records: Sequence[Record]) -> list[Pending]:
    """Proposals requested (or updated) and not yet concluded, from a service's approval
    records (any age)."""
    fold = PendingFold()
    for record in sorted(records, key=Record.sort_key):
        fold.step(record)
    return fold.result()


def trail_marks(record: Record) -> frozenset[str]:
    """What an approval record can matter for long after it was written, as marks the trail
    index keeps (docs/audit-trail.md): `id:<approval>` for each approval id it belongs to
    (a proposal's records are taken together: `_unvouched`, `landed_without_approval`,
    `_granted_later`), `digest:<sha>` for each blueprint digest it names (a refused or granted
    merge, a proposed file: `_refused_blueprint`, `landed_without_approval`), and
    `refusal-unknown` for a refused merge that left no file to name (`_refused_blueprint`
    holds it while the blueprint is loaded from another path)."""
    details = record.details
    metadata = details.get("metadata") or {}
    ids = {record.links.get("approval"), metadata.get("approval_id"), record.id}
    marks = {f"id:{value}" for value in ids if isinstance(value, str) and value}
    digests = metadata.get("digests")
    named = [*(digests.values() if isinstance(digests, Mapping) else ())]
    named.append(details.get("merged_blueprint_digest"))
    marks |= {f"digest:{value}" for value in named if isinstance(value, str) and value}
    if (
        record.event_type is EventType.APPROVAL_REFUSED
        and "merged_blueprint_digest" in details
        and details.get("merged_blueprint_digest") is None
    ):
        marks.add("refusal-unknown")
    return frozenset(marks)


@dataclass
class PendingFold:
    """`pending_proposals` one record at a time, in the trail's order, so that a reader can
    stop and go on: where the fold is empty (no proposal open), the records before it no
    longer matter to which proposals are pending, which is how the trail index reads only
    the records a cycle needs (docs/audit-trail.md)."""

    #: By proposal key: its latest request or update, its first record, and its flags.
    latest: dict[str, Record] = field(default_factory=dict)
    first: dict[str, Record] = field(default_factory=dict)
    flags: dict[str, dict[str, bool]] = field(default_factory=dict)

    def step(self, record: Record) -> None:
        key = str(record.details.get("key", ""))
        if not key:
            return
        current = self.latest.get(key)
        if (
            current is not None
            and record.event_type is not EventType.APPROVAL_UPDATED
            and record.event_type is not EventType.APPROVAL_REQUESTED
            and _approval_of(record) != _approval_of(current)
        ):
            # The end (or time-out) of an earlier proposal on the same topic, recorded in the
            # same instant as its successor's request and sorted after it: it does not end
            # the successor.
            return
        if record.event_type in CONCLUDED and record.outcome is not Outcome.PENDING:
            self.latest.pop(key, None)
            self.first.pop(key, None)
            self.flags.pop(key, None)
            return
        if record.event_type in {
            EventType.APPROVAL_REQUESTED,
            EventType.APPROVAL_UPDATED,
            EventType.APPROVAL_EXPIRED,
        }:
            self.first.setdefault(key, record)
            if record.event_type is not EventType.APPROVAL_EXPIRED:
                self.latest[key] = record
            state = self.flags.setdefault(key, {})
            state["hands_off"] = state.get("hands_off", False) or bool(
                record.details.get("hands_off")
            )
            state["timed_out"] = (
                state.get("timed_out", False) or record.event_type is EventType.APPROVAL_EXPIRED
            )

    def empty(self) -> bool:
        """Whether nothing is carried over: the records folded so far decide nothing about
        the ones to come."""
        return not (self.latest or self.first or self.flags)

    def result(self) -> list[Pending]:
        result = []
        for key, record in self.latest.items():
            details = record.details
            metadata = details.get("metadata") or {}
            result.append(
                Pending(
                    record=record,
                    key=key,
                    kind=Kind(str(metadata.get("kind", "request"))),
                    branch=str(details.get("branch", "")),
                    number=details.get("number")
                    if isinstance(details.get("number"), int)
                    else None,
                    head=str(details.get("head", "")),
                    metadata=metadata,
                    created_at=_time(metadata.get("created_at")) or utc(self.first[key].timestamp),
                    expires_at=_time(metadata.get("expires_at")) or utc(record.timestamp),
                    hands_off=self.flags[key].get("hands_off", False),
                    timed_out=self.flags[key].get("timed_out", False),
                )
            )
        return result


def _time(value: Any) -> datetime | None:
    """A time from proposal metadata, or None when it is missing or unreadable (the caller
    falls back on the record's own timestamp)."""
    try:
        return parse_utc(value) if value else None
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------
# Judging a merge


class Judgement(StrEnum):
    GRANTED = "granted"
    REFUSED = "refused"


@dataclass(frozen=True, kw_only=True)
class MergeJudgement:
    judgement: Judgement
    reasons: tuple[str, ...]
    latency: float | None = None
    #: When the merge happened, as far as the cycle's clock can tell.
    merged_at: datetime | None = None
    #: For a blueprint edit: the digest of the blueprint file as the merge left it (None when
    #: the merge left no such file). A refused edit holds the service while it is loaded.
    merged_digest: str | None = None
    #: For a blueprint edit: the path of the blueprint file the proposal edits.
    merged_path: str = ""
    #: Paths the merge changed beside the proposed files (None when the forge cannot tell):
    #: a refusal that brought in anything else may have brought in records of the trail too.
    beyond: tuple[str, ...] | None = ()
    #: Why it approves nothing, as a code (None when granted).
    refusal: Refusal | None = None
    landing: Landing = Landing.MERGE


def judge_merge(
    pending: Pending,
    proposal: Proposal,
    blueprint: Blueprint | None,
    is_member: Callable[[str, str], bool],
    now: datetime,
) -> MergeJudgement:
    """Does this merge approve the proposal? Every reason to refuse is listed.

    The proposal's files are read where the merge left them (the forge's job), and compared
    with the digests the audit trail recorded when the reconciler proposed them: the branch
    and the pull request's body can be changed by anyone who can push, the trail cannot. The
    merge must change no other path (`Proposal.changed`, which the forge reports). A
    blueprint edit is judged by the merged file, not by `blueprint`, which is whatever this
    cycle loaded and may predate the merge; `blueprint` only supplies the source path and the
    forbidden operations inherited from the global policies.

    A merge time later than the cycle's own clock counts as "now": on the simulated cluster
    the cycle runs on virtual time while a person merges on the wall clock, and a merge cannot
    have happened after the cycle that finds it.
    """
    metadata = pending.metadata
    approvers = [str(a) for a in metadata.get("approvers", [])]
    who = proposal.merged_by or ""
    #: Reasons about who merged it and when: with the proposal merged as proposed, they make
    #: it a landing without approval; the others, a merge of something else.
    unapproved = []
    if not who:
        unapproved.append(
            "nobody is recorded as having merged it (a fast-forward or a push to the "
            "main branch), so no approver can be identified; merge with a merge commit"
        )
    elif not any(is_member(approver, who) for approver in approvers):
        unapproved.append(
            f"it was merged by {who}, who is not an approver "
            f"({', '.join(approvers) or 'none configured'})"
        )
    merged_at = proposal.merged_at
    if merged_at is not None and utc(merged_at) > utc(now):
        merged_at = utc(now)
    if merged_at is not None and utc(merged_at) > pending.expires_at:
        unapproved.append(
            f"it was merged at {utc(merged_at):%H:%M:%S}Z, after it expired at "
            f"{pending.expires_at:%H:%M:%S}Z"
        )
    reasons: list[str] = []
    digests = metadata.get("digests") or {}
    if not digests:
        reasons.append(
            "the audit trail holds no digest of the proposed files, so what was merged cannot "
            "be checked against what was proposed"
        )
    for path, expected in digests.items():
        actual = proposal.files.get(path)
        if actual is not None and digest(actual) == expected:
            continue
        if pending.kind is Kind.REQUEST:
            reasons.append(f"the request file {path} changed after the reconciler proposed it")
        elif actual is None:
            reasons.append(f"the merge left no {path}, the file the reconciler proposed to edit")
        else:
            reasons.append(
                f"{path} as merged is not what the reconciler proposed (commits were added to "
                "the proposal, or the main branch changed the file since): only the proposed "
                "edit can be approved"
            )
    beyond = _extra_paths(metadata, digests, proposal.changed)
    reasons += _beyond_the_proposal(beyond)
    merged_digest = None
    path = ""
    if pending.kind is Kind.BLUEPRINT:
        path = next(iter(digests), blueprint.source if blueprint is not None else "")
        text = proposal.files.get(path)
        merged_digest = None if text is None else digest(text)
        inherited = () if blueprint is None else _global_forbidden(blueprint)
        now_forbidden = None if text is None else forbidden_in(text, inherited)
        if text is not None and now_forbidden is None:
            reasons.append(f"{path} as merged is not a readable blueprint")
        loosened = sorted(set(metadata.get("forbidden", [])) - (now_forbidden or set()))
        if now_forbidden is not None and loosened:
            reasons.append(
                "the merged blueprint no longer forbids "
                + ", ".join(loosened)
                + ": an approval pull request cannot make a forbidden operation possible"
            )
    latency = (utc(merged_at) - pending.created_at).total_seconds() if merged_at else None
    refusal = None
    if reasons:
        refusal = Refusal.NOT_AS_PROPOSED
    elif unapproved:
        refusal = Refusal.LANDED_WITHOUT_APPROVAL
    return MergeJudgement(
        judgement=Judgement.REFUSED if refusal else Judgement.GRANTED,
        reasons=(*unapproved, *reasons),
        latency=latency,
        merged_at=merged_at,
        merged_digest=merged_digest,
        merged_path=path,
        beyond=beyond,
        refusal=refusal,
        landing=Landing.MERGE if who else Landing.UNATTRIBUTED,
    )


def still_as_proposed(pending: Pending, proposal: Proposal) -> bool:
    """Whether an open proposal whose branch moved still changes exactly what the reconciler
    proposed: every proposed file as recorded, and no other path against the base. Bringing
    the branch up to date with the main branch (GitHub's "Update branch", a merge of main
    into it, or a rebase onto main) leaves it so, and is not a person's edit: merging it still
    approves the proposal. Anything else pushed there makes the merge approve nothing."""
    metadata = pending.metadata
    digests = metadata.get("digests") or {}
    if not digests or proposal.changed is None:
        return False
    for path, expected in digests.items():
        actual = proposal.files.get(path)
        if actual is None or digest(actual) != expected:
            return False
    return not _extra_paths(metadata, digests, proposal.changed)


# ---------------------------------------------------------------------------------------------
# A proposal's change on the main branch without a merge of the proposal

#: The blueprint fields a blueprint edit may change, and how to read each from a Blueprint.
_EDITABLE: Mapping[str, Callable[[Blueprint], object]] = {
    "spec.scaling.max_replicas": lambda blueprint: blueprint.scaling.max_replicas,
    "spec.scaling.min_replicas": lambda blueprint: blueprint.scaling.min_replicas,
}


def proposed_fields(metadata: Mapping[str, Any]) -> dict[str, object]:
    """The blueprint fields a blueprint edit changes, and the values it proposes.

    Recorded in the metadata since the reconciler began to record them (`fields`); for an
    older proposal, read from its target: above the replicas it was proposed at, a raise of
    `max_replicas`, else a lowering of `min_replicas`."""
    if metadata.get("kind") != str(Kind.BLUEPRINT):
        return {}
    fields_ = metadata.get("fields")
    if isinstance(fields_, dict):
        return {str(name): value for name, value in fields_.items() if name in _EDITABLE}
    target, current = metadata.get("target_replicas"), metadata.get("current_replicas")
    if not isinstance(target, int):
        return {}
    raised = not isinstance(current, int) or target > current
    return {f"spec.scaling.{'max_replicas' if raised else 'min_replicas'}": target}


def carries_change(blueprint: Blueprint, metadata: Mapping[str, Any]) -> bool:
    """Whether `blueprint` is a blueprint edit's proposed file, or has the values it proposes
    in every field it changes, though it is not the blueprint the edit was proposed against.

    This is a blueprint edit's change landing, however it got there: the file as proposed
    (a squash, a cherry-pick, a rebase of the branch), or the proposed values among other
    edits (landed in part, or edited further since). Whoever made it, the proposal is what
    asked for it, and only an approver's merge of the proposal approves it."""
    if metadata.get("kind") != str(Kind.BLUEPRINT):
        return False
    if metadata.get("blueprint_digest") == blueprint.digest:
        return False  # still the blueprint it was proposed against: nothing landed
    proposed = (metadata.get("digests") or {}).get(blueprint.source)
    if proposed is not None and proposed == blueprint.digest:
        return True
    wanted = proposed_fields(metadata)
    return bool(wanted) and all(
        _EDITABLE[name](blueprint) == value for name, value in wanted.items()
    )


def landed_without_approval(blueprint: Blueprint, records: Sequence[Record]) -> list[Record]:
    """Blueprint edits that ended without approval (rejected, expired, superseded) whose
    proposed file is now the blueprint, byte for byte: each a landing without approval,
    which no judgement recorded yet. The last record of each such proposal.

    An ended proposal is watched for its exact file rather than its values: long after it
    ended, a person may set the same value through the repository's own review, while the
    proposed file itself (its version bump, every byte) only lands by copying the proposal.
    A proposal still waiting is judged with its values (`carries_change`), when it is looked
    up on the forge."""
    ended = (EventType.APPROVAL_REJECTED, EventType.APPROVAL_EXPIRED, EventType.APPROVAL_SUPERSEDED)
    last: dict[str, Record] = {}
    for record in sorted(records, key=Record.sort_key):
        last[_approval_of(record)] = record
    found = []
    for record in last.values():
        metadata = record.details.get("metadata") or {}
        if record.event_type not in ended or record.outcome is Outcome.PENDING:
            continue
        if metadata.get("kind") != str(Kind.BLUEPRINT):
            continue
        proposed = (metadata.get("digests") or {}).get(blueprint.source)
        if proposed == blueprint.digest and metadata.get("blueprint_digest") != blueprint.digest:
            found.append(record)
    return found


#: How many unproposed paths a refusal names before it counts the rest.
_SHOWN_PATHS = 10


def _extra_paths(
    metadata: Mapping[str, Any], digests: Mapping[str, Any], changed: Sequence[str] | None
) -> tuple[str, ...] | None:
    """The paths the merge changed beside the proposed ones; None when the forge cannot tell."""
    if changed is None:
        return None
    proposed = {str(path) for path in (*(metadata.get("files") or ()), *digests)}
    return tuple(sorted(set(changed) - proposed))


def _beyond_the_proposal(extra: Sequence[str] | None) -> list[str]:
    """Why the merge brought in more than the proposed files, or nothing.

    A branch can carry commits beside the reconciler's, and an approver reviewing "the
    proposal" may not look at them: a file added under `audit/` would be taken for a record
    the reconciler wrote, one under `blueprints/` would change another service. A merge
    approves the proposed files alone, or nothing."""
    if extra is None:
        return [
            "the forge did not say which files the merge changed, so it cannot be checked that "
            "it changed only the proposed ones"
        ]
    if not extra:
        return []
    shown = ", ".join(extra[:_SHOWN_PATHS])
    if len(extra) > _SHOWN_PATHS:
        shown += f" and {len(extra) - _SHOWN_PATHS} more"
    return [
        f"the merge also changed {shown}, which the reconciler did not propose: a merge "
        "approves only the proposed files, and anything else goes through its own review "
        "(revert the merge: those files are on the main branch all the same)"
    ]


def _global_forbidden(blueprint: Blueprint) -> tuple[str, ...]:
    return tuple(
        rule.operation
        for rule in blueprint.policy.rules
        if rule.tier is Tier.FORBIDDEN and rule.origin == "global"
    )


def forbidden_in(text: str, inherited: Iterable[str] = ()) -> set[str] | None:
    """The operations a blueprint's text forbids, with those it inherits; None when the text
    is not a YAML mapping.

    Read from the raw document rather than a loaded Blueprint: loading needs the global
    policies, and what matters here is only which names the file still lists."""
    try:
        document = parse_yaml(text.encode())
    except YamlError:
        return None
    governance = document.data.get("governance")
    authority = governance.get("agent_authority") if isinstance(governance, dict) else None
    entries = authority.get(TIER_KEYS[Tier.FORBIDDEN]) if isinstance(authority, dict) else None
    names = set(inherited)
    for entry in entries if isinstance(entries, list) else []:
        name = entry.get("operation") if isinstance(entry, dict) else entry
        if isinstance(name, str):
            names.add(name)
    return names


# ---------------------------------------------------------------------------------------------
# Holding a service while its blueprint is not an approved one


def approval_hold(
    blueprint: Blueprint, records: Sequence[Record], *, settled: Collection[str] = ()
) -> str:
    """Why the service must not be acted on now, or "".

    Two cases, both about a blueprint that no approval stands behind:

    - it is the one a refused blueprint edit merged (the refusal recorded its digest): held
      until it is reverted or changed again;
    - a blueprint edit is still waiting for its judgement in the trail and the blueprint is
      no longer the one that edit was proposed against: the edit may have been merged, and
      nobody has checked who merged it or what. Held until the merge is judged (or the
      proposal is found open, closed, or expired). `settled` are the keys of proposals this
      cycle found still open or concluded; a caller that did not ask the forge (the `request`
      command, a run without a forge or a dry run) passes none, and waits for a run to judge
      the merge.

    `records` are the service's approval records (`APPROVAL_EVENTS`), any age.
    """
    refused = _refused_blueprint(blueprint, records)
    if refused is not None:
        return (
            f"held: the blueprint is the one {refused.details.get('reference')} merged without "
            f"a valid approval ({refused.rationale.rstrip('.')}); revert it or change it "
            "through an approved proposal"
        )
    for ended in landed_without_approval(blueprint, records):
        reference = proposal_reference(ended)
        return (
            f"held: the blueprint is the file {reference} proposed, though {reference} ended "
            f"without approval ({ended.event_type}): it landed without approval; revert it or "
            "change it through an approved proposal"
        )
    for pending in pending_proposals(records):
        if pending.kind is not Kind.BLUEPRINT or pending.key in settled:
            continue
        if pending.metadata.get("blueprint_digest") == blueprint.digest:
            continue  # the blueprint is still the one proposed against: nothing merged yet
        reference = (
            f"#{pending.number}" if pending.number is not None else pending.branch or pending.key
        )
        return (
            f"held: the blueprint changed since {reference} was proposed, and that proposal "
            "has not been judged yet, so the change may be its merge and nobody has checked "
            "who merged it or what; the next run that can reach the forge judges it"
        )
    return ""


def proposal_reference(record: Record) -> str:
    """How a proposal is named to people: its pull request's number, else its branch."""
    details = record.details
    number = details.get("number")
    if isinstance(number, int) and not isinstance(number, bool):
        return f"#{number}"
    return str(details.get("reference") or details.get("branch") or details.get("key") or "")


def _refused_blueprint(blueprint: Blueprint, records: Sequence[Record]) -> Record | None:
    """The refusal of a blueprint edit whose merge the loaded blueprint still is, unless a
    later approval stands behind this very blueprint.

    A refusal records the digest of the file its merge produced, and the blueprint is held
    while it is byte for byte that file. When the merge left no file at the proposed path
    (it deleted or moved it), that digest is unknown; what the merge produced is then "no
    blueprint at that path", and the service is held while its blueprint is loaded from
    anywhere else: until a file is back at that path (a revert, or a commit after the merge).

    A later grant of a blueprint edit whose merge produced the same bytes (the edit reverted,
    proposed again and merged by an approver) does approve this blueprint, and ends the
    hold. Only a grant the trail stands behind counts: a proposal of its own (an
    `approval_requested` record with its id before it) that was never refused; and never
    for a refusal whose merge brought in paths beside the proposed ones (or whose paths the
    forge could not tell), since those may have been records of this very trail."""
    ordered = sorted(records, key=Record.sort_key)
    for index in range(len(ordered) - 1, -1, -1):
        record = ordered[index]
        details = record.details
        if (
            record.event_type is not EventType.APPROVAL_REFUSED
            or "merged_blueprint_digest" not in details
        ):
            continue
        merged = details.get("merged_blueprint_digest")
        if merged is None:
            metadata = details.get("metadata") or {}
            path = details.get("blueprint_path") or next(iter(_proposed_paths(metadata)), "")
            if not path or blueprint.source == path:
                continue
        elif merged != blueprint.digest:
            continue
        if details.get("beyond_proposal") == [] and _granted_later(
            ordered, index, blueprint.digest
        ):
            continue
        return record
    return None


def _granted_later(ordered: Sequence[Record], index: int, wanted: str) -> bool:
    """Whether a grant after `ordered[index]` approved a blueprint edit whose merge produced
    the `wanted` digest, and the trail stands behind it (see `_refused_blueprint`)."""
    refused = {_approval_of(r) for r in ordered if r.event_type is EventType.APPROVAL_REFUSED}
    for position in range(index + 1, len(ordered)):
        grant = ordered[position]
        if (
            grant.event_type is not EventType.APPROVAL_GRANTED
            or grant.details.get("merged_blueprint_digest") != wanted
        ):
            continue
        approval_id = _approval_of(grant)
        if approval_id in refused:
            continue
        if any(
            r.event_type is EventType.APPROVAL_REQUESTED and r.id == approval_id
            for r in ordered[:position]
        ):
            return True
    return False


# ---------------------------------------------------------------------------------------------
# Authorizations: what a granted approval lets the next cycle do


@dataclass(frozen=True, kw_only=True)
class Authorization:
    """A granted approval, carried into planning so the change it allows says who allowed it."""

    approval_id: str
    reference: str
    merged_by: str
    merged_at: datetime | None
    latency: float | None
    kind: Kind
    operation: str
    target_replicas: int | None
    current_replicas: int | None
    parameters: Mapping[str, Any]

    def describe(self) -> str:
        when = f" at {utc(self.merged_at):%Y-%m-%d %H:%M:%S}Z" if self.merged_at else ""
        return f"{self.reference}, merged by {self.merged_by}{when}"

    def to_json(self) -> dict[str, Any]:
        return {
            "approval_id": self.approval_id,
            "reference": self.reference,
            "merged_by": self.merged_by,
            "merged_at": self.merged_at,
            "approval_latency_seconds": self.latency,
            # What the proposal was made from: where a merge that edited the manifests took
            # the service from (coexistence: write_back).
            "current_replicas": self.current_replicas,
        }

    def request(self, blueprint: Blueprint, current_replicas: int) -> OperationRequest:
        """The one-off operation a granted request file approved."""
        return OperationRequest(
            operation=self.operation,
            service=blueprint.name,
            origin=Origin.APPROVAL,
            current_replicas=current_replicas if self.target_replicas is not None else None,
            target_replicas=self.target_replicas,
            decision_id=self.approval_id,
            reason=f"approved in {self.reference} by {self.merged_by}",
            requested_by=self.merged_by,
            parameters=self.parameters,
        )


def stale_reason(metadata: Mapping[str, Any], state: DeploymentState) -> str:
    """Why an approved one-off request no longer fits the deployment, or "".

    A request describes the deployment it was proposed for: its replicas, its revision, and
    the values a change replaces (`*_before` parameters, e.g. `cpu_request_before`). If what
    the operation depends on moved since (the replicas of a scale, the requests a resources
    change replaces, the revision of a rollback), someone changed the deployment meanwhile,
    and carrying out the approval now (a rollback after a person already shipped a fixed
    release, say) would act on a deployment the approver never saw. What it does not depend
    on is not compared: another approved request carried out first (a resources change,
    which rolls out a new revision) leaves a scale approved beside it as it was."""
    if metadata.get("kind") != str(Kind.REQUEST):
        return ""
    done = state.last_change  # carried out, though its run may have died before recording it
    if done is not None and done.approval_id and done.approval_id == metadata.get("approval_id"):
        return f"already carried out as {done.operation_id}, as the deployment's stamp shows"
    changed = []
    parameters = metadata.get("parameters") or {}
    current = metadata.get("current_replicas")
    scale = isinstance(metadata.get("target_replicas"), int)
    resources = any(str(key).endswith("_before") for key in parameters)
    # A proposal that edits the manifests a GitOps tool applies is carried out by its merge:
    # the deployment already at the target is that merge rolled out, not someone else's change.
    rolled_out = bool(metadata.get("write_back")) and state.replicas == metadata.get(
        "target_replicas"
    )
    if isinstance(current, int) and current != state.replicas and not rolled_out:
        changed.append(f"replicas {current} (now {state.replicas})")
    # Only what the operation depends on: a scale, the replicas; a resources change, the
    # values it replaces; anything else (a rollback, a restart), the revision. A change the
    # reconciler made under another approval (a second request for the same service) moves
    # the revision, and must not make a scale approved beside it stale.
    revision = metadata.get("revision")
    if not scale and not resources and isinstance(revision, int) and revision != state.revision:
        changed.append(f"revision {revision} (now {state.revision})")
    known = {f.name for f in fields(DeploymentState)}
    for key, before in sorted(parameters.items()):
        if not key.endswith("_before"):
            continue
        name = key.removesuffix("_before")
        if name not in known:
            changed.append(f"{name} {_shown(name, before)} (the deployment does not say)")
            continue
        now_value = getattr(state, name)
        if now_value != before:
            changed.append(f"{name} {_shown(name, before)} (now {_shown(name, now_value)})")
    if not changed:
        return ""
    return (
        "overtaken by the state: it was proposed when the deployment had "
        + ", ".join(changed)
        + "; propose it again if it is still wanted"
    )


def unusable_reason(metadata: Mapping[str, Any], blueprint: Blueprint) -> str:
    """Why an approved one-off request cannot be carried out on any deployment, or "".

    Its numbers were checked when it was proposed, but the bounds may have tightened since (a
    lower fleet ceiling), or the proposal predates them. A merge approves the numbers it shows,
    and none of these can be carried out, so it is refused rather than left to fail each run.
    """
    if metadata.get("kind") != str(Kind.REQUEST):
        return ""
    beyond = out_of_bounds(
        metadata.get("target_replicas"),
        metadata.get("parameters") or {},
        ceiling=blueprint.scaling.replica_ceiling,
    )
    return "" if beyond is None else f"out of bounds: {beyond.problem}"


def _shown(name: str, value: object) -> str:
    if not isinstance(value, int) or isinstance(value, bool):
        return "unset" if value is None else str(value)
    if name.startswith("cpu_"):
        return format_cpu(value)
    if name.startswith("memory_"):
        return format_memory(value)
    return str(value)


# ---------------------------------------------------------------------------------------------
# Records


def approval_record(
    event: EventType,
    outcome: Outcome,
    blueprint: Blueprint | None,
    service: str,
    pending_or_meta: Mapping[str, Any],
    proposal: Proposal | None,
    rationale: str,
    now: datetime,
    *,
    links: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Record:
    metadata = dict(pending_or_meta)
    approval_id = str(metadata.get("approval_id", ""))
    record_id = (
        approval_id
        if event is EventType.APPROVAL_REQUESTED and approval_id
        else make_id("apr", now, service, event, approval_id)
    )
    return Record(
        id=record_id,
        timestamp=utc(now),
        event_type=event,
        service=service,
        blueprint_version=blueprint.version
        if blueprint
        else str(metadata.get("blueprint_version", "")),
        provenance=blueprint.provenance if blueprint else Provenance(),
        outcome=outcome,
        rationale=rationale,
        operation=str(metadata.get("operation", "")) or None,
        classification="restricted",
        links={"approval": approval_id, **{k: v for k, v in (links or {}).items() if v}},
        details={
            "key": metadata.get("key"),
            "metadata": metadata,
            "branch": proposal.branch if proposal else None,
            "number": proposal.number if proposal else None,
            "url": proposal.url if proposal else None,
            "head": proposal.head if proposal else None,
            **(extra or {}),
        },
    )


def worse_than(metadata: Mapping[str, Any], decision: Decision | None, target: int | None) -> bool:
    """Materially worse than when a proposal was rejected: a larger target, or weighted
    utilization up by MATERIALLY_WORSE or more."""
    old_target = metadata.get("target_replicas")
    if isinstance(old_target, int) and target is not None and target > old_target:
        return True
    old_w = metadata.get("weighted_utilization")
    new_w = None if decision is None else decision.weighted.value
    return isinstance(old_w, float) and new_w is not None and new_w - old_w >= MATERIALLY_WORSE


_STATE_BY_EVENT = {
    EventType.APPROVAL_REQUESTED: "pending",
    EventType.APPROVAL_UPDATED: "pending",
    EventType.APPROVAL_GRANTED: "approved",
    EventType.APPROVAL_REJECTED: "rejected",
    EventType.APPROVAL_EXPIRED: "expired",
    EventType.APPROVAL_SUPERSEDED: "superseded",
    EventType.APPROVAL_REFUSED: "refused",
}


def approval_summaries(records: Sequence[Record]) -> list[dict[str, Any]]:
    """One summary per proposal (by approval id), from its records, newest state last."""
    summaries: dict[str, dict[str, Any]] = {}
    for record in sorted(records, key=Record.sort_key):
        metadata = record.details.get("metadata") or {}
        approval_id = str(metadata.get("approval_id") or record.links.get("approval") or record.id)
        item = summaries.setdefault(
            approval_id,
            {
                "approval_id": approval_id,
                "service": record.service,
                "cluster": record.cluster,
                "key": record.details.get("key"),
                "operation": metadata.get("operation"),
                "kind": metadata.get("kind"),
                "target_replicas": metadata.get("target_replicas"),
                "approvers": metadata.get("approvers", []),
                "created_at": metadata.get("created_at"),
                "expires_at": metadata.get("expires_at"),
            },
        )
        state = _STATE_BY_EVENT.get(record.event_type)
        if state is None:
            continue
        if record.event_type is EventType.APPROVAL_EXPIRED and record.outcome is Outcome.PENDING:
            state = "pending"
            item["timed_out"] = True
        item["state"] = state
        item["reference"] = (
            record.details.get("reference")
            or (
                f"#{record.details['number']}"
                if record.details.get("number")
                else record.details.get("branch")
            )
            or item.get("reference")
        )
        item["url"] = record.details.get("url") or item.get("url")
        item["summary"] = (
            record.rationale.split(": proposed as")[0]
            if state == "pending"
            else item.get("summary") or record.rationale
        )
        if record.event_type is EventType.APPROVAL_GRANTED:
            item["merged_by"] = record.details.get("merged_by")
            item["merged_at"] = record.details.get("merged_at")
            item["approval_latency_seconds"] = record.details.get("approval_latency_seconds")
        if record.event_type is EventType.APPROVAL_REFUSED:
            item["reason"] = "; ".join(record.details.get("reasons") or [record.rationale])
        item["updated_at"] = record.timestamp
    return list(summaries.values())
