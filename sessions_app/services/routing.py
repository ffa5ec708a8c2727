"""The ACD: queue sessions, offer them to agents, move on when an offer rings out.

Dispatch locks the session (skip-locked) and then the chosen agent's row and re-checks the agent is still
free before offering, so with several processes an agent is never offered two calls at once and a
session is never offered to two agents.
"""
from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, F, Q
from django.utils import timezone

from ..domain import routing as policy
from ..models import Agent, AgentSkill, ServeParticipant, Session, SessionEvent, SkillGroup
from .events import publish
from .payloads import call_in

INTERNAL_RING_TIMEOUT = 30


def busy_call_sessions():
    """Calls that occupy their agent: one call at a time per agent."""
    return Session.objects.filter(state__in=("ringing", "active")).exclude(type="im")


def has_call(agent: Agent) -> bool:
    """A call ringing for, placed by or in progress with the agent: one call at a time."""
    return busy_call_sessions().filter(Q(agent=agent) | Q(caller_agent=agent)).exists()


def log(session: Session, what: str) -> None:
    SessionEvent.objects.create(session=session, what=what[:200])


def remaining_timeout(session: Session) -> int:
    if not session.offer_deadline:
        return 0
    return max(1, round((session.offer_deadline - timezone.now()).total_seconds()))


def enqueue(session: Session, skill_group: SkillGroup) -> None:
    """Put a session in its group's queue, or end it as noSeatOnline when nobody in the group is online."""
    from .sessions import end_session

    now = timezone.now()
    session.skill_group = skill_group
    session.state, session.agent, session.offer_deadline = "queued", None, None
    session.queued_at = now
    session.queue_deadline = now + timedelta(seconds=skill_group.max_queue_wait) if skill_group.max_queue_wait else None
    session.save()
    log(session, f"queued in {skill_group.name}")
    if not Agent.objects.filter(agentskill__skill_group=skill_group).exclude(status="offline").exists():
        end_session(session, close_by="admin", end_status="noSeatOnline")
        return
    dispatch_group(skill_group)


def eligible_agents(session: Session, skill_group: SkillGroup):
    agents = Agent.objects.filter(agentskill__skill_group=skill_group, status="free")
    if session.is_call:
        busy = busy_call_sessions()
        return agents.exclude(pk__in=busy.values("agent")).exclude(
            pk__in=busy.filter(caller_agent__isnull=False).values("caller_agent"))
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


def candidates(session: Session, skill_group: SkillGroup) -> list[policy.Candidate]:
    start_of_day = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    rows = (eligible_agents(session, skill_group)
            .annotate(served_today=Count("participations", distinct=True, filter=Q(participations__accept_at__gte=start_of_day)))
            .values("pk", "available_since", "last_offered_at", "served_today"))
    priorities = dict(AgentSkill.objects.filter(skill_group=skill_group).values_list("agent_id", "priority"))
    return [policy.Candidate(r["pk"], r["available_since"], r["last_offered_at"], r["served_today"],
                             priorities.get(r["pk"], 1)) for r in rows]


def tried_agents(session: Session) -> dict[int, object]:
    rows = session.participants.filter(outcome__in=("timeout", "rejected", "cancelled", "transferred")).values_list("agent_id", "ring_at")
    return dict(rows)


def dispatch_group(skill_group: SkillGroup) -> None:
    """Offer the group's queued sessions, oldest first, to its free agents."""
    queued = (Session.objects.select_for_update(skip_locked=True)
              .filter(skill_group=skill_group, state="queued").order_by("queued_at"))
    for session in queued:
        offer_to_best_agent(session)


def dispatch_for_agent(agent: Agent) -> None:
    """An agent became free: look at the queues of every group the agent is in."""
    for skill_group in SkillGroup.objects.filter(agentskill__agent=agent).order_by("pk"):
        dispatch_group(skill_group)


def offer_to_best_agent(session: Session) -> bool:
    skill_group = session.skill_group
    order = policy.rank(skill_group.routing_strategy, candidates(session, skill_group), tried_agents(session))
    for agent_id in order:
        agent = Agent.objects.select_for_update(skip_locked=True).filter(pk=agent_id).first()
        if agent and eligible_for(session, agent):
            offer(session, agent, timeout=skill_group.ring_timeout)
            return True
    return False


def offer(session: Session, agent: Agent, timeout: int) -> None:
    """Ring `agent` with `session`: callIn now, and an offer deadline when the timeout is not 0."""
    now = timezone.now()
    transfer_from = session.transferred_by
    session.state, session.agent = "ringing", agent
    session.ring_at = session.ring_at or now
    session.offer_deadline = now + timedelta(seconds=timeout) if timeout else None
    session.save()
    agent.last_offered_at = now
    agent.save(update_fields=["last_offered_at"])
    sequence = (session.participants.order_by("-sequence").values_list("sequence", flat=True).first() or 0) + 1
    ServeParticipant.objects.create(session=session, agent=agent, skill_group=session.skill_group,
                                    sequence=sequence, ring_at=now, transfer_from=transfer_from)
    log(session, f"offered to {agent.user_id}" + (f" (transferred by {transfer_from})" if transfer_from else ""))
    publish(agent.pk, "callIn", **call_in(session, timeout))


def withdraw_offer(session: Session, outcome: str) -> None:
    """The ringing agent did not take the session (timeout, reject, left): back to the queue, next agent."""
    agent = session.agent
    session.participants.filter(agent=agent, outcome="ringing").update(outcome=outcome, end_at=timezone.now())
    session.state, session.agent, session.offer_deadline = "queued", None, None
    session.save()
    log(session, f"{agent.user_id}: {dict(ServeParticipant.OUTCOMES).get(outcome, outcome)}")
    if outcome == "timeout":
        publish(agent.pk, "autoTransfer", sessionId=session.id)
    if session.skill_group:
        offer_to_best_agent(session)
