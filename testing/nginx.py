"""Debian's nginx in front of web processes, with the shipped deploy/nginx.conf and TLS, for tests and benchmarks.

The shipped file is used as it is, with only the values it marks "yours" replaced (ports on 127.0.0.1, the
certificate, the backends, the log paths); each replacement must match, so the file and this helper cannot
drift apart unnoticed. nginx runs as the current user with its pid, temporary files and logs in a temporary
folder, from a certificate made here with openssl for 127.0.0.1 and localhost.
"""
from __future__ import annotations

import base64
import hashlib
import os
import pwd
import re
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .liveserver import ROOT, LiveServer, free_port

SHIPPED = ROOT / "deploy" / "nginx.conf"
NGINX = "/usr/sbin/nginx"


class Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost, valid two days, and how clients come to trust it."""

    def __init__(self, folder: Path):
        self.cert, self.key = folder / "cert.pem", folder / "key.pem"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
             "-keyout", str(self.key), "-out", str(self.cert)], check=True, capture_output=True)

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts this certificate alone (and checks the host name against it)."""
        return ssl.create_default_context(cafile=str(self.cert))

    def server_context(self) -> ssl.SSLContext:
        """For a test's own https server (a CRM page, a shop) on 127.0.0.1."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context

    def spki_sha256(self) -> str:
        """What Chromium's --ignore-certificate-errors-spki-list takes: it then trusts this key and no other."""
        public_key = x509.load_pem_x509_certificate(self.cert.read_bytes()).public_key()
        der = public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        return base64.b64encode(hashlib.sha256(der).digest()).decode()


def render(shipped: str, *, http_port: int, https_port: int, backends: list[int], certificate: Certificate,
           logs: Path) -> str:
    """The shipped file with its "yours" values replaced for a test on 127.0.0.1."""
    upstream = "".join(f"    server 127.0.0.1:{port};\n" for port in backends)
    replacements = [
        (r"    server 127\.0\.0\.1:8001;.*\n    server 127\.0\.0\.1:8002;\n", upstream),
        (r"listen 80;.*\n    listen \[::\]:80;", f"listen 127.0.0.1:{http_port};"),
        (r"listen 443 ssl;.*\n    listen \[::\]:443 ssl;", f"listen 127.0.0.1:{https_port} ssl;"),
        (r"return 301 https://\$host\$request_uri;", f"return 301 https://$host:{https_port}$request_uri;"),
        (r"ssl_certificate /etc/letsencrypt/live/cc\.example\.com/fullchain\.pem;",
         f"ssl_certificate {certificate.cert};"),
        (r"ssl_certificate_key /etc/letsencrypt/live/cc\.example\.com/privkey\.pem;",
         f"ssl_certificate_key {certificate.key};"),
        (r"/var/log/nginx/", f"{logs}/"),
    ]
    text = shipped
    for pattern, value in replacements:
        text, count = re.subn(pattern, value.replace("\\", "\\\\"), text)
        assert count, f"deploy/nginx.conf no longer has {pattern!r}: update testing/nginx.py with it"
    return text


def main_config(folder: Path, site: Path) -> str:
    """The nginx.conf around the site file: what Debian's /etc/nginx/nginx.conf does, with every path in `folder`."""
    # Started by root, nginx would run its workers as nobody; started by anyone else, they run as that user.
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
    temp = "".join(f"    {kind}_temp_path {folder}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi",
                                                                          "uwsgi", "scgi"))
    return (f"{user}worker_processes 1;\npid {folder}/nginx.pid;\nerror_log {folder}/main-error.log;\n"
            f"events {{ worker_connections 1024; }}\nhttp {{\n{temp}    include {site};\n}}\n")


class Nginx:
    """deploy/nginx.conf balancing over `servers`; `url` is its https address, `http_url` the redirecting one.
    `token` and `api` are the live server's helpers, reaching whichever process nginx picks."""

    def __init__(self, servers: list[LiveServer], certificate: Certificate):
        self.servers, self.certificate = servers, certificate
        self.demo = servers[0].demo
        self.ssl_context = certificate.ssl_context()
        self._tmp = tempfile.TemporaryDirectory(prefix="tccc-nginx-")
        self.folder = Path(self._tmp.name)
        self.http_port, self.https_port = free_port(), free_port()
        self.url, self.http_url = f"https://127.0.0.1:{self.https_port}", f"http://127.0.0.1:{self.http_port}"
        self.process: subprocess.Popen | None = None

    token = LiveServer.token
    api = LiveServer.api

    @property
    def config(self) -> Path:
        return self.folder / "nginx.conf"

    def write_config(self) -> Path:
        site = self.folder / "tccc.conf"
        site.write_text(render(SHIPPED.read_text(), http_port=self.http_port, https_port=self.https_port,
                               backends=[server.port for server in self.servers], certificate=self.certificate,
                               logs=self.folder))
        self.config.write_text(main_config(self.folder, site))
        return self.config

    def start(self) -> "Nginx":
        self.write_config()
        self.log = open(self.folder / "stderr.log", "a")
        self.process = subprocess.Popen([NGINX, "-p", str(self.folder), "-c", str(self.config), "-g", "daemon off;"],
                                        stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited: {(self.folder / 'stderr.log').read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.https_port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nginx did not listen within 10 s")

    def access_log(self) -> str:
        path = self.folder / "tccc.access.log"
        return path.read_text() if path.exists() else ""

    def error_log(self) -> str:
        return "".join(path.read_text() for path in self.folder.glob("*error.log"))

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        if getattr(self, "log", None):
            self.log.close()
        self._tmp.cleanup()


def backend_holding(servers: list[LiveServer], path: str, marks: list[int]) -> LiveServer:
    """The one process whose daphne accepted a websocket on `path` since `marks` (each log's size before)."""
    holders = [server for server, mark in zip(servers, marks) if f"WSCONNECT {path}" in _log_since(server, mark)]
    assert len(holders) == 1, f"{len(holders)} processes accepted a websocket on {path}"
    return holders[0]


def _log_since(server: LiveServer, mark: int) -> str:
    with open(server.log_path, errors="replace") as log:
        log.seek(mark)
        return log.read()
