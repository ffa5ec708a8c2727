"""The engine on a thread of its own with its own event loop: the embedded default (no Redis).

Media never runs on the web process's loop, where a burst of RTP work would delay every websocket reply;
here the web side's coroutines wait on the media loop's futures instead.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import logging
import threading

from ..domain.ice import IceSettings
from .commands import MediaCommands
from .engine import MediaEngine
from .event_loop import new_media_loop


log = logging.getLogger(__name__)


def _log_failure(future) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("media command failed", exc_info=future.exception())


class EmbeddedMedia(MediaCommands):
    def __init__(self, host_addresses: list[str] | None = None, ice: IceSettings | None = None):
        self.loop = new_media_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="media", daemon=True)
        self.thread.start()
        self.engine = self._start(self._engine(host_addresses, ice)).result()

    def _start(self, coroutine) -> concurrent.futures.Future:
        """Start a coroutine on the media loop in a context of its own. The caller's context (say, the web
        side's database thread, inside Django's sync_to_async) must not follow the media work: there it would
        make asgiref take the media loop's calls back to the database for a deadlock and refuse them."""
        return contextvars.Context().run(asyncio.run_coroutine_threadsafe, coroutine, self.loop)

    @staticmethod
    async def _engine(host_addresses, ice):
        return MediaEngine(host_addresses, ice)

    async def perform(self, command: str, args: dict) -> dict:
        """Run a command on the media loop; awaitable from any other loop."""
        return await asyncio.wrap_future(self._start(self.engine.perform(command, args)))

    def run(self, coroutine, timeout: float = 10):
        """Run a coroutine of the media layer's own on the media loop and wait for it (from another thread)."""
        return self._start(coroutine).result(timeout)

    def submit(self, command: str, args: dict) -> None:
        """Run a command without waiting for it (from a commit hook); a failure is logged."""
        self._start(self.engine.perform(command, args)).add_done_callback(_log_failure)

    def calls_here(self) -> int:
        return len(self.engine.calls)

    def stop(self) -> None:
        self._start(self.engine.close()).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
