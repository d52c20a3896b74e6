"""Drafting a proposal: the blueprint edit or request file that asks a person for what the
reconciler may not do alone, with its branch, title and body.

A blueprint edit widens authority for good (one field, comments and formatting kept, patch
version bumped); a request file under `requests/<service>/` carries a one-off operation that the
reconciler carries out, governed again, once an approver merged it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from reconciler.core.approvals.feedback import TrailLinks
from reconciler.core.approvals.lifecycle import LABELS, Kind, digest
from reconciler.core.approvals.proposals import Draft, render_metadata, where_is
from reconciler.core.blueprint.model import Blueprint, Tier
from reconciler.core.blueprint.units import Money, format_duration, format_percent, parse_semver
from reconciler.core.blueprint.yamlsafe import Path, YamlError, parse_yaml
from reconciler.core.decide.decision import Decision
from reconciler.core.decide.governance import OperationRequest, Origin, Verdict
from reconciler.core.ids import utc
from reconciler.core.observed.observation import Sample
from reconciler.core.trail.records import EventType, clean_line, path_of

__all__ = ["draft_for", "edit_yaml"]


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


def _merging_manifests(manifest_files: Mapping[str, str]) -> str:
    """What merging does to the manifests the proposal edits: here, or, kept in another
    repository, through the pull request paired with this one there."""
    located = [where_is(key) for key in sorted(manifest_files)]
    elsewhere_ = sorted({repository for repository, _ in located if repository})
    paths = ", ".join(f"`{path}`" for _, path in located)
    if elsewhere_:
        return (
            f" The manifests the GitOps tool applies live in {', '.join(elsewhere_)}: the "
            f"proposal is also a pull request there, editing {paths}. Merging that one is the "
            "approval and the change itself, which the tool rolls out and the reconciler then "
            "records and verifies; the reconciler then merges this one."
        )
    return (
        f" The proposal also edits {paths}, the manifests the GitOps tool applies: merging is "
        "the change itself, which the tool rolls out and the reconciler then records and "
        "verifies."
    )


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
    if kind is Kind.BLUEPRINT:
        change = _blueprint_change(request, blueprint, blueprint_text, evidence)
    else:
        change = _request_change(request, service, approval_id, now, expires)
    files, merging = _with_manifests(change, manifest_files)
    metadata = _metadata(
        request, verdict, blueprint, evidence, approval_id, now, expires, topic, kind, files
    )
    metadata["fields"] = {
        f"spec.scaling.{field}": value for field, value in change.edited_fields.items()
    }
    if manifest_files:
        # The manifests the proposal edits: its merge is the change (coexistence: write_back).
        metadata["write_back"] = sorted(manifest_files)
    body = _body(
        request,
        verdict,
        blueprint,
        evidence,
        list(change.rows),
        merging,
        change.rollback,
        expires,
        metadata,
    )
    record = path_of(service, EventType.APPROVAL_REQUESTED, approval_id, now)
    draft = Draft(
        key=str(metadata["key"]),
        branch=f"reconciler/{service}/{topic}",
        title=change.title,
        body=_with_records(body, metadata, record, links),
        files=files,
        labels=(*LABELS, f"service:{service}"),
        reviewers=tuple(verdict.approvers),
        commit_message=_commit_message(change.title, approval_id, service),
    )
    return draft, metadata


def _with_manifests(
    change: _Change, manifest_files: Mapping[str, str] | None
) -> tuple[dict[str, str], str]:
    """The files a proposal edits and what merging it does, with the manifests the GitOps
    tool applies when it carries them (coexistence: write_back)."""
    files, merging = dict(change.files), change.merging
    if manifest_files:
        files.update(manifest_files)
        merging += _merging_manifests(manifest_files)
    return files, merging


def _commit_message(title: str, approval_id: str, service: str) -> str:
    return (
        f"{title}\n\nProposed by the reconciler; merging this branch is the approval.\n\n"
        f"Reconciler-Approval: {approval_id}\nReconciler-Service: {service}\n"
    )


@dataclass(frozen=True, kw_only=True)
class _Change:
    """What a proposal changes, and how its body puts it: the files, the blueprint fields an
    edit sets, the table rows, what merging does and how to undo it."""

    files: Mapping[str, str]
    edited_fields: Mapping[str, int]
    rows: Sequence[tuple[str, str, str]]
    title: str
    merging: str
    rollback: str


def _blueprint_change(
    request: OperationRequest, blueprint: Blueprint, blueprint_text: str, evidence: Evidence
) -> _Change:
    """A blueprint edit: the one replica bound the target crosses, and the patch version,
    edited in place so the file keeps its comments and formatting."""
    current, target = request.current_replicas, request.target_replicas
    scaling = blueprint.scaling
    assert target is not None
    field_name = "max_replicas" if target > scaling.max_replicas else "min_replicas"
    old = getattr(scaling, field_name)
    new_version = bump_patch(blueprint.version)
    edited = edit_yaml(
        blueprint_text,
        {("spec", "scaling", field_name): str(target), ("metadata", "version"): new_version},
    )
    verb = "raise" if target > old else "lower"
    return _Change(
        files={blueprint.source: edited},
        edited_fields={field_name: target},
        rows=(
            (f"`spec.scaling.{field_name}`", str(old), str(target)),
            ("`metadata.version`", blueprint.version, new_version),
            ("replicas", str(evidence.current_replicas or current), str(target)),
        ),
        title=f"{blueprint.name}: {verb} {field_name} {old} → {target} (approval needed)",
        merging=(
            f"Merging changes `spec.scaling.{field_name}` from {old} to {target} in "
            f"`{blueprint.source}` for good. The next cycle then scales to {target} replicas as "
            "an ordinary allowed change (`scale_within_limits`), verifies it, and records that "
            "this pull request authorised it."
        ),
        rollback=(
            f"Scale back to {evidence.current_replicas or current} replicas (allowed, automatic "
            f"if the change fails verification), and revert `{field_name}` to {old} with a "
            "follow-up change to the blueprint."
        ),
    )


def _request_change(
    request: OperationRequest, service: str, approval_id: str, now: datetime, expires: datetime
) -> _Change:
    """A request file under `requests/<service>/`: a one-off operation, approved once."""
    import yaml

    current, target = request.current_replicas, request.target_replicas
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
    rows = [("replicas", str(current), str(target))] if target is not None else []
    rows.append(("operation", "-", request.operation))
    return _Change(
        files={path: "# One-off operation; merging this file approves it, once.\n" + content},
        edited_fields={},
        rows=rows,
        title=f"{service}: {request.describe()} (approval needed)",
        merging=(
            f"Merging approves `{request.operation}` once: the next cycle checks that the service "
            "is still as described here, governs the operation again, carries it out, verifies "
            "it, and records that this pull request authorised it. Nothing else changes."
        ),
        rollback=(
            f"Scale back to {current} replicas."
            if current is not None and target is not None
            else "Roll back to the revision the deployment has now."
        ),
    )


def _metadata(
    request: OperationRequest,
    verdict: Verdict,
    blueprint: Blueprint,
    evidence: Evidence,
    approval_id: str,
    now: datetime,
    expires: datetime,
    topic: str,
    kind: Kind,
    files: Mapping[str, str],
) -> dict[str, Any]:
    """The proposal's metadata: what the audit trail keeps of it, and every later judgement
    of a merge reads (never the pull request's body, which anyone may edit)."""
    decision = evidence.decision
    service = blueprint.name
    return {
        "version": 1,
        "key": f"{service}/{topic}",
        "service": service,
        "kind": str(kind),
        "approval_id": approval_id,
        "operation": request.operation,
        "origin": str(request.origin),
        "current_replicas": request.current_replicas,
        "target_replicas": request.target_replicas,
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
        "fields": {},
        "approvers": list(verdict.approvers),
        "forbidden": sorted(blueprint.policy.names(Tier.FORBIDDEN)),
        "weighted_utilization": None if decision is None else decision.weighted.value,
        "created_at": utc(now).isoformat().replace("+00:00", "Z"),
        "expires_at": expires.isoformat().replace("+00:00", "Z"),
    }


def _with_records(
    body: str, metadata: Mapping[str, Any], record: str, links: TrailLinks | None
) -> str:
    """The body with a section linking the proposal's own record in the audit trail (its
    path is known before it is written) and the run that proposed it, when there are links."""
    trail = links.file(record) if links is not None else ""
    run = links.run if links is not None else ""
    if not (trail or run):
        return body
    found = [f"- [This proposal's record]({trail}) in the audit trail." if trail else ""]
    found.append(f"- Proposed by [this run]({run})." if run else "")
    section = ["## Records", "", *[line for line in found if line], ""]
    marker = render_metadata(metadata)
    return body.replace(marker, "\n".join(section) + "\n" + marker)


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
    lines = ["## Why this needs you", "", *_why(request, blueprint, evidence)]
    lines += ["", f"**Rule:** {verdict.reasons[0]}", ""]
    lines += ["## Current and proposed", "", *_state_table(rows), ""]
    risk = blueprint.policy.catalogue.get(request.operation)
    lines += ["## Risk and cost", ""]
    if risk is not None:
        lines.append(f"- Risk: {risk.risk} ({risk.summary}).")
    lines += _cost_lines(blueprint, request.current_replicas, request.target_replicas)
    lines += ["", "## What merging does", "", merging, ""]
    lines += ["## Rollback plan", "", rollback, ""]
    lines += _approval_lines(verdict, blueprint, expires)
    chart = _chart(blueprint, evidence.samples)
    if chart:
        lines += ["## Recent load", "", *chart, ""]
    lines += [render_metadata(metadata), ""]
    return "\n".join(lines)


def _why(request: OperationRequest, blueprint: Blueprint, evidence: Evidence) -> list[str]:
    """For a decision, its rationale and the metrics behind it against the thresholds; for a
    request, who asked for what and why."""
    decision = evidence.decision
    if decision is None:
        # One line each, control characters escaped: the body is also the local forge's
        # commit message, where a person's text must not start a line (docs/audit-trail.md).
        who = clean_line(request.requested_by or "someone")
        return [
            f"{who} asked for `{request.operation}`"
            + (f": {clean_line(request.reason)}" if request.reason else ".")
        ]
    w = decision.weighted
    lines = [f"{decision.rationale}", "", "| metric | value | weight |", "|---|---|---|"]
    for c in w.components:
        shown = (
            "missing"
            if c.value is None
            else (f"{c.value:g} ms" if c.type == "latency" else format_percent(c.value))
        )
        lines.append(f"| {c.type} | {shown} | {c.weight:g} |")
    scaling = blueprint.scaling
    return [
        *lines,
        "",
        "Weighted utilization: "
        f"**{'unknown' if w.value is None else format_percent(w.value)}** "
        f"(scale up above {format_percent(scaling.scale_up_threshold)}, down below "
        f"{format_percent(scaling.scale_down_threshold)}).",
    ]


def _approval_lines(verdict: Verdict, blueprint: Blueprint, expires: datetime) -> list[str]:
    """Who may approve, until when and what happens then, and what closing it means."""
    approvers = ", ".join(f"@{a}" for a in verdict.approvers) or "(no approvers configured)"
    approval = blueprint.policy.approval
    on_timeout = (
        "it is closed as expired"
        if approval.auto_reject_on_timeout
        else "it stays open for a person to decide, with a comment saying it timed out, and "
        "the reconciler no longer updates it"
    )
    return [
        "## Approval",
        "",
        f"- Approvers: {approvers}. A merge by anyone else approves nothing.",
        f"- Expires {expires:%Y-%m-%d %H:%M}Z ({format_duration(approval.timeout)} after it was "
        f"opened); then {on_timeout}.",
        "- Closing without merging rejects it; the same proposal is not made again for "
        f"{format_duration(approval.rejection_cooloff)}, unless the load gets materially worse.",
        "",
    ]
