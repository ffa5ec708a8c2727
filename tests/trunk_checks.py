"""What the phone tests check on our side of a trunk call: where its RTP goes (a counting UDP port in place of
the caller's phone), whether its RTP port is free again, and how its session ended."""
from __future__ import annotations

import socket
import threading
import time

from .browser import live_shell
from testing.liveserver import LiveServer


class RtpSink:
    """The address a stranger's SDP names: a UDP port that counts what arrives and remembers from where."""

    def __init__(self):
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(0.05)
        self.port = self.socket.getsockname()[1]
        self.packets, self.sources, self.last_at = 0, set(), time.monotonic()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._count, name="rtp-sink", daemon=True)
        self.thread.start()

    def _count(self) -> None:
        while not self.stopped.is_set():
            try:
                _, source = self.socket.recvfrom(2048)
            except socket.timeout:
                continue
            self.packets += 1
            self.sources.add(source[1])
            self.last_at = time.monotonic()

    def quiet_for(self, seconds: float) -> bool:
        return time.monotonic() - self.last_at >= seconds

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(2)
        self.socket.close()


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def phone_sessions(server: LiveServer, last: int, caller: str = "") -> list[tuple[str, str, str]]:
    """(state, endStatus, closeBy) of the last `last` phone sessions (of `caller`'s calls only, if given)."""
    printed = live_shell(server, "from sessions_app.models import Session\n"
                                 "calls = Session.objects.filter(type='phone', "
                                 f"caller_phone_number__contains={caller!r})\n"
                                 f"for s in calls.order_by('-created_at')[:{last}]:\n"
                                 "    print(s.state, s.end_status or '-', s.close_by or '-')")
    return [tuple(line.split()) for line in printed.strip().splitlines()]
