"""What the JSON websockets (SDK, visitor) share: reading a request, replying, sending events, and dispatch
without a database hop."""
from __future__ import annotations

import json
import logging

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer

from ..domain import protocol
from ..services.errors import ServiceError

log = logging.getLogger(__name__)


def too_big(text: str, limit: int) -> bool:
    # Characters are at most 4 bytes in UTF-8: encode only frames that could be over the limit.
    return len(text) > limit or (len(text) > limit // 4 and len(text.encode("utf-8")) > limit)


class JsonFramesConsumer(AsyncWebsocketConsumer):
    """Subclasses set `max_frame` and implement `perform(frame)`: the cleaned request's answer (`data`)."""

    max_frame = 64 * 1024

    async def answer(self, text_data, refusal: str = "") -> None:
        """Read one request frame, perform it, reply; every refusal is an error reply and the socket stays.
        With `refusal`, the request is not carried out: its reply is that error."""
        request_id = None
        try:
            if text_data is None or too_big(text_data, self.max_frame):
                raise protocol.ProtocolError(f"a request must be a JSON text frame of at most {self.max_frame} bytes")
            frame = protocol.decode_json(text_data, check_unicode=False)
            request_id = protocol.request_id(frame)  # read first, so even a refused request's reply carries it
            if refusal:
                raise protocol.ProtocolError(refusal)
            protocol.require_unicode(frame)
            data = await self.perform(frame)
        except (protocol.ProtocolError, ServiceError) as error:
            await self.reply(request_id, errorMsg=str(error))
            return
        except Exception:
            log.exception("%s request failed", type(self).__name__)
            await self.reply(request_id, errorMsg="internal error: the request was not carried out")
            return
        await self.reply(request_id, data=data)

    async def perform(self, frame: dict):
        raise NotImplementedError
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
