"""A supervisor's actions from the wallboard (views/wallboard_actions.py), through the Django test client: each
row's menu as it stands, and each action's post answering JSON the page shows as a notice: done, refused because
the row moved on, another tenant's id, not staff, crafted input; never a server error, never acting twice."""
import re

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from sessions_app.models import Agent, AuditEntry, Session, Supervisor
from sessions_app.services import agents, sessions

from . import factories
from .demo_rows import agent, group
from .test_wallboard import Wallboard, center, metric

pytestmark = pytest.mark.service


def queued(tenant, kind="phone") -> str:
    """A session waiting in its queue: someone is online (else it would end at once), nobody free to take it."""
    if agent().status == "offline":
        agents.online(agent().pk)
    Agent.objects.exclude(status="offline").update(status="notReady")
    session_id = sessions.create_inbound(tenant, kind, str(group(kind).pk), {})
    assert Session.objects.get(pk=session_id).state == "queued"
    return session_id


def act(client, kind, target_id, action, **form) -> tuple[int, dict]:
    response = client.post(reverse("wallboard-act", args=[kind, target_id, action]), form)
    assert response["Content-Type"] == "application/json", response.content
    return response.status_code, response.json()


def menu(client, kind, target, **query):
    return client.get(reverse("wallboard-menu", args=[kind, target]), query)


def forms(response) -> dict[str, list[str]]:
    """The menu's forms as shown: each action and the options of its select (empty for a plain button)."""
    found = re.findall(r'<form [^>]*data-action="(\w+)"[^>]*>(.*?)</form>', response.content.decode(), re.S)
    return {name: [label.strip() for label in re.findall(r"<option [^>]*>(.*?)</option>", body)]
            for name, body in found}


def lead_of(tenant, username="lead") -> Client:
    """A supervisor of `tenant` (not a superuser) with the Supervisor role, signed in."""
    account = get_user_model().objects.create_user(username, is_staff=True)
    account.groups.add(Group.objects.get(name="Supervisor"))
    Supervisor.objects.create(account=account, tenant=tenant)
    client = Client()
    client.force_login(account)
    return client


# Agents.

def test_an_agents_menu_offers_their_statuses_with_the_tenants_rest_reasons(supervisor, tenant):
    agents.online(agent().pk)
    shown = menu(supervisor, "agent", agent().pk)
    assert shown.status_code == 200
    assert forms(shown) == {
        "status": ["Free", "Rest: Lunch", "Rest: Short break", "Rest: Training", "Rest: Meeting", "Not ready"],
        "offline": []}
    assert "Sign agent1@demo out now?" in shown.content.decode()  # force offline asks first
    assert forms(menu(supervisor, "agent", agent("agent2@demo").pk)) == {}  # offline: nothing to do


def test_setting_an_agents_status_from_the_wallboard(supervisor, tenant):
    agents.online(agent().pk)
    assert act(supervisor, "agent", agent().pk, "status", status="rest:Lunch") == (
        200, {"ok": True, "message": "Status set to rest (Lunch)."})
    assert (agent().status, agent().rest_reason) == ("rest", "Lunch")
    assert AuditEntry.objects.get().outcome == "done"


def test_setting_the_status_of_an_agent_who_went_offline_meanwhile_is_refused(supervisor, tenant):
    assert act(supervisor, "agent", agent("agent2@demo").pk, "status", status="free") == (
        409, {"ok": False, "message": "Set status: agent agent2@demo is offline: they come online by signing in"})
    assert AuditEntry.objects.get().outcome == "refused"


def test_forcing_an_agent_offline_from_the_wallboard(supervisor, tenant):
    agents.online(agent().pk)
    assert act(supervisor, "agent", agent().pk, "offline") == (200, {
        "ok": True, "message": "Forced offline: sessions in progress ended, logins revoked, sockets closed."})
    assert agent().status == "offline" and agent().token_generation == 1


# Sessions.

def test_a_sessions_menu_shows_what_applies_and_sends_back_the_state_the_row_showed(supervisor, tenant):
    agents.online(agent("agent2@demo").pk)
    session_id = queued(tenant)
    Agent.objects.filter(user_id="agent2@demo").update(status="free")
    shown = menu(supervisor, "session", session_id, state="queued")
    assert forms(shown) == {
        "transfer": ["agent1@demo (not ready)", "agent2@demo (free)", "Phone support", "Web audio", "Web video"],
        "offer": ["agent2@demo"], "end": []}
    html = shown.content.decode()
    assert html.count('name="state" value="queued"') == 2 and "Waiting in Phone support&#x27;s queue" in html
    assert 'name="state" value="ringing"' in menu(supervisor, "session", session_id, state="ringing").content.decode()
    page = reverse("admin:sessions_app_session_change", args=[session_id])
    assert f'href="{page}"' in html


def test_a_chats_menu_links_to_watching_it_and_a_calls_does_not(supervisor, tenant):
    chat, call = queued(tenant, kind="im"), queued(tenant)
    watch = reverse("chat-watch", args=[chat])
    assert f'<a href="{watch}">Watch the chat</a>' in menu(supervisor, "session", chat).content.decode()
    assert "Watch the chat" not in menu(supervisor, "session", call).content.decode()


def test_ending_a_session_from_the_wallboard(supervisor, tenant):
    session_id = queued(tenant)
    assert act(supervisor, "session", session_id, "end", state="queued") == (
        200, {"ok": True, "message": "Session ended."})
    ended = Session.objects.get(pk=session_id)
    assert (ended.state, ended.close_by) == ("ended", "admin")
    assert "This session has ended." in menu(supervisor, "session", session_id).content.decode()


def test_ending_a_session_that_moved_on_since_the_row_showed_it_is_refused(supervisor, tenant):
    agents.online(agent().pk)
    session_id = queued(tenant)
    agents.set_status(agent().pk, "free")  # it rings for Alice now
    assert act(supervisor, "session", session_id, "end", state="queued") == (409, {"ok": False, "message": (
        f"End session: session {session_id[:8]} has moved on: it is ringing for agent1@demo now, not queued")})
    assert Session.objects.get(pk=session_id).state == "ringing"


def test_transferring_a_session_from_the_wallboard(supervisor, tenant):
    agents.online(agent().pk)
    session_id = queued(tenant)
    assert act(supervisor, "session", session_id, "transfer", target=f"group:{group('voip').pk}", state="queued") == (
        200, {"ok": True, "message": "Session transferred: it is waiting in Web audio's queue."})
    assert act(supervisor, "session", session_id, "transfer", target=f"group:{group().pk}", state="ringing") == (
        409, {"ok": False, "message": f"Transfer: session {session_id[:8]} has moved on: it is waiting in Web audio's "
                                      "queue now, not ringing"})
    assert Session.objects.get(pk=session_id).skill_group == group("voip")


def test_offering_a_queued_session_to_a_free_agent_from_the_wallboard(supervisor, tenant):
    agents.online(agent("agent2@demo").pk)
    session_id = queued(tenant)
    assert act(supervisor, "session", session_id, "offer", agent=agent("agent2@demo").pk) == (409, {
        "ok": False, "message": "Offer: agent agent2@demo is not free (status not ready)"})
    Agent.objects.filter(user_id="agent2@demo").update(status="free")
    assert act(supervisor, "session", session_id, "offer", agent=agent("agent2@demo").pk) == (
        200, {"ok": True, "message": "Session offered: it is ringing for agent2@demo."})
    assert act(supervisor, "session", session_id, "offer", agent=agent("agent2@demo").pk) == (409, {
        "ok": False, "message": f"Offer: session {session_id[:8]} is ringing for agent2@demo, not waiting in a queue"})


# Who may act, and on what.

def test_another_tenants_agents_and_sessions_are_not_found_for_a_supervisor(tenant):
    own = queued(tenant)
    theirs = factories.tenant(name="Theirs")
    their_group = factories.skill_group(theirs)
    their_agent = factories.agent(theirs, their_group, user_id="their@agent")
    agents.online(their_agent.pk)
    Agent.objects.filter(pk=their_agent.pk).update(status="notReady")
    their_session = sessions.create_inbound(theirs, "phone", str(their_group.pk), {})
    lead = lead_of(tenant)
    assert act(lead, "agent", their_agent.pk, "status", status="free") == (
        404, {"ok": False, "message": f"Set status: no agent '{their_agent.pk}'"})
    assert act(lead, "agent", their_agent.pk, "offline")[0] == 404
    assert act(lead, "session", their_session, "end", state="queued") == (
        404, {"ok": False, "message": f"End session: no session '{their_session}'"})
    assert act(lead, "session", their_session, "offer", agent=their_agent.pk)[0] == 404
    assert act(lead, "session", their_session, "transfer", target=f"agent:{their_agent.pk}", state="queued")[0] == 404
    # Nor is another tenant's agent or group a target for one's own session.
    assert act(lead, "session", own, "transfer", target=f"group:{their_group.pk}", state="queued") == (
        404, {"ok": False, "message": f"Transfer: no skill group '{their_group.pk}'"})
    assert act(lead, "session", own, "offer", agent=their_agent.pk) == (
        404, {"ok": False, "message": f"Offer: no agent '{their_agent.pk}'"})
    assert menu(lead, "agent", their_agent.pk).status_code == 404
    assert menu(lead, "session", their_session).status_code == 404
    assert Agent.objects.get(pk=their_agent.pk).status == "notReady"
    assert Session.objects.get(pk=their_session).state == "queued" and Session.objects.get(pk=own).state == "queued"
    assert set(AuditEntry.objects.values_list("outcome", flat=True)) == {"refused"}


def test_a_supervisor_acts_on_their_own_tenant(tenant):
    agents.online(agent().pk)
    lead = lead_of(tenant)
    assert act(lead, "agent", agent().pk, "status", status="notReady")[0] == 200
    assert agent().status == "notReady"


@pytest.mark.parametrize("kind, action, form", [
    ("agent", "status", {"status": "notReady"}), ("agent", "offline", {}), ("session", "end", {"state": "queued"}),
    ("session", "transfer", {"target": "group:{voip}", "state": "queued"}), ("session", "offer", {"agent": "{bob}"}),
])
def test_only_staff_with_the_role_may_act_or_see_a_menu(client, tenant, kind, action, form):
    session_id = queued(tenant)
    Agent.objects.filter(user_id="agent1@demo").update(status="free")
    target = agent().pk if kind == "agent" else session_id
    form = {name: value.format(voip=group("voip").pk, bob=agent("agent2@demo").pk) for name, value in form.items()}
    url = reverse("wallboard-act", args=[kind, target, action])
    assert client.post(url, form).status_code == 403  # signed out
    client.force_login(agent().account)  # an agent, not staff
    assert client.post(url, form).json() == {"ok": False, "message": "Sign in to admin as staff to act."}
    assert menu(client, kind, target).status_code == 403
    roleless = get_user_model().objects.create_user("roleless", is_staff=True)
    Supervisor.objects.create(account=roleless, tenant=tenant)
    client.force_login(roleless)
    assert client.post(url, form).json() == {"ok": False, "message": (
        f"Your account may not act on {kind}s: an administrator can give it the Supervisor role.")}
    assert "Supervisor role" in menu(client, kind, target).content.decode()
    assert agent().status == "free" and Session.objects.get(pk=session_id).state == "queued"
    assert AuditEntry.objects.count() == 0


def test_a_post_without_the_pages_csrf_token_is_refused(tenant):
    agents.online(agent().pk)
    client = Client(enforce_csrf_checks=True)
    client.force_login(get_user_model().objects.get(username="admin"))
    response = client.post(reverse("wallboard-act", args=["agent", agent().pk, "offline"]))
    assert response.status_code == 403 and agent().status == "free"
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"',
                      menu(client, "agent", agent().pk).content.decode()).group(1)
    response = client.post(reverse("wallboard-act", args=["agent", agent().pk, "offline"]),
                           {"csrfmiddlewaretoken": token})
    assert response.status_code == 200 and agent().status == "offline"


@pytest.mark.parametrize("kind, target, action, form, status, message", [
    ("agent", "{alice}", "status", {"status": "busy"}, 409,
     "Set status: status must be one of free, rest, notReady, not 'busy'"),
    ("agent", "{alice}", "status", {"status": "rest:<script>"}, 409,
     "Set status: the rest reason must be one of: Lunch, Short break, Training, Meeting"),
    ("agent", "1 OR 1=1", "offline", {}, 404, "Force offline: no agent '1 OR 1=1'"),
    ("agent", "99999999999999999999999", "offline", {}, 404, "Force offline: no agent '99999999999999999999999'"),
    ("agent", "{alice}", "explode", {}, 400, "No action 'explode' for agents."),
    ("tenant", "1", "end", {}, 400, "No action 'end' for tenants."),
    ("session", "x" * 300, "end", {}, 404, f"End session: no session '{'x' * 300}'"),
    ("session", "a\x00b", "end", {}, 404, "End session: no session 'a\\x00b'"),
    ("session", "{session}", "end", {"state": "bogus"}, 409, None),
    ("session", "{session}", "transfer", {"target": "zzz"}, 409,
     "Transfer: choose an agent or a skill group to transfer to"),
    ("session", "{session}", "transfer", {"target": "group:-1"}, 404, "Transfer: no skill group '-1'"),
    ("session", "{session}", "offer", {}, 409, "Offer: choose an agent to offer it to"),
    ("session", "{session}", "offer", {"agent": "<b>"}, 404, "Offer: no agent '<b>'"),
])
def test_crafted_posts_answer_a_clear_refusal_not_a_server_error(supervisor, tenant, kind, target, action, form,
                                                                  status, message):
    agents.online(agent().pk)
    target = target.format(alice=agent().pk, session=queued(tenant))
    code, answer = act(supervisor, kind, target, action, **form)
    assert (code, answer["ok"]) == (status, False)
    assert message is None or answer["message"] == message
    assert agent().status == "notReady" and not Session.objects.exclude(state="queued").exists()


def test_the_actions_answer_only_their_own_method(supervisor, tenant):
    assert supervisor.get(reverse("wallboard-act", args=["agent", agent().pk, "offline"])).status_code == 405
    assert supervisor.post(reverse("wallboard-menu", args=["agent", agent().pk])).status_code == 405
    assert menu(supervisor, "tenant", "1").status_code == 404
    assert menu(supervisor, "session", "y" * 100).status_code == 404
    assert menu(supervisor, "session", "a\x00b").status_code == 404
    assert menu(supervisor, "agent", "²").status_code == 404


# The board, after an action.

@pytest.mark.django_db(transaction=True)
async def test_an_action_from_the_wallboard_reaches_the_open_board_by_its_own_push(closed_after_test):
    tenant, phone, alice = await database_sync_to_async(center)()
    await database_sync_to_async(agents.online)(alice.pk)
    lead = await database_sync_to_async(lead_of)(tenant)
    account = await database_sync_to_async(get_user_model().objects.get)(username="lead")
    page = closed_after_test(await Wallboard.open(account))
    assert metric("status", "free") in await page.frame()
    answer = await database_sync_to_async(act)(lead, "agent", alice.pk, "status", status="notReady")
    assert answer == (200, {"ok": True, "message": "Status set to notReady."})
    await page.until(metric("status", "notReady"))
    await database_sync_to_async(agents.set_status)(alice.pk, "stopNotReady")
    session_id = await database_sync_to_async(sessions.create_inbound)(tenant, "phone", str(phone.pk), {})
    await page.until(metric("sessionId", session_id))  # ringing for her
    answer = await database_sync_to_async(act)(lead, "session", session_id, "end", state="ringing")
    assert answer == (200, {"ok": True, "message": "Session ended."})
    frame = await page.until(metric("sessionId", ""))
    assert f'data-session-id="{session_id}"' not in frame
