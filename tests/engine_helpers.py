"""Driving the media engine directly in tests, as `services.media` drives it: join a peer's leg, apply a plan,
wait for what a peer hears."""
from __future__ import annotations

import asyncio

from sessions_app.media.engine import MediaEngine
from testing.peers import Peer
from testing.polling import until  # noqa: F401 (the media tests import it from here)


def near(hz: float, target: float, tolerance: float = 15) -> bool:
    return abs(hz - target) <= tolerance


def hears(peer: Peer, hz: float) -> bool:
    """The peer's last 0.3 s are dominated by `hz` (0: silence)."""
    return peer.ear is not None and near(peer.ear.hears(0.3), hz, 15 if hz else 0)


async def join(engine: MediaEngine, call_id: str, leg_id: str, peer: Peer, plan: dict | None = None) -> dict:
    """Open the peer's leg as a browser does: offer, apply the answer, wait for the connection."""
    args = {"call_id": call_id, "leg_id": leg_id, "sdp": await peer.offer()}
    if plan is not None:
        args["plan"] = plan
    answer = await engine.perform("open_leg", args)
    await peer.accept_answer(answer["sdp"])
    await asyncio.wait_for(peer.connected.wait(), 5)
    return answer


async def plan(engine: MediaEngine, call_id: str, **plan) -> None:
    await engine.perform("apply_plan", {"call_id": call_id, "plan": plan})
