"""Coroutines a media object starts and does not await: held until they end, their failures logged."""
from __future__ import annotations

import asyncio
import logging
from typing import Coroutine


class BackgroundTasks:
    """Tasks started without being awaited. Each is held until it ends (the event loop keeps only a weak
    reference to a task) and its failure is logged, since no one awaits it to see the exception."""

    def __init__(self, log: logging.Logger, what: str):
        self._log, self._what = log, what
        self._running: set[asyncio.Task] = set()

    def start(self, coroutine: Coroutine) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._running.add(task)
        task.add_done_callback(self._ended)
        return task

    def _ended(self, task: asyncio.Task) -> None:
        self._running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._log.error("%s failed", self._what, exc_info=task.exception())

    async def wait(self, timeout: float) -> None:
        """Wait, at most `timeout` seconds, for the tasks running now to end."""
        if self._running:
            await asyncio.wait(set(self._running), timeout=timeout)

    def cancel(self) -> None:
        """Cancel every task still running (when their owner closes)."""
        for task in list(self._running):
            task.cancel()
