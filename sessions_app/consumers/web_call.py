"""The web caller's websocket, which the call widget (`/widget/call.js`) opens: place a call with a WebRTC
offer, hang up; forward the call's events. Frames are described in `domain/web_call.py`.

`ws(s)://{server}/ws/call/?sdkAppId={SdkAppId}`: the page's `Origin` must be on the tenant's allow-list. A
call lives as long as this socket: when it closes, the call ends as the customer's hang-up.
"""
from __future__ import annotations

import secrets

from channels.db import database_sync_to_async

from ..domain import web_call as rules
from ..services import ice, visitors, web_calls
from ..services.errors import ServiceError
from .visitor import CustomerSocket


class WebCallConsumer(CustomerSocket):
    max_frame = rules.MAX_FRAME
    session_id: str | None = None

    async def connect(self):
        query = await self.open_for_tenant()
        if query is not None:
            await self.send_frame(rules.welcome(visitorId=self.identify(query).id,
                                                **ice.welcome_fields(f"caller-{secrets.token_hex(4)}")))

    async def disconnect(self, code):
        if self.session_id:
            await self.channel_layer.group_discard(visitors.visitor_group(self.session_id), self.channel_name)
            await database_sync_to_async(web_calls.left)(self.tenant, self.session_id)

    async def receive(self, text_data=None, bytes_data=None):
        if self.tenant is not None:
            await self.answer(text_data)

    async def perform(self, frame: dict):
        action, params = rules.call_request(frame)
        if action == "hangUp":
            if not self.session_id:
                raise ServiceError("there is no call to hang up")
            await database_sync_to_async(web_calls.hang_up)(self.tenant, self.session_id)
            return None
        return await self.start(**params)

    async def start(self, kind: str, sdp: str, fields: dict, skill_group_id: str | None) -> dict:
        session = await database_sync_to_async(web_calls.start)(self.tenant, self.visitor, kind, fields, skill_group_id,
                                                                replacing=self.session_id)
        if self.session_id:
            await self.channel_layer.group_discard(visitors.visitor_group(self.session_id), self.channel_name)
        self.session_id = session.pk
        await self.channel_layer.group_add(visitors.visitor_group(session.pk), self.channel_name)
        answer = await web_calls.connect_customer(session.pk, sdp)
        state = await database_sync_to_async(web_calls.state)(session.pk)
        if state == "ringing":  # offered before this socket joined the group: its ringing event went by
            await self.send_frame(rules.event("ringing", sessionId=session.pk))
        return {"sessionId": session.pk, "type": session.type, "sdp": answer["sdp"]}

    async def visitor_frame(self, message):
        await self.send_frame(message["frame"])
