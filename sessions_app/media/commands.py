"""The engine's commands by name, for a backend that carries them (`embedded.py` on this process's media
thread, `remote.py` in media workers): what `services.media.MediaBackend` declares.

A backend supplies `perform` (send a command and await its answer) and `submit` (send it from synchronous code, a
commit hook, without waiting); the named commands here are built on those two. Nothing here needs aiortc, so
services can import it.
"""
from __future__ import annotations


class LegError(ValueError):
    """An offer the bridge cannot answer, or a command it cannot carry out; its message goes back to the browser."""


class MediaCommands:
    async def open_leg(self, call_id: str, leg_id: str, sdp: str, plan: dict) -> dict:
        return await self.perform("open_leg", {"call_id": call_id, "leg_id": leg_id, "sdp": sdp, "plan": plan})

    async def close_leg(self, call_id: str, leg_id: str) -> None:
        await self.perform("close_leg", {"call_id": call_id, "leg_id": leg_id})

    def apply_plan(self, call_id: str, plan: dict) -> None:
        self.submit("apply_plan", {"call_id": call_id, "plan": plan})

    def end_call(self, call_id: str) -> None:
        self.submit("end_call", {"call_id": call_id})

    def send_digits(self, call_id: str, leg_id: str, digits: str) -> None:
        self.submit("send_digits", {"call_id": call_id, "leg_id": leg_id, "digits": digits})

    def dial(self, call_id: str, **call) -> None:
        self.submit("dial", {"call_id": call_id, **call})
