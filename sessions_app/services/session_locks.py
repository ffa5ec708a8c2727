"""Locking a session for a change that starts from the session, in the order every path takes its locks.

An agent's own calls lock their agent row and then the session (`sessions.py`); ending the session then locks
its other agents. A change that starts from the session (the customer hangs up, the phone line is lost, a
deadline falls due, a media worker dies, a supervisor acts) takes the session's agents first as well, so two such
transactions wait for each other instead of deadlocking (PostgreSQL would abort one of them).

The session's related rows (tenant, skill group, agents) are read after the lock is held, never joined into the
locking query: on PostgreSQL a query that waited for the lock gets the session row as the other transaction left
it but the joined rows as they were before (a session that went on to ring for an agent would come with none).
"""
from __future__ import annotations

from ..models import Agent, Consult, Session, found


def lock_session(session_id: str, *, skip_locked: bool = False, **filters) -> Session | None:
    """The session (matching `filters`), locked after its agents, or None when there is none (or, `skip_locked`,
    when it or one of its agents is locked by another transaction: a sweep comes back to it)."""
    involved = Session.objects.filter(pk=session_id).values_list("agent_id", "caller_agent_id").first()
    if involved is None:
        return None
    consulted = Consult.objects.filter(session_id=session_id, ended_at__isnull=True).values_list("agent_id", flat=True)
    agents = _lock_agents({pk for pk in (*involved, *consulted) if pk}, skip_locked)
    if agents is None:
        return None
    session = found(Session.objects.select_for_update(skip_locked=skip_locked).filter(pk=session_id, **filters))
    # Between the read above and the lock, the session may have gone on to ring for another agent: that one is
    # locked now, after the session (a moment's exception to the order, for a race that is itself rare).
    if session is not None and _lock_agents({session.agent_id, session.caller_agent_id} - agents - {None},
                                            skip_locked) is None:
        return None
    return session


def _lock_agents(agent_ids: set[int], skip_locked: bool) -> set[int] | None:
    """Lock the agents in id order; None when `skip_locked` and another transaction holds one of them."""
    locked = set(Agent.objects.select_for_update(skip_locked=skip_locked).filter(pk__in=agent_ids)
                 .order_by("pk").values_list("pk", flat=True))
    return None if skip_locked and locked != agent_ids else locked
