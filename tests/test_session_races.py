"""A session ended from its own side (the customer hangs up, its media or phone line is lost) at the instant its
agent hangs up: one of them ends it, the other is told it has ended, and there is one ending and one CDR. The
two lock the same rows from opposite ends (the agent's row first, or the session's): on PostgreSQL, where the
core suite runs this module again, they must take them in one order or deadlock (services/session_locks.py)."""
import pytest

from sessions_app.models import Agent, Cdr, Session, Tenant
from sessions_app.services import agents, reaping, sessions, telephony

from .races import at_once

pytestmark = pytest.mark.service

ENDED_FROM_THE_SESSION = {
    "the customer": lambda tenant, session_id: sessions.end_by_customer(tenant, session_id),
    "lost media": lambda tenant, session_id: reaping.end_session_for_media(session_id),
    "a lost line": lambda tenant, session_id: telephony.call_lost(session_id, "operatorError"),
}


@pytest.mark.parametrize("ender", ENDED_FROM_THE_SESSION)
def test_a_call_ended_from_its_side_as_its_agent_hangs_up_ends_once(demo, ender):
    tenant = Tenant.objects.get(sdk_app_id=demo["SdkAppId"])
    alice = Agent.objects.get(user_id="agent1@demo").pk
    agents.online(alice)
    session_id = sessions.create_inbound(tenant, "phone", str(demo["skillGroups"]["phone"]), {})
    sessions.accept(alice, session_id, "Call")
    results = at_once(lambda: ENDED_FROM_THE_SESSION[ender](tenant, session_id),
                      lambda: sessions.hang_up(alice, session_id, "Call"))
    refusals = [str(result) for result in results if result not in (None, True, False)]
    assert all(refusal.endswith("has already ended") for refusal in refusals), refusals
    session = Session.objects.get(pk=session_id)
    assert session.state == "ended" and Cdr.objects.filter(session_id=session_id).count() == 1
    assert Agent.objects.get(pk=alice).status == "arrange"  # the ending started the agent's after-call work once
