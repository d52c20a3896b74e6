"""A metrics source that fails, or answers NaN, shows in the service's row, in the JSON and as
a workflow annotation, while the cycle goes on with what is known.

Why it exists: on a real cluster CPU and memory come from the metrics API and latency and
error rate from Prometheus, merged field by field. When only Prometheus failed, the merge
used to keep the metrics API's answer and drop Prometheus' error, so a run with Prometheus
down looked clean: exit 0, no note, only a rationale saying "latency missing". These tests run
the CLI as production does (`--cluster kubernetes`, the fake API server) with Prometheus down
(a closed port), and with a real Prometheus answering a blueprint's override with NaN or an
error, and read what a person and a script see.

The service runs hot (CPU at 120 % of its request, memory at 82 %), so a scale-up is decided
from the metrics API alone, whatever the unknown latency: a failing Prometheus must not stop
it, only be reported beside it.
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.core.observed.observation import Target
from tests.clusters import kubernetes_options
from tests.conftest import REPO, require_prometheus
from tests.fakes.kube_api import FakeKubeAPI
from tests.fakes.prometheus import Running, running
from tests.scenarios.conftest import Scenario, init_repo

SERVICE = "todo-frontend"
TARGET = Target(namespace="metrics-failures", name=SERVICE)
NAME = f"{SERVICE} ({TARGET})"
#: A latency query whose answer is NaN, as 0/0 is when a service had no requests.
NAN_LATENCY = "vector(0) / vector(0)"
#: An error-rate query Prometheus cannot parse (the closing parenthesis is missing).
BROKEN_ERROR_RATE = 'sum(rate(http_requests_total{deployment="{deployment}"}[5m])'


class Fleet:
    """A blueprint repository with only todo-frontend, its deployment in the fake API server
    running hot, and the CLI pointed at both and at `prometheus_url`."""

    def __init__(self, tmp_path: Path, api: FakeKubeAPI, prometheus_url: str, queries: Any):
        source = tmp_path / "source"
        shutil.copytree(REPO / "blueprints", source, symlinks=True)
        shutil.rmtree(source / "todo-backend")
        path = source / SERVICE / "blueprint.yaml"
        data = yaml.safe_load(path.read_text())
        data["metadata"]["namespace"] = TARGET.namespace
        if queries:
            data["spec"]["observability"] = {"queries": queries}
        path.write_text(yaml.safe_dump(data, sort_keys=False, width=200))
        root = tmp_path / "fleet"
        root.mkdir()
        init_repo(root, source)
        api.add_deployment(TARGET.namespace, SERVICE, replicas=2)
        api.set_pod_usage(TARGET.namespace, SERVICE, cpu="120m", memory="420Mi")
        self.scenario = Scenario(root)
        self.options = [*kubernetes_options(api, tmp_path), "--prometheus-url", prometheus_url]

    def plan_text(self) -> str:
        return self.scenario.cli(*self.options, "plan").output

    def plan_json(self) -> dict[str, Any]:
        report = self.scenario.json(*self.options, "plan")
        assert isinstance(report, dict)
        return report

    def annotations(self) -> list[str]:
        output = self.scenario.cli(*self.options, "run", "--dry-run", "--annotations").output
        return [line for line in output.splitlines() if line.startswith("::")]


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def api() -> Iterator[FakeKubeAPI]:
    with FakeKubeAPI() as server:
        yield server


@pytest.fixture(scope="module")
def prom() -> Iterator[Running]:
    require_prometheus()
    with running() as env:
        yield env


def only_service(report: dict[str, Any]) -> dict[str, Any]:
    (service,) = report["services"]
    assert service["service"] == SERVICE
    return dict(service)


def test_prometheus_down_is_a_warning_in_the_row_and_the_scale_up_still_happens(
    tmp_path: Path, api: FakeKubeAPI
) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    fleet = Fleet(tmp_path, api, url, queries=None)
    expected = f"metrics incomplete: {NAME}: Prometheus at {url} is unreachable"

    text = fleet.plan_text()  # exit 0: a warning, not a failed service
    (note,) = [line.strip() for line in text.splitlines() if "metrics incomplete" in line]
    assert note.startswith(f"note: {expected}"), text
    assert "scale_up 2→" in text  # decided from the metrics API's CPU and memory alone

    report = fleet.plan_json()
    assert report["ok"] is True
    service = only_service(report)
    assert service["error"] is None
    assert service["decision"]["action"] == "scale_up"
    (warning,) = service["warnings"]
    assert warning.startswith(expected)
    assert warning in service["notes"]

    (annotation,) = fleet.annotations()
    assert annotation.startswith(f"::warning title={SERVICE}::{expected}")


@pytest.mark.prometheus
def test_a_nan_answer_is_reported_with_its_reason_and_query(
    tmp_path: Path, api: FakeKubeAPI, prom: Running
) -> None:
    fleet = Fleet(tmp_path, api, prom.url, queries={"latency_p95": NAN_LATENCY})
    expected = (
        f"metrics incomplete: {NAME}: latency_p95 is NaN (no requests in the range?) "
        f"(query: {NAN_LATENCY})"
    )

    assert f"note: {expected}" in fleet.plan_text()

    service = only_service(fleet.plan_json())
    assert service["error"] is None
    assert service["decision"]["action"] == "scale_up"
    assert expected in service["warnings"]
    assert expected in service["notes"]

    annotations = fleet.annotations()
    assert f"::warning title={SERVICE}::{expected}" in annotations


@pytest.mark.prometheus
def test_a_query_prometheus_refuses_is_reported_with_its_error(
    tmp_path: Path, api: FakeKubeAPI, prom: Running
) -> None:
    fleet = Fleet(tmp_path, api, prom.url, queries={"error_rate": BROKEN_ERROR_RATE})
    expected = (
        f"metrics incomplete: {NAME}: error_rate query failed: Prometheus answered HTTP 400 "
        "bad_data: "
    )
    sent = BROKEN_ERROR_RATE.replace("{deployment}", SERVICE)

    (note,) = [line.strip() for line in fleet.plan_text().splitlines() if expected in line]
    assert note.startswith(f"note: {expected}") and note.endswith(f"(query: {sent})")

    report = fleet.plan_json()
    assert report["ok"] is True
    service = only_service(report)
    assert service["decision"]["action"] == "scale_up"
    (warning,) = service["warnings"]
    assert warning.startswith(expected) and warning.endswith(f"(query: {sent})")

    (annotation,) = fleet.annotations()
    assert annotation.startswith(f"::warning title={SERVICE}::{expected}")
