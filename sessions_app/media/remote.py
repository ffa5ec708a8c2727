"""Media engines in worker processes, driven over the channel layer (Redis): both ends of that conversation.

A command is `{"type": "media.command", "command", "args", "reply_to"?}` sent to the worker's channel; the
worker answers `{"type": "media.reply", "ok", "result" | "error"}` on `reply_to`. Commands and answers are
the engine's own (`engine.MediaEngine.COMMANDS`), so the embedded engine and a worker behave alike.
"""
from __future__ import annotations

import asyncio
import logging
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from .commands import MediaCommands
from .engine import MediaEngine
from .leg import LegError

log = logging.getLogger(__name__)

ANSWER_WITHIN = 10.0  # seconds; an offer's answer takes milliseconds, a worker this late is taken as gone


class RemoteMedia(MediaCommands):
    """The web side: send each call's commands to the worker that carries it.

    `channel_for(call_id, assign)` names the worker's channel (choosing a worker for a new call when `assign`),
    or returns "" when the call has none."""

    def __init__(self, channel_for):
        self.channel_for = channel_for

    async def perform(self, command: str, args: dict) -> dict:
        from channels.db import database_sync_to_async

        channel = await database_sync_to_async(self.channel_for)(args.get("call_id", ""), command == "open_leg")
        if not channel:
            raise LegError("this call has no media")
        layer = get_channel_layer()
        # A plain channel, not new_channel()'s process-specific kind: those share one receive loop with this
        # process's consumers, and a receive abandoned at its deadline must not disturb theirs.
        reply_to = f"media-reply.{uuid.uuid4().hex}"
        await layer.send(channel, {"type": "media.command", "command": command, "args": args, "reply_to": reply_to})
        try:
            reply = await asyncio.wait_for(layer.receive(reply_to), ANSWER_WITHIN)
        except asyncio.TimeoutError:
            raise LegError(f"the media worker did not answer within {ANSWER_WITHIN:.0f} s") from None
        if not reply.get("ok"):
            raise LegError(reply.get("error") or "the media worker refused")
        return reply["result"]

    def submit(self, command: str, args: dict) -> None:
        """Send without waiting for the answer (from a commit hook, synchronous code)."""
        channel = self.channel_for(args.get("call_id", ""), False)
        if channel:
            async_to_sync(get_channel_layer().send)(channel, {"type": "media.command", "command": command,
                                                              "args": args})

    def calls_here(self) -> int:
        return 0  # every call is a worker's


class WorkerLoop:
    """The worker side: receive commands on this worker's channel and run each on the engine."""

    def __init__(self, engine: MediaEngine):
        self.engine = engine
        self.layer = get_channel_layer()
        self.channel = ""
        self.tasks: set[asyncio.Task] = set()

    async def open(self, worker_id: str) -> str:
        self.channel = f"media-worker.{worker_id}"
        return self.channel

    async def serve(self) -> None:
        while True:
            message = await self.layer.receive(self.channel)
            if message.get("type") != "media.command":
                continue
            task = asyncio.get_running_loop().create_task(self.answer(message))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def answer(self, message: dict) -> None:
        try:
            reply = {"ok": True, "result": await self.engine.perform(message["command"], message.get("args") or {})}
        except (LegError, TypeError) as refused:
            reply = {"ok": False, "error": str(refused)}
        except Exception:
            log.exception("media command %s failed", message.get("command"))
            reply = {"ok": False, "error": "the media worker failed to carry out the command"}
        if message.get("reply_to"):
            await self.layer.send(message["reply_to"], {"type": "media.reply", **reply})
