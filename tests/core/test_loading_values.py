"""What a loaded blueprint and the global policies hold, field by field: the file's value where
it sets one, else the global policies', else the built-in default. A setting lost on the way
(a breaker window taken from the wrong level, approvers dropped) changes what the reconciler
may do without any error, so each one is a row here.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest

from reconciler.core.blueprint.catalogue import Alternative
from reconciler.core.blueprint.loading import load_blueprint, parse_blueprint
from reconciler.core.blueprint.model import (
    ApprovalWorkflow,
    Blueprint,
    CircuitBreakerSettings,
    ClusterDeclaration,
    Cost,
    GlobalPolicies,
    Guards,
    Metadata,
    Mode,
    Performance,
    RateLimits,
    Reliability,
    Safety,
    Tier,
)
from reconciler.core.blueprint.policies import builtin_policies, load_policies
from reconciler.core.blueprint.units import Money
from reconciler.core.errors import BlueprintError
from reconciler.core.problems import Severity

SOURCE = "blueprints/web/blueprint.yaml"

MINIMAL = """\
metadata:
  name: web
  version: 1.0.0
spec:
  scaling:
    min_replicas: 1
    max_replicas: 5
"""

#: Global policies setting every safety and approval field to a value unlike the built-in one.
POLICIES = """\
mode: act
clusters:
  - {name: prod-eu, identity: uid-eu, context: eu}
  - {name: prod-us, identity: uid-us}
defaults:
  namespace: shop
limits:
  max_replicas: 40
governance:
  teams:
    sre: [alice, bob]
  proposals:
    max_new_per_run: 7
  approval_workflow:
    approvers: [sre]
    timeout: 2h
    auto_reject_on_timeout: false
    rejection_cooloff: 12h
    notification_channels: ["#ops"]
  safety:
    cooldown: {default_period: 2m}
    circuit_breaker:
      failure_threshold: 4
      failure_window: 10m
      reset_timeout: 2h
      manual_reset_required: false
    rate_limits:
      max_operations_per_hour: 8
      max_operations_per_day: 40
"""

GLOBAL_SAFETY = Safety(
    cooldown=120.0,
    circuit_breaker=CircuitBreakerSettings(
        failure_threshold=4, failure_window=600.0, reset_timeout=7200.0, manual_reset_required=False
    ),
    rate_limits=RateLimits(per_hour=8, per_day=40),
)
GLOBAL_APPROVAL = ApprovalWorkflow(
    approvers=("sre",),
    timeout=7200.0,
    auto_reject_on_timeout=False,
    rejection_cooloff=43200.0,
    notification_channels=("#ops",),
)
BUILTIN_SAFETY = Safety(
    cooldown=60.0,
    circuit_breaker=CircuitBreakerSettings(
        failure_threshold=3, failure_window=300.0, reset_timeout=3600.0, manual_reset_required=True
    ),
    rate_limits=RateLimits(per_hour=10, per_day=50),
)
BUILTIN_APPROVAL = ApprovalWorkflow(
    approvers=(), timeout=3600.0, auto_reject_on_timeout=True, rejection_cooloff=86400.0
)


def policies(text: str = POLICIES) -> GlobalPolicies:
    loaded, problems = load_policies(text.encode(), source="policies.yaml")
    assert loaded is not None and not problems, problems
    return loaded


def blueprint(text: str, fleet: GlobalPolicies | None = None) -> Blueprint:
    loaded, problems = load_blueprint(
        text.encode(), source=SOURCE, policies=fleet or policies(), expected_name="web"
    )
    assert loaded is not None, problems
    return loaded


def test_the_global_policies_hold_every_field_of_the_file() -> None:
    fleet = policies()
    assert fleet.source == "policies.yaml"
    assert fleet.safety == GLOBAL_SAFETY
    assert fleet.approval == GLOBAL_APPROVAL
    assert (fleet.default_namespace, fleet.replica_ceiling, fleet.mode) == ("shop", 40, Mode.ACT)
    assert dict(fleet.teams) == {"sre": ("alice", "bob")}
    assert fleet.max_new_proposals_per_run == 7
    assert fleet.clusters == (
        ClusterDeclaration(name="prod-eu", identity="uid-eu", context="eu"),
        ClusterDeclaration(name="prod-us", identity="uid-us", context=""),
    )


def test_the_built_in_policies_are_the_documented_defaults() -> None:
    fleet = builtin_policies()
    assert fleet.source == "(built-in global policies)"
    assert (fleet.safety, fleet.approval) == (BUILTIN_SAFETY, BUILTIN_APPROVAL)
    assert (fleet.default_namespace, fleet.max_new_proposals_per_run) == ("default", 5)
    assert (fleet.replica_ceiling, fleet.mode, fleet.rules, fleet.clusters) == (
        2147483647,
        Mode.ACT,
        (),
        (),
    )
    assert dict(fleet.teams) == {}
    # An empty file is the same as none, but for where it came from.
    assert load_policies(b"{}\n", source="policies.yaml")[0] == replace(
        fleet, source="policies.yaml"
    )


def test_a_blueprint_without_settings_takes_the_global_ones() -> None:
    loaded = blueprint(MINIMAL)
    assert loaded.policy.safety == GLOBAL_SAFETY
    assert loaded.policy.approval == GLOBAL_APPROVAL
    assert loaded.metadata.namespace == "shop"


@pytest.mark.parametrize(
    ("yaml", "expected"),
    [
        pytest.param(
            "    cooldown: {default_period: 30s}\n",
            Safety(
                cooldown=30.0,
                circuit_breaker=GLOBAL_SAFETY.circuit_breaker,
                rate_limits=GLOBAL_SAFETY.rate_limits,
            ),
            id="cooldown",
        ),
        pytest.param(
            "    circuit_breaker: {failure_threshold: 2}\n",
            Safety(
                cooldown=120.0,
                circuit_breaker=CircuitBreakerSettings(
                    failure_threshold=2,
                    failure_window=600.0,
                    reset_timeout=7200.0,
                    manual_reset_required=False,
                ),
                rate_limits=GLOBAL_SAFETY.rate_limits,
            ),
            id="failure_threshold",
        ),
        pytest.param(
            "    circuit_breaker: {failure_window: 20m}\n",
            Safety(
                cooldown=120.0,
                circuit_breaker=CircuitBreakerSettings(
                    failure_threshold=4,
                    failure_window=1200.0,
                    reset_timeout=7200.0,
                    manual_reset_required=False,
                ),
                rate_limits=GLOBAL_SAFETY.rate_limits,
            ),
            id="failure_window",
        ),
        pytest.param(
            "    circuit_breaker: {reset_timeout: 3h}\n",
            Safety(
                cooldown=120.0,
                circuit_breaker=CircuitBreakerSettings(
                    failure_threshold=4,
                    failure_window=600.0,
                    reset_timeout=10800.0,
                    manual_reset_required=False,
                ),
                rate_limits=GLOBAL_SAFETY.rate_limits,
            ),
            id="reset_timeout",
        ),
        pytest.param(
            "    circuit_breaker: {manual_reset_required: true}\n",
            Safety(
                cooldown=120.0,
                circuit_breaker=CircuitBreakerSettings(
                    failure_threshold=4,
                    failure_window=600.0,
                    reset_timeout=7200.0,
                    manual_reset_required=True,
                ),
                rate_limits=GLOBAL_SAFETY.rate_limits,
            ),
            id="manual_reset_required",
        ),
        pytest.param(
            "    rate_limits: {max_operations_per_hour: 3}\n",
            Safety(
                cooldown=120.0,
                circuit_breaker=GLOBAL_SAFETY.circuit_breaker,
                rate_limits=RateLimits(per_hour=3, per_day=40),
            ),
            id="per_hour",
        ),
        pytest.param(
            "    rate_limits: {max_operations_per_day: 20}\n",
            Safety(
                cooldown=120.0,
                circuit_breaker=GLOBAL_SAFETY.circuit_breaker,
                rate_limits=RateLimits(per_hour=8, per_day=20),
            ),
            id="per_day",
        ),
    ],
)
def test_each_safety_setting_of_a_blueprint_overrides_the_global_one_alone(
    yaml: str, expected: Safety
) -> None:
    assert blueprint(MINIMAL + "governance:\n  safety:\n" + yaml).policy.safety == expected


def test_the_scaling_cooldown_period_wins_over_both_cooldowns() -> None:
    text = MINIMAL + "    cooldown_period: 45s\ngovernance:\n  safety:\n"
    text += "    cooldown: {default_period: 30s}\n"
    assert blueprint(text).policy.safety.cooldown == 45.0


@pytest.mark.parametrize(
    ("yaml", "field", "value"),
    [
        pytest.param("approvers: [carol]", "approvers", ("carol",), id="approvers"),
        pytest.param("approvers: []", "approvers", (), id="no approvers"),
        pytest.param("timeout: 30m", "timeout", 1800.0, id="timeout"),
        pytest.param(
            "auto_reject_on_timeout: true", "auto_reject_on_timeout", True, id="auto_reject"
        ),
        pytest.param("rejection_cooloff: 1h", "rejection_cooloff", 3600.0, id="cooloff"),
        pytest.param(
            'notification_channels: ["#web"]', "notification_channels", ("#web",), id="channels"
        ),
    ],
)
def test_each_approval_setting_of_a_blueprint_overrides_the_global_one_alone(
    yaml: str, field: str, value: object
) -> None:
    text = MINIMAL + f"governance:\n  approval_workflow:\n    {yaml}\n"
    expected = ApprovalWorkflow(**{**vars(GLOBAL_APPROVAL), field: value})
    assert blueprint(text).policy.approval == expected


@pytest.mark.parametrize(
    ("fleet_mode", "spec", "mode", "observed_by"),
    [
        pytest.param("act", "", Mode.ACT, "", id="act"),
        pytest.param(
            "act",
            "  mode: observe\n",
            Mode.OBSERVE,
            "spec.mode: observe in the blueprint",
            id="spec",
        ),
        pytest.param(
            "observe", "", Mode.OBSERVE, "mode: observe in policies.yaml", id="the global policies"
        ),
        pytest.param(
            "observe",
            "  mode: act\n",
            Mode.OBSERVE,
            "mode: observe in policies.yaml",
            id="the global policies win",
        ),
    ],
)
def test_observe_mode_and_what_set_it(
    fleet_mode: str, spec: str, mode: Mode, observed_by: str
) -> None:
    fleet = policies(POLICIES.replace("mode: act", f"mode: {fleet_mode}"))
    loaded = blueprint(MINIMAL.replace("spec:\n", "spec:\n" + spec), fleet)
    assert (loaded.mode, loaded.observed_by) == (mode, observed_by)


def test_a_blueprint_holds_its_source_digest_and_top_level_settings() -> None:
    text = MINIMAL.replace("spec:\n", "spec:\n  suspend: true\n") + (
        '  observability:\n    queries:\n      error_rate: errors{service="{service}"}\n'
    )
    text = text.replace(
        "  name: web\n",
        "  name: web\n  deployment: web-v2\n  owner: team-a\n  namespace: shop-eu\n"
        "  description: the storefront\n  priority: high\n  criticality: critical\n",
    )
    text += "cost:\n  cost_per_replica: 20 USD\n  monthly_budget: 400 USD\n"
    loaded = blueprint(text)
    assert loaded.source == SOURCE
    assert loaded.digest == hashlib.sha256(text.encode()).hexdigest()
    assert loaded.suspend is True
    assert dict(loaded.queries) == {"error_rate": 'errors{service="{service}"}'}
    assert loaded.cluster is None
    assert loaded.metadata == Metadata(
        name="web",
        version="1.0.0",
        namespace="shop-eu",
        deployment="web-v2",
        owner="team-a",
        description="the storefront",
        priority="high",
        criticality="critical",
    )
    assert loaded.cost == Cost(
        cost_per_replica=Money(amount=20, currency="USD"),
        monthly_budget=Money(amount=400, currency="USD"),
    )
    plain = blueprint(MINIMAL)
    assert (plain.suspend, dict(plain.queries)) == (False, {})
    assert plain.metadata == Metadata(
        name="web",
        version="1.0.0",
        namespace="shop",
        deployment="web",
        owner="",
        description="",
        priority="medium",
        criticality="standard",
    )
    assert plain.cost == Cost()


@pytest.mark.parametrize(
    ("resources", "cpu", "memory"),
    [
        ("", 0.55, 0.65),
        ("  resources:\n    cpu: {target_utilization: 50%}\n", 0.5, 0.65),
    ],
    ids=["both from scaling", "cpu set in resources"],
)
def test_a_resource_target_defaults_to_the_scaling_target_of_that_resource(
    resources: str, cpu: float, memory: float
) -> None:
    text = MINIMAL + "    target_cpu_utilization: 55%\n    target_memory_utilization: 65%\n"
    loaded = blueprint(text + resources)
    targets = (loaded.resources.cpu.target_utilization, loaded.resources.memory.target_utilization)
    assert targets == pytest.approx((cpu, memory))


def test_rules_hold_what_each_entry_says() -> None:
    text = MINIMAL + (
        "governance:\n  agent_authority:\n"
        "    allowed_operations:\n"
        "      - restart_failed_pods\n"
        "      - {operation: rollback_deployment, autonomous: false}\n"
        "    requires_approval:\n"
        "      - operation: scale_beyond_limits\n"
        "        rationale: more pods cost money\n"
        "        approvers: [carol]\n"
        "    forbidden_operations:\n"
        "      - operation: delete_deployment\n"
        "        alternatives:\n"
        "          - scale_within_limits\n"
        "          - {operation: scale_beyond_limits, description: more room, replicas: 9}\n"
    )
    rules = {r.operation: r for r in blueprint(text).policy.rules if r.origin == "blueprint"}
    restart, rollback = rules["restart_failed_pods"], rules["rollback_deployment"]
    assert (restart.tier, restart.autonomous, restart.condition) == (Tier.ALLOWED, True, None)
    assert (rollback.autonomous, rollback.rationale, rollback.approvers) == (False, "", ())
    assert rollback.reference == "governance.agent_authority.allowed_operations[1]"
    beyond = rules["scale_beyond_limits"]
    assert (beyond.tier, beyond.rationale, beyond.approvers) == (
        Tier.RESTRICTED,
        "more pods cost money",
        ("carol",),
    )
    assert beyond.reference == "governance.agent_authority.requires_approval[0]"
    assert rules["delete_deployment"].alternatives == (
        Alternative(operation="scale_within_limits", description=""),
        Alternative(operation="scale_beyond_limits", description="more room", replicas=9),
    )
    global_rules = [r for r in blueprint(text).policy.rules if r.origin != "blueprint"]
    assert global_rules == []  # POLICIES has no rules of its own


def test_a_service_keeps_its_own_rules_first_then_the_global_ones() -> None:
    fleet = policies(POLICIES + "  agent_authority:\n    forbidden_operations: [modify_rbac]\n")
    (global_rule,) = fleet.rules
    assert (global_rule.origin, global_rule.tier, global_rule.reference) == (
        "global",
        Tier.FORBIDDEN,
        "governance.agent_authority.forbidden_operations[0]",
    )
    text = MINIMAL + "governance:\n  agent_authority:\n    forbidden_operations: [change_image]\n"
    rules = blueprint(text, fleet).policy.rules
    assert [(r.operation, r.origin) for r in rules] == [
        ("change_image", "blueprint"),
        ("modify_rbac", "global"),
    ]
    assert blueprint(text, fleet).policy.catalogue is fleet.catalogue


def test_parse_blueprint_falls_back_to_the_built_in_policies() -> None:
    loaded = parse_blueprint(MINIMAL.encode(), source=SOURCE)
    assert (loaded.policy.safety, loaded.policy.approval) == (BUILTIN_SAFETY, BUILTIN_APPROVAL)
    assert loaded.metadata.namespace == "default"


def test_parse_blueprint_uses_the_policies_and_name_it_is_given_and_raises_the_errors_alone() -> (
    None
):
    assert (
        parse_blueprint(MINIMAL.encode(), source=SOURCE, policies=policies()).metadata.namespace
        == "shop"
    )
    text = (
        MINIMAL.replace("name: web", "name: api")
        + "    metrics:\n      - {type: cpu, weight: 0.6}\n"
    )
    assert parse_blueprint(text.encode(), source=SOURCE).name == "api"  # a warning alone loads
    with pytest.raises(BlueprintError) as caught:
        parse_blueprint(text.encode(), source=SOURCE, expected_name="web")
    assert [(p.code, p.severity) for p in caught.value.problems] == [
        ("name.folder", Severity.ERROR)
    ]


def test_scaling_performance_and_reliability_hold_what_the_file_says_else_the_defaults() -> None:
    text = MINIMAL.replace(
        "    max_replicas: 5\n",
        "    max_replicas: 5\n    target_memory_utilization: 75%\n    coexistence: adjust_hpa\n"
        "    behavior:\n      scaleDown: {stabilizationWindowSeconds: 60}\n"
        "    scale_up_increment: 3\n    scale_down_increment: 2\n    stabilization_period: 2m\n"
        "    guards: {cpu_utilization: 120%, memory_utilization: 95%, latency_factor: 1.5}\n"
        "  performance:\n    latency_p95: 300ms\n    latency_p50: 80ms\n    latency_p99: 1s\n"
        "    error_rate_max: 2%\n    throughput_min: 600 req/min\n    availability: 99.5%\n"
        "  reliability:\n    max_restart_count: 5\n    rollback_threshold: 4\n"
        "    rollback_on_failure: false\n",
    )
    loaded = blueprint(text)
    assert loaded.scaling.target_memory_utilization == pytest.approx(0.75)
    assert loaded.scaling.coexistence == "adjust_hpa"
    assert loaded.scaling.guards == Guards(
        cpu_utilization=pytest.approx(1.2),
        memory_utilization=pytest.approx(0.95),
        latency_factor=1.5,
    )
    assert loaded.scaling.replica_ceiling == 40  # the global policies' limits.max_replicas
    assert loaded.scaling.behavior is not None
    assert loaded.scaling.behavior.scale_down.stabilization == 60.0
    assert loaded.scaling.scale_down_stabilization == 60.0  # the behavior's window
    assert (loaded.scaling.scale_up_increment, loaded.scaling.scale_down_increment) == (3, 2)
    assert loaded.scaling.stabilization_period == 120.0
    windowed = blueprint(MINIMAL + "    scale_down_stabilization: 10m\n")
    assert windowed.scaling.scale_down_stabilization == 600.0
    # A behavior block without written increments leaves the steps to its policies.
    stepped = blueprint(MINIMAL + "    behavior: {}\n")
    assert (stepped.scaling.scale_up_increment, stepped.scaling.scale_down_increment) == (
        None,
        None,
    )
    sized = blueprint(
        MINIMAL + "  resources:\n    cpu: {request: 250m, limit: 500m}\n"
        "    memory: {request: 256Mi, limit: 512Mi}\n"
    )
    assert (sized.resources.cpu.request, sized.resources.cpu.limit) == (250, 500)  # millicores
    assert (sized.resources.memory.request, sized.resources.memory.limit) == (256 * 2**20, 2**29)
    assert loaded.performance == Performance(
        latency_p95_ms=300.0,
        error_rate_max=pytest.approx(0.02),
        throughput_min=10.0,
        availability=pytest.approx(0.995),
        latency_p50_ms=80.0,
        latency_p99_ms=1000.0,
    )
    assert loaded.reliability == Reliability(
        max_restart_count=5, rollback_threshold=4, rollback_on_failure=False
    )
    plain = blueprint(MINIMAL)
    assert (plain.scaling.target_memory_utilization, plain.scaling.coexistence) == (
        pytest.approx(0.8),
        "exclusive",
    )
    assert plain.scaling.guards == Guards(
        cpu_utilization=pytest.approx(0.9),
        memory_utilization=pytest.approx(0.9),
        latency_factor=1.25,
    )
    assert plain.scaling.behavior is None
    assert plain.performance == Performance(
        latency_p95_ms=200.0,
        error_rate_max=pytest.approx(0.01),
        throughput_min=None,
        availability=None,
        latency_p50_ms=None,
        latency_p99_ms=None,
    )
    assert plain.reliability == Reliability(
        max_restart_count=3, rollback_threshold=2, rollback_on_failure=True
    )
