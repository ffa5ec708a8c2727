"""The engine on a thread of its own with its own event loop: the embedded default (no Redis).

Media never runs on the web process's loop, where a burst of RTP work would delay every websocket reply;
here the web side's coroutines wait on the media loop's futures instead.
"""
from __future__ import annotations

import asyncio
import logging
import threading

from .engine import MediaEngine


log = logging.getLogger(__name__)


def _log_failure(future) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("media command failed", exc_info=future.exception())


class EmbeddedMedia:
    def __init__(self, host_addresses: list[str] | None = None):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="media", daemon=True)
        self.thread.start()
        self.engine = asyncio.run_coroutine_threadsafe(self._engine(host_addresses), self.loop).result()

    @staticmethod
    async def _engine(host_addresses):
        return MediaEngine(host_addresses)

    async def perform(self, command: str, args: dict) -> dict:
        """Run a command on the media loop; awaitable from any other loop."""
        future = asyncio.run_coroutine_threadsafe(self.engine.perform(command, args), self.loop)
        return await asyncio.wrap_future(future)

    def run(self, coroutine, timeout: float = 10):
        """Run a coroutine of the media layer's own on the media loop and wait for it (from another thread)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def submit(self, command: str, args: dict) -> None:
        """Run a command without waiting for it (from a commit hook); a failure is logged."""
        future = asyncio.run_coroutine_threadsafe(self.engine.perform(command, args), self.loop)
        future.add_done_callback(_log_failure)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.engine.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
