"""Classification, safety checks and verdicts, as tables."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from reconciler.core.blueprint.catalogue import Operation
from reconciler.core.blueprint.model import Tier
from reconciler.core.decide.governance import (
    OperationRequest,
    Origin,
    SafetyCheck,
    VerdictAction,
    check_safety,
    classify,
    condition_values,
    govern,
)
from reconciler.core.decide.rules import classify_under
from reconciler.core.ids import make_id
from reconciler.core.trail.history import fold_history
from reconciler.core.trail.records import EventType, Outcome, Record
from reconciler.core.trail.wording import Code, Reason
from tests.core.helpers import NOW, blueprint, seed_blueprint

GOV = """governance:
  agent_authority:
    allowed_operations:
      - operation: restart_failed_pods
        condition: restart_count > 0
      - operation: adjust_resources_within_10_percent
        autonomous: false
    requires_approval:
      - operation: change_health_checks
        condition: hour_utc < 9
    forbidden_operations:
      - operation: scale_beyond_limits
        condition: target_replicas > 20
"""


def request(
    operation: str, target: int | None = None, current: int | None = 2, **kw: object
) -> OperationRequest:
    return OperationRequest(
        operation=operation,
        service="web",
        origin=kw.pop("origin", Origin.REQUEST),  # type: ignore[arg-type]
        current_replicas=current if target is not None else None,
        target_replicas=target,
        **kw,  # type: ignore[arg-type]
    )


def tier(bp, req: OperationRequest, **observed: float | None) -> Tier:  # type: ignore[no-untyped-def]
    return classify(req, bp, condition_values(req, bp, observed, NOW)).tier


@pytest.mark.parametrize(
    ("name", "req", "observed", "expected"),
    [
        ("allowed within bounds", request("scale_within_limits", 3), {}, Tier.ALLOWED),
        ("global forbid wins", request("delete_deployment"), {}, Tier.FORBIDDEN),
        ("unknown operation", request("launch_rockets"), {}, Tier.FORBIDDEN),
        ("known but unlisted", request("modify_security_context"), {}, Tier.FORBIDDEN),
        ("own rollback allowed by default", request("rollback_own_change"), {}, Tier.ALLOWED),
        (
            "allowed condition holds",
            request("restart_failed_pods"),
            {"restart_count": 2},
            Tier.ALLOWED,
        ),
        (
            "allowed condition fails: approval",
            request("restart_failed_pods"),
            {"restart_count": 0},
            Tier.RESTRICTED,
        ),
        (
            "allowed condition unknown: approval",
            request("restart_failed_pods"),
            {},
            Tier.RESTRICTED,
        ),
        (
            "autonomous false: approval",
            request("adjust_resources_within_10_percent"),
            {},
            Tier.RESTRICTED,
        ),
        ("conditional forbid applies", request("scale_beyond_limits", 25), {}, Tier.FORBIDDEN),
        (
            "conditional forbid does not apply",
            request("scale_beyond_limits", 7),
            {},
            Tier.RESTRICTED,
        ),
        (
            "restricted only before 9:00 UTC; after it falls back to the global restriction",
            request("change_health_checks"),
            {},
            Tier.RESTRICTED,
        ),
    ],
)
def test_classification(
    name: str, req: OperationRequest, observed: dict[str, float], expected: Tier
) -> None:
    assert tier(blueprint(governance=GOV), req, **observed) is expected, name


def test_a_forbidding_rule_with_unknown_inputs_still_forbids() -> None:
    bp = blueprint(
        governance="governance:\n  agent_authority:\n    forbidden_operations:\n"
        "      - operation: restart_failed_pods\n        condition: error_rate > 50%\n"
    )
    assert tier(bp, request("restart_failed_pods")) is Tier.FORBIDDEN
    assert tier(bp, request("restart_failed_pods"), error_rate=0.01) is Tier.ALLOWED


def test_classification_explains_with_values() -> None:
    bp = seed_blueprint()
    req = request("scale_within_limits", 3)
    result = classify(req, bp, condition_values(req, bp, {}, NOW))
    assert result.tier is Tier.ALLOWED
    assert "(3 >= 1 AND 3 <= 5) holds" in result.rationale
    assert result.references == (
        "governance.agent_authority.allowed_operations[0]",
        "global:governance.agent_authority.allowed_operations[0]",
    )


def _executed(at_seconds_ago: float, operation: str = "scale_within_limits") -> Record:
    at = NOW - timedelta(seconds=at_seconds_ago)
    return Record(
        id=make_id("op", at, "web", at_seconds_ago),
        timestamp=at,
        event_type=EventType.OPERATION_EXECUTED,
        service="web",
        blueprint_version="1.0.0",
        outcome=Outcome.SUCCESS,
        rationale="",
        operation=operation,
    )


def _failed(at_seconds_ago: float) -> Record:
    at = NOW - timedelta(seconds=at_seconds_ago)
    return Record(
        id=make_id("op", at, "fail", at_seconds_ago),
        timestamp=at,
        event_type=EventType.OPERATION_FAILED,
        service="web",
        blueprint_version="1.0.0",
        outcome=Outcome.FAILURE,
        rationale="boom",
    )


def history(*records: Record):  # type: ignore[no-untyped-def]
    bp = seed_blueprint()
    return fold_history("web", records, bp.policy.safety.circuit_breaker, NOW)


@pytest.mark.parametrize(
    ("seconds_ago", "ok"), [(30, False), (59.9, False), (60, True), (61, True)]
)
def test_cooldown_boundary(seconds_ago: float, ok: bool) -> None:
    checks = {
        c.name: c
        for c in check_safety(
            request("scale_within_limits", 3),
            seed_blueprint(),
            history(_executed(seconds_ago)),
            NOW,
        )
    }
    assert checks["cooldown"].ok is ok


def test_rate_limits_slide_and_exclude_rollbacks() -> None:
    records = [_executed(3500 - 100 * i) for i in range(10)] + [
        _executed(50, "rollback_own_change")
    ]
    checks = {
        c.name: c
        for c in check_safety(
            request("scale_within_limits", 3), seed_blueprint(), history(*records), NOW
        )
    }
    assert not checks["rate_limit_hourly"].ok
    assert checks["rate_limit_hourly"].detail == "10/10 changes in the last 1h"
    assert checks["rate_limit_daily"].ok


def test_daily_rate_limit_defers_below_the_hourly_one() -> None:
    # 50 changes 28 minutes apart: at most 3 in any hour, but all 50 within the last day.
    records = [_executed(600 + 1680 * i) for i in range(50)]
    verdict = govern(
        request("scale_within_limits", 3), seed_blueprint(), history(*records), {}, NOW
    )
    checks = {check.name: check for check in verdict.safety}
    assert checks["cooldown"].ok and checks["rate_limit_hourly"].ok
    assert checks["rate_limit_hourly"].detail == "2/10 changes in the last 1h"
    assert not checks["rate_limit_daily"].ok
    assert verdict.action is VerdictAction.DEFER
    assert verdict.reason_words[-1] == "50/50 changes in the last 1d"
    # Room again once the oldest of the 50 is a day old: 82,920 s ago + 86,400 s.
    assert verdict.retry_at == NOW + timedelta(seconds=3480)
    one_fewer = govern(
        request("scale_within_limits", 3), seed_blueprint(), history(*records[:-1]), {}, NOW
    )
    assert one_fewer.action is VerdictAction.EXECUTE


def test_verdict_lists_every_reason() -> None:
    records = [_executed(3500 - 300 * i) for i in range(9)] + [_executed(30)]
    records += [_failed(200), _failed(150), _failed(100)]
    hist = history(*records)
    assert hist.breaker.should_open
    from dataclasses import replace

    from reconciler.core.trail.history import BreakerPhase, BreakerState

    hist = replace(hist, breaker=BreakerState(phase=BreakerPhase.OPEN, opened_at=NOW))
    verdict = govern(request("scale_within_limits", 3), seed_blueprint(), hist, {}, NOW)
    assert verdict.action is VerdictAction.BLOCK
    joined = " | ".join(verdict.reason_words)
    assert "cooldown" in joined and "10/10 changes" in joined and "circuit breaker open" in joined


def test_defer_has_a_retry_time() -> None:
    verdict = govern(
        request("scale_within_limits", 3), seed_blueprint(), history(_executed(20)), {}, NOW
    )
    assert verdict.action is VerdictAction.DEFER
    assert verdict.retry_at == NOW + timedelta(seconds=40)


def test_restricted_requests_approval_even_in_cooldown() -> None:
    # Named scale_within_limits but beyond max_replicas (5): its allowed rule's condition is
    # false, so it needs approval (not forbidden), and the cooldown does not defer a proposal.
    verdict = govern(
        request("scale_within_limits", 7), seed_blueprint(), history(_executed(20)), {}, NOW
    )
    assert verdict.classification is Tier.RESTRICTED
    assert verdict.action is VerdictAction.REQUEST_APPROVAL
    assert verdict.approvers == ("devops-team",)
    assert verdict.retry_at is None
    assert "(7 >= 1 AND 7 <= 5) does not hold, so it needs approval" in verdict.reason_words[0]
    assert verdict.reason_words[-1] == (
        "safety is checked again when the approved change is applied; now: "
        "last change 20s ago, cooldown 1m (40s left)"
    )
    beyond = govern(
        request("scale_beyond_limits", 7), seed_blueprint(), history(_executed(20)), {}, NOW
    )
    assert beyond.action is VerdictAction.REQUEST_APPROVAL
    assert beyond.approvers == ("devops-team",)
    assert any("safety is checked again" in r for r in beyond.reason_words)


def test_own_rollback_is_exempt_from_safety() -> None:
    from dataclasses import replace

    from reconciler.core.trail.history import BreakerPhase, BreakerState

    hist = replace(
        history(_executed(5)), breaker=BreakerState(phase=BreakerPhase.OPEN, opened_at=NOW)
    )
    verdict = govern(
        request("rollback_own_change", origin=Origin.ROLLBACK), seed_blueprint(), hist, {}, NOW
    )
    assert verdict.action is VerdictAction.EXECUTE


def test_forbidden_alternatives_are_classified() -> None:
    verdict = govern(request("delete_deployment"), seed_blueprint(), history(), {}, NOW)
    assert verdict.action is VerdictAction.BLOCK
    assert [(a.operation, a.tier) for a in verdict.alternatives] == [
        ("scale_beyond_limits", Tier.RESTRICTED),
        ("restart_failed_pods", Tier.ALLOWED),
        ("rollback_deployment", Tier.ALLOWED),
    ]


_OWN_ALTERNATIVES = """governance:
  agent_authority:
    allowed_operations:
      - operation: scale_within_limits
        condition: replica_change <= 2
      - operation: restart_failed_pods
        condition: restart_count > 0
    forbidden_operations:
      - operation: delete_service
        alternatives:
          - operation: scale_within_limits
            replicas: 4
            description: four replicas instead
          - operation: scale_within_limits
            replicas: 5
          - operation: restart_failed_pods
"""


@pytest.mark.parametrize(
    ("current", "restarts", "tiers"),
    [
        # From 2, four replicas is a change of 2 (the condition holds), five of 3 (it fails).
        (2, 1, (Tier.ALLOWED, Tier.RESTRICTED, Tier.ALLOWED)),
        # From 3 both hold; no restarts: restarting is not allowed outright.
        (3, 0, (Tier.ALLOWED, Tier.ALLOWED, Tier.RESTRICTED)),
        # The current size unknown: no change can be computed, so neither condition holds.
        (None, 1, (Tier.RESTRICTED, Tier.RESTRICTED, Tier.ALLOWED)),
    ],
)
def test_a_rules_own_alternatives_are_classified_for_the_service_as_it_is(
    current: int | None, restarts: int, tiers: tuple[Tier, ...]
) -> None:
    """A forbidding rule's own alternatives replace the catalogue's, and each is classified
    as that operation would be now: with its replicas, from the current size, with what is
    observed."""
    bp = blueprint(governance=_OWN_ALTERNATIVES)
    req = OperationRequest(
        operation="delete_service", service="web", origin=Origin.REQUEST, current_replicas=current
    )
    verdict = govern(req, bp, history(), {"restart_count": restarts}, NOW)
    assert (verdict.action, verdict.classification) == (VerdictAction.BLOCK, Tier.FORBIDDEN)
    assert [(a.operation, a.replicas, a.tier) for a in verdict.alternatives] == [
        ("scale_within_limits", 4, tiers[0]),
        ("scale_within_limits", 5, tiers[1]),
        ("restart_failed_pods", None, tiers[2]),
    ]
    catalogue = bp.policy.catalogue
    assert [a.description for a in verdict.alternatives] == [
        "four replicas instead",
        catalogue["scale_within_limits"].summary,
        catalogue["restart_failed_pods"].summary,
    ]


def test_an_alternative_the_catalogue_does_not_know_is_offered_by_name_as_forbidden() -> None:
    bp = blueprint(
        governance="governance:\n  agent_authority:\n    forbidden_operations:\n"
        "      - operation: delete_service\n        alternatives:\n"
        "          - operation: page_the_oncall\n"
    )
    verdict = govern(request("delete_service"), bp, history(), {}, NOW)
    assert [(a.operation, a.description, a.tier) for a in verdict.alternatives] == [
        ("page_the_oncall", "page_the_oncall", Tier.FORBIDDEN)
    ]


def test_an_unknown_operation_is_blocked_with_no_alternatives() -> None:
    verdict = govern(request("launch_rockets"), seed_blueprint(), history(), {}, NOW)
    assert (verdict.action, verdict.classification) == (VerdictAction.BLOCK, Tier.FORBIDDEN)
    assert verdict.alternatives == ()


_MANUAL = """governance:
  agent_authority:
    allowed_operations:
      - operation: restart_failed_pods
        condition: restart_count > 0
        autonomous: false
      - operation: adjust_resources_within_10_percent
        autonomous: false
"""


@pytest.mark.parametrize(
    ("operation", "condition", "result", "rendered"),
    [
        ("restart_failed_pods", "restart_count > 0", True, "2 > 0"),
        ("adjust_resources_within_10_percent", None, True, None),
    ],
)
def test_each_rule_checked_is_recorded_with_its_origin_tier_and_autonomy(
    operation: str, condition: str | None, result: bool, rendered: str | None
) -> None:
    """The verdict's checks are the audit's account of which rules applied: each one with
    where it came from, its tier, its condition as evaluated, and whether it may run alone."""
    verdict = govern(
        request(operation), blueprint(governance=_MANUAL), history(), {"restart_count": 2}, NOW
    )
    assert verdict.action is VerdictAction.REQUEST_APPROVAL
    own = [c for c in verdict.checks if c.origin == "blueprint"]
    assert [(c.tier, c.condition, c.result, c.rendered, c.missing, c.autonomous) for c in own] == [
        (Tier.ALLOWED, condition, result, rendered, (), False)
    ]
    assert all(c.origin == "global" and c.autonomous for c in verdict.checks if c not in own)
    assert all(isinstance(c.tier, Tier) for c in verdict.checks)


def test_allowed_but_not_executable_is_blocked() -> None:
    bp = blueprint(
        governance="governance:\n  agent_authority:\n    allowed_operations: [view_logs]\n"
    )
    verdict = govern(request("view_logs"), bp, history(), {}, NOW)
    assert verdict.action is VerdictAction.BLOCK
    assert "cannot carry out view_logs" in verdict.reason_words[-1]


# --- check_safety, each check as the verdict records it --------------------------------------


def _safety(*records: Record, operation: str = "scale_within_limits"):  # type: ignore[no-untyped-def]
    return check_safety(request(operation, 3), seed_blueprint(), history(*records), NOW)


def test_a_first_change_passes_every_check() -> None:
    assert [(c.name, c.ok, c.reason.code, c.detail, c.retry_at) for c in _safety()] == [
        ("cooldown", True, Code.NO_EARLIER_CHANGE, "no earlier change", None),
        ("rate_limit_hourly", True, Code.RATE_LIMIT, "0/10 changes in the last 1h", None),
        ("rate_limit_daily", True, Code.RATE_LIMIT, "0/50 changes in the last 1d", None),
        ("circuit_breaker", True, Code.BREAKER, "circuit breaker closed (0/3 failures)", None),
    ]


def test_in_cooldown_the_check_says_when_to_retry() -> None:
    (cooldown, *_rest) = _safety(_executed(20))
    assert cooldown == SafetyCheck(
        name="cooldown",
        ok=False,
        reason=Reason(Code.COOLDOWN, {"elapsed": 20.0, "cooldown": 60.0}),
        retry_at=NOW + timedelta(seconds=40),
    )
    assert cooldown.detail == "last change 20s ago, cooldown 1m (40s left)"
    (after,) = [c for c in _safety(_executed(60)) if c.name == "cooldown"]
    assert (after.ok, after.retry_at, after.detail) == (
        True,
        None,
        "last change 1m ago, cooldown 1m",
    )


@pytest.mark.parametrize(("count", "ok"), [(9, True), (10, False)])
def test_the_hourly_limit_edge(count: int, ok: bool) -> None:
    records = [_executed(3500 - 100 * i) for i in range(count)]
    (hourly,) = [c for c in _safety(*records) if c.name == "rate_limit_hourly"]
    assert hourly.ok is ok
    # Full: room again an hour after the oldest of the last ten.
    assert hourly.retry_at == (None if ok else NOW + timedelta(seconds=100))


def test_an_open_breaker_is_a_hard_stop_that_names_the_way_out() -> None:
    opened = [_executed(900), *(_failed(800 - i) for i in range(3))]
    opened.append(
        Record(
            id="brk-1",
            timestamp=NOW - timedelta(seconds=600),
            event_type=EventType.BREAKER_OPENED,
            service="web",
            blueprint_version="1.0.0",
            outcome=Outcome.FAILURE,
            rationale="opened",
        )
    )
    breaker = _safety(*opened)[-1]
    assert (breaker.name, breaker.ok, breaker.hard) == ("circuit_breaker", False, True)
    assert breaker.detail == (
        "circuit breaker open since 2026-02-10 15:20:00Z after repeated failures; "
        "`reconciler breaker reset web --reason ...` closes it"
    )


def test_reading_and_undoing_its_own_change_are_exempt() -> None:
    busy = [_executed(10 + i) for i in range(60)]
    (read,) = _safety(*busy, operation="view_logs")
    assert (read.name, read.ok) == ("read_only", True)
    (undo,) = _safety(*busy, operation="rollback_own_change")
    assert (undo.name, undo.ok) == ("rollback_exempt", True)
    # Each exemption still says why in the verdict's safety table (whatever the words).
    assert isinstance(read.detail, str) and read.detail
    assert isinstance(undo.detail, str) and undo.detail


# --- what a request changes, as the subject line of its commit -------------------------------

_MI = 1024 * 1024


@pytest.mark.parametrize(
    ("current", "target", "parameters", "subject"),
    [
        pytest.param(2, 4, {}, "scale 2→4", id="scale"),
        pytest.param(4, 2, {"cpu_request": 200}, "scale 4→2", id="replicas before requests"),
        pytest.param(None, 4, {}, "adjust_resources", id="target without current"),
        pytest.param(2, None, {}, "adjust_resources", id="current without target"),
        pytest.param(
            None,
            None,
            {"cpu_request": 200, "cpu_request_before": 100, "memory_request": 256 * _MI},
            "requests cpu 100m→200m, memory unset→256Mi",
            id="both requests, cpu first",
        ),
        pytest.param(
            None,
            None,
            {"memory_request": 512 * _MI, "memory_request_before": 256 * _MI},
            "requests memory 256Mi→512Mi",
            id="memory only",
        ),
        pytest.param(
            None,
            None,
            {"memory_request": 256 * _MI, "memory_request_before": "256Mi"},
            "requests memory unset→256Mi",
            id="a before that is not a number",
        ),
        pytest.param(None, None, {"cpu_request": "200m"}, "adjust_resources", id="not a number"),
    ],
)
def test_a_request_describes_what_it_changes(
    current: int | None, target: int | None, parameters: dict[str, object], subject: str
) -> None:
    req = OperationRequest(
        operation="adjust_resources",
        service="web",
        origin=Origin.REQUEST,
        current_replicas=current,
        target_replicas=target,
        parameters=parameters,
    )
    assert req.describe() == subject


# --- the values a condition may use ------------------------------------------------------------


def test_the_values_a_condition_sees_for_a_request() -> None:
    """A condition reads the request's sizes, the blueprint's limits and what was observed:
    latency in seconds (observed in milliseconds, and only under its condition name), the
    change as a fraction of the current size, the clock in UTC."""
    bp = seed_blueprint()
    req = request("scale_within_limits", 6, current=4)
    values = condition_values(req, bp, {"latency_p95_ms": 250.0, "restart_count": 1.0}, NOW)
    assert values == {
        "restart_count": 1.0,
        "target_replicas": 6.0,
        "current_replicas": 4.0,
        "min_replicas": float(bp.scaling.min_replicas),
        "max_replicas": float(bp.scaling.max_replicas),
        "replica_change": 2.0,
        "change_percent": 0.5,
        "max_restart_count": float(bp.reliability.max_restart_count),
        "rollback_threshold": float(bp.reliability.rollback_threshold),
        "latency_p95": 0.25,
        "latency_p95_target": bp.performance.latency_p95_ms / 1000,
        "hour_utc": float(NOW.hour),
        "weekday_utc": float(NOW.weekday()),
    }
    unknown = condition_values(request("restart_failed_pods"), bp, {}, NOW)
    assert [unknown[name] for name in ("target_replicas", "current_replicas", "latency_p95")] == [
        None,
        None,
        None,
    ]
    assert unknown["replica_change"] is None and unknown["change_percent"] is None


# --- an operation no rule names ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "tier_", "code", "references", "known", "summary", "close"),
    [
        pytest.param(
            "rollback_own_change", Tier.ALLOWED, Code.ALLOWED_BY_DEFAULT,
            ("catalogue:rollback_own_change",), True, "", None,
            id="allowed when unlisted, by the catalogue",
        ),
        pytest.param(
            "view_logs", Tier.FORBIDDEN, Code.UNLISTED,
            ("governance.agent_authority",), True, "not listed in any tier", None,
            id="known but unlisted: forbidden",
        ),
        pytest.param(
            "scale_within_limit", Tier.FORBIDDEN, Code.UNKNOWN_OPERATION,
            ("governance.agent_authority",), False, "unknown operation", "scale_within_limits",
            id="unknown: forbidden, naming the likeliest meant",
        ),
        pytest.param(
            "modify_database_connection", Tier.FORBIDDEN, Code.UNKNOWN_OPERATION,
            ("governance.agent_authority",), False, "unknown operation",
            "modify_database_connections",
            id="unknown: the fleet's own names are suggested too",
        ),
    ],
)  # fmt: skip
def test_an_operation_no_rule_names(
    operation: str,
    tier_: Tier,
    code: Code,
    references: tuple[str, ...],
    known: bool,
    summary: str,
    close: str | None,
) -> None:
    bp = blueprint()  # under the repository's global policies, which add fleet names
    req = request(operation)
    found = classify(req, bp, condition_values(req, bp, {}, NOW))
    assert found.reason is not None
    assert (found.tier, found.reason.code, found.references, found.known, found.summary) == (
        tier_,
        code,
        references,
        known,
        summary,
    )
    assert found.checks == () and found.rule is None
    assert found.reason.params.get("close") == close


_AUTH = "governance.agent_authority"


@pytest.mark.parametrize(
    ("operation", "target", "observed", "code", "references", "rule", "summary", "why"),
    [
        pytest.param(
            "scale_beyond_limits", 25, {}, Code.FORBIDDEN_BY_RULE,
            (f"{_AUTH}.forbidden_operations[0]",),
            (f"{_AUTH}.forbidden_operations[0]", "blueprint"),
            "change replicas outside min_replicas..max_replicas (widens the blueprint)",
            "change replicas outside min_replicas..max_replicas (widens the blueprint)",
            id="forbidden by a rule without a rationale: the catalogue says why",
        ),
        pytest.param(
            "delete_deployment", None, {}, Code.FORBIDDEN_BY_RULE,
            (f"global:{_AUTH}.forbidden_operations[0]",),
            (f"{_AUTH}.forbidden_operations[0]", "global"),
            "deleting the deployment is a complete outage of the service",
            "deleting the deployment is a complete outage of the service",
            id="forbidden by a global rule with its rationale",
        ),
        pytest.param(
            "change_health_checks", None, {}, Code.RESTRICTED_BY_RULE,
            (f"global:{_AUTH}.requires_approval[3]",),
            (f"{_AUTH}.requires_approval[3]", "global"),
            f"restricted by global:{_AUTH}.requires_approval[3]", "",
            id="restricted by a rule",
        ),
        pytest.param(
            "restart_failed_pods", None, {"restart_count": 0.0}, Code.CONDITIONS_UNMET,
            (f"{_AUTH}.allowed_operations[0]", f"global:{_AUTH}.allowed_operations[1]"),
            (f"{_AUTH}.allowed_operations[0]", "blueprint"), "", None,
            id="an allowed rule's condition unmet: restricted by that rule",
        ),
        pytest.param(
            "adjust_resources_within_10_percent", None, {}, Code.NOT_AUTONOMOUS,
            (f"{_AUTH}.allowed_operations[1]", f"global:{_AUTH}.allowed_operations[3]"),
            (f"{_AUTH}.allowed_operations[1]", "blueprint"), "", None,
            id="an allowed rule that may not act alone: restricted by it",
        ),
        pytest.param(
            "scale_within_limits", 3, {}, Code.ALLOWED_BY_RULES,
            (f"global:{_AUTH}.allowed_operations[0]",),
            (f"{_AUTH}.allowed_operations[0]", "global"), "", None,
            id="allowed by every allowed rule",
        ),
    ],
)  # fmt: skip
def test_each_tier_names_the_rule_that_decided_it(
    operation: str,
    target: int | None,
    observed: dict[str, float],
    code: Code,
    references: tuple[str, ...],
    rule: tuple[str, str],
    summary: str,
    why: str | None,
) -> None:
    bp = blueprint(governance=GOV)
    req = request(operation, target)
    found = classify(req, bp, condition_values(req, bp, observed, NOW))
    assert found.reason is not None and found.rule is not None
    assert (found.reason.code, found.references) == (code, references)
    assert (found.rule.reference, found.rule.origin) == rule
    assert len(found.checks) == len(bp.policy.rules_for(operation))
    assert (found.summary, found.reason.params.get("why")) == (summary, why)
    assert found.reason.params["operation"] == operation
    if "check" in found.reason.params:  # the deciding rule's own evaluation, as recorded
        assert found.reason.params["check"].reference == references[0]
        assert found.reason.params["check"] in found.checks


def test_a_forbidding_rule_without_words_of_its_own_or_the_catalogues_names_itself() -> None:
    """A fleet operation may be declared with an empty summary; a rule forbidding it without
    a rationale is then the only thing a commit subject can name."""
    bp = blueprint(governance=GOV)
    unsaid = Operation(name="scale_beyond_limits", summary="")
    policy = replace(bp.policy, catalogue={**bp.policy.catalogue, unsaid.name: unsaid})
    req = request("scale_beyond_limits", 25)
    found = classify_under(req, policy, condition_values(req, bp, {}, NOW))
    assert (found.tier, found.reason.code) == (Tier.FORBIDDEN, Code.FORBIDDEN_BY_RULE)
    assert found.reason.params["why"] == ""
    assert found.summary == f"forbidden by {_AUTH}.forbidden_operations[0]"


# --- settling on one action: every row at the edge a wrong `_settle` would move ---------------


def test_a_deferral_waits_for_the_last_check_to_clear() -> None:
    """In cooldown (room in 40 s) with the hourly limit full (room in 100 s): the retry is
    when both have cleared, not the first."""
    records = [_executed(3500 - 100 * i) for i in range(9)] + [_executed(20)]
    verdict = govern(
        request("scale_within_limits", 3), seed_blueprint(), history(*records), {}, NOW
    )
    failing = {c.name: c.retry_at for c in verdict.safety if not c.ok}
    assert failing == {
        "cooldown": NOW + timedelta(seconds=40),
        "rate_limit_hourly": NOW + timedelta(seconds=100),
    }
    assert (verdict.action, verdict.retry_at) == (VerdictAction.DEFER, NOW + timedelta(seconds=100))


def test_a_limit_of_no_changes_an_hour_holds_every_change_with_no_time_to_retry() -> None:
    """`max_operations_per_hour: 0` loads: no change in the hour is already the limit, and no
    counted change will ever age out to make room."""
    none_an_hour = blueprint(
        governance="governance:\n  safety:\n    rate_limits:\n      max_operations_per_hour: 0\n"
    )
    verdict = govern(request("scale_within_limits", 3), none_an_hour, history(), {}, NOW)
    (hourly,) = [c for c in verdict.safety if c.name == "rate_limit_hourly"]
    assert (hourly.ok, hourly.retry_at) == (False, None)
    assert (verdict.action, verdict.retry_at) == (VerdictAction.DEFER, None)


_OWN_APPROVERS = """governance:
  agent_authority:
    requires_approval:
      - operation: restart_failed_pods
        approvers: [acme/sre, alice]
"""


def test_a_rule_with_its_own_approvers_asks_them_and_nobody_else() -> None:
    bp = blueprint(governance=_OWN_APPROVERS)
    asked = govern(request("restart_failed_pods"), bp, history(), {}, NOW)
    assert (asked.classification, asked.action) == (Tier.RESTRICTED, VerdictAction.REQUEST_APPROVAL)
    assert asked.approvers == ("acme/sre", "alice")
    # Without approvers of its own, a rule asks the workflow's.
    default = govern(request("scale_beyond_limits", 7), seed_blueprint(), history(), {}, NOW)
    assert default.approvers == ("devops-team",)


@pytest.mark.parametrize(
    ("operation", "approved_by", "records", "action"),
    [
        pytest.param("scale_within_limits", "", (), VerdictAction.EXECUTE, id="allowed"),
        pytest.param(
            "scale_within_limits", "", (20,), VerdictAction.DEFER, id="allowed, in cooldown"
        ),
        pytest.param(
            "restart_failed_pods", "alice", (), VerdictAction.EXECUTE, id="approved and safe"
        ),
        pytest.param(
            "restart_failed_pods", "alice", (20,), VerdictAction.DEFER, id="approved, cooldown"
        ),
        pytest.param(
            "delete_deployment", "alice", (20,), VerdictAction.BLOCK, id="forbidden, approved"
        ),
    ],
)
def test_a_verdict_that_asks_for_no_approval_names_no_approvers(
    operation: str, approved_by: str, records: tuple[float, ...], action: VerdictAction
) -> None:
    bp = blueprint(governance=_OWN_APPROVERS)
    verdict = govern(
        request(operation),
        bp,
        history(*(_executed(ago) for ago in records)),
        {},
        NOW,
        approved_by=approved_by,
    )
    assert (verdict.action, verdict.approvers) == (action, ())


@pytest.mark.parametrize(
    ("records", "action", "added"),
    [
        pytest.param((), VerdictAction.EXECUTE, [Code.APPROVED], id="safe: carried out"),
        pytest.param(
            (20,), VerdictAction.DEFER, [Code.APPROVED, Code.COOLDOWN], id="in cooldown: later"
        ),
    ],
)
def test_an_approved_restricted_change_says_who_approved_it_and_then_obeys_safety(
    records: tuple[float, ...], action: VerdictAction, added: list[Code]
) -> None:
    verdict = govern(
        request("scale_beyond_limits", 7),
        seed_blueprint(),
        history(*(_executed(ago) for ago in records)),
        {},
        NOW,
        approved_by="alice",
    )
    assert (verdict.classification, verdict.action) == (Tier.RESTRICTED, action)
    assert [r.code for r in verdict.reasons[1:]] == added
    assert verdict.reasons[1] == Reason(Code.APPROVED, {"by": "alice"})
    assert verdict.retry_at == (NOW + timedelta(seconds=40) if records else None)


def test_a_forbidden_operation_lists_what_safety_would_say_too() -> None:
    """Every reason that applies: the forbidding rule first, then the cooldown it is in."""
    verdict = govern(
        request("delete_deployment"), seed_blueprint(), history(_executed(20)), {}, NOW
    )
    assert (verdict.action, verdict.retry_at) == (VerdictAction.BLOCK, None)
    assert [r.code for r in verdict.reasons[1:]] == [Code.COOLDOWN]


def test_a_verdict_keeps_the_decision_it_answers() -> None:
    verdict = govern(
        request("scale_within_limits", 3, decision_id="dec-7"), seed_blueprint(), history(), {}, NOW
    )
    assert verdict.decision_id == "dec-7"


def test_a_proposal_with_nothing_holding_it_back_adds_no_safety_note() -> None:
    """Only failing checks are noted on a proposal; when all pass, its tier's reason is all."""
    verdict = govern(request("scale_beyond_limits", 7), seed_blueprint(), history(), {}, NOW)
    assert verdict.action is VerdictAction.REQUEST_APPROVAL
    assert [r.code for r in verdict.reasons[1:]] == []
    in_cooldown = govern(
        request("scale_beyond_limits", 7), seed_blueprint(), history(_executed(20)), {}, NOW
    )
    assert [r.code for r in in_cooldown.reasons[1:]] == [Code.SAFETY_RECHECKED]


# --- what a verdict says first: its summary and headline, one row per path ----------------------

_VIEW_ALLOWED = "governance:\n  agent_authority:\n    allowed_operations: [view_logs]\n"
_FULL_HOUR = tuple(3500 - 100 * i for i in range(9))


@pytest.mark.parametrize(
    ("req", "governance", "ago", "approved_by", "action", "summary", "headline"),
    [
        pytest.param(
            request("scale_within_limits", 3), "", (), "", VerdictAction.EXECUTE, "allowed",
            "Target replicas (3) within blueprint limits (1-5): allowed, execute.",
            id="allowed and safe: the tier",
        ),
        pytest.param(
            request("scale_within_limits", 3), "", (20,), "", VerdictAction.DEFER,
            "last change 20s ago, cooldown 1m (40s left)",
            "Target replicas (3) within blueprint limits (1-5): allowed, defer.",
            id="deferred: the check that holds it back",
        ),
        pytest.param(
            request("scale_within_limits", 3), "", (*_FULL_HOUR, 20), "", VerdictAction.DEFER,
            "last change 20s ago, cooldown 1m (40s left); 10/10 changes in the last 1h",
            "Target replicas (3) within blueprint limits (1-5): allowed, defer.",
            id="deferred by two checks: both, in order",
        ),
        pytest.param(
            request("delete_deployment"), "", (20,), "", VerdictAction.BLOCK,
            "deleting the deployment is a complete outage of the service",
            "delete_deployment: forbidden, block.",
            id="forbidden in cooldown: the rule's reason, not the cooldown",
        ),
        pytest.param(
            request("rollback_deployment", 3), "", (), "", VerdictAction.EXECUTE, "allowed",
            "rollback_deployment: allowed, execute.",
            id="not a scale: the headline names the operation, not the replicas it carries",
        ),
        pytest.param(
            request("launch_rockets"), "", (), "", VerdictAction.BLOCK, "unknown operation",
            "launch_rockets: forbidden, block.",
            id="unknown: forbidden",
        ),
        pytest.param(
            request("scale_beyond_limits", 7), "", (20,), "", VerdictAction.REQUEST_APPROVAL,
            "restricted by global:governance.agent_authority.requires_approval[0]",
            "Target replicas (7) exceeds max_replicas (5): restricted, request approval.",
            id="restricted in cooldown: the rule, not the cooldown",
        ),
        pytest.param(
            request("scale_beyond_limits", 7), "", (), "alice", VerdictAction.EXECUTE,
            "restricted by global:governance.agent_authority.requires_approval[0]",
            "Target replicas (7) exceeds max_replicas (5): restricted, execute.",
            id="restricted and approved: the rule",
        ),
        pytest.param(
            request("view_logs"), _VIEW_ALLOWED, (), "", VerdictAction.BLOCK,
            "this reconciler cannot carry out view_logs; make that change through your "
            "deployment pipeline",
            "view_logs: allowed, block.",
            id="allowed but not executable: what to do instead",
        ),
        pytest.param(
            request("change_health_checks"), "", (20,), "", VerdictAction.BLOCK,
            "this reconciler cannot carry out change_health_checks; make that change through "
            "your deployment pipeline",
            "change_health_checks: restricted, block.",
            id="restricted but not executable: what to do instead, not the cooldown",
        ),
    ],
)  # fmt: skip
def test_a_verdict_says_first_what_holds_it_back_else_its_tier(
    req: OperationRequest,
    governance: str,
    ago: tuple[float, ...],
    approved_by: str,
    action: VerdictAction,
    summary: str,
    headline: str,
) -> None:
    bp = blueprint(governance=governance) if governance else seed_blueprint()
    hist = history(*(_executed(seconds) for seconds in ago))
    verdict = govern(req, bp, hist, {}, NOW, approved_by=approved_by)
    assert verdict.action is action
    assert verdict.requires_approval is (action is VerdictAction.REQUEST_APPROVAL)
    assert (verdict.summary, verdict.rationale) == (summary, headline)
    assert (verdict.service, verdict.operation, verdict.at) == ("web", req.operation, NOW)


def test_an_open_breaker_is_the_summary_of_the_block() -> None:
    from reconciler.core.trail.history import BreakerPhase, BreakerState

    hist = replace(history(), breaker=BreakerState(phase=BreakerPhase.OPEN, opened_at=NOW))
    verdict = govern(request("scale_within_limits", 3), seed_blueprint(), hist, {}, NOW)
    assert verdict.action is VerdictAction.BLOCK
    assert verdict.summary.startswith("circuit breaker open since 2026-02-10 15:30:00Z")


def test_a_verdict_id_names_one_request_at_one_moment() -> None:
    """The same request at the same moment is the same verdict (a rerun finds its record);
    any other service, operation, target, decision, attempt or moment is another."""
    bp = seed_blueprint()

    def verdict_id(req: OperationRequest, at: object = NOW) -> str:
        return govern(req, bp, history(), {}, at).id  # type: ignore[arg-type]

    base = request("scale_within_limits", 3, decision_id="dec-1")
    assert verdict_id(base) == verdict_id(request("scale_within_limits", 3, decision_id="dec-1"))
    assert verdict_id(base).startswith("gov-20260210-153000-")
    others = [
        replace(base, service="api"),
        replace(base, operation="scale_beyond_limits"),
        replace(base, target_replicas=4),
        replace(base, decision_id="dec-2"),
        replace(base, parameters={"attempt": 2}),
    ]
    ids = {verdict_id(base), verdict_id(base, NOW + timedelta(seconds=1))}
    ids |= {verdict_id(other) for other in others}
    assert len(ids) == 7
