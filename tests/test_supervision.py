"""Supervisors' actions on agents and sessions (services/supervision.py): what the agents' SDKs hear, the rows
they leave, each refusal's message, and the audit entry every call writes, done or refused."""
import asyncio
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from sessions_app.models import Agent, AuditEntry, Cdr, ServeParticipant, Session, Supervisor
from sessions_app.services import agents, lifecycle, sessions, supervision
from sessions_app.services.errors import NotFound, ServiceError
from sessions_app.services.events import pages_group

from . import factories
from .conftest import api_session

pytestmark = pytest.mark.service

in_thread = database_sync_to_async  # the ORM from an async test


def admin_id() -> int:
    return get_user_model().objects.get(username="admin").pk


def agent_id(user_id: str) -> int:
    return Agent.objects.get(user_id=user_id).pk


def group_id(demo, kind: str) -> int:
    return demo["skillGroups"][kind]


def state(session_id: str) -> tuple:
    session = Session.objects.select_related("agent", "skill_group").get(pk=session_id)
    return session.state, session.agent.user_id if session.agent else None, session.skill_group.kind


def entries() -> list[tuple]:
    return list(AuditEntry.objects.order_by("pk").values_list(
        "supervisor_name", "action", "target_kind", "target_label", "outcome", "message"))


def last_entry() -> AuditEntry:
    return AuditEntry.objects.select_related("tenant").latest("pk")


def only_free(*user_ids: str) -> None:
    """The demo's other agents not ready, so that routing offers to these alone."""
    Agent.objects.exclude(user_id__in=user_ids).exclude(status="offline").update(status="notReady")


async def call(function, **kwargs):
    return await in_thread(function)(**kwargs)


async def an_active_call(sdk, demo, user_id="agent1@demo", kind="phone"):
    """An inbound session `user_id` accepted (the others not ready), and `user_id`'s SDK client."""
    agent = await sdk(user_id)
    await in_thread(only_free)(user_id)
    session_id = await api_session(demo, kind)
    assert (await agent.event("callIn"))["sessionId"] == session_id
    namespace = {"phone": "Call", "im": "Chat", "video": "Video", "voip": "Call"}[kind]
    assert (await agent.call(f"{namespace}.accept", sessionId=session_id))["status"] == "success"
    await agent.event("userAccessed")
    return agent, session_id


# Agents' status.

async def test_resting_an_agent_shows_in_their_get_status_and_workbench_and_is_audited(sdk, demo):
    alice = await sdk("agent1@demo")
    layer = get_channel_layer()
    page = await layer.new_channel()
    await layer.group_add(pages_group(await in_thread(agent_id)("agent1@demo")), page)
    await call(supervision.set_agent_status, supervisor_id=await in_thread(admin_id)(),
               agent_id=await in_thread(agent_id)("agent1@demo"), status="rest", rest_reason="Lunch")
    assert (await asyncio.wait_for(layer.receive(page), 1))["type"] == "agent.changed"
    status = (await alice.call("Agent.getStatus"))["data"]
    assert (status["status"], status["restReason"]) == ("rest", "Lunch")
    assert await in_thread(entries)() == [("admin", "set_status", "agent", "agent1@demo", "done", "")]
    entry = await in_thread(last_entry)()
    assert entry.details == {"status": "rest", "restReason": "Lunch"} and entry.tenant.sdk_app_id == demo["SdkAppId"]


async def test_setting_a_not_ready_agent_free_offers_them_what_waits(sdk, demo):
    alice = await sdk("agent1@demo")
    await in_thread(Agent.objects.update)(status="notReady")
    session_id = await api_session(demo, "phone")
    await call(supervision.set_agent_status, supervisor_id=await in_thread(admin_id)(),
               agent_id=await in_thread(agent_id)("agent1@demo"), status="free")
    assert (await alice.event("callIn"))["sessionId"] == session_id
    assert (await alice.call("Agent.getStatus"))["data"]["status"] == "free"


@pytest.mark.parametrize("status, reason, message", [
    ("rest", "Nap", "the rest reason must be one of: Lunch, Short break, Training, Meeting"),
    ("rest", "", "the rest reason must be one of: Lunch, Short break, Training, Meeting"),
    ("free", "Lunch", "a rest reason goes only with status rest"),
    ("arrange", "", "status must be one of free, rest, notReady, not 'arrange'"),
    ("offline", "", "status must be one of free, rest, notReady, not 'offline'"),
])
def test_a_status_a_supervisor_may_not_set_is_refused_and_audited(demo, status, reason, message):
    agents.online(agent_id("agent1@demo"))
    with pytest.raises(ServiceError, match=f"^{message}$"):
        supervision.set_agent_status(supervisor_id=admin_id(), agent_id=agent_id("agent1@demo"), status=status,
                                     rest_reason=reason)
    assert Agent.objects.get(user_id="agent1@demo").status == "free"
    assert entries() == [("admin", "set_status", "agent", "agent1@demo", "refused", message)]


def test_an_offline_agents_status_is_not_set(demo):
    with pytest.raises(ServiceError, match="^agent agent2@demo is offline: they come online by signing in$"):
        supervision.set_agent_status(supervisor_id=admin_id(), agent_id=agent_id("agent2@demo"), status="free")
    assert Agent.objects.get(user_id="agent2@demo").status == "offline"
    assert last_entry().outcome == "refused"


def test_without_rest_reasons_an_agent_rests_without_one(db):
    tenant = factories.tenant()
    agent = factories.agent(tenant, status="free")
    root = get_user_model().objects.create_user("root", is_staff=True, is_superuser=True)
    with pytest.raises(ServiceError, match="no rest reasons"):
        supervision.set_agent_status(supervisor_id=root.pk, agent_id=agent.pk, status="rest", rest_reason="Nap")
    supervision.set_agent_status(supervisor_id=root.pk, agent_id=agent.pk, status="rest")
    agent.refresh_from_db()
    assert (agent.status, agent.rest_reason) == ("rest", "")


async def test_forcing_an_agent_offline_ends_their_call_closes_their_sdk_and_is_audited(sdk, demo):
    alice, session_id = await an_active_call(sdk, demo)
    await call(supervision.force_offline, supervisor_id=await in_thread(admin_id)(),
               agent_id=await in_thread(agent_id)("agent1@demo"))
    ended = await alice.event("sessionEnded")
    assert (ended["sessionId"], ended["closeBy"]) == (session_id, "admin")
    with pytest.raises(ConnectionError, match="4001"):
        await alice.event("never")
    assert (await in_thread(Agent.objects.get)(user_id="agent1@demo")).status == "offline"
    assert await in_thread(entries)() == [("admin", "force_offline", "agent", "agent1@demo", "done", "")]


# Ending a session.

async def test_ending_an_active_call_tells_the_agent_closeby_admin_and_the_cdr_says_system(sdk, demo):
    alice, session_id = await an_active_call(sdk, demo)
    await call(supervision.end_session, supervisor_id=await in_thread(admin_id)(), session_id=session_id,
               expected_state="active")
    ended = await alice.event("sessionEnded")
    assert ended == {"sessionId": session_id, "type": "phone", "duration": ended["duration"], "closeBy": "admin"}
    cdr = (await in_thread(Cdr.objects.get)(session_id=session_id)).payload
    assert (cdr["HungUpSide"], cdr["EndStatusString"]) == ("system", "ok")
    assert (await alice.call("Agent.getStatus"))["data"]["status"] == "arrange"
    timeline = await in_thread(lambda: list(
        Session.objects.get(pk=session_id).timeline.values_list("what", flat=True)))()
    assert timeline[-2:] == ["supervisor admin ends it", "ended by system: ok"]
    entry = await in_thread(last_entry)()
    assert (entry.action, entry.outcome, entry.target_id, entry.details) == (
        "end_session", "done", session_id, {"state": "active"})


@pytest.mark.parametrize("kind, end_status", [("phone", "waitingGiveUp"), ("im", "waitingGiveUp")])
async def test_ending_a_queued_session_ends_it_as_the_system(sdk, demo, kind, end_status):
    await sdk("agent1@demo")
    await in_thread(Agent.objects.update)(status="notReady")
    session_id = await api_session(demo, kind)
    await call(supervision.end_session, supervisor_id=await in_thread(admin_id)(), session_id=session_id)
    session = await in_thread(Session.objects.get)(pk=session_id)
    assert (session.state, session.close_by, session.end_status) == ("ended", "admin", end_status)


async def test_ending_a_ringing_session_stops_the_offer(sdk, demo):
    alice = await sdk("agent1@demo")
    await in_thread(only_free)("agent1@demo")
    session_id = await api_session(demo, "phone")
    await alice.event("callIn")
    await call(supervision.end_session, supervisor_id=await in_thread(admin_id)(), session_id=session_id)
    assert (await alice.event("sessionEnded"))["closeBy"] == "admin"
    assert (await alice.call("Agent.getStatus"))["data"]["status"] == "free"


# Transferring and offering.

async def ringing_session(sdk, demo, kind="phone"):
    """A session ringing for Alice, Bob online and free: their SDK clients."""
    alice, bob = await sdk("agent1@demo"), await sdk("agent2@demo")
    await in_thread(only_free)("agent1@demo")
    session_id = await api_session(demo, kind)
    await alice.event("callIn")
    await in_thread(Agent.objects.filter(user_id="agent2@demo").update)(status="free")
    return alice, bob, session_id


async def queued_session(sdk, demo, kind="phone"):
    """A session waiting in its queue, Alice and Bob online, not ready: their SDK clients."""
    alice, bob = await sdk("agent1@demo"), await sdk("agent2@demo")
    await in_thread(Agent.objects.update)(status="notReady")
    session_id = await api_session(demo, kind)
    return alice, bob, session_id


def make_free(user_id: str) -> None:
    Agent.objects.filter(user_id=user_id).update(status="free")


async def test_transferring_an_active_call_to_an_agent_rings_them_and_ends_the_servers_part(sdk, demo):
    alice, session_id = await an_active_call(sdk, demo)
    bob = await sdk("agent2@demo")
    await in_thread(make_free)("agent2@demo")
    await call(supervision.transfer_session, supervisor_id=await in_thread(admin_id)(), session_id=session_id,
               agent_id=await in_thread(agent_id)("agent2@demo"), expected_state="active")
    assert await alice.event("transfer") == {"sessionId": session_id, "skillGroupId": "", "userId": "agent2@demo"}
    assert (await bob.event("callIn"))["sessionId"] == session_id
    assert await in_thread(state)(session_id) == ("ringing", "agent2@demo", "phone")
    assert (await alice.call("Agent.getStatus"))["data"]["status"] == "arrange"
    assert (await bob.call("Call.accept", sessionId=session_id))["status"] == "success"
    participants = await in_thread(lambda: list(ServeParticipant.objects.filter(session_id=session_id).values_list(
        "agent__user_id", "outcome", "transfer_to")))()
    assert participants == [("agent1@demo", "transferred", "agent2@demo"), ("agent2@demo", "accepted", "")]
    bob_id = await in_thread(agent_id)("agent2@demo")
    assert (await in_thread(last_entry)()).details == {"agentId": str(bob_id), "state": "active",
                                                       "toAgent": "agent2@demo"}


async def test_transferring_an_active_chat_to_a_skill_group_queues_it_there(sdk, demo):
    alice, session_id = await an_active_call(sdk, demo, kind="im")
    bob = await sdk("agent2@demo")
    await in_thread(make_free)("agent2@demo")
    await call(supervision.transfer_session, supervisor_id=await in_thread(admin_id)(), session_id=session_id,
               skill_group_id=str(group_id(demo, "im")))
    assert (await alice.event("transfer"))["skillGroupId"] == str(group_id(demo, "im"))
    assert (await bob.event("callIn"))["sessionId"] == session_id
    assert await alice.event("sessionCompleted") == {"sessionId": session_id}


async def test_transferring_a_ringing_session_to_an_agent_stops_the_first_offer(sdk, demo):
    alice, bob, session_id = await ringing_session(sdk, demo)
    await call(supervision.transfer_session, supervisor_id=await in_thread(admin_id)(), session_id=session_id,
               agent_id=await in_thread(agent_id)("agent2@demo"), expected_state="ringing")
    assert await alice.event("autoTransfer") == {"sessionId": session_id}
    assert (await bob.event("callIn"))["sessionId"] == session_id
    assert await in_thread(state)(session_id) == ("ringing", "agent2@demo", "phone")
    outcomes = await in_thread(lambda: list(ServeParticipant.objects.filter(session_id=session_id).values_list(
        "agent__user_id", "outcome")))()
    assert outcomes == [("agent1@demo", "cancelled"), ("agent2@demo", "ringing")]


async def test_transferring_a_ringing_session_to_a_group_queues_it_there(sdk, demo):
    alice, bob, session_id = await ringing_session(sdk, demo, kind="voip")
    await in_thread(Agent.objects.filter(user_id="agent2@demo").update)(status="notReady")
    await call(supervision.transfer_session, supervisor_id=await in_thread(admin_id)(), session_id=session_id,
               skill_group_id=group_id(demo, "phone"))
    assert await alice.event("autoTransfer") == {"sessionId": session_id}
    # Alice is free again and in the phone group: the session comes back to her from its new queue.
    assert (await alice.event("callIn"))["sessionId"] == session_id
    assert await in_thread(state)(session_id) == ("ringing", "agent1@demo", "phone")


async def test_transferring_a_queued_session_to_an_agent_or_a_group(sdk, demo):
    alice, bob, session_id = await queued_session(sdk, demo)
    supervisor = await in_thread(admin_id)()
    await call(supervision.transfer_session, supervisor_id=supervisor, session_id=session_id,
               skill_group_id=group_id(demo, "voip"), expected_state="queued")
    assert await in_thread(state)(session_id) == ("queued", None, "voip")
    await in_thread(make_free)("agent2@demo")
    await call(supervision.transfer_session, supervisor_id=supervisor, session_id=session_id,
               agent_id=await in_thread(agent_id)("agent2@demo"), expected_state="queued")
    assert (await bob.event("callIn"))["sessionId"] == session_id
    assert await alice.no_event("callIn")


async def test_offering_a_queued_session_to_a_chosen_free_agent_rings_them(sdk, demo):
    alice, bob, session_id = await queued_session(sdk, demo, kind="im")
    await in_thread(make_free)("agent2@demo")
    await call(supervision.offer_session, supervisor_id=await in_thread(admin_id)(), session_id=session_id,
               agent_id=await in_thread(agent_id)("agent2@demo"))
    assert (await bob.event("callIn"))["sessionId"] == session_id
    assert (await bob.call("Chat.accept", sessionId=session_id))["status"] == "success"
    entry = await in_thread(last_entry)()
    assert (entry.action, entry.outcome, entry.details["toAgent"]) == ("offer_session", "done", "agent2@demo")


# Refusals: each with its message, each audited.

def another_supervisor() -> int:
    """A supervisor of another tenant."""
    account = get_user_model().objects.create_user("other-lead", is_staff=True)
    Supervisor.objects.create(account=account, tenant=factories.tenant())
    return account.pk


def test_refusals_say_why_and_are_audited(demo):
    alice, bob, carol = (agent_id(u) for u in ("agent1@demo", "agent2@demo", "agent3@demo"))
    admin = admin_id()
    agents.online(alice)
    agents.online(bob)
    Agent.objects.filter(pk__in=[alice, bob]).update(status="notReady")
    Agent.objects.filter(pk=alice).update(chat_capacity=0)
    tenant = Agent.objects.get(pk=alice).tenant
    active = sessions.create_inbound(tenant, "phone", str(group_id(demo, "phone")), {})
    chat = sessions.create_inbound(tenant, "im", str(group_id(demo, "im")), {})
    agents.set_status(alice, "free")  # the phone call rings for Alice (she has no room for a chat)
    sessions.accept(alice, active, "Call")
    ended = sessions.create_inbound(tenant, "phone", str(group_id(demo, "phone")), {})
    supervision.end_session(supervisor_id=admin, session_id=ended)
    waiting = sessions.create_inbound(tenant, "phone", str(group_id(demo, "phone")), {})
    other = another_supervisor()
    cases = [
        (dict(function=supervision.end_session, session_id=ended), f"session {ended[:8]} has already ended"),
        (dict(function=supervision.end_session, session_id=active, expected_state="queued"),
         f"session {active[:8]} has moved on: it is in progress with agent1@demo now, not queued"),
        (dict(function=supervision.end_session, session_id="nope"), "no session 'nope'"),
        (dict(function=supervision.end_session, session_id="x" * 5000), f"no session '{'x' * 5000}'"),
        (dict(function=supervision.end_session, session_id=active, supervisor_id=other), f"no session '{active}'"),
        (dict(function=supervision.set_agent_status, agent_id=alice, status="rest", supervisor_id=other),
         f"no agent {alice}"),
        (dict(function=supervision.force_offline, agent_id="1; drop table"), "no agent '1; drop table'"),
        (dict(function=supervision.force_offline, agent_id=alice, supervisor_id=10 ** 9), f"no account {10 ** 9}"),
        (dict(function=supervision.force_offline, agent_id=bob,
              supervisor_id=Agent.objects.get(pk=alice).account_id), "agent1@demo supervises no tenant"),
        (dict(function=supervision.offer_session, session_id=active, agent_id=bob),
         f"session {active[:8]} is in progress with agent1@demo, not waiting in a queue"),
        (dict(function=supervision.offer_session, session_id=chat, agent_id=bob),
         "agent agent2@demo is not free (status not ready)"),
        (dict(function=supervision.offer_session, session_id=chat, agent_id=carol), "agent agent3@demo is offline"),
        (dict(function=supervision.offer_session, session_id=waiting, agent_id=alice),
         "agent agent1@demo cannot take it now: they are on a call"),
        (dict(function=supervision.offer_session, session_id=chat, agent_id=alice),
         "agent agent1@demo cannot take it now: they have as many chats open as they may (0)"),
        (dict(function=supervision.offer_session, session_id=chat, agent_id=10 ** 30), f"no agent {10 ** 30}"),
        (dict(function=supervision.transfer_session, session_id=active, agent_id=alice),
         f"session {active[:8]} is already in progress with agent1@demo"),
        (dict(function=supervision.transfer_session, session_id=active),
         "transfer to exactly one of an agent or a skill group"),
        (dict(function=supervision.transfer_session, session_id=active, skill_group_id=group_id(demo, "im")),
         "skill group Web chat takes web chat sessions, not phone"),
        (dict(function=supervision.transfer_session, session_id=chat, skill_group_id=group_id(demo, "im")),
         f"session {chat[:8]} already waits in Web chat's queue"),
        (dict(function=supervision.transfer_session, session_id=chat, skill_group_id="-1"), "no skill group '-1'"),
    ]
    for case, message in cases:
        function = case.pop("function")
        case.setdefault("supervisor_id", admin)
        with pytest.raises(ServiceError) as refusal:
            function(**case)
        assert str(refusal.value) == message
        entry = last_entry()
        assert (entry.outcome, entry.message) == ("refused", message[:500]), message
    assert isinstance(refusal.value, NotFound)
    assert [Session.objects.get(pk=pk).state for pk in (active, chat, waiting)] == ["active", "queued", "queued"]


def test_a_foreign_supervisors_refusal_is_logged_under_their_own_tenant(demo):
    other = another_supervisor()
    alice = agent_id("agent1@demo")
    with pytest.raises(NotFound):
        supervision.force_offline(supervisor_id=other, agent_id=alice)
    entry = last_entry()
    assert entry.tenant == Supervisor.objects.get(account_id=other).tenant and entry.target_label == ""
    assert Agent.objects.get(pk=alice).token_generation == 0


def test_nobody_online_in_the_target_group_is_refused(demo):
    alice = agent_id("agent1@demo")
    agents.online(alice)
    tenant = Agent.objects.get(pk=alice).tenant
    empty = factories.skill_group(tenant, "phone", name="Night shift")
    Agent.objects.filter(pk=alice).update(status="notReady")
    queued = sessions.create_inbound(tenant, "phone", str(group_id(demo, "phone")), {})
    with pytest.raises(ServiceError, match="^nobody in skill group Night shift is online$"):
        supervision.transfer_session(supervisor_id=admin_id(), session_id=queued, skill_group_id=empty.pk)
    assert state(queued) == ("queued", None, "phone")


def test_a_call_in_the_ivr_is_ended_but_not_transferred(demo):
    tenant = Agent.objects.get(user_id="agent1@demo").tenant
    with transaction.atomic():
        session = Session(tenant=tenant, type="phone", caller_phone_number="008613800000000")
        lifecycle.open_in_ivr(session, timezone.now() + timedelta(minutes=1), "in the main menu")
    with pytest.raises(ServiceError, match=f"^session {session.id[:8]} is in the IVR: it can be transferred once it "
                                           "waits in a queue$"):
        supervision.transfer_session(supervisor_id=admin_id(), session_id=session.id,
                                     skill_group_id=group_id(demo, "phone"))
    supervision.end_session(supervisor_id=admin_id(), session_id=session.id, expected_state="ivr")
    session.refresh_from_db()
    assert (session.state, session.close_by, session.ivr_deadline) == ("ended", "admin", None)
