"""Whole blueprints and the global policies file in a change: added, deleted, broken or fixed,
each with the row a reviewer sees (before, after) and the verdict (class, rule, approvers).
"""

from __future__ import annotations

from dataclasses import replace as dc_replace

from reconciler.core.review.change import review_change
from reconciler.core.review.findings import ChangeClass, ChangeKind, Review
from tests.core.test_review import (
    API,
    API_TEXT,
    API_VALID,
    GLOBAL,
    POLICIES,
    WEB,
    WEB_TEAM,
    base_files,
    delete,
    insert_after,
    replace,
    review,
    snapshot,
)

K = ChangeKind
RA, F, INV = (
    ChangeClass.REQUIRES_APPROVAL,
    ChangeClass.FORBIDDEN,
    ChangeClass.INVALID,
)
APPROVERS_RULE = "global:governance.approval_workflow.approvers"
FORBIDDEN = "global:governance.agent_authority.forbidden_operations"
FIX_API = replace("  governance_note: none\n", "", path=API)


def verdicts(result: Review) -> list[tuple[object, ...]]:
    return [
        (
            f.service,
            f.file,
            f.kind,
            f.change_class,
            f.operation,
            f.before,
            f.after,
            f.rule,
            f.rule_file,
            f.approvers,
        )
        for f in result.findings
    ]


def broken_api() -> dict[str, str]:
    files = base_files()
    files[API] = API_TEXT  # `governance_note` is not a field
    return files


def test_deleting_a_blueprint_that_did_not_load_is_judged_by_the_global_rules() -> None:
    result = review(delete(API), base=broken_api())
    assert verdicts(result) == [
        (
            "api",
            API,
            K.BLUEPRINT_DELETED,
            F,
            "delete_deployment",
            "invalid blueprint",
            "deleted",
            f"{FORBIDDEN}[0]",
            POLICIES,
            (),
        )
    ]
    assert not result.ok


def test_deleting_a_valid_blueprint_shows_its_version() -> None:
    (finding,) = review(delete(WEB)).findings
    assert (finding.before, finding.after, finding.rule) == (
        "version 1.0.0",
        "deleted",
        f"{FORBIDDEN}[0]",
    )


def test_fixing_a_broken_blueprint_onboards_the_service() -> None:
    result = review(FIX_API, base=broken_api())
    assert verdicts(result) == [
        (
            "api",
            API,
            K.SERVICE_ADDED,
            RA,
            "",
            "invalid blueprint",
            "version 1.0.0, replicas 1..3",
            APPROVERS_RULE,
            POLICIES,
            GLOBAL,
        )
    ]
    assert result.findings[0].reason == (
        "the blueprint did not validate before, so the reconciler did not manage the service; "
        "gives the reconciler authority over a deployment it did not manage: onboarding a "
        "service needs the global approvers (the service's own approvers are part of this "
        "change and cannot approve it)"
    )
    assert result.findings[0].path == "metadata.name"


def test_a_new_blueprint_is_a_new_service() -> None:
    files = base_files()
    result = review(lambda f: f.update({API: API_VALID}), base=files)
    (finding,) = result.findings
    assert (finding.kind, finding.before, finding.change_class, finding.approvers) == (
        K.SERVICE_ADDED,
        "no blueprint",
        RA,
        GLOBAL,
    )
    assert finding.reason.startswith("a new blueprint gives the reconciler authority")


def test_breaking_a_blueprint_is_invalid_with_the_loaders_code() -> None:
    result = review(replace("max_replicas: 5", "max_replicas: 1"))
    assert verdicts(result) == [
        (
            "web",
            WEB,
            K.INVALID_BLUEPRINT,
            INV,
            "",
            "-",
            "invalid",
            "validation:range.replicas",
            "",
            (),
        )
    ]
    (finding,) = result.findings
    assert "(fix: raise max_replicas" in finding.reason
    assert not result.ok


def test_breaking_a_blueprint_that_was_broken_counts_when_the_change_touches_it() -> None:
    result = review(
        replace("  governance_note: none\n", "  governance_note: other\n", path=API),
        base=broken_api(),
    )
    assert [(f.service, f.kind, f.change_class, f.rule) for f in result.findings] == [
        ("api", K.INVALID_BLUEPRINT, INV, "validation:schema")
    ]
    assert result.notes == ()


def test_a_broken_blueprint_counts_again_when_the_global_policies_change() -> None:
    result = review(
        replace("    timeout: 1h\n", "    timeout: 2h\n", path=POLICIES), base=broken_api()
    )
    assert [(f.service, f.kind) for f in result.findings] == [
        ("", K.GLOBAL_POLICY),
        ("api", K.INVALID_BLUEPRINT),
    ]


def test_making_a_global_forbid_approvable_shows_the_tiers_and_the_global_rule() -> None:
    result = review(
        replace(
            "    forbidden_operations:\n", "      - delete_service\n    forbidden_operations:\n"
        )
    )
    assert verdicts(result) == [
        (
            "web",
            WEB,
            K.LOOSEN_GOVERNANCE,
            F,
            "delete_service",
            "not listed",
            "requires_approval",
            f"{FORBIDDEN}[1]",
            POLICIES,
            (),
        )
    ]


def test_moving_a_global_forbid_out_of_a_services_forbidden_list_shows_where_it_was() -> None:
    base = base_files()
    replace("      - operation: change_ai_api_settings\n", "      - delete_service\n"
            "      - operation: change_ai_api_settings\n")(base)  # fmt: skip
    result = review(
        replace("      - delete_service\n", ""),
        replace("      - modify_database_connections\n",
                "      - modify_database_connections\n      - delete_service\n"),
        base=base,
    )  # fmt: skip
    assert [(f.kind, f.change_class, f.operation, f.before, f.after, f.rule) for f in result.findings] == [
        (K.LOOSEN_GOVERNANCE, F, "delete_service", "forbidden", "requires_approval", f"{FORBIDDEN}[1]")
    ]  # fmt: skip


def test_a_policies_file_that_stops_validating_is_invalid_for_the_fleet() -> None:
    result = review(replace("    timeout: 1h\n", "    timeout: soon\n", path=POLICIES))
    fleet = [f for f in result.findings if f.service == ""]
    assert [(f.file, f.path, f.kind, f.change_class, f.rule) for f in fleet] == [
        (POLICIES, "governance.approval_workflow.timeout", K.INVALID_BLUEPRINT, INV, "validation:schema")
    ]  # fmt: skip
    assert not result.ok


def test_a_policies_file_broken_before_and_untouched_is_noted_not_counted() -> None:
    base = base_files()
    replace("    timeout: 1h\n", "    timeout: soon\n", path=POLICIES)(base)
    result = review(replace("  version: 1.0.0", "  version: 1.0.1"), base=base)
    assert not [f for f in result.findings if f.service == ""]
    assert any(
        note.startswith(f"{POLICIES} does not validate at main either") for note in result.notes
    )


def test_fixing_the_policies_file_makes_no_edit_allowed() -> None:
    """The rules in force before the change are unknown, so narrowing the bounds, allowed under
    any rules, still needs approval (from the built-in policies' approvers, who are none)."""
    base = base_files()
    replace("    timeout: 1h\n", "    timeout: soon\n", path=POLICIES)(base)
    base[API] = API_VALID
    result = review(
        replace("    timeout: soon\n", "    timeout: 1h\n", path=POLICIES),
        replace("max_replicas: 3", "max_replicas: 2", path=API),
        base=base,
    )
    assert [(f.service, f.kind, f.change_class) for f in result.findings] == [
        ("api", K.BOUNDS_NARROWED, RA),
        # web names the fleet's own operations, unknown while the policies did not load.
        ("web", K.SERVICE_ADDED, RA),
    ]
    assert any("rules in force before this change are unknown" in note for note in result.notes)


def test_teams_and_the_fleets_operations_are_global_edits() -> None:
    result = review(
        replace('devops-team: [alice, "alice@example.com", bob]', "ops: [carol]", path=POLICIES),
    )
    assert [(f.path, f.kind, f.change_class, f.before, f.after, f.approvers) for f in result.findings] == [
        ("governance.teams.devops-team", K.APPROVERS_CHANGED, RA, "alice, alice@example.com, bob", "(none)", GLOBAL),
        ("governance.teams.ops", K.APPROVERS_CHANGED, RA, "(none)", "carol", GLOBAL),
    ]  # fmt: skip
    removed = review(
        replace("  change_ai_api_settings: change the settings of the AI API a service calls\n",
                "", path=POLICIES)
    )  # fmt: skip
    assert [(f.service, f.path, f.kind, f.before, f.after) for f in removed.findings] == [
        ("", "operations", K.GLOBAL_POLICY,
         "change_ai_api_settings, modify_database_connections", "modify_database_connections"),
        ("web", "governance.agent_authority.forbidden_operations[0]", K.INVALID_BLUEPRINT, "-", "invalid"),
    ]  # fmt: skip


def test_deleting_the_policies_file_is_one_global_finding_first() -> None:
    (first, *_) = review(delete(POLICIES)).findings
    assert (first.service, first.path, first.kind, first.before, first.after) == (
        "",
        "",
        K.GLOBAL_POLICY,
        "present",
        "deleted",
    )
    assert first.reason.startswith("without the file, run, plan and request refuse to act")


def test_deleting_a_blueprint_is_judged_by_its_own_rules_before_the_change() -> None:
    """Where the global policies leave delete_deployment to the service, the service's rule
    at BASE decides, in its file, for its approvers."""
    base = base_files()
    base[POLICIES] = base[POLICIES].replace(
        "      - operation: delete_deployment\n"
        "        rationale: deleting the deployment is a complete outage of the service\n",
        "",
    )
    insert_after("      - modify_database_connections\n", "      - delete_deployment\n")(base)
    result = review(delete(WEB), base=base)
    assert verdicts(result) == [
        (
            "web",
            WEB,
            K.BLUEPRINT_DELETED,
            RA,
            "delete_deployment",
            "version 1.0.0",
            "deleted",
            "governance.agent_authority.requires_approval[1]",
            WEB,
            WEB_TEAM,
        )
    ]
    assert result.findings[0].reason == (
        "deleting a blueprint stops managing the service, which governance treats as "
        "delete_deployment: delete_deployment requires approval "
        "(governance.agent_authority.requires_approval[1])."
    )


def test_allowing_a_global_forbid_written_as_a_mapping_names_the_operation_and_tier() -> None:
    result = review(
        insert_after(
            "    allowed_operations:\n",
            "      - operation: delete_service\n        rationale: cleanup\n",
        )
    )
    assert verdicts(result) == [
        (
            "web",
            WEB,
            K.LOOSEN_GOVERNANCE,
            F,
            "delete_service",
            "not listed",
            "allowed",
            f"{FORBIDDEN}[1]",
            POLICIES,
            (),
        )
    ]


def test_deleting_a_broken_blueprint_where_the_global_policies_list_no_rule_is_forbidden() -> None:
    """No blueprint loaded at BASE, so the global rules alone decide, and none lists
    delete_deployment: unlisted, it is forbidden, by the global policies' file."""
    base = broken_api()
    base[POLICIES] = base[POLICIES].replace(
        "      - operation: delete_deployment\n"
        "        rationale: deleting the deployment is a complete outage of the service\n",
        "",
    )
    result = review(delete(API), base=base)
    assert verdicts(result) == [
        (
            "api",
            API,
            K.BLUEPRINT_DELETED,
            F,
            "delete_deployment",
            "invalid blueprint",
            "deleted",
            "governance.agent_authority",
            POLICIES,
            (),
        )
    ]
    assert "is not listed in any tier of the effective policy" in result.findings[0].reason
    assert not result.ok


def test_each_broken_blueprint_shows_its_own_errors_only() -> None:
    base = base_files()
    base[API] = API_VALID
    result = review(
        replace("max_replicas: 5", "max_replicas: 1"),
        replace("max_replicas: 3", "max_replicas: 0", path=API),
        base=base,
    )
    assert [(f.service, f.file, f.path, f.rule) for f in result.findings] == [
        ("api", API, "spec.scaling.max_replicas", "validation:schema"),
        ("web", WEB, "spec.scaling.max_replicas", "validation:range.replicas"),
    ]


def test_a_broken_blueprint_untouched_by_the_change_is_noted_in_words() -> None:
    result = review(base=broken_api())
    assert (result.findings, result.notes) == (
        (),
        (
            f"{API} does not validate at main either and this change does not touch it or the "
            "global policies; not counted",
        ),
    )


def test_a_broken_blueprint_without_an_error_of_its_own_still_fails_the_check() -> None:
    """Loading never leaves a blueprint broken without an error in its file; should a snapshot
    ever do so, the check fails rather than let the file pass unexplained."""
    files = base_files()
    base = snapshot("main", files)
    head = dc_replace(base, revision="pr", blueprints={}, broken={"web": WEB}, problems=())
    result = review_change(base, head)
    assert verdicts(result) == [
        ("web", WEB, K.INVALID_BLUEPRINT, INV, "", "-", "invalid", "validation", "", ())
    ]
    (finding,) = result.findings
    assert (finding.path, finding.reason) == ("", "the blueprint does not load")
    assert not result.ok


def test_a_new_blueprint_allowing_a_global_forbid_has_no_tier_before() -> None:
    text = API_VALID + "governance:\n  agent_authority:\n    allowed_operations: [delete_service]\n"
    result = review(lambda files: files.update({API: text}))
    assert verdicts(result) == [
        (
            "api",
            API,
            K.LOOSEN_GOVERNANCE,
            F,
            "delete_service",
            "-",
            "allowed",
            f"{FORBIDDEN}[1]",
            POLICIES,
            (),
        )
    ]
    assert result.findings[0].reason == (
        f"delete_service is forbidden by the global policies ({POLICIES}); a service cannot "
        "allow it or make it approvable"
    )


def test_deleting_a_broken_blueprint_under_a_conditional_global_forbid_needs_approval() -> None:
    """Without a blueprint at BASE nothing is known about the service: the forbid's condition
    is unknown, so the deletion needs the global approvers rather than failing the check."""
    base = broken_api()
    base[POLICIES] = base[POLICIES].replace(
        "      - operation: delete_deployment\n",
        "      - operation: delete_deployment\n        condition: current_replicas > 3\n",
    )
    result = review(delete(API), base=base)
    assert verdicts(result) == [
        (
            "api",
            API,
            K.BLUEPRINT_DELETED,
            RA,
            "delete_deployment",
            "invalid blueprint",
            "deleted",
            f"{FORBIDDEN}[0]",
            POLICIES,
            GLOBAL,
        )
    ]
    assert result.findings[0].unknown == ("current_replicas",)
