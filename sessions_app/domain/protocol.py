"""The SDK protocol, defined once: every RPC method with its parameter schema, every event with its fields.

The consumer dispatches by looking a method up here, the JS SDK builds its RPC methods from `sdk_manifest()`
(injected into the served script), and a test checks both against `docs/sdk-reference.md`. Names stay as the
spec spells them (`sessionId`, `hungUp`); services receive Python names (see `Param.python_name`).
The customers' channels declare theirs with the same `Method` and `Param` (`domain/chat.py`, `domain/web_call.py`)
and build their events with `checked_event`, which checks each field's type too.
Pure Python: no Django, no I/O.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

MAX_TEXT = 1024
# Requests one SDK connection may have waiting for their answer at once. Every request waits on the process's one
# database thread, so a connection with thousands queued there delays every other connection's; past this many,
# a request is answered at once with TOO_MANY_REQUESTS instead of being carried out.
MAX_REQUESTS_IN_FLIGHT = 32
TOO_MANY_REQUESTS = (f"too many requests in flight on this connection (at most {MAX_REQUESTS_IN_FLIGHT}): "
                     "wait for earlier replies")


class ProtocolError(ValueError):
    """A request that does not fit the protocol; its message becomes the reply's `errorMsg`."""


ABSENT = object()  # a Param's default when a missing value stays missing
LARGEST_COUNT = 2**31


@dataclass(frozen=True)
class Param:
    """One parameter: `kind` is string (a number is taken as its text) | text (a string only) | integer (a whole
    number from 0) | boolean | string[] | any (passed on as sent, to an operation that checks it). `message`,
    when set, is the one error for any bad value (channels whose clients read it); `default` is what a missing
    value becomes (ABSENT: left out)."""
    name: str
    kind: str = "string"
    required: bool = False
    choices: tuple[str, ...] = ()
    pattern: str = ""
    max_length: int = MAX_TEXT
    message: str = ""
    default: object = ABSENT

    @property
    def python_name(self) -> str:
        return re.sub(r"(?<!^)(?=[A-Z])", "_", self.name).lower()

    def clean(self, value):
        if not self.message:
            return self._clean(value)
        try:
            return self._clean(value)
        except ProtocolError:
            raise ProtocolError(self.message) from None

    def _clean(self, value):
        if self.kind == "any":
            return value
        if self.kind == "integer":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= LARGEST_COUNT:
                raise ProtocolError(f"{self.name} must be a whole number of at least 0")
            return value
        if self.kind == "text" and not isinstance(value, str):
            raise ProtocolError(f"{self.name} must be a string")
        if self.kind == "boolean":
            if not isinstance(value, bool):
                raise ProtocolError(f"{self.name} must be a boolean")
            return value
        if self.kind == "string[]":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ProtocolError(f"{self.name} must be a list of strings")
            if len(value) > 50 or any(len(v) > self.max_length for v in value):
                raise ProtocolError(f"{self.name} is too long")
            return value
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ProtocolError(f"{self.name} must be a string")
        value = str(value)
        if self.required and self.kind == "string" and not value.strip():
            raise ProtocolError(f"{self.name} must not be empty")
        if len(value) > self.max_length:
            raise ProtocolError(f"{self.name} is longer than {self.max_length} characters")
        if self.choices and value not in self.choices:
            raise ProtocolError(f"{self.name} must be one of: {', '.join(self.choices)}")
        if self.pattern and not re.fullmatch(self.pattern, value):
            raise ProtocolError(f"{self.name} {value!r} is not valid")
        return value


@dataclass(frozen=True)
class Method:
    """A request: its parameters and its result's fields. `unknown` words the refusal of a parameter not
    declared ({name}, {method}); empty: such parameters are ignored (the chat visitor's socket)."""
    name: str
    params: tuple[Param, ...] = ()
    result: tuple[str, ...] = field(default=())
    unknown: str = "unknown parameter {name!r} for {method}"

    def clean(self, params) -> dict:
        """Return the parameters under their Python names, or raise ProtocolError naming the problem."""
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise ProtocolError("params must be an object")
        known = {p.name: p for p in self.params}
        unknown = sorted(set(params) - set(known))
        if unknown and self.unknown:
            raise ProtocolError(self.unknown.format(name=unknown[0], method=self.name))
        cleaned = {}
        for param in self.params:
            value = params.get(param.name)
            if value is None or value == "" and not param.required and param.kind != "any":
                if param.required:
                    raise ProtocolError(param.message or f"{param.name} is required")
                if param.default is not ABSENT:
                    cleaned[param.python_name] = param.default
                continue
            cleaned[param.python_name] = param.clean(value)
        return cleaned

    @property
    def param_names(self) -> list[str]:
        return [param.name for param in self.params]


@dataclass(frozen=True)
class MayOmit:
    """A frame's field that may be left out; when present, of these types."""
    types: type | tuple[type, ...]


# A frame's fields and their types, for the channels whose frames are checked field by field and type by type.
FrameFields = Mapping[str, "type | tuple[type, ...] | MayOmit"]


def checked_event(declared: Mapping[str, FrameFields], name: str, **fields) -> dict:
    """An event frame `{"type": "event", "event", "data"}` whose fields are exactly its declaration's, each of
    its declared type; anything else raises (a payload that drifted from its channel's protocol is a bug)."""
    if name not in declared:
        raise KeyError(f"no event {name!r} in this channel")
    check_fields(name, declared[name], fields)
    return {"type": "event", "event": name, "data": fields}


def checked_frame(frame_type: str, declared: FrameFields, **fields) -> dict:
    """A frame other than an event or a reply (`welcome`, `refused`): `{"type", ...fields}`, checked as events are."""
    check_fields(frame_type, declared, fields)
    return {"type": frame_type, **fields}


def check_fields(what: str, declared: FrameFields, fields: dict) -> None:
    required = {name for name, types in declared.items() if not isinstance(types, MayOmit)}
    drift = sorted(set(fields) - set(declared)) or sorted(required - set(fields))
    if drift:
        raise KeyError(f"{what} has no field {drift[0]}" if drift[0] in fields else f"{what} needs field {drift[0]}")
    for field_name, value in fields.items():
        types = declared[field_name]
        types = types.types if isinstance(types, MayOmit) else types
        if not isinstance(value, types) or isinstance(value, bool) and bool not in _as_tuple(types):
            raise TypeError(f"{what}.{field_name} must be {_type_names(types)}, not {type(value).__name__}")


# What a customer's socket sends when it will not serve the page (the chat visitor's and the web caller's).
REFUSED: FrameFields = {"errorMsg": str}


def _as_tuple(types) -> tuple:
    return types if isinstance(types, tuple) else (types,)


def _type_names(types) -> str:
    return " or ".join(t.__name__ for t in _as_tuple(types))


def type_name(types) -> str:
    """A field's type as the channels' docs name it."""
    types = types.types if isinstance(types, MayOmit) else types
    return " or ".join(JSON_TYPES[t] for t in _as_tuple(types))


JSON_TYPES = {str: "string", int: "number", bool: "boolean", dict: "object", list: "array", type(None): "null"}


SESSION_ID = Param("sessionId", required=True, max_length=64)
TRANSFER_TARGETS = (Param("skillGroupId", max_length=64), Param("userId", max_length=128))
AGENT_STATUSES = ("free", "rest", "arrange", "notReady", "stopNotReady")
DTMF_PATTERN = r"[0-9*#A-D]{1,32}"


def _session_method(name: str, *extra: Param, result: tuple[str, ...] = ()) -> Method:
    return Method(name, (SESSION_ID, *extra), result)


METHODS: dict[str, Method] = {m.name: m for m in (
    Method("Call.startOutboundCall", (
        Param("phoneNumber", required=True, max_length=64),
        Param("phoneDesc", max_length=128),
        Param("uui", max_length=MAX_TEXT),
        Param("skillGroupId", max_length=64),
        Param("callerPhoneNumber", max_length=64),
        Param("servingNumberGroupIds", kind="string[]", max_length=64),
        Param("phoneEncodeType", choices=("number",)),
    ), result=("sessionId", "calleePhoneNumber", "callerPhoneNumber", "calleeLocation", "serverType", "remark")),
    _session_method("Call.accept"),
    _session_method("Call.hungUp"),
    _session_method("Call.deleteCall"),
    _session_method("Call.muteMic"),
    _session_method("Call.unmuteMic"),
    _session_method("Call.isMicMuted", result=("muted",)),
    Method("Call.startInternalCall", (
        Param("calleeUserId", required=True, max_length=128),
        Param("useMobile", kind="boolean"),
    ), result=("sessionId",)),
    _session_method("Call.transfer", *TRANSFER_TARGETS),
    _session_method("Call.hold"),
    _session_method("Call.unHold"),
    _session_method("Call.sendDigits", Param("dtmfText", pattern=DTMF_PATTERN, max_length=32)),
    _session_method("Chat.accept"),
    _session_method("Chat.end"),
    _session_method("Chat.transfer", *TRANSFER_TARGETS),
    _session_method("Video.accept"),
    _session_method("Video.end"),
    _session_method("Video.muteMic"),
    _session_method("Video.unmuteMic"),
    _session_method("Video.muteVideo"),
    _session_method("Video.unmuteVideo"),
    _session_method("Video.transfer", *TRANSFER_TARGETS),
    Method("Agent.online"),
    Method("Agent.offline"),
    Method("Agent.setStatus", (
        Param("status", required=True, choices=AGENT_STATUSES),
        Param("restReason", max_length=128),
    )),
    Method("Agent.getStatus", result=("status", "restReason", "statusSince")),
)}

# Methods the SDK's own media code calls to connect the agent's WebRTC leg to the bridge; not on `window.tccc`.
MAX_SDP = 60 * 1024
MEDIA_METHODS: dict[str, Method] = {m.name: m for m in (
    Method("Media.connect", (SESSION_ID, Param("sdp", required=True, max_length=MAX_SDP)), result=("sdp",)),
    Method("Media.disconnect", (SESSION_ID,)),
)}

SDK_METHODS: dict[str, Method] = {**MEDIA_METHODS, **METHODS}  # every method the SDK's socket takes

# Methods the SDK answers in the browser alone (devices, its own UI); listed so the spec check sees all names.
LOCAL_METHODS: tuple[str, ...] = (
    "Devices.isBrowserSupported", "Devices.getMicrophones", "Devices.getSpeakers",
    "UI.hide", "UI.show", "UI.showfloatButton", "UI.hidefloatButton", "UI.showWorkbench", "UI.hideWorkbench",
)

CALL_IN_FIELDS: dict[str, tuple[str, ...]] = {
    "phone": ("calleePhoneNumber", "callerPhoneNumber", "callerLocation", "remark", "ivrPath",
              "protectedCallee", "protectedCaller"),
    "im": ("nickname", "avatar", "remark", "peerSource", "channelName", "clientData"),
    "voip": ("callee", "calleeRemark", "userId", "nickname", "avatar", "remark", "peerSource", "ivrPath"),
    "video": ("userId", "nickname", "avatar", "remark"),
    "internal": ("peerUserId",),
}
SESSION_TYPES = tuple(CALL_IN_FIELDS)

EVENTS: dict[str, tuple[str, ...]] = {
    "ready": (),
    "tokenExpired": (),
    "callIn": ("sessionId", "type", "timeout"),  # plus CALL_IN_FIELDS[type]
    "userAccessed": ("sessionId",),
    "autoTransfer": ("sessionId",),
    "sessionEnded": ("sessionId", "type", "duration", "closeBy"),
    "sessionCompleted": ("sessionId",),
    "callOuted": ("sessionId", "calleePhoneNumber", "callerPhoneNumber", "protectedCallee", "remark"),
    "calloutAccepted": ("sessionId",),
    "transfer": ("sessionId", "skillGroupId", "userId"),
}


def decode_json(text: str | bytes, check_unicode: bool = True):
    """Parse JSON text, refusing what no UTF-8 database could store (lone UTF-16 surrogates like "\\ud800")."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise ProtocolError("the request is not valid JSON") from None
    if check_unicode:
        require_unicode(value)
    return value


def require_unicode(value) -> None:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ProtocolError("the request contains text that is not valid Unicode") from None


def request_id(frame) -> int | str:
    """The request's id, which its reply echoes; a request without one is not carried out."""
    value = frame.get("id") if isinstance(frame, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, str)) or isinstance(value, str) and len(value) > 64:
        raise ProtocolError("id is required: a number or a string of at most 64 characters")
    require_unicode(value)
    return value


def named_method(frame, key: str, table: Mapping[str, Method]) -> Method:
    """The method a decoded request names in its `key` field ("method" for the SDK, "action" for a widget), from
    `table`; ProtocolError for a frame that is not an object, names none, or names one not in the table."""
    if not isinstance(frame, dict):
        raise ProtocolError("a request must be a JSON object")
    name = frame.get(key)
    if not isinstance(name, str) or not name:
        raise ProtocolError(f"{key} is required")
    if name not in table:
        raise ProtocolError(f"unknown {key} {name[:64]!r}")
    return table[name]


def validate_request(frame) -> tuple[Method, dict]:
    """Check a decoded request frame; return its method and cleaned parameters."""
    method = named_method(frame, "method", SDK_METHODS)
    return method, method.clean(frame.get("params"))


def event(name: str, **fields) -> dict:
    """Build an event frame, checking its fields against EVENTS so no payload drifts from the spec."""
    allowed = set(EVENTS[name])
    if name == "callIn":
        allowed |= set(CALL_IN_FIELDS[fields["type"]])
    extra = set(fields) - allowed
    if extra:
        raise KeyError(f"{name} has no field {sorted(extra)[0]}")
    return {"type": "event", "event": name, "data": fields}


def sdk_manifest(phone_media: bool = False) -> dict:
    """What the JS SDK needs to mirror this module: RPC method names and event names, and the session types
    whose media the agent's page carries (phone too when a SIP gateway bridges phone calls)."""
    media_types = ["voip", "video", "internal"] + (["phone"] if phone_media else [])
    return {"methods": sorted(METHODS), "events": sorted(EVENTS), "mediaTypes": media_types}
