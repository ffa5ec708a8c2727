"""The wallboard page (`/admin/wallboard/`) and its socket (`/ws/wallboard/`): who may see which tenant, changes
pushed from the services after commit, bursts coalesced into a few redraws."""
import asyncio
import html
import re

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import Client

from sessions_app.models import Supervisor
from sessions_app.services import agents, sessions
from sessions_app.services.wallboard_push import changed

from . import factories
from .waits import assert_nothing_arrives

pytestmark = pytest.mark.service
OWN_ORIGIN = "http://testserver"
XSS = '<img src=x onerror="alert(1)">'


def staff(username, tenant=None, **flags):
    user = get_user_model().objects.create_user(username, password="x", is_staff=True, **flags)
    if tenant is not None:
        Supervisor.objects.create(account=user, tenant=tenant)
    return user


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def center(name="Acme"):
    tenant = factories.tenant(name=name)
    group = factories.skill_group(tenant, name=f"{name} phone")
    agent = factories.agent(tenant, group, nickname=f"{name} agent")
    return tenant, group, agent


class Wallboard:
    """One wallboard page's socket: collects the HTML frames it is sent."""

    def __init__(self, communicator):
        self.communicator = communicator
        self.frames: list[str] = []

    @classmethod
    async def open(cls, user=None, *, tenant=None, origin=OWN_ORIGIN):
        from workbench.asgi import application

        headers = [(b"origin", origin.encode()), (b"host", b"testserver")]
        if user is not None:
            cookie = await database_sync_to_async(lambda: signed_in(user).cookies["sessionid"].value)()
            headers.append((b"cookie", f"sessionid={cookie}".encode()))
        query = f"?tenant={tenant}" if tenant is not None else ""
        page = cls(WebsocketCommunicator(application, f"/ws/wallboard/{query}", headers=headers))
        page.connected, page.code = await page.communicator.connect()
        return page

    async def frame(self, timeout: float = 3) -> str:
        message = await asyncio.wait_for(self.communicator.output_queue.get(), timeout)
        if message["type"] == "websocket.close":
            raise ConnectionError(f"closed with {message.get('code')}")
        self.frames.append(message["text"])
        return message["text"]

    async def closed_with(self, timeout: float = 3) -> int:
        message = await asyncio.wait_for(self.communicator.output_queue.get(), timeout)
        assert message["type"] == "websocket.close", message
        return message.get("code")

    async def until(self, pattern: str, timeout: float = 3) -> str:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            frame = readable(await self.frame(max(0.01, deadline - asyncio.get_running_loop().time())))
            if re.search(pattern, frame):
                return frame

    async def close(self):
        await self.communicator.disconnect()


def readable(frame: str) -> str:
    """The frame with the changed agent rows, which come escaped in an attribute (ui/wallboard.py, row_patch), in
    place as HTML: as the page's script reads them."""
    return re.sub(r'data-rows="([^"]*)"', lambda rows: html.unescape(rows.group(1)), frame)


def metric(name: str, value) -> str:
    return f'data-metric="{name}" data-value="{value}"'


# The page.

def test_a_supervisor_sees_their_tenants_wallboard_with_its_hooks(db):
    tenant, group, agent = center()
    client = signed_in(staff("lead", tenant))
    page = client.get("/admin/wallboard/")
    shown = page.content.decode()
    assert page.status_code == 200
    assert f'data-skill-group-id="{group.pk}"' in shown and f'data-user-id="{agent.user_id}"' in shown
    for name in ("waiting", "longestWait", "ringing", "offered", "answered", "abandoned", "serviceLevel", "asa",
                 "aht", "free", "online", "status", "statusSeconds", "sessionId"):
        assert f'data-metric="{name}"' in shown
    assert f'ws-connect="/ws/wallboard/?tenant={tenant.pk}"' in shown
    assert 'name="tenant"' not in shown  # nothing to pick


def test_a_supervisor_cannot_open_another_tenants_wallboard(db):
    ours, _, _ = center("Ours")
    theirs, _, their_agent = center("Theirs")
    client = signed_in(staff("lead", ours))
    for query in (f"?tenant={theirs.pk}", "?tenant=abc", "?tenant=99999999999999999999999", "?tenant="):
        page = client.get(f"/admin/wallboard/{query}")
        assert page.status_code == 404, query
        assert their_agent.user_id not in page.content.decode()


def test_a_superuser_picks_the_tenant(db):
    first, _, _ = center("Alpha")
    second, _, second_agent = center("Beta")
    client = signed_in(staff("root", is_superuser=True))
    page = client.get(f"/admin/wallboard/?tenant={second.pk}").content.decode()
    assert second_agent.user_id in page and 'name="tenant"' in page
    assert f'<option value="{first.pk}">Alpha</option>' in page
    assert "Alpha agent" in client.get("/admin/wallboard/").content.decode()  # none picked: the first by name


def test_a_staff_account_of_no_tenant_is_told_so_and_others_are_sent_to_sign_in(db):
    tenant, _, agent = center()
    page = signed_in(staff("lost")).get("/admin/wallboard/")
    assert page.status_code == 403 and "No tenant" in page.content.decode()
    for client in (Client(), signed_in(agent.account)):
        page = client.get("/admin/wallboard/")
        assert page.status_code == 302 and page["Location"].startswith("/admin/login/")


def test_the_admin_index_links_the_wallboard_first(db):
    center()
    index = signed_in(staff("root", is_superuser=True)).get("/admin/").content.decode()
    assert 0 < index.index('href="/admin/wallboard/"') < index.index('class="app-sessions_app')


# The socket.

@pytest.mark.django_db(transaction=True)
async def test_a_new_session_shows_on_the_wallboard_and_goes_when_an_agent_takes_it(closed_after_test):
    tenant, group, agent = await database_sync_to_async(center)()
    lead = await database_sync_to_async(staff)("lead", tenant)
    page = closed_after_test(await Wallboard.open(lead))
    assert page.connected
    first = await page.frame()
    assert metric("waiting", 0) in first and metric("status", "offline") in first

    await database_sync_to_async(agents.online)(agent.pk)  # free: a new session rings for them at once
    await page.until(metric("status", "free"))
    await database_sync_to_async(agents.set_status)(agent.pk, "notReady")
    await page.until(metric("status", "notReady"))
    session_id = await database_sync_to_async(sessions.create_inbound)(
        tenant, "phone", str(group.pk), {"callerPhoneNumber": "+8613800000001"})
    await page.until(metric("waiting", 1))
    await database_sync_to_async(agents.set_status)(agent.pk, "stopNotReady")  # free: offered at once
    frame = await page.until(metric("ringing", 1))
    assert metric("waiting", 0) in frame
    await database_sync_to_async(sessions.accept)(agent.pk, session_id, "Call")
    frame = await page.until(metric("sessionId", session_id))
    assert metric("status", "onCall") in frame and "+8613800000001" in frame


@pytest.mark.django_db(transaction=True)
async def test_an_agents_change_sends_their_row_alone_and_a_new_agent_the_whole_list(closed_after_test):
    tenant, group, agent = await database_sync_to_async(center)()
    other = await database_sync_to_async(factories.agent)(tenant, group, nickname="Other agent")
    lead = await database_sync_to_async(staff)("lead", tenant)
    page = closed_after_test(await Wallboard.open(lead))
    await page.frame()
    await database_sync_to_async(agents.online)(agent.pk)
    frame = await page.until(metric("status", "free"))
    assert 'id="wb-agent-patch"' in frame and 'id="wb-agents"' not in frame
    assert f'data-user-id="{agent.user_id}"' in frame and f'data-user-id="{other.user_id}"' not in frame

    newcomer = await database_sync_to_async(factories.agent)(tenant, group, nickname="Newcomer")
    await database_sync_to_async(agents.online)(newcomer.pk)
    frame = await page.until(f'data-user-id="{newcomer.user_id}"')
    assert 'id="wb-agents"' in frame and f'data-user-id="{other.user_id}"' in frame


@pytest.mark.django_db(transaction=True)
async def test_a_supervisor_never_receives_another_tenants_figures(closed_after_test):
    ours, _, _ = await database_sync_to_async(center)("Ours")
    theirs, their_group, their_agent = await database_sync_to_async(center)("Theirs")
    lead = await database_sync_to_async(staff)("lead", ours)
    page = closed_after_test(await Wallboard.open(lead))
    await page.frame()
    await database_sync_to_async(agents.online)(their_agent.pk)
    await database_sync_to_async(sessions.create_inbound)(theirs, "phone", str(their_group.pk), {})
    await assert_nothing_arrives(page.frame, what="a frame for another tenant's change")

    refused = closed_after_test(await Wallboard.open(lead, tenant=theirs.pk))
    assert await refused.closed_with() == 4003


@pytest.mark.django_db(transaction=True)
async def test_the_socket_is_refused_without_a_staff_session_or_from_another_site(closed_after_test):
    tenant, _, agent = await database_sync_to_async(center)()
    anonymous = closed_after_test(await Wallboard.open())
    assert await anonymous.closed_with() == 4003
    not_staff = closed_after_test(await Wallboard.open(agent.account))
    assert await not_staff.closed_with() == 4003
    lost = await database_sync_to_async(staff)("lost")  # staff, of no tenant
    for user, query in ((lost, None), (lost, tenant.pk), (agent.account, tenant.pk)):
        refused = closed_after_test(await Wallboard.open(user, tenant=query))
        assert await refused.closed_with() == 4003
    root = await database_sync_to_async(staff)("root", is_superuser=True)
    for query in ("abc", "-1", "99999999999999999999999", ""):
        refused = closed_after_test(await Wallboard.open(root, tenant=query))
        assert await refused.closed_with() == 4003, query
    lead = await database_sync_to_async(staff)("lead", tenant)
    elsewhere = closed_after_test(await Wallboard.open(lead, origin="http://evil.example"))
    assert not elsewhere.connected


@pytest.mark.django_db(transaction=True)
async def test_a_burst_of_a_hundred_changes_is_a_few_redraws_ending_with_the_last(closed_after_test):
    tenant, _, agent = await database_sync_to_async(center)()
    lead = await database_sync_to_async(staff)("lead", tenant)
    page = closed_after_test(await Wallboard.open(lead))
    await page.frame()
    await database_sync_to_async(agents.online)(agent.pk)
    await page.until(metric("status", "free"))

    started = asyncio.get_running_loop().time()
    for n in range(100):  # each its own transaction, the page's socket free to redraw between them
        await database_sync_to_async(agents.set_status)(agent.pk, "rest", f"Break {n}")
    took = asyncio.get_running_loop().time() - started
    await page.until("Break 99")
    await assert_nothing_arrives(page.frame, within=0.5, what="a redraw after the last change was shown")
    redraws = len(page.frames) - 2
    assert 1 <= redraws <= took / 0.25 + 2, (redraws, took)


@pytest.mark.django_db(transaction=True)
async def test_the_wallboards_of_one_tenant_share_the_read_after_a_change(closed_after_test, monkeypatch):
    from sessions_app.consumers import wallboard as consumer

    reads = []
    render = consumer._render
    monkeypatch.setattr(consumer, "_render", lambda tenant_id: reads.append(tenant_id) or render(tenant_id))
    tenant, _, agent = await database_sync_to_async(center)()
    lead = await database_sync_to_async(staff)("lead", tenant)
    pages = [closed_after_test(await Wallboard.open(lead)) for _ in range(10)]
    for page in pages:
        await page.frame()
    reads.clear()
    await database_sync_to_async(agents.online)(agent.pk)
    for page in pages:
        await page.until(metric("status", "free"))
    assert 1 <= len(reads) <= 3, len(reads)
    for page in pages:
        await page.close()
    assert tenant.pk not in consumer._boards  # the last page closed: the process stops listening for the tenant


@pytest.mark.django_db(transaction=True)
async def test_what_customers_write_is_shown_as_text(closed_after_test):
    tenant = await database_sync_to_async(factories.tenant)()
    group = await database_sync_to_async(factories.skill_group)(tenant, "im")
    agent = await database_sync_to_async(factories.agent)(tenant, group, nickname="Ann")
    lead = await database_sync_to_async(staff)("lead", tenant)
    page = closed_after_test(await Wallboard.open(lead))
    await page.frame()
    await database_sync_to_async(agents.online)(agent.pk)
    session_id = await database_sync_to_async(sessions.create_inbound)(
        tenant, "im", str(group.pk), {"nickname": XSS})
    await database_sync_to_async(sessions.accept)(agent.pk, session_id, "Chat")
    frame = await page.until(metric("sessionId", session_id))  # the row patch, as the page's script reads it
    assert XSS not in frame and html.escape(XSS) in frame


def test_one_transaction_tells_a_tenant_once(db, django_capture_on_commit_callbacks):
    from django.db import transaction

    with django_capture_on_commit_callbacks() as callbacks:
        with transaction.atomic():
            for _ in range(100):
                changed(1)
            changed(2)
    assert len(callbacks) == 1 and callbacks[0].tenants == {1, 2}
