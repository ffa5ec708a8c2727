"""An agent leaving: offline for good (disconnect grace expired, signed out, forced by a supervisor,
deactivated) ends the sessions in progress with them, and offline on request takes back what rings for them.
Offers go back to their queues for the next agent; an internal call ringing for them ends, as nobody else can
take it, and so does a call out the server placed for them that still rings them (nobody was dialled yet)."""
from __future__ import annotations

from django.db import transaction
from django.db.models import Q

from ..models import Agent, Consult, Session
from . import agents, consult, routing
from .endings import end_session
from .errors import ServiceError


def go_offline(agent: Agent, *, by: str = "system", by_user_id: int | None = None) -> None:
    """Offline for good (agent row locked by the caller): sessions ended, offers withdrawn. `by`, `by_user_id`:
    who did it, for the status history (agents.change_status)."""
    for session in Session.objects.select_for_update().filter(agent=agent, state="active"):
        end_session(session, close_by="admin", end_status="seatOffline")
    agent.offline_deadline = None
    _to_offline(agent, by=by, by_user_id=by_user_id)


def offline(agent_id: int) -> None:
    """tccc.Agent.offline(): refused while a session is in progress with the agent."""
    with transaction.atomic():
        agent = agents.locked_agent(agent_id)
        if Session.objects.filter(Q(agent=agent) | Q(caller_agent=agent), state="active").exists() or (
                Consult.objects.filter(agent=agent, stage="talking", ended_at__isnull=True).exists()):
            raise ServiceError("the agent has sessions in progress: end them before going offline")
        if agent.status != "offline":
            _to_offline(agent, by="agent")


def _to_offline(agent: Agent, *, by: str, by_user_id: int | None = None) -> None:
    agents.change_status(agent, "offline", by=by, by_user_id=by_user_id)
    consult.agent_gone(agent)
    for session in Session.objects.select_for_update().filter(agent=agent, state="ringing").exclude(type="internal"):
        routing.withdraw_offer(session, outcome="cancelled")
    for session in Session.objects.select_for_update().filter(agent=agent, state="ringing", type="internal"):
        end_session(session, close_by="admin", end_status="notAnswer")
    calls_out = agents.ringing_for(agent.pk).filter(caller_agent=agent).values("pk")  # not dialled yet (callout.py)
    for session in Session.objects.select_for_update().filter(pk__in=calls_out):
        end_session(session, close_by="admin", end_status="notAnswer")
