"""The ACD: queue sessions, offer them to agents, move on when an offer rings out.

Dispatch locks the session (skip-locked) and then the chosen agent's row and re-checks the agent is still
free before offering, so with several processes an agent is never offered two calls at once and a
session is never offered to two agents.
"""
from __future__ import annotations

from django.db.models import Count, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from ..domain import routing as policy
from ..models import Agent, Consult, ServeParticipant, Session, SkillGroup, found
from . import lifecycle

INTERNAL_RING_TIMEOUT = 30


def busy_call_sessions():
    """Calls that occupy their agent: one call at a time per agent."""
    return Session.objects.filter(state__in=("ringing", "active")).exclude(type="im")


def has_call(agent: Agent) -> bool:
    """A call ringing for, placed by or in progress with the agent, or a consult of one: one call at a time."""
    return (busy_call_sessions().filter(Q(agent=agent) | Q(caller_agent=agent)).exists()
            or Consult.objects.filter(agent=agent, ended_at__isnull=True).exists())


def remaining_timeout(session: Session) -> int:
    if not session.offer_deadline:
        return 0
    return max(1, round((session.offer_deadline - timezone.now()).total_seconds()))


def enqueue(session: Session, skill_group: SkillGroup, note: str = "") -> None:
    """Put a session (saved or new) in its group's queue and offer it if an agent is free; with nobody of
    the group online it ends as noSeatOnline."""
    lifecycle.queue(session, skill_group, note)
    if session.pk not in dispatch_group(skill_group, arrived=session) and not Agent.objects.filter(
            agentskill__skill_group=skill_group).exclude(status="offline").exists():
        lifecycle.end(session, close_by="admin", end_status="noSeatOnline")  # queued: no agent to free


def eligible_agents(session: Session, skill_group: SkillGroup):
    agents = Agent.objects.filter(agentskill__skill_group=skill_group, status="free", account__is_active=True)
    if session.is_call:
        busy = busy_call_sessions()
        return agents.exclude(pk__in=busy.values("agent")).exclude(
            pk__in=busy.filter(caller_agent__isnull=False).values("caller_agent")).exclude(
            pk__in=Consult.objects.filter(ended_at__isnull=True).values("agent"))
    chats = Count("sessions", distinct=True, filter=Q(sessions__type="im", sessions__state__in=("ringing", "active")))
    return agents.annotate(open_chats=chats).filter(open_chats__lt=F("chat_capacity"))


def eligible_for(session: Session, agent: Agent) -> bool:
    """Re-checked with the agent's row locked, right before an offer."""
    if agent.status != "free":
        return False
    if session.is_call:
        return not has_call(agent)
    open_chats = Session.objects.filter(agent=agent, type="im", state__in=("ringing", "active")).count()
    return open_chats < agent.chat_capacity


SHORTLIST = 10


def candidates(session: Session, skill_group: SkillGroup, tried: dict[int, object]) -> list[policy.Candidate]:
    """The first few eligible agents in the strategy's order (ranked in SQL), and those already tried."""
    keys = policy.ORDER_KEYS[skill_group.routing_strategy]
    # The priority comes from the AgentSkill row that eligible_agents joined to filter on the group.
    rows = eligible_agents(session, skill_group).annotate(agent_id=F("pk"), priority=F("agentskill__priority"))
    if "served_today" in keys:
        # A subquery per agent over today's rows alone (an index range), not a join over every agent's history.
        start_of_day = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
        served = (ServeParticipant.objects.filter(agent=OuterRef("pk"), accept_at__gte=start_of_day).order_by()
                  .values("agent").annotate(served=Count("pk")).values("served"))
        rows = rows.annotate(served_today=Coalesce(Subquery(served), 0))
    fields = ("agent_id", "available_since", "last_offered_at", "priority") + (
        ("served_today",) if "served_today" in keys else ())
    fresh = rows.exclude(pk__in=list(tried)) if tried else rows
    parts = [fresh.order_by(*(F(k).asc(nulls_first=True) for k in keys))[:SHORTLIST]]
    if tried:
        parts.append(rows.filter(pk__in=list(tried)))
    return [policy.Candidate(r["agent_id"], r["available_since"], r["last_offered_at"], r.get("served_today", 0),
                             r["priority"] or 1) for part in parts for r in part.values(*fields)]


def tried_agents(session: Session) -> dict[int, object]:
    if session.ring_at is None:
        return {}  # never offered yet
    outcomes = ("timeout", "rejected", "cancelled", "transferred")
    return dict(session.participants.filter(outcome__in=outcomes).values_list("agent_id", "ring_at"))


def dispatch_group(skill_group: SkillGroup, arrived: Session | None = None) -> set[str]:
    """Offer the group's queued sessions, oldest first, to its free agents; returns the ids offered.

    `arrived`: a session this transaction has just queued in the group, offered as it is, not read again."""
    return _dispatch(Session.objects.filter(skill_group=skill_group), arrived)


def dispatch_for_agent(agent: Agent) -> None:
    """An agent became free: look at the queues of every group the agent is in."""
    _dispatch(Session.objects.filter(skill_group__agentskill__agent=agent))


def _dispatch(sessions, arrived: Session | None = None) -> set[str]:
    # The queue is read as ids, cheap when it is empty (as it mostly is when an agent becomes free); a session
    # is read whole when its turn comes. Once a session of a group finds no agent, later ones of the same
    # group and type would not either.
    stuck, offered = set(), set()
    queued = sessions.select_for_update(skip_locked=True, of=("self",)).filter(state="queued").order_by("queued_at")
    for session_id, group_id, session_type in queued.values_list("pk", "skill_group_id", "type"):
        if (group_id, session_type) in stuck:
            continue
        session = arrived if arrived is not None and arrived.pk == session_id else (
            Session.objects.select_related("skill_group", "tenant").get(pk=session_id))
        if offer_to_best_agent(session):
            offered.add(session.pk)
        else:
            stuck.add((group_id, session_type))
    return offered


def offer_to_best_agent(session: Session) -> bool:
    skill_group = session.skill_group
    tried = tried_agents(session)
    order = policy.rank(skill_group.routing_strategy, candidates(session, skill_group, tried), tried)
    for agent_id in order:
        agent = found(Agent.objects.select_for_update(skip_locked=True).filter(pk=agent_id))
        if agent and eligible_for(session, agent):
            lifecycle.offer(session, agent, timeout=skill_group.ring_timeout)
            return True
    return False


def withdraw_offer(session: Session, outcome: str) -> None:
    """The ringing agent did not take the session (timeout, reject, left): back to the queue, next agent."""
    lifecycle.withdraw(session, outcome)
    if session.skill_group:
        offer_to_best_agent(session)
