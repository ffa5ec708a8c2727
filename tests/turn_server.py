"""A real TURN server for tests (Debian's coturn): on free loopback ports, with coturn's TURN REST API
credentials (`use-auth-secret` and a static secret), logging every allocation to a file the test reads.

No TLS, and loopback peers allowed (`--allow-loopback-peers`), because the media bridge it relays to listens on
127.0.0.1 here; deploy/turnserver.conf is the configuration for a deployment.
"""
from __future__ import annotations

import random
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from testing.liveserver import free_port

RELAY_PORTS = 60
# "session 000000000000000001: peer usage: realm=<tccc.test>, username=<1796482719:caller-1a2b>, rp=3, rb=276, ..."
PEER_USAGE = re.compile(r"peer usage: realm=<[^>]*>, username=<(?P<username>[^>]*)>, rp=(?P<rp>\d+), rb=(?P<rb>\d+), "
                        r"sp=(?P<sp>\d+), sb=(?P<sb>\d+)")
ALLOCATED = re.compile(r"user <(?P<username>[^>]*)>: incoming packet ALLOCATE processed, success")
OPENED = re.compile(r"session (?P<session>\d+): new, realm=<[^>]*>, username=<(?P<username>[^>]*)>")
DELETED = re.compile(r"session (?P<session>\d+): delete: realm=")


def free_udp_range(count: int) -> int:
    """The first of `count` consecutive UDP ports free on 127.0.0.1 (coturn's relay range)."""
    for _ in range(50):
        first = random.randrange(20000, 60000 - count)
        sockets = []
        try:
            for port in range(first, first + count):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError(f"no {count} consecutive free UDP ports")


class TurnServer:
    """coturn on 127.0.0.1 with its settings on the command line; or, given `config`, with that file's settings
    and only where to listen, log and relay from, the secret and `extra` on the command line (which wins)."""

    def __init__(self, secret: str = "turn-test-secret", realm: str = "tccc.test", config: Path | None = None,
                 extra: tuple[str, ...] = ()):
        self.secret, self.realm, self.config, self.extra = secret, realm, config, extra
        self.port = free_port()
        self.url = f"turn:127.0.0.1:{self.port}"
        self.folder = Path(tempfile.mkdtemp(prefix="tccc-turn-"))
        self.log_path = self.folder / "turn.log"
        self.process: subprocess.Popen | None = None
        self.log_file = None  # coturn's stdout (log-file=stdout, as deploy/turnserver.conf logs)

    def start(self) -> "TurnServer":
        first = free_udp_range(RELAY_PORTS)
        self.log_file = self.log_path.open("wb")
        if self.config is None:
            settings = ["-n", "--use-auth-secret", f"--realm={self.realm}", "--allow-loopback-peers", "--no-cli",
                        "--no-dtls", "--fingerprint"]
        else:
            settings = ["-c", str(self.config)]
        self.process = subprocess.Popen(
            ["turnserver", *settings, "--verbose", "--listening-ip=127.0.0.1", f"--listening-port={self.port}",
             "--relay-ip=127.0.0.1", f"--min-port={first}", f"--max-port={first + RELAY_PORTS - 1}",
             f"--static-auth-secret={self.secret}", "--no-tls", "--log-file=stdout",
             f"--userdb={self.folder / 'turndb'}", f"--pidfile={self.folder / 'turnserver.pid'}", *self.extra],
            stdout=self.log_file, stderr=subprocess.STDOUT)
        try:
            self.wait_for(lambda log: "Total General servers" in log, "coturn started", timeout=10)
        except BaseException:
            self.stop()
            raise
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for(self, done, what: str, timeout: float = 10.0):
        """Wait until `done(log text)` is truthy and return it; fail naming `what` (and the log's end)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"turnserver exited with {self.process.returncode}: {self.log()[-2000:]}")
            result = done(self.log())
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"coturn: not within {timeout} s: {what}; its log ends:\n{self.log()[-3000:]}")
            time.sleep(0.05)

    def allocations(self, log: str | None = None) -> list[str]:
        """The usernames of every successful allocation so far."""
        return [m["username"] for m in ALLOCATED.finditer(self.log() if log is None else log)]

    def open_allocations(self, log: str | None = None) -> list[str]:
        """The usernames of the allocations made and not yet deleted."""
        log = self.log() if log is None else log
        deleted = {m["session"] for m in DELETED.finditer(log)}
        return [m["username"] for m in OPENED.finditer(log) if m["session"] not in deleted]

    def peer_usage(self, log: str | None = None) -> list[dict]:
        """Per closed allocation: its username and the packets/bytes relayed from (rp, rb) and to (sp, sb) its peers."""
        return [{"username": m["username"], **{k: int(m[k]) for k in ("rp", "rb", "sp", "sb")}}
                for m in PEER_USAGE.finditer(self.log() if log is None else log)]

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(5)
        if self.log_file is not None:
            self.log_file.close()
        shutil.rmtree(self.folder, ignore_errors=True)
