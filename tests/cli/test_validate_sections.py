"""`reconciler validate` reports every problem of a file, not only its schema errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from click.testing import Result

Cli = Callable[..., Result]

# A schema error in spec.scaling, and semantic mistakes in three other sections.
BROKEN = """\
metadata:
  name: web
  version: 1.0.0
spec:
  scaling:
    min_replicas: "one"
    max_replicas: 5
  performance:
    error_rate_max: 150%
  reliability:
    max_restart_count: 2
    rollback_threshold: 3
cost:
  cost_per_replica: 20 USD
  monthly_budget: 400 EUR
"""

FILE = "blueprints/web/blueprint.yaml"


def write_broken(root: Path) -> None:
    path = root / FILE
    path.parent.mkdir(parents=True)
    path.write_text(BROKEN)


def test_validate_prints_every_problem_with_its_line(cli: Cli, blueprint_repo: Path) -> None:
    write_broken(blueprint_repo)
    result = cli("--repo", str(blueprint_repo), "validate")
    assert result.exit_code == 1
    problems = [line for line in result.output.splitlines() if line.startswith(FILE)]
    assert problems == [
        f"{FILE}:6:5: spec.scaling.min_replicas: expected a whole number, got text ('one') "
        "(fix: write a whole number of at least 1, e.g. `min_replicas: 1`)",
        f"{FILE}:9:5: spec.performance.error_rate_max: 150% is over 100% "
        "(fix: a utilization, threshold or rate is at most 100%)",
        f"{FILE}:12:5: warning: spec.reliability.rollback_threshold: 3 is above "
        "max_restart_count (2), so an automatic rollback can never happen "
        "(fix: set rollback_threshold at or below max_restart_count)",
        f"{FILE}:15:3: cost.monthly_budget: currency EUR differs from cost_per_replica's USD "
        "(fix: use one currency for both)",
    ]
    assert "3 blueprints: 2 valid, 1 invalid; 3 errors, 1 warning" in result.output


def test_validate_json_lists_every_problem(cli: Cli, blueprint_repo: Path) -> None:
    write_broken(blueprint_repo)
    result = cli("--repo", str(blueprint_repo), "validate", "-o", "json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["invalid"] == {"web": FILE}
    assert [(p["path"], p["line"], p["severity"]) for p in report["problems"]] == [
        ("spec.scaling.min_replicas", 6, "error"),
        ("spec.performance.error_rate_max", 9, "error"),
        ("spec.reliability.rollback_threshold", 12, "warning"),
        ("cost.monthly_budget", 15, "error"),
    ]
