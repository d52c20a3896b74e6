"""The pure approval checks: what a merge approves, when a service is held, and when an approved
request went stale."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta, timezone
from typing import Any

import pytest

from reconciler.core.approvals.authorization import stale_reason
from reconciler.core.approvals.drafting import Evidence, bump_patch, draft_for, edit_yaml
from reconciler.core.approvals.holds import approval_hold
from reconciler.core.approvals.judging import Judgement, judge_merge, still_as_proposed
from reconciler.core.approvals.landings import (
    beyond_the_proposal,
    carries_change,
    forbidden_in,
    globally_forbidden,
    landed_without_approval,
    proposed_fields,
)
from reconciler.core.approvals.lifecycle import MATERIALLY_WORSE, Landing, Refusal, digest
from reconciler.core.approvals.pending import Pending, pending_proposals
from reconciler.core.approvals.proposals import Proposal, ProposalState, elsewhere, where_is
from reconciler.core.approvals.recording import approval_record, worse_than
from reconciler.core.blueprint.loading import parse_blueprint
from reconciler.core.blueprint.model import Tier
from reconciler.core.blueprint.yamlsafe import YamlError
from reconciler.core.decide.decision import decide
from reconciler.core.decide.governance import OperationRequest, Origin, govern
from reconciler.core.trail.history import fold_history
from reconciler.core.trail.proposal_metadata import ProposalMetadata
from reconciler.core.trail.records import EventType, Outcome, Record
from tests.core.helpers import NOW, POLICIES, blueprint, metrics, state


def _meta(raw: dict[str, Any]) -> ProposalMetadata:
    """Metadata given as plain JSON, read as the trail's reader reads it."""
    return ProposalMetadata.from_json(raw)


def _replace(value: Any, **changes: Any) -> Any:
    """dataclasses.replace, with a `metadata` given as plain JSON read as the trail reads it."""
    if isinstance(changes.get("metadata"), dict):
        changes["metadata"] = _meta(changes["metadata"])
    return replace(value, **changes)


WEB = blueprint()
OTHER = "0" * 64


def record(event: EventType, outcome: Outcome, kind: str, digest: str, **extra: Any) -> Record:
    metadata = {
        "key": f"web/{kind}",
        "kind": kind,
        "approval_id": f"apr-{kind}",
        "blueprint_digest": digest,
        "created_at": "2026-02-10T15:00:00Z",
        "expires_at": "2026-02-10T16:00:00Z",
    }
    return approval_record(event, outcome, WEB, "web", metadata, None, "why", NOW, extra=extra)


REQUESTED = EventType.APPROVAL_REQUESTED, Outcome.PENDING


@pytest.mark.parametrize(
    ("records", "settled", "held"),
    [
        ([], (), ""),
        ([record(*REQUESTED, "blueprint", WEB.digest)], (), ""),
        ([record(*REQUESTED, "blueprint", OTHER)], (), "has not been judged yet"),
        ([record(*REQUESTED, "blueprint", OTHER)], ("web/blueprint",), ""),
        ([record(*REQUESTED, "request", OTHER)], (), ""),
        (
            [
                record(*REQUESTED, "blueprint", OTHER),
                record(EventType.APPROVAL_GRANTED, Outcome.APPROVED, "blueprint", OTHER),
            ],
            (),
            "",
        ),
        (
            [
                record(*REQUESTED, "blueprint", OTHER),
                record(
                    EventType.APPROVAL_REFUSED,
                    Outcome.REFUSED,
                    "blueprint",
                    OTHER,
                    merged_blueprint_digest=WEB.digest,
                    reference="#7",
                ),
            ],
            (),
            "held: the blueprint is the one #7 merged without a valid approval",
        ),
    ],
    ids=[
        "nothing",
        "proposed-against-this-blueprint",
        "blueprint-changed-unjudged",
        "found-open-this-cycle",
        "requests-change-no-blueprint",
        "judged-and-granted",
        "refused-and-still-loaded",
    ],
)
def test_approval_hold(records: list[Record], settled: tuple[str, ...], held: str) -> None:
    reason = approval_hold(WEB, records, settled=settled)
    assert (held in reason) if held else reason == ""


@pytest.mark.parametrize(
    ("metadata", "now", "stale"),
    [
        ({"current_replicas": 2}, {}, ""),
        ({"current_replicas": 3}, {}, "replicas 3 (now 2)"),
        ({"current_replicas": None, "revision": 1}, {}, ""),
        ({"revision": 2}, {"revision": 3}, "revision 2 (now 3)"),
        ({"parameters": {"cpu_request_before": 100}}, {"cpu_request": 100}, ""),
        ({"parameters": {"cpu_request_before": 100}}, {"cpu_request": 200}, "100m (now 200m)"),
        ({"parameters": {"memory_request_before": None}}, {"memory_request": None}, ""),
        (
            {"parameters": {"memory_request_before": None}},
            {"memory_request": 2**30},
            "memory_request unset (now 1Gi)",
        ),
        ({"parameters": {"to_revision": 1}}, {}, ""),
        ({"parameters": {"gpu_before": 1}}, {}, "gpu 1 (the deployment does not say)"),
        ({"kind": "blueprint", "current_replicas": 3}, {}, ""),
    ],
)
def test_stale_reason(metadata: dict[str, Any], now: dict[str, Any], stale: str) -> None:
    reason = stale_reason(_meta({"kind": "request", **metadata}), state(2, **now))
    assert (
        (stale in reason and reason.startswith("overtaken by the state")) if stale else not reason
    )


REQUEST_FILE = "requests/web/apr-request.yaml"
TEXT = "operation: scale_beyond_limits\n"


@pytest.mark.parametrize(
    ("changed", "refusal"),
    [
        ((REQUEST_FILE,), ""),
        ((), ""),
        (None, "the forge did not say which files the merge changed"),
        (
            (REQUEST_FILE, "audit/web/2026-02-10/153000-approval_granted-apr-x.json"),
            "the merge also changed audit/web/2026-02-10/153000-approval_granted-apr-x.json, "
            "which the reconciler did not propose",
        ),
        (
            tuple(f"blueprints/s{n:02d}/blueprint.yaml" for n in range(12)),
            "blueprints/s09/blueprint.yaml and 2 more, which",
        ),
    ],
    ids=["only-the-proposed-file", "nothing-new", "unknown", "an-audit-record", "many"],
)
def test_a_merge_approves_only_the_proposed_files(
    changed: tuple[str, ...] | None, refusal: str
) -> None:
    requested = record(*REQUESTED, "request", OTHER)
    metadata = {
        **requested.details["metadata"],
        "files": [REQUEST_FILE],
        "digests": {REQUEST_FILE: digest(TEXT)},
        "approvers": ["alice"],
    }
    requested = approval_record(
        EventType.APPROVAL_REQUESTED, Outcome.PENDING, WEB, "web", metadata, None, "why", NOW
    )
    (pending,) = pending_proposals([requested])
    proposal = Proposal(
        key="web/request",
        branch="reconciler/web/request",
        state=ProposalState.MERGED,
        head="abc",
        merged_by="alice",
        merged_at=NOW,
        files={REQUEST_FILE: TEXT},
        changed=changed,
    )
    judged = judge_merge(pending, proposal, WEB, lambda approver, who: approver == who, NOW)
    if refusal:
        assert judged.judgement is Judgement.REFUSED
        assert any(refusal in reason for reason in judged.reasons), judged.reasons
    else:
        assert (judged.judgement, judged.reasons) == (Judgement.GRANTED, ())


@pytest.mark.parametrize(
    ("extra", "shown"),
    [
        (1, "audit/f00.json"),
        (10, ", ".join(f"audit/f{n:02d}.json" for n in range(10))),
        (11, ", ".join(f"audit/f{n:02d}.json" for n in range(10)) + " and 1 more"),
    ],
    ids=["one", "exactly-as-many-as-shown", "one-more-than-shown"],
)
def test_a_refusal_names_ten_unproposed_paths_and_counts_the_rest(extra: int, shown: str) -> None:
    paths = tuple(f"audit/f{n:02d}.json" for n in range(extra))
    (reason,) = beyond_the_proposal(paths)
    assert reason.startswith(f"the merge also changed {shown}, which the reconciler did not")


# --- judge_merge: every reason to refuse, one row each ------------------------------------------
#
# The proposal is drafted the way the shell drafts it (govern, then draft_for), recorded, read
# back from the trail, and judged against a Proposal as a forge reports it.

TEAM_BLUEPRINT = """\
metadata:
  name: web
  version: 1.0.0
spec:
  scaling:
    min_replicas: 1
    max_replicas: 5
governance:
  approval_workflow:
    approvers: [web-team]
    timeout: 2h
"""
TEAM = parse_blueprint(
    TEAM_BLUEPRINT.encode(), source="blueprints/web/blueprint.yaml", policies=POLICIES
)


def drafted(origin: Origin = Origin.DECISION) -> tuple[Pending, dict[str, str]]:
    """A proposal to scale web 5 -> 6 (beyond its bounds) as the trail records it, and its files
    as proposed: a blueprint edit when the decision asks, a one-off request when a person does."""
    request = OperationRequest(
        operation="scale_beyond_limits",
        service="web",
        origin=origin,
        current_replicas=5,
        target_replicas=6,
        decision_id="dec-1",
    )
    history = fold_history("web", [], TEAM.policy.safety.circuit_breaker, NOW)
    verdict = govern(request, TEAM, history, {}, NOW)
    draft, metadata = draft_for(
        request, verdict, TEAM, TEAM_BLUEPRINT, Evidence(decision=None), "apr-1", NOW
    )
    requested = approval_record(
        EventType.APPROVAL_REQUESTED, Outcome.PENDING, TEAM, "web", metadata, None, "why", NOW
    )
    (pending,) = pending_proposals([requested])
    return pending, dict(draft.files)


def merged(files: dict[str, str], **changes: Any) -> Proposal:
    proposal = Proposal(
        key="web/x",
        branch="reconciler/web/x",
        state=ProposalState.MERGED,
        head="abc",
        merged_by="alice",
        merged_at=NOW + timedelta(minutes=10),
        files=files,
        changed=tuple(files),
    )
    return _replace(proposal, **changes)


def alice_in_web_team(team: str, who: str) -> bool:
    return (team, who) == ("web-team", "alice")


def test_the_timeout_setting_sets_when_a_proposal_expires() -> None:
    pending, _ = drafted()
    assert pending.created_at == NOW
    assert pending.expires_at == NOW + timedelta(hours=2)
    assert pending.metadata["approvers"] == ["web-team"]
    assert pending.kind.value == "blueprint"


def test_an_approvers_timely_merge_of_the_proposal_is_granted() -> None:
    pending, files = drafted()
    judged = judge_merge(pending, merged(files), TEAM, alice_in_web_team, NOW + timedelta(hours=1))
    assert (judged.judgement, judged.refusal, judged.landing) == (
        Judgement.GRANTED,
        None,
        Landing.MERGE,
    )
    assert judged.reasons == ()
    assert judged.latency == 600
    assert judged.merged_path == "blueprints/web/blueprint.yaml"
    assert judged.merged_digest == digest(files["blueprints/web/blueprint.yaml"])


NOT_APPROVED = (Judgement.REFUSED, Refusal.LANDED_WITHOUT_APPROVAL)
NOBODY = (
    "nobody is recorded as having merged it (a fast-forward or a push to the main branch), so "
    "no approver can be identified; merge with a merge commit"
)
NOT_THE_PROPOSED = (
    "blueprints/web/blueprint.yaml as merged is not what the reconciler proposed (commits were "
    "added to the proposal, or the main branch changed the file since): only the proposed edit "
    "can be approved"
)
NOT_PROPOSED = (Judgement.REFUSED, Refusal.NOT_AS_PROPOSED)
BP = "blueprints/web/blueprint.yaml"


def _edit(files: dict[str, str], old: str, new: str) -> dict[str, str]:
    assert old in files[BP]
    return {**files, BP: files[BP].replace(old, new)}


@pytest.mark.parametrize(
    ("change", "now", "expected", "landing", "reasons"),
    [
        pytest.param(
            lambda p, f: (p, merged(f, merged_by="mallory")),
            NOW,
            NOT_APPROVED,
            Landing.MERGE,
            ("it was merged by mallory, who is not an approver (web-team)",),
            id="merged by someone who is not an approver",
        ),
        pytest.param(
            lambda p, f: (p, merged(f, merged_by=None)),
            NOW,
            NOT_APPROVED,
            Landing.UNATTRIBUTED,
            (NOBODY,),
            id="nobody recorded as merging it (a fast-forward or a push)",
        ),
        pytest.param(
            lambda p, f: (p, merged(f, merged_by="")),
            NOW,
            NOT_APPROVED,
            Landing.UNATTRIBUTED,
            (NOBODY,),
            id="an empty merger is nobody",
        ),
        pytest.param(
            lambda p, f: (_replace(p, metadata={**p.metadata, "approvers": []}), merged(f)),
            NOW,
            NOT_APPROVED,
            Landing.MERGE,
            ("it was merged by alice, who is not an approver (none configured)",),
            id="no approvers configured: nobody's merge approves",
        ),
        pytest.param(
            lambda p, f: (p, merged(f, merged_at=NOW + timedelta(hours=2, seconds=1))),
            NOW + timedelta(hours=3),
            NOT_APPROVED,
            Landing.MERGE,
            ("it was merged at 17:30:01Z, after it expired at 17:30:00Z",),
            id="merged a second after it expired",
        ),
        pytest.param(
            lambda p, f: (p, merged(f, merged_at=NOW + timedelta(hours=5))),
            NOW + timedelta(hours=3),
            NOT_APPROVED,
            Landing.MERGE,
            ("it was merged at 18:30:00Z, after it expired at 17:30:00Z",),
            id="merged after it expired, reported later than the cycle's clock",
        ),
        pytest.param(
            lambda p, f: (_replace(p, metadata={**p.metadata, "digests": {}}), merged(f)),
            NOW,
            NOT_PROPOSED,
            Landing.MERGE,
            (
                "the audit trail holds no digest of the proposed files, so what was merged "
                "cannot be checked against what was proposed",
            ),
            id="no digest recorded",
        ),
        pytest.param(
            lambda p, f: (p, merged(_edit(f, "version: 1.0.1", "version: 1.0.2"))),
            NOW,
            NOT_PROPOSED,
            Landing.MERGE,
            (NOT_THE_PROPOSED,),
            id="the blueprint as merged is not the proposed one",
        ),
        pytest.param(
            lambda p, f: (p, merged({}, changed=(BP,))),
            NOW,
            NOT_PROPOSED,
            Landing.MERGE,
            (
                "the merge left no blueprints/web/blueprint.yaml, the file the reconciler "
                "proposed to edit",
            ),
            id="the merge left no blueprint",
        ),
        pytest.param(
            lambda p, f: (p, merged({BP: "metadata: [\n"})),
            NOW,
            NOT_PROPOSED,
            Landing.MERGE,
            (NOT_THE_PROPOSED, f"{BP} as merged is not a readable blueprint"),
            id="the blueprint as merged does not parse",
        ),
        pytest.param(
            lambda p, f: (p, merged(f, changed=(BP, "audit/web/x.json"))),
            NOW,
            NOT_PROPOSED,
            Landing.MERGE,
            (
                "the merge also changed audit/web/x.json, which the reconciler did not "
                "propose: a merge approves only the proposed files, and anything else goes "
                "through its own review (revert the merge: those files are on the main branch "
                "all the same)",
            ),
            id="the merge changed another path too",
        ),
        pytest.param(
            lambda p, f: (p, merged(f, changed=None)),
            NOW,
            NOT_PROPOSED,
            Landing.MERGE,
            (
                "the forge did not say which files the merge changed, so it cannot be checked "
                "that it changed only the proposed ones",
            ),
            id="the forge cannot tell what the merge changed",
        ),
    ],
)
def test_each_reason_to_refuse_a_merge(change, now, expected, landing, reasons) -> None:  # type: ignore[no-untyped-def]
    pending, files = drafted()
    pending, proposal = change(pending, files)
    judged = judge_merge(pending, proposal, TEAM, alice_in_web_team, now)
    assert (judged.judgement, judged.refusal) == expected, judged.reasons
    assert judged.landing is landing
    # The reasons are what the refusal's record and the pull request comment say, in full.
    assert judged.reasons == reasons


def test_a_merge_time_after_the_cycles_clock_counts_as_now() -> None:
    """On virtual time a person merges on the wall clock: a merge found by a cycle happened
    no later than that cycle, so it is judged at the cycle's time."""
    pending, files = drafted()
    now = NOW + timedelta(hours=1)
    judged = judge_merge(
        pending, merged(files, merged_at=NOW + timedelta(hours=9)), TEAM, alice_in_web_team, now
    )
    assert (judged.judgement, judged.merged_at, judged.latency) == (Judgement.GRANTED, now, 3600)


@pytest.mark.parametrize("hours", [-1, 0, 1], ids=["before the clock", "at it", "after it"])
def test_a_merge_time_given_in_another_zone_is_judged_and_kept_in_utc(hours: int) -> None:
    """A forge may give the merge time in any zone; the judgement keeps it in UTC, whether it
    is before, exactly at or after the cycle's clock (then the clock's own time, which may be
    given in a zone of its own too)."""
    pending, files = drafted()
    now = (NOW + timedelta(hours=1)).astimezone(timezone(timedelta(hours=-5)))
    at = (now + timedelta(hours=hours)).astimezone(timezone(timedelta(hours=2)))
    judged = judge_merge(pending, merged(files, merged_at=at), TEAM, alice_in_web_team, now)
    assert judged.judgement is Judgement.GRANTED, judged.reasons
    assert judged.merged_at == min(at, now)
    assert judged.merged_at is not None and judged.merged_at.utcoffset() == timedelta(0)
    assert judged.latency == 3600 + min(hours, 0) * 3600


def test_a_merge_exactly_at_expiry_is_in_time() -> None:
    pending, files = drafted()
    at = pending.expires_at
    judged = judge_merge(pending, merged(files, merged_at=at), TEAM, alice_in_web_team, at)
    assert judged.judgement is Judgement.GRANTED, judged.reasons


def test_a_merge_that_drops_a_forbidden_operation_is_not_as_proposed() -> None:
    pending, files = drafted()
    text = files[BP] + "  agent_authority:\n    allowed_operations: [delete_service]\n"
    metadata = {**pending.metadata, "forbidden": [*pending.metadata["forbidden"], "gpu_burst"]}
    judged = judge_merge(
        _replace(pending, metadata={**metadata, "digests": {BP: digest(text)}}),
        merged({BP: text}),
        TEAM,
        alice_in_web_team,
        NOW,
    )
    assert (judged.judgement, judged.refusal) == NOT_PROPOSED
    assert any("no longer forbids gpu_burst" in r for r in judged.reasons), judged.reasons


def test_a_non_approvers_merge_of_something_else_is_refused_as_not_proposed() -> None:
    """Both kinds of reason are listed; what was merged is not the proposal, so the refusal
    says so (a landing without approval is about the proposal as proposed)."""
    pending, files = drafted()
    other = _edit(files, "version: 1.0.1", "version: 9.9.9")
    judged = judge_merge(pending, merged(other, merged_by="mallory"), TEAM, alice_in_web_team, NOW)
    assert (judged.judgement, judged.refusal) == NOT_PROPOSED
    assert len(judged.reasons) == 2


def test_a_request_file_changed_after_it_was_proposed_is_not_as_proposed() -> None:
    pending, files = drafted(origin=Origin.REQUEST)
    assert pending.kind.value == "request"
    (path,) = files
    granted = judge_merge(pending, merged(files), TEAM, alice_in_web_team, NOW)
    assert granted.judgement is Judgement.GRANTED, granted.reasons
    changed = judge_merge(
        pending, merged({path: files[path] + "# more\n"}), TEAM, alice_in_web_team, NOW
    )
    assert (changed.judgement, changed.refusal) == NOT_PROPOSED
    assert any("changed after the reconciler proposed it" in r for r in changed.reasons)
    gone = judge_merge(pending, merged({}, changed=(path,)), TEAM, alice_in_web_team, NOW)
    assert (gone.judgement, gone.refusal) == NOT_PROPOSED


# --- drafting a blueprint edit, and recognising its change wherever it lands ------------------


def test_a_blueprint_edit_changes_only_the_bound_and_the_version() -> None:
    pending, files = drafted()
    text = files[BP]
    assert text == TEAM_BLUEPRINT.replace("max_replicas: 5", "max_replicas: 6").replace(
        "version: 1.0.0", "version: 1.0.1"
    )
    metadata = pending.metadata
    assert metadata["kind"] == "blueprint"
    assert metadata["files"] == [BP]
    assert metadata["digests"] == {BP: digest(text)}
    assert metadata["fields"] == {"spec.scaling.max_replicas": 6}
    assert metadata["blueprint_digest"] == TEAM.digest
    assert "delete_deployment" in metadata["forbidden"]
    assert (metadata["current_replicas"], metadata["target_replicas"]) == (5, 6)
    assert pending.key == "web/scale-beyond-limits"


def test_a_request_is_a_file_of_its_own_with_the_same_expiry() -> None:
    pending, files = drafted(origin=Origin.REQUEST)
    ((path, text),) = files.items()
    assert path == "requests/web/apr-1.yaml"
    assert pending.metadata["digests"] == {path: digest(text)}
    assert "operation: scale_beyond_limits\n" in text
    assert "expires_at: '2026-02-10T17:30:00Z'\n" in text
    assert pending.metadata["fields"] == {}
    assert pending.key == "web/request-1"


def test_edit_yaml_keeps_every_other_byte() -> None:
    text = "# top\nspec:\n  scaling:\n    max_replicas: 5   # the ceiling\n    min_replicas: 1\n"
    edited = edit_yaml(text, {("spec", "scaling", "max_replicas"): "8"})
    assert edited == text.replace("max_replicas: 5 ", "max_replicas: 8 ")
    both = edit_yaml(
        text,
        {("spec", "scaling", "max_replicas"): "8", ("spec", "scaling", "min_replicas"): "2"},
    )
    assert both == edited.replace("min_replicas: 1", "min_replicas: 2")
    with pytest.raises(YamlError):
        edit_yaml(text, {("spec", "scaling", "gpu"): "1"})


@pytest.mark.parametrize(
    ("version", "bumped"), [("1.0.0", "1.0.1"), ("2.3.9", "2.3.10"), ("0.0.0", "0.0.1")]
)
def test_bump_patch(version: str, bumped: str) -> None:
    assert bump_patch(version) == bumped


@pytest.mark.parametrize(
    ("metadata", "fields"),
    [
        ({"kind": "request", "fields": {"spec.scaling.max_replicas": 6}}, {}),
        (
            {"kind": "blueprint", "fields": {"spec.scaling.max_replicas": 6, "spec.x": 1}},
            {"spec.scaling.max_replicas": 6},
        ),
        (
            {"kind": "blueprint", "target_replicas": 6, "current_replicas": 5},
            {"spec.scaling.max_replicas": 6},
        ),
        (
            {"kind": "blueprint", "target_replicas": 1, "current_replicas": 2},
            {"spec.scaling.min_replicas": 1},
        ),
        (
            {"kind": "blueprint", "target_replicas": 2, "current_replicas": 2},
            {"spec.scaling.min_replicas": 2},
        ),
        ({"kind": "blueprint", "target_replicas": 6}, {"spec.scaling.max_replicas": 6}),
        ({"kind": "blueprint", "target_replicas": None}, {}),
    ],
    ids=[
        "a request",
        "recorded",
        "older: raised",
        "older: lowered",
        "older: at the replicas proposed at",
        "older: no current",
        "none",
    ],
)
def test_proposed_fields(metadata: dict[str, Any], fields: dict[str, object]) -> None:
    assert proposed_fields(_meta(metadata)) == fields


def _as_loaded(text: str) -> Any:
    return parse_blueprint(text.encode(), source=BP, policies=POLICIES)


def test_carries_change_finds_the_proposed_values_wherever_they_landed() -> None:
    pending, files = drafted()
    metadata = pending.metadata
    assert not carries_change(TEAM, metadata)  # still the blueprint it was proposed against
    assert carries_change(_as_loaded(files[BP]), metadata)  # the file as proposed
    edited_further = files[BP].replace("min_replicas: 1", "min_replicas: 2")
    assert carries_change(_as_loaded(edited_further), metadata)  # the value among other edits
    other_value = files[BP].replace("max_replicas: 6", "max_replicas: 7")
    assert not carries_change(_as_loaded(other_value), metadata)
    assert not carries_change(_as_loaded(files[BP]), _meta({**metadata, "kind": "request"}))
    no_fields = _meta({**metadata, "fields": {}, "digests": {}})
    assert not carries_change(_as_loaded(edited_further), no_fields)
    # The file as proposed lands the proposal whatever its values say (none recorded here).
    assert carries_change(_as_loaded(files[BP]), _meta({**metadata, "fields": {}}))


def test_only_what_the_global_policies_forbid_is_inherited_by_a_merge() -> None:
    """A blueprint's own forbids go with its file (a merge may drop them through review); the
    global ones hold whatever the merged file says. Neither a blueprint's own forbid nor a
    global rule of another tier is among them."""
    own = blueprint(
        governance="governance:\n  agent_authority:\n    forbidden_operations: [restart_failed_pods]\n"
    )
    inherited = globally_forbidden(own)
    assert "restart_failed_pods" not in inherited
    assert "scale_within_limits" not in inherited
    assert {"delete_deployment", "modify_secrets"} <= set(inherited)
    assert set(inherited) == {
        rule.operation for rule in POLICIES.rules if rule.tier is Tier.FORBIDDEN
    }


def test_an_ended_proposal_whose_file_is_now_the_blueprint_landed_without_approval() -> None:
    pending, files = drafted()
    landed = _as_loaded(files[BP])
    metadata = dict(pending.metadata)

    def ended(event: EventType, outcome: Outcome) -> Record:
        return approval_record(event, outcome, TEAM, "web", metadata, None, "why", NOW)

    requested = ended(EventType.APPROVAL_REQUESTED, Outcome.PENDING)
    for event, outcome in (
        (EventType.APPROVAL_REJECTED, Outcome.REJECTED),
        (EventType.APPROVAL_EXPIRED, Outcome.EXPIRED),
    ):
        last = ended(event, outcome)
        assert landed_without_approval(landed, [requested, last]) == [last]
        assert landed_without_approval(TEAM, [requested, last]) == []  # nothing landed
    assert landed_without_approval(landed, [requested]) == []  # still waiting: judged on merge
    granted = ended(EventType.APPROVAL_GRANTED, Outcome.APPROVED)
    assert landed_without_approval(landed, [requested, granted]) == []


@pytest.mark.parametrize(
    ("text", "forbidden"),
    [
        (
            "governance:\n  agent_authority:\n    forbidden_operations: [a, {operation: b}]\n",
            {"a", "b", "g"},
        ),
        ("governance:\n  agent_authority: {}\n", {"g"}),
        ("governance: []\n", {"g"}),
        ("- not a mapping\n", None),
        ("key: [\n", None),
    ],
)
def test_forbidden_in(text: str, forbidden: set[str] | None) -> None:
    assert forbidden_in(text, ("g",)) == forbidden


@pytest.mark.parametrize(
    ("metadata", "w", "target", "worse"),
    [
        ({"target_replicas": 6}, None, 7, True),
        ({"target_replicas": 6}, None, 6, False),
        ({"weighted_utilization": 0.5}, 0.5 + MATERIALLY_WORSE + 1e-6, None, True),
        ({"weighted_utilization": 0.5}, 0.5 + MATERIALLY_WORSE - 1e-6, None, False),
        ({"weighted_utilization": None}, 0.99, None, False),
    ],
)
def test_worse_than_when_rejected(
    metadata: dict[str, Any], w: float | None, target: int | None, worse: bool
) -> None:
    decision = None
    if w is not None:
        decision = decide(
            blueprint(scaling="    metrics:\n      - {type: cpu, weight: 1.0}\n"),
            state(5),
            metrics(w, None, None),
            now=NOW,
        )
    assert worse_than(_meta(metadata), decision, target) is worse


def test_a_trail_record_without_approvers_or_forbidden_lists_approves_nobody() -> None:
    """Metadata from an older or damaged record may lack the lists: that is none configured,
    never a crash and never anyone."""
    pending, files = drafted()
    bare = {k: v for k, v in pending.metadata.items() if k not in ("approvers", "forbidden")}
    judged = judge_merge(
        _replace(pending, metadata=bare), merged(files), TEAM, alice_in_web_team, NOW
    )
    assert (judged.judgement, judged.refusal) == NOT_APPROVED
    assert judged.reasons == ("it was merged by alice, who is not an approver (none configured)",)


def test_every_proposed_file_is_compared_not_only_the_first() -> None:
    pending, files = drafted(origin=Origin.REQUEST)
    (path,) = files
    second = "requests/web/apr-1-notes.yaml"
    both = {path: files[path], second: "notes: 1\n"}
    metadata = {**pending.metadata, "digests": {p: digest(text) for p, text in both.items()}}
    two = _replace(pending, metadata={**metadata, "files": sorted(both)})
    granted = judge_merge(two, merged(both), TEAM, alice_in_web_team, NOW)
    assert granted.judgement is Judgement.GRANTED, granted.reasons
    changed = judge_merge(two, merged({**both, second: "notes: 2\n"}), TEAM, alice_in_web_team, NOW)
    assert (changed.judgement, changed.refusal) == NOT_PROPOSED
    assert changed.reasons == (
        f"the request file {second} changed after the reconciler proposed it",
    )


def test_a_requests_judgement_names_no_blueprint() -> None:
    pending, files = drafted(origin=Origin.REQUEST)
    judged = judge_merge(pending, merged(files), TEAM, alice_in_web_team, NOW)
    assert (judged.merged_path, judged.merged_digest) == ("", None)


def test_without_a_loaded_blueprint_the_recorded_path_is_judged() -> None:
    """No blueprint loaded this cycle: the file is the one the trail recorded, and since the
    operations the global policies forbid cannot be told, none counts as still forbidden, so
    the merge is refused rather than granted on trust."""
    pending, files = drafted()
    judged = judge_merge(pending, merged(files), None, alice_in_web_team, NOW)
    assert (judged.judgement, judged.refusal) == NOT_PROPOSED
    assert judged.reasons[0].startswith("the merged blueprint no longer forbids ")
    assert (judged.merged_path, judged.merged_digest) == (BP, digest(files[BP]))
    nothing = _replace(pending, metadata={**pending.metadata, "digests": {}})
    unknown = judge_merge(nothing, merged(files), None, alice_in_web_team, NOW)
    assert (unknown.merged_path, unknown.merged_digest) == ("", None)
    assert unknown.refusal is Refusal.NOT_AS_PROPOSED
    loaded = judge_merge(nothing, merged(files), TEAM, alice_in_web_team, NOW)
    assert (loaded.merged_path, loaded.merged_digest) == (BP, digest(files[BP]))


def test_a_blueprint_that_drops_an_inherited_forbid_is_judged_with_the_global_rules() -> None:
    """The merged file lists no forbidden operations of its own; what the global policies
    forbid is still forbidden, so nothing was loosened."""
    pending, files = drafted()
    assert "delete_deployment" in pending.metadata["forbidden"]
    judged = judge_merge(pending, merged(files), TEAM, alice_in_web_team, NOW)
    assert judged.judgement is Judgement.GRANTED, judged.reasons


@pytest.mark.parametrize(
    ("changed", "beyond", "refusal"),
    [
        pytest.param((BP,), (), None, id="only the proposed file"),
        pytest.param(
            (BP, "audit/web/x.json", "blueprints/api/blueprint.yaml"),
            ("audit/web/x.json", "blueprints/api/blueprint.yaml"),
            Refusal.NOT_AS_PROPOSED,
            id="two paths beside it, sorted",
        ),
        pytest.param(None, None, Refusal.NOT_AS_PROPOSED, id="the forge cannot tell"),
    ],
)
def test_the_paths_a_merge_brought_in_beside_the_proposal_are_kept(
    changed: tuple[str, ...] | None, beyond: tuple[str, ...] | None, refusal: Refusal | None
) -> None:
    """The refusal's record lists them (a merge that brought in files under audit/ may have
    brought in records of the trail), so the judgement carries them, not only a reason."""
    pending, files = drafted()
    judged = judge_merge(pending, merged(files, changed=changed), TEAM, alice_in_web_team, NOW)
    assert (judged.beyond, judged.refusal) == (beyond, refusal)


def test_a_merge_whose_time_is_unknown_has_no_latency() -> None:
    """Without a merge time there is nothing to expire against and no latency to report:
    an approver's merge of the proposal is granted, with both left unknown."""
    pending, files = drafted()
    judged = judge_merge(pending, merged(files, merged_at=None), TEAM, alice_in_web_team, NOW)
    assert (judged.judgement, judged.refusal) == (Judgement.GRANTED, None)
    assert (judged.merged_at, judged.latency) == (None, None)


def test_an_expired_merge_by_a_non_approver_gives_both_reasons() -> None:
    """Each reason to refuse is listed, not only the first found."""
    pending, files = drafted()
    late = NOW + timedelta(hours=3)
    judged = judge_merge(
        pending, merged(files, merged_by="mallory", merged_at=late), TEAM, alice_in_web_team, late
    )
    assert (judged.judgement, judged.refusal) == NOT_APPROVED
    assert len(judged.reasons) == 2
    assert judged.latency == 3 * 3600


_SECOND = "requests/web/apr-1-notes.yaml"


@pytest.mark.parametrize(
    ("change", "still"),
    [
        pytest.param(lambda p, f: (p, merged(f)), True, id="exactly the proposed file"),
        pytest.param(
            lambda p, f: (_replace(p, metadata={**p.metadata, "digests": {}}), merged(f)),
            False,
            id="no digest recorded",
        ),
        pytest.param(lambda p, f: (p, merged(f, changed=None)), False, id="the forge cannot tell"),
        pytest.param(
            lambda p, f: (p, merged(_edit(f, "version: 1.0.1", "version: 1.0.2"))),
            False,
            id="the proposed file edited",
        ),
        pytest.param(
            lambda p, f: (p, merged({}, changed=(BP,))), False, id="the proposed file gone"
        ),
        pytest.param(
            lambda p, f: (p, merged(f, changed=(BP, "audit/web/x.json"))),
            False,
            id="another path changed too",
        ),
        pytest.param(
            lambda p, f: (
                _replace(
                    p,
                    metadata={
                        **p.metadata,
                        "digests": {BP: digest(f[BP]), _SECOND: digest("notes: 1\n")},
                    },
                ),
                merged({**f, _SECOND: "notes: 2\n"}),
            ),
            False,
            id="the second of two proposed files edited",
        ),
        pytest.param(
            lambda p, f: (
                _replace(
                    p,
                    metadata={
                        **p.metadata,
                        "digests": {BP: digest(f[BP]), _SECOND: digest("notes: 1\n")},
                    },
                ),
                merged({**f, _SECOND: "notes: 1\n"}),
            ),
            True,
            id="both of two proposed files as recorded",
        ),
    ],
)
def test_an_open_proposal_whose_branch_moved_is_still_as_proposed(change, still) -> None:  # type: ignore[no-untyped-def]
    """Bringing the branch up to date leaves every proposed file as the trail recorded it and
    no other path changed: still the proposal. Anything else makes it approve nothing."""
    pending, files = drafted()
    pending, proposal = change(pending, files)
    assert still_as_proposed(pending, _replace(proposal, state=ProposalState.OPEN)) is still


def test_a_merge_that_drops_two_forbidden_operations_names_both() -> None:
    """The refusal's record and the pull request comment list every operation the merged
    blueprint no longer forbids, so the approver sees exactly what the edit would allow."""
    pending, files = drafted()
    forbidden = [*pending.metadata["forbidden"], "gpu_burst", "wipe_cache"]
    judged = judge_merge(
        _replace(pending, metadata={**pending.metadata, "forbidden": forbidden}),
        merged(files),
        TEAM,
        alice_in_web_team,
        NOW,
    )
    assert (judged.judgement, judged.refusal) == NOT_PROPOSED
    assert judged.reasons == (
        "the merged blueprint no longer forbids gpu_burst, wipe_cache: an approval pull "
        "request cannot make a forbidden operation possible",
    )


def test_a_non_approvers_merge_names_every_approver_configured() -> None:
    pending, files = drafted()
    two = _replace(pending, metadata={**pending.metadata, "approvers": ["web-team", "sre"]})
    judged = judge_merge(two, merged(files, merged_by="mallory"), TEAM, alice_in_web_team, NOW)
    assert (judged.judgement, judged.refusal) == NOT_APPROVED
    assert judged.reasons == ("it was merged by mallory, who is not an approver (web-team, sre)",)


@pytest.mark.parametrize(
    ("key", "where"),
    [
        ("blueprints/web/blueprint.yaml", ("", "blueprints/web/blueprint.yaml")),
        ("requests/web/apr-1.yaml", ("", "requests/web/apr-1.yaml")),
        ("org/deploy-config:deploy/web.yaml", ("org/deploy-config", "deploy/web.yaml")),
        ("org/deploy-config:values.yaml", ("org/deploy-config", "values.yaml")),
        # Not `owner/name` before the colon: a path of the blueprint repository.
        ("deploy:web.yaml", ("", "deploy:web.yaml")),
        ("a/b/c:web.yaml", ("", "a/b/c:web.yaml")),
        ("org/deploy-config:", ("", "org/deploy-config:")),
    ],
)
def test_a_proposed_file_says_which_repository_it_lives_in(
    key: str, where: tuple[str, str]
) -> None:
    assert where_is(key) == where
    if where[0]:
        assert elsewhere(*where) == key
