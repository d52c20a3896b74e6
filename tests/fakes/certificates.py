"""A throw-away certificate authority for TLS tests, made with the `openssl` command line.

Why it exists: the Prometheus adapter must verify a server against a CA it is given, present a
client certificate, and say which of the two failed; that needs real certificates, made at test
time so none is ever committed or expires in the repository. The `cryptography` package is not
a dependency, and `openssl` is on every machine the tests run on (`.ci/run` installs it when
missing), so the command line does the work. Keys are P-256: fast to generate.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Authority", "Pair", "openssl_available"]

#: The host name the server certificates carry besides loopback: tests reach a server by this
#: name only through a proxy that knows it (it resolves nowhere else).
SERVER_NAMES = ("prometheus.test", "localhost")


@dataclass(frozen=True)
class Pair:
    """A certificate and its private key, as PEM files."""

    cert: Path
    key: Path


def openssl_available() -> bool:
    return shutil.which("openssl") is not None


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


class Authority:
    """A CA in `directory` that issues server and client certificates valid for a day."""

    def __init__(self, directory: Path, name: str = "reconciler test CA") -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        stem = name.replace(" ", "-")
        self.cert = directory / f"{stem}.pem"
        self.key = directory / f"{stem}.key"
        _openssl(
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(self.key), "-out", str(self.cert), "-days", "1",
            "-subj", f"/CN={name}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            cwd=directory,
        )  # fmt: skip

    def issue(self, name: str, *, server: bool) -> Pair:
        """A certificate for `name` (a server's for loopback and SERVER_NAMES, or a client's)."""
        key = self.directory / f"{name}.key"
        request = self.directory / f"{name}.csr"
        cert = self.directory / f"{name}.pem"
        extensions = self.directory / f"{name}.ext"
        usage = "serverAuth" if server else "clientAuth"
        lines = [
            "basicConstraints=critical,CA:FALSE",
            "keyUsage=critical,digitalSignature",
            f"extendedKeyUsage={usage}",
        ]
        if server:
            names = ",".join(f"DNS:{host}" for host in SERVER_NAMES)
            lines.append(f"subjectAltName={names},IP:127.0.0.1")
        extensions.write_text("\n".join(lines) + "\n")
        _openssl(
            "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(request), "-subj", f"/CN={name}",
            cwd=self.directory,
        )  # fmt: skip
        _openssl(
            "x509", "-req", "-in", str(request), "-CA", str(self.cert), "-CAkey", str(self.key),
            "-set_serial", str(secrets.randbits(63)), "-days", "1", "-out", str(cert),
            "-extfile", str(extensions),
            cwd=self.directory,
        )  # fmt: skip
        return Pair(cert=cert, key=key)
