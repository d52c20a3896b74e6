"""Which cluster a run is on, which blueprints it acts on, and which records are its own."""

from __future__ import annotations

from dataclasses import replace

import pytest

from reconciler.core.blueprint.loading import load_blueprint
from reconciler.core.blueprint.model import ClusterDeclaration
from reconciler.core.blueprint.policies import load_policies
from reconciler.core.errors import ConfigError
from reconciler.core.trail.clusters import (
    ON_SIMULATOR,
    ClusterRef,
    own_records,
    real_cluster,
    skip_reason,
)
from reconciler.core.trail.records import EventType, Outcome, Record
from tests.core.helpers import NOW, SEED, seed_blueprint

DECLARED = (
    ClusterDeclaration(name="prod-eu", identity="uid-eu", context="eu"),
    ClusterDeclaration(name="prod-us", identity="uid-us"),
)
POLICIES = "blueprints/governance/policies.yaml"


def record(rid: str, cluster: str | None) -> Record:
    return Record(
        id=rid,
        timestamp=NOW,
        event_type=EventType.DECISION_MADE,
        service="web",
        blueprint_version="1",
        outcome=Outcome.DECIDED,
        rationale="",
        cluster=cluster,
    )


@pytest.mark.parametrize(
    ("clusters", "others_before", "kept", "others_after"),
    [
        ((None, "uid-eu"), False, ["r0", "r1"], False),  # unnamed: the reader's own
        ((None, "uid-eu", "simulated"), False, ["r1"], True),  # another cluster wrote
        ((None, "uid-eu"), True, ["r1"], True),  # ... as an earlier read found
        (("simulated", "uid-us"), False, [], True),
        ((), False, [], False),
    ],
)
def test_own_records_keeps_the_readers_and_the_unnamed_while_no_other_cluster_wrote(
    clusters: tuple[str | None, ...], others_before: bool, kept: list[str], others_after: bool
) -> None:
    records = [record(f"r{i}", cluster) for i, cluster in enumerate(clusters)]
    own, others = own_records(records, "uid-eu", others=others_before)
    assert [r.id for r in own] == kept
    assert others is others_after


def test_a_declared_cluster_is_named_by_the_policies() -> None:
    found = real_cluster("uid-us", None, DECLARED, POLICIES)
    assert found == ClusterRef(identity="uid-us", name="prod-us")
    assert found.describe() == "prod-us (uid-us)"
    assert not found.simulated


def test_without_declared_clusters_a_cluster_is_named_by_its_identity() -> None:
    found = real_cluster("uid-x", "any", (), POLICIES)
    assert found == ClusterRef(identity="uid-x", name="uid-x")
    assert found.describe() == "uid-x"


def test_a_cluster_the_policies_do_not_declare_is_refused() -> None:
    with pytest.raises(ConfigError) as raised:
        real_cluster("uid-x", None, DECLARED, POLICIES)
    assert "(kube-system UID uid-x) is none of the clusters" in str(raised.value)
    assert "identity: uid-x" in raised.value.hint


def test_a_declared_context_that_reaches_another_cluster_is_refused() -> None:
    with pytest.raises(ConfigError) as raised:
        real_cluster("uid-x", "eu", DECLARED, POLICIES)
    assert "declares it as cluster prod-eu with identity uid-eu" in str(raised.value)


def test_the_simulator_acts_on_every_blueprint_and_a_real_cluster_on_its_own() -> None:
    anywhere = seed_blueprint()
    on_us = replace(anywhere, cluster="prod-us")
    eu = ClusterRef(identity="uid-eu", name="prod-eu")
    us = ClusterRef(identity="uid-us", name="prod-us")
    assert skip_reason(anywhere, eu) is None
    assert skip_reason(on_us, us) is None
    assert skip_reason(on_us, ON_SIMULATOR) is None
    assert skip_reason(on_us, eu) == "spec.cluster is prod-us; this run is on prod-eu (uid-eu)"


CLUSTERS_POLICIES = b"""\
defaults: {namespace: default}
clusters:
  - {name: prod-eu, identity: uid-eu, context: eu}
  - {name: prod-us, identity: uid-us}
"""


def test_policies_declare_clusters_and_a_blueprint_names_one() -> None:
    policies, problems = load_policies(CLUSTERS_POLICIES, source=POLICIES)
    assert list(problems) == []
    assert policies is not None and policies.clusters == DECLARED
    text = SEED.replace(b"spec:\n", b"spec:\n  cluster: prod-us\n", 1)
    found, problems = load_blueprint(text, source="b.yaml", policies=policies)
    assert found is not None and found.cluster == "prod-us"


def test_a_blueprint_naming_an_undeclared_cluster_is_an_error_with_the_fix() -> None:
    policies, _ = load_policies(CLUSTERS_POLICIES, source=POLICIES)
    assert policies is not None
    text = SEED.replace(b"spec:\n", b"spec:\n  cluster: staging\n", 1)
    found, problems = load_blueprint(text, source="b.yaml", policies=policies)
    assert found is None
    (problem,) = [p for p in problems if p.code == "blueprint.unknown_cluster"]
    assert problem.path == "spec.cluster"
    assert "'staging' is not a cluster of the global policies (prod-eu, prod-us)" in (
        problem.message
    )
    assert POLICIES in problem.hint


@pytest.mark.parametrize(
    ("second", "field", "message"),
    [
        ("{name: prod-eu, identity: uid-2}", "name", "name 'prod-eu'"),
        ("{name: prod-us, identity: uid-eu}", "identity", "identity 'uid-eu'"),
        ("{name: prod-us, identity: uid-2, context: eu}", "context", "context 'eu'"),
    ],
)
def test_a_cluster_said_twice_is_an_error(second: str, field: str, message: str) -> None:
    text = (
        "defaults: {namespace: default}\nclusters:\n"
        f"  - {{name: prod-eu, identity: uid-eu, context: eu}}\n  - {second}\n"
    ).encode()
    policies, problems = load_policies(text, source=POLICIES)
    assert policies is None
    (problem,) = problems
    assert (problem.path, problem.code, problem.line) == (
        f"clusters[1].{field}",
        "clusters.duplicate",
        4,
    )
    assert problem.message == f"{message} is already that of clusters[0]"
    assert problem.hint == (
        "each cluster needs its own name, identity (the UID of its kube-system namespace) "
        "and context"
    )


def test_a_cluster_said_twice_names_the_first_that_said_it() -> None:
    text = (
        b"defaults: {namespace: default}\nclusters:\n  - {name: a, identity: u1}\n"
        b"  - {name: b, identity: u2}\n  - {name: c, identity: u2}\n"
    )
    _, problems = load_policies(text, source=POLICIES)
    assert [(p.path, p.message) for p in problems] == [
        ("clusters[2].identity", "identity 'u2' is already that of clusters[1]")
    ]


def test_simulated_is_not_a_name_a_real_cluster_can_take() -> None:
    text = b"defaults: {namespace: default}\nclusters:\n  - {name: simulated, identity: u}\n"
    policies, problems = load_policies(text, source=POLICIES)
    assert policies is None
    assert [(p.path, p.code, p.line, p.message, p.hint) for p in problems] == [
        (
            "clusters[0].name",
            "clusters.reserved_name",
            3,
            "'simulated' is the embedded simulation's name",
            "give the real cluster another name",
        )
    ]
