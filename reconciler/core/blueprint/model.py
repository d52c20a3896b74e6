"""The validated, frozen form of a blueprint and of the global policies.

Nothing downstream of the loader handles a raw dict: every value here has been parsed into its
unit (fractions, seconds, millicores, bytes), every default has been applied, and the service's
governance has been merged with the global policies into one `Policy`. Instances are built only
by `reconciler.core.blueprint.loading`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from reconciler.core.blueprint.catalogue import Alternative, Operation
from reconciler.core.blueprint.conditions import Condition
from reconciler.core.blueprint.units import Money
from reconciler.core.bounds import REPLICAS_MAX

__all__ = [
    "DEFAULT_BEHAVIOR",
    "ApprovalWorkflow",
    "Behavior",
    "Blueprint",
    "CircuitBreakerSettings",
    "Cost",
    "GlobalPolicies",
    "Guards",
    "ManifestFormat",
    "Manifests",
    "Metadata",
    "MetricWeight",
    "Mode",
    "Performance",
    "Policy",
    "PolicyType",
    "RateLimits",
    "RatePolicy",
    "Reliability",
    "ResourceSpec",
    "Resources",
    "Rule",
    "Safety",
    "Scaling",
    "ScalingRules",
    "SelectPolicy",
    "Tier",
]


class Tier(StrEnum):
    """The three governance tiers. `restricted` is the tier of `requires_approval`."""

    ALLOWED = "allowed"
    RESTRICTED = "restricted"
    FORBIDDEN = "forbidden"


#: The blueprint key that lists each tier.
TIER_KEYS: Mapping[Tier, str] = {
    Tier.ALLOWED: "allowed_operations",
    Tier.RESTRICTED: "requires_approval",
    Tier.FORBIDDEN: "forbidden_operations",
}


@dataclass(frozen=True, kw_only=True)
class Provenance:
    """What a record was judged under: the commit the blueprints and policies were read from,
    and the git blob id of each of those files by path, so `git show BLOB` prints exactly
    the rules that applied. Empty for records written before records carried it."""

    commit: str = ""
    blobs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Rule:
    """One entry of a governance list, with where it came from for the audit record."""

    operation: str
    tier: Tier
    condition: Condition | None = None
    autonomous: bool = True
    rationale: str = ""
    alternatives: tuple[Alternative, ...] = ()
    approvers: tuple[str, ...] = ()
    #: `blueprint` or `global`, and the field path, e.g.
    #: governance.agent_authority.allowed_operations[0]
    origin: str = "blueprint"
    reference: str = ""


@dataclass(frozen=True, kw_only=True)
class ApprovalWorkflow:
    approvers: tuple[str, ...]
    timeout: float
    auto_reject_on_timeout: bool
    rejection_cooloff: float
    notification_channels: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class CircuitBreakerSettings:
    failure_threshold: int
    failure_window: float
    reset_timeout: float
    manual_reset_required: bool


@dataclass(frozen=True, kw_only=True)
class RateLimits:
    per_hour: int
    per_day: int


@dataclass(frozen=True, kw_only=True)
class Safety:
    cooldown: float
    circuit_breaker: CircuitBreakerSettings
    rate_limits: RateLimits


@dataclass(frozen=True, kw_only=True)
class Policy:
    """A service's effective governance: global and service rules merged, defaults applied."""

    rules: tuple[Rule, ...]
    approval: ApprovalWorkflow
    safety: Safety
    catalogue: Mapping[str, Operation]

    def rules_for(self, operation: str, tier: Tier | None = None) -> tuple[Rule, ...]:
        return tuple(
            rule
            for rule in self.rules
            if rule.operation == operation and (tier is None or rule.tier is tier)
        )

    def names(self, tier: Tier) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for rule in self.rules:
            if rule.tier is tier:
                seen.setdefault(rule.operation)
        return tuple(seen)


@dataclass(frozen=True, kw_only=True)
class Metadata:
    name: str
    version: str
    namespace: str
    deployment: str
    owner: str = ""
    description: str = ""
    priority: str = "medium"
    criticality: str = "standard"


@dataclass(frozen=True, kw_only=True)
class MetricWeight:
    type: str  # cpu, memory or latency
    weight: float


@dataclass(frozen=True, kw_only=True)
class Guards:
    """Per-metric limits that ask for a scale-up on their own, whatever the weighted average.

    An average can hide one saturated resource (CPU at 95% with idle memory); each weighted
    metric past its own limit makes its own recommendation, and the largest one wins, as the
    HPA does with several metrics.
    """

    #: CPU utilization (usage / request) above this asks for a scale-up.
    cpu_utilization: float
    #: Memory utilization above this asks for a scale-up.
    memory_utilization: float
    #: p95 latency above this multiple of spec.performance.latency_p95 asks for a scale-up.
    latency_factor: float


class PolicyType(StrEnum):
    """How a rate policy counts: whole pods, or a percentage of the replicas the period began
    with (HPA's `Pods` and `Percent`)."""

    PODS = "Pods"
    PERCENT = "Percent"


class SelectPolicy(StrEnum):
    """Which rate policy limits a direction when several apply (HPA's `selectPolicy`): the one
    allowing the largest change, the smallest, or none at all (that direction is off)."""

    MAX = "Max"
    MIN = "Min"
    DISABLED = "Disabled"


@dataclass(frozen=True, kw_only=True)
class RatePolicy:
    """At most `value` pods (or percent) of change within any `period` seconds."""

    type: PolicyType
    value: int
    period: float


@dataclass(frozen=True, kw_only=True)
class ScalingRules:
    """One direction of `spec.scaling.behavior`, as HPA's `scaleUp` / `scaleDown`."""

    policies: tuple[RatePolicy, ...]
    select: SelectPolicy
    #: Seconds of recommendations a step must agree with: the lowest over the window for a
    #: scale-up, the highest for a scale-down.
    stabilization: float


@dataclass(frozen=True, kw_only=True)
class Behavior:
    """How fast replicas may change, per direction, over the trail's executed changes."""

    scale_up: ScalingRules
    scale_down: ScalingRules


#: HPA's defaults: up by the larger of 4 pods or 100% per 15 s, at once; down by up to 100%
#: per 15 s after 300 s of low recommendations.
DEFAULT_BEHAVIOR = Behavior(
    scale_up=ScalingRules(
        policies=(
            RatePolicy(type=PolicyType.PODS, value=4, period=15.0),
            RatePolicy(type=PolicyType.PERCENT, value=100, period=15.0),
        ),
        select=SelectPolicy.MAX,
        stabilization=0.0,
    ),
    scale_down=ScalingRules(
        policies=(RatePolicy(type=PolicyType.PERCENT, value=100, period=15.0),),
        select=SelectPolicy.MAX,
        stabilization=300.0,
    ),
)


@dataclass(frozen=True, kw_only=True)
class Scaling:
    min_replicas: int
    max_replicas: int
    target_cpu_utilization: float
    target_memory_utilization: float
    scale_up_threshold: float
    scale_down_threshold: float
    #: Most replicas one step adds or removes; None when the blueprint writes a `behavior`
    #: and not the increment, so the behavior's rate policies alone limit the step.
    scale_up_increment: int | None
    scale_down_increment: int | None
    scale_down_stabilization: float
    stabilization_period: float
    metrics: tuple[MetricWeight, ...]
    guards: Guards
    #: `spec.scaling.behavior`, HPA's defaults filling what it leaves out; None when the
    #: blueprint writes none, and the step settings alone limit each change, as before.
    behavior: Behavior | None = None
    #: exclusive (refuse when another controller owns replicas), adjust_hpa, or
    #: gitops_ignores_replicas (see docs/governance.md, Other controllers).
    coexistence: str = "exclusive"
    #: The most replicas any change may set, approved or not: the fleet ceiling of the global
    #: policies (`limits.max_replicas`), else the most Kubernetes can store.
    replica_ceiling: int = REPLICAS_MAX


@dataclass(frozen=True, kw_only=True)
class Performance:
    latency_p95_ms: float
    error_rate_max: float
    throughput_min: float | None = None
    availability: float | None = None
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None


@dataclass(frozen=True, kw_only=True)
class ResourceSpec:
    """CPU in millicores or memory in bytes; None where the blueprint does not say."""

    request: int | None
    limit: int | None
    target_utilization: float
    optimization_threshold: float


@dataclass(frozen=True, kw_only=True)
class Resources:
    cpu: ResourceSpec
    memory: ResourceSpec


@dataclass(frozen=True, kw_only=True)
class Reliability:
    max_restart_count: int
    rollback_threshold: int
    rollback_on_failure: bool


@dataclass(frozen=True, kw_only=True)
class Cost:
    cost_per_replica: Money | None = None
    monthly_budget: Money | None = None


@dataclass(frozen=True, kw_only=True)
class ClusterDeclaration:
    """A real cluster the repository serves (the global policies' `clusters`): the name
    blueprints use, the identity records carry (its kube-system namespace's UID), and the
    kubeconfig context that reaches it, if said."""

    name: str
    identity: str
    context: str = ""


class Mode(StrEnum):
    """Whether the reconciler acts on a service, or only records what it would have done.

    `observe` is for a trial: full cycles, every decision and verdict recorded as what it
    would have done, nothing changed and nothing proposed (`reconciler report` sums it up).
    """

    ACT = "act"
    OBSERVE = "observe"


class ManifestFormat(StrEnum):
    """How the file that Argo CD or Flux applies holds the replicas."""

    #: A manifest file; the document is picked by kind and name.
    PLAIN = "plain"
    #: A kustomization's `replicas:` entry (requests in a patch file).
    KUSTOMIZE = "kustomize"
    #: A Helm values file, with key paths.
    HELM = "helm"


@dataclass(frozen=True, kw_only=True)
class Manifests:
    """Where the numbers a GitOps tool applies live in git (`spec.manifests`): under
    `coexistence: write_back` a change is a commit to this file, not a write to the cluster."""

    format: ManifestFormat
    #: The file, relative to the repository's root.
    path: str
    #: plain (and kustomize's patch): the document's kind and name. kustomize: the name of
    #: the `replicas:` entry. Default name: the blueprint's deployment.
    kind: str = "Deployment"
    name: str = ""
    #: kustomize: the patch file whose containers carry the resource requests ("": none).
    patch: str = ""
    #: helm: the key paths of the replica count and of the requests mapping (cpu, memory).
    replicas_key: tuple[str, ...] = ()
    requests_key: tuple[str, ...] = ()
    #: Another repository ("": the blueprint repository) and the branch the tool applies
    #: ("": the branch the reconciler runs on, or the remote's default).
    repository: str = ""
    branch: str = ""
    #: Seconds the tool may take to roll out a commit before a person is asked.
    sync_timeout: float = 600.0

    @property
    def files(self) -> tuple[str, ...]:
        """Every file the location reads: the main file, and the patch when there is one."""
        return (self.path, self.patch) if self.patch else (self.path,)


@dataclass(frozen=True, kw_only=True)
class Blueprint:
    """One service's desired state and effective policy, as loaded from one file."""

    source: str
    digest: str
    metadata: Metadata
    scaling: Scaling
    performance: Performance
    resources: Resources
    reliability: Reliability
    policy: Policy
    cost: Cost
    #: `spec.suspend`: paused by a reviewed change; the reconciler only observes and reports.
    suspend: bool = False
    #: `spec.cluster`: the declared cluster the service runs on; None: any.
    cluster: str | None = None
    #: The effective mode: `observe` when the blueprint's `spec.mode` or the global
    #: policies' `mode` says so (a blueprint can ask for a trial, never leave the fleet's).
    mode: Mode = Mode.ACT
    #: Which file put the service in observe mode, for the notes and records that say why.
    observed_by: str = ""
    #: PromQL templates by metric (latency_p95, error_rate); empty means the defaults.
    queries: Mapping[str, str] = field(default_factory=dict)
    #: Where the replicas (and requests) live in git, when a GitOps tool applies them.
    manifests: Manifests | None = None
    #: The commit and blob ids this blueprint and the policies were read from; every record
    #: judged under it carries them. Empty when read from the working tree.
    provenance: Provenance = field(default_factory=Provenance)

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def version(self) -> str:
        return self.metadata.version


@dataclass(frozen=True, kw_only=True)
class GlobalPolicies:
    """The fleet-wide rules from blueprints/governance/policies.yaml (or built-in defaults)."""

    source: str
    default_namespace: str
    catalogue: Mapping[str, Operation]
    rules: tuple[Rule, ...]
    approval: ApprovalWorkflow
    safety: Safety
    max_new_proposals_per_run: int
    #: `limits.max_replicas`: no blueprint may allow more replicas, no request ask for more.
    replica_ceiling: int = REPLICAS_MAX
    #: Approver teams and their members, for forges that cannot ask (the local one).
    teams: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: `mode`: observe puts every service on trial, whatever its blueprint says.
    mode: Mode = Mode.ACT
    #: `clusters`: the real clusters the repository serves; empty: any one.
    clusters: tuple[ClusterDeclaration, ...] = ()
