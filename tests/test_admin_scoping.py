"""Supervisors scoped to their tenant: every admin page, form and action tried as a supervisor of another tenant,
with crafted URLs and posts; the roles' permissions; secrets masked to everyone.

The models are taken from `admin.site._registry`, so an admin registered later is tried too (and must either be
scoped to a tenant or kept for superusers)."""
from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.forms import ModelChoiceField
from django.forms.models import model_to_dict
from django.test import RequestFactory
from django.urls import reverse

from sessions_app.admin_scope import SharedByAllTenants, SuperusersOnly, TenantScoped, tenant_path
from sessions_app.models import (Agent, AgentSkill, AuditEntry, CannedResponse, Cdr, ChatMessage, CloudApiCall,
                                 CloudKey, Hotline, IvrKey, IvrMenu, NumberGroup, NumberLocation, ProtectedNumber, RestReason, ServeParticipant,
                                 Session, SessionEvent, SkillGroup, Supervisor, Tenant, Trunk)
from sessions_app.roles import ROLES
from sessions_app.services import cloud_keys

from . import factories

pytestmark = pytest.mark.service

REGISTERED = list(admin.site._registry.items())
SCOPED = [model for model, model_admin in REGISTERED if isinstance(model_admin, TenantScoped)]
PASSWORD = "a long test password 4711"


def staff(username: str, tenant: Tenant | None, role: str | None) -> object:
    account = get_user_model().objects.create_user(username, password=PASSWORD, is_staff=True)
    if role:
        account.groups.add(Group.objects.get(name=role))
    if tenant:
        Supervisor.objects.create(account=account, tenant=tenant)
    return account


def rows_of(tenant: Tenant, n: int) -> dict[type, object]:
    """One row of every model a tenant owns, tied together as in use."""
    group = factories.skill_group(tenant, name=f"group of {tenant.name}")
    agent = factories.agent(tenant, group)
    session = Session.objects.create(tenant=tenant, type="im", state="ended", skill_group=group, agent=agent)
    menu = IvrMenu.objects.create(tenant=tenant, name=f"menu {n}")
    cloud_key, _ = cloud_keys.make(tenant, f"CRM {n}")
    return {
        Tenant: tenant, SkillGroup: group, Agent: agent, AgentSkill: agent.agentskill_set.get(), Session: session,
        RestReason: RestReason.objects.create(tenant=tenant, label=f"Lunch {n}"),
        CannedResponse: CannedResponse.objects.create(tenant=tenant, title=f"Hello {n}", text="Hello"),
        NumberGroup: NumberGroup.objects.create(tenant=tenant, name=f"numbers {n}", numbers="0086100"),
        ServeParticipant: ServeParticipant.objects.create(session=session, agent=agent, sequence=1),
        SessionEvent: SessionEvent.objects.create(session=session, what="queued"),
        ChatMessage: ChatMessage.objects.create(session=session, seq=1, sender="visitor", text="hi"),
        Cdr: Cdr.objects.create(session=session, payload={"SessionId": session.pk}),
        Trunk: Trunk.objects.create(tenant=tenant, name=f"trunk {n}", host="192.0.2.7", username="u",
                                    password=f"trunk-password-{n}"),
        IvrMenu: menu,
        IvrKey: IvrKey.objects.create(menu=menu, key="1", label="Support", skill_group=group),
        Hotline: Hotline.objects.create(tenant=tenant, number=f"00867550000{n}", ivr_menu=menu),
        ProtectedNumber: ProtectedNumber.objects.create(tenant=tenant, number=f"0086138000{n}",
                                                        protected_id=f"p-{n}"),
        AuditEntry: AuditEntry.objects.create(tenant=tenant, action="end_session", target_kind="session",
                                              target_id=session.pk, outcome="done"),
        CloudKey: cloud_key,
        CloudApiCall: CloudApiCall.objects.create(key=cloud_key, secret_id=cloud_key.secret_id, tenant=tenant,
                                                  action="DescribeTelCdr", request_id=f"request-{n}", outcome="ok"),
    }


@pytest.fixture
def world(db):
    ours, theirs = factories.tenant(name="Ours"), factories.tenant(name="Theirs")
    world = {"ours": rows_of(ours, 1), "theirs": rows_of(theirs, 2)}
    world["admin"] = staff("ours-admin", ours, "Administrator")
    world["supervisor"] = staff("ours-supervisor", ours, "Supervisor")
    world["their admin"] = staff("theirs-admin", theirs, "Administrator")
    world["ours"][Supervisor] = world["admin"].supervisor
    world["theirs"][Supervisor] = world["their admin"].supervisor
    world["root"] = get_user_model().objects.create_superuser("root", password=PASSWORD)
    NumberLocation.objects.create(prefix="0086", location="China")
    return world


def signed_in(client, account):
    client.force_login(account)
    return client


def url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def snapshot_of(tenant_rows: dict) -> dict:
    """Every row of a tenant, every field: what an attempt on it must leave as it was."""
    tenant = tenant_rows[Tenant]
    snapshot = {}
    for model in {m for m in (*SCOPED, *tenant_rows)}:
        path = tenant_path(model)
        for row in model.objects.filter(**{path: tenant.pk}):
            snapshot[model, row.pk] = model_to_dict(row)
    return snapshot


def test_every_registered_admin_is_scoped_to_a_tenant_or_kept_for_superusers(world):
    for model, model_admin in REGISTERED:
        assert isinstance(model_admin, (TenantScoped, SuperusersOnly, SharedByAllTenants)), model
        if isinstance(model_admin, TenantScoped):
            assert tenant_path(model) and model in world["ours"], f"{model}: give the test a row of it"


ADMINISTRATORS_ONLY = {CloudKey}  # a tenant's cloud API key pairs: its administrators' business


def test_a_supervisor_may_read_every_scoped_model_and_its_inlines():
    readable = set(ROLES["Supervisor"])
    for model in set(SCOPED) - ADMINISTRATORS_ONLY:
        inlines = [inline.model for inline in admin.site._registry[model].inlines]
        for shown in (model, *inlines):
            assert f"view_{shown._meta.model_name}" in readable, f"{shown}: add it to sessions_app/roles.py"


@pytest.mark.parametrize("model", SCOPED, ids=lambda model: model._meta.model_name)
def test_the_list_shows_only_the_tenants_own_rows_and_a_superuser_sees_both(client, world, model):
    ours, theirs = world["ours"][model], world["theirs"][model]
    listed = signed_in(client, world["admin"]).get(url(model, "changelist"))
    assert listed.status_code == 200
    assert "Theirs" not in listed.content.decode()  # in no row, no filter's choice (their tenant, their group)
    own = model.objects.filter(**{tenant_path(model): world["ours"][Tenant].pk})
    assert {row.pk for row in listed.context["cl"].result_list} == {row.pk for row in own}
    assert own.filter(pk=ours.pk).exists()
    everything = signed_in(client, world["root"]).get(url(model, "changelist")).context["cl"].result_list
    assert {ours.pk, theirs.pk} <= {row.pk for row in everything}


@pytest.mark.parametrize("model", SCOPED, ids=lambda model: model._meta.model_name)
def test_another_tenants_row_is_not_found_by_any_url(client, world, model):
    signed_in(client, world["admin"])
    theirs, ours = world["theirs"][model].pk, world["ours"][model].pk
    before = snapshot_of(world["theirs"])
    for view in ("change", "delete", "history"):
        assert client.get(url(model, view, theirs)).status_code == 404, view
        assert client.get(url(model, view, ours)).status_code in (200, 403), view  # 403: not this role's to delete
    assert client.get(url(model, "add")).status_code in (200, 403)  # 403: not this role's to add
    assert client.post(url(model, "change", theirs), {"name": "mine now"}).status_code == 404
    assert client.post(url(model, "delete", theirs), {"post": "yes"}).status_code == 404
    assert snapshot_of(world["theirs"]) == before


@pytest.mark.parametrize("model", SCOPED, ids=lambda model: model._meta.model_name)
def test_actions_on_another_tenants_ids_do_nothing(client, world, model):
    signed_in(client, world["admin"])
    request = RequestFactory().get("/")
    request.user = world["admin"]
    actions = admin.site._registry[model].get_actions(request)
    before = snapshot_of(world["theirs"])
    for action in actions:
        response = client.post(url(model, "changelist"), {
            "action": action, "_selected_action": [world["theirs"][model].pk], "post": "yes"}, follow=True)
        assert response.status_code == 200, action
    assert snapshot_of(world["theirs"]) == before


def offered_choices(model_admin, account, row) -> list[ModelChoiceField]:
    """The choice fields of an admin's add and change forms and their inlines' forms, as `account` gets them."""
    request = RequestFactory().get("/")
    request.user = account
    forms = []
    for obj, allowed in ((None, model_admin.has_add_permission(request)),
                         (row, model_admin.has_change_permission(request, row))):
        if allowed:
            forms.append(model_admin.get_form(request, obj))
            forms += [formset.form for formset, _ in model_admin.get_formsets_with_inlines(request, obj)]
    return [field for form in forms for field in form.base_fields.values() if isinstance(field, ModelChoiceField)]


@pytest.mark.parametrize("model", SCOPED, ids=lambda model: model._meta.model_name)
def test_every_choice_in_a_form_is_the_tenants_own(world, model):
    theirs = world["theirs"][Tenant]
    for field in offered_choices(admin.site._registry[model], world["admin"], world["ours"][model]):
        chosen = field.queryset.model
        if tenant_path(chosen):
            assert not field.queryset.filter(**{tenant_path(chosen): theirs.pk}).exists(), field
        elif chosen is Group:
            assert set(field.queryset.values_list("name", flat=True)) == {"Supervisor", "Administrator"}
        else:  # the accounts an agent or a supervisor is tied to: the tenant's own, never a superuser's
            assert chosen is get_user_model()
            assert not field.queryset.filter(supervisor__tenant=theirs).exists()
            assert not field.queryset.filter(agent__tenant=theirs).exists()
            assert not field.queryset.filter(is_superuser=True).exists()


def test_a_row_a_supervisor_adds_gets_their_tenant_whatever_the_post_names(client, world):
    ours, theirs = world["ours"][Tenant], world["theirs"][Tenant]
    response = signed_in(client, world["admin"]).post(url(SkillGroup, "add"), {
        "tenant": theirs.pk, "name": "Sales", "kind": "phone", "routing_strategy": "longest_idle", "ring_timeout": 8,
        "wrap_up_seconds": 15, "max_queue_wait": 300, "service_level_seconds": 20, "caller_numbers": ""})
    assert response.status_code == 302
    assert SkillGroup.objects.get(name="Sales").tenant == ours


@pytest.mark.parametrize("model, form, field", [
    (Hotline, {"number": "0086755999", "ivr_menu": "THEIRS", "skill_group": ""}, "ivr_menu"),
    (Agent, {"username": "dora", "password": PASSWORD, "user_id": "dora", "nickname": "", "staff_number": "",
             "mobile": "", "chat_capacity": 5, "agentskill_set-TOTAL_FORMS": 1, "agentskill_set-INITIAL_FORMS": 0,
             "agentskill_set-0-skill_group": "THEIRS", "agentskill_set-0-priority": 1}, "skill_group"),
    (IvrMenu, {"name": "m", "prompt_text": "hi", "timeout_seconds": 5, "max_retries": 2, "invalid_text": "no",
               "goodbye_text": "bye", "keys-TOTAL_FORMS": 1, "keys-INITIAL_FORMS": 0, "keys-0-key": "1",
               "keys-0-label": "x", "keys-0-next_menu": "THEIRS", "keys-0-skill_group": ""}, "next_menu"),
])
def test_a_crafted_post_naming_another_tenants_row_is_refused_with_a_form_error(client, world, model, form, field):
    related = {"ivr_menu": IvrMenu, "skill_group": SkillGroup, "next_menu": IvrMenu}[field]
    form = {key: world["theirs"][related].pk if value == "THEIRS" else value for key, value in form.items()}
    count = model.objects.count()
    response = signed_in(client, world["admin"]).post(url(model, "add"), form)
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert model.objects.count() == count


def test_a_supervisor_reads_the_tenant_and_acts_on_agents_but_changes_no_configuration(client, world):
    signed_in(client, world["supervisor"])
    group, agent = world["ours"][SkillGroup], world["ours"][Agent]
    assert client.get(url(SkillGroup, "change", group.pk)).status_code == 200
    assert client.post(url(SkillGroup, "change", group.pk), {"name": "renamed"}).status_code == 403
    assert client.get(url(SkillGroup, "add")).status_code == 403
    assert client.post(url(Agent, "delete", agent.pk), {"post": "yes"}).status_code == 403
    assert client.get(url(Supervisor, "add")).status_code == 403
    Agent.objects.filter(pk=agent.pk).update(status="free")
    response = client.post(url(Agent, "changelist"), {"action": "force_offline", "_selected_action": [agent.pk]},
                           follow=True)
    assert [str(m) for m in response.context["messages"]] == ["1 agent forced offline."]
    assert Agent.objects.get(pk=agent.pk).status == "offline"
    assert SkillGroup.objects.get(pk=group.pk).name == group.name


def test_an_administrator_changes_the_tenants_configuration(client, world):
    signed_in(client, world["admin"])
    group = world["ours"][SkillGroup]
    response = client.post(url(SkillGroup, "change", group.pk), {
        "name": "renamed", "kind": "phone", "routing_strategy": "round_robin", "ring_timeout": 8,
        "wrap_up_seconds": 15, "max_queue_wait": 300, "service_level_seconds": 20, "caller_numbers": ""})
    assert response.status_code == 302
    assert SkillGroup.objects.get(pk=group.pk).name == "renamed"
    assert client.post(url(RestReason, "delete", world["ours"][RestReason].pk), {"post": "yes"}).status_code == 302


def test_an_administrator_adds_an_agent_with_a_new_account_of_the_workbench_only(client, world):
    response = signed_in(client, world["admin"]).post(url(Agent, "add"), {
        "username": "dora", "password": PASSWORD, "user_id": "dora", "nickname": "Dora", "staff_number": "",
        "mobile": "", "chat_capacity": 5, "agentskill_set-TOTAL_FORMS": 1, "agentskill_set-INITIAL_FORMS": 0,
        "agentskill_set-0-skill_group": world["ours"][SkillGroup].pk, "agentskill_set-0-priority": 1})
    assert response.status_code == 302, response.context["adminform"].form.errors
    dora = Agent.objects.get(user_id="dora")
    assert dora.tenant == world["ours"][Tenant] and dora.account.check_password(PASSWORD)
    assert not dora.account.is_staff and not dora.account.is_superuser


def test_an_administrator_makes_a_supervisor_of_their_tenant_and_never_a_superuser(client, world):
    signed_in(client, world["admin"])
    response = client.post(url(Supervisor, "add"), {
        "username": "eve", "password": PASSWORD, "role": Group.objects.get(name="Supervisor").pk,
        "tenant": world["theirs"][Tenant].pk, "is_superuser": "on", "is_staff": "on"})
    assert response.status_code == 302
    eve = get_user_model().objects.get(username="eve")
    assert eve.supervisor.tenant == world["ours"][Tenant]
    assert eve.is_staff and not eve.is_superuser and [g.name for g in eve.groups.all()] == ["Supervisor"]
    taken = client.post(url(Supervisor, "add"), {"username": "eve", "password": PASSWORD,
                                                 "role": Group.objects.get(name="Supervisor").pk})
    assert "That username is taken." in taken.content.decode()
    other_group = Group.objects.create(name="Everything")
    refused = client.post(url(Supervisor, "add"), {"username": "mallory", "password": PASSWORD,
                                                   "role": other_group.pk})
    assert "Select a valid choice" in refused.content.decode()


def test_django_users_and_groups_are_for_superusers_only_even_for_staff_given_their_permissions(client, world):
    world["admin"].user_permissions.add(*Permission.objects.filter(content_type__app_label="auth"))
    signed_in(client, world["admin"])
    for model in (get_user_model(), Group):
        assert client.get(url(model, "changelist")).status_code == 403
        assert client.get(url(model, "add")).status_code == 403
    assert client.get(url(get_user_model(), "change", world["admin"].pk)).status_code == 403
    assert client.get(url(get_user_model(), "password_change", world["their admin"].pk)).status_code == 403
    assert client.post(url(get_user_model(), "change", world["admin"].pk),
                       {"username": "ours-admin", "is_superuser": "on"}).status_code == 403
    assert not get_user_model().objects.get(pk=world["admin"].pk).is_superuser
    assert 'href="/admin/auth/' not in client.get(reverse("admin:index")).content.decode()


def test_caller_locations_shared_by_every_tenant_are_read_by_supervisors_and_changed_by_superusers(client, world):
    location = NumberLocation.objects.get()
    world["admin"].user_permissions.add(*Permission.objects.filter(codename__endswith="_numberlocation"))
    signed_in(client, world["admin"])
    assert client.get(url(NumberLocation, "changelist")).status_code == 200
    assert client.post(url(NumberLocation, "change", location.pk),
                       {"prefix": "0086", "location": "Mars"}).status_code == 403
    assert client.post(url(NumberLocation, "delete", location.pk), {"post": "yes"}).status_code == 403
    assert NumberLocation.objects.get().location == "China"


def test_a_staff_account_of_no_tenant_sees_nothing_and_adds_nothing(client, world):
    signed_in(client, staff("drifter", None, "Administrator"))
    for model in SCOPED:
        listed = client.get(url(model, "changelist"))
        assert listed.status_code == 200 and list(listed.context["cl"].result_list) == [], model
        assert client.get(url(model, "change", world["ours"][model].pk)).status_code == 404, model
    response = client.post(url(RestReason, "add"), {"tenant": world["ours"][Tenant].pk, "label": "x", "position": 0})
    assert response.status_code == 200 and not RestReason.objects.filter(label="x").exists()


def test_secrets_are_masked_to_everyone_and_not_filterable(client, world):
    tenant, trunk = world["ours"][Tenant], world["ours"][Trunk]
    for account in (world["root"], world["admin"]):
        signed_in(client, account)
        page = client.get(url(Tenant, "change", tenant.pk)).content.decode()
        assert tenant.api_key not in page and tenant.cdr_secret not in page
        assert f"•••• {tenant.api_key[-4:]}" in page and f"•••• {tenant.cdr_secret[-4:]}" in page
        page = client.get(url(Trunk, "change", trunk.pk)).content.decode()
        assert trunk.password not in page and f"•••• {trunk.password[-4:]}" in page
        for model, lookup in ((Tenant, "api_key__startswith"), (Tenant, "cdr_secret"),
                              (RestReason, "tenant__api_key__startswith"), (Session, "tenant__cdr_secret__gt"),
                              (Trunk, "password__startswith"), (Trunk, "inbound_password"),
                              (Agent, "account__password__startswith"), (Supervisor, "account__password__gt"),
                              (RestReason, "tenant__supervisors__account__password__startswith")):
            assert client.get(f"{url(model, 'changelist')}?{lookup}={tenant.api_key[:1]}").status_code == 400, lookup


def test_a_trunk_password_left_empty_stays_and_goes_with_its_username(client, world):
    trunk = world["ours"][Trunk]
    signed_in(client, world["admin"])
    form = {"name": trunk.name, "host": trunk.host, "port": 5060, "transport": "udp", "enabled": "on",
            "username": "u", "password": "", "allowed_sources": "", "inbound_username": "", "inbound_password": ""}
    assert client.post(url(Trunk, "change", trunk.pk), form).status_code == 302
    assert Trunk.objects.get(pk=trunk.pk).password == trunk.password
    assert client.post(url(Trunk, "change", trunk.pk), {**form, "password": "new one"}).status_code == 302
    assert Trunk.objects.get(pk=trunk.pk).password == "new one"
    assert client.post(url(Trunk, "change", trunk.pk), {**form, "username": ""}).status_code == 302
    assert Trunk.objects.get(pk=trunk.pk).password == ""


def shown_secret(response, what: str) -> str:
    [message] = [str(m) for m in response.context["messages"]]
    return re.search(rf"{what}[^:]*: (\S+)\. Copy", message).group(1)


def test_rotating_shows_the_new_key_once_and_the_old_one_stops(client, world):
    tenant, theirs = world["ours"][Tenant], world["theirs"][Tenant]
    signed_in(client, world["admin"])
    response = client.post(url(Tenant, "changelist"), {"action": "rotate_api_key", "_selected_action": [tenant.pk]})
    assert "messages" not in response.cookies  # the message with the new key stays on the server, in the session
    key = shown_secret(client.get(response.url), "New API key")
    assert Tenant.objects.get(pk=tenant.pk).api_key == key != tenant.api_key
    assert key not in client.get(url(Tenant, "change", tenant.pk)).content.decode()
    response = client.post(url(Tenant, "changelist"), {
        "action": "rotate_cdr_secret", "_selected_action": [tenant.pk, theirs.pk]}, follow=True)
    secret = shown_secret(response, "New CDR signing secret")
    assert Tenant.objects.get(pk=tenant.pk).cdr_secret == secret
    assert Tenant.objects.get(pk=theirs.pk).cdr_secret == theirs.cdr_secret
    history = client.get(url(Tenant, "history", tenant.pk)).content.decode()
    assert "Rotated the API key" in history and "Rotated the CDR signing secret" in history
    assert key not in history and secret not in history


def test_a_supervisor_may_not_rotate_and_only_a_superuser_adds_a_tenant_shown_its_secrets_once(client, world):
    tenant = world["ours"][Tenant]
    response = signed_in(client, world["supervisor"]).post(url(Tenant, "changelist"), {
        "action": "rotate_api_key", "_selected_action": [tenant.pk]}, follow=True)
    assert Tenant.objects.get(pk=tenant.pk).api_key == tenant.api_key
    assert client.get(url(Tenant, "add")).status_code == 403
    signed_in(client, world["admin"])
    assert client.get(url(Tenant, "add")).status_code == 403
    response = signed_in(client, world["root"]).post(url(Tenant, "add"), {
        "name": "New", "sdk_app_id": "1600000001", "allowed_origins": "", "cdr_webhook_url": "",
        "outbound_per_5_minutes": 3, "outbound_per_day": 5, "calling_hours_start": "09:00",
        "calling_hours_end": "21:00", "time_zone": "UTC", "recording_retention_days": 0}, follow=True)
    made = Tenant.objects.get(sdk_app_id="1600000001")
    [message] = [str(m) for m in response.context["messages"] if made.api_key in str(m)]
    assert made.cdr_secret in message
    assert made.api_key not in client.get(url(Tenant, "change", made.pk)).content.decode()


@pytest.mark.parametrize("model_name, field_name", [("agent", "tenant"), ("agent", "skill_groups"),
                                                    ("hotline", "skill_group"), ("session", "agent")])
def test_autocomplete_and_raw_id_popups_offer_only_the_tenants_rows(client, world, model_name, field_name):
    signed_in(client, world["admin"])
    found = client.get(reverse("admin:autocomplete"), {"term": "", "app_label": "sessions_app",
                                                       "model_name": model_name, "field_name": field_name})
    assert found.status_code == 200
    related = {"tenant": Tenant, "skill_groups": SkillGroup, "skill_group": SkillGroup, "agent": Agent}[field_name]
    assert [result["id"] for result in found.json()["results"]] == [str(world["ours"][related].pk)]
    popup = client.get(url(related, "changelist"), {"_popup": 1, "_to_field": "id"})
    assert [row.pk for row in popup.context["cl"].result_list] == [world["ours"][related].pk]


def test_an_administrator_changes_their_tenants_settings_but_not_its_sdk_app_id(client, world):
    tenant = world["ours"][Tenant]
    response = signed_in(client, world["admin"]).post(url(Tenant, "change", tenant.pk), {
        "name": "Ours renamed", "sdk_app_id": "1999999999", "allowed_origins": "https://crm.example.com",
        "cdr_webhook_url": "", "outbound_per_5_minutes": 3, "outbound_per_day": 5, "calling_hours_start": "09:00",
        "calling_hours_end": "21:00", "time_zone": "UTC", "record_calls": "on", "recording_retention_days": 90})
    assert response.status_code == 302
    changed = Tenant.objects.get(pk=tenant.pk)
    assert (changed.name, changed.sdk_app_id, changed.api_key) == ("Ours renamed", tenant.sdk_app_id, tenant.api_key)
    assert (changed.record_calls, changed.recording_retention_days) == (True, 90)


def test_an_administrator_gives_an_agent_of_the_tenant_a_new_password_but_not_another_account(client, world):
    agent = world["ours"][Agent]
    response = signed_in(client, world["admin"]).post(url(Agent, "change", agent.pk), {
        "account": world["their admin"].pk, "password": PASSWORD, "tenant": world["theirs"][Tenant].pk,
        "user_id": agent.user_id, "nickname": "Al", "staff_number": "", "mobile": "", "chat_capacity": 5,
        "agentskill_set-TOTAL_FORMS": 0, "agentskill_set-INITIAL_FORMS": 0})
    assert response.status_code == 302, response.context["adminform"].form.errors
    changed = Agent.objects.get(pk=agent.pk)
    assert (changed.account_id, changed.tenant, changed.nickname) == (agent.account_id, world["ours"][Tenant], "Al")
    assert changed.account.check_password(PASSWORD)


def test_a_superuser_makes_an_administrator_of_any_tenant(client, world):
    response = signed_in(client, world["root"]).post(url(Supervisor, "add"), {
        "username": "frank", "password": PASSWORD, "role": Group.objects.get(name="Administrator").pk,
        "tenant": world["theirs"][Tenant].pk})
    assert response.status_code == 302
    frank = get_user_model().objects.get(username="frank")
    assert frank.supervisor.tenant == world["theirs"][Tenant] and frank.has_perm("sessions_app.add_agent")
    assert not frank.is_superuser


def test_an_administrator_makes_a_cloud_key_pair_shown_once_and_never_again(client, world):
    ours, theirs = world["ours"][Tenant], world["theirs"][Tenant]
    signed_in(client, world["admin"])
    response = client.post(url(CloudKey, "add"), {"tenant": theirs.pk, "name": "Billing"})
    assert response.status_code == 302 and "messages" not in response.cookies
    shown = client.get(response.url)
    [message] = [str(m) for m in shown.context["messages"] if "SecretKey" in str(m)]
    secret_id, secret_key = re.search(r"SecretId (\S+), SecretKey: (\S+)\. Copy", message).groups()
    made = CloudKey.objects.get(name="Billing")
    assert (made.secret_id, made.tenant, made.created_by) == (secret_id, ours, world["admin"])
    assert cloud_keys.secret_key(made) == secret_key and secret_key not in made.sealed_secret_key
    CloudApiCall.objects.create(key=made, secret_id=made.secret_id, tenant=ours, action="CreateSDKLoginToken",
                                request_id="request-billing", outcome="ok")
    call = CloudApiCall.objects.get(request_id="request-billing")
    for account in (world["admin"], world["root"], world["supervisor"]):
        signed_in(client, account)
        for page in (url(CloudKey, "changelist"), url(CloudKey, "change", made.pk), url(CloudKey, "history", made.pk),
                     url(CloudApiCall, "changelist"), url(CloudApiCall, "change", call.pk),
                     f"{url(CloudApiCall, 'changelist')}?q={secret_id}", reverse("admin:index")):
            answer = client.get(page)
            assert answer.status_code in (200, 403), page
            assert secret_key not in answer.content.decode(), page
    signed_in(client, world["admin"])
    assert f"•••• {secret_key[-4:]}" in client.get(url(CloudKey, "change", made.pk)).content.decode()
    listed = client.get(url(CloudKey, "changelist")).content.decode()
    assert secret_id in listed and "Billing" in listed


def test_a_cloud_key_is_revoked_from_the_list_or_its_page_and_stops_signing(client, world):
    key, other, theirs = world["ours"][CloudKey], cloud_keys.make(world["ours"][Tenant], "Other")[0], \
        world["theirs"][CloudKey]
    signed_in(client, world["admin"])
    response = client.post(url(CloudKey, "changelist"), {"action": "revoke", "_selected_action": [key.pk, theirs.pk]},
                           follow=True)
    assert [str(m) for m in response.context["messages"]] == [f"Revoked: {key.secret_id}."]
    assert cloud_keys.active_key(key.secret_id) is None and cloud_keys.active_key(theirs.secret_id) is not None
    page = client.get(url(CloudKey, "change", other.pk)).content.decode()
    assert 'name="_revoke"' in page
    assert client.post(url(CloudKey, "change", theirs.pk), {"_revoke": "Revoke"}).status_code == 404
    response = client.post(url(CloudKey, "change", other.pk), {"_revoke": "Revoke", "name": "x"}, follow=True)
    assert [str(m) for m in response.context["messages"]] == [f"Revoked: {other.secret_id}."]
    revoked = CloudKey.objects.get(pk=other.pk)
    assert revoked.revoked_at and revoked.name == "Other" and 'name="_revoke"' not in response.content.decode()
    assert "Revoked" in client.get(url(CloudKey, "history", other.pk)).content.decode()
    assert client.post(url(CloudKey, "delete", other.pk), {"post": "yes"}).status_code == 403
    assert CloudKey.objects.filter(pk=other.pk).exists()


def test_a_supervisor_reads_the_cloud_call_log_but_not_the_key_pairs(client, world):
    key, call, theirs = world["ours"][CloudKey], world["ours"][CloudApiCall], world["theirs"][CloudApiCall]
    signed_in(client, world["supervisor"])
    for view, args in (("changelist", ()), ("add", ()), ("change", (key.pk,))):
        assert client.get(url(CloudKey, view, *args)).status_code == 403, view
    assert client.post(url(CloudKey, "add"), {"name": "mine"}).status_code == 403
    assert client.post(url(CloudKey, "change", key.pk), {"_revoke": "Revoke"}).status_code == 403
    assert cloud_keys.active_key(key.secret_id) is not None and not CloudKey.objects.filter(name="mine").exists()
    listed = client.get(url(CloudApiCall, "changelist"), {"outcome": "ok", "action": "DescribeTelCdr"})
    assert [row.pk for row in listed.context["cl"].result_list] == [call.pk]
    for search in (key.secret_id, call.request_id):
        found = client.get(url(CloudApiCall, "changelist"), {"q": search})
        assert [row.pk for row in found.context["cl"].result_list] == [call.pk], search
    found = client.get(url(CloudApiCall, "changelist"), {"q": theirs.request_id})
    assert list(found.context["cl"].result_list) == []
    assert client.get(url(CloudApiCall, "change", theirs.pk)).status_code == 404
    assert client.get(url(CloudApiCall, "changelist"), {"tenant__id__exact": world["theirs"][Tenant].pk}
                      ).context["cl"].result_list.count() == 0
    assert client.get(url(CloudApiCall, "changelist"),
                      {"key__sealed_secret_key__startswith": "g"}).status_code == 400
    assert client.post(url(CloudApiCall, "change", call.pk), {"outcome": "forged"}).status_code == 403
    assert client.get(url(CloudApiCall, "add")).status_code == 403
    assert CloudApiCall.objects.get(pk=call.pk).outcome == "ok"


def test_a_superuser_makes_a_cloud_key_pair_for_any_tenant(client, world):
    theirs = world["theirs"][Tenant]
    response = signed_in(client, world["root"]).post(url(CloudKey, "add"), {"tenant": theirs.pk, "name": "Ops"},
                                                     follow=True)
    made = CloudKey.objects.get(name="Ops")
    assert made.tenant == theirs and made.created_by == world["root"]
    [message] = [str(m) for m in response.context["messages"] if "SecretKey" in str(m)]
    assert cloud_keys.secret_key(made) in message
