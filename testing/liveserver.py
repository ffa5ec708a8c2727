"""A real server for browser tests and benchmarks: daphne in a subprocess on a free port, its own SQLite file.

It runs exactly what the README's run command runs (migrate, seed_demo, daphne), so what passes here is
what a user gets. Stopped with the context manager; killed if it outlives its owner.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A port number free for TCP and for UDP alike (the SIP gateway and sipp bind both on theirs)."""
    while True:
        with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            try:
                udp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


class LiveServer:
    ssl_context = None  # for the helpers' requests: a balancer serving https sets its own

    def __init__(self, env: dict | None = None, workdir: str | None = None, behind_proxy: bool = False):
        """`behind_proxy`: as deployed behind nginx (deploy/tccc-web@.service): daphne takes the client's address
        and scheme from X-Forwarded-For and X-Forwarded-Proto, and Django trusts the latter (BEHIND_TLS_PROXY)."""
        self._tmp = None if workdir else tempfile.TemporaryDirectory(prefix="tccc-live-")
        self.workdir = Path(workdir or self._tmp.name)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "SQLITE_PATH": str(self.workdir / "db.sqlite3"), "TCCC_SWEEPER": "1",
                    "PYTHONUNBUFFERED": "1", **({"BEHIND_TLS_PROXY": "1"} if behind_proxy else {}), **(env or {})}
        self.daphne_options = ["--proxy-headers"] if behind_proxy else []
        self.env.pop("DJANGO_SETTINGS_MODULE", None)
        self.process: subprocess.Popen | None = None
        self.demo: dict = {}

    @property
    def log_path(self) -> Path:
        return self.workdir / "daphne.log"

    def manage(self, *args: str) -> str:
        return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, check=True,
                              capture_output=True, text=True).stdout

    def start(self, demo: dict | None = None) -> "LiveServer":
        """Migrate, seed and serve; given the `demo` another process seeded, only serve (same database)."""
        if demo is None:
            self.manage("migrate", "--noinput", "-v0")
            demo = json.loads(self.manage("seed_demo").strip().splitlines()[-1])
        self.demo = demo
        return self.launch()

    def launch(self) -> "LiveServer":
        """Start daphne on this server's port and wait until it answers."""
        self.log = open(self.log_path, "a")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), *self.daphne_options,
             "workbench.asgi:application"],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited: {self.log_path.read_text()[-2000:]}")
            try:
                urllib.request.urlopen(self.url + "/", timeout=1).read()
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("daphne did not start within 30 s")

    def kill(self) -> None:
        """kill -9: the process ends mid-flight, nothing of its own shutdown runs."""
        self.process.kill()
        self.process.wait(5)
        self.log.close()

    def token(self, user_id: str) -> dict:
        request = urllib.request.Request(
            self.url + "/api/sdk-login-token", method="POST",
            data=json.dumps({"SdkAppId": self.demo["SdkAppId"], "SeatUserId": user_id}).encode(),
            headers={"Authorization": f"Bearer {self.demo['apiKey']}", "Content-Type": "application/json"})
        return json.loads(urllib.request.urlopen(request, timeout=5, context=self.ssl_context).read())

    def api(self, method: str, path: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(
            self.url + path, method=method, data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {self.demo['apiKey']}", "Content-Type": "application/json"})
        return json.loads(urllib.request.urlopen(request, timeout=5, context=self.ssl_context).read())

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if getattr(self, "log", None):
            self.log.close()
        if self._tmp:
            self._tmp.cleanup()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
