"""Channel-layer sends from database work, in commit order, without making the database thread wait.

Services publish on commit, on the one thread that does the database work. `async_to_sync(group_send)`
there would stop that thread until the event loop had run the send, and cost a task and two thread
wake-ups per event. On a thread serving the server's loop (`serve_on`, under daphne) the message is handed
to the loop instead, and one task sends what it is handed in order, so events keep the order of the commits
that caused them. Elsewhere (a management command, a thread of its own, tests' short-lived loops, where a
task left sending through Redis when the loop closes would hang its closing) the send happens at once.
"""
from __future__ import annotations

import asyncio
import logging

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

_server_loop: asyncio.AbstractEventLoop | None = None
_queue: asyncio.Queue | None = None
_drainer: asyncio.Task | None = None


def serve_on(loop: asyncio.AbstractEventLoop) -> None:
    """Send through the outbox on this loop (the server's, which lives as long as the process)."""
    global _server_loop
    _server_loop = loop


def group_send(group: str, message: dict) -> None:
    loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)  # set on threads serving sync_to_async
    if loop is not None and loop is _server_loop and loop.is_running():
        loop.call_soon_threadsafe(_hand_over, group, message)
    else:
        async_to_sync(get_channel_layer().group_send)(group, message)


def _hand_over(group: str, message: dict) -> None:
    global _queue, _drainer
    if _drainer is None or _drainer.done():
        _queue = asyncio.Queue()
        _drainer = asyncio.get_running_loop().create_task(_drain(_queue))
    _queue.put_nowait((group, message))


async def _drain(queue: asyncio.Queue) -> None:
    layer = get_channel_layer()
    while True:
        group, message = await queue.get()
        try:
            await layer.group_send(group, message)
        except Exception:  # one lost event must not stop the ones after it
            logger.exception("could not send %s to %s", message.get("type"), group)
