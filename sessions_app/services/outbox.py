"""Channel-layer sends from database work, in commit order, without making the database thread wait.

Services publish on commit, on the one thread that does the database work. `async_to_sync(group_send)`
there would stop that thread until the event loop had run the send, and cost a task and two thread
wake-ups per event. On a thread serving the server's loop (`serve_on`, under daphne) the message is handed
to the loop instead, and one task sends what it is handed in order, so events keep the order of the commits
that caused them. Agent events handed over together (one commit's, or a few commits' under load) for the same
agent leave as one channel-layer message, `agent.frames`: hanging up a call tells the agent `sessionEnded` and
`sessionCompleted`, and one message instead of two saves two Redis round trips when sent and four when
received. Elsewhere (a management command, a thread of its own, tests' short-lived loops, where a
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
        handed = [await queue.get()]
        while not queue.empty():
            handed.append(queue.get_nowait())
        for group, message in coalesced(handed):
            try:
                await layer.group_send(group, message)
            except Exception:  # one lost event must not stop the ones after it
                logger.exception("could not send %s to %s", message.get("type"), group)


FRAMES = ("agent.frame", "agent.frames")


def coalesced(handed: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    """The sends, with each run of agent frames to one group (nothing else sent to that group between them) made
    one `agent.frames` message: every group gets what it got before, in the same order."""
    sends: list[tuple[str, dict]] = []
    latest: dict[str, int] = {}  # group → index in sends of the last message to it
    for group, message in handed:
        index = latest.get(group)
        if message.get("type") == "agent.frame" and index is not None and sends[index][1]["type"] in FRAMES:
            earlier = sends[index][1]
            frames = earlier["frames"] if earlier["type"] == "agent.frames" else [earlier["frame"]]
            sends[index] = (group, {"type": "agent.frames", "frames": [*frames, message["frame"]]})
        else:
            latest[group] = len(sends)
            sends.append((group, message))
    return sends
