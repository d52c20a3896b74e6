"""A request for an operation the catalogue does not know is refused as forbidden and recorded,
as governance requires; when the name is close to a catalogue name (a typo), the refusal says
which one was probably meant."""

from __future__ import annotations

from tests.scenarios.conftest import Scenario


def _refusals(scenario: Scenario, operation: str) -> list[str]:
    return [
        str(record["rationale"])
        for record in scenario.records("todo-frontend")
        if record.get("operation") == operation
    ]


def test_a_typo_is_refused_recorded_and_answered_with_the_likely_name(seeded: Scenario) -> None:
    commits = len(seeded.commits())
    result = seeded.cli("request", "todo-frontend", "restart_failed_pod", expect=1)
    assert "restart_failed_pod: forbidden, block → blocked" in result.output
    assert (
        "restart_failed_pod is not an operation the governance rules know "
        "(did you mean restart_failed_pods?); unknown operations are forbidden." in result.output
    )
    # The refusal is in the audit trail, suggestion included.
    assert len(seeded.commits()) == commits + 1
    assert any(
        "did you mean restart_failed_pods?" in why
        for why in _refusals(seeded, "restart_failed_pod")
    )


def test_a_name_close_to_nothing_gets_no_suggestion(seeded: Scenario) -> None:
    result = seeded.cli("request", "todo-frontend", "reticulate_splines", expect=1)
    assert "reticulate_splines is not an operation the governance rules know; unknown" in (
        result.output
    )
    assert "did you mean" not in result.output
    assert _refusals(seeded, "reticulate_splines")
