"""Bad input over a real websocket: every refused request answers an error naming the problem and changes nothing.

Covers, per RPC method of `protocol.METHODS`: missing, ill-typed and unknown parameters, unknown sessions,
other agents' sessions, sessions of another namespace and the wrong state; then malformed frames (the
connection stays) and refused handshakes (close codes 4001 and 4003, HTTP 403 for a foreign origin).
"""
import json
import re

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from sessions_app.domain import protocol
from sessions_app.models import Agent, Cdr, ServeParticipant, Session

from .conftest import SdkClient, api_session, socket_headers

pytestmark = pytest.mark.service

SESSION_METHODS = sorted(name for name, m in protocol.METHODS.items() if "sessionId" in {p.name for p in m.params})
NAMESPACE_TYPE = {"Call": "phone", "Chat": "im", "Video": "video"}
OTHER_NAMESPACE_TYPE = {"Call": "im", "Chat": "phone", "Video": "phone"}
CUSTOMER_FIELDS = {"phone": {"calleePhoneNumber": "1000"}, "im": {"nickname": "Visitor"},
                   "voip": {"userId": "openid-1"}, "video": {"userId": "openid-1"}}
ACCEPT = {"phone": "Call.accept", "voip": "Call.accept", "im": "Chat.accept", "video": "Video.accept"}
END = {"phone": "Call.hungUp", "voip": "Call.hungUp", "im": "Chat.end", "video": "Video.end"}
# Parameters besides sessionId that make a request otherwise valid, so the session check is what refuses it.
VALID_EXTRAS = {"Call.transfer": {"userId": "agent2@demo"}, "Chat.transfer": {"userId": "agent2@demo"},
                "Video.transfer": {"userId": "agent2@demo"}, "Call.sendDigits": {"dtmfText": "1"}}
# Methods that need a session in progress with the caller (everything but answering, ending and reading).
NEEDS_ACTIVE = sorted(set(SESSION_METHODS) - {"Call.accept", "Chat.accept", "Video.accept", "Call.hungUp",
                                               "Chat.end", "Video.end", "Call.deleteCall", "Call.isMicMuted"})


def session_type_for(method: str) -> str:
    return NAMESPACE_TYPE[method.split(".")[0]]


def request(method: str, session_id, **extra) -> dict:
    return {"sessionId": session_id, **VALID_EXTRAS.get(method, {}), **extra}


@database_sync_to_async
def snapshot() -> dict:
    """What a refused request must leave alone: sessions, who served them, agents' statuses, CDRs."""
    return {
        "sessions": list(Session.objects.order_by("pk").values()),
        "participants": list(ServeParticipant.objects.order_by("pk").values()),
        "agents": list(Agent.objects.order_by("pk").values(
            "pk", "status", "rest_reason", "status_since", "available_since", "arrange_deadline", "last_offered_at")),
        "cdrs": list(Cdr.objects.order_by("pk").values_list("session_id", flat=True)),
    }


async def refused(client: SdkClient, method: str, params, expected: str | re.Pattern) -> str:
    """Call `method`, assert the reply is an error whose errorMsg contains `expected` (a string or a regular
    expression), and that nothing changed."""
    before = await snapshot()
    reply = await client.call(method, **params)
    assert reply["status"] == "error", reply
    assert isinstance(reply["errorMsg"], str), reply
    if isinstance(expected, re.Pattern):
        assert expected.search(reply["errorMsg"]), reply
    else:
        assert expected in reply["errorMsg"], reply
    assert "internal error" not in reply["errorMsg"]
    assert await snapshot() == before
    return reply["errorMsg"]


async def ringing_session(sdk, demo, session_type: str, user_id: str = "agent1@demo"):
    """A session offered to `user_id`, who is the only agent connected when it arrives."""
    client = await sdk(user_id)
    session_id = await api_session(demo, session_type, **CUSTOMER_FIELDS[session_type])
    assert (await client.event("callIn"))["sessionId"] == session_id
    return client, session_id


async def active_session(sdk, demo, session_type: str):
    client, session_id = await ringing_session(sdk, demo, session_type)
    assert (await client.call(ACCEPT[session_type], sessionId=session_id))["status"] == "success"
    return client, session_id


async def ended_session(sdk, demo, session_type: str):
    client, session_id = await active_session(sdk, demo, session_type)
    assert (await client.call(END[session_type], sessionId=session_id))["status"] == "success"
    await client.event("sessionEnded")
    return client, session_id


# Session methods: sessionId missing, ill-typed, unknown.

@pytest.mark.parametrize("method", SESSION_METHODS)
async def test_missing_session_id_is_refused(sdk, method):
    client = await sdk()
    await refused(client, method, VALID_EXTRAS.get(method, {}), "sessionId is required")


@pytest.mark.parametrize("method", SESSION_METHODS)
@pytest.mark.parametrize("bad_id", [[1, 2], {"id": "x"}, True, 1.5, "", "   "], ids=repr)
async def test_ill_typed_or_empty_session_id_is_refused(sdk, method, bad_id):
    client = await sdk()
    expected = "sessionId must not be empty" if isinstance(bad_id, str) else "sessionId must be a string"
    await refused(client, method, request(method, bad_id), expected)


@pytest.mark.parametrize("method", SESSION_METHODS)
@pytest.mark.parametrize("unknown_id", ["0123456789abcdef", 12345], ids=repr)
async def test_unknown_session_id_is_refused(sdk, demo, method, unknown_id):
    """A number is taken as the string it spells (ids are strings); neither names a session."""
    client, _ = await ringing_session(sdk, demo, session_type_for(method))
    await refused(client, method, request(method, unknown_id), f"no session '{unknown_id}'")


@pytest.mark.parametrize("method", SESSION_METHODS)
async def test_too_long_session_id_is_refused(sdk, method):
    client = await sdk()
    await refused(client, method, request(method, "a" * 65), "sessionId is longer than 64 characters")


# Session methods: another agent's session, another namespace, the wrong state.

@pytest.mark.parametrize("method", SESSION_METHODS)
async def test_another_agents_session_is_refused(sdk, demo, method):
    _, session_id = await ringing_session(sdk, demo, session_type_for(method), user_id="agent2@demo")
    intruder = await sdk("agent1@demo")
    await refused(intruder, method, request(method, session_id), f"session {session_id} is not yours")


@pytest.mark.parametrize("method", [m for m in SESSION_METHODS if m != "Call.deleteCall"])
async def test_session_of_another_namespace_is_refused(sdk, demo, method):
    session_type = OTHER_NAMESPACE_TYPE[method.split(".")[0]]
    client, session_id = await ringing_session(sdk, demo, session_type)
    await refused(client, method, request(method, session_id),
                  re.compile(f"session {session_id} is an? {session_type} session"))


@pytest.mark.parametrize("method", [m for m in SESSION_METHODS if m != "Call.deleteCall"])
async def test_wrong_namespace_error_points_only_to_methods_that_exist(sdk, demo, method):
    """The hint `use tccc.X.y` must name a real method; Chat.hold or Video.sendDigits do not exist."""
    session_type = OTHER_NAMESPACE_TYPE[method.split(".")[0]]
    client, session_id = await ringing_session(sdk, demo, session_type)
    error = await refused(client, method, request(method, session_id), re.compile(f"is an? {session_type} session"))
    hint = re.search(r"tccc\.(\w+\.\w+)", error)
    assert hint is None or hint.group(1) in protocol.METHODS, error


@pytest.mark.parametrize("method", NEEDS_ACTIVE)
async def test_method_needing_a_call_in_progress_is_refused_while_ringing(sdk, demo, method):
    client, session_id = await ringing_session(sdk, demo, session_type_for(method))
    await refused(client, method, request(method, session_id), f"session {session_id} is not in progress with you")


@pytest.mark.parametrize("method", sorted(set(SESSION_METHODS) - {"Call.deleteCall", "Call.isMicMuted"}))
async def test_method_on_an_ended_session_is_refused(sdk, demo, method):
    client, session_id = await ended_session(sdk, demo, session_type_for(method))
    await refused(client, method, request(method, session_id), "ended")


@pytest.mark.parametrize("session_type", ["phone", "im"])
async def test_delete_call_while_ringing_or_active_is_refused(sdk, demo, session_type):
    client, session_id = await ringing_session(sdk, demo, session_type)
    await refused(client, "Call.deleteCall", {"sessionId": session_id}, "is still in progress: end it first")
    accept = "Call.accept" if session_type == "phone" else "Chat.accept"
    assert (await client.call(accept, sessionId=session_id))["status"] == "success"
    await refused(client, "Call.deleteCall", {"sessionId": session_id}, "is still in progress: end it first")


async def test_accept_of_a_session_ringing_for_another_agent_who_once_had_it_is_refused(sdk, demo):
    """An agent who rejected an offer is involved in the session but may not take it back from the next agent."""
    first, session_id = await ringing_session(sdk, demo, "phone")
    second = await sdk("agent2@demo")
    await first.call("Agent.setStatus", status="notReady")
    assert (await first.call("Call.hungUp", sessionId=session_id))["status"] == "success"
    assert (await second.event("callIn"))["sessionId"] == session_id
    await refused(first, "Call.accept", {"sessionId": session_id}, f"session {session_id} is not ringing for you")
    await refused(first, "Call.hold", {"sessionId": session_id}, f"session {session_id} is not in progress with you")


SESSION_IN = {"ringing": ringing_session, "active": active_session, "ended": ended_session}


@pytest.mark.parametrize(("state", "session_type", "method", "params", "message"), [
    pytest.param("active", "phone", "Call.accept", {}, "session {session_id} is already accepted", id="second-accept"),
    pytest.param("active", "phone", "Call.unHold", {}, "the call is not on hold", id="unhold-not-held"),
    pytest.param("active", "phone", "Call.unmuteMic", {}, "the microphone is not muted", id="unmute-not-muted"),
    pytest.param("active", "video", "Video.unmuteVideo", {}, "the camera is already on", id="camera-already-on"),
    pytest.param("active", "video", "Video.unmuteMic", {}, "the microphone is not muted", id="video-unmute-not-muted"),
    pytest.param("active", "voip", "Call.sendDigits", {"dtmfText": "1"}, "sendDigits works on phone",
                 id="digits-on-web-audio"),
    pytest.param("ringing", "im", "Media.connect", {"sdp": "v=0"}, "it has no web media", id="media-for-web-chat"),
    pytest.param("ended", "voip", "Media.connect", {"sdp": "v=0"}, "session {session_id} has ended",
                 id="media-for-ended-call"),
])
async def test_request_the_sessions_kind_or_state_does_not_allow_is_refused(sdk, demo, state, session_type, method,
                                                                              params, message):
    """A `state` session of `session_type`, with the agent it is offered to, refuses `method`."""
    client, session_id = await SESSION_IN[state](sdk, demo, session_type)
    await refused(client, method, {"sessionId": session_id, **params}, message.format(session_id=session_id))


# Parameters other than sessionId.

@pytest.mark.parametrize("method", sorted(protocol.METHODS))
async def test_unknown_parameter_is_refused(sdk, method):
    client = await sdk()
    await refused(client, method, {"bogus": 1}, f"unknown parameter 'bogus' for {method}")


@pytest.mark.parametrize(("params", "message"), [
    ({}, "status is required"),
    ({"status": "dancing"}, "status must be one of: free, rest, arrange, notReady, stopNotReady"),
    ({"status": 1}, "status must be one of"),
    ({"status": ["free"]}, "status must be a string"),
    ({"status": "free", "restReason": "lunch"}, "restReason goes only with status rest"),
    ({"status": "notReady", "restReason": "lunch"}, "restReason goes only with status rest"),
    ({"status": "stopNotReady"}, "stopNotReady ends notReady, but the agent is free"),
    ({"status": "rest", "restReason": "x" * 129}, "restReason is longer than 128 characters"),
    ({"status": "rest", "restReason": 5.5}, "restReason must be a string"),
])
async def test_bad_set_status_is_refused(sdk, params, message):
    client = await sdk()
    await refused(client, "Agent.setStatus", params, message)


async def test_set_status_while_offline_is_refused(sdk):
    client = await sdk()
    assert (await client.call("Agent.offline"))["status"] == "success"
    await refused(client, "Agent.setStatus", {"status": "free"}, "the agent is offline")


@pytest.mark.parametrize(("params", "message"), [
    ({"dtmfText": "12x"}, "dtmfText '12x' is not valid"),
    ({"dtmfText": "1" * 33}, "dtmfText is longer than 32 characters"),
    ({"dtmfText": ["1"]}, "dtmfText must be a string"),
    ({}, "dtmfText is required"),
])
async def test_bad_send_digits_is_refused(sdk, demo, params, message):
    client, session_id = await active_session(sdk, demo, "phone")
    await refused(client, "Call.sendDigits", {"sessionId": session_id, **params}, message)


@pytest.mark.parametrize(("params", "message"), [
    ({}, "phoneNumber is required"),
    ({"phoneNumber": "abc"}, "phoneNumber 'abc' is neither a phone number nor a protected id"),
    ({"phoneNumber": "12"}, "phoneNumber '12' is neither a phone number nor a protected id"),
    ({"phoneNumber": {"n": 1}}, "phoneNumber must be a string"),
    ({"phoneNumber": "10086", "phoneEncodeType": "text"}, "phoneEncodeType must be one of: number"),
    ({"phoneNumber": "10086", "servingNumberGroupIds": "1"}, "servingNumberGroupIds must be a list of strings"),
    ({"phoneNumber": "10086", "servingNumberGroupIds": ["999999"]}, "no number group among"),
    ({"phoneNumber": "10086", "callerPhoneNumber": "555"}, "callerPhoneNumber 555 is not one of this center's"),
    ({"phoneNumber": "10086", "skillGroupId": "999999"}, "no skill group '999999'"),
])
async def test_bad_outbound_call_is_refused(sdk, params, message):
    client = await sdk()
    await refused(client, "Call.startOutboundCall", params, message)


@pytest.mark.parametrize(("params", "message"), [
    ({}, "calleeUserId is required"),
    ({"calleeUserId": "agent1@demo"}, "an agent cannot call themself"),
    ({"calleeUserId": "ghost@demo"}, "no agent 'ghost@demo'"),
    ({"calleeUserId": "agent3@demo"}, "agent agent3@demo cannot take a call now (status offline)"),
    ({"calleeUserId": "agent2@demo", "useMobile": True}, "has no mobile number"),
    ({"calleeUserId": "agent2@demo", "useMobile": "yes"}, "useMobile must be a boolean"),
])
async def test_bad_internal_call_is_refused(sdk, params, message):
    client = await sdk()
    await sdk("agent2@demo")
    await refused(client, "Call.startInternalCall", params, message)


async def test_internal_call_while_on_a_call_is_refused(sdk, demo):
    client, _ = await active_session(sdk, demo, "phone")
    await sdk("agent2@demo")
    await refused(client, "Call.startInternalCall", {"calleeUserId": "agent2@demo"}, "you are already on a call")


@pytest.mark.parametrize("method", ["Call.transfer", "Chat.transfer", "Video.transfer"])
@pytest.mark.parametrize(("target", "message"), [
    ({}, "transfer needs exactly one of skillGroupId or userId"),
    ({"userId": "agent2@demo", "skillGroupId": "GROUP"}, "transfer needs exactly one of skillGroupId or userId"),
    ({"userId": "agent1@demo"}, "a session cannot be transferred to yourself"),
    ({"userId": "ghost@demo"}, "no agent 'ghost@demo'"),
    ({"userId": "agent3@demo"}, "agent agent3@demo cannot take it now (status offline)"),
    ({"skillGroupId": "999999"}, "no skill group '999999'"),
    ({"skillGroupId": "abc"}, "no skill group 'abc'"),
    ({"skillGroupId": ["1"]}, "skillGroupId must be a string"),
])
async def test_bad_transfer_is_refused(sdk, demo, method, target, message):
    session_type = session_type_for(method)
    client, session_id = await active_session(sdk, demo, session_type)
    await sdk("agent2@demo")
    target = {k: str(demo["skillGroups"][session_type]) if v == "GROUP" else v for k, v in target.items()}
    await refused(client, method, {"sessionId": session_id, **target}, message)


# Frames that are not requests: an error reply, and the connection keeps answering.

async def next_reply(client: SdkClient) -> dict:
    while True:
        frame = await client.frame()
        if frame.get("type") == "reply":
            return frame
        client.events.append(frame)


async def assert_still_answers(client: SdkClient):
    reply = await client.call("Agent.getStatus")
    assert reply["status"] == "success" and reply["data"]["status"] in ("free", "notReady"), reply


NOT_AN_OBJECT = re.compile("a request must be a JSON object|id is required")


@pytest.mark.parametrize(("frame", "request_id", "message"), [
    ("{nope", None, "the request is not valid JSON"),
    ("   ", None, "the request is not valid JSON"),
    ('{"id": 1, "method": "Agent.getStatus"', None, "the request is not valid JSON"),
    ('[{"id": 1, "method": "Agent.getStatus"}]', None, NOT_AN_OBJECT),
    ('"Agent.getStatus"', None, NOT_AN_OBJECT),
    ("null", None, NOT_AN_OBJECT),
    ('{"id": 5}', 5, "method is required"),
    ('{"id": "abc", "method": 42}', "abc", "method is required"),
    ('{"id": 6, "method": "Call.explode"}', 6, "unknown method 'Call.explode'"),
    ('{"id": 7, "method": "Agent.setStatus", "params": [1]}', 7, "params must be an object"),
    ('{"id": 8, "method": "Agent.setStatus", "params": "free"}', 8, "params must be an object"),
    ('{"id": 9, "method": "Agent.setStatus", "params": {"status": "free", "x": 1}}', 9, "unknown parameter 'x'"),
], ids=repr)
async def test_malformed_frame_gets_an_error_reply_and_the_connection_stays(sdk, frame, request_id, message):
    client = await sdk()
    before = await snapshot()
    await client.communicator.send_to(text_data=frame)
    reply = await next_reply(client)
    assert reply["status"] == "error" and reply["id"] == request_id, reply
    assert re.search(message, reply["errorMsg"]), reply
    assert await snapshot() == before
    await assert_still_answers(client)


@pytest.mark.parametrize("bad_id", [{"x": 1}, [1], True, "MISSING"], ids=repr)
async def test_request_without_a_usable_id_is_answered_with_an_error_and_not_carried_out(sdk, bad_id):
    """docs/wire-protocol.md: a frame that has no usable id gets an error reply with id null."""
    client = await sdk()
    before = await snapshot()
    frame = {"method": "Agent.setStatus", "params": {"status": "notReady"}}
    if bad_id != "MISSING":
        frame["id"] = bad_id
    await client.communicator.send_to(text_data=json.dumps(frame))
    reply = await next_reply(client)
    assert reply["status"] == "error" and reply["id"] is None and re.search(r"\bid\b", reply["errorMsg"]), reply
    assert await snapshot() == before
    await assert_still_answers(client)


async def test_frame_over_64_kib_gets_an_error_reply(sdk):
    client = await sdk()
    before = await snapshot()
    frame = json.dumps({"id": 1, "method": "Agent.setStatus", "params": {"status": "rest", "restReason": "x" * 70000}})
    await client.communicator.send_to(text_data=frame)
    reply = await next_reply(client)
    assert reply["status"] == "error" and reply["id"] is None and "65536 bytes" in reply["errorMsg"], reply
    assert await snapshot() == before
    await assert_still_answers(client)


async def test_frame_over_64_kib_of_multibyte_text_gets_an_error_reply(sdk):
    """The limit is in bytes (the errorMsg says so): 30 000 euro signs are 90 000 bytes of UTF-8."""
    client = await sdk()
    before = await snapshot()
    frame = json.dumps({"id": 1, "method": "Agent.setStatus", "params": {"status": "notReady"}, "pad": "€" * 30000},
                       ensure_ascii=False)
    assert len(frame) < 65536 < len(frame.encode())
    await client.communicator.send_to(text_data=frame)
    reply = await next_reply(client)
    assert reply["status"] == "error" and "65536 bytes" in reply["errorMsg"], reply
    assert await snapshot() == before
    await assert_still_answers(client)


async def test_binary_frame_gets_an_error_reply(sdk):
    client = await sdk()
    await client.communicator.send_to(bytes_data=json.dumps({"id": 1, "method": "Agent.getStatus"}).encode())
    reply = await next_reply(client)
    assert reply["status"] == "error" and reply["id"] is None and "JSON text frame" in reply["errorMsg"], reply
    await assert_still_answers(client)


async def test_deeply_nested_json_gets_an_error_reply_not_an_internal_error(sdk):
    """Valid JSON nested deeper than the parser's recursion limit is still a request the server cannot read."""
    client = await sdk()
    await client.communicator.send_to(text_data="[" * 30000 + "]" * 30000)
    reply = await next_reply(client)
    assert reply["status"] == "error" and reply["id"] is None, reply
    assert "internal error" not in reply["errorMsg"], reply
    await assert_still_answers(client)


@pytest.mark.parametrize(("method", "params"), [
    ("Call.accept", {"sessionId": "\ud800"}),
    ("Agent.setStatus", {"status": "rest", "restReason": "tea \udfff"}),
    ("Call.startInternalCall", {"calleeUserId": "\ud83d"}),
    ("Call.startOutboundCall", {"phoneNumber": "10086", "callerPhoneNumber": "\ud800"}),
], ids=["sessionId", "restReason", "calleeUserId", "callerPhoneNumber"])
async def test_lone_surrogate_in_a_string_is_refused_with_a_reply_that_is_valid_utf8(sdk, method, params):
    """JSON may escape a lone UTF-16 surrogate (\\ud800): such a string can be neither stored nor sent back in a
    websocket text frame, which must be UTF-8."""
    client = await sdk()
    before = await snapshot()
    await client.communicator.send_to(text_data=json.dumps({"id": 1, "method": method, "params": params}))
    message = await client.communicator.output_queue.get()
    reply = json.loads(message["text"])
    assert reply["status"] == "error" and "internal error" not in reply["errorMsg"], reply
    assert reply["id"] == 1, reply  # the id was readable: the SDK must be able to match the reply to its request
    message["text"].encode("utf-8")  # what daphne does before sending the frame
    assert await snapshot() == before
    await assert_still_answers(client)


# The handshake.

async def handshake(query: str, origin: str = "http://127.0.0.1:5173"):
    from workbench.asgi import application

    communicator = WebsocketCommunicator(application, f"/ws/sdk/?{query}", headers=socket_headers(origin))
    connected, _ = await communicator.connect()
    return communicator, connected


async def assert_closed_after(communicator: WebsocketCommunicator, frame: dict, code: int):
    assert json.loads(await communicator.receive_from()) == frame
    closing = await communicator.receive_output()
    assert closing == {"type": "websocket.close", "code": code}
    await communicator.wait()


@database_sync_to_async
def token_for(user_id: str, ttl: int | None = None) -> str:
    from sessions_app.services import tokens

    return tokens.issue(Agent.objects.select_related("tenant").get(user_id=user_id), ttl=ttl)[0]


@database_sync_to_async
def agent_status(user_id: str) -> str:
    return Agent.objects.get(user_id=user_id).status


@pytest.mark.parametrize(("query", "message"), [
    ("sdkAppId=1400000001&userId=agent1@demo", "no token given"),
    ("token=&sdkAppId=1400000001&userId=agent1@demo", "no token given"),
    ("token=garbage&sdkAppId=1400000001&userId=agent1@demo", "the token is not valid"),
    ("token=TOKEN2&sdkAppId=1400000001&userId=agent1@demo", "the token was issued for another SdkAppId or userId"),
    ("token=TOKEN1&sdkAppId=1400000002&userId=agent1@demo", "the token was issued for another SdkAppId or userId"),
    ("resume=garbage", "the token is not valid"),
    ("resume=TOKEN1", "the token is not valid"),
], ids=["no-token", "empty-token", "garbage", "other-user", "other-app", "garbage-resume", "login-token-as-resume"])
async def test_bad_token_is_refused_with_close_code_4003(demo, query, message):
    query = query.replace("TOKEN1", await token_for("agent1@demo")).replace("TOKEN2", await token_for("agent2@demo"))
    communicator, connected = await handshake(query)
    assert connected
    await assert_closed_after(communicator, {"type": "refused", "errorMsg": message}, 4003)
    assert await agent_status("agent1@demo") == "offline"


async def test_expired_token_gets_token_expired_and_close_code_4001(demo):
    token = await token_for("agent1@demo", ttl=-1)
    communicator, connected = await handshake(f"token={token}&sdkAppId=1400000001&userId=agent1@demo")
    assert connected
    await assert_closed_after(communicator, {"type": "tokenExpired", "errorMsg": "the token has expired"}, 4001)
    assert await agent_status("agent1@demo") == "offline"


MALFORMED_CLAIMS = [
    {"a": "1400000001", "u": "agent1@demo", "e": "9999999999"},
    {"a": "1400000001", "u": ["agent1@demo"], "e": 9999999999},
    {"a": 1400000001, "u": "agent1@demo", "e": 9999999999},
    {"a": "1400000001", "u": "agent1@demo", "e": None},
    {"a": "1400000001", "u": "agent1@demo", "e": True},
    {"a": "1400000001", "u": "agent1@demo", "e": 1e300},
    ["1400000001", "agent1@demo", 9999999999],
    "agent1@demo",
]
MALFORMED_IDS = ["e-string", "u-list", "a-number", "e-null", "e-bool", "e-float", "a-list", "a-string"]


@pytest.mark.parametrize("claims", MALFORMED_CLAIMS, ids=MALFORMED_IDS)
@pytest.mark.parametrize("kind", ["token", "resume"])
async def test_a_token_signed_with_our_key_but_malformed_claims_is_refused_with_4003(demo, kind, claims):
    from django.core import signing

    from sessions_app.services import tokens

    salt = tokens.LOGIN_SALT if kind == "token" else tokens.RESUME_SALT
    token = signing.dumps(claims, salt=salt, compress=True)  # the server's own key: only the claims are wrong
    communicator, connected = await handshake(f"{kind}={token}&sdkAppId=1400000001&userId=agent1@demo")
    assert connected
    await assert_closed_after(communicator, {"type": "refused", "errorMsg": "the token is not valid"}, 4003)
    assert await agent_status("agent1@demo") == "offline"


@pytest.mark.parametrize("origin", ["http://evil.example", "", "null", "https://127.0.0.1:5173"])
async def test_foreign_origin_is_refused_at_the_handshake(demo, origin):
    token = await token_for("agent1@demo")
    communicator, connected = await handshake(f"token={token}&sdkAppId=1400000001&userId=agent1@demo", origin)
    assert not connected
    assert await agent_status("agent1@demo") == "offline"


# The SDK's media signalling (Media.connect / Media.disconnect, not on window.tccc).

async def test_media_connect_for_a_session_that_is_not_the_agents_or_has_no_media_is_refused(sdk, demo):
    _, session_id = await ringing_session(sdk, demo, "voip")
    other = await sdk("agent2@demo")
    await refused(other, "Media.connect", {"sessionId": session_id, "sdp": "v=0"},
                  f"session {session_id} is not ringing for you or in progress with you")
    await refused(other, "Media.connect", {"sessionId": "no-such-session", "sdp": "v=0"}, "no session 'no-such-session'")


@pytest.mark.parametrize(("params", "message"), [
    ({}, "sessionId is required"),
    ({"sessionId": "x"}, "sdp is required"),
    ({"sessionId": "x", "sdp": ["v=0"]}, "sdp must be a string"),
    ({"sessionId": "x", "sdp": "v" * (61 * 1024)}, "sdp is longer than 61440 characters"),
    ({"sessionId": "x", "sdp": "v=0", "video": True}, "unknown parameter 'video' for Media.connect"),
])
async def test_media_connect_with_bad_parameters_is_refused(sdk, params, message):
    await refused(await sdk(), "Media.connect", params, message)


async def test_media_connect_with_an_offer_the_bridge_cannot_read_is_refused_and_the_call_goes_on(sdk, demo):
    client, session_id = await ringing_session(sdk, demo, "voip")
    reply = await client.call("Media.connect", sessionId=session_id, sdp="v=0\r\nm=audio 9 RTP/AVP 0\r\n")
    assert reply["status"] == "error" and "the offer is not valid SDP" in reply["errorMsg"], reply
    assert (await client.call("Call.accept", sessionId=session_id))["status"] == "success"
