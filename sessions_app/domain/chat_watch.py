"""The chat watch page's socket (`/ws/supervise/chat/?sessionId=...`): the actions a supervisor's page sends,
each `{"action", ...fields}` as htmx's websocket extension sends a form (other fields, like its HEADERS, are
ignored). Pure Python: no Django, no I/O."""
from __future__ import annotations

from .chat import MAX_CLIENT_ID, MAX_FRAME
from .protocol import Method, Param, named_method

ACTIONS: dict[str, Method] = {m.name: m for m in (
    # The text's own rules (chat.clean_text) are the service's, which words them for every writer.
    Method("send", (Param("text", kind="text", required=True, max_length=MAX_FRAME,
                          message="text is required: the message to send"),
                    Param("clientId", max_length=MAX_CLIENT_ID, default="",
                          message=f"clientId must be a string of at most {MAX_CLIENT_ID} characters")), unknown=""),
    # Once the supervisor has taken the chat over, they type and read as its serving side.
    Method("typing", unknown=""),
    Method("read", (Param("seq", kind="integer", required=True, default=0,
                          message="seq must be a whole number of at least 0"),), unknown=""),
    Method("takeOver", unknown=""),
    Method("end", unknown=""),
)}

# Close codes: the page says why and does not reconnect.
CLOSE_REFUSED = 4003  # not staff, another tenant's chat, no such chat, not a chat


def watch_request(frame) -> tuple[str, dict]:
    """A decoded frame's action and its cleaned fields (Python names)."""
    action = named_method(frame, "action", ACTIONS)
    fields = {name: value for name, value in frame.items() if name not in ("action", "HEADERS")}
    return action.name, action.clean(fields)
