"""Presence: the offline grace period and reconnecting with the resume token (forcing offline: test_revocation.py)."""
import pytest
from channels.db import database_sync_to_async

from sessions_app.models import Agent, Session

from .conftest import SdkClient, api_session, sweep
from .offers import ringing_one_of_two

pytestmark = pytest.mark.service


@database_sync_to_async
def agent_row(user_id):
    return Agent.objects.get(user_id=user_id)


@database_sync_to_async
def end_grace_now(user_id):
    Agent.objects.filter(user_id=user_id).update(offline_deadline="2000-01-01T00:00:00Z")


async def alone_on_a_call(sdk, demo):
    """agent1, the only agent online, accepts a phone call: their client and the session."""
    agent = await sdk("agent1@demo")
    await database_sync_to_async(lambda: Agent.objects.exclude(user_id="agent1@demo").update(status="offline"))()
    session_id = await api_session(demo, "phone", calleePhoneNumber="1")
    await agent.event("callIn")
    await agent.call("Call.accept", sessionId=session_id)
    return agent, session_id


async def test_reconnect_within_grace_keeps_status_and_offers(sdk, demo):
    agent = await sdk("agent1@demo")
    await database_sync_to_async(lambda: Agent.objects.exclude(user_id="agent1@demo").update(status="offline"))()
    await agent.call("Agent.setStatus", status="rest", restReason="coffee")
    await agent.call("Agent.setStatus", status="free")
    session_id = await api_session(demo, "phone", calleePhoneNumber="1")
    await agent.event("callIn")
    resume = agent.welcome["resumeToken"]
    await agent.close()
    assert (await agent_row("agent1@demo")).offline_deadline is not None
    again = await sdk(query=f"resume={resume}")
    assert again.welcome["agent"]["status"] == "free"
    assert [offer["sessionId"] for offer in again.welcome["sessions"]] == [session_id]
    assert (await agent_row("agent1@demo")).offline_deadline is None
    assert (await again.call("Call.accept", sessionId=session_id))["status"] == "success"


async def test_grace_period_over_takes_the_agent_offline_and_ends_their_calls(sdk, demo):
    agent, session_id = await alone_on_a_call(sdk, demo)
    await agent.close()
    await end_grace_now("agent1@demo")
    assert await sweep() >= 1
    assert (await agent_row("agent1@demo")).status == "offline"
    session = await database_sync_to_async(Session.objects.get)(pk=session_id)
    assert (session.state, session.end_status, session.close_by) == ("ended", "seatOffline", "admin")


async def test_a_second_tab_keeps_the_agent_online_when_the_first_closes(sdk, demo):
    first = await sdk("agent1@demo")
    second = await sdk("agent1@demo")
    await first.close()
    assert (await agent_row("agent1@demo")).offline_deadline is None
    assert (await second.call("Agent.getStatus"))["data"]["status"] == "free"


async def test_events_reach_every_tab_of_the_agent(sdk, demo):
    first = await sdk("agent1@demo")
    second = await sdk("agent1@demo")
    await database_sync_to_async(lambda: Agent.objects.exclude(user_id="agent1@demo").update(status="offline"))()
    session_id = await api_session(demo, "im", nickname="v")
    assert (await first.event("callIn"))["sessionId"] == session_id
    assert (await second.event("callIn"))["sessionId"] == session_id


async def test_offline_and_online_through_the_sdk(sdk, demo):
    agent = await sdk("agent1@demo")
    assert (await agent.call("Agent.offline"))["status"] == "success"
    assert (await agent.call("Agent.getStatus"))["data"]["status"] == "offline"
    reply = await agent.call("Agent.setStatus", status="free")
    assert reply["status"] == "error" and "offline" in reply["errorMsg"]
    assert (await agent.call("Agent.online"))["status"] == "success"
    assert (await agent.call("Agent.getStatus"))["data"]["status"] == "free"


async def test_going_offline_withdraws_a_ringing_offer_to_the_next_agent(sdk, demo):
    session_id, ringing, other = await ringing_one_of_two(sdk, demo)
    await ringing.call("Agent.offline")
    assert (await other.event("callIn"))["sessionId"] == session_id


async def test_expired_resume_token_is_refused(demo):
    client = await SdkClient.connect("agent1@demo", query="resume=not-a-token")
    assert client.welcome == {"type": "refused", "errorMsg": "the token is not valid"}


async def test_connections_of_a_dead_process_are_reaped_and_the_grace_starts(sdk, demo):
    from sessions_app.models import AgentConnection, WebProcess

    def leave_a_dead_process_behind():
        dead = WebProcess.objects.create(pk="dead", last_seen="2000-01-01T00:00:00Z")
        agent = Agent.objects.get(user_id="agent2@demo")
        agent.status = "free"
        agent.save()
        AgentConnection.objects.create(agent=agent, channel_name="gone!1", process=dead)

    await database_sync_to_async(leave_a_dead_process_behind)()
    await sweep()
    agent = await agent_row("agent2@demo")
    assert agent.offline_deadline is not None
    assert not await database_sync_to_async(AgentConnection.objects.filter(channel_name="gone!1").exists)()


async def test_going_offline_with_a_session_in_progress_is_refused(sdk, demo):
    agent, session_id = await alone_on_a_call(sdk, demo)
    reply = await agent.call("Agent.offline")
    assert reply["status"] == "error" and "sessions in progress" in reply["errorMsg"]
    assert (await agent.call("Agent.getStatus"))["data"]["status"] == "busy"
