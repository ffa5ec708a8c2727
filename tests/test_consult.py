"""Consult transfer and three-way calls (services/consult.py), service tier: every way a consult goes and every
refusal, the events each agent gets, the media plan the row implies, and the CDR's ServeParticipants. What the
three people hear is tests/test_consult_browser.py's."""
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from sessions_app.models import Agent, Consult, ServeParticipant, Session, SkillGroup
from sessions_app.services import consult, media
from sessions_app.services.errors import NotFound, ServiceError

from . import factories
from .conftest import api_session, sweep

pytestmark = pytest.mark.service


@database_sync_to_async
def plan(session_id):
    return media.plan_for(Session.objects.get(pk=session_id))


@database_sync_to_async
def row(session_id):
    return Session.objects.select_related("agent").get(pk=session_id)


@database_sync_to_async
def last_consult(session_id):
    return Consult.objects.select_related("agent").filter(session_id=session_id).order_by("-ring_at").first()


@database_sync_to_async
def participants(session_id):
    return list(ServeParticipant.objects.filter(session_id=session_id).order_by("sequence").values_list(
        "agent__user_id", "outcome", "transfer_from", "transfer_to"))


def agent_pk(user_id):
    return Agent.objects.get(user_id=user_id).pk


@database_sync_to_async
def act(step, by, session_id, **target):
    """A consult operation as the workbench's action calls it, by the agent `by` (a userId)."""
    return step(agent_pk(by), session_id, **target)


async def refused(step, by, session_id, error=ServiceError, **target) -> str:
    with pytest.raises(error) as refusal:
        await act(step, by, session_id, **target)
    return str(refusal.value)


async def serving(sdk, demo, session_type="voip", **fields):
    """agent1 serves a call; agent2 and agent3 are free. The three SDK clients and the session."""
    first, second, third = await sdk("agent1@demo"), await sdk("agent2@demo"), await sdk("agent3@demo")
    for other in (second, third):
        await other.call("Agent.setStatus", status="notReady")
    session_id = await api_session(demo, session_type, **fields)
    assert (await first.event("callIn"))["sessionId"] == session_id
    assert (await first.call("Call.accept", sessionId=session_id))["status"] == "success"
    await first.event("userAccessed")
    for other in (second, third):
        await other.call("Agent.setStatus", status="stopNotReady")
    return first, second, third, session_id


async def consulting(sdk, demo, **fields):
    """agent1 consults agent2, who answered: the two talk, the customer waits."""
    first, second, third, session_id = await serving(sdk, demo, **fields)
    await act(consult.start, "agent1@demo", session_id, user_id="agent2@demo")
    await second.event("callIn")
    assert (await second.call("Call.accept", sessionId=session_id))["status"] == "success"
    assert await second.event("userAccessed") == {"sessionId": session_id}
    return first, second, third, session_id


async def test_a_consult_rings_the_colleague_as_an_internal_call_of_the_same_session(sdk, demo):
    first, second, _, session_id = await serving(sdk, demo)
    await act(consult.start, "agent1@demo", session_id, user_id="agent2@demo")
    assert await second.event("callIn") == {"sessionId": session_id, "type": "internal", "timeout": 30,
                                            "peerUserId": "agent1@demo"}
    agent1, agent2 = f"agent:{await database_sync_to_async(agent_pk)('agent1@demo')}", \
        f"agent:{await database_sync_to_async(agent_pk)('agent2@demo')}"
    ringing = await plan(session_id)
    assert (ringing["a"], ringing["b"], ringing["consult"], ringing["ringing"], ringing["conference"]) == (
        "customer", agent1, agent2, agent2, False)
    await second.call("Call.accept", sessionId=session_id)
    assert await second.event("userAccessed") == {"sessionId": session_id}
    talking = await plan(session_id)
    assert (talking["consult"], talking["ringing"], talking["hold"]) == (agent2, "", False)
    assert (await second.call("Agent.getStatus"))["data"]["status"] == "busy"
    assert (await first.call("Agent.getStatus"))["data"]["status"] == "busy"
    # A reconnecting page of the consulted agent carries the consult's leg again.
    again = await sdk("agent2@demo")
    assert {"sessionId": session_id, "type": "internal"} in again.welcome["calls"]


async def test_complete_transfer_hands_the_customer_over_as_tencent_records_a_transfer(sdk, demo):
    first, second, _, session_id = await consulting(sdk, demo)
    await act(consult.complete, "agent1@demo", session_id)
    assert await first.event("transfer") == {"sessionId": session_id, "skillGroupId": "", "userId": "agent2@demo"}
    session = await row(session_id)
    assert (session.state, session.agent.user_id, session.on_hold) == ("active", "agent2@demo", False)
    assert await participants(session_id) == [
        ("agent1@demo", "transferred", "", "agent2@demo"), ("agent2@demo", "accepted", "agent1@demo", "")]
    after = await plan(session_id)
    assert "consult" not in after and after["b"].startswith("agent:")
    assert (await first.call("Agent.getStatus"))["data"]["status"] == "arrange"
    reply = await first.call("Call.hungUp", sessionId=session_id)
    assert reply["status"] == "error" and "not in progress with you" in reply["errorMsg"]
    assert (await second.call("Call.hungUp", sessionId=session_id))["status"] == "success"
    cdr = (await database_sync_to_async(lambda: Session.objects.get(pk=session_id).cdr.payload)())
    assert cdr["SeatUser"] == "agent2@demo"
    assert [(p["SeatUser"], p["TransferFrom"], p["TransferTo"], p["Outcome"]) for p in cdr["ServeParticipants"]] == [
        ("agent1@demo", "", "agent2@demo", "transferred"), ("agent2@demo", "agent1@demo", "", "ended")]
    assert all(p["AcceptTimestamp"] for p in cdr["ServeParticipants"])


async def test_a_conference_goes_on_between_the_other_two_when_the_first_agent_hangs_up(sdk, demo):
    first, second, _, session_id = await consulting(sdk, demo)
    await act(consult.conference, "agent1@demo", session_id)
    assert (await plan(session_id))["conference"] is True
    assert "already a conference" in await refused(consult.conference, "agent1@demo", session_id)
    assert (await first.call("Call.hungUp", sessionId=session_id))["status"] == "success"
    assert (await first.event("transfer"))["userId"] == "agent2@demo"
    session = await row(session_id)
    assert (session.state, session.agent.user_id) == ("active", "agent2@demo")
    assert "consult" not in await plan(session_id)
    assert await second.no_event("sessionEnded", wait=0.2)


async def test_cancel_goes_back_to_the_customer_and_ends_the_colleagues_part(sdk, demo):
    first, second, _, session_id = await consulting(sdk, demo)
    await act(consult.cancel, "agent1@demo", session_id)
    ended = await second.event("sessionEnded")
    assert (ended["sessionId"], ended["type"], ended["closeBy"]) == (session_id, "internal", "seat")
    assert ended["duration"] >= 0
    after = await plan(session_id)
    assert "consult" not in after and after["hold"] is False
    assert (await second.call("Agent.getStatus"))["data"]["status"] == "free"
    assert (await row(session_id)).agent.user_id == "agent1@demo"
    assert await participants(session_id) == [("agent1@demo", "accepted", "", "")]


async def test_the_colleague_declining_leaves_the_customer_on_hold_and_the_agent_told(sdk, demo):
    first, second, _, session_id = await serving(sdk, demo)
    await act(consult.start, "agent1@demo", session_id, user_id="agent2@demo")
    await second.event("callIn")
    assert (await second.call("Call.hungUp", sessionId=session_id))["status"] == "success"
    assert (await second.event("sessionEnded"))["type"] == "internal"
    assert (await row(session_id)).on_hold is True
    ending = consult.ending(await last_consult(session_id))
    assert ending == {"who": "Bob", "outcome": "declined", "label": "Declined"}
    assert (await first.call("Call.unHold", sessionId=session_id))["status"] == "success"


async def test_the_colleague_hanging_up_ends_the_consult_private_on_hold_conference_talking(sdk, demo):
    first, second, _, session_id = await consulting(sdk, demo)
    await second.call("Call.hungUp", sessionId=session_id)
    assert (await row(session_id)).on_hold is True
    assert (await last_consult(session_id)).outcome == "left"
    await first.call("Call.unHold", sessionId=session_id)
    await act(consult.start, "agent1@demo", session_id, user_id="agent2@demo")
    await second.event("callIn")
    await second.call("Call.accept", sessionId=session_id)
    await act(consult.conference, "agent1@demo", session_id)
    await second.call("Call.hungUp", sessionId=session_id)
    session = await row(session_id)
    assert (session.state, session.on_hold, session.agent.user_id) == ("active", False, "agent1@demo")


async def test_a_consult_not_answered_in_time_ends_and_the_customer_stays_on_hold(sdk, demo):
    first, second, _, session_id = await serving(sdk, demo)
    await act(consult.start, "agent1@demo", session_id, user_id="agent2@demo")
    await second.event("callIn")
    await database_sync_to_async(lambda: Consult.objects.filter(session_id=session_id).update(
        offer_deadline=timezone.now() - timedelta(seconds=1)))()
    await sweep()
    assert (await second.event("sessionEnded"))["closeBy"] == "admin"
    assert (await last_consult(session_id)).outcome == "timeout"
    assert (await row(session_id)).on_hold is True
    assert "consult" not in await plan(session_id)


async def test_the_customer_hanging_up_during_a_consult_ends_the_colleagues_part_too(sdk, demo):
    from sessions_app.models import Tenant
    from sessions_app.services import sessions

    first, second, _, session_id = await consulting(sdk, demo)
    await database_sync_to_async(lambda: sessions.end_by_customer(
        Tenant.objects.get(sdk_app_id=demo["SdkAppId"]), session_id))()
    assert (await first.event("sessionEnded"))["closeBy"] == "client"
    assert (await second.event("sessionEnded"))["type"] == "internal"
    assert (await last_consult(session_id)).outcome == "ended"
    assert (await second.call("Agent.getStatus"))["data"]["status"] == "free"


async def test_a_skill_group_resolves_to_one_free_agent_of_it(sdk, demo):
    first, second, third, session_id = await serving(sdk, demo)
    await second.call("Agent.setStatus", status="notReady")
    group = str(demo["skillGroups"]["phone"])  # any group: a consult is an internal call
    reply = await act(consult.start, "agent1@demo", session_id, skill_group_id=group)
    assert reply["userId"] == "agent3@demo"
    assert (await third.event("callIn"))["peerUserId"] == "agent1@demo"
    await third.call("Call.accept", sessionId=session_id)
    await act(consult.complete, "agent1@demo", session_id)
    assert await first.event("transfer") == {"sessionId": session_id, "skillGroupId": group,
                                             "userId": "agent3@demo"}


async def test_consulting_while_on_hold_is_allowed_and_a_cancel_keeps_the_hold(sdk, demo):
    first, second, _, session_id = await serving(sdk, demo)
    await first.call("Call.hold", sessionId=session_id)
    await act(consult.start, "agent1@demo", session_id, user_id="agent2@demo")
    await second.event("callIn")
    await act(consult.cancel, "agent1@demo", session_id)
    assert (await row(session_id)).on_hold is True


async def test_every_refusal_says_why_and_changes_nothing(sdk, demo):
    first, second, third, session_id = await serving(sdk, demo)
    start = consult.start
    assert "exactly one" in await refused(start, "agent1@demo", session_id)
    assert "exactly one" in await refused(start, "agent1@demo", session_id, user_id="agent2@demo",
                                          skill_group_id="1")
    assert "yourself" in await refused(start, "agent1@demo", session_id, user_id="agent1@demo")
    assert "no agent" in await refused(start, "agent1@demo", session_id, NotFound, user_id="nobody@demo")
    assert "no skill group" in await refused(start, "agent1@demo", session_id, NotFound, skill_group_id="999999")
    assert "no skill group" in await refused(start, "agent1@demo", session_id, NotFound, skill_group_id="x; drop")

    def another_tenant():
        other = factories.tenant()
        group = factories.skill_group(other, "voip")
        factories.agent(other, group, user_id="stranger@other", status="free")
        return str(group.pk)
    foreign_group = await database_sync_to_async(another_tenant)()
    assert "no agent" in await refused(start, "agent1@demo", session_id, NotFound, user_id="stranger@other")
    assert "no skill group" in await refused(start, "agent1@demo", session_id, NotFound,
                                             skill_group_id=foreign_group)
    await third.close()
    await database_sync_to_async(lambda: Agent.objects.filter(user_id="agent3@demo").update(status="offline"))()
    assert "offline" in await refused(start, "agent1@demo", session_id, user_id="agent3@demo")
    await second.call("Agent.setStatus", status="notReady")
    assert "cannot take a consult now" in await refused(start, "agent1@demo", session_id, user_id="agent2@demo")
    empty = await database_sync_to_async(lambda: str(SkillGroup.objects.get(pk=demo["skillGroups"]["im"]).pk))()
    assert "nobody in skill group" in await refused(start, "agent1@demo", session_id, skill_group_id=empty)
    for step in (consult.complete, consult.conference, consult.cancel):
        assert "no consult is in progress" in await refused(step, "agent1@demo", session_id)
    assert "phone number" in await refused(start, "agent1@demo", session_id, phone_number="0086075500000")
    assert "not in progress with you" in await refused(start, "agent2@demo", session_id, user_id="agent1@demo")
    assert await database_sync_to_async(Consult.objects.count)() == 0
    assert (await row(session_id)).on_hold is False

    await second.call("Agent.setStatus", status="stopNotReady")
    await act(start, "agent1@demo", session_id, user_id="agent2@demo")
    assert "already in progress" in await refused(start, "agent1@demo", session_id, user_id="agent2@demo")
    assert "has not answered yet" in await refused(consult.complete, "agent1@demo", session_id)
    assert "has not answered yet" in await refused(consult.conference, "agent1@demo", session_id)
    reply = await first.call("Call.transfer", sessionId=session_id, userId="agent2@demo")
    assert reply["status"] == "error" and "consult is in progress" in reply["errorMsg"]
    assert "only its serving agent" in await refused(consult.cancel, "agent2@demo", session_id)


async def test_a_number_needs_a_trunk_and_a_busy_agent_is_refused(sdk, demo):
    first, second, third, session_id = await serving(sdk, demo, "phone", callerPhoneNumber="0086075512345678")
    assert "no SIP trunk is configured" in await refused(consult.start, "agent1@demo", session_id,
                                                         phone_number="0086075500000")
    await act(consult.start, "agent1@demo", session_id, user_id="agent2@demo")  # agent2 is busy from now on
    other_call = await api_session(demo, "phone", callerPhoneNumber="0086075587654321")
    assert (await third.event("callIn"))["sessionId"] == other_call  # not agent2: ringing for a consult
    await third.call("Call.accept", sessionId=other_call)
    await act(consult.cancel, "agent1@demo", session_id)
    assert "cannot take a consult now (status busy)" in await refused(
        consult.start, "agent1@demo", session_id, user_id="agent3@demo")


async def test_the_consulted_agent_going_offline_ends_the_consult_and_cannot_while_talking(sdk, demo):
    first, second, _, session_id = await serving(sdk, demo)
    await act(consult.start, "agent1@demo", session_id, user_id="agent2@demo")
    await second.event("callIn")
    assert (await second.call("Agent.offline"))["status"] == "success"
    assert (await second.event("sessionEnded"))["closeBy"] == "admin"
    assert (await last_consult(session_id)).outcome == "offline"
    assert (await row(session_id)).on_hold is True
    await second.call("Agent.online")
    await act(consult.start, "agent1@demo", session_id, user_id="agent2@demo")
    await second.event("callIn")
    await second.call("Call.accept", sessionId=session_id)
    reply = await second.call("Agent.offline")
    assert reply["status"] == "error" and "in progress" in reply["errorMsg"]


async def test_hanging_up_while_the_consult_still_rings_cancels_it_and_ends_the_call(sdk, demo):
    first, second, _, session_id = await serving(sdk, demo)
    await act(consult.start, "agent1@demo", session_id, user_id="agent2@demo")
    await second.event("callIn")
    assert (await first.call("Call.hungUp", sessionId=session_id))["status"] == "success"
    assert (await second.event("sessionEnded"))["type"] == "internal"
    assert (await row(session_id)).state == "ended"
    assert (await last_consult(session_id)).outcome == "cancelled"
    assert await first.no_event("transfer", wait=0.2)


async def test_a_supervisor_listens_to_a_consult_but_takes_the_call_over_only_once_it_is_settled(sdk, demo):
    from django.contrib.auth import get_user_model

    from sessions_app.services import monitoring

    first, second, third, session_id = await consulting(sdk, demo)
    supervisor = (await database_sync_to_async(get_user_model().objects.get)(username="admin")).pk
    watch = database_sync_to_async(monitoring.start)
    await watch(supervisor_id=supervisor, session_id=session_id, mode="listen")
    heard, colleague = await plan(session_id), await database_sync_to_async(agent_pk)("agent2@demo")
    assert heard["consult"] == media.agent_leg(colleague) and list(heard["monitors"].values()) == ["listen"]

    with pytest.raises(ServiceError, match="is in a consult: take it over once the agent has completed"):
        await database_sync_to_async(monitoring.take_over)(supervisor_id=supervisor, session_id=session_id)
    assert (await row(session_id)).agent.user_id == "agent1@demo" and (await last_consult(session_id)).ended_at is None

    await act(consult.cancel, "agent1@demo", session_id)
    await database_sync_to_async(monitoring.take_over)(supervisor_id=supervisor, session_id=session_id)
    assert (await plan(session_id))["b"].startswith("supervisor:")


async def test_the_consulted_agent_mutes_their_own_microphone_and_stays_muted_when_handed_the_call(sdk, demo):
    first, second, third, session_id = await consulting(sdk, demo)
    colleague = media.agent_leg(await database_sync_to_async(agent_pk)("agent2@demo"))

    assert (await second.call("Call.muteMic", sessionId=session_id))["status"] == "success"
    assert (await plan(session_id))["muted"] == [colleague]  # nobody hears them; the first agent is not muted
    assert (await second.call("Call.isMicMuted", sessionId=session_id))["data"] == {"muted": True}
    assert (await first.call("Call.isMicMuted", sessionId=session_id))["data"] == {"muted": False}
    again = await second.call("Call.muteMic", sessionId=session_id)
    assert again["status"] == "error" and "already muted" in again["errorMsg"]

    await act(consult.complete, "agent1@demo", session_id)
    session = await row(session_id)
    assert (session.agent.user_id, session.mic_muted) == ("agent2@demo", True)
    assert (await plan(session_id))["muted"] == [colleague]
    assert (await second.call("Call.unmuteMic", sessionId=session_id))["status"] == "success"
    assert (await plan(session_id))["muted"] == []
