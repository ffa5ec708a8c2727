"""What the JSON websockets (SDK, visitor) share: reply and event frames, and dispatch without a database hop."""
from __future__ import annotations

import json

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer


class JsonFramesConsumer(AsyncWebsocketConsumer):
    async def dispatch(self, message):
        # Channels runs close_old_connections() on the database thread before every handler. These consumers
        # reach the database only through database_sync_to_async, which does the same around each call, so the
        # extra hop would only make every event wait behind the writes queued on that thread.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"no handler for message type {message['type']}")
        await handler(message)

    async def reply(self, request_id, data=None, errorMsg=None):
        frame = {"type": "reply", "id": request_id, "status": "error" if errorMsg else "success"}
        if errorMsg:
            frame["errorMsg"] = errorMsg
        elif data is not None:
            frame["data"] = data
        await self.send_frame(frame)

    async def send_frame(self, frame: dict):
        await self.send(text_data=json.dumps(frame, separators=(",", ":"), ensure_ascii=False))
