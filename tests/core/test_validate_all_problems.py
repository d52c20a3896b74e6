"""One validate run shows every problem: each unknown field of a mapping, a broken condition
beside a broken operation name, and quantities whose missing unit is surely a slip."""

from __future__ import annotations

import pytest

from reconciler.core.problems import Severity
from tests.core.test_loading import problems_for

BASE = "metadata:\n  name: web\n  version: 1.0.0\nspec:\n  scaling:\n    min_replicas: 1\n    max_replicas: 3\n"


def test_every_unknown_field_of_one_mapping_is_reported() -> None:
    text = BASE + "    scale_up_treshold: 80%\n    scale_dwn: 1\n    colour: red\n"
    found = [(p.path, p.message) for p in problems_for(text)]
    assert found == [
        ("spec.scaling.scale_up_treshold", "unknown field `scale_up_treshold`"),
        ("spec.scaling.scale_dwn", "unknown field `scale_dwn`"),
        ("spec.scaling.colour", "unknown field `colour`"),
    ]


def test_an_unknown_operation_does_not_hide_an_error_in_its_condition() -> None:
    text = BASE + (
        "governance:\n  agent_authority:\n    allowed_operations:\n"
        "      - operation: scale_within_limitz\n        condition: target_replicas <=\n"
    )
    paths = [p.path for p in problems_for(text) if p.severity is Severity.ERROR]
    assert paths == [
        "governance.agent_authority.allowed_operations[0]",
        "governance.agent_authority.allowed_operations[0].condition",
    ]


@pytest.mark.parametrize(
    ("resources", "path", "message"),
    [
        ("cpu: {request: 250}", "spec.resources.cpu.request", "250 is read as 250 CPU cores"),
        ("cpu: {limit: '16'}", "spec.resources.cpu.limit", "16 is read as 16 CPU cores"),
        ("memory: {request: 512}", "spec.resources.memory.request", "512 is read as 512 bytes"),
    ],
)
def test_a_quantity_without_its_unit_warns(resources: str, path: str, message: str) -> None:
    problems = problems_for(BASE + f"  resources:\n    {resources}\n")
    assert [(p.path, p.message, p.severity) for p in problems] == [
        (path, message, Severity.WARNING)
    ]
    assert "m`" in problems[0].hint or "Mi`" in problems[0].hint


@pytest.mark.parametrize(
    "resources",
    [
        "cpu: {request: 250m}",
        "cpu: {request: 2}",
        "memory: {request: 512Mi}",
        "memory: {request: 2147483648}",
    ],
)
def test_a_quantity_with_its_unit_or_a_plausible_number_does_not_warn(resources: str) -> None:
    assert problems_for(BASE + f"  resources:\n    {resources}\n") == []
