"""Two small HTTP proxies on loopback, for the ways Prometheus is reached in production.

`TenantGateway` is a reverse proxy like the gateways in front of Mimir, Cortex or Thanos: it
answers 401 unless the request carries the bearer token it expects and an `X-Scope-OrgID`
header naming its tenant, and forwards the rest to an upstream Prometheus (over TLS, with the
client certificate and basic auth that upstream wants). Its 401 answer quotes the token it was
sent, as careless gateways do, so tests can check that the reconciler never repeats a secret a
server echoes. It counts the queries it forwards.

`ForwardProxy` is an HTTP proxy like the ones `HTTPS_PROXY` and `HTTP_PROXY` point at: CONNECT
tunnels (for https) and absolute-form requests (for http), optionally behind basic
credentials (407 without them). Host names are resolved from its own table only, so a request
for `prometheus.test` can only have arrived through it.
"""

from __future__ import annotations

import base64
import http.client
import select
import socket
import ssl
import threading
import urllib.parse
from collections import Counter
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["ForwardProxy", "TenantGateway"]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def server_bind(self) -> None:
        socket.socket.bind(self.socket, self.server_address)  # no reverse DNS lookup
        self.server_address = self.socket.getsockname()
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]

    def __enter__(self) -> Any:
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up mid-tunnel is normal: stay quiet."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> bytes | None:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else None

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests assert on counts, not logs."""


class TenantGateway(_Server):
    """A reverse proxy requiring `Authorization: Bearer <token>` and `X-Scope-OrgID: <tenant>`.

    `upstream` is the Prometheus URL; `context` and `upstream_headers` are what the gateway
    itself presents to it. `token` may be changed while running (a rotation).
    """

    def __init__(
        self,
        upstream: str,
        *,
        token: str,
        tenant: str,
        context: ssl.SSLContext | None = None,
        upstream_headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(_GatewayHandler)
        self.upstream = urllib.parse.urlsplit(upstream)
        self.token = token
        self.tenant = tenant
        self.context = context
        self.upstream_headers = dict(upstream_headers or {})
        self.forwarded: Counter[str] = Counter()
        self.refused = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class _GatewayHandler(_Handler):
    server: TenantGateway

    def do_GET(self) -> None:
        self._forward()

    def do_POST(self) -> None:
        self._forward()

    def _forward(self) -> None:
        gateway = self.server
        body = self._body()
        sent = self.headers.get("Authorization", "")
        if sent != f"Bearer {gateway.token}" or self.headers.get("X-Scope-OrgID") != gateway.tenant:
            gateway.refused += 1
            # Careless on purpose: the answer repeats the credentials it was sent.
            self._answer(
                401, f"unauthorized: got {sent!r}\n".encode(), {"Content-Type": "text/plain"}
            )
            return
        upstream = gateway.upstream
        conn: http.client.HTTPConnection
        if upstream.scheme == "https":
            conn = http.client.HTTPSConnection(
                upstream.hostname or "", upstream.port, timeout=10, context=gateway.context
            )
        else:
            conn = http.client.HTTPConnection(upstream.hostname or "", upstream.port, timeout=10)
        headers = {
            name: value
            for name, value in self.headers.items()
            if name.lower() not in {"authorization", "x-scope-orgid", "host", "connection"}
        }
        headers.update(gateway.upstream_headers)
        try:
            conn.request(self.command, self.path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        gateway.forwarded[urllib.parse.urlsplit(self.path).path] += 1
        kind = response.getheader("Content-Type") or "application/json"
        self._answer(response.status, data, {"Content-Type": kind})


class ForwardProxy(_Server):
    """An HTTP proxy resolving names from `hosts` (name -> IP address) only.

    With `credentials` ("user:password"), requests without them get 407.
    """

    def __init__(self, hosts: Mapping[str, str], *, credentials: str = "") -> None:
        super().__init__(_ProxyHandler)
        self.hosts = dict(hosts)
        self.credentials = credentials
        self.tunnels: Counter[str] = Counter()
        self.forwards: Counter[str] = Counter()
        self.refused = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def resolve(self, host: str) -> str | None:
        return self.hosts.get(host)


class _ProxyHandler(_Handler):
    server: ForwardProxy

    def _allowed(self) -> bool:
        wanted = self.server.credentials
        if not wanted:
            return True
        expected = "Basic " + base64.b64encode(wanted.encode()).decode()
        if self.headers.get("Proxy-Authorization") == expected:
            return True
        self.server.refused += 1
        self._answer(
            407, b"proxy credentials required\n", {"Proxy-Authenticate": 'Basic realm="proxy"'}
        )
        return False

    def do_CONNECT(self) -> None:
        if not self._allowed():
            return
        host, _, port = self.path.rpartition(":")
        address = self.server.resolve(host)
        if address is None:
            self._answer(502, f"unknown host {host}\n".encode())
            return
        upstream = socket.create_connection((address, int(port)), timeout=10)
        self.server.tunnels[self.path] += 1
        self.send_response(200, "Connection established")
        self.end_headers()
        self.close_connection = True
        _pipe(self.connection, upstream)

    def do_GET(self) -> None:
        self._relay()

    def do_POST(self) -> None:
        self._relay()

    def _relay(self) -> None:
        if not self._allowed():
            return
        target = urllib.parse.urlsplit(self.path)
        body = self._body()
        address = self.server.resolve(target.hostname or "")
        if target.scheme != "http" or address is None:
            self._answer(502, f"cannot forward to {self.path}\n".encode())
            return
        conn = http.client.HTTPConnection(address, target.port or 80, timeout=10)
        headers = {
            name: value
            for name, value in self.headers.items()
            if name.lower() not in {"proxy-authorization", "proxy-connection", "connection"}
        }
        path = target.path + (f"?{target.query}" if target.query else "")
        try:
            conn.request(self.command, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        self.server.forwards[target.path] += 1
        kind = response.getheader("Content-Type") or "text/plain"
        self._answer(response.status, data, {"Content-Type": kind})


def _pipe(client: socket.socket, upstream: socket.socket) -> None:
    """Copy bytes both ways until either side closes."""
    sockets = [client, upstream]
    try:
        while True:
            readable, _, broken = select.select(sockets, [], sockets, 10)
            if broken or not readable:
                return
            for sock in readable:
                data = sock.recv(65536)
                if not data:
                    return
                (upstream if sock is client else client).sendall(data)
    except OSError:
        return
    finally:
        upstream.close()
