"""Schema errors explained: a quoted value gets "remove the quotes" only when that would work."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.core.blueprint.schemas import iter_issues
from reconciler.core.blueprint.yamlsafe import parse_yaml


def scaling_issue(field: str, value: Any) -> tuple[str, str]:
    """The message and hint for one bad value in an otherwise valid blueprint."""
    scaling: dict[str, Any] = {"min_replicas": 1, "max_replicas": 5}
    if field == "weight":
        scaling["metrics"] = [{"type": "cpu", "weight": value}]
    else:
        scaling[field] = value
    data = {"metadata": {"name": "web", "version": "1.0.0"}, "spec": {"scaling": scaling}}
    issues = list(iter_issues("blueprint", data))
    assert len(issues) == 1, [(i.path, i.message) for i in issues]
    return issues[0].message, issues[0].hint


@pytest.mark.parametrize(
    ("field", "value", "message", "hint"),
    [
        # A number in quotes: dropping the quotes fixes it.
        (
            "min_replicas",
            "3",
            "expected a whole number, got text ('3')",
            "write the number without quotes, e.g. 3",
        ),
        (
            "max_replicas",
            " 7 ",
            "expected a whole number, got text (' 7 ')",
            "write the number without quotes, e.g. 7",
        ),
        (
            "weight",
            "0.25",
            "expected a number, got text ('0.25')",
            "write the number without quotes, e.g. 0.25",
        ),
        # Not a number of the right kind: say what is expected, with an example.
        (
            "min_replicas",
            "one",
            "expected a whole number, got text ('one')",
            "write a whole number of at least 1, e.g. `min_replicas: 1`",
        ),
        (
            "min_replicas",
            "2.5",
            "expected a whole number, got text ('2.5')",
            "write a whole number of at least 1, e.g. `min_replicas: 1`",
        ),
        (
            "scale_up_increment",
            "two",
            "expected a whole number, got text ('two')",
            "write a whole number of at least 1, e.g. `scale_up_increment: 1`",
        ),
        (
            "weight",
            "half",
            "expected a number, got text ('half')",
            "write a number from 0 to 1, e.g. `weight: 0.5`",
        ),
        # A number, but unquoting it would only trade this error for a range error.
        (
            "min_replicas",
            "0",
            "expected a whole number, got text ('0')",
            "write a whole number of at least 1, e.g. `min_replicas: 1`",
        ),
        (
            "weight",
            "3",
            "expected a number, got text ('3')",
            "write a number from 0 to 1, e.g. `weight: 0.5`",
        ),
        # Digits that are not ASCII are text to YAML even without quotes.
        (
            "min_replicas",
            "\u0663",
            "expected a whole number, got text ('\u0663')",
            "write a whole number of at least 1, e.g. `min_replicas: 1`",
        ),
    ],
)
def test_quoted_number_hint(field: str, value: str, message: str, hint: str) -> None:
    assert scaling_issue(field, value) == (message, hint)


@pytest.mark.parametrize("field", ["min_replicas", "weight"])
@pytest.mark.parametrize(
    "value",
    ["3", "+4", "007", "08", "0.5", ".5", "1e3", "1e-7", "one", "2.5", "0", "-1", "", "9" * 5000],
)
def test_a_suggestion_to_unquote_gives_a_value_that_then_validates(field: str, value: str) -> None:
    _, hint = scaling_issue(field, value)
    if "without quotes" not in hint:
        assert "e.g. `" in hint  # the expected type, with an example
        return
    suggested = hint.rsplit(" ", 1)[1]
    line = (
        f"  metrics: [{{type: cpu, weight: {suggested}}}]\n"
        if field == "weight"
        else f"  {field}: {suggested}\n"
    )
    text = "metadata: {name: web, version: 1.0.0}\nspec:\n scaling:\n  max_replicas: 5\n"
    if field != "min_replicas":
        text += "  min_replicas: 1\n"
    text = text.replace("  max_replicas", line + "  max_replicas")
    # Read as the loader reads it, so YAML's own idea of a number is what counts.
    document = parse_yaml(text.encode(), what="blueprint")
    assert not [(i.path, i.message) for i in iter_issues("blueprint", document.data)], hint
