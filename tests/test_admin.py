"""The supervisors' admin, the OpenAPI description and the landing page, seen through the Django test client."""
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from sessions_app.models import Agent, Cdr, Session, SkillGroup
from sessions_app.services import agents, sessions

pytestmark = pytest.mark.service


def alice():
    return Agent.objects.get(user_id="agent1@demo")


def phone_group():
    return SkillGroup.objects.get(kind="phone")


def inbound_call(tenant, **fields) -> str:
    return sessions.create_inbound(tenant, "phone", str(phone_group().pk),
                                   {"callerPhoneNumber": "008613800000000", **fields}, "order-4711")


@pytest.fixture
def served_call(tenant):
    """A phone call Alice accepted and the customer ended: participants, a timeline and a CDR."""
    agents.online(alice().pk)
    session_id = inbound_call(tenant)
    sessions.accept(alice().pk, session_id, "Call")
    sessions.end_by_customer(tenant, session_id)
    return Session.objects.get(pk=session_id)


def changelist(model: str) -> str:
    return reverse(f"admin:sessions_app_{model}_changelist")


def column(page: str, name: str) -> list[str]:
    """The cells of a read-only inline's column, top to bottom."""
    return re.findall(rf'<td class="field-{name}">\s*<p>(.*?)</p>', page, re.S)


@pytest.mark.parametrize("model, query, rows", [
    ("tenant", "", 1),
    ("tenant", "q=1400000001", 1),
    ("skillgroup", "", 4),
    ("skillgroup", "kind__exact=phone", 1),
    ("skillgroup", "routing_strategy__exact=round_robin", 0),
    ("numbergroup", "", 1),
    ("agent", "", 3),
    ("agent", "status__exact=offline", 2),
    ("agent", "q=Alice", 1),
    ("session", "", 1),
    ("session", "type__exact=phone&direction__exact=in&state__exact=ended", 1),
    ("session", "end_status=ok", 1),
    ("session", "state__exact=queued", 0),
    ("session", "q=008613800000000", 1),
    ("cdr", "", 1),
    ("cdr", "delivery=delivered", 0),
    ("cdr", "delivery=pending", 0),
    ("cdr", "delivery=unsent", 1),
])
def test_changelist_renders_with_and_without_filters(supervisor, served_call, model, query, rows):
    response = supervisor.get(f"{changelist(model)}?{query}")
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == rows


def test_filters_by_skill_group_and_created_date(supervisor, served_call):
    group = phone_group().pk
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    today = urlencode({"created_at__gte": str(midnight), "created_at__lt": str(midnight + timedelta(days=1))})
    for url in (f"{changelist('agent')}?skill_groups__id__exact={group}",
                f"{changelist('session')}?skill_group__id__exact={group}",
                f"{changelist('session')}?{today}",
                f"{changelist('session')}?created_at__year={midnight.year}&created_at__month={midnight.month}"):
        response = supervisor.get(url)
        assert response.status_code == 200, url
        assert len(response.context["cl"].result_list) >= 1, url


@pytest.mark.parametrize("model", ["tenant", "skillgroup", "numbergroup", "agent", "session", "cdr"])
def test_changelist_sorts_by_every_column(supervisor, served_call, model):
    columns = len(supervisor.get(changelist(model)).context["cl"].list_display)
    for column in range(columns):
        assert supervisor.get(f"{changelist(model)}?o=-{column}").status_code == 200, column


def test_skill_group_list_counts_queued_sessions_and_online_agents(supervisor, tenant):
    agents.online(alice().pk)
    inbound_call(tenant)  # rings Alice
    inbound_call(tenant)  # waits: Alice is on the first call
    response = supervisor.get(changelist("skillgroup"))
    counts = {group.kind: (group.queued_count, group.online_count) for group in response.context["cl"].result_list}
    assert counts == {"phone": (1, 1), "im": (0, 1), "voip": (0, 1), "video": (0, 1)}


def test_agent_list_shows_status_badge_and_time_in_status(supervisor, tenant):
    Agent.objects.filter(user_id="agent1@demo").update(status="rest", rest_reason="Lunch",
                                                       status_since=timezone.now() - timedelta(minutes=3, seconds=5))
    response = supervisor.get(changelist("agent"))
    page = response.content.decode()
    assert "Live agents" in page
    assert '<span class="badge status-rest">Rest</span>' in page
    assert "3 min" in page and "Lunch" in page


def test_agent_on_a_call_shows_busy(supervisor, tenant):
    agents.online(alice().pk)
    sessions.accept(alice().pk, inbound_call(tenant), "Call")
    page = supervisor.get(changelist("agent")).content.decode()
    assert '<span class="badge status-busy">Busy</span>' in page


def test_adding_an_agent_picks_the_user_account(supervisor, tenant):
    account = get_user_model().objects.create_user("dora")
    response = supervisor.post(reverse("admin:sessions_app_agent_add"), {
        "account": account.pk, "tenant": tenant.pk, "user_id": "dora@demo", "nickname": "Dora",
        "staff_number": "1004", "mobile": "", "chat_capacity": 5,
        "agentskill_set-TOTAL_FORMS": 1, "agentskill_set-INITIAL_FORMS": 0,
        "agentskill_set-0-skill_group": phone_group().pk, "agentskill_set-0-priority": 2,
    })
    assert response.status_code == 302, response.context["adminform"].form.errors
    dora = Agent.objects.get(user_id="dora@demo")
    assert dora.account == account and dora.status == "offline"
    assert list(dora.agentskill_set.values_list("skill_group__kind", "priority")) == [("phone", 2)]


def test_changing_an_agent_or_a_group_in_admin_moves_its_modified_at(supervisor, tenant):
    """modified_at is the cloud API's LastModifyTimestamp and ModifiedTime filter (sessions_app/cloud/staff.py)."""
    long_ago = timezone.now() - timedelta(days=30)
    Agent.objects.update(modified_at=long_ago)
    SkillGroup.objects.update(modified_at=long_ago)
    skill = alice().agentskill_set.get(skill_group=phone_group())
    response = supervisor.post(reverse("admin:sessions_app_agent_change", args=[alice().pk]), {
        "account": alice().account_id, "tenant": tenant.pk, "user_id": "agent1@demo", "nickname": "Alice B.",
        "staff_number": alice().staff_number, "mobile": "", "chat_capacity": 5,
        "agentskill_set-TOTAL_FORMS": 1, "agentskill_set-INITIAL_FORMS": 1, "agentskill_set-0-id": skill.pk,
        "agentskill_set-0-agent": alice().pk, "agentskill_set-0-skill_group": phone_group().pk,
        "agentskill_set-0-priority": skill.priority,
    })
    assert response.status_code == 302, response.context["adminform"].form.errors
    group = phone_group()
    response = supervisor.post(reverse("admin:sessions_app_skillgroup_change", args=[group.pk]), {
        "tenant": tenant.pk, "name": "Phone help", "kind": "phone", "routing_strategy": group.routing_strategy,
        "ring_timeout": group.ring_timeout, "wrap_up_seconds": group.wrap_up_seconds,
        "max_queue_wait": group.max_queue_wait, "service_level_seconds": group.service_level_seconds,
        "caller_numbers": group.caller_numbers})
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert alice().modified_at > long_ago and phone_group().modified_at > long_ago
    assert Agent.objects.exclude(user_id="agent1@demo").filter(modified_at__gt=long_ago).count() == 0


def test_force_offline_action_sets_selected_agents_offline_and_is_recorded(supervisor, tenant):
    from django.contrib.admin.models import LogEntry

    Agent.objects.filter(user_id="agent1@demo").update(status="free")
    bob = Agent.objects.get(user_id="agent2@demo")
    response = supervisor.post(changelist("agent"), {
        "action": "force_offline", "_selected_action": [alice().pk, bob.pk],
    }, follow=True)
    assert alice().status == "offline"
    assert [str(m) for m in response.context["messages"]] == ["2 agents forced offline."]
    entries = LogEntry.objects.filter(content_type__model="agent").order_by("object_id")
    assert [(e.user.username, e.object_id, e.get_change_message()) for e in entries] == [
        ("admin", str(agent.pk), "Forced offline: logins revoked") for agent in (alice(), bob)]
    bob.refresh_from_db()
    assert alice().token_generation == bob.token_generation == 1


def test_session_page_shows_participants_timeline_and_cdr(supervisor, served_call):
    response = supervisor.get(reverse("admin:sessions_app_session_change", args=[served_call.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    assert [re.sub(r"<.*?>", "", cell) for cell in column(page, "agent")] == ["Alice"]
    assert column(page, "outcome") == ["Ended"]
    timeline = column(page, "what")
    assert timeline == [event.what for event in served_call.timeline.all()]
    assert "accepted by agent1@demo" in timeline
    assert "&quot;SessionId&quot;: &quot;" + served_call.pk in page
    assert "<textarea" not in page and "<select" not in page


def test_sessions_are_read_only(supervisor, served_call):
    assert supervisor.get(reverse("admin:sessions_app_session_add")).status_code == 403
    change = reverse("admin:sessions_app_session_change", args=[served_call.pk])
    assert supervisor.post(change, {"state": "queued"}).status_code == 403
    assert Session.objects.get(pk=served_call.pk).state == "ended"


def test_retry_push_action_makes_undelivered_cdrs_due_now(supervisor, tenant, served_call):
    tenant.cdr_webhook_url = "http://127.0.0.1:9/cdr"
    tenant.save()
    later = timezone.now() + timedelta(minutes=5)
    Cdr.objects.filter(session=served_call).update(attempts=3, next_attempt_at=later, last_error="HTTP 500")
    delivered = Cdr.objects.create(session=Session.objects.create(tenant=tenant, type="im", state="ended"),
                                   payload={}, delivered_at=timezone.now(), attempts=1)
    before = timezone.now()
    response = supervisor.post(changelist("cdr"), {
        "action": "retry_push", "_selected_action": [served_call.cdr.pk, delivered.pk]}, follow=True)
    served_call.cdr.refresh_from_db()
    delivered.refresh_from_db()
    assert before <= served_call.cdr.next_attempt_at <= timezone.now()
    assert delivered.next_attempt_at is None
    assert [str(m) for m in response.context["messages"]] == ["1 CDR push due now."]


def test_openapi_description_is_served_as_written(client):
    response = client.get("/api/openapi.yaml")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/yaml")
    text = response.content.decode()
    assert text == (Path(settings.BASE_DIR) / "templates" / "openapi.yaml").read_text()
    assert text.startswith("openapi: 3.1.0\n")
    try:
        import yaml
    except ImportError:
        return  # PyYAML is no dependency of ours; the text was checked above
    document = yaml.safe_load(text)
    assert set(document["paths"]) == {"/api/sdk-login-token", "/api/sessions", "/api/sessions/{sessionId}",
                                      "/api/sessions/{sessionId}/end"}
    assert "cdr" in document["webhooks"]


def test_home_page_links_and_shows_the_sdk_snippet(client):
    page = client.get("/").content.decode()
    assert 'href="/admin/"' in page and 'href="/api/openapi.yaml"' in page
    assert '&lt;script src="http://testserver/sdk/tccc.js"' in page
    assert 'crossorigin="anonymous"&gt;&lt;/script&gt;' in page


def test_home_page_links_to_try_it(client):
    assert 'href="/try/"' in client.get("/").content.decode()


def test_try_it_carries_both_widgets_of_the_demo_tenant_and_the_hotline(client, demo, settings):
    settings.SIP_PORT, settings.SIP_HOST, settings.SIP_PUBLIC_HOST = 5060, "0.0.0.0", ""
    page = client.get("/try/").content.decode()
    assert '<script src="/widget/chat.js" data-sdk-app-id="1400000001"' in page
    assert '<script src="/widget/call.js" data-sdk-app-id="1400000001" data-position="left"' in page
    assert f"sip:{demo['hotline']}@testserver:5060" in page  # listening everywhere: the page's own host
    settings.SIP_PORT = None
    assert "The phone channel is off" in client.get("/try/").content.decode()


@pytest.mark.django_db
def test_try_it_is_not_found_without_the_demo_tenant(client):
    response = client.get("/try/")
    assert response.status_code == 404
