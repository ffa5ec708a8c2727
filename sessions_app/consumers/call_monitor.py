"""The call monitor page's websocket, `/ws/supervise/call/?sessionId=<id>`: a supervisor's admin page (Django
session, same origin) listens to, whispers in, barges into or takes over one call, through a WebRTC leg of its
own whose offer and answer travel here. Frames are described in `domain/call_monitor.py`.

On connect the supervisor's right to the call is checked (`monitoring.visible_call`: the permission to monitor,
a call of a tenant they see); otherwise the page is told why and closed with `CLOSE_REFUSED`. The socket hears
the call's changes through `monitor_push.monitor_group` and sends where it stands each time. The leg lives as
long as the socket that started it (its channel name is the monitoring's `page`): when it closes, a supervisor
still monitoring stops (and one who took the call over hangs up), so no leg is left in a call that nobody's page
plays; a reloaded page that started again first keeps the monitoring (`monitoring.page_closed`).
"""
from __future__ import annotations

import json
import logging

from channels.db import database_sync_to_async

from ..domain import call_monitor as rules
from ..domain import protocol
from ..services import ice, monitoring, supervision
from ..services.errors import ServiceError
from ..services.monitor_push import monitor_group
from .supervisor_socket import SupervisorSocket

log = logging.getLogger(__name__)


class CallMonitorConsumer(SupervisorSocket):
    session_id: str | None = None
    user_id: int | None = None

    async def connect(self):
        opened = await self.open_for_supervisor("Sign in to admin as a supervisor to monitor calls.")
        if opened is None:
            return
        user, session_id = opened
        view = await database_sync_to_async(monitoring.visible_call)(user, session_id)
        if view is None:
            await self.refuse("This call cannot be monitored: it is not a call you may monitor.")
            return
        self.user_id, self.session_id = user.pk, session_id
        await self.channel_layer.group_add(monitor_group(session_id), self.channel_name)
        await self.send_json({"event": "welcome", "data": ice.welcome_fields(f"supervisor-{user.pk}")})
        await self.send_view()  # after joining, so that no change falls in between

    async def refuse(self, message: str):
        await self.send_json({"event": "refused", "data": {"message": message}})
        await self.close(rules.CLOSE_REFUSED)

    async def disconnect(self, code):
        if not self.session_id:
            return
        await self.channel_layer.group_discard(monitor_group(self.session_id), self.channel_name)
        session_id, self.session_id = self.session_id, None
        if await database_sync_to_async(monitoring.page_closed)(supervisor_id=self.user_id, session_id=session_id,
                                                                page=self.channel_name):
            await monitoring.close_leg(supervisor_id=self.user_id, session_id=session_id)

    async def send_json(self, frame: dict):
        await self.send(text_data=json.dumps(frame))

    async def send_view(self):
        if self.session_id:
            view = await database_sync_to_async(monitoring.describe)(self.session_id, self.user_id)
            await self.send_json(rules.call_event(view))

    # The supervisor's actions.

    async def receive(self, text_data=None, bytes_data=None):
        if not self.session_id:
            return
        frame_id = None
        try:
            if text_data is None or len(text_data) > rules.MAX_FRAME:
                raise protocol.ProtocolError("a request must be a JSON text frame of at most 64 KiB")
            frame = protocol.decode_json(text_data)
            frame_id = frame.get("id") if isinstance(frame, dict) else None
            frame_id, action, fields = rules.monitor_request(frame)
            data = await self.perform(action, fields)
            await self.send_json(rules.reply(frame_id, True, **(data or {})))
        except (protocol.ProtocolError, ServiceError) as refused:
            await self.send_json(rules.reply(frame_id, False, str(refused)))
        except Exception:
            log.exception("call monitor request failed")
            await self.send_json(rules.reply(frame_id, False, "internal error: the action was not carried out"))

    async def perform(self, action: str, fields: dict) -> dict | None:
        ids = {"supervisor_id": self.user_id, "session_id": self.session_id}
        if action == "start":
            view = await database_sync_to_async(monitoring.start)(**ids, mode=fields.get("mode"),
                                                                  page=self.channel_name)
            answer = await monitoring.open_leg(**ids, sdp=fields["sdp"])
            return {"call": view, "sdp": answer["sdp"]}
        if action == "mode":
            return {"call": await database_sync_to_async(monitoring.change_mode)(**ids, mode=fields.get("mode"))}
        if action == "stop":
            await database_sync_to_async(monitoring.stop)(**ids)
            await monitoring.close_leg(**ids)
            return None
        if action == "takeOver":
            return {"call": await database_sync_to_async(monitoring.take_over)(**ids)}
        await database_sync_to_async(supervision.end_session)(**ids)
        return None

    # The call's changes.

    async def call_changed(self, message):
        await self.send_view()
