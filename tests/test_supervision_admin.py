"""The supervisor's panel on an agent's and a session's admin page (sessions_app/supervision_admin.py) and the
audit log's admin, through the Django test client: the actions shown for each state, what a POST does and
says, and refusals (moved on, another tenant's, crafted ids) as error messages, never a server error."""
import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse

from sessions_app.models import Agent, AuditEntry, Session, Supervisor
from sessions_app.services import agents, sessions, supervision

from . import factories
from .demo_rows import agent, group, inbound

pytestmark = pytest.mark.service


def page(model: str, pk) -> str:
    return reverse(f"admin:sessions_app_{model}_change", args=[pk])


def action_url(model: str, pk, action: str) -> str:
    return reverse(f"admin:sessions_app_{model}_supervise", args=[pk, action])


def panel(client, model: str, pk) -> dict[str, list[str]]:
    """The panel's forms as shown: each action and the options of its select (empty for a plain button)."""
    response = client.get(page(model, pk))
    assert response.status_code == 200
    html = response.content.decode()
    section = re.search(r'<section class="supervision".*?</section>', html, re.S)
    if section is None:
        return {}
    forms = re.findall(r'<form [^>]*data-action="(\w+)">(.*?)</form>', section.group(0), re.S)
    return {name: [label.strip() for label in re.findall(r"<option [^>]*>(.*?)</option>", body)]
            for name, body in forms}


def messages_after(response) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in response.context["messages"]]


def post(client, model, pk, action, **form):
    response = client.post(action_url(model, pk, action), form, follow=True)
    assert response.status_code == 200 and response.redirect_chain[0][1] == 302
    return messages_after(response)


# Agents.

def test_an_online_agents_page_offers_their_statuses_and_force_offline(supervisor, tenant):
    agents.online(agent().pk)
    assert panel(supervisor, "agent", agent().pk) == {
        "status": ["Free", "Rest: Lunch", "Rest: Short break", "Rest: Training", "Rest: Meeting", "Not ready"],
        "offline": []}
    assert panel(supervisor, "agent", agent("agent2@demo").pk) == {"offline": []}


def test_setting_a_status_from_the_agents_page(supervisor, tenant):
    agents.online(agent().pk)
    said = post(supervisor, "agent", agent().pk, "status", status="rest:Lunch")
    assert said == [("success", "Status set to rest (Lunch).")]
    assert (agent().status, agent().rest_reason) == ("rest", "Lunch")
    assert AuditEntry.objects.get().outcome == "done"
    html = supervisor.get(page("agent", agent().pk)).content.decode()
    chosen = re.search(r'<select name="status">.*?</select>', html, re.S).group(0)
    assert re.findall(r"<option [^>]*selected>(.*?)</option>", chosen) == ["Rest: Lunch"]


def test_a_refused_status_is_an_error_message_and_audited(supervisor, tenant):
    said = post(supervisor, "agent", agent("agent2@demo").pk, "status", status="free")
    assert said == [("error", "Set status: agent agent2@demo is offline: they come online by signing in")]
    assert AuditEntry.objects.get().outcome == "refused"


def test_force_offline_from_the_agents_page_and_the_list_action_are_audited(supervisor, tenant):
    agents.online(agent().pk)
    assert post(supervisor, "agent", agent().pk, "offline") == [
        ("success", "Forced offline: sessions in progress ended, logins revoked, sockets closed.")]
    assert agent().status == "offline"
    supervisor.post(reverse("admin:sessions_app_agent_changelist"),
                    {"action": "force_offline", "_selected_action": [agent("agent2@demo").pk]})
    assert list(AuditEntry.objects.order_by("pk").values_list("action", "target_label", "outcome")) == [
        ("force_offline", "agent1@demo", "done"), ("force_offline", "agent2@demo", "done")]


# Sessions.

def test_a_sessions_page_shows_the_actions_of_its_state(supervisor, tenant):
    alice, bob = agent(), agent("agent2@demo")
    agents.online(alice.pk)
    agents.online(bob.pk)
    Agent.objects.exclude(status="offline").update(status="notReady")
    session_id = inbound(tenant)
    Agent.objects.filter(pk=bob.pk).update(status="free")
    groups = ["Phone support", "Web audio", "Web video"]
    assert panel(supervisor, "session", session_id) == {
        "transfer": ["agent1@demo (not ready)", "agent2@demo (free)", *groups], "offer": ["agent2@demo"], "end": []}
    Agent.objects.filter(pk=bob.pk).update(status="notReady")
    agents.set_status(alice.pk, "free")  # the call rings for her
    Agent.objects.filter(pk=bob.pk).update(status="free")
    assert Session.objects.get(pk=session_id).agent == alice
    assert panel(supervisor, "session", session_id) == {"transfer": ["agent2@demo (free)", *groups], "end": []}
    sessions.accept(alice.pk, session_id, "Call")
    assert panel(supervisor, "session", session_id) == {"transfer": ["agent2@demo (free)", *groups], "end": []}
    sessions.hang_up(alice.pk, session_id, "Call")
    assert panel(supervisor, "session", session_id) == {}


def test_a_chat_is_transferred_only_to_chat_groups_and_an_agents_call_is_not_transferred(supervisor, tenant):
    alice = agent()
    agents.online(alice.pk)
    Agent.objects.exclude(status="offline").update(status="notReady")
    chat = inbound(tenant, "im")
    assert panel(supervisor, "session", chat)["transfer"] == ["agent1@demo (not ready)", "Web chat"]
    Agent.objects.filter(user_id="agent2@demo").update(status="free")
    internal = sessions.start_internal_call(alice.pk, "agent2@demo")["sessionId"]
    assert panel(supervisor, "session", internal) == {"end": []}


def test_ending_transferring_and_offering_from_the_sessions_page(supervisor, tenant):
    for user_id in ("agent1@demo", "agent2@demo"):
        agents.online(agent(user_id).pk)
    Agent.objects.exclude(status="offline").update(status="notReady")
    first, second = inbound(tenant), inbound(tenant)
    Agent.objects.filter(user_id="agent2@demo").update(status="free")
    assert post(supervisor, "session", first, "offer", agent=agent("agent2@demo").pk) == [
        ("success", "Session offered: it is ringing for agent2@demo.")]
    assert Session.objects.get(pk=first).agent.user_id == "agent2@demo"
    assert post(supervisor, "session", second, "transfer", target=f"group:{group('voip').pk}", state="queued") == [
        ("success", "Session transferred: it is waiting in Web audio's queue.")]
    assert Session.objects.get(pk=second).skill_group.kind == "voip"
    assert post(supervisor, "session", second, "end", state="queued") == [("success", "Session ended.")]
    assert Session.objects.get(pk=second).close_by == "admin"
    assert list(AuditEntry.objects.values_list("outcome", flat=True)) == ["done"] * 3


def test_acting_on_a_session_that_moved_on_says_so(supervisor, tenant):
    agents.online(agent().pk)
    session_id = inbound(tenant)  # rings for Alice
    short = session_id[:8]
    assert post(supervisor, "session", session_id, "transfer", target=f"group:{group('voip').pk}",
                state="queued") == [
        ("error", f"Transfer: session {short} has moved on: it is ringing for agent1@demo now, not queued")]
    assert post(supervisor, "session", session_id, "offer", agent=agent("agent2@demo").pk) == [
        ("error", f"Offer: session {short} is ringing for agent1@demo, not waiting in a queue")]
    supervision.end_session(supervisor_id=get_user_model().objects.get(username="admin").pk, session_id=session_id)
    assert post(supervisor, "session", session_id, "end", state="ringing") == [
        ("error", f"End session: session {short} has already ended")]
    assert Session.objects.get(pk=session_id).state == "ended"


@pytest.mark.parametrize("model, pk, action, form, message", [
    ("session", "no-such-session", "end", {}, "End session: no session 'no-such-session'"),
    ("session", "x" * 300, "end", {}, f"End session: no session '{'x' * 300}'"),
    ("session", "%00", "end", {}, "End session: no session '%00'"),
    ("session", "{session}", "transfer", {"target": "zzz"},
     "Transfer: choose an agent or a skill group to transfer to"),
    ("session", "{session}", "transfer", {"target": "agent:-3"}, "Transfer: no agent '-3'"),
    ("session", "{session}", "transfer", {"target": "group:99999999999999999999999"},
     "Transfer: no skill group '99999999999999999999999'"),
    ("session", "{session}", "offer", {}, "Offer: choose an agent to offer it to"),
    ("session", "{session}", "explode", {}, "no action 'explode'"),
    ("agent", "abc", "offline", {}, "Force offline: no agent 'abc'"),
    ("agent", "{alice}", "status", {"status": "rest:<script>"},
     "Set status: the rest reason must be one of: Lunch, Short break, Training, Meeting"),
    ("agent", "{alice}", "status", {}, "Set status: status must be one of free, rest, notReady, not ''"),
])
def test_crafted_posts_answer_an_error_message_not_a_server_error(supervisor, tenant, model, pk, action, form,
                                                                   message):
    agents.online(agent().pk)
    Agent.objects.exclude(status="offline").update(status="notReady")
    pk = pk.format(session=inbound(tenant), alice=agent().pk)
    response = supervisor.post(action_url(model, pk, action), form, follow=True)
    # Back to the row's page; for a row the supervisor cannot see, to the list.
    assert response.status_code == 200 and ("error", message) in messages_after(response)
    assert Session.objects.exclude(state="queued").count() == 0


def test_the_panels_views_take_posts_from_staff_only(client, supervisor, tenant):
    url = action_url("agent", agent().pk, "offline")
    assert supervisor.get(url).status_code == 405
    client.logout()
    assert client.post(url).status_code == 302 and agent().token_generation == 0  # to the login page
    factories.agent(tenant, user_id="plain@demo")
    client.force_login(get_user_model().objects.get(username="plain@demo"))
    assert client.post(url).status_code == 302 and agent().token_generation == 0


def test_a_supervisor_of_another_tenant_is_refused_and_audited(client, tenant):
    account = get_user_model().objects.create_user("other-lead", is_staff=True)
    account.user_permissions.set(Permission.objects.filter(codename__in=["view_agent", "view_session"]))
    Supervisor.objects.create(account=account, tenant=factories.tenant())
    client.force_login(account)
    agents.online(agent().pk)
    said = post(client, "agent", agent().pk, "status", status="notReady")
    assert said == [("error", f"Set status: no agent '{agent().pk}'")]
    assert agent().status == "free"
    entry = AuditEntry.objects.get()
    assert (entry.supervisor_name, entry.outcome, entry.tenant) == ("other-lead", "refused", account.supervisor.tenant)


# The audit log.

def test_the_audit_log_lists_filters_and_searches_and_is_read_only(supervisor, tenant):
    agents.online(agent().pk)
    admin_id = get_user_model().objects.get(username="admin").pk
    supervision.set_agent_status(supervisor_id=admin_id, agent_id=agent().pk, status="notReady")
    with pytest.raises(Exception):
        supervision.force_offline(supervisor_id=admin_id, agent_id="nobody")
    changelist = reverse("admin:sessions_app_auditentry_changelist")
    for query, rows in [("", 2), ("outcome__exact=refused", 1), ("action__exact=set_status", 1),
                        (f"tenant__id__exact={tenant.pk}", 1), ("q=nobody", 1), ("q=agent1", 1),
                        ("at__year=2000", 0)]:
        response = supervisor.get(f"{changelist}?{query}")
        assert response.status_code == 200 and len(response.context["cl"].result_list) == rows, query
    columns = len(supervisor.get(changelist).context["cl"].list_display)
    assert all(supervisor.get(f"{changelist}?o=-{column}").status_code == 200 for column in range(columns))
    listed = supervisor.get(changelist).content.decode()
    assert f'<a href="{page("agent", agent().pk)}">agent1@demo</a>' in listed  # a target found links to its page
    entry = AuditEntry.objects.get(outcome="refused")
    detail = supervisor.get(reverse("admin:sessions_app_auditentry_change", args=[entry.pk]))
    assert detail.status_code == 200 and "no agent &#x27;nobody&#x27;" in detail.content.decode()
    assert supervisor.get(reverse("admin:sessions_app_auditentry_add")).status_code == 403
    assert supervisor.post(reverse("admin:sessions_app_auditentry_delete", args=[entry.pk]),
                           {"post": "yes"}).status_code == 403
    assert AuditEntry.objects.count() == 2
