"""The core flow over a real websocket: welcome, callIn, accept, controls, transfer, end, after-call work."""
import pytest
from channels.db import database_sync_to_async

from sessions_app.models import Agent, Cdr, ServeParticipant, Session

from .conftest import api_session, sweep

pytestmark = pytest.mark.service


async def test_welcome_brings_agent_online(sdk):
    agent = await sdk("agent1@demo")
    assert agent.welcome["type"] == "welcome"
    assert agent.welcome["agent"]["userId"] == "agent1@demo"
    assert agent.welcome["agent"]["status"] == "free"
    reply = await agent.call("Agent.getStatus")
    assert reply["status"] == "success" and reply["data"]["status"] == "free"


async def test_inbound_call_offered_accepted_and_ended(sdk, demo):
    agent = await sdk("agent1@demo")
    session_id = await api_session(demo, "phone", callerPhoneNumber="008613800000000", calleePhoneNumber="008675586013388",
                                   remark="VIP", ivrPath=[{"key": "1", "label": "Sales"}])
    call_in = await agent.event("callIn")
    assert call_in == {"sessionId": session_id, "type": "phone", "timeout": 8, "calleePhoneNumber": "008675586013388",
                       "callerPhoneNumber": "008613800000000", "callerLocation": "China Mobile", "remark": "VIP",
                       "ivrPath": [{"key": "1", "label": "Sales"}], "protectedCallee": "", "protectedCaller": ""}
    assert (await agent.call("Call.accept", sessionId=session_id))["status"] == "success"
    assert await agent.event("userAccessed") == {"sessionId": session_id}
    assert (await agent.call("Agent.getStatus"))["data"]["status"] == "busy"
    assert (await agent.call("Call.hold", sessionId=session_id))["status"] == "success"
    assert (await agent.call("Call.hold", sessionId=session_id))["errorMsg"] == "the call is already on hold"
    assert (await agent.call("Call.unHold", sessionId=session_id))["status"] == "success"
    assert (await agent.call("Call.muteMic", sessionId=session_id))["status"] == "success"
    assert (await agent.call("Call.isMicMuted", sessionId=session_id))["data"] == {"muted": True}
    assert (await agent.call("Call.unmuteMic", sessionId=session_id))["status"] == "success"
    assert (await agent.call("Call.sendDigits", sessionId=session_id, dtmfText="12#"))["status"] == "success"
    assert (await agent.call("Call.hungUp", sessionId=session_id))["status"] == "success"
    ended = await agent.event("sessionEnded")
    assert ended["sessionId"] == session_id and ended["closeBy"] == "seat" and ended["type"] == "phone"
    assert (await agent.call("Agent.getStatus"))["data"]["status"] == "arrange"
    assert (await agent.call("Agent.setStatus", status="free"))["status"] == "success"
    assert await agent.event("sessionCompleted") == {"sessionId": session_id}
    cdr = await database_sync_to_async(lambda: Cdr.objects.get(session_id=session_id).payload)()
    assert cdr["EndStatus"] == 1 and cdr["SeatUser"] == "agent1@demo" and cdr["IVRKeyPressed"] == ["1"]


async def test_wrap_up_deadline_returns_agent_to_free(sdk, demo):
    agent = await sdk("agent1@demo")
    session_id = await api_session(demo, "voip", userId="openid-1", callee="web", nickname="Ann")
    await agent.event("callIn")
    await agent.call("Call.accept", sessionId=session_id)
    await agent.call("Call.hungUp", sessionId=session_id)
    await database_sync_to_async(lambda: Agent.objects.filter(user_id="agent1@demo").update(
        arrange_deadline="2000-01-01T00:00:00Z"))()
    assert await sweep() == 1
    assert await agent.event("sessionCompleted") == {"sessionId": session_id}
    assert (await agent.call("Agent.getStatus"))["data"]["status"] == "free"


async def test_ring_timeout_moves_offer_to_next_agent(sdk, demo):
    first = await sdk("agent1@demo")
    second = await sdk("agent2@demo")
    await sdk("agent3@demo")
    await database_sync_to_async(lambda: Agent.objects.exclude(user_id__in=["agent1@demo", "agent2@demo"]).update(
        status="notReady"))()
    session_id = await api_session(demo, "phone", calleePhoneNumber="1000")
    await database_sync_to_async(lambda: Session.objects.filter(pk=session_id).update(
        offer_deadline="2000-01-01T00:00:00Z"))()
    holder = await database_sync_to_async(lambda: Session.objects.get(pk=session_id).agent.user_id)()
    assert await sweep() >= 1
    timed_out, next_agent = (first, second) if holder == "agent1@demo" else (second, first)
    assert await timed_out.event("autoTransfer") == {"sessionId": session_id}
    assert (await next_agent.event("callIn"))["sessionId"] == session_id
    outcomes = await database_sync_to_async(lambda: list(
        ServeParticipant.objects.filter(session_id=session_id).values_list("outcome", flat=True)))()
    assert outcomes == ["timeout", "ringing"]


async def test_no_agent_online_ends_as_no_seat_online(demo):
    session_id = await api_session(demo, "im", nickname="Visitor")
    session = await database_sync_to_async(Session.objects.get)(pk=session_id)
    assert session.state == "ended" and session.end_status == "noSeatOnline"
