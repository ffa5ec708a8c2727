"""A supervisor watching a web chat (services/chat_watch.py and its socket, `/ws/supervise/chat/`): their messages
reach both sides marked as theirs, a take-over frees the agent and leaves the chat with the supervisor, every
call is audited, and whatever is not theirs to watch is refused with a clear message."""
import asyncio
import re

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import Client

from sessions_app.models import Agent, AuditEntry, ChatMessage, ServeParticipant, Session, Supervisor
from sessions_app.services import agents, chat, chat_watch, sessions, supervision, workbench
from sessions_app.services.errors import NotFound, ServiceError

from . import factories
from .conftest import api_session
from .races import at_once
from .test_chat import AgentChatListener, agent_post, served_chat, visitor  # noqa: F401 (fixture)

pytestmark = pytest.mark.service
in_thread = database_sync_to_async
OWN_ORIGIN = "http://testserver"


def admin_id() -> int:
    return get_user_model().objects.get(username="admin").pk


def audit_trail() -> list[tuple]:
    return list(AuditEntry.objects.order_by("pk").values_list("supervisor_name", "action", "outcome", "message"))


def other_tenants_supervisor() -> int:
    tenant = factories.tenant(name="Elsewhere")
    user = get_user_model().objects.create_user("lead@elsewhere", password="x", is_staff=True)
    Supervisor.objects.create(account=user, tenant=tenant)
    return user.pk


async def watch_call(function, **kwargs):
    return await in_thread(function)(supervisor_id=await in_thread(admin_id)(), **kwargs)


# Writing.

async def test_a_supervisors_message_is_stored_as_theirs_and_reaches_the_visitor_and_the_agent(sdk, visitor):
    listener = await AgentChatListener.join("agent1@demo")
    guest, agent, session_id = await served_chat(sdk, visitor)

    written = await watch_call(chat_watch.write, session_id=session_id, text="  I am here to help too  ")
    assert (written["sender"], written["supervisorName"], written["text"], written["agentUserId"]) == (
        "supervisor", "admin", "I am here to help too", "")
    assert await guest.event("message") == written
    assert await listener.event("message") == written
    row = await in_thread(ChatMessage.objects.get)(pk=written["id"])
    assert (row.sender, row.supervisor_name, row.seq) == ("supervisor", "admin", 1)
    assert await in_thread(audit_trail)() == [("admin", "write_chat", "done", "")]


async def test_empty_over_long_and_misplaced_messages_are_refused_with_clear_messages_and_audited(sdk, visitor, demo):
    guest, agent, session_id = await served_chat(sdk, visitor)
    phone_id = await api_session(demo, "phone")
    refusals = [
        ({"session_id": session_id, "text": "   "}, ServiceError, "the message is empty"),
        ({"session_id": session_id, "text": "x" * 2001}, ServiceError, "longer than 2000 characters"),
        ({"session_id": session_id, "text": 42}, ServiceError, "text must be a string"),
        ({"session_id": phone_id, "text": "hi"}, ServiceError, "is a phone, not a web chat"),
        ({"session_id": "no-such-chat", "text": "hi"}, NotFound, "no session 'no-such-chat'"),
        ({"session_id": ["crafted"], "text": "hi"}, NotFound, "no session"),
    ]
    for fields, kind, words in refusals:
        with pytest.raises(kind, match=re.escape(words)):
            await watch_call(chat_watch.write, **fields)
    assert [(action, outcome) for _, action, outcome, _ in await in_thread(audit_trail)()] == [
        ("write_chat", "refused")] * len(refusals)
    assert await in_thread(ChatMessage.objects.count)() == 0
    assert await guest.no_event("message")


async def test_an_ended_chat_is_watched_but_not_written_to_nor_taken_over(sdk, visitor):
    guest, agent, session_id = await served_chat(sdk, visitor)
    assert (await guest.request("end"))["status"] == "success"
    view = await watch_call(chat_watch.watch, session_id=session_id)
    assert (view["state"], view["closeBy"]) == ("ended", "client")
    with pytest.raises(ServiceError, match=f"chat {session_id[:8]} has ended"):
        await watch_call(chat_watch.write, session_id=session_id, text="hello?")
    with pytest.raises(ServiceError, match="has ended"):
        await watch_call(chat_watch.take_over, session_id=session_id)


async def test_another_tenants_supervisor_finds_no_chat_and_their_refusal_is_audited(sdk, visitor):
    guest, agent, session_id = await served_chat(sdk, visitor)
    stranger = await in_thread(other_tenants_supervisor)()
    for function, fields in ((chat_watch.watch, {}), (chat_watch.write, {"text": "hi"}), (chat_watch.take_over, {})):
        with pytest.raises(NotFound, match=f"no session '{session_id}'"):
            await in_thread(function)(supervisor_id=stranger, session_id=session_id, **fields)
    entries = await in_thread(lambda: list(
        AuditEntry.objects.values_list("supervisor_name", "outcome", "target_label")))()
    assert entries == [("lead@elsewhere", "refused", "")] * 3
    assert await guest.no_event("message")
    assert await in_thread(lambda: Session.objects.get(pk=session_id).agent.user_id)() == "agent1@demo"


# Taking over.

def serving_record(session_id: str) -> tuple:
    part = ServeParticipant.objects.get(session_id=session_id)
    return part.outcome, part.transfer_to, part.end_at is not None, part.completed_at is not None


async def test_taking_over_ends_the_agents_part_frees_them_for_the_next_chat_and_the_supervisor_serves_on(
        sdk, visitor):
    guest, agent, session_id = await served_chat(sdk, visitor)
    await in_thread(lambda: Agent.objects.filter(user_id="agent1@demo").update(chat_capacity=1))()
    waiting = await visitor()
    second = (await waiting.start(nickname="Bob"))["sessionId"]
    assert (await in_thread(Session.objects.get)(pk=second)).state == "queued"  # the agent has no room

    await watch_call(chat_watch.take_over, session_id=session_id)

    ended = await agent.event("sessionEnded")
    assert (ended["sessionId"], ended["closeBy"], ended["type"]) == (session_id, "admin", "im")
    assert (await agent.event("callIn"))["sessionId"] == second  # room again: offered what waited
    session = await in_thread(Session.objects.select_related("taken_over_by").get)(pk=session_id)
    assert (session.state, session.agent_id, session.taken_over_by.username) == ("active", None, "admin")
    assert await in_thread(serving_record)(session_id) == ("transferred", "supervisor:admin", True, True)
    assert (await guest.event("accepted"))["agentNickname"] == "admin"

    # The agent's part is over; the supervisor writes on, and the visitor still reaches the chat.
    with pytest.raises(ServiceError, match="not in progress with you"):
        await agent_post(session_id, "agent1@demo", "still here?")
    written = await watch_call(chat_watch.write, session_id=session_id, text="I'll take it from here")
    assert (await guest.event("message"))["id"] == written["id"]
    assert (await guest.send("Thanks"))["status"] == "success"

    # Ending it from the watch page ends the session as the system.
    await watch_call(supervision.end_session, session_id=session_id)
    assert (await guest.event("ended"))["closeBy"] == "admin"
    assert [(action, outcome) for _, action, outcome, _ in await in_thread(audit_trail)()] == [
        ("take_over_chat", "done"), ("write_chat", "done"), ("end_session", "done")]


async def test_the_supervisor_serving_a_chat_types_and_reads_as_its_serving_side(sdk, visitor):
    guest, agent, session_id = await served_chat(sdk, visitor)
    await guest.send("Anyone?")
    with pytest.raises(ServiceError, match="only once you have taken it over"):
        await watch_call(chat_watch.typing, session_id=session_id)  # the agent serves it: they type
    await watch_call(chat_watch.take_over, session_id=session_id)

    await watch_call(chat_watch.typing, session_id=session_id)
    assert await guest.event("typing") == {"sessionId": session_id, "side": "agent"}
    assert await watch_call(chat_watch.mark_read, session_id=session_id, seq=1) == {"seq": 1}
    assert await guest.event("read") == {"sessionId": session_id, "side": "agent", "seq": 1}
    stranger = await in_thread(other_tenants_supervisor)()
    with pytest.raises(ServiceError, match="only once you have taken it over"):
        await in_thread(chat_watch.mark_read)(supervisor_id=stranger, session_id=session_id, seq=1)

    # What a reload of the visitor's page gets back names who serves the chat now.
    view = await in_thread(chat.visitor_chat)(session_id)
    assert (view["state"], view["agentNickname"]) == ("active", "admin")


async def test_a_chat_is_taken_over_once_and_then_not_transferred_from_admin(sdk, visitor, demo):
    guest, agent, session_id = await served_chat(sdk, visitor)
    await watch_call(chat_watch.take_over, session_id=session_id)
    with pytest.raises(ServiceError, match="has already been taken over by you"):
        await watch_call(chat_watch.take_over, session_id=session_id)
    with pytest.raises(ServiceError, match="has moved on: it is in progress with supervisor admin now"):
        await watch_call(supervision.end_session, session_id=session_id, expected_state="queued")
    with pytest.raises(ServiceError, match="served by a supervisor who took it over"):
        await watch_call(supervision.transfer_session, session_id=session_id, skill_group_id=demo["skillGroups"]["im"])
    assert [(action, outcome) for _, action, outcome, _ in await in_thread(audit_trail)()] == [
        ("take_over_chat", "done"), ("take_over_chat", "refused"), ("end_session", "refused"),
        ("transfer_session", "refused")]


async def test_a_chat_not_served_yet_is_not_joined(sdk, visitor):
    await sdk("agent1@demo")
    guest = await visitor()
    started = await guest.start()  # ringing for the agent
    for function, fields in ((chat_watch.take_over, {}), (chat_watch.write, {"text": "hi"})):
        with pytest.raises(ServiceError, match="is ringing for agent1@demo: a supervisor joins it once an agent"):
            await watch_call(function, session_id=started["sessionId"], **fields)


# The watch page and its socket.

class WatchPage:
    """The watch page's socket: the HTML fragments it is sent."""

    def __init__(self, communicator):
        self.communicator = communicator

    @classmethod
    async def open(cls, session_id: str, user=None, origin=OWN_ORIGIN):
        from workbench.asgi import application

        headers = [(b"origin", origin.encode()), (b"host", b"testserver")]
        if user is not None:
            def cookie():
                client = Client()
                client.force_login(user)
                return client.cookies["sessionid"].value
            headers.append((b"cookie", f"sessionid={await in_thread(cookie)()}".encode()))
        page = cls(WebsocketCommunicator(application, f"/ws/supervise/chat/?sessionId={session_id}", headers=headers))
        page.connected, _ = await page.communicator.connect()
        return page

    async def until(self, pattern: str, timeout: float = 3) -> str:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            remaining = max(0.01, deadline - asyncio.get_running_loop().time())
            message = await asyncio.wait_for(self.communicator.output_queue.get(), remaining)
            assert message["type"] != "websocket.close", f"closed with {message.get('code')}"
            if re.search(pattern, message["text"]):
                return message["text"]

    async def closed_with(self, timeout: float = 3) -> int:
        while True:
            message = await asyncio.wait_for(self.communicator.output_queue.get(), timeout)
            if message["type"] == "websocket.close":
                return message.get("code")

    async def close(self):
        await self.communicator.disconnect()

    async def send(self, **frame):
        await self.communicator.send_json_to({**frame, "HEADERS": {"HX-Request": "true"}})


@pytest.fixture
async def watch_page(closed_after_test):
    async def open_page(session_id, user=None, **kwargs):
        page = await WatchPage.open(session_id, user, **kwargs)
        return closed_after_test(page)
    return open_page


def admin_user():
    return get_user_model().objects.get(username="admin")


async def test_the_watcher_sees_history_then_messages_and_typing_of_both_sides_live(sdk, visitor, watch_page):
    guest, agent, session_id = await served_chat(sdk, visitor)
    await guest.send("Before the supervisor came")
    page = await watch_page(session_id, await in_thread(admin_user)())
    first = await page.until("wb-chat-log")
    assert "In progress with Alice" in first and "Before the supervisor came" in first and "Take over" in first

    await guest.send("My parcel is lost")
    assert "My parcel is lost" in await page.until('msg-visitor" data-seq="2"')
    await agent_post(session_id, "agent1@demo", "Let me look")
    assert "agent1@demo" in await page.until('msg-agent" data-seq="3"')
    await guest.request("typing")
    assert "Ann is typing" in await page.until("wb-chat-typing")
    await in_thread(chat.typing)(session_id, side="agent")
    assert "Alice is typing" in await page.until("wb-chat-typing")
    assert await in_thread(audit_trail)() == [("admin", "watch_chat", "done", "")]


async def test_the_supervisor_writes_and_takes_over_from_the_page(sdk, visitor, watch_page):
    guest, agent, session_id = await served_chat(sdk, visitor)
    page = await watch_page(session_id, await in_thread(admin_user)())
    await page.until("wb-chat-log")

    await page.send(action="send", text="Hello from the supervisor", clientId="sv-1")
    message = await guest.event("message")
    assert (message["sender"], message["supervisorName"], message["text"]) == (
        "supervisor", "admin", "Hello from the supervisor")
    assert "Supervisor · admin" in await page.until('msg-supervisor" data-seq="1"')

    await page.send(action="send", text="   ")
    assert "the message is empty" in await page.until("toast")

    await page.send(action="takeOver")
    assert "Served by supervisor admin" in await page.until('id="cw-status"')
    assert (await agent.event("sessionEnded"))["closeBy"] == "admin"
    await page.send(action="takeOver")
    assert "already been taken over by you" in await page.until("toast")
    await page.send(action="typing")
    assert await guest.event("typing") == {"sessionId": session_id, "side": "agent"}

    await page.send(action="end")
    assert "Ended" in await page.until('data-state="ended"')
    assert (await guest.event("ended"))["closeBy"] == "admin"


async def test_the_socket_refuses_other_tenants_strangers_and_non_chats_with_4003(sdk, visitor, watch_page, demo):
    guest, agent, session_id = await served_chat(sdk, visitor)
    stranger = await in_thread(lambda: get_user_model().objects.get(pk=other_tenants_supervisor()))()
    phone_id = await api_session(demo, "phone")
    agent_account = await in_thread(lambda: Agent.objects.get(user_id="agent1@demo").account)()
    for target, user, words in ((session_id, stranger, f"no session &#x27;{session_id}&#x27;"),
                                (session_id, None, "Sign in to admin"),
                                (session_id, agent_account, "Sign in to admin"),
                                (phone_id, await in_thread(admin_user)(), "not a web chat"),
                                ("%20no%20such%20chat!%C3%A9", await in_thread(admin_user)(), "no session"),
                                ("x" * 300, await in_thread(admin_user)(), "no session"),
                                ("", await in_thread(admin_user)(), "no session")):
        page = await watch_page(target, user)
        assert page.connected
        assert words in await page.until("cw-refused")
        assert await page.closed_with() == 4003
    await guest.send("private")
    assert await in_thread(ChatMessage.objects.filter(sender="supervisor").count)() == 0

    other_site = await watch_page(session_id, await in_thread(admin_user)(), origin="http://evil.example")
    assert not other_site.connected


async def test_the_page_shows_a_chat_to_its_tenant_and_is_linked_from_the_sessions_admin_page(sdk, visitor):
    guest, agent, session_id = await served_chat(sdk, visitor)
    admin_client = await in_thread(Client)()
    await in_thread(admin_client.force_login)(await in_thread(admin_user)())
    page = await in_thread(admin_client.get)(f"/admin/chats/{session_id}/")
    assert page.status_code == 200 and "Chat with Ann" in page.content.decode()
    assert f"/ws/supervise/chat/?sessionId={session_id}" in page.content.decode()
    change = await in_thread(admin_client.get)(f"/admin/sessions_app/session/{session_id}/change/")
    assert f'href="/admin/chats/{session_id}/"' in change.content.decode()

    stranger = await in_thread(lambda: get_user_model().objects.get(pk=other_tenants_supervisor()))()
    their_client = await in_thread(Client)()
    await in_thread(their_client.force_login)(stranger)
    for path in (f"/admin/chats/{session_id}/", "/admin/chats/nope/"):
        assert (await in_thread(their_client.get)(path)).status_code == 404
    assert (await in_thread(Client().get)(f"/admin/chats/{session_id}/")).status_code == 302


# At once.

def chat_in_progress(demo) -> tuple[int, str]:
    """agent1@demo serving a web chat: their id and the session's."""
    alice = Agent.objects.get(user_id="agent1@demo")
    agents.online(alice.pk)
    session_id = sessions.create_inbound(alice.tenant, "im", str(demo["skillGroups"]["im"]), {})
    sessions.accept(alice.pk, session_id, "Chat")
    return alice.pk, session_id


def test_two_supervisors_taking_over_one_chat_at_once_take_it_once(demo):
    alice, session_id = chat_in_progress(demo)
    leads = []
    for name in ("lead-a", "lead-b"):
        account = get_user_model().objects.create_user(name, is_staff=True)
        Supervisor.objects.create(account=account, tenant_id=Agent.objects.get(pk=alice).tenant_id)
        leads.append(account.pk)
    results = at_once(*(lambda lead=lead: chat_watch.take_over(supervisor_id=lead, session_id=session_id)
                        for lead in leads))
    session = Session.objects.select_related("taken_over_by").get(pk=session_id)
    winner = session.taken_over_by.username
    assert sorted(map(str, results)) == ["None", f"chat {session_id[:8]} has already been taken over by {winner}"]
    assert serving_record(session_id) == ("transferred", f"supervisor:{winner}", True, True)
    assert sorted(AuditEntry.objects.values_list("outcome", flat=True)) == ["done", "refused"]
    # The agent's workbench lists it no more; their history says where it went.
    assert workbench.open_sessions(alice) == []
    assert workbench.history(alice)[0]["outcome"] == f"Transferred to supervisor {winner}"


async def test_bad_frames_on_the_watch_socket_get_a_toast_and_the_socket_stays(sdk, visitor, watch_page):
    guest, agent, session_id = await served_chat(sdk, visitor)
    page = await watch_page(session_id, await in_thread(admin_user)())
    await page.until("wb-chat-log")
    for frame, words in (("not json", "not valid JSON"), ('["send"]', "must be a JSON object"),
                         ('{"action": "barge"}', "unknown action &#x27;barge&#x27;"),
                         ('{"action": "send", "text": "' + "x" * 70000 + '"}', "at most 64 KiB")):
        await page.communicator.send_to(text_data=frame)
        assert words in await page.until("toast"), frame
    await page.send(action="send", text="still here")
    assert (await guest.event("message"))["text"] == "still here"
