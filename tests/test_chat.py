"""Web chat over real websockets: the visitor's socket (/ws/visitor/), the agent's SDK socket, and the chat
service the agent workbench calls (its live events heard on the agent's channel-layer group)."""
import asyncio
import json
import time
from unittest import mock

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.core import signing

from sessions_app.models import Agent, CannedResponse, ChatMessage, Session, Tenant
from sessions_app.services import chat
from sessions_app.services.errors import ServiceError
from sessions_app.services.events import agent_group, pages_group
from sessions_app.services.visitor_limits import Visitor

from .widget_clients import VisitorClient

pytestmark = pytest.mark.service

XSS = "<img src=x onerror=alert(1)>"


class AgentChatListener:
    """What the agent workbench hears of chats: `agent.chat` messages on its pages' channel-layer group."""

    def __init__(self, channel: str):
        self.channel = channel

    @classmethod
    async def join(cls, user_id: str):
        agent_id = await database_sync_to_async(lambda: Agent.objects.get(user_id=user_id).pk)()
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(pages_group(agent_id), channel)
        return cls(channel)

    async def event(self, name: str, timeout: float = 3) -> dict:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            remaining = max(0.01, deadline - asyncio.get_running_loop().time())
            message = await asyncio.wait_for(get_channel_layer().receive(self.channel), remaining)
            if message["type"] == "agent.chat" and message["frame"]["event"] == name:
                assert message["frame"]["type"] == "chat"
                return message["frame"]["data"]

    async def no_event(self, name: str, wait: float = 0.2) -> bool:
        try:
            await self.event(name, timeout=wait)
        except asyncio.TimeoutError:
            return True
        return False


@pytest.fixture
async def visitor(demo, closed_after_test):
    """Factory of connected visitor clients; all are closed at the end of the test."""
    async def connect(*args, **kwargs):
        return closed_after_test(await VisitorClient.connect(*args, **kwargs))

    return connect


def agent_id(user_id: str) -> int:
    return Agent.objects.get(user_id=user_id).pk


post = database_sync_to_async(chat.post_message)


async def agent_post(session_id: str, user_id: str, text: str, **kwargs) -> dict:
    return await post(session_id, sender="agent", text=text,
                      agent_id=await database_sync_to_async(agent_id)(user_id), **kwargs)


async def served_chat(sdk, visitor, user_id="agent1@demo", **fields):
    """A visitor's chat, offered to and accepted by `user_id` (the only agent online): (visitor, agent, sessionId)."""
    agent = await sdk(user_id)
    guest = await visitor()
    started = await guest.start(**fields)
    assert (await agent.event("callIn"))["sessionId"] == started["sessionId"]
    assert (await agent.call("Chat.accept", sessionId=started["sessionId"]))["status"] == "success"
    await guest.event("accepted")
    return guest, agent, started["sessionId"]


async def test_visitor_chat_rings_an_agent_with_its_callin_fields_and_the_visitor_hears_the_accept(sdk, visitor):
    agent = await sdk("agent1@demo")
    guest = await visitor()
    assert guest.welcome == {"type": "welcome", "chat": None, "visitorId": guest.welcome["visitorId"]}
    started = await guest.start(nickname="Ann", avatar="https://example.com/a.png", peerSource="pricing page",
                                channelName="Website", clientData='{"plan":"pro"}')
    session_id = started["sessionId"]
    assert started["chat"]["state"] == "ringing" and started["chat"]["messages"] == []
    assert await agent.event("callIn") == {
        "sessionId": session_id, "type": "im", "timeout": 8, "nickname": "Ann", "avatar": "https://example.com/a.png",
        "remark": "", "peerSource": "pricing page", "channelName": "Website", "clientData": '{"plan":"pro"}'}
    assert (await agent.call("Chat.accept", sessionId=session_id))["status"] == "success"
    assert await guest.event("accepted") == {"sessionId": session_id, "agentNickname": "Alice"}
    session = await database_sync_to_async(Session.objects.get)(pk=session_id)
    assert (session.type, session.state, session.nickname) == ("im", "active", "Ann")


async def test_messages_go_both_ways_in_order_with_ids_and_are_stored(sdk, visitor):
    listener = await AgentChatListener.join("agent1@demo")
    guest, agent, session_id = await served_chat(sdk, visitor)

    first = await guest.send("Hello, my order is late")
    assert first["status"] == "success"
    assert first["data"]["seq"] == 1 and first["data"]["sender"] == "visitor" and first["data"]["id"]
    heard = await listener.event("message")
    assert heard == first["data"]
    assert heard["text"] == "Hello, my order is late" and heard["sessionId"] == session_id

    answer = await agent_post(session_id, "agent1@demo", "Sorry! Let me check.")
    assert (answer["seq"], answer["sender"], answer["agentUserId"]) == (2, "agent", "agent1@demo")
    second = (await guest.send("Order 1234"))["data"]
    assert second["seq"] == 3

    # Each message reaches the other side, in seq order (the sender has it in the reply).
    assert await guest.event("message") == answer
    assert await listener.event("message") == second
    assert await guest.no_event("message") and await listener.no_event("message")
    assert [m["text"] for m in await database_sync_to_async(chat.history)(session_id)] == [
        "Hello, my order is late", "Sorry! Let me check.", "Order 1234"]
    rows = await database_sync_to_async(lambda: list(
        ChatMessage.objects.filter(session_id=session_id).values_list("seq", "sender", "text")))()
    assert rows == [(1, "visitor", "Hello, my order is late"), (2, "agent", "Sorry! Let me check."),
                    (3, "visitor", "Order 1234")]
    assert [m["seq"] for m in (await guest.request("history", afterSeq=1))["data"]["messages"]] == [2, 3]


async def test_an_sdk_connection_gets_none_of_the_messages_only_the_workbench_pages_show(sdk, visitor):
    """Chat events and status changes go to the workbench's pages alone: the agent's group, where SDK
    connections (a CRM's) are, carries the SDK's events only."""
    agent_id = await database_sync_to_async(lambda: Agent.objects.get(user_id="agent1@demo").pk)()
    layer = get_channel_layer()
    sdk_side, pages_side = await layer.new_channel(), await layer.new_channel()
    await layer.group_add(agent_group(agent_id), sdk_side)
    await layer.group_add(pages_group(agent_id), pages_side)
    guest, agent, session_id = await served_chat(sdk, visitor)
    await guest.send("Hello")
    assert (await agent.call("Chat.end", sessionId=session_id))["status"] == "success"
    assert (await agent.call("Agent.setStatus", status="rest", restReason="lunch"))["status"] == "success"

    async def kinds(channel):
        heard = []
        while True:
            try:
                heard.append((await asyncio.wait_for(layer.receive(channel), 0.3))["type"])
            except asyncio.TimeoutError:
                return set(heard)

    assert await kinds(sdk_side) <= {"agent.frame", "agent.frames"}
    assert {"agent.chat", "agent.changed"} <= await kinds(pages_side)


async def test_typing_and_read_receipts_reach_the_other_side(sdk, visitor):
    listener = await AgentChatListener.join("agent1@demo")
    guest, agent, session_id = await served_chat(sdk, visitor)

    assert (await guest.request("typing"))["status"] == "success"
    assert await listener.event("typing") == {"sessionId": session_id, "side": "visitor"}
    await database_sync_to_async(chat.typing)(session_id, side="agent")
    assert await guest.event("typing") == {"sessionId": session_id, "side": "agent"}

    await guest.send("one")
    await guest.send("two")
    await database_sync_to_async(chat.mark_read)(session_id, side="agent", seq=2)
    assert await guest.event("read") == {"sessionId": session_id, "side": "agent", "seq": 2}
    # Only forward, and capped at the last message: no event for a mark that does not move.
    assert await database_sync_to_async(chat.mark_read)(session_id, side="agent", seq=1) == {"seq": 2}
    assert await database_sync_to_async(chat.mark_read)(session_id, side="agent", seq=99) == {"seq": 2}
    assert await guest.no_event("read")

    await agent_post(session_id, "agent1@demo", "three")
    assert (await guest.request("read", seq=3))["data"] == {"seq": 3}
    assert await listener.event("read") == {"sessionId": session_id, "side": "visitor", "seq": 3}


async def test_visitor_reconnecting_with_the_token_gets_the_state_and_the_whole_conversation(sdk, visitor):
    guest, agent, session_id = await served_chat(sdk, visitor)
    await guest.send("before the reload")
    await agent_post(session_id, "agent1@demo", "answer")
    await database_sync_to_async(chat.mark_read)(session_id, side="agent", seq=1)
    token = await database_sync_to_async(chat.issue_visitor_token)(session_id)
    await guest.close()

    again = await visitor(token=token)
    restored = again.welcome["chat"]
    assert restored["sessionId"] == session_id and restored["state"] == "active"
    assert restored["agentNickname"] == "Alice" and restored["readByAgent"] == 1
    assert [(m["seq"], m["sender"], m["text"]) for m in restored["messages"]] == [
        (1, "visitor", "before the reload"), (2, "agent", "answer")]
    # The reconnected socket hears the chat live and can write to it.
    await agent_post(session_id, "agent1@demo", "still there?")
    assert (await again.event("message"))["text"] == "still there?"
    assert (await again.send("yes"))["data"]["seq"] == 4


async def test_a_bad_or_expired_visitor_token_is_refused_in_the_welcome(visitor):
    forged = await visitor(token="not-a-token")
    assert forged.welcome == {"type": "welcome", "chat": None, "errorMsg": "the visitor token is not valid",
                              "visitorId": forged.welcome["visitorId"]}
    assert (await forged.send("hi"))["errorMsg"] == "there is no chat yet: start one first"

    guest = await visitor()
    session_id = (await guest.start())["sessionId"]
    # A token signed a day and a minute ago.
    with mock.patch("time.time", return_value=time.time() - chat.VISITOR_TOKEN_TTL - 60):
        expired = await database_sync_to_async(chat.issue_visitor_token)(session_id)
    late = await visitor(token=expired)
    assert late.welcome["chat"] is None and "expired" in late.welcome["errorMsg"]
    with pytest.raises(ServiceError, match="not valid"):
        await database_sync_to_async(chat.session_for_visitor)(signing.dumps({"s": session_id}, salt="tccc.sdk-resume"))


async def test_transfer_hands_the_history_to_the_new_agent_who_may_write_and_the_old_may_not(sdk, visitor):
    guest, first, session_id = await served_chat(sdk, visitor)
    second = await sdk("agent2@demo")
    await guest.send("I need billing")
    await agent_post(session_id, "agent1@demo", "Passing you to Bob")
    listener = await AgentChatListener.join("agent2@demo")
    reply = await first.call("Chat.transfer", sessionId=session_id, userId="agent2@demo")
    assert reply["status"] == "success"
    assert (await second.event("callIn"))["sessionId"] == session_id
    # While it rings for Bob the visitor may still write, and Bob already hears it.
    assert (await guest.send("thanks"))["status"] == "success"
    assert (await listener.event("message"))["text"] == "thanks"
    assert (await second.call("Chat.accept", sessionId=session_id))["status"] == "success"
    assert (await guest.event("accepted"))["agentNickname"] == "Bob"

    history = await database_sync_to_async(chat.history)(session_id)
    assert [m["text"] for m in history] == ["I need billing", "Passing you to Bob", "thanks"]
    assert (await agent_post(session_id, "agent2@demo", "Hi, Bob from billing"))["seq"] == 4
    with pytest.raises(ServiceError, match="not in progress with you"):
        await agent_post(session_id, "agent1@demo", "me again")


async def test_the_visitor_ends_the_chat_and_the_agent_hears_it(sdk, visitor):
    guest, agent, session_id = await served_chat(sdk, visitor)
    assert (await guest.request("end"))["status"] == "success"
    ended = await agent.event("sessionEnded")
    assert (ended["sessionId"], ended["closeBy"], ended["type"]) == (session_id, "client", "im")
    assert await guest.event("ended") == {"sessionId": session_id, "closeBy": "client", "endStatus": "ok"}
    assert (await guest.send("hello?"))["errorMsg"] == "the chat has ended"
    assert (await guest.request("end"))["errorMsg"] == "the chat has already ended"
    with pytest.raises(ServiceError, match="the chat has ended"):
        await agent_post(session_id, "agent1@demo", "bye")
    # A new chat may start on the same connection once the old one has ended.
    assert (await guest.start())["sessionId"] != session_id


async def test_the_agent_ends_the_chat_and_the_visitor_hears_it(sdk, visitor):
    guest, agent, session_id = await served_chat(sdk, visitor)
    assert (await guest.request("start"))["errorMsg"] == "a chat is already open: end it before starting another"
    assert (await agent.call("Chat.end", sessionId=session_id))["status"] == "success"
    assert await guest.event("ended") == {"sessionId": session_id, "closeBy": "seat", "endStatus": "ok"}
    token = await database_sync_to_async(chat.issue_visitor_token)(session_id)
    later = await visitor(token=token)
    assert (later.welcome["chat"]["state"], later.welcome["chat"]["closeBy"]) == ("ended", "seat")


async def test_chats_beyond_the_agents_capacity_wait_and_hear_their_place_in_the_queue(sdk, visitor):
    await database_sync_to_async(lambda: Agent.objects.filter(user_id="agent1@demo").update(chat_capacity=2))()
    agent = await sdk("agent1@demo")
    guests = [await visitor() for _ in range(4)]
    chats = [(await guest.start())["chat"] for guest in guests]
    ids = [c["sessionId"] for c in chats]
    assert {(await agent.event("callIn"))["sessionId"] for _ in range(2)} == set(ids[:2])
    assert await agent.no_event("callIn")
    # The reply to start tells the place in the queue; an event tells it whenever it changes.
    assert [(c["state"], c["position"]) for c in chats] == [("ringing", None), ("ringing", None), ("queued", 1),
                                                            ("queued", 2)]
    # A reconnecting visitor's welcome tells the place too.
    token = await database_sync_to_async(chat.issue_visitor_token)(ids[3])
    assert (await visitor(token=token)).welcome["chat"]["position"] == 2

    # The queued visitor may already write; the agent hears nothing of a chat not yet theirs.
    assert (await guests[3].send("anyone there?"))["status"] == "success"

    await agent.call("Chat.accept", sessionId=ids[0])
    await agent.call("Chat.end", sessionId=ids[0])
    assert (await agent.event("callIn"))["sessionId"] == ids[2]
    assert await guests[3].event("queued") == {"sessionId": ids[3], "position": 1}
    await guests[3].request("end")
    assert (await guests[3].event("ended"))["endStatus"] == "waitingGiveUp"


async def test_a_chat_joining_or_leaving_the_queue_tells_only_the_chats_whose_place_changed(sdk, visitor):
    agent = await sdk("agent1@demo")
    assert (await agent.call("Agent.setStatus", status="rest"))["status"] == "success"  # online: chats wait
    guests = [await visitor() for _ in range(5)]
    ids = []
    for place, guest in enumerate(guests, start=1):
        started = await guest.start()
        assert (started["chat"]["state"], started["chat"]["position"]) == ("queued", place)  # start's reply says
        ids.append(started["sessionId"])
    assert all([await guest.no_event("queued") for guest in guests])  # a join at the tail moves nobody

    await guests[1].request("end")
    assert [await guest.event("queued") for guest in guests[2:]] == [
        {"sessionId": ids[n], "position": n} for n in range(2, 5)]
    assert await guests[0].no_event("queued")  # ahead of the chat that left

    await guests[4].request("end")  # the tail leaving moves nobody
    assert all([await guest.no_event("queued") for guest in (guests[0], guests[2], guests[3])])


async def test_a_flooding_visitor_is_slowed_down_with_a_clear_message(sdk, visitor):
    guest, agent, session_id = await served_chat(sdk, visitor)
    for i in range(5):
        assert (await guest.send(f"spam {i}"))["status"] == "success"
    refused = await guest.send("spam 5")
    assert refused == {"type": "reply", "id": guest.next_id, "status": "error",
                       "errorMsg": "you are sending messages too fast: wait a few seconds"}
    # Counted from the database: five messages 10 s ago no longer count against the 5-in-5-s limit.
    from datetime import timedelta

    from django.utils import timezone

    await database_sync_to_async(lambda: ChatMessage.objects.filter(session_id=session_id).update(
        created_at=timezone.now() - timedelta(seconds=10)))()
    assert (await guest.send("now calmer"))["status"] == "success"
    # The agent is not rate-limited.
    for i in range(8):
        await agent_post(session_id, "agent1@demo", f"reply {i}")


async def test_an_xss_payload_is_stored_verbatim_and_delivered_as_text(sdk, visitor):
    listener = await AgentChatListener.join("agent1@demo")
    guest, agent, session_id = await served_chat(sdk, visitor, nickname=XSS)
    sent = (await guest.send(XSS))["data"]
    assert sent["text"] == XSS
    assert (await listener.event("message"))["text"] == XSS
    await agent_post(session_id, "agent1@demo", XSS)
    assert (await guest.event("message"))["text"] == XSS
    stored = await database_sync_to_async(lambda: list(ChatMessage.objects.values_list("text", flat=True)))()
    assert stored == [XSS, XSS]
    assert (await database_sync_to_async(Session.objects.get)(pk=session_id)).nickname == XSS


async def test_message_text_is_stripped_and_limited_to_2000_characters(sdk, visitor):
    guest, agent, session_id = await served_chat(sdk, visitor)
    assert (await guest.send("  padded \n"))["data"]["text"] == "padded"
    assert (await guest.send("x" * 2000))["status"] == "success"
    assert (await guest.send("x" * 2001))["errorMsg"] == "the message is longer than 2000 characters (2001)"
    assert (await guest.send("   "))["errorMsg"] == "the message is empty"
    with pytest.raises(ServiceError, match="longer than 2000"):
        await agent_post(session_id, "agent1@demo", "y" * 2001)
    assert (await guest.send("🙂" * 2000))["status"] == "success"  # characters, not bytes


async def test_a_resend_with_the_same_client_id_is_stored_once(sdk, visitor):
    guest, agent, session_id = await served_chat(sdk, visitor)
    first = (await guest.send("only once", clientId="c-1"))["data"]
    again = (await guest.send("only once", clientId="c-1"))["data"]
    assert again == first and first["clientId"] == "c-1"
    reply = await agent_post(session_id, "agent1@demo", "ok", client_id="c-1")  # per sender
    assert reply["seq"] == 2
    assert await database_sync_to_async(ChatMessage.objects.count)() == 2
    assert "clientId" in (await guest.send("x", clientId="c" * 65))["errorMsg"]


async def test_bad_frames_get_error_replies_and_the_connection_stays(visitor):
    guest = await visitor()
    sent = guest.communicator.send_to

    await sent(text_data="not json")
    assert await guest.frame() == {"type": "reply", "id": None, "status": "error",
                                   "errorMsg": "the request is not valid JSON"}
    await sent(text_data=json.dumps({"id": 1, "action": "dance"}))
    assert (await guest.frame())["errorMsg"] == "unknown action 'dance'"
    await sent(text_data=json.dumps({"action": "send", "text": "no id"}))
    assert (await guest.frame())["errorMsg"].startswith("id is required")
    await sent(text_data=json.dumps({"id": 2, "action": "send", "text": "x" * 17000}))
    assert await guest.frame() == {"type": "reply", "id": None, "status": "error",
                                   "errorMsg": "a request must be a JSON text frame of at most 16384 bytes"}
    await sent(text_data=json.dumps({"id": 3, "action": "read", "seq": "many"}))
    assert (await guest.frame())["errorMsg"] == "seq must be a whole number of at least 0"
    await sent(text_data=json.dumps({"id": 4, "action": "start", "nickname": ["a"]}))
    assert (await guest.frame())["errorMsg"] == "nickname must be a string of at most 128 characters"
    await sent(text_data='{"id": 5, "action": "send", "text": "a\\ud800b"}')
    assert await guest.frame() == {"type": "reply", "id": 5, "status": "error",
                                   "errorMsg": "the request contains text that is not valid Unicode"}
    await sent(bytes_data=b"\x00\x01")
    assert (await guest.frame())["status"] == "error"
    assert (await guest.request("typing"))["errorMsg"] == "there is no chat yet: start one first"


async def test_a_page_off_the_allow_list_or_of_an_unknown_sdk_app_id_is_refused(visitor):
    foreign = await visitor(origin="https://evil.example")
    assert foreign.connected is False
    unknown = await visitor(sdk_app_id="999")
    assert unknown.welcome == {"type": "refused", "errorMsg": "no SdkAppId '999'"}
    close = await unknown.communicator.receive_output()
    assert close == {"type": "websocket.close", "code": 4003}


async def test_with_nobody_online_the_chat_ends_at_once_as_no_seat_online(visitor):
    guest = await visitor()
    started = await guest.start()
    assert (started["chat"]["state"], started["chat"]["endStatus"]) == ("ended", "noSeatOnline")


async def test_a_visitor_token_of_another_tenant_is_not_taken(visitor, demo):
    guest = await visitor()
    session_id = (await guest.start())["sessionId"]
    token = await database_sync_to_async(chat.issue_visitor_token)(session_id)

    def other_tenant():
        Tenant.objects.create(name="Other", sdk_app_id="1400000002", api_key="other-key",
                              allowed_origins="http://127.0.0.1:*")

    await database_sync_to_async(other_tenant)()
    stranger = await visitor(token=token, sdk_app_id="1400000002")
    assert stranger.welcome["errorMsg"] == "the visitor token was issued for another SdkAppId"


async def test_canned_responses_are_the_tenants_own_in_title_order(demo):
    def arrange():
        tenant = Tenant.objects.get(sdk_app_id=demo["SdkAppId"])
        CannedResponse.objects.create(tenant=tenant, title="Thanks", text="Thank you for waiting.")
        CannedResponse.objects.create(tenant=tenant, title="Hello", text="Hello! How can I help?")
        other = Tenant.objects.create(name="Other", sdk_app_id="1400000002", api_key="other-key")
        CannedResponse.objects.create(tenant=other, title="Secret", text="Not yours")
        return [(r["title"], r["text"]) for r in chat.canned_responses(tenant)]

    assert await database_sync_to_async(arrange)() == [("Hello", "Hello! How can I help?"),
                                                      ("Thanks", "Thank you for waiting.")]


async def test_an_agent_not_serving_the_chat_may_not_post_read_or_type_as_its_agent(sdk, visitor):
    guest, agent, session_id = await served_chat(sdk, visitor)
    await sdk("agent2@demo")
    with pytest.raises(ServiceError, match="not in progress with you"):
        await agent_post(session_id, "agent2@demo", "hijack")
    other = await database_sync_to_async(agent_id)("agent2@demo")
    with pytest.raises(ServiceError, match="not yours"):
        await database_sync_to_async(chat.mark_read)(session_id, side="agent", seq=0, agent_id=other)
    with pytest.raises(ServiceError, match="not yours"):
        await database_sync_to_async(chat.typing)(session_id, side="agent", agent_id=other)
    with pytest.raises(ServiceError, match="side must be one of"):
        await database_sync_to_async(chat.typing)(session_id, side="robot")


def test_admin_shows_an_im_sessions_messages_read_only_and_manages_canned_responses(demo, client):
    from django.urls import reverse

    tenant = Tenant.objects.get(sdk_app_id=demo["SdkAppId"])
    # Nobody is online: it ends at once.
    session_id = chat.start_visitor_chat(tenant, Visitor("v" * 16), nickname="Ann")["sessionId"]
    ChatMessage.objects.create(session_id=session_id, seq=1, sender="visitor", text=XSS)
    client.login(username="admin", password="demo-password")

    page = client.get(reverse("admin:sessions_app_session_change", args=[session_id])).content.decode()
    assert "Chat messages" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and XSS not in page
    added = client.post(reverse("admin:sessions_app_cannedresponse_add"),
                        {"tenant": tenant.pk, "title": "Greeting", "text": "Hello! How can I help?"})
    assert added.status_code == 302
    assert chat.canned_responses(tenant)[0]["title"] == "Greeting"
    phone = Session.objects.create(tenant=tenant, type="phone")
    assert "Chat messages" not in client.get(
        reverse("admin:sessions_app_session_change", args=[phone.pk])).content.decode()


def test_domain_rules_for_text_rate_and_visitor_frames():
    from sessions_app.domain import chat as rules
    from sessions_app.domain.protocol import ProtocolError

    assert rules.clean_text("  hi \n") == "hi"
    for bad, reason in (("", "empty"), (" \t", "empty"), ("x" * 2001, "longer than 2000"), (5, "string"),
                        ("a\x00b", "NUL")):
        with pytest.raises(rules.ChatRefused, match=reason):
            rules.clean_text(bad)
    assert not rules.too_fast((4, 29)) and rules.too_fast((5, 5)) and rules.too_fast((0, 30))
    assert rules.other_side("visitor") == "agent" and rules.other_side("agent") == "visitor"
    assert rules.clean_start_fields(nickname=" ")["nickname"] == "Visitor"
    assert rules.visitor_request({"id": 1, "action": "send", "text": "hi"}) == ("send", {"text": "hi", "client_id": ""})
    assert rules.visitor_request({"id": 1, "action": "start", "skillGroupId": 7})[1]["skill_group_id"] == "7"
    assert rules.visitor_request({"id": 1, "action": "history"}) == ("history", {"after_seq": 0})
    for frame, reason in (([], "JSON object"), ({"id": 1}, "action is required"), ({"action": "send"}, "text"),
                          ({"action": "read", "seq": -1}, "seq"), ({"action": "read", "seq": True}, "seq"),
                          ({"action": "start", "avatar": "x" * 1025}, "avatar")):
        with pytest.raises(ProtocolError, match=reason):
            rules.visitor_request(frame)


async def test_every_reply_carries_the_fields_its_action_declares(sdk, visitor):
    from sessions_app.domain.chat import ACTIONS

    agent = await sdk("agent1@demo")
    guest = await visitor()
    replies = {"start": await guest.request("start", nickname="Ann")}
    assert (await agent.event("callIn"))["sessionId"] == replies["start"]["data"]["sessionId"]
    replies["send"] = await guest.send("hello")
    replies["read"] = await guest.request("read", seq=1)
    replies["history"] = await guest.request("history")
    replies["typing"] = await guest.request("typing")
    replies["end"] = await guest.request("end")
    assert set(replies) == set(ACTIONS)
    for action, reply in replies.items():
        assert reply["status"] == "success", (action, reply)
        assert tuple(reply.get("data") or ()) == ACTIONS[action].result, action
