"""`seed_demo` (run by run.sh at every start) creates the demo tenant once and never changes what exists."""
import json
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from sessions_app.models import Agent, SkillGroup, Tenant

pytestmark = pytest.mark.service


def seed() -> dict:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return json.loads(out.getvalue().strip().splitlines()[-1])


def test_a_changed_api_key_origin_list_and_passwords_survive_the_next_seed(demo):
    users = get_user_model().objects
    Tenant.objects.filter(sdk_app_id=demo["SdkAppId"]).update(
        api_key="rotated-key-4711", allowed_origins="https://crm.example.com", name="Acme")
    for username in ("admin", "agent1@demo"):
        user = users.get(username=username)
        user.set_password("changed 4711")
        user.save()
    SkillGroup.objects.filter(pk=demo["skillGroups"]["phone"]).update(caller_numbers="")

    again = seed()

    tenant = Tenant.objects.get(sdk_app_id=demo["SdkAppId"])
    assert (tenant.api_key, tenant.allowed_origins, tenant.name) == ("rotated-key-4711", "https://crm.example.com", "Acme")
    assert again["apiKey"] == "rotated-key-4711"  # scripts reading the JSON line get the key that works
    for username in ("admin", "agent1@demo"):
        assert users.get(username=username).check_password("changed 4711")
        assert not users.get(username=username).check_password("demo-password")
    assert SkillGroup.objects.get(pk=demo["skillGroups"]["phone"]).caller_numbers == ""


def test_deleted_demo_accounts_are_not_brought_back(demo):
    users = get_user_model().objects
    users.filter(username__in=["admin", "agent3@demo"]).delete()

    again = seed()

    assert not users.filter(username__in=["admin", "agent3@demo"]).exists()
    assert not Agent.objects.filter(user_id="agent3@demo").exists()
    assert again["SdkAppId"] == demo["SdkAppId"] and again["skillGroups"] == demo["skillGroups"]


def test_an_existing_admin_keeps_its_password_and_rights_when_the_demo_is_seeded(transactional_db):
    get_user_model().objects.create_user("admin", password="the company's own", is_staff=False)

    demo = seed()

    admin = get_user_model().objects.get(username="admin")
    assert admin.check_password("the company's own") and not admin.is_superuser and not admin.is_staff
    assert Tenant.objects.get(sdk_app_id=demo["SdkAppId"]).api_key == demo["apiKey"] == "demo-api-key-change-me"


def test_the_first_seed_says_what_it_made_and_the_next_that_it_changed_nothing(transactional_db):
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "Demo tenant created: supervisor 'admin' / 'demo-password'" in out.getvalue()
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "Demo tenant already there: left as it is" in out.getvalue()


def test_the_demo_tenants_supervisor_sees_the_demo_tenant_only_and_is_not_brought_back(demo):
    from sessions_app.services.supervisors import tenant_of

    users = get_user_model().objects
    supervisor = users.get(username=demo["supervisor"])
    assert demo["supervisor"] == "supervisor@demo" and supervisor.check_password("demo-password")
    assert supervisor.is_staff and not supervisor.is_superuser
    assert [group.name for group in supervisor.groups.all()] == ["Supervisor"]
    assert tenant_of(supervisor) == Tenant.objects.get(sdk_app_id=demo["SdkAppId"])
    assert users.get(username="admin").is_superuser
    supervisor.delete()

    seed()

    assert not users.filter(username="supervisor@demo").exists()
