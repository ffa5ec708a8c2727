"""The customer's web audio/video call socket (`/ws/call/`): its requests, fields and events. Pure Python.

Frames are shaped like the chat visitor socket's: a request `{"id", "action", ...fields}` gets
`{"type": "reply", "id", "status": "success", "data"}` or `{..., "status": "error", "errorMsg"}`; events are
`{"type": "event", "event", "data"}`. The embeddable call widget (`static/call/call.js`) mirrors this module.

Requests:
- `start` {kind: "audio"|"video", sdp: the page's WebRTC offer, userId?, nickname?, avatar?, remark?,
  skillGroupId?} → {sessionId, type: "voip"|"video", sdp: the server's answer}. The call is queued for an
  agent at once; the customer hears queue music on the leg until an agent accepts.
- `hangUp` {} → null. Closing the socket hangs up too.
Events: `queued` {sessionId} (waiting for an agent again: an offer timed out or was rejected, or the call was
transferred to a skill group), `ringing` {sessionId} (an agent's phone rings), `accepted` {sessionId,
agentNickname}, `ended` {sessionId, closeBy, endStatus}.
"""
from __future__ import annotations

from .protocol import ProtocolError

MAX_FRAME = 64 * 1024  # an SDP offer with video is 5-10 KB; room for many candidates
MAX_SDP = 60 * 1024
KIND_TYPES = {"audio": "voip", "video": "video"}
# start's optional callIn fields: name → longest value (the Session columns' lengths).
START_FIELDS = {"userId": 128, "nickname": 128, "avatar": 1024, "remark": 1024}
DEFAULT_NICKNAME = "Web caller"


def call_request(frame) -> tuple[str, dict]:
    """Check a decoded request; return its action and cleaned fields (spec names)."""
    if not isinstance(frame, dict):
        raise ProtocolError("a request must be a JSON object")
    action = frame.get("action")
    if action == "hangUp":
        _no_extra(frame, set())
        return action, {}
    if action != "start":
        raise ProtocolError("action must be start or hangUp")
    _no_extra(frame, {"kind", "sdp", "skillGroupId", *START_FIELDS})
    kind = frame.get("kind")
    if kind not in KIND_TYPES:
        raise ProtocolError("kind must be audio or video")
    sdp = frame.get("sdp")
    if not isinstance(sdp, str) or not sdp.startswith("v=0") or len(sdp) > MAX_SDP:
        raise ProtocolError("sdp must be the page's WebRTC offer (an SDP text starting with v=0)")
    fields = {}
    for name, longest in START_FIELDS.items():
        value = frame.get(name)
        if value is None or value == "":
            continue
        if not isinstance(value, str) or len(value) > longest or "\x00" in value:
            raise ProtocolError(f"{name} must be a string of at most {longest} characters")
        fields[name] = value.strip()
    fields.setdefault("nickname", DEFAULT_NICKNAME)
    group = frame.get("skillGroupId")
    if group is not None and not (isinstance(group, (str, int)) and not isinstance(group, bool)
                                  and str(group).isdigit() and len(str(group)) <= 18):
        raise ProtocolError("skillGroupId must be a skill group's id")
    return action, {"kind": kind, "sdp": sdp, "fields": fields,
                    "skill_group_id": str(group) if group is not None else None}


def _no_extra(frame: dict, allowed: set) -> None:
    unknown = sorted(set(frame) - allowed - {"id", "action"})
    if unknown:
        raise ProtocolError(f"unknown field {unknown[0]!r}")
