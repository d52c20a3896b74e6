"""Waiting for the GitOps tool: a change committed to the manifests is verified once the
cluster shows it rolled out, not when the commit was made; a commit not synced by its deadline
is escalated once (the tool is stuck or paused), never rolled back, since nothing ran."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from reconciler.core.blueprint.model import Blueprint
from reconciler.core.decide.verification import Pending, stabilization_for
from reconciler.core.ids import make_id, parse_utc, utc
from reconciler.core.observed.observation import DeploymentState
from reconciler.core.trail.bodies import ExecutionBody, body_of
from reconciler.core.trail.records import EventType, Outcome, Record, record_under

__all__ = ["Rollout", "RolloutPhase", "await_rollout", "rollout_wait"]


class RolloutPhase(StrEnum):
    #: Not a change made through git: verified as any other.
    DIRECT = "direct"
    #: The tool has not applied the commit yet (or its pods are still starting).
    WAITING = "waiting"
    #: Rolled out: verification is due at `due`.
    ROLLED_OUT = "rolled_out"


@dataclass(frozen=True, kw_only=True)
class Rollout:
    phase: RolloutPhase
    #: The pending verification, its due time moved to rollout + stabilization.
    pending: Pending
    #: Records to commit now: the rollout seen, or the escalation of a commit not synced.
    records: tuple[Record, ...] = ()
    #: The manifest commit, and what its subject says of it (`subjects.rollout_subject`):
    #: whether every pod was ready, and how long the tool had to apply it.
    commit: str = ""
    ready: bool = True
    timeout: float = 0.0


def _synced(after: Mapping[str, Any], state: DeploymentState) -> bool:
    """The deployment's spec carries the committed values, and its controller saw them."""
    for key, seen in (
        ("replicas", state.replicas),
        ("cpu_request", state.cpu_request),
        ("memory_request", state.memory_request),
    ):
        if isinstance(after.get(key), int) and after[key] != seen:
            return False
    return state.observed_generation is None or (
        state.generation is not None and state.observed_generation >= state.generation
    )


def await_rollout(
    pending: Pending,
    blueprint: Blueprint,
    state: DeploymentState,
    history: Sequence[Record],
    now: datetime,
) -> Rollout:
    """Where a change made through git stands: waiting for the tool, or rolled out (and then
    due for verification a stabilization period later).

    Rolled out means the deployment's spec has the committed values, its controller observed
    them, and every pod is ready. A commit the tool has not applied by its deadline is escalated
    once and waited for; a commit it applied whose pods are still not ready by then has run,
    so it is verified (and rolled back if it made things worse) like any change.
    """
    done = body_of(pending.record, ExecutionBody).write_back
    if done is None:
        return Rollout(phase=RolloutPhase.DIRECT, pending=pending)
    operation = pending.operation_id
    mine = [r for r in history if r.links.get("operation") == operation]
    seen = next((r for r in mine if r.event_type is EventType.ROLLED_OUT), None)
    stabilization = timedelta(seconds=stabilization_for(pending.record.operation, blueprint))
    if seen is not None:
        return Rollout(
            phase=RolloutPhase.ROLLED_OUT,
            pending=replace(pending, due=utc(seen.timestamp) + stabilization),
        )
    now = utc(now)
    deadline = _deadline(done, pending, blueprint)
    after = done.get("after") or {}
    synced = _synced(after, state)
    ready = synced and state.ready_replicas >= state.replicas
    if ready or (synced and now >= deadline):
        record = _rolled_out_record(pending, blueprint, now, done, ready)
        return Rollout(
            phase=RolloutPhase.ROLLED_OUT,
            pending=replace(pending, due=now + stabilization if ready else now),
            records=(record,),
            commit=str(done.get("commit", "")),
            ready=ready,
        )
    waiting = replace(pending, due=max(deadline, now))
    if now < deadline or any(r.event_type is EventType.ESCALATED for r in mine):
        return Rollout(phase=RolloutPhase.WAITING, pending=waiting)
    record = _not_synced_record(pending, blueprint, now, done, deadline)
    return Rollout(
        phase=RolloutPhase.WAITING,
        pending=waiting,
        records=(record,),
        commit=str(done.get("commit", "")),
        timeout=_timeout(blueprint),
    )


def _timeout(blueprint: Blueprint) -> float:
    return blueprint.manifests.sync_timeout if blueprint.manifests is not None else 600.0


def _deadline(done: Mapping[str, Any], pending: Pending, blueprint: Blueprint) -> datetime:
    raw = done.get("sync_deadline")
    if isinstance(raw, datetime):
        return utc(raw)
    try:
        return parse_utc(str(raw))
    except (TypeError, ValueError):
        return utc(pending.record.timestamp) + timedelta(seconds=_timeout(blueprint))


def _rolled_out_record(
    pending: Pending, blueprint: Blueprint, now: datetime, done: Mapping[str, Any], ready: bool
) -> Record:
    commit = str(done.get("commit", ""))
    return record_under(
        blueprint,
        EventType.ROLLED_OUT,
        Outcome.SUCCESS,
        record_id=make_id("out", now, blueprint.name, pending.operation_id),
        at=now,
        rationale=(
            f"the cluster runs what {commit[:12]} committed; verification starts now"
            if ready
            else f"the cluster took what {commit[:12]} committed but its pods were not all ready "
            "by the sync deadline; it ran, so it is verified now"
        ),
        operation=pending.record.operation,
        links=_links(pending, commit),
        details={"commit": commit, "all_ready": ready},
    )


def _not_synced_record(
    pending: Pending,
    blueprint: Blueprint,
    now: datetime,
    done: Mapping[str, Any],
    deadline: datetime,
) -> Record:
    commit = str(done.get("commit", ""))
    return record_under(
        blueprint,
        EventType.ESCALATED,
        Outcome.PENDING,
        record_id=make_id("esc", now, blueprint.name, pending.operation_id, "not-synced"),
        at=now,
        rationale=f"{commit[:12]} ({', '.join(done.get('files') or [])}) was not rolled out by "
        f"{deadline:%H:%M:%S}Z: the GitOps tool is stuck, paused, or not applying this file. "
        "Nothing is rolled back (nothing ran); the change is verified once it rolls out, and no "
        "other change is made meanwhile.",
        operation=pending.record.operation,
        links=_links(pending, commit),
        details={"reason": "not_synced", "commit": commit, "sync_deadline": deadline},
    )


def _links(pending: Pending, commit: str) -> dict[str, str]:
    """A rollout's records link the change, its commit and the decision behind it."""
    return {
        "operation": pending.operation_id,
        "commit": commit,
        **{k: v for k, v in pending.record.links.items() if k == "decision"},
    }


def rollout_wait(pending: Pending, history: Sequence[Record]) -> str:
    """What a change made through git still waits for, for people ("" when it is rolled out
    or not made through git): `pending.due` is then its sync deadline."""
    done = body_of(pending.record, ExecutionBody).write_back
    if done is None:
        return ""
    operation = pending.operation_id
    if any(
        r.event_type is EventType.ROLLED_OUT and r.links.get("operation") == operation
        for r in history
    ):
        return ""
    commit = str(done.get("commit", ""))[:12]
    return (
        f"once the GitOps tool has rolled out {commit} (escalated if it has not by "
        f"{pending.due:%H:%M:%S}Z)"
    )
