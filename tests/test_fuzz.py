"""Property-based: random parameters to every RPC method, and random frames, never break the SDK websocket.

Each test keeps one event loop and the same websocket connections across all its hypothesis examples (the
examples draw their input synchronously, then run on that loop). After every example: each request got a
well-formed reply that is not an internal error, the connections still answer, and the database invariants of
routing hold.
"""
import asyncio
import json
import re
from dataclasses import dataclass

import pytest
from channels.db import database_sync_to_async
from django.db.models import Q
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sessions_app.domain import agent_state, protocol
from sessions_app.models import Agent, NumberGroup, ServeParticipant, Session, Tenant
from sessions_app.services import sessions as session_service

from .conftest import SdkClient

pytestmark = pytest.mark.service

FUZZ = settings(max_examples=20, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
REPLY_TIMEOUT = 10
AGENT_IDS = ["agent1@demo", "agent2@demo", "agent3@demo", "ghost@demo"]
ACCEPT = {"phone": "Call.accept", "voip": "Call.accept", "internal": "Call.accept", "im": "Chat.accept",
          "video": "Video.accept"}
END = {"phone": "Call.hungUp", "voip": "Call.hungUp", "internal": "Call.hungUp", "im": "Chat.end",
       "video": "Video.end"}
CUSTOMER_FIELDS = {"phone": {"calleePhoneNumber": "1000"}, "im": {"nickname": "Visitor"},
                   "voip": {"userId": "openid-1"}, "video": {"userId": "openid-1"}}


# Placeholders for values only known at run time (session ids, the demo's group ids).

@dataclass(frozen=True)
class LiveSession:
    """The `index`-th session of a pool: agent1's sessions of the method's namespace (in progress first),
    every session in progress, or every session."""
    index: int
    pool: str


@dataclass(frozen=True)
class SkillGroupRef:
    kind: str


@dataclass(frozen=True)
class NumberGroupRef:
    pass


junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6)

GOOD_VALUES = {
    "sessionId": st.builds(LiveSession, st.integers(0, 2), st.sampled_from(["mine", "mine", "live", "all"])),
    "status": st.sampled_from(protocol.AGENT_STATUSES),
    "restReason": st.text(max_size=12),
    "dtmfText": st.from_regex(protocol.DTMF_PATTERN, fullmatch=True) | st.just("12x"),
    "skillGroupId": st.builds(SkillGroupRef, st.sampled_from(protocol.SESSION_TYPES[:4])) | st.sampled_from(
        ["999999", "abc"]),
    "userId": st.sampled_from(AGENT_IDS),
    "calleeUserId": st.sampled_from(AGENT_IDS),
    "useMobile": st.booleans(),
    "phoneNumber": st.sampled_from(["10086", "+8613800000000", "1-800-555 0100", "abc", "12"]),
    "phoneDesc": st.text(max_size=12),
    "uui": st.text(max_size=12),
    "callerPhoneNumber": st.sampled_from(["008675586013388", "555"]),
    "servingNumberGroupIds": st.lists(st.just(NumberGroupRef()) | st.sampled_from(["999999", "x"]), max_size=2),
    "phoneEncodeType": st.sampled_from(["number", "text"]),
}


def params_for(method: protocol.Method):
    """Well-formed parameters (most often), the method's names with junk values, or junk names as well."""
    good = {p.name: GOOD_VALUES[p.name] for p in method.params}
    mixed = {name: value | junk for name, value in good.items()}
    required = {p.name for p in method.params if p.required}
    well_formed = st.fixed_dictionaries({n: v for n, v in good.items() if n in required},
                                        optional={n: v for n, v in good.items() if n not in required})
    if {"skillGroupId", "userId"} <= set(good):  # a well-formed transfer names exactly one target
        well_formed = st.one_of(well_formed, *(
            st.fixed_dictionaries({"sessionId": good["sessionId"], target: good[target]})
            for target in ("skillGroupId", "userId")))
    ill_typed = st.fixed_dictionaries({}, optional=mixed)
    any_names = st.dictionaries(st.sampled_from(sorted(good) or ["sessionId"]) | st.text(max_size=10), junk,
                                max_size=4)
    return st.one_of(well_formed, well_formed, well_formed, ill_typed, any_names)


def setup_steps(method: str):
    """Ways the center moves between requests; customers mostly arrive on the method's own channel."""
    own_types = session_service.NAMESPACE_TYPES.get(method.split(".")[0], ("phone",))
    arrivals = (st.sampled_from([t for t in own_types if t != "internal"])
                | st.sampled_from(["phone", "im", "voip", "video"]))
    return st.lists(st.one_of(
        st.tuples(st.just("create"), arrivals),
        st.tuples(st.just("accept"), st.sampled_from([0, 0, 1])),
        st.tuples(st.just("end"), st.sampled_from([0, 1])),
        st.tuples(st.just("free"), st.sampled_from([0, 1])),
        st.tuples(st.just("internal"), st.just(1)),
    ), max_size=4)


class Wire:
    """agent1 (who sends the random requests) and agent2 (who owns other sessions), on a loop of their own."""

    def __init__(self, demo):
        self.demo = demo
        self.loop = asyncio.new_event_loop()
        self.clients: list[SdkClient] = []

    def run(self, coroutine):
        return self.loop.run_until_complete(asyncio.wait_for(coroutine, 60))

    async def request(self, client: SdkClient, method: str, params) -> dict:
        """Send one request and return its reply, checking it is well formed and not an internal error."""
        client.next_id += 1
        frame = {"id": client.next_id, "method": method, "params": params}
        await client.communicator.send_to(text_data=json.dumps(frame))
        reply = await next_reply(client)
        assert_well_formed(reply, client.next_id)
        if reply["status"] == "success" and method in protocol.METHODS:
            assert set(reply.get("data") or {}) == set(protocol.METHODS[method].result), reply
        return reply

    async def still_answers(self):
        for client in self.clients:
            reply = await self.request(client, "Agent.getStatus", {})
            assert reply["status"] == "success", reply
            client.events.clear()


async def next_reply(client: SdkClient) -> dict:
    """The next reply, keeping events aside: one request is outstanding at a time, so it answers that one."""
    while True:
        frame = await client.frame(REPLY_TIMEOUT)
        if frame.get("type") == "reply":
            return frame
        client.events.append(frame)


def assert_well_formed(reply: dict, request_id):
    assert reply["type"] == "reply" and reply["id"] == request_id, reply
    assert reply["status"] in ("success", "error"), reply
    if reply["status"] == "error":
        assert isinstance(reply["errorMsg"], str) and reply["errorMsg"].strip(), reply
        assert "internal error" not in reply["errorMsg"], reply


@pytest.fixture
def wire(demo):
    wire = Wire(demo)
    wire.clients = [wire.run(SdkClient.connect(user_id)) for user_id in ("agent1@demo", "agent2@demo")]
    assert all(c.welcome and c.welcome["type"] == "welcome" for c in wire.clients)
    yield wire
    for client in wire.clients:
        wire.run(client.close())
    wire.loop.run_until_complete(wire.loop.shutdown_asyncgens())
    wire.loop.close()


@database_sync_to_async
def references(demo, method: str) -> dict:
    sessions = Session.objects.order_by("created_at")
    namespace_types = session_service.NAMESPACE_TYPES.get(method.split(".")[0], ())
    mine = sessions.filter(Q(agent__user_id="agent1@demo") | Q(caller_agent__user_id="agent1@demo"),
                           type__in=namespace_types)
    return {
        "mine": list(mine.exclude(state="ended").values_list("pk", flat=True))
        + list(mine.filter(state="ended").values_list("pk", flat=True)),
        "live": list(sessions.exclude(state="ended").values_list("pk", flat=True)),
        "all": list(sessions.values_list("pk", flat=True)),
        "numberGroup": str(NumberGroup.objects.values_list("pk", flat=True)[0]),
        "skillGroups": demo["skillGroups"],
    }


def resolve(value, refs: dict):
    if isinstance(value, LiveSession):
        pool = refs[value.pool] or refs["all"]
        return pool[value.index % len(pool)] if pool else "no-such-session"
    if isinstance(value, SkillGroupRef):
        return str(refs["skillGroups"][value.kind])
    if isinstance(value, NumberGroupRef):
        return refs["numberGroup"]
    if isinstance(value, list):
        return [resolve(v, refs) for v in value]
    if isinstance(value, dict):
        return {k: resolve(v, refs) for k, v in value.items()}
    return value


@database_sync_to_async
def create_session(demo, session_type: str):
    tenant = Tenant.objects.get(sdk_app_id=demo["SdkAppId"])
    session_service.create_inbound(tenant, session_type, str(demo["skillGroups"][session_type]),
                                   CUSTOMER_FIELDS[session_type])


@database_sync_to_async
def session_of(user_id: str, state: str):
    session = Session.objects.filter(agent__user_id=user_id, state=state).order_by("created_at").first()
    return (session.pk, session.type) if session else (None, None)


async def set_up(wire: Wire, steps):
    """Move the center into some state through the ordinary ways: customers arrive, agents answer and end."""
    for step, arg in steps:
        if step == "create":
            await create_session(wire.demo, arg)
            continue
        client, user_id = wire.clients[arg], ("agent1@demo", "agent2@demo")[arg]
        if step == "accept":
            session_id, session_type = await session_of(user_id, "ringing")
            if session_id:
                await wire.request(client, ACCEPT[session_type], {"sessionId": session_id})
        elif step == "end":
            session_id, session_type = await session_of(user_id, "active")
            if session_id:
                await wire.request(client, END[session_type], {"sessionId": session_id})
        elif step == "free":
            await wire.request(client, "Agent.setStatus", {"status": "free"})
        elif step == "internal":
            await wire.request(client, "Call.startInternalCall", {"calleeUserId": "agent1@demo"})


def outcome(reply: dict) -> str:
    if reply["status"] == "success":
        return "success"
    return re.sub(r"[0-9a-f]{32}", "<id>", reply["errorMsg"])[:60]


def assert_invariants():
    """What no sequence of requests may break: one call per agent, one ringing offer per ringing session and
    it is the ringing agent's, no live deadline on an ended session, only stored agent statuses."""
    calls = Session.objects.filter(state__in=("ringing", "active")).exclude(type="im")
    for agent in Agent.objects.all():
        assert agent.status in agent_state.STORED, (agent.user_id, agent.status)
        theirs = list(calls.filter(Q(agent=agent) | Q(caller_agent=agent)).values_list("pk", "type", "state"))
        assert len(theirs) <= 1, (agent.user_id, theirs)
    for session in Session.objects.filter(state="ringing"):
        ringing = list(session.participants.filter(outcome="ringing").values_list("agent_id", flat=True))
        assert ringing == [session.agent_id], (session.pk, session.type, session.agent_id, ringing)
    stray = ServeParticipant.objects.filter(outcome="ringing").exclude(session__state="ringing")
    assert not stray.exists(), list(stray.values("session_id", "session__state", "agent_id"))
    ended = Session.objects.filter(state="ended").filter(
        Q(offer_deadline__isnull=False) | Q(queue_deadline__isnull=False))
    assert not ended.exists(), list(ended.values("pk", "offer_deadline", "queue_deadline"))


@pytest.mark.parametrize("method", sorted(protocol.METHODS))
@FUZZ
@given(data=st.data())
def test_random_params_get_a_reply_and_keep_state_consistent(wire, method, data):
    """Between requests, customers arrive and agents answer, end and free themselves, so random parameters
    (with, often, a real sessionId) meet sessions queued, ringing, in progress and ended."""
    steps = data.draw(setup_steps(method), label="setup")
    requests = data.draw(st.lists(params_for(protocol.METHODS[method]), min_size=1, max_size=3), label="params")

    async def example():
        await set_up(wire, steps)
        for params in requests:
            reply = await wire.request(wire.clients[0], method, resolve(params, await references(wire.demo, method)))
            event(outcome(reply))  # pytest --hypothesis-show-statistics: which answers the examples reached
        await wire.still_answers()

    wire.run(example())
    assert_invariants()


# Text, sometimes with lone UTF-16 surrogates (which JSON can escape as \\ud800 but UTF-8 cannot carry).
texts = st.text(max_size=30) | st.tuples(st.text(max_size=8), st.text(st.characters(categories=["Cs"]), min_size=1,
                                                                    max_size=2)).map("".join)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)
not_a_method = (st.text(max_size=30) | json_values).filter(
    lambda name: not (isinstance(name, str) and name in protocol.METHODS))
request_ids = st.integers() | st.text(max_size=10) | json_values
request_like = st.fixed_dictionaries({}, optional={"id": request_ids, "method": not_a_method, "params": json_values})
nested = st.tuples(st.integers(1, 30000), st.sampled_from("[{")).map(
    lambda t: ("[" * t[0] + "]" * t[0]) if t[1] == "[" else ('{"a":' * t[0] + "1" + "}" * t[0]))
raw_frames = st.one_of(st.text(min_size=1, max_size=300), json_values.map(json.dumps), request_like.map(json.dumps),
                       nested)


@settings(FUZZ, max_examples=150)
@given(frames=st.lists(raw_frames, min_size=1, max_size=5))
def test_random_frames_get_an_error_reply(wire, frames):
    """Text that is not a request (not JSON, not an object, no method, nested too deep, lone surrogates) gets an
    error reply echoing the id when one could be read, and the connection keeps answering."""
    client = wire.clients[0]

    async def example():
        for text in frames:
            await client.communicator.send_to(text_data=text)
            frame = await next_reply(client)
            assert frame["status"] == "error" and isinstance(frame["errorMsg"], str) and frame["errorMsg"], frame
            assert "internal error" not in frame["errorMsg"], (text[:200], frame)
            assert frame["id"] == readable_id(text), (text[:200], frame)
        await wire.still_answers()

    wire.run(example())
    assert_invariants()


def readable_id(text: str):
    """The id a reply must echo: the frame's id when it is JSON with an id that is a number or a string that
    UTF-8 can carry, else None."""
    try:
        frame = json.loads(text)
    except (ValueError, RecursionError):
        return None
    request_id = frame.get("id") if isinstance(frame, dict) else None
    if isinstance(request_id, bool) or not isinstance(request_id, (int, str)):
        return None
    try:
        str(request_id).encode("utf-8")
    except (UnicodeEncodeError, ValueError):
        return None
    return request_id
