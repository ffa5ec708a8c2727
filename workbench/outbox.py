"""The process's outbox on the server's loop: the sends services hand over (`services/outbox.py`) leave from
one task, in the order handed. Agent events handed over together (one commit's, or a few commits' under load)
for the same agent leave as one channel-layer message, `agent.frames`: hanging up a call tells the agent
`sessionEnded` and `sessionCompleted`, and one message instead of two saves two Redis round trips when sent
and four when received.
"""
from __future__ import annotations

import asyncio
import logging

from channels.layers import get_channel_layer

from sessions_app.services import outbox

logger = logging.getLogger(__name__)

FRAMES = ("agent.frame", "agent.frames")


class Outbox:
    def __init__(self):
        self.queue: asyncio.Queue | None = None
        self.drainer: asyncio.Task | None = None

    def hand_over(self, group: str, message: dict) -> None:
        """Called on the loop: the message leaves after those handed before it."""
        if self.drainer is None or self.drainer.done():
            self.queue = asyncio.Queue()
            self.drainer = asyncio.get_running_loop().create_task(self._drain(self.queue))
        self.queue.put_nowait((group, message))

    @staticmethod
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


def serve_on(loop: asyncio.AbstractEventLoop) -> Outbox:
    """Services' sends from threads serving `loop` leave through one outbox on it."""
    box = Outbox()
    outbox.serve_on(loop, box.hand_over)
    return box


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
