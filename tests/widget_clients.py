"""The customers' sockets as the widgets open them, over Channels' test communicator: the chat widget's
(/ws/visitor/) and the call widget's (/ws/call/). Both speak `{"id", "action", ...}` requests."""
from __future__ import annotations

import json

from channels.testing import WebsocketCommunicator

from .conftest import ORIGIN, SdkClient, socket_headers

OFFER = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"  # starts like an SDP, has no audio


class WidgetClient(SdkClient):
    """A widget's connection: `request(action, **fields)` → reply; events as SdkClient collects them."""

    @classmethod
    async def open(cls, path: str, query: str, origin: str, address: str):
        """Connect from `address` with the page's `origin`; `connected` says whether the socket was accepted."""
        from workbench.asgi import application

        communicator = WebsocketCommunicator(application, f"{path}?{query}", headers=socket_headers(origin))
        communicator.scope["client"] = [address, 50000]
        connected, _ = await communicator.connect()
        client = cls(communicator)
        client.connected = connected
        if connected:
            client.welcome = await client.frame()
        return client

    async def request(self, action: str, **fields) -> dict:
        self.next_id += 1
        frame = {"id": self.next_id, "action": action, **fields}
        await self.communicator.send_to(text_data=json.dumps(frame, ensure_ascii=False))
        return await self.reply(self.next_id)


class VisitorClient(WidgetClient):
    """The chat widget's socket."""

    @classmethod
    async def connect(cls, token: str | None = None, origin: str = ORIGIN, sdk_app_id: str = "1400000001",
                      visitor_id: str = "", address: str = "127.0.0.1"):
        query = (f"sdkAppId={sdk_app_id}" + (f"&visitorToken={token}" if token else "")
                 + (f"&visitorId={visitor_id}" if visitor_id else ""))
        return await cls.open("/ws/visitor/", query, origin, address)

    async def start(self, **fields) -> dict:
        reply = await self.request("start", **{"nickname": "Ann", **fields})
        assert reply["status"] == "success", reply
        return reply["data"]

    async def send(self, text: str, **fields) -> dict:
        return await self.request("send", text=text, **fields)


class CallerClient(WidgetClient):
    """The call widget's socket."""

    @classmethod
    async def connect(cls, origin: str = ORIGIN, sdk_app_id: str = "1400000001", visitor_id: str = ""):
        query = f"sdkAppId={sdk_app_id}" + (f"&visitorId={visitor_id}" if visitor_id else "")
        return await cls.open("/ws/call/", query, origin, "203.0.113.7")
