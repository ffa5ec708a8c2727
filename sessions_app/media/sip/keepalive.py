"""OPTIONS pings to a trunk, to know whether it is up (RFC 3261 §11; the habit of Asterisk's `qualify`).

Any response at all, even 404 or 405, means the trunk is there; only silence (a made-up 408 after 64*T1) or
a transport error means it is not. `on_change(alive)` is called on the first answer and on every change.
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Callable

from .fields import SipUri

if TYPE_CHECKING:
    from .ua import UserAgent

log = logging.getLogger(__name__)


class KeepAlive:
    def __init__(self, ua: UserAgent, target: SipUri, every: float, on_change: Callable[[bool], None] | None):
        self._ua = ua
        self.target, self.every, self.on_change = target, every, on_change
        self.alive: bool | None = None
        self.last_status: int | None = None
        self._task = ua._spawn(self._run())

    async def probe(self) -> bool:
        """Ping once now; returns whether the target answered."""
        response = await self._ua.options(self.target)
        self.last_status = response.status
        alive = not response.local
        if alive != self.alive:
            self.alive = alive
            log.info("SIP: %s is %s", self.target, "up" if alive else "down")
            if self.on_change is not None:
                self.on_change(alive)
        return alive

    def stop(self) -> None:
        self._task.cancel()

    async def _run(self) -> None:
        while True:
            try:
                await self.probe()
            except Exception:
                log.exception("SIP: keepalive probe of %s failed", self.target)
            await asyncio.sleep(self.every)
