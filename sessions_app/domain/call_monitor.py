"""The call monitor page's socket (`/ws/supervise/call/?sessionId=...`): what a supervisor's page sends, each
`{"action", "id", ...fields}`, answered `{"reply": id, "ok", "message"?, "data"?}`; and what it hears,
`{"event": "call", "data": where the call stands}` whenever the call or its monitoring changes. Pure Python: no
Django, no I/O.

- `start` {mode, sdp}: monitor in `mode` (listen, whisper, barge) with the page's WebRTC offer for its leg →
  {call, sdp}. A leg that does not connect stops the monitoring again.
- `mode` {mode}: change the mode on the same leg → {call}.
- `stop`: stop monitoring; the leg closes.
- `takeOver`: serve the call in the agent's place through the leg → {call}.
- `end`: end the call (the supervisor who took it over hangs up).
"""
from __future__ import annotations

from .protocol import MAX_SDP, Method, Param, named_method, request_id

ACTIONS: dict[str, Method] = {m.name: m for m in (
    # The mode is the service's to check (and audit when refused), as every supervisor action's target is.
    Method("start", (Param("mode", kind="any"),
                     Param("sdp", kind="text", required=True, pattern=r"v=0[\s\S]*", max_length=MAX_SDP,
                           message="sdp must be the page's WebRTC offer (an SDP text starting with v=0)")), unknown=""),
    Method("mode", (Param("mode", kind="any"),), unknown=""),
    Method("stop", unknown=""),
    Method("takeOver", unknown=""),
    Method("end", unknown=""),
)}
MAX_FRAME = MAX_SDP + 4096
CLOSE_REFUSED = 4003  # not allowed to monitor, another tenant's call, no such call, not a call


def monitor_request(frame) -> tuple[object, str, dict]:
    """A decoded frame's id, action and cleaned fields (Python names)."""
    action = named_method(frame, "action", ACTIONS)
    fields = {name: value for name, value in frame.items() if name not in ("action", "id")}
    return request_id(frame), action.name, action.clean(fields)


def reply(frame_id, ok: bool, message: str = "", **data) -> dict:
    answer = {"reply": frame_id, "ok": ok}
    if message:
        answer["message"] = message
    if data:
        answer["data"] = data
    return answer


def call_event(view: dict) -> dict:
    return {"event": "call", "data": view}
