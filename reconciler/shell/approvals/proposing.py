"""Turning the steps that need approval into proposals on the forge: a new proposal (within
the cap per run, and not during a rejection's cool-off), the open one updated in place or left
alone, and the proposals the load no longer calls for closed as superseded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from reconciler.core.approvals.attention import Waiting
from reconciler.core.approvals.feedback import Standing, TrailLinks, proposal_status
from reconciler.core.approvals.lifecycle import Kind
from reconciler.core.approvals.pending import Pending
from reconciler.core.approvals.proposals import CommentTopic, Draft, Proposal
from reconciler.core.approvals.recording import approval_record, worse_than
from reconciler.core.blueprint.model import Blueprint
from reconciler.core.decide.governance import OperationRequest, Origin
from reconciler.core.errors import ForgeError
from reconciler.core.ids import make_id, parse_utc, utc
from reconciler.core.planning.cycle import Step
from reconciler.core.planning.outcomes import Aside, Note, NoteKind, StepOutcome
from reconciler.core.planning.subjects import (
    edited_subject,
    proposal_updated_subject,
    proposed_subject,
    superseded_subject,
)
from reconciler.core.trail import lazy_bodies
from reconciler.core.trail.codes import Code
from reconciler.core.trail.proposal_metadata import ProposalMetadata
from reconciler.core.trail.records import EventType, Outcome, Record
from reconciler.core.trail.wording import Reason, say
from reconciler.ports import AuditStore, Forge
from reconciler.shell.approvals.review import (
    Commit,
    Review,
    Reviewing,
    approval_records,
    awaiting,
)

if TYPE_CHECKING:
    from reconciler.core.approvals.drafting import Evidence

__all__ = ["Proposed", "Proposer", "supersede"]


@dataclass(frozen=True, kw_only=True)
class Proposed:
    """What proposing one step came to: its outcome, what to show beside it, and the commit
    and records it made (none when nothing new was recorded)."""

    outcome: StepOutcome
    detail: str
    aside: Aside | None = None
    commit: str | None = None
    records: tuple[Record, ...] = ()

    @classmethod
    def committed(
        cls,
        commit: Commit,
        subject: str,
        records: tuple[Record, ...],
        *,
        outcome: StepOutcome,
        detail: str,
        aside: Aside | None = None,
    ) -> Proposed:
        """What proposing came to once its records are committed: they count as made only
        when the commit was."""
        sha = commit(subject, records)
        return cls(
            outcome=outcome, detail=detail, aside=aside, commit=sha, records=records if sha else ()
        )


@dataclass(frozen=True, kw_only=True)
class _Asking:
    """One step's proposal as drafted: what opening, rewriting or leaving the proposal works
    with, and the records before it (the decision and verdict that led to it)."""

    step: Step
    draft: Draft
    meta: dict[str, object]
    lead: tuple[Record, ...]
    #: The service's review: its blueprint, the forge, how records are committed, the moment.
    at: Reviewing

    def record(
        self, event: EventType, metadata: Mapping[str, object], proposal: Proposal, rationale: str
    ) -> Record:
        """A pending proposal's record, linked to the decision and verdict that asked for it."""
        chain = self.step.chain
        return self.at.approval(
            event,
            Outcome.PENDING,
            metadata,
            proposal,
            rationale,
            links={"decision": chain.decision, "governance": chain.governance},
        )


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
        from reconciler.core.approvals.drafting import draft_for  # only a proposal drafts

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
        at = Reviewing(blueprint=blueprint, forge=self.forge, commit=commit, now=now, review=review)
        asking = _Asking(step=step, draft=draft, meta=meta, lead=lead, at=at)
        self.wanted.add(draft.key)
        existing = review.open.get(draft.key)
        try:
            if existing is not None:
                return self._update(asking, existing)
            held = self._held_back(blueprint, draft.key, draft.title, evidence, request, now)
            if held is not None:
                return held
            proposal = self.forge.open(draft)
        except ForgeError as error:
            return Proposed(
                outcome=StepOutcome.FAILED,
                detail=f"proposing on the forge failed: {error}; the next run tries again",
            )
        return self._opened(asking, proposal)

    def _held_back(
        self,
        blueprint: Blueprint,
        key: str,
        title: str,
        evidence: Evidence,
        request: OperationRequest,
        now: datetime,
    ) -> Proposed | None:
        """Why a new proposal is not opened now (its rejection's cool-off, or the cap on new
        proposals per run), or None."""
        cooling = self._cooling_off(blueprint, key, evidence, request, now)
        if cooling:
            return Proposed(outcome=StepOutcome.PENDING, aside=Aside.NOT_PROPOSED, detail=cooling)
        if self.opened >= self.budget:
            self.capped.setdefault(blueprint.name, []).append(title)
            return Proposed(
                outcome=StepOutcome.PENDING,
                aside=Aside.NOT_PROPOSED,
                detail=f"the cap of {self.budget} new proposals per run is reached; next run",
            )
        return None

    def _opened(self, asking: _Asking, proposal: Proposal) -> Proposed:
        """A proposal just opened: awaiting an approver, on the dashboard, and recorded with
        the decision and verdict that led to it."""
        blueprint, draft, meta = asking.at.blueprint, asking.draft, asking.meta
        self.opened += 1
        expires = parse_utc(str(meta["expires_at"]))
        self.forge.set_status(proposal, awaiting(ProposalMetadata.from_json(meta), expires))
        self.opened_now.setdefault(blueprint.name, []).append(
            Waiting(
                service=blueprint.name,
                reference=proposal.reference,
                url=proposal.url,
                title=draft.title,
                expires_at=expires,
            )
        )
        record = asking.record(
            EventType.APPROVAL_REQUESTED,
            meta,
            proposal,
            say(
                Reason(
                    Code.PROPOSED,
                    {
                        "title": draft.title,
                        "reference": proposal.reference,
                        "approvers": asking.step.verdict.approvers,
                        "expires_at": meta["expires_at"],
                    },
                )
            ),
        )
        return Proposed.committed(
            asking.at.commit,
            proposed_subject(draft.title, proposal.reference),
            (*asking.lead, record),
            outcome=StepOutcome.PROPOSED,
            detail=f"{draft.title} ({proposal.reference})",
        )

    def _update(self, asking: _Asking, existing: tuple[Pending, Proposal]) -> Proposed:
        """What the open proposal for the same topic comes to: left alone when it still asks
        for what the load calls for, timed out or edited by a person; else rewritten."""
        step, meta = asking.step, asking.meta
        pending, proposal = existing
        # A blueprint edit is proposed against one blueprint: after any other change to that
        # file (on the main branch) its branch would undo the change, or its merge would no
        # longer be the proposed file and be refused. So it is rewritten on the blueprint as it
        # is now, and the trail records the new digests, so that merging it still approves
        # exactly what it shows.
        moved = pending.kind is Kind.BLUEPRINT and pending.metadata.blueprint_digest != meta.get(
            "blueprint_digest"
        )
        if (
            pending.target == step.request.target_replicas
            and pending.metadata.operation == step.request.operation
            and not moved
        ):
            return self._unchanged(proposal, asking.draft)
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
        if bool(pending.head) and proposal.head != pending.head:
            return self._edited(asking, pending, proposal)
        return self._rewrite(asking, existing)

    def _unchanged(self, proposal: Proposal, draft: Draft) -> Proposed:
        """The open proposal already asks for this: left as it is, but for missing labels."""
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

    def _edited(self, asking: _Asking, pending: Pending, proposal: Proposal) -> Proposed:
        """The load calls for something else, but a person pushed to the branch: commented,
        not rewritten, and from now on left alone."""
        step, blueprint = asking.step, asking.at.blueprint
        self.forge.comment(
            proposal,
            say(
                Reason(
                    Code.LOAD_MOVED_COMMENT,
                    {"what": step.request.describe(), "target": step.request.target_replicas},
                )
            ),
            CommentTopic.EDITED_BY_A_PERSON,
        )
        record = asking.at.approval(
            EventType.APPROVAL_UPDATED,
            Outcome.PENDING,
            {**pending.metadata},
            proposal,
            say(
                Reason(
                    Code.EDITED_COMMENTED,
                    {"reference": proposal.reference, "who": proposal.head_author},
                )
            ),
            extra={"hands_off": True},
        )
        return Proposed.committed(
            asking.at.commit,
            edited_subject(blueprint.name, proposal.reference),
            (record,),
            outcome=StepOutcome.PENDING,
            aside=Aside.COMMENTED,
            detail=f"{proposal.reference} is being edited by a person",
        )

    def _rewrite(self, asking: _Asking, existing: tuple[Pending, Proposal]) -> Proposed:
        """The open proposal rewritten in place to ask for what the load calls for now; it
        keeps its approval id and its times."""
        draft = asking.draft
        pending, proposal = existing
        updated = self.forge.update(proposal, draft)
        self.forge.set_status(updated, awaiting(pending.metadata, pending.expires_at))
        record = asking.record(
            EventType.APPROVAL_UPDATED,
            {
                **asking.meta,
                "approval_id": pending.metadata.approval_id,
                "created_at": pending.metadata.created_at,
                "expires_at": pending.metadata.expires_at,
            },
            updated,
            say(
                Reason(
                    Code.UPDATED_IN_PLACE, {"reference": updated.reference, "title": draft.title}
                )
            ),
        )
        return Proposed.committed(
            asking.at.commit,
            proposal_updated_subject(asking.at.blueprint.name, draft.title, updated.reference),
            (*asking.lead, record),
            outcome=StepOutcome.PROPOSAL_UPDATED,
            detail=f"{draft.title} ({updated.reference})",
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
            body = lazy_bodies.body_of(record, lazy_bodies.ApprovalBody)
            if body.key != key:
                continue
            until = utc(record.timestamp) + timedelta(
                seconds=blueprint.policy.approval.rejection_cooloff
            )
            if utc(now) >= until:
                return ""
            if worse_than(body.metadata, evidence.decision, request.target_replicas):
                return ""
            return say(
                Reason(Code.REJECTION_COOLOFF, {"rejected_at": record.timestamp, "until": until})
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
        if pending.metadata.origin != str(Origin.DECISION):
            continue
        try:
            forge.set_status(
                proposal, proposal_status(Standing.ENDED, reason="No longer needed: superseded")
            )
            forge.close(proposal, say(Reason(Code.SUPERSEDED_CLOSING, {"reason": reason})))
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
            say(Reason(Code.SUPERSEDED, {"reference": proposal.reference, "reason": reason})),
            now,
        )
        commit(
            superseded_subject(blueprint.name, proposal.reference),
            [record],
        )
        notes.append(
            Note(
                kind=NoteKind.PROPOSAL_SUPERSEDED, text=f"proposal {proposal.reference} superseded"
            )
        )
        closed.add(key)
    return notes, closed
