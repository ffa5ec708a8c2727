"""What the phone-channel benchmarks share: a server with its SIP gateway, a hotline that queues at once, a
trunk that calls it, and agents that answer on their SDK sockets.

The server is `harness.live_server()` with SIP_PORT set, so the gateway runs where the product runs it: on
the media thread of the one daphne process, next to the legs it bridges. The trunk is our own SIP stack
(`media.sip.UserAgent`) in this process, calling the hotline as a carrier would: one INVITE per caller, each
from a number of its own, so the `callIn` an agent receives names the call it belongs to.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable

from harness import SdkSocket, live_server

from sessions_app.media.sip import PCMU, OutgoingCall, UserAgent, build_offer  # noqa: E402
from testing.liveserver import free_port  # noqa: E402

HOST = "127.0.0.1"
HOTLINE = "4008001234"  # digits only: the gateway matches the Request-URI's user by its digits

# Runs inside `manage.py shell -c`: a hotline without an IVR menu, straight to the demo's phone queue.
_MAKE_HOTLINE = """
from sessions_app.models import Hotline, SkillGroup, Tenant
tenant = Tenant.objects.get(sdk_app_id={sdk_app_id!r})
Hotline.objects.create(tenant=tenant, number={number!r}, skill_group=SkillGroup.objects.get(pk={group}))
"""


def sip_server():
    """A live server (context manager) whose gateway listens for the trunk on 127.0.0.1:`sip_port`."""
    sip_port = free_port()
    live = live_server()
    # One trunk address calls at the benchmark's rate: the per-source INVITE limit must not be what is measured.
    live.env.update({"SIP_PORT": str(sip_port), "SIP_HOST": HOST, "MEDIA_HOST_ADDRESSES": HOST,
                     "SIP_INVITE_RATE": "1000", "SIP_INVITE_BURST": "1000"})
    live.sip_port = sip_port
    return live


def make_hotline(live, number: str = HOTLINE) -> str:
    """A hotline that queues its callers in the demo's phone skill group at once (no IVR)."""
    live.manage("shell", "-c", _MAKE_HOTLINE.format(sdk_app_id=live.demo["SdkAppId"], number=number,
                                                  group=live.demo["skillGroups"]["phone"]))
    return number


def caller_number(index: int) -> str:
    """A caller's own number, so the agent's callIn (its callerPhoneNumber) says which call it is."""
    return f"0086139{index:08d}"


class Trunk:
    """The carrier's side: a SIP user agent in this process calling the hotline."""

    def __init__(self, live, hotline: str):
        self.target = f"sip:{hotline}@{HOST}:{live.sip_port}"
        self.ua = UserAgent(HOST, 0)

    async def start(self) -> "Trunk":
        await self.ua.start()
        return self

    async def call(self, number: str, rtp_port: int) -> OutgoingCall:
        """INVITE the hotline as `number`, offering PCMU only (so both legs speak it: no transcoding) with our
        media at `rtp_port`. Returns as soon as the INVITE is sent."""
        offer = build_offer(HOST, rtp_port, codecs=(PCMU,))
        return await self.ua.invite(self.target, f"sip:{number}@{HOST}:{self.ua.port}", self.target, offer,
                                    timeout=60)

    async def close(self) -> None:
        await self.ua.close()


class Agent:
    """An agent's SDK socket: requests awaited by id, every event handed to `on_event(agent, frame, at)`
    with `at` the `perf_counter()` of its arrival."""

    def __init__(self, sdk: SdkSocket, on_event: Callable[["Agent", dict, float], None]):
        self.sdk = sdk
        self.on_event = on_event
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future] = {}
        self.reader = asyncio.get_running_loop().create_task(self._read())

    async def request(self, method: str, params: dict, timeout: float = 15) -> dict:
        """Send a request; its reply (raises RuntimeError when the reply is not a success)."""
        request_id = next(self._ids)
        self._waiting[request_id] = reply = asyncio.get_running_loop().create_future()
        await self.sdk.ws.send(json.dumps({"id": request_id, "method": method, "params": params}))
        frame = await asyncio.wait_for(reply, timeout)
        if frame.get("status") != "success":
            raise RuntimeError(f"{method}: {frame.get('errorMsg') or frame}")
        return frame

    async def _read(self) -> None:
        async for text in self.sdk.ws:
            at = time.perf_counter()
            frame = json.loads(text)
            if frame.get("type") == "reply":
                reply = self._waiting.pop(frame.get("id"), None)
                if reply is not None and not reply.done():
                    reply.set_result(frame)
            elif frame.get("type") == "event":
                self.on_event(self, frame, at)

    async def close(self) -> None:
        await self.sdk.ws.close()
        try:
            await asyncio.wait_for(self.reader, 5)
        except (asyncio.TimeoutError, Exception):
            self.reader.cancel()


def at_least(value: float, target: float) -> str:
    """The verdict for a figure that must reach its target (a rate), not stay under it."""
    return "meets target" if value >= target else "MISSES target"
