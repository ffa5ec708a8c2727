"""The workbench's websocket: authenticate, then action → its service (consumers/workbench_actions.py) → fragments
back (ui/workbench.py).

Frames in are the JSON htmx's ws extension sends for a `ws-send` element (form fields and `hx-vals`, with
an `action`); frames out are HTML fragments with `hx-swap-oob`, which the extension swaps by id.
The page authenticates with the Django session (standalone `/workbench/`) or with the SDK's resume token
(`?resume=`, the embedded panel). Either way the page must come from this server's own origin, or, with a
resume token, from an origin the agent's tenant allows: a cookie alone never opens a socket for another site.

The consumer joins the agent's event group, so the SDK's events (callIn, userAccessed, sessionEnded ...) and
status changes re-render what they change; a fragment is sent only when its HTML changed. Chat events, many
times more frequent, send only what changed, without re-rendering: a new message is appended to the chat log
on screen from the message the event carries, an unread badge is a tiny fragment counted here, typing is one
line; likewise the agent's own `chat.send` appends just the message sent.
"""
from __future__ import annotations

import logging
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from ..domain import protocol
from ..services import logins, origins, tokens
from ..services import workbench as selectors
from ..services.errors import ServiceError
from ..services.events import agent_group, pages_group
from ..ui import workbench as bench_ui
from . import workbench_actions as actions
from .workbench_actions import Redraw

log = logging.getLogger(__name__)
CLOSE_EXPIRED, CLOSE_REFUSED = 4001, 4003


class WorkbenchConsumer(AsyncWebsocketConsumer):
    agent_id: int | None = None
    shown_session = ""  # the session the detail pane shows now
    shown_chat = ""  # the web chat whose log the detail pane shows now (served by this agent)

    async def connect(self):
        headers = dict(self.scope.get("headers", []))
        origin = headers.get(b"origin", b"").decode("latin-1")
        host = headers.get(b"host", b"").decode("latin-1")
        if not origins.same_origin(origin, host) and not await database_sync_to_async(origins.allowed)(origin):
            await self.close()  # before accept: the handshake is refused with HTTP 403
            return
        await self.accept()
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        resume = (query.get("resume") or [""])[0]
        try:
            agent_id, generation = await database_sync_to_async(logins.workbench_login)(
                self.scope.get("user"), resume, origin, own_origin=origins.same_origin(origin, host))
            self.agent_id = agent_id
            for group in self.groups_joined():
                await self.channel_layer.group_add(group, self.channel_name)
            # Checked again in the agent's group: a revocation committed after this reaches agent_revoked.
            await database_sync_to_async(logins.check_still_signed_in)(agent_id, generation)
        except tokens.TokenExpired:
            await self.leave()
            await self.refuse("This workbench's sign-in has expired. Reload the page.", CLOSE_EXPIRED)
            return
        except ServiceError as refused:
            await self.leave()
            await self.refuse(f"The workbench cannot connect: {refused}.", CLOSE_REFUSED)
            return
        self.ui = bench_ui.UiState()
        self.sent: dict[str, str] = {}
        self.unread: dict[str, list[int]] = {}  # chat → [unread count, last visitor seq counted], as shown
        self.visitor_names: dict[str, str] = {}
        await self.push(bench_ui.ALL)

    def groups_joined(self) -> tuple[str, str]:
        """The agent's SDK events, and what only the pages show (services/events.py)."""
        return agent_group(self.agent_id), pages_group(self.agent_id)

    async def refuse(self, message: str, code: int):
        login_url = settings.LOGIN_URL if "resume" not in self.scope.get("query_string", b"").decode() else ""
        await self.send(text_data=bench_ui.banner_fragment(message, login_url=login_url))
        await self.close(code)

    async def disconnect(self, code):
        await self.leave()

    async def leave(self):
        """Out of the agent's groups; no action is served after this."""
        if self.agent_id is not None:
            for group in self.groups_joined():
                await self.channel_layer.group_discard(group, self.channel_name)
            self.agent_id = None

    async def agent_revoked(self, message):
        """The agent's logins ended (services/logins.py): the page says why and does not reconnect."""
        await self.leave()
        await self.refuse(f"You are signed out: {message['reason']}.", CLOSE_EXPIRED)

    async def receive(self, text_data=None, bytes_data=None):
        if self.agent_id is None:
            return
        data = None
        try:
            data = actions.parse(text_data)
            result = await database_sync_to_async(actions.perform)(self.agent_id, self.ui, data)
        except (protocol.ProtocolError, ServiceError) as error:
            await self.toast(data, str(error))
            done = False
        except Exception:
            log.exception("workbench action %r failed", data.get("action") if data else None)
            await self.toast(data, "internal error: the action was not carried out")
            done = False
        else:
            done = True
        redraw = actions.action_named(data).redraw
        if redraw is Redraw.MESSAGE:
            # Only the message changed: append it (the page's script has cleared the composer on sending).
            if done and result:
                await self.show_message(result)
        elif redraw is Redraw.READ:
            if done:
                await self.show_read(data.get("sessionId"), data.get("seq"))
        elif redraw is Redraw.PAGE:
            await self.push(bench_ui.ALL)

    async def toast(self, data: dict | None, error_msg: str):
        title = actions.action_named(data).title
        if title:
            await self.send(text_data=bench_ui.toast_fragment(title, error_msg))

    # Messages to the agent's group.

    async def agent_frame(self, message):
        """An SDK event: what it changes is re-rendered (and a session just accepted is selected)."""
        await self.agent_frames({"frames": [message.get("frame") or {}]})

    async def agent_frames(self, message):
        """SDK events published together (workbench/outbox.py): one re-render for all of them."""
        for frame in message["frames"]:
            data = frame.get("data") or {}
            if frame.get("event") == "userAccessed" and data.get("sessionId"):
                self.ui.selected = data["sessionId"]
        await self.push(bench_ui.ALL)

    async def agent_changed(self, message):
        """The agent's status, or a call's hold or mute, changed (maybe through the SDK)."""
        await self.push(bench_ui.ALL)

    async def agent_chat(self, message):
        """A chat event (services.chat): only what it changes is sent, without re-rendering the panel."""
        frame = message.get("frame") or {}
        data = frame.get("data") or {}
        session_id = data.get("sessionId")
        event = frame.get("event")
        if event == "message":
            await self.show_message(data)
        elif event == "typing":
            side = data.get("side") or data.get("sender")
            if side == "visitor" and session_id and session_id == self.shown_chat:
                if session_id not in self.visitor_names:
                    self.visitor_names[session_id] = await database_sync_to_async(selectors.visitor_name)(session_id)
                await self.send(text_data=bench_ui.typing_fragment(self.visitor_names[session_id]))
        elif event == "read":
            if data.get("side") == "visitor" and session_id and session_id == self.shown_chat:
                await self.refresh_chat_log(session_id)

    async def show_message(self, message: dict):
        """A new message: appended to the log if its chat is on screen; a visitor's also counts on its unread badge.
        A chat this page does not list yet (say, one that just rang) takes the full render, as before."""
        session_id = message.get("sessionId")
        html = []
        if session_id and session_id == self.shown_chat:
            html.append(bench_ui.chat_message_fragment(message))
            self.sent.pop("wb-chat-log", None)  # the page's log differs from the last one rendered
        if message.get("sender") == "visitor":
            counted = self.unread.get(session_id)
            if counted is None:
                await self.push(("sessions", "tab_count", "detail"))
                return
            if message["seq"] > counted[1]:
                counted[0], counted[1] = counted[0] + 1, message["seq"]
                html.append(bench_ui.unread_fragment(session_id, counted[0]))
                self.sent.pop("wb-sessions", None)
        if html:
            await self.send(text_data=bench_ui.clock_fragment() + "".join(html))

    async def show_read(self, session_id, seq):
        """The agent read a chat up to `seq`: through its last visitor message counted, the badge goes; otherwise
        the sessions list is re-rendered (it counts what is left)."""
        counted = self.unread.get(session_id)
        if counted is None or not isinstance(seq, int) or seq < counted[1]:
            await self.push(("sessions",))
            return
        if counted[0]:
            counted[0] = 0
            self.sent.pop("wb-sessions", None)
            await self.send(text_data=bench_ui.clock_fragment() + bench_ui.unread_fragment(session_id, 0))

    async def refresh_chat_log(self, session_id: str):
        """The visitor read the agent's messages: the log is re-rendered for its read ticks."""
        try:
            html = await database_sync_to_async(bench_ui.chat_log_fragment)(session_id)
        except Exception:
            log.exception("rendering the chat log failed")
            return
        if self.sent.get("wb-chat-log") != html:
            self.sent["wb-chat-log"] = html
            await self.send(text_data=bench_ui.clock_fragment() + html)

    async def push(self, names):
        if self.agent_id is None:
            return  # signed out (agent_revoked) while events were on their way
        try:
            fragments = await database_sync_to_async(self.render)(names)
        except Exception:
            log.exception("rendering the workbench failed")
            return
        html = self.changed(fragments)
        if html:
            await self.send(text_data=bench_ui.clock_fragment() + "".join(html))

    def render(self, names):
        bench = bench_ui.Workbench(self.agent_id, self.ui)
        fragments = bench.render(names)
        selected = bench.selected
        self.shown_session = selected.id if selected else ""
        serving_chat = selected is not None and selected.session.type == "im" and selected.mine_as == "serving"
        self.shown_chat = self.shown_session if serving_chat else ""
        if bench.unread is not None:
            self.unread = bench.unread
        return fragments

    def changed(self, fragments: list[bench_ui.Fragment]) -> list[str]:
        """The HTML of the fragments whose content differs from what this page last received."""
        out = []
        for fragment in fragments:
            if self.sent.get(fragment.id) != fragment.key:
                out.append(str(fragment.html))
                self.sent[fragment.id] = fragment.key
                self.sent.update({child.id: child.key for child in fragment.children})
                continue
            for child in fragment.children:
                if self.sent.get(child.id) != child.key:
                    out.append(str(child.html))
                    self.sent[child.id] = child.key
        return out
