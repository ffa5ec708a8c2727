"""Raw websocket clients for tests that need no browser: an agent's SDK socket and a web caller's call socket,
with deadlines on every wait."""
from __future__ import annotations

import asyncio
import json
import time

from websockets.asyncio.client import connect

from testing.liveserver import LiveServer


class Socket:
    """A JSON request/event socket (the SDK's or the call widget's), with deadlines on every wait."""

    def __init__(self, ws, welcome: dict | None = None):
        self.ws, self.next_id, self.events, self.welcome = ws, 1, [], welcome

    async def request(self, **frame) -> dict:
        frame["id"] = self.next_id
        self.next_id += 1
        await self.ws.send(json.dumps(frame))
        while True:
            message = json.loads(await asyncio.wait_for(self.ws.recv(), 15))
            if message.get("type") == "reply" and message.get("id") == frame["id"]:
                return message
            self.events.append(message)

    async def event(self, name: str, timeout: float = 10) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for message in self.events:
                if message.get("event") == name:
                    self.events.remove(message)
                    return message["data"]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {name} event within {timeout} s; got {self.events}")
            try:
                self.events.append(json.loads(await asyncio.wait_for(self.ws.recv(), remaining)))
            except asyncio.TimeoutError:
                pass


async def open_agent(live: LiveServer, user_id: str) -> Socket:
    token = live.token(user_id)["Token"]
    url = (live.url.replace("http", "ws") + f"/ws/sdk/?token={token}&sdkAppId={live.demo['SdkAppId']}"
           f"&userId={user_id}")
    ws = await connect(url, origin=live.url)
    welcome = json.loads(await ws.recv())
    assert welcome["type"] == "welcome", welcome
    return Socket(ws, welcome)


async def open_customer(live: LiveServer) -> Socket:
    ws = await connect(live.url.replace("http", "ws") + f"/ws/call/?sdkAppId={live.demo['SdkAppId']}",
                       origin="http://127.0.0.1:9")
    assert json.loads(await ws.recv())["type"] == "welcome"
    return Socket(ws)


async def open_visitor(live: LiveServer, visitor_token: str = "") -> Socket:
    """The chat widget's socket; its welcome holds the chat when the token resumes one."""
    query = f"sdkAppId={live.demo['SdkAppId']}" + (f"&visitorToken={visitor_token}" if visitor_token else "")
    ws = await connect(live.url.replace("http", "ws") + f"/ws/visitor/?{query}", origin="http://127.0.0.1:9")
    welcome = json.loads(await ws.recv())
    assert welcome["type"] == "welcome", welcome
    return Socket(ws, welcome)


async def until(check, what: str, timeout: float = 8):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.05)
