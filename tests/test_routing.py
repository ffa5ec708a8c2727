"""ACD behaviour over real websockets: who gets offered what, capacity, queueing, races, deadlines."""
import threading
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.db import close_old_connections
from django.utils import timezone

from sessions_app.models import Agent, AgentSkill, ServeParticipant, Session, SkillGroup
from sessions_app.services import sessions
from sessions_app.services.errors import ServiceError

from . import factories
from .conftest import api_session, sweep
from .offers import ringing_one_of_two

pytestmark = pytest.mark.service

PAST = "2000-01-01T00:00:00Z"


@database_sync_to_async
def set_status(user_id, status):
    Agent.objects.filter(user_id=user_id).update(status=status)


@database_sync_to_async
def session_row(session_id):
    return Session.objects.select_related("agent").get(pk=session_id)


@database_sync_to_async
def expire(model, column, **filters):
    model.objects.filter(**filters).update(**{column: PAST})


async def test_longest_idle_agent_is_offered_first(sdk, demo):
    first = await sdk("agent1@demo")
    second = await sdk("agent2@demo")
    await set_status("agent3@demo", "notReady")
    await database_sync_to_async(lambda: Agent.objects.filter(user_id="agent2@demo").update(
        available_since="2020-01-01T00:00:00Z"))()
    session_id = await api_session(demo, "phone", calleePhoneNumber="1")
    assert (await second.event("callIn"))["sessionId"] == session_id
    assert await first.no_event("callIn")


async def test_one_call_at_a_time_but_chats_up_to_capacity(sdk, demo):
    agent = await sdk("agent1@demo")
    await database_sync_to_async(lambda: Agent.objects.filter(user_id="agent1@demo").update(chat_capacity=2))()
    await set_status("agent2@demo", "offline")
    await set_status("agent3@demo", "offline")
    call = await api_session(demo, "phone", calleePhoneNumber="1")
    await agent.event("callIn")
    second_call = await api_session(demo, "voip", userId="u", callee="web")
    assert await agent.no_event("callIn")
    assert (await session_row(second_call)).state == "queued"
    chats = [await api_session(demo, "im", nickname=f"v{i}") for i in range(3)]
    offered = {(await agent.event("callIn"))["sessionId"] for _ in range(2)}
    assert offered == set(chats[:2])
    assert (await session_row(chats[2])).state == "queued"
    await agent.call("Chat.accept", sessionId=chats[0])
    await agent.call("Chat.end", sessionId=chats[0])
    assert (await agent.event("callIn"))["sessionId"] == chats[2]
    await agent.call("Call.accept", sessionId=call)
    assert (await session_row(second_call)).state == "queued"


async def test_agent_who_is_not_free_is_not_offered(sdk, demo):
    agent = await sdk("agent1@demo")
    await set_status("agent2@demo", "offline")
    await set_status("agent3@demo", "offline")
    assert (await agent.call("Agent.setStatus", status="rest", restReason="lunch"))["status"] == "success"
    assert (await agent.call("Agent.getStatus"))["data"]["restReason"] == "lunch"
    session_id = await api_session(demo, "phone", calleePhoneNumber="1")
    assert await agent.no_event("callIn")
    assert (await agent.call("Agent.setStatus", status="notReady"))["status"] == "success"
    assert await agent.no_event("callIn")
    assert (await agent.call("Agent.setStatus", status="stopNotReady"))["status"] == "success"
    assert (await agent.event("callIn"))["sessionId"] == session_id


async def queued_for_a_resting_agent(sdk, demo):
    """agent1, the only agent online, is resting when a phone call comes: their client and the queued session."""
    agent = await sdk("agent1@demo")
    await set_status("agent2@demo", "offline")
    await set_status("agent3@demo", "offline")
    await agent.call("Agent.setStatus", status="rest")
    session_id = await api_session(demo, "phone", calleePhoneNumber="1")
    return agent, session_id


async def test_queue_wait_past_maximum_ends_as_waiting_give_up(sdk, demo):
    agent, session_id = await queued_for_a_resting_agent(sdk, demo)
    await expire(Session, "queue_deadline", pk=session_id)
    assert await sweep() == 1
    session = await session_row(session_id)
    assert (session.state, session.end_status, session.close_by) == ("ended", "waitingGiveUp", "admin")


async def test_the_sweep_offers_a_waiting_session_whose_wake_up_another_process_missed(sdk, demo):
    agent, session_id = await queued_for_a_resting_agent(sdk, demo)
    await set_status("agent1@demo", "free")  # freed by a transaction that did not see the session (no dispatch)
    assert await sweep() == 0  # just queued: the dispatch of the moment has its chance first
    assert await agent.no_event("callIn")
    await expire(Session, "queued_at", pk=session_id)
    assert await sweep() == 1
    assert (await agent.event("callIn"))["sessionId"] == session_id
    assert await sweep() == 0


async def test_customer_hanging_up_while_ringing_tells_the_agent(sdk, demo):
    agent = await sdk("agent1@demo")
    session_id = await api_session(demo, "phone", calleePhoneNumber="1")
    holder = (await session_row(session_id)).agent.user_id
    ringing = agent if holder == "agent1@demo" else None
    from sessions_app.models import Tenant

    await database_sync_to_async(lambda: sessions.end_by_customer(Tenant.objects.get(), session_id))()
    session = await session_row(session_id)
    assert (session.end_status, session.close_by) == ("ringingGiveUp", "client")
    if ringing:
        assert (await agent.event("sessionEnded"))["closeBy"] == "client"


async def test_rejecting_an_offer_moves_it_to_the_next_agent(sdk, demo):
    session_id, ringing, other = await ringing_one_of_two(sdk, demo)
    await ringing.event("callIn")
    assert (await ringing.call("Call.hungUp", sessionId=session_id))["status"] == "success"
    assert (await other.event("callIn"))["sessionId"] == session_id


async def test_two_accepts_at_the_same_instant_exactly_one_wins(transactional_db):
    """Two threads accept the same ringing offer at once (two tabs of the agent): one success, one error."""
    def ringing():
        center = factories.tenant()
        phone = factories.skill_group(center, "phone")
        factories.agent(center, phone, status="free")
        return sessions.create_inbound(center, "phone", str(phone.pk), {"calleePhoneNumber": "1"})

    session_id = await database_sync_to_async(ringing)()
    agent_id = (await session_row(session_id)).agent_id
    assert agent_id is not None
    barrier, results = threading.Barrier(2), []

    def accept():
        barrier.wait()
        try:
            sessions.accept(agent_id, session_id, "Call")
            results.append("won")
        except ServiceError as error:
            results.append(str(error))
        finally:
            close_old_connections()

    threads = [threading.Thread(target=accept) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(results) == 2 and results.count("won") == 1
    assert "is already accepted" in [r for r in results if r != "won"][0]
    accepted = await database_sync_to_async(lambda: ServeParticipant.objects.filter(
        session_id=session_id, outcome="accepted").count())()
    assert accepted == 1


async def test_accept_by_an_agent_the_offer_moved_away_from_loses(sdk, demo):
    session_id, late, next_agent = await ringing_one_of_two(sdk, demo)
    await expire(Session, "offer_deadline", pk=session_id)
    await sweep()
    await next_agent.event("callIn")
    reply = await late.call("Call.accept", sessionId=session_id)
    assert reply["status"] == "error" and "not ringing for you" in reply["errorMsg"]
    assert (await next_agent.call("Call.accept", sessionId=session_id))["status"] == "success"


async def offers_agent2_first(sdk, demo, strategy: str, arrange) -> None:
    """With agent1 and agent2 online (agent1 idle the longest) and agent3 offline, the phone group on `strategy`
    and `arrange(group)` run on the database: a new call rings agent2, not agent1."""
    first = await sdk("agent1@demo")
    second = await sdk("agent2@demo")
    await set_status("agent3@demo", "offline")
    group = demo["skillGroups"]["phone"]

    def configure():
        SkillGroup.objects.filter(pk=group).update(routing_strategy=strategy)
        Agent.objects.filter(user_id="agent1@demo").update(available_since="2000-01-01T00:00:00Z")
        arrange(group)

    await database_sync_to_async(configure)()
    session_id = await api_session(demo, "phone", calleePhoneNumber="1")
    assert (await second.event("callIn"))["sessionId"] == session_id
    assert await first.no_event("callIn")


async def test_skill_priority_strategy_prefers_priority_one(sdk, demo):
    def priorities(group):
        AgentSkill.objects.filter(skill_group_id=group, agent__user_id="agent1@demo").update(priority=5)
        AgentSkill.objects.filter(skill_group_id=group, agent__user_id="agent2@demo").update(priority=1)

    await offers_agent2_first(sdk, demo, "skill_priority", priorities)


async def test_fewest_served_strategy_counts_only_today(sdk, demo):
    """agent1 took 2 sessions today; agent2 took 1 today and 5 yesterday, and has waited less: agent2 is next."""
    def history(group):
        now = timezone.now()
        yesterday = timezone.localtime().replace(hour=0, minute=0) - timedelta(hours=2)
        for user_id, accepted in (("agent1@demo", [now] * 2), ("agent2@demo", [now] + [yesterday] * 5)):
            agent = Agent.objects.get(user_id=user_id)
            for at in accepted:
                session = Session.objects.create(tenant=agent.tenant, type="phone", state="ended")
                ServeParticipant.objects.create(session=session, agent=agent, sequence=1, outcome="ended",
                                                ring_at=at, accept_at=at, end_at=at, completed_at=at)

    await offers_agent2_first(sdk, demo, "fewest_served", history)


async def test_ring_timeout_of_zero_rings_until_answered(sdk, demo):
    agent = await sdk("agent1@demo")
    await set_status("agent2@demo", "offline")
    await set_status("agent3@demo", "offline")
    await database_sync_to_async(lambda: SkillGroup.objects.filter(pk=demo["skillGroups"]["phone"]).update(
        ring_timeout=0))()
    session_id = await api_session(demo, "phone", calleePhoneNumber="1")
    assert (await agent.event("callIn"))["timeout"] == 0
    assert (await session_row(session_id)).offer_deadline is None
