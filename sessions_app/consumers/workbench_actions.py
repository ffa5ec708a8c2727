"""The workbench's actions, one table: each control of the page → the service it calls and what is redrawn.

The actions and the fields each reads are declared in `domain/workbench.py`; a frame is checked against its
action's declaration, and the service gets the fields under their Python names. An action acting on the
agent's sessions calls the SDK method the SDK's websocket would, with the protocol's validation
(domain/protocol.py), so both clients produce the same state and the same events; the chat's go to the chat
service, as the visitor's do. Some actions only change what this page has open (UiState).
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import cached_property
from typing import Callable

from ..domain import protocol
from ..domain.workbench import ACTIONS as DECLARED
from ..services import chat, consult, rpc, sessions
from ..services import workbench as selectors
from ..ui.workbench import UiState

MAX_FRAME = 64 * 1024


class Redraw(Enum):
    """What of the page is sent again after an action."""

    PAGE = "page"  # every fragment whose HTML changed, even when the action failed
    MESSAGE = "message"  # the message stored, appended to the chat log on screen
    READ = "read"  # the chat's unread badge
    NOTHING = "nothing"  # the action changes nothing this page shows


@dataclass
class Request:
    """One action of the agent's page: its declared fields, cleaned (Python names), and what the page has open."""

    agent_id: int
    ui: UiState
    data: dict
    session_id: str

    @cached_property
    def namespace(self) -> str:
        """The SDK namespace of the session acted on (Call, Chat, Video)."""
        return selectors.namespace_of(self.agent_id, self.session_id) if self.session_id else "Call"

    def sdk(self, method: str, **params):
        """Call an SDK method exactly as the SDK's websocket does: the protocol's validation, then its service."""
        cleaned = protocol.METHODS[method].clean({name: value for name, value in params.items()
                                                  if value not in (None, "")})
        return rpc.call(method, self.agent_id, cleaned)


@dataclass(frozen=True)
class Action:
    """`service` carries the action out (it may note what the page opens in `request.ui`) and returns what the
    redraw needs; `title` heads the toast when it fails (its text is the service's errorMsg), None: it fails
    silently."""

    service: Callable[[Request], object]
    title: str | None
    redraw: Redraw = Redraw.PAGE


def set_status(request: Request) -> None:
    status = request.data.get("status")
    if status == "online":
        request.sdk("Agent.online")
    else:
        request.sdk("Agent.setStatus", status=status, restReason=request.data.get("rest_reason"))


def accept(request: Request) -> None:
    request.sdk(f"{request.namespace}.accept", sessionId=request.session_id)
    request.ui.selected = request.session_id


def end(request: Request) -> None:
    """Rejecting an offer and ending a session are one method: Call.hungUp, Chat.end or Video.end."""
    method = "hungUp" if request.namespace == "Call" else "end"
    request.sdk(f"{request.namespace}.{method}", sessionId=request.session_id)


def session_method(method: str) -> Callable[[Request], None]:
    """An SDK method of one namespace taking the session alone."""
    return lambda request: request.sdk(method, sessionId=request.session_id)


def microphone(muted: bool) -> Callable[[Request], None]:
    name = "muteMic" if muted else "unmuteMic"
    return lambda request: request.sdk(f"{request.namespace}.{name}", sessionId=request.session_id)


def recording(paused: bool) -> Callable[[Request], None]:
    return lambda request: sessions.set_recording_paused(request.agent_id, request.session_id, paused)


def send_digits(request: Request) -> None:
    digits = request.data.get("digits")
    request.sdk("Call.sendDigits", sessionId=request.session_id, dtmfText=digits)
    sent = request.ui.dtmf_sent
    sent[request.session_id] = (sent.get(request.session_id, "") + str(digits))[-32:]


def transfer(request: Request) -> None:
    request.sdk(f"{request.namespace}.transfer", sessionId=request.session_id,
                skillGroupId=request.data.get("skill_group_id"), userId=request.data.get("user_id"))
    request.ui.transfer = None


def start_consult(request: Request) -> None:
    """Workbench-only (the spec's SDK has no consult): hold the customer and ring an agent, a group or a number."""
    consult.start(request.agent_id, request.session_id, user_id=request.data.get("user_id", ""),
                  skill_group_id=request.data.get("skill_group_id", ""),
                  phone_number=request.data.get("phone_number", "").strip())
    request.ui.consult = None


def consult_step(step: Callable[[int, str], None]) -> Callable[[Request], None]:
    return lambda request: step(request.agent_id, request.session_id)


def toggle_consult(request: Request) -> None:
    request.ui.consult = None if request.ui.consult == request.session_id else request.session_id
    request.ui.transfer = None


def complete(request: Request) -> None:
    sessions.finish_after_call_work(request.agent_id, request.session_id)


def dial(request: Request) -> None:
    number = request.data.get("phone_number")
    placed = request.sdk("Call.startOutboundCall", phoneNumber=number.strip() if isinstance(number, str) else number,
                         callerPhoneNumber=request.data.get("caller_phone_number"))
    request.ui.dial_session = placed["sessionId"]


def send_message(request: Request) -> dict:
    """The chat service checks the agent serves the chat and the text (the same rules as for the visitor)."""
    return chat.post_message(request.session_id, sender="agent", text=request.data.get("text"),
                             agent_id=request.agent_id, client_id=request.data["client_id"])


def typing(request: Request) -> None:
    chat.typing(request.session_id, side="agent", agent_id=request.agent_id)


def mark_read(request: Request) -> None:
    chat.mark_read(request.session_id, side="agent", seq=request.data["seq"], agent_id=request.agent_id)


def select(request: Request) -> None:
    request.ui.selected = request.session_id


def toggle_keypad(request: Request) -> None:
    request.ui.keypad = None if request.ui.keypad == request.session_id else request.session_id


def toggle_transfer(request: Request) -> None:
    request.ui.transfer = None if request.ui.transfer == request.session_id else request.session_id
    request.ui.consult = None


def redraw_only(request: Request) -> None:
    """The transfer picker's agents and groups read again."""


ACTIONS = {
    "status": Action(set_status, "Could not change your status"),
    "accept": Action(accept, "Could not accept"),
    "reject": Action(end, "Could not reject"),
    "end": Action(end, "Could not end the session"),
    "hold": Action(session_method("Call.hold"), "Could not put the call on hold"),
    "unhold": Action(session_method("Call.unHold"), "Could not resume"),
    "mute": Action(microphone(muted=True), "Could not mute"),
    "unmute": Action(microphone(muted=False), "Could not unmute"),
    "camera.off": Action(session_method("Video.muteVideo"), "Could not turn the camera off"),
    "camera.on": Action(session_method("Video.unmuteVideo"), "Could not turn the camera on"),
    "recording.pause": Action(recording(paused=True), "Could not pause the recording"),
    "recording.resume": Action(recording(paused=False), "Could not resume the recording"),
    "dtmf": Action(send_digits, "Could not send the tone"),
    "transfer": Action(transfer, "Could not transfer"),
    "complete": Action(complete, "Could not complete after-call work"),
    "consult": Action(start_consult, "Could not consult"),
    "consult.complete": Action(consult_step(consult.complete), "Could not complete the transfer"),
    "consult.conference": Action(consult_step(consult.conference), "Could not start the conference"),
    "consult.cancel": Action(consult_step(consult.cancel), "Could not cancel the consult"),
    "consult.dismiss": Action(consult_step(consult.dismiss), None),
    "dial": Action(dial, "Could not place the call"),
    "chat.send": Action(send_message, "Message not sent", Redraw.MESSAGE),
    "chat.typing": Action(typing, None, Redraw.NOTHING),
    "chat.read": Action(mark_read, None, Redraw.READ),
    "select": Action(select, None),
    "keypad.toggle": Action(toggle_keypad, None),
    "transfer.toggle": Action(toggle_transfer, None),
    "transfer.refresh": Action(redraw_only, None),
    "consult.toggle": Action(toggle_consult, None),
}
UNKNOWN = Action(redraw_only, "Could not do that")


def parse(text_data: str | None) -> dict:
    """The page's frame as a dict, or ProtocolError saying what is wrong with it."""
    if text_data is None or len(text_data) > MAX_FRAME:
        raise protocol.ProtocolError("a request must be a JSON text frame of at most 64 KiB")
    data = protocol.decode_json(text_data)
    if not isinstance(data, dict):
        raise protocol.ProtocolError("a request must be a JSON object")
    return data


def action_named(data: dict | None) -> Action:
    """The action a frame names; UNKNOWN for a frame that names none of the table's (or is not one)."""
    name = (data or {}).get("action")
    return ACTIONS.get(name, UNKNOWN) if isinstance(name, str) else UNKNOWN


def perform(agent_id: int, ui: UiState, data: dict):
    """Carry out one action of the page; raises ServiceError/ProtocolError with the errorMsg to show. Returns what
    its service returned (the message stored, for `chat.send`)."""
    name = data.get("action")
    if not isinstance(name, str) or name not in ACTIONS:
        raise protocol.ProtocolError(f"unknown action {str(name)[:64]!r}")
    fields = DECLARED[name].clean({field: value for field, value in data.items() if field != "action"})
    return ACTIONS[name].service(Request(agent_id, ui, fields, fields.pop("session_id", "")))
