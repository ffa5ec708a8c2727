"""The chat watch page's websocket, `/ws/supervise/chat/?sessionId=<id>`: a supervisor's admin page (Django
session, same origin) watches one web chat live, writes into it, takes it over or ends it.

On connect the supervisor's right to the chat is checked and audited (`chat_watch.watch`); a page of an account
that is not staff, of another tenant's chat or of a session that is no chat is told why and closed with
`CLOSE_REFUSED`, and does not reconnect. The socket hears the chat's events through its watchers' group
(`chat.watchers_group`: messages, typing and read marks of either side, from any process) and where the chat
stands through its visitor's group (`visitor_group`: accepted, queued, ended), and answers with the
workbench's HTML fragments (ui/chat_watch.py), which htmx's ws extension swaps by id.
"""
from __future__ import annotations

import logging

from channels.db import database_sync_to_async

from ..domain import chat_watch as rules
from ..domain import protocol
from ..services import chat, chat_watch, supervision
from ..services.errors import ServiceError
from ..ui import chat_watch as watch_ui
from .supervisor_socket import SupervisorSocket

log = logging.getLogger(__name__)
MAX_FRAME = 64 * 1024
TITLES = {"send": "The message was not sent", "takeOver": "The chat was not taken over",
          "end": "The chat was not ended"}
QUIET = ("typing", "read")  # sent by the page's script, not by a click: a refusal is not shown


class ChatWatchConsumer(SupervisorSocket):
    session_id: str | None = None

    async def connect(self):
        opened = await self.open_for_supervisor("Sign in to admin as a supervisor to watch chats.")
        if opened is None:
            return
        user, session_id = opened
        self.user_id = user.pk
        try:
            await database_sync_to_async(chat_watch.watch)(supervisor_id=self.user_id, session_id=session_id)
        except ServiceError as refused:  # a crafted id too: refused (and audited) before naming any group
            await self.refuse(f"This chat cannot be watched: {refused}.")
            return
        self.session_id = session_id
        for group in self.groups_of(session_id):  # before reading the chat, so that no event falls in between
            await self.channel_layer.group_add(group, self.channel_name)
        await self.send(text_data=await self.render_whole())

    @staticmethod
    def groups_of(session_id: str) -> tuple[str, str]:
        return chat.watchers_group(session_id), chat.visitor_group(session_id)

    async def refuse(self, message: str):
        await self.send(text_data=watch_ui.refused_fragment(message))
        await self.close(rules.CLOSE_REFUSED)

    async def leave(self, session_id: str):
        for group in self.groups_of(session_id):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def disconnect(self, code):
        if self.session_id:
            await self.leave(self.session_id)
            self.session_id = None

    @database_sync_to_async
    def render_whole(self) -> str:
        self.view = chat_watch.describe(self.session_id)
        return watch_ui.status_fragment(self.view) + watch_ui.log_fragment(self.view)

    async def refresh_status(self):
        self.view = await database_sync_to_async(chat_watch.describe)(self.session_id)
        await self.send(text_data=watch_ui.status_fragment(self.view))

    # The supervisor's actions.

    async def receive(self, text_data=None, bytes_data=None):
        if not self.session_id:
            return
        action = None
        try:
            if text_data is None or len(text_data) > MAX_FRAME:
                raise protocol.ProtocolError("a request must be a JSON text frame of at most 64 KiB")
            action, fields = rules.watch_request(protocol.decode_json(text_data))
            await database_sync_to_async(self.perform)(action, fields)
        except (protocol.ProtocolError, ServiceError) as error:
            if action not in QUIET:
                await self.send(text_data=watch_ui.toast_fragment(TITLES.get(action, "The request was refused"),
                                                                  str(error)))
        except Exception:
            log.exception("chat watch action %r failed", action)
            await self.send(text_data=watch_ui.toast_fragment(TITLES.get(action, "The request failed"),
                                                              "internal error: the action was not carried out"))
        if action in ("takeOver", "end"):
            await self.refresh_status()

    def perform(self, action: str, fields: dict) -> None:
        """The message written arrives back through the watchers' group, as every watcher's does."""
        ids = {"supervisor_id": self.user_id, "session_id": self.session_id}
        if action == "send":
            chat_watch.write(**ids, **fields)
        elif action == "typing":
            chat_watch.typing(**ids)
        elif action == "read":
            chat_watch.mark_read(**ids, **fields)
        elif action == "takeOver":
            chat_watch.take_over(**ids)
        else:
            supervision.end_session(**ids)

    # The chat's events.

    async def watched_chat(self, message):
        if not self.session_id:
            return  # refused: an event that arrived before the refusal is not shown
        frame = message.get("frame") or {}
        data = frame.get("data") or {}
        event = frame.get("event")
        if event == "message":
            await self.send(text_data=watch_ui.message_fragment(data, self.view["visitor"]))
        elif event == "typing":
            if data.get("side") == "visitor":
                await self.send(text_data=watch_ui.typing_fragment(self.view["visitor"]))
            elif not self.view["takenOverBy"]:  # once taken over, the serving side typing is the supervisor
                await self.send(text_data=watch_ui.typing_fragment(self.view["agent"] or "The agent"))
        elif event == "read" and data.get("side") == "visitor":
            await self.send(text_data=await database_sync_to_async(watch_ui.log_fragment)(self.view))

    async def visitor_frame(self, message):
        """Where the chat stands changed (accepted, queued, ended): the header is drawn again. Its messages,
        typing and read marks come through the watchers' group."""
        if self.session_id and (message.get("frame") or {}).get("event") in ("accepted", "queued", "ended"):
            await self.refresh_status()
