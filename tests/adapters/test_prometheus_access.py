"""Prometheus as people run it: TLS, basic auth, client certificates, tenant gateways, proxies.

One real Prometheus serves the module, started with a `--web.config.file` that requires basic
auth over TLS *and* a client certificate, all made at test time by a throw-away CA
(tests/fakes/certificates.py). In front of it, as in production, stand a tenant gateway (a
reverse proxy requiring a bearer token and `X-Scope-OrgID`) and a forward proxy (what
HTTPS_PROXY and HTTP_PROXY point at), both from tests/fakes/proxies.py. Each way a connection
fails is checked through `reconciler doctor`, for its distinct message, its fix and its exit
code, and every output is searched for the secrets involved.

Without the `prometheus` binary or `openssl` the module is skipped, unless CI's
RECONCILER_REQUIRE_PROMETHEUS / RECONCILER_REQUIRE_TOOLS make that a failure.
"""

from __future__ import annotations

import json
import socket
import ssl
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.adapters.prometheus import PrometheusMetrics
from reconciler.adapters.prometheus_transport import Credential, PrometheusAccess, Proxies
from reconciler.core.errors import MetricsError
from reconciler.core.observed.observation import Metrics, Target
from reconciler.core.observed.reachability import Failure
from tests.clusters import kubernetes_options
from tests.conftest import require_prometheus, require_tool
from tests.fakes.certificates import Authority, Pair
from tests.fakes.kube_api import FakeKubeAPI
from tests.fakes.prometheus import Load, Running, WebAccess, running
from tests.fakes.proxies import ForwardProxy, TenantGateway
from tests.scenarios.conftest import init_repo

require_prometheus()

pytestmark = pytest.mark.prometheus

WEB = Target(namespace="shop", name="web")
API = Target(namespace="shop", name="api")
USER = "alice"
PASSWORD = "correct-horse-battery"
#: bcrypt (cost 4, the cheapest Prometheus accepts) of PASSWORD, for the web configuration.
PASSWORD_HASH = "$2b$04$abcdefghijklmnopqrstuupOWRSKKNe562z1DsLEArFuJDHVyRIMa"
TOKEN = "gateway-token-7f3a9c2e51"
TENANT = "team-a"
PROXY_PASSWORD = "proxy-secret-4b8d"
#: What no output may ever contain.
SECRETS = (PASSWORD, TOKEN, PROXY_PASSWORD, "Y29ycmVjdC1ob3JzZS1iYXR0ZXJ5")  # the last: b64


@dataclass
class Secured:
    """The secured Prometheus and what it takes to reach it."""

    env: Running
    ca: Path
    client: Pair
    stranger: Pair
    port: int
    directory: Path

    @property
    def url(self) -> str:
        return self.env.url

    def access(self, **changes: object) -> PrometheusAccess:
        """Everything the server wants: its CA, a client certificate, the user's password."""
        full = PrometheusAccess(
            ca_file=self.ca,
            cert_file=self.client.cert,
            key_file=self.client.key,
            user=USER,
            password=Credential(value=PASSWORD, source="RECONCILER_PROMETHEUS_PASSWORD"),
        )
        return replace(full, **changes)  # type: ignore[arg-type]

    def context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca))
        context.load_cert_chain(str(self.client.cert), str(self.client.key))
        return context


def basic(user: str, password: str) -> str:
    return "Basic " + __import__("base64").b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    require_tool("openssl", "apt-get install openssl")
    directory = tmp_path_factory.mktemp("tls")
    authority = Authority(directory / "ca")
    server = authority.issue("prometheus", server=True)
    client = authority.issue("reconciler", server=False)
    stranger = Authority(directory / "other", "another CA").issue("stranger", server=False)
    config = {
        "tls_server_config": {
            "cert_file": str(server.cert),
            "key_file": str(server.key),
            "client_auth_type": "RequireAndVerifyClientCert",
            "client_ca_file": str(authority.cert),
        },
        "basic_auth_users": {USER: PASSWORD_HASH},
    }
    context = ssl.create_default_context(cafile=str(authority.cert))
    context.load_cert_chain(str(client.cert), str(client.key))
    web = WebAccess(config, context=context, headers={"Authorization": basic(USER, PASSWORD)})
    with running(web=web) as env:
        env.exporter.set("shop", "web", Load(rps=20, error_share=0.05, p95_seconds=0.18))
        env.exporter.set("shop", "api", Load(rps=10, error_share=0.0, p95_seconds=0.42))
        probe = PrometheusMetrics(env.url)
        for target in (WEB, API):
            env.prometheus.wait_for(probe.query_for(target, "latency_p95"))
        yield Secured(env, authority.cert, client, stranger, env.prometheus.port, directory)


@pytest.fixture(scope="module")
def gateway(secured: Secured) -> Iterator[TenantGateway]:
    with TenantGateway(
        secured.url,
        token=TOKEN,
        tenant=TENANT,
        context=secured.context(),
        upstream_headers={"Authorization": basic(USER, PASSWORD)},
    ) as server:
        yield server


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def metrics_of(answer: Metrics | MetricsError) -> Metrics:
    assert isinstance(answer, Metrics), answer
    return answer


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"{secret!r} shown in {text!r}"


# -- the adapter, straight to the secured server ----------------------------------------------


def test_basic_auth_over_mutual_tls_reads_what_prometheus_has(secured: Secured) -> None:
    adapter = PrometheusMetrics(secured.url, access=secured.access())
    answers = adapter.current([WEB, API])
    assert metrics_of(answers[WEB]).latency_p95_ms == pytest.approx(180.0, rel=1e-6)
    assert metrics_of(answers[WEB]).error_rate == pytest.approx(0.05, rel=1e-6)
    assert metrics_of(answers[API]).latency_p95_ms == pytest.approx(420.0, rel=1e-6)
    assert adapter.check().ok
    # `repr` of the settings shows no secret either.
    assert_no_secret(repr(secured.access()), adapter.settings())


def test_credentials_in_the_url_are_used_as_basic_auth_and_never_shown(secured: Secured) -> None:
    url = f"https://{USER}:{urllib.parse.quote(PASSWORD)}@127.0.0.1:{secured.port}"
    adapter = PrometheusMetrics(url, access=secured.access(user="", password=None))
    assert adapter.url == f"https://127.0.0.1:{secured.port}"
    assert metrics_of(adapter.current([WEB])[WEB]).latency_p95_ms == pytest.approx(180.0)
    assert adapter.settings().startswith("basic auth from the URL")
    assert_no_secret(adapter.settings(), adapter.url)


def test_a_password_file_is_read_again_at_every_call(secured: Secured, tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("an-old-password\n")
    password = Credential(file=secret, source="--prometheus-password-file")
    adapter = PrometheusMetrics(secured.url, access=secured.access(password=password))
    refused = adapter.current([WEB, API])
    for target in (WEB, API):
        assert f"Prometheus at {secured.url} refused the credentials: HTTP 401" in str(
            refused[target]
        )
    secret.write_text(f"{PASSWORD}\n")  # rotated: the same adapter picks it up
    assert metrics_of(adapter.current([WEB])[WEB]).latency_p95_ms == pytest.approx(180.0)


# -- the doctor names each failure ------------------------------------------------------------


@pytest.fixture
def api() -> Iterator[FakeKubeAPI]:
    with FakeKubeAPI() as server:
        server.add_deployment("todo-app", "todo-frontend")
        server.add_deployment("todo-app", "todo-backend")
        yield server


def invoke(repo: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    from reconciler.cli import main

    return CliRunner().invoke(main, ["--repo", str(repo), *args], env=env, catch_exceptions=False)


def tls_options(secured: Secured, *, ca: bool = True, client: Pair | None = None) -> list[str]:
    options = ["--prometheus-user", USER]
    if ca:
        options += ["--prometheus-ca-file", str(secured.ca)]
    pair = client or secured.client
    options += ["--prometheus-cert-file", str(pair.cert), "--prometheus-key-file", str(pair.key)]
    return options


@dataclass(frozen=True)
class Case:
    """One way to fail: the doctor's options and environment, what it must say and fix."""

    options: Callable[[Secured, int], list[str]]
    env: Callable[[Secured, int], dict[str, str]]
    detail: Callable[[Secured, int], str]
    fix: str


PASSWORD_ENV = {"RECONCILER_PROMETHEUS_PASSWORD": PASSWORD}

CASES = {
    "wrong password": Case(
        options=lambda s, _: ["--prometheus-url", s.url, *tls_options(s)],
        env=lambda s, _: {"RECONCILER_PROMETHEUS_PASSWORD": "not-the-password"},
        detail=lambda s, _: f"Prometheus at {s.url} refused the credentials: HTTP 401",
        fix="RECONCILER_PROMETHEUS_PASSWORD",
    ),
    "untrusted server certificate": Case(
        options=lambda s, _: ["--prometheus-url", s.url, *tls_options(s, ca=False)],
        env=lambda s, _: PASSWORD_ENV,
        detail=lambda s, _: f"the certificate of Prometheus at {s.url} could not be verified",
        fix="--prometheus-ca-file",
    ),
    "no client certificate": Case(
        options=lambda s, _: [
            "--prometheus-url",
            s.url,
            "--prometheus-user",
            USER,
            "--prometheus-ca-file",
            str(s.ca),
        ],
        env=lambda s, _: PASSWORD_ENV,
        detail=lambda s, _: "a client certificate it trusts",
        fix="--prometheus-cert-file",
    ),
    "client certificate of another CA": Case(
        options=lambda s, _: ["--prometheus-url", s.url, *tls_options(s, client=s.stranger)],
        env=lambda s, _: PASSWORD_ENV,
        detail=lambda s, _: "a client certificate it trusts",
        fix="--prometheus-cert-file",
    ),
    "proxy unreachable": Case(
        options=lambda s, _: [
            "--prometheus-url",
            f"https://prometheus.test:{s.port}",
            *tls_options(s),
        ],
        env=lambda s, closed: {
            **PASSWORD_ENV,
            "HTTPS_PROXY": f"http://proxyuser:{PROXY_PASSWORD}@127.0.0.1:{closed}",
        },
        detail=lambda s, closed: (
            f"the proxy http://127.0.0.1:{closed} (HTTPS_PROXY) is "
            "unreachable: [Errno 111] Connection refused"
        ),
        fix="HTTPS_PROXY",
    ),
    "not Prometheus": Case(
        options=lambda s, _: ["--prometheus-url", f"http://{s.env.exporter.address}"],
        env=lambda s, _: {},
        detail=lambda s, _: (
            f"Prometheus at http://{s.env.exporter.address} is not ready: "
            "HTTP 404 'not found': this URL does not serve Prometheus' query API"
        ),
        fix="/api/v1/query",
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_the_doctor_names_what_fails_and_shows_no_secret(
    case: Case,
    secured: Secured,
    api: FakeKubeAPI,
    blueprint_repo: Path,
    tmp_path: Path,
    closed_port: int,
) -> None:
    kube = ["--kubeconfig", str(api.write_kubeconfig(tmp_path / "kubeconfig"))]
    options = [*kube, *case.options(secured, closed_port)]
    env = case.env(secured, closed_port)
    text = invoke(blueprint_repo, *options, "doctor", env=env)
    assert text.exit_code == 1, text.output
    (line,) = [line for line in text.output.splitlines() if "prometheus:" in line]
    assert line.startswith("✗ prometheus: ")
    assert case.detail(secured, closed_port) in line
    report = invoke(blueprint_repo, *options, "doctor", "-o", "json", env=env)
    assert report.exit_code == 1
    (finding,) = [f for f in json.loads(report.output)["findings"] if f["check"] == "prometheus"]
    assert finding["ok"] is False
    assert case.detail(secured, closed_port) in finding["detail"]
    assert case.fix in finding["fix"]
    assert_no_secret(text.output, report.output)


def test_the_doctor_passes_with_every_setting_and_says_which_it_used(
    secured: Secured, api: FakeKubeAPI, blueprint_repo: Path, tmp_path: Path
) -> None:
    kube = ["--kubeconfig", str(api.write_kubeconfig(tmp_path / "kubeconfig"))]
    options = [*kube, "--prometheus-url", secured.url, *tls_options(secured)]
    result = invoke(blueprint_repo, *options, "doctor", env=PASSWORD_ENV)
    assert result.exit_code == 0, result.output
    assert (
        f"✓ prometheus: Prometheus at {secured.url} is ready (basic auth as {USER}, password "
        f"from RECONCILER_PROMETHEUS_PASSWORD; CA file {secured.ca}; client certificate "
        f"{secured.client.cert})"
    ) in result.output
    assert_no_secret(result.output)


def test_a_silent_server_is_a_timeout(
    api: FakeKubeAPI, blueprint_repo: Path, tmp_path: Path
) -> None:
    kube = ["--kubeconfig", str(api.write_kubeconfig(tmp_path / "kubeconfig"))]
    with socket.create_server(("127.0.0.1", 0), backlog=4) as silent:  # never accepts
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        options = [*kube, "--prometheus-url", url, "--prometheus-timeout", "0.5"]
        report = invoke(blueprint_repo, *options, "doctor", "-o", "json")
    assert report.exit_code == 1
    (finding,) = [f for f in json.loads(report.output)["findings"] if f["check"] == "prometheus"]
    assert finding["detail"] == f"Prometheus at {url} did not answer within 0.5s"
    assert "--prometheus-timeout" in finding["fix"]


# -- a tenant gateway: bearer token and X-Scope-OrgID --------------------------------------------


def test_a_tenant_gateway_gets_the_token_and_the_tenant_header(
    gateway: TenantGateway,
) -> None:
    access = PrometheusAccess(
        token=Credential(value=TOKEN, source="RECONCILER_PROMETHEUS_TOKEN"),
        headers=(("X-Scope-OrgID", TENANT),),
    )
    before = gateway.forwarded["/api/v1/query"]
    answers = PrometheusMetrics(gateway.url, access=access).current([WEB, API])
    assert metrics_of(answers[WEB]).latency_p95_ms == pytest.approx(180.0, rel=1e-6)
    assert metrics_of(answers[API]).error_rate == 0.0
    # One namespace, two services: one batched query per metric.
    assert gateway.forwarded["/api/v1/query"] - before == 2


def test_without_the_tenant_header_every_service_fails_with_one_message_and_no_secret(
    gateway: TenantGateway,
) -> None:
    token = Credential(value=TOKEN, source="RECONCILER_PROMETHEUS_TOKEN")
    adapter = PrometheusMetrics(gateway.url, access=PrometheusAccess(token=token))
    refused = gateway.refused
    answers = adapter.current([WEB, API, Target(namespace="other", name="x")])
    assert gateway.refused - refused == 1  # the first refusal ends the call
    for target, answer in answers.items():
        assert isinstance(answer, MetricsError)
        assert f"{target}: Prometheus at {gateway.url} refused the credentials: HTTP 401" in str(
            answer
        )
        # The gateway echoed the token back; the reconciler does not repeat it.
        assert "***" in str(answer)
        assert_no_secret(str(answer))
    found = adapter.check()
    assert found.failure is Failure.AUTH
    assert_no_secret(found.detail)


def test_a_rotated_token_file_is_read_again(gateway: TenantGateway, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(f"{TOKEN}\n")  # as `kubectl create token > file` leaves it
    access = PrometheusAccess(
        token=Credential(file=token_file, source="--prometheus-token-file"),
        headers=(("X-Scope-OrgID", TENANT),),
    )
    adapter = PrometheusMetrics(gateway.url, access=access)
    assert adapter.check().ok
    try:
        gateway.token = "rotated-token-0d1e2f"
        assert adapter.check().failure is Failure.AUTH
        token_file.write_text("rotated-token-0d1e2f")
        assert metrics_of(adapter.current([WEB])[WEB]).latency_p95_ms == pytest.approx(180.0)
    finally:
        gateway.token = TOKEN
    token_file.unlink()
    gone = adapter.check()
    assert gone.failure is Failure.SETTINGS
    assert gone.detail.startswith(f"cannot read the bearer token file {token_file}")


def test_plan_json_through_a_refusing_gateway_warns_without_the_token(
    gateway: TenantGateway, api: FakeKubeAPI, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    init_repo(repo)
    options = [
        *kubernetes_options(api, tmp_path),
        "--prometheus-url",
        gateway.url,
        "--prometheus-header",
        "X-Scope-OrgID: another-team",
    ]
    env = {"RECONCILER_PROMETHEUS_TOKEN": TOKEN}
    result = invoke(repo, *options, "plan", "-o", "json", env=env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    warnings = [w for s in report["services"] for w in s["warnings"]]
    assert warnings
    assert all(f"Prometheus at {gateway.url} refused the credentials" in w for w in warnings)
    assert_no_secret(result.output)


# -- a forward proxy: HTTPS_PROXY, HTTP_PROXY and NO_PROXY -----------------------------------------


def test_https_goes_through_the_proxy_in_a_verified_tunnel(secured: Secured) -> None:
    with ForwardProxy({"prometheus.test": "127.0.0.1"}) as proxy:
        access = secured.access(proxies=Proxies(https=proxy.url))
        # prometheus.test resolves only in the proxy's table: the answer proves the route.
        adapter = PrometheusMetrics(f"https://prometheus.test:{secured.port}", access=access)
        assert metrics_of(adapter.current([WEB])[WEB]).latency_p95_ms == pytest.approx(180.0)
        assert proxy.tunnels[f"prometheus.test:{secured.port}"] == 1
        assert "through the proxy" in adapter.settings()


def test_http_goes_through_the_proxy_as_absolute_requests(gateway: TenantGateway) -> None:
    with ForwardProxy({"prometheus.test": "127.0.0.1"}) as proxy:
        access = PrometheusAccess(
            token=Credential(value=TOKEN, source="RECONCILER_PROMETHEUS_TOKEN"),
            headers=(("X-Scope-OrgID", TENANT),),
            proxies=Proxies(http=proxy.url, https="http://127.0.0.1:9"),
        )
        adapter = PrometheusMetrics(f"http://prometheus.test:{gateway.port}", access=access)
        assert metrics_of(adapter.current([WEB])[WEB]).latency_p95_ms == pytest.approx(180.0)
        assert proxy.forwards["/api/v1/query"] == 2  # one service: one query per metric


def test_proxy_credentials_come_from_the_proxy_url_and_a_refusal_names_the_proxy(
    secured: Secured,
) -> None:
    with ForwardProxy(
        {"prometheus.test": "127.0.0.1"}, credentials=f"proxyuser:{PROXY_PASSWORD}"
    ) as proxy:
        url = f"https://prometheus.test:{secured.port}"
        with_credentials = f"http://proxyuser:{PROXY_PASSWORD}@127.0.0.1:{proxy.port}"
        adapter = PrometheusMetrics(
            url, access=secured.access(proxies=Proxies(https=with_credentials))
        )
        assert metrics_of(adapter.current([WEB])[WEB]).latency_p95_ms == pytest.approx(180.0)
        assert_no_secret(adapter.settings())
        bare = PrometheusMetrics(url, access=secured.access(proxies=Proxies(https=proxy.url)))
        found = bare.check()
    assert found.failure is Failure.PROXY
    assert found.detail == (
        f"the proxy {proxy.url} (HTTPS_PROXY) refused to connect to Prometheus at {url}: "
        "Tunnel connection failed: 407 Proxy Authentication Required"
    )


@pytest.mark.parametrize(
    ("no_proxy", "url", "proxied"),
    [
        ("", "https://prometheus.test:9090", True),
        ("prometheus.test", "https://prometheus.test:9090", False),
        (".test", "https://prometheus.test:9090", False),
        ("test", "https://prometheus.test:9090", False),
        ("other.test, *.example", "https://prometheus.test:9090", True),
        ("prometheus.test:9091", "https://prometheus.test:9090", True),
        ("prometheus.test:9090", "https://prometheus.test:9090", False),
        ("*", "https://prometheus.test:9090", False),
        ("10.0.0.0/8", "https://10.1.2.3:9090", False),
        ("10.0.0.0/8", "https://11.1.2.3:9090", True),
        ("", "https://127.0.0.1:9090", False),  # loopback: always direct
        ("", "https://localhost:9090", False),
        ("", "https://[::1]:9090", False),
        ("", "http://prometheus.test:9090", False),  # HTTP_PROXY unset: direct
    ],
)
def test_no_proxy_decides_as_go_programs_do(no_proxy: str, url: str, proxied: bool) -> None:
    proxies = Proxies(https="http://proxy:3128", no_proxy=no_proxy)
    parts = urllib.parse.urlsplit(url)
    proxy, _ = proxies.for_url(parts.scheme, parts.hostname or "", parts.port or 443)
    assert bool(proxy) is proxied


# -- configuration errors: exit 3 (or 2 for a malformed option), naming the setting -----------


@pytest.mark.parametrize(
    ("args", "env", "code", "message"),
    [
        (
            ["--prometheus-token-file", "/nonexistent/token"],
            {},
            3,
            "--prometheus-token-file (RECONCILER_PROMETHEUS_TOKEN_FILE): /nonexistent/token "
            "is not a file",
        ),
        (
            ["--prometheus-user", USER],
            {"RECONCILER_PROMETHEUS_TOKEN": TOKEN, "RECONCILER_PROMETHEUS_PASSWORD": PASSWORD},
            3,
            "both a bearer token and basic auth are configured",
        ),
        (["--prometheus-user", USER], {}, 3, f"Prometheus user {USER} has no password"),
        (
            [],
            {"RECONCILER_PROMETHEUS_PASSWORD": PASSWORD},
            3,
            "a Prometheus password is set but no user",
        ),
        (
            ["--prometheus-header", f"Authorization Bearer {TOKEN}"],
            {},
            2,
            "expected `NAME: VALUE`",
        ),
        (
            [],
            {"RECONCILER_PROMETHEUS_HEADERS": f"X-Scope-OrgID: {TENANT}\nHost: {TOKEN}"},
            3,
            "Prometheus header Host is set by the reconciler itself",
        ),
        (
            [],
            {"HTTPS_PROXY": f"socks5://u:{PROXY_PASSWORD}@127.0.0.1:1080"},
            3,
            "HTTPS_PROXY 'socks5://127.0.0.1:1080' is not an http(s) proxy URL",
        ),
        (["--prometheus-timeout", "0"], {}, 2, "--prometheus-timeout"),
    ],
)
def test_bad_settings_are_refused_before_any_request(
    args: list[str],
    env: dict[str, str],
    code: int,
    message: str,
    api: FakeKubeAPI,
    blueprint_repo: Path,
    tmp_path: Path,
) -> None:
    kube = ["--kubeconfig", str(api.write_kubeconfig(tmp_path / "kubeconfig"))]
    url = ["--prometheus-url", "https://prometheus.test:9090"]
    result = invoke(blueprint_repo, *kube, *url, *args, "doctor", env=env)
    assert result.exit_code == code, result.output
    assert message in result.output
    assert_no_secret(result.output)
