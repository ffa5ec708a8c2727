"""Channel-layer sends from database work, in commit order, without making the database thread wait.

Services publish on commit, on the one thread that does the database work. `async_to_sync(group_send)`
there would stop that thread until the event loop had run the send, and cost a task and two thread
wake-ups per event. In a running server the message is handed to the loop instead, and one task per loop
sends what it is handed in order, so events keep the order of the commits that caused them. Without a
running loop (a management command, a test calling services directly) the send happens at once.
"""
from __future__ import annotations

import asyncio
import logging
import weakref

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

# loop -> (queue, the task draining it); an entry goes with its loop.
_outboxes: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def group_send(group: str, message: dict) -> None:
    loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)  # set on threads serving sync_to_async
    if loop is not None and loop.is_running():
        loop.call_soon_threadsafe(_hand_over, group, message)
    else:
        async_to_sync(get_channel_layer().group_send)(group, message)


def _hand_over(group: str, message: dict) -> None:
    loop = asyncio.get_running_loop()
    if loop not in _outboxes:
        queue = asyncio.Queue()
        _outboxes[loop] = (queue, loop.create_task(_drain(queue)))
    _outboxes[loop][0].put_nowait((group, message))


async def _drain(queue: asyncio.Queue) -> None:
    layer = get_channel_layer()
    while True:
        group, message = await queue.get()
        try:
            await layer.group_send(group, message)
        except Exception:  # one lost event must not stop the ones after it
            logger.exception("could not send %s to %s", message.get("type"), group)
