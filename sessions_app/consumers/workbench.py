"""The workbench's websocket: authenticate, then action → the same service the SDK calls → fragments back.

Frames in are the JSON htmx's ws extension sends for a `ws-send` element (form fields and `hx-vals`, with
an `action`); frames out are HTML fragments with `hx-swap-oob`, which the extension swaps by id.
The page authenticates with the Django session (standalone `/workbench/`) or with the SDK's resume token
(`?resume=`, the embedded panel). Either way the page must come from this server's own origin, or, with a
resume token, from an origin the agent's tenant allows: a cookie alone never opens a socket for another site.

The consumer joins the agent's event group, so the SDK's events (callIn, userAccessed, sessionEnded ...),
status changes and chat events re-render what they change; a fragment is sent only when its HTML changed.
"""
from __future__ import annotations

import logging
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from ..domain import protocol
from ..models import Agent
from ..services import origins, rpc, tokens
from ..services import workbench as selectors
from ..services.errors import ServiceError
from ..services.events import agent_group
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


def authenticate(user, query: dict, origin: str, host: str) -> int:
    """The agent this socket belongs to."""
    own = origins.same_origin(origin, host)
    resume = (query.get("resume") or [""])[0]
    if resume:
        agent = tokens.agent_for(tokens.read(resume, tokens.RESUME_SALT))
        if not (own or origins.allowed(origin, agent.tenant)):
            raise Refused(f"origin {origin} is not allowed for SdkAppId {agent.tenant.sdk_app_id}")
        return agent.pk
    if user is None or not user.is_authenticated:
        raise Refused("you are signed out")
    if not own:
        raise Refused("a signed-in workbench opens only from this server's own pages")
    agent = Agent.objects.filter(account=user).first()
    if agent is None:
        raise Refused(f"{user.get_username()} is not an agent")
    return agent.pk


def sdk_call(agent_id: int, method: str, **params):
    """Call an SDK method exactly as the SDK's websocket does: the protocol's validation, then its service."""
    cleaned = protocol.METHODS[method].clean({name: value for name, value in params.items() if value not in (None, "")})
    return rpc.call(method, agent_id, cleaned)


def perform(agent_id: int, ui: views.UiState, data: dict) -> None:
    """Carry out one action from the page; raises ServiceError/ProtocolError with the errorMsg to show."""
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
        chat_action(agent_id, action, session_id, data)
    elif action == "select":
        ui.selected = session_id
    elif action == "keypad.toggle":
        ui.keypad = None if ui.keypad == session_id else session_id
    elif action == "transfer.toggle":
        ui.transfer = None if ui.transfer == session_id else session_id
    elif action != "transfer.refresh":
        raise protocol.ProtocolError(f"unknown action {str(action)[:64]!r}")


def complete(agent_id: int, session_id: str) -> None:
    """Finish after-call work: leaving `arrange` for free completes it (as tccc.Agent.setStatus free does);
    outside `arrange` (the agent took a break meanwhile) deleteCall clears the one session."""
    if Agent.objects.filter(pk=agent_id, status="arrange").exists():
        sdk_call(agent_id, "Agent.setStatus", status="free")
    else:
        sdk_call(agent_id, "Call.deleteCall", sessionId=session_id)


def chat_action(agent_id: int, action: str, session_id: str, data: dict) -> None:
    """The chat service checks the agent serves the chat and the text (the same rules as for the visitor)."""
    from ..services import chat

    if action == "chat.send":
        chat.post_message(session_id, sender="agent", text=data.get("text"), agent_id=agent_id,
                          client_id=data.get("clientId") or "")
    elif action == "chat.typing":
        chat.typing(session_id, side="agent", agent_id=agent_id)
    else:
        seq = data.get("seq")
        chat.mark_read(session_id, side="agent", seq=seq if isinstance(seq, int) else -1, agent_id=agent_id)


class WorkbenchConsumer(AsyncWebsocketConsumer):
    agent_id: int | None = None
    shown_session = ""  # the session the detail pane shows now

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
            self.agent_id = await database_sync_to_async(authenticate)(self.scope.get("user"), query, origin, host)
        except tokens.TokenExpired:
            await self.refuse("This workbench's sign-in has expired. Reload the page.", CLOSE_EXPIRED)
            return
        except ServiceError as refused:
            await self.refuse(f"The workbench cannot connect: {refused}.", CLOSE_REFUSED)
            return
        self.ui = views.UiState()
        self.sent: dict[str, str] = {}
        await self.channel_layer.group_add(agent_group(self.agent_id), self.channel_name)
        await self.push(views.ALL)

    async def refuse(self, message: str, code: int):
        login_url = settings.LOGIN_URL if "resume" not in self.scope.get("query_string", b"").decode() else ""
        await self.send(text_data=views.banner_fragment(message, login_url=login_url))
        await self.close(code)

    async def disconnect(self, code):
        if self.agent_id is not None:
            await self.channel_layer.group_discard(agent_group(self.agent_id), self.channel_name)

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
            await database_sync_to_async(perform)(self.agent_id, self.ui, data)
        except (protocol.ProtocolError, ServiceError) as error:
            await self.toast(action, str(error))
        except Exception:
            log.exception("workbench action %r failed", action)
            await self.toast(action, "internal error: the action was not carried out")
        if action not in QUIET_ACTIONS:
            await self.push(views.ALL)

    async def toast(self, action: str | None, error_msg: str):
        title = ACTION_TITLES.get(action, "Could not do that")
        if title:
            await self.send(text_data=views.toast_fragment(title, error_msg))

    # Messages to the agent's group.

    async def agent_frame(self, message):
        """An SDK event: what it changes is re-rendered (and a session just accepted is selected)."""
        frame = message.get("frame") or {}
        data = frame.get("data") or {}
        if frame.get("event") == "userAccessed" and data.get("sessionId"):
            self.ui.selected = data["sessionId"]
        await self.push(views.ALL)

    async def agent_changed(self, message):
        """The agent's status, or a call's hold or mute, changed (maybe through the SDK)."""
        await self.push(views.ALL)

    async def agent_chat(self, message):
        frame = message.get("frame") or {}
        data = frame.get("data") or {}
        if frame.get("event") == "typing":
            side = data.get("side") or data.get("sender")
            if side == "visitor" and data.get("sessionId") and data["sessionId"] == self.shown_session:
                who = await database_sync_to_async(selectors.visitor_name)(data["sessionId"])
                await self.send(text_data=views.typing_fragment(who))
            return
        await self.push(("sessions", "tab_count", "detail"))

    async def push(self, names):
        try:
            fragments = await database_sync_to_async(self.render)(names)
        except Exception:
            log.exception("rendering the workbench failed")
            return
        html = self.changed(fragments)
        if html:
            await self.send(text_data=views.clock_fragment() + "".join(html))

    def render(self, names):
        bench = views.Workbench(self.agent_id, self.ui)
        fragments = bench.render(names)
        self.shown_session = bench.selected.id if bench.selected else ""
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
