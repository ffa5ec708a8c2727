"""Web chat rules that need no database: what a message may be, how fast a visitor may write, and the
visitor websocket's protocol (its actions and their fields). Pure Python: no Django, no I/O.

The visitor socket (`/ws/visitor/`) speaks JSON frames like the SDK's: a request `{"id", "action", ...fields}`
gets `{"type": "reply", "id", "status": "success", "data"}` or `{..., "status": "error", "errorMsg"}`; events are
`{"type": "event", "event", "data"}`. The embeddable widget (`static/widget/chat.js`) mirrors this module.
"""
from __future__ import annotations

from .protocol import ProtocolError

MAX_TEXT = 2000  # characters of one message, after stripping
MAX_CLIENT_ID = 64
MAX_FRAME = 16 * 1024  # bytes of one frame from a visitor
# A visitor may send at most `count` messages within any `seconds`: both limits hold at once.
RATE_LIMITS = ((5, 5), (30, 60))
TOO_FAST = "you are sending messages too fast: wait a few seconds"

SIDES = ("visitor", "agent")

# The `start` action's fields: callIn name → (Python name, longest accepted value).
START_FIELDS = {"nickname": ("nickname", 128), "avatar": ("avatar", 1024), "peerSource": ("peer_source", 128),
                "channelName": ("channel_name", 128), "clientData": ("client_data", 1024)}
DEFAULT_NICKNAME = "Visitor"


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


def _sequence_number(frame: dict, name: str, required: bool) -> int:
    value = frame.get(name, None if required else 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value > 2**31:
        raise ProtocolError(f"{name} must be a whole number of at least 0")
    return value


def _optional_string(frame: dict, name: str, longest: int) -> str:
    value = frame.get(name)
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or len(value) > longest:
        raise ProtocolError(f"{name} must be a string of at most {longest} characters")
    return value


def visitor_request(frame) -> tuple[str, dict]:
    """A decoded visitor frame's action and its cleaned fields (Python names)."""
    if not isinstance(frame, dict):
        raise ProtocolError("a request must be a JSON object")
    action = frame.get("action")
    if not isinstance(action, str) or not action:
        raise ProtocolError("action is required")
    if action == "start":
        params = {python: _optional_string(frame, name, longest) for name, (python, longest) in START_FIELDS.items()}
        params["skill_group_id"] = _optional_string(frame, "skillGroupId", 20) or None
        return action, params
    if action == "send":
        if not isinstance(frame.get("text"), str):
            raise ProtocolError("text is required: the message to send")
        return action, {"text": frame["text"], "client_id": _optional_string(frame, "clientId", MAX_CLIENT_ID)}
    if action == "read":
        return action, {"seq": _sequence_number(frame, "seq", required=True)}
    if action == "history":
        return action, {"after_seq": _sequence_number(frame, "afterSeq", required=False)}
    if action in ("typing", "end"):
        return action, {}
    raise ProtocolError(f"unknown action {action[:64]!r}")
