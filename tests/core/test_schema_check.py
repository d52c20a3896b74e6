"""The compiled schema check gives jsonschema's verdict: it may let jsonschema judge a valid
document (that only costs time), but must never pass a document jsonschema refuses, or a
broken blueprint would load without its errors."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.core.blueprint.schema_check import compiled_check
from reconciler.core.blueprint.schemas import _validator, iter_issues
from tests.core.test_loading import SEED_BLUEPRINT

REPO = Path(__file__).resolve().parents[2]

#: Documents of every kind in the repository, and one that uses most of the schema.
FULL_BLUEPRINT = """\
apiVersion: reconciler/v1
kind: Blueprint
metadata:
  name: web
  version: 1.2.0
  namespace: shop
  priority: high
  labels: {team: web}
spec:
  scaling:
    min_replicas: 2
    max_replicas: 8
    target_cpu_utilization: 70%
    scale_up_threshold: 80%
    scale_down_threshold: 30%
    cooldown_period: 120s
    metrics:
      - {type: cpu, weight: 0.5}
      - {type: memory, weight: 0.3}
      - {type: latency, weight: 0.2}
  performance:
    latency_p95: 200ms
    error_rate_max: 1%
  resources:
    cpu: {request: 100m, limit: 500m}
    memory: {request: 256Mi, limit: 1Gi}
governance:
  agent_authority:
    allowed_operations:
      - operation: scale_within_limits
        condition: target_replicas <= max_replicas
      - restart_failed_pods
    requires_approval: [scale_beyond_limits]
    forbidden_operations: [delete_deployment]
  approval_workflow:
    approvers: [team-web]
    timeout: 1h
cost:
  cost_per_replica: 20 USD
  monthly_budget: 500 USD
"""


def _documents() -> list[tuple[str, Any]]:
    found = [
        ("blueprint", yaml.safe_load(SEED_BLUEPRINT)),
        ("blueprint", yaml.safe_load(FULL_BLUEPRINT)),
    ]
    for path in sorted((REPO / "blueprints").glob("*/blueprint.yaml")):
        found.append(("blueprint", yaml.safe_load(path.read_text())))
    found.append(
        ("policies", yaml.safe_load((REPO / "blueprints/governance/policies.yaml").read_text()))
    )
    return found


DOCUMENTS = _documents()


def _jsonschema_passes(kind: str, document: Any) -> bool:
    return bool(_validator(kind).is_valid(document))


def _compiled_passes(kind: str, document: Any) -> bool:
    check = compiled_check(kind)
    assert check is not None, f"the {kind} schema uses a keyword the compiled check lacks"
    return check(document)


@pytest.mark.parametrize(("kind", "document"), DOCUMENTS)
def test_every_document_of_the_repository_passes_both(kind: str, document: Any) -> None:
    assert _jsonschema_passes(kind, document)
    assert _compiled_passes(kind, document)
    assert list(iter_issues(kind, document)) == []


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


_UNITISH = st.sampled_from(
    ["70%", "170%", "-5%", "0%", "60s", "0s", "-1s", "1h", "99999999999999999999d", "100m",
     "0m", "512Mi", "1025Ti", "200ms", "20 USD", "1.2.0", "v1", "", "abc", "1e3", "08", "reconciler/v1",
     "Blueprint", "cpu", "latency", "scale_within_limits", "high", "team-web"]
)  # fmt: skip
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 1.0, 2.5, math.inf, -math.inf, math.nan, 0.5]),
    _UNITISH,
    st.text(max_size=8),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.one_of(_UNITISH, st.integers(0, 3)), children, max_size=3),
    ),
    max_leaves=6,
)


@st.composite
def _mutated(draw: st.DrawFn) -> tuple[str, Any]:
    kind, original = draw(st.sampled_from(DOCUMENTS))
    document = copy.deepcopy(original)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(document)))
        if not path:
            continue
        parent = document
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(_VALUES)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.one_of(_UNITISH, st.integers(0, 3)))] = draw(_VALUES)
        else:
            parent.append(draw(_VALUES))
    return kind, document


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated())
def test_the_compiled_check_and_jsonschema_agree(case: tuple[str, Any]) -> None:
    kind, document = case
    assert _compiled_passes(kind, document) == _jsonschema_passes(kind, document)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("spec", "scaling", "min_replicas"), True),  # true is not 1
        (("spec", "scaling", "min_replicas"), 2.0),  # an integer all the same
        (("spec", "scaling", "scale_up_threshold"), math.nan),
        (("spec", "scaling", "scale_up_threshold"), "170%"),  # the unit's own bound
        (("spec", "scaling", "cooldown_period"), "99999999999999999999d"),
        (("metadata", "priority"), "urgent"),
        (("kind",), "Blueprints"),
        (("spec", "scaling", "metrics"), []),
    ],
)
def test_the_edges_of_each_keyword_agree(path: tuple[str, ...], value: Any) -> None:
    document = yaml.safe_load(FULL_BLUEPRINT)
    node = document
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    assert _compiled_passes("blueprint", document) == _jsonschema_passes("blueprint", document)
    assert bool(list(iter_issues("blueprint", document))) != _jsonschema_passes(
        "blueprint", document
    )
