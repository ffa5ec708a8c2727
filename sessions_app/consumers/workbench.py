"""The workbench's websocket: authenticate, then action → the same service the SDK calls → fragments back.

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
from django.template.loader import render_to_string

from ..domain import protocol
from ..models import Agent
from ..services import origins, rpc, tokens
from ..services import workbench as selectors
from ..services.errors import ServiceError
from ..services.events import agent_group, pages_group
from ..services.sessions import SAME_METHOD
from ..views import workbench as views

log = logging.getLogger(__name__)
MAX_FRAME = 64 * 1024
CLOSE_EXPIRED, CLOSE_REFUSED = 4001, 4003

# The toast's title when an action fails; the service's errorMsg is its text. None: fail silently.
ACTION_TITLES = {
    "status": "Could not change your status", "accept": "Could not accept", "reject": "Could not reject",
    "end": "Could not end the session", "hold": "Could not put the call on hold", "unhold": "Could not resume",
    "mute": "Could not mute", "unmute": "Could not unmute", "camera.off": "Could not turn the camera off",
    "camera.on": "Could not turn the camera on", "dtmf": "Could not send the tone", "transfer": "Could not transfer",
    "complete": "Could not complete after-call work", "dial": "Could not place the call",
    "chat.send": "Message not sent", "chat.typing": None, "chat.read": None, "select": None,
    "keypad.toggle": None, "transfer.toggle": None, "transfer.refresh": None,
}
QUIET_ACTIONS = ("chat.typing",)  # changes nothing this page shows


class Refused(ServiceError):
    """Authentication failed: say why on the page, then close (no reconnect)."""


def authenticate(user, query: dict, origin: str, host: str) -> tuple[int, int]:
    """The agent this socket belongs to, and the token generation its login is valid for (services/logins.py)."""
    own = origins.same_origin(origin, host)
    resume = (query.get("resume") or [""])[0]
    if resume:
        claims = tokens.read(resume, tokens.RESUME_SALT)
        agent = tokens.agent_for(claims)
        if not (own or origins.allowed(origin, agent.tenant)):
            raise Refused(f"origin {origin} is not allowed for SdkAppId {agent.tenant.sdk_app_id}")
        return agent.pk, claims.generation
    if user is None or not user.is_authenticated:
        raise Refused("you are signed out")
    if not own:
        raise Refused("a signed-in workbench opens only from this server's own pages")
    agent = Agent.objects.filter(account=user).first()
    if agent is None:
        raise Refused(f"{user.get_username()} is not an agent")
    return agent.pk, agent.token_generation


def check_not_revoked(agent_id: int, generation: int) -> None:
    """The login read again once the socket hears revocations (agent_revoked): none can fall in between."""
    tokens.check_not_revoked(Agent.objects.get(pk=agent_id), generation)


def sdk_call(agent_id: int, method: str, **params):
    """Call an SDK method exactly as the SDK's websocket does: the protocol's validation, then its service."""
    cleaned = protocol.METHODS[method].clean({name: value for name, value in params.items() if value not in (None, "")})
    return rpc.call(method, agent_id, cleaned)


def perform(agent_id: int, ui: views.UiState, data: dict) -> dict | None:
    """Carry out one action from the page; raises ServiceError/ProtocolError with the errorMsg to show.
    Returns the message stored by `chat.send` (None for the other actions)."""
    action = data.get("action")
    session_id = data.get("sessionId") or ""
    if not isinstance(session_id, str):
        raise protocol.ProtocolError("sessionId must be a string")
    namespace = selectors.namespace_of(agent_id, session_id) if session_id else "Call"
    end_method = "hungUp" if namespace == "Call" else SAME_METHOD["hungUp"]
    if action == "status":
        status = data.get("status")
        if status == "online":
            sdk_call(agent_id, "Agent.online")
        else:
            sdk_call(agent_id, "Agent.setStatus", status=status, restReason=data.get("restReason"))
    elif action == "accept":
        sdk_call(agent_id, f"{namespace}.accept", sessionId=session_id)
        ui.selected = session_id
    elif action in ("reject", "end"):
        sdk_call(agent_id, f"{namespace}.{end_method}", sessionId=session_id)
    elif action in ("hold", "unhold"):
        sdk_call(agent_id, "Call.hold" if action == "hold" else "Call.unHold", sessionId=session_id)
    elif action in ("mute", "unmute"):
        sdk_call(agent_id, f"{namespace}.{action}Mic", sessionId=session_id)
    elif action in ("camera.off", "camera.on"):
        sdk_call(agent_id, "Video.muteVideo" if action == "camera.off" else "Video.unmuteVideo", sessionId=session_id)
    elif action == "dtmf":
        sdk_call(agent_id, "Call.sendDigits", sessionId=session_id, dtmfText=data.get("digits"))
        ui.dtmf_sent[session_id] = (ui.dtmf_sent.get(session_id, "") + str(data.get("digits")))[-32:]
    elif action == "transfer":
        sdk_call(agent_id, f"{namespace}.transfer", sessionId=session_id, skillGroupId=data.get("skillGroupId"),
                 userId=data.get("userId"))
        ui.transfer = None
    elif action == "complete":
        complete(agent_id, session_id)
    elif action == "dial":
        number = data.get("phoneNumber")
        result = sdk_call(agent_id, "Call.startOutboundCall",
                          phoneNumber=number.strip() if isinstance(number, str) else number,
                          callerPhoneNumber=data.get("callerPhoneNumber"))
        ui.dial_session = result["sessionId"]
    elif action in ("chat.send", "chat.typing", "chat.read"):
        return chat_action(agent_id, action, session_id, data)
    elif action == "select":
        ui.selected = session_id
    elif action == "keypad.toggle":
        ui.keypad = None if ui.keypad == session_id else session_id
    elif action == "transfer.toggle":
        ui.transfer = None if ui.transfer == session_id else session_id
    elif action != "transfer.refresh":
        raise protocol.ProtocolError(f"unknown action {str(action)[:64]!r}")
    return None


def complete(agent_id: int, session_id: str) -> None:
    """Finish after-call work: leaving `arrange` for free completes it (as tccc.Agent.setStatus free does);
    outside `arrange` (the agent took a break meanwhile) deleteCall clears the one session."""
    if Agent.objects.filter(pk=agent_id, status="arrange").exists():
        sdk_call(agent_id, "Agent.setStatus", status="free")
    else:
        sdk_call(agent_id, "Call.deleteCall", sessionId=session_id)


def chat_action(agent_id: int, action: str, session_id: str, data: dict) -> dict | None:
    """The chat service checks the agent serves the chat and the text (the same rules as for the visitor).
    Returns the message stored by `chat.send`."""
    from ..services import chat

    if action == "chat.send":
        return chat.post_message(session_id, sender="agent", text=data.get("text"), agent_id=agent_id,
                          client_id=data.get("clientId") or "")
    elif action == "chat.typing":
        chat.typing(session_id, side="agent", agent_id=agent_id)
    else:
        seq = data.get("seq")
        chat.mark_read(session_id, side="agent", seq=seq if isinstance(seq, int) else -1, agent_id=agent_id)
    return None


def chat_message_fragment(message: dict) -> str:
    """A message appended to the chat log on screen (`message` as `chat.message_dict` builds it, no query)."""
    return render_to_string(views.PARTIALS + "chat_append.html", {"message": selectors.chat_message(message)})


def chat_log_fragment(session_id: str) -> str:
    """The whole chat log, as the detail pane renders it (its child `wb-chat-log`)."""
    return render_to_string(views.PARTIALS + "chat_log.html",
                            {"detail": {"id": session_id}, "chat": selectors.chat_log(session_id)})


def unread_fragment(session_id: str, unread: int) -> str:
    return render_to_string(views.PARTIALS + "unread_badge.html",
                            {"session_id": session_id, "unread": unread, "oob": True})


class PageWorkbench(views.Workbench):
    """The page's fragments, noting each chat's unread count and last visitor message (by seq) as the sessions
    list shows them, so that later messages update the badge alone and none is counted twice."""

    unread: dict[str, list[int]] | None = None

    def _sessions(self) -> views.Fragment:
        cards = selectors.session_cards(self.agent_id, self.views) if self.agent_id else []
        self.unread = {card["id"]: [card["unread"], card["unread_through"]] for card in cards if card["type"] == "im"}
        return views.Fragment("wb-sessions", self._template(
            "sessions.html", cards=cards, selected_id=self.selected.id if self.selected else None))


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
        try:
            agent_id, generation = await database_sync_to_async(authenticate)(self.scope.get("user"), query, origin,
                                                                             host)
            self.agent_id = agent_id
            for group in self.groups_joined():
                await self.channel_layer.group_add(group, self.channel_name)
            # Checked again in the agent's group: a revocation committed after this reaches agent_revoked.
            await database_sync_to_async(check_not_revoked)(agent_id, generation)
        except tokens.TokenExpired:
            await self.leave()
            await self.refuse("This workbench's sign-in has expired. Reload the page.", CLOSE_EXPIRED)
            return
        except ServiceError as refused:
            await self.leave()
            await self.refuse(f"The workbench cannot connect: {refused}.", CLOSE_REFUSED)
            return
        self.ui = views.UiState()
        self.sent: dict[str, str] = {}
        self.unread: dict[str, list[int]] = {}  # chat → [unread count, last visitor seq counted], as shown
        self.visitor_names: dict[str, str] = {}
        await self.push(views.ALL)

    def groups_joined(self) -> tuple[str, str]:
        """The agent's SDK events, and what only the pages show (services/events.py)."""
        return agent_group(self.agent_id), pages_group(self.agent_id)

    async def refuse(self, message: str, code: int):
        login_url = settings.LOGIN_URL if "resume" not in self.scope.get("query_string", b"").decode() else ""
        await self.send(text_data=views.banner_fragment(message, login_url=login_url))
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
        action = None
        try:
            if text_data is None or len(text_data) > MAX_FRAME:
                raise protocol.ProtocolError("a request must be a JSON text frame of at most 64 KiB")
            data = protocol.decode_json(text_data)
            if not isinstance(data, dict):
                raise protocol.ProtocolError("a request must be a JSON object")
            action = data.get("action") if isinstance(data.get("action"), str) else None
            stored = await database_sync_to_async(perform)(self.agent_id, self.ui, data)
        except (protocol.ProtocolError, ServiceError) as error:
            await self.toast(action, str(error))
            done = False
        except Exception:
            log.exception("workbench action %r failed", action)
            await self.toast(action, "internal error: the action was not carried out")
            done = False
        else:
            done = True
        if action == "chat.send":
            # Only the message changed: append it (the page's script has cleared the composer on sending).
            if done and stored:
                await self.show_message(stored)
        elif action == "chat.read":
            if done:
                await self.show_read(data.get("sessionId"), data.get("seq"))
        elif action not in QUIET_ACTIONS:
            await self.push(views.ALL)

    async def toast(self, action: str | None, error_msg: str):
        title = ACTION_TITLES.get(action, "Could not do that")
        if title:
            await self.send(text_data=views.toast_fragment(title, error_msg))

    # Messages to the agent's group.

    async def agent_frame(self, message):
        """An SDK event: what it changes is re-rendered (and a session just accepted is selected)."""
        await self.agent_frames({"frames": [message.get("frame") or {}]})

    async def agent_frames(self, message):
        """SDK events published together (services/outbox.py): one re-render for all of them."""
        for frame in message["frames"]:
            data = frame.get("data") or {}
            if frame.get("event") == "userAccessed" and data.get("sessionId"):
                self.ui.selected = data["sessionId"]
        await self.push(views.ALL)

    async def agent_changed(self, message):
        """The agent's status, or a call's hold or mute, changed (maybe through the SDK)."""
        await self.push(views.ALL)

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
                await self.send(text_data=views.typing_fragment(self.visitor_names[session_id]))
        elif event == "read":
            if data.get("side") == "visitor" and session_id and session_id == self.shown_chat:
                await self.refresh_chat_log(session_id)

    async def show_message(self, message: dict):
        """A new message: appended to the log if its chat is on screen; a visitor's also counts on its unread badge.
        A chat this page does not list yet (say, one that just rang) takes the full render, as before."""
        session_id = message.get("sessionId")
        html = []
        if session_id and session_id == self.shown_chat:
            html.append(chat_message_fragment(message))
            self.sent.pop("wb-chat-log", None)  # the page's log differs from the last one rendered
        if message.get("sender") == "visitor":
            counted = self.unread.get(session_id)
            if counted is None:
                await self.push(("sessions", "tab_count", "detail"))
                return
            if message["seq"] > counted[1]:
                counted[0], counted[1] = counted[0] + 1, message["seq"]
                html.append(unread_fragment(session_id, counted[0]))
                self.sent.pop("wb-sessions", None)
        if html:
            await self.send(text_data=views.clock_fragment() + "".join(html))

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
            await self.send(text_data=views.clock_fragment() + unread_fragment(session_id, 0))

    async def refresh_chat_log(self, session_id: str):
        """The visitor read the agent's messages: the log is re-rendered for its read ticks."""
        try:
            html = await database_sync_to_async(chat_log_fragment)(session_id)
        except Exception:
            log.exception("rendering the chat log failed")
            return
        if self.sent.get("wb-chat-log") != html:
            self.sent["wb-chat-log"] = html
            await self.send(text_data=views.clock_fragment() + html)

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
            await self.send(text_data=views.clock_fragment() + "".join(html))

    def render(self, names):
        bench = PageWorkbench(self.agent_id, self.ui)
        fragments = bench.render(names)
        selected = bench.selected
        self.shown_session = selected.id if selected else ""
        serving_chat = selected is not None and selected.session.type == "im" and selected.mine_as == "serving"
        self.shown_chat = self.shown_session if serving_chat else ""
        if bench.unread is not None:
            self.unread = bench.unread
        return fragments

    def changed(self, fragments: list[views.Fragment]) -> list[str]:
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
