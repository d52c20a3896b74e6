"""Every reason the deciding code gives, as a closed set of codes: what was decided and why,
without the words. `wording.say` turns a code and its parameters into the English of the
records; code that needs to know why branches on the code, never on the words.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Code", "Refusal"]


class Code(StrEnum):
    """Why something was decided, as a closed set."""

    # An operation's tier (governance.classify_under).
    FORBIDDEN_BY_RULE = "forbidden_by_rule"
    RESTRICTED_BY_RULE = "restricted_by_rule"
    CONDITIONS_UNMET = "conditions_unmet"
    NOT_AUTONOMOUS = "not_autonomous"
    ALLOWED_BY_RULES = "allowed_by_rules"
    ALLOWED_BY_DEFAULT = "allowed_by_default"
    UNKNOWN_OPERATION = "unknown_operation"
    UNLISTED = "unlisted"
    # What a verdict adds to its tier (governance.govern).
    NOT_EXECUTABLE = "not_executable"
    SAFETY_RECHECKED = "safety_rechecked"
    APPROVED = "approved"
    # What each safety check found (governance.check_safety).
    READ_ONLY = "read_only"
    ROLLBACK_EXEMPT = "rollback_exempt"
    NO_EARLIER_CHANGE = "no_earlier_change"
    COOLDOWN = "cooldown"
    RATE_LIMIT = "rate_limit"
    BREAKER = "circuit_breaker"
    BREAKER_OPEN = "circuit_breaker_open"
    # Why another controller's replicas are not scaled (planning.steps.ownership).
    SEVERAL_HPAS = "several_hpas"
    HPA_AND_GITOPS = "hpa_and_gitops"
    GITOPS_OWNS_REPLICAS = "gitops_owns_replicas"
    HPA_OWNS_REPLICAS = "hpa_owns_replicas"
    # Why planning sends an operation to a person (the stages of a cycle).
    RESTARTS_BEYOND_MAX = "restarts_beyond_max"
    ROLLBACK_FAILED_REPEATEDLY = "rollback_failed_repeatedly"
    ROLLBACK_DISABLED = "rollback_disabled"
    ROLLED_BACK_STILL_FAILING = "rolled_back_still_failing"
    # Why a deferred request no longer holds.
    RETRY_TOO_LATE = "retry_too_late"
    REPLICAS_CHANGED = "replicas_changed"
    RESOURCE_CHANGED = "resource_changed"
    NO_LONGER_FITS = "no_longer_fits"
    # Why the decision engine did what it did (decide.decision).
    ABOVE_MAX = "above_max"
    BELOW_MIN = "below_min"
    METRICS_STALE = "metrics_stale"
    ERRORS_NOT_CAPACITY = "errors_not_capacity"
    METRICS_UNDECIDED = "metrics_undecided"
    METRICS_MISSING = "metrics_missing"
    WITHIN_THRESHOLDS = "within_thresholds"
    # Why a scale-down went as it did (decide.scale_down); each says W is below first.
    DOWN_AT_MIN = "down_at_min"
    DOWN_DISABLED = "down_disabled"
    DOWN_PODS_NOT_READY = "down_pods_not_ready"
    DOWN_NEEDS_HISTORY = "down_needs_history"
    DOWN_NO_HISTORY = "down_no_history"
    DOWN_HISTORY_GAP = "down_history_gap"
    DOWN_NOT_LONG_ENOUGH = "down_not_long_enough"
    DOWN_ESTIMATE_KEEPS = "down_estimate_keeps"
    DOWN_RATE_LIMITED = "down_rate_limited"
    DOWN_RECENTLY_FAILED = "down_recently_failed"
    SCALING_DOWN = "scaling_down"
    # What a verification found (decide.verification, decide.checks).
    VERIFICATION_SUMMARY = "verification_summary"
    NOT_VERIFIED_SUPERSEDED = "not_verified_superseded"
    NOT_VERIFIED_TOO_LATE = "not_verified_too_late"
    ROLLBACK_ESCALATED = "rollback_escalated"
    TARGET_AVOIDED = "target_avoided"
    REQUESTS_GREW = "requests_grew"
    LOAD_GREW = "load_grew"
    CHECK_MOVED = "check_moved"
    CHECK_NO_DATA = "check_no_data"
    CHECK_CANNOT_TELL = "check_cannot_tell"
    CHECK_NO_BASELINE = "check_no_baseline"
    CHECK_REPLICAS_CHANGED = "check_replicas_changed"
    # What a cycle's own records and status say (planning, governance's summary).
    VERDICT_HEADLINE = "verdict_headline"
    WAITING_FOR_VERIFICATION = "waiting_for_verification"
    PAUSED_DECISION = "paused_decision"
    HELD_BY_APPROVAL = "held_by_approval"
    PAUSED_BY_SUSPEND = "paused_by_suspend"
    PAUSED_BY_ANNOTATION = "paused_by_annotation"
    RECOVERED_CHANGE = "recovered_change"
    # The rationales of the records a cycle writes about requests, observe mode, the circuit
    # breaker and pauses (planning.events).
    APPROVAL_NEEDED = "approval_needed"
    OBSERVED_ONLY = "observed_only"
    BREAKER_OPENED = "breaker_opened"
    BREAKER_RESET = "breaker_reset"
    SERVICE_PAUSED = "service_paused"
    SERVICE_RESUMED = "service_resumed"
    REQUEST_EXPIRED = "request_expired"
    # What to do about failing pods (decide.recovery); each names the failing pods first.
    RECOVERY_ALL_DOWN = "recovery_all_down"
    RECOVERY_ESCALATE = "recovery_escalate"
    RECOVERY_ROLLBACK = "recovery_rollback"
    RECOVERY_RESTART = "recovery_restart"
    # Why a scale-up went as it did (decide.scale_up); each says first which rules asked.
    UP_PODS_NOT_READY = "up_pods_not_ready"
    UP_NEEDS_HISTORY = "up_needs_history"
    UP_STABILIZING = "up_stabilizing"
    UP_DISABLED = "up_disabled"
    UP_RATE_LIMITED = "up_rate_limited"
    UP_RECENTLY_FAILED = "up_recently_failed"
    UP_AT_CEILING = "up_at_ceiling"
    UP_AT_MAX = "up_at_max"
    SCALING_UP = "scaling_up"
    # The rationales, holds and comments of the approval records a review of proposals makes
    # (shell.approvals); worded in approval_wording.
    LANDED_REFUSED = "landed_refused"
    LANDED_UNMERGED = "landed_unmerged"
    LANDED_HOLD = "landed_hold"
    LANDED_CLOSING = "landed_closing"
    STALE_REFUSED = "stale_refused"
    MERGE_REFUSED = "merge_refused"
    MERGE_REFUSED_HOLD = "merge_refused_hold"
    MERGE_GRANTED = "merge_granted"
    GRANTED_AFTER_LOAD = "granted_after_load"
    UPDATED_FROM_BASE = "updated_from_base"
    EDITED_COMMENT = "edited_comment"
    EDITED_BY_PERSON = "edited_by_person"
    EXPIRED_CLOSING = "expired_closing"
    TIMED_OUT_COMMENT = "timed_out_comment"
    PROPOSAL_EXPIRED = "proposal_expired"
    PROPOSAL_REJECTED = "proposal_rejected"
    PROPOSED = "proposed"
    LOAD_MOVED_COMMENT = "load_moved_comment"
    EDITED_COMMENTED = "edited_commented"
    UPDATED_IN_PLACE = "updated_in_place"
    REJECTION_COOLOFF = "rejection_cooloff"
    SUPERSEDED_CLOSING = "superseded_closing"
    SUPERSEDED = "superseded"


class Refusal(StrEnum):
    """Why governance will refuse replicas beyond max_replicas whatever the metrics: a rule
    forbids it without a condition, or no tier lists it."""

    FORBIDDEN = "forbidden"
    UNLISTED = "unlisted"
