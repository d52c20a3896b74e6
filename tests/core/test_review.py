"""Reviewing a blueprint change: each edit's kind, class, operation and approvers, as tables.

Both sides are built from YAML text in memory and loaded with the real loader, the way
`check-change` loads two git revisions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from reconciler.core.review.change import review_change
from reconciler.core.review.comment import render_markdown
from reconciler.core.review.findings import (
    COMMENT_MARKER,
    ChangeClass,
    ChangeKind,
    Review,
    Snapshot,
)
from reconciler.shell.workspace import load_fleet_files
from tests.conftest import REPO

POLICIES = "blueprints/governance/policies.yaml"
WEB = "blueprints/web/blueprint.yaml"
API = "blueprints/api/blueprint.yaml"
POLICIES_TEXT = (REPO / POLICIES).read_text()

WEB_TEXT = """\
metadata:
  name: web
  version: 1.0.0
spec:
  scaling:
    min_replicas: 2
    max_replicas: 5
    scale_up_threshold: 80%
    scale_down_threshold: 40%
    coexistence: exclusive
  resources:
    cpu:
      request: 100m
      limit: 500m
governance:
  agent_authority:
    allowed_operations:
      - operation: scale_within_limits
        condition: target_replicas <= max_replicas
      - operation: restart_failed_pods
        autonomous: false
      - operation: adjust_resources_within_10_percent
        condition: change_percent <= 10%
    requires_approval:
      - modify_database_connections
    forbidden_operations:
      - operation: change_ai_api_settings
        rationale: the AI budget is set by finance
  approval_workflow:
    approvers: [web-team]
"""

API_TEXT = """\
metadata:
  name: api
  version: 1.0.0
spec:
  scaling:
    min_replicas: 1
    max_replicas: 3
  governance_note: none
"""

#: The same blueprint without the unknown field, so it loads.
API_VALID = API_TEXT.replace("  governance_note: none\n", "")

Edit = Callable[[dict[str, str]], None]


def snapshot(revision: str, files: Mapping[str, str]) -> Snapshot:
    data = {path: text.encode() for path, text in files.items()}
    fleet = load_fleet_files(Path("/repo"), data)
    return Snapshot(
        revision=revision,
        policies=fleet.policies,
        policies_ok=fleet.policies_ok,
        blueprints={b.name: b for b in fleet.blueprints},
        broken=dict(fleet.broken),
        problems=fleet.problems,
        sources=data,
    )


def base_files() -> dict[str, str]:
    return {POLICIES: POLICIES_TEXT, WEB: WEB_TEXT}


def review(*edits: Edit, base: Mapping[str, str] | None = None) -> Review:
    before = dict(base or base_files())
    after = dict(before)
    for edit in edits:
        edit(after)
    return review_change(snapshot("main", before), snapshot("pr", after))


def replace(old: str, new: str, path: str = WEB) -> Edit:
    def edit(files: dict[str, str]) -> None:
        assert old in files[path], f"{old!r} is not in {path}"
        files[path] = files[path].replace(old, new, 1)

    return edit


def insert_after(anchor: str, text: str, path: str = WEB) -> Edit:
    return replace(anchor, anchor + text, path)


def delete(path: str) -> Edit:
    return lambda files: files.pop(path) and None


def add(path: str, text: str) -> Edit:
    return lambda files: files.update({path: text})


def rows(result: Review) -> list[tuple[object, ...]]:
    return [
        (f.service, f.path, f.kind, f.change_class, f.operation, f.approvers)
        for f in result.findings
    ]


A, RA, F, INV = (
    ChangeClass.ALLOWED,
    ChangeClass.REQUIRES_APPROVAL,
    ChangeClass.FORBIDDEN,
    ChangeClass.INVALID,
)
K = ChangeKind
SCALING = "spec.scaling"
AUTHORITY = "governance.agent_authority"
WEB_TEAM = ("web-team",)
GLOBAL = ("devops-team",)
BEYOND = "scale_beyond_limits"
AI = "change_ai_api_settings"
RATIONALE = "        rationale: the AI budget is set by finance\n"
MANUAL_RESTART = "      - operation: restart_failed_pods\n        autonomous: false\n"
SAFETY_ANCHOR = "  approval_workflow:"


def web(
    path: str,
    kind: ChangeKind,
    cls: ChangeClass,
    operation: str = "",
    approvers: tuple[str, ...] = (),
) -> tuple[object, ...]:
    """One row of `rows` for the web service."""
    return ("web", path, kind, cls, operation, approvers)


def fleet(path: str, kind: ChangeKind, operation: str = "") -> tuple[object, ...]:
    """One row of `rows` for the global policies: always the global approvers'."""
    return ("", path, kind, RA, operation, GLOBAL)


def base_forbidding_beyond(condition: str) -> dict[str, str]:
    """BASE where web forbids scale_beyond_limits under `condition`."""
    files = base_files()
    insert_after(RATIONALE, f"      - operation: {BEYOND}\n        condition: {condition}\n")(files)
    return files


@pytest.mark.parametrize(
    ("edits", "expected"),
    [
        pytest.param(
            [delete(WEB)],
            [web("", K.BLUEPRINT_DELETED, F, "delete_deployment")],
            id="deleting a blueprint is delete_deployment: forbidden",
        ),
        pytest.param(
            [add(API, API_VALID)],
            [("api", "metadata.name", K.SERVICE_ADDED, RA, "", GLOBAL)],
            id="a new service needs the global approvers",
        ),
        pytest.param(
            [replace("max_replicas: 5", "max_replicas: 8")],
            [web(f"{SCALING}.max_replicas", K.BOUNDS_WIDENED, RA, BEYOND, WEB_TEAM)],
            id="raising max_replicas is scale_beyond_limits: approval",
        ),
        pytest.param(
            [replace("min_replicas: 2", "min_replicas: 1")],
            [web(f"{SCALING}.min_replicas", K.BOUNDS_WIDENED, RA, BEYOND, WEB_TEAM)],
            id="lowering min_replicas is scale_beyond_limits too",
        ),
        pytest.param(
            [replace("max_replicas: 5", "max_replicas: 4")],
            [web(f"{SCALING}.max_replicas", K.BOUNDS_NARROWED, A)],
            id="narrowing the bounds is allowed",
        ),
        pytest.param(
            [replace("scale_up_threshold: 80%", "scale_up_threshold: 70%")],
            [web(f"{SCALING}.scale_up_threshold", K.TUNING, A)],
            id="a threshold is tuning: allowed",
        ),
        pytest.param(
            [
                insert_after(
                    "    coexistence: exclusive\n",
                    "    cooldown_period: 30s\n    scale_up_increment: 2\n",
                )
            ],
            [
                web(f"{SCALING}.scale_up_increment", K.TUNING, A),
                web(f"{SCALING}.cooldown_period", K.TUNING, A),
            ],
            id="cooldown and increments are tuning",
        ),
        pytest.param(
            [
                replace(
                    SAFETY_ANCHOR,
                    f"  safety:\n    rate_limits:\n      max_operations_per_hour: 30\n{SAFETY_ANCHOR}",
                )
            ],
            [
                web(
                    "governance.safety.rate_limits.max_operations_per_hour",
                    K.SAFETY_LOOSENED,
                    RA,
                    "",
                    WEB_TEAM,
                )
            ],
            id="a higher rate limit needs approval",
        ),
        pytest.param(
            [
                replace(
                    SAFETY_ANCHOR,
                    f"  safety:\n    circuit_breaker:\n      failure_threshold: 2\n{SAFETY_ANCHOR}",
                )
            ],
            [web("governance.safety.circuit_breaker.failure_threshold", K.SAFETY_TIGHTENED, A)],
            id="a stricter circuit breaker is allowed",
        ),
        pytest.param(
            [replace("coexistence: exclusive", "coexistence: adjust_hpa")],
            [web(f"{SCALING}.coexistence", K.SAFETY_LOOSENED, RA, "", WEB_TEAM)],
            id="sharing replicas with an HPA needs approval",
        ),
        pytest.param(
            [replace(f"    forbidden_operations:\n      - operation: {AI}\n{RATIONALE}", "")],
            [web(f"{AUTHORITY}.forbidden_operations", K.LOOSEN_GOVERNANCE, RA, AI, WEB_TEAM)],
            id="removing a forbidden rule loosens governance",
        ),
        pytest.param(
            [
                replace(f"    forbidden_operations:\n      - operation: {AI}\n{RATIONALE}", ""),
                insert_after("      - modify_database_connections\n", f"      - {AI}\n"),
            ],
            [web(f"{AUTHORITY}.requires_approval[1]", K.LOOSEN_GOVERNANCE, RA, AI, WEB_TEAM)],
            id="forbidden to requires_approval loosens governance",
        ),
        pytest.param(
            [
                replace("    requires_approval:\n      - modify_database_connections\n", ""),
                replace(
                    "      - operation: adjust_resources_within_10_percent",
                    "      - modify_database_connections\n"
                    "      - operation: adjust_resources_within_10_percent",
                ),
            ],
            [
                web(
                    f"{AUTHORITY}.allowed_operations[2]",
                    K.LOOSEN_GOVERNANCE,
                    RA,
                    "modify_database_connections",
                    WEB_TEAM,
                )
            ],
            id="requires_approval to allowed loosens governance",
        ),
        pytest.param(
            [replace(MANUAL_RESTART, MANUAL_RESTART.replace("false", "true"))],
            [
                web(
                    f"{AUTHORITY}.allowed_operations[1]",
                    K.LOOSEN_GOVERNANCE,
                    RA,
                    "restart_failed_pods",
                    WEB_TEAM,
                )
            ],
            id="autonomous false to true loosens governance",
        ),
        pytest.param(
            [replace("        condition: target_replicas <= max_replicas\n", "")],
            [
                web(
                    f"{AUTHORITY}.allowed_operations[0]",
                    K.LOOSEN_GOVERNANCE,
                    RA,
                    "scale_within_limits",
                    WEB_TEAM,
                )
            ],
            id="removing an allowed rule's condition loosens governance",
        ),
        pytest.param(
            [insert_after(f"      - operation: {AI}\n", "        condition: hour_utc < 9\n")],
            [web(f"{AUTHORITY}.forbidden_operations[0]", K.LOOSEN_GOVERNANCE, RA, AI, WEB_TEAM)],
            id="a condition on a forbidden rule loosens it",
        ),
        pytest.param(
            [insert_after(RATIONALE, "      - modify_configmaps\n")],
            [
                web(
                    f"{AUTHORITY}.forbidden_operations[1]",
                    K.TIGHTEN_GOVERNANCE,
                    A,
                    "modify_configmaps",
                )
            ],
            id="forbidding more is tightening: allowed",
        ),
        pytest.param(
            [insert_after(MANUAL_RESTART, "        condition: restart_count > 0\n")],
            [
                web(
                    f"{AUTHORITY}.allowed_operations[1]",
                    K.TIGHTEN_GOVERNANCE,
                    A,
                    "restart_failed_pods",
                )
            ],
            id="a condition on an allowed rule is tightening: allowed",
        ),
        pytest.param(
            [
                replace(
                    "    forbidden_operations:\n",
                    "      - delete_service\n    forbidden_operations:\n",
                )
            ],
            [web(f"{AUTHORITY}.requires_approval[1]", K.LOOSEN_GOVERNANCE, F, "delete_service")],
            id="loosening what the global policies forbid is forbidden",
        ),
        pytest.param(
            [replace("max_replicas: 5", "max_replicas: 1")],
            [web(f"{SCALING}.max_replicas", K.INVALID_BLUEPRINT, INV)],
            id="a HEAD blueprint that does not validate is invalid",
        ),
        pytest.param(
            [replace("approvers: [web-team]", "approvers: [web-team, mallory]")],
            [web("governance.approval_workflow.approvers", K.APPROVERS_CHANGED, RA, "", WEB_TEAM)],
            id="changing approvers needs the approvers before the change",
        ),
        pytest.param(
            [replace("request: 100m", "request: 105m")],
            [
                web(
                    "spec.resources.cpu.request",
                    K.RESOURCES_CHANGED,
                    A,
                    "adjust_resources_within_10_percent",
                )
            ],
            id="a request change within 10 percent is allowed",
        ),
        pytest.param(
            [replace("request: 100m", "request: 200m")],
            [
                web(
                    "spec.resources.cpu.request",
                    K.RESOURCES_CHANGED,
                    RA,
                    "change_resource_limits_beyond_10_percent",
                    WEB_TEAM,
                )
            ],
            id="a request change beyond 10 percent needs approval",
        ),
        pytest.param(
            [insert_after("  version: 1.0.0\n", "  namespace: payments\n")],
            [web("metadata.namespace", K.RETARGETED, RA, "", GLOBAL)],
            id="pointing at another deployment needs the global approvers",
        ),
        pytest.param(
            [replace("      - delete_service\n", "", path=POLICIES)],
            [fleet(f"{AUTHORITY}.forbidden_operations", K.LOOSEN_GOVERNANCE, "delete_service")],
            id="a global policy edit needs the global approvers",
        ),
        pytest.param(
            [replace("    approvers: [devops-team]", "    approvers: [mallory]", path=POLICIES)],
            [fleet("governance.approval_workflow.approvers", K.APPROVERS_CHANGED)],
            id="new global approvers cannot approve their own appointment",
        ),
        pytest.param(
            [replace("    timeout: 1h\n", "    timeout: 8h\n", path=POLICIES)],
            [fleet("governance.approval_workflow.timeout", K.GLOBAL_POLICY)],
            id="a global setting needs the global approvers",
        ),
        pytest.param(
            [
                insert_after(
                    "operations:\n",
                    "  rotate_certificates: renew the service's certificates\n",
                    path=POLICIES,
                )
            ],
            [fleet("operations", K.GLOBAL_POLICY)],
            id="a new fleet operation needs the global approvers",
        ),
        pytest.param(
            [replace("devops-team: [alice,", "devops-team: [mallory, alice,", path=POLICIES)],
            [fleet("governance.teams.devops-team", K.APPROVERS_CHANGED)],
            id="joining an approver team needs the team as it was",
        ),
        pytest.param(
            [replace("  version: 1.0.0", "  version: 1.0.1")],
            [],
            id="a version bump alone changes nothing",
        ),
    ],
)
def test_each_edit_is_classified(edits: list[Edit], expected: list[tuple[object, ...]]) -> None:
    assert rows(review(*edits)) == expected


def test_deleting_the_global_policies_lists_every_consequence() -> None:
    """Without the file the built-in defaults apply: each rule and setting that changes is its
    own finding for the global approvers, and a blueprint naming a fleet operation that no
    longer exists stops validating."""
    result = review(delete(POLICIES))
    found = rows(result)
    assert found[0] == ("", "", K.GLOBAL_POLICY, RA, "", GLOBAL)
    fleet_wide = [row for row in found if row[0] == ""]
    assert all(row[3] is RA and row[5] == GLOBAL for row in fleet_wide)
    assert ("", "governance.agent_authority.forbidden_operations") in {
        row[:2] for row in fleet_wide if row[4] == "delete_deployment"
    }
    assert {row[2] for row in found if row[0] == "web"} == {K.INVALID_BLUEPRINT}
    assert not result.ok


def test_a_pull_request_that_names_itself_approver_still_needs_the_old_approvers() -> None:
    result = review(
        replace("approvers: [web-team]", "approvers: [mallory]"),
        replace("max_replicas: 5", "max_replicas: 9"),
    )
    assert {f.kind: f.approvers for f in result.findings} == {
        K.BOUNDS_WIDENED: WEB_TEAM,
        K.APPROVERS_CHANGED: WEB_TEAM,
    }
    assert "mallory" not in result.approvers
    assert result.ok


def test_the_rules_before_the_change_decide_it() -> None:
    """The pull request lifts the rule that forbids its own widening: BASE's rule decides."""
    result = review(
        replace(f"      - operation: {BEYOND}\n        condition: target_replicas > 10\n", ""),
        replace("max_replicas: 5", "max_replicas: 20"),
        base=base_forbidding_beyond("target_replicas > 10"),
    )
    assert [(f.kind, f.change_class) for f in result.findings] == [
        (K.BOUNDS_WIDENED, F),
        (K.LOOSEN_GOVERNANCE, RA),
    ]
    assert result.findings[0].rule == "governance.agent_authority.forbidden_operations[1]"
    assert not result.ok


@pytest.mark.parametrize(
    ("condition", "new_max", "expected", "unknown"),
    [
        ("target_replicas > 10", 20, F, ()),
        ("target_replicas > 10", 8, RA, ()),
        ("current_replicas > 3", 8, RA, ("current_replicas",)),
        ("hour_utc >= 22", 8, RA, ("hour_utc",)),
    ],
    ids=[
        "known true: forbidden",
        "known false: the next tier",
        "live value: approval",
        "time of day: approval",
    ],
)
def test_conditions_a_diff_cannot_evaluate_need_approval(
    condition: str, new_max: int, expected: ChangeClass, unknown: tuple[str, ...]
) -> None:
    base = base_forbidding_beyond(condition)
    result = review(replace("max_replicas: 5", f"max_replicas: {new_max}"), base=base)
    (finding,) = result.findings
    assert (finding.operation, finding.change_class, finding.unknown) == (BEYOND, expected, unknown)
    assert result.ok is (expected is not F)


def test_findings_point_at_the_line_in_head() -> None:
    result = review(replace("max_replicas: 5", "max_replicas: 8"))
    (finding,) = result.findings
    assert (finding.file, finding.line, finding.column) == (WEB, 7, 5)
    assert finding.rule_file == POLICIES


def test_an_invalid_head_reports_the_loaders_position_and_fails() -> None:
    result = review(replace("scale_up_threshold: 80%", "scale_up_threshold: 80"))
    assert not result.ok
    (finding,) = result.findings
    assert finding.change_class is INV
    assert (finding.file, finding.line) == (WEB, 8)
    assert "80" in finding.reason


def test_a_broken_blueprint_the_change_does_not_touch_is_noted_not_counted() -> None:
    base = base_files()
    base[API] = API_TEXT  # `governance_note` is not a field: invalid on both sides
    result = review(replace("scale_up_threshold: 80%", "scale_up_threshold: 75%"), base=base)
    assert result.ok
    assert [f.kind for f in result.findings] == [K.TUNING]
    assert any(API in note for note in result.notes)


#: The global policies with a field the schema does not know: they do not validate.
BROKEN_POLICIES = POLICIES_TEXT + "unknown_section: 1\n"


def test_global_policies_broken_on_both_sides_and_untouched_are_noted_not_counted() -> None:
    result = review(base={POLICIES: BROKEN_POLICIES, WEB: WEB_TEXT})
    assert result.ok
    assert [f for f in result.findings if f.file == POLICIES] == []
    assert (
        f"{POLICIES} does not validate at main either and this change does not touch it; "
        "not counted"
    ) in result.notes


def test_global_policies_that_stay_broken_through_an_edit_count_each_error() -> None:
    edited = BROKEN_POLICIES.replace("unknown_section: 1", "unknown_section: 2")
    result = review(add(POLICIES, edited), base={POLICIES: BROKEN_POLICIES, WEB: WEB_TEXT})
    assert not result.ok
    invalid = [f for f in result.findings if f.file == POLICIES]
    assert [(f.service, f.kind, f.change_class) for f in invalid] == [
        ("", K.INVALID_BLUEPRINT, INV)
    ]
    assert not [note for note in result.notes if note.startswith(POLICIES)]


def test_a_changed_fleet_operation_says_what_changed_for_the_global_approvers() -> None:
    result = review(
        insert_after(
            "operations:\n", "  rotate_certificates: renew the certificates\n", path=POLICIES
        )
    )
    (finding,) = result.findings
    assert (finding.before, finding.after) == (
        "change_ai_api_settings, modify_database_connections",
        "change_ai_api_settings, modify_database_connections, rotate_certificates",
    )
    assert finding.reason == (
        "the fleet's own operations changed; every edit of the global policies needs the "
        "global approvers as they were before this change"
    )


def test_the_comment_and_the_json_say_the_same() -> None:
    result = review(delete(WEB), add(API, API_VALID))
    assert not result.ok
    body = render_markdown(result)
    assert body.startswith(COMMENT_MARKER + "\n")
    assert "❌ Blueprint check fails" in body
    assert "`delete_deployment`" in body
    data = result.to_json()
    assert list(data) == ["ok", "base", "head", "counts", "approvers", "teams", "notes", "findings"]
    assert data["counts"] == {"allowed": 0, "requires_approval": 1, "forbidden": 1, "invalid": 0}
    assert data["approvers"] == ["devops-team"]
    assert list(data["findings"][0]) == [
        "service",
        "file",
        "line",
        "column",
        "path",
        "kind",
        "class",
        "operation",
        "before",
        "after",
        "rule",
        "rule_file",
        "approvers",
        "unknown",
        "reason",
    ]


def test_team_approvers_are_expanded_for_display_only() -> None:
    result = review(add(API, API_VALID))
    assert result.approvers == ("devops-team",)
    assert result.expand("devops-team") == "devops-team (alice, alice@example.com, bob)"
    assert "devops-team (alice, alice@example.com, bob)" in render_markdown(result)


# --- the direction of every numeric and duration safety setting ------------------------------
#
# Each field moved both ways from the global default, in a blueprint and in the global policies:
# the looser way needs approval, the stricter way takes authority away and is allowed (in a
# blueprint). A shorter breaker window forgets failures sooner, a shorter reset_timeout closes
# the breaker sooner, a shorter cooldown acts again sooner: each is a loosening.

_SAFETY_DEFAULTS = {
    "rate_limits.max_operations_per_hour": ("10", "30", "5"),
    "rate_limits.max_operations_per_day": ("50", "100", "20"),
    "circuit_breaker.failure_threshold": ("3", "5", "2"),
    "circuit_breaker.failure_window": ("5m", "1m", "10m"),
    "circuit_breaker.reset_timeout": ("1h", "10m", "2h"),
    "circuit_breaker.manual_reset_required": ("true", "false", None),
}


def _safety_yaml(field: str, value: str, indent: str) -> str:
    section, name = field.split(".")
    return f"{indent}{section}:\n{indent}  {name}: {value}\n"


_DIRECTIONS = [
    pytest.param(field, value, kind, id=f"{field} {default} -> {value}")
    for field, (default, looser, stricter) in _SAFETY_DEFAULTS.items()
    for value, kind in ((looser, K.SAFETY_LOOSENED), (stricter, K.SAFETY_TIGHTENED))
    if value is not None
]


@pytest.mark.parametrize(("field", "value", "kind"), _DIRECTIONS)
def test_a_blueprints_safety_setting_is_judged_by_its_direction(
    field: str, value: str, kind: ChangeKind
) -> None:
    result = review(
        replace(SAFETY_ANCHOR, f"  safety:\n{_safety_yaml(field, value, '    ')}{SAFETY_ANCHOR}")
    )
    if kind is K.SAFETY_LOOSENED:
        assert rows(result) == [web(f"governance.safety.{field}", kind, RA, "", WEB_TEAM)]
        assert result.approvers == WEB_TEAM
    else:
        assert rows(result) == [web(f"governance.safety.{field}", kind, A)]
        assert result.approvers == ()


@pytest.mark.parametrize(("field", "value", "kind"), _DIRECTIONS)
def test_a_global_safety_setting_is_judged_by_its_direction(
    field: str, value: str, kind: ChangeKind
) -> None:
    section, name = field.split(".")
    default = _SAFETY_DEFAULTS[field][0]
    result = review(
        replace(f"      {name}: {default}\n", f"      {name}: {value}\n", path=POLICIES)
    )
    assert rows(result) == [fleet(f"governance.safety.{section}.{name}", kind)]


def test_manual_reset_turned_back_on_is_a_tightening() -> None:
    loose = base_files()
    replace(
        SAFETY_ANCHOR,
        f"  safety:\n{_safety_yaml('circuit_breaker.manual_reset_required', 'false', '    ')}"
        f"{SAFETY_ANCHOR}",
    )(loose)
    result = review(
        replace("manual_reset_required: false", "manual_reset_required: true"), base=loose
    )
    assert rows(result) == [
        web("governance.safety.circuit_breaker.manual_reset_required", K.SAFETY_TIGHTENED, A)
    ]


@pytest.mark.parametrize(
    ("policies_edit", "kind"),
    [
        pytest.param(
            ("default_period: 60s", "default_period: 30s"), K.SAFETY_LOOSENED, id="shorter"
        ),
        pytest.param(
            ("default_period: 60s", "default_period: 5m"), K.SAFETY_TIGHTENED, id="longer"
        ),
    ],
)
def test_the_global_cooldown_is_judged_by_its_direction(
    policies_edit: tuple[str, str], kind: ChangeKind
) -> None:
    result = review(replace(*policies_edit, path=POLICIES))
    assert rows(result) == [fleet("governance.safety.cooldown.default_period", kind)]


@pytest.mark.parametrize(
    ("text", "kind", "cls"),
    [
        pytest.param("max_restart_count: 5", K.SAFETY_LOOSENED, RA, id="more restarts allowed"),
        pytest.param("max_restart_count: 2", K.SAFETY_TIGHTENED, A, id="fewer restarts allowed"),
        pytest.param(
            "rollback_on_failure: false", K.SAFETY_LOOSENED, RA, id="no automatic rollback"
        ),
        pytest.param("rollback_threshold: 1", K.TUNING, A, id="rollback threshold is tuning"),
    ],
)
def test_reliability_settings_are_judged_by_their_direction(
    text: str, kind: ChangeKind, cls: ChangeClass
) -> None:
    result = review(insert_after("      limit: 500m\n", f"  reliability:\n    {text}\n"))
    (row,) = rows(result)
    assert (row[1], row[2], row[3]) == (f"spec.reliability.{text.partition(':')[0]}", kind, cls)
    assert row[5] == (WEB_TEAM if cls is RA else ())


@pytest.mark.parametrize(
    ("base_edit", "edit", "row"),
    [
        pytest.param(
            ("coexistence: exclusive", "coexistence: adjust_hpa"),
            ("coexistence: adjust_hpa", "coexistence: exclusive"),
            web(f"{SCALING}.coexistence", K.SAFETY_TIGHTENED, A),
            id="back to exclusive is a tightening",
        ),
        pytest.param(
            ("coexistence: exclusive", "coexistence: adjust_hpa"),
            ("coexistence: adjust_hpa", "coexistence: gitops_ignores_replicas"),
            web(f"{SCALING}.coexistence", K.SAFETY_LOOSENED, RA, "", WEB_TEAM),
            id="between two shared modes is still not exclusive",
        ),
        pytest.param(
            None,
            ("min_replicas: 2", "min_replicas: 3"),
            web(f"{SCALING}.min_replicas", K.BOUNDS_NARROWED, A),
            id="raising min_replicas narrows the bounds",
        ),
        pytest.param(
            None,
            ("max_replicas: 5", "max_replicas: 6"),
            web(f"{SCALING}.max_replicas", K.BOUNDS_WIDENED, RA, BEYOND, WEB_TEAM),
            id="raising max_replicas by one widens them",
        ),
    ],
)
def test_bounds_and_sharing_directions(
    base_edit: tuple[str, str] | None, edit: tuple[str, str], row: tuple[object, ...]
) -> None:
    base = base_files()
    if base_edit is not None:
        replace(*base_edit)(base)
    assert rows(review(replace(*edit), base=base)) == [row]


# --- resources and tuning fields, with what a row shows before and after ----------------------

_BEYOND_10 = "change_resource_limits_beyond_10_percent"
_WITHIN_10 = "adjust_resources_within_10_percent"
_CPU = "spec.resources.cpu"


@pytest.mark.parametrize(
    ("edit", "path", "cls", "operation", "shown", "size"),
    [
        pytest.param(
            replace("request: 100m", "request: 110m"),
            f"{_CPU}.request", A, _WITHIN_10, ("100m", "110m"), "10%",
            id="a request exactly 10 percent up is within",
        ),
        pytest.param(
            replace("request: 100m", "request: 90m"),
            f"{_CPU}.request", A, _WITHIN_10, ("100m", "90m"), "10%",
            id="a request exactly 10 percent down is within",
        ),
        pytest.param(
            replace("request: 100m", "request: 111m"),
            f"{_CPU}.request", RA, _BEYOND_10, ("100m", "111m"), "11%",
            id="a request 11 percent up is beyond",
        ),
        pytest.param(
            replace("      request: 100m\n", ""),
            f"{_CPU}.request", RA, _BEYOND_10, ("100m", "unset"), "an unknown share",
            id="a request removed is an unknown share, so beyond",
        ),
        pytest.param(
            insert_after("      limit: 500m\n", "    memory:\n      request: 256Mi\n"),
            "spec.resources.memory.request", RA, _BEYOND_10, ("unset", "256Mi"), "an unknown share",
            id="a request set where there was none is an unknown share, so beyond",
        ),
        pytest.param(
            replace("limit: 500m", "limit: 505m"),
            f"{_CPU}.limit", RA, _BEYOND_10, ("500m", "505m"), "1%",
            id="a limit has no within-10-percent operation",
        ),
    ],
)  # fmt: skip
def test_a_resource_change_is_sized_against_the_value_before(
    edit: Edit, path: str, cls: ChangeClass, operation: str, shown: tuple[str, str], size: str
) -> None:
    (finding,) = review(edit).findings
    assert (finding.path, finding.kind, finding.change_class, finding.operation) == (
        path,
        K.RESOURCES_CHANGED,
        cls,
        operation,
    )
    assert (finding.before, finding.after) == shown
    # The reason names the share it was sized by (the part after it is the classifier's).
    assert finding.reason.startswith(
        f"a {path.rpartition('.')[2]} change of {size} is {operation}:"
    )


@pytest.mark.parametrize(
    ("edit", "path", "shown"),
    [
        pytest.param(
            insert_after(
                "    coexistence: exclusive\n",
                "    metrics:\n      - {type: cpu, weight: 0.7}\n      - {type: memory, weight: 0.3}\n",
            ),
            "spec.scaling.metrics",
            ("cpu 0.5, memory 0.3, latency 0.2", "cpu 0.7, memory 0.3"),
            id="the metrics' weights",
        ),
        pytest.param(
            insert_after(
                "      limit: 500m\n",
                "  observability:\n    queries:\n      error_rate: up\n      cpu_utilization: up\n",
            ),
            "spec.observability.queries",
            ("defaults", "cpu_utilization, error_rate"),
            id="the queries, by name",
        ),
    ],
)
def test_a_tuning_field_is_allowed_and_shown_in_its_own_form(
    edit: Edit, path: str, shown: tuple[str, str]
) -> None:
    (finding,) = review(edit).findings
    assert (finding.path, finding.kind, finding.change_class) == (path, K.TUNING, A)
    assert (finding.before, finding.after) == shown


_PER_HOUR = "governance.safety.rate_limits.max_operations_per_hour"
_PER_HOUR_YAML = "  safety:\n    rate_limits:\n      max_operations_per_hour: {}\n" + SAFETY_ANCHOR


@pytest.mark.parametrize(
    ("base_edit", "edit", "rule", "rule_file"),
    [
        pytest.param(
            None,
            replace(SAFETY_ANCHOR, _PER_HOUR_YAML.format(30)),
            f"global:{_PER_HOUR}", POLICIES,
            id="a limit the blueprint inherited: the global rule decided",
        ),
        pytest.param(
            replace(SAFETY_ANCHOR, _PER_HOUR_YAML.format(5)),
            replace("max_operations_per_hour: 5", "max_operations_per_hour: 30"),
            _PER_HOUR, WEB,
            id="a limit the blueprint wrote: its own field decided",
        ),
        pytest.param(
            None,
            insert_after("      limit: 500m\n", "  reliability:\n    max_restart_count: 9\n"),
            "spec.reliability.max_restart_count", WEB,
            id="a spec field is the blueprint's even when not written",
        ),
    ],
)  # fmt: skip
def test_a_loosening_names_the_field_that_set_the_value_before(
    base_edit: Edit | None, edit: Edit, rule: str, rule_file: str
) -> None:
    base = base_files()
    if base_edit is not None:
        base_edit(base)
    (finding,) = review(edit, base=base).findings
    assert (finding.kind, finding.change_class) == (K.SAFETY_LOOSENED, RA)
    assert (finding.rule, finding.rule_file) == (rule, rule_file)


def test_approvers_are_shown_as_a_list_and_none_as_none() -> None:
    (added,) = review(replace("approvers: [web-team]", "approvers: [web-team, sre]")).findings
    assert (added.kind, added.before, added.after) == (
        K.APPROVERS_CHANGED,
        "web-team",
        "web-team, sre",
    )
    (emptied,) = review(replace("approvers: [web-team]", "approvers: []")).findings
    assert (emptied.kind, emptied.change_class) == (K.APPROVERS_CHANGED, RA)
    assert (emptied.before, emptied.after) == ("web-team", "(none)")


@pytest.mark.parametrize(
    ("edit", "kind", "operation", "approvers", "reason"),
    [
        pytest.param(
            replace("max_replicas: 5", "max_replicas: 9"), K.BOUNDS_WIDENED,
            "scale_beyond_limits", WEB_TEAM,
            "the reconciler could then scale to 9 replicas on its own, which under the rules "
            "before this change is scale_beyond_limits: scale_beyond_limits requires approval "
            "(global:governance.agent_authority.requires_approval[0]).",
            id="widened bounds: what the reconciler could then do, under the rules before",
        ),
        pytest.param(
            insert_after("  version: 1.0.0\n", "  namespace: payments\n"), K.RETARGETED,
            "", GLOBAL,
            "pointing the blueprint at another deployment gives the reconciler authority over "
            "a deployment it did not manage, like onboarding a service; it needs the global "
            "approvers",
            id="retargeted: like onboarding, for the global approvers",
        ),
    ],
)  # fmt: skip
def test_a_finding_says_what_the_edit_amounts_to_and_who_approves_it(
    edit: Edit, kind: object, operation: str, approvers: tuple[str, ...], reason: str
) -> None:
    """The reason is what the pull request check shows a reviewer, so it is pinned whole,
    beside the class, the operation and the approvers it decides."""
    (finding,) = review(edit).findings
    assert (finding.kind, finding.change_class) == (kind, RA)
    assert (finding.operation, finding.approvers) == (operation, approvers)
    assert finding.reason == reason
