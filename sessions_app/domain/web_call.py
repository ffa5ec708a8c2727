"""The customer's web audio/video call socket (`/ws/call/`): its requests, fields and events. Pure Python.

Frames are shaped like the chat visitor socket's: a request `{"id", "action", ...fields}` gets
`{"type": "reply", "id", "status": "success", "data"}` or `{..., "status": "error", "errorMsg"}`; events are
`{"type": "event", "event", "data"}`. Requests are declared in ACTIONS, events in EVENTS (built by `event()`);
the embeddable call widget (`static/call/call.js`) gets their names and limits from `widget_manifest()`, and a
test checks them and docs/web-calls.md against this module.

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

from .protocol import Method, MayOmit, Param, ProtocolError, checked_event, checked_frame

MAX_FRAME = 64 * 1024  # an SDP offer with video is 5-10 KB; room for many candidates
MAX_SDP = 60 * 1024
KIND_TYPES = {"audio": "voip", "video": "video"}
# start's optional callIn fields: name → longest value (the Session columns' lengths).
START_FIELDS = {"userId": 128, "nickname": 128, "avatar": 1024, "remark": 1024}
DEFAULT_NICKNAME = "Web caller"


def _caller_field(name: str, longest: int) -> Param:
    return Param(name, kind="text", max_length=longest, pattern=r"[^\x00]*",
                 message=f"{name} must be a string of at most {longest} characters")


UNKNOWN = "unknown field {name!r}"
ACTIONS: dict[str, Method] = {m.name: m for m in (
    Method("start", (
        Param("kind", required=True, choices=tuple(KIND_TYPES), message="kind must be audio or video"),
        Param("sdp", kind="text", required=True, pattern=r"v=0[\s\S]*", max_length=MAX_SDP,
              message="sdp must be the page's WebRTC offer (an SDP text starting with v=0)"),
        *(_caller_field(name, longest) for name, longest in START_FIELDS.items()),
        Param("skillGroupId", pattern=r"[0-9]{1,18}", max_length=18, default=None,
              message="skillGroupId must be a skill group's id"),
    ), result=("sessionId", "type", "sdp"), unknown=UNKNOWN),
    Method("hangUp", unknown=UNKNOWN),
)}

EVENTS = {
    "queued": {"sessionId": str},
    "ringing": {"sessionId": str},
    "accepted": {"sessionId": str, "agentNickname": str},
    "ended": {"sessionId": str, "closeBy": str, "endStatus": str},
}
# The first frame: the caller's visitor id, and the ICE servers to use when the deployment names some.
WELCOME = {"visitorId": str, "rtcConfiguration": MayOmit(dict)}


def call_request(frame) -> tuple[str, dict]:
    """Check a decoded request; return its action and cleaned fields (the callIn fields under spec names)."""
    if not isinstance(frame, dict):
        raise ProtocolError("a request must be a JSON object")
    action = frame.get("action")
    if not isinstance(action, str) or action not in ACTIONS:
        raise ProtocolError(f"action must be {' or '.join(ACTIONS)}")
    cleaned = ACTIONS[action].clean({name: value for name, value in frame.items() if name not in ("id", "action")})
    if action == "hangUp":
        return action, {}
    fields = {name: cleaned[python].strip() for name, python in _CALLER_FIELDS.items() if python in cleaned}
    fields.setdefault("nickname", DEFAULT_NICKNAME)
    return action, {"kind": cleaned["kind"], "sdp": cleaned["sdp"], "fields": fields,
                    "skill_group_id": cleaned["skill_group_id"]}


_CALLER_FIELDS = {param.name: param.python_name for param in ACTIONS["start"].params if param.name in START_FIELDS}


def event(name: str, **fields) -> dict:
    """A caller event frame, checked against EVENTS."""
    return checked_event(EVENTS, name, **fields)


def welcome(**fields) -> dict:
    return checked_frame("welcome", WELCOME, **fields)


def widget_manifest() -> dict:
    """What the call widget mirrors of this module (injected into `/widget/call.js`)."""
    return {"events": list(EVENTS), "startFields": [name for name in ACTIONS["start"].param_names
                                                    if name not in ("kind", "sdp")], "maxSdp": MAX_SDP}
