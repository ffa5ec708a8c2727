"""Session methods beyond the basic flow: transfer, internal and outbound calls, deleteCall, chat, video."""
import pytest
from channels.db import database_sync_to_async

from sessions_app.models import Agent, Cdr, ServeParticipant, Session, SkillGroup

from .conftest import api_session, sweep

pytestmark = pytest.mark.service


@database_sync_to_async
def only_online(*user_ids):
    Agent.objects.exclude(user_id__in=user_ids).update(status="offline")


@database_sync_to_async
def session_row(session_id):
    return Session.objects.select_related("agent").get(pk=session_id)


@database_sync_to_async
def participants(session_id):
    return list(ServeParticipant.objects.filter(session_id=session_id).values_list(
        "agent__user_id", "outcome", "transfer_from", "transfer_to"))


async def accepted_call(agent, demo, session_type="phone", **fields):
    session_id = await api_session(demo, session_type, **fields)
    await agent.event("callIn")
    assert (await agent.call(f"{ {'im': 'Chat', 'video': 'Video'}.get(session_type, 'Call')}.accept".strip(),
                             sessionId=session_id))["status"] == "success"
    await agent.event("userAccessed")
    return session_id


async def first_on_a_call_second_away(sdk, demo, second_status, session_type="phone", **fields):
    """agent1 takes a call while agent2, the only other agent online, is `second_status`: both agents' clients
    and the session, for moving the call on from agent1."""
    first = await sdk("agent1@demo")
    second = await sdk("agent2@demo")
    await only_online("agent1@demo", "agent2@demo")
    await second.call("Agent.setStatus", status=second_status)
    return first, second, await accepted_call(first, demo, session_type, **fields)


async def test_transfer_to_an_agent_offers_it_and_keeps_history(sdk, demo):
    first, second, session_id = await first_on_a_call_second_away(sdk, demo, "notReady", calleePhoneNumber="1")
    await second.call("Agent.setStatus", status="stopNotReady")
    reply = await first.call("Call.transfer", sessionId=session_id, userId="agent2@demo")
    assert reply["status"] == "success"
    assert await first.event("transfer") == {"sessionId": session_id, "skillGroupId": "", "userId": "agent2@demo"}
    assert (await second.event("callIn"))["sessionId"] == session_id
    await second.call("Call.accept", sessionId=session_id)
    assert await second.event("userAccessed") == {"sessionId": session_id}
    assert await participants(session_id) == [
        ("agent1@demo", "transferred", "", "agent2@demo"), ("agent2@demo", "accepted", "agent1@demo", "")]
    assert (await first.call("Agent.getStatus"))["data"]["status"] == "arrange"
    reply = await first.call("Call.hungUp", sessionId=session_id)
    assert reply["status"] == "error" and "not in progress with you" in reply["errorMsg"]


async def test_transfer_to_a_skill_group_queues_it_there(sdk, demo):
    first, second, session_id = await first_on_a_call_second_away(sdk, demo, "notReady", "voip", userId="openid",
                                                                 callee="web")
    await second.call("Agent.setStatus", status="stopNotReady")
    group = str(demo["skillGroups"]["voip"])
    assert (await first.call("Call.transfer", sessionId=session_id, skillGroupId=group))["status"] == "success"
    assert (await first.event("transfer"))["skillGroupId"] == group
    assert (await second.event("callIn"))["sessionId"] == session_id
    assert (await participants(session_id))[-1][2] == "agent1@demo"


async def test_transfer_to_a_busy_agent_is_refused_and_changes_nothing(sdk, demo):
    first, _, session_id = await first_on_a_call_second_away(sdk, demo, "rest", calleePhoneNumber="1")
    reply = await first.call("Call.transfer", sessionId=session_id, userId="agent2@demo")
    assert reply["status"] == "error" and "cannot take it now" in reply["errorMsg"]
    assert (await session_row(session_id)).agent.user_id == "agent1@demo"
    assert await participants(session_id) == [("agent1@demo", "accepted", "", "")]


async def test_internal_call_between_two_agents(sdk, demo):
    caller = await sdk("agent1@demo")
    callee = await sdk("agent2@demo")
    reply = await caller.call("Call.startInternalCall", calleeUserId="agent2@demo")
    assert reply["status"] == "success"
    session_id = reply["data"]["sessionId"]
    assert await callee.event("callIn") == {"sessionId": session_id, "type": "internal", "timeout": 30,
                                            "peerUserId": "agent1@demo"}
    assert (await caller.call("Agent.getStatus"))["data"]["status"] == "busy"
    await callee.call("Call.accept", sessionId=session_id)
    assert await callee.event("userAccessed") == {"sessionId": session_id}
    assert await caller.event("userAccessed") == {"sessionId": session_id}
    assert (await caller.call("Call.muteMic", sessionId=session_id))["status"] == "success"
    await caller.call("Call.hungUp", sessionId=session_id)
    assert (await caller.event("sessionEnded"))["closeBy"] == "seat"
    assert (await callee.event("sessionEnded"))["sessionId"] == session_id
    cdr = await database_sync_to_async(lambda: Cdr.objects.get(session_id=session_id).payload)()
    assert (cdr["CallType"], cdr["Caller"], cdr["Callee"]) == (6, "agent1@demo", "agent2@demo")


async def test_internal_call_not_answered_ends_as_not_answer(sdk, demo):
    caller = await sdk("agent1@demo")
    callee = await sdk("agent2@demo")
    session_id = (await caller.call("Call.startInternalCall", calleeUserId="agent2@demo"))["data"]["sessionId"]
    await callee.event("callIn")
    await database_sync_to_async(lambda: Session.objects.filter(pk=session_id).update(
        offer_deadline="2000-01-01T00:00:00Z"))()
    await sweep()
    assert (await caller.event("sessionEnded"))["sessionId"] == session_id
    assert (await session_row(session_id)).end_status == "notAnswer"
    assert (await caller.call("Agent.getStatus"))["data"]["status"] == "free"


async def test_internal_call_to_a_resting_agent_is_refused(sdk, demo):
    caller = await sdk("agent1@demo")
    callee = await sdk("agent2@demo")
    await callee.call("Agent.setStatus", status="rest")
    reply = await caller.call("Call.startInternalCall", calleeUserId="agent2@demo")
    assert reply["status"] == "error" and "cannot take a call now (status rest)" in reply["errorMsg"]


async def test_outbound_call_without_trunk_ends_as_unconnected(sdk, demo):
    agent = await sdk("agent1@demo")
    reply = await agent.call("Call.startOutboundCall", phoneNumber="008613900000000", phoneDesc="Customer",
                             uui="order-42")
    assert reply["status"] == "success"
    assert reply["data"]["callerPhoneNumber"] == demo["hotline"]
    session_id = reply["data"]["sessionId"]
    ended = await agent.event("sessionEnded")
    assert ended["sessionId"] == session_id and ended["closeBy"] == "admin"
    session = await session_row(session_id)
    assert (session.direction, session.end_status, session.uui) == ("out", "unconnected", "order-42")
    timeline = await database_sync_to_async(lambda: list(session.timeline.values_list("what", flat=True)))()
    assert "not dialed: no SIP trunk is configured" in timeline
    assert (await agent.call("Agent.getStatus"))["data"]["status"] == "free"


async def test_outbound_caller_number_must_be_ours(sdk, demo):
    agent = await sdk("agent1@demo")
    reply = await agent.call("Call.startOutboundCall", phoneNumber="008613900000000", callerPhoneNumber="0099")
    assert reply["status"] == "error" and "not one of this center's numbers" in reply["errorMsg"]
    reply = await agent.call("Call.startOutboundCall", phoneNumber="008613900000000",
                             skillGroupId=str(demo["skillGroups"]["im"]))
    assert reply["status"] == "error" and "no outbound numbers" in reply["errorMsg"]
    assert await database_sync_to_async(Session.objects.count)() == 0


async def test_delete_call_drops_an_ended_session_and_completes_it(sdk, demo):
    agent = await sdk("agent1@demo")
    await only_online("agent1@demo")
    session_id = await accepted_call(agent, demo, calleePhoneNumber="1")
    reply = await agent.call("Call.deleteCall", sessionId=session_id)
    assert reply["status"] == "error" and "still in progress" in reply["errorMsg"]
    await agent.call("Call.hungUp", sessionId=session_id)
    assert (await agent.call("Call.deleteCall", sessionId=session_id))["status"] == "success"
    assert await agent.event("sessionCompleted") == {"sessionId": session_id}
    hidden = await database_sync_to_async(lambda: ServeParticipant.objects.get(session_id=session_id).hidden)()
    assert hidden


async def test_chat_session_end_completes_without_after_call_work(sdk, demo):
    agent = await sdk("agent1@demo")
    await only_online("agent1@demo")
    session_id = await accepted_call(agent, demo, "im", nickname="Visitor", peerSource="web", channelName="site",
                                     clientData="cart=3")
    reply = await agent.call("Call.hungUp", sessionId=session_id)
    assert reply["status"] == "error" and "use tccc.Chat.end" in reply["errorMsg"]
    assert (await agent.call("Chat.end", sessionId=session_id))["status"] == "success"
    assert (await agent.event("sessionEnded"))["type"] == "im"
    assert await agent.event("sessionCompleted") == {"sessionId": session_id}
    assert (await agent.call("Agent.getStatus"))["data"]["status"] == "free"


async def test_video_controls_keep_state(sdk, demo):
    agent = await sdk("agent1@demo")
    await only_online("agent1@demo")
    session_id = await accepted_call(agent, demo, "video", userId="openid", nickname="Ann")
    assert (await agent.call("Video.muteVideo", sessionId=session_id))["status"] == "success"
    assert (await agent.call("Video.muteVideo", sessionId=session_id))["errorMsg"] == "the camera is already off"
    assert (await agent.call("Video.unmuteVideo", sessionId=session_id))["status"] == "success"
    assert (await agent.call("Video.muteMic", sessionId=session_id))["status"] == "success"
    assert (await session_row(session_id)).mic_muted
    await database_sync_to_async(lambda: SkillGroup.objects.update(wrap_up_seconds=0))()
    assert (await agent.call("Video.end", sessionId=session_id))["status"] == "success"
    assert await agent.event("sessionCompleted") == {"sessionId": session_id}


def test_with_media_workers_only_a_session_a_worker_carries_has_its_plan_sent_after_commit(
        db, settings, django_capture_on_commit_callbacks):
    """Most phone sessions have no media leg (their audio is the trunk's): with workers, their changes send no
    plan and read nothing after commit. A session a worker carries gets its plan; with the media on the process's
    own thread, sending it is left to that thread's engine, as before."""
    from sessions_app.services import media

    settings.MEDIA_IN_WORKERS = True
    with django_capture_on_commit_callbacks() as carried:
        media.sync(Session(type="phone", media_worker="worker-1"))
    with django_capture_on_commit_callbacks() as uncarried:
        media.sync(Session(type="phone"))
    settings.MEDIA_IN_WORKERS = False
    with django_capture_on_commit_callbacks() as embedded:
        media.sync(Session(type="phone"))
    assert (len(carried), len(uncarried), len(embedded)) == (1, 0, 1)
