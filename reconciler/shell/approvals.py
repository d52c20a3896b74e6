"""The approval lifecycle, run for each service in every cycle, through the Forge port.

Before deciding: every proposal the trail says is open is looked up on the forge. A merge is
judged (an approver? only what it says? still fresh?) and recorded as granted or refused; a
proposal closed unmerged is a rejection; an expired one is closed (or, without auto-reject,
marked and left alone). A granted request becomes the cycle's operation, once, and only when
the trail holds the proposal it grants (a record is only a file: one slipped into git grants
nothing); a refused blueprint edit holds the service until the blueprint changes again, and so
does a blueprint edit that could not be judged (the forge did not answer) while the blueprint
is no longer the one it was proposed against. A blueprint edit merged after this cycle loaded
the blueprints is judged by the merged file, and the service waits for the next run, which
loads it.

After deciding: each operation that needs approval is proposed, or its open proposal is
updated in place when the need changed (never duplicated), or left alone when nothing
changed, so a second run with nothing new makes no write to the forge. A person's push to a
proposal's branch stops the reconciler from rewriting it; bringing the branch up to date with
the main branch (which changes nothing the proposal changes) does not.

Each event also sets the proposal's status on the forge (`reconciler/approval`): whether
merging it now would be an approval. Statuses are set only when something happened, never
re-sent by an idle run. Proposals the load no longer calls
for are closed as superseded. New proposals per run are capped, and a rejected proposal is not
made again during its cool-off unless the load got materially worse.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from reconciler.core.approvals.authorization import Authorization, stale_reason, unusable_reason
from reconciler.core.approvals.dashboard import Waiting
from reconciler.core.approvals.drafting import Evidence, draft_for
from reconciler.core.approvals.feedback import ProposalStatus, Standing, TrailLinks, proposal_status
from reconciler.core.approvals.holds import approval_hold, proposal_reference
from reconciler.core.approvals.judging import Judgement, judge_merge, still_as_proposed
from reconciler.core.approvals.landings import carries_change, landed_without_approval
from reconciler.core.approvals.lifecycle import CONCLUDED, Kind, Landing, Refusal
from reconciler.core.approvals.pending import Pending, pending_proposals
from reconciler.core.approvals.proposals import CommentTopic, Proposal, ProposalState
from reconciler.core.approvals.recording import approval_record, worse_than
from reconciler.core.blueprint.model import Blueprint
from reconciler.core.decide.governance import OperationRequest, Origin
from reconciler.core.errors import ForgeError
from reconciler.core.ids import make_id, parse_utc, utc
from reconciler.core.observed.observation import DeploymentState
from reconciler.core.planning.cycle import Step
from reconciler.core.planning.events import short
from reconciler.core.planning.outcomes import Aside, Note, NoteKind, StepOutcome
from reconciler.core.trail.bodies import ApprovalBody, body_of
from reconciler.core.trail.history import HISTORY_SPAN
from reconciler.core.trail.records import EventType, Outcome, Record
from reconciler.ports import AuditStore, Forge

__all__ = ["Proposed", "Proposer", "Review", "review_proposals"]

Commit = Callable[[str, Sequence[Record]], "str | None"]


@dataclass
class Review:
    """What the open proposals of one service came to, before deciding."""

    open: dict[str, tuple[Pending, Proposal]] = field(default_factory=dict)
    authorizations: list[Authorization] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    #: Set when the blueprint is not one an approval stands behind (a refused edit, or an
    #: edit not judged yet): do not act on it.
    hold: str = ""
    #: Set when a blueprint edit was approved after this cycle loaded the blueprints: act on
    #: nothing until the next run loads the approved one.
    wait: str = ""
    #: Set when the forge could not be asked; proposals are left for the next run.
    error: str = ""


def _merged_at(proposal: Proposal) -> str:
    return (
        f"{utc(proposal.merged_at):%Y-%m-%d %H:%M:%S}Z" if proposal.merged_at else "an unknown time"
    )


def approval_records(audit: AuditStore, blueprint: Blueprint, now: datetime) -> list[Record]:
    """The service's approval records a cycle judges from (`AuditStore.approvals`). The
    window is the longest that judging looks back: a day, the approval timeout (a grant is
    usable that long) and the rejection cool-off (a rejection holds a proposal back that
    long); anything older that matters is found by the blueprint it names."""
    approval = blueprint.policy.approval
    window = max(
        HISTORY_SPAN,
        timedelta(seconds=approval.timeout),
        timedelta(seconds=approval.rejection_cooloff),
    )
    return audit.approvals(blueprint.name, digest=blueprint.digest, since=now - window)


def review_proposals(
    blueprint: Blueprint,
    state: DeploymentState,
    history: Sequence[Record],
    audit: AuditStore,
    forge: Forge,
    commit: Commit,
    now: datetime,
) -> Review:
    service = blueprint.name
    records = approval_records(audit, blueprint, now)
    review = Review()
    #: Records this review commits, so that the hold below sees a grant it just recorded.
    written: list[Record] = []
    commit_to_trail = commit

    def keep(message: str, new: Sequence[Record]) -> str | None:
        written.extend(new)
        return commit_to_trail(message, new)

    commit = keep
    #: Proposals whose fate this cycle learnt: found open, or concluded.
    settled: set[str] = set()
    for waiting in pending_proposals(records):
        pending = waiting
        try:
            proposal = forge.find(pending.branch, pending.number, pending.head, pending.paths)
        except ForgeError as error:
            review.error = f"could not look up {pending.branch}: {error}"
            continue
        settled.add(pending.key)
        meta = dict(pending.metadata)
        unmerged = proposal is None or proposal.state is not ProposalState.MERGED
        if unmerged and carries_change(blueprint, pending.metadata):
            _refuse_landing(blueprint, pending.record, proposal, forge, commit, now, review)
            continue
        if proposal is None or proposal.state in {ProposalState.CLOSED, ProposalState.GONE}:
            who = f" by {proposal.closed_by}" if proposal and proposal.closed_by else ""
            ref = proposal.reference if proposal else pending.branch
            record = approval_record(
                EventType.APPROVAL_REJECTED,
                Outcome.REJECTED,
                blueprint,
                service,
                meta,
                proposal,
                f"{ref} was closed without merging{who}: rejected. The same proposal is not made "
                f"again for {blueprint.policy.approval.rejection_cooloff:g}s unless the load gets "
                "materially worse.",
                now,
                extra={"closed_by": proposal.closed_by if proposal else None},
            )
            commit(f"{service}: proposal {ref} rejected (closed unmerged)", [record])
            review.notes.append(
                Note(kind=NoteKind.PROPOSAL_REJECTED, text=f"proposal {ref} rejected")
            )
            if proposal is not None and proposal.state is ProposalState.CLOSED:
                reason = f"Closed unmerged{who}: rejected"
                forge.set_status(proposal, proposal_status(Standing.ENDED, reason=reason))
            continue
        if proposal.state is ProposalState.MERGED:
            if not _judge(blueprint, state, pending, proposal, forge, commit, now, review):
                settled.discard(pending.key)
            continue
        if pending.head and proposal.head != pending.head and not pending.hands_off:
            pending = _moved(blueprint, pending, proposal, forge, commit, now, review)
        if utc(now) >= pending.expires_at and not pending.timed_out:
            _expire(blueprint, pending, proposal, forge, commit, now, review)
            if blueprint.policy.approval.auto_reject_on_timeout:
                continue
            pending = replace(pending, timed_out=True)
        review.open[pending.key] = (pending, proposal)
    for ended in landed_without_approval(blueprint, records):
        _refuse_landing(blueprint, ended, None, forge, commit, now, review)
    review.hold = review.hold or approval_hold(blueprint, [*records, *written], settled=settled)
    granted_now = {a.approval_id for a in review.authorizations}
    granted, ignored = _approved_waiting(records, history, blueprint, audit, now)
    review.notes += ignored
    for record, proposed in granted:
        authorization = _authorization(record)
        if authorization.approval_id in granted_now:
            continue
        unconfirmed = _unconfirmed(blueprint, proposed, forge, now, review)
        if unconfirmed is None:
            continue
        if unconfirmed:
            review.notes.append(
                Note(
                    kind=NoteKind.APPROVAL_IGNORED,
                    text=f"ignored the approval_granted record {record.id}: {unconfirmed}",
                )
            )
            continue
        granted_meta = body_of(record, ApprovalBody).metadata
        stale = unusable_reason(granted_meta, blueprint) or stale_reason(granted_meta, state)
        if stale:
            _refuse_stale(blueprint, record, stale, commit, now, review)
            continue
        review.authorizations.append(authorization)
    return review


def _refuse_landing(
    blueprint: Blueprint,
    last: Record,
    proposal: Proposal | None,
    forge: Forge,
    commit: Commit,
    now: datetime,
    review: Review,
) -> None:
    """A blueprint edit's change is on the main branch, though nobody merged the proposal (a
    squash, a cherry-pick, a rebase, an edit by hand), or after the proposal ended unapproved:
    refused as landed without approval, and the service held as for a refused merge, for as
    long as the blueprint is this file. A proposal still open is closed, saying why, so that
    nobody merges it later thinking it still waits (best effort: the refusal stands)."""
    meta = dict(body_of(last, ApprovalBody).metadata)
    reference = proposal.reference if proposal is not None else proposal_reference(last)
    if proposal is None or proposal.state is not ProposalState.OPEN:
        how = (
            f"after {reference} ended ({last.event_type})"
            if last.event_type in CONCLUDED
            else f"while {reference} was {'closed' if proposal else 'gone'} unmerged"
        )
    else:
        how = f"while {reference} was still open"
    reason = (
        f"its change to {blueprint.source} reached the main branch {how}, without an "
        "approver's merge of the proposal (a squash, a cherry-pick, a rebase or an edit by "
        "hand): it landed without approval"
    )
    record = approval_record(
        EventType.APPROVAL_REFUSED,
        Outcome.REFUSED,
        blueprint,
        blueprint.name,
        meta,
        proposal,
        f"{reference} approves nothing: {reason}.",
        now,
        extra={
            "reference": reference,
            "reasons": [reason],
            "refusal": str(Refusal.LANDED_WITHOUT_APPROVAL),
            "landing": str(Landing.CONTENT),
            "merged_by": None,
            "merged_blueprint_digest": blueprint.digest,
            "blueprint_path": blueprint.source,
            # Nothing was merged, so nothing came in beside the proposed file with it.
            "beyond_proposal": [],
            "loaded_blueprint_is_merged": True,
        },
    )
    commit(f"{blueprint.name}: {reference} landed without approval; held", [record])
    review.notes.append(
        Note(kind=NoteKind.LANDED_WITHOUT_APPROVAL, text=f"landed without approval: {reference}")
    )
    review.hold = (
        f"held: the blueprint has the change {reference} proposed, which landed without an "
        "approver's merge; revert it or change it through an approved proposal"
    )
    if proposal is None or proposal.state is not ProposalState.OPEN:
        return
    forge.set_status(
        proposal, proposal_status(Standing.ENDED, reason="Its change landed without approval")
    )
    try:
        forge.close(
            proposal,
            f"The change this proposal makes reached the main branch without an approver's "
            f"merge of it, so it approves nothing. The reconciler recorded it as landed "
            f"without approval and holds {blueprint.name} until that change is reverted or "
            "made through an approved proposal. Closing.",
        )
    except ForgeError as error:
        review.notes.append(
            Note(kind=NoteKind.FORGE_FAILED, text=f"could not close {reference}: {error}")
        )


def _refuse_stale(
    blueprint: Blueprint, granted: Record, stale: str, commit: Commit, now: datetime, review: Review
) -> None:
    """A granted request that waited (a cooldown deferred it) and meanwhile went stale: it is
    refused rather than carried out on a deployment the approver never saw."""
    body = body_of(granted, ApprovalBody)
    reference = body.reference or body.branch or ""
    record = approval_record(
        EventType.APPROVAL_REFUSED,
        Outcome.REFUSED,
        blueprint,
        blueprint.name,
        dict(body.metadata),
        None,
        f"{reference} was approved but is no longer carried out: {stale}.",
        now,
        extra={"reference": reference, "reasons": [stale], "refusal": str(Refusal.STALE)},
    )
    commit(f"{blueprint.name}: approval {reference} went stale: {short(stale, 60)}", [record])
    review.notes.append(
        Note(kind=NoteKind.APPROVAL_STALE, text=f"approval went stale: {reference}")
    )


def _judge(
    blueprint: Blueprint,
    state: DeploymentState,
    pending: Pending,
    proposal: Proposal,
    forge: Forge,
    commit: Commit,
    now: datetime,
    review: Review,
) -> bool:
    """Judge a merge and record the verdict; False when it could not be judged (the forge
    did not answer), so the proposal stays pending for the next run."""
    service = blueprint.name
    meta = dict(pending.metadata)
    try:
        judgement = judge_merge(pending, proposal, blueprint, forge.is_member, now)
    except ForgeError as error:
        review.error = f"could not check who merged {proposal.reference}: {error}"
        return False
    reasons = list(judgement.reasons)
    refusal = judgement.refusal
    if judgement.judgement is Judgement.GRANTED and pending.kind is Kind.REQUEST:
        stale = unusable_reason(meta, blueprint) or stale_reason(meta, state)
        if stale:
            reasons.append(stale)
            refusal = Refusal.STALE
    proposal = replace(proposal, merged_at=judgement.merged_at)
    extra: dict[str, object] = {
        "merged_by": proposal.merged_by,
        "merged_at": proposal.merged_at,
        "merge_commit": proposal.merge_commit,
        "approval_latency_seconds": judgement.latency,
        "reference": proposal.reference,
    }
    # Whether this cycle loaded the blueprint the merge produced: a merge made after the
    # blueprints were read (a run's checkout predates it) leaves the old file loaded.
    loaded_is_merged = judgement.merged_digest == blueprint.digest
    if pending.kind is Kind.BLUEPRINT:
        extra["merged_blueprint_digest"] = judgement.merged_digest
        extra["blueprint_path"] = judgement.merged_path
        extra["beyond_proposal"] = None if judgement.beyond is None else list(judgement.beyond)
        extra["loaded_blueprint_is_merged"] = loaded_is_merged
    if reasons:
        record = approval_record(
            EventType.APPROVAL_REFUSED,
            Outcome.REFUSED,
            blueprint,
            service,
            meta,
            proposal,
            f"{proposal.reference} was merged but approves nothing"
            + (" (landed without approval)" if refusal is Refusal.LANDED_WITHOUT_APPROVAL else "")
            + ": "
            + "; ".join(reasons)
            + ".",
            now,
            extra={
                **extra,
                "reasons": reasons,
                "refusal": str(refusal or Refusal.NOT_AS_PROPOSED),
                "landing": str(judgement.landing),
            },
        )
        commit(
            f"{service}: approval refused for {proposal.reference}: {short(reasons[0], 60)}",
            [record],
        )
        review.notes.append(
            Note(kind=NoteKind.APPROVAL_REFUSED, text=f"approval refused: {proposal.reference}")
        )
        forge.set_status(proposal, proposal_status(Standing.REFUSED, reason=reasons[0]))
        if pending.kind is Kind.BLUEPRINT:
            # Held now whichever blueprint this cycle loaded; from the next run on, for as
            # long as the merged one is what the repository says (`approval_hold`).
            review.hold = (
                f"held: {proposal.reference} was merged without a valid approval "
                f"({'; '.join(reasons)}); revert it or change it through an approved proposal"
            )
        return True
    latency = (
        f", {judgement.latency / 60:.0f} min after it was proposed" if judgement.latency else ""
    )
    record = approval_record(
        EventType.APPROVAL_GRANTED,
        Outcome.APPROVED,
        blueprint,
        service,
        meta,
        proposal,
        f"{proposal.reference} merged by {proposal.merged_by} at {_merged_at(proposal)}{latency}: "
        + (
            "the new policy is in git and the next decision follows it."
            if pending.kind is Kind.BLUEPRINT
            else "the requested operation is approved, once."
        ),
        now,
        extra=extra,
    )
    commit(f"{service}: approved by {proposal.merged_by} ({proposal.reference})", [record])
    review.notes.append(
        Note(kind=NoteKind.APPROVED, text=f"approved: {proposal.reference} by {proposal.merged_by}")
    )
    forge.set_status(proposal, proposal_status(Standing.GRANTED, who=proposal.merged_by or ""))
    if pending.kind is Kind.BLUEPRINT and not loaded_is_merged:
        review.wait = (
            f"{proposal.reference} was approved after this run loaded the blueprints; "
            "the next run acts on the approved blueprint"
        )
        return True
    review.authorizations.append(_authorization(record))
    return True


def _authorization(record: Record) -> Authorization:
    """The approval a granted record stands for."""
    body = body_of(record, ApprovalBody)
    meta = body.metadata

    def number(value: object) -> int | None:
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    return Authorization(
        approval_id=str(meta.get("approval_id", "")),
        reference=body.reference or "",
        merged_by=body.merged_by or "",
        merged_at=body.merged_at,
        latency=body.latency,
        kind=Kind(str(meta.get("kind", "request"))),
        operation=str(meta.get("operation", "")),
        target_replicas=number(meta.get("target_replicas")),
        current_replicas=number(meta.get("current_replicas")),
        parameters=dict(meta.get("parameters") or {}),
    )


def _approved_waiting(
    records: Sequence[Record],
    history: Sequence[Record],
    blueprint: Blueprint,
    audit: AuditStore,
    now: datetime,
) -> tuple[list[tuple[Record, Pending]], list[Note]]:
    """Granted approvals not carried out yet, within their approval timeout, each with the
    proposal it grants as the trail recorded it: one-off requests
    (a cooldown deferred them, say), and blueprint edits approved after the run that judged
    them had loaded the blueprints, once the approved blueprint is the one loaded. One that
    could not be used in time has gone stale. Also: why each granted record that the trail
    does not vouch for (`_unvouched`) was ignored.

    A grant stays usable for the whole approval timeout, which can be longer than the day of
    `history` a cycle loads; whether it was used is looked up as far back as the oldest grant
    still in its timeout, or an approval used a day ago could be used again."""
    service = blueprint.name
    timeout = timedelta(seconds=blueprint.policy.approval.timeout)
    candidates: list[tuple[Record, Pending]] = []
    ignored: list[Note] = []
    for record in records:
        if record.event_type is not EventType.APPROVAL_GRANTED:
            continue
        body = body_of(record, ApprovalBody)
        if body.metadata.get("kind") == str(Kind.BLUEPRINT) and (
            body.loaded_blueprint_is_merged is not False
            or body.merged_blueprint_digest != blueprint.digest
        ):
            continue
        if utc(now) - utc(record.timestamp) > timeout:
            continue
        why, proposal = _unvouched(record, records, service)
        if why or proposal is None:
            ignored.append(
                Note(
                    kind=NoteKind.APPROVAL_IGNORED,
                    text=f"ignored the approval_granted record {record.id}: {why}",
                )
            )
            continue
        candidates.append((record, proposal))
    if not candidates:
        return [], ignored
    earliest = min(utc(record.timestamp) for record, _ in candidates)
    if earliest < utc(now) - HISTORY_SPAN:
        history = audit.history(service, earliest)
    consumed = {
        r.links.get("approval")
        for r in (*records, *history)
        if r.links.get("approval")
        and r.event_type
        in {
            EventType.OPERATION_EXECUTED,
            # Carried out by a run that crashed before recording it: used all the same.
            EventType.OPERATION_RECOVERED,
            EventType.OPERATION_FAILED,
            EventType.OPERATION_BLOCKED,
            EventType.APPROVAL_REFUSED,
        }
    }
    return [pair for pair in candidates if pair[0].links.get("approval") not in consumed], ignored


#: Conclusions that end a proposal without approving it, or approve it for good; a refusal is
#: not among them, since any refusal of an approval already counts as using it up.
_ENDINGS = CONCLUDED - {EventType.APPROVAL_REFUSED}


def _unvouched(
    granted: Record, records: Sequence[Record], service: str
) -> tuple[str, Pending | None]:
    """Why the trail does not stand behind a granted record (or ""), and the proposal it
    grants as the trail last recorded it.

    A record under `audit/<service>/` is only a file in git: anyone who can get a commit onto
    the main branch can add one (a merge is refused if it brings one in, and `check-change`
    forbids them, but a push past both is still a file). So a grant counts only when it
    grants a proposal this trail holds: for this service, with an `approval_requested`
    record of the same approval id before it, with exactly the metadata the reconciler last
    recorded for that proposal (a copy cannot change what was approved), and when it is the
    proposal's only ending: a proposal rejected, expired, superseded or granted by another
    record stays so, whatever time a second record claims."""
    meta = body_of(granted, ApprovalBody).metadata
    approval_id = str(meta.get("approval_id") or "")
    if granted.service != service or meta.get("service") != service:
        who = meta.get("service") or granted.service or "no service"
        return f"it is a record of {who}, filed under {service}", None
    if not approval_id or granted.links.get("approval") != approval_id:
        return "it names no approval, or two different ones", None
    proposal: list[Record] = []
    for record in sorted(records, key=Record.sort_key):
        if record is granted or body_of(record, ApprovalBody).approval_id != approval_id:
            continue
        if record.event_type in _ENDINGS and record.outcome is not Outcome.PENDING:
            return f"the proposal {approval_id} has another ending ({record.event_type})", None
        if record.sort_key() >= granted.sort_key() or record.service != service:
            continue
        if record.event_type is EventType.APPROVAL_REQUESTED and record.id == approval_id:
            proposal = [record]
        elif record.event_type is EventType.APPROVAL_UPDATED and proposal:
            proposal.append(record)
    found = pending_proposals(proposal)
    if not found:
        return f"the audit trail holds no proposal {approval_id} of {service} before it", None
    if dict(found[0].metadata) != dict(meta):
        return f"it does not grant what the reconciler proposed as {approval_id}", None
    return "", found[0]


def _unconfirmed(
    blueprint: Blueprint, pending: Pending, forge: Forge, now: datetime, review: Review
) -> str | None:
    """Why the forge does not confirm a grant found in the trail ("" when it does), or None
    when it could not be asked (the grant then waits for the next run).

    Even a grant that matches its proposal exactly is only a file: one copied from the
    proposal's own request record, slipped onto the main branch (a refused merge still
    lands its files), would pass every check the trail allows. So before a waiting grant is
    used, its merge is looked up on the forge and judged again, as when it was granted."""
    try:
        proposal = forge.find(pending.branch, pending.number, pending.head, pending.paths)
        if proposal is None or proposal.state is not ProposalState.MERGED:
            return f"the forge has no merge of {pending.branch or pending.key}"
        judged = judge_merge(pending, proposal, blueprint, forge.is_member, now)
    except ForgeError as error:
        review.error = f"could not confirm the approval of {pending.branch}: {error}"
        return None
    if judged.judgement is Judgement.REFUSED:
        return f"its merge on the forge approves nothing: {'; '.join(judged.reasons)}"
    return ""


def _awaiting(pending_meta: Mapping[str, object], until: datetime | None) -> ProposalStatus:
    """The status of a proposal that an approver's merge would approve."""
    approvers = pending_meta.get("approvers")
    names = [str(a) for a in approvers] if isinstance(approvers, list) else []
    return proposal_status(Standing.AWAITING, approvers=names, until=until)


def _moved(
    blueprint: Blueprint,
    pending: Pending,
    proposal: Proposal,
    forge: Forge,
    commit: Commit,
    now: datetime,
    review: Review,
) -> Pending:
    """The proposal's branch is not where the reconciler left it. Brought up to date with the
    main branch and still changing exactly the proposed files, it is still the proposal: the
    new head is recorded and stays awaiting an approver. Anything else is a person's edit:
    merging it approves nothing, the reconciler says so once and stops rewriting it."""
    service = blueprint.name
    meta = dict(pending.metadata)
    ref = proposal.reference
    who = proposal.head_author or "someone"
    if still_as_proposed(pending, proposal):
        record = approval_record(
            EventType.APPROVAL_UPDATED,
            Outcome.PENDING,
            blueprint,
            service,
            meta,
            proposal,
            f"{ref} was brought up to date with the main branch by {who}; it still changes "
            "exactly the proposed files, so an approver's merge still approves it.",
            now,
            extra={"updated_from_base": True},
        )
        commit(f"{service}: {ref} brought up to date with the main branch", [record])
        review.notes.append(
            Note(
                kind=NoteKind.PROPOSAL_UPDATED_FROM_BASE,
                text=f"{ref} brought up to date with the main branch by {who}",
            )
        )
        forge.set_status(proposal, _awaiting(meta, pending.expires_at))
        return replace(pending, record=record, head=proposal.head)
    try:
        forge.comment(
            proposal,
            "Someone pushed to this branch, so it no longer holds exactly what the reconciler "
            "proposed: merging it approves nothing, and the reconciler no longer rewrites it. "
            "Close it, and the reconciler proposes again if the change is still needed.",
            CommentTopic.EDITED_BY_A_PERSON,
        )
    except ForgeError as error:
        review.error = f"could not comment on {ref}: {error}"
        return pending
    record = approval_record(
        EventType.APPROVAL_UPDATED,
        Outcome.PENDING,
        blueprint,
        service,
        meta,
        proposal,
        f"{ref} has a person's commits ({who}); merging it approves nothing, and it is no "
        "longer rewritten.",
        now,
        extra={"hands_off": True},
    )
    commit(f"{service}: {ref} changed by a person; commented", [record])
    review.notes.append(
        Note(
            kind=NoteKind.PROPOSAL_EDITED,
            text=f"{ref} changed by a person ({who}): merging it approves nothing",
        )
    )
    forge.set_status(proposal, proposal_status(Standing.CHANGED))
    return replace(pending, record=record, head=proposal.head, hands_off=True)


def _expire(
    blueprint: Blueprint,
    pending: Pending,
    proposal: Proposal,
    forge: Forge,
    commit: Commit,
    now: datetime,
    review: Review,
) -> None:
    service = blueprint.name
    approval = blueprint.policy.approval
    meta = dict(pending.metadata)
    try:
        if approval.auto_reject_on_timeout:
            forge.close(
                proposal,
                f"Nobody approved this within {approval.timeout:g}s, so it expired and is "
                "closed (auto_reject_on_timeout). If it is still needed, the reconciler proposes "
                "it again.",
            )
        else:
            forge.comment(
                proposal,
                "This proposal timed out. It stays open for a person to decide, and the "
                "reconciler no longer updates it.",
                CommentTopic.TIMED_OUT,
            )
    except ForgeError as error:
        review.error = f"could not expire {proposal.reference}: {error}"
        return
    standing = Standing.ENDED if approval.auto_reject_on_timeout else Standing.TIMED_OUT
    reason = f"Expired at {pending.expires_at:%Y-%m-%d %H:%M}Z and closed"
    forge.set_status(proposal, proposal_status(standing, until=pending.expires_at, reason=reason))
    outcome = Outcome.EXPIRED if approval.auto_reject_on_timeout else Outcome.PENDING
    record = approval_record(
        EventType.APPROVAL_EXPIRED,
        outcome,
        blueprint,
        service,
        meta,
        proposal,
        f"{proposal.reference} expired at {pending.expires_at:%H:%M:%S}Z without approval; "
        + ("closed." if approval.auto_reject_on_timeout else "left open, no longer updated."),
        now,
        extra={"auto_rejected": approval.auto_reject_on_timeout},
    )
    commit(f"{service}: proposal {proposal.reference} expired", [record])
    review.notes.append(
        Note(kind=NoteKind.PROPOSAL_EXPIRED, text=f"proposal {proposal.reference} expired")
    )


@dataclass(frozen=True, kw_only=True)
class Proposed:
    """What proposing one step came to: its outcome, what to show beside it, and the commit
    and records it made (none when nothing new was recorded)."""

    outcome: StepOutcome
    detail: str
    aside: Aside | None = None
    commit: str | None = None
    records: tuple[Record, ...] = ()


@dataclass
class Proposer:
    """Turns steps that need approval into proposals on the forge, for one cycle."""

    forge: Forge
    audit: AuditStore
    budget: int
    #: Where the proposal's body links to (its record in the audit trail, the run).
    links: TrailLinks = field(default_factory=TrailLinks)
    opened: int = 0
    #: Proposal keys the load still calls for this cycle; the others are superseded.
    wanted: set[str] = field(default_factory=set)
    #: The proposals this cycle opened, and what the cap on new ones held back, by service.
    opened_now: dict[str, list[Waiting]] = field(default_factory=dict)
    capped: dict[str, list[str]] = field(default_factory=dict)

    def propose(
        self,
        step: Step,
        blueprint: Blueprint,
        blueprint_text: str,
        review: Review,
        evidence: Evidence,
        commit: Commit,
        now: datetime,
        manifest_files: Mapping[str, str] | None = None,
    ) -> Proposed:
        """What proposing one REQUEST_APPROVAL step came to. `manifest_files`: the manifests
        edited as the step would edit them (coexistence: write_back)."""
        request = step.request
        # The lead's id (unique in the trail) keeps a second proposal in the same second from
        # reusing the first one's id.
        approval_id = make_id(
            "apr",
            now,
            blueprint.name,
            request.operation,
            request.target_replicas,
            request.decision_id,
        )
        draft, meta = draft_for(
            request,
            step.verdict,
            blueprint,
            blueprint_text,
            evidence,
            approval_id,
            now,
            links=self.links,
            manifest_files=manifest_files,
        )
        lead = tuple(r for r in step.records if r.event_type is not EventType.APPROVAL_REQUESTED)
        self.wanted.add(draft.key)
        existing = review.open.get(draft.key)
        try:
            if existing is not None:
                return self._update(step, blueprint, draft, meta, existing, lead, commit, now)
            cooling = self._cooling_off(blueprint, draft.key, evidence, request, now)
            if cooling:
                return Proposed(
                    outcome=StepOutcome.PENDING, aside=Aside.NOT_PROPOSED, detail=cooling
                )
            if self.opened >= self.budget:
                self.capped.setdefault(blueprint.name, []).append(draft.title)
                return Proposed(
                    outcome=StepOutcome.PENDING,
                    aside=Aside.NOT_PROPOSED,
                    detail=f"the cap of {self.budget} new proposals per run is reached; next run",
                )
            proposal = self.forge.open(draft)
        except ForgeError as error:
            return Proposed(
                outcome=StepOutcome.FAILED,
                detail=f"proposing on the forge failed: {error}; the next run tries again",
            )
        self.opened += 1
        expires = parse_utc(str(meta["expires_at"]))
        self.forge.set_status(proposal, _awaiting(meta, expires))
        self.opened_now.setdefault(blueprint.name, []).append(
            Waiting(
                service=blueprint.name,
                reference=proposal.reference,
                url=proposal.url,
                title=draft.title,
                expires_at=expires,
            )
        )
        record = approval_record(
            EventType.APPROVAL_REQUESTED,
            Outcome.PENDING,
            blueprint,
            blueprint.name,
            meta,
            proposal,
            f"{draft.title}: proposed as {proposal.reference} for "
            f"{', '.join(step.verdict.approvers) or 'no approver'} (expires {meta['expires_at']}).",
            now,
            links={"decision": step.chain.decision, "governance": step.chain.governance},
        )
        records = (*lead, record)
        sha = commit(f"{short(draft.title, 90)}: proposed as {proposal.reference}", records)
        return Proposed(
            outcome=StepOutcome.PROPOSED,
            detail=f"{draft.title} ({proposal.reference})",
            commit=sha,
            records=records if sha else (),
        )

    def _update(
        self,
        step: Step,
        blueprint: Blueprint,
        draft: object,
        meta: dict[str, object],
        existing: tuple[Pending, Proposal],
        lead: tuple[Record, ...],
        commit: Commit,
        now: datetime,
    ) -> Proposed:
        from reconciler.core.approvals.proposals import Draft

        assert isinstance(draft, Draft)
        pending, proposal = existing
        # A blueprint edit is proposed against one blueprint: after any other change to that
        # file (on the main branch) its branch would undo the change, or its merge would no
        # longer be the proposed file and be refused. So it is rewritten on the blueprint as it
        # is now, and the trail records the new digests, so that merging it still approves
        # exactly what it shows.
        moved = pending.kind is Kind.BLUEPRINT and pending.metadata.get(
            "blueprint_digest"
        ) != meta.get("blueprint_digest")
        if (
            pending.target == step.request.target_replicas
            and pending.metadata.get("operation") == step.request.operation
            and not moved
        ):
            have = {label.lower() for label in proposal.labels}
            if any(label.lower() not in have for label in draft.labels):
                # Labels are best effort when proposing (a failure must not cost the record
                # of a proposal that exists): the ones missing are added on a later run.
                self.forge.label(proposal, draft.labels)
            return Proposed(
                outcome=StepOutcome.PENDING,
                aside=Aside.ALREADY_PROPOSED,
                detail=f"{proposal.reference} is open",
            )
        if pending.timed_out:
            return Proposed(
                outcome=StepOutcome.PENDING,
                aside=Aside.TIMED_OUT,
                detail=f"{proposal.reference} timed out and is left to a person",
            )
        if pending.hands_off:
            return Proposed(
                outcome=StepOutcome.PENDING,
                aside=Aside.EDITED_BY_A_PERSON,
                detail=f"{proposal.reference} has commits by a person",
            )
        touched = bool(pending.head) and proposal.head != pending.head
        if touched:
            self.forge.comment(
                proposal,
                f"The load now calls for {step.request.describe()} "
                f"(target {step.request.target_replicas}), but someone pushed to this branch, "
                "so the reconciler no longer rewrites it. Please update it or close it.",
                CommentTopic.EDITED_BY_A_PERSON,
            )
            hands_off_meta = {**pending.metadata}
            record = approval_record(
                EventType.APPROVAL_UPDATED,
                Outcome.PENDING,
                blueprint,
                blueprint.name,
                hands_off_meta,
                proposal,
                f"{proposal.reference} has a person's commits ({proposal.head_author}); commented "
                "instead of rewriting it.",
                now,
                extra={"hands_off": True},
            )
            sha = commit(
                f"{blueprint.name}: {proposal.reference} changed by a person; commented", [record]
            )
            return Proposed(
                outcome=StepOutcome.PENDING,
                aside=Aside.COMMENTED,
                detail=f"{proposal.reference} is being edited by a person",
                commit=sha,
                records=(record,) if sha else (),
            )
        updated = self.forge.update(proposal, draft)
        self.forge.set_status(updated, _awaiting(pending.metadata, pending.expires_at))
        record = approval_record(
            EventType.APPROVAL_UPDATED,
            Outcome.PENDING,
            blueprint,
            blueprint.name,
            {
                **meta,
                "approval_id": pending.metadata.get("approval_id"),
                "created_at": pending.metadata.get("created_at"),
                "expires_at": pending.metadata.get("expires_at"),
            },
            updated,
            f"{updated.reference} updated in place: {draft.title}.",
            now,
            links={"decision": step.chain.decision, "governance": step.chain.governance},
        )
        records = (*lead, record)
        sha = commit(
            f"{blueprint.name}: {short(draft.title, 70)} ({updated.reference} updated)", records
        )
        return Proposed(
            outcome=StepOutcome.PROPOSAL_UPDATED,
            detail=f"{draft.title} ({updated.reference})",
            commit=sha,
            records=records if sha else (),
        )

    def _cooling_off(
        self,
        blueprint: Blueprint,
        key: str,
        evidence: Evidence,
        request: OperationRequest,
        now: datetime,
    ) -> str:
        records = [
            record
            for record in approval_records(self.audit, blueprint, now)
            if record.event_type is EventType.APPROVAL_REJECTED
        ]
        for record in reversed(records):
            body = body_of(record, ApprovalBody)
            if body.key != key:
                continue
            until = utc(record.timestamp) + timedelta(
                seconds=blueprint.policy.approval.rejection_cooloff
            )
            if utc(now) >= until:
                return ""
            if worse_than(body.metadata, evidence.decision, request.target_replicas):
                return ""
            return (
                f"a person rejected this at {record.timestamp:%Y-%m-%d %H:%M}Z; not proposed again "
                f"before {until:%Y-%m-%d %H:%M}Z unless the load gets materially worse"
            )
        return ""


def supersede(
    blueprint: Blueprint,
    review: Review,
    wanted: set[str],
    forge: Forge,
    commit: Commit,
    reason: str,
    now: datetime,
) -> tuple[list[Note], set[str]]:
    """Close decision-driven proposals the load no longer calls for: notes, and the keys of
    the proposals closed."""
    notes: list[Note] = []
    closed: set[str] = set()
    for key, (pending, proposal) in review.open.items():
        if key in wanted or pending.kind is not Kind.BLUEPRINT or pending.timed_out:
            continue
        if pending.metadata.get("origin") != str(Origin.DECISION):
            continue
        try:
            forge.set_status(
                proposal, proposal_status(Standing.ENDED, reason="No longer needed: superseded")
            )
            forge.close(proposal, f"No longer needed: {reason} Closing as superseded.")
        except ForgeError as error:
            notes.append(
                Note(
                    kind=NoteKind.FORGE_FAILED,
                    text=f"could not close {proposal.reference}: {error}",
                )
            )
            continue
        record = approval_record(
            EventType.APPROVAL_SUPERSEDED,
            Outcome.SUPERSEDED,
            blueprint,
            blueprint.name,
            dict(pending.metadata),
            proposal,
            f"{proposal.reference} is no longer needed: {reason}",
            now,
        )
        commit(
            f"{blueprint.name}: proposal {proposal.reference} superseded: no longer needed",
            [record],
        )
        notes.append(
            Note(
                kind=NoteKind.PROPOSAL_SUPERSEDED, text=f"proposal {proposal.reference} superseded"
            )
        )
        closed.add(key)
    return notes, closed
