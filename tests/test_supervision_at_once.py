"""Two supervisors, or a supervisor and an agent, acting on one session at once (services/supervision.py): one
of them wins, the other is refused in words, and the rows stay consistent (one ending, one CDR, one offer).
Threads on the test database; on SQLite its write lock serialises them, and the core suite runs this module again
on PostgreSQL (tests/test_core_on_postgres_and_redis.py), where the row locks do."""
import pytest
from django.contrib.auth import get_user_model

from sessions_app.models import Agent, AuditEntry, Cdr, ServeParticipant, Session, Supervisor
from sessions_app.services import agents, sessions, supervision

from .races import at_once

pytestmark = pytest.mark.service


def agent_id(user_id: str) -> int:
    return Agent.objects.get(user_id=user_id).pk


def inbound_call(demo, tenant) -> str:
    return sessions.create_inbound(tenant, "phone", str(demo["skillGroups"]["phone"]), {})


def two_supervisors(tenant_id) -> list[int]:
    ids = []
    for name in ("lead-a", "lead-b"):
        account = get_user_model().objects.create_user(name, is_staff=True)
        Supervisor.objects.create(account=account, tenant_id=tenant_id)
        ids.append(account.pk)
    return ids


def call_in_progress(demo) -> tuple[int, object, str]:
    """agent1@demo on a phone call: their id, the tenant, the session's id."""
    alice = agent_id("agent1@demo")
    agents.online(alice)
    tenant = Agent.objects.get(pk=alice).tenant
    session_id = inbound_call(demo, tenant)
    sessions.accept(alice, session_id, "Call")
    return alice, tenant, session_id


def test_two_supervisors_ending_one_session_at_once_end_it_once(demo):
    alice, tenant, session_id = call_in_progress(demo)
    first, second = two_supervisors(tenant.pk)
    results = at_once(*(lambda s=s: supervision.end_session(supervisor_id=s, session_id=session_id)
                        for s in (first, second)))
    assert sorted(map(str, results)) == ["None", f"session {session_id[:8]} has already ended"]
    session = Session.objects.get(pk=session_id)
    assert (session.state, session.close_by) == ("ended", "admin")
    assert Cdr.objects.filter(session_id=session_id).count() == 1
    assert sorted(AuditEntry.objects.values_list("outcome", flat=True)) == ["done", "refused"]
    assert Agent.objects.get(pk=alice).status == "arrange"


def test_two_supervisors_transferring_one_queued_session_at_once_leave_one_offer(demo):
    bob, carol = agent_id("agent2@demo"), agent_id("agent3@demo")
    for agent in (bob, carol):
        agents.online(agent)
    Agent.objects.update(status="notReady")
    tenant = Agent.objects.get(pk=bob).tenant
    session_id = inbound_call(demo, tenant)
    Agent.objects.filter(pk__in=[bob, carol]).update(status="free")
    first, second = two_supervisors(tenant.pk)
    results = at_once(*(lambda s=s, a=a: supervision.transfer_session(
        supervisor_id=s, session_id=session_id, agent_id=a, expected_state="queued")
        for s, a in ((first, bob), (second, carol))))
    assert results.count(None) == 1
    refusal = next(str(r) for r in results if r is not None)
    assert refusal.startswith(f"session {session_id[:8]} has moved on: it is ringing for agent"), refusal
    session = Session.objects.get(pk=session_id)
    ringing = ServeParticipant.objects.filter(session_id=session_id, outcome="ringing")
    assert session.state == "ringing" and list(ringing.values_list("agent_id", flat=True)) == [session.agent_id]


def test_a_supervisor_ending_a_call_as_its_agent_hangs_up_leaves_one_ending(demo):
    alice, tenant, session_id = call_in_progress(demo)
    lead, _ = two_supervisors(tenant.pk)
    results = at_once(lambda: supervision.end_session(supervisor_id=lead, session_id=session_id),
                      lambda: sessions.hang_up(alice, session_id, "Call"))
    assert results.count(None) == 1
    refusal = next(str(r) for r in results if r is not None)
    assert refusal in (f"session {session_id[:8]} has already ended", f"session {session_id} has already ended")
    session = Session.objects.get(pk=session_id)
    assert session.state == "ended" and session.close_by == ("admin" if results[0] is None else "seat")
    assert Cdr.objects.filter(session_id=session_id).count() == 1
    assert Agent.objects.get(pk=alice).status == "arrange"
