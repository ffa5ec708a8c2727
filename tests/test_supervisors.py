"""Which tenant a staff account works for (services/supervisors.py): the scope of admin, wallboard and reports."""
import pytest
from django.contrib.auth import get_user_model

from sessions_app.models import Supervisor, Tenant
from sessions_app.services.supervisors import tenant_of, tenants_visible_to

from . import factories

pytestmark = pytest.mark.service


def account(username, **flags):
    return get_user_model().objects.create_user(username, password="x", **flags)


def test_each_staff_account_sees_its_own_tenant_and_a_superuser_sees_all(db):
    ours, theirs = factories.tenant(), factories.tenant()
    supervisor = account("lead", is_staff=True)
    Supervisor.objects.create(account=supervisor, tenant=ours)
    staff_agent = factories.agent(theirs).account
    staff_agent.is_staff = True
    root = account("root", is_staff=True, is_superuser=True)
    assert list(tenants_visible_to(supervisor)) == [ours] and tenant_of(supervisor) == ours
    assert list(tenants_visible_to(staff_agent)) == [theirs] and tenant_of(staff_agent) == theirs
    assert set(tenants_visible_to(root)) == set(Tenant.objects.all()) and tenant_of(root) is None


def test_an_account_that_is_not_staff_or_is_inactive_or_of_no_tenant_sees_none(db):
    tenant = factories.tenant()
    agent_only = factories.agent(tenant).account  # not staff: the workbench, not admin
    lost = account("lost", is_staff=True)
    gone = account("gone", is_staff=True, is_active=False)
    Supervisor.objects.create(account=gone, tenant=tenant)
    for user in (agent_only, lost, gone):
        assert list(tenants_visible_to(user)) == [] and tenant_of(user) is None
