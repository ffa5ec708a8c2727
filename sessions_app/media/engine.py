"""The bridge's command surface: every change to media is one of these commands, whoever sends it.

The web side reaches the engine through `services.media` — on a thread of this process (`embedded.py`) or
in a media worker over the channel layer (`remote.py`); both carry the same commands and the same JSON-able
arguments and results, so what a test proves on one holds for the other.
"""
from __future__ import annotations

import asyncio
import logging

from ..domain.ice import IceSettings
from . import patches
from .call import Call, Plan
from .encoded import forwarding_default
from .ice import leg_configuration
from .leg import Leg, LegError
from .rtp_commands import RtpCommands

log = logging.getLogger(__name__)


class MediaEngine(RtpCommands):
    """Web legs (this module) and phone legs (`RtpCommands`) in calls; `gateway`, when this engine also
    carries the SIP trunk (`phone_gateway.PhoneGateway`), places outbound calls and hangs up phone calls
    whose session ends."""

    def __init__(self, host_addresses: list[str] | None = None, ice: IceSettings | None = None,
                 forwarding: bool | None = None):
        patches.install()
        # pass on what a leg only relays encoded (media/call.py); None: as the MEDIA_FORWARDING setting says
        self.forwarding = forwarding_default() if forwarding is None else forwarding
        self.ice = ice  # the deployment's STUN and TURN servers for the web legs; None: none
        if host_addresses:
            patches.only_addresses(host_addresses)
            self.rtp_host = host_addresses[0]
        self.calls: dict[str, Call] = {}
        self.gateway = None

    async def perform(self, command: str, args: dict) -> dict:
        handler = self.COMMANDS.get(command)
        if handler is None:
            raise LegError(f"unknown media command {command!r}")
        return await handler(self, **args)

    async def open_leg(self, call_id: str, leg_id: str, sdp: str, plan: dict | None = None,
                       prefer_codec: str = "") -> dict:
        """Answer a browser's offer for one leg of a call; a leg re-offered (a reload) replaces the old.

        The web side passes the call's plan as of now, and the leg must be one of its members (without a plan,
        as in the engine's own tests, the current plan stays and any leg may join)."""
        parsed = Plan.from_dict(plan) if plan is not None else None  # a plan it cannot read changes nothing
        call = self.calls.setdefault(call_id, Call(call_id, self.forwarding))
        if parsed is not None:
            call.plan = parsed
        if parsed is not None and leg_id not in call.plan.members:
            self._forget_if_empty(call)
            raise LegError(f"{leg_id} is not a party to call {call_id}")
        old = call.legs.pop(leg_id, None)
        if old is not None:
            await old.close()
        if not prefer_codec:
            prefer_codec = next((leg.audio_codec for leg in call.legs.values() if leg.audio_codec), "")
        leg = Leg(leg_id, on_change=lambda changed: self._changed(call, changed),
                  configuration=leg_configuration(self.ice, leg_id))
        call.legs[leg_id] = leg
        try:
            answer = await leg.answer(sdp, prefer_codec)
        except BaseException:
            call.legs.pop(leg_id, None)
            await leg.close()
            self._forget_if_empty(call)
            raise
        call.rewire()
        return {"sdp": answer, "codec": leg.audio_codec}

    async def close_leg(self, call_id: str, leg_id: str) -> dict:
        call = self.calls.get(call_id)
        leg = call.legs.pop(leg_id, None) if call else None
        if leg is not None:
            await leg.close()
            call.rewire()
            self._forget_if_empty(call)
        return {"closed": leg is not None}

    async def apply_plan(self, call_id: str, plan: dict) -> dict:
        """Make the call what `plan` says: legs no longer in it are closed, the others re-pointed."""
        call = self.calls.get(call_id)
        if call is None:
            return {"legs": []}  # no leg has connected yet: the plan comes again with the first one
        call.plan = Plan.from_dict(plan)
        leaving = [call.legs.pop(leg_id) for leg_id in set(call.legs) - call.plan.members]
        call.rewire()  # first: who heard a leaving leg hears its successor now, not after the leg has closed
        for leg in leaving:
            await leg.close()
        self._forget_if_empty(call)
        if self.gateway is not None:  # a consult's phone leg the plan no longer names: its SIP call is hung up
            await self.gateway.plan_applied(call_id, call.plan)
        return {"legs": sorted(call.legs)}

    async def end_call(self, call_id: str) -> dict:
        call = self.calls.pop(call_id, None)
        finishing = call.stop_recording() if call else None
        if call is not None:
            call.close()
        for leg in list(call.legs.values()) if call else ():
            await leg.close()
        if finishing is not None:
            await asyncio.shield(finishing)  # an orderly end: the file is finished before the call is over
        if self.gateway is not None:
            await self.gateway.hang_up(call_id)
        return {"ended": call is not None}

    async def dial(self, call_id: str, **call) -> dict:
        """Place an outbound phone call through the trunk (see `PhoneGateway.dial`)."""
        if self.gateway is None:
            raise LegError("this media engine has no SIP trunk")
        return await self.gateway.dial(call_id, **call)

    async def stats(self) -> dict:
        return {"calls": {call.id: {leg.id: call.leg_stats(leg) for leg in call.legs.values()}
                          for call in self.calls.values()}}

    async def close(self) -> None:
        """End every call (phone calls get their BYE) and stop answering the trunk."""
        for call_id in list(self.calls):
            await self.end_call(call_id)
        if self.gateway is not None:
            await self.gateway.close()

    def _changed(self, call: Call, leg: Leg) -> None:
        """A leg got a track, or its connection failed: a failed leg (a browser gone without a word) is closed
        and dropped, so it holds no port or thread; its page may connect a new one."""
        if self.calls.get(call.id) is not call:
            return
        if leg.state == "failed" and call.legs.get(leg.id) is leg:
            del call.legs[leg.id]
            asyncio.get_running_loop().create_task(leg.close())
        call.rewire()

    def _forget_if_empty(self, call: Call) -> None:
        if not call.legs and self.calls.get(call.id) is call:
            call.close()
            del self.calls[call.id]
            call.stop_recording()

    COMMANDS = {"open_leg": open_leg, "close_leg": close_leg, "apply_plan": apply_plan, "end_call": end_call,
                "stats": stats, "dial": dial, **RtpCommands.RTP_COMMANDS}
