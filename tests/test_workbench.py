"""The workbench's websocket and pages: who may open it, and that it is a second client of the SDK's services
(an action in the workbench produces the same state and the same SDK events as the SDK method)."""
import asyncio
import json
import re
from html import unescape

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import Client

from sessions_app.models import Agent, Session

from .conftest import ORIGIN, SdkClient, api_session, login_token

pytestmark = pytest.mark.service

OWN_ORIGIN = "http://testserver"
XSS = '<img src=x onerror="alert(1)">'


def session_cookie(username: str) -> str:
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client.cookies["sessionid"].value


def resume_token(user_id: str, ttl: int | None = None) -> str:
    from django.conf import settings

    from sessions_app.services import tokens

    agent = Agent.objects.select_related("tenant").get(user_id=user_id)
    return tokens.issue(agent, settings.SDK_RESUME_TTL if ttl is None else ttl, tokens.RESUME_SALT)[0]


class Workbench:
    """One workbench page's websocket: sends actions as htmx's ws extension does, collects the HTML it gets."""

    def __init__(self, communicator):
        self.communicator = communicator
        self.received: list[str] = []

    @classmethod
    async def open(cls, *, cookie: str = "", resume: str = "", origin: str = OWN_ORIGIN):
        from workbench.asgi import application

        headers = [(b"origin", origin.encode()), (b"host", b"testserver")]
        if cookie:
            headers.append((b"cookie", f"sessionid={cookie}".encode()))
        path = "/ws/workbench/" + (f"?resume={resume}" if resume else "")
        communicator = WebsocketCommunicator(application, path, headers=headers)
        page = cls(communicator)
        page.connected, _ = await communicator.connect()
        return page

    async def frame(self, timeout: float = 3) -> str:
        message = await asyncio.wait_for(self.communicator.output_queue.get(), timeout)
        if message["type"] == "websocket.close":
            raise ConnectionError(f"closed with {message.get('code')}")
        self.received.append(message["text"])
        return message["text"]

    async def until(self, *needles: str, timeout: float = 3) -> str:
        """The first frame containing every needle (frames before it are skipped)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise AssertionError(f"no frame with {needles}; last frames: {self.received[-3:]}")
            try:
                text = await self.frame(left)
            except asyncio.TimeoutError:
                continue
            if all(needle in text for needle in needles):
                return text

    async def shows(self, element_id: str, *needles: str, timeout: float = 3) -> str:
        """The element as the page shows it now (its latest version received), once it contains every needle."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            latest = self.latest(element_id)
            if latest is not None and all(needle in latest for needle in needles):
                return latest
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise AssertionError(f"#{element_id} never showed {needles}; it shows: {latest}")
            try:
                await self.frame(left)
            except asyncio.TimeoutError:
                continue

    def latest(self, element_id: str) -> str | None:
        """The element as the page shows it: its latest version, with what later frames appended to it
        (`hx-swap-oob="beforeend:#id"`, as htmx swaps it)."""
        appended = []
        for text in reversed(self.received):
            if f'id="{element_id}"' in text:
                element = fragment(text, element_id)
                closing = element.rindex("</")
                return element[:closing] + "".join(reversed(appended)) + element[closing:]
            marker = f'hx-swap-oob="beforeend:#{element_id}"'
            starts = [match.start() for match in re.finditer(re.escape(marker), text)]
            for start in reversed(starts):
                wrapper = balanced(text, text.rindex("<", 0, start))
                appended.append(wrapper[wrapper.index(">") + 1:wrapper.rindex("</")])
        return None

    async def act(self, action: str, **fields):
        await self.communicator.send_to(text_data=json.dumps({"action": action, **fields, "HEADERS": {}}))

    async def close_code(self, timeout: float = 3):
        while True:
            message = await asyncio.wait_for(self.communicator.output_queue.get(), timeout)
            if message["type"] == "websocket.close":
                return message.get("code")
            self.received.append(message["text"])

    async def close(self):
        await self.communicator.disconnect()


@pytest.fixture
async def workbench(demo, closed_after_test):
    """Factory of workbench pages (signed in as `user_id` unless given a cookie or a resume token); all are closed
    at the end of the test."""
    async def open_page(user_id="agent1@demo", **kwargs):
        if "cookie" not in kwargs and "resume" not in kwargs:
            kwargs["cookie"] = await database_sync_to_async(session_cookie)(user_id)
        return closed_after_test(await Workbench.open(**kwargs))

    return open_page


def fragment(html: str, element_id: str) -> str:
    """The element with that id (tags balanced naively, which our templates satisfy)."""
    start = html.index(f'id="{element_id}"')
    return balanced(html, html.rindex("<", 0, start))


def balanced(html: str, start: int) -> str:
    """The element whose start tag begins at `start`."""
    tag = re.match(r"<(\w+)", html[start:]).group(1)
    depth, position = 0, start
    for match in re.finditer(rf"<(/?){tag}\b[^>]*>", html[start:]):
        depth += -1 if match.group(1) else 1
        if depth == 0:
            position = start + match.end()
            break
    return html[start:position]


def text_of(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def test_every_control_of_the_page_has_an_action_and_every_action_a_control():
    """The declared actions (domain/workbench.py) against the transport's table (consumers/workbench_actions.py)
    and what the templates and the script send."""
    from pathlib import Path

    from sessions_app.consumers.workbench_actions import ACTIONS
    from sessions_app.domain.workbench import ACTIONS as DECLARED

    assert list(ACTIONS) == list(DECLARED)

    root = Path(__file__).resolve().parent.parent
    sent = set()
    for template in (root / "templates" / "workbench").rglob("*.html"):
        html = template.read_text()
        sent |= set(re.findall(r"""\bwsvals\b[^%]*?\baction=['"]([\w.]+)['"]""", html))
        sent |= set(re.findall(r'name="action" value="([\w.]+)"', html))
        sent |= set(re.findall(r"""\{%\s*include\b[^%]*?\baction=['"]([\w.]+)['"]""", html))  # a picker's row
    sent |= set(re.findall(r"action: '([\w.]+)'", (root / "static" / "workbench" / "workbench.js").read_text()))
    assert sent == set(ACTIONS)


async def test_an_unknown_action_or_a_malformed_frame_is_said_and_changes_nothing(sdk, workbench):
    page = await workbench("agent1@demo")
    await page.until('id="wb-agent"')
    await page.act("launch", sessionId="x")
    assert "unknown action &#x27;launch&#x27;" in await page.until("Could not do that")
    await page.act("accept", sessionId=["x"])
    assert "sessionId must be a string" in await page.until("Could not accept")
    await page.communicator.send_to(text_data="[]")
    assert "a request must be a JSON object" in await page.until("Could not do that")


# Who may open it.

async def test_signed_in_agent_gets_their_workbench_over_the_django_session(workbench):
    page = await workbench("agent1@demo")
    assert page.connected
    first = await page.until('id="wb-agent"')
    assert "Alice" in first and "agent1@demo" in first
    assert 'hx-swap-oob="true"' in first
    for element in ("wb-offers", "wb-sessions", "wb-detail", "wb-dialpad", "wb-history"):
        assert f'id="{element}"' in first
    assert "No active sessions" in text_of(fragment(first, "wb-sessions"))
    assert "Nothing in today&#x27;s history yet" in first or "Nothing in today's history yet" in first


async def test_embedded_workbench_signs_in_with_the_sdks_resume_token(workbench):
    token = await database_sync_to_async(resume_token)("agent2@demo")
    page = await workbench(resume=token)
    assert "Bob" in await page.until('id="wb-agent"')


async def test_resume_token_works_from_an_origin_the_tenant_allows(workbench):
    token = await database_sync_to_async(resume_token)("agent2@demo")
    page = await workbench(resume=token, origin=ORIGIN)
    assert "Bob" in await page.until('id="wb-agent"')


async def test_without_a_session_or_token_the_workbench_says_so_and_closes(workbench):
    page = await workbench(cookie="")
    assert page.connected
    assert "signed out" in await page.until('id="wb-connection"', 'role="alert"')
    assert await page.close_code() == 4003


async def test_a_session_cookie_does_not_open_the_workbench_for_another_sites_page(workbench):
    # Even an origin the tenant allows for the SDK may not ride on the agent's cookie (cross-site websocket).
    page = await workbench("agent1@demo", origin=ORIGIN)
    assert "own pages" in await page.until('id="wb-connection"')
    assert await page.close_code() == 4003
    foreign = await workbench("agent1@demo", origin="http://evil.example")
    assert not foreign.connected  # refused at the handshake


async def test_expired_or_forged_resume_tokens_are_refused(workbench):
    expired = await database_sync_to_async(resume_token)("agent1@demo", -5)
    page = await workbench(resume=expired)
    assert "expired" in await page.until('id="wb-connection"')
    assert await page.close_code() == 4001
    forged = await workbench(resume="not-a-token")
    assert "not valid" in await forged.until('id="wb-connection"')
    assert await forged.close_code() == 4003


async def test_a_resume_token_signed_with_our_key_but_malformed_claims_is_refused(workbench):
    from django.core import signing

    from sessions_app.services import tokens

    malformed = signing.dumps({"a": "1400000001", "u": ["agent1@demo"], "e": "9999999999"}, salt=tokens.RESUME_SALT,
                              compress=True)
    page = await workbench(resume=malformed)
    assert "not valid" in await page.until('id="wb-connection"')
    assert await page.close_code() == 4003


async def test_supervisor_without_an_agent_is_refused(workbench):
    page = await workbench("admin")
    assert "not an agent" in await page.until('id="wb-connection"')
    assert await page.close_code() == 4003


# Same services, same events as the SDK.

async def test_accept_in_the_workbench_is_the_sdks_accept(sdk, workbench, demo):
    agent = await sdk("agent1@demo")
    page = await workbench("agent1@demo")
    await page.until('id="wb-agent"')
    session_id = await api_session(demo, "phone", callerPhoneNumber="008613800000000",
                                   calleePhoneNumber="008675586013388", callerLocation="Shenzhen",
                                   ivrPath=[{"key": "1", "label": "Sales"}])
    assert (await agent.event("callIn"))["sessionId"] == session_id
    offers = await page.shows("wb-offers", session_id)
    assert 'data-ringing="1"' in offers and "008613800000000" in offers and "Shenzhen" in offers
    assert "data-until=" in offers and "Sales" in offers

    await page.act("accept", sessionId=session_id)
    assert await agent.event("userAccessed") == {"sessionId": session_id}
    detail = await page.shows("wb-detail", "ctl-hold")
    assert "008613800000000" in detail and 'id="ctl-mute"' in detail and 'id="ctl-keypad"' in detail
    state = await database_sync_to_async(lambda: Session.objects.get(pk=session_id).state)()
    assert state == "active"
    assert (await agent.call("Agent.getStatus"))["data"]["status"] == "busy"


async def test_a_recorded_call_is_paused_and_resumed_from_the_workbench(sdk, workbench, demo):
    alice = await sdk("agent1@demo")
    page = await workbench("agent1@demo")
    await page.until('id="wb-agent"')
    session_id = await api_session(demo, "phone", callerPhoneNumber="008613800000002")
    await alice.event("callIn")
    await page.act("accept", sessionId=session_id)
    controls = await page.shows("wb-controls", "Pause recording")  # the demo tenant records its calls
    assert 'aria-pressed="false"' in fragment(controls, "ctl-record")

    await page.act("recording.pause", sessionId=session_id)
    assert 'aria-pressed="true"' in fragment(await page.shows("wb-controls", "Resume recording"), "ctl-record")
    await page.act("recording.pause", sessionId=session_id)
    assert "the recording is already paused" in await page.until("Could not pause the recording")
    await page.act("recording.resume", sessionId=session_id)
    await page.shows("wb-controls", "Pause recording")
    timeline = await database_sync_to_async(
        lambda: list(Session.objects.get(pk=session_id).timeline.values_list("what", flat=True)))()
    assert [line for line in timeline if "recording" in line] == [
        "recording started", "agent1@demo: recording paused", "agent1@demo: recording resumed"]


async def test_call_controls_transfer_end_and_complete_from_the_workbench(sdk, workbench, demo):
    alice = await sdk("agent1@demo")
    bob = await sdk("agent2@demo")
    await bob.call("Agent.setStatus", status="notReady")
    page = await workbench("agent1@demo")
    await page.until('id="wb-agent"')
    session_id = await api_session(demo, "phone", callerPhoneNumber="008613800000001")
    await alice.event("callIn")
    await page.act("accept", sessionId=session_id)
    await alice.event("userAccessed")

    await page.act("hold", sessionId=session_id)
    assert 'aria-pressed="true"' in fragment(await page.shows("wb-controls", "Resume"), "ctl-hold")
    await page.act("unhold", sessionId=session_id)
    await page.act("mute", sessionId=session_id)
    controls = await page.shows("wb-controls", "Unmute")
    assert 'aria-pressed="false"' in fragment(controls, "ctl-hold")
    assert (await alice.call("Call.isMicMuted", sessionId=session_id))["data"] == {"muted": True}
    await page.act("unmute", sessionId=session_id)
    await page.act("keypad.toggle", sessionId=session_id)
    await page.shows("wb-keypad", "data-keypad")
    for digit in "12#":
        await page.act("dtmf", sessionId=session_id, digits=digit)
    await page.shows("wb-keypad", "12#")

    await page.act("transfer.toggle", sessionId=session_id)
    picker = await page.shows("wb-transfer", "Transfer to Bob")
    assert "Not ready" in picker and "Phone support" in picker
    assert re.search(r'<button[^>]*disabled[^>]*aria-label="Transfer to Bob', picker)
    await bob.call("Agent.setStatus", status="stopNotReady")
    await page.act("transfer.refresh", sessionId=session_id)
    picker = await page.shows("wb-transfer", "Transfer to Bob (Free)")
    assert not re.search(r'<button[^>]*disabled[^>]*aria-label="Transfer to Bob', picker)
    await page.act("transfer", sessionId=session_id, userId="agent2@demo")
    assert await alice.event("transfer") == {"sessionId": session_id, "skillGroupId": "", "userId": "agent2@demo"}
    assert (await bob.event("callIn"))["sessionId"] == session_id
    await bob.call("Call.accept", sessionId=session_id)

    # Alice is in after-call work for the transferred call; Complete finishes it like setStatus free.
    detail = await page.shows("wb-detail", "ctl-complete")
    assert "Transferred to agent2@demo" in text_of(detail)
    await page.act("complete", sessionId=session_id)
    assert await alice.event("sessionCompleted") == {"sessionId": session_id}
    history = await page.shows("wb-history", "Transferred to agent2@demo")
    assert "008613800000001" in history

    # Bob ends it from his workbench: the SDK hears sessionEnded with closeBy seat.
    bob_page = await workbench("agent2@demo")
    await bob_page.until('id="wb-agent"')
    await bob_page.act("end", sessionId=session_id)
    ended = await bob.event("sessionEnded")
    assert (ended["sessionId"], ended["closeBy"]) == (session_id, "seat")


async def test_reject_in_the_workbench_moves_the_offer_on(sdk, workbench, demo):
    alice = await sdk("agent1@demo")
    bob = await sdk("agent2@demo")
    await database_sync_to_async(lambda: Agent.objects.filter(user_id="agent3@demo").update(status="notReady"))()
    page = await workbench("agent1@demo")
    await page.until('id="wb-agent"')
    session_id = await api_session(demo, "voip", userId="openid-1", callee="web", nickname="Ann")
    holder = await database_sync_to_async(lambda: Session.objects.get(pk=session_id).agent.user_id)()
    first, other = (alice, bob) if holder == "agent1@demo" else (bob, alice)
    if holder != "agent1@demo":
        page = await workbench(holder)
        await page.until('id="wb-agent"')
    await page.shows("wb-offers", session_id)
    await page.act("reject", sessionId=session_id)
    assert (await other.event("callIn"))["sessionId"] == session_id
    await page.shows("wb-offers", 'data-ringing="0"')
    assert await first.no_event("userAccessed")


async def test_status_picker_sets_rest_with_a_reason_and_back_to_free(sdk, workbench):
    agent = await sdk("agent1@demo")
    page = await workbench("agent1@demo")
    header = await page.shows("wb-agent")
    assert "On break: Lunch" in header and "Not ready" in header  # reasons from admin (seeded)
    await page.act("status", status="rest", restReason="Lunch")
    header = await page.shows("wb-agent", 'status-button" data-tone="warn"')
    assert "On break: Lunch" in text_of(fragment(header, "wb-status-button"))
    reply = await agent.call("Agent.getStatus")
    assert (reply["data"]["status"], reply["data"]["restReason"]) == ("rest", "Lunch")
    await page.act("status", status="free", restReason="")
    header = await page.shows("wb-agent", 'status-button" data-tone="ok"')
    assert "Free" in text_of(fragment(header, "wb-status-button"))


async def test_a_status_set_through_the_sdk_shows_in_the_workbench(sdk, workbench):
    agent = await sdk("agent1@demo")
    page = await workbench("agent1@demo")
    await page.until('id="wb-agent"')
    await agent.call("Agent.setStatus", status="notReady")
    header = await page.shows("wb-agent", 'status-button" data-tone="warn"')
    assert "Ready (stop not ready)" in header
    await page.act("status", status="stopNotReady", restReason="")
    await page.shows("wb-agent", 'status-button" data-tone="ok"')
    assert (await agent.call("Agent.getStatus"))["data"]["status"] == "free"


async def test_dialing_without_a_sip_trunk_says_the_call_did_not_connect(sdk, workbench, demo):
    agent = await sdk("agent1@demo")
    page = await workbench("agent1@demo")
    dialpad = await page.shows("wb-dialpad")
    assert demo["hotline"] in dialpad  # the caller-number picker
    await page.act("dial", phoneNumber="008613800000002", callerPhoneNumber=demo["hotline"])
    ended = await agent.event("sessionEnded")
    assert ended["closeBy"] == "admin"
    result = text_of(await page.shows("wb-dial-result", "Not connected"))
    assert "Not connected: 008613800000002" in result and "No SIP trunk is configured" in result
    assert "Not connected" in await page.shows("wb-history", "008613800000002")


def more_caller_numbers(tenant_id: int) -> None:
    """A number group's number, and one bound to a phone skill group agent1 is not in."""
    from sessions_app.models import NumberGroup, SkillGroup

    NumberGroup.objects.create(tenant_id=tenant_id, name="Sales", numbers="0105550001\n")
    SkillGroup.objects.create(tenant_id=tenant_id, name="Collections", kind="phone", caller_numbers="0105550002")


async def test_the_dial_pad_offers_the_numbers_the_sdk_dials_from_its_default_first(sdk, workbench, demo):
    await database_sync_to_async(more_caller_numbers)(
        await database_sync_to_async(lambda: Agent.objects.get(user_id="agent1@demo").tenant_id)())
    agent = await sdk("agent1@demo")
    page = await workbench("agent1@demo")
    picker = balanced(await page.shows("wb-dialpad", "0105550002"), 0)
    offered = re.findall(r'<option value="([^"]*)"', fragment(picker, "wb-dial-caller"))
    assert offered == [demo["hotline"], "0105550001", "0105550002"]
    reply = await agent.call("Call.startOutboundCall", phoneNumber="008613900000000")
    assert reply["data"]["callerPhoneNumber"] == offered[0]
    await agent.event("sessionEnded")
    reply = await agent.call("Call.startOutboundCall", phoneNumber="008613900000001", callerPhoneNumber=offered[-1])
    assert reply["data"]["callerPhoneNumber"] == offered[-1]


# Web chat in the workbench (services.chat).

def visitor_says(session_id: str, text: str) -> dict:
    from sessions_app.services import chat

    return chat.post_message(session_id, sender="visitor", text=text, client_id="")


async def accepted_chat(page, demo, nickname="Ann") -> str:
    session_id = await api_session(demo, "im", nickname=nickname)
    await page.shows("wb-offers", session_id)
    await page.act("accept", sessionId=session_id)
    await page.shows("wb-detail", "wb-composer")
    return session_id


async def test_chat_panel_shows_messages_typing_and_read_receipts_live(sdk, workbench, demo):
    from sessions_app.models import CannedResponse, ChatReadMark, Tenant
    from sessions_app.services import chat

    await database_sync_to_async(lambda: CannedResponse.objects.create(
        tenant=Tenant.objects.get(sdk_app_id=demo["SdkAppId"]), title="Greeting", text="Hello! How can I help?"))()
    agent = await sdk("agent1@demo")
    page = await workbench("agent1@demo")
    await page.shows("wb-agent")
    session_id = await accepted_chat(page, demo)
    assert (await agent.event("userAccessed"))["sessionId"] == session_id
    detail = await page.shows("wb-detail", "wb-composer")
    assert "No messages yet" in detail and "Greeting" in detail and "Hello! How can I help?" in detail
    assert 'id="ctl-transfer"' in detail and "End chat" in detail

    await database_sync_to_async(visitor_says)(session_id, "Hi, my order is late " + XSS)
    log = await page.shows("wb-chat-log", "my order is late")
    assert "&lt;img src=x" in log and "<img src=x" not in log
    assert 'class="msg msg-visitor" data-seq="1"' in log  # what the page's script reports read
    assert 'class="unread"' in await page.shows(f"wb-unread-{session_id}", 'class="unread"')

    await page.act("chat.read", sessionId=session_id, seq=1)
    assert 'class="unread"' not in await page.shows(f"wb-unread-{session_id}", "hidden")  # the badge goes
    assert await database_sync_to_async(lambda: ChatReadMark.objects.get(session_id=session_id).agent_seq)() == 1

    await database_sync_to_async(chat.typing)(session_id, side="visitor")
    assert "Ann is typing" in await page.until('id="wb-chat-typing"')

    await page.act("chat.send", sessionId=session_id, text="  Let me check that for you.  ", clientId="c-1")
    log = await page.shows("wb-chat-log", "Let me check that for you.")
    assert 'aria-label="Sent"' in log
    messages = await database_sync_to_async(chat.history)(session_id)
    assert [(m["sender"], m["text"], m["clientId"]) for m in messages][-1] == (
        "agent", "Let me check that for you.", "c-1")
    await database_sync_to_async(lambda: chat.mark_read(session_id, side="visitor", seq=2))()
    assert 'aria-label="Read"' in await page.shows("wb-chat-log", 'aria-label="Read"')

    await page.act("chat.send", sessionId=session_id, text="   ")
    assert "the message is empty" in await page.until('role="alert"', "Message not sent")

    await page.act("end", sessionId=session_id)
    ended = await agent.event("sessionEnded")
    assert (ended["type"], ended["closeBy"]) == ("im", "seat")
    await page.shows("wb-detail", "No session selected")


# Errors and escaping.

async def test_a_refused_action_shows_an_alert_with_the_errorMsg(sdk, workbench, demo):
    await sdk("agent1@demo")
    page = await workbench("agent1@demo")
    await page.until('id="wb-agent"')
    await page.act("accept", sessionId="no-such-session")
    toast = await page.until('role="alert"')
    assert 'hx-swap-oob="beforeend:#wb-toasts"' in toast
    assert "Could not accept" in toast and "no session &#x27;no-such-session&#x27;" in toast
    await page.act("dial", phoneNumber="not a number", callerPhoneNumber="")
    assert "is neither a phone number nor a protected id" in await page.until('role="alert"', "Could not place the call")
    await page.act("status", status="sleeping")
    assert "status must be one of" in await page.until('role="alert"', "Could not change your status")
    await page.communicator.send_to(text_data="{not json")
    assert "not valid JSON" in await page.until('role="alert"')


async def test_caller_fields_are_escaped_in_every_fragment(sdk, workbench, demo):
    await sdk("agent1@demo")
    page = await workbench("agent1@demo")
    await page.until('id="wb-agent"')
    session_id = await api_session(demo, "voip", userId="openid-x", callee="web", nickname=XSS,
                                   remark=XSS + "<script>alert(2)</script>", ivrPath=[{"key": "1", "label": XSS}])
    offers = await page.shows("wb-offers", session_id)
    await page.act("accept", sessionId=session_id)
    detail = await page.shows("wb-detail", "ctl-hold")
    for html in (offers, detail):
        assert "<img src=x" not in html and "<script>alert(2)" not in html
        assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in detail


# Pages.

@pytest.mark.django_db
def test_workbench_page_asks_to_sign_in_then_loads_the_sdk_for_the_agent(demo, client):
    response = client.get("/workbench/")
    assert response.status_code == 302 and response["Location"].startswith("/workbench/login/")
    login = client.get(response["Location"])
    assert login.status_code == 200 and b'autocomplete="current-password"' in login.content
    signed_in = client.post("/workbench/login/", {"username": "agent1@demo", "password": "demo-password"})
    assert signed_in.status_code == 302 and signed_in["Location"] == "/workbench/"
    page = client.get("/workbench/").content.decode()
    assert 'data-ui="none"' in page and 'data-userid="agent1@demo"' in page and 'src="/sdk/tccc.js"' in page
    token = re.search(r'data-token="([^"]+)"', page).group(1)
    from sessions_app.services import tokens

    assert tokens.read(token).user_id == "agent1@demo"
    assert 'hx-ext="ws"' in page and "Alice" in page
    assert client.get("/workbench/")["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_wrong_password_is_said_clearly(demo, client):
    response = client.post("/workbench/login/", {"username": "agent1@demo", "password": "nope"})
    assert response.status_code == 200 and "Those details did not work" in response.content.decode()


@pytest.mark.django_db
def test_logging_out_sets_the_agent_offline_at_once(demo, client):
    Agent.objects.filter(user_id="agent1@demo").update(status="free")
    client.force_login(get_user_model().objects.get(username="agent1@demo"))
    assert client.get("/workbench/logout/").status_code == 405
    response = client.post("/workbench/logout/")
    assert response.status_code == 302 and response["Location"] == "/workbench/login/?signed-out"
    assert Agent.objects.get(user_id="agent1@demo").status == "offline"
    assert "signed out and offline" in client.get(response["Location"]).content.decode()
    assert client.get("/workbench/").status_code == 302


@pytest.mark.django_db
def test_logging_out_mid_call_ends_the_call_and_sets_the_agent_offline(demo, client):
    from sessions_app.models import Session, Tenant
    from sessions_app.services import sessions

    Agent.objects.update(status="offline")
    Agent.objects.filter(user_id="agent1@demo").update(status="free")
    session_id = sessions.create_inbound(Tenant.objects.get(), "phone", str(demo["skillGroups"]["phone"]),
                                         {"calleePhoneNumber": "1"})
    sessions.accept(Agent.objects.get(user_id="agent1@demo").pk, session_id, "Call")
    client.force_login(get_user_model().objects.get(username="agent1@demo"))
    assert client.post("/workbench/logout/").status_code == 302
    assert Agent.objects.get(user_id="agent1@demo").status == "offline"
    assert Session.objects.get(pk=session_id).state == "ended"


@pytest.mark.django_db
def test_a_supervisor_gets_a_clear_page_not_a_workbench(demo, client):
    client.force_login(get_user_model().objects.get(username="admin"))
    response = client.get("/workbench/")
    assert response.status_code == 403 and "is not an agent" in response.content.decode()


@pytest.mark.django_db
def test_embedded_page_may_be_framed_by_allowed_origins_only(demo, client):
    response = client.get("/workbench/embed/")
    assert response.status_code == 200
    assert "X-Frame-Options" not in response
    assert response["Content-Security-Policy"].startswith("frame-ancestors 'self' ")
    assert "http://127.0.0.1:*" in response["Content-Security-Policy"]
    assert b"Connecting" in response.content and b"agent1@demo" not in response.content


async def test_sdk_accepts_connections_from_the_servers_own_pages(demo):
    """The standalone workbench loads the SDK from its own origin, which needs no allow-list entry."""
    from workbench.asgi import application

    client = await SdkClient.connect("agent1@demo", origin="http://testserver", host="localhost")
    assert client.welcome is None  # reached at another of our names: not our own origin, and not on the allow-list
    token = await database_sync_to_async(login_token)("agent1@demo")
    communicator = WebsocketCommunicator(
        application, f"/ws/sdk/?token={token}&sdkAppId=1400000001&userId=agent1@demo",
        headers=[(b"origin", b"http://testserver"), (b"host", b"testserver")])
    connected, _ = await communicator.connect()
    assert connected
    assert json.loads(await communicator.receive_from())["type"] == "welcome"
    await communicator.disconnect()


def test_a_workbench_frame_is_read_through_its_actions_declaration():
    from sessions_app.domain.protocol import ProtocolError
    from sessions_app.domain.workbench import ACTIONS

    # htmx's ws extension adds HEADERS and the form's other fields: what the action does not read is ignored.
    assert ACTIONS["chat.send"].clean({"sessionId": "s1", "text": " hi ", "HEADERS": {}, "other": 1}) == {
        "session_id": "s1", "text": " hi ", "client_id": ""}
    assert ACTIONS["select"].clean({}) == {"session_id": ""}
    assert ACTIONS["chat.send"].clean({"sessionId": "s1", "text": ""})["text"] == ""  # the chat service says why
    for fields, reason in (({"sessionId": ["s1"]}, "sessionId must be a string"),
                           ({"sessionId": "s1"}, "seq must be a whole number"),
                           ({"sessionId": "s1", "seq": "3"}, "seq must be a whole number")):
        with pytest.raises(ProtocolError, match=reason):
            ACTIONS["chat.read"].clean(fields)
