"""Web chat rules that need no database: what a message may be, how fast a visitor may write, and the
visitor websocket's protocol (its actions and their fields). Pure Python: no Django, no I/O.

The visitor socket (`/ws/visitor/`) speaks JSON frames like the SDK's: a request `{"id", "action", ...fields}`
(ACTIONS) gets `{"type": "reply", "id", "status": "success", "data"}` or `{..., "status": "error", "errorMsg"}`;
events are `{"type": "event", "event", "data"}` (EVENTS, built by `event()`). The embeddable widget
(`static/widget/chat.js`) gets the event names and limits from `widget_manifest()`; a test checks them and
docs/web-chat.md against this module.
"""
from __future__ import annotations

from .protocol import Method, MayOmit, Param, checked_event, checked_frame, named_method

MAX_TEXT = 2000  # characters of one message, after stripping
MAX_CLIENT_ID = 64
MAX_FRAME = 16 * 1024  # bytes of one frame from a visitor
# A visitor may send at most `count` messages within any `seconds`: both limits hold at once.
RATE_LIMITS = ((5, 5), (30, 60))
TOO_FAST = "you are sending messages too fast: wait a few seconds"

SIDES = ("visitor", "agent")
# Who may write a message: the two sides, and a supervisor watching the chat (services/chat_watch.py), whose
# messages both sides get.
WRITERS = (*SIDES, "supervisor")

# The `start` action's fields: callIn name → (Python name, longest accepted value).
START_FIELDS = {"nickname": ("nickname", 128), "avatar": ("avatar", 1024), "peerSource": ("peer_source", 128),
                "channelName": ("channel_name", 128), "clientData": ("client_data", 1024)}
DEFAULT_NICKNAME = "Visitor"

# A stored message, as both sides get it (`createdAt` in ms since the epoch).
MESSAGE_TYPES = {"id": int, "seq": int, "sessionId": str, "sender": str, "text": str, "agentUserId": str,
                 "supervisorName": str, "clientId": str, "createdAt": int}
MESSAGE_FIELDS = tuple(MESSAGE_TYPES)

# The visitor's events, each with its fields' types. The agent's pages hear message, typing and read with the
# same data (services/chat.py).
EVENTS = {
    "message": MESSAGE_TYPES,
    "accepted": {"sessionId": str, "agentNickname": str},
    "queued": {"sessionId": str, "position": int},
    "ended": {"sessionId": str, "closeBy": str, "endStatus": str},
    "typing": {"sessionId": str, "side": str},
    "read": {"sessionId": str, "side": str, "seq": int},
}
# The first frame: the chat a visitor token brings back (visitor_view's fields) or None, with errorMsg saying why
# a token given was not taken; and the visitor's id.
WELCOME = {"chat": (dict, type(None)), "visitorId": str, "errorMsg": MayOmit(str)}


class ChatRefused(ValueError):
    """A message or a field that breaks a rule here; the message says which."""


def clean_text(text) -> str:
    """A message's text as stored: stripped, 1 to MAX_TEXT characters, no NUL (no database stores it)."""
    if not isinstance(text, str):
        raise ChatRefused("text must be a string")
    text = text.strip()
    if not text:
        raise ChatRefused("the message is empty")
    if len(text) > MAX_TEXT:
        raise ChatRefused(f"the message is longer than {MAX_TEXT} characters ({len(text)})")
    if "\x00" in text:
        raise ChatRefused("the message contains a NUL character")
    return text


def clean_client_id(client_id) -> str:
    if client_id is None:
        return ""
    if not isinstance(client_id, str) or len(client_id) > MAX_CLIENT_ID:
        raise ChatRefused(f"clientId must be a string of at most {MAX_CLIENT_ID} characters")
    return client_id


def clean_start_fields(**values) -> dict:
    """The callIn fields of a new chat (Python names in, spec names out), each a string of bounded length."""
    fields = {}
    for name, (python_name, longest) in START_FIELDS.items():
        value = values.get(python_name)
        value = "" if value is None else value
        if not isinstance(value, str) or len(value) > longest or "\x00" in value:
            raise ChatRefused(f"{name} must be a string of at most {longest} characters")
        fields[name] = value.strip()
    fields["nickname"] = fields["nickname"] or DEFAULT_NICKNAME
    return fields


def too_fast(counts: tuple[int, ...]) -> bool:
    """Whether one more message breaks a limit, given how many the visitor sent within each RATE_LIMITS window."""
    return any(sent >= limit for sent, (limit, _) in zip(counts, RATE_LIMITS))


def other_side(side: str) -> str:
    if side not in SIDES:
        raise ChatRefused(f"side must be one of: {', '.join(SIDES)}")
    return SIDES[1 - SIDES.index(side)]


# The visitor's requests `{"id", "action", ...fields}`: fields not declared are ignored.

def _bounded(name: str, longest: int, default="") -> Param:
    return Param(name, max_length=longest, default=default,
                 message=f"{name} must be a string of at most {longest} characters")


def _count(name: str, required: bool) -> Param:
    return Param(name, kind="integer", required=required, default=0,
                 message=f"{name} must be a whole number of at least 0")


ACTIONS: dict[str, Method] = {m.name: m for m in (
    Method("start", (*(_bounded(name, longest) for name, (_, longest) in START_FIELDS.items()),
                     _bounded("skillGroupId", 20, default=None)),
           result=("sessionId", "visitorToken", "chat"), unknown=""),
    # The text's own rules (clean_text) are the service's, which words them for both sides.
    Method("send", (Param("text", kind="text", required=True, max_length=MAX_FRAME,
                          message="text is required: the message to send"),
                    _bounded("clientId", MAX_CLIENT_ID)), result=MESSAGE_FIELDS, unknown=""),
    Method("typing", unknown=""),
    Method("read", (_count("seq", required=True),), result=("seq",), unknown=""),
    Method("history", (_count("afterSeq", required=False),), result=("messages",), unknown=""),
    Method("end", unknown=""),
)}


def visitor_request(frame) -> tuple[str, dict]:
    """A decoded visitor frame's action and its cleaned fields (Python names)."""
    action = named_method(frame, "action", ACTIONS)
    fields = {name: value for name, value in frame.items() if name not in ("id", "action")}
    return action.name, action.clean(fields)


def event(name: str, **fields) -> dict:
    """A visitor event frame, checked against EVENTS."""
    return checked_event(EVENTS, name, **fields)


def welcome(**fields) -> dict:
    return checked_frame("welcome", WELCOME, **fields)


def widget_manifest() -> dict:
    """What the chat widget mirrors of this module (injected into `/widget/chat.js`)."""
    return {"events": list(EVENTS), "startFields": ACTIONS["start"].param_names, "maxText": MAX_TEXT,
            "maxFrameBytes": MAX_FRAME}
