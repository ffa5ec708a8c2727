"""The agent's audio leg in tests without a browser: an aiortc peer (testing/peers.py) joining a session over the
agent's SDK socket, as the SDK does with `Media.connect`."""
from __future__ import annotations

from testing.peers import Peer

from .engine_helpers import hears
from .ws_clients import Socket, until


async def connect_leg(agent: Socket, session_id: str, peer: Peer) -> None:
    """`peer` offers through `Media.connect` and takes the bridge's answer."""
    answer = await agent.request(method="Media.connect", params={"sessionId": session_id, "sdp": await peer.offer()})
    assert answer["status"] == "success", answer
    await peer.accept_answer(answer["data"]["sdp"])


async def accept_hearing(agent: Socket, session_id: str, peer: Peer, hz: int, what: str) -> None:
    """The agent's leg joins, the agent accepts the call, and the leg hears the caller's `hz` tone."""
    await connect_leg(agent, session_id, peer)
    assert (await agent.request(method="Call.accept", params={"sessionId": session_id}))["status"] == "success"
    await until(lambda: hears(peer, hz), what)
