"""The status history reports read (AgentStatusChange): every change of an agent's status, who made it, and the
tenant's time zone that days are counted in."""
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from sessions_app.models import Agent, AgentStatusChange
from sessions_app.services import agents, deadlines, logins, presence

from . import factories

pytestmark = pytest.mark.service


def history(agent):
    return list(AgentStatusChange.objects.filter(agent=agent).order_by("at", "id")
                .values_list("from_status", "to_status", "rest_reason", "by", "by_user_id"))


@pytest.fixture
def agent(db):
    tenant = factories.tenant()
    return factories.agent(tenant, factories.skill_group(tenant))


def test_the_agents_own_changes_are_recorded_as_theirs_each_closing_the_one_before(agent):
    agents.online(agent.pk)
    agents.set_status(agent.pk, "rest", "lunch")
    agents.set_status(agent.pk, "rest", "training")
    agents.set_status(agent.pk, "notReady")
    presence.offline(agent.pk)
    assert history(agent) == [("offline", "free", "", "agent", None), ("free", "rest", "lunch", "agent", None),
                              ("rest", "rest", "training", "agent", None), ("rest", "notReady", "", "agent", None),
                              ("notReady", "offline", "", "agent", None)]
    rows = list(AgentStatusChange.objects.filter(agent=agent).order_by("at", "id"))
    assert [row.until for row in rows] == [row.at for row in rows[1:]] + [None]
    assert all(row.tenant_id == agent.tenant_id for row in rows)


def test_setting_the_status_the_agent_already_has_records_nothing(agent):
    agents.online(agent.pk)
    agents.set_status(agent.pk, "free")
    agents.online(agent.pk)
    assert history(agent) == [("offline", "free", "", "agent", None)]


def test_a_refused_change_records_nothing(agent):
    with pytest.raises(agents.ServiceError):
        agents.set_status(agent.pk, "rest")  # offline: must go online first
    assert history(agent) == []


def test_a_change_rolled_back_leaves_no_history(agent):
    with pytest.raises(RuntimeError), transaction.atomic():
        agents.change_status(agents.locked_agent(agent.pk), "free", by="agent")
        raise RuntimeError("the operation failed after the change")
    assert history(agent) == [] and Agent.objects.get(pk=agent.pk).status == "offline"


def test_a_supervisor_forcing_the_agent_offline_is_recorded_with_their_account(agent):
    supervisor = get_user_model().objects.create_user("lead", password="x", is_staff=True)
    agents.online(agent.pk)
    logins.force_offline(agent.pk, supervisor_id=supervisor.pk)
    assert history(agent)[-1] == ("free", "offline", "", "supervisor", supervisor.pk)


def test_deadlines_and_after_call_work_are_recorded_as_the_systems(agent):
    agents.online(agent.pk)
    with transaction.atomic():
        agents.start_after_call_work(agents.locked_agent(agent.pk), wrap_up_seconds=30)
    Agent.objects.filter(pk=agent.pk).update(arrange_deadline=timezone.now() - timezone.timedelta(seconds=1))
    deadlines.sweep_wrap_ups()
    Agent.objects.filter(pk=agent.pk).update(offline_deadline=timezone.now() - timezone.timedelta(seconds=1))
    deadlines.sweep_offline_graces()
    assert history(agent)[1:] == [("free", "arrange", "", "system", None), ("arrange", "free", "", "system", None),
                                  ("free", "offline", "", "system", None)]


def test_a_tenant_counts_days_in_the_servers_zone_unless_given_a_valid_iana_zone(db):
    tenant = factories.tenant()
    assert tenant.time_zone == settings.TIME_ZONE
    tenant.time_zone = "Asia/Shanghai"
    tenant.full_clean()
    for bad in ("Mars/Olympus", "../../etc/passwd", "", "UTC\x00", "Europe/Berlin " * 5):
        tenant.time_zone = bad
        with pytest.raises(ValidationError) as refused:
            tenant.full_clean()
        assert "time_zone" in refused.value.message_dict
