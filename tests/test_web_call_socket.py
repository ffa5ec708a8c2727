"""The web caller's socket (/ws/call/) over a real Channels websocket: every bad request is an error reply
naming the problem and the socket stays; a refused page or SdkAppId gets no call; a good offer is answered by
the media bridge, and closing the socket hangs the call up."""
from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from sessions_app.domain import web_call
from sessions_app.models import Session
from testing.peers import Peer

from .widget_clients import OFFER, CallerClient

pytestmark = pytest.mark.service

@pytest.mark.parametrize(("action", "fields", "message"), [
    ("dial", {}, "action must be start or hangUp"),
    (None, {}, "action must be start or hangUp"),
    ("start", {"sdp": OFFER}, "kind must be audio or video"),
    ("start", {"kind": "fax", "sdp": OFFER}, "kind must be audio or video"),
    ("start", {"kind": "audio"}, "sdp must be the page's WebRTC offer"),
    ("start", {"kind": "audio", "sdp": "hello"}, "sdp must be the page's WebRTC offer"),
    ("start", {"kind": "audio", "sdp": OFFER, "nickname": "x" * 129}, "nickname must be a string of at most 128"),
    ("start", {"kind": "audio", "sdp": OFFER, "remark": 5}, "remark must be a string"),
    ("start", {"kind": "audio", "sdp": OFFER, "skillGroupId": "abc"}, "skillGroupId must be a skill group's id"),
    ("start", {"kind": "audio", "sdp": OFFER, "color": "red"}, "unknown field 'color'"),
    ("hangUp", {"now": True}, "unknown field 'now'"),
    ("hangUp", {}, "there is no call to hang up"),
])
async def test_a_bad_request_gets_an_error_reply_and_the_socket_stays(demo, action, fields, message):
    caller = await CallerClient.connect()
    reply = await caller.request(action, **fields)
    assert reply["status"] == "error" and message in reply["errorMsg"], reply
    assert (await caller.request("hangUp"))["errorMsg"] == "there is no call to hang up"  # still answering
    await caller.communicator.disconnect()


async def test_an_offer_without_audio_is_refused_and_leaves_no_call_behind(sdk, demo):
    await sdk("agent1@demo")
    caller = await CallerClient.connect()
    reply = await caller.request("start", kind="audio", sdp=OFFER)
    assert reply["status"] == "error" and "the offer has no audio" in reply["errorMsg"], reply
    session = await sync_to_async(Session.objects.filter(type="voip").latest)("created_at")
    assert (session.state, session.end_status) == ("ended", "mediaError")
    await caller.communicator.disconnect()


async def test_a_page_off_the_allow_list_or_an_unknown_sdk_app_id_is_refused(demo):
    foreign = await CallerClient.connect(origin="https://evil.example")
    assert not foreign.connected
    unknown = await CallerClient.connect(sdk_app_id="999")
    assert unknown.welcome == {"type": "refused", "errorMsg": "no SdkAppId '999'"}


async def test_with_nobody_online_the_call_is_refused_as_no_seat_online(demo):
    caller = await CallerClient.connect()
    peer = Peer(440)
    reply = await caller.request("start", kind="audio", sdp=await peer.offer())
    await peer.close()
    assert reply["status"] == "error" and reply["errorMsg"] == "the call could not be placed: noSeatOnline"


async def test_a_call_is_answered_by_the_bridge_and_ends_when_the_page_goes(sdk, demo):
    agent = await sdk("agent1@demo")
    caller = await CallerClient.connect()
    peer = Peer(440)
    reply = await caller.request("start", kind="audio", sdp=await peer.offer(), nickname="Li", remark="order 7")
    assert reply["status"] == "success", reply
    assert reply["data"]["type"] == "voip" and reply["data"]["sdp"].startswith("v=0")
    assert tuple(reply["data"]) == web_call.ACTIONS["start"].result  # the fields its declaration names
    offer = await agent.event("callIn")
    assert (offer["sessionId"], offer["nickname"], offer["remark"]) == (reply["data"]["sessionId"], "Li", "order 7")
    assert await caller.event("ringing") == {"sessionId": offer["sessionId"]}
    second = await caller.request("start", kind="audio", sdp=await peer.offer())
    assert second["errorMsg"] == "a call is already in progress: hang up before starting another"
    await caller.communicator.disconnect()
    ended = await agent.event("sessionEnded")
    assert ended["closeBy"] == "client"
    await peer.close()


@pytest.mark.parametrize("free_at_transfer", [True, False])
async def test_a_call_transferred_to_a_group_tells_its_caller_it_waits_only_while_it_does(sdk, demo,
                                                                                           free_at_transfer):
    first, second = await sdk("agent1@demo"), await sdk("agent2@demo")
    await second.call("Agent.setStatus", status="notReady")
    caller = await CallerClient.connect()
    peer = Peer(440)
    session_id = (await caller.request("start", kind="audio", sdp=await peer.offer()))["data"]["sessionId"]
    assert (await first.event("callIn"))["sessionId"] == session_id
    await caller.event("ringing")
    assert (await first.call("Call.accept", sessionId=session_id))["status"] == "success"
    await caller.event("accepted")
    if free_at_transfer:
        await second.call("Agent.setStatus", status="stopNotReady")
    group = str(demo["skillGroups"]["voip"])
    assert (await first.call("Call.transfer", sessionId=session_id, skillGroupId=group))["status"] == "success"
    if free_at_transfer:  # queued and offered in one go: the caller's last word is "ringing", not "queued"
        assert await caller.no_event("queued")
    else:
        assert await caller.event("queued") == {"sessionId": session_id}
        await second.call("Agent.setStatus", status="stopNotReady")
    assert (await second.event("callIn"))["sessionId"] == session_id
    assert await caller.event("ringing") == {"sessionId": session_id}
    await caller.communicator.disconnect()
    await peer.close()
