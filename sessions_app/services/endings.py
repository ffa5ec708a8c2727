"""Ending a session, and what follows for its agents: the one who served a call starts after-call work (the
skill group's wrap-up time), one who served a chat is free for the next at once, and an agent the session was
ringing for or who placed it is offered what waits for them. All in the ending's transaction, under the locks
it holds, so a freed agent is offered the next session before another process can see them free.
"""
from __future__ import annotations

from ..models import Agent, Session
from . import agents, consult, lifecycle, routing


def end_session(session: Session, close_by: str, end_status: str | None = None, locked: Agent | None = None) -> None:
    """End a session (row locked by the caller) with its consequences for agents.

    `locked`: an agent whose row the caller has just read and locked (the one hanging up), not read again."""
    ending = lifecycle.end(session, close_by, end_status)
    consult.session_ended(session)
    served_by = {a for a in (ending.serving, ending.caller if ending.accepted else None) if a}
    for agent in served_by:
        agent = locked if locked and locked.pk == agent.pk else agents.locked_agent(agent.pk)
        if ending.is_call:
            agents.start_after_call_work(agent, ending.wrap_up_seconds if agent == ending.serving else 0)
        else:
            agents.complete_after_call_work(agent, session.id)
            routing.dispatch_for_agent(agent)
    if ending.ringing:
        routing.dispatch_for_agent(ending.ringing)
    if ending.caller and not ending.accepted:
        routing.dispatch_for_agent(ending.caller)
