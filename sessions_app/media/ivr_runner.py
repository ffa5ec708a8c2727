"""One caller's way through the IVR, played on their phone leg: prompts out, keys in, `domain.ivr` deciding.

A key pressed during a prompt stops it (barge-in) and counts. Where the caller ends up (a queue, or goodbye)
is told to the web side through the gateway's `decisions`, in a thread.
"""
from __future__ import annotations

import asyncio
import contextlib

from ..domain import ivr


class IvrRunner:
    def __init__(self, gateway, session_id: str, tenant_id: int, start_menu: int):
        self.gateway, self.session_id, self.tenant_id, self.start_menu = gateway, session_id, tenant_id, start_menu
        self.keys: asyncio.Queue[str] = asyncio.Queue()
        self.run_: ivr.IvrRun | None = None
        self.stopped = asyncio.Event()
        self.listening = False  # a key stops the prompt only while a menu waits for one (not during goodbyes)

    @property
    def path(self) -> list[dict]:
        return list(self.run_.path) if self.run_ else []

    def pressed(self, digit: str) -> None:
        self.keys.put_nowait(digit)
        if self.listening:
            self.gateway.hush(self.session_id)

    def stop(self) -> None:
        self.stopped.set()

    async def run(self) -> None:
        decisions = self.gateway.decisions
        menus, files = await asyncio.to_thread(decisions.ivr_menus, self.tenant_id)
        self.run_ = ivr.IvrRun(menus, self.start_menu)
        step = self.run_.begin()
        while not self.stopped.is_set():
            if isinstance(step, ivr.Route):
                self.gateway.ivrs.pop(self.session_id, None)  # from now on keys are the agent's business
                await asyncio.to_thread(decisions.ivr_chosen, self.session_id, step.skill_group, self.path)
                return
            if isinstance(step, ivr.GiveUp):
                await self._hear(self.gateway.say(self.session_id, step.say))
                await asyncio.to_thread(decisions.ivr_gave_up, self.session_id, self.path)
                await self.gateway.hang_up(self.session_id)
                return
            if step.say:
                await self._hear(self.gateway.say(self.session_id, step.say))
            key = await self._ask(step.menu, files.get(step.menu.id, ""))
            step = self.run_.press(key) if key else self.run_.timed_out()

    async def _ask(self, menu: ivr.Menu, audio_file: str) -> str | None:
        """Play the menu's prompt and return the key pressed (during it or within the timeout), or None."""
        finished = await self.gateway.say(self.session_id, menu.prompt, audio_file)
        self.listening = True
        key = asyncio.ensure_future(self.keys.get())
        heard = asyncio.ensure_future(finished.wait())
        stopped = asyncio.ensure_future(self.stopped.wait())
        try:
            await asyncio.wait({key, heard, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if not key.done() and not stopped.done():
                await asyncio.wait({key, stopped}, timeout=menu.timeout, return_when=asyncio.FIRST_COMPLETED)
            if key.done():
                self.gateway.hush(self.session_id)  # the key may have come before the prompt began
                return key.result()
            return None
        finally:
            self.listening = False
            for waiter in (key, heard, stopped):
                if not waiter.done():
                    waiter.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await waiter

    async def _hear(self, prompt) -> None:
        """Say something to the end (no barge-in for apologies and goodbyes), unless the call ends."""
        finished = await prompt
        heard = asyncio.ensure_future(finished.wait())
        stopped = asyncio.ensure_future(self.stopped.wait())
        await asyncio.wait({heard, stopped}, return_when=asyncio.FIRST_COMPLETED)
        for waiter in (heard, stopped):
            waiter.cancel()
