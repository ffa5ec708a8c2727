"""What the phone tests check on our side of a trunk call: where its RTP goes (a counting UDP port in place of
the caller's phone), whether its RTP port is free again, and how its session ended; and an agent's outbound call
to a far end that echoes RTP (sipp -rtp_echo), heard and hung up."""
from __future__ import annotations

import socket
import threading
import time

from testing.liveserver import LiveServer
from testing.peers import Peer

from .agent_leg import connect_leg
from .browser import live_shell
from .engine_helpers import hears
from .ws_clients import open_agent, until


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


async def dial(server: LiveServer, number: str):
    """agent1's SDK socket and the session of its `startOutboundCall` to `number`."""
    agent = await open_agent(server, "agent1@demo")
    reply = await agent.request(method="Call.startOutboundCall", params={"phoneNumber": number})
    assert reply["status"] == "success", reply
    return agent, reply["data"]["sessionId"]


async def hear_the_echo_and_hang_up(agent, session_id: str, hz: int) -> None:
    """The agent's leg (a `hz` tone) joins the outbound call; once the far end answers, the agent hears its own
    tone come back through the trunk, then hangs up and closes its socket."""
    peer = Peer(hz, codec="audio/PCMU")
    await connect_leg(agent, session_id, peer)
    assert (await agent.event("calloutAccepted"))["sessionId"] == session_id
    await until(lambda: hears(peer, hz), "the agent hears its voice come back from the far end (sipp echoes RTP)")
    assert (await agent.request(method="Call.hungUp", params={"sessionId": session_id}))["status"] == "success"
    await agent.event("sessionEnded")
    await peer.close()
    await agent.ws.close()
